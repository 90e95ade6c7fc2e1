/* Queueing theory as known answers: the simulator against Erlang C, the
 * M/M/c/K balance equations and Pollaczek-Khinchine, with replications and
 * confidence intervals (not one lucky run). Each figure must lie inside the
 * 99% Student-t interval across replications AND within 3% of the formula. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "models/queueing/network.h"
#include "experiment/runner.h"
#include "models/queueing/theory.h"
#include "sim/cfg.h"
#include "sim/stats.h"
#include "testutil.h"

#define MAXREP 64

typedef struct {
    double wait[MAXREP], util[MAXREP], block[MAXREP], soj[MAXREP];
    size_t n;
    rs_scenario_t s;
} reps_t;

/* Runs are lengthened beyond the scenario files' own durations so that the
 * 99% interval is narrower than the 3% tolerance: both checks then bite. */
static void run_reps(reps_t *r, const char *file, int reps, const char *duration)
{
    sim_diag_t d;
    sim_diag_init(&d);
    char set[64];
    snprintf(set, sizeof set, "duration=%s", duration);
    const char *sets[] = {set};
    cr_assert_eq(rs_load(&r->s, tu_src(file), sets, 1, &d), 0, "%s", sim_diag_text(&d));
    sim_diag_fini(&d);
    r->n = (size_t)reps;
    for (int i = 0; i < reps; i++) {
        rs_result_t res;
        cr_assert_eq(rs_run_one(&r->s, 0, (uint32_t)i, r->s.sc.seed, 0, NULL, &res), 0);
        const station_t *st = &((net_t *)res.inst)->st[0];
        r->wait[i] = sim_tmean_s(&st->wait_s);
        r->soj[i] = sim_tmean_s(&st->sojourn_s);
        r->util[i] = stn_utilization(st);
        r->block[i] = (double)st->n.rejected / (double)st->n.arrivals;
        rs_result_free(&res);
    }
}

static void check(const char *what, const double *x, size_t n, double expect)
{
    sim_ci_t ci = sim_ci_student(x, n, 0.99);
    double rel = fabs(ci.mean - expect) / expect;
    cr_log_info("%s: simulated %.5f +- %.5f (99%% CI, %zu reps), theory %.5f, off by %.2f%%", what,
                ci.mean, ci.half_width, n, expect, rel * 100);
    cr_expect(sim_ci_lo(ci) <= expect && expect <= sim_ci_hi(ci),
              "%s: theory %.5f outside the 99%% CI [%.5f, %.5f]", what, expect, sim_ci_lo(ci), sim_ci_hi(ci));
    cr_expect_lt(ci.half_width / expect, 0.03, "%s: the 99%% CI (+-%.2f%%) is wider than the 3%% tolerance",
                 what, 100 * ci.half_width / expect);
    cr_expect_lt(rel, 0.03, "%s: simulated %.5f is %.2f%% from theory %.5f", what, ci.mean, rel * 100, expect);
}

Test(queueing, erlang_formulas_match_known_values)
{
    /* Erlang B(10, 9) and C(10, 9) from the recurrence; independent values:
     * B = 0.167963, C = 0.668732. */
    cr_assert_float_eq(theory_erlang_b(10, 9.0), 0.167963, 1e-6);
    cr_assert_float_eq(theory_erlang_c(10, 9.0), 0.668732, 1e-6);
    cr_assert_float_eq(theory_erlang_c(1, 0.7), 0.7, 1e-12);   /* M/M/1: P(wait) = rho */
    cr_assert_float_eq(theory_mmc_wq(7, 10, 1), 0.7 / 3.0, 1e-12);
    theory_mmck_t k = theory_mmck(2.5, 1, 2, 5);
    cr_assert_float_eq(k.blocking, 0.283653, 1e-5);
    cr_assert_float_eq(k.wq, 0.829954, 1e-5);
    /* M/M/1/K: P_K = (1-rho) rho^K / (1 - rho^(K+1)) */
    theory_mmck_t k1 = theory_mmck(0.5, 1, 1, 3);
    cr_assert_float_eq(k1.blocking, 0.5 * 0.125 / (1 - 0.0625), 1e-12);
    cr_assert_float_eq(theory_mg1_wq(8, 0.1, 0.01), 0.2, 1e-12);
    cr_assert(isnan(theory_erlang_c(2, 2.0)), "rho = 1 has no steady state");
}

Test(queueing, mm1_mean_wait_matches_formula, .timeout = 600)
{
    static reps_t r;
    run_reps(&r, "scenarios/validation/mm1.yaml", 20, "12h");
    check("M/M/1 Wq", r.wait, r.n, 0.7 / 3.0);
    check("M/M/1 W", r.soj, r.n, 0.7 / 3.0 + 0.1);
    check("M/M/1 utilisation", r.util, r.n, 0.7);
    rs_unload(&r.s);
}

Test(queueing, mmc_mean_wait_matches_erlang_c, .timeout = 600)
{
    static reps_t r;
    run_reps(&r, "scenarios/validation/mmc.yaml", 20, "24h");
    check("M/M/10 Wq (Erlang C)", r.wait, r.n, theory_mmc_wq(9, 1, 10));
    check("M/M/10 utilisation", r.util, r.n, 0.9);
    theory_pred_t p;
    cr_assert(theory_predict_station(r.s.spec, 0, &p));
    cr_assert_float_eq(p.wait_s, 0.668732, 1e-5);
    rs_unload(&r.s);
}

Test(queueing, mmck_blocking_and_wait_match_balance_equations, .timeout = 600)
{
    static reps_t r;
    run_reps(&r, "scenarios/validation/mmck.yaml", 20, "12h");
    theory_mmck_t k = theory_mmck(2.5, 1, 2, 5);
    check("M/M/2/5 blocking", r.block, r.n, k.blocking);
    check("M/M/2/5 Wq", r.wait, r.n, k.wq);
    check("M/M/2/5 utilisation", r.util, r.n, k.util);
    rs_unload(&r.s);
}

Test(queueing, md1_mean_wait_matches_pollaczek_khinchine, .timeout = 600)
{
    static reps_t r;
    run_reps(&r, "scenarios/validation/md1.yaml", 20, "12h");
    check("M/D/1 Wq (P-K)", r.wait, r.n, 0.2);
    check("M/D/1 utilisation", r.util, r.n, 0.8);
    rs_unload(&r.s);
}

/* The network's route: 20,000 stations, each on the route. */
/* Resolving the route used to search the stations linearly for each
 * entry (with the checks' searches, run time grew with the square of the
 * number of stations): a name index, counted without a clock. */
Test(network, a_long_route_is_resolved_linearly)
{
    size_t cap = 64u << 20, len = 0;
    char *y = malloc(cap);
    len += (size_t)snprintf(y + len, cap - len, "name: x\nduration: 1s\nworkload: {rate: 1/s}\nstations:\n");
    for (int i = 0; i < 20000; i++) len += (size_t)snprintf(y + len, cap - len, "  s%d: {service: 1ms}\n", i);
    len += (size_t)snprintf(y + len, cap - len, "route: [");
    for (int i = 19999; i >= 0; i--) len += (size_t)snprintf(y + len, cap - len, "s%d%s", i, i ? ", " : "]\n");
    sim_diag_t d;
    sim_diag_init(&d);
    sim_cfg_t *cfg = sim_cfg_load_string("big.yaml", y, len, &d);
    cr_assert_not_null(cfg, "%s", sim_diag_text(&d));
    net_spec_t spec;
    cr_assert_eq(net_spec_parse(&d, sim_cfg_root(cfg), &spec), 0, "%s", sim_diag_text(&d));
    cr_assert_eq(spec.nroute, 20000);
    cr_assert_eq(spec.route[0], 19999);
    cr_assert_eq(spec.route[19999], 0);
    cr_log_info("a route of 20,000 stations: %llu name comparisons", (unsigned long long)spec.name_probes);
    cr_assert_lt(spec.name_probes, 10ull * 40000, "%llu comparisons", (unsigned long long)spec.name_probes);
    net_spec_fini(&spec);
    sim_cfg_destroy(cfg);
    sim_diag_fini(&d);
    free(y);
}
