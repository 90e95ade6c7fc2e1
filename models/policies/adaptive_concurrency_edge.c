/* Policy `adaptive_concurrency`: a Netflix concurrency-limits limiter
 * (models/policies/adaptive_concurrency.h: AIMD or Gradient2) on a call edge. An attempt is
 * admitted while the attempts in flight on the edge are below the limit,
 * else it fails fast (CALL_REJECTED); each outcome is a sample:
 *   ok                              -> onSuccess (RTT = the attempt's latency)
 *   timeout, rejected, unavailable  -> onDropped (the overload signals)
 *   error                           -> onIgnore (a callee bug says nothing
 *                                      about its capacity)
 * An attempt abandoned without outcome (its request ended first) is
 * released without a sample, like onIgnore. The in-flight count is the
 * edge's (pol_ctx_t), copied into the limiter before each use, so that
 * abandoned attempts never leave it unbalanced.
 *
 *   adaptive_concurrency: {algorithm: aimd}            # or gradient2 (default)
 */
#include <math.h>
#include <stdio.h>

#include "models/policies/adaptive_concurrency.h"
#include "models/policies/policy.h"
#include "sim/error.h"

typedef struct {
    cl_t cl;
    int32_t min_seen, max_seen;
} pac_state_t;

static int parse(sim_diag_t *d, sim_cfg_node_t *map, void *spec) { return cl_spec_parse(d, map, spec); }

static int init(void *state, const void *spec, sim_t *sim, const char *edge)
{
    (void)sim, (void)edge;
    pac_state_t *st = state;
    int rc = cl_init(&st->cl, spec);
    st->min_seen = st->max_seen = cl_limit(&st->cl);
    return rc;
}

static pol_verdict_t admit(void *state, const void *spec, pol_ctx_t *ctx)
{
    (void)spec;
    pac_state_t *st = state;
    st->cl.inflight = (int32_t)ctx->inflight;
    cl_token_t tok;
    return cl_acquire(&st->cl, &tok) ? POL_PASS : POL_REJECT;
}

static void done(void *state, const void *spec, pol_ctx_t *ctx)
{
    (void)spec;
    pac_state_t *st = state;
    cl_outcome_t oc = ctx->status == CALL_OK      ? CL_SUCCESS
                      : ctx->status == CALL_ERROR ? CL_IGNORED
                                                  : CL_DROPPED;
    st->cl.inflight = (int32_t)ctx->inflight + 1;   /* the edge has already counted this attempt out */
    cl_release(&st->cl, (cl_token_t){(int32_t)ctx->inflight_at_issue}, ctx->latency, oc);
    int lim = cl_limit(&st->cl);
    if (lim < st->min_seen) st->min_seen = lim;
    if (lim > st->max_seen) st->max_seen = lim;
}

static void report(const void *const *states, size_t n, const char *edge, rs_report_t *rep)
{
    char row[80];
    snprintf(row, sizeof row, "%s adaptive_concurrency", edge);
    double rejected = 0, limit = 0, lo = INFINITY, hi = -INFINITY;
    for (size_t i = 0; i < n; i++) {
        const pac_state_t *st = states[i];
        rejected += (double)st->cl.rejected;
        limit += (double)cl_limit(&st->cl);
        if (st->min_seen < lo) lo = (double)st->min_seen;
        if (st->max_seen > hi) hi = (double)st->max_seen;
    }
    rs_report_add(rep, "policies", row, "rejected", RS_COUNT, rejected);
    rs_report_add(rep, "policies", row, "limit at end", RS_COUNT, n ? limit / (double)n : NAN);   /* per pod */
    rs_report_add(rep, "policies", row, "lowest limit", RS_COUNT, n ? lo : NAN);
    rs_report_add(rep, "policies", row, "highest limit", RS_COUNT, n ? hi : NAN);
}

const policy_type_t pol_adaptive_concurrency = {
    .name = "adaptive_concurrency",
    .spec_size = sizeof(cl_spec_t),
    .state_size = sizeof(pac_state_t),
    .parse = parse,
    .init = init,
    .admit = admit,
    .done = done,
    .report = report,
};
