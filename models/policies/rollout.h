/* Configuration changes and how they are rolled out: all at once, or by
 * canary with automatic rollback, with an optional health pre-check (the
 * RAG stability article, chapter 5, docs/background.md: "canary traffic 5%-15%, a health pre-check, a
 * tested rollback plan"). The strategy names and the canary analysis
 * follow Flagger / Argo Rollouts: a canary weight, an analysis every
 * `interval`, a metric threshold per check, rollback after `failed_checks`
 * failed checks, promotion after `bake` without one.
 *
 *   changes:
 *     - target: inventory            # a replicated component (vector DB, a dependency)
 *       at: 10m
 *       effect: {errors: 30%}        # and/or slowdown: 4, crash: true (cannot load it)
 *       rollout:
 *         strategy: canary           # or all_at_once
 *         precheck: 30s              # health pre-check on one replica out of rotation
 *         canary: {weight: 10%, bake: 5m, interval: 30s, max_error_ratio: 1%,
 *                  max_p95: 500ms, min_calls: 20, failed_checks: 1,
 *                  max_p95_ratio: 1.5, max_error_ratio_increase: 0.5%}
 *         rollback_time: 30s         # from the decision to every replica reverted
 *         manual_rollback: 20m       # a human notices and reverts (unbounded: never)
 *
 * The change's effect on a replica that runs it: a share of its answers
 * fail (`errors`), its service times grow (`slowdown`), or it cannot start
 * (`crash`: it crashes now and at every start-up, CrashLoopBackOff).
 *
 * Life of a change (times from `at`):
 *   precheck (if set): one replica loads the change out of rotation for
 *     `precheck`; a change that cannot load (crash) fails it and is
 *     abandoned with no user impact; errors and slowdowns need traffic to
 *     show and pass the pre-check.
 *   all_at_once: every replica applies it.
 *   canary: k = max(1, round(weight x replicas)) replicas (the first k)
 *     apply it. Every `interval` the calls those replicas finished in the
 *     interval are checked: the check fails if at least `min_calls` ended
 *     and their error ratio exceeds `max_error_ratio` or their p95 time at
 *     the replica exceeds `max_p95`, or if a canary replica is down; and,
 *     against the baseline (the replicas without the change, same
 *     interval; Kayenta's canary-versus-baseline comparison reduced to
 *     ratios), if their p95 exceeds `max_p95_ratio` x the baseline's or
 *     their error ratio exceeds the baseline's by `max_error_ratio_increase`
 *     (both need `min_calls` on each side). After
 *     `failed_checks` failed checks the change is rolled back; after `bake`
 *     with fewer it is promoted to every replica.
 *   rollback: `rollback_time` after the decision every replica that runs
 *     the change reverts (a crash-looping one restarts normally).
 *   manual_rollback: if the change still runs anywhere this long after
 *     `at`, it is rolled back (people noticed).
 *
 * Everything happens through timers: nothing per call except the observer
 * (O(1): two counters and a histogram add) while a canary is analysed. */
#ifndef MODELS_POLICIES_ROLLOUT_H
#define MODELS_POLICIES_ROLLOUT_H

#include <stdbool.h>
#include <stdint.h>

#include "models/model.h"
#include "models/components/replicas/replicas.h"
#include "sim/cfg.h"
#include "sim/sim.h"
#include "sim/stats.h"

typedef enum { ROLL_ALL_AT_ONCE, ROLL_CANARY } roll_strategy_t;
extern const char *const roll_strategy_names[];   /* "all_at_once", "canary" */

typedef struct {
    const char *target;           /* component name, resolved by the caller */
    int target_index;             /* the caller's index of the component */
    sim_time_t at;
    double errors;                /* effect: error ratio in [0, 1] */
    double slowdown;              /* effect: >= 1 */
    bool crash;                   /* effect: cannot load */
    roll_strategy_t strategy;
    sim_time_t precheck;          /* 0 = none */
    double weight;                /* canary share of replicas, (0, 1] */
    sim_time_t bake, interval;
    double max_error_ratio;       /* 1 = no error rule */
    sim_time_t max_p95;           /* SIM_TIME_MAX = no latency rule */
    double max_p95_ratio;         /* canary p95 / baseline p95; INFINITY = no rule */
    double max_error_ratio_increase;   /* canary error ratio - baseline's; 1 = no rule */
    int64_t min_calls;
    int64_t failed_checks;
    sim_time_t rollback_time;
    sim_time_t manual_rollback;   /* SIM_TIME_MAX = never */
} roll_spec_t;

/* Parse one entry of `changes` (the caller resolves `target` and checks
 * it names a replicated component). Returns 0 or SIM_ECONFIG. */
int roll_spec_parse(sim_diag_t *d, sim_cfg_node_t *map, roll_spec_t *spec);

typedef enum {
    ROLL_PENDING,                 /* before `at` */
    ROLL_PRECHECK,
    ROLL_CANARY_RUNNING,
    ROLL_PROMOTED,                /* every replica runs it */
    ROLL_ROLLING_BACK,
    ROLL_ROLLED_BACK,
    ROLL_ABORTED                  /* the pre-check failed: never served traffic */
} roll_state_t;
const char *roll_state_name(roll_state_t s);

typedef struct {
    sim_t *sim;
    const roll_spec_t *spec;
    rset_t *rs;
    char source[96];              /* event source: the target's name */
    roll_state_t state;
    int64_t k;                    /* replicas the change is applied to (canary: the canary) */
    int64_t nbad;                 /* replicas running the change now */
    bool *bad;                    /* per replica */
    sim_timer_t timer, manual_timer;
    /* the canary analysis window */
    uint64_t win_calls, win_errors;
    sim_hist_t win_time;
    uint64_t base_calls, base_errors;   /* the baseline replicas', same window */
    sim_hist_t base_time;
    int64_t checks, checks_failed;
    /* totals */
    uint64_t exposed_calls;       /* calls served by replicas running the change */
    uint64_t exposed_errors;
    sim_time_t decided_at;        /* rollback or promotion decision; -1 */
    sim_time_t reverted_at;       /* every replica reverted; -1 */
    double bad_replica_seconds;
    sim_time_t last_change;
    int col_bad;
} roll_t;

/* Set up the change on replicated service `rs` (which must outlive it).
 * Returns 0 or SIM_ENOMEM. */
int roll_init(roll_t *ro, sim_t *sim, const roll_spec_t *spec, rset_t *rs);
void roll_fini(roll_t *ro);
/* Close the replica-seconds count at the end of the run. */
void roll_finish(roll_t *ro);
/* Section "changes" of the run report; `name` is the change's label. */
void roll_report(const roll_t *ro, const char *name, rs_report_t *rep);

#endif
