/* Statistics: running moments, time-weighted averages, a latency histogram
 * with bounded relative error, and confidence intervals across replications.
 * All O(1) per observation and allocation-free after init. */
#ifndef SIM_STATS_H
#define SIM_STATS_H

#include <stddef.h>
#include <stdint.h>

#include "time.h"

/* ---- Running mean and variance (Welford) ---------------------------------- */
typedef struct {
    uint64_t n;
    double mean, m2;
    double min, max;
} sim_welford_t;

/* Empty: n 0, mean 0, min +INFINITY, max -INFINITY. */
void sim_welford_reset(sim_welford_t *w);
static inline void sim_welford_add(sim_welford_t *w, double x)   /* inline: on every job's path */
{
    w->n++;
    double delta = x - w->mean;
    w->mean += delta / (double)w->n;
    w->m2 += delta * (x - w->mean);
    if (x < w->min) w->min = x;
    if (x > w->max) w->max = x;
}
double sim_welford_variance(const sim_welford_t *w);   /* sample variance (n-1); 0 if n < 2 */
/* Combine b into a (Chan et al.), exact for the merged sample. */
void sim_welford_merge(sim_welford_t *a, const sim_welford_t *b);

/* ---- Mean of durations (integer nanoseconds) ------------------------------
 * Waits, sojourns, latencies: the sum is kept as an integer (128 bits, so no
 * run can overflow it), so the mean is the exact mean to within an ulp, the
 * same whatever the order of the values, and an observation costs an add, not
 * Welford's division (the station's hottest instruction was waiting on it).
 * For durations only the mean is reported; Welford stays for the rest. */
__extension__ typedef __int128 sim_i128_t;
typedef struct {
    uint64_t n;
    sim_i128_t sum;     /* ns */
} sim_tmean_t;

static inline void sim_tmean_reset(sim_tmean_t *m)
{
    m->n = 0;
    m->sum = 0;
}
static inline void sim_tmean_add(sim_tmean_t *m, sim_time_t d)
{
    m->n++;
    m->sum += d;
}
/* The mean in seconds (the exact mean in ns to within an ulp, divided by 1e9); NAN when empty. */
double sim_tmean_s(const sim_tmean_t *m);

/* ---- Time-weighted average (queue length, busy servers) ---------------------
 * The integral of a piecewise-constant signal divided by the elapsed time.
 * Integer-nanosecond integration keeps it exact for integer signals. */
typedef struct {
    sim_time_t start;   /* beginning of the averaging window */
    sim_time_t last;    /* time of the last change */
    double value;       /* current value */
    double area;        /* integral of value dt over [start, last], in value*ns */
} sim_tavg_t;

/* set/mean/restart abort with a message naming both times if `now` is before
 * the last change (a caller bug). */
void sim_tavg_init(sim_tavg_t *a, sim_time_t now, double value);
void sim_tavg_set(sim_tavg_t *a, sim_time_t now, double value);
static inline void sim_tavg_add(sim_tavg_t *a, sim_time_t now, double delta)
{
    a->area += a->value * (double)(now - a->last);
    a->last = now;
    a->value += delta;
}
/* Average over [start, now]; the current value if no time has elapsed. */
double sim_tavg_mean(const sim_tavg_t *a, sim_time_t now);
/* Restart the window at `now`, keeping the current value (warm-up, sample windows). */
void sim_tavg_restart(sim_tavg_t *a, sim_time_t now);

/* ---- Log-linear histogram ---------------------------------------------------
 * Non-negative int64 values (latencies in ns, sizes in bytes). Values below
 * 2^SIM_HIST_SUB_BITS are counted exactly; above, each power-of-two range is
 * split into 2^SIM_HIST_SUB_BITS equal buckets, so a bucket is at most 1/64 of
 * its lower bound wide and a quantile reported inside its bucket is within
 * 1/64 (1.6%) of the exact sample quantile. Values up to 2^42 ns
 * (73 min) are resolved; larger ones land in the last bucket, and min/max are
 * kept exactly. 2432 buckets, 19 KiB. Histograms merge by adding counts. */
#define SIM_HIST_SUB_BITS 6
#define SIM_HIST_MAX_EXP  42
#define SIM_HIST_BUCKETS  ((SIM_HIST_MAX_EXP - SIM_HIST_SUB_BITS + 2) << SIM_HIST_SUB_BITS)

typedef struct {
    uint64_t *counts;   /* SIM_HIST_BUCKETS counters, owned */
    uint64_t n;
    int64_t min, max;
    double sum;         /* for the exact mean */
} sim_hist_t;

int sim_hist_init(sim_hist_t *h);          /* 0 or SIM_ENOMEM */
void sim_hist_fini(sim_hist_t *h);
void sim_hist_reset(sim_hist_t *h);

static inline int sim_hist_bucket(int64_t v)
{
    if (v < 0) v = 0;
    if (v < (1 << SIM_HIST_SUB_BITS)) return (int)v;
    int e = 63 - __builtin_clzll((unsigned long long)v);        /* floor(log2 v) >= SUB_BITS */
    if (e > SIM_HIST_MAX_EXP) return SIM_HIST_BUCKETS - 1;
    int shift = e - SIM_HIST_SUB_BITS;
    int sub = (int)((v >> shift) & ((1 << SIM_HIST_SUB_BITS) - 1));
    return ((e - SIM_HIST_SUB_BITS + 1) << SIM_HIST_SUB_BITS) + sub;
}

static inline void sim_hist_add_at_(sim_hist_t *h, int b, int64_t v)
{
    h->counts[b]++;
    if (h->n == 0 || v < h->min) h->min = v;
    if (h->n == 0 || v > h->max) h->max = v;
    h->n++;
    h->sum += (double)v;
}

static inline void sim_hist_add(sim_hist_t *h, int64_t v) { sim_hist_add_at_(h, sim_hist_bucket(v), v); }

/* n observations of the same value v (n >= 1). */
static inline void sim_hist_add_n(sim_hist_t *h, int64_t v, uint64_t n)
{
    if (n == 0) return;
    if (h->n == 0 || v < h->min) h->min = v;
    if (h->n == 0 || v > h->max) h->max = v;
    h->counts[sim_hist_bucket(v)] += n;
    h->n += n;
    h->sum += (double)v * (double)n;
}

/* The same value into two histograms (a whole run's and the sample
 * interval's), the bucket computed once. */
static inline void sim_hist_add2(sim_hist_t *a, sim_hist_t *b, int64_t v)
{
    int k = sim_hist_bucket(v);
    sim_hist_add_at_(a, k, v);
    sim_hist_add_at_(b, k, v);
}

/* Nearest-rank quantile (the ceil(q*n)-th smallest value, rank at least 1),
 * interpolated inside its bucket by rank (the bucket's c values spread
 * evenly over its range: the k-th at lo + (k - 1/2)/c x (width - 1)),
 * clamped to [min, max], except that ranks
 * 1 and n return min and max exactly; q in [0, 1]. NAN
 * when empty or q is outside [0, 1]. A q*n a few ulps above an integer
 * counts as that integer. Cost: a scan of up to 2432 buckets, from min's
 * bucket up for ranks up to n/2, from max's down above (p95 and p99 are a
 * few buckets below max). */
double sim_hist_quantile(const sim_hist_t *h, double q);
double sim_hist_mean(const sim_hist_t *h);   /* NAN when empty */
/* Lower bound and width of bucket i (for writing histograms out): bucket i
 * holds the integers lo .. lo+width-1. The last bucket also holds every value
 * >= 2^43 (its nominal range is reported). */
void sim_hist_bucket_range(int i, int64_t *lo, int64_t *width);
void sim_hist_merge(sim_hist_t *dst, const sim_hist_t *src);

/* ---- Confidence intervals across replications ------------------------------
 * Student-t interval for the mean of n independent replications:
 *   mean +- t_{1-(1-level)/2, n-1} * s / sqrt(n)
 * (GSL's gsl_cdf_tdist_Pinv). n < 2 gives half_width = NAN (and sd = NAN;
 * mean = NAN when n == 0); a level outside (0, 1) gives half_width = NAN. */
typedef struct {
    size_t n;
    double mean, sd, half_width, level;
} sim_ci_t;

sim_ci_t sim_ci_student(const double *x, size_t n, double level);
static inline double sim_ci_lo(sim_ci_t c) { return c.mean - c.half_width; }
static inline double sim_ci_hi(sim_ci_t c) { return c.mean + c.half_width; }

#endif
