"""ragsim_analysis.mapplot on a real map and a real sensitivity output written by the binary."""
import os
import subprocess
import sys

import numpy as np
import pytest

from ragsim_analysis import mapplot

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE = os.path.dirname(os.path.dirname(HERE))
BINARY = os.environ.get("RAGSIM_BINARY", os.path.join(SOURCE, "build", "ragsim"))


def _need_binary():
    if not os.access(BINARY, os.X_OK):
        pytest.skip(f"no ragsim binary at {BINARY} (set RAGSIM_BINARY)")


@pytest.fixture(scope="module")
def map_h5(tmp_path_factory):
    _need_binary()
    out = tmp_path_factory.mktemp("map") / "m.h5"
    r = subprocess.run([BINARY, "map", f"{SOURCE}/scenarios/validation/metastable-retry.yaml",
                        "--load", "workload.rate=[60/s, 140/s]", "--trigger", "faults.0.for=[1s, 20s]",
                        "--variants", "naive,retry_throttling", "--reps", "2",
                        "-o", str(out), "-q"], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    return str(out)


@pytest.fixture(scope="module")
def sens_h5(tmp_path_factory):
    _need_binary()
    out = tmp_path_factory.mktemp("sens") / "s.h5"
    r = subprocess.run([BINARY, "sensitivity", f"{SOURCE}/scenarios/validation/mmc.yaml", "--params",
                        "workload.rate,stations.server.service.mean", "--delta", "5%", "--reps", "3",
                        "--set", "duration=20m", "--set", "warmup=2m", "-o", str(out), "-q"],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    return str(out)


@pytest.fixture(scope="module")
def morris_h5(tmp_path_factory):
    _need_binary()
    out = tmp_path_factory.mktemp("morris") / "mo.h5"
    r = subprocess.run([BINARY, "sensitivity", f"{SOURCE}/scenarios/validation/tandem.yaml", "--method", "morris",
                        "--params", "workload.rate,stations.server.service.mean,stations.delay.service.mean",
                        "--metrics", "latency_mean_s", "--delta", "20%", "--trajectories", "4", "--reps", "2",
                        "--set", "duration=3m", "-o", str(out), "-q"], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    return str(out)


def is_png(path):
    with open(path, "rb") as f:
        return f.read(8) == b"\x89PNG\r\n\x1a\n"


def test_read_map(map_h5):
    m = mapplot.read_map(map_h5)
    assert m["variants"] == ["naive", "retry_throttling"]
    assert m["load_axis"] == "workload.rate" and m["trigger_axis"] == "faults.0.for"
    c = m["cells"]
    assert len(c["variant"]) == 8   # 2 loads x 2 triggers x 2 variants
    assert np.all((c["p_lo"] <= c["p_not_recovering"]) & (c["p_not_recovering"] <= c["p_hi"]))
    # above lambda* = 100/s a 20 s trigger sends naive retries into the storm; throttled retries recover
    hi = (c["load"] == 140) & (c["trigger"] == 20)
    assert c["class"][hi & (c["variant"] == 0)][0] == 1
    assert c["class"][hi & (c["variant"] == 1)][0] == 0


def test_map_and_sensitivity_strings_are_variable_length_and_read_as_str(map_h5, sens_h5):
    """format_version 2: strings are variable-length UTF-8 (h5py: attributes as str, a
    table's cells as bytes); the readers give str."""
    import h5py
    for path, table in ((map_h5, "map/boundary"), (sens_h5, "sensitivity")):
        with h5py.File(path, "r") as f:
            assert f.attrs["format_version"] == 2
            assert type(f.attrs["format"]) is str and type(f.attrs["scenario_file"]) is str
            dt = f[table].dtype
            strings = [c for c in dt.names if h5py.check_string_dtype(dt[c]) is not None]
            assert strings, table
            assert all(h5py.check_string_dtype(dt[c]).length is None for c in strings)
    m = mapplot.read_map(map_h5)
    assert all(type(v) is str for v in m["variants"])
    assert all(isinstance(x, str) for x in m["boundary"]["along"])   # a numpy array of str
    assert type(m["load_unit"]) is str and type(m["mode"]) is str
    t = mapplot.read_sensitivity(sens_h5)
    assert all(isinstance(x, str) for x in t["parameter"]) and all(isinstance(x, str) for x in t["metric"])


def test_phase_diagrams_and_tornado(map_h5, sens_h5, tmp_path):
    paths = mapplot.plot_map(map_h5, str(tmp_path / "m"))
    assert sorted(os.path.basename(p) for p in paths) == ["phase_naive.png", "phase_retry_throttling.png"]
    paths += mapplot.plot_sensitivity(sens_h5, str(tmp_path / "s"))
    assert any(os.path.basename(p) == "tornado_latency_p95_s.png" for p in paths)
    for p in paths:
        assert os.path.getsize(p) > 1000 and is_png(p), p


def test_report_recognises_map_and_sensitivity(map_h5, sens_h5, tmp_path):
    env = dict(os.environ, PYTHONPATH=os.path.join(SOURCE, "analysis"))
    for h5, first in ((map_h5, "phase_naive.png"), (sens_h5, "tornado_latency_p95_s.png")):
        out = tmp_path / os.path.basename(h5)
        r = subprocess.run([sys.executable, "-m", "ragsim_analysis", "report", h5, "-o", str(out)],
                           capture_output=True, text=True, env=env)
        assert r.returncode == 0, r.stderr
        assert first in os.listdir(out)
    bad = tmp_path / "x.h5"
    bad.write_text("x")
    r = subprocess.run([sys.executable, "-m", "ragsim_analysis.mapplot", str(bad)], capture_output=True, text=True,
                       env=env)
    assert r.returncode == 2 and "error" in r.stderr


def test_morris_table_and_chart(morris_h5, tmp_path):
    t = mapplot.read_sensitivity(morris_h5)
    assert t["method"] == "morris"
    assert sorted(t["parameter"].tolist()) == ["stations.delay.service.mean", "stations.server.service.mean",
                                               "workload.rate"]
    assert np.all(t["n"] == 4)   # one effect per trajectory
    d = t["parameter"] == "stations.delay.service.mean"
    # the delay adds: its effect is the same everywhere (sigma ~ 0), the whole range 40..60 ms
    assert abs(t["mu_star"][d][0] / 0.020 - 1) < 0.05
    assert t["sigma"][d][0] < 0.01 * t["mu_star"][d][0]
    paths = mapplot.plot_sensitivity(morris_h5, str(tmp_path / "mo"))
    assert [os.path.basename(p) for p in paths] == ["morris_latency_mean_s.png"]
    assert is_png(paths[0]) and os.path.getsize(paths[0]) > 1000
def test_map_report_page(map_h5, sens_h5, tmp_path):
    """The map's page (the shared frame, page.py): the boundary table from /map/boundary with how the
    service fails at the bracket's failing end, and the phase diagrams embedded."""
    index, pngs = mapplot.write_map_report(map_h5, str(tmp_path / "m"))
    page = open(index, encoding="utf-8").read()
    m = mapplot.read_map(map_h5)
    b = m["boundary"]
    assert page.count("<tr>") >= len(b["variant"]) + 1
    for i in np.nonzero(b["status"] == 0)[0]:
        assert f"{b['boundary'][i]:g}" in page
        cls = mapplot._fails_as(m, int(b["variant"][i]), str(b["along"][i]), b["fixed"][i], b["fails_at"][i])
        assert cls in ("metastable", "overloaded"), cls   # the failing end does not recover, by definition
    assert page.count("data:image/png;base64,") == len(pngs) == len(m["variants"])
    index, pngs = mapplot.write_map_report(sens_h5, str(tmp_path / "s"))
    assert any(os.path.basename(p) == "tornado_latency_p95_s.png" for p in pngs)
