/* The vector DB's batched search (`batch`) against answers computed by
 * hand: Triton-style batch formation (max_batch_size, max_queue_delay) on
 * one thread; batches of several cores sharing a replica's cores; the
 * memory of queries held in a running batch; the limit case
 * max_batch_size 1, which is the unbatched model query for query; and the
 * cost of one FAISS call of nq queries from the coefficients. */
#include <criterion/criterion.h>
#include <math.h>
#include <string.h>

#include "models/components/vectordb/vectordb.h"
#include "vdbfx.h"
#include "models/queueing/workload.h"

#define NTAG 4096

typedef struct {
    sim_t *sim;
    vdb_t *v;
    call_pool_t pool;
    wl_gen_t gen;
    wl_spec_t wl;
    vdb_spec_t spec;
    uint64_t done[CALL_NSTATUS];
    uint64_t next_tag;            /* Poisson arrivals: tagged 1, 2, ... */
    sim_time_t ended[NTAG];       /* when the caller was told about the call tagged k */
} fix_t;

static void on_done(sim_t *sim, call_t *c, call_status_t st)
{
    fix_t *f = c->owner;
    f->done[st]++;
    if (c->tag > 0 && c->tag < NTAG) f->ended[c->tag] = sim_now(sim);
}

static void arrive(sim_t *sim, void *ctx)
{
    fix_t *f = ctx;
    call_t *c = call_new(&f->pool, f, on_done, ++f->next_tag, sim_now(sim));
    c->top_k = 5;
    vdb_ops.submit(f->v, c);
}

static void tagged_event(sim_t *sim, void *obj, uint64_t arg)
{
    fix_t *f = obj;
    call_t *c = call_new(&f->pool, f, on_done, arg, sim_now(sim));
    c->top_k = 5;
    vdb_ops.submit(f->v, c);
}

static void setup(fix_t *f, const char *yaml, uint32_t rep, double rate)
{
    memset(f, 0, sizeof *f);
    vdbfx_parse(yaml, &f->spec);
    vdbfx_create(&f->sim, &f->pool, &f->v, &f->spec, 7, rep);
    if (rate > 0) {
        wl_spec_constant(&f->wl, WL_POISSON, rate);
        cr_assert_eq(wl_gen_start(&f->gen, f->sim, &f->wl, "workload/arrivals", arrive, f), 0);
    }
}

static void teardown(fix_t *f)
{
    vdbfx_destroy(f->sim, &f->pool, f->v, &f->spec, &f->wl);
}

static int64_t mem_at_30ms;
static void probe_memory(sim_t *sim, void *obj, uint64_t arg)
{
    (void)sim;
    (void)arg;
    mem_at_30ms = vdb_memory(((fix_t *)obj)->v, 0);
}

/* One thread on one core, 10 ms a query (cost.base; the search at speed
 * 1e12 is below a nanosecond), batches of at most 3, a window of 5 ms:
 *   q1 at 0: a thread is free but the batch is not full: window until 5 ms;
 *   q2 at 2 ms joins it; at 5 ms {q1, q2} starts: 20 ms, ends at 25 ms;
 *   q3 .. q6 at 10, 11, 12, 13 ms wait for the thread; at 25 ms q3 has
 *      waited out its window: {q3, q4, q5} (3, the maximum), 30 ms, ends at 55 ms;
 *   q6 has waited too: {q6} at 55 ms, ends at 65 ms;
 *   q7, q8, q9 at 100, 101, 102 ms: the third fills the batch: it starts
 *      at 102 ms without waiting for q7's window, ends at 132 ms.
 * At 30 ms the replica holds q3 .. q5 (in the batch) and q6 (waiting): 4
 * queries of per_query memory. */
Test(vectordb_batch, batches_form_and_end_by_hand)
{
    static const char *yaml =
        "vectordb:\n"
        "  threads: 1\n"
        "  index: {type: flat, vectors: 1, dim: 1}\n"
        "  cost: {base: 10ms, speed: 1e12}\n"
        "  jitter: {dist: deterministic, value: 1}\n"
        "  memory: {limit: unbounded, base: 1MiB, per_query: 1KiB}\n"
        "  batch: {max_batch_size: 3, max_queue_delay: 5ms}\n";
    fix_t f;
    setup(&f, yaml, 0, 0);
    cr_assert(f.spec.batch);
    cr_assert_eq(f.spec.batch_max, 3);
    cr_assert_eq(f.spec.batch_wait, 5 * SIM_MS);
    static const sim_time_t at[10] = {0, 0, 2, 10, 11, 12, 13, 100, 101, 102};
    for (uint64_t k = 1; k <= 9; k++) sim_schedule_at(f.sim, at[k] * SIM_MS, tagged_event, &f, k);
    sim_schedule_at(f.sim, 30 * SIM_MS, probe_memory, &f, 0);
    sim_run(f.sim, SIM_SEC);
    cr_assert_eq(f.done[CALL_OK], 9);
    static const sim_time_t want[10] = {0, 25, 25, 55, 55, 55, 65, 132, 132, 132};
    for (int k = 1; k <= 9; k++)
        cr_expect_eq(f.ended[k], want[k] * SIM_MS, "q%d ends at %.6f s, by hand %.3f s", k, sim_time_to_s(f.ended[k]),
                     (double)want[k] * 1e-3);
    int64_t idle = (1 << 20) + vdb_index_bytes(&f.spec);
    cr_expect_eq(mem_at_30ms, idle + 4 * 1024, "memory at 30 ms: %lld bytes, by hand %lld", (long long)mem_at_30ms,
                 (long long)(idle + 4 * 1024));
    cr_expect_eq(f.v->rs.st[0].n.completions, 9);
    teardown(&f);
}

/* Batches use several cores (HNSW: OpenMP over the queries of a call) and
 * share the replica's: 2 threads, 2 cores, batches of up to 4 with no
 * window, 10 ms a query.
 *   q1, q2 at 0: a batch of one each (no window), on one core each: end at 10 ms;
 *   q3 .. q10 at 1 ms wait; at 10 ms each thread takes 4: two batches of
 *      40 ms of work on 2 cores each (20 ms alone), 4 cores wanted of 2:
 *      each at half speed, both end at 50 ms (80 ms of work on 2 cores).
 * With 4 cores the same batches end at 30 ms. */
Test(vectordb_batch, batches_share_the_cores_by_hand)
{
    static const char *const yamls[2] = {
        "vectordb:\n  threads: 2\n  cores: 2\n  index: {type: hnsw, vectors: 1000, dim: 8}\n"
        "  cost: {base: 10ms, speed: 1e12}\n  jitter: {dist: deterministic, value: 1}\n  memory: {limit: unbounded}\n"
        "  batch: {max_batch_size: 4, max_queue_delay: 0s}\n",
        "vectordb:\n  threads: 2\n  cores: 4\n  index: {type: hnsw, vectors: 1000, dim: 8}\n"
        "  cost: {base: 10ms, speed: 1e12}\n  jitter: {dist: deterministic, value: 1}\n  memory: {limit: unbounded}\n"
        "  batch: {max_batch_size: 4, max_queue_delay: 0s}\n",
    };
    for (int cores = 2; cores <= 4; cores += 2) {
        static fix_t f;
        setup(&f, yamls[cores / 2 - 1], 0, 0);
        cr_assert_eq(vdb_batch_width(&f.spec, 4), cores < 4 ? cores : 4);
        cr_assert_eq(vdb_batch_width(&f.spec, 1), 1);
        sim_schedule_at(f.sim, 0, tagged_event, &f, 1);
        sim_schedule_at(f.sim, 0, tagged_event, &f, 2);
        for (uint64_t k = 3; k <= 10; k++) sim_schedule_at(f.sim, SIM_MS, tagged_event, &f, k);
        sim_run(f.sim, SIM_SEC);
        cr_assert_eq(f.done[CALL_OK], 10);
        sim_time_t last = cores == 2 ? 50 * SIM_MS : 30 * SIM_MS;
        for (int k = 1; k <= 10; k++)
            cr_expect_eq(f.ended[k], k <= 2 ? 10 * SIM_MS : last, "cores %d: q%d ends at %.6f s", cores, k,
                         sim_time_to_s(f.ended[k]));
        teardown(&f);
    }
}

/* The limit case: batches of one are the unbatched model, query for query
 * (the same draws, the same times), with threads beyond the cores and
 * without: an hour of Poisson arrivals at 90% load, lognormal jitter. */
Test(vectordb_batch, batches_of_one_are_the_unbatched_model)
{
    static const char *const yamls[2][2] = {
        {"vectordb:\n  threads: 4\n  cores: 2\n  index: {type: hnsw, vectors: 100000, dim: 128, ef_search: 32}\n"
         "  cost: {base: 2ms}\n  memory: {limit: unbounded}\n",
         "vectordb:\n  threads: 4\n  cores: 2\n  index: {type: hnsw, vectors: 100000, dim: 128, ef_search: 32}\n"
         "  cost: {base: 2ms}\n  memory: {limit: unbounded}\n  batch: {max_batch_size: 1, max_queue_delay: 5ms}\n"},
        {"vectordb:\n  threads: 4\n  cores: 4\n  index: {type: hnsw, vectors: 100000, dim: 128, ef_search: 32}\n"
         "  cost: {base: 2ms}\n  memory: {limit: unbounded}\n",
         "vectordb:\n  threads: 4\n  cores: 4\n  index: {type: hnsw, vectors: 100000, dim: 128, ef_search: 32}\n"
         "  cost: {base: 2ms}\n  memory: {limit: unbounded}\n  batch: {max_batch_size: 1, max_queue_delay: 5ms}\n"},
    };
    for (int cores = 2; cores <= 4; cores += 2) {
        const char *a = yamls[cores / 2 - 1][0], *b = yamls[cores / 2 - 1][1];
        static fix_t f, g;
        setup(&f, a, 3, 0);
        double rate = 0.9 * (double)cores / vdb_query_time(&f.spec, 5);
        teardown(&f);
        setup(&f, a, 3, rate);
        setup(&g, b, 3, rate);
        cr_assert(!f.spec.batch && g.spec.batch);
        sim_run(f.sim, SIM_HOUR);
        sim_run(g.sim, SIM_HOUR);
        cr_assert_gt(f.next_tag, 1000);
        cr_assert_eq(f.next_tag, g.next_tag);
        cr_assert_eq(f.done[CALL_OK], g.done[CALL_OK]);
        cr_assert_gt(f.v->rs.st[0].n.completions, 0);
        cr_assert_gt(sim_tmean_s(&f.v->rs.st[0].wait_s), 0, "queries wait: the queue matters");
        int differ = 0;
        for (int k = 1; k < NTAG; k++) differ += f.ended[k] != g.ended[k];
        cr_expect_eq(differ, 0, "cores %d: %d of the first %d queries end at other times", cores, differ, NTAG - 1);
        teardown(&f);
        teardown(&g);
    }
}

/* One FAISS call of nq queries, from the coefficients as FAISS does it:
 * HNSW: one call, batch_query per further query, each query's own walk;
 * Flat: the per-query scan below distance_compute_blas_threshold (20),
 * sgemm from 20 on plus the database's norms once; the ratio to nq lone
 * queries with the server's per-query work; 1 for a batch of one. */
Test(vectordb_batch, batch_cost_by_hand)
{
    static const char *yaml =
        "vectordb:\n"
        "  index: {type: flat, vectors: 10000, dim: 100}\n"
        "  cost: {base: 1ms, call_ns: 20000, scan_dim_ns: 1, scan_vector_ns: 10, batch_query_ns: 3000,\n"
        "         blas_dim_ns: 0.25, blas_vector_ns: 5}\n"
        "  batch: {max_batch_size: 64}\n";
    vdb_spec_t s;
    sim_diag_t d;
    sim_diag_init(&d);
    cr_assert_eq(vdbfx_parse_status(yaml, &s, &d), 0, "%s", sim_diag_text(&d));
    double solo = 20e-6 + 10000 * (100 * 1e-9 + 10e-9);   /* 1.12 ms */
    cr_assert_float_eq(vdb_batch_search_time(&s, 10, 0, 1), solo, 1e-15);
    cr_assert_float_eq(vdb_batch_search_time(&s, 10, 0, 19), 20e-6 + 18 * 3e-6 + 19 * (solo - 20e-6), 1e-15);
    double b20 = 20e-6 + 19 * 3e-6 + 10000 * 100 * 1e-9 + 20 * 10000 * (100 * 0.25e-9 + 5e-9);
    cr_assert_float_eq(vdb_batch_search_time(&s, 10, 0, 20), b20, 1e-15);
    cr_assert_float_eq(vdb_batch_ratio(&s, 10, 0, 1), 1, 0);
    cr_assert_float_eq(vdb_batch_ratio(&s, 10, 0, 20), (20 * 1e-3 + b20) / (20 * (1e-3 + solo)), 1e-12);
    cr_assert_eq(vdb_batch_width(&s, 20), 1, "a BLAS batch runs on one core");
    cr_assert_eq(vdb_batch_width(&s, 4), 4);
    /* 8 threads, 8 cores (the defaults), full batches of 64 on one core each:
     * 8 cores x 64 queries / (64 ms + b64) */
    double b64 = vdb_batch_search_time(&s, 10, 0, 64);
    cr_assert_float_eq(vdb_replica_capacity(&s, 10), 8 * 64 / (64e-3 + b64), 1e-9);
    vdb_spec_fini(&s);

    static const char *hnsw =
        "vectordb:\n"
        "  index: {type: hnsw, vectors: 100000, dim: 64, M: 16, ef_search: 32}\n"
        "  cost: {batch_query_ns: 3000}\n"
        "  threads: 2\n"
        "  cores: 4\n"
        "  batch: {max_batch_size: 16}\n";
    cr_assert_eq(vdbfx_parse_status(hnsw, &s, &d), 0, "%s", sim_diag_text(&d));
    double one = vdb_search_time(&s, 10), call = s.cost.call;
    cr_assert_float_eq(vdb_batch_search_time(&s, 10, 32, 16), call + 15 * 3e-6 + 16 * (one - call), 1e-15);
    /* 2 threads x batches of 16 on min(16, 4) cores: 8 wanted, 4 there */
    double q = vdb_query_time(&s, 10);
    cr_assert_float_eq(vdb_replica_capacity(&s, 10), 4 / (q * vdb_batch_ratio(&s, 10, 32, 16)), 1e-9);
    vdb_spec_fini(&s);
    sim_diag_fini(&d);
}

/* Bad input: the batch's keys named and bounded. */
Test(vectordb_batch, bad_batch_keys)
{
    static const char *bad[] = {
        "vectordb: {batch: {max_batch_size: 0}}\n",
        "vectordb: {batch: {max_queue_delay: -1ms}}\n",
        "vectordb: {batch: {max_batch_size: 8, preferred_batch_size: 4}}\n",
        "vectordb: {batch: 32}\n",
    };
    static const char *want[] = {"max_batch_size", "max_queue_delay", "preferred_batch_size", "batch"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        vdb_spec_t s;
        sim_diag_t d;
        sim_diag_init(&d);
        cr_expect_neq(vdbfx_parse_status(bad[i], &s, &d), 0, "accepted: %s", bad[i]);
        cr_expect(strstr(sim_diag_text(&d), want[i]) != NULL, "%s: %s", bad[i], sim_diag_text(&d));
        cr_expect(strstr(sim_diag_text(&d), "v.yaml:1:") != NULL, "no file:line:col: %s", sim_diag_text(&d));
        vdb_spec_fini(&s);
        sim_diag_fini(&d);
    }
}
