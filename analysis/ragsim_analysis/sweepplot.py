"""Plots of a `ragsim sweep` output file (docs/sweeps.md).

    from ragsim_analysis.sweepplot import plot_sweep
    paths = plot_sweep("capacity.h5", "figures/")

Command line:

    PYTHONPATH=analysis /usr/bin/python3 -m ragsim_analysis.sweepplot OUT.h5 -o DIR

Figures (PNG):

- ``<metric>_vs_<axis>.png``: the metric's mean against the load axis (or
  the first axis with more than one value), one line per variant and per
  combination of the other axes' values, with 95% percentile-bootstrap
  intervals over the replications as error bars (inside the runs' range: a
  ratio's in [0, 1]); the SLO's threshold as a dashed line for
  ``success_ratio`` and ``latency_p95_s``.
- ``capacity_<variant>.png`` (write_sweep_report, `ragsim report`): per
  constraint (the SLO, capacity.require) its metric against the load, the
  bound, each cell's capacity answer with its interval, and the binding
  constraint marked; report.html holds them with the capacity table.
- ``heatmap_<metric>_<variant>.png`` when two or more axes vary: the
  metric's mean over the first two varying axes (any further axis at its
  first value, named in the title).
"""

import argparse
import math
import os
import sys

import h5py
import numpy as np

from .outputs import OutputError, check_output_dir

DEFAULT_METRICS = ("success_ratio", "latency_p95_s", "goodput_per_s", "throughput_per_s")


class SweepError(Exception):
    """The file is not a ragsim sweep output."""


from .page import report_cli, figure_html, page_html, png as _png, safe as _safe, table_html, text as _text
from .page import write_files, write_page
from .figures import OKABE_ITO


def sweep_frame(h5_path):
    """A `ragsim sweep` output as a tidy pandas DataFrame: one row per (variant,
    grid point), columns `variant`, one per axis (its value in the axis' unit,
    e.g. workload.rate in 1/s, vectordb.memory.limit in bytes), then for each
    metric `<metric>` (the mean over replications) and `<metric>_hw` (the
    half-width of its 95% interval). `df.attrs` holds `units` (column ->
    unit), `load_axis`, `slo_success_ratio` and `slo_latency_p95_s`."""
    import pandas as pd
    s = read_sweep(h5_path)
    summ = s["summary"]
    names = s["variants"]
    cols = {"variant": [names[int(i)] if 0 <= int(i) < len(names) else str(int(i)) for i in summ["variant"]]}
    units = {}
    for a in s["axes"]:
        cols[a["path"]] = summ["axes"][a["path"]]
        units[a["path"]] = a["unit"]
    for m in summ["mean"]:
        cols[m] = summ["mean"][m]
        units[m] = summ["units"].get(m, "")
        if m in summ["hw"]:
            cols[m + "_hw"] = summ["hw"][m]
            units[m + "_hw"] = summ["units"].get(m, "")
    df = pd.DataFrame(cols)
    df.attrs.update(units=units, load_axis=s["load_axis"], slo_success_ratio=s["slo_success_ratio"],
                    slo_latency_p95_s=s["slo_latency_p95_s"])
    return df


def read_sweep(h5_path):
    """The sweep's summary as plain Python/numpy: a dict with variants,
    axes (list of dicts: path, kind, unit, is_load, labels), load_axis,
    slo_success_ratio, slo_latency_p95_s, and summary: {"variant": int
    array, "axes": {path: array}, "mean": {metric: array}, "hw": {...},
    "units": {metric: unit}}."""
    if not os.path.exists(h5_path):
        raise SweepError(f"{h5_path}: no such file")
    try:
        f = h5py.File(h5_path, "r")
    except OSError as e:
        raise SweepError(f"{h5_path}: not an HDF5 file ({e})") from None
    with f:
        if _text(f.attrs.get("format", b"")) != "ragsim-sweep" or "sweep/summary" not in f:
            raise SweepError(f"{h5_path}: not a ragsim sweep output (format attribute 'ragsim-sweep')")
        variants = [_text(n) for n in f["sweep/variants"]["name"]]
        axes = []
        for row in f["sweep/axes"][()]:
            path = _text(row["path"])
            values = f["sweep/axis_values"][path]
            labels = _text(values.attrs.get("labels", b"")).split("\n")
            axes.append({"path": path, "kind": _text(row["kind"]), "unit": _text(row["unit"]),
                         "is_load": bool(row["is_load"]), "labels": labels})
        s = f["sweep/summary"]
        summary = {
            "variant": s["variant"][()],
            "axes": {a["path"]: s["axes"][a["path"]][()] for a in axes},
            "mean": {m: s["mean"][m][()] for m in s["mean"]},
            "hw": {m: s["hw"][m][()] for m in s["hw"]},
            "units": {m: _text(s["mean"][m].attrs.get("unit", b"")) for m in s["mean"]},
        }
        return {
            "variants": variants,
            "axes": axes,
            "load_axis": _text(f.attrs.get("load_axis", b"")),
            "slo_success_ratio": float(f.attrs.get("slo_success_ratio", np.nan)),
            "slo_latency_p95_s": float(f.attrs.get("slo_latency_p95_s", np.nan)),
            "summary": summary,
        }


def sweep_intervals(h5_path, metrics):
    """Per metric, the 95% percentile-bootstrap interval of the mean over the replications of each
    (point, variant) of /sweep/summary (figures.bootstrap_mean_interval on /sweep/runs): {metric:
    (lo, hi)} arrays aligned with the summary's rows. Inside the range of the runs' values, so a
    ratio's interval stays in [0, 1] and a count's at or above 0."""
    from .figures import bootstrap_mean_interval
    out = {}
    with h5py.File(h5_path, "r") as f:
        sp, sv = f["sweep/summary/point"][()], f["sweep/summary/variant"][()]
        rp, rv = f["sweep/runs/point"][()], f["sweep/runs/variant"][()]
        groups = [np.nonzero((rp == p) & (rv == v))[0] for p, v in zip(sp, sv)]
        for m in metrics:
            vals = f["sweep/runs/metrics"][m][()]
            iv = [bootstrap_mean_interval(vals[g]) for g in groups]
            out[m] = (np.array([a for a, _ in iv]), np.array([b for _, b in iv]))
    return out


def _yerr(mean, lo, hi):
    """Asymmetric error bars from an interval (0 where there is none)."""
    return np.vstack([np.nan_to_num(mean - lo, nan=0.0), np.nan_to_num(hi - mean, nan=0.0)])


def _axis_label(axis):
    unit = axis["unit"]
    return f"{axis['path']} ({unit or 'text'})"


def _value_text(axis, v):
    if axis["kind"] == "text":
        i = int(v)
        return axis["labels"][i] if 0 <= i < len(axis["labels"]) else str(v)
    if axis["kind"] == "size":
        for unit, scale in (("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
            if v >= scale:
                return f"{v / scale:g} {unit}"
        return f"{v:g} B"
    if axis["kind"] == "rate":
        return f"{v:g}/s"
    if axis["kind"] == "duration":
        return f"{v:g} s"
    return f"{v:g}"


def _slo_line(ax, sweep, metric):
    from .figures import LIMIT_COLOR
    y = None
    if metric == "success_ratio":
        y = sweep["slo_success_ratio"]
    elif metric == "latency_p95_s":
        y = sweep["slo_latency_p95_s"]
    if y is not None and np.isfinite(y):
        ax.axhline(y, color=LIMIT_COLOR, linestyle="--", linewidth=1, label="SLO")


def plot_sweep(h5_path, out_dir, metrics=None):
    """Write the sweep's figures into out_dir (created if missing) and
    return the list of PNG paths written."""
    rendered = _render_sweep(h5_path, out_dir, metrics)
    return write_files([(p, d) for p, d, _ in rendered], [h5_path])


def _render_sweep(h5_path, out_dir, metrics=None):
    """The figures of plot_sweep as (path, PNG bytes, title), nothing written."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    sweep = read_sweep(h5_path)
    summ = sweep["summary"]
    axes = sweep["axes"]
    if metrics is None:
        metrics = [m for m in DEFAULT_METRICS if m in summ["mean"]] or sorted(summ["mean"])[:1]
    missing = [m for m in metrics if m not in summ["mean"]]
    if missing:
        raise SweepError(f"{h5_path}: no metric {', '.join(missing)} (it has {', '.join(sorted(summ['mean']))})")
    check_output_dir(out_dir)
    os.makedirs(out_dir, exist_ok=True)
    rendered = []   # (path, PNG bytes, title): every path is checked before anything is written
    varying = [a for a in axes if len(np.unique(summ["axes"][a["path"]])) > 1] or axes[:1]
    xaxis = next((a for a in varying if a["is_load"]), varying[0])
    others = [a for a in varying if a is not xaxis]
    x = summ["axes"][xaxis["path"]]
    ivs = sweep_intervals(h5_path, metrics)

    # metric vs axis: one line per variant and combination of the other axes
    combos = sorted({tuple(summ["axes"][a["path"]][i] for a in others) for i in range(len(x))})
    for metric in metrics:
        fig, ax = plt.subplots(figsize=(7, 4.5))
        for vi, vname in enumerate(sweep["variants"]):
            for combo in combos:
                sel = summ["variant"] == vi
                for a, v in zip(others, combo):
                    sel &= summ["axes"][a["path"]] == v
                if not sel.any():
                    continue
                order = np.argsort(x[sel])
                xs, ys = x[sel][order], summ["mean"][metric][sel][order]
                err = _yerr(ys, ivs[metric][0][sel][order], ivs[metric][1][sel][order])
                label = vname
                if combo:
                    label += ", " + ", ".join(f"{a['path']}={_value_text(a, v)}" for a, v in zip(others, combo))
                ax.errorbar(xs, ys, yerr=err, marker="o", markersize=3, capsize=3, label=label,
                            color=OKABE_ITO[len(ax.lines) % len(OKABE_ITO)])
        _slo_line(ax, sweep, metric)
        unit = summ["units"].get(metric, "")
        ax.set_xlabel(_axis_label(xaxis))
        ax.set_ylabel(f"{metric} ({unit or '1'})")
        if xaxis["kind"] == "text":
            ax.set_xticks(range(len(xaxis["labels"])), xaxis["labels"])
        ax.set_title(f"{metric} vs {xaxis['path']} (mean, 95% bootstrap interval)")
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize="small")
        fig.tight_layout()
        path = os.path.join(out_dir, f"{_safe(metric)}_vs_{_safe(xaxis['path'])}.png")
        rendered.append((path, _png(fig), f"{metric} against {xaxis['path']}"))
        plt.close(fig)

    # heatmaps over the first two varying axes
    if len(varying) >= 2:
        ax1, ax2 = xaxis, others[0]
        rest = others[1:]
        for metric in metrics:
            for vi, vname in enumerate(sweep["variants"]):
                sel = summ["variant"] == vi
                fixed = []
                for a in rest:
                    first = np.min(summ["axes"][a["path"]])
                    sel &= summ["axes"][a["path"]] == first
                    fixed.append(f"{a['path']}={_value_text(a, first)}")
                if not sel.any():
                    continue
                xs = np.unique(summ["axes"][ax1["path"]][sel])
                ys = np.unique(summ["axes"][ax2["path"]][sel])
                grid = np.full((len(ys), len(xs)), np.nan)
                for i in np.nonzero(sel)[0]:
                    xi = np.searchsorted(xs, summ["axes"][ax1["path"]][i])
                    yi = np.searchsorted(ys, summ["axes"][ax2["path"]][i])
                    grid[yi, xi] = summ["mean"][metric][i]
                fig, ax = plt.subplots(figsize=(7, 4.5))
                im = ax.imshow(grid, origin="lower", aspect="auto", cmap="viridis")
                ax.set_xticks(range(len(xs)), [_value_text(ax1, v) for v in xs], rotation=45, ha="right")
                ax.set_yticks(range(len(ys)), [_value_text(ax2, v) for v in ys])
                for yi in range(len(ys)):
                    for xi in range(len(xs)):
                        if np.isfinite(grid[yi, xi]):
                            ax.text(xi, yi, f"{grid[yi, xi]:.3g}", ha="center", va="center", fontsize=7, color="w")
                ax.set_xlabel(_axis_label(ax1))
                ax.set_ylabel(_axis_label(ax2))
                title = f"{metric}, {vname}"
                if fixed:
                    title += " (" + ", ".join(fixed) + ")"
                ax.set_title(title)
                unit = summ["units"].get(metric, "")
                fig.colorbar(im, ax=ax, label=f"{metric} ({unit or '1'})")
                fig.tight_layout()
                path = os.path.join(out_dir, f"heatmap_{_safe(metric)}_{_safe(vname)}.png")
                rendered.append((path, _png(fig), title))
                plt.close(fig)
    return rendered


# -- the capacity answer and its binding constraint ---------------------------------------


def _requirements(f):
    """The sweep's constraints on a load, as sweep_capacity.c checks them on the means:
    (label, metric, op, bound) with op '>=' or '<='."""
    out = []
    slo_s = float(f.attrs.get("slo_success_ratio", np.nan))
    if np.isfinite(slo_s):
        out.append((f"success_ratio >= {slo_s:g} (slo.success_ratio)", "success_ratio", ">=", slo_s))
    slo_p = float(f.attrs.get("slo_latency_p95_s", np.nan))
    if np.isfinite(slo_p):
        out.append((f"latency_p95_s <= {slo_p:g} s (slo.latency_p95)", "latency_p95_s", "<=", slo_p))
    for line in _text(f.attrs.get("capacity_require", b"")).splitlines():
        parts = line.split()
        if len(parts) == 3:
            out.append((f"{parts[0]} {parts[1]} {float(parts[2]):g} (capacity.require)", parts[0], parts[1],
                        float(parts[2])))
    return out


def _violated(req, mean):
    _, _, op, bound = req
    if not np.isfinite(mean):
        return True
    return mean < bound if op == ">=" else mean > bound


def capacity_answers(h5_path):
    """Per variant and cell (the values of the axes other than the load): the capacity answer of
    /sweep/capacity and the constraint that binds it. A pandas DataFrame with columns variant, one
    per other axis, max_load, max_load_lo, max_load_hi, top_meets, next_load (the first load
    evaluated above max_load, NaN: none), binding (the constraints the means miss at next_load,
    or at the lowest load when none meets; 'none in the range' when the highest load meets),
    binding_value (the first binding metric's mean there) and load_unit."""
    import pandas as pd
    sweep = read_sweep(h5_path)
    summ = sweep["summary"]
    with h5py.File(h5_path, "r") as f:
        if "sweep/capacity" not in f:
            return None
        reqs = _requirements(f)
        c = f["sweep/capacity"]
        cap = {k: c[k][()] for k in ("variant", "max_load", "max_load_lo", "max_load_hi", "top_meets")}
        cap_axes = {k: c["axes"][k][()] for k in (c["axes"].keys() if "axes" in c else [])}
    load = next(a for a in sweep["axes"] if a["is_load"])
    x = summ["axes"][load["path"]]
    rows = []
    for i in range(len(cap["variant"])):
        vi = int(cap["variant"][i])
        sel = summ["variant"] == vi
        for k, vals in cap_axes.items():
            sel &= summ["axes"][k] == vals[i]
        loads = np.sort(x[sel])
        ml, top = float(cap["max_load"][i]), bool(cap["top_meets"][i])
        row = {"variant": sweep["variants"][vi]}
        row.update({k: float(v[i]) for k, v in cap_axes.items()})
        row.update(max_load=ml, max_load_lo=float(cap["max_load_lo"][i]), max_load_hi=float(cap["max_load_hi"][i]),
                   top_meets=top, load_unit=load["unit"])
        if top:
            nxt, binding, bval = math.nan, "none in the range: the highest load evaluated meets every constraint", math.nan
        else:
            above = loads[loads > ml] if np.isfinite(ml) else loads
            nxt = float(above[0]) if len(above) else math.nan
            at = sel & (x == nxt)
            missed = [r for r in reqs if r[1] in summ["mean"] and at.any() and _violated(r, float(summ["mean"][r[1]][at][0]))]
            missed += [r for r in reqs if r[1] not in summ["mean"]]
            binding = "; ".join(r[0] for r in missed) or "-"
            bval = float(summ["mean"][missed[0][1]][at][0]) if missed and missed[0][1] in summ["mean"] and at.any() else math.nan
        row.update(next_load=nxt, binding=binding, binding_value=bval)
        rows.append(row)
    return pd.DataFrame(rows)


def _capacity_figures(h5_path, out_dir, caps):
    """Per variant: one panel per constraint, the metric's mean +- 95% half-width against the load
    per cell, its bound (dashed), each cell's capacity answer (vertical line, its interval shaded);
    the binding constraint's panel titled so. [(path, PNG, title, caption)]."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from .figures import OKABE_ITO, LIMIT_COLOR
    sweep = read_sweep(h5_path)
    summ = sweep["summary"]
    with h5py.File(h5_path, "r") as f:
        reqs = [r for r in _requirements(f) if r[1] in summ["mean"]]
    if not reqs or caps is None or not len(caps):
        return []
    load = next(a for a in sweep["axes"] if a["is_load"])
    others = [a for a in sweep["axes"] if not a["is_load"] and a["path"] in caps.columns]
    x = summ["axes"][load["path"]]
    div, lunit = (1.0, load["unit"])
    ivs = sweep_intervals(h5_path, [r[1] for r in reqs])
    out = []
    for vi, vname in enumerate(sweep["variants"]):
        cv = caps[caps["variant"] == vname].reset_index(drop=True)
        if not len(cv):
            continue
        fig, axs = plt.subplots(1, len(reqs), figsize=(5.2 * len(reqs), 4.2), squeeze=False)
        for ax, req in zip(axs[0], reqs):
            label, metric, op, bound = req
            unit = summ["units"].get(metric, "")
            binds = False
            for ci, cell in cv.iterrows():
                sel = summ["variant"] == vi
                for a in others:
                    sel &= summ["axes"][a["path"]] == cell[a["path"]]
                order = np.argsort(x[sel])
                col = OKABE_ITO[ci % len(OKABE_ITO)]
                name = ", ".join(f"{a['path']}={_value_text(a, cell[a['path']])}" for a in others) or vname
                ys = summ["mean"][metric][sel][order]
                ax.errorbar(x[sel][order] / div, ys, yerr=_yerr(ys, ivs[metric][0][sel][order], ivs[metric][1][sel][order]),
                            color=col, marker="o", ms=3, capsize=3, label=name)
                if np.isfinite(cell["max_load"]):
                    ax.axvline(cell["max_load"] / div, color=col, lw=1.2, ls=":")
                    if np.isfinite(cell["max_load_lo"]) and np.isfinite(cell["max_load_hi"]):
                        ax.axvspan(cell["max_load_lo"] / div, cell["max_load_hi"] / div, color=col, alpha=0.12, lw=0)
                binds |= label in str(cell["binding"])
            ax.axhline(bound, color=LIMIT_COLOR, ls="--", lw=1.0, label=f"bound: {op} {bound:g}")
            ax.set_xlabel(f"{load['path']} ({lunit}): the load")
            ax.set_ylabel(f"{metric} ({unit if unit else '1'})")
            ax.set_title(("BINDING: " if binds else "") + label, fontsize=9,
                         color="#D55E00" if binds else "#222222", loc="left")
            ax.grid(True, alpha=0.3)
            ax.legend(fontsize=7)
        fig.suptitle(f"{vname}: capacity and the constraint that binds it", fontsize=10, x=0.01, ha="left")
        fig.tight_layout(rect=(0, 0, 1, 0.93))
        stem = f"capacity_{_safe(vname)}"
        out.append((os.path.join(out_dir, stem + ".png"), _png(fig), f"Capacity of {vname}",
                    "Each constraint's metric (mean and 95% percentile-bootstrap interval over the replications) "
                    "against the load, "
                    "one line per cell of the other axes; dashed: the constraint's bound; dotted: the cell's "
                    "capacity answer with its interval shaded. The panel titled BINDING is the constraint the "
                    "means miss at the first load above the answer."))
        plt.close(fig)
    return out


def write_sweep_report(h5_path, out_dir, metrics=None):
    """The sweep's report: its figures, the capacity figures and DIR/report.html with the
    capacity answers and their binding constraints. Returns (report.html path, PNG paths)."""
    check_output_dir(out_dir)
    sweep = read_sweep(h5_path)
    caps = capacity_answers(h5_path)
    figs = [(os.path.splitext(os.path.basename(p))[0], t, "", d) for p, d, t in _render_sweep(h5_path, out_dir, metrics)]
    cfigs = [(os.path.splitext(os.path.basename(p))[0], t, c, d) for p, d, t, c in _capacity_figures(h5_path, out_dir, caps)]
    with h5py.File(h5_path, "r") as f:
        a = {k: _text(v) if isinstance(v, (bytes, str)) else v for k, v in f.attrs.items() if k != "sweep_source"}
    body = ["<h2>Sweep</h2>", table_html(["", ""], [
        ("sweep file", a.get("sweep_file", "")), ("scenario", a.get("scenario_file", "")),
        ("mode", a.get("mode", "")), ("replications", a.get("replications", "")),
        ("master seed", a.get("master_seed", "")), ("variants", ", ".join(sweep["variants"])),
        ("axes", "; ".join(f"{x['path']} ({x['unit'] or 'text'}){' [load]' if x['is_load'] else ''}"
                           for x in sweep["axes"]))])]
    body.append("<h2>Capacity</h2>")
    if caps is None or not len(caps):
        body.append("<p>No load axis: no capacity answer.</p>")
    else:
        others = [x["path"] for x in sweep["axes"] if not x["is_load"] and x["path"] in caps.columns]
        load = next(x for x in sweep["axes"] if x["is_load"])
        rows = []
        for _, r in caps.iterrows():
            ans = ("none meets" if not np.isfinite(r["max_load"]) else
                   f"{'≥ ' if r['top_meets'] else ''}{_value_text(load, r['max_load'])}")
            iv = (f"[{_value_text(load, r['max_load_lo'])}, {_value_text(load, r['max_load_hi'])}]"
                  if np.isfinite(r["max_load_lo"]) and np.isfinite(r["max_load_hi"]) else "-")
            nxt = _value_text(load, r["next_load"]) if np.isfinite(r["next_load"]) else "-"
            cell = [_value_text(next(x for x in sweep["axes"] if x["path"] == o), r[o]) for o in others]
            rows.append([r["variant"], *cell, ans, iv, nxt, r["binding"]])
        body.append("<p>The largest load whose means meet the SLO and capacity.require (docs/sweeps.md), "
                    "its 95% interval, and the binding constraint: the one the means miss at the next "
                    "load evaluated.</p>")
        body.append(table_html(["variant", *others, f"capacity ({load['path']})", "95% interval",
                                "next load", "binding constraint there"], rows, cls="cmp"))
    body.append("<h2>Figures</h2>")
    body += [figure_html(k, t, c, d) for k, t, c, d in cfigs + figs]
    page = page_html(f"ragsim sweep report: {os.path.basename(h5_path)}", a.get("sweep_file", ""), body,
                     "The figures are also in this directory as PNG files.")
    return write_page(out_dir, cfigs + figs, page, [h5_path])


def report_main(argv=None):
    """`ragsim report SWEEP.h5 -o DIR`: write_sweep_report; prints the page's path."""
    return report_cli(argv, write_sweep_report, SweepError)


def main(argv=None):
    p = argparse.ArgumentParser(
        prog="python3 -m ragsim_analysis.sweepplot",
        description="Plot a ragsim sweep output: each metric against the load axis per variant with 95% "
                    "confidence intervals, and heatmaps over two axes. Prints the PNG files written.")
    p.add_argument("h5", help="the output of `ragsim sweep` (OUT.h5)")
    p.add_argument("-o", "--out-dir", default=".", help="directory for the PNG files (default: .)")
    p.add_argument("-m", "--metric", action="append",
                   help="metric to plot (repeatable; default: success_ratio, latency_p95_s, goodput_per_s)")
    args = p.parse_args(argv)
    try:
        paths = plot_sweep(args.h5, args.out_dir, args.metric)
    except (SweepError, OutputError) as e:
        print(f"sweepplot: error: {e}", file=sys.stderr)
        return 2
    except OSError as e:
        print(f"sweepplot: error: cannot write the figures: {e}", file=sys.stderr)
        return 1
    for path in paths:
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
