/* etcd: the configuration store the RAG gateway watches, under load.
 *
 *   etcd:
 *     cores: 2                  # CPU of the leader that does the work below
 *     propagation: 2ms          # fan-out to the watcher's stream: duration or distribution
 *     cost: {put: 100us, event: 20us, grant: 50us, keepalive: 10us, connect: 200us}
 *     stream_buffer: 128        # responses buffered per watch stream (etcd chanBufLen)
 *     victim_retry: 10ms        # slow watchers (victims) retried this often
 *     lease_quota: 65536        # scenario quota on leases in use ("unbounded": none)
 *     lease_ttl: 60s            # TTL the clients ask for (>= 2s, etcd's minimum)
 *     memory: {base: 100MiB, per_connection: 10KiB, per_stream: 10KiB, per_watcher: 1KiB}
 *
 * What is modelled (docs/model-etcd.md has the equations and every
 * simplification):
 *  - A key space with one global revision. etcd_put(prefix, n) writes n keys,
 *    each its own revision, each a `put` CPU job (FIFO). When a key's put job
 *    ends, every watcher whose prefix is a prefix of the put's prefix gets
 *    one event: an `event` CPU job (the server's fan-out), then `propagation`,
 *    then the watcher's stream. Events are never merged; a watcher sees its
 *    events in revision order.
 *  - One stream per client (created by the first watch); the client takes
 *    responses off it in order. An auto-ack watcher's responses are taken at
 *    once; a response of a non-auto-ack watcher blocks the stream (a receive
 *    loop inside a synchronous handler) until etcd_ack(). A stream holds at
 *    most `stream_buffer` untaken responses; an event that finds it full
 *    makes its watcher a victim: its events wait, in order, and every
 *    `victim_retry` the victims are moved into the room their streams have.
 *  - A client is a connection plus a lease (TTL lease_ttl) kept alive every
 *    TTL/3 while the client is open; a closed client's lease expires TTL
 *    after its last keepalive. A grant that finds lease_quota leases in use
 *    fails and so does the open.
 *  - All CPU work (connect, grant, keepalive, put, event) is a job in one
 *    FIFO queue in front of `cores` servers (a station, built in so that a
 *    key's fan-out is one queue entry handing out one event job per watcher:
 *    memory O(keys), not O(keys x watchers)), so keepalives, connections
 *    and fan-out delay each other.
 *
 * Ids: client and watcher ids are indexes that are never reused (arrays grow
 * by doubling). Events in flight are pooled records: no malloc per event in
 * steady state. Costs: O(1) per CPU job, per keepalive and per event;
 * O(prefixes) per key at fan-out; O(victims) per retry pass.
 *
 * Random stream: "etcd/propagation" (one draw per event, only when the
 * propagation delay is not a constant). */
#ifndef MODELS_ETCD_H
#define MODELS_ETCD_H

#include <stdbool.h>
#include <stdint.h>

#include "sim/cfg.h"
#include "sim/dist.h"
#include "sim/sim.h"

typedef struct etcd_spec {
    int64_t cores;                /* CPU servers of the leader (default 2) */
    sim_dist_t propagation;       /* seconds: fan-out to the stream (default 2 ms) */
    sim_time_t cost_put;          /* CPU per key written (default 100 us) */
    sim_time_t cost_event;        /* CPU per event per watcher (default 20 us) */
    sim_time_t cost_grant;        /* CPU per lease grant, failed ones too (default 50 us) */
    sim_time_t cost_keepalive;    /* CPU per keepalive (default 10 us) */
    sim_time_t cost_connect;      /* CPU per connection set-up (default 200 us) */
    int64_t stream_buffer;        /* untaken responses per stream (default 128) */
    sim_time_t victim_retry;      /* victim retry period (default 10 ms) */
    int64_t lease_quota;          /* leases in use at most; INT64_MAX = none (default 65536) */
    sim_time_t lease_ttl;         /* >= 2 s (default 60 s) */
    int64_t mem_base;             /* bytes (default 100 MiB) */
    int64_t mem_per_connection;   /* bytes (default 10 KiB) */
    int64_t mem_per_stream;       /* bytes (default 10 KiB) */
    int64_t mem_per_watcher;      /* bytes (default 1 KiB) */
} etcd_spec_t;

/* All defaults (the values above). */
void etcd_spec_default(etcd_spec_t *s);
/* Parse the `etcd` mapping; `map` may be NULL (or null) for all defaults.
 * Every key goes through a getter (unknown keys are left for
 * sim_cfg_check_unused). Returns 0 or SIM_ECONFIG after reporting to d; the
 * spec must be finalised with etcd_spec_fini either way. */
int etcd_spec_parse(sim_diag_t *d, sim_cfg_node_t *map, etcd_spec_t *spec);
void etcd_spec_fini(etcd_spec_t *spec);

typedef struct etcd etcd_t;

/* An event handed to the client: `watcher` is the id etcd_watch returned,
 * `key` the key's index within its put (0 .. n-1). Called from inside the
 * run; it may call any etcd_ function (etcd_ack of this watcher included). */
typedef void (*etcd_event_fn)(sim_t *sim, void *ctx, int watcher, int64_t revision, int64_t key);

/* Build etcd in run `sim`: registers the etcd_* time series, its sampler
 * and warm-up hook (which restarts the CPU busy average). `spec` must
 * outlive it. NULL on OOM. */
etcd_t *etcd_create(sim_t *sim, const etcd_spec_t *spec);
/* Free everything (NULL is a no-op). Its events stay scheduled: destroy it
 * only when the run is over, before the sim. */
void etcd_destroy(etcd_t *e);

/* Write keys 0..nkeys-1 under `prefix` (copied once per distinct prefix):
 * revisions first .. first+nkeys-1, assigned now; each key's put job enters
 * the CPU queue now, in order. Returns the first revision, or SIM_EINVAL
 * (prefix NULL, nkeys < 1). O(nkeys) records. */
int64_t etcd_put(etcd_t *e, const char *prefix, int64_t nkeys);

/* Open a client: a connection (a `connect` CPU job) and a lease grant (a
 * `grant` CPU job), both submitted now; the client is usable at once.
 * Returns the client id, or -1 when the lease quota is exhausted (the
 * attempt still costs connect + grant CPU; counted in grant_failures; the
 * first failure after a success logs "lease_quota_exhausted", the next
 * success "lease_quota_recovered"). */
int etcd_client_open(etcd_t *e);
/* Close a client: its connection, stream and watchers go at once (responses
 * buffered or pending are dropped, events in flight are dropped when they
 * arrive); its lease is not revoked and expires lease_ttl after its last
 * keepalive. Unknown or closed ids are ignored. */
void etcd_client_close(etcd_t *e, int client);

/* Watch `prefix` (copied once per distinct prefix) on `client`: the stream
 * is created by the client's first watch. The watcher gets the events of
 * the revisions applied (put job ended) from now on: etcd's watch without a
 * start revision. Costs no CPU. `cb` may be NULL (events are counted
 * and taken). Returns the watcher id, or -1 (unknown or closed client,
 * NULL prefix) or SIM_ENOMEM. */
int etcd_watch(etcd_t *e, int client, const char *prefix, bool auto_ack, etcd_event_fn cb, void *ctx);

/* The handler of a non-auto-ack watcher is done with its response: the
 * client takes the next responses of its stream now. Ignored unless the
 * stream is blocked on this watcher's response. */
void etcd_ack(etcd_t *e, int watcher);

/* Counters are totals since the start of the run (not reset at warm-up);
 * the rest are values now. */
typedef struct {
    int64_t revision;             /* last revision assigned (etcd_put) */
    int64_t applied_revision;     /* last revision whose put job ended (the series) */
    int64_t leases_in_use;        /* granted and not expired */
    int64_t connections;          /* open clients */
    int64_t streams;              /* open clients with a stream */
    int64_t watchers;             /* watchers of open clients */
    int64_t slow_watchers;        /* victims now */
    uint64_t victims_total;       /* times a watcher became a victim */
    uint64_t events_fanned;       /* event CPU jobs started (watchers x keys) */
    uint64_t events_delivered;    /* responses taken by clients (callbacks) */
    uint64_t events_dropped;      /* fanned-out events of watchers closed before delivery */
    uint64_t grants, grant_failures;
    uint64_t keepalives;          /* keepalives sent (CPU jobs) */
    uint64_t cpu_jobs_done;       /* CPU jobs completed (all kinds) */
    int64_t cpu_queued;           /* CPU queue entries waiting (a key's fan-out counts once) */
    double cpu_busy_ratio;        /* time-averaged busy cores / cores since warm-up */
    int64_t memory_bytes;         /* base + connections, streams, watchers x their costs */
} etcd_stats_t;

void etcd_stats(const etcd_t *e, etcd_stats_t *out);

/* Untaken responses in a client's stream buffer; 0 for unknown or closed clients. */
int64_t etcd_client_buffered(const etcd_t *e, int client);
/* Events a victim watcher holds back; 0 for unknown, closed or healthy watchers. */
int64_t etcd_watcher_pending(const etcd_t *e, int watcher);

#endif
