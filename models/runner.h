/* Runner: loads a scenario, runs its replications, writes the trace and
 * prints the summary. The CLI is a thin layer over this; tests call it
 * in-process.
 *
 * A loaded scenario (rs_scenario_t) is validated completely before any run
 * starts: every error in the file or in the --set overrides is reported
 * with its position, and nothing runs or is written. */
#ifndef MODELS_RUNNER_H
#define MODELS_RUNNER_H

#include <stdbool.h>
#include <stdint.h>
#include <signal.h>
#include <stdio.h>

#include "models/model.h"
#include "sim/cfg.h"
#include "sim/diag.h"
#include "sim/scenario.h"
#include "sim/sim.h"

typedef struct rs_scenario {
    sim_cfg_t *cfg;
    sim_scenario_t sc;
    const model_type_t *model;
    void *spec;             /* the model's parsed scenario (model->spec_size bytes) */
    char *yaml;             /* effective scenario text (after overrides) */
    const char *path;
} rs_scenario_t;

/* Load, apply overrides, parse and check. Returns 0, or SIM_ECONFIG with the
 * messages in d (warnings may be present either way). */
int rs_load(rs_scenario_t *s, const char *path, const char *const *sets, size_t nsets,
            sim_diag_t *d);
void rs_unload(rs_scenario_t *s);

/* One finished run; owns its sim and model. */
typedef struct rs_result {
    sim_t *sim;
    const model_type_t *model;
    void *inst;             /* the model instance (a net_t * for the network model ...) */
    uint32_t replication;
    uint64_t seed;
    sim_run_result_t end;
    double wall_seconds;
} rs_result_t;

typedef struct rs_progress rs_progress_t;

/* Run replication `rep` with master seed `seed` (budget: max_events, 0 = none).
 * Returns 0, or SIM_ENOMEM / SIM_EBUDGET (the result is still filled for a budget stop). */
int rs_run_one(const rs_scenario_t *s, uint32_t rep, uint64_t seed, uint64_t max_events,
               rs_progress_t *progress, rs_result_t *out);
/* Set by SIGINT/SIGTERM while rs_cmd_run runs: the current run stops and
 * nothing is written (the previous trace, if any, is left as it was). */
extern volatile sig_atomic_t rs_interrupted;
void rs_result_free(rs_result_t *r);

/* Command-level options. */
typedef struct rs_opts {
    const char *scenario;
    const char *out;            /* trace path; NULL: <scenario stem>.h5 in the current directory */
    bool no_trace;
    const char **sets;
    size_t nsets;
    bool have_seed;
    uint64_t seed;
    int64_t reps;               /* 0: the scenario's */
    uint64_t max_events;        /* 0: unlimited */
    bool quiet;
    bool progress;              /* draw a progress bar on stderr */
} rs_opts_t;

/* `ragsim run`: returns the process exit status (0 ok, 1 runtime failure, 2 bad input). */
int rs_cmd_run(const rs_opts_t *o, FILE *out, FILE *err);
/* `ragsim validate`. */
int rs_cmd_validate(const rs_opts_t *o, FILE *out, FILE *err);

#endif
