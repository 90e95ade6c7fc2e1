/* Probability distributions (see dist.h).
 *
 * Each distribution is a const type table whose sample() reads constants the
 * constructor precomputed into d->p[], so the hot path does no validation, no
 * allocation and no branching on the kind of distribution. mean() and
 * variance() return values computed once at construction (or trivial
 * formulas of p[]).
 *
 * Layout of d->p[] per type (the constructor is the only writer):
 *   exponential     p0 mean
 *   deterministic   p0 value
 *   uniform         p0 min, p1 max - min
 *   normal          p0 mean, p1 sd, p2 mean and p3 variance of the (truncated)
 *                   distribution
 *   lognormal       p0 mu, p1 sigma (of the underlying normal), p2 mean, p3 cv
 *   gamma           p0 shape k, p1 scale theta
 *   weibull         p0 shape k, p1 scale lambda, p2 1/k, p3 mean, p4 variance
 *   bounded_pareto  p0 alpha, p1 L, p2 H, p3 c = 1 - (L/H)^alpha, p4 -1/alpha,
 *                   p5 mean, p6 variance
 *   empirical       p0 mean, p1 variance; table = n values, n cumulative probs;
 *                   d->n = n, p2 = index of the last entry that can be drawn
 *   zipf            p0 n, p1 s, p2 H(1.5) - 1, p3 H(n + 0.5),
 *                   p4 (H(1.5) - 1) - H(n + 0.5), p5 the squeeze threshold,
 *                   p6 mean, p7 variance
 *   bernoulli       p0 p
 */
#include "dist.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <gsl/gsl_cdf.h>
#include <gsl/gsl_randist.h>

#include "error.h"

/* Reset caller storage so that a failed constructor leaves a distribution
 * that sim_dist_fini() accepts (type NULL, no table). */
static void clear_(sim_dist_t *d)
{
    memset(d, 0, sizeof *d);
}

static bool finite_(double x) { return isfinite(x) != 0; }

/* ---- exponential ------------------------------------------------------------ */
static double exp_sample_(const sim_dist_t *d, sim_rng_t *r)
{
    return -log(sim_rng_uniform_pos(r)) * d->p[0];
}
static double exp_mean_(const sim_dist_t *d) { return d->p[0]; }
static double exp_var_(const sim_dist_t *d) { return d->p[0] * d->p[0]; }
static const sim_dist_type_t exp_type_ = {"exponential", exp_sample_, exp_mean_, exp_var_};

int sim_dist_exponential(sim_dist_t *d, double mean)
{
    clear_(d);
    if (!finite_(mean) || mean <= 0.0) return SIM_EINVAL;
    d->p[0] = mean;
    d->type = &exp_type_;
    return 0;
}

/* ---- deterministic ---------------------------------------------------------- */
static double det_sample_(const sim_dist_t *d, sim_rng_t *r)
{
    (void)r;
    return d->p[0];
}
static double det_mean_(const sim_dist_t *d) { return d->p[0]; }
static double det_var_(const sim_dist_t *d)
{
    (void)d;
    return 0.0;
}
static const sim_dist_type_t det_type_ = {"deterministic", det_sample_, det_mean_, det_var_};

int sim_dist_deterministic(sim_dist_t *d, double value)
{
    clear_(d);
    if (!finite_(value)) return SIM_EINVAL;
    d->p[0] = value;
    d->type = &det_type_;
    return 0;
}

/* ---- uniform ---------------------------------------------------------------- */
static double unif_sample_(const sim_dist_t *d, sim_rng_t *r)
{
    return d->p[0] + d->p[1] * sim_rng_uniform(r);
}
static double unif_mean_(const sim_dist_t *d) { return d->p[0] + 0.5 * d->p[1]; }
static double unif_var_(const sim_dist_t *d) { return d->p[1] * d->p[1] / 12.0; }
static const sim_dist_type_t unif_type_ = {"uniform", unif_sample_, unif_mean_, unif_var_};

int sim_dist_uniform(sim_dist_t *d, double min, double max)
{
    clear_(d);
    if (!finite_(min) || !finite_(max) || min > max || !finite_(max - min)) return SIM_EINVAL;
    d->p[0] = min;
    d->p[1] = max - min;
    d->type = &unif_type_;
    return 0;
}

/* ---- normal ----------------------------------------------------------------- */
static double normal_sample_(const sim_dist_t *d, sim_rng_t *r)
{
    return d->p[0] + gsl_ran_gaussian_ziggurat(sim_rng_gsl(r), d->p[1]);
}

/* Truncated at 0 with mean >= 0: plain rejection accepts with probability
 * Phi(mean/sd) >= 1/2, so at most 2 draws on average. */
static double normal_trunc_sample_(const sim_dist_t *d, sim_rng_t *r)
{
    double x;
    do {
        x = d->p[0] + gsl_ran_gaussian_ziggurat(sim_rng_gsl(r), d->p[1]);
    } while (x < 0.0);
    return x;
}

/* Truncated at 0 with mean < 0: GSL's one-sided tail sampler (rejection from
 * a normal for a/sigma < 1, Marsaglia's tail method above), so the cost stays
 * bounded however small the acceptance of plain rejection would be. */
static double normal_tail_sample_(const sim_dist_t *d, sim_rng_t *r)
{
    double x = d->p[0] + gsl_ran_gaussian_tail(sim_rng_gsl(r), -d->p[0], d->p[1]);
    return x < 0.0 ? 0.0 : x;   /* rounding of mean + (-mean + y) */
}
static double normal_mean_(const sim_dist_t *d) { return d->p[2]; }
static double normal_var_(const sim_dist_t *d) { return d->p[3]; }
static const sim_dist_type_t normal_type_ = {"normal", normal_sample_, normal_mean_, normal_var_};
static const sim_dist_type_t normal_trunc_type_ = {"normal", normal_trunc_sample_, normal_mean_,
                                                   normal_var_};
static const sim_dist_type_t normal_tail_type_ = {"normal", normal_tail_sample_, normal_mean_,
                                                  normal_var_};

int sim_dist_normal(sim_dist_t *d, double mean, double sd, bool truncate_at_zero)
{
    clear_(d);
    if (!finite_(mean) || !finite_(sd) || sd < 0.0) return SIM_EINVAL;
    d->p[0] = mean;
    d->p[1] = sd;
    d->p[2] = mean;
    d->p[3] = sd * sd;
    if (!truncate_at_zero) {
        d->type = &normal_type_;
        return 0;
    }
    /* Below mean = -3 sd fewer than 0.135% of the mass is left: such
     * parameters are almost certainly a mistake (a negative duration). */
    if (mean < -3.0 * sd) return SIM_EINVAL;
    if (sd == 0.0) {                  /* mean >= 0: nothing is cut off */
        d->type = &normal_type_;
        return 0;
    }
    /* Truncation at a = 0 from below: alpha = (a - mean)/sd,
     * lambda = phi(alpha) / (1 - Phi(alpha)) (inverse Mills ratio),
     * mean' = mean + sd lambda, var' = sd^2 (1 + alpha lambda - lambda^2). */
    double alpha = -mean / sd;
    double lambda = gsl_ran_ugaussian_pdf(alpha) / gsl_cdf_ugaussian_Q(alpha);
    d->p[2] = mean + sd * lambda;
    d->p[3] = sd * sd * (1.0 + alpha * lambda - lambda * lambda);
    d->type = mean >= 0.0 ? &normal_trunc_type_ : &normal_tail_type_;
    return 0;
}

/* ---- lognormal -------------------------------------------------------------- */
static double lognormal_sample_(const sim_dist_t *d, sim_rng_t *r)
{
    return exp(d->p[0] + gsl_ran_gaussian_ziggurat(sim_rng_gsl(r), d->p[1]));
}
static double lognormal_mean_(const sim_dist_t *d) { return d->p[2]; }
static double lognormal_var_(const sim_dist_t *d)
{
    double sd = d->p[2] * d->p[3];
    return sd * sd;
}
static const sim_dist_type_t lognormal_type_ = {"lognormal", lognormal_sample_, lognormal_mean_,
                                                lognormal_var_};

int sim_dist_lognormal(sim_dist_t *d, double mean, double cv)
{
    clear_(d);
    if (!finite_(mean) || !finite_(cv) || mean <= 0.0 || cv <= 0.0) return SIM_EINVAL;
    /* E[X] = exp(mu + sigma^2/2), cv^2 = exp(sigma^2) - 1. */
    double s2 = log1p(cv * cv);
    d->p[0] = log(mean) - 0.5 * s2;
    d->p[1] = sqrt(s2);
    d->p[2] = mean;
    d->p[3] = cv;
    d->type = &lognormal_type_;
    return 0;
}

/* ---- gamma ------------------------------------------------------------------ */
static double gamma_sample_(const sim_dist_t *d, sim_rng_t *r)
{
    return gsl_ran_gamma(sim_rng_gsl(r), d->p[0], d->p[1]);
}
static double gamma_mean_(const sim_dist_t *d) { return d->p[0] * d->p[1]; }
static double gamma_var_(const sim_dist_t *d) { return d->p[0] * d->p[1] * d->p[1]; }
static const sim_dist_type_t gamma_type_ = {"gamma", gamma_sample_, gamma_mean_, gamma_var_};

int sim_dist_gamma(sim_dist_t *d, double shape, double scale)
{
    clear_(d);
    if (!finite_(shape) || !finite_(scale) || shape <= 0.0 || scale <= 0.0) return SIM_EINVAL;
    d->p[0] = shape;
    d->p[1] = scale;
    d->type = &gamma_type_;
    return 0;
}

int sim_dist_gamma_mean_cv(sim_dist_t *d, double mean, double cv)
{
    clear_(d);
    if (!finite_(mean) || !finite_(cv) || mean <= 0.0 || cv <= 0.0) return SIM_EINVAL;
    double cv2 = cv * cv;
    return sim_dist_gamma(d, 1.0 / cv2, mean * cv2);
}

/* ---- weibull ---------------------------------------------------------------- */
static double weibull_sample_(const sim_dist_t *d, sim_rng_t *r)
{
    return d->p[1] * pow(-log(sim_rng_uniform_pos(r)), d->p[2]);
}
static double weibull_mean_(const sim_dist_t *d) { return d->p[3]; }
static double weibull_var_(const sim_dist_t *d) { return d->p[4]; }
static const sim_dist_type_t weibull_type_ = {"weibull", weibull_sample_, weibull_mean_,
                                              weibull_var_};

int sim_dist_weibull(sim_dist_t *d, double shape, double scale)
{
    clear_(d);
    if (!finite_(shape) || !finite_(scale) || shape <= 0.0 || scale <= 0.0) return SIM_EINVAL;
    double g1 = tgamma(1.0 + 1.0 / shape), g2 = tgamma(1.0 + 2.0 / shape);
    d->p[0] = shape;
    d->p[1] = scale;
    d->p[2] = 1.0 / shape;
    d->p[3] = scale * g1;
    /* Overflows to INFINITY for very small shapes (heavy tails). */
    d->p[4] = isfinite(g2) ? scale * scale * (g2 - g1 * g1) : INFINITY;
    d->type = &weibull_type_;
    return 0;
}

/* ---- bounded Pareto --------------------------------------------------------- */
/* F(x) = (1 - (L/x)^alpha) / c on [L, H], c = 1 - (L/H)^alpha; inverse:
 * x = L (1 - u c)^(-1/alpha). u in [0,1) gives x in [L, H). */
static double bpareto_sample_(const sim_dist_t *d, sim_rng_t *r)
{
    double x = d->p[1] * pow(1.0 - sim_rng_uniform(r) * d->p[3], d->p[4]);
    return x > d->p[2] ? d->p[2] : x;
}
static double bpareto_mean_(const sim_dist_t *d) { return d->p[5]; }
static double bpareto_var_(const sim_dist_t *d) { return d->p[6]; }
static const sim_dist_type_t bpareto_type_ = {"bounded_pareto", bpareto_sample_, bpareto_mean_,
                                              bpareto_var_};

/* (r^b - 1)/b for b != 0, log r for b == 0, with lr = log r; accurate for
 * b near 0, which makes alpha near 1 and near 2 continuous with the special
 * cases alpha == 1 and alpha == 2. */
static double powm1_over_(double b, double lr)
{
    return b == 0.0 ? lr : expm1(b * lr) / b;
}

int sim_dist_bounded_pareto(sim_dist_t *d, double alpha, double min, double max)
{
    clear_(d);
    if (!finite_(alpha) || !finite_(min) || !finite_(max) || alpha <= 0.0 || min <= 0.0 ||
        max <= min)
        return SIM_EINVAL;
    double lr = log(max / min);          /* log(H/L) > 0 */
    if (!finite_(lr)) return SIM_EINVAL;
    double c = -expm1(-alpha * lr);      /* 1 - (L/H)^alpha */
    /* pdf alpha L^alpha x^(-alpha-1) / c, so
     *   E[X]   = alpha L   / c * (1 - r^(1-alpha)) / (alpha-1)  [alpha = 1: log r]
     *   E[X^2] = alpha L^2 / c * (r^(2-alpha) - 1) / (2-alpha)  [alpha = 2: log r]
     * with r = H/L; both by powm1_over_, since (1 - r^(1-alpha))/(alpha-1) =
     * (r^(1-alpha) - 1)/(1-alpha). */
    double m1 = alpha * min / c * powm1_over_(1.0 - alpha, lr);
    double m2 = alpha * min * min / c * powm1_over_(2.0 - alpha, lr);
    /* Loses relative precision only when H/L is within ~1e-4 of 1. */
    double var = m2 - m1 * m1;
    d->p[0] = alpha;
    d->p[1] = min;
    d->p[2] = max;
    d->p[3] = c;
    d->p[4] = -1.0 / alpha;
    d->p[5] = m1;
    d->p[6] = var > 0.0 ? var : 0.0;
    d->type = &bpareto_type_;
    return 0;
}

/* ---- empirical -------------------------------------------------------------- */
/* Smallest i in [lo, hi] with cum[i] > u; cum[hi] > u is guaranteed
 * (cum[hi] == 1 and u < 1). O(log n). */
static size_t upper_index_(const double *cum, size_t lo, size_t hi, double u)
{
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (cum[mid] > u)
            hi = mid;
        else
            lo = mid + 1;
    }
    return lo;
}

static double emp_discrete_sample_(const sim_dist_t *d, sim_rng_t *r)
{
    const double *cum = d->table + d->n;
    size_t i = upper_index_(cum, 0, (size_t)d->p[2], sim_rng_uniform(r));
    return d->table[i];
}

/* Segment i joins (v[i-1], W[i-1]) and (v[i], W[i]); W[i] > u >= W[i-1], so
 * the segment has positive probability and the division is safe. */
static double emp_interp_sample_(const sim_dist_t *d, sim_rng_t *r)
{
    const double *v = d->table, *cum = d->table + d->n;
    double u = sim_rng_uniform(r);
    size_t i = upper_index_(cum, 1, (size_t)d->p[2], u);
    return v[i - 1] + (u - cum[i - 1]) / (cum[i] - cum[i - 1]) * (v[i] - v[i - 1]);
}
static double emp_mean_(const sim_dist_t *d) { return d->p[0]; }
static double emp_var_(const sim_dist_t *d) { return d->p[1]; }
static const sim_dist_type_t emp_discrete_type_ = {"empirical", emp_discrete_sample_, emp_mean_,
                                                   emp_var_};
static const sim_dist_type_t emp_interp_type_ = {"empirical", emp_interp_sample_, emp_mean_,
                                                 emp_var_};

int sim_dist_empirical(sim_dist_t *d, const double *values, const double *weights, size_t n,
                       bool interpolate)
{
    clear_(d);
    if (!values || !weights || n == 0 || n > SIZE_MAX / (2 * sizeof(double))) return SIM_EINVAL;
    if (interpolate && (n < 2 || weights[0] != 0.0)) return SIM_EINVAL;
    double total = 0.0;
    size_t last = 0;                     /* last entry with positive weight */
    for (size_t i = 0; i < n; i++) {
        if (!finite_(values[i]) || !finite_(weights[i]) || weights[i] < 0.0) return SIM_EINVAL;
        if (interpolate && i > 0 && values[i] < values[i - 1]) return SIM_EINVAL;
        if (weights[i] > 0.0) last = i;
        total += weights[i];
    }
    if (!(total > 0.0) || !finite_(total)) return SIM_EINVAL;

    double *t = malloc(2 * n * sizeof *t);
    if (!t) return SIM_ENOMEM;
    double *cum = t + n, acc = 0.0;
    for (size_t i = 0; i < n; i++) {
        t[i] = values[i];
        acc += weights[i];
        cum[i] = acc / total;
    }
    for (size_t i = last; i < n; i++) cum[i] = 1.0;   /* u < 1 always finds an entry <= last */

    /* Exact moments, two-pass for accuracy. Discrete: atoms v_i with
     * probability p_i. Interpolated: a mixture of uniforms on [v_{i-1}, v_i]
     * with probability W_i - W_{i-1}; Var = sum p_i ((b-a)^2/12 + (mid_i - mean)^2). */
    double mean = 0.0, var = 0.0;
    if (!interpolate) {
        for (size_t i = 0; i < n; i++) mean += (cum[i] - (i ? cum[i - 1] : 0.0)) * t[i];
        for (size_t i = 0; i < n; i++) {
            double dv = t[i] - mean;
            var += (cum[i] - (i ? cum[i - 1] : 0.0)) * dv * dv;
        }
    } else {
        for (size_t i = 1; i < n; i++) mean += (cum[i] - cum[i - 1]) * 0.5 * (t[i - 1] + t[i]);
        for (size_t i = 1; i < n; i++) {
            double w = t[i] - t[i - 1], dm = 0.5 * (t[i - 1] + t[i]) - mean;
            var += (cum[i] - cum[i - 1]) * (w * w / 12.0 + dm * dm);
        }
    }
    d->table = t;
    d->n = n;
    d->p[0] = mean;
    d->p[1] = var;
    d->p[2] = (double)last;
    d->type = interpolate ? &emp_interp_type_ : &emp_discrete_type_;
    return 0;
}

/* ---- zipf ------------------------------------------------------------------- */
/* Rejection-inversion (Hoermann and Derflinger 1996) in the form of Apache
 * Commons RNG's RejectionInversionZipfSampler: hat h(x) = x^-s with integral
 * H(x) = (x^(1-s) - 1)/(1-s) (log x for s = 1), which is continuous in s and
 * so works for every s > 0. Draw u uniformly in (H(1.5) - 1, H(n + 0.5)],
 * invert, round to the key k; accept when k - x <= squeeze (cheap, most
 * draws) or u >= H(k + 0.5) - h(k). The expected number of iterations is
 * sum h(k) / (H(n + 0.5) - H(1.5) + 1): at most 1.015 for s in [0.01, 20]. */

/* log(1 + x)/x, Taylor series near 0. */
static double log1p_over_(double x)
{
    if (fabs(x) > 1e-8) return log1p(x) / x;
    return 1.0 - x * (0.5 - x * (1.0 / 3.0 - 0.25 * x));
}

/* (exp(x) - 1)/x, Taylor series near 0. */
static double expm1_over_(double x)
{
    if (fabs(x) > 1e-8) return expm1(x) / x;
    return 1.0 + x * 0.5 * (1.0 + x * (1.0 / 3.0) * (1.0 + 0.25 * x));
}

static double zipf_H_(double s, double x)
{
    double lx = log(x);
    return expm1_over_((1.0 - s) * lx) * lx;
}

static double zipf_h_(double s, double x) { return exp(-s * log(x)); }

static double zipf_Hinv_(double s, double x)
{
    double t = x * (1.0 - s);
    if (t < -1.0) t = -1.0;              /* rounding; keeps log1p defined */
    return exp(log1p_over_(t) * x);
}

static double zipf_sample_(const sim_dist_t *d, sim_rng_t *r)
{
    const double n = d->p[0], s = d->p[1];
    for (;;) {
        double u = d->p[3] + sim_rng_uniform(r) * d->p[4];
        double x = zipf_Hinv_(s, u);
        double y = x + 0.5, k;
        if (!(y >= 1.0))
            k = 1.0;
        else if (y >= n + 1.0)
            k = n;
        else
            k = (double)(int64_t)y;
        if (k - x <= d->p[5] || u >= zipf_H_(s, k + 0.5) - zipf_h_(s, k)) return k;
    }
}
static double zipf_mean_(const sim_dist_t *d) { return d->p[6]; }
static double zipf_var_(const sim_dist_t *d) { return d->p[7]; }
static const sim_dist_type_t zipf_type_ = {"zipf", zipf_sample_, zipf_mean_, zipf_var_};

/* Neumaier's compensated sum. */
typedef struct {
    double sum, c;
} ksum_t;

static void ksum_add_(ksum_t *k, double x)
{
    double t = k->sum + x;
    if (fabs(k->sum) >= fabs(x))
        k->c += (k->sum - t) + x;
    else
        k->c += (x - t) + k->sum;
    k->sum = t;
}

static double ksum_get_(const ksum_t *k) { return k->sum + k->c; }

/* sum_{k=m}^{n} k^-a by Euler-Maclaurin with the terms up to B6:
 *   int_m^n f + (f(m) + f(n))/2 + sum_j B_2j/(2j)! (f^(2j-1)(n) - f^(2j-1)(m))
 * For m >= 1000 the first omitted term is below 1e-20 of the sum for
 * |a| <= 10 (it is O(a^7 m^-(a+7))), i.e. exact to double precision. */
static double em_tail_(double a, double m, double n)
{
    double lr = log(n / m);
    double integral = pow(m, 1.0 - a) * powm1_over_(1.0 - a, lr);
    double fm = pow(m, -a), fn = pow(n, -a);
    double d1m = -a * fm / m, d1n = -a * fn / n;
    double c3 = -a * (a + 1.0) * (a + 2.0);
    double d3m = c3 * fm / (m * m * m), d3n = c3 * fn / (n * n * n);
    double c5 = c3 * (a + 3.0) * (a + 4.0);
    double d5m = c5 * fm / (m * m * m * m * m), d5n = c5 * fn / (n * n * n * n * n);
    return integral + 0.5 * (fm + fn) + (d1n - d1m) / 12.0 - (d3n - d3m) / 720.0 +
           (d5n - d5m) / 30240.0;
}

/* Sum exactly up to this n (10,000 terms, ~0.3 ms); above it the exact head
 * and the Euler-Maclaurin tail, which agree with direct sums to 1e-13
 * (tests/sim/test_dist.c). Summing a million terms cost ~150 M
 * instructions per scenario load with the default query mix, more than a
 * 10-minute run of rag-baseline itself; the sampler never reads the
 * moments. */
#define ZIPF_EXACT_MAX 10000.0
#define ZIPF_EM_HEAD   1000.0       /* above it: exact head 1..999 + Euler-Maclaurin tail */

/* Mean and variance of Zipf(n, s) via Y = X - 1 (no cancellation when s is
 * large and X is almost always 1):
 *   Z = sum k^-s, E[Y] = sum (k-1) k^-s / Z, E[Y^2] = sum (k-1)^2 k^-s / Z. */
static void zipf_moments_(double n, double s, double *mean, double *var)
{
    ksum_t z = {0, 0}, y1 = {0, 0}, y2 = {0, 0};
    double head = n <= ZIPF_EXACT_MAX ? n : ZIPF_EM_HEAD - 1.0;
    for (double k = 1.0; k <= head; k += 1.0) {
        double t = exp(-s * log(k));
        ksum_add_(&z, t);
        ksum_add_(&y1, t * (k - 1.0));
        ksum_add_(&y2, t * (k - 1.0) * (k - 1.0));
    }
    if (n > head) {
        /* (k-1) k^-s = k^(1-s) - k^-s; (k-1)^2 k^-s = k^(2-s) - 2 k^(1-s) + k^-s */
        double t0 = em_tail_(s, ZIPF_EM_HEAD, n);
        double t1 = em_tail_(s - 1.0, ZIPF_EM_HEAD, n);
        double t2 = em_tail_(s - 2.0, ZIPF_EM_HEAD, n);
        ksum_add_(&z, t0);
        ksum_add_(&y1, t1 - t0);
        ksum_add_(&y2, t2 - 2.0 * t1 + t0);
    }
    double zz = ksum_get_(&z), ey = ksum_get_(&y1) / zz, ey2 = ksum_get_(&y2) / zz;
    double v = ey2 - ey * ey;
    *mean = 1.0 + ey;
    *var = v > 0.0 ? v : 0.0;
}

int sim_dist_zipf(sim_dist_t *d, size_t n, double s)
{
    clear_(d);
    /* Keys are returned as doubles: exact up to 2^53. */
    if (n == 0 || (double)n > 0x1.0p53 || !finite_(s) || s <= 0.0) return SIM_EINVAL;
    double nd = (double)n;
    double hx1 = zipf_H_(s, 1.5) - 1.0, hn = zipf_H_(s, nd + 0.5);
    d->p[0] = nd;
    d->p[1] = s;
    d->p[2] = hx1;
    d->p[3] = hn;
    d->p[4] = hx1 - hn;
    d->p[5] = 2.0 - zipf_Hinv_(s, zipf_H_(s, 2.5) - zipf_h_(s, 2.0));
    zipf_moments_(nd, s, &d->p[6], &d->p[7]);
    d->n = n;
    d->type = &zipf_type_;
    return 0;
}

/* ---- bernoulli -------------------------------------------------------------- */
static double bern_sample_(const sim_dist_t *d, sim_rng_t *r)
{
    return sim_rng_uniform(r) < d->p[0] ? 1.0 : 0.0;
}
static double bern_mean_(const sim_dist_t *d) { return d->p[0]; }
static double bern_var_(const sim_dist_t *d) { return d->p[0] * (1.0 - d->p[0]); }
static const sim_dist_type_t bern_type_ = {"bernoulli", bern_sample_, bern_mean_, bern_var_};

int sim_dist_bernoulli(sim_dist_t *d, double p)
{
    clear_(d);
    if (!(p >= 0.0 && p <= 1.0)) return SIM_EINVAL;   /* also rejects NaN */
    d->p[0] = p;
    d->type = &bern_type_;
    return 0;
}

void sim_dist_fini(sim_dist_t *d)
{
    if (!d) return;
    free(d->table);
    d->table = NULL;
    d->n = 0;
}
