/* etcd's CPU: one FIFO queue in front of `cores` servers, the pool of the
 * records that travel through it, the fan-out entry of a revision (one
 * `event` job per matching watcher) and the replay entry of a watch from an
 * old revision, and what happens when a job ends: a write is applied and
 * its fan-out queued, a response leaves for its watcher's stream (watch.c,
 * etcd_arrive_event), a range answers (etcd.c, etcd_range_done). The state
 * is described in etcd_internal.h. Everything here runs per event: the
 * queue, the walks and the pool stay together so that they inline. */
#include <stdlib.h>

#include "models/components/etcd/etcd_internal.h"
#include "sim/dist.h"
#include "sim/error.h"
#include "sim/stats.h"

/* ---- the record pool ----------------------------------------------------- */

etcd_msg_t *etcd_msg_alloc(etcd_t *e)
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

/* ---- the queue ----------------------------------------------------------- */

static void cpu_done_event(sim_t *sim, void *obj, uint64_t arg);

/* Start queued work on free cores. A fan-out entry yields one event job per
 * call (next eligible watcher) and leaves the queue when it has none. */
static void cpu_dispatch(etcd_t *e);

void etcd_cpu_enqueue(etcd_t *e, etcd_msg_t *m)
{
    m->next = NULL;
    if (e->qtail) e->qtail->next = m; else e->qhead = m;
    e->qtail = m;
    e->nqueue++;
    cpu_dispatch(e);
}

void etcd_cpu_work(etcd_t *e, sim_time_t demand)
{
    etcd_msg_t *m = etcd_msg_alloc(e);
    if (!m) {
        etcd_oom(e);
        return;
    }
    m->kind = MSG_WORK;
    m->demand = demand;
    etcd_cpu_enqueue(e, m);
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

/* The next revision a replay entry hands to its watcher (its first key and
 * its events), or false when done (or the watcher closed: the rest costs
 * nothing). Walks the history records from m->group, skipping writes under
 * other prefixes. */
static bool replay_next(etcd_t *e, etcd_msg_t *m, int64_t *rev, int32_t *key, int32_t *nev)
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
        *key = (int32_t)((m->revision - h->first) * h->per);
        *nev = h->per;
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
            int64_t rev = m->revision;
            int32_t key = m->key, nev = m->nev;
            if (m->kind == MSG_FANOUT) wid = fanout_next(e, m);
            else if (replay_next(e, m, &rev, &key, &nev)) wid = m->ref;
            if (wid >= 0) {
                job = etcd_msg_alloc(e);
                if (!job) {
                    etcd_oom(e);
                    return;
                }
                job->kind = MSG_EVENT;
                job->ref = wid;
                job->group = (int32_t)e->watchers[wid].seq_next++;
                job->revision = rev;
                job->key = key;
                job->nev = nev;
                job->demand = nev * e->spec->cost_event;
                if (m->kind == MSG_FANOUT) e->n.events_fanned += (uint64_t)nev;
                else e->n.events_replayed += (uint64_t)nev;
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

/* A write's job ended: it is applied, and its revision's fan-out queued,
 * once every earlier revision is (etcd applies in revision order). Write
 * jobs start in revision order, so only one that ended before a longer,
 * earlier one on another core waits (a transaction takes n x put): at most
 * cores - 1 wait, in `early`, sorted by revision. */
static void apply_writes(etcd_t *e, etcd_msg_t *m)
{
    etcd_msg_t **p = &e->early;
    while (*p && (*p)->revision < m->revision) p = &(*p)->next;
    m->next = *p;
    *p = m;
    while (e->early && e->early->revision == e->applied + 1) {
        m = e->early;
        e->early = m->next;
        e->applied = m->revision;
        m->kind = MSG_FANOUT;     /* the same record, now the revision's fan-out entry */
        m->group = -1;
        m->cursor = -1;
        etcd_cpu_enqueue(e, m);
    }
}

/* A response leaves for its watcher's stream: propagation, never ahead of
 * the watcher's previous response (revision order per watcher). */
static void response_leave(etcd_t *e, etcd_watcher_t *w, etcd_msg_t *m)
{
    sim_time_t d = e->prop_const >= 0 ? e->prop_const
                                      : sim_time_from_s(sim_dist_sample(&e->spec->propagation, e->rng_prop));
    sim_time_t t = sim_now(e->sim) + d;
    if (t < w->last_arrival) t = w->last_arrival;
    w->last_arrival = t;
    m->next = NULL;
    sim_schedule_at(e->sim, t, etcd_arrive_event, e, (uint64_t)(uintptr_t)m);
}

/* A watcher's event job ended. Its jobs start in revision order (fan-out
 * and replay entries are queued in revision order) and carry a sequence
 * number (`group`); one that ends before an earlier, longer one (a
 * transaction's response costs n x event) waits in `held` until that one
 * has left: at most cores - 1 wait. uint32 arithmetic: the numbers wrap. */
static void events_leave(etcd_t *e, etcd_watcher_t *w, etcd_msg_t *m)
{
    if ((uint32_t)m->group != w->seq_done) {
        etcd_msg_t **p = &w->held;
        while (*p && (uint32_t)((uint32_t)(*p)->group - w->seq_done) < (uint32_t)((uint32_t)m->group - w->seq_done))
            p = &(*p)->next;
        m->next = *p;
        *p = m;
        return;
    }
    response_leave(e, w, m);
    w->seq_done++;
    while (w->held && (uint32_t)w->held->group == w->seq_done) {
        m = w->held;
        w->held = m->next;
        response_leave(e, w, m);
        w->seq_done++;
    }
}

/* A CPU job ended. As at a station, the freed core first takes the next
 * queued work, then the job's effect happens: a write is applied and its
 * revision's fan-out queued; a response leaves for its watcher's stream. */
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
        apply_writes(e, m);
        break;
    case MSG_EVENT: {
        etcd_watcher_t *w = &e->watchers[m->ref];
        if (!w->open) {
            e->n.events_dropped += (uint64_t)m->nev;
            msg_free(e, m);
            break;
        }
        events_leave(e, w, m);
        break;
    }
    case MSG_RANGE:
        etcd_range_done(e, m->ref);
        msg_free(e, m);
        break;
    default:
        msg_free(e, m);
        break;
    }
}
