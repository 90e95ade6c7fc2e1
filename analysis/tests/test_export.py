"""`ragsim export`: every format checked by the tool that reads it.

OpenMetrics by `promtool tsdb create-blocks-from openmetrics` and a dump of
the block; promtool test files by `promtool test rules` with firing times
computed here from the trace; Chrome trace JSON by its schema and by the
nesting of the spans against the requests table. promtool is Debian's
`prometheus` package: the promtool tests are skipped without it.
"""

import csv
import io
import json
import math
import os
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from conftest import SOURCE, _ragsim
from ragsim_analysis.trace import Trace

PROMTOOL = shutil.which("promtool")
needs_promtool = pytest.mark.skipif(PROMTOOL is None, reason="promtool missing (Debian package prometheus)")
RULES = SOURCE / "docs/observability/alert-rules.yml"
START = "2026-01-01T00:00:00Z"
START_MS = 1767225600000


@pytest.fixture(scope="module")
def incident(binary, tmp_path_factory):
    """The order incident (docs/incident-2023q4.md), its ungoverned variant, one replication:
    the inventory configuration is pushed at 25 min and success falls to ~61%."""
    out = tmp_path_factory.mktemp("inc") / "incident.h5"
    _ragsim(binary, "run", SOURCE / "scenarios/incident-2023q4.yaml", "-o", out, "--reps", 1,
            "--variants", "ungoverned", "--set", "duration=45m", "-q")
    return out


@pytest.fixture(scope="module")
def avalanche(binary, tmp_path_factory):
    """The vector-DB avalanche, naive gateway, 10 minutes (first OOM kill at about 6.5 min)."""
    out = tmp_path_factory.mktemp("av") / "avalanche.h5"
    _ragsim(binary, "run", SOURCE / "scenarios/trap-vectordb-avalanche.yaml", "-o", out, "--reps", 1,
            "--variants", "naive", "--set", "duration=10m", "-q")
    return out


def export(binary, *args, check=True):
    p = subprocess.run([str(binary), "export", *map(str, args)], capture_output=True, text=True, timeout=300)
    if check:
        assert p.returncode == 0, p.stderr
    return p


def promtool(*args):
    return subprocess.run([PROMTOOL, *map(str, args)], capture_output=True, text=True, timeout=300)


def series_row(tr, name, variant):
    s = tr.series(name, variant)
    return s.t, s.values[0]


# -- the histogram series -------------------------------------------------------------------

def test_latency_histogram_matches_summary(avalanche):
    """With no warm-up the cumulative histogram at the end counts every answered request of
    the summary, its sum / count is the summary's exact mean, and buckets never decrease."""
    with Trace(avalanche) as tr:
        s = tr.summary().iloc[0]
        assert tr.attrs["warmup_s"] == 0
        _, count = series_row(tr, "request_latency_seconds_count", "naive")
        _, total = series_row(tr, "request_latency_seconds_sum", "naive")
        assert count[-1] == s["success"] + s["degraded"]
        assert total[-1] / count[-1] == pytest.approx(s["latency_mean_s"], rel=1e-6)
        les = ["0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1", "2", "3", "5", "10", "30", "60", "+Inf"]
        rows = np.array([series_row(tr, f"rag_retrieval_latency_seconds_bucket{{le={le}}}", "naive")[1] for le in les])
        assert (np.diff(rows, axis=0) >= 0).all()           # cumulative over le
        assert (np.diff(rows, axis=1) >= 0).all()           # counters over time
        _, rc = series_row(tr, "rag_retrieval_latency_seconds_count", "naive")
        assert (rows[-1] == rc).all()


# -- OpenMetrics ------------------------------------------------------------------------------

@needs_promtool
def test_openmetrics_blocks(binary, incident, tmp_path):
    om = tmp_path / "incident.om"
    export(binary, incident, "--format", "openmetrics", "--start", START, "-o", om)
    text = om.read_text()
    assert text.endswith("# EOF\n")
    assert "# TYPE request_latency_seconds histogram" in text
    assert "# TYPE dependency_latency_seconds histogram" in text
    blocks = tmp_path / "blocks"
    p = promtool("tsdb", "create-blocks-from", "openmetrics", om, blocks)
    assert p.returncode == 0, p.stdout + p.stderr
    # the block's samples, read back: success_ratio as in the trace, at start + t
    (blocks / "wal").mkdir(exist_ok=True)
    p = promtool("tsdb", "dump", "--match", 'success_ratio{variant="ungoverned"}', blocks)
    assert p.returncode == 0, p.stderr
    got = {}
    for line in p.stdout.splitlines():
        _, value, ts = line.rsplit(" ", 2)
        got[int(ts)] = float(value)
    with Trace(incident) as tr:
        t, v = series_row(tr, "success_ratio", "ungoverned")
    want = {START_MS + int(round(x * 1000)): y for x, y in zip(t, v) if np.isfinite(y)}
    assert got == want
    # a histogram's buckets arrive as series with an le label
    p = promtool("tsdb", "dump", "--match", 'dependency_latency_seconds_bucket{dependency="risk_control",le="+Inf"}',
                 blocks)
    assert p.returncode == 0 and p.stdout.count("\n") == len(t), p.stderr


def test_openmetrics_refuses_bad_input(binary, incident, tmp_path):
    p = export(binary, incident, "--format", "openmetrics", "--start", "yesterday", check=False)
    assert p.returncode == 2 and "RFC 3339" in p.stderr
    out = tmp_path / "x.om"
    out.write_text("keep")
    p = export(binary, incident, "--format", "openmetrics", "-o", out, check=False)
    assert p.returncode == 2 and "--force" in p.stderr and out.read_text() == "keep"
    p = export(binary, incident, "--format", "openmetrics", "-o", incident, "--force", check=False)
    assert p.returncode == 2 and "input" in p.stderr
    p = export(binary, incident, "--format", "csv", "--rules", RULES, check=False)
    assert p.returncode == 2 and "promtool-test" in p.stderr


# -- promtool test rules ------------------------------------------------------------------------

def _window_mean(t, v, end, width):
    """Prometheus' avg_over_time(x[width]) at `end`: the samples in [end - width, end]."""
    sel = (t >= end - width - 1e-9) & (t <= end + 1e-9) & np.isfinite(v)
    return v[sel].mean() if sel.any() else math.nan


def burn_rate_first_firing(tr, variant, budget=0.01, factor=14.4):
    """First evaluation minute at which SuccessRatioBurnRatePage's expression holds,
    computed from the trace with the rule's arithmetic (no for: fires at once)."""
    names = [n for n in tr.series_names() if n.startswith("requests_per_second{")]
    rows = {n: series_row(tr, n, variant) for n in names}
    t = next(iter(rows.values()))[0]

    def err(end, width):
        ok = _window_mean(*rows["requests_per_second{outcome=success}"], end, width)
        allr = sum(_window_mean(tt, v, end, width) for tt, v in rows.values())
        return 1 - ok / allr

    for minute in range(1, int(t[-1] // 60) + 1):
        end = minute * 60.0
        if err(end, 3600) > factor * budget and err(end, 300) > factor * budget:
            return minute
    return None


def run_promtool_test(binary, trace, tmp_path, *expect):
    test = tmp_path / "test.yml"
    shutil.copy(RULES, tmp_path / "rules.yml")
    export(binary, trace, "--format", "promtool-test", "--rules", tmp_path / "rules.yml", "-o", test, "--force", *expect)
    return promtool("test", "rules", test)


@needs_promtool
def test_burn_rate_alert_on_the_incident(binary, incident, tmp_path):
    """The page fires at the minute the rule's arithmetic on the trace says, after the push
    at 25 min and not before it; a wrong expectation fails promtool."""
    with Trace(incident) as tr:
        first = burn_rate_first_firing(tr, "ungoverned")
    assert first is not None and 25 < first <= 35, first
    p = run_promtool_test(binary, incident, tmp_path, "--expect-quiet", f"SuccessRatioBurnRatePage@0m..{first - 1}m",
                          "--expect-firing", f"SuccessRatioBurnRatePage@{first}m",
                          "--expect-firing", f"SuccessRatioBurnRatePage@{first + 5}m")
    assert p.returncode == 0 and "SUCCESS" in p.stdout, p.stdout + p.stderr
    p = run_promtool_test(binary, incident, tmp_path, "--expect-firing", f"SuccessRatioBurnRatePage@{first - 1}m")
    assert p.returncode != 0 and "FAILED" in p.stdout + p.stderr
    p = run_promtool_test(binary, incident, tmp_path, "--expect-quiet", f"SuccessRatioBurnRatePage@0m..{first}m")
    assert p.returncode != 0


@needs_promtool
def test_avalanche_signature_alert(binary, avalanche, tmp_path):
    """RetrievalAvalancheSignature (p95 from the histogram > 2 s and empty ratio > 0.35, for 1m)
    stays quiet while the vector DB is healthy and fires within 5 minutes of its first OOM kill."""
    with Trace(avalanche) as tr:
        ev = tr.events()
        oom = float(ev[ev["kind"] == "oom_kill"]["time"].min())
    assert 5 * 60 < oom < 8 * 60, oom
    healthy_end = int(oom // 60)                      # the last whole minute before the kill
    p = run_promtool_test(binary, avalanche, tmp_path, "--expect-quiet", f"RetrievalAvalancheSignature@0m..{healthy_end}m")
    assert p.returncode == 0 and "SUCCESS" in p.stdout, p.stdout + p.stderr
    # fires at some minute within 5 minutes of the kill (the 10-minute run's
    # last full minute at most: the signature may clear as replicas restart)
    minutes = range(healthy_end + 1, min(int(math.ceil((oom + 5 * 60) / 60)), 9) + 1)
    fired = [m for m in minutes
             if "SUCCESS" in run_promtool_test(binary, avalanche, tmp_path,
                                               "--expect-firing", f"RetrievalAvalancheSignature@{m}m").stdout]
    assert fired, f"not firing at any of minutes {list(minutes)} (first OOM kill at {oom:.1f} s)"


def test_promtool_test_bad_input(binary, incident, tmp_path):
    p = export(binary, incident, "--format", "promtool-test", check=False)
    assert p.returncode == 2 and "--rules" in p.stderr
    p = export(binary, incident, "--format", "promtool-test", "--rules", RULES, "--expect-firing", "NoSuchAlert@5m",
               check=False)
    assert p.returncode == 2 and "NoSuchAlert" in p.stderr
    p = export(binary, incident, "--format", "promtool-test", "--rules", RULES, "--expect-quiet",
               "SuccessRatioBurnRatePage@5m", check=False)
    assert p.returncode == 2 and "FROM..TO" in p.stderr
    bad = tmp_path / "bad.yml"
    bad.write_text("groups: [\n")
    p = export(binary, incident, "--format", "promtool-test", "--rules", bad, check=False)
    assert p.returncode == 2 and "bad.yml:" in p.stderr


# -- CSV ----------------------------------------------------------------------------------

def test_csv_summary(binary, incident):
    p = export(binary, incident, "--format", "csv")
    rows = list(csv.DictReader(io.StringIO(p.stdout)))
    with Trace(incident) as tr:
        s = tr.summary()
    assert len(rows) == len(s) == 1
    assert rows[0]["variant"] == "ungoverned"
    assert float(rows[0]["success_ratio"]) == s["success_ratio"].iloc[0]


# -- the Grafana dashboard ------------------------------------------------------------------

@needs_promtool
def test_grafana_dashboard_queries(avalanche, tmp_path):
    """Every query of the shipped dashboard is valid PromQL (promtool checks it as a recording
    rule, the template variables replaced) and names only metrics the export has."""
    import re
    import yaml
    from ragsim_analysis.trace import parse_series_name
    dash = json.loads((SOURCE / "docs/observability/grafana-dashboard.json").read_text())
    exprs = [t["expr"] for p in dash["panels"] for t in p["targets"]]
    assert len(exprs) >= 10
    rules = {"groups": [{"name": "dashboard", "rules": [
        {"record": f"dashboard:q{i}", "expr": e.replace("$variant", ".*").replace("$replication", ".*")}
        for i, e in enumerate(exprs)]}]}
    f = tmp_path / "dashboard-rules.yml"
    f.write_text(yaml.safe_dump(rules))
    p = promtool("check", "rules", f)
    assert p.returncode == 0, p.stdout + p.stderr
    with Trace(avalanche) as tr:
        have = {parse_series_name(n)[0] for n in tr.series_names()}
    used = {m for e in exprs for m in re.findall(r"([a-zA-Z_:][a-zA-Z0-9_:]*)\{", e)} - {"by"}
    assert used and used <= have, used - have


# -- request spans --------------------------------------------------------------------------

def test_spans_table_matches_requests(avalanche):
    """The spans of each sampled request against its record: the gateway span runs from
    arrival to release, a single retrieval attempt lasts the request's retrieve_s, the LLM's
    phases tile its generate span (queue, prefill, decode) and every call lies in the gateway span."""
    with Trace(avalanche) as tr:
        req = tr.requests().set_index("id")
        sp = tr.spans()
    assert len(req) > 100 and len(sp) > 5 * len(req) // 2
    assert set(req.index) <= set(sp["request"])
    # calls of requests still held at the end of the run have spans, but no gateway span
    unreleased = sp[~sp["request"].isin(req.index)]
    assert not (unreleased["name"] == "gateway").any()
    # every check below, on the first 300 sampled requests (the loop is per request)
    for rid, g in sp[sp["request"].isin(req.index[:300])].groupby("request"):
        r = req.loc[rid]
        gw = g[g["name"] == "gateway"]
        assert len(gw) == 1
        gw = gw.iloc[0]
        assert gw["start"] == r["arrival"] and gw["end"] == r["released"] and gw["status"] == r["outcome"]
        calls = g[g["name"].isin(["embed", "retrieve", "generate", "dependency"])]
        assert (calls["start"] >= gw["start"]).all() and (calls["end"] <= gw["end"]).all()
        ret = g[g["name"] == "retrieve"]
        if len(ret) == 1 and np.isfinite(r["retrieve_s"]):
            assert ret["end"].iloc[0] - ret["start"].iloc[0] == pytest.approx(r["retrieve_s"], rel=1e-6, abs=1e-7)
        for _, gen in g[g["name"] == "generate"].iterrows():
            ph = g[g["name"].isin(["llm_queue", "prefill", "decode"]) & (g["attempt"] == gen["attempt"])]
            ph = ph.sort_values("start")
            assert ph["name"].iloc[0] == "llm_queue" and ph["start"].iloc[0] == gen["start"]
            assert list(ph["start"].iloc[1:]) == list(ph["end"].iloc[:-1])    # contiguous
            assert ph["end"].iloc[-1] == gen["end"]


def test_chrome_trace_schema_and_nesting(binary, avalanche, tmp_path):
    out = tmp_path / "spans.json"
    export(binary, avalanche, "--format", "chrome-trace", "-o", out)
    doc = json.loads(out.read_text())
    ev = doc["traceEvents"]
    xs = [e for e in ev if e["ph"] == "X"]
    meta = [e for e in ev if e["ph"] == "M"]
    assert xs and meta
    for e in xs:
        assert isinstance(e["name"], str) and isinstance(e["pid"], int) and isinstance(e["tid"], int)
        assert e["ts"] >= 0 and e["dur"] >= 0 and set(e["args"]) >= {"component", "attempt", "status", "request"}
    names = {(e["pid"], e["tid"]): e["args"]["name"] for e in meta if e["name"] == "thread_name"}
    assert {(e["pid"], e["tid"]) for e in xs} <= set(names)
    # every track nests: sorted by start (then longer first), each slice lies inside the
    # enclosing open slice or after it
    tracks = {}
    for e in xs:
        tracks.setdefault((e["pid"], e["tid"]), []).append(e)
    for key, es in tracks.items():
        es.sort(key=lambda e: (e["ts"], -e["dur"]))
        stack = []
        for e in es:
            while stack and stack[-1] <= e["ts"] + 1e-3 and not (stack[-1] > e["ts"] and e["dur"] == 0):
                stack.pop()
            if stack:
                assert e["ts"] + e["dur"] <= stack[-1] + 1e-3, (names[key], e)
            stack.append(e["ts"] + e["dur"])
    # the LLM phases sit inside their generate span, on the same track
    by_req = {}
    for e in xs:
        by_req.setdefault((e["args"]["request"], e["args"]["attempt"]), []).append(e)
    phases = 0
    for es in by_req.values():
        gen = [e for e in es if e["name"] == "generate"]
        for p in (e for e in es if e["name"] in ("llm_queue", "prefill", "decode")):
            phases += 1
            assert len(gen) == 1 and gen[0]["tid"] == p["tid"]
            assert gen[0]["ts"] - 1e-3 <= p["ts"] and p["ts"] + p["dur"] <= gen[0]["ts"] + gen[0]["dur"] + 1e-3
    assert phases > 0
    with Trace(avalanche) as tr:
        sp = tr.spans()
    zero_phase = sp["name"].isin(["llm_queue", "prefill", "decode"]) & (sp["end"] <= sp["start"])
    assert len(xs) == len(sp) - zero_phase.sum()
