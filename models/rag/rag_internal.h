/* Internal to models/rag/: what its files share (rag.h is the public
 * header). Owns the request record (rag_req_t), its phase and flag bits,
 * the failure-reason indices, and the prototypes of the functions one file
 * of the module calls in another:
 *   spec.c      parsing the scenario (rag_spec_parse/fini)
 *   request.c   the request's life: arrival, admission, deadline, outcome,
 *               release, client retries, the pipeline's steps
 *   edge.c      the call edge: attempts, policies, retries, fallbacks,
 *               async and batched calls
 *   faults.c    the fault kinds and what each does while it acts
 *   metrics.c   time series, warm-up, the sampled `requests` table
 *   rag_model.c the instance (rag_create/destroy/finish) and the model table
 * The request's life and the call edge call each other for every step: the
 * small glue between them (rag_edge_call, rag_finish_step) is static inline
 * here so it stays inlined into both. */
#ifndef MODELS_RAG_RAG_INTERNAL_H
#define MODELS_RAG_RAG_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "models/rag/rag.h"

/* Reasons a request fails, counted by (component, call status), then the
 * client's deadline and "no gateway replica". */
#define REASON_DEADLINE(ncomp) ((ncomp) * CALL_NSTATUS)
#define REASON_GATEWAY(ncomp) ((ncomp) * CALL_NSTATUS + 1)
#define REASON_GATEWAY_CRASH(ncomp) ((ncomp) * CALL_NSTATUS + 2)
#define REASON_WATCH(ncomp) ((ncomp) * CALL_NSTATUS + 3)
#define REASON_CACHED(ncomp) ((ncomp) * CALL_NSTATUS + 4)
#define NREASONS(ncomp) ((ncomp) * CALL_NSTATUS + 5)

enum { PH_PRE, PH_STEPS, PH_POST, PH_DONE };
enum {
    RQ_EMPTY = 1u << 0,        /* retrieval returned no chunks */
    RQ_IRRELEVANT = 1u << 1,   /* retrieval returned unrelated chunks */
    RQ_ENDED = 1u << 2,        /* the client has its outcome */
    RQ_FAILED = 1u << 3,       /* a required call failed */
    RQ_DEGRADED = 1u << 4,     /* a fallback was used */
    RQ_KEYWORD = 1u << 5,      /* retrieve through the keyword channel (the embedding failed) */
    RQ_FINISHED = 1u << 6,     /* answered early (refusal, cached answer): the step must not go on */
    RQ_CANCELLED = 1u << 7,    /* its context was cancelled (deadline, with context propagation) */
    RQ_CONTEXT = 1u << 8,      /* a retrieval returned chunks (relevant or not): the prompt carries them */
    RQ_NOCTX = 1u << 9,        /* generated with no retrieval before it (none in the pipeline, or skipped) */
    RQ_SAMPLED = 1u << 10,     /* its record and spans are traced (trace.request_sample) */
};
/* An answer built on no chunks or on unrelated ones: ungrounded, never put
 * in the answer cache. */
#define RQ_UNGROUNDED (RQ_EMPTY | RQ_IRRELEVANT | RQ_NOCTX)

/* One call slot of the request's current step: everything an attempt,
 * its retry and its completion read, in one cache line (a request lives
 * for seconds among tens of thousands of others, so each line it touches
 * per event is usually a miss). Initialised by rag_edge_call when the slot
 * is first used in a step; slots the request never used are not read. */
typedef struct {
    call_t *call;               /* the attempt in flight, or NULL */
    sim_timer_t retry_timer;    /* a retry waiting for its backoff (or an admission) */
    sim_time_t first_sent;      /* when the slot's first attempt was made */
    sim_time_t prev_delay;      /* the slot's last backoff (decorrelated jitter) */
    int64_t pol_note;           /* pol_ctx_t.note of the slot's call */
    int32_t inflight_at_issue;  /* the edge's attempts in flight when the slot's call went out */
    uint16_t attempt;           /* attempts made on the slot (max_attempts <= 1000) */
    int8_t target;              /* the component the slot now calls (a fallback may change it) */
} __attribute__((aligned(64))) rag_slot_t;

/* The hot fields first (the gateway's job, the links, the state every
 * handler reads), then the slots, one line each. */
struct rag_req {
    gw_job_t job;               /* first: CPU work at the gateway replica */
    rag_req_t *next_free;
    rag_req_t *prev, *next;     /* requests held by the same gateway replica */
    uint16_t flags;
    uint16_t step, phase;
    int16_t pending;            /* calls outstanding in the current step */
    int32_t replica;
    uint32_t gen;               /* the replica's process generation at arrival */
    int32_t reason;             /* failure reason index, -1 none */
    uint16_t retry_live;        /* slots whose retry is in flight (one bit per slot, RAG_MAX_GROUP) */
    uint8_t nslots;             /* slots [0, nslots) were used by this request */
    uint8_t outcome;
    uint8_t client_try;         /* 0: first submission; k: the user's k-th resubmission */
    uint8_t cls;                /* its request class (0 without classes) */
    uint64_t key;
    sim_time_t arrival, deadline, ended;
    sim_time_t patience;        /* the client's deadline, from arrival */
    sim_timer_t deadline_timer;
    uint64_t id;
    int32_t qtok, otok;
    int64_t prompt_tokens;
    float stage_s[4];           /* embed, retrieve, generate, dependencies (sum) */
    sim_tl_entry_t deadline_tle;   /* or this entry on rag->deadlines */
    uint64_t share_bits;        /* decides which `share` calls it makes */
    double u_leak;              /* drawn at arrival: does its goroutine leak at the deadline? */
    rag_slot_t slot[RAG_MAX_GROUP];
};

#define REQ_SLAB (((size_t)4 << 20) / sizeof(rag_req_t))   /* requests per block: two 2 MiB pages (sim/slab.h) */
_Static_assert(RAG_MAX_GROUP <= 16, "rag_req_t.retry_live has one bit per slot");

extern const char *const rag_fault_names[];   /* by rag_fault_kind_t, NULL-terminated (faults.c) */

/* request.c */
/* metrics.c: one row of the `spans` table (sampled requests only); comp < 0: the gateway */
void rag_record_span(rag_t *rag, uint64_t id, const char *name, int comp, int64_t attempt, sim_time_t start,
                     sim_time_t end, const char *status);
void rag_record_call_spans(rag_t *rag, uint64_t id, int comp, int64_t attempt, const call_t *c, call_status_t st);
void rag_req_outcome(rag_t *rag, rag_req_t *r, rag_outcome_t o, int reason);
void rag_req_release(rag_t *rag, rag_req_t *r);
void rag_run_step(rag_t *rag, rag_req_t *r);
void rag_on_arrival(sim_t *sim, void *ctx);                              /* the workload's arrivals */
void rag_on_request_cpu_done(void *ctx, stn_job_t *job, stn_outcome_t oc);   /* gateway hooks */
void rag_fail_all(void *ctx, int replica);
void rag_deadline_fire(sim_t *sim, sim_tl_entry_t *e, void *ctx);       /* rag->deadlines */

/* edge.c */
void rag_edge_attempt(rag_t *rag, rag_req_t *r, int slot);
void rag_abandon_calls(rag_t *rag, rag_req_t *r, bool cancel);
void rag_async_item(rag_t *rag, int target);

/* faults.c */
void rag_faults_schedule(rag_t *rag);

/* classes.c */
struct rag_class_stats {
    uint64_t arrivals, outcome[RAG_NOUTCOMES];
    sim_hist_t latency;           /* ns, answered requests */
    double qtok, otok;            /* demanded tokens of its arrivals */
    wl_gen_t gen;                 /* its own arrival process (classes_own) */
    rag_t *rag;
    uint8_t index;
    /* sample window: series success_ratio{class=X}, latency_p95_seconds{class=X} */
    uint64_t win_ended, win_ok;
    sim_hist_t win_latency;       /* ns, answered requests */
    int col_ok, col_p95;
};
int rag_classes_parse(sim_diag_t *d, sim_cfg_node_t *wl, rag_spec_t *spec);
void rag_classes_fini(rag_spec_t *spec);
/* After the components: each class's priority level and the LLM's level
 * count; refuses priorities the LLM does not honour (scheduling_policy fcfs). */
int rag_classes_levels(sim_diag_t *d, sim_cfg_node_t *wl, rag_spec_t *spec);
bool rag_classes_own(sim_cfg_node_t *wl);   /* the classes have their own arrival processes */
int rag_classes_init(rag_t *rag);        /* stats and streams */
int rag_classes_start(rag_t *rag);       /* the classes' own arrivals */
void rag_classes_destroy(rag_t *rag);
void rag_classes_reset(rag_t *rag);      /* at warm-up */
void rag_classes_report(const rag_t *rag, rs_report_t *rep);
void rag_arrive(rag_t *rag, int cls, size_t row);   /* request.c: one arrival of class cls */

/* metrics.c */
int rag_metrics_init(rag_t *rag);
void rag_format_reason(const rag_t *rag, int reason, char *buf, size_t n);
void rag_record_request(rag_t *rag, const rag_req_t *r);

/* Start a slot's edge: its first attempt. */
static inline void rag_edge_call(rag_t *rag, rag_req_t *r, int slot, int target)
{
    rag_slot_t *sl = &r->slot[slot];
    if (slot >= r->nslots) {   /* first use in this request: the slot's memory is not initialised */
        sl->call = NULL;
        sl->retry_timer = (sim_timer_t){0, 0};
        sl->inflight_at_issue = 0;
        r->nslots = (uint8_t)(slot + 1);
    }
    sl->target = (int8_t)target;
    sl->attempt = 0;
    sl->pol_note = 0;
    sl->prev_delay = 0;
    sl->first_sent = sim_now(rag->sim);
    rag_edge_attempt(rag, r, slot);
}

/* Every call of the request's step has ended: the next step, or the error. */
static inline void rag_finish_step(rag_t *rag, rag_req_t *r)
{
    if (r->flags & RQ_FAILED) {
        /* a required call failed: the gateway answers with an error */
        rag_req_outcome(rag, r, RAG_ERROR, r->reason);
        rag_req_release(rag, r);
        return;
    }
    r->step++;
    rag_run_step(rag, r);
}

/* The LLM's prefix-cache key of a request's prompt: its query key and what
 * retrieval gave it (chunks, none, the keyword channel's, unrelated ones).
 * Never 0 (0 means no key). */
static inline uint64_t rag_prompt_key(uint64_t key, uint32_t flags)
{
    /* without a retrieval the prompt is that of a retrieval that failed: no chunks */
    if (flags & RQ_NOCTX) flags |= RQ_EMPTY;
    uint64_t x = key * 0x9e3779b97f4a7c15ULL ^ (uint64_t)(flags & (RQ_EMPTY | RQ_IRRELEVANT | RQ_KEYWORD));
    x ^= x >> 31;
    return x ? x : 1;
}

/* A gateway pod's view of edge k: its policy instances, its attempts and
 * retries in flight. A request's pod is r->replica; async edges, which
 * batch across pods, use pod 0's. */
static inline const pol_inst_t *rag_pols(const rag_t *rag, int k, int pod)
{
    return rag->pols[k] + (size_t)pod * rag->npols[k];
}
static inline int64_t *rag_inflight(rag_t *rag, int k, int pod) { return &rag->inflight[k * rag->npods + pod]; }
static inline int64_t *rag_retries_inflight(rag_t *rag, int k, int pod)
{
    return &rag->retries_inflight[k * rag->npods + pod];
}

#endif
