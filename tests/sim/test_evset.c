/* Event set and run loop: ordering, ties by schedule order, cancellation,
 * pooling, and a randomized stress test against a reference sort. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "sim/sim.h"
#include "testutil.h"

typedef struct {
    uint64_t log[200000];
    sim_time_t times[200000];
    size_t n;
} trace_t;

static void record(sim_t *sim, void *obj, uint64_t arg)
{
    trace_t *t = obj;
    t->times[t->n] = sim_now(sim);
    t->log[t->n++] = arg;
}

Test(event_set, runs_events_in_time_order)
{
    static trace_t t;
    t.n = 0;
    sim_t *sim = tu_sim(1);
    sim_time_t at[] = {50, 10, 40, 20, 30};
    for (int i = 0; i < 5; i++) sim_schedule_at(sim, at[i], record, &t, (uint64_t)i);
    cr_assert_eq(sim_run(sim, SIM_TIME_MAX), SIM_RUN_EMPTY);
    uint64_t want[] = {1, 3, 4, 2, 0};
    cr_assert_eq(t.n, 5);
    for (int i = 0; i < 5; i++) cr_assert_eq(t.log[i], want[i], "position %d: %lu", i, t.log[i]);
    cr_assert_eq(sim_now(sim), 50);
    sim_destroy(sim);
}

Test(event_set, ties_break_by_schedule_order)
{
    static trace_t t;
    t.n = 0;
    sim_t *sim = tu_sim(1);
    /* 1000 events at the same time, scheduled in a known order, interleaved
     * with earlier and later ones: the tied ones must come out in order. */
    for (uint64_t i = 0; i < 1000; i++) {
        sim_schedule_at(sim, 100, record, &t, i);
        sim_schedule_at(sim, (sim_time_t)(i % 7), record, &t, 100000 + i);
        sim_schedule_at(sim, 200 + (sim_time_t)(i % 5), record, &t, 200000 + i);
    }
    sim_run(sim, SIM_TIME_MAX);
    cr_assert_eq(t.n, 3000);
    uint64_t expect = 0;
    for (size_t i = 0; i < t.n; i++)
        if (t.times[i] == 100) cr_assert_eq(t.log[i], expect++, "tie order broken at %zu", i);
    cr_assert_eq(expect, 1000);
    sim_destroy(sim);
}

static void chain(sim_t *sim, void *obj, uint64_t arg)
{
    trace_t *t = obj;
    record(sim, obj, arg);
    /* An event scheduled at the current time runs after everything already
     * scheduled for this time. */
    if (arg < 3) sim_schedule_in(sim, 0, chain, t, arg + 10);
}

Test(event_set, zero_delay_events_run_after_already_scheduled_ties)
{
    static trace_t t;
    t.n = 0;
    sim_t *sim = tu_sim(1);
    for (uint64_t i = 0; i < 3; i++) sim_schedule_at(sim, 5, chain, &t, i);
    sim_run(sim, SIM_TIME_MAX);
    uint64_t want[] = {0, 1, 2, 10, 11, 12};
    cr_assert_eq(t.n, 6);
    for (int i = 0; i < 6; i++) cr_assert_eq(t.log[i], want[i]);
    sim_destroy(sim);
}

Test(event_set, cancelled_events_do_not_run_and_stale_handles_are_harmless)
{
    static trace_t t;
    t.n = 0;
    sim_t *sim = tu_sim(1);
    sim_timer_t a = sim_schedule_at(sim, 10, record, &t, 1);
    sim_timer_t b = sim_schedule_at(sim, 20, record, &t, 2);
    sim_timer_t c = sim_schedule_at(sim, 30, record, &t, 3);
    cr_assert(sim_timer_pending(&b));
    cr_assert(sim_cancel(sim, &b));
    cr_assert_null(b.ev);
    cr_assert_not(sim_cancel(sim, &b), "double cancel must be a no-op");
    cr_assert_eq(sim_pending(sim), 2);
    sim_run(sim, 15);
    cr_assert_eq(t.n, 1);
    cr_assert_eq(sim_now(sim), 15);
    /* a already ran: its event was recycled; cancelling the stale handle must
     * not cancel whatever reuses the memory. */
    sim_timer_t d = sim_schedule_at(sim, 40, record, &t, 4);
    cr_assert_not(sim_cancel(sim, &a));
    cr_assert(sim_timer_pending(&d));
    sim_run(sim, SIM_TIME_MAX);
    cr_assert_eq(t.n, 3);
    cr_assert_eq(t.log[1], 3);
    cr_assert_eq(t.log[2], 4);
    (void)c;
    sim_destroy(sim);
}

Test(event_set, run_stops_at_end_time_inclusive)
{
    static trace_t t;
    t.n = 0;
    sim_t *sim = tu_sim(1);
    sim_schedule_at(sim, 100, record, &t, 1);
    sim_schedule_at(sim, 101, record, &t, 2);
    cr_assert_eq(sim_run(sim, 100), SIM_RUN_TIME);
    cr_assert_eq(t.n, 1);
    cr_assert_eq(sim_now(sim), 100);
    cr_assert_eq(sim_pending(sim), 1);
    sim_destroy(sim);
}

static void forever(sim_t *sim, void *obj, uint64_t arg)
{
    (void)arg;
    sim_schedule_in(sim, 0, forever, obj, 0);
}

Test(event_set, event_budget_ends_a_runaway_run)
{
    sim_config_t cfg = {.master_seed = 1, .max_events = 12345};
    sim_t *sim = sim_create(&cfg);
    sim_schedule_at(sim, 0, forever, NULL, 0);
    cr_assert_eq(sim_run(sim, SIM_TIME_MAX), SIM_RUN_BUDGET);
    cr_assert_eq(sim_events_processed(sim), 12345);
    sim_destroy(sim);
}

static int cmp_pair(const void *a, const void *b)
{
    const uint64_t *x = a, *y = b;   /* (time, seq) */
    if (x[0] != y[0]) return x[0] < y[0] ? -1 : 1;
    return x[1] < y[1] ? -1 : x[1] > y[1];
}

Test(event_set, random_schedule_and_cancel_match_a_reference_sort)
{
    /* 100k events with times drawn from a small range (many ties), a third
     * cancelled; the run order must equal the (time, schedule index) sort of
     * the survivors. Exercises heap growth, compaction and the pool. */
    enum { N = 100000 };
    static trace_t t;
    static uint64_t ref[N][2];
    static sim_timer_t h[N];
    t.n = 0;
    sim_t *sim = tu_sim(1);
    sim_rng_t r;
    sim_rng_init(&r, 42);
    size_t nref = 0;
    for (uint64_t i = 0; i < N; i++) {
        sim_time_t at = (sim_time_t)sim_rng_below(&r, 5000);
        h[i] = sim_schedule_at(sim, at, record, &t, i);
    }
    static bool cancelled[N];
    for (uint64_t i = 0; i < N; i++) {
        cancelled[i] = sim_rng_below(&r, 3) == 0;
        if (cancelled[i]) cr_assert(sim_cancel(sim, &h[i]));
    }
    for (uint64_t i = 0; i < N; i++)
        if (!cancelled[i]) {
            ref[nref][0] = (uint64_t)h[i].ev->time;
            ref[nref][1] = i;
            nref++;
        }
    qsort(ref, nref, sizeof ref[0], cmp_pair);
    cr_assert_eq(sim_pending(sim), nref);
    sim_run(sim, SIM_TIME_MAX);
    cr_assert_eq(t.n, nref);
    for (size_t i = 0; i < nref; i++) {
        cr_assert_eq(t.log[i], ref[i][1], "at %zu: got %lu want %lu", i, t.log[i], ref[i][1]);
        cr_assert_eq((uint64_t)t.times[i], ref[i][0]);
    }
    sim_destroy(sim);
}

static void hold(sim_t *sim, void *obj, uint64_t arg)
{
    sim_rng_t *r = obj;
    sim_schedule_in(sim, 1 + (sim_time_t)sim_rng_below(r, 1000000), hold, r, arg);
    /* a timeout scheduled and cancelled for every event, like an RPC deadline */
    sim_timer_t to = sim_schedule_in(sim, 5000000, hold, r, arg);
    sim_cancel(sim, &to);
}

Test(event_set, steady_state_allocates_no_new_events)
{
    sim_t *sim = tu_sim(1);
    sim_rng_t r;
    sim_rng_init(&r, 7);
    for (int i = 0; i < 10000; i++) sim_schedule_at(sim, (sim_time_t)i, hold, &r, 0);
    sim_run(sim, 20000000);                    /* warm the pool and heap */
    size_t events_before = sim->es.allocated, cap_before = sim->es.cap;
    sim_run(sim, 200000000);                   /* ten times longer */
    cr_assert_gt(sim_events_processed(sim), 1000000);
    cr_assert_eq(sim->es.allocated, events_before, "pool grew in steady state");
    cr_assert_eq(sim->es.cap, cap_before, "bucket arrays grew in steady state");
    cr_assert_eq(sim_pending(sim), 10000);
    cr_assert_leq(sim->es.n, 2 * 10000 + 4097, "cancelled entries not compacted");
    sim_destroy(sim);
}
