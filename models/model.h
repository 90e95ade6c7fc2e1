/* A model: what a scenario simulates. The runner drives any model through
 * this const type table (the shape of ROSS's model type and GSL's
 * strategies), so that a new model touches its own file and the registry.
 *
 *   parse     read the model's part of the scenario (errors to d)
 *   create    build an instance in a run and start it (schedules its first events)
 *   finish    close statistics at the end of the run
 *   write     write the model's datasets into the run's trace group
 *   report    the run's figures for the summary and /summary (see rs_report_t)
 *
 * Models are chosen by the scenario's top-level `model:` key (see
 * model_find); without it, a scenario with a `pipeline` is a `rag` model and
 * anything else a `network`. */
#ifndef MODELS_MODEL_H
#define MODELS_MODEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "sim/cfg.h"
#include "sim/scenario.h"
#include "sim/sim.h"
#include "sim/trace.h"

/* ---- Run report -------------------------------------------------------------
 * A run's figures as (section, row, column) -> value, in the order added.
 * The runner aggregates them across replications (mean and 95% CI), prints
 * one table per section, and writes the section "summary" as /summary's
 * columns (one row per run). */
typedef enum { RS_COUNT, RS_SECONDS, RS_RATIO, RS_NUMBER, RS_BYTES, RS_RATE } rs_kind_t;

/* The unit a value of this kind is stored with in traces ("s", "bytes",
 * "1/s", else "1"). */
static inline const char *rs_kind_unit(rs_kind_t k)
{
    switch (k) {
    case RS_SECONDS: return "s";
    case RS_BYTES: return "bytes";
    case RS_RATE: return "1/s";
    default: return "1";
    }
}

#define RS_NAME_MAX 64

typedef struct {
    char section[RS_NAME_MAX], row[RS_NAME_MAX], col[RS_NAME_MAX];
    rs_kind_t kind;
    double value;
} rs_entry_t;

typedef struct {
    char section[RS_NAME_MAX], row[RS_NAME_MAX];
    char text[256];
} rs_note_t;

typedef struct rs_report {
    rs_entry_t *e;
    size_t n, cap;
    rs_note_t *notes;
    size_t nnotes, notes_cap;
} rs_report_t;

void rs_report_init(rs_report_t *r);
void rs_report_fini(rs_report_t *r);
void rs_report_add(rs_report_t *r, const char *section, const char *row, const char *col, rs_kind_t kind,
                   double value);
/* A line printed under a row (e.g. the queueing-theory prediction). */
void rs_report_note(rs_report_t *r, const char *section, const char *row, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* Value of an entry, NAN if absent. */
double rs_report_get(const rs_report_t *r, const char *section, const char *row, const char *col);

/* Whether a higher value of a summary metric is better (+1), worse (-1) or
 * neither (0), for the comparison's verdicts: one row per metric the model
 * reports, ended by {NULL, 0}. */
typedef struct {
    const char *metric;
    int dir;
} model_direction_t;

/* A summary metric that the runner takes from the run's time series: the
 * largest value of `series` (skipped when the run has no such series).
 * Tables end with {NULL}. */
typedef struct {
    const char *series, *metric;
    rs_kind_t kind;
} model_peak_t;

/* The series the incident metrics (experiment/incident.h) read, by name:
 * per sample, the sum of `ok` (requests that were answered) and of `ended`
 * (every request that ended), and the p95 latency. Lists end with NULL;
 * names the run does not have are skipped, and the sums are taken in the
 * order listed. */
#define MODEL_MAX_INCIDENT_SERIES 8
#define MODEL_MAX_PEAKS 16
typedef struct {
    const char *const *ok;
    const char *const *ended;
    const char *p95;
} model_incident_series_t;

typedef struct model_type {
    const char *name;
    size_t spec_size;
    int (*parse)(sim_diag_t *d, sim_cfg_node_t *root, const sim_scenario_t *sc, void *spec);
    void (*spec_fini)(void *spec);
    /* Warnings about valid but suspicious scenarios (may be NULL). */
    void (*check)(const void *spec, const sim_scenario_t *sc, sim_cfg_node_t *root, sim_diag_t *d);
    /* One paragraph for `ragsim validate`. */
    void (*describe)(const void *spec, FILE *out);
    void *(*create)(sim_t *sim, const void *spec);
    void (*finish)(void *inst);
    void (*destroy)(void *inst);
    int (*write)(const void *inst, sim_trace_t *tr, const char *group);
    void (*report)(const void *inst, rs_report_t *rep);
    /* The scenario's trigger window in seconds (faults, spikes), for the
     * time-to-recover metric; false if none (may be NULL). */
    bool (*trigger)(const void *spec, double *start_s, double *end_s);
    /* Resources a running instance holds, for the run budgets (may be
     * NULL): requests in flight and the bytes of every structure that grows
     * with the scenario or the run (pools, caches, stores, buffers;
     * approximate, from the structures' sizes, not the allocator). */
    void (*usage)(const void *inst, uint64_t *in_flight, uint64_t *bytes);
    /* Directions of the summary metrics (may be NULL: all neutral). */
    const model_direction_t *directions;
    /* Summary metrics taken from the series (may be NULL; at most MODEL_MAX_PEAKS). */
    const model_peak_t *peaks;
    /* Inputs of the incident metrics (may be NULL: none; at most
     * MODEL_MAX_INCIDENT_SERIES names per list). */
    const model_incident_series_t *incident;
    /* The metrics `ragsim compare` shows when the scenario does not choose
     * (compare.metrics), in order of priority, NULL-terminated; the first
     * seven present that differ between variants are shown. They may name
     * the incident metrics the runner adds (worst_window_success,
     * time_below_slo_s, recovery_time_s: docs/compare.md). May be NULL. */
    const char *const *key_metrics;
} model_type_t;

extern const model_type_t network_model;
extern const model_type_t rag_model;

/* The direction of a metric of model m (0 when m is NULL, the metric is
 * NULL or the model does not list it). */
int model_direction(const model_type_t *m, const char *metric);

/* The model a scenario names (or implies); reports an unknown name. NULL on error. */
const model_type_t *model_find(sim_diag_t *d, sim_cfg_node_t *root);

#endif
