/* The Go runtime model against hand-computed pacer arithmetic, GC schedules,
 * CPU borrowing, OOM, the GOMEMLIMIT death spiral and the GC CPU limiter. Every schedule below is
 * derived in its comment; event times are offset (x.5 ms) so that no
 * allocation ties with a mark end unless the comment says so. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "models/components/gateway/goruntime.h"
#include "sim/error.h"

#define MS SIM_MS
#define SEC SIM_SEC
#define MiB ((int64_t)1 << 20)
#define KiB ((int64_t)1 << 10)

typedef struct fix {
    sim_t *sim;
    stn_spec_t sspec;
    station_t cpu;
    gort_spec_t spec;
    gort_t g;
    int ooms;
    bool kill_on_oom;
    sim_time_t job_done[16];
    int njobs;
    stn_job_t hog[16];        /* fix_busy's endless jobs */
} fix_t;

static void on_job_exit(sim_t *sim, void *owner, stn_job_t *job, stn_outcome_t oc)
{
    (void)job;
    fix_t *f = owner;
    if (oc == STN_DONE && f->njobs < 16) f->job_done[f->njobs++] = sim_now(sim);
}

static void on_oom(sim_t *sim, void *ctx)
{
    (void)sim;
    fix_t *f = ctx;
    f->ooms++;
    if (f->kill_on_oom) gort_kill(&f->g);
}

/* A run with `cores` CPU servers sampled every second; the spec starts at
 * the defaults; the test adjusts it, then calls fix_start. */
static void fix_setup(fix_t *f, int64_t cores)
{
    memset(f, 0, sizeof *f);
    sim_config_t cfg = {.master_seed = 1, .sample_interval = SEC};
    f->sim = sim_create(&cfg);
    cr_assert_not_null(f->sim);
    f->sspec.name = "cpu";
    f->sspec.servers = cores;
    f->sspec.queue_limit = INT64_MAX;
    cr_assert_eq(sim_dist_deterministic(&f->sspec.service, 0.0), 0);
    cr_assert_eq(stn_init(&f->cpu, f->sim, &f->sspec, on_job_exit, f), 0);
    gort_spec_default(&f->spec);
    /* The pacer's closed forms below hold without the calibrated costs of a
     * cycle and of the allocation path (tested on their own further down). */
    f->spec.noscan_mark_rate = f->spec.mark_rate;
    f->spec.cycle_cpu = 0;
    f->spec.sweep_rate = f->spec.fault_rate = f->spec.release_rate = INFINITY;
}

static void fix_start(fix_t *f)
{
    cr_assert_eq(gort_init(&f->g, f->sim, &f->spec, &f->cpu, "component=gateway,replica=0", on_oom, f), 0);
}

/* Every core runs the program (an endless job on each server, started
 * before the runtime): no P is ever idle, so no idle mark worker runs and
 * a mark goes at the workers' 25% of GOMAXPROCS, as in the closed forms of
 * the tests that call this. */
static void fix_busy(fix_t *f)
{
    cr_assert_leq(f->sspec.servers, 16);
    for (int64_t i = 0; i < f->sspec.servers; i++) {
        f->hog[i].demand = 100000 * SIM_SEC;
        cr_assert(stn_submit(&f->cpu, &f->hog[i]));
    }
    cr_assert_eq(f->cpu.busy, f->sspec.servers);
}

static void fix_fini(fix_t *f)
{
    gort_fini(&f->g);
    stn_fini(&f->cpu);
    sim_destroy(f->sim);
    stn_spec_fini(&f->sspec);
}

static const double *series(fix_t *f, const char *metric)
{
    char name[160];
    snprintf(name, sizeof name, "%s{component=gateway,replica=0}", metric);
    for (size_t i = 0; i < sim_series_count(f->sim); i++)
        if (strcmp(sim_series_name(f->sim, i), name) == 0) return sim_series_data(f->sim, i);
    cr_assert_fail("no series %s", name);
    return NULL;
}

/* ---- scheduled actions ---------------------------------------------------- */

typedef enum { A_ALLOC, A_RETAIN, A_RELEASE, A_GOROUTINES, A_KILL, A_RESTART } act_kind_t;
typedef struct {
    fix_t *f;
    act_kind_t kind;
    int64_t n;
} act_t;

static void act_event(sim_t *sim, void *obj, uint64_t arg)
{
    (void)sim;
    (void)arg;
    act_t *a = obj;
    gort_t *g = &a->f->g;
    switch (a->kind) {
    case A_ALLOC: gort_alloc(g, a->n); break;
    case A_RETAIN: gort_retain(g, a->n); break;
    case A_RELEASE: gort_release(g, a->n); break;
    case A_GOROUTINES: gort_goroutines(g, a->n); break;
    case A_KILL: gort_kill(g); break;
    case A_RESTART: gort_restart(g); break;
    }
}

static void at(fix_t *f, sim_time_t t, act_t *a) { sim_schedule_at(f->sim, t, act_event, a, 0); }

/* A steady allocator: `bytes` every `period`, first at `first`. */
typedef struct {
    gort_t *g;
    int64_t bytes;
    sim_time_t period;
} drv_t;

static void drv_event(sim_t *sim, void *obj, uint64_t arg)
{
    (void)arg;
    drv_t *d = obj;
    gort_alloc(d->g, d->bytes);
    sim_schedule_in(sim, d->period, drv_event, d, 0);
}

/* A probe: the runtime's and the CPU's state at a time. */
typedef struct {
    fix_t *f;
    int64_t servers, heap, live, goal;
    bool marking, limiting;
    uint64_t cycles;
    double assist;        /* gort_assist_seconds(g, 1 MB) */
} probe_t;

static void probe_event(sim_t *sim, void *obj, uint64_t arg)
{
    (void)sim;
    (void)arg;
    probe_t *p = obj;
    gort_t *g = &p->f->g;
    p->servers = p->f->cpu.servers;
    p->heap = g->heap;
    p->live = g->live;
    p->goal = g->goal;
    p->marking = g->marking;
    p->cycles = g->gc_cycles;
    p->limiting = gort_limiting(g);
    p->assist = gort_assist_seconds(g, 1000000);
}

static void probe_at(fix_t *f, sim_time_t t, probe_t *p)
{
    p->f = f;
    sim_schedule_at(f->sim, t, probe_event, p, 0);
}

static void run(fix_t *f, sim_time_t until) { cr_assert_eq(sim_run(f->sim, until), SIM_RUN_TIME); }

/* ---- pacer arithmetic ------------------------------------------------------ */

/* Goroutines and `live` retained at t=0, forced GC every 5 s, run 10 s:
 * the goal after the last mark; the cycles completed in last_cycles. */
static uint64_t last_cycles;

static int64_t goal_after(int64_t gogc, int64_t gomemlimit, int64_t goroutines, int64_t live)
{
    fix_t f;
    fix_setup(&f, 4);
    f.spec.gogc = gogc;
    f.spec.gomemlimit = gomemlimit;
    f.spec.forced_gc = 5 * SEC;   /* so that a tiny heap is collected too */
    fix_start(&f);
    act_t g = {&f, A_GOROUTINES, goroutines}, r = {&f, A_RETAIN, live};
    at(&f, 0, &g);
    at(&f, 0, &r);
    run(&f, 10 * SEC);
    cr_assert(!f.g.marking);
    last_cycles = f.g.gc_cycles;
    int64_t goal = f.g.goal;
    fix_fini(&f);
    return goal;
}

Test(goruntime, goal_is_live_times_one_plus_gogc)
{
    cr_expect_eq(goal_after(100, INT64_MAX, 0, 100 * MiB), 200 * MiB);
    cr_expect_eq(last_cycles, 2);   /* at 0 (heap >= 4 MiB) and forced at 5 s + mark */
    cr_expect_eq(goal_after(50, INT64_MAX, 0, 100 * MiB), 150 * MiB);
    cr_expect_eq(goal_after(300, INT64_MAX, 0, 100 * MiB), 400 * MiB);
}

Test(goruntime, goal_counts_goroutine_stacks_as_go_1_18)
{
    /* 1000 goroutines x 2 KiB: goal = live + (live + stacks) x GOGC/100 */
    cr_expect_eq(goal_after(100, INT64_MAX, 1000, 100 * MiB), 200 * MiB + 2000 * KiB);
    cr_expect_eq(goal_after(50, INT64_MAX, 1000, 100 * MiB), 150 * MiB + 1000 * KiB);
}

Test(goruntime, tiny_heap_goal_is_min_heap_scaled_by_gogc)
{
    cr_expect_eq(goal_after(100, INT64_MAX, 0, 1 * MiB), 4 * MiB);
    cr_expect_eq(last_cycles, 1);   /* under the goal: only the forced cycle at 5 s */
    cr_expect_eq(goal_after(200, INT64_MAX, 0, 1 * MiB), 8 * MiB);   /* heapMinimum x GOGC/100 */
    cr_expect_eq(goal_after(50, INT64_MAX, 0, 1 * MiB), 2 * MiB);
}

Test(goruntime, gomemlimit_caps_goal_after_stacks_and_overhead)
{
    /* limit 180 MiB - (32 MiB overhead + 1000 x 2 KiB) - 1 MiB of headroom
     * (Go 1.19's memoryLimitHeapGoalHeadroom) = 147 MiB - 2000 KiB < 200 MiB + 2000 KiB */
    cr_expect_eq(goal_after(100, 180 * MiB, 1000, 100 * MiB), 147 * MiB - 2000 * KiB);
    /* GOGC off: the limit alone sets the goal; 100 MiB is under it and
     * GOGC off also stops the forced GC: no cycle at all */
    cr_expect_eq(goal_after(-1, 180 * MiB, 0, 100 * MiB), 147 * MiB);
    cr_expect_eq(last_cycles, 0);
    /* the limit below the live heap: goal = live, never below; without
     * allocation no cycle follows (only the forced one) */
    cr_expect_eq(goal_after(100, 120 * MiB, 0, 100 * MiB), 100 * MiB);
    cr_expect_eq(last_cycles, 2);
    /* a generous limit changes nothing */
    cr_expect_eq(goal_after(100, 1024 * MiB, 0, 100 * MiB), 200 * MiB);
    /* a limit that leaves under 2 MiB after the non-heap memory: Go keeps a
     * 1 MiB goal, and the goal is never below the marked heap (none here) */
    cr_expect_eq(goal_after(-1, 33 * MiB + 512 * KiB, 0, 0), 1 * MiB);
}

Test(goruntime, goal_follows_goroutines_under_gomemlimit)
{
    fix_t f;
    fix_setup(&f, 4);
    f.spec.gomemlimit = 180 * MiB;
    fix_start(&f);
    act_t r = {&f, A_RETAIN, 100 * MiB}, up = {&f, A_GOROUTINES, 4096}, down = {&f, A_GOROUTINES, -4096};
    probe_t p0, p1, p2;
    at(&f, 0, &r);
    probe_at(&f, 1 * SEC, &p0);
    at(&f, 2 * SEC, &up);
    probe_at(&f, 3 * SEC, &p1);
    at(&f, 4 * SEC, &down);
    probe_at(&f, 5 * SEC, &p2);
    run(&f, 6 * SEC);
    cr_expect_eq(p0.goal, 147 * MiB);   /* 180 - 32 - the 1 MiB of headroom */
    cr_expect_eq(p1.goal, 139 * MiB);   /* 4096 stacks of 2 KiB = 8 MiB less room */
    cr_expect_eq(p2.goal, 147 * MiB);
    cr_expect_eq(f.g.gc_cycles, 1);
    fix_fini(&f);
}

/* ---- GC frequency --------------------------------------------------------- */

/* Live L retained at t=0, A = 50 MB/s allocated as 50 kB every ms (at x.5 ms)
 * on 4 cores (1 mark worker); returns cycles completed in 10 min. */
static uint64_t cycles_in_10_min(int64_t live, double mark_rate, double *alloc_rate_sample)
{
    fix_t f;
    fix_setup(&f, 4);
    fix_busy(&f);   /* no idle P: the workers' 25% */
    f.spec.mark_rate = mark_rate;
    fix_start(&f);
    act_t r = {&f, A_RETAIN, live};
    drv_t d = {&f.g, 50000, MS};
    at(&f, 0, &r);
    sim_schedule_at(f.sim, MS / 2, drv_event, &d, 0);
    run(&f, 600 * SEC);
    uint64_t n = f.g.gc_cycles;
    cr_expect_eq(f.g.forced_cycles, 0);
    *alloc_rate_sample = series(&f, "heap_alloc_bytes_per_second")[5];   /* window (5 s, 6 s] */
    fix_fini(&f);
    return n;
}

Test(goruntime, gc_frequency_short_mark)
{
    /* L = 100 MB, goal 2L, A = 50 MB/s; mark 1e8 / 4e11 = 0.25 ms. The pacer
     * starts a cycle at goal - A x mark, kept within [70%, 95%] of the
     * runway L: with so short a mark, at 95%, every 0.95 L / A = 1.9 s.
     * Cycle 1 at 0 (the retain); its rate estimate includes the retain, so
     * cycle 2 starts at the 70% bound, 1400 allocations later (1399.5 ms);
     * from then on every 1900 allocations: start_k = 1399.5 + 1900 (k-2) ms,
     * ending 0.25 ms later; the last to end by 600 s is k = 317. */
    double rate;
    uint64_t n = cycles_in_10_min(100000000, 4e11, &rate);
    cr_expect_eq(n, 317);
    double formula = 1 + 600.0 / (0.95 * 1e8 / 5e7);
    cr_expect(fabs((double)n - formula) <= 1.0, "%llu cycles vs %.2f", (unsigned long long)n, formula);
    cr_expect_float_eq(rate, 5e7, 1e-6);
}

Test(goruntime, gc_frequency_long_mark)
{
    /* L = 100.05 MB, mark rate 200 MB/s, 1 worker, A = 50 MB/s of garbage:
     * the pacer expects a 500.25 ms mark, so the trigger is goal - A x mark
     * = 2L - 25.0125 MB: the mark starts D0 = 25.0125 MB before the goal.
     * Assists pay remaining / (goal - heap) per byte from the start of the
     * mark, so with D = goal - heap, dR/dD = (200 + 50 R / D) / 50: R / D =
     * 4 ln D + c, and the mark ends (R = 0) at D = D0 exp(-L / (4 D0)) =
     * D0 / e: it lasts (D0 - D0/e) / A = 316.2 ms. The marked heap is L plus the 15.8 MB
     * allocated during the mark (allocated black, it floats): goal 2 (L + F),
     * a cycle every (L + F - D0) / A + 316.2 ms = 2.1333 s: 281 in 600 s,
     * plus the first (shorter) ones; the allocations are discrete (50 kB
     * every ms). */
    double rate;
    uint64_t n = cycles_in_10_min(100050000, 2e8, &rate);
    double L = 1.0005e8, A = 5e7, d0 = 25.0125e6;
    /* the garbage allocated during the mark, A x its length, floats: the
     * marked heap is L + F, the runway L + F - D0 */
    double t_mark = (d0 - d0 * exp(-L / (4 * d0))) / A, F = A * t_mark;
    double period = (L + F - d0) / A + t_mark;
    cr_expect(fabs((double)n - 600.0 / period) <= 2.0, "%llu cycles vs %.2f", (unsigned long long)n, 600.0 / period);
}

/* ---- mark phase: duration, borrowed CPU, GC CPU ratio ------------------------ */

typedef struct {
    fix_t *f;
    double win[8];
    int n;
} early_t;

/* Registered before gort_init: reads the window's GC CPU before the runtime's own sampler. */
static void early_sampler(sim_t *sim, void *ctx, sim_time_t dt)
{
    (void)sim;
    (void)dt;
    early_t *e = ctx;
    if (e->n < 8) e->win[e->n++] = gort_win_gc_cpu_seconds(&e->f->g);
}

Test(goruntime, mark_borrows_workers_and_gc_cpu_ratio_is_exact)
{
    /* 8 cores: 2 dedicated workers. Retain 200 MB at 0.25 s: work 200 MB /
     * 200 MB/s = 1 CPU-s over 2 workers: mark [0.25, 0.75] s, servers 6.
     * Retain 200 MB more at 1.75 s (heap 400 MB = goal): work 2 CPU-s, mark
     * [1.75, 2.75]. GC CPU per 1 s window / 8 cores: (0,1] 2 x 0.5 / 8 =
     * 0.125; (1,2] 2 x 0.25 / 8 = 0.0625; (2,3] 2 x 0.75 / 8 = 0.1875. */
    fix_t f;
    fix_setup(&f, 8);
    fix_busy(&f);   /* no idle P: the workers' 25% */
    f.spec.mark_rate = 2e8;
    early_t e = {.f = &f};
    cr_assert_eq(sim_add_sampler(f.sim, early_sampler, &e), 0);
    fix_start(&f);
    cr_expect_eq(f.g.workers, 2);
    cr_expect_eq(f.g.cores, 8);
    act_t r1 = {&f, A_RETAIN, 200000000}, r2 = {&f, A_RETAIN, 200000000};
    at(&f, 250 * MS, &r1);
    at(&f, 1750 * MS, &r2);
    probe_t before, in1, after1, in2, after2;
    probe_at(&f, 250 * MS - 1, &before);
    probe_at(&f, 500 * MS, &in1);
    probe_at(&f, 750 * MS + 1, &after1);
    probe_at(&f, 2500 * MS, &in2);
    probe_at(&f, 2750 * MS + 1, &after2);
    run(&f, 4 * SEC);

    cr_expect_eq(before.servers, 8);
    cr_expect(in1.marking);
    cr_expect_eq(in1.servers, 6);
    cr_expect(!after1.marking);
    cr_expect_eq(after1.servers, 8);
    cr_expect_eq(after1.cycles, 1);
    cr_expect_eq(after1.goal, 400000000);
    cr_expect_eq(in2.servers, 6);
    cr_expect_eq(after2.servers, 8);
    cr_expect_eq(after2.cycles, 2);
    cr_expect_float_eq(gort_gc_cpu_seconds(&f.g), 3.0, 1e-12);

    const double *ratio = series(&f, "gc_cpu_ratio");
    const double want[4] = {0.125, 0.0625, 0.1875, 0.0};
    for (int i = 0; i < 4; i++) {
        cr_expect_float_eq(ratio[i], want[i], 1e-12, "window %d: %g", i, ratio[i]);
        cr_expect_float_eq(e.win[i], want[i] * 8, 1e-12, "early sampler window %d: %g", i, e.win[i]);
    }
    cr_expect_eq(series(&f, "gc_cycles_total")[2], 2.0);
    cr_expect_eq(series(&f, "heap_live_bytes")[3], 4e8);
    cr_expect_eq(series(&f, "heap_goal_bytes")[3], 8e8);
    fix_fini(&f);
}

static stn_job_t jobs[7];

static void submit_jobs(sim_t *sim, void *obj, uint64_t arg)
{
    (void)sim;
    (void)arg;
    fix_t *f = obj;
    for (int i = 0; i < 7; i++) {
        jobs[i].demand = SEC;
        cr_assert(stn_submit(&f->cpu, &jobs[i]));
    }
}

Test(goruntime, requests_wait_for_the_borrowed_cores)
{
    /* 8 cores, 2 dedicated workers, a mark of 1 CPU-s from 0.25 s: 6 cores
     * left, all idle, so 6 idle mark workers: 8 CPUs mark 0.4 CPU-s by 0.3 s.
     * Then 7 one-second jobs arrive: six take the six cores (the idle
     * workers give them up), the seventh waits; the 0.6 CPU-s left take the
     * 2 dedicated workers 0.3 s: the mark ends at 0.6 s, the workers return
     * and the seventh job runs [0.6, 1.6] s instead of finishing at 1.3 s.
     * GC CPU (the dedicated workers) 2 x 0.35 = 0.7 CPU-s, idle workers 6 x
     * 0.05 = 0.3. */
    fix_t f;
    fix_setup(&f, 8);
    f.spec.mark_rate = 2e8;
    fix_start(&f);
    act_t r1 = {&f, A_RETAIN, 200000000};
    at(&f, 250 * MS, &r1);
    sim_schedule_at(f.sim, 300 * MS, submit_jobs, &f, 0);
    run(&f, 3 * SEC);
    cr_assert_eq(f.njobs, 7);
    for (int i = 0; i < 6; i++) cr_expect_eq(f.job_done[i], 1300 * MS);
    cr_expect_eq(f.job_done[6], 1600 * MS);
    cr_expect_float_eq(gort_gc_cpu_seconds(&f.g), 0.7, 1e-9);
    cr_expect_float_eq(gort_idle_mark_cpu_seconds(&f.g), 0.3, 1e-9);
    fix_fini(&f);
}

Test(goruntime, workers_are_a_quarter_of_gomaxprocs)
{
    /* Go's gcControllerState.startCycle: 25% of GOMAXPROCS as dedicated
     * workers, round(cores / 4), unless that is more than 30% off the goal
     * (GOMAXPROCS <= 3 and 6): then one fewer when rounding went up, and a
     * fractional worker for the rest. The mark runs at 0.25 x cores CPUs
     * except at 5 (1 dedicated: 20% under, within 30%). */
    const int64_t cores[] = {1, 2, 3, 4, 5, 6, 7, 8, 16, 64};
    const int64_t want[] = {0, 0, 0, 1, 1, 1, 2, 2, 4, 16};
    const double cpus[] = {0.25, 0.5, 0.75, 1, 1, 1.5, 2, 2, 4, 16};
    for (int i = 0; i < 10; i++) {
        fix_t f;
        fix_setup(&f, cores[i]);
        fix_start(&f);
        cr_expect_eq(f.g.workers, want[i], "%lld cores", (long long)cores[i]);
        cr_expect_float_eq(f.g.mark_cpus, cpus[i], 1e-12, "%lld cores", (long long)cores[i]);
        fix_fini(&f);
    }
}

Test(goruntime, a_fractional_worker_slows_the_requests_while_it_marks)
{
    /* 2 cores: no dedicated worker, a fractional one at 0.5 CPU shares the
     * two cores with the requests while marking: work that starts then
     * takes 2 / (2 - 0.5) = 4/3 of its CPU time; none outside marks, and
     * none at 4 cores (one dedicated worker takes a whole core). A mark of
     * 100 MB at 100 MB/s of mark rate takes 1 CPU-s: 2 s at 0.5 CPU. */
    int64_t cores[] = {2, 4, 6};
    double want[] = {4.0 / 3.0, 1.0, 5.0 / 4.5};
    for (int i = 0; i < 3; i++) {
        fix_t f;
        fix_setup(&f, cores[i]);
        fix_busy(&f);   /* no idle P: the workers' 25% */
        f.spec.mark_rate = 1e8;
        fix_start(&f);
        act_t r = {&f, A_RETAIN, 100000000};
        probe_t idle;
        probe_at(&f, 0, &idle);
        at(&f, 1, &r);
        run(&f, 500 * MS);
        cr_expect(f.g.marking, "%lld cores", (long long)cores[i]);
        cr_expect_float_eq(gort_cpu_factor(&f.g), want[i], 1e-12, "%lld cores", (long long)cores[i]);
        double mark_s = 1.0 / f.g.mark_cpus;
        run(&f, sim_time_from_s(mark_s) + 10 * MS);
        cr_expect(!f.g.marking, "%lld cores: the mark lasts %.3f s", (long long)cores[i], mark_s);
        cr_expect_eq(gort_cpu_factor(&f.g), 1.0);
        cr_expect_float_eq(gort_gc_cpu_seconds(&f.g), 1.0, 1e-6, "%lld cores", (long long)cores[i]);
        fix_fini(&f);
    }
}

Test(goruntime, a_fractional_worker_slows_the_allocation_costs_too)
{
    /* Go's fractional worker takes its share of a P whatever runs there:
     * an assist is slowed like the request's own CPU. 2 cores, mark rate
     * 100 MB/s, forced GC every 10 s. Retain 100 MB at 0: cycle [0, 2] s
     * (1 CPU-s at 0.5 CPU), goal 200 MB. At 5 s, outside a mark, a request
     * of 10 ms CPU allocating 1 MB takes 10 ms. Forced cycle from 12 s; at
     * 12.5 s the fractional worker has marked 0.5 x 0.5 s x 100 MB/s = 25
     * MB, 75 MB remain, the heap (101 MB) is 99 MB below the goal: 1 MB
     * allocated assists 75 / 99 MB, 7.576 ms. The same request takes (10 +
     * 7.576) ms x 4/3 = 23.43 ms (with only its own CPU slowed: 20.91 ms). */
    fix_t f;
    fix_setup(&f, 2);
    fix_busy(&f);   /* no idle P: the workers' 25% */
    f.spec.mark_rate = 1e8;
    f.spec.forced_gc = 10 * SEC;
    fix_start(&f);
    act_t r = {&f, A_RETAIN, 100000000};
    at(&f, 0, &r);
    run(&f, 5 * SEC);
    cr_assert(!f.g.marking);
    cr_expect_eq(f.g.gc_cycles, 1);
    cr_expect_eq(f.g.goal, 200000000);
    double s5 = gort_work_charged(&f.g, 0.010, 1000000);
    cr_expect_float_eq(s5, 0.010, 1e-15, "%.9f s", s5);
    cr_expect_eq(f.g.heap, 101000000);
    run(&f, 12500 * MS);
    cr_assert(f.g.marking);
    cr_expect_eq(f.g.forced_cycles, 1);
    cr_expect_float_eq(gort_cpu_factor(&f.g), 4.0 / 3.0, 1e-12);
    const double assist = 0.75 / 99;
    double a = gort_alloc_seconds(&f.g, 1000000);
    cr_expect_float_eq(a, assist, 1e-12, "%.9f s", a);
    double s = gort_work_charged(&f.g, 0.010, 1000000);
    cr_expect_float_eq(s, (0.010 + assist) * 4.0 / 3.0, 1e-12, "%.9f s", s);
    cr_expect_float_eq(f.g.assist_cpu_s, assist, 1e-12);
    cr_expect_eq(f.g.heap, 102000000);
    fix_fini(&f);
}

/* ---- idle mark workers ----------------------------------------------------- */

/* Retain 100 MB at 0 with a mark rate of 100 MB/s: a mark of 1 CPU-s. */
typedef struct {
    sim_time_t end;               /* when the mark ended */
    double gc_s, idle_s;          /* GC CPU (GCCPUFraction's) and idle mark CPU */
} idle_run_t;

/* Run a 1 CPU-s mark on `cores` with `busy` one-minute jobs started at 0
 * (before the retain); the mark is forced (forced_gc 10 s, 1 MiB retained
 * at a 1 MiB/s mark rate) if `forced`. Returns when it ended after its
 * start, to the 1 us (the run advances in 1 us steps while marking). */
static idle_run_t idle_mark_run(int64_t cores, int busy, bool forced)
{
    fix_t f;
    fix_setup(&f, cores);
    f.spec.mark_rate = forced ? (double)MiB : 1e8;
    f.spec.forced_gc = 10 * SEC;
    for (int i = 0; i < busy; i++) {
        f.hog[i].demand = 60 * SEC;
        cr_assert(stn_submit(&f.cpu, &f.hog[i]));
    }
    fix_start(&f);
    act_t r = {&f, A_RETAIN, forced ? MiB : 100000000};
    at(&f, 0, &r);
    sim_time_t t0 = forced ? 10 * SEC : 0;
    run(&f, t0 + 1);
    cr_assert(f.g.marking, "%lld cores: marking at %lld ns", (long long)cores, (long long)t0 + 1);
    cr_assert_eq(f.g.forced_cycles, forced ? 1u : 0u);
    sim_time_t t = t0;
    while (f.g.marking && t < t0 + 5 * SEC) run(&f, t += SIM_US);
    idle_run_t out = {t - t0, gort_gc_cpu_seconds(&f.g), gort_idle_mark_cpu_seconds(&f.g)};
    cr_expect_eq(f.g.gc_cycles, 1);
    fix_fini(&f);
    return out;
}

Test(goruntime, idle_mark_workers_take_the_idle_cores)
{
    /* Go 1.19's findRunnable: a P with nothing to run during a mark runs an
     * idle mark worker, up to GOMAXPROCS - the dedicated workers. 4 cores,
     * 1 dedicated worker, nothing else running: 3 idle workers, the mark's
     * 1 CPU-s done at 4 CPUs in 0.25 s (not 1 s); the dedicated worker's
     * 0.25 CPU-s are GC CPU (GCCPUFraction), the idle workers' 0.75 not. */
    idle_run_t a = idle_mark_run(4, 0, false);
    cr_expect_eq(a.end, 250 * MS, "ended at %lld ns", (long long)a.end);
    cr_expect_float_eq(a.gc_s, 0.25, 1e-9);
    cr_expect_float_eq(a.idle_s, 0.75, 1e-9);
    /* two cores run requests: 1 idle worker, 2 CPUs, 0.5 s */
    idle_run_t b = idle_mark_run(4, 2, false);
    cr_expect_eq(b.end, 500 * MS, "ended at %lld ns", (long long)b.end);
    cr_expect_float_eq(b.gc_s, 0.5, 1e-9);
    cr_expect_float_eq(b.idle_s, 0.5, 1e-9);
    /* every core runs requests: the dedicated worker alone, 1 s */
    idle_run_t c = idle_mark_run(4, 4, false);
    cr_expect_eq(c.end, 1 * SEC, "ended at %lld ns", (long long)c.end);
    cr_expect_float_eq(c.idle_s, 0.0, 1e-12);
}

Test(goruntime, an_idle_p_runs_its_fractional_share_first)
{
    /* 2 cores: no dedicated worker, a fractional goal of 0.25 per P
     * (0.5 CPU). findRunnableGCWorker runs the fractional worker first on
     * a P behind its share, so an idle P adds 0.75 as idle worker. One
     * request on one core: 0.5 + 0.75 = 1.25 CPUs, the 1 CPU-s mark in
     * 0.8 s; GC CPU 0.5 x 0.8 = 0.4, idle 0.75 x 0.8 = 0.6. Both cores
     * idle: 0.5 + 1.5 = 2 CPUs, 0.5 s. Both busy: 0.5 CPU, 2 s. */
    idle_run_t a = idle_mark_run(2, 1, false);
    cr_expect_eq(a.end, 800 * MS, "ended at %lld ns", (long long)a.end);
    cr_expect_float_eq(a.gc_s, 0.4, 1e-9);
    cr_expect_float_eq(a.idle_s, 0.6, 1e-9);
    idle_run_t b = idle_mark_run(2, 0, false);
    cr_expect_eq(b.end, 500 * MS, "ended at %lld ns", (long long)b.end);
    idle_run_t c = idle_mark_run(2, 2, false);
    cr_expect_eq(c.end, 2 * SEC, "ended at %lld ns", (long long)c.end);
}

Test(goruntime, a_forced_cycle_has_at_most_one_idle_worker_and_none_beside_a_dedicated_one)
{
    /* gcControllerState.startCycle for a periodic (sysmon) cycle:
     * maxIdleMarkWorkers 0 with a dedicated worker, 1 without. 4 idle
     * cores: the dedicated worker alone, 1 s. 2 idle cores: one idle
     * worker (0.75 beside its fractional share) and the fractional 0.5:
     * 1.25 CPUs, 0.8 s. */
    idle_run_t a = idle_mark_run(4, 0, true);
    cr_expect_eq(a.end, 1 * SEC, "ended at %lld ns", (long long)a.end);
    cr_expect_float_eq(a.idle_s, 0.0, 1e-12);
    idle_run_t b = idle_mark_run(2, 0, true);
    cr_expect_eq(b.end, 800 * MS, "ended at %lld ns", (long long)b.end);
    cr_expect_float_eq(b.idle_s, 0.6, 1e-9);
}

/* ---- sweep ------------------------------------------------------------------- */

Test(goruntime, a_cycle_waits_for_its_allocating_goroutine_to_finish_the_sweep)
{
    /* 4 busy cores (1 worker, no idle worker), mark and sweep at 1 GB/s.
     * Retain 100 MB at 0: cycle 1 [0, 0.1] s. At its end the 100 MB heap
     * leaves 0.1 s of sweeping; goal 200 MB; the allocation rate 1 GB/s
     * and the 0.1 s mark put the trigger at the 70% bound, 170 MB. Go's
     * gcPaceSweeper spreads the sweep over the distance to the trigger
     * less 1 MiB: 0.1 s / 68,951,424 B per byte, so 1 MB pays 1.4503 ms.
     * An allocation of 80 MB at 1 s reaches the trigger: as in Go's
     * gcStart, its goroutine first finishes the sweep (the whole 0.1 s is
     * its cost), and the cycle starts then, at 1.1 s; its mark (100 MB of
     * live heap: 0.1 s) ends at 1.2 s. */
    fix_t f;
    fix_setup(&f, 4);
    fix_busy(&f);
    f.spec.mark_rate = 1e9;
    f.spec.sweep_rate = 1e9;
    fix_start(&f);
    act_t r = {&f, A_RETAIN, 100000000};
    at(&f, 0, &r);
    run(&f, 500 * MS);
    cr_assert_eq(f.g.gc_cycles, 1);
    cr_expect_eq(f.g.trigger, 170000000);
    cr_expect_float_eq(gort_alloc_seconds(&f.g, 1000000), 0.1 * 1e6 / 68951424.0, 1e-12);
    run(&f, 1 * SEC);
    double cost = gort_alloc_charged(&f.g, 80000000);
    cr_expect_float_eq(cost, 0.1, 1e-12, "the triggering allocation finishes the sweep: %g s", cost);
    cr_expect(!f.g.marking, "the cycle waits for the sweep");
    probe_t wait, mark;
    probe_at(&f, 1099 * MS, &wait);
    probe_at(&f, 1101 * MS, &mark);
    run(&f, 1150 * MS);
    cr_expect(!wait.marking);
    cr_expect(mark.marking);
    run(&f, 1200 * MS - 1);
    cr_expect(f.g.marking);
    run(&f, 1200 * MS + 1);
    cr_expect(!f.g.marking);
    cr_expect_eq(f.g.gc_cycles, 2);
    cr_expect_float_eq(f.g.sweep_cpu_s, 0.1, 1e-12);
    fix_fini(&f);
}

/* ---- the heap's peak between samples ---------------------------------------- */

typedef struct {
    fix_t *f;
    int64_t peak[4], heap[4];
    int n;
} peak_sampler_t;

static void peak_sampler(sim_t *sim, void *ctx, sim_time_t dt)
{
    (void)sim;
    (void)dt;
    peak_sampler_t *p = ctx;
    if (p->n < 4) {
        p->peak[p->n] = gort_win_heap_peak(&p->f->g);
        p->heap[p->n++] = p->f->g.heap;
    }
}

Test(goruntime, the_heap_peak_of_a_window_sees_a_burst_collected_before_the_sample)
{
    /* Samples every 1 s. Retain 100 MB at 0.25 s (a cycle: goal 200 MB).
     * At 0.5 s 300 MB of garbage: heap 400 MB, past the trigger: a cycle
     * whose mark (100 MB on the busy cores' one worker at 512 MiB/s: 0.19 s)
     * ends before the 1 s sample with the heap back at 100 MB (the 300 MB
     * were allocated before the mark: nothing floats). The sample sees a
     * 100 MB heap, the window's peak 400 MB; the next window's peak is the
     * heap it started with, 100 MB. Killed at 2.5 s: 0. */
    fix_t f;
    fix_setup(&f, 4);
    fix_busy(&f);
    peak_sampler_t p = {.f = &f};
    cr_assert_eq(sim_add_sampler(f.sim, peak_sampler, &p), 0);
    fix_start(&f);
    act_t r = {&f, A_RETAIN, 100000000}, a = {&f, A_ALLOC, 300000000}, k = {&f, A_KILL, 0};
    at(&f, 250 * MS, &r);
    at(&f, 500 * MS, &a);
    at(&f, 2500 * MS, &k);
    run(&f, 3 * SEC + 1);
    cr_assert_eq(p.n, 3);
    cr_expect_eq(f.g.gc_cycles, 2);
    cr_expect_eq(p.heap[0], 100000000);
    cr_expect_eq(p.peak[0], 400000000);
    cr_expect_eq(p.peak[1], 100000000);
    cr_expect_eq(p.peak[2], 0, "dead: %lld", (long long)p.peak[2]);
    fix_fini(&f);
}

/* ---- assists ---------------------------------------------------------------- */

Test(goruntime, assists_pay_for_the_mark_in_proportion_to_the_runway)
{
    /* 4 cores, 1 worker, mark rate 100 MB/s, forced GC every 10 s.
     * Retain 100 MB at 0: cycle [0, 1] s, goal 200 MB.
     * Forced cycle from 11 s (100 MB to scan). At 11.5 s 50 MB remain and
     * the heap is 100 MB below the goal: 1 MB costs 50 / 100 MB = 5 ms.
     * 11.6 s: 10 MB allocated pay 10 x 40 / 100 = 4 MB (40 ms); 36 MB left.
     * 11.7 s: 26 MB left, 90 MB of runway: 1 MB costs 26 / 90 MB.
     * 11.8 s: 95 MB would take the heap past the goal: 95 x 16 / 90 MB is
     * more than the 16 MB left, so that allocation finishes the mark (160
     * ms): it ends at 11.8 s (the worker 80 MB, the assists 20 MB). After
     * the sweep: no assist; the heap keeps the 105 MB allocated during the
     * mark (floating garbage, freed at the next mark end). */
    fix_t f;
    fix_setup(&f, 4);
    fix_busy(&f);   /* no idle P: the workers' 25% */
    f.spec.mark_rate = 1e8;
    f.spec.forced_gc = 10 * SEC;
    fix_start(&f);
    act_t r = {&f, A_RETAIN, 100000000}, a1 = {&f, A_ALLOC, 10000000}, a2 = {&f, A_ALLOC, 95000000};
    probe_t idle, below, mid, swept;
    at(&f, 0, &r);
    probe_at(&f, 5 * SEC, &idle);
    probe_at(&f, 11500 * MS, &below);
    at(&f, 11600 * MS, &a1);
    probe_at(&f, 11700 * MS, &mid);
    at(&f, 11800 * MS, &a2);
    probe_at(&f, 11850 * MS, &swept);
    run(&f, 13 * SEC);
    cr_expect(!idle.marking);
    cr_expect_eq(idle.assist, 0.0);
    cr_expect(below.marking);
    cr_expect_lt(below.heap, below.goal);
    cr_expect_float_eq(below.assist, 0.005, 1e-12);
    cr_expect(mid.marking);
    cr_expect_eq(mid.heap, 110000000);
    cr_expect_float_eq(mid.assist, 0.26 / 90, 1e-12);
    cr_expect(!swept.marking, "the 95 MB allocation finished the mark");
    cr_expect_eq(swept.assist, 0.0);
    /* the 10 MB and the 95 MB allocated during the mark were allocated
     * black: they float until the next mark end */
    cr_expect_eq(swept.heap, 100000000 + 10000000 + 95000000);
    cr_expect_float_eq(f.g.assist_cpu_s, 0.04 + 0.16, 1e-9);
    cr_expect_float_eq(gort_gc_cpu_seconds(&f.g), 1.0 + 0.8 + 0.2, 1e-9);
    cr_expect_eq(f.g.forced_cycles, 1);
    cr_expect_eq(f.g.gc_cycles, 2);
    fix_fini(&f);
}

/* ---- forced GC ----------------------------------------------------------------- */

static void forced_run(int64_t gogc, uint64_t *cycles, uint64_t *forced, probe_t *pb, probe_t *pa)
{
    /* 1 MiB retained (under the 4 MiB goal), nothing allocated: only sysmon
     * collects, 2 min after the process started or the last cycle ended.
     * Mark = 1 MiB / 512 MiB/s = 1/512 s = d: cycle k starts at
     * 120 k + (k-1) d s and ends d later; 4 end by 600 s. */
    fix_t f;
    fix_setup(&f, 4);
    f.spec.gogc = gogc;
    fix_start(&f);
    act_t r = {&f, A_RETAIN, 1 * MiB};
    at(&f, 0, &r);
    const sim_time_t d = SEC / 512;
    probe_at(&f, 480 * SEC + 3 * d - 1, pb);
    probe_at(&f, 480 * SEC + 3 * d + 1, pa);
    run(&f, 600 * SEC);
    *cycles = f.g.gc_cycles;
    *forced = f.g.forced_cycles;
    fix_fini(&f);
}

Test(goruntime, forced_gc_every_two_minutes_without_allocation)
{
    uint64_t cycles, forced;
    probe_t before, after;
    forced_run(100, &cycles, &forced, &before, &after);
    cr_expect_eq(cycles, 4);
    cr_expect_eq(forced, 4);
    cr_expect(!before.marking);
    cr_expect_eq(before.cycles, 3);
    cr_expect(after.marking);
}

Test(goruntime, gogc_off_disables_forced_gc_too)
{
    uint64_t cycles, forced;
    probe_t before, after;
    forced_run(-1, &cycles, &forced, &before, &after);
    cr_expect_eq(cycles, 0);
    cr_expect_eq(forced, 0);
    cr_expect(!after.marking);
}

Test(goruntime, gogc_off_without_limit_never_collects)
{
    fix_t f;
    fix_setup(&f, 4);
    f.spec.gogc = -1;
    fix_start(&f);
    cr_expect_eq(f.g.goal, INT64_MAX);
    drv_t d = {&f.g, 1000000, MS};
    sim_schedule_at(f.sim, MS / 2, drv_event, &d, 0);
    run(&f, 10 * SEC);
    cr_expect_eq(f.g.gc_cycles, 0);
    cr_expect_eq(f.g.heap, 10000 * (int64_t)1000000);
    cr_expect(isnan(series(&f, "heap_goal_bytes")[0]));
    fix_fini(&f);
}

/* ---- RSS and OOM ----------------------------------------------------------------- */

Test(goruntime, rss_formula_and_oom_exactly_once_when_exceeded)
{
    /* GOGC off (no GC to move the heap); limit 100 MiB, overhead 32 MiB, 1000
     * goroutines x 2 KiB. RSS = heap + 2000 KiB + 32 MiB. */
    fix_t f;
    fix_setup(&f, 4);
    f.spec.gogc = -1;
    f.spec.memory_limit = 100 * MiB;
    fix_start(&f);
    cr_expect_eq(gort_rss(&f.g), 32 * MiB);
    gort_goroutines(&f.g, 1000);
    cr_expect_eq(gort_rss(&f.g), 32 * MiB + 2000 * KiB);
    gort_retain(&f.g, 60 * MiB);
    cr_expect_eq(gort_rss(&f.g), 92 * MiB + 2000 * KiB);
    gort_release(&f.g, 60 * MiB);   /* garbage still counts: no GC has run */
    cr_expect_eq(f.g.live, 0);
    cr_expect_eq(gort_rss(&f.g), 92 * MiB + 2000 * KiB);
    gort_alloc(&f.g, 8 * MiB - 2000 * KiB);   /* RSS == limit: not exceeded */
    cr_expect_eq(gort_rss(&f.g), 100 * MiB);
    cr_expect_eq(f.ooms, 0);
    gort_alloc(&f.g, 1);
    cr_expect_eq(f.ooms, 1);
    gort_alloc(&f.g, 1 * MiB);
    gort_goroutines(&f.g, 10);
    cr_expect_eq(f.ooms, 1, "on_oom once per life");
    fix_fini(&f);
}

Test(goruntime, goroutines_alone_can_oom)
{
    fix_t f;
    fix_setup(&f, 4);
    f.spec.memory_limit = 40 * MiB;   /* 8 MiB above the overhead = 4096 stacks */
    fix_start(&f);
    gort_goroutines(&f.g, 4096);
    cr_expect_eq(f.ooms, 0);
    gort_goroutines(&f.g, 1);
    cr_expect_eq(f.ooms, 1);
    fix_fini(&f);
}

Test(goruntime, kill_freezes_and_restart_resets)
{
    /* Retain 100 MB at 0 on 8 cores: 0.5 CPU-s of mark at 200 MB/s over 2
     * workers, [0, 0.25] s; kill at 0.1 s during the mark: the workers
     * return, the CPU so far (2 x 0.1 s) is counted, nothing happens
     * afterwards. Restart at 5 s: an empty process. At 6 s 600 MiB + 32 MiB
     * > 512 MiB: OOM (the owner kills); restart at 7 s, OOM again at 8 s. */
    fix_t f;
    fix_setup(&f, 8);
    fix_busy(&f);   /* no idle P: the workers' 25% */
    f.spec.mark_rate = 2e8;
    f.spec.memory_limit = 512 * MiB;
    f.kill_on_oom = true;
    fix_start(&f);
    act_t r = {&f, A_RETAIN, 100000000}, g = {&f, A_GOROUTINES, 50}, k = {&f, A_KILL, 0},
          more = {&f, A_RETAIN, 1000000}, rs = {&f, A_RESTART, 0}, big = {&f, A_ALLOC, 600 * MiB},
          big2 = {&f, A_ALLOC, 600 * MiB};
    probe_t in, dead, fresh;
    at(&f, 0, &g);
    at(&f, 0, &r);
    probe_at(&f, 50 * MS, &in);
    at(&f, 100 * MS, &k);
    at(&f, 200 * MS, &more);   /* ignored: dead */
    probe_at(&f, 3 * SEC, &dead);
    at(&f, 5 * SEC, &rs);
    probe_at(&f, 5 * SEC + 1, &fresh);
    at(&f, 6 * SEC, &big);     /* 600 MiB + 32 MiB > 512 MiB: OOM, killed */
    at(&f, 7 * SEC, &rs);
    at(&f, 8 * SEC, &big2);    /* a new life: OOM again */
    run(&f, 10 * SEC);

    cr_expect_eq(in.servers, 6);
    cr_expect(dead.marking == false);
    cr_expect_eq(dead.servers, 8);
    cr_expect_eq(dead.live, 100000000, "frozen");
    cr_expect_eq(dead.cycles, 0);
    cr_expect_float_eq(f.g.gc_cpu_s, 0.2, 1e-12);
    cr_expect_eq(fresh.live, 0);
    cr_expect_eq(fresh.heap, 0);
    cr_expect_eq(fresh.goal, 4 * MiB);
    cr_expect_eq(fresh.servers, 8);
    cr_expect_eq(f.ooms, 2);
    cr_expect(f.g.dead);
    cr_expect_eq(f.g.lives, 3);
    cr_expect_eq(f.g.goroutines, 0);
    /* dead: gauges read 0 and the goal NaN */
    cr_expect_eq(series(&f, "rss_bytes")[0], 0.0);
    cr_expect_eq(series(&f, "goroutines")[2], 0.0);
    cr_expect(isnan(series(&f, "heap_goal_bytes")[2]));
    /* the restart at 5 s was scheduled before the 5 s sample: alive and empty */
    cr_expect_eq(series(&f, "rss_bytes")[4], 32.0 * MiB);
    fix_fini(&f);
}

/* ---- GOMEMLIMIT death spiral -------------------------------------------------------- */

Test(goruntime, gomemlimit_below_the_live_heap_collects_back_to_back)
{
    /* Live 100.01 MB, GOMEMLIMIT 50 MB (overhead 0): the limit goal is below
     * the live heap, so goal = live and every allocation re-triggers. 4
     * cores, 1 worker, mark rate 1 GB/s: a mark scans 100.01 MB in at most
     * 100.01 ms. 1 kB allocated every ms at x.5 ms.
     * Cycle 1 starts at 0 under the 4 MiB minimum goal: the allocation at
     * 0.5 ms is far past the hard goal and finishes the mark as an assist
     * (99.51 ms of CPU; the limiter's empty bucket admits 2 CPU-s). From then
     * on goal = live: the allocation at 1.5 ms starts cycle 2, and each
     * allocation while marking pays remaining work / room before the hard
     * goal (1.1 x goal, ~10 MB): ~0.5 MB per mark in all, so marks take
     * ~99.5 ms and the next starts at the next allocation: back to back,
     * a cycle every 100 ms, 100 in 10 s. GC CPU is the worker's 1 of 4
     * cores plus ~0.5% of assists: 0.25 of GOMAXPROCS, under the limiter's
     * 50%, which never turns on. */
    fix_t f;
    fix_setup(&f, 4);
    fix_busy(&f);   /* no idle P: the workers' 25% */
    f.spec.gomemlimit = 50000000;
    f.spec.runtime_overhead = 0;
    f.spec.mark_rate = 1e9;
    fix_start(&f);
    act_t r = {&f, A_RETAIN, 100010000};
    drv_t d = {&f.g, 1000, MS};
    at(&f, 0, &r);
    sim_schedule_at(f.sim, MS / 2, drv_event, &d, 0);
    probe_t early, mark;
    probe_at(&f, 350 * MS, &early);    /* cycle 4 [~301.5, ~401] */
    probe_at(&f, 250 * MS, &mark);     /* in cycle 3 */
    run(&f, 10 * SEC);
    cr_expect(f.g.gc_cycles >= 99 && f.g.gc_cycles <= 101, "%llu cycles", (unsigned long long)f.g.gc_cycles);
    cr_expect(early.marking, "no pause between marks");
    cr_expect_gt(early.heap, early.goal);
    /* goal = the marked heap: live + the floating garbage of cycle 3, the
     * 99 allocations of 1 kB its ~99.5 ms mark saw (allocated black) */
    cr_expect_eq(early.goal, 100010000 + 99 * 1000, "goal %lld", (long long)early.goal);
    cr_expect(!early.limiting);
    cr_expect(mark.marking);
    /* a 1 MB allocation 50 ms into a mark: ~49.5 MB left, ~9.95 MB of room: ~5 MB, ~5 ms */
    cr_expect(mark.assist > 0.003 && mark.assist < 0.007, "assist %g s", mark.assist);
    /* assists: 99.51 ms finishing cycle 1, then ~0.5 ms per mark */
    cr_expect(f.g.assist_cpu_s > 0.14 && f.g.assist_cpu_s < 0.16, "assists %g s", f.g.assist_cpu_s);
    cr_expect_eq(f.g.assist_dropped_s, 0.0, "the limiter never turned on");
    const double *ratio = series(&f, "gc_cpu_ratio");
    for (int i = 1; i < 10; i++)
        cr_expect(ratio[i] > 0.245 && ratio[i] < 0.2505, "window %d: %g", i, ratio[i]);
    fix_fini(&f);
}

/* ---- GC CPU limiter ---------------------------------------------------------------- */

Test(goruntime, the_limiter_cuts_an_assist_at_the_full_bucket)
{
    /* 4 cores, 1 worker, mark rate 1 GB/s: the bucket holds 4 CPU-s; while
     * marking without assists it drains 4 - 2 x 1 = 2 CPU-s per s.
     * Retain 10 GB at 0: cycle 1 [0, 10 s] by the worker alone. At 0.5 s an
     * allocation far past the hard goal would finish the mark: 9.5 GB = 9.5
     * CPU-s of assist. The bucket (empty) admits 4 / 2 = 2 CPU-s (an assist
     * counts as GC time and as mutator time lost): 2 s of assist, 7.5 s
     * dropped, the bucket full: the limiter is on, a 1 MB allocation now
     * assists nothing. The mark has 10 - 0.5 - 2 = 7.5 GB left for the
     * worker: it ends at 8 s (not at 0.5 s). At 0.6 s the bucket has drained
     * 0.2 CPU-s: a 1 MB allocation assists 0.1 s. GC CPU over the first
     * second: worker 1 + assist 2 = 3 CPU-s of 4: 0.75 (the bucket's burst);
     * over [0, 8] s: (8 + 2) / 32. */
    fix_t f;
    fix_setup(&f, 4);
    fix_busy(&f);   /* no idle P: the workers' 25% */
    f.spec.mark_rate = 1e9;
    f.spec.runtime_overhead = 0;
    fix_start(&f);
    act_t r = {&f, A_RETAIN, 10000000000LL}, a = {&f, A_ALLOC, 1000000};
    probe_t before, after, later, done;
    at(&f, 0, &r);
    probe_at(&f, 500 * MS, &before);
    at(&f, 500 * MS, &a);
    probe_at(&f, 500 * MS, &after);
    probe_at(&f, 600 * MS, &later);
    probe_at(&f, 8 * SEC + 1, &done);
    run(&f, 9 * SEC);
    cr_expect(!before.limiting);
    cr_expect_float_eq(before.assist, 2.0, 1e-9, "1 MB would need all 9.5 s; the bucket admits 2: %g", before.assist);
    cr_expect(after.limiting, "the assist filled the bucket");
    cr_expect_eq(after.assist, 0.0, "no assist while the limiter is on");
    cr_expect(!later.limiting);
    cr_expect_float_eq(later.assist, 0.1, 1e-9, "0.2 CPU-s drained: %g", later.assist);
    cr_expect_float_eq(f.g.assist_cpu_s, 2.0, 1e-9);
    cr_expect_float_eq(f.g.assist_dropped_s, 7.5, 1e-9);
    cr_expect(later.marking, "the worker goes on");
    cr_expect(!done.marking);
    cr_expect_eq(f.g.gc_cycles, 1);
    cr_expect_float_eq(gort_gc_cpu_seconds(&f.g), 8.0 + 2.0, 1e-6);
    const double *ratio = series(&f, "gc_cpu_ratio");
    cr_expect_float_eq(ratio[0], 0.75, 1e-9, "window 0: %g", ratio[0]);
    cr_expect_float_eq(ratio[1], 0.25, 1e-9, "window 1: %g", ratio[1]);
    fix_fini(&f);
}

Test(goruntime, under_allocation_pressure_the_limiter_holds_gc_cpu_at_half_and_the_heap_passes_gomemlimit)
{
    /* Live 100 MB, GOMEMLIMIT 150 MB (overhead 0, no goroutines): goal
     * 150 MB, hard goal 165 MB. 4 cores, 1 worker, marks of 100 MB at
     * 1 GB/s; the program allocates 4 MB every ms (4 GB/s). Without the
     * limiter the assists would hold the heap under 165 MB by scanning as
     * fast as the program allocates: GC CPU several times GOMAXPROCS. The
     * bucket (4 CPU-s) fills within the first second; from then on GC CPU
     * (worker + assists) is what the bucket drains: 2 of the 4 cores. Over
     * 10 s the bucket equation bounds it: GC <= (4 x 10 + 4) / 2 = 22 CPU-s.
     * With the assists switched off the mark runs at the worker's pace and
     * the heap grows past the hard goal, past GOMEMLIMIT, by up to ~4 MB per
     * ms of mark. Every core runs the program (no idle time, which the
     * limiter leaves out: next test). */
    fix_t f;
    fix_setup(&f, 4);
    fix_busy(&f);
    f.spec.gomemlimit = 150000000;
    f.spec.runtime_overhead = 0;
    f.spec.mark_rate = 1e9;
    fix_start(&f);
    act_t r = {&f, A_RETAIN, 100000000};
    drv_t d = {&f.g, 4000000, MS};
    at(&f, 0, &r);
    sim_schedule_at(f.sim, MS / 2, drv_event, &d, 0);
    probe_t p[40];
    for (int i = 0; i < 40; i++) probe_at(&f, 5 * SEC + i * 25 * MS + MS / 4, &p[i]);
    run(&f, 10 * SEC);
    double gc = gort_gc_cpu_seconds(&f.g);
    cr_expect_leq(gc, 22.0 + 1e-6, "GC CPU %g s in 10 s", gc);
    cr_expect_geq(gc, 21.9, "GC CPU %g s in 10 s: the limiter holds it at half, not below", gc);
    cr_expect_gt(f.g.assist_dropped_s, 0.0);
    const double *ratio = series(&f, "gc_cpu_ratio");
    /* the first second is the bucket's burst (up to 0.5 + 4 / (2 x 4)); then half */
    cr_expect_leq(ratio[0], 1.0 + 1e-9);
    for (int i = 1; i < 10; i++)
        cr_expect(ratio[i] > 0.499 && ratio[i] <= 0.5 + 1e-6, "window %d: %g", i, ratio[i]);
    int64_t max_heap = 0;
    int limited = 0;
    for (int i = 0; i < 40; i++) {
        if (p[i].heap > max_heap) max_heap = p[i].heap;
        limited += p[i].limiting;
    }
    cr_log_info("GC CPU %.4f s in 10 s, assists %.4f s, dropped %.4f s; windows %.4f %.4f %.4f; max heap %.1f MB;"
                " limiter on at %d of 40 probes", gc, f.g.assist_cpu_s, f.g.assist_dropped_s, ratio[0], ratio[1], ratio[5],
                (double)max_heap / 1e6, limited);
    cr_expect_geq(limited, 30, "the limiter is on most of the time: %d of 40", limited);
    cr_expect_gt(max_heap, 165000000, "the heap passes the hard goal: %lld", (long long)max_heap);
    cr_expect_gt(max_heap, f.spec.gomemlimit, "and GOMEMLIMIT");
    fix_fini(&f);
}

Test(goruntime, the_limiter_leaves_idle_time_out)
{
    /* Go 1.19.8's gcCPULimiterState.updateLocked: mutator time = total -
     * idle - GC, idle marking counted as idle. 4 cores with nothing to
     * run, 1 worker, mark rate 1 GB/s; the 3 idle Ps run idle mark
     * workers: the mark goes at 4 GB/s. Retain 10 GB at 0: 10 GB to mark.
     * While marking the bucket fills at GC - mutator = 1 - (4 - 3 - 1) = 1
     * CPU-s per s (counting idle as mutator time, as before: drains at 2).
     * At 0.5 s 2 GB are marked and the heap is far past the hard goal: 1
     * MB would assist the 8 GB left; the bucket holds 0.5 of 4 CPU-s, so
     * it admits 3.5 / 2 = 1.75 CPU-s, and is full. The mark has 8 - 1.75 =
     * 6.25 GB left: it ends at 0.5 + 6.25 / 4 = 2.0625 s. At 1 s the
     * bucket is still full (it fills while the workers mark on an idle
     * process): no assist (before: 1 s drained, 0.5 CPU-s admitted). After
     * the mark an idle process has no mutator time: the bucket stays full
     * (Go turns the limiter off at an update with GC < mutator time). */
    fix_t f;
    fix_setup(&f, 4);
    f.spec.mark_rate = 1e9;
    f.spec.runtime_overhead = 0;
    fix_start(&f);
    act_t r = {&f, A_RETAIN, 10000000000LL}, a = {&f, A_ALLOC, 1000000};
    probe_t before, after, later, idle;
    at(&f, 0, &r);
    probe_at(&f, 500 * MS, &before);
    at(&f, 500 * MS, &a);
    probe_at(&f, 500 * MS, &after);
    probe_at(&f, 1 * SEC, &later);
    probe_at(&f, 3 * SEC, &idle);
    run(&f, 4 * SEC);
    cr_expect(before.marking);
    cr_expect(!before.limiting);
    cr_expect_float_eq(before.assist, 1.75, 1e-9, "the bucket admits 1.75 CPU-s: %g", before.assist);
    cr_expect(after.limiting, "the assist filled the bucket");
    cr_expect(later.marking);
    cr_expect(later.limiting, "the worker alone keeps an idle process's bucket full");
    cr_expect_eq(later.assist, 0.0);
    cr_expect_float_eq(f.g.assist_cpu_s, 1.75, 1e-9);
    cr_expect_eq(f.g.gc_cycles, 1);
    cr_expect_float_eq(sim_time_to_s(f.g.mark_dur), 2.0625, 1e-6);
    cr_expect(!idle.marking);
    cr_expect(idle.limiting, "no mutator time: the bucket does not drain");
    fix_fini(&f);
}

Test(goruntime, the_spiral_needs_allocation)
{
    /* Live 100 MB over a 50 MB GOMEMLIMIT: heap == goal after every sweep.
     * Cycle 1 at 0 (mark 0.1 s); one allocation at 0.5 s starts cycle 2,
     * [0.5, 0.6]; nothing is allocated after it, and goroutines starting at
     * 1 s allocate nothing: Go starts heap-triggered cycles only from the
     * allocator, so none follows until the forced GC (2 min after 0.6 s). */
    fix_t f;
    fix_setup(&f, 4);
    fix_busy(&f);   /* no idle P: the workers' 25% */
    f.spec.gomemlimit = 50000000;
    f.spec.runtime_overhead = 0;
    f.spec.mark_rate = 1e9;
    fix_start(&f);
    act_t r = {&f, A_RETAIN, 100000000}, a = {&f, A_ALLOC, 1000}, gr = {&f, A_GOROUTINES, 10};
    at(&f, 0, &r);
    at(&f, 500 * MS, &a);
    at(&f, 1 * SEC, &gr);
    probe_t p;
    probe_at(&f, 550 * MS, &p);
    run(&f, 60 * SEC);
    cr_expect(p.marking);
    cr_expect_eq(f.g.gc_cycles, 2);
    cr_expect_eq(f.g.heap, f.g.goal);
    cr_expect(!f.g.marking);
    fix_fini(&f);
}

Test(goruntime, without_the_limit_the_same_heap_is_collected_rarely)
{
    /* Same program without GOMEMLIMIT: goal 2 x live, 1 kB/ms fills 100 MB
     * in 100 s: cycle 1 at 0 only. The retain overshoots the 4 MiB minimum
     * goal far past the hard goal, so the first allocation during the mark
     * (0.5 ms) finishes it as an assist: worker 0.5 ms + assist 99.51 ms.
     * That 1 kB was allocated during the mark (black): it floats, and the
     * goal is 2 x (live + 1 kB). */
    fix_t f;
    fix_setup(&f, 4);
    fix_busy(&f);   /* no idle P: the workers' 25% */
    f.spec.mark_rate = 1e9;
    f.spec.runtime_overhead = 0;
    fix_start(&f);
    act_t r = {&f, A_RETAIN, 100010000};
    drv_t d = {&f.g, 1000, MS};
    at(&f, 0, &r);
    sim_schedule_at(f.sim, MS / 2, drv_event, &d, 0);
    run(&f, 10 * SEC);
    cr_expect_eq(f.g.gc_cycles, 1);
    cr_expect_eq(f.g.goal, 200022000, "goal %lld", (long long)f.g.goal);
    cr_expect_float_eq(gort_gc_cpu_seconds(&f.g), 0.10001, 1e-12);
    cr_expect_float_eq(f.g.assist_cpu_s, 0.09951, 1e-12);
    fix_fini(&f);
}

/* ---- series -------------------------------------------------------------------------- */

/* gort_alloc_charged is gort_alloc_seconds then gort_alloc in one call: two
 * runtimes given the same allocations at the same times, one through each
 * path, return the same seconds bit for bit and end in the same state,
 * with every cost of the allocation path at work (assists, the sweep,
 * page faults, scavenging above GOMEMLIMIT). */
typedef struct {
    fix_t *f;
    bool charged;
    uint64_t x;
    int n;
    double secs[3000];
} cdrv_t;

static void cdrv_event(sim_t *sim, void *obj, uint64_t arg)
{
    (void)arg;
    cdrv_t *d = obj;
    d->x ^= d->x << 13;
    d->x ^= d->x >> 7;
    d->x ^= d->x << 17;
    int64_t bytes = 64 * KiB + (int64_t)(d->x % (uint64_t)(4 * MiB));
    gort_t *g = &d->f->g;
    double s;
    if (d->charged) {
        s = gort_alloc_charged(g, bytes);
    } else {
        s = gort_alloc_seconds(g, bytes);
        gort_alloc(g, bytes);
    }
    d->secs[d->n++] = s;
    if (d->n < 3000) sim_schedule_in(sim, 1300 * SIM_US, cdrv_event, d, 0);
}

static void charged_run(fix_t *f, cdrv_t *d, bool charged)
{
    fix_setup(f, 4);
    f->spec.cycle_cpu = GORT_CAL_CYCLE_CPU;
    f->spec.sweep_rate = GORT_CAL_SWEEP_RATE;
    f->spec.fault_rate = GORT_CAL_FAULT_RATE;
    f->spec.release_rate = GORT_CAL_RELEASE_RATE;
    f->spec.gomemlimit = 300 * MiB;
    fix_start(f);
    static act_t r[2];
    r[charged] = (act_t){f, A_RETAIN, 200 * MiB};
    at(f, 0, &r[charged]);
    memset(d, 0, sizeof *d);
    d->f = f;
    d->charged = charged;
    d->x = 88172645463325252ull;
    sim_schedule_at(f->sim, 500 * SIM_US, cdrv_event, d, 0);
    run(f, 5 * SEC);
}

Test(goruntime, alloc_charged_is_alloc_seconds_then_alloc)
{
    static fix_t a, b;
    static cdrv_t da, db;
    charged_run(&a, &da, false);
    charged_run(&b, &db, true);
    cr_assert_eq(da.n, 3000);
    cr_assert_eq(db.n, 3000);
    for (int i = 0; i < da.n; i++)
        cr_assert(memcmp(&da.secs[i], &db.secs[i], sizeof(double)) == 0, "allocation %d: %.17g s against %.17g s", i,
                  da.secs[i], db.secs[i]);
    /* every part of the allocation path was at work */
    cr_expect_gt(a.g.assist_cpu_s, 0);
    cr_expect_gt(a.g.sweep_cpu_s, 0);
    cr_expect_gt(a.g.fault_cpu_s, 0);
    cr_expect_gt(a.g.release_cpu_s, 0);
    cr_expect_gt(a.g.gc_cycles, 2);
    cr_expect_eq(a.g.heap, b.g.heap);
    cr_expect_eq(a.g.live, b.g.live);
    cr_expect_eq(a.g.resident, b.g.resident);
    cr_expect_eq(a.g.alloc_total, b.g.alloc_total);
    cr_expect_eq(a.g.gc_cycles, b.g.gc_cycles);
    cr_expect(memcmp(&a.g.gc_cpu_s, &b.g.gc_cpu_s, sizeof(double)) == 0);
    cr_expect(memcmp(&a.g.assist_cpu_s, &b.g.assist_cpu_s, sizeof(double)) == 0);
    cr_expect(memcmp(&a.g.sweep_cpu_s, &b.g.sweep_cpu_s, sizeof(double)) == 0);
    cr_expect(memcmp(&a.g.fault_cpu_s, &b.g.fault_cpu_s, sizeof(double)) == 0);
    cr_expect(memcmp(&a.g.release_cpu_s, &b.g.release_cpu_s, sizeof(double)) == 0);
    cr_expect_eq(a.g.mark_start, b.g.mark_start);
    fix_fini(&a);
    fix_fini(&b);
}

Test(goruntime, series_names_carry_the_label)
{
    fix_t f;
    fix_setup(&f, 4);
    fix_start(&f);
    gort_goroutines(&f.g, 3);
    gort_retain(&f.g, 1 * MiB);
    run(&f, 1 * SEC);
    cr_expect_eq(series(&f, "goroutines")[0], 3.0);
    cr_expect_eq(series(&f, "heap_inuse_bytes")[0], 1.0 * MiB);
    cr_expect_eq(series(&f, "heap_live_bytes")[0], 1.0 * MiB);
    cr_expect_eq(series(&f, "heap_goal_bytes")[0], 4.0 * MiB);
    cr_expect_eq(series(&f, "heap_alloc_bytes_per_second")[0], 1.0 * MiB);
    cr_expect_eq(series(&f, "rss_bytes")[0], 33.0 * MiB + 6 * KiB);
    cr_expect_eq(series(&f, "gc_cycles_total")[0], 0.0);
    cr_expect_eq(series(&f, "gc_cpu_ratio")[0], 0.0);
    fix_fini(&f);
}

/* ---- parsing ---------------------------------------------------------------------------- */

static sim_cfg_t *load(sim_diag_t *d, const char *text)
{
    sim_cfg_t *cfg = sim_cfg_load_string("rt.yaml", text, strlen(text), d);
    cr_assert_not_null(cfg, "%s", sim_diag_text(d));
    return cfg;
}

Test(goruntime, parse_defaults)
{
    const char *texts[2] = {NULL, "runtime:\n"};
    for (int k = 0; k < 2; k++) {
        sim_diag_t d;
        sim_diag_init(&d);
        sim_cfg_t *cfg = texts[k] ? load(&d, texts[k]) : NULL;
        sim_cfg_node_t *map = cfg ? sim_cfg_get(sim_cfg_root(cfg), "runtime") : NULL;
        gort_spec_t s;
        cr_assert_eq(gort_spec_parse(&d, map, &s), 0, "%s", sim_diag_text(&d));
        cr_expect_eq(s.gogc, 100);
        cr_expect_eq(s.gomemlimit, INT64_MAX);
        cr_expect_eq(s.min_heap, 4 * MiB);
        cr_expect_eq(s.forced_gc, 120 * SEC);
        cr_expect_eq(s.mark_rate, 512.0 * MiB);
        /* the runtime's own costs default to what Go 1.19.8 was measured to pay */
        cr_expect_eq(s.noscan_mark_rate, GORT_CAL_NOSCAN_MARK_RATE);
        cr_expect_eq(s.cycle_cpu, GORT_CAL_CYCLE_CPU);
        cr_expect_eq(s.sweep_rate, GORT_CAL_SWEEP_RATE);
        cr_expect_eq(s.fault_rate, GORT_CAL_FAULT_RATE);
        cr_expect_eq(s.release_rate, GORT_CAL_RELEASE_RATE);
        cr_expect(isfinite(s.sweep_rate) && isfinite(s.fault_rate) && isfinite(s.release_rate) && s.cycle_cpu > 0);
        cr_expect_eq(s.stack_bytes, 2 * KiB);
        cr_expect_eq(s.runtime_overhead, 32 * MiB);
        cr_expect_eq(s.memory_limit, INT64_MAX);
        cr_expect_eq(d.warnings, 0);
        if (cfg) cr_expect_eq(sim_cfg_check_unused(cfg, &d), 0, "%s", sim_diag_text(&d));
        sim_cfg_destroy(cfg);
        sim_diag_fini(&d);
    }
}

Test(goruntime, parse_every_key)
{
    sim_diag_t d;
    sim_diag_init(&d);
    sim_cfg_t *cfg = load(&d,
                          "runtime:\n"
                          "  gogc: off\n"
                          "  gomemlimit: 1800MiB\n"
                          "  min_heap: 8MiB\n"
                          "  forced_gc: unbounded\n"
                          "  mark_rate: 256MiB/s\n"
                          "  stack_bytes: 8KiB\n"
                          "  runtime_overhead: 64MiB\n"
                          "  memory_limit: 2GiB\n");
    gort_spec_t s;
    cr_assert_eq(gort_spec_parse(&d, sim_cfg_get(sim_cfg_root(cfg), "runtime"), &s), 0, "%s", sim_diag_text(&d));
    cr_expect_eq(sim_cfg_check_unused(cfg, &d), 0, "%s", sim_diag_text(&d));
    cr_expect_eq(s.gogc, -1);
    cr_expect_eq(s.gomemlimit, 1800 * MiB);
    cr_expect_eq(s.min_heap, 8 * MiB);
    cr_expect_eq(s.forced_gc, SIM_TIME_MAX);
    cr_expect_eq(s.mark_rate, 256.0 * MiB);
    cr_expect_eq(s.stack_bytes, 8 * KiB);
    cr_expect_eq(s.runtime_overhead, 64 * MiB);
    cr_expect_eq(s.memory_limit, 2048 * MiB);
    cr_expect_eq(d.warnings, 0, "%s", sim_diag_text(&d));
    sim_cfg_destroy(cfg);
    sim_diag_fini(&d);
}

Test(goruntime, parse_alternative_forms)
{
    sim_diag_t d;
    sim_diag_init(&d);
    sim_cfg_t *cfg = load(&d, "runtime: {gogc: 0, gomemlimit: off, mark_rate: 1GiB, memory_limit: unbounded}\n");
    gort_spec_t s;
    cr_assert_eq(gort_spec_parse(&d, sim_cfg_get(sim_cfg_root(cfg), "runtime"), &s), 0, "%s", sim_diag_text(&d));
    cr_expect_eq(s.gogc, 0);
    cr_expect_eq(s.gomemlimit, INT64_MAX);
    cr_expect_eq(s.mark_rate, 1024.0 * MiB);
    cr_expect_eq(s.memory_limit, INT64_MAX);
    sim_cfg_destroy(cfg);
    sim_diag_fini(&d);
}

/* The runtime's costs one by one: a rate, or `unbounded` (free), and a
 * cycle's CPU of 0; what the model was before they were measured. */
Test(goruntime, parse_the_runtime_costs_and_turns_them_off)
{
    sim_diag_t d;
    sim_diag_init(&d);
    sim_cfg_t *cfg = load(&d, "runtime: {noscan_mark_rate: 100GB/s, cycle_cpu: 1ms, sweep_rate: 20GB/s,\n"
                              "          fault_rate: 2GB/s, release_rate: 1GB/s}\n"
                              "off: {noscan_mark_rate: unbounded, cycle_cpu: 0s, sweep_rate: unbounded,\n"
                              "      fault_rate: unbounded, release_rate: unbounded}\n");
    gort_spec_t s;
    cr_assert_eq(gort_spec_parse(&d, sim_cfg_get(sim_cfg_root(cfg), "runtime"), &s), 0, "%s", sim_diag_text(&d));
    cr_expect_eq(s.noscan_mark_rate, 100e9);
    cr_expect_float_eq(s.cycle_cpu, 0.001, 1e-12);
    cr_expect_eq(s.sweep_rate, 20e9);
    cr_expect_eq(s.fault_rate, 2e9);
    cr_expect_eq(s.release_rate, 1e9);
    cr_assert_eq(gort_spec_parse(&d, sim_cfg_get(sim_cfg_root(cfg), "off"), &s), 0, "%s", sim_diag_text(&d));
    cr_expect(isinf(s.noscan_mark_rate) && isinf(s.sweep_rate) && isinf(s.fault_rate) && isinf(s.release_rate));
    cr_expect_eq(s.cycle_cpu, 0);
    cr_expect_eq(sim_cfg_check_unused(cfg, &d), 0, "%s", sim_diag_text(&d));
    sim_cfg_destroy(cfg);
    sim_diag_fini(&d);
}

static void expect_error(const char *text, const char *needle1, const char *needle2)
{
    sim_diag_t d;
    sim_diag_init(&d);
    sim_cfg_t *cfg = load(&d, text);
    gort_spec_t s;
    int rc = gort_spec_parse(&d, sim_cfg_get(sim_cfg_root(cfg), "runtime"), &s);
    if (rc == 0) cr_expect_gt(sim_cfg_check_unused(cfg, &d), 0, "no error for:\n%s", text);
    else cr_expect_eq(rc, SIM_ECONFIG);
    const char *msg = sim_diag_text(&d);
    cr_log_info("%s", msg);
    cr_expect(strstr(msg, needle1) != NULL, "'%s' not in: %s", needle1, msg);
    cr_expect(strstr(msg, needle2) != NULL, "'%s' not in: %s", needle2, msg);
    sim_cfg_destroy(cfg);
    sim_diag_fini(&d);
}

Test(goruntime, parse_bad_values_report_file_line_col)
{
    expect_error("runtime:\n  gogc: -5\n", "rt.yaml:2:9: error:", "'runtime.gogc': expected a percent");
    expect_error("runtime:\n  gogc: \"100\"\n", "rt.yaml:2:9: error:", "write it without quotes");
    expect_error("runtime:\n  gogc: of\n", "rt.yaml:2:9: error:", "or 'off'");
    expect_error("runtime:\n  gomemlimit: 2G\n", "rt.yaml:2:15: error:", "'runtime.gomemlimit'");
    expect_error("runtime:\n  mark_rate: 512MiB/h\n", "rt.yaml:2:14: error:", "such as 512MiB/s");
    expect_error("runtime:\n  mark_rate: 0/s\n", "rt.yaml:2:14: error:", "a size > 0");
    expect_error("runtime:\n  mark_rate: 500\n", "rt.yaml:2:14: error:", "'runtime.mark_rate'");
    /* pointer scanning is the program's own heap: never free */
    expect_error("runtime:\n  mark_rate: unbounded\n", "rt.yaml:2:14: error:", "such as 512MiB/s, got");
    expect_error("runtime:\n  sweep_rate: fast\n", "rt.yaml:2:15: error:", "or 'unbounded' (free)");
    expect_error("runtime:\n  memory_limit: 0B\n", "rt.yaml:2:17: error:", "expected a size > 0");
    expect_error("runtime:\n  forced_gc: 0s\n", "rt.yaml:2:14: error:", "expected a duration > 0");
    expect_error("runtime:\n  stack_bytes: 2\n", "rt.yaml:2:16: error:", "unit");
    expect_error("runtime:\n  gcgc: 100\n", "rt.yaml:2:3: error:", "did you mean 'gogc'");
    expect_error("runtime: [1]\n", "rt.yaml:1:10: error:", "expected a mapping");
}

Test(goruntime, parse_warns_when_soft_limit_is_not_below_container_limit)
{
    sim_diag_t d;
    sim_diag_init(&d);
    sim_cfg_t *cfg = load(&d, "runtime:\n  gomemlimit: 2GiB\n  memory_limit: 2GiB\n");
    gort_spec_t s;
    cr_assert_eq(gort_spec_parse(&d, sim_cfg_get(sim_cfg_root(cfg), "runtime"), &s), 0, "%s", sim_diag_text(&d));
    cr_expect_eq(d.warnings, 1);
    cr_expect(strstr(sim_diag_text(&d), "rt.yaml:2:15: warning: gomemlimit is not below memory_limit"),
              "%s", sim_diag_text(&d));
    sim_cfg_destroy(cfg);
    sim_diag_fini(&d);
}
