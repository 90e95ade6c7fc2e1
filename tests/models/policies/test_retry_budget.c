/* Retry economics: Envoy's retry budget (its double truncation, the bound
 * under random begins and ends), gRPC retry throttling (hand traces in
 * thousandths, the ~10% failure threshold), the AWS retry quota (exact
 * token bounds under random sequences, the known "0.1 retries per success"
 * result) and parsing. Expected values are computed by hand. */
#include <criterion/criterion.h>
#include <string.h>

#include "models/policies/retry_budget.h"
#include "sim/error.h"
#include "sim/rng.h"

/* ---- Envoy retry budget ------------------------------------------------- */

Test(retry_budget, max_retries_truncates_like_envoy)
{
    rb_t rb;
    cr_assert_eq(rb_init(&rb, &RB_DEFAULTS), 0);
    /* max(20% x active truncated, 3) */
    const int64_t active[] = {0, 1, 14, 15, 19, 20, 24, 25, 100, 1000};
    const int64_t want[] = {3, 3, 3, 3, 3, 4, 4, 5, 20, 200};
    for (int i = 0; i < 10; i++)
        cr_assert_eq(rb_max_retries(&rb, active[i]), want[i], "active %lld: %lld, want %lld",
                     (long long)active[i], (long long)rb_max_retries(&rb, active[i]), (long long)want[i]);
    /* Envoy's double: 29 / 100.0 x 100 = 28.999999999999996 -> 28, not 29 */
    cr_assert_eq(rb_init(&rb, &(rb_spec_t){.budget = 0.29, .min_retry_concurrency = 0}), 0);
    cr_assert_eq(rb_max_retries(&rb, 100), 28);
    cr_assert_eq(rb_max_retries(&rb, 0), 0, "min 0 and nothing active: no retry");
}

Test(retry_budget, begin_end_and_overflow)
{
    rb_t rb;
    cr_assert_eq(rb_init(&rb, &RB_DEFAULTS), 0);
    for (int i = 0; i < 3; i++) {
        cr_assert(rb_can_retry(&rb, 10), "retry %d of min 3", i);
        rb_retry_begin(&rb);
    }
    cr_assert_not(rb_can_retry(&rb, 10));
    cr_assert(rb_can_retry(&rb, 20), "20 active: 4 allowed");
    rb_retry_begin(&rb);
    cr_assert_not(rb_can_retry(&rb, 20));
    rb_retry_end(&rb);
    cr_assert(rb_can_retry(&rb, 20));
    cr_assert_eq(rb.active_retries, 3);
    cr_assert_eq(rb.retries, 4);
    cr_assert_eq(rb.overflows, 2);
}

Test(retry_budget, never_exceeds_the_budget_under_random_begins_and_ends)
{
    /* budget p% with an exact integer bound: active_retries after a begin
     * <= max(p x active / 100, min) (Envoy's double can only be lower) */
    const int p = 20;
    const int64_t min = 3;
    rb_t rb;
    cr_assert_eq(rb_init(&rb, &(rb_spec_t){.budget = p / 100.0, .min_retry_concurrency = min}), 0);
    sim_rng_t rng;
    sim_rng_init(&rng, 31);
    int64_t active = 40, violations = 0, refusals = 0, at_max = 0;
    for (int i = 0; i < 500000; i++) {
        /* the cluster's active requests drift between 0 and 200 */
        active += (int64_t)sim_rng_below(&rng, 5) - 2;
        if (active < 0) active = 0;
        if (active > 200) active = 200;
        if (sim_rng_below(&rng, 100) < 55) {
            if (rb_can_retry(&rb, active)) {
                rb_retry_begin(&rb);
                int64_t bound = p * active / 100 > min ? p * active / 100 : min;
                violations += rb.active_retries > bound;
                at_max += rb.active_retries == bound;
            } else {
                refusals++;
            }
        } else if (rb.active_retries > 0) {
            rb_retry_end(&rb);
        }
    }
    cr_assert_eq(violations, 0);
    cr_assert_gt(refusals, 10000, "the budget must bind (%lld refusals)", (long long)refusals);
    cr_assert_gt(at_max, 10000, "and be used up to the bound (%lld)", (long long)at_max);
    cr_assert_eq(rb.overflows, (uint64_t)refusals);
}

/* ---- gRPC retry throttling ---------------------------------------------- */

Test(retry_throttling, failures_stop_retries_at_half_and_successes_resume_them)
{
    rthr_t t;
    cr_assert_eq(rthr_init(&t, &RTHR_DEFAULTS), 0);
    cr_assert_eq(rthr_tokens(&t), 10.0);
    /* 9, 8, 7, 6 > 5: retried; 5 is not > 5 */
    for (int i = 0; i < 4; i++) cr_assert(rthr_on_failure(&t), "failure %d", i + 1);
    cr_assert_not(rthr_on_failure(&t), "the fifth failure leaves 5 = max/2");
    cr_assert_eq(t.milli_tokens, 5000);
    cr_assert_not(rthr_retry_allowed(&t));
    rthr_on_success(&t);
    cr_assert_eq(t.milli_tokens, 5100);
    cr_assert(rthr_retry_allowed(&t), "5.1 > 5");
    cr_assert_not(rthr_on_failure(&t), "the failure itself brings it to 4.1");
    cr_assert_eq(t.milli_tokens, 4100);
    /* exactly 9 successes to 5.0 (not above), the 10th to 5.1: in
     * thousandths there is no 4.999999 or 5.0000001 */
    for (int i = 0; i < 9; i++) rthr_on_success(&t);
    cr_assert_eq(t.milli_tokens, 5000);
    cr_assert_not(rthr_retry_allowed(&t));
    rthr_on_success(&t);
    cr_assert(rthr_retry_allowed(&t));
    cr_assert_eq(t.failures, 6);
    cr_assert_eq(t.successes, 11);
    cr_assert_eq(t.throttled, 2);
}

Test(retry_throttling, tokens_stay_between_zero_and_max)
{
    rthr_t t;
    cr_assert_eq(rthr_init(&t, &RTHR_DEFAULTS), 0);
    rthr_on_success(&t);
    cr_assert_eq(t.milli_tokens, 10000, "capped at max");
    for (int i = 0; i < 25; i++) rthr_on_failure(&t);
    cr_assert_eq(t.milli_tokens, 0, "floored at 0");
    rthr_on_success(&t);
    cr_assert_eq(t.milli_tokens, 100);
    /* max 3, ratio 0.5: threshold 1500 */
    cr_assert_eq(rthr_init(&t, &(rthr_spec_t){3000, 500}), 0);
    cr_assert(rthr_on_failure(&t));       /* 2000 */
    cr_assert_not(rthr_on_failure(&t));   /* 1000 */
    rthr_on_success(&t);                  /* 1500: not above */
    cr_assert_not(rthr_retry_allowed(&t));
    rthr_on_success(&t);                  /* 2000 */
    cr_assert(rthr_retry_allowed(&t));
    /* an odd number of thousandths: 2.001 -> threshold 1000 (integer division) */
    cr_assert_eq(rthr_init(&t, &(rthr_spec_t){2001, 1}), 0);
    cr_assert(rthr_on_failure(&t), "1001 > 1000");
    cr_assert_not(rthr_on_failure(&t));
}

/* A6: "with {10, 0.1} retries are throttled when the failure ratio exceeds
 * ~10%": the drift per attempt is -p + 0.1 (1 - p), zero at p = 1/11. */
static double fraction_of_failures_retried(double p, uint64_t seed)
{
    rthr_t t;
    cr_assert_eq(rthr_init(&t, &RTHR_DEFAULTS), 0);
    sim_rng_t rng;
    sim_rng_init(&rng, seed);
    uint64_t failures = 0, retried = 0;
    for (int i = 0; i < 400000; i++) {
        if (sim_rng_uniform(&rng) < p) {
            failures++;
            retried += rthr_on_failure(&t);
        } else {
            rthr_on_success(&t);
        }
    }
    return (double)retried / (double)failures;
}

Test(retry_throttling, throttles_above_about_ten_percent_failures)
{
    double low = fraction_of_failures_retried(0.05, 41);
    double high = fraction_of_failures_retried(0.20, 42);
    cr_assert_gt(low, 0.99, "at 5%% failures almost every failure is retried (%.4f)", low);
    cr_assert_lt(high, 0.05, "at 20%% failures almost none is (%.4f)", high);
}

/* ---- Retry token bucket (AWS retry quota) ------------------------------- */

Test(retry_token_bucket, every_attempt_failing_stops_after_capacity_over_cost)
{
    rq_t q;
    cr_assert_eq(rq_init(&q, &RQ_DEFAULTS), 0);
    for (int i = 0; i < 100; i++) cr_assert_eq(rq_acquire(&q, false), 5, "retry %d", i);
    cr_assert_eq(rq_acquire(&q, false), 0, "500 / 5 = 100 retries, then the quota is exceeded");
    cr_assert_eq(q.tokens, 0);
    cr_assert_eq(q.retries, 100);
    cr_assert_eq(q.refused, 1);
    /* timeouts cost 10: 50 */
    cr_assert_eq(rq_init(&q, &RQ_DEFAULTS), 0);
    int n = 0;
    while (rq_acquire(&q, true)) n++;
    cr_assert_eq(n, 50);
    /* 3 left after a 497-token start is not enough for a 5 */
    cr_assert_eq(rq_init(&q, &RQ_DEFAULTS), 0);
    q.tokens = 4;
    cr_assert_eq(rq_acquire(&q, false), 0);
    cr_assert_eq(q.tokens, 4, "a refusal takes nothing");
}

Test(retry_token_bucket, successes_pay_back_increment_or_refund)
{
    rq_t q;
    cr_assert_eq(rq_init(&q, &RQ_DEFAULTS), 0);
    rq_on_success(&q, 0);
    cr_assert_eq(q.tokens, 500, "full: the increment is capped");
    cr_assert_eq(q.credited, 0);
    for (int i = 0; i < 10; i++) rq_acquire(&q, false);   /* 450 */
    int64_t held = rq_acquire(&q, true);                  /* 440 */
    cr_assert_eq(held, 10);
    rq_on_success(&q, held);                              /* the retried call succeeds: refund */
    cr_assert_eq(q.tokens, 450);
    for (int i = 0; i < 3; i++) rq_on_success(&q, 0);     /* first-attempt successes */
    cr_assert_eq(q.tokens, 453);
    cr_assert_eq(q.spent, 60);
    cr_assert_eq(q.credited, 13);
    /* without refunds every success is the increment */
    rq_spec_t s = RQ_DEFAULTS;
    s.refund_on_success = false;
    cr_assert_eq(rq_init(&q, &s), 0);
    held = rq_acquire(&q, false);
    rq_on_success(&q, held);
    cr_assert_eq(q.tokens, 496);
}

Test(retry_token_bucket, the_tenth_of_a_token_bucket)
{
    /* +0.1 per success, -1 per retry, at most 10 tokens: in AWS's integer
     * terms 100 tokens, cost 10, increment 1, no refunds */
    const rq_spec_t s = {.retry_rate_tokens = 100, .retry_cost = 10, .retry_timeout_cost = 10,
                         .no_retry_increment = 1, .refund_on_success = false};
    rq_t q;
    cr_assert_eq(rq_init(&q, &s), 0);
    int n = 0;
    while (rq_acquire(&q, false)) n++;
    cr_assert_eq(n, 10, "100%% failure: capacity / cost = 10 retries");
    for (int i = 0; i < 9; i++) rq_on_success(&q, 0);
    cr_assert_eq(rq_acquire(&q, false), 0, "0.9 tokens: no retry");
    rq_on_success(&q, 0);
    cr_assert_eq(rq_acquire(&q, false), 10, "1.0 token: one retry");
}

/* Random calls: each makes attempts until one succeeds, the quota refuses a
 * retry, or 4 attempts are used; attempts fail with probability p, a
 * failure is a timeout with probability 1/4. Checks the token identity and
 * the exact bounds after every event. */
typedef struct {
    int64_t calls, retries, successes, first_successes, retried_successes, cost;
} rq_run_t;

static rq_run_t random_calls(const rq_spec_t *s, double p, int ncalls, uint64_t seed)
{
    rq_t q;
    cr_assert_eq(rq_init(&q, s), 0);
    sim_rng_t rng;
    sim_rng_init(&rng, seed);
    rq_run_t r = {0};
    for (int c = 0; c < ncalls; c++) {
        r.calls++;
        int64_t held = 0;
        for (int attempt = 0; attempt < 4; attempt++) {
            if (sim_rng_uniform(&rng) >= p) {
                r.successes++;
                if (held) r.retried_successes++;
                else r.first_successes++;
                rq_on_success(&q, held);
                break;
            }
            if (attempt == 3) break;
            held = rq_acquire(&q, sim_rng_below(&rng, 4) == 0);
            if (!held) break;
            r.retries++;
            r.cost += held;
        }
        /* the identity, and 0 <= tokens <= capacity */
        cr_assert_eq(q.tokens, s->retry_rate_tokens - q.spent + q.credited, "call %d", c);
        cr_assert(q.tokens >= 0 && q.tokens <= s->retry_rate_tokens, "call %d: %lld tokens", c,
                  (long long)q.tokens);
        cr_assert_eq(q.spent, r.cost);
        if (!s->refund_on_success) {
            /* every success pays the increment: costs <= increment x successes + capacity */
            cr_assert_leq(r.cost, s->no_retry_increment * r.successes + s->retry_rate_tokens, "call %d", c);
        }
    }
    return r;
}

Test(retry_token_bucket, exact_bound_under_random_sequences)
{
    rq_spec_t s = {.retry_rate_tokens = 100, .retry_cost = 10, .retry_timeout_cost = 10,
                   .no_retry_increment = 1, .refund_on_success = false};
    for (int k = 0; k < 4; k++) {
        double p = (double[]){0.02, 0.15, 0.5, 1.0}[k];
        rq_run_t r = random_calls(&s, p, 100000, 50 + (uint64_t)k);
        /* retries x 1 <= 0.1 x successes + 10, in tenths */
        cr_assert_leq(10 * r.retries, r.successes + 100, "p = %g: %lld retries, %lld successes", p,
                      (long long)r.retries, (long long)r.successes);
        if (p == 1.0) cr_assert_eq(r.retries, 10);
    }
    /* AWS defaults with refunds (timeouts cost 10, others 5): a refunded
     * retry is free, so the failed ones are bounded:
     * sum of costs of retries that did not succeed <= increment x
     * first-attempt successes + capacity */
    for (int k = 0; k < 3; k++) {
        double p = (double[]){0.05, 0.3, 0.8}[k];
        rq_t q;
        cr_assert_eq(rq_init(&q, &RQ_DEFAULTS), 0);
        sim_rng_t rng;
        sim_rng_init(&rng, 60 + (uint64_t)k);
        int64_t first = 0, unrefunded = 0, refused = 0;
        for (int c = 0; c < 100000; c++) {
            int64_t held = 0;
            for (int attempt = 0; attempt < 3; attempt++) {
                if (sim_rng_uniform(&rng) >= p) {
                    first += held == 0;
                    rq_on_success(&q, held);
                    held = 0;
                    break;
                }
                unrefunded += held;   /* a failed retry keeps its cost */
                held = 0;
                if (attempt == 2) break;
                held = rq_acquire(&q, sim_rng_below(&rng, 4) == 0);
                if (!held) {
                    refused++;
                    break;
                }
            }
            unrefunded += held;
            cr_assert_leq(unrefunded, first + 500, "p = %g, call %d", p, c);
        }
        if (p >= 0.3) cr_assert_gt(refused, 100, "p = %g: the quota must bind", p);
    }
}

/* A known result (docs/model-policies.md, "Retry token bucket"): a retry
 * token bucket (+0.1 per success, -1 per retry, the shape of gRPC's A6
 * retry throttling, https://github.com/grpc/proposal/blob/master/A6-client-retries.md)
 * behaves like N retries below ~10% failure and like 0.1 retries per
 * success above. */
Test(retry_token_bucket, like_n_retries_below_ten_percent_and_a_tenth_above)
{
    const rq_spec_t s = {.retry_rate_tokens = 100, .retry_cost = 10, .retry_timeout_cost = 10,
                         .no_retry_increment = 1, .refund_on_success = false};
    /* 3 retries, p = 2%: unthrottled retries per call = p + p^2 + p^3 */
    rq_run_t lo = random_calls(&s, 0.02, 400000, 70);
    double want = 0.02 + 0.0004 + 0.000008;
    double got = (double)lo.retries / (double)lo.calls;
    cr_assert_lt(got / want, 1.03, "p = 2%%: %.5f retries per call, unthrottled %.5f", got, want);
    cr_assert_gt(got / want, 0.97, "p = 2%%: %.5f retries per call, unthrottled %.5f", got, want);
    /* p = 50%: unthrottled would be 0.875 per call; the bucket holds it to
     * 0.1 per success */
    rq_run_t hi = random_calls(&s, 0.5, 400000, 71);
    double per_success = (double)hi.retries / (double)hi.successes;
    cr_assert_lt(per_success, 0.1 + 1e-3, "%.4f", per_success);
    cr_assert_gt(per_success, 0.099, "%.4f", per_success);
}

/* ---- parsing ----------------------------------------------------------- */

typedef struct {
    sim_diag_t d;
    sim_cfg_t *cfg;
    int rc;
} parsed_t;

typedef enum { P_RB, P_RTHR, P_RQ } which_t;

static rb_spec_t rb_out;
static rthr_spec_t rthr_out;
static rq_spec_t rq_out;

static void parse(parsed_t *p, which_t w, const char *text)
{
    sim_diag_init(&p->d);
    p->cfg = sim_cfg_load_string("r.yaml", text, strlen(text), &p->d);
    cr_assert_not_null(p->cfg, "%s", sim_diag_text(&p->d));
    sim_cfg_node_t *root = sim_cfg_root(p->cfg);
    switch (w) {
    case P_RB: p->rc = rb_spec_parse(&p->d, sim_cfg_get(root, "retry_budget"), &rb_out); break;
    case P_RTHR: p->rc = rthr_spec_parse(&p->d, sim_cfg_get(root, "retry_throttling"), &rthr_out); break;
    case P_RQ: p->rc = rq_spec_parse(&p->d, sim_cfg_get(root, "retry_token_bucket"), &rq_out); break;
    }
    sim_cfg_check_unused(p->cfg, &p->d);
}

static void done(parsed_t *p)
{
    sim_cfg_destroy(p->cfg);
    sim_diag_fini(&p->d);
}

static void parse_ok(parsed_t *p, which_t w, const char *text)
{
    parse(p, w, text);
    cr_assert_eq(p->rc, 0, "%s", sim_diag_text(&p->d));
    cr_assert_eq(p->d.errors + p->d.warnings, 0, "%s", sim_diag_text(&p->d));
}

Test(retry_economics, parse_values_and_defaults)
{
    parsed_t p;
    parse_ok(&p, P_RB, "retry_budget: {budget_percent: 25%, min_retry_concurrency: 10}\n");
    cr_expect_eq(rb_out.budget, 0.25);
    cr_expect_eq(rb_out.min_retry_concurrency, 10);
    done(&p);
    parse_ok(&p, P_RB, "retry_budget:\n");
    cr_expect_eq(rb_out.budget, 0.2);
    cr_expect_eq(rb_out.min_retry_concurrency, 3);
    done(&p);
    parse_ok(&p, P_RTHR, "retry_throttling: {max_tokens: 100, token_ratio: 0.05}\n");
    cr_expect_eq(rthr_out.max_milli_tokens, 100000);
    cr_expect_eq(rthr_out.milli_token_ratio, 50);
    done(&p);
    parse_ok(&p, P_RTHR, "retry_throttling: {max_tokens: 2.5, token_ratio: 0.7}\n");
    cr_expect_eq(rthr_out.max_milli_tokens, 2500);
    cr_expect_eq(rthr_out.milli_token_ratio, 700, "0.7 x 1000 is 700, not 699");
    done(&p);
    parse_ok(&p, P_RTHR, "retry_throttling:\n");
    cr_expect_eq(rthr_out.max_milli_tokens, 10000);
    cr_expect_eq(rthr_out.milli_token_ratio, 100);
    done(&p);
    parse_ok(&p, P_RQ, "retry_token_bucket: {retry_rate_tokens: 100, retry_cost: 10, retry_timeout_cost: 20, "
                       "no_retry_increment: 2, refund_on_success: false}\n");
    cr_expect_eq(rq_out.retry_rate_tokens, 100);
    cr_expect_eq(rq_out.retry_cost, 10);
    cr_expect_eq(rq_out.retry_timeout_cost, 20);
    cr_expect_eq(rq_out.no_retry_increment, 2);
    cr_expect_not(rq_out.refund_on_success);
    done(&p);
    parse_ok(&p, P_RQ, "retry_token_bucket:\n");
    cr_expect_eq(rq_out.retry_rate_tokens, 500);
    cr_expect_eq(rq_out.retry_cost, 5);
    cr_expect_eq(rq_out.retry_timeout_cost, 10);
    cr_expect_eq(rq_out.no_retry_increment, 1);
    cr_expect(rq_out.refund_on_success);
    done(&p);
    rb_spec_t a;
    rthr_spec_t b;
    rq_spec_t c;
    cr_assert_eq(rb_spec_parse(NULL, NULL, &a), 0);
    cr_assert_eq(rthr_spec_parse(NULL, NULL, &b), 0);
    cr_assert_eq(rq_spec_parse(NULL, NULL, &c), 0);
    cr_expect_eq(a.min_retry_concurrency, 3);
    cr_expect_eq(b.max_milli_tokens, 10000);
    cr_expect_eq(c.retry_rate_tokens, 500);
}

Test(retry_economics, parse_truncates_token_ratio_to_three_decimals_with_a_warning)
{
    parsed_t p;
    parse(&p, P_RTHR, "retry_throttling:\n  token_ratio: 0.1239\n");
    cr_assert_eq(p.rc, 0, "%s", sim_diag_text(&p.d));
    cr_expect_eq(rthr_out.milli_token_ratio, 123);
    cr_expect(strstr(sim_diag_text(&p.d), "r.yaml:2:16: warning: 'retry_throttling.token_ratio': gRPC keeps "
                                          "3 decimal places: 0.1239 is read as 0.123\n"),
              "%s", sim_diag_text(&p.d));
    done(&p);
}

static void expect_errors(which_t w, const char *text, const char *const *msgs)
{
    parsed_t p;
    parse(&p, w, text);
    cr_expect(p.d.errors > 0, "no error for:\n%s", text);
    if (!strstr(msgs[0], "unknown key")) cr_expect_eq(p.rc, SIM_ECONFIG, "%s", msgs[0]);
    for (int i = 0; msgs[i]; i++)
        cr_expect(strstr(sim_diag_text(&p.d), msgs[i]), "want\n  %s\ngot\n%s", msgs[i], sim_diag_text(&p.d));
    done(&p);
}

Test(retry_economics, parse_errors_have_positions)
{
    expect_errors(P_RB, "retry_budget:\n  budget_percent: 20\n",
                  (const char *[]){"r.yaml:2:19: error: 'retry_budget.budget_percent': expected a ratio", NULL});
    expect_errors(P_RB, "retry_budget:\n  min_retry_concurrency: -1\n",
                  (const char *[]){"r.yaml:2:26: error: 'retry_budget.min_retry_concurrency': expected an "
                                   "integer between 0 and 4294967295, got '-1'", NULL});
    expect_errors(P_RB, "retry_budget:\n  budget_precent: 20%\n",
                  (const char *[]){"r.yaml:2:3: error: unknown key 'budget_precent'",
                                   "(did you mean 'budget_percent'?)", NULL});
    expect_errors(P_RTHR, "retry_throttling:\n  max_tokens: 0\n",
                  (const char *[]){"r.yaml:2:15: error: 'retry_throttling.max_tokens': expected a number > 0 "
                                   "and <= 1000, got '0'", NULL});
    expect_errors(P_RTHR, "retry_throttling:\n  max_tokens: 1001\n",
                  (const char *[]){"r.yaml:2:15: error: 'retry_throttling.max_tokens': expected a number > 0 "
                                   "and <= 1000, got '1001'", NULL});
    expect_errors(P_RTHR, "retry_throttling:\n  token_ratio: 0.0004\n",
                  (const char *[]){"r.yaml:2:16: error: 'retry_throttling.token_ratio': expected at least "
                                   "0.001 (gRPC keeps 3 decimal places), got '0.0004'", NULL});
    expect_errors(P_RTHR, "retry_throttling:\n  token_ratio: ten\n",
                  (const char *[]){"r.yaml:2:16: error: 'retry_throttling.token_ratio': expected a number", NULL});
    expect_errors(P_RQ, "retry_token_bucket:\n  retry_cost: 0\n",
                  (const char *[]){"r.yaml:2:15: error: 'retry_token_bucket.retry_cost': expected an integer "
                                   "between 1 and 1000000000000, got '0'", NULL});
    expect_errors(P_RQ, "retry_token_bucket:\n  no_retry_increment: 0.1\n",
                  (const char *[]){"r.yaml:2:23: error: 'retry_token_bucket.no_retry_increment': expected an "
                                   "integer", NULL});
    expect_errors(P_RQ, "retry_token_bucket:\n  refund_on_success: yes\n",
                  (const char *[]){"r.yaml:2:22: error: 'retry_token_bucket.refund_on_success'", NULL});
    expect_errors(P_RQ, "retry_token_bucket:\n  capacity: 10\n",
                  (const char *[]){"r.yaml:2:3: error: unknown key 'capacity'", NULL});
    expect_errors(P_RQ, "retry_token_bucket: [1]\n",
                  (const char *[]){"r.yaml:1:21: error: 'retry_token_bucket': expected a mapping", NULL});
}

Test(retry_economics, init_rejects_bad_specs)
{
    rb_t rb;
    rthr_t t;
    rq_t q;
    cr_expect_eq(rb_init(&rb, &(rb_spec_t){.budget = 1.5, .min_retry_concurrency = 3}), SIM_EINVAL);
    cr_expect_eq(rb_init(&rb, &(rb_spec_t){.budget = 0.2, .min_retry_concurrency = -1}), SIM_EINVAL);
    cr_expect_eq(rthr_init(&t, &(rthr_spec_t){0, 100}), SIM_EINVAL);
    cr_expect_eq(rthr_init(&t, &(rthr_spec_t){10000, 0}), SIM_EINVAL);
    rq_spec_t s = RQ_DEFAULTS;
    s.retry_cost = 0;
    cr_expect_eq(rq_init(&q, &s), SIM_EINVAL);
    s = RQ_DEFAULTS;
    s.no_retry_increment = -1;
    cr_expect_eq(rq_init(&q, &s), SIM_EINVAL);
}
