/* The article's resilience tiers as presets of a dependency's call edge,
 * async and batched calls, and its dependency table as written
 * (scenarios/dependency-rules.yaml), against hand-computed schedules. */
#include <criterion/criterion.h>
#include <hdf5.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "h5util.h"
#include "models/rag/rag.h"
#include "ragfx.h"
#include "sim/scenario.h"

typedef ragfx_t fx_t;

/* Requests every 10 ms from 10 ms to 19.99 s (1999), gateway 1 ms + 1 ms,
 * one step calling `dep` (latency and errors from the test), then `after`
 * (1 ms): a request that skips dep still makes its second call. */
#define BASE                                                                                                \
    "name: t\nduration: 30s\nseed: 3\n"                                                                      \
    "workload:\n  arrivals: deterministic\n  profile: [{for: 20s, rate: 100/s}, {rate: 0/s}]\n"              \
    "  query_tokens: {dist: deterministic, value: 40}\n  output_tokens: {dist: deterministic, value: 50}\n" \
    "  deadline: 60s\n"                                                                                      \
    "gateway: {replicas: 1, cores: 64, handling: {pre: 1ms, post: 1ms}, " RAGFX_GO_FREE "}\n"                                   \
    "dependencies:\n  dep: {replicas: 1, concurrency: 1000, latency: %s, error_ratio: %g}\n"                 \
    "  after: {replicas: 1, concurrency: 1000, latency: 1ms}\n"                                              \
    "pipeline: {steps: [dep, after]}\n"                                                                      \
    "calls:\n  dep: %s\n"

static void run(fx_t *fx, const char *latency, double errors, const char *edge)
{
    static char yaml[4096];
    snprintf(yaml, sizeof yaml, BASE, latency, errors, edge);
    ragfx_run(fx, "t.yaml", yaml, 3, true);
}

static void done(fx_t *fx) { ragfx_done(fx); }

static size_t count_events(const fx_t *f, const char *kind, double *first)
{
    const sim_table_t *ev = sim_log_table(f->sim);
    int k = sim_table_find_col(ev, "kind"), t = sim_table_find_col(ev, "time");
    size_t n = 0;
    for (size_t i = 0; i < ev->nrows; i++)
        if (!strcmp(sim_table_get_str(ev, i, k), kind) && n++ == 0 && first) *first = sim_table_get_f64(ev, i, t);
    return n;
}

enum { DEP = RAG_FIRST_DEP };

Test(tiers, tier_1_times_out_at_200ms_breaks_and_degrades)
{
    /* dep answers in 300 ms: every call times out at 200 ms (a failure)
     * and the preset's fallback (skip) answers, degraded. The breaker (10 s
     * time window, minimum 20, 50%) opens at the 20th failure: call 20 is
     * made at 200 + 1 ms and times out at 401 ms. The next calls are
     * rejected at once until the 5 s wait is over. No request fails. */
    fx_t fx;
    run(&fx, "300ms", 0, "{tier: 1}");
    cr_assert_eq(fx.rag->outcome[RAG_ERROR], 0);
    cr_assert_eq(fx.rag->outcome[RAG_DEGRADED], 1999);
    double t = 0;
    cr_assert_geq(count_events(&fx, "breaker_open", &t), 1);
    cr_assert_lt(fabs(t - 0.401), 1e-9, "opened at %.6f", t);
    cr_assert_gt(fx.rag->policy_rejects[DEP], 0);
    done(&fx);
}

Test(tiers, tier_2_tolerates_5_percent_and_always_answers)
{
    /* every call fails: the breaker (minimum 20, 5%) opens at the 20th;
     * every failure and every rejection is answered by the fallback. */
    fx_t fx;
    run(&fx, "5ms", 1.0, "{tier: 2}");
    cr_assert_eq(fx.rag->outcome[RAG_ERROR], 0);
    cr_assert_eq(fx.rag->outcome[RAG_DEGRADED], 1999);
    double t = 0;
    cr_assert_eq(count_events(&fx, "breaker_open", &t), 1, "the 30 s wait outlasts the run's traffic");
    /* call 20 leaves at 200 + 1 ms, fails at 206 ms */
    cr_assert_lt(fabs(t - 0.206), 1e-9, "opened at %.6f", t);
    done(&fx);
    /* a key on the edge replaces the preset's: refuse instead of skip */
    run(&fx, "5ms", 1.0, "{tier: 2, fallback: {action: refuse}}");
    cr_assert_eq(fx.rag->stage[DEP + 1].calls, 0, "refused: the request never reaches 'after'");
    done(&fx);
}

Test(tiers, a_call_fallback_is_degraded_unless_it_gives_the_same_answer)
{
    /* every call to dep fails at once (5 ms); the fallback calls `after`
     * instead (1 ms), then the step after calls it again: every request
     * is answered, by the backup */
    fx_t fx;
    run(&fx, "5ms", 1.0, "{fallback: {action: call, target: after}}");
    cr_assert_eq(fx.rag->stage[DEP + 1].calls, 2 * 1999, "the backup's call, then the step's own");
    cr_assert_eq(fx.rag->outcome[RAG_DEGRADED], 1999, "a backup index, a cheaper model: a lesser answer");
    cr_assert_eq(fx.rag->outcome[RAG_OK_SUCCESS], 0);
    done(&fx);
    run(&fx, "5ms", 1.0, "{fallback: {action: call, target: after, degraded: false}}");
    cr_assert_eq(fx.rag->stage[DEP + 1].calls, 2 * 1999);
    cr_assert_eq(fx.rag->outcome[RAG_OK_SUCCESS], 1999, "a read replica, a backup provider: the same answer");
    cr_assert_eq(fx.rag->outcome[RAG_DEGRADED], 0);
    done(&fx);
}

Test(tiers, tier_3_is_async_and_batched)
{
    /* The request does not wait for dep (500 ms): it takes 1 + 1 ms + the
     * 1 ms call to `after`. Items come every 10 ms; a batch leaves when it
     * holds 100 (before its 1 s window ends): 19 batches of 100 by 19.00 s,
     * the last 99 at their window's end. */
    fx_t fx;
    run(&fx, "500ms", 0, "{tier: 3}");
    cr_assert_eq(fx.rag->outcome[RAG_OK_SUCCESS], 1999);
    cr_assert_float_eq(sim_hist_quantile(&fx.rag->latency, 0.99), 3e6, 1e-3);
    const rag_async_t *a = &fx.rag->async[DEP];
    cr_assert_eq(a->items_total, 1999);
    cr_assert_eq(a->batches, 20);
    cr_assert_eq(fx.rag->stage[DEP].calls, 20);
    done(&fx);
    /* failing batches: the breaker (minimum 10, 15%) opens at the 10th, the
     * rest of the items are dropped, and the requests never notice */
    run(&fx, "5ms", 1.0, "{tier: 3, batch: {window: 100ms, max_items: 10}}");
    cr_assert_eq(fx.rag->outcome[RAG_OK_SUCCESS], 1999);
    a = &fx.rag->async[DEP];
    cr_assert_eq(a->failed, 100, "10 batches of 10 failed");
    cr_assert_eq(a->dropped, 1999 - 100);
    done(&fx);
}

Test(tiers, bad_tiers_and_async_edges_are_reported)
{
    static const struct {
        const char *edge, *msg;
    } bad[] = {
        {"{tier: 4}", "between 1 and 3"},
        {"{batch: {window: 1s}}", "add 'async: true'"},
        {"{async: true, retry: {max_attempts: 2}}", "async calls are not retried"},
        {"{async: true, fallback: {action: skip}}", "it has no fallback"},
        {"{tier: 3, fallback: {action: skip}}", "it has no fallback"},
        {"{fallback: {action: call}}", "needs a 'target'"},
        {"{fallback: {action: call, target: dep}}", "cannot call the component that failed"},
        {"{fallback: {action: call, target: llm}}", "a fallback calls a dependency"},
        {"{fallback: {action: skip, target: after}}", "'target' is for fallback 'call' only"},
        {"{fallback: {action: skip, degraded: false}}", "'degraded' is for fallback 'call' only"},
        {"{fallback: {action: call, target: after, degraded: maybe}}", "'calls.dep.fallback.degraded'"},
        {"{retry_budget: {}}", "add a 'retry' policy"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        char yaml[4096];
        snprintf(yaml, sizeof yaml, BASE, "5ms", 0.0, bad[i].edge);
        sim_diag_t d;
        sim_diag_init(&d);
        sim_cfg_t *cfg = sim_cfg_load_string("t.yaml", yaml, strlen(yaml), &d);
        cr_assert_not_null(cfg);
        sim_scenario_t sc;
        rag_spec_t spec;
        sim_scenario_parse(&d, sim_cfg_root(cfg), &sc);
        rag_spec_parse(&d, sim_cfg_root(cfg), &sc, &spec);
        cr_assert_gt(d.errors, 0, "must fail: %s", bad[i].edge);
        cr_assert(strstr(sim_diag_text(&d), bad[i].msg), "want '%s' in: %s", bad[i].msg, sim_diag_text(&d));
        cr_assert(strstr(sim_diag_text(&d), "t.yaml:"), "a position: %s", sim_diag_text(&d));
        rag_spec_fini(&spec);
        sim_cfg_destroy(cfg);
        sim_diag_fini(&d);
    }
}

static double first_open(const evrow_t *ev, size_t n, const char *source, double after)
{
    for (size_t i = 0; i < n; i++)
        if (!strcmp(ev[i].kind, "breaker_open") && !strcmp(ev[i].source, source) && ev[i].time >= after)
            return ev[i].time;
    return NAN;
}

Test(tiers, the_dependency_table_switches_each_dependency_on_its_trigger, .timeout = 300)
{
    /* scenarios/dependency-rules.yaml, variant `rules`, 200 orders/s:
     *   db slows down 4x at 120 s: calls take ~32 ms, so 3 in a row over
     *     25 ms come within the first ~20 calls (0.1 s);
     *   cache fails 2% from 300 s: the 60-s window holds ~12000 calls, so
     *     0.8% of them fail once 0.02 x 200 t >= 0.008 x 12000: t ~ 24 s;
     *     the 96 failures it takes are a Poisson count (sd ~10, 2.5 s at 4
     *     failures/s): the check allows 3.5 sd, 15-33 s;
     *   sms fails 10% from 480 s: 0.1 x 200 t >= 0.05 x 12000: t ~ 30 s
     *     (600 failures, sd ~24: 1.2 s at 20/s; 3.5 sd is within 24-36 s).
     * Every order is answered (the fallbacks), none fails. */
    char *path;
    hid_t f = run_scenario("scenarios/dependency-rules.yaml", "rules", &path, NULL);
    evrow_t *ev;
    size_t n = events(f, "/runs/rules/rep000", &ev);
    double db = first_open(ev, n, "db", 0), cache = first_open(ev, n, "cache", 0), sms = first_open(ev, n, "sms", 0);
    cr_expect(db > 120 && db < 121, "db switched at %.3f s", db);
    cr_expect(cache > 300 + 15 && cache < 300 + 33, "cache switched at %.3f s", cache);
    cr_expect(sms > 480 + 24 && sms < 480 + 36, "sms switched at %.3f s", sms);
    /* answered, none failed; the fallbacks (`degraded: false`: a read
     * replica, a local copy, a backup provider) give full answers */
    cr_expect_gt(summary_value(f, 0, "answered_ratio"), 0.9999);
    cr_expect_gt(summary_value(f, 0, "success_ratio"), 0.9999);
    cr_expect_eq(summary_value(f, 0, "degraded"), 0);
    free(ev);
    H5Fclose(f);
    unlink(path);
    free(path);
}
