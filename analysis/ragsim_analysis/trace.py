"""Readers for ragsim traces (HDF5, docs/trace-format.md, format_version 4, and 3, 2 and 1).

Everything is read on demand from one open file; every table comes back as a
pandas DataFrame (strings as str, one row per record, `variant` and
`replication` columns where the record belongs to a run), and every time
series also as numpy arrays (`Trace.series`), replications stacked, which is
what the figures use.

    with Trace("out/demo.h5") as tr:
        tr.variants                       # ['naive', 'rate_limit', ...], baseline first
        tr.summary()                      # /summary, one row per run
        tr.comparison()                   # /comparison (ragsim compare), or None
        tr.timeseries(["success_ratio"])  # long frame: variant, replication, t, success_ratio
        s = tr.series("goroutines", "naive")
        s.t, s.values                     # (n_samples,), (n_replications, n_samples)

A file that does not exist, is not HDF5, or is not a ragsim trace raises
TraceError with a message that says which.
"""

from __future__ import annotations

import dataclasses
import os
import re
from typing import Dict, Iterable, List, Optional, Sequence, Tuple

import h5py
import numpy as np
import pandas as pd

SUPPORTED_FORMAT_VERSION = 4
# Versions this reader reads: 4 stores every string as variable-length UTF-8
# (h5py gives attributes as str, but a string field of a compound table as
# bytes: decoded here); 3 adds the dimension scales of the time series
# (timeseries/name), the latency histogram series and the spans table; 2 keeps
# a run's time series as one matrix (timeseries/values, rows named by
# timeseries/series); 1 kept one dataset per series. Versions 1 to 3 store
# fixed-length strings (bytes in h5py: decoded here). Everything else is the
# same in all four.
READABLE_FORMAT_VERSIONS = (1, 2, 3, 4)

# Defaults of the model (docs/models/vectordb.md, docs/models/etcd.md) for limits a scenario may
# leave out; used to draw a limit line when the YAML does not name it. etcd
# has no lease quota unless the scenario sets one: no line.
_DEFAULT_LIMITS = {
    ("vectordb", "memory", "limit"): "8GiB",
    ("etcd", "lease_quota"): "unbounded",
}


class _RunSeries:
    """The time series of one run, in either layout.

    Format 2: timeseries/t, timeseries/values [series, sample] and the table
    timeseries/series (name, unit, description of each row). Format 1: one
    dataset per series next to t, with attributes unit and description."""

    def __init__(self, g: Optional[h5py.Group], version: int):
        self._g = g
        self.t = g["t"][:] if g is not None and "t" in g else np.zeros(0)
        self._matrix = version >= 2 and g is not None and "values" in g and "series" in g
        if self._matrix:
            tab = g["series"][:]
            self.names = [_decode(x) for x in tab["name"]]
            self._info = {n: (_decode(u), _decode(d)) for n, u, d in zip(self.names, tab["unit"], tab["description"])}
            self._row = {n: i for i, n in enumerate(self.names)}
            self._values: Optional[np.ndarray] = None
        else:
            self.names = [k for k in g.keys() if k != "t"] if g is not None else []

    def __contains__(self, name: str) -> bool:
        return name in (self._row if self._matrix else self.names)

    def get(self, name: str) -> Optional[np.ndarray]:
        """The series' values (float64), or None when the run lacks it."""
        if name not in self:
            return None
        if self._matrix:
            if self._values is not None:
                return self._values[self._row[name]]
            return self._g["values"][self._row[name]].astype(np.float64)
        return self._g[name][:].astype(np.float64)

    def load(self) -> None:
        """Read every series at once (for readers that want most of them)."""
        if self._matrix and self._values is None:
            self._values = self._g["values"][:].astype(np.float64)

    def info(self, name: str) -> Tuple[str, str]:
        if self._matrix:
            return self._info[name]
        a = self._g[name].attrs
        return str(_decode(a.get("unit", ""))), str(_decode(a.get("description", "")))


class TraceError(Exception):
    """A trace that cannot be read: missing, not HDF5, not ragsim's, or damaged."""


@dataclasses.dataclass
class Series:
    """One time series of one variant, replications stacked.

    t: sample times (s), the end of each sample interval.
    values: float64 array (n_replications, len(t)); NaN = no observation
    (and padding when a run stopped early).
    replications: the replication index of each row.
    """

    name: str
    variant: str
    t: np.ndarray
    values: np.ndarray
    replications: List[int]
    unit: str
    description: str

    def band(self, low: float = 5.0, high: float = 95.0) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Median and the [low, high] percentiles across replications, per sample.

        Samples where every replication is NaN give NaN (without a warning)."""
        v = self.values
        med = np.full(v.shape[1], np.nan)
        lo = np.full(v.shape[1], np.nan)
        hi = np.full(v.shape[1], np.nan)
        ok = np.isfinite(v).any(axis=0)
        if ok.any():
            sub = v[:, ok]
            med[ok] = np.nanmedian(sub, axis=0)
            lo[ok] = np.nanpercentile(sub, low, axis=0)
            hi[ok] = np.nanpercentile(sub, high, axis=0)
        return med, lo, hi


_LABEL_RE = re.compile(r"^([^{}]+)(?:\{([^{}]*)\})?$")


def parse_series_name(name: str) -> Tuple[str, Dict[str, str]]:
    """Split a Prometheus-style dataset name into (metric, labels).

    >>> parse_series_name("vectordb_memory_bytes{replica=0}")
    ('vectordb_memory_bytes', {'replica': '0'})
    """
    m = _LABEL_RE.match(name)
    if not m:
        return name, {}
    labels: Dict[str, str] = {}
    if m.group(2):
        for part in m.group(2).split(","):
            if "=" in part:
                k, v = part.split("=", 1)
                labels[k.strip()] = v.strip()
    return m.group(1), labels


def _str(x) -> str:
    """An HDF5 string as str: bytes (a fixed-length string, or a variable-length one in a
    compound table) decoded as UTF-8, str (a variable-length attribute) as it is."""
    if isinstance(x, (bytes, np.bytes_)):
        return bytes(x).decode("utf-8", errors="replace")
    return str(x)


def _decode(v):
    """HDF5 attribute or cell value -> plain Python value (strings as str)."""
    if isinstance(v, (bytes, np.bytes_, np.str_)):
        return _str(v)
    if isinstance(v, np.ndarray):
        if v.dtype.kind in "SU" or (v.dtype.kind == "O" and all(isinstance(x, (bytes, str)) for x in v.ravel())):
            return [_str(x) for x in v.ravel()]
        return v.tolist()
    if isinstance(v, np.integer):
        return int(v)
    if isinstance(v, np.floating):
        return float(v)
    return v


def table_to_frame(data: np.ndarray) -> pd.DataFrame:
    """A compound (structured) numpy array -> DataFrame; string columns (fixed-length: numpy
    bytes; variable-length: objects, bytes as h5py reads them from a compound) as columns of
    dtype object holding str."""
    cols = {}
    for name in data.dtype.names or ():
        col = data[name]
        if col.dtype.kind in "SO":
            cols[name] = pd.Series([_str(x) for x in col], dtype=object)
        else:
            cols[name] = col
    return pd.DataFrame(cols, columns=list(data.dtype.names or ()))


class Trace:
    """An open ragsim trace. Use as a context manager, or call close()."""

    def __init__(self, path: str | os.PathLike):
        self.path = os.fspath(path)
        if not os.path.exists(self.path):
            raise TraceError(f"{self.path}: no such file")
        if os.path.isdir(self.path):
            raise TraceError(f"{self.path}: is a directory, not a trace file")
        try:
            if not h5py.is_hdf5(self.path):
                raise TraceError(f"{self.path}: not an HDF5 file (is it a ragsim trace? `ragsim run ... -o OUT.h5` writes one)")
            self._f = h5py.File(self.path, "r")
        except TraceError:
            raise
        except (OSError, ValueError) as e:
            raise TraceError(f"{self.path}: cannot open as HDF5: {e}") from None
        try:
            self._check()
        except Exception:
            self._f.close()
            raise
        self._variants: Optional[List[str]] = None
        self._ts_cache: Dict[Tuple[str, int], Optional[_RunSeries]] = {}

    # -- lifetime ------------------------------------------------------------------

    def close(self) -> None:
        self._f.close()

    def __enter__(self) -> "Trace":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _check(self) -> None:
        a = self._f.attrs
        fmt = _decode(a.get("format", b""))
        if fmt != "ragsim-trace":
            raise TraceError(f"{self.path}: not a ragsim trace (root attribute format is {fmt!r}, expected 'ragsim-trace')")
        ver = _decode(a.get("format_version", -1))
        if ver not in READABLE_FORMAT_VERSIONS:
            known = ", ".join(str(v) for v in READABLE_FORMAT_VERSIONS[:-1]) + f" and {READABLE_FORMAT_VERSIONS[-1]}"
            raise TraceError(f"{self.path}: trace format_version {ver}, this reader knows versions {known}")
        self._version = int(ver)
        if "runs" not in self._f or not isinstance(self._f["runs"], h5py.Group):
            raise TraceError(f"{self.path}: damaged trace: no /runs group")
        if len(self._f["runs"]) == 0:
            raise TraceError(f"{self.path}: the trace holds no runs")

    # -- attributes ----------------------------------------------------------------

    @property
    def file(self) -> h5py.File:
        """The underlying h5py.File, for anything the readers do not cover."""
        return self._f

    @property
    def attrs(self) -> Dict[str, object]:
        """Root attributes, decoded (strings as str, integers as int)."""
        return {k: _decode(v) for k, v in self._f.attrs.items()}

    @property
    def name(self) -> str:
        return str(self.attrs.get("scenario_name", ""))

    @property
    def model(self) -> str:
        return str(self.attrs.get("model", ""))

    @property
    def baseline(self) -> str:
        b = self.attrs.get("baseline")
        if b and b in self._f["runs"]:
            return str(b)
        for v in self._f["runs"]:
            if _decode(self._f["runs"][v].attrs.get("baseline", 0)) == 1:
                return v
        return self.variants[0]

    @property
    def variants(self) -> List[str]:
        """Variant names in the scenario's order (as in /summary), baseline first."""
        if self._variants is None:
            names = list(self._f["runs"].keys())
            order: List[str] = []
            for ds in ("summary", "comparison"):
                if ds in self._f:
                    for v in self._f[ds]["variant"]:
                        s = _decode(v)
                        if s in names and s not in order:
                            order.append(s)
            order += sorted(n for n in names if n not in order)
            b = _decode(self._f.attrs.get("baseline", b""))
            if b in order:
                order.remove(b)
                order.insert(0, b)
            self._variants = order
        return list(self._variants)

    def variant_attrs(self, variant: str) -> Dict[str, object]:
        """Attributes of /runs/<variant>: baseline, description, scenario_yaml."""
        return {k: _decode(v) for k, v in self._group(variant).attrs.items()}

    def replications(self, variant: str) -> List[int]:
        """Replication indices of a variant's runs, ascending."""
        g = self._group(variant)
        reps = []
        for k in g:
            if k.startswith("rep"):
                r = _decode(g[k].attrs.get("replication", int(k[3:]) if k[3:].isdigit() else -1))
                reps.append(int(r))
        return sorted(reps)

    def runs(self) -> List[Tuple[str, int]]:
        """Every (variant, replication) in the trace, variants in order."""
        return [(v, r) for v in self.variants for r in self.replications(v)]

    def run_attrs(self, variant: str, replication: int) -> Dict[str, object]:
        """Attributes of one run: seed, replication, events_processed, sim_seconds, complete, wall_seconds."""
        return {k: _decode(v) for k, v in self._run(variant, replication).attrs.items()}

    def run_info(self) -> pd.DataFrame:
        """One row per run: variant, replication and the run's attributes."""
        rows = []
        for v, r in self.runs():
            a = self.run_attrs(v, r)
            a.pop("replication", None)
            rows.append({"variant": v, "replication": r, **a})
        return pd.DataFrame(rows)

    def _group(self, variant: str) -> h5py.Group:
        if variant not in self._f["runs"]:
            raise KeyError(f"no variant {variant!r} in {self.path} (variants: {', '.join(self.variants)})")
        return self._f["runs"][variant]

    def _run(self, variant: str, replication: int) -> h5py.Group:
        g = self._group(variant)
        key = f"rep{int(replication):03d}"
        if key not in g:
            raise KeyError(f"no replication {replication} of variant {variant!r} in {self.path}")
        return g[key]

    # -- the scenario --------------------------------------------------------------

    def scenario_yaml(self, variant: Optional[str] = None) -> str:
        """The effective scenario as YAML: the whole file's, or a variant's (overlays applied)."""
        if variant is not None:
            y = self.variant_attrs(variant).get("scenario_yaml")
            if y:
                return str(y)
        return str(self.attrs.get("scenario_yaml", ""))

    def scenario(self, variant: Optional[str] = None) -> Optional[dict]:
        """The effective scenario parsed (PyYAML), or None when PyYAML is missing.

        Values with units stay strings ('4GiB'); see units.parse_size."""
        try:
            import yaml  # python3-yaml
        except ImportError:
            return None
        try:
            doc = yaml.safe_load(self.scenario_yaml(variant))
        except yaml.YAMLError:
            return None
        return doc if isinstance(doc, dict) else None

    def scenario_value(self, keys: Sequence[str], variant: Optional[str] = None, default=None):
        """A value of the (variant's) scenario by its path, e.g. ('vectordb', 'memory', 'limit').

        Falls back to the model's documented default for a few limits, then
        to `default`."""
        doc = self.scenario(variant)
        node = doc
        for k in keys:
            if not isinstance(node, dict) or k not in node:
                node = None
                break
            node = node[k]
        if node is not None:
            return node
        section = doc.get(keys[0]) if isinstance(doc, dict) else None
        if section is not None and tuple(keys) in _DEFAULT_LIMITS:
            return _DEFAULT_LIMITS[tuple(keys)]
        return default

    # -- tables --------------------------------------------------------------------

    def summary(self) -> pd.DataFrame:
        """/summary: one row per run (variant, replication, seed, ... the model's metrics)."""
        if "summary" not in self._f:
            raise TraceError(f"{self.path}: no /summary table")
        return table_to_frame(self._f["summary"][:])

    def has_comparison(self) -> bool:
        return "comparison" in self._f

    def comparison(self) -> Optional[pd.DataFrame]:
        """/comparison (written by `ragsim compare`): one row per (variant, metric), or None.

        Adds half_width = (ci_high - ci_low) / 2 and diff_half_width likewise."""
        if "comparison" not in self._f:
            return None
        df = table_to_frame(self._f["comparison"][:])
        df["half_width"] = (df["ci_high"] - df["ci_low"]) / 2
        df["diff_half_width"] = (df["diff_ci_high"] - df["diff_ci_low"]) / 2
        return df

    def units(self, table: str) -> Dict[str, str]:
        """Column -> unit of a compound table ('summary', 'comparison', or a run table such as
        'events', taken from the first run)."""
        if table in self._f:
            ds = self._f[table]
        else:
            v, r = self.runs()[0]
            run = self._run(v, r)
            if table not in run:
                raise KeyError(f"no table {table!r} in {self.path}")
            ds = run[table]
        u = _decode(ds.attrs.get("units", []))
        return dict(zip(ds.dtype.names, u))

    def _run_table(self, table: str, variants: Optional[Iterable[str]] = None) -> Optional[pd.DataFrame]:
        frames = []
        dtype = None
        for v in (list(variants) if variants is not None else self.variants):
            for r in self.replications(v):
                run = self._run(v, r)
                if table not in run:
                    continue
                data = run[table][:]
                dtype = data.dtype
                df = table_to_frame(data)
                df.insert(0, "replication", r)
                df.insert(0, "variant", v)
                frames.append(df)
        if not frames:
            return None
        return pd.concat(frames, ignore_index=True)

    def events(self, variants: Optional[Iterable[str]] = None) -> pd.DataFrame:
        """Every run's events table: variant, replication, time (s), time_ns, kind, source, value, detail."""
        df = self._run_table("events", variants)
        if df is None:
            return pd.DataFrame(columns=["variant", "replication", "time", "time_ns", "kind", "source", "value", "detail"])
        return df

    def has_requests(self) -> bool:
        return any("requests" in self._run(v, r) for v, r in self.runs())

    def requests(self, variants: Optional[Iterable[str]] = None) -> Optional[pd.DataFrame]:
        """Sampled per-request records (RAG model with trace.request_sample > 0), or None.

        Adds latency_s = end - arrival (what the client saw)."""
        df = self._run_table("requests", variants)
        if df is not None:
            df["latency_s"] = df["end"] - df["arrival"]
        return df

    def spans(self, variants: Optional[Iterable[str]] = None) -> Optional[pd.DataFrame]:
        """Spans of the sampled requests (format_version 3; docs/trace-format.md#spans), or None:
        variant, replication, request, name, component, attempt, start (s), end (s), status."""
        return self._run_table("spans", variants)

    def stations(self, variants: Optional[Iterable[str]] = None) -> Optional[pd.DataFrame]:
        """Per-station statistics of every run (network model), or None."""
        return self._run_table("stations", variants)

    # -- time series ---------------------------------------------------------------

    def _series_of(self, variant: str, replication: int) -> Optional[_RunSeries]:
        """The time series of a run (None when it has none), read once per trace."""
        key = (variant, int(replication))
        if key not in self._ts_cache:
            run = self._run(variant, replication)
            self._ts_cache[key] = _RunSeries(run["timeseries"], self._version) if "timeseries" in run else None
        return self._ts_cache[key]

    def series_names(self, variant: Optional[str] = None) -> List[str]:
        """Time-series names (without 't'), of one variant or of any."""
        names = set()
        for v in ([variant] if variant else self.variants):
            for r in self.replications(v):
                ts = self._series_of(v, r)
                if ts is not None:
                    names.update(ts.names)
        return sorted(names)

    def has_series(self, name: str) -> bool:
        return name in self.series_names()

    def series_info(self, name: str) -> Tuple[str, str]:
        """(unit, description) of a time series."""
        for v, r in self.runs():
            ts = self._series_of(v, r)
            if ts is not None and name in ts:
                return ts.info(name)
        raise KeyError(f"no time series {name!r} in {self.path}")

    def series(self, name: str, variant: str) -> Series:
        """One series of every replication of a variant, as (t, values[rep, sample]).

        Runs that lack the series give a row of NaN; shorter runs are padded with NaN."""
        rows, reps, t = [], [], None
        for r in self.replications(variant):
            ts = self._series_of(variant, r)
            if ts is None:
                continue
            if t is None or len(ts.t) > len(t):
                t = ts.t
            row = ts.get(name)
            rows.append(row if row is not None else np.full(len(ts.t), np.nan))
            reps.append(r)
        if t is None:
            t = np.zeros(0)
        values = np.full((len(rows), len(t)), np.nan)
        for i, row in enumerate(rows):
            values[i, : len(row)] = row
        try:
            unit, desc = self.series_info(name)
        except KeyError:
            if not rows:
                raise
            unit, desc = "", ""
        return Series(name, variant, t, values, reps, unit, desc)

    def timeseries(self, names: Optional[Sequence[str]] = None, variants: Optional[Iterable[str]] = None) -> pd.DataFrame:
        """Long frame of time series: columns variant, replication, t, then one per series.

        names: the series to read (default: all). A run without one of them
        gets NaN in that column."""
        frames = []
        for v in (list(variants) if variants is not None else self.variants):
            for r in self.replications(v):
                ts = self._series_of(v, r)
                if ts is None:
                    continue
                t = ts.t
                cols = {"variant": [v] * len(t), "replication": np.full(len(t), r, dtype=np.int64), "t": t}
                wanted = names if names is not None else ts.names
                if names is None:
                    ts.load()
                for n in wanted:
                    x = ts.get(n)
                    cols[n] = x if x is not None else np.full(len(t), np.nan)
                frames.append(pd.DataFrame(cols))
        if not frames:
            return pd.DataFrame(columns=["variant", "replication", "t", *(names or [])])
        return pd.concat(frames, ignore_index=True)

    def sample_interval(self) -> float:
        dt = self.attrs.get("sample_interval_s")
        if isinstance(dt, (int, float)) and dt > 0:
            return float(dt)
        v, r = self.runs()[0]
        ts = self._series_of(v, r)
        t = ts.t if ts is not None else np.zeros(0)
        return float(t[1] - t[0]) if len(t) > 1 else 1.0


def open_trace(path: str | os.PathLike) -> Trace:
    """Open a trace (raises TraceError with a readable message)."""
    return Trace(path)


def load_summary(path: str | os.PathLike) -> pd.DataFrame:
    """/summary of a trace file, one row per run."""
    with Trace(path) as tr:
        return tr.summary()


def load_comparison(path: str | os.PathLike) -> Optional[pd.DataFrame]:
    """/comparison of a trace file, or None when it was written by `ragsim run`."""
    with Trace(path) as tr:
        return tr.comparison()
