"""Figures of a trace (matplotlib, pyplot-free, PNG through the Agg canvas).

Every function returns a matplotlib.figure.Figure (or None when the trace
lacks what the figure needs); nothing is drawn on screen and no global
backend is set, so the module works the same in a script, a test and a
notebook (`show(fig)` displays one there).

- timeseries_figure: one panel per variant; the median across replications
  and the 5-95% band; faults shaded, OOM kills, config pushes and changes
  marked from the events table; a limit line where the scenario sets one.
- comparison_figure: the variants' means with 95% percentile-bootstrap
  intervals over the replications (inside the values' range: a ratio's in
  [0, 1], a count's >= 0), coloured by the paired verdict against the baseline.
- latency_cdf_figure: the end-to-end latency CDF per variant from the full
  latency histogram the trace keeps, else the `requests` table, else the
  quantiles of /summary.

Colours: Okabe-Ito for data lines (colour-blind safe, no two data lines of a
figure alike), black for limits, grey for the baseline's reference, Paul
Tol's muted colours for events. Every numeric axis is labelled with its unit.
"""

from __future__ import annotations

import dataclasses
import io
import math
import os
import re
import sys
import tempfile
import warnings
from typing import Callable, Dict, List, Optional, Sequence, Tuple

import numpy as np
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from . import units
from .outputs import write_atomic
from .trace import Series, Trace

# Colours. Data lines take the Okabe-Ito palette (Okabe & Ito, "Color Universal Design",
# 2008: told apart with any of the common colour-vision deficiencies), without its black,
# which is kept for limit lines; the events take Paul Tol's "muted" colours, none of which
# is an Okabe-Ito one (breaker openings, which come by the dozen, a light grey: Tol's purple
# next to Okabe-Ito's reddish purple hid the breaker variant's curve); the baseline's reference median is grey. So no two kinds of line in a
# figure share a colour, and within a figure no two data lines do (up to 7 variants or curves).
OKABE_ITO = ["#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#F0E442"]
LIMIT_COLOR = "#000000"
REFERENCE_COLOR = "#777777"
VERDICT_COLORS = {"baseline": "#0072B2", "better": "#009E73", "worse": "#D55E00", "n.s.": "#BBBBBB",
                  "differs": "#E69F00"}
# Event lines sit under the data lines (zorder 1.5 < the lines' 2): a run whose breaker
# opens every few seconds draws dozens of them, which must not hide the variant's curve.
EVENT_STYLE = {
    "fault": dict(color="#DDCC77", alpha=0.35, zorder=0.5),
    "oom_kill": dict(color="#882255", lw=0.9, alpha=0.8, ls="-", zorder=1.5),
    "config_push": dict(color="#332288", lw=1.0, alpha=0.8, ls=":", zorder=1.5),
    "change_start": dict(color="#999933", lw=1.0, alpha=0.9, ls="-.", zorder=1.5),
    "change_rollback": dict(color="#661100", lw=1.0, alpha=0.9, ls="-.", zorder=1.5),
    "breaker_open": dict(color="#BBBBBB", lw=0.8, alpha=0.9, ls=(0, (1, 1)), zorder=1.5),
}
# event kind -> legend label, in drawing order
EVENT_LABELS = [("oom_kill", "OOM kill (any replication)"), ("config_push", "config push"),
                ("change_start", "configuration change"), ("change_rollback", "change rolled back"),
                ("breaker_open", "breaker opened")]
# more variants than colours: the colours repeat with another dash pattern
_DASHES = ["-", "--", ":", "-."]


def variant_color(trace: Trace, variant: str) -> str:
    """A stable colour per variant (its position in the scenario's order; Okabe-Ito)."""
    vs = trace.variants
    return OKABE_ITO[vs.index(variant) % len(OKABE_ITO)] if variant in vs else REFERENCE_COLOR


def variant_dash(trace: Trace, variant: str) -> str:
    """Solid for the first 7 variants, then another dash pattern per round of the palette."""
    vs = trace.variants
    return _DASHES[(vs.index(variant) // len(OKABE_ITO)) % len(_DASHES)] if variant in vs else "-"


# -- the time-series figures ---------------------------------------------------------


@dataclasses.dataclass
class Curve:
    """One curve of a panel: a dataset, or a function of the trace deriving one."""

    label: str
    dataset: Optional[str] = None
    derive: Optional[Callable[[Trace, str], Optional[Series]]] = None

    def get(self, trace: Trace, variant: str) -> Optional[Series]:
        if self.derive is not None:
            return self.derive(trace, variant)
        if self.dataset in trace.series_names(variant):
            return trace.series(self.dataset, variant)
        return None


@dataclasses.dataclass
class Limit:
    """A horizontal line at a scenario value (e.g. the vector DB's memory limit)."""

    label: str
    keys: Tuple[str, ...]
    parse: Callable[[object], Optional[float]]
    default: object = None      # the model's default when the scenario leaves the value out


@dataclasses.dataclass
class FigureSpec:
    key: str             # file name stem
    title: str
    ylabel: str          # quantity, without unit: the unit is added after scaling
    unit: str            # 's', 'bytes', '1/s', 'count', '1' (ratio)
    curves: List[Curve]
    caption: str
    limit: Optional[Limit] = None
    requires: Optional[str] = None   # dataset that must exist (derived curves)
    by_curve: bool = False           # one colour per curve in every panel, no baseline overlay (per-class figures)


def _sum_series(names: Sequence[str], label: str):
    def derive(trace: Trace, variant: str) -> Optional[Series]:
        have = [n for n in names if n in trace.series_names(variant)]
        if not have:
            return None
        parts = [trace.series(n, variant) for n in have]
        total = np.zeros_like(parts[0].values)
        for p in parts:
            total = total + np.nan_to_num(p.values, nan=0.0)
        allnan = np.all([np.isnan(p.values) for p in parts], axis=0)
        total[allnan] = np.nan
        return Series(label, variant, parts[0].t, total, parts[0].replications, parts[0].unit, label)
    return derive


def _rate_of_total(name: str, label: str):
    """d(total)/dt per sample interval: a counter since the start -> events per second."""
    def derive(trace: Trace, variant: str) -> Optional[Series]:
        if name not in trace.series_names(variant):
            return None
        s = trace.series(name, variant)
        dt = trace.sample_interval()
        v = np.nan_to_num(s.values, nan=0.0)
        rate = np.diff(np.concatenate([np.zeros((v.shape[0], 1)), v], axis=1), axis=1) / dt
        rate = np.maximum(rate, 0.0)  # a counter reset (a restart) is not a negative rate
        rate[np.isnan(s.values)] = np.nan
        return Series(label, variant, s.t, rate, s.replications, "1/s", label)
    return derive


def default_specs() -> List[FigureSpec]:
    """The report's time-series figures, in order; each is drawn only when the trace has its series."""
    return [
        FigureSpec("success_ratio", "Success ratio", "answered / ended", "1",
                   [Curve("success ratio", "success_ratio")],
                   "Requests answered (success + degraded) over requests that ended in each sample interval; "
                   "the dashed line is the scenario's SLO (slo.success_ratio, 99% unless set).",
                   limit=Limit("SLO", ("slo", "success_ratio"), units.parse_ratio, "99%")),
        FigureSpec("goodput", "Answered requests per second", "answered requests", "1/s",
                   [Curve("answered per second", derive=_sum_series(
                       ["requests_per_second{outcome=success}", "requests_per_second{outcome=degraded}"], "answered per second"))],
                   "Goodput: requests answered (success + degraded) per second.",
                   requires="requests_per_second{outcome=success}"),
        FigureSpec("latency_p95", "End-to-end latency p95", "latency p95", "s",
                   [Curve("end-to-end p95", "latency_p95_seconds")],
                   "p95 of the end-to-end latency of the requests answered in each interval (gaps: none answered); "
                   "the dashed line is slo.latency_p95 when the scenario sets one.",
                   limit=Limit("SLO", ("slo", "latency_p95"), units.parse_duration)),
        FigureSpec("retrieval_p95", "Retrieval latency p95", "retrieval latency p95", "s",
                   [Curve("retrieval p95", "rag_retrieval_latency_p95_seconds")],
                   "p95 of the caller-side retrieval latency (issue to result or timeout). "
                   "The RAG stability article's avalanche signature (docs/background.md): past 2.4 s together with "
                   "retrieval_empty_ratio > 0.35."),
        FigureSpec("goroutines", "Gateway goroutines", "goroutines", "count",
                   [Curve("goroutines", "goroutines"), Curve("of which leaked", "goroutines_leaked")],
                   "Goroutines of all gateway replicas: requests held + LLM calls in flight + reloads + leaked ones."),
        FigureSpec("memory", "Gateway heap in use and RSS", "memory", "bytes",
                   [Curve("heap in use (all replicas)", "heap_inuse_bytes"), Curve("RSS (largest replica)", "rss_bytes")],
                   "Go heap in use summed over the gateway replicas, and the resident memory of the largest one; "
                   "the limit is per replica (compare it with the RSS).",
                   limit=Limit("memory limit (per replica)", ("gateway", "runtime", "memory_limit"), units.parse_size)),
        FigureSpec("vectordb_memory", "Vector-DB memory against its limit", "memory", "bytes",
                   [Curve("largest replica", "vectordb_memory_bytes_max")],
                   "Memory of the largest vector-DB replica (base + index + queued queries x per-query buffers; "
                   "0 while killed) and the container limit at which the OOM killer ends it.",
                   limit=Limit("memory limit", ("vectordb", "memory", "limit"), units.parse_size)),
        FigureSpec("llm_queue", "LLM sequences running and waiting", "sequences", "count",
                   [Curve("running", "llm_num_requests_running"), Curve("waiting", "llm_num_requests_waiting")],
                   "Sequences running (prefill or decode) and waiting (queued or preempted) on all LLM replicas "
                   "(vLLM's num_requests_running and num_requests_waiting). A waiting line that climbs and does not "
                   "come back is an LLM offered more than it sustains (`ragsim validate` prints its capacity)."),
        FigureSpec("llm_ttft", "LLM time to first token p95", "TTFT p95", "s",
                   [Curve("TTFT p95", "llm_time_to_first_token_p95_seconds")],
                   "95th percentile of the time to first token of the first tokens produced in each interval."),
        FigureSpec("llm_kv", "LLM KV-cache usage", "KV blocks in use / pool", "1",
                   [Curve("fullest replica", "llm_kv_cache_usage_ratio")],
                   "KV blocks in use over the KV pool of the fullest replica; at 1 vLLM preempts sequences."),
        FigureSpec("embedder_queue", "Embedder calls waiting", "calls waiting", "count",
                   [Curve("waiting for a batch", "embedder_queue_length")],
                   "Calls waiting for a batch on all embedder replicas, at each sample time."),
        FigureSpec("vectordb_load", "Vector-DB CPU and queue", "busy threads / threads", "1",
                   [Curve("CPU utilisation (mean over replicas)", "vectordb_cpu_utilization_ratio")],
                   "Busy worker threads over threads, averaged over the interval and the live replicas; at 1 the "
                   "vector DB is saturated and its queue (next figure) grows."),
        FigureSpec("vectordb_queue", "Vector-DB queries waiting", "queries waiting", "count",
                   [Curve("waiting", "vectordb_queue_length")],
                   "Queries waiting for a worker thread, all vector-DB replicas."),
        FigureSpec("replicas", "Replicas ready and wanted", "replicas", "count",
                   [Curve("vector DB ready", "replicas_up{component=vectordb}"),
                    Curve("vector DB wanted (autoscaler)", "vectordb_replicas_desired"),
                    Curve("LLM ready", "llm_replicas_up"), Curve("embedder ready", "embedder_replicas_up"),
                    Curve("embedder wanted (autoscaler)", "embedder_replicas_desired"),
                    Curve("gateway wanted (autoscaler)", "gateway_replicas_desired")],
                   "Replicas ready (in the load balancer) and, for an autoscaled component, the count its "
                   "autoscaler wants: the gap between them is the start-up of new replicas."),
        FigureSpec("leases", "etcd leases in use", "leases in use", "count",
                   [Curve("leases in use", "etcd_leases_in_use")],
                   "Leases granted and not yet revoked or expired, at each sample time.",
                   limit=Limit("lease quota", ("etcd", "lease_quota"), units.parse_count)),
        FigureSpec("reloads", "Configuration reloads per second", "reloads", "1/s",
                   [Curve("reloads per second", derive=_rate_of_total("config_reloads_total", "reloads per second"))],
                   "Reloads completed per second, from the counter config_reloads_total.",
                   requires="config_reloads_total"),
    ]


CLASS_FIGURE_KEYS = ("class_success_ratio", "class_latency_p95")


def class_specs(trace: Trace) -> List[FigureSpec]:
    """The per-class figures of a trace whose scenario has request classes (series
    success_ratio{class=X} and latency_p95_seconds{class=X}); none without classes."""
    names = trace.series_names()
    classes = sorted({n[len("success_ratio{class="):-1] for n in names
                      if n.startswith("success_ratio{class=") and n.endswith("}")})
    if not classes:
        return []
    return [
        FigureSpec("class_success_ratio", "Success ratio per request class", "successes / ended", "1",
                   [Curve(c, f"success_ratio{{class={c}}}") for c in classes],
                   "Full successes over the requests of each class that ended in each sample interval "
                   "(workload.classes; gaps: none ended).", by_curve=True),
        FigureSpec("class_latency_p95", "End-to-end latency p95 per request class", "latency p95", "s",
                   [Curve(c, f"latency_p95_seconds{{class={c}}}") for c in classes],
                   "p95 of the end-to-end latency of each class's requests answered in each interval "
                   "(gaps: none answered).", by_curve=True),
    ]


def _fault_spans(ev) -> List[Tuple[float, float]]:
    """(start, end) of every fault of an events frame, identical spans merged."""
    spans = []
    for (_, _, src), g in ev[ev["kind"].isin(["fault_start", "fault_end"])].groupby(["variant", "replication", "source"]):
        open_t: List[float] = []
        for _, e in g.sort_values("time_ns", kind="stable").iterrows():
            if e["kind"] == "fault_start":
                open_t.append(float(e["time"]))
            elif open_t:
                spans.append((open_t.pop(0), float(e["time"])))
        spans += [(t0, math.inf) for t0 in open_t]
    return sorted(set((round(a, 6), round(b, 6)) for a, b in spans))


def _limit_value(trace: Trace, spec: FigureSpec, variant: str) -> Optional[float]:
    if spec.limit is None:
        return None
    try:
        v = spec.limit.parse(trace.scenario_value(spec.limit.keys, variant, default=spec.limit.default))
    except (ValueError, TypeError):
        return None
    return v if v is not None and v > 0 else None


def _nonzero(s: Optional[Series]) -> bool:
    return s is not None and s.values.size > 0 and bool(np.any(np.nan_to_num(s.values, nan=0.0) != 0))


def _constant(series: Sequence[Optional[Series]]) -> bool:
    vals = [s.values[np.isfinite(s.values)] for s in series if s is not None]
    vals = np.concatenate(vals) if vals else np.zeros(0)
    return vals.size > 0 and float(vals.max()) == float(vals.min())


def timeseries_data(trace: Trace, spec: FigureSpec, variants: Sequence[str],
                    skip_if_zero: bool = True) -> Optional[Dict[str, List[Optional[Series]]]]:
    """The spec's curves per variant, or None when the figure is left out (timeseries_figure)."""
    names = trace.series_names()
    if spec.requires and spec.requires not in names:
        return None
    data: Dict[str, List[Optional[Series]]] = {v: [c.get(trace, v) for c in spec.curves] for v in variants}
    if not any(s is not None for ss in data.values() for s in ss):
        return None
    if skip_if_zero and not any(_nonzero(s) for ss in data.values() for s in ss):
        return None
    if skip_if_zero and _constant([s for ss in data.values() for s in ss]):
        return None     # one value everywhere (e.g. one lease per replica): a sentence, not a figure
    return data


def timeseries_figure(trace: Trace, spec: FigureSpec, variants: Optional[Sequence[str]] = None,
                      skip_if_zero: bool = True) -> Optional[Figure]:
    """One panel per variant with the spec's curves (median and 5-95% band across replications).

    None when the trace has none of the curves' data (or, with skip_if_zero,
    when every value is 0 or NaN, or the same everywhere)."""
    variants = list(variants) if variants is not None else trace.variants
    data = timeseries_data(trace, spec, variants, skip_if_zero)
    if data is None:
        return None

    tdiv, tunit = units.time_axis(float(trace.attrs.get("duration_s", 0) or 0))
    vmax = max((np.nanmax(np.abs(s.values)) for ss in data.values() for s in ss
                if s is not None and np.isfinite(s.values).any()), default=0.0)
    limits = {v: _limit_value(trace, spec, v) for v in variants}
    if spec.unit in ("bytes", "s"):
        ydiv, yunit = units.scale_for(spec.unit, max([vmax] + [x for x in limits.values() if x and x <= 3 * max(vmax, 1)]))
    else:
        ydiv, yunit = 1.0, {"count": "count", "1": "fraction", "1/s": "1/s"}[spec.unit]
    ev = trace.events(variants)
    base = trace.baseline

    n = len(variants)
    fig = Figure(figsize=(10, 1.15 + 1.95 * n), dpi=100)
    axes = fig.subplots(n, 1, sharex=True, sharey=True, squeeze=False)[:, 0]
    handles: Dict[str, object] = {}
    nreps = {}
    for ax, v in zip(axes, variants):
        # one curve: the variant's colour; several: one colour per curve, the same in every panel
        multi = len(spec.curves) > 1
        for i, (curve, s) in enumerate(zip(spec.curves, data[v])):
            if s is None or s.values.size == 0:
                continue
            nreps[v] = len(s.replications)
            c = OKABE_ITO[i % len(OKABE_ITO)] if multi else variant_color(trace, v)
            ls = "-" if multi else variant_dash(trace, v)
            med, lo, hi = s.band()
            t = s.t / tdiv
            ax.fill_between(t, lo / ydiv, hi / ydiv, color=c, alpha=0.25, lw=0, step=None)
            ln, = ax.plot(t, med / ydiv, color=c, lw=1.3, ls=ls, label=curve.label if multi else v)
            if i == 0:
                handles.setdefault("median across replications", Line2D([], [], color="#333333", lw=1.3))
                handles.setdefault("5-95% across replications", Patch(color="#333333", alpha=0.25))
            if multi:
                handles.setdefault(curve.label, Line2D([], [], color=c, lw=1.3))
        # the baseline's median behind the other variants, for reference
        if not spec.by_curve and v != base and base in data and data[base][0] is not None and data[base][0].values.size:
            bm, _, _ = data[base][0].band()
            ax.plot(data[base][0].t / tdiv, bm / ydiv, color=REFERENCE_COLOR, lw=0.8, ls="--", zorder=0.5,
                    label="_reference")
            handles.setdefault(f"baseline '{base}' median", Line2D([], [], color=REFERENCE_COLOR, lw=0.8, ls="--"))
        lim = limits.get(v)
        if lim is not None and lim <= 3 * max(vmax, 1e-300):
            ax.axhline(lim / ydiv, color=LIMIT_COLOR, lw=1.0, ls="--", label="_limit")
            handles.setdefault(spec.limit.label, Line2D([], [], color=LIMIT_COLOR, lw=1.0, ls="--"))
        # events of this variant's runs
        evv = ev[ev["variant"] == v]
        for t0, t1 in _fault_spans(evv):
            t1 = t1 if math.isfinite(t1) else float(trace.attrs.get("duration_s", t0))
            ax.axvspan(t0 / tdiv, max(t1, t0 + 1e-9) / tdiv, lw=0, **EVENT_STYLE["fault"])
            handles.setdefault("fault", Patch(**EVENT_STYLE["fault"]))
        for kind, label in EVENT_LABELS:
            times = evv.loc[evv["kind"] == kind, "time"].to_numpy()
            for tk in np.unique(np.round(times, 6)):
                ax.axvline(tk / tdiv, label="_event", **EVENT_STYLE[kind])
            if len(times):
                handles.setdefault(label, Line2D([], [], **EVENT_STYLE[kind]))
        k = nreps.get(v, 0)
        ax.set_title(f"{v}{' (baseline)' if v == base else ''}: {k} replication{'s' if k != 1 else ''}",
                     fontsize=9, loc="left")
        ax.set_ylabel(f"{spec.ylabel} ({yunit})", fontsize=8)
        ax.grid(True, alpha=0.3)
        ax.tick_params(labelsize=8)
    if spec.limit is not None:
        lims = [x for x in limits.values() if x is not None]
        if lims and all(x > 3 * max(vmax, 1e-300) for x in lims):
            handles.setdefault(f"{spec.limit.label}: {_fmt_plain(lims[0], spec.unit)}, off the scale",
                               Line2D([], [], color="none"))
    axes[-1].set_xlabel(f"simulated time ({tunit})", fontsize=8)
    fig.suptitle(f"{trace.name}: {spec.title}", fontsize=11, x=0.01, ha="left")
    fig.legend(list(handles.values()), list(handles.keys()), loc="upper right", fontsize=7, ncol=3, frameon=False)
    fig.tight_layout(rect=(0, 0, 1, 1 - 0.55 / fig.get_figheight()))
    return fig


def _fmt_plain(v: float, unit: str) -> str:
    if unit == "bytes":
        div, u = units.bytes_scale(v)
        return f"{v / div:g} {u}"
    return f"{v:g}"


def plot_band(ax, series: Series, color: Optional[str] = None, label: Optional[str] = None,
              scale: float = 1.0, tscale: float = 1.0):
    """Draw a Series on your own axes: median line and 5-95% band across replications.

    scale / tscale divide the values / times (e.g. 2**30 for GiB, 60 for minutes)."""
    med, lo, hi = series.band()
    ax.fill_between(series.t / tscale, lo / scale, hi / scale, color=color, alpha=0.25, lw=0)
    return ax.plot(series.t / tscale, med / scale, color=color, lw=1.3, label=label or series.variant)[0]


def mark_events(ax, trace: Trace, variant: str, tscale: float = 1.0) -> None:
    """Shade the faults and draw the OOM kills, config pushes and changes of a variant's runs."""
    evv = trace.events([variant])
    for t0, t1 in _fault_spans(evv):
        t1 = t1 if math.isfinite(t1) else float(trace.attrs.get("duration_s", t0))
        ax.axvspan(t0 / tscale, t1 / tscale, lw=0, **EVENT_STYLE["fault"])
    for kind, _ in EVENT_LABELS:
        for tk in np.unique(np.round(evv.loc[evv["kind"] == kind, "time"].to_numpy(), 6)):
            ax.axvline(tk / tscale, **EVENT_STYLE[kind])


# -- the comparison ------------------------------------------------------------------


def _verdict_key(row, base: str) -> str:
    if row["variant"] == base:
        return "baseline"
    if not row["significant"]:
        return "n.s."
    return "better" if row["verdict"] > 0 else "worse" if row["verdict"] < 0 else "differs"


BOOTSTRAP_RESAMPLES = 4000
BOOTSTRAP_SEED = 20240601
INTERVAL_NOTE = ("95% percentile bootstrap of the mean over the replications (4000 resamples, fixed seed): "
                 "it never leaves the range of the replications' values, so a ratio's stays in [0, 1] and a "
                 "count's at or above 0. With few replications it is narrower than the Student-t interval "
                 "of the printed table and --json (it under-covers); the n under each bar says how many.")


def bootstrap_mean_interval(x: Sequence[float], level: float = 0.95,
                            resamples: int = BOOTSTRAP_RESAMPLES, seed: int = BOOTSTRAP_SEED) -> Tuple[float, float]:
    """The percentile bootstrap interval of the mean of x (NaN left out): (lo, hi).

    Deterministic (a fixed seed). Each resample's mean lies between min(x) and max(x), so
    the interval does too: a ratio's stays in [0, 1], a count's at or above 0.
    (NaN, NaN) without a finite value; (x, x) with one."""
    v = np.asarray([float(a) for a in x], dtype=float)
    v = v[np.isfinite(v)]
    if v.size == 0:
        return math.nan, math.nan
    if v.size == 1 or float(v.min()) == float(v.max()):
        return float(v[0]), float(v[0])
    rng = np.random.default_rng(seed)
    means = v[rng.integers(0, v.size, size=(resamples, v.size))].mean(axis=1)
    a = (1 - level) / 2 * 100
    lo, hi = np.percentile(means, [a, 100 - a])
    return float(max(lo, v.min())), float(min(hi, v.max()))


def comparison_intervals(trace: Trace, metrics: Optional[Sequence[str]] = None):
    """What comparison_figure draws: per (variant, metric) of /comparison the unit, n, the mean
    and its bootstrap interval from the replications' /summary values (bootstrap_mean_interval).
    A pandas DataFrame with columns variant, metric, unit, n, mean, lo, hi, verdict_key."""
    import pandas as pd
    cmp = trace.comparison()
    if cmp is None or cmp.empty:
        return None
    summ = trace.summary()
    base = trace.baseline
    rows = []
    for _, r in cmp.iterrows():
        m = r["metric"]
        if metrics is not None and m not in metrics:
            continue
        if m in summ.columns:
            x = summ.loc[summ["variant"] == r["variant"], m].to_numpy(float)
        else:
            x = np.array([r["mean"]], dtype=float)
        x = x[np.isfinite(x)]
        lo, hi = bootstrap_mean_interval(x)
        key = _verdict_key(r, base)
        rows.append(dict(variant=r["variant"], metric=m, unit=str(r["unit"]), n=int(x.size),
                         mean=float(np.mean(x)) if x.size else math.nan, lo=lo, hi=hi, verdict_key=key))
    return pd.DataFrame(rows, columns=["variant", "metric", "unit", "n", "mean", "lo", "hi", "verdict_key"])


def comparison_figure(trace: Trace, metrics: Optional[Sequence[str]] = None, ncols: int = 4) -> Optional[Figure]:
    """Bars of the variants' means with 95% bootstrap intervals, one panel per metric.

    Bar colours: the baseline, then the paired verdict of each variant against
    it (better, worse, not significant, a significant change of a neutral
    metric; the verdict is /comparison's paired Student-t test). The
    intervals are comparison_intervals' (INTERVAL_NOTE). None without /comparison."""
    cmp = trace.comparison()
    if cmp is None or cmp.empty:
        return None
    base = trace.baseline
    if metrics is None:
        # every metric, except those that are 0 (or without a value) in every variant: nothing to compare
        metrics = [m for m in dict.fromkeys(cmp["metric"])
                   if np.nan_to_num(cmp.loc[cmp["metric"] == m, "mean"].to_numpy(float), nan=0.0).any()]
    metrics = [m for m in metrics if np.isfinite(cmp.loc[cmp["metric"] == m, "mean"]).any()]
    if not metrics:
        return None
    iv = comparison_intervals(trace, metrics)
    variants = [v for v in trace.variants if v in set(cmp["variant"])]
    ncols = max(1, min(ncols, len(metrics)))
    nrows = math.ceil(len(metrics) / ncols)
    fig = Figure(figsize=(3.6 * ncols, 0.9 + 2.9 * nrows), dpi=100)
    axes = fig.subplots(nrows, ncols, squeeze=False).ravel()
    sym = {"better": "▲", "worse": "▼", "n.s.": "=", "differs": "≠", "baseline": ""}
    for ax, m in zip(axes, metrics):
        rows = iv[iv["metric"] == m].set_index("variant")
        unit = str(rows["unit"].iloc[0])
        vals = rows.reindex(variants)
        top = np.nanmax(np.abs(np.concatenate([vals["mean"].to_numpy(float), vals["hi"].to_numpy(float)])))
        div, yunit = units.scale_for(unit, top if np.isfinite(top) else 0.0)
        yunit = {"1": "count or ratio"}.get(yunit, yunit)
        x = np.arange(len(variants))
        for i, v in enumerate(variants):
            if v not in rows.index or not np.isfinite(rows.loc[v, "mean"]):
                ax.text(i, 0, "no value", ha="center", va="bottom", fontsize=7, rotation=90)
                continue
            r = rows.loc[v]
            key = r["verdict_key"]
            mean, lo, hi = float(r["mean"]), float(r["lo"]), float(r["hi"])
            yerr = np.array([[mean - lo], [hi - mean]]) / div
            ax.bar(i, mean / div, color=VERDICT_COLORS[key], width=0.7, yerr=yerr, capsize=3, ecolor="#222222",
                   error_kw=dict(lw=0.9))
            ax.annotate(f"n={int(r['n'])}", (i, 0), xytext=(0, 1), textcoords="offset points", ha="center",
                        va="bottom", fontsize=6, color="#222222")
            if sym[key]:
                ax.annotate(sym[key], (i, hi / div), xytext=(0, 2), textcoords="offset points", ha="center",
                            va="bottom", fontsize=9, color=VERDICT_COLORS[key])
        ax.set_xticks(x)
        ax.set_xticklabels(variants, rotation=30, ha="right", fontsize=7)
        ax.set_title(m, fontsize=9)
        ax.set_ylabel(f"mean, 95% bootstrap CI ({yunit})", fontsize=7)
        ax.tick_params(axis="y", labelsize=7)
        ax.grid(True, axis="y", alpha=0.3)
        ax.margins(y=0.15)
    for ax in axes[len(metrics):]:
        ax.set_visible(False)
    handles = [Patch(color=VERDICT_COLORS[k]) for k in ("baseline", "better", "worse", "n.s.", "differs")]
    labels = [f"baseline '{base}'", "▲ better (paired)", "▼ worse (paired)", "= not significant", "≠ differs (neutral metric)"]
    # the legend on a line of its own under the title: a long scenario name's title would run into it
    h = fig.get_figheight()
    fig.legend(handles, labels, loc="upper right", ncol=5, fontsize=7, frameon=False,
               bbox_to_anchor=(0.995, 1 - 0.32 / h))
    nrep = int((cmp["n"] + cmp["not_recovered"]).max()) if len(cmp) else 0
    fig.suptitle(f"{trace.name}: variants compared with '{base}' ({nrep} replications, paired by seed); "
                 "error bars: 95% percentile bootstrap", fontsize=10, x=0.01, y=1 - 0.08 / h, ha="left", va="top")
    fig.tight_layout(rect=(0, 0, 1, 1 - 0.6 / h))
    return fig


# -- the latency CDF -------------------------------------------------------------------

ANSWERED = ("success", "degraded")
LATENCY_HISTOGRAM = "request_latency_seconds"


def _le(name: str) -> Optional[float]:
    m = re.search(r"[{,]le=([^,}]+)[,}]", name)
    if not m:
        return None
    return math.inf if m.group(1) == "+Inf" else float(m.group(1))


def histogram_cdf(trace: Trace, variant: str, base: str = LATENCY_HISTOGRAM):
    """The CDF of a latency histogram series of the trace (base_bucket{le=B}, cumulative
    counters since the run's start) over [warmup, end], pooled over the variant's replications.

    Per replication the count at the end (its last sample) less the count at the warm-up (its
    last sample at or before warmup_s; 0 without a warm-up), summed over replications; then
    cdf[i] = count(le <= bounds[i]) / count(le = +Inf). Returns (bounds, cdf, n) with the finite
    bounds in seconds, increasing, and n the requests counted; None without the histogram or
    without a request in it."""
    names = [n for n in trace.series_names(variant) if n.startswith(base + "_bucket") and _le(n) is not None]
    if not names:
        return None
    warm = float(trace.attrs.get("warmup_s", 0) or 0)
    counts = {}
    for n in names:
        sr = trace.series(n, variant)
        tot = 0.0
        for row in sr.values:
            ok = np.isfinite(row)
            if not ok.any():
                continue
            end = float(row[ok][-1])
            before = ok & (sr.t <= warm + 1e-9)
            start = float(row[before][-1]) if warm > 0 and before.any() else 0.0
            tot += end - start
        counts[_le(n)] = tot
    if math.inf not in counts or not counts[math.inf] > 0:
        return None
    bounds = np.array(sorted(b for b in counts if math.isfinite(b)))
    cum = np.array([counts[b] for b in bounds])
    return bounds, cum / counts[math.inf], int(round(counts[math.inf]))


def latency_cdf_figure(trace: Trace) -> Tuple[Optional[Figure], str]:
    """End-to-end latency CDF per variant, and a sentence saying what it was drawn from.

    With the latency histogram (request_latency_seconds_bucket, the RAG model): every answered
    request after the warm-up, pooled over replications (histogram_cdf), known exactly at the
    buckets' bounds and drawn joined by straight lines between them (the linear interpolation
    inside a bucket that Prometheus' histogram_quantile makes). Else, with a `requests` table: the empirical CDF of end - arrival of the sampled
    requests, pooled over replications, counting every sampled request in the
    denominator, so a curve that stops below 1 shows the share never answered
    (timeouts, errors, rejections). Without one: the CDF is known only at the
    quantiles of /summary (latency_p50_s, p95, p99 of the answered requests),
    drawn as points per replication joined through their medians."""
    fig = Figure(figsize=(10, 5), dpi=100)
    ax = fig.subplots()
    hists = {v: histogram_cdf(trace, v) for v in trace.variants}
    req = trace.requests() if trace.has_requests() else None
    drawn = False
    if any(h is not None for h in hists.values()):
        source = ("the end-to-end latency histogram of the trace (request_latency_seconds_bucket): every request "
                  "answered after the warm-up, pooled over replications; exact at the bucket bounds (markers), "
                  "linear in latency between them (the interpolation of Prometheus' histogram_quantile)")
        for v, h in hists.items():
            if h is None:
                continue
            bounds, cdf, n = h
            # linear in latency inside each bucket (a curve on the log axis), markers at the bounds
            xs = [bounds[:1]] + [np.linspace(a, b, 24)[1:] for a, b in zip(bounds[:-1], bounds[1:])]
            xs = np.concatenate(xs)
            marks = [int(i) for i in np.searchsorted(xs, bounds)]
            ax.plot(xs, np.interp(xs, bounds, cdf), color=variant_color(trace, v), ls=variant_dash(trace, v),
                    lw=1.4, marker="o", ms=3.5, markevery=marks, label=f"{v}: {n} answered requests")
            drawn = True
        ax.set_ylabel("fraction of answered requests with latency ≤ x (1)")
    elif req is not None and len(req):
        source = ("the sampled per-request records (`requests`), pooled over replications; "
                  "latency = end - arrival of answered (success, degraded) requests, over all sampled requests")
        for v in trace.variants:
            r = req[req["variant"] == v]
            if not len(r):
                continue
            ok = r[r["outcome"].isin(ANSWERED)]["latency_s"].to_numpy()
            ok = np.sort(ok[np.isfinite(ok) & (ok > 0)])
            if not len(ok):
                continue
            y = np.arange(1, len(ok) + 1) / len(r)
            ax.step(ok, y, where="post", color=variant_color(trace, v), ls=variant_dash(trace, v), lw=1.4,
                    label=f"{v}: {len(r)} requests, {len(ok) / len(r):.1%} answered")
            drawn = True
        ax.set_ylabel("fraction of sampled requests answered within x (1)")
    else:
        summ = trace.summary()
        cols = [("latency_p50_s", 0.50), ("latency_p95_s", 0.95), ("latency_p99_s", 0.99)]
        if not all(c in summ.columns for c, _ in cols):
            return None, "the trace has neither per-request records nor latency quantiles"
        source = ("the latency quantiles of /summary (p50, p95, p99 of the completed requests, per replication): "
                  "this trace has no per-request records (`requests`), so the CDF is known only at these points")
        for v in trace.variants:
            s = summ[summ["variant"] == v]
            if not len(s):
                continue
            col = variant_color(trace, v)
            xs = [np.nanmedian(s[c].to_numpy(float)) for c, _ in cols]
            if not np.isfinite(xs).any():
                continue
            for c, p in cols:
                ax.scatter(s[c].to_numpy(float), np.full(len(s), p), color=col, s=14, alpha=0.6)
            ax.plot(xs, [p for _, p in cols], color=col, lw=1.2, ls="--", marker="o",
                    label=f"{v}: median of {len(s)} replications (dashed: joined, not measured between the points)")
            drawn = True
        ax.set_ylabel("cumulative fraction of completed requests (1)")
    if not drawn:
        return None, "no request was answered"
    ax.set_xscale("log")
    from matplotlib.ticker import FuncFormatter, LogLocator
    ax.xaxis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
    ax.xaxis.set_major_formatter(FuncFormatter(lambda x, _: f"{x:g}"))
    ax.xaxis.set_minor_formatter(FuncFormatter(lambda x, _: ""))
    ax.set_xlabel("end-to-end latency (s, log scale)")
    ax.set_ylim(0, 1.02)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8, loc="lower right")
    ax.set_title(f"{trace.name}: end-to-end latency CDF per variant", fontsize=11, loc="left")
    fig.tight_layout()
    return fig, source


# -- output ------------------------------------------------------------------------------


def png_bytes(fig: Figure, dpi: int = 100) -> bytes:
    """The figure as PNG bytes (deterministic: no timestamp, no software tag)."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, metadata={"Software": None})
    return buf.getvalue()


def save_png(fig: Figure, path: str, dpi: int = 100) -> bytes:
    """Save a figure as PNG atomically; returns the bytes written."""
    data = png_bytes(fig, dpi)
    write_atomic(path, data)
    return data


@dataclasses.dataclass
class Rendered:
    key: str
    title: str
    caption: str
    png: bytes


def _progress(label: str) -> None:
    """One line on stderr, rewritten in place, only when stderr is a terminal."""
    if sys.stderr.isatty():
        sys.stderr.write(f"\r\033[Kdrawing {label}" if label else "\r\033[K")
        sys.stderr.flush()


def all_figures(trace: Trace, headline: Optional[Sequence[str]] = None) -> Tuple[List[Rendered], List[str]]:
    """Every figure the trace supports, rendered to PNG; and notes on those left out."""
    try:
        return _all_figures(trace, headline)
    finally:
        _progress("")


def _all_figures(trace: Trace, headline: Optional[Sequence[str]] = None) -> Tuple[List[Rendered], List[str]]:
    out: List[Rendered] = []
    notes: List[str] = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        if trace.has_comparison():
            _progress("the comparison figures")
            fig = comparison_figure(trace, headline)
            if fig is not None:
                out.append(Rendered("comparison", "Comparison: headline metrics",
                                    "Means across replications; error bars: " + INTERVAL_NOTE + " Colour and marker give "
                                    "the paired verdict against the baseline (docs/compare.md).", png_bytes(fig)))
        names = trace.series_names()
        for spec in default_specs() + class_specs(trace):
            wanted = [c.dataset for c in spec.curves if c.dataset] + ([spec.requires] if spec.requires else [])
            if not any(w in names for w in wanted):
                continue
            _progress(f"{spec.title.lower()} ({len(trace.variants)} variants)")
            fig = timeseries_figure(trace, spec)
            if fig is None:
                notes.append(f"{spec.title}: not drawn, every value is 0, missing, or the same in every run "
                             "and at every time")
                continue
            out.append(Rendered(spec.key, spec.title, spec.caption + " Line: median across replications; band: "
                                "5th to 95th percentile across replications.", png_bytes(fig)))
        _progress("the latency CDF")
        fig, source = latency_cdf_figure(trace)
        if fig is not None:
            out.append(Rendered("latency_cdf", "End-to-end latency CDF", f"Drawn from {source}.", png_bytes(fig)))
        else:
            notes.append(f"Latency CDF: not drawn, {source}")
        if trace.has_comparison():
            _progress("the comparison of every metric")
            fig = comparison_figure(trace, None)
            if fig is not None:
                out.append(Rendered("comparison_all", "Comparison: every metric of /comparison",
                                    "Every metric of /comparison that is not 0 in every variant, as in the first "
                                    "comparison figure.", png_bytes(fig)))
    return out, notes


def show(fig: Figure) -> None:
    """Display a figure in a notebook (as a PNG), or do nothing outside IPython."""
    try:
        from IPython.display import Image, display
    except ImportError:
        return
    display(Image(data=png_bytes(fig)))
