/* Trace replay (wl_trace.h): the CSV read once into per-row arrays. */
#include "models/queueing/wl_trace.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sim/csv.h"
#include "sim/error.h"

char *wl_resolve_path(const sim_cfg_node_t *node, const char *path)
{
    const char *file = node ? node->file : NULL;
    const char *slash = file ? strrchr(file, '/') : NULL;
    if (path[0] == '/' || !slash || (file && !strcmp(file, "--set"))) return strdup(path);
    size_t dl = (size_t)(slash - file) + 1, pl = strlen(path);
    char *out = malloc(dl + pl + 1);
    if (!out) return NULL;
    memcpy(out, file, dl);
    memcpy(out + dl, path, pl + 1);
    return out;
}

void wl_trace_fini(wl_trace_t *tr)
{
    free(tr->t);
    free(tr->prompt);
    free(tr->output);
    free(tr->key);
    free(tr->cls);
    for (size_t i = 0; i < tr->nclasses; i++) free((void *)tr->class_names[i]);
    free(tr->path);
    memset(tr, 0, sizeof *tr);
}

enum { COL_TIME, COL_PROMPT, COL_OUTPUT, COL_CLASS, COL_KEY, NCOLS };
static const char *const col_keys[NCOLS] = {"time", "prompt_tokens", "output_tokens", "class", "query_key"};
/* the names looked for when the mapping does not name a column: the
 * Azure LLM inference trace's, then plain ones */
static const char *const col_defaults[NCOLS][3] = {
    {"arrived_at", "time", NULL},
    {"num_prefill_tokens", "prompt_tokens", NULL},
    {"num_decode_tokens", "output_tokens", NULL},
    {"class", NULL, NULL},
    {"query_key", NULL, NULL},
};

static const char *const unit_names[] = {"s", "ms", "us", "ns", NULL};
static const double unit_ns[] = {1e9, 1e6, 1e3, 1};

static int parse_tokens(sim_diag_t *d, const sim_csv_t *c, int j, int32_t *out)
{
    const char *s = c->field[j];
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (end == s || *end || errno == ERANGE || !(v >= 0) || v > 1e9 || v != floor(v)) {
        sim_diag_error_at(d, c->path, c->line, c->fcol[j], "'%s': expected a whole number of tokens (0 to 1e9), got '%s'",
                          c->header[j], s);
        return SIM_ECONFIG;
    }
    *out = (int32_t)v;
    return 0;
}

static uint64_t parse_key(const char *s)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (end != s && !*end && errno == 0 && s[0] != '-') return (uint64_t)v;
    uint64_t h = 0xcbf29ce484222325ULL;   /* FNV-1a */
    for (; *s; s++) h = (h ^ (unsigned char)*s) * 0x100000001b3ULL;
    return h;
}

static int grow(wl_trace_t *tr, size_t cap, const int *col)
{
#define GROW(p, want)                                             \
    if (want) {                                                   \
        void *n_ = realloc(p, cap * sizeof *(p));                 \
        if (!n_) return SIM_ENOMEM;                               \
        p = n_;                                                   \
    }
    GROW(tr->t, 1)
    GROW(tr->prompt, col[COL_PROMPT] >= 0)
    GROW(tr->output, col[COL_OUTPUT] >= 0)
    GROW(tr->cls, col[COL_CLASS] >= 0)
    GROW(tr->key, col[COL_KEY] >= 0)
#undef GROW
    return 0;
}

static int load(sim_diag_t *d, wl_trace_t *tr, sim_cfg_node_t *cols_node, const char *colname[NCOLS], int unit,
                bool origin_first, double scale)
{
    sim_csv_t c;
    int rc = sim_csv_open(&c, tr->path, d);
    if (rc) return rc;
    int col[NCOLS];
    for (int k = 0; k < NCOLS; k++) {
        col[k] = -1;
        if (colname[k]) {
            col[k] = sim_csv_column(&c, colname[k]);
            if (col[k] < 0) {
                sim_cfg_node_t *at = sim_cfg_get(cols_node, col_keys[k]);
                char hdr[512];
                size_t o = 0;
                for (size_t i = 0; i < c.ncols && o < sizeof hdr - 64; i++)
                    o += (size_t)snprintf(hdr + o, sizeof hdr - o, "%s%s", i ? ", " : "", c.header[i]);
                sim_cfg_error(d, at, "column '%s' is not in %s (its columns: %s)", colname[k], tr->path, hdr);
                rc = SIM_ECONFIG;
            }
        } else {
            for (int m = 0; m < 3 && col_defaults[k][m] && col[k] < 0; m++) col[k] = sim_csv_column(&c, col_defaults[k][m]);
        }
    }
    if (rc == 0 && col[COL_TIME] < 0) {
        sim_diag_error_at(d, tr->path, c.line, 1,
                          "no arrival time column: name it with 'columns: {time: NAME}' (looked for arrived_at, time)");
        rc = SIM_ECONFIG;
    }
    if (rc) goto done;
    size_t cap = 0;
    double t0 = 0, prev = -INFINITY;
    int errs = d->errors;
    while ((rc = sim_csv_next(&c, d)) > 0) {
        if (tr->n == cap) {
            cap = cap ? 2 * cap : 4096;
            if ((rc = grow(tr, cap, col)) != 0) goto done;
        }
        size_t i = tr->n;
        int j = col[COL_TIME];
        char *end;
        errno = 0;
        double v = strtod(c.field[j], &end);
        if (end == c.field[j] || *end || !isfinite(v)) {
            sim_diag_error_at(d, c.path, c.line, c.fcol[j], "'%s': expected an arrival time (a number, in %s), got '%s'",
                              c.header[j], unit_names[unit], c.field[j]);
            goto bad;
        }
        if (v < prev) {
            sim_diag_error_at(d, c.path, c.line, c.fcol[j],
                              "'%s': arrival times must not decrease (%s after %.17g): sort the file by time",
                              c.header[j], c.field[j], prev);
            goto bad;
        }
        if (i == 0) t0 = origin_first ? v : 0;
        prev = v;
        double ns = (v - t0) * unit_ns[unit] * scale;
        if (ns < 0 || ns > 9e18) {
            sim_diag_error_at(d, c.path, c.line, c.fcol[j], "'%s': arrival time %s is %s",
                              c.header[j], c.field[j], ns < 0 ? "negative (use 'origin: first_row' to start at the first row)"
                                                              : "beyond the clock's range (292 years)");
            goto bad;
        }
        tr->t[i] = (sim_time_t)llround(ns);
        if (col[COL_PROMPT] >= 0 && parse_tokens(d, &c, col[COL_PROMPT], &tr->prompt[i])) goto bad;
        if (col[COL_OUTPUT] >= 0 && parse_tokens(d, &c, col[COL_OUTPUT], &tr->output[i])) goto bad;
        if (col[COL_KEY] >= 0) tr->key[i] = parse_key(c.field[col[COL_KEY]]);
        if (col[COL_CLASS] >= 0) {
            const char *name = c.field[col[COL_CLASS]];
            size_t k = 0;
            while (k < tr->nclasses && strcmp(tr->class_names[k], name)) k++;
            if (k == tr->nclasses) {
                if (!name[0] || k == WL_TRACE_MAX_CLASSES) {
                    sim_diag_error_at(d, c.path, c.line, c.fcol[col[COL_CLASS]], name[0]
                                      ? "'%s': more than %d distinct request classes" : "'%s': empty class name",
                                      c.header[col[COL_CLASS]], WL_TRACE_MAX_CLASSES);
                    goto bad;
                }
                if (!(tr->class_names[k] = strdup(name))) { rc = SIM_ENOMEM; goto done; }
                tr->nclasses++;
            }
            tr->cls[i] = (uint8_t)k;
        }
        if (tr->prompt) tr->prompt_sum += tr->prompt[i];
        if (tr->output) tr->output_sum += tr->output[i];
        tr->n++;
        continue;
    bad:
        if (d->errors - errs >= 10) break;   /* enough to see the pattern */
    }
    if (rc == 0 && d->errors != errs) rc = SIM_ECONFIG;
    if (rc == 0 && tr->n == 0) {
        sim_diag_error_at(d, c.path, 0, 0, "the trace has a header and no rows: no request would arrive");
        rc = SIM_ECONFIG;
    }
done:
    sim_csv_close(&c);
    return rc < 0 ? rc : 0;
}

int wl_trace_parse(sim_diag_t *d, sim_cfg_node_t *node, wl_trace_t *tr)
{
    memset(tr, 0, sizeof *tr);
    int errs = d->errors;
    const char *file = NULL;
    sim_cfg_node_t *map = NULL, *cols = NULL;
    const char *colname[NCOLS] = {0};
    int unit = 0;
    bool origin_first = false, loop = false;
    double scale = 1;
    sim_time_t period = 0;
    if (node->kind == SIM_CFG_SCALAR) {
        if (sim_cfg_string_node(d, node, &file)) return SIM_ECONFIG;
    } else {
        if (!sim_cfg_expect_map(d, node, "trace")) return SIM_ECONFIG;
        map = node;
        sim_cfg_string(d, map, "file", SIM_CFG_REQUIRED, NULL, &file);
        cols = sim_cfg_get(map, "columns");
        if (cols && sim_cfg_expect_map(d, cols, "columns"))
            for (int k = 0; k < NCOLS; k++) sim_cfg_string(d, cols, col_keys[k], 0, NULL, &colname[k]);
        sim_cfg_enum(d, map, "time_unit", 0, unit_names, 0, &unit);
        static const char *const origins[] = {"zero", "first_row", NULL};
        int o = 0;
        sim_cfg_enum(d, map, "origin", 0, origins, 0, &o);
        origin_first = o == 1;
        sim_cfg_node_t *rs = sim_cfg_get(map, "rate_scale"), *ts = sim_cfg_get(map, "time_scale");
        if (rs && ts) sim_cfg_error(d, ts, "give either 'rate_scale' or 'time_scale', not both (time_scale = 1/rate_scale)");
        else if (rs) {
            double r = 1;
            if (sim_cfg_double(d, map, "rate_scale", 0, 1e-6, 1e6, 1, &r) == 0) scale = 1 / r;
        } else if (ts)
            sim_cfg_double(d, map, "time_scale", 0, 1e-6, 1e6, 1, &scale);
        sim_cfg_node_t *ln = sim_cfg_get(map, "loop");
        if (ln) sim_cfg_bool(d, map, "loop", 0, false, &loop);
        if (sim_cfg_get(map, "period")) {
            if (!loop) sim_cfg_error(d, sim_cfg_get(map, "period"), "'period' is the loop's period: add 'loop: true'");
            sim_cfg_duration(d, map, "period", SIM_CFG_POSITIVE, 0, &period);
        }
    }
    if (d->errors != errs || !file) return SIM_ECONFIG;
    if (!file[0]) {
        sim_cfg_error(d, map ? sim_cfg_get(map, "file") : node, "expected the path of a CSV file, got an empty string");
        return SIM_ECONFIG;
    }
    tr->path = wl_resolve_path(node, file);
    if (!tr->path) return SIM_ENOMEM;
    int rc = load(d, tr, cols, colname, unit, origin_first, scale);
    if (rc) {
        wl_trace_fini(tr);
        return rc;
    }
    /* the loop: by default the span plus one mean gap, so the next pass
     * starts as the rows were spaced */
    if (loop) {
        sim_time_t last = tr->t[tr->n - 1];
        if (period > 0) {
            period = (sim_time_t)llround((double)period * scale);
            if (period < last || period <= 0) {
                sim_cfg_error(d, sim_cfg_get(map, "period"),
                              "the loop's period (%g s after scaling) is shorter than the trace (%g s)",
                              sim_time_to_s(period), sim_time_to_s(last));
                wl_trace_fini(tr);
                return SIM_ECONFIG;
            }
        } else {
            sim_time_t gap = tr->n > 1 ? (last - tr->t[0]) / (sim_time_t)(tr->n - 1) : SIM_SEC;
            period = last + (gap > 0 ? gap : 1);
        }
        tr->period = period;
    }
    /* the peak rate over a sliding 60 s window (two pointers) */
    size_t lo = 0, best = 0;
    for (size_t hi = 0; hi < tr->n; hi++) {
        while (tr->t[hi] - tr->t[lo] >= SIM_MIN) lo++;
        if (hi - lo + 1 > best) best = hi - lo + 1;
    }
    tr->peak_rate = (double)best / 60.0;
    return 0;
}

/* Rows with time < t in one pass (binary search). */
static size_t rows_before(const wl_trace_t *tr, sim_time_t t)
{
    size_t lo = 0, hi = tr->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (tr->t[mid] < t) lo = mid + 1; else hi = mid;
    }
    return lo;
}

static double count_upto(const wl_trace_t *tr, sim_time_t t)
{
    if (t <= 0) return 0;
    if (!tr->period) return (double)rows_before(tr, t);
    sim_time_t k = t / tr->period;
    return (double)k * (double)tr->n + (double)rows_before(tr, t - k * tr->period);
}

double wl_trace_count(const wl_trace_t *tr, sim_time_t t0, sim_time_t t1)
{
    return t1 <= t0 ? 0 : count_upto(tr, t1) - count_upto(tr, t0);
}
