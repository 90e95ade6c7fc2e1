/* etcd's watches and streams: a watch (from now or from a start revision,
 * refused only when that revision is compacted: no lease is involved), the
 * stream of each client that takes responses in order (etcd_ack unblocks
 * it), the stream buffer, the victims whose responses wait for room and
 * their retries every victim_retry, and the closing of a stream (a client
 * closed, a partition). Responses (one revision's events each) come from
 * the CPU queue (cpu.c) through etcd_arrive_event; a replay is queued there
 * too. The state is described in etcd_internal.h. */
#include "models/components/etcd/etcd.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "models/components/etcd/etcd_internal.h"
#include "sim/error.h"

/* ---- delivery ------------------------------------------------------------ */

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
        int64_t rev = m->revision, key = m->key, nev = m->nev;
        msg_free(e, m);
        etcd_watcher_t *w = &e->watchers[wid];
        if (!w->auto_ack) c->blocked = wid;
        e->n.events_delivered += (uint64_t)nev;
        e->n.responses_delivered++;
        e->win_delivered += (uint64_t)nev;
        if (w->cb) w->cb(e->sim, w->ctx, wid, rev, key, nev);
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

/* A response reaches its watcher's stream: into the buffer if the watcher
 * has nothing pending and the buffer has room (then the client may take it
 * at once), else behind the watcher's pending responses (making it a
 * victim). */
void etcd_arrive_event(sim_t *sim, void *obj, uint64_t arg)
{
    (void)sim;
    etcd_t *e = obj;
    etcd_msg_t *m = (etcd_msg_t *)(uintptr_t)arg;
    int wid = m->ref;
    etcd_watcher_t *w = &e->watchers[wid];
    if (!w->open) {
        e->n.events_dropped += (uint64_t)m->nev;
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
                    if (etcd_grow((void **)&e->drain, &e->drain_cap, e->ndrain + 1, sizeof *e->drain)) {
                        etcd_oom(e);
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

/* ---- closing a stream ---------------------------------------------------- */

/* Free a chain of responses; returns the events they held. */
static uint64_t msg_free_list(etcd_t *e, etcd_msg_t *m)
{
    uint64_t events = 0;
    while (m) {
        etcd_msg_t *next = m->next;
        events += (uint64_t)m->nev;
        msg_free(e, m);
        m = next;
    }
    return events;
}

/* Close a client's stream: its watchers go (unlinked from their prefix
 * lists, their pending responses dropped; responses still travelling are
 * dropped when they surface), and so do the buffered responses. The watchers stay
 * chained through cnext from `whead` (returned) for the caller. */
int etcd_stream_close(etcd_t *e, int cid)
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
        e->n.events_dropped += msg_free_list(e, w->phead) + msg_free_list(e, w->held);
        w->held = NULL;
        w->phead = w->ptail = NULL;
        w->npending = 0;
        e->n.watchers--;
    }
    c->whead = -1;
    e->n.events_dropped += msg_free_list(e, c->bhead);
    c->bhead = c->btail = NULL;
    c->nbuf = 0;
    c->blocked = -1;
    return head;
}

/* ---- watches ------------------------------------------------------------- */

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
        if (!(replay = etcd_msg_alloc(e))) {
            etcd_oom(e);
            return SIM_ENOMEM;
        }
    }
    int pid = etcd_prefix_intern(e, prefix);
    if (pid < 0 || etcd_grow((void **)&e->watchers, &e->watchers_cap, e->nwatchers + 1, sizeof *e->watchers)) {
        if (replay) msg_free(e, replay);
        etcd_oom(e);
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
        replay->nev = 0;
        etcd_cpu_enqueue(e, replay);
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

int64_t etcd_client_buffered(const etcd_t *e, int cid)
{
    return valid_client(e, cid) && e->clients[cid].open ? e->clients[cid].nbuf : 0;
}

int64_t etcd_watcher_pending(const etcd_t *e, int wid)
{
    return valid_watcher(e, wid) && e->watchers[wid].open ? e->watchers[wid].npending : 0;
}
