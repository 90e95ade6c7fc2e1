/* The RAG request path: a gateway with R replicas behind a load balancer
 * runs each request's pipeline (embed the query, retrieve top-k chunks from
 * the vector DB, generate with the LLM, call downstream dependencies,
 * sequentially or in parallel), as the article's naive service does.
 *
 *   model: rag                          # implied by `pipeline`
 *   workload:
 *     rate: 50/s                        # arrival process: models/queueing/workload.h
 *     queries: {distinct: 1000000, zipf_s: 1.0, unique: 0.5}   # one-off share + Zipf head
 *     query_tokens: {dist: lognormal, mean: 40, cv: 0.5}
 *     output_tokens: {dist: lognormal, mean: 200, cv: 0.6}
 *     deadline: 8s                      # the client gives up after this
 *   gateway:
 *     replicas: 2
 *     cores: 4                          # GOMAXPROCS: request handling competes for them
 *     load_balancer: round_robin
 *     handling: {pre: 2ms, post: 1ms}   # CPU per request before / after the pipeline
 *   pipeline:
 *     steps: [embed, retrieve, generate, [risk_control, profile]]   # a nested list runs in parallel
 *     top_k: 5
 *     chunk_tokens: 256
 *     system_prompt_tokens: 0           # the prompt's shared prefix (system prompt, template)
 *   calls:                              # the call edges: caller-side timeouts
 *     embed: {timeout: 2s}
 *     retrieve: {timeout: 3s}           # the article: after 3 s the naive service goes on with nothing
 *     generate: {timeout: 60s}
 *     risk_control: {timeout: 1s}
 *   embedder: {...}    vectordb: {...}    llm: {...}    dependencies: {name: {...}}
 *   faults: [...]                       # models/rag/faults.c: fault kinds
 *   trace: {request_sample: 0.01}       # per-request records for a sampled fraction
 *
 * Naive semantics (what later policies change):
 *   - a failed embedding, generation or dependency call fails the request
 *     (outcome error);
 *   - a retrieval that fails or times out yields no chunks and the pipeline
 *     goes on: the LLM answers without context (success, but ungrounded);
 *     so does a pipeline without a retrieve step: the prompt carries chunks
 *     only when a retrieval returned them;
 *   - when the client's deadline passes the request's outcome is timeout, but
 *     the gateway keeps working on it (no context propagation): its calls
 *     still load the components;
 *   - no call is retried, no breaker opens, nothing is cached.
 * Every call to a component goes through the call edge (models/rag/edge.c),
 * the one place policies wrap. The module's files are listed in
 * models/rag/rag_internal.h. */
#ifndef MODELS_RAG_RAG_H
#define MODELS_RAG_RAG_H

#include <stdbool.h>
#include <stdint.h>

#include "models/components/call.h"
#include "models/components/dependency/dependency.h"
#include "models/components/embedder/embedder.h"
#include "models/components/gateway/gateway.h"
#include "models/components/replicas/lb.h"
#include "models/components/llm/llm.h"
#include "models/policies/policy.h"
#include "models/policies/rollout.h"
#include "models/queueing/station.h"
#include "models/components/vectordb/vectordb.h"
#include "models/queueing/workload.h"
#include "sim/dist.h"
#include "sim/scenario.h"
#include "sim/stats.h"
#include "sim/table.h"

/* Components addressed by index: the fixed ones, then the dependencies. */
enum { RAG_EMBEDDER, RAG_VECTORDB, RAG_LLM, RAG_FIRST_DEP };
#define RAG_GATEWAY (-1)
#define RAG_ETCD (-10)            /* a fault target that is not a component: the partition's */
#define RAG_MAX_DEPS 64
#define RAG_MAX_COMP (RAG_FIRST_DEP + RAG_MAX_DEPS + 1)   /* + the keyword channel */
#define RAG_MAX_GROUP 16

typedef enum { STEP_EMBED, STEP_RETRIEVE, STEP_GENERATE, STEP_DEP } rag_step_kind_t;

/* One pipeline step: one call, or several in parallel. */
typedef struct {
    int ncalls;
    int target[RAG_MAX_GROUP];    /* component index (RAG_EMBEDDER ... RAG_FIRST_DEP + d) */
} rag_step_t;

typedef enum {
    RAG_OK_SUCCESS, RAG_DEGRADED, RAG_TIMEOUT, RAG_ERROR, RAG_REJECTED, RAG_NOUTCOMES
} rag_outcome_t;

const char *rag_outcome_name(rag_outcome_t o);   /* "success", "degraded", "timeout", "error", "rejected" */

typedef enum {
    FAULT_SLOWDOWN, FAULT_ERRORS, FAULT_PACKET_LOSS, FAULT_CPU_THROTTLE, FAULT_KILL,
    FAULT_METADATA_POLLUTION, FAULT_CHUNKING_MISMATCH, FAULT_PARTITION, FAULT_NKINDS
} rag_fault_kind_t;

typedef struct {
    rag_fault_kind_t kind;
    int target;                   /* component index, RAG_GATEWAY, RAG_ETCD (partition); unused for pollution/mismatch */
    const char *target_name;
    sim_time_t at, dur;           /* dur 0: instantaneous (kill) */
    int replica;                  /* kill: -1 all */
    double factor;                /* slowdown (latency x), cpu_throttle (capacity x), pollution (tokens x) */
    double ratio;                 /* errors, packet loss, mismatch */
    sim_time_t rto;               /* packet loss: first retransmission timeout */
    int64_t max_retransmits;
} rag_fault_t;

/* What the gateway does when a call edge finally fails (after retries). */
typedef enum {
    FB_NONE,           /* naive: retrieval goes on empty; anything else fails the request */
    FB_KEYWORD,        /* retrieval (or embedding) falls back to the keyword (BM25) channel */
    FB_REFUSE,         /* answer politely that it cannot answer now (degraded, no LLM call) */
    FB_CACHED_ANSWER,  /* serve the cached answer to the same query if there is one (degraded) */
    FB_SKIP,           /* dependencies: go on without it (degraded) */
    FB_CALL,           /* call another component instead (a read replica, a backup provider) */
} rag_fallback_t;

/* A call edge: gateway -> one component. */
typedef struct {
    sim_time_t timeout;       /* caller-side, 0: none */
    pol_spec_t *pols;
    size_t npols;
    rag_fallback_t fallback;
    int fallback_target;      /* FB_CALL: the component called instead */
    bool fallback_full;       /* FB_CALL with degraded: false: the target's answer is the one asked for */
    double share;             /* the fraction of requests that make this call (1: all) */
    bool async;               /* fire and forget: the request does not wait (a dependency) */
    sim_time_t batch_window;  /* async: items wait at most this long for a batch (0: no batching) */
    int64_t batch_max;        /* async: a batch is sent when it holds this many items */
    bool has_rtt;             /* network round trip on the edge (`network`, or the top-level default) */
    sim_dist_t rtt;           /* seconds */
} rag_edge_spec_t;

/* A request class (a tenant, a product): its share of the workload's
 * arrivals or its own arrival process, and its own demands (models/rag/classes.c). */
#define RAG_MAX_CLASSES 64
typedef struct {
    const char *name;
    double share;                 /* of the workload's arrivals (share mode) */
    bool own;                     /* its own arrival process (own) */
    wl_spec_t arrivals;
    sim_dist_t query_tokens, output_tokens, deadline;
    bool has_qtok, has_otok, has_deadline;   /* else the workload's */
    int64_t priority;             /* vLLM's request priority: lower is served first (default 0) */
    uint8_t level;                /* its rank among the classes' distinct priorities (call_t.level) */
} rag_class_t;

typedef struct rag_spec {
    wl_spec_t workload;           /* unused (no process) when every class has its own */
    rag_class_t *classes;
    size_t nclasses;              /* 0: no classes */
    bool classes_own;             /* each class has its own arrival process */
    sim_dist_t class_pick;        /* share mode: the class index, by share */
    uint8_t trace_class[WL_TRACE_MAX_CLASSES];   /* a trace's class -> class index */
    sim_dist_t keys;              /* Zipf over distinct recurring queries */
    double query_unique;          /* share of one-off queries (a key never drawn again) */
    sim_dist_t query_tokens, output_tokens, deadline;
    /* users who resubmit a failed request (workload amplification) */
    int64_t client_retries;                   /* at most this many resubmissions per request; 0 = none */
    uint32_t client_retry_on;                 /* bit (1 << rag_outcome_t) per outcome resubmitted */
    sim_dist_t client_retry_delay;            /* seconds until the user tries again */

    gw_spec_t gw;                 /* the gateway service, its runtime, cache and config watch */

    rag_step_t *steps;
    size_t nsteps;
    int64_t top_k, chunk_tokens;
    int64_t system_prompt_tokens;   /* the LLM prompt's shared prefix: system prompt and template */

    bool uses[RAG_MAX_COMP];                  /* components on the pipeline (or a fallback) */
    rag_edge_spec_t edge[RAG_MAX_COMP];       /* per call edge */
    const char *comp_name[RAG_MAX_COMP];
    bool context_propagation;                 /* cancel the work of requests whose deadline passed */
    int keyword;                              /* component index of the keyword channel, -1 none */
    double keyword_relevance;                 /* fraction of keyword results related to the query */
    embc_spec_t answer_cache;                 /* for the cached_answer fallback */

    embedder_spec_t emb;
    vdb_spec_t vdb;
    llm_spec_t llm;
    dep_spec_t *deps;             /* the dependencies, then the keyword channel if configured */
    size_t ndeps;

    rag_fault_t *faults;
    size_t nfaults;
    roll_spec_t *changes;         /* configuration changes and their rollout (models/policies/rollout.h) */
    struct sim_cfg *tier_cfg[4];  /* the resilience tiers' presets, loaded when used */
    size_t nchanges;

    double request_sample;        /* fraction of requests recorded in `requests` */
} rag_spec_t;

int rag_spec_parse(sim_diag_t *d, sim_cfg_node_t *root, const sim_scenario_t *sc, rag_spec_t *spec);
void rag_spec_fini(rag_spec_t *spec);
/* Component index for a name ("embedder", "vectordb", "llm", a dependency, "gateway" -> RAG_GATEWAY), or -2. */
int rag_component_index(const rag_spec_t *spec, const char *name);

typedef struct rag_req rag_req_t;
typedef struct rag rag_t;

/* A call edge: gateway -> one component. */
typedef struct {
    rag_t *rag;
    int target;
    sim_tlist_t timeouts;   /* the calls waiting with the edge's own timeout (delay 0: none) */
} rag_edge_t;

/* An async edge's batcher and counters. */
typedef struct {
    int64_t items;                /* waiting for the next batch */
    sim_timer_t timer;            /* the batch window */
    uint64_t items_total, batches, dropped, failed;   /* dropped: items of batches a policy refused */
} rag_async_t;

/* A latency histogram as Prometheus client libraries keep one: a count per
 * bucket of fixed upper bounds (rag_le_bounds_ns, `le` inclusive, the last
 * +Inf), the sum and the count, all since the start of the run (counters:
 * the warm-up is not reset). The time series `<name>_bucket{le=...}`,
 * `<name>_sum` and `<name>_count` are written from it at each sample, so
 * that histogram_quantile() works on an export (docs/observability.md). */
#define RAG_LE_N 15
extern const int64_t rag_le_bounds_ns[RAG_LE_N - 1];
typedef struct {
    uint64_t count[RAG_LE_N];     /* per bucket, not cumulative */
    double sum_s;
    int col;                      /* first of its RAG_LE_N + 2 series, -1: none */
} rag_lehist_t;

static inline void rag_lehist_add(rag_lehist_t *h, int64_t ns)
{
    int i = 0;
    while (i < RAG_LE_N - 1 && ns > rag_le_bounds_ns[i]) i++;
    h->count[i]++;
    h->sum_s += (double)ns * 1e-9;
}

/* Stage latency statistics (caller side: from issue to result or timeout). */
typedef struct {
    sim_hist_t all, win;          /* ns */
    uint64_t calls, failed;       /* since warm-up */
    rag_lehist_t le;              /* since the start */
} rag_stage_t;

struct rag {
    sim_t *sim;
    const rag_spec_t *spec;
    wl_gen_t gen;
    sim_rng_t *rng_key, *rng_unique, *rng_qtok, *rng_otok, *rng_deadline, *rng_leak, *rng_loss, *rng_client_retry, *rng_share;
    uint64_t client_retries;      /* resubmissions made (since warm-up) */
    uint64_t user_ended, user_success;   /* users' requests ended for good (no resubmission follows), and fully answered */

    /* gateway */
    gw_t gw;
    bool gw_ok;
    rag_req_t **held;             /* requests held per gateway replica (intrusive lists) */

    /* components */
    void *comp[RAG_MAX_COMP];
    const comp_ops_t *ops[RAG_MAX_COMP];
    int ncomp;
    call_pool_t calls;
    sim_tlist_t deadlines;        /* the requests' deadlines when the client's deadline is a constant (delay 0: not) */

    /* policies per edge, per gateway pod: npods x npols[k], pod-major (policy.h) */
    pol_inst_t *pols[RAG_MAX_COMP];
    size_t npols[RAG_MAX_COMP];
    int npods;                    /* gateway pods, each a client process with its own policy state */
    unsigned retry_on[RAG_MAX_COMP];   /* the edge's retry policy's retry_on (0: no retry policy) */
    embc_t answers;               /* answer cache (cached_answer fallback) */
    bool answers_ok;
    sim_rng_t *rng_retry, *rng_keyword;
    sim_rng_t *rng_net[RAG_MAX_COMP];   /* network/<component>: the edge's round trips (when configured) */
    uint64_t fallbacks[RAG_MAX_COMP], retries[RAG_MAX_COMP], policy_rejects[RAG_MAX_COMP];
    uint64_t retry_vetoes[RAG_MAX_COMP];               /* retries a budget or throttle refused */
    int64_t *inflight;            /* [k x npods + pod]: attempts the pod issued on edge k, not ended for it */
    int64_t *retries_inflight;    /* [k x npods + pod]: retries decided, not yet ended */

    /* configuration changes (spec->changes), one per entry */
    roll_t *rolls;

    /* fault state */
    double pollution;                                  /* prompt tokens x */
    double loss[RAG_MAX_COMP];                         /* packet loss per edge */
    sim_time_t loss_rto[RAG_MAX_COMP];
    int64_t loss_max[RAG_MAX_COMP];

    /* requests */
    rag_req_t *free_reqs;
    void **slabs;
    size_t nslabs;
    uint64_t next_id;
    uint64_t next_unique_key;     /* one-off queries' keys, above the Zipf range */
    int64_t in_flight;            /* at the gateway, including requests whose client gave up */

    /* since warm-up */
    uint64_t arrivals, outcome[RAG_NOUTCOMES], ungrounded, retrievals, retrievals_empty;
    double offered_qtok, offered_otok;   /* the arrivals' query (prompt) and output tokens */
    /* per request class (spec->nclasses), since warm-up */
    struct rag_class_stats *cls;
    sim_rng_t *rng_class;         /* workload/class (share mode) */
    uint64_t *reason;             /* failures by (target, call status), + deadline, + gateway */
    sim_tmean_t latency_s;
    sim_hist_t latency;           /* ns, answered requests (success + degraded) */
    rag_stage_t *stage;           /* per component */
    double prompt_tokens_sum;
    uint64_t llm_calls;
    sim_time_t warmup_end;

    /* current sample window */
    uint64_t win_outcome[RAG_NOUTCOMES], win_ungrounded, win_answers, win_retrievals, win_empty;
    double win_prompt_tokens;
    uint64_t win_llm_calls;
    sim_hist_t win_latency;
    rag_lehist_t latency_le;      /* answered requests, since the start */
    int col_rps[RAG_NOUTCOMES], col_ratio, col_answered, col_inflight, col_p50, col_p95, col_p99;
    int col_empty, col_ungrounded, col_tokens, col_gw_cpu, col_gw_up;
    int *col_stage;

    sim_table_t requests;         /* sampled per-request records */
    sim_table_t spans;            /* their spans (gateway, each call attempt, the LLM's phases) */
    uint64_t sample_threshold;    /* request sampled when hash(id) < threshold */
    rag_edge_t edge[RAG_MAX_COMP];
    rag_async_t async[RAG_MAX_COMP];
};

rag_t *rag_create(sim_t *sim, const rag_spec_t *spec);
void rag_destroy(rag_t *rag);
void rag_finish(rag_t *rag);

#endif
