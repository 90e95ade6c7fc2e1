/* `ragsim llm capacity`: what one LLM replica sustains for a token mix, at
 * optional TTFT and TPOT targets (models/components/llm/capacity.h), for a
 * scenario's LLM and workload or for a GPU and model given on the command
 * line. */
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/llm.h"
#include "experiment/runner.h"
#include "models/components/llm/capacity.h"
#include "models/rag/rag.h"
#include "sim/error.h"
#include "sim/units.h"

#define CMD "ragsim llm capacity"
#define MAX_SETS 256

static void usage(FILE *f)
{
    fprintf(f,
            "usage: ragsim llm capacity SCENARIO.yaml [--set KEY=VALUE]... [--ttft D] [--tpot D]\n"
            "       ragsim llm capacity --gpu G --model M [--tp N] --prompt P --output O [--cached C]\n"
            "                           [--max-num-seqs N] [--max-num-batched-tokens N] [--ttft D] [--tpot D]\n"
            "\n"
            "The load one LLM replica sustains, in requests/s and tokens/s, for a token mix:\n"
            "the mean steady state of vLLM's step loop (a step carries the decodes and the\n"
            "prefill of the prompts that arrived meanwhile; docs/models/llm.md). With a\n"
            "scenario, the LLM's spec and the RAG workload's mean prompt (system prompt +\n"
            "question + retrieved chunks) and output; the offered load per replica at the\n"
            "workload's peak rate is compared with it. A mean-value estimate, before any run:\n"
            "queueing delays, the spread of the mix and preemptions are for `ragsim run`.\n"
            "\n"
            "  --set KEY=VALUE         override a scenario value (as ragsim run)\n"
            "  --gpu G, --model M      presets (ragsim llm step-time --help lists them)\n"
            "  --tp N                  tensor parallelism (default 1)\n"
            "  --prompt P              mean prompt tokens\n"
            "  --output O              mean output tokens\n"
            "  --cached C              mean prompt tokens found in the prefix cache (default 0)\n"
            "  --max-num-seqs N, --max-num-batched-tokens N   vLLM's (default: its for the GPU)\n"
            "  --ttft D                time-to-first-token target, e.g. 1s (default none)\n"
            "  --tpot D                time-per-output-token target, e.g. 100ms (default none)\n"
            "\n"
            "Exit status: 0, 1 if the offered load exceeds the capacity, 2 for bad usage or input.\n");
}

static int parse_count(const char *opt, const char *s, int64_t lo, int64_t hi, int64_t *out, FILE *err)
{
    int64_t v;
    if (sim_parse_int(s, &v, NULL) != 0 || v < lo || v > hi) {
        fprintf(err, CMD ": error: %s expects an integer between %" PRId64 " and %" PRId64 ", got '%s'\n", opt, lo,
                hi, s);
        return -1;
    }
    *out = v;
    return 0;
}

static int parse_dur(const char *opt, const char *s, double *out, FILE *err)
{
    sim_time_t t;
    const char *why = NULL;
    if (sim_parse_duration(s, &t, &why) != 0 || t <= 0) {
        fprintf(err, CMD ": error: %s expects a duration > 0 such as 500ms, got '%s'\n", opt, s);
        return -1;
    }
    *out = sim_time_to_s(t);
    return 0;
}

static void print(FILE *out, const llm_spec_t *sp, const llm_cap_query_t *q, const llm_cap_t *c)
{
    const llm_hw_spec_t *hw = &sp->hw;
    if (hw->mode == LLM_HW_ROOFLINE)
        fprintf(out, "replica: %s x %" PRId64 ", %s\n", hw->gpu.name, hw->tp, hw->model.name);
    else
        fprintf(out, "replica: a measured step time (hardware.step_time)\n");
    fprintf(out, "vLLM: max_num_seqs %" PRId64 ", max_num_batched_tokens %" PRId64 ", KV cache %" PRId64
                 " blocks of %" PRId64 " tokens (%" PRId64 " tokens)\n",
            sp->max_num_seqs, sp->max_num_batched_tokens, sp->kv_blocks, sp->block_size,
            sp->kv_blocks * sp->block_size);
    fprintf(out, "token mix (means): prompt %.0f tokens (%.0f from the prefix cache), output %.0f tokens\n",
            q->prompt_tokens, q->cached_tokens, q->output_tokens);
    if (q->ttft_target > 0 || q->tpot_target > 0) {
        fprintf(out, "targets:");
        if (q->ttft_target > 0) fprintf(out, " TTFT <= %.3g s", q->ttft_target);
        if (q->tpot_target > 0) fprintf(out, "%s TPOT <= %.3g s", q->ttft_target > 0 ? "," : "", q->tpot_target);
        fprintf(out, "\n");
    }
    fprintf(out, "capacity per replica: %.3g requests/s = %.0f prompt tokens/s computed + %.0f generation tokens/s\n",
            c->requests_per_s, c->prompt_tokens_per_s, c->generation_tokens_per_s);
    fprintf(out, "  at that load: step %.1f ms, %.1f decodes and %.0f prefill tokens per step, KV %.0f%% used,\n"
                 "  TTFT ~%.3g s, TPOT ~%.3g s\n",
            c->step_s * 1e3, c->decodes, c->prefill_tokens, c->kv_ratio * 100, c->ttft_s, c->tpot_s);
    fprintf(out, "  limited by %s\n", llm_cap_bound_name(c->bound));
}

int llm_capacity_cmd(int argc, char **argv, FILE *out, FILE *err)
{
    static const struct option lo[] = {
        {"gpu", 1, 0, 'g'},    {"model", 1, 0, 'm'},  {"tp", 1, 0, 't'},
        {"prompt", 1, 0, 'p'}, {"output", 1, 0, 'o'}, {"cached", 1, 0, 'c'},
        {"max-num-seqs", 1, 0, 'S'}, {"max-num-batched-tokens", 1, 0, 'B'},
        {"ttft", 1, 0, 'T'},   {"tpot", 1, 0, 'P'},   {"set", 1, 0, 's'},
        {"help", 0, 0, 'h'},   {0, 0, 0, 0}};
    const char *gpu = NULL, *model = NULL;
    int64_t tp = 1, prompt = 0, output = 0, cached = 0, seqs = 0, batched = 0;
    llm_cap_query_t q = {0};
    const char *sets[MAX_SETS];
    size_t nsets = 0;
    int c;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":h", lo, NULL)) != -1) {
        int bad = 0;
        switch (c) {
        case 'g': gpu = optarg; break;
        case 'm': model = optarg; break;
        case 't': bad = parse_count("--tp", optarg, 1, LLM_TP_MAX, &tp, err); break;
        case 'p': bad = parse_count("--prompt", optarg, 1, (int64_t)1 << 24, &prompt, err); break;
        case 'o': bad = parse_count("--output", optarg, 1, (int64_t)1 << 24, &output, err); break;
        case 'c': bad = parse_count("--cached", optarg, 0, (int64_t)1 << 24, &cached, err); break;
        case 'S': bad = parse_count("--max-num-seqs", optarg, 1, LLM_MAX_NUM_SEQS, &seqs, err); break;
        case 'B': bad = parse_count("--max-num-batched-tokens", optarg, 1, (int64_t)1 << 24, &batched, err); break;
        case 'T': bad = parse_dur("--ttft", optarg, &q.ttft_target, err); break;
        case 'P': bad = parse_dur("--tpot", optarg, &q.tpot_target, err); break;
        case 's':
            if (nsets == MAX_SETS) {
                fprintf(err, CMD ": error: at most %d --set options\n", MAX_SETS);
                return 2;
            }
            sets[nsets++] = optarg;
            break;
        case 'h': usage(out); return 0;
        case ':': fprintf(err, CMD ": error: option '%s' needs a value\n", argv[optind - 1]); return 2;
        default:
            fprintf(err, CMD ": error: unknown option '%s' (see " CMD " --help)\n", argv[optind - 1]);
            return 2;
        }
        if (bad) return 2;
    }
    const char *scenario = optind < argc ? argv[optind++] : NULL;
    if (optind < argc) {
        fprintf(err, CMD ": error: unexpected argument '%s' (see " CMD " --help)\n", argv[optind]);
        return 2;
    }
    if (scenario && (gpu || model || prompt || output || cached || seqs || batched)) {
        fprintf(err, CMD ": error: give a scenario or --gpu/--model/--prompt/--output, not both\n");
        return 2;
    }
    if (!scenario && nsets) {
        fprintf(err, CMD ": error: --set applies to a scenario\n");
        return 2;
    }

    llm_spec_t spec;
    double offered = -1;   /* requests/s per replica at the peak, with a scenario */
    int status = 0;
    sim_diag_t d;
    sim_diag_init(&d);
    rs_scenario_t s;
    bool loaded = false;
    if (scenario) {
        int rc = rs_load(&s, scenario, sets, nsets, &d);
        fputs(sim_diag_text(&d), err);
        if (rc != 0 || d.errors) {
            sim_diag_fini(&d);
            return rc == SIM_ENOMEM ? 1 : 2;
        }
        loaded = true;
        if (s.model != &rag_model) {
            fprintf(err, CMD ": error: %s is not a RAG scenario (it has no LLM)\n", scenario);
            status = 2;
            goto done;
        }
        const rag_spec_t *r = s.spec;
        spec = r->llm;
        double chunks = r->uses[RAG_VECTORDB] ? (double)(r->top_k * r->chunk_tokens) : 0;
        q.prompt_tokens = (double)r->system_prompt_tokens + sim_dist_mean(&r->query_tokens) + chunks;
        q.output_tokens = sim_dist_mean(&r->output_tokens);
        if (spec.enable_prefix_caching)
            q.cached_tokens = (double)(r->system_prompt_tokens / spec.block_size * spec.block_size);
        offered = wl_max_rate(&r->workload) / (double)spec.replicas;
    } else {
        if (!gpu || !model || !prompt || !output) {
            fprintf(err, CMD ": error: missing %s (see " CMD " --help)\n",
                    !gpu ? "--gpu" : !model ? "--model" : !prompt ? "--prompt" : "--output");
            return 2;
        }
        /* the spec as a scenario would give it, so that vLLM's defaults follow */
        char yaml[512];
        snprintf(yaml, sizeof yaml, "llm:\n  hardware: {gpu: '%s', model: '%s', tp: %" PRId64 "}\n", gpu, model, tp);
        if (seqs) snprintf(yaml + strlen(yaml), sizeof yaml - strlen(yaml), "  max_num_seqs: %" PRId64 "\n", seqs);
        if (batched)
            snprintf(yaml + strlen(yaml), sizeof yaml - strlen(yaml), "  max_num_batched_tokens: %" PRId64 "\n",
                     batched);
        sim_cfg_t *cfg = sim_cfg_load_string("command line", yaml, strlen(yaml), &d);
        int rc = cfg ? llm_spec_parse(&d, sim_cfg_get(sim_cfg_root(cfg), "llm"), &spec) : SIM_ECONFIG;
        sim_cfg_destroy(cfg);
        if (rc != 0) {
            fputs(sim_diag_text(&d), err);
            sim_diag_fini(&d);
            return 2;
        }
        q.prompt_tokens = (double)prompt;
        q.output_tokens = (double)output;
        q.cached_tokens = (double)(cached < prompt ? cached : prompt - 1);
    }

    llm_steptime_t st;
    if (llm_steptime_init(&st, &spec.hw, spec.max_num_batched_tokens) != 0) {
        fprintf(err, CMD ": error: out of memory\n");
        status = 1;
        goto done;
    }
    llm_cap_t cap;
    if (llm_capacity(&spec, &st, &q, &cap) != 0) {
        fprintf(err, CMD ": error: the token mix has no tokens\n");
        status = 2;
    } else {
        print(out, &spec, &q, &cap);
        if (offered >= 0) {
            fprintf(out, "offered at the workload's peak: %.3g requests/s per replica (%" PRId64
                         " replica%s): %.0f%% of capacity%s\n",
                    offered, spec.replicas, spec.replicas == 1 ? "" : "s", cap.requests_per_s > 0 ? 100 * offered / cap.requests_per_s : INFINITY,
                    offered > cap.requests_per_s ? ": it will queue without bound" : "");
            if (offered > cap.requests_per_s) status = 1;
        }
    }
    llm_steptime_fini(&st);
done:
    if (loaded) rs_unload(&s);
    sim_diag_fini(&d);
    return status;
}
