/* Calls between components: the one place every request-to-component
 * interaction goes through, so that policies (timeouts, retries, circuit
 * breakers ...) can wrap it.
 *
 * A call is issued by an owner (a request) to a component. The component
 * MUST complete every call it accepted exactly once with call_complete()
 * (possibly synchronously inside its submit function, e.g. a rejection). The
 * owner may stop waiting earlier (a caller-side timeout): it is then told
 * CALL_TIMEOUT at once, the call is detached (owner = NULL), the component
 * keeps working on it unless the caller also cancels it (comp_ops_t.cancel:
 * context propagation), and its result is discarded when it completes.
 * Calls are pooled; the pool frees a call when its component completes it,
 * never the owner. While `done` runs, c->owner still names the owner; the
 * call must not be kept after `done` returns (it is freed, or detached and
 * freed later).
 *
 * Cost: O(1) per call plus one timer event when a timeout is set (none
 * with a timeout list). */
#ifndef MODELS_COMPONENTS_CALL_H
#define MODELS_COMPONENTS_CALL_H

#include <stdbool.h>
#include <stdint.h>

#include "models/queueing/station.h"
#include "sim/sim.h"
#include "sim/tlist.h"

typedef enum {
    CALL_OK = 0,
    CALL_ERROR,          /* the component answered with an error (5xx, OOM kill, injected) */
    CALL_TIMEOUT,        /* the caller stopped waiting */
    CALL_REJECTED,       /* the component refused it (queue full) */
    CALL_UNAVAILABLE,    /* no replica up */
    CALL_NSTATUS
} call_status_t;

/* Lower-case name: "ok", "error", "timeout", "rejected", "unavailable". */
const char *call_status_name(call_status_t s);

enum {
    CALL_F_EMPTY = 1u << 0,        /* retrieval returned no chunks */
    CALL_F_IRRELEVANT = 1u << 1,   /* retrieval returned chunks unrelated to the query */
    CALL_F_WIRE = 1u << 30,        /* caller's: the request is still on the network, not yet at the component */
    CALL_F_WIRE_CANCEL = 1u << 31, /* caller's: cancelled while on the network: never delivered */
};

typedef struct call call_t;
typedef struct call_pool call_pool_t;
typedef void (*call_done_fn)(sim_t *sim, call_t *call, call_status_t status);
/* Called when the component completes the call, whether or not the owner
 * still waits (after `done`, if it ran): the moment the work really ends. */
typedef void (*call_release_fn)(sim_t *sim, call_t *call);

struct call {
    stn_job_t job;          /* first member: a component may queue the call at a station */

    /* the caller's side */
    void *owner;            /* NULL once the caller stopped waiting */
    call_done_fn done;      /* told the outcome once */
    uint64_t tag;           /* free for the owner (which step, which dependency ...) */
    void *edge;             /* the caller's call edge (where policies act); free for the caller */
    call_release_fn release;/* optional: the component finished (see call_release_fn) */
    /* optional: when the caller's timeout fires, after done and after the
     * call is detached, ask the component to cancel it (context propagation) */
    void (*cancel_after_timeout)(sim_t *sim, call_t *call);
    uint64_t caller_u;      /* free for the caller (with release) */
    sim_time_t sent;        /* when the call was issued */
    sim_timer_t timeout;
    sim_tlist_t *tl;        /* or: the timeout list the call is on ... */
    sim_tl_entry_t tle;     /* ... as this entry */

    /* the demand, set by the caller */
    int64_t tokens_in;      /* embedder: query tokens; LLM: prompt tokens */
    int64_t tokens_out;     /* LLM: output tokens */
    int64_t top_k;          /* vector DB: chunks asked for */
    uint64_t key;           /* query key */
    int64_t prefix_tokens;  /* LLM: tokens of the prompt's shared prefix (system prompt, template) */
    uint64_t prefix_key;    /* LLM: names the rest of the prompt: the same key, the same
                             * prompt (prefix caching); 0 = none */
    uint8_t level;          /* priority level: 0 is served first (a component whose queue
                             * orders by priority reads it; see llm.h) */

    /* the result, set by the component */
    uint32_t flags;         /* CALL_F_* */
    /* set by components that know them (0: not reached): the LLM sets
     * `started` when the sequence is first admitted to a step (the end of
     * its queueing) and `first_out` when its first output token is sampled
     * (the end of its prefill); read by the caller's request spans */
    sim_time_t started, first_out;

    /* component bookkeeping (private to the component serving the call) */
    int32_t replica;
    int32_t where;          /* where the call is in the component (waiting, running ...) */
    call_t *link;           /* intrusive list / batch link */
    call_t *prev;           /* back link of a waiting list, for O(1) cancel */
    int64_t hidx;           /* index in a component heap, for O(log n) cancel */
    sim_time_t t0;
    double v0;
    uint64_t u0;

    call_pool_t *pool;
    call_t *next_free;
};

struct call_pool {
    call_t *free_list;
    void **slabs;
    size_t nslabs;
    uint64_t live;          /* calls allocated and not yet completed */
};

void call_pool_init(call_pool_t *p);
void call_pool_fini(call_pool_t *p);
/* Bytes held by the pool's slabs (for memory budgets). */
size_t call_pool_bytes(const call_pool_t *p);

/* A fresh call (zeroed demand, no timeout) for `owner`; NULL on OOM. */
call_t *call_new(call_pool_t *p, void *owner, call_done_fn done, uint64_t tag, sim_time_t now);

/* Stop waiting after `dt` (caller-side timeout). */
void call_set_timeout(sim_t *sim, call_t *c, sim_time_t dt);
/* The same with the delay of timeout list `l` (sim/tlist.h), which serves
 * every call with that delay with one pending event: no event is pushed
 * or cancelled per call. `l` must have been initialised with fire
 * call_tlist_fire. A call has one timeout: set one or the other, once. */
void call_set_timeout_list(sim_t *sim, call_t *c, sim_tlist_t *l);
void call_tlist_fire(sim_t *sim, sim_tl_entry_t *e, void *ctx);

/* Detach the owner without telling it anything (the owner gave up for its
 * own reasons); the component's eventual result is discarded. */
void call_abandon(sim_t *sim, call_t *c);

/* The component is done with the call: tell the owner (if still waiting),
 * then free the call. */
void call_complete(sim_t *sim, call_t *c, call_status_t status);

/* ---- Components -----------------------------------------------------------
 * Every component (embedder, vector DB, LLM, dependency ...) exposes this
 * table so that the pipeline, faults and later policies address them alike. */
typedef struct comp_ops {
    const char *kind;                                     /* "embedder", "vectordb", ... */
    void (*submit)(void *comp, call_t *c);                 /* must complete c eventually */
    /* Fault hooks (may be NULL where meaningless). */
    void (*set_speed)(void *comp, double factor);          /* capacity x factor (1 nominal) */
    void (*set_error_ratio)(void *comp, double ratio);     /* injected errors, 0 = none */
    void (*kill)(void *comp, int replica);                 /* replica < 0: all replicas */
    int (*replicas_up)(const void *comp);
    /* Optional (NULL: the component cannot cancel; the call runs to its end).
     * Context propagation: the caller has already detached c (c->owner ==
     * NULL, through call_abandon or its timeout) and asks the component to
     * stop working on it. A call still waiting in a queue is removed and
     * completed at once with call_complete(sim, c, CALL_TIMEOUT) (its done
     * callback does not run: no owner; its release callback does), freeing
     * its queue place, slot or memory, which may let the next call start
     * before cancel returns. Work that can be interrupted (an LLM sequence
     * in prefill or decode: vLLM's abort) is stopped and completed the same
     * way. Work that cannot (a FAISS search or a dependency's RPC handler in
     * progress, an embedder batch already running) is left to run to its end
     * as before: cancel does nothing, and may be repeated.
     * The caller may only cancel a call it has not seen complete (its
     * release callback not yet run): a completed call is freed, and a
     * cancelled one is completed before cancel returns, so a call is
     * cancelled at most once by construction. Cost: O(1), or O(log b) for the
     * LLM's heaps. */
    void (*cancel)(void *comp, call_t *c);
    /* Optional: the component's replicated service (models/components/replicas/replicas.h), for
     * configuration changes and their rollout (models/policies/rollout.h); NULL for
     * components with their own replica model. */
    struct rset *(*replicas)(void *comp);
} comp_ops_t;

#endif
