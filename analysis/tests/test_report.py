"""The report: PNG figures, one self-contained HTML page, the command lines and their errors."""

import base64
import io
import os
import re
import shutil
import subprocess
import sys

import h5py
import numpy as np
import pytest
from matplotlib import image as mpimg

import ragsim_analysis as ra
from conftest import ANALYSIS
from ragsim_analysis import interactive as ra_interactive

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _png_is_drawn(data: bytes) -> bool:
    """A decodable PNG with more than one colour (something is drawn)."""
    assert data.startswith(PNG_MAGIC)
    img = mpimg.imread(io.BytesIO(data), format="png")
    return img.ndim == 3 and img.shape[0] > 100 and img.shape[1] > 100 and float(np.ptp(img[..., :3])) > 0.2


def _py(*args, env=None):
    e = dict(os.environ)
    e["PYTHONPATH"] = str(ANALYSIS)
    e.update(env or {})
    return subprocess.run([sys.executable, "-m", "ragsim_analysis", *map(str, args)],
                          capture_output=True, text=True, env=e, timeout=600)


@pytest.fixture(scope="module")
def compare_report(compare_trace, tmp_path_factory):
    out = tmp_path_factory.mktemp("rep") / "avalanche-report"
    index, pngs = ra.write_report(str(compare_trace[0]), str(out))
    return out, index, pngs


def test_compare_report_figures(compare_report):
    out, index, pngs = compare_report
    names = {os.path.basename(p) for p in pngs}
    for want in ("comparison.png", "success_ratio.png", "latency_p95.png", "retrieval_p95.png",
                 "goroutines.png", "memory.png", "vectordb_memory.png", "latency_cdf.png"):
        assert want in names, f"{want} missing from {sorted(names)}"
    for p in pngs:
        data = open(p, "rb").read()
        assert len(data) > 5000, p
        assert _png_is_drawn(data), p
    # no temporary files left; the interactive page and plotly.js beside it when plotly is installed
    extra = {"interactive.html", "plotly.js"} if ra_interactive.available() else set()
    assert sorted(os.listdir(out)) == sorted(names | {"report.html"} | extra)


def test_html_is_self_contained(compare_report):
    out, index, pngs = compare_report
    page = open(index, encoding="utf-8").read()
    assert page.startswith("<!DOCTYPE html>") and page.rstrip().endswith("</html>")
    # no external resource of any kind: every src is a data URI, no stylesheet or script link
    srcs = re.findall(r'\bsrc="([^"]*)"', page)
    assert len(srcs) == len(pngs)
    assert all(s.startswith("data:image/png;base64,") for s in srcs)
    assert not re.search(r"<(script|link|iframe|object|embed)\b", page, re.I)
    assert not re.search(r'(href|src)="(https?:)?//', page)
    assert "url(" not in page
    embedded = sorted(base64.b64decode(s.split(",", 1)[1]) for s in srcs)
    assert embedded == sorted(open(p, "rb").read() for p in pngs)


def test_html_comparison_table(compare_report, compare_trace):
    _, index, _ = compare_report
    page = open(index, encoding="utf-8").read()
    with ra.Trace(compare_trace[0]) as tr:
        variants = tr.variants
        c = tr.comparison()
    assert '<table class="cmp">' in page
    for v in variants:
        assert f"<b>{v}</b>" in page
    # the rate limit is better on success_ratio: its cell shows the mean as ragsim compare prints it
    row = c[(c["variant"] == "rate_limit") & (c["metric"] == "success_ratio")].iloc[0]
    assert ra.units.value_cell(row) in page
    assert 'class="better">▲' in page


def test_run_trace_report(run_trace, tmp_path):
    index, pngs = ra.write_report(str(run_trace), str(tmp_path / "r"))
    names = {os.path.basename(p) for p in pngs}
    assert "comparison.png" not in names
    assert {"success_ratio.png", "memory.png", "goroutines.png"} <= names
    page = open(index, encoding="utf-8").read()
    assert "<h2>Summary</h2>" in page and "<h2>Comparison</h2>" not in page
    assert all(_png_is_drawn(open(p, "rb").read()) for p in pngs)


def test_network_trace_report(network_trace, run_trace, tmp_path):
    # first a RAG report into the same directory: its goroutines figure must not outlive it
    ra.write_report(str(run_trace), str(tmp_path / "n"))
    assert (tmp_path / "n" / "goroutines.png").is_file()
    (tmp_path / "n" / "notes.txt").write_text("mine")
    index, pngs = ra.write_report(str(network_trace), str(tmp_path / "n"))
    extra = ["interactive.html", "plotly.js"] if ra_interactive.available() else []
    assert sorted(os.listdir(tmp_path / "n")) == sorted([os.path.basename(p) for p in pngs] + ["report.html", "notes.txt"]
                                                         + extra)
    names = {os.path.basename(p) for p in pngs}
    assert "success_ratio.png" in names and "goroutines.png" not in names and "vectordb_memory.png" not in names


def _drop_series(ts, names):
    """Rewrite a run's timeseries/values and timeseries/series without the rows of `names`."""
    tab, values = ts["series"][:], ts["values"][:]
    keep = [i for i, n in enumerate(tab["name"]) if bytes(n).decode() not in names]
    assert len(keep) < len(tab)
    del ts["series"], ts["values"]
    ts.create_dataset("series", data=tab[keep])
    ts.create_dataset("values", data=values[keep])


def test_missing_datasets(compare_trace, tmp_path):
    """A trace without /comparison, requests, events of one run and some series still gives a report."""
    p = tmp_path / "partial.h5"
    shutil.copy(compare_trace[0], p)
    with h5py.File(p, "r+") as f:
        del f["comparison"]
        for v in f["runs"]:
            for r in f["runs"][v]:
                run = f["runs"][v][r]
                drop = ["goroutines", "goroutines_leaked", "rag_retrieval_latency_p95_seconds"]
                if (v, r) == ("breaker", "rep000"):
                    drop.append("success_ratio")
                _drop_series(run["timeseries"], drop)
                if "requests" in run:
                    del run["requests"]
        del f["runs/naive/rep001/events"]
    index, pngs = ra.write_report(str(p), str(tmp_path / "partial"))
    names = {os.path.basename(x) for x in pngs}
    assert "goroutines.png" not in names and "retrieval_p95.png" not in names and "comparison.png" not in names
    assert {"success_ratio.png", "latency_cdf.png", "vectordb_memory.png"} <= names
    with ra.Trace(p) as tr:
        s = tr.series("success_ratio", "breaker")
        assert np.isnan(s.values[0]).all() and np.isfinite(s.values[1]).any()


# -- the command lines ---------------------------------------------------------------------------


def test_cli_report(run_trace, tmp_path):
    p = _py("report", run_trace, "-o", tmp_path / "cli")
    assert p.returncode == 0, p.stderr
    assert "report.html" in p.stdout
    assert (tmp_path / "cli" / "report.html").stat().st_size > 10000


def test_cli_table(compare_trace):
    p = _py("table", compare_trace[0])
    assert p.returncode == 0 and p.stdout.startswith("compared with 'naive'")


@pytest.mark.parametrize("content", [None, b"not a trace\n", b"\x89HDF\r\n\x1a\n" + b"\0" * 64])
def test_cli_bad_input(tmp_path, content):
    path = tmp_path / "bad.h5"
    if content is not None:
        path.write_bytes(content)
    p = _py("report", path, "-o", tmp_path / "out")
    assert p.returncode == 2, p.stderr
    assert p.stderr.startswith("ragsim_analysis: error: ") and str(path) in p.stderr
    assert "Traceback" not in p.stderr
    assert not (tmp_path / "out").exists()


def test_cli_usage_errors(tmp_path):
    p = _py()
    assert p.returncode == 2 and "missing the command" in p.stderr
    p = _py("report")
    assert p.returncode == 2 and "OUT.h5" in p.stderr
    p = _py("table", tmp_path / "none.h5")
    assert p.returncode == 2 and "no such file" in p.stderr


def test_cli_table_of_run_trace(run_trace):
    p = _py("table", run_trace)
    assert p.returncode == 2 and "ragsim compare" in p.stderr


def test_cli_unwritable_output(compare_trace, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    p = _py("report", compare_trace[0], "-o", blocker / "sub")
    assert p.returncode == 1 and "cannot write" in p.stderr and "Traceback" not in p.stderr


def test_missing_python_package_names_debian_package(tmp_path, compare_trace):
    """A Python without h5py is told which Debian package to install (exit 2)."""
    fake = tmp_path / "shadow" / "h5py"
    fake.mkdir(parents=True)
    (fake / "__init__.py").write_text("raise ImportError('h5py hidden by the test')\n")
    e = dict(os.environ, PYTHONPATH=f"{tmp_path / 'shadow'}:{ANALYSIS}")
    p = subprocess.run([sys.executable, "-m", "ragsim_analysis", "report", str(compare_trace[0])],
                       capture_output=True, text=True, env=e, timeout=120)
    assert p.returncode == 2
    assert "python3-h5py" in p.stderr and "h5py" in p.stderr and "Traceback" not in p.stderr


def test_ragsim_report_subcommand(binary, run_trace, tmp_path):
    out = tmp_path / "via-ragsim"
    e = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    p = subprocess.run([str(binary), "report", str(run_trace), "-o", str(out)],
                       capture_output=True, text=True, env=e, timeout=600)
    assert p.returncode == 0, p.stderr
    assert (out / "report.html").is_file() and (out / "success_ratio.png").is_file()
    p = subprocess.run([str(binary), "report", str(tmp_path / "missing.h5")], capture_output=True, text=True,
                       env=e, timeout=120)
    assert p.returncode == 2 and p.stderr.startswith("ragsim: error: ") and "no such file" in p.stderr
    p = subprocess.run([str(binary), "report", "--help"], capture_output=True, text=True, env=e, timeout=120)
    assert p.returncode == 0 and p.stdout.startswith("usage: ragsim report")


def test_cli_report_replaces_only_regular_files_that_are_not_the_trace(run_trace, tmp_path):
    """The output rules of ragsim itself (docs/hardening.md): -o naming the trace, a FIFO or the trace itself
    where a figure or the page goes, are refused with exit status 2 and nothing is written."""
    # -o is the trace: a regular file, not a directory
    p = _py("report", run_trace, "-o", run_trace)
    assert p.returncode == 2 and "not a directory" in p.stderr and "Traceback" not in p.stderr, p.stderr
    # a FIFO where the page goes
    d = tmp_path / "fifo"
    d.mkdir()
    os.mkfifo(d / "report.html")
    p = _py("report", run_trace, "-o", d)
    assert p.returncode == 2 and "it is a FIFO, not a regular file" in p.stderr, p.stderr
    assert sorted(os.listdir(d)) == ["report.html"] and os.path.exists(d / "report.html")
    # the trace itself where the page goes (a report into the trace's directory, the trace named report.html)
    d = tmp_path / "self"
    d.mkdir()
    shutil.copy(run_trace, d / "report.html")
    before = (d / "report.html").read_bytes()
    p = _py("report", d / "report.html", "-o", d)
    assert p.returncode == 2 and "the input of this command" in p.stderr, p.stderr
    assert (d / "report.html").read_bytes() == before and sorted(os.listdir(d)) == ["report.html"]
    # a hard link to the trace
    d = tmp_path / "link"
    d.mkdir()
    os.link(run_trace, d / "report.html")
    p = _py("report", run_trace, "-o", d)
    assert p.returncode == 2 and "the same file as" in p.stderr, p.stderr


def test_llm_collapse_draws_the_llm(binary, tmp_path):
    """50 requests/s at the documented defaults (one A100 replica of Llama-3-8B): the LLM
    saturates; the report must show its figures, not only the end-to-end ones."""
    scen = tmp_path / "defaults50.yaml"
    scen.write_text("name: defaults-50\nduration: 60s\nworkload:\n  rate: 50/s\n"
                    "pipeline:\n  steps: [embed, retrieve, generate]\n")
    out = tmp_path / "d50.h5"
    subprocess.run([str(binary), "run", str(scen), "-o", str(out), "-q"], check=True, timeout=300)
    index, pngs = ra.write_report(str(out), str(tmp_path / "r"))
    names = {os.path.basename(p) for p in pngs}
    assert {"llm_queue.png", "llm_ttft.png"} <= names, names
    page = open(index, encoding="utf-8").read()
    assert "LLM sequences running and waiting" in page


def test_classes_draw_per_class_figures(binary, run_trace, tmp_path):
    """A scenario with request classes gets the per-class success and latency figures,
    one curve per class; a trace without classes gets neither."""
    from conftest import SOURCE
    out = tmp_path / "prio.h5"
    subprocess.run([str(binary), "run", str(SOURCE / "scenarios/class-priority.yaml"), "-o", str(out), "-q",
                    "--set", "duration=2m"], check=True, timeout=300)
    with ra.Trace(str(out)) as tr:
        specs = {s.key: s for s in ra.class_specs(tr)}
        assert set(specs) == {"class_success_ratio", "class_latency_p95"}
        assert [c.label for c in specs["class_success_ratio"].curves] == ["free", "premium"]
        prem = tr.series("success_ratio{class=premium}", "priority").values
        free = tr.series("success_ratio{class=free}", "priority").values
        assert np.nanmin(prem) == 1.0 and np.nanmean(free[:, 60:]) < 0.5   # the overload falls on the free class
    index, pngs = ra.write_report(str(out), str(tmp_path / "r"))
    names = {os.path.basename(p) for p in pngs}
    assert {"class_success_ratio.png", "class_latency_p95.png"} <= names, names
    assert all(_png_is_drawn(open(p, "rb").read()) for p in pngs if "class_" in p)
    assert "Success ratio per request class" in open(index, encoding="utf-8").read()
    with ra.Trace(str(run_trace)) as tr:
        assert ra.class_specs(tr) == []
