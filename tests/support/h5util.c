#include "h5util.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"

/* The trace's strings are variable-length: read into pointers, copied into
 * the callers' fixed-size fields, and the pointers reclaimed. */
static hid_t vstr_(void)
{
    hid_t st = H5Tcopy(H5T_C_S1);
    H5Tset_size(st, H5T_VARIABLE);
    H5Tset_cset(st, H5T_CSET_UTF8);
    return st;
}

/* A table of compound rows read whole with the memory type mt (which
 * rows_free closes, with the string type st it uses): its rows in raw,
 * their strings reclaimed by rows_free. */
typedef struct {
    hid_t ds, sp, mt, st;
    size_t n;
    void *raw;
} rows_t;

static void rows_read(rows_t *r, hid_t f, const char *path, hid_t mt, hid_t st, size_t size)
{
    r->ds = H5Dopen2(f, path, H5P_DEFAULT);
    cr_assert_geq(r->ds, 0, "dataset %s missing", path);
    r->sp = H5Dget_space(r->ds);
    r->n = (size_t)H5Sget_simple_extent_npoints(r->sp);
    r->mt = mt;
    r->st = st;
    r->raw = calloc(r->n ? r->n : 1, size);
    cr_assert_geq(H5Dread(r->ds, mt, H5S_ALL, H5S_ALL, H5P_DEFAULT, r->raw), 0, "%s unreadable", path);
}

static void rows_free(rows_t *r)
{
    if (r->n) H5Dvlen_reclaim(r->mt, r->sp, H5P_DEFAULT, r->raw);
    free(r->raw);
    H5Tclose(r->st);
    H5Tclose(r->mt);
    H5Sclose(r->sp);
    H5Dclose(r->ds);
}

size_t series_table(hid_t f, const char *group, series_info_t **out)
{
    char p[512];
    snprintf(p, sizeof p, "%s/series", group);
    typedef struct { char *name, *unit, *description; } raw_t;
    hid_t mt = H5Tcreate(H5T_COMPOUND, sizeof(raw_t)), st = vstr_();
    H5Tinsert(mt, "name", offsetof(raw_t, name), st);
    H5Tinsert(mt, "unit", offsetof(raw_t, unit), st);
    H5Tinsert(mt, "description", offsetof(raw_t, description), st);
    rows_t r;
    rows_read(&r, f, p, mt, st, sizeof(raw_t));
    const raw_t *raw = r.raw;
    size_t n = r.n;
    *out = calloc(n ? n : 1, sizeof **out);
    for (size_t i = 0; i < n; i++) {
        snprintf((*out)[i].name, sizeof (*out)[i].name, "%s", raw[i].name ? raw[i].name : "");
        snprintf((*out)[i].unit, sizeof (*out)[i].unit, "%s", raw[i].unit ? raw[i].unit : "");
        snprintf((*out)[i].description, sizeof (*out)[i].description, "%s",
                 raw[i].description ? raw[i].description : "");
    }
    rows_free(&r);
    return n;
}

long series_row(hid_t f, const char *run, const char *name, char *unit, size_t unitlen)
{
    char g[512];
    snprintf(g, sizeof g, "%s/timeseries", run);
    series_info_t *tab;
    size_t n = series_table(f, g, &tab);
    long row = -1;
    for (size_t i = 0; i < n && row < 0; i++)
        if (strcmp(tab[i].name, name) == 0) row = (long)i;
    if (row >= 0 && unit) snprintf(unit, unitlen, "%s", tab[row].unit);
    free(tab);
    return row;
}

series_t series(hid_t f, const char *run, const char *name)
{
    char p[512];
    snprintf(p, sizeof p, "%s/timeseries/%s", run, name);
    hid_t ds;
    hsize_t start[2] = {0, 0}, count[2] = {1, 0};
    if (strcmp(name, "t") == 0) {
        ds = H5Dopen2(f, p, H5P_DEFAULT);
    } else {
        long row = series_row(f, run, name, NULL, 0);
        cr_assert_geq(row, 0, "time series %s missing", p);
        start[0] = (hsize_t)row;
        snprintf(p, sizeof p, "%s/timeseries/values", run);
        ds = H5Dopen2(f, p, H5P_DEFAULT);
    }
    cr_assert_geq(ds, 0, "dataset %s missing", p);
    hid_t sp = H5Dget_space(ds);
    int rank = H5Sget_simple_extent_ndims(sp);
    hsize_t dims[2] = {0, 0};
    H5Sget_simple_extent_dims(sp, dims, NULL);
    series_t s = {NULL, (size_t)dims[rank - 1]};
    s.v = calloc(s.n ? s.n : 1, sizeof *s.v);
    hid_t ms = H5Screate_simple(1, &dims[rank - 1], NULL);
    if (rank == 2) {
        count[1] = dims[1];
        H5Sselect_hyperslab(sp, H5S_SELECT_SET, start, NULL, count, NULL);
    }
    cr_assert_geq(H5Dread(ds, H5T_NATIVE_DOUBLE, ms, sp, H5P_DEFAULT, s.v), 0, "%s unreadable", p);
    H5Sclose(ms);
    H5Sclose(sp);
    H5Dclose(ds);
    return s;
}

size_t events(hid_t f, const char *run, evrow_t **out)
{
    char p[512];
    snprintf(p, sizeof p, "%s/events", run);
    typedef struct { double time, value; char *kind, *source; } raw_t;
    hid_t mt = H5Tcreate(H5T_COMPOUND, sizeof(raw_t)), st = vstr_();
    H5Tinsert(mt, "time", offsetof(raw_t, time), H5T_NATIVE_DOUBLE);
    H5Tinsert(mt, "kind", offsetof(raw_t, kind), st);
    H5Tinsert(mt, "source", offsetof(raw_t, source), st);
    H5Tinsert(mt, "value", offsetof(raw_t, value), H5T_NATIVE_DOUBLE);
    rows_t r;
    rows_read(&r, f, p, mt, st, sizeof(raw_t));
    const raw_t *raw = r.raw;
    size_t n = r.n;
    *out = calloc(n ? n : 1, sizeof **out);
    for (size_t i = 0; i < n; i++) {
        (*out)[i].time = raw[i].time;
        (*out)[i].value = raw[i].value;
        snprintf((*out)[i].kind, sizeof (*out)[i].kind, "%s", raw[i].kind ? raw[i].kind : "");
        snprintf((*out)[i].source, sizeof (*out)[i].source, "%s", raw[i].source ? raw[i].source : "");
    }
    rows_free(&r);
    return n;
}

hid_t run_scenario(const char *scen, const char *variant, char **out, const char *const *sets)
{
    *out = tu_tmp_path("scen", ".h5");
    const char *argv[64] = {RAGSIM_BINARY, "run", tu_src(scen), "-q", "--reps", "1", "-o", *out};
    int n = 8;
    if (variant) {
        argv[n++] = "--variants";
        argv[n++] = variant;
    }
    for (size_t i = 0; sets && sets[i] && n < 60; i++) {
        argv[n++] = "--set";
        argv[n++] = sets[i];
    }
    argv[n] = NULL;
    tu_run_t r = tu_run(argv);
    cr_assert_eq(r.status, 0, "%s", r.err);
    tu_run_free(&r);
    hid_t f = H5Fopen(*out, H5F_ACC_RDONLY, H5P_DEFAULT);
    cr_assert_geq(f, 0);
    return f;
}

hid_t run_compare(const char *scen, int reps, char **out, const char *const *sets)
{
    return run_compare_variants(scen, reps, NULL, out, sets);
}

hid_t run_compare_variants(const char *scen, int reps, const char *variants, char **out, const char *const *sets)
{
    *out = tu_tmp_path("cmp", ".h5");
    char nrep[16];
    snprintf(nrep, sizeof nrep, "%d", reps);
    const char *argv[64] = {RAGSIM_BINARY, "compare", tu_src(scen), "-q", "--reps", nrep, "-o", *out};
    int n = 8;
    if (variants) {
        argv[n++] = "--variants";
        argv[n++] = variants;
    }
    for (size_t i = 0; sets && sets[i] && n < 60; i++) {
        argv[n++] = "--set";
        argv[n++] = sets[i];
    }
    argv[n] = NULL;
    tu_run_t r = tu_run(argv);
    cr_assert_eq(r.status, 0, "%s", r.err);
    tu_run_free(&r);
    hid_t f = H5Fopen(*out, H5F_ACC_RDONLY, H5P_DEFAULT);
    cr_assert_geq(f, 0);
    return f;
}

cmprow_t comparison_row(hid_t f, const char *variant, const char *metric)
{
    typedef struct {
        char *variant, *metric;
        double mean, diff, diff_lo, diff_hi;
        long long n_paired, significant, verdict;
    } raw_t;
    hid_t mt = H5Tcreate(H5T_COMPOUND, sizeof(raw_t)), st = vstr_();
    H5Tinsert(mt, "variant", offsetof(raw_t, variant), st);
    H5Tinsert(mt, "metric", offsetof(raw_t, metric), st);
    H5Tinsert(mt, "mean", offsetof(raw_t, mean), H5T_NATIVE_DOUBLE);
    H5Tinsert(mt, "diff", offsetof(raw_t, diff), H5T_NATIVE_DOUBLE);
    H5Tinsert(mt, "diff_ci_low", offsetof(raw_t, diff_lo), H5T_NATIVE_DOUBLE);
    H5Tinsert(mt, "diff_ci_high", offsetof(raw_t, diff_hi), H5T_NATIVE_DOUBLE);
    H5Tinsert(mt, "n_paired", offsetof(raw_t, n_paired), H5T_NATIVE_LLONG);
    H5Tinsert(mt, "significant", offsetof(raw_t, significant), H5T_NATIVE_LLONG);
    H5Tinsert(mt, "verdict", offsetof(raw_t, verdict), H5T_NATIVE_LLONG);
    rows_t r;
    rows_read(&r, f, "/comparison", mt, st, sizeof(raw_t));
    const raw_t *rows = r.raw;
    size_t n = r.n, i = 0;
    while (i < n && (strcmp(rows[i].variant, variant) || strcmp(rows[i].metric, metric))) i++;
    cr_assert_lt(i, n, "/comparison has no row (%s, %s)", variant, metric);
    cmprow_t out = {.mean = rows[i].mean, .diff = rows[i].diff, .diff_lo = rows[i].diff_lo,
                    .diff_hi = rows[i].diff_hi, .n_paired = rows[i].n_paired,
                    .significant = rows[i].significant, .verdict = rows[i].verdict};
    snprintf(out.variant, sizeof out.variant, "%s", rows[i].variant);
    snprintf(out.metric, sizeof out.metric, "%s", rows[i].metric);
    rows_free(&r);
    return out;
}

double summary_value(hid_t f, size_t row, const char *col)
{
    hid_t ds = H5Dopen2(f, "/summary", H5P_DEFAULT);
    cr_assert_geq(ds, 0);
    hid_t mt = H5Tcreate(H5T_COMPOUND, sizeof(double));
    H5Tinsert(mt, col, 0, H5T_NATIVE_DOUBLE);
    hid_t sp = H5Dget_space(ds);
    hsize_t n = (hsize_t)H5Sget_simple_extent_npoints(sp);
    double *v = calloc(n ? n : 1, sizeof *v);
    cr_assert_geq(H5Dread(ds, mt, H5S_ALL, H5S_ALL, H5P_DEFAULT, v), 0, "/summary has no column %s", col);
    double x = v[row];
    free(v);
    H5Sclose(sp);
    H5Tclose(mt);
    H5Dclose(ds);
    return x;
}

/* success / ended over samples [t0, t1) s of a run (10 s samples of the
 * per-outcome rates). */
double success_between(hid_t f, const char *run, double t0, double t1)
{
    static const char *const outcomes[] = {"success", "degraded", "timeout", "error", "rejected"};
    double ok = 0, all = 0;
    for (size_t o = 0; o < 5; o++) {
        char name[64];
        snprintf(name, sizeof name, "requests_per_second{outcome=%s}", outcomes[o]);
        series_t s = series(f, run, name);
        for (size_t i = 0; i < s.n; i++) {
            double t = (double)i * 10;
            if (t < t0 || t >= t1) continue;
            all += s.v[i];
            if (o == 0) ok += s.v[i];
        }
        free(s.v);
    }
    cr_assert_gt(all, 0, "nothing ended in [%g, %g) s", t0, t1);
    return ok / all;
}

/* mean of a series over samples [t0, t1) s */
double mean_between(hid_t f, const char *run, const char *name, double t0, double t1)
{
    series_t s = series(f, run, name);
    double sum = 0;
    size_t n = 0;
    for (size_t i = 0; i < s.n; i++) {
        double t = (double)i * 10;
        if (t >= t0 && t < t1) {
            sum += s.v[i];
            n++;
        }
    }
    free(s.v);
    cr_assert_gt(n, 0);
    return sum / (double)n;
}
