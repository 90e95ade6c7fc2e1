/* sim/trace: sets of time series (sim/trace_series.c), written whole and
 * appended in blocks, read back with the raw HDF5 API: t, values row by
 * row, the series table, the layout, and the refusals. */
#include <criterion/criterion.h>
#include <hdf5.h>
#include <hdf5_hl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sim/error.h"
#include "sim/trace.h"
#include "h5util.h"
#include "testutil.h"
#include "tracefx.h"

/* ---- sets of time series -------------------------------------------------- */

/* The series table of `group`, checked to hold `n` rows. */
static series_info_t *read_series_table_(hid_t f, const char *group, size_t n)
{
    series_info_t *rows;
    cr_assert_eq(series_table(f, group, &rows), n, "%s/series: one row per series", group);
    return rows;
}

/* `group`/values: rank 2, dims {rows, n}, read whole (row-major). */
static double *read_values_(hid_t f, const char *group, size_t rows, size_t n, hid_t *dcpl)
{
    char p[256];
    snprintf(p, sizeof p, "%s/values", group);
    hid_t d = H5Dopen2(f, p, H5P_DEFAULT);
    cr_assert_geq(d, 0, "%s missing", p);
    hid_t ty = H5Dget_type(d);
    cr_assert_gt(H5Tequal(ty, H5T_IEEE_F64LE), 0);
    H5Tclose(ty);
    hid_t sp = H5Dget_space(d);
    cr_assert_eq(H5Sget_simple_extent_ndims(sp), 2);
    hsize_t dims[2];
    H5Sget_simple_extent_dims(sp, dims, NULL);
    H5Sclose(sp);
    cr_assert_eq(dims[0], rows, "rows %llu, want %zu", (unsigned long long)dims[0], rows);
    cr_assert_eq(dims[1], n, "samples %llu, want %zu", (unsigned long long)dims[1], n);
    size_t total = rows * n;
    double *v = calloc(total ? total : 1, sizeof *v);
    if (total > 0) cr_assert_geq(H5Dread(d, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, v), 0);
    *dcpl = H5Dget_create_plist(d);
    H5Dclose(d);
    return v;
}

static double *read_t_(hid_t f, const char *group, size_t n)
{
    char p[256];
    snprintf(p, sizeof p, "%s/t", group);
    hid_t d = H5Dopen2(f, p, H5P_DEFAULT);
    cr_assert_geq(d, 0, "%s missing", p);
    cr_assert_eq(dims_(d), n);
    double *t = calloc(n ? n : 1, sizeof *t);
    if (n) cr_assert_geq(H5Dread(d, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, t), 0);
    H5Dclose(d);
    char *u = read_str_attr_(f, p, "unit");
    cr_assert_str_eq(u, "s");
    free(u);
    return t;
}

/* The fixture's series: three series of n samples, all bits distinct. */
static const char *const sn_[] = {"success_ratio", "queue_length{station=db}", "memory_bytes"};
static const char *const su_[] = {"1", NULL, "bytes"};
static const char *const sd_[] = {"completed / ended", "jobs waiting at db", NULL};

static void fill_(double *t, double *c[3], size_t n)
{
    for (size_t i = 0; i < n; i++) {
        t[i] = (double)(i + 1) * 0.5;
        c[0][i] = 1.0 - (double)i * 1e-7;
        c[1][i] = (double)(i % 17);
        c[2][i] = 1e9 + (double)i * 4096.25;
    }
    if (n > 2) {
        c[0][1] = NAN;
        c[1][2] = -0.0;
    }
}

/* The fixture's times (returned) and series (c), n samples each. */
static double *fixture_(double *c[3], size_t n)
{
    double *t = malloc(n * sizeof *t);
    for (size_t k = 0; k < 3; k++) c[k] = malloc(n * sizeof *c[k]);
    fill_(t, c, n);
    return t;
}

static void fixture_free_(double *t, double *c[3])
{
    for (size_t k = 0; k < 3; k++) free(c[k]);
    free(t);
}

static void assert_set_(hid_t f, const char *group, const double *t, double *const c[3], size_t n,
                        hid_t *dcpl)
{
    double *tr = read_t_(f, group, n);
    cr_assert_eq(memcmp(tr, t, n * sizeof *t), 0, "t: every bit");
    double *v = read_values_(f, group, 3, n, dcpl);
    for (size_t k = 0; k < 3; k++)
        cr_assert_eq(memcmp(v + k * n, c[k], n * sizeof *v), 0, "row %zu is series %zu, every bit", k, k);
    series_info_t *rows = read_series_table_(f, group, 3);
    for (size_t k = 0; k < 3; k++) {
        cr_assert_str_eq(rows[k].name, sn_[k]);
        cr_assert_str_eq(rows[k].unit, su_[k] ? su_[k] : "");
        cr_assert_str_eq(rows[k].description, sd_[k] ? sd_[k] : "");
    }
    free(rows);
    free(v);
    free(tr);
}

Test(trace_series, series_set_is_three_datasets_row_i_series_i)
{
    char *path = tu_tmp_path("sset", ".h5");
    sim_trace_t *tr = create_(path);
    size_t n = 600;   /* a row of 4.8 KB: contiguous */
    double *c[3], *t = fixture_(c, n);
    cr_assert_eq(sim_trace_series(tr, "/runs/default/rep000/timeseries", 3, sn_, su_, sd_, t,
                                  (const double *const *)c, n), 0, "%s", sim_trace_errmsg(tr));
    commit_(tr);
    hid_t f = open_(path);
    hid_t g = H5Gopen2(f, "/runs/default/rep000/timeseries", H5P_DEFAULT);
    H5G_info_t gi;
    H5Gget_info(g, &gi);
    cr_assert_eq(gi.nlinks, 4, "t, values, series, name and nothing else");
    H5Gclose(g);
    /* name: the series' names as variable-length UTF-8 strings, the scale of
     * values' dimension 0 (and t that of dimension 1) */
    hid_t dn = H5Dopen2(f, "/runs/default/rep000/timeseries/name", H5P_DEFAULT);
    hid_t dv = H5Dopen2(f, "/runs/default/rep000/timeseries/values", H5P_DEFAULT);
    hid_t dt = H5Dopen2(f, "/runs/default/rep000/timeseries/t", H5P_DEFAULT);
    hid_t nt = H5Dget_type(dn);
    cr_assert(H5Tis_variable_str(nt) > 0 && H5Tget_cset(nt) == H5T_CSET_UTF8);
    char *names[3] = {0};
    cr_assert_geq(H5Dread(dn, nt, H5S_ALL, H5S_ALL, H5P_DEFAULT, names), 0);
    for (size_t k = 0; k < 3; k++) cr_assert_str_eq(names[k], sn_[k]);
    hid_t sp = H5Dget_space(dn);
    H5Dvlen_reclaim(nt, sp, H5P_DEFAULT, names);
    H5Sclose(sp);
    cr_assert_eq(H5DSis_scale(dn), 1);
    cr_assert_eq(H5DSis_attached(dv, dn, 0), 1);
    cr_assert_eq(H5DSis_attached(dv, dt, 1), 1);
    H5Tclose(nt);
    H5Dclose(dn);
    H5Dclose(dv);
    H5Dclose(dt);
    hid_t dcpl;
    assert_set_(f, "/runs/default/rep000/timeseries", t, c, n, &dcpl);
    cr_assert_eq(H5Pget_layout(dcpl), H5D_CONTIGUOUS, "rows under 16 KiB: contiguous");
    H5Pclose(dcpl);
    H5Fclose(f);
    fixture_free_(t, c);
    unlink(path);
    free(path);
}

Test(trace_series, series_set_with_rows_of_16_kib_is_compressed_in_chunks_of_1024_samples)
{
    char *path = tu_tmp_path("sset", ".h5");
    sim_trace_t *tr = create_(path);
    size_t n = 2048;  /* a row of exactly 16 KiB */
    double *c[3], *t = fixture_(c, n);
    cr_assert_eq(sim_trace_series(tr, "/g", 3, sn_, su_, sd_, t, (const double *const *)c, n), 0, "%s",
                 sim_trace_errmsg(tr));
    /* one sample fewer: contiguous */
    cr_assert_eq(sim_trace_series(tr, "/h", 3, sn_, su_, sd_, t, (const double *const *)c, n - 1), 0);
    commit_(tr);
    hid_t f = open_(path);
    hid_t dcpl;
    assert_set_(f, "/g", t, c, n, &dcpl);
    cr_assert_eq(H5Pget_layout(dcpl), H5D_CHUNKED);
    hsize_t ch[2];
    cr_assert_eq(H5Pget_chunk(dcpl, 2, ch), 2);
    cr_assert_eq(ch[0], 3, "all 3 rows (8 would make 64 KiB)");
    cr_assert_eq(ch[1], 1024);
    cr_assert_eq(H5Pget_nfilters(dcpl), 2, "shuffle + deflate");
    H5Pclose(dcpl);
    double *v = read_values_(f, "/h", 3, n - 1, &dcpl);
    cr_assert_eq(H5Pget_layout(dcpl), H5D_CONTIGUOUS);
    H5Pclose(dcpl);
    free(v);
    H5Fclose(f);
    fixture_free_(t, c);
    unlink(path);
    free(path);
}

Test(trace_series, series_appended_in_blocks_equal_the_set_written_at_once)
{
    char *path = tu_tmp_path("sout", ".h5");
    sim_trace_t *tr = create_(path);
    size_t n = 2500;   /* 1024 + 1024 + 452 */
    double *c[3], *t = fixture_(c, n);
    int err = -1;
    sim_trace_series_out_t *o = sim_trace_series_open(tr, "/runs/v/rep001/timeseries", 3, sn_, su_, sd_, 1024, &err);
    cr_assert_not_null(o, "%d %s", err, sim_trace_errmsg(tr));
    cr_assert_eq(err, 0);
    for (size_t at = 0; at < n; at += 1024) {
        size_t rows = n - at < 1024 ? n - at : 1024;
        const double *cols[3] = {c[0] + at, c[1] + at, c[2] + at};
        cr_assert_eq(sim_trace_series_append(o, t + at, cols, rows), 0, "%s", sim_trace_errmsg(tr));
    }
    cr_assert_eq(sim_trace_series_append(o, t, (const double *const *)c, 0), 0, "no rows: nothing");
    cr_assert_eq(sim_trace_series_close(o), 0);
    cr_assert_eq(sim_trace_series(tr, "/once", 3, sn_, su_, sd_, t, (const double *const *)c, n), 0);
    commit_(tr);
    hid_t f = open_(path);
    hid_t d1, d2;
    assert_set_(f, "/runs/v/rep001/timeseries", t, c, n, &d1);
    assert_set_(f, "/once", t, c, n, &d2);
    /* the same layout both ways */
    hsize_t c1[2], c2[2];
    cr_assert_eq(H5Pget_chunk(d1, 2, c1), 2);
    cr_assert_eq(H5Pget_chunk(d2, 2, c2), 2);
    cr_assert(c1[0] == c2[0] && c1[1] == c2[1] && c1[1] == 1024);
    cr_assert_eq(H5Pget_nfilters(d1), 2);
    cr_assert_eq(H5Pget_nfilters(d2), 2);
    H5Pclose(d1);
    H5Pclose(d2);
    H5Fclose(f);
    fixture_free_(t, c);
    unlink(path);
    free(path);
}

Test(trace_series, series_set_without_series_or_samples_is_empty_not_an_error)
{
    char *path = tu_tmp_path("sset0", ".h5");
    sim_trace_t *tr = create_(path);
    double t[4] = {1, 2, 3, 4};
    cr_assert_eq(sim_trace_series(tr, "/none", 0, NULL, NULL, NULL, t, NULL, 4), 0, "%s", sim_trace_errmsg(tr));
    cr_assert_eq(sim_trace_series(tr, "/nosamples", 3, sn_, su_, sd_, NULL, NULL, 0), 0, "%s", sim_trace_errmsg(tr));
    int err = -1;
    sim_trace_series_out_t *o = sim_trace_series_open(tr, "/none_out", 0, NULL, NULL, NULL, 16, &err);
    cr_assert_not_null(o, "%s", sim_trace_errmsg(tr));
    cr_assert_eq(sim_trace_series_append(o, t, NULL, 4), 0, "%s", sim_trace_errmsg(tr));
    cr_assert_eq(sim_trace_series_close(o), 0);
    commit_(tr);
    hid_t f = open_(path);
    hid_t dcpl;
    double *v = read_values_(f, "/none", 0, 4, &dcpl);
    H5Pclose(dcpl);
    free(v);
    free(read_series_table_(f, "/none", 0));
    double *tt = read_t_(f, "/none_out", 4);
    cr_assert_eq(tt[3], 4.0);
    free(tt);
    v = read_values_(f, "/none_out", 0, 0, &dcpl);
    H5Pclose(dcpl);
    free(v);
    v = read_values_(f, "/nosamples", 3, 0, &dcpl);
    H5Pclose(dcpl);
    free(v);
    free(read_t_(f, "/nosamples", 0));
    free(read_series_table_(f, "/nosamples", 3));
    H5Fclose(f);
    unlink(path);
    free(path);
}

Test(trace_series, bad_series_sets_are_refused_with_a_message)
{
    char *path = tu_tmp_path("ssetbad", ".h5");
    sim_trace_t *tr = create_(path);
    double t[2] = {1, 2}, x[2] = {3, 4};
    const double *cols[3] = {x, x, NULL};
    const char *noname[] = {"a", "", "c"};
    cr_assert_eq(sim_trace_series(tr, "/a", 3, noname, NULL, NULL, t, cols, 2), SIM_EINVAL);
    cr_assert(strstr(sim_trace_errmsg(tr), "without a name"), "%s", sim_trace_errmsg(tr));
    cr_assert_eq(sim_trace_series(tr, "/b", 3, sn_, su_, sd_, t, cols, 2), SIM_EINVAL, "NULL column");
    cr_assert(strstr(sim_trace_errmsg(tr), "NULL data"), "%s", sim_trace_errmsg(tr));
    cr_assert_eq(sim_trace_series(tr, "relative", 2, sn_, su_, sd_, t, cols, 2), SIM_EINVAL);
    cr_assert(strstr(sim_trace_errmsg(tr), "relative"), "%s", sim_trace_errmsg(tr));
    cr_assert_eq(sim_trace_series(tr, "/c", 2, sn_, su_, sd_, t, cols, 2), 0, "%s", sim_trace_errmsg(tr));
    cr_assert_neq(sim_trace_series(tr, "/c", 2, sn_, su_, sd_, t, cols, 2), 0, "written twice");
    cr_assert(strstr(sim_trace_errmsg(tr), "/c/t") && strstr(sim_trace_errmsg(tr), "already exists"), "%s",
              sim_trace_errmsg(tr));
    int err = 0;
    cr_assert_null(sim_trace_series_open(tr, "/c", 2, sn_, su_, sd_, 16, &err));
    cr_assert_neq(err, 0);
    cr_assert_null(sim_trace_series_open(tr, "/d", 2, sn_, su_, sd_, 0, &err), "chunk of 0 samples");
    cr_assert_eq(err, SIM_EINVAL);
    sim_trace_series_out_t *o = sim_trace_series_open(tr, "/e", 3, sn_, su_, sd_, 16, &err);
    cr_assert_not_null(o);
    cr_assert_eq(sim_trace_series_append(o, t, cols, 2), SIM_EINVAL, "NULL column");
    cr_assert_eq(sim_trace_series_append(o, NULL, cols, 2), SIM_EINVAL, "NULL times");
    cr_assert_eq(sim_trace_series_close(o), 0);
    cr_assert_eq(sim_trace_series_append(NULL, t, cols, 2), SIM_EINVAL);
    cr_assert_eq(sim_trace_series_close(NULL), 0);
    sim_trace_abort(tr);
    free(path);
}
