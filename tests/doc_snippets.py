"""Run every ```sh block of a Markdown page, in order, in one empty directory.

usage: doc_snippets.py PAGE.md BINARY

The blocks run with bash -euo pipefail, `ragsim` on PATH (the BINARY given);
a block that fails fails the test with its number, its text and its output.
Blocks of other languages (yaml, text) are not run: pages put files in heredocs
inside sh blocks so that what they show is what is executed.
"""
import os
import re
import subprocess
import sys
import tempfile


def blocks(text):
    return [m.group(1) for m in re.finditer(r"^```sh\n(.*?)^```", text, re.S | re.M)]


def main():
    if len(sys.argv) != 3:
        print(__doc__, file=sys.stderr)
        return 2
    page, binary = sys.argv[1], os.path.abspath(sys.argv[2])
    with open(page, encoding="utf-8") as f:
        sh = blocks(f.read())
    if not sh:
        print(f"{page}: no sh blocks", file=sys.stderr)
        return 1
    with tempfile.TemporaryDirectory(prefix="doc-snippets-") as tmp:
        bindir = os.path.join(tmp, ".bin")
        os.mkdir(bindir)
        os.symlink(binary, os.path.join(bindir, "ragsim"))
        env = dict(os.environ, PATH=bindir + os.pathsep + os.environ.get("PATH", ""))
        for i, code in enumerate(sh, 1):
            p = subprocess.run(["bash", "-euo", "pipefail", "-c", code], cwd=tmp, env=env,
                               capture_output=True, text=True, timeout=600)
            if p.returncode != 0:
                print(f"{page}: sh block {i} failed with status {p.returncode}:\n{code}\n"
                      f"--- stdout\n{p.stdout}\n--- stderr\n{p.stderr}", file=sys.stderr)
                return 1
            print(f"block {i}: ok")
    print(f"{page}: {len(sh)} sh blocks ran")
    return 0


if __name__ == "__main__":
    sys.exit(main())
