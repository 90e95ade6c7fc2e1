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

#endif
