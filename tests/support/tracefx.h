/* Helpers of the trace-writer suites (tests/sim/test_trace*.c): create and
 * commit a trace (the test fails on any error), open it read-only, read
 * attributes and lengths back with the raw HDF5 API, and a table with all
 * three column types. Header-only (static inline): each suite has its own
 * copy. */
#ifndef RAGSIM_TRACEFX_H
#define RAGSIM_TRACEFX_H

#include <criterion/criterion.h>
#include <hdf5.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sim/table.h"
#include "sim/trace.h"

static inline sim_trace_t *create_(const char *path)
{
    int err = 1;
    char eb[512] = "x";
    sim_trace_t *t = sim_trace_create(path, &err, eb, sizeof eb);
    cr_assert_not_null(t, "create %s: %d %s", path, err, eb);
    cr_assert_eq(err, 0);
    return t;
}

static inline void commit_(sim_trace_t *t)
{
    char eb[512] = "";
    int rc = sim_trace_commit(t, eb, sizeof eb);
    cr_assert_eq(rc, 0, "commit: %d %s", rc, eb);
}

static inline hid_t open_(const char *path)
{
    hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    cr_assert_geq(f, 0, "H5Fopen %s", path);
    return f;
}

/* Read a scalar string attribute, checked to be what the trace writes:
 * variable-length, NUL-terminated UTF-8. Caller frees. */
static inline char *read_str_attr_(hid_t f, const char *obj, const char *name)
{
    hid_t a = H5Aopen_by_name(f, obj, name, H5P_DEFAULT, H5P_DEFAULT);
    cr_assert_geq(a, 0, "attribute %s on %s", name, obj);
    hid_t ty = H5Aget_type(a);
    cr_assert_eq(H5Tget_class(ty), H5T_STRING);
    cr_assert_gt(H5Tis_variable_str(ty), 0, "attribute %s on %s is a variable-length string", name, obj);
    cr_assert_eq(H5Tget_strpad(ty), H5T_STR_NULLTERM);
    cr_assert_eq(H5Tget_cset(ty), H5T_CSET_UTF8);
    hid_t sp = H5Aget_space(a);
    cr_assert_eq(H5Sget_simple_extent_type(sp), H5S_SCALAR);
    char *v = NULL;
    cr_assert_geq(H5Aread(a, ty, &v), 0);
    cr_assert_not_null(v);
    char *out = strdup(v);
    H5Dvlen_reclaim(ty, sp, H5P_DEFAULT, &v);
    H5Sclose(sp);
    H5Tclose(ty);
    H5Aclose(a);
    return out;
}

static inline int64_t read_i64_attr_(hid_t f, const char *obj, const char *name)
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

static inline hsize_t dims_(hid_t d)
{
    hid_t sp = H5Dget_space(d);
    cr_assert_eq(H5Sget_simple_extent_ndims(sp), 1);
    hsize_t n = 0;
    H5Sget_simple_extent_dims(sp, &n, NULL);
    H5Sclose(sp);
    return n;
}

typedef struct {
    sim_table_t tab;
    int id, t, name, bytes;
} events_t;

/* A table with all three column types. Row i's name is chosen so that the
 * strings include empty, short, exactly width-1 and too-long values. */
static const char *const names_[] = {"", "ok", "abcdefg", "abcdefghijkl", "x\xC3\xA9y"};

static inline void events_fill_(events_t *e, size_t n)
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

#endif
