/* Arrival processes (workload.h): Poisson or deterministic with a
 * piecewise-linear rate profile, by thinning. Calls the engine. */
#include "models/queueing/workload.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "sim/error.h"

static const char *const process_names[] = {"poisson", "deterministic", NULL};

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

    sim_cfg_node_t *rate = sim_cfg_get(map, "rate");
    sim_cfg_node_t *prof = sim_cfg_get(map, "profile");
    if (rate && prof) {
        sim_cfg_error(d, prof, "give either 'rate' or 'profile' in 'workload', not both");
        return SIM_ECONFIG;
    }
    if (!rate && !prof) {
        sim_cfg_error(d, map, "'workload' needs an arrival 'rate' (e.g. 800/s) or a 'profile'");
        return SIM_ECONFIG;
    }
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

double wl_rate_at(const wl_spec_t *spec, sim_time_t t)
{
    return seg_rate(&spec->segs[find_seg(spec, t)], t);
}

double wl_expected_arrivals(const wl_spec_t *spec, sim_time_t t0, sim_time_t t1)
{
    double sum = 0;
    for (size_t i = 0; i < spec->nsegs; i++) {
        const wl_segment_t *s = &spec->segs[i];
        sim_time_t a = t0 > s->start ? t0 : s->start;
        sim_time_t b = t1 < s->end ? t1 : s->end;
        if (b <= a) continue;
        sum += 0.5 * (seg_rate(s, a) + seg_rate(s, b)) * sim_time_to_s(b - a);
    }
    return sum;
}

double wl_constant_rate(const wl_spec_t *spec)
{
    double r = spec->segs[0].r0;
    for (size_t i = 0; i < spec->nsegs; i++)
        if (spec->segs[i].r0 != r || spec->segs[i].r1 != r) return -1;
    return r;
}

double wl_max_rate(const wl_spec_t *spec)
{
    double m = 0;
    for (size_t i = 0; i < spec->nsegs; i++) {
        if (spec->segs[i].r0 > m) m = spec->segs[i].r0;
        if (spec->segs[i].r1 > m) m = spec->segs[i].r1;
    }
    return m;
}

/* Time of the next arrival after t, or SIM_TIME_MAX if none will come. */
static sim_time_t next_arrival(wl_gen_t *g, sim_time_t t)
{
    const wl_spec_t *spec = g->spec;
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
    sim_time_t nt = next_arrival(g, sim_now(sim));
    if (nt != SIM_TIME_MAX) sim_schedule_at(sim, nt, arrival_event, g, 0);
    g->fn(sim, g->ctx);
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
    g->seg = find_seg(spec, sim_now(sim));
    sim_time_t nt = next_arrival(g, sim_now(sim));
    if (nt != SIM_TIME_MAX) sim_schedule_at(sim, nt, arrival_event, g, 0);
    return sim_error(sim);
}
