/* Policy `retry_token_bucket`: the AWS SDKs' retry quota
 * (models/policies/retry_budget.h) on a call edge: a retry costs retry_cost tokens
 * (retry_timeout_cost after a timeout) from a bucket of retry_rate_tokens,
 * and is refused when the bucket holds less; a success gives back the cost
 * its retry held, or no_retry_increment for a first-attempt success (every
 * success gives the increment with refund_on_success: false).
 *
 *   retry_token_bucket: {}                                  # AWS: 500, 5, 10, 1
 *   retry_token_bucket: {retry_rate_tokens: 100, retry_cost: 10, retry_timeout_cost: 10,
 *                        no_retry_increment: 1, refund_on_success: false}
 *                                               # "+0.1 per success, -1 per retry": <= 1.1x load
 *
 * The cost a call's retry holds is kept in the call's policy note. */
#include <math.h>
#include <stdio.h>

#include "models/policies/policy.h"
#include "models/policies/retry_budget.h"
#include "sim/error.h"

typedef struct {
    rq_t q;
} prq_state_t;

static int parse(sim_diag_t *d, sim_cfg_node_t *map, void *spec) { return rq_spec_parse(d, map, spec); }

static int init(void *state, const void *spec, sim_t *sim, const char *edge)
{
    (void)sim, (void)edge;
    return rq_init(&((prq_state_t *)state)->q, spec);
}

static bool allow_retry(const void *state, const void *spec, const pol_ctx_t *ctx)
{
    const rq_spec_t *s = spec;
    int64_t cost = ctx->status == CALL_TIMEOUT ? s->retry_timeout_cost : s->retry_cost;
    return ((const prq_state_t *)state)->q.tokens >= cost;
}

static void retry_scheduled(void *state, const void *spec, const pol_ctx_t *ctx)
{
    (void)spec;
    *ctx->note = rq_acquire(&((prq_state_t *)state)->q, ctx->status == CALL_TIMEOUT);
}

static void done(void *state, const void *spec, pol_ctx_t *ctx)
{
    (void)spec;
    if (ctx->status == CALL_OK) rq_on_success(&((prq_state_t *)state)->q, *ctx->note);
}

static void report(const void *const *states, size_t n, const char *edge, rs_report_t *rep)
{
    char row[80];
    snprintf(row, sizeof row, "%s retry_token_bucket", edge);
    double tokens = 0;
    for (size_t i = 0; i < n; i++) tokens += (double)((const prq_state_t *)states[i])->q.tokens;
    rs_report_add(rep, "policies", row, "tokens at end", RS_COUNT, n ? tokens / (double)n : NAN);   /* per client */
}

const policy_type_t pol_retry_token_bucket = {
    .name = "retry_token_bucket",
    .spec_size = sizeof(rq_spec_t),
    .state_size = sizeof(prq_state_t),
    .parse = parse,
    .init = init,
    .done = done,
    .allow_retry = allow_retry,
    .retry_scheduled = retry_scheduled,
    .report = report,
};
