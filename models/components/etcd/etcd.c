#include "models/components/etcd/etcd.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sim/error.h"
#include "sim/stats.h"

#define ETCD_MAX_CORES 4096
#define ETCD_MIN_TTL (2 * SIM_SEC)              /* etcd's minimum lease TTL */
#define ETCD_SLAB 256                           /* records per pool slab */

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
    s->lease_quota = 65536;
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
    sim_cfg_int(d, map, "lease_quota", SIM_CFG_UNBOUNDED, 0, INT64_MAX, 65536, &spec->lease_quota);
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

/* ---- state ----------------------------------------------------------------
 * The CPU is a FIFO queue in front of `cores` servers, like a station, with
 * one difference that keeps a storm's memory O(keys): the fan-out of one
 * key is ONE queue entry (MSG_FANOUT) that hands out one `event` job per
 * matching watcher, in watcher order, each time a core takes work from it.
 * That is exactly W event jobs queued at once, without W records.
 *
 * A record (etcd_msg_t) is a queued job, then for an event a scheduled
 * arrival, then a place in a stream buffer or in a victim's pending queue
 * (chained through `next`). Records come from a slab pool and go back when
 * the job or the event is over. Clients, watchers and prefixes live in
 * arrays that grow by doubling, so everything refers to them by index.
 *
 * A fan-out entry walks the prefix's watcher list lazily. Closed watchers
 * are unlinked but keep their forward link, so a cursor left on one still
 * leads to every older live watcher; watchers created after the revision
 * was applied (created_rev > revision) are newer than everything behind
 * them and end the walk.
 *
 * A replay (a watch from an old revision) is one queue entry too
 * (MSG_REPLAY): it walks the history from the watch's start revision to the
 * store revision at the watch's creation and hands out one event job per
 * revision under the watcher's prefix. Live fan-outs of later revisions are
 * queued when their put is applied, behind it, so a watcher's replayed
 * events start (and, with equal event costs, end) before its live ones. */

enum { MSG_WORK, MSG_PUT, MSG_FANOUT, MSG_EVENT, MSG_REPLAY, MSG_RANGE };

typedef struct etcd_msg {
    struct etcd_msg *next;        /* pool free list, CPU queue, stream buffer or pending queue */
    int64_t revision, key;        /* REPLAY: revision = the next one to hand out */
    union {
        sim_time_t demand;        /* WORK, PUT, EVENT, RANGE: CPU time */
        int64_t last;             /* REPLAY: the last revision to hand out */
    };
    int32_t kind;
    int32_t ref;                  /* PUT, FANOUT: the put's prefix; EVENT, REPLAY: watcher id; RANGE: range id */
    int32_t group, cursor;        /* FANOUT: prefix being scanned, next watcher id in it; REPLAY: history index */
} etcd_msg_t;

typedef struct {
    char *s;                      /* owned copy */
    size_t len;
    int head, tail;               /* open watchers on exactly this prefix, oldest first */
    int64_t nwatchers;
    int64_t maxkeys;              /* keys written under exactly this prefix: the largest put */
} etcd_prefix_t;

/* One etcd_put: revisions first .. first + n - 1, keys 0 .. n-1 under
 * `prefix`. Records are in revision order and contiguous. */
typedef struct {
    int64_t first, n;
    int prefix;
} etcd_hist_t;

/* A Range in flight (or a free record, chained through `next`). */
typedef struct {
    etcd_range_fn cb;
    void *ctx;
    int client;
    int next;                     /* free list */
    bool busy;                    /* its CPU job has not ended */
    bool live;                    /* not cut by a partition */
} etcd_range_t;

typedef struct {
    int client;
    int prefix;
    int gprev, gnext;             /* the prefix's watcher list */
    int cnext;                    /* the client's watcher list */
    int vprev, vnext;             /* the victim list, while a victim */
    bool open, auto_ack, victim;
    etcd_event_fn cb;
    void *ctx;
    etcd_msg_t *phead, *ptail;    /* pending events of a victim, in revision order */
    int64_t npending;
    sim_time_t last_arrival;      /* keeps arrivals in revision order under random propagation */
    int64_t created_rev;          /* the store's revision + 1 at creation: first revision fanned out live */
    int64_t from_rev;             /* live events below this are skipped (a start revision in the future) */
} etcd_watcher_t;

typedef struct {
    bool open;
    bool has_stream;
    bool draining;                /* stream_drain runs for this client (re-entry guard) */
    bool in_drain_list;
    int blocked;                  /* watcher whose response awaits etcd_ack, -1 if none */
    int whead;                    /* watchers, newest first */
    etcd_msg_t *bhead, *btail;    /* stream buffer: responses not yet taken */
    int64_t nbuf;
    /* the lease outlives the connection: live until it expires */
    bool lease_live;
    sim_time_t last_keepalive;
    sim_timer_t lease_timer;      /* next keepalive while open, expiry after close */
} etcd_client_t;

struct etcd {
    sim_t *sim;
    const etcd_spec_t *spec;
    sim_rng_t *rng_prop;
    sim_time_t prop_const;        /* the propagation delay if constant, else -1 */
    sim_time_t ka_period;         /* lease_ttl / 3 */
    int64_t busy;                 /* cores busy */
    etcd_msg_t *qhead, *qtail;    /* CPU queue, FIFO */
    int64_t nqueue;               /* entries (a fan-out entry counts once) */
    sim_tavg_t busy_avg;          /* busy cores since warm-up */
    sim_tavg_t win_busy;          /* busy cores in the sample interval */

    etcd_msg_t *free;             /* record pool */
    etcd_msg_t **slabs;
    size_t nslabs, slabs_cap;

    etcd_prefix_t *prefixes;
    int nprefixes, prefixes_cap;
    etcd_client_t *clients;
    int nclients, clients_cap;
    etcd_watcher_t *watchers;
    int nwatchers, watchers_cap;

    int vhead, vtail;             /* victims, in the order they became victims */
    sim_timer_t victim_timer;
    int *drain;                   /* clients to drain after a retry pass */
    int ndrain, drain_cap;

    int64_t revision, applied;
    etcd_hist_t *hist;            /* one record per put, in revision order */
    int nhist, hist_cap;
    etcd_range_t *ranges;
    int nranges, ranges_cap, rfree;
    bool partitioned;
    sim_time_t heal_at;
    sim_timer_t heal_timer;
    int *scratch;                 /* partition start: broken watchers, then cut ranges */
    int nscratch, scratch_cap;
    bool quota_episode;           /* grants failing since the last success */
    uint64_t episode_failures;
    bool compacted_episode;       /* watches refused as compacted since the last good one */
    etcd_stats_t n;               /* the counters and counts of etcd_stats */
    uint64_t win_delivered;       /* this sample interval */
    int col[9];
};

/* Grow an array to hold `need` elements (doubling); 0 or SIM_ENOMEM. */
static int grow(void **p, int *cap, int need, size_t elsize)
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

static void oom(etcd_t *e)
{
    e->sim->error = SIM_ENOMEM;
    sim_stop(e->sim);
}

static etcd_msg_t *msg_alloc(etcd_t *e)
{
    if (!e->free) {
        if (e->nslabs == e->slabs_cap) {
            size_t nc = e->slabs_cap ? e->slabs_cap * 2 : 16;
            etcd_msg_t **s = realloc(e->slabs, nc * sizeof *s);
            if (!s) return NULL;
            e->slabs = s;
            e->slabs_cap = nc;
        }
        etcd_msg_t *slab = malloc(ETCD_SLAB * sizeof *slab);
        if (!slab) return NULL;
        e->slabs[e->nslabs++] = slab;
        for (int i = ETCD_SLAB - 1; i >= 0; i--) {
            slab[i].next = e->free;
            e->free = &slab[i];
        }
    }
    etcd_msg_t *m = e->free;
    e->free = m->next;
    m->next = NULL;
    return m;
}

static inline void msg_free(etcd_t *e, etcd_msg_t *m)
{
    m->next = e->free;
    e->free = m;
}

static void msg_free_list(etcd_t *e, etcd_msg_t *m)
{
    while (m) {
        etcd_msg_t *next = m->next;
        msg_free(e, m);
        m = next;
    }
}

static void cpu_done_event(sim_t *sim, void *obj, uint64_t arg);
static void range_done(etcd_t *e, int rid);

/* Start queued work on free cores. A fan-out entry yields one event job per
 * call (next eligible watcher) and leaves the queue when it has none. */
static void cpu_dispatch(etcd_t *e);

static void cpu_enqueue(etcd_t *e, etcd_msg_t *m)
{
    m->next = NULL;
    if (e->qtail) e->qtail->next = m; else e->qhead = m;
    e->qtail = m;
    e->nqueue++;
    cpu_dispatch(e);
}

static void cpu_work(etcd_t *e, sim_time_t demand)
{
    etcd_msg_t *m = msg_alloc(e);
    if (!m) {
        oom(e);
        return;
    }
    m->kind = MSG_WORK;
    m->demand = demand;
    cpu_enqueue(e, m);
}

/* Index of `s` in the prefix table, added (copied) if new; -1 on OOM.
 * O(prefixes): called per put and per watch, never per event. */
static int prefix_intern(etcd_t *e, const char *s)
{
    for (int i = 0; i < e->nprefixes; i++)
        if (strcmp(e->prefixes[i].s, s) == 0) return i;
    if (grow((void **)&e->prefixes, &e->prefixes_cap, e->nprefixes + 1, sizeof *e->prefixes)) return -1;
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

/* Is `p` (a watcher's or a range's prefix) a prefix of `q` (a put's)? */
static inline bool prefix_covers(const etcd_prefix_t *p, const char *q, size_t qlen)
{
    return p->len <= qlen && memcmp(q, p->s, p->len) == 0;
}

static inline bool valid_client(const etcd_t *e, int c) { return c >= 0 && c < e->nclients; }
static inline bool valid_watcher(const etcd_t *e, int w) { return w >= 0 && w < e->nwatchers; }

/* ---- delivery ------------------------------------------------------------- */

/* The client takes responses off its stream while it is ready: each one is
 * handed to its watcher's callback; a non-auto-ack watcher's response blocks
 * the stream until etcd_ack. Callbacks may call anything, so the client is
 * looked up again after each (the arrays may move) and may be closed. */
static void stream_drain(etcd_t *e, int cid)
{
    etcd_client_t *c = &e->clients[cid];
    if (c->draining) return;      /* an ack from inside a callback: the loop below goes on */
    c->draining = true;
    while (c->open && c->blocked < 0 && c->bhead) {
        etcd_msg_t *m = c->bhead;
        c->bhead = m->next;
        if (!c->bhead) c->btail = NULL;
        c->nbuf--;
        int wid = m->ref;
        int64_t rev = m->revision, key = m->key;
        msg_free(e, m);
        etcd_watcher_t *w = &e->watchers[wid];
        if (!w->auto_ack) c->blocked = wid;
        e->n.events_delivered++;
        e->win_delivered++;
        if (w->cb) w->cb(e->sim, w->ctx, wid, rev, key);
        c = &e->clients[cid];
    }
    c->draining = false;
}

static void victim_event(sim_t *sim, void *obj, uint64_t arg);

static void victim_unlink(etcd_t *e, int wid)
{
    etcd_watcher_t *w = &e->watchers[wid];
    if (w->vprev >= 0) e->watchers[w->vprev].vnext = w->vnext; else e->vhead = w->vnext;
    if (w->vnext >= 0) e->watchers[w->vnext].vprev = w->vprev; else e->vtail = w->vprev;
    w->vprev = w->vnext = -1;
    w->victim = false;
    e->n.slow_watchers--;
}

static void make_victim(etcd_t *e, int wid)
{
    etcd_watcher_t *w = &e->watchers[wid];
    w->victim = true;
    w->vnext = -1;
    w->vprev = e->vtail;
    if (e->vtail >= 0) e->watchers[e->vtail].vnext = wid; else e->vhead = wid;
    e->vtail = wid;
    e->n.slow_watchers++;
    e->n.victims_total++;
    if (!sim_timer_pending(&e->victim_timer))
        e->victim_timer = sim_schedule_in(e->sim, e->spec->victim_retry, victim_event, e, 0);
}

/* An event reaches its watcher's stream: into the buffer if the watcher has
 * nothing pending and the buffer has room (then the client may take it at
 * once), else behind the watcher's pending events (making it a victim). */
static void arrive_event(sim_t *sim, void *obj, uint64_t arg)
{
    (void)sim;
    etcd_t *e = obj;
    etcd_msg_t *m = (etcd_msg_t *)(uintptr_t)arg;
    int wid = m->ref;
    etcd_watcher_t *w = &e->watchers[wid];
    if (!w->open) {
        e->n.events_dropped++;
        msg_free(e, m);
        return;
    }
    etcd_client_t *c = &e->clients[w->client];
    if (w->victim || c->nbuf >= e->spec->stream_buffer) {
        if (w->ptail) w->ptail->next = m; else w->phead = m;
        w->ptail = m;
        w->npending++;
        if (!w->victim) make_victim(e, wid);
        return;
    }
    if (c->btail) c->btail->next = m; else c->bhead = m;
    c->btail = m;
    c->nbuf++;
    stream_drain(e, w->client);
}

/* etcd's syncVictimsLoop: every victim_retry, move each victim's pending
 * events into the room its stream has (victims in the order they became
 * victims), let the clients take them, and repeat at once while anything
 * moved (etcd loops moveVictims while it moves watchers). */
static void victim_event(sim_t *sim, void *obj, uint64_t arg)
{
    (void)arg;
    etcd_t *e = obj;
    e->victim_timer = (sim_timer_t){0, 0};
    bool moved;
    do {
        moved = false;
        e->ndrain = 0;
        for (int wid = e->vhead; wid >= 0;) {
            etcd_watcher_t *w = &e->watchers[wid];
            int next = w->vnext;
            int cid = w->client;
            etcd_client_t *c = &e->clients[cid];
            bool touched = false;
            while (w->phead && c->nbuf < e->spec->stream_buffer) {
                etcd_msg_t *m = w->phead;
                w->phead = m->next;
                if (!w->phead) w->ptail = NULL;
                w->npending--;
                m->next = NULL;
                if (c->btail) c->btail->next = m; else c->bhead = m;
                c->btail = m;
                c->nbuf++;
                touched = true;
            }
            if (touched) {
                moved = true;
                if (!c->in_drain_list) {
                    if (grow((void **)&e->drain, &e->drain_cap, e->ndrain + 1, sizeof *e->drain)) {
                        oom(e);
                        return;
                    }
                    c->in_drain_list = true;
                    e->drain[e->ndrain++] = cid;
                }
            }
            if (!w->phead) victim_unlink(e, wid);
            wid = next;
        }
        for (int i = 0; i < e->ndrain; i++) {
            int cid = e->drain[i];
            e->clients[cid].in_drain_list = false;
            if (e->clients[cid].open) stream_drain(e, cid);
        }
        e->ndrain = 0;
    } while (moved && e->vhead >= 0);
    if (e->vhead >= 0 && !sim_timer_pending(&e->victim_timer))
        e->victim_timer = sim_schedule_at(sim, sim_now(sim) + e->spec->victim_retry, victim_event, e, 0);
}

/* The next watcher a fan-out entry sends its event to, or -1 when done:
 * open watchers whose prefix is a prefix of the put's, prefixes in creation
 * order, watchers oldest first, only those that existed when the revision
 * was applied. */
static int fanout_next(etcd_t *e, etcd_msg_t *m)
{
    const etcd_prefix_t *q = &e->prefixes[m->ref];
    for (;;) {
        while (m->cursor >= 0) {
            int wid = m->cursor;
            const etcd_watcher_t *w = &e->watchers[wid];
            if (w->created_rev > m->revision) {   /* this one and all behind it are newer */
                m->cursor = -1;
                break;
            }
            m->cursor = w->gnext;
            if (w->open && m->revision >= w->from_rev) return wid;
        }
        for (m->group++; m->group < e->nprefixes; m->group++) {
            const etcd_prefix_t *p = &e->prefixes[m->group];
            if (p->head >= 0 && prefix_covers(p, q->s, q->len)) {
                m->cursor = p->head;
                break;
            }
        }
        if (m->group >= e->nprefixes) return -1;
    }
}

/* The next revision a replay entry hands to its watcher, or false when done
 * (or the watcher closed: the rest costs nothing). Walks the history
 * records from m->group, skipping puts under other prefixes. */
static bool replay_next(etcd_t *e, etcd_msg_t *m, int64_t *rev, int64_t *key)
{
    const etcd_watcher_t *w = &e->watchers[m->ref];
    if (!w->open) return false;
    const etcd_prefix_t *p = &e->prefixes[w->prefix];
    while (m->revision <= m->last && m->group < e->nhist) {
        const etcd_hist_t *h = &e->hist[m->group];
        const etcd_prefix_t *q = &e->prefixes[h->prefix];
        if (m->revision >= h->first + h->n || !prefix_covers(p, q->s, q->len)) {
            m->group++;
            if (m->group < e->nhist) m->revision = e->hist[m->group].first;
            continue;
        }
        *rev = m->revision;
        *key = m->revision - h->first;
        m->revision++;
        return true;
    }
    return false;
}

static void cpu_dispatch(etcd_t *e)
{
    while (e->busy < e->spec->cores && e->qhead) {
        etcd_msg_t *m = e->qhead, *job = m;
        if (m->kind == MSG_FANOUT || m->kind == MSG_REPLAY) {
            int wid = -1;
            int64_t rev = m->revision, key = m->key;
            if (m->kind == MSG_FANOUT) wid = fanout_next(e, m);
            else if (replay_next(e, m, &rev, &key)) wid = m->ref;
            if (wid >= 0) {
                job = msg_alloc(e);
                if (!job) {
                    oom(e);
                    return;
                }
                job->kind = MSG_EVENT;
                job->ref = wid;
                job->revision = rev;
                job->key = key;
                job->demand = e->spec->cost_event;
                if (m->kind == MSG_FANOUT) e->n.events_fanned++;
                else e->n.events_replayed++;
            } else {
                job = NULL;
            }
        }
        if (job == m || !job) {   /* the head leaves the queue */
            e->qhead = m->next;
            if (!e->qhead) e->qtail = NULL;
            e->nqueue--;
            m->next = NULL;
            if (!job) {
                msg_free(e, m);
                continue;
            }
        }
        e->busy++;
        sim_time_t now = sim_now(e->sim);
        sim_tavg_add(&e->busy_avg, now, 1);
        sim_tavg_add(&e->win_busy, now, 1);
        sim_schedule_at(e->sim, now + job->demand, cpu_done_event, e, (uint64_t)(uintptr_t)job);
    }
}

/* A CPU job ended. As at a station, the freed core first takes the next
 * queued work, then the job's effect happens: a put is applied and its
 * fan-out queued; an event leaves for its watcher's stream. */
static void cpu_done_event(sim_t *sim, void *obj, uint64_t arg)
{
    etcd_t *e = obj;
    etcd_msg_t *m = (etcd_msg_t *)(uintptr_t)arg;
    sim_time_t now = sim_now(sim);
    e->busy--;
    sim_tavg_add(&e->busy_avg, now, -1);
    sim_tavg_add(&e->win_busy, now, -1);
    e->n.cpu_jobs_done++;
    cpu_dispatch(e);
    switch (m->kind) {
    case MSG_PUT:
        e->applied = m->revision;
        m->kind = MSG_FANOUT;     /* the same record, now the key's fan-out entry */
        m->group = -1;
        m->cursor = -1;
        cpu_enqueue(e, m);
        break;
    case MSG_EVENT: {
        etcd_watcher_t *w = &e->watchers[m->ref];
        if (!w->open) {
            e->n.events_dropped++;
            msg_free(e, m);
            break;
        }
        sim_time_t d = e->prop_const >= 0
                           ? e->prop_const
                           : sim_time_from_s(sim_dist_sample(&e->spec->propagation, e->rng_prop));
        sim_time_t t = now + d;
        if (t < w->last_arrival) t = w->last_arrival;   /* revision order per watcher */
        w->last_arrival = t;
        m->next = NULL;
        sim_schedule_at(sim, t, arrive_event, e, (uint64_t)(uintptr_t)m);
        break;
    }
    case MSG_RANGE:
        range_done(e, m->ref);
        msg_free(e, m);
        break;
    default:
        msg_free(e, m);
        break;
    }
}

/* ---- leases -------------------------------------------------------------- */

static void lease_expire_event(sim_t *sim, void *obj, uint64_t arg)
{
    (void)sim;
    etcd_t *e = obj;
    etcd_client_t *c = &e->clients[arg];
    c->lease_timer = (sim_timer_t){0, 0};
    if (!c->lease_live) return;
    c->lease_live = false;
    e->n.leases_in_use--;
    e->n.leases_expired++;
}

static void keepalive_event(sim_t *sim, void *obj, uint64_t arg)
{
    etcd_t *e = obj;
    etcd_client_t *c = &e->clients[arg];
    c->lease_timer = (sim_timer_t){0, 0};
    if (!c->open) return;
    e->n.keepalives++;
    c->last_keepalive = sim_now(sim);
    c->lease_timer = sim_schedule_in(sim, e->ka_period, keepalive_event, e, arg);
    cpu_work(e, e->spec->cost_keepalive);
}

int etcd_client_open(etcd_t *e)
{
    sim_t *sim = e->sim;
    if (e->partitioned) {
        e->n.partition_failures++;
        return ETCD_ERR_UNAVAILABLE;
    }
    cpu_work(e, e->spec->cost_connect);
    cpu_work(e, e->spec->cost_grant);
    if (e->n.leases_in_use >= e->spec->lease_quota) {
        e->n.grant_failures++;
        e->episode_failures++;
        if (!e->quota_episode) {
            char detail[128];
            snprintf(detail, sizeof detail, "%" PRId64 " leases in use (quota %" PRId64 "): grants and client opens fail",
                     e->n.leases_in_use, e->spec->lease_quota);
            sim_log_event(sim, "lease_quota_exhausted", "etcd", (double)e->n.leases_in_use, detail);
            e->quota_episode = true;
        }
        return -1;
    }
    if (grow((void **)&e->clients, &e->clients_cap, e->nclients + 1, sizeof *e->clients)) {
        oom(e);
        return SIM_ENOMEM;
    }
    if (e->quota_episode) {
        char detail[96];
        snprintf(detail, sizeof detail, "%" PRIu64 " grants failed in the episode", e->episode_failures);
        sim_log_event(sim, "lease_quota_recovered", "etcd", (double)e->episode_failures, detail);
        e->quota_episode = false;
        e->episode_failures = 0;
    }
    int cid = e->nclients++;
    etcd_client_t *c = &e->clients[cid];
    memset(c, 0, sizeof *c);
    c->open = true;
    c->blocked = -1;
    c->whead = -1;
    c->lease_live = true;
    c->last_keepalive = sim_now(sim);
    c->lease_timer = sim_schedule_in(sim, e->ka_period, keepalive_event, e, (uint64_t)cid);
    e->n.grants++;
    e->n.leases_in_use++;
    e->n.connections++;
    return cid;
}

/* Close a client's stream: its watchers go (unlinked from their prefix
 * lists, their pending events dropped; events still travelling are dropped
 * when they surface), and so do the buffered responses. The watchers stay
 * chained through cnext from `whead` (returned) for the caller. */
static int stream_close(etcd_t *e, int cid)
{
    etcd_client_t *c = &e->clients[cid];
    int head = c->has_stream ? c->whead : -1;
    if (c->has_stream) e->n.streams--;
    c->has_stream = false;
    for (int wid = head; wid >= 0; wid = e->watchers[wid].cnext) {
        etcd_watcher_t *w = &e->watchers[wid];
        w->open = false;
        etcd_prefix_t *p = &e->prefixes[w->prefix];
        if (w->gprev >= 0) e->watchers[w->gprev].gnext = w->gnext; else p->head = w->gnext;
        if (w->gnext >= 0) e->watchers[w->gnext].gprev = w->gprev; else p->tail = w->gprev;
        p->nwatchers--;
        if (w->victim) victim_unlink(e, wid);
        e->n.events_dropped += (uint64_t)w->npending;
        msg_free_list(e, w->phead);
        w->phead = w->ptail = NULL;
        w->npending = 0;
        e->n.watchers--;
    }
    c->whead = -1;
    e->n.events_dropped += (uint64_t)c->nbuf;
    msg_free_list(e, c->bhead);
    c->bhead = c->btail = NULL;
    c->nbuf = 0;
    c->blocked = -1;
    return head;
}

void etcd_client_close(etcd_t *e, int cid)
{
    if (!valid_client(e, cid) || !e->clients[cid].open) return;
    etcd_client_t *c = &e->clients[cid];
    c->open = false;
    e->n.connections--;
    stream_close(e, cid);
    /* The lease is not revoked: it expires TTL after the last keepalive
     * (unless it already has, in a partition). */
    sim_cancel(e->sim, &c->lease_timer);
    if (c->lease_live)
        c->lease_timer = sim_schedule_at(e->sim, c->last_keepalive + e->spec->lease_ttl, lease_expire_event, e,
                                         (uint64_t)cid);
    if (e->vhead < 0 && sim_timer_pending(&e->victim_timer)) sim_cancel(e->sim, &e->victim_timer);
}

/* ---- watches and puts ---------------------------------------------------- */

int64_t etcd_revision(const etcd_t *e) { return e->applied; }

int64_t etcd_compacted_revision(const etcd_t *e)
{
    int64_t n = e->spec->compaction_retention;
    return e->applied > n ? e->applied - n : 0;
}

/* Index of the history record holding revision `rev` (1 <= rev <= the last
 * recorded one): binary search over the contiguous records. */
static int hist_find(const etcd_t *e, int64_t rev)
{
    int lo = 0, hi = e->nhist - 1;
    while (lo < hi) {
        int mid = lo + (hi - lo + 1) / 2;
        if (e->hist[mid].first <= rev) lo = mid; else hi = mid - 1;
    }
    return lo;
}

int etcd_watch(etcd_t *e, int cid, const char *prefix, bool auto_ack, etcd_event_fn cb, void *ctx)
{
    return etcd_watch_from(e, cid, prefix, 0, auto_ack, cb, ctx);
}

int etcd_watch_from(etcd_t *e, int cid, const char *prefix, int64_t start_rev, bool auto_ack, etcd_event_fn cb,
                    void *ctx)
{
    if (!valid_client(e, cid) || !e->clients[cid].open || !prefix) return -1;
    if (start_rev < 0) return SIM_EINVAL;
    if (e->partitioned) {
        e->n.partition_failures++;
        return ETCD_ERR_UNAVAILABLE;
    }
    int64_t compacted = etcd_compacted_revision(e);
    if (start_rev > 0 && start_rev <= compacted) {
        e->n.compacted_failures++;
        if (!e->compacted_episode) {
            char detail[160];
            snprintf(detail, sizeof detail,
                     "watch from revision %" PRId64 " <= compacted revision %" PRId64 ": ErrCompacted, the client must re-list",
                     start_rev, compacted);
            sim_log_event(e->sim, "watch_compacted", "etcd", (double)start_rev, detail);
            e->compacted_episode = true;
        }
        return ETCD_ERR_COMPACTED;
    }
    if (start_rev > 0) e->compacted_episode = false;
    etcd_msg_t *replay = NULL;
    if (start_rev > 0 && start_rev <= e->applied) {
        if (!(replay = msg_alloc(e))) {
            oom(e);
            return SIM_ENOMEM;
        }
    }
    int pid = prefix_intern(e, prefix);
    if (pid < 0 || grow((void **)&e->watchers, &e->watchers_cap, e->nwatchers + 1, sizeof *e->watchers)) {
        if (replay) msg_free(e, replay);
        oom(e);
        return SIM_ENOMEM;
    }
    int wid = e->nwatchers++;
    etcd_watcher_t *w = &e->watchers[wid];
    memset(w, 0, sizeof *w);
    w->client = cid;
    w->prefix = pid;
    w->open = true;
    w->auto_ack = auto_ack;
    w->cb = cb;
    w->ctx = ctx;
    w->vprev = w->vnext = -1;
    w->last_arrival = sim_now(e->sim);
    w->created_rev = e->applied + 1;
    w->from_rev = start_rev > w->created_rev ? start_rev : w->created_rev;
    etcd_prefix_t *p = &e->prefixes[pid];
    w->gnext = -1;
    w->gprev = p->tail;
    if (p->tail >= 0) e->watchers[p->tail].gnext = wid; else p->head = wid;
    p->tail = wid;
    p->nwatchers++;
    etcd_client_t *c = &e->clients[cid];
    w->cnext = c->whead;
    c->whead = wid;
    if (!c->has_stream) {
        c->has_stream = true;
        e->n.streams++;
    }
    e->n.watchers++;
    if (replay) {   /* revisions start_rev .. applied, from the history */
        replay->kind = MSG_REPLAY;
        replay->ref = wid;
        replay->group = hist_find(e, start_rev);
        replay->revision = start_rev;
        replay->last = e->applied;
        replay->key = 0;
        cpu_enqueue(e, replay);
    }
    return wid;
}

void etcd_ack(etcd_t *e, int wid)
{
    if (!valid_watcher(e, wid)) return;
    int cid = e->watchers[wid].client;
    etcd_client_t *c = &e->clients[cid];
    if (!c->open || c->blocked != wid) return;
    c->blocked = -1;
    stream_drain(e, cid);
}

int64_t etcd_put(etcd_t *e, const char *prefix, int64_t nkeys)
{
    if (!prefix || nkeys < 1) return SIM_EINVAL;
    int pid = prefix_intern(e, prefix);
    if (pid < 0 || grow((void **)&e->hist, &e->hist_cap, e->nhist + 1, sizeof *e->hist)) {
        oom(e);
        return SIM_ENOMEM;
    }
    int64_t first = e->revision + 1;
    e->hist[e->nhist++] = (etcd_hist_t){.first = first, .n = nkeys, .prefix = pid};
    if (nkeys > e->prefixes[pid].maxkeys) e->prefixes[pid].maxkeys = nkeys;
    for (int64_t k = 0; k < nkeys; k++) {
        etcd_msg_t *m = msg_alloc(e);
        if (!m) {
            oom(e);
            break;
        }
        m->kind = MSG_PUT;
        m->ref = pid;
        m->revision = ++e->revision;
        m->key = k;
        m->demand = e->spec->cost_put;
        cpu_enqueue(e, m);
    }
    return first;
}

/* ---- ranges --------------------------------------------------------------- */

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
        if (grow((void **)&e->ranges, &e->ranges_cap, e->nranges + 1, sizeof *e->ranges)) {
            oom(e);
            return SIM_ENOMEM;
        }
        rid = e->nranges++;
    } else {
        e->rfree = e->ranges[rid].next;
    }
    etcd_msg_t *m = msg_alloc(e);
    if (!m) {
        e->ranges[rid].next = e->rfree;
        e->rfree = rid;
        oom(e);
        return SIM_ENOMEM;
    }
    e->ranges[rid] = (etcd_range_t){.cb = cb, .ctx = ctx, .client = cid, .next = -1, .busy = true, .live = true};
    m->kind = MSG_RANGE;
    m->ref = rid;
    m->demand = e->spec->cost_range + keys * e->spec->cost_range_key;
    cpu_enqueue(e, m);
    return 0;
}

/* A Range's CPU job ended: the response carries the store revision now,
 * unless a partition cut it (its callback has been called) or its client
 * is closed (nobody to answer). */
static void range_done(etcd_t *e, int rid)
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

/* ---- partitions ------------------------------------------------------------ */

static int scratch_push(etcd_t *e, int v)
{
    if (grow((void **)&e->scratch, &e->scratch_cap, e->nscratch + 1, sizeof *e->scratch)) return SIM_ENOMEM;
    e->scratch[e->nscratch++] = v;
    return 0;
}

/* The partition heals: every open client reconnects (its gRPC connection:
 * a `connect` job) and, if its lease outlived the partition, renews it at
 * once (clientv3's keepalive loop sends the renewals that fell due) and
 * every TTL/3 again. */
static void heal_event(sim_t *sim, void *obj, uint64_t arg)
{
    (void)arg;
    etcd_t *e = obj;
    e->heal_timer = (sim_timer_t){0, 0};
    e->partitioned = false;
    sim_time_t now = sim_now(sim);
    int64_t reconnected = 0, lost = 0;
    for (int cid = 0; cid < e->nclients; cid++) {
        etcd_client_t *c = &e->clients[cid];
        if (!c->open) continue;
        reconnected++;
        cpu_work(e, e->spec->cost_connect);
        if (!c->lease_live) {
            lost++;
            continue;
        }
        sim_cancel(sim, &c->lease_timer);   /* the pending expiry */
        e->n.keepalives++;
        c->last_keepalive = now;
        cpu_work(e, e->spec->cost_keepalive);
        c->lease_timer = sim_schedule_in(sim, e->ka_period, keepalive_event, e, (uint64_t)cid);
    }
    char detail[160];
    snprintf(detail, sizeof detail, "%" PRId64 " clients reconnect; %" PRId64 " of them lost their lease in the partition",
             reconnected, lost);
    sim_log_event(sim, "partition_healed", "etcd", (double)reconnected, detail);
}

void etcd_partition(etcd_t *e, sim_time_t duration)
{
    if (duration <= 0) return;
    sim_t *sim = e->sim;
    sim_time_t now = sim_now(sim), heal = now + duration;
    if (e->partitioned) {   /* a partition during a partition: the later heal */
        if (heal > e->heal_at) {
            sim_cancel(sim, &e->heal_timer);
            e->heal_at = heal;
            e->heal_timer = sim_schedule_at(sim, heal, heal_event, e, 0);
        }
        return;
    }
    e->partitioned = true;
    e->heal_at = heal;
    e->heal_timer = sim_schedule_at(sim, heal, heal_event, e, 0);
    e->n.partitions++;
    e->nscratch = 0;
    int64_t streams = 0;
    for (int cid = 0; cid < e->nclients; cid++) {
        etcd_client_t *c = &e->clients[cid];
        if (!c->open) continue;
        /* keepalives stop arriving: the lease expires TTL after the last one
         * unless the heal comes first */
        if (c->lease_live) {
            sim_cancel(sim, &c->lease_timer);
            c->lease_timer = sim_schedule_at(sim, c->last_keepalive + e->spec->lease_ttl, lease_expire_event, e,
                                             (uint64_t)cid);
        }
        if (!c->has_stream) continue;
        streams++;
        for (int wid = stream_close(e, cid); wid >= 0; wid = e->watchers[wid].cnext)
            if (scratch_push(e, wid)) {
                oom(e);
                return;
            }
    }
    int nbroken = e->nscratch;
    for (int rid = 0; rid < e->nranges; rid++) {
        etcd_range_t *x = &e->ranges[rid];
        if (!x->busy || !x->live || !e->clients[x->client].open) continue;
        x->live = false;
        e->n.ranges_cut++;
        if (scratch_push(e, rid)) {
            oom(e);
            return;
        }
    }
    e->n.watchers_broken += (uint64_t)nbroken;
    if (e->vhead < 0 && sim_timer_pending(&e->victim_timer)) sim_cancel(sim, &e->victim_timer);
    char detail[192];
    snprintf(detail, sizeof detail,
             "partition for %.3g s: %d watchers on %" PRId64 " streams broken, %d ranges cut; puts still apply",
             sim_time_to_s(duration), nbroken, streams, e->nscratch - nbroken);
    sim_log_event(sim, "watch_streams_broken", "etcd", (double)nbroken, detail);
    /* Everything is broken before anyone hears of it: a callback may call
     * anything (a retry fails: partitioned). The scratch array is not grown
     * again until the next partition. */
    int n = e->nscratch;
    for (int i = 0; i < n; i++) {
        if (i < nbroken) {
            int wid = e->scratch[i];
            etcd_watcher_t *w = &e->watchers[wid];
            if (w->cb) w->cb(sim, w->ctx, wid, ETCD_ERR_UNAVAILABLE, -1);
        } else {
            etcd_range_t *x = &e->ranges[e->scratch[i]];
            if (e->clients[x->client].open) x->cb(sim, x->ctx, x->client, ETCD_ERR_UNAVAILABLE);
        }
    }
}

bool etcd_partitioned(const etcd_t *e) { return e->partitioned; }

bool etcd_client_lease_live(const etcd_t *e, int cid)
{
    return valid_client(e, cid) && e->clients[cid].open && e->clients[cid].lease_live;
}

/* ---- create, statistics -------------------------------------------------- */

enum { COL_REV, COL_LEASES, COL_WATCHERS, COL_CONNS, COL_EPS, COL_SLOW, COL_CPU, COL_MEM, COL_FAIL };

static int64_t memory_bytes(const etcd_t *e)
{
    const etcd_spec_t *s = e->spec;
    return s->mem_base + e->n.connections * s->mem_per_connection + e->n.streams * s->mem_per_stream +
           e->n.watchers * s->mem_per_watcher;
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
        {"etcd_revision", "1", "store revision: last key whose put was applied"},
        {"etcd_leases_in_use", "1", "leases granted and not expired (closed clients' leases included)"},
        {"etcd_watchers", "1", "watchers of open clients"},
        {"etcd_connections", "1", "open client connections"},
        {"etcd_watch_events_per_second", "1/s", "events taken by clients in the interval / interval"},
        {"etcd_slow_watchers", "1", "victim watchers (stream buffer full) at the sample time"},
        {"etcd_cpu_utilization_ratio", "1", "time-averaged busy cores / cores over the interval"},
        {"etcd_memory_bytes", "bytes", "base + connections, streams and watchers times their costs"},
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

int64_t etcd_client_buffered(const etcd_t *e, int cid)
{
    return valid_client(e, cid) && e->clients[cid].open ? e->clients[cid].nbuf : 0;
}

int64_t etcd_watcher_pending(const etcd_t *e, int wid)
{
    return valid_watcher(e, wid) && e->watchers[wid].open ? e->watchers[wid].npending : 0;
}
