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
        if (!strncmp(e->d_name, "batch-measured-", 15) && strstr(e->d_name, ".csv") &&
            !strcmp(strstr(e->d_name, ".csv"), ".csv"))
            snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
    closedir(dp);
    cr_assert(path[0], "no batch-measured-*.csv in %s", dir);
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


/* bench/vectordb/fit-batch's held_out() */
static int held_out(const table_t *t, int r)
{
    const char *ix = str(t, r, "index");
    return strcmp(str(t, r, "threads"), "1") != 0 || (!strcmp(ix, "hnsw") && (long)num(t, r, "d") == 128) ||
           (!strcmp(ix, "ivf_flat") && (long)num(t, r, "nprobe") == 16);
}

/* the row's index as a scenario would give it: every default (the batch
 * coefficients included) through the parser, the server's work 0 */
static void spec_of(const table_t *t, int r, vdb_spec_t *s)
{
    char yaml[512];
    const char *ix = str(t, r, "index");
    int n = snprintf(yaml, sizeof yaml, "vectordb:\n  cost: {base: 0s}\n  index: {type: %s, vectors: %s, dim: %s", ix,
                     str(t, r, "N"), str(t, r, "d"));
    if (!strcmp(ix, "hnsw")) n += snprintf(yaml + n, sizeof yaml - (size_t)n, ", M: %s, ef_search: %s", str(t, r, "M"),
                                           str(t, r, "ef_search"));
    if (!strncmp(ix, "ivf", 3)) n += snprintf(yaml + n, sizeof yaml - (size_t)n, ", nlist: %s, nprobe: %s",
                                              str(t, r, "nlist"), str(t, r, "nprobe"));
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
static double solo_cpu(const table_t *t, int r)
{
    for (int i = 0; i < t->nrow; i++)
        if (num(t, i, "nq") == 1 && !strcmp(str(t, i, "index"), str(t, r, "index")) &&
            !strcmp(str(t, i, "N"), str(t, r, "N")) && !strcmp(str(t, i, "d"), str(t, r, "d")) &&
            !strcmp(str(t, i, "M"), str(t, r, "M")) && !strcmp(str(t, i, "ef_search"), str(t, r, "ef_search")) &&
            !strcmp(str(t, i, "nlist"), str(t, r, "nlist")) && !strcmp(str(t, i, "nprobe"), str(t, r, "nprobe")) &&
            !strcmp(str(t, i, "threads"), str(t, r, "threads")))
            return num(t, i, "call_cpu_s");
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
    static table_t t;
    load(&t);
    static double err[MAXROW];
    int n = 0, blas = 0, two = 0;
    for (int r = 0; r < t.nrow; r++) {
        int64_t nq = (int64_t)num(&t, r, "nq");
        if (nq <= 1 || !held_out(&t, r)) continue;
        vdb_spec_t s;
        spec_of(&t, r, &s);
        double want = num(&t, r, "call_cpu_s") / ((double)nq * solo_cpu(&t, r));
        double got = vdb_batch_ratio(&s, (int64_t)num(&t, r, "k"), vdb_knob(&s), nq);
        err[n++] = fabs(got - want) / want;
        blas += !strcmp(str(&t, r, "index"), "flat") && nq >= VDB_BLAS_THRESHOLD;
        two += strcmp(str(&t, r, "threads"), "1") != 0;
        cr_log_info("%-8s N=%-6s d=%-3s ef=%-3s nprobe=%-2s threads %s nq %3lld: FAISS %.3f, model %.3f (%+.0f%%)",
                    str(&t, r, "index"), str(&t, r, "N"), str(&t, r, "d"), str(&t, r, "ef_search"),
                    str(&t, r, "nprobe"), str(&t, r, "threads"), (long long)nq, want, got, 100 * (got - want) / want);
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
    unload(&t);
}
