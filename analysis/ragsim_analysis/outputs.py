"""Output files of the analysis commands: what they may replace, and how.

The rules of ragsim's own outputs (docs/hardening.md, "Output safety"):
every file is written under a temporary name in its directory and renamed
onto its path when complete; an existing path is replaced only when it is
a regular file (not a directory, a device, a FIFO, a socket or a symbolic
link) and none of the command's inputs (compared by device and inode, so
a hard link to the trace is caught too). A refused path raises
OutputError (exit status 2) before anything is written.
"""

from __future__ import annotations

import os
import stat
import tempfile
from typing import Iterable, Sequence

_KINDS = [(stat.S_ISREG, "a regular file"), (stat.S_ISDIR, "a directory"), (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"),
          (stat.S_ISFIFO, "a FIFO"), (stat.S_ISSOCK, "a socket"), (stat.S_ISLNK, "a symbolic link")]


class OutputError(Exception):
    """An output path that must not be written (exit status 2)."""


def _kind(mode: int) -> str:
    for test, name in _KINDS:
        if test(mode):
            return name
    return "an unknown kind of file"


def check_output_dir(path: str) -> None:
    """A directory to write into: absent (it is created) or a directory."""
    if os.path.lexists(path) and not os.path.isdir(path):
        raise OutputError(f"refusing to write into {path}: it is {_kind(os.lstat(path).st_mode)}, not a directory "
                          "(-o names the output directory)")


def check_output_file(path: str, inputs: Sequence[str] = ()) -> None:
    """Raise OutputError unless `path` is absent or a regular file that is none of `inputs`."""
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return
    for inp in inputs:
        try:
            s = os.stat(inp)
        except OSError:
            continue
        if (s.st_dev, s.st_ino) == (st.st_dev, st.st_ino):
            what = "the input of this command" if os.path.abspath(inp) == os.path.abspath(path) else \
                f"the same file as {inp}, the input of this command"
            raise OutputError(f"refusing to write {path}: it is {what}; choose another output directory (-o DIR)")
    if not stat.S_ISREG(st.st_mode):
        raise OutputError(f"refusing to write {path}: it is {_kind(st.st_mode)}, not a regular file "
                          "(only regular files are replaced); choose another output directory (-o DIR)")


def check_output_files(paths: Iterable[str], inputs: Sequence[str] = ()) -> None:
    """check_output_file for each path: all refusals before anything is written."""
    for p in paths:
        check_output_file(p, inputs)


def write_atomic(path: str, data: bytes, inputs: Sequence[str] = ()) -> None:
    """Write to a temporary file in the same directory and rename it onto path
    (which must pass check_output_file)."""
    check_output_file(path, inputs)
    d = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=os.path.basename(path) + ".", suffix=".tmp", dir=d)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
