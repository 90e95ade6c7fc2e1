/* Loading a scenario (rs_load, rs_unload): the file and its --set
 * overrides, the run parameters, the `slo`, `trigger` and `compare` keys,
 * the variants (names, `extends` chains, the baseline, each variant's
 * merged tree and parsed spec) and the check of `compare.metrics` against
 * what the runs will report. Calls sim/ (cfg, diag, scenario), the model's
 * parse/check/trigger/create/report through models/model.h, and the
 * runner's internals (runner_internal.h). */
#include "experiment/runner.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "experiment/incident.h"
#include "experiment/runner_internal.h"
#include "sim/error.h"
#include "sim/units.h"

/* ---- loading ------------------------------------------------------------- */

static const char *const variant_reserved[] = {"extends", "baseline", "description", NULL};
static const char *const run_keys[] = {"name", "description", "duration", "warmup", "seed", "replications",
                                       "sample_interval", "variants", "slo", "trigger", "compare", NULL};
static const char *const skip_variants[] = {"variants", NULL};

/* A variant's name names its group in the trace (/runs/NAME/rep000), a
 * column value of /summary and /comparison (64 bytes with the NUL), an
 * item of --variants (comma-separated) and a file name of the report's
 * figures: letters, digits, '_', '-' and '.', not "." or "..", at most
 * RS_VARIANT_NAME_MAX bytes. NULL if `name` is one, else why not. */
static const char *variant_name_problem(const char *name, size_t len, char *buf, size_t n)
{
    if (len == 0) return "a variant's name must not be empty";
    if (len > RS_VARIANT_NAME_MAX) {
        snprintf(buf, n, "a variant's name has at most %d characters (this one has %zu)", RS_VARIANT_NAME_MAX, len);
        return buf;
    }
    if (!strcmp(name, ".") || !strcmp(name, ".."))
        return "a variant's name cannot be '.' or '..' (it names a group of the trace)";
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)name[i];
        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-' ||
            c == '.')
            continue;
        if (c == '/') snprintf(buf, n, "a variant's name cannot contain '/' (it names a group of the trace)");
        else if (c == ',') snprintf(buf, n, "a variant's name cannot contain ',' (--variants separates names with it)");
        else if (c >= 0x21 && c < 0x7f) snprintf(buf, n, "a variant's name cannot contain '%c'", c);
        else if (c < 0x80) snprintf(buf, n, "a variant's name cannot contain a space or a control character");
        else snprintf(buf, n, "a variant's name cannot contain non-ASCII characters");
        return buf;
    }
    return NULL;
}

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
        char why[128];
        const char *bad_name = variant_name_problem(vars->keys[i]->text, vars->keys[i]->len, why, sizeof why);
        if (bad_name)
            sim_cfg_error(d, vars->keys[i], "variant '%s': %s; use letters, digits, '_', '-' and '.'",
                          vars->keys[i]->text, bad_name);
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

/* Each variant is a full copy of the scenario (without `variants`) with
 * its overlays merged in: the copies together must stay within the limit
 * of a scenario's nodes, or a small file with a long list and many empty
 * variants would need gigabytes before anything is checked. Counted before
 * anything is copied. SIM_ECONFIG after an error at `variants`, or 0. */
static int check_expansion(const rs_scenario_t *s, sim_cfg_node_t *root, const sim_cfg_node_t **chains,
                           const size_t *chain_len, sim_diag_t *d)
{
    sim_cfg_node_t *vars = NULL;
    for (size_t i = 0; i < root->n; i++)
        if (!strcmp(root->keys[i]->text, "variants")) vars = root->vals[i];
    if (!vars || s->nvariants < 2) return 0;
    size_t base = sim_cfg_count(root) - 1 - sim_cfg_count(vars);
    size_t total = 0;
    for (size_t i = 0; i < s->nvariants; i++) {
        total += base;
        for (size_t k = 0; k < chain_len[i]; k++) total += sim_cfg_count(chains[i * s->nvariants + k]);
        if (total > SIM_CFG_MAX_NODES) break;
    }
    if (total <= SIM_CFG_MAX_NODES) return 0;
    sim_cfg_error(d, vars, "'variants': %zu variants of a scenario of %zu nodes expand to more than %d nodes (each "
                           "variant is a whole copy of the scenario with its overlay; the limit is that of a "
                           "scenario's size): use fewer variants, or compare them from separate files",
                  s->nvariants, base, SIM_CFG_MAX_NODES);
    return SIM_ECONFIG;
}

int rs_load(rs_scenario_t *s, const char *path, const char *const *sets, size_t nsets,
            sim_diag_t *d)
{
    memset(s, 0, sizeof *s);
    s->path = path;
    s->cfg = sim_cfg_load_file(path, d);
    if (!s->cfg) return d->nomem ? SIM_ENOMEM : SIM_ECONFIG;
    int errs = d->errors, rc;
    for (size_t i = 0; i < nsets; i++) sim_cfg_set(s->cfg, sets[i], d);
    if (d->errors != errs) return d->nomem ? SIM_ENOMEM : SIM_ECONFIG;
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
    if ((rc = check_expansion(s, root, chains, chain_len, d)) != 0) goto out;
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
    if (rc == SIM_ECONFIG && d->nomem) rc = SIM_ENOMEM;
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

/* ---- compare.metrics ------------------------------------------------------------- */

int rs_metric_names(const rs_scenario_t *s, size_t variant, rs_report_t *rep, const char ***names, size_t *n)
{
    *names = NULL;
    *n = 0;
    rs_report_init(rep);
    sim_config_t cfg = {.master_seed = s->sc.seed, .sample_interval = s->sc.sample_interval};
    sim_t *sim = sim_create(&cfg);
    void *inst = sim ? s->model->create(sim, s->variants[variant].spec) : NULL;
    int rc = SIM_ENOMEM;
    if (!inst) goto out;
    s->model->report(inst, rep);
    const char **v = calloc(rep->n + 8 + MODEL_MAX_PEAKS, sizeof *v);
    if (!v) goto out;
    size_t k = 0;
    for (size_t i = 0; i < rep->n; i++)
        if (!strcmp(rep->e[i].section, "summary")) v[k++] = rep->e[i].col;
    v[k++] = INC_WORST_WINDOW_SUCCESS;
    v[k++] = INC_TIME_BELOW_SLO;
    if (!isnan(s->trigger_end)) {
        v[k++] = INC_RECOVERY_TIME;
        v[k++] = INC_RECOVERED;
    }
    for (const model_peak_t *p = s->model->peaks; p && p->series; p++)
        if (rs_series_index(sim, p->series) >= 0) v[k++] = p->metric;
    *names = v;
    *n = k;
    rc = 0;
out:
    if (inst) s->model->destroy(inst);
    sim_destroy(sim);
    return rc;
}

/* `compare.metrics` must name metrics the runs will report: the baseline's
 * summary entries (from a model instance that has not run: the names do
 * not depend on the run), the incident metrics and the peaks of the series
 * the model has. An unknown name is a scenario error at its position. */
static int check_compare_metrics(const rs_scenario_t *s, sim_cfg_node_t *root, sim_diag_t *d)
{
    const char **names = NULL;
    size_t n = 0;
    rs_report_t rep;
    int rc = rs_metric_names(s, s->baseline, &rep, &names, &n);
    if (rc) goto out;
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
out:
    free(names);
    rs_report_fini(&rep);
    return rc;
}
