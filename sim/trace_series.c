/* HDF5 trace writer: sets of time series (see trace.h).
 *
 * Owns sim_trace_series (a whole set on one time axis: t, values and the
 * series table naming its rows) and the same layout written as a run goes
 * (sim_trace_series_open/append/close: extendible, chunked datasets
 * written a block at a time, without a chunk cache).
 * May call: the file's groups, attributes and messages (trace.c), the
 * datasets and tables of trace_dataset.c, HDF5. */
#include <hdf5.h>
#include <hdf5_hl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "table.h"
#include "trace.h"
#include "trace_internal.h"

/* ---- sets of time series ------------------------------------------------ */

static const char series_t_help_[] = "end of each sample interval";

/* group + "/" + leaf, or NULL (out of memory, message set). */
static char *join_(sim_trace_t *t, const char *group, const char *leaf)
{
    size_t len = strlen(group) + strlen(leaf) + 2;
    char *p = malloc(len);
    if (!p)
        trace_fmt_(t->msg, sizeof t->msg, "%s: out of memory", t->tmp);
    else
        snprintf(p, len, "%s%s%s", group, group[1] ? "/" : "", leaf);
    return p;
}

/* Every series named (checked before anything is written). */
static int names_ok_(sim_trace_t *t, const char *group, size_t count, const char *const *names)
{
    for (size_t i = 0; i < count; i++)
        if (!names || !names[i] || !names[i][0])
            return trace_inval_(t, group, "a time series without a name");
    return 0;
}

/* `group`/series: the compound table naming the rows of `values`. */
static int series_table_(sim_trace_t *t, const char *group, size_t count, const char *const *names,
                         const char *const *units, const char *const *descriptions)
{
    size_t wn = 2, wu = 2, wd = 2;
    for (size_t i = 0; i < count; i++) {
        size_t l = strlen(names[i]) + 1;
        if (l > wn) wn = l;
        l = strlen(units && units[i] ? units[i] : "") + 1;
        if (l > wu) wu = l;
        l = strlen(descriptions && descriptions[i] ? descriptions[i] : "") + 1;
        if (l > wd) wd = l;
    }
    sim_table_t tab;
    sim_table_init(&tab, "series");
    int rc = 0;
    int cn = sim_table_col_str(&tab, "name", wn), cu = sim_table_col_str(&tab, "unit", wu),
        cd = sim_table_col_str(&tab, "description", wd);
    for (size_t i = 0; i < count && rc == 0; i++) {
        unsigned char *row = sim_table_append(&tab);
        if (!row) {
            rc = SIM_ENOMEM;
            trace_fmt_(t->msg, sizeof t->msg, "%s: out of memory", t->tmp);
            break;
        }
        sim_row_str(&tab, row, cn, names[i]);
        sim_row_str(&tab, row, cu, units && units[i] ? units[i] : "");
        sim_row_str(&tab, row, cd, descriptions && descriptions[i] ? descriptions[i] : "");
    }
    char *p = rc ? NULL : join_(t, group, "series");
    if (rc == 0 && !p) rc = SIM_ENOMEM;
    /* never compressed: written once per run, a few kilobytes of references
     * to its strings (the strings themselves are in the global heap, which
     * HDF5 never compresses); deflate would cost more than it saves */
    if (rc == 0) rc = trace_table_(t, p, &tab, false);
    free(p);
    sim_table_fini(&tab);
    return rc;
}

/* Dimension scales (HDF5 H5DS, the netCDF-4 convention): `group`/name, the
 * series' names as variable-length UTF-8 strings, becomes the scale of
 * dimension 0 of `values` and of `series`, and `t` that of dimension 1 of
 * `values`, so that netCDF readers (xarray with h5netcdf) label the matrix by
 * name and time. */
static int series_scales_(sim_trace_t *t, const char *group, size_t count, const char *const *names, hid_t dt,
                          hid_t dv)
{
    char *pn = join_(t, group, "name"), *ps = join_(t, group, "series");
    int rc = pn && ps ? 0 : SIM_ENOMEM;
    if (rc) trace_fmt_(t->msg, sizeof t->msg, "%s: out of memory", t->tmp);
    hid_t st = -1, dn = -1, ds = -1;
    if (rc == 0) {
        st = trace_str_type_();
        if (st < 0) rc = trace_h5_fail_(t, "cannot make a string type for", pn);
    }
    if (rc == 0) {
        hsize_t dims[1] = {count}, chunk[1] = {count ? count : 1};
        dn = trace_make_dataset_(t, pn, st, st, names, 1, dims, chunk, false, &rc);
    }
    if (rc == 0 && (ds = H5Dopen2(t->file, ps, H5P_DEFAULT)) < 0) rc = trace_h5_fail_(t, "cannot open", ps);
    if (rc == 0 && (H5DSset_scale(dt, "t") < 0 || H5DSset_scale(dn, "name") < 0 ||
                    H5DSattach_scale(dv, dn, 0) < 0 || H5DSattach_scale(dv, dt, 1) < 0 ||
                    H5DSattach_scale(ds, dn, 0) < 0))
        rc = trace_h5_fail_(t, "cannot attach the dimension scales of", group);
    if (ds >= 0) H5Dclose(ds);
    if (dn >= 0) H5Dclose(dn);
    if (st >= 0) H5Tclose(st);
    free(pn);
    free(ps);
    return rc;
}

/* Rows of `values` per chunk: the chunk about TRACE_TABLE_CHUNK_BYTES_
 * (64 KiB) for `samples` samples per row, at least 1, at most `count`. */
static hsize_t series_chunk_rows_(size_t count, size_t samples)
{
    size_t r = TRACE_TABLE_CHUNK_BYTES_ / (8 * (samples ? samples : 1));
    if (r > count) r = count;
    return r ? (hsize_t)r : 1;
}

int sim_trace_series(sim_trace_t *t, const char *group, size_t count, const char *const *names,
                     const char *const *units, const char *const *descriptions,
                     const double *times, const double *const *cols, size_t n)
{
    if (!t) return SIM_EINVAL;
    if (!trace_path_ok_(group)) return trace_inval_(t, group, "not an absolute HDF5 path");
    if (names_ok_(t, group, count, names)) return SIM_EINVAL;
    for (size_t i = 0; i < count && n > 0; i++)
        if (!cols || !cols[i]) return trace_inval_(t, group, "NULL data");
    char *pt = join_(t, group, "t"), *pv = join_(t, group, "values");
    double *buf = count && n ? malloc(count * n * sizeof *buf) : NULL;
    int rc = 0;
    if (!pt || !pv || (count && n && !buf)) {
        rc = SIM_ENOMEM;
        trace_fmt_(t->msg, sizeof t->msg, "%s: out of memory", t->tmp);
    }
    if (rc == 0) rc = sim_trace_f64(t, pt, times, n, "s", series_t_help_);
    hid_t d = -1, dt = -1;
    if (rc == 0) {
        for (size_t i = 0; i < count && n > 0; i++) memcpy(buf + i * n, cols[i], n * sizeof *buf);
        size_t cs = n < TRACE_SERIES_SPILL_CHUNK_ ? n : TRACE_SERIES_SPILL_CHUNK_;
        hsize_t dims[2] = {count, n}, chunk[2] = {series_chunk_rows_(count, cs), cs ? cs : 1};
        d = trace_make_dataset_(t, pv, H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, buf, 2, dims, chunk, true, &rc);
    }
    if (rc == 0) rc = series_table_(t, group, count, names, units, descriptions);
    if (rc == 0 && (dt = H5Dopen2(t->file, pt, H5P_DEFAULT)) < 0) rc = trace_h5_fail_(t, "cannot open", pt);
    if (rc == 0) rc = series_scales_(t, group, count, names, dt, d);
    if (dt >= 0) H5Dclose(dt);
    if (d >= 0) H5Dclose(d);
    free(buf);
    free(pt);
    free(pv);
    return rc;
}

/* ---- time series appended as a run goes ------------------------------------ */

struct sim_trace_series_out {
    sim_trace_t *t;
    size_t count;       /* series (rows of values) */
    hid_t dt, dv;       /* t and values, open */
    hsize_t len;        /* samples written */
    char *pt, *pv;      /* their paths, for messages */
    double *buf;        /* count x rows, row-major, for one append */
    size_t buf_rows;
};

int sim_trace_series_close(sim_trace_series_out_t *o)
{
    if (!o) return 0;
    int rc = 0;
    if (o->dt >= 0 && H5Dclose(o->dt) < 0) rc = trace_h5_fail_(o->t, "cannot close", o->pt);
    if (o->dv >= 0 && H5Dclose(o->dv) < 0 && rc == 0) rc = trace_h5_fail_(o->t, "cannot close", o->pv);
    free(o->pt);
    free(o->pv);
    free(o->buf);
    free(o);
    return rc;
}

/* An empty extendible dataset of rank 1 ({0}) or 2 ({count, 0}), chunked,
 * shuffled and deflated, opened without a chunk cache. */
static hid_t open_appendable_(sim_trace_t *t, hid_t pg, const char *path, const char *name, int rank,
                              size_t count, const hsize_t *chunk, hid_t dapl, int *err)
{
    /* rows fixed (a chunk index for one growing dimension is the cheap
     * kind), except an empty set's, which a chunk of one row must fit */
    hsize_t dims[2] = {rank == 2 ? count : 0, 0},
            maxdims[2] = {rank == 2 && count > 0 ? count : H5S_UNLIMITED, H5S_UNLIMITED};
    hid_t sp = H5Screate_simple(rank, dims, maxdims), d = -1;
    if (sp < 0 || H5Pset_chunk(t->dcpl_z, rank, chunk) < 0) {
        *err = trace_h5_fail_(t, "cannot set up dataset", path);
    } else if ((d = H5Dcreate2(pg, name, H5T_IEEE_F64LE, sp, t->lcpl, t->dcpl_z, dapl)) < 0) {
        *err = trace_h5_fail_(t, "cannot create dataset", path);
        if (H5Lexists(pg, name, H5P_DEFAULT) > 0) *err = trace_inval_(t, path, "already exists");
    }
    if (sp >= 0) H5Sclose(sp);
    return d;
}

sim_trace_series_out_t *sim_trace_series_open(sim_trace_t *t, const char *group, size_t count,
                                              const char *const *names, const char *const *units,
                                              const char *const *descriptions, size_t chunk_samples,
                                              int *err)
{
    *err = SIM_EINVAL;
    if (!t) return NULL;
    if (!trace_path_ok_(group)) {
        *err = trace_inval_(t, group, "not an absolute HDF5 path");
        return NULL;
    }
    if (chunk_samples == 0) {
        *err = trace_inval_(t, group, "chunk of 0 samples");
        return NULL;
    }
    if (names_ok_(t, group, count, names)) return NULL;
    sim_trace_series_out_t *o = calloc(1, sizeof *o);
    if (!o) {
        *err = SIM_ENOMEM;
        trace_fmt_(t->msg, sizeof t->msg, "%s: out of memory", t->tmp);
        return NULL;
    }
    o->t = t;
    o->count = count;
    o->dt = o->dv = -1;
    o->pt = join_(t, group, "t");
    o->pv = join_(t, group, "values");
    int rc = o->pt && o->pv ? 0 : SIM_ENOMEM;
    /* no chunk cache: every chunk is written whole, once */
    hid_t dapl = rc ? -1 : H5Pcreate(H5P_DATASET_ACCESS);
    if (rc == 0 && (dapl < 0 || H5Pset_chunk_cache(dapl, 0, 0, 1.0) < 0))
        rc = trace_h5_fail_(t, "cannot set up the datasets of", group);
    hid_t pg = rc ? -1 : trace_parent_group_(t, group, &rc);
    if (rc == 0) {
        hsize_t ct[1] = {chunk_samples};
        o->dt = open_appendable_(t, pg, o->pt, "t", 1, 0, ct, dapl, &rc);
    }
    if (rc == 0) rc = trace_attr_str_on_(t, o->dt, o->pt, "unit", "s", true);
    if (rc == 0) rc = trace_attr_str_on_(t, o->dt, o->pt, "description", series_t_help_, true);
    if (rc == 0) {
        hsize_t cv[2] = {series_chunk_rows_(count, chunk_samples), chunk_samples};
        o->dv = open_appendable_(t, pg, o->pv, "values", 2, count, cv, dapl, &rc);
    }
    if (dapl >= 0) H5Pclose(dapl);
    if (rc == 0) rc = series_table_(t, group, count, names, units, descriptions);
    if (rc == 0) rc = series_scales_(t, group, count, names, o->dt, o->dv);
    if (rc) {
        *err = rc;
        sim_trace_series_close(o);
        return NULL;
    }
    *err = 0;
    return o;
}

/* Extend `d` to `size` and write `data` at `start` (`count` elements per dimension). */
static int append_(sim_trace_t *t, hid_t d, const char *path, int rank, const hsize_t *size,
                   const hsize_t *start, const hsize_t *count, const double *data)
{
    if (H5Dset_extent(d, size) < 0) return trace_h5_fail_(t, "cannot extend", path);
    hid_t fs = H5Dget_space(d);
    hid_t ms = H5Screate_simple(rank, count, NULL);
    int rc = 0;
    if (fs < 0 || ms < 0 || H5Sselect_hyperslab(fs, H5S_SELECT_SET, start, NULL, count, NULL) < 0)
        rc = trace_h5_fail_(t, "cannot select samples of", path);
    else if (H5Dwrite(d, H5T_NATIVE_DOUBLE, ms, fs, H5P_DEFAULT, data) < 0)
        rc = trace_h5_fail_(t, "cannot write", path);
    if (ms >= 0) H5Sclose(ms);
    if (fs >= 0) H5Sclose(fs);
    return rc;
}

int sim_trace_series_append(sim_trace_series_out_t *o, const double *times, const double *const *cols,
                            size_t rows)
{
    if (!o) return SIM_EINVAL;
    if (rows == 0) return 0;
    sim_trace_t *t = o->t;
    if (!times) return trace_inval_(t, o->pt, "NULL data");
    if (o->count > 0 && rows > o->buf_rows) {
        double *b = realloc(o->buf, o->count * rows * sizeof *b);
        if (!b) {
            trace_fmt_(t->msg, sizeof t->msg, "%s: out of memory", t->tmp);
            return SIM_ENOMEM;
        }
        o->buf = b;
        o->buf_rows = rows;
    }
    for (size_t i = 0; i < o->count; i++) {
        if (!cols || !cols[i]) return trace_inval_(t, o->pv, "NULL data");
        memcpy(o->buf + i * rows, cols[i], rows * sizeof *o->buf);
    }
    hsize_t size1[1] = {o->len + rows}, start1[1] = {o->len}, count1[1] = {rows};
    int rc = append_(t, o->dt, o->pt, 1, size1, start1, count1, times);
    hsize_t size2[2] = {o->count, o->len + rows}, start2[2] = {0, o->len}, count2[2] = {o->count, rows};
    if (rc == 0 && o->count > 0) rc = append_(t, o->dv, o->pv, 2, size2, start2, count2, o->buf);
    if (rc == 0) o->len += rows;
    return rc;
}

