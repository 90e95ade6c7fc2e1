/* `ragsim sensitivity` (sensitivity.h): the scenario's numeric parameters,
 * their perturbed values, the paired runs (in this process, one after the
 * other), the paired changes, elasticities, ranking, flips, the printed
 * tables and the output file. Calls the runner's API and sim/. */
#include "experiment/sensitivity.h"

#include <math.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "experiment/incident.h"
#include "experiment/runner.h"
#include "sim/error.h"
#include "sim/outfile.h"
#include "sim/stats.h"
#include "sim/table.h"
#include "sim/trace.h"
#include "sim/units.h"

const char se_usage[] =
    "usage: ragsim sensitivity SCENARIO.yaml [--metrics M,...] [--params P,...]\n"
    "                          [--delta 10%,25%] [--variant V] [--reps N] [--seed N]\n"
    "                          [--set KEY=VALUE]... [-o OUT.h5] [--force] [-q]\n"
    "\n"
    "Change one numeric parameter at a time by +d and -d (relative) and run the\n"
    "scenario again with the same seeds (common random numbers): per parameter and\n"
    "metric, the paired change with its 95% interval, the elasticity (relative change\n"
    "of the metric per relative change of the parameter; central from +d and -d), a\n"
    "ranking by |elasticity|, and FLIP where a change turns a qualitative outcome:\n"
    "recovered or not (the mean of `recovered` across 0.5), SLO met or not\n"
    "(slo.success_ratio and slo.latency_p95 on the means).\n"
    "\n"
    "options:\n"
    "      --metrics M,...   summary metrics (default: success_ratio, latency_p95_s,\n"
    "                        goodput_per_s, recovered, time_below_slo_s, those the runs\n"
    "                        report); ROW:COLUMN names another table's figure, e.g.\n"
    "                        server:mean_wait (a station's mean wait)\n"
    "      --params P,...    scenario paths in --set syntax (default: every numeric value\n"
    "                        of the scenario except its run parameters: seed,\n"
    "                        replications, duration, warmup, sample_interval, slo,\n"
    "                        trigger, compare, trace)\n"
    "      --delta D,...     relative changes (default 10%); each is applied as +D and -D\n"
    "      --variant V       the variant perturbed (default: the baseline)\n"
    "      --reps N          replications per configuration (default: the scenario's)\n"
    "      --seed N          master seed (default: the scenario's)\n"
    "      --set KEY=VALUE   override a scenario value in every configuration\n"
    "  -o, --output OUT.h5   output (default: SCENARIO's stem + -sensitivity.h5)\n"
    "      --force           replace an existing output file\n"
    "  -q, --quiet           no tables\n"
    "\n"
    "Runs in this process: (1 + parameters x 2 x deltas) x replications runs.\n"
    "See docs/sensitivity.md. Exit status: 0 success, 1 runtime failure, 2 bad usage or\n"
    "input, 130/143 interrupted.\n";

extern volatile sig_atomic_t rs_interrupted;

int se_parse_deltas(const char *s, se_opts_t *o, char *why, size_t whylen)
{
    o->ndelta = 0;
    while (s && *s) {
        size_t n = strcspn(s, ",");
        char buf[64];
        snprintf(buf, sizeof buf, "%.*s", (int)(n < 63 ? n : 63), s);
        double v;
        if (o->ndelta >= SE_MAX_DELTAS) {
            snprintf(why, whylen, "at most %d deltas", SE_MAX_DELTAS);
            return -1;
        }
        if ((strchr(buf, '%') ? sim_parse_ratio(buf, &v, NULL) : sim_parse_double(buf, &v, NULL)) != 0 || !(v > 0) ||
            v > 0.9) {
            snprintf(why, whylen, "expected relative changes in (0, 90%%] such as 10%%,25%%, got '%s'", buf);
            return -1;
        }
        o->delta[o->ndelta++] = v;
        s += n + (s[n] == ',');
    }
    if (o->ndelta == 0) {
        snprintf(why, whylen, "expected relative changes such as 10%%,25%%");
        return -1;
    }
    return 0;
}

/* ---- parameters ----------------------------------------------------------------------- */

enum { K_INT, K_NUM, K_DUR, K_SIZE, K_RATE, K_RATIO, K_NONE };

static int value_kind(const sim_cfg_node_t *n, double *v)
{
    if (n->kind != SIM_CFG_SCALAR || !n->plain) return K_NONE;
    int64_t i;
    sim_time_t t;
    if (sim_parse_int(n->text, &i, NULL) == 0) {
        *v = (double)i;
        return K_INT;
    }
    if (sim_parse_double(n->text, v, NULL) == 0) return K_NUM;
    if (strchr(n->text, '%') && sim_parse_ratio(n->text, v, NULL) == 0) return K_RATIO;
    if (sim_parse_duration(n->text, &t, NULL) == 0) {
        *v = (double)t;   /* ns */
        return K_DUR;
    }
    if (sim_parse_size(n->text, &i, NULL) == 0) {
        *v = (double)i;
        return K_SIZE;
    }
    if (sim_parse_rate(n->text, v, NULL) == 0) return K_RATE;
    return K_NONE;
}

/* The perturbed value as scenario text; false when it does not change. */
static bool perturbed_text(int kind, double v, double f, char *buf, size_t n)
{
    double w = v * f;
    switch (kind) {
    case K_INT:
        if (llround(w) == llround(v)) return false;
        snprintf(buf, n, "%lld", llround(w));
        return true;
    case K_DUR:
        if (llround(w) == llround(v)) return false;
        snprintf(buf, n, "%lldns", llround(w));
        return true;
    case K_SIZE:
        if (llround(w) == llround(v)) return false;
        snprintf(buf, n, "%lldB", llround(w));
        return true;
    case K_RATE: snprintf(buf, n, "%.12g/s", w); return w != v;
    case K_RATIO: snprintf(buf, n, "%.12g%%", w * 100); return w != v;
    default: snprintf(buf, n, "%.12g", w); return w != v;
    }
}

/* The value's relative change as applied (integers and durations round). */
static double applied_change(int kind, double v, double f)
{
    if (kind == K_INT || kind == K_DUR || kind == K_SIZE) return ((double)llround(v * f) - v) / v;
    return f - 1;
}

typedef struct param {
    char path[256];
    int kind;
    double value;                   /* base unit (ns for durations) */
    char text[64];
} param_t;

static const char *const skip_top[] = {"name", "description", "seed", "replications", "duration", "warmup",
                                       "sample_interval", "slo", "trigger", "compare", "trace", "variants",
                                       "model", NULL};

static int collect(const sim_cfg_node_t *n, char *path, size_t len, param_t **ps, size_t *np, size_t *cap, int depth)
{
    if (depth > 32) return 0;
    if (n->kind == SIM_CFG_SCALAR) {
        double v = NAN;
        int k = value_kind(n, &v);
        if (k == K_NONE || !(v != 0) || !isfinite(v)) return 0;
        if (*np == *cap) {
            size_t c = *cap ? 2 * *cap : 32;
            param_t *p = realloc(*ps, c * sizeof *p);
            if (!p) return SIM_ENOMEM;
            *ps = p;
            *cap = c;
        }
        param_t *p = &(*ps)[(*np)++];
        snprintf(p->path, sizeof p->path, "%s", path);
        p->kind = k;
        p->value = v;
        snprintf(p->text, sizeof p->text, "%s", n->text);
        return 0;
    }
    for (size_t i = 0; i < n->n; i++) {
        char seg[128];
        if (n->kind == SIM_CFG_MAP) {
            if (depth == 0) {
                bool skip = false;
                for (const char *const *s = skip_top; *s; s++) skip |= !strcmp(n->keys[i]->text, *s);
                if (skip) continue;
            }
            snprintf(seg, sizeof seg, "%s", n->keys[i]->text);
        } else snprintf(seg, sizeof seg, "%zu", i);
        size_t l = strlen(path);
        if (l + strlen(seg) + 2 >= len) continue;
        if (l) path[l] = '.';
        strcpy(path + l + (l ? 1 : 0), seg);
        int rc = collect(n->vals[i], path, len, ps, np, cap, depth + 1);
        path[l] = 0;
        if (rc) return rc;
    }
    return 0;
}

static const sim_cfg_node_t *node_at(const sim_cfg_node_t *n, const char *path)
{
    char seg[128];
    while (n && *path) {
        size_t l = strcspn(path, ".");
        snprintf(seg, sizeof seg, "%.*s", (int)(l < 127 ? l : 127), path);
        path += l + (path[l] == '.');
        if (n->kind == SIM_CFG_MAP) n = sim_cfg_get((sim_cfg_node_t *)n, seg);
        else if (n->kind == SIM_CFG_SEQ) {
            char *e;
            unsigned long k = strtoul(seg, &e, 10);
            n = *e == 0 && k < n->n ? n->vals[k] : NULL;
        } else n = NULL;
    }
    return n;
}

/* ---- runs ------------------------------------------------------------------------------- */

/* A run's figure `name`: a summary column, or "ROW:COLUMN" of another
 * table (spaces in the column written as '_'). */
static double report_value(const rs_report_t *rep, const char *name)
{
    const char *colon = strchr(name, ':');
    for (size_t i = 0; i < rep->n; i++) {
        const rs_entry_t *e = &rep->e[i];
        if (!colon) {
            if (!strcmp(e->section, "summary") && !strcmp(e->col, name)) return e->value;
            continue;
        }
        if (strlen(e->row) != (size_t)(colon - name) || strncmp(e->row, name, (size_t)(colon - name))) continue;
        const char *a = e->col, *b = colon + 1;
        while (*a && *b && (*a == *b || (*a == ' ' && *b == '_'))) a++, b++;
        if (!*a && !*b) return e->value;
    }
    return NAN;
}

/* Run `reps` replications of variant `vname` with the overrides; vals[r * nm + k]. */
static int run_config(const se_opts_t *o, const char *const *sets, size_t nsets, const char *vname, int64_t reps,
                      uint64_t seed, const char *const *metrics, size_t nm, double *vals, char *why, size_t whylen)
{
    rs_scenario_t s;
    sim_diag_t d;
    sim_diag_init(&d);
    int rc = rs_load(&s, o->scenario, sets, nsets, &d);
    if (rc) {
        const char *t = sim_diag_text(&d);
        snprintf(why, whylen, "%.*s", (int)strcspn(t, "\n"), t);
        sim_diag_fini(&d);
        rs_unload(&s);
        return rc;
    }
    sim_diag_fini(&d);
    int v = vname ? rs_variant_find(&s, vname) : (int)s.baseline;
    for (int64_t r = 0; r < reps && rc == 0; r++) {
        rs_result_t res;
        rc = rs_run_one(&s, (size_t)v, (uint32_t)r, seed, 0, NULL, &res);
        if (rc) {
            snprintf(why, whylen, "%s", sim_strerror(rc));
            rs_result_free(&res);
            break;
        }
        rs_report_t rep;
        rs_report_init(&rep);
        rs_report_run(&s, &res, &rep);
        for (size_t k = 0; k < nm; k++) vals[(size_t)r * nm + k] = report_value(&rep, metrics[k]);
        rs_report_fini(&rep);
        rs_result_free(&res);
    }
    rs_unload(&s);
    return rc;
}

/* ---- statistics --------------------------------------------------------------------------- */

typedef struct row {
    size_t param, metric;
    double delta;                   /* the relative change asked (+d or -d; 0: central from +d and -d) */
    double size;                    /* d */
    double applied;                 /* as applied (rounded for integers); central: the + minus the - */
    double base, pert;              /* means */
    double diff, diff_lo, diff_hi;  /* paired */
    double elast, elast_lo, elast_hi;
    bool flip_recovered, flip_slo;
} row_t;

static double mean_of(const double *v, size_t reps, size_t nm, size_t k)
{
    double s = 0;
    size_t n = 0;
    for (size_t r = 0; r < reps; r++)
        if (isfinite(v[r * nm + k])) {
            s += v[r * nm + k];
            n++;
        }
    return n ? s / (double)n : NAN;
}

static void paired(const double *a, const double *b, size_t reps, size_t nm, size_t k, double *m, double *lo, double *hi)
{
    double *d = malloc((reps + 1) * sizeof *d);
    size_t n = 0;
    for (size_t r = 0; d && r < reps; r++) {
        double x = a[r * nm + k], y = b[r * nm + k];
        if (isfinite(x) && isfinite(y)) d[n++] = x - y;
    }
    sim_ci_t ci = sim_ci_student(d, n, 0.95);
    *m = ci.mean;
    *lo = sim_ci_lo(ci);
    *hi = sim_ci_hi(ci);
    free(d);
}

/* The qualitative outcomes on the means: recovered (NaN: none) and SLO met. */
static int outcome_recovered(const double *v, size_t reps, size_t nm, int krec)
{
    if (krec < 0) return -1;
    double m = mean_of(v, reps, nm, (size_t)krec);
    return isnan(m) ? -1 : m >= 0.5;
}

static int outcome_slo(const double *v, size_t reps, size_t nm, int ksucc, int kp95, double slo_s, double slo_p)
{
    if (ksucc < 0) return -1;
    double s = mean_of(v, reps, nm, (size_t)ksucc), p = kp95 >= 0 ? mean_of(v, reps, nm, (size_t)kp95) : NAN;
    if (isnan(s)) return -1;
    return s >= slo_s && !(p > slo_p);
}

static void fill(row_t *w, const double *pv, const double *bv, size_t reps, size_t nm)
{
    w->pert = mean_of(pv, reps, nm, w->metric);
    paired(pv, bv, reps, nm, w->metric, &w->diff, &w->diff_lo, &w->diff_hi);
    double scale = w->base * w->applied;
    w->elast = w->diff / scale;
    double a = w->diff_lo / scale, b = w->diff_hi / scale;
    w->elast_lo = fmin(a, b);
    w->elast_hi = fmax(a, b);
}

static int row_cmp_abs(const void *x, const void *y)
{
    const row_t *a = *(const row_t *const *)x, *b = *(const row_t *const *)y;
    double ea = fabs(a->elast), eb = fabs(b->elast);
    if (isnan(ea)) ea = -1;
    if (isnan(eb)) eb = -1;
    if (ea != eb) return ea > eb ? -1 : 1;
    return a->param < b->param ? -1 : a->param > b->param;
}

/* ---- the command ------------------------------------------------------------------------------ */

static void on_signal(int sig) { rs_interrupted = sig; }

static char *split_list(const char *s, const char ***items, size_t *n)
{
    char *copy = strdup(s);
    if (!copy) return NULL;
    size_t cap = 1;
    for (const char *p = s; *p; p++) cap += *p == ',';
    *items = calloc(cap, sizeof **items);
    if (!*items) {
        free(copy);
        return NULL;
    }
    *n = 0;
    for (char *tok = strtok(copy, ","); tok; tok = strtok(NULL, ",")) (*items)[(*n)++] = tok;
    return copy;
}

int se_cmd(const se_opts_t *o, FILE *out, FILE *err)
{
    int status = 2, rc;
    rs_scenario_t s = {0};
    bool loaded = false;
    sim_diag_t d;
    sim_diag_init(&d);
    param_t *ps = NULL;
    size_t np = 0, cap = 0;
    const char **metrics = NULL, **plist = NULL;
    char *mcopy = NULL, *pcopy = NULL, *outpath = NULL;
    size_t nm = 0, npl = 0;
    double *base = NULL, *pv = NULL;
    row_t *rows = NULL;
    size_t nrows = 0;
    const char **sets = calloc(o->nsets + 2, sizeof *sets);
    char why[512], setbuf[512];
    struct sigaction sa = {0}, old_int, old_term;
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, &old_int);
    sigaction(SIGTERM, &sa, &old_term);
    rs_interrupted = 0;
    if (!sets) goto nomem;
    for (size_t i = 0; i < o->nsets; i++) sets[i] = o->sets[i];

    rc = rs_load(&s, o->scenario, o->sets, o->nsets, &d);
    loaded = true;
    fputs(sim_diag_text(&d), err);
    if (rc) {
        status = rc == SIM_ENOMEM ? 1 : 2;
        goto out;
    }
    int vi = o->variant ? rs_variant_find(&s, o->variant) : (int)s.baseline;
    if (vi < 0) {
        fprintf(err, "ragsim: error: --variant: the scenario has no variant '%s'\n", o->variant);
        goto out;
    }
    const sim_cfg_node_t *root = s.variants[vi].root;
    int64_t reps = o->reps > 0 ? o->reps : s.sc.replications;
    uint64_t seed = o->have_seed ? o->seed : s.sc.seed;
    if (reps < 2) {
        fprintf(err, "ragsim: error: sensitivity needs at least 2 replications for its intervals (--reps)\n");
        goto out;
    }

    /* metrics */
    {
        rs_report_t rep;
        const char **names = NULL;
        size_t nn = 0;
        if (rs_metric_names(&s, (size_t)vi, &rep, &names, &nn) != 0) {
            free(names);
            rs_report_fini(&rep);
            goto nomem;
        }
        if (o->metrics) {
            if (!(mcopy = split_list(o->metrics, &metrics, &nm))) goto nomem;
            for (size_t k = 0; k < nm; k++) {
                bool known = strchr(metrics[k], ':') != NULL;
                for (size_t j = 0; j < nn && !known; j++) known = !strcmp(names[j], metrics[k]);
                if (!known) {
                    const char *b = sim_cfg_closest(metrics[k], names, nn);
                    fprintf(err, "ragsim: error: --metrics: '%s' is not a metric the runs report%s%s%s\n", metrics[k],
                            b ? " (did you mean '" : "", b ? b : "", b ? "'?)" : "");
                    free(names);
                    rs_report_fini(&rep);
                    goto out;
                }
            }
        } else {
            static const char *const defaults[] = {"success_ratio", "latency_p95_s", "goodput_per_s", INC_RECOVERED,
                                                   INC_TIME_BELOW_SLO, NULL};
            metrics = calloc(8, sizeof *metrics);
            if (!metrics) goto nomem;
            for (const char *const *m = defaults; *m; m++)
                for (size_t j = 0; j < nn; j++)
                    if (!strcmp(names[j], *m)) {
                        metrics[nm++] = *m;
                        break;
                    }
        }
        free(names);
        rs_report_fini(&rep);
    }
    int krec = -1, ksucc = -1, kp95 = -1;
    size_t nmr = nm;   /* the metrics shown; the outcomes' metrics are added behind them */
    {
        const char **mm = realloc(metrics, (nm + 3) * sizeof *mm);
        if (!mm) goto nomem;
        metrics = mm;
        const char *need[3] = {INC_RECOVERED, "success_ratio", "latency_p95_s"};
        int *idx[3] = {&krec, &ksucc, &kp95};
        for (int q = 0; q < 3; q++) {
            for (size_t k = 0; k < nm; k++)
                if (!strcmp(metrics[k], need[q])) *idx[q] = (int)k;
            if (*idx[q] < 0) {
                metrics[nm] = need[q];
                *idx[q] = (int)nm++;
            }
        }
    }

    /* parameters */
    if (o->params) {
        if (!(pcopy = split_list(o->params, &plist, &npl))) goto nomem;
        ps = calloc(npl + 1, sizeof *ps);
        if (!ps) goto nomem;
        for (size_t i = 0; i < npl; i++) {
            const sim_cfg_node_t *n = node_at(root, plist[i]);
            double v = NAN;
            int k = n ? value_kind(n, &v) : K_NONE;
            if (k == K_NONE || !(v != 0)) {
                fprintf(err, "ragsim: error: --params: '%s' is not a non-zero numeric value of the scenario%s\n", plist[i],
                        n ? "" : " (no such path)");
                goto out;
            }
            param_t *p = &ps[np++];
            snprintf(p->path, sizeof p->path, "%s", plist[i]);
            p->kind = k;
            p->value = v;
            snprintf(p->text, sizeof p->text, "%s", n->text);
        }
    } else {
        char path[512] = "";
        if (collect(root, path, sizeof path, &ps, &np, &cap, 0)) goto nomem;
    }
    if (np == 0) {
        fprintf(err, "ragsim: error: the scenario has no numeric parameter to perturb\n");
        goto out;
    }
    outpath = o->out ? strdup(o->out) : NULL;
    if (!outpath) {
        char *b = rs_default_output(o->scenario);
        if (!b) goto nomem;
        size_t l = strlen(b);
        outpath = malloc(l + 16);
        if (outpath) snprintf(outpath, l + 16, "%.*s-sensitivity.h5", (int)(l - 3), b);
        free(b);
        if (!outpath) goto nomem;
    }
    {
        const sim_input_t inputs[] = {{o->scenario, "the scenario"}};
        if (sim_output_check(outpath, o->force, inputs, 1, why, sizeof why) != 0) {
            fprintf(err, "ragsim: error: %s\n", why);
            goto out;
        }
    }
    status = 1;
    size_t R = (size_t)reps;
    base = calloc(R * nm, sizeof *base);
    pv = calloc(R * nm * 2 * o->ndelta, sizeof *pv);
    rows = calloc(np * (nmr + 1) * (2 * o->ndelta + o->ndelta) + 1, sizeof *rows);
    if (!base || !pv || !rows) goto nomem;
    if (!o->quiet) {
        fprintf(out, "sensitivity of %s (variant %s): %zu parameters x %zu changes x %zu replications, seed %llu\n",
                o->scenario, s.variants[vi].name, np, 2 * o->ndelta, R, (unsigned long long)seed);
        fflush(out);
    }
    if ((rc = run_config(o, sets, o->nsets, s.variants[vi].name, reps, seed, metrics, nm, base, why, sizeof why))) {
        if (rc == SIM_EINTERRUPTED || rs_interrupted) goto out;
        fprintf(err, "ragsim: error: the base scenario's runs failed: %s\n", why);
        goto out;
    }
    int base_rec = outcome_recovered(base, R, nm, krec), base_slo = outcome_slo(base, R, nm, ksucc, kp95, s.slo_success, s.slo_p95);
    for (size_t i = 0; i < np; i++) {
        const param_t *p = &ps[i];
        bool have[2 * SE_MAX_DELTAS] = {false};
        double appl[2 * SE_MAX_DELTAS] = {0};
        for (size_t j = 0; j < 2 * o->ndelta; j++) {
            double dl = j % 2 ? -o->delta[j / 2] : o->delta[j / 2];
            char val[64];
            if (p->kind != K_INT && !perturbed_text(p->kind, p->value, 1 + dl, val, sizeof val)) {
                if (!o->quiet) fprintf(out, "  %s: %s%+.0f%% skipped: it rounds to the same value\n", p->path, p->text, 100 * dl);
                continue;
            }
            snprintf(setbuf, sizeof setbuf, "%s=%s", p->path, val);
            sets[o->nsets] = setbuf;
            double *v = pv + j * R * nm;
            bool exact = false;
            if (p->kind == K_INT) {
                /* an integer as written may be a real-valued parameter (a factor of 5): try the exact value
                 * first, and round only if the scenario wants an integer */
                char ex[64];
                snprintf(ex, sizeof ex, "%.12g", p->value * (1 + dl));
                snprintf(setbuf, sizeof setbuf, "%s=%s", p->path, ex);
                sets[o->nsets] = setbuf;
                rc = run_config(o, sets, o->nsets + 1, s.variants[vi].name, reps, seed, metrics, nm, v, why, sizeof why);
                exact = rc != SIM_ECONFIG;
                if (exact) snprintf(val, sizeof val, "%s", ex);
                else if (!perturbed_text(p->kind, p->value, 1 + dl, val, sizeof val)) {
                    if (!o->quiet) fprintf(out, "  %s: %s%+.0f%% skipped: it rounds to the same value\n", p->path, p->text, 100 * dl);
                    continue;
                }
                snprintf(setbuf, sizeof setbuf, "%s=%s", p->path, val);
            }
            if (!exact)
                rc = run_config(o, sets, o->nsets + 1, s.variants[vi].name, reps, seed, metrics, nm, v, why, sizeof why);
            if (rc == SIM_EINTERRUPTED || rs_interrupted) goto out;
            if (rc == SIM_ECONFIG) {
                if (!o->quiet) fprintf(out, "  %s: %s%+.0f%% skipped: %s\n", p->path, p->text, 100 * dl, why);
                continue;
            }
            if (rc) {
                fprintf(err, "ragsim: error: %s: %s\n", setbuf, why);
                goto out;
            }
            have[j] = true;
            appl[j] = exact ? dl : applied_change(p->kind, p->value, 1 + dl);
            int prec = outcome_recovered(v, R, nm, krec), pslo = outcome_slo(v, R, nm, ksucc, kp95, s.slo_success, s.slo_p95);
            for (size_t k = 0; k < nmr; k++) {
                row_t *w = &rows[nrows++];
                *w = (row_t){.param = i, .metric = k, .delta = dl, .size = o->delta[j / 2], .applied = appl[j],
                             .base = mean_of(base, R, nm, k)};
                fill(w, v, base, R, nm);
                w->flip_recovered = base_rec >= 0 && prec >= 0 && prec != base_rec;
                w->flip_slo = base_slo >= 0 && pslo >= 0 && pslo != base_slo;
            }
        }
        /* central: (+d) - (-d) */
        for (size_t q = 0; q < o->ndelta; q++) {
            if (!have[2 * q] || !have[2 * q + 1]) continue;
            const double *vp = pv + 2 * q * R * nm, *vm = pv + (2 * q + 1) * R * nm;
            for (size_t k = 0; k < nmr; k++) {
                row_t *w = &rows[nrows++];
                *w = (row_t){.param = i, .metric = k, .delta = 0, .size = o->delta[q], .applied = appl[2 * q] - appl[2 * q + 1],
                             .base = mean_of(base, R, nm, k)};
                fill(w, vp, vm, R, nm);
                w->pert = NAN;
                /* the flips of either side */
                for (size_t j = 0; j < nrows - 1; j++) {
                    const row_t *x = &rows[j];
                    if (x->param == i && x->metric == k && x->delta != 0 && fabs(x->delta) == o->delta[q]) {
                        w->flip_recovered |= x->flip_recovered;
                        w->flip_slo |= x->flip_slo;
                    }
                }
            }
        }
    }

    /* the tables: per metric, the parameters ranked by |central elasticity| at the first delta */
    if (!o->quiet) {
        row_t **rk = calloc(nrows + 1, sizeof *rk);
        if (!rk) goto nomem;
        for (size_t k = 0; k < nmr; k++) {
            size_t n = 0;
            for (size_t j = 0; j < nrows; j++)
                if (rows[j].metric == k && rows[j].delta == 0 && rows[j].size == o->delta[0]) rk[n++] = &rows[j];
            if (n == 0)   /* no central rows: one-sided at +d */
                for (size_t j = 0; j < nrows; j++)
                    if (rows[j].metric == k && rows[j].delta == o->delta[0]) rk[n++] = &rows[j];
            /* one row per parameter: the first delta's */
            qsort(rk, n, sizeof *rk, row_cmp_abs);
            fprintf(out, "\n%s (base %.6g): parameters ranked by |elasticity| (central, +-%.0f%%; 95%% interval); "
                         "change of the metric at +d and -d\n",
                    metrics[k], mean_of(base, R, nm, k), 100 * o->delta[0]);
            fprintf(out, "  %-3s %-44s %-12s %-28s %-22s %-22s %s\n", "#", "parameter", "value", "elasticity", "change at +d",
                    "change at -d", "flips");
            size_t rank = 0;
            for (size_t j = 0; j < n; j++) {
                const row_t *w = rk[j];
                if (w->delta != 0 && w->delta != o->delta[0]) continue;
                double dmatch = o->delta[0];
                const row_t *up = NULL, *dn = NULL;
                for (size_t x = 0; x < nrows; x++)
                    if (rows[x].param == w->param && rows[x].metric == k) {
                        if (rows[x].delta == dmatch) up = &rows[x];
                        if (rows[x].delta == -dmatch) dn = &rows[x];
                    }
                char e[64], cu[64], cd[64];
                snprintf(e, sizeof e, "%+.3g [%+.3g, %+.3g]", w->elast, w->elast_lo, w->elast_hi);
                if (up) snprintf(cu, sizeof cu, "%+.4g [%+.3g, %+.3g]", up->diff, up->diff_lo, up->diff_hi);
                else snprintf(cu, sizeof cu, "-");
                if (dn) snprintf(cd, sizeof cd, "%+.4g [%+.3g, %+.3g]", dn->diff, dn->diff_lo, dn->diff_hi);
                else snprintf(cd, sizeof cd, "-");
                fprintf(out, "  %-3zu %-44s %-12s %-28s %-22s %-22s %s%s\n", ++rank, ps[w->param].path,
                        ps[w->param].text, e, cu, cd, w->flip_recovered ? "FLIP:recovered " : "",
                        w->flip_slo ? "FLIP:slo" : "");
            }
        }
        free(rk);
    }

    /* the output file */
    {
        int terr = 0;
        sim_trace_t *tr = sim_trace_create(outpath, &terr, why, sizeof why);
        if (!tr) {
            fprintf(err, "ragsim: error: %s\n", why);
            goto out;
        }
        sim_trace_set_replace(tr, o->force);
        sim_trace_set_interrupt(tr, &rs_interrupted);
        int w = 0;
        w |= sim_trace_attr_str(tr, "/", "format", "ragsim-sensitivity");
        w |= sim_trace_attr_i64(tr, "/", "format_version", 1);
        w |= sim_trace_attr_str(tr, "/", "ragsim_version", RAGSIM_VERSION);
        w |= sim_trace_attr_str(tr, "/", "scenario_file", o->scenario);
        w |= sim_trace_attr_str(tr, "/", "variant", s.variants[vi].name);
        w |= sim_trace_attr_i64(tr, "/", "master_seed", (int64_t)seed);
        w |= sim_trace_attr_i64(tr, "/", "replications", reps);
        sim_table_t t;
        sim_table_init(&t, "sensitivity");
        sim_table_col_str(&t, "parameter", 256);
        sim_table_col_str(&t, "value", 64);
        sim_table_col_str(&t, "metric", 64);
        sim_table_col_f64(&t, "delta", "1");
        sim_table_col_f64(&t, "applied", "1");
        sim_table_col_f64(&t, "base", "");
        sim_table_col_f64(&t, "perturbed", "");
        sim_table_col_f64(&t, "change", "");
        sim_table_col_f64(&t, "change_lo", "");
        sim_table_col_f64(&t, "change_hi", "");
        sim_table_col_f64(&t, "elasticity", "1");
        sim_table_col_f64(&t, "elasticity_lo", "1");
        sim_table_col_f64(&t, "elasticity_hi", "1");
        sim_table_col_i64(&t, "flip_recovered", "1");
        sim_table_col_i64(&t, "flip_slo", "1");
        for (size_t j = 0; j < nrows; j++) {
            const row_t *x = &rows[j];
            unsigned char *r = sim_table_append(&t);
            if (!r) {
                sim_table_fini(&t);
                sim_trace_abort(tr);
                goto nomem;
            }
            sim_row_str(&t, r, 0, ps[x->param].path);
            sim_row_str(&t, r, 1, ps[x->param].text);
            sim_row_str(&t, r, 2, metrics[x->metric]);
            sim_row_f64(&t, r, 3, x->delta);
            sim_row_f64(&t, r, 4, x->applied);
            sim_row_f64(&t, r, 5, x->base);
            sim_row_f64(&t, r, 6, x->pert);
            sim_row_f64(&t, r, 7, x->diff);
            sim_row_f64(&t, r, 8, x->diff_lo);
            sim_row_f64(&t, r, 9, x->diff_hi);
            sim_row_f64(&t, r, 10, x->elast);
            sim_row_f64(&t, r, 11, x->elast_lo);
            sim_row_f64(&t, r, 12, x->elast_hi);
            sim_row_i64(&t, r, 13, x->flip_recovered);
            sim_row_i64(&t, r, 14, x->flip_slo);
        }
        w |= sim_trace_table(tr, "/sensitivity", &t);
        sim_table_fini(&t);
        if (w) {
            fprintf(err, "ragsim: error: writing %s: %s\n", outpath, sim_trace_errmsg(tr));
            sim_trace_abort(tr);
            goto out;
        }
        if ((rc = sim_trace_commit(tr, why, sizeof why)) != 0) {
            if (rc != SIM_EINTERRUPTED) fprintf(err, "ragsim: error: %s\n", why);
            if (rc == SIM_EEXIST) status = 2;
            goto out;
        }
    }
    if (!o->quiet) fprintf(out, "\nwrote %s (%zu rows)\n", outpath, nrows);
    status = 0;
    goto out;
nomem:
    fprintf(err, "ragsim: error: out of memory\n");
    status = 1;
out:
    if (rs_interrupted && status != 0 && status != 2) {
        fprintf(err, "ragsim: interrupted: nothing was written\n");
        status = 128 + (int)rs_interrupted;
    }
    sigaction(SIGINT, &old_int, NULL);
    sigaction(SIGTERM, &old_term, NULL);
    if (loaded) rs_unload(&s);
    sim_diag_fini(&d);
    free(ps);
    free(metrics);
    free(plist);
    free(mcopy);
    free(pcopy);
    free(outpath);
    free(base);
    free(pv);
    free(rows);
    free(sets);
    return status;
}
