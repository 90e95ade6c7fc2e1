/* Adaptive concurrency limits after Netflix concurrency-limits
 * (com.netflix.concurrency.limits: SimpleLimiter with AIMDLimit or
 * Gradient2Limit, no WindowedLimit around them).
 *
 * Admission (SimpleLimiter): a request is admitted iff inflight < limit; it
 * then counts as in flight, and the in-flight count just after it was added
 * (AbstractLimiter.createListener's `currentInflight`) is what Netflix
 * passes to Limit.onSample when it completes. cl_acquire returns it in a
 * token; the caller hands the token back to cl_release with the request's
 * round-trip time and outcome:
 *   CL_SUCCESS  Listener.onSuccess: a sample with didDrop = false
 *   CL_DROPPED  Listener.onDropped: a sample with didDrop = true (a timeout,
 *               a rejection downstream: the caller decides)
 *   CL_IGNORED  Listener.onIgnore: released, no sample
 * Every sample updates the limit at once (no sampling window).
 *
 * AIMDLimit._update (Netflix's code, Java int arithmetic):
 *     int currentLimit = getLimit();
 *     if (didDrop || rtt > timeout) currentLimit = (int) (currentLimit * backoffRatio);
 *     else if (inflight * 2 >= currentLimit) currentLimit = currentLimit + 1;
 *     return min(maxLimit, max(minLimit, currentLimit));
 * The limit is an int: the backoff truncates at every step (30 -> 27 -> 24
 * -> 21 -> 20 with min 20: 21 x 0.9 = 18.9 -> 18 -> clamped to 20).
 *
 * Gradient2Limit._update (doubles; the int casts are Netflix's):
 *     queueSize = queue_size                       (Netflix: a function of
 *                                                   (int) estimatedLimit, default constant 4)
 *     shortRtt  = (double) rtt
 *     longRtt   = longRtt.add(rtt)                 (ExpAvgMeasurement, below)
 *     if (longRtt / shortRtt > 2) longRtt.update(v -> v * 0.95)
 *                                                  (the stored average decays; the
 *                                                   local longRtt used below does not,
 *                                                   which cannot matter: the gradient
 *                                                   is then 1 anyway)
 *     if (inflight < estimatedLimit / 2) return (int) estimatedLimit;   (app-limited)
 *     gradient  = max(0.5, min(1.0, tolerance * longRtt / shortRtt))
 *     newLimit  = estimatedLimit * gradient + queueSize
 *     newLimit  = estimatedLimit * (1 - smoothing) + newLimit * smoothing
 *     newLimit  = max(minLimit, min(maxLimit, newLimit))
 *     estimatedLimit = newLimit; return (int) estimatedLimit;
 * didDrop is not used by Gradient2 (only the RTT is).
 * ExpAvgMeasurement(long_window, 10): the first 10 samples give their
 * arithmetic mean (sum / count); later samples v = v (1 - f) + sample f with
 * f = 2 / (long_window + 1). The 0.95 decay changes v but not the warm-up
 * sum, so within the first 10 samples the next mean overwrites it (Netflix
 * issue #212: reproduced, not fixed).
 *
 * Arithmetic is Java's: IEEE doubles evaluated left to right, products
 * rounded before they are added (no fused multiply-add), casts truncating.
 * Differences from Netflix: an RTT below 1 ns counts as 1 ns for Gradient2
 * (with rtt = 0 Java computes 0 / 0 = NaN and the limit becomes 0 for good);
 * initial, min and max limits must be >= 1 (Netflix does not check: a limit
 * of 0 admits nothing, so nothing ever updates it); no bypass, partitions or
 * metrics registry; one machine per limiter, single-threaded.
 *
 * Cost: O(1) per call, no allocation. */
#ifndef MODELS_POLICIES_ADAPTIVE_CONCURRENCY_H
#define MODELS_POLICIES_ADAPTIVE_CONCURRENCY_H

#include <stdbool.h>
#include <stdint.h>

#include "sim/cfg.h"
#include "sim/time.h"

typedef enum { CL_AIMD, CL_GRADIENT2 } cl_algorithm_t;
typedef enum { CL_SUCCESS, CL_DROPPED, CL_IGNORED } cl_outcome_t;

extern const char *const cl_algorithm_names[];   /* "aimd", "gradient2"; NULL-terminated */

#define CL_MAX_LIMIT 1000000      /* largest initial, min, max limit and queue size accepted */
#define CL_LONG_WARMUP 10         /* Gradient2's ExpAvgMeasurement warm-up (fixed in Netflix) */

typedef struct cl_spec {
    cl_algorithm_t algorithm;
    int32_t initial_limit;        /* 20 (both); used as is until the first sample */
    int32_t min_limit;            /* 20 (both) */
    int32_t max_limit;            /* 200 (AIMD maxLimit, Gradient2 maxConcurrency) */
    /* aimd */
    double backoff_ratio;         /* 0.9, in [0.5, 1) */
    sim_time_t timeout;           /* 5 s: a sample with rtt > timeout counts as a drop */
    /* gradient2 */
    double smoothing;             /* 0.2, in [0, 1] */
    int32_t queue_size;           /* 4 */
    double rtt_tolerance;         /* 1.5, >= 1 */
    int32_t long_window;          /* 600 samples */
} cl_spec_t;

/* Netflix's builder defaults for the algorithm (the other algorithm's
 * fields hold their defaults too, unused). */
cl_spec_t cl_spec_default(cl_algorithm_t algorithm);

/* `adaptive_concurrency: {algorithm: aimd|gradient2, initial_limit,
 * min_limit, max_limit, backoff_ratio, timeout, smoothing, queue_size,
 * rtt_tolerance, long_window}`. algorithm defaults to gradient2 (Netflix's
 * server-side example); a NULL (or null) map gives its defaults. Keys of the
 * other algorithm are errors ("'backoff_ratio' is a parameter of the aimd algorithm, ...").
 * min_limit > max_limit is an error; an initial limit outside [min, max] is
 * a warning, as Netflix's builder logs one. Returns 0 or SIM_ECONFIG after
 * reporting to d. */
int cl_spec_parse(sim_diag_t *d, sim_cfg_node_t *map, cl_spec_t *spec);

/* What cl_acquire hands out and cl_release takes back: the in-flight count
 * just after this request was admitted (Netflix's `inflight` sample). */
typedef struct cl_token {
    int32_t inflight;
} cl_token_t;

typedef struct cl {
    cl_spec_t spec;
    int32_t limit;                /* AbstractLimit.limit: admission compares with this */
    int32_t inflight;
    double estimated_limit;       /* Gradient2's estimatedLimit */
    double long_rtt, long_sum;    /* Gradient2's ExpAvgMeasurement: value, warm-up sum (ns) */
    int32_t long_count;           /* samples in the warm-up, up to CL_LONG_WARMUP */
    sim_time_t last_rtt;          /* the last sample's RTT */
    uint64_t admitted, rejected, successes, drops, ignored;
} cl_t;

/* Caller storage; copies the spec. Returns 0 or SIM_EINVAL (a limit < 1,
 * min > max, a ratio or window out of range). */
int cl_init(cl_t *cl, const cl_spec_t *spec);

/* Admit a request if inflight < limit: it is then in flight and *tok holds
 * the count including it. False (rejected, nothing held) otherwise. O(1). */
bool cl_acquire(cl_t *cl, cl_token_t *tok);

/* An admitted request finished after `rtt` with `outcome`: no longer in
 * flight; SUCCESS and DROPPED update the limit (see above), IGNORED does
 * not. Each token must be released exactly once. O(1). */
void cl_release(cl_t *cl, cl_token_t tok, sim_time_t rtt, cl_outcome_t outcome);

/* The limit admission uses: AIMD's int limit, Gradient2's (int) estimate. */
static inline int cl_limit(const cl_t *cl) { return cl->limit; }
static inline int cl_inflight(const cl_t *cl) { return cl->inflight; }
/* Gradient2's unrounded estimate and long-term RTT average in ns (tests, traces). */
static inline double cl_estimated_limit(const cl_t *cl) { return cl->estimated_limit; }
static inline double cl_long_rtt(const cl_t *cl) { return cl->long_rtt; }

#endif
