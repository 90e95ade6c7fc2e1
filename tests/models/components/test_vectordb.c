/* The vector DB against known answers: M/M/c with exponential service, the
 * memory equation, the OOM crossing where the equation predicts it, the
 * CrashLoopBackOff sequence, and the cold start. */
#include <criterion/criterion.h>
#include <math.h>
#include <string.h>

#include "models/queueing/theory.h"
#include "models/components/vectordb/vectordb.h"
#include "vdbfx.h"
#include "models/queueing/workload.h"
#include "sim/stats.h"

typedef struct {
    sim_t *sim;
    vdb_t *v;
    call_pool_t pool;
    wl_gen_t gen;
    wl_spec_t wl;
    vdb_spec_t spec;
    uint64_t done[CALL_NSTATUS];
    sim_time_t last_latency;
    sim_time_t ended[8];          /* completion time of the call tagged k (1 <= k < 8) */
} fix_t;

static void on_done(sim_t *sim, call_t *c, call_status_t st)
{
    fix_t *f = c->owner;
    f->done[st]++;
    f->last_latency = sim_now(sim) - c->sent;
    if (c->tag > 0 && c->tag < 8) f->ended[c->tag] = sim_now(sim);
}

static void arrive(sim_t *sim, void *ctx)
{
    fix_t *f = ctx;
    call_t *c = call_new(&f->pool, f, on_done, 0, sim_now(sim));
    c->top_k = 5;
    vdb_ops.submit(f->v, c);
}

static void setup(fix_t *f, const char *yaml, uint32_t rep, double rate, wl_process_t proc)
{
    memset(f, 0, sizeof *f);
    vdbfx_parse(yaml, &f->spec);
    vdbfx_create(&f->sim, &f->pool, &f->v, &f->spec, 5, rep);
    if (rate > 0) {
        wl_spec_constant(&f->wl, proc, rate);
        cr_assert_eq(wl_gen_start(&f->gen, f->sim, &f->wl, "workload/arrivals", arrive, f), 0);
    }
}

static void teardown(fix_t *f)
{
    vdbfx_destroy(f->sim, &f->pool, f->v, &f->spec, &f->wl);
}

Test(vectordb, exponential_service_is_mmc_erlang_c, .timeout = 120)
{
    /* 4 threads, mean query 100 ms (cost base; the index term is made
     * negligible), exponential service, Poisson 32/s: rho = 0.8. */
    static const char *yaml =
        "vectordb:\n"
        "  threads: 4\n"
        "  index: {type: flat, vectors: 1, dim: 1}\n"
        "  cost: {base: 100ms, speed: 1e12}\n"
        "  jitter: {dist: exponential, mean: 1}\n"
        "  memory: {limit: unbounded}\n";
    double w[20];
    for (int r = 0; r < 20; r++) {
        fix_t f;
        setup(&f, yaml, (uint32_t)r, 32, WL_POISSON);
        sim_run(f.sim, 3 * SIM_HOUR);
        w[r] = sim_tmean_s(&f.v->rs.st[0].wait_s);
        teardown(&f);
    }
    double want = theory_mmc_wq(32, 1 / (0.1 + 1e-15), 4);
    sim_ci_t ci = sim_ci_student(w, 20, 0.99);
    cr_log_info("vector DB M/M/4: Wq %.5f +- %.5f s, Erlang C %.5f s", ci.mean, ci.half_width, want);
    cr_assert(sim_ci_lo(ci) <= want && want <= sim_ci_hi(ci), "Erlang C %.5f outside [%.5f, %.5f]", want,
              sim_ci_lo(ci), sim_ci_hi(ci));
    cr_assert_lt(fabs(ci.mean - want) / want, 0.03);
    cr_assert_lt(ci.half_width / want, 0.03);
}

Test(vectordb, query_time_and_memory_equations)
{
    static const char *yaml =
        "vectordb:\n"
        "  threads: 1\n"
        "  index: {type: hnsw, vectors: 1000000, dim: 768, M: 16, ef_search: 10}\n"
        "  cost: {base: 1ms, call_ns: 2000, graph_dim_ns: 0.25, graph_distance_ns: 40, speed: 2}\n"
        "  jitter: {dist: deterministic, value: 1}\n"
        "  memory: {limit: 8GiB, base: 256MiB, per_query: 2MiB}\n";
    fix_t f;
    setup(&f, yaml, 0, 0, WL_POISSON);
    /* hnsw: 1 ms + (2 us + D (768 x 0.25 ns + 40 ns)) / 2, D = a M^m max(ef, k)^e N^n */
    const vdb_cost_t *c = &vdb_cost_default;
    for (int k = 5; k <= 40; k += 35) {
        double D = c->hnsw_a * pow(16, c->hnsw_m) * pow(k > 10 ? k : 10, c->hnsw_ef) * pow(1e6, c->hnsw_n);
        cr_assert_float_eq(vdb_search_work(&f.spec, k), D, 1e-9 * D);
        cr_assert_float_eq(vdb_query_time(&f.spec, k), 1e-3 + (2e-6 + D * (768 * 0.25e-9 + 40e-9)) / 2, 1e-12);
    }
    int64_t index = 1000000LL * 4 * 768 + llround(1e6 * 4 * (32 + 16.0 / 15)) + 12000000LL;
    cr_assert_eq(vdb_index_bytes(&f.spec), index);
    int64_t idle = (256LL << 20) + index;
    cr_assert_eq(vdb_memory(f.v, 0), idle);
    for (int i = 0; i < 10; i++) arrive(f.sim, &f);
    cr_assert_eq(vdb_memory(f.v, 0), idle + 10 * (2LL << 20), "base + index + 10 queries x 2 MiB");
    cr_assert_eq(vdb_max_queries(&f.spec), ((8LL << 30) - idle) / (2LL << 20));
    sim_run(f.sim, 10 * SIM_SEC);
    cr_assert_eq(f.done[CALL_OK], 10);
    cr_assert_eq(vdb_memory(f.v, 0), idle);
    teardown(&f);
}

/* The other index types' equations, by hand (vectordb.h). */
Test(vectordb, flat_and_ivf_equations)
{
    static const char *yaml =
        "vectordb:\n"
        "  index: {type: ivf_pq, vectors: 100000, dim: 128, nlist: 1000, nprobe: 10, pq_m: 16, pq_nbits: 8}\n"
        "  cost: {base: 0s, call_ns: 1000, scan_dim_ns: 0.1, scan_vector_ns: 2, pq_code_ns: 0.5, pq_table_ns: 0.3}\n"
        "  memory: {limit: unbounded}\n";
    fix_t f;
    setup(&f, yaml, 0, 0, WL_POISSON);
    double L = vdb_cost_default.imbalance * 10 * 100000 / 1000.0;
    cr_assert_float_eq(vdb_search_work(&f.spec, 10), L, 1e-9);
    double t = 1e-6 + 1000 * 128 * 0.1e-9 + 256 * 128 * 0.1e-9 + 10 * 16 * 256 * 0.3e-9 + L * (16 * 0.5e-9 + 2e-9);
    cr_assert_float_eq(vdb_query_time(&f.spec, 10), t, 1e-15);
    cr_assert_eq(vdb_index_bytes(&f.spec), 4 * 1000 * 128 + 4 * 128 * 256 + 100000 * (16 + 8) + 4 * 1000 * 16 * 256);
    f.spec.index = VDB_IVF_FLAT;
    t = 1e-6 + 1000 * 128 * 0.1e-9 + L * (128 * 0.1e-9 + 2e-9);
    cr_assert_float_eq(vdb_query_time(&f.spec, 10), t, 1e-15);
    cr_assert_eq(vdb_index_bytes(&f.spec), 4 * 1000 * 128 + 100000 * (4 * 128 + 8));
    f.spec.index = VDB_FLAT;
    cr_assert_float_eq(vdb_query_time(&f.spec, 10), 1e-6 + 100000 * (128 * 0.1e-9 + 2e-9), 1e-15);
    cr_assert_eq(vdb_index_bytes(&f.spec), 4 * 100000 * 128);
    f.spec.nprobe = 1000;   /* every list: no more than the whole collection */
    f.spec.index = VDB_IVF_FLAT;
    cr_assert_float_eq(vdb_search_work(&f.spec, 10), 100000, 1e-9);
    teardown(&f);
}

/* Deterministic overload: an arrival every 1 ms, one thread serving 2 ms
 * queries, so the replica holds n = k - floor((k-1)/2) queries after the
 * k-th arrival. The memory limit leaves room for exactly 100 queries: the
 * OOM kill comes with the 101st, at the 200th arrival (t = 200 ms), and
 * after each restart 199 ms after the replica is ready again. Restarts wait
 * 0 (a first crash), 10, 20, 40, 80 ... s (CrashLoopBackOff) plus 1 s of
 * start-up. */
Test(vectordb, oom_crossing_and_crashloop_backoff_follow_the_equations)
{
    char yaml[512];
    int64_t base = 256LL << 20, index = 1000 * (4 * 8), pq = 1 << 20;
    snprintf(yaml, sizeof yaml,
             "vectordb:\n"
             "  threads: 1\n"
             "  index: {type: flat, vectors: 1000, dim: 8}\n"
             "  cost: {base: 2ms, speed: 1e12}\n"
             "  jitter: {dist: deterministic, value: 1}\n"
             "  memory: {limit: %lldB, base: 256MiB, per_query: 1MiB}\n"
             "  startup: 1s\n"
             "  cold_start: {factor: 1}\n",
             (long long)(base + index + 100 * pq));
    fix_t f;
    setup(&f, yaml, 0, 1000, WL_DETERMINISTIC);
    cr_assert_eq(vdb_max_queries(&f.spec), 100);
    sim_run(f.sim, 400 * SIM_SEC);
    const sim_table_t *ev = sim_log_table(f.sim);
    int kind = sim_table_find_col(ev, "kind"), tns = sim_table_find_col(ev, "time_ns");
    sim_time_t want = 200 * SIM_MS;
    sim_time_t delay = 0;
    int kills = 0;
    for (size_t i = 0; i < ev->nrows; i++) {
        if (strcmp(sim_table_get_str(ev, i, kind), "oom_kill") != 0) continue;
        sim_time_t at = sim_table_get_i64(ev, i, tns);
        /* the query's service time is rounded to the ns: allow 1 us */
        cr_assert_lt(llabs(at - want), SIM_US, "OOM kill %d at %.6f s, predicted %.6f s", kills,
                     sim_time_to_s(at), sim_time_to_s(want));
        kills++;
        want = at + delay + SIM_SEC + 199 * SIM_MS;
        delay = delay == 0 ? 10 * SIM_SEC : delay * 2 > 300 * SIM_SEC ? 300 * SIM_SEC : delay * 2;
    }
    cr_assert_eq(kills, 7, "OOM kills at 0.2, 1.399, 12.598, 33.797, 74.996, 156.195, 317.394 s: got %d", kills);
    cr_assert_gt(f.done[CALL_UNAVAILABLE], 300000, "calls while down find no replica");
    cr_assert_gt(f.done[CALL_ERROR], 6 * 100, "every query on a killed replica fails");
    teardown(&f);
}

/* A call tagged `arg` now. */
static void tagged_event(sim_t *sim, void *obj, uint64_t arg)
{
    fix_t *f = obj;
    call_t *c = call_new(&f->pool, f, on_done, arg, sim_now(sim));
    c->top_k = 5;
    vdb_ops.submit(f->v, c);
}

/* The speed factor arg / 1000 now. */
static void speed_event(sim_t *sim, void *obj, uint64_t arg)
{
    (void)sim;
    vdb_ops.set_speed(((fix_t *)obj)->v, (double)arg / 1000.0);
}

/* One thread, 100 ms per query. A 5x slowdown (speed 0.2) from 0.3 s to
 * 0.9 s, another from 2.05 s to 3 s. The speed of a call is the speed when
 * it starts service:
 *   c1 at 0.5 s starts at once, slowed: 500 ms, ends 1.0 s (it keeps its
 *      time when the slowdown ends at 0.9 s);
 *   c2 at 0.6 s waits (queued during the slowdown), starts at 1.0 s, after
 *      it: nominal, ends 1.1 s (500 ms, ending 1.5 s, if the slowdown of
 *      its arrival stuck to it);
 *   c3 at 2.0 s starts at once, before the second slowdown: ends 2.1 s;
 *   c4 at 2.01 s waits (arrived before the slowdown) and starts at 2.1 s,
 *      during it: 500 ms, ends 2.6 s (2.2 s if its arrival's speed stuck). */
Test(vectordb, slowdowns_act_on_calls_when_they_start_service)
{
    static const char *yaml =
        "vectordb:\n"
        "  threads: 1\n"
        "  index: {type: flat, vectors: 1, dim: 1}\n"
        "  cost: {base: 100ms, speed: 1e12}\n"
        "  jitter: {dist: deterministic, value: 1}\n"
        "  memory: {limit: unbounded}\n";
    fix_t f;
    setup(&f, yaml, 0, 0, WL_POISSON);
    sim_schedule_at(f.sim, 300 * SIM_MS, speed_event, &f, 200);
    sim_schedule_at(f.sim, 900 * SIM_MS, speed_event, &f, 1000);
    sim_schedule_at(f.sim, 2050 * SIM_MS, speed_event, &f, 200);
    sim_schedule_at(f.sim, 3000 * SIM_MS, speed_event, &f, 1000);
    sim_schedule_at(f.sim, 500 * SIM_MS, tagged_event, &f, 1);
    sim_schedule_at(f.sim, 600 * SIM_MS, tagged_event, &f, 2);
    sim_schedule_at(f.sim, 2000 * SIM_MS, tagged_event, &f, 3);
    sim_schedule_at(f.sim, 2010 * SIM_MS, tagged_event, &f, 4);
    sim_run(f.sim, 5 * SIM_SEC);
    cr_assert_eq(f.done[CALL_OK], 4);
    cr_expect_eq(f.ended[1], 1000 * SIM_MS, "c1 ends at %.6f s", sim_time_to_s(f.ended[1]));
    cr_expect_eq(f.ended[2], 1100 * SIM_MS, "c2 ends at %.6f s", sim_time_to_s(f.ended[2]));
    cr_expect_eq(f.ended[3], 2100 * SIM_MS, "c3 ends at %.6f s", sim_time_to_s(f.ended[3]));
    cr_expect_eq(f.ended[4], 2600 * SIM_MS, "c4 ends at %.6f s", sim_time_to_s(f.ended[4]));
    teardown(&f);
}

/* The cold start is a factor of the start of service too: start-up 1 s,
 * cold x3 falling to x1 over 10 s, one thread, 100 ms per query. Killed at
 * 0 s (a first crash: restarted at once), ready at 1 s. Four calls at
 * 1.5 s: c1 starts at once (x2.9, ends 1.79 s), c2..c4 wait behind it and
 * start at 1.79 s (x2.842), 2.0742 s (x2.78516), 2.352716 s; each takes the
 * factor of its own start, 1 + 2 x (1 - (start - 1) / 10), not the 2.9 of
 * their arrival. */
Test(vectordb, cold_start_factor_is_taken_when_service_starts)
{
    static const char *yaml =
        "vectordb:\n"
        "  threads: 1\n"
        "  index: {type: flat, vectors: 1, dim: 1}\n"
        "  cost: {base: 100ms, speed: 1e12}\n"
        "  jitter: {dist: deterministic, value: 1}\n"
        "  memory: {limit: unbounded}\n"
        "  startup: 1s\n"
        "  cold_start: {factor: 3, period: 10s}\n";
    fix_t f;
    setup(&f, yaml, 0, 0, WL_POISSON);
    vdb_ops.kill(f.v, 0);
    for (uint64_t k = 1; k <= 4; k++) sim_schedule_at(f.sim, 1500 * SIM_MS, tagged_event, &f, k);
    sim_run(f.sim, 5 * SIM_SEC);
    cr_assert_eq(f.done[CALL_OK], 4);
    double t = 1.5;
    for (int k = 1; k <= 4; k++) {
        double factor = 1 + 2 * (1 - (t - 1.0) / 10.0);
        t += 0.1 * factor;
        cr_expect_lt(llabs(f.ended[k] - sim_time_from_s(t)), 2, "c%d ends at %.9f s, want %.9f s", k,
                     sim_time_to_s(f.ended[k]), t);
    }
    teardown(&f);
}

static void kill_event(sim_t *sim, void *obj, uint64_t arg)
{
    (void)sim;
    (void)arg;
    vdb_ops.kill(((fix_t *)obj)->v, 0);
}

/* Times (ns) of the events of `kind` on vectordb/0, in order; returns how many. */
static int event_times(fix_t *f, const char *kind, sim_time_t *out, int max)
{
    const sim_table_t *ev = sim_log_table(f->sim);
    int k = sim_table_find_col(ev, "kind"), tns = sim_table_find_col(ev, "time_ns");
    int n = 0;
    for (size_t i = 0; i < ev->nrows && n < max; i++)
        if (!strcmp(sim_table_get_str(ev, i, k), kind)) out[n++] = sim_table_get_i64(ev, i, tns);
    return n;
}

/* The kubelet's CrashLoopBackOff by hand, start-up 5 s, default back-off:
 *   kill at   1 s: a first crash, no entry: restarted at   1 s, ready at   6 s
 *   kill at  20 s: entry 10 s:                restarted at  30 s, ready at  35 s
 *   kill at  40 s: 20 s:                      restarted at  60 s, ready at  65 s
 *   kill at  70 s: 40 s:                      restarted at 110 s, ready at 115 s
 *   kill at 710 s: 10 min since the restart at 110 s, the entry expired:
 *                                             restarted at 710 s, ready at 715 s
 *   kill at 720 s: a new entry, 10 s:         restarted at 730 s, ready at 735 s */
Test(vectordb, crashloop_restart_sequence_by_hand)
{
    static const char *yaml =
        "vectordb:\n"
        "  threads: 1\n"
        "  index: {type: flat, vectors: 1, dim: 1}\n"
        "  memory: {limit: unbounded}\n"
        "  startup: 5s\n";
    fix_t f;
    setup(&f, yaml, 0, 0, WL_POISSON);
    const int kill_s[] = {1, 20, 40, 70, 710, 720};
    const int restart_s[] = {1, 30, 60, 110, 710, 730};
    for (int i = 0; i < 6; i++) sim_schedule_at(f.sim, kill_s[i] * SIM_SEC, kill_event, &f, 0);
    sim_run(f.sim, 800 * SIM_SEC);
    sim_time_t restarted[8], ready[8];
    cr_assert_eq(event_times(&f, "replica_restarted", restarted, 8), 6);
    cr_assert_eq(event_times(&f, "replica_ready", ready, 8), 6);
    for (int i = 0; i < 6; i++) {
        cr_expect_eq(restarted[i], restart_s[i] * SIM_SEC, "restart %d at %.3f s, want %d s", i,
                     sim_time_to_s(restarted[i]), restart_s[i]);
        cr_expect_eq(ready[i], (restart_s[i] + 5) * SIM_SEC, "ready %d at %.3f s", i, sim_time_to_s(ready[i]));
    }
    cr_expect_eq(f.v->rs.rep[0].crashes, 6);
    teardown(&f);
}

Test(vectordb, cold_start_slows_queries_then_fades)
{
    static const char *yaml =
        "vectordb:\n"
        "  threads: 1\n"
        "  index: {type: flat, vectors: 1, dim: 1}\n"
        "  cost: {base: 100ms, speed: 1e12}\n"
        "  jitter: {dist: deterministic, value: 1}\n"
        "  memory: {limit: unbounded}\n"
        "  startup: 5s\n"
        "  cold_start: {factor: 3, period: 60s}\n";
    fix_t f;
    setup(&f, yaml, 0, 0, WL_POISSON);
    vdb_ops.kill(f.v, 0);
    cr_assert_eq(vdb_ops.replicas_up(f.v), 0);
    arrive(f.sim, &f);
    cr_assert_eq(f.done[CALL_UNAVAILABLE], 1);
    sim_run(f.sim, 5 * SIM_SEC);   /* a first crash: restarted at once, 5 s start-up: ready at 5 s */
    cr_assert_eq(vdb_ops.replicas_up(f.v), 1);
    arrive(f.sim, &f);
    sim_run(f.sim, 10 * SIM_SEC);
    cr_assert_eq(f.last_latency, 300 * SIM_MS, "x3 just after the restart: %lld", (long long)f.last_latency);
    sim_run(f.sim, 35 * SIM_SEC);   /* halfway through the cold period */
    arrive(f.sim, &f);
    sim_run(f.sim, 40 * SIM_SEC);
    cr_assert_eq(f.last_latency, 200 * SIM_MS, "x2 at half the period: %lld", (long long)f.last_latency);
    sim_run(f.sim, 80 * SIM_SEC);
    arrive(f.sim, &f);
    sim_run(f.sim, 90 * SIM_SEC);
    cr_assert_eq(f.last_latency, 100 * SIM_MS);
    teardown(&f);
}

Test(vectordb, config_errors_name_position)
{
    static const vdbfx_err_t cases[] = {
        {"vectordb:\n  threads: 0\n", "between 1 and", 2, 12},
        {"vectordb:\n  index: {type: ivf}\n", "expected one of flat, hnsw", 2, 17},
        {"vectordb:\n  memory: {limit: 1GiB}\n", "cannot hold the index", 2, 19},
        {"vectordb:\n  jitter: {dist: exponential, mean: 2}\n", "must have mean 1", 2, 11},
        {"vectordb:\n  thread: 4\n", "did you mean 'threads'", 2, 3},
        {"vectordb:\n  recall: [[16, 0.9], [8, 1.0]]\n", "knobs must increase", 2, 24},
        {"vectordb:\n  recall: [[16, 1.5]]\n", "between 0 and 1", 2, 17},
        {"vectordb:\n  recall: [[16]]\n", "expected [knob, recall]", 2, 12},
        {"vectordb:\n  recall: []\n", "1 to 32 points", 2, 11},
        {"vectordb:\n  index: {type: flat}\n  recall: [[1, 1.0]]\n", "a flat index is exact", 3, 11},
        {"vectordb:\n  degrade: {queue_above: 10, floor: 200}\n", "cannot exceed the index's ef_search (100)", 2, 37},
        {"vectordb:\n  degrade: {floor: 5}\n", "missing required key 'queue_above'", 2, 12},
        {"vectordb:\n  degrade: {queue_above: 10, floor: 5, step: 0}\n", "between 1 and", 2, 46},
    };
    vdbfx_expect_errors(cases, sizeof cases / sizeof *cases);
}

/* ---- recall and the degrade policy (docs/models/vectordb.md#recall) ---------------- */

/* A query `arg` times now (arg 0: one), counting the misses in done[]. */
static uint64_t misses;
static void on_done_recall(sim_t *sim, call_t *c, call_status_t st)
{
    on_done(sim, c, st);
    if (st == CALL_OK && (c->flags & CALL_F_IRRELEVANT)) misses++;
}

static void query_event(sim_t *sim, void *obj, uint64_t arg)
{
    fix_t *f = obj;
    call_t *c = call_new(&f->pool, f, on_done_recall, 0, sim_now(sim));
    c->top_k = (int64_t)arg;
    vdb_ops.submit(f->v, c);
}

Test(vectordb, recall_table_interpolates_and_misses_at_one_minus_recall)
{
    fix_t f;
    setup(&f,
          "vectordb:\n"
          "  threads: 1\n"
          "  index: {type: hnsw, vectors: 100000, dim: 8, ef_search: 16}\n"
          "  recall: [[8, 0.5], [24, 1.0], [64, 1.0]]\n",
          0, 0, WL_POISSON);
    /* linear between points, held flat outside them */
    cr_assert_float_eq(vdb_recall(&f.spec, 16), 0.75, 1e-12);
    cr_assert_float_eq(vdb_recall(&f.spec, 12), 0.625, 1e-12);
    cr_assert_float_eq(vdb_recall(&f.spec, 4), 0.5, 1e-12);
    cr_assert_float_eq(vdb_recall(&f.spec, 40), 1.0, 1e-12);
    cr_assert_float_eq(vdb_recall(&f.spec, 100), 1.0, 1e-12);
    /* 20 000 queries 10 ms apart at ef 16: misses ~ Binomial(20000, 0.25),
     * sd 61; 4 sd either side */
    misses = 0;
    for (int i = 0; i < 20000; i++) sim_schedule_at(f.sim, i * 10 * SIM_MS, query_event, &f, 5);
    sim_run(f.sim, 300 * SIM_SEC);
    cr_assert_eq(f.done[CALL_OK], 20000);
    cr_assert_eq(f.v->misses, misses);
    cr_assert(misses > 5000 - 245 && misses < 5000 + 245, "misses %llu, expected 5000 +- 245", (unsigned long long)misses);
    teardown(&f);
}

Test(vectordb, query_cost_follows_the_knob)
{
    fix_t f;
    setup(&f, "vectordb:\n  index: {type: hnsw, vectors: 100000, dim: 128, M: 16, ef_search: 64}\n", 0, 0, WL_POISSON);
    const vdb_cost_t *c = &f.spec.cost;
    for (int64_t ef = 4; ef <= 256; ef *= 2) {
        double efk = (double)(ef > 10 ? ef : 10);   /* FAISS searches max(efSearch, k) */
        double D = c->hnsw_a * pow(16, c->hnsw_m) * pow(efk, c->hnsw_ef) * pow(1e5, c->hnsw_n);
        double want = 500e-6 + c->call + D * (128 * c->graph_dim + c->graph_distance);
        cr_assert_float_eq(vdb_query_time_at(&f.spec, 10, ef), want, 1e-12 * want, "ef %lld", (long long)ef);
    }
    cr_assert_float_eq(vdb_query_time_at(&f.spec, 10, 64), vdb_query_time(&f.spec, 10), 0);
    teardown(&f);
}

/* The knob changes logged by the degrade policy: times and values. */
static int knob_steps(fix_t *f, sim_time_t *at, double *val, int max)
{
    const sim_table_t *ev = sim_log_table(f->sim);
    int k = sim_table_find_col(ev, "kind"), tns = sim_table_find_col(ev, "time_ns"), v = sim_table_find_col(ev, "value");
    int n = 0;
    for (size_t i = 0; i < ev->nrows && n < max; i++)
        if (!strcmp(sim_table_get_str(ev, i, k), "vectordb_degrade")) {
            at[n] = sim_table_get_i64(ev, i, tns);
            val[n++] = sim_table_get_f64(ev, i, v);
        }
    return n;
}

/* By hand: one thread, 10 ms a query (the search is negligible at speed
 * 1e12); 500 queries arrive every 5 ms from 2.5 ms (the last at 2497.5 ms),
 * so query j ends at 2.5 + 10 (j + 1) ms and at each check (every 1 s) the
 * queue holds
 *   t = 1 s: 200 arrived - 99 done - 1 in service = 100 > 50: ef 20 -> 16
 *   t = 2 s: 400 - 199 - 1 = 200:                              16 -> 12
 *   t = 3 s: 500 - 299 - 1 = 200:                              12 -> 8 (floor)
 *   t = 4 s: 500 - 399 - 1 = 100: at the floor, no change
 *   t = 5 s: 500 - 499 - 1 = 0: cleared:                        8 -> 12
 *   t = 6 s, 7 s: 0:                                           12 -> 16 -> 20
 *   t = 8 s: back at ef_search 20, no change. */
Test(vectordb, degrade_policy_steps_by_hand)
{
    fix_t f;
    setup(&f,
          "vectordb:\n"
          "  threads: 1\n"
          "  index: {type: hnsw, vectors: 1000, dim: 8, ef_search: 20}\n"
          "  cost: {base: 10ms, speed: 1e12}\n"
          "  jitter: {dist: deterministic, value: 1}\n"
          "  recall: [[8, 0.8], [20, 1.0]]\n"
          "  degrade: {queue_above: 50, interval: 1s, step: 4, floor: 8}\n",
          0, 0, WL_POISSON);
    misses = 0;
    for (int i = 0; i < 500; i++) sim_schedule_at(f.sim, 2500 * SIM_US + i * 5 * SIM_MS, query_event, &f, 5);
    sim_run(f.sim, 9500 * SIM_MS);
    sim_time_t at[16];
    double val[16];
    int n = knob_steps(&f, at, val, 16);
    const double want_t[] = {1, 2, 3, 5, 6, 7}, want_v[] = {16, 12, 8, 12, 16, 20};
    cr_assert_eq(n, 6, "%d knob changes, expected 6", n);
    for (int i = 0; i < 6; i++) {
        cr_assert_eq(at[i], (sim_time_t)(want_t[i] * SIM_SEC), "change %d at %.9f s, expected %g s", i, sim_time_to_s(at[i]),
                     want_t[i]);
        cr_assert_eq(val[i], want_v[i], "change %d to ef %g, expected %g", i, val[i], want_v[i]);
    }
    cr_assert_eq(f.v->knob, 20);
    cr_assert_eq(f.done[CALL_OK], 500);
    /* queries arriving at ef 16 (1-2 s), 12 (2-2.5 s) and none after: recall
     * 0.9333 for 200 queries, 0.8667 for 100: 26.7 misses expected, sd 4.4;
     * none before 1 s (ef 20, recall 1) */
    cr_assert(misses >= 9 && misses <= 45, "misses %llu, expected 26.7 +- 18", (unsigned long long)misses);
    teardown(&f);
}

/* Where the search dominates the query, the policy trades recall for staying
 * up: load between the capacity at ef 64 and at ef 8 OOM-kills the replica
 * without it and not with it. */
Test(vectordb, degrade_policy_prevents_the_oom_when_the_search_dominates)
{
    const char *base =
        "vectordb:\n"
        "  threads: 1\n"
        "  index: {type: hnsw, vectors: 100000, dim: 8, ef_search: 64}\n"
        "  cost: {base: 0ms, speed: 0.001}\n"
        "  jitter: {dist: deterministic, value: 1}\n"
        "  memory: {limit: 1GiB, base: 256MiB, per_query: 1MiB}\n"
        "  startup: 1s\n"
        "  cold_start: {factor: 1}\n";
    char yaml[1024];
    uint64_t kills[2];
    double rate = 0;
    for (int with = 0; with < 2; with++) {
        snprintf(yaml, sizeof yaml, "%s%s", base,
                 with ? "  degrade: {queue_above: 10, interval: 100ms, step: 8, floor: 8}\n" : "");
        fix_t f;
        setup(&f, yaml, 0, 0, WL_POISSON);
        if (!with) {
            double t64 = vdb_query_time_at(&f.spec, 5, 64), t8 = vdb_query_time_at(&f.spec, 5, 8);
            cr_assert_gt(t64, 3 * t8, "the search must dominate: %g s at ef 64, %g s at ef 8", t64, t8);
            rate = 1 / sqrt(t64 * t8);   /* overloads ef 64, not ef 8 */
        }
        wl_spec_constant(&f.wl, WL_POISSON, rate);
        cr_assert_eq(wl_gen_start(&f.gen, f.sim, &f.wl, "workload/arrivals", arrive, &f), 0);
        sim_run(f.sim, 120 * SIM_SEC);
        kills[with] = f.v->oom_kills_total;
        if (with) cr_assert_gt(f.v->degrade_steps, 0);
        teardown(&f);
    }
    cr_assert_geq(kills[0], 1, "without the policy the queue must pass the limit (%llu kills)", (unsigned long long)kills[0]);
    cr_assert_eq(kills[1], 0, "with it: %llu OOM kills", (unsigned long long)kills[1]);
}
