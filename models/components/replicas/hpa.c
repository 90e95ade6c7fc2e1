/* The Kubernetes HPA decision (see hpa.h). */
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "models/components/replicas/hpa.h"
#include "models/components/replicas/lb.h"
#include "sim/error.h"

const char *const hpa_metric_names[] = {"cpu", "inflight", "queue", "kv", NULL};

static int parse_rules(sim_diag_t *d, sim_cfg_node_t *map, const char *key, hpa_rules_t *r)
{
    sim_cfg_node_t *m = sim_cfg_get(map, key);
    if (!m) return 0;
    if (!sim_cfg_expect_map(d, m, key)) return SIM_ECONFIG;
    int rc = 0;
    rc |= sim_cfg_duration(d, m, "window", 0, r->window, &r->window);
    rc |= sim_cfg_int(d, m, "pods", 0, 0, LB_MAX_REPLICAS, r->pods, &r->pods);
    rc |= sim_cfg_double(d, m, "percent", 0, 0, 1e6, r->percent, &r->percent);
    rc |= sim_cfg_duration(d, m, "period", SIM_CFG_POSITIVE, r->period, &r->period);
    if (rc == 0 && r->pods == 0 && r->percent == 0) {
        sim_cfg_error(d, m, "'%s' allows no change: give 'pods' or 'percent' > 0", key);
        return SIM_ECONFIG;
    }
    return rc ? SIM_ECONFIG : 0;
}

int hpa_spec_parse(sim_diag_t *d, sim_cfg_node_t *map, int64_t replicas, unsigned allowed, hpa_spec_t *spec)
{
    /* the Kubernetes defaults (autoscaling/v2 HorizontalPodAutoscalerBehavior) */
    *spec = (hpa_spec_t){
        .enabled = false, .min_replicas = 1, .max_replicas = replicas, .metric = HPA_CPU, .target = 0.8,
        .tolerance = 0.1, .sync = 15 * SIM_SEC,
        .up = {.window = 0, .pods = 4, .percent = 100, .period = 15 * SIM_SEC},
        .down = {.window = 300 * SIM_SEC, .pods = 0, .percent = 100, .period = 15 * SIM_SEC},
    };
    if (!map || sim_cfg_is_null(map)) return 0;
    if (!sim_cfg_expect_map(d, map, "autoscale")) return SIM_ECONFIG;
    spec->enabled = true;
    int rc = 0, metric = HPA_CPU;
    rc |= sim_cfg_int(d, map, "min_replicas", 0, 1, LB_MAX_REPLICAS, 1, &spec->min_replicas);
    rc |= sim_cfg_int(d, map, "max_replicas", SIM_CFG_REQUIRED, 1, LB_MAX_REPLICAS, replicas, &spec->max_replicas);
    if (sim_cfg_enum(d, map, "metric", 0, hpa_metric_names, HPA_CPU, &metric) == 0 && !(allowed & (1u << metric))) {
        char ok[128] = "";
        for (int i = 0; hpa_metric_names[i]; i++)
            if (allowed & (1u << i))
                snprintf(ok + strlen(ok), sizeof ok - strlen(ok), "%s%s", *ok ? ", " : "", hpa_metric_names[i]);
        sim_cfg_error(d, sim_cfg_get(map, "metric"), "this component does not report '%s'; its metrics: %s",
                      hpa_metric_names[metric], ok);
        rc = SIM_ECONFIG;
    }
    spec->metric = (hpa_metric_t)metric;
    sim_cfg_node_t *t = sim_cfg_get(map, "target");
    if (!t) {
        sim_cfg_error(d, map, "missing required key 'target' in 'autoscale' (e.g. target: 60%% for cpu, "
                              "target: 8 for inflight)");
        rc = SIM_ECONFIG;
    } else if (spec->metric == HPA_CPU || spec->metric == HPA_KV) {
        rc |= sim_cfg_ratio(d, map, "target", SIM_CFG_POSITIVE, 0.8, &spec->target);
    } else {
        rc |= sim_cfg_double(d, map, "target", SIM_CFG_POSITIVE, 1e-9, 1e9, 1, &spec->target);
    }
    rc |= sim_cfg_double(d, map, "tolerance", 0, 0, 10, 0.1, &spec->tolerance);
    rc |= sim_cfg_duration(d, map, "sync", SIM_CFG_POSITIVE, spec->sync, &spec->sync);
    rc |= parse_rules(d, map, "up", &spec->up);
    rc |= parse_rules(d, map, "down", &spec->down);
    if (rc == 0 && spec->min_replicas > spec->max_replicas) {
        sim_cfg_error(d, sim_cfg_get(map, "min_replicas"), "min_replicas %lld is more than max_replicas %lld",
                      (long long)spec->min_replicas, (long long)spec->max_replicas);
        rc = SIM_ECONFIG;
    }
    if (rc == 0 && (replicas < spec->min_replicas || replicas > spec->max_replicas)) {
        sim_cfg_error(d, map, "the component starts with %lld replicas, outside autoscale's %lld..%lld",
                      (long long)replicas, (long long)spec->min_replicas, (long long)spec->max_replicas);
        rc = SIM_ECONFIG;
    }
    return rc ? SIM_ECONFIG : 0;
}

void hpa_init(hpa_t *h, const hpa_spec_t *spec)
{
    memset(h, 0, sizeof *h);
    h->spec = spec;
}

static void push(hpa_sample_t *ring, int *n, int *head, sim_time_t at, int64_t v)
{
    ring[*head] = (hpa_sample_t){at, v};
    *head = (*head + 1) % HPA_HISTORY;
    if (*n < HPA_HISTORY) (*n)++;
}

/* Sum of the scale events after now - period (getReplicasChangePerPeriod). */
static int64_t change_in_period(const hpa_sample_t *ring, int n, sim_time_t now, sim_time_t period)
{
    int64_t s = 0;
    for (int i = 0; i < n; i++)
        if (ring[i].at > now - period) s += ring[i].value;
    return s;
}

int64_t hpa_decide(hpa_t *h, sim_time_t now, int64_t current, int64_t ready, double metric_sum)
{
    const hpa_spec_t *sp = h->spec;
    /* 1. the metric's recommendation */
    int64_t desired = current;
    double ratio = ready > 0 ? metric_sum / (sp->target * (double)ready) : 0;
    h->last_ratio = ratio;
    if (ready > 0 && fabs(ratio - 1) > sp->tolerance) {
        int64_t starting = current - ready;
        if (ratio > 1 && starting > 0) {
            /* pods not yet ready count as using nothing */
            double r2 = metric_sum / (sp->target * (double)current);
            if (r2 > 1 + sp->tolerance) desired = (int64_t)ceil(r2 * (double)current - 1e-9);
        } else {
            desired = (int64_t)ceil(ratio * (double)ready - 1e-9);
        }
        if (desired < 1) desired = 1;
    }
    h->last_raw = desired;

    /* 2. stabilisation over the recorded recommendations */
    int64_t up = desired, down = desired;
    int old = -1;
    for (int i = 0; i < h->nrec; i++) {
        const hpa_sample_t *r = &h->rec[i];
        bool in_up = r->at > now - sp->up.window, in_down = r->at > now - sp->down.window;
        if (in_up && r->value < up) up = r->value;
        if (in_down && r->value > down) down = r->value;
        if (!in_up && !in_down) old = i;
    }
    int64_t rec = current;
    if (rec < up) rec = up;
    if (rec > down) rec = down;
    if (old >= 0) h->rec[old] = (hpa_sample_t){now, desired};   /* reuse an expired slot */
    else push(h->rec, &h->nrec, &h->rec_head, now, desired);
    h->last_stable = rec;

    /* 3. rate policies, 4. bounds */
    int64_t out = rec;
    if (rec > current) {
        int64_t added = change_in_period(h->up_ev, h->nup, now, sp->up.period);
        int64_t removed = change_in_period(h->down_ev, h->ndown, now, sp->up.period);
        int64_t start = current - added + removed;
        int64_t limit = INT64_MIN;   /* select policy Max: the largest change */
        if (sp->up.pods > 0 && start + sp->up.pods > limit) limit = start + sp->up.pods;
        if (sp->up.percent > 0) {
            int64_t p = (int64_t)ceil((double)start * (1 + sp->up.percent / 100) - 1e-9);
            if (p > limit) limit = p;
        }
        if (limit < current) limit = current;
        int64_t maxr = sp->max_replicas < limit ? sp->max_replicas : limit;
        if (out > maxr) out = maxr;
    } else if (rec < current) {
        int64_t added = change_in_period(h->up_ev, h->nup, now, sp->down.period);
        int64_t removed = change_in_period(h->down_ev, h->ndown, now, sp->down.period);
        int64_t start = current - added + removed;
        int64_t limit = INT64_MAX;   /* select policy Max: the lowest count */
        if (sp->down.pods > 0 && start - sp->down.pods < limit) limit = start - sp->down.pods;
        if (sp->down.percent > 0) {
            int64_t p = (int64_t)((double)start * (1 - sp->down.percent / 100));
            if (p < limit) limit = p;
        }
        if (limit > current) limit = current;
        int64_t minr = sp->min_replicas > limit ? sp->min_replicas : limit;
        if (out < minr) out = minr;
    }
    if (out > sp->max_replicas) out = sp->max_replicas;
    if (out < sp->min_replicas) out = sp->min_replicas;
    if (out > current) push(h->up_ev, &h->nup, &h->up_head, now, out - current);
    else if (out < current) push(h->down_ev, &h->ndown, &h->down_head, now, current - out);
    return out;
}

int64_t hpa_pool_scale(hpa_t *h, const hpa_pool_t *p, sim_t *sim, int64_t current, int64_t ready, double metric_sum)
{
    const hpa_spec_t *sp = h->spec;
    int64_t want = hpa_decide(h, sim_now(sim), current, ready, metric_sum);
    if (want == current) return current;
    char detail[160];
    snprintf(detail, sizeof detail, "%s %.3g per ready replica (target %.3g) over %lld ready: %lld -> %lld replicas",
             p->what[sp->metric], ready ? metric_sum / (double)ready : 0.0, sp->target, (long long)ready,
             (long long)current, (long long)want);
    sim_log_event(sim, want > current ? "scale_up" : "scale_down", p->name, (double)want, detail);
    int64_t got = current;
    for (int r = 0; r < p->slots && got < want; r++)
        if (p->state(p->ctx, r) == HPA_SLOT_EMPTY) {
            p->start(p->ctx, r);
            got++;
        }
    for (int pass = 0; pass < 2 && got > want; pass++)   /* not ready first, then the highest ready */
        for (int r = p->slots - 1; r >= 0 && got > want; r--)
            if (p->state(p->ctx, r) == (pass == 0 ? HPA_SLOT_STARTING : HPA_SLOT_READY)) {
                p->stop(p->ctx, r, pass == 1);
                got--;
            }
    return got;
}

double hpa_busy_ratio(const sim_tavg_t *a, const hpa_busy_mark_t *m, sim_time_t from, sim_time_t now, double servers)
{
    double area = a->area + a->value * (double)(now - a->last);
    double prev = m->area;
    if (a->start != m->start) {   /* the window restarted (warm-up): it holds only what followed */
        prev = 0;
        if (a->start > from) from = a->start;
    }
    double dt = (double)(now - from);
    return dt > 0 ? (area - prev) / (dt * servers) : 0;
}

void hpa_busy_mark(const sim_tavg_t *a, hpa_busy_mark_t *m, sim_time_t now)
{
    m->area = a->area + a->value * (double)(now - a->last);
    m->start = a->start;
}
