/* The circuit breaker: hand-computed traces of Resilience4j's state machine
 * (count and time windows, eviction, slow calls, half-open), the
 * consecutive-failures trigger, the Hystrix and Sentinel presets, and
 * parsing. */
#include <criterion/criterion.h>
#include <string.h>

#include "models/policies/circuit_breaker.h"
#include "sim/error.h"

#define MS SIM_MS
#define SEC SIM_SEC

/* Transition log */
typedef struct {
    int n;
    cb_state_t from[32], to[32];
    sim_time_t at[32];
} tlog_t;

static void on_tr(void *ctx, cb_state_t from, cb_state_t to, sim_time_t now)
{
    tlog_t *l = ctx;
    cr_assert_lt(l->n, 32);
    l->from[l->n] = from;
    l->to[l->n] = to;
    l->at[l->n] = now;
    l->n++;
}

static const bool F = true, S = false;   /* failure, success */

/* Record outcomes one second apart starting at *t (each 10 ms long) and
 * check the state after each. */
static void feed(cb_t *cb, sim_time_t *t, const bool *out, const cb_state_t *want, int n)
{
    for (int i = 0; i < n; i++) {
        cb_record(cb, *t, out[i], 10 * MS);
        cr_assert_eq(cb_state(cb), want[i], "outcome %d (%s): state %s, want %s", i, out[i] ? "F" : "S",
                     cb_state_name(cb_state(cb)), cb_state_name(want[i]));
        *t += SEC;
    }
}

static cb_spec_t r4j(int size, int min_calls, int permitted, sim_time_t wait)
{
    cb_spec_t s = cb_spec_preset(CB_PRESET_RESILIENCE4J);
    s.window_size = size;
    s.min_calls = min_calls;
    s.permitted = permitted;
    s.wait_open = wait;
    return s;
}

Test(breaker, resilience4j_defaults)
{
    cb_spec_t s = cb_spec_preset(CB_PRESET_RESILIENCE4J);
    cr_expect_eq(s.window, CB_COUNT_BASED);
    cr_expect_eq(s.window_size, 100);
    cr_expect_eq(s.min_calls, 100);
    cr_expect_eq(s.failure_rate, 0.5);
    cr_expect_eq(s.slow_rate, 1.0);
    cr_expect_eq(s.slow_duration, 60 * SEC);
    cr_expect_eq(s.wait_open, 60 * SEC);
    cr_expect_eq(s.permitted, 10);
    cr_expect_not(s.strictly_above);
    cr_expect_not(s.wait_inclusive);
    cr_expect_eq(s.consecutive_failures, 0);
}

Test(breaker, count_window_full_cycle)
{
    /* window 10, minimum 5, 50%, wait 10 s, 3 calls in half-open */
    cb_spec_t s = r4j(10, 5, 3, 10 * SEC);
    tlog_t log = {0};
    cb_t cb;
    cr_assert_eq(cb_init(&cb, &s, on_tr, &log), 0);
    sim_time_t t = SEC;

    /* F F S S S: 2/5 = 40% -> closed; F: 3/6 = 50% -> OPEN */
    cr_assert(cb_allow(&cb, 0));
    feed(&cb, &t, (bool[]){F, F, S, S, S}, (cb_state_t[]){CB_CLOSED, CB_CLOSED, CB_CLOSED, CB_CLOSED, CB_CLOSED}, 5);
    cr_assert_eq(cb_window_calls(&cb), 5);
    cr_assert_eq(cb_window_failed(&cb), 2);
    feed(&cb, &t, (bool[]){F}, (cb_state_t[]){CB_OPEN}, 1);
    sim_time_t opened = 6 * SEC;
    cr_assert_eq(log.n, 1);
    cr_assert_eq(log.from[0], CB_CLOSED);
    cr_assert_eq(log.to[0], CB_OPEN);
    cr_assert_eq(log.at[0], opened);
    cr_assert_eq(cb.opens, 1);

    /* OPEN rejects until the wait has passed (Resilience4j: strictly after) */
    cr_assert_not(cb_allow(&cb, opened));
    cr_assert_not(cb_allow(&cb, opened + 10 * SEC - 1));
    cr_assert_not(cb_allow(&cb, opened + 10 * SEC));
    cr_assert_eq(cb_state(&cb), CB_OPEN);
    cr_assert_eq(cb.rejected, 3);
    /* an outcome of an earlier call arriving while OPEN changes nothing */
    cb_record(&cb, opened + SEC, false, 10 * MS);
    cr_assert_eq(cb_state(&cb), CB_OPEN);

    /* the first call after the wait: HALF_OPEN, and it is permitted call 1 of 3 */
    sim_time_t h = opened + 10 * SEC + 1;
    cr_assert(cb_allow(&cb, h));
    cr_assert_eq(cb_state(&cb), CB_HALF_OPEN);
    cr_assert_eq(log.n, 2);
    cr_assert_eq(log.to[1], CB_HALF_OPEN);
    cr_assert_eq(log.at[1], h);
    cr_assert(cb_allow(&cb, h));
    cr_assert(cb_allow(&cb, h + 1));
    cr_assert_not(cb_allow(&cb, h + 2), "the 4th call in half-open is rejected");
    cr_assert_not(cb_allow(&cb, h + 3));
    cr_assert_eq(cb.rejected, 5);

    /* outcomes S F: still deciding; S: 1/3 = 33% < 50% -> CLOSED, empty window */
    cb_record(&cb, h + 10, false, 10 * MS);
    cb_record(&cb, h + 20, true, 10 * MS);
    cr_assert_eq(cb_state(&cb), CB_HALF_OPEN);
    cb_record(&cb, h + 30, false, 10 * MS);
    cr_assert_eq(cb_state(&cb), CB_CLOSED);
    cr_assert_eq(log.n, 3);
    cr_assert_eq(log.to[2], CB_CLOSED);
    cr_assert_eq(cb_window_calls(&cb), 0, "closing starts an empty window");
    cr_assert(cb_allow(&cb, h + 31));

    /* F F F F: 4 < minimum; F: 5/5 -> OPEN */
    t = h + SEC;
    feed(&cb, &t, (bool[]){F, F, F, F, F}, (cb_state_t[]){CB_CLOSED, CB_CLOSED, CB_CLOSED, CB_CLOSED, CB_OPEN}, 5);
    sim_time_t opened2 = t - SEC;
    cr_assert_eq(cb.opens, 2);

    /* half-open again: F F S = 2/3 = 67% >= 50% -> OPEN at the third outcome */
    sim_time_t h2 = opened2 + 10 * SEC + 1;
    cr_assert(cb_allow(&cb, h2));
    cr_assert(cb_allow(&cb, h2));
    cr_assert(cb_allow(&cb, h2));
    cb_record(&cb, h2 + 1, true, 10 * MS);
    cb_record(&cb, h2 + 2, true, 10 * MS);
    cr_assert_eq(cb_state(&cb), CB_HALF_OPEN);
    cb_record(&cb, h2 + 3, false, 10 * MS);
    cr_assert_eq(cb_state(&cb), CB_OPEN);
    cr_assert_eq(cb.opens, 3);
    cr_assert_eq(log.n, 6);
    cr_assert_eq(log.from[5], CB_HALF_OPEN);
    cr_assert_eq(log.at[5], h2 + 3);
    /* the wait restarts from the reopening */
    cr_assert_not(cb_allow(&cb, h2 + 3 + 10 * SEC));
    cr_assert(cb_allow(&cb, h2 + 3 + 10 * SEC + 1));
    cr_assert_eq(cb.allowed, 1 + 3 + 1 + 3 + 1);
    cb_fini(&cb);
}

Test(breaker, half_open_decides_after_min_of_minimum_and_permitted)
{
    /* Resilience4j's half-open window is COUNT_BASED of `permitted` calls with
     * minimum min(minimumNumberOfCalls, permitted): with minimum 2 and 4
     * permitted calls, two outcomes decide. */
    cb_spec_t s = r4j(10, 2, 4, SEC);
    cb_t cb;
    cr_assert_eq(cb_init(&cb, &s, NULL, NULL), 0);
    cb_record(&cb, 0, true, 0);
    cb_record(&cb, 0, true, 0);
    cr_assert_eq(cb_state(&cb), CB_OPEN);
    for (int i = 0; i < 4; i++) cr_assert(cb_allow(&cb, 2 * SEC));
    cr_assert_not(cb_allow(&cb, 2 * SEC));
    cb_record(&cb, 2 * SEC, true, 0);
    cr_assert_eq(cb_state(&cb), CB_HALF_OPEN);
    cb_record(&cb, 2 * SEC, false, 0);   /* 1/2 = 50% -> OPEN */
    cr_assert_eq(cb_state(&cb), CB_OPEN);
    cb_fini(&cb);
}

Test(breaker, count_window_evicts_the_oldest_outcome)
{
    /* window 4, minimum 4, 75%: F F S S (50%), then S S evict the two F,
     * then F F F: 25%, 50%, 75% -> OPEN. Without eviction the last would be
     * 5/9 and stay closed. */
    cb_spec_t s = r4j(4, 4, 1, SEC);
    s.failure_rate = 0.75;
    cb_t cb;
    cr_assert_eq(cb_init(&cb, &s, NULL, NULL), 0);
    bool out[] = {F, F, S, S, S, S, F, F, F};
    int64_t failed[] = {1, 2, 2, 2, 1, 0, 1, 2, 3};
    int64_t calls[] = {1, 2, 3, 4, 4, 4, 4, 4, 4};
    for (int i = 0; i < 9; i++) {
        cb_record(&cb, i * SEC, out[i], 0);
        cr_assert_eq(cb_window_calls(&cb), calls[i], "step %d", i);
        cr_assert_eq(cb_window_failed(&cb), failed[i], "step %d: %lld failed", i, (long long)cb_window_failed(&cb));
        cr_assert_eq(cb_state(&cb), i < 8 ? CB_CLOSED : CB_OPEN, "step %d", i);
    }
    cb_fini(&cb);
}

Test(breaker, count_window_caps_the_minimum_at_the_window_size)
{
    cb_spec_t s = r4j(4, 100, 1, SEC);
    cb_t cb;
    cr_assert_eq(cb_init(&cb, &s, NULL, NULL), 0);
    feed(&cb, &(sim_time_t){0}, (bool[]){F, S, S, F}, (cb_state_t[]){CB_CLOSED, CB_CLOSED, CB_CLOSED, CB_OPEN}, 4);
    cb_fini(&cb);
}

Test(breaker, slow_calls_trip_on_the_slow_rate)
{
    /* slow = longer than 1 s, strictly; slow rate 50%; all calls succeed */
    cb_spec_t s = r4j(10, 4, 1, SEC);
    s.slow_duration = SEC;
    s.slow_rate = 0.5;
    cb_t cb;
    cr_assert_eq(cb_init(&cb, &s, NULL, NULL), 0);
    sim_time_t dur[] = {2 * SEC, SEC, 500 * MS, SEC + 1};
    for (int i = 0; i < 4; i++) {
        cb_record(&cb, i * SEC, false, dur[i]);
        cr_assert_eq(cb_state(&cb), i < 3 ? CB_CLOSED : CB_OPEN, "step %d", i);
    }
    cr_assert_eq(cb_window_slow(&cb), 2, "1 s exactly is not slow, 1 s + 1 ns is");
    cr_assert_eq(cb_window_failed(&cb), 0);
    cb_fini(&cb);
}

Test(breaker, default_slow_rule_needs_every_call_slow)
{
    /* slowCallRateThreshold 100% with 60 s: 3 slow of 4 stays closed, 4 of 4 opens */
    cb_spec_t s = r4j(4, 4, 1, SEC);
    cb_t cb;
    cr_assert_eq(cb_init(&cb, &s, NULL, NULL), 0);
    sim_time_t dur[] = {61 * SEC, 60 * SEC, 61 * SEC, 61 * SEC, 61 * SEC, 61 * SEC};
    for (int i = 0; i < 6; i++) {
        cb_record(&cb, i * SEC, false, dur[i]);   /* 1/1, 1/2, 2/3, 3/4, 3/4, 4/4 */
        cr_assert_eq(cb_state(&cb), i < 5 ? CB_CLOSED : CB_OPEN, "step %d", i);
    }
    cb_fini(&cb);
}

Test(breaker, strictly_above_needs_more_than_the_threshold)
{
    cb_spec_t s = r4j(10, 4, 1, SEC);
    cb_t a, b;
    cr_assert_eq(cb_init(&a, &s, NULL, NULL), 0);
    s.strictly_above = true;
    cr_assert_eq(cb_init(&b, &s, NULL, NULL), 0);
    /* F F S S = 50%: opens at >=, not at >; F = 3/5 = 60% opens both */
    feed(&a, &(sim_time_t){0}, (bool[]){F, F, S, S}, (cb_state_t[]){CB_CLOSED, CB_CLOSED, CB_CLOSED, CB_OPEN}, 4);
    feed(&b, &(sim_time_t){0}, (bool[]){F, F, S, S, F},
         (cb_state_t[]){CB_CLOSED, CB_CLOSED, CB_CLOSED, CB_CLOSED, CB_OPEN}, 5);
    cb_fini(&a);
    cb_fini(&b);
    /* a 100% threshold is reached by 100% (Sentinel's slow-ratio rule) */
    s.failure_rate = 1.0;
    cr_assert_eq(cb_init(&b, &s, NULL, NULL), 0);
    feed(&b, &(sim_time_t){0}, (bool[]){F, F, F, S, F, F, F, F},
         (cb_state_t[]){CB_CLOSED, CB_CLOSED, CB_CLOSED, CB_CLOSED, CB_CLOSED, CB_CLOSED, CB_CLOSED, CB_CLOSED}, 8);
    cb_fini(&b);
    s.window_size = 4;
    cr_assert_eq(cb_init(&b, &s, NULL, NULL), 0);
    feed(&b, &(sim_time_t){0}, (bool[]){F, F, S, F, F, F, F},
         (cb_state_t[]){CB_CLOSED, CB_CLOSED, CB_CLOSED, CB_CLOSED, CB_CLOSED, CB_CLOSED, CB_OPEN}, 7);
    cb_fini(&b);
}

Test(breaker, consecutive_failures_trigger)
{
    /* the runbook: 3 failed retrievals in a row switch over, whatever the window says */
    cb_spec_t s = cb_spec_preset(CB_PRESET_RESILIENCE4J);   /* 100 calls minimum: the window alone never trips here */
    s.consecutive_failures = 3;
    s.permitted = 1;
    s.wait_open = SEC;
    tlog_t log = {0};
    cb_t cb;
    cr_assert_eq(cb_init(&cb, &s, on_tr, &log), 0);
    sim_time_t t = 0;
    feed(&cb, &t, (bool[]){F, F, S, F, F, F},
         (cb_state_t[]){CB_CLOSED, CB_CLOSED, CB_CLOSED, CB_CLOSED, CB_CLOSED, CB_OPEN}, 6);
    cr_assert_eq(log.n, 1);
    cr_assert_eq(log.at[0], 5 * SEC);
    /* recover through one successful probe; the count starts again from zero */
    cr_assert(cb_allow(&cb, 7 * SEC));
    cb_record(&cb, 7 * SEC, false, 0);
    cr_assert_eq(cb_state(&cb), CB_CLOSED);
    t = 8 * SEC;
    feed(&cb, &t, (bool[]){F, F, S, F, F, F},
         (cb_state_t[]){CB_CLOSED, CB_CLOSED, CB_CLOSED, CB_CLOSED, CB_CLOSED, CB_OPEN}, 6);
    cb_fini(&cb);
}

Test(breaker, consecutive_slow_calls_trigger)
{
    /* the dependency table's rule for a DB read: 3 consecutive calls > 25 ms
     * switch to the read replica. Durations 30, 30, 20, 30, 30, 26 ms: the
     * 20 ms call resets the run, the 3rd slow call in a row (the 6th call)
     * opens; exactly 25 ms is not slow. Failures do not count here. */
    cb_spec_t s = cb_spec_preset(CB_PRESET_RESILIENCE4J);
    s.consecutive_slow = 3;
    s.slow_duration = 25 * MS;
    s.wait_open = SEC;
    tlog_t log = {0};
    cb_t cb;
    cr_assert_eq(cb_init(&cb, &s, on_tr, &log), 0);
    const sim_time_t dur[] = {30 * MS, 30 * MS, 20 * MS, 30 * MS, 30 * MS, 26 * MS};
    for (int i = 0; i < 6; i++) {
        cr_assert(cb_allow(&cb, i * SEC));
        cr_assert_eq(cb_state(&cb), CB_CLOSED, "call %d", i);
        cb_record(&cb, i * SEC, false, dur[i]);
    }
    cr_assert_eq(cb_state(&cb), CB_OPEN);
    cr_assert_eq(log.n, 1);
    cr_assert_eq(log.at[0], 5 * SEC);
    cb_fini(&cb);

    cb_spec_t s2 = s;
    cr_assert_eq(cb_init(&cb, &s2, NULL, NULL), 0);
    for (int i = 0; i < 10; i++) {
        cb_allow(&cb, i * SEC);
        cb_record(&cb, i * SEC, i % 2 == 0, i % 3 == 2 ? 20 * MS : 25 * MS);   /* 25 ms is not slow */
    }
    cr_assert_eq(cb_state(&cb), CB_CLOSED);
    cb_fini(&cb);
}

Test(breaker, time_window_drops_outcomes_older_than_the_window)
{
    /* 3 one-second buckets, minimum 3, 50%. Two failures in second 0 leave
     * the window when the window moves to second 3; without eviction the
     * success at 3.0 s would make 2/3 and open. */
    cb_spec_t s = r4j(3, 3, 1, SEC);
    s.window = CB_TIME_BASED;
    cb_t cb;
    cr_assert_eq(cb_init(&cb, &s, NULL, NULL), 0);
    struct { sim_time_t t; bool f; int64_t calls, failed; cb_state_t st; } tr[] = {
        {100 * MS, F, 1, 1, CB_CLOSED},
        {200 * MS, F, 2, 2, CB_CLOSED},
        {3 * SEC, S, 1, 0, CB_CLOSED},            /* window = seconds 1..3 */
        {3 * SEC + 100 * MS, S, 2, 0, CB_CLOSED},
        {3 * SEC + 200 * MS, F, 3, 1, CB_CLOSED},  /* 33% */
        {4 * SEC - 1, F, 4, 2, CB_OPEN},          /* 50% */
    };
    for (int i = 0; i < 6; i++) {
        cb_record(&cb, tr[i].t, tr[i].f, 0);
        cr_assert_eq(cb_window_calls(&cb), tr[i].calls, "step %d: %lld calls", i, (long long)cb_window_calls(&cb));
        cr_assert_eq(cb_window_failed(&cb), tr[i].failed, "step %d", i);
        cr_assert_eq(cb_state(&cb), tr[i].st, "step %d", i);
    }
    cb_fini(&cb);
}

Test(breaker, time_window_buckets_are_whole_seconds)
{
    cb_spec_t s = r4j(2, 1000, 1, SEC);   /* never trips: only the counts matter */
    s.window = CB_TIME_BASED;
    cb_t cb;
    cr_assert_eq(cb_init(&cb, &s, NULL, NULL), 0);
    sim_time_t t[] = {SEC - 1, SEC, 2 * SEC + 500 * MS, 3 * SEC - 1, 3 * SEC, 3 * SEC + 1, 100 * SEC};
    /* window = seconds (k-2, k] for the second k of the last outcome */
    int64_t calls[] = {1, 2, 2, 3, 3, 4, 1};
    for (int i = 0; i < 7; i++) {
        cb_record(&cb, t[i], true, 0);
        cr_assert_eq(cb_window_calls(&cb), calls[i], "t = %lld ns: %lld calls", (long long)t[i],
                     (long long)cb_window_calls(&cb));
        cr_assert_eq(cb_window_failed(&cb), calls[i]);
    }
    cb_fini(&cb);
}

Test(breaker, hystrix_preset)
{
    cb_spec_t s = cb_spec_preset(CB_PRESET_HYSTRIX);
    cr_assert_eq(s.window, CB_TIME_BASED);
    cr_assert_eq(s.window_size, 10);
    cr_assert_eq(s.min_calls, 20);
    cr_assert_eq(s.failure_rate, 0.5);
    cr_assert_eq(s.wait_open, 5 * SEC);
    cr_assert_eq(s.permitted, 1);
    cb_t cb;
    cr_assert_eq(cb_init(&cb, &s, NULL, NULL), 0);
    /* 19 failures in second 0 (below the volume of 20), slow calls ignored */
    for (int i = 0; i < 19; i++) cb_record(&cb, i * 10 * MS, true, SIM_HOUR);
    cr_assert_eq(cb_state(&cb), CB_CLOSED);
    cr_assert_eq(cb_window_slow(&cb), 0);
    /* at 10.0 s the window is seconds 1..10: the 19 are gone */
    cb_record(&cb, 10 * SEC, true, 0);
    cr_assert_eq(cb_window_calls(&cb), 1);
    cr_assert_eq(cb_state(&cb), CB_CLOSED);
    /* 10 successes and 9 more failures: 10/20 = 50% at the 20th call */
    for (int i = 0; i < 10; i++) cb_record(&cb, 10 * SEC + (i + 1) * MS, false, 0);
    for (int i = 0; i < 9; i++) {
        cr_assert_eq(cb_state(&cb), CB_CLOSED);
        cb_record(&cb, 11 * SEC + i * MS, true, 0);
    }
    cr_assert_eq(cb_state(&cb), CB_OPEN);
    sim_time_t opened = 11 * SEC + 8 * MS;
    cr_assert_eq(cb.opened_at, opened);
    cr_assert_not(cb_allow(&cb, opened + 5 * SEC));
    cr_assert(cb_allow(&cb, opened + 5 * SEC + 1), "one trial call after the sleep window");
    cr_assert_not(cb_allow(&cb, opened + 5 * SEC + 2));
    cb_record(&cb, opened + 6 * SEC, true, 0);
    cr_assert_eq(cb_state(&cb), CB_OPEN, "a failed trial reopens");
    cr_assert(cb_allow(&cb, opened + 11 * SEC + 1));
    cb_record(&cb, opened + 11 * SEC + 2, false, 0);
    cr_assert_eq(cb_state(&cb), CB_CLOSED, "a successful trial closes");
    cb_fini(&cb);
}

/* ---- parsing ----------------------------------------------------------- */

typedef struct {
    sim_diag_t d;
    sim_cfg_t *cfg;
    cb_spec_t spec;
    int rc;
} parsed_t;

static void parse(parsed_t *p, const char *text)
{
    sim_diag_init(&p->d);
    p->cfg = sim_cfg_load_string("b.yaml", text, strlen(text), &p->d);
    cr_assert_not_null(p->cfg, "%s", sim_diag_text(&p->d));
    p->rc = cb_spec_parse(&p->d, sim_cfg_get(sim_cfg_root(p->cfg), "breaker"), &p->spec);
    sim_cfg_check_unused(p->cfg, &p->d);
}

static void done(parsed_t *p)
{
    sim_cfg_destroy(p->cfg);
    sim_diag_fini(&p->d);
}

Test(breaker, parse_every_key)
{
    parsed_t p;
    parse(&p, "breaker:\n"
              "  preset: resilience4j\n"
              "  sliding_window_type: time_based\n"
              "  sliding_window_size: 30\n"
              "  minimum_number_of_calls: 12\n"
              "  failure_rate_threshold: 40%\n"
              "  slow_call_rate_threshold: 0.8\n"
              "  slow_call_duration_threshold: 2s\n"
              "  wait_duration_in_open_state: 15s\n"
              "  permitted_number_of_calls_in_half_open_state: 3\n"
              "  strictly_above: true\n"
              "  consecutive_failures: 3\n"
              "  consecutive_slow_calls: 4\n");
    cr_assert_eq(p.rc, 0, "%s", sim_diag_text(&p.d));
    cr_assert_eq(p.d.errors, 0, "%s", sim_diag_text(&p.d));
    cr_expect_eq(p.spec.preset, CB_PRESET_RESILIENCE4J);
    cr_expect_eq(p.spec.window, CB_TIME_BASED);
    cr_expect_eq(p.spec.window_size, 30);
    cr_expect_eq(p.spec.min_calls, 12);
    cr_expect_eq(p.spec.failure_rate, 0.4);
    cr_expect_eq(p.spec.slow_rate, 0.8);
    cr_expect_eq(p.spec.slow_duration, 2 * SEC);
    cr_expect_eq(p.spec.wait_open, 15 * SEC);
    cr_expect_eq(p.spec.permitted, 3);
    cr_expect(p.spec.strictly_above);
    cr_expect_eq(p.spec.consecutive_failures, 3);
    cr_expect_eq(p.spec.consecutive_slow, 4);
    done(&p);
}

Test(breaker, parse_defaults_and_null_map)
{
    cb_spec_t s;
    cr_assert_eq(cb_spec_parse(NULL, NULL, &s), 0);
    cr_expect_eq(s.window_size, 100);
    parsed_t p;
    parse(&p, "breaker:\n");
    cr_assert_eq(p.rc, 0, "%s", sim_diag_text(&p.d));
    cr_expect_eq(p.spec.min_calls, 100);
    cr_expect_eq(p.spec.wait_open, 60 * SEC);
    done(&p);
}

Test(breaker, parse_preset_with_overrides)
{
    parsed_t p;
    parse(&p, "breaker: {preset: hystrix, failure_rate_threshold: 25%, wait_duration_in_open_state: 2s}\n");
    cr_assert_eq(p.rc, 0, "%s", sim_diag_text(&p.d));
    cr_expect_eq(p.spec.preset, CB_PRESET_HYSTRIX);
    cr_expect_eq(p.spec.window, CB_TIME_BASED);
    cr_expect_eq(p.spec.window_size, 10);
    cr_expect_eq(p.spec.min_calls, 20);
    cr_expect_eq(p.spec.failure_rate, 0.25);
    cr_expect_eq(p.spec.wait_open, 2 * SEC);
    cr_expect_eq(p.spec.slow_rate, 0, "hystrix has no slow-call rule");
    done(&p);
}

Test(breaker, sentinel_slow_ratio_rule)
{
    /* Sentinel: maxRT 200 ms, slow ratio 50%, minRequestAmount 5, 1 s window,
     * timeWindow 3 s: strictly above; the probe is allowed at exactly 3 s. */
    parsed_t p;
    parse(&p, "breaker:\n"
              "  preset: sentinel\n"
              "  slow_call_duration_threshold: 200ms\n"
              "  slow_call_rate_threshold: 50%\n"
              "  wait_duration_in_open_state: 3s\n");
    cr_assert_eq(p.rc, 0, "%s", sim_diag_text(&p.d));
    cr_assert_eq(p.d.errors, 0, "%s", sim_diag_text(&p.d));
    cr_assert_eq(p.spec.failure_rate, 0, "the error-ratio rule stays off");
    cb_t cb;
    cr_assert_eq(cb_init(&cb, &p.spec, NULL, NULL), 0);
    /* slow fast fast slow fast: 2/5; slow: 3/6 = 50% (not above); slow: 4/7 */
    sim_time_t dur[] = {250 * MS, 200 * MS, 10 * MS, 201 * MS, 10 * MS, 300 * MS, 300 * MS};
    for (int i = 0; i < 7; i++) {
        cb_record(&cb, 5 * SEC + i * 100 * MS, i == 2, dur[i]);   /* an error does not count here */
        cr_assert_eq(cb_state(&cb), i < 6 ? CB_CLOSED : CB_OPEN, "step %d", i);
    }
    sim_time_t opened = 5 * SEC + 600 * MS;
    cr_assert_not(cb_allow(&cb, opened + 3 * SEC - 1));
    cr_assert(cb_allow(&cb, opened + 3 * SEC), "Sentinel probes at the end of timeWindow (>=)");
    cr_assert_not(cb_allow(&cb, opened + 3 * SEC));
    cb_record(&cb, opened + 3 * SEC + 250 * MS, false, 250 * MS);
    cr_assert_eq(cb_state(&cb), CB_OPEN, "a slow probe reopens");
    sim_time_t reopened = opened + 3 * SEC + 250 * MS;
    cr_assert(cb_allow(&cb, reopened + 3 * SEC));
    cb_record(&cb, reopened + 3 * SEC + 100 * MS, false, 100 * MS);
    cr_assert_eq(cb_state(&cb), CB_CLOSED);
    /* the 1 s window: 4 slow calls in one second and 4 in the next never reach 5 */
    for (int i = 0; i < 8; i++) cb_record(&cb, 20 * SEC + i * 250 * MS, false, SEC);
    cr_assert_eq(cb_state(&cb), CB_CLOSED);
    cb_record(&cb, 21 * SEC + 999 * MS, false, SEC);
    cr_assert_eq(cb_state(&cb), CB_OPEN);
    cb_fini(&cb);
    done(&p);
}

Test(breaker, sentinel_error_ratio_rule)
{
    parsed_t p;
    parse(&p, "breaker: {preset: sentinel, failure_rate_threshold: 0.5, wait_duration_in_open_state: 10s}\n");
    cr_assert_eq(p.rc, 0, "%s", sim_diag_text(&p.d));
    cr_assert_eq(p.spec.slow_rate, 0);
    cb_t cb;
    cr_assert_eq(cb_init(&cb, &p.spec, NULL, NULL), 0);
    feed(&cb, &(sim_time_t){0}, (bool[]){F}, (cb_state_t[]){CB_CLOSED}, 1);
    /* within one second: F S F S S (2/5) F (3/6 = 50%, not above) F (4/7) */
    bool out[] = {F, S, F, S, S, F, F};
    for (int i = 0; i < 7; i++) {
        cb_record(&cb, 3 * SEC + i * MS, out[i], SIM_HOUR);
        cr_assert_eq(cb_state(&cb), i < 6 ? CB_CLOSED : CB_OPEN, "step %d", i);
    }
    cr_assert(cb_allow(&cb, 3 * SEC + 6 * MS + 10 * SEC));
    cb_record(&cb, 14 * SEC, true, 0);
    cr_assert_eq(cb_state(&cb), CB_OPEN, "a failed probe reopens");
    cb_fini(&cb);
    done(&p);
}

/* Parse text that must fail; each expected message must appear. */
static void expect_errors(const char *text, const char *const *msgs)
{
    parsed_t p;
    parse(&p, text);
    cr_expect(p.d.errors > 0, "no error for:\n%s", text);
    for (int i = 0; msgs[i]; i++)
        cr_expect(strstr(sim_diag_text(&p.d), msgs[i]), "want\n  %s\ngot\n%s", msgs[i], sim_diag_text(&p.d));
    done(&p);
}

Test(breaker, parse_errors_have_positions)
{
    expect_errors("breaker:\n  sliding_window_size: 0\n",
                  (const char *[]){"b.yaml:2:24: error: 'breaker.sliding_window_size': expected an integer between 1 and 1000000, got '0'\n", NULL});
    expect_errors("breaker:\n  minimum_number_of_calls: -3\n",
                  (const char *[]){"b.yaml:2:28: error: 'breaker.minimum_number_of_calls'", NULL});
    expect_errors("breaker:\n  permitted_number_of_calls_in_half_open_state: 0\n",
                  (const char *[]){"b.yaml:2:49: error:", NULL});
    expect_errors("breaker:\n  failure_rate_threshold: 0%\n",
                  (const char *[]){"b.yaml:2:27: error: 'breaker.failure_rate_threshold': expected a ratio > 0", NULL});
    expect_errors("breaker:\n  slow_call_rate_threshold: 150%\n",
                  (const char *[]){"b.yaml:2:29: error: 'breaker.slow_call_rate_threshold'", NULL});
    expect_errors("breaker:\n  sliding_window_type: count_base\n",
                  (const char *[]){"b.yaml:2:24: error:", "(did you mean 'count_based'?)", NULL});
    expect_errors("breaker:\n  preset: hystrx\n", (const char *[]){"b.yaml:2:11: error:", "(did you mean 'hystrix'?)", NULL});
    expect_errors("breaker:\n  failure_rate_treshold: 20%\n",
                  (const char *[]){"b.yaml:2:3: error: unknown key 'failure_rate_treshold'",
                                   "(did you mean 'failure_rate_threshold'?)", NULL});
    expect_errors("breaker:\n  wait_duration_in_open_state: 5\n",
                  (const char *[]){"b.yaml:2:32: error: 'breaker.wait_duration_in_open_state'", NULL});
    expect_errors("breaker: [1]\n", (const char *[]){"b.yaml:1:10: error: 'breaker': expected a mapping", NULL});
    expect_errors("breaker:\n  preset: hystrix\n  slow_call_rate_threshold: 50%\n",
                  (const char *[]){"b.yaml:3:29: error: 'slow_call_rate_threshold' needs 'slow_call_duration_threshold'",
                                   NULL});
    expect_errors("breaker:\n  preset: sentinel\n  wait_duration_in_open_state: 5s\n",
                  (const char *[]){"b.yaml:2:11: error: the sentinel preset needs a degrade rule", NULL});
    expect_errors("breaker:\n  preset: sentinel\n  failure_rate_threshold: 50%\n",
                  (const char *[]){"b.yaml:2:11: error: the sentinel preset needs 'wait_duration_in_open_state'", NULL});
}

Test(breaker, init_rejects_invalid_specs)
{
    cb_t cb;
    cb_spec_t s = cb_spec_preset(CB_PRESET_RESILIENCE4J);
    s.window_size = 0;
    cr_expect_eq(cb_init(&cb, &s, NULL, NULL), SIM_EINVAL);
    s = cb_spec_preset(CB_PRESET_RESILIENCE4J);
    s.permitted = 0;
    cr_expect_eq(cb_init(&cb, &s, NULL, NULL), SIM_EINVAL);
    s = cb_spec_preset(CB_PRESET_RESILIENCE4J);
    s.failure_rate = 1.5;
    cr_expect_eq(cb_init(&cb, &s, NULL, NULL), SIM_EINVAL);
}

Test(breaker, state_names)
{
    cr_expect_str_eq(cb_state_name(CB_CLOSED), "closed");
    cr_expect_str_eq(cb_state_name(CB_OPEN), "open");
    cr_expect_str_eq(cb_state_name(CB_HALF_OPEN), "half_open");
}
