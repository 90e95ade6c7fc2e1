"""ragsim export: a trace in the formats other tools read (docs/observability.md).

    ragsim export TRACE.h5 --format openmetrics [--start RFC3339] [-o FILE]
        every run's time series as OpenMetrics text, for
        `promtool tsdb create-blocks-from openmetrics` (Prometheus, Grafana)
    ragsim export TRACE.h5 --format promtool-test --rules RULES.yml
                  [--expect-firing ALERT@TIME]... [--expect-quiet ALERT@FROM..TO]...
        a `promtool test rules` file whose input series are one run's
    ragsim export TRACE.h5 --format csv [--table summary|comparison|events|requests|stations|timeseries]
        a table as CSV (one header line, units in the header)
    ragsim export TRACE.h5 --format chrome-trace
        the sampled requests' spans as Chrome trace-event JSON (Perfetto, chrome://tracing)

Without -o the export goes to standard output. With -o it is written to a
temporary file beside FILE and renamed when complete; an existing FILE is
replaced only with --force, and only when it is a regular file that is not
the trace.

Exit status: 0 success, 1 the output could not be written, 2 bad usage, a
missing or invalid trace, or an output that may not be written.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import io
import json
import math
import os
import re
import sys
import tempfile
from typing import Dict, IO, Iterator, List, Optional, Sequence, Tuple

import numpy as np

from .outputs import OutputError, check_output_file
from .trace import Trace, TraceError, parse_series_name

PROG = (os.environ.get("RAGSIM_PROG") or "ragsim_analysis") + " export"

_METRIC_RE = re.compile(r"^[a-zA-Z_:][a-zA-Z0-9_:]*$")
_LABEL_RE = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")
FORMATS = ("openmetrics", "promtool-test", "csv", "chrome-trace")
TABLES = ("summary", "comparison", "events", "requests", "stations", "timeseries")


class ExportError(Exception):
    """Bad input to the export (exit status 2)."""


# -- helpers -------------------------------------------------------------------------

def parse_rfc3339(s: str) -> float:
    """RFC 3339 date-time (2026-01-01T00:00:00Z, or with an offset) -> Unix seconds."""
    txt = s.strip()
    if txt.endswith(("Z", "z")):
        txt = txt[:-1] + "+00:00"
    try:
        d = _dt.datetime.fromisoformat(txt)
    except ValueError:
        raise ExportError(f"--start expects an RFC 3339 time such as 2026-01-01T00:00:00Z, got {s!r}") from None
    if d.tzinfo is None:
        raise ExportError(f"--start needs a time zone (Z or +HH:MM), got {s!r}")
    return d.timestamp()


_DUR_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h)?\s*$")


def parse_duration(s: str, what: str) -> float:
    """'90s', '5m', '1.5h', '120' (seconds) -> seconds."""
    m = _DUR_RE.match(s)
    if not m:
        raise ExportError(f"{what} expects a duration such as 90s, 5m or 1h, got {s!r}")
    return float(m.group(1)) * {"ms": 1e-3, "s": 1, "m": 60, "h": 3600, None: 1}[m.group(2)]


def prom_duration(sec: float) -> str:
    """Seconds -> a Prometheus duration (whole milliseconds)."""
    ms = int(round(sec * 1000))
    if ms % 60000 == 0:
        return f"{ms // 60000}m"
    if ms % 1000 == 0:
        return f"{ms // 1000}s"
    return f"{ms}ms"


def _escape(v: str) -> str:
    return v.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _fmt_labels(labels: Sequence[Tuple[str, str]]) -> str:
    if not labels:
        return ""
    return "{" + ",".join(f'{k}="{_escape(v)}"' for k, v in labels) + "}"


def _fmt_value(x: float) -> str:
    if math.isinf(x):
        return "+Inf" if x > 0 else "-Inf"
    if x == int(x) and abs(x) < 1e15:
        return str(int(x))
    return repr(float(x))


class _Family:
    """One metric family: name, type, help, and its series (labels, per-run row)."""

    def __init__(self, name: str, kind: str, help_: str):
        self.name, self.kind, self.help = name, kind, help_
        # (run index, labels without le, suffix) -> {le or None: series name}
        self.members: Dict[Tuple[int, Tuple[Tuple[str, str], ...]], Dict[str, str]] = {}


def _families(names_per_run: List[List[str]], info) -> Dict[str, _Family]:
    """Group the trace's series into OpenMetrics families (histograms, counters, gauges)."""
    all_names = sorted({n for names in names_per_run for n in names})
    hist_bases = set()
    for n in all_names:
        metric, labels = parse_series_name(n)
        if metric.endswith("_bucket") and "le" in labels:
            hist_bases.add(metric[: -len("_bucket")])
    fams: Dict[str, _Family] = {}
    for n in all_names:
        metric, labels = parse_series_name(n)
        if not _METRIC_RE.match(metric):
            metric = re.sub(r"[^a-zA-Z0-9_:]", "_", metric)
            if metric[0].isdigit():
                metric = "_" + metric
        for k in labels:
            if not _LABEL_RE.match(k) or k in ("variant", "replication"):
                raise ExportError(f"series {n!r}: label {k!r} cannot be exported")
        base, kind, key = metric, "gauge", "value"
        for suffix in ("_bucket", "_sum", "_count"):
            if metric.endswith(suffix) and metric[: -len(suffix)] in hist_bases:
                base, kind, key = metric[: -len(suffix)], "histogram", suffix
        if kind == "gauge" and metric.endswith("_total"):
            base, kind, key = metric[: -len("_total")], "counter", "_total"
        if base not in fams:
            unit, desc = info(n)
            if kind == "histogram":
                what = re.sub(r" at most le seconds.*$", "", desc) if key == "_bucket" else desc
                help_ = f"latency of {what}, in seconds, since the start of the run"
            else:
                help_ = f"{desc} (unit: {unit or '1'})"
            fams[base] = _Family(base, kind, help_)
        fam = fams[base]
        if fam.kind != kind:
            raise ExportError(f"series {n!r} would be a {kind} in family {base!r}, which is a {fam.kind}")
        le = labels.pop("le", None) if kind == "histogram" else None
        fam_key = tuple(sorted(labels.items()))
        fam.members.setdefault(fam_key, {})[(key, le)] = n
    return fams


def _le_key(le: Optional[str]) -> float:
    return math.inf if le in ("+Inf", "Inf", "inf") else float(le)


# -- runs ----------------------------------------------------------------------------

def _select_runs(tr: Trace, variant: Optional[str], replication: Optional[int]) -> List[Tuple[str, int]]:
    runs = tr.runs()
    if variant is not None:
        if variant not in tr.variants:
            raise ExportError(f"no variant {variant!r} in {tr.path} (variants: {', '.join(tr.variants)})")
        runs = [r for r in runs if r[0] == variant]
    if replication is not None:
        runs = [r for r in runs if r[1] == replication]
        if not runs:
            raise ExportError(f"no replication {replication} in {tr.path}")
    return runs


class _RunData:
    def __init__(self, tr: Trace, variant: str, rep: int):
        self.variant, self.rep = variant, rep
        ts = tr._series_of(variant, rep)
        if ts is None:
            self.t, self.names, self._ts = np.zeros(0), [], None
        else:
            ts.load()
            self.t, self.names, self._ts = ts.t, ts.names, ts

    def get(self, name: str) -> Optional[np.ndarray]:
        return self._ts.get(name) if self._ts is not None else None


def _default_start(tr: Trace) -> float:
    """Now minus the run's duration, rounded down to the minute: the run ends
    about now, inside any Prometheus retention."""
    dur = float(tr.attrs.get("duration_s") or 0)
    now = _dt.datetime.now(_dt.timezone.utc).timestamp()
    return math.floor((now - dur) / 60) * 60


# -- OpenMetrics ---------------------------------------------------------------------

def write_openmetrics(tr: Trace, out: IO[str], start: float, runs: List[Tuple[str, int]]) -> int:
    """Every selected run's series as OpenMetrics text; returns the samples written.

    Timestamps are start + t (seconds). NaN samples (no observation in the
    interval) are left out. Labels: variant, replication, then the series' own."""
    data = [_RunData(tr, v, r) for v, r in runs]
    fams = _families([d.names for d in data], tr.series_info)
    n = 0
    for fname in sorted(fams):
        fam = fams[fname]
        out.write(f"# TYPE {fname} {fam.kind}\n")
        out.write(f"# HELP {fname} {_escape(fam.help)}\n")
        for ri, d in enumerate(data):
            run_labels = (("variant", d.variant), ("replication", str(d.rep)))
            ts = [f"{start + x:.3f}" for x in d.t]
            for labels in sorted(fam.members):
                members = fam.members[labels]
                lab = run_labels + labels
                if fam.kind == "histogram":
                    les = sorted((le for (k, le) in members if k == "_bucket"), key=_le_key)
                    rows = [(f"{fname}_bucket", lab + (("le", le),), d.get(members[("_bucket", le)])) for le in les]
                    for k in ("_count", "_sum"):
                        if (k, None) in members:
                            rows.append((f"{fname}{k}", lab, d.get(members[(k, None)])))
                    if any(r[2] is None for r in rows) or not les or _le_key(les[-1]) != math.inf:
                        continue
                    pre = [f"{m}{_fmt_labels(l)} " for m, l, _ in rows]
                    for i in range(len(d.t)):
                        if any(not np.isfinite(r[2][i]) for r in rows):
                            continue
                        for p, r in zip(pre, rows):
                            out.write(f"{p}{_fmt_value(r[2][i])} {ts[i]}\n")
                            n += 1
                else:
                    (key, _), sname = next(iter(members.items()))
                    v = d.get(sname)
                    if v is None:
                        continue
                    sample = fname + ("_total" if fam.kind == "counter" else "")
                    pre = f"{sample}{_fmt_labels(lab)} "
                    for i in np.flatnonzero(np.isfinite(v)):
                        out.write(f"{pre}{_fmt_value(v[i])} {ts[i]}\n")
                        n += 1
    out.write("# EOF\n")
    return n


# -- promtool test -------------------------------------------------------------------

_EXPECT_RE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)@(.+)$")


def _parse_expect(s: str, ranged: bool) -> Tuple[str, float, float]:
    m = _EXPECT_RE.match(s)
    what = "--expect-quiet" if ranged else "--expect-firing"
    form = "ALERT@FROM..TO (e.g. HighLatency@0m..25m)" if ranged else "ALERT@TIME (e.g. HighLatency@30m)"
    if not m:
        raise ExportError(f"{what} expects {form}, got {s!r}")
    if ranged:
        if ".." not in m.group(2):
            raise ExportError(f"{what} expects {form}, got {s!r}")
        a, b = m.group(2).split("..", 1)
        lo, hi = parse_duration(a, what), parse_duration(b, what)
        if hi < lo:
            raise ExportError(f"{what} {s!r}: the range ends before it starts")
        return m.group(1), lo, hi
    t = parse_duration(m.group(2), what)
    return m.group(1), t, t


def _rule_alert_names(path: str) -> List[str]:
    try:
        import yaml
    except ImportError:
        raise ExportError("--format promtool-test needs PyYAML (Debian: python3-yaml)") from None
    try:
        with open(path, encoding="utf-8") as f:
            doc = yaml.safe_load(f)
    except OSError as e:
        raise ExportError(f"--rules {path}: {e.strerror or e}") from None
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f"{path}:{mark.line + 1}:{mark.column + 1}" if mark else path
        raise ExportError(f"{where}: not valid YAML: {getattr(e, 'problem', e)}") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("groups"), list):
        raise ExportError(f"{path}: not a Prometheus rule file (expected a top-level 'groups' list)")
    names = []
    for g in doc["groups"]:
        for r in (g or {}).get("rules") or []:
            if isinstance(r, dict) and "alert" in r:
                names.append(str(r["alert"]))
    return names


def write_promtool_test(tr: Trace, out: IO[str], out_path: Optional[str], rules: str, variant: str,
                        replication: int, eval_interval: float, firing: List[Tuple[str, float, float]],
                        quiet: List[Tuple[str, float, float]]) -> int:
    """A `promtool test rules` file: the run's series as input_series (sample k
    of the trace at (k+1) x sample_interval, '_' where NaN), and one
    promql_expr_test per expectation on the ALERTS series."""
    alerts = _rule_alert_names(rules)
    for name, _, _ in firing + quiet:
        if name not in alerts:
            raise ExportError(f"no alert {name!r} in {rules} (alerts: {', '.join(alerts) or 'none'})")
    d = _RunData(tr, variant, replication)
    dt = tr.sample_interval()
    base = os.path.dirname(os.path.abspath(out_path)) if out_path else os.getcwd()
    rel = os.path.relpath(os.path.abspath(rules), base)
    end = float(d.t[-1]) if len(d.t) else 0.0
    for name, lo, hi in firing + quiet:
        if hi > end:
            raise ExportError(f"expectation on {name} at {prom_duration(hi)} is past the run's end ({prom_duration(end)})")
    fams = _families([d.names], tr.series_info)
    lines = ["# promtool test rules file written by ragsim export (docs/observability.md)",
             f"# trace: {os.path.basename(tr.path)}, scenario {tr.name}, variant {variant}, replication {replication}",
             f"# time 0 is the run's start; sample k of the trace is at (k + 1) x {prom_duration(dt)}",
             "rule_files:", f"  - {json.dumps(rel)}",
             f"evaluation_interval: {prom_duration(eval_interval)}",
             "tests:", f"  - name: {json.dumps(f'{tr.name} {variant} rep{replication}')}",
             f"    interval: {prom_duration(dt)}", "    input_series:"]
    n = 0
    run_labels = (("variant", variant), ("replication", str(replication)))
    for fname in sorted(fams):
        fam = fams[fname]
        for labels, members in sorted(fam.members.items()):
            for (key, le), sname in sorted(members.items(), key=lambda kv: (kv[0][0], _le_key(kv[0][1]) if kv[0][1] else 0)):
                v = d.get(sname)
                if v is None:
                    continue
                metric = fname + ("" if key == "value" else key)
                lab = run_labels + labels + ((("le", le),) if le is not None else ())
                vals = " ".join(["_"] + [_fmt_value(x) if np.isfinite(x) else "_" for x in v])
                lines.append(f"      - series: {json.dumps(metric + _fmt_labels(lab))}")
                lines.append(f"        values: {json.dumps(vals)}")
                n += 1
    tests = []
    for name, t, _ in firing:
        tests += [f"      - expr: 'max(ALERTS{{alertname=\"{name}\",alertstate=\"firing\"}})'",
                  f"        eval_time: {prom_duration(t)}",
                  "        exp_samples:", "          - labels: '{}'", "            value: 1"]
    for name, lo, hi in quiet:
        width = max(hi - lo, eval_interval)
        tests += [f"      - expr: 'max(max_over_time(ALERTS{{alertname=\"{name}\",alertstate=\"firing\"}}[{prom_duration(width)}]))'",
                  f"        eval_time: {prom_duration(hi)}",
                  "        exp_samples: []"]
    if tests:
        lines.append("    promql_expr_test:")
        lines += tests
    out.write("\n".join(lines) + "\n")
    return n


# -- CSV -----------------------------------------------------------------------------

def write_csv(tr: Trace, out: IO[str], table: str, runs: List[Tuple[str, int]]) -> int:
    variants = list(dict.fromkeys(v for v, _ in runs))
    if table == "summary":
        df = tr.summary()
        df = df[df["variant"].isin(variants)]
        units = tr.units("summary")
    elif table == "comparison":
        df = tr.comparison()
        if df is None:
            raise ExportError(f"{tr.path} has no /comparison: `ragsim compare` writes one")
        df = df[df["variant"].isin(variants)]
        units = tr.units("comparison")
    elif table == "timeseries":
        df = tr.timeseries(variants=variants)
        units = {"t": "s"}
        for n in df.columns[3:]:
            units[n] = tr.series_info(n)[0]
    else:
        df = {"events": tr.events, "requests": tr.requests, "stations": tr.stations}[table](variants)
        if df is None:
            raise ExportError(f"{tr.path} has no {table} table")
        try:
            units = tr.units(table)
        except KeyError:
            units = {}
    if "replication" in df.columns:
        keep = set(runs)
        df = df[[(v, r) in keep for v, r in zip(df["variant"], df["replication"])]]
    unit_of = {k: u for k, u in units.items() if u and u != "1"}
    if "latency_s" in df.columns:
        unit_of["latency_s"] = "s"
    header = [f"{c} [{unit_of[c]}]" if c in unit_of and not c.endswith(("_s", "_bytes")) else c for c in df.columns]
    df.to_csv(out, index=False, header=header, lineterminator="\n", float_format="%.17g")
    return len(df)


# -- the command ---------------------------------------------------------------------

def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog=PROG, description="Export a ragsim trace for Prometheus/Grafana, promtool, Perfetto or a spreadsheet "
                               "(docs/observability.md).",
        epilog="Without -o the export is written to standard output. Exit status: 0 success, 1 the output could not "
               "be written, 2 bad usage, a missing or invalid trace, or an output that may not be written.")
    p.add_argument("trace", metavar="TRACE.h5", help="a trace written by ragsim run or ragsim compare")
    p.add_argument("--format", required=True, choices=FORMATS,
                   help="openmetrics: every run's time series with labels variant and replication (for promtool tsdb "
                        "create-blocks-from openmetrics); promtool-test: a promtool test rules file of one run; "
                        "csv: one table; chrome-trace: the sampled requests' spans (trace-event JSON)")
    p.add_argument("-o", "--output", metavar="FILE", help="output file (default: standard output)")
    p.add_argument("--force", action="store_true", help="replace an existing output file")
    p.add_argument("--variant", help="only this variant (promtool-test: default the baseline)")
    p.add_argument("--replication", type=int, metavar="N", help="only replication N (promtool-test: default 0)")
    p.add_argument("--start", metavar="RFC3339",
                   help="openmetrics: wall-clock time of the run's start, e.g. 2026-01-01T00:00:00Z (default: now minus "
                        "the run's duration, rounded down to the minute, so that the run ends about now)")
    p.add_argument("--rules", metavar="RULES.yml", help="promtool-test: the Prometheus rule file to test (required)")
    p.add_argument("--eval-interval", default="1m", metavar="DURATION",
                   help="promtool-test: rule evaluation interval (default 1m, Prometheus's default)")
    p.add_argument("--expect-firing", action="append", default=[], metavar="ALERT@TIME",
                   help="promtool-test: the alert is firing at TIME after the run's start, e.g. AvalancheSignature@6m "
                        "(repeatable)")
    p.add_argument("--expect-quiet", action="append", default=[], metavar="ALERT@FROM..TO",
                   help="promtool-test: the alert never fires between FROM and TO, e.g. AvalancheSignature@0m..4m "
                        "(repeatable)")
    p.add_argument("--table", choices=TABLES, default="summary", help="csv: the table (default summary)")
    return p


def _open_output(path: Optional[str], force: bool, inputs: Sequence[str]):
    if path is None:
        return None, None
    if os.path.lexists(path) and not force:
        raise OutputError(f"refusing to replace {path}: it exists (use --force to replace it)")
    check_output_file(path, inputs)
    d = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(d):
        raise OutputError(f"cannot write {path}: no directory {d}")
    fd, tmp = tempfile.mkstemp(prefix=os.path.basename(path) + ".", suffix=".tmp", dir=d)
    return os.fdopen(fd, "w", encoding="utf-8", newline="\n"), tmp


def _commit_output(out, tmp: str, path: str) -> None:
    """Close the temporary file of _open_output and rename it onto path."""
    out.close()
    os.chmod(tmp, 0o644)
    os.replace(tmp, path)


def _discard_output(out, tmp: Optional[str]) -> None:
    """After a failure: close and remove the temporary file, if there is one."""
    if out is not None:
        out.close()
    if tmp is not None:
        try:
            os.unlink(tmp)
        except OSError:
            pass


def _export_sweep(args) -> int:
    """A `ragsim sweep` output: --format csv writes its summary (sweepplot.sweep_frame)."""
    from .sweepplot import SweepError, sweep_frame
    out = tmp = None
    try:
        if args.format != "csv":
            raise ExportError(f"{args.trace} is a ragsim sweep output: only --format csv exports it")
        if args.table != "summary" or args.variant or args.replication is not None or args.start or args.rules:
            raise ExportError("a sweep output exports its summary only: --table, --variant, --replication, "
                              "--start and --rules do not apply")
        df = sweep_frame(args.trace)
        out, tmp = _open_output(args.output, args.force, [args.trace])
        units = df.attrs.get("units", {})
        header = [f"{c} [{units[c]}]" if units.get(c) and units[c] != "1" else c for c in df.columns]
        text = df.to_csv(index=False, header=header, lineterminator="\n", float_format="%.17g")
        if out is None:
            sys.stdout.write(text)
        else:
            out.write(text)
            _commit_output(out, tmp, args.output)
            out = tmp = None
            sys.stderr.write(f"export: {args.output} ({len(df)} rows of the sweep summary)\n")
    except (SweepError, ExportError, OutputError) as e:
        sys.stderr.write(f"{PROG}: error: {e}\n")
        return 2
    except OSError as e:
        sys.stderr.write(f"{PROG}: error: cannot write the export: {e}\n")
        return 1
    finally:
        _discard_output(out, tmp)
    return 0


def main(argv: Optional[List[str]] = None) -> int:
    p = _parser()
    args = p.parse_args(argv)
    out = tmp = None
    try:
        from .cli import _is_sweep
        if _is_sweep(args.trace):
            return _export_sweep(args)
        with Trace(args.trace) as tr:
            runs = _select_runs(tr, args.variant, args.replication)
            if args.format == "promtool-test":
                if not args.rules:
                    raise ExportError("--format promtool-test needs --rules RULES.yml (the rules to test)")
                firing = [_parse_expect(s, False) for s in args.expect_firing]
                quiet = [_parse_expect(s, True) for s in args.expect_quiet]
                ev = parse_duration(args.eval_interval, "--eval-interval")
                if ev <= 0:
                    raise ExportError("--eval-interval must be positive")
            else:
                for opt, val in (("--rules", args.rules), ("--expect-firing", args.expect_firing),
                                 ("--expect-quiet", args.expect_quiet)):
                    if val:
                        raise ExportError(f"{opt} is for --format promtool-test")
            if args.start is not None and args.format != "openmetrics":
                raise ExportError("--start is for --format openmetrics")
            start = parse_rfc3339(args.start) if args.start is not None else None
            out, tmp = _open_output(args.output, args.force, [args.trace] + ([args.rules] if args.rules else []))
            stream = out if out is not None else io.TextIOWrapper(sys.stdout.buffer, encoding="utf-8", newline="\n",
                                                                  write_through=False)
            try:
                if args.format == "openmetrics":
                    n = write_openmetrics(tr, stream, start if start is not None else _default_start(tr), runs)
                    what = f"{n} samples of {len(runs)} runs"
                elif args.format == "promtool-test":
                    v = args.variant if args.variant is not None else tr.baseline
                    r = args.replication if args.replication is not None else tr.replications(v)[0]
                    n = write_promtool_test(tr, stream, args.output, args.rules, v, r, ev, firing, quiet)
                    what = f"{n} input series of {v} replication {r}"
                elif args.format == "csv":
                    n = write_csv(tr, stream, args.table, runs)
                    what = f"{n} rows of {args.table}"
                else:
                    from .spans import write_chrome_trace
                    n = write_chrome_trace(tr, stream, runs)
                    what = f"{n} spans"
                stream.flush()
            finally:
                if out is None:
                    stream.detach()
            if out is not None:
                _commit_output(out, tmp, args.output)
                out = tmp = None
                sys.stderr.write(f"export: {args.output} ({what})\n")
    except (TraceError, ExportError, OutputError) as e:
        sys.stderr.write(f"{PROG}: error: {e}\n")
        return 2
    except BrokenPipeError:
        return 1
    except OSError as e:
        sys.stderr.write(f"{PROG}: error: cannot write the export: {e}\n")
        return 1
    finally:
        _discard_output(out, tmp)
    return 0


if __name__ == "__main__":
    sys.exit(main())
