/* Empirical token mixes: a trace's column (each row equally likely) and a
 * Prometheus-style histogram (uniform within buckets), against the moments
 * computed from the file and the buckets by hand. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "models/queueing/wl_mix.h"
#include "sim/error.h"
#include "sim/sim.h"
#include "testutil.h"

static int parse(const char *yaml, sim_dist_t *out, sim_diag_t *d)
{
    char name[4096];
    snprintf(name, sizeof name, "%s", tu_src("scenarios/t.yaml"));
    sim_cfg_t *cfg = sim_cfg_load_string(name, yaml, strlen(yaml), d);
    cr_assert_not_null(cfg, "%s", sim_diag_text(d));
    int rc = wl_mix_parse(d, sim_cfg_get(sim_cfg_root(cfg), "tokens"), out);
    sim_cfg_destroy(cfg);
    return rc;
}

Test(wl_mix, trace_column_has_the_files_moments)
{
    FILE *fp = fopen(tu_src("data/traces/azure-llm-2023-conversation.csv"), "r");
    cr_assert_not_null(fp);
    char line[256];
    double t, n = 0, s = 0, s2 = 0;
    int p, o;
    cr_assert_not_null(fgets(line, sizeof line, fp));
    while (fgets(line, sizeof line, fp) && sscanf(line, "%lf,%d,%d", &t, &p, &o) == 3) {
        n++;
        s += o;
        s2 += (double)o * o;
    }
    fclose(fp);
    double mean = s / n, var = s2 / n - mean * mean;
    sim_diag_t d;
    sim_diag_init(&d);
    sim_dist_t dist;
    cr_assert_eq(parse("tokens: {dist: trace, file: ../data/traces/azure-llm-2023-conversation.csv, column: num_decode_tokens}\n",
                       &dist, &d), 0, "%s", sim_diag_text(&d));
    cr_assert_float_eq(sim_dist_mean(&dist), mean, 1e-9 * mean);
    cr_assert_float_eq(sim_dist_variance(&dist), var, 1e-6 * var);
    sim_t *sim = tu_sim(5);
    sim_rng_t *r = sim_stream(sim, "t");
    double m = 0;
    int N = 200000;
    for (int i = 0; i < N; i++) m += sim_dist_sample(&dist, r);
    m /= N;
    cr_log_info("output tokens: file mean %.3f, sd %.3f; drawn mean %.3f", mean, sqrt(var), m);
    cr_assert(fabs(m - mean) < 4 * sqrt(var / N), "drawn mean %g, file mean %g", m, mean);
    sim_destroy(sim);
    sim_dist_fini(&dist);
    sim_diag_fini(&d);
}

Test(wl_mix, histogram_is_uniform_within_buckets)
{
    /* half the samples in (0, 100], a quarter in (100, 300], a quarter in (300, 1000] */
    sim_diag_t d;
    sim_diag_init(&d);
    sim_dist_t dist;
    cr_assert_eq(parse("tokens: {dist: histogram, le: [100, 300, 1000], counts: [50, 75, 100]}\n", &dist, &d), 0, "%s",
                 sim_diag_text(&d));
    double mean = 0.5 * 50 + 0.25 * 200 + 0.25 * 650;
    cr_assert_float_eq(sim_dist_mean(&dist), mean, 1e-9);
    sim_t *sim = tu_sim(5);
    sim_rng_t *r = sim_stream(sim, "t");
    int N = 100000, below100 = 0, below300 = 0;
    for (int i = 0; i < N; i++) {
        double x = sim_dist_sample(&dist, r);
        cr_assert(x >= 0 && x <= 1000);
        below100 += x <= 100;
        below300 += x <= 300;
    }
    cr_assert(fabs(below100 / (double)N - 0.5) < 0.01, "%d", below100);
    cr_assert(fabs(below300 / (double)N - 0.75) < 0.01, "%d", below300);
    sim_destroy(sim);
    sim_dist_fini(&dist);
    sim_diag_fini(&d);
}

static void expect_error(const char *yaml, const char *msg)
{
    sim_diag_t d;
    sim_diag_init(&d);
    sim_dist_t dist;
    cr_assert_neq(parse(yaml, &dist, &d), 0, "accepted %s", yaml);
    cr_assert(strstr(sim_diag_text(&d), msg), "expected '%s' in:\n%s", msg, sim_diag_text(&d));
    sim_diag_fini(&d);
}

Test(wl_mix, bad_input)
{
    expect_error("tokens: {dist: trace, file: ../data/traces/azure-llm-2023-code.csv, column: tokens}\n",
                 "column 'tokens' is not in");
    expect_error("tokens: {dist: trace, column: x}\n", "missing required key 'file'");
    expect_error("tokens: {dist: trace, file: nope.csv, column: x}\n", "cannot open");
    expect_error("tokens: {dist: histogram, le: [100, 300], counts: [50]}\n", "one count per bucket");
    expect_error("tokens: {dist: histogram, le: [100, 50], counts: [50, 60]}\n", "must increase");
    expect_error("tokens: {dist: histogram, le: [100, 300], counts: [50, 40]}\n", "cumulative");
    expect_error("tokens: {dist: histogram, le: [100, +Inf], counts: [50, 60]}\n", "+Inf bucket");
    expect_error("tokens: {dist: histogram, le: [100], counts: [0]}\n", "no samples");
}
