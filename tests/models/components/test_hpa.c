/* The Kubernetes HPA decision (models/components/replicas/hpa.h) replayed
 * by hand: the ratio and its tolerance, the unready-pods rule, the scale-up
 * rate policies (max(4 pods, 100%) per 15 s), the 300 s scale-down
 * stabilisation and the 100% scale-down policy, and the bounds. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "models/components/replicas/hpa.h"
#include "sim/cfg.h"
#include "sim/diag.h"

#define S(x) ((sim_time_t)(x) * SIM_SEC)

static hpa_spec_t spec(double target, int64_t min, int64_t max)
{
    sim_diag_t d;
    sim_diag_init(&d);
    char yaml[256];
    snprintf(yaml, sizeof yaml, "a: {min_replicas: %lld, max_replicas: %lld, metric: cpu, target: %g}\n",
             (long long)min, (long long)max, target);
    sim_cfg_t *cfg = sim_cfg_load_string("t", yaml, strlen(yaml), &d);
    hpa_spec_t s;
    cr_assert_eq(hpa_spec_parse(&d, sim_cfg_get(sim_cfg_root(cfg), "a"), min, 0xf, &s), 0, "%s", sim_diag_text(&d));
    sim_cfg_destroy(cfg);
    sim_diag_fini(&d);
    return s;
}

Test(hpa, defaults_are_kubernetes)
{
    hpa_spec_t s = spec(0.5, 2, 20);
    cr_assert_eq(s.sync, S(15));
    cr_assert_float_eq(s.tolerance, 0.1, 0);
    cr_assert_eq(s.up.window, 0);
    cr_assert_eq(s.up.pods, 4);
    cr_assert_float_eq(s.up.percent, 100, 0);
    cr_assert_eq(s.up.period, S(15));
    cr_assert_eq(s.down.window, S(300));
    cr_assert_float_eq(s.down.percent, 100, 0);
}

Test(hpa, hand_computed_trace)
{
    hpa_spec_t s = spec(0.5, 2, 20);
    hpa_t h;
    hpa_init(&h, &s);
    /* t=15: 2 ready at 0.9 CPU: ratio 1.8 -> ceil(2 x 1.8) = 4; rate limit
     * max(2 + 4, 2 x 2) = 6 */
    cr_assert_eq(hpa_decide(&h, S(15), 2, 2, 1.8), 4);
    cr_assert_float_eq(h.last_ratio, 1.8, 1e-12);
    /* t=30: 4 wanted, 2 ready at 1.0: ratio 2, but the 2 starting count as 0:
     * 2.0 / (0.5 x 4) = 1.0, inside the tolerance: stay */
    cr_assert_eq(hpa_decide(&h, S(30), 4, 2, 2.0), 4);
    /* t=45: 4 ready at 1.9: ratio 3.8 -> 16; the scale-up at 15 s is not
     * after 45 - 15, so the period starts at 4: max(4 + 4, 4 x 2) = 8 */
    cr_assert_eq(hpa_decide(&h, S(45), 4, 4, 7.6), 8);
    cr_assert_eq(h.last_raw, 16);
    /* t=50 (an extra sync inside the period): 8 wanted, 4 ready, 4 starting:
     * 7.6 / (0.5 x 8) = 1.9 -> ceil(15.2) = 16; the +4 at 45 s is in the
     * period: it started at 4, limit 8: stay at 8 */
    cr_assert_eq(hpa_decide(&h, S(50), 8, 4, 7.6), 8);
    /* t=60: the period (45, 60] no longer holds 45: from 8, limit 16 */
    cr_assert_eq(hpa_decide(&h, S(60), 8, 4, 7.6), 16);
    /* t=75: 16 ready at 0.25: ratio 0.5 -> 8, but the highest recommendation
     * of the last 300 s is 16: stay */
    cr_assert_eq(hpa_decide(&h, S(75), 16, 16, 4.0), 16);
    cr_assert_eq(h.last_raw, 8);
    for (int t = 90; t < 360; t += 15) cr_assert_eq(hpa_decide(&h, S(t), 16, 16, 4.0), 16, "t=%d", t);
    /* t=360: the 16s of 45, 50 and 60 s are more than 300 s old: down to 8
     * (the policy allows 100% of 16 in 15 s; min 2) */
    cr_assert_eq(hpa_decide(&h, S(360), 16, 16, 4.0), 8);
    /* t=375: 8 at 0.5375: ratio 1.075, inside the tolerance */
    cr_assert_eq(hpa_decide(&h, S(375), 8, 8, 4.3), 8);
    cr_assert_float_eq(h.last_ratio, 1.075, 1e-12);
    /* t=390: 8 at 0.05: ratio 0.1 -> 1, but the window holds 8s: stay */
    cr_assert_eq(hpa_decide(&h, S(390), 8, 8, 0.4), 8);
}

Test(hpa, bounds_and_pods_policy)
{
    hpa_spec_t s = spec(0.5, 1, 6);
    hpa_t h;
    hpa_init(&h, &s);
    /* 1 ready at 1.0: ratio 2 -> 2; max(1 + 4, 1 x 2) = 5 allows it */
    cr_assert_eq(hpa_decide(&h, S(15), 1, 1, 1.0), 2);
    hpa_init(&h, &s);
    /* 1 ready at 3.0 (a gauge, not CPU): ratio 6 -> 6; the pods policy allows 5 */
    cr_assert_eq(hpa_decide(&h, S(15), 1, 1, 3.0), 5);
    /* next period: 5 ready at 5.0: ratio 10 -> 50; max_replicas 6 */
    cr_assert_eq(hpa_decide(&h, S(30), 5, 5, 25.0), 6);
    /* nothing ready: no metric, no change */
    hpa_init(&h, &s);
    cr_assert_eq(hpa_decide(&h, S(15), 3, 0, 0), 3);
}

Test(hpa, bad_specs_are_refused)
{
    sim_diag_t d;
    sim_diag_init(&d);
    const char *y = "a: {max_replicas: 2, min_replicas: 3, target: 50%}\nb: {max_replicas: 4, metric: kv, target: 50%}\n"
                    "c: {max_replicas: 4}\nd: {max_replicas: 4, target: 50%, up: {pods: 0, percent: 0}}\n";
    sim_cfg_t *cfg = sim_cfg_load_string("t.yaml", y, strlen(y), &d);
    hpa_spec_t s;
    cr_assert_neq(hpa_spec_parse(&d, sim_cfg_get(sim_cfg_root(cfg), "a"), 3, 0x7, &s), 0);
    cr_assert(strstr(sim_diag_text(&d), "min_replicas 3 is more than max_replicas 2"), "%s", sim_diag_text(&d));
    cr_assert_neq(hpa_spec_parse(&d, sim_cfg_get(sim_cfg_root(cfg), "b"), 1, 0x7, &s), 0);
    cr_assert(strstr(sim_diag_text(&d), "t.yaml:2:30: error: this component does not report 'kv'"), "%s", sim_diag_text(&d));
    cr_assert_neq(hpa_spec_parse(&d, sim_cfg_get(sim_cfg_root(cfg), "c"), 1, 0x7, &s), 0);
    cr_assert(strstr(sim_diag_text(&d), "missing required key 'target'"), "%s", sim_diag_text(&d));
    cr_assert_neq(hpa_spec_parse(&d, sim_cfg_get(sim_cfg_root(cfg), "d"), 1, 0x7, &s), 0);
    cr_assert(strstr(sim_diag_text(&d), "'up' allows no change"), "%s", sim_diag_text(&d));
    sim_cfg_destroy(cfg);
    sim_diag_fini(&d);
}
