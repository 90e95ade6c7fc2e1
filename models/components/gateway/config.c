/* The gateway's configuration through etcd (the `config` section, parsed
 * in gateway.c): the config watches of a process (the shared one, or one
 * per request: the bug) and the etcd clients they use (a connection; with
 * session_per_client also a session, i.e. a lease), the reloads their
 * responses start (per event, or coalesced by revision; batched;
 * version-gated), broken watches (reconnect, then re-list or resume from
 * lastRev+1), the operator's pushes (separate puts or one transaction),
 * and the bytes all this holds (gw_held_bytes, for the run's memory
 * budget). Calls etcd
 * (models/components/etcd/etcd.h) and the replica's CPU station, Go runtime
 * and embedding cache; gateway.c calls in through gateway_internal.h (a
 * reload's CPU job ended, a process starts, a push falls due). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "models/components/gateway/gateway.h"
#include "models/components/gateway/gateway_internal.h"
#include "sim/error.h"

/* ---- reloads -------------------------------------------------------------------- */

typedef struct gw_reload {
    gw_job_t job;                  /* first member */
    struct gw_reload *next_free;
    gw_t *g;
    int replica;
    uint32_t gen;
} gw_reload_t;

#define RELOAD_SLAB 256

static gw_reload_t *reload_alloc(gw_t *g)
{
    if (!g->reload_free) {
        void **s = realloc(g->reload_slabs, (g->nreload_slabs + 1) * sizeof *s);
        if (!s) return NULL;
        g->reload_slabs = s;
        gw_reload_t *slab = calloc(RELOAD_SLAB, sizeof *slab);
        if (!slab) return NULL;
        g->reload_slabs[g->nreload_slabs++] = slab;
        for (size_t i = RELOAD_SLAB; i-- > 0;) {
            slab[i].next_free = g->reload_free;
            g->reload_free = &slab[i];
        }
    }
    gw_reload_t *x = g->reload_free;
    g->reload_free = x->next_free;
    return x;
}

/* Start one reload on replica r: its own goroutine, a new index, transient
 * memory, CPU. */
static void reload_start(gw_t *g, int r)
{
    sim_t *sim = g->sim;
    gw_replica_t *rp = &g->rep[r];
    gw_reload_t *x = reload_alloc(g);
    if (!x) {
        sim->error = SIM_ENOMEM;
        sim_stop(sim);
        return;
    }
    x->job.kind = GW_JOB_RELOAD;
    x->g = g;
    x->replica = r;
    x->gen = rp->gen;
    rp->reloads_running++;
    g->reloads_started++;
    gort_goroutines(&rp->rt, 1);
    gort_retain(&rp->rt, g->spec->index_bytes + g->spec->reload_mem);
    x->job.job.demand = g->spec->reload_cpu;   /* the CPU's speed applies, and it is booked, when it starts */
    stn_submit(&rp->cpu, &x->job.job);
}

/* The batch of config events buffered on replica r is handed to the
 * callback: one reload for the whole batch (coalesced: its revisions
 * collapse into one reload of the latest state), or one per event. */
static void flush_batch(gw_t *g, int r)
{
    gw_replica_t *rp = &g->rep[r];
    sim_cancel(g->sim, &rp->batch_timer);
    int64_t n = rp->batch_events;
    rp->batch_events = 0;
    if (n == 0 || (!rp->up && !rp->starting)) return;
    g->batches++;
    if (g->spec->coalesce) reload_start(g, r);
    else
        for (int64_t i = 0; i < n; i++) reload_start(g, r);
}

static void batch_event(sim_t *sim, void *obj, uint64_t arg)
{
    (void)sim;
    gw_t *g = obj;
    g->rep[arg].batch_timer = (sim_timer_t){0, 0};
    flush_batch(g, (int)arg);
}

/* Does a response (revision, keys key .. key + n - 1) hold a push's
 * `_version` key? That key is the push's last: index `keys` of its write,
 * at its own revision (separate puts) or at the transaction's. */
static bool holds_version_key(const gw_t *g, int64_t revision, int64_t key, int64_t n)
{
    for (size_t i = 0; i < g->spec->npushes; i++) {
        int64_t k = g->spec->pushes[i].keys;
        if (g->push_version_rev[i] == revision && key <= k && k < key + n) return true;
    }
    return false;
}

static void watch_broken(gw_t *g, gw_watch_t *w);

/* A watch response (one revision: `n` events, keys key .. key + n - 1)
 * reached watch w of replica r (or its stream broke: revision < 0). The
 * naive callback reloads for every event; the watch policies filter
 * (`version_gate`: only the `_version` key), batch (`batch`: flush at
 * max_events events or after window) and coalesce (`coalesce`: one reload
 * per revision, the events of a transaction together; with `batch`, one per
 * batch). Responses replayed after a resume take the same path. */
static void on_config_event(sim_t *sim, void *ctx, int watcher, int64_t revision, int64_t key, int64_t n)
{
    (void)sim;
    (void)watcher;
    gw_watch_t *w = ctx;
    gw_replica_t *rp = w->rp;
    gw_t *g = (gw_t *)rp->cpu.owner;
    int r = (int)(rp - g->rep);
    if (revision < 0) {
        watch_broken(g, w);
        return;
    }
    if (!rp->up && !rp->starting) return;   /* a dead process hears nothing */
    w->last_rev = revision;
    g->events_seen += (uint64_t)n;
    if (g->spec->version_gate) {   /* only the `_version` event asks for a reload */
        if (!holds_version_key(g, revision, key, n)) return;
        n = 1;
    }
    if (g->spec->batch_max <= 1 && g->spec->batch_window == 0) {
        if (g->spec->coalesce) n = 1;   /* one reload per revision */
        for (int64_t i = 0; i < n; i++) reload_start(g, r);
        return;
    }
    if (rp->batch_events == 0 && g->spec->batch_window > 0)
        rp->batch_timer = sim_schedule_in(g->sim, g->spec->batch_window, batch_event, g, (uint64_t)r);
    rp->batch_events += n;
    if (g->spec->batch_max > 0 && rp->batch_events >= g->spec->batch_max) flush_batch(g, r);
}

void gw_reload_done(gw_t *g, stn_job_t *job, stn_outcome_t oc)
{
    gw_reload_t *x = (gw_reload_t *)job;
    gw_replica_t *rp = &g->rep[x->replica];
    if (oc == STN_DONE && rp->gen == x->gen) {
        rp->reloads_running--;
        embc_new_version(&rp->cache);             /* the old index: garbage unless pinned */
        gort_release(&rp->rt, g->spec->reload_mem);
        gort_goroutines(&rp->rt, -1);
        g->reloads++;
        g->reloads_total++;
        g->win_reloads++;
    }
    x->next_free = g->reload_free;
    g->reload_free = x;
}

/* ---- broken watches: reconnect, resume or re-list ---------------------------------- */

#define WATCH_SLAB 256

static gw_watch_t *watch_new(gw_t *g, int r)
{
    if (!g->watch_free) {
        void **s = realloc(g->watch_slabs, (g->nwatch_slabs + 1) * sizeof *s);
        if (!s) return NULL;
        g->watch_slabs = s;
        gw_watch_t *slab = calloc(WATCH_SLAB, sizeof *slab);
        if (!slab) return NULL;
        g->watch_slabs[g->nwatch_slabs++] = slab;
        for (size_t i = WATCH_SLAB; i-- > 0;) {
            slab[i].next = g->watch_free;
            g->watch_free = &slab[i];
        }
    }
    gw_watch_t *w = g->watch_free;
    g->watch_free = w->next;
    gw_replica_t *rp = &g->rep[r];
    *w = (gw_watch_t){.next = rp->watches, .rp = rp, .client = -1, .watcher = -1, .state = GW_WATCH_NONE};
    rp->watches = w;
    rp->nwatches++;
    return w;
}

/* Notable events, aggregated: every count since the last line goes into one
 * line per kind, written by a zero-delay event after everything scheduled
 * for this instant (all replicas break, and retry, at the same instants). */
static void log_flush_event(sim_t *sim, void *obj, uint64_t arg)
{
    (void)arg;
    gw_t *g = obj;
    char detail[224];
    g->log_pending = false;
    if (g->log_breaks) {
        snprintf(detail, sizeof detail, "%llu config watches broke (etcd unreachable): retry every %.3g s, %s",
                 (unsigned long long)g->log_breaks, sim_time_to_s(g->spec->reconnect_interval),
                 g->spec->resume ? "resume from lastRev+1 (re-list if compacted)" : "naive: new client, re-list, full reload");
        sim_log_event(sim, "config_watch_broken", "gateway", (double)g->log_breaks, detail);
    }
    if (g->log_resumes) {
        snprintf(detail, sizeof detail, "%llu watches resumed from lastRev+1: only missed events are replayed",
                 (unsigned long long)g->log_resumes);
        sim_log_event(sim, "config_watch_resumed", "gateway", (double)g->log_resumes, detail);
    }
    if (g->log_relists) {
        snprintf(detail, sizeof detail,
                 "%llu watches re-list (Range, one full reload, watch from its revision + 1): %llu after ErrCompacted",
                 (unsigned long long)g->log_relists, (unsigned long long)g->log_relist_compacted);
        sim_log_event(sim, "config_watch_relisted", "gateway", (double)g->log_relists, detail);
    }
    g->log_breaks = g->log_resumes = g->log_relists = g->log_relist_compacted = 0;
}

static void log_note(gw_t *g)
{
    if (g->log_pending) return;
    g->log_pending = true;
    sim_schedule_in(g->sim, 0, log_flush_event, g, 0);
}

static void reconnect_event(sim_t *sim, void *obj, uint64_t arg);

/* A new etcd client for a watch: a connection and, with
 * session_per_client, a session (concurrency.NewSession: a lease kept alive
 * every TTL/3 while the client is open). A refused session (the lease
 * quota) closes the connection again: the caller gets the error. */
static int client_new(gw_t *g)
{
    int c = etcd_client_open(g->etcd);
    if (c < 0 || !g->spec->session_per_client) return c;
    int rc = etcd_lease_grant(g->etcd, c);
    if (rc != 0) {
        etcd_client_close(g->etcd, c);
        return rc;
    }
    return c;
}

/* A watch came back on its own client: if the client's session expired
 * while etcd was unreachable (a partition longer than its TTL), the
 * process starts a new one (a session's Done channel closed; the
 * application makes a new session). The watch itself never needed it. */
static void session_keep(gw_t *g, const gw_watch_t *w)
{
    if (g->spec->session_per_client && w->client >= 0 && !etcd_client_lease_live(g->etcd, w->client))
        (void)etcd_lease_grant(g->etcd, w->client);   /* refused: counted by etcd; retried at the next break */
}

/* w waits for the replica's reconnect timer (the retry schedule runs from
 * the first break: break + k x reconnect_interval). */
static void watch_wait(gw_t *g, gw_watch_t *w)
{
    gw_replica_t *rp = w->rp;
    w->state = GW_WATCH_BROKEN;
    w->watcher = -1;
    rp->nbroken++;
    if (!sim_timer_pending(&rp->reconnect))
        rp->reconnect = sim_schedule_in(g->sim, g->spec->reconnect_interval, reconnect_event, g,
                                        (uint64_t)(rp - g->rep));
}

static void watch_broken(gw_t *g, gw_watch_t *w)
{
    g->watch_breaks++;
    g->log_breaks++;
    log_note(g);
    watch_wait(g, w);
}

/* The re-list ended: one full reload (a pending batch is superseded by it),
 * then a watch from the listing's revision + 1. A cut Range retries. */
static void on_range(sim_t *sim, void *ctx, int client, int64_t revision)
{
    (void)sim;
    gw_watch_t *w = ctx;
    gw_replica_t *rp = w->rp;
    gw_t *g = (gw_t *)rp->cpu.owner;
    int r = (int)(rp - g->rep);
    if (revision < 0) {
        watch_wait(g, w);
        return;
    }
    if (!rp->up && !rp->starting) return;   /* unreachable: a dead process's clients are closed */
    sim_cancel(g->sim, &rp->batch_timer);
    rp->batch_events = 0;
    reload_start(g, r);
    w->last_rev = revision;
    int id = etcd_watch_from(g->etcd, client, g->spec->prefix, revision + 1, true, on_config_event, w);
    if (id < 0) {
        watch_wait(g, w);
        return;
    }
    w->watcher = id;
    w->state = GW_WATCH_LIVE;
}

/* Re-list: a new client (naive), or the same one (resume's fallback after
 * ErrCompacted), then a Range. The new client is opened before the old one
 * is closed, so a failed open (partition, or a refused session) leaves w as
 * it was for the next retry; the old client's lease, if any, is not
 * revoked. */
static void watch_relist(gw_t *g, gw_watch_t *w, bool keep_client)
{
    etcd_t *e = g->etcd;
    if (!keep_client) {
        int c = client_new(g);
        if (c < 0) {
            if (c != ETCD_ERR_UNAVAILABLE) {
                g->watch_failures++;
                w->rp->watch_failures++;
            }
            return;
        }
        if (w->client >= 0) etcd_client_close(e, w->client);
        w->client = c;
    }
    if (etcd_range(e, w->client, g->spec->prefix, on_range, w) != 0) return;
    w->state = GW_WATCH_RELISTING;
    w->rp->nbroken--;
    g->watch_relists++;
    g->log_relists++;
    log_note(g);
}

/* One retry of a broken watch. With resume, a watch from lastRev + 1 on the
 * same client: what decides is compaction alone (a watch holds no lease;
 * a session the client holds may have expired meanwhile, which changes
 * nothing for the watch). Without resume, or without a client (its first
 * open failed), the naive re-list. */
static void watch_retry(gw_t *g, gw_watch_t *w)
{
    etcd_t *e = g->etcd;
    if (g->spec->resume && w->client >= 0) {
        int id = etcd_watch_from(e, w->client, g->spec->prefix, w->last_rev + 1, true, on_config_event, w);
        if (id >= 0) {
            w->watcher = id;
            w->state = GW_WATCH_LIVE;
            w->rp->nbroken--;
            g->watch_resumes++;
            g->log_resumes++;
            log_note(g);
            session_keep(g, w);
            return;
        }
        if (id != ETCD_ERR_COMPACTED) return;   /* still partitioned: the next tick */
        g->watch_compacted++;
        uint64_t before = g->watch_relists;
        watch_relist(g, w, true);
        if (g->watch_relists != before) {
            g->log_relist_compacted++;
            session_keep(g, w);
        }
        return;
    }
    watch_relist(g, w, false);
}

/* The replica's reconnect tick: every broken watch retries; the timer runs
 * again while some are still broken. O(watches of the replica): only
 * during and right after a partition. */
static void reconnect_event(sim_t *sim, void *obj, uint64_t arg)
{
    gw_t *g = obj;
    gw_replica_t *rp = &g->rep[arg];
    rp->reconnect = (sim_timer_t){0, 0};
    for (gw_watch_t *w = rp->watches; w && rp->nbroken > 0; w = w->next)
        if (w->state == GW_WATCH_BROKEN) watch_retry(g, w);
    if (rp->nbroken > 0 && !sim_timer_pending(&rp->reconnect))
        rp->reconnect = sim_schedule_in(sim, g->spec->reconnect_interval, reconnect_event, g, arg);
}

/* ---- the watches of a process ---------------------------------------------------- */

/* The shared watch of a starting process: a client (with its session if
 * configured) and a watch from now. If etcd refuses (partition, or the
 * lease quota refuses the session) it retries like a broken watch (counted
 * in watch_failures, not in the breaks). */
void gw_open_watch(gw_t *g, int r)
{
    gw_replica_t *rp = &g->rep[r];
    rp->shared = NULL;
    if (!g->etcd || g->spec->watch_per_request) return;
    gw_watch_t *w = watch_new(g, r);
    if (!w) {
        g->sim->error = SIM_ENOMEM;
        sim_stop(g->sim);
        return;
    }
    rp->shared = w;
    w->client = client_new(g);
    if (w->client >= 0) {
        w->last_rev = etcd_revision(g->etcd);
        w->watcher = etcd_watch(g->etcd, w->client, g->spec->prefix, true, on_config_event, w);
    } else {
        w->client = -1;
    }
    if (w->client < 0 || w->watcher < 0) {
        g->watch_failures++;
        rp->watch_failures++;
        watch_wait(g, w);
        return;
    }
    w->state = GW_WATCH_LIVE;
}

bool gw_request_watch(gw_t *g, int r)
{
    gw_replica_t *rp = &g->rep[r];
    int c = client_new(g);
    gw_watch_t *w = NULL;
    if (c >= 0) {
        if (!(w = watch_new(g, r))) {
            g->sim->error = SIM_ENOMEM;
            sim_stop(g->sim);
            return false;
        }
        w->client = c;
        w->last_rev = etcd_revision(g->etcd);
        w->watcher = etcd_watch(g->etcd, c, g->spec->prefix, true, on_config_event, w);
    }
    if (c < 0 || w->watcher < 0) {
        g->watch_failures++;
        rp->watch_failures++;
        return false;
    }
    w->state = GW_WATCH_LIVE;
    return true;
}

/* ---- config pushes --------------------------------------------------------------------- */

void gw_push_event(sim_t *sim, void *obj, uint64_t arg)
{
    gw_t *g = obj;
    const gw_push_t *p = &g->spec->pushes[arg];
    char detail[112];
    snprintf(detail, sizeof detail, "%lld keys under %s, %s", (long long)p->keys, g->spec->prefix,
             p->txn ? "one transaction: one revision" : "separate puts: one revision each");
    sim_log_event(sim, "config_push", "etcd", (double)p->keys, detail);
    /* with the version gate, `_version` is written last (key index `keys`):
     * its own revision, or the transaction's */
    int64_t n = p->keys + (g->spec->version_gate ? 1 : 0);
    int64_t first = p->txn ? etcd_txn(g->etcd, g->spec->prefix, n) : etcd_put(g->etcd, g->spec->prefix, n);
    if (g->spec->version_gate && first > 0) g->push_version_rev[arg] = p->txn ? first : first + p->keys;
}

size_t gw_held_bytes(const gw_t *g)
{
    size_t b = g->nreload_slabs * (RELOAD_SLAB * sizeof(gw_reload_t) + sizeof *g->reload_slabs) +
               g->nwatch_slabs * (WATCH_SLAB * sizeof(gw_watch_t) + sizeof *g->watch_slabs);
    for (int64_t r = 0; g->rep && r < g->spec->slots; r++) b += embc_held_bytes(&g->rep[r].cache);
    return b + etcd_held_bytes(g->etcd);
}
