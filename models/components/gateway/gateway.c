/* The gateway service's process: parsing (`gateway`, `config`, `etcd`),
 * the CPU segments of requests, the books of requests, LLM calls and leaked
 * goroutines, the embedding cache, the life of a replica (start, OOM kill,
 * crash, restart after the CrashLoopBackOff delay), metrics, creation. What
 * the `config` section does (etcd watches, reloads, pushes) is config.c's,
 * called through gateway_internal.h. */
#include "models/components/gateway/gateway.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "models/components/gateway/gateway_internal.h"
#include "sim/error.h"

/* ---- parsing ------------------------------------------------------------------ */

static const char *const client_modes[] = {"shared", "per_watch", NULL};

static int parse_config(sim_diag_t *d, sim_cfg_node_t *root, const sim_scenario_t *sc, gw_spec_t *spec)
{
    int errs = d->errors;
    sim_cfg_node_t *cfg = sim_cfg_get(root, "config");
    sim_cfg_node_t *et = sim_cfg_get(root, "etcd");
    int rc = etcd_spec_parse(d, et, &spec->etcd);
    if (rc == SIM_ENOMEM) return rc;
    if (!cfg) {
        if (et) sim_cfg_warn(d, et, "'etcd' is configured but there is no 'config' section: nothing watches it");
        return d->errors == errs ? 0 : SIM_ECONFIG;
    }
    if (!sim_cfg_expect_map(d, cfg, "config")) return SIM_ECONFIG;
    spec->has_config = true;
    sim_cfg_string(d, cfg, "prefix", 0, "/config/rag/", &spec->prefix);
    int mode = GW_CLIENT_SHARED;
    sim_cfg_enum(d, cfg, "watch_client", 0, client_modes, mode, &mode);
    spec->client_mode = (gw_client_mode_t)mode;
    sim_cfg_bool(d, cfg, "watch_per_request", 0, false, &spec->watch_per_request);
    sim_cfg_bool(d, cfg, "session_per_client", 0, false, &spec->session_per_client);
    if (spec->watch_per_request && spec->client_mode != GW_CLIENT_PER_WATCH)
        sim_cfg_error(d, sim_cfg_get(cfg, "watch_per_request"),
                      "'watch_per_request' opens a client per watch: it needs 'watch_client: per_watch'");
    spec->reload_cpu = 40 * SIM_MS;
    spec->reload_mem = 64LL << 20;
    sim_cfg_node_t *rl = sim_cfg_get(cfg, "reload");
    if (rl && sim_cfg_expect_map(d, rl, "reload")) {
        sim_cfg_duration(d, rl, "cpu", 0, spec->reload_cpu, &spec->reload_cpu);
        sim_cfg_size(d, rl, "memory", 0, spec->reload_mem, &spec->reload_mem);
    }
    sim_cfg_node_t *w = sim_cfg_get(cfg, "watch");
    if (w && sim_cfg_expect_map(d, w, "watch")) {
        sim_cfg_node_t *b = sim_cfg_get(w, "batch");
        if (b && sim_cfg_expect_map(d, b, "batch")) {
            spec->batch_window = 50 * SIM_MS;   /* the article's 50 ms / 32 events */
            spec->batch_max = 32;
            sim_cfg_duration(d, b, "window", 0, spec->batch_window, &spec->batch_window);
            sim_cfg_int(d, b, "max_events", 0, 1, 1000000, spec->batch_max, &spec->batch_max);
        }
        sim_cfg_bool(d, w, "coalesce", 0, false, &spec->coalesce);
        sim_cfg_bool(d, w, "version_gate", 0, false, &spec->version_gate);
        sim_cfg_bool(d, w, "resume", 0, false, &spec->resume);
    }
    /* gRPC's connection backoff starts at 1 s (grpc-go backoff.DefaultConfig
     * BaseDelay); the model retries at that fixed period, without growth or
     * jitter, so that every replica's schedule is the same. */
    sim_cfg_duration(d, cfg, "reconnect_interval", SIM_CFG_POSITIVE, SIM_SEC, &spec->reconnect_interval);
    sim_cfg_node_t *pushes = sim_cfg_get(cfg, "pushes");
    if (pushes && sim_cfg_expect_seq(d, pushes, "pushes")) {
        spec->pushes = calloc(pushes->n ? pushes->n : 1, sizeof *spec->pushes);
        if (!spec->pushes) return SIM_ENOMEM;
        for (size_t i = 0; i < pushes->n; i++) {
            sim_cfg_node_t *p = pushes->vals[i];
            if (!sim_cfg_expect_map(d, p, "push")) continue;
            gw_push_t *x = &spec->pushes[spec->npushes++];
            sim_cfg_duration(d, p, "at", SIM_CFG_REQUIRED, 0, &x->at);
            sim_cfg_int(d, p, "keys", SIM_CFG_REQUIRED, 1, 1000000, 1, &x->keys);
            sim_cfg_bool(d, p, "txn", 0, false, &x->txn);
            if (x->at >= sc->duration)
                sim_cfg_warn(d, sim_cfg_get(p, "at"), "the push comes after the end of the run");
        }
    }
    return d->errors == errs ? 0 : SIM_ECONFIG;
}

int gw_spec_parse(sim_diag_t *d, sim_cfg_node_t *root, const sim_scenario_t *sc, gw_spec_t *spec)
{
    int errs = d->errors, rc;
    memset(spec, 0, sizeof *spec);
    spec->replicas = 2;
    spec->cores = 4;
    spec->lb = LB_ROUND_ROBIN;
    spec->req_live = 64 << 10;
    spec->req_alloc = 512 << 10;
    spec->llm_bytes = 128 << 10;
    spec->index_bytes = 0;
    spec->leak_bytes = 1 << 20;
    spec->startup = 5 * SIM_SEC;
    sim_cfg_node_t *g = sim_cfg_get(root, "gateway");
    if (g && !sim_cfg_expect_map(d, g, "gateway")) return SIM_ECONFIG;
    int lb = (int)spec->lb;
    sim_cfg_int(d, g, "replicas", 0, 1, LB_MAX_REPLICAS, spec->replicas, &spec->replicas);
    sim_cfg_int(d, g, "cores", 0, 1, 4096, spec->cores, &spec->cores);
    sim_cfg_enum(d, g, "load_balancer", 0, lb_policy_names, lb, &lb);
    spec->lb = (lb_policy_t)lb;
    sim_cfg_node_t *h = sim_cfg_get(g, "handling"), *pre = NULL, *post = NULL;
    if (h && sim_cfg_expect_map(d, h, "handling")) {
        pre = sim_cfg_get(h, "pre");
        post = sim_cfg_get(h, "post");
    }
    if (pre) sim_dist_parse(d, pre, SIM_DIST_DURATION, &spec->pre);
    else sim_dist_deterministic(&spec->pre, 2e-3);
    if (post) sim_dist_parse(d, post, SIM_DIST_DURATION, &spec->post);
    else sim_dist_deterministic(&spec->post, 1e-3);
    sim_cfg_node_t *m = sim_cfg_get(g, "memory");
    if (m && sim_cfg_expect_map(d, m, "memory")) {
        sim_cfg_size(d, m, "request_live", 0, spec->req_live, &spec->req_live);
        sim_cfg_size(d, m, "request_alloc", 0, spec->req_alloc, &spec->req_alloc);
        sim_cfg_size(d, m, "llm_call", 0, spec->llm_bytes, &spec->llm_bytes);
        sim_cfg_size(d, m, "index", 0, spec->index_bytes, &spec->index_bytes);
    }
    if ((rc = gort_spec_parse(d, sim_cfg_get(g, "runtime"), &spec->rt)) == SIM_ENOMEM) return rc;
    if ((rc = embc_spec_parse(d, sim_cfg_get(g, "embedding_cache"), &spec->cache)) == SIM_ENOMEM) return rc;
    sim_cfg_node_t *lk = sim_cfg_get(g, "leaks");
    if (lk && sim_cfg_expect_map(d, lk, "leaks")) {
        sim_cfg_ratio(d, lk, "blocked_forever", 0, 0, &spec->leak_p);
        sim_cfg_size(d, lk, "captured_bytes", 0, spec->leak_bytes, &spec->leak_bytes);
    }
    sim_cfg_duration(d, g, "startup", 0, spec->startup, &spec->startup);
    backoff_spec_parse(d, sim_cfg_get(g, "restart_backoff"), &spec->backoff);
    hpa_spec_parse(d, sim_cfg_get(g, "autoscale"), spec->replicas, 1u << HPA_CPU | 1u << HPA_INFLIGHT, &spec->autoscale);
    if ((rc = parse_config(d, root, sc, spec)) == SIM_ENOMEM) return rc;
    if (d->errors != errs) return SIM_ECONFIG;
    spec->slots = spec->autoscale.enabled && spec->autoscale.max_replicas > spec->replicas ? spec->autoscale.max_replicas
                                                                                           : spec->replicas;
    spec->stations = calloc((size_t)spec->slots, sizeof *spec->stations);
    if (!spec->stations) return SIM_ENOMEM;
    for (int64_t i = 0; i < spec->slots; i++) {
        stn_spec_t *s = &spec->stations[i];
        s->name = "gateway";
        s->replicated = true;
        s->replica = (int)i;
        s->servers = spec->cores;
        s->queue_limit = INT64_MAX;
        sim_dist_deterministic(&s->service, 0);
    }
    return 0;
}

void gw_spec_fini(gw_spec_t *spec)
{
    sim_dist_fini(&spec->pre);
    sim_dist_fini(&spec->post);
    free(spec->stations);
    free(spec->pushes);
    etcd_spec_fini(&spec->etcd);
    memset(spec, 0, sizeof *spec);
}

/* ---- CPU -------------------------------------------------------------------------- */

static void on_cpu_done(sim_t *sim, void *owner, stn_job_t *job, stn_outcome_t oc)
{
    (void)sim;
    gw_t *g = owner;
    if (((gw_job_t *)job)->kind == GW_JOB_RELOAD)
        gw_reload_done(g, job, oc);
    else
        g->hooks.request_cpu_done(g->hooks.ctx, job, oc);
}

/* The CPU station's start hook: a segment runs at the CPU's speed when it
 * starts (a throttle or slowdown that ended while it waited no longer
 * counts). A reload's CPU is booked here, as it starts. */
static sim_time_t on_cpu_start(void *owner, station_t *st, stn_job_t *job, sim_time_t s)
{
    (void)st;
    gw_t *g = owner;
    sim_time_t t = stn_scale(s, 1.0 / g->speed);
    if (((gw_job_t *)job)->kind == GW_JOB_RELOAD) {
        g->reload_cpu_s += sim_time_to_s(t);
        g->win_reload_cpu_s += sim_time_to_s(t);
    }
    return t;
}

void gw_request_cpu(gw_t *g, int r, stn_job_t *job, bool pre)
{
    gw_replica_t *rp = &g->rep[r];
    const sim_dist_t *d = pre ? &g->spec->pre : &g->spec->post;
    int64_t alloc = pre ? g->spec->req_alloc / 2 : g->spec->req_alloc - g->spec->req_alloc / 2;
    /* the CPU and the allocation's costs, slowed by a fractional mark worker; books the allocation */
    double s = gort_work_charged(&rp->rt, sim_dist_sample(d, g->rng_cpu), alloc);
    ((gw_job_t *)job)->kind = GW_JOB_REQUEST;
    job->demand = sim_time_from_s(s);   /* nominal: the CPU's speed applies when it starts */
    stn_submit(&rp->cpu, job);    /* unbounded queue: always accepted */
}

/* ---- requests ----------------------------------------------------------------------- */

int gw_pick(gw_t *g) { return lb_pick(&g->lb); }

void gw_request_begin(gw_t *g, int r)
{
    gw_replica_t *rp = &g->rep[r];
    lb_begin(&g->lb, r);
    gort_goroutines(&rp->rt, 1);
    gort_retain(&rp->rt, g->spec->req_live);
}

static void process_stop(gw_t *g, int r, const char *why);

void gw_request_end(gw_t *g, int r, uint32_t gen)
{
    gw_replica_t *rp = &g->rep[r];
    lb_end(&g->lb, r);
    if (rp->draining && g->lb.outstanding[r] == 0) process_stop(g, r, "scaled down: drained, terminated");
    if (rp->gen != gen) return;
    gort_release(&rp->rt, g->spec->req_live);
    gort_goroutines(&rp->rt, -1);
}

void gw_llm_call_begin(gw_t *g, int r)
{
    gw_replica_t *rp = &g->rep[r];
    gort_goroutines(&rp->rt, 1);
    gort_retain(&rp->rt, g->spec->llm_bytes);
}

void gw_llm_call_end(gw_t *g, int r, uint32_t gen)
{
    gw_replica_t *rp = &g->rep[r];
    if (rp->gen != gen) return;
    gort_release(&rp->rt, g->spec->llm_bytes);
    gort_goroutines(&rp->rt, -1);
}

void gw_deadline(gw_t *g, int r, double u)
{
    gw_replica_t *rp = &g->rep[r];
    if (!(u < g->spec->leak_p)) return;
    rp->leaked++;
    g->leaked_total++;
    gort_goroutines(&rp->rt, 1);
    gort_retain(&rp->rt, g->spec->leak_bytes);
}

bool gw_cache_lookup(gw_t *g, int r, uint64_t key)
{
    g->cache_lookups++;
    g->win_lookups++;
    bool hit = embc_lookup(&g->rep[r].cache, key, sim_now(g->sim));
    g->cache_hits += hit;
    g->win_hits += hit;
    return hit;
}

void gw_cache_insert(gw_t *g, int r, uint64_t key)
{
    if (embc_insert(&g->rep[r].cache, key, sim_now(g->sim)) != 0) {
        g->sim->error = SIM_ENOMEM;
        sim_stop(g->sim);
    }
}

/* The cache's memory: an index version is pointer-bearing (a Go graph of
 * nodes, as the in-process index); an entry of `holds: vectors` is a
 * pointer-free []float32 and a scanned map entry (key, slice header),
 * of `holds: objects` scanned throughout. */
static void cache_mem(void *ctx, int64_t delta, bool index)
{
    gw_replica_t *rp = ctx;
    int64_t b = delta > 0 ? delta : -delta;
    int64_t noscan = 0;
    if (!index && rp->cache.spec->holds == EMBC_HOLDS_VECTORS)
        noscan = b > EMBC_ENTRY_POINTER_BYTES ? b - EMBC_ENTRY_POINTER_BYTES : 0;
    if (delta > 0) {
        if (noscan) gort_retain_noscan(&rp->rt, noscan);
        gort_retain(&rp->rt, b - noscan);
    } else {
        if (noscan) gort_release_noscan(&rp->rt, noscan);
        gort_release(&rp->rt, b - noscan);
    }
}

/* ---- life of a replica ------------------------------------------------------------------ */

static void process_start(gw_t *g, int r)
{
    gw_replica_t *rp = &g->rep[r];
    gort_restart(&rp->rt);
    embc_clear(&rp->cache);
    if (g->spec->index_bytes) gort_retain(&rp->rt, g->spec->index_bytes);   /* load the in-process index */
    gw_open_watch(g, r);
}

static void ready_event(sim_t *sim, void *obj, uint64_t arg)
{
    gw_t *g = obj;
    int r = (int)arg;
    gw_replica_t *rp = &g->rep[r];
    rp->restart = (sim_timer_t){0, 0};
    rp->starting = false;
    rp->up = true;
    rp->ready_at = sim_now(sim);
    lb_set_up(&g->lb, r, true);
    sim_log_event(sim, "replica_ready", rp->cpu.source, 0, "ready");
}

static void restart_event(sim_t *sim, void *obj, uint64_t arg)
{
    gw_t *g = obj;
    int r = (int)arg;
    gw_replica_t *rp = &g->rep[r];
    backoff_on_restart(&rp->backoff, sim_now(sim));
    rp->starting = true;
    process_start(g, r);
    sim_log_event(sim, "replica_restarted", rp->cpu.source, 0, "process restarted with an empty cache");
    rp->restart = sim_schedule_in(sim, g->spec->startup, ready_event, g, (uint64_t)r);
}

static void teardown(gw_t *g, int r);

void gw_crash(gw_t *g, int r, const char *kind, const char *detail)
{
    gw_replica_t *rp = &g->rep[r];
    if (!rp->up && !rp->starting) return;
    sim_t *sim = g->sim;
    char buf[224];
    sim_time_t delay = backoff_on_crash(&rp->backoff, &g->spec->backoff, sim_now(sim));
    if (delay == 0) snprintf(buf, sizeof buf, "%s; restarted at once (no back-off before a first crash)", detail);
    else snprintf(buf, sizeof buf, "%s; restart in %.3g s (CrashLoopBackOff)", detail, sim_time_to_s(delay));
    sim_log_event(sim, kind, rp->cpu.source, (double)gort_rss(&rp->rt), buf);
    if (!strcmp(kind, "oom_kill")) {
        g->oom_kills++;
        g->oom_kills_total++;
    }
    teardown(g, r);
    g->hooks.fail_all(g->hooks.ctx, r);          /* every request on it fails */
    rp->restart = sim_schedule_in(sim, delay, restart_event, g, (uint64_t)r);
}

/* The process of replica r ends: out of the load balancer, its books
 * closed, its connections and CPU work gone (a crash, or the end of a
 * replica scaled away). */
static void teardown(gw_t *g, int r)
{
    gw_replica_t *rp = &g->rep[r];
    sim_t *sim = g->sim;
    sim_cancel(sim, &rp->restart);
    rp->up = rp->starting = false;
    lb_set_up(&g->lb, r, false);
    rp->gen++;                                   /* books of the dead process are closed */
    gort_kill(&rp->rt);
    /* the process's connections close with it; its sessions' leases, if any, expire later */
    for (gw_watch_t *w = rp->watches, *next; w; w = next) {
        next = w->next;
        if (w->client >= 0) etcd_client_close(g->etcd, w->client);
        w->next = g->watch_free;
        g->watch_free = w;
    }
    rp->watches = rp->shared = NULL;
    rp->nwatches = rp->nbroken = 0;
    sim_cancel(sim, &rp->reconnect);
    rp->leaked = 0;
    rp->reloads_running = 0;
    rp->batch_events = 0;
    sim_cancel(sim, &rp->batch_timer);
    stn_abort_all(&rp->cpu);                     /* CPU segments die with the process */
}

static void process_stop(gw_t *g, int r, const char *why)
{
    g->rep[r].draining = false;
    teardown(g, r);
    sim_log_event(g->sim, "replica_removed", g->rep[r].cpu.source, 0, why);
}

/* The kernel's OOM killer acts right after the allocation that crossed the
 * limit, not inside it: a zero-delay event, so that no caller of the
 * runtime is re-entered by the kill (the allocating request may be the
 * first to fail). */
static void oom_event(sim_t *sim, void *obj, uint64_t arg)
{
    (void)sim;
    gw_replica_t *rp = obj;
    gw_t *g = (gw_t *)rp->cpu.owner;
    if (rp->gen != (uint32_t)arg || (!rp->up && !rp->starting)) return;
    char detail[160];
    snprintf(detail, sizeof detail, "RSS %.3g GiB > limit %.3g GiB (heap %.3g GiB, %lld goroutines)",
             (double)gort_rss(&rp->rt) / (1 << 30), (double)g->spec->rt.memory_limit / (1 << 30),
             (double)rp->rt.heap / (1 << 30), (long long)rp->rt.goroutines);
    gw_crash(g, (int)(rp - g->rep), "oom_kill", detail);
}

static void on_oom(sim_t *sim, void *ctx)
{
    gw_replica_t *rp = ctx;
    sim_schedule_in(sim, 0, oom_event, rp, rp->gen);
}

/* ---- autoscaling (models/components/replicas/hpa.h) ------------------------------------------ */

static int pool_state(void *ctx, int r)
{
    const gw_replica_t *rp = &((gw_t *)ctx)->rep[r];
    if (!rp->active) return rp->draining ? HPA_SLOT_GONE : HPA_SLOT_EMPTY;
    return rp->up ? HPA_SLOT_READY : HPA_SLOT_STARTING;
}

static void pool_start(void *ctx, int r)
{
    gw_t *g = ctx;
    gw_replica_t *rp = &g->rep[r];
    rp->active = rp->starting = true;
    backoff_init(&rp->backoff, &g->spec->backoff);
    process_start(g, r);
    rp->restart = sim_schedule_in(g->sim, g->spec->startup, ready_event, g, (uint64_t)r);
}

static void pool_stop(void *ctx, int r, bool ready)
{
    gw_t *g = ctx;
    gw_replica_t *rp = &g->rep[r];
    rp->active = false;
    if (!ready) {   /* starting, or down after a crash */
        bool alive = rp->starting;
        sim_cancel(g->sim, &rp->restart);
        if (alive) teardown(g, r);
        sim_log_event(g->sim, "replica_removed", rp->cpu.source, 0, "scaled down before it was ready");
        return;
    }
    rp->up = false;
    lb_set_up(&g->lb, r, false);
    rp->draining = true;
    if (g->lb.outstanding[r] == 0) process_stop(g, r, "scaled down: drained, terminated");
}

int64_t gw_autoscale_sync(gw_t *g)
{
    static const char *const what[] = {"CPU", "requests in flight", "requests waiting", "KV"};
    const gw_spec_t *sp = g->spec;
    sim_time_t now = sim_now(g->sim);
    int64_t ready = 0;
    double sum = 0;
    for (int r = 0; r < sp->slots; r++) {
        gw_replica_t *rp = &g->rep[r];
        if (!rp->active || !rp->up) continue;
        ready++;
        sum += sp->autoscale.metric == HPA_INFLIGHT
                   ? (double)g->lb.outstanding[r]
                   : hpa_busy_ratio(&rp->cpu.busy_avg, &rp->busy_mark, g->last_sync > rp->ready_at ? g->last_sync : rp->ready_at,
                                    now, (double)sp->cores);
    }
    for (int r = 0; r < sp->slots; r++) hpa_busy_mark(&g->rep[r].cpu.busy_avg, &g->rep[r].busy_mark, now);
    g->last_sync = now;
    hpa_pool_t pool = {"gateway", what, (int)sp->slots, pool_state, pool_start, pool_stop, g};
    g->want = hpa_pool_scale(&g->hpa, &pool, g->sim, g->want, ready, sum);
    return g->want;
}

static void sync_event(sim_t *sim, void *obj, uint64_t arg)
{
    (void)arg;
    gw_t *g = obj;
    gw_autoscale_sync(g);
    sim_schedule_in(sim, g->spec->autoscale.sync, sync_event, g, 0);
}

/* ---- metrics ---------------------------------------------------------------------------- */

enum {
    C_GOROUTINES, C_HEAP, C_RSS, C_GC, C_LEAKED, C_CACHE_N, C_CACHE_B, C_HIT, C_RELOADS, C_RELOAD_CPU, C_OOM, C_PINNED,
    C_HEAP_PEAK,
    C_BREAKS, C_RELISTS, C_RESUMES, C_COMPACTED,   /* with `config` only */
};

static void sampler(sim_t *sim, void *ctx, sim_time_t dt)
{
    gw_t *g = ctx;
    int64_t gor = 0, heap = 0, heap_peak = 0, rss = 0, leaked = 0, entries = 0, bytes = 0, pinned = 0;
    double gc = 0;
    for (int64_t r = 0; r < g->spec->slots; r++) {
        gw_replica_t *rp = &g->rep[r];
        bool alive = rp->up || rp->starting;
        if (!alive) continue;
        gor += rp->rt.goroutines;
        heap += rp->rt.heap;
        heap_peak += gort_win_heap_peak(&rp->rt);
        int64_t x = gort_rss(&rp->rt);
        rss = x > rss ? x : rss;
        leaked += rp->leaked;
        entries += embc_entries(&rp->cache);
        bytes += embc_bytes(&rp->cache);
        pinned += embc_pinned_bytes(&rp->cache);
    }
    for (int64_t r = 0; r < g->spec->slots; r++) gc += gort_win_gc_cpu_seconds(&g->rep[r].rt);
    double secs = sim_time_to_s(dt);
    sim_series_set(sim, g->col[C_GOROUTINES], (double)gor);
    sim_series_set(sim, g->col[C_HEAP], (double)heap);
    sim_series_set(sim, g->col[C_HEAP_PEAK], (double)heap_peak);
    sim_series_set(sim, g->col[C_RSS], (double)rss);
    sim_series_set(sim, g->col[C_GC], gc / (secs * (double)(g->spec->cores * g->want)));
    sim_series_set(sim, g->col[C_LEAKED], (double)leaked);
    sim_series_set(sim, g->col[C_CACHE_N], (double)entries);
    sim_series_set(sim, g->col[C_CACHE_B], (double)bytes);
    sim_series_set(sim, g->col[C_HIT], g->win_lookups ? (double)g->win_hits / (double)g->win_lookups : NAN);
    sim_series_set(sim, g->col[C_RELOADS], (double)g->reloads_started);
    sim_series_set(sim, g->col[C_RELOAD_CPU], g->win_reload_cpu_s / (secs * (double)(g->spec->cores * g->want)));
    if (g->col_desired >= 0) sim_series_set(sim, g->col_desired, (double)g->want);
    sim_series_set(sim, g->col[C_OOM], (double)g->oom_kills_total);
    sim_series_set(sim, g->col[C_PINNED], (double)pinned);
    if (g->etcd) {
        sim_series_set(sim, g->col[C_BREAKS], (double)g->watch_breaks);
        sim_series_set(sim, g->col[C_RELISTS], (double)g->watch_relists);
        sim_series_set(sim, g->col[C_RESUMES], (double)g->watch_resumes);
        sim_series_set(sim, g->col[C_COMPACTED], (double)g->watch_compacted);
    }
    g->win_reloads = g->win_hits = g->win_lookups = 0;
    g->win_reload_cpu_s = 0;
}

static void warmup(sim_t *sim, void *ctx)
{
    (void)sim;
    gw_t *g = ctx;
    g->oom_kills = g->reloads = g->leaked_total = g->watch_failures = g->cache_hits = g->cache_lookups = 0;
    g->reload_cpu_s = 0;
}

int gw_init(gw_t *g, sim_t *sim, const gw_spec_t *spec, gw_hooks_t hooks)
{
    memset(g, 0, sizeof *g);
    g->sim = sim;
    g->spec = spec;
    g->hooks = hooks;
    g->speed = 1;
    int n = (int)spec->slots;   /* every loop over replicas covers the slots */
    g->want = spec->replicas;
    g->col_desired = -1;
    g->rng_cpu = sim_stream(sim, "gateway/handling");
    if (!g->rng_cpu) return SIM_ENOMEM;
    static const struct { const char *name, *unit, *help; } cols[] = {
        {"goroutines", "1", "goroutines of all gateway replicas: requests held, LLM calls in flight, reloads, leaked"},
        {"heap_inuse_bytes", "bytes", "Go heap in use (live + garbage not yet collected), summed over gateway replicas"},
        {"rss_bytes", "bytes", "resident memory of the largest gateway replica: heap + stacks + runtime"},
        {"gc_cpu_ratio", "1", "GC CPU (mark workers and assists) / all gateway cores over the interval"},
        {"goroutines_leaked", "1", "goroutines blocked forever, all gateway replicas"},
        {"embedding_cache_entries", "1", "entries in the gateway embedding caches"},
        {"embedding_cache_bytes", "bytes", "bytes held by the gateway embedding caches"},
        {"embedding_cache_hit_ratio", "1", "cache hits / lookups in the interval"},
        {"config_reloads_total", "1", "config reloads started since the start of the run (each costs CPU, a goroutine and a new index)"},
        {"config_reload_cpu_ratio", "1", "CPU of reloads started in the interval / all gateway cores"},
        {"oom_kills_total{component=gateway}", "1", "gateway OOM kills since the start of the run"},
        {"index_pinned_bytes", "bytes", "old in-process index versions kept resident by cache entries"},
        {"heap_peak_bytes", "bytes", "largest Go heap of each gateway replica in the interval, summed over replicas"},
        {"config_watch_breaks_total", "1", "config watches broken by an etcd partition since the start of the run"},
        {"config_watch_relists_total", "1", "re-lists (Range + one full reload + watch from its revision + 1) since the start of the run"},
        {"config_watch_resumes_total", "1", "broken watches resumed from lastRev+1 (no re-list) since the start of the run"},
        {"config_watch_compacted_total", "1", "resumes refused with ErrCompacted (then re-listed) since the start of the run"},
    };
    int ncols = spec->has_config ? C_COMPACTED + 1 : C_HEAP_PEAK + 1;
    for (int i = 0; i < ncols; i++)
        if ((g->col[i] = sim_series_add(sim, cols[i].name, cols[i].unit, cols[i].help)) < 0) return SIM_ENOMEM;
    if (sim_add_sampler(sim, sampler, g) || sim_add_warmup_hook(sim, warmup, g)) return SIM_ENOMEM;
    if (lb_init(&g->lb, sim, spec->lb, n, "lb/gateway")) return SIM_ENOMEM;
    if (spec->has_config && !(g->etcd = etcd_create(sim, &spec->etcd))) return SIM_ENOMEM;
    g->rep = calloc((size_t)n, sizeof *g->rep);
    if (!g->rep) return SIM_ENOMEM;
    for (int r = 0; r < n; r++) {
        gw_replica_t *rp = &g->rep[r];
        if (stn_init(&rp->cpu, sim, &spec->stations[r], on_cpu_done, g)) return SIM_ENOMEM;
        stn_set_start_hook(&rp->cpu, on_cpu_start);
        char label[64];
        snprintf(label, sizeof label, "component=gateway,replica=%d", r);
        if (gort_init(&rp->rt, sim, &spec->rt, &rp->cpu, label, on_oom, rp)) return SIM_ENOMEM;
        if (embc_init(&rp->cache, &spec->cache, spec->index_bytes, cache_mem, rp)) return SIM_ENOMEM;
        backoff_init(&rp->backoff, &spec->backoff);
        if (r >= spec->replicas) {   /* an empty slot (autoscaling) */
            lb_set_up(&g->lb, r, false);
            continue;
        }
        rp->up = rp->active = true;
        process_start(g, r);
    }
    if (spec->autoscale.enabled) {
        hpa_init(&g->hpa, &spec->autoscale);
        g->col_desired = sim_series_add(sim, "gateway_replicas_desired", "1",
                                        "replicas the autoscaler wants (ready or starting)");
        if (g->col_desired < 0) return SIM_ENOMEM;
        sim_schedule_in(sim, spec->autoscale.sync, sync_event, g, 0);
    }
    g->push_version_rev = calloc(spec->npushes ? spec->npushes : 1, sizeof *g->push_version_rev);
    if (!g->push_version_rev) return SIM_ENOMEM;
    for (size_t i = 0; i < spec->npushes; i++) {
        g->push_version_rev[i] = -1;
        sim_schedule_at(sim, spec->pushes[i].at, gw_push_event, g, i);
    }
    return sim_error(sim);
}

void gw_fini(gw_t *g)
{
    if (g->rep)
        for (int64_t r = 0; r < g->spec->slots; r++) {
            gort_fini(&g->rep[r].rt);
            embc_fini(&g->rep[r].cache);
            stn_fini(&g->rep[r].cpu);
        }
    free(g->rep);
    for (size_t i = 0; i < g->nreload_slabs; i++) free(g->reload_slabs[i]);
    free(g->reload_slabs);
    for (size_t i = 0; i < g->nwatch_slabs; i++) free(g->watch_slabs[i]);
    free(g->watch_slabs);
    free(g->push_version_rev);
    etcd_destroy(g->etcd);
    lb_fini(&g->lb);
}
