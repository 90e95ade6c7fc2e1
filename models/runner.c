#include "runner.h"

#include <errno.h>
#include <libgen.h>
#include <math.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "models/theory.h"
#include "sim/error.h"
#include "sim/stats.h"
#include "sim/trace.h"
#include "sim/units.h"

#define VARIANT "default"

/* ---- loading ------------------------------------------------------------- */

int rs_load(rs_scenario_t *s, const char *path, const char *const *sets, size_t nsets,
            sim_diag_t *d)
{
    memset(s, 0, sizeof *s);
    s->path = path;
    s->cfg = sim_cfg_load_file(path, d);
    if (!s->cfg) return SIM_ECONFIG;
    int errs = d->errors;
    for (size_t i = 0; i < nsets; i++) sim_cfg_set(s->cfg, sets[i], d);
    if (d->errors != errs) return SIM_ECONFIG;
    sim_cfg_node_t *root = sim_cfg_root(s->cfg);
    sim_scenario_parse(d, root, &s->sc);
    s->model = model_find(d, root);
    if (s->model) {
        s->spec = calloc(1, s->model->spec_size);
        if (!s->spec) return SIM_ENOMEM;
        if (s->model->parse(d, root, &s->sc, s->spec) == SIM_ENOMEM) return SIM_ENOMEM;
    }
    sim_cfg_check_unused(s->cfg, d);
    if (d->errors != errs) return SIM_ECONFIG;
    size_t len = 0;
    if (sim_cfg_emit(s->cfg, &s->yaml, &len) != 0) return SIM_ENOMEM;
    if (s->model->check) s->model->check(s->spec, &s->sc, root, d);
    return 0;
}

void rs_unload(rs_scenario_t *s)
{
    if (s->spec && s->model) s->model->spec_fini(s->spec);
    free(s->spec);
    sim_cfg_destroy(s->cfg);
    free(s->yaml);
    memset(s, 0, sizeof *s);
}

/* ---- progress bar -------------------------------------------------------- */

struct rs_progress {
    FILE *err;
    double t0, last_draw;
    uint32_t rep, reps;
    sim_time_t duration;
    uint64_t events_done;       /* events of finished runs */
    bool drawn;
};

static double wall_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void progress_draw(rs_progress_t *p, const sim_t *sim, bool force)
{
    double now = wall_now();
    if (!force && now - p->last_draw < 0.1) return;
    p->last_draw = now;
    double frac = ((double)p->rep + sim_time_to_s(sim_now(sim)) / sim_time_to_s(p->duration)) / p->reps;
    if (frac > 1) frac = 1;
    double el = now - p->t0;
    double evs = el > 0 ? (double)(p->events_done + sim_events_processed(sim)) / el : 0;
    double eta = frac > 0.001 ? el * (1 - frac) / frac : 0;
    char bar[31];
    int filled = (int)(frac * 30);
    for (int i = 0; i < 30; i++) bar[i] = i < filled ? '#' : '-';
    bar[30] = 0;
    fprintf(p->err, "\r[%s] %5.1f%%  rep %u/%u  %6.2fM events/s  ETA %d:%02d ", bar, frac * 100,
            p->rep + 1, p->reps, evs / 1e6, (int)eta / 60, (int)eta % 60);
    fflush(p->err);
    p->drawn = true;
}

static void progress_cb(void *ctx, const sim_t *sim) { progress_draw(ctx, sim, false); }

static void progress_clear(rs_progress_t *p)
{
    if (p && p->drawn) {
        fprintf(p->err, "\r%*s\r", 79, "");
        fflush(p->err);
    }
}

/* ---- one run --------------------------------------------------------------- */

int rs_run_one(const rs_scenario_t *s, uint32_t rep, uint64_t seed, uint64_t max_events,
               rs_progress_t *progress, rs_result_t *out)
{
    memset(out, 0, sizeof *out);
    out->replication = rep;
    out->seed = seed;
    sim_config_t cfg = {
        .master_seed = seed,
        .replication = rep,
        .sample_interval = s->sc.sample_interval,
        .warmup = s->sc.warmup,
        .max_events = max_events,
    };
    double w0 = wall_now();
    out->sim = sim_create(&cfg);
    if (!out->sim) return SIM_ENOMEM;
    if (progress) sim_set_progress(out->sim, progress_cb, progress);
    sim_set_interrupt(out->sim, &rs_interrupted);
    sim_log_event(out->sim, "run_start", "", (double)rep, s->sc.name);
    out->model = s->model;
    out->inst = s->model->create(out->sim, s->spec);
    if (!out->inst) return SIM_ENOMEM;
    out->end = sim_run(out->sim, s->sc.duration);
    s->model->finish(out->inst);
    out->wall_seconds = wall_now() - w0;
    if (out->end == SIM_RUN_ERROR) return sim_error(out->sim);
    if (out->end == SIM_RUN_STOPPED) return SIM_EINTERRUPTED;
    char detail[128];
    snprintf(detail, sizeof detail, "%s after %llu events", out->end == SIM_RUN_BUDGET ? "event budget exhausted" : "end of run",
             (unsigned long long)sim_events_processed(out->sim));
    sim_log_event(out->sim, "run_end", "", sim_time_to_s(sim_now(out->sim)), detail);
    if (progress) progress->events_done += sim_events_processed(out->sim);
    return out->end == SIM_RUN_BUDGET ? SIM_EBUDGET : 0;
}

void rs_result_free(rs_result_t *r)
{
    if (r->inst) r->model->destroy(r->inst);
    sim_destroy(r->sim);
    memset(r, 0, sizeof *r);
}

/* ---- summary rows ---------------------------------------------------------- */

static const char *kind_unit(rs_kind_t k)
{
    switch (k) {
    case RS_SECONDS: return "s";
    case RS_BYTES: return "bytes";
    case RS_RATE: return "1/s";
    default: return "1";
    }
}

/* /summary: generic columns, then the model's "summary" section, whose
 * columns are fixed by the first run's report. */
static int summary_init(sim_table_t *t, const rs_report_t *first)
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
        int c = e->kind == RS_COUNT ? sim_table_col_i64(t, e->col, kind_unit(e->kind))
                                    : sim_table_col_f64(t, e->col, kind_unit(e->kind));
        if (c < 0) return SIM_ENOMEM;
    }
    return 0;
}

static int summary_add(sim_table_t *t, const rs_result_t *r, const rs_report_t *rep)
{
    unsigned char *row = sim_table_append(t);
    if (!row) return SIM_ENOMEM;
    sim_row_str(t, row, 0, VARIANT);
    sim_row_i64(t, row, 1, r->replication);
    sim_row_i64(t, row, 2, (int64_t)r->seed);
    sim_row_f64(t, row, 3, sim_time_to_s(sim_now(r->sim)));
    sim_row_i64(t, row, 4, (int64_t)sim_events_processed(r->sim));
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

static int write_run(sim_trace_t *tr, const rs_scenario_t *s, const rs_result_t *r)
{
    char g[256], p[512];
    snprintf(g, sizeof g, "/runs/%s/rep%03u", VARIANT, r->replication);
    int rc = 0;
    rc |= sim_trace_group(tr, g);
    rc |= sim_trace_attr_i64(tr, g, "seed", (int64_t)r->seed);
    rc |= sim_trace_attr_i64(tr, g, "replication", r->replication);
    rc |= sim_trace_attr_i64(tr, g, "events_processed", (int64_t)sim_events_processed(r->sim));
    rc |= sim_trace_attr_f64(tr, g, "sim_seconds", sim_time_to_s(sim_now(r->sim)));
    rc |= sim_trace_attr_f64(tr, g, "wall_seconds", r->wall_seconds);
    rc |= sim_trace_attr_i64(tr, g, "complete", r->end == SIM_RUN_TIME || r->end == SIM_RUN_EMPTY);
    const sim_t *sim = r->sim;
    size_t ns = sim_series_samples(sim);
    snprintf(p, sizeof p, "%s/timeseries/t", g);
    rc |= sim_trace_f64(tr, p, sim_series_times(sim), ns, "s", "end of each sample interval");
    for (size_t i = 0; i < sim_series_count(sim); i++) {
        snprintf(p, sizeof p, "%s/timeseries/%s", g, sim_series_name(sim, i));
        rc |= sim_trace_f64(tr, p, sim_series_data(sim, i), ns, sim_series_unit(sim, i),
                            sim_series_help(sim, i));
    }
    snprintf(p, sizeof p, "%s/events", g);
    rc |= sim_trace_table(tr, p, sim_log_table(sim));
    if (s->model->write) rc |= s->model->write(r->inst, tr, g);
    return rc ? SIM_EHDF5 : 0;
}

static int write_header(sim_trace_t *tr, const rs_scenario_t *s, uint64_t seed)
{
    size_t srclen = 0;
    const char *src = sim_cfg_source(s->cfg, &srclen);
    int rc = 0;
    rc |= sim_trace_attr_str(tr, "/", "format", "ragsim-trace");
    rc |= sim_trace_attr_i64(tr, "/", "format_version", 1);
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
    return rc ? SIM_EHDF5 : 0;
}

/* ---- printing ----------------------------------------------------------------- */

/* Decimals that show a value to the precision of its half-width (two
 * significant digits of the half-width), or 4 significant digits without one. */
static int decimals_for(double mean, double hw)
{
    double ref = (isfinite(hw) && hw > 0) ? hw : fabs(mean) / 1000;
    if (!(ref > 0)) return 0;
    int d = 1 - (int)floor(log10(ref));
    return d < 0 ? 0 : d > 9 ? 9 : d;
}

/* "mean ± hw unit" with a unit scaled to the mean: s/ms/us, B/KiB/MiB/GiB. */
static void fmt_value(char *buf, size_t n, rs_kind_t kind, double mean, double hw)
{
    if (isnan(mean)) {
        snprintf(buf, n, "-");
        return;
    }
    const char *u = "";
    double k = 1, a = fabs(mean);
    if (kind == RS_SECONDS) {
        u = " s";
        if (a > 0 && a < 1e-3) { u = " us"; k = 1e6; }
        else if (a > 0 && a < 1) { u = " ms"; k = 1e3; }
    } else if (kind == RS_BYTES) {
        static const char *const units[] = {" B", " KiB", " MiB", " GiB", " TiB"};
        double div = 1;
        int i = 0;
        while (i < 4 && a >= 1024.0 * div) { div *= 1024; i++; }
        u = units[i];
        k = 1 / div;
    } else if (kind == RS_RATE) {
        u = "/s";
    }
    double m = mean * k, h = hw * k;
    if (isfinite(h) && h <= fabs(m) * 1e-9) h = 0;   /* identical across replications: rounding noise */
    int dec = decimals_for(m, h);
    if (kind == RS_COUNT && !(h > 0) && m == floor(m)) dec = 0;
    if (!isfinite(hw)) snprintf(buf, n, "%.*f%s", dec, m, u);
    else if (h == 0) snprintf(buf, n, "%.*f ± 0%s", dec, m, u);
    else snprintf(buf, n, "%.*f ± %.*f%s", dec, m, dec, h, u);
}

static int display_width(const char *s)
{
    int w = 0;
    for (const unsigned char *q = (const unsigned char *)s; *q; q++) w += (*q & 0xC0) != 0x80;
    return w;
}

/* One run's report per replication: entries are matched by position (every
 * run of a scenario reports the same entries in the same order). */
static sim_ci_t entry_ci(const rs_report_t *reps, size_t nreps, size_t i)
{
    double x[nreps ? nreps : 1];
    size_t k = 0;
    for (size_t r = 0; r < nreps; r++)
        if (i < reps[r].n && !isnan(reps[r].e[i].value)) x[k++] = reps[r].e[i].value;
    if (k == 0) return (sim_ci_t){0, NAN, NAN, NAN, 0.95};
    sim_ci_t c = sim_ci_student(x, k, 0.95);
    if (k < 2) c.half_width = NAN;
    return c;
}

#define MAX_COLS 16
#define CELL 64

static void print_section(FILE *out, const rs_report_t *reps, size_t nreps, const char *section)
{
    const rs_report_t *r0 = &reps[0];
    /* rows and columns in order of first appearance */
    const char *cols[MAX_COLS];
    size_t ncols = 0, nrows = 0;
    const char **rows = calloc(r0->n + 1, sizeof *rows);
    if (!rows) return;
    for (size_t i = 0; i < r0->n; i++) {
        const rs_entry_t *e = &r0->e[i];
        if (strcmp(e->section, section) != 0) continue;
        bool seen = false;
        for (size_t c = 0; c < ncols; c++) seen |= !strcmp(cols[c], e->col);
        if (!seen && ncols < MAX_COLS) cols[ncols++] = e->col;
        seen = false;
        for (size_t k = 0; k < nrows; k++) seen |= !strcmp(rows[k], e->row);
        if (!seen) rows[nrows++] = e->row;
    }
    /* rows that are zero in every run say nothing (e.g. failure reasons that never occurred) */
    size_t kept = 0;
    for (size_t k = 0; k < nrows; k++) {
        bool any = false;
        for (size_t r = 0; r < nreps && !any; r++)
            for (size_t i = 0; i < reps[r].n && !any; i++) {
                const rs_entry_t *e = &reps[r].e[i];
                any = !strcmp(e->section, section) && !strcmp(e->row, rows[k]) && e->value != 0;
            }
        if (any) rows[kept++] = rows[k];
    }
    nrows = kept;
    if (nrows == 0) {
        free(rows);
        return;
    }
    char (*cell)[MAX_COLS + 1][CELL] = calloc(nrows + 1, sizeof *cell);
    if (!cell) {
        free(rows);
        return;
    }
    snprintf(cell[0][0], CELL, "%s", section);
    for (size_t c = 0; c < ncols; c++) snprintf(cell[0][c + 1], CELL, "%s", cols[c]);
    for (size_t k = 0; k < nrows; k++) {
        snprintf(cell[k + 1][0], CELL, "%s", rows[k]);
        for (size_t c = 0; c < ncols; c++) snprintf(cell[k + 1][c + 1], CELL, "-");
    }
    for (size_t i = 0; i < r0->n; i++) {
        const rs_entry_t *e = &r0->e[i];
        if (strcmp(e->section, section) != 0) continue;
        size_t k = 0, c = 0;
        while (k < nrows && strcmp(rows[k], e->row)) k++;
        while (c < ncols && strcmp(cols[c], e->col)) c++;
        if (k == nrows || c == ncols) continue;   /* a dropped row or column */
        sim_ci_t ci = entry_ci(reps, nreps, i);
        fmt_value(cell[k + 1][c + 1], CELL, e->kind, ci.mean, ci.half_width);
    }
    int width[MAX_COLS + 1] = {0};
    for (size_t k = 0; k <= nrows; k++)
        for (size_t c = 0; c <= ncols; c++)
            if (display_width(cell[k][c]) > width[c]) width[c] = display_width(cell[k][c]);
    fputc('\n', out);
    for (size_t k = 0; k <= nrows; k++) {
        for (size_t c = 0; c <= ncols; c++) {
            const char *txt = cell[k][c];
            if (c == ncols) fprintf(out, "  %s", txt);   /* no trailing padding */
            else fprintf(out, "%s%-*s", c ? "  " : "", width[c] + (int)strlen(txt) - display_width(txt), txt);
        }
        fputc('\n', out);
        if (k == 0) continue;
        for (size_t i = 0; i < r0->nnotes; i++)
            if (!strcmp(r0->notes[i].section, section) && !strcmp(r0->notes[i].row, rows[k - 1]))
                fprintf(out, "%-*s  %s\n", width[0], "", r0->notes[i].text);
    }
    free(cell);
    free(rows);
}

static void print_summary(FILE *out, const rs_scenario_t *s, const rs_report_t *reps, size_t nreps,
                          uint64_t seed, const char *trace_path)
{
    fprintf(out, "scenario '%s': %zu replication%s of %g s (warm-up %g s), seed %llu\n", s->sc.name,
            nreps, nreps == 1 ? "" : "s", sim_time_to_s(s->sc.duration), sim_time_to_s(s->sc.warmup),
            (unsigned long long)seed);
    if (nreps > 1) fprintf(out, "figures after the warm-up; ± is the 95%% confidence half-width across replications\n");
    const rs_report_t *r0 = &reps[0];
    /* sections in order of first appearance, "summary" last as a list */
    for (size_t i = 0; i < r0->n; i++) {
        const char *sec = r0->e[i].section;
        bool first = true;
        for (size_t j = 0; j < i; j++) first &= strcmp(r0->e[j].section, sec) != 0;
        if (first && strcmp(sec, "summary") != 0) print_section(out, reps, nreps, sec);
    }
    int w = 0;
    for (size_t i = 0; i < r0->n; i++)
        if (!strcmp(r0->e[i].section, "summary") && display_width(r0->e[i].col) > w) w = display_width(r0->e[i].col);
    fprintf(out, "\nend to end\n");
    for (size_t i = 0; i < r0->n; i++) {
        const rs_entry_t *e = &r0->e[i];
        if (strcmp(e->section, "summary") != 0) continue;
        char v[CELL];
        sim_ci_t ci = entry_ci(reps, nreps, i);
        fmt_value(v, sizeof v, e->kind, ci.mean, ci.half_width);
        fprintf(out, "  %-*s  %s\n", w, e->col, v);
    }
    if (trace_path) fprintf(out, "\ntrace: %s\n", trace_path);
}

/* ---- commands ------------------------------------------------------------------- */

volatile sig_atomic_t rs_interrupted;
static void on_signal(int sig) { (void)sig; rs_interrupted = 1; }

static char *default_trace_path(const char *scenario)
{
    char *copy = strdup(scenario);
    if (!copy) return NULL;
    char *base = basename(copy);
    char *dot = strrchr(base, '.');
    if (dot && dot != base) *dot = 0;
    size_t n = strlen(base) + 4;
    char *p = malloc(n);
    if (p) snprintf(p, n, "%s.h5", base);
    free(copy);
    return p;
}

int rs_cmd_validate(const rs_opts_t *o, FILE *out, FILE *err)
{
    sim_diag_t d;
    sim_diag_init(&d);
    rs_scenario_t s;
    int rc = rs_load(&s, o->scenario, o->sets, o->nsets, &d);
    fputs(sim_diag_text(&d), err);
    int status = 0;
    if (rc == SIM_ENOMEM) status = 1;
    else if (rc != 0 || d.errors) status = 2;
    if (status == 0 && !o->quiet) {
        fprintf(out, "%s: scenario '%s' is valid: %s model, %g s x %lld replication%s\n", o->scenario, s.sc.name,
                s.model->name, sim_time_to_s(s.sc.duration), (long long)s.sc.replications,
                s.sc.replications == 1 ? "" : "s");
        if (s.model->describe) s.model->describe(s.spec, out);
        if (d.warnings) fprintf(out, "%d warning%s (see above)\n", d.warnings, d.warnings == 1 ? "" : "s");
    }
    rs_unload(&s);
    sim_diag_fini(&d);
    return status;
}

int rs_cmd_run(const rs_opts_t *o, FILE *out, FILE *err)
{
    sim_diag_t d;
    sim_diag_init(&d);
    rs_scenario_t s;
    int status = 0;
    sim_trace_t *tr = NULL;
    char *trace_path = NULL;
    sim_table_t summ;
    sim_table_init(&summ, "summary");
    rs_report_t *reps = NULL;
    size_t nreports = 0;
    bool budget_hit = false;
    int rc = rs_load(&s, o->scenario, o->sets, o->nsets, &d);
    fputs(sim_diag_text(&d), err);
    if (rc != 0 || d.errors) {
        status = rc == SIM_ENOMEM ? 1 : 2;
        goto done;
    }
    uint64_t seed = o->have_seed ? o->seed : s.sc.seed;
    size_t nreps = (size_t)(o->reps > 0 ? o->reps : s.sc.replications);
    s.sc.replications = (int64_t)nreps;
    reps = calloc(nreps, sizeof *reps);
    if (!reps) {
        fprintf(err, "ragsim: error: out of memory\n");
        status = 1;
        goto done;
    }

    if (!o->no_trace) {
        trace_path = o->out ? strdup(o->out) : default_trace_path(o->scenario);
        char ebuf[512];
        int terr = 0;
        tr = trace_path ? sim_trace_create(trace_path, &terr, ebuf, sizeof ebuf) : NULL;
        if (!tr) {
            fprintf(err, "ragsim: error: cannot write the trace: %s\n", trace_path ? ebuf : "out of memory");
            status = 1;
            goto done;
        }
        if (write_header(tr, &s, seed) != 0) {
            fprintf(err, "ragsim: error: writing the trace header failed: %s\n", sim_trace_errmsg(tr));
            status = 1;
            goto done;
        }
    }

    rs_progress_t prog = {.err = err, .t0 = wall_now(), .reps = (uint32_t)nreps, .duration = s.sc.duration};
    rs_interrupted = 0;
    struct sigaction sa = {0}, old_int, old_term;
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, &old_int);
    sigaction(SIGTERM, &sa, &old_term);

    for (size_t r = 0; r < nreps && !rs_interrupted; r++) {
        prog.rep = (uint32_t)r;
        rs_result_t res;
        rc = rs_run_one(&s, (uint32_t)r, seed, o->max_events, o->progress ? &prog : NULL, &res);
        if (rc == SIM_EBUDGET) {
            progress_clear(o->progress ? &prog : NULL);
            fprintf(err, "ragsim: error: replication %zu stopped after %llu events at t = %.6g s: the event "
                         "budget (--max-events %llu) is exhausted; raise it with --max-events N or 0 for no limit\n",
                    r, (unsigned long long)sim_events_processed(res.sim), sim_time_to_s(sim_now(res.sim)),
                    (unsigned long long)o->max_events);
            budget_hit = true;
        } else if (rc == SIM_EINTERRUPTED) {
            rs_result_free(&res);
            break;
        } else if (rc != 0) {
            progress_clear(o->progress ? &prog : NULL);
            fprintf(err, "ragsim: error: replication %zu failed: %s\n", r, sim_strerror(rc));
            rs_result_free(&res);
            status = 1;
            break;
        }
        rs_report_init(&reps[r]);
        s.model->report(res.inst, &reps[r]);
        nreports++;
        if (r == 0 && summary_init(&summ, &reps[0]) != 0) status = 1;
        if (status == 0 && summary_add(&summ, &res, &reps[r]) != 0) status = 1;
        if (status == 0 && tr && write_run(tr, &s, &res) != 0) {
            fprintf(err, "ragsim: error: writing replication %zu to the trace failed: %s\n", r, sim_trace_errmsg(tr));
            status = 1;
        }
        rs_result_free(&res);
        if (status || budget_hit) break;
    }
    sigaction(SIGINT, &old_int, NULL);
    sigaction(SIGTERM, &old_term, NULL);
    progress_clear(o->progress ? &prog : NULL);
    if (rs_interrupted && status == 0) {
        fprintf(err, "ragsim: interrupted after %zu of %zu replications; the trace was not written\n",
                nreports, nreps);
        status = 1;
    }
    if (status == 0 && tr) {
        /* A run stopped by the budget is kept, and the trace says it is incomplete. */
        char ebuf[512];
        if (sim_trace_attr_i64(tr, "/", "complete", !budget_hit) != 0 || sim_trace_table(tr, "/summary", &summ) != 0) {
            fprintf(err, "ragsim: error: writing the summary table failed: %s\n", sim_trace_errmsg(tr));
            status = 1;
        } else if (sim_trace_commit(tr, ebuf, sizeof ebuf) != 0) {
            tr = NULL;
            fprintf(err, "ragsim: error: %s\n", ebuf);
            status = 1;
        } else {
            tr = NULL;
        }
    }
    if (status == 0 && budget_hit) {
        if (trace_path && !o->no_trace) fprintf(err, "ragsim: the trace %s holds the runs so far, marked incomplete\n", trace_path);
        status = 1;
    } else if (status == 0 && !o->quiet && nreports > 0) {
        print_summary(out, &s, reps, nreports, seed, o->no_trace ? NULL : trace_path);
    }
done:
    sim_trace_abort(tr);
    for (size_t r = 0; r < nreports; r++) rs_report_fini(&reps[r]);
    free(reps);
    sim_table_fini(&summ);
    free(trace_path);
    rs_unload(&s);
    sim_diag_fini(&d);
    return status;
}
