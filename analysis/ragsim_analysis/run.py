"""Running the ragsim binary from Python (the notebooks, the tests, your own studies).

    res = ragsim("compare", scenario_path("trap-memory-leak.yaml"), out="leak.h5",
                 sets={"duration": "30m"}, reps=2)
    print(res.stdout)          # the comparison table
    with Trace(res.trace) as tr: ...

The binary: $RAGSIM_BINARY, else ./build/ragsim, else ../build/ragsim (the
notebooks' directory), else build/ragsim of the source tree.
"""

from __future__ import annotations

import dataclasses
import os
import shlex
import subprocess
from pathlib import Path
from typing import Dict, Iterable, Mapping, Optional, Sequence, Union


class RagsimError(RuntimeError):
    """The binary is missing, or a run failed (the message holds ragsim's own error)."""


def source_dir() -> Path:
    """The ragsim source tree: $RAGSIM_SOURCE_DIR, else the tree this package lives in."""
    env = os.environ.get("RAGSIM_SOURCE_DIR")
    if env:
        return Path(env).resolve()
    here = Path(__file__).resolve().parents[2]          # analysis/ragsim_analysis/run.py -> tree
    if (here / "scenarios").is_dir():
        return here
    return Path.cwd()


def find_binary() -> Path:
    """The ragsim binary: $RAGSIM_BINARY, else ./build/ragsim, ../build/ragsim, <source tree>/build/ragsim."""
    env = os.environ.get("RAGSIM_BINARY")
    if env:
        p = Path(env)
        if not (p.is_file() and os.access(p, os.X_OK)):
            raise RagsimError(f"RAGSIM_BINARY={env}: no executable there (build ragsim with `make build`, "
                              "or point RAGSIM_BINARY at the binary)")
        return p.resolve()
    tried = [Path.cwd() / "build" / "ragsim", Path.cwd().parent / "build" / "ragsim", source_dir() / "build" / "ragsim"]
    for p in tried:
        if p.is_file() and os.access(p, os.X_OK):
            return p.resolve()
    raise RagsimError("ragsim binary not found: tried $RAGSIM_BINARY (unset), "
                      f"{', '.join(str(p) for p in tried)}; build it with `make build` or set "
                      "RAGSIM_BINARY=/path/to/ragsim")


def scenario_path(name: str) -> Path:
    """A shipped scenario by its path under scenarios/ ('trap-memory-leak.yaml', 'validation/mmc.yaml')."""
    p = source_dir() / "scenarios" / name
    if not p.is_file():
        raise RagsimError(f"no scenario {name!r} in {source_dir() / 'scenarios'}")
    return p


def workdir(sub: Optional[str] = None) -> Path:
    """Where the notebooks write their traces: $RAGSIM_NOTEBOOK_OUT, else <source tree>/out/notebooks
    (out/ is not under version control). Created if missing."""
    base = Path(os.environ.get("RAGSIM_NOTEBOOK_OUT") or (source_dir() / "out" / "notebooks"))
    d = base / sub if sub else base
    d.mkdir(parents=True, exist_ok=True)
    return d


@dataclasses.dataclass
class Result:
    args: list
    stdout: str
    stderr: str
    trace: Optional[Path]

    def __str__(self) -> str:
        return self.stdout


def ragsim(command: str, scenario: Union[str, os.PathLike], out: Union[str, os.PathLike, None] = None,
           sets: Union[Mapping[str, object], Sequence[str], None] = None, reps: Optional[int] = None,
           variants: Optional[Iterable[str]] = None, seed: Optional[int] = None, quiet: bool = False,
           extra: Sequence[str] = (), timeout: Optional[float] = 600, force: bool = True) -> Result:
    """Run `ragsim COMMAND SCENARIO ...` and return its output and trace path.

    sets: {'duration': '5m', 'workload.rate': '120/s'} or ['duration=5m', ...] (--set);
    force: replace an existing trace (--force; ragsim refuses without it);
    raises RagsimError with ragsim's message when it exits non-zero."""
    args = [str(find_binary()), command, str(scenario)]
    if out is not None:
        args += ["-o", str(out)]
    if sets:
        items = sets.items() if isinstance(sets, Mapping) else [s.split("=", 1) for s in sets]
        for k, v in items:
            args += ["--set", f"{k}={v}"]
    if reps is not None:
        args += ["--reps", str(int(reps))]
    if variants:
        args += ["--variants", ",".join(variants)]
    if seed is not None:
        args += ["--seed", str(int(seed))]
    if quiet:
        args.append("-q")
    if force and command in ("run", "compare"):
        args.append("--force")
    args += list(extra)
    try:
        p = subprocess.run(args, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        raise RagsimError(f"{shlex.join(args)}: still running after {timeout} s") from None
    if p.returncode != 0:
        raise RagsimError(f"{shlex.join(args)} exited with status {p.returncode}:\n{p.stderr.strip()}")
    trace = Path(out).resolve() if out is not None else None
    return Result(args, p.stdout, p.stderr, trace)
