/* `ragsim sweep`: option parsing. In the MPI build (ragsim-mpi) the same
 * options run on every rank: rank 0 is the master, the others workers. */
#include "cli/sweep_cli.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "experiment/sweep.h"
#ifdef RAGSIM_MPI
#include "experiment/mpi/sweep_mpi.h"
#endif

int cli_parse_count(const char *s, const char *opt, uint64_t max, uint64_t *out)
{
    char *end;
    errno = 0;
    if (*s == '-' || *s == 0) goto bad;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || *end != 0 || v > max) goto bad;
    *out = v;
    return 0;
bad:
    fprintf(stderr, "ragsim: error: %s expects an integer in [0, %llu], got '%s'\n", opt,
            (unsigned long long)max, s);
    return -1;
}

int cli_parse_reps(const char *s, int64_t *out)
{
    uint64_t v;
    if (cli_parse_count(s, "--reps", 100000, &v)) return -1;
    if (v == 0) {
        fprintf(stderr, "ragsim: error: --reps must be at least 1\n");
        return -1;
    }
    *out = (int64_t)v;
    return 0;
}

int cli_parse_jobs(const char *s, int *out)
{
    uint64_t v;
    if (cli_parse_count(s, "-j", 1024, &v)) return -1;
    if (v == 0) {
        fprintf(stderr, "ragsim: error: -j must be at least 1\n");
        return -1;
    }
    *out = (int)v;
    return 0;
}

int cli_data_path(const char *rel, char *buf, size_t n)
{
    char exe[4096];
    ssize_t k = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (k <= 0) return -1;
    exe[k] = 0;
    char *slash = strrchr(exe, '/');
    if (!slash) return -1;
    *slash = 0;
    /* installed: PREFIX/bin/ragsim and PREFIX/share/ragsim/; a build tree:
     * BUILD/ragsim and BUILD/share/ragsim/ (links made by CMake) */
    static const char *const layouts[] = {"/../share/ragsim/", "/share/ragsim/"};
    for (size_t i = 0; i < 2; i++) {
        int w = snprintf(buf, n, "%s%s%s", exe, layouts[i], rel);
        if (w > 0 && (size_t)w < n && access(buf, F_OK) == 0) return 0;
    }
    return -1;
}

int cli_check_output(const char *path, const char *example)
{
    struct stat st;
    if (!*path) {
        fprintf(stderr, "ragsim: error: -o needs a file name, e.g. -o %s\n", example);
        return -1;
    }
    if (strcmp(path, "-") == 0) {
        fprintf(stderr, "ragsim: error: -o -: the output is an HDF5 file, which cannot be written to standard "
                        "output; give a file name, e.g. -o %s\n", example);
        return -1;
    }
    size_t n = strlen(path);
    if (path[n - 1] == '/' || (stat(path, &st) == 0 && S_ISDIR(st.st_mode))) {
        fprintf(stderr, "ragsim: error: -o %s: is a directory; give a file name, e.g. -o %s%s%s\n", path, path,
                path[n - 1] == '/' ? "" : "/", example);
        return -1;
    }
    return 0;
}

int sweep_main(int argc, char **argv)
{
    sw_opts_t o = {.jobs = 1};
    const char **sets = calloc((size_t)argc, sizeof *sets);
    if (!sets) return 1;
    o.sets = sets;
    o.progress = isatty(STDERR_FILENO);
    static const struct option lo[] = {{"output", 1, 0, 'o'}, {"jobs", 1, 0, 'j'},  {"resume", 0, 0, 'R'},
                                       {"find", 1, 0, 'f'},   {"reps", 1, 0, 'r'},  {"seed", 1, 0, 'S'},
                                       {"set", 1, 0, 's'},    {"quiet", 0, 0, 'q'}, {"help", 0, 0, 'h'},
                                       {"force", 0, 0, 'F'},  {"json", 2, 0, 'J'},
                                       {0, 0, 0, 0}};
    int c, status = 2;
    uint64_t v;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":o:j:qh", lo, NULL)) != -1) {
        switch (c) {
        case 'o':
            if (cli_check_output(optarg, "OUT.h5")) goto out;
            o.out = optarg;
            break;
        case 'j':
            if (cli_parse_jobs(optarg, &o.jobs)) goto out;
            break;
        case 'R': o.resume = true; break;
        case 'F': o.force = true; break;
        case 'J':
            if (optarg && !*optarg) {
                fprintf(stderr, "ragsim: error: --json= needs a file name, e.g. --json=sweep.json (or --json: "
                                "standard output)\n");
                goto out;
            }
            o.json = optarg ? optarg : "-";
            break;
        case 'f':
            if (strcmp(optarg, "max-load") != 0) {
                fprintf(stderr, "ragsim: error: --find knows only 'max-load', got '%s'\n", optarg);
                goto out;
            }
            o.find_max_load = true;
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
        case 'q': o.quiet = true; o.progress = false; break;
        case 'h': fputs(sw_usage, stdout); status = 0; goto out;
        case ':': fprintf(stderr, "ragsim: error: option '%s' needs a value\n", argv[optind - 1]); goto out;
        default:
            fprintf(stderr, "ragsim: error: unknown option '%s' (see ragsim sweep --help)\n", argv[optind - 1]);
            goto out;
        }
    }
    if (optind >= argc) {
        fprintf(stderr, "ragsim: error: missing the sweep file: ragsim sweep SWEEP.yaml (see ragsim sweep --help)\n");
        goto out;
    }
    if (optind + 1 < argc) {
        fprintf(stderr, "ragsim: error: unexpected argument '%s' (one sweep file%s)\n", argv[optind + 1],
                o.json ? "; a JSON file is given as --json=FILE" : "");
        goto out;
    }
    o.sweep = argv[optind];
#ifdef RAGSIM_MPI
    status = sw_mpi_sweep(&o);
#else
    status = sw_cmd_sweep(&o, NULL, stdout, stderr);
#endif
out:
    free(sets);
    return status;
}
