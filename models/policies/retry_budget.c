/* Retry economics as pure state machines (retry_budget.h): Envoy's retry
 * budget, gRPC retry throttling, the AWS retry token bucket. Calls the
 * scenario tree's getters only. */
#include "models/policies/retry_budget.h"

#include <assert.h>
#include <math.h>
#include <string.h>

#include "sim/error.h"

/* ---- Envoy retry budget ------------------------------------------------- */

int rb_spec_parse(sim_diag_t *d, sim_cfg_node_t *map, rb_spec_t *spec)
{
    *spec = RB_DEFAULTS;
    if (!map) return 0;
    /* a null value ("retry_budget:" with nothing) is an empty mapping */
    if (!sim_cfg_is_null(map) && !sim_cfg_expect_map(d, map, "retry budget")) return SIM_ECONFIG;
    int errs = d->errors;
    sim_cfg_ratio(d, map, "budget_percent", 0, spec->budget, &spec->budget);
    /* Envoy: a uint32 */
    sim_cfg_int(d, map, "min_retry_concurrency", 0, 0, UINT32_MAX, spec->min_retry_concurrency,
                &spec->min_retry_concurrency);
    return d->errors == errs ? 0 : SIM_ECONFIG;
}

int rb_init(rb_t *rb, const rb_spec_t *spec)
{
    *rb = (rb_t){0};
    if (!(spec->budget >= 0 && spec->budget <= 1 && spec->min_retry_concurrency >= 0)) return SIM_EINVAL;
    rb->spec = *spec;
    return 0;
}

int64_t rb_max_retries(const rb_t *rb, int64_t active_requests)
{
    if (active_requests < 0) active_requests = 0;
    /* std::max<uint64_t>(budget_percent / 100.0 * current_active, min):
     * the double converts to uint64_t by truncation; it is < 2^63 here */
    uint64_t budget = (uint64_t)(rb->spec.budget * (double)active_requests);
    uint64_t min = (uint64_t)rb->spec.min_retry_concurrency;
    uint64_t m = budget > min ? budget : min;
    return m > (uint64_t)INT64_MAX ? INT64_MAX : (int64_t)m;
}

bool rb_can_retry(rb_t *rb, int64_t active_requests)
{
    if (rb->active_retries < rb_max_retries(rb, active_requests)) return true;
    rb->overflows++;
    return false;
}

void rb_retry_begin(rb_t *rb)
{
    rb->active_retries++;
    rb->retries++;
}

void rb_retry_end(rb_t *rb)
{
    assert(rb->active_retries > 0 && "rb_retry_end: no retry in progress");
    if (rb->active_retries > 0) rb->active_retries--;
}

/* ---- gRPC retry throttling ---------------------------------------------- */

/* A number with at most 3 decimals, in thousandths, truncated as gRPC core
 * truncates the decimal text ("0.1239" -> 123). A double that is within
 * rounding of a 3-decimal value is that value (0.7 x 1000 is 700, not
 * 699.99...); anything else is cut down, with a warning. */
static int32_t to_milli(sim_diag_t *d, sim_cfg_node_t *node, double v)
{
    double r = v * 1000.0;
    double k = nearbyint(r);
    if (fabs(r - k) <= 1e-9 * (k > 1 ? k : 1)) return (int32_t)k;
    double t = floor(r);
    if (node) {
        char path[256];
        sim_cfg_path(node, path, sizeof path);
        sim_cfg_warn(d, node, "'%s': gRPC keeps 3 decimal places: %s is read as %.3f", path,
                     node->text, t / 1000.0);
    }
    return (int32_t)t;
}

static int32_t get_milli(sim_diag_t *d, sim_cfg_node_t *map, const char *key, int32_t dflt)
{
    double v;
    sim_cfg_node_t *node = sim_cfg_get(map, key);
    if (sim_cfg_double(d, map, key, SIM_CFG_POSITIVE, 0, 1000, dflt / 1000.0, &v) || !node) return dflt;
    int32_t m = to_milli(d, node, v);
    if (m < 1) {
        char path[256];
        sim_cfg_path(node, path, sizeof path);
        sim_cfg_error(d, node, "'%s': expected at least 0.001 (gRPC keeps 3 decimal places), got '%s'",
                      path, node->text);
        return dflt;
    }
    return m;
}

int rthr_spec_parse(sim_diag_t *d, sim_cfg_node_t *map, rthr_spec_t *spec)
{
    *spec = RTHR_DEFAULTS;
    if (!map) return 0;
    /* a null value ("retry_throttling:" with nothing) is an empty mapping */
    if (!sim_cfg_is_null(map) && !sim_cfg_expect_map(d, map, "retry throttling")) return SIM_ECONFIG;
    int errs = d->errors;
    spec->max_milli_tokens = get_milli(d, map, "max_tokens", spec->max_milli_tokens);
    spec->milli_token_ratio = get_milli(d, map, "token_ratio", spec->milli_token_ratio);
    return d->errors == errs ? 0 : SIM_ECONFIG;
}

int rthr_init(rthr_t *t, const rthr_spec_t *spec)
{
    *t = (rthr_t){0};
    if (!(spec->max_milli_tokens >= 1 && spec->max_milli_tokens <= 1000000 &&
          spec->milli_token_ratio >= 1 && spec->milli_token_ratio <= 1000000))
        return SIM_EINVAL;
    t->spec = *spec;
    t->milli_tokens = spec->max_milli_tokens;
    return 0;
}

bool rthr_on_failure(rthr_t *t)
{
    t->failures++;
    /* core: clamped add of -1000 in [0, max], then new > max / 2. grpc-java
     * returns early at 0 (no change), which is the same. */
    int32_t v = t->milli_tokens - 1000;
    t->milli_tokens = v > 0 ? v : 0;
    bool allowed = rthr_retry_allowed(t);
    if (!allowed) t->throttled++;
    return allowed;
}

void rthr_on_success(rthr_t *t)
{
    t->successes++;
    int32_t v = t->milli_tokens + t->spec.milli_token_ratio;   /* <= 2e6: no overflow */
    t->milli_tokens = v < t->spec.max_milli_tokens ? v : t->spec.max_milli_tokens;
}

/* ---- Retry token bucket (AWS SDK retry quota) --------------------------- */

int rq_spec_parse(sim_diag_t *d, sim_cfg_node_t *map, rq_spec_t *spec)
{
    *spec = RQ_DEFAULTS;
    if (!map) return 0;
    /* a null value ("retry_token_bucket:" with nothing) is an empty mapping */
    if (!sim_cfg_is_null(map) && !sim_cfg_expect_map(d, map, "retry token bucket")) return SIM_ECONFIG;
    int errs = d->errors;
    sim_cfg_int(d, map, "retry_rate_tokens", 0, 1, RQ_MAX_TOKENS, spec->retry_rate_tokens,
                &spec->retry_rate_tokens);
    sim_cfg_int(d, map, "retry_cost", 0, 1, RQ_MAX_TOKENS, spec->retry_cost, &spec->retry_cost);
    sim_cfg_int(d, map, "retry_timeout_cost", 0, 1, RQ_MAX_TOKENS, spec->retry_timeout_cost,
                &spec->retry_timeout_cost);
    sim_cfg_int(d, map, "no_retry_increment", 0, 0, RQ_MAX_TOKENS, spec->no_retry_increment,
                &spec->no_retry_increment);
    sim_cfg_bool(d, map, "refund_on_success", 0, spec->refund_on_success, &spec->refund_on_success);
    return d->errors == errs ? 0 : SIM_ECONFIG;
}

int rq_init(rq_t *q, const rq_spec_t *spec)
{
    *q = (rq_t){0};
    if (!(spec->retry_rate_tokens >= 1 && spec->retry_rate_tokens <= RQ_MAX_TOKENS &&
          spec->retry_cost >= 1 && spec->retry_cost <= RQ_MAX_TOKENS &&
          spec->retry_timeout_cost >= 1 && spec->retry_timeout_cost <= RQ_MAX_TOKENS &&
          spec->no_retry_increment >= 0 && spec->no_retry_increment <= RQ_MAX_TOKENS))
        return SIM_EINVAL;
    q->spec = *spec;
    q->tokens = spec->retry_rate_tokens;
    return 0;
}

int64_t rq_acquire(rq_t *q, bool timeout)
{
    int64_t cost = timeout ? q->spec.retry_timeout_cost : q->spec.retry_cost;
    /* TokenBucket.Retrieve: refused if it would go below zero */
    if (q->tokens < cost) {
        q->refused++;
        return 0;
    }
    q->tokens -= cost;
    q->spent += cost;
    q->retries++;
    return cost;
}

void rq_on_success(rq_t *q, int64_t held)
{
    assert(held >= 0 && "rq_on_success: held must be what rq_acquire returned");
    int64_t amount = held > 0 && q->spec.refund_on_success ? held : q->spec.no_retry_increment;
    /* TokenBucket.Refund: up to the initial capacity */
    int64_t room = q->spec.retry_rate_tokens - q->tokens;
    if (amount > room) amount = room;
    if (amount < 0) amount = 0;
    q->tokens += amount;
    q->credited += amount;
}
