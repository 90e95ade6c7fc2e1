/* The hot path: the event set's order under mixed time scales, run limits
 * and heavy cancellation; the load balancer's tournament tree against a
 * scan; and no malloc per event in steady state, counted by an allocator
 * interposed on the whole test process (malloc and friends forward to
 * glibc's; a flag turns counting on for the measured window). The
 * allocation tests are skipped in the sanitizer build, whose allocator
 * cannot be interposed (RAGSIM_SANITIZED=1 in its ctest environment). */
#include <criterion/criterion.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "models/components/replicas/lb.h"
#include "models/queueing/network.h"
#include "experiment/runner.h"
#include "sim/sim.h"

/* ---- counting allocator ---- */

static volatile int counting;
static volatile size_t nallocs;

#if !defined(__SANITIZE_ADDRESS__)
#define RAGSIM_COUNT_ALLOCS 1
extern void *__libc_malloc(size_t);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);
extern void *__libc_memalign(size_t, size_t);
extern void __libc_free(void *);

void *malloc(size_t n)
{
    if (counting) nallocs++;
    return __libc_malloc(n);
}
void *calloc(size_t k, size_t n)
{
    if (counting) nallocs++;
    return __libc_calloc(k, n);
}
void *realloc(void *p, size_t n)
{
    if (counting) nallocs++;
    return __libc_realloc(p, n);
}
void *aligned_alloc(size_t a, size_t n)
{
    if (counting) nallocs++;
    return __libc_memalign(a, n);
}
int posix_memalign(void **p, size_t a, size_t n)
{
    if (counting) nallocs++;
    *p = __libc_memalign(a, n);
    return *p ? 0 : 12 /* ENOMEM */;
}
void free(void *p) { __libc_free(p); }
#endif

static void skip_if_sanitized(void)
{
    const char *s = getenv("RAGSIM_SANITIZED");
#ifndef RAGSIM_COUNT_ALLOCS
    s = "1";
#endif
    if (s && *s && strcmp(s, "0") != 0) cr_skip_test("allocator interposition is not possible under the sanitizers");
}

/* ---- event order under mixed scales, limits and cancellation ---- */

enum { NEV = 400000, NLIVE = 3000 };

typedef struct {
    sim_rng_t rng;
    sim_timer_t timers[NLIVE];         /* a pool of cancellable timeouts */
    uint64_t scheduled, ran, cancelled;
    sim_time_t last_t;
    uint64_t last_id;
    bool order_ok;
    uint64_t *ran_id;                  /* ran_id[id]: times event id ran */
} mix_t;

static void mix_ev(sim_t *sim, void *obj, uint64_t id);

static sim_time_t mix_delay(mix_t *m)
{
    switch (sim_rng_below(&m->rng, 6)) {
    case 0: return 0;                                                   /* same time: ties */
    case 1: return (sim_time_t)sim_rng_below(&m->rng, 300);             /* ns */
    case 2: return (sim_time_t)sim_rng_below(&m->rng, 2000000);         /* up to 2 ms */
    case 3: return (sim_time_t)sim_rng_below(&m->rng, 50) * SIM_MS;     /* coarse ms: ties */
    case 4: return (sim_time_t)sim_rng_below(&m->rng, 30) * SIM_SEC;    /* timeouts, s */
    default: return (sim_time_t)sim_rng_below(&m->rng, 1u << 20) << 20; /* up to ~13 days */
    }
}

static void mix_schedule(sim_t *sim, mix_t *m)
{
    if (m->scheduled >= NEV) return;
    sim_schedule_in(sim, mix_delay(m), mix_ev, m, m->scheduled++);
    /* replace a random timeout: cancel the old one if still pending */
    size_t k = sim_rng_below(&m->rng, NLIVE);
    if (sim_timer_pending(&m->timers[k])) m->cancelled++;
    sim_cancel(sim, &m->timers[k]);
    if (m->scheduled < NEV) m->timers[k] = sim_schedule_in(sim, mix_delay(m), mix_ev, m, m->scheduled++);
}

static void mix_ev(sim_t *sim, void *obj, uint64_t id)
{
    mix_t *m = obj;
    sim_time_t t = sim_now(sim);
    /* (time, schedule order): ids are handed out in schedule order */
    if (t < m->last_t || (t == m->last_t && id < m->last_id && m->ran > 0)) m->order_ok = false;
    m->last_t = t;
    m->last_id = id;
    m->ran++;
    m->ran_id[id]++;
    mix_schedule(sim, m);
}

Test(hotpath, event_order_holds_over_mixed_scales_limits_and_cancellation)
{
    static mix_t m;
    memset(&m, 0, sizeof m);
    m.order_ok = true;
    m.ran_id = calloc(NEV, sizeof *m.ran_id);
    cr_assert_not_null(m.ran_id);
    sim_rng_init(&m.rng, 99);
    sim_config_t cfg = {.master_seed = 3};
    sim_t *sim = sim_create(&cfg);
    for (int i = 0; i < 64; i++) sim_schedule_at(sim, (sim_time_t)sim_rng_below(&m.rng, 1000), mix_ev, &m, m.scheduled++);
    /* run in uneven steps: pop with a limit below, at and above pending times */
    sim_time_t until = 0;
    while (sim_pending(sim) > 0) {
        until += (sim_time_t)sim_rng_below(&m.rng, 3) == 0 ? 1 : (sim_time_t)sim_rng_below(&m.rng, 40 * SIM_SEC);
        sim_run_result_t r = sim_run(sim, until);
        cr_assert(r == SIM_RUN_TIME || r == SIM_RUN_EMPTY);
        cr_assert_leq(sim_now(sim), until);
    }
    cr_assert(m.order_ok, "events ran out of (time, schedule) order");
    cr_assert_eq(m.scheduled, NEV);
    cr_assert_eq(m.ran + m.cancelled, NEV, "ran %lu + cancelled %lu != scheduled", m.ran, m.cancelled);
    cr_assert_gt(m.cancelled, NEV / 10);
    for (size_t i = 0; i < NEV; i++) cr_assert_leq(m.ran_id[i], 1, "event %zu ran twice", i);
    free(m.ran_id);
    sim_destroy(sim);
}

Test(hotpath, peek_time_skips_cancelled_and_sees_far_buckets)
{
    sim_config_t cfg = {.master_seed = 1};
    sim_t *sim = sim_create(&cfg);
    sim_timer_t a = sim_schedule_at(sim, 5 * SIM_SEC, mix_ev, NULL, 0);
    sim_schedule_at(sim, 70 * SIM_SEC, mix_ev, NULL, 1);
    cr_assert_eq(sim_evset_peek_time(&sim->es), 5 * SIM_SEC);
    sim_cancel(sim, &a);
    cr_assert_eq(sim_evset_peek_time(&sim->es), 70 * SIM_SEC);
    cr_assert_eq(sim_run(sim, 69 * SIM_SEC), SIM_RUN_TIME);
    cr_assert_eq(sim_pending(sim), 1);
    sim_destroy(sim);
}

/* A burst of pushes into the sorted run's range overflows it (the run is
 * compacted, then put back into the buckets): the order must hold. */
typedef struct {
    sim_rng_t rng;
    uint64_t next_id, ran;
    sim_time_t last_t;
    uint64_t last_id;
    bool order_ok;
} burst_t;

static void burst_ev(sim_t *sim, void *obj, uint64_t id)
{
    burst_t *b = obj;
    sim_time_t t = sim_now(sim);
    if (b->ran > 0 && (t < b->last_t || (t == b->last_t && id < b->last_id))) b->order_ok = false;
    b->last_t = t;
    b->last_id = id;
    b->ran++;
    if (id == 0)   /* the first event: 400 pushes inside the run's range [1000, 1009] */
        for (int i = 0; i < 400; i++)
            sim_schedule_at(sim, 1000 + (sim_time_t)sim_rng_below(&b->rng, 10), burst_ev, b, b->next_id++);
}

Test(hotpath, a_burst_into_the_sorted_run_keeps_the_order)
{
    static burst_t b;
    memset(&b, 0, sizeof b);
    b.order_ok = true;
    sim_rng_init(&b.rng, 11);
    sim_config_t cfg = {.master_seed = 1};
    sim_t *sim = sim_create(&cfg);
    /* ten events in one small bucket: the first pop sorts them into the run */
    for (int i = 0; i < 10; i++) sim_schedule_at(sim, 1000 + i, burst_ev, &b, b.next_id++);
    sim_schedule_at(sim, 5000, burst_ev, &b, b.next_id++);
    cr_assert_eq(sim_run(sim, SIM_TIME_MAX), SIM_RUN_EMPTY);
    cr_assert_eq(b.ran, 411);
    cr_assert(b.order_ok, "events ran out of (time, schedule) order");
    cr_assert_eq(b.last_t, 5000);
    sim_destroy(sim);
}

/* ---- least_outstanding's tree against a scan ---- */

Test(hotpath, least_outstanding_tree_matches_a_scan)
{
    sim_config_t cfg = {.master_seed = 1};
    sim_t *sim = sim_create(&cfg);
    sim_rng_t r;
    sim_rng_init(&r, 5);
    for (int n = 1; n <= 37; n += 6) {
        lb_t lb;
        cr_assert_eq(lb_init(&lb, sim, LB_LEAST_OUTSTANDING, n, "lb/x"), 0);
        for (int step = 0; step < 20000; step++) {
            int op = (int)sim_rng_below(&r, 10);
            int k = (int)sim_rng_below(&r, (uint64_t)n);
            if (op < 4) {
                int p = lb_pick(&lb);
                if (p >= 0) lb_begin(&lb, p);
            } else if (op < 8) {
                if (lb.outstanding[k] > 0) lb_end(&lb, k);
            } else {
                lb_set_up(&lb, k, !lb.up[k]);
            }
            int best = -1;
            for (int i = 0; i < n; i++)
                if (lb.up[i] && (best < 0 || lb.outstanding[i] < lb.outstanding[best])) best = i;
            cr_assert_eq(lb_pick(&lb), best, "n %d step %d", n, step);
        }
        lb_fini(&lb);
    }
    sim_destroy(sim);
}

/* ---- no malloc per event ---- */

typedef struct {
    sim_time_t from;
    uint64_t ev0;
    bool on;
} window_t;

static void start_counting(void *ctx, const sim_t *sim)
{
    window_t *w = ctx;
    if (!w->on && sim_now(sim) >= w->from) {
        w->on = true;
        w->ev0 = sim_events_processed(sim);
        nallocs = 0;
        counting = 1;
    }
}

Test(hotpath, rag_pipeline_steady_state_allocates_less_than_once_per_10000_events)
{
    skip_if_sanitized();
    rs_scenario_t s;
    sim_diag_t d;
    sim_diag_init(&d);
    const char *sets[] = {"duration=70m", "warmup=1m"};
    cr_assert_eq(rs_load(&s, RAGSIM_SOURCE_DIR "/scenarios/rag-baseline.yaml", sets, 2, &d), 0, "%s",
                 sim_diag_text(&d));
    window_t w = {.from = 10 * SIM_MIN};
    rs_result_t res;
    cr_assert_eq(rs_run_one_hook(&s, 0, 0, 1, 0, start_counting, &w, &res), 0);
    counting = 0;
    size_t allocs = nallocs;
    uint64_t events = sim_events_processed(res.sim) - w.ev0;
    cr_assert(w.on);
    cr_assert_gt(events, 1000000, "window too short: %lu events", events);
    /* what remains is amortised growth (the time series doubling its
     * columns, the sampled-request table), not per-event work */
    fprintf(stderr, "rag steady state: %zu allocations over %lu events\n", allocs, (unsigned long)events);
    cr_assert_lt((double)allocs, (double)events / 10000,
                 "%zu allocations over %lu steady-state events", allocs, events);
    rs_result_free(&res);
    rs_unload(&s);
    sim_diag_fini(&d);
}

Test(hotpath, mmc_steady_state_does_not_allocate)
{
    skip_if_sanitized();
    net_spec_t spec;
    memset(&spec, 0, sizeof spec);
    stn_spec_t st = {.name = "server", .servers = 10, .queue_limit = INT64_MAX};
    size_t route = 0;
    cr_assert_eq(wl_spec_constant(&spec.workload, WL_POISSON, 9), 0);
    cr_assert_eq(sim_dist_exponential(&st.service, 1.0), 0);
    spec.stations = &st;
    spec.nstations = 1;
    spec.route = &route;
    spec.nroute = 1;
    sim_config_t cfg = {.master_seed = 1};
    sim_t *sim = sim_create(&cfg);
    net_t *net = net_create(sim, &spec);
    cr_assert_not_null(net);
    sim_run(sim, 20000 * SIM_SEC);   /* the pool, buckets and queue reach their working size */
    uint64_t ev0 = sim_events_processed(sim);
    nallocs = 0;
    counting = 1;
    sim_run(sim, 200000 * SIM_SEC);
    counting = 0;
    uint64_t events = sim_events_processed(sim) - ev0;
    cr_assert_gt(events, 3000000);
    cr_assert_lt((double)nallocs, (double)events / 100000, "%zu allocations over %lu events", (size_t)nallocs, events);
    net_destroy(net);
    sim_destroy(sim);
    wl_spec_fini(&spec.workload);
    sim_dist_fini(&st.service);
}
