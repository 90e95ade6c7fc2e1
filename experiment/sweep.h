/* Sweeps: one scenario run over a grid of parameter values, for capacity
 * planning (`ragsim sweep`, docs/sweeps.md).
 *
 * A sweep file names a base scenario and axes, each a scenario path (the
 * dotted paths of --set) with a list of values, a linear range
 * {from, to, step} or a log range {from, to, points}:
 *
 *   scenario: ../rag-baseline.yaml        # relative to the sweep file
 *   set: {duration: 5m}                   # overrides at every point
 *   axes:
 *     workload.rate: {from: 100/s, to: 800/s, step: 100/s}
 *     vectordb.replicas: [1, 2, 3]
 *   variants: [naive, rate_limit]         # default: all of the scenario's
 *   replications: 3
 *
 * Points are the cartesian product of the axes (the first axis varies
 * slowest). Every (point, variant, replication) is an independent run whose
 * master seed is derived from (master seed, point) (sw_point_seed) and whose
 * streams are keyed by the replication index, so results do not depend on
 * how runs are distributed, and every variant of a point sees the same
 * seeds (common random numbers).
 *
 * Runs are tasks: small fixed-size messages (point, load, variant,
 * replication) that any worker holding the same sweep definition executes
 * (sw_exec_task) into a fixed-size result message. The master hands tasks
 * out dynamically to a pool of workers (forked processes for -j, MPI ranks
 * for ragsim-mpi), appends every result to a checkpoint next to the output
 * (--resume), and writes the output in a fixed order, so the file is the
 * same for any pool. */
#ifndef EXPERIMENT_SWEEP_H
#define EXPERIMENT_SWEEP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "experiment/runner.h"
#include "sim/cfg.h"
#include "sim/diag.h"

#define SW_MAX_AXES 8
#define SW_MAX_VALUES 10000       /* values of one axis */
#define SW_MAX_POINTS 100000      /* points of a sweep */
#define SW_MAX_RUNS 1000000       /* points x variants x replications (the master keeps ~4 KiB per run) */
#define SW_MAX_FIND_STEPS 40
#define SW_MAX_METRICS 48         /* summary metrics carried per run */
#define SW_METRIC_NAME RS_NAME_MAX

/* What an axis's values are; the numeric kinds have a base unit. */
typedef enum {
    SW_TEXT,        /* anything else: no numeric value */
    SW_INTEGER,     /* 1 */
    SW_NUMBER,      /* 1 */
    SW_DURATION,    /* s */
    SW_SIZE,        /* bytes */
    SW_RATE,        /* 1/s */
} sw_kind_t;

const char *sw_kind_name(sw_kind_t k);   /* "rate", "duration", ... */
const char *sw_kind_unit(sw_kind_t k);   /* "1/s", "s", "bytes", "1", "" */

typedef struct sw_axis {
    const char *path;               /* dotted scenario path (lives in the sweep's cfg) */
    sim_cfg_node_t *node;           /* its value in the sweep file, for messages */
    sw_kind_t kind;
    size_t n;
    char **text;                    /* the values as substituted (--set syntax), owned */
    double *value;                  /* in the base unit; the index for SW_TEXT */
} sw_axis_t;

/* A requirement of the capacity answer besides the scenario's SLO:
 * capacity.require.METRIC: {max: V} or {min: V}, on the mean. */
typedef struct sw_req {
    const char *metric;             /* a summary metric (lives in the cfg) */
    sim_cfg_node_t *node;           /* its key in the sweep file, for messages */
    bool is_max;
    double bound;                   /* in the metric's base unit */
} sw_req_t;

#define SW_MAX_REQS 8

/* A sweep file, parsed. */
struct sw_job;

/* A point of an explicit design (`ragsim sensitivity`): its overrides,
 * "PATH=VALUE", applied after the definition's own. */
typedef struct sw_design_point {
    char **sets;                    /* owned */
    size_t nsets;
} sw_design_point_t;

typedef struct sw_def {
    const struct sw_job *job;       /* not NULL: the replications of `run`/`compare` (sweep_runs.c) */
    sim_cfg_t *cfg;
    const char *path;               /* as given */
    char *scenario_path;            /* `scenario` resolved against the sweep file's directory */
    const char *name;
    char **sets;                    /* `set` then --set, as PATH=VALUE (owned) */
    size_t nsets;
    sw_axis_t axes[SW_MAX_AXES];
    size_t naxes;
    size_t npoints;                 /* product of the axes' sizes */
    int load;                       /* the load axis, -1: none */
    char **variants;                /* the variants run, in the scenario's order (owned) */
    size_t nvariants;
    int64_t replications;
    uint64_t seed;
    int64_t find_steps;             /* find.steps (default 6) */
    double slo_success, slo_p95;    /* the scenario's SLO (ratio; s, INFINITY: none) */
    double knee_factor;             /* capacity.knee_factor (default 1.5) */
    sw_req_t req[SW_MAX_REQS];      /* capacity.require */
    size_t nreq;
    uint64_t hash;                  /* of everything that decides the results (checkpoints) */
    /* An explicit design instead of the axes' grid (naxes 0): point p is
     * the scenario with `sets` then design[p]'s overrides, and every run of
     * every point has the master seed `seed` itself (common random numbers
     * across the points). NULL: the grid. Owned. */
    sw_design_point_t *design;
    /* Figures each run reports besides its summary: "ROW:COLUMN" of
     * another table of the run's report (spaces in COLUMN written as '_'),
     * carried as metrics of that name. Owned. */
    char **extra_metrics;
    size_t nextra;
} sw_def_t;

/* Parse a sweep file, apply the command line's overrides (sets, reps, seed:
 * 0/false = the file's), load the base scenario and check every point of the
 * grid against it; errors (FILE:LINE:COL) to d. Returns 0, SIM_ECONFIG or
 * SIM_ENOMEM; sw_def_fini in any case. */
int sw_def_load(sw_def_t *def, const char *path, const char *const *sets, size_t nsets, int64_t reps,
                bool have_seed, uint64_t seed, sim_diag_t *d);
/* The same from a sweep file's text (`name` in messages, and the
 * directory a relative `scenario` is resolved against is that of `name`:
 * "." for a name without a slash). */
int sw_def_load_text(sw_def_t *def, const char *name, const char *text, const char *const *sets, size_t nsets,
                     int64_t reps, bool have_seed, uint64_t seed, sim_diag_t *d);
void sw_def_fini(sw_def_t *def);

/* The master seed of every run of seed index `idx` (the point's index in
 * the grid; with --find max-load, the index of the point's other axes):
 *   sm64(sm64(master) ^ sm64(fnv1a64("sweep/point") + idx))
 * with sm64 and fnv1a64 those of docs/internals/random-streams.md. */
uint64_t sw_point_seed(uint64_t master, uint64_t idx);

/* A run's figure "ROW:COLUMN" of a table other than the summary (spaces
 * in COLUMN written as '_'), or NaN. */
double sw_report_figure(const rs_report_t *rep, const char *name);

/* Coordinates of grid point p: coord[i] is the index in axis i. */
void sw_point_coords(const sw_def_t *def, uint64_t p, size_t *coord);
/* A value for people: "150/s", "5.04 GiB", "20.0 ms", "3". */
void sw_format_human(sw_kind_t kind, double v, char *buf, size_t n);

/* ---- tasks and results -------------------------------------------------------- */

typedef struct sw_task {
    uint64_t point;                 /* grid point (find mode: load coordinate 0) */
    uint64_t seed_index;
    double load;                    /* the load axis's value in its base unit; NaN: the grid's */
    uint32_t variant;               /* index in def->variants */
    uint32_t rep;
} sw_task_t;

typedef struct sw_metric {
    char name[SW_METRIC_NAME];
    int32_t kind;                   /* rs_kind_t */
    double value;
} sw_metric_t;

typedef struct sw_result {
    sw_task_t task;
    int32_t status;                 /* 0, or the SIM_E* code of a failed run */
    uint32_t nmetrics;
    uint64_t seed;
    uint64_t events;
    double sim_seconds;
    sw_metric_t m[SW_MAX_METRICS];
    char msg[160];                  /* why a run failed */
} sw_result_t;

/* A worker's loaded scenario, reused while tasks name the same point. */
typedef struct sw_cache {
    bool loaded;
    uint64_t point;
    double load;
    rs_scenario_t s;
} sw_cache_t;

void sw_cache_fini(sw_cache_t *c);

/* Execute a task into *res (a failed run is a result too, with its status
 * and message). `hook` (may be NULL) is called every 65536 events. */
void sw_exec_task(const sw_def_t *def, sw_cache_t *c, const sw_task_t *t, sim_progress_fn hook, void *hook_ctx,
                  sw_result_t *res);

/* Test hook: if the environment variable RAGSIM_SWEEP_TEST_CRASH is
 * "POINT:VARIANT:REP" and the task is that run, the calling process kills
 * itself with SIGKILL (a worker that dies). Workers call it before each
 * task; the master never does. */
void sw_test_crash(const sw_task_t *t);

/* ---- pools --------------------------------------------------------------------- */

/* Workers the master hands tasks to; the master may run tasks too (while
 * it runs one, the run's hook serves the workers). */
typedef struct sw_pool {
    int nworkers;                   /* remote workers: 0 .. nworkers-1 */
    bool master_runs;               /* the master executes tasks itself as well */
    int depth;                      /* tasks a worker holds (running + queued); 0: 1 */
    const char *noun;               /* "worker" / "rank", for messages */
    void *ctx;
    /* Send a task to idle worker w. 0, or -1 if the worker is gone. */
    int (*send)(void *ctx, int w, const sw_task_t *t);
    /* Wait up to timeout_ms (0: poll) for one event: 1 a result from *w;
     * 2 worker *w is lost (why says how); 0 nothing; negative: the pool
     * failed (why). */
    int (*recv)(void *ctx, int timeout_ms, int *w, sw_result_t *r, char *why, size_t whylen);
    /* Stop the workers: politely (abort false) or now (abort true). */
    void (*shutdown)(void *ctx, bool abort);
    /* Worker w's name in messages ("worker 2 (pid 1234)", "rank 3"). */
    void (*describe)(void *ctx, int w, char *buf, size_t n);
} sw_pool_t;

/* n forked worker processes that inherit `def` (fills *pool; NULL and why
 * on failure). */
sw_pool_t *sw_fork_pool(const sw_def_t *def, int n, sw_pool_t *pool, char *why, size_t whylen);

/* ---- the command ------------------------------------------------------------------ */

typedef struct sw_opts {
    const char *sweep;
    const char *out;                /* NULL: <sweep stem>.h5 in the current directory */
    int jobs;                       /* local worker processes (1: in-process) */
    bool resume;
    bool force;                     /* replace an existing output file */
    bool find_max_load;             /* bisect on the load axis */
    bool quiet;
    const char *json;               /* --json: NULL none; "-" on stdout instead of the tables; else a file */
    bool progress;
    const char **sets;
    size_t nsets;
    int64_t reps;                   /* 0: the sweep's */
    bool have_seed;
    uint64_t seed;
    const char *what;               /* the input, in messages: "sweep file" (NULL: it) or "map" */
    const char *command;            /* the command, in messages: "sweep" (NULL: it), "map", "sensitivity" */
    void *cmd;                      /* the command's own options (`ragsim map`'s), or NULL */
} sw_opts_t;

/* Builds the definition a command runs from its options, on every worker
 * the same (sw_def_load for a sweep; `ragsim map` builds one from its
 * command line). 0, SIM_ECONFIG or SIM_ENOMEM; sw_def_fini in any case. */
typedef int (*sw_def_loader_fn)(const sw_opts_t *o, sw_def_t *def, sim_diag_t *d);
int sw_load_sweep_def(const sw_opts_t *o, sw_def_t *def, sim_diag_t *d);

/* Serve a master as a worker until told to stop: get() a task (1), or the
 * stop message (0), or a failure (-1); put() each result. The definition
 * is built (quietly) by load(o) on the first task. Returns 0 or 1. */
int sw_worker_serve(const sw_opts_t *o, sw_def_loader_fn load, int (*get)(void *ctx, sw_task_t *t),
                    int (*put)(void *ctx, const sw_result_t *r), void *ctx);

/* `ragsim sweep`: returns the exit status (0 ok, 1 runtime failure, 2 bad
 * input). `pool` NULL: o->jobs local worker processes (or none for 1).
 * The pool is shut down before returning, on every path. */
int sw_cmd_sweep(const sw_opts_t *o, sw_pool_t *pool, FILE *out, FILE *err);

/* ---- run and compare through the same master (sweep_runs.c) -------------------------

   `ragsim run` and `compare` hand their replications to the sweep's master
   as tasks (point 0, variant = the scenario's variant index, rep): the same
   pools (-j worker processes, MPI ranks), the same checkpoint and
   --resume. A task's run is written by whoever runs it into the checkpoint
   directory OUT.h5.ckpt/ as <variant>.rep<NNN>.h5 (its trace group) and
   <variant>.rep<NNN>.rep (its figures); the master then assembles the
   trace in the order of -j 1, so the trace does not depend on the pool. */

typedef struct sw_job {
    const rs_scenario_t *s;
    const char *dir;                /* the checkpoint directory */
    uint64_t seed;                  /* the master seed of every run */
    uint64_t max_events;
    bool trace;                     /* write each run's trace file (false: --no-trace) */
} sw_job_t;

/* What a finished run's figures file holds besides the report. */
typedef struct sw_runinfo {
    uint64_t seed, events;
    double sim_seconds, wall_seconds;
    int32_t end, limit;             /* sim_run_result_t, rs_limit_t */
    uint64_t limit_value, limit_seen;
} sw_runinfo_t;

/* A def that stands for a job (no sweep file): one point, the scenario's
 * variants, `reps` replications. names: room for s->nvariants pointers. */
void sw_job_def(sw_def_t *def, const sw_job_t *job, char **names, int64_t reps, uint64_t hash);
/* The hash of what decides a job's runs (the checkpoint's key). */
uint64_t sw_job_hash(const rs_scenario_t *s, uint64_t seed, int64_t reps, const size_t *sel, size_t nsel, bool trace);
/* The paths of a run's files in dir ("h5" or "rep"). */
void sw_job_path(const sw_job_t *job, size_t variant, uint32_t rep, const char *ext, char *buf, size_t n);
/* Read a finished run's figures back. 0, or SIM_EIO (why says). */
int sw_job_read(const sw_job_t *job, size_t variant, uint32_t rep, rs_report_t *rep_out, sw_runinfo_t *info,
                char *why, size_t whylen);

/* One command at a time per output: take the lock OUT.ckpt.lock
 * (sim_lock_take) before the checkpoint OUT.ckpt is touched. 0 with *fd and
 * *lockpath set (sw_output_unlock releases them), or the exit status with
 * the message printed: 2 when another command is writing the same output,
 * 1 when the lock cannot be made. */
int sw_output_lock(const char *out, int *fd, char **lockpath, FILE *err);
void sw_output_unlock(int *fd, char **lockpath);

typedef struct sw_job_opts {
    bool resume, quiet, progress;
    int jobs;                       /* local worker processes (1: in-process) */
} sw_job_opts_t;

/* What became of a job's task (sw_job_run's state[]). */
enum { SW_JOB_NOT_RUN, SW_JOB_DONE, SW_JOB_BUDGET, SW_JOB_FAILED };

/* Run the tasks (sel[0..nsel) x reps, in that order: task i is variant
 * sel[i / reps], replication i % reps) through the master, in batches of
 * a few thousand (the master's memory does not grow with the runs):
 * state[i] says what became of task i. Returns 0 when every run
 * completed, 1 after a failure (reported), 2 bad checkpoint, SIM_EBUDGET
 * when a run stopped on a budget (no run is started after it; the runs
 * done have their files), or SIM_EINTERRUPTED (rs_interrupted set;
 * finished runs stay in dir). The checkpoint directory is removed when no
 * run finished. */
int sw_job_run(const sw_job_t *job, const sw_job_opts_t *o, sw_pool_t *pool, const size_t *sel, size_t nsel,
               int64_t reps, unsigned char *state, size_t *ndone, FILE *err);
/* Remove the checkpoint directory and what the job wrote in it. */
void sw_job_clean(const sw_job_t *job);
/* An MPI worker of a job: load the scenario (quietly) and run the tasks it
 * is given. */
int sw_job_worker_serve(const rs_opts_t *o, int (*get)(void *ctx, sw_task_t *t),
                        int (*put)(void *ctx, const sw_result_t *r), void *ctx);

/* The usage text of `ragsim sweep --help`. */
extern const char sw_usage[];

#endif
