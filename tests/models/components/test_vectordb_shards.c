/* The vector DB at scale against known answers: scatter-gather's mean
 * response at low load (the maximum of S exponential shard times has mean
 * H_S / mu), the index and memory of a shard, by-hand traces of a failing
 * shard and of a cancelled query; threads sharing fewer cores (by hand,
 * and M/M/c's mean response for processor sharing of exponential work). */
#include <criterion/criterion.h>
#include <math.h>
#include <string.h>

#include "models/components/vectordb/vectordb.h"
#include "vdbfx.h"
#include "models/queueing/theory.h"
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
    sim_tmean_t latency_s;        /* queries answered */
    sim_time_t ended[8];          /* when the caller was told about the call tagged k */
    call_status_t status[8];
    sim_time_t released[8];       /* when the vector DB finished with it */
} fix_t;

static fix_t *cur;   /* the fixture of the release callback (it has only the call) */

static void on_done(sim_t *sim, call_t *c, call_status_t st)
{
    fix_t *f = c->owner;
    f->done[st]++;
    if (st == CALL_OK) sim_tmean_add(&f->latency_s, sim_now(sim) - c->sent);
    if (c->tag > 0 && c->tag < 8) {
        f->ended[c->tag] = sim_now(sim);
        f->status[c->tag] = st;
    }
}

static void on_release(sim_t *sim, call_t *c)
{
    if (c->tag > 0 && c->tag < 8) cur->released[c->tag] = sim_now(sim);
}

static void arrive(sim_t *sim, void *ctx)
{
    fix_t *f = ctx;
    call_t *c = call_new(&f->pool, f, on_done, 0, sim_now(sim));
    c->top_k = 5;
    vdb_ops.submit(f->v, c);
}

static void setup(fix_t *f, const char *yaml, uint32_t rep, double rate)
{
    memset(f, 0, sizeof *f);
    cur = f;
    vdbfx_parse(yaml, &f->spec);
    vdbfx_create(&f->sim, &f->pool, &f->v, &f->spec, 11, rep);
    if (rate > 0) {
        wl_spec_constant(&f->wl, WL_POISSON, rate);
        cr_assert_eq(wl_gen_start(&f->gen, f->sim, &f->wl, "workload/arrivals", arrive, f), 0);
    }
}

static void teardown(fix_t *f)
{
    vdbfx_destroy(f->sim, &f->pool, f->v, &f->spec, &f->wl);
}

/* A query tagged `arg` now. */
static void tagged_event(sim_t *sim, void *obj, uint64_t arg)
{
    fix_t *f = obj;
    call_t *c = call_new(&f->pool, f, on_done, arg, sim_now(sim));
    c->top_k = 5;
    c->release = on_release;
    vdb_ops.submit(f->v, c);
}

/* Scatter-gather at low load: S shards of one replica, 64 threads each
 * (no query ever waits at 5 queries/s of 10 ms), exponential shard times
 * of mean 1/mu = 10 ms. A query answers when its slowest shard does: the
 * maximum of S independent Exp(mu) has mean H_S / mu (H_S = 1 + 1/2 + ...
 * + 1/S), e.g. 10, 15, 20.83, 27.18 ms for S = 1, 2, 4, 8. */
Test(vectordb_shards, scatter_gather_mean_is_harmonic_number_over_mu, .timeout = 300)
{
    static const int shards[] = {1, 2, 4, 8};
    for (size_t i = 0; i < sizeof shards / sizeof shards[0]; i++) {
        int S = shards[i];
        char yaml[512];
        snprintf(yaml, sizeof yaml,
                 "vectordb:\n"
                 "  shards: %d\n"
                 "  threads: 64\n"
                 "  index: {type: flat, vectors: 64, dim: 1}\n"
                 "  cost: {base: 10ms, speed: 1e12}\n"
                 "  jitter: {dist: exponential, mean: 1}\n"
                 "  memory: {limit: unbounded}\n",
                 S);
        double m[12], mu_inv = 0;
        for (int r = 0; r < 12; r++) {
            fix_t f;
            setup(&f, yaml, (uint32_t)r, 5);
            sim_run(f.sim, 2 * SIM_HOUR);
            cr_assert_gt(f.done[CALL_OK], 30000);
            cr_assert_eq(f.done[CALL_OK], f.latency_s.n, "every query answered");
            for (int s = 0; s < S; s++) {
                const station_t *st = &vdb_shard(f.v, s)->st[0];
                cr_assert_eq(sim_tmean_s(&st->wait_s), 0, "shard %d: no query waits", s);
                cr_assert(st->n.completions >= f.done[CALL_OK] && st->n.completions <= f.done[CALL_OK] + 64,
                          "shard %d served every query once: %llu searches, %llu answers", s,
                          (unsigned long long)st->n.completions, (unsigned long long)f.done[CALL_OK]);
            }
            m[r] = sim_tmean_s(&f.latency_s);
            mu_inv = vdb_query_time(&f.spec, 5);   /* 10 ms: the flat search at speed 1e12 is < 1e-12 s */
            teardown(&f);
        }
        double H = 0;
        for (int k = 1; k <= S; k++) H += 1.0 / k;
        cr_assert_float_eq(mu_inv, 0.010, 1e-9);
        double want = H * mu_inv;
        sim_ci_t ci = sim_ci_student(m, 12, 0.99);
        cr_log_info("S=%d: mean response %.5f +- %.5f s, H_S/mu = %.5f s", S, ci.mean, ci.half_width, want);
        cr_assert(sim_ci_lo(ci) <= want && want <= sim_ci_hi(ci), "S=%d: H_S/mu %.5f outside [%.5f, %.5f]", S, want,
                  sim_ci_lo(ci), sim_ci_hi(ci));
        cr_assert_lt(ci.half_width / want, 0.01, "S=%d: the interval must be tight enough to tell H_S", S);
    }
}

/* A replica holds its shard's index: ceil(N/S) vectors, laid out as an
 * index of that size (vectordb.h), and searches it at the cost of that
 * size. 1,000,000 x 768 HNSW (M 16) in 4 shards: 250,000 vectors each. */
Test(vectordb_shards, replica_holds_and_searches_its_shard)
{
    static const char *yaml =
        "vectordb:\n"
        "  shards: 4\n"
        "  replicas: 2\n"
        "  threads: 1\n"
        "  index: {type: hnsw, vectors: 1000000, dim: 768, M: 16, ef_search: 10}\n"
        "  cost: {base: 1ms, call_ns: 2000, graph_dim_ns: 0.25, graph_distance_ns: 40}\n"
        "  jitter: {dist: deterministic, value: 1}\n"
        "  memory: {limit: 8GiB, base: 256MiB, per_query: 2MiB}\n";
    fix_t f;
    setup(&f, yaml, 0, 0);
    cr_assert_eq(vdb_shard_vectors(&f.spec), 250000);
    int64_t index = 250000LL * 4 * 768 + llround(250000 * 4 * (32 + 16.0 / 15)) + 12 * 250000LL;
    cr_assert_eq(vdb_index_bytes(&f.spec), index);
    const vdb_cost_t *c = &vdb_cost_default;
    double D = c->hnsw_a * pow(16, c->hnsw_m) * pow(10, c->hnsw_ef) * pow(250000, c->hnsw_n);
    cr_assert_float_eq(vdb_search_work(&f.spec, 5), D, 1e-9 * D);
    double t = 1e-3 + 2e-6 + D * (768 * 0.25e-9 + 40e-9);
    cr_assert_float_eq(vdb_query_time(&f.spec, 5), t, 1e-12);
    int64_t idle = (256LL << 20) + index;
    for (int s = 0; s < 4; s++)
        for (int r = 0; r < 2; r++) cr_assert_eq(vdb_shard_memory(f.v, s, r), idle, "shard %d replica %d", s, r);
    /* three queries: round robin puts queries 1 and 3 on replica 0 of every shard */
    for (int i = 0; i < 3; i++) arrive(f.sim, &f);
    for (int s = 0; s < 4; s++) {
        cr_assert_eq(vdb_shard_memory(f.v, s, 0), idle + 2 * (2LL << 20));
        cr_assert_eq(vdb_shard_memory(f.v, s, 1), idle + (2LL << 20));
    }
    sim_run(f.sim, SIM_SEC);
    cr_assert_eq(f.done[CALL_OK], 3);
    cr_assert_eq(f.v->pool.live, 0, "every shard call completed and freed");
    /* deterministic equal shard times: the last query waited one service at replica 0 */
    cr_assert_float_eq(sim_tmean_s(&f.latency_s), (t + t + 2 * t) / 3, 3e-9);
    teardown(&f);
}

/* A failing shard fails the query at once (the first error ends the
 * gather), and the query's other shard calls are cancelled: a waiting one
 * leaves its queue, one in service runs to its end. Two shards, one thread
 * each, 100 ms per query:
 *   q1, q2 at 0: shard calls q1 in service on both shards, q2 waiting;
 *   50 ms: shard 1's replica crashes: q1 and q2 fail (error) at 50 ms;
 *          q2's call at shard 0 leaves the queue; q1's runs on to 100 ms,
 *          when q1 is finished with (released);
 *   60 ms: q3: shard 0 takes its call (waits behind q1's), shard 1 is
 *          restarting (no replica): unavailable at once, and q3's call at
 *          shard 0 is withdrawn. */
Test(vectordb_shards, failing_shard_fails_the_query_and_cancels_the_rest)
{
    static const char *yaml =
        "vectordb:\n"
        "  shards: 2\n"
        "  threads: 1\n"
        "  index: {type: flat, vectors: 2, dim: 1}\n"
        "  cost: {base: 100ms, speed: 1e12}\n"
        "  jitter: {dist: deterministic, value: 1}\n"
        "  memory: {limit: unbounded}\n"
        "  startup: 1s\n";
    fix_t f;
    setup(&f, yaml, 0, 0);
    sim_schedule_at(f.sim, 0, tagged_event, &f, 1);
    sim_schedule_at(f.sim, 0, tagged_event, &f, 2);
    sim_schedule_at(f.sim, 60 * SIM_MS, tagged_event, &f, 3);
    sim_run(f.sim, 50 * SIM_MS);
    rset_crash(vdb_shard(f.v, 1), 0, "replica_killed", 0, "test");
    sim_run(f.sim, 3 * SIM_SEC);
    cr_assert_eq(f.status[1], CALL_ERROR);
    cr_assert_eq(f.status[2], CALL_ERROR);
    cr_assert_eq(f.status[3], CALL_UNAVAILABLE);
    cr_assert_eq(f.ended[1], 50 * SIM_MS);
    cr_assert_eq(f.ended[2], 50 * SIM_MS);
    cr_assert_eq(f.ended[3], 60 * SIM_MS);
    cr_assert_eq(f.released[1], 50 * SIM_MS, "the query itself is completed with its answer");
    const station_t *s0 = &vdb_shard(f.v, 0)->st[0];
    cr_assert_eq(s0->n.cancelled, 2, "q2's and q3's calls left shard 0's queue");
    cr_assert_eq(s0->n.completions, 1, "q1's search at shard 0 ran to its end");
    cr_assert_eq(f.v->pool.live, 0);
    cr_assert_eq(vdb_ops.replicas_up(f.v), 1, "shard 1 ready again after its 1 s start-up");
    teardown(&f);
}

static void cancel_event(sim_t *sim, void *obj, uint64_t arg)
{
    (void)obj;
    call_t *c = (call_t *)(uintptr_t)arg;
    call_abandon(sim, c);
    vdb_ops.cancel(cur->v, c);
}

static call_t *tagged_now(fix_t *f, uint64_t tag)
{
    call_t *c = call_new(&f->pool, f, on_done, tag, sim_now(f->sim));
    c->top_k = 5;
    c->release = on_release;
    vdb_ops.submit(f->v, c);
    return c;
}

/* Cancellation (context propagation) of a scattered query: two shards, one
 * thread each, 100 ms per query; q1 and q2 at 0. At 10 ms q2 is cancelled:
 * both its shard calls wait, both leave their queues, q2 is finished with
 * at 10 ms. At 20 ms q1 is cancelled: both its searches are in progress and
 * run to their end; q1 is finished with at 100 ms. Its owner heard nothing
 * after it let go of the calls. */
Test(vectordb_shards, cancelled_query_withdraws_waiting_shard_calls)
{
    static const char *yaml =
        "vectordb:\n"
        "  shards: 2\n"
        "  threads: 1\n"
        "  index: {type: flat, vectors: 2, dim: 1}\n"
        "  cost: {base: 100ms, speed: 1e12}\n"
        "  jitter: {dist: deterministic, value: 1}\n"
        "  memory: {limit: unbounded}\n";
    fix_t f;
    setup(&f, yaml, 0, 0);
    call_t *q1 = tagged_now(&f, 1), *q2 = tagged_now(&f, 2);
    sim_schedule_at(f.sim, 10 * SIM_MS, cancel_event, &f, (uint64_t)(uintptr_t)q2);
    sim_schedule_at(f.sim, 20 * SIM_MS, cancel_event, &f, (uint64_t)(uintptr_t)q1);
    sim_run(f.sim, SIM_SEC);
    cr_assert_eq(f.released[2], 10 * SIM_MS);
    cr_assert_eq(f.released[1], 100 * SIM_MS);
    cr_assert_eq(f.ended[1] + f.ended[2], 0, "no answer after the owner let go");
    for (int s = 0; s < 2; s++) {
        cr_assert_eq(vdb_shard(f.v, s)->st[0].n.cancelled, 1);
        cr_assert_eq(vdb_shard(f.v, s)->st[0].n.completions, 1);
    }
    cr_assert_eq(f.v->pool.live, 0);
    teardown(&f);
}

/* Each shard gets its own replica set: its own series and a key error. */
Test(vectordb_shards, config_errors_name_position)
{
    static const char *yaml = "vectordb:\n  shards: 5\n  index: {type: flat, vectors: 4, dim: 8}\n";
    sim_diag_t d;
    sim_diag_init(&d);
    sim_cfg_t *cfg = sim_cfg_load_string("v.yaml", yaml, strlen(yaml), &d);
    vdb_spec_t spec;
    cr_assert_eq(vdb_spec_parse(&d, sim_cfg_get(sim_cfg_root(cfg), "vectordb"), &spec), SIM_ECONFIG);
    cr_assert(strstr(sim_diag_text(&d), "v.yaml:2:11: error: 'vectordb.shards' (5) cannot exceed the index's vectors (4)"),
              "%s", sim_diag_text(&d));
    vdb_spec_fini(&spec);
    sim_cfg_destroy(cfg);
    sim_diag_fini(&d);
}

/* ---- threads and cores ------------------------------------------------------------- */

/* Threads beyond the cores share them: 4 threads on 2 cores, 100 ms
 * queries (work on a core of their own).
 *   q1, q2 at 0: 2 busy threads, 2 cores: full speed;
 *   q3 at 50 ms: 3 share 2 cores, each at 2/3: q1 and q2 have 50 ms of
 *      work left, done 75 ms later, at 125 ms; q3 did 50 ms of its work
 *      by then and, alone, ends at 175 ms;
 *   q4 .. q7 at 300 ms: 4 at 1/2 speed: all end at 500 ms. */
Test(vectordb_cores, threads_beyond_cores_share_them_by_hand)
{
    static const char *yaml =
        "vectordb:\n"
        "  threads: 4\n"
        "  cores: 2\n"
        "  index: {type: flat, vectors: 1, dim: 1}\n"
        "  cost: {base: 100ms, speed: 1e12}\n"
        "  jitter: {dist: deterministic, value: 1}\n"
        "  memory: {limit: unbounded}\n";
    fix_t f;
    setup(&f, yaml, 0, 0);
    cr_assert_eq(vdb_parallelism(&f.spec), 2);
    sim_schedule_at(f.sim, 0, tagged_event, &f, 1);
    sim_schedule_at(f.sim, 0, tagged_event, &f, 2);
    sim_schedule_at(f.sim, 50 * SIM_MS, tagged_event, &f, 3);
    for (uint64_t k = 4; k <= 7; k++) sim_schedule_at(f.sim, 300 * SIM_MS, tagged_event, &f, k);
    sim_run(f.sim, SIM_SEC);
    cr_assert_eq(f.done[CALL_OK], 7);
    static const sim_time_t want[8] = {0, 125 * SIM_MS, 125 * SIM_MS, 175 * SIM_MS, 500 * SIM_MS, 500 * SIM_MS,
                                       500 * SIM_MS, 500 * SIM_MS};
    for (int k = 1; k <= 7; k++)
        cr_expect_eq(f.ended[k], want[k], "q%d ends at %.9f s, by hand %.9f s", k, sim_time_to_s(f.ended[k]),
                     sim_time_to_s(want[k]));
    teardown(&f);
}

/* Without `cores` (cores = threads) every thread runs at full speed: the
 * same four queries at 300 ms end at 400 ms. */
Test(vectordb_cores, cores_default_to_threads)
{
    static const char *yaml =
        "vectordb:\n"
        "  threads: 4\n"
        "  index: {type: flat, vectors: 1, dim: 1}\n"
        "  cost: {base: 100ms, speed: 1e12}\n"
        "  jitter: {dist: deterministic, value: 1}\n"
        "  memory: {limit: unbounded}\n";
    fix_t f;
    setup(&f, yaml, 0, 0);
    cr_assert_eq(f.spec.cores, 4);
    cr_assert_eq(f.spec.rs.stations[0].cores, 0, "no sharing");
    for (uint64_t k = 4; k <= 7; k++) sim_schedule_at(f.sim, 300 * SIM_MS, tagged_event, &f, k);
    sim_run(f.sim, SIM_SEC);
    for (int k = 4; k <= 7; k++) cr_expect_eq(f.ended[k], 400 * SIM_MS);
    teardown(&f);
}

/* Processor sharing of c cores by many threads with exponential work: the
 * number of queries in service is the birth-death chain of M/M/c (total
 * speed min(n, c) mu), so the mean response is M/M/c's, Wq (Erlang C) +
 * 1/mu, whatever the order of service. 64 threads on 4 cores, 100 ms,
 * Poisson 32/s: rho 0.8, W = 0.1 + 0.0746 s. */
Test(vectordb_cores, shared_cores_mean_response_is_mmc, .timeout = 300)
{
    static const char *yaml =
        "vectordb:\n"
        "  threads: 64\n"
        "  cores: 4\n"
        "  index: {type: flat, vectors: 1, dim: 1}\n"
        "  cost: {base: 100ms, speed: 1e12}\n"
        "  jitter: {dist: exponential, mean: 1}\n"
        "  memory: {limit: unbounded}\n";
    double w[16];
    for (int r = 0; r < 16; r++) {
        fix_t f;
        setup(&f, yaml, (uint32_t)r, 32);
        sim_run(f.sim, 2 * SIM_HOUR);
        cr_assert_eq(sim_tmean_s(&f.v->rs.st[0].wait_s), 0, "no query waits for a thread");
        w[r] = sim_tmean_s(&f.latency_s);
        teardown(&f);
    }
    double want = theory_mmc_wq(32, 10, 4) + 0.1;
    sim_ci_t ci = sim_ci_student(w, 16, 0.99);
    cr_log_info("64 threads on 4 cores: W %.5f +- %.5f s, M/M/4 %.5f s", ci.mean, ci.half_width, want);
    cr_assert(sim_ci_lo(ci) <= want && want <= sim_ci_hi(ci), "M/M/4 W %.5f outside [%.5f, %.5f]", want,
              sim_ci_lo(ci), sim_ci_hi(ci));
    cr_assert_lt(ci.half_width / want, 0.02);
    /* and not the answer of 64 cores (no sharing: W = 0.1 s) */
    cr_assert_gt(sim_ci_lo(ci), 0.15);
}

/* ---- start-up: the index read from disk ---------------------------------------------- */

/* First time of an event of `kind` at or after `from` (-1: none). */
static sim_time_t event_at(sim_t *sim, const char *kind, const char *source, sim_time_t from)
{
    const sim_table_t *ev = sim_log_table(sim);
    int k = sim_table_find_col(ev, "kind"), src = sim_table_find_col(ev, "source"), t = sim_table_find_col(ev, "time_ns");
    for (size_t i = 0; i < ev->nrows; i++)
        if (!strcmp(sim_table_get_str(ev, i, k), kind) && !strcmp(sim_table_get_str(ev, i, src), source) &&
            sim_table_get_i64(ev, i, t) >= from)
            return sim_table_get_i64(ev, i, t);
    return -1;
}

/* An OOM kill costs the index read: a flat index of 1,000,000 x 128
 * floats is 512,000,000 bytes; at 256 MB/s (256e6 bytes/s) it takes 2 s
 * to read after the 1 s process start-up. One thread serving 2 ms queries
 * arriving every 1 ms with room for 100 queries: the OOM kill comes at
 * 200 ms (test_vectordb.c); a first crash restarts at once, so the replica
 * is ready again 1 s + 512e6 / 256e6 s = 3 s later, exactly. In 2 shards a
 * replica holds half the index: ready 1 s + 1 s after its kill. */
Test(vectordb_startup, restart_reads_the_index_at_disk_throughput)
{
    static const int shards[] = {1, 2};
    for (int i = 0; i < 2; i++) {
        int S = shards[i];
        int64_t base = 256LL << 20, index = 512000000LL / S, pq = 1 << 20;
        char yaml[640];
        snprintf(yaml, sizeof yaml,
                 "vectordb:\n"
                 "  shards: %d\n"
                 "  threads: 1\n"
                 "  index: {type: flat, vectors: 1000000, dim: 128}\n"
                 "  cost: {base: 2ms, speed: 1e12}\n"
                 "  jitter: {dist: deterministic, value: 1}\n"
                 "  memory: {limit: %lldB, base: 256MiB, per_query: 1MiB}\n"
                 "  startup: 1s\n"
                 "  disk_throughput: 256MB/s\n"
                 "  cold_start: {factor: 1}\n",
                 S, (long long)(base + index + 100 * pq));
        fix_t f;
        setup(&f, yaml, 0, 0);
        cr_assert_eq(vdb_index_bytes(&f.spec), index);
        cr_assert_eq(vdb_index_load(&f.spec), 2 * SIM_SEC / S);
        cr_assert_eq(f.spec.rs.startup, SIM_SEC + 2 * SIM_SEC / S);
        wl_spec_constant(&f.wl, WL_DETERMINISTIC, 1000);
        cr_assert_eq(wl_gen_start(&f.gen, f.sim, &f.wl, "workload/arrivals", arrive, &f), 0);
        sim_run(f.sim, 5 * SIM_SEC);
        const char *src = S == 1 ? "vectordb/0" : "vectordb_shard0/0";
        sim_time_t kill = event_at(f.sim, "oom_kill", src, 0), ready = event_at(f.sim, "replica_ready", src, 0);
        cr_assert(kill > 0 && ready > 0, "S=%d: kill at %lld, ready at %lld", S, (long long)kill, (long long)ready);
        cr_assert_lt(llabs(kill - 200 * SIM_MS), SIM_US, "S=%d: OOM kill at %.6f s", S, sim_time_to_s(kill));
        cr_assert_eq(ready - kill, SIM_SEC + 2 * SIM_SEC / S, "S=%d: ready %.9f s after the kill", S,
                     sim_time_to_s(ready - kill));
        teardown(&f);
    }
}
