/* The vector DB's ingest and start-up memory against traces computed by
 * hand (docs/models/vectordb.md#ingest): a growing segment's brute-force
 * scan in each query's time, the seal at a given ingest rate, an index
 * build sharing the replica's cores with a search (processor sharing), the
 * memory of a growing segment reaching the OOM limit, the memory of a
 * replica reading its index and its OOM kill during the read, then the
 * CrashLoopBackOff; and the build cost against FAISS measured
 * (bench/vectordb/build-cost-*.csv). */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "csvfx.h"
#include "models/components/vectordb/vectordb.h"
#include "vdbfx.h"
#include "sim/table.h"

typedef struct {
    sim_t *sim;
    vdb_t *v;
    call_pool_t pool;
    vdb_spec_t spec;
    uint64_t done[CALL_NSTATUS];
    sim_time_t sent[16], ended[16];
    int64_t mem_at;               /* vdb_memory(replica 0) at the probe event */
} fix_t;

static void on_done(sim_t *sim, call_t *c, call_status_t st)
{
    fix_t *f = c->owner;
    f->done[st]++;
    if (c->tag < 16) f->ended[c->tag] = sim_now(sim);
}

/* a query tagged `arg` now (top_k 5) */
static void query_event(sim_t *sim, void *obj, uint64_t arg)
{
    fix_t *f = obj;
    call_t *c = call_new(&f->pool, f, on_done, arg, sim_now(sim));
    c->top_k = 5;
    if (arg < 16) f->sent[arg] = sim_now(sim);
    vdb_ops.submit(f->v, c);
}

static void probe_memory(sim_t *sim, void *obj, uint64_t arg)
{
    (void)sim;
    (void)arg;
    fix_t *f = obj;
    f->mem_at = vdb_memory(f->v, 0);
}

static void setup(fix_t *f, const char *yaml)
{
    memset(f, 0, sizeof *f);
    vdbfx_parse(yaml, &f->spec);
    vdbfx_create(&f->sim, &f->pool, &f->v, &f->spec, 3, 0);
}

static void teardown(fix_t *f)
{
    vdbfx_destroy(f->sim, &f->pool, f->v, &f->spec, NULL);
}

/* The time of the n-th event `kind` from `source` (n from 0), or -1. */
static sim_time_t event_at(sim_t *sim, const char *kind, const char *source, int n)
{
    const sim_table_t *ev = sim_log_table(sim);
    int k = sim_table_find_col(ev, "kind"), src = sim_table_find_col(ev, "source"), t = sim_table_find_col(ev, "time_ns");
    for (size_t i = 0; i < ev->nrows; i++)
        if (!strcmp(sim_table_get_str(ev, i, k), kind) && !strcmp(sim_table_get_str(ev, i, src), source) && n-- == 0)
            return sim_table_get_i64(ev, i, t);
    return -1;
}

/* Round numbers: d 100 at 10 ns a dimension scanned is 1 us a vector; no
 * per-call work. A flat index of 1000 vectors: a search is 1 ms. A row of
 * a growing segment is 4 x 100 + 16 = 416 bytes; max_size 104000B x 1 seals
 * it at 250 rows. The ingest: 100 vectors/s in batches of 10, one every
 * 100 ms from 0 (each insert: 10 vectors x 1 us, done long before the
 * queries). A query at 50 ms finds 10 growing vectors: 1 ms + 10 us; at
 * 2.35 s, 240: 1.24 ms. The 25th batch (at 2.4 s) brings it to 250: sealed
 * at 2.4 s exactly; a flat segment has nothing to build, so its 250
 * vectors join the index at once: at 2.45 s the query scans 1250 indexed
 * vectors and no growing one (1.25 ms), at 2.55 s 1250 + 10 (1.26 ms).
 * Both replicas (round robin) see the same segment. */
Test(vectordb_ingest, growing_segment_scanned_by_every_query_and_sealed_at_its_size)
{
    static const char *yaml =
        "vectordb:\n"
        "  replicas: 2\n"
        "  threads: 1\n"
        "  index: {type: flat, vectors: 1000, dim: 100}\n"
        "  cost: {base: 0s, call_ns: 0, scan_dim_ns: 10, scan_vector_ns: 0}\n"
        "  jitter: {dist: deterministic, value: 1}\n"
        "  memory: {limit: unbounded}\n"
        "  ingest: {rate: 100/s, batch: 10, segment: {max_size: 104000B, seal_proportion: 1}}\n";
    fix_t f;
    setup(&f, yaml);
    cr_assert_eq(vdb_row_bytes(&f.spec), 416);
    cr_assert_eq(vdb_seal_rows(&f.spec), 250);
    static const sim_time_t at[] = {50 * SIM_MS, 2350 * SIM_MS, 2450 * SIM_MS, 2550 * SIM_MS};
    static const sim_time_t want[] = {1010 * SIM_US, 1240 * SIM_US, 1250 * SIM_US, 1260 * SIM_US};
    for (int i = 0; i < 4; i++) sim_schedule_at(f.sim, at[i], query_event, &f, (uint64_t)i);
    sim_run(f.sim, 2950 * SIM_MS);
    cr_assert_eq(f.done[CALL_OK], 4);
    for (int i = 0; i < 4; i++)
        cr_expect_eq(f.ended[i] - f.sent[i], want[i], "query at %.3f s took %.6f ms, by hand %.6f ms",
                     sim_time_to_s(at[i]), sim_time_to_s(f.ended[i] - f.sent[i]) * 1e3, sim_time_to_s(want[i]) * 1e3);
    cr_expect_eq(event_at(f.sim, "vectordb_segment_sealed", "vectordb", 0), 2400 * SIM_MS, "sealed at %.9f s",
                 sim_time_to_s(event_at(f.sim, "vectordb_segment_sealed", "vectordb", 0)));
    cr_expect_eq(event_at(f.sim, "vectordb_segment_sealed", "vectordb", 1), -1, "one seal in 3 s");
    for (int r = 0; r < 2; r++) {
        const vdb_rep_t *p = vdb_replica_state(f.v, 0, r);
        cr_expect_eq(p->indexed, 1250, "replica %d: %lld vectors indexed", r, (long long)p->indexed);
        cr_expect_eq(p->sealed, 0);
    }
    cr_expect_eq(f.v->growing[0], 50, "batches at 2.5 .. 2.9 s in the new growing segment");
    teardown(&f);
}

/* An index build shares the replica's cores with the searches. IVF-Flat,
 * nlist = nprobe = 10 over 1000 vectors of d 100 (1 us a vector): a search
 * scans the 10 centroids and every list, 10 us + 1000 us = 1.01 ms; a
 * build assigns each vector to a list, 10 us a vector. One batch of 1000
 * at 0, sealed at once (seal at 1000 rows): an insert of 1 ms (1000 x
 * 1 us) and a build of 10 ms of CPU, and the query q1 at 0 scans its
 * index and the 1000 sealed vectors still unindexed: 2.01 ms.
 * One core, build on one thread: three threads share it (1/3 each) until
 * the insert ends at 3 ms; then two (1/2): q1's last 1.01 ms end at
 * 5.02 ms; the build alone does 0.98 ms up to 6 ms, when q2 (2.01 ms
 * again) arrives: at 1/2 each q2 ends at 10.02 ms, the build (7.01 ms
 * left at 6 ms) has 5 ms left then: it ends at 15.02 ms. q3 at 20 ms
 * searches the index of 2000 vectors and nothing by brute force:
 * 10 us + 2000 us = 2.01 ms.
 * Two cores, the build on two threads (5 ms each): four runnable threads
 * at 1/2 each: the insert ends at 2 ms, q1 has done 1 ms; then three at
 * 2/3: q1's 1.01 ms left end at 3.515 ms; the build's threads have done
 * 1 + 1.01 ms, 2.99 ms left at full speed: it ends at 6.505 ms. */
Test(vectordb_ingest, index_build_shares_the_cores_with_searches_by_hand)
{
    for (int two = 0; two < 2; two++) {
        char yaml[768];
        snprintf(yaml, sizeof yaml,
                 "vectordb:\n"
                 "  threads: 1\n"
                 "  cores: %d\n"
                 "  index: {type: ivf_flat, vectors: 1000, dim: 100, nlist: 10, nprobe: 10}\n"
                 "  cost: {base: 0s, call_ns: 0, scan_dim_ns: 10, scan_vector_ns: 0}\n"
                 "  jitter: {dist: deterministic, value: 1}\n"
                 "  memory: {limit: unbounded}\n"
                 "  ingest: {rate: 1000/s, batch: 1000, duration: 1s, build_threads: %d,\n"
                 "           segment: {max_size: 416000B, seal_proportion: 1}}\n",
                 two ? 2 : 1, two ? 2 : 1);
        fix_t f;
        setup(&f, yaml);
        cr_assert_float_eq(vdb_search_time_n(&f.spec, 5, 10, 1000), 1.01e-3, 1e-12);
        cr_assert_float_eq(vdb_build_time(&f.spec, 1000), 10e-3, 1e-12);
        cr_assert_float_eq(vdb_insert_time(&f.spec, 1000), 1e-3, 1e-12);
        sim_schedule_at(f.sim, 0, query_event, &f, 1);
        if (!two) {
            sim_schedule_at(f.sim, 6 * SIM_MS, query_event, &f, 2);
            sim_schedule_at(f.sim, 20 * SIM_MS, query_event, &f, 3);
            sim_schedule_at(f.sim, 15020 * SIM_US - 1, probe_memory, &f, 0);
        }
        sim_run(f.sim, 30 * SIM_MS);
        const vdb_rep_t *p = vdb_replica_state(f.v, 0, 0);
        if (!two) {
            cr_expect_eq(f.ended[1], 5020 * SIM_US, "q1 ends at %.6f ms", sim_time_to_s(f.ended[1]) * 1e3);
            cr_expect_eq(f.ended[2], 10020 * SIM_US, "q2 ends at %.6f ms", sim_time_to_s(f.ended[2]) * 1e3);
            cr_expect_eq(f.ended[3], 22010 * SIM_US, "q3 ends at %.6f ms", sim_time_to_s(f.ended[3]) * 1e3);
            /* just before the build ends: base + the index of 1000 + 1000 raw rows; after: the index of 2000 */
            int64_t base = f.spec.mem_base;
            cr_expect_eq(f.mem_at, base + (4 * 10 * 100 + 1000 * 408) + 1000 * 416, "memory %lld",
                         (long long)(f.mem_at - base));
            cr_expect_eq(vdb_memory(f.v, 0), base + 4 * 10 * 100 + 2000 * 408);
        } else {
            cr_expect_eq(f.ended[1], 3515 * SIM_US, "q1 ends at %.6f ms", sim_time_to_s(f.ended[1]) * 1e3);
        }
        cr_expect_eq(p->indexed, 2000);
        cr_expect_eq(p->builds, 0);
        cr_expect_eq(f.v->builds_done, 1);
        cr_expect_eq(f.v->rs.st[0].nbackground, 0, "no background work left");
        teardown(&f);
    }
}

/* The build's end time itself (two cores, two build threads): with no
 * query after it, memory tells when it ended: the index of 2000 replaces
 * the 1000 raw rows at 6.505 ms. */
Test(vectordb_ingest, build_on_two_threads_ends_by_hand)
{
    static const char *yaml =
        "vectordb:\n"
        "  threads: 1\n"
        "  cores: 2\n"
        "  index: {type: ivf_flat, vectors: 1000, dim: 100, nlist: 10, nprobe: 10}\n"
        "  cost: {base: 0s, call_ns: 0, scan_dim_ns: 10, scan_vector_ns: 0}\n"
        "  jitter: {dist: deterministic, value: 1}\n"
        "  memory: {limit: unbounded}\n"
        "  ingest: {rate: 1000/s, batch: 1000, duration: 1s, build_threads: 2,\n"
        "           segment: {max_size: 416000B, seal_proportion: 1}}\n";
    fix_t f;
    setup(&f, yaml);
    sim_schedule_at(f.sim, 0, query_event, &f, 1);
    sim_run(f.sim, 6505 * SIM_US - 1);
    cr_expect_eq(vdb_replica_state(f.v, 0, 0)->indexed, 1000, "still building at 6.505 ms - 1 ns");
    sim_run(f.sim, 6505 * SIM_US);
    cr_expect_eq(vdb_replica_state(f.v, 0, 0)->indexed, 2000, "built at 6.505 ms");
    teardown(&f);
}

/* Memory grows with the growing segment to the OOM kill. A flat index of
 * 1000 x 100 (400 000 bytes), base 0, no query: a replica holds
 * 400 000 + 416 g bytes with g growing rows, over the 1 000 000-byte limit
 * from g = 1443 on (416 x 1442 = 599 872). 10 rows every 100 ms from 0:
 * g = 1450 after the batch at 14.4 s: the kill comes then. The first crash
 * restarts at once; the replica is ready 1.05 s later (startup), and the
 * growing segment it replays is still too big: the next batch (15.5 s)
 * kills it again, and then CrashLoopBackOff (10 s) keeps it down. */
Test(vectordb_ingest, growing_segment_memory_reaches_the_oom_limit_at_the_computed_time)
{
    static const char *yaml =
        "vectordb:\n"
        "  threads: 1\n"
        "  index: {type: flat, vectors: 1000, dim: 100}\n"
        "  cost: {base: 0s, call_ns: 0, scan_dim_ns: 10, scan_vector_ns: 0}\n"
        "  jitter: {dist: deterministic, value: 1}\n"
        "  memory: {limit: 1000000B, base: 0B, per_query: 0B}\n"
        "  startup: 1050ms\n"
        "  cold_start: {factor: 1}\n"
        "  ingest: {rate: 100/s, batch: 10}\n";
    fix_t f;
    setup(&f, yaml);
    sim_schedule_at(f.sim, 14399 * SIM_MS, probe_memory, &f, 0);
    sim_run(f.sim, 20 * SIM_SEC);
    cr_expect_eq(f.mem_at, 400000 + 1440 * 416, "memory before the kill: %lld", (long long)f.mem_at);
    cr_expect_eq(event_at(f.sim, "oom_kill", "vectordb/0", 0), 14400 * SIM_MS, "killed at %.9f s",
                 sim_time_to_s(event_at(f.sim, "oom_kill", "vectordb/0", 0)));
    cr_expect_eq(event_at(f.sim, "replica_ready", "vectordb/0", 0), 15450 * SIM_MS);
    cr_expect_eq(event_at(f.sim, "oom_kill", "vectordb/0", 1), 15500 * SIM_MS, "killed again at %.9f s",
                 sim_time_to_s(event_at(f.sim, "oom_kill", "vectordb/0", 1)));
    cr_expect_eq(event_at(f.sim, "replica_restarted", "vectordb/0", 1), -1, "backing off 10 s: not restarted by 20 s");
    cr_expect_eq(f.v->oom_kills_total, 2);
    teardown(&f);
}

/* Memory while the index is read. A flat index of 1 000 000 x 128
 * (512 000 000 bytes) read at 256 MB/s: 2 s after a 1 s process start.
 * base 256 MiB; the limit holds base + 3/4 of the index, so a replica is
 * killed at its first query (t = 100 ms; restarted at once, a first crash),
 * then while reading: the read starts at 1.1 s, passes 3/4 of the index
 * 1.5 s later: killed at 2.6 s. Half-way through (2.1 s) it holds
 * base + 256 000 000 bytes. Then CrashLoopBackOff: restarted 10 s later
 * (12.6 s), killed at 12.6 + 1 + 1.5 = 15.1 s; 20 s later (35.1 s),
 * killed at 37.6 s. */
Test(vectordb_startup, oom_kill_while_reading_the_index_then_crash_loop)
{
    int64_t base = 256LL << 20, index = 512000000LL, limit = base + index / 4 * 3;
    char yaml[640];
    snprintf(yaml, sizeof yaml,
             "vectordb:\n"
             "  threads: 1\n"
             "  index: {type: flat, vectors: 1000000, dim: 128}\n"
             "  cost: {base: 2ms, speed: 1e12}\n"
             "  jitter: {dist: deterministic, value: 1}\n"
             "  memory: {limit: %lldB, base: 256MiB, per_query: 1MiB}\n"
             "  startup: 1s\n"
             "  disk_throughput: 256MB/s\n"
             "  cold_start: {factor: 1}\n",
             (long long)limit);
    /* a warning, not an error: the crash loop is what the scenario is about */
    sim_diag_t d;
    sim_diag_init(&d);
    sim_cfg_t *cfg = sim_cfg_load_string("v.yaml", yaml, strlen(yaml), &d);
    vdb_spec_t sp;
    cr_assert_eq(vdb_spec_parse(&d, sim_cfg_get(sim_cfg_root(cfg), "vectordb"), &sp), 0, "%s", sim_diag_text(&d));
    cr_assert(strstr(sim_diag_text(&d), "v.yaml:6:19: warning:") && strstr(sim_diag_text(&d), "while it reads its index"),
              "%s", sim_diag_text(&d));
    vdb_spec_fini(&sp);
    sim_cfg_destroy(cfg);
    sim_diag_fini(&d);

    fix_t f;
    setup(&f, yaml);
    sim_schedule_at(f.sim, 100 * SIM_MS, query_event, &f, 1);
    sim_schedule_at(f.sim, 2100 * SIM_MS, probe_memory, &f, 0);
    sim_run(f.sim, 40 * SIM_SEC);
    cr_expect_eq(f.mem_at, base + index / 2, "memory half-way through the read: %lld", (long long)f.mem_at);
    static const sim_time_t kills[] = {100 * SIM_MS, 2600 * SIM_MS, 15100 * SIM_MS, 37600 * SIM_MS};
    for (int i = 0; i < 4; i++) {
        sim_time_t k = event_at(f.sim, "oom_kill", "vectordb/0", i);
        cr_expect(k >= kills[i] && k - kills[i] <= SIM_US, "kill %d at %.9f s, by hand %.3f s", i, sim_time_to_s(k),
                  sim_time_to_s(kills[i]));
    }
    cr_expect_eq(event_at(f.sim, "oom_kill", "vectordb/0", 4), -1);
    cr_expect_eq(event_at(f.sim, "replica_ready", "vectordb/0", 0), -1, "never ready");
    cr_expect_eq(f.done[CALL_ERROR], 1, "the first query died with the replica");
    teardown(&f);
}

/* Without the read's memory above the limit, nothing changes: a restart
 * reads its index and is ready (restart_reads_the_index_at_disk_throughput
 * in test_vectordb_shards.c), and its memory grows linearly meanwhile. */
Test(vectordb_startup, memory_grows_linearly_while_the_index_is_read)
{
    static const char *yaml =
        "vectordb:\n"
        "  threads: 1\n"
        "  index: {type: flat, vectors: 1000000, dim: 128}\n"
        "  cost: {base: 2ms, speed: 1e12}\n"
        "  jitter: {dist: deterministic, value: 1}\n"
        "  memory: {limit: unbounded, base: 256MiB}\n"
        "  startup: 1s\n"
        "  disk_throughput: 256MB/s\n";
    fix_t f;
    setup(&f, yaml);
    sim_run(f.sim, SIM_SEC);
    vdb_ops.kill(f.v, 0);   /* a first crash: restarted at once, at 1 s; reads from 2 s to 4 s */
    static const struct { sim_time_t t; int64_t mem; } pts[] = {
        {1500 * SIM_MS, 256LL << 20},
        {2500 * SIM_MS, (256LL << 20) + 128000000},
        {3500 * SIM_MS, (256LL << 20) + 384000000},
    };
    for (int i = 0; i < 3; i++) {
        sim_run(f.sim, pts[i].t);
        cr_expect_eq(vdb_memory(f.v, 0), pts[i].mem, "at %.1f s: %lld", sim_time_to_s(pts[i].t),
                     (long long)vdb_memory(f.v, 0));
    }
    sim_run(f.sim, 4 * SIM_SEC + 1);
    cr_expect_eq(vdb_memory(f.v, 0), (256LL << 20) + 512000000, "ready: base + index");
    teardown(&f);
}

Test(vectordb_ingest, config_errors_name_position)
{
    static const vdbfx_err_t cases[] = {
        {"vectordb:\n  ingest: {batch: 10}\n", "missing required key 'rate'", 2, 11},
        {"vectordb:\n  ingest: {rate: 0/s}\n", "rate", 2, 18},
        {"vectordb:\n  ingest: {rate: 10/s, segment: {seal_proportion: 1.5}}\n", "seal_proportion", 2, 51},
        {"vectordb:\n  ingest: {rate: 10/s, bacth: 5}\n", "did you mean 'batch'", 2, 24},
        {"vectordb:\n  ingest: {rate: 10/s, build_threads: 0}\n", "between 1 and", 2, 39},
        {"vectordb:\n  ingest: 5\n", "expected a mapping", 2, 11},
    };
    vdbfx_expect_errors(cases, sizeof cases / sizeof *cases);
}

/* ---- the build's cost against FAISS (bench/vectordb/measure_build) ------------------ */

typedef struct {
    char index[16];
    double N, d, M, efc, nlist, pq_m, add_s, search_us;
} build_row_t;

static int load_builds(build_row_t *rows, int max)
{
    static csv_table_t t;
    csv_load(&t, "bench/vectordb", "build-cost-");   /* bench/vectordb/measure_build */
    int n = 0;
    for (; n < t.nrow && n < max; n++) {
        build_row_t *r = &rows[n];
        snprintf(r->index, sizeof r->index, "%s", csv_str(&t, n, "index"));
        r->N = csv_num(&t, n, "N");
        r->d = csv_num(&t, n, "d");
        r->M = csv_num(&t, n, "M");
        r->efc = csv_num(&t, n, "ef_construction");
        r->nlist = csv_num(&t, n, "nlist");
        r->pq_m = csv_num(&t, n, "pq_m");
        r->add_s = csv_num(&t, n, "add_cpu_s");
        r->search_us = csv_num(&t, n, "search_at_efc_us");
    }
    csv_unload(&t);
    return n;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static vdb_spec_t build_spec(const build_row_t *r)
{
    vdb_spec_t s;
    memset(&s, 0, sizeof s);
    for (int i = 0; vdb_index_names[i]; i++)
        if (!strcmp(vdb_index_names[i], r->index)) s.index = (vdb_index_t)i;
    s.vectors = (int64_t)r->N;
    s.dim = (int64_t)r->d;
    s.M = (int64_t)r->M;
    s.ef_construction = (int64_t)r->efc;
    s.ef_search = (int64_t)r->efc;
    s.nlist = (int64_t)r->nlist;
    s.nprobe = 1;
    s.pq_m = (int64_t)r->pq_m;
    s.pq_nbits = 8;
    s.speed = 1;
    s.cost = vdb_cost_default;
    return s;
}

/* HNSW: the build of n vectors is the sum of the inserts' walks at
 * ef = efConstruction (the search's distance law over an index of i
 * vectors, i = 1 .. n). What the CPU does not change is the build's size
 * next to a search at efConstruction on the same machine at the same
 * moment (the CSV may come from another CPU than the coefficients): the
 * model's ratio of a vector's build to a search must be within 20% of
 * FAISS's in median and within 40% at every point. The absolute CPU times
 * are logged; IVF-Flat and IVF-PQ builds (each vector against the
 * centroids) must be within 50% of FAISS's, CPU difference included. */
Test(vectordb_faiss, build_cost_against_faiss_add)
{
    static build_row_t rows[64];
    int n = load_builds(rows, 64), nh = 0, nivf = 0;
    double err[64];
    for (int i = 0; i < n; i++) {
        const build_row_t *r = &rows[i];
        vdb_spec_t s = build_spec(r);
        double model = vdb_build_time(&s, (int64_t)r->N);
        cr_log_info("%-8s N=%-6.0f d=%-3.0f M=%-2.0f efC=%-3.0f nlist=%-4.0f: FAISS %.3f s, model %.3f s (%+.0f%%)",
                    r->index, r->N, r->d, r->M, r->efc, r->nlist, r->add_s, model, 100 * (model - r->add_s) / r->add_s);
        if (s.index == VDB_HNSW) {
            double want = r->add_s / r->N / (r->search_us * 1e-6);
            double got = model / r->N / vdb_search_time_n(&s, 10, (int64_t)r->efc, (int64_t)r->N);
            err[nh] = fabs(got - want) / want;
            cr_log_info("  build a vector / search at efConstruction: FAISS %.3f, model %.3f", want, got);
            cr_expect_leq(err[nh], 0.40, "N=%.0f d=%.0f M=%.0f efC=%.0f: ratio %.3f, FAISS %.3f", r->N, r->d, r->M,
                          r->efc, got, want);
            nh++;
        } else {
            cr_expect_leq(fabs(model - r->add_s) / r->add_s, 0.50, "%s N=%.0f d=%.0f nlist=%.0f: model %.3f s, FAISS %.3f s",
                          r->index, r->N, r->d, r->nlist, model, r->add_s);
            nivf++;
        }
    }
    cr_assert_geq(nh, 6, "HNSW rows: %d", nh);
    cr_assert_geq(nivf, 2, "IVF rows: %d", nivf);
    qsort(err, (size_t)nh, sizeof *err, cmp_double);
    double med = nh % 2 ? err[nh / 2] : (err[nh / 2 - 1] + err[nh / 2]) / 2;
    cr_log_info("HNSW build / search: median relative error %.1f%% over %d indexes", 100 * med, nh);
    cr_assert_leq(med, 0.20);
}
