/* Policy `bulkhead`: Resilience4j's SemaphoreBulkhead on a call edge (the
 * article's semaphore that bounds the goroutines calling a dependency): at
 * most `max_concurrent_calls` attempts in flight on the edge; an attempt
 * that finds them all taken fails fast (CALL_REJECTED) and the edge's
 * fallback acts.
 *
 *   bulkhead: {max_concurrent_calls: 25}     # Resilience4j's default
 *
 * Resilience4j can also wait up to `maxWaitDuration` for a permit (default
 * 0: no wait); waiting is not modelled, so only 0 is accepted. A permit is
 * held from the attempt's issue until its caller has the outcome (or gives
 * up: a timeout frees it, the component may still be working on the call).
 * The count is the edge's own (pol_ctx_t.inflight), so requests that end
 * early cannot leak permits. */
#include <stdio.h>

#include "models/policies/policy.h"
#include "sim/error.h"

typedef struct {
    int64_t max;
} pbh_spec_t;

typedef struct {
    uint64_t rejected;
} pbh_state_t;

static int parse(sim_diag_t *d, sim_cfg_node_t *map, void *spec)
{
    pbh_spec_t *s = spec;
    s->max = 25;
    if (!map) return 0;
    int errs = d->errors;
    sim_cfg_int(d, map, "max_concurrent_calls", 0, 1, 1000000000, s->max, &s->max);
    sim_time_t wait = 0;
    sim_cfg_duration(d, map, "max_wait_duration", 0, 0, &wait);
    if (wait != 0)
        sim_cfg_error(d, sim_cfg_get(map, "max_wait_duration"),
                      "waiting for a bulkhead permit is not modelled: only max_wait_duration: 0s (Resilience4j's default)");
    return d->errors == errs ? 0 : SIM_ECONFIG;
}

static int init(void *state, const void *spec, sim_t *sim, const char *edge)
{
    (void)state, (void)spec, (void)sim, (void)edge;
    return 0;
}

static pol_verdict_t admit(void *state, const void *spec, pol_ctx_t *ctx)
{
    if (ctx->inflight < ((const pbh_spec_t *)spec)->max) return POL_PASS;
    ((pbh_state_t *)state)->rejected++;
    return POL_REJECT;
}

static void report(const void *const *states, size_t n, const char *edge, rs_report_t *rep)
{
    char row[80];
    snprintf(row, sizeof row, "%s bulkhead", edge);
    double rejected = 0;
    for (size_t i = 0; i < n; i++) rejected += (double)((const pbh_state_t *)states[i])->rejected;
    rs_report_add(rep, "policies", row, "rejected", RS_COUNT, rejected);
}

const policy_type_t pol_bulkhead = {
    .name = "bulkhead",
    .spec_size = sizeof(pbh_spec_t),
    .state_size = sizeof(pbh_state_t),
    .parse = parse,
    .init = init,
    .admit = admit,
    .report = report,
};
