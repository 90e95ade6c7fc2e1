/* The runner's internals, shared by its files and by no one else (the API
 * is runner.h):
 *   runner.c        one replication: run, budgets, progress bar, the series
 *                   sink, the run's figures (rs_report_run)
 *   runner_load.c   a scenario with its variants and overrides (rs_load)
 *   runner_trace.c  the trace: header, one run, /summary rows
 *   runner_print.c  the printed summary, the value format
 *   runner_cmd.c    the commands run, compare and validate
 *   runner_json.c   the JSON summary of run and compare (--json)
 * Included only by experiment/runner*.c. */
#ifndef EXPERIMENT_RUNNER_INTERNAL_H
#define EXPERIMENT_RUNNER_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "experiment/runner.h"
#include "sim/stats.h"
#include "sim/table.h"
#include "sim/trace.h"

/* ---- runner.c ---------------------------------------------------------------- */

/* The progress bar of `ragsim run` (rs_run_one draws it). */
struct rs_progress {
    FILE *err;
    double t0, last_draw;
    uint32_t rep, reps;
    sim_time_t duration;
    uint64_t events_done;       /* events of finished runs */
    bool drawn;
};

/* Erase the bar if it was drawn (p may be NULL). */
void rs_progress_clear(rs_progress_t *p);

/* Seconds on the monotonic clock (the progress bar, wall_seconds). */
static inline double rs_wall_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* Index of the sim's series column `name`, or -1. */
static inline int rs_series_index(const sim_t *sim, const char *name) { return sim_series_find(sim, name); }

/* The run's /runs/<variant>/rep<NNN> group. */
static inline void rs_run_group(char *buf, size_t n, const rs_scenario_t *s, size_t variant, uint32_t rep)
{
    snprintf(buf, n, "/runs/%s/rep%03u", s->variants[variant].name, rep);
}

/* The trace a run's time series were spilled into as it went, or NULL
 * (they are held by the sim, or only their last block is). */
const sim_trace_t *rs_series_spilled(const rs_result_t *r);

/* ---- runner_trace.c ---------------------------------------------------------- */

/* The trace's root attributes (scenario, seed, replications, ...). */
int rs_write_header(sim_trace_t *tr, const rs_scenario_t *s, uint64_t seed);
/* /summary: generic columns, then the model's "summary" section, whose
 * columns are fixed by the first run's report; one row per run. */
int rs_summary_init(sim_table_t *t, const rs_report_t *first);
int rs_summary_add(sim_table_t *t, const char *variant, const rs_result_t *r, const rs_report_t *rep);
/* The same row from a run's figures read back (a run done by a worker). */
int rs_summary_add_vals(sim_table_t *t, const char *variant, uint32_t replication, uint64_t seed, double sim_seconds,
                        uint64_t events, const rs_report_t *rep);

/* ---- runner_print.c ---------------------------------------------------------- */

/* Mean and 95% Student-t interval of entry i (matched by position) over the
 * replications' reports, NaN values left out; half-width NaN with fewer than
 * two values. */
sim_ci_t rs_entry_ci(const rs_report_t *reps, size_t nreps, size_t i);

/* The printed summary of one variant's nreps runs. */
void rs_print_summary(FILE *out, const rs_scenario_t *s, const rs_report_t *reps, size_t nreps,
                      uint64_t seed, const char *trace_path);

/* ---- runner_json.c ----------------------------------------------------------- */

/* What a run's figures file says besides its report. */
typedef struct rs_runmeta {
    uint64_t seed, events;
    double sim_seconds;
} rs_runmeta_t;

struct cmp_row;
/* Everything the JSON summary (--json) is made of. */
typedef struct rs_json_in {
    const rs_scenario_t *s;
    const char *scenario_file;
    bool compare;
    const size_t *sel;                  /* the variants run, in order */
    size_t nsel;
    rs_report_t *const *reps;           /* reps[v][r]: variant v's reports */
    const size_t *nrep;                 /* nrep[v] */
    const rs_runmeta_t *meta;           /* meta[vi * nreps + r] for sel[vi] */
    size_t nreps;
    uint64_t seed;
    const char *trace_path;             /* NULL: no trace written */
    const struct cmp_row *rows;         /* the comparison (compare only) */
    size_t nrows;
} rs_json_in_t;

/* The document on f: 0, or -1 (a write failed). */
int rs_json_summary(FILE *f, const rs_json_in_t *in);
/* The document into path: under a temporary name in the same directory,
 * moved onto path when complete (replacing a regular file only with
 * force). 0; -1 a write failed; -2 path appeared meanwhile (without force);
 * why says. */
int rs_json_save(const char *path, bool force, const rs_json_in_t *in, char *why, size_t whylen);

#endif
