/* etcd: the spec, creation, statistics and series, and the store: the
 * prefix table, writes (puts and transactions) and their history of
 * revisions, and ranges (reads of the store). The model is described in
 * etcd.h, its pieces and their shared state in etcd_internal.h. Writes and
 * ranges are CPU jobs: this file queues them (cpu.c) and the CPU queue
 * calls back etcd_range_done. */
#include "models/components/etcd/etcd.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "models/components/etcd/etcd_internal.h"
#include "sim/error.h"
#include "sim/stats.h"

#define ETCD_MAX_CORES 4096
#define ETCD_MIN_TTL (2 * SIM_SEC)              /* etcd's minimum lease TTL */

/* ---- spec ---------------------------------------------------------------- */

void etcd_spec_default(etcd_spec_t *s)
{
    memset(s, 0, sizeof *s);
    s->cores = 2;
    sim_dist_deterministic(&s->propagation, 0.002);
    s->cost_put = 100 * SIM_US;
    s->cost_event = 20 * SIM_US;
    s->cost_grant = 50 * SIM_US;
    s->cost_keepalive = 10 * SIM_US;
    s->cost_connect = 200 * SIM_US;
    s->cost_range = SIM_MS;
    s->cost_range_key = 5 * SIM_US;
    s->stream_buffer = 128;
    s->victim_retry = 10 * SIM_MS;
    s->lease_quota = INT64_MAX;                 /* etcd has no lease limit */
    s->lease_ttl = 60 * SIM_SEC;
    s->compaction_retention = INT64_MAX;
    s->mem_base = 100LL << 20;
    s->mem_per_connection = 10LL << 10;
    s->mem_per_stream = 10LL << 10;
    s->mem_per_watcher = 1LL << 10;
}

int etcd_spec_parse(sim_diag_t *d, sim_cfg_node_t *map, etcd_spec_t *spec)
{
    int errs = d->errors;
    etcd_spec_default(spec);
    if (!map || sim_cfg_is_null(map)) return 0;   /* "etcd:" alone: all defaults */
    if (!sim_cfg_expect_map(d, map, "etcd")) return SIM_ECONFIG;

    sim_cfg_int(d, map, "cores", 0, 1, ETCD_MAX_CORES, 2, &spec->cores);
    sim_cfg_node_t *prop = sim_cfg_get(map, "propagation");
    if (prop) {
        sim_dist_t parsed;
        if (sim_dist_parse(d, prop, SIM_DIST_DURATION, &parsed) == 0) {
            sim_dist_fini(&spec->propagation);
            spec->propagation = parsed;
        }
    }
    sim_cfg_node_t *cost = sim_cfg_get(map, "cost");
    if (cost && !sim_cfg_is_null(cost) && sim_cfg_expect_map(d, cost, "etcd CPU costs")) {
        sim_cfg_duration(d, cost, "put", 0, 100 * SIM_US, &spec->cost_put);
        sim_cfg_duration(d, cost, "event", 0, 20 * SIM_US, &spec->cost_event);
        sim_cfg_duration(d, cost, "grant", 0, 50 * SIM_US, &spec->cost_grant);
        sim_cfg_duration(d, cost, "keepalive", 0, 10 * SIM_US, &spec->cost_keepalive);
        sim_cfg_duration(d, cost, "connect", 0, 200 * SIM_US, &spec->cost_connect);
        sim_cfg_duration(d, cost, "range", 0, SIM_MS, &spec->cost_range);
        sim_cfg_duration(d, cost, "range_key", 0, 5 * SIM_US, &spec->cost_range_key);
    }
    sim_cfg_int(d, map, "stream_buffer", 0, 1, INT32_MAX, 128, &spec->stream_buffer);
    sim_cfg_duration(d, map, "victim_retry", SIM_CFG_POSITIVE, 10 * SIM_MS, &spec->victim_retry);
    sim_cfg_int(d, map, "lease_quota", SIM_CFG_UNBOUNDED, 0, INT64_MAX, INT64_MAX, &spec->lease_quota);
    sim_cfg_node_t *ttl = sim_cfg_get(map, "lease_ttl");
    if (ttl && sim_cfg_duration(d, map, "lease_ttl", 0, 60 * SIM_SEC, &spec->lease_ttl) == 0) {
        if (spec->lease_ttl < ETCD_MIN_TTL) {
            char path[128];
            sim_cfg_path(ttl, path, sizeof path);
            sim_cfg_error(d, ttl, "'%s': etcd's minimum lease TTL is 2s, got '%s'", path, ttl->text);
            spec->lease_ttl = 60 * SIM_SEC;
        }
    }
    /* etcd's --auto-compaction-retention=0 turns compaction off; here that is
     * `unbounded`, and a retention must keep at least one revision. */
    sim_cfg_int(d, map, "compaction_retention", SIM_CFG_UNBOUNDED, 1, INT64_MAX, INT64_MAX,
                &spec->compaction_retention);
    sim_cfg_node_t *mem = sim_cfg_get(map, "memory");
    if (mem && !sim_cfg_is_null(mem) && sim_cfg_expect_map(d, mem, "etcd memory")) {
        sim_cfg_size(d, mem, "base", 0, 100LL << 20, &spec->mem_base);
        sim_cfg_size(d, mem, "per_connection", 0, 10LL << 10, &spec->mem_per_connection);
        sim_cfg_size(d, mem, "per_stream", 0, 10LL << 10, &spec->mem_per_stream);
        sim_cfg_size(d, mem, "per_watcher", 0, 1LL << 10, &spec->mem_per_watcher);
    }
    return d->errors == errs ? 0 : SIM_ECONFIG;
}

void etcd_spec_fini(etcd_spec_t *spec) { sim_dist_fini(&spec->propagation); }

/* ---- helpers ------------------------------------------------------------- */

/* Grow an array to hold `need` elements (doubling); 0 or SIM_ENOMEM. */
int etcd_grow(void **p, int *cap, int need, size_t elsize)
{
    if (need <= *cap) return 0;
    int nc = *cap ? *cap : 16;
    while (nc < need) {
        if (nc > INT32_MAX / 2) return SIM_ENOMEM;
        nc *= 2;
    }
    void *q = realloc(*p, (size_t)nc * elsize);
    if (!q) return SIM_ENOMEM;
    *p = q;
    *cap = nc;
    return 0;
}

void etcd_oom(etcd_t *e)
{
    e->sim->error = SIM_ENOMEM;
    sim_stop(e->sim);
}

/* ---- the store: prefixes, puts, history ---------------------------------- */

/* Index of `s` in the prefix table, added (copied) if new; -1 on OOM.
 * O(prefixes): called per put and per watch, never per event. */
int etcd_prefix_intern(etcd_t *e, const char *s)
{
    for (int i = 0; i < e->nprefixes; i++)
        if (strcmp(e->prefixes[i].s, s) == 0) return i;
    if (etcd_grow((void **)&e->prefixes, &e->prefixes_cap, e->nprefixes + 1, sizeof *e->prefixes)) return -1;
    char *copy = strdup(s);
    if (!copy) return -1;
    etcd_prefix_t *p = &e->prefixes[e->nprefixes];
    p->s = copy;
    p->len = strlen(s);
    p->head = p->tail = -1;
    p->nwatchers = 0;
    p->maxkeys = 0;
    return e->nprefixes++;
}

int64_t etcd_revision(const etcd_t *e) { return e->applied; }

int64_t etcd_compacted_revision(const etcd_t *e)
{
    int64_t n = e->spec->compaction_retention;
    return e->applied > n ? e->applied - n : 0;
}

/* A write of `nrev` revisions of `per` keys each under `prefix` (a put of
 * n keys: n x 1; a transaction: 1 x n): one history record, one CPU job per
 * revision of per x cost.put. Returns the first revision. */
static int64_t write_keys(etcd_t *e, const char *prefix, int64_t nrev, int32_t per)
{
    int pid = etcd_prefix_intern(e, prefix);
    if (pid < 0 || etcd_grow((void **)&e->hist, &e->hist_cap, e->nhist + 1, sizeof *e->hist)) {
        etcd_oom(e);
        return SIM_ENOMEM;
    }
    int64_t first = e->revision + 1;
    e->hist[e->nhist++] = (etcd_hist_t){.first = first, .n = nrev, .per = per, .prefix = pid};
    int64_t nkeys = nrev * per;
    if (nkeys > e->prefixes[pid].maxkeys) e->prefixes[pid].maxkeys = nkeys;
    for (int64_t k = 0; k < nrev; k++) {
        etcd_msg_t *m = etcd_msg_alloc(e);
        if (!m) {
            etcd_oom(e);
            break;
        }
        m->kind = MSG_PUT;
        m->ref = pid;
        m->revision = ++e->revision;
        m->key = (int32_t)(k * per);
        m->nev = per;
        m->demand = per * e->spec->cost_put;
        etcd_cpu_enqueue(e, m);
    }
    return first;
}

int64_t etcd_put(etcd_t *e, const char *prefix, int64_t nkeys)
{
    if (!prefix || nkeys < 1 || nkeys > INT32_MAX) return SIM_EINVAL;
    return write_keys(e, prefix, nkeys, 1);
}

int64_t etcd_txn(etcd_t *e, const char *prefix, int64_t nkeys)
{
    if (!prefix || nkeys < 1 || nkeys > INT32_MAX) return SIM_EINVAL;
    return write_keys(e, prefix, 1, (int32_t)nkeys);
}

/* ---- ranges -------------------------------------------------------------- */

int etcd_range(etcd_t *e, int cid, const char *prefix, etcd_range_fn cb, void *ctx)
{
    if (!valid_client(e, cid) || !e->clients[cid].open || !prefix || !cb) return -1;
    if (e->partitioned) {
        e->n.partition_failures++;
        return ETCD_ERR_UNAVAILABLE;
    }
    /* the distinct keys under the prefix: keys 0..maxkeys-1 of every put
     * prefix it covers */
    etcd_prefix_t want = {.s = (char *)prefix, .len = strlen(prefix)};
    int64_t keys = 0;
    for (int i = 0; i < e->nprefixes; i++)
        if (prefix_covers(&want, e->prefixes[i].s, e->prefixes[i].len)) keys += e->prefixes[i].maxkeys;
    int rid = e->rfree;
    if (rid < 0) {
        if (etcd_grow((void **)&e->ranges, &e->ranges_cap, e->nranges + 1, sizeof *e->ranges)) {
            etcd_oom(e);
            return SIM_ENOMEM;
        }
        rid = e->nranges++;
    } else {
        e->rfree = e->ranges[rid].next;
    }
    etcd_msg_t *m = etcd_msg_alloc(e);
    if (!m) {
        e->ranges[rid].next = e->rfree;
        e->rfree = rid;
        etcd_oom(e);
        return SIM_ENOMEM;
    }
    e->ranges[rid] = (etcd_range_t){.cb = cb, .ctx = ctx, .client = cid, .next = -1, .busy = true, .live = true};
    m->kind = MSG_RANGE;
    m->ref = rid;
    m->demand = e->spec->cost_range + keys * e->spec->cost_range_key;
    etcd_cpu_enqueue(e, m);
    return 0;
}

/* A Range's CPU job ended: the response carries the store revision now,
 * unless a partition cut it (its callback has been called) or its client
 * is closed (nobody to answer). */
void etcd_range_done(etcd_t *e, int rid)
{
    etcd_range_t *x = &e->ranges[rid];
    etcd_range_fn cb = x->cb;
    void *ctx = x->ctx;
    int cid = x->client;
    bool deliver = x->live && e->clients[cid].open;
    x->busy = false;
    x->next = e->rfree;
    e->rfree = rid;
    e->n.ranges++;
    if (deliver) cb(e->sim, ctx, cid, e->applied);
}

/* ---- create, statistics -------------------------------------------------- */

enum { COL_REV, COL_LEASES, COL_WATCHERS, COL_CONNS, COL_EPS, COL_SLOW, COL_CPU, COL_MEM, COL_FAIL };

/* A client's watch stream and, if it keeps a lease alive, its keepalive
 * stream are both gRPC streams of the server: per_stream each. */
static int64_t memory_bytes(const etcd_t *e)
{
    const etcd_spec_t *s = e->spec;
    return s->mem_base + e->n.connections * s->mem_per_connection +
           (e->n.streams + e->n.keepalive_streams) * s->mem_per_stream + e->n.watchers * s->mem_per_watcher;
}

static void sampler(sim_t *sim, void *ctx, sim_time_t dt)
{
    etcd_t *e = ctx;
    double secs = sim_time_to_s(dt);
    sim_series_set(sim, e->col[COL_REV], (double)e->applied);
    sim_series_set(sim, e->col[COL_LEASES], (double)e->n.leases_in_use);
    sim_series_set(sim, e->col[COL_WATCHERS], (double)e->n.watchers);
    sim_series_set(sim, e->col[COL_CONNS], (double)e->n.connections);
    sim_series_set(sim, e->col[COL_EPS], secs > 0 ? (double)e->win_delivered / secs : NAN);
    sim_series_set(sim, e->col[COL_SLOW], (double)e->n.slow_watchers);
    sim_series_set(sim, e->col[COL_CPU], sim_tavg_mean(&e->win_busy, sim_now(sim)) / (double)e->spec->cores);
    sim_series_set(sim, e->col[COL_MEM], (double)memory_bytes(e));
    sim_series_set(sim, e->col[COL_FAIL], (double)e->n.grant_failures);
    e->win_delivered = 0;
    sim_tavg_restart(&e->win_busy, sim_now(sim));
}

static void warmup(sim_t *sim, void *ctx)
{
    etcd_t *e = ctx;
    sim_tavg_restart(&e->busy_avg, sim_now(sim));
}

etcd_t *etcd_create(sim_t *sim, const etcd_spec_t *spec)
{
    etcd_t *e = calloc(1, sizeof *e);
    if (!e) return NULL;
    e->sim = sim;
    e->spec = spec;
    e->vhead = e->vtail = -1;
    e->rfree = -1;
    e->ka_period = spec->lease_ttl / 3;
    e->prop_const = sim_dist_variance(&spec->propagation) == 0
                        ? sim_time_from_s(sim_dist_mean(&spec->propagation))
                        : -1;
    e->rng_prop = sim_stream(sim, "etcd/propagation");
    if (!e->rng_prop) goto fail;

    static const struct { const char *name, *unit, *help; } cols[] = {
        {"etcd_revision", "1", "store revision: last revision whose write was applied"},
        {"etcd_leases_in_use", "1", "leases granted and not expired (closed clients' leases included); a watch holds none"},
        {"etcd_watchers", "1", "watchers of open clients"},
        {"etcd_connections", "1", "open client connections"},
        {"etcd_watch_events_per_second", "1/s", "events taken by clients in the interval / interval"},
        {"etcd_slow_watchers", "1", "victim watchers (stream buffer full) at the sample time"},
        {"etcd_cpu_utilization_ratio", "1", "time-averaged busy cores / cores over the interval"},
        {"etcd_memory_bytes", "bytes", "base + connections, watch and keepalive streams, and watchers times their costs"},
        {"etcd_lease_grant_failures_total", "1", "lease grants refused by the quota since the start"},
    };
    for (int i = 0; i < 9; i++) {
        e->col[i] = sim_series_add(sim, cols[i].name, cols[i].unit, cols[i].help);
        if (e->col[i] < 0) goto fail;
    }
    sim_time_t now = sim_now(sim);
    sim_tavg_init(&e->busy_avg, now, 0);
    sim_tavg_init(&e->win_busy, now, 0);
    if (sim_add_sampler(sim, sampler, e) || sim_add_warmup_hook(sim, warmup, e)) goto fail;
    return e;
fail:
    etcd_destroy(e);
    return NULL;
}

size_t etcd_held_bytes(const etcd_t *e)
{
    if (!e) return 0;
    size_t b = sizeof *e + e->nslabs * ETCD_SLAB * sizeof(etcd_msg_t) + e->slabs_cap * sizeof *e->slabs;
    b += (size_t)e->prefixes_cap * sizeof *e->prefixes;
    for (int i = 0; i < e->nprefixes; i++) b += e->prefixes[i].len + 1;
    b += (size_t)e->clients_cap * sizeof *e->clients + (size_t)e->watchers_cap * sizeof *e->watchers;
    b += (size_t)e->hist_cap * sizeof *e->hist + (size_t)e->ranges_cap * sizeof *e->ranges;
    b += (size_t)e->drain_cap * sizeof *e->drain + (size_t)e->scratch_cap * sizeof *e->scratch;
    return b;
}

void etcd_destroy(etcd_t *e)
{
    if (!e) return;
    for (size_t i = 0; i < e->nslabs; i++) free(e->slabs[i]);
    free(e->slabs);
    for (int i = 0; i < e->nprefixes; i++) free(e->prefixes[i].s);
    free(e->prefixes);
    free(e->clients);
    free(e->watchers);
    free(e->drain);
    free(e->hist);
    free(e->ranges);
    free(e->scratch);
    free(e);
}

void etcd_stats(const etcd_t *e, etcd_stats_t *out)
{
    *out = e->n;
    out->revision = e->revision;
    out->applied_revision = e->applied;
    out->compacted_revision = etcd_compacted_revision(e);
    out->history = e->nhist;
    out->cpu_busy_ratio = sim_tavg_mean(&e->busy_avg, sim_now(e->sim)) / (double)e->spec->cores;
    out->memory_bytes = memory_bytes(e);
    out->cpu_queued = e->nqueue;
}
