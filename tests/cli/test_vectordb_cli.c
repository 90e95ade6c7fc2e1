/* `ragsim vectordb estimate`: the figures it prints are the model's
 * (vdb_query_time, vdb_index_bytes) for the scenario's index, --set changes
 * them, and every bad usage exits 2 with a clear message. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "testutil.h"

#define ragsim(...) tu_run((const char *const[]){RAGSIM_BINARY, __VA_ARGS__, NULL})
#define AVALANCHE RAGSIM_SOURCE_DIR "/scenarios/trap-vectordb-avalanche.yaml"

static double field(const char *out, const char *label)
{
    const char *p = strstr(out, label);
    cr_assert_not_null(p, "no '%s' in:\n%s", label, out);
    double v;
    cr_assert_eq(sscanf(p + strlen(label), "%lf", &v), 1, "%s", p);
    return v;
}

Test(vectordb_cli, estimate_prints_the_model_with_units)
{
    tu_run_t r = ragsim("vectordb", "estimate", AVALANCHE);
    cr_assert_eq(r.status, 0, "stderr: %s", r.err);
    cr_assert(strstr(r.out, "index: hnsw, 1000000 vectors x 768 dimensions, M 16, ef_search 100; top_k 5"), "%s", r.out);
    double q = field(r.out, "one-thread query time: "), search = field(r.out, "= search ");
    double server = field(r.out, "(speed 1) + server ");
    cr_assert_float_eq(q, search + server, 2e-4, "%s", r.out);
    cr_assert_float_eq(server, 0.5, 1e-9, "cost.base: the default 500us");
    cr_assert(search > 0.5 && search < 50, "HNSW search of 1M x 768 at ef 100: %f ms", search);
    /* 1e6 (4 x 768 + 4 (32 + 16/15) + 12) bytes */
    double bytes = field(r.out, "GiB (");
    cr_assert_float_eq(bytes, llround(1e6 * (4 * 768 + 4 * (32 + 16.0 / 15) + 12)), 0.5);
    cr_assert(strstr(r.out, "limit 4.000 GiB: OOM kill past "), "%s", r.out);
    double cap = field(r.out, "x 1 core / ");   /* 2 threads sharing the pod's one core */
    cr_assert_float_eq(cap, q, 1e-3);
    double qps = field(strstr(r.out, "capacity:"), "ms = ");
    cr_assert_float_eq(qps, 2 / (q * 1e-3), qps * 1e-3);
    tu_run_free(&r);

    /* ef_search 256 costs more; IVF-PQ is smaller than the raw vectors */
    r = ragsim("vectordb", "estimate", AVALANCHE, "--set", "vectordb.index.ef_search=256");
    cr_assert_eq(r.status, 0, "stderr: %s", r.err);
    cr_assert_gt(field(r.out, "= search "), search);
    tu_run_free(&r);
    r = ragsim("vectordb", "estimate", AVALANCHE, "--set", "vectordb.index.type=ivf_pq", "--set",
               "vectordb.index.pq_m=96");
    cr_assert_eq(r.status, 0, "stderr: %s", r.err);
    cr_assert(strstr(r.out, "index: ivf_pq, 1000000 vectors x 768 dimensions, nlist 4096, nprobe 16, pq_m 96 x 8 bits"),
              "%s", r.out);
    cr_assert(strstr(r.out, "vectors scanned"), "%s", r.out);
    cr_assert_lt(field(r.out, "index size in memory: "), 1024, "MiB, not GiB: %s", r.out);
    tu_run_free(&r);

    /* no recall line without a table; with one, recall at ef 24 interpolated
     * between (16, 0.9) and (32, 1.0): 0.95; at the degrade floor 8, held
     * at the first point (0.9), with the query time at ef 8 */
    r = ragsim("vectordb", "estimate", AVALANCHE);
    cr_assert_null(strstr(r.out, "recall"), "%s", r.out);
    tu_run_free(&r);
    r = ragsim("vectordb", "estimate", AVALANCHE, "--set", "vectordb.index.ef_search=24", "--set",
               "vectordb.recall=[[16, 0.9], [32, 1.0]]", "--set", "vectordb.degrade={queue_above: 10, floor: 8}");
    cr_assert_eq(r.status, 0, "stderr: %s", r.err);
    cr_assert(strstr(r.out, "recall@k: 0.95 at ef_search 24"), "%s", r.out);
    cr_assert(strstr(r.out, "degrade: at the floor, ef_search 8: one-thread query time "), "%s", r.out);
    cr_assert(strstr(r.out, "recall@k 0.9\n"), "%s", r.out);
    double q24 = field(r.out, "one-thread query time: "), q8 = field(strstr(r.out, "degrade:"), "query time ");
    cr_assert(q8 > 0.5 && q8 < q24, "ef 8 (%f ms) must cost less than ef 24 (%f ms)", q8, q24);
    tu_run_free(&r);
}

/* Batched search: the full batch's CPU, per query and per batch alone on
 * its cores, and the capacity of full batches: 2 threads x min(32, 2)
 * cores wanted, 2 cores there, per replica 2 / (CPU per query). */
Test(vectordb_cli, estimate_prints_the_batched_capacity)
{
    tu_run_t r = ragsim("vectordb", "estimate", AVALANCHE, "--set", "vectordb.batch={max_batch_size: 32}", "--set",
                        "vectordb.cores=2");
    cr_assert_eq(r.status, 0, "stderr: %s", r.err);
    const char *b = strstr(r.out, "batched search: a full batch of 32 queries (max_batch_size) takes ");
    cr_assert_not_null(b, "%s", r.out);
    double q = field(r.out, "one-thread query time: ");
    double cpu = field(b, "takes "), search = field(b, "= search "), server = field(b, "+ server ");
    cr_assert_float_eq(cpu, search + server, 2e-4, "%s", r.out);
    cr_assert_float_eq(server, 32 * 0.5, 1e-9, "cost.base is paid per query");
    double per = field(b, "ms: "), alone = field(b, "cores (");
    cr_assert_float_eq(per, cpu / 32, 1e-4, "%s", r.out);
    cr_assert(per < q, "a batch saves the call's work: %f ms per query, %f alone", per, q);
    cr_assert_float_eq(alone, cpu / 2, 1e-3, "%s", r.out);
    double rep = field(strstr(r.out, "capacity:"), "replicas x ");
    cr_assert_float_eq(rep, 2 / (per * 1e-3), rep * 1e-3, "%s", r.out);
    cr_assert_float_eq(field(strstr(r.out, "capacity:"), "cores) = "), 2 * rep, rep * 1e-3, "%s", r.out);
    tu_run_free(&r);
}

/* With an ingest: the seal size (1 GiB x 0.12 / (4 x 768 + 16) bytes =
 * 41 725 rows), the seal interval (41 725 / 5000 s), the brute-force scan
 * of a full growing segment (41 725 x 768 x scan_dim), the build of a
 * segment (the inserts' walks: a M^m efC^e n^(b+1) / (b+1) distances at
 * 768 graph_dim + graph_distance) and the memory growth (5000 x 3088
 * bytes a second); nothing about ingest without it. */
Test(vectordb_cli, estimate_prints_what_an_ingest_adds)
{
    tu_run_t r = ragsim("vectordb", "estimate", AVALANCHE);
    cr_assert_null(strstr(r.out, "ingest"), "%s", r.out);
    tu_run_free(&r);
    r = ragsim("vectordb", "estimate", AVALANCHE, "--set", "vectordb.ingest={rate: 5000/s}");
    cr_assert_eq(r.status, 0, "stderr: %s", r.err);
    cr_assert(strstr(r.out, "a growing segment is sealed at 41725 rows"), "%s", r.out);
    cr_assert_float_eq(field(r.out, "bytes a row), every "), 41725 / 5000.0, 1e-3, "%s", r.out);
    cr_assert_float_eq(field(r.out, "brute-force scan of the growing segment: up to "), 41725 * 768 * 0.734959e-6, 1e-3,
                       "%s", r.out);
    double dist = 0.346925 * pow(16, 0.418627) * pow(40, 0.921365) * pow(41725, 1.232383) / 1.232383;
    double build = dist * (768 * 2.90603e-9 + 1.37832e-7);
    cr_assert_float_eq(field(r.out, "each segment's index build "), build, build * 1e-3, "%s", r.out);
    cr_assert_float_eq(field(r.out, "replica memory grows "), 5000.0 * 3088 / (1 << 20), 1e-3, "%s", r.out);
    tu_run_free(&r);
    /* validate's capacity table notes it on the vector DB's row: the builds'
     * cores on average (a build every 8.345 s; the avalanche's replicas have
     * 1 core) and the full segment's scan */
    r = ragsim("validate", AVALANCHE, "--set", "vectordb.ingest={rate: 5000/s}");
    cr_assert_eq(r.status, 0, "stderr: %s", r.err);
    char want[96];
    snprintf(want, sizeof want, "(ingest: builds %.3g of 1 core, +%.3g ms at seal)", build / (41725 / 5000.0),
             41725 * 768 * 0.734959e-6);
    cr_assert(strstr(r.out, want) || strstr(r.err, want), "no '%s' in:\n%s%s", want, r.out, r.err);
    tu_run_free(&r);
}

Test(vectordb_cli, bad_usage_exits_2)
{
    static const struct {
        const char *a[4];
        const char *want;
    } cases[] = {
        {{"vectordb", NULL}, "usage: ragsim vectordb estimate"},
        {{"vectordb", "frob", NULL}, "unknown subcommand 'frob'"},
        {{"vectordb", "estimate", NULL}, "missing SCENARIO.yaml"},
        {{"vectordb", "estimate", "--bogus", NULL}, "unknown option '--bogus'"},
        {{"vectordb", "estimate", AVALANCHE, "extra"}, "unexpected argument 'extra'"},
        {{"vectordb", "estimate", AVALANCHE, "--set"}, "option '--set' needs a value"},
        {{"vectordb", "estimate", "/nonexistent.yaml", NULL}, "nonexistent.yaml"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        tu_run_t r = tu_run((const char *const[]){RAGSIM_BINARY, cases[i].a[0], cases[i].a[1], cases[i].a[2],
                                                  cases[i].a[3], NULL});
        cr_assert_eq(r.status, 2, "case %zu: status %d", i, r.status);
        cr_assert(strstr(r.err, cases[i].want), "case %zu: stderr: %s", i, r.err);
        cr_assert_str_eq(r.out, "");
        tu_run_free(&r);
    }
    tu_run_t r = ragsim("vectordb", "estimate", AVALANCHE, "--set", "vectordb.cost.ops_per_second=1e10");
    cr_assert_eq(r.status, 2);
    cr_assert(strstr(r.err, "'vectordb.cost.ops_per_second' is gone"), "%s", r.err);
    tu_run_free(&r);
    r = ragsim("vectordb", "estimate", "--help");
    cr_assert_eq(r.status, 0);
    cr_assert(strstr(r.out, "one query on one thread"), "%s", r.out);
    tu_run_free(&r);
}
