/* sim_dist_parse: distributions from scenario nodes (see dist.h). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "dist.h"
#include "error.h"

static const char *const dist_names[] = {
    "exponential", "deterministic", "uniform", "normal", "lognormal", "gamma",
    "weibull", "bounded_pareto", "empirical", "zipf", "bernoulli", NULL,
};
enum { D_EXP, D_DET, D_UNI, D_NORM, D_LOGN, D_GAMMA, D_WEIB, D_BPARETO, D_EMP, D_ZIPF, D_BERN };

static const char *unit_example(sim_dist_unit_t u)
{
    return u == SIM_DIST_DURATION ? "a duration such as 20ms" : u == SIM_DIST_SIZE ? "a size such as 4KiB" : "a number";
}

/* A parameter measured in the distribution's unit, as a double in base units
 * (seconds, bytes, or the plain number). */
static int value_node(sim_diag_t *d, sim_cfg_node_t *n, sim_dist_unit_t u, unsigned flags, double *out)
{
    int rc;
    if (u == SIM_DIST_DURATION) {
        sim_time_t t = 0;
        rc = sim_cfg_duration_node(d, n, flags, &t);
        *out = sim_time_to_s(t);
    } else if (u == SIM_DIST_SIZE) {
        int64_t b = 0;
        rc = sim_cfg_size_node(d, n, flags, &b);
        *out = (double)b;
    } else {
        rc = sim_cfg_double_node(d, n, flags, (flags & SIM_CFG_POSITIVE) ? 1e-300 : -1e300, 1e300, out);
    }
    return rc;
}

static int value(sim_diag_t *d, sim_cfg_node_t *map, const char *key, sim_dist_unit_t u, unsigned flags,
                 double *out)
{
    sim_cfg_node_t *n = sim_cfg_get(map, key);
    if (!n) {
        if (flags & SIM_CFG_REQUIRED) {
            const char *dn = "";
            sim_cfg_node_t *dist = sim_cfg_get(map, "dist");
            if (dist && dist->kind == SIM_CFG_SCALAR) dn = dist->text;
            sim_cfg_error(d, map, "missing required key '%s' for distribution '%s' (%s)", key, dn, unit_example(u));
        }
        return SIM_ECONFIG;
    }
    return value_node(d, n, u, flags & ~(unsigned)SIM_CFG_REQUIRED, out);
}

static int number(sim_diag_t *d, sim_cfg_node_t *map, const char *key, double min, double max, double *out)
{
    return sim_cfg_double(d, map, key, SIM_CFG_REQUIRED, min, max, 0, out);
}

static int reject(sim_diag_t *d, sim_cfg_node_t *node, const char *what)
{
    sim_cfg_error(d, node, "invalid distribution parameters: %s", what);
    return SIM_ECONFIG;
}

static int parse_empirical(sim_diag_t *d, sim_cfg_node_t *map, sim_dist_unit_t u, sim_dist_t *out)
{
    sim_cfg_node_t *vals = sim_cfg_get(map, "values");
    sim_cfg_node_t *ws = sim_cfg_get(map, "weights");
    bool interp = false;
    if (sim_cfg_bool(d, map, "interpolate", 0, false, &interp)) return SIM_ECONFIG;
    if (!vals) {
        sim_cfg_error(d, map, "missing required key 'values' for distribution 'empirical' (a list of %ss)",
                      u == SIM_DIST_DURATION ? "duration" : u == SIM_DIST_SIZE ? "size" : "number");
        return SIM_ECONFIG;
    }
    if (!sim_cfg_expect_seq(d, vals, "values")) return SIM_ECONFIG;
    if (vals->n == 0) {
        sim_cfg_error(d, vals, "'values' must list at least one value");
        return SIM_ECONFIG;
    }
    if (ws && !sim_cfg_expect_seq(d, ws, "weights")) return SIM_ECONFIG;
    if (ws && ws->n != vals->n) {
        sim_cfg_error(d, ws, "'weights' has %zu entries but 'values' has %zu", ws->n, vals->n);
        return SIM_ECONFIG;
    }
    double *v = calloc(vals->n * 2, sizeof *v);
    if (!v) return SIM_ENOMEM;
    double *w = v + vals->n;
    int rc = 0;
    for (size_t i = 0; i < vals->n; i++) {
        rc |= value_node(d, vals->vals[i], u, 0, &v[i]);
        if (ws) rc |= sim_cfg_double_node(d, ws->vals[i], 0, 0, 1e300, &w[i]);
        else w[i] = interp && i == 0 ? 0 : 1;
    }
    if (rc == 0 && sim_dist_empirical(out, v, w, vals->n, interp) != 0) {
        reject(d, map, interp ? "an interpolated table needs ascending values, a first weight of 0 and a positive total"
                              : "weights must be non-negative with a positive total");
        rc = SIM_ECONFIG;
    }
    free(v);
    return rc ? SIM_ECONFIG : 0;
}

/* The parameters of each kind: after a bad one the others may be left
 * unread, and must not then be reported as unknown keys. */
static const char *const dist_keys[][4] = {
    [D_EXP] = {"mean"}, [D_DET] = {"value"}, [D_UNI] = {"min", "max"}, [D_NORM] = {"mean", "sd"},
    [D_LOGN] = {"mean", "cv"}, [D_GAMMA] = {"mean", "cv", "shape", "scale"}, [D_WEIB] = {"shape", "scale"},
    [D_BPARETO] = {"alpha", "min", "max"}, [D_EMP] = {"values", "weights", "interpolate"},
    [D_ZIPF] = {"n", "s"}, [D_BERN] = {"p"},
};

static int parse_kind(sim_diag_t *d, sim_cfg_node_t *node, sim_dist_unit_t u, int kind, sim_dist_t *out);

int sim_dist_parse(sim_diag_t *d, sim_cfg_node_t *node, sim_dist_unit_t u, sim_dist_t *out)
{
    memset(out, 0, sizeof *out);
    if (!node) return SIM_ECONFIG;
    if (node->kind == SIM_CFG_SCALAR) {
        double x = 0;
        if (value_node(d, node, u, 0, &x) != 0) return SIM_ECONFIG;
        sim_dist_deterministic(out, x);
        return 0;
    }
    if (!sim_cfg_expect_map(d, node, "distribution")) return SIM_ECONFIG;
    int kind = -1;
    if (sim_cfg_enum(d, node, "dist", SIM_CFG_REQUIRED, dist_names, -1, &kind) != 0) {
        sim_cfg_touch_all(node);   /* without a kind its parameters cannot be checked */
        return SIM_ECONFIG;
    }
    int rc = parse_kind(d, node, u, kind, out);
    for (size_t i = 0; i < 4 && dist_keys[kind][i]; i++) sim_cfg_get(node, dist_keys[kind][i]);
    return rc;
}

static int parse_kind(sim_diag_t *d, sim_cfg_node_t *node, sim_dist_unit_t u, int kind, sim_dist_t *out)
{
    int errs = d->errors, rc = 0;
    double a = 0, b = 0, c = 0;
    switch (kind) {
    case D_EXP:
        if (value(d, node, "mean", u, SIM_CFG_REQUIRED | SIM_CFG_POSITIVE, &a) == 0)
            rc = sim_dist_exponential(out, a);
        break;
    case D_DET:
        if (value(d, node, "value", u, SIM_CFG_REQUIRED, &a) == 0) rc = sim_dist_deterministic(out, a);
        break;
    case D_UNI:
        if (value(d, node, "min", u, SIM_CFG_REQUIRED, &a) == 0 &&
            value(d, node, "max", u, SIM_CFG_REQUIRED, &b) == 0) {
            if (a > b) return reject(d, node, "'min' is larger than 'max'");
            rc = sim_dist_uniform(out, a, b);
        }
        break;
    case D_NORM:
        if (value(d, node, "mean", u, SIM_CFG_REQUIRED, &a) == 0 &&
            value(d, node, "sd", u, SIM_CFG_REQUIRED | SIM_CFG_POSITIVE, &b) == 0) {
            rc = sim_dist_normal(out, a, b, u != SIM_DIST_NUMBER);
            if (rc) return reject(d, node, "the mean is so far below 0 that truncating at 0 leaves almost nothing");
        }
        break;
    case D_LOGN:
        if (value(d, node, "mean", u, SIM_CFG_REQUIRED | SIM_CFG_POSITIVE, &a) == 0 &&
            number(d, node, "cv", 1e-9, 1e6, &b) == 0)
            rc = sim_dist_lognormal(out, a, b);
        break;
    case D_GAMMA: {
        sim_cfg_node_t *shape = sim_cfg_get(node, "shape"), *mean = sim_cfg_get(node, "mean");
        if (shape && mean) return reject(d, mean, "give either 'mean' and 'cv', or 'shape' and 'scale'");
        if (shape) {
            if (number(d, node, "shape", 1e-9, 1e9, &a) == 0 &&
                value(d, node, "scale", u, SIM_CFG_REQUIRED | SIM_CFG_POSITIVE, &b) == 0)
                rc = sim_dist_gamma(out, a, b);
        } else if (value(d, node, "mean", u, SIM_CFG_REQUIRED | SIM_CFG_POSITIVE, &a) == 0 &&
                   number(d, node, "cv", 1e-6, 1e4, &b) == 0) {
            rc = sim_dist_gamma(out, 1.0 / (b * b), a * b * b);
        }
        break;
    }
    case D_WEIB:
        if (number(d, node, "shape", 1e-6, 1e6, &a) == 0 &&
            value(d, node, "scale", u, SIM_CFG_REQUIRED | SIM_CFG_POSITIVE, &b) == 0)
            rc = sim_dist_weibull(out, a, b);
        break;
    case D_BPARETO:
        if (number(d, node, "alpha", 1e-6, 1e6, &a) == 0 &&
            value(d, node, "min", u, SIM_CFG_REQUIRED | SIM_CFG_POSITIVE, &b) == 0 &&
            value(d, node, "max", u, SIM_CFG_REQUIRED | SIM_CFG_POSITIVE, &c) == 0) {
            if (!(b < c)) return reject(d, node, "'min' must be smaller than 'max'");
            rc = sim_dist_bounded_pareto(out, a, b, c);
        }
        break;
    case D_EMP:
        return parse_empirical(d, node, u, out);
    case D_ZIPF: {
        int64_t n = 0;
        if (sim_cfg_int(d, node, "n", SIM_CFG_REQUIRED, 1, (int64_t)1 << 40, 0, &n) == 0 &&
            number(d, node, "s", 1e-6, 100, &a) == 0)
            rc = sim_dist_zipf(out, (size_t)n, a);
        break;
    }
    case D_BERN:
        if (sim_cfg_ratio(d, node, "p", SIM_CFG_REQUIRED, 0, &a) == 0) rc = sim_dist_bernoulli(out, a);
        break;
    default:
        return SIM_ECONFIG;
    }
    if (d->errors != errs) return SIM_ECONFIG;
    if (rc == SIM_ENOMEM) return rc;
    if (rc != 0) return reject(d, node, "out of the distribution's domain");
    return 0;
}
