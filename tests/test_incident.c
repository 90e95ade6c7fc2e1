/* Incident metrics on synthetic series with hand-computed answers: the worst
 * window, time below the SLO (success ratio and latency), recovery at a known
 * time, a metastable run that never recovers, a recovery that dips back
 * within the hold, a recovery past the end of the data, no trigger. */
#include <criterion/criterion.h>

#include <math.h>
#include <stdlib.h>

#include "models/incident.h"
#include "sim/error.h"

#define MAXN 400

/* A series of n samples of dt: t[i] = (i+1) dt (sample i covers [i dt, (i+1) dt)). */
typedef struct {
    double t[MAXN], ok[MAXN], ended[MAXN], p95[MAXN];
    inc_input_t in;
} series_t;

static void series_init(series_t *s, size_t n, double dt, double ok, double ended)
{
    cr_assert_leq(n, MAXN);
    for (size_t i = 0; i < n; i++) {
        s->t[i] = (double)(i + 1) * dt;
        s->ok[i] = ok;
        s->ended[i] = ended;
        s->p95[i] = 0.5;
    }
    s->in = (inc_input_t){
        .t = s->t, .n = n, .dt = dt, .ok = s->ok, .ended = s->ended, .p95 = s->p95,
        .slo_success = 0.99, .slo_p95 = INFINITY, .window = 60,
        .trigger_start = NAN, .trigger_end = NAN, .recover_fraction = 0.95, .recover_hold = 30,
    };
}

static void set(double *x, size_t from, size_t to, double v)   /* samples from..to-1 */
{
    for (size_t i = from; i < to; i++) x[i] = v;
}

static inc_result_t compute(const series_t *s)
{
    inc_result_t r;
    cr_assert_eq(inc_compute(&s->in, &r), 0);
    return r;
}

/* ---- worst window ------------------------------------------------------------- */

Test(incident, worst_window_contains_the_whole_outage)
{
    series_t s;
    series_init(&s, 300, 1, 10, 10);
    set(s.ok, 100, 120, 0);   /* 20 s without an answer */
    inc_result_t r = compute(&s);
    /* a 60-sample window holds all 20: 400 / 600 */
    cr_assert_float_eq(r.worst_window_success, 2.0 / 3.0, 1e-15);
    cr_assert_eq(r.worst_window_end, 120.0, "first worst window: samples 60..119");

    /* dt = 5 s: 12-sample windows; 3 samples at half the rate: (9 x 10 + 3 x 5) / 120 */
    series_init(&s, 100, 5, 10, 10);
    set(s.ok, 40, 43, 5);
    r = compute(&s);
    cr_assert_float_eq(r.worst_window_success, 105.0 / 120.0, 1e-15);
    cr_assert_eq(r.worst_window_end, 5.0 * 43, "first window holding all three: samples 31..42");

    /* data shorter than a window: one window */
    series_init(&s, 20, 1, 10, 10);
    set(s.ok, 0, 5, 0);
    r = compute(&s);
    cr_assert_float_eq(r.worst_window_success, 150.0 / 200.0, 1e-15);
}

Test(incident, worst_window_skips_windows_where_nothing_ended)
{
    series_t s;
    series_init(&s, 200, 1, 0, 0);
    set(s.ok, 80, 200, 10);
    set(s.ended, 80, 200, 10);
    set(s.ok, 150, 160, 5);
    inc_result_t r = compute(&s);
    /* idle windows (samples 0..79) are no evidence; the worst is 550 / 600 */
    cr_assert_float_eq(r.worst_window_success, 550.0 / 600.0, 1e-15);
    /* nothing ended at all: NaN */
    series_init(&s, 100, 1, 0, 0);
    r = compute(&s);
    cr_assert(isnan(r.worst_window_success) && isnan(r.worst_window_end));
    cr_assert_eq(r.time_below_slo, 0.0, "idle samples are fine");
}

/* ---- time below SLO --------------------------------------------------------------- */

Test(incident, time_below_slo_counts_ratio_and_latency_breaches)
{
    series_t s;
    series_init(&s, 50, 2, 100, 100);
    set(s.ok, 5, 10, 98);           /* 0.98 < 0.99: 5 bad samples */
    s.ok[10] = 99;                  /* exactly 0.99: fine */
    set(s.p95, 20, 23, 1.5);        /* above 1 s: 3 bad samples */
    s.p95[23] = 1.0;                /* exactly the SLO: fine */
    s.ok[25] = 50;                  /* both at once: counted once */
    s.p95[25] = 2.0;
    set(s.ok, 30, 32, 0);           /* nothing ended: fine, whatever p95 says */
    set(s.ended, 30, 32, 0);
    s.p95[30] = NAN;
    s.p95[31] = 3.0;
    s.p95[40] = NAN;                /* requests ended but none completed in time: no latency */
    s.in.slo_p95 = 1.0;
    inc_result_t r = compute(&s);
    cr_assert_eq(r.time_below_slo, 2.0 * 9, "9 bad samples of 2 s, got %g", r.time_below_slo);

    s.in.slo_p95 = INFINITY;        /* no latency SLO */
    r = compute(&s);
    cr_assert_eq(r.time_below_slo, 2.0 * 6);
    s.in.slo_p95 = 1.0;
    s.in.p95 = NULL;                /* no latency series */
    r = compute(&s);
    cr_assert_eq(r.time_below_slo, 2.0 * 6);
}

/* ---- recovery ------------------------------------------------------------------ */

/* 100/s before a trigger over [60, 70); nothing answered over [60, 80); a
 * ramp of 5/s per second from 80 (sample j in 80..99 answers 5 (j - 79)/s);
 * 100/s from 100. */
static void outage_with_ramp(series_t *s)
{
    series_init(s, 300, 1, 100, 100);
    set(s->ok, 60, 80, 0);
    for (size_t j = 80; j < 100; j++) s->ok[j] = 5.0 * (double)(j - 79);
    s->in.trigger_start = 60;
    s->in.trigger_end = 70;
}

Test(incident, recovery_at_hand_computed_time)
{
    series_t s;
    outage_with_ramp(&s);
    inc_result_t r = compute(&s);
    cr_assert_eq(r.pre_trigger_goodput, 100.0);
    /* 10-sample means starting at i: i = 94 -> (15+..+20) x 5 + 4 x 100 = 925 -> 92.5;
     * i = 95 -> (16+..+20) x 5 + 5 x 100 = 950 -> 95 >= 0.95 x 100, and stays.
     * Recovered from t = 95: 25 s after the trigger ended. */
    cr_assert(r.recovered);
    cr_assert_eq(r.recovery_time, 25.0, "got %g", r.recovery_time);

    /* a stricter target: 99% needs i = 98 (95 + 100 + 8 x 100 = 995 -> 99.5; i = 97: 98.5) */
    s.in.recover_fraction = 0.99;
    r = compute(&s);
    cr_assert_eq(r.recovery_time, 28.0, "got %g", r.recovery_time);

    /* dt = 5 s: the smoothing spans 2 samples; outage over [300, 360), trigger [300, 310] */
    series_init(&s, 120, 5, 100, 100);
    set(s.ok, 60, 72, 0);
    s.in.trigger_start = 300;
    s.in.trigger_end = 310;
    r = compute(&s);
    cr_assert_eq(r.pre_trigger_goodput, 100.0, "12 samples over [240, 300)");
    cr_assert(r.recovered);
    cr_assert_eq(r.recovery_time, 50.0, "sample 72 starts at 360: %g", r.recovery_time);
}

/* A fault that did no harm: recovered at the first sample that begins at or
 * after the trigger's end, never earlier (the smoothed window must not reach
 * back into the trigger). */
Test(incident, recovery_starts_no_earlier_than_the_trigger_end)
{
    series_t s;
    series_init(&s, 300, 1, 100, 100);
    s.in.trigger_start = 60;
    s.in.trigger_end = 70;
    inc_result_t r = compute(&s);
    cr_assert(r.recovered);
    cr_assert_eq(r.recovery_time, 0.0);
    s.in.trigger_end = 70.5;        /* between samples: the next one starts at 71 */
    r = compute(&s);
    cr_assert_float_eq(r.recovery_time, 0.5, 1e-12, "got %g", r.recovery_time);
    /* a dip during the trigger does not count against recovery after it */
    set(s.ok, 65, 71, 0);
    r = compute(&s);
    cr_assert_float_eq(r.recovery_time, 0.5, 1e-12, "got %g", r.recovery_time);
}

Test(incident, metastable_run_never_recovers)
{
    series_t s;
    series_init(&s, 300, 1, 100, 100);
    set(s.ok, 60, 300, 60);   /* the trigger ends; goodput stays at 60% */
    s.in.trigger_start = 60;
    s.in.trigger_end = 70;
    inc_result_t r = compute(&s);
    cr_assert(!r.recovered);
    cr_assert(isnan(r.recovery_time));
    cr_assert_eq(r.pre_trigger_goodput, 100.0);
    cr_assert_float_eq(r.worst_window_success, 0.6, 1e-15);
    cr_assert_eq(r.time_below_slo, 240.0);
}

Test(incident, recovery_must_hold_and_dips_restart_it)
{
    series_t s;
    series_init(&s, 300, 1, 100, 100);
    s.in.trigger_start = 60;
    s.in.trigger_end = 70;
    set(s.ok, 60, 90, 0);
    set(s.ok, 105, 110, 0);   /* back at 90 for 15 s, then a 5 s relapse */
    /* smoothed windows holding a relapse sample start at 96..109 */
    s.in.recover_hold = 30;
    inc_result_t r = compute(&s);
    cr_assert(r.recovered);
    cr_assert_eq(r.recovery_time, 40.0, "recovered for good at 110: %g", r.recovery_time);
    s.in.recover_hold = 0;
    r = compute(&s);
    cr_assert_eq(r.recovery_time, 20.0, "first back at 90: %g", r.recovery_time);
    s.in.recover_hold = 5;    /* windows 90..95 are all clean */
    r = compute(&s);
    cr_assert_eq(r.recovery_time, 20.0, "%g", r.recovery_time);
    s.in.recover_hold = 6;    /* window 96 is not */
    r = compute(&s);
    cr_assert_eq(r.recovery_time, 40.0, "%g", r.recovery_time);
}

Test(incident, recovery_after_the_end_of_the_data_is_no_recovery)
{
    series_t s;
    series_init(&s, 300, 1, 100, 100);
    s.in.trigger_start = 60;
    s.in.trigger_end = 70;
    set(s.ok, 60, 280, 0);    /* back at 280; the data ends at 300 */
    s.in.recover_hold = 30;
    inc_result_t r = compute(&s);
    cr_assert(!r.recovered, "a 30 s hold from 280 ends past the data");
    cr_assert(isnan(r.recovery_time));
    s.in.recover_hold = 10;   /* windows 280..290 (the last one 290..299) all lie in the data */
    r = compute(&s);
    cr_assert(r.recovered);
    cr_assert_eq(r.recovery_time, 210.0);
    s.in.recover_hold = 11;   /* window 291 would reach past sample 299 */
    r = compute(&s);
    cr_assert(!r.recovered);
}

Test(incident, no_trigger_and_instant_trigger)
{
    series_t s;
    series_init(&s, 300, 1, 100, 100);
    set(s.ok, 60, 90, 0);
    inc_result_t r = compute(&s);   /* trigger_start NaN */
    cr_assert(r.recovered);
    cr_assert(isnan(r.recovery_time));
    cr_assert(isnan(r.pre_trigger_goodput));
    cr_assert_float_eq(r.worst_window_success, 0.5, 1e-15);
    cr_assert_eq(r.time_below_slo, 30.0);

    s.in.trigger_start = 60;        /* no end: an instant (a kill) */
    r = compute(&s);
    cr_assert(r.recovered);
    cr_assert_eq(r.recovery_time, 30.0);
    s.in.trigger_end = 50;          /* an end before the start counts as the start */
    r = compute(&s);
    cr_assert_eq(r.recovery_time, 30.0);

    s.in.trigger_start = 0;         /* nothing before the trigger: no reference level */
    s.in.trigger_end = 10;
    r = compute(&s);
    cr_assert(isnan(r.pre_trigger_goodput));
    cr_assert(!r.recovered);
    cr_assert(isnan(r.recovery_time));
}

Test(incident, bad_input_is_refused)
{
    series_t s;
    series_init(&s, 10, 1, 1, 1);
    inc_result_t r;
    s.in.dt = 0;
    cr_assert_eq(inc_compute(&s.in, &r), SIM_EINVAL);
    cr_assert(isnan(r.worst_window_success) && isnan(r.time_below_slo) && !r.recovered);
    s.in.dt = NAN;
    cr_assert_eq(inc_compute(&s.in, &r), SIM_EINVAL);
    s.in.dt = 1;
    s.in.ok = NULL;
    cr_assert_eq(inc_compute(&s.in, &r), SIM_EINVAL);
    cr_assert_eq(inc_compute(NULL, &r), SIM_EINVAL);
    cr_assert_eq(inc_compute(&s.in, NULL), SIM_EINVAL);
    cr_assert_str_eq(sim_strerror(SIM_EINVAL), "invalid argument");
    /* no samples is valid: nothing to judge */
    s.in.n = 0;
    s.in.ok = s.ok;
    cr_assert_eq(inc_compute(&s.in, &r), 0);
    cr_assert(isnan(r.worst_window_success));
    cr_assert_eq(r.time_below_slo, 0.0);
    cr_assert(r.recovered);
}
