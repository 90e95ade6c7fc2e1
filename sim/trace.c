/* HDF5 trace writer: the file (see trace.h).
 *
 * Owns the sim_trace_t: HDF5's set-up, messages for failed calls, paths and
 * groups (with the open parent group cached for the next datasets),
 * attributes, the life cycle (a temporary file, created by us and removed
 * on every failure, committed by fsync and a rename that replaces nothing
 * or only a regular file), and copying objects from another file.
 *
 * The other pieces of the writer (trace_internal.h):
 *   trace_dataset.c  1-D datasets and compound tables
 *   trace_series.c   sets of time series, written whole or appended
 * May call: HDF5, error, outfile. */
#include "trace.h"

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <hdf5.h>
#include <hdf5_hl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "error.h"
#include "outfile.h"
#include "trace_internal.h"

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

void trace_fmt_(char *buf, size_t len, const char *fmt, ...)
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
int trace_h5_fail_(sim_trace_t *t, const char *what, const char *obj)
{
    h5_detail_t d = {{0}, 0};
    H5Ewalk2(H5E_DEFAULT, H5E_WALK_UPWARD, h5_walk_, &d);
    const char *why = d.have ? d.text : "HDF5 error";
    if (obj)
        trace_fmt_(t->msg, sizeof t->msg, "%s: %s '%s': %s", t->tmp, what, obj, why);
    else
        trace_fmt_(t->msg, sizeof t->msg, "%s '%s': %s", what, t->tmp, why);
    return SIM_EHDF5;
}

int trace_inval_(sim_trace_t *t, const char *obj, const char *why)
{
    trace_fmt_(t->msg, sizeof t->msg, "%s: '%s': %s", t->tmp, obj ? obj : "(null)", why);
    return SIM_EINVAL;
}

const char *sim_trace_errmsg(const sim_trace_t *t) { return t ? t->msg : ""; }

const char *sim_trace_tmp_path(const sim_trace_t *t) { return t ? t->tmp : NULL; }

/* ---- paths and groups --------------------------------------------------- */

/* Absolute, no empty component, no trailing slash (except "/" itself). */
int trace_path_ok_(const char *p)
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
        trace_fmt_(t->msg, sizeof t->msg, "%s: out of memory", t->tmp);
        return -1;
    }
    memcpy(buf, path, len + 1);
    hid_t id = -1;
    *err = 0;
    if (len == 1) { /* "/" */
        id = H5Oopen(t->file, "/", H5P_DEFAULT);
        if (id < 0) *err = trace_h5_fail_(t, "cannot open", "/");
    }
    for (size_t i = 1; len > 1 && i <= len && *err == 0; i++) {
        if (buf[i] != '/' && buf[i] != '\0') continue;
        char saved = buf[i];
        buf[i] = '\0';
        int last = saved == '\0';
        htri_t ex = H5Lexists(t->file, buf, H5P_DEFAULT);
        if (ex < 0) {
            *err = trace_h5_fail_(t, "cannot look up", buf);
        } else if (ex == 0) {
            id = H5Gcreate2(t->file, buf, t->lcpl, t->gcpl, H5P_DEFAULT);
            if (id < 0) *err = trace_h5_fail_(t, "cannot create group", buf);
        } else {
            id = H5Oopen(t->file, buf, H5P_DEFAULT);
            if (id < 0) {
                *err = trace_h5_fail_(t, "cannot open", buf);
            } else {
                H5I_type_t ty = H5Iget_type(id);
                if (ty != H5I_GROUP && !(last && leaf_dataset && ty == H5I_DATASET))
                    *err = trace_inval_(t, buf, last && leaf_dataset ? "is neither a group nor a dataset"
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
    if (!trace_path_ok_(path)) return trace_inval_(t, path, "not an absolute HDF5 path");
    int err;
    hid_t g = open_or_create_(t, path, 0, &err);
    if (g < 0) return err;
    H5Oclose(g);
    return 0;
}

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
hid_t trace_parent_group_(sim_trace_t *t, const char *parent, int *err)
{
    *err = 0;
    if (t->known_group && strcmp(t->known_group, parent) == 0) return t->known_gid;
    char *name = strdup(parent);
    if (!name) {
        *err = SIM_ENOMEM;
        trace_fmt_(t->msg, sizeof t->msg, "%s: out of memory", t->tmp);
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

/* ---- attributes --------------------------------------------------------- */

/* Replace attribute `name` on `oid` (delete + recreate: the type or size may
 * change). Large values go to dense attribute storage by themselves because
 * the file format is at least 1.8. */
int trace_put_attr_(sim_trace_t *t, hid_t oid, const char *obj, const char *name,
                    hid_t ftype, hid_t mtype, hid_t space, const void *buf, bool fresh)
{
    /* fresh: `oid` was just created here, so it has no attributes yet (the
     * lookup is a third of the cost of a small dataset's attribute) */
    htri_t ex = fresh ? 0 : H5Aexists(oid, name);
    if (ex < 0) return trace_h5_fail_(t, "cannot look up attribute on", obj);
    if (ex > 0 && H5Adelete(oid, name) < 0) return trace_h5_fail_(t, "cannot replace attribute on", obj);
    hid_t a = H5Acreate2(oid, name, ftype, space, t->acpl, H5P_DEFAULT);
    if (a < 0) return trace_h5_fail_(t, "cannot create attribute on", obj);
    int rc = 0;
    if (H5Awrite(a, mtype, buf) < 0) rc = trace_h5_fail_(t, "cannot write attribute on", obj);
    if (H5Aclose(a) < 0 && rc == 0) rc = trace_h5_fail_(t, "cannot close attribute on", obj);
    return rc;
}

/* Variable-length, NUL-terminated UTF-8 string type: in memory a
 * `const char *`, in the file a reference to the string in the global
 * heap. h5py returns such attributes as str and such datasets as str
 * through .asstr(); fixed-length strings come back as bytes. */
hid_t trace_str_type_(void)
{
    hid_t ty = H5Tcopy(H5T_C_S1);
    if (ty < 0) return -1;
    if (H5Tset_size(ty, H5T_VARIABLE) < 0 || H5Tset_strpad(ty, H5T_STR_NULLTERM) < 0 ||
        H5Tset_cset(ty, H5T_CSET_UTF8) < 0) {
        H5Tclose(ty);
        return -1;
    }
    return ty;
}

int trace_attr_str_on_(sim_trace_t *t, hid_t oid, const char *obj, const char *name,
                       const char *value, bool fresh)
{
    hid_t ty = trace_str_type_();
    if (ty < 0) return trace_h5_fail_(t, "cannot make string type for", obj);
    hid_t sp = H5Screate(H5S_SCALAR);
    int rc = sp < 0 ? trace_h5_fail_(t, "cannot make dataspace for", obj)
                    : trace_put_attr_(t, oid, obj, name, ty, ty, sp, &value, fresh);
    if (sp >= 0) H5Sclose(sp);
    H5Tclose(ty);
    return rc;
}

int trace_attr_scalar_on_(sim_trace_t *t, hid_t oid, const char *obj, const char *name,
                          hid_t ftype, hid_t mtype, const void *value, bool fresh)
{
    hid_t sp = H5Screate(H5S_SCALAR);
    if (sp < 0) return trace_h5_fail_(t, "cannot make dataspace for", obj);
    int rc = trace_put_attr_(t, oid, obj, name, ftype, mtype, sp, value, fresh);
    H5Sclose(sp);
    return rc;
}

static int attr_open_(sim_trace_t *t, const char *obj, const char *name, hid_t *oid)
{
    if (!t) return SIM_EINVAL;
    if (!trace_path_ok_(obj)) return trace_inval_(t, obj, "not an absolute HDF5 path");
    if (!name || !*name) return trace_inval_(t, obj, "empty attribute name");
    int err;
    *oid = open_or_create_(t, obj, 1, &err);
    return *oid < 0 ? err : 0;
}

int sim_trace_attr_str(sim_trace_t *t, const char *obj, const char *name, const char *value)
{
    hid_t oid;
    if (t && !value) return trace_inval_(t, obj, "NULL string attribute value");
    int rc = attr_open_(t, obj, name, &oid);
    if (rc) return rc;
    rc = trace_attr_str_on_(t, oid, obj, name, value, false);
    H5Oclose(oid);
    return rc;
}

int sim_trace_attr_i64(sim_trace_t *t, const char *obj, const char *name, int64_t value)
{
    hid_t oid;
    int rc = attr_open_(t, obj, name, &oid);
    if (rc) return rc;
    rc = trace_attr_scalar_on_(t, oid, obj, name, H5T_STD_I64LE, H5T_NATIVE_INT64, &value, false);
    H5Oclose(oid);
    return rc;
}

int sim_trace_attr_f64(sim_trace_t *t, const char *obj, const char *name, double value)
{
    hid_t oid;
    int rc = attr_open_(t, obj, name, &oid);
    if (rc) return rc;
    rc = trace_attr_scalar_on_(t, oid, obj, name, H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, &value, false);
    H5Oclose(oid);
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
    int rc = (ok && t->file >= 0) ? 0 : trace_h5_fail_(t, "cannot create", NULL);
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
        return trace_h5_fail_(t, "cannot set up property lists for", NULL);
    return 0;
}

/* Create the temporary file ourselves (O_EXCL), so that whatever fails
 * afterwards (HDF5 cannot write its superblock on a full disk) removes a
 * file we know is ours. A regular file already there under our name is a
 * temporary file of an earlier process with the same pid, killed before it
 * could remove it: it is replaced. */
static int claim_tmp_(sim_trace_t *t, char *errbuf, size_t errlen)
{
    for (int attempt = 0;; attempt++) {
        int fd = open(t->tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
        if (fd >= 0) {
            close(fd);
            t->claimed = true;
            return 0;
        }
        int e = errno;
        struct stat st;
        if (e == EEXIST && attempt == 0 && lstat(t->tmp, &st) == 0 && S_ISREG(st.st_mode) && unlink(t->tmp) == 0)
            continue;
        trace_fmt_(errbuf, errlen, "cannot create trace '%s': cannot create the temporary file '%s': %s", t->path,
                   t->tmp, strerror(e));
        return SIM_EIO;
    }
}

sim_trace_t *sim_trace_create(const char *path, int *err, char *errbuf, size_t errlen)
{
    int dummy;
    if (!err) err = &dummy;
    trace_fmt_(errbuf, errlen, "%s", "");
    h5_setup_();
    if (!path || !*path || path[strlen(path) - 1] == '/') {
        *err = SIM_EINVAL;
        trace_fmt_(errbuf, errlen, "trace path '%s' does not name a file", path ? path : "(null)");
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
        trace_fmt_(errbuf, errlen, "cannot create trace '%s': directory '%s': %s", path, t->dir,
                   strerror(errno));
        goto fail;
    }
    if (!S_ISDIR(st.st_mode)) {
        *err = SIM_EIO;
        trace_fmt_(errbuf, errlen, "cannot create trace '%s': '%s' is not a directory", path, t->dir);
        goto fail;
    }
    if (access(t->dir, W_OK | X_OK) != 0) {
        *err = SIM_EIO;
        trace_fmt_(errbuf, errlen, "cannot create trace '%s': directory '%s' is not writable: %s", path,
                   t->dir, strerror(errno));
        goto fail;
    }
    if (stat(path, &st) == 0 && S_ISDIR(st.st_mode)) {
        *err = SIM_EIO;
        trace_fmt_(errbuf, errlen, "cannot create trace '%s': it is a directory", path);
        goto fail;
    }
    if ((*err = claim_tmp_(t, errbuf, errlen)) != 0) goto fail;
    if ((*err = open_file_(t)) != 0) {
        trace_fmt_(errbuf, errlen, "cannot create trace '%s': %s", path, t->msg);
        sim_trace_abort(t);   /* removes the temporary file (a full disk leaves nothing behind) */
        return NULL;
    }
    *err = 0;
    return t;

nomem:
    *err = SIM_ENOMEM;
    trace_fmt_(errbuf, errlen, "cannot create trace '%s': out of memory", path);
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
    }
    if (t->claimed) unlink(t->tmp);
    free_(t);
}

void sim_trace_set_replace(sim_trace_t *t, bool replace)
{
    if (t) t->replace = replace;
}

void sim_trace_set_interrupt(sim_trace_t *t, const volatile sig_atomic_t *flag)
{
    if (t) t->interrupt = flag;
}

/* RAGSIM_TEST_COMMIT (for tests only, docs/internals/testing.md): what
 * happens between the fsync of the temporary file and the rename, the
 * moment a test cannot otherwise reach deterministically. "sigint" and
 * "sigterm" raise the signal (its handler runs as for a signal from
 * outside); "create" creates the target, as a second run writing the same
 * path would. Only for a trace with an interrupt flag (a command's output;
 * not the parts of a checkpoint). */
static void commit_test_hook_(const char *target)
{
    const char *h = getenv("RAGSIM_TEST_COMMIT");
    if (!h) return;
    if (!strcmp(h, "sigint")) raise(SIGINT);
    else if (!strcmp(h, "sigterm")) raise(SIGTERM);
    else if (!strcmp(h, "create")) {
        int fd = open(target, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
        if (fd >= 0) {
            static const char text[] = "written by another run meanwhile\n";
            if (write(fd, text, sizeof text - 1) < 0) { /* the test will see the difference */ }
            close(fd);
        }
    }
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
        trace_fmt_(errbuf, errlen, "no trace to commit");
        return SIM_EINVAL;
    }
    int rc = 0;
    forget_group_(t);
    /* Everything we open we close; strong close degree would hide a leak. */
    assert(H5Fget_obj_count(t->file, H5F_OBJ_ALL) == 1);
    hid_t f = t->file;
    t->file = -1;
    if (H5Fflush(f, H5F_SCOPE_LOCAL) < 0) rc = trace_h5_fail_(t, "cannot flush", NULL);
    if (H5Fclose(f) < 0 && rc == 0) rc = trace_h5_fail_(t, "cannot close", NULL);
    if (rc) {
        trace_fmt_(errbuf, errlen, "cannot commit trace '%s': %s", t->path, t->msg);
        goto fail;
    }
    if (fsync_path_(t->tmp, 0) != 0) {
        trace_fmt_(errbuf, errlen, "cannot commit trace '%s': fsync '%s': %s", t->path, t->tmp,
                   strerror(errno));
        rc = SIM_EIO;
        goto fail;
    }
    if (t->interrupt) commit_test_hook_(t->path);   /* a command's output, not a private part file */
    /* A signal that came while the file was written or synced: nothing is
     * committed. From the rename on, the work is done and stays. */
    if (t->interrupt && *t->interrupt) {
        trace_fmt_(errbuf, errlen, "interrupted before trace '%s' was committed: nothing was written", t->path);
        rc = SIM_EINTERRUPTED;
        goto fail;
    }
    if ((t->replace ? sim_replace_regular(t->tmp, t->path) : sim_rename_noreplace(t->tmp, t->path, SIM_RN_ANY)) != 0) {
        int e = errno;
        struct stat st;
        if (e == EEXIST && !t->replace) {
            trace_fmt_(errbuf, errlen, "cannot commit trace: '%s' appeared while ragsim was writing it (another run "
                                       "writing the same file?); it is left as it is and this trace is discarded: "
                                       "use --force to replace it, or -o another file", t->path);
            rc = SIM_EEXIST;
        } else if (e == EEXIST && lstat(t->path, &st) == 0) {
            trace_fmt_(errbuf, errlen, "cannot commit trace: '%s' became %s while ragsim was writing it; ragsim "
                                       "replaces only regular files: it is left as it is and this trace is discarded",
                       t->path, sim_file_kind(st.st_mode));
            rc = SIM_EEXIST;
        } else {
            trace_fmt_(errbuf, errlen, "cannot commit trace: rename '%s' to '%s': %s", t->tmp, t->path, strerror(e));
            rc = SIM_EIO;
        }
        goto fail;
    }
    t->claimed = false;
    /* The file is in place; only its directory entry may not be durable. */
    if (fsync_path_(t->dir, 1) != 0) {
        trace_fmt_(errbuf, errlen, "trace '%s' written but directory '%s' not synced: %s", t->path,
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

/* H5Ocopy copies the dimension scales' attributes as they are, and their
 * object references (DIMENSION_LIST, REFERENCE_LIST: variable-length lists
 * of references) keep the source file's addresses, which mean nothing in
 * the destination. After a copy, each copied dataset's scales are attached
 * again from the source's lists, mapped from src_path to dst_path. */
typedef struct {
    hid_t src, dst;
    const char *src_path, *dst_path;
    int pass;             /* 0: drop the stale lists; 1: attach again */
    int failed;
} rescale_t_;

typedef struct {
    char path[1024];
} scale_name_t_;

static herr_t scale_name_(hid_t did, unsigned dim, hid_t dsid, void *op)
{
    (void)did;
    (void)dim;
    scale_name_t_ *n = op;
    if (H5Iget_name(dsid, n->path, sizeof n->path) <= 0) return -1;
    return 1;   /* the first scale of the dimension */
}

static herr_t rescale_link_(hid_t g, const char *name, const H5L_info_t *info, void *op)
{
    (void)g;
    rescale_t_ *r = op;
    if (info->type != H5L_TYPE_HARD) return 0;
    char dst_name[2048];
    snprintf(dst_name, sizeof dst_name, "%s/%s", r->dst_path, name);
    H5O_info_t oi;
    if (H5Oget_info_by_name(r->dst, dst_name, &oi, H5P_DEFAULT) < 0 || oi.type != H5O_TYPE_DATASET) return 0;
    hid_t d = H5Dopen2(r->dst, dst_name, H5P_DEFAULT);
    if (d < 0) return 0;
    if (r->pass == 0) {
        if (H5Aexists(d, "DIMENSION_LIST") > 0 && H5Adelete(d, "DIMENSION_LIST") < 0) r->failed = 1;
        if (H5Aexists(d, "REFERENCE_LIST") > 0 && H5Adelete(d, "REFERENCE_LIST") < 0) r->failed = 1;
        H5Dclose(d);
        return 0;
    }
    char src_name[2048];
    snprintf(src_name, sizeof src_name, "%s/%s", r->src_path, name);
    hid_t sd = H5Dopen2(r->src, src_name, H5P_DEFAULT);
    if (sd >= 0 && H5Aexists(sd, "DIMENSION_LIST") > 0) {
        hid_t sp = H5Dget_space(sd);
        int rank = sp >= 0 ? H5Sget_simple_extent_ndims(sp) : -1;
        if (sp >= 0) H5Sclose(sp);
        size_t sl = strlen(r->src_path);
        for (int dim = 0; dim < rank; dim++) {
            scale_name_t_ n = {{0}};
            int idx = 0;
            if (H5DSget_num_scales(sd, (unsigned)dim) <= 0) continue;
            if (H5DSiterate_scales(sd, (unsigned)dim, &idx, scale_name_, &n) < 0 || !n.path[0] ||
                strncmp(n.path, r->src_path, sl) != 0) {
                r->failed = 1;   /* a scale outside the copied tree: not attached */
                continue;
            }
            char scale[2048];
            snprintf(scale, sizeof scale, "%s%s", r->dst_path, n.path + sl);
            hid_t sc = H5Dopen2(r->dst, scale, H5P_DEFAULT);
            if (sc < 0 || H5DSattach_scale(d, sc, (unsigned)dim) < 0) r->failed = 1;
            if (sc >= 0) H5Dclose(sc);
        }
    }
    if (sd >= 0) H5Dclose(sd);
    H5Dclose(d);
    return 0;
}

static int rescale_copy_(sim_trace_t *t, hid_t src, const char *src_path, const char *dst_path)
{
    H5O_info_t oi;
    if (H5Oget_info_by_name(src, src_path, &oi, H5P_DEFAULT) < 0 || oi.type != H5O_TYPE_GROUP) return 0;
    hid_t g = H5Gopen2(src, src_path, H5P_DEFAULT);
    if (g < 0) return trace_h5_fail_(t, "cannot reopen the source of", dst_path);
    rescale_t_ r = {src, t->file, src_path, dst_path, 0, 0};
    herr_t e = H5Lvisit(g, H5_INDEX_NAME, H5_ITER_INC, rescale_link_, &r);
    r.pass = 1;
    if (e >= 0) e = H5Lvisit(g, H5_INDEX_NAME, H5_ITER_INC, rescale_link_, &r);
    H5Gclose(g);
    if (e < 0 || r.failed) return trace_h5_fail_(t, "cannot attach the dimension scales copied into", dst_path);
    return 0;
}

int sim_trace_copy(sim_trace_t *t, const char *src_file, const char *src_path, const char *dst_path)
{
    if (!t || !src_file) return SIM_EINVAL;
    if (!trace_path_ok_(src_path)) return trace_inval_(t, src_path, "not an absolute HDF5 path");
    if (!trace_path_ok_(dst_path) || dst_path[1] == '\0')
        return trace_inval_(t, dst_path, "not an absolute HDF5 path");
    /* the destination's parent groups */
    const char *slash = strrchr(dst_path, '/');
    size_t plen = slash == dst_path ? 1 : (size_t)(slash - dst_path);
    char *parent = malloc(plen + 1);
    if (!parent) return trace_inval_(t, dst_path, "out of memory");
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
        trace_fmt_(t->msg, sizeof t->msg, "%s: cannot open '%s' to copy '%s'", t->tmp, src_file, src_path);
        return SIM_EHDF5;
    }
    int rc = 0;
    if (H5Ocopy(src, src_path, t->file, dst_path, H5P_DEFAULT, t->lcpl) < 0)
        rc = trace_h5_fail_(t, "cannot copy into", dst_path);
    if (rc == 0) rc = rescale_copy_(t, src, src_path, dst_path);
    H5Fclose(src);
    return rc;
}
