/* The Go runtime of one service replica: heap, GC pacer, goroutines, and
 * resident memory against the container limit.
 *
 *   runtime:
 *     gogc: 100                  # GOGC percent, or `off`
 *     gomemlimit: off            # GOMEMLIMIT (soft limit), a size, or `off`
 *     min_heap: 4MiB             # minimum heap goal at GOGC 100 (Go's heapMinimum)
 *     forced_gc: 2m              # sysmon's forcegcperiod; `unbounded` = never
 *     mark_rate: 512MiB/s        # pointer-bearing bytes scanned per CPU-second
 *     noscan_mark_rate: ...      # pointer-free bytes marked per CPU-second (calibrated)
 *     cycle_cpu: ...             # fixed CPU-seconds of every cycle (calibrated)
 *     sweep_rate: 64GiB/s        # heap bytes swept per CPU-second (charged to allocation)
 *     fault_rate: ...            # bytes the kernel faults in per CPU-second (calibrated)
 *     release_rate: ...          # bytes returned to the OS per CPU-second (calibrated)
 *     stack_bytes: 2KiB          # stack per goroutine
 *     runtime_overhead: 32MiB    # non-heap RSS: binary, runtime structures
 *     memory_limit: unbounded    # the container's limit (cgroup memory.max)
 *
 * The owner (the gateway) tells the runtime what the program does: bytes
 * allocated and dropped at once (gort_alloc), bytes that stay reachable
 * (gort_retain) until released (gort_release), goroutines started and ended.
 * The runtime runs the collector against that:
 *
 *  - heap = live + garbage allocated since the last collection ended.
 *  - A cycle starts when heap >= goal (and something was allocated since the
 *    last cycle: Go starts cycles from the allocator), or when none ended for
 *    forced_gc. The mark takes (scan + stacks) / mark_rate + noscan / noscan_mark_rate
 *    + cycle_cpu CPU-seconds done at 25% of GOMAXPROCS, as Go's pacer does:
 *    `workers` dedicated workers (round(cores / 4), unless that is more than
 *    30% off) borrowed from the replica's CPU station for the mark (its
 *    servers drop by `workers`), and for GOMAXPROCS <= 3 and 6 a fractional
 *    worker for the rest, which time-slices with the requests
 *    (gort_cpu_factor). Every other core with nothing to run marks too
 *    (Go's idle mark workers): the mark goes faster while the replica's
 *    CPU has idle servers (followed through the station's busy hook), and
 *    that CPU is the process's but not GC CPU (idle_mark_cpu_s). At mark end the garbage is freed, except what was
 *    allocated during the mark (allocated black: heap = live + floating
 *    garbage); its sweeping is CPU charged to the next cycle's allocations.
 *  - goal = max(marked + (marked + stacks) x GOGC/100, min_heap x GOGC/100),
 *    capped by GOMEMLIMIT - (stacks + runtime_overhead) - 1 MiB, never below the
 *    marked live heap (a live heap above the GOMEMLIMIT goal collects back
 *    to back).
 *  - Sweep: paced over the allocations up to the trigger (gcPaceSweeper);
 *    the allocation that reaches the trigger finishes what is left and the
 *    cycle starts once it has (gcStart).
 *  - Assists: while marking, an allocation pays mark work in proportion
 *    to the work left over the room left before the goal (1.1 x goal once
 *    past it). Sweeping is charged to the next cycle's allocations; pages
 *    above the resident heap fault in; above GOMEMLIMIT the allocation
 *    path returns free pages to the OS (gort_alloc_seconds).
 *  - GC CPU limiter (Go 1.19+'s gcCPULimiter): a leaky bucket of capacity
 *    cores x 1 s that fills with GC CPU (workers and assists) and drains
 *    with mutator time (idle Ps count as neither, as in Go 1.19.8).
 *    While it is full, allocations do not assist: GC CPU stays at about
 *    half of the busy Ps over a second or so, the mark
 *    takes longer and the heap grows past its goal -- past GOMEMLIMIT --
 *    until the container's limit kills the process.
 *  - RSS = resident heap + goroutines x stack_bytes + runtime_overhead; when it first
 *    exceeds memory_limit, on_oom is called (once per process life).
 *
 * See docs/models/goruntime.md for the equations, the Go behaviour each
 * follows and every simplification, and docs/internals/models.md for the
 * owner's side.
 *
 * Time series (per replica, the label in braces): goroutines,
 * heap_inuse_bytes, heap_live_bytes, heap_goal_bytes,
 * heap_alloc_bytes_per_second, rss_bytes, gc_cycles_total, gc_cpu_ratio.
 *
 * Cost: O(1) per call, no allocation after gort_init; at most three
 * pending events per replica (mark end, forced GC, a cycle waiting for its
 * allocating goroutine's sweep); O(1) per job start and end on the CPU
 * station (its busy hook: the limiter's idle time, and while marking the
 * idle mark workers). */
#ifndef MODELS_COMPONENTS_GATEWAY_GORUNTIME_H
#define MODELS_COMPONENTS_GATEWAY_GORUNTIME_H

#include <stdbool.h>
#include <stdint.h>

#include "models/queueing/station.h"
#include "sim/cfg.h"
#include "sim/sim.h"

/* Constants calibrated against Go 1.19.8 (bench/goruntime/calibrate.py on
 * bench/goruntime/grid.csv; docs/models/goruntime.md#checked-against-go
 * says how and how sensitive): the defaults of `runtime:`. */
#define GORT_CAL_NOSCAN_MARK_RATE 132.4e9    /* pointer-free bytes marked per CPU-s (1 KiB objects: ~7.7 ns each) */
#define GORT_CAL_CYCLE_CPU 0.0004217        /* CPU-s per cycle */
#define GORT_CAL_FAULT_RATE 2.638e9         /* bytes faulted in per CPU-s (4 KiB pages, a VM: ~1.6 us each) */
#define GORT_CAL_RELEASE_RATE 1.552e9       /* bytes released (madvise) per CPU-s */
#define GORT_CAL_SWEEP_RATE 28.71e9         /* heap swept per CPU-s (26.7 GiB/s) */

typedef struct gort_spec {
    int64_t gogc;             /* GOGC percent (default 100); -1 = off: no heap-driven and no forced GC */
    int64_t gomemlimit;       /* GOMEMLIMIT bytes; INT64_MAX = off (default) */
    int64_t min_heap;         /* heap goal floor at GOGC 100, bytes (default 4 MiB; scaled by GOGC/100) */
    sim_time_t forced_gc;     /* a GC when none ended for this long (default 2 min); SIM_TIME_MAX = never */
    double mark_rate;         /* pointer-bearing bytes scanned per CPU-second (default 512 MiB/s) */
    double noscan_mark_rate;  /* pointer-free bytes marked per CPU-second (default calibrated); INFINITY = free */
    double cycle_cpu;         /* fixed CPU-seconds per cycle: STW, roots, setup (default calibrated) */
    double sweep_rate;        /* heap bytes swept per CPU-second (default calibrated); INFINITY = free */
    double fault_rate;        /* bytes faulted in per CPU-second (default calibrated); INFINITY = free */
    double release_rate;      /* bytes released to the OS per CPU-second (default calibrated); INFINITY = free */
    int64_t stack_bytes;      /* stack per goroutine, bytes (default 2 KiB) */
    int64_t runtime_overhead; /* non-heap RSS, bytes (default 32 MiB) */
    int64_t memory_limit;     /* container limit, bytes; INT64_MAX = none (default) */
} gort_spec_t;

/* The defaults above. */
void gort_spec_default(gort_spec_t *s);

/* Parse a `runtime` mapping (keys above, all optional); `map` may be NULL or
 * null for all defaults. Every key is read through a getter; a bad value is
 * reported at its FILE:LINE:COL. Warns when gomemlimit is not below
 * memory_limit (the soft limit then cannot keep the process alive).
 * Returns 0 or SIM_ECONFIG. */
int gort_spec_parse(sim_diag_t *d, sim_cfg_node_t *map, gort_spec_t *spec);

typedef void (*gort_oom_fn)(sim_t *sim, void *ctx);

typedef struct gort {
    /* ---- read-only for the owner -------------------------------------- */
    int64_t live;             /* bytes reachable now */
    int64_t live_noscan;      /* of which pointer-free (marked, not scanned) */
    int64_t resident;         /* heap pages resident (>= heap): what was touched and not
                                 released to the OS; RSS counts this */
    int64_t heap;             /* heap in use: live + garbage not yet swept (Go's HeapInuse) */
    int64_t goal;             /* current heap goal, bytes; INT64_MAX = none (GOGC off, no limit) */
    int64_t trigger;          /* a cycle starts when the heap reaches this (<= goal) */
    int64_t goroutines;
    bool marking;             /* a mark phase is running (workers borrowed from the CPU) */
    bool dead;                /* killed; everything frozen until gort_restart */
    uint64_t gc_cycles;       /* completed cycles since the start of the run (all lives) */
    uint64_t forced_cycles;   /* of which started by the forced-GC period */
    uint64_t lives;           /* process starts: 1 after init, +1 per restart */
    double gc_cpu_s;          /* GC CPU-seconds since the start of the run: marks that
                                 ended (or were cut by a kill) plus assists. With the
                                 running mark: gort_gc_cpu_seconds() */
    double assist_cpu_s;      /* of which assists */
    double idle_mark_cpu_s;   /* idle mark workers' CPU-seconds since the start of the run, marks
                                 that ended (not in gc_cpu_s: GCCPUFraction leaves it out).
                                 With the running mark: gort_idle_mark_cpu_seconds() */
    double assist_dropped_s;  /* assist CPU-seconds the limiter switched off (not done,
                                 not counted in gc_cpu_s), since the start of the run */
    double sweep_cpu_s;       /* sweeping charged to allocations, whole run (not in gc_cpu_s) */
    double fault_cpu_s;       /* page faults charged to allocations, whole run (not in gc_cpu_s) */
    double release_cpu_s;     /* allocation-path scavenging (madvise), whole run (not in gc_cpu_s) */
    double win_gc_cpu_s;      /* internal part of gort_win_gc_cpu_seconds(): read that */
    int64_t win_heap_max;     /* internal part of gort_win_heap_peak(): read that */
    int64_t alloc_total;      /* bytes allocated (alloc + retain) since the start of the run */

    /* ---- internal ------------------------------------------------------ */
    sim_t *sim;
    gort_spec_t spec;         /* a copy */
    station_t *cpu;           /* NULL: no CPU to borrow from (cores = 1, nothing borrowed) */
    int64_t cores;            /* the station's servers at init (GOMAXPROCS) */
    int64_t workers;          /* dedicated mark workers: whole cores taken from the station while marking */
    double mark_cpus;         /* the mark's CPUs: dedicated workers + the fractional worker's share */
    int64_t marked;           /* heap at the last mark end: live + floating garbage (Go's heapMarked) */
    int64_t marked_stacks;    /* goroutine stacks at the last mark end */
    int64_t marked_noscan;    /* pointer-free part of `marked` */
    int64_t alloc_since_gc;   /* bytes allocated since the last mark ended */
    int64_t floating;         /* garbage allocated while marking: allocated black, it survives the cycle */
    double alloc_rate;        /* bytes/s allocated over the last cycle (pacer estimate); 0 unknown */
    sim_time_t last_gc_end;   /* when the last mark ended (or the process started) */
    bool goal_is_limit;       /* the goal is the GOMEMLIMIT goal */
    bool oom_fired;           /* on_oom already called in this life */
    sim_time_t mark_start, mark_dur;
    bool mark_forced;         /* the running mark was started by the forced-GC period */
    double idle_p;            /* idle mark workers' CPUs now (idle Ps x their non-fractional share) */
    double mark_idle_s;       /*   their CPU-seconds in the running mark up to idle_at */
    sim_time_t idle_at;
    double mark_work;         /* mark work of the running cycle, in bytes scanned at mark_rate */
    double sweep_debt;        /* sweeping left from the last cycle, CPU-seconds */
    double sweep_per_byte;    /*   charged per allocated byte until paid */
    double assisted;          /* of which scanned by assists */
    double lim_fill;          /* GC CPU limiter: the bucket at lim_last, CPU-seconds */
    double lim_cap;           /*   its capacity: cores x 1 s */
    sim_time_t lim_last;
    double lim_idle;          /*   idle Ps now (the CPU's idle servers): time the limiter leaves out */
    sim_time_t lim_on_until;  /*   an assist filled it: no assist before this (Go's 10 ms update) */
    sim_time_t win_start;     /* sample window that win_gc_cpu_s belongs to (its start) */
    sim_time_t win_heap_start;   /* sample window that win_heap_max belongs to */
    sim_timer_t mark_timer, forced_timer;
    sim_timer_t start_timer;  /* a heap-triggered cycle waits for its allocating goroutine to
                                 finish the last cycle's sweep (Go's gcStart) */
    bool start_pending;       /*   start_timer is set */
    gort_oom_fn on_oom;
    void *ctx;
    int64_t prev_alloc;       /* alloc_total at the previous sample */
    char label[96];
    int col[8];
} gort_t;

/* Set up the runtime of one replica in run `sim` and start its first life
 * (as gort_restart). `g` must not move afterwards (the engine keeps a
 * pointer for the sampler and events). `spec` is copied. `cpu` is the replica's CPU station
 * (may be NULL): its servers at this moment are GOMAXPROCS, and the runtime
 * is the only one to change them. `label` ("component=gateway,replica=0")
 * goes in braces after each series name ("" or NULL: no braces).
 * on_oom(sim, ctx) (may be NULL) is called from inside the allocating call
 * when RSS first exceeds memory_limit in a life; the owner normally calls
 * gort_kill there (the allocating call then returns at once). Registers the
 * time series and the sampler. Returns 0 or SIM_ENOMEM. */
int gort_init(gort_t *g, sim_t *sim, const gort_spec_t *spec, station_t *cpu, const char *label,
              gort_oom_fn on_oom, void *ctx);
/* Cancel the runtime's pending events; call before sim_destroy. */
void gort_fini(gort_t *g);

/* Short-lived allocation: adds to the heap only (garbage at once). May start
 * a cycle or call on_oom. Bytes >= 0; ignored while dead. O(1). */
void gort_alloc(gort_t *g, int64_t bytes);
/* Allocation that stays reachable: adds to heap and live. As gort_alloc.
 * gort_retain: pointer-bearing bytes (the marker scans them: structs,
 * maps, strings, slices of pointers); gort_retain_noscan: pointer-free
 * bytes ([]byte, []float32: marked as objects, never scanned). */
void gort_retain(gort_t *g, int64_t bytes);
void gort_retain_noscan(gort_t *g, int64_t bytes);
/* Reachable bytes become garbage (freed by the next sweep). live is clamped
 * at 0, so releasing bytes retained in an earlier life is harmless (compare
 * `lives` to tell lives apart). Ignored while dead. */
void gort_release(gort_t *g, int64_t bytes);
/* Pointer-free reachable bytes become garbage (the counterpart of gort_retain_noscan). */
void gort_release_noscan(gort_t *g, int64_t bytes);
/* Goroutines started (+) or ended (-); clamped at 0. Moves RSS and the
 * GOMEMLIMIT goal; a start may call on_oom. Ignored while dead. */
void gort_goroutines(gort_t *g, int64_t delta);

/* Extra mutator CPU-seconds an allocation of `alloc_bytes` costs now: its
 * mark assist while marking with heap > goal, at most what the GC CPU
 * limiter still admits (0 while it is on), else 0. Call it just before
 * gort_alloc/gort_retain of the same bytes: they count exactly this in
 * gc_cpu_s (Go decides the assist at the start of mallocgc, before the
 * allocation can start a cycle). */
double gort_assist_seconds(const gort_t *g, int64_t alloc_bytes);

/* Extra mutator CPU-seconds an allocation of `alloc_bytes` costs now: its
 * mark assist (gort_assist_seconds), its share of the last cycle's sweep
 * (proportional sweep), the page faults of pages it touches that are not
 * resident, and, while RSS is above GOMEMLIMIT and the limiter is off, the
 * scavenging (returning other free pages to the OS) Go does on the
 * allocation path. Call it just before gort_alloc/gort_retain of the same
 * bytes: they book exactly this. */
double gort_alloc_seconds(const gort_t *g, int64_t alloc_bytes);

/* Factor on the CPU demand of work that starts now on the replica's cores:
 * > 1 while a fractional mark worker (GOMAXPROCS <= 3 or 6) shares the
 * cores that are not given to dedicated workers, 1 otherwise. */
double gort_cpu_factor(const gort_t *g);

/* gort_alloc_seconds(g, bytes), then gort_alloc(g, bytes): the seconds
 * returned, the allocation booked, its costs computed once. */
double gort_alloc_charged(gort_t *g, int64_t bytes);

/* CPU work of `cpu_s` CPU-seconds that starts now and allocates
 * `alloc_bytes` dropped at once (a request): returns (cpu_s + the
 * allocation's costs) x gort_cpu_factor, the factor taken before the
 * allocation (which may start a mark), and books the allocation as
 * gort_alloc_charged. A fractional mark worker time-slices with all of it. */
double gort_work_charged(gort_t *g, double cpu_s, int64_t alloc_bytes);

/* The GC CPU limiter is on now: its bucket is full, allocations do not assist. */
bool gort_limiting(const gort_t *g);

/* resident heap + goroutines x stack_bytes + runtime_overhead (of the frozen state if dead). */
int64_t gort_rss(const gort_t *g);

/* The process died: the running mark stops (its CPU so far is counted), the
 * borrowed servers come back, no events, no OOM callbacks; the state stays
 * frozen (for post-mortem reads) until gort_restart. Idempotent. */
void gort_kill(gort_t *g);
/* A fresh process (at any time, dead or not): live = heap = 0, goroutines 0,
 * goal from an empty heap (min_heap x GOGC/100), the forced-GC period starts
 * now, OOM armed again. Run totals (cycles, CPU, bytes) carry on. Calls
 * on_oom if runtime_overhead alone exceeds memory_limit. */
void gort_restart(gort_t *g);

/* Idle mark workers' CPU-seconds since the start of the run, the running
 * mark included: process CPU that Go's GCCPUFraction (and gc_cpu_s) leave out. */
double gort_idle_mark_cpu_seconds(const gort_t *g);

/* GC CPU-seconds since the start of the run, the running mark included. */
double gort_gc_cpu_seconds(const gort_t *g);
/* The largest heap (heap_inuse) in the current sample window (since the
 * previous sample), the heap at its start included; 0 while dead. A heap
 * that a fast collection brings back down between two samples still shows
 * here. Exact from any sampler, whichever order they run in. O(1). */
int64_t gort_win_heap_peak(const gort_t *g);

/* GC CPU-seconds in the current sample window (since the previous sample,
 * the engine's last_sample), the running mark included. Exact from any
 * sampler, whichever order the samplers run in (nothing is reset by a
 * sampler). */
double gort_win_gc_cpu_seconds(const gort_t *g);

#endif
