/* ragsim: the command line. A thin layer over the runner (experiment/runner.h). */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <gsl/gsl_errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/bench.h"
#include "cli/fit.h"
#include "cli/init.h"
#include "cli/llm.h"
#include "cli/map_cli.h"
#include "cli/sensitivity_cli.h"
#include "cli/vectordb.h"
#include "cli/sweep_cli.h"
#include "experiment/runner.h"
#ifdef RAGSIM_MPI
#include "experiment/mpi/sweep_mpi.h"
#endif
#include "sim/cfg.h"
#include "sim/units.h"

/* The options of run and compare (both take all of them). */
#define RUN_OPTIONS \
    "options:\n" \
    "  -o, --output OUT.h5   trace file (default: SCENARIO's stem + .h5 in the current\n" \
    "                        directory). Written to a temporary file and renamed when\n" \
    "                        complete. An existing file is not replaced without --force\n" \
    "                        (exit status 2); with --force it is replaced only then.\n" \
    "      --force           replace an existing trace file or --json FILE (a regular file\n" \
    "                        that is not the scenario; anything else is refused, exit status 2)\n" \
    "  -j, --jobs N          run replications in N worker processes (default: the\n" \
    "                        machine's cores); the output is the same for any N\n" \
    "      --resume          complete an interrupted or failed command from its\n" \
    "                        checkpoint OUT.h5.ckpt/ (finished runs are not run again)\n" \
    "      --seed N          master seed (default: the scenario's `seed`)\n" \
    "      --reps N          replications (default: the scenario's `replications`)\n" \
    "      --set KEY=VALUE   override a scenario value, e.g. --set stations.db.servers=4\n" \
    "                        or --set workload.rate=12/s; VALUE is YAML (lists work)\n" \
    "      --variants a,b    run only these variants (default: all; compare adds the baseline)\n" \
    "      --max-events N    stop a run after N events (exit status 1; 0 = no limit)\n" \
    "      --max-pending N   stop a run holding more than N pending events\n" \
    "                        (default 20000000; 0 = no limit)\n" \
    "      --max-inflight N  stop a run holding more than N requests in the system\n" \
    "                        (default 5000000; 0 = no limit)\n" \
    "      --max-memory SIZE stop a run holding more than about SIZE of memory, e.g. 8GiB\n" \
    "                        (default 4GiB; 0 = no limit). A run stopped by a budget\n" \
    "                        exits with status 1; its trace is written, marked incomplete\n" \
    "      --no-trace        do not write a trace\n" \
    "      --json[=FILE]     the summary (and the comparison) as JSON, schema\n" \
    "                        docs/schema/ragsim-summary.schema.json (docs/json-summary.md):\n" \
    "                        on stdout instead of the tables, or into FILE (written like\n" \
    "                        OUT.h5: temporary, renamed; replaced only with --force)\n" \
    "  -q, --quiet           no summary and no progress bar (--json is still written)\n" \
    "  -h, --help            this help\n" \
    "\n" \
    "A progress bar (runs done of all, the variant and replication last started, the\n" \
    "workers, elapsed time and ETA) is drawn on stderr when it is a terminal; the summary\n" \
    "goes to stdout. Each finished run is kept in the checkpoint directory OUT.h5.ckpt/\n" \
    "until the trace is written; after Ctrl-C, the same command with --resume completes\n" \
    "the work. On a cluster: mpirun -np N ragsim-mpi " \

#define RUN_EXIT \
    "Exit status: 0 success, 1 runtime failure or budget exhausted, 2 bad usage, bad\n" \
    "input or an output that may not be written, 130/143 stopped by SIGINT/SIGTERM\n" \
    "(nothing written to OUT.h5; the finished runs kept for --resume). See docs/hardening.md.\n"

static const char run_usage[] =
    "usage: ragsim run SCENARIO.yaml [-o OUT.h5] [--force] [-j N] [--resume] [--seed N]\n"
    "                  [--reps N] [--set KEY=VALUE]... [--variants a,b,...] [--max-events N]\n"
    "                  [--max-pending N] [--max-inflight N] [--max-memory SIZE] [--no-trace]\n"
    "                  [--json[=FILE]] [-q]\n"
    "\n"
    "Simulate every replication of every variant of a scenario (or those of --variants),\n"
    "print per variant the figures with 95% confidence intervals (and the queueing-theory\n"
    "answer where one exists) and write every run to an HDF5 trace (docs/trace-format.md).\n"
    "\n" RUN_OPTIONS "run SCENARIO.yaml ...\n\n" RUN_EXIT;

static const char compare_usage[] =
    "usage: ragsim compare SCENARIO.yaml [-o OUT.h5] [--force] [-j N] [--resume] [--seed N]\n"
    "                      [--reps N] [--set KEY=VALUE]... [--variants a,b,...] [--max-events N]\n"
    "                      [--max-pending N] [--max-inflight N] [--max-memory SIZE] [--no-trace]\n"
    "                      [--json[=FILE]] [-q]\n"
    "\n"
    "Run every variant with the same seeds (common random numbers) and print, per\n"
    "variant, the key metrics with 95% confidence intervals and the paired difference\n"
    "against the baseline: better, worse, or not significant (docs/compare.md). The\n"
    "trace holds every run, /summary and /comparison.\n"
    "\n" RUN_OPTIONS "compare SCENARIO.yaml ...\n\n" RUN_EXIT;

static const char validate_usage[] =
    "usage: ragsim validate SCENARIO.yaml [--set KEY=VALUE]... [-q]\n"
    "\n"
    "Load and check a scenario (its variants and the overrides too) without running it,\n"
    "and describe it. Every error is reported as FILE:LINE:COL: error: ...\n"
    "\n"
    "options:\n"
    "      --set KEY=VALUE   override a scenario value, with the same checks as the file\n"
    "  -q, --quiet           print nothing when the scenario is valid\n"
    "  -h, --help            this help\n"
    "\n"
    "Exit status: 0 valid, 1 out of memory, 2 bad usage or an invalid scenario.\n";

enum { CMD_RUN, CMD_VALIDATE, CMD_COMPARE };

static int cmd_run_or_validate(int argc, char **argv, int cmd)
{
    rs_opts_t o = {0};
    const char **sets = calloc((size_t)argc, sizeof *sets);
    if (!sets) return 1;
    o.sets = sets;
    o.progress = isatty(STDERR_FILENO);
    static const struct option lo[] = {
        {"output", 1, 0, 'o'}, {"seed", 1, 0, 'S'}, {"reps", 1, 0, 'r'}, {"set", 1, 0, 's'},
        {"max-events", 1, 0, 'm'}, {"no-trace", 0, 0, 'n'}, {"quiet", 0, 0, 'q'}, {"help", 0, 0, 'h'},
        {"variants", 1, 0, 'v'}, {"max-pending", 1, 0, 'P'}, {"max-inflight", 1, 0, 'I'},
        {"max-memory", 1, 0, 'M'}, {"force", 0, 0, 'f'}, {"jobs", 1, 0, 'j'}, {"resume", 0, 0, 'R'},
        {"json", 2, 0, 'J'}, {0, 0, 0, 0}};
    int c, status = 2;
    uint64_t v;
    optind = 1;
    opterr = 0;
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    o.jobs = ncpu > 1 ? (int)(ncpu > 1024 ? 1024 : ncpu) : 1;
    bool have_jobs = false;
    while ((c = getopt_long(argc, argv, ":o:j:qh", lo, NULL)) != -1) {
        switch (c) {
        case 'o':
            if (cli_check_output(optarg, "OUT.h5")) goto out;
            o.out = optarg;
            break;
        case 'S':
            if (cli_parse_count(optarg, "--seed", INT64_MAX, &v)) goto out;
            o.have_seed = true;
            o.seed = v;
            break;
        case 'r':
            if (cli_parse_reps(optarg, &o.reps)) goto out;
            break;
        case 's': sets[o.nsets++] = optarg; break;
        case 'm':
            if (cli_parse_count(optarg, "--max-events", UINT64_MAX, &v)) goto out;
            o.max_events = v;
            break;
        case 'P':
        case 'I':
            if (cli_parse_count(optarg, c == 'P' ? "--max-pending" : "--max-inflight", UINT64_MAX - 1, &v)) goto out;
            *(c == 'P' ? &o.budget.max_pending : &o.budget.max_inflight) = v ? v : UINT64_MAX;
            break;
        case 'M': {
            int64_t bytes;
            const char *why = NULL;
            if (sim_parse_size(optarg, &bytes, &why) != 0) {
                fprintf(stderr, "ragsim: error: --max-memory %s, got '%s'\n",
                        why ? why : "expects a size such as 8GiB", optarg);
                goto out;
            }
            o.budget.max_memory = bytes ? (uint64_t)bytes : UINT64_MAX;
            break;
        }
        case 'f': o.force = true; break;
        case 'j':
            if (cli_parse_jobs(optarg, &o.jobs)) goto out;
            have_jobs = true;
            break;
        case 'R': o.resume = true; break;
        case 'J':
            if (optarg && !*optarg) {
                fprintf(stderr, "ragsim: error: --json= needs a file name, e.g. --json=summary.json (or --json: "
                                "standard output)\n");
                goto out;
            }
            o.json = optarg ? optarg : "-";
            break;
        case 'n': o.no_trace = true; break;
        case 'v':
            if (!*optarg) {
                fprintf(stderr, "ragsim: error: --variants needs a comma-separated list of variant names\n");
                goto out;
            }
            o.variants = optarg;
            break;
        case 'q': o.quiet = true; o.progress = false; break;
        case 'h':
            fputs(cmd == CMD_VALIDATE ? validate_usage : cmd == CMD_COMPARE ? compare_usage : run_usage, stdout);
            status = 0;
            goto out;
        case ':': fprintf(stderr, "ragsim: error: option '%s' needs a value\n", argv[optind - 1]); goto out;
        default:
            fprintf(stderr, "ragsim: error: unknown option '%s' (see ragsim %s --help)\n", argv[optind - 1], argv[0]);
            goto out;
        }
    }
    if (optind >= argc) {
        fprintf(stderr, "ragsim: error: missing the scenario file: ragsim %s SCENARIO.yaml\n", argv[0]);
        goto out;
    }
    if (optind + 1 < argc) {
        fprintf(stderr, "ragsim: error: unexpected argument '%s' (one scenario per run%s)\n", argv[optind + 1],
                o.json ? "; a JSON file is given as --json=FILE" : "");
        goto out;
    }
    o.scenario = argv[optind];
    if (cmd == CMD_VALIDATE && (o.out || o.have_seed || o.reps || o.max_events || o.no_trace || o.variants || have_jobs ||
                                o.resume || o.force || o.json || o.budget.max_pending || o.budget.max_inflight || o.budget.max_memory)) {
        fprintf(stderr, "ragsim: error: validate takes only --set and -q\n");
        goto out;
    }
#ifdef RAGSIM_MPI
    if (cmd != CMD_VALIDATE) {
        if (have_jobs && o.jobs > 1) {
            fprintf(stderr, "ragsim: error: ragsim-mpi runs replications on MPI ranks: -j does not apply\n");
            goto out;
        }
        o.jobs = 1;
        status = sw_mpi_runs(&o, cmd == CMD_COMPARE);
        goto out;
    }
#endif
    status = cmd == CMD_VALIDATE  ? rs_cmd_validate(&o, stdout, stderr)
             : cmd == CMD_COMPARE ? rs_cmd_compare(&o, stdout, stderr)
                                  : rs_cmd_run(&o, stdout, stderr);
out:
    free(sets);
    return status;
}

/* ragsim report, export and replay: run `python3 -m ragsim_analysis SUB ...` (analysis/) with
 * the interpreter found at configure time (RAGSIM_PYTHON, the one with Debian's
 * numpy, h5py and matplotlib), else python3 on PATH. The Python side checks its
 * imports and names the Debian packages that are missing. */
static int cmd_python(const char *sub, int argc, char **argv)
{
    const char *py = RAGSIM_PYTHON;
    const char *dir = getenv("RAGSIM_ANALYSIS_DIR");
    char path[4096];
    if (!dir || !*dir) {
        /* next to the executable (share/ragsim/python), installed or in
         * the build tree; no path of the machine that built it */
        if (cli_data_path("python", path, sizeof path) != 0) {
            fprintf(stderr, "ragsim: error: %s needs the analysis package ragsim_analysis, installed with "
                            "ragsim as share/ragsim/python/ next to bin/ (cmake --install, make install), "
                            "or set RAGSIM_ANALYSIS_DIR to the source tree's analysis/ directory\n", sub);
            return 2;
        }
        dir = path;
    }
    char pkg[4200];
    snprintf(pkg, sizeof pkg, "%s/ragsim_analysis/__main__.py", dir);
    if (access(pkg, R_OK) != 0) {
        fprintf(stderr, "ragsim: error: %s needs the analysis package, not found at %s/ragsim_analysis "
                        "(set RAGSIM_ANALYSIS_DIR to the source tree's analysis/ directory)\n", sub, dir);
        return 2;
    }
    const char *old = getenv("PYTHONPATH");
    char *pp = malloc(strlen(dir) + (old ? strlen(old) : 0) + 2);
    char **args = calloc((size_t)argc + 4, sizeof *args);
    if (!pp || !args) {
        free(pp);
        free(args);
        fprintf(stderr, "ragsim: error: out of memory\n");
        return 1;
    }
    sprintf(pp, "%s%s%s", dir, old && *old ? ":" : "", old && *old ? old : "");
    setenv("PYTHONPATH", pp, 1);
    setenv("RAGSIM_PROG", "ragsim", 1);
    int n = 0;
    args[n++] = (char *)py;
    args[n++] = "-m";
    args[n++] = "ragsim_analysis";
    args[n++] = (char *)sub;
    for (int i = 1; i < argc; i++) args[n++] = argv[i];
    args[n] = NULL;
    fflush(NULL);
    if (access(py, X_OK) == 0) execv(py, args);
    args[0] = "python3";
    execvp("python3", args);
    fprintf(stderr, "ragsim: error: %s needs Python 3 with numpy, h5py, pandas and matplotlib: "
                    "neither %s nor python3 on PATH could be run (%s); on Debian: "
                    "apt-get install python3 python3-numpy python3-h5py python3-pandas python3-matplotlib\n",
            sub, py, strerror(errno));
    free(pp);
    free(args);
    return 2;
}

static int cmd_report(int argc, char **argv) { return cmd_python("report", argc, argv); }
static int cmd_export(int argc, char **argv) { return cmd_python("export", argc, argv); }
static int cmd_replay(int argc, char **argv) { return cmd_python("replay", argc, argv); }
static int cmd_run(int argc, char **argv) { return cmd_run_or_validate(argc, argv, CMD_RUN); }
static int cmd_compare(int argc, char **argv) { return cmd_run_or_validate(argc, argv, CMD_COMPARE); }
static int cmd_validate(int argc, char **argv) { return cmd_run_or_validate(argc, argv, CMD_VALIDATE); }
static int cmd_bench(int argc, char **argv) { return bench_main(argc, argv, stdout, stderr); }
static int cmd_llm(int argc, char **argv) { return llm_main(argc, argv, stdout, stderr); }
static int cmd_vectordb(int argc, char **argv) { return vectordb_main(argc, argv, stdout, stderr); }
static int cmd_fit(int argc, char **argv) { return fit_main(argc, argv, stdout, stderr); }
static int cmd_init(int argc, char **argv) { return init_main(argc, argv, stdout, stderr); }

/* The commands: one line each, in the order of `ragsim --help`. A command
 * gets argv from its own name on (argv[0] is "run", ...) and prints its own
 * --help. */
static const struct command {
    const char *name;
    const char *summary;
    int (*main)(int argc, char **argv);
} commands[] = {
    {"run", "simulate a scenario's replications: summary with 95% intervals, HDF5 trace", cmd_run},
    {"compare", "run the variants with common random numbers, paired differences vs the baseline", cmd_compare},
    {"validate", "check a scenario (FILE:LINE:COL errors) and describe it, without running", cmd_validate},
    {"sweep", "run a scenario over a grid (capacity planning); --find max-load", sweep_main},
    {"map", "where the service stops recovering: load x trigger strength, per variant", map_main},
    {"sensitivity", "one-at-a-time perturbation: which parameter is the knife edge", sensitivity_main},
    {"report", "figures and an HTML page of a trace (Python; docs/analysis.md)", cmd_report},
    {"replay", "an HTML page that animates a run: topology, states, events, requests (docs/replay.md)", cmd_replay},
    {"export", "a trace as OpenMetrics, promtool tests, CSV or Chrome trace JSON (docs/observability.md)", cmd_export},
    {"llm", "LLM forward-pass time; the load one LLM replica sustains", cmd_llm},
    {"vectordb", "the vector DB's query time and memory for a scenario's index, without a run", cmd_vectordb},
    {"init", "write a commented starting scenario of a RAG service", cmd_init},
    {"fit", "fit latency distributions to samples or Prometheus buckets: a scenario's dist:", cmd_fit},
    {"bench", "engine benchmarks (make bench; docs/internals/performance.md)", cmd_bench},
};
#define NCOMMANDS (sizeof commands / sizeof commands[0])

static void usage(FILE *f)
{
    fprintf(f, "ragsim " RAGSIM_VERSION " - deterministic discrete-event simulator of RAG services under load\n\n"
               "usage: ragsim COMMAND ARGS...   (ragsim COMMAND --help: that command's options)\n"
               "       ragsim --help | --version\n\ncommands:\n");
    for (size_t i = 0; i < NCOMMANDS; i++) fprintf(f, "  %-11s %s\n", commands[i].name, commands[i].summary);
    fprintf(f, "\nExit status: 0 success, 1 runtime failure or budget exhausted, 2 bad usage, bad input\n"
               "or an output that may not be written, 130/143 stopped by SIGINT/SIGTERM.\n"
               "Documentation: README.md, docs/README.md.\n");
}

int main(int argc, char **argv)
{
    /* GSL's default handler aborts; ragsim checks return values instead. */
    gsl_set_error_handler_off();
    /* A file-size limit (ulimit -f) must not kill ragsim in the middle of a
     * write (SIGXFSZ's default action): the write fails with EFBIG instead,
     * like one on a full disk, and the command reports it, removes its
     * temporary file and exits with status 1. */
    signal(SIGXFSZ, SIG_IGN);
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    const char *cmd = argv[1];
    if (strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0 || strcmp(cmd, "help") == 0) {
        usage(stdout);
        return 0;
    }
    if (strcmp(cmd, "--version") == 0 || strcmp(cmd, "-V") == 0) {
        printf("ragsim %s\n", RAGSIM_VERSION);
        return 0;
    }
    const char *names[NCOMMANDS];
    for (size_t i = 0; i < NCOMMANDS; i++) {
        if (strcmp(cmd, commands[i].name) == 0) return commands[i].main(argc - 1, argv + 1);
        names[i] = commands[i].name;
    }
    const char *best = sim_cfg_closest(cmd, names, NCOMMANDS);
    fprintf(stderr, "ragsim: error: unknown command '%s'", cmd);
    if (best) fprintf(stderr, "; did you mean '%s'?", best);
    fprintf(stderr, " (commands:");
    for (size_t i = 0; i < NCOMMANDS; i++) fprintf(stderr, "%s %s", i ? "," : "", names[i]);
    fprintf(stderr, "; see ragsim --help)\n");
    return 2;
}
