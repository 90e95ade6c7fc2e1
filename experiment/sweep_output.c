/* The sweep's output: the printed tables (per point and variant; the
 * capacity answers) and the output file (sw_write_output: the sweep's
 * definition, every run, the summary per point and variant, the capacity
 * answers; docs/sweeps.md lists the datasets). Calls the runner's value
 * format (rs_format_value), sim/trace and the sweep's internals
 * (sweep_internal.h). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "experiment/sweep.h"
#include "experiment/sweep_internal.h"
#include "sim/error.h"
#include "sim/json.h"
#include "sim/trace.h"

/* ---- printing -------------------------------------------------------------------------- */

static int utf8_width(const char *s)
{
    int w = 0;
    for (; *s; s++) w += ((unsigned char)*s & 0xC0) != 0x80;
    return w;
}

static void pad(FILE *out, const char *s, int w)
{
    fputs(s, out);
    for (int i = utf8_width(s); i < w; i++) fputc(' ', out);
}

#define PCOLS 12
#define PCELL 96

static void print_table(FILE *out, char (*cells)[PCOLS][PCELL], size_t rows, size_t cols)
{
    int w[PCOLS] = {0};
    for (size_t r = 0; r < rows; r++)
        for (size_t c = 0; c < cols; c++)
            if (utf8_width(cells[r][c]) > w[c]) w[c] = utf8_width(cells[r][c]);
    for (size_t r = 0; r < rows; r++) {
        for (size_t c = 0; c < cols; c++) {
            if (c + 1 == cols) fputs(cells[r][c], out);
            else pad(out, cells[r][c], w[c] + 2);
        }
        fputc('\n', out);
    }
}

static void axis_value_text(const sw_def_t *def, size_t axis, double v, char *buf, size_t n)
{
    const sw_axis_t *a = &def->axes[axis];
    if (a->kind == SW_TEXT) snprintf(buf, n, "%s", a->text[(size_t)v]);
    else sw_format_human(a->kind, v, buf, n);
}

void sw_print_points(FILE *out, const analysis_t *a)
{
    const sw_def_t *def = a->def;
    const char *want[4 + SW_MAX_REQS];
    size_t nw = 0;
    want[nw++] = "success_ratio";
    want[nw++] = "latency_p95_s";
    for (size_t i = 0; i < def->nreq; i++) want[nw++] = def->req[i].metric;
    want[nw++] = "goodput_per_s";
    want[nw++] = "throughput_per_s";
    int mk[4 + SW_MAX_REQS], nm = 0;
    for (size_t i = 0; i < nw && (size_t)nm + def->naxes + 1 < PCOLS; i++) {
        int k = sw_metric_index(a, want[i]);
        bool dup = false;
        for (int j = 0; j < nm; j++) dup |= mk[j] == k;
        if (k >= 0 && !dup) mk[nm++] = k;
    }
    size_t cols = def->naxes + 1 + (size_t)nm;
    if (cols > PCOLS) return;
    char(*cells)[PCOLS][PCELL] = calloc(a->ng + 1, sizeof *cells);
    if (!cells) return;
    for (size_t i = 0; i < def->naxes; i++) snprintf(cells[0][i], PCELL, "%s", def->axes[i].path);
    snprintf(cells[0][def->naxes], PCELL, "variant");
    for (int k = 0; k < nm; k++) snprintf(cells[0][def->naxes + 1 + (size_t)k], PCELL, "%s", a->mc[mk[k]].name);
    for (size_t g = 0; g < a->ng; g++) {
        const group_t *gr = &a->g[g];
        for (size_t i = 0; i < def->naxes; i++)
            axis_value_text(def, i, a->pts[gr->point].axis[i], cells[g + 1][i], PCELL);
        snprintf(cells[g + 1][def->naxes], PCELL, "%s", def->variants[gr->variant]);
        for (int k = 0; k < nm; k++)
            rs_format_value(cells[g + 1][def->naxes + 1 + (size_t)k], PCELL, a->mc[mk[k]].kind, gr->mean[mk[k]],
                            gr->hw[mk[k]]);
    }
    print_table(out, cells, a->ng + 1, cols);
    free(cells);
}

void sw_print_capacity(FILE *out, const analysis_t *a, const capacity_t *caps, size_t ncaps, bool find)
{
    const sw_def_t *def = a->def;
    const sw_axis_t *la = &def->axes[def->load];
    char p95[32];
    if (isinf(def->slo_p95)) snprintf(p95, sizeof p95, "unbounded");
    else sw_format_human(SW_DURATION, def->slo_p95, p95, sizeof p95);
    fprintf(out, "\ncapacity on '%s' (SLO: success_ratio >= %g, latency_p95 <= %s", la->path, def->slo_success, p95);
    for (size_t i = 0; i < def->nreq; i++)
        fprintf(out, ", %s %s %g", def->req[i].metric, def->req[i].is_max ? "<=" : ">=", def->req[i].bound);
    fprintf(out, "; %s)\n", find ? "bisection between the axis's ends" : "95% interval from the points' confidence intervals");
    size_t cols = 0;
    char(*cells)[PCOLS][PCELL] = calloc(ncaps + 1, sizeof *cells);
    if (!cells) return;
    snprintf(cells[0][cols++], PCELL, "variant");
    for (size_t i = 0; i < def->naxes && cols < PCOLS - 5; i++)
        if ((int)i != def->load) snprintf(cells[0][cols++], PCELL, "%s", def->axes[i].path);
    snprintf(cells[0][cols++], PCELL, "max load meeting SLO");
    snprintf(cells[0][cols++], PCELL, "95%% interval");
    snprintf(cells[0][cols++], PCELL, "success_ratio there");
    snprintf(cells[0][cols++], PCELL, "latency_p95 there");
    snprintf(cells[0][cols++], PCELL, "knee (p95)");
    for (size_t r = 0; r < ncaps; r++) {
        const capacity_t *c = &caps[r];
        size_t k = 0;
        char x[32], y[32];
        snprintf(cells[r + 1][k++], PCELL, "%s", def->variants[c->variant]);
        for (size_t i = 0; i < def->naxes && k < PCOLS - 5; i++)
            if ((int)i != def->load) axis_value_text(def, i, a->pts[c->example_point].axis[i], cells[r + 1][k++], PCELL);
        if (isnan(c->max_load)) {
            sw_format_human(la->kind, a->pts[c->example_point].axis[def->load], x, sizeof x);
            snprintf(cells[r + 1][k++], PCELL, "none (below the lowest load)");
        } else {
            sw_format_human(la->kind, c->max_load, x, sizeof x);
            snprintf(cells[r + 1][k++], PCELL, "%s%s", c->all_meet ? ">= " : "", x);
        }
        sw_format_human(la->kind, c->lo, x, sizeof x);
        sw_format_human(la->kind, c->hi, y, sizeof y);
        if (find && !isnan(c->max_load) && !c->all_meet) {
            /* the bracket: max load meets, the next load evaluated does not */
            snprintf(cells[r + 1][k++], PCELL, "%s .. %s", x, y);
        } else snprintf(cells[r + 1][k++], PCELL, "%s .. %s%s", x, y, c->all_meet ? "+" : "");
        rs_format_value(cells[r + 1][k++], PCELL, RS_RATIO, c->succ, c->succ_hw);
        rs_format_value(cells[r + 1][k++], PCELL, RS_SECONDS, c->p95, c->p95_hw);
        sw_format_human(la->kind, c->knee, cells[r + 1][k], PCELL);
        k++;
    }
    print_table(out, cells, ncaps + 1, cols);
    free(cells);
    fprintf(out, "max load: every load up to it meets the SLO on the mean; 95%% interval: from the highest\n"
                 "load whose whole confidence interval meets the SLO to the highest whose interval does not\n"
                 "exclude it (+: the top of the range still meets it); knee: the load where p95 reaches %g x\n"
                 "its value at the lowest load, interpolated (-: not in the range)\n", def->knee_factor);
}

/* ---- output file -------------------------------------------------------------------------- */

int sw_write_output(sim_trace_t *tr, const analysis_t *a, const capacity_t *caps, size_t ncaps, bool find)
{
    const sw_def_t *def = a->def;
    int rc = 0;
    char p[512];
    size_t srclen = 0;
    const char *src = sim_cfg_source(def->cfg, &srclen);
    rc |= sim_trace_attr_str(tr, "/", "format", "ragsim-sweep");
    rc |= sim_trace_attr_i64(tr, "/", "format_version", 2);
    rc |= sim_trace_attr_str(tr, "/", "ragsim_version", RAGSIM_VERSION);
    rc |= sim_trace_attr_str(tr, "/", "sweep_file", def->path);
    rc |= sim_trace_attr_str(tr, "/", "sweep_source", src ? src : "");
    rc |= sim_trace_attr_str(tr, "/", "scenario_file", def->scenario_path);
    rc |= sim_trace_attr_i64(tr, "/", "master_seed", (int64_t)def->seed);
    rc |= sim_trace_attr_i64(tr, "/", "replications", def->replications);
    rc |= sim_trace_attr_str(tr, "/", "mode", find ? "find-max-load" : "grid");
    rc |= sim_trace_attr_str(tr, "/", "load_axis", def->load >= 0 ? def->axes[def->load].path : "");
    rc |= sim_trace_attr_f64(tr, "/", "slo_success_ratio", def->slo_success);
    rc |= sim_trace_attr_f64(tr, "/", "slo_latency_p95_s", def->slo_p95);
    char reqs[1024] = "";
    for (size_t i = 0; i < def->nreq; i++) {
        size_t l = strlen(reqs);
        snprintf(reqs + l, sizeof reqs - l, "%s%s %s %.17g", i ? "\n" : "", def->req[i].metric,
                 def->req[i].is_max ? "<=" : ">=", def->req[i].bound);
    }
    rc |= sim_trace_attr_str(tr, "/", "capacity_require", reqs);
    rc |= sim_trace_attr_f64(tr, "/", "knee_factor", def->knee_factor);
    /* variants and axes */
    sim_table_t vt;
    sim_table_init(&vt, "variants");
    sim_table_col_str(&vt, "name", 64);
    for (size_t i = 0; i < def->nvariants; i++) {
        unsigned char *row = sim_table_append(&vt);
        if (!row) {
            sim_table_fini(&vt);
            return SIM_ENOMEM;
        }
        sim_row_str(&vt, row, 0, def->variants[i]);
    }
    rc |= sim_trace_table(tr, "/sweep/variants", &vt);
    sim_table_fini(&vt);
    sim_table_t at;
    sim_table_init(&at, "axes");
    sim_table_col_str(&at, "path", 128);
    sim_table_col_str(&at, "kind", 16);
    sim_table_col_str(&at, "unit", 16);
    sim_table_col_i64(&at, "values", "1");
    sim_table_col_i64(&at, "is_load", "1");
    for (size_t i = 0; i < def->naxes; i++) {
        const sw_axis_t *ax = &def->axes[i];
        unsigned char *row = sim_table_append(&at);
        if (!row) {
            sim_table_fini(&at);
            return SIM_ENOMEM;
        }
        sim_row_str(&at, row, 0, ax->path);
        sim_row_str(&at, row, 1, sw_kind_name(ax->kind));
        sim_row_str(&at, row, 2, sw_kind_unit(ax->kind));
        sim_row_i64(&at, row, 3, (int64_t)ax->n);
        sim_row_i64(&at, row, 4, (int)i == def->load);
        snprintf(p, sizeof p, "/sweep/axis_values/%s", ax->path);
        rc |= sim_trace_f64(tr, p, ax->value, ax->n, sw_kind_unit(ax->kind),
                            ax->kind == SW_TEXT ? "index into the attribute 'labels'" : "the axis's grid values");
        size_t len = 1;
        for (size_t k = 0; k < ax->n; k++) len += strlen(ax->text[k]) + 1;
        char *labels = calloc(len, 1);
        if (!labels) {
            sim_table_fini(&at);
            return SIM_ENOMEM;
        }
        for (size_t k = 0; k < ax->n; k++) {
            strcat(labels, ax->text[k]);
            if (k + 1 < ax->n) strcat(labels, "\n");
        }
        rc |= sim_trace_attr_str(tr, p, "labels", labels);
        free(labels);
    }
    rc |= sim_trace_table(tr, "/sweep/axes", &at);
    sim_table_fini(&at);

    /* runs */
    size_t n = a->nruns, nmax = n > a->ng ? n : a->ng;
    if (ncaps > nmax) nmax = ncaps;
    int64_t *iv = calloc(nmax ? nmax : 1, sizeof *iv);
    double *fv = calloc(nmax ? nmax : 1, sizeof *fv);
    if (!iv || !fv) {
        free(iv);
        free(fv);
        return SIM_ENOMEM;
    }
#define I64(path, expr, cnt, unit, desc)                                                                   \
    do {                                                                                                  \
        for (size_t i_ = 0; i_ < (cnt); i_++) iv[i_] = (int64_t)(expr);                                   \
        rc |= sim_trace_i64(tr, path, iv, cnt, unit, desc);                                                \
    } while (0)
#define F64(path, expr, cnt, unit, desc)                                                                   \
    do {                                                                                                  \
        for (size_t i_ = 0; i_ < (cnt); i_++) fv[i_] = (double)(expr);                                    \
        rc |= sim_trace_f64(tr, path, fv, cnt, unit, desc);                                                \
    } while (0)
    const sw_result_t *R = a->runs;
    I64("/sweep/runs/point", a->run_point[i_], n, "1", "index of the point (/sweep/summary/point)");
    I64("/sweep/runs/variant", R[i_].task.variant, n, "1", "index into /sweep/variants");
    I64("/sweep/runs/replication", R[i_].task.rep, n, "1", "replication index (the streams' key)");
    I64("/sweep/runs/seed", R[i_].seed, n, "1", "master seed of the run (sw_point_seed)");
    I64("/sweep/runs/events_processed", R[i_].events, n, "1", NULL);
    F64("/sweep/runs/sim_seconds", R[i_].sim_seconds, n, "s", "simulated time at the end of the run");
    for (size_t k = 0; k < def->naxes; k++) {
        snprintf(p, sizeof p, "/sweep/runs/axes/%s", def->axes[k].path);
        F64(p, a->pts[a->run_point[i_]].axis[k], n, sw_kind_unit(def->axes[k].kind), "the axis's value at the run's point");
    }
    for (size_t k = 0; k < a->nmc; k++) {
        snprintf(p, sizeof p, "/sweep/runs/metrics/%s", a->mc[k].name);
        F64(p, sw_run_metric(&R[i_], a->mc[k].name), n, rs_kind_unit(a->mc[k].kind), "the run's summary figure");
    }
    /* summary per (point, variant) */
    const group_t *G = a->g;
    size_t ng = a->ng;
    I64("/sweep/summary/point", G[i_].point, ng, "1", "index of the point");
    I64("/sweep/summary/variant", G[i_].variant, ng, "1", "index into /sweep/variants");
    I64("/sweep/summary/n", G[i_].n, ng, "1", "replications");
    for (size_t k = 0; k < def->naxes; k++) {
        snprintf(p, sizeof p, "/sweep/summary/axes/%s", def->axes[k].path);
        F64(p, a->pts[G[i_].point].axis[k], ng, sw_kind_unit(def->axes[k].kind), "the axis's value");
    }
    for (size_t k = 0; k < a->nmc; k++) {
        snprintf(p, sizeof p, "/sweep/summary/mean/%s", a->mc[k].name);
        F64(p, G[i_].mean[k], ng, rs_kind_unit(a->mc[k].kind), "mean over the replications");
        snprintf(p, sizeof p, "/sweep/summary/hw/%s", a->mc[k].name);
        F64(p, G[i_].hw[k], ng, rs_kind_unit(a->mc[k].kind), "95% confidence half-width (Student t)");
    }
    /* capacity */
    if (ncaps > 0) {
        const char *lu = sw_kind_unit(def->axes[def->load].kind);
        I64("/sweep/capacity/variant", caps[i_].variant, ncaps, "1", "index into /sweep/variants");
        for (size_t k = 0; k < def->naxes; k++) {
            if ((int)k == def->load) continue;
            snprintf(p, sizeof p, "/sweep/capacity/axes/%s", def->axes[k].path);
            F64(p, a->pts[caps[i_].example_point].axis[k], ncaps, sw_kind_unit(def->axes[k].kind), "the axis's value");
        }
        F64("/sweep/capacity/max_load", caps[i_].max_load, ncaps, lu, "largest load meeting the SLO (means); NaN: none");
        F64("/sweep/capacity/max_load_lo", caps[i_].lo, ncaps, lu, "lower end of its 95% interval");
        F64("/sweep/capacity/max_load_hi", caps[i_].hi, ncaps, lu, "upper end of its 95% interval");
        I64("/sweep/capacity/top_meets", caps[i_].all_meet, ncaps, "1", "1: the highest load evaluated meets the SLO");
        F64("/sweep/capacity/success_ratio", caps[i_].succ, ncaps, "1", "at max_load");
        F64("/sweep/capacity/success_ratio_hw", caps[i_].succ_hw, ncaps, "1", "95% half-width");
        F64("/sweep/capacity/latency_p95_s", caps[i_].p95, ncaps, "s", "at max_load");
        F64("/sweep/capacity/latency_p95_hw", caps[i_].p95_hw, ncaps, "s", "95% half-width");
        F64("/sweep/capacity/knee_load", caps[i_].knee, ncaps, lu, "load where p95 reaches knee_factor x its value at the lowest load; NaN: not in the range");
    }
#undef I64
#undef F64
    free(iv);
    free(fv);
    return rc ? SIM_EHDF5 : 0;
}

/* ---- the JSON summary (--json) ----------------------------------------------------------- */

static void json_axes_values(sim_json_t *j, const char *key, const analysis_t *a, size_t point, int skip)
{
    const sw_def_t *def = a->def;
    sim_json_begin_obj(j, key);
    for (size_t k = 0; k < def->naxes; k++) {
        if ((int)k == skip) continue;
        double v = a->pts[point].axis[k];
        if (def->axes[k].kind == SW_TEXT) sim_json_str(j, def->axes[k].path, def->axes[k].text[(size_t)v]);
        else sim_json_num(j, def->axes[k].path, v);
    }
    sim_json_end(j);
}

int sw_write_json(FILE *f, const analysis_t *a, const capacity_t *caps, size_t ncaps, bool find, const char *outpath)
{
    const sw_def_t *def = a->def;
    sim_json_t j;
    sim_json_init(&j, f, 2);
    sim_json_begin_obj(&j, NULL);
    sim_json_str(&j, "format", "ragsim-sweep-summary");
    sim_json_int(&j, "format_version", 1);
    sim_json_str(&j, "command", "sweep");
    sim_json_str(&j, "ragsim_version", RAGSIM_VERSION);
    sim_json_str(&j, "sweep_file", def->path);
    sim_json_str(&j, "scenario_file", def->scenario_path);
    sim_json_uint(&j, "master_seed", def->seed);
    sim_json_int(&j, "replications", def->replications);
    sim_json_str(&j, "mode", find ? "find-max-load" : "grid");
    sim_json_str(&j, "load_axis", def->load >= 0 ? def->axes[def->load].path : NULL);
    sim_json_str(&j, "load_unit", def->load >= 0 ? sw_kind_unit(def->axes[def->load].kind) : NULL);
    sim_json_num(&j, "slo_success_ratio", def->slo_success);
    sim_json_num(&j, "slo_latency_p95_s", def->slo_p95);
    sim_json_begin_arr(&j, "capacity_require");
    for (size_t i = 0; i < def->nreq; i++) {
        sim_json_begin_obj(&j, NULL);
        sim_json_str(&j, "metric", def->req[i].metric);
        sim_json_str(&j, "op", def->req[i].is_max ? "<=" : ">=");
        sim_json_num(&j, "bound", def->req[i].bound);
        sim_json_end(&j);
    }
    sim_json_end(&j);
    sim_json_num(&j, "knee_factor", def->knee_factor);
    sim_json_str(&j, "output", outpath);
    sim_json_str(&j, "interval", "student-t");
    sim_json_num(&j, "confidence_level", 0.95);
    sim_json_begin_arr(&j, "variants");
    for (size_t i = 0; i < def->nvariants; i++) sim_json_str(&j, NULL, def->variants[i]);
    sim_json_end(&j);
    sim_json_begin_arr(&j, "axes");
    for (size_t k = 0; k < def->naxes; k++) {
        const sw_axis_t *ax = &def->axes[k];
        sim_json_begin_obj(&j, NULL);
        sim_json_str(&j, "path", ax->path);
        sim_json_str(&j, "kind", sw_kind_name(ax->kind));
        sim_json_str(&j, "unit", sw_kind_unit(ax->kind));
        sim_json_bool(&j, "is_load", (int)k == def->load);
        sim_json_begin_arr(&j, "values");
        for (size_t i = 0; i < ax->n; i++) {
            if (ax->kind == SW_TEXT) sim_json_str(&j, NULL, ax->text[i]);
            else sim_json_num(&j, NULL, ax->value[i]);
        }
        sim_json_end(&j);
        sim_json_end(&j);
    }
    sim_json_end(&j);
    sim_json_begin_arr(&j, "points");
    for (size_t g = 0; g < a->ng; g++) {
        const group_t *G = &a->g[g];
        sim_json_begin_obj(&j, NULL);
        sim_json_str(&j, "variant", def->variants[G->variant]);
        json_axes_values(&j, "axes", a, G->point, -1);
        sim_json_uint(&j, "n", G->n);
        sim_json_begin_arr(&j, "metrics");
        for (size_t k = 0; k < a->nmc; k++) {
            sim_json_begin_obj(&j, NULL);
            sim_json_str(&j, "name", a->mc[k].name);
            sim_json_str(&j, "unit", rs_kind_unit(a->mc[k].kind));
            sim_json_num(&j, "mean", G->mean[k]);
            sim_json_num(&j, "half_width", G->hw[k]);
            sim_json_end(&j);
        }
        sim_json_end(&j);
        sim_json_end(&j);
    }
    sim_json_end(&j);
    sim_json_begin_arr(&j, "capacity");
    for (size_t i = 0; i < ncaps; i++) {
        const capacity_t *c = &caps[i];
        sim_json_begin_obj(&j, NULL);
        sim_json_str(&j, "variant", def->variants[c->variant]);
        json_axes_values(&j, "axes", a, c->example_point, def->load);
        sim_json_uint(&j, "loads_evaluated", c->npoints);
        sim_json_num(&j, "max_load", c->max_load);
        sim_json_num(&j, "max_load_lo", c->lo);
        sim_json_num(&j, "max_load_hi", c->hi);
        sim_json_bool(&j, "top_meets", c->all_meet);
        sim_json_num(&j, "success_ratio", c->succ);
        sim_json_num(&j, "success_ratio_hw", c->succ_hw);
        sim_json_num(&j, "latency_p95_s", c->p95);
        sim_json_num(&j, "latency_p95_hw_s", c->p95_hw);
        sim_json_num(&j, "knee_load", c->knee);
        sim_json_end(&j);
    }
    sim_json_end(&j);
    sim_json_end(&j);
    return sim_json_finish(&j);
}
