"""Compare two HDF5 files object by object: what `ragsim` promises for the same
scenario and seed (bit-identical datasets), and how a change that must not
move any result is checked (docs/internals/performance.md).

    python3 -m ragsim_analysis diff A.h5 B.h5 [--ignore-attr NAME]... [--max-lines N]

Every group and dataset is compared by path; a dataset by dtype, shape and
bytes (so NaN equals NaN and -0.0 differs from 0.0); every attribute by
name, dtype and value. The attribute `wall_seconds` (how long a run took:
the one thing in a trace that is not deterministic) is ignored unless
--ignore-attr is given, which then replaces it. Storage (chunking,
compression, contiguous or not) is not compared: readers see the same
values either way.

Exit status: 0 the same, 1 different, 2 bad usage or a file that cannot be
read.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import Dict, Iterable, List, Optional, Tuple

import h5py
import numpy as np

PROG = (os.environ.get("RAGSIM_PROG") or "ragsim_analysis") + " diff"
DEFAULT_IGNORED = ("wall_seconds",)
# HDF5 dimension-scale bookkeeping (format 3): object references, i.e. file
# addresses, that say which datasets share a scale; the datasets themselves
# are compared
_SCALE_ATTRS = ("REFERENCE_LIST", "DIMENSION_LIST")


def _objects(f: h5py.File) -> Dict[str, h5py.HLObject]:
    out: Dict[str, h5py.HLObject] = {"/": f}
    f.visititems(lambda name, obj: out.__setitem__("/" + name, obj))
    return out


def _has_objects(dt: np.dtype) -> bool:
    """Whether values of this dtype hold Python objects (variable-length strings: a dataset of
    them, or fields of a compound), whose bytes in memory are pointers, not the values."""
    return dt.hasobject


def _bits(c: np.ndarray) -> list:
    """Each element of an array without objects as its bytes (so NaN equals NaN)."""
    c = np.ascontiguousarray(c)
    return c.view(f"V{c.dtype.itemsize}").tolist() if c.dtype.itemsize else [b""] * c.size


def _cells(v: np.ndarray) -> list:
    """The values of an array holding objects, element by element, comparable with ==: the
    objects (strings) by value, every other field by its bytes."""
    flat = v.ravel()
    if v.dtype.names is None:
        return flat.tolist()
    cols = [flat[n].tolist() if flat[n].dtype.hasobject else _bits(flat[n]) for n in v.dtype.names]
    return list(zip(*cols))


def _same_value(a, b) -> bool:
    a, b = np.asarray(a), np.asarray(b)
    if a.dtype != b.dtype or a.shape != b.shape:
        return False
    if _has_objects(a.dtype):
        return _cells(a) == _cells(b)
    return a.tobytes() == b.tobytes()


def _series_label(f: h5py.File, path: str, at: Tuple[int, ...]) -> str:
    """' (series NAME, sample J)' for an element of a trace's timeseries/values
    (format 2: row i is the series named in row i of timeseries/series)."""
    if len(at) != 2 or not path.endswith("/timeseries/values"):
        return ""
    tab = path[: -len("values")] + "series"
    try:
        name = f[tab][at[0]]["name"]
    except (KeyError, IndexError, ValueError):
        return ""
    if isinstance(name, (bytes, np.bytes_)):
        name = bytes(name).decode("utf-8", "replace")
    return f" (series {name}, sample {at[1]})"


def compare(path_a: str, path_b: str, ignore_attrs: Iterable[str] = DEFAULT_IGNORED) -> Tuple[List[str], int]:
    """The differences between two files (one line each) and the number of
    datasets compared. Raises OSError when a file cannot be read as HDF5."""
    ignore = set(ignore_attrs) | set(_SCALE_ATTRS)
    diffs: List[str] = []
    ndatasets = 0
    with h5py.File(path_a, "r") as fa, h5py.File(path_b, "r") as fb:
        oa, ob = _objects(fa), _objects(fb)
        for p in sorted(set(oa) - set(ob)):
            diffs.append(f"{p}: only in {path_a}")
        for p in sorted(set(ob) - set(oa)):
            diffs.append(f"{p}: only in {path_b}")
        for p in sorted(set(oa) & set(ob)):
            a, b = oa[p], ob[p]
            if isinstance(a, h5py.Dataset) != isinstance(b, h5py.Dataset):
                diffs.append(f"{p}: a dataset in one file, a group in the other")
                continue
            if isinstance(a, h5py.Dataset):
                ndatasets += 1
                if a.dtype != b.dtype:
                    diffs.append(f"{p}: dtype {a.dtype} vs {b.dtype}")
                elif a.shape != b.shape:
                    diffs.append(f"{p}: shape {a.shape} vs {b.shape}")
                elif _has_objects(a.dtype):   # variable-length strings, alone or in a table: by what they say
                    va, vb = a[()], b[()]
                    ca, cb = _cells(va), _cells(vb)
                    if ca != cb:
                        ne = [i for i, (x, y) in enumerate(zip(ca, cb)) if x != y]
                        diffs.append(f"{p}: {len(ne)} of {va.size} values differ, first at [{ne[0]}]: "
                                     f"{va.ravel()[ne[0]]!r} vs {vb.ravel()[ne[0]]!r}")
                elif a[()].tobytes() != b[()].tobytes():
                    va, vb = a[()], b[()]
                    if va.ndim >= 1 and va.size > 0:
                        # which elements differ, bit for bit (rows of a table too)
                        ba = np.frombuffer(va.tobytes(), np.uint8).reshape(va.size, -1)
                        bb = np.frombuffer(vb.tobytes(), np.uint8).reshape(vb.size, -1)
                        ne = np.nonzero((ba != bb).any(axis=1))[0]
                        at = tuple(int(i) for i in np.unravel_index(ne[0], va.shape))
                        diffs.append(f"{p}: {len(ne)} of {va.size} values differ, first at "
                                     f"[{', '.join(map(str, at))}]{_series_label(fa, p, at)}: "
                                     f"{va[at]!r} vs {vb[at]!r}")
                    else:
                        diffs.append(f"{p}: values differ")
            for name in sorted((set(a.attrs) | set(b.attrs)) - ignore):
                if name not in a.attrs or name not in b.attrs:
                    diffs.append(f"{p}: attribute {name} only in {path_a if name in a.attrs else path_b}")
                elif not _same_value(a.attrs[name], b.attrs[name]):
                    diffs.append(f"{p}: attribute {name}: {a.attrs[name]!r} vs {b.attrs[name]!r}")
    return diffs, ndatasets


def main(argv: Optional[List[str]] = None) -> int:
    p = argparse.ArgumentParser(prog=PROG, description="Compare two ragsim traces (or any HDF5 files) object by "
                                "object: datasets bit for bit, attributes by value.",
                                epilog="Exit status: 0 the same, 1 different, 2 bad usage or an unreadable file.")
    p.add_argument("a", metavar="A.h5")
    p.add_argument("b", metavar="B.h5")
    p.add_argument("--ignore-attr", action="append", metavar="NAME",
                   help="an attribute not to compare (repeatable; default: wall_seconds)")
    p.add_argument("--max-lines", type=int, default=50, metavar="N",
                   help="print at most N differences (default 50; 0: all)")
    args = p.parse_args(argv)
    if args.max_lines < 0:
        p.error("--max-lines must be 0 or more")
    for path in (args.a, args.b):
        if not os.path.isfile(path):
            sys.stderr.write(f"{PROG}: error: {path}: no such file\n")
            return 2
    try:
        diffs, n = compare(args.a, args.b, args.ignore_attr if args.ignore_attr is not None else DEFAULT_IGNORED)
    except OSError as e:
        sys.stderr.write(f"{PROG}: error: cannot read the files as HDF5: {e}\n")
        return 2
    shown = diffs if args.max_lines == 0 else diffs[:args.max_lines]
    for line in shown:
        print(line)
    if len(shown) < len(diffs):
        print(f"... and {len(diffs) - len(shown)} more")
    print(f"{n} datasets compared, {len(diffs)} differences")
    return 1 if diffs else 0


if __name__ == "__main__":
    sys.exit(main())
