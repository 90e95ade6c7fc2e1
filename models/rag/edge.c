/* The call edge of the RAG model: every call from a request to a
 * component goes out here (issue_call). A step's slot calls one component
 * through its edge: the edge's policies admit each attempt (or answer it
 * from a cache, or reject it), the call is made with the edge's timeout
 * (capped by the request's deadline when context propagation is on) and
 * the edge's packet loss, failed attempts are retried as the retry policy
 * says, and the edge's final outcome goes through the fallback
 * (slot_done), which ends the step with rag_finish_step (rag_internal.h).
 * Async edges (fire and forget, optionally batched) are here too. May call
 * the components, the policies, the gateway and request.c's outcome and
 * release. */
#include "models/rag/rag.h"

#include "models/rag/rag_internal.h"
#include "sim/error.h"

static void on_call_done(sim_t *sim, call_t *c, call_status_t st);
static void slot_done(rag_t *rag, rag_req_t *r, int slot, int target, call_status_t st, uint32_t flags);

static void send_event(sim_t *sim, void *obj, uint64_t arg)
{
    (void)sim;
    (void)arg;
    call_t *c = obj;
    const rag_edge_t *e = c->edge;
    e->rag->ops[e->target]->submit(e->rag->comp[e->target], c);
}

/* The request of a call reaches the component after its round trip on the
 * network (the whole round trip is paid before the component sees it: the
 * caller waits the same, the component works one response leg early). */
static void net_arrive_event(sim_t *sim, void *obj, uint64_t arg)
{
    (void)arg;
    call_t *c = obj;
    const rag_edge_t *e = c->edge;
    bool cancelled = c->flags & CALL_F_WIRE_CANCEL;
    c->flags &= ~(uint32_t)(CALL_F_WIRE | CALL_F_WIRE_CANCEL);
    if (cancelled) call_complete(sim, c, CALL_TIMEOUT);   /* its caller is gone: frees it */
    else e->rag->ops[e->target]->submit(e->rag->comp[e->target], c);
}

/* Ask the component to cancel a call, or, while it is on the network, make
 * sure it is never delivered. */
static inline void cancel_call(rag_t *rag, int target, call_t *c)
{
    if (c->flags & CALL_F_WIRE) c->flags |= CALL_F_WIRE_CANCEL;
    else rag->ops[target]->cancel(rag->comp[target], c);
}

static void lost_event(sim_t *sim, void *obj, uint64_t arg)
{
    (void)arg;
    call_complete(sim, obj, CALL_ERROR);   /* connection reset after the last retransmission */
}

static void llm_call_released(sim_t *sim, call_t *c)
{
    (void)sim;
    const rag_edge_t *e = c->edge;
    gw_llm_call_end(&e->rag->gw, (int)(c->caller_u & 0xFFFFFFFF), (uint32_t)(c->caller_u >> 32));
}

static pol_ctx_t pol_ctx(rag_t *rag, rag_req_t *r, int slot)
{
    int target = r->slot[slot].target;
    pol_ctx_t x = {.sim = rag->sim, .now = sim_now(rag->sim), .attempt = r->slot[slot].attempt, .key = r->key,
                   .deadline = r->deadline, .prev_delay = r->slot[slot].prev_delay, .retry_on = rag->retry_on[target],
                   .inflight = *rag_inflight(rag, target, r->replica),
                   .retries_inflight = *rag_retries_inflight(rag, target, r->replica),
                   .inflight_at_issue = r->slot[slot].inflight_at_issue, .note = &r->slot[slot].pol_note};
    return x;
}

/* The slot's retry (if one is in flight) has ended: decided and then
 * rejected, abandoned, or its attempt got its outcome. */
static inline void retry_end(rag_t *rag, rag_req_t *r, int slot)
{
    if (r->retry_live & (1u << slot)) {
        r->retry_live &= (uint16_t)~(1u << slot);
        (*rag_retries_inflight(rag, r->slot[slot].target, r->replica))--;
    }
}

/* A timed-out attempt whose context is cancelled with its timeout. */
static void cancel_timed_out(sim_t *sim, call_t *c)
{
    (void)sim;
    const rag_edge_t *e = c->edge;
    cancel_call(e->rag, e->target, c);
}

/* Make the call of one attempt: every call from a request to a component
 * goes out here. */
static void issue_call(rag_t *rag, rag_req_t *r, int slot, int target)
{
    sim_t *sim = rag->sim;
    call_t *c = call_new(&rag->calls, r, on_call_done, (uint64_t)slot, sim_now(sim));
    if (!c) {
        sim->error = SIM_ENOMEM;
        sim_stop(sim);
        return;
    }
    c->edge = &rag->edge[target];
    c->key = r->key;
    if (rag->spec->nclasses) c->level = rag->spec->classes[r->cls].level;
    switch (target) {
    case RAG_EMBEDDER: c->tokens_in = r->qtok; break;
    case RAG_VECTORDB: c->top_k = rag->spec->top_k; break;
    case RAG_LLM:
        c->tokens_in = r->prompt_tokens;
        c->tokens_out = r->otok;
        /* prefix caching: every prompt starts with the system prompt; the
         * rest is the same prompt exactly when the question and what was
         * retrieved for it are (same key, same retrieval outcome, no
         * pollution) */
        c->prefix_tokens = rag->spec->system_prompt_tokens;
        c->prefix_key = rag->pollution == 1.0 ? rag_prompt_key(r->key, r->flags) : 0;
        /* the LLM call runs in its own goroutine, holding its buffers until
         * the LLM answers, even after the request gave up (unless cancelled) */
        gw_llm_call_begin(&rag->gw, r->replica);
        c->release = llm_call_released;
        c->caller_u = ((uint64_t)r->gen << 32) | (uint32_t)r->replica;
        break;
    default: break;
    }
    r->slot[slot].call = c;
    r->slot[slot].inflight_at_issue = (int32_t)++*rag_inflight(rag, target, r->replica);
    sim_time_t to = rag->spec->edge[target].timeout;
    if (rag->spec->context_propagation) {
        /* the call's context carries the request's deadline, and its own
         * timeout cancels it: the component stops working on it */
        sim_time_t left = r->deadline - sim_now(sim);
        if (left > 0 && (to == 0 || left <= to)) {
            /* the request's deadline comes first: at that instant it
             * cancels every call of the request (deadline_passed), so the
             * call needs no timeout of its own (one set for the same
             * instant would only race the deadline) */
            to = 0;
        } else if (to == 0 || left < to) {
            to = 1;   /* the deadline has passed */
        }
        if (rag->ops[target]->cancel) c->cancel_after_timeout = cancel_timed_out;
    }
    /* the edge's own timeout: its list serves every call with one event */
    if (to > 0 && to == rag->edge[target].timeouts.delay) call_set_timeout_list(sim, c, &rag->edge[target].timeouts);
    else if (to > 0) call_set_timeout(sim, c, to);
    /* packet loss on the edge: each transmission is lost with probability p;
     * TCP retransmits after rto, doubling; after max_retransmits the call fails */
    double p = rag->loss[target];
    if (p > 0 && sim_rng_uniform(rag->rng_loss) < p) {
        sim_time_t delay = 0, rto = rag->loss_rto[target];
        int64_t k = 1;
        while (k <= rag->loss_max[target] && sim_rng_uniform(rag->rng_loss) < p) {
            delay += rto;
            rto *= 2;
            k++;
        }
        delay += rto;
        if (k > rag->loss_max[target]) sim_schedule_in(sim, delay, lost_event, c, 0);
        else sim_schedule_in(sim, delay, send_event, c, 0);
        return;
    }
    if (rag->spec->edge[target].has_rtt) {
        sim_time_t rtt = sim_time_from_s(sim_dist_sample(&rag->spec->edge[target].rtt, rag->rng_net[target]));
        if (rtt > 0) {
            c->flags |= CALL_F_WIRE;
            sim_schedule_in(sim, rtt, net_arrive_event, c, 0);
            return;
        }
    }
    rag->ops[target]->submit(rag->comp[target], c);
}

static void retry_event(sim_t *sim, void *obj, uint64_t arg)
{
    (void)sim;
    rag_req_t *r = obj;
    int slot = (int)arg;
    /* the request's CPU station belongs to the gateway, whose hooks know the model */
    rag_t *rag = ((gw_t *)r->job.job.st->owner)->hooks.ctx;
    r->slot[slot].retry_timer = (sim_timer_t){0, 0};
    rag_edge_attempt(rag, r, slot);
}

/* The attempt waited for its admission (a shared store's round trip). */
static void admitted_event(sim_t *sim, void *obj, uint64_t arg)
{
    (void)sim;
    rag_req_t *r = obj;
    int slot = (int)arg;
    rag_t *rag = ((gw_t *)r->job.job.st->owner)->hooks.ctx;
    r->slot[slot].retry_timer = (sim_timer_t){0, 0};
    r->slot[slot].attempt++;
    issue_call(rag, r, slot, r->slot[slot].target);
}

void rag_edge_attempt(rag_t *rag, rag_req_t *r, int slot)
{
    int target = r->slot[slot].target;
    pol_ctx_t x = pol_ctx(rag, r, slot);
    const pol_inst_t *pols = rag_pols(rag, target, r->replica);
    for (size_t i = 0; i < rag->npols[target]; i++) {
        const pol_inst_t *p = &pols[i];
        if (!p->type->admit) continue;
        pol_verdict_t v = p->type->admit(p->state, p->spec, &x);
        if (v == POL_HIT) {
            retry_end(rag, r, slot);
            slot_done(rag, r, slot, target, CALL_OK, 0);
            return;
        }
        if (v == POL_REJECT) {
            /* fail fast: a local decision, not retried. The policies that
             * admitted the attempt before (the breaker in front of a
             * bulkhead) see it fail as rejected, as a Resilience4j decorator
             * sees the inner one's exception; a half-open breaker's probe
             * is not left without an outcome. */
            x.status = CALL_REJECTED;
            x.latency = 0;
            x.inflight_at_issue = x.inflight + 1;
            for (size_t j = 0; j < i; j++) {
                const pol_inst_t *q = &pols[j];
                if (q->type->admit && q->type->done) q->type->done(q->state, q->spec, &x);
            }
            retry_end(rag, r, slot);
            rag->policy_rejects[target]++;
            slot_done(rag, r, slot, target, CALL_REJECTED, 0);
            return;
        }
    }
    if (x.admit_delay > 0) {   /* the decision came from a shared store */
        r->slot[slot].retry_timer = sim_schedule_in(rag->sim, x.admit_delay, admitted_event, r, (uint64_t)slot);
        return;
    }
    r->slot[slot].attempt++;
    issue_call(rag, r, slot, target);
}

/* A retry proposed by the edge's retry policy: every policy may veto it
 * (budgets, throttling); if none does, each is told it is taken. */
static bool retry_allowed(rag_t *rag, int target, const pol_inst_t *pols, const pol_ctx_t *x)
{
    for (size_t i = 0; i < rag->npols[target]; i++) {
        const pol_inst_t *p = &pols[i];
        if (p->type->allow_retry && !p->type->allow_retry(p->state, p->spec, x)) return false;
    }
    for (size_t i = 0; i < rag->npols[target]; i++) {
        const pol_inst_t *p = &pols[i];
        if (p->type->retry_scheduled) p->type->retry_scheduled(p->state, p->spec, x);
    }
    return true;
}

static void on_call_done(sim_t *sim, call_t *c, call_status_t st)
{
    rag_req_t *r = c->owner;
    const rag_edge_t *e = c->edge;
    rag_t *rag = e->rag;
    int target = e->target;
    int slot = (int)c->tag;
    r->slot[slot].call = NULL;
    if (r->flags & RQ_SAMPLED) rag_record_call_spans(rag, r->id, target, r->slot[slot].attempt - 1, c, st);
    (*rag_inflight(rag, target, r->replica))--;
    retry_end(rag, r, slot);
    pol_ctx_t x = pol_ctx(rag, r, slot);
    x.attempt = r->slot[slot].attempt - 1;
    x.status = st;
    x.latency = sim_now(sim) - c->sent;
    x.flags = c->flags;
    const pol_inst_t *pols = rag_pols(rag, target, r->replica);
    for (size_t i = 0; i < rag->npols[target]; i++) {
        const pol_inst_t *p = &pols[i];
        if (p->type->done) p->type->done(p->state, p->spec, &x);
    }
    if (st != CALL_OK) {
        for (size_t i = 0; i < rag->npols[target]; i++) {
            const pol_inst_t *p = &pols[i];
            if (p->type->retry && p->type->retry(p->state, p->spec, &x)) {
                if (!retry_allowed(rag, target, pols, &x)) {
                    rag->retry_vetoes[target]++;
                    break;
                }
                rag->retries[target]++;
                r->slot[slot].prev_delay = x.retry_delay;
                r->retry_live |= (uint16_t)(1u << slot);
                (*rag_retries_inflight(rag, target, r->replica))++;
                r->slot[slot].retry_timer = sim_schedule_in(sim, x.retry_delay, retry_event, r, (uint64_t)slot);
                return;
            }
        }
    }
    slot_done(rag, r, slot, target, st, c->flags);
}

static int stage_slot(int target) { return target >= RAG_FIRST_DEP ? 3 : target; }

/* Stop every call and retry of the request's current step. */
void rag_abandon_calls(rag_t *rag, rag_req_t *r, bool cancel)
{
    for (int i = 0; i < r->nslots; i++) {
        sim_cancel(rag->sim, &r->slot[i].retry_timer);
        retry_end(rag, r, i);
        call_t *c = r->slot[i].call;
        if (!c) continue;
        r->slot[i].call = NULL;
        (*rag_inflight(rag, r->slot[i].target, r->replica))--;
        call_abandon(rag->sim, c);
        const rag_edge_t *e = c->edge;
        if (cancel && rag->ops[e->target]->cancel) cancel_call(rag, e->target, c);
    }
}

/* The request is answered before its pipeline ends (a refusal, a cached
 * answer): the rest of the step is abandoned. */
static void finish_early(rag_t *rag, rag_req_t *r, int reason)
{
    r->flags |= RQ_FINISHED | RQ_DEGRADED;
    rag_abandon_calls(rag, r, true);
    rag_req_outcome(rag, r, RAG_DEGRADED, reason);
    rag_req_release(rag, r);
}

/* The edge's final outcome for the slot (after retries): statistics, the
 * fallback, the step's bookkeeping. */
static void slot_done(rag_t *rag, rag_req_t *r, int slot, int target, call_status_t st, uint32_t flags)
{
    const rag_spec_t *spec = rag->spec;
    sim_time_t lat = sim_now(rag->sim) - r->slot[slot].first_sent;
    rag_stage_t *sg = &rag->stage[target];
    sg->calls++;
    /* latency quantiles cover calls that got an answer or ran out of time;
     * a call refused on the spot (a full queue, an open breaker, a rate
     * limit, no replica) is counted in `failed`, not averaged in at 0 s */
    if (st != CALL_REJECTED && st != CALL_UNAVAILABLE) {
        sim_hist_add2(&sg->all, &sg->win, lat);
        rag_lehist_add(&sg->le, lat);
    }
    int ss = stage_slot(target);
    r->stage_s[ss] = (r->stage_s[ss] < 0 ? 0 : r->stage_s[ss]) + (float)sim_time_to_s(lat);
    if (st != CALL_OK) sg->failed++;

    /* the slot of a retrieve step, whichever component now serves it (the
     * vector DB, the keyword channel, a backup index) */
    bool retrieval = spec->steps[r->step].target[slot] == RAG_VECTORDB;
    rag_fallback_t fb = st != CALL_OK ? spec->edge[target].fallback : FB_NONE;
    if (fb != FB_NONE) rag->fallbacks[target]++;
    if (fb == FB_CACHED_ANSWER) {
        if (embc_lookup(&rag->answers, r->key, sim_now(rag->sim))) {
            finish_early(rag, r, REASON_CACHED(rag->ncomp));
            return;
        }
        fb = FB_NONE;   /* nothing cached: as without a fallback */
    }
    if (fb == FB_REFUSE) {
        /* degrade, don't hallucinate: answer that it cannot answer now */
        finish_early(rag, r, target * CALL_NSTATUS + (int)st);
        return;
    }
    if (fb == FB_KEYWORD && target == RAG_VECTORDB) {
        /* retrieve through the keyword channel in the same slot */
        r->flags |= RQ_DEGRADED;
        rag_edge_call(rag, r, slot, spec->keyword);
        return;
    }
    if (fb == FB_CALL && target == spec->steps[r->step].target[slot]) {
        /* call the alternative in the same slot; its own failure is final
         * (a fallback's fallback is not followed: no chains, no loops) */
        if (!spec->edge[target].fallback_full) r->flags |= RQ_DEGRADED;
        rag_edge_call(rag, r, slot, spec->edge[target].fallback_target);
        return;
    }
    if (retrieval) {
        rag->retrievals++;
        rag->win_retrievals++;
        if (st == CALL_OK) r->flags |= RQ_CONTEXT;   /* chunks (relevant or not) for the prompt */
        if (st != CALL_OK) {
            /* naive: no breaker between retrieval and generation; go on empty */
            r->flags |= RQ_EMPTY;
            rag->retrievals_empty++;
            rag->win_empty++;
        } else if (flags & CALL_F_IRRELEVANT) {
            r->flags |= RQ_IRRELEVANT;
        } else if (target == spec->keyword && sim_rng_uniform(rag->rng_keyword) >= spec->keyword_relevance) {
            r->flags |= RQ_IRRELEVANT;   /* BM25 found chunks, not the right ones */
        }
    } else if (st != CALL_OK) {
        if (fb == FB_KEYWORD && target == RAG_EMBEDDER) {
            r->flags |= RQ_DEGRADED | RQ_KEYWORD;   /* no embedding: keyword retrieval later */
        } else if (fb == FB_SKIP) {
            r->flags |= RQ_DEGRADED;                  /* go on without the dependency */
        } else if (!(r->flags & RQ_FAILED)) {
            r->flags |= RQ_FAILED;
            r->reason = target * CALL_NSTATUS + (int)st;
        }
    } else if (target == RAG_EMBEDDER) {
        gw_cache_insert(&rag->gw, r->replica, r->key);
    }
    if (--r->pending == 0) rag_finish_step(rag, r);
}

/* ---- async edges: fire and forget, optionally batched ---------------------------- */

static void on_async_done(sim_t *sim, call_t *c, call_status_t st)
{
    rag_async_t *a = c->owner;
    const rag_edge_t *e = c->edge;
    rag_t *rag = e->rag;
    int target = e->target;
    (*rag_inflight(rag, target, 0))--;
    pol_ctx_t x = {.sim = sim, .now = sim_now(sim), .deadline = SIM_TIME_MAX, .status = st, .retry_on = rag->retry_on[target],
                   .latency = sim_now(sim) - c->sent, .flags = c->flags, .inflight = *rag_inflight(rag, target, 0),
                   .retries_inflight = *rag_retries_inflight(rag, target, 0), .inflight_at_issue = (int64_t)c->caller_u};
    int64_t note = 0;
    x.note = &note;
    for (size_t i = 0; i < rag->npols[target]; i++) {
        const pol_inst_t *p = &rag_pols(rag, target, 0)[i];
        if (p->type->done) p->type->done(p->state, p->spec, &x);
    }
    rag_stage_t *sg = &rag->stage[target];
    sg->calls++;
    sim_hist_add2(&sg->all, &sg->win, x.latency);
    rag_lehist_add(&sg->le, x.latency);
    if (st != CALL_OK) {
        sg->failed++;
        a->failed += c->tag;
    }
}

/* Send the waiting items of an async edge as one call (one per item
 * without batching); the edge's policies may refuse it (an open breaker:
 * the items are dropped, counted). */
static void async_flush(rag_t *rag, int target)
{
    rag_async_t *a = &rag->async[target];
    sim_t *sim = rag->sim;
    sim_cancel(sim, &a->timer);
    int64_t n = a->items;
    a->items = 0;
    if (n == 0) return;
    int64_t note = 0;
    pol_ctx_t x = {.sim = sim, .now = sim_now(sim), .deadline = SIM_TIME_MAX, .retry_on = rag->retry_on[target], .inflight = *rag_inflight(rag, target, 0),
                   .retries_inflight = *rag_retries_inflight(rag, target, 0), .note = &note};
    for (size_t i = 0; i < rag->npols[target]; i++) {
        const pol_inst_t *p = &rag_pols(rag, target, 0)[i];
        if (!p->type->admit) continue;
        pol_verdict_t v = p->type->admit(p->state, p->spec, &x);
        if (v == POL_PASS) continue;
        if (v == POL_REJECT) {
            x.status = CALL_REJECTED;
            x.inflight_at_issue = x.inflight + 1;
            for (size_t j = 0; j < i; j++) {
                const pol_inst_t *q = &rag_pols(rag, target, 0)[j];
                if (q->type->admit && q->type->done) q->type->done(q->state, q->spec, &x);
            }
            rag->policy_rejects[target]++;
            a->dropped += (uint64_t)n;
        }
        return;   /* refused, or answered from a cache: nothing to send */
    }
    call_t *c = call_new(&rag->calls, a, on_async_done, (uint64_t)n, sim_now(sim));
    if (!c) {
        sim->error = SIM_ENOMEM;
        sim_stop(sim);
        return;
    }
    c->edge = &rag->edge[target];
    c->caller_u = (uint64_t)++*rag_inflight(rag, target, 0);
    a->batches++;
    if (rag->spec->edge[target].timeout > 0) call_set_timeout_list(sim, c, &rag->edge[target].timeouts);
    rag->ops[target]->submit(rag->comp[target], c);
}

static void async_window_event(sim_t *sim, void *obj, uint64_t arg)
{
    (void)sim;
    rag_t *rag = obj;
    rag->async[arg].timer = (sim_timer_t){0, 0};
    async_flush(rag, (int)arg);
}

void rag_async_item(rag_t *rag, int target)
{
    const rag_edge_spec_t *es = &rag->spec->edge[target];
    rag_async_t *a = &rag->async[target];
    a->items_total++;
    if (a->items++ == 0 && es->batch_window > 0)
        a->timer = sim_schedule_in(rag->sim, es->batch_window, async_window_event, rag, (uint64_t)target);
    if (es->batch_window == 0 || a->items >= es->batch_max) async_flush(rag, target);
}
