#include "experiment/runner.h"

#include <assert.h>
#include <errno.h>
#include <libgen.h>
#include <math.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "experiment/compare.h"
#include "experiment/incident.h"
#include "sim/error.h"
#include "sim/stats.h"
#include "sim/trace.h"
#include "sim/units.h"


/* ---- loading ------------------------------------------------------------- */

static const char *const variant_reserved[] = {"extends", "baseline", "description", NULL};
static const char *const run_keys[] = {"name", "description", "duration", "warmup", "seed", "replications",
                                       "sample_interval", "variants", "slo", "trigger", "compare", NULL};
static const char *const skip_variants[] = {"variants", NULL};

int rs_variant_find(const rs_scenario_t *s, const char *name)
{
    for (size_t i = 0; i < s->nvariants; i++)
        if (!strcmp(s->variants[i].name, name)) return (int)i;
    return -1;
}

/* The `variants` mapping: names, extends chains (no cycles), the baseline. */
static int resolve_variants(rs_scenario_t *s, sim_cfg_node_t *root, sim_diag_t *d,
                            const sim_cfg_node_t ***chains, size_t **chain_len)
{
    int errs = d->errors;
    sim_cfg_node_t *vars = sim_cfg_get(root, "variants");
    if (!vars || sim_cfg_is_null(vars)) {
        s->variants = calloc(1, sizeof *s->variants);
        *chains = calloc(1, sizeof **chains);
        *chain_len = calloc(1, sizeof **chain_len);
        if (!s->variants || !*chains || !*chain_len) return SIM_ENOMEM;
        s->variants[0].name = "default";
        s->nvariants = 1;
        return 0;
    }
    if (!sim_cfg_expect_map(d, vars, "variants")) return SIM_ECONFIG;
    if (vars->n == 0) {
        sim_cfg_error(d, vars, "'variants' is empty: name at least one (e.g. variants: {naive: {}})");
        return SIM_ECONFIG;
    }
    size_t n = vars->n;
    s->variants = calloc(n, sizeof *s->variants);
    *chains = calloc(n * n, sizeof **chains);
    *chain_len = calloc(n, sizeof **chain_len);
    int *parent = malloc(n * sizeof *parent);
    if (!s->variants || !*chains || !*chain_len || !parent) {
        free(parent);
        return SIM_ENOMEM;
    }
    s->nvariants = n;
    int marked = -1;
    for (size_t i = 0; i < n; i++) {
        sim_cfg_node_t *v = vars->vals[i];
        sim_cfg_touch(v);
        s->variants[i].name = vars->keys[i]->text;
        parent[i] = -1;
        if (sim_cfg_is_null(v)) continue;
        if (!sim_cfg_expect_map(d, v, "variant")) continue;
        const char *ext = NULL;
        bool base = false;
        sim_cfg_string(d, v, "extends", 0, NULL, &ext);
        sim_cfg_bool(d, v, "baseline", 0, false, &base);
        sim_cfg_string(d, v, "description", 0, "", &s->variants[i].description);
        for (size_t k = 0; run_keys[k]; k++) {
            if (!strcmp(run_keys[k], "description")) continue;   /* a variant's own description */
            sim_cfg_node_t *bad = NULL;
            for (size_t j = 0; j < v->n; j++)
                if (!strcmp(v->keys[j]->text, run_keys[k])) bad = v->keys[j];
            if (bad)
                sim_cfg_error(d, bad, "variant '%s' sets '%s': variants change the model, not the run "
                                      "(every variant runs with the top-level %s)",
                              s->variants[i].name, run_keys[k], run_keys[k]);
        }
        if (base) {
            if (marked >= 0)
                sim_cfg_error(d, sim_cfg_get(v, "baseline"), "two variants are marked 'baseline: true' ('%s' and '%s')",
                              s->variants[marked].name, s->variants[i].name);
            marked = (int)i;
        }
        if (ext) {
            int p = -1;
            for (size_t j = 0; j < n; j++)
                if (!strcmp(vars->keys[j]->text, ext)) p = (int)j;
            if (p < 0) {
                const char *cands[256];
                size_t nc = 0;
                for (size_t j = 0; j < n && nc < 256; j++) cands[nc++] = vars->keys[j]->text;
                const char *best = sim_cfg_closest(ext, cands, nc);
                if (best) sim_cfg_error(d, sim_cfg_get(v, "extends"), "variant '%s' extends '%s', which is not a variant (did you mean '%s'?)", s->variants[i].name, ext, best);
                else sim_cfg_error(d, sim_cfg_get(v, "extends"), "variant '%s' extends '%s', which is not a variant", s->variants[i].name, ext);
            } else {
                parent[i] = p;
            }
        }
    }
    if (d->errors == errs) {
        /* chains, root first; a cycle is an error at the variant that closes it */
        for (size_t i = 0; i < n; i++) {
            size_t len = 0;
            int cur = (int)i;
            /* an acyclic chain has at most n links: one more is a cycle
             * (and must not be stored: the row holds n) */
            while (cur >= 0 && len < n) {
                (*chains)[i * n + len++] = vars->vals[cur];
                cur = parent[cur];
            }
            if (cur >= 0) {
                char path[512];
                size_t k = 0;
                cur = (int)i;
                for (size_t j = 0; j <= n && k < sizeof path; j++) {
                    k += (size_t)snprintf(path + k, sizeof path - k, "%s%s", j ? " -> " : "", s->variants[cur].name);
                    cur = parent[cur];
                    if (cur == (int)i) {
                        if (k < sizeof path) snprintf(path + k, sizeof path - k, " -> %s", s->variants[i].name);
                        break;
                    }
                }
                sim_cfg_error(d, sim_cfg_get(vars->vals[i], "extends"), "cyclic 'extends': %s", path);
                break;
            }
            /* reverse: root first */
            for (size_t a = 0, b = len - 1; a < b; a++, b--) {
                const sim_cfg_node_t *t = (*chains)[i * n + a];
                (*chains)[i * n + a] = (*chains)[i * n + b];
                (*chains)[i * n + b] = t;
            }
            (*chain_len)[i] = len;
        }
    }
    s->baseline = marked >= 0 ? (size_t)marked : 0;
    free(parent);
    return d->errors == errs ? 0 : SIM_ECONFIG;
}

static void parse_analysis(rs_scenario_t *s, sim_cfg_node_t *root, sim_diag_t *d)
{
    s->slo_success = 0.99;
    s->slo_p95 = INFINITY;
    s->trigger_start = s->trigger_end = NAN;
    sim_cfg_node_t *slo = sim_cfg_get(root, "slo");
    if (slo && sim_cfg_expect_map(d, slo, "slo")) {
        sim_cfg_ratio(d, slo, "success_ratio", 0, s->slo_success, &s->slo_success);
        sim_time_t p = 0;
        sim_cfg_duration(d, slo, "latency_p95", SIM_CFG_POSITIVE | SIM_CFG_UNBOUNDED, SIM_TIME_MAX, &p);
        s->slo_p95 = p == SIM_TIME_MAX ? INFINITY : sim_time_to_s(p);
    }
    sim_cfg_node_t *cmp = sim_cfg_get(root, "compare");
    if (cmp && sim_cfg_expect_map(d, cmp, "compare")) {
        sim_cfg_node_t *m = sim_cfg_get(cmp, "metrics");
        if (m && sim_cfg_expect_seq(d, m, "metrics")) {
            s->compare_metrics = calloc(m->n ? m->n : 1, sizeof *s->compare_metrics);
            for (size_t i = 0; s->compare_metrics && i < m->n; i++)
                if (sim_cfg_string_node(d, m->vals[i], &s->compare_metrics[s->ncompare_metrics]) == 0)
                    s->ncompare_metrics++;
        }
    }
    sim_cfg_node_t *tr = sim_cfg_get(root, "trigger");
    if (tr && sim_cfg_expect_map(d, tr, "trigger")) {
        sim_time_t a = 0, b = 0;
        if (sim_cfg_duration(d, tr, "start", SIM_CFG_REQUIRED, 0, &a) == 0 &&
            sim_cfg_duration(d, tr, "end", SIM_CFG_REQUIRED, 0, &b) == 0) {
            if (b < a) sim_cfg_error(d, sim_cfg_get(tr, "end"), "'trigger.end' is before 'trigger.start'");
            s->trigger_start = sim_time_to_s(a);
            s->trigger_end = sim_time_to_s(b);
        }
    }
}

static int check_compare_metrics(const rs_scenario_t *s, sim_cfg_node_t *root, sim_diag_t *d);

int rs_load(rs_scenario_t *s, const char *path, const char *const *sets, size_t nsets,
            sim_diag_t *d)
{
    memset(s, 0, sizeof *s);
    s->path = path;
    s->cfg = sim_cfg_load_file(path, d);
    if (!s->cfg) return SIM_ECONFIG;
    int errs = d->errors, rc;
    for (size_t i = 0; i < nsets; i++) sim_cfg_set(s->cfg, sets[i], d);
    if (d->errors != errs) return SIM_ECONFIG;
    sim_cfg_node_t *root = sim_cfg_root(s->cfg);
    sim_scenario_parse(d, root, &s->sc);
    parse_analysis(s, root, d);
    sim_cfg_check_unused_node(sim_cfg_get(root, "slo"), d);
    sim_cfg_check_unused_node(sim_cfg_get(root, "trigger"), d);
    sim_cfg_check_unused_node(sim_cfg_get(root, "compare"), d);
    s->model = model_find(d, root);
    const sim_cfg_node_t **chains = NULL;
    size_t *chain_len = NULL;
    rc = resolve_variants(s, root, d, &chains, &chain_len);
    /* go on after errors in the run parameters: the model's errors and the
     * unknown keys are reported too (each once: the diagnostics drop repeats) */
    if (rc != 0 || !s->model) goto out;
    for (size_t i = 0; i < s->nvariants; i++) {
        rs_variant_t *v = &s->variants[i];
        v->root = sim_cfg_overlay(s->cfg, root, skip_variants, chains + i * s->nvariants, chain_len[i],
                                  variant_reserved);
        v->spec = calloc(1, s->model->spec_size);
        if (!v->root || !v->spec) {
            rc = SIM_ENOMEM;
            goto out;
        }
        /* the run keys were read (and their unknown sub-keys checked) on the
         * base tree: mark their copies */
        for (size_t k = 0; run_keys[k]; k++) {
            sim_cfg_node_t *x = sim_cfg_get(v->root, run_keys[k]);
            if (x) sim_cfg_touch_all(x);
        }
        sim_cfg_get(v->root, "model");
        /* each variant into a diag of its own: the model's parse counts its
         * errors, which must rise even for a message an earlier variant
         * already reported (the merge drops the repeat) */
        sim_diag_t vd;
        sim_diag_init(&vd);
        vd.max_errors = 0;
        rc = s->model->parse(&vd, v->root, &s->sc, v->spec);
        sim_cfg_check_unused_node(v->root, &vd);
        sim_diag_merge(d, &vd);
        sim_diag_fini(&vd);
        if (rc == SIM_ENOMEM) goto out;
    }
    rc = 0;
    if (d->errors != errs) {
        rc = SIM_ECONFIG;
        goto out;
    }
    s->spec = s->variants[s->baseline].spec;
    size_t len = 0;
    if (sim_cfg_emit(s->cfg, &s->yaml, &len) != 0) {
        rc = SIM_ENOMEM;
        goto out;
    }
    for (size_t i = 0; i < s->nvariants; i++) {
        rs_variant_t *v = &s->variants[i];
        if (sim_cfg_emit_node(v->root, &v->yaml, &len) != 0) {
            rc = SIM_ENOMEM;
            goto out;
        }
        if (s->model->check) s->model->check(v->spec, &s->sc, v->root, d);
    }
    if (isnan(s->trigger_start) && s->model->trigger) {
        double a, b;
        if (s->model->trigger(s->spec, &a, &b)) {
            s->trigger_start = a;
            s->trigger_end = b;
        }
    }
    if (s->ncompare_metrics > 0 && d->errors == errs) rc = check_compare_metrics(s, root, d);
out:
    free(chains);
    free(chain_len);
    if (rc == 0 && d->errors != errs) rc = SIM_ECONFIG;
    return rc;
}

void rs_unload(rs_scenario_t *s)
{
    for (size_t i = 0; s->variants && i < s->nvariants; i++) {
        if (s->variants[i].spec && s->model) s->model->spec_fini(s->variants[i].spec);
        free(s->variants[i].spec);
        free(s->variants[i].yaml);
    }
    free(s->variants);
    free(s->compare_metrics);
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

static int series_index(const sim_t *sim, const char *name)
{
    for (size_t i = 0; i < sim_series_count(sim); i++)
        if (!strcmp(sim_series_name(sim, i), name)) return (int)i;
    return -1;
}

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

/* The run's /runs/<variant>/rep<NNN> group. */
static void run_group(char *buf, size_t n, const rs_scenario_t *s, size_t variant, uint32_t rep)
{
    snprintf(buf, n, "/runs/%s/rep%03u", s->variants[variant].name, rep);
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
            so->ok_col[so->nok++] = series_index(sim, *q);
        }
        for (const char *const *q = m->incident->ended; q && *q; q++) {
            assert(so->nend < MODEL_MAX_INCIDENT_SERIES);
            so->end_col[so->nend++] = series_index(sim, *q);
        }
        if (m->incident->p95) so->p95_col = series_index(sim, m->incident->p95);
    }
    for (const model_peak_t *p = m->peaks; p && p->series; p++) {
        assert(so->npeaks < MODEL_MAX_PEAKS);
        so->peak_col[so->npeaks++] = series_index(sim, p->series);
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
                run_group(g, sizeof g - 16, s, variant, rep);
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
    uint64_t max_pending, max_inflight, max_memory;
    rs_limit_t hit;
    uint64_t seen;
} budget_ctx_t;

static uint64_t budget_or_default(uint64_t v, uint64_t def) { return v ? v : def; }

/* Every 65536 events: pending events, requests in flight and the memory
 * held by the engine and the model against the run's budgets. */
static int budget_check(void *ctx, const sim_t *sim)
{
    budget_ctx_t *b = ctx;
    uint64_t pending = sim_pending(sim), inflight = 0, bytes = 0;
    if (b->s->model->usage && b->inst) b->s->model->usage(b->inst, &inflight, &bytes);
    bytes += sim_memory_bytes(sim);
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
    double w0 = wall_now();
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
        .s = s, .inst = out->inst,
        .max_pending = budget_or_default(s->budget.max_pending, RS_DEFAULT_MAX_PENDING),
        .max_inflight = budget_or_default(s->budget.max_inflight, RS_DEFAULT_MAX_INFLIGHT),
        .max_memory = budget_or_default(s->budget.max_memory, RS_DEFAULT_MAX_MEMORY),
    };
    sim_set_limit(out->sim, budget_check, &b);
    out->end = sim_run(out->sim, s->sc.duration);
    sim_set_limit(out->sim, NULL, NULL);
    s->model->finish(out->inst);
    int serr = out->end == SIM_RUN_ERROR ? 0 : series_out_finish(out->sim, out->series);
    out->wall_seconds = wall_now() - w0;
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

/* ---- summary rows ---------------------------------------------------------- */

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
        int c = e->kind == RS_COUNT ? sim_table_col_i64(t, e->col, rs_kind_unit(e->kind))
                                    : sim_table_col_f64(t, e->col, rs_kind_unit(e->kind));
        if (c < 0) return SIM_ENOMEM;
    }
    return 0;
}

static int summary_add(sim_table_t *t, const char *variant, const rs_result_t *r, const rs_report_t *rep)
{
    unsigned char *row = sim_table_append(t);
    if (!row) return SIM_ENOMEM;
    sim_row_str(t, row, 0, variant);
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
    const rs_variant_t *v = &s->variants[r->variant];
    snprintf(g, sizeof g, "/runs/%s", v->name);
    int rc = 0;
    if (r->replication == 0) {
        rc |= sim_trace_group(tr, g);
        rc |= sim_trace_attr_str(tr, g, "scenario_yaml", v->yaml);
        rc |= sim_trace_attr_str(tr, g, "description", v->description ? v->description : "");
        rc |= sim_trace_attr_i64(tr, g, "baseline", r->variant == s->baseline);
    }
    run_group(g, sizeof g, s, r->variant, r->replication);
    rc |= sim_trace_group(tr, g);
    rc |= sim_trace_attr_i64(tr, g, "seed", (int64_t)r->seed);
    rc |= sim_trace_attr_i64(tr, g, "replication", r->replication);
    rc |= sim_trace_attr_i64(tr, g, "events_processed", (int64_t)sim_events_processed(r->sim));
    rc |= sim_trace_attr_f64(tr, g, "sim_seconds", sim_time_to_s(sim_now(r->sim)));
    rc |= sim_trace_attr_f64(tr, g, "wall_seconds", r->wall_seconds);
    rc |= sim_trace_attr_i64(tr, g, "complete", r->end == SIM_RUN_TIME || r->end == SIM_RUN_EMPTY);
    const sim_t *sim = r->sim;
    if (r->series && r->series->trace) {
        /* spilled while the run went on, into the trace given to the run
         * (another trace would lack them: a caller's mistake) */
        if (r->series->trace != tr) return SIM_EINVAL;
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

static int write_header(sim_trace_t *tr, const rs_scenario_t *s, uint64_t seed)
{
    size_t srclen = 0;
    const char *src = sim_cfg_source(s->cfg, &srclen);
    int rc = 0;
    rc |= sim_trace_attr_str(tr, "/", "format", "ragsim-trace");
    rc |= sim_trace_attr_i64(tr, "/", "format_version", 2);
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

void rs_format_value(char *buf, size_t n, rs_kind_t kind, double mean, double hw)
{
    fmt_value(buf, n, kind, mean, hw);
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
static void on_signal(int sig) { rs_interrupted = sig; }

char *rs_default_output(const char *scenario)
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
        if (s.nvariants > 1) {
            fprintf(out, "variants:");
            for (size_t i = 0; i < s.nvariants; i++)
                fprintf(out, " %s%s", s.variants[i].name, i == s.baseline ? " (baseline)" : "");
            fprintf(out, "\n");
        }
        if (s.model->describe) s.model->describe(s.spec, out);
        if (d.warnings) fprintf(out, "%d warning%s (see above)\n", d.warnings, d.warnings == 1 ? "" : "s");
    }
    rs_unload(&s);
    sim_diag_fini(&d);
    return status;
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
        }
    }
    /* peaks of the model's series, when the run has them */
    for (size_t i = 0; i < so->npeaks; i++)
        if (so->peak_col[i] >= 0) {
            const model_peak_t *p = &so->model->peaks[i];
            rs_report_add(rep, "summary", "", p->metric, p->kind, so->peak[i]);
        }
}

/* `compare.metrics` must name metrics the runs will report: the baseline's
 * summary entries (from a model instance that has not run: the names do
 * not depend on the run), the incident metrics and the peaks of the series
 * the model has. An unknown name is a scenario error at its position. */
static int check_compare_metrics(const rs_scenario_t *s, sim_cfg_node_t *root, sim_diag_t *d)
{
    sim_config_t cfg = {.master_seed = s->sc.seed, .sample_interval = s->sc.sample_interval};
    sim_t *sim = sim_create(&cfg);
    void *inst = sim ? s->model->create(sim, s->spec) : NULL;
    const char **names = NULL;
    size_t n = 0;
    rs_report_t rep;
    rs_report_init(&rep);
    int rc = SIM_ENOMEM;
    if (!inst) goto out;
    s->model->report(inst, &rep);
    names = calloc(rep.n + 8 + MODEL_MAX_PEAKS, sizeof *names);
    if (!names) goto out;
    for (size_t i = 0; i < rep.n; i++)
        if (!strcmp(rep.e[i].section, "summary")) names[n++] = rep.e[i].col;
    names[n++] = INC_WORST_WINDOW_SUCCESS;
    names[n++] = INC_TIME_BELOW_SLO;
    if (!isnan(s->trigger_end)) {
        names[n++] = INC_RECOVERY_TIME;
        names[n++] = INC_RECOVERED;
    }
    for (const model_peak_t *p = s->model->peaks; p && p->series; p++)
        if (series_index(sim, p->series) >= 0) names[n++] = p->metric;
    sim_cfg_node_t *m = sim_cfg_get(sim_cfg_get(root, "compare"), "metrics");
    for (size_t k = 0; k < s->ncompare_metrics; k++) {
        bool known = false;
        for (size_t i = 0; i < n && !known; i++) known = !strcmp(names[i], s->compare_metrics[k]);
        if (known) continue;
        const char *best = sim_cfg_closest(s->compare_metrics[k], names, n);
        sim_cfg_node_t *at = m && k < m->n ? m->vals[k] : m;
        if (best)
            sim_cfg_error(d, at, "'%s' is not a metric of this scenario (did you mean '%s'?)", s->compare_metrics[k], best);
        else
            sim_cfg_error(d, at, "'%s' is not a metric of this scenario (see docs/compare.md)", s->compare_metrics[k]);
    }
    rc = 0;
out:
    free(names);
    rs_report_fini(&rep);
    if (inst) s->model->destroy(inst);
    sim_destroy(sim);
    return rc;
}

/* ---- commands ---------------------------------------------------------------- */

/* Which variants to run: all, or the comma-separated list (the baseline is
 * added for a comparison). Returns the count or -1 after reporting. */
static int select_variants(const rs_scenario_t *s, const char *list, bool need_baseline, size_t *sel, FILE *err)
{
    size_t n = 0;
    if (!list) {
        for (size_t i = 0; i < s->nvariants; i++) sel[n++] = i;
        return (int)n;
    }
    char *copy = strdup(list);
    if (!copy) return -1;
    for (char *tok = strtok(copy, ","); tok; tok = strtok(NULL, ",")) {
        int k = rs_variant_find(s, tok);
        if (k < 0) {
            const char *cands[256];
            size_t nc = 0;
            for (size_t i = 0; i < s->nvariants && nc < 256; i++) cands[nc++] = s->variants[i].name;
            const char *best = sim_cfg_closest(tok, cands, nc);
            fprintf(err, "ragsim: error: --variants: '%s' is not a variant of the scenario%s%s%s\n", tok,
                    best ? " (did you mean '" : "", best ? best : "", best ? "'?)" : "");
            free(copy);
            return -1;
        }
        bool dup = false;
        for (size_t i = 0; i < n; i++) dup |= sel[i] == (size_t)k;
        if (!dup) sel[n++] = (size_t)k;
    }
    free(copy);
    if (need_baseline) {
        bool has = false;
        for (size_t i = 0; i < n; i++) has |= sel[i] == s->baseline;
        if (!has) {
            memmove(sel + 1, sel, n * sizeof *sel);
            sel[0] = s->baseline;
            n++;
        }
    }
    return (int)n;
}

static int execute(const rs_opts_t *o, bool compare, FILE *out, FILE *err)
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
    size_t *sel = NULL, *nrep = NULL;
    size_t nreports_total = 0, nreports_cap = 0;
    bool budget_hit = false, summ_ready = false, handlers = false, committed = false;
    struct sigaction sa = {0}, old_int, old_term;
    size_t nreps = 0;
    int nsel = 0;
    int rc = rs_load(&s, o->scenario, o->sets, o->nsets, &d);
    fputs(sim_diag_text(&d), err);
    if (rc != 0 || d.errors) {
        status = rc == SIM_ENOMEM ? 1 : 2;
        goto done;
    }
    s.budget = o->budget;
    uint64_t seed = o->have_seed ? o->seed : s.sc.seed;
    nreps = (size_t)(o->reps > 0 ? o->reps : s.sc.replications);
    s.sc.replications = (int64_t)nreps;
    sel = calloc(s.nvariants + 1, sizeof *sel);
    nrep = calloc(s.nvariants, sizeof *nrep);
    if (!sel || !nrep) {
        status = 1;
        goto done;
    }
    nsel = select_variants(&s, o->variants, compare, sel, err);
    if (nsel < 0) {
        status = 2;
        goto done;
    }
    if (compare && s.nvariants < 2) {
        fprintf(err, "ragsim: error: %s has no variants to compare: add a 'variants' mapping (see docs/scenario-format.md)\n",
                o->scenario);
        status = 2;
        goto done;
    }
    if (compare && nsel < 2) {
        fprintf(err, "ragsim: error: --variants leaves only the baseline '%s': nothing to compare with\n",
                s.variants[s.baseline].name);
        status = 2;
        goto done;
    }
    if (compare && nreps < 2)
        fprintf(err, "ragsim: warning: with 1 replication there are no confidence intervals; use --reps N (N >= 2)\n");
    reps = calloc(s.nvariants * nreps, sizeof *reps);
    nreports_cap = reps ? s.nvariants * nreps : 0;
    if (!reps) {
        status = 1;
        goto done;
    }

    /* From here a signal stops the command cleanly: no temporary file is
     * left behind and an existing trace is left as it was. */
    rs_interrupted = 0;
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, &old_int);
    sigaction(SIGTERM, &sa, &old_term);
    handlers = true;

    if (!o->no_trace) {
        trace_path = o->out ? strdup(o->out) : rs_default_output(o->scenario);
        if (trace_path && !o->force && access(trace_path, F_OK) == 0) {
            fprintf(err, "ragsim: error: %s already exists; use --force to replace it (or -o another file)\n",
                    trace_path);
            status = 2;
            goto done;
        }
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

    rs_progress_t prog = {.err = err, .t0 = wall_now(), .reps = (uint32_t)(nreps * (size_t)nsel),
                          .duration = s.sc.duration};
    for (int vi = 0; vi < nsel && !status && !budget_hit && !rs_interrupted; vi++) {
        size_t v = sel[vi];
        for (size_t r = 0; r < nreps && !rs_interrupted; r++) {
            prog.rep = (uint32_t)((size_t)vi * nreps + r);
            rs_result_t res;
            rc = rs_run_one_traced(&s, v, (uint32_t)r, seed, o->max_events, o->progress ? &prog : NULL, tr, &res);
            if (rc == SIM_EBUDGET) {
                progress_clear(o->progress ? &prog : NULL);
                char why[512];
                rs_limit_message(&res, why, sizeof why);
                fprintf(err, "ragsim: error: variant '%s' replication %zu stopped after %llu events at t = %.6g s: %s\n",
                        s.variants[v].name, r, (unsigned long long)sim_events_processed(res.sim),
                        sim_time_to_s(sim_now(res.sim)), why);
                budget_hit = true;
            } else if (rc == SIM_EINTERRUPTED) {
                rs_result_free(&res);
                break;
            } else if (rc != 0) {
                progress_clear(o->progress ? &prog : NULL);
                fprintf(err, "ragsim: error: variant '%s' replication %zu failed: %s\n", s.variants[v].name, r,
                        rc == SIM_EHDF5 && tr ? sim_trace_errmsg(tr) : sim_strerror(rc));
                rs_result_free(&res);
                status = 1;
                break;
            }
            rs_report_t *rp = &reps[v * nreps + r];
            rs_report_init(rp);
            rs_report_run(&s, &res, rp);
            nrep[v]++;
            nreports_total++;
            if (!summ_ready) {
                if (summary_init(&summ, rp) != 0) status = 1;
                summ_ready = true;
            }
            if (status == 0 && summary_add(&summ, s.variants[v].name, &res, rp) != 0) status = 1;
            if (status == 0 && tr && write_run(tr, &s, &res) != 0) {
                fprintf(err, "ragsim: error: writing variant '%s' replication %zu to the trace failed: %s\n",
                        s.variants[v].name, r, sim_trace_errmsg(tr));
                status = 1;
            }
            rs_result_free(&res);
            if (status || budget_hit) break;
        }
    }
    progress_clear(o->progress ? &prog : NULL);
    if (rs_interrupted) goto done;

    /* the comparison */
    cmp_row_t *rows = NULL;
    size_t nrows = 0;
    if (status == 0 && !budget_hit && compare) {
        cmp_variant_t *cv = calloc((size_t)nsel, sizeof *cv);
        size_t base_pos = 0;
        for (int vi = 0; cv && vi < nsel; vi++) {
            cv[vi] = (cmp_variant_t){s.variants[sel[vi]].name, &reps[sel[vi] * nreps], nrep[sel[vi]]};
            if (sel[vi] == s.baseline) base_pos = (size_t)vi;
        }
        if (!cv || cmp_compute(cv, (size_t)nsel, base_pos, 0.95, s.model, &rows, &nrows) != 0) {
            fprintf(err, "ragsim: error: out of memory comparing the variants\n");
            status = 1;
        }
        free(cv);
        if (status == 0 && tr) {
            sim_table_t ct;
            if (cmp_table(rows, nrows, &ct) != 0 || sim_trace_table(tr, "/comparison", &ct) != 0) {
                fprintf(err, "ragsim: error: writing /comparison failed\n");
                status = 1;
            }
            sim_table_fini(&ct);
        }
    }

    if (status == 0 && tr && !rs_interrupted) {
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
            committed = true;   /* a signal from here on changes nothing: the work is done */
        }
    }
    if (status == 0 && budget_hit) {
        if (trace_path && !o->no_trace)
            fprintf(err, "ragsim: the trace %s holds the runs so far, marked incomplete\n", trace_path);
        status = 1;
    } else if (status == 0 && !o->quiet && nreports_total > 0) {
        if (compare) {
            fprintf(out, "scenario '%s': %zu variants x %zu replication%s of %g s (warm-up %g s), seed %llu, "
                         "common random numbers\n",
                    s.sc.name, (size_t)nsel, nreps, nreps == 1 ? "" : "s", sim_time_to_s(s.sc.duration),
                    sim_time_to_s(s.sc.warmup), (unsigned long long)seed);
            /* the scenario's choice of columns, or the key metrics it has that differ somewhere */
            const char *mets[64];
            size_t nm = 0;
            for (size_t k = 0; k < s.ncompare_metrics && nm < 64; k++) {
                bool present = false;
                for (size_t i = 0; i < nrows && !present; i++) present = !strcmp(rows[i].metric, s.compare_metrics[k]);
                if (present) mets[nm++] = s.compare_metrics[k];
                else fprintf(err, "ragsim: warning: compare.metrics: '%s' is not a metric of this scenario\n",
                             s.compare_metrics[k]);
            }
            bool chosen = nm > 0;
            for (const char *const *key = s.model->key_metrics; !chosen && key && *key; key++) {
                bool present = false, varies = false;
                double first = NAN;
                for (size_t i = 0; i < nrows; i++) {
                    if (strcmp(rows[i].metric, *key) != 0) continue;
                    if (!present) first = rows[i].mean;
                    present = true;
                    varies |= rows[i].mean != first || (rows[i].half_width > 0);
                }
                if (present && varies && nm < 7) mets[nm++] = *key;
            }
            cmp_print(out, rows, nrows, mets, nm, s.variants[s.baseline].name);
            if (!o->no_trace) fprintf(out, "\ntrace: %s (per-variant runs, /summary, /comparison)\n", trace_path);
        } else {
            for (int vi = 0; vi < nsel; vi++) {
                size_t v = sel[vi];
                if (s.nvariants > 1) fprintf(out, "%s== variant '%s'%s ==\n", vi ? "\n" : "", s.variants[v].name,
                                             v == s.baseline ? " (baseline)" : "");
                print_summary(out, &s, &reps[v * nreps], nrep[v], seed, NULL);
            }
            if (!o->no_trace) fprintf(out, "\ntrace: %s\n", trace_path);
        }
    }
    free(rows);
done:
    sim_trace_abort(tr);
    if (handlers) {
        sigaction(SIGINT, &old_int, NULL);
        sigaction(SIGTERM, &old_term, NULL);
        if (rs_interrupted && status == 0 && !committed) {
            int sig = (int)rs_interrupted;
            fprintf(err, "ragsim: interrupted by %s after %zu of %zu runs; nothing was written%s%s%s\n",
                    sig == SIGINT ? "SIGINT" : sig == SIGTERM ? "SIGTERM" : "a signal", nreports_total,
                    nreps * (size_t)nsel, trace_path ? " (" : "", trace_path ? trace_path : "",
                    trace_path ? " is as it was)" : "");
            status = 128 + sig;
        }
    }
    for (size_t i = 0; i < nreports_cap; i++) rs_report_fini(&reps[i]);
    free(reps);
    free(sel);
    free(nrep);
    sim_table_fini(&summ);
    free(trace_path);
    rs_unload(&s);
    sim_diag_fini(&d);
    return status;
}

int rs_cmd_run(const rs_opts_t *o, FILE *out, FILE *err) { return execute(o, false, out, err); }
int rs_cmd_compare(const rs_opts_t *o, FILE *out, FILE *err) { return execute(o, true, out, err); }
