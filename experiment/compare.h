/* Comparison of policy variants: the statistics behind `ragsim compare`.
 *
 * Every variant of a scenario ran N replications with common random numbers
 * (replication i of every variant drew the same arrivals and demands), so a
 * variant is judged by the PAIRED difference d_i = x_v,i - x_b,i against the
 * baseline: the noise shared by the pair cancels, and a difference far
 * smaller than either variant's own confidence interval can be significant.
 * Formulas and how to read the table: docs/compare.md.
 *
 * The metrics are the entries of section "summary" of the baseline's first
 * report, in order. Non-finite values (NaN: "recovery_time_s" of a run that
 * did not recover, a latency with no completed request) are left out and
 * counted. */
#ifndef EXPERIMENT_COMPARE_H
#define EXPERIMENT_COMPARE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "models/model.h"
#include "sim/table.h"

/* One variant: its name and one report per replication (reps[i] is
 * replication i, paired with replication i of every other variant). */
typedef struct {
    const char *name;
    const rs_report_t *reps;
    size_t nreps;
} cmp_variant_t;

/* One (variant, metric). CI half-widths are Student-t at `level`; NaN when
 * fewer than two values. */
typedef struct cmp_row {
    char variant[64], metric[64];
    rs_kind_t kind;               /* the baseline's entry kind */
    int direction;                /* +1 higher is better, -1 lower is better, 0 neutral */
    double level;                 /* confidence level of both intervals */
    bool baseline;                /* this row is the baseline's */
    size_t n;                     /* replications with a finite value */
    double mean, half_width;      /* across those replications */
    size_t npaired;               /* replications where variant and baseline are both finite */
    double diff, diff_half_width; /* mean paired difference variant - baseline; 0 +- 0 for the baseline */
    bool significant;             /* npaired >= 2 and the difference's CI excludes 0 */
    int verdict;                  /* +1 better, -1 worse, 0 not significant, neutral or baseline */
    size_t nan_count;             /* replications without a finite value ("did not recover") */
} cmp_row_t;

/* Rows for every (variant, metric), variant-major in the order of `v`,
 * metrics in the order of the baseline's first report. A metric's direction
 * (+1/-1/0) is cmp_incident_direction's for the incident metrics, else the
 * model's (model_direction; `model` may be NULL: neutral). Replications are
 * paired by index over the first min(nreps_v, nreps_baseline). On success
 * *rows is a malloc'd array of *nrows rows the caller frees.
 * Returns 0; SIM_EINVAL (no variant, baseline out of range, baseline without
 * reports, level outside (0, 1), NULL pointers); SIM_ENOTFOUND (the baseline
 * reports no "summary" entry); SIM_ENOMEM. Cost O(variants x metrics x
 * (replications + entries per report)). */
int cmp_compute(const cmp_variant_t *v, size_t nv, size_t baseline, double level,
                const model_type_t *model, cmp_row_t **rows, size_t *nrows);

/* Direction of the incident metrics that the runner adds to every model's
 * summary (experiment/incident.h): +1 higher is better, -1 lower is
 * better, 0 neutral or not an incident metric. */
int cmp_incident_direction(const char *metric);

/* The comparison as a person reads it: one line per variant with
 * "mean ± hw" per metric; under each non-baseline variant a line with a
 * marker and the paired difference: "▲ -630 ± 80 ms" (better), "▼ ..."
 * (worse), "= n.s. ..." (CI includes 0), "≠ ..." (significant, neutral
 * metric). Columns are wrapped into blocks that fit 100 display columns;
 * a legend and "did not recover in k of n" notes follow. `metrics` picks
 * the columns in order (NULL: all metrics of the rows); a name absent from
 * the rows shows "-". `baseline` names the baseline variant (NULL: the row
 * marked baseline). */
void cmp_print(FILE *out, const cmp_row_t *rows, size_t nrows, const char *const *metrics, size_t nmetrics,
               const char *baseline);

/* The /comparison dataset, one row per (variant, metric):
 *   variant, metric (char[64]), unit (char[16]: s, bytes, 1/s, 1), n,
 *   mean, ci_low, ci_high, diff, diff_ci_low, diff_ci_high, n_paired,
 *   direction, significant (0/1), verdict (+1/-1/0), not_recovered
 * (replications without a value). Value columns are in the row's `unit`.
 * Initialises *out (the caller finis it, also on failure).
 * Returns 0, SIM_EINVAL (out NULL, rows NULL with nrows > 0) or SIM_ENOMEM. */
int cmp_table(const cmp_row_t *rows, size_t nrows, sim_table_t *out);

#endif
