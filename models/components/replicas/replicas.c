/* Replicated services (replicas.h): replicas as stations, crashes and
 * restarts with CrashLoopBackOff, cold starts, configuration changes'
 * effects. Calls stations, the load balancer and the engine. */
#include "models/components/replicas/replicas.h"

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sim/error.h"

int rset_spec_parse(sim_diag_t *d, sim_cfg_node_t *map, const char *name, const char *servers_key,
                    rset_spec_t *spec)
{
    int errs = d->errors;
    spec->name = name;
    int lb = (int)spec->lb;
    sim_cfg_int(d, map, "replicas", 0, 1, LB_MAX_REPLICAS, spec->replicas, &spec->replicas);
    sim_cfg_int(d, map, servers_key, 0, 1, 1000000, spec->servers, &spec->servers);
    sim_cfg_int(d, map, "queue_limit", SIM_CFG_UNBOUNDED, 0, INT64_MAX, spec->queue_limit, &spec->queue_limit);
    sim_cfg_duration(d, map, "queue_timeout", 0, spec->queue_timeout, &spec->queue_timeout);
    stn_queue_parse(d, map, &spec->queue);
    sim_cfg_enum(d, map, "load_balancer", 0, lb_policy_names, lb, &lb);
    spec->lb = (lb_policy_t)lb;
    sim_cfg_duration(d, map, "startup", 0, spec->startup, &spec->startup);
    sim_cfg_node_t *cold = sim_cfg_get(map, "cold_start");
    if (cold && sim_cfg_expect_map(d, cold, "cold_start")) {
        sim_cfg_double(d, cold, "factor", 0, 1, 1000, spec->cold_factor, &spec->cold_factor);
        sim_cfg_duration(d, cold, "period", 0, spec->cold_period, &spec->cold_period);
    }
    backoff_spec_parse(d, sim_cfg_get(map, "restart_backoff"), &spec->backoff);
    hpa_spec_parse(d, sim_cfg_get(map, "autoscale"), spec->replicas,
                   1u << HPA_CPU | 1u << HPA_INFLIGHT | 1u << HPA_QUEUE, &spec->hpa);
    if (d->errors != errs) return SIM_ECONFIG;
    spec->slots = spec->hpa.enabled && spec->hpa.max_replicas > spec->replicas ? spec->hpa.max_replicas : spec->replicas;
    spec->stations = calloc((size_t)spec->slots, sizeof *spec->stations);
    if (!spec->stations) return SIM_ENOMEM;
    for (int64_t i = 0; i < spec->slots; i++) {
        stn_spec_t *s = &spec->stations[i];
        s->name = name;
        s->replicated = true;
        s->replica = (int)i;
        s->servers = spec->servers;
        s->queue_limit = spec->queue_limit;
        s->queue_timeout = spec->queue_timeout;
        s->codel_shed = spec->queue.codel_shed;
        s->adaptive_lifo = spec->queue.adaptive_lifo;
        s->codel = spec->queue.codel;
        sim_dist_deterministic(&s->service, 0);   /* demands always come from the component */
    }
    return 0;
}

void rset_spec_fini(rset_spec_t *spec)
{
    free(spec->stations);
    spec->stations = NULL;
}

/* A replica scaled away has finished its last call: it is gone. */
static void drain_done(rset_t *rs, int r)
{
    rs->rep[r].draining = false;
    sim_log_event(rs->sim, "replica_removed", rs->st[r].source, 0, "scaled down: drained, terminated");
}

static void on_station_exit(sim_t *sim, void *owner, stn_job_t *job, stn_outcome_t oc)
{
    rset_t *rs = owner;
    call_t *c = (call_t *)job;
    int r = c->replica;
    lb_end(&rs->lb, r);
    bool drained = rs->rep[r].draining && rset_in_system(rs, r) == 0;
    /* served; refused while waiting (queue timeout, CoDel): like a 503, the
     * caller may fail over; aborted by a crash: an error */
    call_status_t st = oc == STN_DONE ? CALL_OK : oc == STN_ABORTED ? CALL_ERROR : CALL_REJECTED;
    st = rs->done(rs->owner, rs, c, st);
    if (st == CALL_OK && rs->rep[r].change_errors > 0 &&
        sim_rng_uniform(rs->rng_change) < rs->rep[r].change_errors)
        st = CALL_ERROR;
    if (rs->observe) rs->observe(rs->observe_ctx, r, st, sim_now(sim) - job->enter);
    call_complete(sim, c, st);
    if (drained) drain_done(rs, r);
}

static sim_time_t on_start(void *owner, station_t *st, stn_job_t *job, sim_time_t s);

static void warmup(sim_t *sim, void *ctx)
{
    (void)sim;
    rset_t *rs = ctx;
    rs->crashes = 0;
}

static void sync_event(sim_t *sim, void *obj, uint64_t arg)
{
    (void)arg;
    rset_t *rs = obj;
    rset_autoscale_sync(rs);
    sim_schedule_in(sim, rs->spec->hpa.sync, sync_event, rs, 0);
}

static void sample_desired(sim_t *sim, void *ctx, sim_time_t dt)
{
    (void)dt;
    rset_t *rs = ctx;
    sim_series_set(sim, rs->col_desired, (double)rs->want);
}

int rset_init(rset_t *rs, sim_t *sim, const rset_spec_t *spec, rset_done_fn done, void *owner)
{
    memset(rs, 0, sizeof *rs);
    rs->sim = sim;
    rs->spec = spec;
    rs->speed = 1;
    rs->done = done;
    rs->owner = owner;
    char stream[160];
    snprintf(stream, sizeof stream, "lb/%s", spec->name);
    int n = (int)spec->slots;
    if (lb_init(&rs->lb, sim, spec->lb, n, stream)) return SIM_ENOMEM;
    rs->st = calloc((size_t)n, sizeof *rs->st);
    rs->rep = calloc((size_t)n, sizeof *rs->rep);
    rs->col_desired = -1;
    if (!rs->st || !rs->rep) return SIM_ENOMEM;
    for (int i = 0; i < n; i++) {
        if (stn_init(&rs->st[i], sim, &spec->stations[i], on_station_exit, rs)) return SIM_ENOMEM;
        stn_set_start_hook(&rs->st[i], on_start);
        rs->rep[i].up = rs->rep[i].active = i < spec->replicas;
        rs->rep[i].change_slowdown = 1;
        backoff_init(&rs->rep[i].backoff, &spec->backoff);
        if (i >= spec->replicas) lb_set_up(&rs->lb, i, false);
    }
    rs->want = spec->replicas;
    if (sim_add_warmup_hook(sim, warmup, rs)) return SIM_ENOMEM;
    if (spec->hpa.enabled) {
        hpa_init(&rs->hpa, &spec->hpa);
        char name[160];
        snprintf(name, sizeof name, "%s_replicas_desired", spec->name);
        rs->col_desired = sim_series_add(sim, name, "1", "replicas the autoscaler wants (ready or starting)");
        if (rs->col_desired < 0 || sim_add_sampler(sim, sample_desired, rs)) return SIM_ENOMEM;
        sim_schedule_in(sim, spec->hpa.sync, sync_event, rs, 0);
    }
    return 0;
}

void rset_fini(rset_t *rs)
{
    if (rs->st)
        for (int64_t i = 0; i < rs->spec->slots; i++) stn_fini(&rs->st[i]);
    free(rs->st);
    free(rs->rep);
    lb_fini(&rs->lb);
}

int rset_replicas_up(const rset_t *rs)
{
    return rs->lb.nup;
}

/* Service-time factor of replica r now: cold start, a change's slowdown and capacity. */
static double factor(const rset_t *rs, int r, sim_time_t now)
{
    const rset_spec_t *sp = rs->spec;
    const rset_replica_t *rp = &rs->rep[r];
    double f = rp->change_slowdown / rs->speed;
    if (sp->cold_factor > 1 && (rp->crashes > 0 || rp->scaled) && sp->cold_period > 0) {
        sim_time_t since = now - rp->ready_at;
        if (since < sp->cold_period)
            f *= 1 + (sp->cold_factor - 1) * (1 - (double)since / (double)sp->cold_period);
    }
    return f;
}

/* The station's start hook: the call's demand x the replica's factor at
 * the moment it starts service (a call that waited through a slowdown runs
 * at the speed of its start). */
static sim_time_t on_start(void *owner, station_t *st, stn_job_t *job, sim_time_t s)
{
    (void)job;
    rset_t *rs = owner;
    return stn_scale(s, factor(rs, (int)(st - rs->st), sim_now(rs->sim)));
}

int rset_submit(rset_t *rs, call_t *c, double demand_s)
{
    int r = rset_pick(rs, c);
    return r < 0 ? -1 : rset_submit_to(rs, c, r, demand_s);
}

int rset_pick(rset_t *rs, call_t *c)
{
    int r = lb_pick(&rs->lb);
    if (r < 0) call_complete(rs->sim, c, CALL_UNAVAILABLE);
    return r;
}

int rset_submit_to(rset_t *rs, call_t *c, int r, double demand_s)
{
    c->replica = r;
    c->job.demand = sim_time_from_s(demand_s);   /* nominal: the factors apply when it starts */
    lb_begin(&rs->lb, r);
    if (!stn_submit(&rs->st[r], &c->job)) {
        lb_end(&rs->lb, r);
        call_complete(rs->sim, c, CALL_REJECTED);
        return -1;
    }
    return r;
}

void rset_cancel(rset_t *rs, call_t *c)
{
    assert(!c->owner && "rset_cancel: the caller must detach the call first");
    int r = c->replica;
    assert(r >= 0 && r < rs->spec->slots && "rset_cancel: the call is not on a replica");
    if (!stn_cancel(&rs->st[r], &c->job)) return;  /* in service */
    lb_end(&rs->lb, r);
    call_complete(rs->sim, c, CALL_TIMEOUT);
    if (rs->rep[r].draining && rset_in_system(rs, r) == 0) drain_done(rs, r);
}

static void crash_one(rset_t *rs, int r, const char *kind, double value, const char *detail);

static void ready_event(sim_t *sim, void *obj, uint64_t arg)
{
    rset_t *rs = obj;
    int r = (int)arg;
    rset_replica_t *rp = &rs->rep[r];
    rp->restart = (sim_timer_t){0, 0};
    if (rp->change_crash) {
        /* it cannot load its configuration: the process exits at start-up */
        crash_one(rs, r, "config_crash", (double)rp->crashes, "cannot load its configuration");
        return;
    }
    rp->starting = false;
    rp->up = true;
    rp->ready_at = sim_now(sim);
    lb_set_up(&rs->lb, r, true);
    sim_log_event(sim, "replica_ready", rs->st[r].source, (double)rp->crashes,
                  rs->spec->cold_factor > 1 ? "ready; serving cold (slower) while caches warm up" : "ready");
}

static void restart_event(sim_t *sim, void *obj, uint64_t arg)
{
    rset_t *rs = obj;
    int r = (int)arg;
    rset_replica_t *rp = &rs->rep[r];
    backoff_on_restart(&rp->backoff, sim_now(sim));
    rp->starting = true;
    sim_time_t startup = rs->on_restart ? rs->on_restart(rs->owner, rs, r) : rs->spec->startup;
    char detail[96];
    snprintf(detail, sizeof detail, "container restarted; ready after %.3g s of start-up", sim_time_to_s(startup));
    sim_log_event(sim, "replica_restarted", rs->st[r].source, (double)rp->crashes, detail);
    rp->restart = sim_schedule_in(sim, startup, ready_event, rs, (uint64_t)r);
}

static void crash_one(rset_t *rs, int r, const char *kind, double value, const char *detail)
{
    rset_replica_t *rp = &rs->rep[r];
    if (!rp->up && !rp->starting) return;   /* already down */
    sim_t *sim = rs->sim;
    sim_cancel(sim, &rp->restart);
    rp->up = false;
    rp->starting = false;
    rp->crashes++;
    rs->crashes++;
    lb_set_up(&rs->lb, r, false);
    sim_time_t delay = backoff_on_crash(&rp->backoff, &rs->spec->backoff, sim_now(sim));
    char buf[224];
    if (delay == 0)
        snprintf(buf, sizeof buf, "%s; restarted at once (no back-off before a first crash)", detail ? detail : kind);
    else
        snprintf(buf, sizeof buf, "%s; restart in %.3g s (CrashLoopBackOff)", detail ? detail : kind,
                 sim_time_to_s(delay));
    sim_log_event(sim, kind, rs->st[r].source, value, buf);
    rp->restart = sim_schedule_in(sim, delay, restart_event, rs, (uint64_t)r);
    stn_abort_all(&rs->st[r]);
}

void rset_crash(rset_t *rs, int r, const char *kind, double value, const char *detail)
{
    if (r >= 0) {
        if (r < rs->spec->slots) crash_one(rs, r, kind, value, detail);
        return;
    }
    for (int i = 0; i < rs->spec->slots; i++) crash_one(rs, i, kind, value, detail);
}

int rset_set_change(rset_t *rs, int r, double errors, double slowdown, bool crash)
{
    rset_replica_t *rp = &rs->rep[r];
    if (errors > 0 && !rs->rng_change) {
        char stream[160];
        snprintf(stream, sizeof stream, "%s/change_errors", rs->spec->name);
        rs->rng_change = sim_stream(rs->sim, stream);
        if (!rs->rng_change) return SIM_ENOMEM;
    }
    rp->change_errors = errors;
    rp->change_slowdown = slowdown >= 1 ? slowdown : 1;
    bool was = rp->change_crash;
    rp->change_crash = crash;
    if (crash && !was) crash_one(rs, r, "config_crash", (double)rp->crashes, "cannot load its new configuration");
    return 0;
}

void rset_set_observer(rset_t *rs, rset_observe_fn fn, void *ctx)
{
    rs->observe = fn;
    rs->observe_ctx = ctx;
}

/* the stations' batch hook: the component's batch time */
static sim_time_t on_batch(void *owner, station_t *st, stn_job_t *first, int64_t n, sim_time_t sum, int32_t *width)
{
    (void)st;
    rset_t *rs = owner;
    return rs->batch_time((void *)rs->owner, rs, (call_t *)first, n, sum, width);
}

void rset_set_batch_time(rset_t *rs, rset_batch_fn fn)
{
    rs->batch_time = fn;
    for (int64_t i = 0; i < rs->spec->slots; i++) stn_set_batch_hook(&rs->st[i], fn ? on_batch : NULL);
}

/* ---- autoscaling ------------------------------------------------------------------- */

/* The metric of ready replica r over the last sync interval: cpu from the
 * busy-server integral (as metrics-server's rate of CPU seconds), the
 * others as gauges read now. */
static double metric_of(rset_t *rs, int r, sim_time_t now)
{
    station_t *st = &rs->st[r];
    rset_replica_t *rp = &rs->rep[r];
    switch (rs->spec->hpa.metric) {
    case HPA_INFLIGHT: return (double)rset_in_system(rs, r);
    case HPA_QUEUE: return (double)st->nqueue;
    default:
        return hpa_busy_ratio(&st->busy_avg, &rp->busy_mark, rs->last_sync > rp->ready_at ? rs->last_sync : rp->ready_at,
                              now, (double)st->spec->servers);
    }
}

/* ---- the pool the HPA scales (hpa_pool_t) ---- */

static int pool_state(void *ctx, int r)
{
    const rset_replica_t *rp = &((rset_t *)ctx)->rep[r];
    if (!rp->active) return rp->draining ? HPA_SLOT_GONE : HPA_SLOT_EMPTY;
    return rp->up ? HPA_SLOT_READY : HPA_SLOT_STARTING;
}

static void pool_start(void *ctx, int r)
{
    rset_t *rs = ctx;
    rset_replica_t *rp = &rs->rep[r];
    rp->active = rp->starting = rp->scaled = true;
    rp->crashes = 0;
    backoff_init(&rp->backoff, &rs->spec->backoff);
    sim_time_t startup = rs->on_restart ? rs->on_restart(rs->owner, rs, r) : rs->spec->startup;
    rp->restart = sim_schedule_in(rs->sim, startup, ready_event, rs, (uint64_t)r);
}

static void pool_stop(void *ctx, int r, bool ready)
{
    rset_t *rs = ctx;
    rset_replica_t *rp = &rs->rep[r];
    rp->active = false;
    if (!ready) {
        sim_cancel(rs->sim, &rp->restart);
        rp->starting = false;
        sim_log_event(rs->sim, "replica_removed", rs->st[r].source, 0, "scaled down before it was ready");
        return;
    }
    rp->up = false;
    lb_set_up(&rs->lb, r, false);
    if (rset_in_system(rs, r) > 0) rp->draining = true;
    else drain_done(rs, r);
}

int64_t rset_autoscale_sync(rset_t *rs)
{
    static const char *const what[] = {"CPU", "calls in flight", "calls waiting", "KV"};
    const rset_spec_t *sp = rs->spec;
    sim_time_t now = sim_now(rs->sim);
    int64_t ready = 0;
    double sum = 0;
    for (int i = 0; i < sp->slots; i++) {
        if (!rs->rep[i].active || !rs->rep[i].up) continue;
        ready++;
        sum += metric_of(rs, i, now);
    }
    for (int i = 0; i < sp->slots; i++) hpa_busy_mark(&rs->st[i].busy_avg, &rs->rep[i].busy_mark, now);
    rs->last_sync = now;
    hpa_pool_t pool = {sp->name, what, (int)sp->slots, pool_state, pool_start, pool_stop, rs};
    rs->want = hpa_pool_scale(&rs->hpa, &pool, rs->sim, rs->want, ready, sum);
    return rs->want;
}
