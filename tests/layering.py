#!/usr/bin/env python3
"""The layers' dependencies flow one way (docs/design.md):

    sim/  <-  models/  <-  experiment/  <-  cli/

and inside models/:  queueing/ <- components/ <- policies/ <- rag/, with
models/model.h (the interface every model implements) open to all of
models/ and to the experiment layer, and models/model.c (the registry of
models) free to include any model.

Two checks over the C sources:
  1. every #include "..." goes to a layer the file may depend on;
  2. sim/ names nothing that a model, the experiment layer or the command
     line declares (a type, function, macro or enum constant of their
     headers), outside comments and string literals.

usage: layering.py [SOURCE_DIR]          check the tree (exit 1 on a violation)
       layering.py --self-test [SOURCE_DIR]
                                          copy the tree, plant one violation of
                                          each kind, and check that every plant
                                          is reported (exit 1 if one is missed)
"""
import os
import re
import shutil
import sys
import tempfile

LAYERS = ["sim", "models", "experiment", "cli"]
MODEL_SUBLAYERS = ["queueing", "components", "policies", "rag"]
INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"', re.M)


def layer_of(path):
    """('sim'|'models'|'experiment'|'cli', sublayer or None) of a repo path."""
    parts = path.split("/")
    if parts[0] not in LAYERS:
        return None
    sub = None
    if parts[0] == "models":
        sub = parts[1] if len(parts) > 2 else parts[1]   # 'model.h', 'model.c' or a folder
    return parts[0], sub


def allowed(src, dst):
    """May the file src include the header dst (both repo paths)?"""
    ls, ld = layer_of(src), layer_of(dst)
    if ld is None:                     # a file outside the layers (none expected)
        return False
    a, b = LAYERS.index(ls[0]), LAYERS.index(ld[0])
    if b > a:
        return False                   # upwards
    if ls[0] == "experiment" and ld[0] == "models":
        return dst == "models/model.h"  # only the interface of a model
    if ls[0] == "models" and ld[0] == "models":
        if dst == "models/model.h" or src == "models/model.c":
            return True
        if ls[1] not in MODEL_SUBLAYERS or ld[1] not in MODEL_SUBLAYERS:
            return False
        return MODEL_SUBLAYERS.index(ld[1]) <= MODEL_SUBLAYERS.index(ls[1])
    return True


def sources(root):
    for top in LAYERS:
        for dp, _, fn in os.walk(os.path.join(root, top)):
            for f in sorted(fn):
                if f.endswith((".c", ".h")):
                    yield os.path.relpath(os.path.join(dp, f), root)


def strip_comments_and_strings(text):
    out, i, n = [], 0, len(text)
    while i < n:
        c = text[i]
        if text.startswith("/*", i):
            j = text.find("*/", i + 2)
            i = n if j < 0 else j + 2
            out.append(" ")
        elif text.startswith("//", i):
            j = text.find("\n", i)
            i = n if j < 0 else j
        elif c in "\"'":
            j = i + 1
            while j < n and text[j] != c:
                j += 2 if text[j] == "\\" else 1
            i = j + 1
            out.append(" ")
        else:
            out.append(c)
            i += 1
    return "".join(out)


DECL = [
    re.compile(r"^\s*#\s*define\s+([A-Za-z_]\w*)", re.M),                 # macros
    re.compile(r"\btypedef\s+[^;{}]*?\b([A-Za-z_]\w*)\s*;"),             # typedef T name;
    re.compile(r"^}\s*([A-Za-z_]\w*)\s*;", re.M),                          # } name; (file scope)
    re.compile(r"^[A-Za-z_][\w \*]*?\b([A-Za-z_]\w*)\s*\(", re.M),         # functions at line start
    re.compile(r"\bextern\s+[\w\s\*]*?\b([A-Za-z_]\w*)\s*(?:\[[^\]]*\])?\s*;"),  # variables
]
TAG = re.compile(r"\b(?:struct|union|enum)\s+([A-Za-z_]\w*)")          # tags: their own namespace
ENUM_BODY = re.compile(r"\benum\b[^{;]*{([^}]*)}")
C_WORDS = {"if", "while", "for", "switch", "return", "sizeof", "static", "inline", "defined"}


def declared_outside_sim(root):
    """Identifiers declared by the headers of models/, experiment/, cli/,
    minus those sim/ itself declares (a model header also names sim's)."""
    names, sim_names = set(), set()
    for p in sources(root):
        if not p.endswith(".h"):
            continue
        text = strip_comments_and_strings(open(os.path.join(root, p), encoding="utf-8").read())
        found = set()
        for rx in DECL:
            found.update(m.group(1) for m in rx.finditer(text))
        for body in ENUM_BODY.finditer(text):
            found.update(re.findall(r"(?:^|,)\s*([A-Za-z_]\w*)", body.group(1)))
        found -= C_WORDS
        found.update("struct " + m.group(1) for m in TAG.finditer(text))
        (sim_names if p.startswith("sim/") else names).update(found)
    return names - sim_names


def check(root):
    problems = []
    for p in sources(root):
        text = open(os.path.join(root, p), encoding="utf-8").read()
        for m in INCLUDE.finditer(text):
            inc = m.group(1)
            if "/" not in inc:         # local: relative to the file's folder
                inc = os.path.normpath(os.path.join(os.path.dirname(p), inc))
            if not os.path.exists(os.path.join(root, inc)):
                continue               # a system header in quotes, or generated
            if not allowed(p, inc):
                line = text.count("\n", 0, m.start()) + 1
                problems.append("%s:%d: includes %s: %s may not depend on %s"
                                % (p, line, inc, "/".join(x for x in layer_of(p) if x),
                                   "/".join(x for x in layer_of(inc) if x)))
    foreign = declared_outside_sim(root)
    ident = re.compile(r"\b[A-Za-z_]\w*\b")
    for p in sources(root):
        if not p.startswith("sim/"):
            continue
        text = strip_comments_and_strings(open(os.path.join(root, p), encoding="utf-8").read())
        uses = [(m.start(), m.group(0)) for m in ident.finditer(text)]
        uses += [(m.start(), "struct " + m.group(1)) for m in TAG.finditer(text)]
        for pos, name in sorted(uses):
            if name in foreign:
                line = text.count("\n", 0, pos) + 1
                problems.append("%s:%d: the engine names '%s', which a layer above it declares"
                                % (p, line, name))
    return problems


PLANTS = [
    # (file, text appended, what the report must contain)
    ("sim/evset.c", '\n#include "models/rag/rag.h"\n', "sim/evset.c:"),
    ("experiment/compare.c", '\n#include "models/components/llm/llm.h"\n', "experiment/compare.c:"),
    ("models/queueing/station.c", '\n#include "models/policies/policy.h"\n', "models/queueing/station.c:"),
    ("models/components/call.c", '\n#include "experiment/runner.h"\n', "models/components/call.c:"),
    ("sim/stats.c", "\nstatic const void *planted(void) { return &rag_model; }\n", "names 'rag_model'"),
]


def self_test(root):
    missed = 0
    if check(root):
        print("self-test: the tree itself has violations; fix them first", file=sys.stderr)
        return 1
    for path, text, want in PLANTS:
        with tempfile.TemporaryDirectory() as tmp:
            for top in LAYERS:
                shutil.copytree(os.path.join(root, top), os.path.join(tmp, top))
            with open(os.path.join(tmp, path), "a", encoding="utf-8") as f:
                f.write(text)
            got = check(tmp)
            hit = [g for g in got if want in g]
            print("plant in %s: %s" % (path, hit[0] if hit else "NOT REPORTED"))
            missed += not hit
    return 1 if missed else 0


def main(argv):
    args = [a for a in argv[1:] if a != "--self-test"]
    root = os.path.abspath(args[0] if args else os.path.join(os.path.dirname(__file__), ".."))
    if "--self-test" in argv:
        return self_test(root)
    problems = check(root)
    for p in problems:
        print(p)
    if not problems:
        n = sum(1 for _ in sources(root))
        print("layering: %d files, every #include goes down a layer, sim/ names no model" % n)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
