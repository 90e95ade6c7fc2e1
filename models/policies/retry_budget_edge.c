/* Policy `retry_budget`: Envoy's retry budget (models/policies/retry_budget.h) on a
 * call edge: a retry the edge's retry policy proposes is taken only while
 * the retries in progress on the edge (decided, in backoff or in flight)
 * are fewer than max(budget_percent x active, min_retry_concurrency), with
 * active = the attempts in flight on the edge. Refused retries end the call
 * with its last failure (the edge counts them as "retries refused").
 *
 *   retry_budget: {budget_percent: 20%, min_retry_concurrency: 3}   # Envoy's defaults
 *
 * Envoy counts the cluster's active and pending requests; here the edge's
 * attempts in flight (a request in backoff is not in flight). */
#include <stdio.h>

#include "models/policies/policy.h"
#include "models/policies/retry_budget.h"
#include "sim/error.h"

typedef struct {
    rb_t rb;
} prb_state_t;

static int parse(sim_diag_t *d, sim_cfg_node_t *map, void *spec) { return rb_spec_parse(d, map, spec); }

static int init(void *state, const void *spec, sim_t *sim, const char *edge)
{
    (void)sim, (void)edge;
    return rb_init(&((prb_state_t *)state)->rb, spec);
}

static bool allow_retry(const void *state, const void *spec, const pol_ctx_t *ctx)
{
    (void)spec;
    return ctx->retries_inflight < rb_max_retries(&((const prb_state_t *)state)->rb, ctx->inflight);
}

const policy_type_t pol_retry_budget = {
    .name = "retry_budget",
    .spec_size = sizeof(rb_spec_t),
    .state_size = sizeof(prb_state_t),
    .parse = parse,
    .init = init,
    .allow_retry = allow_retry,
};
