/* Incident metrics: how badly a run suffered during an incident and how long
 * it took to come back. Pure functions over a run's sampled time series, so
 * they are testable on synthetic data; the runner extracts the arrays.
 * Definitions (docs/compare.md, "Incident metrics"):
 *
 * Sample i covers the interval (t[i] - dt, t[i]]; rates are per second.
 *
 *   worst_window_success  min over windows of w = max(1, round(window/dt))
 *                         consecutive samples, sliding by one sample, of
 *                         sum(ok) / sum(ended); windows where nothing ended
 *                         are skipped; data shorter than w samples is one
 *                         window. NaN if nothing ended at all.
 *   time_below_slo        dt x the number of samples with ended > 0 and
 *                         (ok/ended < slo_success or p95 > slo_p95). A
 *                         sample where nothing ended is fine.
 *   pre_trigger_goodput   mean of ok over the samples inside
 *                         [trigger_start - window, trigger_start).
 *   recovery_time         the smoothed goodput g[i] = mean of ok over the m
 *                         = max(1, round(max(dt, 10 s)/dt)) samples starting
 *                         at sample i (a window that lies in the data) is
 *                         "recovered" when g[i] >= recover_fraction x
 *                         pre_trigger_goodput. Recovery starts at the first
 *                         sample i beginning at or after trigger_end such that
 *                         g[i], g[i+1], ..., g[i+h] are all recovered, h =
 *                         round(recover_hold/dt); recovery_time = (t[i] - dt)
 *                         - trigger_end. If no such i exists in the data
 *                         (including a recovery whose hold would end past the
 *                         data) or the pre-trigger level is unknown (no
 *                         sample before the trigger), recovered is false and
 *                         recovery_time NaN. No trigger: recovered true,
 *                         recovery_time and pre_trigger_goodput NaN.
 *   pre_trigger_slo_met   1 when at most half of the samples inside
 *                         [trigger_start - window, trigger_start) are below
 *                         the SLO (the rule of time_below_slo), else 0: a
 *                         service already overloaded before the trigger has
 *                         nothing to recover to. NaN: no trigger, or no such
 *                         sample.
 *
 * Non-finite ok or ended samples count as 0; p95 may be NULL (no latency
 * SLO data) and its NaN samples never break the SLO. */
#ifndef EXPERIMENT_INCIDENT_H
#define EXPERIMENT_INCIDENT_H

#include <stdbool.h>
#include <stddef.h>

/* Names under which the runner reports these figures in section "summary"
 * (cmp_incident_direction knows their directions). */
#define INC_WORST_WINDOW_SUCCESS "worst_window_success"   /* RS_RATIO, +1 */
#define INC_TIME_BELOW_SLO       "time_below_slo_s"       /* RS_SECONDS, -1 */
#define INC_RECOVERY_TIME        "recovery_time_s"        /* RS_SECONDS, -1; NaN: did not recover */
#define INC_RECOVERED            "recovered"              /* RS_RATIO (1 or 0 per run), +1 */
#define INC_PRE_TRIGGER_GOODPUT  "pre_trigger_goodput_per_s" /* RS_RATE, 0 */
#define INC_PRE_TRIGGER_SLO_MET  "pre_trigger_slo_met"    /* RS_RATIO (1 or 0 per run), +1 */

typedef struct {
    const double *t;            /* end of each sample interval, s; n samples, spacing dt */
    size_t n;
    double dt;                  /* s, > 0 */
    const double *ok;           /* requests answered (success + degraded) per second in each interval */
    const double *ended;        /* requests ended (any outcome) per second */
    const double *p95;          /* latency p95, s (NaN when no request completed); may be NULL */
    double slo_success;         /* e.g. 0.99 */
    double slo_p95;             /* s; INFINITY: no latency SLO */
    double window;              /* worst-window and pre-trigger window length, s (60) */
    double trigger_start, trigger_end;   /* s; trigger_start NaN: no trigger;
                                          * trigger_end NaN or < start: an instant (end = start) */
    double recover_fraction;    /* 0.95 */
    double recover_hold;        /* s the goodput must stay recovered (e.g. 30) */
} inc_input_t;

typedef struct {
    double worst_window_success;   /* NaN: nothing ended */
    double worst_window_end;       /* s: t of the worst window's last sample (the first such window); NaN with it */
    double time_below_slo;         /* s */
    double recovery_time;          /* s from trigger_end; NaN if not recovered or no trigger */
    bool recovered;
    double pre_trigger_goodput;    /* ok/s; NaN: no trigger or no sample before it */
    double pre_trigger_slo_met;    /* 1 or 0; NaN: no trigger or no sample before it */
} inc_result_t;

/* Compute every figure above. Returns 0, or SIM_EINVAL (NULL in/out, dt not
 * positive and finite, n > 0 with t, ok or ended NULL) with *out set to
 * NaNs and recovered false. Allocation-free; cost O(n x (w + m)). */
int inc_compute(const inc_input_t *in, inc_result_t *out);

#endif
