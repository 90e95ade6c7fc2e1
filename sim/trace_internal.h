/* HDF5 trace writer: what the pieces of the writer share (not part of the
 * public API; include only from sim/trace*.c).
 *
 * The layout constants, the sim_trace_t itself, and the helpers of trace.c
 * (messages, paths, groups, attributes) and trace_dataset.c (creating a
 * dataset, writing a table) that the other pieces call. See trace.c for
 * the list of the writer's files. */
#ifndef SIM_TRACE_INTERNAL_H
#define SIM_TRACE_INTERNAL_H

#include <hdf5.h>
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>

#include "table.h"
#include "trace.h"

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
    bool claimed;       /* tmp was created by us (O_EXCL): removed on every failure */
    bool replace;       /* commit may replace an existing regular file (--force) */
    const volatile sig_atomic_t *interrupt;   /* set: the commit stops before the rename */
    char msg[1024];     /* last error, "" if none */
};

/* ---- trace.c ------------------------------------------------------------- */

/* snprintf into buf unless it is NULL or empty. */
void trace_fmt_(char *buf, size_t len, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* Record a failure of the HDF5 call just made on object `obj` (NULL: the
 * file itself) in t->msg; returns SIM_EHDF5. */
int trace_h5_fail_(sim_trace_t *t, const char *what, const char *obj);
/* Record an invalid argument for `obj` in t->msg; returns SIM_EINVAL. */
int trace_inval_(sim_trace_t *t, const char *obj, const char *why);
/* Absolute, no empty component, no trailing slash (except "/" itself). */
int trace_path_ok_(const char *p);
/* The open group `parent` (created with its parents if missing), cached in
 * t for the next datasets. Returns its id (owned by t) or a negative code
 * in *err. */
hid_t trace_parent_group_(sim_trace_t *t, const char *parent, int *err);
/* Variable-length, NUL-terminated UTF-8 string type (caller closes); in
 * memory a `const char *`. */
hid_t trace_str_type_(void);
/* Replace attribute `name` on `oid`; `fresh`: `oid` was just created and has none. */
int trace_put_attr_(sim_trace_t *t, hid_t oid, const char *obj, const char *name,
                    hid_t ftype, hid_t mtype, hid_t space, const void *buf, bool fresh);
int trace_attr_str_on_(sim_trace_t *t, hid_t oid, const char *obj, const char *name,
                       const char *value, bool fresh);
int trace_attr_scalar_on_(sim_trace_t *t, hid_t oid, const char *obj, const char *name,
                          hid_t ftype, hid_t mtype, const void *value, bool fresh);

/* ---- trace_dataset.c ----------------------------------------------------- */

/* Create the dataset `path` (parents created) and write it from `data`;
 * returns the open dataset (caller closes) or a negative code in *err. */
hid_t trace_make_dataset_(sim_trace_t *t, const char *path, hid_t ftype, hid_t mtype,
                          const void *data, int rank, const hsize_t *dims, const hsize_t *chunk,
                          bool may_compress, int *err);
/* sim_trace_table, with compression allowed or not. */
int trace_table_(sim_trace_t *t, const char *path, const sim_table_t *tab, bool may_compress);

#endif
