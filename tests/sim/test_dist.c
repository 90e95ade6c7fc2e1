/* Distributions: exact mean/variance formulas against hand-computed values,
 * sample moments against the formulas (z-tests), frequencies against exact
 * probabilities (chi-square), and parameter validation.
 *
 * Tolerances: a sample mean of N draws is within 5 sqrt(var/N) of the true
 * mean, and a sample variance within 5 sqrt((m4 - var^2)/N) of the true
 * variance (m4 estimated from the same draws), except with probability below
 * 1e-6 each; chi-square tests require a p-value above 1e-6. Seeds are fixed so
 * the suite is deterministic, but no bound depends on the seed. The test
 * moment_check_detects_a_one_percent_mean_error shows the bounds have power. */
#include <criterion/criterion.h>

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gsl/gsl_cdf.h>
#include <gsl/gsl_sf_zeta.h>

#include "sim/dist.h"
#include "sim/error.h"

#define N_DRAWS 1000000

static void seed_rng(sim_rng_t *r, const char *name) { sim_rng_init(r, sim_rng_stream_seed(2024, name, 0)); }

static double *draw(const sim_dist_t *d, const char *stream, size_t n)
{
    sim_rng_t r;
    seed_rng(&r, stream);
    double *x = malloc(n * sizeof *x);
    cr_assert_not_null(x);
    for (size_t i = 0; i < n; i++) x[i] = sim_dist_sample(d, &r);
    return x;
}

/* z-test of the sample mean and variance of N draws against mu and s2.
 * Returns true when both are within 5 standard errors; *why says what failed. */
static bool moments_ok(const sim_dist_t *d, double mu, double s2, const char *stream, size_t n,
                       char *why, size_t whylen)
{
    double *x = draw(d, stream, n);
    double mean = 0, m2 = 0, m4 = 0;
    for (size_t i = 0; i < n; i++) mean += x[i];
    mean /= (double)n;
    for (size_t i = 0; i < n; i++) {
        double e = (x[i] - mean) * (x[i] - mean);
        m2 += e;
        m4 += e * e;
    }
    free(x);
    double var = m2 / (double)(n - 1);
    m4 /= (double)n;
    double se_mean = sqrt(s2 / (double)n);
    double se_var = sqrt(fmax(m4 - var * var, 0.0) / (double)n);
    bool ok_mean = fabs(mean - mu) <= 5 * se_mean;
    bool ok_var = fabs(var - s2) <= 5 * se_var + 1e-12 * s2;
    snprintf(why, whylen, "%s: sample mean %.9g vs %.9g (se %.3g), variance %.9g vs %.9g (se %.3g)",
             sim_dist_name(d), mean, mu, se_mean, var, s2, se_var);
    return ok_mean && ok_var;
}

static void check_moments(const sim_dist_t *d, const char *stream)
{
    char why[512];
    bool ok = moments_ok(d, sim_dist_mean(d), sim_dist_variance(d), stream, N_DRAWS, why,
                         sizeof why);
    cr_assert(ok, "%s", why);
}

/* Relative comparison for exact formulas. */
#define assert_close(got, want, rel)                                                             \
    cr_assert(fabs((got) - (want)) <= (rel) * fabs(want), "%s = %.17g, want %.17g", #got,       \
              (double)(got), (double)(want))

/* chi-square p-value of observed counts vs probabilities over k bins. */
static double chi2_p(const uint64_t *count, const double *prob, size_t k, uint64_t n)
{
    double chi2 = 0;
    for (size_t i = 0; i < k; i++) {
        double e = prob[i] * (double)n;
        chi2 += ((double)count[i] - e) * ((double)count[i] - e) / e;
    }
    return gsl_cdf_chisq_Q(chi2, (double)(k - 1));
}

/* Number of x[i] outside [lo, hi]; *first gets the first such value. One
 * assertion per test instead of one per draw keeps --full-stats runs fast. */
static size_t count_outside(const double *x, size_t n, double lo, double hi, double *first)
{
    size_t bad = 0;
    for (size_t i = 0; i < n; i++)
        if (!(x[i] >= lo && x[i] <= hi) && bad++ == 0) *first = x[i];
    return bad;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* ---- The moment check itself ------------------------------------------------ */
Test(dist, moment_check_detects_a_one_percent_mean_error)
{
    sim_dist_t d;
    char why[512];
    cr_assert_eq(sim_dist_exponential(&d, 1.0), 0);
    cr_assert(moments_ok(&d, 1.0, 1.0, "power", N_DRAWS, why, sizeof why), "%s", why);
    cr_assert(!moments_ok(&d, 1.01, 1.0, "power", N_DRAWS, why, sizeof why), "%s", why);
    cr_assert(!moments_ok(&d, 1.0, 1.03, "power", N_DRAWS, why, sizeof why), "%s", why);
}

/* ---- exponential ------------------------------------------------------------ */
Test(dist, exponential_formulas)
{
    sim_dist_t d;
    cr_assert_eq(sim_dist_exponential(&d, 0.02), 0);
    cr_assert_str_eq(sim_dist_name(&d), "exponential");
    assert_close(sim_dist_mean(&d), 0.02, 1e-15);
    assert_close(sim_dist_variance(&d), 0.0004, 1e-15);
}

Test(dist, exponential_sample_moments_match)
{
    sim_dist_t d;
    sim_dist_exponential(&d, 0.02);
    check_moments(&d, "exponential");
}

Test(dist, exponential_samples_are_positive_and_memoryless)
{
    sim_dist_t d;
    sim_dist_exponential(&d, 2.0);
    double *x = draw(&d, "exp-tail", N_DRAWS);
    /* P(X > 2) = e^-1; P(X > 4 | X > 2) = e^-1. */
    size_t over2 = 0, over4 = 0;
    double first = 0;
    size_t bad = count_outside(x, N_DRAWS, 0.0, INFINITY, &first);
    cr_assert_eq(bad, 0, "%zu negative samples, first %g", bad, first);
    for (size_t i = 0; i < N_DRAWS; i++) {
        over2 += x[i] > 2.0;
        over4 += x[i] > 4.0;
    }
    free(x);
    double p = exp(-1.0), f2 = (double)over2 / N_DRAWS, c = (double)over4 / (double)over2;
    cr_assert(fabs(f2 - p) < 5 * sqrt(p * (1 - p) / N_DRAWS), "P(X>2) %g", f2);
    cr_assert(fabs(c - p) < 5 * sqrt(p * (1 - p) / (double)over2), "P(X>4|X>2) %g", c);
}

/* ---- deterministic ---------------------------------------------------------- */
Test(dist, deterministic_returns_its_value)
{
    sim_dist_t d;
    sim_rng_t r;
    seed_rng(&r, "det");
    cr_assert_eq(sim_dist_deterministic(&d, 0.125), 0);
    cr_assert_str_eq(sim_dist_name(&d), "deterministic");
    uint64_t before = r.s[0];
    for (int i = 0; i < 100; i++) cr_assert_eq(sim_dist_sample(&d, &r), 0.125);
    cr_assert_eq(r.s[0], before, "a constant must not consume random numbers");
    cr_assert_eq(sim_dist_mean(&d), 0.125);
    cr_assert_eq(sim_dist_variance(&d), 0.0);
}

/* ---- uniform ---------------------------------------------------------------- */
Test(dist, uniform_formulas_and_range)
{
    sim_dist_t d;
    cr_assert_eq(sim_dist_uniform(&d, 2.0, 5.0), 0);
    assert_close(sim_dist_mean(&d), 3.5, 1e-15);
    assert_close(sim_dist_variance(&d), 0.75, 1e-15);
    double *x = draw(&d, "uniform", N_DRAWS);
    double first = 0, top = 0;
    size_t bad = count_outside(x, N_DRAWS, 2.0, 5.0, &first);
    for (size_t i = 0; i < N_DRAWS; i++) top = fmax(top, x[i]);
    cr_assert_eq(bad, 0, "%zu samples outside [2, 5], first %g", bad, first);
    cr_assert(top < 5.0, "max %g must be below 5", top);
    free(x);
    check_moments(&d, "uniform");
    cr_assert_eq(sim_dist_uniform(&d, 4.0, 4.0), 0);
    sim_rng_t r;
    seed_rng(&r, "u2");
    cr_assert_eq(sim_dist_sample(&d, &r), 4.0);
}

/* ---- normal ----------------------------------------------------------------- */
Test(dist, normal_untruncated_moments)
{
    sim_dist_t d;
    cr_assert_eq(sim_dist_normal(&d, -3.0, 2.0, false), 0);
    cr_assert_str_eq(sim_dist_name(&d), "normal");
    cr_assert_eq(sim_dist_mean(&d), -3.0);
    cr_assert_eq(sim_dist_variance(&d), 4.0);
    check_moments(&d, "normal");
}

/* mean 1, sd 1: alpha = -1, lambda = phi(-1)/Phi(1) = 0.24197072451914337 /
 * 0.84134474606854293 = 0.28759997093917826; mean 1 + lambda,
 * variance 1 - lambda - lambda^2. */
Test(dist, truncated_normal_mean_1_sd_1_formulas)
{
    sim_dist_t d;
    cr_assert_eq(sim_dist_normal(&d, 1.0, 1.0, true), 0);
    assert_close(sim_dist_mean(&d), 1.2875999709391783, 1e-13);
    assert_close(sim_dist_variance(&d), 0.6296862857766055, 1e-13);
}

Test(dist, truncated_normal_samples_are_nonnegative_with_exact_moments)
{
    sim_dist_t d;
    cr_assert_eq(sim_dist_normal(&d, 1.0, 1.0, true), 0);
    double *x = draw(&d, "tnormal", N_DRAWS);
    double first = 0;
    size_t bad = count_outside(x, N_DRAWS, 0.0, INFINITY, &first);
    cr_assert_eq(bad, 0, "%zu negative samples, first %g", bad, first);
    free(x);
    check_moments(&d, "tnormal");
}

/* mean < 0 uses the tail sampler (plain rejection would accept 2.3%). */
Test(dist, truncated_normal_negative_mean_uses_tail_and_matches_moments)
{
    sim_dist_t d;
    cr_assert_eq(sim_dist_normal(&d, -2.0, 1.0, true), 0);
    double *x = draw(&d, "tnormal-tail", N_DRAWS);
    double first = 0;
    size_t bad = count_outside(x, N_DRAWS, 0.0, INFINITY, &first);
    cr_assert_eq(bad, 0, "%zu negative samples, first %g", bad, first);
    free(x);
    check_moments(&d, "tnormal-tail");
    cr_assert_eq(sim_dist_normal(&d, -0.5, 2.0, true), 0);   /* a/sigma < 1: rejection branch */
    check_moments(&d, "tnormal-tail2");
}

Test(dist, truncated_normal_rejects_mean_below_minus_3_sd)
{
    sim_dist_t d;
    cr_assert_eq(sim_dist_normal(&d, -3.0, 1.0, true), 0);
    cr_assert_eq(sim_dist_normal(&d, -3.01, 1.0, true), SIM_EINVAL);
    cr_assert_eq(sim_dist_normal(&d, -1.0, 0.0, true), SIM_EINVAL);
    cr_assert_eq(sim_dist_normal(&d, -3.01, 1.0, false), 0);   /* untruncated: any mean */
}

Test(dist, truncated_normal_sd_0_is_the_mean)
{
    sim_dist_t d;
    sim_rng_t r;
    seed_rng(&r, "tn0");
    cr_assert_eq(sim_dist_normal(&d, 2.5, 0.0, true), 0);
    cr_assert_eq(sim_dist_mean(&d), 2.5);
    cr_assert_eq(sim_dist_variance(&d), 0.0);
    cr_assert_eq(sim_dist_sample(&d, &r), 2.5);
}

/* ---- lognormal -------------------------------------------------------------- */
Test(dist, lognormal_mean_2_cv_half_has_variance_1)
{
    sim_dist_t d;
    cr_assert_eq(sim_dist_lognormal(&d, 2.0, 0.5), 0);
    cr_assert_str_eq(sim_dist_name(&d), "lognormal");
    assert_close(sim_dist_mean(&d), 2.0, 1e-15);
    assert_close(sim_dist_variance(&d), 1.0, 1e-15);
}

Test(dist, lognormal_sample_moments_match_mean_and_cv)
{
    sim_dist_t d;
    sim_dist_lognormal(&d, 2.0, 0.5);
    check_moments(&d, "lognormal");
    sim_dist_lognormal(&d, 0.08, 1.0);
    check_moments(&d, "lognormal2");
}

/* The median is exp(mu) = mean / sqrt(1 + cv^2) = 2 / sqrt(1.25). */
Test(dist, lognormal_median_is_mean_over_sqrt_1_plus_cv2)
{
    sim_dist_t d;
    sim_dist_lognormal(&d, 2.0, 0.5);
    double *x = draw(&d, "lognormal-median", N_DRAWS);
    size_t below = 0;
    double med = 2.0 / sqrt(1.25);
    for (size_t i = 0; i < N_DRAWS; i++) below += x[i] < med;
    free(x);
    double f = (double)below / N_DRAWS;
    cr_assert(fabs(f - 0.5) < 5 * sqrt(0.25 / N_DRAWS), "P(X < median) = %g", f);
}

/* ---- gamma ------------------------------------------------------------------ */
Test(dist, gamma_formulas_and_sample_moments)
{
    sim_dist_t d;
    cr_assert_eq(sim_dist_gamma(&d, 2.0, 0.5), 0);
    cr_assert_str_eq(sim_dist_name(&d), "gamma");
    assert_close(sim_dist_mean(&d), 1.0, 1e-15);
    assert_close(sim_dist_variance(&d), 0.5, 1e-15);
    check_moments(&d, "gamma");
    cr_assert_eq(sim_dist_gamma(&d, 0.3, 2.0), 0);   /* shape < 1 path */
    check_moments(&d, "gamma-small-shape");
}

Test(dist, gamma_by_mean_and_cv)
{
    sim_dist_t d;
    cr_assert_eq(sim_dist_gamma_mean_cv(&d, 3.0, 0.5), 0);   /* shape 4, scale 0.75 */
    assert_close(sim_dist_mean(&d), 3.0, 1e-15);
    assert_close(sim_dist_variance(&d), 2.25, 1e-15);
    check_moments(&d, "gamma-cv");
    cr_assert_eq(sim_dist_gamma_mean_cv(&d, 3.0, 0.0), SIM_EINVAL);
    cr_assert_eq(sim_dist_gamma_mean_cv(&d, -3.0, 0.5), SIM_EINVAL);
}

/* ---- weibull ---------------------------------------------------------------- */
/* shape 2, scale 1: mean Gamma(1.5) = sqrt(pi)/2, variance 1 - pi/4. */
Test(dist, weibull_shape_2_formulas)
{
    sim_dist_t d;
    cr_assert_eq(sim_dist_weibull(&d, 2.0, 1.0), 0);
    cr_assert_str_eq(sim_dist_name(&d), "weibull");
    assert_close(sim_dist_mean(&d), 0.8862269254527579, 1e-14);
    assert_close(sim_dist_variance(&d), 0.21460183660255172, 1e-13);
    cr_assert_eq(sim_dist_weibull(&d, 1.0, 3.0), 0);   /* exponential with mean 3 */
    assert_close(sim_dist_mean(&d), 3.0, 1e-14);
    assert_close(sim_dist_variance(&d), 9.0, 1e-14);
}

Test(dist, weibull_sample_moments_match)
{
    sim_dist_t d;
    sim_dist_weibull(&d, 2.0, 1.0);
    check_moments(&d, "weibull");
    sim_dist_weibull(&d, 0.7, 0.01);
    check_moments(&d, "weibull-heavy");
}

/* ---- bounded Pareto --------------------------------------------------------- */
/* alpha 1.5, L 1, H 100: c = 1 - 100^-1.5 = 0.999;
 * E[X] = 1.5/0.999 * (1 - 100^-0.5)/0.5 = 2.7/0.999 = 100/37;
 * E[X^2] = 1.5/0.999 * (100^0.5 - 1)/0.5 = 27/0.999 = 1000/37;
 * variance 1000/37 - (100/37)^2 = 27000/1369. */
Test(dist, bounded_pareto_alpha_1_5_formulas)
{
    sim_dist_t d;
    cr_assert_eq(sim_dist_bounded_pareto(&d, 1.5, 1.0, 100.0), 0);
    cr_assert_str_eq(sim_dist_name(&d), "bounded_pareto");
    assert_close(sim_dist_mean(&d), 100.0 / 37.0, 1e-14);
    assert_close(sim_dist_variance(&d), 27000.0 / 1369.0, 1e-13);
}

/* alpha 1: c = 0.99, E[X] = ln(100)/0.99, E[X^2] = (100 - 1)/0.99 = 100.
 * alpha 2: c = 0.9999, E[X] = 2 * 0.99/0.9999 = 200/101,
 *          E[X^2] = 2 ln(100)/0.9999. */
Test(dist, bounded_pareto_alpha_1_and_2_special_cases)
{
    sim_dist_t d;
    cr_assert_eq(sim_dist_bounded_pareto(&d, 1.0, 1.0, 100.0), 0);
    assert_close(sim_dist_mean(&d), 4.651687056553628, 1e-14);
    assert_close(sim_dist_variance(&d), 78.36180752789144, 1e-13);
    cr_assert_eq(sim_dist_bounded_pareto(&d, 2.0, 1.0, 100.0), 0);
    assert_close(sim_dist_mean(&d), 200.0 / 101.0, 1e-14);
    assert_close(sim_dist_variance(&d), 5.290077300498313, 1e-13);
}

Test(dist, bounded_pareto_moments_are_continuous_near_alpha_1_and_2)
{
    const double alphas[] = {1.0, 2.0};
    for (int i = 0; i < 2; i++) {
        sim_dist_t d0, d;
        sim_dist_bounded_pareto(&d0, alphas[i], 2.0, 5000.0);
        for (double eps = 1e-12; eps < 1e-5; eps *= 10) {
            for (int sgn = -1; sgn <= 1; sgn += 2) {
                cr_assert_eq(sim_dist_bounded_pareto(&d, alphas[i] + sgn * eps, 2.0, 5000.0), 0);
                /* derivatives in alpha are O(log^2 r), r = 2500: a few tens */
                assert_close(sim_dist_mean(&d), sim_dist_mean(&d0), 100 * eps + 1e-13);
                assert_close(sim_dist_variance(&d), sim_dist_variance(&d0), 100 * eps + 1e-13);
            }
        }
    }
}

Test(dist, bounded_pareto_samples_in_range_with_exact_moments)
{
    sim_dist_t d;
    sim_dist_bounded_pareto(&d, 1.5, 1.0, 100.0);
    double *x = draw(&d, "bpareto", N_DRAWS);
    size_t over10 = 0;
    double first = 0;
    size_t bad = count_outside(x, N_DRAWS, 1.0, 100.0, &first);
    cr_assert_eq(bad, 0, "%zu samples outside [1, 100], first %g", bad, first);
    for (size_t i = 0; i < N_DRAWS; i++) over10 += x[i] > 10.0;
    free(x);
    /* P(X > 10) = (10^-1.5 - 100^-1.5)/0.999 */
    double p = (pow(10.0, -1.5) - 0.001) / 0.999, f = (double)over10 / N_DRAWS;
    cr_assert(fabs(f - p) < 5 * sqrt(p * (1 - p) / N_DRAWS), "P(X>10) = %g, want %g", f, p);
    check_moments(&d, "bpareto");
    sim_dist_bounded_pareto(&d, 1.0, 0.001, 10.0);
    check_moments(&d, "bpareto-1");
}

/* ---- empirical -------------------------------------------------------------- */
Test(dist, empirical_discrete_formulas)
{
    const double v[] = {1, 5, 20}, w[] = {0.7, 0.2, 0.1};
    sim_dist_t d;
    cr_assert_eq(sim_dist_empirical(&d, v, w, 3, false), 0);
    cr_assert_str_eq(sim_dist_name(&d), "empirical");
    /* mean 0.7 + 1 + 2 = 3.7; E[X^2] = 0.7 + 5 + 40 = 45.7; var 45.7 - 13.69 */
    assert_close(sim_dist_mean(&d), 3.7, 1e-15);
    assert_close(sim_dist_variance(&d), 32.01, 1e-14);
    check_moments(&d, "empirical");
    sim_dist_fini(&d);
    cr_assert_null(d.table);
}

Test(dist, empirical_discrete_returns_only_given_values_with_right_frequencies)
{
    /* Unnormalised weights, a zero-weight value inside and one at the end. */
    const double v[] = {3, 1, 7, 2, 9}, w[] = {2, 5, 0, 3, 0};
    const double prob[] = {0.2, 0.5, 0.3};   /* of 3, 1, 2 */
    sim_dist_t d;
    cr_assert_eq(sim_dist_empirical(&d, v, w, 5, false), 0);
    double *x = draw(&d, "empirical-freq", N_DRAWS);
    uint64_t count[3] = {0}, other = 0;
    double first = 0;
    for (size_t i = 0; i < N_DRAWS; i++) {
        if (x[i] == 3) count[0]++;
        else if (x[i] == 1) count[1]++;
        else if (x[i] == 2) count[2]++;
        else if (other++ == 0) first = x[i];
    }
    free(x);
    cr_assert_eq(other, 0, "%lu draws of values without positive weight, first %g",
                 (unsigned long)other, first);
    double p = chi2_p(count, prob, 3, N_DRAWS);
    cr_assert(p > 1e-6, "chi-square p = %g (%lu %lu %lu)", p, (unsigned long)count[0],
              (unsigned long)count[1], (unsigned long)count[2]);
    sim_dist_fini(&d);
}

Test(dist, empirical_single_value)
{
    const double v[] = {42}, w[] = {1};
    sim_dist_t d;
    sim_rng_t r;
    seed_rng(&r, "emp1");
    cr_assert_eq(sim_dist_empirical(&d, v, w, 1, false), 0);
    int bad = 0;
    for (int i = 0; i < 1000; i++) bad += sim_dist_sample(&d, &r) != 42.0;
    cr_assert_eq(bad, 0);
    cr_assert_eq(sim_dist_mean(&d), 42.0);
    cr_assert_eq(sim_dist_variance(&d), 0.0);
    sim_dist_fini(&d);
}

/* CDF through (0,0), (1,0.5), (3,1): uniform on [0,1] or on [1,3] with
 * probability 1/2 each. mean 0.25 + 1 = 1.25; E[X^2] = 1/6 + 13/6 = 7/3;
 * variance 7/3 - 25/16 = 37/48. Quantile: 2q below 1/2, 4q - 1 above. */
Test(dist, empirical_interpolated_formulas)
{
    const double v[] = {0, 1, 3}, w[] = {0, 0.5, 0.5};
    sim_dist_t d;
    cr_assert_eq(sim_dist_empirical(&d, v, w, 3, true), 0);
    assert_close(sim_dist_mean(&d), 1.25, 1e-15);
    assert_close(sim_dist_variance(&d), 37.0 / 48.0, 1e-15);
    check_moments(&d, "interp");
    sim_dist_fini(&d);
}

Test(dist, empirical_interpolated_quantiles_match_cdf)
{
    const double v[] = {0, 1, 3}, w[] = {0, 0.5, 0.5};
    sim_dist_t d;
    cr_assert_eq(sim_dist_empirical(&d, v, w, 3, true), 0);
    double *x = draw(&d, "interp-q", N_DRAWS);
    double first = 0;
    size_t bad = count_outside(x, N_DRAWS, 0.0, 3.0, &first);
    cr_assert_eq(bad, 0, "%zu samples outside [0, 3], first %g", bad, first);
    qsort(x, N_DRAWS, sizeof x[0], cmp_double);
    const double qs[] = {0.01, 0.1, 0.25, 0.4, 0.6, 0.75, 0.9, 0.99};
    for (size_t i = 0; i < sizeof qs / sizeof qs[0]; i++) {
        double q = qs[i];
        double want = q <= 0.5 ? 2 * q : 4 * q - 1, dens = q <= 0.5 ? 0.5 : 0.25;
        double got = x[(size_t)ceil(q * N_DRAWS) - 1];
        /* sd of a sample quantile: sqrt(q(1-q)/N) / density */
        double se = sqrt(q * (1 - q) / N_DRAWS) / dens;
        cr_assert(fabs(got - want) < 5 * se, "q %g: %g vs %g", q, got, want);
    }
    free(x);
    sim_dist_fini(&d);
}

/* Repeated values make an atom: CDF jumps to 1/2 at 1, then rises to 1 at 2;
 * zero-weight segments are never used. */
Test(dist, empirical_interpolated_repeated_value_is_an_atom)
{
    const double v[] = {0, 1, 1, 2, 5}, w[] = {0, 0, 1, 1, 0};
    sim_dist_t d;
    cr_assert_eq(sim_dist_empirical(&d, v, w, 5, true), 0);
    assert_close(sim_dist_mean(&d), 1.25, 1e-15);       /* 0.5 * 1 + 0.5 * 1.5 */
    assert_close(sim_dist_variance(&d), 0.5 * (1.0 / 12 + 0.0625) + 0.5 * 0.0625, 1e-15);
    double *x = draw(&d, "interp-atom", N_DRAWS);
    size_t ones = 0;
    double first = 0;
    size_t bad = count_outside(x, N_DRAWS, 1.0, 2.0, &first);
    cr_assert_eq(bad, 0, "%zu samples outside [1, 2], first %g", bad, first);
    for (size_t i = 0; i < N_DRAWS; i++) ones += x[i] == 1.0;
    free(x);
    double f = (double)ones / N_DRAWS;
    cr_assert(fabs(f - 0.5) < 5 * sqrt(0.25 / N_DRAWS), "P(X = 1) = %g", f);
    check_moments(&d, "interp-atom");
    sim_dist_fini(&d);
}

/* ---- zipf ------------------------------------------------------------------- */
static double zipf_norm(size_t n, double s)
{
    long double z = 0;
    for (size_t k = n; k >= 1; k--) z += powl((long double)k, -(long double)s);
    return (double)z;
}

/* Chi-square of zipf(n, s) draws over bins [edge[i], edge[i+1]). */
static void check_zipf_bins(size_t n, double s, const size_t *edge, size_t nbins,
                            const char *stream)
{
    sim_dist_t d;
    cr_assert_eq(sim_dist_zipf(&d, n, s), 0);
    double z = zipf_norm(n, s);
    double prob[16] = {0};
    uint64_t count[16] = {0};
    for (size_t b = 0; b < nbins; b++)
        for (size_t k = edge[b]; k < edge[b + 1]; k++) prob[b] += pow((double)k, -s) / z;
    sim_rng_t r;
    seed_rng(&r, stream);
    uint64_t bad = 0;
    double first = 0;
    for (int i = 0; i < N_DRAWS; i++) {
        double k = sim_dist_sample(&d, &r);
        if (!(k >= 1 && k <= (double)n && k == floor(k))) {
            if (bad++ == 0) first = k;
            continue;
        }
        size_t b = 0;
        while (k >= (double)edge[b + 1]) b++;
        count[b]++;
    }
    cr_assert_eq(bad, 0, "%lu keys outside 1..%zu or not integral, first %g", (unsigned long)bad,
                 n, first);
    double p = chi2_p(count, prob, nbins, N_DRAWS);
    cr_assert(p > 1e-6, "zipf n %zu s %g: chi-square p = %g (P(1) %g, seen %g)", n, s, p, prob[0],
              (double)count[0] / N_DRAWS);
}

Test(dist, zipf_n1000_s1_1_key_frequencies_match_pmf)
{
    const size_t edge[] = {1, 2, 3, 4, 5, 6, 11, 101, 1001};
    check_zipf_bins(1000, 1.1, edge, 8, "zipf-1000");
}

Test(dist, zipf_n10_s0_5_and_s1_key_frequencies_match_pmf)
{
    const size_t edge[] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11};
    check_zipf_bins(10, 0.5, edge, 10, "zipf-10-0.5");
    check_zipf_bins(10, 1.0, edge, 10, "zipf-10-1");
    check_zipf_bins(10, 3.0, edge, 10, "zipf-10-3");
}

Test(dist, zipf_small_exact_formulas)
{
    sim_dist_t d;
    /* n 3, s 1: Z = 11/6, mean 3/Z = 18/11, E[X^2] = 6/Z = 36/11, var 72/121 */
    cr_assert_eq(sim_dist_zipf(&d, 3, 1.0), 0);
    cr_assert_str_eq(sim_dist_name(&d), "zipf");
    assert_close(sim_dist_mean(&d), 18.0 / 11.0, 1e-15);
    assert_close(sim_dist_variance(&d), 72.0 / 121.0, 1e-14);
    /* n 2, s 2: P(1) = 4/5, P(2) = 1/5: mean 6/5, var 4/25 */
    cr_assert_eq(sim_dist_zipf(&d, 2, 2.0), 0);
    assert_close(sim_dist_mean(&d), 1.2, 1e-15);
    assert_close(sim_dist_variance(&d), 0.16, 1e-14);
    cr_assert_eq(sim_dist_zipf(&d, 1, 1.5), 0);
    cr_assert_eq(sim_dist_mean(&d), 1.0);
    cr_assert_eq(sim_dist_variance(&d), 0.0);
    sim_rng_t r;
    seed_rng(&r, "zipf1");
    int bad = 0;
    for (int i = 0; i < 1000; i++) bad += sim_dist_sample(&d, &r) != 1.0;
    cr_assert_eq(bad, 0);
}

Test(dist, zipf_sample_moments_match)
{
    sim_dist_t d;
    sim_dist_zipf(&d, 1000, 1.1);
    check_moments(&d, "zipf-moments");
    sim_dist_zipf(&d, 100, 0.5);
    check_moments(&d, "zipf-moments-2");
}

/* Above 1e4 keys the moments use Euler-Maclaurin; compare with direct
 * sums, from just above the switch to well above it. */
static void zipf_moments_match_direct_sums(size_t n)
{
    const double ss[3] = {0.6, 1.0, 1.3};
    long double z[3] = {0}, m1[3] = {0}, m2[3] = {0};
    for (size_t k = n; k >= 1; k--) {
        double lk = log((double)k);
        for (int j = 0; j < 3; j++) {
            long double t = exp(-ss[j] * lk);   /* term to 1 ulp, summed in long double */
            z[j] += t;
            m1[j] += t * (long double)k;
            m2[j] += t * (long double)k * (long double)k;
        }
    }
    for (int j = 0; j < 3; j++) {
        long double mean = m1[j] / z[j], var = m2[j] / z[j] - mean * mean;
        sim_dist_t d;
        cr_assert_eq(sim_dist_zipf(&d, n, ss[j]), 0);
        assert_close(sim_dist_mean(&d), (double)mean, 1e-13);
        assert_close(sim_dist_variance(&d), (double)var, 1e-13);
    }
}

Test(dist, zipf_large_n_moments_match_direct_sums)
{
    zipf_moments_match_direct_sums(10001);      /* just past the exact sums */
    zipf_moments_match_direct_sums(1000000);    /* the default query mix's million keys */
    zipf_moments_match_direct_sums(10000001);
}

/* n = 1e12 keys, no table: P(k) = k^-s / (zeta(s) - hzeta(s, n+1)). */
Test(dist, zipf_huge_n_key_frequencies_match_pmf)
{
    const size_t n = 1000000000000ULL;
    const double s = 1.2;
    sim_dist_t d;
    cr_assert_eq(sim_dist_zipf(&d, n, s), 0);
    double z = gsl_sf_zeta(s) - gsl_sf_hzeta(s, (double)n + 1.0);
    double prob[6];
    uint64_t count[6] = {0};
    prob[5] = 1.0;
    for (int k = 1; k <= 5; k++) {
        prob[k - 1] = pow(k, -s) / z;
        prob[5] -= prob[k - 1];
    }
    sim_rng_t r;
    seed_rng(&r, "zipf-huge");
    uint64_t bad = 0;
    double first = 0;
    for (int i = 0; i < N_DRAWS; i++) {
        double k = sim_dist_sample(&d, &r);
        if (!(k >= 1 && k <= (double)n && k == floor(k))) {
            if (bad++ == 0) first = k;
            continue;
        }
        count[k <= 5 ? (int)k - 1 : 5]++;
    }
    cr_assert_eq(bad, 0, "%lu keys outside 1..n or not integral, first %g", (unsigned long)bad,
                 first);
    double p = chi2_p(count, prob, 6, N_DRAWS);
    cr_assert(p > 1e-6, "chi-square p = %g", p);
}

/* ---- bernoulli -------------------------------------------------------------- */
Test(dist, bernoulli_frequency_matches_p)
{
    sim_dist_t d;
    cr_assert_eq(sim_dist_bernoulli(&d, 0.3), 0);
    cr_assert_str_eq(sim_dist_name(&d), "bernoulli");
    assert_close(sim_dist_mean(&d), 0.3, 1e-15);
    assert_close(sim_dist_variance(&d), 0.21, 1e-15);
    double *x = draw(&d, "bernoulli", N_DRAWS);
    size_t ones = 0, other = 0;
    for (size_t i = 0; i < N_DRAWS; i++) {
        ones += x[i] == 1.0;
        other += x[i] != 0.0 && x[i] != 1.0;
    }
    cr_assert_eq(other, 0, "%zu samples neither 0 nor 1", other);
    free(x);
    double f = (double)ones / N_DRAWS;
    cr_assert(fabs(f - 0.3) < 5 * sqrt(0.21 / N_DRAWS), "frequency %g", f);
}

Test(dist, bernoulli_0_and_1_are_certain)
{
    sim_dist_t d0, d1;
    sim_rng_t r;
    seed_rng(&r, "bern01");
    cr_assert_eq(sim_dist_bernoulli(&d0, 0.0), 0);
    cr_assert_eq(sim_dist_bernoulli(&d1, 1.0), 0);
    int bad = 0;
    for (int i = 0; i < 100000; i++) {
        bad += sim_dist_sample(&d0, &r) != 0.0;
        bad += sim_dist_sample(&d1, &r) != 1.0;
    }
    cr_assert_eq(bad, 0);
}

/* ---- inverse-CDF samplers: one uniform per draw, exact transform ----------- */
Test(dist, inverse_cdf_samplers_transform_one_uniform_each)
{
    sim_dist_t ex, un, wb, bp, be, em;
    const double v[] = {10, 20, 30}, w[] = {1, 2, 1};
    cr_assert_eq(sim_dist_exponential(&ex, 0.5), 0);
    cr_assert_eq(sim_dist_uniform(&un, -1.0, 3.0), 0);
    cr_assert_eq(sim_dist_weibull(&wb, 1.5, 2.0), 0);
    cr_assert_eq(sim_dist_bounded_pareto(&bp, 1.2, 1.0, 1000.0), 0);
    cr_assert_eq(sim_dist_bernoulli(&be, 0.25), 0);
    cr_assert_eq(sim_dist_empirical(&em, v, w, 3, false), 0);
    sim_rng_t a, b;
    seed_rng(&a, "inverse-cdf");
    seed_rng(&b, "inverse-cdf");
    /* Largest relative deviation per sampler, asserted once after the loop. */
    double err[4] = {0};
    int mismatch[2] = {0};
    for (int i = 0; i < 10000; i++) {
        double e = -log(sim_rng_uniform_pos(&b)) * 0.5;
        err[0] = fmax(err[0], fabs(sim_dist_sample(&ex, &a) - e) / fmax(e, 1e-300));
        double u = -1.0 + 4.0 * sim_rng_uniform(&b);
        err[1] = fmax(err[1], fabs(sim_dist_sample(&un, &a) - u));
        double wv = 2.0 * pow(-log(sim_rng_uniform_pos(&b)), 1.0 / 1.5);
        err[2] = fmax(err[2], fabs(sim_dist_sample(&wb, &a) - wv) / fmax(wv, 1e-300));
        /* x = L (1 - u (1 - (L/H)^alpha))^(-1/alpha) */
        double c = 1.0 - pow(1e-3, 1.2), x = pow(1.0 - sim_rng_uniform(&b) * c, -1.0 / 1.2);
        err[3] = fmax(err[3], fabs(sim_dist_sample(&bp, &a) - x) / x);
        double bv = sim_rng_uniform(&b) < 0.25 ? 1.0 : 0.0;
        mismatch[0] += sim_dist_sample(&be, &a) != bv;
        double uu = sim_rng_uniform(&b), ev = uu < 0.25 ? 10 : uu < 0.75 ? 20 : 30;
        mismatch[1] += sim_dist_sample(&em, &a) != ev;
    }
    cr_assert(err[0] <= 1e-15, "exponential: relative error %g", err[0]);
    cr_assert(err[1] <= 1e-15, "uniform: error %g", err[1]);
    cr_assert(err[2] <= 1e-14, "weibull: relative error %g", err[2]);
    cr_assert(err[3] <= 1e-13, "bounded_pareto: relative error %g", err[3]);
    cr_assert_eq(mismatch[0], 0, "bernoulli: %d mismatches", mismatch[0]);
    cr_assert_eq(mismatch[1], 0, "empirical: %d mismatches", mismatch[1]);
    sim_dist_fini(&em);
}

/* ---- determinism and ownership ---------------------------------------------- */
Test(dist, same_stream_gives_same_samples)
{
    sim_dist_t d;
    sim_dist_lognormal(&d, 1.0, 2.0);
    double *a = draw(&d, "repeat", 1000), *b = draw(&d, "repeat", 1000);
    cr_assert_eq(memcmp(a, b, 1000 * sizeof *a), 0);
    free(a);
    free(b);
}

Test(dist, fini_is_safe_on_any_dist_and_after_failure)
{
    sim_dist_t d;
    memset(&d, 0, sizeof d);
    sim_dist_fini(&d);
    sim_dist_fini(NULL);
    sim_dist_exponential(&d, 1.0);
    sim_dist_fini(&d);
    const double v[] = {1, 2}, w[] = {1, -1};
    cr_assert_eq(sim_dist_empirical(&d, v, w, 2, false), SIM_EINVAL);
    cr_assert_null(d.table);
    sim_dist_fini(&d);
    const double w2[] = {1, 1};
    cr_assert_eq(sim_dist_empirical(&d, v, w2, 2, false), 0);
    sim_dist_fini(&d);
    sim_dist_fini(&d);
}

/* ---- parameter validation --------------------------------------------------- */
Test(dist, constructors_reject_bad_parameters)
{
    sim_dist_t d;
    const double nan = NAN, inf = INFINITY;
    cr_assert_str_eq(sim_strerror(SIM_EINVAL), "invalid argument");

    cr_assert_eq(sim_dist_exponential(&d, nan), SIM_EINVAL);
    cr_assert_eq(sim_dist_exponential(&d, inf), SIM_EINVAL);
    cr_assert_eq(sim_dist_exponential(&d, -1.0), SIM_EINVAL);
    cr_assert_eq(sim_dist_exponential(&d, 0.0), SIM_EINVAL);

    cr_assert_eq(sim_dist_deterministic(&d, nan), SIM_EINVAL);
    cr_assert_eq(sim_dist_deterministic(&d, -inf), SIM_EINVAL);

    cr_assert_eq(sim_dist_uniform(&d, 2.0, 1.0), SIM_EINVAL);
    cr_assert_eq(sim_dist_uniform(&d, nan, 1.0), SIM_EINVAL);
    cr_assert_eq(sim_dist_uniform(&d, 0.0, inf), SIM_EINVAL);
    cr_assert_eq(sim_dist_uniform(&d, -1e308, 1e308), SIM_EINVAL);   /* width overflows */

    cr_assert_eq(sim_dist_normal(&d, nan, 1.0, false), SIM_EINVAL);
    cr_assert_eq(sim_dist_normal(&d, 0.0, -1.0, false), SIM_EINVAL);
    cr_assert_eq(sim_dist_normal(&d, 0.0, inf, false), SIM_EINVAL);

    cr_assert_eq(sim_dist_lognormal(&d, 1.0, 0.0), SIM_EINVAL);
    cr_assert_eq(sim_dist_lognormal(&d, 1.0, -0.5), SIM_EINVAL);
    cr_assert_eq(sim_dist_lognormal(&d, 0.0, 1.0), SIM_EINVAL);
    cr_assert_eq(sim_dist_lognormal(&d, -1.0, 1.0), SIM_EINVAL);
    cr_assert_eq(sim_dist_lognormal(&d, 1.0, nan), SIM_EINVAL);

    cr_assert_eq(sim_dist_gamma(&d, 0.0, 1.0), SIM_EINVAL);
    cr_assert_eq(sim_dist_gamma(&d, 1.0, -1.0), SIM_EINVAL);
    cr_assert_eq(sim_dist_gamma(&d, nan, 1.0), SIM_EINVAL);

    cr_assert_eq(sim_dist_weibull(&d, 0.0, 1.0), SIM_EINVAL);
    cr_assert_eq(sim_dist_weibull(&d, 1.0, 0.0), SIM_EINVAL);
    cr_assert_eq(sim_dist_weibull(&d, inf, 1.0), SIM_EINVAL);

    cr_assert_eq(sim_dist_bounded_pareto(&d, 0.0, 1.0, 2.0), SIM_EINVAL);
    cr_assert_eq(sim_dist_bounded_pareto(&d, 1.0, 0.0, 2.0), SIM_EINVAL);
    cr_assert_eq(sim_dist_bounded_pareto(&d, 1.0, 2.0, 2.0), SIM_EINVAL);
    cr_assert_eq(sim_dist_bounded_pareto(&d, 1.0, 3.0, 2.0), SIM_EINVAL);
    cr_assert_eq(sim_dist_bounded_pareto(&d, 1.0, 1.0, inf), SIM_EINVAL);
    cr_assert_eq(sim_dist_bounded_pareto(&d, 1.0, 1e-300, 1e300), SIM_EINVAL);   /* H/L overflows */

    const double v[] = {1, 2, 3}, w[] = {0, 1, 1}, wneg[] = {0, -1, 2}, wzero[] = {0, 0, 0};
    const double vnan[] = {1, nan, 3}, vdesc[] = {1, 3, 2}, wnan[] = {0, nan, 1};
    cr_assert_eq(sim_dist_empirical(&d, v, w, 0, false), SIM_EINVAL);
    cr_assert_eq(sim_dist_empirical(&d, NULL, w, 3, false), SIM_EINVAL);
    cr_assert_eq(sim_dist_empirical(&d, v, wneg, 3, false), SIM_EINVAL);
    cr_assert_eq(sim_dist_empirical(&d, v, wzero, 3, false), SIM_EINVAL);
    cr_assert_eq(sim_dist_empirical(&d, v, wnan, 3, false), SIM_EINVAL);
    cr_assert_eq(sim_dist_empirical(&d, vnan, w, 3, false), SIM_EINVAL);
    cr_assert_eq(sim_dist_empirical(&d, vdesc, w, 3, false), 0);        /* discrete: any order */
    sim_dist_fini(&d);
    cr_assert_eq(sim_dist_empirical(&d, vdesc, w, 3, true), SIM_EINVAL); /* CDF needs ascending */
    const double w1[] = {1, 1, 1};
    cr_assert_eq(sim_dist_empirical(&d, v, w1, 3, true), SIM_EINVAL);   /* W_0 must be 0 */
    cr_assert_eq(sim_dist_empirical(&d, v, w, 1, true), SIM_EINVAL);    /* one point: no CDF */

    cr_assert_eq(sim_dist_zipf(&d, 0, 1.0), SIM_EINVAL);
    cr_assert_eq(sim_dist_zipf(&d, 10, 0.0), SIM_EINVAL);
    cr_assert_eq(sim_dist_zipf(&d, 10, -1.0), SIM_EINVAL);
    cr_assert_eq(sim_dist_zipf(&d, 10, nan), SIM_EINVAL);
    cr_assert_eq(sim_dist_zipf(&d, 10, inf), SIM_EINVAL);
    cr_assert_eq(sim_dist_zipf(&d, ((size_t)1 << 53) + 2, 1.0), SIM_EINVAL);

    cr_assert_eq(sim_dist_bernoulli(&d, 1.1), SIM_EINVAL);
    cr_assert_eq(sim_dist_bernoulli(&d, -0.1), SIM_EINVAL);
    cr_assert_eq(sim_dist_bernoulli(&d, nan), SIM_EINVAL);
}
