"""The interactive page of a trace's report: DIR/interactive.html, beside report.html, drawn with
plotly (Debian's python3-plotly) so that the figures zoom, pan and show values on hover.

Offline: plotly.js is written beside the page as plotly.js (the copy that python3-plotly ships)
and loaded from there; nothing is fetched from a network. The page holds the time series of the
report (every variant on one plot, median line and 5-95% band across replications), the latency
CDF from the latency histogram and the comparison with its bootstrap intervals: the same data,
units, colours and intervals as the PNG figures (figures.py).

    write_interactive(trace, "out/demo-report")  ->  interactive.html, plotly.js
Without plotly, available() is False and the report writes everything else, saying so.
"""

from __future__ import annotations

import html
import json
import math
import os
import re
from typing import List, Optional, Sequence, Tuple

import numpy as np

from . import figures as F
from . import units
from .outputs import write_atomic
from .trace import Trace

PAGE = "interactive.html"
PLOTLY_JS = "plotly.js"
MISSING = ("the interactive page (interactive.html) was not written: it needs plotly "
           "(Debian: apt-get install python3-plotly)")


def available() -> bool:
    try:
        import plotly  # noqa: F401
        import plotly.graph_objects  # noqa: F401
        from plotly.offline import get_plotlyjs  # noqa: F401
    except ImportError:
        return False
    return True


def _rgba(hex_color: str, alpha: float) -> str:
    h = hex_color.lstrip("#")
    return f"rgba({int(h[0:2], 16)},{int(h[2:4], 16)},{int(h[4:6], 16)},{alpha})"


def _axis_unit(spec: F.FigureSpec, vmax: float) -> Tuple[float, str]:
    if spec.unit in ("bytes", "s"):
        return units.scale_for(spec.unit, vmax)
    return 1.0, {"count": "count", "1": "fraction", "1/s": "1/s"}[spec.unit]


def _nan_none(a) -> list:
    return [None if not math.isfinite(float(x)) else float(x) for x in a]


def timeseries_plot(trace: Trace, spec: F.FigureSpec):
    """One plotly figure of a time-series spec, or None (as figures.timeseries_figure)."""
    import plotly.graph_objects as go
    variants = trace.variants
    data = F.timeseries_data(trace, spec, variants)   # the same rule for leaving a figure out
    if data is None:
        return None
    vmax = max((np.nanmax(np.abs(s.values)) for ss in data.values() for s in ss
                if s is not None and np.isfinite(s.values).any()), default=0.0)
    ydiv, yunit = _axis_unit(spec, vmax)
    tdiv, tunit = units.time_axis(float(trace.attrs.get("duration_s", 0) or 0))
    fig = go.Figure()
    multi = len(spec.curves) > 1
    k = 0
    for v in variants:
        for i, (curve, s) in enumerate(zip(spec.curves, data[v])):
            if s is None or s.values.size == 0:
                continue
            # one colour per line: per variant, or per (variant, curve) with several curves
            color = F.OKABE_ITO[k % len(F.OKABE_ITO)]
            k += 1
            name = f"{v}: {curve.label}" if multi else v
            med, lo, hi = s.band()
            t = (s.t / tdiv).tolist()
            fig.add_trace(go.Scatter(x=t, y=_nan_none(hi / ydiv), mode="lines", line=dict(width=0),
                                     legendgroup=name, showlegend=False, hoverinfo="skip"))
            fig.add_trace(go.Scatter(x=t, y=_nan_none(lo / ydiv), mode="lines", line=dict(width=0),
                                     fill="tonexty", fillcolor=_rgba(color, 0.2), legendgroup=name,
                                     showlegend=False, hoverinfo="skip"))
            fig.add_trace(go.Scatter(x=t, y=_nan_none(med / ydiv), mode="lines", name=name, legendgroup=name,
                                     line=dict(color=color, width=1.6),
                                     hovertemplate=f"{name}<br>%{{x:.4g}} {tunit}: %{{y:.4g}} {yunit}"
                                                   "<extra>median</extra>"))
    lim = F._limit_value(trace, spec, trace.baseline)
    if lim is not None and lim <= 3 * max(vmax, 1e-300):
        fig.add_hline(y=lim / ydiv, line=dict(color=F.LIMIT_COLOR, dash="dash", width=1),
                      annotation_text=spec.limit.label, annotation_position="top left")
    fig.update_layout(title=f"{spec.title}: median and 5-95% band across replications",
                      xaxis_title=f"simulated time ({tunit})", yaxis_title=f"{spec.ylabel} ({yunit})",
                      template="plotly_white", height=420, margin=dict(l=70, r=20, t=50, b=50),
                      hovermode="x unified")
    return fig


def cdf_plot(trace: Trace):
    """The latency CDF from the histogram (figures.histogram_cdf), or None without one."""
    import plotly.graph_objects as go
    fig = go.Figure()
    drawn = False
    for v in trace.variants:
        h = F.histogram_cdf(trace, v)
        if h is None:
            continue
        bounds, cdf, n = h
        xs = np.concatenate([bounds[:1]] + [np.linspace(a, b, 24)[1:] for a, b in zip(bounds[:-1], bounds[1:])])
        color = F.variant_color(trace, v)
        fig.add_trace(go.Scatter(x=xs.tolist(), y=np.interp(xs, bounds, cdf).tolist(), mode="lines",
                                 name=f"{v} ({n} answered)", legendgroup=v, line=dict(color=color, width=1.6),
                                 hoverinfo="skip"))
        fig.add_trace(go.Scatter(x=bounds.tolist(), y=cdf.tolist(), mode="markers", legendgroup=v, showlegend=False,
                                 marker=dict(color=color, size=6),
                                 hovertemplate=f"{v}<br>≤ %{{x:g}} s: %{{y:.4f}}<extra>bucket bound</extra>"))
        drawn = True
    if not drawn:
        return None
    fig.update_layout(title="End-to-end latency CDF (every answered request after the warm-up; histogram)",
                      xaxis=dict(title="end-to-end latency (s, log scale)", type="log"),
                      yaxis=dict(title="fraction of answered requests with latency ≤ x (1)", range=[0, 1.02]),
                      template="plotly_white", height=420, margin=dict(l=70, r=20, t=50, b=50))
    return fig


def comparison_plot(trace: Trace, metrics: Optional[Sequence[str]]):
    """Bars of the headline metrics with the bootstrap intervals of figures.comparison_intervals."""
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots
    iv = F.comparison_intervals(trace, metrics)
    if iv is None or not len(iv):
        return None
    mets = [m for m in dict.fromkeys(iv["metric"]) if np.isfinite(iv.loc[iv["metric"] == m, "mean"]).any()]
    if not mets:
        return None
    ncols = min(3, len(mets))
    nrows = math.ceil(len(mets) / ncols)
    fig = make_subplots(rows=nrows, cols=ncols, subplot_titles=mets, vertical_spacing=0.12)
    for j, m in enumerate(mets):
        rows = iv[iv["metric"] == m]
        unit = rows["unit"].iloc[0]
        div, yunit = units.scale_for(unit, float(np.nanmax(np.abs(np.r_[rows["mean"], rows["hi"]]))))
        yunit = {"1": "count or ratio"}.get(yunit, yunit)
        mean = rows["mean"].to_numpy(float) / div
        fig.add_trace(go.Bar(
            x=rows["variant"].tolist(), y=_nan_none(mean),
            marker_color=[F.VERDICT_COLORS[k] for k in rows["verdict_key"]],
            error_y=dict(type="data", symmetric=False, array=_nan_none(rows["hi"].to_numpy(float) / div - mean),
                         arrayminus=_nan_none(mean - rows["lo"].to_numpy(float) / div)),
            customdata=np.c_[rows["n"], rows["lo"] / div, rows["hi"] / div, rows["verdict_key"]].tolist(),
            hovertemplate=f"%{{x}}: %{{y:.4g}} {yunit}<br>95% bootstrap [%{{customdata[1]:.4g}}, "
                          f"%{{customdata[2]:.4g}}], n=%{{customdata[0]}}<br>%{{customdata[3]}}<extra>{m}</extra>",
            showlegend=False), row=j // ncols + 1, col=j % ncols + 1)
        fig.update_yaxes(title_text=f"mean ({yunit})", row=j // ncols + 1, col=j % ncols + 1)
    fig.update_layout(title="Comparison: means with 95% percentile-bootstrap intervals; colour: paired verdict",
                      template="plotly_white", height=300 * nrows + 80, margin=dict(l=70, r=20, t=80, b=40))
    return fig


CSS = ("body{font-family:system-ui,sans-serif;margin:1.5em auto;max-width:1200px;padding:0 1em;color:#222}"
       "h1{font-size:1.4em}h2{font-size:1.15em;margin-top:1.6em}.note{color:#555;font-size:.9em}")


def render(trace: Trace, headline: Optional[Sequence[str]] = None) -> Tuple[str, List[str]]:
    """The page as a string and the ids of its plots."""
    plots = []
    if trace.has_comparison():
        fig = comparison_plot(trace, headline)
        if fig is not None:
            plots.append(("comparison", "Comparison", fig))
    for spec in F.default_specs():
        fig = timeseries_plot(trace, spec)
        if fig is not None:
            plots.append((spec.key, spec.title, fig))
    fig = cdf_plot(trace)
    if fig is not None:
        plots.append(("latency_cdf", "End-to-end latency CDF", fig))
    name = str(trace.attrs.get("scenario_name", ""))
    h = ["<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
         '<meta name="viewport" content="width=device-width, initial-scale=1">',
         f"<title>ragsim interactive report: {html.escape(name)}</title>",
         f"<style>{CSS}</style>", f'<script src="{PLOTLY_JS}"></script></head><body>',
         f"<h1>ragsim interactive report: {html.escape(name)}</h1>",
         '<p class="note">Drag to zoom, double-click to reset, hover for values; click a legend entry to hide '
         'a variant. The same data as the static figures of <a href="report.html">report.html</a> (PNG files '
         f"beside this page); plotly.js is loaded from {PLOTLY_JS} beside this page, nothing from the network.</p>"]
    ids = []
    for key, title, fig in plots:
        div = f"plot-{key}"
        ids.append(div)
        h.append(f"<h2>{html.escape(title)}</h2>")
        part = fig.to_html(full_html=False, include_plotlyjs=False,
                           config={"displaylogo": False, "responsive": True})
        # plotly names the div with a random UUID: a stable id instead, so the page is deterministic
        m = re.search(r'<div id="([0-9a-f-]{36})"', part)
        if m:
            part = part.replace(m.group(1), div)
        h.append(part)
    h.append(f'<script>window.ragsimPlots = {json.dumps(ids)};</script>')
    h.append("</body></html>")
    return "\n".join(h) + "\n", ids


def write_interactive(trace: Trace, out_dir: str, headline: Optional[Sequence[str]] = None,
                      inputs: Sequence[str] = ()) -> List[str]:
    """Write out_dir/interactive.html and out_dir/plotly.js; returns their paths."""
    from plotly.offline import get_plotlyjs
    page, _ = render(trace, headline)
    js_path, page_path = os.path.join(out_dir, PLOTLY_JS), os.path.join(out_dir, PAGE)
    js = get_plotlyjs().encode("utf-8")
    try:
        with open(js_path, "rb") as f:
            same = f.read() == js
    except OSError:
        same = False
    if not same:
        write_atomic(js_path, js, inputs)
    write_atomic(page_path, page.encode("utf-8"), inputs)
    return [page_path, js_path]
