/* Policy `retry`: models/policies/retry.c on a call edge. After a failed attempt
 * whose status is retryable, the next attempt waits the backoff (with
 * jitter) if attempts remain and the wait ends before the request's
 * deadline (retries must fit the remaining deadline). Draws from the
 * stream "policy/<edge>/retry". */
#include <stdio.h>

#include "models/policies/policy.h"
#include "models/policies/retry.h"
#include "sim/error.h"

typedef struct {
    sim_rng_t *rng;
    uint64_t retries, given_up;
} pr_state_t;

static int parse(sim_diag_t *d, sim_cfg_node_t *map, void *spec) { return retry_spec_parse(d, map, spec); }

static int init(void *state, const void *spec, sim_t *sim, const char *edge)
{
    (void)spec;
    pr_state_t *st = state;
    char name[128];
    snprintf(name, sizeof name, "policy/%s/retry", edge);
    st->rng = sim_stream(sim, name);
    return st->rng ? 0 : SIM_ENOMEM;
}

static bool retry(void *state, const void *spec, pol_ctx_t *ctx)
{
    pr_state_t *st = state;
    unsigned bit = retry_class(ctx->status);
    sim_time_t delay = retry_delay(spec, ctx->attempt, ctx->prev_delay, st->rng);
    if (!retry_should(spec, ctx->attempt + 1, bit, delay, ctx->now, ctx->deadline)) {
        st->given_up += bit != 0;
        return false;
    }
    ctx->retry_delay = delay;
    st->retries++;
    return true;
}

static void report(const void *const *states, size_t n, const char *edge, rs_report_t *rep)
{
    char row[80];
    snprintf(row, sizeof row, "%s retry", edge);
    double retries = 0;
    for (size_t i = 0; i < n; i++) retries += (double)((const pr_state_t *)states[i])->retries;
    rs_report_add(rep, "policies", row, "retries", RS_COUNT, retries);
}

const policy_type_t pol_retry = {
    .name = "retry",
    .spec_size = sizeof(retry_spec_t),
    .state_size = sizeof(pr_state_t),
    .parse = parse,
    .init = init,
    .retry = retry,
    .report = report,
};
