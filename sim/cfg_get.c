/* Scenario configuration tree: the typed getters (see cfg.h).
 *
 * Owns sim_cfg_int/double/bool/string/enum and the unit getters
 * (duration, size, rate, ratio), by key and by node: the lookup of the key
 * (absent, required, a section that is not a mapping), the rule that typed
 * values are plain scalars (with a "write it without quotes" hint), ranges,
 * 'unbounded', and the "'PATH': expected ..., got ..." messages.
 * May call: navigation and message helpers of cfg.c, sim_cfg_closest
 * (cfg_unknown.c), the parsers of units.h. */
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "cfg_internal.h"
#include "error.h"
#include "units.h"

/* ---- Typed getters ------------------------------------------------------ */

/* Find `key` for a getter. A NULL or null `map` has no keys (so an empty
 * section "db:" gives defaults); any other non-mapping is reported once.
 * Returns the value, or NULL with *rc = 0 (absent) or SIM_ECONFIG. */
static sim_cfg_node_t *cfg_lookup(sim_diag_t *d, sim_cfg_node_t *map, const char *key,
                                  unsigned flags, int *rc)
{
    *rc = 0;
    if (map && map->kind != SIM_CFG_MAP && !sim_cfg_is_null(map)) {
        cfg_expect_kind(d, map, SIM_CFG_MAP, NULL);
        *rc = SIM_ECONFIG;
        return NULL;
    }
    sim_cfg_node_t *n = sim_cfg_get(map, key);
    if (n || !(flags & SIM_CFG_REQUIRED)) return n;
    char path[256];
    sim_cfg_path(map, path, sizeof path);
    if (!map) sim_diag_error_at(d, NULL, 0, 0, "missing required key '%s'", key);
    else if (!map->parent) sim_cfg_error(d, map, "missing required top-level key '%s'", key);
    else sim_cfg_error(d, map, "missing required key '%s' in '%s'", key, path);
    *rc = SIM_ECONFIG;
    return NULL;
}

/* The text of a typed scalar: a present, non-null, plain (unquoted) scalar.
 * `parses` tells whether a quoted text would have been valid unquoted. */
static int cfg_typed_text(sim_diag_t *d, sim_cfg_node_t *n, const char *expect,
                          bool (*parses)(const char *), const char **text)
{
    n->used = true;
    if (n->kind != SIM_CFG_SCALAR || sim_cfg_is_null(n)) return cfg_bad(d, n, expect, NULL);
    if (!n->plain)
        return cfg_bad(d, n, expect,
                       parses && parses(n->text) ? " (write it without quotes)" : NULL);
    *text = n->text;
    return 0;
}

/* Would the text be valid without quotes? (for the "write it without
 * quotes" hint) */
static bool cfg_parses_int(const char *s)
{
    int64_t v;
    return sim_parse_int(s, &v, NULL) == 0;
}

static bool cfg_parses_double(const char *s)
{
    double v;
    return sim_parse_double(s, &v, NULL) == 0;
}

static bool cfg_parses_bool(const char *s) { return !strcmp(s, "true") || !strcmp(s, "false"); }

static bool cfg_parses_duration(const char *s)
{
    sim_time_t v;
    return sim_parse_duration(s, &v, NULL) == 0;
}

static bool cfg_parses_size(const char *s)
{
    int64_t v;
    return sim_parse_size(s, &v, NULL) == 0;
}

static bool cfg_parses_rate(const char *s)
{
    double v;
    return sim_parse_rate(s, &v, NULL) == 0;
}

static bool cfg_parses_ratio(const char *s)
{
    double v;
    return sim_parse_ratio(s, &v, NULL) == 0;
}

static bool cfg_parses_flops(const char *s)
{
    double v;
    return sim_parse_flops(s, &v, NULL) == 0;
}

static bool cfg_parses_bandwidth(const char *s)
{
    double v;
    return sim_parse_bandwidth(s, &v, NULL) == 0;
}

int sim_cfg_int_node(sim_diag_t *d, sim_cfg_node_t *node, unsigned flags, int64_t min,
                     int64_t max, int64_t *out)
{
    if (!node) return SIM_EINVAL;
    if ((flags & SIM_CFG_POSITIVE) && min < 1) min = 1;
    char expect[160];
    int k;
    if (min != INT64_MIN && max != INT64_MAX)
        k = snprintf(expect, sizeof expect, "expected an integer between %" PRId64 " and %" PRId64,
                     min, max);
    else if (min != INT64_MIN)
        k = snprintf(expect, sizeof expect, "expected an integer >= %" PRId64, min);
    else if (max != INT64_MAX)
        k = snprintf(expect, sizeof expect, "expected an integer <= %" PRId64, max);
    else
        k = snprintf(expect, sizeof expect, "expected an integer");
    if (flags & SIM_CFG_UNBOUNDED)
        snprintf(expect + k, sizeof expect - (size_t)k, " or 'unbounded'");

    const char *text = NULL;
    int rc = cfg_typed_text(d, node, expect, cfg_parses_int, &text);
    if (rc) return rc;
    if ((flags & SIM_CFG_UNBOUNDED) && strcmp(text, "unbounded") == 0) {
        *out = INT64_MAX;
        return 0;
    }
    int64_t v;
    rc = sim_parse_int(text, &v, NULL);
    if (rc == SIM_ERANGE) return cfg_bad(d, node, expect, " (too large for a 64-bit integer)");
    if (rc) {
        const char *hint = NULL;
        if (strcmp(text, "unbounded") == 0) hint = " (this setting cannot be unbounded)";
        else if (strchr(text, '_')) hint = " (write the digits without '_')";
        return cfg_bad(d, node, expect, hint);
    }
    if (v < min || v > max) return cfg_bad(d, node, expect, NULL);
    *out = v;
    return 0;
}

int sim_cfg_double_node(sim_diag_t *d, sim_cfg_node_t *node, unsigned flags, double min,
                        double max, double *out)
{
    if (!node) return SIM_EINVAL;
    /* Bounds of magnitude >= 1e300 mean "none" in messages; with
     * SIM_CFG_POSITIVE a lower bound of at most 1e-300 reads "> 0". */
    bool positive = (flags & SIM_CFG_POSITIVE) && min <= 1e-300;
    bool has_lo = positive || min > -1e300, has_hi = max < 1e300;
    char expect[160];
    if (has_lo && has_hi && !positive)
        snprintf(expect, sizeof expect, "expected a number between %g and %g", min, max);
    else if (has_lo && has_hi)
        snprintf(expect, sizeof expect, "expected a number > 0 and <= %g", max);
    else if (has_lo && positive)
        snprintf(expect, sizeof expect, "expected a number > 0");
    else if (has_lo)
        snprintf(expect, sizeof expect, "expected a number >= %g", min);
    else if (has_hi)
        snprintf(expect, sizeof expect, "expected a number <= %g", max);
    else
        snprintf(expect, sizeof expect, "expected a number");

    const char *text = NULL;
    int rc = cfg_typed_text(d, node, expect, cfg_parses_double, &text);
    if (rc) return rc;
    double v;
    const char *why = NULL;
    rc = sim_parse_double(text, &v, &why);
    if (rc) {
        /* NaN, infinities and overflow get the parser's own phrase. */
        if (why && strstr(why, "finite")) return cfg_bad(d, node, why, NULL);
        return cfg_bad(d, node, expect, NULL);
    }
    if (v < min || v > max || ((flags & SIM_CFG_POSITIVE) && !(v > 0.0)))
        return cfg_bad(d, node, expect, NULL);
    *out = v;
    return 0;
}

typedef enum { CFG_DURATION, CFG_SIZE, CFG_RATE, CFG_RATIO, CFG_FLOPS, CFG_BANDWIDTH } cfg_unit_t;

static const char *const cfg_unit_expect[] = {
    "expected a duration with a unit such as 250us, 20ms or 1.5s",
    "expected a size with a unit such as 512B, 4KiB or 1.5MiB",
    "expected a rate with a unit such as 800/s or 1.2k/s",
    "expected a ratio such as 0.35 or 35%",
    "expected a compute rate with a unit such as 312TFLOP/s or 1.5PFLOP/s",
    "expected a bandwidth with a unit such as 2039GB/s, 2.039TB/s or 600GiB/s",
};
static const char *const cfg_unit_positive[] = {
    "expected a duration > 0", "expected a size > 0", "expected a rate > 0",
    "expected a ratio > 0 (and at most 1)", "expected a compute rate > 0",
    "expected a bandwidth > 0",
};
static bool (*const cfg_unit_parses[])(const char *) = {
    cfg_parses_duration, cfg_parses_size, cfg_parses_rate, cfg_parses_ratio,
    cfg_parses_flops, cfg_parses_bandwidth,
};

/* Shared body of the unit getters; *iv for durations and sizes, *dv for
 * rates, ratios, compute rates and bandwidths. Only durations and sizes can
 * be 'unbounded'. */
static int cfg_unit_node(sim_diag_t *d, sim_cfg_node_t *n, unsigned flags, cfg_unit_t u,
                         int64_t *iv, double *dv)
{
    if (!n) return SIM_EINVAL;
    bool unb = (flags & SIM_CFG_UNBOUNDED) && (u == CFG_DURATION || u == CFG_SIZE);
    const char *tail = unb ? " or 'unbounded'" : "";
    char expect[256];
    snprintf(expect, sizeof expect, "%s%s", cfg_unit_expect[u], tail);
    const char *text = NULL;
    int rc = cfg_typed_text(d, n, expect, cfg_unit_parses[u], &text);
    if (rc) return rc;
    if (unb && strcmp(text, "unbounded") == 0) {
        *iv = u == CFG_DURATION ? SIM_TIME_MAX : INT64_MAX;
        return 0;
    }
    const char *why = NULL;
    bool zero = false;
    switch (u) {
    case CFG_DURATION: rc = sim_parse_duration(text, iv, &why); zero = rc == 0 && *iv == 0; break;
    case CFG_SIZE: rc = sim_parse_size(text, iv, &why); zero = rc == 0 && *iv == 0; break;
    case CFG_RATE: rc = sim_parse_rate(text, dv, &why); zero = rc == 0 && *dv == 0.0; break;
    case CFG_RATIO: rc = sim_parse_ratio(text, dv, &why); zero = rc == 0 && *dv == 0.0; break;
    case CFG_FLOPS: rc = sim_parse_flops(text, dv, &why); zero = rc == 0 && *dv == 0.0; break;
    case CFG_BANDWIDTH: rc = sim_parse_bandwidth(text, dv, &why); zero = rc == 0 && *dv == 0.0; break;
    }
    if (rc) {
        snprintf(expect, sizeof expect, "%s%s", why ? why : cfg_unit_expect[u], tail);
        return cfg_bad(d, n, expect,
                       strcmp(text, "unbounded") == 0 ? " (this setting cannot be unbounded)"
                                                      : NULL);
    }
    if ((flags & SIM_CFG_POSITIVE) && zero) return cfg_bad(d, n, cfg_unit_positive[u], NULL);
    return 0;
}

int sim_cfg_duration_node(sim_diag_t *d, sim_cfg_node_t *node, unsigned flags, sim_time_t *out)
{
    int64_t v = 0;
    int rc = cfg_unit_node(d, node, flags, CFG_DURATION, &v, NULL);
    if (rc == 0) *out = v;
    return rc;
}

int sim_cfg_size_node(sim_diag_t *d, sim_cfg_node_t *node, unsigned flags, int64_t *out)
{
    int64_t v = 0;
    int rc = cfg_unit_node(d, node, flags, CFG_SIZE, &v, NULL);
    if (rc == 0) *out = v;
    return rc;
}

int sim_cfg_rate_node(sim_diag_t *d, sim_cfg_node_t *node, unsigned flags, double *out)
{
    double v = 0.0;
    int rc = cfg_unit_node(d, node, flags, CFG_RATE, NULL, &v);
    if (rc == 0) *out = v;
    return rc;
}

int sim_cfg_ratio_node(sim_diag_t *d, sim_cfg_node_t *node, unsigned flags, double *out)
{
    double v = 0.0;
    int rc = cfg_unit_node(d, node, flags, CFG_RATIO, NULL, &v);
    if (rc == 0) *out = v;
    return rc;
}

int sim_cfg_flops_node(sim_diag_t *d, sim_cfg_node_t *node, unsigned flags, double *out)
{
    double v = 0.0;
    int rc = cfg_unit_node(d, node, flags, CFG_FLOPS, NULL, &v);
    if (rc == 0) *out = v;
    return rc;
}

int sim_cfg_bandwidth_node(sim_diag_t *d, sim_cfg_node_t *node, unsigned flags, double *out)
{
    double v = 0.0;
    int rc = cfg_unit_node(d, node, flags, CFG_BANDWIDTH, NULL, &v);
    if (rc == 0) *out = v;
    return rc;
}

int sim_cfg_string_node(sim_diag_t *d, sim_cfg_node_t *node, const char **out)
{
    if (!node) return SIM_EINVAL;
    node->used = true;
    if (node->kind != SIM_CFG_SCALAR) return cfg_bad(d, node, "expected a string", NULL);
    if (sim_cfg_is_null(node))
        return cfg_bad(d, node, "expected a string", " (write \"\" for an empty string)");
    *out = node->text;
    return 0;
}

static int cfg_bool_node(sim_diag_t *d, sim_cfg_node_t *node, bool *out)
{
    const char *text = NULL;
    int rc = cfg_typed_text(d, node, "expected true or false", cfg_parses_bool, &text);
    if (rc) return rc;
    if (strcmp(text, "true") == 0) *out = true;
    else if (strcmp(text, "false") == 0) *out = false;
    else return cfg_bad(d, node, "expected true or false", NULL);
    return 0;
}

static int cfg_enum_node(sim_diag_t *d, sim_cfg_node_t *node, const char *const *choices,
                         int *out)
{
    char expect[512];
    size_t k = (size_t)snprintf(expect, sizeof expect, "expected one of ");
    size_t nc = 0;
    for (; choices[nc]; nc++) {
        int w = snprintf(expect + k, sizeof expect - k, "%s%s", nc ? ", " : "", choices[nc]);
        if (w < 0 || (size_t)w >= sizeof expect - k) {
            k = sizeof expect - 1;
            break;
        }
        k += (size_t)w;
    }
    while (choices[nc]) nc++;
    node->used = true;
    if (node->kind != SIM_CFG_SCALAR || sim_cfg_is_null(node))
        return cfg_bad(d, node, expect, NULL);
    for (size_t i = 0; i < nc; i++) {
        if (strcmp(node->text, choices[i]) == 0) {
            *out = (int)i;
            return 0;
        }
    }
    const char *best = sim_cfg_closest(node->text, choices, nc);
    char hint[128] = "";
    if (best) snprintf(hint, sizeof hint, " (did you mean '%s'?)", best);
    return cfg_bad(d, node, expect, hint);
}

int sim_cfg_int(sim_diag_t *d, sim_cfg_node_t *map, const char *key, unsigned flags,
                int64_t min, int64_t max, int64_t dflt, int64_t *out)
{
    int rc;
    *out = dflt;
    sim_cfg_node_t *n = cfg_lookup(d, map, key, flags, &rc);
    return n ? sim_cfg_int_node(d, n, flags, min, max, out) : rc;
}

int sim_cfg_double(sim_diag_t *d, sim_cfg_node_t *map, const char *key, unsigned flags,
                   double min, double max, double dflt, double *out)
{
    int rc;
    *out = dflt;
    sim_cfg_node_t *n = cfg_lookup(d, map, key, flags, &rc);
    return n ? sim_cfg_double_node(d, n, flags, min, max, out) : rc;
}

int sim_cfg_bool(sim_diag_t *d, sim_cfg_node_t *map, const char *key, unsigned flags,
                 bool dflt, bool *out)
{
    int rc;
    *out = dflt;
    sim_cfg_node_t *n = cfg_lookup(d, map, key, flags, &rc);
    return n ? cfg_bool_node(d, n, out) : rc;
}

int sim_cfg_string(sim_diag_t *d, sim_cfg_node_t *map, const char *key, unsigned flags,
                   const char *dflt, const char **out)
{
    int rc;
    *out = dflt;
    sim_cfg_node_t *n = cfg_lookup(d, map, key, flags, &rc);
    return n ? sim_cfg_string_node(d, n, out) : rc;
}

int sim_cfg_enum_node(sim_diag_t *d, sim_cfg_node_t *node, const char *const *choices, int *out)
{
    return cfg_enum_node(d, node, choices, out);
}

int sim_cfg_enum(sim_diag_t *d, sim_cfg_node_t *map, const char *key, unsigned flags,
                 const char *const *choices, int dflt, int *out)
{
    int rc;
    *out = dflt;
    sim_cfg_node_t *n = cfg_lookup(d, map, key, flags, &rc);
    return n ? cfg_enum_node(d, n, choices, out) : rc;
}

int sim_cfg_duration(sim_diag_t *d, sim_cfg_node_t *map, const char *key, unsigned flags,
                     sim_time_t dflt, sim_time_t *out)
{
    int rc;
    *out = dflt;
    sim_cfg_node_t *n = cfg_lookup(d, map, key, flags, &rc);
    return n ? sim_cfg_duration_node(d, n, flags, out) : rc;
}

int sim_cfg_size(sim_diag_t *d, sim_cfg_node_t *map, const char *key, unsigned flags,
                 int64_t dflt, int64_t *out)
{
    int rc;
    *out = dflt;
    sim_cfg_node_t *n = cfg_lookup(d, map, key, flags, &rc);
    return n ? sim_cfg_size_node(d, n, flags, out) : rc;
}

int sim_cfg_rate(sim_diag_t *d, sim_cfg_node_t *map, const char *key, unsigned flags,
                 double dflt, double *out)
{
    int rc;
    *out = dflt;
    sim_cfg_node_t *n = cfg_lookup(d, map, key, flags, &rc);
    return n ? sim_cfg_rate_node(d, n, flags, out) : rc;
}

int sim_cfg_ratio(sim_diag_t *d, sim_cfg_node_t *map, const char *key, unsigned flags,
                  double dflt, double *out)
{
    int rc;
    *out = dflt;
    sim_cfg_node_t *n = cfg_lookup(d, map, key, flags, &rc);
    return n ? sim_cfg_ratio_node(d, n, flags, out) : rc;
}

int sim_cfg_flops(sim_diag_t *d, sim_cfg_node_t *map, const char *key, unsigned flags,
                  double dflt, double *out)
{
    int rc;
    *out = dflt;
    sim_cfg_node_t *n = cfg_lookup(d, map, key, flags, &rc);
    return n ? sim_cfg_flops_node(d, n, flags, out) : rc;
}

int sim_cfg_bandwidth(sim_diag_t *d, sim_cfg_node_t *map, const char *key, unsigned flags,
                      double dflt, double *out)
{
    int rc;
    *out = dflt;
    sim_cfg_node_t *n = cfg_lookup(d, map, key, flags, &rc);
    return n ? sim_cfg_bandwidth_node(d, n, flags, out) : rc;
}
