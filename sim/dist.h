/* Probability distributions: a const type table (GSL's strategy shape) plus
 * parameters in caller storage.
 *
 * A sample is a double in the unit of the distribution's parameters: seconds
 * for durations, bytes for sizes, a count for tokens, a key index for Zipf.
 * Callers convert (sim_time_from_s). Every type knows its mean and variance
 * (INFINITY when undefined) so that models can predict offered load and tests
 * can check sample moments against the formulas.
 *
 *   exponential     mean                    (rate = 1/mean)
 *   deterministic   value
 *   uniform         min, max
 *   normal          mean, sd; truncated at 0 when `truncate` (durations, sizes):
 *                   resampled until >= 0; mean/variance are those of the
 *                   truncated distribution
 *   lognormal       mean, cv (coefficient of variation = sd/mean)
 *   gamma           shape k, scale theta  (or mean and cv: k = 1/cv^2)
 *   weibull         shape k, scale lambda
 *   bounded_pareto  alpha, min L, max H   (inverse-CDF sampling)
 *   empirical       values v_i with weights w_i (discrete), or with
 *                   interpolate: points of a piecewise-linear CDF
 *   zipf            n keys, exponent s:  P(k) proportional to k^-s, k = 1..n
 *                   (rejection-inversion, Hoermann and Derflinger 1996: O(1)
 *                   per sample, no table, any n)
 *   bernoulli       p: 1 with probability p, else 0
 */
#ifndef SIM_DIST_H
#define SIM_DIST_H

#include <stdbool.h>
#include <stddef.h>

#include "cfg.h"
#include "rng.h"

typedef struct sim_dist sim_dist_t;

typedef struct sim_dist_type {
    const char *name;
    double (*sample)(const sim_dist_t *d, sim_rng_t *r);
    double (*mean)(const sim_dist_t *d);
    double (*variance)(const sim_dist_t *d);
} sim_dist_type_t;

struct sim_dist {
    const sim_dist_type_t *type;
    double p[8];         /* parameters and precomputed constants; meaning per type */
    double *table;       /* empirical: n values followed by n cumulative probabilities (owned) */
    size_t n;
};

/* Constructors: return 0, or SIM_EINVAL for parameters out of their domain
 * (non-finite, negative where not allowed, min > max, cv <= 0 ...). They
 * overwrite *d without freeing it (call sim_dist_fini first when reusing an
 * empirical one); on failure *d is zeroed, so sim_dist_fini is still safe.
 * Constructors precompute everything sample() needs; sample() never
 * allocates. Domains and notes:
 *   exponential     mean > 0. sample = -log(U) * mean, U in (0,1).
 *   deterministic   any finite value.
 *   uniform         min <= max (min == max gives the constant).
 *   normal          sd >= 0. Truncated: mean >= -3 sd is required (fewer than
 *                   0.135% of draws would survive, almost surely a mistake);
 *                   mean >= 0 samples by rejection (acceptance >= 1/2), mean
 *                   < 0 by GSL's one-sided tail sampler (bounded cost).
 *                   Gaussians use GSL's ziggurat.
 *   lognormal       mean > 0, cv > 0: sigma^2 = log(1 + cv^2),
 *                   mu = log(mean) - sigma^2/2.
 *   gamma           shape > 0, scale > 0 (gsl_ran_gamma, Marsaglia-Tsang).
 *   weibull         shape > 0, scale > 0; variance INFINITY if Gamma overflows.
 *   bounded_pareto  alpha > 0, 0 < min < max; mean/variance exact, continuous
 *                   through alpha == 1 and alpha == 2 (expm1 forms).
 *   empirical       n >= 1, weights >= 0 with a positive sum; interpolated also
 *                   needs n >= 2, w_0 == 0 and values non-decreasing. Sampling
 *                   is a binary search, O(log n). Exact mean and variance
 *                   (interpolated: mixture of uniforms). SIM_ENOMEM possible.
 *   zipf            n >= 1 (<= 2^53), s > 0 (s == 1 included). Mean and
 *                   variance: exact compensated sums for n <= 1e4; above,
 *                   an exact head k < 1000 plus an Euler-Maclaurin tail to
 *                   the B6 term (within 1e-13 of direct sums, tested at
 *                   1e4 + 1, 1e6 and 1e7 + 1 keys). Setting up costs
 *                   O(min(n, 1e4)). Sample O(1): ~1.01 iterations on
 *                   average, no table.
 *   bernoulli       0 <= p <= 1. */
int sim_dist_exponential(sim_dist_t *d, double mean);
int sim_dist_deterministic(sim_dist_t *d, double value);
int sim_dist_uniform(sim_dist_t *d, double min, double max);
int sim_dist_normal(sim_dist_t *d, double mean, double sd, bool truncate_at_zero);
int sim_dist_lognormal(sim_dist_t *d, double mean, double cv);
int sim_dist_gamma(sim_dist_t *d, double shape, double scale);
/* Gamma by mean > 0 and cv > 0: shape 1/cv^2, scale mean*cv^2. */
int sim_dist_gamma_mean_cv(sim_dist_t *d, double mean, double cv);
int sim_dist_weibull(sim_dist_t *d, double shape, double scale);
int sim_dist_bounded_pareto(sim_dist_t *d, double alpha, double min, double max);
/* Copies values/weights. Discrete: P(v_i) = w_i / sum w. Interpolated: the
 * CDF is piecewise linear through (v_i, W_i) with W_i the normalised
 * cumulative weights, v ascending, W_0 = 0 required (w_0 = 0). */
int sim_dist_empirical(sim_dist_t *d, const double *values, const double *weights, size_t n,
                       bool interpolate);
int sim_dist_zipf(sim_dist_t *d, size_t n, double s);
int sim_dist_bernoulli(sim_dist_t *d, double p);

void sim_dist_fini(sim_dist_t *d);   /* frees the empirical table; safe on any dist */

static inline double sim_dist_sample(const sim_dist_t *d, sim_rng_t *r) { return d->type->sample(d, r); }
static inline double sim_dist_mean(const sim_dist_t *d) { return d->type->mean(d); }
static inline double sim_dist_variance(const sim_dist_t *d) { return d->type->variance(d); }
static inline const char *sim_dist_name(const sim_dist_t *d) { return d->type->name; }

/* What the parameters of a parsed distribution measure. */
typedef enum {
    SIM_DIST_DURATION,   /* parameters are durations with units ("20ms"); samples in seconds */
    SIM_DIST_SIZE,       /* sizes with units ("4KiB"); samples in bytes */
    SIM_DIST_NUMBER,     /* plain numbers (tokens, counts); samples as numbers */
} sim_dist_unit_t;

/* Parse a distribution node:
 *     {dist: exponential, mean: 20ms}
 *     {dist: lognormal, mean: 80ms, cv: 1.5}
 *     {dist: gamma, mean: 1s, cv: 0.5}   or {dist: gamma, shape: 2, scale: 0.5s}
 *     {dist: empirical, values: [1ms, 5ms, 20ms], weights: [0.7, 0.2, 0.1]}
 *     {dist: zipf, n: 100000, s: 1.1}
 * A bare scalar is a deterministic value in the node's unit ("20ms").
 * Parameters measured in `unit` need that unit; shape-like parameters
 * (cv, shape, alpha, s, p, weights) are plain numbers. Reports errors at the
 * offending node and returns SIM_ECONFIG. */
int sim_dist_parse(sim_diag_t *diag, sim_cfg_node_t *node, sim_dist_unit_t unit, sim_dist_t *d);

#endif
