"""Figures of `ragsim map` and `ragsim sensitivity` outputs (docs/map.md,
docs/sensitivity.md).

    from ragsim_analysis.mapplot import plot_map, plot_sensitivity
    plot_map("retry-storm-map.h5", "figures/")
    plot_sensitivity("incident-sensitivity.h5", "figures/")

Command line:

    PYTHONPATH=analysis /usr/bin/python3 -m ragsim_analysis.mapplot OUT.h5 -o DIR

Figures (PNG):

- ``phase_<variant>.png`` (a map): the cells run, coloured by class
  (recovers, metastable, overloaded before the trigger), with each cell's
  probability of not recovering, and the boundary: for each value of the
  fixed axis a bar from the last value that recovers to the first that
  does not (the bracket in which the boundary lies), through their
  midpoint.
- ``tornado_<metric>.png`` (a sensitivity output): per parameter, the
  elasticity at +d and -d as bars and the central elasticity with its 95%
  interval, parameters sorted by |central elasticity|; a flipped outcome
  is marked in the parameter's label.
- ``morris_<metric>.png`` (a sensitivity output of ``--method morris``):
  per parameter its mu* (x) against its sigma (y), labelled, with the
  line sigma = mu*: near the x axis a parameter whose effect is the same
  everywhere (additive), near or above the line one that interacts with
  the others or is non-linear; near the origin one that does not matter.
"""

import argparse
import os
import sys

import h5py
import numpy as np

from .outputs import OutputError, check_output_dir

CLASS_NAMES = ("recovers", "metastable", "overloaded")
CLASS_COLOURS = ("#009E73", "#D55E00", "#CC79A7")   # Okabe-Ito: bluish green, vermillion, reddish purple


class MapError(Exception):
    """The file is not a ragsim map or sensitivity output."""


from .page import report_cli, figure_html, page_html, safe as _safe, table_html, text as _text, write_files, write_page


def _open(h5_path, fmt):
    if not os.path.exists(h5_path):
        raise MapError(f"{h5_path}: no such file")
    try:
        f = h5py.File(h5_path, "r")
    except OSError as e:
        raise MapError(f"{h5_path}: not an HDF5 file ({e})") from None
    if _text(f.attrs.get("format", b"")) != fmt:
        f.close()
        raise MapError(f"{h5_path}: not a ragsim {fmt[7:]} output (format attribute '{fmt}')")
    return f


def file_format(h5_path):
    """'ragsim-map', 'ragsim-sensitivity', or None."""
    try:
        with h5py.File(h5_path, "r") as f:
            return _text(f.attrs.get("format", b"")) or None
    except Exception:
        return None


def read_map(h5_path):
    """The map as plain Python/numpy: variants, load_axis, trigger_axis,
    units, cells (dict of arrays), boundary (dict of arrays)."""
    with _open(h5_path, "ragsim-map") as f:
        cells = f["map/cells"][:]
        bnd = f["map/boundary"][:]
        return {
            "variants": [_text(n) for n in f["map/variants"]["name"]],
            "load_axis": _text(f.attrs["load_axis"]),
            "trigger_axis": _text(f.attrs["trigger_axis"]),
            "load_unit": _text(f.attrs["load_unit"]),
            "trigger_unit": _text(f.attrs["trigger_unit"]),
            "mode": _text(f.attrs["mode"]),
            "cells": {k: cells[k] for k in cells.dtype.names},
            "boundary": {k: (np.array([_text(x) for x in bnd[k]]) if bnd.dtype[k].kind in "SO" else bnd[k])
                         for k in bnd.dtype.names},
        }


def sensitivity_method(h5_path):
    """'oat' (one at a time) or 'morris' (elementary effects)."""
    with _open(h5_path, "ragsim-sensitivity") as f:
        return _text(f.attrs.get("method", b"oat"))


def read_sensitivity(h5_path):
    """The /sensitivity table (one at a time) or the /morris table (--method
    morris) as a dict of arrays (strings decoded), with 'variant' and
    'method'."""
    with _open(h5_path, "ragsim-sensitivity") as f:
        method = _text(f.attrs.get("method", b"oat"))
        t = f["morris" if method == "morris" else "sensitivity"][:]
        out = {k: (np.array([_text(x) for x in t[k]]) if t.dtype[k].kind in "SO" else t[k]) for k in t.dtype.names}
        out["variant"] = _text(f.attrs.get("variant", b""))
        out["method"] = method
        return out


def _png(fig):
    from .page import png
    return png(fig, dpi=110)


def _label(path, unit):
    return f"{path} ({unit or '1'})"


def plot_map(h5_path, out_dir="."):
    """One phase diagram per variant; returns the PNG paths written."""
    return _write([(p, d) for p, d, _ in _render_map(h5_path, out_dir)], h5_path)


def _render_map(h5_path, out_dir):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.patches import Patch

    m = read_map(h5_path)
    check_output_dir(out_dir)
    os.makedirs(out_dir, exist_ok=True)
    c, b = m["cells"], m["boundary"]
    rendered = []
    for vi, vname in enumerate(m["variants"]):
        sel = c["variant"] == vi
        fig, ax = plt.subplots(figsize=(7, 5))
        for k, (name, col) in enumerate(zip(CLASS_NAMES, CLASS_COLOURS)):
            s = sel & (c["class"] == k)
            if s.any():
                ax.scatter(c["trigger"][s], c["load"][s], s=140, marker="s", color=col, alpha=0.75)
        for i in np.nonzero(sel)[0]:
            ax.annotate(f"{c['p_not_recovering'][i]:.1f}", (c["trigger"][i], c["load"][i]), ha="center", va="center",
                        fontsize=6, color="white")
        bs = (b["variant"] == vi) & (b["status"] == 0)
        along_trigger = len(b["along"]) > 0 and b["along"][0] == "trigger"
        if bs.any():
            lo, hi, mid, fx = b["recovers_at"][bs], b["fails_at"][bs], b["boundary"][bs], b["fixed"][bs]
            if along_trigger:   # x: trigger, y: load (the fixed axis)
                ax.errorbar(mid, fx, xerr=np.abs(hi - lo) / 2, fmt="k-o", markersize=3, capsize=4,
                            label="boundary (bracket)")
            else:
                ax.errorbar(fx, mid, yerr=np.abs(hi - lo) / 2, fmt="k-o", markersize=3, capsize=4,
                            label="boundary (bracket)")
        handles = [Patch(color=col, label=name) for name, col in zip(CLASS_NAMES, CLASS_COLOURS)]
        if bs.any():
            handles.append(ax.get_legend_handles_labels()[0][0])
        ax.legend(handles=handles, fontsize="small", loc="best")
        ax.set_xlabel(_label(m["trigger_axis"], m["trigger_unit"]) + " (trigger)")
        ax.set_ylabel(_label(m["load_axis"], m["load_unit"]) + " (load)")
        ax.set_title(f"{vname}: where the service recovers (P(not recovering) in each cell)")
        ax.grid(True, alpha=0.3)
        fig.tight_layout()
        rendered.append((os.path.join(out_dir, f"phase_{_safe(vname)}.png"), _png(fig),
                         (f"Phase diagram of {vname}", "Cells coloured by class (recovers, metastable, overloaded "
                          "before the trigger) with P(not recovering); black: the boundary's bracket.")))
        plt.close(fig)
    return rendered


def plot_morris(h5_path, out_dir="."):
    """One mu*-sigma chart per metric of a --method morris output; returns
    the PNG paths written."""
    return _write([(p, d) for p, d, _ in _render_morris(h5_path, out_dir)], h5_path)


def _render_morris(h5_path, out_dir):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    t = read_sensitivity(h5_path)
    if t["method"] != "morris":
        raise MapError(f"{h5_path}: not a --method morris output")
    check_output_dir(out_dir)
    os.makedirs(out_dir, exist_ok=True)
    rendered = []
    for metric in dict.fromkeys(t["metric"].tolist()):
        sel = np.nonzero(t["metric"] == metric)[0]
        ms, sg = t["mu_star"][sel], t["sigma"][sel]
        fig, ax = plt.subplots(figsize=(7, 5))
        ax.scatter(ms, sg, color="#0072B2")
        for i, x, y in zip(sel, ms, sg):
            ax.annotate(t["parameter"][i], (x, y), fontsize=7, xytext=(4, 3), textcoords="offset points")
        top = np.nanmax(np.concatenate([ms, sg])) if len(sel) and np.isfinite(np.concatenate([ms, sg])).any() else 1.0
        ax.plot([0, top * 1.05], [0, top * 1.05], "k--", lw=0.8, label="sigma = mu*")
        ax.set_xlim(left=0)
        ax.set_ylim(bottom=0)
        ax.set_xlabel(f"mu* of {metric} (mean |elementary effect| over the parameter's range)")
        ax.set_ylabel("sigma (spread of the effects: interactions, non-linearity)")
        ax.set_title(f"{metric}: Morris screening ({t['variant']})")
        ax.legend(fontsize="small", loc="best")
        ax.grid(True, alpha=0.3)
        fig.tight_layout()
        rendered.append((os.path.join(out_dir, f"morris_{_safe(metric)}.png"), _png(fig),
                         (f"Morris screening of {metric}", "mu* (mean absolute elementary effect) against sigma "
                          "(their spread: interactions and non-linearity) per parameter; above the dashed "
                          "line the parameter's effect depends on the others.")))
        plt.close(fig)
    return rendered


def plot_sensitivity(h5_path, out_dir=".", top=15):
    """One tornado chart per metric (one at a time), or one mu*-sigma chart
    per metric (--method morris); returns the PNG paths written."""
    return _write([(p, d) for p, d, _ in _render_sensitivity(h5_path, out_dir, top)], h5_path)


def _render_sensitivity(h5_path, out_dir, top=15):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    if sensitivity_method(h5_path) == "morris":
        return _render_morris(h5_path, out_dir)
    t = read_sensitivity(h5_path)
    check_output_dir(out_dir)
    os.makedirs(out_dir, exist_ok=True)
    rendered = []
    central = t["delta"] == 0
    for metric in dict.fromkeys(t["metric"].tolist()):
        rows = np.nonzero((t["metric"] == metric) & central)[0]
        # the first delta's central row per parameter
        first = {}
        for i in rows:
            first.setdefault(t["parameter"][i], i)
        order = sorted(first.values(), key=lambda i: -abs(np.nan_to_num(t["elasticity"][i])))[:top]
        if not order:
            continue
        fig, ax = plt.subplots(figsize=(8, 0.45 * len(order) + 1.6))
        y = np.arange(len(order))[::-1]
        labels = []
        for yi, i in zip(y, order):
            p = t["parameter"][i]
            side = (t["parameter"] == p) & (t["metric"] == metric) & ~central
            up = side & (t["delta"] > 0)
            dn = side & (t["delta"] < 0)
            eu = t["elasticity"][up][0] if up.any() else np.nan
            ed = t["elasticity"][dn][0] if dn.any() else np.nan
            ax.barh(yi + 0.17, eu, height=0.3, color="#0072B2", label="+d" if yi == y[0] else None)
            ax.barh(yi - 0.17, ed, height=0.3, color="#E69F00", label="-d" if yi == y[0] else None)
            e, lo, hi = t["elasticity"][i], t["elasticity_lo"][i], t["elasticity_hi"][i]
            ax.errorbar(e, yi, xerr=[[e - lo], [hi - e]], fmt="kD", markersize=4, capsize=3,
                        label="central, 95% CI" if yi == y[0] else None)
            flip = bool(t["flip_recovered"][i]) or bool(t["flip_slo"][i])
            labels.append(f"{p} = {t['value'][i]}" + ("  [FLIP]" if flip else ""))
        ax.set_yticks(y, labels, fontsize=8)
        ax.axvline(0, color="k", lw=0.8)
        ax.set_xlabel(f"elasticity of {metric} (1: % change per % change of the parameter)")
        ax.set_title(f"{metric}: sensitivity ({t['variant']})")
        ax.legend(fontsize="small", loc="best")
        ax.grid(True, axis="x", alpha=0.3)
        fig.tight_layout()
        rendered.append((os.path.join(out_dir, f"tornado_{_safe(metric)}.png"), _png(fig),
                         (f"Sensitivity of {metric}", "Elasticity at +d and -d per parameter and the central "
                          "elasticity with its 95% interval, parameters by |central elasticity|.")))
        plt.close(fig)
    return rendered


def _write(rendered, h5_path):
    return write_files(rendered, [h5_path])


BOUNDARY_STATUS = ("bracketed", "every value recovers", "no value recovers")


def _fails_as(m, vi, along, fixed, at):
    """The class of the cell at the boundary's failing end: how the service fails there."""
    c = m["cells"]
    if along == "trigger":
        sel = (c["variant"] == vi) & (c["load"] == fixed) & (c["trigger"] == at)
    else:
        sel = (c["variant"] == vi) & (c["trigger"] == fixed) & (c["load"] == at)
    if not sel.any():
        return "-"
    k = int(c["class"][sel][0])
    return CLASS_NAMES[k] if 0 <= k < len(CLASS_NAMES) else str(k)


def write_map_report(h5_path, out_dir):
    """A map's or a sensitivity analysis's report: its figures and DIR/report.html (the shared
    page frame, page.py). For a map the page holds the boundary per variant (the answer: the
    bracket between the last value that recovers and the first that does not) and what binds
    there: the failing cell's class (metastable: overloaded only by the trigger; overloaded:
    misses the SLO before it). Returns (report.html path, PNG paths)."""
    check_output_dir(out_dir)
    fmt = file_format(h5_path)
    with h5py.File(h5_path, "r") as f:
        a = {k: _text(v) if isinstance(v, (bytes, str)) else v for k, v in f.attrs.items()
             if not k.endswith("_source")}
    body = ["<h2>Parameters</h2>", table_html(["", ""], [(k, v) for k, v in sorted(a.items())])]
    if fmt == "ragsim-sensitivity":
        rendered = _render_sensitivity(h5_path, out_dir)
        title = f"ragsim sensitivity report: {os.path.basename(h5_path)}"
    else:
        m = read_map(h5_path)
        rendered = _render_map(h5_path, out_dir)
        b = m["boundary"]
        rows = []
        for i in range(len(b["variant"])):
            vi = int(b["variant"][i])
            st = int(b["status"][i])
            along = str(b["along"][i])
            unit = m["trigger_unit"] if along == "trigger" else m["load_unit"]
            funit = m["load_unit"] if along == "trigger" else m["trigger_unit"]
            rows.append([m["variants"][vi], along, f"{b['fixed'][i]:g} {funit}",
                         BOUNDARY_STATUS[st] if 0 <= st < 3 else st,
                         f"{b['recovers_at'][i]:g} {unit}" if st == 0 else "-",
                         f"{b['fails_at'][i]:g} {unit}" if st == 0 else "-",
                         f"{b['boundary'][i]:g} {unit}" if st == 0 else "-",
                         _fails_as(m, vi, along, b["fixed"][i], b["fails_at"][i]) if st == 0 else "-"])
        body.append("<h2>Boundary</h2><p>Per variant and value of the other axis: the last value that recovers, "
                    "the first that does not, their midpoint, and how the service fails at the first "
                    "(docs/map.md).</p>")
        body.append(table_html(["variant", "searched along", "at", "status", "recovers at", "fails at",
                                "boundary", "fails as"], rows, cls="cmp"))
        title = f"ragsim map report: {os.path.basename(h5_path)}"
    figs = [(os.path.splitext(os.path.basename(p))[0], cap[0], cap[1], d) for p, d, cap in rendered]
    body.append("<h2>Figures</h2>")
    body += [figure_html(*f) for f in figs]
    page = page_html(title, a.get("scenario_file", ""), body, "The figures are also in this directory as PNG files.")
    return write_page(out_dir, figs, page, [h5_path])


def report_main(argv=None):
    """`ragsim report MAP.h5 -o DIR` (or a sensitivity output): write_map_report."""
    return report_cli(argv, write_map_report, MapError)


def main(argv=None):
    p = argparse.ArgumentParser(
        prog="python3 -m ragsim_analysis.mapplot",
        description="Figures of a ragsim map output (phase diagrams) or sensitivity output (tornado charts). "
                    "Prints the PNG files written.")
    p.add_argument("h5", help="the output of `ragsim map` or `ragsim sensitivity`")
    p.add_argument("-o", "--out-dir", default=".", help="directory for the PNG files (default: .)")
    args = p.parse_args(argv)
    try:
        fmt = file_format(args.h5)
        paths = plot_sensitivity(args.h5, args.out_dir) if fmt == "ragsim-sensitivity" else plot_map(args.h5, args.out_dir)
    except (MapError, OutputError) as e:
        print(f"mapplot: error: {e}", file=sys.stderr)
        return 2
    except OSError as e:
        print(f"mapplot: error: cannot write the figures: {e}", file=sys.stderr)
        return 1
    for path in paths:
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
