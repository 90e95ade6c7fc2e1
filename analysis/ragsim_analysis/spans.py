"""The sampled requests' spans (the `spans` table, docs/trace-format.md) as
Chrome trace-event JSON, which Perfetto (ui.perfetto.dev) and chrome://tracing
open.

Layout: one process per run ("<variant> rep<N>"), one thread (track) per
sampled request ("request <id> <outcome>"), its spans as complete events
("ph": "X", times in microseconds from the run's start): `gateway` (arrival
to release) holding `embed`, `retrieve`, `generate`, `dependency` (one span per
call attempt), and inside `generate` the LLM's `llm_queue`, `prefill` and
`decode` (phases of zero length are left out). Calls a request makes in parallel overlap instead of nesting; a
span that would overlap a sibling goes to an extra track of the same
request ("request <id> (parallel k)"), so that every track nests properly.
A request still in flight when the run ended has no `gateway` span (it was
never released), only its finished calls: its track is "request <id> in
flight at the end of the run".
"""

from __future__ import annotations

import json
from typing import Dict, IO, List, Tuple

import pandas as pd

from .trace import Trace


class SpansError(Exception):
    pass


def spans_frame(tr: Trace, runs: List[Tuple[str, int]]) -> pd.DataFrame:
    """The spans of the selected runs: variant, replication, request, name, component,
    attempt, start (s), end (s), status."""
    df = tr.spans(list(dict.fromkeys(v for v, _ in runs)))
    if df is None:
        return pd.DataFrame(columns=["variant", "replication", "request", "name", "component", "attempt", "start",
                                     "end", "status"])
    keep = set(runs)
    return df[[(v, r) in keep for v, r in zip(df["variant"], df["replication"])]].reset_index(drop=True)


_PHASES = ("llm_queue", "prefill", "decode")
_RANK = {"gateway": 0, "llm_queue": 2, "prefill": 3, "decode": 4}   # calls: 1


def _lanes(spans: List[dict]) -> List[int]:
    """Track (lane) of each span, spans sorted by (start, -duration): the first lane where the
    span nests inside the lane's open span or starts after it ended."""
    stacks: List[List[float]] = []   # per lane: ends of the open spans
    out = []
    for s in spans:
        placed = None
        for i, st in enumerate(stacks):
            while st and st[-1] <= s["start"]:
                st.pop()
            if not st or s["end"] <= st[-1]:
                placed = i
                break
        if placed is None:
            stacks.append([])
            placed = len(stacks) - 1
        stacks[placed].append(s["end"])
        out.append(placed)
    return out


def chrome_events(tr: Trace, runs: List[Tuple[str, int]]) -> List[dict]:
    df = spans_frame(tr, runs)
    if not tr.has_requests():
        raise SpansError(f"{tr.path} holds no sampled requests: set trace.request_sample (e.g. --set "
                         "trace.request_sample=0.01) in the run")
    if "spans" not in tr.file[f"runs/{runs[0][0]}/rep{runs[0][1]:03d}"]:
        raise SpansError(f"{tr.path} has no spans table: it was written by an older ragsim (format_version < 3)")
    events: List[dict] = []
    pids = {run: i + 1 for i, run in enumerate(runs)}
    for (v, r), pid in pids.items():
        events.append({"ph": "M", "name": "process_name", "pid": pid, "tid": 0, "args": {"name": f"{v} rep{r}"}})
        events.append({"ph": "M", "name": "process_sort_index", "pid": pid, "tid": 0, "args": {"sort_index": pid}})
    tid_of: Dict[Tuple[int, int, int], int] = {}
    for (v, r, req), g in df.groupby(["variant", "replication", "request"], sort=True):
        pid = pids[(v, int(r))]
        # zero-length LLM phases (a sequence admitted at once) are left out: a viewer would
        # nest them in the next phase, which starts at the same time
        rows = [s for s in g.to_dict("records") if not (s["name"] in _PHASES and s["end"] <= s["start"])]
        rows.sort(key=lambda s: (s["start"], _RANK.get(s["name"], 1), -(s["end"] - s["start"])))
        # a request still in flight when the run ended has no gateway span (it was not released),
        # only the spans of the calls it finished: its track says so
        outcome = next((s["status"] for s in rows if s["name"] == "gateway"), None)
        for s, lane in zip(rows, _lanes(rows)):
            key = (pid, int(req), lane)
            if key not in tid_of:
                tid = int(req) * 8 + lane if lane < 8 else int(req) * 8 + 7
                tid_of[key] = tid
                label = (f"request {int(req)} (parallel {lane})" if lane else f"request {int(req)} {outcome}"
                         if outcome is not None else f"request {int(req)} in flight at the end of the run")
                events.append({"ph": "M", "name": "thread_name", "pid": pid, "tid": tid, "args": {"name": label}})
                events.append({"ph": "M", "name": "thread_sort_index", "pid": pid, "tid": tid,
                               "args": {"sort_index": tid}})
            events.append({"ph": "X", "name": s["name"], "cat": s["component"], "pid": pid, "tid": tid_of[key],
                           "ts": round(float(s["start"]) * 1e6, 3),
                           "dur": round(max(float(s["end"]) - float(s["start"]), 0.0) * 1e6, 3),
                           "args": {"component": s["component"], "attempt": int(s["attempt"]), "status": s["status"],
                                    "request": int(req)}})
    return events


def write_chrome_trace(tr: Trace, out: IO[str], runs: List[Tuple[str, int]]) -> int:
    """Write the JSON object form ({"traceEvents": [...]}); returns the spans written."""
    try:
        events = chrome_events(tr, runs)
    except SpansError as e:
        from .export import ExportError
        raise ExportError(str(e)) from None
    doc = {"traceEvents": events, "displayTimeUnit": "ms",
           "otherData": {"scenario": tr.name, "trace": tr.path, "time_origin": "the run's start",
                         "layout": "docs/trace-format.md#spans"}}
    json.dump(doc, out, separators=(",", ":"))
    out.write("\n")
    return sum(1 for e in events if e["ph"] == "X")
