/* HDF5 trace writer.
 *
 * A trace is written to "<path>.tmp.<pid>" in the target's directory and
 * renamed onto <path> only by sim_trace_commit(), after every object has been
 * written and the file closed and synced: the target path never holds a
 * half-written file. The temporary file is created by sim_trace_create
 * itself, and every failure from then on (of the creation, a write, the
 * commit) removes it, as sim_trace_abort() does.
 *
 * Everything written is deterministic except what the caller chooses to
 * write (wall_seconds): HDF5's object modification times are switched off.
 * Datasets of at least 16 KiB are chunked, shuffled and deflate-compressed
 * (level 4); smaller ones are contiguous and unfiltered (a chunk index and
 * a zlib stream cost more than they save there); empty ones are chunked
 * and extendible.
 *
 * Every string written (attributes, the series' names, the string columns
 * of tables) is variable-length, NUL-terminated UTF-8.
 *
 * Paths are absolute HDF5 paths ("/runs/default/rep000/events");
 * missing intermediate groups are created. */
#ifndef SIM_TRACE_H
#define SIM_TRACE_H

#include <signal.h>
#include <stdbool.h>
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

/* A set of time series on one time axis, written into `group` (created
 * with its parents) as three datasets, however many series there are:
 *   t       float64 [n]           the sample times; attributes unit ("s")
 *                                 and description
 *   values  float64 [count, n]    row i is series i (cols[i][0 .. n))
 *   series  compound [count]      name, unit, description of row i
 *                                 (a table, as sim_trace_table writes)
 * HDF5's cost is per object (creating, linking and closing a dataset is
 * ~130 k instructions, an attribute ~13 k), so one dataset per series cost
 * more than the run's data. `values` is compressed when a row holds at
 * least 16 KiB, like every dataset. Names must be non-empty; units and
 * descriptions may be NULL (empty). */
int sim_trace_series(sim_trace_t *t, const char *group, size_t count, const char *const *names,
                     const char *const *units, const char *const *descriptions,
                     const double *times, const double *const *cols, size_t n);

/* The same set of time series written as a run goes: created empty
 * (`values` with `count` rows and 0 samples), extendible, chunked by
 * `chunk_samples` samples (and as many rows as make a chunk of about
 * 64 KiB), compressed, and grown by appending blocks of samples. Appending
 * whole chunks writes each chunk once, straight to the file (no chunk
 * cache): memory does not grow with the run. Close before the trace is
 * committed. */
typedef struct sim_trace_series_out sim_trace_series_out_t;
sim_trace_series_out_t *sim_trace_series_open(sim_trace_t *t, const char *group, size_t count,
                                              const char *const *names, const char *const *units,
                                              const char *const *descriptions, size_t chunk_samples,
                                              int *err);
/* Append `rows` samples: times[0 .. rows) and cols[i][0 .. rows) for each series i. */
int sim_trace_series_append(sim_trace_series_out_t *o, const double *times, const double *const *cols,
                            size_t rows);
/* Close the datasets and free `o` (NULL: no-op). 0 or SIM_EHDF5. */
int sim_trace_series_close(sim_trace_series_out_t *o);

/* Compound dataset from a table: one member per column (int64, float64, or
 * variable-length UTF-8 string), an attribute "units" (string array in
 * column order), and "dropped_rows" (rows not stored because of the table's
 * limit). An empty table writes an empty dataset. */
int sim_trace_table(sim_trace_t *t, const char *path, const sim_table_t *tab);

/* Copy the object (group with everything under it, or dataset) at
 * `src_path` of the HDF5 file `src_file` to `dst_path` (parents created).
 * Data and attributes are copied as they are. */
int sim_trace_copy(sim_trace_t *t, const char *src_file, const char *src_path, const char *dst_path);

/* What the commit may do to a file at the target path (set before the
 * commit; the default is false): false, nothing: if the path exists at
 * the commit (it appeared while the trace was written, e.g. a second run
 * writing the same file), the commit fails with SIM_EEXIST and the target
 * is left as it is (renameat2 RENAME_NOREPLACE, else link + unlink: see
 * sim/outfile.h); true (--force), replace it if it is a regular file, and
 * only then. */
void sim_trace_set_replace(sim_trace_t *t, bool replace);

/* A flag (rs_interrupted: set by SIGINT/SIGTERM handlers) read by the
 * commit after the temporary file is synced and before it is renamed:
 * set, the commit fails with SIM_EINTERRUPTED and nothing is written. A
 * signal after the rename changes nothing (the trace is in place). NULL:
 * none. */
void sim_trace_set_interrupt(sim_trace_t *t, const volatile sig_atomic_t *flag);

/* Close, fsync and rename onto the target path. The trace is destroyed in
 * any case. Returns 0 or an error (the temporary file is then removed):
 * SIM_EEXIST (the target exists and may not be replaced), SIM_EINTERRUPTED
 * (the flag above), SIM_EHDF5 or SIM_EIO.
 *
 * For tests only: the environment variable RAGSIM_TEST_COMMIT makes the
 * commit, between the fsync and the rename, raise SIGINT ("sigint") or
 * SIGTERM ("sigterm"), or create the target file ("create") as a second
 * run would; see docs/internals/testing.md. */
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
