/* Runner: loads a scenario and its variants, runs their replications,
 * writes the trace and prints the summary or the comparison. The CLI is a
 * thin layer over this; tests call it in-process.
 *
 * A loaded scenario (rs_scenario_t) is validated completely before any run
 * starts: every error in the file, its variants or the --set overrides is
 * reported with its position, and nothing runs or is written.
 *
 * Variants (see docs/scenario-format.md):
 *
 *   variants:
 *     naive: {}                                   # the first is the baseline...
 *     lru:
 *       gateway: {embedding_cache: {mode: lru}}   # an overlay on the base scenario
 *     governed:
 *       extends: lru                              # ... or an overlay on another variant
 *       baseline: true                            # ... unless one is marked
 *       calls: {retrieve: {circuit_breaker: {}}}
 *
 * Each variant's scenario is the base (without `variants`) with the overlays
 * of its `extends` chain merged in order (mappings merge, anything else
 * replaces). A scenario without `variants` has one variant, `default`.
 * Replication i of every variant uses the same seeds (common random
 * numbers): the same arrivals and request demands. */
#ifndef EXPERIMENT_RUNNER_H
#define EXPERIMENT_RUNNER_H

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "models/model.h"
#include "sim/cfg.h"
#include "sim/diag.h"
#include "sim/scenario.h"
#include "sim/sim.h"

/* The trace's layout, its root attribute format_version
 * (docs/trace-format.md#format-versions). Also part of the key of a run's
 * or compare's checkpoint: its runs' trace files are copied into the trace
 * as they are, so a checkpoint written in another layout is not resumed. */
#define RS_TRACE_FORMAT_VERSION 4

/* The longest variant name: letters, digits, '_', '-', '.' (not "." or
 * ".."), at most this many bytes (docs/scenario-format.md). */
#define RS_VARIANT_NAME_MAX 63

typedef struct rs_variant {
    const char *name;
    const char *description;
    sim_cfg_node_t *root;   /* the variant's merged scenario tree */
    void *spec;             /* the model's parsed scenario (model->spec_size bytes) */
    char *yaml;             /* the variant's effective scenario text */
} rs_variant_t;

/* Resource budgets of one run (see docs/hardening.md). 0 in a field means
 * the default below; UINT64_MAX means no limit. Checked every 65536
 * events, so a budget is approximate by that much. */
typedef struct rs_budget {
    uint64_t max_pending;       /* pending events */
    uint64_t max_inflight;      /* requests in the system */
    uint64_t max_memory;        /* bytes held by the engine and the model (approximate) */
} rs_budget_t;

#define RS_DEFAULT_MAX_PENDING 20000000ull
#define RS_DEFAULT_MAX_INFLIGHT 5000000ull
#define RS_DEFAULT_MAX_MEMORY (4ull << 30)

/* Which limit ended a run (rs_result_t.limit). */
typedef enum { RS_LIMIT_NONE, RS_LIMIT_EVENTS, RS_LIMIT_PENDING, RS_LIMIT_INFLIGHT, RS_LIMIT_MEMORY } rs_limit_t;

typedef struct rs_scenario {
    sim_cfg_t *cfg;
    sim_scenario_t sc;
    const model_type_t *model;
    rs_variant_t *variants;
    size_t nvariants;
    size_t baseline;        /* index of the baseline variant */
    void *spec;             /* the baseline's spec (variants[baseline].spec) */
    char *yaml;             /* effective base scenario text (after overrides) */
    const char *path;
    /* service-level objective and trigger, for the incident metrics */
    double slo_success, slo_p95;          /* ratio; seconds (INFINITY: none) */
    double trigger_start, trigger_end;    /* seconds; NAN: none */
    const char **compare_metrics;         /* `compare.metrics`: columns of the comparison table */
    size_t ncompare_metrics;
    rs_budget_t budget;                   /* zero after rs_load: the defaults */
} rs_scenario_t;

/* Load, apply overrides, resolve the variants, parse and check. Returns 0,
 * or SIM_ECONFIG with the messages in d (warnings may be present either way). */
int rs_load(rs_scenario_t *s, const char *path, const char *const *sets, size_t nsets,
            sim_diag_t *d);
void rs_unload(rs_scenario_t *s);
/* The names of the summary metrics a run of variant `variant` reports
 * (what `compare.metrics` and a sweep's capacity.require may name): the
 * model's summary entries, the incident metrics and the peaks of the
 * series the model has. *names (malloc'ed) points into *rep and static
 * strings: free(*names) and rs_report_fini(rep) in any case. 0 or
 * SIM_ENOMEM. */
int rs_metric_names(const rs_scenario_t *s, size_t variant, rs_report_t *rep, const char ***names, size_t *n);
/* Index of a variant by name, or -1. */
int rs_variant_find(const rs_scenario_t *s, const char *name);

/* One finished run; owns its sim and model. */
typedef struct rs_result {
    sim_t *sim;
    const model_type_t *model;
    void *inst;             /* the model instance (a net_t * for the network model ...) */
    size_t variant;
    uint32_t replication;
    uint64_t seed;
    sim_run_result_t end;
    double wall_seconds;
    rs_limit_t limit;       /* the budget that stopped the run, if any */
    uint64_t limit_value;   /* that budget */
    uint64_t limit_seen;    /* what the run held when it stopped */
    struct rs_series_out *series;   /* what the run kept of its time series (runner.c) */
} rs_result_t;

typedef struct rs_progress rs_progress_t;

/* Run replication `rep` of variant `variant` with master seed `seed`
 * (budget: max_events, 0 = none; and s->budget). Returns 0, or SIM_ENOMEM /
 * SIM_EBUDGET (the result is still filled for a budget stop, with
 * out->limit telling which) / SIM_EINTERRUPTED. */
int rs_run_one(const rs_scenario_t *s, size_t variant, uint32_t rep, uint64_t seed, uint64_t max_events,
               rs_progress_t *progress, rs_result_t *out);
/* The same, writing into `tr` as the run goes: a run of at least 2048
 * samples appends its time series to the trace block by block (memory
 * does not grow with the run's length); rs_write_run(tr, ...) writes the
 * rest afterwards. Without a trace (rs_run_one) a run keeps the last 64
 * samples of each column and what its summary needs: rs_write_run then
 * refuses it (SIM_EINVAL) unless it took fewer samples than that. */
int rs_run_one_traced(const rs_scenario_t *s, size_t variant, uint32_t rep, uint64_t seed, uint64_t max_events,
                      rs_progress_t *progress, sim_trace_t *tr, rs_result_t *out);
void rs_result_free(rs_result_t *r);
/* "pending-event budget exhausted" ...; and the full message for a run
 * stopped by a budget: which budget, its flag, what the run held, how to
 * raise it. */
const char *rs_limit_name(rs_limit_t l);
void rs_limit_message(const rs_result_t *r, char *buf, size_t n);
/* rs_run_one without a progress bar, calling hook(ctx, sim) every 65536
 * events instead (sim_set_progress): a sweep's master serves its workers
 * and draws its own bar while it runs a run of its own. */
int rs_run_one_hook(const rs_scenario_t *s, size_t variant, uint32_t rep, uint64_t seed, uint64_t max_events,
                    sim_progress_fn hook, void *ctx, rs_result_t *out);
/* rs_run_one_traced with a hook instead of a progress bar (a task of
 * `run`/`compare` run by the sweep's master, experiment/sweep.h). */
int rs_run_one_traced_hook(const rs_scenario_t *s, size_t variant, uint32_t rep, uint64_t seed, uint64_t max_events,
                           sim_progress_fn hook, void *ctx, sim_trace_t *tr, rs_result_t *out);
/* Write a finished run as /runs/<variant>/rep<NNN>/ into a trace (what
 * `ragsim run` writes per run): the trace the run was given
 * (rs_run_one_traced). 0, SIM_EHDF5 (sim_trace_errmsg tells) or SIM_EINVAL
 * (another trace, or a run without one that no longer holds its series). */
int rs_write_run(sim_trace_t *tr, const rs_scenario_t *s, const rs_result_t *r);
/* The group /runs/<variant> with its attributes (what rs_write_run writes
 * with replication 0). 0 or SIM_EHDF5. */
int rs_write_variant(sim_trace_t *tr, const rs_scenario_t *s, size_t variant);
/* "mean ± hw unit" as the summaries print it: the unit scaled to the mean
 * (s/ms/us, B/KiB/MiB/GiB, /s), digits to the precision of the half-width
 * (NaN hw: none shown), "-" for a NaN mean. */
void rs_format_value(char *buf, size_t n, rs_kind_t kind, double mean, double hw);
/* The default output of a command on FILE: FILE's stem + ".h5" in the
 * current directory (malloc'ed; NULL when out of memory). */
char *rs_default_output(const char *file);

/* The run's figures: the model's report plus the incident metrics
 * (worst-minute success ratio, time below the SLO, time to recover,
 * peaks). The caller owns rep (rs_report_init before). */
void rs_report_run(const rs_scenario_t *s, const rs_result_t *r, rs_report_t *rep);

/* Set (to the signal number) by SIGINT/SIGTERM while a command runs: the
 * current run stops, nothing is written (the previous trace, if any, is
 * left as it was, the temporary file removed) and the command returns
 * 128 + the signal number. */
extern volatile sig_atomic_t rs_interrupted;

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
    rs_budget_t budget;         /* 0 fields: the defaults; UINT64_MAX: unlimited */
    bool force;                 /* replace an existing trace file */
    const char *variants;       /* comma-separated names; NULL: all */
    bool quiet;
    const char *json;           /* --json: NULL none; "-" on `out` instead of the printed summary;
                                   else a file (written like the trace: temporary, renamed, --force) */
    bool progress;              /* draw a progress bar on stderr */
    int jobs;                   /* worker processes (0 or 1: in-process) */
    bool resume;                /* continue from OUT.h5.ckpt/ */
    void *pool;                 /* an sw_pool_t of MPI ranks (experiment/sweep.h), or NULL */
} rs_opts_t;

/* `ragsim run`: returns the process exit status (0 ok, 1 runtime failure, 2 bad input). */
int rs_cmd_run(const rs_opts_t *o, FILE *out, FILE *err);
/* `ragsim compare`: the same runs, then the paired comparison against the baseline. */
int rs_cmd_compare(const rs_opts_t *o, FILE *out, FILE *err);
/* `ragsim validate`. */
int rs_cmd_validate(const rs_opts_t *o, FILE *out, FILE *err);

#endif
