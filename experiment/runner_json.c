/* The machine-readable summary of `ragsim run` and `ragsim compare`
 * (--json): the document docs/json-summary.md describes and
 * docs/schema/ragsim-summary.schema.json checks. Per variant the
 * figures the printed summary shows (mean and 95% Student-t interval across
 * replications) with every replication's value; the comparison's rows as
 * /comparison holds them. Written to a file under a temporary name and
 * renamed when complete (rs_json_save). Calls sim/json, sim/stats,
 * sim/outfile and experiment/compare. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "experiment/compare.h"
#include "experiment/runner_internal.h"
#include "sim/json.h"
#include "sim/outfile.h"
#include "sim/stats.h"
#include "sim/units.h"

static void interval(sim_json_t *j, sim_ci_t c)
{
    sim_json_uint(j, "n", c.n);
    sim_json_num(j, "mean", c.mean);
    sim_json_num(j, "half_width", c.half_width);
    sim_json_num(j, "ci_low", c.mean - c.half_width);
    sim_json_num(j, "ci_high", c.mean + c.half_width);
}

static void variant_json(sim_json_t *j, const rs_scenario_t *s, size_t v, const rs_report_t *reps, size_t nreps,
                         const rs_runmeta_t *meta)
{
    sim_json_begin_obj(j, NULL);
    sim_json_str(j, "name", s->variants[v].name);
    sim_json_bool(j, "baseline", v == s->baseline);
    sim_json_str(j, "description", s->variants[v].description ? s->variants[v].description : "");
    sim_json_begin_arr(j, "runs");
    for (size_t r = 0; r < nreps; r++) {
        sim_json_begin_obj(j, NULL);
        sim_json_uint(j, "replication", r);
        sim_json_uint(j, "seed", meta[r].seed);
        sim_json_num(j, "sim_seconds", meta[r].sim_seconds);
        sim_json_uint(j, "events_processed", meta[r].events);
        sim_json_end(j);
    }
    sim_json_end(j);
    const rs_report_t *r0 = &reps[0];
    sim_json_begin_arr(j, "metrics");
    for (size_t i = 0; i < r0->n; i++) {
        const rs_entry_t *e = &r0->e[i];
        if (strcmp(e->section, "summary") != 0) continue;
        sim_json_begin_obj(j, NULL);
        sim_json_str(j, "name", e->col);
        sim_json_str(j, "unit", rs_kind_unit(e->kind));
        interval(j, rs_entry_ci(reps, nreps, i));
        sim_json_begin_arr(j, "values");
        for (size_t r = 0; r < nreps; r++) sim_json_num(j, NULL, i < reps[r].n ? reps[r].e[i].value : NAN);
        sim_json_end(j);
        sim_json_end(j);
    }
    sim_json_end(j);
    sim_json_begin_arr(j, "tables");
    for (size_t i = 0; i < r0->n; i++) {
        const rs_entry_t *e = &r0->e[i];
        if (strcmp(e->section, "summary") == 0) continue;
        sim_json_begin_obj(j, NULL);
        sim_json_str(j, "section", e->section);
        sim_json_str(j, "row", e->row);
        sim_json_str(j, "column", e->col);
        sim_json_str(j, "unit", rs_kind_unit(e->kind));
        interval(j, rs_entry_ci(reps, nreps, i));
        sim_json_end(j);
    }
    sim_json_end(j);
    sim_json_end(j);
}

int rs_json_summary(FILE *f, const rs_json_in_t *in)
{
    const rs_scenario_t *s = in->s;
    sim_json_t j;
    sim_json_init(&j, f, 2);
    sim_json_begin_obj(&j, NULL);
    sim_json_str(&j, "format", "ragsim-summary");
    sim_json_int(&j, "format_version", 1);
    sim_json_str(&j, "command", in->compare ? "compare" : "run");
    sim_json_str(&j, "ragsim_version", RAGSIM_VERSION);
    sim_json_begin_obj(&j, "scenario");
    sim_json_str(&j, "name", s->sc.name);
    sim_json_str(&j, "file", in->scenario_file);
    sim_json_str(&j, "model", s->model->name);
    sim_json_end(&j);
    sim_json_uint(&j, "master_seed", in->seed);
    sim_json_uint(&j, "replications", in->nreps);
    sim_json_num(&j, "duration_s", sim_time_to_s(s->sc.duration));
    sim_json_num(&j, "warmup_s", sim_time_to_s(s->sc.warmup));
    sim_json_num(&j, "confidence_level", 0.95);
    sim_json_str(&j, "interval", "student-t");
    sim_json_str(&j, "trace", in->trace_path);
    sim_json_begin_arr(&j, "variants");
    for (size_t vi = 0; vi < in->nsel; vi++) {
        size_t v = in->sel[vi];
        if (in->nrep[v] == 0) continue;
        variant_json(&j, s, v, in->reps[v], in->nrep[v], in->meta + vi * in->nreps);
    }
    sim_json_end(&j);
    if (in->compare) {
        sim_json_begin_obj(&j, "comparison");
        sim_json_str(&j, "baseline", s->variants[s->baseline].name);
        sim_json_str(&j, "interval", "paired student-t");
        sim_json_begin_arr(&j, "rows");
        for (size_t i = 0; i < in->nrows; i++) {
            const cmp_row_t *r = &in->rows[i];
            sim_json_begin_obj(&j, NULL);
            sim_json_str(&j, "variant", r->variant);
            sim_json_str(&j, "metric", r->metric);
            sim_json_str(&j, "unit", rs_kind_unit(r->kind));
            sim_json_uint(&j, "n", r->n);
            sim_json_num(&j, "mean", r->mean);
            sim_json_num(&j, "ci_low", r->mean - r->half_width);
            sim_json_num(&j, "ci_high", r->mean + r->half_width);
            sim_json_num(&j, "diff", r->diff);
            sim_json_num(&j, "diff_ci_low", r->diff - r->diff_half_width);
            sim_json_num(&j, "diff_ci_high", r->diff + r->diff_half_width);
            sim_json_uint(&j, "n_paired", r->npaired);
            sim_json_int(&j, "direction", r->direction);
            sim_json_bool(&j, "significant", r->significant);
            sim_json_str(&j, "verdict", r->verdict > 0 ? "better" : r->verdict < 0 ? "worse" : "same");
            sim_json_uint(&j, "not_recovered", r->nan_count);
            sim_json_end(&j);
        }
        sim_json_end(&j);
        sim_json_end(&j);
    }
    sim_json_end(&j);
    return sim_json_finish(&j);
}

static int fill_summary(FILE *f, void *ctx) { return rs_json_summary(f, ctx); }

int rs_json_save(const char *path, bool force, const rs_json_in_t *in, char *why, size_t whylen)
{
    return sim_write_file(path, force, fill_summary, (void *)in, why, whylen);
}
