/* etcd's clients: a connection (clientv3.New), which holds no lease, and
 * the lease a client may be granted (concurrency.NewSession and the like)
 * against the lease quota, kept alive every TTL/3 while the client is open
 * and left to expire TTL after its last keepalive once it is closed.
 * Connects, grants and keepalives are CPU jobs (cpu.c); closing a client
 * closes its stream (watch.c). The state is described in etcd_internal.h. */
#include "models/components/etcd/etcd.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "models/components/etcd/etcd_internal.h"
#include "sim/error.h"

void etcd_lease_expire_event(sim_t *sim, void *obj, uint64_t arg)
{
    (void)sim;
    etcd_t *e = obj;
    etcd_client_t *c = &e->clients[arg];
    c->lease_timer = (sim_timer_t){0, 0};
    if (!c->lease_live) return;
    c->lease_live = false;
    e->n.leases_in_use--;
    e->n.leases_expired++;
    if (c->open) {   /* in a partition: the client lives on without its lease */
        e->n.keepalive_streams--;
        e->leases_lost++;
    }
}

void etcd_keepalive_event(sim_t *sim, void *obj, uint64_t arg)
{
    etcd_t *e = obj;
    etcd_client_t *c = &e->clients[arg];
    c->lease_timer = (sim_timer_t){0, 0};
    if (!c->open || !c->lease_live) return;
    e->n.keepalives++;
    c->last_keepalive = sim_now(sim);
    c->lease_timer = sim_schedule_in(sim, e->ka_period, etcd_keepalive_event, e, arg);
    etcd_cpu_work(e, e->spec->cost_keepalive);
}

int etcd_client_open(etcd_t *e)
{
    if (e->partitioned) {
        e->n.partition_failures++;
        return ETCD_ERR_UNAVAILABLE;
    }
    if (etcd_grow((void **)&e->clients, &e->clients_cap, e->nclients + 1, sizeof *e->clients)) {
        etcd_oom(e);
        return SIM_ENOMEM;
    }
    etcd_cpu_work(e, e->spec->cost_connect);
    int cid = e->nclients++;
    etcd_client_t *c = &e->clients[cid];
    memset(c, 0, sizeof *c);
    c->open = true;
    c->blocked = -1;
    c->whead = -1;
    e->n.connections++;
    return cid;
}

int etcd_lease_grant(etcd_t *e, int cid)
{
    sim_t *sim = e->sim;
    if (!valid_client(e, cid) || !e->clients[cid].open || e->clients[cid].lease_live) return -1;
    if (e->partitioned) {
        e->n.partition_failures++;
        return ETCD_ERR_UNAVAILABLE;
    }
    etcd_cpu_work(e, e->spec->cost_grant);
    if (e->n.leases_in_use >= e->spec->lease_quota) {
        e->n.grant_failures++;
        e->episode_failures++;
        if (!e->quota_episode) {
            char detail[128];
            snprintf(detail, sizeof detail, "%" PRId64 " leases in use (quota %" PRId64 "): lease grants fail",
                     e->n.leases_in_use, e->spec->lease_quota);
            sim_log_event(sim, "lease_quota_exhausted", "etcd", (double)e->n.leases_in_use, detail);
            e->quota_episode = true;
        }
        return ETCD_ERR_LEASE_QUOTA;
    }
    if (e->quota_episode) {
        char detail[96];
        snprintf(detail, sizeof detail, "%" PRIu64 " grants failed in the episode", e->episode_failures);
        sim_log_event(sim, "lease_quota_recovered", "etcd", (double)e->episode_failures, detail);
        e->quota_episode = false;
        e->episode_failures = 0;
    }
    etcd_client_t *c = &e->clients[cid];
    sim_cancel(sim, &c->lease_timer);   /* an expired lease's timer has fired; nothing pending */
    c->lease_live = true;
    c->last_keepalive = sim_now(sim);
    c->lease_timer = sim_schedule_in(sim, e->ka_period, etcd_keepalive_event, e, (uint64_t)cid);
    e->n.grants++;
    e->n.leases_in_use++;
    e->n.keepalive_streams++;
    return 0;
}

void etcd_client_close(etcd_t *e, int cid)
{
    if (!valid_client(e, cid) || !e->clients[cid].open) return;
    etcd_client_t *c = &e->clients[cid];
    c->open = false;
    e->n.connections--;
    etcd_stream_close(e, cid);
    /* The lease is not revoked: it expires TTL after the last keepalive
     * (unless it already has, in a partition). */
    sim_cancel(e->sim, &c->lease_timer);
    if (c->lease_live) {
        e->n.keepalive_streams--;
        c->lease_timer = sim_schedule_at(e->sim, c->last_keepalive + e->spec->lease_ttl, etcd_lease_expire_event, e,
                                         (uint64_t)cid);
    }
    if (e->vhead < 0 && sim_timer_pending(&e->victim_timer)) sim_cancel(e->sim, &e->victim_timer);
}

bool etcd_client_lease_live(const etcd_t *e, int cid)
{
    return valid_client(e, cid) && e->clients[cid].open && e->clients[cid].lease_live;
}
