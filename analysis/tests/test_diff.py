"""`ragsim_analysis diff`: two traces of the same scenario and seed are the
same object for object (the determinism promise), another seed is not, and
the one nondeterministic attribute (wall_seconds) is ignored unless asked."""

import shutil
import subprocess
import sys

import h5py
import pytest

from conftest import ANALYSIS, SOURCE


def _run(binary, out, seed):
    p = subprocess.run([str(binary), "run", str(SOURCE / "scenarios/demo.yaml"), "--set", "duration=2m",
                        "--reps", "2", "--seed", str(seed), "-q", "-o", str(out)],
                       capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stderr
    return out


def _diff(*args):
    return subprocess.run([sys.executable, "-m", "ragsim_analysis", "diff", *map(str, args)],
                          capture_output=True, text=True, cwd=ANALYSIS, timeout=300)


@pytest.fixture(scope="module")
def traces(binary, tmp_path_factory):
    d = tmp_path_factory.mktemp("diff")
    return _run(binary, d / "a.h5", 7), _run(binary, d / "b.h5", 7), _run(binary, d / "c.h5", 8)


def test_same_seed_is_the_same_object_for_object(traces):
    a, b, _ = traces
    with h5py.File(a, "r") as f:
        n = []
        f.visititems(lambda name, o: n.append(name) if isinstance(o, h5py.Dataset) else None)
        walls = [f["runs/default"][r].attrs["wall_seconds"] for r in f["runs/default"]]
    p = _diff(a, b)
    assert p.returncode == 0, p.stdout + p.stderr
    assert p.stdout.strip().splitlines()[-1] == f"{len(n)} datasets compared, 0 differences"
    assert len(walls) == 2   # the attribute it ignored is there


def test_another_seed_differs_and_says_where(traces):
    a, _, c = traces
    p = _diff(a, c, "--max-lines", "3")
    assert p.returncode == 1, p.stdout + p.stderr
    lines = p.stdout.strip().splitlines()
    assert len(lines) == 5 and lines[3].startswith("... and ") and lines[4].endswith(" differences"), lines
    full = _diff(a, c, "--max-lines", "0").stdout
    assert "/: attribute master_seed: 7 vs 8" in full
    assert "/runs/default/rep000/timeseries/t: " not in full   # the sample times do not depend on the seed
    assert any("values differ, first at [" in x for x in full.splitlines()), full
    # an element of the series matrix is named by its series and sample
    assert any("/timeseries/values: " in x and "(series " in x and ", sample " in x for x in full.splitlines()), full


def test_ignore_attr_replaces_the_default(traces):
    a, b, _ = traces
    p = _diff(a, b, "--ignore-attr", "scenario_file")
    assert p.returncode == 1   # wall_seconds is compared now, and differs
    assert "attribute wall_seconds" in p.stdout


def test_a_flipped_bit_is_found(traces, tmp_path):
    a, b, _ = traces
    x = tmp_path / "x.h5"
    shutil.copy(b, x)
    with h5py.File(x, "r+") as f:
        d = f["runs/default/rep001/timeseries/t"]
        v = d[()]
        v[5] = v[5] + v[5] * 2.0 ** -52   # one ulp
        d[...] = v
    p = _diff(a, x)
    assert p.returncode == 1
    assert "/runs/default/rep001/timeseries/t: 1 of " in p.stdout and "first at [5]" in p.stdout


def test_bad_input_exits_2(traces, tmp_path):
    a, _, _ = traces
    assert _diff(a, tmp_path / "missing.h5").returncode == 2
    junk = tmp_path / "junk.h5"
    junk.write_text("not hdf5")
    p = _diff(a, junk)
    assert p.returncode == 2 and "cannot read" in p.stderr
