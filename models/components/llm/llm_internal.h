/* Internals of the LLM serving model shared by its files: llm.c (spec,
 * life, faults, metrics) and sched.c (the step loop). Not for other
 * modules. */
#ifndef MODELS_COMPONENTS_LLM_LLM_INTERNAL_H
#define MODELS_COMPONENTS_LLM_LLM_INTERNAL_H

#include <stddef.h>

#include "models/components/llm/llm.h"
#include "models/components/llm/prefix_cache.h"

/* Longest span of decode-only steps run without an event per step. */
#define LLM_SPAN_MAX 64

/* Where a call is (c->where, and a slot's state). 0: nowhere (leaving). */
enum { LLM_WAITING = 1, LLM_PREFILL, LLM_DECODE };

/* A running sequence. The call's own fields hold what must survive a
 * preemption: c->t0 the time the LLM received it, c->u0 the output tokens
 * generated before it was preempted, c->v0 the time of its first token
 * (0: none yet). The slot copies at admission what the step loop reads of
 * the call (t0, the first token's time, the prefix key and length, the
 * prompt's length), so that a step reads no call: on a replica among
 * hundreds each would be a cache miss. Token and block counts of one
 * sequence are below max_model_len (at most 2^24): 32 bits. Two cache
 * lines, the first holding what a step's end reads. */
typedef struct llm_slot {
    /* line 0 */
    _Alignas(64) call_t *c;
    sim_time_t first;   /* its first token's time (c->v0), 0: none yet */
    sim_time_t t0;      /* c->t0 */
    uint64_t key;       /* c->prefix_key */
    int32_t target;     /* output tokens at which it stops */
    int32_t gen;        /* output tokens generated (a decode: when it entered decode) */
    int32_t shared;     /* pinned shared-prefix blocks it uses */
    int32_t own;        /* prefill: blocks held (a decode's follow from its length) */
    int32_t prompt;     /* tokens to prefill: the prompt, plus the tokens generated before a preemption */
    int32_t computed;   /* prefill: of them, with KV (prefix-cache hits included) */
    int32_t chunk;      /* prefill tokens in the step in progress (0: none) */
    int32_t p0;         /* blocks of the shared prefix (c->prefix_tokens / block_size) */
    /* line 1 */
    int64_t v0, c0;     /* decode: the clock and its KV tokens when it entered decode */
    uint64_t order;     /* admission order (heap ties) */
    int64_t tokens_in;  /* c->tokens_in */
    int32_t prev, next; /* running list in admission order (-1 ends); free list through next */
    int32_t hidx;       /* decode: index in the heap */
    uint8_t state;      /* 0 free, LLM_PREFILL, LLM_DECODE */
    uint8_t level;      /* c->level: its priority level (scheduling_policy: priority) */
} llm_slot_t;
_Static_assert(sizeof(llm_slot_t) == 128, "a slot is two cache lines");

/* An entry of a replica's decode heap: the keys beside the slot, so that
 * sifting reads the heap alone. */
typedef struct {
    int64_t finish;     /* the clock value at which it has generated its target */
    uint64_t order;
    int32_t x;          /* its slot */
} llm_dec_t;

/* A replica. What every step reads and writes comes first, in three cache
 * lines (the struct is aligned to a line): with hundreds of replicas each
 * step finds its replica cold, and every further line it touches is one
 * more miss. */
struct llm_replica {
    /* line 0 */
    _Alignas(64) llm_t *llm;
    llm_slot_t *slot;           /* cap slots (grown up to max_num_seqs) */
    llm_dec_t *heap;            /* decodes by (finish, order) */
    int32_t *pre;               /* sequences in prefill, in admission order */
    int64_t *phase;             /* block_size counters: decodes by (v0 - c0) mod block_size */
    int64_t V;                  /* the decode clock: steps run since the replica started */
    int64_t next_finish;        /* the heap top's finish, INT64_MAX when empty */
    int64_t ndec;
    /* line 1 */
    int64_t npre;
    int64_t nrunning;
    int64_t used;               /* KV blocks held by running sequences */
    int64_t pinned;             /* blocks of the shared prompt prefix, once computed */
    int64_t sum_c0_v0;          /* sum over decodes of (c0 - v0): their KV tokens are this + ndec x V */
    sim_time_t step_start;
    int64_t step_decodes;       /* decodes in the step in progress */
    call_t *qhead;              /* waiting, through c->link / c->prev */
    /* line 2 */
    sim_timer_t step_timer;
    int32_t head, tail;         /* running sequences in admission order */
    int32_t free_slot;          /* freed slots below fresh, through next (-1: none) */
    /* A span of decode-only steps run without an event each (sched.c):
     * span_end[j] is the end of its step j; the step in progress is span_i;
     * the pending event is at span_end[span_n - 1]. span_n = 0: none. */
    int32_t span_n, span_i;
    int32_t span_hint;          /* steps to plan (adapts to how long spans last) */
    int idx;
    bool up;
    bool active;                /* wanted (autoscaling): up, loading or restarting; false: an empty slot or draining */
    bool stepping;              /* a step is in progress */
    int64_t nqueue;
    int64_t cap;                /* slots, heap and pre entries allocated */
    /* the rest: admissions and finishes with prefix caching, spans, rare events */
    llm_pcache_t pc;            /* cached blocks of freed prompts */
    call_t *qtail;
    /* scheduling_policy priority with more than one level (sched.c): the
     * waiting queue and the running list stay sorted by (level, order);
     * these are each level's first and last waiting call and last running
     * slot (-1: none). NULL / unused with one level. */
    call_t **lq_head, **lq_tail;
    int32_t *lrun_tail;
    int64_t fresh;              /* slots [0, fresh) have been used; the rest never */
    int64_t pinned_tokens;
    sim_time_t span_end[LLM_SPAN_MAX];
    sim_timer_t restart_timer;
    backoff_t backoff;
    char source[24];            /* "llm/<r>" */
};
_Static_assert(offsetof(struct llm_replica, pc) <= 192, "a step's fields fit in three cache lines");

/* sched.c */
int llm_sched_init(llm_replica_t *rp);           /* storage; 0 or SIM_ENOMEM */
void llm_sched_fini(llm_replica_t *rp);
void llm_sched_reset(llm_replica_t *rp);         /* empty (a kill); calls are the caller's */
size_t llm_sched_bytes(const llm_replica_t *rp);
/* A call routed to this (up) replica: queue it and start a step if idle. */
void llm_sched_submit(llm_replica_t *rp, call_t *c);
/* Take a detached call out (waiting or running); its slot and blocks are freed. */
void llm_sched_remove(llm_replica_t *rp, call_t *c);
/* Every call on the replica, unlinked into a list through c->link (kill). */
call_t *llm_sched_drain(llm_replica_t *rp, uint64_t *n);
/* Account the decode-only steps that ended by `now` (sampler, warm-up,
 * anyone who reads the blocks in use). */
void llm_sched_sync(llm_replica_t *rp, sim_time_t now);
/* The same, and end the span with the step in progress: what happens next
 * changes the steps to come (a speed change). */
void llm_sched_cut(llm_replica_t *rp, sim_time_t now);
/* Blocks in use including the pinned prefix, for the usage ratio. */
int64_t llm_sched_blocks_in_use(const llm_replica_t *rp);

/* llm.c: tell the owner and count */
void llm_finish_call(llm_t *llm, call_t *c, call_status_t s);

#endif
