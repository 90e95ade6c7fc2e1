/* etcd's CPU: one FIFO queue in front of `cores` servers, the pool of the
 * records that travel through it, the fan-out entry of a key (one `event`
 * job per matching watcher) and the replay entry of a watch from an old
 * revision, and what happens when a job ends: a put is applied and its
 * fan-out queued, an event leaves for its watcher's stream (watch.c,
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
                job = etcd_msg_alloc(e);
                if (!job) {
                    etcd_oom(e);
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
        etcd_cpu_enqueue(e, m);
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
        sim_schedule_at(sim, t, etcd_arrive_event, e, (uint64_t)(uintptr_t)m);
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
