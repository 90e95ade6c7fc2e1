/* Maximum-likelihood fits of the positive distributions a scenario uses
 * (exponential, lognormal, gamma, Weibull) to observed samples or to the
 * buckets of a Prometheus-style cumulative histogram, and their
 * goodness-of-fit statistics. Used by `ragsim fit` (cli/fit.c) to turn
 * telemetry into a scenario's `dist:` mapping.
 *
 * Samples (exact values, all > 0):
 *   exponential  mean = sample mean (closed form)
 *   lognormal    mu, sigma = mean and (1/n) sd of log x (closed form)
 *   gamma        shape k solves log k - psi(k) = log(mean x) - mean(log x)
 *                (Newton from Minka's initial value), scale = mean / k
 *   weibull      shape k solves sum x^k log x / sum x^k - 1/k = mean(log x)
 *                (safeguarded Newton on the scaled data), scale =
 *                (mean x^k)^(1/k)
 * Buckets (interval-censored data): the log-likelihood
 *   sum_j n_j log(F(b_j) - F(b_{j-1})),  b_{-1} = 0, b_m = +inf,
 * maximised over the log-parameters by GSL's Nelder-Mead simplex
 * (nmsimplex2) from the fit to the buckets' midpoints.
 *
 * Parameters (sim_fit_t.a, .b): exponential (mean, -), lognormal (mu,
 * sigma of log x), gamma (shape, scale), weibull (shape, scale); in the
 * samples' unit. Pure functions: no allocation except where noted. */
#ifndef SIM_FIT_H
#define SIM_FIT_H

#include <stdbool.h>
#include <stddef.h>

typedef enum { SIM_FIT_EXPONENTIAL, SIM_FIT_LOGNORMAL, SIM_FIT_GAMMA, SIM_FIT_WEIBULL, SIM_FIT_NFAMILIES } sim_fit_family_t;

typedef struct {
    sim_fit_family_t family;
    bool ok;            /* false: the fit did not converge (parameters undefined) */
    double a, b;        /* the family's parameters (see above) */
    int k;              /* number of parameters (for AIC) */
    double loglik;      /* maximised log-likelihood (samples: density; buckets: interval probabilities) */
    double aic;         /* 2k - 2 loglik */
} sim_fit_t;

const char *sim_fit_family_name(sim_fit_family_t f);   /* "exponential", ... (the scenario's dist names) */

/* Fit family f to n >= 2 samples, sorted ascending, all finite and > 0.
 * Returns 0, or SIM_EINVAL (bad input, or all samples equal for the two-
 * parameter families: out->ok false). */
int sim_fit_samples(const double *sorted, size_t n, sim_fit_family_t f, sim_fit_t *out);

/* Fit family f to a cumulative histogram: upper bounds le[0] < ... <
 * le[m-1] (finite, > 0), cumulative counts cum[0] <= ... <= cum[m-1] <=
 * total, `total` the count of the +Inf bucket (> 0). At least two buckets
 * must hold observations. Returns 0 or SIM_EINVAL. */
int sim_fit_buckets(const double *le, const double *cum, size_t m, double total, sim_fit_family_t f,
                    sim_fit_t *out);

/* The log-likelihood of a histogram under a fit (as sim_fit_buckets maximises). */
double sim_fit_buckets_loglik(const sim_fit_t *fit, const double *le, const double *cum, size_t m, double total);

/* The fitted CDF and survival function at x (x <= 0: 0 and 1). */
double sim_fit_cdf(const sim_fit_t *fit, double x);
double sim_fit_sf(const sim_fit_t *fit, double x);
double sim_fit_mean(const sim_fit_t *fit);
double sim_fit_cv(const sim_fit_t *fit);   /* sd / mean */

/* Kolmogorov-Smirnov D = sup |F_n - F| and Anderson-Darling A^2 of sorted
 * samples against a fit. */
void sim_fit_gof(const sim_fit_t *fit, const double *sorted, size_t n, double *ks_d, double *ad_a2);

/* Asymptotic p-value of a KS statistic D with n samples (Stephens'
 * correction, Kolmogorov's series). With parameters estimated from the same
 * samples the true p-value is smaller (Lilliefors): the test is lenient. */
double sim_fit_ks_pvalue(double d, size_t n);

/* Pearson's chi-square of a histogram against a fit: its statistic and
 * p-value with (buckets that hold data - 1 - k) degrees of freedom; also the
 * largest gap between the observed and fitted CDF at the bucket bounds. */
void sim_fit_buckets_gof(const sim_fit_t *fit, const double *le, const double *cum, size_t m, double total,
                         double *chi2, double *p, double *max_gap);

#endif
