/* HDF5 trace writer.
 *
 * A trace is written to "<path>.tmp.<pid>" in the target's directory and
 * renamed onto <path> only by sim_trace_commit(), after every object has been
 * written and the file closed and synced: the target path never holds a
 * half-written file. sim_trace_abort() (or destroy without commit) removes
 * the temporary file.
 *
 * Everything written is deterministic except what the caller chooses to
 * write (wall_seconds): HDF5's object modification times are switched off.
 * Datasets of at least 16 KiB are chunked, shuffled and deflate-compressed
 * (level 4); smaller ones are contiguous and unfiltered (a chunk index and
 * a zlib stream cost more than they save there); empty ones are chunked
 * and extendible.
 *
 * Paths are absolute HDF5 paths ("/runs/default/rep000/timeseries/t");
 * missing intermediate groups are created. */
#ifndef SIM_TRACE_H
#define SIM_TRACE_H

#include <stddef.h>
#include <stdint.h>

#include "table.h"

typedef struct sim_trace sim_trace_t;

/* Create the temporary file next to `path`. Returns NULL and sets *err
 * (SIM_EIO, SIM_EHDF5) with a message in errbuf on failure. */
sim_trace_t *sim_trace_create(const char *path, int *err, char *errbuf, size_t errlen);

/* Attributes on a group (created if missing) or an existing dataset. */
int sim_trace_attr_str(sim_trace_t *t, const char *obj, const char *name, const char *value);
int sim_trace_attr_i64(sim_trace_t *t, const char *obj, const char *name, int64_t value);
int sim_trace_attr_f64(sim_trace_t *t, const char *obj, const char *name, double value);

/* Create a group (and parents). */
int sim_trace_group(sim_trace_t *t, const char *path);

/* 1-D float64 dataset with attributes "unit" and (if non-NULL) "description". */
int sim_trace_f64(sim_trace_t *t, const char *path, const double *data, size_t n,
                  const char *unit, const char *description);

/* 1-D int64 dataset, same conventions. */
int sim_trace_i64(sim_trace_t *t, const char *path, const int64_t *data, size_t n,
                  const char *unit, const char *description);

/* Columns written as a run goes: `n` 1-D float64 datasets `group`/names[i]
 * (with "unit" and, if non-NULL, "description" attributes), created empty,
 * extendible, chunked by `chunk_rows` and compressed like every large
 * dataset, and grown by appending blocks. Appending whole chunks writes
 * each chunk once, straight to the file (no chunk cache): memory does not
 * grow with the data. Close before the trace is committed. */
typedef struct sim_trace_cols sim_trace_cols_t;
sim_trace_cols_t *sim_trace_cols_create(sim_trace_t *t, const char *group, size_t n,
                                        const char *const *names, const char *const *units,
                                        const char *const *descriptions, size_t chunk_rows,
                                        int *err);
/* Append rows to column `col` (0 .. n-1). */
int sim_trace_cols_append(sim_trace_cols_t *c, size_t col, const double *data, size_t rows);
/* Close the datasets and free `c` (NULL: no-op). 0 or SIM_EHDF5. */
int sim_trace_cols_close(sim_trace_cols_t *c);

/* Compound dataset from a table: one member per column (int64, float64, or
 * fixed-length string), an attribute "units" (string array in column
 * order), and "dropped_rows" (rows not stored because of the table's limit).
 * An empty table writes an empty dataset. */
int sim_trace_table(sim_trace_t *t, const char *path, const sim_table_t *tab);

/* Copy the object (group with everything under it, or dataset) at
 * `src_path` of the HDF5 file `src_file` to `dst_path` (parents created).
 * Data and attributes are copied as they are. */
int sim_trace_copy(sim_trace_t *t, const char *src_file, const char *src_path, const char *dst_path);

/* Close, fsync and rename onto the target path. The trace is destroyed in
 * any case. Returns 0 or an error (the temporary file is then removed). */
int sim_trace_commit(sim_trace_t *t, char *errbuf, size_t errlen);

/* Close and remove the temporary file; NULL is a no-op. */
void sim_trace_abort(sim_trace_t *t);

/* The temporary file's path (for messages and tests). */
const char *sim_trace_tmp_path(const sim_trace_t *t);

/* Message for the last failed call on `t` ("" if none yet): the functions
 * without an errbuf (attributes, groups, datasets) describe failures here,
 * naming the object and HDF5's innermost error. Owned by `t`. */
const char *sim_trace_errmsg(const sim_trace_t *t);

#endif
