#!/bin/sh
# ragsim's benchmarks against their baselines, as one table (docs/internals/performance.md).
#
#   bench/bench.sh [BUILD_DIR [BASELINES_DIR [ROUNDS]]]
#
# BASELINES_DIR defaults to bench/baselines/ (hold.c, simpy_mmc.py: see its
# README.md); a baseline that cannot run leaves its column empty ("-").
# Every ratio compares two figures measured in the same round, one right
# after the other (shared, noisy machines: an absolute time alone means
# little); the table gives the median over ROUNDS rounds (default 3) of each
# side and of the ratio. Environment: HOLD_OPS (holds per hold run, default
# 10000000), SIMPY_HORIZON (simulated seconds for SimPy, default 20000: its
# rate in customers per wall-second does not depend on the horizon, and the
# full 2e6 s would take SimPy minutes), HOUR=0 to skip the busy-hour runs,
# PAR=0 to skip `compare` of the incident with -j 1 and -j 2 (about 1.5 min
# a round on 2 idle cores).
set -eu

SRC=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${1:-build}
BASE=${2:-$SRC/bench/baselines}
ROUNDS=${3:-3}
HOLD_OPS=${HOLD_OPS:-10000000}
SIMPY_HORIZON=${SIMPY_HORIZON:-20000}
HOUR=${HOUR:-1}
PAR=${PAR:-1}
RAGSIM=$BUILD/ragsim
PY=/usr/bin/python3
[ -x "$PY" ] || PY=python3
TMP=$(mktemp -d "${TMPDIR:-/tmp}/ragsim-bench.XXXXXX")
trap 'rm -rf "$TMP"' EXIT INT TERM

[ -x "$RAGSIM" ] || { echo "bench: error: $RAGSIM not found (make build first)" >&2; exit 2; }
HOLDC=""
if [ -f "$BASE/hold.c" ]; then
    cc -O2 -march=native "$BASE/hold.c" -o "$TMP/hold-baseline" -lm && HOLDC="$TMP/hold-baseline"
fi
[ -n "$HOLDC" ] || echo "bench: warning: no hold baseline ($BASE/hold.c missing or not compiled)" >&2
# Debian 12's python3-simpy is SimPy 2.3 (the SimPy.Simulation API)
SIMPY=""
if [ -f "$BASE/simpy_mmc.py" ] && "$PY" -c 'import SimPy.Simulation' 2>/dev/null; then SIMPY="$BASE/simpy_mmc.py"; fi
[ -n "$SIMPY" ] || echo "bench: warning: no M/M/c baseline ($BASE/simpy_mmc.py missing, or $PY cannot import SimPy.Simulation: apt-get install python3-simpy)" >&2

# results: one line per figure and round: KEY VALUE
R="$TMP/results"
: > "$R"
say() { echo "$*" >&2; }

r=1
while [ "$r" -le "$ROUNDS" ]; do
    say "round $r of $ROUNDS ..."
    for n in 1000 100000 1000000; do
        v=$("$RAGSIM" bench hold --pending $n --ops "$HOLD_OPS" | tail -1 | cut -d' ' -f1)
        echo "hold_$n $v" >> "$R"
        if [ -n "$HOLDC" ]; then
            b=$("$HOLDC" $n "$HOLD_OPS" | sed 's/.*ns_per_hold=\([0-9.]*\).*/\1/')
            echo "holdc_$n $b" >> "$R"
            echo "holdratio_$n $(echo "$b $v" | awk '{printf "%.2f", $1 / $2}')" >> "$R"
        fi
    done
    m=$("$RAGSIM" bench mmc --lambda 9 --mu 1 --servers 10 --horizon 2000000 --seed 1)
    v=$(echo "$m" | tail -1 | cut -d' ' -f1)
    echo "mmc $v" >> "$R"
    echo "mmc_wait $(echo "$m" | sed -n 's/^mean wait \([0-9.]*\) s (Erlang C \([0-9.]*\) s)/\1 \2/p')" >> "$R"
    if [ -n "$SIMPY" ]; then
        b=$("$PY" "$SIMPY" 9 1 10 "$SIMPY_HORIZON" 1 | sed 's/.*customers_per_s=\([0-9]*\).*/\1/')
        echo "simpy $b" >> "$R"
        echo "mmcratio $(echo "$v $b" | awk '{printf "%.2f", $1 / $2}')" >> "$R"
    fi
    g=$("$RAGSIM" bench rag --reps 5)
    echo "rag_rps $(echo "$g" | sed -n 's/^\([0-9]*\) requests\/s$/\1/p')" >> "$R"
    echo "rag_eps $(echo "$g" | sed -n 's/^\([0-9]*\) events\/s$/\1/p')" >> "$R"
    echo "rag_nsev $(echo "$g" | sed -n 's/^\([0-9.]*\) ns per event$/\1/p')" >> "$R"
    echo "rag_hold $(echo "$g" | sed -n 's/^event set alone .*: \([0-9.]*\) ns per event;.*/\1/p')" >> "$R"
    echo "rag_x $(echo "$g" | sed -n 's/.*the full model costs \([0-9.]*\)x$/\1/p')" >> "$R"
    echo "trace_default $(echo "$g" | sed -n 's/^trace at the default sampling: .*, +\{0,1\}\(-\{0,1\}[0-9.]*\)%$/\1/p')" >> "$R"
    echo "trace_req $(echo "$g" | sed -n 's/^trace with 1% of requests recorded: .*, +\{0,1\}\(-\{0,1\}[0-9.]*\)%$/\1/p')" >> "$R"
    r=$((r + 1))
done

if [ "$HOUR" != 0 ]; then
    say "busy hour (scenarios/bench/hour-10k.yaml): 1 h, then 10 min, then 1 h writing its trace ..."
    for d in 1h 10m 1htrace; do
        # (the 10-minute run warns that the faults start after its end)
        case $d in
            1htrace) set -- --set duration=1h -o "$TMP/hour.h5" --force ;;
            *) set -- --set duration=$d --no-trace ;;
        esac
        if ! /usr/bin/time -f "%e %M %U" -o "$TMP/time" "$RAGSIM" run "$SRC/scenarios/bench/hour-10k.yaml" \
            "$@" -q > /dev/null 2> "$TMP/err"; then
            cat "$TMP/err" >&2
            exit 1
        fi
        rm -f "$TMP/hour.h5"
        echo "hour_wall_$d $(cut -d' ' -f1 "$TMP/time")" >> "$R"
        echo "hour_rss_$d $(cut -d' ' -f2 "$TMP/time")" >> "$R"
        echo "hour_cpu_$d $(cut -d' ' -f3 "$TMP/time")" >> "$R"
    done
fi

if [ "$PAR" != 0 ]; then
    # -j 2 against -j 1, measured one right after the other in each round;
    # and the speed-up the runs' own lengths allow on 2 workers (their total
    # over the longer of half of it and the longest run: a bound no
    # scheduler beats, computed from the runs' wall_seconds in the trace)
    r=1
    while [ "$r" -le "$ROUNDS" ]; do
        say "compare of the incident, -j 1 then -j 2 (round $r of $ROUNDS) ..."
        for j in 1 2; do
            /usr/bin/time -f "%e" -o "$TMP/time" "$RAGSIM" compare "$SRC/scenarios/incident-2023q4.yaml" -j $j -q \
                -o "$TMP/inc$j.h5" --force 2> "$TMP/err" || { cat "$TMP/err" >&2; exit 1; }
            echo "par_wall_$j $(cat "$TMP/time")" >> "$R"
        done
        echo "par_ratio $(awk -v a="$(grep '^par_wall_1 ' "$R" | tail -1 | cut -d' ' -f2)" \
            -v b="$(grep '^par_wall_2 ' "$R" | tail -1 | cut -d' ' -f2)" 'BEGIN {printf "%.2f", a / b}')" >> "$R"
        echo "par_bound $("$PY" -c 'import h5py, sys
f = h5py.File(sys.argv[1], "r")
w = [f["runs"][v][r].attrs["wall_seconds"] for v in f["runs"] for r in f["runs"][v]]
print("%.2f" % (sum(w) / max(sum(w) / 2, max(w))))' "$TMP/inc1.h5" 2>/dev/null || echo -)" >> "$R"
        r=$((r + 1))
    done
fi

# median of a key's values
med() { grep "^$1 " "$R" | cut -d' ' -f2 | sort -g | awk '{v[NR]=$1} END {if (NR == 0) print "-"; else if (NR % 2) print v[(NR+1)/2]; else print (v[NR/2]+v[NR/2+1])/2}'; }

echo
echo "ragsim benchmarks: $(date -u +%Y-%m-%d), $(uname -m), $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'); medians of $ROUNDS rounds"
echo
echo "| benchmark | ragsim | baseline | ratio | target |"
echo "|---|---|---|---|---|"
for n in 1000 100000 1000000; do
    case $n in 1000) t="no slower (>= 1x)";; 100000) t=">= 2x";; *) t=">= 2.5x";; esac
    echo "| hold, $n pending | $(med hold_$n) ns per hold | hold.c $(med holdc_$n) ns per hold | $(med holdratio_$n)x faster | $t |"
done
w=$(grep '^mmc_wait ' "$R" | tail -1 | cut -d' ' -f2-3)
echo "| M/M/10, lambda 9/s, mu 1/s (ragsim horizon 2e6 s; mean wait $(echo $w | cut -d' ' -f1) s, Erlang C $(echo $w | cut -d' ' -f2) s) | $(med mmc) customers/s | SimPy $(med simpy) customers/s (horizon $SIMPY_HORIZON s) | $(med mmcratio)x | >= 50x |"
echo "| RAG pipeline, rag-baseline.yaml, 1 s time series | $(med rag_rps) requests/s, $(med rag_eps) events/s | 500000 requests/s | $(awk -v a="$(med rag_rps)" 'BEGIN {printf "%.2f", a / 500000}')x the target | >= 1x |"
echo "| RAG cost per event vs the bare event set (hold at the run's mean pending count) | $(med rag_nsev) ns per event | event set $(med rag_hold) ns per event | $(med rag_x)x | <= 3x |"
echo "| trace at the default sampling (HDF5 write, rag-baseline) | $(awk -v a="$(med trace_default)" 'BEGIN {printf "%+.1f", a}')% CPU time | run without a trace | $(awk -v a="$(med trace_default)" 'BEGIN {printf "%.3f", 1 + a / 100}')x | <= 1.10x |"
echo "| trace with 1% of requests recorded | $(awk -v a="$(med trace_req)" 'BEGIN {printf "%+.1f", a}')% CPU time | run without a trace | $(awk -v a="$(med trace_req)" 'BEGIN {printf "%.3f", 1 + a / 100}')x | <= 1.25x |"
if [ "$PAR" != 0 ]; then
    echo "| compare of the incident (incident-2023q4.yaml, every variant), -j 2 | $(med par_wall_2) s wall | -j 1: $(med par_wall_1) s wall | $(med par_ratio)x (the runs' lengths allow $(med par_bound)x) | >= 1.8x on 2 cores |"
fi
if [ "$HOUR" != 0 ]; then
    echo "| busy hour: hour-10k.yaml, 1 h at 10k requests/s (36 M requests) | $(med hour_wall_1h) s wall ($(med hour_cpu_1h) s CPU) | 90 s | $(awk -v a="$(med hour_wall_1h)" 'BEGIN {printf "%.2f", a / 90}')x the budget (CPU: $(awk -v a="$(med hour_cpu_1h)" 'BEGIN {printf "%.2f", a / 90}')x) | <= 1x |"
    echo "| busy hour: peak RSS | $(awk -v a="$(med hour_rss_1h)" 'BEGIN {printf "%.1f", a / 1024}') MiB | 256 MiB | $(awk -v a="$(med hour_rss_1h)" 'BEGIN {printf "%.2f", a / 1024 / 256}')x the budget | <= 1x |"
    echo "| busy hour writing its trace (time series spilled as the run goes) | $(med hour_wall_1htrace) s wall ($(med hour_cpu_1htrace) s CPU), peak RSS $(awk -v a="$(med hour_rss_1htrace)" 'BEGIN {printf "%.1f", a / 1024}') MiB | without the trace: $(med hour_cpu_1h) s CPU | $(awk -v a="$(med hour_cpu_1htrace)" -v b="$(med hour_cpu_1h)" 'BEGIN {printf "%+.1f%%", (a / b - 1) * 100}') CPU | (not a target) |"
    echo "| busy hour: RSS of 1 h against 10 min | $(awk -v a="$(med hour_rss_1h)" 'BEGIN {printf "%.1f", a / 1024}') MiB | 10 min: $(awk -v a="$(med hour_rss_10m)" 'BEGIN {printf "%.1f", a / 1024}') MiB | $(awk -v a="$(med hour_rss_1h)" -v b="$(med hour_rss_10m)" 'BEGIN {printf "%.2f", a / b}')x | <= 1.2x |"
fi
