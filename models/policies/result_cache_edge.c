/* Policy `result_cache`: a query-result cache in front of a component (the
 * article's chapter 1 fix in front of the vector DB). Keyed by the
 * request's query key; a hit answers the call without making it. Entries
 * are inserted after a successful call. LRU or TTL, as the embedding cache
 * (models/components/gateway/embcache.h), without memory accounting (an external cache such as
 * Redis). Being a shared store, it is one cache for the cluster: every
 * gateway pod reads and fills the same entries (the store's round trip is
 * not modelled: a lookup takes no time).
 *
 *   result_cache: {mode: lru, capacity: 20000}      # or {mode: ttl, ttl: 5m}
 */
#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "models/components/gateway/embcache.h"
#include "models/policies/policy.h"
#include "sim/error.h"

typedef struct {
    embc_t cache;
    uint64_t hits, misses;
} rc_state_t;

static int parse(sim_diag_t *d, sim_cfg_node_t *map, void *spec)
{
    embc_spec_t *s = spec;
    int errs = d->errors;
    int rc = embc_spec_parse(d, map, s);
    if (!sim_cfg_get(map, "mode")) s->mode = EMBC_LRU;   /* a result cache is bounded unless told */
    if (rc == 0 && s->mode == EMBC_NONE)
        sim_cfg_error(d, sim_cfg_get(map, "mode"), "a result_cache with mode none caches nothing: remove it instead");
    if (rc == 0 && s->pin_index)
        sim_cfg_error(d, sim_cfg_get(map, "pin_index"), "pin_index applies to the gateway's embedding cache, not to a result cache");
    return rc ? rc : d->errors != errs ? SIM_ECONFIG : 0;
}

static int init(void *state, const void *spec, sim_t *sim, const char *edge)
{
    (void)sim;
    (void)edge;
    rc_state_t *st = state;
    return embc_init(&st->cache, spec, 0, NULL, NULL);
}

static bool cluster(const void *spec)
{
    (void)spec;
    return true;
}

static void fini(void *state) { embc_fini(&((rc_state_t *)state)->cache); }

static pol_verdict_t admit(void *state, const void *spec, pol_ctx_t *ctx)
{
    (void)spec;
    rc_state_t *st = state;
    if (ctx->attempt > 0) return POL_PASS;   /* a retry follows a miss */
    if (embc_lookup(&st->cache, ctx->key, ctx->now)) {
        st->hits++;
        return POL_HIT;
    }
    st->misses++;
    return POL_PASS;
}

static void done(void *state, const void *spec, pol_ctx_t *ctx)
{
    (void)spec;
    rc_state_t *st = state;
    /* cache good results only: not failures, not unrelated chunks */
    if (ctx->status == CALL_OK && !(ctx->flags & CALL_F_IRRELEVANT) && embc_insert(&st->cache, ctx->key, ctx->now) != 0) {
        ctx->sim->error = SIM_ENOMEM;
        sim_stop(ctx->sim);
    }
}

static void report(const void *const *states, size_t n, const char *edge, rs_report_t *rep)
{
    char row[80];
    snprintf(row, sizeof row, "%s result_cache", edge);
    uint64_t hits = 0, lookups = 0;
    double entries = 0;
    for (size_t i = 0; i < n; i++) {
        const rc_state_t *st = states[i];
        hits += st->hits;
        lookups += st->hits + st->misses;
        entries += (double)embc_entries(&st->cache);
    }
    rs_report_add(rep, "policies", row, "hit ratio", RS_RATIO, lookups ? (double)hits / (double)lookups : NAN);
    rs_report_add(rep, "policies", row, "entries", RS_COUNT, entries);
}

const policy_type_t pol_result_cache = {
    .name = "result_cache",
    .spec_size = sizeof(embc_spec_t),
    .state_size = sizeof(rc_state_t),
    .parse = parse,
    .init = init,
    .fini = fini,
    .admit = admit,
    .done = done,
    .report = report,
    .cluster = cluster,
};
