/* sim/trace: 1-D datasets and compound tables (sim/trace_dataset.c),
 * written with the API and read back with the raw HDF5 API: values bit for
 * bit, types, units, layout (contiguous, chunked, compressed), and the
 * messages for bad paths. */
#include <criterion/criterion.h>
#include <hdf5.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sim/error.h"
#include "sim/table.h"
#include "sim/trace.h"
#include "testutil.h"
#include "tracefx.h"

/* ---- helpers ------------------------------------------------------------ */

/* Chunked with the given chunk length; when `compressed`, shuffle then
 * deflate level 4, otherwise no filter (datasets under 16 KiB). */
static void assert_chunked_(hid_t d, hsize_t chunk, bool compressed)
{
    hid_t dcpl = H5Dget_create_plist(d);
    cr_assert_eq(H5Pget_layout(dcpl), H5D_CHUNKED);
    hsize_t c = 0;
    cr_assert_eq(H5Pget_chunk(dcpl, 1, &c), 1);
    cr_assert_eq(c, chunk, "chunk %llu, want %llu", (unsigned long long)c,
                 (unsigned long long)chunk);
    if (!compressed) {
        cr_assert_eq(H5Pget_nfilters(dcpl), 0, "a small dataset is stored without filters");
        H5Pclose(dcpl);
        return;
    }
    cr_assert_eq(H5Pget_nfilters(dcpl), 2);
    unsigned flags, cd[4];
    size_t ncd = 4;
    cr_assert_eq(H5Pget_filter2(dcpl, 0, &flags, &ncd, cd, 0, NULL, NULL), H5Z_FILTER_SHUFFLE);
    ncd = 4;
    cr_assert_eq(H5Pget_filter2(dcpl, 1, &flags, &ncd, cd, 0, NULL, NULL), H5Z_FILTER_DEFLATE);
    cr_assert_eq(ncd, 1);
    cr_assert_eq(cd[0], 4, "deflate level %u", cd[0]);
    H5Pclose(dcpl);
}

/* Small non-empty datasets: contiguous, fixed size, no filter. */
static void assert_contiguous_(hid_t d, hsize_t n)
{
    hid_t dcpl = H5Dget_create_plist(d);
    cr_assert_eq(H5Pget_layout(dcpl), H5D_CONTIGUOUS);
    cr_assert_eq(H5Pget_nfilters(dcpl), 0, "a small dataset is stored without filters");
    H5Pclose(dcpl);
    hid_t sp = H5Dget_space(d);
    hsize_t cur = 0, max = 0;
    H5Sget_simple_extent_dims(sp, &cur, &max);
    H5Sclose(sp);
    cr_assert_eq(cur, n);
    cr_assert_eq(max, n, "fixed size");
}

static const char *expect_name_(size_t i)
{
    static const char *const want[] = {"", "ok", "abcdefg", "abcdefg", "x\xC3\xA9y"};
    return want[i % 5];
}

/* Test-side row layout: different order and padding from the table's, so
 * the members must be matched by name; the string read as a variable-length
 * string (HDF5 allocates it: H5Dvlen_reclaim frees it). */
typedef struct {
    char *name;
    int64_t bytes;
    double t;
    int64_t id;
} rec_t;

static hid_t rec_type_(void)
{
    hid_t s = H5Tcopy(H5T_C_S1);
    H5Tset_size(s, H5T_VARIABLE);
    H5Tset_strpad(s, H5T_STR_NULLTERM);
    H5Tset_cset(s, H5T_CSET_UTF8);
    hid_t ty = H5Tcreate(H5T_COMPOUND, sizeof(rec_t));
    H5Tinsert(ty, "name", offsetof(rec_t, name), s);
    H5Tinsert(ty, "bytes", offsetof(rec_t, bytes), H5T_NATIVE_INT64);
    H5Tinsert(ty, "t", offsetof(rec_t, t), H5T_NATIVE_DOUBLE);
    H5Tinsert(ty, "id", offsetof(rec_t, id), H5T_NATIVE_INT64);
    H5Tclose(s);
    return ty;
}

/* ---- datasets ----------------------------------------------------------- */

Test(trace_dataset, f64_and_i64_series_round_trip_with_unit_and_description)
{
    char *path = tu_tmp_path("series", ".h5");
    sim_trace_t *t = create_(path);
    size_t n = 100000; /* two chunks */
    double *x = malloc(n * sizeof *x);
    int64_t *k = malloc(n * sizeof *k);
    for (size_t i = 0; i < n; i++) {
        x[i] = (double)i * 1e-3 - 7.25;
        k[i] = (int64_t)(i * i) - INT64_C(5000000000);
    }
    x[1] = -0.0;
    x[2] = 1e308;
    cr_assert_eq(sim_trace_f64(t, "/runs/default/rep000/timeseries/t", x, n, "s", "time"), 0,
                 "%s", sim_trace_errmsg(t));
    cr_assert_eq(sim_trace_i64(t, "/runs/default/rep000/timeseries/k", k, n, "bytes", NULL), 0,
                 "%s", sim_trace_errmsg(t));
    commit_(t);

    hid_t f = open_(path);
    hid_t d = H5Dopen2(f, "/runs/default/rep000/timeseries/t", H5P_DEFAULT);
    cr_assert_geq(d, 0);
    hid_t ty = H5Dget_type(d);
    cr_assert_gt(H5Tequal(ty, H5T_IEEE_F64LE), 0);
    H5Tclose(ty);
    cr_assert_eq(dims_(d), n);
    double *xr = malloc(n * sizeof *xr);
    cr_assert_geq(H5Dread(d, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, xr), 0);
    cr_assert_eq(memcmp(x, xr, n * sizeof *x), 0, "every bit of every double");
    assert_chunked_(d, 65536, true);
    H5Dclose(d);
    char *u = read_str_attr_(f, "/runs/default/rep000/timeseries/t", "unit");
    char *desc = read_str_attr_(f, "/runs/default/rep000/timeseries/t", "description");
    cr_assert_str_eq(u, "s");
    cr_assert_str_eq(desc, "time");
    free(u);
    free(desc);

    d = H5Dopen2(f, "/runs/default/rep000/timeseries/k", H5P_DEFAULT);
    cr_assert_geq(d, 0);
    ty = H5Dget_type(d);
    cr_assert_gt(H5Tequal(ty, H5T_STD_I64LE), 0);
    H5Tclose(ty);
    cr_assert_eq(dims_(d), n);
    int64_t *kr = malloc(n * sizeof *kr);
    cr_assert_geq(H5Dread(d, H5T_NATIVE_INT64, H5S_ALL, H5S_ALL, H5P_DEFAULT, kr), 0);
    for (size_t i = 0; i < n; i++) cr_assert_eq(kr[i], k[i], "k[%zu]", i);
    assert_chunked_(d, 65536, true);
    cr_assert_eq(H5Aexists(d, "description"), 0, "no description when NULL");
    H5Dclose(d);
    u = read_str_attr_(f, "/runs/default/rep000/timeseries/k", "unit");
    cr_assert_str_eq(u, "bytes");
    free(u);
    H5Fclose(f);
    free(x);
    free(xr);
    free(k);
    free(kr);
    unlink(path);
    free(path);
}

Test(trace_dataset, compressible_series_is_stored_compressed)
{
    char *path = tu_tmp_path("compress", ".h5");
    sim_trace_t *t = create_(path);
    size_t n = 50000;
    double *x = calloc(n, sizeof *x);
    for (size_t i = 0; i < n; i++) x[i] = (double)(i / 1000);
    cr_assert_eq(sim_trace_f64(t, "/x", x, n, "1", NULL), 0);
    double small[3] = {1, 2, 3};
    cr_assert_eq(sim_trace_f64(t, "/small", small, 3, "1", NULL), 0);
    commit_(t);
    hid_t f = open_(path);
    hid_t d = H5Dopen2(f, "/x", H5P_DEFAULT);
    hsize_t stored = H5Dget_storage_size(d);
    cr_assert_lt(stored, n * sizeof(double) / 20, "stored %llu bytes", (unsigned long long)stored);
    assert_chunked_(d, n, true);             /* min(n, 64 Ki) */
    H5Dclose(d);
    d = H5Dopen2(f, "/small", H5P_DEFAULT);
    assert_contiguous_(d, 3);                /* 24 bytes: no filter, no chunk index */
    H5Dclose(d);
    H5Fclose(f);
    free(x);
    unlink(path);
    free(path);
}

Test(trace_dataset, empty_series_reads_back_zero_elements)
{
    char *path = tu_tmp_path("empty", ".h5");
    sim_trace_t *t = create_(path);
    cr_assert_eq(sim_trace_f64(t, "/e/f", NULL, 0, "s", NULL), 0, "%s", sim_trace_errmsg(t));
    cr_assert_eq(sim_trace_i64(t, "/e/i", NULL, 0, "1", "none"), 0, "%s", sim_trace_errmsg(t));
    commit_(t);
    hid_t f = open_(path);
    const char *ps[] = {"/e/f", "/e/i"};
    for (int i = 0; i < 2; i++) {
        hid_t d = H5Dopen2(f, ps[i], H5P_DEFAULT);
        cr_assert_geq(d, 0);
        cr_assert_eq(dims_(d), 0);
        assert_chunked_(d, 1, false);
        double dummy;
        cr_assert_geq(H5Dread(d, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, &dummy), 0);
        H5Dclose(d);
    }
    H5Fclose(f);
    unlink(path);
    free(path);
}

Test(trace_dataset, bad_dataset_and_group_paths_report_messages)
{
    char *path = tu_tmp_path("badpath", ".h5");
    sim_trace_t *t = create_(path);
    double x[2] = {1, 2};
    const char *bad[] = {"rel/x", "/a//b", "/a/", "/", ""};
    for (int i = 0; i < 5; i++) {
        cr_assert_eq(sim_trace_f64(t, bad[i], x, 2, "s", NULL), SIM_EINVAL, "%s", bad[i]);
        cr_assert_not_null(strstr(sim_trace_errmsg(t), "path"), "%s", sim_trace_errmsg(t));
    }
    cr_assert_eq(sim_trace_group(t, "a/b"), SIM_EINVAL);
    cr_assert_eq(sim_trace_f64(t, "/d", NULL, 2, "s", NULL), SIM_EINVAL, "NULL data, n > 0");
    cr_assert_eq(sim_trace_f64(t, "/d", x, 2, "s", NULL), 0);
    cr_assert_eq(sim_trace_f64(t, "/d", x, 2, "s", NULL), SIM_EINVAL, "exists");
    cr_assert_not_null(strstr(sim_trace_errmsg(t), "'/d': already exists"), "%s",
                       sim_trace_errmsg(t));
    cr_assert_eq(sim_trace_group(t, "/d"), SIM_EINVAL);
    cr_assert_not_null(strstr(sim_trace_errmsg(t), "not a group"), "%s", sim_trace_errmsg(t));
    cr_assert_eq(sim_trace_i64(t, "/d/under", NULL, 0, "1", NULL), SIM_EINVAL);
    cr_assert_not_null(strstr(sim_trace_errmsg(t), "'/d': exists and is not a group"), "%s",
                       sim_trace_errmsg(t));
    cr_log_info("message: %s", sim_trace_errmsg(t));
    cr_assert_eq(sim_trace_attr_i64(t, "/d/under", "n", 1), SIM_EINVAL);
    cr_assert_eq(sim_trace_attr_i64(t, "/g", "", 1), SIM_EINVAL, "empty attribute name");
    cr_assert_eq(sim_trace_attr_str(t, "/g", "s", NULL), SIM_EINVAL, "NULL value");
    cr_assert_eq(sim_trace_group(t, "/g/h"), 0, "the trace is still usable");
    commit_(t);
    hid_t f = open_(path);
    cr_assert_gt(H5Lexists(f, "/g/h", H5P_DEFAULT), 0);
    cr_assert_eq(H5Aexists_by_name(f, "/g", "s", H5P_DEFAULT), 0, "refused attribute not written");
    H5Fclose(f);
    unlink(path);
    free(path);
}

/* Compression starts at 16 KiB of data: 2047 doubles are stored as they are,
 * 2048 shuffled and deflated; both read back bit for bit. */
Test(trace_dataset, compression_threshold_is_16_kib)
{
    char *path = tu_tmp_path("threshold", ".h5");
    sim_trace_t *t = create_(path);
    double x[2048];
    for (size_t i = 0; i < 2048; i++) x[i] = 0.1 * (double)i;
    cr_assert_eq(sim_trace_f64(t, "/below", x, 2047, "1", NULL), 0);
    cr_assert_eq(sim_trace_f64(t, "/at", x, 2048, "1", NULL), 0);
    commit_(t);
    hid_t f = open_(path);
    const char *names[] = {"/below", "/at"};
    for (int k = 0; k < 2; k++) {
        hid_t d = H5Dopen2(f, names[k], H5P_DEFAULT);
        cr_assert_geq(d, 0);
        size_t n = k ? 2048 : 2047;
        if (k == 1) assert_chunked_(d, n, true);
        else assert_contiguous_(d, n);
        double xr[2048];
        cr_assert_geq(H5Dread(d, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, xr), 0);
        cr_assert_eq(memcmp(x, xr, n * sizeof *x), 0, "%s: every bit of every double", names[k]);
        H5Dclose(d);
    }
    H5Fclose(f);
    unlink(path);
    free(path);
}

/* ---- tables ------------------------------------------------------------- */

Test(trace_dataset, table_round_trips_through_hdf5)
{
    char *path = tu_tmp_path("table", ".h5");
    events_t e;
    /* 40-byte packed rows in the file (a string is a 16-byte reference to the
     * global heap): 1638 per 64 KiB chunk, 4 chunks; written in two blocks
     * of staged rows (4096 and 904) */
    size_t n = 5000;
    events_fill_(&e, n);
    sim_trace_t *t = create_(path);
    cr_assert_eq(sim_trace_table(t, "/runs/default/rep000/events", &e.tab), 0, "%s",
                 sim_trace_errmsg(t));
    commit_(t);

    hid_t f = open_(path);
    hid_t d = H5Dopen2(f, "/runs/default/rep000/events", H5P_DEFAULT);
    cr_assert_geq(d, 0);
    cr_assert_eq(dims_(d), n);
    assert_chunked_(d, 1638, true);

    /* File type: packed, little-endian, members in column order, the string
     * variable-length UTF-8. */
    hid_t ft = H5Dget_type(d);
    cr_assert_eq(H5Tget_class(ft), H5T_COMPOUND);
    cr_assert_eq(H5Tget_nmembers(ft), 4);
    /* H5Dget_type gives the type as laid out in memory: the string member a
     * pointer (8 bytes; in the file a 16-byte heap reference, which the
     * chunk size above counts) */
    cr_assert_eq(H5Tget_size(ft), 32);
    const char *mn[] = {"id", "t", "name", "bytes"};
    size_t moff[] = {0, 8, 16, 24};
    for (unsigned i = 0; i < 4; i++) {
        char *nm = H5Tget_member_name(ft, i);
        cr_assert_str_eq(nm, mn[i]);
        H5free_memory(nm);
        cr_assert_eq(H5Tget_member_offset(ft, i), moff[i]);
        hid_t mt = H5Tget_member_type(ft, i);
        if (i == 1) cr_assert_gt(H5Tequal(mt, H5T_IEEE_F64LE), 0);
        else if (i == 2) {
            cr_assert_eq(H5Tget_class(mt), H5T_STRING);
            cr_assert_gt(H5Tis_variable_str(mt), 0);
            cr_assert_eq(H5Tget_strpad(mt), H5T_STR_NULLTERM);
            cr_assert_eq(H5Tget_cset(mt), H5T_CSET_UTF8);
        } else cr_assert_gt(H5Tequal(mt, H5T_STD_I64LE), 0);
        H5Tclose(mt);
    }
    H5Tclose(ft);

    rec_t *r = calloc(n, sizeof *r);
    hid_t rt = rec_type_();
    cr_assert_geq(H5Dread(d, rt, H5S_ALL, H5S_ALL, H5P_DEFAULT, r), 0);
    for (size_t i = 0; i < n; i++) {
        cr_assert_eq(r[i].id, (int64_t)i - 2, "id[%zu]", i);
        cr_assert_eq(r[i].t, (double)i * 0.1 + 1e-9, "t[%zu]", i);
        cr_assert_str_eq(r[i].name, expect_name_(i), "name[%zu]", i);
        cr_assert_eq(r[i].bytes, INT64_MAX - (int64_t)i, "bytes[%zu]", i);
        cr_assert_str_eq(r[i].name, sim_table_get_str(&e.tab, i, e.name));
    }
    hid_t rs = H5Dget_space(d);
    H5Dvlen_reclaim(rt, rs, H5P_DEFAULT, r);
    H5Sclose(rs);
    H5Tclose(rt);
    free(r);

    /* "units": variable-length string array in column order. */
    hid_t a = H5Aopen(d, "units", H5P_DEFAULT);
    cr_assert_geq(a, 0);
    hid_t at = H5Aget_type(a);
    cr_assert_eq(H5Tget_class(at), H5T_STRING);
    cr_assert_gt(H5Tis_variable_str(at), 0);
    cr_assert_eq(H5Tget_cset(at), H5T_CSET_UTF8);
    hid_t as = H5Aget_space(a);
    hsize_t na = 0;
    H5Sget_simple_extent_dims(as, &na, NULL);
    cr_assert_eq(na, 4);
    char *ub[4] = {NULL, NULL, NULL, NULL};
    cr_assert_geq(H5Aread(a, at, ub), 0);
    const char *units[] = {"1", "s", "", "bytes"};
    for (int i = 0; i < 4; i++) cr_assert_str_eq(ub[i], units[i], "unit %d", i);
    H5Dvlen_reclaim(at, as, H5P_DEFAULT, ub);
    H5Sclose(as);
    H5Tclose(at);
    H5Aclose(a);
    cr_assert_eq(read_i64_attr_(f, "/runs/default/rep000/events", "dropped_rows"), 0);
    H5Dclose(d);
    H5Fclose(f);
    sim_table_fini(&e.tab);
    unlink(path);
    free(path);
}

Test(trace_dataset, table_limit_writes_stored_rows_and_dropped_count)
{
    char *path = tu_tmp_path("dropped", ".h5");
    events_t e;
    sim_table_init(&e.tab, "events");
    e.id = sim_table_col_i64(&e.tab, "id", "1");
    e.tab.max_rows = 2;
    for (int64_t i = 0; i < 7; i++) {
        unsigned char *row = sim_table_append(&e.tab);
        if (row) sim_row_i64(&e.tab, row, e.id, 10 + i);
    }
    sim_trace_t *t = create_(path);
    cr_assert_eq(sim_trace_table(t, "/ev", &e.tab), 0, "%s", sim_trace_errmsg(t));
    commit_(t);
    hid_t f = open_(path);
    hid_t d = H5Dopen2(f, "/ev", H5P_DEFAULT);
    cr_assert_eq(dims_(d), 2);
    int64_t v[2] = {0, 0};
    hid_t mt = H5Tcreate(H5T_COMPOUND, sizeof(int64_t));
    H5Tinsert(mt, "id", 0, H5T_NATIVE_INT64);
    cr_assert_geq(H5Dread(d, mt, H5S_ALL, H5S_ALL, H5P_DEFAULT, v), 0);
    cr_assert_eq(v[0], 10);
    cr_assert_eq(v[1], 11);
    H5Tclose(mt);
    H5Dclose(d);
    cr_assert_eq(read_i64_attr_(f, "/ev", "dropped_rows"), 5);
    H5Fclose(f);
    sim_table_fini(&e.tab);
    unlink(path);
    free(path);
}

Test(trace_dataset, empty_table_writes_an_empty_dataset)
{
    char *path = tu_tmp_path("emptytab", ".h5");
    events_t e;
    events_fill_(&e, 0);
    sim_trace_t *t = create_(path);
    cr_assert_eq(sim_trace_table(t, "/s/events", &e.tab), 0, "%s", sim_trace_errmsg(t));
    commit_(t);
    hid_t f = open_(path);
    hid_t d = H5Dopen2(f, "/s/events", H5P_DEFAULT);
    cr_assert_geq(d, 0);
    cr_assert_eq(dims_(d), 0);
    hid_t ft = H5Dget_type(d);
    cr_assert_eq(H5Tget_nmembers(ft), 4, "the columns are declared even without rows");
    H5Tclose(ft);
    assert_chunked_(d, 1, false);
    rec_t dummy;
    hid_t rt = rec_type_();
    cr_assert_geq(H5Dread(d, rt, H5S_ALL, H5S_ALL, H5P_DEFAULT, &dummy), 0);
    H5Tclose(rt);
    H5Dclose(d);
    cr_assert_eq(read_i64_attr_(f, "/s/events", "dropped_rows"), 0);
    H5Fclose(f);
    sim_table_fini(&e.tab);
    unlink(path);
    free(path);
}

Test(trace_dataset, table_without_columns_is_refused)
{
    char *path = tu_tmp_path("nocols", ".h5");
    sim_table_t tab;
    sim_table_init(&tab, "x");
    sim_trace_t *t = create_(path);
    cr_assert_eq(sim_trace_table(t, "/x", &tab), SIM_EINVAL);
    cr_assert_not_null(strstr(sim_trace_errmsg(t), "no columns"), "%s", sim_trace_errmsg(t));
    sim_trace_abort(t);
    sim_table_fini(&tab);
    free(path);
}
