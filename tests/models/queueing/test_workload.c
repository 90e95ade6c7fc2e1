/* Arrival processes: counts against the integral of the rate profile. */
#include <criterion/criterion.h>
#include <math.h>
#include <string.h>

#include "models/queueing/workload.h"
#include "sim/error.h"

typedef struct {
    sim_time_t t[2000000];
    size_t n;
} arr_t;

static void record(sim_t *sim, void *ctx)
{
    arr_t *a = ctx;
    if (a->n < 2000000) a->t[a->n] = sim_now(sim);
    a->n++;
}

static void gen(arr_t *a, const wl_spec_t *w, sim_time_t until, uint32_t rep)
{
    a->n = 0;
    sim_config_t cfg = {.master_seed = 11, .replication = rep};
    sim_t *sim = sim_create(&cfg);
    wl_gen_t g;
    cr_assert_eq(wl_gen_start(&g, sim, w, "workload/arrivals", record, a), 0);
    sim_run(sim, until);
    sim_destroy(sim);
}

static size_t count_in(const arr_t *a, sim_time_t t0, sim_time_t t1)
{
    size_t k = 0;
    for (size_t i = 0; i < a->n; i++) k += a->t[i] >= t0 && a->t[i] < t1;
    return k;
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

static void expect_error(const char *yaml, const char *msg, int line, int col)
{
    sim_diag_t d;
    sim_diag_init(&d);
    sim_cfg_t *cfg = sim_cfg_load_string("w.yaml", yaml, strlen(yaml), &d);
    cr_assert_not_null(cfg, "%s", sim_diag_text(&d));
    wl_spec_t w;
    cr_assert_neq(wl_spec_parse(&d, sim_cfg_get(sim_cfg_root(cfg), "workload"), &w), 0);
    char pos[64];
    snprintf(pos, sizeof pos, "w.yaml:%d:%d: error:", line, col);
    cr_assert(strstr(sim_diag_text(&d), pos), "want '%s' in: %s", pos, sim_diag_text(&d));
    cr_assert(strstr(sim_diag_text(&d), msg), "want '%s' in: %s", msg, sim_diag_text(&d));
    wl_spec_fini(&w);
    sim_cfg_destroy(cfg);
    sim_diag_fini(&d);
}

Test(workload, poisson_count_has_poisson_mean_and_variance)
{
    /* 40 runs of 1000 s at 5/s: counts ~ Poisson(5000). */
    static arr_t a;
    wl_spec_t w;
    wl_spec_constant(&w, WL_POISSON, 5.0);
    double sum = 0, sum2 = 0;
    int R = 40;
    for (int r = 0; r < R; r++) {
        gen(&a, &w, 1000 * SIM_SEC, (uint32_t)r);
        sum += (double)a.n;
        sum2 += (double)a.n * (double)a.n;
    }
    double mean = sum / R, var = (sum2 - R * mean * mean) / (R - 1);
    cr_assert_lt(fabs(mean - 5000) / sqrt(5000.0 / R), 4.0, "mean count %.1f", mean);
    cr_assert(var > 5000 * 0.5 && var < 5000 * 1.6, "count variance %.1f (Poisson: 5000)", var);
    wl_spec_fini(&w);
}

Test(workload, deterministic_arrivals_are_evenly_spaced)
{
    static arr_t a;
    wl_spec_t w;
    wl_spec_constant(&w, WL_DETERMINISTIC, 4.0);
    gen(&a, &w, 10 * SIM_SEC, 0);
    cr_assert_eq(a.n, 40);
    for (size_t i = 0; i < a.n; i++) cr_assert_eq(a.t[i], (sim_time_t)(i + 1) * 250 * SIM_MS);
    wl_spec_fini(&w);
}

Test(workload, profile_steps_and_ramps_match_the_rate_integral)
{
    static arr_t a;
    wl_spec_t w = parse("workload:\n"
                        "  profile:\n"
                        "    - {for: 100s, rate: 200/s}\n"
                        "    - {for: 100s, from: 200/s, to: 1k/s}\n"
                        "    - {for: 50s, rate: 0/s}\n"
                        "    - {rate: 50/s}\n");
    cr_assert_eq(w.nsegs, 4);
    cr_assert_float_eq(wl_rate_at(&w, 150 * SIM_SEC), 600.0, 1e-9);
    cr_assert_float_eq(wl_expected_arrivals(&w, 100 * SIM_SEC, 200 * SIM_SEC), 60000.0, 1e-6);
    cr_assert_float_eq(wl_expected_arrivals(&w, 0, 400 * SIM_SEC), 20000 + 60000 + 0 + 7500, 1e-6);
    /* sum over 10 runs, windows of the ramp: 10 s windows with exact expectations */
    double got[12] = {0}, want[12];
    sim_time_t t0[12];
    for (int i = 0; i < 10; i++) t0[i] = (100 + 10 * i) * SIM_SEC;
    t0[10] = 200 * SIM_SEC;   /* the silent segment */
    t0[11] = 0;
    for (int i = 0; i < 10; i++) want[i] = 10 * wl_expected_arrivals(&w, t0[i], t0[i] + 10 * SIM_SEC);
    want[10] = 0;
    want[11] = 10 * 20000.0;
    for (uint32_t r = 0; r < 10; r++) {
        gen(&a, &w, 400 * SIM_SEC, r);
        for (int i = 0; i < 10; i++) got[i] += (double)count_in(&a, t0[i], t0[i] + 10 * SIM_SEC);
        got[10] += (double)count_in(&a, 200 * SIM_SEC, 250 * SIM_SEC);
        got[11] += (double)count_in(&a, 0, 100 * SIM_SEC);
    }
    for (int i = 0; i < 12; i++) {
        double sd = sqrt(want[i] > 0 ? want[i] : 1);
        cr_assert_lt(fabs(got[i] - want[i]), 4.5 * sd + 1e-9, "window %d: %g arrivals, expected %g", i, got[i], want[i]);
    }
    wl_spec_fini(&w);
}

Test(workload, same_seed_same_arrivals_and_replications_differ)
{
    static arr_t a, b;
    wl_spec_t w;
    wl_spec_constant(&w, WL_POISSON, 50.0);
    gen(&a, &w, 20 * SIM_SEC, 3);
    gen(&b, &w, 20 * SIM_SEC, 3);
    cr_assert_eq(a.n, b.n);
    cr_assert_eq(memcmp(a.t, b.t, a.n * sizeof a.t[0]), 0);
    gen(&b, &w, 20 * SIM_SEC, 4);
    cr_assert(a.n != b.n || memcmp(a.t, b.t, a.n * sizeof a.t[0]) != 0);
    wl_spec_fini(&w);
}

Test(workload, errors_name_position_and_problem)
{
    expect_error("workload:\n  rate: 800\n", "rate", 2, 9);
    expect_error("workload:\n  rate: 5/s\n  profile: [{rate: 5/s}]\n", "not both 'rate' and 'profile'", 3, 12);
    expect_error("workload:\n  arrivals: poison\n  rate: 5/s\n", "did you mean 'poisson'", 2, 13);
    expect_error("workload:\n  profile:\n    - {rate: 5/s}\n    - {rate: 6/s}\n", "missing required key 'for'", 3, 7);
    expect_error("workload:\n  profile:\n    - {for: 1s, from: 5/s}\n", "'from' and 'to'", 3, 7);
    expect_error("workload:\n  arrivals: poisson\n", "needs an arrival 'rate'", 2, 3);
}
