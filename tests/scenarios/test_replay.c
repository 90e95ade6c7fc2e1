/* scenarios/replay-azure-conversation.yaml replays the Azure conversation
 * trace exactly: the run's arrivals and the sums of their prompt and output
 * tokens equal the file's (read here independently). A bad row stops the
 * run before it starts: FILE:LINE:COL, exit status 2, nothing written. */
#include <criterion/criterion.h>
#include <hdf5.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "h5util.h"
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
             "duration: 10s\nworkload:\n  trace: %s\npipeline: {steps: [generate]}\n", slash + 1);
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
