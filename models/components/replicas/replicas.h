/* A replicated service: R replicas behind a load balancer, each a station
 * (threads or concurrency slots in front of a FIFO queue), that can crash
 * and restart like a Kubernetes pod.
 *
 * Life of a replica: running -> crash (every call on it, waiting or in
 * service, fails with CALL_ERROR) -> down for the CrashLoopBackOff delay
 * (models/components/replicas/backoff.h) -> starting (`startup`, not ready: the load balancer
 * skips it) -> ready, cold: service times x `cold_start.factor`, falling
 * linearly to x1 over `cold_start.period` (caches and page cache refilling).
 *
 * The vector DB and the generic dependencies are built on this; a
 * component gives each call's mean service demand, the replica set applies
 * the cold factor, a configuration change's slowdown and the capacity
 * factor (CPU throttling, slowdowns) and runs it. The factors are those of
 * the moment the call starts service, not of its arrival: a call queued
 * during a slowdown that starts after it runs at nominal speed, and one
 * that starts during it is slowed even if it arrived before.
 *
 *   replicas: 2
 *   threads: 8                  # (the component names this key: threads, concurrency)
 *   queue_limit: unbounded
 *   queue_timeout: 2s           # optional: a call that waited this long is refused
 *   codel: {}                   # optional: CoDel shedding (models/queueing/station.h)
 *   queue_discipline: fifo      # or adaptive_lifo
 *   load_balancer: round_robin
 *   startup: 5s
 *   cold_start: {factor: 3, period: 60s}
 *   restart_backoff: {initial: 10s, cap: 300s, reset: 10m}
 *   autoscale: {max_replicas: 8, metric: cpu, target: 60%}   # optional: the HPA (hpa.h)
 *
 * Autoscaling: the replica set holds max_replicas slots; the HPA's sync
 * (every `autoscale.sync`) sets how many are wanted. A new replica starts
 * (`startup`, not ready, cold like a restarted one) and joins the load
 * balancer when ready; a replica scaled away leaves the load balancer at
 * once and drains: the calls on it (waiting and in service) finish, then it
 * is gone. Not-ready replicas are removed first, then the highest-numbered
 * ready ones (a ReplicaSet deletes unready and newer pods first).
 */
#ifndef MODELS_COMPONENTS_REPLICAS_REPLICAS_H
#define MODELS_COMPONENTS_REPLICAS_REPLICAS_H

#include <stdbool.h>

#include "models/components/replicas/backoff.h"
#include "models/components/replicas/hpa.h"
#include "models/components/call.h"
#include "models/components/replicas/lb.h"
#include "models/queueing/station.h"

typedef struct rset_spec {
    const char *name;             /* component name: "vectordb", "risk_control" */
    int64_t replicas;
    int64_t servers;              /* per replica */
    int64_t queue_limit;
    sim_time_t queue_timeout;     /* 0 = none: a call that waits this long is refused */
    stn_spec_t queue;             /* codel / queue_discipline (models/queueing/station.h) */
    lb_policy_t lb;
    sim_time_t startup;
    double cold_factor;           /* >= 1 */
    sim_time_t cold_period;
    backoff_spec_t backoff;
    hpa_spec_t hpa;               /* autoscaling (hpa.enabled false: a fixed count) */
    int64_t slots;                /* replicas that may exist: max(replicas, hpa.max_replicas) */
    stn_spec_t *stations;         /* one station spec per slot (name <component>, replica i) */
} rset_spec_t;

/* Parse the replica keys of a component mapping. `servers_key` is the
 * component's name for per-replica servers ("threads", "concurrency"). The
 * defaults come in through *spec (set fields before calling). */
int rset_spec_parse(sim_diag_t *d, sim_cfg_node_t *map, const char *name, const char *servers_key,
                    rset_spec_t *spec);
void rset_spec_fini(rset_spec_t *spec);

typedef struct rset rset_t;

/* Tells the component that a call left a replica (before the call is
 * completed): status CALL_OK for a finished service, CALL_ERROR for a crash.
 * The component may change the status (error injection) and the call's
 * flags; the replica set then completes the call. */
typedef call_status_t (*rset_done_fn)(void *owner, rset_t *rs, call_t *c, call_status_t status);

/* Told of every call that leaves a replica (served, failed or aborted),
 * with its final status and its time at the replica: the per-replica
 * figures a canary analysis reads. */
typedef void (*rset_observe_fn)(void *ctx, int replica, call_status_t status, sim_time_t latency);

/* Told when replica r (re)starts (after a crash's back-off, or created by a
 * scale-up), `starting` already set: returns how long it takes to become
 * ready (the component's start-up, e.g. the process plus its index read
 * from disk). Without a hook the spec's `startup`. */
typedef sim_time_t (*rset_restart_fn)(void *owner, rset_t *rs, int r);
/* Batching (the stations' spec.batch, set by the component): the nominal
 * time of a batch of n calls (`first`, the others through job.batch_next)
 * whose demands sum to `sum`, alone on the `*width` cores it uses (the
 * station's stn_batch_fn, asked of the component). */
typedef sim_time_t (*rset_batch_fn)(void *owner, rset_t *rs, call_t *first, int64_t n, sim_time_t sum,
                                    int32_t *width);

typedef struct {
    bool up;                      /* ready and in the load balancer */
    bool starting;                /* restarted, loading */
    sim_time_t ready_at;          /* when it last became ready */
    backoff_t backoff;
    uint64_t crashes;
    sim_timer_t restart;
    /* a configuration change applied to this replica (models/policies/rollout.c) */
    double change_errors;         /* ratio of its answers turned into errors */
    double change_slowdown;       /* service-time factor (>= 1; 1 = none) */
    bool change_crash;            /* it crashes when it starts (cannot load the config) */
    /* autoscaling */
    bool active;                  /* in the Deployment (up, starting or restarting); false: an empty slot */
    bool draining;                /* scaled away: out of the load balancer, finishing its calls */
    bool scaled;                  /* created by a scale-up: cold when it becomes ready */
    hpa_busy_mark_t busy_mark;    /* the station's busy-server integral at the last sync */
} rset_replica_t;

struct rset {
    sim_t *sim;
    const rset_spec_t *spec;
    lb_t lb;
    station_t *st;
    rset_replica_t *rep;
    double speed;                 /* capacity factor (CPU throttling) */
    rset_done_fn done;
    void *owner;
    uint64_t crashes;             /* since warm-up */
    rset_observe_fn observe;      /* optional (rset_set_observer) */
    rset_restart_fn on_restart;   /* optional (rset_set_restart_hook) */
    rset_batch_fn batch_time;     /* optional (rset_set_batch_time) */
    void *observe_ctx;
    sim_rng_t *rng_change;        /* "<name>/change_errors", created on first use */
    hpa_t hpa;                    /* autoscaling: the decision's state */
    int64_t want;                 /* replicas the autoscaler wants (= active ones) */
    sim_time_t last_sync;
    int col_desired;              /* series <name>_replicas_desired (autoscaling), else -1 */
};

int rset_init(rset_t *rs, sim_t *sim, const rset_spec_t *spec, rset_done_fn done, void *owner);
void rset_fini(rset_t *rs);

/* Send a call with mean service demand `demand` (seconds, before the cold
 * and capacity factors, which apply when it starts service) to a replica
 * chosen by the load balancer. No replica
 * ready: CALL_UNAVAILABLE; queue full: CALL_REJECTED (both completed at
 * once). Returns the replica, or -1. */
int rset_submit(rset_t *rs, call_t *c, double demand_s);
/* The same in two steps, for a component whose demand depends on the
 * replica: rset_pick chooses it (none ready: the call is completed with
 * CALL_UNAVAILABLE and -1 returned), rset_submit_to sends the call there
 * (queue full: CALL_REJECTED, -1). */
int rset_pick(rset_t *rs, call_t *c);
int rset_submit_to(rset_t *rs, call_t *c, int r, double demand_s);

/* Cancel a call the caller has detached (comp_ops_t.cancel): if it waits
 * in its replica's queue it leaves it (the station counts it `cancelled`,
 * the replica's in-system count drops at once) and is completed with
 * CALL_TIMEOUT without going through the component's rset_done_fn; a call
 * in service cannot be stopped (a FAISS search, an RPC handler) and is left
 * to finish as before. O(1). */
void rset_cancel(rset_t *rs, call_t *c);

/* Crash replica r (r < 0: all): every call on it fails, restart per the
 * backoff. Logs "<kind>" (e.g. "oom_kill", "replica_killed") with `detail`. */
void rset_crash(rset_t *rs, int r, const char *kind, double value, const char *detail);

/* Apply (or, with errors 0, slowdown 1 and crash false, revert) a
 * configuration change on replica r: from now on its answers fail with
 * probability `errors` (stream "<name>/change_errors"), its service times
 * are x `slowdown`, and with `crash` it crashes now and at every start-up
 * (CrashLoopBackOff) until the change is reverted. Reverting a
 * crash-looping replica lets its next restart succeed. Returns 0 or
 * SIM_ENOMEM. */
int rset_set_change(rset_t *rs, int r, double errors, double slowdown, bool crash);

/* Watch every call that leaves a replica (one observer; NULL to stop). */
void rset_set_observer(rset_t *rs, rset_observe_fn fn, void *ctx);
/* Ask the owner how long each (re)start takes (NULL: the spec's `startup`). */
static inline void rset_set_restart_hook(rset_t *rs, rset_restart_fn fn) { rs->on_restart = fn; }

/* The component's batch time (stations with spec.batch; NULL: a batch
 * takes the sum of its calls' demands on one core). The replica's factor
 * (cold start, slowdown, capacity) then applies to the batch's time. */
void rset_set_batch_time(rset_t *rs, rset_batch_fn fn);

/* One autoscaler sync now (normally run by its own timer every
 * autoscale.sync; exposed for tests): reads the metric over the ready
 * replicas, decides (hpa_decide) and scales. Returns the new count. */
int64_t rset_autoscale_sync(rset_t *rs);

/* Calls on replica r (waiting + in service, batched or not). */
static inline int64_t rset_in_system(const rset_t *rs, int r) { return rs->st[r].inservice + rs->st[r].nqueue; }
int rset_replicas_up(const rset_t *rs);

#endif
