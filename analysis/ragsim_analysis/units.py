"""Units: the comparison table's number format, scenario quantities, axis scales.

format_value and diff_cell follow experiment/compare.c (fmt_value, diff_cell)
exactly, so the HTML table reads like `ragsim compare`'s output
(docs/compare.md, "Reading the table").
"""

from __future__ import annotations

import math
import re
from typing import Optional, Tuple

# -- the comparison table's format (experiment/compare.c) --------------------------------


def _decimals_for(mean: float, hw: float) -> int:
    ref = hw if (math.isfinite(hw) and hw > 0) else abs(mean) / 1000
    if not (ref > 0):
        return 0
    d = 1 - int(math.floor(math.log10(ref)))
    return 0 if d < 0 else 9 if d > 9 else d


def format_value(mean: float, hw: float, unit: str, sign: bool = False) -> str:
    """"mean ± hw unit" as `ragsim compare` prints it.

    unit: the /comparison row's unit ('s', 'bytes', '1/s', '1'); the display
    unit is scaled to the larger of |mean| and hw (s/ms/us, B/KiB/MiB/GiB/TiB).
    hw NaN: no half-width (fewer than 2 values): the value alone, 4 significant
    digits. sign: write '+' before positive values (differences)."""
    if mean is None or (isinstance(mean, float) and math.isnan(mean)):
        return "-"
    mean = float(mean)
    hw = float(hw) if hw is not None else math.nan
    u, k = "", 1.0
    a = max(abs(mean), hw if math.isfinite(hw) else 0.0)
    if unit == "s":
        u = " s"
        if 0 < a < 1e-3:
            u, k = " us", 1e6
        elif 0 < a < 1:
            u, k = " ms", 1e3
    elif unit == "bytes":
        names = [" B", " KiB", " MiB", " GiB", " TiB"]
        div, i = 1.0, 0
        while i < 4 and a >= 1024.0 * div:
            div *= 1024
            i += 1
        u, k = names[i], 1 / div
    elif unit == "1/s":
        u = "/s"
    m, h = mean * k, hw * k
    if math.isfinite(h) and h <= abs(m) * 1e-9:
        h = 0.0  # identical across replications: rounding noise
    dec = _decimals_for(m, h)
    if unit not in ("s", "bytes", "1/s") and not (h > 0) and m == math.floor(m):
        dec = 0  # counts (ratios that are whole numbers print the same way)
    s = f"{m:+.{dec}f}" if (sign and m != 0) else f"{m:.{dec}f}"
    if not (h > 0) and dec > 0:
        s = s.rstrip("0").rstrip(".")
    if not math.isfinite(hw):
        return s + u
    if h == 0:
        return s + " ± 0" + u
    return f"{s} ± {h:.{dec}f}{u}"


def marker(significant: int, verdict: int) -> str:
    """▲ better, ▼ worse, '= n.s.' not significant, ≠ a significant change of a neutral metric."""
    if not significant:
        return "= n.s."
    return "▲" if verdict > 0 else "▼" if verdict < 0 else "≠"


def diff_cell(row) -> str:
    """The paired-difference cell under a non-baseline variant (a /comparison row)."""
    if int(row["n_paired"]) == 0:
        return "= n.s. (no pair)"
    hw = float(row["diff_half_width"]) if int(row["n_paired"]) >= 2 else math.nan
    return marker(int(row["significant"]), int(row["verdict"])) + " " + format_value(row["diff"], hw, row["unit"], sign=True)


def value_cell(row) -> str:
    """The mean ± half-width cell of a /comparison row."""
    return format_value(row["mean"], row["half_width"], row["unit"])


# -- Student t, for intervals of tables without /comparison ---------------------------

_T975 = [math.nan, 12.7062047, 4.30265273, 3.18244631, 2.77644511, 2.57058184, 2.44691185, 2.36462425,
         2.30600414, 2.26215716, 2.22813885, 2.20098516, 2.17881283, 2.16036866, 2.14478669, 2.13144955,
         2.11990530, 2.10981558, 2.10092204, 2.09302405, 2.08596345, 2.07961384, 2.07387307, 2.06865761,
         2.06389856, 2.05953855, 2.05552944, 2.05183052, 2.04840714, 2.04522964, 2.04227246]


def t975(df: int) -> float:
    """The 97.5% quantile of Student's t with df degrees of freedom (two-sided 95%)."""
    if df < 1:
        return math.nan
    if df < len(_T975):
        return _T975[df]
    # Cornish-Fisher expansion around the normal quantile: < 1e-6 off for df > 30
    z = 1.959963984540054
    g1 = (z ** 3 + z) / 4
    g2 = (5 * z ** 5 + 16 * z ** 3 + 3 * z) / 96
    g3 = (3 * z ** 7 + 19 * z ** 5 + 17 * z ** 3 - 15 * z) / 384
    return z + g1 / df + g2 / df ** 2 + g3 / df ** 3


def mean_ci(values) -> Tuple[float, float, int]:
    """(mean, 95% half-width, n) over the finite values; half-width NaN with n < 2."""
    xs = [float(x) for x in values if x is not None and math.isfinite(float(x))]
    n = len(xs)
    if n == 0:
        return math.nan, math.nan, 0
    m = sum(xs) / n
    if n < 2:
        return m, math.nan, n
    s = math.sqrt(sum((x - m) ** 2 for x in xs) / (n - 1))
    return m, t975(n - 1) * s / math.sqrt(n), n


# -- scenario quantities (docs/scenario-format.md, "Values") ---------------------------

_SIZE = {"B": 1, "KIB": 1024, "MIB": 1024 ** 2, "GIB": 1024 ** 3, "TIB": 1024 ** 4,
         "KB": 1e3, "MB": 1e6, "GB": 1e9, "TB": 1e12}
_DUR = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "min": 60.0, "h": 3600.0, "d": 86400.0}
_NUM = r"([-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)"


def parse_size(v) -> Optional[float]:
    """'4GiB' -> 4294967296.0; 'unbounded' or None -> None; a bare number is bytes."""
    if v is None:
        return None
    if isinstance(v, (int, float)):
        return float(v)
    s = str(v).strip()
    if s == "unbounded":
        return None
    m = re.fullmatch(_NUM + r"\s?([A-Za-z]*)", s)
    if not m:
        raise ValueError(f"not a size: {v!r}")
    unit = m.group(2) or "B"
    if unit.upper() not in _SIZE:
        raise ValueError(f"not a size unit: {unit!r} in {v!r}")
    return float(m.group(1)) * _SIZE[unit.upper()]


def parse_duration(v) -> Optional[float]:
    """'5m' -> 300.0 (seconds); 'unbounded' or None -> None."""
    if v is None:
        return None
    if isinstance(v, (int, float)):
        return float(v)
    s = str(v).strip()
    if s == "unbounded":
        return None
    m = re.fullmatch(_NUM + r"\s?([a-zµ]+)", s)
    if not m or m.group(2) not in _DUR:
        raise ValueError(f"not a duration: {v!r}")
    return float(m.group(1)) * _DUR[m.group(2)]


def parse_ratio(v) -> Optional[float]:
    """'99%' -> 0.99, 0.99 -> 0.99; None -> None."""
    if v is None:
        return None
    if isinstance(v, (int, float)):
        return float(v)
    s = str(v).strip()
    if s.endswith("%"):
        return float(s[:-1]) / 100
    return float(s)


def parse_count(v) -> Optional[float]:
    """A count such as 65536 or '1e6'; 'unbounded' or None -> None."""
    if v is None or v == "unbounded":
        return None
    return float(v)


# -- axis scales -----------------------------------------------------------------------


def bytes_scale(max_value: float) -> Tuple[float, str]:
    """(divisor, unit) that shows byte values around max_value readably."""
    for div, name in ((1024 ** 4, "TiB"), (1024 ** 3, "GiB"), (1024 ** 2, "MiB"), (1024, "KiB")):
        if max_value >= 0.9 * div:
            return float(div), name
    return 1.0, "B"


def seconds_scale(max_value: float) -> Tuple[float, str]:
    """(divisor, unit) for latencies: ms below 1 s, else s."""
    if 0 < max_value < 1.0:
        return 1e-3, "ms"
    return 1.0, "s"


def time_axis(duration_s: float) -> Tuple[float, str]:
    """(divisor, unit) for the simulated-time axis: minutes past 20 minutes, else seconds."""
    return (60.0, "min") if duration_s > 1200 else (1.0, "s")


def scale_for(unit: str, max_value: float) -> Tuple[float, str]:
    """(divisor, axis unit) for a dataset or /comparison unit ('s', 'bytes', '1/s', '1')."""
    if unit == "bytes":
        return bytes_scale(max_value)
    if unit == "s":
        return seconds_scale(max_value)
    if unit == "1/s":
        return 1.0, "1/s"
    return 1.0, "1"
