/* `ragsim llm SUBCOMMAND`: the LLM step-time model on the command line.
 *
 *   step-time  the time of one forward pass (step) of a replica, term by
 *              term, for a list of prefill sizes (models/components/llm/steptime.h)
 *   capacity   the load one replica sustains for a token mix (llm_capacity.c)
 *
 * Subcommands are rows of llm_cmds below: a new one is a function with the
 * signature of llm_step_time_cmd and one row. */
#include "cli/llm.h"

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "models/components/llm/steptime.h"
#include "sim/cfg.h"
#include "sim/error.h"
#include "sim/units.h"

/* ---- lists and numbers --------------------------------------------------- */

/* "a, b, c" of a NULL-terminated list. */
static void llm_list(char *buf, size_t n, const char *const *names)
{
    size_t k = 0;
    buf[0] = '\0';
    for (size_t i = 0; names[i] && k + 1 < n; i++) {
        int w = snprintf(buf + k, n - k, "%s%s", i ? ", " : "", names[i]);
        if (w < 0) break;
        k += (size_t)w;
    }
}

/* A decimal integer in [lo, hi]; 0 or -1 after a message. */
static int llm_int(const char *cmd, const char *opt, const char *s, int64_t lo, int64_t hi, int64_t *out,
                   FILE *err)
{
    int64_t v;
    if (sim_parse_int(s, &v, NULL) != 0 || v < lo || v > hi) {
        fprintf(err, "ragsim %s: error: %s expects an integer between %" PRId64 " and %" PRId64 ", got '%s'\n",
                cmd, opt, lo, hi, s);
        return -1;
    }
    *out = v;
    return 0;
}

/* ---- step-time ------------------------------------------------------------ */

#define LLM_MAX_LIST 4096

static void llm_step_time_usage(FILE *f)
{
    char gpus[256], models[512];
    llm_list(gpus, sizeof gpus, llm_gpu_names);
    llm_list(models, sizeof models, llm_arch_names);
    fprintf(f,
            "usage: ragsim llm step-time --gpu G --model M [--tp N] --tokens LIST\n"
            "                            [--decode-seqs B --context C] [--step-overhead D]\n"
            "\n"
            "The time of one forward pass (step) of a vLLM-style replica at nominal speed,\n"
            "from the GPU's peak FLOP/s and memory bandwidth and the model's shapes, with\n"
            "constants fitted to measured A100 profiles (docs/llm-validation.md). For each\n"
            "number of prefill tokens in LIST the step holds one prompt of that many tokens\n"
            "(from scratch, completing: one token sampled) and, with --decode-seqs, B\n"
            "decoding sequences, each adding one token and reading C tokens of KV cache.\n"
            "\n"
            "  --gpu G             %s\n"
            "  --model M           %s\n"
            "  --tp N              tensor parallelism, GPUs per replica (default 1)\n"
            "  --tokens LIST       prefill tokens per step, comma-separated: 1,128,512\n"
            "  --decode-seqs B     decoding sequences in each step (default 0)\n"
            "  --context C         KV tokens each decoding sequence reads (with --decode-seqs)\n"
            "  --step-overhead D   fixed time per step (default 2ms: an assumption)\n"
            "\n"
            "Prints CSV, times in milliseconds:\n"
            "  tokens,ms,linear_ms,attention_ms,kv_read_ms,lm_head_ms,allreduce_ms,overhead_ms\n"
            "where tokens is the prefill tokens of the step and ms the whole step.\n"
            "Exit status 2 for bad usage.\n",
            gpus, models);
}

/* "unknown GPU 'x' (known: ...); did you mean 'y'?" */
static void llm_unknown(FILE *err, const char *what, const char *name, const char *const *names,
                        const char *suggestion)
{
    char list[512];
    llm_list(list, sizeof list, names);
    fprintf(err, "ragsim llm step-time: error: unknown %s '%s' (known: %s)", what, name, list);
    if (suggestion) fprintf(err, "; did you mean '%s'?", suggestion);
    fputc('\n', err);
}

/* Comma-separated token counts, each in [0, LLM_STEP_MAX_TOKENS]. */
static int llm_tokens(const char *s, int64_t *v, int *n, FILE *err)
{
    const char *p = s;
    *n = 0;
    for (;;) {
        const char *q = strchr(p, ',');
        size_t len = q ? (size_t)(q - p) : strlen(p);
        char item[32];
        int64_t x;
        if (len == 0 || len >= sizeof item) goto bad;
        memcpy(item, p, len);
        item[len] = '\0';
        if (sim_parse_int(item, &x, NULL) != 0 || x < 0 || x > LLM_STEP_MAX_TOKENS) goto bad;
        if (*n >= LLM_MAX_LIST) {
            fprintf(err, "ragsim llm step-time: error: --tokens takes at most %d numbers\n", LLM_MAX_LIST);
            return -1;
        }
        v[(*n)++] = x;
        if (!q) return 0;
        p = q + 1;
    }
bad:
    fprintf(err, "ragsim llm step-time: error: --tokens expects comma-separated integers between 0 and %d "
                 "such as 1,128,512, got '%s'\n", LLM_STEP_MAX_TOKENS, s);
    return -1;
}

static int llm_step_time_cmd(int argc, char **argv, FILE *out, FILE *err)
{
    static const struct option lo[] = {
        {"gpu", 1, 0, 'g'},         {"model", 1, 0, 'm'},   {"tp", 1, 0, 't'},
        {"tokens", 1, 0, 'n'},      {"decode-seqs", 1, 0, 'b'}, {"context", 1, 0, 'c'},
        {"step-overhead", 1, 0, 'o'}, {"help", 0, 0, 'h'},  {0, 0, 0, 0}};
    const char *gpu = NULL, *model = NULL, *tokens = NULL;
    int64_t tp = 1, seqs = 0, context = 0;
    bool have_context = false, have_seqs = false, have_overhead = false;
    sim_time_t overhead = 0;
    int c;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":h", lo, NULL)) != -1) {
        switch (c) {
        case 'g': gpu = optarg; break;
        case 'm': model = optarg; break;
        case 'n': tokens = optarg; break;
        case 't':
            if (llm_int("llm step-time", "--tp", optarg, 1, LLM_TP_MAX, &tp, err)) return 2;
            break;
        case 'b':
            if (llm_int("llm step-time", "--decode-seqs", optarg, 0, 1 << 20, &seqs, err)) return 2;
            have_seqs = true;
            break;
        case 'c':
            if (llm_int("llm step-time", "--context", optarg, 0, (int64_t)1 << 30, &context, err)) return 2;
            have_context = true;
            break;
        case 'o': {
            const char *why = NULL;
            if (sim_parse_duration(optarg, &overhead, &why) != 0) {
                fprintf(err, "ragsim llm step-time: error: --step-overhead %s, got '%s'\n",
                        why ? why : "expects a duration such as 2ms", optarg);
                return 2;
            }
            have_overhead = true;
            break;
        }
        case 'h': llm_step_time_usage(out); return 0;
        case ':':
            fprintf(err, "ragsim llm step-time: error: option '%s' needs a value\n", argv[optind - 1]);
            return 2;
        default:
            fprintf(err, "ragsim llm step-time: error: unknown option '%s' (see ragsim llm step-time --help)\n",
                    argv[optind - 1]);
            return 2;
        }
    }
    if (optind < argc) {
        fprintf(err, "ragsim llm step-time: error: unexpected argument '%s' (see ragsim llm step-time --help)\n",
                argv[optind]);
        return 2;
    }
    if (!gpu || !model || !tokens) {
        fprintf(err, "ragsim llm step-time: error: missing %s (see ragsim llm step-time --help)\n",
                !gpu ? "--gpu" : !model ? "--model" : "--tokens");
        return 2;
    }
    if (!llm_gpu_preset(gpu)) {
        llm_unknown(err, "GPU", gpu, llm_gpu_names, llm_gpu_suggest(gpu));
        return 2;
    }
    if (!llm_arch_preset(model)) {
        llm_unknown(err, "model", model, llm_arch_names, llm_arch_suggest(model));
        return 2;
    }
    if (have_seqs != have_context || (have_seqs && seqs == 0 && context > 0)) {
        fprintf(err, "ragsim llm step-time: error: --decode-seqs B and --context C go together "
                     "(B decoding sequences, each reading C tokens of KV)\n");
        return 2;
    }
    llm_hw_spec_t hw;
    const char *why = NULL;
    if (llm_hw_spec_preset(&hw, gpu, model, tp, &why) != 0) {
        const llm_arch_t *a = llm_arch_preset(model);
        fprintf(err, "ragsim llm step-time: error: --tp %" PRId64 ": %s (%s has %" PRId64 " heads, %" PRId64
                     " KV heads)\n", tp, why, model, a->heads, a->kv_heads);
        return 2;
    }
    if (have_overhead) hw.step_overhead = overhead;

    int64_t *list = malloc(LLM_MAX_LIST * sizeof *list);
    if (!list) {
        fprintf(err, "ragsim llm step-time: error: out of memory\n");
        return 1;
    }
    int n = 0;
    if (llm_tokens(tokens, list, &n, err)) {
        free(list);
        return 2;
    }
    int64_t maxt = 1;
    for (int i = 0; i < n; i++) {
        if (list[i] == 0 && seqs == 0) {
            fprintf(err, "ragsim llm step-time: error: a step of 0 prefill tokens needs --decode-seqs\n");
            free(list);
            return 2;
        }
        if (list[i] + seqs > maxt) maxt = list[i] + seqs;
    }
    if (maxt > LLM_STEP_MAX_TOKENS) maxt = LLM_STEP_MAX_TOKENS;
    llm_steptime_t st;
    int rc = llm_steptime_init(&st, &hw, maxt);
    if (rc) {
        fprintf(err, "ragsim llm step-time: error: %s\n", rc == SIM_ENOMEM ? "out of memory" : "bad hardware");
        free(list);
        return 1;
    }
    fprintf(out, "tokens,ms,linear_ms,attention_ms,kv_read_ms,lm_head_ms,allreduce_ms,overhead_ms\n");
    for (int i = 0; i < n; i++) {
        llm_step_work_t w = {
            .prefill_tokens = list[i],
            .prefill_pairs = llm_chunk_pairs(0, list[i]),
            .decode_seqs = seqs,
            .decode_context = seqs * context,
            .sampled = seqs + (list[i] > 0),
        };
        llm_step_parts_t p;
        double t = llm_step_time(&st, &w, &p);
        fprintf(out, "%" PRId64 ",%.4f,%.4f,%.4f,%.4f,%.4f,%.4f,%.4f\n", list[i], t * 1e3, p.linear * 1e3,
                p.attention * 1e3, p.kv_read * 1e3, p.lm_head * 1e3, p.allreduce * 1e3, p.overhead * 1e3);
    }
    llm_steptime_fini(&st);
    free(list);
    return 0;
}

/* ---- dispatch --------------------------------------------------------------- */

typedef struct {
    const char *name;
    int (*run)(int argc, char **argv, FILE *out, FILE *err);
    const char *summary;
} llm_cmd_t;

static const llm_cmd_t llm_cmds[] = {
    {"step-time", llm_step_time_cmd, "time of one forward pass of a replica, term by term"},
    {"capacity", llm_capacity_cmd, "requests/s and tokens/s one replica sustains for a token mix"},
};

#define LLM_NCMDS (sizeof llm_cmds / sizeof llm_cmds[0])

static void llm_usage(FILE *f)
{
    fprintf(f, "usage: ragsim llm SUBCOMMAND [options]   (ragsim llm SUBCOMMAND --help)\n\n");
    for (size_t i = 0; i < LLM_NCMDS; i++) fprintf(f, "  %-12s %s\n", llm_cmds[i].name, llm_cmds[i].summary);
    fprintf(f, "\nThe model and its validation: docs/llm-validation.md.\n");
}

int llm_main(int argc, char **argv, FILE *out, FILE *err)
{
    if (argc < 2) {
        llm_usage(err);
        return 2;
    }
    const char *sub = argv[1];
    if (!strcmp(sub, "--help") || !strcmp(sub, "-h") || !strcmp(sub, "help")) {
        llm_usage(out);
        return 0;
    }
    const char *names[LLM_NCMDS + 1];
    for (size_t i = 0; i < LLM_NCMDS; i++) {
        if (!strcmp(sub, llm_cmds[i].name)) return llm_cmds[i].run(argc - 1, argv + 1, out, err);
        names[i] = llm_cmds[i].name;
    }
    names[LLM_NCMDS] = NULL;
    char list[256];
    llm_list(list, sizeof list, names);
    const char *best = sim_cfg_closest(sub, names, LLM_NCMDS);
    fprintf(err, "ragsim llm: error: unknown subcommand '%s' (subcommands: %s)", sub, list);
    if (best) fprintf(err, "; did you mean '%s'?", best);
    fputc('\n', err);
    return 2;
}
