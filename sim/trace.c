#include "trace.h"

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <hdf5.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "error.h"

/* Chunk sizes: 1-D series use up to 64 Ki elements (512 KiB of doubles);
 * tables use about 64 KiB of rows. Both compress well and read whole fast. */
#define TRACE_SERIES_CHUNK_ELEMS_ 65536u
#define TRACE_TABLE_CHUNK_BYTES_ 65536u
#define TRACE_DEFLATE_LEVEL_ 4u
/* Datasets smaller than this are stored without filters: zlib starts a fresh
 * stream per chunk (~0.5 M instructions for a 5 KB time series at level 4),
 * which costs more than the few kilobytes it saves. */
#define TRACE_COMPRESS_MIN_BYTES_ 16384u

struct sim_trace {
    hid_t file;
    hid_t gcpl;         /* groups: no timestamps */
    hid_t lcpl;         /* links: UTF-8 names */
    hid_t acpl;         /* attributes: UTF-8 names */
    char *path;         /* target */
    char *tmp;          /* "<path>.tmp.<pid>" */
    char *dir;          /* target's directory, fsynced after the rename */
    char *known_group;  /* the last datasets' parent, known to exist as a group (NULL: none) */
    hid_t dcpl, dcpl_z;  /* dataset creation: unfiltered / shuffle + deflate (chunk set per dataset) */
    hid_t dcpl_c;       /* dataset creation: contiguous (small datasets) */
    hid_t known_gid;    /* that group, kept open: datasets are created relative to it (-1: none) */
    char msg[1024];     /* last error, "" if none */
};

/* ---- the library ---------------------------------------------------------- */

/* Before the first HDF5 call: no error printing (errors come back as
 * messages), and no library shutdown at exit. HDF5 1.10 keeps a file whose
 * close failed (a flush that hit ENOSPC or EFBIG) in its open-file list,
 * and its exit handler then crashes closing it again (SIGSEGV in
 * H5F__close_cb): a full disk must end in an error message and status 1,
 * not a crash. The process is ending anyway; the OS reclaims the rest. */
static void h5_setup_(void)
{
    static int done;
    if (done) return;
    done = 1;
    H5dont_atexit();
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
}

/* ---- messages ----------------------------------------------------------- */

static void fmt_(char *buf, size_t len, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void fmt_(char *buf, size_t len, const char *fmt, ...)
{
    if (!buf || len == 0) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, len, fmt, ap);
    va_end(ap);
}

typedef struct {
    char text[512];
    int have;
} h5_detail_t;

/* The innermost record is the most specific ("unable to open file: name =
 * ..., errno = 13, error message = 'Permission denied'"). */
static herr_t h5_walk_(unsigned n, const H5E_error2_t *e, void *data)
{
    h5_detail_t *d = data;
    if (n == 0 && e->desc) {
        /* a system call's failure: HDF5's description is several lines of
         * buffers and offsets; keep what it was doing and the system's
         * message ("file write failed: No space left on device") */
        const char *em = strstr(e->desc, "error message = '");
        const char *colon = strchr(e->desc, ':');
        if (em && colon && colon < em) {
            em += strlen("error message = '");
            const char *end = strchr(em, '\'');
            int what = (int)(colon - e->desc), len = end ? (int)(end - em) : (int)strlen(em);
            snprintf(d->text, sizeof d->text, "%.*s: %.*s (%s)", what, e->desc, len, em,
                     e->func_name ? e->func_name : "?");
        } else {
            snprintf(d->text, sizeof d->text, "%s (%s)", e->desc, e->func_name ? e->func_name : "?");
        }
        for (char *c = d->text; *c; c++)
            if (*c == '\n') *c = ' ';
        d->have = 1;
    }
    return 0;
}

/* Record a failure of the HDF5 call just made on object `obj` (NULL: the
 * file itself); returns SIM_EHDF5. */
static int h5_fail_(sim_trace_t *t, const char *what, const char *obj)
{
    h5_detail_t d = {{0}, 0};
    H5Ewalk2(H5E_DEFAULT, H5E_WALK_UPWARD, h5_walk_, &d);
    const char *why = d.have ? d.text : "HDF5 error";
    if (obj)
        fmt_(t->msg, sizeof t->msg, "%s: %s '%s': %s", t->tmp, what, obj, why);
    else
        fmt_(t->msg, sizeof t->msg, "%s '%s': %s", what, t->tmp, why);
    return SIM_EHDF5;
}

static int inval_(sim_trace_t *t, const char *obj, const char *why)
{
    fmt_(t->msg, sizeof t->msg, "%s: '%s': %s", t->tmp, obj ? obj : "(null)", why);
    return SIM_EINVAL;
}

const char *sim_trace_errmsg(const sim_trace_t *t) { return t ? t->msg : ""; }

const char *sim_trace_tmp_path(const sim_trace_t *t) { return t ? t->tmp : NULL; }

/* ---- paths and groups --------------------------------------------------- */

/* Absolute, no empty component, no trailing slash (except "/" itself). */
static int path_ok_(const char *p)
{
    if (!p || p[0] != '/') return 0;
    if (p[1] == '\0') return 1;
    for (const char *s = p; *s; s++)
        if (s[0] == '/' && (s[1] == '/' || s[1] == '\0')) return 0;
    return 1;
}

/* Open the object at `path`, creating missing groups on the way. The last
 * component may be a dataset when `leaf_dataset` is set; everything else
 * must be a group. Returns an open id (caller closes) or a negative code. */
static hid_t open_or_create_(sim_trace_t *t, const char *path, int leaf_dataset, int *err)
{
    size_t len = strlen(path);
    char *buf = malloc(len + 1);
    if (!buf) {
        *err = SIM_ENOMEM;
        fmt_(t->msg, sizeof t->msg, "%s: out of memory", t->tmp);
        return -1;
    }
    memcpy(buf, path, len + 1);
    hid_t id = -1;
    *err = 0;
    if (len == 1) { /* "/" */
        id = H5Oopen(t->file, "/", H5P_DEFAULT);
        if (id < 0) *err = h5_fail_(t, "cannot open", "/");
    }
    for (size_t i = 1; len > 1 && i <= len && *err == 0; i++) {
        if (buf[i] != '/' && buf[i] != '\0') continue;
        char saved = buf[i];
        buf[i] = '\0';
        int last = saved == '\0';
        htri_t ex = H5Lexists(t->file, buf, H5P_DEFAULT);
        if (ex < 0) {
            *err = h5_fail_(t, "cannot look up", buf);
        } else if (ex == 0) {
            id = H5Gcreate2(t->file, buf, t->lcpl, t->gcpl, H5P_DEFAULT);
            if (id < 0) *err = h5_fail_(t, "cannot create group", buf);
        } else {
            id = H5Oopen(t->file, buf, H5P_DEFAULT);
            if (id < 0) {
                *err = h5_fail_(t, "cannot open", buf);
            } else {
                H5I_type_t ty = H5Iget_type(id);
                if (ty != H5I_GROUP && !(last && leaf_dataset && ty == H5I_DATASET))
                    *err = inval_(t, buf, last && leaf_dataset ? "is neither a group nor a dataset"
                                                               : "exists and is not a group");
            }
        }
        if (id >= 0 && (!last || *err)) {
            H5Oclose(id);
            id = -1;
        }
        buf[i] = saved;
    }
    free(buf);
    return id;
}

int sim_trace_group(sim_trace_t *t, const char *path)
{
    if (!t) return SIM_EINVAL;
    if (!path_ok_(path)) return inval_(t, path, "not an absolute HDF5 path");
    int err;
    hid_t g = open_or_create_(t, path, 0, &err);
    if (g < 0) return err;
    H5Oclose(g);
    return 0;
}

/* ---- attributes --------------------------------------------------------- */

/* Replace attribute `name` on `oid` (delete + recreate: the type or size may
 * change). Large values go to dense attribute storage by themselves because
 * the file format is at least 1.8. */
static int put_attr_(sim_trace_t *t, hid_t oid, const char *obj, const char *name,
                     hid_t ftype, hid_t mtype, hid_t space, const void *buf, bool fresh)
{
    /* fresh: `oid` was just created here, so it has no attributes yet (the
     * lookup is a third of the cost of a small dataset's attribute) */
    htri_t ex = fresh ? 0 : H5Aexists(oid, name);
    if (ex < 0) return h5_fail_(t, "cannot look up attribute on", obj);
    if (ex > 0 && H5Adelete(oid, name) < 0) return h5_fail_(t, "cannot replace attribute on", obj);
    hid_t a = H5Acreate2(oid, name, ftype, space, t->acpl, H5P_DEFAULT);
    if (a < 0) return h5_fail_(t, "cannot create attribute on", obj);
    int rc = 0;
    if (H5Awrite(a, mtype, buf) < 0) rc = h5_fail_(t, "cannot write attribute on", obj);
    if (H5Aclose(a) < 0 && rc == 0) rc = h5_fail_(t, "cannot close attribute on", obj);
    return rc;
}

/* Fixed-length, NUL-terminated UTF-8 string type of `size` bytes. */
static hid_t str_type_(size_t size)
{
    hid_t ty = H5Tcopy(H5T_C_S1);
    if (ty < 0) return -1;
    if (H5Tset_size(ty, size) < 0 || H5Tset_strpad(ty, H5T_STR_NULLTERM) < 0 ||
        H5Tset_cset(ty, H5T_CSET_UTF8) < 0) {
        H5Tclose(ty);
        return -1;
    }
    return ty;
}

static int attr_str_on_(sim_trace_t *t, hid_t oid, const char *obj, const char *name,
                        const char *value, bool fresh)
{
    hid_t ty = str_type_(strlen(value) + 1);
    if (ty < 0) return h5_fail_(t, "cannot make string type for", obj);
    hid_t sp = H5Screate(H5S_SCALAR);
    int rc = sp < 0 ? h5_fail_(t, "cannot make dataspace for", obj)
                    : put_attr_(t, oid, obj, name, ty, ty, sp, value, fresh);
    if (sp >= 0) H5Sclose(sp);
    H5Tclose(ty);
    return rc;
}

static int attr_scalar_on_(sim_trace_t *t, hid_t oid, const char *obj, const char *name,
                           hid_t ftype, hid_t mtype, const void *value, bool fresh)
{
    hid_t sp = H5Screate(H5S_SCALAR);
    if (sp < 0) return h5_fail_(t, "cannot make dataspace for", obj);
    int rc = put_attr_(t, oid, obj, name, ftype, mtype, sp, value, fresh);
    H5Sclose(sp);
    return rc;
}

static int attr_open_(sim_trace_t *t, const char *obj, const char *name, hid_t *oid)
{
    if (!t) return SIM_EINVAL;
    if (!path_ok_(obj)) return inval_(t, obj, "not an absolute HDF5 path");
    if (!name || !*name) return inval_(t, obj, "empty attribute name");
    int err;
    *oid = open_or_create_(t, obj, 1, &err);
    return *oid < 0 ? err : 0;
}

int sim_trace_attr_str(sim_trace_t *t, const char *obj, const char *name, const char *value)
{
    hid_t oid;
    if (t && !value) return inval_(t, obj, "NULL string attribute value");
    int rc = attr_open_(t, obj, name, &oid);
    if (rc) return rc;
    rc = attr_str_on_(t, oid, obj, name, value, false);
    H5Oclose(oid);
    return rc;
}

int sim_trace_attr_i64(sim_trace_t *t, const char *obj, const char *name, int64_t value)
{
    hid_t oid;
    int rc = attr_open_(t, obj, name, &oid);
    if (rc) return rc;
    rc = attr_scalar_on_(t, oid, obj, name, H5T_STD_I64LE, H5T_NATIVE_INT64, &value, false);
    H5Oclose(oid);
    return rc;
}

int sim_trace_attr_f64(sim_trace_t *t, const char *obj, const char *name, double value)
{
    hid_t oid;
    int rc = attr_open_(t, obj, name, &oid);
    if (rc) return rc;
    rc = attr_scalar_on_(t, oid, obj, name, H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, &value, false);
    H5Oclose(oid);
    return rc;
}

/* ---- datasets ----------------------------------------------------------- */

/* Close the cached parent group (before the file closes, or when the next
 * dataset goes elsewhere). */
static void forget_group_(sim_trace_t *t)
{
    if (t->known_gid >= 0) H5Oclose(t->known_gid);
    t->known_gid = -1;
    free(t->known_group);
    t->known_group = NULL;
}

/* The open group `parent` (created with its parents if missing), kept open
 * for the next datasets: a run writes hundreds of datasets into one group,
 * whose chain is then looked up once, not for every dataset. Returns its
 * id (owned by t) or a negative code in *err. */
static hid_t parent_group_(sim_trace_t *t, const char *parent, int *err)
{
    *err = 0;
    if (t->known_group && strcmp(t->known_group, parent) == 0) return t->known_gid;
    char *name = strdup(parent);
    if (!name) {
        *err = SIM_ENOMEM;
        fmt_(t->msg, sizeof t->msg, "%s: out of memory", t->tmp);
        return -1;
    }
    hid_t g = open_or_create_(t, parent, 0, err);
    if (g < 0) {
        free(name);
        return -1;
    }
    forget_group_(t);
    t->known_gid = g;
    t->known_group = name;
    return g;
}

/* Create the 1-D dataset `path` (parents created) and write n elements:
 * chunked with shuffle + deflate when it holds at least
 * TRACE_COMPRESS_MIN_BYTES_, contiguous below that, chunked and extendible
 * when empty (so that n = 0 is an ordinary empty dataset). Returns the open
 * dataset (caller closes) or a negative code; on failure no link is left
 * behind. */
static hid_t make_dataset_(sim_trace_t *t, const char *path, hid_t ftype, hid_t mtype,
                           const void *data, size_t n, hsize_t chunk, int *err)
{
    *err = 0;
    if (!path_ok_(path) || path[1] == '\0') {
        *err = inval_(t, path, "not an absolute HDF5 dataset path");
        return -1;
    }
    if (n > 0 && !data) {
        *err = inval_(t, path, "NULL data");
        return -1;
    }
    /* Parent groups: everything before the last '/'. */
    const char *slash = strrchr(path, '/');
    size_t plen = (size_t)(slash - path);
    char *parent = malloc(plen + 2);
    if (!parent) {
        *err = SIM_ENOMEM;
        fmt_(t->msg, sizeof t->msg, "%s: out of memory", t->tmp);
        return -1;
    }
    memcpy(parent, path, plen ? plen : 1);
    parent[plen ? plen : 1] = '\0';
    hid_t pg = parent_group_(t, parent, err);
    free(parent);
    if (pg < 0) return -1;

    /* relative to the open parent: no walk down the path for each dataset */
    const char *name = slash + 1;
    /* Small datasets are contiguous with a fixed size: a chunked dataset
     * carries a chunk index (a B-tree node of about 2 KiB in this file
     * format) that costs more to create than the data. Empty ones stay
     * chunked and extendible (HDF5 cannot allocate an empty contiguous
     * dataset's storage, and readers expect an ordinary 0-length array). */
    bool compress = (double)n * (double)H5Tget_size(ftype) >= TRACE_COMPRESS_MIN_BYTES_;
    bool contiguous = n > 0 && !compress;
    hsize_t dims[1] = {(hsize_t)n}, maxdims[1] = {H5S_UNLIMITED}, cdims[1] = {chunk};
    hid_t sp = H5Screate_simple(1, dims, contiguous ? NULL : maxdims);
    /* the file's creation property lists, only the chunk size set here */
    hid_t dcpl = compress ? t->dcpl_z : contiguous ? t->dcpl_c : t->dcpl;
    hid_t d = -1;
    if (sp < 0) {
        *err = h5_fail_(t, "cannot set up dataset", path);
    } else if (!contiguous && H5Pset_chunk(dcpl, 1, cdims) < 0) {
        *err = h5_fail_(t, "cannot set chunking for", path);
    } else if ((d = H5Dcreate2(pg, name, ftype, sp, t->lcpl, dcpl, H5P_DEFAULT)) < 0) {
        /* the name is looked up only when the creation failed (a lookup
         * before every creation walks the group's link index once more) */
        *err = h5_fail_(t, "cannot create dataset", path);
        if (H5Lexists(pg, name, H5P_DEFAULT) > 0) *err = inval_(t, path, "already exists");
    } else if (n > 0 && H5Dwrite(d, mtype, H5S_ALL, H5S_ALL, H5P_DEFAULT, data) < 0) {
        *err = h5_fail_(t, "cannot write dataset", path);
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
    hsize_t chunk = chunk_len_(n, 8, TRACE_SERIES_CHUNK_ELEMS_ * 8);
    hid_t d = make_dataset_(t, path, ftype, mtype, data, n, chunk, &err);
    if (d < 0) return err;
    int rc = attr_str_on_(t, d, path, "unit", unit ? unit : "", true);
    if (rc == 0 && description) rc = attr_str_on_(t, d, path, "description", description, true);
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

/* ---- columns appended as a run goes ---------------------------------------- */

struct sim_trace_cols {
    sim_trace_t *t;
    size_t n;
    hid_t *d;           /* open datasets */
    hsize_t *len;       /* their lengths */
    char **path;        /* for messages */
};

int sim_trace_cols_close(sim_trace_cols_t *c)
{
    if (!c) return 0;
    int rc = 0;
    for (size_t i = 0; i < c->n; i++) {
        if (c->d[i] >= 0 && H5Dclose(c->d[i]) < 0 && rc == 0) rc = h5_fail_(c->t, "cannot close", c->path[i]);
        free(c->path[i]);
    }
    free(c->d);
    free(c->len);
    free(c->path);
    free(c);
    return rc;
}

sim_trace_cols_t *sim_trace_cols_create(sim_trace_t *t, const char *group, size_t n,
                                        const char *const *names, const char *const *units,
                                        const char *const *descriptions, size_t chunk_rows,
                                        int *err)
{
    *err = SIM_EINVAL;
    if (!t) return NULL;
    if (!path_ok_(group)) {
        *err = inval_(t, group, "not an absolute HDF5 path");
        return NULL;
    }
    if (chunk_rows == 0) {
        *err = inval_(t, group, "chunk of 0 rows");
        return NULL;
    }
    sim_trace_cols_t *c = calloc(1, sizeof *c);
    if (c) {
        c->t = t;
        c->d = malloc((n ? n : 1) * sizeof *c->d);
        c->len = calloc(n ? n : 1, sizeof *c->len);
        c->path = calloc(n ? n : 1, sizeof *c->path);
    }
    if (!c || !c->d || !c->len || !c->path) {
        if (c) {
            free(c->d);
            free(c->len);
            free(c->path);
            free(c);
        }
        *err = SIM_ENOMEM;
        fmt_(t->msg, sizeof t->msg, "%s: out of memory", t->tmp);
        return NULL;
    }
    for (size_t i = 0; i < n; i++) c->d[i] = -1;
    /* no chunk cache: every chunk is written whole, once */
    hid_t dapl = H5Pcreate(H5P_DATASET_ACCESS);
    if (dapl < 0 || H5Pset_chunk_cache(dapl, 0, 0, 1.0) < 0) {
        *err = h5_fail_(t, "cannot set up the datasets of", group);
        if (dapl >= 0) H5Pclose(dapl);
        c->n = 0;
        sim_trace_cols_close(c);
        return NULL;
    }
    int rc = 0;
    hid_t pg = parent_group_(t, group, &rc);   /* all columns go into it */
    for (size_t i = 0; i < n && rc == 0; i++) {
        size_t len = strlen(group) + strlen(names[i]) + 2;
        c->path[i] = malloc(len);
        c->n = i + 1;
        if (!c->path[i]) {
            rc = SIM_ENOMEM;
            fmt_(t->msg, sizeof t->msg, "%s: out of memory", t->tmp);
            break;
        }
        snprintf(c->path[i], len, "%s/%s", group, names[i]);
        if (!path_ok_(c->path[i]) || strchr(names[i], '/')) {
            rc = inval_(t, c->path[i], "not a dataset name");
            break;
        }
        hsize_t dims[1] = {0}, maxdims[1] = {H5S_UNLIMITED}, cdims[1] = {chunk_rows};
        hid_t sp = H5Screate_simple(1, dims, maxdims);
        if (sp < 0 || H5Pset_chunk(t->dcpl_z, 1, cdims) < 0) {
            rc = h5_fail_(t, "cannot set up dataset", c->path[i]);
        } else {
            c->d[i] = H5Dcreate2(pg, names[i], H5T_IEEE_F64LE, sp, t->lcpl, t->dcpl_z, dapl);
            if (c->d[i] < 0) {
                rc = h5_fail_(t, "cannot create dataset", c->path[i]);
                if (H5Lexists(pg, names[i], H5P_DEFAULT) > 0) rc = inval_(t, c->path[i], "already exists");
            }
        }
        if (sp >= 0) H5Sclose(sp);
        if (rc == 0) rc = attr_str_on_(t, c->d[i], c->path[i], "unit", units && units[i] ? units[i] : "", true);
        if (rc == 0 && descriptions && descriptions[i])
            rc = attr_str_on_(t, c->d[i], c->path[i], "description", descriptions[i], true);
    }
    H5Pclose(dapl);
    if (rc) {
        *err = rc;
        sim_trace_cols_close(c);
        return NULL;
    }
    *err = 0;
    return c;
}

int sim_trace_cols_append(sim_trace_cols_t *c, size_t col, const double *data, size_t rows)
{
    if (!c || col >= c->n) return SIM_EINVAL;
    if (rows == 0) return 0;
    sim_trace_t *t = c->t;
    hsize_t start[1] = {c->len[col]}, count[1] = {rows}, size[1] = {c->len[col] + rows};
    hid_t d = c->d[col];
    if (H5Dset_extent(d, size) < 0) return h5_fail_(t, "cannot extend", c->path[col]);
    hid_t fs = H5Dget_space(d);
    hid_t ms = H5Screate_simple(1, count, NULL);
    int rc = 0;
    if (fs < 0 || ms < 0 || H5Sselect_hyperslab(fs, H5S_SELECT_SET, start, NULL, count, NULL) < 0)
        rc = h5_fail_(t, "cannot select rows of", c->path[col]);
    else if (H5Dwrite(d, H5T_NATIVE_DOUBLE, ms, fs, H5P_DEFAULT, data) < 0)
        rc = h5_fail_(t, "cannot write", c->path[col]);
    if (ms >= 0) H5Sclose(ms);
    if (fs >= 0) H5Sclose(fs);
    if (rc == 0) c->len[col] += rows;
    return rc;
}

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
            owned = mt = ft = str_type_(c->width);
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
        fmt_(t->msg, sizeof t->msg, "%s: out of memory", t->tmp);
        return SIM_ENOMEM;
    }
    for (size_t i = 0; i < tab->ncols; i++)
        if (tab->cols[i].unit) memcpy(buf + i * w, tab->cols[i].unit, strlen(tab->cols[i].unit));
    hsize_t dims[1] = {tab->ncols};
    hid_t ty = str_type_(w);
    hid_t sp = H5Screate_simple(1, dims, NULL);
    int rc = (ty < 0 || sp < 0) ? h5_fail_(t, "cannot make units attribute for", path)
                                : put_attr_(t, d, path, "units", ty, ty, sp, buf, true);
    if (sp >= 0) H5Sclose(sp);
    if (ty >= 0) H5Tclose(ty);
    free(buf);
    return rc;
}

int sim_trace_table(sim_trace_t *t, const char *path, const sim_table_t *tab)
{
    if (!t) return SIM_EINVAL;
    if (!tab) return inval_(t, path, "NULL table");
    if (tab->ncols == 0) return inval_(t, path, "table has no columns");
    hid_t mtype = -1, ftype = -1;
    size_t fsize = 0;
    int rc = 0, err;
    hid_t d = -1;
    if (table_types_(tab, &mtype, &ftype, &fsize) < 0) {
        rc = h5_fail_(t, "cannot build compound type for", path);
        goto done;
    }
    d = make_dataset_(t, path, ftype, mtype, tab->rows, tab->nrows,
                      chunk_len_(tab->nrows, fsize, TRACE_TABLE_CHUNK_BYTES_), &err);
    if (d < 0) {
        rc = err;
        goto done;
    }
    rc = table_units_(t, d, path, tab);
    int64_t dropped = (int64_t)tab->dropped;
    if (rc == 0)
        rc = attr_scalar_on_(t, d, path, "dropped_rows", H5T_STD_I64LE, H5T_NATIVE_INT64, &dropped, true);
    H5Dclose(d);
    if (rc) H5Ldelete(t->file, path, H5P_DEFAULT);
done:
    if (mtype >= 0) H5Tclose(mtype);
    if (ftype >= 0) H5Tclose(ftype);
    return rc;
}

/* ---- life cycle --------------------------------------------------------- */

static void free_(sim_trace_t *t)
{
    if (t->gcpl >= 0) H5Pclose(t->gcpl);
    if (t->lcpl >= 0) H5Pclose(t->lcpl);
    if (t->acpl >= 0) H5Pclose(t->acpl);
    if (t->dcpl >= 0) H5Pclose(t->dcpl);
    if (t->dcpl_z >= 0) H5Pclose(t->dcpl_z);
    if (t->dcpl_c >= 0) H5Pclose(t->dcpl_c);
    free(t->path);
    free(t->tmp);
    free(t->dir);
    free(t->known_group);
    free(t);
}

/* Directory part of a file path: "a/b" -> "a", "b" -> ".", "/b" -> "/". */
static char *dir_of_(const char *path)
{
    const char *slash = strrchr(path, '/');
    if (!slash) return strdup(".");
    size_t n = slash == path ? 1 : (size_t)(slash - path);
    char *d = malloc(n + 1);
    if (!d) return NULL;
    memcpy(d, path, n);
    d[n] = '\0';
    return d;
}

/* Property lists: file format >= 1.8 (large attributes, no timestamps in
 * the format), strong close (commit closes everything), no object times. */
static int open_file_(sim_trace_t *t)
{
    hid_t fcpl = H5Pcreate(H5P_FILE_CREATE);
    hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
    int ok = fcpl >= 0 && fapl >= 0 && H5Pset_obj_track_times(fcpl, 0) >= 0 &&
             H5Pset_libver_bounds(fapl, H5F_LIBVER_V18, H5F_LIBVER_V18) >= 0 &&
             H5Pset_fclose_degree(fapl, H5F_CLOSE_STRONG) >= 0;
    if (ok) t->file = H5Fcreate(t->tmp, H5F_ACC_TRUNC, fcpl, fapl);
    int rc = (ok && t->file >= 0) ? 0 : h5_fail_(t, "cannot create", NULL);
    if (fapl >= 0) H5Pclose(fapl);
    if (fcpl >= 0) H5Pclose(fcpl);
    if (rc) return rc;

    t->gcpl = H5Pcreate(H5P_GROUP_CREATE);
    t->lcpl = H5Pcreate(H5P_LINK_CREATE);
    t->acpl = H5Pcreate(H5P_ATTRIBUTE_CREATE);
    t->dcpl = H5Pcreate(H5P_DATASET_CREATE);
    t->dcpl_z = H5Pcreate(H5P_DATASET_CREATE);
    t->dcpl_c = H5Pcreate(H5P_DATASET_CREATE);
    if (t->gcpl < 0 || t->lcpl < 0 || t->acpl < 0 || t->dcpl < 0 || t->dcpl_z < 0 || t->dcpl_c < 0 ||
        H5Pset_obj_track_times(t->dcpl, 0) < 0 || H5Pset_obj_track_times(t->dcpl_z, 0) < 0 ||
        H5Pset_obj_track_times(t->dcpl_c, 0) < 0 || H5Pset_layout(t->dcpl_c, H5D_CONTIGUOUS) < 0 ||
        H5Pset_shuffle(t->dcpl_z) < 0 || H5Pset_deflate(t->dcpl_z, TRACE_DEFLATE_LEVEL_) < 0 ||
        H5Pset_obj_track_times(t->gcpl, 0) < 0 ||
        H5Pset_char_encoding(t->lcpl, H5T_CSET_UTF8) < 0 ||
        H5Pset_char_encoding(t->acpl, H5T_CSET_UTF8) < 0)
        return h5_fail_(t, "cannot set up property lists for", NULL);
    return 0;
}

sim_trace_t *sim_trace_create(const char *path, int *err, char *errbuf, size_t errlen)
{
    int dummy;
    if (!err) err = &dummy;
    fmt_(errbuf, errlen, "%s", "");
    h5_setup_();
    if (!path || !*path || path[strlen(path) - 1] == '/') {
        *err = SIM_EINVAL;
        fmt_(errbuf, errlen, "trace path '%s' does not name a file", path ? path : "(null)");
        return NULL;
    }

    sim_trace_t *t = calloc(1, sizeof *t);
    if (!t) goto nomem;
    t->file = t->gcpl = t->lcpl = t->acpl = t->dcpl = t->dcpl_z = t->dcpl_c = t->known_gid = -1;
    size_t tlen = strlen(path) + 32;
    t->path = strdup(path);
    t->dir = dir_of_(path);
    t->tmp = malloc(tlen);
    if (!t->path || !t->dir || !t->tmp) goto nomem;
    snprintf(t->tmp, tlen, "%s.tmp.%ld", path, (long)getpid());

    struct stat st;
    if (stat(t->dir, &st) != 0) {
        *err = SIM_EIO;
        fmt_(errbuf, errlen, "cannot create trace '%s': directory '%s': %s", path, t->dir,
             strerror(errno));
        goto fail;
    }
    if (!S_ISDIR(st.st_mode)) {
        *err = SIM_EIO;
        fmt_(errbuf, errlen, "cannot create trace '%s': '%s' is not a directory", path, t->dir);
        goto fail;
    }
    if (access(t->dir, W_OK | X_OK) != 0) {
        *err = SIM_EIO;
        fmt_(errbuf, errlen, "cannot create trace '%s': directory '%s' is not writable: %s", path,
             t->dir, strerror(errno));
        goto fail;
    }
    if (stat(path, &st) == 0 && S_ISDIR(st.st_mode)) {
        *err = SIM_EIO;
        fmt_(errbuf, errlen, "cannot create trace '%s': it is a directory", path);
        goto fail;
    }
    if ((*err = open_file_(t)) != 0) {
        fmt_(errbuf, errlen, "cannot create trace '%s': %s", path, t->msg);
        sim_trace_abort(t);
        return NULL;
    }
    *err = 0;
    return t;

nomem:
    *err = SIM_ENOMEM;
    fmt_(errbuf, errlen, "cannot create trace '%s': out of memory", path);
fail:
    if (t) free_(t);
    return NULL;
}

void sim_trace_abort(sim_trace_t *t)
{
    if (!t) return;
    if (t->file >= 0) {
        forget_group_(t);
        H5Fclose(t->file);
        unlink(t->tmp);
    }
    free_(t);
}

/* fsync a path opened read-only (works for files and directories). Some file
 * systems cannot sync directories (EINVAL); that is not an error. */
static int fsync_path_(const char *p, int is_dir)
{
    int fd = open(p, O_RDONLY | O_CLOEXEC | (is_dir ? O_DIRECTORY : 0));
    if (fd < 0) return -1;
    int rc = fsync(fd);
    if (rc != 0 && is_dir && errno == EINVAL) rc = 0;
    int e = errno;
    close(fd);
    errno = e;
    return rc;
}

int sim_trace_commit(sim_trace_t *t, char *errbuf, size_t errlen)
{
    if (!t) {
        fmt_(errbuf, errlen, "no trace to commit");
        return SIM_EINVAL;
    }
    int rc = 0;
    forget_group_(t);
    /* Everything we open we close; strong close degree would hide a leak. */
    assert(H5Fget_obj_count(t->file, H5F_OBJ_ALL) == 1);
    hid_t f = t->file;
    t->file = -1;
    if (H5Fflush(f, H5F_SCOPE_LOCAL) < 0) rc = h5_fail_(t, "cannot flush", NULL);
    if (H5Fclose(f) < 0 && rc == 0) rc = h5_fail_(t, "cannot close", NULL);
    if (rc) {
        fmt_(errbuf, errlen, "cannot commit trace '%s': %s", t->path, t->msg);
        goto fail;
    }
    if (fsync_path_(t->tmp, 0) != 0) {
        fmt_(errbuf, errlen, "cannot commit trace '%s': fsync '%s': %s", t->path, t->tmp,
             strerror(errno));
        rc = SIM_EIO;
        goto fail;
    }
    if (rename(t->tmp, t->path) != 0) {
        fmt_(errbuf, errlen, "cannot commit trace: rename '%s' to '%s': %s", t->tmp, t->path,
             strerror(errno));
        rc = SIM_EIO;
        goto fail;
    }
    /* The file is in place; only its directory entry may not be durable. */
    if (fsync_path_(t->dir, 1) != 0) {
        fmt_(errbuf, errlen, "trace '%s' written but directory '%s' not synced: %s", t->path,
             t->dir, strerror(errno));
        rc = SIM_EIO;
    }
    free_(t);
    return rc;

fail:
    unlink(t->tmp);
    free_(t);
    return rc;
}

/* ---- copying ------------------------------------------------------------ */

int sim_trace_copy(sim_trace_t *t, const char *src_file, const char *src_path, const char *dst_path)
{
    if (!t || !src_file) return SIM_EINVAL;
    if (!path_ok_(src_path)) return inval_(t, src_path, "not an absolute HDF5 path");
    if (!path_ok_(dst_path) || dst_path[1] == '\0') return inval_(t, dst_path, "not an absolute HDF5 path");
    /* the destination's parent groups */
    const char *slash = strrchr(dst_path, '/');
    size_t plen = slash == dst_path ? 1 : (size_t)(slash - dst_path);
    char *parent = malloc(plen + 1);
    if (!parent) return inval_(t, dst_path, "out of memory");
    memcpy(parent, dst_path, plen);
    parent[plen] = '\0';
    int err = 0;
    hid_t g = open_or_create_(t, parent, 0, &err);
    free(parent);
    if (g < 0) return err;
    H5Oclose(g);
    h5_setup_();
    hid_t src = H5Fopen(src_file, H5F_ACC_RDONLY, H5P_DEFAULT);
    if (src < 0) {
        fmt_(t->msg, sizeof t->msg, "%s: cannot open '%s' to copy '%s'", t->tmp, src_file, src_path);
        return SIM_EHDF5;
    }
    int rc = 0;
    if (H5Ocopy(src, src_path, t->file, dst_path, H5P_DEFAULT, t->lcpl) < 0)
        rc = h5_fail_(t, "cannot copy into", dst_path);
    H5Fclose(src);
    return rc;
}
