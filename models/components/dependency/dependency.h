/* A downstream dependency: a generic service the pipeline calls (the
 * `risk_control` of the RAG stability article's incident, docs/background.md;
 * a profile service, a database ...): replicas x
 * concurrency in front of a queue, a latency distribution and an error ratio.
 *
 *   dependencies:
 *     risk_control:
 *       replicas: 2
 *       concurrency: 64            # requests served in parallel per replica
 *       latency: {dist: lognormal, mean: 30ms, cv: 0.5}
 *       error_ratio: 0.001         # answered with an error (5xx) after the latency
 *       queue_limit: unbounded
 *       (plus the replica keys of models/components/replicas/replicas.h)
 *
 * With exponential latency and no errors, each replica is an M/M/c queue.
 * Cancellation (dep_ops.cancel, rset_cancel): a waiting call leaves the
 * queue at once (CALL_TIMEOUT); one whose handler runs finishes as before. */
#ifndef MODELS_COMPONENTS_DEPENDENCY_DEPENDENCY_H
#define MODELS_COMPONENTS_DEPENDENCY_DEPENDENCY_H

#include "models/components/call.h"
#include "models/components/replicas/replicas.h"
#include "sim/dist.h"

typedef struct dep_spec {
    rset_spec_t rs;
    sim_dist_t latency;           /* seconds */
    double error_ratio;
} dep_spec_t;

int dep_spec_parse(sim_diag_t *d, sim_cfg_node_t *map, const char *name, dep_spec_t *spec);
void dep_spec_fini(dep_spec_t *spec);

typedef struct dep {
    sim_t *sim;
    const dep_spec_t *spec;
    rset_t rs;
    sim_rng_t *rng_latency, *rng_errors;
    double injected_errors;       /* fault: extra error ratio */
    uint64_t calls, errors;       /* since warm-up */
    uint64_t win_calls, win_errors;
    int col_err, col_up;
} dep_t;

dep_t *dep_create(sim_t *sim, const dep_spec_t *spec);
void dep_destroy(dep_t *dp);

extern const comp_ops_t dep_ops;

#endif
