/* Netflix's adaptive concurrency limits (adaptive_concurrency.h): AIMD and
 * Gradient2, as pure state machines. Calls nothing but the scenario tree's
 * getters. */
#include "models/policies/adaptive_concurrency.h"

#include <assert.h>
#include <string.h>

#include "sim/error.h"

const char *const cl_algorithm_names[] = {"aimd", "gradient2", NULL};

/* Keys that only one algorithm reads. */
static const char *const aimd_keys[] = {"backoff_ratio", "timeout", NULL};
static const char *const gradient2_keys[] = {"smoothing", "queue_size", "rtt_tolerance", "long_window", NULL};

cl_spec_t cl_spec_default(cl_algorithm_t algorithm)
{
    /* AIMDLimit.Builder: initialLimit 20, minLimit 20, maxLimit 200,
     * backoffRatio 0.9, timeout 5 s. Gradient2Limit.Builder: initialLimit
     * 20, minLimit 20, maxConcurrency 200, smoothing 0.2, queueSize 4,
     * rttTolerance 1.5, longWindow 600. */
    return (cl_spec_t){.algorithm = algorithm, .initial_limit = 20, .min_limit = 20,
                       .max_limit = 200, .backoff_ratio = 0.9, .timeout = 5 * SIM_SEC,
                       .smoothing = 0.2, .queue_size = 4, .rtt_tolerance = 1.5,
                       .long_window = 600};
}

/* The key node of `key` in `map` (for messages about the key itself). */
static sim_cfg_node_t *key_node(sim_cfg_node_t *map, const char *key)
{
    for (size_t i = 0; i < map->n; i++)
        if (strcmp(map->keys[i]->text, key) == 0) return map->keys[i];
    return NULL;
}

/* Report every key of `keys` present in `map` as belonging to `owner`. */
static void reject_keys(sim_diag_t *d, sim_cfg_node_t *map, const char *const *keys,
                        const char *owner, const char *chosen)
{
    for (int i = 0; keys[i]; i++) {
        if (!sim_cfg_get(map, keys[i])) continue;   /* marks it read: reported here, not as unknown */
        sim_cfg_error(d, key_node(map, keys[i]),
                      "'%s' is a parameter of the %s algorithm, but 'algorithm' is %s (remove it or change the algorithm)",
                      keys[i], owner, chosen);
    }
}

static int32_t get_count(sim_diag_t *d, sim_cfg_node_t *map, const char *key, int64_t min,
                         int64_t max, int32_t dflt)
{
    int64_t v;
    sim_cfg_int(d, map, key, 0, min, max, dflt, &v);
    return (int32_t)v;
}

int cl_spec_parse(sim_diag_t *d, sim_cfg_node_t *map, cl_spec_t *spec)
{
    *spec = cl_spec_default(CL_GRADIENT2);
    if (!map) return 0;
    /* a null value ("adaptive_concurrency:" with nothing) is an empty mapping */
    if (!sim_cfg_is_null(map) && !sim_cfg_expect_map(d, map, "adaptive concurrency limit"))
        return SIM_ECONFIG;
    int errs = d->errors;
    int algorithm = CL_GRADIENT2;
    if (sim_cfg_enum(d, map, "algorithm", 0, cl_algorithm_names, algorithm, &algorithm)) {
        /* unknown algorithm: its keys cannot be judged; do not report them as unknown */
        for (int i = 0; aimd_keys[i]; i++) sim_cfg_get(map, aimd_keys[i]);
        for (int i = 0; gradient2_keys[i]; i++) sim_cfg_get(map, gradient2_keys[i]);
        for (const char *const *k = (const char *const[]){"initial_limit", "min_limit", "max_limit", NULL}; *k; k++)
            sim_cfg_get(map, *k);
        return SIM_ECONFIG;
    }
    *spec = cl_spec_default((cl_algorithm_t)algorithm);
    spec->initial_limit = get_count(d, map, "initial_limit", 1, CL_MAX_LIMIT, spec->initial_limit);
    spec->min_limit = get_count(d, map, "min_limit", 1, CL_MAX_LIMIT, spec->min_limit);
    spec->max_limit = get_count(d, map, "max_limit", 1, CL_MAX_LIMIT, spec->max_limit);
    const char *name = cl_algorithm_names[algorithm];
    if (algorithm == CL_AIMD) {
        sim_cfg_node_t *ratio_node = sim_cfg_get(map, "backoff_ratio");
        if (sim_cfg_double(d, map, "backoff_ratio", 0, 0.5, 1.0, spec->backoff_ratio,
                           &spec->backoff_ratio) == 0 && spec->backoff_ratio >= 1.0) {
            char path[256];
            sim_cfg_path(ratio_node, path, sizeof path);
            sim_cfg_error(d, ratio_node,
                          "'%s': expected a number >= 0.5 and < 1 (AIMDLimit's backoff range), got '%s'",
                          path, ratio_node->text);
            spec->backoff_ratio = 0.9;
        }
        sim_cfg_duration(d, map, "timeout", SIM_CFG_POSITIVE, spec->timeout, &spec->timeout);
        reject_keys(d, map, gradient2_keys, "gradient2", name);
    } else {
        sim_cfg_double(d, map, "smoothing", 0, 0.0, 1.0, spec->smoothing, &spec->smoothing);
        spec->queue_size = get_count(d, map, "queue_size", 0, CL_MAX_LIMIT, spec->queue_size);
        sim_cfg_double(d, map, "rtt_tolerance", 0, 1.0, 1e6, spec->rtt_tolerance, &spec->rtt_tolerance);
        spec->long_window = get_count(d, map, "long_window", 1, 1000000000, spec->long_window);
        reject_keys(d, map, aimd_keys, "aimd", name);
    }
    if (d->errors == errs) {
        sim_cfg_node_t *min_node = sim_cfg_get(map, "min_limit");
        sim_cfg_node_t *max_node = sim_cfg_get(map, "max_limit");
        sim_cfg_node_t *init_node = sim_cfg_get(map, "initial_limit");
        if (spec->min_limit > spec->max_limit)
            sim_cfg_error(d, max_node ? max_node : min_node,
                          "'min_limit' (%d) must not exceed 'max_limit' (%d)", (int)spec->min_limit,
                          (int)spec->max_limit);
        else if (spec->initial_limit < spec->min_limit || spec->initial_limit > spec->max_limit)
            /* Netflix's builders only log this; the limit starts there and
             * is clamped at the first sample */
            sim_cfg_warn(d, init_node ? init_node : (min_node ? min_node : max_node),
                         "'initial_limit' (%d) is outside [min_limit, max_limit] = [%d, %d]: "
                         "admission uses it until the first sample clamps it",
                         (int)spec->initial_limit, (int)spec->min_limit, (int)spec->max_limit);
    }
    return d->errors == errs ? 0 : SIM_ECONFIG;
}

static bool spec_valid(const cl_spec_t *s)
{
    bool limits = s->initial_limit >= 1 && s->initial_limit <= CL_MAX_LIMIT && s->min_limit >= 1 &&
                  s->max_limit <= CL_MAX_LIMIT && s->min_limit <= s->max_limit;
    if (s->algorithm == CL_AIMD)
        return limits && s->backoff_ratio >= 0.5 && s->backoff_ratio < 1.0 && s->timeout > 0;
    return limits && s->algorithm == CL_GRADIENT2 && s->smoothing >= 0 && s->smoothing <= 1 &&
           s->queue_size >= 0 && s->queue_size <= CL_MAX_LIMIT && s->rtt_tolerance >= 1.0 &&
           s->rtt_tolerance <= 1e6 && s->long_window >= 1;
}

int cl_init(cl_t *cl, const cl_spec_t *spec)
{
    memset(cl, 0, sizeof *cl);
    if (!spec_valid(spec)) return SIM_EINVAL;
    cl->spec = *spec;
    cl->limit = spec->initial_limit;                  /* AbstractLimit(initialLimit) */
    cl->estimated_limit = (double)spec->initial_limit;   /* Gradient2: estimatedLimit = initialLimit */
    return 0;
}

bool cl_acquire(cl_t *cl, cl_token_t *tok)
{
    /* SimpleLimiter: a semaphore of `limit` permits, resized on every limit
     * change, i.e. admit iff inflight < limit */
    if (cl->inflight >= cl->limit) {
        cl->rejected++;
        return false;
    }
    tok->inflight = ++cl->inflight;   /* inFlight.incrementAndGet() */
    cl->admitted++;
    return true;
}

/* a * b rounded to a double on its own. GCC contracts a * b + c into a fused
 * multiply-add on targets that have one (-ffp-contract=fast is its default),
 * which rounds once instead of twice; Java never does. The volatile store
 * forces the rounding, so every sum below rounds exactly as Java's. */
static double mul(double a, double b)
{
    volatile double p = a * b;
    return p;
}

static double dmin(double a, double b) { return a <= b ? a : b; }   /* Java Math.min, no NaN here */
static double dmax(double a, double b) { return a >= b ? a : b; }

/* AIMDLimit._update */
static int32_t aimd_update(const cl_t *cl, sim_time_t rtt, int32_t inflight, bool did_drop)
{
    const cl_spec_t *s = &cl->spec;
    int32_t current = cl->limit;
    if (did_drop || rtt > s->timeout)
        current = (int32_t)((double)current * s->backoff_ratio);   /* Java (int): truncation */
    else if ((int64_t)inflight * 2 >= current)
        current = current + 1;
    if (current < s->min_limit) current = s->min_limit;
    if (current > s->max_limit) current = s->max_limit;
    return current;
}

/* ExpAvgMeasurement.add: the warm-up mean, then an exponential average. */
static double long_rtt_add(cl_t *cl, double sample)
{
    if (cl->long_count < CL_LONG_WARMUP) {
        cl->long_count++;
        cl->long_sum += sample;
        cl->long_rtt = cl->long_sum / (double)cl->long_count;
    } else {
        double factor = 2.0 / (double)(cl->spec.long_window + 1);
        cl->long_rtt = mul(cl->long_rtt, 1 - factor) + mul(sample, factor);
    }
    return cl->long_rtt;
}

/* Gradient2Limit._update */
static int32_t gradient2_update(cl_t *cl, sim_time_t rtt, int32_t inflight)
{
    const cl_spec_t *s = &cl->spec;
    double current = cl->estimated_limit;
    double queue_size = (double)s->queue_size;
    if (rtt < 1) rtt = 1;   /* ragsim: 0 / 0 would make the limit NaN, i.e. 0 for good */
    double short_rtt = (double)rtt;
    double long_rtt = long_rtt_add(cl, short_rtt);
    /* latency back to normal after a long overload: pull the baseline down */
    if (long_rtt / short_rtt > 2) cl->long_rtt = mul(cl->long_rtt, 0.95);
    /* app-limited: too little traffic to judge, no change */
    if ((double)inflight < current / 2) return (int32_t)current;
    double gradient = dmax(0.5, dmin(1.0, s->rtt_tolerance * long_rtt / short_rtt));
    double new_limit = mul(current, gradient) + queue_size;
    new_limit = mul(current, 1 - s->smoothing) + mul(new_limit, s->smoothing);
    new_limit = dmax((double)s->min_limit, dmin((double)s->max_limit, new_limit));
    cl->estimated_limit = new_limit;
    return (int32_t)new_limit;
}

void cl_release(cl_t *cl, cl_token_t tok, sim_time_t rtt, cl_outcome_t outcome)
{
    assert(cl->inflight > 0 && "cl_release: nothing is in flight (a token released twice?)");
    assert(tok.inflight >= 1 && "cl_release: not a token from cl_acquire");
    if (cl->inflight > 0) cl->inflight--;
    if (outcome == CL_IGNORED) {
        cl->ignored++;
        return;
    }
    bool did_drop = outcome == CL_DROPPED;
    if (did_drop) cl->drops++;
    else cl->successes++;
    cl->last_rtt = rtt;
    cl->limit = cl->spec.algorithm == CL_AIMD ? aimd_update(cl, rtt, tok.inflight, did_drop)
                                              : gradient2_update(cl, rtt, tok.inflight);
}
