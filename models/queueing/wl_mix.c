/* Empirical token mixes (wl_mix.h). */
#include "models/queueing/wl_mix.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "models/queueing/wl_trace.h"
#include "sim/csv.h"
#include "sim/error.h"

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static int from_trace(sim_diag_t *d, sim_cfg_node_t *node, sim_dist_t *out)
{
    const char *file = NULL, *colname = NULL;
    int errs = d->errors;
    sim_cfg_string(d, node, "file", SIM_CFG_REQUIRED, NULL, &file);
    sim_cfg_string(d, node, "column", SIM_CFG_REQUIRED, NULL, &colname);
    if (d->errors != errs) return SIM_ECONFIG;
    char *path = wl_resolve_path(sim_cfg_get(node, "file"), file);
    if (!path) return SIM_ENOMEM;
    sim_csv_t c;
    int rc = sim_csv_open(&c, path, d);
    double *v = NULL, *w = NULL;
    size_t n = 0, cap = 0;
    if (rc) goto done;
    int col = sim_csv_column(&c, colname);
    if (col < 0) {
        sim_cfg_error(d, sim_cfg_get(node, "column"), "column '%s' is not in %s", colname, path);
        rc = SIM_ECONFIG;
        goto done;
    }
    while ((rc = sim_csv_next(&c, d)) > 0) {
        const char *s = c.field[col];
        char *end;
        errno = 0;
        double x = strtod(s, &end);
        if (end == s || *end || !isfinite(x) || x < 0) {
            sim_diag_error_at(d, c.path, c.line, c.fcol[col], "'%s': expected a number of tokens >= 0, got '%s'",
                              colname, s);
            rc = SIM_ECONFIG;
            goto done;
        }
        if (n == cap) {
            cap = cap ? 2 * cap : 4096;
            double *nv = realloc(v, cap * sizeof *v);
            if (!nv) { rc = SIM_ENOMEM; goto done; }
            v = nv;
        }
        v[n++] = x;
    }
    if (rc < 0) goto done;
    if (n == 0) {
        sim_diag_error_at(d, path, 0, 0, "no rows: no token count to draw");
        rc = SIM_ECONFIG;
        goto done;
    }
    /* equal rows, equal weight: collapse to the distinct values and their counts */
    qsort(v, n, sizeof *v, cmp_double);
    if (!(w = malloc(n * sizeof *w))) { rc = SIM_ENOMEM; goto done; }
    size_t m = 0;
    for (size_t i = 0; i < n; i++) {
        if (m && v[m - 1] == v[i]) w[m - 1] += 1;
        else { v[m] = v[i]; w[m] = 1; m++; }
    }
    rc = sim_dist_empirical(out, v, w, m, false);
done:
    free(v);
    free(w);
    sim_csv_close(&c);
    free(path);
    return rc;
}

static int from_histogram(sim_diag_t *d, sim_cfg_node_t *node, sim_dist_t *out)
{
    int errs = d->errors;
    sim_cfg_node_t *le = sim_cfg_get(node, "le"), *cn = sim_cfg_get(node, "counts");
    if (!le || !cn) {
        sim_cfg_error(d, node, "a histogram needs 'le' (the buckets' upper bounds) and 'counts' (cumulative)");
        return SIM_ECONFIG;
    }
    if (!sim_cfg_expect_seq(d, le, "le") || !sim_cfg_expect_seq(d, cn, "counts")) return SIM_ECONFIG;
    if (le->n != cn->n || le->n == 0) {
        sim_cfg_error(d, cn, "'counts' needs one count per bucket of 'le' (%zu), got %zu", le->n, cn->n);
        return SIM_ECONFIG;
    }
    double lo = 0;
    sim_cfg_double(d, node, "min", 0, 0, 1e9, 0, &lo);
    size_t n = le->n + 1;
    double *v = malloc(n * sizeof *v), *w = malloc(n * sizeof *w);
    if (!v || !w) {
        free(v);
        free(w);
        return SIM_ENOMEM;
    }
    v[0] = lo;
    w[0] = 0;
    double prev_c = 0, prev_v = lo;
    for (size_t i = 0; i < le->n; i++) {
        double x = 0, c = 0;
        if (le->vals[i]->kind == SIM_CFG_SCALAR && (!strcmp(le->vals[i]->text, "+Inf") || !strcmp(le->vals[i]->text, "Inf"))) {
            sim_cfg_error(d, le->vals[i], "the +Inf bucket has no upper bound to interpolate to: give the largest "
                                          "value seen as the last bound");
            break;
        }
        if (sim_cfg_double_node(d, le->vals[i], 0, 0, 1e9, &x) || sim_cfg_double_node(d, cn->vals[i], 0, 0, 1e18, &c))
            continue;
        if (!(x > prev_v)) sim_cfg_error(d, le->vals[i], "bucket bounds must increase (and exceed 'min', %g): %g", lo, x);
        if (c < prev_c) sim_cfg_error(d, cn->vals[i], "counts are cumulative: %g is below the previous bucket's %g", c, prev_c);
        v[i + 1] = x;
        w[i + 1] = c - prev_c;
        prev_c = c;
        prev_v = x;
    }
    int rc = SIM_ECONFIG;
    if (d->errors == errs && prev_c <= 0) sim_cfg_error(d, cn, "the histogram holds no samples");
    if (d->errors == errs) rc = sim_dist_empirical(out, v, w, n, true);
    free(v);
    free(w);
    return rc == SIM_EINVAL ? SIM_ECONFIG : rc;
}

int wl_mix_parse(sim_diag_t *d, sim_cfg_node_t *node, sim_dist_t *out)
{
    memset(out, 0, sizeof *out);
    sim_cfg_node_t *k = node && node->kind == SIM_CFG_MAP ? sim_cfg_get(node, "dist") : NULL;
    if (k && k->kind == SIM_CFG_SCALAR && !strcmp(k->text, "trace")) return from_trace(d, node, out);
    if (k && k->kind == SIM_CFG_SCALAR && !strcmp(k->text, "histogram")) return from_histogram(d, node, out);
    return sim_dist_parse(d, node, SIM_DIST_NUMBER, out);
}
