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
#include "cli/llm.h"
#include "cli/sweep_cli.h"
#include "experiment/runner.h"
#include "sim/units.h"

static const char usage[] =
    "ragsim " RAGSIM_VERSION " - deterministic discrete-event simulator of RAG services under load\n"
    "\n"
    "usage:\n"
    "  ragsim run SCENARIO.yaml [-o OUT.h5] [--seed N] [--reps N] [--set KEY=VALUE]...\n"
    "                           [--max-events N] [--max-pending N] [--max-inflight N]\n"
    "                           [--max-memory SIZE] [--force] [--no-trace] [--variants a,b,...] [-q]\n"
    "  ragsim compare SCENARIO.yaml [-o OUT.h5] [--force] [--reps N] [--variants a,b,...] [--set KEY=VALUE]...\n"
    "  ragsim validate SCENARIO.yaml [--set KEY=VALUE]...\n"
    "  ragsim sweep SWEEP.yaml [-o OUT.h5] [-j N] [--resume] [--find max-load] [--reps N] [-q]\n"
    "                          (capacity planning over a grid; see ragsim sweep --help)\n"
    "  ragsim bench hold|mmc|rag [options]\n"
    "  ragsim llm step-time --gpu G --model M [--tp N] --tokens LIST [--decode-seqs B --context C]\n"
    "                                  time of one LLM forward pass from the hardware and the\n"
    "                                  model (see ragsim llm --help, docs/llm-validation.md)\n"
    "  ragsim llm capacity SCENARIO.yaml | --gpu G --model M --prompt P --output O [--ttft D] [--tpot D]\n"
    "                                  load one LLM replica sustains for a token mix, before any run\n"
    "  ragsim report OUT.h5 [-o DIR]   figures and an HTML page of a trace (Python;\n"
    "                                  see docs/analysis.md and ragsim report --help)\n"
    "  ragsim export OUT.h5 --format openmetrics|promtool-test|csv|chrome-trace [-o FILE]\n"
    "                                  the trace for Prometheus/Grafana, promtool test rules,\n"
    "                                  spreadsheets, Perfetto (Python; docs/observability.md)\n"
    "  ragsim --help | --version\n"
    "\n"
    "run options:\n"
    "  -o, --output OUT.h5   trace file (default: SCENARIO's stem + .h5 in the current\n"
    "                        directory). Written to a temporary file and renamed when\n"
    "                        complete. An existing file is not replaced without --force\n"
    "                        (exit status 2); with --force it is replaced only then.\n"
    "      --force           replace an existing trace file (a regular file that is not\n"
    "                        the scenario; anything else is refused, exit status 2)\n"
    "      --seed N          master seed (default: the scenario's `seed`)\n"
    "      --reps N          replications (default: the scenario's `replications`)\n"
    "      --set KEY=VALUE   override a scenario value, e.g. --set stations.db.servers=4\n"
    "                        or --set workload.rate=12/s; VALUE is YAML (lists work)\n"
    "      --max-events N    stop a run after N events (exit status 1; 0 = no limit)\n"
    "      --max-pending N   stop a run holding more than N pending events\n"
    "                        (default 20000000; 0 = no limit)\n"
    "      --max-inflight N  stop a run holding more than N requests in the system\n"
    "                        (default 5000000; 0 = no limit)\n"
    "      --max-memory SIZE stop a run holding more than about SIZE of memory, e.g. 8GiB\n"
    "                        (default 4GiB; 0 = no limit). A run stopped by a budget\n"
    "                        exits with status 1; its trace is written, marked incomplete\n"
    "      --no-trace        do not write a trace\n"
    "      --variants a,b    run only these variants (default: all; compare adds the baseline)\n"
    "  -q, --quiet           no summary and no progress bar\n"
    "\n"
    "compare runs every variant with the same seeds (common random numbers) and prints,\n"
    "per variant, the key metrics with 95% confidence intervals and the paired difference\n"
    "against the baseline: better, worse, or not significant.\n"
    "\n"
    "A progress bar is drawn on stderr when it is a terminal. The summary goes to stdout.\n"
    "Exit status: 0 success, 1 runtime failure or budget exhausted, 2 bad usage, bad\n"
    "input or an output that may not be written, 130/143 stopped by SIGINT/SIGTERM\n"
    "(nothing written). See docs/hardening.md.\n"
    "Documentation: README.md, docs/scenario-format.md, docs/trace-format.md.\n";

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
        {"max-memory", 1, 0, 'M'}, {"force", 0, 0, 'f'}, {0, 0, 0, 0}};
    int c, status = 2;
    uint64_t v;
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
        case 'S':
            if (cli_parse_count(optarg, "--seed", INT64_MAX, &v)) goto out;
            o.have_seed = true;
            o.seed = v;
            break;
        case 'r':
            if (cli_parse_count(optarg, "--reps", 100000, &v)) goto out;
            if (v == 0) {
                fprintf(stderr, "ragsim: error: --reps must be at least 1\n");
                goto out;
            }
            o.reps = (int64_t)v;
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
        case 'n': o.no_trace = true; break;
        case 'v':
            if (!*optarg) {
                fprintf(stderr, "ragsim: error: --variants needs a comma-separated list of variant names\n");
                goto out;
            }
            o.variants = optarg;
            break;
        case 'q': o.quiet = true; o.progress = false; break;
        case 'h': fputs(usage, stdout); status = 0; goto out;
        case ':': fprintf(stderr, "ragsim: error: option '%s' needs a value\n", argv[optind - 1]); goto out;
        default:
            fprintf(stderr, "ragsim: error: unknown option '%s' (see ragsim --help)\n", argv[optind - 1]);
            goto out;
        }
    }
    if (optind >= argc) {
        fprintf(stderr, "ragsim: error: missing the scenario file: ragsim %s SCENARIO.yaml\n", argv[0]);
        goto out;
    }
    if (optind + 1 < argc) {
        fprintf(stderr, "ragsim: error: unexpected argument '%s' (one scenario per run)\n", argv[optind + 1]);
        goto out;
    }
    o.scenario = argv[optind];
    if (cmd == CMD_VALIDATE && (o.out || o.have_seed || o.reps || o.max_events || o.no_trace || o.variants ||
                                o.force || o.budget.max_pending || o.budget.max_inflight || o.budget.max_memory)) {
        fprintf(stderr, "ragsim: error: validate takes only --set and -q\n");
        goto out;
    }
    status = cmd == CMD_VALIDATE  ? rs_cmd_validate(&o, stdout, stderr)
             : cmd == CMD_COMPARE ? rs_cmd_compare(&o, stdout, stderr)
                                  : rs_cmd_run(&o, stdout, stderr);
out:
    free(sets);
    return status;
}

/* ragsim report and ragsim export: run `python3 -m ragsim_analysis SUB ...` (analysis/) with
 * the interpreter found at configure time (RAGSIM_PYTHON, the one with Debian's
 * numpy, h5py and matplotlib), else python3 on PATH. The Python side checks its
 * imports and names the Debian packages that are missing. */
static int cmd_python(const char *sub, int argc, char **argv)
{
    const char *py = RAGSIM_PYTHON;
    const char *dir = getenv("RAGSIM_ANALYSIS_DIR");
    char path[4096];
    if (!dir || !*dir) {
        snprintf(path, sizeof path, "%s/analysis", RAGSIM_SOURCE_DIR);
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
        fputs(usage, stderr);
        return 2;
    }
    const char *cmd = argv[1];
    if (strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0 || strcmp(cmd, "help") == 0) {
        fputs(usage, stdout);
        return 0;
    }
    if (strcmp(cmd, "--version") == 0 || strcmp(cmd, "-V") == 0) {
        printf("ragsim %s\n", RAGSIM_VERSION);
        return 0;
    }
    if (strcmp(cmd, "run") == 0) return cmd_run_or_validate(argc - 1, argv + 1, CMD_RUN);
    if (strcmp(cmd, "validate") == 0) return cmd_run_or_validate(argc - 1, argv + 1, CMD_VALIDATE);
    if (strcmp(cmd, "compare") == 0) return cmd_run_or_validate(argc - 1, argv + 1, CMD_COMPARE);
    if (strcmp(cmd, "sweep") == 0) return sweep_main(argc - 1, argv + 1);
    if (strcmp(cmd, "bench") == 0) return bench_main(argc - 1, argv + 1, stdout, stderr);
    if (strcmp(cmd, "llm") == 0) return llm_main(argc - 1, argv + 1, stdout, stderr);
    if (strcmp(cmd, "report") == 0) return cmd_python("report", argc - 1, argv + 1);
    if (strcmp(cmd, "export") == 0) return cmd_python("export", argc - 1, argv + 1);
    fprintf(stderr, "ragsim: error: unknown command '%s' (commands: run, compare, validate, sweep, report, export, bench, llm; see ragsim --help)\n", cmd);
    return 2;
}
