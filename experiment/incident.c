/* Incident metrics of a run from its sampled series (incident.h): worst
 * window, time below the SLO, recovery. Pure functions over arrays; calls
 * nothing but the standard library. */
#include "experiment/incident.h"

#include <math.h>

#include "sim/error.h"

/* Sample counts of a duration: round(d/dt), at least `min`. */
static size_t samples_of(double d, double dt, size_t min)
{
    if (!(d > 0) || !isfinite(d)) return min;
    double k = round(d / dt);
    if (k < (double)min) return min;
    if (k > 1e15) return (size_t)1e15;
    return (size_t)k;
}

static double val(const double *x, size_t i) { return isfinite(x[i]) ? x[i] : 0.0; }

/* Sums run over each window directly (O(n w)) rather than a running sum, so
 * integer-valued data give exact ratios and nothing drifts. */
static void worst_window(const inc_input_t *in, inc_result_t *out)
{
    size_t w = samples_of(in->window, in->dt, 1);
    if (w > in->n) w = in->n;
    out->worst_window_success = NAN;
    out->worst_window_end = NAN;
    for (size_t i = 0; i + w <= in->n && w > 0; i++) {
        double ok = 0, ended = 0;
        for (size_t j = i; j < i + w; j++) {
            ok += val(in->ok, j);
            ended += val(in->ended, j);
        }
        if (!(ended > 0)) continue;
        double r = ok / ended;
        if (isnan(out->worst_window_success) || r < out->worst_window_success) {
            out->worst_window_success = r;
            out->worst_window_end = in->t[i + w - 1];
        }
    }
}

/* Sample i is below the SLO (a sample where nothing ended is fine). */
static bool below_slo(const inc_input_t *in, size_t i)
{
    double ended = val(in->ended, i);
    if (!(ended > 0)) return false;
    bool bad = val(in->ok, i) / ended < in->slo_success;
    if (in->p95 && isfinite(in->p95[i]) && in->p95[i] > in->slo_p95) bad = true;
    return bad;
}

static double time_below_slo(const inc_input_t *in)
{
    size_t k = 0;
    for (size_t i = 0; i < in->n; i++) k += below_slo(in, i);
    return (double)k * in->dt;
}

/* Goodput smoothed over the m samples starting at i (i + m <= n). */
static double smoothed(const inc_input_t *in, size_t i, size_t m)
{
    double s = 0;
    for (size_t j = i; j < i + m; j++) s += val(in->ok, j);
    return s / (double)m;
}

static void recovery(const inc_input_t *in, inc_result_t *out)
{
    out->recovery_time = NAN;
    out->pre_trigger_goodput = NAN;
    out->pre_trigger_slo_met = NAN;
    if (isnan(in->trigger_start)) {
        out->recovered = true;
        return;
    }
    out->recovered = false;
    double start = in->trigger_start;
    double end = isnan(in->trigger_end) || in->trigger_end < start ? start : in->trigger_end;
    double eps = 1e-6 * in->dt;   /* sample times are sums of dt: tolerate their rounding */

    /* pre-trigger level: samples whose interval lies in [start - window, start) */
    double sum = 0;
    size_t cnt = 0, bad = 0;
    for (size_t i = 0; i < in->n; i++)
        if (in->t[i] - in->dt >= start - in->window - eps && in->t[i] <= start + eps) {
            sum += val(in->ok, i);
            bad += below_slo(in, i);
            cnt++;
        }
    if (cnt == 0) return;
    out->pre_trigger_goodput = sum / (double)cnt;
    out->pre_trigger_slo_met = 2 * bad <= cnt ? 1.0 : 0.0;
    double target = in->recover_fraction * out->pre_trigger_goodput;

    size_t m = samples_of(fmax(in->dt, 10.0), in->dt, 1);
    size_t h = samples_of(in->recover_hold, in->dt, 0);
    size_t run = 0, first = 0;   /* length and first sample of the current run of recovered windows */
    for (size_t i = 0; i + m <= in->n; i++) {
        if (in->t[i] - in->dt < end - eps) continue;   /* the window starts before the trigger ended */
        if (smoothed(in, i, m) >= target) {
            if (run++ == 0) first = i;
            if (run > h) {
                out->recovered = true;
                out->recovery_time = fmax(0.0, in->t[first] - in->dt - end);
                return;
            }
        } else {
            run = 0;
        }
    }
}

int inc_compute(const inc_input_t *in, inc_result_t *out)
{
    if (!out) return SIM_EINVAL;
    *out = (inc_result_t){NAN, NAN, NAN, NAN, false, NAN, NAN};
    if (!in || !(in->dt > 0) || !isfinite(in->dt)) return SIM_EINVAL;
    if (in->n > 0 && (!in->t || !in->ok || !in->ended)) return SIM_EINVAL;
    worst_window(in, out);
    out->time_below_slo = time_below_slo(in);
    recovery(in, out);
    return 0;
}
