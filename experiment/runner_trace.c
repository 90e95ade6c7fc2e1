/* The trace of `ragsim run` / `compare`: the root attributes
 * (rs_write_header), one finished run as /runs/<variant>/rep<NNN>/
 * (rs_write_run) and the rows of /summary. Calls sim/ (trace, table), the
 * model's write through models/model.h and the runner's internals
 * (runner_internal.h). */
#include "experiment/runner.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "experiment/runner_internal.h"
#include "sim/error.h"
#include "sim/trace.h"
#include "sim/units.h"

/* ---- summary rows ---------------------------------------------------------- */

/* /summary: generic columns, then the model's "summary" section, whose
 * columns are fixed by the first run's report. */
int rs_summary_init(sim_table_t *t, const rs_report_t *first)
{
    sim_table_init(t, "summary");
    sim_table_col_str(t, "variant", 64);
    sim_table_col_i64(t, "replication", "1");
    sim_table_col_i64(t, "seed", "1");
    sim_table_col_f64(t, "sim_seconds", "s");
    sim_table_col_i64(t, "events_processed", "1");
    for (size_t i = 0; i < first->n; i++) {
        const rs_entry_t *e = &first->e[i];
        if (strcmp(e->section, "summary") != 0) continue;
        int c = e->kind == RS_COUNT ? sim_table_col_i64(t, e->col, rs_kind_unit(e->kind))
                                    : sim_table_col_f64(t, e->col, rs_kind_unit(e->kind));
        if (c < 0) return SIM_ENOMEM;
    }
    return 0;
}

int rs_summary_add(sim_table_t *t, const char *variant, const rs_result_t *r, const rs_report_t *rep)
{
    return rs_summary_add_vals(t, variant, r->replication, r->seed, sim_time_to_s(sim_now(r->sim)),
                               sim_events_processed(r->sim), rep);
}

int rs_summary_add_vals(sim_table_t *t, const char *variant, uint32_t replication, uint64_t seed, double sim_seconds,
                        uint64_t events, const rs_report_t *rep)
{
    unsigned char *row = sim_table_append(t);
    if (!row) return SIM_ENOMEM;
    sim_row_str(t, row, 0, variant);
    sim_row_i64(t, row, 1, replication);
    sim_row_i64(t, row, 2, (int64_t)seed);
    sim_row_f64(t, row, 3, sim_seconds);
    sim_row_i64(t, row, 4, (int64_t)events);
    for (size_t i = 0; i < rep->n; i++) {
        const rs_entry_t *e = &rep->e[i];
        if (strcmp(e->section, "summary") != 0) continue;
        int c = sim_table_find_col(t, e->col);
        if (c < 0) continue;
        if (t->cols[c].type == SIM_COL_I64) sim_row_i64(t, row, c, (int64_t)llround(e->value));
        else sim_row_f64(t, row, c, e->value);
    }
    return 0;
}

/* ---- trace ------------------------------------------------------------------ */

int rs_write_variant(sim_trace_t *tr, const rs_scenario_t *s, size_t variant)
{
    char g[256];
    const rs_variant_t *v = &s->variants[variant];
    snprintf(g, sizeof g, "/runs/%s", v->name);
    int rc = 0;
    rc |= sim_trace_group(tr, g);
    rc |= sim_trace_attr_str(tr, g, "scenario_yaml", v->yaml);
    rc |= sim_trace_attr_str(tr, g, "description", v->description ? v->description : "");
    rc |= sim_trace_attr_i64(tr, g, "baseline", variant == s->baseline);
    return rc ? SIM_EHDF5 : 0;
}

static int write_run(sim_trace_t *tr, const rs_scenario_t *s, const rs_result_t *r)
{
    char g[256], p[512];
    int rc = 0;
    if (r->replication == 0) rc |= rs_write_variant(tr, s, r->variant);
    rs_run_group(g, sizeof g, s, r->variant, r->replication);
    rc |= sim_trace_group(tr, g);
    rc |= sim_trace_attr_i64(tr, g, "seed", (int64_t)r->seed);
    rc |= sim_trace_attr_i64(tr, g, "replication", r->replication);
    rc |= sim_trace_attr_i64(tr, g, "events_processed", (int64_t)sim_events_processed(r->sim));
    rc |= sim_trace_attr_f64(tr, g, "sim_seconds", sim_time_to_s(sim_now(r->sim)));
    rc |= sim_trace_attr_f64(tr, g, "wall_seconds", r->wall_seconds);
    rc |= sim_trace_attr_i64(tr, g, "complete", r->end == SIM_RUN_TIME || r->end == SIM_RUN_EMPTY);
    const sim_t *sim = r->sim;
    const sim_trace_t *spilled = rs_series_spilled(r);
    if (spilled) {
        /* spilled while the run went on, into the trace given to the run
         * (another trace would lack them: a caller's mistake) */
        if (spilled != tr) return SIM_EINVAL;
    } else if (sim_series_first(sim) != 0) {
        return SIM_EINVAL;  /* a run without a trace kept only its last block */
    } else {
        size_t ns = sim_series_samples(sim), nc = sim_series_count(sim);
        const char **names = malloc((nc + 1) * sizeof *names), **units = malloc((nc + 1) * sizeof *units),
                   **helps = malloc((nc + 1) * sizeof *helps);
        const double **cols = malloc((nc + 1) * sizeof *cols);
        bool ok = names && units && helps && cols;
        if (ok) {
            for (size_t i = 0; i < nc; i++) {
                names[i] = sim_series_name(sim, i);
                units[i] = sim_series_unit(sim, i);
                helps[i] = sim_series_help(sim, i);
                cols[i] = sim_series_data(sim, i);
            }
            snprintf(p, sizeof p, "%s/timeseries", g);
            rc |= sim_trace_series(tr, p, nc, names, units, helps, sim_series_times(sim), cols, ns);
        }
        free(names);
        free(units);
        free(helps);
        free(cols);
        if (!ok) return SIM_ENOMEM;
    }
    snprintf(p, sizeof p, "%s/events", g);
    rc |= sim_trace_table(tr, p, sim_log_table(sim));
    if (s->model->write) rc |= s->model->write(r->inst, tr, g);
    return rc ? SIM_EHDF5 : 0;
}

int rs_write_run(sim_trace_t *tr, const rs_scenario_t *s, const rs_result_t *r) { return write_run(tr, s, r); }

int rs_write_header(sim_trace_t *tr, const rs_scenario_t *s, uint64_t seed)
{
    size_t srclen = 0;
    const char *src = sim_cfg_source(s->cfg, &srclen);
    int rc = 0;
    rc |= sim_trace_attr_str(tr, "/", "format", "ragsim-trace");
    rc |= sim_trace_attr_i64(tr, "/", "format_version", RS_TRACE_FORMAT_VERSION);
    rc |= sim_trace_attr_str(tr, "/", "ragsim_version", RAGSIM_VERSION);
    rc |= sim_trace_attr_str(tr, "/", "model", s->model->name);
    rc |= sim_trace_attr_str(tr, "/", "scenario_name", s->sc.name);
    rc |= sim_trace_attr_str(tr, "/", "scenario_file", s->path);
    rc |= sim_trace_attr_str(tr, "/", "scenario_yaml", s->yaml);
    rc |= sim_trace_attr_str(tr, "/", "scenario_source", src ? src : "");
    rc |= sim_trace_attr_i64(tr, "/", "master_seed", (int64_t)seed);
    rc |= sim_trace_attr_i64(tr, "/", "replications", s->sc.replications);
    rc |= sim_trace_attr_f64(tr, "/", "duration_s", sim_time_to_s(s->sc.duration));
    rc |= sim_trace_attr_f64(tr, "/", "warmup_s", sim_time_to_s(s->sc.warmup));
    rc |= sim_trace_attr_f64(tr, "/", "sample_interval_s", sim_time_to_s(s->sc.sample_interval));
    rc |= sim_trace_attr_str(tr, "/", "baseline", s->variants[s->baseline].name);
    return rc ? SIM_EHDF5 : 0;
}
