#include "h5util.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"

size_t series_table(hid_t f, const char *group, series_info_t **out)
{
    char p[512];
    snprintf(p, sizeof p, "%s/series", group);
    hid_t ds = H5Dopen2(f, p, H5P_DEFAULT);
    cr_assert_geq(ds, 0, "dataset %s missing", p);
    hid_t sp = H5Dget_space(ds);
    size_t n = (size_t)H5Sget_simple_extent_npoints(sp);
    hid_t mt = H5Tcreate(H5T_COMPOUND, sizeof(series_info_t));
    const struct { const char *name; size_t off, size; } m[] = {
        {"name", offsetof(series_info_t, name), sizeof((*out)->name)},
        {"unit", offsetof(series_info_t, unit), sizeof((*out)->unit)},
        {"description", offsetof(series_info_t, description), sizeof((*out)->description)}};
    for (size_t i = 0; i < 3; i++) {
        hid_t st = H5Tcopy(H5T_C_S1);
        H5Tset_size(st, m[i].size);
        H5Tset_cset(st, H5T_CSET_UTF8);
        H5Tinsert(mt, m[i].name, m[i].off, st);
        H5Tclose(st);
    }
    *out = calloc(n ? n : 1, sizeof **out);
    cr_assert_geq(H5Dread(ds, mt, H5S_ALL, H5S_ALL, H5P_DEFAULT, *out), 0, "%s unreadable", p);
    H5Tclose(mt);
    H5Sclose(sp);
    H5Dclose(ds);
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
    hid_t ds = H5Dopen2(f, p, H5P_DEFAULT);
    hid_t sp = H5Dget_space(ds);
    size_t n = (size_t)H5Sget_simple_extent_npoints(sp);
    hid_t mt = H5Tcreate(H5T_COMPOUND, sizeof(evrow_t));
    hid_t s32 = H5Tcopy(H5T_C_S1), s48 = H5Tcopy(H5T_C_S1);
    H5Tset_size(s32, 32);
    H5Tset_size(s48, 48);
    H5Tset_cset(s32, H5T_CSET_UTF8);
    H5Tset_cset(s48, H5T_CSET_UTF8);
    H5Tinsert(mt, "time", offsetof(evrow_t, time), H5T_NATIVE_DOUBLE);
    H5Tinsert(mt, "kind", offsetof(evrow_t, kind), s32);
    H5Tinsert(mt, "source", offsetof(evrow_t, source), s48);
    H5Tinsert(mt, "value", offsetof(evrow_t, value), H5T_NATIVE_DOUBLE);
    *out = calloc(n ? n : 1, sizeof **out);
    cr_assert_geq(H5Dread(ds, mt, H5S_ALL, H5S_ALL, H5P_DEFAULT, *out), 0);
    H5Tclose(s32);
    H5Tclose(s48);
    H5Tclose(mt);
    H5Sclose(sp);
    H5Dclose(ds);
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
    hid_t ds = H5Dopen2(f, "/comparison", H5P_DEFAULT);
    cr_assert_geq(ds, 0, "/comparison missing");
    hid_t sp = H5Dget_space(ds);
    size_t n = (size_t)H5Sget_simple_extent_npoints(sp);
    hid_t mt = H5Tcreate(H5T_COMPOUND, sizeof(cmprow_t));
    hid_t s64 = H5Tcopy(H5T_C_S1);
    H5Tset_size(s64, 64);
    H5Tset_cset(s64, H5T_CSET_UTF8);
    H5Tinsert(mt, "variant", offsetof(cmprow_t, variant), s64);
    H5Tinsert(mt, "metric", offsetof(cmprow_t, metric), s64);
    H5Tinsert(mt, "mean", offsetof(cmprow_t, mean), H5T_NATIVE_DOUBLE);
    H5Tinsert(mt, "diff", offsetof(cmprow_t, diff), H5T_NATIVE_DOUBLE);
    H5Tinsert(mt, "diff_ci_low", offsetof(cmprow_t, diff_lo), H5T_NATIVE_DOUBLE);
    H5Tinsert(mt, "diff_ci_high", offsetof(cmprow_t, diff_hi), H5T_NATIVE_DOUBLE);
    H5Tinsert(mt, "n_paired", offsetof(cmprow_t, n_paired), H5T_NATIVE_LLONG);
    H5Tinsert(mt, "significant", offsetof(cmprow_t, significant), H5T_NATIVE_LLONG);
    H5Tinsert(mt, "verdict", offsetof(cmprow_t, verdict), H5T_NATIVE_LLONG);
    cmprow_t *rows = calloc(n ? n : 1, sizeof *rows);
    cr_assert_geq(H5Dread(ds, mt, H5S_ALL, H5S_ALL, H5P_DEFAULT, rows), 0);
    H5Tclose(s64);
    H5Tclose(mt);
    H5Sclose(sp);
    H5Dclose(ds);
    cmprow_t out;
    size_t i = 0;
    while (i < n && (strcmp(rows[i].variant, variant) || strcmp(rows[i].metric, metric))) i++;
    cr_assert_lt(i, n, "/comparison has no row (%s, %s)", variant, metric);
    out = rows[i];
    free(rows);
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
