/* The Kubernetes Horizontal Pod Autoscaler's decision, as the HPA
 * controller (pkg/controller/podautoscaler) computes it at every sync:
 *
 *   1. ratio = metric / target, the metric averaged over the ready pods.
 *      Within the tolerance (|ratio - 1| <= 0.1) the recommendation is the
 *      current count. Otherwise desired = ceil(ready x ratio); on a scale-up
 *      the pods not yet ready count as using nothing (the controller's
 *      "unready pods" rule, which keeps it from piling replicas on a load
 *      the starting ones will take): ratio' = metric sum / (target x
 *      (ready + starting)), and no change if that no longer calls for
 *      more pods (ratio' <= 1 + tolerance).
 *   2. Stabilisation: the recommendation is kept with its time; the
 *      scale-up limit is the lowest recommendation of the last `up.window`
 *      (0 s: the current one), the scale-down limit the highest of the last
 *      `down.window` (300 s). The count moves only past both.
 *   3. Rate policies: over each policy's period, the replicas at the period's
 *      start (current - added + removed in it) may grow by `pods` or by
 *      `percent` (rounded up) — the larger of the two with the default
 *      select policy Max (4 pods or 100% per 15 s) — and shrink by `percent`
 *      (100% per 15 s, rounded down).
 *   4. min_replicas <= count <= max_replicas.
 *
 *   autoscale:
 *     min_replicas: 1
 *     max_replicas: 10
 *     metric: cpu              # cpu (busy servers / servers), inflight (calls per
 *                              # replica), queue (waiting calls per replica), kv (KV-cache usage)
 *     target: 60%              # a ratio for cpu and kv, a count per replica otherwise
 *     tolerance: 0.1
 *     sync: 15s
 *     up: {window: 0s, pods: 4, percent: 100, period: 15s}
 *     down: {window: 300s, percent: 100, period: 15s}
 *
 * The decision is a pure function of its inputs and the recorded history
 * (no allocation after init, no randomness): tests replay it by hand. */
#ifndef MODELS_COMPONENTS_REPLICAS_HPA_H
#define MODELS_COMPONENTS_REPLICAS_HPA_H

#include <stdbool.h>
#include <stdint.h>

#include "sim/cfg.h"
#include "sim/sim.h"
#include "sim/stats.h"
#include "sim/time.h"

typedef enum { HPA_CPU, HPA_INFLIGHT, HPA_QUEUE, HPA_KV } hpa_metric_t;
extern const char *const hpa_metric_names[];   /* NULL-terminated */

typedef struct {
    sim_time_t window;      /* stabilisation window */
    int64_t pods;           /* Pods policy: at most this many per period (0: no such policy) */
    double percent;         /* Percent policy: at most this % of the period's start (0: none) */
    sim_time_t period;
} hpa_rules_t;

typedef struct hpa_spec {
    bool enabled;
    int64_t min_replicas, max_replicas;
    hpa_metric_t metric;
    double target;          /* per replica: a ratio (cpu, kv) or a count (inflight, queue) */
    double tolerance;
    sim_time_t sync;
    hpa_rules_t up, down;
} hpa_spec_t;

/* Parse `autoscale` (map may be NULL: disabled) of a component whose
 * `replicas` is the starting count; metrics the component cannot report are
 * refused (`allowed`: bit 1 << hpa_metric_t). 0 or SIM_ECONFIG. */
int hpa_spec_parse(sim_diag_t *d, sim_cfg_node_t *map, int64_t replicas, unsigned allowed, hpa_spec_t *spec);

#define HPA_HISTORY 512   /* recommendations and scale events kept (a 300 s window at 15 s needs 21) */

typedef struct {
    sim_time_t at;
    int64_t value;          /* a recommendation, or a scale event's replica change */
} hpa_sample_t;

typedef struct hpa {
    const hpa_spec_t *spec;
    hpa_sample_t rec[HPA_HISTORY];      /* ring of recommendations */
    int nrec, rec_head;
    hpa_sample_t up_ev[HPA_HISTORY], down_ev[HPA_HISTORY];   /* rings of scale events */
    int nup, up_head, ndown, down_head;
    /* the last decision, for traces and tests */
    double last_ratio;
    int64_t last_raw;       /* desired from the metric (step 1) */
    int64_t last_stable;    /* after stabilisation (step 2) */
} hpa_t;

void hpa_init(hpa_t *h, const hpa_spec_t *spec);

/* One sync at `now`: `current` replicas wanted so far (ready, starting),
 * `ready` of them ready, `metric_sum` the metric summed over the ready ones.
 * Returns the new count (records the recommendation and, if it differs from
 * current, the scale event). */
int64_t hpa_decide(hpa_t *h, sim_time_t now, int64_t current, int64_t ready, double metric_sum);

/* ---- scaling a pool: what every autoscaled component shares ----------------
 * A component holds max(replicas, max_replicas) slots; at each sync it sums
 * the metric over its ready replicas and calls hpa_pool_scale, which
 * decides (hpa_decide), logs `scale_up` / `scale_down` (source: the
 * component, value: the new count) and starts or stops replicas through the
 * component's callbacks: a scale-up starts the lowest empty slots; a
 * scale-down stops the replicas not yet ready first, then the
 * highest-numbered ready ones (a ReplicaSet deletes unready and newer pods
 * first). */
enum { HPA_SLOT_EMPTY, HPA_SLOT_STARTING, HPA_SLOT_READY, HPA_SLOT_GONE };

typedef struct {
    const char *name;                   /* the component: the events' source */
    const char *const *what;            /* per hpa_metric_t: the metric in words, for the event's detail */
    int slots;
    /* slot r: HPA_SLOT_EMPTY (free to start), HPA_SLOT_STARTING (wanted, not
     * ready: starting or restarting), HPA_SLOT_READY (wanted and ready),
     * HPA_SLOT_GONE (not wanted and not free: draining) */
    int (*state)(void *ctx, int r);
    void (*start)(void *ctx, int r);               /* start a replica in an empty slot */
    void (*stop)(void *ctx, int r, bool ready);    /* scale a wanted replica away (ready: drain it) */
    void *ctx;
} hpa_pool_t;

/* One sync's decision and scaling at `now`: `current` replicas wanted,
 * `ready` of them ready, `metric_sum` over the ready ones. Returns the new
 * count of wanted replicas. */
int64_t hpa_pool_scale(hpa_t *h, const hpa_pool_t *p, sim_t *sim, int64_t current, int64_t ready, double metric_sum);

/* The `cpu` metric of one replica: the busy-server integral of `busy` since
 * the mark (or since `from` if later: a replica ready since then) over
 * `servers`, as metrics-server's rate of CPU seconds. hpa_busy_mark records
 * the integral now (call it after reading every replica). A window restarted
 * since the mark (the warm-up) counts from its start. */
typedef struct {
    double area;
    sim_time_t start;
} hpa_busy_mark_t;
double hpa_busy_ratio(const sim_tavg_t *busy, const hpa_busy_mark_t *mark, sim_time_t from, sim_time_t now,
                      double servers);
void hpa_busy_mark(const sim_tavg_t *busy, hpa_busy_mark_t *mark, sim_time_t now);

#endif
