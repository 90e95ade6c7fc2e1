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
    int rc = net_spec_parse(d, root, &s->net);
    if (rc == SIM_ENOMEM) return rc;
    sim_cfg_check_unused(s->cfg, d);
    if (d->errors != errs) return SIM_ECONFIG;
    size_t len = 0;
    if (sim_cfg_emit(s->cfg, &s->yaml, &len) != 0) return SIM_ENOMEM;
    rs_check_semantics(s, d);
    return 0;
}

void rs_unload(rs_scenario_t *s)
{
    net_spec_fini(&s->net);
    sim_cfg_destroy(s->cfg);
    free(s->yaml);
    memset(s, 0, sizeof *s);
}

void rs_check_semantics(const rs_scenario_t *s, sim_diag_t *d)
{
    const net_spec_t *n = &s->net;
    /* Stability is a long-run property: judge it at the rate that holds after
     * the profile's last segment. A transient spike above capacity only
     * builds a queue for a while (validate reports the peak load). */
    const wl_segment_t *last = &n->workload.segs[n->workload.nsegs - 1];
    double lambda = last->r1;
    sim_cfg_node_t *sts = sim_cfg_get(sim_cfg_root(s->cfg), "stations");
    for (size_t i = 0; i < n->nstations; i++) {
        const stn_spec_t *st = &n->stations[i];
        bool on_route = false;
        for (size_t j = 0; j < n->nroute; j++) on_route |= n->route[j] == i;
        sim_cfg_node_t *node = sts ? sim_cfg_get(sts, st->name) : NULL;
        if (!node) continue;
        if (!on_route) {
            sim_cfg_warn(d, node, "station '%s' is not on the route: no request will visit it", st->name);
            continue;
        }
        double rho = lambda * sim_dist_mean(&st->service) / (double)st->servers;
        if (st->queue_limit == INT64_MAX && st->queue_timeout == 0 && rho >= 1.0)
            sim_cfg_warn(d, node,
                         "station '%s' is unstable: offered load %.3g/s x %.3g s / %lld servers = %.3g >= 1 "
                         "and its queue is unbounded, so the queue grows without bound",
                         st->name, lambda, sim_dist_mean(&st->service), (long long)st->servers, rho);
        if (st->queue_timeout >= s->sc.duration)
            sim_cfg_warn(d, sim_cfg_get(node, "queue_timeout"),
                         "station '%s': queue_timeout is not shorter than the run's duration", st->name);
    }
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
    sim_log_event(out->sim, "run_start", "", (double)rep, s->sc.name);
    out->net = net_create(out->sim, &s->net);
    if (!out->net) return SIM_ENOMEM;
    out->end = sim_run(out->sim, s->sc.duration);
    net_finish(out->net);
    out->wall_seconds = wall_now() - w0;
    if (out->end == SIM_RUN_ERROR) return sim_error(out->sim);
    char detail[128];
    snprintf(detail, sizeof detail, "%s after %llu events", out->end == SIM_RUN_BUDGET ? "event budget exhausted" : "end of run",
             (unsigned long long)sim_events_processed(out->sim));
    sim_log_event(out->sim, "run_end", "", sim_time_to_s(sim_now(out->sim)), detail);
    if (progress) progress->events_done += sim_events_processed(out->sim);
    return out->end == SIM_RUN_BUDGET ? SIM_EBUDGET : 0;
}

void rs_result_free(rs_result_t *r)
{
    net_destroy(r->net);
    sim_destroy(r->sim);
    memset(r, 0, sizeof *r);
}

/* ---- summary rows ---------------------------------------------------------- */

enum {
    S_VARIANT, S_REP, S_SEED, S_SIMSEC, S_EVENTS, S_ARR, S_COMP, S_REJ, S_TO, S_SUCC,
    S_THRU, S_MEAN, S_P50, S_P95, S_P99, S_NCOLS
};

static void summary_init(sim_table_t *t)
{
    sim_table_init(t, "summary");
    sim_table_col_str(t, "variant", 64);
    sim_table_col_i64(t, "replication", "1");
    sim_table_col_i64(t, "seed", "1");
    sim_table_col_f64(t, "sim_seconds", "s");
    sim_table_col_i64(t, "events_processed", "1");
    sim_table_col_i64(t, "arrivals", "1");
    sim_table_col_i64(t, "completed", "1");
    sim_table_col_i64(t, "rejected", "1");
    sim_table_col_i64(t, "timed_out", "1");
    sim_table_col_f64(t, "success_ratio", "1");
    sim_table_col_f64(t, "throughput_per_s", "1/s");
    sim_table_col_f64(t, "latency_mean_s", "s");
    sim_table_col_f64(t, "latency_p50_s", "s");
    sim_table_col_f64(t, "latency_p95_s", "s");
    sim_table_col_f64(t, "latency_p99_s", "s");
}

static int summary_add(sim_table_t *t, const rs_scenario_t *s, const rs_result_t *r)
{
    unsigned char *row = sim_table_append(t);
    if (!row) return SIM_ENOMEM;
    const net_t *n = r->net;
    uint64_t ended = n->completed + n->rejected + n->timed_out;
    double span = sim_time_to_s(sim_now(r->sim) - s->sc.warmup);
    sim_row_str(t, row, S_VARIANT, VARIANT);
    sim_row_i64(t, row, S_REP, r->replication);
    sim_row_i64(t, row, S_SEED, (int64_t)r->seed);
    sim_row_f64(t, row, S_SIMSEC, sim_time_to_s(sim_now(r->sim)));
    sim_row_i64(t, row, S_EVENTS, (int64_t)sim_events_processed(r->sim));
    sim_row_i64(t, row, S_ARR, (int64_t)n->arrivals);
    sim_row_i64(t, row, S_COMP, (int64_t)n->completed);
    sim_row_i64(t, row, S_REJ, (int64_t)n->rejected);
    sim_row_i64(t, row, S_TO, (int64_t)n->timed_out);
    sim_row_f64(t, row, S_SUCC, ended ? (double)n->completed / (double)ended : NAN);
    sim_row_f64(t, row, S_THRU, span > 0 ? (double)n->completed / span : NAN);
    sim_row_f64(t, row, S_MEAN, n->sojourn_s.n ? n->sojourn_s.mean : NAN);
    sim_row_f64(t, row, S_P50, sim_hist_quantile(&n->sojourn, 0.50) * 1e-9);
    sim_row_f64(t, row, S_P95, sim_hist_quantile(&n->sojourn, 0.95) * 1e-9);
    sim_row_f64(t, row, S_P99, sim_hist_quantile(&n->sojourn, 0.99) * 1e-9);
    return 0;
}

/* ---- trace ------------------------------------------------------------------ */

static int write_run(sim_trace_t *tr, const rs_result_t *r)
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
    sim_table_t st;
    if (net_station_table(r->net, &st) == 0) {
        snprintf(p, sizeof p, "%s/stations", g);
        rc |= sim_trace_table(tr, p, &st);
    } else {
        rc = SIM_ENOMEM;
    }
    sim_table_fini(&st);
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

/* "mean ± hw unit", the unit chosen by the mean for seconds. */
static void fmt_secs(char *buf, size_t n, double mean, double hw)
{
    double a = fabs(mean);
    const char *u = "s";
    double k = 1;
    if (a > 0 && a < 1e-3) { u = "us"; k = 1e6; }
    else if (a > 0 && a < 1) { u = "ms"; k = 1e3; }
    if (isnan(mean)) { snprintf(buf, n, "-"); return; }
    int dec = decimals_for(mean * k, hw * k);
    if (!isfinite(hw)) snprintf(buf, n, "%.*f %s", dec, mean * k, u);
    else snprintf(buf, n, "%.*f ± %.*f %s", dec, mean * k, dec, hw * k, u);
}

static void fmt_num(char *buf, size_t n, double mean, double hw, const char *unit)
{
    if (isnan(mean)) { snprintf(buf, n, "-"); return; }
    int dec = decimals_for(mean, hw);
    const char *sp = *unit ? " " : "";
    if (!isfinite(hw)) snprintf(buf, n, "%.*f%s%s", dec, mean, sp, unit);
    else snprintf(buf, n, "%.*f ± %.*f%s%s", dec, mean, dec, hw, sp, unit);
}

typedef struct {
    double *arr, *comp, *rej, *to, *util, *wait, *soj, *p95;
} st_acc_t;

static sim_ci_t ci_of(const double *x, size_t n)
{
    /* NaN entries (no observations in a run) are skipped */
    double tmp[n ? n : 1];
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        if (!isnan(x[i])) tmp[k++] = x[i];
    if (k == 0) return (sim_ci_t){0, NAN, NAN, NAN, 0.95};
    sim_ci_t c = sim_ci_student(tmp, k, 0.95);
    if (k < 2) c.half_width = NAN;
    return c;
}

static void print_summary(FILE *out, const rs_scenario_t *s, const sim_table_t *summ,
                          st_acc_t *acc, size_t nreps, uint64_t seed, const char *trace_path)
{
    const net_spec_t *net = &s->net;
    char b[8][64];
    fprintf(out, "scenario '%s': %zu replication%s of %g s (warm-up %g s), seed %llu\n", s->sc.name,
            nreps, nreps == 1 ? "" : "s", sim_time_to_s(s->sc.duration), sim_time_to_s(s->sc.warmup),
            (unsigned long long)seed);
    if (nreps > 1) fprintf(out, "figures after the warm-up; ± is the 95%% confidence half-width across replications\n");
    /* cells first, then columns as wide as their widest cell */
    enum { NC = 6 };
    size_t nrows = net->nstations + 1;
    char (*cell)[NC][64] = calloc(nrows, sizeof *cell);
    if (!cell) return;
    static const char *const head[NC] = {"station", "arrivals", "completions", "utilization", "mean wait", "p95 sojourn"};
    for (int k = 0; k < NC; k++) snprintf(cell[0][k], 64, "%s", head[k]);
    for (size_t i = 0; i < net->nstations; i++) {
        size_t o = i * nreps;
        sim_ci_t a = ci_of(acc->arr + o, nreps), c = ci_of(acc->comp + o, nreps);
        sim_ci_t u = ci_of(acc->util + o, nreps), w = ci_of(acc->wait + o, nreps);
        sim_ci_t p = ci_of(acc->p95 + o, nreps);
        char (*row)[64] = cell[i + 1];
        snprintf(row[0], 64, "%s", net->stations[i].name);
        fmt_num(row[1], 64, a.mean, a.half_width, "");
        fmt_num(row[2], 64, c.mean, c.half_width, "");
        fmt_num(row[3], 64, u.mean, u.half_width, "");
        fmt_secs(row[4], 64, w.mean, w.half_width);
        fmt_secs(row[5], 64, p.mean, p.half_width);
    }
    int width[NC] = {0};
    for (size_t r = 0; r < nrows; r++)
        for (int k = 0; k < NC; k++) {
            /* display width: count UTF-8 lead bytes only ("±" is two bytes) */
            int wdt = 0;
            for (const unsigned char *q = (const unsigned char *)cell[r][k]; *q; q++) wdt += (*q & 0xC0) != 0x80;
            if (wdt > width[k]) width[k] = wdt;
        }
    fputc('\n', out);
    for (size_t r = 0; r < nrows; r++) {
        for (int k = 0; k < NC; k++) {
            int bytes = (int)strlen(cell[r][k]), wdt = 0;
            for (const unsigned char *q = (const unsigned char *)cell[r][k]; *q; q++) wdt += (*q & 0xC0) != 0x80;
            if (k == NC - 1) fprintf(out, "  %s", cell[r][k]);   /* no trailing padding */
            else fprintf(out, "%s%-*s", k ? "  " : "", width[k] + bytes - wdt, cell[r][k]);
        }
        fputc('\n', out);
        if (r == 0) continue;
        size_t i = r - 1, o = i * nreps;
        sim_ci_t rj = ci_of(acc->rej + o, nreps), to = ci_of(acc->to + o, nreps);
        if (rj.mean > 0 || to.mean > 0) {
            fmt_num(b[5], 64, rj.mean, rj.half_width, "");
            fmt_num(b[6], 64, to.mean, to.half_width, "");
            fprintf(out, "%-*s  rejected %s, timed out %s\n", width[0], "", b[5], b[6]);
        }
        theory_pred_t tp;
        if (theory_predict_station(net, i, &tp)) {
            char tw[64];
            fmt_secs(tw, sizeof tw, tp.wait_s, NAN);
            fprintf(out, "%-*s  theory %s: utilization %.4f, mean wait %s", width[0], "", tp.model, tp.util, tw);
            if (tp.blocking > 0)
                fprintf(out, ", blocking probability %.4f (%.0f rejected)", tp.blocking,
                        tp.blocking * tp.lambda * sim_time_to_s(s->sc.duration - s->sc.warmup));
            fprintf(out, "\n");
        }
    }
    free(cell);
    /* end to end */
    double v[6][nreps ? nreps : 1];
    for (size_t r = 0; r < nreps; r++) {
        v[0][r] = (double)sim_table_get_i64(summ, r, S_ARR);
        v[1][r] = (double)sim_table_get_i64(summ, r, S_COMP);
        v[2][r] = sim_table_get_f64(summ, r, S_SUCC);
        v[3][r] = sim_table_get_f64(summ, r, S_MEAN);
        v[4][r] = sim_table_get_f64(summ, r, S_P95);
        v[5][r] = sim_table_get_f64(summ, r, S_P99);
    }
    sim_ci_t e[6];
    for (int k = 0; k < 6; k++) e[k] = ci_of(v[k], nreps);
    fmt_num(b[0], 64, e[0].mean, e[0].half_width, "");
    fmt_num(b[1], 64, e[1].mean, e[1].half_width, "");
    fmt_num(b[2], 64, e[2].mean, e[2].half_width, "");
    fmt_secs(b[3], 64, e[3].mean, e[3].half_width);
    fmt_secs(b[4], 64, e[4].mean, e[4].half_width);
    fmt_secs(b[5], 64, e[5].mean, e[5].half_width);
    fprintf(out, "\nend to end: arrivals %s, completed %s, success ratio %s\n", b[0], b[1], b[2]);
    fprintf(out, "            latency mean %s, p95 %s, p99 %s\n", b[3], b[4], b[5]);
    if (trace_path) fprintf(out, "\ntrace: %s\n", trace_path);
}

/* ---- commands ------------------------------------------------------------------- */

static volatile sig_atomic_t interrupted;
static void on_signal(int sig) { (void)sig; interrupted = 1; }

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
        fprintf(out, "%s: scenario '%s' is valid: %zu station%s, route", o->scenario, s.sc.name,
                s.net.nstations, s.net.nstations == 1 ? "" : "s");
        for (size_t i = 0; i < s.net.nroute; i++)
            fprintf(out, "%s%s", i ? " -> " : " ", s.net.stations[s.net.route[i]].name);
        fprintf(out, "\n");
        double lambda = wl_max_rate(&s.net.workload);
        for (size_t i = 0; i < s.net.nstations; i++) {
            const stn_spec_t *st = &s.net.stations[i];
            fprintf(out, "  %-16s %lld server%s, mean service %g s, offered load per server %.3g (at peak rate %g/s)\n",
                    st->name, (long long)st->servers, st->servers == 1 ? "" : "s",
                    sim_dist_mean(&st->service), lambda * sim_dist_mean(&st->service) / (double)st->servers,
                    lambda);
        }
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
    summary_init(&summ);
    st_acc_t acc = {0};
    double **fields[] = {&acc.arr, &acc.comp, &acc.rej, &acc.to, &acc.util, &acc.wait, &acc.soj, &acc.p95};
    const size_t nfields = sizeof fields / sizeof *fields;
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
            fprintf(err, "ragsim: error: writing the trace header failed\n");
            status = 1;
            goto done;
        }
    }

    size_t nst = s.net.nstations;
    for (size_t k = 0; k < nfields; k++) {
        *fields[k] = calloc(nst * nreps, sizeof(double));
        if (!*fields[k]) {
            fprintf(err, "ragsim: error: out of memory\n");
            status = 1;
            goto done;
        }
    }

    rs_progress_t prog = {.err = err, .t0 = wall_now(), .reps = (uint32_t)nreps, .duration = s.sc.duration};
    interrupted = 0;
    struct sigaction sa = {0}, old_int, old_term;
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, &old_int);
    sigaction(SIGTERM, &sa, &old_term);

    for (size_t r = 0; r < nreps && !interrupted; r++) {
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
        } else if (rc != 0) {
            progress_clear(o->progress ? &prog : NULL);
            fprintf(err, "ragsim: error: replication %zu failed: %s\n", r, sim_strerror(rc));
            rs_result_free(&res);
            status = 1;
            break;
        }
        for (size_t i = 0; i < nst; i++) {
            const station_t *st = &res.net->st[i];
            size_t at = i * nreps + r;
            acc.arr[at] = (double)st->n.arrivals;
            acc.comp[at] = (double)st->n.completions;
            acc.rej[at] = (double)st->n.rejected;
            acc.to[at] = (double)st->n.timed_out;
            acc.util[at] = stn_utilization(st);
            acc.wait[at] = st->wait_s.n ? st->wait_s.mean : NAN;
            acc.soj[at] = st->sojourn_s.n ? st->sojourn_s.mean : NAN;
            acc.p95[at] = sim_hist_quantile(&st->sojourn, 0.95) * 1e-9;
        }
        summary_add(&summ, &s, &res);
        if (tr && write_run(tr, &res) != 0) {
            fprintf(err, "ragsim: error: writing replication %zu to the trace failed\n", r);
            status = 1;
        }
        rs_result_free(&res);
        if (status || budget_hit) break;
    }
    sigaction(SIGINT, &old_int, NULL);
    sigaction(SIGTERM, &old_term, NULL);
    progress_clear(o->progress ? &prog : NULL);
    if (interrupted && status == 0) {
        fprintf(err, "ragsim: interrupted after %zu of %zu replications; the trace was not written\n",
                summ.nrows, nreps);
        status = 1;
    }
    if (status == 0 && tr) {
        /* A run stopped by the budget is kept, and the trace says it is incomplete. */
        char ebuf[512];
        if (sim_trace_attr_i64(tr, "/", "complete", !budget_hit) != 0 || sim_trace_table(tr, "/summary", &summ) != 0) {
            fprintf(err, "ragsim: error: writing the summary table failed\n");
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
    } else if (status == 0 && !o->quiet)
        print_summary(out, &s, &summ, &acc, summ.nrows, seed, o->no_trace ? NULL : trace_path);
done:
    sim_trace_abort(tr);
    for (size_t k = 0; k < nfields; k++) free(*fields[k]);
    sim_table_fini(&summ);
    free(trace_path);
    rs_unload(&s);
    sim_diag_fini(&d);
    return status;
}
