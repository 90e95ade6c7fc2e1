/* Embedder: an embedding service (bge-small class) behind a load balancer,
 * each replica a Triton-style dynamic batcher in front of `concurrency`
 * model instances.
 *
 *   embedder:
 *     replicas: 1                  # pods behind the load balancer
 *     concurrency: 1               # model instances per replica (Triton
 *                                  # instance_group count): batches in parallel
 *     max_batch_size: 32           # Triton dynamic_batching / max_batch_size
 *     max_queue_delay: 2ms         # Triton max_queue_delay_microseconds
 *     batch_time:                  # one batch = (base + per_token x tokens) / speed
 *       base: 4ms                  # duration or distribution, drawn once per batch
 *       per_token: 10us
 *     queue_limit: unbounded       # waiting calls per replica
 *     startup: 10s                 # from restart to serving
 *     load_balancer: round_robin   # round_robin, random, least_outstanding, power_of_two
 *     restart_backoff: {initial: 10s, cap: 300s, reset: 10m}
 *     autoscale: {max_replicas: 4, metric: cpu, target: 60%}   # optional: the HPA (hpa.h)
 *
 * Autoscaling, as the replica set's (replicas.h): the HPA's sync sets how
 * many replicas are wanted, on `cpu` (busy model instances / instances over
 * the sync interval), `inflight` (calls waiting or in a batch) or `queue`
 * (calls waiting); a new replica is ready `startup` after it is created
 * and then joins the load balancer; one scaled away leaves the load
 * balancer at once and drains (its waiting calls are still batched and
 * served), then is gone. Series embedder_replicas_desired.
 *
 * Dynamic batching, per replica (Triton's dynamic batcher without preferred
 * sizes): calls wait FIFO. Whenever an instance is free and calls wait, a
 * batch of the min(waiting, max_batch_size) oldest calls starts at once if
 * max_batch_size calls wait, or the oldest has waited max_queue_delay, or
 * max_queue_delay is 0; otherwise one dispatch check is scheduled for
 * oldest.enqueue + max_queue_delay. A busy replica keeps queueing; when an
 * instance frees, the check runs again (a call that already waited out the
 * window leaves at once with whatever waits behind it). When a batch ends
 * the freed instance first takes the next batch, then every call of the
 * finished batch completes in FIFO order (CALL_OK, or CALL_ERROR with the
 * injected error probability, one draw per call).
 *
 * Calls whose caller timed out stay in their batch and are served (a naive
 * service); calls completed after their caller left are counted as
 * `orphaned` (work nobody waits for). A caller that propagates its
 * cancellation (embedder_ops.cancel) takes a call out of the queue before
 * its batch forms: it completes at once with CALL_TIMEOUT and is counted
 * `cancelled`; a call already in a running batch cannot be taken out (the
 * batch runs as a whole) and is served, orphaned, as before.
 *
 * Random streams: "embedder/batch_time" (the base, once per batch),
 * "embedder/errors" (injected errors, one draw per completed call while the
 * ratio is > 0), "lb/embedder" (random load-balancing policies).
 *
 * Cost: O(1) per call (cancel included) and O(batch) per batch; no malloc
 * after create (calls are chained through call_t.link, the waiting ones
 * also back through call_t.prev, with call_t.where saying waiting or
 * batched; instances are preallocated). */
#ifndef MODELS_COMPONENTS_EMBEDDER_EMBEDDER_H
#define MODELS_COMPONENTS_EMBEDDER_EMBEDDER_H

#include <stdint.h>

#include "models/components/replicas/backoff.h"
#include "models/components/replicas/hpa.h"
#include "models/components/call.h"
#include "models/components/replicas/lb.h"
#include "sim/cfg.h"
#include "sim/dist.h"
#include "sim/sim.h"

typedef struct embedder_spec {
    int64_t replicas;             /* >= 1 (default 1) */
    int64_t concurrency;          /* model instances per replica (default 1) */
    int64_t max_batch_size;       /* calls per batch (default 32) */
    sim_time_t max_queue_delay;   /* batching window of the oldest call (default 2 ms) */
    sim_dist_t base;              /* seconds, drawn once per batch (default 4 ms) */
    sim_time_t per_token;         /* ns per token in the batch (default 10 us) */
    int64_t queue_limit;          /* waiting calls per replica; INT64_MAX = unbounded */
    sim_time_t startup;           /* restart to serving, after the back-off (default 10 s) */
    lb_policy_t load_balancer;    /* default round_robin */
    backoff_spec_t restart_backoff;
    hpa_spec_t autoscale;         /* the HPA on cpu, inflight or queue (enabled false: a fixed count) */
    int64_t slots;                /* replicas that may exist: max(replicas, autoscale.max_replicas) */
} embedder_spec_t;

/* Parse the `embedder` mapping; `map` may be NULL (or null) for all
 * defaults. Every key is read through a getter (unknown keys are left for
 * sim_cfg_check_unused). Returns 0 or SIM_ECONFIG after reporting to d; the
 * spec must be finalised with embedder_spec_fini either way. */
int embedder_spec_parse(sim_diag_t *d, sim_cfg_node_t *map, embedder_spec_t *spec);
void embedder_spec_fini(embedder_spec_t *spec);

typedef struct embedder embedder_t;

/* Build the embedder in run `sim`: registers its time series
 * (embedder_queue_length, embedder_batch_size_mean, embedder_busy_ratio,
 * embedder_replicas_up), its sampler and warm-up hook. `spec` must outlive
 * the embedder. NULL on OOM. */
embedder_t *embedder_create(sim_t *sim, const embedder_spec_t *spec);
/* Free the embedder (NULL is a no-op). Calls still inside are not
 * completed and its events stay scheduled: destroy it only when the run is
 * over (then the sim, the call pool and the spec). */
void embedder_destroy(embedder_t *e);

/* Statistics since the warm-up. Batches and waits count when a batch starts,
 * completions when a call completes. */
typedef struct {
    uint64_t submitted;                  /* calls offered */
    uint64_t batches;                    /* batches started */
    uint64_t batched_calls;              /* calls in those batches */
    uint64_t completed[CALL_NSTATUS];    /* calls completed, by status given (TIMEOUT: cancelled) */
    uint64_t orphaned;                   /* completed after the caller stopped waiting (not cancelled) */
    uint64_t cancelled;                  /* taken out of the queue by cancel (not orphaned) */
    uint64_t kills, restarts;
    double mean_batch_size;              /* batched_calls / batches; NAN if none */
    double mean_wait_s;                  /* enqueue to batch start; NAN if none */
    double mean_sojourn_s;               /* enqueue to completion of served calls; NAN if none */
    double busy_ratio;                   /* time-averaged busy instances / instances */
    int64_t queue_length;                /* waiting now, all replicas */
    int replicas_up;                     /* now */
} embedder_stats_t;

void embedder_stats(const embedder_t *e, embedder_stats_t *out);

/* One autoscaler sync now (normally run by its own timer every
 * autoscale.sync; exposed for tests). Returns the replicas wanted. */
int64_t embedder_autoscale_sync(embedder_t *e);

/* The component table; every function takes the embedder_t* as `comp`.
 *   submit           pick a replica (CALL_UNAVAILABLE if none is up), queue
 *                    the call (CALL_REJECTED if queue_limit calls wait and it
 *                    cannot start at once), batch it.
 *   set_speed        capacity factor for batches that start from now on
 *                    (0.5: twice as long); <= 0 stalls dispatch until a
 *                    positive factor is set.
 *   set_error_ratio  probability in [0, 1] that a served call fails.
 *   kill             replica r (all if r < 0): its queued and running calls
 *                    complete with CALL_ERROR at once, running batches are
 *                    cancelled, it goes down and restarts after the
 *                    CrashLoopBackOff delay + startup. A replica that is
 *                    already down, or r >= replicas, is left alone.
 *   replicas_up      replicas serving now.
 *   cancel           a detached call (owner NULL) still waiting for a batch
 *                    leaves the queue and completes with CALL_TIMEOUT at
 *                    once; one in a running batch is left to finish. O(1). */
extern const comp_ops_t embedder_ops;

#endif
