/* `ragsim map`: option parsing. In the MPI build (ragsim-mpi) the same
 * options run on every rank: rank 0 is the master, the others workers. */
#include "cli/map_cli.h"

#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/sweep_cli.h"
#include "experiment/map.h"
#include "sim/units.h"
#ifdef RAGSIM_MPI
#include "experiment/mpi/sweep_mpi.h"
#endif

int map_main(int argc, char **argv)
{
    map_opts_t mo = {.within = INFINITY, .find = MAP_GRID};
    sw_opts_t o = {.jobs = 1, .what = "map", .command = "map", .cmd = &mo};
    const char **sets = calloc((size_t)argc, sizeof *sets);
    if (!sets) return 1;
    o.sets = sets;
    o.progress = isatty(STDERR_FILENO);
    static const struct option lo[] = {{"output", 1, 0, 'o'}, {"jobs", 1, 0, 'j'},  {"resume", 0, 0, 'R'},
                                       {"find", 1, 0, 'f'},   {"reps", 1, 0, 'r'},  {"seed", 1, 0, 'S'},
                                       {"set", 1, 0, 's'},    {"quiet", 0, 0, 'q'}, {"help", 0, 0, 'h'},
                                       {"force", 0, 0, 'F'},  {"json", 2, 0, 'J'},  {"load", 1, 0, 'L'},  {"trigger", 1, 0, 'T'},
                                       {"within", 1, 0, 'W'}, {"variants", 1, 0, 'v'}, {0, 0, 0, 0}};
    int c, status = 2;
    uint64_t v;
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
        case 'j':
            if (cli_parse_jobs(optarg, &o.jobs)) goto out;
            break;
        case 'R': o.resume = true; break;
        case 'F': o.force = true; break;
        case 'J':
            if (optarg && !*optarg) {
                fprintf(stderr, "ragsim: error: --json= needs a file name, e.g. --json=map.json (or --json: "
                                "standard output)\n");
                goto out;
            }
            o.json = optarg ? optarg : "-";
            break;
        case 'f':
            if (!strcmp(optarg, "trigger")) mo.find = MAP_FIND_TRIGGER;
            else if (!strcmp(optarg, "load")) mo.find = MAP_FIND_LOAD;
            else {
                fprintf(stderr, "ragsim: error: --find expects 'trigger' or 'load' (the axis to bisect), got '%s'\n",
                        optarg);
                goto out;
            }
            break;
        case 'r':
            if (cli_parse_reps(optarg, &o.reps)) goto out;
            break;
        case 'S':
            if (cli_parse_count(optarg, "--seed", INT64_MAX, &v)) goto out;
            o.have_seed = true;
            o.seed = v;
            break;
        case 's': sets[o.nsets++] = optarg; break;
        case 'L': mo.load = optarg; break;
        case 'T': mo.trigger = optarg; break;
        case 'v':
            if (!*optarg) {
                fprintf(stderr, "ragsim: error: --variants needs a comma-separated list of variant names\n");
                goto out;
            }
            mo.variants = optarg;
            break;
        case 'W': {
            sim_time_t t;
            const char *why = NULL;
            if (sim_parse_duration(optarg, &t, &why) != 0 || t <= 0) {
                fprintf(stderr, "ragsim: error: --within expects a positive duration such as 60s, got '%s'\n", optarg);
                goto out;
            }
            mo.within = sim_time_to_s(t);
            break;
        }
        case 'q': o.quiet = true; o.progress = false; break;
        case 'h': fputs(map_usage, stdout); status = 0; goto out;
        case ':': fprintf(stderr, "ragsim: error: option '%s' needs a value\n", argv[optind - 1]); goto out;
        default:
            fprintf(stderr, "ragsim: error: unknown option '%s' (see ragsim map --help)\n", argv[optind - 1]);
            goto out;
        }
    }
    if (optind >= argc) {
        fprintf(stderr, "ragsim: error: missing the scenario file: ragsim map SCENARIO.yaml --load PATH=VALUES "
                        "--trigger PATH=VALUES (see ragsim map --help)\n");
        goto out;
    }
    if (optind + 1 < argc) {
        fprintf(stderr, "ragsim: error: unexpected argument '%s' (one scenario)\n", argv[optind + 1]);
        goto out;
    }
    if (!mo.load || !mo.trigger) {
        fprintf(stderr, "ragsim: error: ragsim map needs --load PATH=VALUES and --trigger PATH=VALUES (see ragsim map "
                        "--help)\n");
        goto out;
    }
    o.sweep = argv[optind];
#ifdef RAGSIM_MPI
    status = sw_mpi_main(&o, map_cmd, map_load_def);
#else
    status = map_cmd(&o, NULL, stdout, stderr);
#endif
out:
    free(sets);
    return status;
}
