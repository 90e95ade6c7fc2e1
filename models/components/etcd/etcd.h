/* etcd: the configuration store the RAG gateway watches, under load.
 *
 *   etcd:
 *     cores: 2                  # CPU of the leader that does the work below
 *     propagation: 2ms          # fan-out to the watcher's stream: duration or distribution
 *     cost: {put: 100us, event: 20us, grant: 50us, keepalive: 10us, connect: 200us,
 *            range: 1ms, range_key: 5us}
 *     stream_buffer: 128        # responses buffered per watch stream (etcd chanBufLen)
 *     victim_retry: 10ms        # slow watchers (victims) retried this often
 *     lease_quota: unbounded    # scenario quota on leases in use (etcd has none)
 *     lease_ttl: 60s            # TTL the clients ask for (>= 2s, etcd's minimum)
 *     compaction_retention: unbounded   # --auto-compaction-mode=revision --auto-compaction-retention=N
 *     memory: {base: 100MiB, per_connection: 10KiB, per_stream: 10KiB, per_watcher: 1KiB}
 *
 * What is modelled (docs/models/etcd.md has the equations and every
 * simplification; docs/internals/models.md the data structures):
 *  - A key space with one global revision. etcd_put(prefix, n) writes n keys
 *    as n separate puts: n revisions, each a `put` CPU job (FIFO).
 *    etcd_txn(prefix, n) writes them in one transaction: ONE revision, one
 *    CPU job of n x put. When a revision's job ends, every watcher whose
 *    prefix is a prefix of the write's prefix gets one response holding the
 *    revision's events (1 for a put, n for a transaction): an `event` CPU
 *    job of events x event (the server's fan-out), then `propagation`, then
 *    the watcher's stream. Revisions are never merged; a watcher sees its
 *    responses in revision order.
 *  - A revision history: one record per write (prefix, first revision,
 *    revisions, keys per revision), so memory is O(writes). A watch with a
 *    start revision (clientv3 WithRev) is replayed from it: one `event` job
 *    per missed revision under its prefix, through the stream, in revision
 *    order, before its live events. With a compaction retention N,
 *    revisions up to max(0, rev - N) are compacted: a watch from one of them
 *    fails (ErrCompacted). Nothing else decides whether a watch can start
 *    from an old revision: a watch holds no lease.
 *  - A Range over a prefix: a CPU job (range + keys x range_key) whose
 *    callback gets the store revision when it ends (a client then watches
 *    from that revision + 1).
 *  - One watch stream per client (created by the first watch); the client
 *    takes responses off it in order. An auto-ack watcher's responses are
 *    taken at once; a response of a non-auto-ack watcher blocks the stream
 *    (a receive loop inside a synchronous handler) until etcd_ack(). A
 *    stream holds at most `stream_buffer` untaken responses; a response that
 *    finds it full makes its watcher a victim: its responses wait, in order,
 *    and every `victim_retry` the victims are moved into the room their
 *    streams have.
 *  - A client is a connection (clientv3.New: one gRPC connection; its
 *    watches share one watch stream). It holds no lease: leases belong to
 *    what a client creates with one (a session, a lock, an election, an
 *    ephemeral key), etcd_lease_grant here. A client holds at most one
 *    lease (its session), kept alive every TTL/3 over the client's
 *    keepalive stream while the client is open; a closed client's lease
 *    expires TTL after its last keepalive. A grant that finds lease_quota
 *    leases in use fails (there is no quota unless a scenario sets one).
 *  - A partition between the clients and etcd (etcd_partition): every
 *    watch stream breaks at once (each watcher's callback is called once
 *    with ETCD_ERR_UNAVAILABLE), buffered, pending and travelling responses
 *    are dropped, ranges in flight fail, keepalives do not arrive (a lease
 *    whose TTL runs out during the partition expires), opens, grants,
 *    watches and ranges fail; puts still apply. At the heal every open
 *    client reconnects (a `connect` job) and renews its lease if it holds
 *    one that is still live.
 *  - All CPU work (connect, grant, keepalive, put, event, range) is a job in
 *    one FIFO queue in front of `cores` servers (a station, built in so that
 *    a revision's fan-out is one queue entry handing out one event job per
 *    watcher: memory O(revisions), not O(revisions x watchers); a replay is
 *    one entry too), so keepalives, connections, ranges and fan-out delay
 *    each other.
 *
 * Ids: client and watcher ids are indexes that are never reused (arrays grow
 * by doubling). Responses in flight are pooled records: no malloc per event
 * in steady state. Costs: O(1) per CPU job, per keepalive and per response;
 * O(prefixes) per revision at fan-out and per range; O(log writes) per
 * watch with a start revision, O(writes) per replay entry over its whole
 * replay; O(victims) per retry pass; O(clients + watchers + ranges) per
 * partition start and heal.
 *
 * Random stream: "etcd/propagation" (one draw per response, only when the
 * propagation delay is not a constant). */
#ifndef MODELS_COMPONENTS_ETCD_ETCD_H
#define MODELS_COMPONENTS_ETCD_ETCD_H

#include <stdbool.h>
#include <stdint.h>

#include "sim/cfg.h"
#include "sim/dist.h"
#include "sim/error.h"
#include "sim/sim.h"

typedef struct etcd_spec {
    int64_t cores;                /* CPU servers of the leader (default 2) */
    sim_dist_t propagation;       /* seconds: fan-out to the stream (default 2 ms) */
    sim_time_t cost_put;          /* CPU per key written (default 100 us) */
    sim_time_t cost_event;        /* CPU per event per watcher (default 20 us); a response of n events costs n */
    sim_time_t cost_grant;        /* CPU per lease grant, failed ones too (default 50 us) */
    sim_time_t cost_keepalive;    /* CPU per keepalive (default 10 us) */
    sim_time_t cost_connect;      /* CPU per connection set-up (default 200 us) */
    sim_time_t cost_range;        /* CPU per Range request (default 1 ms, an estimate) */
    sim_time_t cost_range_key;    /* CPU per key a Range returns (default 5 us, an estimate) */
    int64_t stream_buffer;        /* untaken responses per stream (default 128) */
    sim_time_t victim_retry;      /* victim retry period (default 10 ms) */
    int64_t lease_quota;          /* leases in use at most; INT64_MAX = none (default: none) */
    sim_time_t lease_ttl;         /* >= 2 s (default 60 s) */
    int64_t compaction_retention; /* revisions kept, >= 1; INT64_MAX = no compaction (default) */
    int64_t mem_base;             /* bytes (default 100 MiB) */
    int64_t mem_per_connection;   /* bytes (default 10 KiB) */
    int64_t mem_per_stream;       /* bytes per watch or keepalive stream (default 10 KiB) */
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

/* Errors of the calls below, distinct codes of the project's enum (and the
 * gRPC status codes clientv3 sees): a watch from a compacted revision
 * (ErrCompacted, "mvcc: required revision has been compacted", OutOfRange),
 * a call during a partition (Unavailable) and a lease grant refused by the
 * scenario's lease quota (ResourceExhausted; real etcd has no such quota). */
#define ETCD_ERR_COMPACTED SIM_ERANGE
#define ETCD_ERR_UNAVAILABLE SIM_ESTATE
#define ETCD_ERR_LEASE_QUOTA SIM_EEXHAUSTED

/* A response handed to the client: `watcher` is the id etcd_watch returned,
 * `revision` the revision of all its events, `nevents` how many (1 for a
 * put, n for a transaction of n keys) and `key` the index of the first
 * within its write (a put of n keys: its keys are 0 .. n-1, one per
 * revision; a transaction: key 0, nevents n). Called from inside the run;
 * it may call any etcd_ function (etcd_ack of this watcher included).
 *
 * A broken watch is one special call: revision = ETCD_ERR_UNAVAILABLE (< 0),
 * key = -1 and nevents = 0, once, when a partition breaks the stream
 * (clientv3: a WatchResponse whose Err() is set and then a closed channel).
 * The watcher is closed by then: no more responses; its client stays open. */
typedef void (*etcd_event_fn)(sim_t *sim, void *ctx, int watcher, int64_t revision, int64_t key, int64_t nevents);

/* A Range ended: `revision` is the store's revision when its CPU job ended
 * (the response header's revision), or ETCD_ERR_UNAVAILABLE when a
 * partition cut the request (called at the partition's start). */
typedef void (*etcd_range_fn)(sim_t *sim, void *ctx, int client, int64_t revision);

/* Build etcd in run `sim`: registers the etcd_* time series, its sampler
 * and warm-up hook (which restarts the CPU busy average). `spec` must
 * outlive it. NULL on OOM. */
etcd_t *etcd_create(sim_t *sim, const etcd_spec_t *spec);
/* Free everything (NULL is a no-op). Its events stay scheduled: destroy it
 * only when the run is over, before the sim. */
void etcd_destroy(etcd_t *e);
/* Bytes the simulator holds for this etcd (its record pool, prefixes,
 * clients, watchers, history, ranges): what counts against the run's
 * memory budget (--max-memory), not the modelled server's memory
 * (etcd_stats().memory_bytes). O(prefixes). */
size_t etcd_held_bytes(const etcd_t *e);

/* Write keys 0..nkeys-1 under `prefix` (copied once per distinct prefix)
 * as nkeys separate puts: revisions first .. first+nkeys-1, assigned now;
 * each key's put job enters the CPU queue now, in order. Returns the first
 * revision, or SIM_EINVAL (prefix NULL, nkeys < 1 or > INT32_MAX). One
 * history record, O(nkeys) CPU jobs. */
int64_t etcd_put(etcd_t *e, const char *prefix, int64_t nkeys);

/* Write keys 0..nkeys-1 under `prefix` in ONE transaction (a Txn of nkeys
 * Puts): one revision, assigned now; one CPU job of nkeys x cost.put; when
 * it ends each matching watcher gets one response with the nkeys events
 * (one event job of nkeys x cost.event). Returns the revision, or
 * SIM_EINVAL as etcd_put. O(1). */
int64_t etcd_txn(etcd_t *e, const char *prefix, int64_t nkeys);

/* Open a client: a connection (a `connect` CPU job submitted now); the
 * client is usable at once. It holds no lease (etcd_lease_grant).
 * Returns the client id, ETCD_ERR_UNAVAILABLE during a partition (no CPU:
 * the request never arrives; counted in partition_failures) or SIM_ENOMEM. */
int etcd_client_open(etcd_t *e);
/* Grant a lease to an open client (what concurrency.NewSession does: a
 * LeaseGrant, then KeepAlive every TTL/3 while the client is open): a
 * `grant` CPU job submitted now. Returns 0; ETCD_ERR_LEASE_QUOTA when
 * lease_quota leases are in use (the attempt still costs grant CPU; counted
 * in grant_failures; the first failure after a success logs
 * "lease_quota_exhausted", the next success "lease_quota_recovered");
 * ETCD_ERR_UNAVAILABLE during a partition (no CPU; partition_failures);
 * -1 for an unknown or closed client or one whose lease is still live (a
 * client holds one lease at most; it may be granted a new one once the old
 * expired); SIM_ENOMEM. */
int etcd_lease_grant(etcd_t *e, int client);
/* Close a client: its connection, streams and watchers go at once
 * (responses buffered or pending are dropped, responses in flight are
 * dropped when they arrive); its lease, if any, is not revoked and expires
 * lease_ttl after its last keepalive. Unknown or closed ids are ignored. */
void etcd_client_close(etcd_t *e, int client);

/* Watch `prefix` (copied once per distinct prefix) on `client`: the stream
 * is created by the client's first watch; no lease is involved. The watcher
 * gets the events of the revisions applied (write job ended) from now on:
 * etcd's watch without a start revision; etcd_watch_from(..., 0, ...).
 * Costs no CPU. `cb` may be NULL (responses are counted and taken).
 * Returns the watcher id, or -1
 * (unknown or closed client, NULL prefix), ETCD_ERR_UNAVAILABLE (partition)
 * or SIM_ENOMEM. */
int etcd_watch(etcd_t *e, int client, const char *prefix, bool auto_ack, etcd_event_fn cb, void *ctx);

/* A watch with a start revision (clientv3 WithRev(start_rev)): every event
 * with revision >= start_rev under `prefix` is delivered. start_rev 0 is
 * etcd_watch. The revisions already applied (start_rev .. store revision)
 * are replayed from the history: one queue entry now that hands out one
 * `event` job per matching revision, in revision order, ahead of the live
 * fan-outs queued after it, so the watcher sees the replay, then the live
 * events, in revision order. A start_rev above the store revision + 1 skips
 * the revisions below it. Whether the client holds a lease plays no part:
 * compaction alone decides. Fails with ETCD_ERR_COMPACTED when 0 <
 * start_rev <= etcd_compacted_revision() (counted in compacted_failures; the first
 * failure after a successful watch with a start revision logs
 * "watch_compacted"), ETCD_ERR_UNAVAILABLE during a partition, SIM_EINVAL
 * for start_rev < 0, otherwise as etcd_watch. O(log writes). */
int etcd_watch_from(etcd_t *e, int client, const char *prefix, int64_t start_rev, bool auto_ack, etcd_event_fn cb,
                    void *ctx);

/* A Range over `prefix` on `client` (a linearizable Get WithPrefix): one
 * CPU job of cost.range + keys x cost.range_key, keys = the distinct keys
 * written under the prefix so far (counted now); when it ends, cb gets the
 * store revision then. No callback if the client is closed before it ends.
 * Returns 0, -1 (unknown or closed client, NULL prefix or cb),
 * ETCD_ERR_UNAVAILABLE (partition) or SIM_ENOMEM. O(prefixes). */
int etcd_range(etcd_t *e, int client, const char *prefix, etcd_range_fn cb, void *ctx);

/* Cut every client off etcd for `duration` from now (a partition on the
 * client side: the operator's puts still apply). Every watch stream breaks
 * at once: each open watcher is closed and its callback called once with
 * ETCD_ERR_UNAVAILABLE (after all of them are closed); buffered, pending
 * and travelling responses are dropped; ranges in flight fail (their
 * callbacks get ETCD_ERR_UNAVAILABLE). Until the heal, keepalives are lost
 * (a lease expires at its last keepalive + TTL if that comes first) and
 * opens, grants, watches and ranges fail with ETCD_ERR_UNAVAILABLE. At the
 * heal every open client reconnects (a `connect` job) and, if it holds a
 * live lease, renews it at once (a `keepalive` job) and keeps renewing
 * every TTL/3. A partition
 * during a partition extends it to the later heal. Logs
 * "watch_streams_broken" and "partition_healed", one line each. O(clients +
 * watchers + ranges). duration <= 0 is ignored. */
void etcd_partition(etcd_t *e, sim_time_t duration);
/* True between a partition's start and its heal. */
bool etcd_partitioned(const etcd_t *e);

/* The store revision (last applied write), and the compacted revision:
 * max(0, revision - compaction_retention), 0 without compaction. */
int64_t etcd_revision(const etcd_t *e);
int64_t etcd_compacted_revision(const etcd_t *e);
/* True if the client is open and holds a lease that has not expired. */
bool etcd_client_lease_live(const etcd_t *e, int client);

/* The handler of a non-auto-ack watcher is done with its response: the
 * client takes the next responses of its stream now. Ignored unless the
 * stream is blocked on this watcher's response. */
void etcd_ack(etcd_t *e, int watcher);

/* Counters are totals since the start of the run (not reset at warm-up);
 * the rest are values now. */
typedef struct {
    int64_t revision;             /* last revision assigned (etcd_put, etcd_txn) */
    int64_t applied_revision;     /* last revision applied: its write job and every earlier one ended (the series) */
    int64_t compacted_revision;   /* max(0, applied - retention); 0 without compaction */
    int64_t history;              /* history records (one per write) */
    int64_t leases_in_use;        /* granted and not expired (closed clients' included) */
    int64_t connections;          /* open clients */
    int64_t streams;              /* open clients with a watch stream */
    int64_t keepalive_streams;    /* open clients keeping a live lease (clientv3's LeaseKeepAlive stream) */
    int64_t watchers;             /* watchers of open clients */
    int64_t slow_watchers;        /* victims now */
    uint64_t victims_total;       /* times a watcher became a victim */
    uint64_t events_fanned;       /* events whose fan-out job started (watchers x keys) */
    uint64_t events_delivered;    /* events taken by clients */
    uint64_t responses_delivered; /* responses taken by clients (callbacks): one per revision per watcher */
    uint64_t events_dropped;      /* fanned-out events of watchers closed (or broken) before delivery */
    uint64_t events_replayed;     /* events whose replay job started (watches with a start revision) */
    uint64_t ranges;              /* Range jobs completed (cut ones included) */
    uint64_t ranges_cut;          /* ranges failed by a partition */
    uint64_t compacted_failures;  /* watches refused with ETCD_ERR_COMPACTED */
    uint64_t partitions;          /* partitions started (an extension is not a new one) */
    uint64_t watchers_broken;     /* watchers whose stream a partition broke */
    uint64_t partition_failures;  /* opens, watches and ranges refused during a partition */
    uint64_t leases_expired;      /* leases that expired (closed clients', and open ones' in a partition) */
    uint64_t grants, grant_failures; /* etcd_lease_grant: granted, refused by the quota */
    uint64_t keepalives;          /* keepalives sent (CPU jobs) */
    uint64_t cpu_jobs_done;       /* CPU jobs completed (all kinds) */
    int64_t cpu_queued;           /* CPU queue entries waiting (a revision's fan-out counts once) */
    double cpu_busy_ratio;        /* time-averaged busy cores / cores since warm-up */
    int64_t memory_bytes;         /* base + connections, watch and keepalive streams, watchers x their costs */
} etcd_stats_t;

void etcd_stats(const etcd_t *e, etcd_stats_t *out);

/* Untaken responses in a client's stream buffer; 0 for unknown or closed clients. */
int64_t etcd_client_buffered(const etcd_t *e, int client);
/* Responses a victim watcher holds back; 0 for unknown, closed or healthy watchers. */
int64_t etcd_watcher_pending(const etcd_t *e, int watcher);

#endif
