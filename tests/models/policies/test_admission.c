/* Retry economics and admission control on a call edge, through the RAG
 * request path: the load amplification of retries against its known
 * result, the budgets that cap it, the bulkhead, and the edge's
 * bookkeeping of attempts and retries in flight.
 *
 * Set-up: requests every 10 ms (100/s) for `for`, one step calling the
 * dependency `backend` (1 replica, 64 workers, 1 ms per call, injected
 * error ratio f), retry on errors up to 4 attempts (N = 3 retries) with a
 * constant 1 ms backoff. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "models/rag/rag.h"
#include "ragfx.h"
#include "sim/scenario.h"

typedef ragfx_t fx_t;

#define BASE                                                                                                \
    "name: a\nduration: 30s\nseed: 7\n"                                                                      \
    "workload:\n  arrivals: deterministic\n  profile: [{for: %s, rate: 100/s}, {rate: 0/s}]\n"               \
    "  query_tokens: {dist: deterministic, value: 40}\n  output_tokens: {dist: deterministic, value: 50}\n" \
    "  deadline: 60s\n"                                                                                      \
    "gateway: {replicas: 1, cores: 64, handling: {pre: 1ms, post: 1ms}}\n"                                   \
    "dependencies:\n  backend: {replicas: 1, concurrency: %s, latency: %s, error_ratio: %g}\n"               \
    "pipeline: {steps: [backend]}\n"                                                                         \
    "calls:\n  backend:\n    timeout: 10s\n"                                                                 \
    "    retry: {max_attempts: 4, backoff: constant, base: 1ms, jitter: none, retry_on: [error, rejected]}\n" \
    "%s"

typedef struct {
    const char *for_, *concurrency, *latency;
    double f;
    const char *extra;
} cfg_t;

static void run(fx_t *fx, cfg_t c)
{
    static char yaml[4096];
    snprintf(yaml, sizeof yaml, BASE, c.for_ ? c.for_ : "20s", c.concurrency ? c.concurrency : "64",
             c.latency ? c.latency : "1ms", c.f, c.extra ? c.extra : "");
    ragfx_run(fx, "a.yaml", yaml, 7, true);
}

static void done(fx_t *fx) { ragfx_done(fx); }

enum { BACKEND = RAG_FIRST_DEP };

/* Attempts per request: (first attempts + retries) / first attempts. */
static double amplification(const fx_t *fx)
{
    double first = (double)fx->rag->arrivals;
    return (first + (double)fx->rag->retries[BACKEND]) / first;
}

static uint64_t successes(const fx_t *fx) { return fx->rag->outcome[RAG_OK_SUCCESS]; }

Test(admission, n_retries_at_100_percent_failure_multiply_the_load_by_1_plus_n)
{
    /* every attempt fails: each of the 1999 requests (10 ms .. 19.99 s)
     * makes exactly 4 */
    fx_t fx;
    run(&fx, (cfg_t){.f = 1.0});
    cr_assert_eq(fx.rag->arrivals, 1999, "%llu arrivals", (unsigned long long)fx.rag->arrivals);
    cr_assert_eq(fx.rag->retries[BACKEND], 3 * 1999);
    cr_assert_float_eq(amplification(&fx), 4.0, 1e-12);
    cr_assert_eq(fx.rag->outcome[RAG_ERROR], 1999);
    /* and the edge's bookkeeping is balanced once everything has ended */
    cr_assert_eq(fx.rag->inflight[BACKEND], 0);
    cr_assert_eq(fx.rag->retries_inflight[BACKEND], 0);
    done(&fx);
}

Test(admission, naive_amplification_is_the_geometric_sum)
{
    /* independent failures with probability f: E[attempts] = 1 + f + f^2 + f^3 */
    const double fs[] = {0.1, 0.5, 0.9};
    for (int i = 0; i < 3; i++) {
        fx_t fx;
        run(&fx, (cfg_t){.f = fs[i], .for_ = "200s", .extra = ""});
        double f = fs[i], want = 1 + f + f * f + f * f * f;
        /* 20000 requests: the sample mean's standard error is below 0.01 */
        cr_assert(fabs(amplification(&fx) - want) < 0.03, "f = %g: %.4f vs %.4f", f, amplification(&fx), want);
        done(&fx);
    }
}

#define BUCKET                                                                                 \
    "    retry_token_bucket: {retry_rate_tokens: 100, retry_cost: 10, retry_timeout_cost: 10,\n" \
    "                         no_retry_increment: 1, refund_on_success: false}\n"

Test(admission, a_retry_token_bucket_caps_the_load_near_1_1x)
{
    /* +0.1 token per success, -1 per retry, 10 at most (in tenths): over the
     * run, retries <= 0.1 x successful attempts + 10, exactly. At 100%
     * failure: the 10 banked retries, then none. Below ~10% failure it
     * behaves like plain retries. */
    const double fs[] = {1.0, 0.9, 0.5, 0.2};
    for (int i = 0; i < 4; i++) {
        fx_t fx;
        run(&fx, (cfg_t){.f = fs[i], .extra = BUCKET});
        uint64_t ok_attempts = successes(&fx);   /* one successful attempt per successful request */
        cr_assert_leq(fx.rag->retries[BACKEND], ok_attempts / 10 + 10, "f = %g: %llu retries, %llu successes", fs[i],
                      (unsigned long long)fx.rag->retries[BACKEND], (unsigned long long)ok_attempts);
        cr_assert_leq(amplification(&fx), 1.1 + 10.0 / 1999, "f = %g: %.4f", fs[i], amplification(&fx));
        if (fs[i] == 1.0) cr_assert_eq(fx.rag->retries[BACKEND], 10);
        done(&fx);
    }
    fx_t a, b;
    run(&a, (cfg_t){.f = 0.02, .extra = BUCKET});
    run(&b, (cfg_t){.f = 0.02});
    cr_assert_eq(a.rag->retries[BACKEND], b.rag->retries[BACKEND], "2%% failure: never binds");
    cr_assert_eq(a.rag->retry_vetoes[BACKEND], 0);
    done(&a);
    done(&b);
}

Test(admission, retry_throttling_stops_retrying_once_failures_drain_half_the_tokens)
{
    /* {10, 0.1}, every attempt fails: the first request's 4 attempts take
     * the tokens to 9, 8, 7 (each above 5: retried) and 6 (its last
     * attempt: no retry to ask for); the second request's first failure
     * leaves 5, not above half: refused, and without a success nothing
     * refills: 3 retries in the whole run, the other 1998 requests refused. */
    fx_t fx;
    run(&fx, (cfg_t){.f = 1.0, .extra = "    retry_throttling: {max_tokens: 10, token_ratio: 0.1}\n"});
    cr_assert_eq(fx.rag->retries[BACKEND], 3, "%llu retries", (unsigned long long)fx.rag->retries[BACKEND]);
    cr_assert_eq(fx.rag->retry_vetoes[BACKEND], 1998);
    done(&fx);
    /* at 5% failure tokens stay near the top: every failure is retried */
    fx_t a, b;
    run(&a, (cfg_t){.f = 0.05, .extra = "    retry_throttling: {max_tokens: 10, token_ratio: 0.1}\n"});
    run(&b, (cfg_t){.f = 0.05});
    cr_assert_eq(a.rag->retry_vetoes[BACKEND], 0);
    cr_assert_eq(a.rag->retries[BACKEND], b.rag->retries[BACKEND]);
    done(&a);
    done(&b);
}

Test(admission, the_retry_budget_never_lets_concurrent_retries_exceed_its_cap)
{
    /* Every attempt fails after 50 ms; 100 requests/s keep ~5 first
     * attempts in flight, so 20% of them is below the minimum of 3: at most
     * 3 retries at a time. Checked at every sample and from the totals: a
     * retry holds its place for its 1 ms backoff + 50 ms attempt, so
     * at most 3 / 51 ms ~ 58.8 retries/s start. */
    fx_t fx;
    run(&fx, (cfg_t){.f = 1.0, .latency = "50ms",
                     .extra = "    retry_budget: {budget_percent: 20%, min_retry_concurrency: 3}\n"});
    double rate = (double)fx.rag->retries[BACKEND] / 20.0;
    cr_assert_leq(rate, 3.0 / 0.051 + 1, "%.2f retries/s", rate);
    cr_assert_gt(rate, 40, "the budget is used: %.2f retries/s", rate);
    cr_assert_gt(fx.rag->retry_vetoes[BACKEND], 0);
    cr_assert_eq(fx.rag->retries_inflight[BACKEND], 0);
    done(&fx);
}

Test(admission, a_bulkhead_refuses_the_calls_beyond_its_permits)
{
    /* Call k goes out at 10k + 1 ms and takes 55 ms: at its issue the calls
     * k-5 .. k-1 are still in flight (k-5 ends at 10k + 6 ms), k-6 is not
     * (it ended at 10k - 4 ms). With 6 permits nothing is refused. With 5,
     * call 6 finds 5 in flight and is refused (fail fast: a local decision
     * is not retried), calls 7..11 find 4, call 12 finds 5 again: every
     * 6th call, 333 of 1999. */
    fx_t fx;
    run(&fx, (cfg_t){.f = 0, .latency = "55ms", .extra = "    bulkhead: {max_concurrent_calls: 6}\n"});
    cr_assert_eq(fx.rag->policy_rejects[BACKEND], 0);
    done(&fx);
    run(&fx, (cfg_t){.f = 0, .latency = "55ms", .extra = "    bulkhead: {max_concurrent_calls: 5}\n"});
    cr_assert_eq(fx.rag->policy_rejects[BACKEND], 333);
    cr_assert_eq(fx.rag->outcome[RAG_ERROR], 333);
    cr_assert_eq(fx.rag->inflight[BACKEND], 0);
    done(&fx);
}
