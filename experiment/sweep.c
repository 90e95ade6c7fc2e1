/* Sweeps: the sweep file (sw_def_load: the base scenario, `set`, the axes
 * and their values, the load axis, the variants, capacity.require, and
 * the check of every axis value against the scenario), the grid's points
 * and their seeds, and a point's scenario (sw_load_point). The tasks,
 * workers and the fork pool are in sweep_worker.c, the master and the
 * output in sweep_master.c and the files it names (see sweep.h). Calls the
 * runner's rs_load and sim/ (cfg, diag, rng, units). */
#include "experiment/sweep.h"

#include <libgen.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "experiment/sweep_internal.h"
#include "sim/error.h"
#include "sim/rng.h"
#include "sim/units.h"

const char *sw_kind_name(sw_kind_t k)
{
    switch (k) {
    case SW_INTEGER: return "integer";
    case SW_NUMBER: return "number";
    case SW_DURATION: return "duration";
    case SW_SIZE: return "size";
    case SW_RATE: return "rate";
    default: return "text";
    }
}

const char *sw_kind_unit(sw_kind_t k)
{
    switch (k) {
    case SW_INTEGER:
    case SW_NUMBER: return "1";
    case SW_DURATION: return "s";
    case SW_SIZE: return "bytes";
    case SW_RATE: return "1/s";
    default: return "";
    }
}

uint64_t sw_point_seed(uint64_t master, uint64_t idx)
{
    return sim_rng_sm64(sim_rng_sm64(master) ^ sim_rng_sm64(sim_rng_fnv1a64("sweep/point") + idx));
}

void sw_point_coords(const sw_def_t *def, uint64_t p, size_t *coord)
{
    if (def->design) {
        coord[0] = (size_t)p;   /* the design's point */
        return;
    }
    for (size_t i = def->naxes; i-- > 0;) {
        coord[i] = (size_t)(p % def->axes[i].n);
        p /= def->axes[i].n;
    }
}

void sw_format_human(sw_kind_t kind, double v, char *buf, size_t n)
{
    if (isnan(v)) {
        snprintf(buf, n, "-");
        return;
    }
    switch (kind) {
    case SW_DURATION: sim_format_duration(buf, (int)n, (sim_time_t)llround(v * 1e9)); break;
    case SW_SIZE: sim_format_size(buf, (int)n, v); break;
    case SW_RATE: snprintf(buf, n, "%.4g/s", v); break;
    case SW_INTEGER: snprintf(buf, n, "%.0f", v); break;
    default: snprintf(buf, n, "%.4g", v); break;
    }
}

/* ---- axis values ---------------------------------------------------------------- */

/* The kind and base value of a scalar as a sweep value. */
static sw_kind_t scalar_kind(const sim_cfg_node_t *n, double *v)
{
    if (n->kind != SIM_CFG_SCALAR || !n->plain) return SW_TEXT;
    int64_t i;
    sim_time_t t;
    if (sim_parse_int(n->text, &i, NULL) == 0) {
        *v = (double)i;
        return SW_INTEGER;
    }
    if (sim_parse_double(n->text, v, NULL) == 0) return SW_NUMBER;
    if (sim_parse_duration(n->text, &t, NULL) == 0) {
        *v = sim_time_to_s(t);
        return SW_DURATION;
    }
    if (sim_parse_size(n->text, &i, NULL) == 0) {
        *v = (double)i;
        return SW_SIZE;
    }
    if (sim_parse_rate(n->text, v, NULL) == 0) return SW_RATE;
    return SW_TEXT;
}

/* A generated value as scenario text, exact for durations and sizes. */
static void format_value(sw_kind_t kind, double v, char *buf, size_t n)
{
    switch (kind) {
    case SW_DURATION: snprintf(buf, n, "%lldns", (long long)llround(v * 1e9)); break;
    case SW_SIZE: snprintf(buf, n, "%lldB", (long long)llround(v)); break;
    case SW_RATE: snprintf(buf, n, "%.12g/s", v); break;
    case SW_INTEGER: snprintf(buf, n, "%lld", (long long)llround(v)); break;
    default: snprintf(buf, n, "%.12g", v); break;
    }
}

static int axis_add(sw_axis_t *a, const char *text, double v)
{
    char **t = realloc(a->text, (a->n + 1) * sizeof *t);
    if (!t) return SIM_ENOMEM;
    a->text = t;
    double *vv = realloc(a->value, (a->n + 1) * sizeof *vv);
    if (!vv) return SIM_ENOMEM;
    a->value = vv;
    if (!(a->text[a->n] = strdup(text))) return SIM_ENOMEM;
    a->value[a->n++] = v;
    return 0;
}

static int parse_axis(sw_axis_t *a, sim_cfg_node_t *spec, sim_diag_t *d)
{
    char buf[64];
    if (spec->kind == SIM_CFG_SEQ) {
        if (spec->n == 0) {
            sim_cfg_error(d, spec, "axis '%s' has no values", a->path);
            return SIM_ECONFIG;
        }
        if (spec->n > SW_MAX_VALUES) {
            sim_cfg_error(d, spec, "axis '%s' has %zu values (at most %d)", a->path, spec->n, SW_MAX_VALUES);
            return SIM_ECONFIG;
        }
        sw_kind_t kind = SW_TEXT;
        bool numeric = true;
        for (size_t i = 0; i < spec->n; i++) {
            sim_cfg_node_t *it = spec->vals[i];
            sim_cfg_touch(it);
            if (it->kind != SIM_CFG_SCALAR) {
                sim_cfg_error(d, it, "axis '%s': expected a scalar value, got a %s", a->path,
                              it->kind == SIM_CFG_MAP ? "mapping" : "sequence");
                return SIM_ECONFIG;
            }
            double v = NAN;
            sw_kind_t k = scalar_kind(it, &v);
            if (i == 0) kind = k;
            else if (k != kind) {
                if ((k == SW_INTEGER && kind == SW_NUMBER) || (k == SW_NUMBER && kind == SW_INTEGER)) kind = SW_NUMBER;
                else numeric = false;
            }
            if (k == SW_TEXT) numeric = false;
            int rc = axis_add(a, it->text, v);
            if (rc) return rc;
        }
        a->kind = numeric ? kind : SW_TEXT;
        if (!numeric)
            for (size_t i = 0; i < a->n; i++) a->value[i] = (double)i;
        return 0;
    }
    if (spec->kind != SIM_CFG_MAP) {
        sim_cfg_error(d, spec, "axis '%s': expected a list of values, {from, to, step} or {from, to, points}", a->path);
        return SIM_ECONFIG;
    }
    sim_cfg_node_t *from = sim_cfg_get(spec, "from"), *to = sim_cfg_get(spec, "to");
    sim_cfg_node_t *step = sim_cfg_get(spec, "step"), *points = sim_cfg_get(spec, "points");
    if (sim_cfg_check_unused_node(spec, d) != 0) return SIM_ECONFIG;
    if (!from || !to || (!step && !points) || (step && points)) {
        sim_cfg_error(d, spec, "axis '%s': a range needs 'from', 'to' and either 'step' (linear) or 'points' (logarithmic)",
                      a->path);
        return SIM_ECONFIG;
    }
    double f = NAN, t = NAN, s = NAN;
    sw_kind_t kind = scalar_kind(from, &f);
    if (kind == SW_TEXT) {
        sim_cfg_error(d, from, "axis '%s': expected a number, duration, size or rate, got '%s'", a->path,
                      from->kind == SIM_CFG_SCALAR ? from->text : "a collection");
        return SIM_ECONFIG;
    }
    sw_kind_t kt = scalar_kind(to, &t);
    if (kt != kind && !((kt == SW_INTEGER || kt == SW_NUMBER) && (kind == SW_INTEGER || kind == SW_NUMBER))) {
        sim_cfg_error(d, to, "axis '%s': 'to' must be a %s like 'from'", a->path, sw_kind_name(kind));
        return SIM_ECONFIG;
    }
    if (kt == SW_NUMBER) kind = SW_NUMBER;
    if (!(t >= f)) {
        sim_cfg_error(d, to, "axis '%s': 'to' must not be below 'from'", a->path);
        return SIM_ECONFIG;
    }
    if (step) {
        sw_kind_t ks = scalar_kind(step, &s);
        if (ks != kind && !((ks == SW_INTEGER || ks == SW_NUMBER) && (kind == SW_INTEGER || kind == SW_NUMBER))) {
            sim_cfg_error(d, step, "axis '%s': 'step' must be a %s like 'from'", a->path, sw_kind_name(kind));
            return SIM_ECONFIG;
        }
        if (ks == SW_NUMBER) kind = SW_NUMBER;
        if (!(s > 0)) {
            sim_cfg_error(d, step, "axis '%s': 'step' must be positive", a->path);
            return SIM_ECONFIG;
        }
        double cnt = floor((t - f) / s + 1e-9) + 1;
        if (cnt > SW_MAX_VALUES) {
            sim_cfg_error(d, step, "axis '%s': the range has %.0f values (at most %d)", a->path, cnt, SW_MAX_VALUES);
            return SIM_ECONFIG;
        }
        for (size_t i = 0; i < (size_t)cnt; i++) {
            double v = f + (double)i * s;
            format_value(kind, v, buf, sizeof buf);
            int rc = axis_add(a, buf, v);
            if (rc) return rc;
        }
    } else {
        int64_t np = 0;
        if (sim_cfg_int_node(d, points, 0, 2, SW_MAX_VALUES, &np) != 0) return SIM_ECONFIG;
        if (!(f > 0)) {
            sim_cfg_error(d, from, "axis '%s': a logarithmic range needs 'from' > 0", a->path);
            return SIM_ECONFIG;
        }
        for (int64_t i = 0; i < np; i++) {
            double v = f * pow(t / f, (double)i / (double)(np - 1));
            if (i == np - 1) v = t;
            if (kind == SW_INTEGER || kind == SW_SIZE) v = round(v);
            if (a->n > 0 && v == a->value[a->n - 1]) continue;   /* rounding made a duplicate */
            format_value(kind, v, buf, sizeof buf);
            int rc = axis_add(a, buf, v);
            if (rc) return rc;
        }
    }
    a->kind = kind;
    return 0;
}

/* ---- the sweep file ------------------------------------------------------------------ */

void sw_def_fini(sw_def_t *def)
{
    for (size_t i = 0; i < def->naxes; i++) {
        for (size_t k = 0; k < def->axes[i].n; k++) free(def->axes[i].text[k]);
        free(def->axes[i].text);
        free(def->axes[i].value);
    }
    for (size_t i = 0; i < def->nsets; i++) free(def->sets[i]);
    free(def->sets);
    for (size_t i = 0; i < def->nvariants; i++) free(def->variants[i]);
    free(def->variants);
    for (size_t p = 0; def->design && p < def->npoints; p++) {
        for (size_t i = 0; i < def->design[p].nsets; i++) free(def->design[p].sets[i]);
        free(def->design[p].sets);
    }
    free(def->design);
    for (size_t i = 0; i < def->nextra; i++) free(def->extra_metrics[i]);
    free(def->extra_metrics);
    free(def->scenario_path);
    sim_cfg_destroy(def->cfg);
    memset(def, 0, sizeof *def);
    def->load = -1;
}

static int add_set(sw_def_t *def, const char *path, const char *value)
{
    char **s = realloc(def->sets, (def->nsets + 1) * sizeof *s);
    if (!s) return SIM_ENOMEM;
    def->sets = s;
    size_t n = strlen(path) + strlen(value) + 2;
    if (!(s[def->nsets] = malloc(n))) return SIM_ENOMEM;
    snprintf(s[def->nsets++], n, "%s=%s", path, value);
    return 0;
}

static uint64_t hash_str(uint64_t h, const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        h ^= (unsigned char)s[i];
        h *= 0x100000001B3ull;
    }
    h ^= 0xff;
    return h * 0x100000001B3ull;
}

/* Load the scenario with the sweep's overrides plus those of the axes in
 * `mask` at `coord` (NULL: none) and, if not NaN, the load axis at `load`. */
static int load_axes(const sw_def_t *def, const size_t *coord, unsigned mask, double load, rs_scenario_t *s,
                     sim_diag_t *d)
{
    const sw_design_point_t *dp = def->design && coord ? &def->design[coord[0]] : NULL;
    size_t n = def->nsets + def->naxes + (dp ? dp->nsets : 0);
    const char **sets = calloc(n ? n : 1, sizeof *sets);
    char(*buf)[512] = calloc(def->naxes ? def->naxes : 1, sizeof *buf);
    if (!sets || !buf) {
        free(sets);
        free(buf);
        return SIM_ENOMEM;
    }
    size_t k = 0;
    for (size_t i = 0; i < def->nsets; i++) sets[k++] = def->sets[i];
    for (size_t i = 0; coord && i < def->naxes; i++) {
        if (!(mask & (1u << i))) continue;
        const sw_axis_t *a = &def->axes[i];
        if ((int)i == def->load && !isnan(load)) {
            char v[64];
            format_value(a->kind, load, v, sizeof v);
            snprintf(buf[i], sizeof buf[i], "%s=%s", a->path, v);
        } else snprintf(buf[i], sizeof buf[i], "%s=%s", a->path, a->text[coord[i]]);
        sets[k++] = buf[i];
    }
    for (size_t i = 0; dp && i < dp->nsets; i++) sets[k++] = dp->sets[i];
    int rc = rs_load(s, def->scenario_path, sets, k, d);
    free(sets);
    free(buf);
    return rc;
}

int sw_load_point(const sw_def_t *def, const size_t *coord, double load, rs_scenario_t *s, sim_diag_t *d)
{
    return load_axes(def, coord, ~0u, load, s, d);
}

/* The scenario refused axis `a` at its value k: report it at the axis's
 * own place in the sweep file. The override is "PATH=VALUE" and its
 * messages are at "--set:1:COL": a column inside PATH is a problem of the
 * path (reported at the axis's key), anything else one of the value (at
 * the value in a list, the range's `from` for its first value, else the
 * range). */
static void axis_error(sim_diag_t *d, const sw_axis_t *a, size_t k, const sim_diag_t *sd)
{
    const char *t = sim_diag_text(sd), *e = strstr(t, "error: ");
    size_t line_len = strcspn(t, "\n");
    int col = 0;
    bool in_path = sscanf(t, "--set:1:%d:", &col) == 1 && col >= 1 && (size_t)col <= strlen(a->path);
    if (e && e < t + line_len) t = e + 7;
    line_len = strcspn(t, "\n");
    if (in_path) {
        sim_cfg_error(d, a->node, "axis '%s': the scenario rejects this path: %.*s", a->path, (int)line_len, t);
        return;
    }
    const sim_cfg_node_t *at = a->node->parent ? sim_cfg_get(a->node->parent, a->path) : NULL;
    if (!at) at = a->node;
    else if (at->kind == SIM_CFG_SEQ && k < at->n) at = at->vals[k];
    else if (at->kind == SIM_CFG_MAP && k == 0 && sim_cfg_get((sim_cfg_node_t *)at, "from"))
        at = sim_cfg_get((sim_cfg_node_t *)at, "from");
    sim_cfg_error(d, at, "axis '%s' = %s: the scenario rejects this value: %.*s", a->path, a->text[k], (int)line_len, t);
}

/* Every capacity.require metric is reported by the runs of some variant
 * swept; else an error at its key, with the closest name. 0 or SIM_ENOMEM. */
static int check_requirements(const sw_def_t *def, const rs_scenario_t *s, sim_diag_t *d)
{
    bool known[SW_MAX_REQS] = {false};
    char best[SW_MAX_REQS][RS_NAME_MAX] = {{0}};
    for (size_t k = 0; k < def->nvariants; k++) {
        int vi = rs_variant_find(s, def->variants[k]);
        if (vi < 0) continue;
        rs_report_t rep;
        const char **names = NULL;
        size_t n = 0;
        if (rs_metric_names(s, (size_t)vi, &rep, &names, &n) != 0) {
            free(names);
            rs_report_fini(&rep);
            return SIM_ENOMEM;
        }
        for (size_t i = 0; i < def->nreq; i++) {
            for (size_t j = 0; j < n && !known[i]; j++) known[i] = !strcmp(names[j], def->req[i].metric);
            const char *b = known[i] || best[i][0] ? NULL : sim_cfg_closest(def->req[i].metric, names, n);
            if (b) snprintf(best[i], sizeof best[i], "%s", b);
        }
        free(names);
        rs_report_fini(&rep);
    }
    for (size_t i = 0; i < def->nreq; i++) {
        if (known[i]) continue;
        if (best[i][0])
            sim_cfg_error(d, def->req[i].node, "capacity.require: '%s' is not a metric the runs report (did you mean "
                                               "'%s'?)", def->req[i].metric, best[i]);
        else
            sim_cfg_error(d, def->req[i].node, "capacity.require: '%s' is not a metric the runs report (the "
                                               "summary's columns; see docs/sweeps.md)", def->req[i].metric);
    }
    return 0;
}

static int def_load(sw_def_t *def, const char *path, const char *src_text, const char *const *sets, size_t nsets,
                    int64_t reps, bool have_seed, uint64_t seed, sim_diag_t *d);

int sw_def_load(sw_def_t *def, const char *path, const char *const *sets, size_t nsets, int64_t reps,
                bool have_seed, uint64_t seed, sim_diag_t *d)
{
    return def_load(def, path, NULL, sets, nsets, reps, have_seed, seed, d);
}

int sw_def_load_text(sw_def_t *def, const char *name, const char *src_text, const char *const *sets, size_t nsets,
                     int64_t reps, bool have_seed, uint64_t seed, sim_diag_t *d)
{
    return def_load(def, name, src_text, sets, nsets, reps, have_seed, seed, d);
}

static int def_load(sw_def_t *def, const char *path, const char *src_text, const char *const *sets, size_t nsets,
                    int64_t reps, bool have_seed, uint64_t seed, sim_diag_t *d)
{
    memset(def, 0, sizeof *def);
    def->load = -1;
    def->path = path;
    def->find_steps = 6;
    def->knee_factor = 1.5;
    int errs = d->errors, rc = 0;
    def->cfg = src_text ? sim_cfg_load_string(path, src_text, strlen(src_text), d) : sim_cfg_load_file(path, d);
    if (!def->cfg) return d->nomem ? SIM_ENOMEM : SIM_ECONFIG;
    sim_cfg_node_t *root = sim_cfg_root(def->cfg);
    const char *scen = NULL, *desc = NULL, *loadp = NULL;
    sim_cfg_string(d, root, "scenario", SIM_CFG_REQUIRED, NULL, &scen);
    sim_cfg_string(d, root, "name", 0, NULL, &def->name);
    sim_cfg_string(d, root, "description", 0, NULL, &desc);
    sim_cfg_string(d, root, "load", 0, NULL, &loadp);
    sim_cfg_node_t *loadn = sim_cfg_get(root, "load");
    int64_t freps = 0, fseed = -1;
    sim_cfg_int(d, root, "replications", 0, 1, 100000, 0, &freps);
    sim_cfg_int(d, root, "seed", 0, 0, INT64_MAX, -1, &fseed);
    sim_cfg_node_t *capn = sim_cfg_get(root, "capacity");
    if (capn && sim_cfg_expect_map(d, capn, "capacity")) {
        sim_cfg_double(d, capn, "knee_factor", 0, 1.000001, 1000, 1.5, &def->knee_factor);
        sim_cfg_node_t *req = sim_cfg_get(capn, "require");
        if (req && sim_cfg_expect_map(d, req, "require")) {
            if (req->n > SW_MAX_REQS) sim_cfg_error(d, req, "at most %d requirements", SW_MAX_REQS);
            for (size_t i = 0; i < req->n && i < SW_MAX_REQS; i++) {
                sim_cfg_node_t *r = req->vals[i];
                sim_cfg_touch(r);
                if (!sim_cfg_expect_map(d, r, "requirement")) continue;
                sim_cfg_node_t *mx = sim_cfg_get(r, "max"), *mn = sim_cfg_get(r, "min");
                sim_cfg_check_unused_node(r, d);
                if (!mx == !mn) {
                    sim_cfg_error(d, r, "requirement on '%s': give exactly one of 'max' and 'min'", req->keys[i]->text);
                    continue;
                }
                sim_cfg_node_t *b = mx ? mx : mn;
                double v = NAN;
                if (b->kind == SIM_CFG_SCALAR && b->plain && strchr(b->text, '%')) {
                    if (sim_parse_ratio(b->text, &v, NULL) != 0) v = NAN;
                } else if (scalar_kind(b, &v) == SW_TEXT) v = NAN;
                if (isnan(v)) {
                    sim_cfg_error(d, b, "requirement on '%s': expected a number, ratio, duration, size or rate, got '%s'",
                                  req->keys[i]->text, b->kind == SIM_CFG_SCALAR ? b->text : "a collection");
                    continue;
                }
                def->req[def->nreq++] = (sw_req_t){.metric = req->keys[i]->text, .node = req->keys[i],
                                                   .is_max = mx != NULL, .bound = v};
            }
        }
    }
    sim_cfg_node_t *find = sim_cfg_get(root, "find");
    if (find && sim_cfg_expect_map(d, find, "find"))
        sim_cfg_int(d, find, "steps", 0, 1, SW_MAX_FIND_STEPS, 6, &def->find_steps);
    if (scen) {
        if (scen[0] == '/') def->scenario_path = strdup(scen);
        else {
            char *copy = strdup(path);
            if (!copy) return SIM_ENOMEM;
            const char *dir = dirname(copy);
            size_t n = strlen(dir) + strlen(scen) + 2;
            def->scenario_path = malloc(n);
            if (def->scenario_path) snprintf(def->scenario_path, n, "%s/%s", dir, scen);
            free(copy);
        }
        if (!def->scenario_path) return SIM_ENOMEM;
    }
    sim_cfg_node_t *set = sim_cfg_get(root, "set");
    if (set && sim_cfg_expect_map(d, set, "set")) {
        for (size_t i = 0; i < set->n; i++) {
            sim_cfg_touch_all(set->vals[i]);
            char *text = NULL;
            size_t len = 0;
            if (sim_cfg_emit_node(set->vals[i], &text, &len) != 0) return SIM_ENOMEM;
            while (len > 0 && (text[len - 1] == '\n' || text[len - 1] == ' ')) text[--len] = 0;
            if (len >= 4 && !strcmp(text + len - 4, "\n...")) text[len -= 4] = 0;
            rc = add_set(def, set->keys[i]->text, text);
            free(text);
            if (rc) return rc;
        }
    }
    for (size_t i = 0; i < nsets; i++) {
        const char *eq = strchr(sets[i], '=');
        if (!eq) {
            sim_diag_error_at(d, "--set", 1, 1, "expected KEY=VALUE, got '%s'", sets[i]);
            continue;
        }
        char key[256];
        snprintf(key, sizeof key, "%.*s", (int)(eq - sets[i]), sets[i]);
        if ((rc = add_set(def, key, eq + 1))) return rc;
    }
    sim_cfg_node_t *axes = sim_cfg_get(root, "axes");
    if (!axes) sim_diag_error_at(d, path, 1, 1, "missing required key 'axes' (the parameters to sweep)");
    else if (sim_cfg_expect_map(d, axes, "axes")) {
        if (axes->n == 0) sim_cfg_error(d, axes, "'axes' is empty: name at least one scenario path to sweep");
        if (axes->n > SW_MAX_AXES) sim_cfg_error(d, axes, "%zu axes (at most %d)", axes->n, SW_MAX_AXES);
        def->npoints = 1;
        for (size_t i = 0; i < axes->n && i < SW_MAX_AXES; i++) {
            sw_axis_t *a = &def->axes[def->naxes++];
            a->path = axes->keys[i]->text;
            a->node = axes->keys[i];
            sim_cfg_touch(axes->vals[i]);
            rc = parse_axis(a, axes->vals[i], d);
            if (rc == SIM_ENOMEM) return rc;
            if (rc == 0) {
                if (def->npoints * a->n > SW_MAX_POINTS) {
                    sim_cfg_error(d, axes, "the axes make more than %d points", SW_MAX_POINTS);
                    def->npoints = 1;
                } else def->npoints *= a->n;
            }
        }
    }
    sim_cfg_node_t *vars = sim_cfg_get(root, "variants");
    if (vars) sim_cfg_expect_seq(d, vars, "variants");
    sim_cfg_check_unused(def->cfg, d);
    if (d->errors != errs) return SIM_ECONFIG;

    /* the load axis */
    if (loadp) {
        for (size_t i = 0; i < def->naxes; i++)
            if (!strcmp(def->axes[i].path, loadp)) def->load = (int)i;
        if (def->load < 0) sim_cfg_error(d, loadn, "'load' must name one of the axes, got '%s'", loadp);
        else if (def->axes[def->load].kind == SW_TEXT)
            sim_cfg_error(d, loadn, "the load axis '%s' must have numeric values", loadp);
    } else {
        for (size_t i = 0; i < def->naxes && def->load < 0; i++)
            if (!strcmp(def->axes[i].path, "workload.rate")) def->load = (int)i;
        for (size_t i = 0; i < def->naxes && def->load < 0; i++)
            if (def->axes[i].kind == SW_RATE) def->load = (int)i;
    }
    if (d->errors != errs) return SIM_ECONFIG;

    /* the base scenario with the sweep's overrides */
    rs_scenario_t s;
    sim_diag_t sd;
    sim_diag_init(&sd);
    rc = sw_load_point(def, NULL, NAN, &s, &sd);
    if (rc) {
        /* the scenario's first error (its position is in the scenario, or
         * "--set" for an override), at the sweep's `scenario` */
        const char *t = sim_diag_text(&sd);
        sim_cfg_node_t *at = sim_cfg_get(root, "scenario");
        sim_cfg_error(d, at ? at : root, "the scenario does not load with the sweep's overrides (%d error%s): %.*s",
                      sd.errors, sd.errors == 1 ? "" : "s", (int)strcspn(t, "\n"), t);
        sim_diag_fini(&sd);
        rs_unload(&s);
        return rc == SIM_ENOMEM ? rc : SIM_ECONFIG;
    }
    sim_diag_fini(&sd);
    /* the base scenario's text, for the checkpoint's hash: a checkpoint of
     * the sweep over an edited scenario is another sweep's */
    uint64_t scen_hash = 0xCBF29CE484222325ull;
    size_t scen_len = 0;
    const char *scen_src = sim_cfg_source(s.cfg, &scen_len);
    scen_hash = hash_str(scen_hash, scen_src ? scen_src : "", scen_src ? scen_len : 0);
    def->replications = reps > 0 ? reps : freps > 0 ? freps : s.sc.replications;
    def->seed = have_seed ? seed : fseed >= 0 ? (uint64_t)fseed : s.sc.seed;
    def->slo_success = s.slo_success;
    def->slo_p95 = s.slo_p95;
    if (vars && vars->kind == SIM_CFG_SEQ) {
        def->variants = calloc(vars->n ? vars->n : 1, sizeof *def->variants);
        if (!def->variants) rc = SIM_ENOMEM;
        for (size_t i = 0; !rc && i < vars->n; i++) {
            const char *v = NULL;
            if (sim_cfg_string_node(d, vars->vals[i], &v) != 0) continue;
            if (rs_variant_find(&s, v) < 0) {
                sim_cfg_error(d, vars->vals[i], "the scenario has no variant '%s'", v);
                continue;
            }
            for (size_t k = 0; k < def->nvariants; k++)
                if (!strcmp(def->variants[k], v)) sim_cfg_error(d, vars->vals[i], "variant '%s' is listed twice", v);
            if (!(def->variants[def->nvariants++] = strdup(v))) rc = SIM_ENOMEM;
        }
        if (vars->n == 0) sim_cfg_error(d, vars, "'variants' is empty");
    } else {
        def->variants = calloc(s.nvariants, sizeof *def->variants);
        if (!def->variants) rc = SIM_ENOMEM;
        for (size_t i = 0; !rc && i < s.nvariants; i++)
            if (!(def->variants[def->nvariants++] = strdup(s.variants[i].name))) rc = SIM_ENOMEM;
    }
    /* capacity.require must name metrics the runs report (a typo would
     * otherwise run the whole sweep to find no load meeting it) */
    if (!rc && d->errors == errs && def->nreq > 0) rc = check_requirements(def, &s, d);
    rs_unload(&s);
    if (rc) return rc;
    if (d->errors != errs) return SIM_ECONFIG;
    if ((double)def->npoints * (double)def->nvariants * (double)def->replications > SW_MAX_RUNS) {
        sim_diag_error_at(d, path, root->line, root->col, "%zu points x %zu variants x %lld replications is more than %d runs",
                          def->npoints, def->nvariants, (long long)def->replications, SW_MAX_RUNS);
        return SIM_ECONFIG;
    }

    /* each axis alone at its first value (an error is then this axis's,
     * reported at its own place), then every value of every axis with the
     * others at their first value */
    size_t coord[SW_MAX_AXES] = {0};
    for (int pass = 0; pass < 2; pass++)
        for (size_t i = 0; i < def->naxes; i++) {
            const sw_axis_t *a = &def->axes[i];
            for (size_t k = pass; k < (pass ? a->n : 1); k++) {
                memset(coord, 0, sizeof coord);
                coord[i] = k;
                sim_diag_init(&sd);
                rc = load_axes(def, coord, pass ? ~0u : 1u << i, NAN, &s, &sd);
                rs_unload(&s);
                if (rc == SIM_ENOMEM) {
                    sim_diag_fini(&sd);
                    return rc;
                }
                if (rc) {
                    axis_error(d, a, k, &sd);
                    sim_diag_fini(&sd);
                    return SIM_ECONFIG;
                }
                sim_diag_fini(&sd);
            }
        }

    /* everything that decides the runs' results: the sweep file's text, the
     * base scenario's, the overrides (`set`, then --set), the variants, the
     * seed, the replications, capacity.require; and what decides a
     * checkpoint's layout (ragsim's version, the record's size) */
    uint64_t h = 0xCBF29CE484222325ull;
    size_t srclen = 0;
    const char *src = sim_cfg_source(def->cfg, &srclen);
    h = hash_str(h, src ? src : "", src ? srclen : 0);
    h = sim_rng_sm64(h ^ scen_hash);
    h = hash_str(h, RAGSIM_VERSION, strlen(RAGSIM_VERSION));
    h = sim_rng_sm64(h ^ (uint64_t)sizeof(sw_result_t));
    for (size_t i = 0; i < def->nsets; i++) h = hash_str(h, def->sets[i], strlen(def->sets[i]));
    for (size_t i = 0; i < def->nvariants; i++) h = hash_str(h, def->variants[i], strlen(def->variants[i]));
    h = sim_rng_sm64(h ^ def->seed) ^ (uint64_t)def->replications;
    for (size_t i = 0; i < def->nreq; i++) {
        h = hash_str(h, def->req[i].metric, strlen(def->req[i].metric));
        uint64_t bits;
        memcpy(&bits, &def->req[i].bound, 8);
        h = sim_rng_sm64(h ^ bits ^ (uint64_t)def->req[i].is_max);
    }
    def->hash = h;
    return 0;
}
