#!/bin/sh
# The installed ragsim works on its own: `cmake --install` to a temporary
# prefix, the prefix moved elsewhere, then from a directory outside both
# trees, with no PYTHONPATH or RAGSIM_ANALYSIS_DIR, `ragsim run` of an
# installed scenario, `ragsim report` and `ragsim replay` of its trace (the analysis package
# is found next to the executable). The programs hold no path of the
# source or build tree. Usage: install_test.sh BUILD_DIR SOURCE_DIR
set -eu
build=$1
src=$2
work=$(mktemp -d "${TMPDIR:-/tmp}/ragsim-install.XXXXXX")
trap 'rm -rf "$work"' EXIT
cmake --install "$build" --prefix "$work/prefix" >/dev/null
mv "$work/prefix" "$work/moved"
p=$work/moved
for exe in "$p"/bin/*; do
    for tree in "$src" "$build"; do
        if grep -a -q -F "$tree" "$exe"; then
            echo "FAIL: $exe holds the path $tree"; exit 1
        fi
    done
done
test -f "$p/share/ragsim/python/ragsim_analysis/__main__.py" || { echo "FAIL: no analysis package"; exit 1; }
test -f "$p/share/doc/ragsim/README.md" || { echo "FAIL: no docs"; exit 1; }
mkdir "$work/cwd"
cd "$work/cwd"
env -u PYTHONPATH -u RAGSIM_ANALYSIS_DIR "$p/bin/ragsim" run "$p/share/ragsim/scenarios/rag-baseline.yaml" \
    --set duration=60s --set warmup=10s --reps 2 -j 2 -q -o t.h5
env -u PYTHONPATH -u RAGSIM_ANALYSIS_DIR MPLBACKEND=Agg "$p/bin/ragsim" report t.h5 -o rep > report.out
grep -q "report: rep/report.html" report.out || { echo "FAIL: report printed:"; cat report.out; exit 1; }
test -s rep/report.html || { echo "FAIL: no rep/report.html"; exit 1; }
# the replay page: its script and style are installed with the package
env -u PYTHONPATH -u RAGSIM_ANALYSIS_DIR "$p/bin/ragsim" replay t.h5 -o rep > replay.out
grep -q "replay: rep/replay.html" replay.out || { echo "FAIL: replay printed:"; cat replay.out; exit 1; }
grep -q 'id="replay-data"' rep/replay.html || { echo "FAIL: rep/replay.html holds no data"; exit 1; }
echo "installed ragsim ran and reported from $work/cwd (prefix moved after the install)"
