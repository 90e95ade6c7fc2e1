/* `ragsim sensitivity`: one-at-a-time perturbation of a scenario's numeric
 * parameters with common random numbers: per parameter, relative change
 * and metric, the paired change with its 95% interval, the elasticity,
 * a ranking, and a flag where the change flips a qualitative outcome
 * (recovered or not, SLO met or not). Definitions: docs/sensitivity.md. */
#ifndef EXPERIMENT_SENSITIVITY_H
#define EXPERIMENT_SENSITIVITY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define SE_MAX_DELTAS 8

typedef struct se_opts {
    const char *scenario;
    const char *out;                /* NULL: SCENARIO's stem + -sensitivity.h5 */
    bool force, quiet;
    const char **sets;
    size_t nsets;
    const char *metrics;            /* comma-separated, NULL: the defaults */
    const char *params;             /* comma-separated scenario paths, NULL: every numeric value */
    const char *variant;            /* NULL: the baseline */
    double delta[SE_MAX_DELTAS];    /* relative changes > 0 (each applied as +d and -d) */
    size_t ndelta;
    int64_t reps;                   /* 0: the scenario's */
    bool have_seed;
    uint64_t seed;
} se_opts_t;

/* Parse "10%,25%" (ratios or numbers, each in (0, 0.9]) into o->delta.
 * 0, or -1 with a message in why. */
int se_parse_deltas(const char *s, se_opts_t *o, char *why, size_t whylen);

/* The command: returns the exit status (0, 1 runtime failure, 2 bad input). */
int se_cmd(const se_opts_t *o, FILE *out, FILE *err);

extern const char se_usage[];

#endif
