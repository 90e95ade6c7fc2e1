/* Retry economics: three machines that decide whether a retry may be sent
 * at all (models/policies/retry.c decides whether a call wants one and when).
 *
 *   rb_    Envoy's retry budget (cluster circuit_breakers.thresholds
 *          .retry_budget): concurrent retries <= max(budget_percent of the
 *          active requests, min_retry_concurrency).
 *   rthr_  gRPC's retry throttling (service config retryThrottling, A6):
 *          tokens -1 per failed attempt, +token_ratio per successful one;
 *          retries only while tokens > max_tokens / 2.
 *   rq_    the AWS SDKs' retry quota (standard retry mode): a token bucket
 *          that a retry draws from and successes pay back into.
 *
 * All are O(1) per call with integer or exactly specified arithmetic and no
 * allocation; none reads the clock. */
#ifndef MODELS_POLICIES_RETRY_BUDGET_H
#define MODELS_POLICIES_RETRY_BUDGET_H

#include <stdbool.h>
#include <stdint.h>

#include "sim/cfg.h"

/* ---- Envoy retry budget -------------------------------------------------
 * Envoy's RetryBudgetImpl (source/common/upstream/resource_manager_impl.h):
 *     max() = std::max<uint64_t>(budget_percent / 100.0 * (requests + pending),
 *                                min_retry_concurrency)
 *     canCreate() = count() < max()
 * The product is a double converted to uint64_t, i.e. truncated: 20% of 14
 * active requests allows 2 (2.8), of 15 allows 3; never fewer than
 * min_retry_concurrency. Here the budget is the fraction parsed from
 * `20%` or `0.2`; `budget_percent / 100.0` in Envoy is the same double for
 * every percent that is a binary fraction (20, 12.5, ...; within one ulp for
 * the rest). The count is of retries in progress: Envoy takes the resource
 * when it schedules a retry (backoff included) and gives it back when that
 * retried attempt ends or the request is destroyed (RetryStateImpl
 * ::resetRetry). The caller passes the cluster's active + pending requests
 * (retries included, as Envoy counts them). Envoy's newer budget_interval
 * (a request rate instead of a count) is not modelled (its default 0 is the
 * count). */

typedef struct rb_spec {
    double budget;                   /* budget_percent as a fraction, 20% = 0.2, in [0, 1] */
    int64_t min_retry_concurrency;   /* 3 */
} rb_spec_t;

#define RB_DEFAULTS ((rb_spec_t){.budget = 0.2, .min_retry_concurrency = 3})

/* `retry_budget: {budget_percent: 20%, min_retry_concurrency: 3}`; a NULL
 * (or null) map gives RB_DEFAULTS. Returns 0 or SIM_ECONFIG after reporting. */
int rb_spec_parse(sim_diag_t *d, sim_cfg_node_t *map, rb_spec_t *spec);

typedef struct rb {
    rb_spec_t spec;
    int64_t active_retries;
    uint64_t retries, overflows;   /* rb_retry_begin calls; rb_can_retry refusals
                                      (Envoy's upstream_rq_retry_overflow) */
} rb_t;

/* Returns 0 or SIM_EINVAL (budget outside [0, 1], negative minimum). */
int rb_init(rb_t *rb, const rb_spec_t *spec);

/* Envoy's max(): the most concurrent retries with `active_requests` (>= 0)
 * requests active or pending on the cluster. */
int64_t rb_max_retries(const rb_t *rb, int64_t active_requests);

/* May one more retry start now? active_retries < rb_max_retries. A refusal
 * is counted in `overflows`: call it once per retry decision. */
bool rb_can_retry(rb_t *rb, int64_t active_requests);

/* A retry was scheduled (after rb_can_retry said yes) / the retried attempt
 * ended or its call was abandoned. Each begin has exactly one end. */
void rb_retry_begin(rb_t *rb);
void rb_retry_end(rb_t *rb);

/* ---- gRPC retry throttling ----------------------------------------------
 * gRPC A6 "Throttling Retry Attempts and Hedged RPCs", in gRPC core's
 * integer form (ServerRetryThrottleData) and grpc-java's
 * (RetriableStream.Throttle): tokens are held in thousandths.
 *     start          milli_tokens = max_milli_tokens
 *     a failure      milli_tokens = max(0, milli_tokens - 1000); the retry of
 *                    that attempt is allowed iff milli_tokens > max_milli_tokens / 2
 *                    (integer division; core RecordFailure, java
 *                    onQualifiedFailureThenCheckIsAboveThreshold)
 *     a success      milli_tokens = min(max_milli_tokens, milli_tokens + milli_token_ratio)
 * A failure is an attempt that ends with a retryable status code (or a
 * server pushback saying not to retry); a success is an attempt that ends
 * OK (core; grpc-java counts it when the response headers arrive). Other
 * outcomes (a non-retryable error) count as neither. With {10, 0.1}:
 * 10 -> five failures -> 5 (a retry needs > 5: the fifth failure is not
 * retried) -> a success -> 5.1 (a retry is allowed again; the next failure
 * itself brings it to 4.1 and is not retried).
 *
 * token_ratio keeps 3 decimal places, truncated (core parses the decimal
 * text: 0.1239 -> 123 thousandths; grpc-java computes (int) (ratio * 1000f)
 * in float, which can lose one more thousandth, e.g. 0.7 -> 699: not
 * reproduced). max_tokens is in (0, 1000] (grpc-go's check; core requires
 * an integer, grpc-java a float: here up to 3 decimals, like java). gRPC has
 * no defaults (both fields are required when throttling is configured);
 * the defaults here are A6's example {10, 0.1}. */

typedef struct rthr_spec {
    int32_t max_milli_tokens;    /* max_tokens x 1000, in [1, 1000000]; 10000 */
    int32_t milli_token_ratio;   /* token_ratio x 1000, in [1, 1000000]; 100 */
} rthr_spec_t;

#define RTHR_DEFAULTS ((rthr_spec_t){.max_milli_tokens = 10000, .milli_token_ratio = 100})

/* `retry_throttling: {max_tokens: 10, token_ratio: 0.1}`; a NULL (or null)
 * map gives RTHR_DEFAULTS. A value with more than 3 decimals is truncated
 * with a warning; one that truncates to 0 is an error. */
int rthr_spec_parse(sim_diag_t *d, sim_cfg_node_t *map, rthr_spec_t *spec);

typedef struct rthr {
    rthr_spec_t spec;
    int32_t milli_tokens;
    uint64_t failures, successes, throttled;   /* throttled: failures not allowed a retry */
} rthr_t;

/* A full bucket. Returns 0 or SIM_EINVAL. */
int rthr_init(rthr_t *t, const rthr_spec_t *spec);

/* An attempt failed with a retryable status: take one token; true iff the
 * tokens left are above the threshold, i.e. this failure may be retried. */
bool rthr_on_failure(rthr_t *t);

/* An attempt succeeded: add token_ratio. */
void rthr_on_success(rthr_t *t);

/* Above the threshold now (grpc-java isAboveThreshold, which gates hedged
 * attempts), without recording anything. */
static inline bool rthr_retry_allowed(const rthr_t *t)
{
    return t->milli_tokens > t->spec.max_milli_tokens / 2;
}

static inline double rthr_tokens(const rthr_t *t) { return t->milli_tokens / 1000.0; }

/* ---- Retry token bucket (AWS SDK retry quota) ---------------------------
 * The AWS SDKs' "standard" retry mode (aws-sdk-go-v2 retry.Standard with
 * ratelimit.TokenRateLimit; the same constants in botocore's RetryQuota-
 * Checker and the Java SDK v2): a bucket of retry_rate_tokens integer
 * tokens, full at the start.
 *     a retry        allowed iff the bucket holds its cost (retry_timeout_cost
 *                    after a timeout, retry_cost otherwise), which it takes;
 *                    otherwise the call fails with "retry quota exceeded"
 *     a success      of a call's first attempt: + no_retry_increment; of a
 *                    retried attempt: + the cost that retry took (a refund),
 *                    both capped at retry_rate_tokens
 *     a failure      nothing back
 * Integer tokens make every bound exact: over any sequence,
 *     sum of costs taken <= retry_rate_tokens + tokens credited back,
 * so with refund_on_success: false (every success, first or retried,
 * credits no_retry_increment) retries x cost <= no_retry_increment x
 * successes + retry_rate_tokens, and with every attempt failing a client
 * makes exactly floor(retry_rate_tokens / cost) retries (100 with the
 * defaults). The "+0.1 per success, -1 per retry, 10 at most" bucket is
 * {retry_rate_tokens: 100, retry_cost: 10, retry_timeout_cost: 10,
 * no_retry_increment: 1, refund_on_success: false}.
 * refund_on_success is ragsim's switch; true is the AWS behaviour. The
 * AWS_NEW_RETRIES_2026 behaviour (costs 14 and 5 for throttling) is not the
 * SDKs' default and not modelled. */

typedef struct rq_spec {
    int64_t retry_rate_tokens;    /* DefaultRetryRateTokens 500: bucket size and start */
    int64_t retry_cost;           /* DefaultRetryCost 5 */
    int64_t retry_timeout_cost;   /* DefaultRetryTimeoutCost 10 */
    int64_t no_retry_increment;   /* DefaultNoRetryIncrement 1 */
    bool refund_on_success;       /* AWS: true */
} rq_spec_t;

#define RQ_MAX_TOKENS 1000000000000LL   /* largest bucket, cost or increment accepted */

#define RQ_DEFAULTS                                                                  \
    ((rq_spec_t){.retry_rate_tokens = 500, .retry_cost = 5, .retry_timeout_cost = 10, \
                 .no_retry_increment = 1, .refund_on_success = true})

/* `retry_token_bucket: {retry_rate_tokens: 500, retry_cost: 5,
 * retry_timeout_cost: 10, no_retry_increment: 1, refund_on_success: true}`;
 * a NULL (or null) map gives RQ_DEFAULTS. Returns 0 or SIM_ECONFIG. */
int rq_spec_parse(sim_diag_t *d, sim_cfg_node_t *map, rq_spec_t *spec);

typedef struct rq {
    rq_spec_t spec;
    int64_t tokens;                /* 0 <= tokens <= retry_rate_tokens */
    int64_t spent, credited;       /* totals taken and given back (after the cap):
                                      tokens = retry_rate_tokens - spent + credited */
    uint64_t retries, refused;     /* rq_acquire granted / refused */
} rq_t;

/* A full bucket. Returns 0 or SIM_EINVAL. */
int rq_init(rq_t *q, const rq_spec_t *spec);

/* May the call retry after a failure (`timeout`: the failure was a
 * timeout)? Returns the cost taken (> 0), which the call keeps for
 * rq_on_success, or 0 when the bucket holds less (nothing taken). */
int64_t rq_acquire(rq_t *q, bool timeout);

/* An attempt succeeded. `held` is what the call's last rq_acquire returned,
 * 0 if it has not retried: the increment for a first-attempt success, the
 * refund of `held` otherwise (with refund_on_success; without it, always
 * the increment). Capped at the bucket size. */
void rq_on_success(rq_t *q, int64_t held);

#endif
