/* The sweep's internals, shared by its files and by no one else (the API
 * is sweep.h):
 *   sweep.c             the sweep file, the grid, a point's scenario
 *   sweep_worker.c      running a task, a worker's loop, the fork pool
 *   sweep_master.c      `ragsim sweep`: the master's hand-out of a batch
 *   sweep_checkpoint.c  OUT.h5.ckpt and --resume
 *   sweep_find.c        --find max-load: the bisection rounds
 *   sweep_capacity.c    the runs' statistics and the capacity answers
 *   sweep_output.c      the printed tables and the output file
 *   sweep_runs.c        `run` and `compare` through the same master
 *   map.c               `ragsim map`: the map of recovery (map.h)
 *   sensitivity.c       `ragsim sensitivity`: its configurations as a design (sensitivity.h)
 * Included only by experiment/sweep*.c, map.c and sensitivity.c. */
#ifndef EXPERIMENT_SWEEP_INTERNAL_H
#define EXPERIMENT_SWEEP_INTERNAL_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "experiment/runner.h"
#include "experiment/sweep.h"
#include "sim/diag.h"
#include "sim/outfile.h"
#include "sim/trace.h"

/* ---- sweep.c ------------------------------------------------------------------------ */

/* Load the scenario with the sweep's overrides plus those of the axes at
 * `coord` (NULL: none) and, if not NaN, the load axis at `load`. */
int sw_load_point(const sw_def_t *def, const size_t *coord, double load, rs_scenario_t *s, sim_diag_t *d);

/* ---- the master (sweep_master.c) ------------------------------------------------------ */

/* A task's state in the current batch. */
enum { ST_TODO, ST_RUN, ST_DONE, ST_LOST, ST_FAILED };

/* The master of `ragsim sweep`: its pool, the checkpoint, the batch being
 * run and the progress bar. */
typedef struct master {
    const sw_def_t *def;
    const sw_opts_t *o;
    sw_pool_t *pool;
    FILE *err;
    sw_cache_t cache;
    /* checkpoint */
    sw_result_t *ck;                /* records of an earlier run, sorted by task */
    size_t nck;
    FILE *ckf;
    char *ckpath;
    bool ck_failed;
    uint64_t ck_hash;               /* the sweep's hash: the records' checksums start from it */
    int lockfd;                     /* OUT.ckpt.lock (sw_output_lock) when lockpath is set */
    char *lockpath;
    /* the current batch */
    const sw_task_t *tasks;
    sw_result_t *res;
    unsigned char *st;
    size_t n, next, inflight;
    int *busy;                      /* nworkers x depth task indices */
    int *nbusy;
    int depth;
    bool *alive;
    int nalive;
    bool pool_failed;
    /* progress */
    size_t done_total, total, resumed, bad_total;
    double t0, last_draw;
    bool drawn;
    /* SIGINT/SIGTERM while the master runs */
    struct sigaction old_int, old_term;
    bool signals_set;
    const sw_task_t *shown;         /* the task last started (the bar names its variant) */
} master_t;

/* The life of a master, shared by `ragsim sweep` and `ragsim map`:
 *   sw_master_signals   catch SIGINT/SIGTERM (rs_interrupted) until sw_master_end
 *   sw_master_start     check that the output and OUT.ckpt may be written
 *                       (`inputs` must not be replaced), open the checkpoint
 *                       (`hash`: of every input of the results), start the
 *                       -j fork pool in *fork_storage unless `pool` is given.
 *                       Returns 0 or the exit status (message printed).
 *   sw_run_batch        run batches (below)
 *   sw_master_check_bad report runs that did not complete: 0, or 1
 *   sw_master_write     write the output through write(tr, ctx), commit it,
 *                       remove the checkpoint: 0 or the exit status
 *   sw_master_end       the message of an interruption, the pool's
 *                       shutdown, frees; returns the final exit status */
void sw_master_signals(master_t *m);
int sw_master_start(master_t *m, const sw_def_t *def, const sw_opts_t *o, sw_pool_t *pool, sw_pool_t *fork_storage,
                    const char *outpath, const sim_input_t *inputs, size_t ninputs, uint64_t hash);
int sw_master_check_bad(master_t *m, size_t bad);
int sw_master_write(master_t *m, const char *outpath, int (*write)(sim_trace_t *tr, void *ctx), void *ctx);
int sw_master_end(master_t *m, int status, const char *outpath);
void sw_master_progress_clear(master_t *m);
double sw_master_elapsed(const master_t *m);

/* Erase the master's progress bar if drawn. */
void sw_progress_clear(master_t *m);

/* ---- sweep_runs.c ----------------------------------------------------------------------- */

/* Run a task of a job (def->job): the run, its files in the job's
 * directory, the result. */
void sw_exec_job(const sw_def_t *def, const sw_task_t *t, sim_progress_fn hook, void *hook_ctx, sw_result_t *res);

/* Run a batch of tasks into res[]. Returns how many did not complete
 * (lost, failed, or never run because no worker was left). */
size_t sw_run_batch(master_t *m, const sw_task_t *tasks, size_t n, sw_result_t *res);
/* Append results to a growing array. */
int sw_append_runs(sw_result_t **all, size_t *n, size_t *cap, const sw_result_t *r, size_t k);

/* The order of tasks: (point, load's bits, variant, replication, seed index). */
static inline int sw_task_cmp(const sw_task_t *a, const sw_task_t *b)
{
    if (a->point != b->point) return a->point < b->point ? -1 : 1;
    uint64_t la, lb;
    memcpy(&la, &a->load, 8);
    memcpy(&lb, &b->load, 8);
    if (la != lb) return la < lb ? -1 : 1;
    if (a->variant != b->variant) return a->variant < b->variant ? -1 : 1;
    if (a->rep != b->rep) return a->rep < b->rep ? -1 : 1;
    if (a->seed_index != b->seed_index) return a->seed_index < b->seed_index ? -1 : 1;
    return 0;
}

/* ---- sweep_checkpoint.c ----------------------------------------------------------------- */

/* sw_task_cmp of two results' tasks (qsort). */
int sw_result_cmp(const void *a, const void *b);
/* Open the checkpoint: read it (resume) or start it. Returns 0, 1 (runtime
 * failure, message printed) or 2 (a checkpoint of another sweep, or a
 * corrupted one). */
int sw_ck_open(master_t *m, uint64_t hash);
/* Append a completed run (a failure to write is warned about once). */
void sw_ck_append(master_t *m, const sw_result_t *r);
/* The checkpoint's record of a task, or NULL. */
const sw_result_t *sw_ck_find(const master_t *m, const sw_task_t *t);

/* ---- sweep_find.c ----------------------------------------------------------------------- */

/* --find max-load: the bisection rounds, each a batch, their results
 * appended to *all. Returns 0 or SIM_ENOMEM; *bad: the runs of the last
 * round that did not complete (0 when every bisection ended). */
int sw_find_max_load(master_t *m, sw_result_t **all, size_t *nall, size_t *capall, size_t *bad);

/* ---- sweep_capacity.c ------------------------------------------------------------------- */

typedef struct metric_col {
    char name[SW_METRIC_NAME];
    rs_kind_t kind;
} metric_col_t;

typedef struct group {
    uint64_t point;                 /* index in the output's point list */
    uint32_t variant;
    size_t first, n;                /* runs sorted[first .. first+n) */
    double *mean, *hw;              /* per metric */
} group_t;

typedef struct outpoint {
    uint64_t grid;                  /* task point */
    double load;                    /* task load (NaN: the grid's) */
    uint64_t cell;                  /* index over the axes other than the load */
    double axis[SW_MAX_AXES];       /* values (base unit; index for text axes) */
} outpoint_t;

typedef struct analysis {
    const sw_def_t *def;
    sw_result_t *runs;              /* sorted by (point, load, variant, rep) */
    size_t nruns;
    size_t *run_point;              /* output point of each run */
    outpoint_t *pts;
    size_t npts;
    metric_col_t *mc;
    size_t nmc;
    group_t *g;
    size_t ng;
    size_t ncells;
} analysis_t;

/* The capacity answer of one variant at one cell. */
typedef struct capacity {
    uint32_t variant;
    uint64_t cell;
    size_t example_point;           /* a point of the cell (for the other axes' values) */
    size_t npoints;                 /* loads evaluated */
    double max_load, lo, hi;        /* NaN: none meets */
    bool all_meet;                  /* the highest load evaluated meets */
    double succ, succ_hw, p95, p95_hw;
    double knee;
} capacity_t;

/* Group the runs (sorted in place) by (point, variant) with every metric's
 * mean and 95% half-width. 0 or SIM_ENOMEM; sw_analysis_fini in any case. */
int sw_analyse(analysis_t *a, const sw_def_t *def, sw_result_t *runs, size_t nruns);
void sw_analysis_fini(analysis_t *a);
/* Index of a metric column, or -1. */
int sw_metric_index(const analysis_t *a, const char *name);
/* A run's value of a metric, or NaN. */
double sw_run_metric(const sw_result_t *r, const char *name);
/* The capacity answer of variant v at cell `cell`; gs: room for the
 * groups of the cell (*ng_out: how many there are). */
capacity_t sw_capacity_of(const analysis_t *a, uint32_t v, uint64_t cell, group_t **gs, size_t *ng_out);
/* Whether n runs at one load meet the SLO and capacity.require on their means. */
bool sw_load_meets(const sw_def_t *def, const sw_result_t *r, size_t n);

/* ---- sweep_output.c --------------------------------------------------------------------- */

/* The table of the points (per point and variant) and of the capacity answers. */
void sw_print_points(FILE *out, const analysis_t *a);
void sw_print_capacity(FILE *out, const analysis_t *a, const capacity_t *caps, size_t ncaps, bool find);
/* The output file's contents (root attributes, /sweep/...). 0, SIM_ENOMEM or SIM_EHDF5. */
int sw_write_output(sim_trace_t *tr, const analysis_t *a, const capacity_t *caps, size_t ncaps, bool find);
/* The JSON summary (--json; docs/schema/ragsim-sweep-summary.schema.json): the
 * definition, the points' means and half-widths, the capacity answers. 0, or
 * -1 when a write failed. outpath: the HDF5 output written. */
int sw_write_json(FILE *f, const analysis_t *a, const capacity_t *caps, size_t ncaps, bool find, const char *outpath);

#endif
