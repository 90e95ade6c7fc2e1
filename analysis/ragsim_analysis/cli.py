"""The command line of ragsim_analysis.

    python3 -m ragsim_analysis report OUT.h5 [-o DIR]   the HTML report and its PNGs
    python3 -m ragsim_analysis table OUT.h5 [--all]     the comparison table as `ragsim compare` prints it
    python3 -m ragsim_analysis info OUT.h5              what the trace holds
    python3 -m ragsim_analysis sweep OUT.h5 [-o DIR]    plots of a `ragsim sweep` output (sweepplot)
    python3 -m ragsim_analysis diff A.h5 B.h5           object by object, datasets bit for bit (diff)
    python3 -m ragsim_analysis export OUT.h5 --format F  OpenMetrics, promtool test, CSV, Chrome trace (export)
    python3 -m ragsim_analysis replay OUT.h5 [-o DIR]   an HTML page that animates the run (replay)

Exit status: 0 success, 1 the output could not be written, 2 bad usage, a
missing or invalid trace, or an output path that must not be replaced (not
a regular file, or the trace itself).
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import List, Optional

from .outputs import OutputError
from .report import comparison_text, default_output_dir, write_report
from .trace import Trace, TraceError

# `ragsim report` runs this module with RAGSIM_PROG=ragsim, so that usage and errors name the command typed
PROG = os.environ.get("RAGSIM_PROG") or "ragsim_analysis"


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog=PROG, description="Analyse ragsim traces (docs/analysis.md).")
    sub = p.add_subparsers(dest="cmd", metavar="COMMAND")
    r = sub.add_parser("report", help="write the HTML report (one self-contained page) and its PNG figures",
                       description="Write DIR/report.html (figures embedded, no external resources) and DIR/*.png. "
                                   "DIR defaults to the trace's name without .h5, plus -report.",
                       epilog="Works on traces of `ragsim run` and `ragsim compare`; figures whose data the trace "
                              "lacks are left out. Exit status: 0 success, 1 the output could not be written, "
                              "2 bad usage or a missing or invalid trace. The figures and how to read them: "
                              "docs/analysis.md.")
    r.add_argument("trace", metavar="OUT.h5", help="a trace written by ragsim run or ragsim compare")
    r.add_argument("-o", "--output", metavar="DIR", help="output directory (created if missing)")
    t = sub.add_parser("table", help="print the comparison table of a `ragsim compare` trace")
    t.add_argument("trace", metavar="OUT.h5")
    t.add_argument("--all", action="store_true", help="every metric of /comparison, not only the headline ones")
    i = sub.add_parser("info", help="print what the trace holds")
    i.add_argument("trace", metavar="OUT.h5")
    # the sweep plots have their own options (ragsim_analysis.sweepplot): passed through as they are
    sub.add_parser("sweep", help="plot a `ragsim sweep` output: metric vs load per variant with CIs, heatmaps",
                   add_help=False)
    sub.add_parser("export", help="export a trace: OpenMetrics, promtool test rules, CSV, Chrome trace (export)",
                   add_help=False)
    sub.add_parser("replay", help="one self-contained HTML page that animates a run (replay)", add_help=False)
    sub.add_parser("diff", help="compare two traces object by object, datasets bit for bit (exit 1 if they differ)",
                   add_help=False)
    return p


def _info(tr: Trace) -> str:
    a = tr.attrs
    lines = [f"scenario     {a.get('scenario_name')} ({a.get('scenario_file')})",
             f"model        {a.get('model')}",
             f"variants     {', '.join(tr.variants)} (baseline {tr.baseline})",
             f"runs         {len(tr.runs())}: {a.get('replications')} replications of {a.get('duration_s'):g} s, "
             f"seed {a.get('master_seed')}, sample interval {a.get('sample_interval_s'):g} s",
             f"tables       summary{', comparison' if tr.has_comparison() else ''}"
             f"{', requests' if tr.has_requests() else ''}",
             f"time series  {len(tr.series_names())}"]
    return "\n".join(lines) + "\n"


def _is_sweep(path: str) -> bool:
    """A `ragsim sweep` output (a /sweep group and no /runs)."""
    try:
        import h5py
        with h5py.File(path, "r") as f:
            return "sweep" in f and "runs" not in f
    except Exception:   # not HDF5, missing ...: the report's own checks say what is wrong
        return False


def main(argv: Optional[List[str]] = None) -> int:
    p = _parser()
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv and argv[0] == "sweep":
        from . import sweepplot
        return sweepplot.main(argv[1:])
    if argv and argv[0] == "export":
        from . import export
        return export.main(argv[1:])
    if argv and argv[0] == "diff":
        from . import diff
        return diff.main(argv[1:])
    if argv and argv[0] == "replay":
        from . import replay
        return replay.main(argv[1:])
    args = p.parse_args(argv)
    if not args.cmd:
        p.print_usage(sys.stderr)
        sys.stderr.write(f"{PROG}: error: missing the command (report, table, info, sweep or diff)\n")
        return 2
    try:
        if args.cmd == "report":
            if _is_sweep(args.trace):   # `ragsim sweep` output: its plots and the capacity answers' page
                from . import sweepplot
                return sweepplot.report_main([args.trace, "-o", args.output or default_output_dir(args.trace)])
            from . import mapplot
            if mapplot.file_format(args.trace) in ("ragsim-map", "ragsim-sensitivity"):
                # `ragsim map`: phase diagrams and the boundary; `ragsim sensitivity`: tornado charts
                return mapplot.report_main([args.trace, "-o", args.output or default_output_dir(args.trace)])
            from . import interactive
            out = args.output or default_output_dir(args.trace)
            have_plotly = interactive.available()
            index, pngs = write_report(args.trace, out, interactive=have_plotly)
            print(f"report: {index} ({len(pngs)} figures)")
            if have_plotly:
                print(f"interactive: {os.path.join(out, interactive.PAGE)} (plotly.js beside it, offline)")
            else:
                sys.stderr.write(f"{PROG}: note: {interactive.MISSING}\n")
        elif args.cmd == "table":
            with Trace(args.trace) as tr:
                if not tr.has_comparison():
                    sys.stderr.write(f"{PROG}: error: {args.trace} has no /comparison: it was written by "
                                     "`ragsim run`; `ragsim compare` writes one\n")
                    return 2
                sys.stdout.write(comparison_text(tr, list(dict.fromkeys(tr.comparison()["metric"])) if args.all else None))
        elif args.cmd == "info":
            with Trace(args.trace) as tr:
                sys.stdout.write(_info(tr))
    except (TraceError, OutputError) as e:
        sys.stderr.write(f"{PROG}: error: {e}\n")
        return 2
    except OSError as e:
        sys.stderr.write(f"{PROG}: error: cannot write the report: {e}\n")
        return 1
    return 0
