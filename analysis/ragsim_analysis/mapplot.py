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
import io
import os
import re
import sys

import h5py
import numpy as np

from .outputs import OutputError, check_output_dir, check_output_files, write_atomic

CLASS_NAMES = ("recovers", "metastable", "overloaded")
CLASS_COLOURS = ("#4daf4a", "#e41a1c", "#984ea3")


class MapError(Exception):
    """The file is not a ragsim map or sensitivity output."""


def _text(x):
    return x.decode() if isinstance(x, bytes) else str(x)


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
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110)
    return buf.getvalue()


def _safe(name):
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", name)


def _label(path, unit):
    return f"{path} ({unit})" if unit and unit != "1" else path


def plot_map(h5_path, out_dir="."):
    """One phase diagram per variant; returns the PNG paths written."""
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
        rendered.append((os.path.join(out_dir, f"phase_{_safe(vname)}.png"), _png(fig)))
        plt.close(fig)
    return _write(rendered, h5_path)


def plot_morris(h5_path, out_dir="."):
    """One mu*-sigma chart per metric of a --method morris output; returns
    the PNG paths written."""
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
        ax.scatter(ms, sg, color="#377eb8")
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
        rendered.append((os.path.join(out_dir, f"morris_{_safe(metric)}.png"), _png(fig)))
        plt.close(fig)
    return _write(rendered, h5_path)


def plot_sensitivity(h5_path, out_dir=".", top=15):
    """One tornado chart per metric (one at a time), or one mu*-sigma chart
    per metric (--method morris); returns the PNG paths written."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    if sensitivity_method(h5_path) == "morris":
        return plot_morris(h5_path, out_dir)
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
            ax.barh(yi + 0.17, eu, height=0.3, color="#377eb8", label="+d" if yi == y[0] else None)
            ax.barh(yi - 0.17, ed, height=0.3, color="#ff7f00", label="-d" if yi == y[0] else None)
            e, lo, hi = t["elasticity"][i], t["elasticity_lo"][i], t["elasticity_hi"][i]
            ax.errorbar(e, yi, xerr=[[e - lo], [hi - e]], fmt="kD", markersize=4, capsize=3,
                        label="central, 95% CI" if yi == y[0] else None)
            flip = bool(t["flip_recovered"][i]) or bool(t["flip_slo"][i])
            labels.append(f"{p} = {t['value'][i]}" + ("  [FLIP]" if flip else ""))
        ax.set_yticks(y, labels, fontsize=8)
        ax.axvline(0, color="k", lw=0.8)
        ax.set_xlabel(f"elasticity of {metric} (% change per % change of the parameter)")
        ax.set_title(f"{metric}: sensitivity ({t['variant']})")
        ax.legend(fontsize="small", loc="best")
        ax.grid(True, axis="x", alpha=0.3)
        fig.tight_layout()
        rendered.append((os.path.join(out_dir, f"tornado_{_safe(metric)}.png"), _png(fig)))
        plt.close(fig)
    return _write(rendered, h5_path)


def _write(rendered, h5_path):
    check_output_files([p for p, _ in rendered], [h5_path])
    written = []
    for path, data in rendered:
        write_atomic(path, data, [h5_path])
        written.append(path)
    return written


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
