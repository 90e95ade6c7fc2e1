#!/usr/bin/python3
"""Fit the Go runtime model's calibrated constants to the benchmark grid.

Runs gort-vs-go (built with ragsim: build/gort-vs-go) with candidate
constants and minimises its squared relative error over the calibration
points (the steady ones listed in gort_vs_go.c's CALIBRATION): requests per
CPU-second, GC cycles per CPU-second and CPU-seconds to the OOM kill.
Nelder-Mead over the logarithms of the constants. Prints the fit and how
much the error grows when each constant is moved by a factor of 2 (the
sensitivity quoted in docs/models/goruntime.md).

    /usr/bin/python3 bench/goruntime/calibrate.py [build/gort-vs-go] [bench/goruntime/grid.csv]
"""
import math
import re
import subprocess
import sys

import numpy as np

BIN = sys.argv[1] if len(sys.argv) > 1 else "build/gort-vs-go"
GRID = sys.argv[2] if len(sys.argv) > 2 else "bench/goruntime/grid.csv"
# name, start value (bytes/CPU-s, CPU-s or bytes)
PARAMS = [("base", 0.0003072), ("fault_rate", 2.638e9), ("release_rate", 1.552e9),
          ("noscan_mark_rate", 1.324e11), ("mark_rate", 2.082e9), ("cycle_cpu", 0.0004217),
          ("overhead", 28.14e6), ("sweep_rate", 28.71e9)]


def error(x):
    args = [BIN, GRID]
    for (name, _), v in zip(PARAMS, x):
        args += ["--set", f"{name}={math.exp(v):.6g}"]
    out = subprocess.run(args, capture_output=True, text=True, check=True).stdout
    m = re.search(r"calibration points' squared error: ([0-9.einf]+)", out)
    return float(m.group(1)) if m else float("inf")


def nelder_mead(f, x0, step=0.5, iters=300):
    n = len(x0)
    pts = [np.array(x0, float)] + [np.array(x0, float) + step * np.eye(n)[i] for i in range(n)]
    vals = [f(p) for p in pts]
    for _ in range(iters):
        order = np.argsort(vals)
        pts = [pts[i] for i in order]
        vals = [vals[i] for i in order]
        c = np.mean(pts[:-1], axis=0)
        xr = c + (c - pts[-1])
        fr = f(xr)
        if fr < vals[0]:
            xe = c + 2 * (c - pts[-1])
            fe = f(xe)
            pts[-1], vals[-1] = (xe, fe) if fe < fr else (xr, fr)
        elif fr < vals[-2]:
            pts[-1], vals[-1] = xr, fr
        else:
            xc = c + 0.5 * (pts[-1] - c)
            fc = f(xc)
            if fc < vals[-1]:
                pts[-1], vals[-1] = xc, fc
            else:
                pts = [pts[0]] + [pts[0] + 0.5 * (p - pts[0]) for p in pts[1:]]
                vals = [vals[0]] + [f(p) for p in pts[1:]]
    i = int(np.argmin(vals))
    return pts[i], vals[i]


def main():
    x0 = [math.log(v) for _, v in PARAMS]
    x, e = nelder_mead(error, x0)
    print(f"fitted (squared relative error over the calibration points {e:.4f}):")
    for (name, _), v in zip(PARAMS, x):
        print(f"  {name} = {math.exp(v):.4g}")
    print("sensitivity: the error with one constant x2 and /2")
    for i, (name, _) in enumerate(PARAMS):
        up, dn = x.copy(), x.copy()
        up[i] += math.log(2)
        dn[i] -= math.log(2)
        print(f"  {name}: x2 -> {error(up):.4f}, /2 -> {error(dn):.4f}")


if __name__ == "__main__":
    main()
