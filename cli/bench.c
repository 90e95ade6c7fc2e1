/* Benchmarks of the engine:
 *   hold  the classic hold model (Vaucher and Duval 1975): N pending events;
 *         each event, when it runs, schedules one successor at now + Exp(1 ms).
 *         Same workload as bench/baselines/hold.c, through the full engine
 *         (event pool, dispatch through the handler), so the figure is what a
 *         model pays per event.
 *   mmc   an M/M/c queue through the station model, with Erlang C's answer.
 *   rag   a RAG scenario through the full model: simulated requests and
 *         events per wall-second, the cost per event against the bare event
 *         set (the hold model at the same pending count), and what writing
 *         the trace adds. */
#include "cli/bench.h"
#include "cli/sweep_cli.h"

#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "models/queueing/network.h"
#include "experiment/runner.h"
#include "models/queueing/theory.h"
#include "sim/error.h"
#include "sim/sim.h"

static double wall(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* CPU time of the process: on a shared machine it is what the run cost,
 * whatever else runs (wall time equals it on an idle core). */
static double cpu(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int parse_u64(const char *s, uint64_t *v, FILE *err, const char *opt)
{
    char *end;
    errno = 0;
    double d = strtod(s, &end);
    if (*s == 0 || *end != 0 || errno || !(d >= 0) || d > 1e18 || d != floor(d)) {
        fprintf(err, "ragsim bench: error: %s expects a non-negative integer, got '%s'\n", opt, s);
        return -1;
    }
    *v = (uint64_t)d;
    return 0;
}

static int parse_pos(const char *s, double *v, FILE *err, const char *opt)
{
    char *end;
    errno = 0;
    *v = strtod(s, &end);
    if (*s == 0 || *end != 0 || errno || !(*v > 0) || !isfinite(*v)) {
        fprintf(err, "ragsim bench: error: %s expects a positive number, got '%s'\n", opt, s);
        return -1;
    }
    return 0;
}

static void hold_ev(sim_t *sim, void *obj, uint64_t arg)
{
    sim_rng_t *r = obj;
    sim_schedule_in(sim, (sim_time_t)(-log(sim_rng_uniform_pos(r)) * 1e6), hold_ev, r, arg);
}

/* The hold model: `pending` events, `ops` holds timed after one untimed
 * pass. Sets *ns_per_hold and *simulated (s). 0, or -1 on a failed run. */
static double cpu(void);

static int hold_run(uint64_t pending, uint64_t ops, uint64_t seed, bool cpu_clock, double *ns_per_hold,
                    double *simulated)
{
    double (*clock_s)(void) = cpu_clock ? cpu : wall;
    sim_config_t cfg = {.master_seed = seed};
    sim_t *sim = sim_create(&cfg);
    if (!sim) return -1;
    sim_rng_t *r = sim_stream(sim, "bench/hold");
    if (!r) {
        sim_destroy(sim);
        return -1;
    }
    for (uint64_t i = 0; i < pending; i++)
        sim_schedule_at(sim, (sim_time_t)(-log(sim_rng_uniform_pos(r)) * 1e6), hold_ev, r, 0);
    /* warm-up: one pass over the pending set, untimed */
    sim->max_events = pending;
    sim_run(sim, SIM_TIME_MAX);
    sim->events = 0;
    sim->max_events = ops;
    double t0 = clock_s();
    sim_run_result_t res = sim_run(sim, SIM_TIME_MAX);
    double dt = clock_s() - t0;
    int rc = res == SIM_RUN_BUDGET && sim_pending(sim) == pending ? 0 : -1;
    *ns_per_hold = dt * 1e9 / (double)ops;
    *simulated = sim_time_to_s(sim_now(sim));
    sim_destroy(sim);
    return rc;
}

/* The largest hold model: as many pending events as a run may hold by
 * default (--max-pending), about 1.6 GB of event records and entries. */
#define HOLD_MAX_PENDING 20000000ull
#define HOLD_MAX_OPS 1000000000000ull

static const char hold_usage[] =
    "usage: ragsim bench hold [--pending N] [--ops M] [--seed S]\n"
    "  Hold model: N pending events (default 100000, at most 20000000); M holds timed\n"
    "  (default 10000000, at most 1e12); increments exponential with mean 1 ms.\n"
    "  Prints 'X ns per hold'.\n";

static int bench_hold(int argc, char **argv, FILE *out, FILE *err)
{
    uint64_t pending = 100000, ops = 10000000, seed = 1;
    static const struct option lo[] = {{"pending", 1, 0, 'n'}, {"ops", 1, 0, 'm'}, {"seed", 1, 0, 's'},
                                       {"help", 0, 0, 'h'}, {0, 0, 0, 0}};
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
        switch (c) {
        case 'n': if (parse_u64(optarg, &pending, err, "--pending")) return 2; break;
        case 'm': if (parse_u64(optarg, &ops, err, "--ops")) return 2; break;
        case 's': if (parse_u64(optarg, &seed, err, "--seed")) return 2; break;
        case 'h': fputs(hold_usage, out); return 0;
        default: fputs(hold_usage, err); return 2;
        }
    }
    if (optind < argc || pending == 0 || ops == 0) {
        fprintf(err, "ragsim bench hold: error: --pending and --ops must be >= 1 and no other arguments are accepted\n%s", hold_usage);
        return 2;
    }
    if (pending > HOLD_MAX_PENDING || ops > HOLD_MAX_OPS) {
        fprintf(err, "ragsim bench hold: error: %s %llu is more than the limit %llu (%s)\n",
                pending > HOLD_MAX_PENDING ? "--pending" : "--ops",
                (unsigned long long)(pending > HOLD_MAX_PENDING ? pending : ops),
                pending > HOLD_MAX_PENDING ? HOLD_MAX_PENDING : HOLD_MAX_OPS,
                pending > HOLD_MAX_PENDING ? "the pending events a run may hold by default, about 1.6 GB of memory"
                                           : "about a day of holds");
        return 2;
    }
    double ns;
    double simulated;
    if (hold_run(pending, ops, seed, false, &ns, &simulated) != 0) {
        fprintf(err, "ragsim bench hold: error: unexpected end of run (out of memory?)\n");
        return 1;
    }
    fprintf(out, "hold: %llu pending, %llu holds, %.2f s wall (simulated %.3f s)\n",
            (unsigned long long)pending, (unsigned long long)ops, ns * (double)ops * 1e-9, simulated);
    fprintf(out, "%.1f ns per hold\n", ns);
    return 0;
}

static const char mmc_usage[] =
    "usage: ragsim bench mmc [--lambda L] [--mu M] [--servers C] [--horizon T] [--seed S]\n"
    "  M/M/c queue (defaults: lambda 9/s, mu 1/s, 10 servers, horizon 2000000 s, seed 1),\n"
    "  no time series. Prints the mean wait next to Erlang C's and 'N customers/s'.\n";

static int bench_mmc(int argc, char **argv, FILE *out, FILE *err)
{
    double lambda = 9, mu = 1, horizon = 2000000;
    uint64_t servers = 10, seed = 1;
    static const struct option lo[] = {{"lambda", 1, 0, 'l'}, {"mu", 1, 0, 'u'}, {"servers", 1, 0, 'c'},
                                       {"horizon", 1, 0, 't'}, {"seed", 1, 0, 's'}, {"help", 0, 0, 'h'},
                                       {0, 0, 0, 0}};
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
        switch (c) {
        case 'l': if (parse_pos(optarg, &lambda, err, "--lambda")) return 2; break;
        case 'u': if (parse_pos(optarg, &mu, err, "--mu")) return 2; break;
        case 't': if (parse_pos(optarg, &horizon, err, "--horizon")) return 2; break;
        case 'c': if (parse_u64(optarg, &servers, err, "--servers")) return 2; break;
        case 's': if (parse_u64(optarg, &seed, err, "--seed")) return 2; break;
        case 'h': fputs(mmc_usage, out); return 0;
        default: fputs(mmc_usage, err); return 2;
        }
    }
    if (optind < argc || servers < 1 || servers > 1000000 || horizon > 1e9) {
        fprintf(err, "ragsim bench mmc: error: --servers must be in [1, 1e6], --horizon at most 1e9 s\n%s", mmc_usage);
        return 2;
    }
    net_spec_t spec;
    memset(&spec, 0, sizeof spec);
    stn_spec_t st = {.name = "server", .servers = (int64_t)servers, .queue_limit = INT64_MAX};
    size_t route = 0;
    if (wl_spec_constant(&spec.workload, WL_POISSON, lambda) || sim_dist_exponential(&st.service, 1.0 / mu))
        return 1;
    spec.stations = &st;
    spec.nstations = 1;
    spec.route = &route;
    spec.nroute = 1;
    sim_config_t cfg = {.master_seed = seed};
    sim_t *sim = sim_create(&cfg);
    net_t *net = sim ? net_create(sim, &spec) : NULL;
    if (!net) {
        fprintf(err, "ragsim bench mmc: error: out of memory\n");
        return 1;
    }
    double t0 = wall();
    sim_run(sim, sim_time_from_s(horizon));
    double dt = wall() - t0;
    const station_t *s = &net->st[0];
    double wq = theory_mmc_wq(lambda, mu, (int)servers);
    fprintf(out, "M/M/%llu lambda %g/s mu %g/s horizon %g s: %llu customers, %llu events, %.2f s wall\n",
            (unsigned long long)servers, lambda, mu, horizon, (unsigned long long)s->n.completions,
            (unsigned long long)sim_events_processed(sim), dt);
    fprintf(out, "mean wait %.5f s (Erlang C %.5f s)\n", sim_tmean_s(&s->wait_s), wq);
    fprintf(out, "%.0f customers/s\n", (double)s->n.completions / dt);
    net_destroy(net);
    sim_destroy(sim);
    wl_spec_fini(&spec.workload);
    sim_dist_fini(&st.service);
    return 0;
}

/* ---- rag ---- */

typedef struct {
    double pending_sum;
    uint64_t pending_n;
} pending_probe_t;

static void probe_pending(void *ctx, const sim_t *sim)
{
    pending_probe_t *p = ctx;
    p->pending_sum += (double)sim_pending(sim);
    p->pending_n++;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double median(double *v, size_t n)
{
    qsort(v, n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

/* One run of variant 0, replication `rep`; with a trace written to `path`
 * (then removed) unless path is NULL. Wall seconds of the run plus the
 * writing; requests and events of the run. */
static int rag_once(const rs_scenario_t *s, uint32_t rep, const char *path, pending_probe_t *probe,
                    double *wall_s, double *requests, double *events, FILE *err)
{
    rs_result_t res;
    double t0 = cpu();
    int terr = 0;
    char ebuf[512];
    sim_trace_t *tr = NULL;
    if (path && !(tr = sim_trace_create(path, &terr, ebuf, sizeof ebuf))) {
        fprintf(err, "ragsim bench rag: error: writing %s: %s\n", path, ebuf);
        return 1;
    }
    /* a traced run writes long time series while it goes (as `ragsim run`) */
    int rc = probe ? rs_run_one_hook(s, s->baseline, rep, s->sc.seed + rep, 0, probe_pending, probe, &res)
                   : rs_run_one_traced(s, s->baseline, rep, s->sc.seed + rep, 0, NULL, tr, &res);
    if (rc != 0) {
        fprintf(err, "ragsim bench rag: error: the run failed (%s)\n", sim_strerror(rc));
        sim_trace_abort(tr);
        rs_result_free(&res);
        return 1;
    }
    if (tr) {
        if (rs_write_run(tr, s, &res) != 0) {
            fprintf(err, "ragsim bench rag: error: writing %s: %s\n", path, sim_trace_errmsg(tr));
            sim_trace_abort(tr);
            rs_result_free(&res);
            return 1;
        }
        if (sim_trace_commit(tr, ebuf, sizeof ebuf) != 0) {
            fprintf(err, "ragsim bench rag: error: %s\n", ebuf);
            rs_result_free(&res);
            return 1;
        }
        unlink(path);
    }
    *wall_s = cpu() - t0;
    rs_report_t rep_;
    rs_report_init(&rep_);
    s->model->report(res.inst, &rep_);
    *requests = rs_report_get(&rep_, "summary", "", "arrivals");
    rs_report_fini(&rep_);
    *events = (double)sim_events_processed(res.sim);
    rs_result_free(&res);
    return 0;
}

static const char rag_usage[] =
    "usage: ragsim bench rag [SCENARIO.yaml] [--reps N] [--set KEY=VALUE]...\n"
    "  A RAG scenario (default scenarios/rag-baseline.yaml) run N times (default 5)\n"
    "  three ways, alternating: without a trace (trace.request_sample 0), writing\n"
    "  the trace at the default sampling (time series, events, summaries), and\n"
    "  writing it with 1% of the requests recorded (trace.request_sample 0.01).\n"
    "  Warm-up is set to 0 so that every simulated request counts (it only\n"
    "  discards statistics). After each run without a trace, the hold model at the\n"
    "  runs' mean pending-event count (1e6 holds) gives the bare event set's cost\n"
    "  per event, and the ratio of the two. Prints medians over the runs:\n"
    "  'N requests/s', 'N events/s', 'X ns per event', the event set's cost and\n"
    "  the ratio, and the trace's cost in percent of the run without it.\n";

static int bench_rag(int argc, char **argv, FILE *out, FILE *err)
{
    uint64_t reps = 5;
    const char *sets[64];
    size_t nsets = 0;
    static const struct option lo[] = {{"reps", 1, 0, 'r'}, {"set", 1, 0, 'S'}, {"help", 0, 0, 'h'}, {0, 0, 0, 0}};
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
        switch (c) {
        case 'r': if (parse_u64(optarg, &reps, err, "--reps")) return 2; break;
        case 'S':
            if (nsets >= 60) {
                fprintf(err, "ragsim bench rag: error: at most 60 --set options\n");
                return 2;
            }
            sets[nsets++] = optarg;
            break;
        case 'h': fputs(rag_usage, out); return 0;
        default: fputs(rag_usage, err); return 2;
        }
    }
    char dflt[4200];
    const char *path = cli_data_path("scenarios/rag-baseline.yaml", dflt, sizeof dflt) == 0 ? dflt : NULL;
    if (optind < argc) path = argv[optind++];
    if (!path) {
        fprintf(err, "ragsim bench rag: error: give a RAG scenario (the default, share/ragsim/scenarios/"
                     "rag-baseline.yaml next to ragsim, is not there)\n");
        return 2;
    }
    if (optind < argc || reps < 1 || reps > 1000) {
        fprintf(err, "ragsim bench rag: error: one scenario at most, --reps in [1, 1000]\n%s", rag_usage);
        return 2;
    }
    rs_scenario_t sc[2];
    {
        /* a RAG scenario? (asked before the trace keys, which only a RAG
         * scenario knows, are set) */
        sim_diag_t d;
        sim_diag_init(&d);
        int rc = rs_load(&sc[0], path, sets, nsets, &d);
        bool rag = rc == 0 && strcmp(sc[0].model->name, "rag") == 0;
        if (rc == 0) rs_unload(&sc[0]);
        if (rc != 0 || !rag) {
            if (rc == 0) fprintf(err, "ragsim bench rag: error: %s is not a RAG scenario (model: rag)\n", path);
            fputs(sim_diag_text(&d), err);
            sim_diag_fini(&d);
            return 2;
        }
        sim_diag_fini(&d);
    }
    const char *const extra[2] = {"trace.request_sample=0", "trace.request_sample=0.01"};
    for (int k = 0; k < 2; k++) {
        sets[nsets] = "warmup=0s";
        sets[nsets + 1] = extra[k];
        sim_diag_t d;
        sim_diag_init(&d);
        int rc = rs_load(&sc[k], path, sets, nsets + 2, &d);
        if (rc != 0 || strcmp(sc[k].model->name, "rag") != 0) {
            if (rc == 0) fprintf(err, "ragsim bench rag: error: %s is not a RAG scenario\n", path);
            fputs(sim_diag_text(&d), err);
            sim_diag_fini(&d);
            if (rc == 0) rs_unload(&sc[k]);
            if (k == 1) rs_unload(&sc[0]);
            return 2;
        }
        sim_diag_fini(&d);
    }
    char tpath[256];
    const char *tmp = getenv("TMPDIR");
    snprintf(tpath, sizeof tpath, "%s/ragsim-bench-%ld.h5", tmp && *tmp ? tmp : "/tmp", (long)getpid());
    /* per replication: CPU seconds of the three ways, then (without a
     * trace) ns per event, requests/s, events/s, the hold model's ns per
     * event right after it, and their ratio */
    double *w = calloc(8 * reps, sizeof *w);
    double *nsev = w ? w + 3 * reps : NULL, *rps = nsev + reps, *eps = rps + reps, *hold = eps + reps,
           *ratio = hold + reps;
    double requests = 0, events = 0, q, e, simulated;
    pending_probe_t probe = {0, 0};
    int rc = w ? 0 : 1;
    for (uint64_t i = 0; i < reps && rc == 0; i++) {
        rc |= rag_once(&sc[0], (uint32_t)i, NULL, &probe, &w[i], &requests, &events, err);
        /* the bare event set at the mean pending count so far, measured
         * right after the run it is compared with: a shared machine's
         * drift between the two sides cancels in each ratio */
        double pending = probe.pending_n ? probe.pending_sum / (double)probe.pending_n : 0;
        if (rc == 0 && hold_run(pending >= 1 ? (uint64_t)llround(pending) : 1, 1000000, 1 + i, true, &hold[i],
                                &simulated) != 0)
            rc = 1;
        if (rc == 0) {
            nsev[i] = w[i] * 1e9 / events;
            rps[i] = requests / w[i];
            eps[i] = events / w[i];
            ratio[i] = nsev[i] / hold[i];
        }
        if (rc == 0) rc |= rag_once(&sc[0], (uint32_t)i, tpath, NULL, &w[reps + i], &q, &e, err);
        if (rc == 0) rc |= rag_once(&sc[1], (uint32_t)i, tpath, NULL, &w[2 * reps + i], &q, &e, err);
    }
    double pending = probe.pending_n ? probe.pending_sum / (double)probe.pending_n : 0;
    if (rc == 0) {
        double r0 = median(w, reps), r1 = median(w + reps, reps), r2 = median(w + 2 * reps, reps);
        fprintf(out, "rag: %s, %llu runs each way, %.0f simulated s per run, %.0f requests and %.0f events per run (the last)\n",
                sc[0].sc.name, (unsigned long long)reps, sim_time_to_s(sc[0].sc.duration), requests, events);
        fprintf(out, "without a trace: %.4f CPU s per run (median; process CPU time, = wall on an idle core)\n", r0);
        fprintf(out, "%.0f requests/s\n", median(rps, reps));
        fprintf(out, "%.0f events/s\n", median(eps, reps));
        fprintf(out, "%.1f ns per event\n", median(nsev, reps));
        fprintf(out, "event set alone (hold model, %.0f pending, CPU time): %.1f ns per event; the full model costs %.2fx\n",
                pending, median(hold, reps), median(ratio, reps));
        fprintf(out, "trace at the default sampling: %.4f s per run, %+.1f%%\n", r1, (r1 / r0 - 1) * 100);
        fprintf(out, "trace with 1%% of requests recorded: %.4f s per run, %+.1f%%\n", r2, (r2 / r0 - 1) * 100);
    }
    free(w);
    rs_unload(&sc[0]);
    rs_unload(&sc[1]);
    return rc;
}

static const char usage[] =
    "usage: ragsim bench hold|mmc|rag [options]   (ragsim bench <name> --help for options)\n";

int bench_main(int argc, char **argv, FILE *out, FILE *err)
{
    if (argc < 2) {
        fputs(usage, err);
        return 2;
    }
    if (strcmp(argv[1], "hold") == 0) return bench_hold(argc - 1, argv + 1, out, err);
    if (strcmp(argv[1], "mmc") == 0) return bench_mmc(argc - 1, argv + 1, out, err);
    if (strcmp(argv[1], "rag") == 0) return bench_rag(argc - 1, argv + 1, out, err);
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        fputs(usage, out);
        return 0;
    }
    fprintf(err, "ragsim bench: error: unknown benchmark '%s'\n%s", argv[1], usage);
    return 2;
}
