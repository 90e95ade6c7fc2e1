/* `ragsim sensitivity`: how a scenario's figures move with its numeric
 * parameters, with common random numbers.
 *   one at a time (default): per parameter, relative change and metric,
 *     the paired change with its 95% interval, the elasticity, a ranking,
 *     and a flag where the change flips a qualitative outcome (recovered or
 *     not, SLO met or not);
 *   Morris elementary effects (--method morris): per parameter and metric
 *     mu, mu* and sigma over random one-at-a-time trajectories through a
 *     grid of levels: sigma is large where a parameter's effect depends on
 *     the others (interactions, non-linearity).
 * The configurations are an explicit design run on the sweep's master,
 * workers and checkpoint (sweep.h): -j and MPI give the same output.
 * Definitions: docs/sensitivity.md. */
#ifndef EXPERIMENT_SENSITIVITY_H
#define EXPERIMENT_SENSITIVITY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "experiment/sweep.h"

#define SE_MAX_DELTAS 8
#define SE_MAX_TRAJECTORIES 1000
#define SE_MAX_LEVELS 20

enum { SE_OAT, SE_MORRIS };

/* The command's own options (sw_opts_t.cmd); sw_opts_t.sweep is the scenario. */
typedef struct se_opts {
    const char *metrics;            /* comma-separated, NULL: the defaults */
    const char *params;             /* comma-separated scenario paths, NULL: every numeric value */
    const char *variant;            /* NULL: the baseline */
    double delta[SE_MAX_DELTAS];    /* relative changes > 0 (each applied as +d and -d) */
    size_t ndelta;
    int method;                     /* SE_OAT or SE_MORRIS */
    int64_t trajectories;           /* Morris: r (default 10) */
    int levels;                     /* Morris: p, even (default 4) */
} se_opts_t;

/* Parse "10%,25%" (ratios or numbers, each in (0, 0.9]) into o->delta.
 * 0, or -1 with a message in why. */
int se_parse_deltas(const char *s, se_opts_t *o, char *why, size_t whylen);

/* The definition the command runs (its configurations as a design), the
 * same on every worker; quiet. A sw_def_loader_fn. */
int se_load_def(const sw_opts_t *o, sw_def_t *def, sim_diag_t *d);

/* The command: returns the exit status (0, 1 runtime failure, 2 bad input,
 * 130/143 interrupted). `pool` NULL: o->jobs local worker processes. */
int se_cmd(const sw_opts_t *o, sw_pool_t *pool, FILE *out, FILE *err);

extern const char se_usage[];

#endif
