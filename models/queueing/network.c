/* The queueing-network model (network.h): a workload routed through
 * stations; its type table for the experiment layer (models/model.h) and
 * its report with the queueing-theory predictions (theory.h). */
#include "models/queueing/network.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "models/model.h"
#include "models/queueing/theory.h"
#include "sim/error.h"
#include "sim/nameidx.h"

struct net_req {
    stn_job_t job;            /* first member: a stn_job_t* is a net_req_t* */
    net_req_t *next_free;
    uint64_t id;
    sim_time_t arrival;
    uint32_t hop;
};

#define REQ_SLAB 4096

int net_spec_find(const net_spec_t *spec, const char *name)
{
    for (size_t i = 0; i < spec->nstations; i++)
        if (strcmp(spec->stations[i].name, name) == 0) return (int)i;
    return -1;
}

static const char *station_name_at(const void *spec, size_t i)
{
    return ((const net_spec_t *)spec)->stations[i].name;
}

int net_spec_parse(sim_diag_t *d, sim_cfg_node_t *root, net_spec_t *spec)
{
    int errs = d->errors;
    memset(spec, 0, sizeof *spec);
    sim_cfg_node_t *wl = sim_cfg_get(root, "workload");
    if (!wl)
        sim_cfg_error(d, root, "missing required top-level key 'workload' (e.g. workload: {arrivals: poisson, rate: 9/s})");
    else
        wl_spec_parse(d, wl, &spec->workload);

    sim_cfg_node_t *sts = sim_cfg_get(root, "stations");
    bool stations_ok = sts && sts->kind == SIM_CFG_MAP;   /* else route names cannot be checked */
    if (!sts) {
        sim_cfg_error(d, root, "missing required top-level key 'stations' (e.g. stations: {db: {servers: 4, service: {dist: exponential, mean: 20ms}}})");
    } else if (sim_cfg_expect_map(d, sts, "stations")) {
        if (sts->n == 0) sim_cfg_error(d, sts, "'stations' is empty: give at least one station");
        spec->stations = calloc(sts->n ? sts->n : 1, sizeof *spec->stations);
        if (!spec->stations) return SIM_ENOMEM;
        for (size_t i = 0; i < sts->n; i++) {
            sim_cfg_touch(sts->vals[i]);
            stn_spec_parse(d, sts->vals[i], sts->keys[i]->text, &spec->stations[spec->nstations++]);
        }
    }

    sim_cfg_node_t *route = sim_cfg_get(root, "route");
    if (!route) {
        sim_cfg_error(d, root, "missing required top-level key 'route' (the list of stations a request visits, e.g. route: [frontend, db])");
    } else if (sim_cfg_expect_seq(d, route, "route")) {
        if (route->n == 0) sim_cfg_error(d, route, "'route' is empty: list the stations a request visits");
        spec->route = calloc(route->n ? route->n : 1, sizeof *spec->route);
        if (!spec->route) return SIM_ENOMEM;
        /* the stations by name: O(1) per route entry, so that a network of
         * thousands of stations loads in linear time */
        sim_nameidx_t byname;
        sim_nameidx_init(&byname, station_name_at, spec);
        for (size_t i = 0; i < spec->nstations; i++)
            if (sim_nameidx_add(&byname, i) != 0) {
                sim_nameidx_fini(&byname);
                return SIM_ENOMEM;
            }
        for (size_t i = 0; i < route->n; i++) {
            const char *name = NULL;
            if (sim_cfg_string_node(d, route->vals[i], &name) != 0) continue;
            int k = (int)sim_nameidx_find(&byname, name);
            if (k < 0 && !stations_ok) continue;   /* already reported: no cascade */
            if (k < 0) {
                const char *cands[256];
                size_t nc = 0;
                for (size_t j = 0; j < spec->nstations && nc < 256; j++) cands[nc++] = spec->stations[j].name;
                const char *best = sim_cfg_closest(name, cands, nc);
                if (best)
                    sim_cfg_error(d, route->vals[i], "route names station '%s', which is not defined in 'stations' (did you mean '%s'?)", name, best);
                else
                    sim_cfg_error(d, route->vals[i], "route names station '%s', which is not defined in 'stations'", name);
                continue;
            }
            spec->route[spec->nroute++] = (size_t)k;
        }
        spec->name_probes = byname.probes;
        sim_nameidx_fini(&byname);
    }
    return d->errors == errs ? 0 : SIM_ECONFIG;
}

void net_spec_fini(net_spec_t *spec)
{
    for (size_t i = 0; i < spec->nstations; i++) stn_spec_fini(&spec->stations[i]);
    free(spec->stations);
    free(spec->route);
    wl_spec_fini(&spec->workload);
    memset(spec, 0, sizeof *spec);
}

/* ---- request pool ---- */

static net_req_t *req_alloc(net_t *net)
{
    if (!net->free_reqs) {
        void **s = realloc(net->slabs, (net->nslabs + 1) * sizeof *s);
        if (!s) return NULL;
        net->slabs = s;
        net_req_t *slab = calloc(REQ_SLAB, sizeof *slab);
        if (!slab) return NULL;
        net->slabs[net->nslabs++] = slab;
        for (size_t i = REQ_SLAB; i-- > 0;) {
            slab[i].next_free = net->free_reqs;
            net->free_reqs = &slab[i];
        }
    }
    net_req_t *r = net->free_reqs;
    net->free_reqs = r->next_free;
    return r;
}

static void req_free(net_t *net, net_req_t *r)
{
    r->next_free = net->free_reqs;
    net->free_reqs = r;
    net->in_flight--;
}

/* ---- request life ---- */

static void req_end(net_t *net, net_req_t *r)
{
    req_free(net, r);
}

static void submit_hop(net_t *net, net_req_t *r)
{
    station_t *st = &net->st[net->spec->route[r->hop]];
    r->job.demand = -1;
    if (!stn_submit(st, &r->job)) {
        net->rejected++;
        net->win_rejected++;
        req_end(net, r);
    }
}

static void on_arrival(sim_t *sim, void *ctx)
{
    net_t *net = ctx;
    net_req_t *r = req_alloc(net);
    if (!r) {
        sim->error = SIM_ENOMEM;
        sim_stop(sim);
        return;
    }
    r->id = net->next_id++;
    r->arrival = sim_now(sim);
    r->hop = 0;
    net->in_flight++;
    net->arrivals++;
    net->win_arrivals++;
    submit_hop(net, r);
}

static void on_exit_station(sim_t *sim, void *owner, stn_job_t *job, stn_outcome_t outcome)
{
    net_t *net = owner;
    net_req_t *r = (net_req_t *)job;
    if (outcome == STN_SHED) {   /* CoDel shed it: refused, like a full queue */
        net->rejected++;
        net->win_rejected++;
        req_end(net, r);
        return;
    }
    if (outcome != STN_DONE) {   /* timed out (stations of a network are never aborted) */
        net->timed_out++;
        net->win_timed_out++;
        req_end(net, r);
        return;
    }
    if (++r->hop < net->spec->nroute) {
        submit_hop(net, r);
        return;
    }
    sim_time_t soj = sim_now(sim) - r->arrival;
    net->completed++;
    net->win_completed++;
    sim_tmean_add(&net->sojourn_s, soj);
    if (net->windowed)
        sim_hist_add2(&net->sojourn, &net->win_sojourn, soj);
    else
        sim_hist_add(&net->sojourn, soj);
    req_end(net, r);
}

/* ---- statistics ---- */

enum { C_SUCCESS, C_REJECTED, C_TIMEOUT, C_INFLIGHT, C_P50, C_P95, C_P99, C_RATIO };

static void sampler(sim_t *sim, void *ctx, sim_time_t dt)
{
    net_t *net = ctx;
    double secs = sim_time_to_s(dt);
    uint64_t ended = net->win_completed + net->win_rejected + net->win_timed_out;
    sim_series_set(sim, net->col[C_SUCCESS], (double)net->win_completed / secs);
    sim_series_set(sim, net->col[C_REJECTED], (double)net->win_rejected / secs);
    sim_series_set(sim, net->col[C_TIMEOUT], (double)net->win_timed_out / secs);
    sim_series_set(sim, net->col[C_INFLIGHT], (double)net->in_flight);
    sim_series_set(sim, net->col[C_P50], sim_hist_quantile(&net->win_sojourn, 0.50) * 1e-9);
    sim_series_set(sim, net->col[C_P95], sim_hist_quantile(&net->win_sojourn, 0.95) * 1e-9);
    sim_series_set(sim, net->col[C_P99], sim_hist_quantile(&net->win_sojourn, 0.99) * 1e-9);
    sim_series_set(sim, net->col[C_RATIO], ended ? (double)net->win_completed / (double)ended : NAN);
    net->win_completed = net->win_rejected = net->win_timed_out = net->win_arrivals = 0;
    sim_hist_reset(&net->win_sojourn);
}

static void warmup(sim_t *sim, void *ctx)
{
    net_t *net = ctx;
    net->warmup_end = sim_now(sim);
    net->arrivals = net->completed = net->rejected = net->timed_out = 0;
    sim_tmean_reset(&net->sojourn_s);
    sim_hist_reset(&net->sojourn);
}

net_t *net_create(sim_t *sim, const net_spec_t *spec)
{
    net_t *net = calloc(1, sizeof *net);
    if (!net) return NULL;
    net->sim = sim;
    net->spec = spec;
    net->windowed = sim_sampling(sim);
    sim_tmean_reset(&net->sojourn_s);
    if (sim_hist_init(&net->sojourn) || sim_hist_init(&net->win_sojourn)) goto fail;
    static const struct { const char *name, *unit, *help; } cols[] = {
        {"requests_per_second{outcome=success}", "1/s", "requests completed in the interval / interval"},
        {"requests_per_second{outcome=rejected}", "1/s", "requests rejected (a queue was full) in the interval / interval"},
        {"requests_per_second{outcome=timeout}", "1/s", "requests that timed out in a queue in the interval / interval"},
        {"requests_in_flight", "1", "requests in the system at the sample time"},
        {"latency_p50_seconds", "s", "median end-to-end latency of requests completed in the interval"},
        {"latency_p95_seconds", "s", "95th percentile end-to-end latency of requests completed in the interval"},
        {"latency_p99_seconds", "s", "99th percentile end-to-end latency of requests completed in the interval"},
        {"success_ratio", "1", "completed / (completed + rejected + timed out) in the interval"},
    };
    for (int i = 0; i < 8; i++)
        if ((net->col[i] = sim_series_add(sim, cols[i].name, cols[i].unit, cols[i].help)) < 0) goto fail;
    if (sim_add_sampler(sim, sampler, net) || sim_add_warmup_hook(sim, warmup, net)) goto fail;

    net->st = calloc(spec->nstations, sizeof *net->st);
    if (!net->st) goto fail;
    for (size_t i = 0; i < spec->nstations; i++)
        if (stn_init(&net->st[i], sim, &spec->stations[i], on_exit_station, net)) goto fail;
    if (wl_gen_start(&net->gen, sim, &spec->workload, "workload/arrivals", on_arrival, net)) goto fail;
    return net;
fail:
    net_destroy(net);
    return NULL;
}

void net_destroy(net_t *net)
{
    if (!net) return;
    if (net->st)
        for (size_t i = 0; i < net->spec->nstations; i++) stn_fini(&net->st[i]);
    free(net->st);
    for (size_t i = 0; i < net->nslabs; i++) free(net->slabs[i]);
    free(net->slabs);
    sim_hist_fini(&net->sojourn);
    sim_hist_fini(&net->win_sojourn);
    free(net);
}

void net_finish(net_t *net)
{
    for (size_t i = 0; i < net->spec->nstations; i++) stn_finish(&net->st[i]);
}

int net_station_table(const net_t *net, sim_table_t *t)
{
    sim_table_init(t, "stations");
    int c_name = sim_table_col_str(t, "name", 64);
    int c_arr = sim_table_col_i64(t, "arrivals", "1");
    int c_comp = sim_table_col_i64(t, "completions", "1");
    int c_rej = sim_table_col_i64(t, "rejected", "1");
    int c_to = sim_table_col_i64(t, "timed_out", "1");
    int c_servers = sim_table_col_i64(t, "servers", "1");
    int c_wait = sim_table_col_f64(t, "mean_wait_s", "s");
    int c_soj = sim_table_col_f64(t, "mean_sojourn_s", "s");
    int c_util = sim_table_col_f64(t, "utilization", "1");
    int c_q = sim_table_col_f64(t, "mean_queue_len", "1");
    int c_p50 = sim_table_col_f64(t, "sojourn_p50_s", "s");
    int c_p95 = sim_table_col_f64(t, "sojourn_p95_s", "s");
    int c_p99 = sim_table_col_f64(t, "sojourn_p99_s", "s");
    for (size_t i = 0; i < net->spec->nstations; i++) {
        const station_t *st = &net->st[i];
        unsigned char *row = sim_table_append(t);
        if (!row) return SIM_ENOMEM;
        sim_row_str(t, row, c_name, st->spec->name);
        sim_row_i64(t, row, c_arr, (int64_t)st->n.arrivals);
        sim_row_i64(t, row, c_comp, (int64_t)st->n.completions);
        sim_row_i64(t, row, c_rej, (int64_t)st->n.rejected);
        sim_row_i64(t, row, c_to, (int64_t)st->n.timed_out);
        sim_row_i64(t, row, c_servers, st->spec->servers);
        sim_row_f64(t, row, c_wait, sim_tmean_s(&st->wait_s));
        sim_row_f64(t, row, c_soj, sim_tmean_s(&st->sojourn_s));
        sim_row_f64(t, row, c_util, stn_utilization(st));
        sim_row_f64(t, row, c_q, stn_mean_queue_len(st));
        sim_row_f64(t, row, c_p50, sim_hist_quantile(&st->sojourn, 0.50) * 1e-9);
        sim_row_f64(t, row, c_p95, sim_hist_quantile(&st->sojourn, 0.95) * 1e-9);
        sim_row_f64(t, row, c_p99, sim_hist_quantile(&st->sojourn, 0.99) * 1e-9);
    }
    return 0;
}

/* ---- the network as a model ------------------------------------------------- */

static int m_parse(sim_diag_t *d, sim_cfg_node_t *root, const sim_scenario_t *sc, void *spec)
{
    (void)sc;
    return net_spec_parse(d, root, spec);
}

static void m_spec_fini(void *spec) { net_spec_fini(spec); }

static void m_check(const void *vspec, const sim_scenario_t *sc, sim_cfg_node_t *root, sim_diag_t *d)
{
    const net_spec_t *n = vspec;
    /* Stability is a long-run property: judge it at the rate that holds after
     * the profile's last segment. A transient spike above capacity only
     * builds a queue for a while (validate reports the peak load). */
    double lambda = n->workload.segs[n->workload.nsegs - 1].r1;
    sim_cfg_node_t *sts = sim_cfg_get(root, "stations");
    bool *on_route = calloc(n->nstations ? n->nstations : 1, sizeof *on_route);
    if (!on_route) return;   /* only warnings are lost */
    for (size_t j = 0; j < n->nroute; j++) on_route[n->route[j]] = true;
    for (size_t i = 0; i < n->nstations; i++) {
        const stn_spec_t *st = &n->stations[i];
        /* station i is the i-th key of `stations` (parsed in order) */
        sim_cfg_node_t *node = sts && sts->kind == SIM_CFG_MAP && i < sts->n && !strcmp(sts->keys[i]->text, st->name)
                                   ? sts->vals[i]
                                   : sts ? sim_cfg_get(sts, st->name) : NULL;
        if (!node) continue;
        if (!on_route[i]) {
            sim_cfg_warn(d, node, "station '%s' is not on the route: no request will visit it", st->name);
            continue;
        }
        stn_spec_check(st, lambda, sc, node, d);
    }
    free(on_route);
}

static void m_describe(const void *vspec, FILE *out)
{
    const net_spec_t *n = vspec;
    fprintf(out, "network of %zu station%s, route", n->nstations, n->nstations == 1 ? "" : "s");
    for (size_t i = 0; i < n->nroute; i++) fprintf(out, "%s%s", i ? " -> " : " ", n->stations[n->route[i]].name);
    fprintf(out, "\n");
    double lambda = wl_max_rate(&n->workload);
    for (size_t i = 0; i < n->nstations; i++) {
        const stn_spec_t *st = &n->stations[i];
        fprintf(out, "  %-16s %lld server%s, mean service %g s, offered load per server %.3g (at peak rate %g/s)\n",
                st->name, (long long)st->servers, st->servers == 1 ? "" : "s", sim_dist_mean(&st->service),
                lambda * sim_dist_mean(&st->service) / (double)st->servers, lambda);
    }
}

static void *m_create(sim_t *sim, const void *spec) { return net_create(sim, spec); }
static void m_finish(void *inst) { net_finish(inst); }
static void m_destroy(void *inst) { net_destroy(inst); }

static int m_write(const void *inst, sim_trace_t *tr, const char *group)
{
    sim_table_t st;
    int rc = net_station_table(inst, &st);
    if (rc == 0) {
        char p[512];
        snprintf(p, sizeof p, "%s/stations", group);
        rc = sim_trace_table(tr, p, &st);
    }
    sim_table_fini(&st);
    return rc;
}

void stn_report(const station_t *st, rs_report_t *rep)
{
    const char *n = st->spec->name;
    rs_report_add(rep, "stations", n, "arrivals", RS_COUNT, (double)st->n.arrivals);
    rs_report_add(rep, "stations", n, "completions", RS_COUNT, (double)st->n.completions);
    rs_report_add(rep, "stations", n, "rejected", RS_COUNT, (double)st->n.rejected);
    rs_report_add(rep, "stations", n, "timed out", RS_COUNT, (double)st->n.timed_out);
    rs_report_add(rep, "stations", n, "utilization", RS_RATIO, stn_utilization(st));
    rs_report_add(rep, "stations", n, "mean wait", RS_SECONDS, sim_tmean_s(&st->wait_s));
    rs_report_add(rep, "stations", n, "p95 sojourn", RS_SECONDS, sim_hist_quantile(&st->sojourn, 0.95) * 1e-9);
}

static void m_report(const void *vinst, rs_report_t *rep)
{
    const net_t *net = vinst;
    const net_spec_t *spec = net->spec;
    for (size_t i = 0; i < spec->nstations; i++) {
        stn_report(&net->st[i], rep);
        theory_pred_t tp;
        if (theory_predict_station(spec, i, &tp)) {
            if (tp.blocking > 0)
                rs_report_note(rep, "stations", spec->stations[i].name,
                               "theory %s: utilization %.4f, mean wait %.5g s, blocking probability %.4f",
                               tp.model, tp.util, tp.wait_s, tp.blocking);
            else
                rs_report_note(rep, "stations", spec->stations[i].name,
                               "theory %s: utilization %.4f, mean wait %.5g s", tp.model, tp.util, tp.wait_s);
        }
    }
    uint64_t ended = net->completed + net->rejected + net->timed_out;
    double span = sim_time_to_s(sim_now(net->sim) - net->warmup_end);
    rs_report_add(rep, "summary", "", "arrivals", RS_COUNT, (double)net->arrivals);
    rs_report_add(rep, "summary", "", "completed", RS_COUNT, (double)net->completed);
    rs_report_add(rep, "summary", "", "rejected", RS_COUNT, (double)net->rejected);
    rs_report_add(rep, "summary", "", "timed_out", RS_COUNT, (double)net->timed_out);
    rs_report_add(rep, "summary", "", "success_ratio", RS_RATIO, ended ? (double)net->completed / (double)ended : NAN);
    rs_report_add(rep, "summary", "", "throughput_per_s", RS_RATE, span > 0 ? (double)net->completed / span : NAN);
    rs_report_add(rep, "summary", "", "latency_mean_s", RS_SECONDS, sim_tmean_s(&net->sojourn_s));
    rs_report_add(rep, "summary", "", "latency_p50_s", RS_SECONDS, sim_hist_quantile(&net->sojourn, 0.50) * 1e-9);
    rs_report_add(rep, "summary", "", "latency_p95_s", RS_SECONDS, sim_hist_quantile(&net->sojourn, 0.95) * 1e-9);
    rs_report_add(rep, "summary", "", "latency_p99_s", RS_SECONDS, sim_hist_quantile(&net->sojourn, 0.99) * 1e-9);
}

static void m_usage(const void *vinst, uint64_t *in_flight, uint64_t *bytes)
{
    const net_t *net = vinst;
    *in_flight = (uint64_t)net->in_flight;
    *bytes = (uint64_t)net->nslabs * REQ_SLAB * sizeof(net_req_t);
}

/* For the comparison's verdicts. */
static const model_direction_t directions[] = {
    {"arrivals", 0}, /* the workload: identical under common random numbers */
    {"rejected", -1},
    {"success_ratio", +1},
    {"latency_mean_s", -1},
    {"latency_p50_s", -1},
    {"latency_p95_s", -1},
    {"latency_p99_s", -1},
    {"completed", +1},
    {"timed_out", -1},
    {"throughput_per_s", +1},
    {NULL, 0},
};

static const char *const ok_series[] = {"requests_per_second{outcome=success}", NULL};
static const char *const ended_series[] = {"requests_per_second{outcome=success}",
                                           "requests_per_second{outcome=timeout}",
                                           "requests_per_second{outcome=rejected}", NULL};
static const model_incident_series_t incident = {ok_series, ended_series, "latency_p95_seconds"};

/* What `ragsim compare` shows by default (model_type_t.key_metrics). */
static const char *const key_metrics[] = {
    "success_ratio", "worst_window_success", "time_below_slo_s", "recovery_time_s", "latency_p95_s", NULL,
};

const model_type_t network_model = {
    .name = "network",
    .spec_size = sizeof(net_spec_t),
    .parse = m_parse,
    .spec_fini = m_spec_fini,
    .check = m_check,
    .describe = m_describe,
    .create = m_create,
    .finish = m_finish,
    .destroy = m_destroy,
    .write = m_write,
    .report = m_report,
    .usage = m_usage,
    .directions = directions,
    .incident = &incident,
    .key_metrics = key_metrics,
};
