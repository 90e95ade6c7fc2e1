#!/bin/sh
# Run each leak point of the grid (run-grid.sh's `leak` lines) N times and
# write one CSV row per run, to see how much a leak's kill time and rates
# vary between runs of the same point on the same machine (the grid has one
# run a point). About 6 minutes for N = 5 on 2 cores; run it on an
# otherwise idle machine.
#
#   bench/goruntime/repeat-leaks.sh [N] [OUT.csv]   (default 5, bench/goruntime/leaks-repeat.csv)
set -eu
here=$(cd "$(dirname "$0")" && pwd)
n=${1:-5}
out=${2:-$here/leaks-repeat.csv}
bin=$(mktemp -d)/goruntime-bench
trap 'rm -rf "$(dirname "$bin")"' EXIT
(cd "$here" && GOFLAGS=-mod=mod CGO_ENABLED=0 go build -o "$bin" .)
tmp=$out.tmp.$$
{
  echo "# leak points of run-grid.sh, $n runs each (bench/goruntime/repeat-leaks.sh), $(date -u +%Y-%m-%dT%H:%MZ)"
  echo "# go: $(go version)"
  echo "# cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(nproc) CPUs online"
  echo "# load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
} > "$tmp"
first=-header
# the leak lines of run-grid.sh, as written there
grep '^leak l' "$here/run-grid.sh" | while read -r _ label flags; do
  i=1
  while [ "$i" -le "$n" ]; do
    echo "goruntime-bench $label run $i of $n: $flags" >&2
    # shellcheck disable=SC2086
    "$bin" $first -label "$label" -duration 90s $flags >> "$tmp"
    first=
    i=$((i + 1))
  done
done
mv "$tmp" "$out"
echo "wrote $out" >&2
