/* Policy `rate_limit`: a token bucket (models/policies/rate_limit.c) in front of a
 * component, the article's chapter 1 fix in front of the vector DB: an
 * attempt that finds no token fails fast (CALL_REJECTED) and the edge's
 * fallback acts.
 *
 *   rate_limit: {rate: 300/s, burst: 50}                          # one bucket per gateway pod
 *   rate_limit: {rate: 300/s, burst: 50, scope: cluster, store_latency: 1ms}
 *
 * scope: pod (the default) gives each gateway pod its own bucket, as an
 * in-process limiter (Resilience4j RateLimiter, Envoy's local rate limit)
 * has: N pods admit up to N x rate. scope: cluster is one bucket for the
 * cluster, as a limiter backed by a shared store (Envoy's global rate-limit
 * service, a Redis token bucket): every decision takes the store's round
 * trip, store_latency (default 1ms, an in-cluster RPC), before the attempt
 * goes out. */
#include <stdbool.h>
#include <stdio.h>

#include "models/policies/policy.h"
#include "models/policies/rate_limit.h"
#include "sim/error.h"

typedef struct {
    tb_spec_t tb;
    bool cluster;              /* scope: cluster */
    sim_time_t store_latency;  /* cluster: the shared store's round trip */
} prl_spec_t;

typedef struct {
    tb_t tb;
    uint64_t admitted, rejected;
} prl_state_t;

static const char *const scopes[] = {"pod", "cluster", NULL};

static int parse(sim_diag_t *d, sim_cfg_node_t *map, void *spec)
{
    prl_spec_t *sp = spec;
    if (!map) {
        sim_diag_error_at(d, NULL, 0, 0, "rate_limit needs a rate (e.g. rate_limit: {rate: 300/s, burst: 50})");
        return SIM_ECONFIG;
    }
    int errs = d->errors;
    int rc = tb_spec_parse(d, map, &sp->tb);
    if (rc == SIM_ENOMEM) return rc;
    if (rc == 0) {
        int scope = 0;
        sim_cfg_enum(d, map, "scope", 0, scopes, 0, &scope);
        sp->cluster = scope == 1;
        sim_cfg_duration(d, map, "store_latency", 0, 1000000, &sp->store_latency);
        sim_cfg_node_t *n = sim_cfg_get(map, "store_latency");
        if (n && !sp->cluster) {
            char path[256];
            sim_cfg_path(n, path, sizeof path);
            sim_cfg_error(d, n, "'%s': only a cluster-scoped limiter has a store (add 'scope: cluster')", path);
        }
    }
    return d->errors == errs ? 0 : SIM_ECONFIG;
}

static bool cluster(const void *spec) { return ((const prl_spec_t *)spec)->cluster; }

static int init(void *state, const void *spec, sim_t *sim, const char *edge)
{
    (void)edge;
    prl_state_t *st = state;
    return tb_init(&st->tb, &((const prl_spec_t *)spec)->tb, sim_now(sim));   /* SIM_EINVAL only: the spec was already checked */
}

static pol_verdict_t admit(void *state, const void *spec, pol_ctx_t *ctx)
{
    const prl_spec_t *sp = spec;
    prl_state_t *st = state;
    if (sp->cluster) ctx->admit_delay += sp->store_latency;
    if (tb_take(&st->tb, ctx->now, 1)) {
        st->admitted++;
        return POL_PASS;
    }
    st->rejected++;
    return POL_REJECT;
}

static void report(const void *const *states, size_t n, const char *edge, rs_report_t *rep)
{
    char row[80];
    snprintf(row, sizeof row, "%s rate_limit", edge);
    double rejected = 0;
    for (size_t i = 0; i < n; i++) rejected += (double)((const prl_state_t *)states[i])->rejected;
    rs_report_add(rep, "policies", row, "rejected", RS_COUNT, rejected);
}

const policy_type_t pol_rate_limit = {
    .name = "rate_limit",
    .spec_size = sizeof(prl_spec_t),
    .state_size = sizeof(prl_state_t),
    .parse = parse,
    .init = init,
    .admit = admit,
    .report = report,
    .cluster = cluster,
};
