/* The Go runtime of one replica: see goruntime.h and docs/models/goruntime.md. */
#include "models/components/gateway/goruntime.h"

#include <assert.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "sim/error.h"
#include "sim/units.h"

#define MiB ((int64_t)1 << 20)


void gort_spec_default(gort_spec_t *s)
{
    s->gogc = 100;
    s->gomemlimit = INT64_MAX;
    s->min_heap = 4 * MiB;
    s->forced_gc = 2 * SIM_MIN;
    s->mark_rate = 512.0 * (double)MiB;
    /* The runtime's own costs, as measured on Go 1.19.8 (GORT_CAL_*,
     * goruntime.h): a real Go pays them, so the model does unless a
     * scenario turns one off (`unbounded`: free) or sets its own. */
    s->noscan_mark_rate = GORT_CAL_NOSCAN_MARK_RATE;
    s->cycle_cpu = GORT_CAL_CYCLE_CPU;
    s->fault_rate = GORT_CAL_FAULT_RATE;
    s->release_rate = GORT_CAL_RELEASE_RATE;
    s->sweep_rate = GORT_CAL_SWEEP_RATE;
    s->stack_bytes = 2048;
    s->runtime_overhead = 32 * MiB;
    s->memory_limit = INT64_MAX;
}

/* ---- parsing ----------------------------------------------------------------------- */

static bool is_word(const sim_cfg_node_t *n, const char *w)
{
    return n->kind == SIM_CFG_SCALAR && n->plain && strcmp(n->text, w) == 0;
}

/* "'runtime.gogc': expected ..., got X" at the node, X as the engine's getters write it. */
static int bad(sim_diag_t *d, sim_cfg_node_t *n, const char *expect, bool quoted_parses)
{
    char path[256];
    sim_cfg_path(n, path, sizeof path);
    if (n->kind == SIM_CFG_MAP) sim_cfg_error(d, n, "'%s': %s, got a mapping", path, expect);
    else if (n->kind == SIM_CFG_SEQ) sim_cfg_error(d, n, "'%s': %s, got a sequence", path, expect);
    else if (sim_cfg_is_null(n)) sim_cfg_error(d, n, "'%s': %s, got null", path, expect);
    else if (!n->plain)
        sim_cfg_error(d, n, "'%s': %s, got the string \"%.60s\"%s", path, expect, n->text,
                      quoted_parses ? " (write it without quotes)" : "");
    else sim_cfg_error(d, n, "'%s': %s, got '%.60s'", path, expect, n->text);
    return SIM_ECONFIG;
}

/* gogc: a percent >= 0 (Go reads GOGC with atoi) or `off`. */
static int parse_gogc(sim_diag_t *d, sim_cfg_node_t *map, int64_t *out)
{
    sim_cfg_node_t *n = sim_cfg_get(map, "gogc");
    if (!n) return 0;
    n->used = true;
    if (is_word(n, "off")) {
        *out = -1;
        return 0;
    }
    int64_t v;
    bool ok = n->kind == SIM_CFG_SCALAR && !sim_cfg_is_null(n) && sim_parse_int(n->text, &v, NULL) == 0 &&
              v >= 0 && v <= INT32_MAX;
    if (ok && n->plain) {
        *out = v;
        return 0;
    }
    return bad(d, n, "expected a percent (an integer >= 0, such as 100) or 'off'", ok);
}

/* A rate: a size per CPU-second, "512MiB/s"; the "/s" may be left out.
 * With `free`, `unbounded` (the work costs nothing) is accepted too. */
static int parse_rate(sim_diag_t *d, sim_cfg_node_t *map, const char *key, const char *what, bool free,
                      double *out)
{
    char expect[200];
    snprintf(expect, sizeof expect, "expected bytes %s per CPU-second, a size > 0 such as 512MiB/s%s", what,
             free ? ", or 'unbounded' (free)" : "");
    sim_cfg_node_t *n = sim_cfg_get(map, key);
    if (!n) return 0;
    n->used = true;
    if (free && is_word(n, "unbounded")) {
        *out = INFINITY;
        return 0;
    }
    if (n->kind != SIM_CFG_SCALAR || sim_cfg_is_null(n)) return bad(d, n, expect, false);
    char buf[64];
    size_t len = n->len;
    if (len >= 2 && strcmp(n->text + len - 2, "/s") == 0) len -= 2;
    int64_t v = 0;
    bool ok = len > 0 && len < sizeof buf;
    if (ok) {
        memcpy(buf, n->text, len);
        buf[len] = '\0';
        ok = sim_parse_size(buf, &v, NULL) == 0 && v > 0;
    }
    if (!ok || !n->plain) return bad(d, n, expect, ok);
    *out = (double)v;
    return 0;
}

int gort_spec_parse(sim_diag_t *d, sim_cfg_node_t *map, gort_spec_t *spec)
{
    gort_spec_default(spec);
    if (!map || sim_cfg_is_null(map)) return 0;
    if (!sim_cfg_expect_map(d, map, "runtime")) return SIM_ECONFIG;
    int errs = d->errors;
    parse_gogc(d, map, &spec->gogc);
    sim_cfg_node_t *lim = sim_cfg_get(map, "gomemlimit");
    if (lim && is_word(lim, "off")) lim->used = true;   /* stays INT64_MAX */
    else if (lim) sim_cfg_size_node(d, lim, SIM_CFG_UNBOUNDED, &spec->gomemlimit);
    sim_cfg_size(d, map, "min_heap", 0, spec->min_heap, &spec->min_heap);
    sim_cfg_duration(d, map, "forced_gc", SIM_CFG_POSITIVE | SIM_CFG_UNBOUNDED, spec->forced_gc,
                     &spec->forced_gc);
    parse_rate(d, map, "mark_rate", "scanned", false, &spec->mark_rate);
    parse_rate(d, map, "noscan_mark_rate", "marked", true, &spec->noscan_mark_rate);
    parse_rate(d, map, "sweep_rate", "swept", true, &spec->sweep_rate);
    parse_rate(d, map, "fault_rate", "faulted in", true, &spec->fault_rate);
    parse_rate(d, map, "release_rate", "released", true, &spec->release_rate);
    sim_time_t cc = sim_time_from_s(spec->cycle_cpu);
    sim_cfg_duration(d, map, "cycle_cpu", 0, cc, &cc);
    spec->cycle_cpu = sim_time_to_s(cc);
    sim_cfg_size(d, map, "stack_bytes", 0, spec->stack_bytes, &spec->stack_bytes);
    sim_cfg_size(d, map, "runtime_overhead", 0, spec->runtime_overhead, &spec->runtime_overhead);
    sim_cfg_size(d, map, "memory_limit", SIM_CFG_POSITIVE | SIM_CFG_UNBOUNDED, spec->memory_limit,
                 &spec->memory_limit);
    if (d->errors != errs) return SIM_ECONFIG;

    if (spec->memory_limit != INT64_MAX && spec->runtime_overhead >= spec->memory_limit)
        sim_cfg_warn(d, sim_cfg_get(map, "runtime_overhead"),
                     "runtime_overhead is not below memory_limit: every start of the process is OOM-killed");
    if (spec->memory_limit != INT64_MAX && spec->gomemlimit != INT64_MAX &&
        spec->gomemlimit >= spec->memory_limit)
        sim_cfg_warn(d, lim,
                     "gomemlimit is not below memory_limit: the soft limit cannot keep the process "
                     "from being OOM-killed (set it a few percent below the container limit)");
    return 0;
}

/* ---- arithmetic -------------------------------------------------------------------- */

static inline int64_t sat_add(int64_t a, int64_t b) { return a > INT64_MAX - b ? INT64_MAX : a + b; }

static inline int64_t sat_mul(int64_t a, int64_t b)   /* a, b >= 0 */
{
    if (a == 0 || b == 0) return 0;
    return a > INT64_MAX / b ? INT64_MAX : a * b;
}

/* a x pct / 100 for a, pct >= 0, exact when a x pct fits in 64 bits (Go's integer pacer arithmetic). */
static inline int64_t percent_of(int64_t a, int64_t pct)
{
    if (a == 0 || pct == 0) return 0;
    if (a <= INT64_MAX / pct) return a * pct / 100;
    double v = (double)a * (double)pct / 100.0;
    return v >= 9.2e18 ? INT64_MAX : (int64_t)v;
}

static inline int64_t stacks(const gort_t *g) { return sat_mul(g->goroutines, g->spec.stack_bytes); }

int64_t gort_rss(const gort_t *g) { return sat_add(sat_add(g->resident, stacks(g)), g->spec.runtime_overhead); }

/* Mark work of a cycle over the live heap now, in bytes scanned at mark_rate:
 * pointer-bearing bytes and stacks are scanned, pointer-free bytes only
 * marked (cheaper per byte), plus the cycle's fixed CPU. */
static double mark_work_now(const gort_t *g, int64_t live, int64_t live_noscan, int64_t stk)
{
    const gort_spec_t *s = &g->spec;
    int64_t scan = live - live_noscan;
    if (scan < 0) scan = 0;
    return (double)sat_add(scan, stk) + (double)live_noscan * (s->mark_rate / s->noscan_mark_rate) +
           s->cycle_cpu * s->mark_rate;
}

/* Go 1.18+ pacer: gcPercentHeapGoal = heapMarked + (heapMarked + stacks) x GOGC/100,
 * at least heapMinimum = min_heap x GOGC/100; memoryLimitHeapGoal = GOMEMLIMIT -
 * non-heap memory - 1 MiB (Go 1.19's memoryLimitHeapGoalHeadroom, kept for
 * the pacer's inaccuracies; the goal is 1 MiB at least); the goal is the
 * smaller, never below the marked heap. */
static void update_goal(gort_t *g)
{
    const gort_spec_t *s = &g->spec;
    int64_t goal = INT64_MAX;
    if (s->gogc >= 0) {
        goal = sat_add(g->marked, percent_of(sat_add(g->marked, g->marked_stacks), s->gogc));
        int64_t floor_ = percent_of(s->min_heap, s->gogc);
        if (goal < floor_) goal = floor_;
    }
    g->goal_is_limit = false;
    if (s->gomemlimit != INT64_MAX) {
        int64_t lg = s->gomemlimit - sat_add(stacks(g), s->runtime_overhead);
        lg = lg < 2 * MiB ? MiB : lg - MiB;   /* memoryLimitHeapGoal's headroom */
        if (lg < goal) {
            goal = lg;
            g->goal_is_limit = true;
        }
    }
    if (goal < g->marked) goal = g->marked;
    g->goal = goal;
    /* The trigger: Go starts a cycle before the heap reaches the goal, so
     * that marking ends about when it does: goal - (allocation expected
     * during the mark), kept within [70%, 95%] of the runway from the
     * marked heap to the goal (Go 1.21's trigger bounds). */
    g->trigger = goal;
    if (goal != INT64_MAX && goal > g->marked) {
        double runway = (double)(goal - g->marked);
        double mark_s = mark_work_now(g, g->live, g->live_noscan, g->marked_stacks) / s->mark_rate /
                        g->mark_cpus;
        double t = (double)goal - g->alloc_rate * mark_s;
        double lo = (double)g->marked + 0.70 * runway, hi = (double)g->marked + 0.95 * runway;
        if (t < lo) t = lo;
        if (t > hi) t = hi;
        g->trigger = (int64_t)t;
    }
}

/* ---- GC CPU accounting ------------------------------------------------------------- */

/* win_gc_cpu_s belongs to the sample window that started at win_start; once the
 * engine has sampled again it belongs to an older window and counts as 0. */
static void win_roll(gort_t *g)
{
    sim_time_t ws = g->sim->last_sample;
    if (g->win_start != ws) {
        g->win_start = ws;
        g->win_gc_cpu_s = 0;
    }
}

static void add_gc_cpu(gort_t *g, double s)
{
    win_roll(g);
    g->gc_cpu_s += s;
    g->win_gc_cpu_s += s;
}

/* ---- idle mark workers -------------------------------------------------------------- */

/* Go 1.19's idle mark workers: a P with nothing to run during a mark runs
 * a mark worker instead of going idle (proc.go findRunnable: "If we're in
 * the GC mark phase, can safely scan and blacken objects, and have work to
 * do, run idle-time marking rather than give up the P",
 * gcController.addIdleMarkWorker), up to maxIdleMarkWorkers: GOMAXPROCS -
 * the dedicated workers, or, for a cycle forced by sysmon, none when there
 * is a dedicated worker and one otherwise (gcControllerState.startCycle).
 * An idle P still runs its fractional worker first when it is behind its
 * share (findRunnableGCWorker), so each idle P adds 1 - that share to the
 * mark's CPUs. Their time goes to gcController.idleMarkTime, which
 * GCCPUFraction leaves out ("it's free", gcMarkTermination): it is the
 * process's CPU, not GC CPU. The idle Ps are the CPU station's idle
 * servers, followed through its busy hook (on_cpu_busy). */
static double idle_workers(const gort_t *g)
{
    if (!g->cpu) return 0.0;
    int64_t n = g->cpu->servers - g->cpu->busy;
    int64_t max = g->mark_forced ? (g->workers > 0 ? 0 : 1) : g->cores - g->workers;
    if (n > max) n = max;
    if (n <= 0) return 0.0;
    double rest = (double)(g->cores - g->workers);
    double frac_share = (g->mark_cpus - (double)g->workers) / rest;   /* the fractional worker's, per P */
    return (double)n * (1.0 - frac_share);
}

/* Bring the idle workers' CPU of the running mark up to now. */
static void idle_advance(gort_t *g, sim_time_t now)
{
    if (now > g->idle_at) g->mark_idle_s += g->idle_p * sim_time_to_s(now - g->idle_at);
    g->idle_at = now;
}

/* Mark work done so far in the running mark, bytes at mark_rate: the
 * dedicated and fractional workers, the idle workers, the assists. */
static double mark_done(const gort_t *g, sim_time_t now)
{
    double idle = g->mark_idle_s + (now > g->idle_at ? g->idle_p * sim_time_to_s(now - g->idle_at) : 0.0);
    return g->spec.mark_rate * (g->mark_cpus * sim_time_to_s(now - g->mark_start) + idle) + g->assisted;
}

static void mark_end_event(sim_t *sim, void *obj, uint64_t arg);

/* (Re)schedule the running mark's end at the workers' pace now. */
static void resched_mark(gort_t *g)
{
    sim_time_t now = sim_now(g->sim);
    double left = g->mark_work - mark_done(g, now);
    if (left < 0) left = 0;
    sim_cancel(g->sim, &g->mark_timer);
    g->mark_timer = sim_schedule_in(g->sim, sim_time_from_s(left / (g->spec.mark_rate * (g->mark_cpus + g->idle_p))),
                                    mark_end_event, g, 0);
}

static void lim_update(gort_t *g);

/* Idle time for the limiter, in Ps: the CPU's idle servers; while marking,
 * less the fractional worker's share that an idle P runs first (GC time,
 * findRunnableGCWorker). What is left is idle, or idle marking, which Go
 * 1.19.8's limiter counts as idle (limiterEventIdleMarkWork). */
static double lim_idle_now(const gort_t *g)
{
    if (!g->cpu) return 0.0;
    int64_t n = g->cpu->servers - g->cpu->busy;
    if (n <= 0) return 0.0;
    if (!g->marking) return (double)n;
    double rest = (double)(g->cores - g->workers);
    return (double)n * (1.0 - (g->mark_cpus - (double)g->workers) / rest);
}

/* The CPU station's idle servers may have changed: the limiter's idle
 * time follows them, and while marking the idle workers do and the mark's
 * end moves. */
static void on_cpu_busy(void *ctx, station_t *st)
{
    (void)st;
    gort_t *g = ctx;
    if (g->dead) return;
    lim_update(g);   /* the bucket up to now at the old idle time, then the new */
    g->lim_idle = lim_idle_now(g);
    if (!g->marking) return;
    double p = idle_workers(g);
    if (p == g->idle_p) return;
    idle_advance(g, sim_now(g->sim));
    g->idle_p = p;
    resched_mark(g);
}

double gort_idle_mark_cpu_seconds(const gort_t *g)
{
    double v = g->idle_mark_cpu_s;
    if (g->marking) {
        sim_time_t now = sim_now(g->sim);
        v += g->mark_idle_s + (now > g->idle_at ? g->idle_p * sim_time_to_s(now - g->idle_at) : 0.0);
    }
    return v;
}

/* Close the running mark's books up to now (end or kill). */
static void account_mark(gort_t *g)
{
    sim_time_t now = sim_now(g->sim);
    idle_advance(g, now);
    g->idle_mark_cpu_s += g->mark_idle_s;
    g->mark_idle_s = 0;
    g->idle_p = 0;
    win_roll(g);
    double w = g->mark_cpus;
    g->gc_cpu_s += w * sim_time_to_s(now - g->mark_start);
    sim_time_t from = g->mark_start > g->win_start ? g->mark_start : g->win_start;
    if (now > from) g->win_gc_cpu_s += w * sim_time_to_s(now - from);
}

/* The heap's high-water mark of the sample window: call before the heap grows. */
static void heap_peak_roll(gort_t *g)
{
    sim_time_t ws = g->sim->last_sample;
    if (g->win_heap_start != ws) {
        g->win_heap_start = ws;
        g->win_heap_max = g->heap;
    }
}

int64_t gort_win_heap_peak(const gort_t *g)
{
    if (g->dead) return 0;
    if (g->win_heap_start != g->sim->last_sample) return g->heap;
    return g->win_heap_max > g->heap ? g->win_heap_max : g->heap;
}

double gort_gc_cpu_seconds(const gort_t *g)
{
    double v = g->gc_cpu_s;
    if (g->marking) v += g->mark_cpus * sim_time_to_s(sim_now(g->sim) - g->mark_start);
    return v;
}

double gort_win_gc_cpu_seconds(const gort_t *g)
{
    sim_time_t ws = g->sim->last_sample, now = sim_now(g->sim);
    double v = g->win_start == ws ? g->win_gc_cpu_s : 0.0;
    if (g->marking) {
        sim_time_t from = g->mark_start > ws ? g->mark_start : ws;
        if (now > from) v += g->mark_cpus * sim_time_to_s(now - from);
    }
    return v;
}

/* ---- the GC CPU limiter -------------------------------------------------------------- */

/* Go's gcCPULimiter (runtime/mgclimit.go, Go 1.19+): a leaky bucket of
 * capacity GOMAXPROCS x 1 s that fills with GC CPU time and drains with
 * mutator time: over an interval, fill += GC - mutator = 2 x GC - (cores -
 * idle) x interval, clamped to [0, capacity]. While it is full the limiter
 * is on and allocating goroutines do not assist. GC CPU is the mark workers
 * (workers x time while marking) and the assists; mutator time is the rest
 * of GOMAXPROCS x time less the idle time (Go 1.19.8's updateLocked:
 * "windowTotalTime -= idleTime", idle marking counted as idle, lim_idle),
 * so a worker alone fills the bucket of a mostly idle process. Go turns the
 * limiter off at its next update (at most gcCPULimiterUpdatePeriod, 10 ms,
 * later) once the bucket has drained: an assist that fills the bucket
 * switches assists off for LIM_PERIOD. */
#define LIM_PERIOD (10 * SIM_MS)

/* The bucket at `now`, from its last update, with the mark workers' rate. */
static double lim_fill_at(const gort_t *g, sim_time_t now)
{
    double dt = sim_time_to_s(now - g->lim_last);
    double c = (double)g->cores;
    /* GC - mutator per s, mutator = total - idle - GC (Go 1.19.8's updateLocked) */
    double rate = (g->marking ? 2.0 * g->mark_cpus - c : -c) + g->lim_idle;
    double f = g->lim_fill + rate * dt;
    return f < 0 ? 0 : f > g->lim_cap ? g->lim_cap : f;
}

/* Bring the bucket to now; call before `marking` changes. */
static void lim_update(gort_t *g)
{
    sim_time_t now = sim_now(g->sim);
    g->lim_fill = lim_fill_at(g, now);
    g->lim_last = now;
}

/* Headroom left in the bucket now, CPU-seconds (0: the limiter is on). */
static double lim_headroom(const gort_t *g)
{
    sim_time_t now = sim_now(g->sim);
    if (now < g->lim_on_until) return 0.0;
    double h = g->lim_cap - lim_fill_at(g, now);
    return h > 1e-12 * g->lim_cap ? h : 0.0;
}

bool gort_limiting(const gort_t *g) { return !g->dead && lim_headroom(g) == 0.0; }

/* ---- the collector ----------------------------------------------------------------- */

static void forced_event(sim_t *sim, void *obj, uint64_t arg);

static void cancel_timers(gort_t *g)
{
    sim_cancel(g->sim, &g->mark_timer);
    sim_cancel(g->sim, &g->forced_timer);
    sim_cancel(g->sim, &g->start_timer);
    g->start_pending = false;
}

/* sysmon forces a cycle when none ended for forcegcperiod; never with GOGC off. */
static void arm_forced(gort_t *g)
{
    sim_cancel(g->sim, &g->forced_timer);
    if (g->spec.gogc < 0 || g->spec.forced_gc == SIM_TIME_MAX) return;
    g->forced_timer = sim_schedule_in(g->sim, g->spec.forced_gc, forced_event, g, 0);
}

static void start_cycle(gort_t *g, bool forced)
{
    sim_t *sim = g->sim;
    sim_time_t now = sim_now(sim);
    sim_cancel(sim, &g->forced_timer);
    sim_cancel(sim, &g->start_timer);
    g->start_pending = false;
    lim_update(g);
    if (g->cpu && g->workers > 0) stn_set_servers(g->cpu, g->cores - g->workers);
    g->marking = true;
    g->lim_idle = lim_idle_now(g);
    g->mark_forced = forced;
    if (forced) g->forced_cycles++;
    g->mark_start = now;
    /* bytes to scan, and sweeping the allocations left undone (Go finishes it at sweep termination) */
    g->mark_work = mark_work_now(g, g->live, g->live_noscan, stacks(g)) + g->sweep_debt * g->spec.mark_rate;
    g->sweep_debt = 0;
    g->assisted = 0;
    g->floating = 0;
    g->mark_idle_s = 0;
    g->idle_at = now;
    g->idle_p = idle_workers(g);
    resched_mark(g);
}

/* Heap trigger: Go starts a cycle from the allocator, so only once something
 * was allocated since the last cycle ended. The limiter does not hold cycles
 * back (a heap above a GOMEMLIMIT goal collects back to back): it switches
 * assists off. */
static void maybe_start(gort_t *g)
{
    if (g->dead || g->marking || g->start_pending || g->goal == INT64_MAX) return;
    if (g->heap < g->trigger || g->alloc_since_gc <= 0) return;
    start_cycle(g, false);
}

/* An allocation of b bytes now takes the heap to the trigger: it will start
 * a cycle (maybe_start's test, before the allocation is booked). */
static bool triggers(const gort_t *g, int64_t b)
{
    return !g->dead && !g->marking && !g->start_pending && g->goal != INT64_MAX && b > 0 &&
           sat_add(g->heap, b) >= g->trigger;
}

static void start_event(sim_t *sim, void *obj, uint64_t arg)
{
    (void)sim;
    (void)arg;
    gort_t *g = obj;
    g->start_timer = (sim_timer_t){0, 0};
    g->start_pending = false;
    if (g->dead || g->marking) return;
    start_cycle(g, false);
}

static void mark_end_event(sim_t *sim, void *obj, uint64_t arg)
{
    (void)arg;
    gort_t *g = obj;
    sim_time_t now = sim_now(sim);
    g->mark_timer = (sim_timer_t){0, 0};
    account_mark(g);
    g->mark_dur = now - g->mark_start;   /* assists may have shortened it */
    lim_update(g);
    g->marking = false;
    g->lim_idle = lim_idle_now(g);
    g->gc_cycles++;
    /* Everything unreachable at mark end is freed, except what was allocated
     * during the mark: Go allocates black while marking, so that garbage
     * survives this cycle (floating garbage), counts in the marked heap the
     * next goal grows from, and is freed at the next mark end. The sweeping
     * itself is charged to the next cycle's allocations (Go's proportional
     * sweep). */
    int64_t swept = g->heap;
    g->marked = sat_add(g->live, g->floating);
    g->marked_noscan = g->live_noscan;
    g->marked_stacks = stacks(g);
    g->heap = g->marked;
    if (now > g->last_gc_end) g->alloc_rate = (double)g->alloc_since_gc / sim_time_to_s(now - g->last_gc_end);
    g->last_gc_end = now;
    g->alloc_since_gc = 0;
    update_goal(g);
    g->sweep_debt = (double)swept / g->spec.sweep_rate;
    /* Go's gcPaceSweeper: the sweep is paced to finish 1 MiB before the
     * heap reaches the trigger, over at least one page (8 KiB) */
    double dist = g->trigger != INT64_MAX ? (double)g->trigger - (double)g->heap - (double)MiB : 0.0;
    if (dist < 8192.0) dist = 8192.0;
    g->sweep_per_byte = g->sweep_debt / dist;
    /* Go 1.19's background scavenger (bgscavenge, paced by gcPaceScavenger)
     * is not modelled: free pages stay resident. Its GOMEMLIMIT goal is
     * `memoryLimit * (100.0 - reduceExtraPercent)`, 95 times the limit
     * rather than 95% of it, so under a limit it never runs for it; its
     * other goal keeps retained memory under 1.1 x the heap in use scaled
     * by the goal's growth, at 1% of the CPU (scavengePercent), which a heap
     * cycling between its marked size and its goal does not exceed. Under a
     * limit, the allocation path's scavenging (alloc_cost) is what returns
     * pages. */
    if (g->cpu) stn_set_servers(g->cpu, g->cores);
    arm_forced(g);
}

static void forced_event(sim_t *sim, void *obj, uint64_t arg)
{
    (void)sim;
    (void)arg;
    gort_t *g = obj;
    g->forced_timer = (sim_timer_t){0, 0};
    if (g->dead || g->marking) return;
    start_cycle(g, true);
}

/* After RSS went up: the container's OOM killer, once per life. True if the
 * owner killed the process in the callback (the caller must stop). */
static bool check_oom(gort_t *g)
{
    if (g->oom_fired || g->spec.memory_limit == INT64_MAX) return false;
    if (gort_rss(g) <= g->spec.memory_limit) return false;
    g->oom_fired = true;
    uint64_t life = g->lives;
    if (g->on_oom) g->on_oom(g->sim, g->ctx);
    return g->dead || g->lives != life;
}

/* ---- the mutator's calls ---------------------------------------------------------- */

/* Bytes of mark work an allocation of `b` bytes must do. Go's assist ratio:
 * while marking, an allocating goroutine scans, per byte it allocates,
 * remaining scan work / heap left before the goal, so that the mark ends
 * when the heap reaches the goal; once the heap is past the goal, remaining
 * work / heap left before 1.1 x goal; at that hard goal the allocation
 * finishes the mark itself. The GC CPU limiter
 * comes first: while it is on (the bucket full) there is no assist, and an
 * assist stops where it would overfill the bucket (it adds 2 x its CPU:
 * GC time that is not mutator time), as Go's assists, checked every 64 KiB
 * of scan work, stop once the limiter turns on. The allocation then goes on
 * without assisting: the heap grows past the goal, and past GOMEMLIMIT. */
static double assist_bytes(const gort_t *g, int64_t b, double *dropped)
{
    *dropped = 0;
    if (g->dead || !g->marking || b <= 0) return 0.0;
    double remaining = g->mark_work - mark_done(g, sim_now(g->sim));
    if (remaining <= 0) return 0.0;
    /* Go's gcControllerState.revise: heapRemaining = goal - heapLive, or,
     * once the heap is past the goal, 1.1 x goal - heapLive */
    double runway = g->heap < g->goal ? (double)(g->goal - g->heap) : (double)g->goal * 1.1 - (double)g->heap;
    double x = runway > (double)b ? (double)b * remaining / runway : remaining;
    if (x > remaining) x = remaining;
    double cap = lim_headroom(g) / 2.0 * g->spec.mark_rate;   /* bytes the bucket still admits */
    if (x > cap) {
        *dropped = x - cap;
        x = cap;
    }
    return x;
}

double gort_assist_seconds(const gort_t *g, int64_t alloc_bytes)
{
    double dropped;
    return assist_bytes(g, alloc_bytes, &dropped) / g->spec.mark_rate;
}

/* The allocation path's other costs for `b` bytes now: its share of the
 * sweep, the page faults of the pages above the resident heap, and, when
 * that takes RSS above GOMEMLIMIT, the scavenging Go 1.19 does in
 * mheap.allocSpan (returning as many other free pages to the OS, unless the
 * GC CPU limiter is on). Those pages fault in again when reused: near the
 * limit every allocation pays both. */
typedef struct { double sweep_s, fault_s, release_s; int64_t resident; } alloc_cost_t;

static alloc_cost_t alloc_cost(const gort_t *g, int64_t b)
{
    const gort_spec_t *s = &g->spec;
    alloc_cost_t c = {0, 0, 0, g->resident};
    if (g->dead || b <= 0) return c;
    c.sweep_s = (double)b * g->sweep_per_byte;
    /* Go's gcStart: the goroutine whose allocation triggers a cycle first
     * finishes the last cycle's sweep ("for trigger.test() && sweepone() !=
     * ^uintptr(0)"), then starts the cycle */
    if (c.sweep_s > g->sweep_debt || triggers(g, b)) c.sweep_s = g->sweep_debt;
    int64_t heap = sat_add(g->heap, b);
    if (heap > c.resident) {
        c.fault_s = (double)(heap - c.resident) / s->fault_rate;
        c.resident = heap;
    }
    if (s->gomemlimit != INT64_MAX) {
        int64_t rss = sat_add(sat_add(c.resident, stacks(g)), s->runtime_overhead);
        if (rss > s->gomemlimit && lim_headroom(g) > 0) {
            int64_t x = rss - s->gomemlimit, free_ = c.resident - heap;
            if (x > free_) x = free_;
            if (x > 0) {
                c.release_s = (double)x / s->release_rate;
                c.resident -= x;
            }
        }
    }
    return c;
}

double gort_cpu_factor(const gort_t *g)
{
    double frac = g->mark_cpus - (double)g->workers;
    if (g->dead || !g->marking || frac <= 0) return 1.0;
    double rest = (double)(g->cores - g->workers);
    return rest / (rest - frac);
}

double gort_alloc_seconds(const gort_t *g, int64_t alloc_bytes)
{
    alloc_cost_t c = alloc_cost(g, alloc_bytes);
    return gort_assist_seconds(g, alloc_bytes) + c.sweep_s + c.fault_s + c.release_s;
}

/* GC time for the limiter's bucket (assists, scavenging on the allocation
 * path): it counts twice (GC time, and not mutator time); filling the
 * bucket turns the limiter on until its next update. */
static void lim_charge(gort_t *g, double a)
{
    lim_update(g);
    g->lim_fill += 2.0 * a;
    if (g->lim_fill >= g->lim_cap * (1 - 1e-12)) {
        g->lim_fill = g->lim_cap;
        g->lim_on_until = sim_now(g->sim) + LIM_PERIOD;
    }
}

/* Book an allocation; returns its costs in seconds: gort_alloc_seconds's
 * value before it (the same terms, summed in the same order). */
static double allocate(gort_t *g, int64_t bytes, bool reachable, bool noscan)
{
    assert(bytes >= 0 && "gort: negative allocation");
    if (g->dead || bytes <= 0) return 0.0;
    bool trig = triggers(g, bytes);
    double dropped;
    double ab = assist_bytes(g, bytes, &dropped);
    alloc_cost_t c = alloc_cost(g, bytes);
    double cost = ab / g->spec.mark_rate + c.sweep_s + c.fault_s + c.release_s;
    if (dropped > 0) g->assist_dropped_s += dropped / g->spec.mark_rate;
    if (ab > 0) {
        /* the assist's scanning brings the end of the mark closer */
        double a = ab / g->spec.mark_rate;
        add_gc_cpu(g, a);
        g->assist_cpu_s += a;
        g->assisted += ab;
        lim_charge(g, a);
        resched_mark(g);
    }
    g->sweep_debt -= c.sweep_s;
    g->sweep_cpu_s += c.sweep_s;
    g->fault_cpu_s += c.fault_s;
    if (c.release_s > 0) {
        g->release_cpu_s += c.release_s;
        lim_charge(g, c.release_s);   /* Go 1.19 counts it as assist time for the limiter */
    }
    g->resident = c.resident;
    heap_peak_roll(g);
    g->heap = sat_add(g->heap, bytes);
    if (g->heap > g->win_heap_max) g->win_heap_max = g->heap;
    if (reachable) g->live = sat_add(g->live, bytes);
    else if (g->marking) g->floating = sat_add(g->floating, bytes);
    if (reachable && noscan) g->live_noscan = sat_add(g->live_noscan, bytes);
    g->alloc_total = sat_add(g->alloc_total, bytes);
    g->alloc_since_gc = sat_add(g->alloc_since_gc, bytes);
    if (check_oom(g)) return cost;
    if (trig && c.sweep_s > 0) {
        /* the cycle starts once this goroutine has finished the sweep */
        g->start_pending = true;
        g->start_timer = sim_schedule_in(g->sim, sim_time_from_s(c.sweep_s), start_event, g, 0);
        return cost;
    }
    maybe_start(g);
    return cost;
}

/* Go's fractional mark worker (gcControllerState.findRunnableGCWorker,
 * pollFractionalWorkerExit) takes its share of a P whatever the goroutine
 * there does: the mutator's own CPU and its allocation's costs (assist,
 * sweep, pages) alike. The factor is the one before the allocation, which
 * may start a mark. */
double gort_work_charged(gort_t *g, double cpu_s, int64_t alloc_bytes)
{
    double f = gort_cpu_factor(g);
    return (cpu_s + allocate(g, alloc_bytes, false, false)) * f;
}

void gort_alloc(gort_t *g, int64_t bytes) { allocate(g, bytes, false, false); }
double gort_alloc_charged(gort_t *g, int64_t bytes) { return allocate(g, bytes, false, false); }
void gort_retain(gort_t *g, int64_t bytes) { allocate(g, bytes, true, false); }
void gort_retain_noscan(gort_t *g, int64_t bytes) { allocate(g, bytes, true, true); }

void gort_release_noscan(gort_t *g, int64_t bytes)
{
    assert(bytes >= 0 && "gort: negative release");
    if (g->dead) return;
    int64_t x = bytes < g->live_noscan ? bytes : g->live_noscan;
    g->live_noscan -= x;
    g->live -= bytes < g->live ? bytes : g->live;
}

void gort_release(gort_t *g, int64_t bytes)
{
    assert(bytes >= 0 && "gort: negative release");
    if (g->dead) return;
    g->live -= bytes < g->live ? bytes : g->live;
    if (g->live_noscan > g->live) g->live_noscan = g->live;
}

void gort_goroutines(gort_t *g, int64_t delta)
{
    if (g->dead || delta == 0) return;
    g->goroutines += delta;
    if (g->goroutines < 0) g->goroutines = 0;
    /* the GOMEMLIMIT goal leaves room for the stacks; without a limit the
     * goal and trigger do not depend on the goroutines (2 calls a request:
     * 4% of a RAG run's instructions when recomputed every time) */
    if (g->spec.gomemlimit != INT64_MAX) update_goal(g);
    if (delta > 0 && check_oom(g)) return;
    maybe_start(g);
}

/* ---- life --------------------------------------------------------------------------- */

void gort_kill(gort_t *g)
{
    if (g->dead) return;
    if (g->marking) {
        account_mark(g);
        lim_update(g);
        g->marking = false;
        g->lim_idle = lim_idle_now(g);
        if (g->cpu) stn_set_servers(g->cpu, g->cores);
    }
    cancel_timers(g);
    g->dead = true;
}

void gort_restart(gort_t *g)
{
    gort_kill(g);
    g->dead = false;
    g->lives++;
    g->live = g->heap = g->live_noscan = g->resident = 0;
    g->goroutines = 0;
    g->marked = g->marked_stacks = g->marked_noscan = 0;
    g->sweep_debt = g->sweep_per_byte = 0;
    g->alloc_since_gc = g->floating = 0;
    g->alloc_rate = 0;
    g->last_gc_end = sim_now(g->sim);
    g->oom_fired = false;
    g->lim_fill = 0;   /* a new process: an empty bucket */
    g->lim_last = g->lim_on_until = sim_now(g->sim);
    g->lim_idle = lim_idle_now(g);
    update_goal(g);
    arm_forced(g);   /* Go counts from the last GC; a fresh process counts from its start */
    check_oom(g);
}

/* ---- time series -------------------------------------------------------------------- */

enum { C_GOR, C_HEAP, C_LIVE, C_GOAL, C_ALLOC, C_RSS, C_CYCLES, C_CPU, NCOL };

static void sampler(sim_t *sim, void *ctx, sim_time_t dt)
{
    gort_t *g = ctx;
    double secs = sim_time_to_s(dt);
    bool up = !g->dead;   /* a dead container holds no memory and no goroutines */
    sim_series_set(sim, g->col[C_GOR], up ? (double)g->goroutines : 0.0);
    sim_series_set(sim, g->col[C_HEAP], up ? (double)g->heap : 0.0);
    sim_series_set(sim, g->col[C_LIVE], up ? (double)g->live : 0.0);
    sim_series_set(sim, g->col[C_GOAL], up && g->goal != INT64_MAX ? (double)g->goal : NAN);
    sim_series_set(sim, g->col[C_ALLOC], secs > 0 ? (double)(g->alloc_total - g->prev_alloc) / secs : NAN);
    g->prev_alloc = g->alloc_total;
    sim_series_set(sim, g->col[C_RSS], up ? (double)gort_rss(g) : 0.0);
    sim_series_set(sim, g->col[C_CYCLES], (double)g->gc_cycles);
    sim_series_set(sim, g->col[C_CPU],
                   secs > 0 ? gort_win_gc_cpu_seconds(g) / ((double)g->cores * secs) : NAN);
}

int gort_init(gort_t *g, sim_t *sim, const gort_spec_t *spec, station_t *cpu, const char *label,
              gort_oom_fn on_oom, void *ctx)
{
    assert(spec->mark_rate > 0 && "gort: mark_rate must be > 0");
    memset(g, 0, sizeof *g);
    g->sim = sim;
    g->spec = *spec;
    g->cpu = cpu;
    g->cores = cpu && cpu->servers > 0 ? cpu->servers : 1;
    /* Go's gcControllerState.startCycle: a background utilisation of 25% of
     * GOMAXPROCS, as dedicated workers rounded to the nearest whole number,
     * unless that is more than 30% off (GOMAXPROCS <= 3 and 6), where a
     * fractional worker makes up the rest. */
    double goal = 0.25 * (double)g->cores;
    g->workers = (int64_t)(goal + 0.5);
    double err = (double)g->workers / goal - 1;
    if ((err < -0.3 || err > 0.3) && (double)g->workers > goal) g->workers--;
    g->mark_cpus = err < -0.3 || err > 0.3 ? goal : (double)g->workers;
    g->lim_cap = (double)g->cores;   /* 1 s of GOMAXPROCS */
    g->on_oom = on_oom;
    g->ctx = ctx;
    g->win_start = g->win_heap_start = sim->last_sample;
    snprintf(g->label, sizeof g->label, "%s", label ? label : "");

    static const struct { const char *name, *unit, *help; } cols[NCOL] = {
        {"goroutines", "1", "goroutines of the Go process"},
        {"heap_inuse_bytes", "bytes", "Go heap in use: live + garbage not yet swept"},
        {"heap_live_bytes", "bytes", "reachable heap bytes"},
        {"heap_goal_bytes", "bytes", "GC heap goal: a cycle starts when the heap reaches it (NaN: none)"},
        {"heap_alloc_bytes_per_second", "bytes/s", "heap bytes allocated in the interval / interval"},
        {"rss_bytes", "bytes", "resident memory: heap + goroutine stacks + runtime overhead"},
        {"gc_cycles_total", "1", "GC cycles completed since the start of the run"},
        {"gc_cpu_ratio", "1", "GC CPU (mark workers and assists) in the interval / (GOMAXPROCS x interval)"},
    };
    for (int i = 0; i < NCOL; i++) {
        char name[224];
        if (g->label[0]) snprintf(name, sizeof name, "%s{%s}", cols[i].name, g->label);
        else snprintf(name, sizeof name, "%s", cols[i].name);
        if ((g->col[i] = sim_series_add(sim, name, cols[i].unit, cols[i].help)) < 0) return SIM_ENOMEM;
    }
    if (sim_add_sampler(sim, sampler, g)) return SIM_ENOMEM;
    if (cpu) stn_set_busy_hook(cpu, on_cpu_busy, g);
    g->dead = true;   /* so that the first life starts like every other */
    gort_restart(g);
    return sim_error(sim) ? SIM_ENOMEM : 0;
}

void gort_fini(gort_t *g)
{
    if (g->sim) cancel_timers(g);
    if (g->cpu) stn_set_busy_hook(g->cpu, NULL, NULL);
}
