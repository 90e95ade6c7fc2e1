/* The vector DB's cost model against FAISS measured on a real CPU: the
 * committed bench/vectordb/measured-*.csv (bench/vectordb/measure; the
 * measuring is a benchmark, this test only reads its result). The CPU
 * coefficients in cost_default.h were fitted (bench/vectordb/fit) on the
 * training rows; here the model predicts the held-out rows it was not fitted
 * on: median relative error <= 25% for the one-thread query time, and the
 * index memory from FAISS's layout within 10% (median and every index). */
#include <criterion/criterion.h>
#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "models/components/vectordb/vectordb.h"

#define MAXCOL 32
#define MAXROW 1024

typedef struct {
    int ncol;
    char names[MAXCOL][32];
    int nrow;
    char *cell[MAXROW][MAXCOL];
} table_t;

static int col(const table_t *t, const char *name)
{
    for (int i = 0; i < t->ncol; i++)
        if (!strcmp(t->names[i], name)) return i;
    cr_assert_fail("the measured CSV has no column '%s'", name);
    return -1;
}

static double num(const table_t *t, int r, const char *name)
{
    const char *s = t->cell[r][col(t, name)];
    return *s ? strtod(s, NULL) : 0;
}

static const char *str(const table_t *t, int r, const char *name) { return t->cell[r][col(t, name)]; }

static void load(table_t *t)
{
    char dir[3000], path[4400];
    snprintf(dir, sizeof dir, "%s/bench/vectordb", RAGSIM_SOURCE_DIR);
    DIR *dp = opendir(dir);
    cr_assert_not_null(dp, "no %s", dir);
    struct dirent *e;
    path[0] = '\0';
    while ((e = readdir(dp)))
        if (!strncmp(e->d_name, "measured-", 9) && strstr(e->d_name, ".csv") &&
            !strcmp(strstr(e->d_name, ".csv"), ".csv"))
            snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
    closedir(dp);
    cr_assert(path[0], "no measured-*.csv in %s", dir);
    FILE *f = fopen(path, "r");
    cr_assert_not_null(f);
    static char line[4096];
    memset(t, 0, sizeof *t);
    int first = 1;
    while (fgets(line, sizeof line, f)) {
        line[strcspn(line, "\r\n")] = '\0';
        int c = 0;
        char *p = line;
        for (;;) {
            char *q = strchr(p, ',');
            if (q) *q = '\0';
            cr_assert_lt(c, MAXCOL);
            if (first) {
                cr_assert_lt(strlen(p), sizeof t->names[c], "column name '%s' too long", p);
                memcpy(t->names[c], p, strlen(p) + 1);
            }
            else t->cell[t->nrow][c] = strdup(p);
            c++;
            if (!q) break;
            p = q + 1;
        }
        if (first) t->ncol = c, first = 0;
        else {
            cr_assert_eq(c, t->ncol, "row %d has %d cells, the header %d", t->nrow + 2, c, t->ncol);
            cr_assert_lt(++t->nrow, MAXROW);
        }
    }
    fclose(f);
    cr_log_info("%s: %d rows", path, t->nrow);
}

static void unload(table_t *t)
{
    for (int r = 0; r < t->nrow; r++)
        for (int c = 0; c < t->ncol; c++) free(t->cell[r][c]);
}

/* bench/vectordb/fit's held_out(): one whole index per type, and the
 * in-between efSearch / nprobe values of the others. */
static int held_out(const table_t *t, int r)
{
    const char *ix = str(t, r, "index");
    long n = (long)num(t, r, "N"), d = (long)num(t, r, "d");
    long ef = (long)num(t, r, "ef_search"), np = (long)num(t, r, "nprobe");
    if (!strcmp(ix, "flat")) return n == 30000;
    if (!strcmp(ix, "hnsw")) return (n == 20000 && d == 128 && (long)num(t, r, "M") == 16) || ef == 32 || ef == 128;
    int mid = np == 2 || np == 8 || np == 32;
    if (!strcmp(ix, "ivf_flat")) return (n == 100000 && d == 128 && (long)num(t, r, "nlist") == 256) || mid;
    if (!strcmp(ix, "ivf_pq")) return ((long)num(t, r, "pq_m") == 16 && (long)num(t, r, "nlist") == 256) || mid;
    return 0;
}

static int timing_row(const table_t *t, int r)
{
    return !strcmp(str(t, r, "lib"), "faiss") && !strcmp(str(t, r, "threads"), "1") &&
           !strcmp(str(t, r, "batch"), "1") && *str(t, r, "query_cpu_s");
}

static vdb_spec_t spec_of(const table_t *t, int r)
{
    vdb_spec_t s;
    memset(&s, 0, sizeof s);
    const char *ix = str(t, r, "index");
    for (int i = 0; vdb_index_names[i]; i++)
        if (!strcmp(vdb_index_names[i], ix)) s.index = (vdb_index_t)i;
    s.vectors = (int64_t)num(t, r, "N");
    s.dim = (int64_t)num(t, r, "d");
    s.M = (int64_t)num(t, r, "M");
    s.ef_search = (int64_t)num(t, r, "ef_search");
    s.nlist = (int64_t)num(t, r, "nlist");
    s.nprobe = (int64_t)num(t, r, "nprobe");
    s.pq_m = (int64_t)num(t, r, "pq_m");
    s.pq_nbits = (int64_t)num(t, r, "pq_nbits");
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
    static table_t t;
    load(&t);
    static double err[MAXROW];
    int n = 0, types[4] = {0};
    for (int r = 0; r < t.nrow; r++) {
        if (!timing_row(&t, r) || !held_out(&t, r)) continue;
        vdb_spec_t s = spec_of(&t, r);
        double want = num(&t, r, "query_cpu_s"), got = vdb_query_time(&s, (int64_t)num(&t, r, "k"));
        err[n++] = fabs(got - want) / want;
        types[s.index]++;
        cr_log_info("%-8s N=%-6.0f d=%-3.0f ef=%-3.0f nprobe=%-2.0f: FAISS %.4f ms, model %.4f ms (%+.0f%%)",
                    str(&t, r, "index"), num(&t, r, "N"), num(&t, r, "d"), num(&t, r, "ef_search"),
                    num(&t, r, "nprobe"), want * 1e3, got * 1e3, 100 * (got - want) / want);
    }
    for (int i = 0; i < 4; i++)   /* flat: one index of one row; the others a whole index and in-between values */
        cr_assert_geq(types[i], i == VDB_FLAT ? 1 : 10, "held-out rows of %s: %d", vdb_index_names[i], types[i]);
    cr_assert_geq(n, 40, "held-out rows: %d", n);
    double m = median(err, n);
    cr_log_info("query time: median relative error %.1f%% over %d held-out points", 100 * m, n);
    cr_assert_leq(m, 0.25, "median relative error %.1f%% > 25%%", 100 * m);
    unload(&t);
}

Test(vectordb_faiss, index_memory_from_faiss_layout_within_10_percent)
{
    static table_t t;
    load(&t);
    static double err[MAXROW];
    int n = 0;
    char last[256] = "";
    for (int r = 0; r < t.nrow; r++) {
        if (!timing_row(&t, r) || !*str(&t, r, "mem_layout_bytes")) continue;
        char key[256];
        snprintf(key, sizeof key, "%s/%s/%s/%s/%s/%s", str(&t, r, "index"), str(&t, r, "N"), str(&t, r, "d"),
                 str(&t, r, "M"), str(&t, r, "nlist"), str(&t, r, "pq_m"));
        if (!strcmp(key, last)) continue;   /* one row per index: the CSV lists an index's points together */
        snprintf(last, sizeof last, "%s", key);
        vdb_spec_t s = spec_of(&t, r);
        double want = num(&t, r, "mem_layout_bytes"), got = (double)vdb_index_bytes(&s);
        err[n] = fabs(got - want) / want;
        cr_log_info("%s: FAISS %.0f bytes, model %.0f (%+.2f%%)", key, want, got, 100 * (got - want) / want);
        cr_expect_leq(err[n], 0.10, "%s: model %.0f bytes, FAISS %.0f", key, got, want);
        n++;
    }
    cr_assert_geq(n, 10, "only %d indexes measured", n);
    double m = median(err, n);
    cr_log_info("index memory: median relative error %.2f%% over %d indexes", 100 * m, n);
    cr_assert_leq(m, 0.10);
    unload(&t);
}
