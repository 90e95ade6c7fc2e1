#!/usr/bin/env python3
"""Every option of every command is in its --help and in README.md.

For each command (and subcommand) of `ragsim --help`, the long options its
--help lists are collected; each must appear in README.md's "Command line"
section, and each option the section names for a command must be in that
command's --help (a documented option that does not exist fails too). The
commands themselves: every one of `ragsim --help` has a line in the
section. Usage: cli_options_doc.py RAGSIM_BINARY SOURCE_DIR
"""
import os
import re
import subprocess
import sys

OPT = re.compile(r"(?<![\w-])--[a-z][a-z0-9-]*")
# commands with subcommands: their --help lists the subcommands
SUBCOMMANDS = {"llm": ["step-time", "capacity"], "bench": ["hold", "mmc", "rag"]}


def help_text(binary, args):
    env = dict(os.environ)
    r = subprocess.run([binary] + args + ["--help"], capture_output=True, text=True, env=env, timeout=60)
    if r.returncode != 0:
        sys.exit(f"FAIL: {' '.join(['ragsim'] + args)} --help exits {r.returncode}: {r.stderr}")
    return r.stdout


def main():
    binary, src = sys.argv[1], sys.argv[2]
    readme = open(os.path.join(src, "README.md"), encoding="utf-8").read()
    m = re.search(r"^## Command line\n(.*?)^## ", readme, re.S | re.M)
    if not m:
        sys.exit("FAIL: README.md has no '## Command line' section")
    section = m.group(1)
    top = help_text(binary, [])
    commands = re.findall(r"^  ([a-z][a-z-]*)  ", top, re.M)
    if len(commands) < 5:
        sys.exit(f"FAIL: ragsim --help lists only {commands}")
    failures, checked = [], 0
    for cmd in commands:
        if not re.search(rf"^ragsim {cmd}\b", section, re.M):
            failures.append(f"README.md's command line has no line for `ragsim {cmd}`")
        for args in ([[cmd, s] for s in SUBCOMMANDS[cmd]] if cmd in SUBCOMMANDS else [[cmd]]):
            name = " ".join(args)
            opts = set(OPT.findall(help_text(binary, args))) - {"--help"}
            # the README's lines for this command (a line and its continuation lines)
            lines = re.findall(rf"^ragsim {re.escape(name)}\b.*(?:\n {{10,}}.*)*", section, re.M)
            documented = set(OPT.findall("\n".join(lines)))
            for o in sorted(opts):
                checked += 1
                if o not in section:
                    failures.append(f"`ragsim {name}` has {o} (its --help), which README.md's command line lacks")
            for o in sorted(documented - opts):
                failures.append(f"README.md documents {o} for `ragsim {name}`, which its --help does not list")
    if failures:
        print("\n".join("FAIL: " + f for f in failures))
        return 1
    print(f"cli_options_doc: {len(commands)} commands, {checked} options: each in its --help and in README.md")
    return 0


if __name__ == "__main__":
    sys.exit(main())
