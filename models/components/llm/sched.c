/* The step loop of an LLM replica: vLLM V1's scheduler (vllm/v1/core/sched/
 * scheduler.py, Scheduler.schedule) over a paged KV cache, one event per
 * step. Owns the replica's running sequences, decode heap, block counts,
 * prefix cache and waiting queue; calls the step-time model (steptime.h)
 * and llm.c's llm_finish_call. See llm.h for what it models and
 * docs/internals/models.md ("LLM") for the bookkeeping.
 *
 * A step, as Scheduler.schedule builds it:
 *   1. every running decode gets one token; a decode whose next token starts
 *      a block needs one; while the blocks free (cached prefixes count as
 *      free: they are evicted on demand) do not cover the need, the most
 *      recently admitted running sequence is preempted (vLLM's
 *      self.running.pop());
 *   2. the running sequence in prefill (at most one is left over from the
 *      step before: a partial prefill exhausts the budget) gets a chunk of
 *      min(remaining, budget) tokens, preempting from the tail if its
 *      blocks do not fit; when the tail is itself, it waits;
 *   3. if nothing was preempted, waiting sequences are admitted in FCFS
 *      order while budget, a sequence slot and their blocks last: each
 *      reuses its cached prefix, then takes a chunk of min(rest, budget).
 * When the step ends, decodes each add a token (finished ones leave), and
 * prefills add their chunk; a prefill that completes samples its first
 * token and becomes a decode. */
#include <assert.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "models/components/llm/llm_internal.h"
#include "sim/error.h"

static void step_end(sim_t *sim, void *obj, uint64_t arg);

static inline int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

/* a mod block_size in [0, block_size): block sizes are powers of two */
static inline int64_t bmod(int64_t a, int64_t bs) { return a & (bs - 1); }

/* ---- storage ----------------------------------------------------------------- */

/* Slots, the decode heap and the prefill list start small and double up
 * to max_num_seqs as the replica first needs them: a replica running 30
 * sequences of a possible 1,024 keeps 30-odd slots, hot in the cache (the
 * busy hour has 770 replicas). Growth happens a few times per replica per
 * run, never in steady state. */
#define LLM_SLOTS_INITIAL 16

static int grow_slots(llm_replica_t *rp)
{
    int64_t max = rp->llm->spec.max_num_seqs;
    int64_t cap = rp->cap ? 2 * rp->cap : LLM_SLOTS_INITIAL;
    if (cap > max) cap = max;
    /* slots aligned to a cache line (realloc does not keep an alignment) */
    llm_slot_t *slot = aligned_alloc(_Alignof(llm_slot_t), (size_t)cap * sizeof *slot);
    if (!slot) return SIM_ENOMEM;
    if (rp->slot) memcpy(slot, rp->slot, (size_t)rp->cap * sizeof *slot);
    free(rp->slot);
    rp->slot = slot;
    llm_dec_t *heap = realloc(rp->heap, (size_t)cap * sizeof *heap);
    if (!heap) return SIM_ENOMEM;
    rp->heap = heap;
    int32_t *pre = realloc(rp->pre, (size_t)cap * sizeof *pre);
    if (!pre) return SIM_ENOMEM;
    rp->pre = pre;
    rp->cap = cap;
    return 0;
}

int llm_sched_init(llm_replica_t *rp)
{
    const llm_spec_t *sp = &rp->llm->spec;
    rp->cap = 0;
    if (grow_slots(rp) != 0) return SIM_ENOMEM;
    rp->phase = calloc((size_t)sp->block_size, sizeof *rp->phase);
    if (!rp->phase) return SIM_ENOMEM;
    /* one entry per cacheable block at most */
    if (sp->enable_prefix_caching && llm_pc_init(&rp->pc, sp->kv_blocks < 64 ? sp->kv_blocks : 64,
                                                 sp->kv_blocks) != 0)
        return SIM_ENOMEM;
    if (sp->priority_policy && sp->levels > 1) {
        rp->lq_head = calloc((size_t)sp->levels, sizeof *rp->lq_head);
        rp->lq_tail = calloc((size_t)sp->levels, sizeof *rp->lq_tail);
        rp->lrun_tail = malloc((size_t)sp->levels * sizeof *rp->lrun_tail);
        if (!rp->lq_head || !rp->lq_tail || !rp->lrun_tail) return SIM_ENOMEM;
    }
    llm_sched_reset(rp);
    return 0;
}

void llm_sched_fini(llm_replica_t *rp)
{
    free(rp->lq_head);
    free(rp->lq_tail);
    free(rp->lrun_tail);
    free(rp->slot);
    free(rp->heap);
    free(rp->pre);
    free(rp->phase);
    llm_pc_fini(&rp->pc);
}

void llm_sched_reset(llm_replica_t *rp)
{
    const llm_spec_t *sp = &rp->llm->spec;
    rp->free_slot = -1;
    rp->fresh = 0;
    rp->head = rp->tail = -1;
    rp->nrunning = rp->ndec = rp->npre = 0;
    rp->next_finish = INT64_MAX;
    rp->V = 0;
    memset(rp->phase, 0, (size_t)sp->block_size * sizeof *rp->phase);
    rp->sum_c0_v0 = 0;
    rp->used = rp->pinned = rp->pinned_tokens = 0;
    llm_pc_clear(&rp->pc);
    rp->qhead = rp->qtail = NULL;
    if (rp->lq_head)
        for (int l = 0; l < sp->levels; l++) {
            rp->lq_head[l] = rp->lq_tail[l] = NULL;
            rp->lrun_tail[l] = -1;
        }
    rp->nqueue = 0;
    rp->stepping = false;
    rp->step_decodes = 0;
    rp->span_n = rp->span_i = 0;
    rp->span_hint = LLM_SPAN_MAX;
}

size_t llm_sched_bytes(const llm_replica_t *rp)
{
    const llm_spec_t *sp = &rp->llm->spec;
    size_t n = (size_t)rp->cap;
    return n * (sizeof *rp->slot + sizeof *rp->heap + sizeof *rp->pre) +
           (size_t)sp->block_size * sizeof *rp->phase + llm_pc_bytes(&rp->pc);
}

int64_t llm_sched_blocks_in_use(const llm_replica_t *rp) { return rp->used + rp->pinned; }

/* ---- the decode heap: by (finish, order) ----------------------------------------- */

static inline bool dec_less(const llm_dec_t *a, const llm_dec_t *b)
{
    if (a->finish != b->finish) return a->finish < b->finish;
    return a->order < b->order;
}

static inline void heap_set(llm_replica_t *rp, int64_t i, llm_dec_t d)
{
    rp->heap[i] = d;
    rp->slot[d.x].hidx = (int32_t)i;
}

static void sift_up(llm_replica_t *rp, int64_t i, llm_dec_t d)
{
    while (i > 0) {
        int64_t p = (i - 1) / 2;
        if (!dec_less(&d, &rp->heap[p])) break;
        heap_set(rp, i, rp->heap[p]);
        i = p;
    }
    heap_set(rp, i, d);
}

static void sift_down(llm_replica_t *rp, int64_t i, llm_dec_t d)
{
    int64_t n = rp->ndec;
    for (;;) {
        int64_t l = 2 * i + 1;
        if (l >= n) break;
        int64_t c = (l + 1 < n && dec_less(&rp->heap[l + 1], &rp->heap[l])) ? l + 1 : l;
        if (!dec_less(&rp->heap[c], &d)) break;
        heap_set(rp, i, rp->heap[c]);
        i = c;
    }
    heap_set(rp, i, d);
}

/* The first finish, kept in the replica so that a step's end need not
 * read the heap (on many replicas, a cache miss a step). */
static inline void top_update(llm_replica_t *rp)
{
    rp->next_finish = rp->ndec ? rp->heap[0].finish : INT64_MAX;
}

static void heap_remove(llm_replica_t *rp, int64_t i)
{
    llm_dec_t last = rp->heap[--rp->ndec];
    if (i != rp->ndec) {
        if (i > 0 && dec_less(&last, &rp->heap[(i - 1) / 2])) sift_up(rp, i, last);
        else sift_down(rp, i, last);
    }
    top_update(rp);
}

/* ---- blocks ---------------------------------------------------------------------- */

static inline int64_t bsize(const llm_replica_t *rp) { return rp->llm->spec.block_size; }

/* Blocks a decode holds: those of its KV tokens, c0 + (V - v0), plus the
 * next token's while a step that includes it is in progress. */
static inline int64_t dec_blocks(const llm_replica_t *rp, const llm_slot_t *s)
{
    int64_t kv = s->c0 + rp->V - s->v0 + (rp->stepping ? 1 : 0);
    return ceil_div(kv, bsize(rp)) - s->shared;
}

/* Blocks free for new allocations: cached prefixes count (they are evicted
 * on demand, as vLLM's free block queue holds them). */
static inline int64_t blocks_free(const llm_replica_t *rp)
{
    return rp->llm->spec.kv_blocks - rp->used - rp->pinned;
}

/* Allocate n blocks (the caller checked blocks_free() >= n): evict cached
 * prefixes until the uncached free blocks cover them. */
static void take_blocks(llm_replica_t *rp, int64_t n)
{
    int64_t uncached = blocks_free(rp) - rp->pc.blocks;
    if (uncached < n) llm_pc_evict(&rp->pc, n - uncached);
    rp->used += n;
}

/* A sequence frees its blocks: the full blocks of its prompt stay cached
 * under its prefix key (when prefix caching is on and the call has one). */
static void release_blocks(llm_replica_t *rp, const llm_slot_t *s, int64_t held, int64_t kv_tokens)
{
    rp->used -= held;
    if (!rp->llm->spec.enable_prefix_caching || s->key == 0) return;
    /* the keyed part: the prompt's full blocks after the shared prefix's
     * (a sequence that computed its own copy of the prefix frees that copy) */
    int64_t bs = bsize(rp), p0 = s->p0;
    int64_t prompt = s->tokens_in < kv_tokens ? s->tokens_in : kv_tokens;
    int64_t full = prompt / bs - p0;
    int64_t beyond = held - (p0 - s->shared);
    if (full > beyond) full = beyond;
    if (full > 0) llm_pc_put(&rp->pc, s->key, full);
}

/* ---- the running list ---------------------------------------------------------- */

/* Priority levels (llm.h): the running list is sorted by (level, admission);
 * the last running slot of the nearest level above l that has one (-1: none). */
static int32_t run_before_level(const llm_replica_t *rp, int l)
{
    while (--l >= 0)
        if (rp->lrun_tail[l] >= 0) return rp->lrun_tail[l];
    return -1;
}

static void run_append(llm_replica_t *rp, int32_t x)
{
    llm_slot_t *s = &rp->slot[x];
    if (rp->lrun_tail) {   /* after the last of its level (or of the levels before it) */
        int l = s->level;
        int32_t p = rp->lrun_tail[l] >= 0 ? rp->lrun_tail[l] : run_before_level(rp, l);
        int32_t n = p >= 0 ? rp->slot[p].next : rp->head;
        s->prev = p;
        s->next = n;
        if (p >= 0) rp->slot[p].next = x; else rp->head = x;
        if (n >= 0) rp->slot[n].prev = x; else rp->tail = x;
        rp->lrun_tail[l] = x;
        rp->nrunning++;
        return;
    }
    s->prev = rp->tail;
    s->next = -1;
    if (rp->tail >= 0) rp->slot[rp->tail].next = x; else rp->head = x;
    rp->tail = x;
    rp->nrunning++;
}

static void run_unlink(llm_replica_t *rp, int32_t x)
{
    llm_slot_t *s = &rp->slot[x];
    if (rp->lrun_tail && rp->lrun_tail[s->level] == x)
        rp->lrun_tail[s->level] = s->prev >= 0 && rp->slot[s->prev].level == s->level ? s->prev : -1;
    if (s->prev >= 0) rp->slot[s->prev].next = s->next; else rp->head = s->next;
    if (s->next >= 0) rp->slot[s->next].prev = s->prev; else rp->tail = s->prev;
    rp->nrunning--;
}

static void slot_free(llm_replica_t *rp, int32_t x)
{
    llm_slot_t *s = &rp->slot[x];
    s->state = 0;
    s->c = NULL;
    s->next = rp->free_slot;
    rp->free_slot = x;
}

static void pre_remove(llm_replica_t *rp, int32_t x)
{
    for (int64_t i = 0; i < rp->npre; i++)
        if (rp->pre[i] == x) {
            memmove(rp->pre + i, rp->pre + i + 1, (size_t)(rp->npre - i - 1) * sizeof *rp->pre);
            rp->npre--;
            return;
        }
    assert(!"pre_remove: not in prefill");
}

/* Take sequence x out of the running structures and free its blocks (the
 * prompt's stay cached). Its slot is freed; the call is returned. */
static call_t *unrun(llm_replica_t *rp, int32_t x)
{
    llm_slot_t *s = &rp->slot[x];
    call_t *c = s->c;
    if (s->state == LLM_DECODE) {
        int64_t held = dec_blocks(rp, s);
        int64_t kv = s->c0 + rp->V - s->v0;
        heap_remove(rp, s->hidx);
        rp->phase[bmod(s->v0 - s->c0, bsize(rp))]--;
        rp->sum_c0_v0 -= s->c0 - s->v0;
        release_blocks(rp, s, held, kv);
    } else {
        pre_remove(rp, x);
        release_blocks(rp, s, s->own, s->computed);
    }
    run_unlink(rp, x);
    slot_free(rp, x);
    return c;
}

/* ---- the waiting queue ----------------------------------------------------------- */

/* Priority levels: the waiting queue is sorted by (level, order); a call
 * goes to the back of its level (a preempted one: to its front). */
static void queue_push_level(llm_replica_t *rp, call_t *c, bool front)
{
    int l = c->level;
    call_t *prev, *next;
    if (rp->lq_head[l]) {
        next = front ? rp->lq_head[l] : rp->lq_tail[l]->link;
        prev = front ? rp->lq_head[l]->prev : rp->lq_tail[l];
    } else {
        prev = NULL;
        for (int k = l - 1; k >= 0 && !prev; k--) prev = rp->lq_tail[k];
        next = prev ? prev->link : rp->qhead;
    }
    c->prev = prev;
    c->link = next;
    if (prev) prev->link = c; else rp->qhead = c;
    if (next) next->prev = c; else rp->qtail = c;
    if (front || !rp->lq_head[l]) rp->lq_head[l] = c;
    if (!front || !rp->lq_tail[l]) rp->lq_tail[l] = c;
    rp->nqueue++;
}

static void queue_push(llm_replica_t *rp, call_t *c, bool front)
{
    c->where = LLM_WAITING;
    if (rp->lq_head) {
        queue_push_level(rp, c, front);
        return;
    }
    if (front) {
        c->prev = NULL;
        c->link = rp->qhead;
        if (rp->qhead) rp->qhead->prev = c; else rp->qtail = c;
        rp->qhead = c;
    } else {
        c->link = NULL;
        c->prev = rp->qtail;
        if (rp->qtail) rp->qtail->link = c; else rp->qhead = c;
        rp->qtail = c;
    }
    rp->nqueue++;
}

static void queue_unlink(llm_replica_t *rp, call_t *c)
{
    if (rp->lq_head) {
        int l = c->level;
        if (rp->lq_head[l] == c) rp->lq_head[l] = c->link && c->link->level == l ? c->link : NULL;
        if (rp->lq_tail[l] == c) rp->lq_tail[l] = c->prev && c->prev->level == l ? c->prev : NULL;
    }
    if (c->prev) c->prev->link = c->link; else rp->qhead = c->link;
    if (c->link) c->link->prev = c->prev; else rp->qtail = c->prev;
    c->link = c->prev = NULL;
    rp->nqueue--;
}

/* Preempt the most recently admitted running sequence: vLLM's recompute
 * (its KV is dropped; it goes back to the head of the queue and will
 * prefill its prompt and the tokens it generated again). Returns its slot
 * index before it was freed. */
static int32_t preempt_tail(llm_replica_t *rp)
{
    int32_t x = rp->tail;
    assert(x >= 0);
    llm_slot_t *s = &rp->slot[x];
    /* a decode's count moves with the clock: gen is its count at entry */
    int64_t gen = s->state == LLM_DECODE ? s->gen + (rp->V - s->v0) : s->gen;
    call_t *c = unrun(rp, x);
    c->u0 = (uint64_t)gen;
    queue_push(rp, c, true);
    rp->llm->st.preemptions++;
    return x;
}

/* ---- a step ---------------------------------------------------------------------- */

/* Output tokens a call's sequence stops at: its answer's length, within
 * max_tokens and the context left by max_model_len (at least 1). */
static int64_t target_of(const llm_spec_t *sp, const call_t *c)
{
    int64_t t = c->tokens_out > 1 ? c->tokens_out : 1;
    if (t > sp->max_tokens) t = sp->max_tokens;
    int64_t room = sp->max_model_len - (c->tokens_in > 0 ? c->tokens_in : 0);
    if (t > room) t = room;
    return t > 1 ? t : 1;
}

/* Admit the head of the queue with a chunk of at most `budget` tokens;
 * false (nothing changed) if its blocks do not fit. */
static bool admit_head(llm_replica_t *rp, int64_t *budget, llm_step_work_t *load)
{
    llm_t *llm = rp->llm;
    const llm_spec_t *sp = &llm->spec;
    int64_t bs = sp->block_size;
    call_t *c = rp->qhead;
    int64_t prompt_in = c->tokens_in > 0 ? c->tokens_in : 1;
    int64_t prompt = prompt_in + (int64_t)c->u0;   /* a preempted sequence recomputes its output too */

    /* prefix cache: the pinned shared prefix, then the blocks cached under
     * the key (they follow the shared prefix, so they count only with it) */
    int64_t shared = 0, keyed = 0, p0 = c->prefix_tokens / bs;
    uint64_t found = LLM_PC_NONE;
    if (sp->enable_prefix_caching) {
        if (p0 > 0 && rp->pinned == p0) shared = p0;
        if (c->prefix_key != 0 && shared == p0) keyed = llm_pc_blocks_at(&rp->pc, found = llm_pc_find(&rp->pc, c->prefix_key));
        /* at least one token is computed (vLLM: a full hit recomputes the last) */
        int64_t maxhit = (prompt - 1) / bs;
        if (shared > maxhit) shared = maxhit;
        if (shared + keyed > maxhit) keyed = maxhit - shared;
    }
    int64_t computed = (shared + keyed) * bs;
    int64_t chunk = prompt - computed < *budget ? prompt - computed : *budget;
    int64_t fresh = ceil_div(computed + chunk, bs) - shared - keyed;
    if (blocks_free(rp) - keyed < fresh) return false;
    if (rp->free_slot < 0 && rp->fresh == rp->cap && grow_slots(rp) != 0) {
        sim_t *sim = llm->sim;   /* out of memory: the run stops with SIM_ENOMEM */
        sim->error = SIM_ENOMEM;
        sim->stop = true;
        return false;
    }

    queue_unlink(rp, c);
    if (keyed > 0) {   /* the entry's blocks become this sequence's (any beyond the hit are dropped) */
        llm_pc_take_at(&rp->pc, found);
        rp->used += keyed;
    }
    take_blocks(rp, fresh);

    int32_t x = rp->free_slot;
    if (x >= 0) rp->free_slot = rp->slot[x].next;
    else x = (int32_t)rp->fresh++;
    llm_slot_t *s = &rp->slot[x];
    *s = (llm_slot_t){
        .c = c, .first = (sim_time_t)c->v0, .t0 = c->t0, .key = c->prefix_key,
        .target = (int32_t)target_of(sp, c), .gen = (int32_t)c->u0, .shared = (int32_t)shared,
        .own = (int32_t)(keyed + fresh), .prompt = (int32_t)prompt, .computed = (int32_t)computed,
        .chunk = (int32_t)chunk, .p0 = (int32_t)p0,
        .order = llm->next_order++, .tokens_in = c->tokens_in, .prev = -1, .next = -1, .hidx = -1,
        .state = LLM_PREFILL, .level = c->level,
    };
    c->where = LLM_PREFILL;
    c->hidx = x;
    if (c->started == 0) c->started = sim_now(llm->sim);
    run_append(rp, x);
    rp->pre[rp->npre++] = x;
    *budget -= chunk;
    llm->st.prefix_queries += (uint64_t)prompt;
    llm->st.prefix_hits += (uint64_t)computed;
    llm->win_queries += (uint64_t)prompt;
    llm->win_hits += (uint64_t)computed;
    load->prefill_tokens += chunk;
    load->prefill_prefix += computed;
    load->prefill_pairs += llm_chunk_pairs(computed, chunk);
    if (computed + chunk == prompt) load->sampled++;
    return true;
}

/* ---- spans of decode-only steps ------------------------------------------------
 * While a replica only decodes (nothing waits, nothing is in prefill), its
 * steps follow from its state until a decode finishes or a step needs more
 * blocks than are free: each step's duration depends only on the context
 * read, which grows by one token per decode per step. step_begin then plans
 * up to LLM_SPAN_MAX such steps at once and schedules one event, at the end
 * of the last; their bookkeeping (the clock, blocks, statistics) is done
 * when someone looks (llm_sched_sync) or at that event. Anything that
 * changes the steps to come (an arrival, a cancellation, a kill, a speed
 * change) first cuts the span after the step in progress. The steps and
 * their times are those of one event per step; the results too, except
 * where another event falls on the same nanosecond as a step's end: events
 * at one time run in schedule order, and a span's end is scheduled when
 * the span is planned, earlier than a step's own event would be. Both
 * orders are deterministic; they differ where two components read shared
 * state at that instant (docs/internals/performance.md, "Tried and
 * dropped: the admission step planned with the span after it"). */

/* The decode-only step span_i ended at span_end[span_i]: account it and
 * begin the next (its blocks were found free when the span was planned). */
static void coast_step(llm_replica_t *rp)
{
    llm_t *llm = rp->llm;
    sim_time_t end = rp->span_end[rp->span_i];
    sim_time_t dur = end - rp->step_start;
    uint64_t n = (uint64_t)rp->ndec;
    llm->st.steps++;
    llm->st.step_seconds += sim_time_to_s(dur);
    llm->st.step_decodes += n;
    llm->st.generation_tokens += n;
    llm->win_steps++;
    llm->win_step_seconds += sim_time_to_s(dur);
    llm->win_gen += n;
    sim_hist_add_n(&llm->itl, dur, n);
    rp->V++;
    take_blocks(rp, rp->phase[bmod(rp->V, bsize(rp))]);
    rp->step_start = end;
    rp->step_decodes = rp->ndec;
    rp->span_i++;
}

void llm_sched_sync(llm_replica_t *rp, sim_time_t now)
{
    while (rp->span_n > 0 && rp->span_i < rp->span_n - 1 && rp->span_end[rp->span_i] <= now) coast_step(rp);
}

void llm_sched_cut(llm_replica_t *rp, sim_time_t now)
{
    if (rp->span_n == 0) return;
    llm_sched_sync(rp, now);
    /* plan about twice what spans reach before they are cut (planning a
     * step costs a few ns, an event a hundred) */
    int32_t hint = 2 * (rp->span_i + 1);
    rp->span_hint = hint < 4 ? 4 : hint > LLM_SPAN_MAX ? LLM_SPAN_MAX : hint;
    if (rp->span_i < rp->span_n - 1) {
        sim_cancel(rp->llm->sim, &rp->step_timer);
        rp->step_timer = sim_schedule_at(rp->llm->sim, rp->span_end[rp->span_i], step_end, rp, 0);
    }
    rp->span_n = 0;
}

/* Whole ns of a step of `secs` seconds at the current speed, rounded up
 * (a hair of floating error is not a ns), at least 1. A span plans each of
 * its steps with this: ceil() is inline, as a truncation plus one when
 * there was a fraction (exact for 0 < x <= 2^61; no branch on the
 * fraction, which is random). */
static sim_time_t to_ns(const llm_t *llm, double secs)
{
    double x = secs * 1e9;
    if (llm->speed != 1.0) x /= llm->speed;   /* at nominal speed the quotient is x itself: no division */
    x -= 1e-3;
    if (!(x > 0)) return 1;
    if (x > (double)(SIM_TIME_MAX / 4)) return SIM_TIME_MAX / 4;
    sim_time_t i = (sim_time_t)x;
    return i + (sim_time_t)((double)i < x);
}

/* Plan a span of decode-only steps from step 0, begun at `now` with the
 * work `load`: until the first decode's finish, the first step whose
 * blocks are not free, or LLM_SPAN_MAX steps. A decode-only step's time is
 * affine in the context its decodes read, which grows by ndec tokens a
 * step: step j takes s0 + j (s1 - s0). Returns the end of the last step. */
static sim_time_t plan_span(llm_replica_t *rp, llm_step_work_t *load, sim_time_t now)
{
    llm_t *llm = rp->llm;
    int64_t bs = llm->spec.block_size;
    int64_t k = rp->next_finish - rp->V;   /* steps until the first finish */
    if (k > rp->span_hint) k = rp->span_hint;
    double s0 = llm_step_time_fast(&llm->hw, load), slope = 0;
    sim_time_t e = now + to_ns(llm, s0);
    rp->span_end[0] = e;
    int32_t n = 1;
    if (k > 1) {
        load->decode_context += rp->ndec;
        slope = llm_step_time_fast(&llm->hw, load) - s0;
    }
    int64_t avail = blocks_free(rp);
    for (int64_t j = 1; j < k; j++) {
        int64_t need = rp->phase[bmod(rp->V + j, bs)];
        if (need > avail) break;
        avail -= need;
        e += to_ns(llm, s0 + slope * (double)j);
        rp->span_end[n++] = e;
    }
    rp->span_n = n;
    rp->span_i = 0;
    return e;
}

/* Build the next step and schedule its end; leaves the replica idle when
 * there is nothing to run. */
static void step_begin(llm_replica_t *rp)
{
    llm_t *llm = rp->llm;
    const llm_spec_t *sp = &llm->spec;
    int64_t bs = sp->block_size;
    assert(!rp->stepping && rp->up);
    for (;;) {
        int64_t budget = sp->max_num_batched_tokens;
        bool preempted = false;
        llm_step_work_t load = {0};

        /* 1. decodes: one token each; blocks for those starting a block */
        int64_t need = rp->ndec ? rp->phase[bmod(rp->V, bs)] : 0;
        while (need > blocks_free(rp)) {
            int32_t x = rp->tail;
            bool needed = rp->slot[x].state == LLM_DECODE &&
                          bmod(rp->slot[x].v0 - rp->slot[x].c0, bs) == bmod(rp->V, bs);
            preempt_tail(rp);
            preempted = true;
            if (needed) need--;
        }
        take_blocks(rp, need);
        budget -= rp->ndec;
        load.decode_seqs = rp->ndec;
        load.decode_context = rp->sum_c0_v0 + rp->ndec * (rp->V + 1);
        load.sampled = rp->ndec;

        /* 2. the running sequences still in prefill, in admission order */
        for (int64_t i = 0; i < rp->npre && budget > 0; i++) {
            int32_t x = rp->pre[i];
            llm_slot_t *s = &rp->slot[x];
            int64_t chunk = s->prompt - s->computed < budget ? s->prompt - s->computed : budget;
            int64_t nb = ceil_div(s->computed + chunk, bs) - s->shared - s->own;
            bool self = false;
            while (nb > blocks_free(rp)) {
                self = rp->tail == x;
                preempt_tail(rp);
                preempted = true;
                if (self) break;
            }
            if (self) break;   /* it was the last running sequence left to preempt */
            take_blocks(rp, nb);
            s->own += (int32_t)nb;
            s->chunk = (int32_t)chunk;
            budget -= chunk;
            load.prefill_tokens += chunk;
            load.prefill_prefix += s->computed;
            load.prefill_pairs += llm_chunk_pairs(s->computed, chunk);
            if (s->computed + chunk == s->prompt) load.sampled++;
        }

        /* 3. waiting sequences, FCFS, unless something was preempted */
        if (!preempted)
            while (rp->qhead && budget > 0 && rp->nrunning < sp->max_num_seqs)
                if (!admit_head(rp, &budget, &load)) break;

        if (load.prefill_tokens + load.decode_seqs > 0) {
            sim_time_t now = sim_now(llm->sim);
            rp->stepping = true;
            rp->step_start = now;
            rp->step_decodes = rp->ndec;
            sim_time_t end = load.prefill_tokens == 0 && !rp->qhead && rp->npre == 0 && !preempted
                                 ? plan_span(rp, &load, now)
                                 : now + to_ns(llm, llm_step_time_fast(&llm->hw, &load));
            rp->step_timer = sim_schedule_at(llm->sim, end, step_end, rp, 0);
            return;
        }
        if (!rp->qhead || rp->nrunning > 0) return;   /* idle, or (defensive) nothing fits */
        /* Nothing runs and the head cannot be admitted: it can never fit
         * (the pool is checked against max_model_len at load; kept as a
         * guard against a stall). */
        call_t *c = rp->qhead;
        queue_unlink(rp, c);
        c->where = 0;
        lb_end(&llm->lb, rp->idx);
        llm_finish_call(llm, c, CALL_ERROR);
        if (!rp->up || rp->stepping) return;   /* the owner's reaction may have changed things */
    }
}

/* Record the first token of slot s at `now` (in the call too: it survives
 * a preemption there). */
static void first_token(llm_t *llm, llm_slot_t *s, sim_time_t now)
{
    if (s->first != 0) return;   /* a preempted sequence had it already */
    s->first = now;
    s->c->v0 = (double)now;
    s->c->first_out = now;
    int64_t ttft = now - s->t0;
    int k = sim_hist_bucket(ttft);
    sim_hist_add_at_(&llm->ttft, k, ttft);
    sim_hist_add_at_(&llm->win_ttft, k, ttft);
}

static void step_end(sim_t *sim, void *obj, uint64_t arg)
{
    (void)arg;
    llm_replica_t *rp = obj;
    llm_t *llm = rp->llm;
    const llm_spec_t *sp = &llm->spec;
    int64_t bs = sp->block_size;
    sim_time_t now = sim_now(sim);
    rp->step_timer = (sim_timer_t){0, 0};
    if (rp->span_n > 0) {   /* the span's steps before this one; it ran whole */
        llm_sched_sync(rp, now);
        rp->span_hint = rp->span_n * 2 > LLM_SPAN_MAX ? LLM_SPAN_MAX : rp->span_n * 2;
        rp->span_n = 0;
    }
    int64_t dur = now - rp->step_start;
    llm->st.steps++;
    llm->st.step_seconds += sim_time_to_s(dur);
    llm->st.step_decodes += (uint64_t)rp->step_decodes;
    llm->win_steps++;
    llm->win_step_seconds += sim_time_to_s(dur);
    if (rp->step_decodes > 0) {
        /* every decode of the step waited `dur` for its token */
        sim_hist_add_n(&llm->itl, dur, (uint64_t)rp->step_decodes);
        llm->st.generation_tokens += (uint64_t)rp->step_decodes;
        llm->win_gen += (uint64_t)rp->step_decodes;
    }

    /* decodes: each added a token; those at their target leave */
    rp->stepping = false;
    rp->V++;
    call_t *done = NULL, *dtail = NULL;
    while (rp->next_finish <= rp->V) {
        int32_t x = rp->heap[0].x;
        llm_slot_t *s = &rp->slot[x];
        s->gen = s->target;
        call_t *c = s->c;
        if (s->target > 1) {
            int64_t tpot = sim_llround(((double)now - (double)s->first) / (double)(s->target - 1));
            sim_hist_add(&llm->tpot, tpot);
        }
        llm->st.output_tokens += (uint64_t)s->target;
        unrun(rp, x);
        c->where = 0;
        c->link = NULL;
        if (dtail) dtail->link = c; else done = c;
        dtail = c;
    }

    /* prefills: add their chunk; a completed prompt samples its first token */
    int64_t keep = 0;
    for (int64_t i = 0; i < rp->npre; i++) {
        int32_t x = rp->pre[i];
        llm_slot_t *s = &rp->slot[x];
        if (s->chunk == 0) {
            rp->pre[keep++] = x;
            continue;
        }
        s->computed += s->chunk;
        llm->st.prompt_tokens += (uint64_t)s->chunk;
        llm->win_prompt += (uint64_t)s->chunk;
        s->chunk = 0;
        call_t *c = s->c;
        int64_t p0 = s->p0;
        if (sp->enable_prefix_caching && rp->pinned == 0 && p0 > 0 && s->shared == 0 && s->computed >= p0 * bs) {
            /* the shared prefix, computed for the first time, is pinned */
            rp->pinned = p0;
            rp->pinned_tokens = p0 * bs;
            s->own -= (int32_t)p0;
            rp->used -= p0;
            s->shared = (int32_t)p0;
        }
        if (s->computed < s->prompt) {
            rp->pre[keep++] = x;
            continue;
        }
        s->gen++;
        llm->st.generation_tokens++;
        llm->win_gen++;
        first_token(llm, s, now);
        if (s->gen >= s->target) {   /* a one-token answer: leaves now */
            llm->st.output_tokens += (uint64_t)s->target;
            release_blocks(rp, s, s->own, s->computed);
            run_unlink(rp, x);
            slot_free(rp, x);
            c->where = 0;
            c->link = NULL;
            if (dtail) dtail->link = c; else done = c;
            dtail = c;
            continue;
        }
        /* enters decode at the current clock with its prompt's KV */
        s->state = LLM_DECODE;
        c->where = LLM_DECODE;
        s->v0 = rp->V;
        s->c0 = s->computed;
        int64_t finish = rp->V + (s->target - s->gen);
        assert(ceil_div(s->c0, bs) - s->shared == s->own);
        rp->phase[bmod(s->v0 - s->c0, bs)]++;
        rp->sum_c0_v0 += s->c0 - s->v0;
        sift_up(rp, rp->ndec++, (llm_dec_t){.finish = finish, .order = s->order, .x = x});
        if (finish < rp->next_finish) rp->next_finish = finish;
    }
    rp->npre = keep;

    /* the next step starts at once; then the owners hear (they may submit) */
    if (rp->nrunning > 0 || rp->qhead) step_begin(rp);
    while (done) {
        call_t *c = done;
        done = c->link;
        c->link = NULL;
        lb_end(&llm->lb, rp->idx);
        int64_t e2e = now - c->t0;
        sim_hist_add(&llm->e2e, e2e);
        call_status_t st = CALL_OK;
        if (llm->error_ratio > 0 && sim_rng_uniform(llm->err_rng) < llm->error_ratio) st = CALL_ERROR;
        llm_finish_call(llm, c, st);
    }
}

/* ---- entry points from llm.c ------------------------------------------------------ */

void llm_sched_submit(llm_replica_t *rp, call_t *c)
{
    llm_sched_cut(rp, sim_now(rp->llm->sim));   /* it may join the next step */
    c->t0 = sim_now(rp->llm->sim);
    c->u0 = 0;
    c->v0 = 0;
    if (rp->lq_head && c->level >= rp->llm->spec.levels) c->level = (uint8_t)(rp->llm->spec.levels - 1);
    queue_push(rp, c, false);
    if (!rp->stepping) step_begin(rp);
}

void llm_sched_remove(llm_replica_t *rp, call_t *c)
{
    llm_sched_cut(rp, sim_now(rp->llm->sim));
    if (c->where == LLM_WAITING) {
        queue_unlink(rp, c);
    } else {
        int32_t x = (int32_t)c->hidx;
        llm_slot_t *s = &rp->slot[x];
        assert(s->c == c);
        (void)s;   /* in the step in progress, its work is wasted: the step's time stands */
        unrun(rp, x);
    }
    c->where = 0;
    /* freed blocks or a slot may let waiting sequences in: at the next step,
     * or now if the replica is idle */
    if (!rp->stepping && rp->up && rp->qhead) step_begin(rp);
}

call_t *llm_sched_drain(llm_replica_t *rp, uint64_t *n)
{
    call_t *list = NULL, *tail = NULL;
    *n = 0;
    for (int32_t x = rp->head; x >= 0; x = rp->slot[x].next) {
        call_t *c = rp->slot[x].c;
        c->link = NULL;
        if (tail) tail->link = c; else list = c;
        tail = c;
        (*n)++;
    }
    for (call_t *c = rp->qhead; c;) {
        call_t *next = c->link;
        c->link = NULL;
        if (tail) tail->link = c; else list = c;
        tail = c;
        (*n)++;
        c = next;
    }
    for (call_t *c = list; c; c = c->link) c->where = 0;
    sim_cancel(rp->llm->sim, &rp->step_timer);
    llm_sched_reset(rp);
    return list;
}
