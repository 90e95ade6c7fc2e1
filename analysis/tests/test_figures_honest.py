"""The report's figures do not mislead, checked on the figures' data (matplotlib artists), not
pixels: intervals of ratios inside [0, 1] and of counts at or above 0, the latency CDF from
the full histogram (its count is /summary's), no two data lines of a figure in one colour
(Okabe-Ito; limits, references and events in colours of their own), every numeric axis with
its unit."""

import math
import re

import numpy as np
import pytest
from matplotlib.container import ErrorbarContainer

from ragsim_analysis import figures as F
from ragsim_analysis.trace import Trace

UNIT = re.compile(r"\(([^()]*\S[^()]*)\)\s*$")
RATIO_METRICS = ("worst_window_success", "recovered", "pre_trigger_slo_met")


def is_ratio(metric):
    base = metric.split("{")[0]
    return base.endswith("_ratio") or base in RATIO_METRICS


def test_bootstrap_interval_known_answers():
    # two values: the resampled means are a, (a+b)/2, b with probabilities 1/4, 1/2, 1/4, so the
    # 2.5th and 97.5th percentiles are a and b exactly
    assert F.bootstrap_mean_interval([0.2, 0.9]) == (0.2, 0.9)
    # one value, or all equal: no spread
    assert F.bootstrap_mean_interval([0.5]) == (0.5, 0.5)
    assert F.bootstrap_mean_interval([3.0, 3.0, 3.0]) == (3.0, 3.0)
    assert all(math.isnan(x) for x in F.bootstrap_mean_interval([math.nan]))
    # a ratio near 1 whose Student-t interval passes 1 (0.9667 +- 4.303 * 0.0577 / sqrt(3) = [0.823, 1.110])
    x = [0.9, 1.0, 1.0]
    t_hi = np.mean(x) + 4.302652729911275 * np.std(x, ddof=1) / math.sqrt(3)
    assert t_hi > 1.1
    lo, hi = F.bootstrap_mean_interval(x)
    assert 0.9 <= lo < np.mean(x) < hi <= 1.0
    # deterministic: the same interval every call
    assert F.bootstrap_mean_interval([1, 5, 2, 8, 3]) == F.bootstrap_mean_interval([1, 5, 2, 8, 3])
    # NaN values (a run that did not recover) are left out
    assert F.bootstrap_mean_interval([4.0, math.nan, 6.0]) == (4.0, 6.0)


def errorbars(ax):
    """(x, lo, hi) of every error bar drawn on the axes."""
    out = []
    for c in ax.containers:
        if isinstance(c, ErrorbarContainer):
            for seg in c.lines[2][0].get_segments():
                (x0, y0), (_, y1) = seg
                out.append((x0, min(y0, y1), max(y0, y1)))
    return out


def test_comparison_intervals_stay_in_range(compare_trace):
    path, _ = compare_trace
    t = Trace(path)
    iv = F.comparison_intervals(t)
    assert len(iv) == len(t.comparison())
    summ = t.summary()
    checked_ratio = checked_count = 0
    for _, r in iv.iterrows():
        if not np.isfinite(r["mean"]):
            continue
        vals = summ.loc[summ["variant"] == r["variant"], r["metric"]].to_numpy(float)
        vals = vals[np.isfinite(vals)]
        assert r["n"] == len(vals) and r["mean"] == pytest.approx(vals.mean())
        assert vals.min() <= r["lo"] <= r["mean"] <= r["hi"] <= vals.max()
        if is_ratio(r["metric"]):
            assert 0 <= r["lo"] <= r["hi"] <= 1, r.to_dict()
            checked_ratio += 1
        elif r["unit"] in ("1", "bytes", "s", "1/s"):
            assert r["lo"] >= 0, r.to_dict()
            checked_count += 1
    assert checked_ratio >= 3 and checked_count >= 3
    # and what the figure draws is that: every error bar of every panel, in the panel's unit
    fig = F.comparison_figure(t, None)
    panels = [ax for ax in fig.axes if ax.get_visible()]
    assert panels
    for ax in panels:
        metric = ax.get_title()
        rows = iv[iv["metric"] == metric]
        unit = rows["unit"].iloc[0]
        div, _ = F.units.scale_for(unit, float(np.nanmax(np.abs(np.r_[rows["mean"], rows["hi"]]))))
        bars = errorbars(ax)
        assert len(bars) == int(np.isfinite(rows["mean"]).sum()), metric
        for x, lo, hi in bars:
            if is_ratio(metric):
                assert -1e-12 <= lo * div and hi * div <= 1 + 1e-12, (metric, lo, hi)
            assert lo * div >= -1e-12, (metric, lo)
        assert UNIT.search(ax.get_ylabel()), ax.get_ylabel()
        assert "bootstrap" in ax.get_ylabel()


def test_latency_cdf_is_the_full_histogram(compare_trace):
    path, _ = compare_trace
    t = Trace(path)
    summ = t.summary()
    for v in t.variants:
        h = F.histogram_cdf(t, v)
        assert h is not None, v
        bounds, cdf, n = h
        # every request answered after the warm-up, all replications: /summary's success + degraded
        s = summ[summ["variant"] == v]
        assert n == int((s["success"] + s["degraded"]).sum()), v
        assert len(bounds) >= 10 and np.all(np.diff(bounds) > 0)
        assert np.all(np.diff(cdf) >= 0) and 0 <= cdf[0] and cdf[-1] <= 1
    fig, source = F.latency_cdf_figure(t)
    assert "histogram" in source
    ax = fig.axes[0]
    lines = [ln for ln in ax.get_lines() if not ln.get_label().startswith("_")]
    assert len(lines) == len(t.variants)
    for ln, v in zip(lines, t.variants):
        bounds, cdf, _ = F.histogram_cdf(t, v)
        x, y = ln.get_xdata(), ln.get_ydata()
        # exact at every bound, linear in between
        assert np.allclose(np.interp(bounds, x, y), cdf)
        mid = (bounds[3] + bounds[4]) / 2
        assert np.interp(mid, x, y) == pytest.approx((cdf[3] + cdf[4]) / 2)
    assert UNIT.search(ax.get_xlabel()) and UNIT.search(ax.get_ylabel())


def data_and_other_lines(fig):
    data, other = {}, set()
    for ax in fig.axes:
        for ln in ax.get_lines():
            lab = ln.get_label()
            col = ln.get_color().lower() if isinstance(ln.get_color(), str) else ln.get_color()
            if lab.startswith("_"):
                other.add(col)
            else:
                data.setdefault(lab, set()).add(col)
    return data, other


def check_palette(fig, name):
    data, other = data_and_other_lines(fig)
    assert data, name
    # one colour per data line label, distinct between labels, all Okabe-Ito
    for lab, cols in data.items():
        assert len(cols) == 1, (name, lab, cols)
    cols = [next(iter(c)) for c in data.values()]
    assert len(set(cols)) == len(cols), (name, data)
    assert set(cols) <= {c.lower() for c in F.OKABE_ITO}, (name, cols)
    # limits, the baseline's reference and events are never a data line's colour
    assert not (other & set(cols)), (name, other & set(cols))


def check_units(fig, name):
    labelled = 0
    for ax in fig.axes:
        if not ax.get_visible():
            continue
        for lab in (ax.get_ylabel(), ax.get_xlabel()):
            if lab:
                assert UNIT.search(lab), (name, lab)
                labelled += 1
    assert labelled >= 2, name


@pytest.mark.parametrize("which", ["compare", "run"])
def test_palette_and_units_of_every_figure(which, compare_trace, run_trace):
    t = Trace(compare_trace[0] if which == "compare" else run_trace)
    drawn = 0
    for spec in F.default_specs():
        fig = F.timeseries_figure(t, spec)
        if fig is None:
            continue
        check_palette(fig, spec.key)
        check_units(fig, spec.key)
        # the multi-curve figures: one colour per curve in every panel
        if len(spec.curves) > 1:
            data, _ = data_and_other_lines(fig)
            assert set(data) <= {c.label for c in spec.curves}
        drawn += 1
    fig, _ = F.latency_cdf_figure(t)
    check_palette(fig, "latency_cdf")
    check_units(fig, "latency_cdf")
    assert drawn >= 3
    if which == "compare":
        # the avalanche's figures show its events (OOM kills) in a colour no data line has
        spec = next(s for s in F.default_specs() if s.key == "vectordb_memory")
        fig = F.timeseries_figure(t, spec)
        _, other = data_and_other_lines(fig)
        assert F.EVENT_STYLE["oom_kill"]["color"].lower() in other
        assert F.LIMIT_COLOR in other


def test_verdict_colours_are_colour_blind_safe():
    # better and worse are not told apart by red against green: bluish green against vermillion
    assert F.VERDICT_COLORS["better"] == "#009E73" and F.VERDICT_COLORS["worse"] == "#D55E00"
    assert len(set(F.VERDICT_COLORS.values())) == len(F.VERDICT_COLORS)


def _lab(hex_colour):
    """sRGB (D65) to CIE L*a*b*."""
    h = hex_colour.lstrip("#")
    rgb = [int(h[i:i + 2], 16) / 255 for i in (0, 2, 4)]
    r, g, b = [c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in rgb]
    x = (0.4124 * r + 0.3576 * g + 0.1805 * b) / 0.95047
    y = 0.2126 * r + 0.7152 * g + 0.0722 * b
    z = (0.0193 * r + 0.1192 * g + 0.9505 * b) / 1.08883

    def f(t):
        return t ** (1 / 3) if t > 0.008856 else 7.787 * t + 16 / 116
    return 116 * f(y) - 16, 500 * (f(x) - f(y)), 200 * (f(y) - f(z))


def _delta_e(a, b):
    return sum((p - q) ** 2 for p, q in zip(_lab(a), _lab(b))) ** 0.5


def test_event_and_limit_colours_are_far_from_every_data_colour():
    # Not only different codes: a breaker that opens every few seconds draws dozens of
    # event lines over its variant's curve, and Tol's purple (#AA4499) next to Okabe-Ito's
    # reddish purple (#CC79A7, delta E 26) hid that curve. Every event, limit and reference
    # colour is at least 28 (CIE76 delta E) from every data colour, and the events at least
    # 20 from each other.
    marks = {k: v["color"] for k, v in F.EVENT_STYLE.items()}
    marks.update(limit=F.LIMIT_COLOR, reference=F.REFERENCE_COLOR)
    for k, c in marks.items():
        for d in F.OKABE_ITO:
            assert _delta_e(c, d) >= 28, (k, c, d, _delta_e(c, d))
    ks = sorted(marks)
    for i, a in enumerate(ks):
        for b in ks[i + 1:]:
            assert _delta_e(marks[a], marks[b]) >= 20, (a, b)
    assert _delta_e("#AA4499", "#CC79A7") < 28   # the check catches the old breaker colour


def test_event_lines_are_drawn_under_the_data_lines():
    for k, style in F.EVENT_STYLE.items():
        assert style["zorder"] < 2, k   # matplotlib draws lines at zorder 2
