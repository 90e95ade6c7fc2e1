/* Benchmarks of the engine:
 *   hold  the classic hold model (Vaucher and Duval 1975): N pending events;
 *         each event, when it runs, schedules one successor at now + Exp(1 ms).
 *         Same workload as ../shared/bench/hold.c, through the full engine
 *         (event pool, dispatch through the handler), so the figure is what a
 *         model pays per event.
 *   mmc   an M/M/c queue through the station model, with Erlang C's answer. */
#include "bench.h"

#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "models/network.h"
#include "models/theory.h"
#include "sim/error.h"
#include "sim/sim.h"

static double wall(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
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

static const char hold_usage[] =
    "usage: ragsim bench hold [--pending N] [--ops M] [--seed S]\n"
    "  Hold model: N pending events (default 100000); M holds timed (default 10000000);\n"
    "  increments exponential with mean 1 ms. Prints 'X ns per hold'.\n";

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
    sim_config_t cfg = {.master_seed = seed};
    sim_t *sim = sim_create(&cfg);
    if (!sim) return 1;
    sim_rng_t *r = sim_stream(sim, "bench/hold");
    for (uint64_t i = 0; i < pending; i++)
        sim_schedule_at(sim, (sim_time_t)(-log(sim_rng_uniform_pos(r)) * 1e6), hold_ev, r, 0);
    /* warm-up: one pass over the pending set, untimed */
    sim->max_events = pending;
    sim_run(sim, SIM_TIME_MAX);
    sim->events = 0;
    sim->max_events = ops;
    double t0 = wall();
    sim_run_result_t res = sim_run(sim, SIM_TIME_MAX);
    double dt = wall() - t0;
    if (res != SIM_RUN_BUDGET || sim_pending(sim) != pending) {
        fprintf(err, "ragsim bench hold: error: unexpected end of run\n");
        sim_destroy(sim);
        return 1;
    }
    fprintf(out, "hold: %llu pending, %llu holds, %.2f s wall (simulated %.3f s)\n",
            (unsigned long long)pending, (unsigned long long)ops, dt, sim_time_to_s(sim_now(sim)));
    fprintf(out, "%.1f ns per hold\n", dt * 1e9 / (double)ops);
    sim_destroy(sim);
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
    fprintf(out, "mean wait %.5f s (Erlang C %.5f s)\n", s->wait_s.mean, wq);
    fprintf(out, "%.0f customers/s\n", (double)s->n.completions / dt);
    net_destroy(net);
    sim_destroy(sim);
    wl_spec_fini(&spec.workload);
    sim_dist_fini(&st.service);
    return 0;
}

static const char usage[] =
    "usage: ragsim bench hold|mmc [options]   (ragsim bench <name> --help for options)\n";

int bench_main(int argc, char **argv, FILE *out, FILE *err)
{
    if (argc < 2) {
        fputs(usage, err);
        return 2;
    }
    if (strcmp(argv[1], "hold") == 0) return bench_hold(argc - 1, argv + 1, out, err);
    if (strcmp(argv[1], "mmc") == 0) return bench_mmc(argc - 1, argv + 1, out, err);
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        fputs(usage, out);
        return 0;
    }
    fprintf(err, "ragsim bench: error: unknown benchmark '%s'\n%s", argv[1], usage);
    return 2;
}
