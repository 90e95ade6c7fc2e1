/* The sweep's analysis: runs grouped by (point, variant) with the mean and
 * 95% half-width of every metric (sw_analyse), and the capacity answer of
 * a variant at a cell of the other axes (sw_capacity_of): the largest load
 * meeting the SLO and capacity.require, its interval and the knee; and the
 * same judgement on the runs at one load of a bisection (sw_load_meets).
 * Calls sim/stats and the sweep's internals (sweep_internal.h). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "experiment/sweep.h"
#include "experiment/sweep_internal.h"
#include "sim/error.h"
#include "sim/stats.h"

/* ---- analysis ---------------------------------------------------------------------- */

static uint64_t cell_of(const sw_def_t *def, uint64_t grid)
{
    size_t coord[SW_MAX_AXES];
    sw_point_coords(def, grid, coord);
    uint64_t c = 0;
    for (size_t i = 0; i < def->naxes; i++)
        if ((int)i != def->load) c = c * def->axes[i].n + coord[i];
    return c;
}

int sw_metric_index(const analysis_t *a, const char *name)
{
    for (size_t i = 0; i < a->nmc; i++)
        if (!strcmp(a->mc[i].name, name)) return (int)i;
    return -1;
}

double sw_run_metric(const sw_result_t *r, const char *name)
{
    for (uint32_t i = 0; i < r->nmetrics; i++)
        if (!strcmp(r->m[i].name, name)) return r->m[i].value;
    return NAN;
}

void sw_analysis_fini(analysis_t *a)
{
    for (size_t i = 0; i < a->ng; i++) {
        free(a->g[i].mean);
        free(a->g[i].hw);
    }
    free(a->g);
    free(a->mc);
    free(a->pts);
    free(a->run_point);
    memset(a, 0, sizeof *a);
}

/* Sorts runs in place. */
int sw_analyse(analysis_t *a, const sw_def_t *def, sw_result_t *runs, size_t nruns)
{
    memset(a, 0, sizeof *a);
    a->def = def;
    a->runs = runs;
    a->nruns = nruns;
    qsort(runs, nruns, sizeof *runs, sw_result_cmp);
    a->run_point = calloc(nruns ? nruns : 1, sizeof *a->run_point);
    a->pts = calloc(nruns ? nruns : 1, sizeof *a->pts);
    a->mc = calloc(SW_MAX_METRICS * 2, sizeof *a->mc);
    a->g = calloc(nruns ? nruns : 1, sizeof *a->g);
    if (!a->run_point || !a->pts || !a->mc || !a->g) return SIM_ENOMEM;
    a->ncells = 1;
    for (size_t i = 0; i < def->naxes; i++)
        if ((int)i != def->load) a->ncells *= def->axes[i].n;
    for (size_t i = 0; i < nruns; i++) {
        const sw_task_t *t = &runs[i].task;
        bool newpt = a->npts == 0 || a->pts[a->npts - 1].grid != t->point ||
                     memcmp(&a->pts[a->npts - 1].load, &t->load, 8) != 0;
        if (newpt) {
            outpoint_t *p = &a->pts[a->npts++];
            p->grid = t->point;
            p->load = t->load;
            p->cell = cell_of(def, t->point);
            size_t coord[SW_MAX_AXES];
            sw_point_coords(def, t->point, coord);
            for (size_t k = 0; k < def->naxes; k++)
                p->axis[k] = ((int)k == def->load && !isnan(t->load)) ? t->load : def->axes[k].value[coord[k]];
        }
        a->run_point[i] = a->npts - 1;
        for (uint32_t k = 0; k < runs[i].nmetrics; k++)
            if (sw_metric_index(a, runs[i].m[k].name) < 0 && a->nmc < SW_MAX_METRICS * 2) {
                snprintf(a->mc[a->nmc].name, SW_METRIC_NAME, "%s", runs[i].m[k].name);
                a->mc[a->nmc++].kind = (rs_kind_t)runs[i].m[k].kind;
            }
    }
    for (size_t i = 0; i < nruns;) {
        size_t j = i;
        while (j < nruns && a->run_point[j] == a->run_point[i] && runs[j].task.variant == runs[i].task.variant) j++;
        group_t *g = &a->g[a->ng++];
        g->point = a->run_point[i];
        g->variant = runs[i].task.variant;
        g->first = i;
        g->n = j - i;
        g->mean = calloc(a->nmc ? a->nmc : 1, sizeof *g->mean);
        g->hw = calloc(a->nmc ? a->nmc : 1, sizeof *g->hw);
        double *x = calloc(g->n, sizeof *x);
        if (!g->mean || !g->hw || !x) {
            free(x);
            return SIM_ENOMEM;
        }
        for (size_t k = 0; k < a->nmc; k++) {
            size_t nx = 0;
            for (size_t r = i; r < j; r++) {
                double v = sw_run_metric(&runs[r], a->mc[k].name);
                if (isfinite(v)) x[nx++] = v;
            }
            sim_ci_t c = sim_ci_student(x, nx, 0.95);
            g->mean[k] = nx ? c.mean : NAN;
            g->hw[k] = nx >= 2 ? c.half_width : NAN;
        }
        free(x);
        i = j;
    }
    return 0;
}

/* ---- capacity answers ------------------------------------------------------------- */

/* Whether values meet the SLO and the requirements. value(ctx, metric, &hw)
 * gives a metric's mean and half-width; sign 0 judges the means, -1 the
 * pessimistic end of each interval, +1 the optimistic end. A metric
 * without a value fails. */
typedef double (*value_fn)(const void *ctx, const char *metric, double *hw);

static bool bound_ok(double m, double h, int sign, bool is_max, double bound)
{
    if (!isfinite(m)) return false;
    if (isnan(h)) h = 0;
    return is_max ? m - sign * h <= bound : m + sign * h >= bound;
}

static bool meets(const sw_def_t *def, value_fn value, const void *ctx, int sign)
{
    double h;
    double m = value(ctx, "success_ratio", &h);
    if (!bound_ok(m, h, sign, false, def->slo_success)) return false;
    if (!isinf(def->slo_p95)) {
        m = value(ctx, "latency_p95_s", &h);
        if (!bound_ok(m, h, sign, true, def->slo_p95)) return false;
    }
    for (size_t i = 0; i < def->nreq; i++) {
        m = value(ctx, def->req[i].metric, &h);
        if (!bound_ok(m, h, sign, def->req[i].is_max, def->req[i].bound)) return false;
    }
    return true;
}

typedef struct {
    const analysis_t *a;
    const group_t *g;
} group_ref_t;

static double group_value(const void *ctx, const char *metric, double *hw)
{
    const group_ref_t *r = ctx;
    int k = sw_metric_index(r->a, metric);
    *hw = k >= 0 ? r->g->hw[k] : NAN;
    return k >= 0 ? r->g->mean[k] : NAN;
}

typedef struct {
    const sw_result_t *r;
    size_t n;
} runs_ref_t;

static double runs_value(const void *ctx, const char *metric, double *hw)
{
    const runs_ref_t *r = ctx;
    double s = 0;
    size_t n = 0;
    for (size_t i = 0; i < r->n; i++) {
        double v = sw_run_metric(&r->r[i], metric);
        if (isfinite(v)) s += v, n++;
    }
    *hw = NAN;
    return n ? s / (double)n : NAN;
}

static int group_load_cmp(const void *x, const void *y, void *ctx);
static const analysis_t *sort_ctx;

static int group_cmp_load(const void *x, const void *y)
{
    return group_load_cmp(x, y, (void *)sort_ctx);
}

static int group_load_cmp(const void *x, const void *y, void *ctx)
{
    const analysis_t *a = ctx;
    double lx = a->pts[(*(const group_t *const *)x)->point].axis[a->def->load];
    double ly = a->pts[(*(const group_t *const *)y)->point].axis[a->def->load];
    return lx < ly ? -1 : lx > ly;
}

/* Capacity per (variant, cell): the loads evaluated, in increasing order;
 * the answer is the highest load L such that every load up to L meets the
 * SLO on the means; its interval runs from the highest such load where the
 * whole 95% interval meets the SLO to the highest where it does not exclude
 * meeting it. The knee is where the mean p95 first reaches knee_factor
 * times its value at the lowest load (capacity.knee_factor, default 1.5),
 * interpolated linearly between the two loads around it. */
capacity_t sw_capacity_of(const analysis_t *a, uint32_t v, uint64_t cell, group_t **gs, size_t *ng_out)
{
    const sw_def_t *def = a->def;
    capacity_t c = {.variant = v, .cell = cell, .max_load = NAN, .lo = NAN, .hi = NAN, .succ = NAN, .succ_hw = NAN,
                    .p95 = NAN, .p95_hw = NAN, .knee = NAN};
    size_t ng = 0;
    for (size_t i = 0; i < a->ng; i++)
        if (a->g[i].variant == v && a->pts[a->g[i].point].cell == cell) gs[ng++] = &a->g[i];
    *ng_out = ng;
    c.npoints = ng;
    if (ng == 0) return c;
    c.example_point = gs[0]->point;
    sort_ctx = a;
    qsort(gs, ng, sizeof *gs, group_cmp_load);
    int ks = sw_metric_index(a, "success_ratio"), kp = sw_metric_index(a, "latency_p95_s");
    bool run_mean = true, run_sure = true, run_maybe = true;
    for (size_t i = 0; i < ng; i++) {
        double s = ks >= 0 ? gs[i]->mean[ks] : NAN, p = kp >= 0 ? gs[i]->mean[kp] : NAN;
        double load = a->pts[gs[i]->point].axis[def->load];
        group_ref_t ref = {a, gs[i]};
        run_mean = run_mean && meets(def, group_value, &ref, 0);
        run_sure = run_sure && meets(def, group_value, &ref, -1);
        run_maybe = run_maybe && meets(def, group_value, &ref, +1);
        if (run_mean) {
            c.max_load = load;
            c.succ = s;
            c.succ_hw = ks >= 0 ? gs[i]->hw[ks] : NAN;
            c.p95 = p;
            c.p95_hw = kp >= 0 ? gs[i]->hw[kp] : NAN;
        }
        if (run_sure) c.lo = load;
        if (run_maybe) c.hi = load;
    }
    c.all_meet = run_mean;
    /* the knee: where p95 first passes knee_factor x its value at the
     * lowest load, interpolated linearly between the two loads around it */
    if (ng >= 2 && kp >= 0 && isfinite(gs[0]->mean[kp])) {
        double y0 = gs[0]->mean[kp], target = def->knee_factor * y0;
        for (size_t i = 1; i < ng; i++) {
            double y = gs[i]->mean[kp], yp = gs[i - 1]->mean[kp];
            if (!isfinite(y) || y < target) continue;
            double x = a->pts[gs[i]->point].axis[def->load], xp = a->pts[gs[i - 1]->point].axis[def->load];
            c.knee = isfinite(yp) && y > yp && yp < target ? xp + (target - yp) / (y - yp) * (x - xp) : x;
            break;
        }
    }
    return c;
}

/* ---- one load of a bisection (sweep_find.c) ----------------------------------------- */

bool sw_load_meets(const sw_def_t *def, const sw_result_t *r, size_t n)
{
    runs_ref_t ref = {r, n};
    return meets(def, runs_value, &ref, 0);
}
