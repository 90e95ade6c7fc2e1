/* `ragsim sensitivity` (sensitivity.h): the scenario's numeric parameters,
 * the configurations (one at a time, or Morris trajectories) as an explicit
 * design of the sweep's master (sweep_internal.h: -j, MPI ranks, the
 * checkpoint), the paired changes, elasticities, ranking, flips, the
 * elementary effects, the printed tables and the output file. Calls the
 * sweep's internals, the runner's API and sim/. */
#include "experiment/sensitivity.h"

#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "experiment/incident.h"
#include "experiment/sweep_internal.h"
#include "sim/error.h"
#include "sim/rng.h"
#include "sim/stats.h"
#include "sim/table.h"
#include "sim/trace.h"
#include "sim/units.h"

const char se_usage[] =
    "usage: ragsim sensitivity SCENARIO.yaml [--metrics M,...] [--params P,...]\n"
    "                          [--delta 10%,25%] [--method oat|morris]\n"
    "                          [--trajectories R] [--levels P] [--variant V]\n"
    "                          [--reps N] [--seed N] [--set KEY=VALUE]...\n"
    "                          [-o OUT.h5] [-j N] [--resume] [--force] [-q]\n"
    "\n"
    "Change one numeric parameter at a time by +d and -d (relative) and run the\n"
    "scenario again with the same seeds (common random numbers): per parameter and\n"
    "metric, the paired change with its 95% interval, the elasticity (relative change\n"
    "of the metric per relative change of the parameter; central from +d and -d), a\n"
    "ranking by |elasticity|, and FLIP where a change turns a qualitative outcome:\n"
    "recovered or not (the mean of `recovered` across 0.5), SLO met or not\n"
    "(slo.success_ratio and slo.latency_p95 on the means).\n"
    "With --method morris: Morris elementary effects over R random trajectories\n"
    "through P levels of every parameter in [x (1 - d), x (1 + d)] (d: the first\n"
    "--delta): per parameter mu* (mean |effect|, the ranking) and sigma (large where\n"
    "the effect depends on the other parameters: interactions, non-linearity).\n"
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
    "      --method M        oat (default: one at a time) or morris (elementary effects)\n"
    "      --trajectories R  Morris: trajectories (default 10)\n"
    "      --levels P        Morris: levels of each parameter's range, even (default 4)\n"
    "      --variant V       the variant perturbed (default: the baseline)\n"
    "      --reps N          replications per configuration (default: the scenario's)\n"
    "      --seed N          master seed (default: the scenario's)\n"
    "      --set KEY=VALUE   override a scenario value in every configuration\n"
    "  -o, --output OUT.h5   output (default: SCENARIO's stem + -sensitivity.h5)\n"
    "  -j, --jobs N          N worker processes (default 1); same output for any N\n"
    "      --resume          continue from OUT.h5.ckpt\n"
    "      --force           replace an existing output file\n"
    "  -q, --quiet           no tables and no progress bar\n"
    "\n"
    "Runs (1 + parameters x 2 x deltas) x replications runs (Morris: trajectories x\n"
    "(parameters + 1) x replications). On a cluster: mpirun -np N ragsim-mpi\n"
    "sensitivity ... (the same output). See docs/sensitivity.md. Exit status: 0\n"
    "success, 1 runtime failure, 2 bad usage or input, 130/143 interrupted.\n";

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
    bool realint;                   /* Morris: an integer as written that the scenario takes as a real */
    double lo, hi;                  /* Morris: the range, in the base unit */
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


/* ---- the plan: the configurations as a design ------------------------------------------------ */

/* What a design point is. */
typedef struct conf {
    size_t param;                   /* OAT: the parameter changed; Morris: the one changed from the trajectory's
                                     * previous point (SIZE_MAX: the trajectory's start) */
    size_t j;                       /* OAT: the change: 2q is +delta[q], 2q+1 is -delta[q] */
    double applied;                 /* OAT: the relative change as applied; Morris: the step in the unit range as applied */
    size_t traj;                    /* Morris: the trajectory */
} conf_t;

typedef struct plan {
    rs_scenario_t s;
    bool loaded;
    int vi;
    int64_t reps;
    uint64_t seed;
    param_t *ps;
    size_t np, pcap;
    const char **metrics, **plist;
    size_t nm, nmr, npl;            /* nmr: the metrics shown; the outcomes' metrics follow them */
    int krec, ksucc, kp95;
    char *mcopy, *pcopy;
    conf_t *conf;                   /* per design point */
    size_t nconf, cconf;
    char *notes;                    /* the changes skipped, one line each */
    size_t nnotes, cnotes;
} plan_t;

static void plan_fini(plan_t *pl)
{
    if (pl->loaded) rs_unload(&pl->s);
    free(pl->ps);
    free(pl->metrics);
    free(pl->plist);
    free(pl->mcopy);
    free(pl->pcopy);
    free(pl->conf);
    free(pl->notes);
    memset(pl, 0, sizeof *pl);
}

static int note(plan_t *pl, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int note(plan_t *pl, const char *fmt, ...)
{
    char line[768];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    size_t n = strlen(line);
    if (pl->nnotes + n + 2 > pl->cnotes) {
        size_t c = (pl->cnotes + n + 2) * 2;
        char *p = realloc(pl->notes, c);
        if (!p) return SIM_ENOMEM;
        pl->notes = p;
        pl->cnotes = c;
    }
    memcpy(pl->notes + pl->nnotes, line, n);
    pl->nnotes += n;
    pl->notes[pl->nnotes++] = '\n';
    pl->notes[pl->nnotes] = 0;
    return 0;
}

/* Load the scenario with the command's overrides and `extra`: 0, or the
 * code with the first line of the message in why. */
static int try_load(const sw_opts_t *o, const char *const *extra, size_t nextra, char *why, size_t whylen)
{
    const char **sets = calloc(o->nsets + nextra + 1, sizeof *sets);
    if (!sets) return SIM_ENOMEM;
    for (size_t i = 0; i < o->nsets; i++) sets[i] = o->sets[i];
    for (size_t i = 0; i < nextra; i++) sets[o->nsets + i] = extra[i];
    rs_scenario_t s;
    sim_diag_t d;
    sim_diag_init(&d);
    int rc = rs_load(&s, o->sweep, sets, o->nsets + nextra, &d);
    if (rc) {
        const char *t = sim_diag_text(&d);
        snprintf(why, whylen, "%.*s", (int)strcspn(t, "\n"), t);
    }
    rs_unload(&s);
    sim_diag_fini(&d);
    free(sets);
    return rc;
}

/* Add a design point with its overrides (copied) and meaning. */
static int add_point(sw_def_t *def, plan_t *pl, const char *const *sets, size_t nsets, conf_t c)
{
    if (pl->nconf == pl->cconf) {
        size_t cap = pl->cconf ? 2 * pl->cconf : 64;
        conf_t *nc = realloc(pl->conf, cap * sizeof *nc);
        if (!nc) return SIM_ENOMEM;
        pl->conf = nc;
        sw_design_point_t *nd = realloc(def->design, cap * sizeof *nd);
        if (!nd) return SIM_ENOMEM;
        def->design = nd;
        pl->cconf = cap;
    }
    sw_design_point_t *dp = &def->design[pl->nconf];
    dp->nsets = 0;
    dp->sets = calloc(nsets ? nsets : 1, sizeof *dp->sets);
    pl->conf[pl->nconf] = c;
    def->npoints = ++pl->nconf;   /* sw_def_fini frees the points counted */
    if (!dp->sets) return SIM_ENOMEM;
    for (size_t i = 0; i < nsets; i++) {
        if (!(dp->sets[i] = strdup(sets[i]))) return SIM_ENOMEM;
        dp->nsets++;
    }
    return 0;
}

/* A value of parameter p as scenario text (w in the base unit), and the
 * value as the scenario will take it (rounded where p needs it). */
static double value_text(const param_t *p, double w, char *buf, size_t n)
{
    switch (p->kind) {
    case K_INT:
        if (p->realint) {
            snprintf(buf, n, "%.12g", w);
            return strtod(buf, NULL);
        }
        snprintf(buf, n, "%lld", llround(w));
        return (double)llround(w);
    case K_DUR: snprintf(buf, n, "%lldns", llround(w)); return (double)llround(w);
    case K_SIZE: snprintf(buf, n, "%lldB", llround(w)); return (double)llround(w);
    case K_RATE: snprintf(buf, n, "%.12g/s", w); return w;
    case K_RATIO: snprintf(buf, n, "%.12g%%", w * 100); return w;
    default: snprintf(buf, n, "%.12g", w); return w;
    }
}

/* One at a time: point 0 the base, then every parameter at +d and -d of
 * every delta that changes it and that the scenario accepts. */
static int design_oat(const sw_opts_t *o, const se_opts_t *so, sw_def_t *def, plan_t *pl)
{
    char why[512], set[512], val[64];
    const char *sp = set;
    int rc = add_point(def, pl, NULL, 0, (conf_t){.param = SIZE_MAX});
    for (size_t i = 0; !rc && i < pl->np; i++) {
        const param_t *p = &pl->ps[i];
        for (size_t j = 0; !rc && j < 2 * so->ndelta; j++) {
            double dl = j % 2 ? -so->delta[j / 2] : so->delta[j / 2];
            bool exact = false;
            if (p->kind == K_INT) {
                /* an integer as written may be a real-valued parameter (a factor of 5): the exact value if
                 * the scenario takes it, rounded only if it wants an integer */
                snprintf(val, sizeof val, "%.12g", p->value * (1 + dl));
                snprintf(set, sizeof set, "%s=%s", p->path, val);
                rc = try_load(o, &sp, 1, why, sizeof why);
                if (rc && rc != SIM_ECONFIG) return rc;
                exact = rc == 0;
                rc = 0;
            }
            if (!exact) {
                if (!perturbed_text(p->kind, p->value, 1 + dl, val, sizeof val)) {
                    rc = note(pl, "  %s: %s%+.0f%% skipped: it rounds to the same value", p->path, p->text, 100 * dl);
                    continue;
                }
                snprintf(set, sizeof set, "%s=%s", p->path, val);
                rc = try_load(o, &sp, 1, why, sizeof why);
                if (rc == SIM_ECONFIG) {
                    rc = note(pl, "  %s: %s%+.0f%% skipped: %s", p->path, p->text, 100 * dl, why);
                    continue;
                }
                if (rc) return rc;
            }
            rc = add_point(def, pl, &sp, 1,
                           (conf_t){.param = i, .j = j, .applied = exact ? dl : applied_change(p->kind, p->value, 1 + dl)});
        }
    }
    return rc;
}

/* Morris (1991) trajectories with Campolongo et al. (2007)'s random
 * directions: every parameter i in [lo_i, hi_i] = x_i (1 -+ d) on the
 * levels k / (P - 1); a trajectory starts at a random level (below
 * 1 - Delta, Delta = P / (2 (P - 1))) of every parameter, flips each
 * parameter's direction at random (starting Delta above and stepping
 * down), and moves the parameters by Delta one at a time in a random
 * order: parameters + 1 points. Draws from the stream sensitivity/morris
 * (docs/random-streams.md). `check`: load every point (the master; an
 * error names the point). */
static int design_morris(const sw_opts_t *o, const se_opts_t *so, sw_def_t *def, plan_t *pl, bool check, FILE *err)
{
    size_t k = pl->np, P = (size_t)so->levels, half = P / 2;
    double d = so->delta[0];
    char why[512];
    int rc = 0;
    /* the ranges, and whether an integer is taken as a real */
    for (size_t i = 0; i < k; i++) {
        param_t *p = &pl->ps[i];
        p->lo = p->value * (1 - d);
        p->hi = p->value * (1 + d);
        if (p->kind == K_INT) {
            char set[512];
            const char *sp = set;
            snprintf(set, sizeof set, "%s=%.12g", p->path, p->value + 0.5);
            rc = try_load(o, &sp, 1, why, sizeof why);
            if (rc && rc != SIM_ECONFIG) return rc;
            p->realint = rc == 0;
            rc = 0;
        }
    }
    char **sets = calloc(k, sizeof *sets);
    size_t *lev = calloc(k, sizeof *lev), *perm = calloc(k, sizeof *perm);
    int *dir = calloc(k, sizeof *dir);
    double *x = calloc(k, sizeof *x);
    if (!sets || !lev || !perm || !dir || !x) rc = SIM_ENOMEM;
    for (size_t i = 0; !rc && i < k; i++)
        if (!(sets[i] = malloc(512))) rc = SIM_ENOMEM;
    sim_rng_t r;
    sim_rng_init(&r, sim_rng_stream_seed(pl->seed, "sensitivity/morris", 0));
    for (size_t t = 0; !rc && t < (size_t)so->trajectories; t++) {
        for (size_t i = 0; i < k; i++) {
            size_t base = (size_t)sim_rng_below(&r, half);
            dir[i] = sim_rng_below(&r, 2) ? -1 : 1;
            lev[i] = dir[i] > 0 ? base : base + half;
            perm[i] = i;
        }
        for (size_t i = k; i-- > 1;) {
            size_t j = (size_t)sim_rng_below(&r, i + 1), tmp = perm[i];
            perm[i] = perm[j];
            perm[j] = tmp;
        }
        for (size_t step = 0; !rc && step <= k; step++) {
            conf_t c = {.param = SIZE_MAX, .traj = t};
            if (step > 0) {
                size_t i = perm[step - 1];
                lev[i] = dir[i] > 0 ? lev[i] + half : lev[i] - half;
                c.param = i;
            }
            for (size_t i = 0; i < k; i++) {
                const param_t *p = &pl->ps[i];
                char val[64];
                double w = p->lo + (p->hi - p->lo) * (double)lev[i] / (double)(P - 1);
                double got = value_text(p, w, val, sizeof val);
                double xi = (got - p->lo) / (p->hi - p->lo);
                if (step > 0 && i == c.param) c.applied = xi - x[i];
                x[i] = xi;
                snprintf(sets[i], 512, "%s=%s", p->path, val);
            }
            if (check) {
                rc = try_load(o, (const char *const *)sets, k, why, sizeof why);
                if (rc == SIM_ECONFIG) {
                    if (err)
                        fprintf(err, "ragsim: error: --method morris: trajectory %zu, point %zu does not load: %s (narrow "
                                     "the range with --delta, or leave the parameter out with --params)\n",
                                t + 1, step, why);
                    break;
                }
                if (rc) break;
            }
            rc = add_point(def, pl, (const char *const *)sets, k, c);
        }
    }
    for (size_t i = 0; sets && i < k; i++) free(sets[i]);
    free(sets);
    free(lev);
    free(perm);
    free(dir);
    free(x);
    return rc;
}

static uint64_t hash_str(uint64_t h, const char *s)
{
    for (; *s; s++) {
        h ^= (unsigned char)*s;
        h *= 0x100000001B3ull;
    }
    h ^= 0xff;
    return h * 0x100000001B3ull;
}

/* Everything the command decides before running: the scenario, the
 * metrics, the parameters, the design. Messages to err (NULL: quiet, a
 * worker). Returns 0 or the exit status. */
static int build(const sw_opts_t *o, sw_def_t *def, plan_t *pl, FILE *err)
{
    const se_opts_t *so = o->cmd;
    sim_diag_t d;
    sim_diag_init(&d);
    memset(def, 0, sizeof *def);
    def->load = -1;
    pl->krec = pl->ksucc = pl->kp95 = -1;
    int rc = rs_load(&pl->s, o->sweep, o->sets, o->nsets, &d);
    pl->loaded = true;
    if (err) fputs(sim_diag_text(&d), err);
    sim_diag_fini(&d);
    if (rc) return rc == SIM_ENOMEM ? 1 : 2;
    rs_scenario_t *s = &pl->s;
    int vi = so->variant ? rs_variant_find(s, so->variant) : (int)s->baseline;
    if (vi < 0) {
        if (err) fprintf(err, "ragsim: error: --variant: the scenario has no variant '%s'\n", so->variant);
        return 2;
    }
    pl->vi = vi;
    const sim_cfg_node_t *root = s->variants[vi].root;
    pl->reps = o->reps > 0 ? o->reps : s->sc.replications;
    pl->seed = o->have_seed ? o->seed : s->sc.seed;
    if (so->method == SE_OAT && pl->reps < 2) {
        if (err) fprintf(err, "ragsim: error: sensitivity needs at least 2 replications for its intervals (--reps)\n");
        return 2;
    }

    /* metrics */
    {
        rs_report_t rep;
        const char **names = NULL;
        size_t nn = 0;
        if (rs_metric_names(s, (size_t)vi, &rep, &names, &nn) != 0) {
            free(names);
            rs_report_fini(&rep);
            return 1;
        }
        int bad = 0;
        if (so->metrics) {
            if (!(pl->mcopy = split_list(so->metrics, &pl->metrics, &pl->nm))) bad = 1;
            for (size_t k = 0; !bad && k < pl->nm; k++) {
                const char *mk = pl->metrics[k];
                bool known = strchr(mk, ':') != NULL;
                for (size_t j = 0; j < nn && !known; j++) known = !strcmp(names[j], mk);
                if (!known) {
                    const char *b = sim_cfg_closest(mk, names, nn);
                    if (err)
                        fprintf(err, "ragsim: error: --metrics: '%s' is not a metric the runs report%s%s%s\n", mk,
                                b ? " (did you mean '" : "", b ? b : "", b ? "'?)" : "");
                    bad = 2;
                } else if (strlen(mk) >= SW_METRIC_NAME) {
                    if (err) fprintf(err, "ragsim: error: --metrics: '%s' is longer than %d characters\n", mk, SW_METRIC_NAME - 1);
                    bad = 2;
                }
            }
        } else {
            static const char *const defaults[] = {"success_ratio", "latency_p95_s", "goodput_per_s", INC_RECOVERED,
                                                   INC_TIME_BELOW_SLO, NULL};
            pl->metrics = calloc(8, sizeof *pl->metrics);
            if (!pl->metrics) bad = 1;
            for (const char *const *m = defaults; !bad && *m; m++)
                for (size_t j = 0; j < nn; j++)
                    if (!strcmp(names[j], *m)) {
                        pl->metrics[pl->nm++] = *m;
                        break;
                    }
        }
        free(names);
        rs_report_fini(&rep);
        if (bad) return bad;
    }
    pl->nmr = pl->nm;
    {
        const char **mm = realloc(pl->metrics, (pl->nm + 3) * sizeof *mm);
        if (!mm) return 1;
        pl->metrics = mm;
        const char *need[3] = {INC_RECOVERED, "success_ratio", "latency_p95_s"};
        int *idx[3] = {&pl->krec, &pl->ksucc, &pl->kp95};
        for (int q = 0; q < 3; q++) {
            for (size_t k = 0; k < pl->nm; k++)
                if (!strcmp(pl->metrics[k], need[q])) *idx[q] = (int)k;
            if (*idx[q] < 0) {
                pl->metrics[pl->nm] = need[q];
                *idx[q] = (int)pl->nm++;
            }
        }
    }

    /* parameters */
    if (so->params) {
        if (!(pl->pcopy = split_list(so->params, &pl->plist, &pl->npl))) return 1;
        pl->ps = calloc(pl->npl + 1, sizeof *pl->ps);
        if (!pl->ps) return 1;
        for (size_t i = 0; i < pl->npl; i++) {
            const sim_cfg_node_t *n = node_at(root, pl->plist[i]);
            double v = NAN;
            int k = n ? value_kind(n, &v) : K_NONE;
            if (k == K_NONE || !(v != 0)) {
                if (err)
                    fprintf(err, "ragsim: error: --params: '%s' is not a non-zero numeric value of the scenario%s\n",
                            pl->plist[i], n ? "" : " (no such path)");
                return 2;
            }
            for (size_t j = 0; j < pl->np; j++)
                if (!strcmp(pl->ps[j].path, pl->plist[i])) {
                    if (err) fprintf(err, "ragsim: error: --params: '%s' is listed twice\n", pl->plist[i]);
                    return 2;
                }
            param_t *p = &pl->ps[pl->np++];
            snprintf(p->path, sizeof p->path, "%s", pl->plist[i]);
            p->kind = k;
            p->value = v;
            snprintf(p->text, sizeof p->text, "%s", n->text);
        }
    } else {
        char path[512] = "";
        if (collect(root, path, sizeof path, &pl->ps, &pl->np, &pl->pcap, 0)) return 1;
    }
    if (pl->np == 0) {
        if (err) fprintf(err, "ragsim: error: the scenario has no numeric parameter to perturb\n");
        return 2;
    }

    /* the definition the master and the workers run */
    def->path = o->sweep;
    def->name = "sensitivity";
    def->replications = pl->reps;
    def->seed = pl->seed;
    def->slo_success = s->slo_success;
    def->slo_p95 = s->slo_p95;
    if (!(def->scenario_path = strdup(o->sweep))) return 1;
    if (!(def->variants = calloc(1, sizeof *def->variants)) || !(def->variants[0] = strdup(s->variants[vi].name))) return 1;
    def->nvariants = 1;
    if (o->nsets && !(def->sets = calloc(o->nsets, sizeof *def->sets))) return 1;
    for (size_t i = 0; i < o->nsets; i++)
        if (!(def->sets[def->nsets++] = strdup(o->sets[i]))) return 1;
    size_t nx = 0;
    for (size_t k = 0; k < pl->nm; k++) nx += strchr(pl->metrics[k], ':') != NULL;
    if (nx && !(def->extra_metrics = calloc(nx, sizeof *def->extra_metrics))) return 1;
    for (size_t k = 0; k < pl->nm; k++)
        if (strchr(pl->metrics[k], ':') && !(def->extra_metrics[def->nextra++] = strdup(pl->metrics[k]))) return 1;
    if (so->method == SE_MORRIS) rc = design_morris(o, so, def, pl, err != NULL, err);
    else rc = design_oat(o, so, def, pl);
    if (rc == SIM_ECONFIG) return 2;
    if (rc) return 1;
    if ((double)def->npoints * (double)def->replications > SW_MAX_RUNS) {
        if (err)
            fprintf(err, "ragsim: error: %zu configurations x %lld replications is more than %d runs\n", def->npoints,
                    (long long)def->replications, SW_MAX_RUNS);
        return 2;
    }

    /* the checkpoint's key: everything that decides the runs */
    uint64_t h = 0xCBF29CE484222325ull;
    size_t srclen = 0;
    const char *src = sim_cfg_source(s->cfg, &srclen);
    for (size_t i = 0; src && i < srclen; i++) {
        h ^= (unsigned char)src[i];
        h *= 0x100000001B3ull;
    }
    h = hash_str(h, RAGSIM_VERSION);
    h = hash_str(h, "ragsim sensitivity");
    h = sim_rng_sm64(h ^ (uint64_t)sizeof(sw_result_t));
    for (size_t i = 0; i < def->nsets; i++) h = hash_str(h, def->sets[i]);
    for (size_t p = 0; p < def->npoints; p++) {
        h = sim_rng_sm64(h ^ p);
        for (size_t i = 0; i < def->design[p].nsets; i++) h = hash_str(h, def->design[p].sets[i]);
    }
    for (size_t i = 0; i < def->nextra; i++) h = hash_str(h, def->extra_metrics[i]);
    h = hash_str(h, def->variants[0]);
    def->hash = sim_rng_sm64(h ^ def->seed) ^ (uint64_t)def->replications;
    return 0;
}

int se_load_def(const sw_opts_t *o, sw_def_t *def, sim_diag_t *d)
{
    (void)d;
    plan_t pl = {0};
    int st = build(o, def, &pl, NULL);
    plan_fini(&pl);
    return st == 0 ? 0 : st == 2 ? SIM_ECONFIG : SIM_ENOMEM;
}

/* ---- Morris: the elementary effects ----------------------------------------------------------- */

typedef struct mrow {
    size_t param, metric, n;        /* n: the effects (a step that rounds to nothing has none) */
    double mu, mu_star, sigma;      /* in the metric's unit per the parameter's whole range */
    double mu_star_rel;             /* mu* / (|mean of the metric| x 2d): comparable to an elasticity */
} mrow_t;

static int mrow_cmp(const void *x, const void *y)
{
    const mrow_t *a = *(const mrow_t *const *)x, *b = *(const mrow_t *const *)y;
    double ea = isnan(a->mu_star) ? -1 : a->mu_star, eb = isnan(b->mu_star) ? -1 : b->mu_star;
    if (ea != eb) return ea > eb ? -1 : 1;
    return a->param < b->param ? -1 : a->param > b->param;
}

/* ym[p * nm + k]: the mean over the replications of point p. */
static int morris_effects(const plan_t *pl, const double *ym, double d, mrow_t *rows)
{
    size_t np = pl->np, nm = pl->nmr, all = pl->nm;
    double *ee = malloc((pl->nconf + 1) * sizeof *ee);
    if (!ee) return SIM_ENOMEM;
    for (size_t k = 0; k < nm; k++) {
        double s = 0;
        size_t ns = 0;
        for (size_t p = 0; p < pl->nconf; p++)
            if (isfinite(ym[p * all + k])) {
                s += ym[p * all + k];
                ns++;
            }
        double mean = ns ? s / (double)ns : NAN;
        for (size_t i = 0; i < np; i++) {
            size_t n = 0;
            for (size_t p = 1; p < pl->nconf; p++) {
                const conf_t *c = &pl->conf[p];
                if (c->param != i || c->applied == 0) continue;
                double a = ym[(p - 1) * all + k], b = ym[p * all + k];
                if (isfinite(a) && isfinite(b)) ee[n++] = (b - a) / c->applied;
            }
            mrow_t *w = &rows[k * np + i];
            *w = (mrow_t){.param = i, .metric = k, .n = n, .mu = NAN, .mu_star = NAN, .sigma = NAN, .mu_star_rel = NAN};
            if (n == 0) continue;
            double m = 0, ma = 0, v = 0;
            for (size_t q = 0; q < n; q++) {
                m += ee[q];
                ma += fabs(ee[q]);
            }
            m /= (double)n;
            ma /= (double)n;
            for (size_t q = 0; q < n; q++) v += (ee[q] - m) * (ee[q] - m);
            w->mu = m;
            w->mu_star = ma;
            w->sigma = n > 1 ? sqrt(v / (double)(n - 1)) : NAN;
            w->mu_star_rel = mean != 0 ? ma / (fabs(mean) * 2 * d) : NAN;
        }
    }
    free(ee);
    return 0;
}

/* ---- the output file ------------------------------------------------------------------------ */

typedef struct wctx {
    const sw_opts_t *o;
    const plan_t *pl;
    const row_t *rows;
    size_t nrows;
    const mrow_t *mrows;
    size_t nmrows;
} wctx_t;

static int write_out(sim_trace_t *tr, void *ctx)
{
    const wctx_t *c = ctx;
    const plan_t *pl = c->pl;
    const se_opts_t *so = c->o->cmd;
    int w = 0;
    w |= sim_trace_attr_str(tr, "/", "format", "ragsim-sensitivity");
    w |= sim_trace_attr_i64(tr, "/", "format_version", 2);
    w |= sim_trace_attr_str(tr, "/", "ragsim_version", RAGSIM_VERSION);
    w |= sim_trace_attr_str(tr, "/", "scenario_file", c->o->sweep);
    w |= sim_trace_attr_str(tr, "/", "variant", pl->s.variants[pl->vi].name);
    w |= sim_trace_attr_i64(tr, "/", "master_seed", (int64_t)pl->seed);
    w |= sim_trace_attr_i64(tr, "/", "replications", pl->reps);
    w |= sim_trace_attr_str(tr, "/", "method", so->method == SE_MORRIS ? "morris" : "oat");
    sim_table_t t;
    if (so->method == SE_MORRIS) {
        w |= sim_trace_attr_i64(tr, "/", "trajectories", so->trajectories);
        w |= sim_trace_attr_i64(tr, "/", "levels", so->levels);
        w |= sim_trace_attr_f64(tr, "/", "range", so->delta[0]);
        sim_table_init(&t, "morris");
        sim_table_col_str(&t, "parameter", 256);
        sim_table_col_str(&t, "value", 64);
        sim_table_col_str(&t, "metric", 64);
        sim_table_col_f64(&t, "low", "");
        sim_table_col_f64(&t, "high", "");
        sim_table_col_i64(&t, "n", "1");
        sim_table_col_f64(&t, "mu", "");
        sim_table_col_f64(&t, "mu_star", "");
        sim_table_col_f64(&t, "sigma", "");
        sim_table_col_f64(&t, "mu_star_rel", "1");
        for (size_t j = 0; j < c->nmrows; j++) {
            const mrow_t *x = &c->mrows[j];
            const param_t *p = &pl->ps[x->param];
            unsigned char *r = sim_table_append(&t);
            if (!r) {
                sim_table_fini(&t);
                return SIM_ENOMEM;
            }
            double sc = p->kind == K_DUR ? 1e-9 : 1;   /* durations in s */
            sim_row_str(&t, r, 0, p->path);
            sim_row_str(&t, r, 1, p->text);
            sim_row_str(&t, r, 2, pl->metrics[x->metric]);
            sim_row_f64(&t, r, 3, p->lo * sc);
            sim_row_f64(&t, r, 4, p->hi * sc);
            sim_row_i64(&t, r, 5, (int64_t)x->n);
            sim_row_f64(&t, r, 6, x->mu);
            sim_row_f64(&t, r, 7, x->mu_star);
            sim_row_f64(&t, r, 8, x->sigma);
            sim_row_f64(&t, r, 9, x->mu_star_rel);
        }
        w |= sim_trace_table(tr, "/morris", &t);
        sim_table_fini(&t);
        return w ? SIM_EHDF5 : 0;
    }
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
    for (size_t j = 0; j < c->nrows; j++) {
        const row_t *x = &c->rows[j];
        unsigned char *r = sim_table_append(&t);
        if (!r) {
            sim_table_fini(&t);
            return SIM_ENOMEM;
        }
        sim_row_str(&t, r, 0, pl->ps[x->param].path);
        sim_row_str(&t, r, 1, pl->ps[x->param].text);
        sim_row_str(&t, r, 2, pl->metrics[x->metric]);
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
    return w ? SIM_EHDF5 : 0;
}

/* ---- the tables ------------------------------------------------------------------------------ */

static void print_oat(FILE *out, const se_opts_t *so, const plan_t *pl, const row_t *rows, size_t nrows,
                      const double *base, row_t **rk)
{
    size_t R = (size_t)pl->reps, nm = pl->nm;
    for (size_t k = 0; k < pl->nmr; k++) {
        size_t n = 0;
        for (size_t j = 0; j < nrows; j++)
            if (rows[j].metric == k && rows[j].delta == 0 && rows[j].size == so->delta[0]) rk[n++] = (row_t *)&rows[j];
        if (n == 0)   /* no central rows: one-sided at +d */
            for (size_t j = 0; j < nrows; j++)
                if (rows[j].metric == k && rows[j].delta == so->delta[0]) rk[n++] = (row_t *)&rows[j];
        qsort(rk, n, sizeof *rk, row_cmp_abs);
        fprintf(out, "\n%s (base %.6g): parameters ranked by |elasticity| (central, +-%.0f%%; 95%% interval); "
                     "change of the metric at +d and -d\n",
                pl->metrics[k], mean_of(base, R, nm, k), 100 * so->delta[0]);
        fprintf(out, "  %-3s %-44s %-12s %-28s %-22s %-22s %s\n", "#", "parameter", "value", "elasticity", "change at +d",
                "change at -d", "flips");
        size_t rank = 0;
        for (size_t j = 0; j < n; j++) {
            const row_t *w = rk[j];
            if (w->delta != 0 && w->delta != so->delta[0]) continue;
            double dmatch = so->delta[0];
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
            fprintf(out, "  %-3zu %-44s %-12s %-28s %-22s %-22s %s%s\n", ++rank, pl->ps[w->param].path,
                    pl->ps[w->param].text, e, cu, cd, w->flip_recovered ? "FLIP:recovered " : "",
                    w->flip_slo ? "FLIP:slo" : "");
        }
    }
}

static void print_morris(FILE *out, const se_opts_t *so, const plan_t *pl, const mrow_t *mrows, const mrow_t **rk)
{
    for (size_t k = 0; k < pl->nmr; k++) {
        for (size_t i = 0; i < pl->np; i++) rk[i] = &mrows[k * pl->np + i];
        qsort(rk, pl->np, sizeof *rk, mrow_cmp);
        fprintf(out, "\n%s: parameters ranked by mu* (Morris, %lld trajectories, %d levels in x (1 -+ %.0f%%)); mu, mu*, "
                     "sigma in the metric's unit per the parameter's whole range; mu*_rel = mu* / (|mean| x %.2g)\n",
                pl->metrics[k], (long long)so->trajectories, so->levels, 100 * so->delta[0], 2 * so->delta[0]);
        fprintf(out, "  %-3s %-44s %-12s %-12s %-12s %-12s %-10s %-9s %s\n", "#", "parameter", "value", "mu*", "mu",
                "sigma", "sigma/mu*", "mu*_rel", "effects");
        for (size_t i = 0; i < pl->np; i++) {
            const mrow_t *w = rk[i];
            fprintf(out, "  %-3zu %-44s %-12s %-12.4g %-12.4g %-12.4g %-10.3g %-9.3g %zu\n", i + 1, pl->ps[w->param].path,
                    pl->ps[w->param].text, w->mu_star, w->mu, w->sigma, w->sigma / w->mu_star, w->mu_star_rel, w->n);
        }
    }
}

/* ---- the command ------------------------------------------------------------------------------ */

int se_cmd(const sw_opts_t *o, sw_pool_t *pool, FILE *out, FILE *err)
{
    const se_opts_t *so = o->cmd;
    sw_def_t def;
    plan_t pl = {0};
    master_t m = {.o = o, .err = err};
    sw_pool_t fork_pool;
    sw_task_t *tasks = NULL;
    sw_result_t *res = NULL;
    double *vals = NULL, *ym = NULL;
    row_t *rows = NULL;
    mrow_t *mrows = NULL;
    void *rk = NULL;
    size_t nrows = 0;
    char *outpath = NULL;
    int status;
    sw_master_signals(&m);
    if ((status = build(o, &def, &pl, err)) != 0) goto out;
    outpath = o->out ? strdup(o->out) : NULL;
    if (!outpath) {
        char *b = rs_default_output(o->sweep);
        if (!b) goto nomem;
        size_t l = strlen(b);
        outpath = malloc(l + 16);
        if (outpath) snprintf(outpath, l + 16, "%.*s-sensitivity.h5", (int)(l - 3), b);
        free(b);
        if (!outpath) goto nomem;
    }
    {
        const sim_input_t inputs[] = {{o->sweep, "the scenario"}};
        if ((status = sw_master_start(&m, &def, o, pool, &fork_pool, outpath, inputs, 1, def.hash)) != 0) goto out;
        pool = m.pool;
    }
    status = 1;
    size_t R = (size_t)pl.reps, nm = pl.nm, NP = def.npoints;
    if (!o->quiet) {
        if (so->method == SE_MORRIS)
            fprintf(out, "sensitivity of %s (variant %s), Morris: %zu parameters, %lld trajectories x %zu points x %zu "
                         "replications, seed %llu",
                    o->sweep, def.variants[0], pl.np, (long long)so->trajectories, pl.np + 1, R,
                    (unsigned long long)pl.seed);
        else
            fprintf(out, "sensitivity of %s (variant %s): %zu parameters x %zu changes x %zu replications, seed %llu",
                    o->sweep, def.variants[0], pl.np, 2 * so->ndelta, R, (unsigned long long)pl.seed);
        if (pool && pool->nworkers) fprintf(out, ", %d %ss%s", pool->nworkers, pool->noun, pool->master_runs ? " + master" : "");
        fprintf(out, "\n");
        if (pl.notes) fputs(pl.notes, out);
        if (m.nck) fprintf(out, "resuming: %zu runs from %s\n", m.nck, m.ckpath);
        fflush(out);
    }
    size_t n = NP * R;
    m.total = n;
    tasks = calloc(n, sizeof *tasks);
    res = calloc(n, sizeof *res);
    vals = calloc(n * nm, sizeof *vals);
    if (!tasks || !res || !vals) goto nomem;
    for (size_t p = 0, k = 0; p < NP; p++)
        for (size_t r = 0; r < R; r++)
            tasks[k++] = (sw_task_t){.point = p, .seed_index = 0, .load = NAN, .variant = 0, .rep = (uint32_t)r};
    size_t bad = sw_run_batch(&m, tasks, n, res);
    sw_master_progress_clear(&m);
    if (rs_interrupted) goto out;
    if (sw_master_check_bad(&m, bad)) goto out;
    for (size_t i = 0; i < n; i++)
        for (size_t k = 0; k < nm; k++) vals[i * nm + k] = sw_run_metric(&res[i], pl.metrics[k]);
    wctx_t wc = {.o = o, .pl = &pl};
    if (so->method == SE_MORRIS) {
        ym = calloc(NP * nm, sizeof *ym);
        mrows = calloc(pl.np * pl.nmr + 1, sizeof *mrows);
        rk = calloc(pl.np + 1, sizeof(mrow_t *));
        if (!ym || !mrows || !rk) goto nomem;
        for (size_t p = 0; p < NP; p++)
            for (size_t k = 0; k < nm; k++) ym[p * nm + k] = mean_of(vals + p * R * nm, R, nm, k);
        if (morris_effects(&pl, ym, so->delta[0], mrows)) goto nomem;
        if (!o->quiet) print_morris(out, so, &pl, mrows, rk);
        wc.mrows = mrows;
        wc.nmrows = pl.np * pl.nmr;
    } else {
        const double *base = vals;   /* point 0 */
        rows = calloc(pl.np * (pl.nmr + 1) * (3 * so->ndelta) + 1, sizeof *rows);
        rk = calloc(pl.np * (pl.nmr + 1) * (3 * so->ndelta) + 1, sizeof(row_t *));
        if (!rows || !rk) goto nomem;
        int base_rec = outcome_recovered(base, R, nm, pl.krec),
            base_slo = outcome_slo(base, R, nm, pl.ksucc, pl.kp95, def.slo_success, def.slo_p95);
        size_t p = 1;
        for (size_t i = 0; i < pl.np; i++) {
            const double *pv[2 * SE_MAX_DELTAS] = {NULL};
            double appl[2 * SE_MAX_DELTAS] = {0};
            for (; p < NP && pl.conf[p].param == i; p++) {
                const conf_t *c = &pl.conf[p];
                const double *v = vals + p * R * nm;
                double dl = c->j % 2 ? -so->delta[c->j / 2] : so->delta[c->j / 2];
                pv[c->j] = v;
                appl[c->j] = c->applied;
                int prec = outcome_recovered(v, R, nm, pl.krec),
                    pslo = outcome_slo(v, R, nm, pl.ksucc, pl.kp95, def.slo_success, def.slo_p95);
                for (size_t k = 0; k < pl.nmr; k++) {
                    row_t *w = &rows[nrows++];
                    *w = (row_t){.param = i, .metric = k, .delta = dl, .size = so->delta[c->j / 2], .applied = c->applied,
                                 .base = mean_of(base, R, nm, k)};
                    fill(w, v, base, R, nm);
                    w->flip_recovered = base_rec >= 0 && prec >= 0 && prec != base_rec;
                    w->flip_slo = base_slo >= 0 && pslo >= 0 && pslo != base_slo;
                }
            }
            /* central: (+d) - (-d) */
            for (size_t q = 0; q < so->ndelta; q++) {
                if (!pv[2 * q] || !pv[2 * q + 1]) continue;
                for (size_t k = 0; k < pl.nmr; k++) {
                    row_t *w = &rows[nrows++];
                    *w = (row_t){.param = i, .metric = k, .delta = 0, .size = so->delta[q],
                                 .applied = appl[2 * q] - appl[2 * q + 1], .base = mean_of(base, R, nm, k)};
                    fill(w, pv[2 * q], pv[2 * q + 1], R, nm);
                    w->pert = NAN;
                    /* the flips of either side */
                    for (size_t j = 0; j < nrows - 1; j++) {
                        const row_t *x = &rows[j];
                        if (x->param == i && x->metric == k && x->delta != 0 && fabs(x->delta) == so->delta[q]) {
                            w->flip_recovered |= x->flip_recovered;
                            w->flip_slo |= x->flip_slo;
                        }
                    }
                }
            }
        }
        if (!o->quiet) print_oat(out, so, &pl, rows, nrows, base, rk);
        wc.rows = rows;
        wc.nrows = nrows;
    }
    if ((status = sw_master_write(&m, outpath, write_out, &wc)) != 0) goto out;
    if (!o->quiet)
        fprintf(out, "\nwrote %s (%zu rows, %zu runs, %.1f s wall)\n", outpath,
                so->method == SE_MORRIS ? wc.nmrows : nrows, n, sw_master_elapsed(&m));
    goto out;
nomem:
    fprintf(err, "ragsim: error: out of memory\n");
    status = 1;
out:
    if (pool && !m.pool) pool->shutdown(pool->ctx, true);   /* workers of a pool that was never started */
    status = sw_master_end(&m, status, outpath);
    plan_fini(&pl);
    sw_def_fini(&def);
    free(tasks);
    free(res);
    free(vals);
    free(ym);
    free(rows);
    free(mrows);
    free(rk);
    free(outpath);
    return status;
}
