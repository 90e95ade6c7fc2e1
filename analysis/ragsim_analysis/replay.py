"""`ragsim replay TRACE.h5 -o DIR`: one self-contained HTML page that animates a run.

The page (DIR/replay.html) holds everything it needs: its script and style
inline, the data extracted from the trace inline (typed arrays in base64), no
network access. It draws the scenario's topology (gateway replicas, the
pipeline's components and their replicas, etcd, the call edges), and at the
current simulated time colours each node by its state and shows its queue,
utilisation and memory against its limit, each edge its call rate, retries
and failures, the events on a timeline and on the node they hit, and the
sampled requests (the `spans` table) moving along the edges. Two variants of
a `ragsim compare` trace play side by side on one clock.

What comes from where (docs/replay.md):
  node queue, utilisation   station_queue_length / station_utilization_ratio{station=C,replica=i}
                            (the embedder and the LLM: their aggregate series)
  memory vs limit           vectordb_memory_bytes{replica=i} vs vectordb.memory.limit;
                            rss_bytes{component=gateway,replica=i} vs gateway.runtime.memory_limit;
                            the LLM's KV-cache usage vs 1
  state intervals           events: oom_kill / replica_killed -> killed until replica_restarted
                            -> starting until replica_ready -> cold for cold_start.period;
                            breaker_open / breaker_half_open / breaker_closed on the call edge
  saturated                 utilisation >= 95% over the sample interval and at least as many
                            calls waiting as the replica has servers
  edge rate                 the caller-side latency histogram's _count (calls that ended) per second
  edge retries, failures    the sampled requests' call spans (attempt > 0; status not ok),
                            divided by trace.request_sample: an estimate
"""

from __future__ import annotations

import argparse
import base64
import html
import json
import math
import os
import sys
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np

from . import __version__, units
from .outputs import OutputError, check_output_dir, check_output_files, write_atomic
from .trace import Trace, TraceError, parse_series_name

PROG = (os.environ.get("RAGSIM_PROG") or "ragsim_analysis") + " replay"
HERE = os.path.dirname(os.path.abspath(__file__))

# node states (the page's data-state values); the order is the code stored in the data
STATES = ["up", "starting", "cold", "killed", "saturated", "breaker-open", "breaker-half-open", "absent"]
ST = {s: i for i, s in enumerate(STATES)}
# a call step -> the component it calls
STEP_COMPONENT = {"embed": "embedder", "retrieve": "vectordb", "generate": "llm"}
SPAN_STATUS = ["ok", "error", "timeout", "rejected", "unavailable"]
SATURATED_UTIL = 0.95
# cold_start.period defaults (docs/models/replicas.md): 60 s for the vector DB, none elsewhere
COLD_DEFAULT = {"vectordb": 60.0}
DEFAULT_STEPS = ["embed", "retrieve", "generate"]
# by default at most this many sampled requests per run go into the page (every k-th by id)
DEFAULT_MAX_REQUESTS = 5000


class ReplayError(Exception):
    pass


# -- compact arrays ---------------------------------------------------------------------


def encode_series(x: Optional[np.ndarray]):
    """A float series -> {"c": v} when constant, else {"s": scale, "b": base64 of uint16, "o": offset}
    (value = q x scale + offset, q = 65535 for NaN): 2 bytes a sample. Integer series spanning at
    most 65000 (queue lengths, counts) are exact; others are within 1/130000 of their range."""
    if x is None:
        return None
    x = np.asarray(x, dtype=np.float64)
    fin = np.isfinite(x)
    if not fin.any():
        return {"c": None}
    lo, hi = float(np.min(x[fin])), float(np.max(x[fin]))
    if fin.all() and lo == hi:
        return {"c": lo}
    if np.all(x[fin] == np.rint(x[fin])) and hi - lo <= 65000:   # counts: exact
        off, scale = lo, 1.0
    else:
        off = min(lo, 0.0)
        scale = (hi - off) / 65000.0 if hi > off else 1.0
    q = np.full(x.shape, 65535, dtype="<u2")
    q[fin] = np.clip(np.rint((x[fin] - off) / scale), 0, 65000).astype("<u2")
    out = {"s": scale, "b": base64.b64encode(q.tobytes()).decode("ascii")}
    if off:
        out["o"] = off
    return out


def _b64(a: np.ndarray, dtype: str) -> str:
    return base64.b64encode(np.ascontiguousarray(a, dtype=dtype).tobytes()).decode("ascii")


# -- topology ---------------------------------------------------------------------------


def _get(d, *keys, default=None):
    for k in keys:
        if not isinstance(d, dict) or k not in d:
            return default
        d = d[k]
    return d


def _count(v, default: float) -> float:
    try:
        c = units.parse_count(v)
    except (TypeError, ValueError):
        return default
    return default if c is None else c


def topology(scn: dict, names: Sequence[str]) -> dict:
    """The nodes (one per replica where the trace has per-replica series) and the call edges of a
    scenario, laid out: the gateway on the left, the pipeline's components in rows on the right,
    etcd under the gateway."""
    nodes: List[dict] = []
    edges: List[dict] = []
    have = set(names)
    gw_n = int(_count(_get(scn, "gateway", "replicas"), 1))
    nrep = {}
    for n in names:
        m, lab = parse_series_name(n)
        if m == "station_queue_length" and "replica" in lab:
            st = lab.get("station", "")
            nrep[st] = max(nrep.get(st, 0), int(lab["replica"]) + 1)
    gw_n = max(gw_n, nrep.get("gateway", 0))
    steps = _get(scn, "pipeline", "steps", default=None) or DEFAULT_STEPS
    comps: List[Tuple[str, str]] = []   # (component, call name)
    for s in steps:
        c = STEP_COMPONENT.get(str(s), str(s))
        if c not in [x for x, _ in comps]:
            comps.append((c, str(s)))
    if isinstance(scn.get("keyword_search"), dict) and "keyword_search" not in [x for x, _ in comps]:
        comps.append(("keyword_search", "fallback"))
    runtime_limit = units.parse_size(_get(scn, "gateway", "runtime", "memory_limit")) \
        if _get(scn, "gateway", "runtime", "memory_limit") is not None else None

    def node(nid, comp, replica, label, servers, qlimit, memlimit, series, extra):
        nodes.append({"id": nid, "comp": comp, "replica": replica, "label": label, "servers": servers,
                      "qlimit": qlimit, "memlimit": memlimit, "series": series, "extra": extra})

    for i in range(gw_n):
        lab = f"station=gateway,replica={i}"
        node(f"gateway/{i}", "gateway", i, f"gw {i}", _count(_get(scn, "gateway", "cores"), 1), None, runtime_limit,
             {"queue": f"station_queue_length{{{lab}}}", "util": f"station_utilization_ratio{{{lab}}}",
              "mem": f"rss_bytes{{component=gateway,replica={i}}}"},
             [(f"station_arrivals_per_second{{{lab}}}", "arrivals", "1/s"),
              (f"goroutines{{component=gateway,replica={i}}}", "goroutines", "1"),
              (f"heap_inuse_bytes{{component=gateway,replica={i}}}", "heap in use", "bytes"),
              (f"gc_cpu_ratio{{component=gateway,replica={i}}}", "GC CPU", "1")])
    for comp, call in comps:
        sec = scn.get(comp) if isinstance(scn.get(comp), dict) else \
            _get(scn, "dependencies", comp, default={}) or {}
        if comp == "embedder":
            node("embedder", comp, -1, f"embedder x{int(_count(sec.get('replicas'), 1))}", _count(sec.get("replicas"), 1),
                 None, None, {"queue": "embedder_queue_length", "util": "embedder_busy_ratio"},
                 [("embedder_batch_size_mean", "batch size", "1"), ("embedder_replicas_up", "replicas up", "1")])
        elif comp == "llm":
            r = int(_count(sec.get("replicas"), 1))
            node("llm", comp, -1, f"LLM x{r}", _count(sec.get("replicas"), 1), None, 1.0,
                 {"queue": "llm_num_requests_waiting", "mem": "llm_kv_cache_usage_ratio"},
                 [("llm_num_requests_running", "running", "1"), ("llm_generation_tokens_per_second", "tokens", "1/s"),
                  ("llm_time_to_first_token_p95_seconds", "TTFT p95", "s"), ("llm_replicas_up", "replicas up", "1")])
        else:
            configured = int(_count(sec.get("replicas"), 1))
            reps = max(configured, nrep.get(comp, 0))   # an autoscaled component: up to its maximum
            if comp == "vectordb":
                servers = _count(sec.get("threads"), 8)
            else:
                servers = _count(sec.get("concurrency"), 64)
            qlimit = _count(sec.get("queue_limit"), 0) or None
            memlimit = None
            if comp == "vectordb":
                try:
                    memlimit = units.parse_size(_get(sec, "memory", "limit", default="8GiB"))
                except ValueError:
                    memlimit = None
            # a sharded vector DB (vectordb.shards S > 1): a replica set per shard, named
            # vectordb_shard<s>, its replicas' series and events under that name
            shards = int(_count(sec.get("shards"), 1)) if comp == "vectordb" else 1
            sets = [(comp, "")] if shards <= 1 else [(f"{comp}_shard{s}", f"shard={s},") for s in range(shards)]
            arrivals = []
            for station, shard_lab in sets:
                for i in range(reps):
                    lab = f"station={station},replica={i}"
                    ser = {"queue": f"station_queue_length{{{lab}}}", "util": f"station_utilization_ratio{{{lab}}}"}
                    if comp == "vectordb":
                        ser["mem"] = f"vectordb_memory_bytes{{{shard_lab}replica={i}}}"
                    name = f"{comp} {i}" if not shard_lab else f"shard {station.rsplit('shard', 1)[1]} r{i}"
                    node(f"{station}/{i}", comp, i, name, servers, qlimit, memlimit, ser,
                         [(f"station_arrivals_per_second{{{lab}}}", "arrivals", "1/s"),
                          (f"station_rejected_per_second{{{lab}}}", "rejected", "1/s"),
                          (f"station_sojourn_p95_seconds{{{lab}}}", "sojourn p95", "s")])
                    nodes[-1]["initial"] = i < configured   # replicas beyond it start absent (autoscaling)
                    if shard_lab:
                        arrivals.append(f"station_arrivals_per_second{{{lab}}}")
        if comp in ("embedder", "llm") or not arrivals:
            arrivals = [f"station_arrivals_per_second{{station={comp},replica={i}}}" for i in range(nrep.get(comp, 0))]
        if comp == "embedder":
            rate = "embed_latency_seconds_count"
        elif comp == "vectordb":
            rate = "rag_retrieval_latency_seconds_count"
        elif comp == "llm":
            rate = "llm_latency_seconds_count"
        else:
            rate = f"dependency_latency_seconds_count{{dependency={comp}}}"
        edges.append({"id": f"gateway>{comp}", "call": call, "to": comp,
                      "rate": rate if rate in have else None,
                      "arrivals": [a for a in arrivals if a in have],
                      "errratio": f"dependency_error_ratio{{dependency={comp}}}"
                      if f"dependency_error_ratio{{dependency={comp}}}" in have else None})
    if isinstance(scn.get("config"), dict) or isinstance(scn.get("etcd"), dict):
        node("etcd", "etcd", -1, "etcd", _count(_get(scn, "etcd", "cores"), 1), None, None,
             {"util": "etcd_cpu_utilization_ratio", "mem": "etcd_memory_bytes"},
             [("etcd_watchers", "watchers", "1"), ("etcd_slow_watchers", "slow watchers", "1"),
              ("etcd_leases_in_use", "leases", "1"), ("etcd_watch_events_per_second", "watch events", "1/s")])
        edges.append({"id": "gateway>etcd", "call": "config watch", "to": "etcd", "rate": None, "errratio": None,
                      "eventrate": "etcd_watch_events_per_second"})
    _layout(nodes, edges)
    return {"nodes": nodes, "edges": edges}


def _layout(nodes: List[dict], edges: List[dict]) -> None:
    """Coordinates in a 900-wide SVG: gateway column at x 80, component rows from x 330."""
    X0, S, PER_ROW = 430, 60, 10
    gws = [n for n in nodes if n["comp"] == "gateway"]
    rows: Dict[str, List[dict]] = {}
    for n in nodes:
        if n["comp"] not in ("gateway", "etcd"):
            rows.setdefault(n["comp"], []).append(n)
    y = 40
    groups = {}
    for comp, ns in rows.items():
        nlines = (len(ns) + PER_ROW - 1) // PER_ROW
        for k, n in enumerate(ns):
            n["x"], n["y"] = X0 + (k % PER_ROW) * S, y + (k // PER_ROW) * S
        groups[comp] = (X0 - 30, y + (nlines - 1) * S / 2)
        y += nlines * S + 34
    height_right = y
    gh = len(gws) * S
    top = max(40, (height_right - 34 - gh) / 2 + S / 2 - 20)
    for k, n in enumerate(gws):
        n["x"], n["y"] = 80, top + k * S
    ybottom = max(height_right, top + gh + 20)
    for n in nodes:
        if n["comp"] == "etcd":
            n["x"], n["y"] = 80, ybottom + 10
            groups["etcd"] = (80, ybottom + 10 - 26)
            ybottom += S + 20
    gy = (gws[0]["y"] + gws[-1]["y"]) / 2 if gws else 40
    for e in edges:
        gx, gyy = groups.get(e["to"], (X0, 40))
        if e["to"] == "etcd":
            e["x1"], e["y1"], e["x2"], e["y2"] = 80, (gws[-1]["y"] + 24) if gws else 40, gx, gyy
        else:
            e["x1"], e["y1"], e["x2"], e["y2"] = 110, gy, gx, gyy
    for n in nodes:
        n["x"], n["y"] = float(n["x"]), float(n["y"])
    return None


def layout_height(nodes: List[dict]) -> float:
    return max((n["y"] for n in nodes), default=0) + 60


def layout_width(nodes: List[dict]) -> float:
    return max(max((n["x"] for n in nodes), default=0) + 50, 520)


# -- states from events ----------------------------------------------------------------


def _target_of_edge(src: str, edges: List[dict]) -> Optional[str]:
    base = src.split("@")[0].split("/")[0]
    for e in edges:
        if e["call"] == base or e["to"] == base:
            return e["to"]
    return None


def state_intervals(events: Sequence[Tuple[float, str, str]], nodes: List[dict], edges: List[dict], scn: dict,
                    t_end: float) -> Tuple[Dict[str, list], Dict[str, list]]:
    """Per node [[t0, t1, state code], ...] from the events (killed, starting, cold, absent), and per
    edge its breaker intervals [[t0, t1, code, gateway pod], ...]. Times are exact (the events'
    float64 seconds)."""
    ids = {n["id"] for n in nodes}
    by_node: Dict[str, list] = {n["id"]: [] for n in nodes}
    open_: Dict[str, Tuple[float, int]] = {}
    cold: Dict[str, float] = {}
    for comp in {n["comp"] for n in nodes}:
        sec = scn.get(comp) if isinstance(scn.get(comp), dict) else _get(scn, "dependencies", comp, default={}) or {}
        p = _get(sec, "cold_start", "period")
        f = _get(sec, "cold_start", "factor")
        try:
            period = units.parse_duration(p) if p is not None else COLD_DEFAULT.get(comp, 0.0)
        except ValueError:
            period = 0.0
        if f is not None and float(f) <= 1:
            period = 0.0
        cold[comp] = period or 0.0

    def close(nid, t):
        if nid in open_:
            t0, code = open_.pop(nid)
            if t > t0:
                by_node[nid].append([t0, t, code])

    edge_iv: Dict[str, list] = {e["id"]: [] for e in edges}
    edge_open: Dict[str, Tuple[float, int]] = {}
    comp_of = {n["id"]: n["comp"] for n in nodes}
    # autoscaling: replicas beyond the configured count are absent until they are ready; one that
    # becomes ready from absent was starting since its component's last scale_up (the events do not
    # say which replica a scale_up starts, its replica_ready does); replica_removed (scaled down,
    # drained) makes one absent again
    last_scale: Dict[str, float] = {}
    for n in nodes:
        if n["replica"] >= 0 and not n.get("initial", True):
            open_[n["id"]] = (0.0, ST["absent"])
    for t, kind, src in events:
        if kind == "scale_up":
            last_scale[src] = t
        elif kind == "replica_removed" and src in ids:
            close(src, t)
            open_[src] = (t, ST["absent"])
        elif kind in ("oom_kill", "replica_killed", "replica_restarted", "replica_ready") and src in ids:
            if kind == "replica_ready" and src in open_ and open_[src][1] == ST["absent"]:
                t_up = last_scale.get(comp_of[src], t)
                if open_[src][0] <= t_up < t:
                    close(src, t_up)
                    by_node[src].append([t_up, t, ST["starting"]])
            close(src, t)
            if kind in ("oom_kill", "replica_killed"):
                open_[src] = (t, ST["killed"])
            elif kind == "replica_restarted":
                open_[src] = (t, ST["starting"])
            elif cold.get(comp_of[src], 0) > 0:
                by_node[src].append([t, t + cold[comp_of[src]], ST["cold"]])
        elif kind.startswith("breaker_"):
            # one breaker per edge and gateway pod: source "vectordb" (pod 0), "vectordb@pod1", ...
            to = _target_of_edge(src, edges)
            if to is None:
                continue
            eid = f"gateway>{to}"
            pod = int(src.split("@pod")[1]) if "@pod" in src and src.split("@pod")[1].isdigit() else 0
            if src in edge_open:
                t0, code, _ = edge_open.pop(src)
                if t > t0:
                    edge_iv[eid].append([t0, t, code, pod])
            if kind in ("breaker_open", "breaker_half_open"):
                edge_open[src] = (t, ST["breaker-open"] if kind == "breaker_open" else ST["breaker-half-open"], eid)
    for nid in list(open_):
        close(nid, t_end)
    for src, (t0, code, eid) in edge_open.items():
        if t_end > t0:
            pod = int(src.split("@pod")[1]) if "@pod" in src and src.split("@pod")[1].isdigit() else 0
            edge_iv[eid].append([t0, t_end, code, pod])
    for eid in edge_iv:
        edge_iv[eid].sort(key=lambda r: (r[0], r[3]))
    # cold intervals end where a later kill starts: sort; the page takes the highest-priority match
    for nid in by_node:
        by_node[nid].sort(key=lambda r: r[0])
    return by_node, edge_iv


# -- one run -> the page's data -----------------------------------------------------------------------


def _rate_from_count(c: Optional[np.ndarray], dt: float) -> Optional[np.ndarray]:
    if c is None:
        return None
    c = np.nan_to_num(c, nan=0.0)
    r = np.diff(np.concatenate([[0.0], c])) / dt
    return np.maximum(r, 0.0)


def panel_data(tr: Trace, variant: str, rep: int, max_requests: int) -> dict:
    ts = tr._series_of(variant, rep)
    if ts is None:
        raise ReplayError(f"{tr.path}: run {variant} rep{rep:03d} has no time series")
    ts.load()
    t = np.asarray(ts.t, dtype=np.float64)
    dt = float(t[1] - t[0]) if len(t) > 1 else (float(t[0]) if len(t) else 1.0)
    scn = tr.scenario(variant)
    if scn is None:   # PyYAML is there (main checks it): the stored scenario is not a mapping
        raise ReplayError(f"{tr.path}: the scenario stored with run {variant} cannot be read as YAML")
    topo = topology(scn, ts.names)
    nodes, edges = topo["nodes"], topo["edges"]
    out_nodes = []
    for n in nodes:
        ser = {role: encode_series(ts.get(name)) for role, name in n["series"].items() if name in ts}
        extra = [{"label": lab, "unit": u, "v": encode_series(ts.get(name))} for name, lab, u in n["extra"] if name in ts]
        nn = {k: n[k] for k in ("id", "comp", "replica", "label", "servers", "qlimit", "memlimit", "x", "y")}
        nn["s"] = ser
        nn["extra"] = extra
        out_nodes.append(nn)
    # events of the run
    ev = tr.events([variant])
    ev = ev[ev["replication"] == rep]
    t_end = float(tr.run_attrs(variant, rep).get("sim_seconds", t[-1] if len(t) else 0.0))
    evl = [(float(a), str(k), str(s)) for a, k, s in zip(ev["time"], ev["kind"], ev["source"])]
    node_iv, edge_iv = state_intervals(evl, nodes, edges, scn, t_end)
    ids = {n["id"] for n in nodes}
    comps = {n["comp"] for n in nodes}
    events = []
    for a, k, s, v, d in zip(ev["time"], ev["kind"], ev["source"], ev["value"], ev["detail"]):
        if k in ("run_start", "run_end"):
            continue
        s = str(s)
        target = s if s in ids else (s if s in comps else None)
        if k.startswith("breaker_"):   # shown on the component the breaker protects
            target = _target_of_edge(s, edges)
        if target is None and k == "config_push":
            target = "etcd" if "etcd" in ids else None
        events.append([round(float(a), 6), str(k), s, target, float(v) if np.isfinite(v) else None, str(d)])
    # edges: rate from the caller-side histogram's count; retries and failures from the spans
    sample = units.parse_ratio(_get(scn, "trace", "request_sample", default=0)) or 0.0
    spans = tr.spans([variant]) if tr.has_requests() else None
    if spans is not None:
        spans = spans[spans["replication"] == rep]
    nbins = len(t)
    out_edges = []
    comp_edge = {e["to"]: i for i, e in enumerate(edges)}
    retries = np.zeros((len(edges), nbins))
    fails = np.zeros((len(edges), nbins))
    span_cols = None
    if spans is not None and len(spans):
        calls = spans[spans["name"].isin(["embed", "retrieve", "generate", "dependency"])]
        eidx = np.array([comp_edge.get(c, -1) for c in calls["component"]], dtype=np.int64)
        keep = eidx >= 0
        calls, eidx = calls[keep], eidx[keep]
        st = calls["start"].to_numpy(float)
        en = calls["end"].to_numpy(float)
        att = calls["attempt"].to_numpy(np.int64)
        status = np.array([SPAN_STATUS.index(s) if s in SPAN_STATUS else 1 for s in calls["status"]], dtype=np.int64)
        if sample > 0 and nbins:
            kb = np.clip((en / dt).astype(np.int64), 0, nbins - 1)
            np.add.at(fails, (eidx[status != 0], kb[status != 0]), 1.0 / (sample * dt))
            ks = np.clip((st / dt).astype(np.int64), 0, nbins - 1)
            np.add.at(retries, (eidx[att > 0], ks[att > 0]), 1.0 / (sample * dt))
        gws = spans[spans["name"] == "gateway"]
        gw_of = dict(zip(gws["request"].to_numpy(np.int64), gws["attempt"].to_numpy(np.int64)))
        outcome_of = dict(zip(gws["request"].to_numpy(np.int64), gws["status"]))
        req = calls["request"].to_numpy(np.int64)
        # at most max_requests requests: every k-th distinct id (deterministic)
        ureq = np.unique(req)
        if max_requests and len(ureq) > max_requests:
            step = int(math.ceil(len(ureq) / max_requests))
            chosen = set(ureq[::step].tolist())
            m = np.array([r in chosen for r in req], dtype=bool)
            req, st, en, att, status, eidx = req[m], st[m], en[m], att[m], status[m], eidx[m]
        order = np.lexsort((en, st))
        req, st, en, att, status, eidx = req[order], st[order], en[order], att[order], status[order], eidx[order]
        gw = np.array([gw_of.get(int(r), 0) for r in req], dtype=np.int64)
        outc = sorted({str(x) for x in outcome_of.values()} | {""})
        oc = np.array([outc.index(str(outcome_of.get(int(r), ""))) for r in req], dtype=np.int64)
        # float32 starts are within 1 ms up to 8192 s; longer runs keep float64
        f8 = bool(len(st) and float(np.max(st)) >= 8192.0)
        span_cols = {"n": int(len(req)), "req": _b64(req, "<i4"), "start": _b64(st, "<f8" if f8 else "<f4"), "f8": f8,
                     "dur": _b64(np.maximum(en - st, 0.0), "<f4"),
                     "edge": _b64(eidx, "u1"), "status": _b64(status, "u1"), "attempt": _b64(np.minimum(att, 255), "u1"),
                     "gw": _b64(np.minimum(gw, 255), "u1"), "outcome": _b64(oc, "u1"), "outcomes": outc,
                     "maxdur": float(np.max(en - st)) if len(st) else 0.0,
                     "requests_total": int(len(np.unique(calls["request"]))), "requests_shown": int(len(np.unique(req)))}
    for i, e in enumerate(edges):
        if e.get("arrivals"):   # calls offered to the replicas (attempts, refused ones included)
            rate = np.nansum([ts.get(a) for a in e["arrivals"]], axis=0)
        else:                   # calls that got an answer or timed out
            rate = _rate_from_count(ts.get(e["rate"]) if e.get("rate") else None, dt)
        if rate is None and e.get("eventrate") and e["eventrate"] in ts:
            rate = ts.get(e["eventrate"])
        spanned = spans is not None and sample > 0 and e["to"] != "etcd"
        f = fails[i] if spanned else None
        if f is None and e.get("errratio") and rate is not None:
            f = np.nan_to_num(ts.get(e["errratio"])) * rate
        out_edges.append({"id": e["id"], "call": e["call"], "to": e["to"], "x1": e["x1"], "y1": e["y1"],
                          "x2": e["x2"], "y2": e["y2"], "rate": encode_series(rate),
                          "retries": encode_series(retries[i]) if spanned else None,
                          "failures": encode_series(f), "iv": edge_iv.get(e["id"], [])})
    desc = tr.variant_attrs(variant).get("description") or ""
    return {"variant": variant, "replication": rep, "description": str(desc), "n": int(len(t)), "dt": dt,
            "t_end": t_end, "height": layout_height(nodes), "width": layout_width(nodes), "nodes": out_nodes, "edges": out_edges,
            "iv": {k: v for k, v in node_iv.items() if v}, "events": events, "spans": span_cols,
            "request_sample": sample,
            "headline": {"success_ratio": encode_series(ts.get("success_ratio")),
                         "in_flight": encode_series(ts.get("requests_in_flight")),
                         "p95": encode_series(ts.get("latency_p95_seconds"))}}


def replay_data(tr: Trace, variants: Sequence[str], rep: int, max_requests: int) -> dict:
    panels = [panel_data(tr, v, rep, max_requests) for v in variants]
    return {"scenario": tr.name, "trace": os.path.basename(tr.path), "ragsim_version": str(tr.attrs.get("ragsim_version", "")),
            "duration": max(p["t_end"] for p in panels), "states": STATES, "status": SPAN_STATUS, "panels": panels,
            "saturated_util": SATURATED_UTIL}


def render_html(data: dict) -> str:
    with open(os.path.join(HERE, "replay_page", "replay.css"), encoding="utf-8") as f:
        css = f.read()
    with open(os.path.join(HERE, "replay_page", "replay.js"), encoding="utf-8") as f:
        js = f.read()
    payload = json.dumps(data, separators=(",", ":"), allow_nan=False).replace("</", "<\\/")
    title = html.escape(f"ragsim replay: {data['scenario']} ({', '.join(p['variant'] for p in data['panels'])})")
    return (f"<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n"
            f"<meta name=\"viewport\" content=\"width=device-width\">\n"
            f"<meta name=\"generator\" content=\"ragsim {html.escape(__version__)}\">\n"
            f"<title>{title}</title>\n<style>\n{css}</style>\n</head>\n<body data-replay=\"loading\">\n"
            f"<script id=\"replay-data\" type=\"application/json\">{payload}</script>\n"
            f"<script>\n{js}</script>\n</body></html>\n")


def write_replay(trace_path: str, out_dir: str, variants: Optional[Sequence[str]] = None, rep: int = 0,
                 max_requests: int = DEFAULT_MAX_REQUESTS) -> Tuple[str, dict]:
    """Write out_dir/replay.html; returns its path and the data it holds."""
    with Trace(trace_path) as tr:
        if tr.model and tr.model != "rag":
            raise ReplayError(f"{trace_path}: a trace of the {tr.model} model; replay draws the RAG model's "
                              "topology (traces of scenarios with `model: rag`, the default)")
        all_v = tr.variants
        if variants:
            bad = [v for v in variants if v not in all_v]
            if bad:
                raise ReplayError(f"{trace_path}: no variant {', '.join(map(repr, bad))} (variants: {', '.join(all_v)})")
            chosen = list(dict.fromkeys(variants))
        else:
            chosen = all_v[:2]
        for v in chosen:
            if rep not in tr.replications(v):
                raise ReplayError(f"{trace_path}: variant {v!r} has no replication {rep} "
                                  f"(replications: {', '.join(map(str, tr.replications(v)))})")
        data = replay_data(tr, chosen, rep, max_requests)
    check_output_dir(out_dir)
    path = os.path.join(out_dir, "replay.html")
    check_output_files([path], [trace_path])
    page = render_html(data).encode("utf-8")
    os.makedirs(out_dir, exist_ok=True)
    write_atomic(path, page, [trace_path])
    return path, data


def default_output_dir(trace: str) -> str:
    base = trace[:-3] if trace.endswith(".h5") else trace
    return base + "-replay"


def main(argv: Optional[List[str]] = None) -> int:
    p = argparse.ArgumentParser(
        prog=PROG, description="Write DIR/replay.html: one self-contained page (script, style and data inline, no "
                               "network) that animates a run of the trace: the topology, each node's state, queue, "
                               "utilisation and memory, each edge's rate, retries and failures, the events and the "
                               "sampled requests. Open it in a browser; #t=SECONDS in the URL opens it at that "
                               "simulated time.",
        epilog="A `ragsim compare` trace plays two variants side by side (default: the first two, the baseline "
               "first). Sampled requests need trace.request_sample > 0 in the run. Exit status: 0 success, 1 the "
               "page could not be written (or PyYAML is missing), 2 bad usage, a missing or invalid trace, or an output that must not be "
               "replaced. docs/replay.md.")
    p.add_argument("trace", metavar="TRACE.h5", help="a trace written by ragsim run or ragsim compare")
    p.add_argument("-o", "--output", metavar="DIR", help="output directory (created if missing; default: the trace's "
                                                         "name without .h5, plus -replay)")
    p.add_argument("--variants", metavar="A,B", help="the variants to show side by side (one or two; default: the "
                                                     "first two of the trace)")
    p.add_argument("--rep", metavar="N", type=int, default=0, help="the replication to show (default 0)")
    p.add_argument("--max-requests", metavar="N", type=int, default=DEFAULT_MAX_REQUESTS,
                   help=f"at most N sampled requests per run in the page, every k-th by id (default "
                        f"{DEFAULT_MAX_REQUESTS}; 0: all)")
    a = p.parse_args(argv)
    vs = [v.strip() for v in a.variants.split(",") if v.strip()] if a.variants else None
    if vs is not None and not 1 <= len(vs) <= 2:
        p.error("--variants takes one or two variant names")
    if a.rep < 0 or a.max_requests < 0:
        p.error("--rep and --max-requests take a count >= 0")
    try:
        import yaml  # noqa: F401  (the run's scenario gives the topology; without it the page would be empty)
    except ImportError:
        sys.stderr.write(f"{PROG}: error: PyYAML is needed to read the run's scenario "
                         f"(Debian: apt-get install python3-yaml; make run-deps installs it)\n")
        return 1
    try:
        path, data = write_replay(a.trace, a.output or default_output_dir(a.trace), vs, a.rep, a.max_requests)
    except (TraceError, OutputError, ReplayError) as e:
        sys.stderr.write(f"{PROG}: error: {e}\n")
        return 2
    except OSError as e:
        sys.stderr.write(f"{PROG}: error: cannot write the page: {e}\n")
        return 1
    size = os.path.getsize(path)
    nn = sum(len(pp["nodes"]) for pp in data["panels"])
    req = sum((pp["spans"] or {}).get("requests_shown", 0) for pp in data["panels"])
    print(f"replay: {path} ({size / 1024:.0f} KiB; {', '.join(pp['variant'] for pp in data['panels'])}, "
          f"replication {a.rep}; {data['panels'][0]['n']} samples of {data['panels'][0]['dt']:g} s, {nn} nodes, "
          f"{sum(len(pp['events']) for pp in data['panels'])} events, {req} sampled requests)")
    return 0
