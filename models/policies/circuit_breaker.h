/* Circuit breaker with Resilience4j semantics (CircuitBreakerStateMachine,
 * 2.x), presets for Hystrix and Sentinel, and a consecutive-failures trigger.
 *
 *   CLOSED     every call is allowed; every outcome enters the sliding window
 *              (the last N outcomes, or the outcomes of the last N whole
 *              seconds of simulated time). After an outcome is recorded, if
 *              the window holds at least the minimum number of calls and the
 *              failure rate or the slow-call rate reaches its threshold
 *              (>=; > with strictly_above), the breaker opens. With
 *              consecutive_failures = K > 0, K failures in a row also open it;
 *              consecutive_slow_calls = K > 0, K slow calls in a row too (the
 *              runbook rule "3 consecutive calls > 25 ms").
 *   OPEN       every call is rejected until the wait has passed since the
 *              breaker opened; the first cb_allow() after that moves to
 *              HALF_OPEN and is its first permitted call (Resilience4j's
 *              default: no automatic transition, the next call triggers it).
 *              Outcomes recorded while OPEN (calls allowed earlier) are
 *              dropped, as Resilience4j drops the OPEN state's metrics.
 *   HALF_OPEN  exactly `permitted` calls are allowed, the rest rejected.
 *              Outcomes go to a fresh count window of `permitted` calls; once
 *              min(minimum calls, permitted) outcomes are in, the rates over
 *              them decide: a threshold reached -> OPEN (a new wait starts),
 *              else CLOSED with an empty window.
 *
 * A call is slow when its duration is strictly longer than the slow-call
 * duration threshold, failed or not (Resilience4j's SLOW_ERROR and
 * SLOW_SUCCESS). Rates are compared exactly: failed/total >= threshold in
 * double precision, where a ratio of small integers equal to a decimal
 * threshold rounds to the same double (Resilience4j compares float
 * percentages).
 *
 * Costs: cb_allow and cb_record are O(1) with no allocation; the time-based
 * window evicts one bucket per elapsed second (amortised O(1) per second of
 * simulated time, at most N per call) and keeps rolling sums. Closing after
 * HALF_OPEN clears the window (O(N), once per recovery). Memory: N bytes
 * (count_based) or 12 N bytes (time_based), allocated in cb_init. */
#ifndef MODELS_POLICIES_CIRCUIT_BREAKER_H
#define MODELS_POLICIES_CIRCUIT_BREAKER_H

#include <stdbool.h>
#include <stdint.h>

#include "sim/cfg.h"
#include "sim/time.h"

typedef enum { CB_COUNT_BASED, CB_TIME_BASED } cb_window_t;
typedef enum { CB_PRESET_RESILIENCE4J, CB_PRESET_HYSTRIX, CB_PRESET_SENTINEL } cb_preset_t;
typedef enum { CB_CLOSED, CB_OPEN, CB_HALF_OPEN } cb_state_t;

extern const char *const cb_window_names[];   /* "count_based", "time_based"; NULL-terminated */
extern const char *const cb_preset_names[];   /* "resilience4j", "hystrix", "sentinel" */

#define CB_MAX_WINDOW 1000000   /* calls or seconds */

typedef struct cb_spec {
    cb_preset_t preset;
    cb_window_t window;
    int32_t window_size;        /* calls (count_based) or one-second buckets (time_based) */
    int32_t min_calls;          /* minimumNumberOfCalls; count_based uses min(min_calls, window_size) */
    double failure_rate;        /* threshold as a fraction in (0, 1]; 0 = this rule is off */
    double slow_rate;           /* threshold as a fraction in (0, 1]; 0 = off */
    sim_time_t slow_duration;   /* slow = duration > this; SIM_TIME_MAX: no call is slow */
    sim_time_t wait_open;       /* waitDurationInOpenState */
    int32_t permitted;          /* permittedNumberOfCallsInHalfOpenState */
    bool strictly_above;        /* Sentinel: rate > threshold (a 100% threshold is reached by 100%) */
    bool wait_inclusive;        /* probe allowed at opened + wait (Sentinel, >=); otherwise only
                                   strictly after (Resilience4j Instant.isAfter, Hystrix >) */
    int32_t consecutive_failures;   /* K failures in a row in CLOSED open the breaker; 0 = off */
    int32_t consecutive_slow;       /* K slow calls in a row in CLOSED open it; 0 = off */
} cb_spec_t;

/* The defaults of a preset (no parsing): resilience4j = Resilience4j's
 * CircuitBreakerConfig defaults; hystrix = time_based 10 s, 20 calls, 50%,
 * 5 s, one trial call, no slow-call rule; sentinel = time_based 1 s, 5 calls,
 * strictly above, one probe, both rules off until a threshold is given, wait
 * 0 until given. */
cb_spec_t cb_spec_preset(cb_preset_t preset);

/* Parse `circuit_breaker: {preset: hystrix, failure_rate_threshold: 40%, ...}`
 * (keys: docs/model-policies.md).
 * A NULL map gives the Resilience4j defaults. Explicit keys override the
 * preset. The sentinel preset needs wait_duration_in_open_state (Sentinel's
 * timeWindow) and at least one of failure_rate_threshold and
 * slow_call_rate_threshold; slow_call_rate_threshold then needs
 * slow_call_duration_threshold (Sentinel's max RT). Returns 0 or SIM_ECONFIG
 * after reporting to d. */
int cb_spec_parse(sim_diag_t *d, sim_cfg_node_t *map, cb_spec_t *spec);

const char *cb_state_name(cb_state_t s);   /* "closed", "open", "half_open" */

typedef void (*cb_transition_fn)(void *ctx, cb_state_t from, cb_state_t to, sim_time_t now);

typedef struct {
    int32_t calls, failed, slow;
} cb_bucket_t;

typedef struct cb {
    cb_spec_t spec;             /* a copy */
    cb_state_t state;
    cb_transition_fn on_transition;
    void *ctx;
    /* CLOSED window: totals over the window, and its storage */
    int64_t n, failed, slow;
    int32_t min_calls;          /* effective minimum for the closed window */
    uint8_t *ring;              /* count_based: outcome bits (1 failed, 2 slow) */
    int32_t head;               /* count_based: next slot to write */
    cb_bucket_t *buckets;       /* time_based: bucket of second s at s mod N */
    int64_t head_sec;           /* time_based: the newest second the window has moved to */
    int32_t consecutive;        /* failures in a row (CLOSED) */
    int32_t consecutive_slow;   /* slow calls in a row (CLOSED) */
    /* OPEN */
    sim_time_t opened_at;
    /* HALF_OPEN: a count window of `permitted` calls that never wraps */
    int32_t permits_left, ho_n, ho_failed, ho_slow, ho_min;
    /* counters since init */
    uint64_t allowed, rejected, opens;
} cb_t;

/* Initialise caller storage; copies the spec. on_transition (may be NULL) is
 * called after every state change. Returns 0, SIM_EINVAL (invalid spec) or
 * SIM_ENOMEM. */
int cb_init(cb_t *cb, const cb_spec_t *spec, cb_transition_fn on_transition, void *ctx);
void cb_fini(cb_t *cb);

/* May a call start at `now`? Counts it as allowed or rejected; may move
 * OPEN -> HALF_OPEN. O(1). */
bool cb_allow(cb_t *cb, sim_time_t now);

/* The outcome of an allowed call that completed at `now` after `duration`.
 * `now` must not decrease between calls. May move CLOSED -> OPEN or
 * HALF_OPEN -> OPEN/CLOSED. O(1) amortised. */
void cb_record(cb_t *cb, sim_time_t now, bool failure, sim_time_t duration);

static inline cb_state_t cb_state(const cb_t *cb) { return cb->state; }

/* Calls in the CLOSED window and the failed and slow among them, as of the
 * last record (for tests and traces). */
static inline int64_t cb_window_calls(const cb_t *cb) { return cb->n; }
static inline int64_t cb_window_failed(const cb_t *cb) { return cb->failed; }
static inline int64_t cb_window_slow(const cb_t *cb) { return cb->slow; }

#endif
