/* Policy `retry_throttling`: gRPC's retry throttling (A6,
 * models/policies/retry_budget.h) on a call edge: every failed attempt takes a token,
 * every successful one gives back token_ratio; the retry of a failed
 * attempt is allowed only while more than half the tokens remain. With
 * {max_tokens: 10, token_ratio: 0.1} retries stop once more than about 1 in
 * 11 attempts fails.
 *
 *   retry_throttling: {max_tokens: 10, token_ratio: 0.1}
 *
 * As in gRPC (A6), only a failure with a retryable status takes a token:
 * the edge's retry policy's retry_on plays the part of
 * retryableStatusCodes. A failure it would not retry (an edge retrying
 * timeouts only, and an error) leaves the tokens alone. */
#include <math.h>
#include <stdio.h>

#include "models/policies/policy.h"
#include "models/policies/retry.h"
#include "models/policies/retry_budget.h"
#include "sim/error.h"

typedef struct {
    rthr_t t;
    bool last_allowed;   /* the verdict on the attempt done() just saw */
} prt_state_t;

static int parse(sim_diag_t *d, sim_cfg_node_t *map, void *spec) { return rthr_spec_parse(d, map, spec); }

static int init(void *state, const void *spec, sim_t *sim, const char *edge)
{
    (void)sim, (void)edge;
    return rthr_init(&((prt_state_t *)state)->t, spec);
}

static void done(void *state, const void *spec, pol_ctx_t *ctx)
{
    (void)spec;
    prt_state_t *st = state;
    if (ctx->status == CALL_OK) rthr_on_success(&st->t);
    else if (ctx->retry_on & retry_class(ctx->status)) st->last_allowed = rthr_on_failure(&st->t);
    else st->last_allowed = false;   /* not retryable: not a retry's business */
}

/* Asked right after done() for the same failed attempt. */
static bool allow_retry(const void *state, const void *spec, const pol_ctx_t *ctx)
{
    (void)spec, (void)ctx;
    return ((const prt_state_t *)state)->last_allowed;
}

static void report(const void *const *states, size_t n, const char *edge, rs_report_t *rep)
{
    char row[80];
    snprintf(row, sizeof row, "%s retry_throttling", edge);
    double tokens = 0, throttled = 0;
    for (size_t i = 0; i < n; i++) {
        const prt_state_t *st = states[i];
        tokens += rthr_tokens(&st->t);
        throttled += (double)st->t.throttled;
    }
    rs_report_add(rep, "policies", row, "tokens at end", RS_NUMBER, n ? tokens / (double)n : NAN);   /* per channel */
    rs_report_add(rep, "policies", row, "retries throttled", RS_COUNT, throttled);
}

const policy_type_t pol_retry_throttling = {
    .name = "retry_throttling",
    .spec_size = sizeof(rthr_spec_t),
    .state_size = sizeof(prt_state_t),
    .parse = parse,
    .init = init,
    .done = done,
    .allow_retry = allow_retry,
    .report = report,
};
