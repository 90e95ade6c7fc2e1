/* Simulated time: signed 64-bit integer nanoseconds.
 *
 * Integer time makes every comparison exact and every run bit-reproducible;
 * int64 nanoseconds cover +-292 years, far beyond any scenario. Conversions
 * to and from seconds are only done at the edges (configuration, output). */
#ifndef SIM_TIME_H
#define SIM_TIME_H

#include <math.h>
#include <stdint.h>

typedef int64_t sim_time_t;

#define SIM_NS   ((sim_time_t)1)
#define SIM_US   ((sim_time_t)1000)
#define SIM_MS   ((sim_time_t)1000000)
#define SIM_SEC  ((sim_time_t)1000000000)
#define SIM_MIN  (60 * SIM_SEC)
#define SIM_HOUR (3600 * SIM_SEC)

#define SIM_TIME_MAX INT64_MAX

/* Seconds as a double (for output and for formulas). Division, not a
 * multiplication by 1e-9 (which is inexact): whole seconds stay whole
 * (60 s is 60.0, not 60.000000000000007). */
static inline double sim_time_to_s(sim_time_t t) { return (double)t / 1e9; }

/* Nearest nanosecond to `s` seconds, saturated to [0, SIM_TIME_MAX/2] so that
 * `now + sim_time_from_s(x)` cannot overflow. Negative and NaN give 0. Used to
 * turn sampled durations into event times. */
static inline sim_time_t sim_time_from_s(double s)
{
    if (!(s > 0.0)) return 0;
    double ns = s * 1e9;
    if (ns >= (double)(SIM_TIME_MAX / 2)) return SIM_TIME_MAX / 2;
    /* llround(ns) for 0 < ns < 2^62, inline: truncate, then round half away
     * from zero on the exact fraction (ns - trunc(ns) is exact below 2^53,
     * and 0 above, where every double is an integer). */
    sim_time_t i = (sim_time_t)ns;
    return i + (sim_time_t)(ns - (double)i >= 0.5);   /* no branch: the fraction is random */
}

/* llround(x) for finite |x| < 2^62, inline (libm's is a call of ~30
 * instructions, and the hot path rounds a few values per request): truncate,
 * then round half away from zero on the exact fraction (x - trunc(x) is
 * exact for every double; 0 above 2^53, where every double is an integer).
 * The same value as llround for every such x. */
static inline int64_t sim_llround(double x)
{
    int64_t i = (int64_t)x;
    double f = x - (double)i;
    return i + (int64_t)(f >= 0.5) - (int64_t)(f <= -0.5);   /* no branch: the fraction is random */
}

#endif
