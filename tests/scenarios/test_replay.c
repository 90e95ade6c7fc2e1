/* scenarios/replay-azure-conversation.yaml replays the Azure conversation
 * trace exactly: the run's arrivals and the sums of their prompt and output
 * tokens equal the file's (read here independently). A bad row stops the
 * run before it starts: FILE:LINE:COL, exit status 2, nothing written. */
#include <criterion/criterion.h>
#include <hdf5.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "h5util.h"
#include "ragfx.h"
#include "testutil.h"

Test(replay, azure_conversation_trace_is_replayed_exactly, .timeout = 300)
{
    FILE *fp = fopen(tu_src("data/traces/azure-llm-2023-conversation.csv"), "r");
    cr_assert_not_null(fp);
    char line[256];
    double rows = 0, psum = 0, osum = 0, t;
    int p, o;
    cr_assert_not_null(fgets(line, sizeof line, fp));
    while (fgets(line, sizeof line, fp)) {
        cr_assert_eq(sscanf(line, "%lf,%d,%d", &t, &p, &o), 3);
        rows++;
        psum += p;
        osum += o;
    }
    fclose(fp);
    char *path;
    hid_t f = run_scenario("scenarios/replay-azure-conversation.yaml", NULL, &path, NULL);
    double arrivals = summary_value(f, 0, "arrivals");
    double prompt = summary_value(f, 0, "offered_prompt_tokens");
    double output = summary_value(f, 0, "offered_output_tokens");
    double ok = summary_value(f, 0, "success_ratio");
    cr_log_info("replay: %.0f arrivals (file %.0f rows), %.0f prompt tokens (file %.0f), %.0f output tokens (file %.0f), "
                "success ratio %.5f", arrivals, rows, prompt, psum, output, osum, ok);
    cr_assert_eq(rows, 19366);
    cr_assert_eq(arrivals, rows);
    cr_assert_eq(prompt, psum);
    cr_assert_eq(output, osum);
    /* the deployment carries the hour: only the prompts longer than the context fail */
    cr_assert_gt(ok, 0.999, "success ratio %g", ok);
    H5Fclose(f);
    unlink(path);
    free(path);
}

Test(replay, a_bad_row_is_an_input_error, .timeout = 60)
{
    char *csv = tu_tmp_path("bad-trace", "csv"), *scen = tu_tmp_path("bad-trace", "yaml"),
         *out = tu_tmp_path("bad-trace", "h5");
    cr_assert_eq(tu_write_file(csv, "arrived_at,num_prefill_tokens,num_decode_tokens\n0.5,100,10\n0.7,12x,10\n"), 0);
    const char *slash = strrchr(csv, '/');
    char text[1024];
    snprintf(text, sizeof text,
             "name: t\nduration: 10s\nworkload:\n  trace: %s\npipeline: {steps: [generate]}\n", slash + 1);
    cr_assert_eq(tu_write_file(scen, text), 0);
    const char *argv[] = {RAGSIM_BINARY, "run", scen, "-o", out, NULL};
    tu_run_t r = tu_run(argv);
    char want[4200];
    snprintf(want, sizeof want, "%s:3:5: error: 'num_prefill_tokens': expected a whole number of tokens", csv);
    cr_assert_eq(r.status, 2, "exit %d, stderr:\n%s", r.status, r.err);
    cr_assert(strstr(r.err, want), "expected '%s' in:\n%s", want, r.err);
    cr_assert_neq(access(out, F_OK), 0, "an output was written");
    tu_run_free(&r);
    unlink(csv);
    unlink(scen);
    free(csv);
    free(scen);
    free(out);
}

/* Request classes: the shares, the per-class demands and the per-class
 * figures add up to the run's (scenarios/class-mix.yaml). */
Test(replay, class_mix_per_class_figures, .timeout = 300)
{
    char *path;
    const char *sets[] = {"duration=4m", NULL};
    hid_t f = run_scenario("scenarios/class-mix.yaml", NULL, &path, sets);
    double all = summary_value(f, 0, "arrivals");
    double chat = summary_value(f, 0, "arrivals{class=chat}"), rep = summary_value(f, 0, "arrivals{class=report}");
    cr_assert_eq(chat + rep, all);
    double p = 0.2, share = rep / all;
    cr_assert(fabs(share - p) < 4 * sqrt(p * (1 - p) / all), "report share %.4f of %.0f arrivals", share, all);
    static const char *const oc[] = {"success", "degraded", "timeout", "error", "rejected"};
    for (int o = 0; o < 5; o++) {
        char a[64], b[64];
        snprintf(a, sizeof a, "%s{class=chat}", oc[o]);
        snprintf(b, sizeof b, "%s{class=report}", oc[o]);
        cr_assert_eq(summary_value(f, 0, a) + summary_value(f, 0, b), summary_value(f, 0, oc[o]), "%s", oc[o]);
    }
    /* each class's own output-token mix: lognormal means 150 (chat) and 1200 (report) */
    double ochat = summary_value(f, 0, "offered_output_tokens{class=chat}") / chat;
    double orep = summary_value(f, 0, "offered_output_tokens{class=report}") / rep;
    cr_log_info("class mix: %.0f arrivals, report share %.4f; output tokens per request chat %.1f, report %.1f; "
                "success chat %.4f report %.4f; p95 chat %.2f s report %.2f s", all, share, ochat, orep,
                summary_value(f, 0, "success_ratio{class=chat}"), summary_value(f, 0, "success_ratio{class=report}"),
                summary_value(f, 0, "latency_p95_s{class=chat}"), summary_value(f, 0, "latency_p95_s{class=report}"));
    cr_assert(fabs(ochat / 150 - 1) < 0.02, "chat output tokens %.1f per request", ochat);
    cr_assert(fabs(orep / 1200 - 1) < 0.03, "report output tokens %.1f per request", orep);
    /* the long reports wait longer than the chat's answers */
    cr_assert_gt(summary_value(f, 0, "latency_p50_s{class=report}"), 3 * summary_value(f, 0, "latency_p50_s{class=chat}"));
    H5Fclose(f);
    unlink(path);
    free(path);
}

/* A trace's class column gives each row's class exactly; classes with
 * arrival processes of their own run side by side. */
Test(replay, classes_from_a_trace_and_of_their_own, .timeout = 120)
{
    char *csv = tu_tmp_path("cls-trace", "csv"), *scen = tu_tmp_path("cls-trace", "yaml"), *out = tu_tmp_path("cls", "h5");
    char *text = malloc(1 << 20);
    cr_assert_not_null(text);
    size_t o = (size_t)sprintf(text, "time,class,prompt_tokens\n");
    int na = 0, nb = 0;
    for (int i = 0; i < 3000; i++) {   /* every third row is class b */
        bool b = i % 3 == 2;
        o += (size_t)sprintf(text + o, "%.3f,%s,%d\n", 0.01 * i, b ? "b" : "a", 10 + i % 7);
        na += !b;
        nb += b;
    }
    cr_assert_eq(tu_write_file(csv, text), 0);
    snprintf(text, 1 << 20,
             "name: t\nduration: 40s\nworkload:\n  trace: %s\n  deadline: 10s\n  classes:\n    a: {}\n    b: {deadline: 20s}\n"
             "pipeline: {steps: [generate]}\nllm: {replicas: 2}\n", strrchr(csv, '/') + 1);
    cr_assert_eq(tu_write_file(scen, text), 0);
    const char *argv[] = {RAGSIM_BINARY, "run", scen, "-q", "-o", out, NULL};
    tu_run_t r = tu_run(argv);
    cr_assert_eq(r.status, 0, "%s", r.err);
    tu_run_free(&r);
    hid_t f = H5Fopen(out, H5F_ACC_RDONLY, H5P_DEFAULT);
    cr_assert_geq(f, 0);
    cr_assert_eq(summary_value(f, 0, "arrivals{class=a}"), na);
    cr_assert_eq(summary_value(f, 0, "arrivals{class=b}"), nb);
    H5Fclose(f);
    unlink(out);
    /* own arrival processes: 30/s and an on/off MMPP of mean 10/s */
    snprintf(text, 1 << 20,
             "name: t\nduration: 200s\nworkload:\n  classes:\n    steady: {rate: 30/s}\n"
             "    bursty: {arrivals: mmpp, states: [{rate: 50/s, mean_time: 1s}, {rate: 0/s, mean_time: 4s}]}\n"
             "pipeline: {steps: [generate]}\nllm: {replicas: 4}\n");
    cr_assert_eq(tu_write_file(scen, text), 0);
    r = tu_run(argv);
    cr_assert_eq(r.status, 0, "%s", r.err);
    tu_run_free(&r);
    f = H5Fopen(out, H5F_ACC_RDONLY, H5P_DEFAULT);
    double s = summary_value(f, 0, "arrivals{class=steady}"), b = summary_value(f, 0, "arrivals{class=bursty}");
    cr_log_info("own classes: steady %.0f (6000), bursty %.0f (2000)", s, b);
    cr_assert(fabs(s - 6000) < 4 * sqrt(6000), "steady %g", s);
    /* the MMPP's count over 200 s: IDC ~ 1 + 2*1*0.25*2500/(1.25^3*10) = 65, sd ~ sqrt(65*2000) */
    cr_assert(fabs(b - 2000) < 4 * sqrt(65 * 2000), "bursty %g", b);
    H5Fclose(f);
    /* a trace class that 'classes' does not define: an input error */
    snprintf(text, 1 << 20, "name: t\nduration: 4s\nworkload:\n  trace: %s\n  classes:\n    a: {}\npipeline: {steps: [generate]}\n",
             strrchr(csv, '/') + 1);
    cr_assert_eq(tu_write_file(scen, text), 0);
    r = tu_run(argv);
    cr_assert_eq(r.status, 2);
    cr_assert(strstr(r.err, "rows of class 'b', which 'classes' does not define"), "%s", r.err);
    tu_run_free(&r);
    unlink(out);
    unlink(csv);
    unlink(scen);
    free(text);
    free(csv);
    free(scen);
    free(out);
}

/* Network round trips on the call edges: a chain of three calls pays three
 * round trips, exactly (deterministic latencies, one request at a time). */
static double mean_latency(const char *scen, const char *const *sets)
{
    const char *argv[16] = {RAGSIM_BINARY, "run", scen, "-q", "--no-trace", NULL};
    char *out = tu_tmp_path("net", "h5");
    size_t n = 3;
    argv[n++] = "-q";
    argv[n++] = "-o";
    argv[n++] = out;
    for (size_t i = 0; sets && sets[i]; i++) {
        argv[n++] = "--set";
        argv[n++] = sets[i];
    }
    argv[n] = NULL;
    tu_run_t r = tu_run(argv);
    cr_assert_eq(r.status, 0, "%s", r.err);
    tu_run_free(&r);
    hid_t f = H5Fopen(out, H5F_ACC_RDONLY, H5P_DEFAULT);
    cr_assert_geq(f, 0);
    double v = summary_value(f, 0, "latency_mean_s");
    /* every request answered (the one arriving at the end is still in flight) */
    cr_assert_geq(summary_value(f, 0, "success"), summary_value(f, 0, "arrivals") - 1);
    H5Fclose(f);
    unlink(out);
    free(out);
    return v;
}

Test(replay, a_chain_of_calls_pays_its_round_trips, .timeout = 120)
{
    char *scen = tu_tmp_path("net", "yaml");
    cr_assert_eq(tu_write_file(scen,
                               "name: net\nduration: 100s\nworkload: {arrivals: deterministic, rate: 1/s, deadline: 10s}\n"
                               "gateway: {replicas: 1, handling: {pre: 2ms, post: 1ms}, " RAGFX_GO_FREE "}\n"
                               "pipeline: {steps: [a, b, c]}\n"
                               "dependencies:\n  a: {latency: 10ms}\n  b: {latency: 20ms}\n  c: {latency: 5ms}\n"), 0);
    double base = mean_latency(scen, NULL);
    const char *all[] = {"network={rtt: 4ms}", NULL};
    double net = mean_latency(scen, all);
    const char *edge[] = {"network={rtt: 4ms}", "calls={b: {network: 30ms}}", NULL};
    double over = mean_latency(scen, edge);
    cr_log_info("mean latency: %.6f s without a network, %.6f s with 4 ms round trips, %.6f s with b's at 30 ms",
                base, net, over);
    cr_assert_float_eq(base, 0.038, 1e-9);
    cr_assert_float_eq(net - base, 3 * 0.004, 1e-9);
    cr_assert_float_eq(over - base, 0.004 + 0.030 + 0.004, 1e-9);
    unlink(scen);
    free(scen);
}
