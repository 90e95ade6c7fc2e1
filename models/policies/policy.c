/* The registry of call-edge policies (policy.h): their names, their order
 * on an edge, parsing a `calls` entry into instances. Calls each policy's
 * type table and the scenario tree. */
#include "models/policies/policy.h"

#include <stdlib.h>
#include <string.h>

#include "sim/error.h"

extern const policy_type_t pol_result_cache, pol_rate_limit, pol_circuit_breaker, pol_bulkhead,
    pol_adaptive_concurrency, pol_retry, pol_retry_budget, pol_retry_throttling, pol_retry_token_bucket;

/* The registry, in chain order: a cached result short-circuits everything;
 * the rate limiter, the breaker and the concurrency limits reject before a
 * call is made (the order of Resilience4j's recommended decoration: the
 * breaker sees what the bulkhead refuses as a failure); retry decides after
 * it, and
 * the retry economics (budget, throttling, token bucket) may veto. */
const policy_type_t *const policy_registry[] = {
    &pol_result_cache,
    &pol_rate_limit,
    &pol_circuit_breaker,
    &pol_bulkhead,
    &pol_adaptive_concurrency,
    &pol_retry,
    &pol_retry_budget,
    &pol_retry_throttling,
    &pol_retry_token_bucket,
};
const size_t policy_count = sizeof policy_registry / sizeof *policy_registry;

const policy_type_t *policy_find(const char *name)
{
    for (size_t i = 0; i < policy_count; i++)
        if (!strcmp(policy_registry[i]->name, name)) return policy_registry[i];
    return NULL;
}

int pol_specs_parse(sim_diag_t *d, sim_cfg_node_t *edge_map, sim_cfg_node_t *preset, pol_spec_t **out, size_t *n)
{
    *out = NULL;
    *n = 0;
    int errs = d->errors;
    pol_spec_t *p = calloc(policy_count, sizeof *p);
    if (!p) return SIM_ENOMEM;
    for (size_t i = 0; i < policy_count; i++) {
        const policy_type_t *t = policy_registry[i];
        sim_cfg_node_t *m = sim_cfg_get(edge_map, t->name);
        if (!m && preset) m = sim_cfg_get(preset, t->name);
        if (!m) continue;
        void *spec = calloc(1, t->spec_size ? t->spec_size : 1);
        if (!spec) {
            pol_specs_fini(p, *n);
            return SIM_ENOMEM;
        }
        if (sim_cfg_is_null(m)) m = NULL;   /* `retry:` alone: the defaults */
        else if (!sim_cfg_expect_map(d, m, t->name)) {
            free(spec);
            continue;
        }
        int rc = t->parse(d, m, spec);
        if (rc == SIM_ENOMEM) {
            free(spec);
            pol_specs_fini(p, *n);
            return rc;
        }
        p[(*n)++] = (pol_spec_t){t, spec};
    }
    *out = p;
    return d->errors == errs ? 0 : SIM_ECONFIG;
}

void pol_specs_fini(pol_spec_t *p, size_t n)
{
    for (size_t i = 0; p && i < n; i++) {
        if (p[i].type->spec_fini) p[i].type->spec_fini(p[i].spec);
        free(p[i].spec);
    }
    free(p);
}

int pol_insts_init(pol_inst_t **out, const pol_spec_t *specs, size_t n, sim_t *sim, const char *edge)
{
    *out = NULL;
    if (n == 0) return 0;
    pol_inst_t *p = calloc(n, sizeof *p);
    if (!p) return SIM_ENOMEM;
    for (size_t i = 0; i < n; i++) {
        p[i].type = specs[i].type;
        p[i].spec = specs[i].spec;
        p[i].state = calloc(1, specs[i].type->state_size ? specs[i].type->state_size : 1);
        int rc = p[i].state ? specs[i].type->init(p[i].state, p[i].spec, sim, edge) : SIM_ENOMEM;
        if (rc != 0) {
            pol_insts_fini(p, i + 1);
            return rc;
        }
    }
    *out = p;
    return 0;
}

void pol_insts_fini(pol_inst_t *p, size_t n)
{
    for (size_t i = 0; p && i < n; i++) {
        if (p[i].state && p[i].type->fini) p[i].type->fini(p[i].state);
        free(p[i].state);
    }
    free(p);
}
