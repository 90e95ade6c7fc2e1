/* Policies on call edges: pluggable strategies (a const type table plus
 * state) chosen by name in the scenario and attached to the call edge they
 * act on (gateway -> embedder, vector DB, LLM, a dependency):
 *
 *   calls:
 *     retrieve:
 *       timeout: 3s
 *       rate_limit: {rate: 300/s, burst: 50}
 *       circuit_breaker: {preset: resilience4j, failure_rate_threshold: 50%}
 *       retry: {max_attempts: 2, backoff: exponential, base: 25ms, cap: 250ms, jitter: full}
 *       result_cache: {mode: lru, capacity: 20000}
 *       fallback: {action: keyword}
 *
 * Every attempt of a call goes through the edge's chain in the registry's
 * order (result cache, rate limiter, circuit breaker, bulkhead ...):
 * `admit` may let it pass, reject it (fail fast: CALL_REJECTED, not
 * retried) or answer it (a cache hit: no call). Every issued attempt's
 * outcome goes back through `done` (not an attempt abandoned without
 * outcome: its request ended first). A failed attempt asks `retry` for a
 * delay (the retry must fit the request's remaining deadline); every
 * policy's `allow_retry` may then veto it (retry budgets, throttling), and
 * if none does, `retry_scheduled` tells them it is taken. The fallback
 * (models/rag/edge.c) acts on the edge's final failure.
 *
 * The edge counts, for the policies, the attempts in flight (issued, not
 * yet ended for the caller) and the retries in flight (decided, from the
 * decision to the end of the retry attempt, backoff included), so that
 * concurrency policies need no bookkeeping of their own that an abandoned
 * request could leave unbalanced.
 *
 * Adding a policy touches its own file (models/pol_<name>.c) and the
 * registry (models/policies/policy.c), nothing else. */
#ifndef MODELS_POLICIES_POLICY_H
#define MODELS_POLICIES_POLICY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "models/components/call.h"
#include "models/model.h"
#include "sim/cfg.h"
#include "sim/sim.h"

/* What a policy sees of one attempt. */
typedef struct pol_ctx {
    sim_t *sim;
    sim_time_t now;
    int attempt;              /* 0 for the first try, 1.. for retries */
    uint64_t key;             /* the request's query key (caches) */
    sim_time_t deadline;      /* the request's deadline (SIM_TIME_MAX: none) */
    call_status_t status;     /* done/retry: the attempt's outcome */
    sim_time_t latency;       /* done/retry: issue to outcome */
    uint32_t flags;           /* done: the call's result flags (CALL_F_*) */
    sim_time_t retry_delay;   /* retry: out, the delay before the next attempt */
    sim_time_t admit_delay;   /* admit: out, added to the time the decision took (a shared
                                 store's round trip); the attempt goes out after the sum */
    sim_time_t prev_delay;    /* retry: the previous delay (decorrelated jitter) */
    unsigned retry_on;        /* the edge's retryable outcome classes (its retry policy's
                                 retry_on, RETRY_ON_* of retry.h; 0 without one) */
    int64_t inflight;         /* attempts in flight on the edge (admit: not counting this one) */
    int64_t retries_inflight; /* retries decided and not yet ended on the edge */
    int64_t inflight_at_issue;/* done: `inflight` when this attempt was issued, itself included */
    int64_t *note;            /* one word kept with the call across its attempts, 0 at its first;
                                 owned by retry_token_bucket (the cost its retry holds) */
} pol_ctx_t;

typedef enum { POL_PASS, POL_REJECT, POL_HIT } pol_verdict_t;

typedef struct policy_type {
    const char *name;         /* the key in a `calls` entry */
    size_t spec_size, state_size;
    int (*parse)(sim_diag_t *d, sim_cfg_node_t *map, void *spec);   /* 0 or SIM_ECONFIG/SIM_ENOMEM */
    void (*spec_fini)(void *spec);                                  /* may be NULL */
    /* Set up the state in run `sim`; `edge` names the edge ("retrieve"). 0 or SIM_ENOMEM. */
    int (*init)(void *state, const void *spec, sim_t *sim, const char *edge);
    void (*fini)(void *state);                                      /* may be NULL */
    pol_verdict_t (*admit)(void *state, const void *spec, pol_ctx_t *ctx);   /* NULL: pass */
    void (*done)(void *state, const void *spec, pol_ctx_t *ctx);            /* NULL: ignore */
    bool (*retry)(void *state, const void *spec, pol_ctx_t *ctx);           /* NULL: no retry */
    bool (*allow_retry)(const void *state, const void *spec, const pol_ctx_t *ctx);   /* NULL: allow */
    void (*retry_scheduled)(void *state, const void *spec, const pol_ctx_t *ctx);     /* may be NULL */
    /* Figures for the run's report, section "policies", row "<edge> <policy>",
     * over the n distinct instances of the edge (one per gateway pod, or one
     * shared): counts summed, levels averaged, extremes over all. */
    void (*report)(const void *const *states, size_t n, const char *edge, rs_report_t *rep);  /* may be NULL */
    /* The instance is one for the whole cluster (a store shared by every
     * pod), not one per pod. NULL: per pod. */
    bool (*cluster)(const void *spec);
} policy_type_t;

/* The registry, in chain order. */
extern const policy_type_t *const policy_registry[];
extern const size_t policy_count;
const policy_type_t *policy_find(const char *name);

/* A policy in a scenario's spec, and in a run. */
typedef struct {
    const policy_type_t *type;
    void *spec;
} pol_spec_t;

typedef struct {
    const policy_type_t *type;
    const void *spec;
    void *state;
    bool shared;              /* another instance's state (a cluster-scoped policy's pods > 0) */
} pol_inst_t;

/* The policies named in an edge mapping (keys that are registry names), in
 * registry order; a policy the edge does not name is taken from `preset`
 * (a resilience tier; may be NULL). Keys of the mapping that are not
 * policies are left to the caller (timeout, fallback). *out is malloc'ed
 * (free with pol_specs_fini). */
int pol_specs_parse(sim_diag_t *d, sim_cfg_node_t *edge_map, sim_cfg_node_t *preset, pol_spec_t **out, size_t *n);
void pol_specs_fini(pol_spec_t *p, size_t n);

/* Instances for a run, one set per gateway pod (pod-major: pod p's are
 * out[p * n .. p * n + n - 1]): each client-side policy keeps its state
 * per process, as Resilience4j, Envoy, gRPC and the AWS SDK do; a policy
 * whose `cluster` says so has one state shared by every pod. Pod 0's
 * random streams are named after the edge ("policy/<edge>/retry"), pod
 * p's after "<edge>@pod<p>". pol_insts_fini frees them. */
int pol_insts_init(pol_inst_t **out, const pol_spec_t *specs, size_t n, int pods, sim_t *sim, const char *edge);
void pol_insts_fini(pol_inst_t *p, size_t n, int pods);
/* Reset pod p's own instances (its process restarted: in-memory state is
 * gone); shared ones are left alone. 0 or SIM_ENOMEM. */
int pol_insts_reset(pol_inst_t *p, size_t n, int pod, sim_t *sim, const char *edge);
/* The report rows of the edge's policies, aggregated over the pods. */
void pol_insts_report(const pol_inst_t *p, size_t n, int pods, const char *edge, rs_report_t *rep);

#endif
