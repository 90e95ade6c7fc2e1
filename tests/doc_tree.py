#!/usr/bin/env python3
"""docs/design.md opens with the repository's folders, one line each; this
check holds it to the real tree one to one: every folder that holds a file
the repository tracks is listed, and every folder listed exists.

usage: doc_tree.py [SOURCE_DIR]      exit 1 on a difference, naming it
"""
import os
import re
import subprocess
import sys


def listed(root):
    text = open(os.path.join(root, "docs", "design.md"), encoding="utf-8").read()
    m = re.search(r"## Source tree.*?```\n(.*?)```", text, re.S)
    if not m:
        sys.exit("doc_tree: docs/design.md has no '## Source tree' block")
    out = set()
    for line in m.group(1).splitlines():
        if line.strip():
            out.add(line.split()[0].rstrip("/") or ".")
    return out


def tracked(root):
    try:
        files = subprocess.run(["git", "-C", root, "ls-files"], check=True, capture_output=True,
                               text=True).stdout.split("\n")
    except (OSError, subprocess.CalledProcessError):
        files = []
        for dp, dn, fn in os.walk(root):
            dn[:] = [d for d in dn if not d.startswith((".git", "build", "out"))]
            files += [os.path.relpath(os.path.join(dp, f), root) for f in fn]
    dirs = {"."}
    for f in filter(None, files):
        d = os.path.dirname(f)
        while d:
            dirs.add(d)
            d = os.path.dirname(d)
    return dirs


def main(argv):
    root = os.path.abspath(argv[1] if len(argv) > 1 else os.path.join(os.path.dirname(__file__), ".."))
    want, have = listed(root), tracked(root)
    missing = sorted(have - want)
    stale = sorted(want - have)
    for d in missing:
        print("docs/design.md does not list the folder %s/" % d)
    for d in stale:
        print("docs/design.md lists %s/, which the repository does not have" % d)
    if not missing and not stale:
        print("doc_tree: docs/design.md lists the %d folders of the repository, one to one" % len(have))
    return 1 if missing or stale else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
