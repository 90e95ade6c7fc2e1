/* A request's life in the RAG model: its allocation from the pool, its
 * arrival and admission at a gateway replica, its CPU segments there, its
 * deadline (with or without context propagation), its outcome, its
 * release, the users' resubmissions (client retries), and the pipeline's
 * steps (rag_run_step: which calls each step makes). The calls themselves
 * go through the call edge (edge.c), which ends each step with
 * rag_finish_step (rag_internal.h). May call the gateway, the edge and
 * metrics.c's requests table. */
#include "models/rag/rag.h"

#include <math.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "models/rag/rag_internal.h"
#include "sim/error.h"
#include "sim/slab.h"

static rag_req_t *req_alloc(rag_t *rag)
{
    if (!rag->free_reqs) {
        void **s = realloc(rag->slabs, (rag->nslabs + 1) * sizeof *s);
        if (!s) return NULL;
        rag->slabs = s;
        rag_req_t *slab = sim_slab_alloc(REQ_SLAB * sizeof *slab);   /* slots on line boundaries */
        if (!slab) return NULL;
        rag->slabs[rag->nslabs++] = slab;
        for (size_t i = REQ_SLAB; i-- > 0;) {
            slab[i].next_free = rag->free_reqs;
            rag->free_reqs = &slab[i];
        }
    }
    rag_req_t *r = rag->free_reqs;
    rag->free_reqs = r->next_free;
    return r;
}

static bool sampled(const rag_t *rag, uint64_t id)
{
    return rag->sample_threshold && sim_rng_sm64(id ^ 0x5A4D504C45ULL) < rag->sample_threshold;
}

/* The client's view: the request's outcome, recorded once. */
static bool maybe_client_retry(rag_t *rag, const rag_req_t *r, rag_outcome_t o);

/* The request's deadline no longer matters (it ended, or its replica crashed). */
static inline void clear_deadline(rag_t *rag, rag_req_t *r)
{
    if (r->deadline_tle.listed) sim_tlist_remove(&rag->deadlines, &r->deadline_tle);
    else sim_cancel(rag->sim, &r->deadline_timer);
}

void rag_req_outcome(rag_t *rag, rag_req_t *r, rag_outcome_t o, int reason)
{
    if (r->flags & RQ_ENDED) return;
    r->flags |= RQ_ENDED;
    r->outcome = (uint8_t)o;
    r->reason = reason;
    r->ended = sim_now(rag->sim);
    clear_deadline(rag, r);
    rag->outcome[o]++;
    rag->win_outcome[o]++;
    if (rag->spec->nclasses) {
        struct rag_class_stats *cs = &rag->cls[r->cls];
        cs->outcome[o]++;
        cs->win_ended++;
        cs->win_ok += o == RAG_OK_SUCCESS;
    }
    if (reason >= 0) rag->reason[reason]++;
    if (!(rag->spec->client_retries > 0 && maybe_client_retry(rag, r, o))) {   /* the user's request ends */
        rag->user_ended++;
        rag->user_success += o == RAG_OK_SUCCESS;
    }
    if (o == RAG_OK_SUCCESS || o == RAG_DEGRADED) {
        sim_time_t lat = r->ended - r->arrival;
        sim_tmean_add(&rag->latency_s, lat);
        sim_hist_add2(&rag->latency, &rag->win_latency, lat);
        if (rag->spec->nclasses) sim_hist_add2(&rag->cls[r->cls].latency, &rag->cls[r->cls].win_latency, lat);
        rag_lehist_add(&rag->latency_le, lat);
        rag->win_answers++;
        if (r->flags & RQ_UNGROUNDED) {
            rag->ungrounded++;
            rag->win_ungrounded++;
        }
    }
}

/* The gateway is done with the request (its pipeline ended or failed). */
void rag_req_release(rag_t *rag, rag_req_t *r)
{
    clear_deadline(rag, r);   /* normally done with its outcome; a pooled request must not stay listed */
    if (r->flags & RQ_SAMPLED) {
        rag_record_request(rag, r);
        rag_record_span(rag, r->id, "gateway", -1, r->replica, r->arrival, sim_now(rag->sim),
                        rag_outcome_name((rag_outcome_t)r->outcome));
    }
    if (r->replica >= 0) {
        if (r->prev) r->prev->next = r->next; else rag->held[r->replica] = r->next;
        if (r->next) r->next->prev = r->prev;
        gw_request_end(&rag->gw, r->replica, r->gen);
    }
    rag->in_flight--;
    r->next_free = rag->free_reqs;
    rag->free_reqs = r;
}

static void deadline_passed(rag_t *rag, rag_req_t *r);

static void deadline_event(sim_t *sim, void *obj, uint64_t arg)
{
    (void)sim;
    rag_req_t *r = obj;
    r->deadline_timer = (sim_timer_t){0, 0};
    deadline_passed((rag_t *)(uintptr_t)arg, r);
}

void rag_deadline_fire(sim_t *sim, sim_tl_entry_t *e, void *ctx)
{
    (void)sim;
    deadline_passed(ctx, (rag_req_t *)(void *)((char *)e - offsetof(rag_req_t, deadline_tle)));
}

static void deadline_passed(rag_t *rag, rag_req_t *r)
{
    rag_req_outcome(rag, r, RAG_TIMEOUT, REASON_DEADLINE(rag->ncomp));
    if (rag->spec->context_propagation) {
        /* the context is cancelled: every call of the request is cancelled
         * down to the components, and its goroutine returns (a CPU segment
         * in progress ends first) */
        r->flags |= RQ_CANCELLED;
        if (r->phase == PH_STEPS) {
            rag_abandon_calls(rag, r, true);
            rag_req_release(rag, r);
        }
        return;
    }
    /* naive: the client gives up, the gateway goes on (no context
     * propagation); its goroutine may block forever */
    gw_deadline(&rag->gw, r->replica, r->u_leak);
}

void rag_on_request_cpu_done(void *ctx, stn_job_t *job, stn_outcome_t oc)
{
    rag_t *rag = ctx;
    rag_req_t *r = (rag_req_t *)job;
    if (oc != STN_DONE) return;   /* the process died: gw_crash fails the request */
    if (r->flags & RQ_CANCELLED) {
        rag_req_release(rag, r);   /* its context was cancelled during the segment */
        return;
    }
    if (r->phase == PH_PRE) {
        r->phase = PH_STEPS;
        rag_run_step(rag, r);
    } else {
        r->phase = PH_DONE;
        bool grounded = !(r->flags & RQ_UNGROUNDED);
        if (grounded && !(r->flags & RQ_DEGRADED) && rag->spec->answer_cache.mode != EMBC_NONE &&
            embc_insert(&rag->answers, r->key, sim_now(rag->sim)) != 0) {
            rag->sim->error = SIM_ENOMEM;
            sim_stop(rag->sim);
        }
        /* an answer generated without the context its retrieval failed to
         * bring is degraded, not a success: the gateway knows it went on
         * without chunks (chunks that came back but are unrelated, it does
         * not know: those count as successes, and in ungrounded_ratio) */
        rag_req_outcome(rag, r, (r->flags & (RQ_DEGRADED | RQ_EMPTY)) ? RAG_DEGRADED : RAG_OK_SUCCESS, -1);
        rag_req_release(rag, r);
    }
}

/* Replica r crashed: every request it held fails (or, if its client already
 * gave up, simply ends); the calls they were waiting for are abandoned. */
void rag_fail_all(void *ctx, int replica)
{
    rag_t *rag = ctx;
    int reason = REASON_GATEWAY_CRASH(rag->ncomp);
    while (rag->held[replica]) {
        rag_req_t *r = rag->held[replica];
        /* the process's connections close: the servers cancel its calls */
        rag_abandon_calls(rag, r, true);
        rag_req_outcome(rag, r, RAG_ERROR, reason);   /* clears its deadline (rag_req_release too) */
        rag_req_release(rag, r);
    }
    /* its client-side policies lived in its memory: they start afresh
     * (breakers closed, buckets full) when it restarts */
    for (int k = 0; k < rag->ncomp; k++)
        if (pol_insts_reset(rag->pols[k], rag->npols[k], replica, rag->sim, rag->spec->comp_name[k]) != 0) {
            rag->sim->error = SIM_ENOMEM;
            sim_stop(rag->sim);
        }
}

static void admit_request(rag_t *rag, rag_req_t *r);

static rag_req_t *new_request(rag_t *rag)
{
    rag_req_t *r = req_alloc(rag);
    if (!r) {
        rag->sim->error = SIM_ENOMEM;
        sim_stop(rag->sim);
        return NULL;
    }
    memset(r, 0, offsetof(rag_req_t, slot));   /* the slots are set up when first used (rag_edge_call) */
    r->reason = -1;
    r->replica = -1;
    for (int i = 0; i < 4; i++) r->stage_s[i] = -1;
    return r;
}

/* A drawn token count: at least 1, at most a million. */
static inline int32_t rag_tokens(double x)
{
    return x < 1 ? 1 : x > 1e6 ? 1000000 : (int32_t)sim_llround(x);
}

/* A query key: a Zipf draw over the recurring questions, or, for a share
 * `unique` of requests, a one-off question's key of its own above the Zipf
 * range (its own stream, so the Zipf draws are the same with or without
 * one-offs). */
static uint64_t draw_key(rag_t *rag, const rag_spec_t *spec)
{
    uint64_t key = (uint64_t)sim_dist_sample(&spec->keys, rag->rng_key);
    if (spec->query_unique > 0 && sim_rng_uniform(rag->rng_unique) < spec->query_unique)
        key = ((uint64_t)1 << 62) + rag->next_unique_key++;
    return key;
}

void rag_arrive(rag_t *rag, int cls, size_t row)
{
    sim_t *sim = rag->sim;
    const rag_spec_t *spec = rag->spec;
    rag_req_t *r = new_request(rag);
    if (!r) return;
    r->arrival = sim_now(sim);
    r->cls = (uint8_t)cls;
    /* a class's own demands, else the workload's */
    const rag_class_t *c = spec->nclasses ? &spec->classes[cls] : NULL;
    const sim_dist_t *qd = c && c->has_qtok ? &c->query_tokens : &spec->query_tokens;
    const sim_dist_t *od = c && c->has_otok ? &c->output_tokens : &spec->output_tokens;
    const sim_dist_t *dd = c && c->has_deadline ? &c->deadline : &spec->deadline;
    /* demands, from the workload's own streams: every variant sees the same requests */
    const wl_trace_t *tr = c && c->own ? c->arrivals.trace : spec->workload.trace;
    if (tr) {
        /* a replayed row: its own demands, drawn only where the trace has no column */
        r->key = tr->key ? tr->key[row] : draw_key(rag, spec);
        r->qtok = tr->prompt ? tr->prompt[row] : rag_tokens(sim_dist_sample(qd, rag->rng_qtok));
        r->otok = tr->output ? tr->output[row] : rag_tokens(sim_dist_sample(od, rag->rng_otok));
    } else {
        r->key = draw_key(rag, spec);
        r->qtok = rag_tokens(sim_dist_sample(qd, rag->rng_qtok));
        r->otok = rag_tokens(sim_dist_sample(od, rag->rng_otok));
    }
    rag->offered_qtok += r->qtok;
    rag->offered_otok += r->otok;
    r->patience = sim_time_from_s(sim_dist_sample(dd, rag->rng_deadline));
    r->u_leak = sim_rng_uniform(rag->rng_leak);
    r->share_bits = sim_rng_next(rag->rng_share);
    if (c) {
        rag->cls[cls].arrivals++;
        rag->cls[cls].qtok += r->qtok;
        rag->cls[cls].otok += r->otok;
    }
    admit_request(rag, r);
}

void rag_on_arrival(sim_t *sim, void *ctx)
{
    (void)sim;
    rag_t *rag = ctx;
    const rag_spec_t *spec = rag->spec;
    size_t row = wl_gen_row(&rag->gen);
    int cls = 0;
    if (spec->nclasses) {
        const wl_trace_t *tr = spec->workload.trace;
        if (tr && tr->cls) cls = spec->trace_class[tr->cls[row]];   /* the row names it */
        else cls = (int)sim_dist_sample(&spec->class_pick, rag->rng_class);   /* by share */
    }
    rag_arrive(rag, cls, row);
}

/* A user resubmits a request that failed: the same order (demands,
 * patience), a new request. */
static void client_retry_event(sim_t *sim, void *obj, uint64_t arg)
{
    rag_req_t *r = obj;
    rag_t *rag = (rag_t *)(uintptr_t)arg;
    r->arrival = sim_now(sim);
    rag->client_retries++;
    admit_request(rag, r);
}

/* True if the user will try again (a new request is on its way). */
static bool maybe_client_retry(rag_t *rag, const rag_req_t *r, rag_outcome_t o)
{
    const rag_spec_t *spec = rag->spec;
    if (r->client_try >= spec->client_retries || !(spec->client_retry_on & (1u << o))) return false;
    rag_req_t *n = new_request(rag);
    if (!n) return false;
    n->key = r->key;
    n->qtok = r->qtok;
    n->otok = r->otok;
    n->patience = r->patience;
    n->u_leak = r->u_leak;
    n->share_bits = r->share_bits;
    n->cls = r->cls;
    n->client_try = (uint8_t)(r->client_try + 1);
    double dly = sim_dist_sample(&spec->client_retry_delay, rag->rng_client_retry);
    sim_schedule_in(rag->sim, sim_time_from_s(dly), client_retry_event, n, (uint64_t)(uintptr_t)rag);
    return true;
}

static void admit_request(rag_t *rag, rag_req_t *r)
{
    sim_t *sim = rag->sim;
    const rag_spec_t *spec = rag->spec;
    r->id = rag->next_id++;
    if (sampled(rag, r->id)) r->flags |= RQ_SAMPLED;
    r->deadline = r->arrival + r->patience;
    rag->arrivals++;
    rag->in_flight++;
    int gw = gw_pick(&rag->gw);
    if (gw < 0) {
        rag_req_outcome(rag, r, RAG_REJECTED, REASON_GATEWAY(rag->ncomp));
        rag_req_release(rag, r);
        return;
    }
    r->replica = gw;
    r->gen = gw_gen(&rag->gw, gw);
    r->next = rag->held[gw];
    if (r->next) r->next->prev = r;
    rag->held[gw] = r;
    gw_request_begin(&rag->gw, gw);
    if (spec->gw.watch_per_request && !gw_request_watch(&rag->gw, gw)) {
        /* the article's bug: Watch per request; with the lease pool exhausted it fails */
        rag_req_outcome(rag, r, RAG_ERROR, REASON_WATCH(rag->ncomp));
        rag_req_release(rag, r);
        return;
    }
    /* a constant client deadline: every request's expires in arrival order,
     * one pending event for all (sim/tlist.h) */
    if (rag->deadlines.delay > 0 && r->deadline == sim_now(sim) + rag->deadlines.delay) sim_tlist_add(sim, &rag->deadlines, &r->deadline_tle);
    else r->deadline_timer = sim_schedule_at(sim, r->deadline, deadline_event, r, (uint64_t)(uintptr_t)rag);
    r->phase = PH_PRE;
    gw_request_cpu(&rag->gw, gw, &r->job.job, true);
}

/* Where a request falls in [0, 1) for the call to `target`: SplitMix64 of
 * the 64 random bits it drew at arrival (stream workload/call_share) and
 * the target, so the same requests (and their resubmissions) make the call
 * in every variant, and different share edges are independent. */
static double call_share(uint64_t bits, int target)
{
    return (double)(sim_rng_sm64(bits ^ (0x9E3779B97F4A7C15ull * (uint64_t)(target + 1))) >> 11) * 0x1.0p-53;
}

void rag_run_step(rag_t *rag, rag_req_t *r)
{
    const rag_spec_t *spec = rag->spec;
    if (r->step >= spec->nsteps) {
        r->phase = PH_POST;
        gw_request_cpu(&rag->gw, r->replica, &r->job.job, false);
        return;
    }
    const rag_step_t *st = &spec->steps[r->step];
    for (int i = 0; i < st->ncalls; i++) {
        if (st->target[i] == RAG_LLM) {
            /* system prompt + retrieved chunks + the question. Chunks only
             * if a retrieval returned some: without one the prompt is the
             * system prompt and the question, and the answer is built on
             * nothing (ungrounded, not put in the answer cache). A failed
             * retrieval is RQ_EMPTY already; no retrieval at all (none in
             * the pipeline) is RQ_NOCTX: nothing failed, but nothing grounds
             * the answer either */
            if (!(r->flags & (RQ_CONTEXT | RQ_EMPTY))) r->flags |= RQ_NOCTX;
            int64_t chunks = (r->flags & RQ_CONTEXT) && !(r->flags & RQ_EMPTY) ? spec->top_k * spec->chunk_tokens : 0;
            r->prompt_tokens = spec->system_prompt_tokens +
                               sim_llround((double)(r->qtok + chunks) * rag->pollution);
            rag->llm_calls++;
            rag->win_llm_calls++;
            rag->prompt_tokens_sum += (double)r->prompt_tokens;
            rag->win_prompt_tokens += (double)r->prompt_tokens;
        }
    }
    r->pending = (int16_t)st->ncalls;
    /* a completion inside the calls (a synchronous rejection, a cache hit)
     * must not finish the step before every call is issued: hold one extra
     * count */
    r->pending++;
    for (int i = 0; i < st->ncalls && !(r->flags & RQ_FINISHED); i++) {
        int target = st->target[i];
        if (target == RAG_EMBEDDER && gw_cache_lookup(&rag->gw, r->replica, r->key)) {
            r->pending--;   /* the gateway's embedding cache: no call */
            r->stage_s[0] = 0;
            continue;
        }
        if (target == RAG_VECTORDB && (r->flags & RQ_KEYWORD)) target = spec->keyword;
        if (spec->edge[target].share < 1 && call_share(r->share_bits, target) >= spec->edge[target].share) {
            r->pending--;   /* this request does not need the call (e.g. no risk check) */
            continue;
        }
        if (spec->edge[target].async) {
            r->pending--;   /* fire and forget: the request goes on */
            rag_async_item(rag, target);
            continue;
        }
        rag_edge_call(rag, r, i, target);
    }
    if (r->flags & RQ_FINISHED) return;   /* answered early: released */
    if (--r->pending == 0) rag_finish_step(rag, r);
}
