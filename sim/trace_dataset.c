/* HDF5 trace writer: datasets and tables (see trace.h).
 *
 * Owns the creation of every dataset (trace_make_dataset_: contiguous when
 * small, chunked and compressed when large, extendible when empty), the
 * 1-D float64 and int64 datasets with their "unit" and "description"
 * attributes, and compound datasets from sim_table_t tables.
 * May call: the file's groups, attributes and messages (trace.c), HDF5. */
#include <hdf5.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "trace.h"
#include "trace_internal.h"

/* ---- datasets ----------------------------------------------------------- */

/* Create the dataset `path` (parents created) of rank 1 or 2 with `dims`
 * and write it from `data` (row-major): chunked by `chunk` with shuffle +
 * deflate when one row (the whole of a 1-D dataset, one row of a 2-D one)
 * holds at least TRACE_COMPRESS_MIN_BYTES_ (and `may_compress`); contiguous otherwise; chunked
 * and extendible in every dimension when empty (so that a 0-length dataset
 * is an ordinary empty one). Returns the open dataset (caller closes) or a
 * negative code; on failure no link is left behind. */
hid_t trace_make_dataset_(sim_trace_t *t, const char *path, hid_t ftype, hid_t mtype,
                          const void *data, int rank, const hsize_t *dims, const hsize_t *chunk,
                          bool may_compress, int *err)
{
    *err = 0;
    if (!trace_path_ok_(path) || path[1] == '\0') {
        *err = trace_inval_(t, path, "not an absolute HDF5 dataset path");
        return -1;
    }
    hsize_t total = 1;
    for (int i = 0; i < rank; i++) total *= dims[i];
    if (total > 0 && !data) {
        *err = trace_inval_(t, path, "NULL data");
        return -1;
    }
    /* Parent groups: everything before the last '/'. */
    const char *slash = strrchr(path, '/');
    size_t plen = (size_t)(slash - path);
    char *parent = malloc(plen + 2);
    if (!parent) {
        *err = SIM_ENOMEM;
        trace_fmt_(t->msg, sizeof t->msg, "%s: out of memory", t->tmp);
        return -1;
    }
    memcpy(parent, path, plen ? plen : 1);
    parent[plen ? plen : 1] = '\0';
    hid_t pg = trace_parent_group_(t, parent, err);
    free(parent);
    if (pg < 0) return -1;

    /* relative to the open parent: no walk down the path for each dataset */
    const char *name = slash + 1;
    /* Small datasets are contiguous with a fixed size: a chunked dataset
     * carries a chunk index (a B-tree node of about 2 KiB in this file
     * format) that costs more to create than the data. Empty ones stay
     * chunked and extendible (HDF5 cannot allocate an empty contiguous
     * dataset's storage, and readers expect an ordinary 0-length array). */
    bool compress = may_compress && (double)dims[rank - 1] * (double)H5Tget_size(ftype) >= TRACE_COMPRESS_MIN_BYTES_;
    bool contiguous = total > 0 && !compress;
    hsize_t maxdims[2] = {H5S_UNLIMITED, H5S_UNLIMITED};
    hid_t sp = H5Screate_simple(rank, dims, contiguous ? NULL : maxdims);
    /* the file's creation property lists, only the chunk size set here */
    hid_t dcpl = compress ? t->dcpl_z : contiguous ? t->dcpl_c : t->dcpl;
    hid_t d = -1;
    if (sp < 0) {
        *err = trace_h5_fail_(t, "cannot set up dataset", path);
    } else if (!contiguous && H5Pset_chunk(dcpl, rank, chunk) < 0) {
        *err = trace_h5_fail_(t, "cannot set chunking for", path);
    } else if ((d = H5Dcreate2(pg, name, ftype, sp, t->lcpl, dcpl, H5P_DEFAULT)) < 0) {
        /* the name is looked up only when the creation failed (a lookup
         * before every creation walks the group's link index once more) */
        *err = trace_h5_fail_(t, "cannot create dataset", path);
        if (H5Lexists(pg, name, H5P_DEFAULT) > 0) *err = trace_inval_(t, path, "already exists");
    } else if (total > 0 && H5Dwrite(d, mtype, H5S_ALL, H5S_ALL, H5P_DEFAULT, data) < 0) {
        *err = trace_h5_fail_(t, "cannot write dataset", path);
        H5Dclose(d);
        d = -1;
        H5Ldelete(t->file, path, H5P_DEFAULT);
    }
    if (sp >= 0) H5Sclose(sp);
    return d;
}

/* Chunk length in elements: about `target` bytes, at most n, at least 1. */
static hsize_t chunk_len_(size_t n, size_t elem_size, size_t target)
{
    size_t c = target / (elem_size ? elem_size : 1);
    if (c > n) c = n;
    return c ? (hsize_t)c : 1;
}

static int series_(sim_trace_t *t, const char *path, hid_t ftype, hid_t mtype, const void *data,
                   size_t n, const char *unit, const char *description)
{
    if (!t) return SIM_EINVAL;
    int err;
    hsize_t dims[1] = {n}, chunk[1] = {chunk_len_(n, 8, TRACE_SERIES_CHUNK_ELEMS_ * 8)};
    hid_t d = trace_make_dataset_(t, path, ftype, mtype, data, 1, dims, chunk, true, &err);
    if (d < 0) return err;
    int rc = trace_attr_str_on_(t, d, path, "unit", unit ? unit : "", true);
    if (rc == 0 && description) rc = trace_attr_str_on_(t, d, path, "description", description, true);
    H5Dclose(d);
    if (rc) H5Ldelete(t->file, path, H5P_DEFAULT);
    return rc;
}

int sim_trace_f64(sim_trace_t *t, const char *path, const double *data, size_t n,
                  const char *unit, const char *description)
{
    return series_(t, path, H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, data, n, unit, description);
}

int sim_trace_i64(sim_trace_t *t, const char *path, const int64_t *data, size_t n,
                  const char *unit, const char *description)
{
    return series_(t, path, H5T_STD_I64LE, H5T_NATIVE_INT64, data, n, unit, description);
}

/* ---- tables ------------------------------------------------------------- */

/* Memory type: members at the table's offsets with its row stride. File
 * type: the same members packed, little-endian, so padding never reaches
 * the file. */
static int table_types_(const sim_table_t *tab, hid_t *mtype, hid_t *ftype, size_t *fsize)
{
    size_t packed = 0;
    for (size_t i = 0; i < tab->ncols; i++) packed += tab->cols[i].width;
    *fsize = packed;
    *mtype = H5Tcreate(H5T_COMPOUND, tab->row_size);
    *ftype = H5Tcreate(H5T_COMPOUND, packed);
    if (*mtype < 0 || *ftype < 0) return -1;
    size_t off = 0;
    for (size_t i = 0; i < tab->ncols; i++) {
        const sim_col_t *c = &tab->cols[i];
        hid_t mt, ft, owned = -1;
        switch (c->type) {
        case SIM_COL_I64: mt = H5T_NATIVE_INT64; ft = H5T_STD_I64LE; break;
        case SIM_COL_F64: mt = H5T_NATIVE_DOUBLE; ft = H5T_IEEE_F64LE; break;
        case SIM_COL_STR:
        default:
            owned = mt = ft = trace_str_type_(c->width);
            if (owned < 0) return -1;
            break;
        }
        int bad = H5Tinsert(*mtype, c->name, c->offset, mt) < 0 ||
                  H5Tinsert(*ftype, c->name, off, ft) < 0;
        if (owned >= 0) H5Tclose(owned);
        if (bad) return -1;
        off += c->width;
    }
    return 0;
}

/* "units": one fixed-length string per column, as wide as the longest. */
static int table_units_(sim_trace_t *t, hid_t d, const char *path, const sim_table_t *tab)
{
    size_t w = 1;
    for (size_t i = 0; i < tab->ncols; i++) {
        size_t l = strlen(tab->cols[i].unit ? tab->cols[i].unit : "") + 1;
        if (l > w) w = l;
    }
    char *buf = calloc(tab->ncols, w);
    if (!buf) {
        trace_fmt_(t->msg, sizeof t->msg, "%s: out of memory", t->tmp);
        return SIM_ENOMEM;
    }
    for (size_t i = 0; i < tab->ncols; i++)
        if (tab->cols[i].unit) memcpy(buf + i * w, tab->cols[i].unit, strlen(tab->cols[i].unit));
    hsize_t dims[1] = {tab->ncols};
    hid_t ty = trace_str_type_(w);
    hid_t sp = H5Screate_simple(1, dims, NULL);
    int rc = (ty < 0 || sp < 0) ? trace_h5_fail_(t, "cannot make units attribute for", path)
                                : trace_put_attr_(t, d, path, "units", ty, ty, sp, buf, true);
    if (sp >= 0) H5Sclose(sp);
    if (ty >= 0) H5Tclose(ty);
    free(buf);
    return rc;
}

int sim_trace_table(sim_trace_t *t, const char *path, const sim_table_t *tab)
{
    return trace_table_(t, path, tab, true);
}

int trace_table_(sim_trace_t *t, const char *path, const sim_table_t *tab, bool may_compress)
{
    if (!t) return SIM_EINVAL;
    if (!tab) return trace_inval_(t, path, "NULL table");
    if (tab->ncols == 0) return trace_inval_(t, path, "table has no columns");
    hid_t mtype = -1, ftype = -1;
    size_t fsize = 0;
    int rc = 0, err;
    hid_t d = -1;
    if (table_types_(tab, &mtype, &ftype, &fsize) < 0) {
        rc = trace_h5_fail_(t, "cannot build compound type for", path);
        goto done;
    }
    hsize_t dims[1] = {tab->nrows}, chunk[1] = {chunk_len_(tab->nrows, fsize, TRACE_TABLE_CHUNK_BYTES_)};
    d = trace_make_dataset_(t, path, ftype, mtype, tab->rows, 1, dims, chunk, may_compress, &err);
    if (d < 0) {
        rc = err;
        goto done;
    }
    rc = table_units_(t, d, path, tab);
    int64_t dropped = (int64_t)tab->dropped;
    if (rc == 0)
        rc = trace_attr_scalar_on_(t, d, path, "dropped_rows", H5T_STD_I64LE, H5T_NATIVE_INT64, &dropped,
                                   true);
    H5Dclose(d);
    if (rc) H5Ldelete(t->file, path, H5P_DEFAULT);
done:
    if (mtype >= 0) H5Tclose(mtype);
    if (ftype >= 0) H5Tclose(ftype);
    return rc;
}
