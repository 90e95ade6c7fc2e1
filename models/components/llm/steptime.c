/* LLM step time from the hardware and the model: presets, the `hardware`
 * parser, KV-cache sizing and the per-step cost (see steptime.h and
 * docs/llm-validation.md). */
#include "models/components/llm/steptime.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sim/error.h"

/* ---- The roofline's constants --------------------------------------------
 * Fitted by bench/llm/fit_steptime.py (least squares on log(predicted /
 * measured)) to the 2217 TP=1 rows of the measured A100 80GB profile
 * data/llm-profiles/a100.csv: the token-parallel part of a forward pass of
 * seven models (Llama-2-7B, Llama-3-8B, InternLM-20B, CodeLlama-34B,
 * Llama-2-70B, Llama-3-70B, Qwen-72B) at 1 to 4096 (Llama-3: 32768) tokens,
 * from Microsoft's Vidur profiles. Rounded to four significant digits.
 *
 * With them, per model at TP 1: median relative error 1.9-3.6%, 90th
 * percentile 5.9-8.0% (all rows pooled: 2.7%, 7.4%); at TP 2, 4 and 8,
 * which the fit did not see: medians <= 5.9%, p90 <= 10.8%.
 *
 * Sensitivity, one constant moved by 10%, the others kept (TP 1 rows:
 * pooled median, p90; and the median of the 133 rows of <= 128 tokens,
 * where the weights' bytes dominate; as shipped 2.7%, 7.4%, 5.1%):
 *   ec  -10%: 10.3%, 15.6%, 5.6%    +10%: 8.1%, 12.9%, 4.2%
 *       (most rows are compute-bound: ec sets the slope of time vs tokens)
 *   em  -10%:  2.9%,  8.3%, 10.0%   +10%: 2.8%,  8.4%, 7.8%
 *       (em sets small steps, i.e. decode: they move ~1:1 with it)
 *   p   -10%:  2.9%,  7.9%, 5.6%    +10%: 2.8%,  8.0%, 4.6%
 *   t0  -10%:  2.8%,  7.4%, 5.3%    +10%: 2.7%,  7.4%, 5.1%
 * The same for every GPU and model: on another GPU only P and W change. */
const double llm_roofline_ec = 0.7126;
const double llm_roofline_em = 0.8167;
const double llm_roofline_p = 1.507;
const double llm_roofline_t0 = 3.485e-6;

#define LLM_BF16 2.0                         /* bytes per value */
#define LLM_DEFAULT_OVERHEAD 2000000          /* ns: 2 ms per step (an assumption) */
#define LLM_DEFAULT_AR_LATENCY 10000          /* ns: 10 us per all-reduce */
#define LLM_RUNTIME_RESERVE ((int64_t)1 << 30) /* CUDA context, workspaces, NCCL, graphs */

/* ---- Presets -------------------------------------------------------------
 * GPUs, from NVIDIA's datasheets (docs/llm-validation.md gives the URLs):
 * dense BF16 tensor-core peak (the datasheets' "with sparsity" figure / 2),
 * HBM (GDDR6) bandwidth, memory (the datasheets' GB are binary: 80 GB =
 * 80 GiB of DRAM) and the GPU-to-GPU link, both directions together as
 * quoted (NVLink; PCIe Gen4 x16 where there is no NVLink switch). */
static const llm_gpu_t llm_gpus[] = {
    /* A100 80GB SXM: 312 TFLOPS BF16, 2,039 GB/s HBM2e, 80GB, NVLink 600 GB/s */
    {"a100-80gb", 312e12, 2.039e12, (int64_t)80 << 30, 600e9},
    /* H100 SXM: 1,979 TFLOPS BF16 with sparsity, 3.35 TB/s HBM3, 80GB, NVLink 900 GB/s */
    {"h100-sxm", 989.5e12, 3.35e12, (int64_t)80 << 30, 900e9},
    /* H200 SXM: 1,979 TFLOPS BF16 with sparsity, 4.8 TB/s HBM3e, 141GB, NVLink 900 GB/s */
    {"h200", 989.5e12, 4.8e12, (int64_t)141 << 30, 900e9},
    /* A40: 149.7 TFLOPS BF16, 696 GB/s GDDR6, 48 GB, PCIe Gen4 64 GB/s (NVLink
     * bridge for pairs: 112.5 GB/s, give it as a custom link_bandwidth) */
    {"a40", 149.7e12, 696e9, (int64_t)48 << 30, 64e9},
    /* L40S: 362.05 TFLOPS BF16, 864 GB/s GDDR6, 48 GB, PCIe Gen4 x16 64 GB/s, no NVLink */
    {"l40s", 362.05e12, 864e9, (int64_t)48 << 30, 64e9},
};

const char *const llm_gpu_names[] = {"a100-80gb", "h100-sxm", "h200", "a40", "l40s", NULL};

/* Models, from each one's config.json on Hugging Face: num_hidden_layers,
 * hidden_size, num_attention_heads, num_key_value_heads (absent: = heads),
 * intermediate_size (Qwen-72B's config gives 49152 for its two MLP halves
 * together: 24576 each), vocab_size, max_position_embeddings (Qwen-72B:
 * seq_length). */
static const llm_arch_t llm_archs[] = {
    {"Llama-2-7b-hf", 32, 4096, 32, 32, 11008, 32000, 4096},
    {"Meta-Llama-3-8B", 32, 4096, 32, 8, 14336, 128256, 8192},
    {"Mistral-7B-v0.1", 32, 4096, 32, 8, 14336, 32000, 32768},
    {"internlm-20b", 60, 5120, 40, 40, 13824, 103168, 16384},
    {"CodeLlama-34b-Instruct-hf", 48, 8192, 64, 8, 22016, 32000, 16384},
    {"Llama-2-70b-hf", 80, 8192, 64, 8, 28672, 32000, 4096},
    {"Meta-Llama-3-70B", 80, 8192, 64, 8, 28672, 128256, 8192},
    {"Qwen-72B", 80, 8192, 64, 64, 24576, 152064, 32768},
};

const char *const llm_arch_names[] = {"Llama-2-7b-hf", "Meta-Llama-3-8B", "Mistral-7B-v0.1",
                                      "internlm-20b", "CodeLlama-34b-Instruct-hf", "Llama-2-70b-hf",
                                      "Meta-Llama-3-70B", "Qwen-72B", NULL};

#define LLM_N(a) (sizeof(a) / sizeof((a)[0]))

const llm_gpu_t *llm_gpu_preset(const char *name)
{
    for (size_t i = 0; name && i < LLM_N(llm_gpus); i++)
        if (strcmp(llm_gpus[i].name, name) == 0) return &llm_gpus[i];
    return NULL;
}

const llm_arch_t *llm_arch_preset(const char *name)
{
    for (size_t i = 0; name && i < LLM_N(llm_archs); i++)
        if (strcmp(llm_archs[i].name, name) == 0) return &llm_archs[i];
    return NULL;
}

static void llm_lower(const char *s, char *buf, size_t n)
{
    size_t i = 0;
    for (; s[i] && i + 1 < n; i++) buf[i] = (char)tolower((unsigned char)s[i]);
    buf[i] = '\0';
}

/* Case-insensitive: the same name in another case; else the one name that
 * contains the word (3 characters or more); else the closest by edit
 * distance. */
static const char *llm_suggest(const char *word, const char *const *names)
{
    char w[128], low[16][64];
    const char *lows[16] = {0};
    size_t n = 0;
    if (!word || !*word) return NULL;
    llm_lower(word, w, sizeof w);
    for (; names[n] && n < 16; n++) {
        llm_lower(names[n], low[n], sizeof low[n]);
        lows[n] = low[n];
        if (strcmp(low[n], w) == 0) return names[n];
    }
    const char *hit = NULL;
    int nhit = 0;
    for (size_t i = 0; i < n && strlen(w) >= 3; i++)
        if (strstr(low[i], w)) hit = names[i], nhit++;
    if (nhit == 1) return hit;
    const char *best = sim_cfg_closest(w, lows, n);
    for (size_t i = 0; best && i < n; i++)
        if (lows[i] == best) return names[i];
    return NULL;
}

const char *llm_gpu_suggest(const char *word) { return llm_suggest(word, llm_gpu_names); }
const char *llm_arch_suggest(const char *word) { return llm_suggest(word, llm_arch_names); }

/* ---- Sizes of a model ----------------------------------------------------- */

static int64_t llm_head_dim(const llm_arch_t *a) { return a->hidden / a->heads; }

int64_t llm_arch_parameters(const llm_arch_t *a)
{
    int64_t d = a->hidden, hd = llm_head_dim(a);
    int64_t layer = d * (a->heads + 2 * a->kv_heads) * hd   /* QKV */
                    + a->heads * hd * d                       /* output projection */
                    + 3 * d * a->intermediate                 /* gate, up, down */
                    + 2 * d;                                  /* RMSNorm x 2 */
    return 2 * a->vocab * d + a->layers * layer + d;          /* embedding, lm_head, final norm */
}

int64_t llm_arch_weights_bytes(const llm_arch_t *a) { return 2 * llm_arch_parameters(a); }

int64_t llm_arch_kv_bytes_per_token(const llm_arch_t *a)
{
    return 2 * a->layers * a->kv_heads * llm_head_dim(a) * 2;
}

/* KV heads held by one GPU: a share, or one replicated head when tp > kv_heads. */
static int64_t llm_kv_local(const llm_arch_t *a, int64_t tp)
{
    return a->kv_heads >= tp ? a->kv_heads / tp : 1;
}

/* ---- Spec ----------------------------------------------------------------- */

void llm_hw_spec_default(llm_hw_spec_t *hw)
{
    memset(hw, 0, sizeof *hw);
    hw->mode = LLM_HW_NONE;
    hw->tp = 1;
    hw->step_overhead = LLM_DEFAULT_OVERHEAD;
    hw->allreduce_latency = LLM_DEFAULT_AR_LATENCY;
}

/* Why tp does not fit the model (static text), or NULL. */
static const char *llm_tp_problem(const llm_arch_t *a, int64_t tp)
{
    if (a->heads % tp != 0) return "tp must divide the model's attention heads";
    if (a->kv_heads % tp != 0 && tp % a->kv_heads != 0)
        return "tp must divide the model's KV heads, or be a multiple of them";
    return NULL;
}

int llm_hw_spec_preset(llm_hw_spec_t *hw, const char *gpu, const char *model, int64_t tp,
                       const char **why)
{
    const llm_gpu_t *g = llm_gpu_preset(gpu);
    const llm_arch_t *a = llm_arch_preset(model);
    const char *w = NULL;
    if (!g) w = "unknown GPU";
    else if (!a) w = "unknown model";
    else if (tp < 1 || tp > LLM_TP_MAX) w = "tp must be between 1 and 64";
    else w = llm_tp_problem(a, tp);
    if (w) {
        if (why) *why = w;
        return SIM_EINVAL;
    }
    llm_hw_spec_default(hw);
    hw->mode = LLM_HW_ROOFLINE;
    hw->has_gpu = hw->has_model = true;
    hw->gpu = *g;
    hw->model = *a;
    hw->tp = tp;
    return 0;
}

/* ---- Parsing -------------------------------------------------------------- */

static const char *llm_kind(const sim_cfg_node_t *n)
{
    if (n->kind == SIM_CFG_MAP) return "a mapping";
    if (n->kind == SIM_CFG_SEQ) return "a sequence";
    return sim_cfg_is_null(n) ? "null" : "a scalar";
}

/* "'PATH': expected a GPU preset (...) or a mapping {...}, got ..." */
static int llm_bad_preset(sim_diag_t *d, sim_cfg_node_t *n, const char *what,
                          const char *const *names, const char *keys, const char *suggestion)
{
    char path[256], list[512] = "";
    size_t k = 0;
    sim_cfg_path(n, path, sizeof path);
    for (size_t i = 0; names[i] && k + 1 < sizeof list; i++) {
        int w = snprintf(list + k, sizeof list - k, "%s%s", i ? ", " : "", names[i]);
        if (w < 0) break;
        k += (size_t)w;
    }
    char got[160];
    if (n->kind == SIM_CFG_SCALAR && !sim_cfg_is_null(n))
        snprintf(got, sizeof got, "'%.100s'", n->text);
    else
        snprintf(got, sizeof got, "%s", llm_kind(n));
    char hint[128] = "";
    if (suggestion) snprintf(hint, sizeof hint, " (did you mean '%s'?)", suggestion);
    sim_cfg_error(d, n, "'%s': expected a %s preset (%s) or a mapping {%s}, got %s%s", path, what,
                  list, keys, got, hint);
    sim_cfg_touch_all(n);
    return SIM_ECONFIG;
}

static const char llm_gpu_keys[] = "peak, hbm_bandwidth, memory, link_bandwidth";
static const char llm_arch_keys[] =
    "layers, hidden_size, heads, kv_heads, intermediate_size, vocab_size, max_position_embeddings";

/* gpu: NAME | {preset: NAME, peak, hbm_bandwidth, memory, link_bandwidth} */
static int llm_parse_gpu(sim_diag_t *d, sim_cfg_node_t *n, llm_gpu_t *g)
{
    const llm_gpu_t *base = NULL;
    if (n->kind == SIM_CFG_SCALAR && !sim_cfg_is_null(n)) {
        n->used = true;
        base = llm_gpu_preset(n->text);
        if (!base) return llm_bad_preset(d, n, "GPU", llm_gpu_names, llm_gpu_keys, llm_gpu_suggest(n->text));
        *g = *base;
        return 0;
    }
    if (n->kind != SIM_CFG_MAP || sim_cfg_is_null(n))
        return llm_bad_preset(d, n, "GPU", llm_gpu_names, llm_gpu_keys, NULL);
    int errs = d->errors;
    sim_cfg_node_t *pn = sim_cfg_get(n, "preset");
    if (pn) {
        if (pn->kind != SIM_CFG_SCALAR || sim_cfg_is_null(pn) || !(base = llm_gpu_preset(pn->text)))
            return llm_bad_preset(d, pn, "GPU", llm_gpu_names, llm_gpu_keys,
                                  pn->kind == SIM_CFG_SCALAR ? llm_gpu_suggest(pn->text) : NULL);
        pn->used = true;
    }
    unsigned req = base ? 0 : SIM_CFG_REQUIRED;
    llm_gpu_t c = base ? *base : (llm_gpu_t){0};
    c.name = "custom";
    sim_cfg_flops(d, n, "peak", req | SIM_CFG_POSITIVE, c.peak_flops, &c.peak_flops);
    sim_cfg_bandwidth(d, n, "hbm_bandwidth", req | SIM_CFG_POSITIVE, c.hbm_bandwidth, &c.hbm_bandwidth);
    sim_cfg_size(d, n, "memory", req | SIM_CFG_POSITIVE, c.memory, &c.memory);
    sim_cfg_bandwidth(d, n, "link_bandwidth", SIM_CFG_POSITIVE, c.link_bandwidth, &c.link_bandwidth);
    if (d->errors != errs) return SIM_ECONFIG;
    *g = c;
    return 0;
}

/* model: NAME | {preset: NAME, layers, hidden_size, heads, kv_heads, intermediate_size, vocab_size} */
static int llm_parse_arch(sim_diag_t *d, sim_cfg_node_t *n, llm_arch_t *a)
{
    const llm_arch_t *base = NULL;
    if (n->kind == SIM_CFG_SCALAR && !sim_cfg_is_null(n)) {
        n->used = true;
        base = llm_arch_preset(n->text);
        if (!base)
            return llm_bad_preset(d, n, "model", llm_arch_names, llm_arch_keys, llm_arch_suggest(n->text));
        *a = *base;
        return 0;
    }
    if (n->kind != SIM_CFG_MAP || sim_cfg_is_null(n))
        return llm_bad_preset(d, n, "model", llm_arch_names, llm_arch_keys, NULL);
    int errs = d->errors;
    sim_cfg_node_t *pn = sim_cfg_get(n, "preset");
    if (pn) {
        if (pn->kind != SIM_CFG_SCALAR || sim_cfg_is_null(pn) || !(base = llm_arch_preset(pn->text)))
            return llm_bad_preset(d, pn, "model", llm_arch_names, llm_arch_keys,
                                  pn->kind == SIM_CFG_SCALAR ? llm_arch_suggest(pn->text) : NULL);
        pn->used = true;
    }
    unsigned req = base ? 0 : SIM_CFG_REQUIRED;
    llm_arch_t c = base ? *base : (llm_arch_t){0};
    c.name = "custom";
    sim_cfg_int(d, n, "layers", req, 1, 1024, c.layers, &c.layers);
    sim_cfg_int(d, n, "hidden_size", req, 1, 65536, c.hidden, &c.hidden);
    sim_cfg_int(d, n, "heads", req, 1, 65536, c.heads, &c.heads);
    int64_t kvd = c.kv_heads ? c.kv_heads : c.heads;
    sim_cfg_node_t *kvn = sim_cfg_get(n, "kv_heads");
    if (kvn) sim_cfg_int_node(d, kvn, 0, 1, 65536, &kvd);
    c.kv_heads = kvd;
    sim_cfg_int(d, n, "intermediate_size", req, 1, (int64_t)1 << 20, c.intermediate, &c.intermediate);
    sim_cfg_int(d, n, "vocab_size", req, 1, (int64_t)1 << 22, c.vocab, &c.vocab);
    sim_cfg_int(d, n, "max_position_embeddings", 0, 1, (int64_t)1 << 24, c.max_position ? c.max_position : 4096,
                &c.max_position);
    if (d->errors != errs) return SIM_ECONFIG;
    if (!kvn && !base) c.kv_heads = c.heads;
    if (c.hidden % c.heads != 0)
        sim_cfg_error(d, sim_cfg_get(n, "heads") ? sim_cfg_get(n, "heads") : n,
                      "hidden_size %lld is not a multiple of heads %lld (head dim = hidden_size / heads)",
                      (long long)c.hidden, (long long)c.heads);
    else if (c.kv_heads > c.heads || c.heads % c.kv_heads != 0)
        sim_cfg_error(d, kvn ? kvn : n, "kv_heads %lld must divide heads %lld",
                      (long long)c.kv_heads, (long long)c.heads);
    if (d->errors != errs) return SIM_ECONFIG;
    *a = c;
    return 0;
}

/* step_time: {table: [[tokens, time], ...], kv_read_per_token} |
 *            {base, per_token, per_context_token} */
static int llm_parse_step_time(sim_diag_t *d, sim_cfg_node_t *n, llm_hw_spec_t *hw)
{
    if (!sim_cfg_expect_map(d, n, "step time")) return SIM_ECONFIG;
    int errs = d->errors;
    sim_cfg_node_t *tab = sim_cfg_get(n, "table");
    static const char *const coeff_keys[] = {"base", "per_token", "per_context_token"};
    if (tab) {
        hw->mode = LLM_HW_TABLE;
        for (size_t i = 0; i < LLM_N(coeff_keys); i++) {
            sim_cfg_node_t *k = sim_cfg_get(n, coeff_keys[i]);
            if (k) {
                sim_cfg_touch_all(k);
                sim_cfg_error(d, k, "'%s' cannot go with 'table': a table is the whole step "
                                    "(its KV term is kv_read_per_token)", coeff_keys[i]);
            }
        }
        sim_cfg_duration(d, n, "kv_read_per_token", 0, 0, &hw->kv_read_per_token);
        if (!sim_cfg_expect_seq(d, tab, "step-time table")) return SIM_ECONFIG;
        if (tab->n == 0 || tab->n > LLM_STEP_TABLE_MAX) {
            char path[256];
            sim_cfg_path(tab, path, sizeof path);
            sim_cfg_error(d, tab, "'%s': expected 1 to %d points [tokens, time], got %zu", path,
                          LLM_STEP_TABLE_MAX, tab->n);
            sim_cfg_touch_all(tab);
            return SIM_ECONFIG;
        }
        for (size_t i = 0; i < tab->n; i++) {
            sim_cfg_node_t *it = tab->vals[i];
            if (it->kind != SIM_CFG_SEQ || it->n != 2) {
                char path[256];
                sim_cfg_path(it, path, sizeof path);
                sim_cfg_error(d, it, "'%s': expected a point [tokens, time] such as [512, 40ms], got %s%s",
                              path, it->kind == SIM_CFG_SEQ ? "a sequence of " : llm_kind(it),
                              it->kind == SIM_CFG_SEQ ? (it->n == 1 ? "1 item" : "other than 2 items") : "");
                sim_cfg_touch_all(it);
                continue;
            }
            it->used = true;
            int64_t tok = 0;
            sim_time_t t = 0;
            int r1 = sim_cfg_int_node(d, it->vals[0], 0, 1, LLM_STEP_MAX_TOKENS, &tok);
            int r2 = sim_cfg_duration_node(d, it->vals[1], SIM_CFG_POSITIVE, &t);
            if (r1 || r2) continue;
            if (i > 0 && hw->ntable > 0 && tok <= hw->table_tokens[hw->ntable - 1]) {
                sim_cfg_error(d, it->vals[0], "a table's tokens must increase: %lld after %lld",
                              (long long)tok, (long long)hw->table_tokens[hw->ntable - 1]);
                continue;
            }
            hw->table_tokens[hw->ntable] = tok;
            hw->table_time[hw->ntable] = t;
            hw->ntable++;
        }
    } else {
        hw->mode = LLM_HW_COEFF;
        sim_cfg_node_t *k = sim_cfg_get(n, "kv_read_per_token");
        if (k) {
            sim_cfg_touch_all(k);
            sim_cfg_error(d, k, "'kv_read_per_token' goes with 'table'; with coefficients write "
                                "per_context_token");
        }
        sim_cfg_duration(d, n, "base", 0, 0, &hw->base);
        sim_cfg_duration(d, n, "per_token", 0, 0, &hw->per_token);
        sim_cfg_duration(d, n, "per_context_token", 0, 0, &hw->per_context_token);
        if (d->errors == errs && hw->base == 0 && hw->per_token == 0) {
            char path[256];
            sim_cfg_path(n, path, sizeof path);
            sim_cfg_error(d, n, "'%s': expected a table [[tokens, time], ...] or coefficients "
                                "base, per_token and per_context_token, with base or per_token > 0",
                          path);
        }
    }
    return d->errors == errs ? 0 : SIM_ECONFIG;
}

int llm_hw_spec_parse(sim_diag_t *d, sim_cfg_node_t *map, llm_hw_spec_t *out)
{
    llm_hw_spec_t hw;
    llm_hw_spec_default(&hw);
    *out = hw;
    if (!map || sim_cfg_is_null(map)) return 0;
    if (!sim_cfg_expect_map(d, map, "hardware")) return SIM_ECONFIG;
    int errs = d->errors;

    sim_cfg_node_t *gn = sim_cfg_get(map, "gpu");
    sim_cfg_node_t *mn = sim_cfg_get(map, "model");
    sim_cfg_node_t *tn = sim_cfg_get(map, "tp");
    sim_cfg_node_t *sn = sim_cfg_get(map, "step_time");
    if (gn && llm_parse_gpu(d, gn, &hw.gpu) == 0) hw.has_gpu = true;
    if (mn && llm_parse_arch(d, mn, &hw.model) == 0) hw.has_model = true;
    if (tn) sim_cfg_int_node(d, tn, 0, 1, LLM_TP_MAX, &hw.tp);
    if (sn) llm_parse_step_time(d, sn, &hw);
    else hw.mode = LLM_HW_ROOFLINE;
    sim_cfg_duration(d, map, "step_overhead", 0, hw.mode == LLM_HW_ROOFLINE ? LLM_DEFAULT_OVERHEAD : 0,
                     &hw.step_overhead);
    sim_cfg_duration(d, map, "allreduce_latency", 0, LLM_DEFAULT_AR_LATENCY, &hw.allreduce_latency);
    if (d->errors != errs) return SIM_ECONFIG;

    char path[256];
    sim_cfg_path(map, path, sizeof path);
    if (!sn && (!gn || !mn)) {
        if (!gn && !mn)
            sim_cfg_error(d, map, "'%s': expected gpu and model (the step time from the hardware), "
                                  "or step_time (measured)", path);
        else
            sim_cfg_error(d, map, "missing required key '%s' in '%s'", gn ? "model" : "gpu", path);
        return SIM_ECONFIG;
    }
    if (hw.has_model && tn) {
        const char *why = llm_tp_problem(&hw.model, hw.tp);
        if (why)
            sim_cfg_error(d, tn, "'%s.tp': %s (heads %lld, KV heads %lld), got %lld", path, why,
                          (long long)hw.model.heads, (long long)hw.model.kv_heads, (long long)hw.tp);
    }
    if (hw.mode == LLM_HW_ROOFLINE && hw.tp > 1 && !(hw.gpu.link_bandwidth > 0))
        sim_cfg_error(d, tn, "'%s.tp': tp %lld needs the GPU's link_bandwidth for the all-reduces",
                      path, (long long)hw.tp);
    if (d->errors != errs) return SIM_ECONFIG;
    *out = hw;
    return 0;
}

/* ---- Memory --------------------------------------------------------------- */

int64_t llm_hw_gpu_memory(const llm_hw_spec_t *hw) { return hw->has_gpu ? hw->gpu.memory : 0; }

int64_t llm_hw_weights_bytes(const llm_hw_spec_t *hw)
{
    return hw->has_model ? llm_arch_weights_bytes(&hw->model) : 0;
}

int64_t llm_hw_weights_bytes_per_gpu(const llm_hw_spec_t *hw)
{
    if (!hw->has_model) return 0;
    const llm_arch_t *a = &hw->model;
    int64_t tp = hw->tp, d = a->hidden, hd = llm_head_dim(a);
    int64_t hl = a->heads / tp, kvl = llm_kv_local(a, tp);
    int64_t ffl = (a->intermediate + tp - 1) / tp, vl = (a->vocab + tp - 1) / tp;
    int64_t layer = d * (hl + 2 * kvl) * hd + hl * hd * d + 3 * d * ffl + 2 * d;
    return 2 * (2 * vl * d + a->layers * layer + d);
}

int64_t llm_hw_kv_bytes_per_token(const llm_hw_spec_t *hw)
{
    if (!hw->has_model) return 0;
    const llm_arch_t *a = &hw->model;
    return hw->tp * 2 * a->layers * llm_kv_local(a, hw->tp) * llm_head_dim(a) * 2;
}

int64_t llm_hw_activation_reserve(const llm_hw_spec_t *hw, int64_t max_batched_tokens,
                                  int64_t max_num_seqs)
{
    if (!hw->has_model) return 0;
    const llm_arch_t *a = &hw->model;
    int64_t tp = hw->tp, d = a->hidden, hd = llm_head_dim(a);
    int64_t qkv = (a->heads / tp + 2 * llm_kv_local(a, tp)) * hd;
    int64_t ffl = (a->intermediate + tp - 1) / tp;
    if (max_batched_tokens < 0) max_batched_tokens = 0;
    if (max_num_seqs < 0) max_num_seqs = 0;
    return max_batched_tokens * (4 * d + qkv + 3 * ffl) * 2 + max_num_seqs * a->vocab * 8 +
           LLM_RUNTIME_RESERVE;
}

int64_t llm_hw_kv_pool_bytes(const llm_hw_spec_t *hw, double util, int64_t max_batched_tokens,
                             int64_t max_num_seqs)
{
    if (!hw->has_gpu || !hw->has_model) return 0;
    if (!(util > 0)) util = 0;
    if (util > 1) util = 1;
    int64_t usable = (int64_t)floor(util * (double)hw->gpu.memory);
    return hw->tp * (usable - llm_hw_weights_bytes_per_gpu(hw) -
                     llm_hw_activation_reserve(hw, max_batched_tokens, max_num_seqs));
}

int64_t llm_hw_kv_blocks(const llm_hw_spec_t *hw, double util, int64_t max_batched_tokens,
                         int64_t max_num_seqs)
{
    int64_t pool = llm_hw_kv_pool_bytes(hw, util, max_batched_tokens, max_num_seqs);
    int64_t kv = llm_hw_kv_bytes_per_token(hw);
    if (pool <= 0 || kv <= 0) return 0;
    return pool / (LLM_KV_BLOCK_TOKENS * kv);
}

/* ---- Step time -------------------------------------------------------------- */

/* One op: ((F/(P ec))^p + (B/(W em))^p)^(1/p), without t0. */
static double llm_roof(const llm_steptime_t *st, double flops, double bytes)
{
    double c = flops * st->inv_pc, m = bytes * st->inv_wm;
    if (!(c > 0)) return m;
    if (!(m > 0)) return c;
    return pow(pow(c, llm_roofline_p) + pow(m, llm_roofline_p), 1.0 / llm_roofline_p);
}

/* llm_roof_fast (steptime.h): llm_roof from the shape table: max(c, m) x
 * h(min / max), h(r) = (1 + r^p)^(1/p) interpolated linearly between 1025
 * points. h is steep only near r = 0 (h'(r) ~ r^(p-1)), where the error
 * stays below 3e-5 of the term; elsewhere below 1e-7. For the attention of
 * prefill chunks, whose compute and memory parts do not scale together,
 * once per step. */

/* lm_head over n sampled tokens, computed. */
static double llm_lm_head_direct(const llm_steptime_t *st, double n)
{
    return llm_roof(st, st->lm_flops * n, st->lm_wbytes + st->lm_abytes * n) + llm_roofline_t0;
}

/* linear(tokens) computed, not looked up. */
static double llm_linear_direct(const llm_steptime_t *st, int64_t tokens)
{
    const llm_hw_spec_t *hw = &st->hw;
    double T = (double)tokens;
    if (tokens <= 0) return 0.0;
    switch (hw->mode) {
    case LLM_HW_ROOFLINE: {
        double layer = 0.0;
        for (int i = 0; i < st->nops; i++)
            layer += llm_roof(st, st->op_flops[i] * T, st->op_wbytes[i] + st->op_abytes[i] * T) +
                     llm_roofline_t0;
        return st->layers * layer + llm_roof(st, 0.0, st->emb_abytes * T) + llm_roofline_t0;
    }
    case LLM_HW_TABLE: {
        const int64_t *x = hw->table_tokens;
        const sim_time_t *y = hw->table_time;
        int n = hw->ntable;
        if (n == 1 || tokens <= x[0]) return (double)y[0] * 1e-9;
        int lo = 0, hi = n - 1;     /* segment [lo, lo+1]; beyond the last: the last segment */
        if (tokens >= x[n - 1]) {
            lo = n - 2;
        } else {
            while (hi - lo > 1) {
                int mid = (lo + hi) / 2;
                if (x[mid] <= tokens) lo = mid;
                else hi = mid;
            }
        }
        double f = (T - (double)x[lo]) / (double)(x[lo + 1] - x[lo]);
        double v = (double)y[lo] + f * (double)(y[lo + 1] - y[lo]);
        return (v > 0 ? v : 0.0) * 1e-9;
    }
    case LLM_HW_COEFF:
        return ((double)hw->base + (double)hw->per_token * T) * 1e-9;
    default:
        return 0.0;
    }
}

int llm_steptime_init(llm_steptime_t *st, const llm_hw_spec_t *hw, int64_t max_tokens)
{
    memset(st, 0, sizeof *st);
    if (hw->mode == LLM_HW_NONE || max_tokens < 1 || max_tokens > LLM_STEP_MAX_TOKENS) return SIM_EINVAL;
    if (hw->mode == LLM_HW_TABLE && hw->ntable < 1) return SIM_EINVAL;
    st->hw = *hw;
    if (hw->mode == LLM_HW_ROOFLINE) {
        const llm_arch_t *a = &hw->model;
        if (!hw->has_gpu || !hw->has_model || hw->tp < 1 || llm_tp_problem(a, hw->tp) ||
            !(hw->gpu.peak_flops > 0) || !(hw->gpu.hbm_bandwidth > 0) ||
            (hw->tp > 1 && !(hw->gpu.link_bandwidth > 0)))
            return SIM_EINVAL;
        double tp = (double)hw->tp, d = (double)a->hidden, hd = (double)llm_head_dim(a);
        double hl = (double)(a->heads / hw->tp), kvl = (double)llm_kv_local(a, hw->tp);
        double ff = (double)a->intermediate / tp, qkv = (hl + 2 * kvl) * hd, V = (double)a->vocab / tp;
        const double B = LLM_BF16;
        /* GEMMs: weights w (d_in x d_out), F = 2 w per token, B = w + (d_in + d_out) per token */
        const double gemm[4][3] = {
            {d * qkv, d, qkv},              /* QKV projection */
            {hl * hd * d, hl * hd, d},      /* attention output projection */
            {d * 2 * ff, d, 2 * ff},        /* MLP up + gate */
            {ff * d, ff, d},                /* MLP down */
        };
        int k = 0;
        for (int i = 0; i < 4; i++, k++) {
            st->op_flops[k] = 2.0 * gemm[i][0];
            st->op_wbytes[k] = gemm[i][0] * B;
            st->op_abytes[k] = (gemm[i][1] + gemm[i][2]) * B;
        }
        /* memory-bound elementwise ops: values read + written per token */
        const double elem[6] = {
            2 * d, 2 * d,                   /* RMSNorm x 2 */
            2 * (hl + kvl) * hd,            /* rotary embedding of q and k */
            3 * ff,                         /* SiLU(gate) x up */
            3 * d, 3 * d,                   /* residual add x 2 */
        };
        for (int i = 0; i < 6; i++, k++) {
            st->op_flops[k] = 0.0;
            st->op_wbytes[k] = 0.0;
            st->op_abytes[k] = elem[i] * B;
        }
        st->nops = k;
        st->layers = (double)a->layers;
        st->emb_abytes = 2 * d * B;         /* read a row, write it */
        st->kv_bytes = 2.0 * st->layers * kvl * hd * B;
        st->attn_flops = 4.0 * st->layers * hl * hd;
        st->lm_wbytes = V * d * B;
        st->lm_flops = 2.0 * V * d;
        st->lm_abytes = (d + V) * B;
        st->ar_bytes = d * B;
        st->inv_pc = 1.0 / (hw->gpu.peak_flops * llm_roofline_ec);
        st->inv_wm = 1.0 / (hw->gpu.hbm_bandwidth * llm_roofline_em);
    }
    st->linear = malloc(((size_t)max_tokens + 1) * sizeof *st->linear);
    if (!st->linear) return SIM_ENOMEM;
    st->max_tokens = max_tokens;
    /* filled on first use (a run asks for a few hundred sizes of the
     * thousands a table covers): -1 = not yet */
    st->linear[0] = 0.0;
    for (int64_t t = 1; t <= max_tokens; t++) st->linear[t] = -1.0;
    if (hw->mode == LLM_HW_ROOFLINE) {
        /* the terms a step needs every time, so that a step costs no pow():
         * lm_head by sampled tokens (at most one per token of the step), and
         * the KV read per context token */
        st->lm_head = malloc(((size_t)max_tokens + 1) * sizeof *st->lm_head);
        if (!st->lm_head) {
            llm_steptime_fini(st);
            return SIM_ENOMEM;
        }
        for (int i = 0; i <= LLM_ROOF_TABLE; i++)
            st->roof_h[i] = pow(1.0 + pow((double)i / LLM_ROOF_TABLE, llm_roofline_p), 1.0 / llm_roofline_p);
        st->lm_head[0] = 0.0;
        for (int64_t n = 1; n <= max_tokens; n++) st->lm_head[n] = -1.0;
        st->kv_per_token = llm_roof(st, st->attn_flops, st->kv_bytes);
    }
    return 0;
}

void llm_steptime_fini(llm_steptime_t *st)
{
    if (!st) return;
    free(st->linear);
    free(st->lm_head);
    st->linear = st->lm_head = NULL;
    st->max_tokens = 0;
}

double llm_step_linear(const llm_steptime_t *st, int64_t tokens)
{
    if (tokens <= 0) return 0.0;
    if (tokens > st->max_tokens) return llm_linear_direct(st, tokens);
    double v = st->linear[tokens];
    if (v < 0) st->linear[tokens] = v = llm_linear_direct(st, tokens);   /* a pure function's cache */
    return v;
}

double llm_step_time(const llm_steptime_t *st, const llm_step_work_t *w, llm_step_parts_t *parts)
{
    llm_step_parts_t p = {0};
    const llm_hw_spec_t *hw = &st->hw;
    int64_t pre = w->prefill_tokens > 0 ? w->prefill_tokens : 0;
    int64_t dec = w->decode_seqs > 0 ? w->decode_seqs : 0;
    int64_t tokens = pre + dec;
    if (tokens > 0) {
        double ctx = w->decode_context > 0 ? (double)w->decode_context : 0.0;
        double prefix = w->prefill_prefix > 0 ? (double)w->prefill_prefix : 0.0;
        p.linear = llm_step_linear(st, tokens);
        p.overhead = (double)hw->step_overhead * 1e-9;
        if (hw->mode == LLM_HW_ROOFLINE) {
            double pairs = w->prefill_pairs > 0 ? w->prefill_pairs : 0.0;
            double n = w->sampled > 0 ? (double)w->sampled : 0.0;
            if (pre > 0)
                p.attention = llm_roof_fast(st, st->attn_flops * pairs, st->kv_bytes * prefix) +
                              st->layers * llm_roofline_t0;
            if (dec > 0) p.kv_read = ctx * st->kv_per_token + st->layers * llm_roofline_t0;
            if (n > 0) {
                if (w->sampled > st->max_tokens) {
                    p.lm_head = llm_lm_head_direct(st, n);
                } else {
                    p.lm_head = st->lm_head[w->sampled];
                    if (p.lm_head < 0) st->lm_head[w->sampled] = p.lm_head = llm_lm_head_direct(st, n);
                }
            }
            if (hw->tp > 1) {
                double tp = (double)hw->tp;
                double one = 2.0 * (tp - 1.0) / tp * st->ar_bytes * (double)tokens /
                                 (hw->gpu.link_bandwidth / 2.0) +
                             (double)hw->allreduce_latency * 1e-9;
                p.allreduce = 2.0 * st->layers * one;
            }
        } else {
            double per = hw->mode == LLM_HW_TABLE ? (double)hw->kv_read_per_token
                                                  : (double)hw->per_context_token;
            p.kv_read = per * (ctx + prefix) * 1e-9;
        }
    }
    if (parts) *parts = p;
    return p.linear + p.attention + p.kv_read + p.lm_head + p.allreduce + p.overhead;
}
