"""Execute a notebook headless (nbclient) and report its run time.

    python3 analysis/tests/run_notebook.py notebooks/01-getting-started.ipynb [--out DIR] [--save]

The notebook runs in its own directory (so ../build/ragsim is the default
binary; RAGSIM_BINARY overrides it), writes its traces under DIR
(RAGSIM_NOTEBOOK_OUT), and is not modified: with --save the executed copy,
outputs included, goes to DIR/<name>.ipynb. Exit status 0 when every cell
ran, 1 when one raised (its traceback is printed), 2 on bad usage.
"""

import argparse
import os
import sys
import time
from pathlib import Path


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("notebook", type=Path)
    ap.add_argument("--out", type=Path, help="where traces and the executed copy go (default: a temporary directory)")
    ap.add_argument("--save", action="store_true", help="keep the executed notebook (outputs included) in --out")
    ap.add_argument("--timeout", type=int, default=300, help="seconds per cell (default 300)")
    a = ap.parse_args()
    try:
        import nbformat
        from nbclient import NotebookClient
        from nbclient.exceptions import CellExecutionError
    except ImportError as e:
        sys.stderr.write(f"run_notebook: error: {e}; on Debian: apt-get install python3-nbclient python3-nbformat "
                         "python3-ipykernel\n")
        return 2
    if not a.notebook.is_file():
        sys.stderr.write(f"run_notebook: error: {a.notebook}: no such notebook\n")
        return 2
    out = a.out
    if out is None:
        import tempfile
        out = Path(tempfile.mkdtemp(prefix="ragsim-notebook-"))
    out = out.resolve() / a.notebook.stem
    out.mkdir(parents=True, exist_ok=True)
    os.environ["RAGSIM_NOTEBOOK_OUT"] = str(out)
    # the kernel's inline backend draws the figures into the notebook; an inherited MPLBACKEND=Agg would not
    os.environ.pop("MPLBACKEND", None)
    os.environ.setdefault("PYDEVD_DISABLE_FILE_VALIDATION", "1")
    here = Path(__file__).resolve().parents[1]
    os.environ["PYTHONPATH"] = f"{here}{os.pathsep}{os.environ['PYTHONPATH']}" if os.environ.get("PYTHONPATH") else str(here)
    nb = nbformat.read(str(a.notebook), as_version=4)
    client = NotebookClient(nb, timeout=a.timeout, kernel_name="python3",
                            resources={"metadata": {"path": str(a.notebook.resolve().parent)}})
    t0 = time.monotonic()
    try:
        client.execute()
        status = 0
    except CellExecutionError as e:
        sys.stdout.write(str(e) + "\n")
        status = 1
    elapsed = time.monotonic() - t0
    if a.save:
        nbformat.write(nb, str(out / a.notebook.name))
    ncells = sum(1 for c in nb.cells if c.cell_type == "code")
    print(f"{a.notebook.name}: {'ran' if status == 0 else 'FAILED'} in {elapsed:.1f} s of wall-clock time "
          f"({ncells} code cells; traces in {out})")
    return status


if __name__ == "__main__":
    sys.exit(main())
