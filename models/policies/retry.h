/* Retry decisions, backoff and jitter.
 *
 * A call makes at most `max_attempts` attempts in total, the first included
 * (Resilience4j's maxAttempts, default 3; Envoy's num_retries is
 * max_attempts - 1). Before retry n (n = 0 for the first retry) the caller
 * waits
 *     exponential   d_n = min(cap, base * 2^n)
 *     constant      d_n = base
 * then jittered:
 *     none          d_n
 *     full          U(0, d_n)                          (Envoy, AWS "full jitter")
 *     equal         d_n/2 + U(0, d_n/2)                (AWS "equal jitter")
 *     decorrelated  min(cap, U(base, 3 * previous))    (AWS; previous = base before
 *                   the first retry; replaces the schedule above)
 * Defaults follow Envoy: exponential, base 25 ms, cap 250 ms, full jitter.
 * Uniform draws are on the integer nanosecond grid with both ends included
 * (U(a, b) = a + below(b - a + 1)), so the means are exact: d/2 for full,
 * about 3d/4 for equal.
 *
 * A retry is taken only for a retryable outcome (`retry_on`) and only when
 * the wait ends before the call's deadline (the deadline covers all
 * attempts, as in gRPC). Pure functions: no state beyond what the caller
 * keeps (attempts made, the previous delay). */
#ifndef MODELS_POLICIES_RETRY_H
#define MODELS_POLICIES_RETRY_H

#include <stdbool.h>
#include <stdint.h>

#include "sim/cfg.h"
#include "sim/rng.h"
#include "sim/time.h"

/* Outcome classes; retry_on is a mask of them. */
enum {
    RETRY_ON_ERROR = 1,        /* the callee answered with an error (5xx) */
    RETRY_ON_TIMEOUT = 2,      /* the attempt's timeout expired */
    RETRY_ON_REJECTED = 4,     /* refused by admission control (a full queue, a rate limiter, 429) */
    RETRY_ON_UNAVAILABLE = 8,  /* no replica up, connection refused, an open circuit breaker */
};

/* The class of a call's outcome (0 for CALL_OK). */
static inline unsigned retry_class(int call_status)
{
    switch (call_status) {
    case 1: return RETRY_ON_ERROR;        /* CALL_ERROR */
    case 2: return RETRY_ON_TIMEOUT;      /* CALL_TIMEOUT */
    case 3: return RETRY_ON_REJECTED;     /* CALL_REJECTED */
    case 4: return RETRY_ON_UNAVAILABLE;  /* CALL_UNAVAILABLE */
    default: return 0;
    }
}

typedef enum { RETRY_BACKOFF_CONSTANT, RETRY_BACKOFF_EXPONENTIAL } retry_backoff_t;
typedef enum { RETRY_JITTER_NONE, RETRY_JITTER_FULL, RETRY_JITTER_EQUAL, RETRY_JITTER_DECORRELATED } retry_jitter_t;

extern const char *const retry_backoff_names[];   /* "constant", "exponential"; NULL-terminated */
extern const char *const retry_jitter_names[];    /* "none", "full", "equal", "decorrelated" */
extern const char *const retry_on_names[];        /* "error", "timeout", "rejected", "unavailable":
                                                     name i is bit 1 << i */

typedef struct retry_spec {
    int32_t max_attempts;       /* total, first included; 1 = no retries */
    retry_backoff_t backoff;
    sim_time_t base, cap;       /* cap >= base */
    retry_jitter_t jitter;
    unsigned retry_on;          /* mask of RETRY_ON_* */
} retry_spec_t;

#define RETRY_DEFAULTS                                                                    \
    ((retry_spec_t){.max_attempts = 3, .backoff = RETRY_BACKOFF_EXPONENTIAL,              \
                    .base = 25 * SIM_MS, .cap = 250 * SIM_MS, .jitter = RETRY_JITTER_FULL, \
                    .retry_on = RETRY_ON_ERROR | RETRY_ON_TIMEOUT | RETRY_ON_UNAVAILABLE})

/* `retry: {max_attempts: 3, backoff: exponential, base: 25ms, cap: 250ms,
 * jitter: full, retry_on: [error, timeout, unavailable]}`; absent keys keep
 * the defaults, a NULL map gives RETRY_DEFAULTS. retry_on may be empty ([]:
 * never retry). Returns 0 or SIM_ECONFIG after reporting to d. */
int retry_spec_parse(sim_diag_t *d, sim_cfg_node_t *map, retry_spec_t *spec);

/* The wait before retry `retry_index` (0 = the first retry). `prev_delay` is
 * the wait returned for the previous retry (used by decorrelated jitter
 * only; ignored for retry_index 0). `rng` may be NULL for jitter none; the
 * other kinds draw one number from it. O(1). */
sim_time_t retry_delay(const retry_spec_t *spec, int retry_index, sim_time_t prev_delay, sim_rng_t *rng);

/* Should the caller retry after `attempts_done` attempts (>= 1) whose last
 * outcome is `status_bit` (a RETRY_ON_* bit; 0 = success), waiting `delay`
 * from `now`? False when the attempts are used up, the outcome is not
 * retryable, or now + delay >= deadline (the retry would start at or after
 * the deadline; SIM_TIME_MAX = no deadline). */
bool retry_should(const retry_spec_t *spec, int attempts_done, int status_bit, sim_time_t delay,
                  sim_time_t now, sim_time_t deadline);

#endif
