/* `ragsim fit`: seeded synthetic samples and buckets in, the known
 * distribution's mapping out (parsed back with the scenario parser), and
 * FILE:LINE:COL errors with exit status 2 for bad files. */
#include <criterion/criterion.h>
#include <gsl/gsl_randist.h>
#include <gsl/gsl_rng.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sim/cfg.h"
#include "sim/diag.h"
#include "sim/dist.h"
#include "testutil.h"

#define ragsim(...) tu_run((const char *const[]){RAGSIM_BINARY, __VA_ARGS__, NULL})

/* The mapping after "best: ...": the rest of the output, parsed as a scenario value. */
static void parse_best(const char *out, sim_dist_unit_t unit, sim_dist_t *d)
{
    const char *b = strstr(out, "\nbest: ");
    cr_assert(b, "no best line in:\n%s", out);
    b = strchr(b + 1, '\n');
    cr_assert(b);
    char yaml[8192];
    snprintf(yaml, sizeof yaml, "x: %s", b + 1);
    sim_diag_t diag;
    sim_diag_init(&diag);
    sim_cfg_t *cfg = sim_cfg_load_string("fit", yaml, strlen(yaml), &diag);
    cr_assert(cfg, "%s\n%s", yaml, sim_diag_text(&diag));
    cr_assert_eq(sim_dist_parse(&diag, sim_cfg_get(sim_cfg_root(cfg), "x"), unit, d), 0, "%s\n%s", yaml,
                 sim_diag_text(&diag));
    sim_cfg_destroy(cfg);
    sim_diag_fini(&diag);
}

Test(fit_cli, samples_in_ms_give_a_lognormal_mapping)
{
    /* lognormal, mean 120 ms, cv 0.6: 5000 samples */
    gsl_rng *r = gsl_rng_alloc(gsl_rng_mt19937);
    gsl_rng_set(r, 42);
    double s2 = log(1 + 0.36), mu = log(120) - s2 / 2;
    char *path = tu_tmp_path("fit-samples", ".csv");
    FILE *f = fopen(path, "w");
    fprintf(f, "timestamp,latency_ms\n");
    for (int i = 0; i < 5000; i++) fprintf(f, "%d,%.4f\n", i, gsl_ran_lognormal(r, mu, sqrt(s2)));
    fclose(f);
    gsl_rng_free(r);
    tu_run_t t = ragsim("fit", path, "--column", "latency_ms", "--unit", "ms");
    cr_assert_eq(t.status, 0, "%s", t.err);
    cr_assert(strstr(t.out, "5000 samples"), "%s", t.out);
    cr_assert(strstr(t.out, "best: lognormal"), "%s", t.out);
    sim_dist_t d;
    parse_best(t.out, SIM_DIST_DURATION, &d);
    /* within 3 standard errors: mean 120 ms x cv/sqrt(n) ~ 1 ms, cv ~ 2% */
    cr_assert(fabs(sim_dist_mean(&d) - 0.120) < 0.003, "mean %g s", sim_dist_mean(&d));
    cr_assert(fabs(sqrt(sim_dist_variance(&d)) / sim_dist_mean(&d) - 0.6) < 0.04, "cv");
    sim_dist_fini(&d);
    tu_run_free(&t);
    free(path);
}

Test(fit_cli, samples_without_a_unit_are_numbers)
{
    /* token counts, gamma shape 4 scale 50 (mean 200): a gamma mapping in plain numbers */
    gsl_rng *r = gsl_rng_alloc(gsl_rng_mt19937);
    gsl_rng_set(r, 5);
    char *path = tu_tmp_path("fit-tokens", ".csv");
    FILE *f = fopen(path, "w");
    for (int i = 0; i < 20000; i++) fprintf(f, "%.3f\n", gsl_ran_gamma(r, 4, 50));
    fclose(f);
    gsl_rng_free(r);
    tu_run_t t = ragsim("fit", path);
    cr_assert_eq(t.status, 0, "%s", t.err);
    cr_assert(strstr(t.out, "best: gamma"), "%s", t.out);
    sim_dist_t d;
    parse_best(t.out, SIM_DIST_NUMBER, &d);
    cr_assert(fabs(sim_dist_mean(&d) - 200) < 3, "mean %g", sim_dist_mean(&d));
    cr_assert(fabs(sim_dist_variance(&d) - 4 * 50 * 50) < 0.06 * 4 * 50 * 50, "variance %g", sim_dist_variance(&d));
    sim_dist_fini(&d);
    tu_run_free(&t);
    free(path);
}

/* Weibull shape 1.5 scale 0.3 s, 20000 samples binned into Prometheus' default buckets. */
static char *weibull_buckets(void)
{
    static const double le[] = {.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10};
    long cnt[11] = {0};
    gsl_rng *r = gsl_rng_alloc(gsl_rng_mt19937);
    gsl_rng_set(r, 9);
    for (int i = 0; i < 20000; i++) {
        double x = gsl_ran_weibull(r, 0.3, 1.5);
        for (int j = 0; j < 11; j++) cnt[j] += x <= le[j];
    }
    gsl_rng_free(r);
    char *path = tu_tmp_path("fit-buckets", ".csv");
    FILE *f = fopen(path, "w");
    fprintf(f, "le,count\n");
    for (int j = 0; j < 11; j++) fprintf(f, "%g,%ld\n", le[j], cnt[j]);
    fprintf(f, "+Inf,20000\n");
    fclose(f);
    return path;
}

Test(fit_cli, buckets_give_the_weibull_back)
{
    char *path = weibull_buckets();
    tu_run_t t = ragsim("fit", "--histogram", path, "--unit", "s");
    cr_assert_eq(t.status, 0, "%s", t.err);
    cr_assert(strstr(t.out, "20000 observations in 11 buckets"), "%s", t.out);
    cr_assert(strstr(t.out, "best: weibull"), "%s", t.out);
    double shape, scale;
    const char *m = strstr(t.out, "{dist: weibull, shape: ");
    cr_assert(m && sscanf(m, "{dist: weibull, shape: %lf, scale: %lfs}", &shape, &scale) == 2, "%s", t.out);
    cr_assert(fabs(shape - 1.5) < 0.05 * 1.5, "shape %g", shape);
    cr_assert(fabs(scale - 0.3) < 0.05 * 0.3, "scale %g", scale);
    sim_dist_t d;
    parse_best(t.out, SIM_DIST_DURATION, &d);
    sim_dist_fini(&d);
    tu_run_free(&t);
    free(path);
}

static void bad(const char *name, const char *text, const char *const *extra, const char *where, const char *expect)
{
    char *path = tu_tmp_path(name, ".csv");
    cr_assert_eq(tu_write_file(path, text), 0);
    const char *argv[12] = {RAGSIM_BINARY, "fit"};
    int n = 2;
    for (; extra && *extra; extra++) argv[n++] = *extra;
    argv[n++] = path;
    argv[n] = NULL;
    tu_run_t t = tu_run(argv);
    cr_assert_eq(t.status, 2, "%s: status %d, stderr %s", name, t.status, t.err);
    char want[512];
    snprintf(want, sizeof want, "%s%s: error: ", path, where);
    cr_assert(strstr(t.err, want), "%s: want '%s' in: %s", name, want, t.err);
    cr_assert(strstr(t.err, expect), "%s: want '%s' in: %s", name, expect, t.err);
    cr_assert_str_eq(t.out, "", "%s: nothing on stdout", name);
    tu_run_free(&t);
    free(path);
}

Test(fit_cli, bad_files_name_the_line_and_column)
{
    static const char *const hist[] = {"--histogram", NULL};
    static const char *const col[] = {"--column", "lat", NULL};
    bad("fit-bad-number", "ms\n1\n2\n-3\n", NULL, ":4:1", "expected a number > 0, got '-3'");
    bad("fit-bad-word", "a,b\n1,2\n1,abc\n", (const char *const[]){"--column", "b", NULL}, ":3:3",
        "expected a number > 0, got 'abc'");
    bad("fit-no-column", "x,y\n1,2\n", col, ":1:1", "no column 'lat' in the header (columns: 'x', 'y')");
    bad("fit-few", "ms\n1\n2\n", NULL, "", "2 samples: a fit needs at least 10");
    bad("fit-empty", "", NULL, "", "the file holds no samples");
    bad("fit-short-row", "a,b\n1,2\n3\n", (const char *const[]){"--column", "b", NULL}, ":3:2",
        "expected 2 columns, the line has 1");
    bad("fit-hist-order", "le,count\n0.1,5\n0.05,7\n+Inf,9\n", hist, ":3:1", "bucket bounds must increase");
    bad("fit-hist-cumulative", "le,count\n0.1,5\n0.2,3\n+Inf,9\n", hist, ":3:5", "counts must not decrease");
    bad("fit-hist-no-inf", "le,count\n0.1,5\n0.2,7\n", hist, ":3:1", "no le=+Inf bucket");
    bad("fit-hist-header", "bound,n\n0.1,5\n+Inf,9\n", hist, ":1:1", "expected a header naming the columns 'le' and 'count'");
    bad("fit-hist-after-inf", "le,count\n0.1,5\n+Inf,9\n0.2,9\n", hist, ":4:1", "a bucket after le=+Inf");
    bad("fit-hist-count", "le,count\n0.1,-5\n+Inf,9\n", hist, ":2:5", "expected a count >= 0, got '-5'");
    bad("fit-hist-one-bucket", "le,count\n0.1,0\n0.2,9\n+Inf,9\n", hist, "", "all observations fall in one bucket");
}

Test(fit_cli, usage_errors)
{
    tu_run_t t = ragsim("fit");
    cr_assert_eq(t.status, 2);
    cr_assert(strstr(t.err, "missing the samples file"), "%s", t.err);
    tu_run_free(&t);
    t = ragsim("fit", "x.csv", "--unit", "sec");
    cr_assert_eq(t.status, 2);
    cr_assert(strstr(t.err, "--unit expects ns, us, ms, s, min, h or none, got 'sec'"), "%s", t.err);
    tu_run_free(&t);
    t = ragsim("fit", "/nonexistent/x.csv");
    cr_assert_eq(t.status, 2);
    cr_assert(strstr(t.err, "/nonexistent/x.csv: error: cannot read the file"), "%s", t.err);
    tu_run_free(&t);
    t = ragsim("fit", "--help");
    cr_assert_eq(t.status, 0);
    cr_assert(strstr(t.out, "Anderson-Darling"));
    tu_run_free(&t);
}
