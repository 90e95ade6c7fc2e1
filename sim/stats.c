/* Statistics (see stats.h). */
#include "stats.h"

#include <float.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gsl/gsl_cdf.h>

#include "error.h"

/* A broken caller invariant: name the values and stop. */
static _Noreturn void time_backwards_(const char *fn, sim_time_t now, sim_time_t last)
{
    fprintf(stderr, "%s: time went backwards: now %" PRId64 " ns < last change %" PRId64 " ns\n",
            fn, now, last);
    abort();
}

/* ---- Mean of durations ------------------------------------------------------- */
double sim_tmean_s(const sim_tmean_t *m)
{
    if (m->n == 0) return NAN;
    /* quotient and remainder exactly, then a rounding each: the mean in ns
     * to within an ulp, whatever the size of the sum */
    sim_i128_t n = (sim_i128_t)m->n, q = m->sum / n, r = m->sum % n;
    double ns = (double)q + (double)r / (double)m->n;
    return ns / 1e9;
}

/* ---- Welford ---------------------------------------------------------------- */
void sim_welford_reset(sim_welford_t *w)
{
    w->n = 0;
    w->mean = 0.0;
    w->m2 = 0.0;
    w->min = INFINITY;    /* so that the first add sets both */
    w->max = -INFINITY;
}

double sim_welford_variance(const sim_welford_t *w)
{
    return w->n < 2 ? 0.0 : w->m2 / (double)(w->n - 1);
}

void sim_welford_merge(sim_welford_t *a, const sim_welford_t *b)
{
    if (b->n == 0) return;
    if (a->n == 0) {
        *a = *b;
        return;
    }
    double na = (double)a->n, nb = (double)b->n, n = na + nb;
    double delta = b->mean - a->mean;
    a->mean += delta * (nb / n);
    a->m2 += b->m2 + delta * delta * (na * nb / n);
    a->n += b->n;
    if (b->min < a->min) a->min = b->min;
    if (b->max > a->max) a->max = b->max;
}

/* ---- Time-weighted average -------------------------------------------------- */
void sim_tavg_init(sim_tavg_t *a, sim_time_t now, double value)
{
    a->start = now;
    a->last = now;
    a->value = value;
    a->area = 0.0;
}

void sim_tavg_set(sim_tavg_t *a, sim_time_t now, double value)
{
    if (now < a->last) time_backwards_("sim_tavg_set", now, a->last);
    a->area += a->value * (double)(now - a->last);
    a->last = now;
    a->value = value;
}

double sim_tavg_mean(const sim_tavg_t *a, sim_time_t now)
{
    if (now < a->last) time_backwards_("sim_tavg_mean", now, a->last);
    if (now == a->start) return a->value;
    double area = a->area + a->value * (double)(now - a->last);
    return area / (double)(now - a->start);
}

void sim_tavg_restart(sim_tavg_t *a, sim_time_t now)
{
    if (now < a->last) time_backwards_("sim_tavg_restart", now, a->last);
    a->start = now;
    a->last = now;
    a->area = 0.0;
}

/* ---- Histogram -------------------------------------------------------------- */
int sim_hist_init(sim_hist_t *h)
{
    memset(h, 0, sizeof *h);
    h->counts = calloc(SIM_HIST_BUCKETS, sizeof *h->counts);
    return h->counts ? 0 : SIM_ENOMEM;
}

void sim_hist_fini(sim_hist_t *h)
{
    if (!h) return;
    free(h->counts);
    h->counts = NULL;
    h->n = 0;
}

void sim_hist_reset(sim_hist_t *h)
{
    /* every non-zero count lies in [bucket(min), bucket(max)] (and none when
     * n is 0): clear only that range, not all 19 KiB, since the samplers
     * reset their interval histograms every sample */
    if (h->n > 0) {
        int lo = sim_hist_bucket(h->min), hi = sim_hist_bucket(h->max);
        memset(h->counts + lo, 0, (size_t)(hi - lo + 1) * sizeof *h->counts);
    }
    h->n = 0;
    h->min = h->max = 0;
    h->sum = 0.0;
}

void sim_hist_bucket_range(int i, int64_t *lo, int64_t *width)
{
    if (i < (1 << SIM_HIST_SUB_BITS)) {
        *lo = i;
        *width = 1;
        return;
    }
    int group = i >> SIM_HIST_SUB_BITS;                  /* >= 1 */
    int sub = i & ((1 << SIM_HIST_SUB_BITS) - 1);
    int shift = group - 1;                               /* e - SUB_BITS */
    int e = shift + SIM_HIST_SUB_BITS;
    *lo = ((int64_t)1 << e) + ((int64_t)sub << shift);
    *width = (int64_t)1 << shift;
}

/* The nearest rank ceil(q n), in 1..n. q n is computed in floating point, so
 * a product that lands a few ulps above an integer (0.07 * 100 =
 * 7.000000000000001) is taken as that integer. */
static uint64_t nearest_rank_(double q, uint64_t n)
{
    double x = q * (double)n;
    double k = ceil(x);
    if (k > x && x - (k - 1.0) <= 4.0 * DBL_EPSILON * x) k -= 1.0;
    if (k < 1.0) return 1;
    if (k >= (double)n) return n;
    return (uint64_t)k;
}

double sim_hist_quantile(const sim_hist_t *h, double q)
{
    if (h->n == 0 || !(q >= 0.0 && q <= 1.0)) return NAN;
    uint64_t rank = nearest_rank_(q, h->n), seen = 0;
    if (rank == 1) return (double)h->min;       /* the extremes are known exactly */
    if (rank == h->n) return (double)h->max;
    int i;
    if (rank <= h->n / 2) {
        /* up from min's bucket (the buckets below are empty) to the first
         * whose cumulative count reaches the rank */
        for (i = sim_hist_bucket(h->min); i < SIM_HIST_BUCKETS - 1; i++) {
            seen += h->counts[i];
            if (seen >= rank) break;
        }
    } else {
        /* a high quantile (p95, p99: most of what the samplers ask): the
         * same bucket found down from max's, over fewer buckets. `above`
         * counts the values in the buckets above i; the bucket is the one
         * where n - above first reaches the rank from below, i.e. where the
         * cumulative count from the bottom, n - above, is >= rank while
         * n - above - counts[i] < rank. Integer counts: the same bucket and
         * the same `seen` as the upward scan, bit for bit. */
        uint64_t above = 0;
        for (i = sim_hist_bucket(h->max); i > 0; i--) {
            if (h->n - above - h->counts[i] < rank) break;
            above += h->counts[i];
        }
        seen = h->n - above;
    }
    int64_t lo, width;
    sim_hist_bucket_range(i, &lo, &width);
    /* The bucket holds the integers lo .. lo+width-1. Place its c values
     * evenly over that range and take the one of the wanted rank (as
     * Prometheus' histogram_quantile interpolates linearly in a bucket):
     * the estimate then moves with the rank inside a bucket instead of
     * sticking to the bucket's midpoint, so that two runs whose p95 fall in
     * the same bucket do not report identical values (a spurious zero
     * spread in a confidence interval). Exact when width is 1. */
    uint64_t c = h->counts[i], before = seen - c;
    double frac = ((double)(rank - before) - 0.5) / (double)c;
    double v = (double)lo + frac * (double)(width - 1);
    if (v < (double)h->min) v = (double)h->min;
    if (v > (double)h->max) v = (double)h->max;
    return v;
}

double sim_hist_mean(const sim_hist_t *h)
{
    return h->n == 0 ? NAN : h->sum / (double)h->n;
}

void sim_hist_merge(sim_hist_t *dst, const sim_hist_t *src)
{
    if (src->n == 0) return;
    for (int i = 0; i < SIM_HIST_BUCKETS; i++) dst->counts[i] += src->counts[i];
    if (dst->n == 0 || src->min < dst->min) dst->min = src->min;
    if (dst->n == 0 || src->max > dst->max) dst->max = src->max;
    dst->n += src->n;
    dst->sum += src->sum;
}

/* ---- Confidence intervals --------------------------------------------------- */
sim_ci_t sim_ci_student(const double *x, size_t n, double level)
{
    sim_ci_t c = {n, NAN, NAN, NAN, level};
    if (n == 0) return c;
    double mean = 0.0;
    for (size_t i = 0; i < n; i++) mean += x[i];
    mean /= (double)n;
    c.mean = mean;
    if (n < 2) return c;
    double ss = 0.0;
    for (size_t i = 0; i < n; i++) ss += (x[i] - mean) * (x[i] - mean);
    c.sd = sqrt(ss / (double)(n - 1));
    if (!(level > 0.0 && level < 1.0)) return c;
    double t = gsl_cdf_tdist_Pinv(1.0 - 0.5 * (1.0 - level), (double)(n - 1));
    c.half_width = t * c.sd / sqrt((double)n);
    return c;
}
