"""The HTML report of a trace: one self-contained page (figures embedded as
base64 PNG data URIs, inline CSS, no script, no external resource), plus
the same figures as PNG files beside it.

    write_report("out/demo.h5", "out/demo-report")  ->  out/demo-report/report.html, *.png
"""

from __future__ import annotations

import html
import os
import stat
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
import pandas as pd

from . import __version__, units
from .figures import Rendered, all_figures
from .page import CSS, figure_html
from .outputs import OutputError, check_output_dir, check_output_files, write_atomic
from .trace import Trace, TraceError

# models/rag/rag_model.c (key_metrics): the key metrics `ragsim compare` prints when the scenario
# does not choose its own (compare.metrics), at most 7 of those that vary.
DEFAULT_HEADLINE = ["success_ratio", "worst_window_success", "time_below_slo_s", "recovery_time_s", "latency_p95_s",
                    "ungrounded_ratio", "vectordb_oom_kills", "gateway_oom_kills", "peak_goroutines",
                    "peak_heap_bytes", "config_reloads", "peak_leases"]
CMP_WIDTH = 100


def headline_metrics(trace: Trace, cmp: Optional[pd.DataFrame] = None) -> List[str]:
    """The columns `ragsim compare` printed: the scenario's compare.metrics, or the default key
    metrics present in /comparison whose value differs somewhere (at most 7)."""
    cmp = trace.comparison() if cmp is None else cmp
    if cmp is None:
        return []
    present = set(cmp["metric"])
    chosen = trace.scenario_value(("compare", "metrics"), default=None)
    if isinstance(chosen, list):
        ms = [str(m) for m in chosen if str(m) in present]
        if ms:
            return ms
    out = []
    for m in DEFAULT_HEADLINE:
        rows = cmp[cmp["metric"] == m]
        if not len(rows):
            continue
        first = rows["mean"].iloc[0]
        means = rows["mean"].to_numpy(float)
        # C compares doubles with != (NaN != NaN is true)
        varies = bool(np.any(~(means == first)) or np.any(rows["half_width"].to_numpy(float) > 0))
        if varies and len(out) < 7:
            out.append(m)
    return out


def _variants_in(cmp: pd.DataFrame, baseline: str) -> List[str]:
    vs = list(dict.fromkeys(cmp["variant"]))
    if baseline in vs:
        vs.remove(baseline)
        vs.insert(0, baseline)
    return vs


def _row(cmp: pd.DataFrame, variant: str, metric: str):
    r = cmp[(cmp["variant"] == variant) & (cmp["metric"] == metric)]
    return None if not len(r) else r.iloc[0]


def _width(s: str) -> int:
    return len(s)  # code points: the markers are one column each, as in compare.c


def comparison_text(trace: Trace, metrics: Optional[Sequence[str]] = None) -> str:
    """The comparison table as `ragsim compare` prints it (experiment/compare.c cmp_print),
    rebuilt from /comparison. metrics: the columns (default: headline_metrics)."""
    cmp = trace.comparison()
    if cmp is None:
        raise ValueError(f"{trace.path}: no /comparison (written by `ragsim compare`, not `ragsim run`)")
    base = trace.baseline
    mets = list(metrics) if metrics is not None else headline_metrics(trace, cmp)
    if not mets:
        mets = list(dict.fromkeys(cmp["metric"]))
    var = _variants_in(cmp, base)
    cells: Dict[Tuple[str, str, int], str] = {}
    for v in var:
        for m in mets:
            r = _row(cmp, v, m)
            cells[(v, m, 0)] = "-" if r is None else units.value_cell(r)
            if v != base:
                cells[(v, m, 1)] = "-" if r is None else units.diff_cell(r)
    namew = max([_width("variant")] + [_width(v) for v in var])
    colw = {m: max([_width(m)] + [_width(c) for (v, mm, _), c in cells.items() if mm == m]) for m in mets}
    reps = int((cmp["n"] + cmp["not_recovered"]).max())
    out = [f"compared with '{base}' over {reps} replication{'' if reps == 1 else 's'} paired by seed; "
           f"± is the 95% confidence half-width"]
    c0 = 0
    while c0 < len(mets):
        c1, w = c0, namew
        while c1 < len(mets) and (c1 == c0 or w + 2 + colw[mets[c1]] <= CMP_WIDTH):
            w += 2 + colw[mets[c1]]
            c1 += 1
        block = mets[c0:c1]
        out.append("")
        out.append("variant".ljust(namew) + "".join("  " + (m if i + 1 == len(block) else m.ljust(colw[m]))
                                                    for i, m in enumerate(block)))
        for v in var:
            for line in range(1 if v == base else 2):
                s = (v if line == 0 else "").ljust(namew)
                for i, m in enumerate(block):
                    c = cells[(v, m, line)]
                    s += "  " + (c if i + 1 == len(block) else c.ljust(colw[m]))
                out.append(s)
        c0 = c1
    out.append("")
    out.append(f"under each variant: mean paired difference from '{base}' ± its half-width;")
    out.append("▲ better  ▼ worse  = n.s. (not significant: the interval includes 0)  ≠ differs (no better/worse)")
    out += [n for n in _nan_notes(cmp, mets, var, base)]
    return "\n".join(out) + "\n"


def _nan_notes(cmp: pd.DataFrame, mets: Sequence[str], var: Sequence[str], base: str) -> List[str]:
    notes = []
    for m in mets:
        for v in var:
            r = _row(cmp, v, m)
            if r is None or int(r["not_recovered"]) == 0:
                continue
            what = "did not recover" if "recover" in m else "no value"
            k, n = int(r["not_recovered"]), int(r["n"]) + int(r["not_recovered"])
            s = f"{v}, {m}: {what} in {k} of {n} replications"
            if v != base:
                s += f";\n  the difference uses the {int(r['n_paired'])} where both have one"
            notes.append(s)
    return notes


# -- HTML ----------------------------------------------------------------------------------



def _e(s) -> str:
    return html.escape(str(s), quote=True)


def _marker_class(cell: str) -> str:
    if cell.startswith("▲"):
        return "better"
    if cell.startswith("▼"):
        return "worse"
    if cell.startswith("≠"):
        return "differs"
    return "ns"


def _diff_html(cell: str) -> str:
    cls = _marker_class(cell)
    for mark in ("▲", "▼", "≠", "= n.s."):
        if cell.startswith(mark):
            return f'<span class="{cls}">{_e(mark)}</span>{_e(cell[len(mark):])}'
    return _e(cell)


def comparison_table_html(trace: Trace, metrics: Sequence[str]) -> str:
    """The comparison as an HTML table: each variant's mean ± half-width, and under it the paired
    difference from the baseline with its marker (▲ better, ▼ worse, = n.s., ≠ differs)."""
    cmp = trace.comparison()
    base = trace.baseline
    var = _variants_in(cmp, base)
    h = ['<div class="scroll"><table class="cmp"><thead><tr><th>variant</th>']
    h += [f"<th>{_e(m)}</th>" for m in metrics]
    h.append("</tr></thead><tbody>")
    for v in var:
        h.append(f'<tr class="value"><td><b>{_e(v)}</b>{" (baseline)" if v == base else ""}</td>')
        for m in metrics:
            r = _row(cmp, v, m)
            h.append(f"<td>{_e('-' if r is None else units.value_cell(r))}</td>")
        h.append("</tr>")
        if v != base:
            h.append('<tr class="diff"><td></td>')
            for m in metrics:
                r = _row(cmp, v, m)
                h.append(f"<td>{'-' if r is None else _diff_html(units.diff_cell(r))}</td>")
            h.append("</tr>")
    h.append("</tbody></table></div>")
    notes = _nan_notes(cmp, metrics, var, base)
    if notes:
        h.append('<ul class="note">' + "".join(f"<li>{_e(n)}</li>" for n in notes) + "</ul>")
    return "\n".join(h)


def summary_table_html(trace: Trace) -> str:
    """Without /comparison (a `ragsim run` trace): each variant's mean ± 95% half-width of /summary."""
    summ = trace.summary()
    u = trace.units("summary")
    skip = {"variant", "replication", "seed", "sim_seconds", "events_processed"}
    cols = [c for c in summ.columns if c not in skip]
    var = [v for v in trace.variants if v in set(summ["variant"])]
    h = ['<div class="scroll"><table class="cmp"><thead><tr><th>metric</th>']
    h += [f"<th>{_e(v)}</th>" for v in var]
    h.append("</tr></thead><tbody>")
    for c in cols:
        unit = {"bytes": "bytes", "s": "s", "1/s": "1/s"}.get(u.get(c, ""), "1")
        h.append(f"<tr class=\"value\"><td>{_e(c)}</td>")
        for v in var:
            m, hw, n = units.mean_ci(summ.loc[summ["variant"] == v, c].to_numpy(float))
            h.append(f"<td>{_e(units.format_value(m, hw, unit))}</td>")
        h.append("</tr>")
    h.append("</tbody></table></div>")
    return "\n".join(h)


def _params(trace: Trace) -> List[Tuple[str, str]]:
    a = trace.attrs
    runs = trace.run_info()
    complete = "yes" if int(a.get("complete", 1)) == 1 else "NO: a run was stopped by its event budget"
    wall = runs["wall_seconds"].sum() if "wall_seconds" in runs else float("nan")
    events = int(runs["events_processed"].sum()) if "events_processed" in runs else 0
    return [
        ("scenario", str(a.get("scenario_name", ""))),
        ("scenario file", str(a.get("scenario_file", ""))),
        ("model", str(a.get("model", ""))),
        ("variants", ", ".join(trace.variants)),
        ("baseline", trace.baseline),
        ("replications", str(a.get("replications", ""))),
        ("master seed", str(a.get("master_seed", ""))),
        ("duration", f"{a.get('duration_s', float('nan')):g} s"),
        ("warm-up", f"{a.get('warmup_s', float('nan')):g} s"),
        ("sample interval", f"{a.get('sample_interval_s', float('nan')):g} s"),
        ("complete", complete),
        ("events simulated", f"{events:,} in {len(runs)} runs ({wall:.1f} s of wall-clock time)"),
        ("ragsim version", str(a.get("ragsim_version", ""))),
        ("trace", f"{os.path.basename(trace.path)} (format version {a.get('format_version', '')}, "
                  f"{os.path.getsize(trace.path) / 2**20:.1f} MiB)"),
    ]


def _events_html(trace: Trace) -> str:
    ev = trace.events()
    ev = ev[~ev["kind"].isin(["run_start", "run_end"])]
    if not len(ev):
        return '<p class="note">No events besides the runs\' start and end.</p>'
    nrep = {v: len(trace.replications(v)) for v in trace.variants}
    counts = ev.groupby(["kind", "variant"]).size().unstack(fill_value=0)
    var = [v for v in trace.variants]
    h = ['<div class="scroll"><table class="cmp"><thead><tr><th>event (mean per run)</th>']
    h += [f"<th>{_e(v)}</th>" for v in var]
    h.append("</tr></thead><tbody>")
    for kind in counts.index:
        h.append(f'<tr class="value"><td>{_e(kind)}</td>')
        for v in var:
            c = counts.loc[kind, v] if v in counts.columns else 0
            h.append(f"<td>{c / max(nrep[v], 1):g}</td>")
        h.append("</tr>")
    h.append("</tbody></table></div>")
    return "\n".join(h)


def _variant_list(trace: Trace) -> str:
    items = []
    for v in trace.variants:
        a = trace.variant_attrs(v)
        d = str(a.get("description", "") or "")
        tag = " (baseline)" if v == trace.baseline else ""
        items.append(f"<li><b>{_e(v)}</b>{tag}{': ' + _e(d) if d else ''} "
                     f"({len(trace.replications(v))} replications)</li>")
    return "<ul>" + "".join(items) + "</ul>"


def _img(fig: Rendered) -> str:
    return figure_html(fig.key, fig.title, fig.caption, fig.png)


def render_html(trace: Trace, figures: Sequence[Rendered], notes: Sequence[str], interactive: bool = False) -> str:
    """The report page as a string (interactive: link to interactive.html beside it)."""
    a = trace.attrs
    name = str(a.get("scenario_name", ""))
    desc = ""
    doc = trace.scenario()
    if isinstance(doc, dict) and doc.get("description"):
        desc = str(doc["description"])
    h = ["<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
         '<meta name="viewport" content="width=device-width, initial-scale=1">',
         f"<title>ragsim report: {_e(name)}</title>", f"<style>{CSS}</style></head><body>",
         f"<h1>ragsim report: {_e(name)}</h1>"]
    if desc:
        h.append(f'<p class="sub">{_e(desc)}</p>')
    h.append("<h2>Run parameters</h2><table class=\"params\">")
    h += [f"<tr><th>{_e(k)}</th><td>{_e(v)}</td></tr>" for k, v in _params(trace)]
    h.append("</table>")
    h.append("<h3>Variants</h3>" + _variant_list(trace))

    cmp = trace.comparison()
    if cmp is not None:
        mets = headline_metrics(trace, cmp) or list(dict.fromkeys(cmp["metric"]))
        reps = int((cmp["n"] + cmp["not_recovered"]).max())
        h.append("<h2>Comparison</h2>")
        h.append(f"<p>Compared with <b>{_e(trace.baseline)}</b> over {reps} replications paired by seed "
                 "(common random numbers); ± is the 95% confidence half-width. Under each variant: its mean paired "
                 "difference from the baseline, with <span class=\"better\">▲</span> better, "
                 "<span class=\"worse\">▼</span> worse, <span class=\"ns\">= n.s.</span> not significant "
                 "(the interval includes 0), <span class=\"differs\">≠</span> differs (a neutral metric). "
                 "Read the markers first, then the size of the change (docs/compare.md).</p>")
        h.append(comparison_table_html(trace, mets))
        allm = list(dict.fromkeys(cmp["metric"]))
        h.append(f"<details><summary>Every metric of /comparison ({len(allm)})</summary>")
        h.append(comparison_table_html(trace, allm))
        h.append("</details>")
    else:
        h.append("<h2>Summary</h2>")
        h.append("<p>This trace was written by <code>ragsim run</code> (no <code>/comparison</code>): each variant's "
                 "mean over its replications ± the 95% confidence half-width (Student t), from <code>/summary</code>. "
                 "Run <code>ragsim compare</code> for paired differences.</p>")
        h.append(summary_table_html(trace))

    h.append("<h2>Figures</h2>")
    if interactive:
        h.append('<p>The same figures to zoom and hover: <a href="interactive.html">interactive.html</a> '
                 "(plotly, offline).</p>")
    if figures:
        h.append("<p class=\"note\">Contents: " + ", ".join(
            f'<a href="#fig-{_e(f.key)}">{_e(f.title)}</a>' for f in figures) + "</p>")
    h += [_img(f) for f in figures]
    if notes:
        h.append('<ul class="note">' + "".join(f"<li>{_e(n)}</li>" for n in notes) + "</ul>")
    h.append("<h2>Events</h2>")
    h.append(_events_html(trace))
    h.append("<h2>Scenario</h2><details><summary>The effective scenario (YAML, after --set overrides)</summary>")
    h.append(f"<pre>{_e(trace.scenario_yaml())}</pre></details>")
    h.append(f'<p class="note">Written by ragsim_analysis {_e(__version__)} from {_e(os.path.basename(trace.path))}. '
             "The figures are also in this directory as PNG files.</p>")
    h.append("</body></html>")
    return "\n".join(h) + "\n"


def default_output_dir(trace_path: str) -> str:
    """OUT.h5 -> OUT-report/ beside it."""
    stem, ext = os.path.splitext(os.path.abspath(trace_path))
    return stem + "-report"


def write_report(trace_path: str, out_dir: Optional[str] = None,
                 interactive: Optional[bool] = None) -> Tuple[str, List[str]]:
    """Write the PNGs and report.html into out_dir (created if needed), each atomically; with
    interactive (default: when plotly is installed) also interactive.html and plotly.js
    (interactive.py).

    Returns (path of report.html, paths of the PNGs). Raises TraceError for a
    missing or invalid trace, OSError when the directory cannot be written."""
    from . import interactive as ia
    if interactive is None:
        interactive = ia.available()
    out_dir = out_dir or default_output_dir(trace_path)
    check_output_dir(out_dir)
    inputs = [trace_path]
    extra = [os.path.join(out_dir, ia.PAGE), os.path.join(out_dir, ia.PLOTLY_JS)]
    with Trace(trace_path) as tr:
        os.makedirs(out_dir, exist_ok=True)     # fail before the figures are drawn
        try:
            headline = headline_metrics(tr) if tr.has_comparison() else None
            figures, notes = all_figures(tr, headline)
            if not interactive:
                notes = list(notes) + [ia.MISSING[0].upper() + ia.MISSING[1:] + "."]
            page = render_html(tr, figures, notes, interactive)
            pngs = [os.path.join(out_dir, f.key + ".png") for f in figures]
            index = os.path.join(out_dir, "report.html")
            # every path is checked before anything is written: only regular files, never the trace
            check_output_files(pngs + [index] + (extra if interactive else []), inputs)
            if interactive:
                ia.write_interactive(tr, out_dir, headline, inputs)
        except (OSError, KeyError, ValueError) as e:
            if isinstance(e, OutputError):
                raise
            # h5py reports unreadable chunks as OSError, absent members as KeyError
            raise TraceError(f"{trace_path}: damaged or incomplete trace: {e}") from None
    for f, p in zip(figures, pngs):
        write_atomic(p, f.png, inputs)
    write_atomic(index, page.encode("utf-8"), inputs)
    # figures of an earlier report into the same directory that this trace does not have
    from .figures import CLASS_FIGURE_KEYS, default_specs
    made = {f.key for f in figures}
    tst = os.stat(trace_path)
    stale_files = [os.path.join(out_dir, k + ".png") for k in
                   [s.key for s in default_specs()] + list(CLASS_FIGURE_KEYS) + ["comparison", "comparison_all", "latency_cdf"]
                   if k not in made]
    if not interactive:
        stale_files += extra
    for stale in stale_files:
        try:
            st = os.lstat(stale)
        except FileNotFoundError:
            continue
        if stat.S_ISREG(st.st_mode) and (st.st_dev, st.st_ino) != (tst.st_dev, tst.st_ino):
            os.unlink(stale)
    return index, pngs
