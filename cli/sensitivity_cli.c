/* `ragsim sensitivity`: option parsing. In the MPI build (ragsim-mpi) the
 * same options run on every rank: rank 0 is the master, the others workers. */
#include "cli/sensitivity_cli.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/sweep_cli.h"
#include "experiment/sensitivity.h"
#ifdef RAGSIM_MPI
#include "experiment/mpi/sweep_mpi.h"
#endif

int sensitivity_main(int argc, char **argv)
{
    se_opts_t so = {.delta = {0.10}, .ndelta = 1, .method = SE_OAT, .trajectories = 10, .levels = 4};
    sw_opts_t o = {.jobs = 1, .what = "scenario", .command = "sensitivity", .cmd = &so};
    const char **sets = calloc((size_t)argc, sizeof *sets);
    if (!sets) return 1;
    o.sets = sets;
    o.progress = isatty(STDERR_FILENO);
    static const struct option lo[] = {{"output", 1, 0, 'o'},  {"metrics", 1, 0, 'm'},      {"params", 1, 0, 'p'},
                                       {"delta", 1, 0, 'd'},   {"variant", 1, 0, 'v'},      {"reps", 1, 0, 'r'},
                                       {"seed", 1, 0, 'S'},    {"set", 1, 0, 's'},          {"force", 0, 0, 'F'},
                                       {"quiet", 0, 0, 'q'},   {"help", 0, 0, 'h'},         {"jobs", 1, 0, 'j'},
                                       {"resume", 0, 0, 'R'},  {"method", 1, 0, 'M'},       {"trajectories", 1, 0, 'T'},
                                       {"levels", 1, 0, 'L'},  {0, 0, 0, 0}};
    int c, status = 2;
    uint64_t v;
    char why[256];
    bool have_traj = false, have_levels = false;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":o:j:qh", lo, NULL)) != -1) {
        switch (c) {
        case 'o':
            if (!*optarg) {
                fprintf(stderr, "ragsim: error: -o needs a file name\n");
                goto out;
            }
            o.out = optarg;
            break;
        case 'm':
        case 'p':
        case 'v':
            if (!*optarg || optarg[0] == ',' || strstr(optarg, ",,") || optarg[strlen(optarg) - 1] == ',') {
                fprintf(stderr, "ragsim: error: %s needs %s, got '%s'\n",
                        c == 'm' ? "--metrics" : c == 'p' ? "--params" : "--variant",
                        c == 'v' ? "a variant name" : "a comma-separated list", optarg);
                goto out;
            }
            *(c == 'm' ? &so.metrics : c == 'p' ? &so.params : &so.variant) = optarg;
            break;
        case 'd':
            if (se_parse_deltas(optarg, &so, why, sizeof why) != 0) {
                fprintf(stderr, "ragsim: error: --delta %s\n", why);
                goto out;
            }
            break;
        case 'M':
            if (!strcmp(optarg, "oat")) so.method = SE_OAT;
            else if (!strcmp(optarg, "morris")) so.method = SE_MORRIS;
            else {
                fprintf(stderr, "ragsim: error: --method expects 'oat' (one at a time) or 'morris' (elementary "
                                "effects), got '%s'\n", optarg);
                goto out;
            }
            break;
        case 'T':
            if (cli_parse_count(optarg, "--trajectories", SE_MAX_TRAJECTORIES, &v)) goto out;
            if (v < 2) {
                fprintf(stderr, "ragsim: error: --trajectories must be at least 2 (sigma needs two effects)\n");
                goto out;
            }
            so.trajectories = (int64_t)v;
            have_traj = true;
            break;
        case 'L':
            if (cli_parse_count(optarg, "--levels", SE_MAX_LEVELS, &v)) goto out;
            if (v < 2 || v % 2) {
                fprintf(stderr, "ragsim: error: --levels expects an even number of levels from 2 to %d, got '%s'\n",
                        SE_MAX_LEVELS, optarg);
                goto out;
            }
            so.levels = (int)v;
            have_levels = true;
            break;
        case 'j':
            if (cli_parse_jobs(optarg, &o.jobs)) goto out;
            break;
        case 'R': o.resume = true; break;
        case 'r':
            if (cli_parse_count(optarg, "--reps", 100000, &v)) goto out;
            if (v < 1) {
                fprintf(stderr, "ragsim: error: --reps must be at least 1\n");
                goto out;
            }
            o.reps = (int64_t)v;
            break;
        case 'S':
            if (cli_parse_count(optarg, "--seed", INT64_MAX, &v)) goto out;
            o.have_seed = true;
            o.seed = v;
            break;
        case 's': sets[o.nsets++] = optarg; break;
        case 'F': o.force = true; break;
        case 'q': o.quiet = true; o.progress = false; break;
        case 'h': fputs(se_usage, stdout); status = 0; goto out;
        case ':': fprintf(stderr, "ragsim: error: option '%s' needs a value\n", argv[optind - 1]); goto out;
        default:
            fprintf(stderr, "ragsim: error: unknown option '%s' (see ragsim sensitivity --help)\n", argv[optind - 1]);
            goto out;
        }
    }
    if (so.method == SE_OAT && o.reps == 1) {
        fprintf(stderr, "ragsim: error: --reps must be at least 2 (the intervals need two)\n");
        goto out;
    }
    if (so.method != SE_MORRIS && (have_traj || have_levels)) {
        fprintf(stderr, "ragsim: error: %s belongs to --method morris\n", have_traj ? "--trajectories" : "--levels");
        goto out;
    }
    if (optind >= argc) {
        fprintf(stderr, "ragsim: error: missing the scenario file: ragsim sensitivity SCENARIO.yaml (see ragsim "
                        "sensitivity --help)\n");
        goto out;
    }
    if (optind + 1 < argc) {
        fprintf(stderr, "ragsim: error: unexpected argument '%s' (one scenario)\n", argv[optind + 1]);
        goto out;
    }
    o.sweep = argv[optind];
#ifdef RAGSIM_MPI
    status = sw_mpi_main(&o, se_cmd, se_load_def);
#else
    status = se_cmd(&o, NULL, stdout, stderr);
#endif
out:
    free(sets);
    return status;
}
