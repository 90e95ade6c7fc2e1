/* The command line: usage errors, scenario errors with FILE:LINE:COL and
 * exit status 2, output-file safety, budgets, and a successful run. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "testutil.h"

static const char good[] =
    "name: t\n"
    "duration: 60s\n"
    "seed: 3\n"
    "workload: {arrivals: poisson, rate: 5/s}\n"
    "stations:\n"
    "  db:\n"
    "    servers: 2\n"
    "    service: {dist: exponential, mean: 100ms}\n"
    "route: [db]\n";

/* ragsim(arg, ...): run the binary; the argument list ends at the first NULL. */
#define ragsim(...) ragsim_argv((const char *[]){RAGSIM_BINARY, __VA_ARGS__, NULL})
static tu_run_t ragsim_argv(const char **argv) { return tu_run(argv); }

/* Write `yaml` to a temp scenario, run `ragsim run` on it with -o to a file
 * that already holds "previous", and check: exit 2, the message, and that
 * the previous output is untouched. */
static void bad_scenario(const char *yaml, const char *where, const char *msg)
{
    char *scen = tu_tmp_path("bad", ".yaml"), *out = tu_tmp_path("bad", ".h5");
    cr_assert_eq(tu_write_file(scen, yaml), 0);
    cr_assert_eq(tu_write_file(out, "previous"), 0);
    tu_run_t r = ragsim("run", scen, "-o", out, "-q", NULL, NULL);
    cr_assert_eq(r.status, 2, "exit %d for:\n%s\nstderr: %s", r.status, yaml, r.err);
    char pos[4200];
    snprintf(pos, sizeof pos, "%s:%s:", scen, where);
    cr_assert(strstr(r.err, "error: "), "no error in stderr:\n%s", r.err);
    cr_assert(strstr(r.err, pos), "want '%s' in stderr:\n%s", pos, r.err);
    cr_assert(strstr(r.err, msg), "want '%s' in stderr:\n%s", msg, r.err);
    char *content = tu_read_file(out, NULL);
    cr_assert_str_eq(content, "previous", "the output file was touched");
    free(content);
    tu_run_free(&r);
    unlink(scen);
    unlink(out);
    free(scen);
    free(out);
}

static char *with(const char *from, const char *to)
{
    const char *p = strstr(good, from);
    cr_assert_not_null(p, "fixture lacks '%s'", from);
    size_t n = strlen(good) - strlen(from) + strlen(to) + 1;
    char *s = malloc(n);
    snprintf(s, n, "%.*s%s%s", (int)(p - good), good, to, p + strlen(from));
    return s;
}

#define BAD(from, to, where, msg)              \
    do {                                       \
        char *y_ = with(from, to);             \
        bad_scenario(y_, where, msg);          \
        free(y_);                              \
    } while (0)

Test(cli, unknown_key_suggests_the_closest)
{
    BAD("    servers: 2\n", "    servres: 2\n", "7:5", "unknown key 'servres'");
    BAD("    servers: 2\n", "    servres: 2\n", "7:5", "did you mean 'servers'");
    BAD("duration: 60s\n", "duraton: 60s\n", "2:1", "did you mean 'duration'");
}

Test(cli, bare_number_where_a_unit_is_expected)
{
    BAD("duration: 60s\n", "duration: 60\n", "2:11", "duration");
    BAD("rate: 5/s", "rate: 5", "4:37", "rate");
    BAD("mean: 100ms", "mean: 100", "8:40", "duration");
}

Test(cli, duplicate_key_points_at_the_second)
{
    BAD("    servers: 2\n", "    servers: 2\n    servers: 3\n", "8:5", "duplicate key 'servers'");
}

Test(cli, wrong_type_and_out_of_range)
{
    BAD("    servers: 2\n", "    servers: two\n", "7:14", "integer");
    BAD("    servers: 2\n", "    servers: 0\n", "7:14", "between 1 and");
    BAD("    servers: 2\n", "    servers: [2]\n", "7:14", "integer");
    BAD("seed: 3\n", "seed: -3\n", "3:7", "seed");
}

Test(cli, missing_required_fields)
{
    BAD("duration: 60s\n", "", "1:1", "missing required top-level key 'duration'");
    BAD("    service: {dist: exponential, mean: 100ms}\n", "", "7:5", "missing required key 'service'");
    BAD("route: [db]\n", "", "1:1", "missing required top-level key 'route'");
}

Test(cli, reference_to_an_undefined_station)
{
    BAD("route: [db]\n", "route: [dbb]\n", "9:9", "did you mean 'db'");
}

Test(cli, yaml_syntax_error_has_a_position)
{
    BAD("    servers: 2\n", "    servers: [2\n", "8", "YAML");
}

Test(cli, bad_set_override_is_reported_at_its_column)
{
    char *scen = tu_tmp_path("set", ".yaml");
    cr_assert_eq(tu_write_file(scen, good), 0);
    tu_run_t r = ragsim("run", scen, "--no-trace", "--set", "stations.db.servers=lots", "-q", NULL);
    cr_assert_eq(r.status, 2);
    cr_assert(strstr(r.err, "--set:1:21: error:"), "stderr: %s", r.err);
    tu_run_free(&r);
    r = ragsim("run", scen, "--no-trace", "--set", "stations.db.servres=3", "-q", NULL);
    cr_assert_eq(r.status, 2);
    cr_assert(strstr(r.err, "did you mean 'servers'"), "stderr: %s", r.err);
    tu_run_free(&r);
    r = ragsim("run", scen, "--no-trace", "--set", "nonsense", "-q", NULL);
    cr_assert_eq(r.status, 2);
    cr_assert(strstr(r.err, "--set"), "stderr: %s", r.err);
    tu_run_free(&r);
    unlink(scen);
    free(scen);
}

Test(cli, bad_command_lines_exit_2_with_a_message)
{
    tu_run_t r = ragsim("frobnicate", NULL, NULL, NULL, NULL, NULL, NULL);
    cr_assert_eq(r.status, 2);
    cr_assert(strstr(r.err, "unknown command 'frobnicate'"), "%s", r.err);
    tu_run_free(&r);
    r = ragsim("run", NULL, NULL, NULL, NULL, NULL, NULL);
    cr_assert_eq(r.status, 2);
    cr_assert(strstr(r.err, "missing the scenario file"), "%s", r.err);
    tu_run_free(&r);
    r = ragsim("run", "x.yaml", "--bogus", NULL, NULL, NULL, NULL);
    cr_assert_eq(r.status, 2);
    cr_assert(strstr(r.err, "unknown option '--bogus'"), "%s", r.err);
    tu_run_free(&r);
    r = ragsim("run", "x.yaml", "--reps", "-1", NULL, NULL, NULL);
    cr_assert_eq(r.status, 2);
    cr_assert(strstr(r.err, "--reps"), "%s", r.err);
    tu_run_free(&r);
    r = ragsim("run", "/nonexistent/file.yaml", NULL, NULL, NULL, NULL, NULL);
    cr_assert_eq(r.status, 2);
    cr_assert(strstr(r.err, "/nonexistent/file.yaml"), "%s", r.err);
    tu_run_free(&r);
}

/* `ragsim bench`: its bad inputs end like every command's (the timings
 * themselves are benchmarks, never tested). */
Test(cli, bench_bad_inputs_exit_2_with_a_message)
{
    tu_run_t r = ragsim("bench", "rag", "--reps", "0", NULL, NULL, NULL);
    cr_assert_eq(r.status, 2);
    cr_assert(strstr(r.err, "--reps in [1, 1000]"), "%s", r.err);
    tu_run_free(&r);
    r = ragsim("bench", "rag", tu_src("scenarios/demo.yaml"), "--reps", "1", NULL, NULL);
    cr_assert_eq(r.status, 2);
    cr_assert(strstr(r.err, "is not a RAG scenario"), "%s", r.err);
    tu_run_free(&r);
    r = ragsim("bench", "rag", "/nonexistent/rag.yaml", NULL, NULL, NULL, NULL);
    cr_assert_eq(r.status, 2);
    cr_assert(strstr(r.err, "/nonexistent/rag.yaml"), "%s", r.err);
    tu_run_free(&r);
    r = ragsim("bench", "frob", NULL, NULL, NULL, NULL, NULL);
    cr_assert_eq(r.status, 2);
    cr_assert(strstr(r.err, "usage: ragsim bench"), "%s", r.err);
    tu_run_free(&r);
    /* the hold model's size is bounded: 99999999999999 pending events used
     * to be allocated (or tried) as asked */
    r = ragsim("bench", "hold", "--pending", "99999999999999", NULL, NULL, NULL);
    cr_assert_eq(r.status, 2, "exit %d: %s", r.status, r.err);
    cr_assert(strstr(r.err, "--pending 99999999999999 is more than the limit 20000000"), "%s", r.err);
    tu_run_free(&r);
    r = ragsim("bench", "hold", "--pending", "20000001", NULL, NULL, NULL);
    cr_assert_eq(r.status, 2, "exit %d: %s", r.status, r.err);
    tu_run_free(&r);
    r = ragsim("bench", "hold", "--ops", "1e13", NULL, NULL, NULL);
    cr_assert_eq(r.status, 2, "exit %d: %s", r.status, r.err);
    cr_assert(strstr(r.err, "--ops"), "%s", r.err);
    tu_run_free(&r);
}

Test(cli, help_and_version)
{
    tu_run_t r = ragsim("--help", NULL, NULL, NULL, NULL, NULL, NULL);
    cr_assert_eq(r.status, 0);
    /* one line per command */
    static const char *const cmds[] = {"\n  run ", "\n  compare ", "\n  validate ", "\n  sweep ", "\n  report ",
                                       "\n  llm ", "\n  bench "};
    for (size_t i = 0; i < sizeof cmds / sizeof *cmds; i++) cr_assert(strstr(r.out, cmds[i]), "%s: %s", cmds[i], r.out);
    tu_run_free(&r);
    /* a command's --help is about that command only */
    r = ragsim("compare", "--help", NULL, NULL, NULL, NULL, NULL);
    cr_assert_eq(r.status, 0);
    cr_assert(!strncmp(r.out, "usage: ragsim compare SCENARIO.yaml", 35), "%s", r.out);
    cr_assert(strstr(r.out, "--jobs N") && strstr(r.out, "--resume"), "%s", r.out);
    cr_assert(!strstr(r.out, "ragsim run ") && !strstr(r.out, "ragsim sweep") && !strstr(r.out, "ragsim llm"), "%s", r.out);
    tu_run_free(&r);
    r = ragsim("validate", "--help", NULL, NULL, NULL, NULL, NULL);
    cr_assert_eq(r.status, 0);
    cr_assert(!strncmp(r.out, "usage: ragsim validate", 22) && !strstr(r.out, "--jobs") && !strstr(r.out, "compare"),
              "%s", r.out);
    tu_run_free(&r);
    /* a mistyped command: did you mean */
    r = ragsim("compre", "x.yaml", NULL, NULL, NULL, NULL, NULL);
    cr_assert_eq(r.status, 2);
    cr_assert(strstr(r.err, "unknown command 'compre'; did you mean 'compare'?"), "%s", r.err);
    tu_run_free(&r);
    /* standard output or a directory as -o: one clear message each */
    r = ragsim("run", "x.yaml", "-o", "-", NULL, NULL, NULL);
    cr_assert_eq(r.status, 2);
    cr_assert(strstr(r.err, "-o -: the output is an HDF5 file, which cannot be written to standard output") &&
              !strchr(strchr(r.err, '\n') + 1, '\n'), "%s", r.err);
    tu_run_free(&r);
    r = ragsim("sweep", "x.yaml", "-o", "/tmp", NULL, NULL, NULL);
    cr_assert_eq(r.status, 2);
    cr_assert(strstr(r.err, "-o /tmp: is a directory; give a file name, e.g. -o /tmp/OUT.h5"), "%s", r.err);
    tu_run_free(&r);
    r = ragsim("--version", NULL, NULL, NULL, NULL, NULL, NULL);
    cr_assert_eq(r.status, 0);
    cr_assert(strncmp(r.out, "ragsim ", 7) == 0);
    tu_run_free(&r);
}

Test(cli, successful_run_writes_trace_and_prints_summary)
{
    char *scen = tu_tmp_path("ok", ".yaml"), *out = tu_tmp_path("ok", ".h5");
    cr_assert_eq(tu_write_file(scen, good), 0);
    tu_run_t r = ragsim("run", scen, "-o", out, "--reps", "3", NULL, NULL);
    cr_assert_eq(r.status, 0, "%s", r.err);
    cr_assert(strstr(r.out, "station"), "%s", r.out);
    cr_assert(strstr(r.out, "db"), "%s", r.out);
    cr_assert(strstr(r.out, "±"), "CI expected with 3 replications: %s", r.out);
    cr_assert(strstr(r.out, "theory M/M/c (Erlang C)"), "%s", r.out);
    cr_assert(strstr(r.out, out), "the summary names the trace: %s", r.out);
    struct stat sb;
    cr_assert_eq(stat(out, &sb), 0);
    cr_assert_gt(sb.st_size, 1000);
    cr_assert_eq(strstr(r.err, "\r"), NULL, "no progress bar when stderr is not a terminal");
    tu_run_free(&r);
    unlink(out);
    unlink(scen);
    free(scen);
    free(out);
}

Test(cli, event_budget_stops_with_status_1_and_names_the_flag)
{
    char *scen = tu_tmp_path("budget", ".yaml"), *out = tu_tmp_path("budget", ".h5");
    cr_assert_eq(tu_write_file(scen, good), 0);
    tu_run_t r = ragsim("run", scen, "-o", out, "--max-events", "100", "-q", NULL);
    cr_assert_eq(r.status, 1);
    cr_assert(strstr(r.err, "--max-events"), "%s", r.err);
    tu_run_free(&r);
    unlink(out);
    unlink(scen);
    free(scen);
    free(out);
}

Test(cli, validate_reports_ok_and_warnings)
{
    char *scen = tu_tmp_path("val", ".yaml");
    char *y = with("mean: 100ms", "mean: 1s");   /* 5/s x 1 s / 2 servers = 2.5: unstable */
    cr_assert_eq(tu_write_file(scen, y), 0);
    tu_run_t r = ragsim("validate", scen, NULL, NULL, NULL, NULL, NULL);
    cr_assert_eq(r.status, 0, "%s", r.err);
    cr_assert(strstr(r.out, "is valid"), "%s", r.out);
    cr_assert(strstr(r.err, "warning: station 'db' is unstable"), "%s", r.err);
    cr_assert(strstr(r.err, "grows without bound"), "%s", r.err);
    tu_run_free(&r);
    free(y);
    unlink(scen);
    free(scen);
}

/* `ragsim report` hands over to the Python analysis package; without it,
 * a clear error and exit 2 (the Python side is tested in analysis/tests). */
Test(cli, report_without_the_analysis_package_exits_2)
{
    cr_assert_eq(setenv("RAGSIM_ANALYSIS_DIR", "/nonexistent/analysis", 1), 0);
    tu_run_t r = ragsim("report", "trace.h5", NULL, NULL, NULL, NULL, NULL);
    cr_assert_eq(r.status, 2, "exit %d, stderr: %s", r.status, r.err);
    cr_assert(strstr(r.err, "ragsim: error: report needs the analysis package"), "%s", r.err);
    cr_assert(strstr(r.err, "/nonexistent/analysis/ragsim_analysis"), "%s", r.err);
    tu_run_free(&r);
    unsetenv("RAGSIM_ANALYSIS_DIR");
    r = ragsim("--help", NULL, NULL, NULL, NULL, NULL, NULL);
    cr_assert(strstr(r.out, "\n  report "), "%s", r.out);
    tu_run_free(&r);
}
