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
/* Samples per chunk of a held set of time series (the same as the runner's
 * spilled blocks, so that both layouts have the same chunks). */
#define TRACE_SERIES_SPILL_CHUNK_ 1024u
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

/* Create the dataset `path` (parents created) of rank 1 or 2 with `dims`
 * and write it from `data` (row-major): chunked by `chunk` with shuffle +
 * deflate when one row (the whole of a 1-D dataset, one row of a 2-D one)
 * holds at least TRACE_COMPRESS_MIN_BYTES_ (and `may_compress`); contiguous otherwise; chunked
 * and extendible in every dimension when empty (so that a 0-length dataset
 * is an ordinary empty one). Returns the open dataset (caller closes) or a
 * negative code; on failure no link is left behind. */
static hid_t make_dataset_(sim_trace_t *t, const char *path, hid_t ftype, hid_t mtype,
                           const void *data, int rank, const hsize_t *dims, const hsize_t *chunk,
                           bool may_compress, int *err)
{
    *err = 0;
    if (!path_ok_(path) || path[1] == '\0') {
        *err = inval_(t, path, "not an absolute HDF5 dataset path");
        return -1;
    }
    hsize_t total = 1;
    for (int i = 0; i < rank; i++) total *= dims[i];
    if (total > 0 && !data) {
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
    bool compress = may_compress && (double)dims[rank - 1] * (double)H5Tget_size(ftype) >= TRACE_COMPRESS_MIN_BYTES_;
    bool contiguous = total > 0 && !compress;
    hsize_t maxdims[2] = {H5S_UNLIMITED, H5S_UNLIMITED};
    hid_t sp = H5Screate_simple(rank, dims, contiguous ? NULL : maxdims);
    /* the file's creation property lists, only the chunk size set here */
    hid_t dcpl = compress ? t->dcpl_z : contiguous ? t->dcpl_c : t->dcpl;
    hid_t d = -1;
    if (sp < 0) {
        *err = h5_fail_(t, "cannot set up dataset", path);
    } else if (!contiguous && H5Pset_chunk(dcpl, rank, chunk) < 0) {
        *err = h5_fail_(t, "cannot set chunking for", path);
    } else if ((d = H5Dcreate2(pg, name, ftype, sp, t->lcpl, dcpl, H5P_DEFAULT)) < 0) {
        /* the name is looked up only when the creation failed (a lookup
         * before every creation walks the group's link index once more) */
        *err = h5_fail_(t, "cannot create dataset", path);
        if (H5Lexists(pg, name, H5P_DEFAULT) > 0) *err = inval_(t, path, "already exists");
    } else if (total > 0 && H5Dwrite(d, mtype, H5S_ALL, H5S_ALL, H5P_DEFAULT, data) < 0) {
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
    hsize_t dims[1] = {n}, chunk[1] = {chunk_len_(n, 8, TRACE_SERIES_CHUNK_ELEMS_ * 8)};
    hid_t d = make_dataset_(t, path, ftype, mtype, data, 1, dims, chunk, true, &err);
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

/* ---- sets of time series ------------------------------------------------ */

static const char series_t_help_[] = "end of each sample interval";

/* group + "/" + leaf, or NULL (out of memory, message set). */
static char *join_(sim_trace_t *t, const char *group, const char *leaf)
{
    size_t len = strlen(group) + strlen(leaf) + 2;
    char *p = malloc(len);
    if (!p)
        fmt_(t->msg, sizeof t->msg, "%s: out of memory", t->tmp);
    else
        snprintf(p, len, "%s%s%s", group, group[1] ? "/" : "", leaf);
    return p;
}

static int table_(sim_trace_t *t, const char *path, const sim_table_t *tab, bool may_compress);

/* Every series named (checked before anything is written). */
static int names_ok_(sim_trace_t *t, const char *group, size_t count, const char *const *names)
{
    for (size_t i = 0; i < count; i++)
        if (!names || !names[i] || !names[i][0]) return inval_(t, group, "a time series without a name");
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
            fmt_(t->msg, sizeof t->msg, "%s: out of memory", t->tmp);
            break;
        }
        sim_row_str(&tab, row, cn, names[i]);
        sim_row_str(&tab, row, cu, units && units[i] ? units[i] : "");
        sim_row_str(&tab, row, cd, descriptions && descriptions[i] ? descriptions[i] : "");
    }
    char *p = rc ? NULL : join_(t, group, "series");
    if (rc == 0 && !p) rc = SIM_ENOMEM;
    /* never compressed: written once per run and mostly padding, it would
     * cost deflate about 4 M instructions per RAG run (a third of the
     * trace's CPU time) to save ~10 KB */
    if (rc == 0) rc = table_(t, p, &tab, false);
    free(p);
    sim_table_fini(&tab);
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
    if (!path_ok_(group)) return inval_(t, group, "not an absolute HDF5 path");
    if (names_ok_(t, group, count, names)) return SIM_EINVAL;
    for (size_t i = 0; i < count && n > 0; i++)
        if (!cols || !cols[i]) return inval_(t, group, "NULL data");
    char *pt = join_(t, group, "t"), *pv = join_(t, group, "values");
    double *buf = count && n ? malloc(count * n * sizeof *buf) : NULL;
    int rc = 0;
    if (!pt || !pv || (count && n && !buf)) {
        rc = SIM_ENOMEM;
        fmt_(t->msg, sizeof t->msg, "%s: out of memory", t->tmp);
    }
    if (rc == 0) rc = sim_trace_f64(t, pt, times, n, "s", series_t_help_);
    if (rc == 0) {
        for (size_t i = 0; i < count && n > 0; i++) memcpy(buf + i * n, cols[i], n * sizeof *buf);
        size_t cs = n < TRACE_SERIES_SPILL_CHUNK_ ? n : TRACE_SERIES_SPILL_CHUNK_;
        hsize_t dims[2] = {count, n}, chunk[2] = {series_chunk_rows_(count, cs), cs ? cs : 1};
        hid_t d = make_dataset_(t, pv, H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, buf, 2, dims, chunk, true, &rc);
        if (d >= 0) H5Dclose(d);
    }
    if (rc == 0) rc = series_table_(t, group, count, names, units, descriptions);
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
    if (o->dt >= 0 && H5Dclose(o->dt) < 0) rc = h5_fail_(o->t, "cannot close", o->pt);
    if (o->dv >= 0 && H5Dclose(o->dv) < 0 && rc == 0) rc = h5_fail_(o->t, "cannot close", o->pv);
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
        *err = h5_fail_(t, "cannot set up dataset", path);
    } else if ((d = H5Dcreate2(pg, name, H5T_IEEE_F64LE, sp, t->lcpl, t->dcpl_z, dapl)) < 0) {
        *err = h5_fail_(t, "cannot create dataset", path);
        if (H5Lexists(pg, name, H5P_DEFAULT) > 0) *err = inval_(t, path, "already exists");
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
    if (!path_ok_(group)) {
        *err = inval_(t, group, "not an absolute HDF5 path");
        return NULL;
    }
    if (chunk_samples == 0) {
        *err = inval_(t, group, "chunk of 0 samples");
        return NULL;
    }
    if (names_ok_(t, group, count, names)) return NULL;
    sim_trace_series_out_t *o = calloc(1, sizeof *o);
    if (!o) {
        *err = SIM_ENOMEM;
        fmt_(t->msg, sizeof t->msg, "%s: out of memory", t->tmp);
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
        rc = h5_fail_(t, "cannot set up the datasets of", group);
    hid_t pg = rc ? -1 : parent_group_(t, group, &rc);
    if (rc == 0) {
        hsize_t ct[1] = {chunk_samples};
        o->dt = open_appendable_(t, pg, o->pt, "t", 1, 0, ct, dapl, &rc);
    }
    if (rc == 0) rc = attr_str_on_(t, o->dt, o->pt, "unit", "s", true);
    if (rc == 0) rc = attr_str_on_(t, o->dt, o->pt, "description", series_t_help_, true);
    if (rc == 0) {
        hsize_t cv[2] = {series_chunk_rows_(count, chunk_samples), chunk_samples};
        o->dv = open_appendable_(t, pg, o->pv, "values", 2, count, cv, dapl, &rc);
    }
    if (dapl >= 0) H5Pclose(dapl);
    if (rc == 0) rc = series_table_(t, group, count, names, units, descriptions);
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
    if (H5Dset_extent(d, size) < 0) return h5_fail_(t, "cannot extend", path);
    hid_t fs = H5Dget_space(d);
    hid_t ms = H5Screate_simple(rank, count, NULL);
    int rc = 0;
    if (fs < 0 || ms < 0 || H5Sselect_hyperslab(fs, H5S_SELECT_SET, start, NULL, count, NULL) < 0)
        rc = h5_fail_(t, "cannot select samples of", path);
    else if (H5Dwrite(d, H5T_NATIVE_DOUBLE, ms, fs, H5P_DEFAULT, data) < 0)
        rc = h5_fail_(t, "cannot write", path);
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
    if (!times) return inval_(t, o->pt, "NULL data");
    if (o->count > 0 && rows > o->buf_rows) {
        double *b = realloc(o->buf, o->count * rows * sizeof *b);
        if (!b) {
            fmt_(t->msg, sizeof t->msg, "%s: out of memory", t->tmp);
            return SIM_ENOMEM;
        }
        o->buf = b;
        o->buf_rows = rows;
    }
    for (size_t i = 0; i < o->count; i++) {
        if (!cols || !cols[i]) return inval_(t, o->pv, "NULL data");
        memcpy(o->buf + i * rows, cols[i], rows * sizeof *o->buf);
    }
    hsize_t size1[1] = {o->len + rows}, start1[1] = {o->len}, count1[1] = {rows};
    int rc = append_(t, o->dt, o->pt, 1, size1, start1, count1, times);
    hsize_t size2[2] = {o->count, o->len + rows}, start2[2] = {0, o->len}, count2[2] = {o->count, rows};
    if (rc == 0 && o->count > 0) rc = append_(t, o->dv, o->pv, 2, size2, start2, count2, o->buf);
    if (rc == 0) o->len += rows;
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
    return table_(t, path, tab, true);
}

static int table_(sim_trace_t *t, const char *path, const sim_table_t *tab, bool may_compress)
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
    hsize_t dims[1] = {tab->nrows}, chunk[1] = {chunk_len_(tab->nrows, fsize, TRACE_TABLE_CHUNK_BYTES_)};
    d = make_dataset_(t, path, ftype, mtype, tab->rows, 1, dims, chunk, may_compress, &err);
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
