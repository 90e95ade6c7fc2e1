/* Statistics: Welford against two-pass sums, time-weighted averages of
 * hand-built signals, the log-linear histogram against exact sorted-sample
 * quantiles, and Student-t intervals against hand computation and coverage. */
#include <criterion/criterion.h>

#include <math.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sim/dist.h"
#include "sim/error.h"
#include "sim/rng.h"
#include "sim/stats.h"

#define assert_close(got, want, rel)                                                             \
    cr_assert(fabs((got) - (want)) <= (rel) * fabs(want), "%s = %.17g, want %.17g", #got,       \
              (double)(got), (double)(want))

/* ---- Mean of durations -------------------------------------------------------- */
Test(tmean, empty_is_nan_and_known_values_give_their_exact_mean)
{
    sim_tmean_t m;
    sim_tmean_reset(&m);
    cr_assert(isnan(sim_tmean_s(&m)));
    sim_tmean_add(&m, 1);
    sim_tmean_add(&m, 2);
    cr_assert_eq(sim_tmean_s(&m), 1.5e-9, "1.5 ns");
    sim_tmean_add(&m, 3 * SIM_SEC);
    /* (1 + 2 + 3e9) / 3 ns = 1000000001 ns exactly */
    cr_assert_eq(sim_tmean_s(&m), 1000000001.0 / 1e9);
    sim_tmean_reset(&m);
    cr_assert(isnan(sim_tmean_s(&m)) && m.n == 0);
}

Test(tmean, sums_beyond_64_bits_and_doubles_stay_exact)
{
    /* 2^53 + 1 cannot be held by a double; Welford or a double sum would
     * lose the 1. Four values near 2^62 overflow an int64 sum. */
    sim_tmean_t m;
    sim_tmean_reset(&m);
    const sim_time_t big = (sim_time_t)1 << 62;
    for (int i = 0; i < 4; i++) sim_tmean_add(&m, big + 3);
    cr_assert_eq(sim_tmean_s(&m), ((double)big + 3.0) / 1e9);
    sim_tmean_reset(&m);
    sim_tmean_add(&m, ((sim_time_t)1 << 53) + 1);
    sim_tmean_add(&m, ((sim_time_t)1 << 53) + 2);
    /* exact mean 2^53 + 1.5 ns; doubles there are 2 ns apart: within one
     * of them (a double sum would give 2^53 + 2 for the sum, mean 2^52 + 1) */
    double ns = sim_tmean_s(&m) * 1e9;
    cr_assert(fabs(ns - (0x1p53 + 1.5)) <= 2.0, "%.17g", ns);
    cr_assert_gt(ns, 0x1p53 - 1.0);
}

Test(tmean, order_does_not_change_a_bit)
{
    sim_rng_t r;
    sim_rng_init(&r, 5);
    sim_time_t v[1000];
    for (int i = 0; i < 1000; i++) v[i] = (sim_time_t)(sim_rng_next(&r) >> 24);   /* up to 2^40 ns */
    sim_tmean_t a, b;
    sim_tmean_reset(&a);
    sim_tmean_reset(&b);
    for (int i = 0; i < 1000; i++) {
        sim_tmean_add(&a, v[i]);
        sim_tmean_add(&b, v[999 - i]);
    }
    double x = sim_tmean_s(&a), y = sim_tmean_s(&b);
    cr_assert(memcmp(&x, &y, sizeof x) == 0, "%.17g vs %.17g", x, y);
    /* and it is the mean: against a long-double two-pass sum */
    long double sum = 0;
    for (int i = 0; i < 1000; i++) sum += v[i];
    assert_close(x, (double)(sum / 1000 / 1e9L), 1e-15);
}

/* ---- Welford ---------------------------------------------------------------- */
static void two_pass(const double *x, size_t n, double *mean, double *var)
{
    long double s = 0;
    for (size_t i = 0; i < n; i++) s += x[i];
    long double m = s / n, ss = 0;
    for (size_t i = 0; i < n; i++) ss += (x[i] - m) * (x[i] - m);
    *mean = (double)m;
    *var = (double)(ss / (n - 1));
}

Test(welford, known_data_mean_and_sample_variance)
{
    const double x[] = {2, 4, 4, 4, 5, 5, 7, 9};   /* mean 5, sum of squares 32 */
    sim_welford_t w;
    sim_welford_reset(&w);
    cr_assert_eq(w.n, 0);
    cr_assert_eq(sim_welford_variance(&w), 0.0);
    for (int i = 0; i < 8; i++) sim_welford_add(&w, x[i]);
    cr_assert_eq(w.n, 8);
    assert_close(w.mean, 5.0, 1e-15);
    assert_close(sim_welford_variance(&w), 32.0 / 7.0, 1e-15);
    cr_assert_eq(w.min, 2.0);
    cr_assert_eq(w.max, 9.0);
}

Test(welford, single_observation_has_zero_variance)
{
    sim_welford_t w;
    sim_welford_reset(&w);
    sim_welford_add(&w, -3.5);
    cr_assert_eq(w.mean, -3.5);
    cr_assert_eq(sim_welford_variance(&w), 0.0);
    cr_assert_eq(w.min, -3.5);
    cr_assert_eq(w.max, -3.5);
}

/* A large offset ruins the naive sum-of-squares formula (var 30 of
 * 1e9 + {4, 7, 13, 16} would come out as a multiple of 2^... noise); Welford
 * keeps it. */
Test(welford, large_offset_keeps_precision)
{
    const double base = 1e9, d[] = {4, 7, 13, 16};
    sim_welford_t w;
    sim_welford_reset(&w);
    for (int i = 0; i < 4; i++) sim_welford_add(&w, base + d[i]);
    assert_close(w.mean, base + 10.0, 1e-15);
    assert_close(sim_welford_variance(&w), 30.0, 1e-9);
}

Test(welford, matches_two_pass_on_random_data)
{
    enum { N = 100001 };
    double *x = malloc(N * sizeof *x);
    sim_dist_t d;
    sim_rng_t r;
    sim_dist_lognormal(&d, 1000.0, 2.0);
    sim_rng_init(&r, 5);
    sim_welford_t w;
    sim_welford_reset(&w);
    for (int i = 0; i < N; i++) {
        x[i] = sim_dist_sample(&d, &r);
        sim_welford_add(&w, x[i]);
    }
    double mean, var;
    two_pass(x, N, &mean, &var);
    assert_close(w.mean, mean, 1e-12);
    assert_close(sim_welford_variance(&w), var, 1e-12);
    free(x);
}

Test(welford, merge_of_two_halves_equals_whole)
{
    enum { N = 1001 };
    double x[N];
    for (int i = 0; i < N; i++) x[i] = sin(i * 0.37) * 100 + i * 0.01 + 1e6;
    for (int cut = 0; cut <= N; cut += 250) {   /* includes empty halves */
        sim_welford_t a, b, whole;
        sim_welford_reset(&a);
        sim_welford_reset(&b);
        sim_welford_reset(&whole);
        for (int i = 0; i < N; i++) {
            sim_welford_add(i < cut ? &a : &b, x[i]);
            sim_welford_add(&whole, x[i]);
        }
        sim_welford_merge(&a, &b);
        cr_assert_eq(a.n, whole.n, "cut %d", cut);
        assert_close(a.mean, whole.mean, 1e-14);
        assert_close(sim_welford_variance(&a), sim_welford_variance(&whole), 1e-10);
        cr_assert_eq(a.min, whole.min, "cut %d", cut);
        cr_assert_eq(a.max, whole.max, "cut %d", cut);
    }
}

Test(welford, merge_unequal_parts_exact)
{
    /* {1, 2, 3} and {10}: whole mean 4, deviations -3 -2 -1 6, SS 50, var 50/3 */
    sim_welford_t a, b;
    sim_welford_reset(&a);
    sim_welford_reset(&b);
    sim_welford_add(&a, 1);
    sim_welford_add(&a, 2);
    sim_welford_add(&a, 3);
    sim_welford_add(&b, 10);
    sim_welford_merge(&a, &b);
    cr_assert_eq(a.n, 4);
    assert_close(a.mean, 4.0, 1e-15);
    assert_close(sim_welford_variance(&a), 50.0 / 3.0, 1e-15);
    cr_assert_eq(a.min, 1.0);
    cr_assert_eq(a.max, 10.0);
}

/* ---- Time-weighted average -------------------------------------------------- */
/* 0 for 2 s, 3 for 1 s, 1 for 1 s: (0*2 + 3*1 + 1*1)/4 = 1. */
Test(tavg, step_signal_mean_is_exact)
{
    sim_tavg_t a;
    sim_tavg_init(&a, 0, 0.0);
    sim_tavg_set(&a, 2 * SIM_SEC, 3.0);
    cr_assert_eq(sim_tavg_mean(&a, 2 * SIM_SEC), 0.0);
    sim_tavg_set(&a, 3 * SIM_SEC, 1.0);
    cr_assert_eq(sim_tavg_mean(&a, 4 * SIM_SEC), 1.0);
    cr_assert_eq(sim_tavg_mean(&a, 3 * SIM_SEC), 1.0);   /* (0*2 + 3*1)/3 */
}

Test(tavg, add_deltas_gives_same_mean_as_set)
{
    sim_tavg_t a;
    sim_tavg_init(&a, 10 * SIM_SEC, 0.0);   /* window need not start at 0 */
    sim_tavg_add(&a, 12 * SIM_SEC, +3.0);
    sim_tavg_add(&a, 13 * SIM_SEC, -2.0);
    cr_assert_eq(a.value, 1.0);
    cr_assert_eq(sim_tavg_mean(&a, 14 * SIM_SEC), 1.0);
}

Test(tavg, no_elapsed_time_gives_current_value)
{
    sim_tavg_t a;
    sim_tavg_init(&a, 5, 7.0);
    cr_assert_eq(sim_tavg_mean(&a, 5), 7.0);
    sim_tavg_set(&a, 5, 2.0);                  /* change at the same instant */
    cr_assert_eq(sim_tavg_mean(&a, 5), 2.0);
    cr_assert_eq(sim_tavg_mean(&a, 6), 2.0);
}

Test(tavg, restart_forgets_the_past_and_keeps_the_value)
{
    sim_tavg_t a;
    sim_tavg_init(&a, 0, 0.0);
    sim_tavg_set(&a, 2 * SIM_SEC, 3.0);
    sim_tavg_set(&a, 3 * SIM_SEC, 1.0);
    sim_tavg_restart(&a, 4 * SIM_SEC);
    cr_assert_eq(a.value, 1.0);
    cr_assert_eq(sim_tavg_mean(&a, 4 * SIM_SEC), 1.0);
    cr_assert_eq(sim_tavg_mean(&a, 5 * SIM_SEC), 1.0);
    sim_tavg_set(&a, 5 * SIM_SEC, 5.0);
    cr_assert_eq(sim_tavg_mean(&a, 6 * SIM_SEC), 3.0);   /* (1*1 + 5*1)/2 */
}

/* Integer signals integrate exactly in integer nanoseconds: a queue that
 * alternates 0 and 1 every nanosecond for 1e6 ns averages exactly 1/2. */
Test(tavg, integer_signal_is_exact_over_many_changes)
{
    sim_tavg_t a;
    sim_tavg_init(&a, 0, 0.0);
    for (sim_time_t t = 1; t <= 1000000; t++) sim_tavg_add(&a, t, (t & 1) ? 1.0 : -1.0);
    cr_assert_eq(sim_tavg_mean(&a, 1000000), 0.5);
}

/* A caller bug, not a state to recover from: the message names both times. */
Test(tavg, time_going_backwards_aborts, .signal = SIGABRT)
{
    sim_tavg_t a;
    sim_tavg_init(&a, 0, 0.0);
    sim_tavg_set(&a, 10, 1.0);
    sim_tavg_set(&a, 9, 2.0);
}

/* ---- Histogram -------------------------------------------------------------- */
static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

/* Exact nearest rank for q = q1000 / 1000 in integer arithmetic. */
static uint64_t rank_of(int q1000, uint64_t n)
{
    uint64_t r = ((uint64_t)q1000 * n + 999) / 1000;
    return r < 1 ? 1 : r;
}

Test(hist, init_is_empty_and_quantile_is_nan)
{
    sim_hist_t h;
    cr_assert_eq(sim_hist_init(&h), 0);
    cr_assert_eq(h.n, 0);
    cr_assert(isnan(sim_hist_quantile(&h, 0.5)));
    cr_assert(isnan(sim_hist_mean(&h)));
    sim_hist_fini(&h);
    cr_assert_null(h.counts);
    sim_hist_fini(&h);
    sim_hist_fini(NULL);
}

Test(hist, values_below_64_are_exact)
{
    sim_hist_t h;
    sim_hist_init(&h);
    /* value v added v+1 times: 2080 values */
    int64_t sorted[2080];
    size_t n = 0;
    for (int64_t v = 0; v < 64; v++)
        for (int64_t j = 0; j <= v; j++) {
            sim_hist_add(&h, v);
            sorted[n++] = v;
        }
    for (int64_t v = 0; v < 64; v++) cr_assert_eq(h.counts[sim_hist_bucket(v)], (uint64_t)v + 1);
    int wrong = 0, first = -1;
    for (int q1000 = 0; q1000 <= 1000; q1000++) {
        double got = sim_hist_quantile(&h, q1000 / 1000.0);
        double want = (double)sorted[rank_of(q1000, n) - 1];
        if (got != want && wrong++ == 0) first = q1000;
    }
    cr_assert_eq(wrong, 0, "%d of 1001 quantiles inexact, first q = %g", wrong, first / 1000.0);
    cr_assert_eq(h.min, 0);
    cr_assert_eq(h.max, 63);
    sim_hist_fini(&h);
}

/* 0.07 * 100 = 7.000000000000001 in doubles; the nearest rank is still 7. */
Test(hist, nearest_rank_ignores_rounding_of_q_times_n)
{
    sim_hist_t h;
    sim_hist_init(&h);
    for (int v = 1; v <= 100; v++) sim_hist_add(&h, v);
    cr_assert_eq(sim_hist_quantile(&h, 0.07), 7.0);
    cr_assert_eq(sim_hist_quantile(&h, 0.071), 8.0);
    cr_assert_eq(sim_hist_quantile(&h, 0.5), 50.0);
    cr_assert_eq(sim_hist_quantile(&h, 0.0), 1.0);     /* rank at least 1 */
    cr_assert_eq(sim_hist_quantile(&h, 1.0), 100.0);
    cr_assert(isnan(sim_hist_quantile(&h, 1.5)));
    cr_assert(isnan(sim_hist_quantile(&h, -0.1)));
    cr_assert(isnan(sim_hist_quantile(&h, NAN)));
    sim_hist_fini(&h);
}

/* Fill a histogram with n samples of `d` (seconds) in ns, clamped to
 * [1 us, 1 h], and compare quantiles, min, max and mean with the sorted
 * samples. The samples must reach below lo_max and above hi_min. */
static void check_quantiles(const sim_dist_t *d, const char *stream, int64_t lo_max,
                            int64_t hi_min)
{
    enum { N = 200000 };
    int64_t *x = malloc(N * sizeof *x);
    sim_hist_t h;
    sim_rng_t r;
    sim_rng_init(&r, sim_rng_stream_seed(3, stream, 0));
    sim_hist_init(&h);
    long double sum = 0;
    int64_t lo = INT64_MAX, hi = 0;
    for (int i = 0; i < N; i++) {
        double v = sim_dist_sample(d, &r) * 1e9;
        v = fmin(fmax(v, 1e3), 3.6e12);
        x[i] = (int64_t)llround(v);
        sim_hist_add(&h, x[i]);
        sum += x[i];
    }
    qsort(x, N, sizeof x[0], cmp_i64);
    lo = x[0];
    hi = x[N - 1];
    /* the data must really span the range */
    cr_assert(lo < lo_max && hi > hi_min, "%s: range %lld..%lld", stream, (long long)lo,
              (long long)hi);
    cr_assert_eq(h.n, (uint64_t)N);
    cr_assert_eq(h.min, lo);
    cr_assert_eq(h.max, hi);
    assert_close(sim_hist_mean(&h), (double)(sum / N), 1e-12);
    const int qs[] = {500, 900, 950, 990, 999};
    for (int i = 0; i < 5; i++) {
        double want = (double)x[rank_of(qs[i], N) - 1], got = sim_hist_quantile(&h, qs[i] / 1000.0);
        /* guaranteed: within a bucket (1/64); with the interpolation by
         * rank, smooth data lands within 1/128 */
        cr_assert(fabs(got - want) <= want / 128.0, "%s q %g: %.0f vs exact %.0f (%.3f%%)", stream,
                  qs[i] / 1000.0, got, want, 100 * fabs(got - want) / want);
    }
    cr_assert_eq(sim_hist_quantile(&h, 0.0), (double)lo);
    cr_assert_eq(sim_hist_quantile(&h, 1.0), (double)hi);
    sim_hist_fini(&h);
    free(x);
}

Test(hist, quantiles_within_1_percent_for_lognormal_exponential_pareto)
{
    sim_dist_t d;
    sim_dist_lognormal(&d, 0.05, 20.0);        /* median 2.5 ms, sigma 2.45: 1 us .. minutes */
    check_quantiles(&d, "lognormal", 10 * SIM_US, SIM_MIN);
    sim_dist_exponential(&d, 1.0);             /* min ~ 5 us, max ~ 12 s */
    check_quantiles(&d, "exponential", 100 * SIM_US, 5 * SIM_SEC);
    sim_dist_bounded_pareto(&d, 0.15, 1e-6, 3600.0);   /* 1 us .. 1 h */
    check_quantiles(&d, "pareto", 2 * SIM_US, 30 * SIM_MIN);
}

Test(hist, quantile_interpolates_by_rank_inside_a_bucket)
{
    /* 1024 values evenly spread over one bucket, [2^20, 2^20 + 2^14):
     * x_k = 2^20 + 16 k. The bucket-midpoint estimate would report one
     * value for every rank; interpolated, rank k (1-based, not the extremes)
     * maps to lo + (k - 1/2)/1024 x (2^14 - 1), within 16 of x_{k-1}. */
    sim_hist_t h;
    sim_hist_init(&h);
    const int64_t lo = 1 << 20;
    for (int k = 0; k < 1024; k++) sim_hist_add(&h, lo + 16 * k);
    int b = 0;
    while (b < SIM_HIST_BUCKETS && h.counts[b] == 0) b++;
    cr_assert_eq(h.counts[b], 1024, "all in one bucket");
    int64_t blo, width;
    sim_hist_bucket_range(b, &blo, &width);
    cr_assert_eq(blo, lo);
    cr_assert_eq(width, 1 << 14);
    for (int k = 2; k < 1024; k += 97) {
        double q = (k - 0.5) / 1024.0;   /* nearest rank k */
        double got = sim_hist_quantile(&h, q);
        double want = (double)lo + (k - 0.5) / 1024.0 * (double)(width - 1);
        cr_assert_float_eq(got, want, 1e-6, "rank %d: %.3f vs %.3f", k, got, want);
        cr_assert_leq(fabs(got - (double)(lo + 16 * (k - 1))), 16.0);
    }
    cr_assert_lt(sim_hist_quantile(&h, 0.50), sim_hist_quantile(&h, 0.51));
    sim_hist_fini(&h);
}

/* The quantile as first written: always scan up from min's bucket. The
 * library scans down from max's for ranks above n/2; both must land in the
 * same bucket with the same cumulative count, so every rank gives the
 * same double. */
static double quantile_upward_(const sim_hist_t *h, uint64_t rank)
{
    if (rank == 1) return (double)h->min;
    if (rank == h->n) return (double)h->max;
    uint64_t seen = 0;
    int i = sim_hist_bucket(h->min);
    for (; i < SIM_HIST_BUCKETS - 1; i++) {
        seen += h->counts[i];
        if (seen >= rank) break;
    }
    int64_t lo, width;
    sim_hist_bucket_range(i, &lo, &width);
    uint64_t c = h->counts[i], before = seen - c;
    double v = (double)lo + (((double)(rank - before) - 0.5) / (double)c) * (double)(width - 1);
    if (v < (double)h->min) v = (double)h->min;
    if (v > (double)h->max) v = (double)h->max;
    return v;
}

Test(hist, every_rank_gives_what_an_upward_scan_gives)
{
    sim_rng_t r;
    sim_rng_init(&r, 99);
    const size_t sizes[] = {2, 3, 7, 64, 333, 1000};
    for (size_t k = 0; k < sizeof sizes / sizeof *sizes; k++) {
        sim_hist_t h;
        sim_hist_init(&h);
        for (size_t j = 0; j < sizes[k]; j++) {
            /* log-uniform over 1 ns .. 10 s, with repeats and values below 64 */
            double u = sim_rng_uniform(&r);
            int64_t v = (int64_t)exp(u * log(1e10));
            if (j % 5 == 0) v = 42;
            sim_hist_add(&h, v);
        }
        for (uint64_t rank = 1; rank <= h.n; rank++) {
            double q = ((double)rank - 0.5) / (double)h.n;   /* nearest rank `rank` */
            double got = sim_hist_quantile(&h, q), want = quantile_upward_(&h, rank);
            cr_assert(memcmp(&got, &want, sizeof got) == 0, "n %llu rank %llu: %.17g vs %.17g",
                      (unsigned long long)h.n, (unsigned long long)rank, got, want);
        }
        sim_hist_fini(&h);
    }
}

Test(hist, merge_equals_histogram_of_union)
{
    sim_hist_t a, b, all;
    sim_hist_init(&a);
    sim_hist_init(&b);
    sim_hist_init(&all);
    sim_rng_t r;
    sim_rng_init(&r, 77);
    for (int i = 0; i < 50000; i++) {
        int64_t v = (int64_t)(sim_rng_next(&r) >> (20 + i % 40));
        sim_hist_add(i % 3 ? &a : &b, v + 5);
        sim_hist_add(&all, v + 5);
    }
    sim_hist_merge(&a, &b);
    cr_assert_eq(memcmp(a.counts, all.counts, SIM_HIST_BUCKETS * sizeof *a.counts), 0);
    cr_assert_eq(a.n, all.n);
    cr_assert_eq(a.min, all.min);
    cr_assert_eq(a.max, all.max);
    assert_close(a.sum, all.sum, 1e-12);
    /* merging into an empty histogram copies min and max */
    sim_hist_t e;
    sim_hist_init(&e);
    sim_hist_merge(&e, &b);
    cr_assert_eq(e.min, b.min);
    cr_assert_eq(e.max, b.max);
    cr_assert_eq(e.n, b.n);
    sim_hist_reset(&e);
    cr_assert_eq(e.n, 0);
    cr_assert(isnan(sim_hist_quantile(&e, 0.5)));
    uint64_t left = 0;
    for (int i = 0; i < SIM_HIST_BUCKETS; i++) left += e.counts[i];
    cr_assert_eq(left, 0);
    sim_hist_fini(&e);
    sim_hist_fini(&a);
    sim_hist_fini(&b);
    sim_hist_fini(&all);
}

Test(hist, bucket_range_is_consistent_with_bucket)
{
    int bad = 0, first = -1;
    int64_t prev_end = 0;
    for (int i = 0; i < SIM_HIST_BUCKETS; i++) {
        int64_t lo, w;
        sim_hist_bucket_range(i, &lo, &w);
        bool ok = w >= 1 && lo == prev_end && sim_hist_bucket(lo) == i &&
                  sim_hist_bucket(lo + w - 1) == i && (i < 64 ? w == 1 : w * 64 <= lo);
        if (i < SIM_HIST_BUCKETS - 1) ok = ok && sim_hist_bucket(lo + w) == i + 1;
        if (!ok && bad++ == 0) first = i;
        prev_end = lo + w;
    }
    cr_assert_eq(bad, 0, "%d inconsistent buckets, first %d", bad, first);
    cr_assert_eq(prev_end, (int64_t)1 << (SIM_HIST_MAX_EXP + 1));
    cr_assert_eq(sim_hist_bucket(-5), 0);
    cr_assert_eq(sim_hist_bucket(INT64_MAX), SIM_HIST_BUCKETS - 1);
    cr_assert_eq(sim_hist_bucket(63), 63);
    cr_assert_eq(sim_hist_bucket(64), 64);
    cr_assert_eq(sim_hist_bucket(127), 127);   /* 64..127: still width 1 */
    cr_assert_eq(sim_hist_bucket(128), 128);
    cr_assert_eq(sim_hist_bucket(129), 128);   /* 128..255: width 2 */
}

Test(hist, quantile_reports_bucket_midpoint_clamped_to_min_max)
{
    sim_hist_t h;
    sim_hist_init(&h);
    /* [512, 1024) is split into 64 buckets of width 8: 1000 is in
     * [1000, 1008), whose integers have midpoint 1003.5. */
    int64_t lo, w;
    sim_hist_bucket_range(sim_hist_bucket(1000), &lo, &w);
    cr_assert_eq(lo, 1000);
    cr_assert_eq(w, 8);
    sim_hist_add(&h, 1001);
    sim_hist_add(&h, 1002);
    sim_hist_add(&h, 1006);
    /* midpoint 1003.5 lies in [min, max] */
    cr_assert_eq(sim_hist_quantile(&h, 0.5), 1003.5);
    sim_hist_reset(&h);
    sim_hist_add(&h, 1006);
    cr_assert_eq(sim_hist_quantile(&h, 0.5), 1006.0);   /* clamped to min = max */
    cr_assert_eq(sim_hist_mean(&h), 1006.0);
    sim_hist_fini(&h);
}

/* ---- Student-t confidence interval ------------------------------------------ */
/* x = 1..5: mean 3, s = sqrt(2.5), t_{0.975,4} = 2.7764451051977987,
 * half width t * s / sqrt(5) = t * sqrt(1/2) = 1.963243161477561. */
Test(ci, student_matches_hand_computation)
{
    const double x[] = {1, 2, 3, 4, 5};
    sim_ci_t c = sim_ci_student(x, 5, 0.95);
    cr_assert_eq(c.n, 5);
    cr_assert_eq(c.level, 0.95);
    assert_close(c.mean, 3.0, 1e-15);
    assert_close(c.sd, sqrt(2.5), 1e-15);
    assert_close(c.half_width, 1.963243161477561, 1e-12);
    assert_close(sim_ci_lo(c), 3.0 - 1.963243161477561, 1e-12);
    assert_close(sim_ci_hi(c), 3.0 + 1.963243161477561, 1e-12);
    /* 90%: t_{0.95,4} = 2.1318467863266495 */
    c = sim_ci_student(x, 5, 0.90);
    assert_close(c.half_width, 2.1318467863266495 * sqrt(0.5), 1e-12);
}

Test(ci, too_few_replications_or_bad_level_give_nan)
{
    const double x[] = {4.0, 6.0};
    sim_ci_t c = sim_ci_student(x, 1, 0.95);
    cr_assert_eq(c.mean, 4.0);
    cr_assert(isnan(c.half_width));
    c = sim_ci_student(x, 0, 0.95);
    cr_assert(isnan(c.mean));
    cr_assert(isnan(c.half_width));
    c = sim_ci_student(x, 2, 1.0);
    cr_assert_eq(c.mean, 5.0);
    cr_assert(isnan(c.half_width));
    c = sim_ci_student(x, 2, 0.0);
    cr_assert(isnan(c.half_width));
    /* n = 2: t_{0.975,1} = tan(0.475 pi), s = sqrt(2), hw = t * s / sqrt(2) = t */
    c = sim_ci_student(x, 2, 0.95);
    assert_close(c.half_width, 12.706204736174696, 1e-12);
}

/* 2000 intervals from 10 normal samples each cover the true mean in ~95% of
 * trials (binomial sd 0.49%; [93%, 97%] is +-4 sd). */
Test(ci, coverage_of_95_percent_interval_is_about_95_percent)
{
    enum { TRIALS = 2000, N = 10 };
    sim_dist_t d;
    sim_dist_normal(&d, 5.0, 2.0, false);
    sim_rng_t r;
    sim_rng_init(&r, sim_rng_stream_seed(9, "ci-coverage", 0));
    int covered = 0;
    for (int t = 0; t < TRIALS; t++) {
        double x[N];
        for (int i = 0; i < N; i++) x[i] = sim_dist_sample(&d, &r);
        sim_ci_t c = sim_ci_student(x, N, 0.95);
        covered += sim_ci_lo(c) <= 5.0 && 5.0 <= sim_ci_hi(c);
    }
    double f = (double)covered / TRIALS;
    cr_assert(f >= 0.93 && f <= 0.97, "coverage %g", f);
}

/* sim_time_from_s rounds to the nearest nanosecond inline; it must agree
 * with llround (half away from zero) everywhere it is used: exact halves,
 * the neighbours of halves, tiny and huge values, and random durations. */
Test(time, from_s_matches_llround)
{
    const double edge[] = {1e-10, 4.9999999999999994e-10, 5e-10, 5.000000000000001e-10, 1.5e-9, 2.5e-9,
                           0.4999999999999999e-9, 1e-9 * 0x1p52, 1e-9 * (0x1p52 + 0.5), 1e-9 * 0x1p53,
                           1e-9 * 0x1p61, 86400.0, 0.123456789012, 3.0000000005};
    for (size_t i = 0; i < sizeof edge / sizeof *edge; i++) {
        double ns = edge[i] * 1e9;
        cr_assert_eq(sim_time_from_s(edge[i]), (sim_time_t)llround(ns), "s = %.17g", edge[i]);
    }
    /* ns values at and around every k + 1/2 for small k, built exactly */
    for (int k = 0; k < 1000; k++) {
        double ns = (double)k + 0.5;
        double s = ns / 1e9;
        cr_assert_eq(sim_time_from_s(s), (sim_time_t)llround(s * 1e9), "k = %d", k);
        double up = nextafter(s, 1.0), down = nextafter(s, 0.0);
        cr_assert_eq(sim_time_from_s(up), (sim_time_t)llround(up * 1e9), "k = %d, above", k);
        cr_assert_eq(sim_time_from_s(down), (sim_time_t)llround(down * 1e9), "k = %d, below", k);
    }
    uint64_t x = 88172645463325252ull;   /* xorshift64: random mantissas and exponents */
    for (int i = 0; i < 200000; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        double s = ldexp((double)(x >> 11) * 0x1p-53, (int)(x % 60) - 40);   /* ~1e-12 s .. 1e6 s */
        cr_assert_eq(sim_time_from_s(s), (sim_time_t)llround(s * 1e9), "s = %.17g", s);
    }
    cr_assert_eq(sim_time_from_s(0.0), 0);
    cr_assert_eq(sim_time_from_s(-1.0), 0);
    cr_assert_eq(sim_time_from_s(NAN), 0);
}

/* sim_llround is llround inline: the same value for every finite |x| <
 * 2^62, negative values and exact halves included (a mutation to round
 * half up, or half to even, fails the halves; one without the negative
 * term fails below zero). */
Test(time, sim_llround_matches_llround)
{
    const double edge[] = {0.0, -0.0, 0.5, -0.5, 1.5, -1.5, 2.5, -2.5, 0.49999999999999994, -0.49999999999999994,
                           0.5000000000000001, -0.5000000000000001, 1.0, -1.0, 0x1p52, 0x1p52 + 0.5, -0x1p52 - 0.5,
                           0x1p53, -0x1p53, 0x1p61, -0x1p61, 1e6, 999999.5, 149.49999999999997, 3.0000000005};
    for (size_t i = 0; i < sizeof edge / sizeof *edge; i++)
        cr_assert_eq(sim_llround(edge[i]), (int64_t)llround(edge[i]), "x = %.17g", edge[i]);
    for (int k = -1000; k < 1000; k++) {
        double h = (double)k + 0.5;
        cr_assert_eq(sim_llround(h), (int64_t)llround(h), "x = %.17g", h);
        double up = nextafter(h, INFINITY), down = nextafter(h, -INFINITY);
        cr_assert_eq(sim_llround(up), (int64_t)llround(up), "x = %.17g", up);
        cr_assert_eq(sim_llround(down), (int64_t)llround(down), "x = %.17g", down);
    }
    uint64_t x = 88172645463325252ull;   /* xorshift64: random signs, mantissas and exponents */
    for (int i = 0; i < 200000; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        double v = ldexp((double)(x >> 11) * 0x1p-53, (int)(x % 80) - 20);   /* ~1e-6 .. 2^60 */
        if (x & 1) v = -v;
        cr_assert_eq(sim_llround(v), (int64_t)llround(v), "x = %.17g", v);
    }
}
