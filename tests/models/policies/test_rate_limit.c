/* Token bucket: a hand-computed schedule, the exact count on a nanosecond
 * grid, no early admission from rounding, agreement with an exact integer
 * reference under random load, the rate x t + burst bound, and parsing. */
#include <criterion/criterion.h>
#include <math.h>
#include <string.h>

#include "models/policies/rate_limit.h"
#include "sim/error.h"
#include "sim/rng.h"

#define MS SIM_MS
#define SEC SIM_SEC

Test(tokenbucket, hand_computed_schedule)
{
    /* 10/s, burst 3: a token every 100 ms */
    tb_t tb;
    cr_assert_eq(tb_init(&tb, &(tb_spec_t){10, 3}, 0), 0);
    for (int i = 0; i < 3; i++) cr_assert(tb_take(&tb, 0, 1), "the burst at t = 0: take %d", i);
    cr_assert_not(tb_take(&tb, 0, 1), "exactly the burst at t = 0");
    cr_assert_eq(tb_time_until(&tb, 0, 1), 100 * MS);
    cr_assert_not(tb_take(&tb, 100 * MS - 1, 1));
    cr_assert(tb_take(&tb, 100 * MS, 1));
    cr_assert_not(tb_take(&tb, 100 * MS, 1));
    /* 250 ms later: 2.5 tokens: two requests, 0.5 left */
    cr_assert(tb_take(&tb, 350 * MS, 1));
    cr_assert(tb_take(&tb, 350 * MS, 1));
    cr_assert_not(tb_take(&tb, 350 * MS, 1));
    cr_assert_float_eq(tb_tokens(&tb, 350 * MS), 0.5, 1e-12);
    cr_assert_eq(tb_time_until(&tb, 350 * MS, 1), 50 * MS);
    cr_assert_not(tb_take(&tb, 400 * MS - 1, 1));
    cr_assert(tb_take(&tb, 400 * MS, 1));
    /* a request for 2 when 1.9 are there takes nothing */
    cr_assert_not(tb_take(&tb, 590 * MS, 2));
    cr_assert(tb_take(&tb, 600 * MS, 2));
    /* refill stops at the burst */
    cr_assert_float_eq(tb_tokens(&tb, 10 * SEC), 3.0, 0);
    cr_assert(tb_take(&tb, 10 * SEC, 3));
    cr_assert_not(tb_take(&tb, 10 * SEC, 1));
    cr_assert_eq(tb_time_until(&tb, 10 * SEC, 4), SIM_TIME_MAX, "more than the burst never fits");
    cr_assert_not(tb_take(&tb, 100 * SEC, 4));
    cr_assert_eq(tb.admitted, 3 + 1 + 2 + 1 + 1 + 1);
    cr_assert_eq(tb.refused, 1 + 1 + 1 + 1 + 1 + 1 + 1 + 1);
}

Test(tokenbucket, a_request_every_nanosecond_gets_exactly_floor_of_rate_t_plus_burst)
{
    /* 3e8/s = 0.3 token/ns, burst 5, one request at every ns of [0, t]:
     * admitted(t) = min(t + 1, floor(5 + 0.3 t)) = min(t + 1, (50 + 3t) / 10) */
    tb_t tb;
    cr_assert_eq(tb_init(&tb, &(tb_spec_t){3e8, 5}, 0), 0);
    int64_t admitted = 0, bad = 0, first_bad = -1;
    for (int64_t t = 0; t <= 1000000; t++) {
        admitted += tb_take(&tb, t, 1);
        int64_t want = (50 + 3 * t) / 10 < t + 1 ? (50 + 3 * t) / 10 : t + 1;
        if (admitted != want && bad++ == 0) first_bad = t;
    }
    cr_assert_eq(bad, 0, "%lld mismatches, first at t = %lld ns", (long long)bad, (long long)first_bad);
    cr_assert_eq(admitted, 300005);
}

Test(tokenbucket, rounding_never_admits_early)
{
    /* 0.1/s is not a binary fraction (the double is slightly above 0.1): the
     * k-th token must still not arrive before k x 10 s, over 1e5 tokens (11.6
     * days), and must arrive exactly then. */
    tb_t tb;
    cr_assert_eq(tb_init(&tb, &(tb_spec_t){0.1, 1}, 0), 0);
    cr_assert(tb_take(&tb, 0, 1));
    int early = 0, late = 0;
    for (int64_t k = 1; k <= 100000; k++) {
        early += tb_take(&tb, k * 10 * SEC - 1, 1);
        late += !tb_take(&tb, k * 10 * SEC, 1);
    }
    cr_assert_eq(early, 0);
    cr_assert_eq(late, 0);
    /* 1/3 per second (the double is slightly below 1/3 and the rate rounds
     * down): with a bucket that never fills (burst 2, emptied at 0), token k
     * comes after k x 3 s - 1 ns and by k x 3 s + 1 us (lateness < 1 ns per
     * 1e9 tokens) */
    cr_assert_eq(tb_init(&tb, &(tb_spec_t){1.0 / 3, 2}, 0), 0);
    cr_assert(tb_take(&tb, 0, 2));
    for (int64_t k = 1; k <= 100000; k++) {
        early += tb_take(&tb, k * 3 * SEC - 1, 1);
        late += !tb_take(&tb, k * 3 * SEC + SIM_US, 1);
    }
    cr_assert_eq(early, 0);
    cr_assert_eq(late, 0);
}

/* Random arrivals of 1-3 tokens against an exact integer reference: rate R
 * tokens/s is R nanotokens per ns. Also checks the bound over every window
 * [t_i, t_j]: admitted <= R (t_j - t_i) + burst, via a running maximum. */
Test(tokenbucket, random_load_matches_the_exact_reference_and_the_bound)
{
    const int64_t R = 300, B = 20;
    tb_t tb;
    cr_assert_eq(tb_init(&tb, &(tb_spec_t){(double)R, (double)B}, 0), 0);
    sim_rng_t rng;
    sim_rng_init(&rng, 7);
    __int128 level = B * TB_NANO;
    sim_time_t t = 0, last = 0;
    int64_t mismatches = 0, violations = 0, admitted_tokens = 0, refused = 0;
    /* best = max over i of (R t_i - S_{i-1} 1e9), S = tokens admitted before request i */
    __int128 best = -((__int128)1 << 100);
    for (int i = 0; i < 200000; i++) {
        t += (sim_time_t)sim_rng_below(&rng, 8 * MS);   /* mean 4 ms: 250/s offered x 2 tokens = 500/s */
        int64_t n = 1 + (int64_t)sim_rng_below(&rng, 3);
        level += (__int128)R * (t - last);
        if (level > B * TB_NANO) level = B * TB_NANO;
        last = t;
        bool want = level >= n * TB_NANO;
        if (want) level -= n * TB_NANO;
        bool got = tb_take(&tb, t, n);
        mismatches += got != want;
        __int128 start = (__int128)R * t - (__int128)admitted_tokens * TB_NANO;
        if (start > best) best = start;
        if (got) {
            admitted_tokens += n;
            /* tokens in [t_i, t] for the worst i <= this request */
            __int128 excess = (__int128)admitted_tokens * TB_NANO - (__int128)R * t + best;
            violations += excess > (__int128)B * TB_NANO;
        } else {
            refused++;
        }
    }
    cr_assert_eq(mismatches, 0, "%lld decisions differ from the exact reference", (long long)mismatches);
    cr_assert_eq(violations, 0);
    cr_assert_gt(refused, 10000, "the load must exceed the rate for the test to bite (%lld refused)", (long long)refused);
    /* long-run admitted rate = R */
    double rate = (double)admitted_tokens / sim_time_to_s(t);
    cr_assert_lt(fabs(rate - R) / R, 0.01, "admitted %.1f tokens/s", rate);
}

Test(tokenbucket, bound_holds_for_a_non_integer_rate)
{
    /* 123.456/s, burst 7.5: for every window [t_i, t_j] of admitted requests,
     * tokens <= rate (t_j - t_i) + burst (long double, a 1e-6 token margin) */
    const double r = 123.456, B = 7.5;
    tb_t tb;
    cr_assert_eq(tb_init(&tb, &(tb_spec_t){r, B}, 0), 0);
    sim_rng_t rng;
    sim_rng_init(&rng, 8);
    sim_time_t t = 0;
    long double best = -1e30L, S = 0;
    int64_t violations = 0, admitted = 0;
    for (int i = 0; i < 200000; i++) {
        t += (sim_time_t)sim_rng_below(&rng, 10 * MS);
        long double start = (long double)r * t / 1e9L - S;
        if (start > best) best = start;
        if (tb_take(&tb, t, 1)) {
            S += 1;
            admitted++;
            violations += S - (long double)r * t / 1e9L + best > B + 1e-6L;
        }
    }
    cr_assert_eq(violations, 0);
    cr_assert_lt(admitted, 190000);
}

Test(tokenbucket, init_rejects_bad_specs)
{
    tb_t tb;
    cr_expect_eq(tb_init(&tb, &(tb_spec_t){0, 1}, 0), SIM_EINVAL);
    cr_expect_eq(tb_init(&tb, &(tb_spec_t){10, 0.5}, 0), SIM_EINVAL);
    cr_expect_eq(tb_init(&tb, &(tb_spec_t){2e12, 1}, 0), SIM_EINVAL);
    cr_expect_eq(tb_init(&tb, &(tb_spec_t){NAN, 1}, 0), SIM_EINVAL);
}

/* ---- parsing ----------------------------------------------------------- */

typedef struct {
    sim_diag_t d;
    sim_cfg_t *cfg;
    tb_spec_t spec;
    int rc;
} parsed_t;

static void parse(parsed_t *p, const char *text)
{
    sim_diag_init(&p->d);
    p->cfg = sim_cfg_load_string("t.yaml", text, strlen(text), &p->d);
    cr_assert_not_null(p->cfg, "%s", sim_diag_text(&p->d));
    p->rc = tb_spec_parse(&p->d, sim_cfg_get(sim_cfg_root(p->cfg), "limiter"), &p->spec);
    sim_cfg_check_unused(p->cfg, &p->d);
}

static void done(parsed_t *p)
{
    sim_cfg_destroy(p->cfg);
    sim_diag_fini(&p->d);
}

Test(tokenbucket, parse_rate_and_burst)
{
    parsed_t p;
    parse(&p, "limiter: {rate: 300/s, burst: 50}\n");
    cr_assert_eq(p.rc, 0, "%s", sim_diag_text(&p.d));
    cr_assert_eq(p.d.errors, 0, "%s", sim_diag_text(&p.d));
    cr_expect_eq(p.spec.rate, 300);
    cr_expect_eq(p.spec.burst, 50);
    done(&p);
    /* default burst: one second's worth, at least one */
    parse(&p, "limiter: {rate: 1.2k/s}\n");
    cr_assert_eq(p.rc, 0, "%s", sim_diag_text(&p.d));
    cr_expect_eq(p.spec.burst, 1200);
    done(&p);
    parse(&p, "limiter: {rate: 30/min}\n");
    cr_assert_eq(p.rc, 0, "%s", sim_diag_text(&p.d));
    cr_expect_eq(p.spec.rate, 0.5);
    cr_expect_eq(p.spec.burst, 1);
    done(&p);
    tb_spec_t s;
    cr_expect_eq(tb_spec_parse(NULL, NULL, &s), SIM_EINVAL, "no map: no limiter");
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

Test(tokenbucket, parse_errors_have_positions)
{
    expect_errors("limiter:\n  burst: 10\n",
                  (const char *[]){"t.yaml:2:3: error: missing required key 'rate' in 'limiter'\n", NULL});
    expect_errors("limiter:\n", (const char *[]){"t.yaml:1:9: error: missing required key 'rate' in 'limiter'\n", NULL});
    expect_errors("limiter:\n  rate: 300\n", (const char *[]){"t.yaml:2:9: error: 'limiter.rate': expected a rate", NULL});
    expect_errors("limiter:\n  rate: 0/s\n", (const char *[]){"t.yaml:2:9: error: 'limiter.rate': expected a rate > 0", NULL});
    expect_errors("limiter:\n  rate: 2T/s\n", (const char *[]){"t.yaml:2:9: error:", NULL});
    expect_errors("limiter:\n  rate: 2000000M/s\n",
                  (const char *[]){"t.yaml:2:9: error: 'limiter.rate': at most 1e+12/s is supported, got 2e+12/s\n", NULL});
    expect_errors("limiter:\n  rate: 10/s\n  burst: 0.5\n",
                  (const char *[]){"t.yaml:3:10: error: 'limiter.burst': expected a number between 1 and 1e+09", NULL});
    expect_errors("limiter:\n  rate: 10/s\n  brust: 5\n",
                  (const char *[]){"t.yaml:3:3: error: unknown key 'brust'", "(did you mean 'burst'?)", NULL});
}
