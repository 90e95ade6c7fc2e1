/* sim/trace: write with the API, read back with the raw HDF5 API. */
#include <criterion/criterion.h>
#include <errno.h>
#include <hdf5.h>
#include <math.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sim/error.h"
#include "sim/table.h"
#include "sim/trace.h"
#include "h5util.h"
#include "testutil.h"

/* ---- helpers ------------------------------------------------------------ */

static int exists_(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0;
}

static sim_trace_t *create_(const char *path)
{
    int err = 1;
    char eb[512] = "x";
    sim_trace_t *t = sim_trace_create(path, &err, eb, sizeof eb);
    cr_assert_not_null(t, "create %s: %d %s", path, err, eb);
    cr_assert_eq(err, 0);
    return t;
}

static void commit_(sim_trace_t *t)
{
    char eb[512] = "";
    int rc = sim_trace_commit(t, eb, sizeof eb);
    cr_assert_eq(rc, 0, "commit: %d %s", rc, eb);
}

static hid_t open_(const char *path)
{
    hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    cr_assert_geq(f, 0, "H5Fopen %s", path);
    return f;
}

/* Read a fixed-length, NUL-terminated UTF-8 string attribute (checked). */
static char *read_str_attr_(hid_t f, const char *obj, const char *name)
{
    hid_t a = H5Aopen_by_name(f, obj, name, H5P_DEFAULT, H5P_DEFAULT);
    cr_assert_geq(a, 0, "attribute %s on %s", name, obj);
    hid_t ty = H5Aget_type(a);
    cr_assert_eq(H5Tget_class(ty), H5T_STRING);
    cr_assert_eq(H5Tis_variable_str(ty), 0);
    cr_assert_eq(H5Tget_strpad(ty), H5T_STR_NULLTERM);
    cr_assert_eq(H5Tget_cset(ty), H5T_CSET_UTF8);
    hid_t sp = H5Aget_space(a);
    cr_assert_eq(H5Sget_simple_extent_type(sp), H5S_SCALAR);
    size_t n = H5Tget_size(ty);
    char *buf = calloc(1, n + 1);
    cr_assert_geq(H5Aread(a, ty, buf), 0);
    cr_assert_eq(strlen(buf), n - 1, "string fills the type exactly (%zu of %zu)", strlen(buf), n);
    H5Sclose(sp);
    H5Tclose(ty);
    H5Aclose(a);
    return buf;
}

static int64_t read_i64_attr_(hid_t f, const char *obj, const char *name)
{
    hid_t a = H5Aopen_by_name(f, obj, name, H5P_DEFAULT, H5P_DEFAULT);
    cr_assert_geq(a, 0, "attribute %s on %s", name, obj);
    hid_t ty = H5Aget_type(a);
    cr_assert_gt(H5Tequal(ty, H5T_STD_I64LE), 0, "%s is int64 LE", name);
    int64_t v = 0;
    cr_assert_geq(H5Aread(a, H5T_NATIVE_INT64, &v), 0);
    H5Tclose(ty);
    H5Aclose(a);
    return v;
}

static double read_f64_attr_(hid_t f, const char *obj, const char *name)
{
    hid_t a = H5Aopen_by_name(f, obj, name, H5P_DEFAULT, H5P_DEFAULT);
    cr_assert_geq(a, 0, "attribute %s on %s", name, obj);
    hid_t ty = H5Aget_type(a);
    cr_assert_gt(H5Tequal(ty, H5T_IEEE_F64LE), 0, "%s is float64 LE", name);
    double v = 0;
    cr_assert_geq(H5Aread(a, H5T_NATIVE_DOUBLE, &v), 0);
    H5Tclose(ty);
    H5Aclose(a);
    return v;
}

static hsize_t dims_(hid_t d)
{
    hid_t sp = H5Dget_space(d);
    cr_assert_eq(H5Sget_simple_extent_ndims(sp), 1);
    hsize_t n = 0;
    H5Sget_simple_extent_dims(sp, &n, NULL);
    H5Sclose(sp);
    return n;
}

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

static unsigned char *slurp_(const char *path, size_t *len)
{
    FILE *fp = fopen(path, "rb");
    cr_assert_not_null(fp, "open %s", path);
    fseek(fp, 0, SEEK_END);
    long n = ftell(fp);
    fseek(fp, 0, SEEK_SET);
    unsigned char *buf = malloc((size_t)n + 1);
    cr_assert_eq(fread(buf, 1, (size_t)n, fp), (size_t)n);
    fclose(fp);
    *len = (size_t)n;
    return buf;
}

/* 200 KiB of varied text with multi-byte UTF-8 characters. */
static char *big_string_(size_t n, unsigned seed)
{
    char *s = malloc(n + 1);
    size_t i = 0;
    while (i < n) {
        unsigned k = (unsigned)(i * 2654435761u + seed) >> 7;
        if (k % 13 == 0 && i + 2 <= n) { /* "é" */
            s[i++] = '\xC3';
            s[i++] = '\xA9';
        } else {
            s[i++] = (char)(k % 29 == 0 ? '\n' : 'a' + k % 26);
        }
    }
    s[n] = '\0';
    return s;
}

typedef struct {
    sim_table_t tab;
    int id, t, name, bytes;
} events_t;

/* A table with all three column types. Row i's name is chosen so that the
 * strings include empty, short, exactly width-1 and too-long values. */
static const char *const names_[] = {"", "ok", "abcdefg", "abcdefghijkl", "x\xC3\xA9y"};

static void events_fill_(events_t *e, size_t n)
{
    sim_table_init(&e->tab, "events");
    e->id = sim_table_col_i64(&e->tab, "id", "1");
    e->t = sim_table_col_f64(&e->tab, "t", "s");
    e->name = sim_table_col_str(&e->tab, "name", 8);
    e->bytes = sim_table_col_i64(&e->tab, "bytes", "bytes");
    for (size_t i = 0; i < n; i++) {
        unsigned char *r = sim_table_append(&e->tab);
        cr_assert_not_null(r);
        sim_row_i64(&e->tab, r, e->id, (int64_t)i - 2);
        sim_row_f64(&e->tab, r, e->t, (double)i * 0.1 + 1e-9);
        sim_row_str(&e->tab, r, e->name, names_[i % 5]);
        sim_row_i64(&e->tab, r, e->bytes, INT64_MAX - (int64_t)i);
    }
}

static const char *expect_name_(size_t i)
{
    static const char *const want[] = {"", "ok", "abcdefg", "abcdefg", "x\xC3\xA9y"};
    return want[i % 5];
}

/* Test-side row layout: different order and padding from the table's, so
 * the members must be matched by name. */
typedef struct {
    char name[8];
    int64_t bytes;
    double t;
    int64_t id;
} rec_t;

static hid_t rec_type_(void)
{
    hid_t s = H5Tcopy(H5T_C_S1);
    H5Tset_size(s, 8);
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

/* ---- life cycle: tmp file, commit, abort -------------------------------- */

Test(trace, file_appears_at_target_only_after_commit)
{
    char *path = tu_tmp_path("commit", ".h5");
    sim_trace_t *t = create_(path);
    char want[4096];
    snprintf(want, sizeof want, "%s.tmp.%ld", path, (long)getpid());
    cr_assert_str_eq(sim_trace_tmp_path(t), want);
    cr_assert_str_eq(sim_trace_errmsg(t), "");
    cr_assert(exists_(want), "tmp file exists while writing");
    cr_assert_eq(sim_trace_group(t, "/runs/default"), 0);
    cr_assert_not(exists_(path), "target absent before commit");
    commit_(t);
    cr_assert(exists_(path), "target present after commit");
    cr_assert_not(exists_(want), "tmp file gone after commit");
    hid_t f = open_(path);
    cr_assert_gt(H5Lexists(f, "/runs/default", H5P_DEFAULT), 0);
    H5Fclose(f);
    unlink(path);
    free(path);
}

Test(trace, abort_removes_the_tmp_file_and_leaves_no_target)
{
    char *path = tu_tmp_path("abort", ".h5");
    sim_trace_t *t = create_(path);
    char *tmp = strdup(sim_trace_tmp_path(t));
    double x[3] = {1, 2, 3};
    cr_assert_eq(sim_trace_f64(t, "/x", x, 3, "s", NULL), 0);
    cr_assert(exists_(tmp));
    sim_trace_abort(t);
    cr_assert_not(exists_(tmp), "tmp gone after abort");
    cr_assert_not(exists_(path), "no target after abort");
    sim_trace_abort(NULL);
    free(tmp);
    free(path);
}

Test(trace, missing_directory_fails_with_message_and_creates_nothing)
{
    char *dir = tu_tmp_path("nodir", "");
    char path[4096];
    snprintf(path, sizeof path, "%s/out.h5", dir);
    int err = 0;
    char eb[512] = "";
    sim_trace_t *t = sim_trace_create(path, &err, eb, sizeof eb);
    cr_assert_null(t);
    cr_assert_eq(err, SIM_EIO);
    cr_log_info("message: %s", eb);
    cr_assert_not_null(strstr(eb, dir), "names the directory: %s", eb);
    cr_assert_not_null(strstr(eb, strerror(ENOENT)), "says why: %s", eb);
    cr_assert_not(exists_(dir));
    free(dir);
}

Test(trace, directory_that_is_a_file_fails_with_message)
{
    char *file = tu_tmp_path("notadir", ".txt");
    cr_assert_eq(tu_write_file(file, "x"), 0);
    char path[4096];
    snprintf(path, sizeof path, "%s/out.h5", file);
    int err = 0;
    char eb[512] = "";
    cr_assert_null(sim_trace_create(path, &err, eb, sizeof eb));
    cr_assert_eq(err, SIM_EIO);
    cr_assert_not_null(strstr(eb, file), "%s", eb);
    cr_assert_not_null(strstr(eb, "not a directory"), "%s", eb);
    unlink(file);
    free(file);
}

Test(trace, unwritable_directory_fails_with_message)
{
    if (geteuid() == 0) cr_skip_test("root can write anywhere");
    char *dir = tu_tmp_path("rodir", "");
    cr_assert_eq(mkdir(dir, 0555), 0);
    char path[4096];
    snprintf(path, sizeof path, "%s/out.h5", dir);
    int err = 0;
    char eb[512] = "";
    cr_assert_null(sim_trace_create(path, &err, eb, sizeof eb));
    cr_assert_eq(err, SIM_EIO);
    cr_assert_not_null(strstr(eb, "not writable"), "%s", eb);
    cr_assert_not_null(strstr(eb, strerror(EACCES)), "%s", eb);
    rmdir(dir);
    free(dir);
}

Test(trace, unusable_tmp_path_reports_the_hdf5_error)
{
    char *path = tu_tmp_path("blocked", ".h5");
    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid());
    cr_assert_eq(mkdir(tmp, 0755), 0); /* H5Fcreate cannot open a directory */
    int err = 0;
    char eb[1024] = "";
    cr_assert_null(sim_trace_create(path, &err, eb, sizeof eb));
    cr_log_info("message: %s", eb);
    cr_assert_eq(err, SIM_EHDF5);
    cr_assert_not_null(strstr(eb, tmp), "names the tmp file: %s", eb);
    cr_assert_not_null(strstr(eb, "unable to"), "carries HDF5's reason: %s", eb);
    struct stat st;
    cr_assert(stat(tmp, &st) == 0 && S_ISDIR(st.st_mode), "what we did not create is kept");
    cr_assert_not(exists_(path));
    cr_assert_null(sim_trace_create(path, NULL, NULL, 0), "NULL err/errbuf are allowed");
    rmdir(tmp);
    free(path);
}

Test(trace, bad_target_paths_are_refused)
{
    int err = 0;
    char eb[512] = "";
    cr_assert_null(sim_trace_create("", &err, eb, sizeof eb));
    cr_assert_eq(err, SIM_EINVAL);
    char *dir = tu_tmp_path("slash", "");
    char path[4096];
    snprintf(path, sizeof path, "%s/", dir);
    cr_assert_null(sim_trace_create(path, &err, eb, sizeof eb));
    cr_assert_eq(err, SIM_EINVAL);
    cr_assert_not_null(strstr(eb, "does not name a file"), "%s", eb);
    free(dir);
}

Test(trace, existing_directory_target_is_refused_at_create)
{
    char *path = tu_tmp_path("isdir0", ".h5");
    cr_assert_eq(mkdir(path, 0755), 0);
    int err = 0;
    char eb[512] = "";
    cr_assert_null(sim_trace_create(path, &err, eb, sizeof eb));
    cr_assert_eq(err, SIM_EIO);
    cr_assert_not_null(strstr(eb, "is a directory"), "%s", eb);
    rmdir(path);
    free(path);
}

Test(trace, commit_onto_a_directory_fails_cleanly_and_removes_tmp)
{
    char *path = tu_tmp_path("isdir", ".h5");
    sim_trace_t *t = create_(path);
    char *tmp = strdup(sim_trace_tmp_path(t));
    cr_assert_eq(sim_trace_attr_i64(t, "/", "x", 1), 0);
    cr_assert_eq(mkdir(path, 0755), 0);         /* appears while we write */
    char eb[1024] = "";
    int rc = sim_trace_commit(t, eb, sizeof eb);
    cr_log_info("message: %s", eb);
    cr_assert_eq(rc, SIM_EIO);
    cr_assert_not_null(strstr(eb, "rename"), "%s", eb);
    cr_assert_not_null(strstr(eb, tmp), "names the tmp file: %s", eb);
    cr_assert_not_null(strstr(eb, path), "names the target: %s", eb);
    cr_assert_not_null(strstr(eb, strerror(EISDIR)), "says why: %s", eb);
    cr_assert_not(exists_(tmp), "tmp removed after failed commit");
    struct stat st;
    cr_assert_eq(stat(path, &st), 0);
    cr_assert(S_ISDIR(st.st_mode), "the directory is untouched");
    rmdir(path);
    free(tmp);
    free(path);
}

/* ---- datasets ----------------------------------------------------------- */

Test(trace, f64_and_i64_series_round_trip_with_unit_and_description)
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

Test(trace, compressible_series_is_stored_compressed)
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

Test(trace, empty_series_reads_back_zero_elements)
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

Test(trace, bad_dataset_and_group_paths_report_messages)
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

/* ---- attributes --------------------------------------------------------- */

Test(trace, attributes_of_each_type_round_trip_on_groups_and_datasets)
{
    char *path = tu_tmp_path("attrs", ".h5");
    sim_trace_t *t = create_(path);
    double x[1] = {0};
    cr_assert_eq(sim_trace_f64(t, "/runs/d", x, 1, "s", NULL), 0);
    const char *objs[] = {"/", "/a/b/c", "/runs/d"};
    for (int i = 0; i < 3; i++) {
        cr_assert_eq(sim_trace_attr_str(t, objs[i], "s", "h\xC3\xA9llo"), 0, "%s",
                     sim_trace_errmsg(t));
        cr_assert_eq(sim_trace_attr_str(t, objs[i], "empty", ""), 0);
        cr_assert_eq(sim_trace_attr_i64(t, objs[i], "i", INT64_MIN + i), 0);
        cr_assert_eq(sim_trace_attr_f64(t, objs[i], "f", -1.5e-300 * (i + 1)), 0);
    }
    commit_(t);
    hid_t f = open_(path);
    for (int i = 0; i < 3; i++) {
        char *s = read_str_attr_(f, objs[i], "s");
        cr_assert_str_eq(s, "h\xC3\xA9llo");
        free(s);
        s = read_str_attr_(f, objs[i], "empty");
        cr_assert_str_eq(s, "");
        free(s);
        cr_assert_eq(read_i64_attr_(f, objs[i], "i"), INT64_MIN + i);
        cr_assert_eq(read_f64_attr_(f, objs[i], "f"), -1.5e-300 * (i + 1));
    }
    H5O_info_t oi;
    cr_assert_geq(H5Oget_info_by_name(f, "/a/b/c", &oi, H5P_DEFAULT), 0);
    cr_assert_eq(oi.type, H5O_TYPE_GROUP, "missing groups are created");
    H5Fclose(f);
    unlink(path);
    free(path);
}

Test(trace, overwriting_an_attribute_replaces_value_and_type)
{
    char *path = tu_tmp_path("overwrite", ".h5");
    sim_trace_t *t = create_(path);
    double x[1] = {0};
    cr_assert_eq(sim_trace_f64(t, "/d", x, 1, "s", NULL), 0);
    cr_assert_eq(sim_trace_attr_i64(t, "/g", "v", 1), 0);
    cr_assert_eq(sim_trace_attr_str(t, "/g", "v", "a longer string than before"), 0);
    cr_assert_eq(sim_trace_attr_str(t, "/g", "v", "short"), 0);
    cr_assert_eq(sim_trace_attr_f64(t, "/g", "w", 1.0), 0);
    cr_assert_eq(sim_trace_attr_f64(t, "/g", "w", 2.0), 0);
    cr_assert_eq(sim_trace_attr_str(t, "/d", "unit", "ms"), 0, "dataset's own unit replaced");
    commit_(t);
    hid_t f = open_(path);
    char *s = read_str_attr_(f, "/g", "v");
    cr_assert_str_eq(s, "short");
    free(s);
    cr_assert_eq(read_f64_attr_(f, "/g", "w"), 2.0);
    s = read_str_attr_(f, "/d", "unit");
    cr_assert_str_eq(s, "ms");
    free(s);
    H5O_info_t oi;
    cr_assert_geq(H5Oget_info_by_name(f, "/g", &oi, H5P_DEFAULT), 0);
    cr_assert_eq(oi.num_attrs, 2);
    H5Fclose(f);
    unlink(path);
    free(path);
}

Test(trace, string_attribute_of_200_kib_round_trips)
{
    char *path = tu_tmp_path("bigattr", ".h5");
    sim_trace_t *t = create_(path);
    size_t n = 200 * 1024;
    char *yaml = big_string_(n, 1), *other = big_string_(n + 123, 2), *third = big_string_(70000, 3);
    double x[1] = {0};
    cr_assert_eq(sim_trace_f64(t, "/d", x, 1, "s", "small attributes first"), 0);
    cr_assert_eq(sim_trace_attr_str(t, "/", "scenario_yaml", yaml), 0, "%s", sim_trace_errmsg(t));
    for (int i = 0; i < 10; i++) { /* a group with many compact attributes, then a big one */
        char name[16];
        snprintf(name, sizeof name, "a%d", i);
        cr_assert_eq(sim_trace_attr_i64(t, "/g", name, i), 0);
    }
    cr_assert_eq(sim_trace_attr_str(t, "/g", "big", other), 0, "%s", sim_trace_errmsg(t));
    cr_assert_eq(sim_trace_attr_str(t, "/d", "big", yaml), 0, "%s", sim_trace_errmsg(t));
    cr_assert_eq(sim_trace_attr_str(t, "/g", "big", third), 0, "replace a big one");
    commit_(t);
    hid_t f = open_(path);
    char *s = read_str_attr_(f, "/", "scenario_yaml");
    cr_assert_eq(strlen(s), n);
    cr_assert_eq(memcmp(s, yaml, n), 0);
    free(s);
    s = read_str_attr_(f, "/g", "big");
    cr_assert_str_eq(s, third);
    free(s);
    s = read_str_attr_(f, "/d", "big");
    cr_assert_str_eq(s, yaml);
    free(s);
    s = read_str_attr_(f, "/d", "description");
    cr_assert_str_eq(s, "small attributes first");
    free(s);
    cr_assert_eq(read_i64_attr_(f, "/g", "a9"), 9);
    H5Fclose(f);
    free(yaml);
    free(other);
    free(third);
    unlink(path);
    free(path);
}

/* Compression starts at 16 KiB of data: 2047 doubles are stored as they are,
 * 2048 shuffled and deflated; both read back bit for bit. */
Test(trace, compression_threshold_is_16_kib)
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

Test(trace, table_round_trips_through_hdf5)
{
    char *path = tu_tmp_path("table", ".h5");
    events_t e;
    size_t n = 5000; /* 32-byte packed rows: 2048 per 64 KiB chunk, 3 chunks */
    events_fill_(&e, n);
    sim_trace_t *t = create_(path);
    cr_assert_eq(sim_trace_table(t, "/runs/default/rep000/events", &e.tab), 0, "%s",
                 sim_trace_errmsg(t));
    commit_(t);

    hid_t f = open_(path);
    hid_t d = H5Dopen2(f, "/runs/default/rep000/events", H5P_DEFAULT);
    cr_assert_geq(d, 0);
    cr_assert_eq(dims_(d), n);
    assert_chunked_(d, 2048, true);

    /* File type: packed, little-endian, members in column order. */
    hid_t ft = H5Dget_type(d);
    cr_assert_eq(H5Tget_class(ft), H5T_COMPOUND);
    cr_assert_eq(H5Tget_nmembers(ft), 4);
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
            cr_assert_eq(H5Tis_variable_str(mt), 0);
            cr_assert_eq(H5Tget_size(mt), 8);
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
    H5Tclose(rt);
    free(r);

    /* "units": fixed-length string array in column order. */
    hid_t a = H5Aopen(d, "units", H5P_DEFAULT);
    cr_assert_geq(a, 0);
    hid_t at = H5Aget_type(a);
    cr_assert_eq(H5Tget_class(at), H5T_STRING);
    cr_assert_eq(H5Tis_variable_str(at), 0);
    cr_assert_eq(H5Tget_cset(at), H5T_CSET_UTF8);
    size_t w = H5Tget_size(at);
    cr_assert_eq(w, 6, "as wide as \"bytes\" plus NUL");
    hid_t as = H5Aget_space(a);
    hsize_t na = 0;
    H5Sget_simple_extent_dims(as, &na, NULL);
    cr_assert_eq(na, 4);
    char *ub = calloc(4, w);
    cr_assert_geq(H5Aread(a, at, ub), 0);
    const char *units[] = {"1", "s", "", "bytes"};
    for (int i = 0; i < 4; i++) cr_assert_str_eq(ub + (size_t)i * w, units[i], "unit %d", i);
    free(ub);
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

Test(trace, table_limit_writes_stored_rows_and_dropped_count)
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

Test(trace, empty_table_writes_an_empty_dataset)
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

Test(trace, table_without_columns_is_refused)
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

/* ---- determinism -------------------------------------------------------- */

static void write_sample_(const char *path)
{
    sim_trace_t *t = create_(path);
    char *yaml = big_string_(200 * 1024, 7);
    cr_assert_eq(sim_trace_attr_str(t, "/", "scenario_yaml", yaml), 0);
    cr_assert_eq(sim_trace_attr_str(t, "/", "version", "0.1.0"), 0);
    cr_assert_eq(sim_trace_attr_i64(t, "/runs/default", "seed", 42), 0);
    cr_assert_eq(sim_trace_attr_f64(t, "/runs/default/rep000", "horizon", 3600.0), 0);
    size_t n = 70000;
    double *x = malloc(n * sizeof *x);
    for (size_t i = 0; i < n; i++) x[i] = (double)i * 0.37;
    cr_assert_eq(sim_trace_f64(t, "/runs/default/rep000/timeseries/t", x, n, "s", "time"), 0);
    events_t e;
    events_fill_(&e, 3000);
    cr_assert_eq(sim_trace_table(t, "/runs/default/rep000/events", &e.tab), 0);
    sim_table_fini(&e.tab);
    events_fill_(&e, 0);
    cr_assert_eq(sim_trace_table(t, "/runs/default/rep000/empty", &e.tab), 0);
    sim_table_fini(&e.tab);
    commit_(t);
    free(x);
    free(yaml);
}

/* Raw (compressed) bytes of every chunk, concatenated. */
static unsigned char *raw_chunks_(hid_t f, const char *dpath, hsize_t chunk, size_t *len)
{
    hid_t d = H5Dopen2(f, dpath, H5P_DEFAULT);
    cr_assert_geq(d, 0, "%s", dpath);
    hsize_t n = dims_(d);
    unsigned char *out = NULL;
    *len = 0;
    for (hsize_t off = 0; off < n; off += chunk) {
        hsize_t o[1] = {off}, sz = 0;
        cr_assert_geq(H5Dget_chunk_storage_size(d, o, &sz), 0);
        out = realloc(out, *len + sz);
        uint32_t filters = 0;
        cr_assert_geq(H5Dread_chunk(d, H5P_DEFAULT, o, &filters, out + *len), 0);
        *len += sz;
    }
    H5Dclose(d);
    return out;
}

static unsigned char *all_rows_(hid_t f, const char *dpath, size_t *len)
{
    hid_t d = H5Dopen2(f, dpath, H5P_DEFAULT);
    hid_t ty = H5Dget_type(d);
    *len = dims_(d) * H5Tget_size(ty);
    unsigned char *buf = malloc(*len + 1);
    cr_assert_geq(H5Dread(d, ty, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf), 0);
    H5Tclose(ty);
    H5Dclose(d);
    return buf;
}

Test(trace, same_content_gives_identical_datasets_and_files, .timeout = 60)
{
    char *p1 = tu_tmp_path("det1", ".h5"), *p2 = tu_tmp_path("det2", ".h5");
    write_sample_(p1);
    sleep(1); /* object times (whole seconds), if recorded, would now differ */
    write_sample_(p2);

    hid_t f1 = open_(p1), f2 = open_(p2);
    const char *ds[] = {"/runs/default/rep000/timeseries/t", "/runs/default/rep000/events"};
    hsize_t chunks[] = {65536, 2048};
    for (int i = 0; i < 2; i++) {
        size_t l1, l2;
        unsigned char *a = all_rows_(f1, ds[i], &l1), *b = all_rows_(f2, ds[i], &l2);
        cr_assert_eq(l1, l2);
        cr_assert_gt(l1, 0);
        cr_assert_eq(memcmp(a, b, l1), 0, "%s contents", ds[i]);
        free(a);
        free(b);
        a = raw_chunks_(f1, ds[i], chunks[i], &l1);
        b = raw_chunks_(f2, ds[i], chunks[i], &l2);
        cr_assert_eq(l1, l2);
        cr_assert_eq(memcmp(a, b, l1), 0, "%s compressed chunks", ds[i]);
        free(a);
        free(b);
    }
    H5O_info_t o1, o2;
    cr_assert_geq(H5Oget_info_by_name(f1, "/runs/default", &o1, H5P_DEFAULT), 0);
    cr_assert_geq(H5Oget_info_by_name(f2, "/runs/default", &o2, H5P_DEFAULT), 0);
    cr_assert_eq(o1.ctime, 0, "no group creation time");
    cr_assert_eq(o1.mtime, 0, "no group modification time");
    cr_assert_geq(H5Oget_info_by_name(f1, ds[0], &o1, H5P_DEFAULT), 0);
    cr_assert_eq(o1.ctime, 0, "no dataset creation time");
    cr_assert_geq(H5Oget_info_by_name(f1, "/", &o1, H5P_DEFAULT), 0);
    cr_assert_eq(o1.mtime, 0, "no root group modification time");
    H5Fclose(f1);
    H5Fclose(f2);

    size_t n1, n2;
    unsigned char *b1 = slurp_(p1, &n1), *b2 = slurp_(p2, &n2);
    cr_assert_eq(n1, n2, "file sizes %zu vs %zu", n1, n2);
    size_t diff = 0;
    for (size_t i = 0; i < n1; i++) diff += b1[i] != b2[i];
    cr_assert_eq(diff, 0, "%zu of %zu bytes differ between identical writes", diff, n1);
    free(b1);
    free(b2);
    unlink(p1);
    unlink(p2);
    free(p1);
    free(p2);
}

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

Test(trace, series_set_is_three_datasets_row_i_series_i)
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
    cr_assert_eq(gi.nlinks, 3, "t, values, series and nothing else");
    H5Gclose(g);
    hid_t dcpl;
    assert_set_(f, "/runs/default/rep000/timeseries", t, c, n, &dcpl);
    cr_assert_eq(H5Pget_layout(dcpl), H5D_CONTIGUOUS, "rows under 16 KiB: contiguous");
    H5Pclose(dcpl);
    H5Fclose(f);
    fixture_free_(t, c);
    unlink(path);
    free(path);
}

Test(trace, series_set_with_rows_of_16_kib_is_compressed_in_chunks_of_1024_samples)
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

Test(trace, series_appended_in_blocks_equal_the_set_written_at_once)
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

Test(trace, series_set_without_series_or_samples_is_empty_not_an_error)
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

Test(trace, bad_series_sets_are_refused_with_a_message)
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
