/* A generic downstream service (dependency.h): a replicated station with
 * a latency distribution, errors and faults. Calls the replicated service
 * (replicas.h) and the engine. */
#include "models/components/dependency/dependency.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sim/error.h"

int dep_spec_parse(sim_diag_t *d, sim_cfg_node_t *map, const char *name, dep_spec_t *spec)
{
    int errs = d->errors;
    memset(spec, 0, sizeof *spec);
    spec->rs = (rset_spec_t){.replicas = 1, .servers = 64, .queue_limit = INT64_MAX, .lb = LB_ROUND_ROBIN,
                             .startup = 5 * SIM_SEC, .cold_factor = 1, .cold_period = 0};
    if (!sim_cfg_expect_map(d, map, "dependency")) return SIM_ECONFIG;
    int rc = rset_spec_parse(d, map, name, "concurrency", &spec->rs);
    if (rc == SIM_ENOMEM) return rc;
    sim_cfg_node_t *lat = sim_cfg_get(map, "latency");
    if (!lat)
        sim_cfg_error(d, map, "missing required key 'latency' in dependency '%s' (e.g. latency: {dist: lognormal, mean: 30ms, cv: 0.5})", name);
    else
        sim_dist_parse(d, lat, SIM_DIST_DURATION, &spec->latency);
    sim_cfg_ratio(d, map, "error_ratio", 0, 0, &spec->error_ratio);
    return d->errors == errs ? 0 : SIM_ECONFIG;
}

void dep_spec_fini(dep_spec_t *spec)
{
    rset_spec_fini(&spec->rs);
    sim_dist_fini(&spec->latency);
}

static call_status_t on_done(void *owner, rset_t *rs, call_t *c, call_status_t st)
{
    (void)rs;
    (void)c;
    dep_t *dp = owner;
    if (st == CALL_OK) {
        double p = dp->spec->error_ratio + dp->injected_errors;
        if (p > 0 && sim_rng_uniform(dp->rng_errors) < p) st = CALL_ERROR;
    }
    dp->calls++;
    dp->win_calls++;
    if (st != CALL_OK) {
        dp->errors++;
        dp->win_errors++;
    }
    return st;
}

static void submit(void *comp, call_t *c)
{
    dep_t *dp = comp;
    rset_submit(&dp->rs, c, sim_dist_sample(&dp->spec->latency, dp->rng_latency));
}

static struct rset *replicas(void *comp) { return &((dep_t *)comp)->rs; }
static void set_speed(void *comp, double f) { ((dep_t *)comp)->rs.speed = f > 0 ? f : 1e-9; }
static void set_error_ratio(void *comp, double p) { ((dep_t *)comp)->injected_errors = p; }
static void kill_replica(void *comp, int r) { rset_crash(&((dep_t *)comp)->rs, r, "replica_killed", 0, "killed by a fault"); }
static int replicas_up(const void *comp) { return rset_replicas_up(&((const dep_t *)comp)->rs); }
static void cancel(void *comp, call_t *c) { rset_cancel(&((dep_t *)comp)->rs, c); }

const comp_ops_t dep_ops = {"dependency", submit, set_speed, set_error_ratio, kill_replica, replicas_up, cancel, replicas};

static void sampler(sim_t *sim, void *ctx, sim_time_t dt)
{
    (void)dt;
    dep_t *dp = ctx;
    sim_series_set(sim, dp->col_err, dp->win_calls ? (double)dp->win_errors / (double)dp->win_calls : NAN);
    sim_series_set(sim, dp->col_up, (double)rset_replicas_up(&dp->rs));
    dp->win_calls = dp->win_errors = 0;
}

static void warmup(sim_t *sim, void *ctx)
{
    (void)sim;
    dep_t *dp = ctx;
    dp->calls = dp->errors = 0;
}

dep_t *dep_create(sim_t *sim, const dep_spec_t *spec)
{
    dep_t *dp = calloc(1, sizeof *dp);
    if (!dp) return NULL;
    dp->sim = sim;
    dp->spec = spec;
    char buf[160];
    snprintf(buf, sizeof buf, "dependency/%s/latency", spec->rs.name);
    dp->rng_latency = sim_stream(sim, buf);
    snprintf(buf, sizeof buf, "dependency/%s/errors", spec->rs.name);
    dp->rng_errors = sim_stream(sim, buf);
    if (!dp->rng_latency || !dp->rng_errors) goto fail;
    if (rset_init(&dp->rs, sim, &spec->rs, on_done, dp)) goto fail;
    snprintf(buf, sizeof buf, "dependency_error_ratio{dependency=%s}", spec->rs.name);
    dp->col_err = sim_series_add(sim, buf, "1", "calls answered with an error (or failed by a crash) / calls completed in the interval");
    snprintf(buf, sizeof buf, "replicas_up{component=%s}", spec->rs.name);
    dp->col_up = sim_series_add(sim, buf, "1", "replicas ready");
    if (dp->col_err < 0 || dp->col_up < 0) goto fail;
    if (sim_add_sampler(sim, sampler, dp) || sim_add_warmup_hook(sim, warmup, dp)) goto fail;
    return dp;
fail:
    dep_destroy(dp);
    return NULL;
}

void dep_destroy(dep_t *dp)
{
    if (!dp) return;
    if (dp->rs.st) rset_fini(&dp->rs);
    free(dp);
}
