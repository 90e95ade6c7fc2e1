/* Configuration changes and their rollout (rollout.h): all at once or by
 * canary with analysis, rollback and promotion. Calls the replicated
 * service it changes and the engine. */
#include "models/policies/rollout.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sim/error.h"

const char *const roll_strategy_names[] = {"all_at_once", "canary", NULL};

int roll_spec_parse(sim_diag_t *d, sim_cfg_node_t *map, roll_spec_t *spec)
{
    int errs = d->errors;
    *spec = (roll_spec_t){
        .slowdown = 1,
        .strategy = ROLL_ALL_AT_ONCE,
        .weight = 0.10,                 /* the article's canary traffic: 5%-15% */
        .bake = 5 * SIM_MIN,
        .interval = 30 * SIM_SEC,
        .max_error_ratio = 0.01,
        .max_p95 = SIM_TIME_MAX,
        .max_p95_ratio = INFINITY,
        .max_error_ratio_increase = 1,
        .min_calls = 20,
        .failed_checks = 1,
        .rollback_time = 30 * SIM_SEC,
        .manual_rollback = SIM_TIME_MAX,
    };
    if (!sim_cfg_expect_map(d, map, "change")) return SIM_ECONFIG;
    sim_cfg_string(d, map, "target", SIM_CFG_REQUIRED, NULL, &spec->target);
    sim_cfg_duration(d, map, "at", SIM_CFG_REQUIRED, 0, &spec->at);
    sim_cfg_node_t *eff = sim_cfg_get(map, "effect");
    if (!eff)
        sim_cfg_error(d, map, "missing required key 'effect' in a change (e.g. effect: {errors: 30%%})");
    else if (sim_cfg_expect_map(d, eff, "effect")) {
        sim_cfg_ratio(d, eff, "errors", 0, 0, &spec->errors);
        sim_cfg_double(d, eff, "slowdown", 0, 1, 1e4, 1, &spec->slowdown);
        sim_cfg_bool(d, eff, "crash", 0, false, &spec->crash);
        if (spec->errors == 0 && spec->slowdown == 1 && !spec->crash && d->errors == errs)
            sim_cfg_error(d, eff, "the change has no effect: give errors, slowdown or crash");
    }
    sim_cfg_node_t *ro = sim_cfg_get(map, "rollout");
    if (ro && sim_cfg_expect_map(d, ro, "rollout")) {
        int st = (int)spec->strategy;
        sim_cfg_enum(d, ro, "strategy", 0, roll_strategy_names, st, &st);
        spec->strategy = (roll_strategy_t)st;
        sim_cfg_duration(d, ro, "precheck", 0, 0, &spec->precheck);
        sim_cfg_duration(d, ro, "rollback_time", 0, spec->rollback_time, &spec->rollback_time);
        sim_cfg_duration(d, ro, "manual_rollback", SIM_CFG_UNBOUNDED | SIM_CFG_POSITIVE, spec->manual_rollback,
                         &spec->manual_rollback);
        sim_cfg_node_t *c = sim_cfg_get(ro, "canary");
        if (c && spec->strategy != ROLL_CANARY) {
            sim_cfg_error(d, c, "'canary' settings need 'strategy: canary'");
            sim_cfg_touch_all(c);   /* not read: no unknown-key cascade */
        } else if (c && sim_cfg_expect_map(d, c, "canary")) {
            sim_cfg_ratio(d, c, "weight", SIM_CFG_POSITIVE, spec->weight, &spec->weight);
            sim_cfg_duration(d, c, "bake", SIM_CFG_POSITIVE, spec->bake, &spec->bake);
            sim_cfg_duration(d, c, "interval", SIM_CFG_POSITIVE, spec->interval, &spec->interval);
            sim_cfg_ratio(d, c, "max_error_ratio", 0, spec->max_error_ratio, &spec->max_error_ratio);
            sim_cfg_duration(d, c, "max_p95", SIM_CFG_UNBOUNDED | SIM_CFG_POSITIVE, spec->max_p95, &spec->max_p95);
            sim_cfg_double(d, c, "max_p95_ratio", 0, 1, 1e9, INFINITY, &spec->max_p95_ratio);
            sim_cfg_ratio(d, c, "max_error_ratio_increase", 0, 1, &spec->max_error_ratio_increase);
            sim_cfg_int(d, c, "min_calls", 0, 1, 1000000000, spec->min_calls, &spec->min_calls);
            sim_cfg_int(d, c, "failed_checks", 0, 1, 1000000, spec->failed_checks, &spec->failed_checks);
        }
    }
    return d->errors == errs ? 0 : SIM_ECONFIG;
}

const char *roll_state_name(roll_state_t s)
{
    static const char *const n[] = {"pending", "precheck", "canary", "promoted", "rolling_back", "rolled_back",
                                    "aborted"};
    return (unsigned)s < sizeof n / sizeof *n ? n[s] : "?";
}

/* ---- the run ------------------------------------------------------------------ */

static void account(roll_t *ro)
{
    sim_time_t now = sim_now(ro->sim);
    ro->bad_replica_seconds += (double)ro->nbad * sim_time_to_s(now - ro->last_change);
    ro->last_change = now;
}

static int apply(roll_t *ro, int64_t r, bool on)
{
    if (ro->bad[r] == on) return 0;
    account(ro);
    ro->bad[r] = on;
    ro->nbad += on ? 1 : -1;
    const roll_spec_t *s = ro->spec;
    return on ? rset_set_change(ro->rs, (int)r, s->errors, s->slowdown, s->crash)
              : rset_set_change(ro->rs, (int)r, 0, 1, false);
}

static void fail(roll_t *ro, int rc)
{
    if (rc == 0) return;
    ro->sim->error = rc;
    sim_stop(ro->sim);
}

static void observe(void *ctx, int replica, call_status_t st, sim_time_t latency)
{
    roll_t *ro = ctx;
    if (!ro->bad[replica]) {
        if (ro->state == ROLL_CANARY_RUNNING) {
            ro->base_calls++;
            ro->base_errors += st != CALL_OK;
            sim_hist_add(&ro->base_time, latency);
        }
        return;
    }
    ro->exposed_calls++;
    ro->exposed_errors += st != CALL_OK;
    if (ro->state == ROLL_CANARY_RUNNING) {
        ro->win_calls++;
        ro->win_errors += st != CALL_OK;
        sim_hist_add(&ro->win_time, latency);
    }
}

static void log_event(roll_t *ro, const char *kind, double value, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void log_event(roll_t *ro, const char *kind, double value, const char *fmt, ...)
{
    char buf[224];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    sim_log_event(ro->sim, kind, ro->source, value, buf);
}

static void reverted_event(sim_t *sim, void *obj, uint64_t arg)
{
    (void)arg;
    roll_t *ro = obj;
    ro->timer = (sim_timer_t){0, 0};
    for (int64_t r = 0; r < ro->rs->spec->replicas; r++) fail(ro, apply(ro, r, false));
    ro->state = ROLL_ROLLED_BACK;
    ro->reverted_at = sim_now(sim);
    log_event(ro, "change_rolled_back", 0, "every replica runs the previous configuration again");
}

static void rollback(roll_t *ro, const char *why)
{
    if (ro->state == ROLL_ROLLING_BACK || ro->state == ROLL_ROLLED_BACK || ro->state == ROLL_ABORTED) return;
    sim_cancel(ro->sim, &ro->timer);
    sim_cancel(ro->sim, &ro->manual_timer);
    ro->state = ROLL_ROLLING_BACK;
    ro->decided_at = sim_now(ro->sim);
    log_event(ro, "change_rollback", (double)ro->nbad, "%s; %lld replica(s) revert in %.3g s", why,
              (long long)ro->nbad, sim_time_to_s(ro->spec->rollback_time));
    ro->timer = sim_schedule_in(ro->sim, ro->spec->rollback_time, reverted_event, ro, 0);
}

static void manual_event(sim_t *sim, void *obj, uint64_t arg)
{
    (void)sim;
    (void)arg;
    roll_t *ro = obj;
    ro->manual_timer = (sim_timer_t){0, 0};
    if (ro->nbad > 0) rollback(ro, "rolled back by hand");
}

static void promote(roll_t *ro)
{
    int64_t n = ro->rs->spec->replicas;
    for (int64_t r = 0; r < n; r++) fail(ro, apply(ro, r, true));
    ro->state = ROLL_PROMOTED;
    ro->decided_at = sim_now(ro->sim);
    log_event(ro, "change_promoted", (double)n, "applied to all %lld replicas", (long long)n);
}

static void check_event(sim_t *sim, void *obj, uint64_t arg)
{
    (void)arg;
    roll_t *ro = obj;
    ro->timer = (sim_timer_t){0, 0};
    const roll_spec_t *s = ro->spec;
    ro->checks++;
    bool down = false;
    for (int64_t r = 0; r < ro->rs->spec->replicas; r++)
        if (ro->bad[r] && !ro->rs->rep[r].up) down = true;
    double err = ro->win_calls ? (double)ro->win_errors / (double)ro->win_calls : 0;
    double p95 = ro->win_calls ? sim_hist_quantile(&ro->win_time, 0.95) : 0;
    bool enough = ro->win_calls >= (uint64_t)s->min_calls;
    bool failed = down || (enough && (err > s->max_error_ratio ||
                                      (s->max_p95 != SIM_TIME_MAX && p95 > (double)s->max_p95)));
    /* against the baseline */
    double berr = ro->base_calls ? (double)ro->base_errors / (double)ro->base_calls : 0;
    double bp95 = ro->base_calls ? sim_hist_quantile(&ro->base_time, 0.95) : 0;
    if (enough && ro->base_calls >= (uint64_t)s->min_calls)
        failed |= err - berr > s->max_error_ratio_increase || (isfinite(s->max_p95_ratio) && p95 > s->max_p95_ratio * bp95);
    ro->win_calls = ro->win_errors = 0;
    sim_hist_reset(&ro->win_time);
    ro->base_calls = ro->base_errors = 0;
    sim_hist_reset(&ro->base_time);
    if (failed) {
        ro->checks_failed++;
        log_event(ro, "canary_check_failed", err, "check %lld: %s error ratio %.4f, p95 %.4g s (baseline %.4f, %.4g s)",
                  (long long)ro->checks, down ? "a canary replica is down;" : "", err, p95 * 1e-9, berr, bp95 * 1e-9);
        if (ro->checks_failed >= s->failed_checks) {
            rollback(ro, "canary analysis failed");
            return;
        }
    }
    if (sim_now(sim) - ro->decided_at >= s->bake) {   /* decided_at holds the canary's start here */
        promote(ro);
        return;
    }
    ro->timer = sim_schedule_in(sim, s->interval, check_event, ro, 0);
}

static void start_traffic(roll_t *ro)
{
    const roll_spec_t *s = ro->spec;
    int64_t n = ro->rs->spec->replicas;
    if (s->strategy == ROLL_ALL_AT_ONCE) {
        ro->k = n;
        promote(ro);
        return;
    }
    int64_t k = (int64_t)llround(s->weight * (double)n);
    if (k < 1) k = 1;
    if (k > n) k = n;
    ro->k = k;
    for (int64_t r = 0; r < k; r++) fail(ro, apply(ro, r, true));
    ro->state = ROLL_CANARY_RUNNING;
    ro->decided_at = sim_now(ro->sim);   /* the canary's start, until a decision */
    log_event(ro, "canary_start", (double)k, "%lld of %lld replicas run the change; bake %.3g s", (long long)k,
              (long long)n, sim_time_to_s(s->bake));
    ro->timer = sim_schedule_in(ro->sim, s->interval, check_event, ro, 0);
}

static void precheck_event(sim_t *sim, void *obj, uint64_t arg)
{
    (void)sim;
    (void)arg;
    roll_t *ro = obj;
    ro->timer = (sim_timer_t){0, 0};
    if (ro->spec->crash) {
        ro->state = ROLL_ABORTED;
        ro->decided_at = sim_now(ro->sim);
        sim_cancel(ro->sim, &ro->manual_timer);
        log_event(ro, "precheck_failed", 0, "the replica could not load the change: rollout abandoned");
        return;
    }
    log_event(ro, "precheck_passed", 0, "healthy with the change (errors and slowdowns need traffic to show)");
    start_traffic(ro);
}

static void start_event(sim_t *sim, void *obj, uint64_t arg)
{
    (void)arg;
    roll_t *ro = obj;
    ro->timer = (sim_timer_t){0, 0};
    const roll_spec_t *s = ro->spec;
    log_event(ro, "change_start", 0, "%s%s", roll_strategy_names[s->strategy], s->precheck ? " after a pre-check" : "");
    if (s->manual_rollback != SIM_TIME_MAX)
        ro->manual_timer = sim_schedule_in(sim, s->manual_rollback, manual_event, ro, 0);
    if (s->precheck > 0) {
        ro->state = ROLL_PRECHECK;
        ro->timer = sim_schedule_in(sim, s->precheck, precheck_event, ro, 0);
        return;
    }
    start_traffic(ro);
}

static void sampler(sim_t *sim, void *ctx, sim_time_t dt)
{
    (void)dt;
    roll_t *ro = ctx;
    sim_series_set(sim, ro->col_bad, (double)ro->nbad);
}

int roll_init(roll_t *ro, sim_t *sim, const roll_spec_t *spec, rset_t *rs)
{
    memset(ro, 0, sizeof *ro);
    ro->sim = sim;
    ro->spec = spec;
    ro->rs = rs;
    ro->decided_at = ro->reverted_at = -1;
    snprintf(ro->source, sizeof ro->source, "%s", spec->target);
    ro->bad = calloc((size_t)rs->spec->replicas, sizeof *ro->bad);
    if (!ro->bad || sim_hist_init(&ro->win_time) || sim_hist_init(&ro->base_time)) return SIM_ENOMEM;
    rset_set_observer(rs, observe, ro);
    char name[160];
    snprintf(name, sizeof name, "change_replicas{component=%s}", spec->target);
    ro->col_bad = sim_series_add(sim, name, "1", "replicas running the configuration change");
    if (ro->col_bad < 0 || sim_add_sampler(sim, sampler, ro)) return SIM_ENOMEM;
    ro->timer = sim_schedule_at(sim, spec->at, start_event, ro, 0);
    return 0;
}

void roll_fini(roll_t *ro)
{
    free(ro->bad);
    ro->bad = NULL;
    sim_hist_fini(&ro->win_time);
    sim_hist_fini(&ro->base_time);
}

void roll_finish(roll_t *ro) { account(ro); }

void roll_report(const roll_t *ro, const char *name, rs_report_t *rep)
{
    rs_report_add(rep, "changes", name, "replicas changed", RS_COUNT, (double)ro->k);
    rs_report_add(rep, "changes", name, "exposed calls", RS_COUNT, (double)ro->exposed_calls);
    rs_report_add(rep, "changes", name, "exposed errors", RS_COUNT, (double)ro->exposed_errors);
    rs_report_add(rep, "changes", name, "replica time on it", RS_SECONDS, ro->bad_replica_seconds);
    rs_report_add(rep, "changes", name, "checks failed", RS_COUNT, (double)ro->checks_failed);
    rs_report_add(rep, "changes", name, "rolled back", RS_RATIO,
                  ro->state == ROLL_ROLLED_BACK || ro->state == ROLL_ROLLING_BACK ? 1 : 0);
    rs_report_add(rep, "changes", name, "decided after", RS_SECONDS,
                  ro->decided_at >= 0 ? sim_time_to_s(ro->decided_at - ro->spec->at) : NAN);
}
