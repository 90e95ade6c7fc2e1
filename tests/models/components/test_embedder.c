/* The embedder against hand-computed batching schedules, Erlang C (batch
 * size 1 makes a replica an M/M/c queue), and its fault hooks. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "models/components/embedder/embedder.h"
#include "models/queueing/theory.h"
#include "sim/error.h"
#include "sim/stats.h"

#define MAXC 64





typedef struct {
    sim_t *sim;
    embedder_spec_t spec;
    embedder_t *e;
    call_pool_t pool;
    int64_t tokens[MAXC];
    sim_time_t timeout[MAXC];
    sim_time_t at[MAXC];      /* when the owner heard back; -1 never */
    int status[MAXC];
    int heard[MAXC];          /* times the owner was told (must be 1) */
    int ndone;
} fix_t;

/* call_complete() clears c->owner before telling the owner, so the
 * fixture of the running test is found here (each test is its own process). */
static fix_t *cur;

/* A spec with all defaults, then the common test shape: one replica, one
 * instance, deterministic base. */
static void spec_default(embedder_spec_t *s)
{
    sim_diag_t d;
    sim_diag_init(&d);
    cr_assert_eq(embedder_spec_parse(&d, NULL, s), 0);
    sim_diag_fini(&d);
}

static void set_base(embedder_spec_t *s, double seconds)
{
    sim_dist_fini(&s->base);
    cr_assert_eq(sim_dist_deterministic(&s->base, seconds), 0);
}

static void fix_init(fix_t *f, const sim_config_t *cfg)
{
    f->sim = sim_create(cfg);
    cr_assert_not_null(f->sim);
    f->e = embedder_create(f->sim, &f->spec);
    cr_assert_not_null(f->e);
    call_pool_init(&f->pool);
    cur = f;
    for (int i = 0; i < MAXC; i++) {
        f->at[i] = -1;
        f->status[i] = -1;
    }
}

static void fix_fini(fix_t *f)
{
    embedder_destroy(f->e);
    sim_destroy(f->sim);
    call_pool_fini(&f->pool);
    embedder_spec_fini(&f->spec);
}

static void on_done(sim_t *sim, call_t *c, call_status_t st)
{
    fix_t *f = cur;
    f->at[c->tag] = sim_now(sim);
    f->status[c->tag] = (int)st;
    f->heard[c->tag]++;
    f->ndone++;
}

static void submit_now(fix_t *f, uint64_t i)
{
    call_t *c = call_new(&f->pool, f, on_done, i, sim_now(f->sim));
    cr_assert_not_null(c);
    c->tokens_in = f->tokens[i];
    if (f->timeout[i] > 0) call_set_timeout(f->sim, c, f->timeout[i]);
    embedder_ops.submit(f->e, c);
}

static void submit_event(sim_t *sim, void *obj, uint64_t arg)
{
    (void)sim;
    submit_now(obj, arg);
}

static void submit_at(fix_t *f, sim_time_t t, uint64_t i, int64_t tokens)
{
    f->tokens[i] = tokens;
    sim_schedule_at(f->sim, t, submit_event, f, i);
}

static void kill_event(sim_t *sim, void *obj, uint64_t arg)
{
    (void)sim;
    fix_t *f = obj;
    embedder_ops.kill(f->e, (int)arg - 1);   /* arg 0: all replicas */
}

static void speed_event(sim_t *sim, void *obj, uint64_t arg)
{
    (void)sim;
    fix_t *f = obj;
    embedder_ops.set_speed(f->e, (double)arg / 100.0);
}

static const sim_config_t CFG = {.master_seed = 1};

#define MS SIM_MS

Test(embedder, batching_schedule_matches_hand_trace)
{
    /* base 10 ms, 1 ms per token, max batch 3, window 5 ms, one instance;
     * every call has 2 tokens, so a batch of k takes 10 + 2k ms.
     *   t=0   c0 waits; instance free, 1 < 3: check at 0 + 5 = 5 ms
     *   t=1   c1 waits
     *   t=2   c2: 3 wait = max -> SIZE-triggered B1 {c0,c1,c2} at 2 ms,
     *         16 ms -> ends 18 (the 5 ms check is dropped: nobody waits)
     *   t=18  B1 ends: c0, c1, c2 complete
     *   t=20  c3 waits; check at 25
     *   t=21  c4; t=22 c5: SIZE-triggered B2 {c3,c4,c5} at 22 -> ends 38
     *   t=23  c6 waits; instance busy: no check
     *   t=38  B2 ends; c6 has waited 15 >= 5 ms: WINDOW already out, B3 {c6}
     *         starts at once, 12 ms -> ends 50
     *   t=60  c7 alone; check at 65: WINDOW-triggered B4 {c7} at 65 -> 77
     * Waits 2,1,0, 2,1,0, 15, 5 ms: mean 26/8 = 3.25 ms; 4 batches of 8 calls. */
    fix_t f = {0};
    spec_default(&f.spec);
    set_base(&f.spec, 0.010);
    f.spec.per_token = 1 * MS;
    f.spec.max_batch_size = 3;
    f.spec.max_queue_delay = 5 * MS;
    fix_init(&f, &CFG);
    const sim_time_t arrive[8] = {0, 1 * MS, 2 * MS, 20 * MS, 21 * MS, 22 * MS, 23 * MS, 60 * MS};
    for (int i = 0; i < 8; i++) submit_at(&f, arrive[i], (uint64_t)i, 2);
    sim_run(f.sim, 1 * SIM_SEC);

    const sim_time_t expect[8] = {18 * MS, 18 * MS, 18 * MS, 38 * MS, 38 * MS, 38 * MS, 50 * MS, 77 * MS};
    for (int i = 0; i < 8; i++) {
        cr_expect_eq(f.at[i], expect[i], "c%d completed at %lld ns, expected %lld", i, (long long)f.at[i],
                     (long long)expect[i]);
        cr_expect_eq(f.status[i], CALL_OK, "c%d: %s", i, call_status_name(f.status[i]));
        cr_expect_eq(f.heard[i], 1);
    }
    embedder_stats_t s;
    embedder_stats(f.e, &s);
    cr_expect_eq(s.batches, 4);
    cr_expect_eq(s.batched_calls, 8);
    cr_expect_float_eq(s.mean_batch_size, 2.0, 1e-12);
    cr_expect_float_eq(s.mean_wait_s, 0.00325, 1e-12);
    cr_expect_eq(s.completed[CALL_OK], 8);
    cr_expect_eq(f.pool.live, 0);
    fix_fini(&f);
}

Test(embedder, flushes_at_window_when_batch_stays_small)
{
    /* max batch 8, window 5 ms, base 10 ms: calls at 0, 1, 2 ms never fill
     * a batch; the window of the oldest closes at 5 ms -> one batch of 3,
     * all done at 15 ms. */
    fix_t f = {0};
    spec_default(&f.spec);
    set_base(&f.spec, 0.010);
    f.spec.per_token = 0;
    f.spec.max_batch_size = 8;
    f.spec.max_queue_delay = 5 * MS;
    fix_init(&f, &CFG);
    for (int i = 0; i < 3; i++) submit_at(&f, i * MS, (uint64_t)i, 100);
    sim_run(f.sim, 1 * SIM_SEC);
    for (int i = 0; i < 3; i++) cr_expect_eq(f.at[i], 15 * MS, "c%d at %lld", i, (long long)f.at[i]);
    embedder_stats_t s;
    embedder_stats(f.e, &s);
    cr_expect_eq(s.batches, 1);
    cr_expect_float_eq(s.mean_batch_size, 3.0, 1e-12);
    fix_fini(&f);
}

Test(embedder, flushes_at_size_before_window)
{
    /* max batch 3, window 100 ms, base 10 ms: calls at 0, 1, 2 ms fill a
     * batch at 2 ms -> done 12 ms. c3 arrives at 3 ms while the instance is
     * busy; when it frees (12 ms) c3 has waited 9 < 100 ms, so it waits for
     * its window: starts 103, done 113. */
    fix_t f = {0};
    spec_default(&f.spec);
    set_base(&f.spec, 0.010);
    f.spec.per_token = 0;
    f.spec.max_batch_size = 3;
    f.spec.max_queue_delay = 100 * MS;
    fix_init(&f, &CFG);
    for (int i = 0; i < 4; i++) submit_at(&f, i * MS, (uint64_t)i, 1);
    sim_run(f.sim, 1 * SIM_SEC);
    const sim_time_t expect[4] = {12 * MS, 12 * MS, 12 * MS, 113 * MS};
    for (int i = 0; i < 4; i++) cr_expect_eq(f.at[i], expect[i], "c%d at %lld", i, (long long)f.at[i]);
    fix_fini(&f);
}

Test(embedder, zero_window_dispatches_what_waits)
{
    /* Window 0, max batch 4, base 10 ms: three calls at t = 0 submitted one
     * after another. c0 finds the instance free and leaves alone at 0 (done
     * 10); c1 and c2 wait and leave together at 10 (done 20). */
    fix_t f = {0};
    spec_default(&f.spec);
    set_base(&f.spec, 0.010);
    f.spec.per_token = 0;
    f.spec.max_batch_size = 4;
    f.spec.max_queue_delay = 0;
    fix_init(&f, &CFG);
    for (int i = 0; i < 3; i++) submit_at(&f, 0, (uint64_t)i, 1);
    sim_run(f.sim, 1 * SIM_SEC);
    cr_expect_eq(f.at[0], 10 * MS);
    cr_expect_eq(f.at[1], 20 * MS);
    cr_expect_eq(f.at[2], 20 * MS);
    embedder_stats_t s;
    embedder_stats(f.e, &s);
    cr_expect_eq(s.batches, 2);
    fix_fini(&f);
}

Test(embedder, instances_and_replicas_run_batches_in_parallel)
{
    /* Batch 1, base 10 ms, three calls at t = 0: with two instances (or two
     * replicas, round robin 0, 1, 0) two finish at 10 ms and the third at 20. */
    for (int variant = 0; variant < 2; variant++) {
        fix_t f = {0};
        spec_default(&f.spec);
        set_base(&f.spec, 0.010);
        f.spec.per_token = 0;
        f.spec.max_batch_size = 1;
        if (variant == 0) f.spec.concurrency = 2; else f.spec.replicas = 2;
        fix_init(&f, &CFG);
        for (int i = 0; i < 3; i++) submit_at(&f, 0, (uint64_t)i, 1);
        sim_run(f.sim, 1 * SIM_SEC);
        cr_expect_eq(f.at[0], 10 * MS, "variant %d", variant);
        cr_expect_eq(f.at[1], 10 * MS, "variant %d", variant);
        cr_expect_eq(f.at[2], 20 * MS, "variant %d", variant);
        embedder_stats_t s;
        embedder_stats(f.e, &s);
        /* The run stops at the last event (20 ms): busy instance-time
         * 10 + 10 + 10 ms over 2 instances x 20 ms. */
        cr_expect_eq(sim_now(f.sim), 20 * MS);
        cr_expect_float_eq(s.busy_ratio, 0.75, 1e-12, "variant %d: %g", variant, s.busy_ratio);
        fix_fini(&f);
    }
}

/* ---- M/M/c ------------------------------------------------------------- */

typedef struct {
    embedder_t *e;
    call_pool_t pool;
    sim_rng_t *arr;
    double mean_gap_s;
} poisson_t;

static void ignore_done(sim_t *sim, call_t *c, call_status_t st)
{
    (void)sim;
    (void)c;
    (void)st;
}

static void poisson_arrival(sim_t *sim, void *obj, uint64_t arg)
{
    (void)arg;
    poisson_t *p = obj;
    double gap = -log(sim_rng_uniform_pos(p->arr)) * p->mean_gap_s;
    sim_schedule_in(sim, sim_time_from_s(gap), poisson_arrival, p, 0);
    call_t *c = call_new(&p->pool, p, ignore_done, 0, sim_now(sim));
    if (!c) {
        sim_stop(sim);
        return;
    }
    embedder_ops.submit(p->e, c);
}

Test(embedder, batch_one_exponential_is_mmc_erlang_c, .timeout = 120)
{
    /* max batch 1, exponential base (mean 20 ms), no per-token time: each
     * replica is M/M/2 with lambda 90/s, mu 50/s: a = 1.8, rho 0.9,
     * Erlang C = (a^2/(2(1-rho))) / (1 + a + a^2/(2(1-rho))) = 16.2/19,
     * Wq = C / (c mu - lambda) = 85.26 ms. 20 replications of 4000 s
     * after a 100 s warm-up (360k calls each): the 99% CI is about +-1.9%,
     * so both checks bite. Theory must lie in the CI and within 3%. */
    enum { REPS = 20, SPAN = 4000 };
    const double lambda = 90, mean = 0.020;
    const int c = 2;
    double wait[REPS], util[REPS];
    for (int rep = 0; rep < REPS; rep++) {
        sim_config_t cfg = {.master_seed = 42, .replication = (uint32_t)rep, .warmup = 100 * SIM_SEC};
        sim_t *sim = sim_create(&cfg);
        cr_assert_not_null(sim);
        embedder_spec_t spec;
        spec_default(&spec);
        sim_dist_fini(&spec.base);
        cr_assert_eq(sim_dist_exponential(&spec.base, mean), 0);
        spec.per_token = 0;
        spec.max_batch_size = 1;
        spec.concurrency = c;
        poisson_t p = {.mean_gap_s = 1.0 / lambda};
        call_pool_init(&p.pool);
        p.e = embedder_create(sim, &spec);
        p.arr = sim_stream(sim, "test/arrivals");
        cr_assert(p.e && p.arr);
        sim_schedule_at(sim, 0, poisson_arrival, &p, 0);
        sim_run(sim, (100 + SPAN) * SIM_SEC);
        embedder_stats_t s;
        embedder_stats(p.e, &s);
        wait[rep] = s.mean_wait_s;
        util[rep] = s.busy_ratio;
        embedder_destroy(p.e);
        sim_destroy(sim);
        call_pool_fini(&p.pool);
        embedder_spec_fini(&spec);
    }
    struct { const char *what; const double *x; double expect; } checks[] = {
        {"M/M/2 Wq (Erlang C)", wait, theory_mmc_wq(lambda, 1 / mean, c)},
        {"M/M/2 utilisation", util, lambda * mean / c},
    };
    cr_assert_float_eq(checks[0].expect, 16.2 / 19.0 / (2 * 50.0 - 90.0), 1e-12);
    for (int k = 0; k < 2; k++) {
        sim_ci_t ci = sim_ci_student(checks[k].x, REPS, 0.99);
        double expect = checks[k].expect, rel = fabs(ci.mean - expect) / expect;
        cr_log_info("%s: simulated %.5f +- %.5f (99%% CI), theory %.5f, off by %.2f%%", checks[k].what, ci.mean,
                    ci.half_width, expect, rel * 100);
        cr_expect(sim_ci_lo(ci) <= expect && expect <= sim_ci_hi(ci), "%s: theory %.5f outside [%.5f, %.5f]",
                  checks[k].what, expect, sim_ci_lo(ci), sim_ci_hi(ci));
        cr_expect_lt(ci.half_width / expect, 0.03, "%s: CI +-%.2f%% wider than the 3%% tolerance",
                     checks[k].what, 100 * ci.half_width / expect);
        cr_expect_lt(rel, 0.03, "%s: %.2f%% from theory", checks[k].what, rel * 100);
    }
}

/* ---- waiting room, timeouts, faults ----------------------------------- */

Test(embedder, queue_limit_rejects_when_waiting_room_is_full)
{
    /* Batch 1, window 0, base 10 ms, queue_limit 2. Five calls at t = 0:
     * c0 starts, c1 and c2 wait, c3 and c4 are rejected at once. c1 ends
     * 20, c2 30. c5 at 12 ms finds only c2 waiting: accepted, ends 40.
     * c6 at 35 ms finds c5 running and nobody waiting: waits, ends 50. */
    fix_t f = {0};
    spec_default(&f.spec);
    set_base(&f.spec, 0.010);
    f.spec.per_token = 0;
    f.spec.max_batch_size = 1;
    f.spec.max_queue_delay = 0;
    f.spec.queue_limit = 2;
    fix_init(&f, &CFG);
    for (int i = 0; i < 5; i++) submit_at(&f, 0, (uint64_t)i, 1);
    submit_at(&f, 12 * MS, 5, 1);
    submit_at(&f, 35 * MS, 6, 1);
    sim_run(f.sim, 1 * SIM_SEC);
    const sim_time_t at[7] = {10 * MS, 20 * MS, 30 * MS, 0, 0, 40 * MS, 50 * MS};
    const int st[7] = {CALL_OK, CALL_OK, CALL_OK, CALL_REJECTED, CALL_REJECTED, CALL_OK, CALL_OK};
    for (int i = 0; i < 7; i++) {
        cr_expect_eq(f.at[i], at[i], "c%d at %lld", i, (long long)f.at[i]);
        cr_expect_eq(f.status[i], st[i], "c%d: %s", i, call_status_name(f.status[i]));
    }
    embedder_stats_t s;
    embedder_stats(f.e, &s);
    cr_expect_eq(s.completed[CALL_REJECTED], 2);
    cr_expect_eq(s.submitted, 7);
    cr_expect_eq(f.pool.live, 0);
    fix_fini(&f);
}

Test(embedder, queue_limit_zero_admits_only_calls_that_start_at_once)
{
    /* queue_limit 0, window 0: a call to an idle instance starts (done 10);
     * a second one at the same time would have to wait: rejected. */
    fix_t f = {0};
    spec_default(&f.spec);
    set_base(&f.spec, 0.010);
    f.spec.max_queue_delay = 0;
    f.spec.per_token = 0;
    f.spec.queue_limit = 0;
    fix_init(&f, &CFG);
    submit_at(&f, 0, 0, 1);
    submit_at(&f, 0, 1, 1);
    sim_run(f.sim, 1 * SIM_SEC);
    cr_expect_eq(f.status[0], CALL_OK);
    cr_expect_eq(f.at[0], 10 * MS);
    cr_expect_eq(f.status[1], CALL_REJECTED);
    cr_expect_eq(f.at[1], 0);
    fix_fini(&f);
}

Test(embedder, caller_timeout_still_occupies_the_batch)
{
    /* Base 100 ms, window 0, batch 4. c0 at 0 with a 30 ms caller timeout
     * starts alone; its caller hears TIMEOUT at 30 ms, but the batch runs to
     * 100 ms. c1 (10 ms) waits behind it: starts 100, done 200. */
    fix_t f = {0};
    spec_default(&f.spec);
    set_base(&f.spec, 0.100);
    f.spec.per_token = 0;
    f.spec.max_batch_size = 4;
    f.spec.max_queue_delay = 0;
    fix_init(&f, &CFG);
    f.timeout[0] = 30 * MS;
    submit_at(&f, 0, 0, 1);
    submit_at(&f, 10 * MS, 1, 1);
    sim_run(f.sim, 1 * SIM_SEC);
    cr_expect_eq(f.status[0], CALL_TIMEOUT);
    cr_expect_eq(f.at[0], 30 * MS);
    cr_expect_eq(f.heard[0], 1, "the owner is told once");
    cr_expect_eq(f.status[1], CALL_OK);
    cr_expect_eq(f.at[1], 200 * MS);
    embedder_stats_t s;
    embedder_stats(f.e, &s);
    cr_expect_eq(s.completed[CALL_OK], 2, "the timed-out call was still served");
    cr_expect_eq(s.orphaned, 1);
    cr_expect_eq(s.batches, 2);
    cr_expect_eq(f.pool.live, 0);
    fix_fini(&f);
}

static int find_log(const sim_table_t *t, size_t from, const char *kind, const char *source, sim_time_t *at)
{
    int ck = sim_table_find_col(t, "kind"), cs = sim_table_find_col(t, "source"),
        ct = sim_table_find_col(t, "time_ns");
    for (size_t i = from; i < t->nrows; i++)
        if (strcmp(sim_table_get_str(t, i, ck), kind) == 0 && strcmp(sim_table_get_str(t, i, cs), source) == 0) {
            *at = sim_table_get_i64(t, i, ct);
            return (int)i;
        }
    return -1;
}

Test(embedder, kill_fails_queued_and_running_calls_and_restarts_after_backoff)
{
    /* Base 10 ms, window 0, batch 2, startup 1 s, back-off 10 s doubling.
     * Four calls at 0: c0 runs alone, c1..c3 wait. Kill at 5 ms: all four
     * fail with CALL_ERROR at 5 ms (c0's batch completion is cancelled).
     * c4 at 6 ms: nothing up -> CALL_UNAVAILABLE. A first crash: no
     * back-off, ready after the startup at 5 ms + 1 s = 1.005 s; c5 at
     * 1.006 s is served (1.016). Kill again at 12 s (under `reset` since
     * the restart): back-off 10 s, ready at 12 + 10 + 1 = 23 s. A third
     * kill at 30 s: 20 s, ready at 30 + 20 + 1 = 51 s. */
    fix_t f = {0};
    spec_default(&f.spec);
    set_base(&f.spec, 0.010);
    f.spec.per_token = 0;
    f.spec.max_batch_size = 2;
    f.spec.max_queue_delay = 0;
    f.spec.startup = 1 * SIM_SEC;
    fix_init(&f, &CFG);
    for (int i = 0; i < 4; i++) submit_at(&f, 0, (uint64_t)i, 1);
    sim_schedule_at(f.sim, 5 * MS, kill_event, &f, 1);
    submit_at(&f, 6 * MS, 4, 1);
    submit_at(&f, 1006 * MS, 5, 1);
    sim_schedule_at(f.sim, 12 * SIM_SEC, kill_event, &f, 0);
    sim_schedule_at(f.sim, 30 * SIM_SEC, kill_event, &f, 0);

    sim_run(f.sim, 7 * MS);
    cr_expect_eq(embedder_ops.replicas_up(f.e), 0);
    sim_run(f.sim, 60 * SIM_SEC);
    cr_expect_eq(embedder_ops.replicas_up(f.e), 1);

    for (int i = 0; i < 4; i++) {
        cr_expect_eq(f.status[i], CALL_ERROR, "c%d: %s", i, call_status_name(f.status[i]));
        cr_expect_eq(f.at[i], 5 * MS, "c%d at %lld", i, (long long)f.at[i]);
        cr_expect_eq(f.heard[i], 1, "c%d told %d times", i, f.heard[i]);
    }
    cr_expect_eq(f.status[4], CALL_UNAVAILABLE);
    cr_expect_eq(f.at[4], 6 * MS);
    cr_expect_eq(f.status[5], CALL_OK);
    cr_expect_eq(f.at[5], 1016 * MS);
    cr_expect_eq(f.ndone, 6);
    cr_expect_eq(f.pool.live, 0);

    const sim_table_t *t = sim_log_table(f.sim);
    sim_time_t at = -1;
    int row = find_log(t, 0, "replica_killed", "embedder/0", &at);
    cr_assert_geq(row, 0);
    cr_expect_eq(at, 5 * MS);
    row = find_log(t, (size_t)row + 1, "replica_restarted", "embedder/0", &at);
    cr_assert_geq(row, 0);
    cr_expect_eq(at, 1005 * MS);
    row = find_log(t, (size_t)row + 1, "replica_killed", "embedder/0", &at);
    cr_assert_geq(row, 0);
    cr_expect_eq(at, 12 * SIM_SEC);
    row = find_log(t, (size_t)row + 1, "replica_restarted", "embedder/0", &at);
    cr_assert_geq(row, 0);
    cr_expect_eq(at, 23 * SIM_SEC);
    row = find_log(t, (size_t)row + 1, "replica_killed", "embedder/0", &at);
    cr_assert_geq(row, 0);
    cr_expect_eq(at, 30 * SIM_SEC);
    row = find_log(t, (size_t)row + 1, "replica_restarted", "embedder/0", &at);
    cr_assert_geq(row, 0);
    cr_expect_eq(at, 51 * SIM_SEC);
    embedder_stats_t s;
    embedder_stats(f.e, &s);
    cr_expect_eq(s.kills, 3);
    cr_expect_eq(s.restarts, 3);
    cr_expect_eq(s.completed[CALL_ERROR], 4);
    cr_expect_eq(s.completed[CALL_UNAVAILABLE], 1);
    fix_fini(&f);
}

Test(embedder, kill_one_replica_leaves_the_others_serving)
{
    /* Two replicas, round robin. Kill replica 1 at 1 ms; calls at 2 ms all
     * go to replica 0 (batch 1, base 10 ms): done 12, 22. */
    fix_t f = {0};
    spec_default(&f.spec);
    set_base(&f.spec, 0.010);
    f.spec.per_token = 0;
    f.spec.max_batch_size = 1;
    f.spec.replicas = 2;
    fix_init(&f, &CFG);
    sim_schedule_at(f.sim, 1 * MS, kill_event, &f, 2);
    submit_at(&f, 2 * MS, 0, 1);
    submit_at(&f, 2 * MS, 1, 1);
    sim_run(f.sim, 1 * SIM_SEC);
    cr_expect_eq(embedder_ops.replicas_up(f.e), 1);
    cr_expect_eq(f.at[0], 12 * MS);
    cr_expect_eq(f.at[1], 22 * MS);
    sim_time_t at;
    cr_expect_lt(find_log(sim_log_table(f.sim), 0, "replica_killed", "embedder/0", &at), 0);
    cr_expect_geq(find_log(sim_log_table(f.sim), 0, "replica_killed", "embedder/1", &at), 0);
    fix_fini(&f);
}

Test(embedder, set_speed_slows_batches_that_start_afterwards)
{
    /* Batch 1, window 0, base 10 ms. c0 runs 0-10 ms; speed 0.5 at 5 ms does
     * not touch it. c1 (6 ms) starts at 10 and takes 20 -> 30 ms. Speed 0 at
     * 31 ms stalls dispatch: c2 (32 ms) waits until speed 1 at 50 -> 60 ms. */
    fix_t f = {0};
    spec_default(&f.spec);
    set_base(&f.spec, 0.010);
    f.spec.per_token = 0;
    f.spec.max_batch_size = 1;
    fix_init(&f, &CFG);
    submit_at(&f, 0, 0, 1);
    sim_schedule_at(f.sim, 5 * MS, speed_event, &f, 50);
    submit_at(&f, 6 * MS, 1, 1);
    sim_schedule_at(f.sim, 31 * MS, speed_event, &f, 0);
    submit_at(&f, 32 * MS, 2, 1);
    sim_schedule_at(f.sim, 50 * MS, speed_event, &f, 100);
    sim_run(f.sim, 1 * SIM_SEC);
    cr_expect_eq(f.at[0], 10 * MS);
    cr_expect_eq(f.at[1], 30 * MS);
    cr_expect_eq(f.at[2], 60 * MS);
    fix_fini(&f);
}

Test(embedder, injected_error_rate_matches_ratio)
{
    /* 20000 calls, error ratio 0.2: errors ~ Binomial(20000, 0.2), mean
     * 4000, sd 56.6; accept within 4.5 sd. Ratio 0 gives none, 1 gives all. */
    enum { N = 20000 };
    const double ratios[3] = {0.2, 0.0, 1.0};
    uint64_t errors[3];
    for (int k = 0; k < 3; k++) {
        sim_t *sim = sim_create(&CFG);
        embedder_spec_t spec;
        spec_default(&spec);
        embedder_t *e = embedder_create(sim, &spec);
        cr_assert_not_null(e);
        call_pool_t pool;
        call_pool_init(&pool);
        embedder_ops.set_error_ratio(e, ratios[k]);
        for (int i = 0; i < N; i++) {
            call_t *c = call_new(&pool, e, ignore_done, 0, 0);
            c->tokens_in = 16;
            embedder_ops.submit(e, c);
        }
        sim_run(sim, 3600 * SIM_SEC);
        embedder_stats_t s;
        embedder_stats(e, &s);
        cr_expect_eq(s.completed[CALL_OK] + s.completed[CALL_ERROR], N);
        errors[k] = s.completed[CALL_ERROR];
        embedder_destroy(e);
        sim_destroy(sim);
        call_pool_fini(&pool);
        embedder_spec_fini(&spec);
    }
    double sd = sqrt(N * 0.2 * 0.8);
    cr_expect_lt(fabs((double)errors[0] - N * 0.2), 4.5 * sd, "errors %llu, expected ~%g",
                 (unsigned long long)errors[0], N * 0.2);
    cr_expect_eq(errors[1], 0);
    cr_expect_eq(errors[2], N);
}

Test(embedder, time_series_sample_known_values)
{
    /* Sample every 10 ms. Batch 2, window 0, base 10 ms; three calls at 0:
     * c0 runs 0-10 alone, {c1, c2} run 10-20. The sample at 10 ms runs
     * before the batch end at 10 ms (scheduled earlier), at 20 ms likewise.
     *   t=10: queue 2, batches [0,10): one of size 1, busy 1.0, up 1
     *   t=20: queue 0, one batch of size 2, busy 1.0
     *   t=30: queue 0, no batch (NaN), busy 0 */
    fix_t f = {0};
    spec_default(&f.spec);
    set_base(&f.spec, 0.010);
    f.spec.per_token = 0;
    f.spec.max_batch_size = 2;
    f.spec.max_queue_delay = 0;
    sim_config_t cfg = {.master_seed = 1, .sample_interval = 10 * MS};
    fix_init(&f, &cfg);
    for (int i = 0; i < 3; i++) submit_at(&f, 0, (uint64_t)i, 1);
    sim_run(f.sim, 30 * MS);
    const char *names[4] = {"embedder_queue_length", "embedder_batch_size_mean", "embedder_busy_ratio",
                            "embedder_replicas_up"};
    const double expect[4][3] = {{2, 0, 0}, {1, 2, NAN}, {1, 1, 0}, {1, 1, 1}};
    cr_assert_eq(sim_series_samples(f.sim), 3);
    for (int k = 0; k < 4; k++) {
        size_t col = sim_series_count(f.sim);
        for (size_t j = 0; j < sim_series_count(f.sim); j++)
            if (strcmp(sim_series_name(f.sim, j), names[k]) == 0) col = j;
        cr_assert_lt(col, sim_series_count(f.sim), "no series %s", names[k]);
        const double *v = sim_series_data(f.sim, col);
        for (int j = 0; j < 3; j++) {
            if (isnan(expect[k][j]))
                cr_expect(isnan(v[j]), "%s[%d] = %g, expected NaN", names[k], j, v[j]);
            else
                cr_expect_float_eq(v[j], expect[k][j], 1e-12, "%s[%d] = %g", names[k], j, v[j]);
        }
    }
    fix_fini(&f);
}

/* ---- determinism ----------------------------------------------------------- */

typedef struct {
    poisson_t p;
    uint64_t hash;
    uint64_t n;
} trace_t;

static trace_t trace;

static void hash_done(sim_t *sim, call_t *c, call_status_t st)
{
    (void)c;
    trace_t *t = &trace;
    uint64_t x = (uint64_t)sim_now(sim) * 31 + (uint64_t)st;
    t->hash = (t->hash ^ x) * 0x100000001b3ull;
    t->n++;
}

static void traced_arrival(sim_t *sim, void *obj, uint64_t arg)
{
    (void)arg;
    trace_t *t = obj;
    double gap = -log(sim_rng_uniform_pos(t->p.arr)) * t->p.mean_gap_s;
    sim_schedule_in(sim, sim_time_from_s(gap), traced_arrival, t, 0);
    call_t *c = call_new(&t->p.pool, t, hash_done, 0, sim_now(sim));
    c->tokens_in = 50;
    call_set_timeout(sim, c, 40 * MS);
    embedder_ops.submit(t->p.e, c);
}

static void det_kill(sim_t *sim, void *obj, uint64_t arg)
{
    (void)sim;
    embedder_ops.kill(obj, (int)arg);
}

static uint64_t run_traced(uint32_t replication, uint64_t *ncalls)
{
    sim_config_t cfg = {.master_seed = 7, .replication = replication, .sample_interval = SIM_SEC};
    sim_t *sim = sim_create(&cfg);
    embedder_spec_t spec;
    spec_default(&spec);
    sim_dist_fini(&spec.base);
    sim_dist_exponential(&spec.base, 0.008);
    spec.replicas = 2;
    spec.concurrency = 2;
    spec.max_batch_size = 8;
    spec.startup = SIM_SEC;
    spec.load_balancer = LB_POWER_OF_TWO;
    trace_t *t = &trace;
    memset(t, 0, sizeof *t);
    t->hash = 0xcbf29ce484222325ull;
    t->p.mean_gap_s = 1.0 / 400;
    call_pool_init(&t->p.pool);
    t->p.e = embedder_create(sim, &spec);
    t->p.arr = sim_stream(sim, "test/arrivals");
    cr_assert(sim && t->p.e && t->p.arr);
    embedder_ops.set_error_ratio(t->p.e, 0.05);
    sim_schedule_at(sim, 0, traced_arrival, t, 0);
    sim_schedule_at(sim, 5 * SIM_SEC, det_kill, t->p.e, 1);
    sim_run(sim, 30 * SIM_SEC);
    *ncalls = t->n;
    embedder_destroy(t->p.e);
    sim_destroy(sim);
    call_pool_fini(&t->p.pool);
    embedder_spec_fini(&spec);
    return t->hash;
}

Test(embedder, same_seed_same_trace_other_replication_differs)
{
    uint64_t n1, n2, n3;
    uint64_t a = run_traced(0, &n1), b = run_traced(0, &n2), c = run_traced(1, &n3);
    cr_expect_gt(n1, 10000);
    cr_expect_eq(n1, n2);
    cr_expect_eq(a, b, "same seed and replication must give the same trace");
    cr_expect_neq(a, c, "another replication must draw other numbers");
}

/* ---- parsing ----------------------------------------------------------- */

static sim_cfg_t *load(sim_diag_t *d, const char *text)
{
    sim_cfg_t *cfg = sim_cfg_load_string("emb.yaml", text, strlen(text), d);
    cr_assert_not_null(cfg, "%s", sim_diag_text(d));
    return cfg;
}

Test(embedder, parse_defaults)
{
    const char *texts[2] = {NULL, "embedder:\n"};
    for (int k = 0; k < 2; k++) {
        sim_diag_t d;
        sim_diag_init(&d);
        sim_cfg_t *cfg = texts[k] ? load(&d, texts[k]) : NULL;
        sim_cfg_node_t *map = cfg ? sim_cfg_get(sim_cfg_root(cfg), "embedder") : NULL;
        embedder_spec_t s;
        cr_assert_eq(embedder_spec_parse(&d, map, &s), 0, "%s", sim_diag_text(&d));
        cr_expect_eq(s.replicas, 1);
        cr_expect_eq(s.concurrency, 1);
        cr_expect_eq(s.max_batch_size, 32);
        cr_expect_eq(s.max_queue_delay, 2 * MS);
        cr_expect_str_eq(sim_dist_name(&s.base), "deterministic");
        cr_expect_float_eq(sim_dist_mean(&s.base), 0.004, 1e-15);
        cr_expect_eq(s.per_token, 10 * SIM_US);
        cr_expect_eq(s.queue_limit, INT64_MAX);
        cr_expect_eq(s.startup, 10 * SIM_SEC);
        cr_expect_eq(s.load_balancer, LB_ROUND_ROBIN);
        cr_expect_eq(s.restart_backoff.initial, 10 * SIM_SEC);
        cr_expect_eq(s.restart_backoff.cap, 300 * SIM_SEC);
        cr_expect_eq(s.restart_backoff.reset, 600 * SIM_SEC);
        if (cfg) cr_expect_eq(sim_cfg_check_unused(cfg, &d), 0, "%s", sim_diag_text(&d));
        embedder_spec_fini(&s);
        sim_cfg_destroy(cfg);
        sim_diag_fini(&d);
    }
}

Test(embedder, parse_every_key)
{
    sim_diag_t d;
    sim_diag_init(&d);
    sim_cfg_t *cfg = load(&d,
                          "embedder:\n"
                          "  replicas: 3\n"
                          "  concurrency: 2\n"
                          "  max_batch_size: 16\n"
                          "  max_queue_delay: 500us\n"
                          "  batch_time:\n"
                          "    base: {dist: exponential, mean: 6ms}\n"
                          "    per_token: 20us\n"
                          "  queue_limit: 100\n"
                          "  startup: 30s\n"
                          "  load_balancer: least_outstanding\n"
                          "  restart_backoff: {initial: 5s, cap: 60s, reset: 5m}\n");
    embedder_spec_t s;
    cr_assert_eq(embedder_spec_parse(&d, sim_cfg_get(sim_cfg_root(cfg), "embedder"), &s), 0, "%s",
                 sim_diag_text(&d));
    cr_expect_eq(sim_cfg_check_unused(cfg, &d), 0, "%s", sim_diag_text(&d));
    cr_expect_eq(s.replicas, 3);
    cr_expect_eq(s.concurrency, 2);
    cr_expect_eq(s.max_batch_size, 16);
    cr_expect_eq(s.max_queue_delay, 500 * SIM_US);
    cr_expect_str_eq(sim_dist_name(&s.base), "exponential");
    cr_expect_float_eq(sim_dist_mean(&s.base), 0.006, 1e-15);
    cr_expect_eq(s.per_token, 20 * SIM_US);
    cr_expect_eq(s.queue_limit, 100);
    cr_expect_eq(s.startup, 30 * SIM_SEC);
    cr_expect_eq(s.load_balancer, LB_LEAST_OUTSTANDING);
    cr_expect_eq(s.restart_backoff.initial, 5 * SIM_SEC);
    cr_expect_eq(s.restart_backoff.cap, 60 * SIM_SEC);
    cr_expect_eq(s.restart_backoff.reset, 300 * SIM_SEC);
    embedder_spec_fini(&s);
    sim_cfg_destroy(cfg);
    sim_diag_fini(&d);
}

/* Parse `text`, expect failure (or an unknown key) and return the messages. */
static void expect_error(const char *text, const char *needle1, const char *needle2)
{
    sim_diag_t d;
    sim_diag_init(&d);
    sim_cfg_t *cfg = load(&d, text);
    embedder_spec_t s;
    int rc = embedder_spec_parse(&d, sim_cfg_get(sim_cfg_root(cfg), "embedder"), &s);
    if (rc == 0) cr_expect_gt(sim_cfg_check_unused(cfg, &d), 0, "no error for:\n%s", text);
    else cr_expect_eq(rc, SIM_ECONFIG);
    const char *msg = sim_diag_text(&d);
    cr_log_info("%s", msg);
    cr_expect(strstr(msg, needle1) != NULL, "'%s' not in: %s", needle1, msg);
    cr_expect(strstr(msg, needle2) != NULL, "'%s' not in: %s", needle2, msg);
    embedder_spec_fini(&s);
    sim_cfg_destroy(cfg);
    sim_diag_fini(&d);
}

Test(embedder, parse_bad_value_reports_file_line_col)
{
    expect_error("embedder:\n  replicas: 2\n  max_batch_size: 0\n", "emb.yaml:3:19: error:",
                 "'embedder.max_batch_size'");
    expect_error("embedder:\n  load_balancer: round_robbin\n", "emb.yaml:2:18: error:", "round_robin");
    expect_error("embedder:\n  restart_backoff: {initial: 20s, cap: 10s}\n", "emb.yaml:2:",
                 "'cap' must not be shorter than 'initial'");
    expect_error("embedder:\n  max_batch_sise: 4\n", "emb.yaml:2:3: error:", "did you mean 'max_batch_size'");
    expect_error("embedder: [1, 2]\n", "emb.yaml:1:11: error:", "expected a mapping");
}

Test(embedder, parse_bare_number_base_is_a_unit_error)
{
    expect_error("embedder:\n  batch_time:\n    base: 4\n", "emb.yaml:3:11: error:", "unit");
    expect_error("embedder:\n  batch_time:\n    per_token: 10\n", "emb.yaml:3:16: error:", "unit");
}

/* ---- autoscaling (the HPA of models/components/replicas/hpa.h) ---------------- */

static void paced_arrival(sim_t *sim, void *obj, uint64_t left)
{
    fix_t *f = obj;
    call_t *c = call_new(&f->pool, f, ignore_done, 0, sim_now(sim));
    cr_assert_not_null(c);
    embedder_ops.submit(f->e, c);
    if (left > 1) sim_schedule_in(sim, 25 * MS / 2, paced_arrival, f, left - 1);
}

Test(embedder, autoscale_hand_trace_up_on_cpu_then_down_after_the_window)
{
    /* One call every 12.5 ms (80/s) until 60 s, each a 10 ms batch of one
     * (batch size 1, no window): 0.8 of an instance. One replica at the
     * start; the HPA on cpu, target 40%, syncs every 15 s, startup 10 s:
     *   15 s  cpu 0.8 over [0, 15]: ratio 2, ceil(1 x 2) = 2 -> scale_up 2
     *   25 s  embedder/1 ready; round robin: 0.4 each from then on
     *   30 s  replica 0 (10 s at 0.8 + 5 s at 0.4) / 15 = 0.667, replica 1
     *         0.4 over its 5 ready seconds: ratio 1.0667 / 0.8 = 1.333,
     *         ceil(2 x 1.333) = 3 -> scale_up 3
     *   40 s  embedder/2 ready; 0.2667 each
     *   45 s  (10 x 0.4 + 5 x 0.2667) / 15 = 0.356 twice, 0.2667: ratio
     *         0.815, ceil(3 x 0.815) = 3: no change
     *   60 s  0.2667 each: recommendation 2; arrivals stop; then 0: 1
     *   345 s the recommendations of 3 (30 s, 45 s) leave the 300 s
     *         window; the highest left is 2 (60 s) -> scale_down 2:
     *         embedder/2 (the highest ready, idle) is removed at once
     *   360 s the 2 of 60 s leaves it too -> scale_down 1, embedder/1 */
    fix_t f = {0};
    sim_diag_t d;
    sim_diag_init(&d);
    sim_cfg_t *cfg = load(&d, "embedder:\n  max_batch_size: 1\n  max_queue_delay: 0s\n"
                              "  batch_time: {base: 10ms, per_token: 0s}\n"
                              "  autoscale: {max_replicas: 4, metric: cpu, target: 40%}\n");
    cr_assert_eq(embedder_spec_parse(&d, sim_cfg_get(sim_cfg_root(cfg), "embedder"), &f.spec), 0, "%s",
                 sim_diag_text(&d));
    cr_assert_eq(sim_cfg_check_unused(cfg, &d), 0, "%s", sim_diag_text(&d));
    sim_cfg_destroy(cfg);
    sim_diag_fini(&d);
    cr_assert(f.spec.autoscale.enabled);
    cr_assert_eq(f.spec.slots, 4);
    fix_init(&f, &CFG);
    sim_schedule_at(f.sim, 0, paced_arrival, &f, 60 * 80);
    sim_run(f.sim, 400 * SIM_SEC);
    const sim_table_t *t = sim_log_table(f.sim);
    int cv = sim_table_find_col(t, "value");
    sim_time_t at;
    int row = find_log(t, 0, "scale_up", "embedder", &at);
    cr_assert_geq(row, 0);
    cr_assert_eq(at, 15 * SIM_SEC);
    cr_assert_float_eq(sim_table_get_f64(t, (size_t)row, cv), 2, 1e-12);
    row = find_log(t, (size_t)row + 1, "replica_ready", "embedder/1", &at);
    cr_assert_geq(row, 0);
    cr_assert_eq(at, 25 * SIM_SEC, "startup (10 s) after the scale-up");
    row = find_log(t, (size_t)row + 1, "scale_up", "embedder", &at);
    cr_assert_geq(row, 0);
    cr_assert_eq(at, 30 * SIM_SEC);
    cr_assert_float_eq(sim_table_get_f64(t, (size_t)row, cv), 3, 1e-12);
    row = find_log(t, (size_t)row + 1, "replica_ready", "embedder/2", &at);
    cr_assert_geq(row, 0);
    cr_assert_eq(at, 40 * SIM_SEC);
    int down = find_log(t, 0, "scale_down", "embedder", &at);
    cr_assert_geq(down, 0);
    cr_assert_eq(at, 345 * SIM_SEC, "the 300 s stabilisation window");
    cr_assert_float_eq(sim_table_get_f64(t, (size_t)down, cv), 2, 1e-12);
    cr_assert_geq(find_log(t, (size_t)down, "replica_removed", "embedder/2", &at), 0);
    cr_assert_eq(at, 345 * SIM_SEC, "idle: drained at once");
    down = find_log(t, (size_t)down + 1, "scale_down", "embedder", &at);
    cr_assert_geq(down, 0);
    cr_assert_eq(at, 360 * SIM_SEC);
    cr_assert_float_eq(sim_table_get_f64(t, (size_t)down, cv), 1, 1e-12);
    cr_assert_geq(find_log(t, (size_t)down, "replica_removed", "embedder/1", &at), 0);
    cr_assert_lt(find_log(t, (size_t)down + 1, "scale_down", "embedder", &at), 0, "nothing below min_replicas 1");
    embedder_stats_t st;
    embedder_stats(f.e, &st);
    cr_assert_eq(st.completed[CALL_OK], 60 * 80, "every call served");
    cr_assert_eq(st.replicas_up, 1);
    fix_fini(&f);
}

static void drain_probe(sim_t *sim, void *obj, uint64_t arg)
{
    (void)sim;
    (void)arg;
    fix_t *f = obj;
    cr_assert_eq(embedder_autoscale_sync(f->e), 1, "no load: down to min_replicas at once (window 0)");
}

Test(embedder, autoscale_scale_down_drains_the_calls_of_the_replica_removed)
{
    /* Two replicas, a 100 ms batch of one, no window; scale-down window 0
     * (no stabilisation) and a sync far away so that the test drives it.
     * At 0 four calls arrive: round robin puts 0, 2 on replica 0 and 1, 3
     * on replica 1 (one running, one waiting each). At 50 ms a sync sees
     * (queue metric) 1 waiting per replica against a target of 10: down to
     * 1; replica 1 leaves the load balancer but serves its two calls (done
     * at 100 and 200 ms), then is removed at 200 ms. */
    fix_t f = {0};
    sim_diag_t d;
    sim_diag_init(&d);
    sim_cfg_t *cfg = load(&d, "embedder:\n  replicas: 2\n  max_batch_size: 1\n  max_queue_delay: 0s\n"
                              "  batch_time: {base: 100ms, per_token: 0s}\n"
                              "  autoscale: {max_replicas: 2, metric: queue, target: 10, sync: 1h, down: {window: 0s}}\n");
    cr_assert_eq(embedder_spec_parse(&d, sim_cfg_get(sim_cfg_root(cfg), "embedder"), &f.spec), 0, "%s",
                 sim_diag_text(&d));
    sim_cfg_destroy(cfg);
    sim_diag_fini(&d);
    fix_init(&f, &CFG);
    for (int i = 0; i < 4; i++) submit_at(&f, 0, (uint64_t)i, 10);
    sim_schedule_at(f.sim, 50 * MS, drain_probe, &f, 0);
    submit_at(&f, 150 * MS, 4, 10);   /* after the scale-down: replica 0 only (free at 200 ms) */
    sim_run(f.sim, 10 * SIM_SEC);
    for (int i = 0; i < 4; i++) cr_assert_eq(f.status[i], CALL_OK, "call %d", i);
    cr_assert_eq(f.at[0], 100 * MS);
    cr_assert_eq(f.at[1], 100 * MS);
    cr_assert_eq(f.at[2], 200 * MS);
    cr_assert_eq(f.at[3], 200 * MS, "the draining replica serves its waiting call");
    cr_assert_eq(f.at[4], 300 * MS, "the new call goes to replica 0, busy until 200 ms");
    sim_time_t at;
    const sim_table_t *t = sim_log_table(f.sim);
    cr_assert_geq(find_log(t, 0, "scale_down", "embedder", &at), 0);
    cr_assert_eq(at, 50 * MS);
    cr_assert_geq(find_log(t, 0, "replica_removed", "embedder/1", &at), 0);
    cr_assert_eq(at, 200 * MS, "removed once drained");
    fix_fini(&f);
}
