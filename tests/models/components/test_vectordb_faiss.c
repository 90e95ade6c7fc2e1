/* The vector DB's cost model against FAISS measured on a real CPU: the
 * committed bench/vectordb/measured-*.csv (bench/vectordb/measure; the
 * measuring is a benchmark, this test only reads its result). The CPU
 * coefficients in cost_default.h were fitted (bench/vectordb/fit) on the
 * training rows; here the model predicts the held-out rows it was not fitted
 * on: median relative error <= 25% for the one-thread query time, and the
 * index memory from FAISS's layout within 10% (median and every index). */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "csvfx.h"
#include "models/components/vectordb/vectordb.h"


/* bench/vectordb/fit's held_out(): one whole index per type, and the
 * in-between efSearch / nprobe values of the others. */
static int held_out(const csv_table_t *t, int r)
{
    const char *ix = csv_str(t, r, "index");
    long n = (long)csv_num(t, r, "N"), d = (long)csv_num(t, r, "d");
    long ef = (long)csv_num(t, r, "ef_search"), np = (long)csv_num(t, r, "nprobe");
    if (!strcmp(ix, "flat")) return n == 30000;
    if (!strcmp(ix, "hnsw")) return (n == 20000 && d == 128 && (long)csv_num(t, r, "M") == 16) || ef == 32 || ef == 128;
    int mid = np == 2 || np == 8 || np == 32;
    if (!strcmp(ix, "ivf_flat")) return (n == 100000 && d == 128 && (long)csv_num(t, r, "nlist") == 256) || mid;
    if (!strcmp(ix, "ivf_pq")) return ((long)csv_num(t, r, "pq_m") == 16 && (long)csv_num(t, r, "nlist") == 256) || mid;
    return 0;
}

static int timing_row(const csv_table_t *t, int r)
{
    return !strcmp(csv_str(t, r, "lib"), "faiss") && !strcmp(csv_str(t, r, "threads"), "1") &&
           !strcmp(csv_str(t, r, "batch"), "1") && *csv_str(t, r, "query_cpu_s");
}

static vdb_spec_t spec_of(const csv_table_t *t, int r)
{
    vdb_spec_t s;
    memset(&s, 0, sizeof s);
    const char *ix = csv_str(t, r, "index");
    for (int i = 0; vdb_index_names[i]; i++)
        if (!strcmp(vdb_index_names[i], ix)) s.index = (vdb_index_t)i;
    s.vectors = (int64_t)csv_num(t, r, "N");
    s.dim = (int64_t)csv_num(t, r, "d");
    s.M = (int64_t)csv_num(t, r, "M");
    s.ef_search = (int64_t)csv_num(t, r, "ef_search");
    s.nlist = (int64_t)csv_num(t, r, "nlist");
    s.nprobe = (int64_t)csv_num(t, r, "nprobe");
    s.pq_m = (int64_t)csv_num(t, r, "pq_m");
    s.pq_nbits = (int64_t)csv_num(t, r, "pq_nbits");
    s.speed = 1;
    s.cost = vdb_cost_default;
    return s;
}

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, cmp);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

Test(vectordb_faiss, held_out_query_time_within_25_percent)
{
    static csv_table_t t;
    csv_load(&t, "bench/vectordb", "measured-");
    static double err[CSV_MAXROW];
    int n = 0, types[4] = {0};
    for (int r = 0; r < t.nrow; r++) {
        if (!timing_row(&t, r) || !held_out(&t, r)) continue;
        vdb_spec_t s = spec_of(&t, r);
        double want = csv_num(&t, r, "query_cpu_s"), got = vdb_query_time(&s, (int64_t)csv_num(&t, r, "k"));
        err[n++] = fabs(got - want) / want;
        types[s.index]++;
        cr_log_info("%-8s N=%-6.0f d=%-3.0f ef=%-3.0f nprobe=%-2.0f: FAISS %.4f ms, model %.4f ms (%+.0f%%)",
                    csv_str(&t, r, "index"), csv_num(&t, r, "N"), csv_num(&t, r, "d"), csv_num(&t, r, "ef_search"),
                    csv_num(&t, r, "nprobe"), want * 1e3, got * 1e3, 100 * (got - want) / want);
    }
    for (int i = 0; i < 4; i++)   /* flat: one index of one row; the others a whole index and in-between values */
        cr_assert_geq(types[i], i == VDB_FLAT ? 1 : 10, "held-out rows of %s: %d", vdb_index_names[i], types[i]);
    cr_assert_geq(n, 40, "held-out rows: %d", n);
    double m = median(err, n);
    cr_log_info("query time: median relative error %.1f%% over %d held-out points", 100 * m, n);
    cr_assert_leq(m, 0.25, "median relative error %.1f%% > 25%%", 100 * m);
    csv_unload(&t);
}

Test(vectordb_faiss, index_memory_from_faiss_layout_within_10_percent)
{
    static csv_table_t t;
    csv_load(&t, "bench/vectordb", "measured-");
    static double err[CSV_MAXROW];
    int n = 0;
    char last[256] = "";
    for (int r = 0; r < t.nrow; r++) {
        if (!timing_row(&t, r) || !*csv_str(&t, r, "mem_layout_bytes")) continue;
        char key[256];
        snprintf(key, sizeof key, "%s/%s/%s/%s/%s/%s", csv_str(&t, r, "index"), csv_str(&t, r, "N"), csv_str(&t, r, "d"),
                 csv_str(&t, r, "M"), csv_str(&t, r, "nlist"), csv_str(&t, r, "pq_m"));
        if (!strcmp(key, last)) continue;   /* one row per index: the CSV lists an index's points together */
        snprintf(last, sizeof last, "%s", key);
        vdb_spec_t s = spec_of(&t, r);
        double want = csv_num(&t, r, "mem_layout_bytes"), got = (double)vdb_index_bytes(&s);
        err[n] = fabs(got - want) / want;
        cr_log_info("%s: FAISS %.0f bytes, model %.0f (%+.2f%%)", key, want, got, 100 * (got - want) / want);
        cr_expect_leq(err[n], 0.10, "%s: model %.0f bytes, FAISS %.0f", key, got, want);
        n++;
    }
    cr_assert_geq(n, 10, "only %d indexes measured", n);
    double m = median(err, n);
    cr_log_info("index memory: median relative error %.2f%% over %d indexes", 100 * m, n);
    cr_assert_leq(m, 0.10);
    csv_unload(&t);
}
