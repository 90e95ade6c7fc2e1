"""ragsim_analysis.sweepplot on a real sweep written by the binary."""
import os
import subprocess
import sys

import numpy as np
import pytest

from ragsim_analysis import sweepplot

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE = os.path.dirname(os.path.dirname(HERE))
BINARY = os.environ.get("RAGSIM_BINARY", os.path.join(SOURCE, "build", "ragsim"))


@pytest.fixture(scope="module")
def sweep_h5(tmp_path_factory):
    if not os.access(BINARY, os.X_OK):
        pytest.skip(f"no ragsim binary at {BINARY} (set RAGSIM_BINARY)")
    d = tmp_path_factory.mktemp("sweep")
    sw = d / "small.yaml"
    sw.write_text(
        f"scenario: {SOURCE}/scenarios/rag-baseline.yaml\n"
        "set: {duration: 30s, warmup: 5s}\n"
        "axes:\n"
        "  workload.rate: [30/s, 60/s, 90/s]\n"
        "  vectordb.memory.limit: {from: 4GiB, to: 8GiB, points: 2}\n"
        "replications: 2\n")
    out = d / "small.h5"
    r = subprocess.run([BINARY, "sweep", str(sw), "-o", str(out), "-q"], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    return str(out)


def is_png(path):
    with open(path, "rb") as f:
        return f.read(8) == b"\x89PNG\r\n\x1a\n"


def test_read_sweep_matches_the_grid(sweep_h5):
    s = sweepplot.read_sweep(sweep_h5)
    assert s["variants"] == ["default"]
    assert [a["path"] for a in s["axes"]] == ["workload.rate", "vectordb.memory.limit"]
    assert s["load_axis"] == "workload.rate"
    rates = s["summary"]["axes"]["workload.rate"]
    assert sorted(set(rates.tolist())) == [30.0, 60.0, 90.0]
    assert sorted(set(s["summary"]["axes"]["vectordb.memory.limit"].tolist())) == [4 * 2**30, 8 * 2**30]
    sr = s["summary"]["mean"]["success_ratio"]
    assert len(sr) == 6 and np.all((sr >= 0) & (sr <= 1))


def test_sweep_frame_is_tidy(sweep_h5):
    s = sweepplot.read_sweep(sweep_h5)
    df = sweepplot.sweep_frame(sweep_h5)
    assert len(df) == 6 and list(df.columns[:3]) == ["variant", "workload.rate", "vectordb.memory.limit"]
    assert set(df["variant"]) == {"default"}
    np.testing.assert_array_equal(df["success_ratio"].to_numpy(), s["summary"]["mean"]["success_ratio"])
    np.testing.assert_array_equal(df["success_ratio_hw"].to_numpy(), s["summary"]["hw"]["success_ratio"])
    assert df.attrs["units"]["workload.rate"] == s["axes"][0]["unit"]
    assert df.attrs["load_axis"] == "workload.rate"
    # one row per grid point: pivoting by the two axes leaves no duplicates
    assert not df.duplicated(["variant", "workload.rate", "vectordb.memory.limit"]).any()
    # strings as str (format_version 2: variable-length UTF-8 in the file)
    assert df["variant"].dtype == object and all(type(v) is str for v in df["variant"])
    assert all(type(a[k]) is str for a in s["axes"] for k in ("path", "kind", "unit"))
    import h5py
    with h5py.File(sweep_h5, "r") as f:
        assert f.attrs["format_version"] == 2 and type(f.attrs["sweep_source"]) is str
        assert h5py.check_string_dtype(f["sweep/axes"].dtype["path"]).length is None


def test_sweep_csv_export(sweep_h5):
    import csv, io
    r = subprocess.run([BINARY, "export", sweep_h5, "--format", "csv"], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    rows = list(csv.DictReader(io.StringIO(r.stdout)))
    df = sweepplot.sweep_frame(sweep_h5)
    assert len(rows) == len(df) == 6
    assert [float(x["success_ratio"]) for x in rows] == df["success_ratio"].tolist()
    r = subprocess.run([BINARY, "export", sweep_h5, "--format", "openmetrics"], capture_output=True, text=True)
    assert r.returncode == 2 and "only --format csv" in r.stderr


def test_plot_sweep_writes_lines_and_heatmaps(sweep_h5, tmp_path):
    paths = sweepplot.plot_sweep(sweep_h5, str(tmp_path / "fig"))
    names = sorted(os.path.basename(p) for p in paths)
    # three metrics against the load, and a heatmap per metric (one variant)
    assert "success_ratio_vs_workload.rate.png" in names
    assert "latency_p95_s_vs_workload.rate.png" in names
    assert "heatmap_goodput_per_s_default.png" in names
    assert len(paths) == 6
    for p in paths:
        assert os.path.getsize(p) > 1000 and is_png(p), p


def test_command_line(sweep_h5, tmp_path):
    env = dict(os.environ, PYTHONPATH=os.path.join(SOURCE, "analysis"))
    out = tmp_path / "cli"
    r = subprocess.run([sys.executable, "-m", "ragsim_analysis.sweepplot", sweep_h5, "-o", str(out),
                        "-m", "success_ratio"], capture_output=True, text=True, env=env)
    assert r.returncode == 0, r.stderr
    printed = r.stdout.split()
    assert len(printed) == 2 and all(os.path.exists(p) for p in printed)
    bad = tmp_path / "not-a-sweep.h5"
    bad.write_text("x")
    r = subprocess.run([sys.executable, "-m", "ragsim_analysis.sweepplot", str(bad)], capture_output=True,
                       text=True, env=env)
    assert r.returncode == 2 and "error" in r.stderr
    r = subprocess.run([sys.executable, "-m", "ragsim_analysis.sweepplot", sweep_h5, "-m", "nope", "-o",
                        str(out)], capture_output=True, text=True, env=env)
    assert r.returncode == 2 and "no metric nope" in r.stderr


def test_package_commands_recognise_a_sweep(sweep_h5, tmp_path):
    """`python3 -m ragsim_analysis sweep` on a sweep output draws the sweep plots; `... report` those,
    the capacity figure and the page."""
    env = dict(os.environ, PYTHONPATH=os.path.join(SOURCE, "analysis"))
    for cmd in ("sweep", "report"):
        out = tmp_path / cmd
        r = subprocess.run([sys.executable, "-m", "ragsim_analysis", cmd, sweep_h5, "-o", str(out)],
                           capture_output=True, text=True, env=env)
        assert r.returncode == 0, r.stderr
        files = sorted(os.listdir(out))
        pngs = [f for f in files if f.endswith(".png")]
        assert "success_ratio_vs_workload.rate.png" in pngs
        if cmd == "sweep":
            assert len(files) == 6, files
        else:
            assert files == sorted(pngs + ["report.html"]) and "capacity_default.png" in pngs and len(pngs) == 7
            assert r.stdout.startswith(f"report: {out / 'report.html'} (7 figures)")


def test_a_fifo_where_a_figure_goes_is_refused(sweep_h5, tmp_path):
    """Only regular files are replaced, every path is checked before anything is written (exit status 2)."""
    env = dict(os.environ, PYTHONPATH=os.path.join(SOURCE, "analysis"))
    out = tmp_path / "fifo"
    out.mkdir()
    os.mkfifo(out / "success_ratio_vs_workload.rate.png")
    r = subprocess.run([sys.executable, "-m", "ragsim_analysis.sweepplot", sweep_h5, "-o", str(out)],
                       capture_output=True, text=True, env=env)
    assert r.returncode == 2 and "it is a FIFO, not a regular file" in r.stderr, r.stderr
    assert os.listdir(out) == ["success_ratio_vs_workload.rate.png"]
    r = subprocess.run([sys.executable, "-m", "ragsim_analysis.sweepplot", sweep_h5, "-o", sweep_h5],
                       capture_output=True, text=True, env=env)
    assert r.returncode == 2 and "not a directory" in r.stderr, r.stderr


def test_capacity_answer_and_binding_constraint(sweep_h5, tmp_path):
    """The capacity answers are /sweep/capacity's; the binding constraint is one the means miss at the
    first load above the answer (checked here on the tidy frame by hand), and met at the answer."""
    import h5py
    caps = sweepplot.capacity_answers(sweep_h5)
    df = sweepplot.sweep_frame(sweep_h5)
    slo = df.attrs["slo_success_ratio"]
    with h5py.File(sweep_h5, "r") as f:
        assert list(caps["max_load"]) == list(f["sweep/capacity/max_load"][()])
    assert len(caps) == 2
    for _, r in caps.iterrows():
        cell = df[(df["variant"] == r["variant"]) &
                  (df["vectordb.memory.limit"] == r["vectordb.memory.limit"])].sort_values("workload.rate")
        loads = list(cell["workload.rate"])
        if r["top_meets"]:
            assert r["max_load"] == loads[-1] and "none in the range" in r["binding"]
            continue
        assert r["next_load"] == min(x for x in loads if x > r["max_load"])
        # this sweep's only constraint is the SLO's success ratio (no latency objective, no require)
        assert r["binding"] == f"success_ratio >= {slo:g} (slo.success_ratio)"
        at_next = cell[cell["workload.rate"] == r["next_load"]]["success_ratio"].iloc[0]
        at_max = cell[cell["workload.rate"] == r["max_load"]]["success_ratio"].iloc[0]
        assert at_next < slo <= at_max and r["binding_value"] == at_next
    # the bootstrap intervals drawn: inside [0, 1] for the ratio, around the mean, from the runs
    iv = sweepplot.sweep_intervals(sweep_h5, ["success_ratio", "latency_p95_s"])
    lo, hi = iv["success_ratio"]
    assert np.all((0 <= lo) & (lo <= df["success_ratio"]) & (df["success_ratio"] <= hi) & (hi <= 1))
    assert np.all(iv["latency_p95_s"][0] >= 0)
    # the page: the capacity table with the binding constraint, every figure embedded
    index, pngs = sweepplot.write_sweep_report(sweep_h5, str(tmp_path / "rep"))
    page = open(index, encoding="utf-8").read()
    assert "binding constraint" in page and "success_ratio &gt;= 0.99 (slo.success_ratio)" in page
    assert page.count("data:image/png;base64,") == len(pngs) and os.path.basename(pngs[0]) == "capacity_default.png"
    assert "<script" not in page and "http" not in page
