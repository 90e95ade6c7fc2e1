/* etcd's internals, shared by the pieces of the model (models/components/etcd/):
 *
 *   etcd.c       the spec, create/destroy, statistics and series; the store:
 *                prefixes, puts and their history, revisions, ranges
 *   cpu.c        the CPU queue: the record pool, the FIFO queue and its
 *                servers, fan-out and replay entries, what a job's end does
 *   watch.c      watches (with a start revision, compaction), the streams the
 *                clients take responses from, victims and their retries
 *   client.c     clients (a connection), the lease a client may be granted,
 *                keepalives, expiry
 *   partition.c  partitions between the clients and etcd, and the heal
 *
 * Not part of the interface (models/components/etcd/etcd.h is): only the
 * files above include it. Functions with external linkage are prefixed
 * etcd_; the small helpers below are static inline so the per-event paths
 * keep them inlined. */
#ifndef MODELS_COMPONENTS_ETCD_ETCD_INTERNAL_H
#define MODELS_COMPONENTS_ETCD_ETCD_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "models/components/etcd/etcd.h"
#include "sim/stats.h"

/* ---- state ----------------------------------------------------------------
 * The CPU is a FIFO queue in front of `cores` servers, like a station, with
 * one difference that keeps a storm's memory O(revisions): the fan-out of
 * one revision is ONE queue entry (MSG_FANOUT) that hands out one `event`
 * job per matching watcher, in watcher order, each time a core takes work
 * from it. That is exactly W event jobs queued at once, without W records.
 *
 * A record (etcd_msg_t) is a queued job, then for an event job a scheduled
 * arrival, then a place in a stream buffer or in a victim's pending queue
 * (chained through `next`): one record is one response, the `nev` events
 * of one revision (1 for a put, n for a transaction of n keys). Records
 * come from a slab pool and go back when the job or the response is over. Clients, watchers and prefixes live in
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

#define ETCD_SLAB 256                           /* records per pool slab */

typedef struct etcd_msg {
    struct etcd_msg *next;        /* pool free list, CPU queue, stream buffer or pending queue */
    int64_t revision;             /* REPLAY: the next one to hand out */
    int32_t key, nev;             /* PUT, FANOUT, EVENT: first key, events (keys) of the revision */
    union {
        sim_time_t demand;        /* WORK, PUT, EVENT, RANGE: CPU time */
        int64_t last;             /* REPLAY: the last revision to hand out */
    };
    int32_t kind;
    int32_t ref;                  /* PUT, FANOUT: the put's prefix; EVENT, REPLAY: watcher id; RANGE: range id */
    int32_t group, cursor;        /* FANOUT: prefix being scanned, next watcher id in it; REPLAY: history
                                   * index; EVENT: group = the watcher's sequence number of the job */
} etcd_msg_t;

typedef struct {
    char *s;                      /* owned copy */
    size_t len;
    int head, tail;               /* open watchers on exactly this prefix, oldest first */
    int64_t nwatchers;
    int64_t maxkeys;              /* keys written under exactly this prefix: the largest put */
} etcd_prefix_t;

/* One write: revisions first .. first + n - 1 under `prefix`, `per` keys
 * each: an etcd_put of n keys is n revisions of 1 key (key k at revision
 * first + k), an etcd_txn of n keys 1 revision of n keys (0 .. n-1).
 * Records are in revision order and contiguous. */
typedef struct {
    int64_t first, n;
    int32_t per;
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
    uint32_t seq_next, seq_done;  /* event jobs started, and left for the stream, in revision order */
    etcd_msg_t *held;             /* event jobs ended ahead of an earlier one still running, by sequence */
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
    /* the client's lease, if it was granted one (etcd_lease_grant); it
     * outlives the connection: live until it expires */
    bool lease_live;
    sim_time_t last_keepalive;
    sim_timer_t lease_timer;      /* next keepalive while open, expiry after close or in a partition */
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
    etcd_msg_t *early;            /* write jobs ended before an earlier revision's: not yet applied */
    etcd_hist_t *hist;            /* one record per write, in revision order */
    int nhist, hist_cap;
    etcd_range_t *ranges;
    int nranges, ranges_cap, rfree;
    bool partitioned;
    sim_time_t heal_at;
    sim_timer_t heal_timer;
    int *scratch;                 /* partition start: broken watchers, then cut ranges */
    int nscratch, scratch_cap;
    int64_t leases_lost;          /* open clients' leases expired in the current partition */
    bool quota_episode;           /* grants failing since the last success */
    uint64_t episode_failures;
    bool compacted_episode;       /* watches refused as compacted since the last good one */
    etcd_stats_t n;               /* the counters and counts of etcd_stats */
    uint64_t win_delivered;       /* events taken this sample interval */
    int col[9];
};

/* ---- shared helpers ------------------------------------------------------ */

/* etcd.c: grow an array to hold `need` elements (doubling); 0 or SIM_ENOMEM. */
int etcd_grow(void **p, int *cap, int need, size_t elsize);
/* etcd.c: out of memory in the middle of the run: stop it with SIM_ENOMEM. */
void etcd_oom(etcd_t *e);
/* etcd.c: index of `s` in the prefix table, added (copied) if new; -1 on OOM. */
int etcd_prefix_intern(etcd_t *e, const char *s);
/* etcd.c: a Range's CPU job ended. */
void etcd_range_done(etcd_t *e, int rid);

/* cpu.c: a record from the pool (`next` NULL), or NULL on OOM. */
etcd_msg_t *etcd_msg_alloc(etcd_t *e);
/* cpu.c: queue `m` behind the CPU queue's tail and start what the free cores can. */
void etcd_cpu_enqueue(etcd_t *e, etcd_msg_t *m);
/* cpu.c: queue a plain CPU job of `demand` (connect, grant, keepalive). */
void etcd_cpu_work(etcd_t *e, sim_time_t demand);

/* watch.c: the event handler of an event reaching its watcher's stream
 * (arg: the record). */
void etcd_arrive_event(sim_t *sim, void *obj, uint64_t arg);
/* watch.c: close a client's stream and its watchers; returns the first of
 * them (chained through cnext). */
int etcd_stream_close(etcd_t *e, int cid);

/* client.c: the event handlers of a client's lease timer (arg: client id). */
void etcd_keepalive_event(sim_t *sim, void *obj, uint64_t arg);
void etcd_lease_expire_event(sim_t *sim, void *obj, uint64_t arg);

/* A record back to the pool (cpu.c allocates them). */
static inline void msg_free(etcd_t *e, etcd_msg_t *m)
{
    m->next = e->free;
    e->free = m;
}

/* Is `p` (a watcher's or a range's prefix) a prefix of `q` (a put's)? */
static inline bool prefix_covers(const etcd_prefix_t *p, const char *q, size_t qlen)
{
    return p->len <= qlen && memcmp(q, p->s, p->len) == 0;
}

static inline bool valid_client(const etcd_t *e, int c) { return c >= 0 && c < e->nclients; }
static inline bool valid_watcher(const etcd_t *e, int w) { return w >= 0 && w < e->nwatchers; }

#endif
