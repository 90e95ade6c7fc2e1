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
     * NULL): requests in flight and the bytes of its pools (approximate). */
    void (*usage)(const void *inst, uint64_t *in_flight, uint64_t *bytes);
} model_type_t;

extern const model_type_t network_model;
extern const model_type_t rag_model;

/* The model a scenario names (or implies); reports an unknown name. NULL on error. */
const model_type_t *model_find(sim_diag_t *d, sim_cfg_node_t *root);

#endif
