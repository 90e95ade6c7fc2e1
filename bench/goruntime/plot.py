#!/usr/bin/python3
"""The model against the Go measurements: docs/img/goruntime-vs-go.png.

    build/gort-vs-go bench/goruntime/grid.csv --repeats bench/goruntime/leaks-repeat.csv --csv bench/goruntime/model-vs-go.csv
    /usr/bin/python3 bench/goruntime/plot.py [bench/goruntime/model-vs-go.csv] [docs/img/goruntime-vs-go.png]
"""
import sys

import matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt
import pandas as pd

src = sys.argv[1] if len(sys.argv) > 1 else "bench/goruntime/model-vs-go.csv"
dst = sys.argv[2] if len(sys.argv) > 2 else "docs/img/goruntime-vs-go.png"
d = pd.read_csv(src)
fig, ax = plt.subplots(1, 3, figsize=(15, 4.8))
groups = [("calibration", (d.held_out == 0) & (d.steady == 1), "o", "tab:blue"),
          ("held out", (d.held_out == 1) & (d.steady == 1), "s", "tab:red"),
          ("transient (< 3 cycles; not checked)", d.steady == 0, "x", "0.6")]
panels = [("measured_rpc", "model_rpc", "requests per CPU-second"),
          ("measured_cpc", "model_cpc", "GC cycles per CPU-second"),
          ("measured_kill_cpu_s", "model_kill_cpu_s", "CPU-seconds to the OOM kill")]
for a, (mx, my, title) in zip(ax, panels):
    lo, hi = float("inf"), 0.0
    for name, m, mk, c in groups:
        x, y = d.loc[m, mx], d.loc[m, my]
        ok = (x > 0) & (y > 0)
        a.scatter(x[ok], y[ok], marker=mk, color=c, label=name)
        for lab, xi, yi in zip(d.loc[m, "label"][ok], x[ok], y[ok]):
            if name != "transient (< 3 cycles; not checked)":
                a.annotate(lab, (xi, yi), fontsize=6, xytext=(3, 2), textcoords="offset points")
        if ok.any():
            lo, hi = min(lo, x[ok].min(), y[ok].min()), max(hi, x[ok].max(), y[ok].max())
    if hi > 0:
        lo, hi = lo / 1.5, hi * 1.5
        a.plot([lo, hi], [lo, hi], "k-", lw=0.8)
        a.fill_between([lo, hi], [lo * 0.8, hi * 0.8], [lo * 1.2, hi * 1.2], color="0.9", zorder=0,
                       label="within 20%")
        a.set_xscale("log")
        a.set_yscale("log")
        a.set_xlim(lo, hi)
        a.set_ylim(lo, hi)
    a.set_xlabel(f"measured (Go 1.19.8), {title}")
    a.set_ylabel(f"model, {title}")
    a.set_title(title)
ax[0].legend(fontsize=7, loc="upper left")
fig.suptitle("ragsim's Go runtime model vs the Go benchmark grid (bench/goruntime/grid.csv; "
             "the held-out leaks: the median of 5 runs, leaks-repeat.csv)")
fig.tight_layout()
fig.savefig(dst, dpi=110)
print("wrote", dst)
