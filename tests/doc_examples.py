#!/usr/bin/env python3
"""Every example of README.md and docs/ runs as written.

Each fenced block of README.md and docs/**/*.md is one of:
- ```sh / ```bash / ```shell: commands, run with `sh -e` in a scratch copy
  of the repository's scenarios (one scratch directory per page, blocks in
  page order: a later block may read what an earlier one wrote);
  `ragsim` and `./build/ragsim` are the binary under test;
- ```yaml: a scenario, checked with `ragsim validate`; a fragment (no
  `workload`, no `scenario`) is merged into a base scenario first, as a
  variant's overlay is (mappings merge, anything else replaces): the RAG
  baseline, or scenarios/demo.yaml for a queueing network (`stations`); a
  sweep file (`scenario:`) is checked by `ragsim sweep --find max-load`
  being refused or run as annotated;
- ```python: run with /usr/bin/python3 (PYTHONPATH=analysis);
- anything else (no info string, text, console, ...): output, not run.

An HTML comment on the line before a block changes that:
  <!-- doc-test: skip REASON -->     not run (installs system packages,
                                      needs a cluster, takes many minutes)
  <!-- doc-test: append ARGS -->     ARGS appended to every `ragsim run`,
                                      `compare` and `sweep` of the block
                                      (a shorter duration for the test)
  <!-- doc-test: overlay FILE -->    the YAML fragment's base scenario
                                      (FILE replace: its top-level keys
                                      replace the base's, not merged)
  <!-- doc-test: run COMMAND -->     for a YAML block: run COMMAND with {}
                                      the snippet's path instead of validate
  <!-- output -->                    output only

Usage: doc_examples.py RAGSIM_BINARY SOURCE_DIR [PAGE...]
Pages run side by side on RAGSIM_DOC_JOBS workers (default: the cores);
the blocks of a page run in order. Prints each block's outcome and time,
and the count of blocks executed.
"""
import concurrent.futures
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

import yaml

FENCE = re.compile(r"^```(\S*)\s*$")
NOTE = re.compile(r"^<!--\s*(doc-test:\s*(\w+)\s*(.*?)|output)\s*-->\s*$")
RAGSIM_CMD = re.compile(r"((?:\./build/)?ragsim(?:-mpi)?\s+(?:run|compare|sweep)\b[^\n#]*?)(\s*(?:#.*)?)$")


def blocks(path):
    lines = open(path, encoding="utf-8").read().split("\n")
    i = 0
    while i < len(lines):
        m = FENCE.match(lines[i])
        if not m:
            i += 1
            continue
        info, start = m.group(1), i
        j = i + 1
        while j < len(lines) and not lines[j].startswith("```"):
            j += 1
        note = None
        k = start - 1
        while k >= 0 and lines[k].strip() == "":
            k -= 1
        if k >= 0:
            n = NOTE.match(lines[k].strip())
            if n:
                note = ("output", "") if n.group(1) == "output" else (n.group(2), n.group(3).strip())
        yield start + 1, info, "\n".join(lines[start + 1:j]) + "\n", note
        i = j + 1


class Loader(yaml.SafeLoader):
    """YAML 1.2's booleans (true/false): ragsim's libyaml reading keeps
    `on:` a string, PyYAML's YAML 1.1 would make it True."""


Loader.yaml_implicit_resolvers = {
    k: [(tag, rx) for tag, rx in v if tag != "tag:yaml.org,2002:bool"]
    for k, v in yaml.SafeLoader.yaml_implicit_resolvers.items()}
Loader.add_implicit_resolver("tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"),
                             list("tTfF"))


def load(text):
    return yaml.load(text, Loader=Loader)


def merge(base, over):
    if isinstance(base, dict) and isinstance(over, dict):
        out = dict(base)
        for k, v in over.items():
            out[k] = merge(base[k], v) if k in base else v
        return out
    return over


def run(cmd, cwd, env, timeout=600):
    return subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)


def run_page(page, src, binary, work, env):
    """Run one page's blocks in order in its own scratch directory; returns
    (the lines to print, counts, failures)."""
    out, failures = [], []
    counts = {"executed": 0, "output": 0, "skipped": 0}
    scratch = os.path.join(work, page.replace("/", "_"))
    os.makedirs(scratch)
    shutil.copytree(os.path.join(src, "scenarios"), os.path.join(scratch, "scenarios"))
    for d in ("analysis", "notebooks", "bench", "data", "docs"):
        if os.path.exists(os.path.join(src, d)):
            os.symlink(os.path.join(src, d), os.path.join(scratch, d))
    os.makedirs(os.path.join(scratch, "build"))
    os.symlink(binary, os.path.join(scratch, "build", "ragsim"))
    mpi = os.path.join(os.path.dirname(binary), "ragsim-mpi")
    if os.path.exists(mpi):
        os.symlink(mpi, os.path.join(scratch, "build", "ragsim-mpi"))
    os.makedirs(os.path.join(scratch, "out"))
    for line, info, text, note in blocks(os.path.join(src, page)):
        where = f"{page}:{line}"
        kind, arg = note if note else ("", "")
        if kind == "output" or info not in ("sh", "bash", "shell", "yaml", "python"):
            counts["output"] += 1
            continue
        if kind == "skip":
            counts["skipped"] += 1
            out.append(f"skip  {where}: {arg}")
            continue
        t0 = time.monotonic()
        try:
            if info in ("sh", "bash", "shell"):
                script = text
                if kind == "append":
                    script = "\n".join(RAGSIM_CMD.sub(lambda m: m.group(1).rstrip() + " " + arg + m.group(2), l)
                                       for l in text.split("\n"))
                r = run(["sh", "-ec", script], scratch, env)
            elif info == "python":
                r = run(["/usr/bin/python3", "-c", text], scratch, env)
            else:
                doc = load(text)
                snippet = os.path.join(scratch, f"snippet-{line}.yaml")
                if isinstance(doc, dict) and "scenario" in doc:
                    # a sweep file: beside the scenarios, as in the repository
                    snippet = os.path.join(scratch, "scenarios", "sweeps", f"doc-{line}.yaml")
                    open(snippet, "w").write(text)
                elif isinstance(doc, dict) and ("name" in doc or "duration" in doc or kind == "run"):
                    open(snippet, "w").write(text)
                else:
                    base = arg.split()[0] if kind == "overlay" else (
                        "scenarios/demo.yaml" if isinstance(doc, dict) and "stations" in doc
                        else "scenarios/rag-baseline.yaml")
                    merged = load(open(os.path.join(src, base)).read())
                    if arg.endswith(" replace"):   # the fragment's top-level keys replace the base's
                        merged.update(doc)
                    else:
                        merged = merge(merged, doc)
                    open(snippet, "w").write(yaml.safe_dump(merged, sort_keys=False))
                if kind == "run":
                    r = run(["sh", "-ec", arg.replace("{}", snippet)], scratch, env)
                elif isinstance(doc, dict) and "scenario" in doc:
                    r = run([binary, "sweep", snippet, "--reps", "1", "--set", "duration=20s", "--set",
                             "warmup=5s", "-q", "-o", snippet + ".h5"], scratch, env)
                else:
                    r = run([binary, "validate", snippet, "-q"], scratch, env)
        except subprocess.TimeoutExpired:
            failures.append(f"{where}: timed out")
            out.append(f"FAIL  {where}: timed out")
            continue
        dt = time.monotonic() - t0
        counts["executed"] += 1
        if r.returncode != 0:
            failures.append(f"{where}: exit {r.returncode}\n{r.stdout[-1500:]}{r.stderr[-2500:]}")
            out.append(f"FAIL  {where} ({info}): exit {r.returncode}, {dt:.1f} s")
        else:
            out.append(f"ok    {where} ({info}) {dt:.1f} s")
    return out, counts, failures


def main():
    binary, src = os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2])
    pages = sys.argv[3:] or (["README.md"] + sorted(
        os.path.relpath(os.path.join(d, f), src)
        for d, _, fs in os.walk(os.path.join(src, "docs")) for f in fs if f.endswith(".md")))
    work = tempfile.mkdtemp(prefix="ragsim-docs.")
    bindir = os.path.join(work, "bin")
    os.makedirs(bindir)
    os.symlink(binary, os.path.join(bindir, "ragsim"))
    env = dict(os.environ, PATH=bindir + os.pathsep + os.environ.get("PATH", ""), MPLBACKEND="Agg",
               PYTHONPATH=os.path.join(src, "analysis"), RAGSIM_ANALYSIS_DIR=os.path.join(src, "analysis"))
    counts = {"executed": 0, "output": 0, "skipped": 0}
    failures = []
    # Pages are independent (each has its own scratch directory), so they run
    # side by side on RAGSIM_DOC_JOBS workers (default: the machine's cores);
    # each page's lines are printed together, in page order.
    jobs = int(os.environ.get("RAGSIM_DOC_JOBS", "0")) or os.cpu_count() or 1
    t0 = time.monotonic()
    with concurrent.futures.ThreadPoolExecutor(max_workers=jobs) as pool:
        futures = [pool.submit(run_page, page, src, binary, work, env) for page in pages]
        for fut in futures:
            out, c, f = fut.result()
            for line in out:
                print(line, flush=True)
            for k in counts:
                counts[k] += c[k]
            failures += f
    shutil.rmtree(work, ignore_errors=True)
    print(f"doc_examples: {counts['executed']} blocks executed ({len(failures)} failed), "
          f"{counts['skipped']} skipped as annotated, {counts['output']} output-only, in {len(pages)} pages, "
          f"{time.monotonic() - t0:.0f} s on {jobs} workers")
    for f in failures:
        print("\nFAIL: " + f)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
