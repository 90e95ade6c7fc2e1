/* Configuration changes and their rollout (models/policies/rollout.c) through the
 * RAG request path, against hand-computed schedules.
 *
 * Set-up: requests every 10 ms from t = 10 ms (request k at 10k ms), the
 * gateway spends 2 ms before and 1 ms after, the only step calls the
 * dependency `inventory` (10 replicas, round robin, 10 ms per call, no
 * queueing). Request k's call goes to replica (k - 1) mod 10 and ends at
 * 10k + 12 ms; replica 0 serves requests 1, 11, 21, ..., its calls ending
 * at 22 + 100 j ms. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "models/rag/rag.h"
#include "ragfx.h"
#include "sim/scenario.h"

typedef ragfx_t fx_t;

#define BASE                                                                                                \
    "name: r\nduration: %s\nseed: 1\n"                                                                       \
    "workload:\n  arrivals: deterministic\n  rate: 100/s\n"                                                  \
    "  query_tokens: {dist: deterministic, value: 40}\n  output_tokens: {dist: deterministic, value: 50}\n" \
    "  deadline: 60s\n"                                                                                      \
    "gateway: {replicas: 1, cores: 64, handling: {pre: 2ms, post: 1ms}}\n"                                   \
    "dependencies:\n  inventory: {replicas: 10, concurrency: 64, latency: 10ms, startup: 5s}\n"              \
    "pipeline: {steps: [inventory]}\n"                                                                       \
    "changes:\n  - target: inventory\n    at: 10s\n%s"

static void run(fx_t *f, const char *duration, const char *change)
{
    static char yaml[4096];
    snprintf(yaml, sizeof yaml, BASE, duration, change);
    ragfx_run(f, "r.yaml", yaml, 1, true);
}

static void done(fx_t *f) { ragfx_done(f); }

/* Times of the events of `kind` (at most n), returns how many there were. */
static size_t event_times(const fx_t *f, const char *kind, double *t, size_t n)
{
    const sim_table_t *ev = sim_log_table(f->sim);
    int k = sim_table_find_col(ev, "kind"), tc = sim_table_find_col(ev, "time");
    size_t m = 0;
    for (size_t i = 0; i < ev->nrows; i++)
        if (!strcmp(sim_table_get_str(ev, i, k), kind)) {
            if (m < n) t[m] = sim_table_get_f64(ev, i, tc);
            m++;
        }
    return m;
}

static double one_event(const fx_t *f, const char *kind)
{
    double t = NAN;
    cr_assert_eq(event_times(f, kind, &t, 1), 1, "want exactly one '%s' event", kind);
    return t;
}

Test(rollout, canary_with_errors_is_rolled_back_at_the_first_check)
{
    /* 10% of 10 replicas: replica 0 runs the change from 10 s; every answer
     * it gives fails. The check at 15 s sees 50 calls, all failed (> 1%):
     * rollback decided at 15 s, done at 17 s. Replica 0's calls ending in
     * (10 s, 17 s]: 22 + 100 j ms for j = 100 .. 169, 70 calls, 70 failed
     * requests; nothing else fails. */
    fx_t f;
    run(&f, "30s",
        "    effect: {errors: 100%}\n"
        "    rollout: {strategy: canary, rollback_time: 2s,\n"
        "              canary: {weight: 10%, interval: 5s, bake: 60s, max_error_ratio: 1%, min_calls: 20}}\n");
    const roll_t *ro = &f.rag->rolls[0];
    cr_assert_eq(ro->k, 1);
    cr_assert_eq(ro->state, ROLL_ROLLED_BACK);
    cr_assert_eq(ro->exposed_calls, 70);
    cr_assert_eq(ro->exposed_errors, 70);
    cr_assert_eq(ro->checks, 1);
    cr_assert_eq(f.rag->outcome[RAG_ERROR], 70);
    cr_assert_lt(fabs(one_event(&f, "canary_start") - 10.0), 1e-9);
    cr_assert_lt(fabs(one_event(&f, "canary_check_failed") - 15.0), 1e-9);
    cr_assert_lt(fabs(one_event(&f, "change_rollback") - 15.0), 1e-9);
    cr_assert_lt(fabs(one_event(&f, "change_rolled_back") - 17.0), 1e-9);
    cr_assert_float_eq(ro->bad_replica_seconds, 7.0, 1e-9);
    done(&f);
}

Test(rollout, all_at_once_fails_everything_until_the_manual_rollback)
{
    /* Every replica from 10 s; a human rolls back at 10 + 20 s, done 2 s
     * later: calls ending in (10 s, 32 s] fail, requests k = 999 .. 3198
     * (10k + 12 ms), 2200 of them; 10 replicas x 22 s on the change. */
    fx_t f;
    run(&f, "40s",
        "    effect: {errors: 100%}\n"
        "    rollout: {strategy: all_at_once, manual_rollback: 20s, rollback_time: 2s}\n");
    const roll_t *ro = &f.rag->rolls[0];
    cr_assert_eq(ro->k, 10);
    cr_assert_eq(ro->state, ROLL_ROLLED_BACK);
    cr_assert_eq(f.rag->outcome[RAG_ERROR], 2200);
    cr_assert_eq(ro->exposed_calls, 2200);
    cr_assert_lt(fabs(one_event(&f, "change_promoted") - 10.0), 1e-9);
    cr_assert_lt(fabs(one_event(&f, "change_rollback") - 30.0), 1e-9);
    cr_assert_float_eq(ro->bad_replica_seconds, 220.0, 1e-9);
    done(&f);
}

Test(rollout, a_canary_within_its_thresholds_is_promoted_after_the_bake)
{
    /* slowdown 2: the canary's calls take 20 ms, under max_p95 30 ms:
     * checks at 15 s and 20 s pass, and at 20 s the 10 s bake is over:
     * promoted. From then on every call takes 20 ms. */
    fx_t f;
    run(&f, "30s",
        "    effect: {slowdown: 2}\n"
        "    rollout: {strategy: canary,\n"
        "              canary: {weight: 10%, interval: 5s, bake: 10s, max_p95: 30ms}}\n");
    const roll_t *ro = &f.rag->rolls[0];
    cr_assert_eq(ro->state, ROLL_PROMOTED);
    cr_assert_eq(ro->checks, 2);
    cr_assert_eq(ro->checks_failed, 0);
    cr_assert_lt(fabs(one_event(&f, "change_promoted") - 20.0), 1e-9);
    cr_assert_eq(f.rag->outcome[RAG_ERROR], 0);
    /* replica-seconds: 1 x 10 s (canary) + 10 x 10 s (promoted, to 30 s) */
    cr_assert_float_eq(ro->bad_replica_seconds, 110.0, 1e-9);
    done(&f);

    /* the same change with max_p95 15 ms fails its first check */
    run(&f, "30s",
        "    effect: {slowdown: 2}\n"
        "    rollout: {strategy: canary, rollback_time: 1s,\n"
        "              canary: {weight: 10%, interval: 5s, bake: 10s, max_p95: 15ms}}\n");
    cr_assert_eq(f.rag->rolls[0].state, ROLL_ROLLED_BACK);
    cr_assert_lt(fabs(one_event(&f, "change_rollback") - 15.0), 1e-9);
    done(&f);
}

Test(rollout, the_precheck_catches_a_change_that_cannot_load)
{
    fx_t f;
    run(&f, "60s",
        "    effect: {crash: true}\n"
        "    rollout: {strategy: all_at_once, precheck: 30s}\n");
    const roll_t *ro = &f.rag->rolls[0];
    cr_assert_eq(ro->state, ROLL_ABORTED);
    cr_assert_eq(ro->exposed_calls, 0);
    cr_assert_lt(fabs(one_event(&f, "precheck_failed") - 40.0), 1e-9);
    cr_assert_eq(f.rag->outcome[RAG_ERROR], 0);
    cr_assert_eq(event_times(&f, "config_crash", NULL, 0), 0);
    done(&f);
}

Test(rollout, a_change_that_cannot_load_crash_loops_until_reverted)
{
    /* Without a pre-check every replica crashes at 10 s (CrashLoopBackOff:
     * a first crash restarts at once, ready 5 s later at 15 s, where it
     * crashes again; restart after 10 s at 25 s, ready and crashing at 30 s;
     * next restart 20 s later). Rolled back by hand at 20 + 10 s, reverted
     * at 32 s: the restart at 50 s succeeds, ready at 55 s. Meanwhile no
     * replica is up: requests fail from 10 s to 55 s. */
    fx_t f;
    run(&f, "60s",
        "    effect: {crash: true}\n"
        "    rollout: {strategy: all_at_once, manual_rollback: 20s, rollback_time: 2s}\n");
    double t[32];
    cr_assert_eq(event_times(&f, "config_crash", t, 32), 30, "three crashes per replica");
    cr_assert_lt(fabs(t[0] - 10.0), 1e-9);
    cr_assert_lt(fabs(t[10] - 15.0), 1e-9);
    cr_assert_lt(fabs(t[29] - 30.0), 1e-9);
    double rs[32];
    cr_assert_eq(event_times(&f, "replica_restarted", rs, 32), 30);
    cr_assert_lt(fabs(rs[0] - 10.0), 1e-9, "a first crash: restarted at once");
    cr_assert_lt(fabs(rs[10] - 25.0), 1e-9, "then after 10 s");
    cr_assert_lt(fabs(rs[20] - 50.0), 1e-9, "then after 20 s");
    size_t nready = event_times(&f, "replica_ready", t, 32);
    cr_assert_eq(nready, 10);
    for (size_t i = 0; i < nready; i++) cr_assert_lt(fabs(t[i] - 55.0), 1e-9, "ready at %.3f", t[i]);
    cr_assert_eq(f.rag->rolls[0].state, ROLL_ROLLED_BACK);
    /* requests whose call went out in [10 s, 55 s) fail: k = 1000 .. 5499 (10k + 2 ms),
     * plus request 999, in service at 10 s and killed with its replica */
    cr_assert_eq(f.rag->outcome[RAG_ERROR], 4501);
    done(&f);
}

Test(rollout, bad_changes_are_reported_where_they_are)
{
    static const struct {
        const char *change, *msg;
    } bad[] = {
        {"    effect: {}\n", "the change has no effect"},
        {"    effect: {errors: 2}\n", "ratio"},
        {"    effect: {errors: 10%}\n    rollout: {strategy: blue_green}\n", "expected one of"},
        {"    effect: {errors: 10%}\n    rollout: {canary: {weight: 10%}}\n", "'canary' settings need 'strategy: canary'"},
        {"    rollout: {strategy: canary}\n", "missing required key 'effect'"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        char yaml[4096];
        snprintf(yaml, sizeof yaml, BASE, "30s", bad[i].change);
        sim_diag_t d;
        sim_diag_init(&d);
        sim_cfg_t *cfg = sim_cfg_load_string("r.yaml", yaml, strlen(yaml), &d);
        cr_assert_not_null(cfg);
        sim_scenario_t sc;
        rag_spec_t spec;
        sim_scenario_parse(&d, sim_cfg_root(cfg), &sc);
        rag_spec_parse(&d, sim_cfg_root(cfg), &sc, &spec);
        cr_assert_gt(d.errors, 0, "must fail: %s", bad[i].change);
        cr_assert(strstr(sim_diag_text(&d), bad[i].msg), "want '%s' in: %s", bad[i].msg, sim_diag_text(&d));
        cr_assert(strstr(sim_diag_text(&d), "r.yaml:1"), "a position: %s", sim_diag_text(&d));
        rag_spec_fini(&spec);
        sim_cfg_destroy(cfg);
        sim_diag_fini(&d);
    }
    /* the gateway and the LLM have their own replica models */
    char yaml[4096];
    snprintf(yaml, sizeof yaml, BASE, "30s", "    effect: {errors: 10%}\n");
    char *p = strstr(yaml, "target: inventory");
    memcpy(p, "target: llm      ", 17);
    sim_diag_t d;
    sim_diag_init(&d);
    sim_cfg_t *cfg = sim_cfg_load_string("r.yaml", yaml, strlen(yaml), &d);
    sim_scenario_t sc;
    rag_spec_t spec;
    sim_scenario_parse(&d, sim_cfg_root(cfg), &sc);
    rag_spec_parse(&d, sim_cfg_root(cfg), &sc, &spec);
    cr_assert(strstr(sim_diag_text(&d), "changes apply to replicated services"), "%s", sim_diag_text(&d));
    rag_spec_fini(&spec);
    sim_cfg_destroy(cfg);
    sim_diag_fini(&d);
}

Test(rollout, a_canary_is_judged_against_the_baseline)
{
    /* Kayenta-style relative rule: the canary's calls take 20 ms (slowdown
     * 2), the baseline's 10 ms. With max_p95_ratio 1.5 the first check (at
     * 15 s) fails: 20 > 1.5 x 10. With 2.5 it passes and the change is
     * promoted after the bake, at 20 s. No absolute threshold is set. */
    fx_t f;
    run(&f, "30s",
        "    effect: {slowdown: 2}\n"
        "    rollout: {strategy: canary, rollback_time: 1s,\n"
        "              canary: {weight: 10%, interval: 5s, bake: 10s, max_p95_ratio: 1.5}}\n");
    cr_assert_eq(f.rag->rolls[0].state, ROLL_ROLLED_BACK);
    cr_assert_lt(fabs(one_event(&f, "change_rollback") - 15.0), 1e-9);
    done(&f);

    run(&f, "30s",
        "    effect: {slowdown: 2}\n"
        "    rollout: {strategy: canary,\n"
        "              canary: {weight: 10%, interval: 5s, bake: 10s, max_p95_ratio: 2.5}}\n");
    cr_assert_eq(f.rag->rolls[0].state, ROLL_PROMOTED);
    cr_assert_lt(fabs(one_event(&f, "change_promoted") - 20.0), 1e-9);
    done(&f);

    /* errors: the canary fails 30% of its calls, the baseline none; an
     * increase of at most 50% passes, of at most 10% fails */
    run(&f, "30s",
        "    effect: {errors: 30%}\n"
        "    rollout: {strategy: canary,\n"
        "              canary: {weight: 10%, interval: 5s, bake: 10s, max_error_ratio: 100%,\n"
        "                       max_error_ratio_increase: 50%}}\n");
    cr_assert_eq(f.rag->rolls[0].state, ROLL_PROMOTED);
    done(&f);
    run(&f, "30s",
        "    effect: {errors: 30%}\n"
        "    rollout: {strategy: canary, rollback_time: 1s,\n"
        "              canary: {weight: 10%, interval: 5s, bake: 10s, max_error_ratio: 100%,\n"
        "                       max_error_ratio_increase: 10%}}\n");
    cr_assert_eq(f.rag->rolls[0].state, ROLL_ROLLED_BACK);
    done(&f);
}
