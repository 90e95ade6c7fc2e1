"""`ragsim replay`: the data the page holds (checked against the trace and hand-made events),
the page itself, and the command line's errors. What the browser shows: replay_browser.py."""

import base64
import json
import os
import re
import subprocess
import sys

import numpy as np
import pytest

from conftest import ANALYSIS
from ragsim_analysis import replay
from ragsim_analysis.trace import Trace


def _decode(enc, n):
    """The page's decoder (replay.js series()), in Python."""
    if "c" in enc:
        return np.full(n, np.nan if enc["c"] is None else enc["c"])
    q = np.frombuffer(base64.b64decode(enc["b"]), dtype="<u2").astype(np.float64)
    out = q * enc["s"] + enc.get("o", 0.0)
    out[q == 65535] = np.nan
    return out


def _py(*args):
    e = dict(os.environ)
    e["PYTHONPATH"] = str(ANALYSIS)
    return subprocess.run([sys.executable, "-m", "ragsim_analysis", *map(str, args)], capture_output=True, text=True,
                          env=e, timeout=600)


def test_encode_series_round_trip():
    rng = np.random.default_rng(7)
    x = rng.uniform(0, 4.3e9, 500)
    x[[3, 77]] = np.nan
    y = _decode(replay.encode_series(x), len(x))
    assert np.array_equal(np.isnan(y), np.isnan(x))
    ok = np.isfinite(x)
    assert np.max(np.abs(y[ok] - x[ok])) <= (np.nanmax(x) - 0) / 130000 * 1.0001
    # counts are exact, negative values too, constants are one number
    q = np.array([0, 1, 200, 199, 1546, 3, 0], dtype=float)
    assert np.array_equal(_decode(replay.encode_series(q), len(q)), q)
    neg = np.array([-5.5, 0.25, 3.0, np.nan])
    d = _decode(replay.encode_series(neg), 4)
    assert np.allclose(d[:3], neg[:3], atol=8.5 / 65000) and np.isnan(d[3])
    assert replay.encode_series(np.full(9, 2.5)) == {"c": 2.5}
    assert replay.encode_series(np.full(3, np.nan)) == {"c": None}


def test_state_intervals_by_hand():
    """Kill, back-off, restart, ready, cold; a first crash restarted at once; per-pod breakers."""
    scn = {"vectordb": {"replicas": 2, "cold_start": {"period": "30s"}},
           "pipeline": {"steps": ["embed", "retrieve", "generate"]}}
    topo = replay.topology(scn, [f"station_queue_length{{station=vectordb,replica={i}}}" for i in range(2)])
    ev = [(100.0, "oom_kill", "vectordb/1"), (100.0, "replica_restarted", "vectordb/1"),
          (110.0, "replica_ready", "vectordb/1"), (120.0, "oom_kill", "vectordb/1"),
          (130.0, "replica_restarted", "vectordb/1"), (140.0, "replica_ready", "vectordb/1"),
          (150.0, "replica_killed", "vectordb/0"),
          (200.0, "breaker_open", "vectordb"), (201.0, "breaker_open", "vectordb@pod2"),
          (205.0, "breaker_half_open", "vectordb"), (206.0, "breaker_closed", "vectordb")]
    nodes, edges = topo["nodes"], topo["edges"]
    by_node, by_edge = replay.state_intervals(ev, nodes, edges, scn, 300.0)
    K, S, C = replay.ST["killed"], replay.ST["starting"], replay.ST["cold"]
    assert by_node["vectordb/1"] == [[100.0, 110.0, S], [110.0, 140.0, C], [120.0, 130.0, K], [130.0, 140.0, S],
                                     [140.0, 170.0, C]]
    assert by_node["vectordb/0"] == [[150.0, 300.0, K]]     # never restarted: killed to the end
    O, H = replay.ST["breaker-open"], replay.ST["breaker-half-open"]
    assert by_edge["gateway>vectordb"] == [[200.0, 205.0, O, 0], [201.0, 300.0, O, 2], [205.0, 206.0, H, 0]]
    assert by_edge["gateway>embedder"] == []


def test_autoscaled_replicas_by_hand():
    """Replicas beyond the configured count: absent, starting from the scale_up to their
    replica_ready, cold, absent again once removed (the Kubernetes HPA's events)."""
    scn = {"vectordb": {"replicas": 2}, "pipeline": {"steps": ["retrieve"]}}
    topo = replay.topology(scn, [f"station_queue_length{{station=vectordb,replica={i}}}" for i in range(4)])
    assert [n["id"] for n in topo["nodes"]] == ["gateway/0", "vectordb/0", "vectordb/1", "vectordb/2", "vectordb/3"]
    ev = [(315.0, "scale_up", "vectordb"), (345.0, "replica_ready", "vectordb/2"), (345.0, "replica_ready", "vectordb/3"),
          (720.0, "scale_down", "vectordb"), (720.5, "replica_removed", "vectordb/3")]
    by_node, _ = replay.state_intervals(ev, topo["nodes"], topo["edges"], scn, 1200.0)
    A, S, C = replay.ST["absent"], replay.ST["starting"], replay.ST["cold"]
    assert by_node["vectordb/2"] == [[0.0, 315.0, A], [315.0, 345.0, S], [345.0, 405.0, C]]
    assert by_node["vectordb/3"] == [[0.0, 315.0, A], [315.0, 345.0, S], [345.0, 405.0, C], [720.5, 1200.0, A]]
    assert by_node["vectordb/0"] == [] and by_node["vectordb/1"] == []


def test_sharded_vector_db_by_hand():
    """vectordb.shards S > 1: one node per shard and replica, named after the shard's replica set
    (vectordb_shard<s>), its queue, utilisation and memory series labelled by shard, and a kill
    event of a shard's replica on that node only."""
    scn = {"vectordb": {"replicas": 2, "shards": 2, "memory": {"limit": "4GiB"}}, "pipeline": {"steps": ["retrieve"]}}
    names = [f"station_queue_length{{station=vectordb_shard{s},replica={i}}}" for s in range(2) for i in range(2)]
    topo = replay.topology(scn, names)
    ids = [n["id"] for n in topo["nodes"]]
    assert ids == ["gateway/0", "vectordb_shard0/0", "vectordb_shard0/1", "vectordb_shard1/0", "vectordb_shard1/1"]
    n = next(n for n in topo["nodes"] if n["id"] == "vectordb_shard1/0")
    assert n["series"] == {"queue": "station_queue_length{station=vectordb_shard1,replica=0}",
                           "util": "station_utilization_ratio{station=vectordb_shard1,replica=0}",
                           "mem": "vectordb_memory_bytes{shard=1,replica=0}"}
    assert n["comp"] == "vectordb" and n["label"] == "shard 1 r0"
    edge = next(e for e in topo["edges"] if e["to"] == "vectordb")
    assert edge["arrivals"] == []   # none of the shards' arrival series is in this trace
    ev = [(398.5, "oom_kill", "vectordb_shard1/0"), (408.5, "replica_restarted", "vectordb_shard1/0")]
    by_node, _ = replay.state_intervals(ev, topo["nodes"], topo["edges"], scn, 600.0)
    assert by_node["vectordb_shard1/0"][0] == [398.5, 408.5, replay.ST["killed"]]
    assert by_node["vectordb_shard0/0"] == [] and by_node["vectordb_shard1/1"] == []


def test_topology_of_the_avalanche(compare_trace, tmp_path):
    """Every replica of the avalanche's components is a node; the calls are the edges."""
    with Trace(str(compare_trace[0])) as tr:
        names = tr.series_names()
        topo = replay.topology(tr.scenario("breaker"), names)
    ids = [n["id"] for n in topo["nodes"]]
    assert ids == ["gateway/0", "gateway/1", "gateway/2", "gateway/3", "embedder", "vectordb/0", "vectordb/1", "llm",
                   "guardrail/0", "guardrail/1", "guardrail/2", "guardrail/3", "keyword_search/0", "keyword_search/1"]
    assert [(e["call"], e["to"]) for e in topo["edges"]] == [
        ("embed", "embedder"), ("retrieve", "vectordb"), ("generate", "llm"), ("guardrail", "guardrail"),
        ("fallback", "keyword_search")]
    vdb = next(n for n in topo["nodes"] if n["id"] == "vectordb/1")
    assert vdb["memlimit"] == 4 * 1024 ** 3 and vdb["servers"] == 2
    assert len({(n["x"], n["y"]) for n in topo["nodes"]}) == len(ids)   # no two nodes on one spot


def test_page_data_matches_the_trace(compare_trace, tmp_path):
    path, data = replay.write_replay(str(compare_trace[0]), str(tmp_path / "r"), ["rate_limit", "breaker"], rep=1)
    page = open(path, encoding="utf-8").read()
    assert page.startswith("<!DOCTYPE html>") and page.rstrip().endswith("</html>")
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", page)
    m = re.search(r'<script id="replay-data" type="application/json">(.*?)</script>', page, re.S)
    d = json.loads(m.group(1))
    assert [p["variant"] for p in d["panels"]] == ["rate_limit", "breaker"]
    with Trace(str(compare_trace[0])) as tr:
        for p in d["panels"]:
            assert p["replication"] == 1
            s = tr.series("station_queue_length{station=vectordb,replica=0}", p["variant"])
            row = s.values[s.replications.index(1)]
            node = next(n for n in p["nodes"] if n["id"] == "vectordb/0")
            assert np.array_equal(_decode(node["s"]["queue"], p["n"]), row)
            mem = tr.series("vectordb_memory_bytes{replica=0}", p["variant"]).values[1]
            assert np.allclose(_decode(node["s"]["mem"], p["n"]), mem, atol=np.nanmax(mem) / 60000)
            # the edge's rate is the replicas' arrivals
            arr = sum(tr.series(f"station_arrivals_per_second{{station=vectordb,replica={i}}}", p["variant"]).values[1]
                      for i in range(2))
            e = next(e for e in p["edges"] if e["to"] == "vectordb")
            assert np.allclose(_decode(e["rate"], p["n"]), arr, rtol=1e-4, atol=np.nanmax(arr) / 60000)
            # the events, run_start and run_end left out
            ev = tr.events([p["variant"]])
            ev = ev[(ev["replication"] == 1) & ~ev["kind"].isin(["run_start", "run_end"])]
            assert [e[1] for e in p["events"]] == list(ev["kind"])
            # the sampled requests: every call span of the run, sorted by start
            sp = tr.spans([p["variant"]])
            sp = sp[(sp["replication"] == 1) & sp["name"].isin(["embed", "retrieve", "generate", "dependency"])]
            S = p["spans"]
            assert S["n"] == len(sp) and S["requests_shown"] == sp["request"].nunique()
            st = np.frombuffer(base64.b64decode(S["start"]), "<f8" if S["f8"] else "<f4")
            assert np.all(np.diff(st) >= 0)
            assert np.allclose(np.sort(st), np.sort(sp["start"].to_numpy()), atol=1e-3)
    # the breaker variant's breaker opens: its intervals are in the page
    br = d["panels"][1]
    assert any(e[1] == "breaker_open" for e in br["events"])
    assert any(e["iv"] for e in br["edges"] if e["to"] == "vectordb")


def test_max_requests_thins_the_sample(compare_trace, tmp_path):
    _, data = replay.write_replay(str(compare_trace[0]), str(tmp_path / "r"), ["rate_limit"], max_requests=50)
    S = data["panels"][0]["spans"]
    assert S["requests_total"] > 50 and 25 <= S["requests_shown"] <= 50


def test_command_line(compare_trace, network_trace, tmp_path):
    trace = compare_trace[0]
    p = _py("replay", trace, "-o", tmp_path / "ok", "--variants", "breaker")
    assert p.returncode == 0, p.stderr
    assert re.match(r"replay: .*replay\.html \(\d+ KiB; breaker, replication 0; 480 samples of 1 s, 14 nodes, \d+ events, "
                    r"\d+ sampled requests\)", p.stdout), p.stdout
    assert sorted(os.listdir(tmp_path / "ok")) == ["replay.html"]
    p = _py("replay", trace, "-o", tmp_path / "x", "--variants", "nope")
    assert p.returncode == 2 and "no variant 'nope'" in p.stderr and not (tmp_path / "x").exists()
    p = _py("replay", trace, "-o", tmp_path / "x", "--rep", "9")
    assert p.returncode == 2 and "no replication 9" in p.stderr
    p = _py("replay", trace, "--variants", "a,b,c")
    assert p.returncode == 2 and "one or two" in p.stderr
    p = _py("replay", network_trace, "-o", tmp_path / "x")
    assert p.returncode == 2 and "network model" in p.stderr
    p = _py("replay", tmp_path / "missing.h5")
    assert p.returncode == 2 and "no such file" in p.stderr
    # an output that is a file is refused; the page is not written over a directory
    (tmp_path / "f").write_text("keep")
    p = _py("replay", trace, "-o", tmp_path / "f")
    assert p.returncode == 2 and (tmp_path / "f").read_text() == "keep"
    os.makedirs(tmp_path / "d" / "replay.html")
    p = _py("replay", trace, "-o", tmp_path / "d")
    assert p.returncode == 2 and "not a regular file" in p.stderr
