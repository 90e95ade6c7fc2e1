/* HDF5 trace writer: datasets and tables (see trace.h).
 *
 * Owns the creation of every dataset (trace_make_dataset_: contiguous when
 * small, chunked and compressed when large, extendible when empty), the
 * 1-D float64 and int64 datasets with their "unit" and "description"
 * attributes, and compound datasets from sim_table_t tables (string columns
 * as variable-length UTF-8).
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

/* Create the dataset `path` (parents created) of rank 1 or 2 with `dims`,
 * without writing it: chunked by `chunk` with shuffle + deflate when one
 * row (the whole of a 1-D dataset, one row of a 2-D one) holds at least
 * TRACE_COMPRESS_MIN_BYTES_ in the file (`elem_bytes` per element; 0: the
 * size of `ftype`) and `may_compress`; contiguous otherwise; chunked and
 * extendible in every dimension when empty (so that a 0-length dataset is
 * an ordinary empty one). Returns the open dataset (caller closes) or a
 * negative code in *err. */
static hid_t create_dataset_(sim_trace_t *t, const char *path, hid_t ftype, size_t elem_bytes, int rank,
                             const hsize_t *dims, const hsize_t *chunk, bool may_compress, int *err)
{
    *err = 0;
    if (!trace_path_ok_(path) || path[1] == '\0') {
        *err = trace_inval_(t, path, "not an absolute HDF5 dataset path");
        return -1;
    }
    hsize_t total = 1;
    for (int i = 0; i < rank; i++) total *= dims[i];
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
    if (elem_bytes == 0) elem_bytes = H5Tget_size(ftype);
    bool compress = may_compress && (double)dims[rank - 1] * (double)elem_bytes >= TRACE_COMPRESS_MIN_BYTES_;
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
    }
    if (sp >= 0) H5Sclose(sp);
    return d;
}

/* Create the dataset `path` as create_dataset_ does and write it whole from
 * `data` (row-major). Returns the open dataset (caller closes) or a negative
 * code; on failure no link is left behind. */
hid_t trace_make_dataset_(sim_trace_t *t, const char *path, hid_t ftype, hid_t mtype,
                          const void *data, int rank, const hsize_t *dims, const hsize_t *chunk,
                          bool may_compress, int *err)
{
    hsize_t total = 1;
    for (int i = 0; i < rank; i++) total *= dims[i];
    if (total > 0 && !data) {
        *err = trace_inval_(t, path, "NULL data");
        return -1;
    }
    hid_t d = create_dataset_(t, path, ftype, 0, rank, dims, chunk, may_compress, err);
    if (d >= 0 && total > 0 && H5Dwrite(d, mtype, H5S_ALL, H5S_ALL, H5P_DEFAULT, data) < 0) {
        *err = trace_h5_fail_(t, "cannot write dataset", path);
        H5Dclose(d);
        d = -1;
        H5Ldelete(t->file, path, H5P_DEFAULT);
    }
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

/* A string column in the file is a variable-length string: a reference to
 * the string in the file's global heap (its length, 4 bytes; the heap
 * collection's address, 8; the index in it, 4). */
#define TRACE_VLEN_FILE_BYTES_ 16u
/* Rows of a table with string columns staged per write (see table_write_). */
#define TRACE_TABLE_STAGE_ROWS_ 4096u
/* A staged cell: an int64, a double, or a pointer to a string cell. */
#define TRACE_CELL_ 8u
_Static_assert(sizeof(const char *) <= TRACE_CELL_, "a string pointer fits a staged cell");

static bool has_strings_(const sim_table_t *tab)
{
    for (size_t i = 0; i < tab->ncols; i++)
        if (tab->cols[i].type == SIM_COL_STR) return true;
    return false;
}

/* File type: one member per column, packed, little-endian, strings
 * variable-length UTF-8, so padding never reaches the file (HDF5 lays the
 * members out again at their sizes in the file). *fsize: a row's size in
 * the file. Memory type: without string columns, the table's own rows
 * (members at their offsets, its row stride); with them, staged rows
 * (table_write_): one TRACE_CELL_ per column in column order. */
static int table_types_(const sim_table_t *tab, hid_t *mtype, hid_t *ftype, size_t *fsize)
{
    bool staged = has_strings_(tab);
    size_t packed = 0;
    for (size_t i = 0; i < tab->ncols; i++)
        packed += tab->cols[i].type == SIM_COL_STR ? TRACE_VLEN_FILE_BYTES_ : 8;
    *fsize = packed;
    *mtype = H5Tcreate(H5T_COMPOUND, staged ? tab->ncols * TRACE_CELL_ : tab->row_size);
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
            owned = mt = ft = trace_str_type_();
            if (owned < 0) return -1;
            break;
        }
        int bad = H5Tinsert(*mtype, c->name, staged ? i * TRACE_CELL_ : c->offset, mt) < 0 ||
                  H5Tinsert(*ftype, c->name, off, ft) < 0;
        off += H5Tget_size(ft);
        if (owned >= 0) H5Tclose(owned);
        if (bad) return -1;
    }
    /* the in-memory size of a variable-length string is a pointer's */
    if (off != packed && H5Tset_size(*ftype, off) < 0) return -1;
    return 0;
}

/* Write the table's rows into `d` (created for them). HDF5 reads a
 * variable-length string through a pointer, and the table holds its
 * strings in its rows (fixed-width cells, so that recording a row costs no
 * allocation): a table with string columns is written TRACE_TABLE_STAGE_ROWS_
 * rows at a time from staged rows of numbers and pointers to the strings
 * in the table. Nothing is copied per event: this runs once per table, when
 * the trace is written. */
static int table_write_(sim_trace_t *t, hid_t d, const char *path, const sim_table_t *tab, hid_t mtype)
{
    if (tab->nrows == 0) return 0;
    if (!has_strings_(tab))
        return H5Dwrite(d, mtype, H5S_ALL, H5S_ALL, H5P_DEFAULT, tab->rows) < 0
                   ? trace_h5_fail_(t, "cannot write dataset", path) : 0;
    size_t stride = tab->ncols * TRACE_CELL_;
    size_t block = tab->nrows < TRACE_TABLE_STAGE_ROWS_ ? tab->nrows : TRACE_TABLE_STAGE_ROWS_;
    unsigned char *buf = malloc(block * stride);
    if (!buf) {
        trace_fmt_(t->msg, sizeof t->msg, "%s: out of memory", t->tmp);
        return SIM_ENOMEM;
    }
    hid_t fs = H5Dget_space(d);
    int rc = fs < 0 ? trace_h5_fail_(t, "cannot write dataset", path) : 0;
    for (size_t r0 = 0; r0 < tab->nrows && rc == 0; r0 += block) {
        size_t k = tab->nrows - r0 < block ? tab->nrows - r0 : block;
        for (size_t i = 0; i < k; i++) {
            const unsigned char *row = sim_table_row(tab, r0 + i);
            unsigned char *out = buf + i * stride;
            for (size_t c = 0; c < tab->ncols; c++) {
                const sim_col_t *col = &tab->cols[c];
                if (col->type == SIM_COL_STR) {
                    const char *str = (const char *)(row + col->offset);   /* NUL-terminated (sim_row_str) */
                    memcpy(out + c * TRACE_CELL_, &str, sizeof str);
                } else {
                    memcpy(out + c * TRACE_CELL_, row + col->offset, TRACE_CELL_);
                }
            }
        }
        hsize_t start[1] = {r0}, count[1] = {k};
        hid_t ms = H5Screate_simple(1, count, NULL);
        if (ms < 0 || H5Sselect_hyperslab(fs, H5S_SELECT_SET, start, NULL, count, NULL) < 0 ||
            H5Dwrite(d, mtype, ms, fs, H5P_DEFAULT, buf) < 0)
            rc = trace_h5_fail_(t, "cannot write dataset", path);
        if (ms >= 0) H5Sclose(ms);
    }
    if (fs >= 0) H5Sclose(fs);
    free(buf);
    return rc;
}

/* "units": one variable-length string per column. */
static int table_units_(sim_trace_t *t, hid_t d, const char *path, const sim_table_t *tab)
{
    const char *units[SIM_TABLE_MAX_COLS];
    for (size_t i = 0; i < tab->ncols; i++) units[i] = tab->cols[i].unit ? tab->cols[i].unit : "";
    hsize_t dims[1] = {tab->ncols};
    hid_t ty = trace_str_type_();
    hid_t sp = H5Screate_simple(1, dims, NULL);
    int rc = (ty < 0 || sp < 0) ? trace_h5_fail_(t, "cannot make units attribute for", path)
                                : trace_put_attr_(t, d, path, "units", ty, ty, sp, units, true);
    if (sp >= 0) H5Sclose(sp);
    if (ty >= 0) H5Tclose(ty);
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
    d = create_dataset_(t, path, ftype, fsize, 1, dims, chunk, may_compress, &err);
    if (d < 0) {
        rc = err;
        goto done;
    }
    rc = table_write_(t, d, path, tab, mtype);
    if (rc == 0) rc = table_units_(t, d, path, tab);
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
