/* Bursty arrivals against their known rate and index of dispersion of
 * counts (IDC = Var N(T) / E N(T) over windows of length T):
 *   MMPP-2   1 + 2 r1 r2 (l1 - l2)^2 / ((r1 + r2)^3 lbar)
 *              x (1 - (1 - e^{-(r1+r2)T}) / ((r1+r2) T))   (Heffes and Lucantoni 1986)
 *   MMPP-n   through the deviation matrix (wl_idc), checked by simulation
 *   periodic Poisson over whole periods: 1; counts per phase: the rate's integral
 *   batch    compound Poisson: E[K^2] / E[K]. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "models/queueing/workload.h"
#include "sim/error.h"
#include "testutil.h"

typedef struct {
    sim_time_t win;
    size_t nwin;
    uint32_t *count;
} bins_t;

static void count(sim_t *sim, void *ctx)
{
    bins_t *b = ctx;
    size_t i = (size_t)(sim_now(sim) / b->win);
    if (i < b->nwin) b->count[i]++;
}

static wl_spec_t parse(const char *yaml)
{
    sim_diag_t d;
    sim_diag_init(&d);
    sim_cfg_t *cfg = sim_cfg_load_string("w.yaml", yaml, strlen(yaml), &d);
    cr_assert_not_null(cfg, "%s", sim_diag_text(&d));
    wl_spec_t w;
    cr_assert_eq(wl_spec_parse(&d, sim_cfg_get(sim_cfg_root(cfg), "workload"), &w), 0, "%s", sim_diag_text(&d));
    sim_cfg_destroy(cfg);
    sim_diag_fini(&d);
    return w;
}

/* Mean and IDC of the counts in nwin windows of length win. */
static void measure(const wl_spec_t *w, sim_time_t win, size_t nwin, double *mean, double *idc, bins_t *keep)
{
    bins_t b = {win, nwin, calloc(nwin, sizeof(uint32_t))};
    cr_assert_not_null(b.count);
    sim_t *sim = tu_sim(7);
    wl_gen_t g;
    cr_assert_eq(wl_gen_start(&g, sim, w, "workload/arrivals", count, &b), 0);
    sim_run(sim, win * (sim_time_t)nwin);
    sim_destroy(sim);
    double s = 0, s2 = 0;
    for (size_t i = 0; i < nwin; i++) s += b.count[i];
    double m = s / (double)nwin;
    for (size_t i = 0; i < nwin; i++) s2 += (b.count[i] - m) * (b.count[i] - m);
    *mean = m;
    *idc = s2 / (double)(nwin - 1) / m;
    if (keep) *keep = b;
    else free(b.count);
}

static double mmpp2_idc(double l1, double l2, double r1, double r2, double t)
{
    double s = r1 + r2, lbar = (l1 * r2 + l2 * r1) / s;
    double lim = 2 * r1 * r2 * (l1 - l2) * (l1 - l2) / (s * s * s * lbar);
    return 1 + lim * (t == INFINITY ? 1 : 1 - (1 - exp(-s * t)) / (s * t));
}

Test(workload_bursty, mmpp2_idc_matches_the_closed_form)
{
    /* 50/s for 2 s on average, 5/s for 8 s: r1 = 0.5, r2 = 0.125 */
    wl_spec_t w = parse("workload:\n  arrivals: mmpp\n  states:\n    - {rate: 50/s, mean_time: 2s}\n"
                        "    - {rate: 5/s, mean_time: 8s}\n");
    cr_assert_float_eq(wl_mmpp_pi(&w)[0], 0.2, 1e-12);
    cr_assert_float_eq(wl_rate_at(&w, 0), 14.0, 1e-12);
    cr_assert_float_eq(wl_max_rate(&w), 50.0, 1e-12);
    cr_assert_float_eq(wl_constant_rate(&w), -1, 0);
    double want_inf = mmpp2_idc(50, 5, 0.5, 0.125, INFINITY);
    cr_assert_float_eq(want_inf, 1 + 253.125 / 3.41796875, 1e-9);
    cr_assert_float_eq(wl_idc(&w, SIM_TIME_MAX), want_inf, 1e-9 * want_inf);
    static const double ts[] = {0.1, 1, 5, 60, 1000};
    for (int i = 0; i < 5; i++) {
        double want = mmpp2_idc(50, 5, 0.5, 0.125, ts[i]);
        double got = wl_idc(&w, sim_time_from_s(ts[i]));
        cr_assert_float_eq(got, want, 1e-9 * want, "T = %g s: IDC %.12g, closed form %.12g", ts[i], got, want);
    }
    wl_spec_fini(&w);
}

Test(workload_bursty, on_off_mmpp_rate_and_idc_by_simulation)
{
    /* on: 100/s for 1 s; off: silent for 4 s. lbar = 20/s; IDC(inf) = 129 */
    wl_spec_t w = parse("workload:\n  arrivals: mmpp\n  states:\n    - {rate: 100/s, mean_time: 1s}\n"
                        "    - {rate: 0/s, mean_time: 4s}\n");
    double want_inf = mmpp2_idc(100, 0, 1, 0.25, INFINITY);
    cr_assert_float_eq(want_inf, 129, 1e-9);
    double want = mmpp2_idc(100, 0, 1, 0.25, 50);
    double mean, idc;
    measure(&w, 50 * SIM_SEC, 4000, &mean, &idc, NULL);
    cr_log_info("on/off MMPP: %.4f arrivals/s (20), IDC(50 s) %.2f (closed form %.2f)", mean / 50, idc, want);
    cr_assert(fabs(mean / 50 / 20 - 1) < 0.02, "rate %g/s, want 20/s", mean / 50);
    cr_assert(fabs(idc / want - 1) < 0.10, "IDC %g, want %g", idc, want);
    wl_spec_fini(&w);
}

Test(workload_bursty, three_state_mmpp_by_simulation)
{
    /* a cycle low -> mid -> high -> low, then jumps given explicitly */
    wl_spec_t w = parse("workload:\n  arrivals: mmpp\n  states:\n    - {rate: 5/s, mean_time: 10s}\n"
                        "    - {rate: 30/s, mean_time: 3s}\n    - {rate: 120/s, mean_time: 1s}\n"
                        "  transitions: [[0, 0.8, 0.2], [0.5, 0, 0.5], [1, 0, 0]]\n");
    double lbar = wl_rate_at(&w, 0), want = wl_idc(&w, 20 * SIM_SEC);
    cr_assert(want > 1 && want < wl_idc(&w, SIM_TIME_MAX), "IDC(20 s) %g, IDC(inf) %g", want, wl_idc(&w, SIM_TIME_MAX));
    double mean, idc;
    measure(&w, 20 * SIM_SEC, 10000, &mean, &idc, NULL);
    cr_log_info("3-state MMPP: %.4f arrivals/s (%.4f), IDC(20 s) %.3f (closed form %.3f)", mean / 20, lbar, idc, want);
    cr_assert(fabs(mean / 20 / lbar - 1) < 0.02, "rate %g/s, want %g/s", mean / 20, lbar);
    cr_assert(fabs(idc / want - 1) < 0.10, "IDC %g, want %g", idc, want);
    wl_spec_fini(&w);
}

Test(workload_bursty, periodic_rate_follows_its_cosine)
{
    /* 20/s on average, +-80%, a 100 s period peaking at 25 s */
    wl_spec_t w = parse("workload:\n  periodic: {mean: 20/s, amplitude: 80%, period: 100s, peak_at: 25s}\n");
    cr_assert_float_eq(wl_rate_at(&w, 25 * SIM_SEC), 36, 1e-9);
    cr_assert_float_eq(wl_rate_at(&w, 75 * SIM_SEC), 4, 1e-9);
    cr_assert_float_eq(wl_max_rate(&w), 36, 1e-9);
    cr_assert_float_eq(wl_expected_arrivals(&w, 0, 100 * SIM_SEC), 2000, 1e-6);
    cr_assert_float_eq(wl_idc(&w, 100 * SIM_SEC), 1, 0);
    /* counts per 10 s phase bin over 1000 periods, against the integral */
    bins_t b;
    double mean, idc;
    measure(&w, 10 * SIM_SEC, 10000, &mean, &idc, &b);
    double worst = 0;
    for (int ph = 0; ph < 10; ph++) {
        double got = 0;
        for (size_t i = ph; i < b.nwin; i += 10) got += b.count[i];
        double want = 1000 * wl_expected_arrivals(&w, ph * 10 * SIM_SEC, (ph + 1) * 10 * SIM_SEC);
        double z = (got - want) / sqrt(want);
        if (fabs(z) > fabs(worst)) worst = z;
        cr_assert(fabs(z) < 4.5, "phase %d: %g arrivals, want %g (z = %.2f)", ph, got, want, z);
    }
    /* whole periods: Poisson counts */
    size_t np = b.nwin / 10;
    double s = 0, s2 = 0;
    for (size_t p = 0; p < np; p++) {
        double c = 0;
        for (int k = 0; k < 10; k++) c += b.count[p * 10 + k];
        s += c;
        s2 += c * c;
    }
    double m = s / (double)np, v = (s2 - (double)np * m * m) / (double)(np - 1);
    cr_log_info("periodic: %.2f per period (2000), IDC over periods %.3f (1), worst phase z %.2f", m, v / m, worst);
    cr_assert(fabs(m / 2000 - 1) < 0.01);
    cr_assert(fabs(v / m - 1) < 0.15, "IDC over whole periods %g, want 1", v / m);
    free(b.count);
    wl_spec_fini(&w);
}

Test(workload_bursty, batches_have_idc_e_k2_over_e_k)
{
    /* 10 batches/s of 1 or 3 requests: 20 requests/s, IDC = E[K^2]/E[K] = 5/2 */
    wl_spec_t w = parse("workload:\n  rate: 10/s\n  batch: {size: {dist: empirical, values: [1, 3], weights: [1, 1]}}\n");
    cr_assert_float_eq(wl_max_rate(&w), 20, 1e-12);
    cr_assert_float_eq(wl_idc(&w, SIM_SEC), 2.5, 1e-12);
    double mean, idc;
    measure(&w, SIM_SEC, 20000, &mean, &idc, NULL);
    cr_log_info("batch: %.4f requests/s (20), IDC %.4f (2.5)", mean, idc);
    cr_assert(fabs(mean / 20 - 1) < 0.01, "rate %g/s", mean);
    cr_assert(fabs(idc / 2.5 - 1) < 0.05, "IDC %g, want 2.5", idc);
    wl_spec_fini(&w);
    /* a constant batch of 4 */
    w = parse("workload:\n  rate: 5/s\n  batch: {size: 4}\n");
    measure(&w, SIM_SEC, 20000, &mean, &idc, NULL);
    cr_assert(fabs(mean / 20 - 1) < 0.01, "rate %g/s", mean);
    cr_assert(fabs(idc / 4 - 1) < 0.05, "IDC %g, want 4", idc);
    wl_spec_fini(&w);
    /* unbatched Poisson: 1 */
    w = parse("workload:\n  rate: 20/s\n");
    measure(&w, SIM_SEC, 20000, &mean, &idc, NULL);
    cr_assert(fabs(idc - 1) < 0.05, "IDC %g, want 1", idc);
    wl_spec_fini(&w);
}

static void expect_error(const char *yaml, const char *msg)
{
    sim_diag_t d;
    sim_diag_init(&d);
    sim_cfg_t *cfg = sim_cfg_load_string("w.yaml", yaml, strlen(yaml), &d);
    cr_assert_not_null(cfg);
    wl_spec_t w;
    cr_assert_neq(wl_spec_parse(&d, sim_cfg_get(sim_cfg_root(cfg), "workload"), &w), 0, "accepted %s", yaml);
    cr_assert(strstr(sim_diag_text(&d), msg), "expected '%s' in:\n%s", msg, sim_diag_text(&d));
    cr_assert(strstr(sim_diag_text(&d), "w.yaml:"), "%s", sim_diag_text(&d));
    wl_spec_fini(&w);   /* what a failed parse holds, as the scenario loader frees it */
    sim_cfg_destroy(cfg);
    sim_diag_fini(&d);
}

Test(workload_bursty, bad_input)
{
    expect_error("workload:\n  arrivals: mmpp\n  rate: 5/s\n", "needs its 'states'");
    expect_error("workload:\n  states: [{rate: 5/s, mean_time: 1s}, {rate: 1/s, mean_time: 1s}]\n", "add 'arrivals: mmpp'");
    expect_error("workload:\n  arrivals: mmpp\n  states: [{rate: 5/s, mean_time: 1s}]\n", "2 to 16 states");
    expect_error("workload:\n  arrivals: mmpp\n  states: [{rate: 5/s, mean_time: 1s}, {rate: 1/s}]\n", "mean_time");
    expect_error("workload:\n  arrivals: mmpp\n  states: [{rate: 0/s, mean_time: 1s}, {rate: 0/s, mean_time: 1s}]\n",
                 "rate is zero");
    expect_error("workload:\n  arrivals: mmpp\n  states: [{rate: 5/s, mean_time: 1s}, {rate: 1/s, mean_time: 1s}]\n"
                 "  transitions: [[0, 1], [0.5, 0.4]]\n", "sums to 1");
    expect_error("workload:\n  arrivals: mmpp\n  states: [{rate: 5/s, mean_time: 1s}, {rate: 1/s, mean_time: 1s}]\n"
                 "  transitions: [[0.5, 0.5], [1, 0]]\n", "does not jump to itself");
    expect_error("workload:\n  periodic: {mean: 5/s, amplitude: 150%}\n", "expected a ratio between 0 and 1");
    expect_error("workload:\n  periodic: {amplitude: 50%}\n", "mean");
    expect_error("workload:\n  rate: 5/s\n  periodic: {mean: 5/s, amplitude: 50%}\n", "not both 'rate' and 'periodic'");
    expect_error("workload:\n  rate: 5/s\n  batch: {}\n", "'size'");
    expect_error("workload:\n  rate: 5/s\n  batch: {size: 0.5}\n", "at least 1");
}
