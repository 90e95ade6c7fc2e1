/* The registry of call-edge policies (policy.h): their names, their order
 * on an edge, parsing a `calls` entry into instances. Calls each policy's
 * type table and the scenario tree. */
#include "models/policies/policy.h"

#include <stdio.h>
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

static void pod_edge_name(char *buf, size_t size, const char *edge, int pod)
{
    if (pod == 0) snprintf(buf, size, "%s", edge);
    else snprintf(buf, size, "%s@pod%d", edge, pod);
}

static void inst_free(pol_inst_t *q)
{
    if (q->shared || !q->state) return;
    if (q->type->fini) q->type->fini(q->state);
    free(q->state);
    q->state = NULL;
}

/* A fresh state for instance i of pod `pod` (not a shared one). */
static int inst_make(pol_inst_t *q, sim_t *sim, const char *edge, int pod)
{
    char name[160];
    pod_edge_name(name, sizeof name, edge, pod);
    q->shared = false;
    q->state = calloc(1, q->type->state_size ? q->type->state_size : 1);
    return q->state ? q->type->init(q->state, q->spec, sim, name) : SIM_ENOMEM;
}

int pol_insts_init(pol_inst_t **out, const pol_spec_t *specs, size_t n, int pods, sim_t *sim, const char *edge)
{
    *out = NULL;
    if (n == 0) return 0;
    if (pods < 1) pods = 1;
    pol_inst_t *p = calloc((size_t)pods * n, sizeof *p);
    if (!p) return SIM_ENOMEM;
    for (int pod = 0; pod < pods; pod++)
        for (size_t i = 0; i < n; i++) {
            pol_inst_t *q = &p[(size_t)pod * n + i];
            q->type = specs[i].type;
            q->spec = specs[i].spec;
            if (pod > 0 && q->type->cluster && q->type->cluster(q->spec)) {
                q->state = p[i].state;   /* one store for the cluster */
                q->shared = true;
                continue;
            }
            int rc = inst_make(q, sim, edge, pod);
            if (rc != 0) {
                pol_insts_fini(p, n, pods);
                return rc;
            }
        }
    *out = p;
    return 0;
}

void pol_insts_fini(pol_inst_t *p, size_t n, int pods)
{
    if (pods < 1) pods = 1;
    for (size_t i = 0; p && i < (size_t)pods * n; i++) inst_free(&p[i]);
    free(p);
}

int pol_insts_reset(pol_inst_t *p, size_t n, int pod, sim_t *sim, const char *edge)
{
    for (size_t i = 0; p && i < n; i++) {
        pol_inst_t *q = &p[(size_t)pod * n + i];
        if (q->shared || (q->type->cluster && q->type->cluster(q->spec))) continue;
        inst_free(q);
        int rc = inst_make(q, sim, edge, pod);
        if (rc != 0) return rc;
    }
    return 0;
}

void pol_insts_report(const pol_inst_t *p, size_t n, int pods, const char *edge, rs_report_t *rep)
{
    if (pods < 1) pods = 1;
    const void **states = malloc((size_t)pods * sizeof *states);
    if (!states) return;   /* out of memory at the end of a run: the rows are left out */
    for (size_t i = 0; p && i < n; i++) {
        if (!p[i].type->report) continue;
        size_t m = 0;
        for (int pod = 0; pod < pods; pod++) {
            const pol_inst_t *q = &p[(size_t)pod * n + i];
            if (!q->shared) states[m++] = q->state;
        }
        p[i].type->report(states, m, edge, rep);
    }
    free(states);
}
