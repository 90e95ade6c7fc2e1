/* One replication (rs_run_one and its variants): the sim and the model
 * built and run to the scenario's duration under the run's budgets, the
 * progress bar, the series sink that keeps (or spills into the trace) what
 * the run needs of its time series, and the run's figures (rs_report_run:
 * the model's report plus the incident metrics and peaks). Calls sim/, the
 * model through models/model.h, experiment/incident.h and the runner's
 * internals (runner_internal.h). */
#include "experiment/runner.h"

#include <assert.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "experiment/incident.h"
#include "experiment/runner_internal.h"
#include "sim/error.h"
#include "sim/trace.h"
#include "sim/units.h"

/* ---- progress bar -------------------------------------------------------- */

static void progress_draw(rs_progress_t *p, const sim_t *sim, bool force)
{
    double now = rs_wall_now();
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

void rs_progress_clear(rs_progress_t *p)
{
    if (p && p->drawn) {
        fprintf(p->err, "\r%*s\r", 79, "");
        fflush(p->err);
    }
}

/* ---- budgets --------------------------------------------------------------- */

const char *rs_limit_name(rs_limit_t l)
{
    switch (l) {
    case RS_LIMIT_EVENTS: return "event budget exhausted";
    case RS_LIMIT_PENDING: return "pending-event budget exhausted";
    case RS_LIMIT_INFLIGHT: return "in-flight request budget exhausted";
    case RS_LIMIT_MEMORY: return "memory budget exhausted";
    default: return "no budget";
    }
}

static void fmt_bytes(char *buf, size_t n, uint64_t v)
{
    static const char *const u[] = {"B", "KiB", "MiB", "GiB", "TiB"};
    double x = (double)v;
    int i = 0;
    while (i < 4 && x >= 1024) {
        x /= 1024;
        i++;
    }
    if (i == 0) snprintf(buf, n, "%llu B", (unsigned long long)v);
    else snprintf(buf, n, "%.3g %s", x, u[i]);
}

void rs_limit_message(const rs_result_t *r, char *buf, size_t n)
{
    char a[32], b[32];
    switch (r->limit) {
    case RS_LIMIT_EVENTS:
        snprintf(buf, n, "the event budget (--max-events %llu) is exhausted; raise it with --max-events N or 0 for no limit",
                 (unsigned long long)r->limit_value);
        break;
    case RS_LIMIT_PENDING:
        snprintf(buf, n, "the pending-event budget (--max-pending %llu) is exhausted (%llu events pending); "
                         "raise it with --max-pending N or 0 for no limit",
                 (unsigned long long)r->limit_value, (unsigned long long)r->limit_seen);
        break;
    case RS_LIMIT_INFLIGHT:
        snprintf(buf, n, "the in-flight request budget (--max-inflight %llu) is exhausted (%llu requests in the system); "
                         "raise it with --max-inflight N or 0 for no limit",
                 (unsigned long long)r->limit_value, (unsigned long long)r->limit_seen);
        break;
    case RS_LIMIT_MEMORY:
        fmt_bytes(a, sizeof a, r->limit_value);
        fmt_bytes(b, sizeof b, r->limit_seen);
        snprintf(buf, n, "the memory budget (--max-memory %s) is exhausted (about %s held by the run); "
                         "raise it with --max-memory SIZE (e.g. 16GiB) or 0 for no limit",
                 a, b);
        break;
    default: snprintf(buf, n, "no budget was exhausted"); break;
    }
}

/* ---- the run's time series ----------------------------------------------- */

/* What a run keeps of its time series, taken from the engine block by
 * block (sim_set_series_sink) so that a long run does not hold every
 * column in memory: per sample, the inputs of the incident metrics (time,
 * success + degraded, everything that ended, p95: 32 bytes, against 8 per
 * column for the whole series); the peaks; and, when the run writes a
 * trace and its series are large, the series themselves, appended to the
 * trace as they come ("spilled"). */
typedef struct rs_series_out series_out_t;
struct rs_series_out {
    const model_type_t *model;
    int ok_col[MODEL_MAX_INCIDENT_SERIES], end_col[MODEL_MAX_INCIDENT_SERIES], p95_col;
    int peak_col[MODEL_MAX_PEAKS];
    size_t nok, nend, npeaks;
    double *t, *ok, *ended, *p95;
    size_t n, cap;
    double peak[MODEL_MAX_PEAKS];
    sim_trace_t *trace;         /* spilled into this trace ... */
    sim_trace_series_out_t *out; /* ... through these datasets (open while the run goes) */
    const double **cols;        /* the engine's columns of the block being appended */
};

/* Rows per block: a run without a trace keeps this many samples of every
 * column; a spilled run appends them as one chunk's worth of samples. */
#define SERIES_BLOCK_ROWS 64
#define SERIES_SPILL_ROWS 1024
/* A traced run spills when its series will be at least this long: the
 * size from which the trace compresses a dataset (16 KiB of doubles).
 * Shorter ones are held and written after the run, contiguous. */
#define SERIES_SPILL_MIN_ROWS 2048

static int series_sink(void *ctx, const sim_t *sim, size_t first, size_t rows)
{
    series_out_t *so = ctx;
    (void)first;
    if (so->n + rows > so->cap) {
        size_t nc = so->cap ? so->cap : 1024;
        while (nc < so->n + rows) nc *= 2;
        double **arr[] = {&so->t, &so->ok, &so->ended, &so->p95};
        for (size_t k = 0; k < sizeof arr / sizeof *arr; k++) {
            double *q = realloc(*arr[k], nc * sizeof *q);
            if (!q) return SIM_ENOMEM;
            *arr[k] = q;
        }
        so->cap = nc;
    }
    const double *t = sim_series_times(sim);
    memcpy(so->t + so->n, t, rows * sizeof *t);
    /* sums skip NaN (a column without a value this sample counts as 0) */
    double *ok = so->ok + so->n, *ended = so->ended + so->n;
    memset(ok, 0, rows * sizeof *ok);
    memset(ended, 0, rows * sizeof *ended);
    for (size_t k = 0; k < so->nok; k++) {
        if (so->ok_col[k] < 0) continue;
        const double *v = sim_series_data(sim, (size_t)so->ok_col[k]);
        for (size_t i = 0; i < rows; i++)
            if (!isnan(v[i])) ok[i] += v[i];
    }
    for (size_t k = 0; k < so->nend; k++) {
        if (so->end_col[k] < 0) continue;
        const double *v = sim_series_data(sim, (size_t)so->end_col[k]);
        for (size_t i = 0; i < rows; i++)
            if (!isnan(v[i])) ended[i] += v[i];
    }
    if (so->p95_col >= 0) memcpy(so->p95 + so->n, sim_series_data(sim, (size_t)so->p95_col), rows * sizeof(double));
    for (size_t k = 0; k < so->npeaks; k++) {
        if (so->peak_col[k] < 0) continue;
        const double *v = sim_series_data(sim, (size_t)so->peak_col[k]);
        for (size_t i = 0; i < rows; i++)
            if (v[i] > so->peak[k]) so->peak[k] = v[i];
    }
    so->n += rows;
    if (so->out) {
        for (size_t i = 0; i < sim_series_count(sim); i++) so->cols[i] = sim_series_data(sim, i);
        return sim_trace_series_append(so->out, t, so->cols, rows);
    }
    return 0;
}

static void series_out_free(series_out_t *so)
{
    if (!so) return;
    sim_trace_series_close(so->out);
    free(so->cols);
    free(so->t);
    free(so->ok);
    free(so->ended);
    free(so->p95);
    free(so);
}

/* Take the run's series through series_sink: spilled into `tr` when it is
 * given and the run will take at least SERIES_SPILL_MIN_ROWS samples;
 * held whole (and handed over at the end) when `tr` is given otherwise;
 * block by block without a trace. After the model has added its columns. */
static int series_out_attach(const rs_scenario_t *s, sim_t *sim, size_t variant, uint32_t rep,
                             sim_trace_t *tr, series_out_t **out)
{
    series_out_t *so = calloc(1, sizeof *so);
    *out = so;
    if (!so) return SIM_ENOMEM;
    const model_type_t *m = s->model;
    so->model = m;
    so->p95_col = -1;
    if (m->incident) {
        for (const char *const *q = m->incident->ok; q && *q; q++) {
            assert(so->nok < MODEL_MAX_INCIDENT_SERIES);
            so->ok_col[so->nok++] = rs_series_index(sim, *q);
        }
        for (const char *const *q = m->incident->ended; q && *q; q++) {
            assert(so->nend < MODEL_MAX_INCIDENT_SERIES);
            so->end_col[so->nend++] = rs_series_index(sim, *q);
        }
        if (m->incident->p95) so->p95_col = rs_series_index(sim, m->incident->p95);
    }
    for (const model_peak_t *p = m->peaks; p && p->series; p++) {
        assert(so->npeaks < MODEL_MAX_PEAKS);
        so->peak_col[so->npeaks++] = rs_series_index(sim, p->series);
    }
    if (s->sc.sample_interval <= 0) return 0;
    size_t block = SERIES_BLOCK_ROWS;
    if (tr) {
        sim_time_t rows = s->sc.duration / s->sc.sample_interval;
        block = 0;
        if (rows >= SERIES_SPILL_MIN_ROWS) {
            size_t nc = sim_series_count(sim);
            const char **names = malloc((nc + 1) * sizeof *names), **units = malloc((nc + 1) * sizeof *units),
                       **helps = malloc((nc + 1) * sizeof *helps);
            so->cols = malloc((nc + 1) * sizeof *so->cols);
            int rc = SIM_ENOMEM;
            if (names && units && helps && so->cols) {
                for (size_t i = 0; i < nc; i++) {
                    names[i] = sim_series_name(sim, i);
                    units[i] = sim_series_unit(sim, i);
                    helps[i] = sim_series_help(sim, i);
                }
                char g[512];
                rs_run_group(g, sizeof g - 16, s, variant, rep);
                strcat(g, "/timeseries");
                so->out = sim_trace_series_open(tr, g, nc, names, units, helps, SERIES_SPILL_ROWS, &rc);
            }
            free(names);
            free(units);
            free(helps);
            if (!so->out) return rc;
            so->trace = tr;
            block = SERIES_SPILL_ROWS;
        }
    }
    return sim_set_series_sink(sim, series_sink, so, block);
}

const sim_trace_t *rs_series_spilled(const rs_result_t *r)
{
    return r->series ? r->series->trace : NULL;
}

/* After the run: hand over the last samples and close the spilled datasets. */
static int series_out_finish(sim_t *sim, series_out_t *so)
{
    if (!so) return 0;
    int rc = sim_series_flush(sim);
    int rc2 = sim_trace_series_close(so->out);
    so->out = NULL;
    return rc ? rc : rc2;
}

/* ---- one run --------------------------------------------------------------- */

typedef struct {
    const rs_scenario_t *s;
    const void *inst;
    const series_out_t *so;
    uint64_t max_pending, max_inflight, max_memory;
    rs_limit_t hit;
    uint64_t seen;
} budget_ctx_t;

static uint64_t budget_or_default(uint64_t v, uint64_t def) { return v ? v : def; }

/* Every 65536 events: pending events, requests in flight and the memory
 * held by the engine, the model (every structure of it that grows with
 * the run: model_type_t.usage) and the runner against the run's budgets. */
static int budget_check(void *ctx, const sim_t *sim)
{
    budget_ctx_t *b = ctx;
    uint64_t pending = sim_pending(sim), inflight = 0, bytes = 0;
    if (b->s->model->usage && b->inst) b->s->model->usage(b->inst, &inflight, &bytes);
    bytes += sim_memory_bytes(sim);
    /* what the runner keeps of the series (the incident metrics' inputs) */
    if (b->so) bytes += b->so->cap * 4 * sizeof(double);
    if (pending > b->max_pending) {
        b->hit = RS_LIMIT_PENDING;
        b->seen = pending;
    } else if (inflight > b->max_inflight) {
        b->hit = RS_LIMIT_INFLIGHT;
        b->seen = inflight;
    } else if (bytes > b->max_memory) {
        b->hit = RS_LIMIT_MEMORY;
        b->seen = bytes;
    }
    return b->hit != RS_LIMIT_NONE;
}

static int run_one(const rs_scenario_t *s, size_t variant, uint32_t rep, uint64_t seed, uint64_t max_events,
                   rs_progress_t *progress, sim_progress_fn hook, void *hook_ctx, sim_trace_t *tr,
                   rs_result_t *out)
{
    memset(out, 0, sizeof *out);
    out->variant = variant;
    out->replication = rep;
    out->seed = seed;
    sim_config_t cfg = {
        .master_seed = seed,
        .replication = rep,
        .sample_interval = s->sc.sample_interval,
        .warmup = s->sc.warmup,
        .max_events = max_events,
        .horizon = s->sc.duration,
    };
    double w0 = rs_wall_now();
    out->sim = sim_create(&cfg);
    if (!out->sim) return SIM_ENOMEM;
    if (progress) sim_set_progress(out->sim, progress_cb, progress);
    else if (hook) sim_set_progress(out->sim, hook, hook_ctx);
    sim_set_interrupt(out->sim, &rs_interrupted);
    sim_log_event(out->sim, "run_start", s->variants[variant].name, (double)rep, s->sc.name);
    out->model = s->model;
    out->inst = s->model->create(out->sim, s->variants[variant].spec);
    if (!out->inst) return SIM_ENOMEM;
    int src = series_out_attach(s, out->sim, variant, rep, tr, &out->series);
    if (src) return src;
    budget_ctx_t b = {
        .s = s, .inst = out->inst, .so = out->series,
        .max_pending = budget_or_default(s->budget.max_pending, RS_DEFAULT_MAX_PENDING),
        .max_inflight = budget_or_default(s->budget.max_inflight, RS_DEFAULT_MAX_INFLIGHT),
        .max_memory = budget_or_default(s->budget.max_memory, RS_DEFAULT_MAX_MEMORY),
    };
    sim_set_limit(out->sim, budget_check, &b);
    out->end = sim_run(out->sim, s->sc.duration);
    sim_set_limit(out->sim, NULL, NULL);
    s->model->finish(out->inst);
    int serr = out->end == SIM_RUN_ERROR ? 0 : series_out_finish(out->sim, out->series);
    out->wall_seconds = rs_wall_now() - w0;
    if (out->end == SIM_RUN_ERROR) return sim_error(out->sim);
    if (serr) return serr;
    if (out->end == SIM_RUN_STOPPED) return SIM_EINTERRUPTED;
    if (out->end == SIM_RUN_BUDGET) {
        out->limit = RS_LIMIT_EVENTS;
        out->limit_value = max_events;
        out->limit_seen = sim_events_processed(out->sim);
    } else if (out->end == SIM_RUN_LIMIT) {
        out->limit = b.hit;
        out->limit_value = b.hit == RS_LIMIT_PENDING ? b.max_pending : b.hit == RS_LIMIT_INFLIGHT ? b.max_inflight : b.max_memory;
        out->limit_seen = b.seen;
    }
    char detail[128];
    snprintf(detail, sizeof detail, "%s after %llu events",
             out->limit != RS_LIMIT_NONE ? rs_limit_name(out->limit) : "end of run",
             (unsigned long long)sim_events_processed(out->sim));
    sim_log_event(out->sim, "run_end", "", sim_time_to_s(sim_now(out->sim)), detail);
    if (progress) progress->events_done += sim_events_processed(out->sim);
    return out->limit != RS_LIMIT_NONE ? SIM_EBUDGET : 0;
}

int rs_run_one(const rs_scenario_t *s, size_t variant, uint32_t rep, uint64_t seed, uint64_t max_events,
               rs_progress_t *progress, rs_result_t *out)
{
    return run_one(s, variant, rep, seed, max_events, progress, NULL, NULL, NULL, out);
}

int rs_run_one_traced(const rs_scenario_t *s, size_t variant, uint32_t rep, uint64_t seed, uint64_t max_events,
                      rs_progress_t *progress, sim_trace_t *tr, rs_result_t *out)
{
    return run_one(s, variant, rep, seed, max_events, progress, NULL, NULL, tr, out);
}

int rs_run_one_traced_hook(const rs_scenario_t *s, size_t variant, uint32_t rep, uint64_t seed, uint64_t max_events,
                           sim_progress_fn hook, void *ctx, sim_trace_t *tr, rs_result_t *out)
{
    return run_one(s, variant, rep, seed, max_events, NULL, hook, ctx, tr, out);
}

int rs_run_one_hook(const rs_scenario_t *s, size_t variant, uint32_t rep, uint64_t seed, uint64_t max_events,
                    sim_progress_fn hook, void *ctx, rs_result_t *out)
{
    return run_one(s, variant, rep, seed, max_events, NULL, hook, ctx, NULL, out);
}

void rs_result_free(rs_result_t *r)
{
    if (r->inst) r->model->destroy(r->inst);
    series_out_free(r->series);
    sim_destroy(r->sim);
    memset(r, 0, sizeof *r);
}

/* ---- incident metrics ------------------------------------------------------------ */

void rs_report_run(const rs_scenario_t *s, const rs_result_t *r, rs_report_t *rep)
{
    s->model->report(r->inst, rep);
    const series_out_t *so = r->series;
    if (!so || so->n == 0) return;
    inc_input_t in = {
        .t = so->t, .n = so->n, .dt = sim_time_to_s(s->sc.sample_interval),
        .ok = so->ok, .ended = so->ended, .p95 = so->p95_col >= 0 ? so->p95 : NULL,
        .slo_success = s->slo_success, .slo_p95 = s->slo_p95, .window = 60,
        .trigger_start = s->trigger_start, .trigger_end = s->trigger_end,
        .recover_fraction = 0.95, .recover_hold = 30,
    };
    inc_result_t res;
    if (inc_compute(&in, &res) == 0) {
        rs_report_add(rep, "summary", "", INC_WORST_WINDOW_SUCCESS, RS_RATIO, res.worst_window_success);
        rs_report_add(rep, "summary", "", INC_TIME_BELOW_SLO, RS_SECONDS, res.time_below_slo);
        if (!isnan(s->trigger_end)) {
            rs_report_add(rep, "summary", "", INC_RECOVERY_TIME, RS_SECONDS, res.recovery_time);
            rs_report_add(rep, "summary", "", INC_RECOVERED, RS_RATIO, res.recovered ? 1 : 0);
            rs_report_add(rep, "summary", "", INC_PRE_TRIGGER_SLO_MET, RS_RATIO, res.pre_trigger_slo_met);
        }
    }
    /* peaks of the model's series, when the run has them */
    for (size_t i = 0; i < so->npeaks; i++)
        if (so->peak_col[i] >= 0) {
            const model_peak_t *p = &so->model->peaks[i];
            rs_report_add(rep, "summary", "", p->metric, p->kind, so->peak[i]);
        }
}
