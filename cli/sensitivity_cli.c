/* `ragsim sensitivity`: option parsing. */
#include "cli/sensitivity_cli.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/sweep_cli.h"
#include "experiment/sensitivity.h"

int sensitivity_main(int argc, char **argv)
{
    se_opts_t o = {.delta = {0.10}, .ndelta = 1};
    const char **sets = calloc((size_t)argc, sizeof *sets);
    if (!sets) return 1;
    o.sets = sets;
    static const struct option lo[] = {{"output", 1, 0, 'o'}, {"metrics", 1, 0, 'm'}, {"params", 1, 0, 'p'},
                                       {"delta", 1, 0, 'd'},  {"variant", 1, 0, 'v'}, {"reps", 1, 0, 'r'},
                                       {"seed", 1, 0, 'S'},   {"set", 1, 0, 's'},     {"force", 0, 0, 'F'},
                                       {"quiet", 0, 0, 'q'},  {"help", 0, 0, 'h'},    {0, 0, 0, 0}};
    int c, status = 2;
    uint64_t v;
    char why[256];
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":o:qh", lo, NULL)) != -1) {
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
            *(c == 'm' ? &o.metrics : c == 'p' ? &o.params : &o.variant) = optarg;
            break;
        case 'd':
            if (se_parse_deltas(optarg, &o, why, sizeof why) != 0) {
                fprintf(stderr, "ragsim: error: --delta %s\n", why);
                goto out;
            }
            break;
        case 'r':
            if (cli_parse_count(optarg, "--reps", 100000, &v)) goto out;
            if (v < 2) {
                fprintf(stderr, "ragsim: error: --reps must be at least 2 (the intervals need two)\n");
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
        case 'q': o.quiet = true; break;
        case 'h': fputs(se_usage, stdout); status = 0; goto out;
        case ':': fprintf(stderr, "ragsim: error: option '%s' needs a value\n", argv[optind - 1]); goto out;
        default:
            fprintf(stderr, "ragsim: error: unknown option '%s' (see ragsim sensitivity --help)\n", argv[optind - 1]);
            goto out;
        }
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
    o.scenario = argv[optind];
    status = se_cmd(&o, stdout, stderr);
out:
    free(sets);
    return status;
}
