/* The gateway service: R replicas of a Go process behind a load balancer.
 *
 * Each replica has GOMAXPROCS cores (a station: request handling, GC mark
 * workers and config reloads share them), a Go runtime (models/components/gateway/goruntime.h:
 * goroutines, heap, GC, RSS against the container limit), an in-process
 * embedding cache (models/components/gateway/embcache.h), and an etcd watch on the
 * configuration prefix (models/components/etcd/etcd.h). This module keeps the process's
 * books; the request pipeline (models/rag/request.c) tells it what requests do.
 *
 *   gateway:
 *     replicas: 2
 *     cores: 4                              # GOMAXPROCS
 *     load_balancer: round_robin
 *     handling: {pre: 2ms, post: 1ms}       # CPU per request
 *     memory:
 *       request_live: 64KiB                 # reachable while the request is held
 *       request_alloc: 512KiB               # allocated per request, garbage at once
 *       llm_call: 128KiB                    # held by each LLM call's goroutine until the call ends
 *       index: 0B                           # in-process index, rebuilt by every config reload
 *     runtime: {gogc: 100, gomemlimit: off, memory_limit: 2GiB}   # models/components/gateway/goruntime.h
 *     embedding_cache: {mode: unbounded}   # models/components/gateway/embcache.h
 *     leaks: {blocked_forever: 0, captured_bytes: 1MiB}
 *     startup: 5s
 *     restart_backoff: {initial: 10s, cap: 300s, reset: 10m}
 *     autoscale: {max_replicas: 8, metric: cpu, target: 60%}   # optional: the HPA (hpa.h)
 *
 * Goroutines: one per request held, one per LLM call in flight (including
 * calls whose request already gave up: no context propagation), one per
 * config reload running, and the leaked ones: when a request's deadline
 * passes, its goroutine blocks forever with probability
 * leaks.blocked_forever, keeping captured_bytes reachable until the process
 * dies.
 *
 * Config reloads (per delivered etcd event, the naive watch callback; per
 * revision with config.watch.coalesce): reload.cpu of CPU on the replica's
 * cores, a goroutine, reload.memory of transient heap plus a new copy of
 * the in-process index for its duration; then the old index becomes
 * garbage unless cache entries pin it.
 *
 * etcd clients: a watch needs only a client (a connection); with
 * config.session_per_client every client the gateway opens also creates a
 * session (a lease kept alive every TTL/3), which the lease quota may
 * refuse.
 *
 * Broken watches (an etcd partition, models/components/etcd/etcd.h): the replica retries
 * every config.reconnect_interval from the break. The naive reconnect
 * (config.watch.resume: false) opens a new client (the old one is closed;
 * its session's lease, if any, is left to expire), re-lists the prefix (a
 * Range), does one full reload and watches from the Range's revision + 1.
 * With resume: true a broken watch re-watches from lastRev + 1 on the same
 * client: only the missed events arrive, through the normal watch path; if
 * that revision is compacted (ErrCompacted) it falls back to a re-list on
 * the same client. No lease plays a part (a session that expired in the
 * partition is made anew).
 *
 * When RSS passes the container limit the replica is OOM-killed: every
 * request on it fails, its cache and leaks are gone, and it restarts after
 * the CrashLoopBackOff delay plus `startup`.
 *
 * Autoscaling, as the replica set's (replicas.h): the HPA's sync sets how
 * many replicas are wanted, on `cpu` (busy cores / cores over the sync
 * interval) or `inflight` (requests held per replica). A new replica's
 * process starts (an empty cache, its config watch) and joins the load
 * balancer `startup` later; one scaled away leaves the load balancer at
 * once and its process ends when the last request it holds has ended
 * (while draining it takes no config events and is not sampled). All
 * loops over replicas cover gw_spec_t.slots. */
#ifndef MODELS_COMPONENTS_GATEWAY_GATEWAY_H
#define MODELS_COMPONENTS_GATEWAY_GATEWAY_H

#include <stdbool.h>
#include <stdint.h>

#include "models/components/replicas/backoff.h"
#include "models/components/replicas/hpa.h"
#include "models/components/gateway/embcache.h"
#include "models/components/etcd/etcd.h"
#include "models/components/gateway/goruntime.h"
#include "models/components/replicas/lb.h"
#include "models/queueing/station.h"
#include "sim/dist.h"
#include "sim/scenario.h"

typedef enum { GW_CLIENT_SHARED, GW_CLIENT_PER_WATCH } gw_client_mode_t;

typedef struct {
    sim_time_t at;
    int64_t keys;
    bool txn;                      /* one transaction (one revision), not `keys` separate puts */
} gw_push_t;

typedef struct gw_spec {
    int64_t replicas, cores;
    lb_policy_t lb;
    sim_dist_t pre, post;          /* CPU seconds per request */
    stn_spec_t *stations;          /* one per replica */
    int64_t req_live, req_alloc, llm_bytes, index_bytes;
    gort_spec_t rt;
    embc_spec_t cache;
    double leak_p;
    int64_t leak_bytes;
    sim_time_t startup;
    backoff_spec_t backoff;
    hpa_spec_t autoscale;          /* the HPA on cpu or inflight (enabled false: a fixed count) */
    int64_t slots;                 /* replicas that may exist: max(replicas, autoscale.max_replicas) */

    /* configuration through etcd (`config:` and `etcd:`) */
    bool has_config;
    const char *prefix;
    gw_client_mode_t client_mode;
    bool watch_per_request;        /* the article's bug: a new client and watch per request, never closed */
    bool session_per_client;       /* every client also creates a session: a lease kept alive */
    sim_time_t reload_cpu;
    int64_t reload_mem;
    sim_time_t batch_window;       /* watch.batch: flush after this (0: no batching) */
    int64_t batch_max;             /* ... or at this many events */
    bool coalesce;                 /* watch.coalesce: one reload per revision; with batch, per batch */
    bool version_gate;             /* watch.version_gate: reload only on the `_version` key */
    bool resume;                   /* watch.resume: resume a broken watch from lastRev + 1 */
    sim_time_t reconnect_interval; /* retry period of a broken watch (default 1 s) */
    gw_push_t *pushes;
    size_t npushes;
    etcd_spec_t etcd;
} gw_spec_t;

/* `gateway`, `config` and `etcd` from the scenario root. */
int gw_spec_parse(sim_diag_t *d, sim_cfg_node_t *root, const sim_scenario_t *sc, gw_spec_t *spec);
void gw_spec_fini(gw_spec_t *spec);

/* The job a replica's CPU runs: a request segment or a reload. */
enum { GW_JOB_REQUEST, GW_JOB_RELOAD };
typedef struct {
    stn_job_t job;                 /* first member */
    uint8_t kind;
} gw_job_t;

/* One config watch of a replica: the shared one, or one per request (the
 * bug). Pooled records with stable addresses: the etcd callbacks' context. */
enum { GW_WATCH_NONE, GW_WATCH_LIVE, GW_WATCH_BROKEN, GW_WATCH_RELISTING };
typedef struct gw_watch {
    struct gw_watch *next;         /* the replica's watches, newest first, or the free list */
    struct gw_replica *rp;
    int client, watcher;           /* etcd ids, -1 none; watcher -1 unless live */
    int64_t last_rev;              /* last revision received; before any, the store's at the watch */
    uint8_t state;                 /* GW_WATCH_* */
} gw_watch_t;

typedef struct gw_replica {
    station_t cpu;
    gort_t rt;
    embc_t cache;
    bool up, starting;
    uint32_t gen;                  /* process generation: changes at every crash */
    backoff_t backoff;
    sim_timer_t restart;
    int64_t leaked;                /* goroutines blocked forever */
    int64_t reloads_running;
    gw_watch_t *shared;            /* the shared watch, NULL with watch_per_request or no config */
    gw_watch_t *watches;           /* every watch of the process (per-request ones: closed when it dies) */
    int64_t nwatches;
    int64_t nbroken;               /* watches waiting for the reconnect timer */
    sim_timer_t reconnect;
    int64_t watch_failures;
    int64_t batch_events;          /* config events buffered for the next batch */
    sim_timer_t batch_timer;
    /* autoscaling (a fixed count: every slot active) */
    bool active;                   /* wanted: up, starting or restarting; false: an empty slot or draining */
    bool draining;                 /* scaled away: out of the load balancer, its requests finishing */
    sim_time_t ready_at;           /* when it last became ready */
    hpa_busy_mark_t busy_mark;
} gw_replica_t;

typedef struct gw gw_t;

/* Hooks into the pipeline: fail every request held by replica r (called
 * when it crashes, before its state is reset); and the CPU-segment
 * completion of a request. */
typedef struct {
    void (*fail_all)(void *ctx, int replica);
    void (*request_cpu_done)(void *ctx, stn_job_t *job, stn_outcome_t oc);
    void *ctx;
} gw_hooks_t;

struct gw {
    sim_t *sim;
    const gw_spec_t *spec;
    lb_t lb;
    gw_replica_t *rep;
    gw_hooks_t hooks;
    sim_rng_t *rng_cpu;
    double speed;                  /* CPU capacity factor (faults) */
    etcd_t *etcd;                  /* NULL without `config` */
    struct gw_reload *reload_free;
    void **reload_slabs;
    size_t nreload_slabs;
    gw_watch_t *watch_free;
    void **watch_slabs;
    size_t nwatch_slabs;

    /* since warm-up */
    uint64_t oom_kills, reloads, leaked_total, watch_failures, cache_hits, cache_lookups;
    uint64_t events_seen, batches;
    int64_t *push_version_rev;     /* per push: the revision of its `_version` key, -1 none */
    double reload_cpu_s;
    /* autoscaling */
    hpa_t hpa;
    int64_t want;                  /* replicas wanted (active) */
    sim_time_t last_sync;
    int col_desired;               /* gateway_replicas_desired, else -1 */
    /* whole run */
    uint64_t oom_kills_total, reloads_total, reloads_started;
    uint64_t watch_breaks, watch_relists, watch_resumes, watch_compacted;   /* broken watches and their fate */
    /* notable events not yet logged: one line per kind and instant */
    uint64_t log_breaks, log_resumes, log_relists, log_relist_compacted;
    bool log_pending;
    /* sample window */
    uint64_t win_reloads, win_hits, win_lookups;
    double win_reload_cpu_s;
    int col[17];
};

int gw_init(gw_t *g, sim_t *sim, const gw_spec_t *spec, gw_hooks_t hooks);
void gw_fini(gw_t *g);
/* Bytes the simulator holds for the gateway that grow with the run: the
 * embedding caches, the reload and watch records, etcd (etcd_held_bytes).
 * For the run's memory budget. */
size_t gw_held_bytes(const gw_t *g);

/* A replica for a new request (load balancer), or -1 if none is up. */
int gw_pick(gw_t *g);
/* Book a request arriving on / leaving replica r (gen: the generation at
 * arrival; a request of a dead process is not booked out). */
void gw_request_begin(gw_t *g, int r);
void gw_request_end(gw_t *g, int r, uint32_t gen);
/* Run a CPU segment (pre or post) of a request on replica r: allocation,
 * GC assist, and the capacity factor of the moment the segment starts. */
void gw_request_cpu(gw_t *g, int r, stn_job_t *job, bool pre);
/* The per-request watch bug: a new client (with its session if
 * session_per_client) and watch for this request. Returns false if etcd
 * refused it (a partition, or the lease quota refusing the session). */
bool gw_request_watch(gw_t *g, int r);
/* An LLM call's goroutine starts / ends. */
void gw_llm_call_begin(gw_t *g, int r);
void gw_llm_call_end(gw_t *g, int r, uint32_t gen);
/* The request's deadline passed: its goroutine may block forever. `u` is the
 * request's own uniform draw (drawn at arrival: common random numbers). */
void gw_deadline(gw_t *g, int r, double u);
/* The embedding cache of replica r. */
bool gw_cache_lookup(gw_t *g, int r, uint64_t key);
void gw_cache_insert(gw_t *g, int r, uint64_t key);
/* One autoscaler sync now (normally every autoscale.sync). Returns the
 * replicas wanted. */
int64_t gw_autoscale_sync(gw_t *g);
/* Crash replica r ("oom_kill", "replica_killed"). */
void gw_crash(gw_t *g, int r, const char *kind, const char *detail);
static inline uint32_t gw_gen(const gw_t *g, int r) { return g->rep[r].gen; }

#endif
