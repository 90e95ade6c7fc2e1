#!/usr/bin/python3
"""Fit the four global constants of the LLM step-time model
(models/components/llm/steptime.c) to the measured A100 profile
data/llm-profiles/a100.csv, and report how well they predict it.

The model (docs/llm-validation.md): the token-parallel part of a forward pass
("linear") is a sum over operations, each a smooth roofline

    t_op = ((F / (P ec))^p + (B / (W em))^p)^(1/p) + t0

with F the op's FLOPs, B the bytes it moves, P the GPU's peak dense BF16
FLOP/s and W its HBM bandwidth. Per layer the ops are the QKV, output, MLP
up+gate and down projections (GEMMs: F = 2 x weights x tokens, B = weights +
activations in and out) and the memory-bound RMSNorm x 2, rotary embedding,
SiLU-and-mul and residual add x 2; plus the embedding lookup once per step.
ec, em, p and t0 are the same for every GPU and model; they are fitted here
by least squares on log(predicted / measured) over the TP=1 rows of the seven
models, and shipped (rounded to four significant digits) in steptime.c.

usage: bench/llm/fit_steptime.py [--csv FILE] [--plot] [--plot-out PNG]

A calibration tool, not a test: run it by hand after changing the model or
the data, then copy the constants it prints into steptime.c and the tables
into docs/llm-validation.md. Needs numpy, pandas and scipy (Debian's
python3-numpy, python3-pandas, python3-scipy); --plot also matplotlib.
"""
import argparse
import os
import sys

import numpy as np
import pandas as pd
from scipy.optimize import least_squares

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
CSV = os.path.join(ROOT, "data", "llm-profiles", "a100.csv")
PNG = os.path.join(ROOT, "docs", "img", "llm-steptime-a100.png")

# NVIDIA A100 80GB SXM (datasheet): dense BF16 tensor-core peak, HBM2e bandwidth.
PEAK = 312e12
HBM = 2.039e12
BYTES = 2                        # bf16

# The models with a preset in steptime.c (phi-2 in the table has none).
MODELS = ["Llama-2-7b-hf", "Meta-Llama-3-8B", "internlm-20b", "CodeLlama-34b-Instruct-hf",
          "Llama-2-70b-hf", "Meta-Llama-3-70B", "Qwen-72B"]

NAMES = ["ec", "em", "p", "t0"]
SMALL = 128                      # tokens: the memory-bound end of the table


def ops(r, tp):
    """Per-layer operations of a model row at tensor parallelism tp, as
    (flops per token, weight bytes, activation bytes per token) per GPU;
    then the embedding lookup (once per step)."""
    d, ff, h, kv = r.n_embd, r.n_expanded_embd, r.n_head, r.n_kv_head
    hd = d // h
    kvl = kv // tp if kv >= tp else 1          # KV heads per GPU (replicated below tp)
    qkv = (h // tp + 2 * kvl) * hd             # QKV output width per GPU
    gemms = [  # (weights, width in, width out)
        (d * qkv, d, qkv),                     # QKV projection
        (d * d / tp, d / tp, d),               # attention output projection
        (d * 2 * ff / tp, d, 2 * ff / tp),     # MLP up + gate
        (ff / tp * d, ff / tp, d),             # MLP down
    ]
    layer = [(2.0 * w, w * BYTES, (a + b) * BYTES) for w, a, b in gemms]
    # elementwise, memory-bound: values read + written per token
    for values in [2 * d, 2 * d,                     # RMSNorm x 2
                   2 * (h // tp + kvl) * hd,         # rotary embedding on q and k
                   3 * ff / tp,                      # SiLU(gate) x up
                   3 * d, 3 * d]:                    # residual add x 2
        layer.append((0.0, 0.0, values * BYTES))
    emb = (0.0, 0.0, 2 * d * BYTES)                  # embedding lookup: read + write a row
    return layer, emb


def predict(x, rows, tokens, tps, peak=PEAK, hbm=HBM):
    """Predicted linear time (s) of each row (arrays of equal length)."""
    ec, em, p, t0 = x
    out = np.full(len(tokens), np.nan)
    # group by (model, tp): same ops for every token count
    key = {}
    for i, (r, tp) in enumerate(zip(rows, tps)):
        key.setdefault((r.model, tp), []).append(i)
    for (_, tp), idx in key.items():
        r = rows[idx[0]]
        layer, emb = ops(r, tp)
        T = tokens[idx].astype(float)

        def roof(f, w, b):
            c = f * T / (peak * ec)
            m = (w + b * T) / (hbm * em)
            return (c ** p + m ** p) ** (1.0 / p) + t0

        tot = sum(roof(*o) for o in layer) * r.layers + roof(*emb)
        out[idx] = tot
    return out


def load(path):
    df = pd.read_csv(path)
    df = df[df.model.isin(MODELS)].reset_index(drop=True)
    missing = sorted(set(MODELS) - set(df.model))
    if missing:
        sys.exit("fit_steptime: %s has no rows for %s" % (path, ", ".join(missing)))
    return df


def arrays(df):
    rows = list(df.itertuples())
    return rows, df.num_tokens.to_numpy(), df.tp.to_numpy(), df.linear_ms.to_numpy() / 1e3


def fit(df):
    sub = df[df.tp == 1]
    rows, tok, tps, meas = arrays(sub)

    def resid(x):
        return np.log(predict(x, rows, tok, tps) / meas)

    s = least_squares(resid, [0.7, 0.8, 2.0, 5e-6], bounds=([0.05, 0.05, 1.0, 0.0], [1.0, 1.0, 20.0, 1e-4]),
                      x_scale=[0.1, 0.1, 0.5, 1e-6])
    return s.x


def shipped(x):
    """The constants as written in steptime.c: four significant digits."""
    return np.array([float("%.4g" % v) for v in x])


def errors(df, x):
    rows, tok, tps, meas = arrays(df)
    e = np.abs(predict(x, rows, tok, tps) / meas - 1.0)
    return df.assign(err=e)


def table(df, x):
    e = errors(df, x)
    out = []
    for m in MODELS:
        g = e[e.model == m]
        row = {"model": m}
        for tp in (1, 2, 4, 8):
            gt = g[g.tp == tp].err
            row[tp] = (np.median(gt), np.percentile(gt, 90), gt.max(), len(gt)) if len(gt) else None
        out.append(row)
    return out, e


def pooled(e, tp=1):
    g = e[e.tp == tp].err
    return np.median(g), np.percentile(g, 90)


def worst_median(e, tps=(1,)):
    g = e[e.tp.isin(tps)]
    return max(np.median(gg.err) for _, gg in g.groupby(["model", "tp"]))


def worst_p90(e, tps=(1,)):
    g = e[e.tp.isin(tps)]
    return max(np.percentile(gg.err, 90) for _, gg in g.groupby(["model", "tp"]))


def report(df, xfit):
    x = shipped(xfit)
    print("fitted on %d TP=1 rows of %d models (%s)" % ((df.tp == 1).sum(), len(MODELS), os.path.relpath(CSV, ROOT)))
    print("  A100 80GB: peak %.0f TFLOP/s dense BF16, HBM %.3f TB/s" % (PEAK / 1e12, HBM / 1e12))
    print("  fitted : ec %.6f  em %.6f  p %.6f  t0 %.6g s" % tuple(xfit))
    print("  shipped: ec %.4g  em %.4g  p %.4g  t0 %.4g s   (steptime.c)" % tuple(x))
    print()
    rows, e = table(df, x)
    print("relative error |predicted/measured - 1| with the shipped constants")
    print("%-27s %6s  %-17s %-17s %-17s %-17s" % ("model", "rows", "TP1 median  p90", "TP2 median  p90",
                                                 "TP4 median  p90", "TP8 median  p90"))
    for r in rows:
        cells = []
        for tp in (1, 2, 4, 8):
            c = r[tp]
            cells.append("%5.1f%%  %5.1f%%   " % (100 * c[0], 100 * c[1]) if c else "%-17s" % "   -")
        print("%-27s %6d  %s" % (r["model"], r[1][3], "".join(cells)))
    m1, p1 = pooled(e, 1)
    print("%-27s %6d  %5.1f%%  %5.1f%%   (all TP1 rows pooled)" % ("all", (e.tp == 1).sum(), 100 * m1, 100 * p1))
    print("worst model at TP1: median %.1f%%, p90 %.1f%%; at TP2-8: median %.1f%%, p90 %.1f%%"
          % (100 * worst_median(e), 100 * worst_p90(e), 100 * worst_median(e, (2, 4, 8)),
             100 * worst_p90(e, (2, 4, 8))))
    print()
    print("signed median error (predicted/measured - 1) by step size, TP1: decode-sized steps, mixed, prefill")
    for m in MODELS:
        rows_, tok, tps, meas = arrays(df[(df.model == m) & (df.tp == 1)])
        sgn = predict(x, rows_, tok, tps) / meas - 1.0
        cells = []
        for lo, hi in ((1, 64), (65, 512), (513, 1 << 30)):
            sel = (tok >= lo) & (tok <= hi)
            cells.append("%+5.1f%% (%3d rows)" % (100 * np.median(sgn[sel]), sel.sum()))
        print("  %-27s <=64: %s   65-512: %s   >512: %s" % (m, cells[0], cells[1], cells[2]))
    print()
    print("sensitivity: one constant moved by +-10%, the others as shipped (TP1 rows; 'small' = the")
    print("%d rows of <= %d tokens, where the weights' bytes dominate)" % (((e.tp == 1) & (e.num_tokens <= SMALL)).sum(), SMALL))
    print("%-8s %-38s %-38s" % ("", "-10%: median  p90 worst-med small-med", "+10%: median  p90 worst-med small-med"))
    for k, name in enumerate(NAMES + ["shipped"]):
        cells = []
        for f in ((0.9, 1.1) if k < 4 else (1.0,)):
            y = x.copy()
            if k < 4:
                y[k] *= f
            ey = errors(df[df.tp == 1], y)
            m, p90 = pooled(ey, 1)
            small = np.median(ey[ey.num_tokens <= SMALL].err)
            cells.append("%6.1f%% %5.1f%% %6.1f%% %6.1f%%          " % (100 * m, 100 * p90, 100 * worst_median(ey), 100 * small))
        print("%-8s %s" % (name, "".join(cells)))
    print()
    print("other ways to combine compute and memory time (refitted; TP1 pooled median, p90, worst-model p90):")
    for label, pfix in (("~max (p = 60)", 60.0), ("sum (p = 1)", 1.0)):
        sub = df[df.tp == 1]
        r_, tok, tps, meas = arrays(sub)

        def resid(z, pfix=pfix):
            return np.log(predict([z[0], z[1], pfix, z[2]], r_, tok, tps) / meas)

        s = least_squares(resid, [0.7, 0.8, 5e-6], bounds=([0.05, 0.05, 0.0], [1.0, 1.0, 1e-4]),
                          x_scale=[0.1, 0.1, 1e-6])
        y = [s.x[0], s.x[1], pfix, s.x[2]]
        ey = errors(sub, y)
        m, p90 = pooled(ey, 1)
        print("  per op,     %-15s ec %.3f em %.3f t0 %.3g s: %5.1f%% %5.1f%% %5.1f%%"
              % (label, s.x[0], s.x[1], s.x[2], 100 * m, 100 * p90, 100 * worst_p90(ey)))
    # one roofline over the whole step: the step's FLOPs and bytes summed, a
    # constant per step instead of one per kernel
    sub = df[df.tp == 1]
    r_, tok, tps, meas = arrays(sub)
    F = np.zeros(len(tok))
    B = np.zeros(len(tok))
    for i, (r, T) in enumerate(zip(r_, tok.astype(float))):
        layer, emb = ops(r, 1)
        F[i] = r.layers * sum(o[0] for o in layer) * T
        B[i] = r.layers * sum(o[1] + o[2] * T for o in layer) + emb[2] * T
    for label, pfix in (("~max (p = 60)", 60.0), ("smooth (p = 1.5)", 1.5)):
        def resid(z, pfix=pfix):
            c, m = F / (PEAK * z[0]), B / (HBM * z[1])
            return np.log(((c ** pfix + m ** pfix) ** (1.0 / pfix) + z[2]) / meas)

        s = least_squares(resid, [0.7, 0.8, 1e-3], bounds=([0.05, 0.05, 0.0], [1.0, 1.0, 0.1]), x_scale=[0.1, 0.1, 1e-3])
        err = np.abs(np.exp(resid(s.x)) - 1.0)
        ey = sub.assign(err=err)
        print("  whole step, %-15s ec %.3f em %.3f t_step %.3g s: %5.1f%% %5.1f%% %5.1f%%"
              % (label, s.x[0], s.x[1], s.x[2], 100 * np.median(err), 100 * np.percentile(err, 90), 100 * worst_p90(ey)))
    return x, e


def plot(df, x, out):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    e = errors(df[df.tp == 1], x)
    rows, tok, tps, _ = arrays(df[df.tp == 1])
    e = e.assign(pred=predict(x, rows, tok, tps))
    fig, axes = plt.subplots(2, 4, figsize=(15, 7.2), constrained_layout=True)
    for ax, m in zip(axes.flat, MODELS):
        g = e[e.model == m].sort_values("num_tokens")
        ax.loglog(g.num_tokens, g.linear_ms, "o", ms=2.5, color="0.45", label="measured (Vidur A100 profile)")
        ax.loglog(g.num_tokens, g.pred * 1e3, "-", lw=1.6, color="C3", label="model")
        ax.set_title("%s\nmedian %.1f%%, p90 %.1f%%" % (m, 100 * np.median(g.err), 100 * np.percentile(g.err, 90)),
                     fontsize=9)
        ax.grid(True, which="major", alpha=0.3)
        ax.set_xlabel("tokens in the step", fontsize=8)
        ax.set_ylabel("linear time (ms)", fontsize=8)
        ax.tick_params(labelsize=7)
    axes.flat[0].legend(fontsize=7, loc="upper left")
    ax = axes.flat[7]
    for k, m in enumerate(MODELS):
        g = e[e.model == m].sort_values("num_tokens")
        ax.semilogx(g.num_tokens, 100 * (g.pred * 1e3 / g.linear_ms - 1), "-", lw=0.9, color="C%d" % k, label=m)
    ax.axhline(0, color="k", lw=0.6)
    ax.set_title("predicted / measured - 1 (all models)", fontsize=9)
    ax.set_xlabel("tokens in the step", fontsize=8)
    ax.set_ylabel("%", fontsize=8)
    ax.tick_params(labelsize=7)
    ax.legend(fontsize=5.5, loc="upper right")
    ax.grid(True, alpha=0.3)
    fig.suptitle("LLM step time, token-parallel part (TP=1, A100 80GB): ec %.4g, em %.4g, p %.4g, t0 %.3g s"
                 % tuple(x), fontsize=10)
    os.makedirs(os.path.dirname(out), exist_ok=True)
    fig.savefig(out, dpi=110)
    print("wrote %s" % os.path.relpath(out, ROOT))


def main():
    global CSV
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--csv", default=CSV, help="the profile (default: data/llm-profiles/a100.csv)")
    ap.add_argument("--plot", action="store_true", help="draw predicted against measured")
    ap.add_argument("--plot-out", default=PNG, help="figure path (default: docs/img/llm-steptime-a100.png)")
    a = ap.parse_args()
    CSV = os.path.abspath(a.csv)
    df = load(CSV)
    x, _ = report(df, fit(df))
    if a.plot:
        plot(df, x, a.plot_out)


if __name__ == "__main__":
    main()
