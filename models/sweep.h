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
 * master seed is derived from (master seed, point) only (sw_point_seed), so
 * results do not depend on how runs are distributed, and every variant of a
 * point sees the same seeds (common random numbers).
 *
 * Runs are tasks: self-contained messages (scenario path, overrides,
 * variant, replication, seed) that any worker executes (sw_exec_task) into
 * a result message. The master hands tasks out dynamically to a pool of
 * workers (forked processes for -j, MPI ranks for ragsim-mpi), appends
 * every result to a checkpoint next to the output (--resume), and writes
 * the output in a fixed order, so the file is the same for any pool. */
#ifndef MODELS_SWEEP_H
#define MODELS_SWEEP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "models/runner.h"
#include "sim/cfg.h"
#include "sim/diag.h"

#define SW_MAX_AXES 8
#define SW_MAX_VALUES 10000       /* values of one axis */
#define SW_MAX_POINTS 100000      /* points of a sweep */
#define SW_MAX_RUNS 10000000      /* points x variants x replications */
#define SW_MAX_FIND_STEPS 40

/* What an axis's values are; the numeric kinds have a base unit. */
typedef enum {
    SW_TEXT,        /* anything else (strings, lists, mappings): no numeric value */
    SW_INTEGER,     /* 1 */
    SW_NUMBER,      /* 1 */
    SW_RATIO,       /* 1 (35% is 0.35) */
    SW_DURATION,    /* s */
    SW_SIZE,        /* bytes */
    SW_RATE,        /* 1/s */
} sw_kind_t;

const char *sw_kind_name(sw_kind_t k);   /* "rate", "duration", ... */
const char *sw_kind_unit(sw_kind_t k);   /* "1/s", "s", "bytes", "1", "" */

typedef struct sw_axis {
    const char *path;               /* dotted scenario path (lives in the sweep's cfg) */
    sim_cfg_node_t *node;           /* its key in the sweep file, for messages */
    sw_kind_t kind;
    char suffix[16];                /* unit of generated values as written ("/s", "GiB", "ms") */
    double factor;                  /* base units per `suffix` */
    size_t n;
    char **text;                    /* the values as substituted (--set syntax), owned */
    double *value;                  /* in the base unit; NaN for SW_TEXT */
} sw_axis_t;

/* A sweep file, parsed. */
typedef struct sw_def {
    sim_cfg_t *cfg;
    const char *path;               /* as given */
    char *scenario_path;            /* `scenario` resolved against the sweep file's directory */
    const char *name, *description;
    char **sets;                    /* `set` then --set, as PATH=VALUE (owned) */
    size_t nsets;
    size_t nfile_sets;              /* the first nfile_sets come from the file */
    sw_axis_t axes[SW_MAX_AXES];
    size_t naxes;
    int load;                       /* the load axis, -1: none */
    sim_cfg_node_t *load_node;      /* `load` in the file (NULL: implied) */
    const char **variants;          /* `variants`; NULL: all of the scenario's */
    size_t nvariants;
    sim_cfg_node_t *variants_node;
    int64_t replications;           /* 0: the scenario's */
    bool have_seed;
    uint64_t seed;
    double knee_factor;             /* capacity.knee_factor (default 2) */
    int64_t find_steps;             /* find.steps (default 6) */
    double find_tolerance;          /* find.tolerance in the load's base unit; NaN: none */
    sim_cfg_node_t *find_node;
} sw_def_t;

/* Parse a sweep file; errors (FILE:LINE:COL) to d. Returns 0, SIM_ECONFIG
 * or SIM_ENOMEM; sw_def_fini in any case. */
int sw_def_load(sw_def_t *def, const char *path, sim_diag_t *d);
void sw_def_fini(sw_def_t *def);
/* Append an override (PATH=VALUE, from the command line) after the file's. */
int sw_def_add_set(sw_def_t *def, const char *assignment);

/* The master seed of every run at seed index `idx` (the point's index in a
 * grid; see docs/sweeps.md for bisection):
 *   sm64(sm64(master) ^ sm64(fnv1a64("sweep/point") + idx))
 * with sm64 and fnv1a64 those of docs/random-streams.md. */
uint64_t sw_point_seed(uint64_t master, uint64_t idx);

/* Format a numeric value of an axis (base unit) in the axis's unit, for
 * substitution: "150/s", "5.039684200GiB", "3". */
void sw_axis_format(const sw_axis_t *a, double v, char *buf, size_t n);
/* A value for people: "150/s", "5.04 GiB", "20.0 ms", "3". */
void sw_format_human(sw_kind_t kind, double v, char *buf, size_t n);

/* ---- workers ----------------------------------------------------------------- */

/* A worker's loaded scenario, reused while tasks name the same overrides. */
typedef struct sw_cache {
    uint64_t key;
    bool loaded;
    rs_scenario_t s;
} sw_cache_t;

void sw_cache_fini(sw_cache_t *c);

/* Execute one task message into a result message (*res, malloc'd, *rn
 * bytes). `hook` (may be NULL) is called every 65536 events of the run.
 * A failed run is a result too (with its status and message); returns 0,
 * or SIM_EINVAL for a message that is not a task, SIM_ENOMEM. */
int sw_exec_task(sw_cache_t *c, const void *task, size_t n, sim_progress_fn hook, void *hook_ctx, void **res,
                 size_t *rn);

/* Test hook: if the environment variable RAGSIM_SWEEP_TEST_CRASH is
 * "POINT:VARIANT:REP" and the task is that run, the calling process kills
 * itself with SIGKILL (a worker that dies). Workers other than the master
 * call it before each task. */
void sw_test_crash(const void *task, size_t n);

/* ---- pools --------------------------------------------------------------------- */

/* Workers the master hands tasks to; the master may run tasks too (between
 * them, and through the run's hook, it serves the workers). */
typedef struct sw_pool {
    int nworkers;                   /* remote workers: 0 .. nworkers-1 */
    bool master_runs;               /* the master executes tasks itself as well */
    const char *worker_noun;        /* "worker" / "rank", for messages */
    void *ctx;
    /* Send a task to idle worker w. 0, or -1 if the worker is gone. */
    int (*send)(void *ctx, int w, const void *msg, size_t n);
    /* Wait up to timeout_ms (0: poll) for one event: 1 a result from *w
     * (*msg malloc'd, *n bytes); 2 worker *w is lost (why: how); 0 nothing;
     * negative: the pool failed (why). */
    int (*recv)(void *ctx, int timeout_ms, int *w, void **msg, size_t *n, char *why, size_t whylen);
    /* Stop the workers: politely (abort false: they finish and exit) or
     * now (abort true). */
    void (*shutdown)(void *ctx, bool abort);
} sw_pool_t;

/* ---- the command ------------------------------------------------------------------ */

typedef struct sw_opts {
    const char *sweep;
    const char *out;                /* NULL: <sweep stem>.h5 in the current directory */
    int jobs;                       /* local worker processes (1: in-process) */
    bool resume;
    bool keep_runs;                 /* per-run time series into /runs */
    bool find_max_load;             /* bisect on the load axis */
    bool quiet;
    bool progress;
    const char **sets;
    size_t nsets;
    int64_t reps;                   /* 0: the sweep's */
    bool have_seed;
    uint64_t seed;
} sw_opts_t;

/* `ragsim sweep`: returns the exit status (0 ok, 1 runtime failure, 2 bad
 * input). `pool` NULL: o->jobs local worker processes (or none for 1). */
int sw_cmd_sweep(const sw_opts_t *o, sw_pool_t *pool, FILE *out, FILE *err);

#endif
