/* Maximum-likelihood distribution fits and goodness of fit (see fit.h). */
#include <float.h>
#include <gsl/gsl_cdf.h>
#include <gsl/gsl_multimin.h>
#include <gsl/gsl_sf_gamma.h>
#include <gsl/gsl_sf_psi.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "fit.h"

static const char *const family_names[SIM_FIT_NFAMILIES] = {"exponential", "lognormal", "gamma", "weibull"};

const char *sim_fit_family_name(sim_fit_family_t f)
{
    return (unsigned)f < SIM_FIT_NFAMILIES ? family_names[f] : "?";
}

/* ---- the families' CDFs ------------------------------------------------------------ */

double sim_fit_cdf(const sim_fit_t *f, double x)
{
    if (!(x > 0)) return 0;
    if (isinf(x)) return 1;
    switch (f->family) {
    case SIM_FIT_EXPONENTIAL: return gsl_cdf_exponential_P(x, f->a);
    case SIM_FIT_LOGNORMAL: return gsl_cdf_lognormal_P(x, f->a, f->b);
    case SIM_FIT_GAMMA: return gsl_cdf_gamma_P(x, f->a, f->b);
    case SIM_FIT_WEIBULL: return gsl_cdf_weibull_P(x, f->b, f->a);
    default: return NAN;
    }
}

double sim_fit_sf(const sim_fit_t *f, double x)
{
    if (!(x > 0)) return 1;
    if (isinf(x)) return 0;
    switch (f->family) {
    case SIM_FIT_EXPONENTIAL: return gsl_cdf_exponential_Q(x, f->a);
    case SIM_FIT_LOGNORMAL: return gsl_cdf_lognormal_Q(x, f->a, f->b);
    case SIM_FIT_GAMMA: return gsl_cdf_gamma_Q(x, f->a, f->b);
    case SIM_FIT_WEIBULL: return gsl_cdf_weibull_Q(x, f->b, f->a);
    default: return NAN;
    }
}

double sim_fit_mean(const sim_fit_t *f)
{
    switch (f->family) {
    case SIM_FIT_EXPONENTIAL: return f->a;
    case SIM_FIT_LOGNORMAL: return exp(f->a + f->b * f->b / 2);
    case SIM_FIT_GAMMA: return f->a * f->b;
    case SIM_FIT_WEIBULL: return f->b * exp(lgamma(1 + 1 / f->a));
    default: return NAN;
    }
}

double sim_fit_cv(const sim_fit_t *f)
{
    switch (f->family) {
    case SIM_FIT_EXPONENTIAL: return 1;
    case SIM_FIT_LOGNORMAL: return sqrt(expm1(f->b * f->b));
    case SIM_FIT_GAMMA: return 1 / sqrt(f->a);
    case SIM_FIT_WEIBULL: {
        double g1 = exp(lgamma(1 + 1 / f->a)), g2 = exp(lgamma(1 + 2 / f->a));
        return sqrt(fmax(g2 - g1 * g1, 0)) / g1;
    }
    default: return NAN;
    }
}

/* ---- fits to samples ----------------------------------------------------------------- */

/* log k - psi(k) = s (s > 0): Newton from Minka's approximation; f is convex
 * and decreasing, so Newton from below converges monotonically. */
static double gamma_shape(double s)
{
    double k = (3 - s + sqrt((s - 3) * (s - 3) + 24 * s)) / (12 * s);
    for (int i = 0; i < 100; i++) {
        double f = log(k) - gsl_sf_psi(k) - s;
        double df = 1 / k - gsl_sf_psi_1(k);
        double nk = k - f / df;
        if (!(nk > 0)) nk = k / 2;
        if (fabs(nk - k) <= 1e-13 * k) return nk;
        k = nk;
    }
    return k;
}

/* Weibull shape: g(k) = sum z y / sum z - 1/k - ybar = 0 with z = x^k scaled
 * by the largest x (no overflow); g rises from -inf to ymax - ybar > 0.
 * Newton kept inside a bracket, bisection when it leaves it. */
static double weibull_shape(const double *y, size_t n, double ybar, double ymax)
{
    double lo = 1e-6, hi = 1;
    for (;;) {   /* bracket */
        double sz = 0, szy = 0;
        for (size_t i = 0; i < n; i++) {
            double z = exp(hi * (y[i] - ymax));
            sz += z;
            szy += z * y[i];
        }
        if (szy / sz - 1 / hi - ybar > 0 || hi > 1e6) break;
        lo = hi;
        hi *= 2;
    }
    double k = (lo + hi) / 2;
    for (int it = 0; it < 200; it++) {
        double sz = 0, szy = 0, szyy = 0;
        for (size_t i = 0; i < n; i++) {
            double z = exp(k * (y[i] - ymax));
            sz += z;
            szy += z * y[i];
            szyy += z * y[i] * y[i];
        }
        double A = szy / sz;
        double g = A - 1 / k - ybar;
        double dg = szyy / sz - A * A + 1 / (k * k);
        if (g > 0) hi = k;
        else lo = k;
        double nk = k - g / dg;
        if (!(nk > lo && nk < hi)) nk = (lo + hi) / 2;
        if (fabs(nk - k) <= 1e-13 * k) return nk;
        k = nk;
    }
    return k;
}

static double loglik_samples(const sim_fit_t *f, const double *x, size_t n)
{
    double sy = 0, sx = 0;
    for (size_t i = 0; i < n; i++) {
        sy += log(x[i]);
        sx += x[i];
    }
    double dn = (double)n;
    switch (f->family) {
    case SIM_FIT_EXPONENTIAL: return -dn * log(f->a) - sx / f->a;
    case SIM_FIT_LOGNORMAL: {
        double ss = 0;
        for (size_t i = 0; i < n; i++) ss += (log(x[i]) - f->a) * (log(x[i]) - f->a);
        return -sy - dn * log(f->b) - dn / 2 * log(2 * M_PI) - ss / (2 * f->b * f->b);
    }
    case SIM_FIT_GAMMA:
        return (f->a - 1) * sy - sx / f->b - dn * f->a * log(f->b) - dn * lgamma(f->a);
    case SIM_FIT_WEIBULL: {
        double sp = 0;
        for (size_t i = 0; i < n; i++) sp += pow(x[i] / f->b, f->a);
        return dn * log(f->a) - dn * f->a * log(f->b) + (f->a - 1) * sy - sp;
    }
    default: return NAN;
    }
}

int sim_fit_samples(const double *x, size_t n, sim_fit_family_t fam, sim_fit_t *out)
{
    memset(out, 0, sizeof *out);
    out->family = fam;
    out->k = fam == SIM_FIT_EXPONENTIAL ? 1 : 2;
    if (n < 2 || (unsigned)fam >= SIM_FIT_NFAMILIES) return SIM_EINVAL;
    double sx = 0, sy = 0;
    for (size_t i = 0; i < n; i++) {
        if (!(x[i] > 0) || !isfinite(x[i])) return SIM_EINVAL;
        sx += x[i];
        sy += log(x[i]);
    }
    double dn = (double)n, xbar = sx / dn, ybar = sy / dn;
    bool constant = x[0] == x[n - 1];
    switch (fam) {
    case SIM_FIT_EXPONENTIAL: out->a = xbar; break;
    case SIM_FIT_LOGNORMAL: {
        if (constant) return SIM_EINVAL;
        double ss = 0;
        for (size_t i = 0; i < n; i++) ss += (log(x[i]) - ybar) * (log(x[i]) - ybar);
        out->a = ybar;
        out->b = sqrt(ss / dn);
        break;
    }
    case SIM_FIT_GAMMA: {
        double s = log(xbar) - ybar;
        if (constant || !(s > 0)) return SIM_EINVAL;
        out->a = gamma_shape(s);
        out->b = xbar / out->a;
        break;
    }
    case SIM_FIT_WEIBULL: {
        if (constant) return SIM_EINVAL;
        /* the logs, needed at every Newton step: on the stack for small n */
        double ymax = log(x[n - 1]), k;
        double stackbuf[4096];
        double *ly = n <= 4096 ? stackbuf : malloc(n * sizeof *ly);
        if (!ly) return SIM_ENOMEM;
        for (size_t i = 0; i < n; i++) ly[i] = log(x[i]);
        k = weibull_shape(ly, n, ybar, ymax);
        double sz = 0;
        for (size_t i = 0; i < n; i++) sz += exp(k * (ly[i] - ymax));
        if (ly != stackbuf) free(ly);
        out->a = k;
        out->b = exp(ymax + log(sz / dn) / k);
        break;
    }
    default: return SIM_EINVAL;
    }
    out->loglik = loglik_samples(out, x, n);
    out->aic = 2 * out->k - 2 * out->loglik;
    out->ok = isfinite(out->loglik);
    return out->ok ? 0 : SIM_EINVAL;
}

/* ---- fits to histogram buckets --------------------------------------------------------- */

typedef struct {
    sim_fit_family_t fam;
    const double *le, *cum;
    size_t m;
    double total;
} bucket_data_t;

static void set_params(sim_fit_t *f, const gsl_vector *v)
{
    switch (f->family) {
    case SIM_FIT_EXPONENTIAL: f->a = exp(gsl_vector_get(v, 0)); break;
    case SIM_FIT_LOGNORMAL: f->a = gsl_vector_get(v, 0); f->b = exp(gsl_vector_get(v, 1)); break;
    default: f->a = exp(gsl_vector_get(v, 0)); f->b = exp(gsl_vector_get(v, 1)); break;
    }
}

/* Probability of (lo, hi] under f, from whichever tail is more precise. */
static double interval_p(const sim_fit_t *f, double lo, double hi)
{
    double flo = sim_fit_cdf(f, lo);
    if (flo < 0.5) return sim_fit_cdf(f, hi) - flo;
    return sim_fit_sf(f, lo) - sim_fit_sf(f, hi);
}

static double bucket_loglik(const sim_fit_t *f, const bucket_data_t *b)
{
    double ll = 0, prev_le = 0, prev_cum = 0;
    for (size_t j = 0; j <= b->m; j++) {
        double le = j < b->m ? b->le[j] : INFINITY;
        double c = j < b->m ? b->cum[j] : b->total;
        double nj = c - prev_cum;
        if (nj > 0) {
            double p = interval_p(f, prev_le, le);
            ll += nj * log(p > 1e-300 ? p : 1e-300);
        }
        prev_le = le;
        prev_cum = c;
    }
    return ll;
}

double sim_fit_buckets_loglik(const sim_fit_t *f, const double *le, const double *cum, size_t m, double total)
{
    bucket_data_t b = {f->family, le, cum, m, total};
    return bucket_loglik(f, &b);
}

static double neg_loglik(const gsl_vector *v, void *params)
{
    const bucket_data_t *b = params;
    sim_fit_t f = {.family = b->fam};
    set_params(&f, v);
    double ll = bucket_loglik(&f, b);
    return isfinite(ll) ? -ll : 1e300;
}

int sim_fit_buckets(const double *le, const double *cum, size_t m, double total, sim_fit_family_t fam,
                    sim_fit_t *out)
{
    memset(out, 0, sizeof *out);
    out->family = fam;
    out->k = fam == SIM_FIT_EXPONENTIAL ? 1 : 2;
    if (m < 1 || !(total > 0) || (unsigned)fam >= SIM_FIT_NFAMILIES) return SIM_EINVAL;
    /* a start: the fit to the buckets' midpoints, each with its count (the
     * first bucket's at half its bound, the open one's at 1.5 x the last) */
    double w = 0, sx = 0, sy = 0, syy = 0, prev_le = 0, prev_cum = 0;
    int filled = 0;
    for (size_t j = 0; j <= m; j++) {
        double c = j < m ? cum[j] : total;
        double nj = c - prev_cum;
        if (j < m && (!(le[j] > prev_le) || !isfinite(le[j]) || nj < 0)) return SIM_EINVAL;
        if (j == m && nj < 0) return SIM_EINVAL;
        double mid = j == m ? 1.5 * le[m - 1] : j == 0 ? le[0] / 2 : (prev_le + le[j]) / 2;
        if (nj > 0) {
            filled++;
            w += nj;
            sx += nj * mid;
            sy += nj * log(mid);
            syy += nj * log(mid) * log(mid);
        }
        if (j < m) prev_le = le[j];
        prev_cum = c;
    }
    if (filled < 2) return SIM_EINVAL;
    double xbar = sx / w, ybar = sy / w, sdy = sqrt(fmax(syy / w - ybar * ybar, 1e-4));
    size_t dim = fam == SIM_FIT_EXPONENTIAL ? 1 : 2;
    gsl_vector *v = gsl_vector_alloc(dim), *step = gsl_vector_alloc(dim);
    gsl_multimin_fminimizer *s = gsl_multimin_fminimizer_alloc(gsl_multimin_fminimizer_nmsimplex2, dim);
    if (!v || !step || !s) {
        gsl_vector_free(v);
        gsl_vector_free(step);
        if (s) gsl_multimin_fminimizer_free(s);
        return SIM_ENOMEM;
    }
    switch (fam) {
    case SIM_FIT_EXPONENTIAL: gsl_vector_set(v, 0, log(xbar)); break;
    case SIM_FIT_LOGNORMAL: gsl_vector_set(v, 0, ybar); gsl_vector_set(v, 1, log(sdy)); break;
    case SIM_FIT_GAMMA: {
        double sh = gamma_shape(fmax(log(xbar) - ybar, 1e-6));
        gsl_vector_set(v, 0, log(sh));
        gsl_vector_set(v, 1, log(xbar / sh));
        break;
    }
    default: {
        double k = 1.2825 / sdy;   /* sd of log x = pi / (k sqrt 6) */
        gsl_vector_set(v, 0, log(k));
        gsl_vector_set(v, 1, ybar + 0.5772 / k);
        break;
    }
    }
    bucket_data_t data = {fam, le, cum, m, total};
    gsl_multimin_function fn = {.f = neg_loglik, .n = dim, .params = &data};
    int status = GSL_CONTINUE;
    for (int restart = 0; restart < 3; restart++) {   /* Nelder-Mead restarted from its optimum */
        if (restart) gsl_vector_memcpy(v, s->x);
        gsl_vector_set_all(step, 0.3);
        gsl_multimin_fminimizer_set(s, &fn, v, step);
        status = GSL_CONTINUE;
        for (int it = 0; it < 5000 && status == GSL_CONTINUE; it++) {
            if (gsl_multimin_fminimizer_iterate(s)) break;
            status = gsl_multimin_test_size(gsl_multimin_fminimizer_size(s), 1e-9);
        }
    }
    set_params(out, s->x);
    out->loglik = -s->fval;
    out->aic = 2 * out->k - 2 * out->loglik;
    /* converged: the simplex shrank (an iteration that can no longer make
     * progress, GSL_ENOPROG, stops it at that size too) */
    out->ok = (status == GSL_SUCCESS || gsl_multimin_fminimizer_size(s) < 1e-6) && isfinite(out->loglik) &&
              out->loglik > -1e299;
    gsl_multimin_fminimizer_free(s);
    gsl_vector_free(v);
    gsl_vector_free(step);
    return out->ok ? 0 : SIM_EINVAL;
}

/* ---- goodness of fit ------------------------------------------------------------------- */

void sim_fit_gof(const sim_fit_t *f, const double *x, size_t n, double *ks_d, double *ad_a2)
{
    double d = 0, a = 0, dn = (double)n;
    for (size_t i = 0; i < n; i++) {
        double F = sim_fit_cdf(f, x[i]);
        double up = (double)(i + 1) / dn - F, dw = F - (double)i / dn;
        if (up > d) d = up;
        if (dw > d) d = dw;
        double lo = fmax(F, 1e-300);
        double hi = fmax(sim_fit_sf(f, x[n - 1 - i]), 1e-300);
        a += (2.0 * (double)i + 1) * (log(lo) + log(hi));
    }
    *ks_d = d;
    *ad_a2 = -dn - a / dn;
}

double sim_fit_ks_pvalue(double d, size_t n)
{
    double sn = sqrt((double)n);
    double l = (sn + 0.12 + 0.11 / sn) * d;
    if (l < 0.3) return 1;
    double q = 0, sign = 1;
    for (int k = 1; k <= 100; k++) {
        double t = sign * exp(-2.0 * k * k * l * l);
        q += t;
        if (fabs(t) < 1e-16) break;
        sign = -sign;
    }
    q *= 2;
    return q < 0 ? 0 : q > 1 ? 1 : q;
}

void sim_fit_buckets_gof(const sim_fit_t *f, const double *le, const double *cum, size_t m, double total,
                         double *chi2, double *p, double *max_gap)
{
    double x2 = 0, gap = 0, prev_le = 0, prev_cum = 0;
    int cells = 0;
    for (size_t j = 0; j <= m; j++) {
        double b = j < m ? le[j] : INFINITY;
        double c = j < m ? cum[j] : total;
        double e = total * interval_p(f, prev_le, b);
        double o = c - prev_cum;
        if (e > 0) {
            x2 += (o - e) * (o - e) / e;
            cells++;
        } else if (o > 0) {
            x2 = INFINITY;
        }
        if (j < m) {
            double g = fabs(c / total - sim_fit_cdf(f, b));
            if (g > gap) gap = g;
        }
        prev_le = b;
        prev_cum = c;
    }
    int df = cells - 1 - f->k;
    if (df < 1) df = 1;
    *chi2 = x2;
    *p = isfinite(x2) ? gsl_cdf_chisq_Q(x2, df) : 0;
    *max_gap = gap;
}
