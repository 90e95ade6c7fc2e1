/* The circuit breaker's state machine (circuit_breaker.h): Resilience4j's
 * count and time windows, Hystrix and Sentinel presets. Pure; calls the
 * scenario tree's getters only. */
#include "models/policies/circuit_breaker.h"

#include <stdlib.h>
#include <string.h>

#include "sim/error.h"

const char *const cb_window_names[] = {"count_based", "time_based", NULL};
const char *const cb_preset_names[] = {"resilience4j", "hystrix", "sentinel", NULL};

cb_spec_t cb_spec_preset(cb_preset_t preset)
{
    switch (preset) {
    case CB_PRESET_HYSTRIX:
        /* requestVolumeThreshold 20, errorThresholdPercentage 50,
         * sleepWindowInMilliseconds 5000, 10 s rolling window in 10 buckets,
         * one trial request; Hystrix has no slow-call rule. */
        return (cb_spec_t){.preset = preset, .window = CB_TIME_BASED, .window_size = 10,
                           .min_calls = 20, .failure_rate = 0.5, .slow_rate = 0,
                           .slow_duration = SIM_TIME_MAX, .wait_open = 5 * SIM_SEC,
                           .permitted = 1};
    case CB_PRESET_SENTINEL:
        /* DegradeRule: statIntervalMs 1000 (one bucket), minRequestAmount 5,
         * strictly above, one probe; the rule (error ratio and/or slow ratio
         * with max RT) and timeWindow come from the scenario. */
        return (cb_spec_t){.preset = preset, .window = CB_TIME_BASED, .window_size = 1,
                           .min_calls = 5, .failure_rate = 0, .slow_rate = 0,
                           .slow_duration = SIM_TIME_MAX, .wait_open = 0, .permitted = 1,
                           .strictly_above = true, .wait_inclusive = true};
    case CB_PRESET_RESILIENCE4J:
    default:
        return (cb_spec_t){.preset = CB_PRESET_RESILIENCE4J, .window = CB_COUNT_BASED,
                           .window_size = 100, .min_calls = 100, .failure_rate = 0.5,
                           .slow_rate = 1.0, .slow_duration = 60 * SIM_SEC,
                           .wait_open = 60 * SIM_SEC, .permitted = 10};
    }
}

int cb_spec_parse(sim_diag_t *d, sim_cfg_node_t *map, cb_spec_t *spec)
{
    *spec = cb_spec_preset(CB_PRESET_RESILIENCE4J);
    if (!map) return 0;
    /* a null value ("key:" with nothing) is an empty mapping */
    if (!sim_cfg_is_null(map) && !sim_cfg_expect_map(d, map, "circuit breaker")) return SIM_ECONFIG;
    int errs = d->errors;
    int preset = CB_PRESET_RESILIENCE4J;
    sim_cfg_enum(d, map, "preset", 0, cb_preset_names, preset, &preset);
    *spec = cb_spec_preset((cb_preset_t)preset);

    int window = (int)spec->window;
    int64_t size, min_calls, permitted, consecutive, consecutive_slow;
    sim_cfg_enum(d, map, "sliding_window_type", 0, cb_window_names, window, &window);
    spec->window = (cb_window_t)window;
    sim_cfg_int(d, map, "sliding_window_size", 0, 1, CB_MAX_WINDOW, spec->window_size, &size);
    sim_cfg_int(d, map, "minimum_number_of_calls", 0, 1, 1000000000, spec->min_calls, &min_calls);
    sim_cfg_int(d, map, "permitted_number_of_calls_in_half_open_state", 0, 1, 1000000000,
                spec->permitted, &permitted);
    sim_cfg_int(d, map, "consecutive_failures", 0, 0, 1000000000, spec->consecutive_failures,
                &consecutive);
    sim_cfg_int(d, map, "consecutive_slow_calls", 0, 0, 1000000000, spec->consecutive_slow,
                &consecutive_slow);
    spec->window_size = (int32_t)size;
    spec->min_calls = (int32_t)min_calls;
    spec->permitted = (int32_t)permitted;
    spec->consecutive_failures = (int32_t)consecutive;
    spec->consecutive_slow = (int32_t)consecutive_slow;

    sim_cfg_node_t *fail_node = sim_cfg_get(map, "failure_rate_threshold");
    sim_cfg_node_t *slow_node = sim_cfg_get(map, "slow_call_rate_threshold");
    sim_cfg_node_t *dur_node = sim_cfg_get(map, "slow_call_duration_threshold");
    sim_cfg_node_t *wait_node = sim_cfg_get(map, "wait_duration_in_open_state");
    sim_cfg_ratio(d, map, "failure_rate_threshold", SIM_CFG_POSITIVE, spec->failure_rate,
                  &spec->failure_rate);
    sim_cfg_ratio(d, map, "slow_call_rate_threshold", SIM_CFG_POSITIVE, spec->slow_rate,
                  &spec->slow_rate);
    sim_cfg_duration(d, map, "slow_call_duration_threshold", SIM_CFG_UNBOUNDED,
                     spec->slow_duration, &spec->slow_duration);
    sim_cfg_duration(d, map, "wait_duration_in_open_state", 0, spec->wait_open, &spec->wait_open);
    sim_cfg_bool(d, map, "strictly_above", 0, spec->strictly_above, &spec->strictly_above);

    /* Presets without a slow-call rule (hystrix, sentinel): a max RT alone
     * turns it on at 100% (Sentinel's default slowRatioThreshold 1.0); a rate
     * alone has no duration to compare with. */
    if (dur_node && !slow_node && spec->slow_rate == 0) spec->slow_rate = 1.0;
    if (slow_node && !dur_node && spec->slow_duration == SIM_TIME_MAX)
        sim_cfg_error(d, slow_node,
                      "'slow_call_rate_threshold' needs 'slow_call_duration_threshold' with the "
                      "%s preset (the duration above which a call is slow%s)",
                      cb_preset_names[preset],
                      preset == CB_PRESET_SENTINEL ? ": Sentinel's max RT" : "");
    if (preset == CB_PRESET_SENTINEL) {
        sim_cfg_node_t *at = sim_cfg_get(map, "preset");
        if (!fail_node && !slow_node && !dur_node)
            sim_cfg_error(d, at,
                          "the sentinel preset needs a degrade rule: 'failure_rate_threshold' "
                          "(error ratio) or 'slow_call_duration_threshold' (max RT) with "
                          "'slow_call_rate_threshold'");
        if (!wait_node)
            sim_cfg_error(d, at,
                          "the sentinel preset needs 'wait_duration_in_open_state' (Sentinel's "
                          "timeWindow)");
    }
    return d->errors == errs ? 0 : SIM_ECONFIG;
}

const char *cb_state_name(cb_state_t s)
{
    switch (s) {
    case CB_CLOSED: return "closed";
    case CB_OPEN: return "open";
    case CB_HALF_OPEN: return "half_open";
    }
    return "?";
}

static bool spec_valid(const cb_spec_t *s)
{
    return s->window_size >= 1 && s->window_size <= CB_MAX_WINDOW && s->min_calls >= 1 &&
           s->permitted >= 1 && s->failure_rate >= 0 && s->failure_rate <= 1 &&
           s->slow_rate >= 0 && s->slow_rate <= 1 && s->slow_duration >= 0 &&
           s->wait_open >= 0 && s->consecutive_failures >= 0 && s->consecutive_slow >= 0 &&
           (s->window == CB_COUNT_BASED || s->window == CB_TIME_BASED);
}

/* Whole second of simulated time containing t (floor, also for t < 0). */
static int64_t second_of(sim_time_t t) { return t >= 0 ? t / SIM_SEC : -((-t + SIM_SEC - 1) / SIM_SEC); }

static int32_t bucket_index(const cb_t *cb, int64_t sec)
{
    int64_t m = sec % cb->spec.window_size;
    return (int32_t)(m < 0 ? m + cb->spec.window_size : m);
}

/* An empty CLOSED window whose newest second is that of `now`. */
static void window_clear(cb_t *cb, sim_time_t now)
{
    cb->n = cb->failed = cb->slow = 0;
    cb->head = 0;
    cb->consecutive = cb->consecutive_slow = 0;
    if (cb->ring) memset(cb->ring, 0, (size_t)cb->spec.window_size);
    if (cb->buckets) memset(cb->buckets, 0, (size_t)cb->spec.window_size * sizeof *cb->buckets);
    cb->head_sec = second_of(now);
}

int cb_init(cb_t *cb, const cb_spec_t *spec, cb_transition_fn on_transition, void *ctx)
{
    memset(cb, 0, sizeof *cb);
    if (!spec_valid(spec)) return SIM_EINVAL;
    cb->spec = *spec;
    cb->on_transition = on_transition;
    cb->ctx = ctx;
    cb->state = CB_CLOSED;
    /* Resilience4j caps the minimum at the size of a count window (so that
     * it can be reached); a time window keeps it. */
    cb->min_calls = spec->window == CB_COUNT_BASED && spec->min_calls > spec->window_size
                        ? spec->window_size
                        : spec->min_calls;
    if (spec->window == CB_COUNT_BASED) cb->ring = calloc((size_t)spec->window_size, 1);
    else cb->buckets = calloc((size_t)spec->window_size, sizeof *cb->buckets);
    if (!cb->ring && !cb->buckets) return SIM_ENOMEM;
    window_clear(cb, 0);
    return 0;
}

void cb_fini(cb_t *cb)
{
    free(cb->ring);
    free(cb->buckets);
    memset(cb, 0, sizeof *cb);
}

static void transition(cb_t *cb, cb_state_t to, sim_time_t now)
{
    cb_state_t from = cb->state;
    cb->state = to;
    switch (to) {
    case CB_OPEN:
        cb->opened_at = now;
        cb->opens++;
        break;
    case CB_HALF_OPEN:
        cb->permits_left = cb->spec.permitted;
        cb->ho_n = cb->ho_failed = cb->ho_slow = 0;
        cb->ho_min = cb->spec.min_calls < cb->spec.permitted ? cb->spec.min_calls : cb->spec.permitted;
        break;
    case CB_CLOSED:
        window_clear(cb, now);
        break;
    }
    if (cb->on_transition) cb->on_transition(cb->ctx, from, to, now);
}

/* Has k of n reached the threshold? thr = 0: the rule is off. */
static bool reached(const cb_spec_t *s, double thr, int64_t k, int64_t n)
{
    if (thr <= 0 || n <= 0) return false;
    double r = (double)k / (double)n;
    if (s->strictly_above) return r > thr || (k == n && thr >= 1.0);
    return r >= thr;
}

bool cb_allow(cb_t *cb, sim_time_t now)
{
    if (cb->state == CB_OPEN) {
        sim_time_t waited = now - cb->opened_at;
        bool over = cb->spec.wait_inclusive ? waited >= cb->spec.wait_open
                                            : waited > cb->spec.wait_open;
        if (!over) {
            cb->rejected++;
            return false;
        }
        transition(cb, CB_HALF_OPEN, now);
    }
    if (cb->state == CB_HALF_OPEN) {
        if (cb->permits_left == 0) {
            cb->rejected++;
            return false;
        }
        cb->permits_left--;
    }
    cb->allowed++;
    return true;
}

/* Move the time window so that its newest second is `sec`: the buckets of
 * the seconds that left (sec - N, sec] are subtracted and zeroed. */
static void window_advance(cb_t *cb, int64_t sec)
{
    if (sec <= cb->head_sec) return;
    int64_t size = cb->spec.window_size;
    int64_t from = sec - cb->head_sec > size ? sec - size + 1 : cb->head_sec + 1;
    for (int64_t s = from; s <= sec; s++) {
        cb_bucket_t *b = &cb->buckets[bucket_index(cb, s)];
        cb->n -= b->calls;
        cb->failed -= b->failed;
        cb->slow -= b->slow;
        *b = (cb_bucket_t){0, 0, 0};
    }
    cb->head_sec = sec;
}

static void window_push(cb_t *cb, sim_time_t now, bool failure, bool slow)
{
    if (cb->spec.window == CB_COUNT_BASED) {
        uint8_t *slot = &cb->ring[cb->head];
        if (cb->n == cb->spec.window_size) {   /* evict the oldest outcome */
            cb->failed -= *slot & 1;
            cb->slow -= *slot >> 1 & 1;
        } else {
            cb->n++;
        }
        *slot = (uint8_t)(failure | slow << 1);
        cb->head = cb->head + 1 == cb->spec.window_size ? 0 : cb->head + 1;
    } else {
        /* an outcome older than the window's head (now went backwards) counts in the head */
        window_advance(cb, second_of(now));
        cb_bucket_t *b = &cb->buckets[bucket_index(cb, cb->head_sec)];
        b->calls++;
        b->failed += failure;
        b->slow += slow;
        cb->n++;
    }
    cb->failed += failure;
    cb->slow += slow;
}

void cb_record(cb_t *cb, sim_time_t now, bool failure, sim_time_t duration)
{
    const cb_spec_t *s = &cb->spec;
    bool slow = duration > s->slow_duration;
    switch (cb->state) {
    case CB_CLOSED:
        window_push(cb, now, failure, slow);
        cb->consecutive = failure ? cb->consecutive + 1 : 0;
        cb->consecutive_slow = slow ? cb->consecutive_slow + 1 : 0;
        if ((s->consecutive_failures > 0 && cb->consecutive >= s->consecutive_failures) ||
            (s->consecutive_slow > 0 && cb->consecutive_slow >= s->consecutive_slow) ||
            (cb->n >= cb->min_calls &&
             (reached(s, s->failure_rate, cb->failed, cb->n) ||
              reached(s, s->slow_rate, cb->slow, cb->n))))
            transition(cb, CB_OPEN, now);
        break;
    case CB_OPEN:
        break;   /* a call allowed before the breaker opened: its outcome is dropped */
    case CB_HALF_OPEN:
        cb->ho_n++;
        cb->ho_failed += failure;
        cb->ho_slow += slow;
        if (cb->ho_n >= cb->ho_min) {
            bool trip = reached(s, s->failure_rate, cb->ho_failed, cb->ho_n) ||
                        reached(s, s->slow_rate, cb->ho_slow, cb->ho_n);
            transition(cb, trip ? CB_OPEN : CB_CLOSED, now);
        }
        break;
    }
}
