/* CoDel (folly): a hand-computed trace through folly's order of operations,
 * the construction-time quirks, an offline reference of the interval rule
 * under random load, and parsing. */
#include <criterion/criterion.h>
#include <string.h>

#include "models/queueing/codel.h"
#include "sim/error.h"
#include "sim/rng.h"

#define MS SIM_MS
#define SEC SIM_SEC

typedef struct {
    sim_time_t now, delay;
    bool drop;          /* codel_should_drop's answer */
    bool overloaded;    /* after the call */
    sim_time_t min;     /* min delay after the call */
} step_t;

static void run_trace(codel_t *c, const step_t *s, int n)
{
    for (int i = 0; i < n; i++) {
        bool got = codel_should_drop(c, s[i].now, s[i].delay);
        cr_assert_eq(got, s[i].drop, "step %d (t = %lld ms, delay %lld ms): drop %d, want %d", i,
                     (long long)(s[i].now / MS), (long long)(s[i].delay / MS), got, s[i].drop);
        cr_assert_eq(codel_overloaded(c), s[i].overloaded, "step %d: overloaded", i);
        cr_assert_eq(codel_min_delay(c), s[i].min, "step %d: min delay %lld, want %lld", i,
                     (long long)codel_min_delay(c), (long long)s[i].min);
    }
}

/* Defaults: interval 100 ms, target 5 ms, slough timeout 10 ms; created at
 * t = 0. Computed by hand from folly's Codel::overloaded_explicit_now. */
Test(codel, hand_computed_trace_of_folly_semantics)
{
    codel_t c;
    cr_assert_eq(codel_init(&c, &CODEL_DEFAULTS, 0), 0);
    cr_assert_eq(codel_slough_timeout(&c.spec), 10 * MS);
    const step_t trace[] = {
        /* a reset is pending at construction: the first request only seeds
         * the minimum (interval_end stays at 0) */
        {0, 20 * MS, false, false, 20 * MS},
        /* 1 ms > 0: the construction "interval" ends, judged by 20 ms > 5 ms:
         * overloaded; this request is the first of the new interval (ends at
         * 101 ms): it seeds the minimum and is not dropped despite 30 > 10 */
        {1 * MS, 30 * MS, false, true, 30 * MS},
        {2 * MS, 12 * MS, true, true, 12 * MS},    /* 12 > 10 while overloaded: dropped */
        {3 * MS, 10 * MS, false, true, 10 * MS},   /* 10 is not > 10 */
        {4 * MS, 3 * MS, false, true, 3 * MS},
        /* the verdict is the last interval's: this interval's minimum of 3 ms
         * does not stop the drops before the interval ends */
        {50 * MS, 40 * MS, true, true, 3 * MS},
        {101 * MS, 50 * MS, true, true, 3 * MS},   /* at the end, not after: same interval */
        /* 102 > 101: new interval (ends 202), judged by 3 ms: not overloaded */
        {102 * MS, 50 * MS, false, false, 50 * MS},
        {103 * MS, 60 * MS, false, false, 50 * MS},   /* not overloaded: nothing is dropped */
        {150 * MS, 6 * MS, false, false, 6 * MS},
        /* 203 > 202: judged by 6 ms > 5 ms: overloaded; first request kept */
        {203 * MS, 11 * MS, false, true, 11 * MS},
        {204 * MS, 11 * MS, true, true, 11 * MS},
        {205 * MS, 5 * MS, false, true, 5 * MS},
        /* 400 > 303: judged by exactly 5 ms: not above the target */
        {400 * MS, 100 * MS, false, false, 100 * MS},
        {401 * MS, 100 * MS, false, false, 100 * MS},
        /* idle for 10 s: the next request closes the old interval with its
         * old minimum (100 ms): overloaded, although the queue was empty */
        {10 * SEC, 0, false, true, 0},
        {10 * SEC + 1, 11 * MS, true, true, 0},
        {10 * SEC + 2, 10 * MS, false, true, 0},
    };
    run_trace(&c, trace, (int)(sizeof trace / sizeof trace[0]));
    cr_assert_eq(c.dropped, 5);
    cr_assert_eq(c.calls, sizeof trace / sizeof trace[0]);
}

Test(codel, first_request_at_construction_time_does_not_start_an_interval)
{
    /* Two requests at the construction time: the second is not "after" the
     * construction interval, so it only lowers the minimum; the third,
     * later, closes that interval with min(40, 30) = 30 > 5. */
    codel_t c;
    cr_assert_eq(codel_init(&c, &CODEL_DEFAULTS, 7 * SEC), 0);
    const step_t trace[] = {
        {7 * SEC, 40 * MS, false, false, 40 * MS},
        {7 * SEC, 30 * MS, false, false, 30 * MS},   /* not overloaded yet: kept */
        {7 * SEC + 1, 50 * MS, false, true, 50 * MS},
        {7 * SEC + 2, 50 * MS, true, true, 50 * MS},
    };
    run_trace(&c, trace, 4);
}

Test(codel, load_is_min_delay_over_slough_timeout_in_percent)
{
    codel_t c;
    cr_assert_eq(codel_init(&c, &CODEL_DEFAULTS, 0), 0);
    cr_assert_eq(codel_load(&c), 0);
    codel_should_drop(&c, 0, 2500 * SIM_US);   /* 2.5 ms of 10 ms */
    cr_assert_eq(codel_load(&c), 25);
    codel_should_drop(&c, 0, 999 * SIM_US);
    cr_assert_eq(codel_load(&c), 9, "integer division, as folly's chrono arithmetic");
    codel_should_drop(&c, 1, 30 * MS);           /* new interval, min 30 ms */
    cr_assert_eq(codel_load(&c), 100, "capped at 100");
}

Test(codel, negative_delay_counts_as_zero)
{
    codel_t c;
    cr_assert_eq(codel_init(&c, &CODEL_DEFAULTS, 0), 0);
    codel_should_drop(&c, 0, -5);
    cr_assert_eq(codel_min_delay(&c), 0);
}

/* Offline reference: split the requests into intervals after the fact
 * (the first request opens the construction "interval", which ends at the
 * init time; any later request strictly after the current interval's end
 * starts the next one, which ends an interval later), take
 * each interval's minimum delay, then each interval's verdict is its
 * predecessor's minimum > target. A request is dropped iff it is not the
 * first of its interval, its interval's verdict is overloaded and it waited
 * more than 2 x target. */
Test(codel, random_load_matches_the_offline_interval_rule)
{
    enum { N = 200000 };
    static sim_time_t now[N], delay[N];
    static int interval_of[N];
    static bool starts[N];
    static sim_time_t minimum[N];   /* per interval */
    const codel_spec_t spec = {.interval = 20 * MS, .target_delay = 2 * MS};
    sim_rng_t rng;
    sim_rng_init(&rng, 11);
    sim_time_t t = 0;
    for (int i = 0; i < N; i++) {
        /* bursts and lulls: mostly 0-400 us apart, sometimes 0-60 ms */
        t += (sim_time_t)sim_rng_below(&rng, sim_rng_below(&rng, 20) == 0 ? 60 * MS : 400 * SIM_US);
        now[i] = t;
        /* delays that drift between calm and congested phases */
        sim_time_t phase = (t / (150 * MS)) % 3;
        sim_time_t base = phase == 0 ? 0 : phase == 1 ? 1500 * SIM_US : 3 * MS;
        delay[i] = base + (sim_time_t)sim_rng_below(&rng, 10 * MS);
    }
    /* intervals */
    int k = -1;
    sim_time_t end = 0;   /* init at t = 0 */
    for (int i = 0; i < N; i++) {
        bool start = i == 0 || now[i] > end;
        if (i == 0) {
            k = 0;   /* the construction interval: end stays 0 */
        } else if (start) {
            k++;
            end = now[i] + spec.interval;
        }
        starts[i] = start;
        interval_of[i] = k;
        if (start) minimum[k] = delay[i];
        else if (delay[i] < minimum[k]) minimum[k] = delay[i];
    }
    codel_t c;
    cr_assert_eq(codel_init(&c, &spec, 0), 0);
    int64_t mismatches = 0, drops = 0, first = -1;
    for (int i = 0; i < N; i++) {
        int j = interval_of[i];
        bool overloaded = j > 0 && minimum[j - 1] > spec.target_delay;
        bool want = !starts[i] && overloaded && delay[i] > 2 * spec.target_delay;
        bool got = codel_should_drop(&c, now[i], delay[i]);
        if (got != want && mismatches++ == 0) first = i;
        drops += got;
        cr_assert_eq(codel_overloaded(&c), overloaded, "request %d", i);
    }
    cr_assert_eq(mismatches, 0, "%lld mismatches, first at request %lld", (long long)mismatches,
                 (long long)first);
    cr_assert_gt(drops, 1000, "the load must overload the queue for the test to bite (%lld drops)",
                 (long long)drops);
    cr_assert_lt(drops, N / 2);
}

Test(codel, init_rejects_bad_specs)
{
    codel_t c;
    cr_expect_eq(codel_init(&c, &(codel_spec_t){.interval = 5 * MS, .target_delay = 5 * MS}, 0), SIM_EINVAL);
    cr_expect_eq(codel_init(&c, &(codel_spec_t){.interval = 5 * MS, .target_delay = 0}, 0), SIM_EINVAL);
    cr_expect_eq(codel_init(&c, &(codel_spec_t){.interval = 5 * MS, .target_delay = 4 * MS}, 0), 0);
}

/* ---- parsing ----------------------------------------------------------- */

typedef struct {
    sim_diag_t d;
    sim_cfg_t *cfg;
    codel_spec_t spec;
    int rc;
} parsed_t;

static void parse(parsed_t *p, const char *text)
{
    sim_diag_init(&p->d);
    p->cfg = sim_cfg_load_string("q.yaml", text, strlen(text), &p->d);
    cr_assert_not_null(p->cfg, "%s", sim_diag_text(&p->d));
    p->rc = codel_spec_parse(&p->d, sim_cfg_get(sim_cfg_root(p->cfg), "codel"), &p->spec);
    sim_cfg_check_unused(p->cfg, &p->d);
}

static void done(parsed_t *p)
{
    sim_cfg_destroy(p->cfg);
    sim_diag_fini(&p->d);
}

Test(codel, parse_keys_and_defaults)
{
    parsed_t p;
    parse(&p, "codel: {interval: 50ms, target_delay: 2ms}\n");
    cr_assert_eq(p.rc, 0, "%s", sim_diag_text(&p.d));
    cr_assert_eq(p.d.errors, 0, "%s", sim_diag_text(&p.d));
    cr_expect_eq(p.spec.interval, 50 * MS);
    cr_expect_eq(p.spec.target_delay, 2 * MS);
    done(&p);
    parse(&p, "codel:\n");
    cr_assert_eq(p.rc, 0, "%s", sim_diag_text(&p.d));
    cr_expect_eq(p.spec.interval, 100 * MS);
    cr_expect_eq(p.spec.target_delay, 5 * MS);
    done(&p);
    codel_spec_t s;
    cr_assert_eq(codel_spec_parse(NULL, NULL, &s), 0);
    cr_expect_eq(s.interval, 100 * MS);
}

static void expect_errors(const char *text, const char *const *msgs)
{
    parsed_t p;
    parse(&p, text);
    cr_expect(p.d.errors > 0, "no error for:\n%s", text);
    if (!strstr(msgs[0], "unknown key")) cr_expect_eq(p.rc, SIM_ECONFIG, "%s", msgs[0]);
    for (int i = 0; msgs[i]; i++)
        cr_expect(strstr(sim_diag_text(&p.d), msgs[i]), "want\n  %s\ngot\n%s", msgs[i], sim_diag_text(&p.d));
    done(&p);
}

Test(codel, parse_errors_have_positions)
{
    expect_errors("codel:\n  interval: 0ms\n",
                  (const char *[]){"q.yaml:2:13: error: 'codel.interval': expected a duration > 0", NULL});
    expect_errors("codel:\n  target_delay: 5\n",
                  (const char *[]){"q.yaml:2:17: error: 'codel.target_delay': expected a duration", NULL});
    expect_errors("codel:\n  interval: 10ms\n  target_delay: 10ms\n",
                  (const char *[]){"q.yaml:3:17: error: 'target_delay' (10.0 ms) must be shorter than "
                                   "'interval' (10.0 ms)\n", NULL});
    expect_errors("codel:\n  interval: 4ms\n",
                  (const char *[]){"q.yaml:2:13: error: 'target_delay' (5.00 ms) must be shorter than "
                                   "'interval' (4.00 ms)\n", NULL});
    expect_errors("codel:\n  target: 5ms\n",
                  (const char *[]){"q.yaml:2:3: error: unknown key 'target'", NULL});
    expect_errors("codel: [1]\n", (const char *[]){"q.yaml:1:8: error: 'codel': expected a mapping", NULL});
}
