/* The vector DB's batched-search cost against FAISS measured on a real CPU:
 * the committed bench/vectordb/batch-measured-*.csv (bench/vectordb/measure
 * --batch; this test only reads it). What the simulator uses is the ratio of
 * a batch's CPU time to that of its queries searched alone
 * (vdb_batch_ratio); the measured ratio is the CPU time of one search call
 * of nq queries over nq times that of a call of one (same index, same
 * OpenMP threads). The coefficients (cost_batch_default.h) were fitted
 * (bench/vectordb/fit-batch) on the one-thread rows of some indexes; here
 * the model predicts the held-out rows (every two-thread row, the HNSW d=128
 * index, IVF nprobe 16): median relative error <= 25%, and the batch
 * saving's direction (a ratio below 1 where FAISS's is) on every row. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "csvfx.h"
#include "models/components/vectordb/vectordb.h"



/* bench/vectordb/fit-batch's held_out() */
static int held_out(const csv_table_t *t, int r)
{
    const char *ix = csv_str(t, r, "index");
    return strcmp(csv_str(t, r, "threads"), "1") != 0 || (!strcmp(ix, "hnsw") && (long)csv_num(t, r, "d") == 128) ||
           (!strcmp(ix, "ivf_flat") && (long)csv_num(t, r, "nprobe") == 16);
}

/* the row's index as a scenario would give it: every default (the batch
 * coefficients included) through the parser, the server's work 0 */
static void spec_of(const csv_table_t *t, int r, vdb_spec_t *s)
{
    char yaml[512];
    const char *ix = csv_str(t, r, "index");
    int n = snprintf(yaml, sizeof yaml, "vectordb:\n  cost: {base: 0s}\n  index: {type: %s, vectors: %s, dim: %s", ix,
                     csv_str(t, r, "N"), csv_str(t, r, "d"));
    if (!strcmp(ix, "hnsw")) n += snprintf(yaml + n, sizeof yaml - (size_t)n, ", M: %s, ef_search: %s", csv_str(t, r, "M"),
                                           csv_str(t, r, "ef_search"));
    if (!strncmp(ix, "ivf", 3)) n += snprintf(yaml + n, sizeof yaml - (size_t)n, ", nlist: %s, nprobe: %s",
                                              csv_str(t, r, "nlist"), csv_str(t, r, "nprobe"));
    snprintf(yaml + n, sizeof yaml - (size_t)n, "}\n");
    sim_diag_t d;
    sim_diag_init(&d);
    sim_cfg_t *cfg = sim_cfg_load_string("row.yaml", yaml, strlen(yaml), &d);
    cr_assert_not_null(cfg, "%s", sim_diag_text(&d));
    cr_assert_eq(vdb_spec_parse(&d, sim_cfg_get(sim_cfg_root(cfg), "vectordb"), s), 0, "%s", sim_diag_text(&d));
    sim_cfg_destroy(cfg);
    sim_diag_fini(&d);
}

/* the CPU time of the row's index, threads, nq 1 (per call) */
static double solo_cpu(const csv_table_t *t, int r)
{
    for (int i = 0; i < t->nrow; i++)
        if (csv_num(t, i, "nq") == 1 && !strcmp(csv_str(t, i, "index"), csv_str(t, r, "index")) &&
            !strcmp(csv_str(t, i, "N"), csv_str(t, r, "N")) && !strcmp(csv_str(t, i, "d"), csv_str(t, r, "d")) &&
            !strcmp(csv_str(t, i, "M"), csv_str(t, r, "M")) && !strcmp(csv_str(t, i, "ef_search"), csv_str(t, r, "ef_search")) &&
            !strcmp(csv_str(t, i, "nlist"), csv_str(t, r, "nlist")) && !strcmp(csv_str(t, i, "nprobe"), csv_str(t, r, "nprobe")) &&
            !strcmp(csv_str(t, i, "threads"), csv_str(t, r, "threads")))
            return csv_num(t, i, "call_cpu_s");
    cr_assert_fail("no nq 1 row for row %d", r + 2);
    return NAN;
}

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

Test(vectordb_batch_faiss, held_out_batch_ratio_within_25_percent)
{
    static csv_table_t t;
    csv_load(&t, "bench/vectordb", "batch-measured-");
    static double err[CSV_MAXROW];
    int n = 0, blas = 0, two = 0;
    for (int r = 0; r < t.nrow; r++) {
        int64_t nq = (int64_t)csv_num(&t, r, "nq");
        if (nq <= 1 || !held_out(&t, r)) continue;
        vdb_spec_t s;
        spec_of(&t, r, &s);
        double want = csv_num(&t, r, "call_cpu_s") / ((double)nq * solo_cpu(&t, r));
        double got = vdb_batch_ratio(&s, (int64_t)csv_num(&t, r, "k"), vdb_knob(&s), nq);
        err[n++] = fabs(got - want) / want;
        blas += !strcmp(csv_str(&t, r, "index"), "flat") && nq >= VDB_BLAS_THRESHOLD;
        two += strcmp(csv_str(&t, r, "threads"), "1") != 0;
        cr_log_info("%-8s N=%-6s d=%-3s ef=%-3s nprobe=%-2s threads %s nq %3lld: FAISS %.3f, model %.3f (%+.0f%%)",
                    csv_str(&t, r, "index"), csv_str(&t, r, "N"), csv_str(&t, r, "d"), csv_str(&t, r, "ef_search"),
                    csv_str(&t, r, "nprobe"), csv_str(&t, r, "threads"), (long long)nq, want, got, 100 * (got - want) / want);
        if (want < 0.9) cr_expect_lt(got, 1, "row %d: FAISS saves %.0f%% by batching, the model nothing", r + 2,
                                     100 * (1 - want));
        vdb_spec_fini(&s);
    }
    cr_assert_geq(n, 20, "held-out rows: %d", n);
    cr_assert_geq(blas, 2, "held-out Flat rows past the BLAS threshold: %d", blas);
    cr_assert_geq(two, 10, "held-out two-thread rows: %d", two);
    qsort(err, (size_t)n, sizeof *err, cmp);
    double m = n % 2 ? err[n / 2] : (err[n / 2 - 1] + err[n / 2]) / 2;
    cr_log_info("batch ratio: median relative error %.1f%% over %d held-out points", 100 * m, n);
    cr_assert_leq(m, 0.25, "median relative error %.1f%% > 25%%", 100 * m);
    csv_unload(&t);
}
