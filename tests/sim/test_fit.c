/* Maximum-likelihood fits (sim/fit.h): known parameters are recovered from
 * seeded synthetic samples and from the same samples binned into
 * Prometheus buckets; the goodness-of-fit statistics against their
 * closed forms. Tolerances: about 4 standard errors of the estimator at
 * the sample size used (n = 20000: the relative standard error of a shape
 * or a mean is about 1%). */
#include <criterion/criterion.h>
#include <gsl/gsl_randist.h>
#include <gsl/gsl_rng.h>
#include <math.h>
#include <stdlib.h>

#include "sim/fit.h"

#define N 20000

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* n draws of family f with parameters (a, b) in fit.h's meaning, sorted. */
static double *draw(sim_fit_family_t f, double a, double b, size_t n, unsigned long seed)
{
    gsl_rng *r = gsl_rng_alloc(gsl_rng_mt19937);
    gsl_rng_set(r, seed);
    double *x = malloc(n * sizeof *x);
    for (size_t i = 0; i < n; i++) {
        switch (f) {
        case SIM_FIT_EXPONENTIAL: x[i] = gsl_ran_exponential(r, a); break;
        case SIM_FIT_LOGNORMAL: x[i] = gsl_ran_lognormal(r, a, b); break;
        case SIM_FIT_GAMMA: x[i] = gsl_ran_gamma(r, a, b); break;
        default: x[i] = gsl_ran_weibull(r, b, a); break;
        }
    }
    gsl_rng_free(r);
    qsort(x, n, sizeof *x, cmp);
    return x;
}

#define near(got, want, rel) cr_assert(fabs((got) - (want)) <= (rel) * fabs(want), "%s = %g, want %g +- %g%%", #got, \
                                       (double)(got), (double)(want), 100.0 * (rel))

Test(fit, exponential_mean_recovered)
{
    double *x = draw(SIM_FIT_EXPONENTIAL, 0.120, 0, N, 1);
    sim_fit_t f;
    cr_assert_eq(sim_fit_samples(x, N, SIM_FIT_EXPONENTIAL, &f), 0);
    near(f.a, 0.120, 0.03);
    /* the MLE is the sample mean exactly */
    double s = 0;
    for (size_t i = 0; i < N; i++) s += x[i];
    cr_assert_float_eq(f.a, s / N, 1e-12 * f.a);
    cr_assert_float_eq(f.loglik, -N * log(f.a) - N, 1e-9 * fabs(f.loglik));
    free(x);
}

Test(fit, lognormal_mu_sigma_recovered)
{
    double *x = draw(SIM_FIT_LOGNORMAL, log(0.1), 0.6, N, 2);
    sim_fit_t f;
    cr_assert_eq(sim_fit_samples(x, N, SIM_FIT_LOGNORMAL, &f), 0);
    cr_assert(fabs(f.a - log(0.1)) < 4 * 0.6 / sqrt(N), "mu %g", f.a);
    near(f.b, 0.6, 0.03);
    near(sim_fit_mean(&f), 0.1 * exp(0.18), 0.03);
    near(sim_fit_cv(&f), sqrt(expm1(0.36)), 0.03);
    free(x);
}

Test(fit, gamma_shape_scale_recovered)
{
    double *x = draw(SIM_FIT_GAMMA, 2.5, 0.04, N, 3);
    sim_fit_t f;
    cr_assert_eq(sim_fit_samples(x, N, SIM_FIT_GAMMA, &f), 0);
    near(f.a, 2.5, 0.04);
    near(f.b, 0.04, 0.04);
    near(f.a * f.b, 0.1, 0.02);
    free(x);
}

Test(fit, weibull_shape_scale_recovered)
{
    double *x = draw(SIM_FIT_WEIBULL, 1.7, 0.25, N, 4);
    sim_fit_t f;
    cr_assert_eq(sim_fit_samples(x, N, SIM_FIT_WEIBULL, &f), 0);
    near(f.a, 1.7, 0.03);
    near(f.b, 0.25, 0.02);
    /* the MLE's stationarity: d logL / d scale = 0 gives scale^k = mean x^k */
    double s = 0;
    for (size_t i = 0; i < N; i++) s += pow(x[i], f.a);
    cr_assert_float_eq(pow(f.b, f.a), s / N, 1e-9 * s / N);
    free(x);
}

Test(fit, the_true_family_fits_best)
{
    /* by A2 and by AIC, the family the samples came from wins */
    struct { sim_fit_family_t f; double a, b; } c[] = {
        {SIM_FIT_LOGNORMAL, log(0.05), 0.9}, {SIM_FIT_GAMMA, 0.7, 0.2}, {SIM_FIT_WEIBULL, 3.0, 1.0}};
    for (int i = 0; i < 3; i++) {
        double *x = draw(c[i].f, c[i].a, c[i].b, N, 10 + (unsigned long)i);
        double best_ad = INFINITY, best_aic = INFINITY;
        int by_ad = -1, by_aic = -1;
        for (int f = 0; f < SIM_FIT_NFAMILIES; f++) {
            sim_fit_t fit;
            if (sim_fit_samples(x, N, f, &fit)) continue;
            double d, a2;
            sim_fit_gof(&fit, x, N, &d, &a2);
            if (a2 < best_ad) best_ad = a2, by_ad = f;
            if (fit.aic < best_aic) best_aic = fit.aic, by_aic = f;
        }
        cr_assert_eq(by_ad, (int)c[i].f, "case %d: A2 chose %s", i, sim_fit_family_name(by_ad));
        cr_assert_eq(by_aic, (int)c[i].f, "case %d: AIC chose %s", i, sim_fit_family_name(by_aic));
        free(x);
    }
}

Test(fit, gof_statistics_known_answers)
{
    /* uniform-looking points against an exponential: F(x_i) = (i - 0.5)/n
     * exactly gives D = 1/(2n) and A2 = the sum's closed form */
    enum { n = 4 };
    sim_fit_t f = {.family = SIM_FIT_EXPONENTIAL, .a = 1, .k = 1};
    double x[n], a = 0;
    for (int i = 0; i < n; i++) x[i] = -log(1 - (i + 0.5) / n);
    double d, a2;
    sim_fit_gof(&f, x, n, &d, &a2);
    cr_assert_float_eq(d, 1.0 / (2 * n), 1e-12);
    for (int i = 0; i < n; i++) a += (2.0 * i + 1) * (log((i + 0.5) / n) + log(1 - (n - 1 - i + 0.5) / n));
    cr_assert_float_eq(a2, -n - a / n, 1e-12);
    /* Kolmogorov: P(sqrt(n) D > 1.358) = 0.05 asymptotically */
    cr_assert_float_eq(sim_fit_ks_pvalue(1.358 / sqrt(1e8), 100000000), 0.05, 2e-3);
    cr_assert_float_eq(sim_fit_ks_pvalue(1.628 / sqrt(1e8), 100000000), 0.01, 5e-4);
}

/* Prometheus' default buckets (seconds), and the samples binned into them. */
static const double le[] = {.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10};
#define M (sizeof le / sizeof *le)

static void bin(const double *x, size_t n, double *cum)
{
    size_t i = 0;
    for (size_t j = 0; j < M; j++) {
        while (i < n && x[i] <= le[j]) i++;
        cum[j] = (double)i;
    }
}

Test(fit, buckets_recover_parameters)
{
    struct { sim_fit_family_t f; double a, b, tol; } c[] = {
        {SIM_FIT_EXPONENTIAL, 0.2, 0, 0.03},
        {SIM_FIT_LOGNORMAL, log(0.08), 0.7, 0.05},
        {SIM_FIT_GAMMA, 2.0, 0.05, 0.06},
        {SIM_FIT_WEIBULL, 1.5, 0.3, 0.05},
    };
    for (int i = 0; i < 4; i++) {
        double *x = draw(c[i].f, c[i].a, c[i].b, N, 20 + (unsigned long)i);
        double cum[M];
        bin(x, N, cum);
        sim_fit_t f;
        cr_assert_eq(sim_fit_buckets(le, cum, M, N, c[i].f, &f), 0, "case %d", i);
        if (c[i].f == SIM_FIT_LOGNORMAL) cr_assert(fabs(f.a - c[i].a) < 0.05, "mu %g want %g", f.a, c[i].a);
        else near(f.a, c[i].a, c[i].tol);
        if (c[i].f != SIM_FIT_EXPONENTIAL) near(f.b, c[i].b, c[i].tol);
        /* the fit is a maximum: nudging a parameter lowers the likelihood */
        double ll = sim_fit_buckets_loglik(&f, le, cum, M, N);
        cr_assert_float_eq(ll, f.loglik, 1e-9 * fabs(ll));
        for (int k = 0; k < f.k; k++)
            for (int s = -1; s <= 1; s += 2) {
                sim_fit_t g = f;
                *(k ? &g.b : &g.a) *= 1 + s * 1e-3;
                cr_assert_lt(sim_fit_buckets_loglik(&g, le, cum, M, N), ll, "case %d, parameter %d", i, k);
            }
        double chi2, p, gap;
        sim_fit_buckets_gof(&f, le, cum, M, N, &chi2, &p, &gap);
        cr_assert(p > 0.001, "case %d: the true family passes the chi-square test (p %g)", i, p);
        cr_assert_lt(gap, 0.01, "case %d", i);
        free(x);
    }
}

Test(fit, buckets_reject_bad_input)
{
    double cum[M] = {0};
    sim_fit_t f;
    /* all observations in the +Inf bucket: nothing to resolve */
    cr_assert_neq(sim_fit_buckets(le, cum, M, 100, SIM_FIT_LOGNORMAL, &f), 0);
    double bad_le[] = {1, 0.5};
    double c2[] = {10, 20};
    cr_assert_neq(sim_fit_buckets(bad_le, c2, 2, 30, SIM_FIT_GAMMA, &f), 0);
    double dec[] = {20, 10};
    double ok_le[] = {0.5, 1};
    cr_assert_neq(sim_fit_buckets(ok_le, dec, 2, 30, SIM_FIT_GAMMA, &f), 0);
    double x[] = {1, 1, 1};
    cr_assert_neq(sim_fit_samples(x, 3, SIM_FIT_LOGNORMAL, &f), 0, "all equal: no sigma");
    double neg[] = {-1, 1, 2};
    cr_assert_neq(sim_fit_samples(neg, 3, SIM_FIT_EXPONENTIAL, &f), 0);
}
