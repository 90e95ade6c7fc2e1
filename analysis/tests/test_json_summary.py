"""`ragsim run --json` and `ragsim compare --json`: the document the binary prints is valid
against the schema shipped in docs/schema/, and every value in it is the trace's (the
/summary row of each run, the /comparison row of each (variant, metric)); the intervals
are the Student-t ones computed here by hand."""

import json
import math
import subprocess

import h5py
import jsonschema
import numpy as np
import pytest

from conftest import SOURCE

SCHEMA = json.loads((SOURCE / "docs/schema/ragsim-summary.schema.json").read_text())

# Student-t quantiles t_{0.975, n-1} (tables; GSL's gsl_cdf_tdist_Pinv gives the same)
T975 = {2: 12.706204736174698, 3: 4.302652729911275, 4: 3.182446305284263}


def ragsim(binary, *args, status=0):
    p = subprocess.run([str(binary), *map(str, args)], capture_output=True, text=True, timeout=600)
    assert p.returncode == status, f"ragsim {' '.join(map(str, args))}: {p.returncode}\n{p.stderr}"
    return p


def same(a, b):
    """JSON's null is the trace's NaN; numbers are written with 17 digits: bit-identical."""
    if a is None:
        return math.isnan(b)
    return a == b


def decoded(x):
    return x.decode() if isinstance(x, bytes) else str(x)


def check_interval(m, values):
    v = [x for x in values if x is not None]
    assert m["n"] == len(v)
    if not v:
        assert m["mean"] is None
        return
    assert m["mean"] == pytest.approx(sum(v) / len(v), rel=1e-12, abs=1e-300)
    if len(v) < 2:
        assert m["half_width"] is None
        return
    hw = T975[len(v)] * float(np.std(v, ddof=1)) / math.sqrt(len(v))
    assert m["half_width"] == pytest.approx(hw, rel=1e-9, abs=1e-12)
    assert m["ci_low"] == pytest.approx(m["mean"] - m["half_width"], rel=1e-12, abs=1e-12)
    assert m["ci_high"] == pytest.approx(m["mean"] + m["half_width"], rel=1e-12, abs=1e-12)


def check_against_trace(doc, trace):
    with h5py.File(trace, "r") as f:
        summ = f["summary"][()]
        names = summ.dtype.names
        variants = [decoded(x) for x in summ["variant"]]
        for var in doc["variants"]:
            rows = [i for i, v in enumerate(variants) if v == var["name"]]
            assert len(rows) == len(var["runs"]) == doc["replications"]
            for r, i in enumerate(rows):
                run = var["runs"][r]
                assert run["replication"] == summ["replication"][i] == r
                assert run["seed"] == summ["seed"][i]
                assert run["sim_seconds"] == summ["sim_seconds"][i]
                assert run["events_processed"] == summ["events_processed"][i]
            assert [m["name"] for m in var["metrics"]] == list(names[5:])
            for m in var["metrics"]:
                for r, i in enumerate(rows):
                    assert same(m["values"][r], float(summ[m["name"]][i])), (var["name"], m["name"], r)
                check_interval(m, m["values"])
        # the units the trace gives its columns
        units = [decoded(u) for u in f["summary"].attrs["units"]]
        for var in doc["variants"]:
            for m in var["metrics"]:
                u = units[names.index(m["name"])]
                assert m["unit"] == (u if u in ("s", "bytes", "1/s") else "1"), m["name"]
        if doc["command"] == "compare":
            comp = f["comparison"][()]
            assert len(comp) == len(doc["comparison"]["rows"])
            for row, c in zip(doc["comparison"]["rows"], comp):
                assert row["variant"] == decoded(c["variant"]) and row["metric"] == decoded(c["metric"])
                assert row["unit"] == decoded(c["unit"])
                for k in ("mean", "ci_low", "ci_high", "diff", "diff_ci_low", "diff_ci_high"):
                    assert same(row[k], float(c[k])), (row["variant"], row["metric"], k)
                assert row["n"] == c["n"] and row["n_paired"] == c["n_paired"]
                assert row["direction"] == c["direction"]
                assert row["significant"] == bool(c["significant"])
                assert row["verdict"] == {1: "better", -1: "worse", 0: "same"}[int(c["verdict"])]
                assert row["not_recovered"] == c["not_recovered"]
        else:
            assert "comparison" not in f


def test_run_json_on_stdout(binary, tmp_path):
    out = tmp_path / "mm1.h5"
    p = ragsim(binary, "run", SOURCE / "scenarios/validation/mm1.yaml", "--reps", 3, "--set", "duration=400s",
               "-o", out, "--json")
    doc = json.loads(p.stdout)   # stdout holds the document only
    jsonschema.validate(doc, SCHEMA)
    assert doc["command"] == "run" and doc["replications"] == 3 and doc["trace"] == str(out)
    assert doc["duration_s"] == 400 and doc["scenario"]["model"] == "network"
    (var,) = doc["variants"]
    assert var["baseline"] and var["tables"], "the printed summary's tables are in the document"
    check_against_trace(doc, out)
    # the stations' tables carry their units too; the M/M/1 station is busy rho of the time
    util = [t for t in var["tables"] if t["column"] == "utilization"]
    assert util and all(t["unit"] == "1" and 0 <= t["mean"] <= 1 for t in util)


def test_compare_json_file(binary, tmp_path):
    out, js = tmp_path / "retry.h5", tmp_path / "retry.json"
    p = ragsim(binary, "compare", SOURCE / "scenarios/validation/metastable-retry.yaml", "--reps", 2,
               "--set", "duration=60s", "-o", out, f"--json={js}")
    assert "paired" in p.stdout or "baseline" in p.stdout, "the printed comparison stays on stdout"
    doc = json.loads(js.read_text())
    jsonschema.validate(doc, SCHEMA)
    assert doc["command"] == "compare" and len(doc["variants"]) >= 2
    assert doc["comparison"]["baseline"] == next(v["name"] for v in doc["variants"] if v["baseline"])
    check_against_trace(doc, out)
    # the baseline's rows: difference 0 by construction (null: the metric has no value), and 'same'
    base = doc["comparison"]["baseline"]
    brows = [r for r in doc["comparison"]["rows"] if r["variant"] == base]
    assert brows and all(r["verdict"] == "same" for r in brows)
    assert all(r["diff"] == 0 for r in brows if r["mean"] is not None)
    assert all(r["diff"] is None for r in brows if r["mean"] is None)
    # the same command and seed, -j 1 and -j 2: the same document apart from the trace's name
    js2 = tmp_path / "retry2.json"
    ragsim(binary, "compare", SOURCE / "scenarios/validation/metastable-retry.yaml", "--reps", 2,
           "--set", "duration=60s", "--no-trace", "-j", 2, f"--json={js2}", "-q")
    doc2 = json.loads(js2.read_text())
    assert doc2["trace"] is None
    doc2["trace"] = doc["trace"]
    assert doc2 == doc


def test_json_output_rules(binary, tmp_path):
    sc = SOURCE / "scenarios/validation/mm1.yaml"
    js = tmp_path / "s.json"
    js.write_text("keep me\n")
    # an existing file is not replaced without --force; nothing runs, nothing is written
    p = ragsim(binary, "run", sc, "--reps", 1, "--set", "duration=400s", "--no-trace", f"--json={js}", status=2)
    assert "already exists" in p.stderr and js.read_text() == "keep me\n"
    ragsim(binary, "run", sc, "--reps", 1, "--set", "duration=400s", "--no-trace", f"--json={js}", "--force", "-q")
    jsonschema.validate(json.loads(js.read_text()), SCHEMA)
    assert not list(tmp_path.glob("s.json.tmp-*")), "no temporary file is left"
    # the trace and the summary cannot be the same file
    p = ragsim(binary, "run", sc, "-o", tmp_path / "x.h5", f"--json={tmp_path / 'x.h5'}", status=2)
    assert "trace file too" in p.stderr and not (tmp_path / "x.h5").exists()
    # --json= without a name, and --json FILE with a space
    p = ragsim(binary, "run", sc, "--json=", status=2)
    assert "--json= needs a file name" in p.stderr
    p = ragsim(binary, "run", "--json", tmp_path / "y.json", sc, status=2)
    assert "--json=FILE" in p.stderr
    # validate takes none of it
    p = ragsim(binary, "validate", sc, "--json", status=2)
    assert "validate takes only" in p.stderr


SWEEP_SCHEMA = json.loads((SOURCE / "docs/schema/ragsim-sweep-summary.schema.json").read_text())


def test_sweep_json_against_the_output(binary, tmp_path):
    sw = tmp_path / "small.yaml"
    sw.write_text(f"scenario: {SOURCE.resolve()}/scenarios/rag-baseline.yaml\n"
                  "set: {duration: 30s, warmup: 5s}\n"
                  "axes:\n"
                  "  workload.rate: [30/s, 60/s, 90/s]\n"
                  "  vectordb.memory.limit: [4GiB, 8GiB]\n"
                  "replications: 2\n")
    out = tmp_path / "small.h5"
    p = ragsim(binary, "sweep", sw, "-o", out, "--json")
    doc = json.loads(p.stdout)
    jsonschema.validate(doc, SWEEP_SCHEMA)
    assert doc["load_axis"] == "workload.rate" and doc["load_unit"] == "1/s"
    assert [a["values"] for a in doc["axes"]] == [[30, 60, 90], [4 * 2**30, 8 * 2**30]]
    assert len(doc["points"]) == 6 and len(doc["capacity"]) == 2
    with h5py.File(out, "r") as f:
        s = f["sweep/summary"]
        for i, pt in enumerate(doc["points"]):
            assert pt["n"] == s["n"][i] == 2
            for path, v in pt["axes"].items():
                assert v == s["axes"][path][i]
            for m in pt["metrics"]:
                assert same(m["mean"], float(s["mean"][m["name"]][i])), m["name"]
                assert same(m["half_width"], float(s["hw"][m["name"]][i])), m["name"]
                assert m["unit"] == decoded(s["mean"][m["name"]].attrs["unit"]), m["name"]
        c = f["sweep/capacity"]
        for i, cap in enumerate(doc["capacity"]):
            for k in ("max_load", "max_load_lo", "max_load_hi", "success_ratio", "latency_p95_s", "knee_load"):
                assert same(cap[k], float(c[k][i])), k
            assert cap["top_meets"] == bool(c["top_meets"][i])
            assert cap["axes"]["vectordb.memory.limit"] == c["axes"]["vectordb.memory.limit"][i]
    # -j 2 into a file: the same document (the output's name aside); the tables stay on stdout
    js = tmp_path / "s.json"
    p = ragsim(binary, "sweep", sw, "-o", tmp_path / "j2.h5", "-j", 2, f"--json={js}")
    assert "capacity" in p.stdout
    doc2 = json.loads(js.read_text())
    doc2["output"] = doc["output"]
    assert doc2 == doc
    # an existing summary is kept without --force
    before = js.read_bytes()
    p = ragsim(binary, "sweep", sw, "-o", tmp_path / "j3.h5", f"--json={js}", status=2)
    assert "already exists" in p.stderr and js.read_bytes() == before and not (tmp_path / "j3.h5").exists()


MAP_SCHEMA = json.loads((SOURCE / "docs/schema/ragsim-map-summary.schema.json").read_text())


def test_map_json_against_the_output(binary, tmp_path):
    out = tmp_path / "m.h5"
    p = ragsim(binary, "map", SOURCE.resolve() / "scenarios/validation/metastable-retry.yaml",
               "--load", "workload.rate=[60/s, 140/s]", "--trigger", "faults.0.for=[1s, 20s]",
               "--variants", "naive,retry_throttling", "--reps", 2, "-o", out, "--json")
    doc = json.loads(p.stdout)
    jsonschema.validate(doc, MAP_SCHEMA)
    classes = ["recovers", "metastable", "overloaded"]
    status = ["bracketed", "every value recovers", "no value recovers"]
    with h5py.File(out, "r") as f:
        names = [decoded(x) for x in f["map/variants"]["name"]]
        assert doc["variants"] == names and doc["load_unit"] == "1/s" and doc["trigger_unit"] == "s"
        cells = f["map/cells"][()]
        assert len(cells) == len(doc["cells"]) == 8
        for c, row in zip(doc["cells"], cells):
            assert c["variant"] == names[row["variant"]]
            for k in ("load", "trigger", "p_not_recovering", "p_lo", "p_hi", "recovery_time_median_s",
                      "recovery_time_p90_s", "recovery_time_max_s"):
                assert same(c[k], float(row[k])), k
            assert (c["n"], c["n_overloaded"], c["n_not_recovered"]) == (row["n"], row["n_overloaded"],
                                                                         row["n_not_recovered"])
            assert c["class"] == classes[row["class"]]
            # the Wilson interval around the probability, inside [0, 1]
            assert 0 <= c["p_lo"] <= c["p_not_recovering"] <= c["p_hi"] <= 1
        b = f["map/boundary"][()]
        assert len(b) == len(doc["boundary"]) > 0
        for d, row in zip(doc["boundary"], b):
            assert d["variant"] == names[row["variant"]] and d["along"] == decoded(row["along"])
            assert d["status"] == status[row["status"]]
            for k in ("fixed", "recovers_at", "fails_at", "boundary", "p_recovers_at", "p_fails_at"):
                assert same(d[k], float(row[k])), k
