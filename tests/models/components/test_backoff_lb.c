/* CrashLoopBackOff arithmetic and load-balancer fairness. */
#include <criterion/criterion.h>
#include <math.h>
#include <string.h>

#include "models/components/replicas/backoff.h"
#include "models/components/replicas/lb.h"
#include "testutil.h"

Test(backoff, first_crash_restarts_at_once_then_10s_doubling_to_a_300s_cap)
{
    /* The kubelet has no back-off entry for a container that never crashed:
     * it restarts at once and the entry starts at 10 s; every further crash
     * waits the entry's delay, which then doubles up to 300 s. */
    backoff_spec_t sp = BACKOFF_DEFAULTS;
    backoff_t b;
    backoff_init(&b, &sp);
    sim_time_t want[] = {0, 10, 20, 40, 80, 160, 300, 300};
    sim_time_t now = 0;
    for (int i = 0; i < 8; i++) {
        sim_time_t d = backoff_on_crash(&b, &sp, now);
        cr_assert_eq(d, want[i] * SIM_SEC, "crash %d: %lld s", i, (long long)(d / SIM_SEC));
        now += d;
        backoff_on_restart(&b, now);
        now += 5 * SIM_SEC;   /* crashes again 5 s after each restart */
    }
}

Test(backoff, ten_minutes_healthy_drops_the_entry_and_the_next_crash_restarts_at_once)
{
    backoff_spec_t sp = BACKOFF_DEFAULTS;
    backoff_t b;
    backoff_init(&b, &sp);
    sim_time_t now = 0;
    sim_time_t want[] = {0, 10, 20, 40};
    for (int i = 0; i < 4; i++) {                 /* 0, 10, 20, 40 */
        sim_time_t d = backoff_on_crash(&b, &sp, now);
        cr_assert_eq(d, want[i] * SIM_SEC, "crash %d", i);
        now += d;
        backoff_on_restart(&b, now);
        now += SIM_SEC;
    }
    /* ran 9 min 59 s since the last restart: the entry holds, 80 s */
    sim_time_t t = now - SIM_SEC + 599 * SIM_SEC;
    cr_assert_eq(backoff_on_crash(&b, &sp, t), 80 * SIM_SEC);
    backoff_on_restart(&b, t + 80 * SIM_SEC);
    /* ran 10 min: the entry expired, restarted at once as a first crash ... */
    sim_time_t t2 = t + 80 * SIM_SEC + 600 * SIM_SEC;
    cr_assert_eq(backoff_on_crash(&b, &sp, t2), 0);
    backoff_on_restart(&b, t2);
    /* ... and the next crash waits 10 s again */
    cr_assert_eq(backoff_on_crash(&b, &sp, t2 + 30 * SIM_SEC), 10 * SIM_SEC);
}

Test(backoff, a_custom_initial_is_the_second_crash_delay)
{
    backoff_spec_t sp = {.initial = 5 * SIM_SEC, .cap = 12 * SIM_SEC, .reset = 60 * SIM_SEC};
    backoff_t b;
    backoff_init(&b, &sp);
    sim_time_t want[] = {0, 5, 10, 12, 12};
    sim_time_t now = 0;
    for (int i = 0; i < 5; i++) {
        sim_time_t d = backoff_on_crash(&b, &sp, now);
        cr_assert_eq(d, want[i] * SIM_SEC, "crash %d: %lld ns", i, (long long)d);
        now += d;
        backoff_on_restart(&b, now);
        now += SIM_SEC;
    }
}

Test(lb, round_robin_is_exactly_fair_and_skips_down_replicas)
{
    sim_t *sim = tu_sim(3);
    lb_t lb;
    cr_assert_eq(lb_init(&lb, sim, LB_ROUND_ROBIN, 4, "lb/t"), 0);
    int count[4] = {0};
    for (int i = 0; i < 4000; i++) count[lb_pick(&lb)]++;
    for (int r = 0; r < 4; r++) cr_assert_eq(count[r], 1000);
    lb_set_up(&lb, 2, false);
    memset(count, 0, sizeof count);
    for (int i = 0; i < 3000; i++) count[lb_pick(&lb)]++;
    cr_assert_eq(count[2], 0);
    for (int r = 0; r < 4; r++)
        if (r != 2) cr_assert_eq(count[r], 1000, "replica %d: %d", r, count[r]);
    for (int r = 0; r < 4; r++) lb_set_up(&lb, r, false);
    cr_assert_eq(lb_pick(&lb), -1);
    lb_fini(&lb);
    sim_destroy(sim);
}

Test(lb, random_is_uniform_chi_square)
{
    sim_t *sim = tu_sim(3);
    lb_t lb;
    cr_assert_eq(lb_init(&lb, sim, LB_RANDOM, 5, "lb/t"), 0);
    lb_set_up(&lb, 1, false);
    double count[5] = {0};
    int n = 400000;
    for (int i = 0; i < n; i++) count[lb_pick(&lb)]++;
    cr_assert_eq(count[1], 0);
    double chi = 0, e = n / 4.0;
    for (int r = 0; r < 5; r++)
        if (r != 1) chi += (count[r] - e) * (count[r] - e) / e;
    cr_assert_lt(chi, 21.1, "chi-square %.2f with 3 degrees of freedom (p = 1e-4 at 21.1)", chi);
    lb_fini(&lb);
    sim_destroy(sim);
}

Test(lb, least_outstanding_picks_the_least_loaded)
{
    sim_t *sim = tu_sim(3);
    lb_t lb;
    cr_assert_eq(lb_init(&lb, sim, LB_LEAST_OUTSTANDING, 3, "lb/t"), 0);
    /* issue 9 calls without completing any: they spread 3/3/3 */
    for (int i = 0; i < 9; i++) lb_begin(&lb, lb_pick(&lb));
    for (int r = 0; r < 3; r++) cr_assert_eq(lb.outstanding[r], 3);
    lb_end(&lb, 1);
    lb_end(&lb, 1);
    cr_assert_eq(lb_pick(&lb), 1);
    lb_fini(&lb);
    sim_destroy(sim);
}

Test(lb, power_of_two_beats_random_on_the_maximum_load)
{
    /* Balls into bins: n calls that never complete into n bins. The maximum
     * load is ~ln n / ln ln n for random and ~ln ln n / ln 2 for two
     * choices (Mitzenmacher 2001): for n = 4096, about 6-7 vs 3-4. */
    sim_t *sim = tu_sim(3);
    int n = 4096;
    lb_t a, b;
    cr_assert_eq(lb_init(&a, sim, LB_RANDOM, n, "lb/a"), 0);
    cr_assert_eq(lb_init(&b, sim, LB_POWER_OF_TWO, n, "lb/b"), 0);
    for (int i = 0; i < n; i++) {
        lb_begin(&a, lb_pick(&a));
        lb_begin(&b, lb_pick(&b));
    }
    int64_t ma = 0, mb = 0;
    for (int r = 0; r < n; r++) {
        if (a.outstanding[r] > ma) ma = a.outstanding[r];
        if (b.outstanding[r] > mb) mb = b.outstanding[r];
    }
    cr_assert_geq(ma, 5, "random max load %lld", (long long)ma);
    cr_assert_leq(mb, 4, "two-choice max load %lld", (long long)mb);
    lb_fini(&a);
    lb_fini(&b);
    sim_destroy(sim);
}
