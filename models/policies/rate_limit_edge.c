/* Policy `rate_limit`: a token bucket (models/policies/rate_limit.c) in front of a
 * component, the article's chapter 1 fix in front of the vector DB: an
 * attempt that finds no token fails fast (CALL_REJECTED) and the edge's
 * fallback acts.
 *
 *   rate_limit: {rate: 300/s, burst: 50}
 */
#include <stdio.h>

#include "models/policies/policy.h"
#include "models/policies/rate_limit.h"
#include "sim/error.h"

typedef struct {
    tb_t tb;
    uint64_t admitted, rejected;
} prl_state_t;

static int parse(sim_diag_t *d, sim_cfg_node_t *map, void *spec)
{
    if (!map) {
        sim_diag_error_at(d, NULL, 0, 0, "rate_limit needs a rate (e.g. rate_limit: {rate: 300/s, burst: 50})");
        return SIM_ECONFIG;
    }
    return tb_spec_parse(d, map, spec);
}

static int init(void *state, const void *spec, sim_t *sim, const char *edge)
{
    (void)edge;
    prl_state_t *st = state;
    return tb_init(&st->tb, spec, sim_now(sim));   /* SIM_EINVAL only: the spec was already checked */
}

static pol_verdict_t admit(void *state, const void *spec, pol_ctx_t *ctx)
{
    (void)spec;
    prl_state_t *st = state;
    if (tb_take(&st->tb, ctx->now, 1)) {
        st->admitted++;
        return POL_PASS;
    }
    st->rejected++;
    return POL_REJECT;
}

static void report(const void *state, const char *edge, rs_report_t *rep)
{
    const prl_state_t *st = state;
    char row[80];
    snprintf(row, sizeof row, "%s rate_limit", edge);
    rs_report_add(rep, "policies", row, "rejected", RS_COUNT, (double)st->rejected);
}

const policy_type_t pol_rate_limit = {
    .name = "rate_limit",
    .spec_size = sizeof(tb_spec_t),
    .state_size = sizeof(prl_state_t),
    .parse = parse,
    .init = init,
    .admit = admit,
    .report = report,
};
