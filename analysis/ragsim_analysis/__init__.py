"""ragsim_analysis: read ragsim traces, draw their figures, write the HTML report.

    import ragsim_analysis as ra
    with ra.Trace("out/demo.h5") as tr:
        tr.summary(), tr.comparison(), tr.timeseries(["success_ratio"]), tr.events()
    ra.write_report("out/demo.h5", "out/demo-report")

Command line: python3 -m ragsim_analysis report OUT.h5 [-o DIR]  (or `ragsim report`).
Documentation: docs/analysis.md.
"""

__version__ = "0.1.0"

from .trace import Series, Trace, TraceError, load_comparison, load_summary, open_trace, parse_series_name  # noqa: E402
from .units import format_value, parse_duration, parse_size  # noqa: E402
from .figures import (comparison_figure, default_specs, latency_cdf_figure, mark_events, plot_band,  # noqa: E402
                      save_png, show, timeseries_figure)
from .report import comparison_text, headline_metrics, write_report  # noqa: E402
from .run import RagsimError, find_binary, ragsim, scenario_path, source_dir, workdir  # noqa: E402

__all__ = [
    "Series", "Trace", "TraceError", "load_comparison", "load_summary", "open_trace", "parse_series_name",
    "format_value", "parse_duration", "parse_size",
    "comparison_figure", "default_specs", "latency_cdf_figure", "mark_events", "plot_band", "save_png", "show",
    "timeseries_figure", "comparison_text", "headline_metrics", "write_report",
    "RagsimError", "find_binary", "ragsim", "scenario_path", "source_dir", "workdir",
]
