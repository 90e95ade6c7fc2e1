/* Policy `circuit_breaker`: models/policies/circuit_breaker.c (Resilience4j semantics, with
 * Hystrix and Sentinel presets and the consecutive-failures trigger) on a
 * call edge. An attempt the breaker does not allow fails fast as
 * CALL_REJECTED (then the edge's fallback acts); every admitted attempt's
 * outcome is recorded: failed unless CALL_OK, with its duration for the
 * slow-call rule. With `record_irrelevant: true` an answer flagged
 * irrelevant (chunks unrelated to the query) also counts as a failure:
 * Resilience4j's `recordResultPredicate`, here the runbook's "empty or
 * low-relevance retrievals mean the retrieval layer is unstable".
 * Transitions are logged as events "breaker_<state>". */
#include <stdio.h>
#include <string.h>

#include "models/policies/circuit_breaker.h"
#include "models/policies/policy.h"
#include "sim/error.h"

typedef struct {
    cb_spec_t cb;
    bool record_irrelevant;
} pcb_spec_t;

typedef struct {
    cb_t cb;
    sim_t *sim;
    char edge[64];
} pcb_state_t;

static int parse(sim_diag_t *d, sim_cfg_node_t *map, void *spec)
{
    pcb_spec_t *s = spec;
    s->record_irrelevant = false;
    if (map) sim_cfg_bool(d, map, "record_irrelevant", 0, false, &s->record_irrelevant);
    return cb_spec_parse(d, map, &s->cb);
}

static void on_transition(void *ctx, cb_state_t from, cb_state_t to, sim_time_t now)
{
    (void)now;
    pcb_state_t *st = ctx;
    char kind[32], detail[96];
    snprintf(kind, sizeof kind, "breaker_%s", cb_state_name(to));
    snprintf(detail, sizeof detail, "%s -> %s (window: %lld calls, %lld failed, %lld slow)", cb_state_name(from),
             cb_state_name(to), (long long)cb_window_calls(&st->cb), (long long)cb_window_failed(&st->cb),
             (long long)cb_window_slow(&st->cb));
    sim_log_event(st->sim, kind, st->edge, (double)to, detail);
}

static int init(void *state, const void *spec, sim_t *sim, const char *edge)
{
    pcb_state_t *st = state;
    st->sim = sim;
    snprintf(st->edge, sizeof st->edge, "%s", edge);
    return cb_init(&st->cb, &((const pcb_spec_t *)spec)->cb, on_transition, st);   /* SIM_EINVAL or SIM_ENOMEM */
}

static void fini(void *state) { cb_fini(&((pcb_state_t *)state)->cb); }

static pol_verdict_t admit(void *state, const void *spec, pol_ctx_t *ctx)
{
    (void)spec;
    return cb_allow(&((pcb_state_t *)state)->cb, ctx->now) ? POL_PASS : POL_REJECT;
}

static void done(void *state, const void *spec, pol_ctx_t *ctx)
{
    bool failed = ctx->status != CALL_OK ||
                  (((const pcb_spec_t *)spec)->record_irrelevant && (ctx->flags & CALL_F_IRRELEVANT));
    cb_record(&((pcb_state_t *)state)->cb, ctx->now, failed, ctx->latency);
}

static void report(const void *const *states, size_t n, const char *edge, rs_report_t *rep)
{
    char row[80];
    snprintf(row, sizeof row, "%s circuit_breaker", edge);
    double opens = 0, rejected = 0;
    for (size_t i = 0; i < n; i++) {
        const pcb_state_t *st = states[i];
        opens += (double)st->cb.opens;
        rejected += (double)st->cb.rejected;
    }
    rs_report_add(rep, "policies", row, "opened", RS_COUNT, opens);
    rs_report_add(rep, "policies", row, "rejected", RS_COUNT, rejected);
}

const policy_type_t pol_circuit_breaker = {
    .name = "circuit_breaker",
    .spec_size = sizeof(pcb_spec_t),
    .state_size = sizeof(pcb_state_t),
    .parse = parse,
    .init = init,
    .fini = fini,
    .admit = admit,
    .done = done,
    .report = report,
};
