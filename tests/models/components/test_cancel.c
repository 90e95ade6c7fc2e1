/* Cancellation (context propagation) in the component models, against
 * hand-computed schedules: a waiting call leaves its queue and frees its
 * place, an LLM sequence is aborted and the others speed up, work that
 * cannot be interrupted runs to its end. Every cancelled call is completed
 * exactly once (its release callback), its done callback never runs, and the
 * call pool is empty at the end. */
#include <criterion/criterion.h>
#include <math.h>
#include <string.h>

#include "models/components/call.h"
#include "models/components/dependency/dependency.h"
#include "models/components/embedder/embedder.h"
#include "models/components/llm/llm.h"
#include "models/queueing/station.h"
#include "models/components/vectordb/vectordb.h"
#include "sim/cfg.h"
#include "sim/error.h"

#define MAXC 256
#define MS(x) ((sim_time_t)(x) * SIM_MS)

/* ---- station ---------------------------------------------------------------- */

typedef struct {
    station_t st;
    stn_job_t jobs[MAXC];
    int order[MAXC];
    sim_time_t exit_at[MAXC];
    int outcome[MAXC];
    int nexit;
} sfix_t;

static void stn_exit(sim_t *sim, void *owner, stn_job_t *job, stn_outcome_t oc)
{
    sfix_t *f = owner;
    f->order[f->nexit] = (int)(job - f->jobs);
    f->exit_at[f->nexit] = sim_now(sim);
    f->outcome[f->nexit] = (int)oc;
    f->nexit++;
}

static void stn_arrive(sim_t *sim, void *obj, uint64_t i)
{
    (void)sim;
    sfix_t *f = obj;
    f->jobs[i].demand = -1;
    cr_assert(stn_submit(&f->st, &f->jobs[i]));
}

static sim_t *stn_setup(sfix_t *f, const stn_spec_t *spec)
{
    memset(f, 0, sizeof *f);
    sim_config_t cfg = {.master_seed = 1};
    sim_t *sim = sim_create(&cfg);
    cr_assert_not_null(sim);
    cr_assert_eq(stn_init(&f->st, sim, spec, stn_exit, f), 0);
    return sim;
}

Test(cancel, station_cancelled_waiting_job_leaves_and_the_next_starts_when_the_server_frees)
{
    /* One server, service 1 s, queue timeout 1.2 s; jobs 0..3 at t = 0.
     *   job0 serves 0 -> 1; job1, job2, job3 wait (timeouts due at 1.2)
     *   t=0.5 cancel job1: leaves (its 1.2 s timeout with it); job0 cannot
     *   t=1   job0 done; job2 starts (not job1) -> 2
     *   t=1.2 job3 times out (job1 would have too, had its timer stayed)
     * Exits: job0 done 1, job3 timed out 1.2, job2 done 2; none for job1. */
    sfix_t f;
    stn_spec_t spec = {.name = "s", .servers = 1, .queue_limit = INT64_MAX, .queue_timeout = 1200 * SIM_MS};
    sim_dist_deterministic(&spec.service, 1.0);
    sim_t *sim = stn_setup(&f, &spec);
    for (int i = 0; i < 4; i++) sim_schedule_at(sim, 0, stn_arrive, &f, (uint64_t)i);
    sim_run(sim, 500 * SIM_MS);
    cr_assert_eq(f.st.nqueue, 3);
    cr_assert(stn_cancel(&f.st, &f.jobs[1]));
    cr_assert_not(stn_cancel(&f.st, &f.jobs[0]), "a job in service cannot be cancelled");
    cr_assert_eq(f.st.nqueue, 2);
    cr_assert_eq(f.st.busy, 1);
    cr_assert_eq(f.st.n.cancelled, 1);
    cr_assert_eq(f.nexit, 0, "no exit callback for a cancelled job");
    sim_run(sim, SIM_TIME_MAX);
    int want_order[] = {0, 3, 2};
    sim_time_t want_at[] = {SIM_SEC, 1200 * SIM_MS, 2 * SIM_SEC};
    int want_oc[] = {STN_DONE, STN_TIMED_OUT, STN_DONE};
    cr_assert_eq(f.nexit, 3);
    for (int i = 0; i < 3; i++) {
        cr_assert_eq(f.order[i], want_order[i], "exit %d: job %d", i, f.order[i]);
        cr_assert_eq(f.exit_at[i], want_at[i], "exit %d at %lld ns", i, (long long)f.exit_at[i]);
        cr_assert_eq(f.outcome[i], want_oc[i]);
    }
    cr_assert_eq(f.st.n.timed_out, 1);
    cr_assert_eq(f.st.n.completions, 2);
    cr_assert_eq(f.st.n.started, 2);
    cr_assert_eq(f.st.n.cancelled, 1);
    cr_assert_eq(f.st.nqueue, 0);
    cr_assert_eq(sim_pending(sim), 0);
    stn_fini(&f.st);
    sim_destroy(sim);
}

Test(cancel, station_cancel_keeps_the_queue_in_order_at_head_middle_and_tail)
{
    /* One server, service 1 s; jobs 0..5 at t = 0, 1..5 wait. Cancel the
     * head (1), the tail (5) and one in the middle (3): 2 and 4 are left and
     * are served 1 -> 2 and 2 -> 3. */
    sfix_t f;
    stn_spec_t spec = {.name = "s", .servers = 1, .queue_limit = INT64_MAX};
    sim_dist_deterministic(&spec.service, 1.0);
    sim_t *sim = stn_setup(&f, &spec);
    for (int i = 0; i < 6; i++) sim_schedule_at(sim, 0, stn_arrive, &f, (uint64_t)i);
    sim_run(sim, 100 * SIM_MS);
    cr_assert(stn_cancel(&f.st, &f.jobs[1]));
    cr_assert(stn_cancel(&f.st, &f.jobs[5]));
    cr_assert(stn_cancel(&f.st, &f.jobs[3]));
    cr_assert_eq(f.st.nqueue, 2);
    cr_assert_eq(f.st.head, &f.jobs[2]);
    cr_assert_eq(f.st.tail, &f.jobs[4]);
    sim_run(sim, SIM_TIME_MAX);
    cr_assert_eq(f.nexit, 3);
    for (int i = 0; i < 3; i++) {
        cr_assert_eq(f.order[i], 2 * i);
        cr_assert_eq(f.exit_at[i], (sim_time_t)(i + 1) * SIM_SEC);
    }
    cr_assert_eq(f.st.n.cancelled, 3);
    stn_fini(&f.st);
    sim_destroy(sim);
}

/* ---- components: one fixture for the call-based ones ---------------------- */

typedef struct {
    sim_t *sim;
    call_pool_t pool;
    const comp_ops_t *ops;
    void *comp;
    call_t *c[MAXC];              /* issued and not yet completed */
    int64_t tin[MAXC], tout[MAXC];
    sim_time_t told_at[MAXC];     /* done callback */
    int status[MAXC];
    int ntold[MAXC];
    sim_time_t rel_at[MAXC];      /* release callback: the component completed it */
    int nrel[MAXC];
} fix_t;

static fix_t F;

static void on_done(sim_t *sim, call_t *c, call_status_t s)
{
    F.told_at[c->tag] = sim_now(sim);
    F.status[c->tag] = (int)s;
    F.ntold[c->tag]++;
}

static void on_release(sim_t *sim, call_t *c)
{
    F.rel_at[c->tag] = sim_now(sim);
    F.nrel[c->tag]++;
    F.c[c->tag] = NULL;
}

static void submit_event(sim_t *sim, void *obj, uint64_t i)
{
    (void)obj;
    call_t *c = call_new(&F.pool, &F, on_done, i, sim_now(sim));
    cr_assert_not_null(c);
    c->release = on_release;
    c->tokens_in = F.tin[i];
    c->tokens_out = F.tout[i];
    c->top_k = 5;
    F.c[i] = c;
    F.ops->submit(F.comp, c);
}

/* The caller stops waiting and propagates the cancellation. */
static void cancel_event(sim_t *sim, void *obj, uint64_t i)
{
    (void)obj;
    call_t *c = F.c[i];
    cr_assert_not_null(c, "call %d completed before it was cancelled", (int)i);
    call_abandon(sim, c);
    F.ops->cancel(F.comp, c);
}

static void fix_start(const comp_ops_t *ops)
{
    memset(&F, 0, sizeof F);
    sim_config_t cfg = {.master_seed = 1};
    F.sim = sim_create(&cfg);
    cr_assert_not_null(F.sim);
    call_pool_init(&F.pool);
    F.ops = ops;
    for (int i = 0; i < MAXC; i++) F.status[i] = F.told_at[i] = F.rel_at[i] = -1;
}

static void add(sim_time_t t, int i, int64_t in, int64_t out)
{
    F.tin[i] = in;
    F.tout[i] = out;
    sim_schedule_at(F.sim, t, submit_event, NULL, (uint64_t)i);
}

static void cancel_at(sim_time_t t, int i) { sim_schedule_at(F.sim, t, cancel_event, NULL, (uint64_t)i); }

static void assert_ok(int i, sim_time_t t)
{
    cr_assert_eq(F.ntold[i], 1, "call %d: owner told %d times", i, F.ntold[i]);
    cr_assert_eq(F.status[i], CALL_OK, "call %d: %s", i, call_status_name((call_status_t)F.status[i]));
    cr_assert_eq(F.told_at[i], t, "call %d: told at %lld ns, expected %lld ns", i, (long long)F.told_at[i],
                 (long long)t);
    cr_assert_eq(F.nrel[i], 1);
}

/* Cancelled (or abandoned) call i: completed once at t, owner never told. */
static void assert_gone(int i, sim_time_t t)
{
    cr_assert_eq(F.ntold[i], 0, "call %d: the detached owner was told %s", i,
                 call_status_name((call_status_t)F.status[i]));
    cr_assert_eq(F.nrel[i], 1, "call %d: completed %d times", i, F.nrel[i]);
    cr_assert_eq(F.rel_at[i], t, "call %d: completed at %lld ns, expected %lld ns", i, (long long)F.rel_at[i],
                 (long long)t);
}

static void fix_stop(void)
{
    cr_assert_eq(F.pool.live, 0, "%llu calls never completed", (unsigned long long)F.pool.live);
    sim_destroy(F.sim);
    call_pool_fini(&F.pool);
}

/* The LLM's cancellation (vLLM's abort) is tested with its scheduler in
 * test_llm.c. */

/* ---- embedder --------------------------------------------------------------- */

static embedder_t *emb_start(embedder_spec_t *s)
{
    sim_diag_t d;
    sim_diag_init(&d);
    cr_assert_eq(embedder_spec_parse(&d, NULL, s), 0);
    sim_diag_fini(&d);
    /* base 10 ms, 1 ms per token, max batch 3, window 5 ms, one instance */
    sim_dist_fini(&s->base);
    cr_assert_eq(sim_dist_deterministic(&s->base, 0.010), 0);
    s->per_token = MS(1);
    s->max_batch_size = 3;
    s->max_queue_delay = MS(5);
    fix_start(&embedder_ops);
    embedder_t *e = embedder_create(F.sim, s);
    cr_assert_not_null(e);
    F.comp = e;
    return e;
}

static void emb_stop(embedder_t *e, embedder_spec_t *s)
{
    embedder_destroy(e);
    fix_stop();
    embedder_spec_fini(s);
}

Test(cancel, embedder_cancelled_waiting_call_is_not_in_the_batch_that_forms)
{
    /* Each call 2 tokens, so a batch of k takes 10 + 2k ms.
     *   t=0   X waits; window closes at 5: B1 {X} 5 -> 17 ms
     *   t=6,7,8  A, B, C wait (instance busy)
     *   t=10  B cancelled: leaves the queue
     *   t=17  B1 done; A waited out the window: B2 {A, C} 17 -> 31 ms
     *         (33 ms with B in it)
     *   t=20  A cancelled: it is in the running batch, so it stays and is
     *         served (orphaned) at 31 ms */
    embedder_spec_t s;
    embedder_t *e = emb_start(&s);
    add(0, 0, 2, 0);
    add(MS(6), 1, 2, 0);
    add(MS(7), 2, 2, 0);
    add(MS(8), 3, 2, 0);
    cancel_at(MS(10), 2);
    cancel_at(MS(20), 1);
    sim_run(F.sim, MS(10));
    embedder_stats_t st;
    embedder_stats(e, &st);
    cr_assert_eq(st.queue_length, 2);
    sim_run(F.sim, SIM_SEC);
    assert_ok(0, MS(17));
    assert_gone(2, MS(10));
    assert_gone(1, MS(31));
    assert_ok(3, MS(31));
    embedder_stats(e, &st);
    cr_assert_eq(st.batches, 2);
    cr_assert_eq(st.batched_calls, 3);
    cr_assert_eq(st.cancelled, 1);
    cr_assert_eq(st.completed[CALL_TIMEOUT], 1);
    cr_assert_eq(st.completed[CALL_OK], 3);
    cr_assert_eq(st.orphaned, 1);
    cr_assert_eq(st.queue_length, 0);
    emb_stop(e, &s);
}

Test(cancel, embedder_cancelling_the_oldest_moves_the_batching_window)
{
    /* A at 0 (window to 5 ms), B at 2 ms; A cancelled at 3 ms: B's own
     * window closes at 7 ms -> B1 {B} 7 -> 19 ms. Then C at 30 ms is
     * cancelled at 31 ms, alone: no batch, no pending check. */
    embedder_spec_t s;
    embedder_t *e = emb_start(&s);
    add(0, 0, 2, 0);
    add(MS(2), 1, 2, 0);
    cancel_at(MS(3), 0);
    add(MS(30), 2, 2, 0);
    cancel_at(MS(31), 2);
    sim_run(F.sim, MS(6));
    embedder_stats_t st;
    embedder_stats(e, &st);
    cr_assert_eq(st.batches, 0, "B's window is still open at 6 ms");
    sim_run(F.sim, SIM_SEC);
    assert_gone(0, MS(3));
    assert_ok(1, MS(19));
    assert_gone(2, MS(31));
    cr_assert_eq(sim_pending(F.sim), 0, "the dispatch check went with the last waiting call");
    embedder_stats(e, &st);
    cr_assert_eq(st.batches, 1);
    cr_assert_eq(st.cancelled, 2);
    emb_stop(e, &s);
}

Test(cancel, embedder_cancel_the_call_left_at_the_head_after_a_full_batch)
{
    /*   t=0      X: B1 {X} 5 -> 17 ms
     *   t=6..9   A, B, C, D wait
     *   t=17     B2 {A, B, C} (full: 3 calls, 16 ms) 17 -> 33; D is the head
     *   t=20     D cancelled: the queue is empty
     *   t=25     E waits; t=33: B3 {E} (waited 8 ms) 33 -> 45 ms */
    embedder_spec_t s;
    embedder_t *e = emb_start(&s);
    add(0, 0, 2, 0);
    for (int i = 1; i <= 4; i++) add(MS(5 + i), i, 2, 0);
    cancel_at(MS(20), 4);
    add(MS(25), 5, 2, 0);
    sim_run(F.sim, SIM_SEC);
    assert_ok(0, MS(17));
    for (int i = 1; i <= 3; i++) assert_ok(i, MS(33));
    assert_gone(4, MS(20));
    assert_ok(5, MS(45));
    embedder_stats_t st;
    embedder_stats(e, &st);
    cr_assert_eq(st.batches, 3);
    cr_assert_eq(st.batched_calls, 5);
    emb_stop(e, &s);
}

/* ---- vector DB and dependencies ---------------------------------------------- */

static sim_cfg_t *load(const char *yaml, sim_diag_t *d)
{
    sim_diag_init(d);
    sim_cfg_t *cfg = sim_cfg_load_string("c.yaml", yaml, strlen(yaml), d);
    cr_assert_not_null(cfg, "%s", sim_diag_text(d));
    return cfg;
}

Test(cancel, vectordb_cancelled_queries_free_memory_and_the_queue_drains_faster)
{
    /* One thread, 100 ms per query, 4 MiB per query. Q0..Q4 at 0: Q0 runs,
     * four wait. At 50 ms Q1 and Q2 are cancelled (memory -8 MiB) and so is
     * Q0, which cannot be stopped: it finishes at 100 ms. Q3 100 -> 200,
     * Q4 200 -> 300 ms (instead of 400, 500). */
    static const char *yaml =
        "vectordb:\n"
        "  threads: 1\n"
        "  index: {type: flat, vectors: 1, dim: 1}\n"
        "  cost: {base: 100ms, speed: 1e12}\n"
        "  jitter: {dist: deterministic, value: 1}\n"
        "  memory: {limit: unbounded, base: 256MiB, per_query: 4MiB}\n";
    sim_diag_t d;
    sim_cfg_t *cfg = load(yaml, &d);
    vdb_spec_t spec;
    cr_assert_eq(vdb_spec_parse(&d, sim_cfg_get(sim_cfg_root(cfg), "vectordb"), &spec), 0, "%s", sim_diag_text(&d));
    sim_cfg_destroy(cfg);
    sim_diag_fini(&d);
    fix_start(&vdb_ops);
    vdb_t *v = vdb_create(F.sim, &spec);
    cr_assert_not_null(v);
    F.comp = v;
    for (int i = 0; i < 5; i++) add(0, i, 0, 0);
    cancel_at(MS(50), 1);
    cancel_at(MS(50), 2);
    cancel_at(MS(50), 0);
    const int64_t idle = (256LL << 20) + 4, q = 4LL << 20;
    sim_run(F.sim, MS(49));
    cr_assert_eq(vdb_memory(v, 0), idle + 5 * q);
    sim_run(F.sim, MS(50));
    cr_assert_eq(vdb_memory(v, 0), idle + 3 * q, "Q0 runs on, Q3 and Q4 wait");
    cr_assert_eq(v->rs.st[0].nqueue, 2);
    sim_run(F.sim, SIM_HOUR);
    assert_gone(0, MS(100));
    assert_gone(1, MS(50));
    assert_gone(2, MS(50));
    assert_ok(3, MS(200));
    assert_ok(4, MS(300));
    cr_assert_eq(v->rs.st[0].n.cancelled, 2);
    cr_assert_eq(v->rs.st[0].n.completions, 3);
    cr_assert_eq(v->rs.lb.outstanding[0], 0);
    cr_assert_eq(vdb_memory(v, 0), idle);
    vdb_destroy(v);
    fix_stop();
    vdb_spec_fini(&spec);
}

Test(cancel, dependency_cancelled_waiting_call_leaves_and_a_running_one_finishes)
{
    /* concurrency 1, latency 100 ms. A, B, C at 0; B cancelled at 10 ms, A
     * (running) too: A ends at 100 ms anyway, C 100 -> 200 ms. The
     * dependency's call count sees only the served calls. */
    static const char *yaml = "dep:\n  concurrency: 1\n  latency: {dist: deterministic, value: 100ms}\n";
    sim_diag_t d;
    sim_cfg_t *cfg = load(yaml, &d);
    dep_spec_t spec;
    cr_assert_eq(dep_spec_parse(&d, sim_cfg_get(sim_cfg_root(cfg), "dep"), "dep", &spec), 0, "%s",
                 sim_diag_text(&d));
    sim_cfg_destroy(cfg);
    sim_diag_fini(&d);
    fix_start(&dep_ops);
    dep_t *dp = dep_create(F.sim, &spec);
    cr_assert_not_null(dp);
    F.comp = dp;
    for (int i = 0; i < 3; i++) add(0, i, 0, 0);
    cancel_at(MS(10), 1);
    cancel_at(MS(10), 0);
    sim_run(F.sim, SIM_HOUR);
    assert_gone(0, MS(100));
    assert_gone(1, MS(10));
    assert_ok(2, MS(200));
    cr_assert_eq(dp->calls, 2);
    cr_assert_eq(dp->rs.st[0].n.cancelled, 1);
    dep_destroy(dp);
    fix_stop();
    dep_spec_fini(&spec);
}

Test(cancel, every_component_table_names_its_cancel)
{
    cr_assert_not_null(llm_ops.cancel);
    cr_assert_not_null(embedder_ops.cancel);
    cr_assert_not_null(vdb_ops.cancel);
    cr_assert_not_null(dep_ops.cancel);
}
