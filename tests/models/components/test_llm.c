/* The LLM's scheduler (vLLM V1's step loop) against hand-computed step
 * schedules: chunked prefill and the token budget, decode steps, a
 * preemption by recompute, prefix caching; the processor-sharing limit;
 * Little's law on every replica; cancellation, kills, speed; the spec and
 * vLLM's defaults. The step time here is the coefficient mode (base +
 * per_token x tokens), so every step's duration is a sum done by hand; the
 * roofline itself is checked in test_llm_steptime.c. */
#include <criterion/criterion.h>
#include <math.h>
#include <string.h>

#include "models/components/call.h"
#include "models/components/llm/llm.h"
#include "models/components/llm/llm_internal.h"
#include "sim/cfg.h"
#include "sim/error.h"

#define MAXC 4096
#define MS(x) ((sim_time_t)(x) * SIM_MS)

/* One run: the LLM, a call pool, and what each call's owner was told. */
typedef struct {
    sim_t *sim;
    llm_t *llm;
    call_pool_t pool;
    llm_spec_t spec;
    int64_t tin[MAXC], tout[MAXC], prefix[MAXC];
    uint64_t key[MAXC];
    uint8_t level[MAXC];          /* priority level (scheduling_policy: priority) */
    sim_time_t timeout[MAXC];
    sim_time_t at[MAXC];          /* when the owner was told */
    sim_time_t released[MAXC];    /* when the LLM finished with the call */
    sim_time_t sent[MAXC];
    int status[MAXC];
    int ntold[MAXC];
    call_t *live[MAXC];           /* the call while the LLM holds it */
    int n;
} fix_t;

static fix_t F;
static sim_diag_t D;

static void on_done(sim_t *sim, call_t *c, call_status_t s)
{
    F.at[c->tag] = sim_now(sim);
    F.status[c->tag] = (int)s;
    F.ntold[c->tag]++;
}

static void on_release(sim_t *sim, call_t *c)
{
    F.released[c->tag] = sim_now(sim);
    F.live[c->tag] = NULL;
}

static void submit_event(sim_t *sim, void *obj, uint64_t i)
{
    (void)obj;
    call_t *c = call_new(&F.pool, &F, on_done, i, sim_now(sim));
    cr_assert_not_null(c);
    c->tokens_in = F.tin[i];
    c->tokens_out = F.tout[i];
    c->prefix_tokens = F.prefix[i];
    c->prefix_key = F.key[i];
    c->level = F.level[i];
    c->release = on_release;
    F.sent[i] = sim_now(sim);
    F.live[i] = c;
    if (F.timeout[i] > 0) call_set_timeout(sim, c, F.timeout[i]);
    llm_submit(F.llm, c);
}

/* Call i: `in` prompt tokens, `out` output tokens, submitted at t. */
static int add(sim_time_t t, int64_t in, int64_t out)
{
    int i = F.n++;
    cr_assert_lt(i, MAXC);
    F.tin[i] = in;
    F.tout[i] = out;
    F.status[i] = -1;
    sim_schedule_at(F.sim, t, submit_event, NULL, (uint64_t)i);
    return i;
}

static void cancel_event(sim_t *sim, void *obj, uint64_t i)
{
    (void)obj;
    call_t *c = F.live[i];
    if (!c) return;
    call_abandon(sim, c);
    llm_cancel(F.llm, c);
}

static void kill_event(sim_t *sim, void *obj, uint64_t r)
{
    (void)sim;
    (void)obj;
    llm_kill(F.llm, (int)r);
}

static void speed_event(sim_t *sim, void *obj, uint64_t milli)
{
    (void)sim;
    (void)obj;
    llm_set_speed(F.llm, (double)milli / 1000.0);
}

static sim_cfg_t *load(const char *text)
{
    sim_diag_init(&D);
    sim_cfg_t *cfg = sim_cfg_load_string("s.yaml", text, strlen(text), &D);
    cr_assert_not_null(cfg, "%s", sim_diag_text(&D));
    return cfg;
}

/* The spec of an `llm:` mapping given as YAML; every key must be used. */
static llm_spec_t spec_of(const char *yaml)
{
    sim_cfg_t *cfg = load(yaml);
    llm_spec_t s;
    cr_assert_eq(llm_spec_parse(&D, sim_cfg_get(sim_cfg_root(cfg), "llm"), &s), 0, "%s", sim_diag_text(&D));
    cr_assert_eq(sim_cfg_check_unused(cfg, &D), 0, "%s", sim_diag_text(&D));
    sim_cfg_destroy(cfg);
    sim_diag_fini(&D);
    return s;
}

static void start(const llm_spec_t *spec)
{
    memset(&F, 0, sizeof F);
    F.spec = *spec;
    sim_config_t cfg = {.master_seed = 1};
    F.sim = sim_create(&cfg);
    cr_assert_not_null(F.sim);
    call_pool_init(&F.pool);
    F.llm = llm_create(F.sim, &F.spec);
    cr_assert_not_null(F.llm);
}

static void stop(void)
{
    llm_destroy(F.llm);
    sim_destroy(F.sim);
    call_pool_fini(&F.pool);
    llm_spec_fini(&F.spec);
}

static void assert_told(int i, sim_time_t t, call_status_t s)
{
    cr_assert_eq(F.ntold[i], 1, "call %d: owner told %d times", i, F.ntold[i]);
    cr_assert_eq(F.status[i], (int)s, "call %d: status %s, expected %s", i,
                 call_status_name((call_status_t)F.status[i]), call_status_name(s));
    cr_assert_eq(F.at[i], t, "call %d: told at %.6f ms, expected %.6f ms", i, (double)F.at[i] / 1e6,
                 (double)t / 1e6);
}

/* Blocks every running sequence holds, recomputed from scratch, against
 * the replica's running count (the bookkeeping's invariant). */
static void assert_blocks_consistent(const llm_replica_t *rp)
{
    int64_t bs = rp->llm->spec.block_size, held = 0, n = 0;
    for (int32_t x = rp->head; x >= 0; x = rp->slot[x].next, n++) {
        const llm_slot_t *s = &rp->slot[x];
        if (s->state == LLM_DECODE)
            held += (s->c0 + rp->V - s->v0 + (rp->stepping ? 1 : 0) + bs - 1) / bs - s->shared;
        else
            held += s->own;
    }
    cr_assert_eq(n, rp->nrunning, "running list %lld, count %lld", (long long)n, (long long)rp->nrunning);
    cr_assert_eq(held, rp->used, "blocks held %lld, used %lld", (long long)held, (long long)rp->used);
    cr_assert_leq(rp->used + rp->pinned + rp->pc.blocks, rp->llm->spec.kv_blocks);
}

/* A step time that is a hand sum: 10 ms + 1 ms per token; KV of 1 byte per
 * token so that kv_cache counts tokens. */
#define HAND "  hardware: {step_time: {base: 10ms, per_token: 1ms}}\n" \
             "  kv_bytes_per_token: 1B\n"

/* ---- the step schedule ------------------------------------------------------ */

Test(llm, chunked_prefill_shares_the_token_budget_hand_schedule)
{
    /* A (100-token prompt, 3 tokens) and B (40, 2) at 0, C (20, 1) at 5 ms;
     * budget 64 tokens per step:
     *   step 1 [0, 74]     A's chunk 64 (B arrived after it started)      10 + 64
     *   step 2 [74, 148]   A's last 36 + B's first 28: A's first token     10 + 64
     *   step 3 [148, 191]  A decodes, B's last 12, C's 20: B's and C's
     *                      first tokens; C (1 token) is done               10 + 33
     *   step 4 [191, 203]  A and B decode: both done                       10 + 2 */
    llm_spec_t s = spec_of("llm:\n" HAND
                           "  kv_cache: 4096B\n"
                           "  max_model_len: 1024\n"
                           "  max_num_batched_tokens: 64\n"
                           "  max_num_seqs: 4\n"
                           "  enable_prefix_caching: false\n");
    start(&s);
    int a = add(0, 100, 3), b = add(0, 40, 2), c = add(MS(5), 20, 1);
    sim_run(F.sim, SIM_TIME_MAX);
    assert_told(a, MS(203), CALL_OK);
    assert_told(b, MS(203), CALL_OK);
    assert_told(c, MS(191), CALL_OK);
    const llm_t *l = F.llm;
    cr_assert_eq(l->st.steps, 4);
    cr_assert_eq(l->st.prompt_tokens, 160);
    cr_assert_eq(l->st.generation_tokens, 6);
    cr_assert_eq(l->st.output_tokens, 6);
    cr_assert_eq(l->st.step_decodes, 3);   /* 1 in step 3, 2 in step 4 */
    cr_assert_float_eq(l->st.step_seconds, 0.203, 1e-12);
    /* TTFT: A 148, B 191, C 186 ms; TPOT: A (203 - 148) / 2, B 203 - 191 */
    cr_assert_eq(l->ttft.n, 3);
    cr_assert_eq(l->ttft.min, MS(148));
    cr_assert_eq(l->ttft.max, MS(191));
    cr_assert_float_eq(l->ttft.sum, 1e6 * (148 + 191 + 186), 1e-3);
    cr_assert_eq(l->tpot.n, 2);
    cr_assert_float_eq(l->tpot.sum, 1e6 * (27.5 + 12), 1e-3);
    /* ITL: one token waited 43 ms (step 3), two waited 12 ms (step 4) */
    cr_assert_eq(l->itl.n, 3);
    cr_assert_float_eq(l->itl.sum, 1e6 * (43 + 12 + 12), 1e-3);
    cr_assert_eq(l->e2e.n, 3);
    cr_assert_float_eq(l->e2e.sum, 1e6 * (203 + 203 + 186), 1e-3);
    cr_assert_eq(F.llm->rep[0].used, 0);
    cr_assert_eq(llm_running(F.llm, 0), 0);
    stop();
}

Test(llm, a_decode_that_needs_a_block_preempts_the_latest_hand_schedule)
{
    /* 6 blocks of 4 tokens. A (prompt 8, 6 tokens) at 0, B (8, 6) at 1 ms:
     *   1 [0, 18]    A prefills 8 (2 blocks): A's first token
     *   2 [18, 37]   A decodes (its 9th token opens block 3), B prefills 8 (2): 5 used
     *   3 [37, 49]   A, B decode; B's 9th token opens a block: 6 used
     *   4 [49, 61], 5 [61, 73]  both decode (no new block)
     *   6 [73, 84]   A's 13th token needs a block, none is free: B, the latest,
     *                is preempted (its 3 blocks freed, 4 tokens generated);
     *                A decodes its 6th token: done; nothing admitted this step
     *   7 [84, 106]  B recomputes prompt + 4 = 12 tokens (3 blocks): 5th token
     *   8 [106, 117] B decodes (13th token, a new block): done */
    llm_spec_t s = spec_of("llm:\n" HAND
                           "  kv_cache: 24B\n"
                           "  block_size: 4\n"
                           "  max_model_len: 24\n"
                           "  max_num_seqs: 4\n"
                           "  enable_prefix_caching: false\n");
    start(&s);
    cr_assert_eq(F.llm->spec.kv_blocks, 6);
    int a = add(0, 8, 6), b = add(MS(1), 8, 6);
    sim_run(F.sim, SIM_TIME_MAX);
    assert_told(a, MS(84), CALL_OK);
    assert_told(b, MS(117), CALL_OK);
    const llm_t *l = F.llm;
    cr_assert_eq(l->st.preemptions, 1);
    cr_assert_eq(l->st.steps, 8);
    cr_assert_eq(l->st.prompt_tokens, 8 + 8 + 12);   /* the recomputation counts */
    cr_assert_eq(l->st.output_tokens, 12);
    cr_assert_eq(l->ttft.n, 2, "a preempted sequence keeps its first TTFT");
    cr_assert_float_eq(l->ttft.sum, 1e6 * (18 + 36), 1e-3);
    cr_assert_eq(F.llm->rep[0].used, 0);
    stop();
}

/* ---- priority scheduling (vLLM --scheduling-policy priority) ------------------ */

/* One sequence at a time, 10-token prompts and 1-token answers: every call
 * is one 20 ms step. A (level 1) at 0 starts at once; B (1) at 1 ms,
 * C (0) at 2 ms, D (1) at 3 ms and E (0) at 4 ms wait. */
static void five_calls(void)
{
    int a = add(0, 10, 1), b = add(MS(1), 10, 1), c = add(MS(2), 10, 1), d = add(MS(3), 10, 1),
        e = add(MS(4), 10, 1);
    F.level[a] = F.level[b] = F.level[d] = 1;
    F.level[c] = F.level[e] = 0;
}

Test(llm_priority, waiting_calls_are_served_by_level_then_arrival_hand_order)
{
    /* priority: A [0, 20], then level 0 in arrival order, C [20, 40] and
     * E [40, 60], then level 1, B [60, 80] and D [80, 100] */
    llm_spec_t s = spec_of("llm:\n" HAND
                           "  kv_cache: 4096B\n"
                           "  max_model_len: 1024\n"
                           "  max_num_seqs: 1\n"
                           "  enable_prefix_caching: false\n"
                           "  scheduling_policy: priority\n");
    cr_assert(s.priority_policy);
    s.levels = 2;
    start(&s);
    five_calls();
    sim_run(F.sim, SIM_TIME_MAX);
    assert_told(0, MS(20), CALL_OK);
    assert_told(2, MS(40), CALL_OK);
    assert_told(4, MS(60), CALL_OK);
    assert_told(1, MS(80), CALL_OK);
    assert_told(3, MS(100), CALL_OK);
    cr_assert_eq(F.llm->rep[0].nqueue, 0);
    cr_assert_null(F.llm->rep[0].qhead);
    stop();
}

Test(llm_priority, fcfs_ignores_the_levels_hand_order)
{
    /* the same calls under fcfs (the default): arrival order, 20 ms each */
    llm_spec_t s = spec_of("llm:\n" HAND
                           "  kv_cache: 4096B\n"
                           "  max_model_len: 1024\n"
                           "  max_num_seqs: 1\n"
                           "  enable_prefix_caching: false\n");
    cr_assert(!s.priority_policy);
    s.levels = 2;
    start(&s);
    five_calls();
    sim_run(F.sim, SIM_TIME_MAX);
    for (int i = 0; i < 5; i++) assert_told(i, MS(20 * (i + 1)), CALL_OK);
    stop();
}

Test(llm_priority, waiting_calls_cancelled_keep_the_levels_linked)
{
    /* priority; at 10 ms C (the head of level 0) and D (the tail of level 1)
     * are cancelled while they wait: E runs next [20, 40], then B [40, 60] */
    llm_spec_t s = spec_of("llm:\n" HAND
                           "  kv_cache: 4096B\n"
                           "  max_model_len: 1024\n"
                           "  max_num_seqs: 1\n"
                           "  enable_prefix_caching: false\n"
                           "  scheduling_policy: priority\n");
    s.levels = 2;
    start(&s);
    five_calls();
    sim_schedule_at(F.sim, MS(10), cancel_event, NULL, 2);
    sim_schedule_at(F.sim, MS(10), cancel_event, NULL, 3);
    sim_run(F.sim, SIM_TIME_MAX);
    assert_told(0, MS(20), CALL_OK);
    assert_told(4, MS(40), CALL_OK);
    assert_told(1, MS(60), CALL_OK);
    cr_assert_eq(F.ntold[2], 0);
    cr_assert_eq(F.ntold[3], 0);
    cr_assert_eq(F.llm->st.cancelled, 2);
    cr_assert_eq(F.llm->st.steps, 3);
    stop();
}

Test(llm_priority, a_preemption_takes_the_worst_level_not_the_latest_hand_schedule)
{
    /* The preemption case of a_decode_that_needs_a_block_preempts_the_latest,
     * with A at level 1 and B at level 0 (6 blocks of 4 tokens):
     *   1-5 [0, 73]  as there: A has generated 5 tokens, B 4; 6 blocks used
     *   6 [73, 84]   A's 13th token needs a block: the victim is the latest
     *                admitted of the worst level, A itself (vLLM: the running
     *                request with the largest (priority, arrival)); its 3
     *                blocks are freed; B decodes its 5th token
     *   7 [84, 95]   B decodes its 6th (13th token: a new block): done; A
     *                (13 tokens to recompute, 4 blocks) does not fit in 2
     *   8 [95, 118]  A recomputes 8 + 5 tokens and samples its 6th: done */
    llm_spec_t s = spec_of("llm:\n" HAND
                           "  kv_cache: 24B\n"
                           "  block_size: 4\n"
                           "  max_model_len: 24\n"
                           "  max_num_seqs: 4\n"
                           "  enable_prefix_caching: false\n"
                           "  scheduling_policy: priority\n");
    s.levels = 2;
    start(&s);
    int a = add(0, 8, 6), b = add(MS(1), 8, 6);
    F.level[a] = 1;
    sim_run(F.sim, SIM_TIME_MAX);
    assert_told(b, MS(95), CALL_OK);
    assert_told(a, MS(118), CALL_OK);
    const llm_t *l = F.llm;
    cr_assert_eq(l->st.preemptions, 1);
    cr_assert_eq(l->st.steps, 8);
    cr_assert_eq(l->st.prompt_tokens, 8 + 8 + 13);
    cr_assert_eq(l->st.output_tokens, 12);
    cr_assert_eq(F.llm->rep[0].used, 0);
    assert_blocks_consistent(&F.llm->rep[0]);
    stop();
}

static void check_sorted(const llm_replica_t *rp)
{
    int last = 0;
    int64_t n = 0;
    for (const call_t *c = rp->qhead; c; c = c->link, n++) {
        cr_assert_geq(c->level, last, "the waiting queue is sorted by level");
        last = c->level;
        cr_assert(c->link || rp->qtail == c);
        cr_assert(!c->link || c->link->prev == c);
    }
    cr_assert_eq(n, rp->nqueue);
    last = 0;
    for (int32_t x = rp->head; x >= 0; x = rp->slot[x].next) {
        cr_assert_geq(rp->slot[x].level, last, "the running list is sorted by level");
        last = rp->slot[x].level;
    }
}

static void check_event(sim_t *sim, void *obj, uint64_t arg)
{
    (void)sim;
    (void)obj;
    (void)arg;
    check_sorted(&F.llm->rep[0]);
    assert_blocks_consistent(&F.llm->rep[0]);
}

Test(llm_priority, many_levels_under_preemption_keep_both_lists_sorted)
{
    /* 300 calls of 4 levels, some cancelled, on a small KV pool that
     * preempts often: both lists stay sorted by level and every call is
     * answered once */
    llm_spec_t s = spec_of("llm:\n" HAND
                           "  kv_cache: 256B\n"
                           "  block_size: 4\n"
                           "  max_model_len: 128\n"
                           "  max_num_seqs: 8\n"
                           "  max_num_batched_tokens: 64\n"
                           "  scheduling_policy: priority\n");
    s.levels = 4;
    start(&s);
    for (int i = 0; i < 300; i++) {
        int k = add(MS(i * 7), 8 + (i * 13) % 40, 1 + (i * 7) % 30);
        F.level[k] = (uint8_t)((i * 5) % 4);
        if (i % 11 == 0) sim_schedule_at(F.sim, MS(i * 7 + 30), cancel_event, NULL, (uint64_t)k);
        sim_schedule_at(F.sim, MS(i * 7) + 1, check_event, NULL, 0);
    }
    sim_run(F.sim, SIM_TIME_MAX);
    int ok = 0;
    for (int i = 0; i < 300; i++) {
        cr_assert_eq(F.ntold[i], i % 11 == 0 && F.released[i] == MS(i * 7 + 30) ? 0 : 1, "call %d", i);
        ok += F.status[i] == CALL_OK;
    }
    cr_assert_gt(F.llm->st.cancelled, 0);
    cr_assert_gt(F.llm->st.preemptions, 0, "the pool is small enough to preempt");
    cr_assert_gt(ok, 250);
    cr_assert_eq(F.llm->rep[0].nqueue, 0);
    cr_assert_eq(llm_running(F.llm, 0), 0);
    stop();
}

Test(llm, prefix_cache_reuses_the_system_prompt_and_a_repeated_prompt)
{
    /* System prompt 32 tokens (2 blocks of 16), prompts of 100 tokens, one
     * at a time (each 1 output token: done when its prefill step ends):
     *   key 7 at 0:     computes 100 (the system prompt is pinned after)   110 ms
     *   key 7 at 1 s:   hits 2 pinned + 4 keyed blocks = 96 tokens: 4 left  14 ms
     *   key 9 at 2 s:   hits the 2 pinned blocks = 32 tokens: 68 left       78 ms */
    llm_spec_t s = spec_of("llm:\n" HAND
                           "  kv_cache: 4096B\n"
                           "  max_model_len: 1024\n"
                           "  max_num_seqs: 4\n");
    start(&s);
    int i0 = add(0, 100, 1), i1 = add(SIM_SEC, 100, 1), i2 = add(2 * SIM_SEC, 100, 1);
    F.prefix[i0] = F.prefix[i1] = F.prefix[i2] = 32;
    F.key[i0] = F.key[i1] = 7;
    F.key[i2] = 9;
    sim_run(F.sim, SIM_TIME_MAX);
    assert_told(i0, MS(110), CALL_OK);
    assert_told(i1, SIM_SEC + MS(14), CALL_OK);
    assert_told(i2, 2 * SIM_SEC + MS(78), CALL_OK);
    const llm_t *l = F.llm;
    cr_assert_eq(l->st.prefix_queries, 300);
    cr_assert_eq(l->st.prefix_hits, 96 + 32);
    cr_assert_eq(l->st.prompt_tokens, 100 + 4 + 68);
    cr_assert_eq(F.llm->rep[0].pinned, 2);
    stop();
}

Test(llm, processor_sharing_limit_with_a_constant_step_time)
{
    /* Every step takes 20 ms whatever it holds (per_token 0) and the
     * prompts fit in one chunk: a sequence admitted into step k with n
     * output tokens finishes n steps later, so sequences admitted together
     * see the old processor-sharing answer exactly: TTFT = one step, then
     * TPOT(b) = 20 ms for every batch size b (the flat part of the old
     * TPOT(b) = tpot x max(1, b / knee)). The first call starts a step
     * alone; the rest, submitted in the same instant, join the next. */
    llm_spec_t s = spec_of("llm:\n"
                           "  hardware: {step_time: {base: 20ms}}\n"
                           "  kv_bytes_per_token: 1B\n"
                           "  kv_cache: 1MiB\n"
                           "  max_model_len: 4096\n");
    start(&s);
    const int64_t outs[] = {5, 1, 17, 3, 40, 8, 8, 120};
    int id[8];
    for (int i = 0; i < 8; i++) id[i] = add(0, 50 + 7 * i, outs[i]);
    sim_run(F.sim, SIM_TIME_MAX);
    assert_told(id[0], outs[0] * MS(20), CALL_OK);
    for (int i = 1; i < 8; i++) assert_told(id[i], MS(20) + outs[i] * MS(20), CALL_OK);
    /* TPOT is the step time for every sequence of more than one token */
    cr_assert_eq(F.llm->tpot.min, MS(20));
    cr_assert_eq(F.llm->tpot.max, MS(20));
    stop();
}

Test(llm, output_is_capped_by_max_tokens_and_the_context_left)
{
    llm_spec_t s = spec_of("llm:\n" HAND
                           "  kv_cache: 4096B\n"
                           "  max_model_len: 100\n"
                           "  max_tokens: 10\n"
                           "  enable_prefix_caching: false\n");
    start(&s);
    int capped = add(0, 20, 500);          /* max_tokens: 10 tokens */
    int room = add(SIM_SEC, 95, 500);      /* max_model_len - prompt = 5 */
    int too_long = add(2 * SIM_SEC, 100, 1);   /* no room for one token: vLLM's 400 */
    sim_run(F.sim, SIM_TIME_MAX);
    /* 10 tokens: 1 prefill step (30 ms) + 9 decode steps (11 ms) */
    assert_told(capped, MS(30 + 9 * 11), CALL_OK);
    assert_told(room, SIM_SEC + MS(105 + 4 * 11), CALL_OK);
    assert_told(too_long, 2 * SIM_SEC, CALL_ERROR);
    cr_assert_eq(F.llm->st.output_tokens, 15);
    stop();
}

/* ---- Little's law ------------------------------------------------------------ */

static double occ_area[4];
static sim_time_t occ_last;

static void occ_sample(sim_t *sim, void *obj, uint64_t arg)
{
    (void)obj;
    sim_time_t now = sim_now(sim);
    for (int r = 0; r < 4; r++)
        occ_area[r] += (double)(llm_running(F.llm, r) + llm_waiting(F.llm, r)) * (double)(now - occ_last);
    occ_last = now;
    if (arg) sim_schedule_in(sim, 100 * SIM_US, occ_sample, NULL, 1);
}

Test(llm, littles_law_holds_on_every_replica)
{
    /* 4 replicas, random prompts and outputs, Poisson arrivals near
     * saturation (queues form, preemptions happen): on each replica the
     * time-average number of sequences in it (running + waiting, sampled
     * every 100 us by the model's own counts) equals its arrival rate x
     * the mean time a call spends in it. */
    llm_spec_t s = spec_of("llm:\n"
                           "  replicas: 4\n"
                           "  hardware: {step_time: {base: 5ms, per_token: 20us, per_context_token: 50ns}}\n"
                           "  kv_bytes_per_token: 1B\n"
                           "  kv_cache: 3000B\n"
                           "  max_model_len: 2048\n"
                           "  max_num_seqs: 32\n"
                           "  load_balancer: round_robin\n");
    start(&s);
    sim_rng_t *rng = sim_stream(F.sim, "test/arrivals");
    sim_time_t t = 0;
    const sim_time_t horizon = 120 * SIM_SEC;
    int n = 0;
    while (n < MAXC) {
        t += (sim_time_t)(-log(1 - sim_rng_uniform(rng)) / 30.0 * 1e9);
        if (t > horizon) break;
        int i = add(t, 50 + (int64_t)(sim_rng_uniform(rng) * 600), 1 + (int64_t)(sim_rng_uniform(rng) * 120));
        F.key[i] = 1 + (uint64_t)(sim_rng_uniform(rng) * 40);
        F.prefix[i] = 32;
        n++;
    }
    memset(occ_area, 0, sizeof occ_area);
    occ_last = 0;
    sim_schedule_at(F.sim, 0, occ_sample, NULL, 1);
    sim_run(F.sim, horizon + 600 * SIM_SEC);
    occ_sample(F.sim, NULL, 0);
    double end = (double)occ_last;
    /* per replica: arrivals (round robin: call i goes to replica i mod 4) and sojourns */
    double sum_w[4] = {0}, cnt[4] = {0};
    for (int i = 0; i < n; i++) {
        cr_assert_eq(F.ntold[i], 1, "call %d told %d times", i, F.ntold[i]);
        cr_assert_eq(F.status[i], CALL_OK);
        sum_w[i % 4] += (double)(F.released[i] - F.sent[i]);
        cnt[i % 4]++;
    }
    cr_assert_gt(F.llm->st.preemptions, 0, "the test should reach KV pressure");
    for (int r = 0; r < 4; r++) {
        double L = occ_area[r] / end;                 /* time-average in the replica */
        double lw = cnt[r] / end * (sum_w[r] / cnt[r]);  /* lambda x W over the same span */
        cr_assert_float_eq(L, lw, 0.01 * lw, "replica %d: L = %.4f, lambda W = %.4f", r, L, lw);
        cr_log_info("replica %d: L = %.4f sequences, lambda W = %.4f", r, L, lw);
        assert_blocks_consistent(&F.llm->rep[r]);
        cr_assert_eq(F.llm->rep[r].used, 0);
    }
    stop();
}

/* ---- cancellation, kills, speed ------------------------------------------------ */

Test(llm, abort_frees_the_slot_and_blocks_and_the_rest_go_on)
{
    /* A (50, 20 tokens) prefills in [0, 60]; step 2 [60, 121] holds A's
     * decode and B's prefill of 50; B is aborted at 100 ms, inside it: its
     * blocks go at once, the step's time stands, and A goes on alone:
     * 18 more steps of 11 ms. */
    llm_spec_t s = spec_of("llm:\n" HAND
                           "  kv_cache: 4096B\n"
                           "  max_model_len: 1024\n"
                           "  enable_prefix_caching: false\n");
    start(&s);
    int a = add(0, 50, 20), b = add(0, 50, 20);
    sim_schedule_at(F.sim, MS(100), cancel_event, NULL, (uint64_t)b);
    sim_run(F.sim, MS(99));
    llm_sync(F.llm);
    cr_assert_eq(llm_running(F.llm, 0), 2);
    assert_blocks_consistent(&F.llm->rep[0]);
    sim_run(F.sim, MS(101));
    llm_sync(F.llm);
    cr_assert_eq(llm_running(F.llm, 0), 1);
    cr_assert_eq(F.llm->st.cancelled, 1);
    assert_blocks_consistent(&F.llm->rep[0]);
    sim_run(F.sim, SIM_TIME_MAX);
    cr_assert_eq(F.ntold[b], 0, "abandoned: the owner is not told");
    cr_assert_eq(F.released[b], MS(100), "the LLM lets it go at once");
    assert_told(a, MS(121 + 18 * 11), CALL_OK);
    cr_assert_eq(F.llm->rep[0].used, 0);
    stop();
}

Test(llm, abort_of_a_waiting_call_admits_nothing_for_it)
{
    llm_spec_t s = spec_of("llm:\n" HAND
                           "  kv_cache: 4096B\n"
                           "  max_model_len: 1024\n"
                           "  max_num_seqs: 1\n"
                           "  max_num_batched_tokens: 64\n"
                           "  enable_prefix_caching: false\n");
    start(&s);
    int a = add(0, 10, 3), b = add(MS(1), 10, 3), c = add(MS(2), 10, 3);
    sim_schedule_at(F.sim, MS(3), cancel_event, NULL, (uint64_t)b);
    sim_run(F.sim, SIM_TIME_MAX);
    /* one sequence at a time: A [0, 20] + 2 decodes of 11 ms = 42; C then 42 + 20 + 22 */
    assert_told(a, MS(42), CALL_OK);
    assert_told(c, MS(84), CALL_OK);
    cr_assert_eq(F.ntold[b], 0);
    cr_assert_eq(F.released[b], MS(3));
    cr_assert_eq(F.llm->st.cancelled, 1);
    stop();
}

Test(llm, kill_fails_every_call_and_the_replica_returns_after_backoff_and_startup)
{
    llm_spec_t s = spec_of("llm:\n" HAND
                           "  kv_cache: 4096B\n"
                           "  max_model_len: 1024\n"
                           "  startup: 30s\n");
    start(&s);
    int a = add(0, 10, 100), b = add(MS(1), 10, 100);
    sim_schedule_at(F.sim, MS(50), kill_event, NULL, 0);
    int c = add(MS(60), 10, 1);                 /* the only replica is down */
    /* a first crash: restarted at once (CrashLoopBackOff has no entry yet),
     * back after the startup */
    sim_time_t back = MS(50) + 30 * SIM_SEC;
    int d = add(back + SIM_SEC, 10, 1);
    sim_run(F.sim, back - 1);
    cr_assert_eq(llm_replicas_up(F.llm), 0);
    sim_run(F.sim, back);
    cr_assert_eq(llm_replicas_up(F.llm), 1);
    sim_run(F.sim, SIM_TIME_MAX);
    assert_told(a, MS(50), CALL_ERROR);
    assert_told(b, MS(50), CALL_ERROR);
    assert_told(c, MS(60), CALL_UNAVAILABLE);
    assert_told(d, back + SIM_SEC + MS(20), CALL_OK);
    cr_assert_eq(F.llm->st.kills, 1);
    stop();
}

Test(llm, a_slowdown_stretches_the_steps_that_start_after_it)
{
    llm_spec_t s = spec_of("llm:\n" HAND
                           "  kv_cache: 4096B\n"
                           "  max_model_len: 1024\n");
    start(&s);
    int a = add(0, 10, 3);
    /* half speed from 25 ms: step 1 [0, 20] and step 2 [20, 31] started at
     * full speed; step 3 starts at 31 at half speed: 22 ms instead of 11 */
    sim_schedule_at(F.sim, MS(25), speed_event, NULL, 500);
    sim_run(F.sim, SIM_TIME_MAX);
    assert_told(a, MS(31 + 22), CALL_OK);
    stop();
}

/* ---- the spec: vLLM's defaults and the errors ------------------------------------- */

Test(llm_parse, absent_section_gives_vllm_defaults_on_an_a100_with_llama3_8b)
{
    sim_diag_init(&D);
    llm_spec_t s;
    cr_assert_eq(llm_spec_parse(&D, NULL, &s), 0, "%s", sim_diag_text(&D));
    cr_assert_eq(s.replicas, 1);
    cr_assert_str_eq(s.hw.gpu.name, "a100-80gb");
    cr_assert_str_eq(s.hw.model.name, "Meta-Llama-3-8B");
    cr_assert_eq(s.max_num_seqs, 256, "vLLM's default below 70 GiB or on an A100");
    cr_assert_eq(s.max_num_batched_tokens, 2048);
    cr_assert_eq(s.max_model_len, 8192);
    cr_assert_eq(s.block_size, 16);
    cr_assert(s.enable_prefix_caching);
    cr_assert_float_eq(s.gpu_memory_utilization, 0.9, 1e-12);
    cr_assert_eq(s.kv_bytes_per_token, 128 * 1024);
    /* 0.9 x 80 GiB - 16 GB of weights - the activation reserve */
    cr_assert_gt(s.kv_cache, (int64_t)50 << 30);
    cr_assert_lt(s.kv_cache, (int64_t)58 << 30);
    cr_assert_eq(s.kv_blocks, s.kv_cache / (16 * 128 * 1024));
    cr_assert_eq(s.queue_limit, INT64_MAX);
    cr_assert_eq(s.max_tokens, INT64_MAX);
    cr_assert_eq(s.load_balancer, LB_LEAST_OUTSTANDING);
    llm_spec_fini(&s);
    sim_diag_fini(&D);
}

Test(llm_parse, large_gpus_get_vllms_larger_budget)
{
    llm_spec_t s = spec_of("llm:\n  hardware: {gpu: h100-sxm, model: Meta-Llama-3-8B}\n");
    cr_assert_eq(s.max_num_seqs, 1024);
    cr_assert_eq(s.max_num_batched_tokens, 8192);
    llm_spec_fini(&s);
    s = spec_of("llm:\n  hardware: {gpu: l40s, model: Mistral-7B-v0.1}\n  max_model_len: 16384\n");
    cr_assert_eq(s.max_num_seqs, 256, "48 GiB");
    cr_assert_eq(s.max_model_len, 16384);
    llm_spec_fini(&s);
}

static void expect_error(const char *yaml, const char *want)
{
    sim_cfg_t *cfg = load(yaml);
    llm_spec_t s;
    int rc = llm_spec_parse(&D, sim_cfg_get(sim_cfg_root(cfg), "llm"), &s);
    if (rc == 0) rc = sim_cfg_check_unused(cfg, &D) ? SIM_ECONFIG : 0;
    cr_assert_neq(rc, 0, "accepted: %s", yaml);
    cr_assert(strstr(sim_diag_text(&D), want), "expected '%s', got: %s", want, sim_diag_text(&D));
    sim_cfg_destroy(cfg);
    sim_diag_fini(&D);
}

Test(llm_parse, errors_name_the_position_and_what_was_expected)
{
    expect_error("llm:\n  replicas: 0\n", "s.yaml:2:13: error: 'llm.replicas'");
    expect_error("llm:\n  max_num_seq: 64\n", "s.yaml:2:3: error: unknown key 'max_num_seq' in 'llm' (did you mean 'max_num_seqs'?)");
    expect_error("llm:\n  tpot: 10ms\n", "s.yaml:2:3: error: unknown key 'tpot' in 'llm'");
    expect_error("llm:\n  hardware: {gpu: a100-80gb, model: Llama-2-70b-hf}\n",
                 "no memory is left for the KV cache");
    expect_error("llm:\n  max_num_batched_tokens: 128\n", "s.yaml:2:27: error: max_num_batched_tokens (128) is smaller than max_num_seqs (256)");
    expect_error("llm:\n" HAND "  kv_cache: 1000B\n  max_model_len: 2000\n",
                 "the KV cache holds 992 tokens (62 blocks of 16), fewer than max_model_len = 2000");
    expect_error("llm:\n  hardware: {step_time: {base: 5ms}}\n",
                 "this hardware gives no KV size per token");
    expect_error("llm:\n  gpu_memory_utilization: 1.5\n", "s.yaml:2:27: error: 'llm.gpu_memory_utilization'");
}
