/* Retry decisions (retry.h): backoff schedules and jitter (full, equal,
 * decorrelated). Pure; calls the engine's random streams and getters. */
#include "models/policies/retry.h"

#include <string.h>

#include "sim/error.h"

const char *const retry_backoff_names[] = {"constant", "exponential", NULL};
const char *const retry_jitter_names[] = {"none", "full", "equal", "decorrelated", NULL};
const char *const retry_on_names[] = {"error", "timeout", "rejected", "unavailable", NULL};

#define RETRY_MAX_ATTEMPTS 1000

int retry_spec_parse(sim_diag_t *d, sim_cfg_node_t *map, retry_spec_t *spec)
{
    *spec = RETRY_DEFAULTS;
    if (!map) return 0;
    /* a null value ("key:" with nothing) is an empty mapping */
    if (!sim_cfg_is_null(map) && !sim_cfg_expect_map(d, map, "retry policy")) return SIM_ECONFIG;
    int errs = d->errors;
    int64_t attempts;
    sim_cfg_int(d, map, "max_attempts", 0, 1, RETRY_MAX_ATTEMPTS, spec->max_attempts, &attempts);
    spec->max_attempts = (int32_t)attempts;
    int backoff = (int)spec->backoff, jitter = (int)spec->jitter;
    sim_cfg_enum(d, map, "backoff", 0, retry_backoff_names, backoff, &backoff);
    sim_cfg_enum(d, map, "jitter", 0, retry_jitter_names, jitter, &jitter);
    spec->backoff = (retry_backoff_t)backoff;
    spec->jitter = (retry_jitter_t)jitter;
    sim_cfg_node_t *cap_node = sim_cfg_get(map, "cap");
    sim_cfg_duration(d, map, "base", SIM_CFG_POSITIVE, spec->base, &spec->base);
    sim_cfg_duration(d, map, "cap", SIM_CFG_POSITIVE, spec->cap, &spec->cap);
    /* Envoy: max_interval defaults to 10 x base_interval */
    if (!cap_node && d->errors == errs) spec->cap = spec->base > SIM_TIME_MAX / 10 ? SIM_TIME_MAX : 10 * spec->base;
    if (d->errors == errs && spec->cap < spec->base)
        sim_cfg_error(d, cap_node, "'cap' must not be shorter than 'base'");

    sim_cfg_node_t *on = sim_cfg_get(map, "retry_on");
    if (on && sim_cfg_expect_seq(d, on, "retry_on list")) {
        size_t n = 0;
        while (retry_on_names[n]) n++;
        unsigned mask = 0;
        for (size_t i = 0; i < on->n; i++) {
            const char *name = NULL;
            if (sim_cfg_string_node(d, on->vals[i], &name)) continue;
            size_t k = 0;
            while (k < n && strcmp(name, retry_on_names[k]) != 0) k++;
            if (k == n) {
                char path[256];
                sim_cfg_path(on->vals[i], path, sizeof path);
                const char *best = sim_cfg_closest(name, retry_on_names, n);
                if (best)
                    sim_cfg_error(d, on->vals[i],
                                  "'%s': expected one of error, timeout, rejected, unavailable, "
                                  "got '%s' (did you mean '%s'?)", path, name, best);
                else
                    sim_cfg_error(d, on->vals[i],
                                  "'%s': expected one of error, timeout, rejected, unavailable, "
                                  "got '%s'", path, name);
                continue;
            }
            if (mask & 1u << k)
                sim_cfg_warn(d, on->vals[i], "'%s' is listed twice in 'retry_on'", name);
            mask |= 1u << k;
        }
        spec->retry_on = mask;
    }
    return d->errors == errs ? 0 : SIM_ECONFIG;
}

/* a + U{0 .. b - a}, both ends included; b >= a >= 0 */
static sim_time_t uniform_between(sim_rng_t *rng, sim_time_t a, sim_time_t b)
{
    if (b <= a) return a;
    uint64_t span = (uint64_t)(b - a);
    return a + (sim_time_t)(span == UINT64_MAX ? sim_rng_next(rng) : sim_rng_below(rng, span + 1));
}

sim_time_t retry_delay(const retry_spec_t *spec, int retry_index, sim_time_t prev_delay, sim_rng_t *rng)
{
    if (spec->jitter == RETRY_JITTER_DECORRELATED) {
        sim_time_t prev = retry_index <= 0 || prev_delay < spec->base ? spec->base : prev_delay;
        sim_time_t hi = prev > SIM_TIME_MAX / 3 ? SIM_TIME_MAX : 3 * prev;
        sim_time_t d = uniform_between(rng, spec->base, hi);
        return d < spec->cap ? d : spec->cap;
    }
    sim_time_t d = spec->base;
    if (spec->backoff == RETRY_BACKOFF_EXPONENTIAL) {
        /* min(cap, base * 2^n) without overflow */
        for (int i = 0; i < retry_index && d < spec->cap; i++) d = d > spec->cap / 2 ? spec->cap : 2 * d;
        if (d > spec->cap) d = spec->cap;
    }
    switch (spec->jitter) {
    case RETRY_JITTER_FULL: return uniform_between(rng, 0, d);
    case RETRY_JITTER_EQUAL: return uniform_between(rng, d / 2, d);
    default: return d;
    }
}

bool retry_should(const retry_spec_t *spec, int attempts_done, int status_bit, sim_time_t delay,
                  sim_time_t now, sim_time_t deadline)
{
    if (attempts_done >= spec->max_attempts) return false;
    if (status_bit <= 0 || !((unsigned)status_bit & spec->retry_on)) return false;
    if (deadline == SIM_TIME_MAX) return true;
    return delay < deadline - now;   /* now + delay < deadline, without overflow */
}
