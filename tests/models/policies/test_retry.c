/* Retry: the backoff schedule, the range and the moments of each jitter
 * kind, the retry decision, and parsing. */
#include <criterion/criterion.h>
#include <math.h>
#include <string.h>

#include "models/policies/retry.h"
#include "sim/error.h"

#define MS SIM_MS

Test(retry, defaults_follow_resilience4j_and_envoy)
{
    retry_spec_t s = RETRY_DEFAULTS;
    cr_expect_eq(s.max_attempts, 3);
    cr_expect_eq(s.backoff, RETRY_BACKOFF_EXPONENTIAL);
    cr_expect_eq(s.base, 25 * MS);
    cr_expect_eq(s.cap, 250 * MS);
    cr_expect_eq(s.jitter, RETRY_JITTER_FULL);
    cr_expect_eq(s.retry_on, RETRY_ON_ERROR | RETRY_ON_TIMEOUT | RETRY_ON_UNAVAILABLE);
}

Test(retry, exponential_without_jitter_doubles_to_the_cap)
{
    retry_spec_t s = RETRY_DEFAULTS;
    s.jitter = RETRY_JITTER_NONE;
    sim_time_t want[] = {25, 50, 100, 200, 250, 250, 250};
    for (int n = 0; n < 7; n++)
        cr_assert_eq(retry_delay(&s, n, 0, NULL), want[n] * MS, "retry %d: %lld ns", n,
                     (long long)retry_delay(&s, n, 0, NULL));
    cr_assert_eq(retry_delay(&s, 1000, 0, NULL), 250 * MS, "no overflow far past the cap");
    s.backoff = RETRY_BACKOFF_CONSTANT;
    for (int n = 0; n < 5; n++) cr_assert_eq(retry_delay(&s, n, 0, NULL), 25 * MS);
}

typedef struct {
    double mean, lo, hi;
} moments_t;

/* 1e5 draws of retry `n` (decorrelated: with previous delay `prev`) */
static moments_t draw(const retry_spec_t *s, int n, sim_time_t prev, uint64_t seed)
{
    sim_rng_t rng;
    sim_rng_init(&rng, seed);
    moments_t m = {0, INFINITY, -INFINITY};
    int N = 100000;
    for (int i = 0; i < N; i++) {
        double x = (double)retry_delay(s, n, prev, &rng);
        m.mean += x / N;
        if (x < m.lo) m.lo = x;
        if (x > m.hi) m.hi = x;
    }
    return m;
}

/* |mean - want| within 5 standard errors of a uniform on a range of width w */
static void expect_mean(double mean, double want, double w, const char *what)
{
    double se = w / sqrt(12.0) / sqrt(1e5);
    cr_expect_leq(fabs(mean - want), 5 * se, "%s: mean %.0f ns, want %.0f +- %.0f", what, mean, want, 5 * se);
}

Test(retry, full_jitter_is_uniform_on_zero_to_d)
{
    retry_spec_t s = RETRY_DEFAULTS;
    double d = 100e6;   /* retry 2: 100 ms */
    moments_t m = draw(&s, 2, 0, 1);
    cr_expect_geq(m.lo, 0);
    cr_expect_leq(m.hi, d);
    cr_expect_lt(m.lo, 0.001 * d, "the range reaches 0");
    cr_expect_gt(m.hi, 0.999 * d, "the range reaches d");
    expect_mean(m.mean, d / 2, d, "full");
}

Test(retry, equal_jitter_is_uniform_on_half_d_to_d)
{
    retry_spec_t s = RETRY_DEFAULTS;
    s.jitter = RETRY_JITTER_EQUAL;
    double d = 200e6;   /* retry 3 */
    moments_t m = draw(&s, 3, 0, 2);
    cr_expect_geq(m.lo, d / 2);
    cr_expect_leq(m.hi, d);
    cr_expect_lt(m.lo, 0.501 * d);
    cr_expect_gt(m.hi, 0.999 * d);
    expect_mean(m.mean, 0.75 * d, d / 2, "equal");
}

Test(retry, decorrelated_jitter_ranges_and_means)
{
    retry_spec_t s = RETRY_DEFAULTS;
    s.jitter = RETRY_JITTER_DECORRELATED;
    /* first retry: previous = base, whatever is passed: U(25, 75) ms, mean 50 ms */
    moments_t m = draw(&s, 0, 200 * MS, 3);
    cr_expect_geq(m.lo, 25e6);
    cr_expect_leq(m.hi, 75e6);
    cr_expect_gt(m.hi, 74.9e6);
    expect_mean(m.mean, 50e6, 50e6, "decorrelated, first");
    /* previous 50 ms: U(25, 150) ms, mean 87.5 ms */
    m = draw(&s, 1, 50 * MS, 4);
    cr_expect_geq(m.lo, 25e6);
    cr_expect_leq(m.hi, 150e6);
    cr_expect_lt(m.lo, 25.1e6);
    cr_expect_gt(m.hi, 149.9e6);
    expect_mean(m.mean, 87.5e6, 125e6, "decorrelated, prev 50 ms");
    /* previous 200 ms: min(250, U(25, 600)) ms;
     * E = ((250^2 - 25^2)/2 + 250 * 350) / 575 = 205.98 ms; P(capped) = 350/575 */
    m = draw(&s, 2, 200 * MS, 5);
    cr_expect_leq(m.hi, 250e6);
    double want = ((250.0 * 250 - 25.0 * 25) / 2 + 250.0 * 350) / 575 * 1e6;
    cr_expect_leq(fabs(m.mean - want), 0.005 * want, "mean %.0f, want %.0f", m.mean, want);
    /* a chained sequence stays within [base, min(cap, 3 prev)] */
    sim_rng_t rng;
    sim_rng_init(&rng, 6);
    sim_time_t prev = 0;
    int bad = 0;
    for (int n = 0; n < 10000; n++) {
        sim_time_t p = n == 0 ? s.base : prev;
        sim_time_t x = retry_delay(&s, n, prev, &rng);
        bad += x < s.base || x > s.cap || x > 3 * p;
        prev = x;
    }
    cr_expect_eq(bad, 0);
}

Test(retry, uniform_draws_include_both_ends)
{
    /* d = 2 ns: full draws {0, 1, 2} and equal {1, 2}, each about equally often */
    retry_spec_t s = {.max_attempts = 3, .backoff = RETRY_BACKOFF_CONSTANT, .base = 2, .cap = 2,
                      .jitter = RETRY_JITTER_FULL, .retry_on = RETRY_ON_ERROR};
    sim_rng_t rng;
    sim_rng_init(&rng, 9);
    int full[4] = {0}, equal[4] = {0}, other = 0;
    for (int i = 0; i < 30000; i++) {
        sim_time_t x = retry_delay(&s, 0, 0, &rng);
        if (x >= 0 && x <= 2) full[x]++; else other++;
    }
    s.jitter = RETRY_JITTER_EQUAL;
    for (int i = 0; i < 20000; i++) {
        sim_time_t x = retry_delay(&s, 0, 0, &rng);
        if (x >= 1 && x <= 2) equal[x]++; else other++;
    }
    cr_expect_eq(other, 0);
    for (int k = 0; k <= 2; k++) cr_expect(full[k] > 9000 && full[k] < 11000, "full: %d draws of %d ns", full[k], k);
    for (int k = 1; k <= 2; k++) cr_expect(equal[k] > 9000 && equal[k] < 11000, "equal: %d draws of %d ns", equal[k], k);
}

Test(retry, should_respects_attempts_status_and_deadline)
{
    retry_spec_t s = RETRY_DEFAULTS;   /* 3 attempts */
    sim_time_t now = 1000 * MS, never = SIM_TIME_MAX;
    cr_expect(retry_should(&s, 1, RETRY_ON_ERROR, 25 * MS, now, never));
    cr_expect(retry_should(&s, 2, RETRY_ON_TIMEOUT, 25 * MS, now, never));
    cr_expect_not(retry_should(&s, 3, RETRY_ON_ERROR, 25 * MS, now, never), "3 attempts made: exhausted");
    cr_expect(retry_should(&s, 1, RETRY_ON_UNAVAILABLE, 25 * MS, now, never));
    cr_expect_not(retry_should(&s, 1, RETRY_ON_REJECTED, 25 * MS, now, never), "rejected is not retried by default");
    cr_expect_not(retry_should(&s, 1, 0, 25 * MS, now, never), "a success is not retried");
    /* the retry must start before the deadline */
    cr_expect(retry_should(&s, 1, RETRY_ON_ERROR, 100 * MS - 1, now, now + 100 * MS));
    cr_expect_not(retry_should(&s, 1, RETRY_ON_ERROR, 100 * MS, now, now + 100 * MS));
    cr_expect_not(retry_should(&s, 1, RETRY_ON_ERROR, 0, now, now), "the deadline has passed");
    cr_expect(retry_should(&s, 1, RETRY_ON_ERROR, SIM_TIME_MAX / 2, now, never), "no deadline");
    s.max_attempts = 1;
    cr_expect_not(retry_should(&s, 1, RETRY_ON_ERROR, 0, now, never), "max_attempts 1: no retries");
    s = RETRY_DEFAULTS;
    s.retry_on = RETRY_ON_REJECTED;
    cr_expect(retry_should(&s, 1, RETRY_ON_REJECTED, 0, now, never));
    cr_expect_not(retry_should(&s, 1, RETRY_ON_ERROR, 0, now, never));
}

/* ---- parsing ----------------------------------------------------------- */

typedef struct {
    sim_diag_t d;
    sim_cfg_t *cfg;
    retry_spec_t spec;
    int rc;
} parsed_t;

static void parse(parsed_t *p, const char *text)
{
    sim_diag_init(&p->d);
    p->cfg = sim_cfg_load_string("r.yaml", text, strlen(text), &p->d);
    cr_assert_not_null(p->cfg, "%s", sim_diag_text(&p->d));
    p->rc = retry_spec_parse(&p->d, sim_cfg_get(sim_cfg_root(p->cfg), "retry"), &p->spec);
    sim_cfg_check_unused(p->cfg, &p->d);
}

static void done(parsed_t *p)
{
    sim_cfg_destroy(p->cfg);
    sim_diag_fini(&p->d);
}

Test(retry, parse_every_key)
{
    parsed_t p;
    parse(&p, "retry:\n"
              "  max_attempts: 5\n"
              "  backoff: constant\n"
              "  base: 10ms\n"
              "  cap: 1s\n"
              "  jitter: decorrelated\n"
              "  retry_on: [timeout, rejected]\n");
    cr_assert_eq(p.rc, 0, "%s", sim_diag_text(&p.d));
    cr_assert_eq(p.d.errors + p.d.warnings, 0, "%s", sim_diag_text(&p.d));
    cr_expect_eq(p.spec.max_attempts, 5);
    cr_expect_eq(p.spec.backoff, RETRY_BACKOFF_CONSTANT);
    cr_expect_eq(p.spec.base, 10 * MS);
    cr_expect_eq(p.spec.cap, SIM_SEC);
    cr_expect_eq(p.spec.jitter, RETRY_JITTER_DECORRELATED);
    cr_expect_eq(p.spec.retry_on, RETRY_ON_TIMEOUT | RETRY_ON_REJECTED);
    done(&p);
}

Test(retry, parse_defaults_cap_and_empty_list)
{
    retry_spec_t s;
    cr_assert_eq(retry_spec_parse(NULL, NULL, &s), 0);
    cr_expect_eq(s.cap, 250 * MS);
    parsed_t p;
    parse(&p, "retry:\n");
    cr_assert_eq(p.rc, 0, "%s", sim_diag_text(&p.d));
    cr_expect_eq(p.spec.max_attempts, 3);
    done(&p);
    /* Envoy: max_interval defaults to 10 x base_interval */
    parse(&p, "retry: {base: 100ms, retry_on: []}\n");
    cr_assert_eq(p.rc, 0, "%s", sim_diag_text(&p.d));
    cr_expect_eq(p.spec.cap, SIM_SEC);
    cr_expect_eq(p.spec.retry_on, 0u, "an empty list: never retry");
    done(&p);
}

static void expect_errors(const char *text, const char *const *msgs)
{
    parsed_t p;
    parse(&p, text);
    cr_expect(p.d.errors > 0, "no error for:\n%s", text);
    for (int i = 0; msgs[i]; i++)
        cr_expect(strstr(sim_diag_text(&p.d), msgs[i]), "want\n  %s\ngot\n%s", msgs[i], sim_diag_text(&p.d));
    done(&p);
}

Test(retry, parse_errors_have_positions)
{
    expect_errors("retry:\n  max_attempts: 0\n",
                  (const char *[]){"r.yaml:2:17: error: 'retry.max_attempts': expected an integer between 1 and 1000, got '0'\n", NULL});
    expect_errors("retry:\n  base: 100ms\n  cap: 50ms\n",
                  (const char *[]){"r.yaml:3:8: error: 'cap' must not be shorter than 'base'\n", NULL});
    expect_errors("retry:\n  base: 0\n", (const char *[]){"r.yaml:2:9: error: 'retry.base': expected a duration > 0", NULL});
    expect_errors("retry:\n  retry_on: [error, timout]\n",
                  (const char *[]){"r.yaml:2:21: error: 'retry.retry_on[1]': expected one of error, timeout, rejected, "
                                   "unavailable, got 'timout' (did you mean 'timeout'?)\n", NULL});
    expect_errors("retry:\n  retry_on: error\n",
                  (const char *[]){"r.yaml:2:13: error: 'retry.retry_on': expected a sequence", NULL});
    expect_errors("retry:\n  jitter: ful\n", (const char *[]){"r.yaml:2:11: error:", "(did you mean 'full'?)", NULL});
    expect_errors("retry:\n  backof: constant\n",
                  (const char *[]){"r.yaml:2:3: error: unknown key 'backof'", "(did you mean 'backoff'?)", NULL});
}

Test(retry, parse_warns_on_a_repeated_status)
{
    parsed_t p;
    parse(&p, "retry:\n  retry_on: [error, error]\n");
    cr_assert_eq(p.rc, 0, "%s", sim_diag_text(&p.d));
    cr_expect_str_eq(sim_diag_text(&p.d), "r.yaml:2:21: warning: 'error' is listed twice in 'retry_on'\n");
    cr_expect_eq(p.spec.retry_on, (unsigned)RETRY_ON_ERROR);
    done(&p);
}
