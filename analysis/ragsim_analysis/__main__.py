"""python3 -m ragsim_analysis: see cli.py (the imports are checked first, so
that a Python without h5py or matplotlib says what is missing)."""

import os
import sys

# module -> Debian package that provides it
_NEEDED = [("numpy", "python3-numpy"), ("h5py", "python3-h5py"), ("pandas", "python3-pandas"),
           ("matplotlib", "python3-matplotlib")]


def _check_imports() -> None:
    missing = []
    for mod, deb in _NEEDED:
        try:
            __import__(mod)
        except ImportError:
            missing.append((mod, deb))
    if missing:
        mods = ", ".join(m for m, _ in missing)
        debs = " ".join(d for _, d in missing)
        prog = os.environ.get("RAGSIM_PROG") or "ragsim_analysis"
        sys.stderr.write(
            f"{prog}: error: the Python at {sys.executable} lacks {mods}.\n"
            f"  On Debian: apt-get install {debs} (or `make deps`), then run it with /usr/bin/python3;\n"
            f"  `ragsim report` uses the interpreter found when ragsim was configured (CMake RAGSIM_PYTHON).\n")
        sys.exit(2)


if __name__ == "__main__":
    _check_imports()
    from ragsim_analysis.cli import main

    sys.exit(main())
