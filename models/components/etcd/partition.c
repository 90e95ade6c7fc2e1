/* etcd's partitions between the clients and etcd: at the start every
 * watch stream breaks (watch.c closes them, then every watcher hears of
 * it), ranges in flight are cut and keepalives stop arriving (a client's
 * lease, if it holds one, may expire: client.c's timers); at the heal every
 * open client reconnects and renews its lease if it holds one that is still
 * live (CPU jobs, cpu.c). The state is described in etcd_internal.h. */
#include "models/components/etcd/etcd.h"

#include <inttypes.h>
#include <stdio.h>

#include "models/components/etcd/etcd_internal.h"
#include "sim/error.h"

static int scratch_push(etcd_t *e, int v)
{
    if (etcd_grow((void **)&e->scratch, &e->scratch_cap, e->nscratch + 1, sizeof *e->scratch)) return SIM_ENOMEM;
    e->scratch[e->nscratch++] = v;
    return 0;
}

/* The partition heals: every open client reconnects (its gRPC connection:
 * a `connect` job) and, if it holds a lease that outlived the partition,
 * renews it at once (clientv3's keepalive loop sends the renewals that fell
 * due) and every TTL/3 again. */
static void heal_event(sim_t *sim, void *obj, uint64_t arg)
{
    (void)arg;
    etcd_t *e = obj;
    e->heal_timer = (sim_timer_t){0, 0};
    e->partitioned = false;
    sim_time_t now = sim_now(sim);
    int64_t reconnected = 0, lost = e->leases_lost;
    for (int cid = 0; cid < e->nclients; cid++) {
        etcd_client_t *c = &e->clients[cid];
        if (!c->open) continue;
        reconnected++;
        etcd_cpu_work(e, e->spec->cost_connect);
        if (!c->lease_live) continue;
        sim_cancel(sim, &c->lease_timer);   /* the pending expiry */
        e->n.keepalives++;
        c->last_keepalive = now;
        etcd_cpu_work(e, e->spec->cost_keepalive);
        c->lease_timer = sim_schedule_in(sim, e->ka_period, etcd_keepalive_event, e, (uint64_t)cid);
    }
    char detail[160];
    snprintf(detail, sizeof detail, "%" PRId64 " clients reconnect; %" PRId64 " open clients' leases expired in the partition",
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
    e->leases_lost = 0;
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
            c->lease_timer = sim_schedule_at(sim, c->last_keepalive + e->spec->lease_ttl, etcd_lease_expire_event, e,
                                             (uint64_t)cid);
        }
        if (!c->has_stream) continue;
        streams++;
        for (int wid = etcd_stream_close(e, cid); wid >= 0; wid = e->watchers[wid].cnext)
            if (scratch_push(e, wid)) {
                etcd_oom(e);
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
            etcd_oom(e);
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
            if (w->cb) w->cb(sim, w->ctx, wid, ETCD_ERR_UNAVAILABLE, -1, 0);
        } else {
            etcd_range_t *x = &e->ranges[e->scratch[i]];
            if (e->clients[x->client].open) x->cb(sim, x->ctx, x->client, ETCD_ERR_UNAVAILABLE);
        }
    }
}

bool etcd_partitioned(const etcd_t *e) { return e->partitioned; }
