"""The interactive page (interactive.py): offline, deterministic, the same data as the static
figures; and the report without plotly. That Chromium runs it is analysis/tests/screenshot.py's."""

import json
import os
import re
import subprocess
import sys

import numpy as np
import pytest

from conftest import ANALYSIS
from ragsim_analysis import figures as F
from ragsim_analysis import interactive
from ragsim_analysis.trace import Trace

needs_plotly = pytest.mark.skipif(not interactive.available(), reason="plotly missing (Debian: python3-plotly)")


@needs_plotly
def test_page_is_offline_and_deterministic(compare_trace, tmp_path):
    path, _ = compare_trace
    with Trace(path) as t:
        page1, ids = interactive.render(t)
        page2, _ = interactive.render(t)
        files = interactive.write_interactive(t, str(tmp_path))
    assert page1 == page2, "the same trace gives the same page"
    assert [os.path.basename(f) for f in files] == ["interactive.html", "plotly.js"]
    from plotly.offline import get_plotlyjs
    assert (tmp_path / "plotly.js").read_text(encoding="utf-8") == get_plotlyjs()
    # the only script loaded is plotly.js beside the page; no address of any network
    assert re.findall(r'<script src="([^"]*)"', page1) == ["plotly.js"]
    assert not re.search(r"https?://", page1)
    # the plots: the comparison, the time series the static report draws, the CDF
    assert ids[0] == "plot-comparison" and ids[-1] == "plot-latency_cdf"
    with Trace(path) as t:
        drawn = [s.key for s in F.default_specs() if F.timeseries_figure(t, s) is not None]
    assert ids[1:-1] == [f"plot-{k}" for k in drawn]
    assert json.loads(re.search(r"window\.ragsimPlots = (\[.*?\]);", page1).group(1)) == ids


@needs_plotly
def test_plots_hold_the_static_figures_data(compare_trace):
    path, _ = compare_trace
    with Trace(path) as t:
        iv = F.comparison_intervals(t)
        fig = interactive.comparison_plot(t, None)
        for bar in fig.data:
            m = bar.hovertemplate.split("<extra>")[1].split("</extra>")[0]
            rows = iv[iv["metric"] == m]
            assert list(bar.x) == list(rows["variant"])
            y = np.array([np.nan if v is None else v for v in bar.y], float)
            div, _ = F.units.scale_for(rows["unit"].iloc[0], float(np.nanmax(np.abs(np.r_[rows["mean"], rows["hi"]]))))
            up = np.array([np.nan if v is None else v for v in bar.error_y.array], float) * div
            down = np.array([np.nan if v is None else v for v in bar.error_y.arrayminus], float) * div
            ok = np.isfinite(y)
            assert np.allclose((y * div + up)[ok], rows["hi"].to_numpy(float)[ok])
            assert np.allclose((y * div - down)[ok], rows["lo"].to_numpy(float)[ok])
        cdf = interactive.cdf_plot(t)
        marks = [tr for tr in cdf.data if tr.mode == "markers"]
        assert len(marks) == len(t.variants)
        for tr, v in zip(marks, t.variants):
            bounds, c, _ = F.histogram_cdf(t, v)
            assert np.allclose(tr.x, bounds) and np.allclose(tr.y, c)
        # every axis with its unit
        spec = next(s for s in F.default_specs() if s.key == "vectordb_memory")
        ts = interactive.timeseries_plot(t, spec)
        assert re.search(r"\((GiB|MiB|KiB|B)\)$", ts.layout.yaxis.title.text)
        assert re.search(r"\((s|min)\)$", ts.layout.xaxis.title.text)
        colors = [tr.line.color for tr in ts.data if tr.mode == "lines" and tr.showlegend is not False]
        assert len(colors) == len(set(colors)) == len(t.variants)


def test_report_without_plotly(run_trace, tmp_path):
    """A Python without plotly: the report is written, the page says the interactive one is not."""
    fake = tmp_path / "noplotly"
    (fake / "plotly").mkdir(parents=True)
    (fake / "plotly" / "__init__.py").write_text("raise ImportError('no plotly here')\n")
    out = tmp_path / "r"
    env = dict(os.environ, PYTHONPATH=f"{fake}{os.pathsep}{ANALYSIS}")
    p = subprocess.run([sys.executable, "-m", "ragsim_analysis", "report", str(run_trace), "-o", str(out)],
                       capture_output=True, text=True, env=env, timeout=600)
    assert p.returncode == 0, p.stderr
    assert "python3-plotly" in p.stderr and "interactive.html" in p.stderr
    assert (out / "report.html").is_file() and not (out / "interactive.html").exists()
    assert not (out / "plotly.js").exists()
    page = (out / "report.html").read_text(encoding="utf-8")
    assert "python3-plotly" in page and 'href="interactive.html"' not in page
