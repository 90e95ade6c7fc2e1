/* `ragsim llm step-time`: the CSV it prints, its help, and exit status 2
 * with a clear message for every kind of bad usage. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"

#define ragsim(...) tu_run((const char *const[]){RAGSIM_BINARY, __VA_ARGS__, NULL})

static const char header[] = "tokens,ms,linear_ms,attention_ms,kv_read_ms,lm_head_ms,allreduce_ms,overhead_ms\n";

Test(llm_cli, step_time_prints_one_row_per_token_count)
{
    tu_run_t r = ragsim("llm", "step-time", "--gpu", "a100-80gb", "--model", "Meta-Llama-3-8B", "--tokens",
                        "1,128,512,2048,8192");
    cr_assert_eq(r.status, 0, "stderr: %s", r.err);
    cr_assert_str_eq(r.err, "");
    cr_assert(strncmp(r.out, header, strlen(header)) == 0, "%s", r.out);
    const char *p = r.out + strlen(header);
    long want[] = {1, 128, 512, 2048, 8192};
    double prev = 0;
    for (int i = 0; i < 5; i++) {
        long tok;
        double ms, lin, att, kv, lm, ar, ov;
        int n = 0;
        cr_assert_eq(sscanf(p, "%ld,%lf,%lf,%lf,%lf,%lf,%lf,%lf\n%n", &tok, &ms, &lin, &att, &kv, &lm, &ar, &ov, &n), 8,
                     "row %d: %s", i, p);
        p += n;
        cr_assert_eq(tok, want[i]);
        cr_assert_float_eq(ms, lin + att + kv + lm + ar + ov, 6e-4, "row %d: the terms add up", i);
        cr_assert_eq(kv, 0.0, "no decodes");
        cr_assert_eq(ar, 0.0, "tp 1");
        cr_assert_eq(ov, 2.0, "default overhead 2 ms");
        cr_assert_gt(ms, prev);
        prev = ms;
        if (i == 0) cr_assert(lin > 9.0 && lin < 10.5, "1 token ~ weights / bandwidth: %f ms", lin);
    }
    cr_assert_str_eq(p, "");
    tu_run_free(&r);
}

Test(llm_cli, decodes_tensor_parallelism_and_overhead)
{
    tu_run_t r = ragsim("llm", "step-time", "--gpu", "h100-sxm", "--model", "Meta-Llama-3-70B", "--tp", "4",
                        "--tokens", "0", "--decode-seqs", "64", "--context", "2000", "--step-overhead", "1ms");
    cr_assert_eq(r.status, 0, "stderr: %s", r.err);
    long tok;
    double ms, lin, att, kv, lm, ar, ov;
    cr_assert_eq(sscanf(r.out + strlen(header), "%ld,%lf,%lf,%lf,%lf,%lf,%lf,%lf", &tok, &ms, &lin, &att, &kv, &lm, &ar, &ov), 8);
    cr_assert_eq(tok, 0);
    cr_assert_eq(att, 0.0, "no prefill");
    cr_assert_gt(kv, 0.0);
    cr_assert_gt(ar, 0.0);
    cr_assert_eq(ov, 1.0);
    tu_run_free(&r);
}

Test(llm_cli, help_and_usage)
{
    tu_run_t r = ragsim("llm", "step-time", "--help");
    cr_assert_eq(r.status, 0);
    cr_assert(strstr(r.out, "usage: ragsim llm step-time --gpu G --model M"));
    cr_assert(strstr(r.out, "a100-80gb, h100-sxm, h200, a40, l40s"), "lists the GPUs");
    cr_assert(strstr(r.out, "Meta-Llama-3-8B"), "lists the models");
    tu_run_free(&r);
    r = ragsim("llm", "--help");
    cr_assert_eq(r.status, 0);
    cr_assert(strstr(r.out, "step-time"));
    tu_run_free(&r);
    r = ragsim("--help");
    cr_assert_eq(r.status, 0);
    cr_assert(strstr(r.out, "\n  llm ") && strstr(r.out, "LLM forward-pass time"), "ragsim --help mentions llm");
    tu_run_free(&r);
    r = ragsim("llm");
    cr_assert_eq(r.status, 2);
    cr_assert(strstr(r.err, "usage: ragsim llm SUBCOMMAND"));
    tu_run_free(&r);
}

/* Exit status 2, nothing on stdout, `msg` on stderr. */
static void bad(const char *const *argv, const char *msg)
{
    tu_run_t r = tu_run(argv);
    cr_assert_eq(r.status, 2, "exit %d, stderr: %s", r.status, r.err);
    cr_assert_str_eq(r.out, "");
    cr_assert(strstr(r.err, msg), "want '%s' in stderr:\n%s", msg, r.err);
    tu_run_free(&r);
}

#define BAD(msg, ...) bad((const char *const[]){RAGSIM_BINARY, "llm", __VA_ARGS__, NULL}, msg)

Test(llm_cli, bad_usage_exits_2_with_a_clear_message)
{
    BAD("unknown GPU 'a100' (known: a100-80gb, h100-sxm, h200, a40, l40s); did you mean 'a100-80gb'?",
        "step-time", "--gpu", "a100", "--model", "Meta-Llama-3-8B", "--tokens", "1");
    BAD("unknown model 'llama-2-7b' (known: Llama-2-7b-hf, Meta-Llama-3-8B, ", "step-time", "--gpu", "a40",
        "--model", "llama-2-7b", "--tokens", "1");
    BAD("did you mean 'Llama-2-7b-hf'?", "step-time", "--gpu", "a40", "--model", "llama-2-7b", "--tokens", "1");
    BAD("--tokens expects comma-separated integers", "step-time", "--gpu", "a40", "--model", "Llama-2-7b-hf",
        "--tokens", "1,x");
    BAD("--tokens expects comma-separated integers", "step-time", "--gpu", "a40", "--model", "Llama-2-7b-hf",
        "--tokens", "1,");
    BAD("--tp expects an integer between 1 and 64, got '0'", "step-time", "--gpu", "a40", "--model",
        "Llama-2-7b-hf", "--tokens", "1", "--tp", "0");
    BAD("--tp 3: tp must divide the model's attention heads", "step-time", "--gpu", "a40", "--model",
        "Llama-2-7b-hf", "--tokens", "1", "--tp", "3");
    BAD("missing --gpu", "step-time", "--model", "Llama-2-7b-hf", "--tokens", "1");
    BAD("--decode-seqs B and --context C go together", "step-time", "--gpu", "a40", "--model", "Llama-2-7b-hf",
        "--tokens", "1", "--context", "100");
    BAD("--decode-seqs expects an integer", "step-time", "--gpu", "a40", "--model", "Llama-2-7b-hf", "--tokens",
        "1", "--decode-seqs", "-1", "--context", "5");
    BAD("a step of 0 prefill tokens needs --decode-seqs", "step-time", "--gpu", "a40", "--model",
        "Llama-2-7b-hf", "--tokens", "0");
    BAD("--step-overhead expected a duration with a unit", "step-time", "--gpu", "a40", "--model",
        "Llama-2-7b-hf", "--tokens", "1", "--step-overhead", "2");
    BAD("unknown option '--gpus'", "step-time", "--gpus", "a40");
    BAD("unknown subcommand 'steptime' (subcommands: step-time, capacity); did you mean 'step-time'?", "steptime");
}
