"""Plots of a `ragsim sweep` output file (docs/sweeps.md).

    from ragsim_analysis.sweepplot import plot_sweep
    paths = plot_sweep("capacity.h5", "figures/")

Command line:

    PYTHONPATH=analysis /usr/bin/python3 -m ragsim_analysis.sweepplot OUT.h5 -o DIR

Figures (PNG):

- ``<metric>_vs_<axis>.png``: the metric's mean against the load axis (or
  the first axis with more than one value), one line per variant and per
  combination of the other axes' values, with the 95% confidence
  half-widths as error bars; the SLO's threshold as a dashed line for
  ``success_ratio`` and ``latency_p95_s``.
- ``heatmap_<metric>_<variant>.png`` when two or more axes vary: the
  metric's mean over the first two varying axes (any further axis at its
  first value, named in the title).
"""

import argparse
import io
import os
import re
import sys

import h5py
import numpy as np

from .outputs import OutputError, check_output_dir, check_output_files, write_atomic

DEFAULT_METRICS = ("success_ratio", "latency_p95_s", "goodput_per_s", "throughput_per_s")


class SweepError(Exception):
    """The file is not a ragsim sweep output."""


def _text(x):
    return x.decode() if isinstance(x, bytes) else str(x)


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


def _axis_label(axis):
    unit = axis["unit"]
    return f"{axis['path']} ({unit})" if unit and unit != "1" else axis["path"]


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


def _png(fig):
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100)
    return buf.getvalue()


def _safe(name):
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", name)


def _slo_line(ax, sweep, metric):
    y = None
    if metric == "success_ratio":
        y = sweep["slo_success_ratio"]
    elif metric == "latency_p95_s":
        y = sweep["slo_latency_p95_s"]
    if y is not None and np.isfinite(y):
        ax.axhline(y, color="grey", linestyle="--", linewidth=1, label="SLO")


def plot_sweep(h5_path, out_dir, metrics=None):
    """Write the sweep's figures into out_dir (created if missing) and
    return the list of PNG paths written."""
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
    rendered = []   # (path, PNG bytes): every path is checked before anything is written
    varying = [a for a in axes if len(np.unique(summ["axes"][a["path"]])) > 1] or axes[:1]
    xaxis = next((a for a in varying if a["is_load"]), varying[0])
    others = [a for a in varying if a is not xaxis]
    x = summ["axes"][xaxis["path"]]
    written = []

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
                hw = np.nan_to_num(summ["hw"][metric][sel][order], nan=0.0)
                label = vname
                if combo:
                    label += ", " + ", ".join(f"{a['path']}={_value_text(a, v)}" for a, v in zip(others, combo))
                ax.errorbar(xs, ys, yerr=hw, marker="o", markersize=3, capsize=3, label=label)
        _slo_line(ax, sweep, metric)
        unit = summ["units"].get(metric, "")
        ax.set_xlabel(_axis_label(xaxis))
        ax.set_ylabel(f"{metric} ({unit})" if unit and unit != "1" else metric)
        if xaxis["kind"] == "text":
            ax.set_xticks(range(len(xaxis["labels"])), xaxis["labels"])
        ax.set_title(f"{metric} vs {xaxis['path']} (mean, 95% CI)")
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize="small")
        fig.tight_layout()
        path = os.path.join(out_dir, f"{_safe(metric)}_vs_{_safe(xaxis['path'])}.png")
        rendered.append((path, _png(fig)))
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
                fig.colorbar(im, ax=ax, label=f"{metric} ({unit})" if unit and unit != "1" else metric)
                fig.tight_layout()
                path = os.path.join(out_dir, f"heatmap_{_safe(metric)}_{_safe(vname)}.png")
                rendered.append((path, _png(fig)))
                plt.close(fig)
    check_output_files([p for p, _ in rendered], [h5_path])
    for path, data in rendered:
        write_atomic(path, data, [h5_path])
        written.append(path)
    return written


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
