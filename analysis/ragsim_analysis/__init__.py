"""ragsim_analysis: read ragsim traces, draw their figures, write the HTML report.

    import ragsim_analysis as ra
    with ra.Trace("out/demo.h5") as tr:
        tr.summary(), tr.comparison(), tr.timeseries(["success_ratio"]), tr.events()
    ra.write_report("out/demo.h5", "out/demo-report")

Command line: python3 -m ragsim_analysis report OUT.h5 [-o DIR]  (or `ragsim report`).
Documentation: docs/analysis.md.

The names below are imported on first use, so that `python3 -m ragsim_analysis`
can say which Debian package is missing before numpy, h5py, pandas or
matplotlib is imported.
"""

import importlib

__version__ = "0.1.0"

# public name -> submodule that defines it
_EXPORTS = {
    "Series": "trace", "Trace": "trace", "TraceError": "trace", "load_comparison": "trace", "load_summary": "trace",
    "open_trace": "trace", "parse_series_name": "trace",
    "format_value": "units", "parse_duration": "units", "parse_size": "units", "parse_ratio": "units",
    "mean_ci": "units", "t975": "units",
    "class_specs": "figures", "comparison_figure": "figures", "default_specs": "figures", "latency_cdf_figure": "figures",
    "mark_events": "figures", "plot_band": "figures", "save_png": "figures", "show": "figures",
    "timeseries_figure": "figures",
    "comparison_text": "report", "headline_metrics": "report", "write_report": "report",
    "RagsimError": "run", "find_binary": "run", "ragsim": "run", "scenario_path": "run", "source_dir": "run",
    "workdir": "run",
    "read_sweep": "sweepplot", "sweep_frame": "sweepplot",
}
__all__ = sorted(_EXPORTS)
_SUBMODULES = ("trace", "units", "figures", "report", "run", "cli")


def __getattr__(name):
    if name in _SUBMODULES:
        return importlib.import_module(f".{name}", __name__)
    mod = _EXPORTS.get(name)
    if mod is None:
        raise AttributeError(f"module 'ragsim_analysis' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{mod}", __name__), name)
    globals()[name] = value
    return value


def __dir__():
    return sorted(set(globals()) | set(_EXPORTS) | set(_SUBMODULES))
