/* Arrival processes (workload.h): Poisson or deterministic with a
 * piecewise-linear rate profile, by thinning. Calls the engine. */
#include "models/queueing/workload.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "sim/error.h"

static const char *const process_names[] = {"poisson", "deterministic", "mmpp", NULL};

static int add_seg(wl_spec_t *s, sim_time_t start, sim_time_t end, double r0, double r1)
{
    wl_segment_t *n = realloc(s->segs, (s->nsegs + 1) * sizeof *n);
    if (!n) return SIM_ENOMEM;
    s->segs = n;
    s->segs[s->nsegs++] = (wl_segment_t){start, end, r0, r1};
    return 0;
}

int wl_spec_constant(wl_spec_t *spec, wl_process_t process, double rate)
{
    memset(spec, 0, sizeof *spec);
    spec->process = process;
    return add_seg(spec, 0, SIM_TIME_MAX, rate, rate);
}

void wl_spec_fini(wl_spec_t *spec)
{
    free(spec->segs);
    if (spec->trace) wl_trace_fini(spec->trace);
    free(spec->trace);
    free(spec->mmpp);
    sim_dist_fini(&spec->batch);
    memset(spec, 0, sizeof *spec);
}

/* An arrival rate: at most one arrival per nanosecond (the clock's
 * resolution); a faster one would schedule arrivals at the same instant
 * forever and the run would never advance. */
#define WL_MAX_RATE 1e9

static int arrival_rate(sim_diag_t *d, sim_cfg_node_t *n, unsigned flags, double *out)
{
    int rc = sim_cfg_rate_node(d, n, flags, out);
    if (rc == 0 && *out > WL_MAX_RATE) {
        char path[256];
        sim_cfg_path(n, path, sizeof path);
        sim_cfg_error(d, n, "'%s': expected an arrival rate of at most 1e9/s (one arrival per nanosecond, "
                            "the clock's resolution), got '%s'", path, n->text);
        return SIM_ECONFIG;
    }
    return rc;
}

int wl_spec_parse(sim_diag_t *d, sim_cfg_node_t *map, wl_spec_t *spec)
{
    int errs = d->errors;
    memset(spec, 0, sizeof *spec);
    if (!sim_cfg_expect_map(d, map, "workload")) return SIM_ECONFIG;
    int proc = WL_POISSON;
    sim_cfg_enum(d, map, "arrivals", 0, process_names, WL_POISSON, &proc);
    spec->process = (wl_process_t)proc;
    int rc;

    sim_cfg_node_t *rate = sim_cfg_get(map, "rate");
    sim_cfg_node_t *prof = sim_cfg_get(map, "profile");
    sim_cfg_node_t *trace = sim_cfg_get(map, "trace");
    sim_cfg_node_t *per = sim_cfg_get(map, "periodic");
    sim_cfg_node_t *states = sim_cfg_get(map, "states");
    sim_cfg_node_t *batch = sim_cfg_get(map, "batch");
    /* exactly one way of giving the rate */
    sim_cfg_node_t *given[5] = {rate, prof, trace, per, states};
    static const char *const given_name[5] = {"rate", "profile", "trace", "periodic", "states"};
    int ngiven = 0, first = -1;
    for (int i = 0; i < 5; i++)
        if (given[i]) {
            if (ngiven++ == 0) first = i;
            else {
                sim_cfg_error(d, given[i], "give one of 'rate', 'profile', 'periodic', 'states' (mmpp) or 'trace' in "
                                           "'workload', not both '%s' and '%s'", given_name[first], given_name[i]);
                return SIM_ECONFIG;
            }
        }
    if (spec->process == WL_MMPP && !states) {
        sim_cfg_error(d, ngiven ? given[first] : map, "'arrivals: mmpp' needs its 'states' (e.g. states: "
                                                     "[{rate: 300/s, mean_time: 10s}, {rate: 20/s, mean_time: 50s}])");
        return SIM_ECONFIG;
    }
    if (states && spec->process != WL_MMPP) {
        sim_cfg_error(d, states, "'states' are those of a Markov-modulated Poisson process: add 'arrivals: mmpp'");
        return SIM_ECONFIG;
    }
    if (!ngiven) {
        sim_cfg_error(d, map, "'workload' needs an arrival 'rate' (e.g. 800/s), a 'profile', a 'periodic' rate, "
                              "mmpp 'states' or a 'trace'");
        return SIM_ECONFIG;
    }
    if (batch) {
        if (trace) {
            sim_cfg_error(d, batch, "a trace gives every request its own row: 'batch' does not apply to it");
            return SIM_ECONFIG;
        }
        if ((rc = wl_batch_parse(d, batch, spec)) != 0) return rc;
    }
    if (trace) {
        if (sim_cfg_get(map, "arrivals")) {
            sim_cfg_error(d, sim_cfg_get(map, "arrivals"), "a trace gives the arrival times: remove 'arrivals'");
            return SIM_ECONFIG;
        }
        spec->process = WL_TRACE;
        if (!(spec->trace = calloc(1, sizeof *spec->trace))) return SIM_ENOMEM;
        if ((rc = wl_trace_parse(d, trace, spec->trace)) != 0) {
            free(spec->trace);
            spec->trace = NULL;
            return rc;
        }
        return 0;
    }
    if (states) return wl_mmpp_parse(d, map, spec);
    if (per) return wl_periodic_parse(d, per, spec);
    if (rate) {
        double r = 0;
        if (arrival_rate(d, rate, SIM_CFG_POSITIVE, &r) == 0 &&
            add_seg(spec, 0, SIM_TIME_MAX, r, r) != 0)
            return SIM_ENOMEM;
        return d->errors == errs ? 0 : SIM_ECONFIG;
    }
    if (!sim_cfg_expect_seq(d, prof, "profile")) return SIM_ECONFIG;
    if (prof->n == 0) {
        sim_cfg_error(d, prof, "'profile' needs at least one segment");
        return SIM_ECONFIG;
    }
    sim_time_t t = 0;
    for (size_t i = 0; i < prof->n; i++) {
        sim_cfg_node_t *seg = prof->vals[i];
        if (!sim_cfg_expect_map(d, seg, "profile segment")) continue;
        sim_time_t len = 0;
        bool last = i + 1 == prof->n;
        sim_cfg_duration(d, seg, "for", (last ? 0 : SIM_CFG_REQUIRED) | SIM_CFG_POSITIVE, 0, &len);
        sim_cfg_node_t *r = sim_cfg_get(seg, "rate");
        sim_cfg_node_t *from = sim_cfg_get(seg, "from");
        sim_cfg_node_t *to = sim_cfg_get(seg, "to");
        double r0 = 0, r1 = 0;
        if (r && (from || to)) {
            sim_cfg_error(d, r, "a profile segment has either 'rate' (a step) or 'from' and 'to' (a ramp)");
            continue;
        }
        if (r) {
            arrival_rate(d, r, 0, &r0);
            r1 = r0;
        } else if (from && to) {
            arrival_rate(d, from, 0, &r0);
            arrival_rate(d, to, 0, &r1);
        } else {
            sim_cfg_error(d, seg, "a profile segment needs 'rate' (a step) or 'from' and 'to' (a ramp)");
            continue;
        }
        sim_time_t end = (len == 0) ? SIM_TIME_MAX : t + len;
        if (len > 0 && end < t) end = SIM_TIME_MAX;
        if (d->errors == errs && add_seg(spec, t, end, r0, r1) != 0) return SIM_ENOMEM;
        t = end;
        if (len == 0) break;
    }
    /* no segment: errors (reported now, or for an earlier variant sharing
     * these nodes, which the diagnostics do not repeat) */
    if (d->errors != errs || spec->nsegs == 0) return SIM_ECONFIG;
    /* the last rate holds to the end of the run */
    wl_segment_t *lastseg = &spec->segs[spec->nsegs - 1];
    if (lastseg->end != SIM_TIME_MAX && add_seg(spec, lastseg->end, SIM_TIME_MAX, lastseg->r1, lastseg->r1))
        return SIM_ENOMEM;
    if (wl_max_rate(spec) <= 0) {
        sim_cfg_error(d, prof, "the profile's rate is zero everywhere: no request would arrive");
        return SIM_ECONFIG;
    }
    return 0;
}

static inline double seg_rate(const wl_segment_t *s, sim_time_t t)
{
    if (s->r0 == s->r1 || s->end == SIM_TIME_MAX) return s->r0;
    double f = (double)(t - s->start) / (double)(s->end - s->start);
    return s->r0 + (s->r1 - s->r0) * f;
}

static size_t find_seg(const wl_spec_t *spec, sim_time_t t)
{
    size_t i = 0;
    while (i + 1 < spec->nsegs && t >= spec->segs[i].end) i++;
    return i;
}

#define TWO_PI 6.283185307179586

static inline double periodic_rate(const wl_spec_t *s, sim_time_t t)
{
    sim_time_t m = (t - s->per_peak) % s->per_period;
    if (m < 0) m += s->per_period;
    double ph = (double)m / (double)s->per_period;
    return s->per_mean * (1 + s->per_amp * cos(TWO_PI * ph));
}

static double mmpp_mean(const wl_spec_t *s)
{
    double m = 0;
    for (size_t i = 0; i < s->nstates; i++) m += wl_mmpp_pi(s)[i] * wl_mmpp_rate(s)[i];
    return m;
}

/* Arrival epochs (not requests) at t. */
static double epoch_rate_at(const wl_spec_t *spec, sim_time_t t)
{
    switch (spec->process) {
    case WL_TRACE: {
        sim_time_t a = t - t % SIM_MIN;
        return wl_trace_count(spec->trace, a, a + SIM_MIN) / 60.0;
    }
    case WL_MMPP: return mmpp_mean(spec);
    default:
        if (spec->periodic) return periodic_rate(spec, t);
        return seg_rate(&spec->segs[find_seg(spec, t)], t);
    }
}

double wl_rate_at(const wl_spec_t *spec, sim_time_t t)
{
    return epoch_rate_at(spec, t) * wl_batch_mean(spec);
}

double wl_expected_arrivals(const wl_spec_t *spec, sim_time_t t0, sim_time_t t1)
{
    if (t1 <= t0) return 0;
    if (spec->process == WL_TRACE) return wl_trace_count(spec->trace, t0, t1);
    double bm = wl_batch_mean(spec);
    if (spec->process == WL_MMPP) return mmpp_mean(spec) * sim_time_to_s(t1 - t0) * bm;
    if (spec->periodic) {
        /* the integral of the cosine */
        double w = TWO_PI / sim_time_to_s(spec->per_period);
        double a = sim_time_to_s(t0 - spec->per_peak), b = sim_time_to_s(t1 - spec->per_peak);
        return bm * spec->per_mean * ((b - a) + spec->per_amp * (sin(w * b) - sin(w * a)) / w);
    }
    double sum = 0;
    for (size_t i = 0; i < spec->nsegs; i++) {
        const wl_segment_t *s = &spec->segs[i];
        sim_time_t a = t0 > s->start ? t0 : s->start;
        sim_time_t b = t1 < s->end ? t1 : s->end;
        if (b <= a) continue;
        sum += 0.5 * (seg_rate(s, a) + seg_rate(s, b)) * sim_time_to_s(b - a);
    }
    return sum * bm;
}

double wl_constant_rate(const wl_spec_t *spec)
{
    if (spec->process == WL_TRACE || spec->process == WL_MMPP || spec->periodic || spec->batched) return -1;
    double r = spec->segs[0].r0;
    for (size_t i = 0; i < spec->nsegs; i++)
        if (spec->segs[i].r0 != r || spec->segs[i].r1 != r) return -1;
    return r;
}

double wl_max_rate(const wl_spec_t *spec)
{
    double m = 0;
    if (spec->process == WL_TRACE) return spec->trace->peak_rate;
    if (spec->process == WL_MMPP) {
        for (size_t i = 0; i < spec->nstates; i++)
            if (wl_mmpp_rate(spec)[i] > m) m = wl_mmpp_rate(spec)[i];
        return m * wl_batch_mean(spec);
    }
    if (spec->periodic) return spec->per_mean * (1 + spec->per_amp) * wl_batch_mean(spec);
    for (size_t i = 0; i < spec->nsegs; i++) {
        if (spec->segs[i].r0 > m) m = spec->segs[i].r0;
        if (spec->segs[i].r1 > m) m = spec->segs[i].r1;
    }
    return m * wl_batch_mean(spec);
}

/* Trace: the next row's time (loops included); g->cur_next is that row. */
static sim_time_t next_trace(wl_gen_t *g)
{
    const wl_trace_t *tr = g->spec->trace;
    if (g->row == tr->n) {
        if (!tr->period) return SIM_TIME_MAX;
        g->row = 0;
        g->loops++;
    }
    double shift = (double)g->loops * (double)tr->period;
    if (shift + (double)tr->t[g->row] >= (double)SIM_TIME_MAX) return SIM_TIME_MAX;
    return (sim_time_t)g->loops * tr->period + tr->t[g->row++];
}

/* MMPP: enter a state drawn from `row` (the jump probabilities of the state
 * left, or the stationary distribution at the start) at time t. */
static void mmpp_enter(wl_gen_t *g, const double *row, sim_time_t t)
{
    const wl_spec_t *s = g->spec;
    double u = sim_rng_uniform(g->rng_state), c = 0;
    size_t k = 0, last = 0;
    for (; k < s->nstates; k++) {
        if (row[k] > 0) last = k;
        c += row[k];
        if (u < c) break;
    }
    if (k == s->nstates) k = last;   /* rounding of the cumulative sum */
    g->state = k;
    double hold = -log(sim_rng_uniform_pos(g->rng_state)) / wl_mmpp_leave(s)[k];
    sim_time_t h = sim_time_from_s(hold);
    g->state_end = h >= SIM_TIME_MAX - t ? SIM_TIME_MAX : t + (h > 0 ? h : 1);
}

static sim_time_t next_mmpp(wl_gen_t *g, sim_time_t t)
{
    const wl_spec_t *s = g->spec;
    for (;;) {
        double r = wl_mmpp_rate(s)[g->state];
        sim_time_t nt = SIM_TIME_MAX;
        if (r > 0) {
            sim_time_t dt = sim_time_from_s(-log(sim_rng_uniform_pos(g->rng)) / r);
            nt = dt >= SIM_TIME_MAX - t ? SIM_TIME_MAX : t + dt;
        }
        if (nt < g->state_end) return nt;
        if (g->state_end == SIM_TIME_MAX) return SIM_TIME_MAX;
        t = g->state_end;   /* the state changes first: restart there (memoryless) */
        mmpp_enter(g, wl_mmpp_jump(s) + g->state * s->nstates, t);
    }
}

static sim_time_t next_periodic(wl_gen_t *g, sim_time_t t)
{
    const wl_spec_t *spec = g->spec;
    double lmax = spec->per_mean * (1 + spec->per_amp);
    for (;;) {
        if (spec->process == WL_DETERMINISTIC) {
            double r = periodic_rate(spec, t);
            return t + sim_time_from_s(1.0 / (r > lmax * 1e-3 ? r : lmax * 1e-3));
        }
        sim_time_t nt = t + sim_time_from_s(-log(sim_rng_uniform_pos(g->rng)) / lmax);
        if (sim_rng_uniform(g->rng) * lmax <= periodic_rate(spec, nt)) return nt;
        t = nt;   /* thinned out */
    }
}

/* Time of the next arrival after t, or SIM_TIME_MAX if none will come. */
static sim_time_t next_arrival(wl_gen_t *g, sim_time_t t)
{
    const wl_spec_t *spec = g->spec;
    if (spec->process == WL_TRACE) return next_trace(g);
    if (spec->process == WL_MMPP) return next_mmpp(g, t);
    if (spec->periodic) return next_periodic(g, t);
    for (;;) {
        const wl_segment_t *s = &spec->segs[g->seg];
        double lmax = s->r0 > s->r1 ? s->r0 : s->r1;
        if (lmax <= 0) {
            if (s->end == SIM_TIME_MAX) return SIM_TIME_MAX;
            t = s->end;
            g->seg++;
            continue;
        }
        sim_time_t nt;
        if (spec->process == WL_DETERMINISTIC) {
            double r = seg_rate(s, t);
            if (r <= 0) r = lmax;   /* ramp starting at zero: step at the peak-rate spacing */
            nt = t + sim_time_from_s(1.0 / r);
        } else {
            nt = t + sim_time_from_s(-log(sim_rng_uniform_pos(g->rng)) / lmax);
        }
        if (nt >= s->end) {   /* past the segment: restart at its end (memoryless) */
            t = s->end;
            g->seg++;
            continue;
        }
        if (spec->process == WL_POISSON && s->r0 != s->r1 &&
            sim_rng_uniform(g->rng) * lmax > seg_rate(s, nt)) {
            t = nt;   /* thinned out */
            continue;
        }
        return nt;
    }
}

static void arrival_event(sim_t *sim, void *obj, uint64_t arg)
{
    (void)arg;
    wl_gen_t *g = obj;
    size_t row = g->row ? g->row - 1 : 0;   /* trace: the row scheduled last is this one */
    sim_time_t nt = next_arrival(g, sim_now(sim));
    if (nt != SIM_TIME_MAX) sim_schedule_at(sim, nt, arrival_event, g, 0);
    g->cur = row;
    int64_t k = 1;
    if (g->spec->batched) {
        double x = sim_dist_sample(&g->spec->batch, g->rng_batch);
        k = x < 1 ? 1 : x > 1e6 ? 1000000 : (int64_t)llround(x);
    }
    for (int64_t i = 0; i < k; i++) g->fn(sim, g->ctx);
}

int wl_gen_start(wl_gen_t *g, sim_t *sim, const wl_spec_t *spec, const char *stream,
                 wl_arrival_fn fn, void *ctx)
{
    memset(g, 0, sizeof *g);
    g->spec = spec;
    g->fn = fn;
    g->ctx = ctx;
    g->rng = sim_stream(sim, stream);
    if (!g->rng) return SIM_ENOMEM;
    sim_time_t now = sim_now(sim);
    if (spec->process == WL_MMPP) {
        /* a new stream, so adding MMPP changes no other workload's draws */
        if (!(g->rng_state = sim_stream(sim, "workload/mmpp"))) return SIM_ENOMEM;
        mmpp_enter(g, wl_mmpp_pi(spec), now);   /* stationary from the start */
    }
    if (spec->batched && !(g->rng_batch = sim_stream(sim, "workload/batch"))) return SIM_ENOMEM;
    if (spec->process == WL_TRACE) {
        /* the rows before now (a generator started late) are skipped */
        const wl_trace_t *tr = spec->trace;
        if (tr->period) g->loops = (uint64_t)(now / tr->period);
        sim_time_t in = now - (sim_time_t)g->loops * tr->period;
        while (g->row < tr->n && tr->t[g->row] < in) g->row++;
    } else if (!spec->periodic && spec->process != WL_MMPP) {
        g->seg = find_seg(spec, now);
    }
    sim_time_t nt = spec->process == WL_TRACE ? next_trace(g) : next_arrival(g, now);
    if (nt != SIM_TIME_MAX) sim_schedule_at(sim, nt, arrival_event, g, 0);
    return sim_error(sim);
}
