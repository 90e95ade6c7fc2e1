#!/bin/sh
# Run the Go runtime benchmark over its grid and write grid.csv (one row a
# point, the machine's description in '#' lines at the top) and the leak
# runs' time series under series/. About 8 minutes on 2 cores; run it on an
# otherwise idle machine if you can (the CSV records the load average and the
# time the process waited for a CPU; the model is compared per process
# CPU-second, which a busy machine disturbs much less than wall-clock rates).
#
#   bench/goruntime/run-grid.sh [OUT.csv]     (default bench/goruntime/grid.csv)
set -eu
here=$(cd "$(dirname "$0")" && pwd)
out=${1:-$here/grid.csv}
bin=$(mktemp -d)/goruntime-bench
trap 'rm -rf "$(dirname "$bin")"' EXIT
(cd "$here" && GOFLAGS=-mod=mod CGO_ENABLED=0 go build -o "$bin" .)
mkdir -p "$here/series"
tmp=$out.tmp.$$
{
  echo "# Go runtime benchmark grid (bench/goruntime/run-grid.sh), $(date -u +%Y-%m-%dT%H:%MZ)"
  echo "# go: $(go version)"
  echo "# cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(nproc) CPUs online"
  echo "# memory: $(awk '/MemTotal/ {printf "%.1f GiB", $2/1048576}' /proc/meminfo); kernel $(uname -r)"
  echo "# transparent hugepages: $(cat /sys/kernel/mm/transparent_hugepage/enabled 2>/dev/null || echo unknown)"
  echo "# load average at start: $(cut -d' ' -f1-3 /proc/loadavg) (a shared machine: see load_avg_1m and run_wait_s per row)"
  echo "# per request: alloc_bytes of garbage in obj_bytes objects, work_us of spin; closed loop (rate_rps 0)"
} > "$tmp"
first=-header
run() {   # label, then flags
  l=$1; shift
  echo "goruntime-bench $l: $*" >&2
  "$bin" $first -label "$l" -duration 10s "$@" >> "$tmp"
  first=
}
# pointer-free cache ([]byte, 1 KiB entries), 2 workers on GOMAXPROCS 2
run b0-off       -workers 2
run b200-off     -workers 2 -cache 200MB
run b200-400     -workers 2 -cache 200MB -memlimit 400MiB
run b200-300     -workers 2 -cache 200MB -memlimit 300MiB
run b200-250     -workers 2 -cache 200MB -memlimit 250MiB
run b280-off     -workers 2 -cache 280MB
run b280-350     -workers 2 -cache 280MB -memlimit 350MiB
run b280-300     -workers 2 -cache 280MB -memlimit 300MiB
run b400-off     -workers 2 -cache 400MB
run b400-600     -workers 2 -cache 400MB -memlimit 600MiB
run b400-450     -workers 2 -cache 400MB -memlimit 450MiB
run b400-300     -workers 2 -cache 400MB -memlimit 300MiB
run b200-g50     -workers 2 -cache 200MB -gogc 50
# pointer-free embeddings ([]float32, 3 KiB entries)
run f200-off     -workers 2 -cache 200MB -kind floats -entry 3KiB
run f200-300     -workers 2 -cache 200MB -kind floats -entry 3KiB -memlimit 300MiB
# pointer-bearing cache (1 KiB nodes of pointers)
run p100-off     -workers 2 -cache 100MB -kind ptrs
run p200-off     -workers 2 -cache 200MB -kind ptrs
run p200-400     -workers 2 -cache 200MB -kind ptrs -memlimit 400MiB
run p200-300     -workers 2 -cache 200MB -kind ptrs -memlimit 300MiB
run p400-off     -workers 2 -cache 400MB -kind ptrs
run p400-600     -workers 2 -cache 400MB -kind ptrs -memlimit 600MiB
run p400-300     -workers 2 -cache 400MB -kind ptrs -memlimit 300MiB
run p200-g200    -workers 2 -cache 200MB -kind ptrs -gogc 200
# the first probe's points: one worker goroutine, GOMAXPROCS 2
run t-b400-off   -workers 1 -cache 400MB
run t-b400-600   -workers 1 -cache 400MB -memlimit 600MiB
run t-b400-300   -workers 1 -cache 400MB -memlimit 300MiB
run t-b200-300   -workers 1 -cache 200MB -memlimit 300MiB
run t-b280-300   -workers 1 -cache 280MB -memlimit 300MiB
run t-p200-off   -workers 1 -cache 200MB -kind ptrs
run t-p200-300   -workers 1 -cache 200MB -kind ptrs -memlimit 300MiB
run t-p400-300   -workers 1 -cache 400MB -kind ptrs -memlimit 300MiB
# leaks into the cache until the emulated container limit (RSS > -oom) kills
leak() {  # label, then flags
  l=$1; shift
  echo "goruntime-bench $l: $*" >&2
  "$bin" -label "$l" -duration 90s -series "$here/series/$l.csv" "$@" >> "$tmp"
}
leak l-b-lim     -workers 2 -cache 150MB -leak 16KiB -memlimit 360MiB -oom 400MiB
leak l-b-nolim   -workers 2 -cache 150MB -leak 16KiB -oom 400MiB
leak l-f-lim     -workers 2 -cache 150MB -leak 15KiB -kind floats -entry 3KiB -memlimit 360MiB -oom 400MiB
leak l-p-lim     -workers 2 -cache 150MB -leak 16KiB -kind ptrs -memlimit 360MiB -oom 400MiB
leak l-p-nolim   -workers 2 -cache 150MB -leak 16KiB -kind ptrs -oom 400MiB
# faster leaks, so that the runs under GOMEMLIMIT reach the kill within the
# 90 s even on a busy machine (-leak-only runs only these)
leak l64-b-lim   -workers 2 -cache 150MB -leak 64KiB -memlimit 360MiB -oom 400MiB
leak l64-f-lim   -workers 2 -cache 150MB -leak 63KiB -kind floats -entry 3KiB -memlimit 360MiB -oom 400MiB
leak l64-p-lim   -workers 2 -cache 150MB -leak 64KiB -kind ptrs -memlimit 360MiB -oom 400MiB
leak l64-b-nolim -workers 2 -cache 150MB -leak 64KiB -oom 400MiB
mv "$tmp" "$out"
echo "wrote $out" >&2
