"""The readers (ragsim_analysis.trace) against traces written by the real binary."""

import shutil
import subprocess
from pathlib import Path

import h5py
import numpy as np
import pytest

import ragsim_analysis as ra
from conftest import SOURCE
from ragsim_analysis.report import comparison_text


def test_compare_trace_variants_runs_and_summary(compare_trace):
    path, _ = compare_trace
    with ra.Trace(path) as tr, h5py.File(path, "r") as f:
        assert tr.model == "rag"
        assert tr.baseline == "naive"
        assert tr.variants[0] == "naive"
        assert sorted(tr.variants) == sorted(f["runs"].keys())
        assert all(tr.replications(v) == [0, 1] for v in tr.variants)
        s = tr.summary()
        assert len(s) == 2 * len(tr.variants)
        raw = f["summary"][:]
        np.testing.assert_array_equal(s["success_ratio"].to_numpy(), raw["success_ratio"])
        assert list(s["variant"]) == [bytes(x).decode() for x in raw["variant"]]
        assert tr.units("summary")["latency_p95_s"] == "s"


def test_comparison_frame(compare_trace):
    path, _ = compare_trace
    with ra.Trace(path) as tr:
        c = tr.comparison()
        assert c is not None and tr.has_comparison()
        row = c[(c["variant"] == "rate_limit") & (c["metric"] == "success_ratio")].iloc[0]
        assert row["half_width"] == pytest.approx((row["ci_high"] - row["ci_low"]) / 2)
        assert row["mean"] == pytest.approx(row["ci_low"] + row["half_width"])
        base = c[c["variant"] == "naive"]
        assert (base["diff"].fillna(0) == 0).all()
        # the mean of /comparison is the mean of /summary's column
        s = tr.summary()
        assert row["mean"] == pytest.approx(s.loc[s["variant"] == "rate_limit", "success_ratio"].mean())


def test_comparison_text_is_what_ragsim_compare_printed(compare_trace):
    path, stdout = compare_trace
    lines = stdout.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("compared with"))
    end = next(i for i, line in enumerate(lines) if line.startswith("trace:"))
    printed = "\n".join(lines[start:end]).rstrip() + "\n"
    with ra.Trace(path) as tr:
        assert comparison_text(tr) == printed


def test_series_stack_replications(compare_trace):
    path, _ = compare_trace
    with ra.Trace(path) as tr, h5py.File(path, "r") as f:
        s = tr.series("success_ratio", "naive")
        t0 = f["runs/naive/rep000/timeseries/t"][:]
        np.testing.assert_array_equal(s.t, t0)
        assert s.values.shape == (2, len(t0))
        ts = f["runs/naive/rep001/timeseries"]
        names = [bytes(x).decode() for x in ts["series"]["name"]]
        np.testing.assert_array_equal(s.values[1], ts["values"][names.index("success_ratio")])
        assert s.unit == "1"
        med, lo, hi = s.band()
        ok = np.isfinite(med)
        assert ok.any()
        assert np.all(lo[ok] <= med[ok]) and np.all(med[ok] <= hi[ok])
        # the avalanche: the vector DB's memory reaches its limit and drops to 0 when killed
        m = tr.series("vectordb_memory_bytes_max", "naive")
        assert m.unit == "bytes" and np.nanmax(m.values) > 0 and np.nanmin(m.values) == 0


def test_timeseries_long_frame(compare_trace):
    path, _ = compare_trace
    with ra.Trace(path) as tr:
        df = tr.timeseries(["success_ratio", "no_such_series"], variants=["naive", "breaker"])
        n = len(tr.series("success_ratio", "naive").t)
        assert len(df) == 4 * n
        assert set(df["variant"]) == {"naive", "breaker"}
        assert df["no_such_series"].isna().all()
        assert df["success_ratio"].notna().any()


def test_events_and_requests(compare_trace):
    path, _ = compare_trace
    with ra.Trace(path) as tr:
        ev = tr.events()
        kinds = set(ev["kind"])
        assert {"run_start", "run_end"} <= kinds
        ooms = ev[ev["kind"] == "oom_kill"]
        assert len(ooms) > 0 and set(ooms["variant"]) == {"naive"}
        assert (np.diff(ev[(ev["variant"] == "naive") & (ev["replication"] == 0)]["time_ns"]) >= 0).all()
        if tr.has_requests():
            rq = tr.requests(["naive"])
            assert (rq["latency_s"].dropna() >= 0).all()
            assert set(rq["outcome"]) <= {"success", "degraded", "timeout", "error", "rejected"}


def test_run_trace_has_no_comparison(run_trace):
    with ra.Trace(run_trace) as tr:
        assert tr.variants == ["unbounded"]
        assert tr.comparison() is None and not tr.has_comparison()
        assert len(tr.summary()) == 2
        assert "heap_inuse_bytes" in tr.series_names()
        assert tr.sample_interval() > 0


def test_network_trace(network_trace):
    with ra.Trace(network_trace) as tr:
        assert tr.model == "network"
        assert tr.variants == ["default"]
        st = tr.stations()
        assert st is not None and {"api", "db"} <= set(st["name"])
        assert "goroutines" not in tr.series_names()


def test_parse_series_name():
    assert ra.parse_series_name("vectordb_memory_bytes{replica=0}") == ("vectordb_memory_bytes", {"replica": "0"})
    assert ra.parse_series_name("station_queue_length{station=vectordb,replica=1}") == \
        ("station_queue_length", {"station": "vectordb", "replica": "1"})
    assert ra.parse_series_name("goroutines") == ("goroutines", {})


def test_units():
    assert ra.parse_size("4GiB") == 4 * 2 ** 30
    assert ra.parse_duration("5m") == 300
    assert ra.format_value(0.25, 0.01, "s") == "250 ± 10 ms"


# -- bad input: a clear TraceError, never a crash ---------------------------------------------


def test_missing_file(tmp_path):
    with pytest.raises(ra.TraceError, match="no such file"):
        ra.Trace(tmp_path / "nope.h5")


def test_directory(tmp_path):
    with pytest.raises(ra.TraceError, match="directory"):
        ra.Trace(tmp_path)


def test_not_hdf5(tmp_path):
    p = tmp_path / "x.h5"
    p.write_text("scenario: not a trace\n")
    with pytest.raises(ra.TraceError, match="not an HDF5 file"):
        ra.Trace(p)


def test_hdf5_but_not_ragsim(tmp_path):
    p = tmp_path / "x.h5"
    with h5py.File(p, "w") as f:
        f.create_dataset("data", data=np.arange(3))
    with pytest.raises(ra.TraceError, match="not a ragsim trace"):
        ra.Trace(p)


def test_other_format_version(compare_trace, tmp_path):
    p = tmp_path / "v5.h5"
    shutil.copy(compare_trace[0], p)
    with h5py.File(p, "r+") as f:
        f.attrs["format_version"] = np.int64(5)
    with pytest.raises(ra.TraceError, match="format_version 5, this reader knows versions 1, 2, 3 and 4"):
        ra.Trace(p)


def _to_format_1(src, dst):
    """The trace rewritten as format 1 wrote it: one dataset per series
    (attributes unit, description) next to t, no values or series table."""
    shutil.copy(src, dst)
    with h5py.File(dst, "r+") as f:
        f.attrs["format_version"] = np.int64(1)
        for v in f["runs"]:
            for r in f["runs"][v]:
                ts = f["runs"][v][r]["timeseries"]
                tab, values = ts["series"][:], ts["values"][:]
                del ts["series"], ts["values"]
                if "name" in ts:          # format 3's dimension scale
                    del ts["name"]
                for i, row in enumerate(tab):
                    d = ts.create_dataset(bytes(row["name"]).decode(), data=values[i])
                    d.attrs["unit"] = row["unit"]
                    d.attrs["description"] = row["description"]


def test_format_1_traces_read_the_same(compare_trace, tmp_path):
    """A trace written before the series became one matrix reads the same."""
    old = tmp_path / "v1.h5"
    _to_format_1(compare_trace[0], old)
    with ra.Trace(compare_trace[0]) as new, ra.Trace(old) as tr:
        assert tr.series_names() == new.series_names() and len(tr.series_names()) > 50
        for name in ("success_ratio", "vectordb_memory_bytes_max", "goroutines"):
            assert tr.series_info(name) == new.series_info(name)
            for v in tr.variants:
                a, b = tr.series(name, v), new.series(name, v)
                np.testing.assert_array_equal(a.t, b.t)
                np.testing.assert_array_equal(a.values, b.values)
        a, b = tr.timeseries(), new.timeseries()
        assert sorted(a.columns) == sorted(b.columns)   # format 1 lists series by name, 2 in the model's order
        assert a[b.columns].equals(b)
        assert tr.sample_interval() == new.sample_interval()


def test_truncated_trace(compare_trace, tmp_path):
    p = tmp_path / "cut.h5"
    data = compare_trace[0].read_bytes()
    p.write_bytes(data[: len(data) // 3])
    with pytest.raises(ra.TraceError):
        with ra.Trace(p) as tr:
            tr.summary()


# -- format 3: dimension scales, histograms, spans ---------------------------------------------

def test_xarray_opens_a_run_by_name_and_time(compare_trace, binary, tmp_path):
    """xarray (h5netcdf engine) opens a run's time series group with `name` and `t` as
    coordinates, from the HDF5 dimension scales; both ways of writing the series (at the
    end of a short run, in chunks while a long one goes) carry them."""
    xr = pytest.importorskip("xarray")
    pytest.importorskip("h5netcdf")
    long_run = tmp_path / "long.h5"
    p = subprocess.run([str(binary), "run", SOURCE / "scenarios/demo.yaml", "-o", str(long_run), "--reps", "1",
                        "--set", "duration=2200s", "--set", "sample_interval=1s", "--set", "warmup=0s", "-q"],
                       capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stderr
    for path, group, variant in ((compare_trace[0], "runs/naive/rep000/timeseries", "naive"),
                                 (long_run, "runs/default/rep000/timeseries", "default")):
        with ra.Trace(path) as tr:
            want = tr.series("success_ratio", variant)
            names = tr.series_names(variant)
        ds = xr.open_dataset(path, engine="h5netcdf", group=group)
        try:
            assert ds["values"].dims == ("name", "t")
            assert sorted(str(n) for n in ds["name"].values) == names
            got = ds["values"].sel(name="success_ratio")
            np.testing.assert_array_equal(got["t"].values, want.t)
            np.testing.assert_array_equal(got.values, want.values[0])
        finally:
            ds.close()
    with h5py.File(long_run, "r") as f:
        assert f["runs/default/rep000/timeseries/values"].chunks is not None   # the streamed layout
        assert f["runs/default/rep000/timeseries/t"].shape == (2200,)


def _to_format_2(src, dst):
    """The trace as format 2 wrote it: no name scale, no spans, no histogram series."""
    shutil.copy(src, dst)
    with h5py.File(dst, "r+") as f:
        f.attrs["format_version"] = np.int64(2)
        for v in f["runs"]:
            for r in f["runs"][v]:
                run = f["runs"][v][r]
                ts = run["timeseries"]
                tab, values, t = ts["series"][:], ts["values"][:], ts["t"][:]
                keep = [i for i, n in enumerate(tab["name"]) if b"_bucket{" not in n and not
                        n.endswith((b"seconds_sum", b"seconds_count")) and b"seconds_sum{" not in n
                        and b"seconds_count{" not in n]
                del ts["series"], ts["values"], ts["name"], ts["t"]
                ts.create_dataset("t", data=t)
                ts.create_dataset("values", data=values[keep])
                ts.create_dataset("series", data=tab[keep])
                if "spans" in run:
                    del run["spans"]


def test_format_2_traces_still_read(compare_trace, tmp_path):
    old = tmp_path / "v2.h5"
    _to_format_2(compare_trace[0], old)
    with ra.Trace(compare_trace[0]) as new, ra.Trace(old) as tr:
        assert tr.attrs["format_version"] == 2 and new.attrs["format_version"] == 4
        assert not any("_bucket{" in n for n in tr.series_names())
        assert any("_bucket{" in n for n in new.series_names())
        assert tr.spans() is None and new.spans() is not None
        for name in ("success_ratio", "goroutines"):
            for v in tr.variants:
                np.testing.assert_array_equal(tr.series(name, v).values, new.series(name, v).values)
        assert tr.summary().equals(new.summary())


# -- format 4: variable-length UTF-8 strings, read as str -------------------------------------

# A trace written by format 3 (fixed-length strings), committed: made by ragsim 0.1.0 built
# from the last commit that wrote format 3, with
#   ragsim compare scenarios/trap-vectordb-avalanche.yaml --reps 1 --variants rate_limit \
#       --set duration=20s -q -o analysis/tests/trace-format3.h5
FORMAT3 = Path(__file__).resolve().parent / "trace-format3.h5"

# The string columns of each table (docs/trace-format.md)
_STRING_COLUMNS = {
    "summary": ("variant",),
    "comparison": ("variant", "metric", "unit"),
    "events": ("variant", "kind", "source", "detail"),
    "requests": ("variant", "outcome", "reason"),
    "spans": ("variant", "name", "component", "status"),
}


def _frames(tr):
    return {"summary": tr.summary(), "comparison": tr.comparison(), "events": tr.events(),
            "requests": tr.requests(), "spans": tr.spans()}


def _assert_strings_are_str(tr):
    """Every string the analysis package returns is a str: in the frames (dtype object), the
    attributes, the units and the series' names and descriptions."""
    for table, frame in _frames(tr).items():
        assert frame is not None and len(frame) > 0, table
        for col in _STRING_COLUMNS[table]:
            assert frame[col].dtype == object, (table, col, frame[col].dtype)
            bad = [x for x in frame[col] if type(x) is not str]
            assert not bad, (table, col, bad[:3])
        for col in frame.columns:   # and no other column holds bytes
            if frame[col].dtype == object:
                assert all(type(x) is str for x in frame[col]), (table, col)
        assert all(type(k) is str and type(u) is str for k, u in tr.units(table).items()), table
    for k in ("format", "model", "scenario_name", "scenario_yaml", "scenario_source", "baseline", "ragsim_version"):
        assert type(tr.attrs[k]) is str, k
    v = tr.variants[0]
    assert type(tr.variant_attrs(v)["description"]) is str and type(tr.variant_attrs(v)["scenario_yaml"]) is str
    names = tr.series_names()
    assert names and all(type(n) is str for n in names)
    unit, desc = tr.series_info("success_ratio")
    assert (unit, type(desc)) == ("1", str) and desc


def _string_attrs(f):
    """(object path, attribute name, h5py type id) of every string attribute in the file."""
    out = []
    objs = [("/", f)]
    f.visititems(lambda name, o: objs.append(("/" + name, o)))
    for path, o in objs:
        for name in o.attrs:
            tid = o.attrs.get_id(name).get_type()
            if isinstance(tid, h5py.h5t.TypeStringID):
                out.append((path, name, tid))
    return out


def test_format_4_writes_every_string_as_variable_length_utf8(compare_trace):
    """Attributes, the name scale and the string columns of every table: H5T_VARIABLE,
    UTF-8, NUL-terminated; h5py reads the attributes as str. Only the dimension scales'
    CLASS and NAME (written by the HDF5 library, as its specification says) are not."""
    with h5py.File(compare_trace[0], "r") as f:
        assert f.attrs["format_version"] == 4
        attrs = _string_attrs(f)
        assert len(attrs) > 50
        for path, name, tid in attrs:
            if name in ("CLASS", "NAME"):
                continue
            assert tid.is_variable_str() and tid.get_cset() == h5py.h5t.CSET_UTF8, (path, name)
            assert tid.get_strpad() == h5py.h5t.STR_NULLTERM, (path, name)
            value = f[path].attrs[name]
            if isinstance(value, np.ndarray):    # units: one per column
                assert value.dtype == object and all(type(x) is str for x in value), (path, name)
            else:
                assert type(value) is str, (path, name, type(value))
        assert type(f.attrs["scenario_yaml"]) is str and "vectordb" in f.attrs["scenario_yaml"]
        tables, columns = [], 0
        f.visititems(lambda name, o: tables.append(name) if isinstance(o, h5py.Dataset) and o.dtype.names else None)
        assert {"summary", "comparison"} <= set(tables) and any(t.endswith("/spans") for t in tables)
        for t in tables:
            dt = f[t].dtype
            for col in dt.names:
                info = h5py.check_string_dtype(dt[col])
                if info is None:
                    assert dt[col].kind in "if", (t, col, dt[col])
                    continue
                assert info.encoding == "utf-8" and info.length is None, (t, col, info)
                columns += 1
                # h5py 3.7 gives a variable-length string inside a compound as bytes
                cell = f[t][0][col] if f[t].shape[0] else b""
                assert isinstance(cell, (bytes, str)), (t, col, type(cell))
        assert columns >= 10
        ts = f["runs/naive/rep000/timeseries"]
        names = ts["name"].asstr()[:]
        assert all(type(n) is str for n in names)
        assert list(names) == [bytes(x).decode() for x in ts["series"]["name"]]


def test_format_4_frames_and_attributes_hold_str(compare_trace):
    with ra.Trace(compare_trace[0]) as tr, h5py.File(compare_trace[0], "r") as f:
        _assert_strings_are_str(tr)
        ev = tr.events(["naive"])
        raw = f["runs/naive/rep000/events"][:]
        assert list(ev.loc[ev["replication"] == 0, "kind"]) == [bytes(x).decode() for x in raw["kind"]]
        assert "oom_kill" in set(ev["kind"])


def test_xarray_gets_str_for_names_and_attributes(compare_trace):
    """xarray through h5netcdf: the name coordinate and the attributes are str; the series
    table's fields come back as bytes (h5py's reading of a compound), the same names."""
    xr = pytest.importorskip("xarray")
    pytest.importorskip("h5netcdf")
    ds = xr.open_dataset(compare_trace[0], engine="h5netcdf", group="runs/naive/rep000/timeseries")
    try:
        names = list(ds["name"].values)
        assert names and all(type(n) is str for n in names)
        assert ds["t"].attrs["unit"] == "s" and type(ds["t"].attrs["description"]) is str
        units = ds["series"].attrs["units"]
        assert list(units) == ["", "", ""] and all(type(u) is str for u in units)
        tab = ds["series"].values
        assert [bytes(x).decode() for x in tab["name"]] == names
        assert ds["values"].sel(name="success_ratio").dims == ("t",)
    finally:
        ds.close()


def test_format_3_file_still_reads_with_str(tmp_path):
    """The committed format 3 trace (fixed-length strings: bytes in h5py) reads with every
    string as a str, and its tables as h5py holds them."""
    with h5py.File(FORMAT3, "r") as f:
        assert f.attrs["format_version"] == 3
        assert isinstance(f.attrs["format"], bytes)                    # fixed-length
        assert h5py.check_string_dtype(f["summary"].dtype["variant"]).length == 64
        raw_summary, raw_events = f["summary"][:], f["runs/rate_limit/rep000/events"][:]
        ts = f["runs/rate_limit/rep000/timeseries"]
        raw_names = [bytes(x).decode() for x in ts["series"]["name"]]
        raw_values = ts["values"][raw_names.index("success_ratio")]
    with ra.Trace(FORMAT3) as tr:
        assert tr.attrs["format_version"] == 3 and tr.model == "rag"
        assert tr.variants == ["naive", "rate_limit"] and tr.baseline == "naive"
        _assert_strings_are_str(tr)
        s = tr.summary()
        assert list(s["variant"]) == [bytes(x).decode() for x in raw_summary["variant"]]
        np.testing.assert_array_equal(s["success_ratio"].to_numpy(), raw_summary["success_ratio"])
        ev = tr.events(["rate_limit"])
        assert list(ev["kind"]) == [bytes(x).decode() for x in raw_events["kind"]]
        assert ev["kind"].iloc[0] == "run_start"
        assert tr.series_names("rate_limit") == sorted(raw_names)
        np.testing.assert_array_equal(tr.series("success_ratio", "rate_limit").values[0], raw_values)
        assert set(tr.spans()["name"]) >= {"gateway", "retrieve", "generate"}


def test_format_2_from_the_format_3_file_reads_the_same(tmp_path):
    """The committed format 3 trace rewritten as format 2 wrote it (fixed-length strings, no
    name scale, spans or histogram series) reads the same, strings as str."""
    old = tmp_path / "v2.h5"
    _to_format_2(FORMAT3, old)
    with ra.Trace(FORMAT3) as v3, ra.Trace(old) as v2:
        assert v2.attrs["format_version"] == 2
        assert v2.spans() is None
        assert v2.summary().equals(v3.summary())
        assert v2.events().equals(v3.events())
        assert v2.comparison().equals(v3.comparison())
        assert all(type(x) is str for x in v2.summary()["variant"])
        assert type(v2.attrs["scenario_yaml"]) is str
        for v in v2.variants:
            np.testing.assert_array_equal(v2.series("success_ratio", v).values, v3.series("success_ratio", v).values)
            assert v2.series_info("success_ratio") == v3.series_info("success_ratio")
