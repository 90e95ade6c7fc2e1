/* LLM step time from the hardware and the model (vLLM-style serving).
 *
 * A replica runs forward passes ("steps") back to back; a step processes
 * `tokens` tokens: the prefill chunks' tokens plus one per decoding
 * sequence. Its time, at nominal speed (the caller applies a speed factor):
 *
 *   step = linear(tokens) + attention_prefill + kv_read + lm_head
 *          + allreduce + step_overhead
 *
 *   linear     the token-parallel work of all layers (QKV, output, MLP
 *              up+gate and down projections, RMSNorm x 2, rotary embedding,
 *              SiLU-and-mul, residual add x 2) plus the embedding lookup: a
 *              SUM over operations of a smooth roofline per operation,
 *                t_op = ((F/(P ec))^p + (B/(W em))^p)^(1/p) + t0
 *              (F FLOPs, B bytes moved, P peak dense BF16 FLOP/s, W HBM
 *              bandwidth; ec, em, p, t0 global constants fitted to measured
 *              A100 profiles, docs/llm-validation.md). Tabulated for
 *              1..max_tokens at init, so a step costs O(1).
 *   attention  prefill chunks: F = 4 layers d pairs / tp, where pairs sums,
 *              over the chunk's tokens, the context each attends to; B = the
 *              KV of the prefix the chunks read.
 *   kv_read    decodes read their whole KV: B = context x KV bytes per token
 *              (per GPU), F = 4 layers d context / tp.
 *   lm_head    a vocab x d GEMM over the sampled tokens (one per decode and
 *              one per prefill that completes), split by tp.
 *   allreduce  tp > 1: two ring all-reduces per layer of tokens x d bf16
 *              values, 2 (tp-1)/tp x bytes / (link_bandwidth / 2) + latency.
 *   overhead   fixed per step (scheduler, sampling, launches): 2 ms by
 *              default, an assumption (docs/llm-validation.md).
 *
 * Or, instead of the roofline, a measured step-time table (tokens -> time,
 * linearly interpolated) plus a time per KV token read, or plain
 * coefficients base + per_token x tokens + per_context_token x KV tokens read.
 *
 * The `hardware` mapping (llm_hw_spec_parse):
 *   hardware: {gpu: a100-80gb, model: Meta-Llama-3-8B, tp: 1}
 *   hardware:
 *     gpu: {peak: 312TFLOP/s, hbm_bandwidth: 2039GB/s, memory: 80GiB, link_bandwidth: 600GB/s}
 *     model: {layers: 32, hidden_size: 4096, heads: 32, kv_heads: 8,
 *             intermediate_size: 14336, vocab_size: 128256}
 *     tp: 2
 *     step_overhead: 2ms          # default 2ms (0 with step_time)
 *     allreduce_latency: 10us     # default 10us
 *   hardware: {step_time: {table: [[1, 9.8ms], [512, 40ms], [2048, 140ms]], kv_read_per_token: 60ns}}
 *   hardware: {step_time: {base: 6ms, per_token: 60us, per_context_token: 30ns}}
 * A gpu or model mapping may start from a preset (`preset: a100-80gb`) and
 * override some keys. With step_time, gpu and model are optional and only
 * size the KV cache. Everything here is bf16 (2 bytes per value).
 *
 * Nothing here is on the hot path except llm_step_time (O(1), no
 * allocation; inline as llm_step_time_fast); presets and parsing run once. */
#ifndef MODELS_COMPONENTS_LLM_STEPTIME_H
#define MODELS_COMPONENTS_LLM_STEPTIME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sim/cfg.h"
#include "sim/diag.h"
#include "sim/time.h"

#define LLM_KV_BLOCK_TOKENS 16            /* vLLM's default block size */
#define LLM_GPU_MEMORY_UTILIZATION 0.9    /* vLLM's default gpu_memory_utilization */
#define LLM_STEP_TABLE_MAX 128            /* points of a step_time table */
#define LLM_TP_MAX 64                     /* largest tensor parallelism accepted */
#define LLM_STEP_MAX_TOKENS (1 << 20)     /* largest linear() table (8 MiB) */
#define LLM_ROOF_TABLE 1024               /* points of the roofline's shape table */

/* The four global constants of the per-operation roofline (see steptime.c
 * for where they come from and how sensitive the errors are to each). */
extern const double llm_roofline_ec;      /* compute efficiency */
extern const double llm_roofline_em;      /* memory efficiency */
extern const double llm_roofline_p;       /* smoothness of the roofline */
extern const double llm_roofline_t0;      /* fixed time per kernel, s */

typedef struct llm_gpu {
    const char *name;          /* preset name, or "custom" */
    double peak_flops;         /* dense BF16 tensor-core FLOP/s */
    double hbm_bandwidth;      /* bytes/s */
    int64_t memory;            /* bytes per GPU */
    double link_bandwidth;     /* GPU-to-GPU bytes/s, both directions together (as
                                  datasheets quote NVLink); 0 = none given */
} llm_gpu_t;

typedef struct llm_arch {
    const char *name;          /* preset name (Hugging Face id), or "custom" */
    int64_t layers;
    int64_t hidden;            /* d (hidden_size) */
    int64_t heads;             /* attention heads; head dim = hidden / heads */
    int64_t kv_heads;          /* key/value heads (GQA) */
    int64_t intermediate;      /* width of each of the MLP's gate and up projections */
    int64_t vocab;
    int64_t max_position;      /* context length (max_position_embeddings): vLLM's default max_model_len */
} llm_arch_t;

/* Presets; names NULL-terminated in table order. */
extern const char *const llm_gpu_names[];
extern const char *const llm_arch_names[];
const llm_gpu_t *llm_gpu_preset(const char *name);    /* NULL if unknown */
const llm_arch_t *llm_arch_preset(const char *name);  /* NULL if unknown */
/* The preset name closest to `word` (case-insensitive edit distance, or a
 * name containing it), for did-you-mean messages; NULL if none is close. */
const char *llm_gpu_suggest(const char *word);
const char *llm_arch_suggest(const char *word);

/* Whole model, bf16, untied embedding and lm_head, biases ignored. */
int64_t llm_arch_parameters(const llm_arch_t *a);
int64_t llm_arch_weights_bytes(const llm_arch_t *a);        /* 2 x parameters */
int64_t llm_arch_kv_bytes_per_token(const llm_arch_t *a);   /* 2 x layers x kv_heads x head_dim x 2 */

typedef enum {
    LLM_HW_NONE,        /* no `hardware` given */
    LLM_HW_ROOFLINE,    /* from gpu + model + tp */
    LLM_HW_TABLE,       /* measured table + kv_read_per_token */
    LLM_HW_COEFF,       /* base + per_token + per_context_token */
} llm_hw_mode_t;

typedef struct llm_hw_spec {
    llm_hw_mode_t mode;
    bool has_gpu, has_model;        /* always both in LLM_HW_ROOFLINE */
    llm_gpu_t gpu;
    llm_arch_t model;
    int64_t tp;                     /* tensor parallelism: GPUs per replica */
    sim_time_t step_overhead;       /* per step */
    sim_time_t allreduce_latency;   /* per all-reduce */
    /* LLM_HW_TABLE: time of a step of table_tokens[i] tokens (strictly increasing) */
    int ntable;
    int64_t table_tokens[LLM_STEP_TABLE_MAX];
    sim_time_t table_time[LLM_STEP_TABLE_MAX];
    sim_time_t kv_read_per_token;   /* TABLE: per KV token read */
    /* LLM_HW_COEFF */
    sim_time_t base, per_token, per_context_token;
} llm_hw_spec_t;

/* Mode NONE, tp 1, step_overhead 2 ms, allreduce_latency 10 us. */
void llm_hw_spec_default(llm_hw_spec_t *hw);

/* Roofline mode from preset names. Returns 0, or SIM_EINVAL with *why set
 * (static text) for an unknown name or a tp that does not divide the heads. */
int llm_hw_spec_preset(llm_hw_spec_t *hw, const char *gpu, const char *model, int64_t tp,
                       const char **why);

/* Parse the `hardware` mapping (see above); NULL or null: mode NONE. Every
 * key goes through a cfg getter; errors are FILE:LINE:COL through d.
 * Returns 0 or SIM_ECONFIG. */
int llm_hw_spec_parse(sim_diag_t *d, sim_cfg_node_t *map, llm_hw_spec_t *out);

/* ---- Memory: sizing the KV cache --------------------------------------------
 * vLLM's rule: KV pool = gpu_memory_utilization x memory x tp - weights -
 * what else the GPUs hold (activations of the largest step, logits, CUDA
 * context and graphs). All 0 when the spec has no gpu or no model. */

int64_t llm_hw_gpu_memory(const llm_hw_spec_t *hw);            /* bytes per GPU */
int64_t llm_hw_weights_bytes(const llm_hw_spec_t *hw);         /* whole model */
int64_t llm_hw_weights_bytes_per_gpu(const llm_hw_spec_t *hw); /* one shard (norms replicated) */
/* KV bytes per token across the replica's GPUs (KV heads replicated when
 * tp > kv_heads). */
int64_t llm_hw_kv_bytes_per_token(const llm_hw_spec_t *hw);
/* Per GPU, beyond the weights: activations of a step of max_batched_tokens
 * (tokens x (4 d + QKV width + 3 intermediate / tp) x 2 bytes), fp32 logits
 * and probabilities of max_num_seqs sampled rows (max_num_seqs x vocab x 8
 * bytes), and 1 GiB for the CUDA context, cuBLAS workspace, NCCL buffers
 * and CUDA graphs. An estimate: vLLM measures it with a profiling run. */
int64_t llm_hw_activation_reserve(const llm_hw_spec_t *hw, int64_t max_batched_tokens,
                                  int64_t max_num_seqs);
/* KV pool of a replica in bytes: util x memory x tp - weights - tp x
 * reserve; negative when the weights and the reserve do not fit. */
int64_t llm_hw_kv_pool_bytes(const llm_hw_spec_t *hw, double util, int64_t max_batched_tokens,
                             int64_t max_num_seqs);
/* The pool in blocks of LLM_KV_BLOCK_TOKENS tokens (0 if it does not fit). */
int64_t llm_hw_kv_blocks(const llm_hw_spec_t *hw, double util, int64_t max_batched_tokens,
                         int64_t max_num_seqs);

/* ---- Step time -------------------------------------------------------------- */

/* What one step does. tokens = prefill_tokens + decode_seqs. */
typedef struct llm_step_work {
    int64_t prefill_tokens;     /* tokens of the prefill chunks in the step */
    double prefill_pairs;       /* sum over those tokens of the context each attends to,
                                   itself included (llm_chunk_pairs per chunk) */
    int64_t prefill_prefix;     /* KV tokens already cached that the chunks read (sum over chunks) */
    int64_t decode_seqs;        /* decoding sequences, one token each */
    int64_t decode_context;     /* sum over them of the KV tokens each reads */
    int64_t sampled;            /* tokens sampled: decodes + prefills that complete */
} llm_step_work_t;

/* The terms of a step, in seconds at nominal speed. */
typedef struct llm_step_parts {
    double linear, attention, kv_read, lm_head, allreduce, overhead;
} llm_step_parts_t;

/* Ready to answer: a copy of the spec, the per-GPU sizes and the linear()
 * table. */
typedef struct llm_steptime {
    llm_hw_spec_t hw;
    int64_t max_tokens;             /* linear[] covers 0..max_tokens */
    double *linear;                 /* seconds */
    double *lm_head;                /* roofline: lm_head[n] for n sampled tokens, 0..max_tokens, seconds */
    double roof_h[LLM_ROOF_TABLE + 1]; /* (1 + r^p)^(1/p) at r = i / LLM_ROOF_TABLE: the per-step
                                       roofline without pow() (llm_roof_fast) */
    double kv_per_token;            /* roofline: the decodes' KV read per context token, seconds
                                       (the roofline is homogeneous: it scales with the context) */
    /* roofline mode, per GPU */
    int nops;
    double op_flops[12], op_wbytes[12], op_abytes[12];  /* per layer: F/token, weight B, activation B/token */
    double layers;
    double emb_abytes;              /* embedding lookup, bytes per token */
    double kv_bytes;                /* per token of context, one GPU */
    double attn_flops;              /* per (query, key) pair, all layers, one GPU */
    double lm_wbytes, lm_flops, lm_abytes;
    double ar_bytes;                /* all-reduce bytes per token */
    double inv_pc, inv_wm;          /* 1 / (P ec), 1 / (W em) */
} llm_steptime_t;

/* Prepare `st` for `hw` (copied; mode NONE is an error) with linear()
 * tabulated for 0..max_tokens (1 <= max_tokens <= LLM_STEP_MAX_TOKENS;
 * larger steps are still answered, computed each time). Returns 0,
 * SIM_EINVAL or SIM_ENOMEM. */
int llm_steptime_init(llm_steptime_t *st, const llm_hw_spec_t *hw, int64_t max_tokens);
void llm_steptime_fini(llm_steptime_t *st);

/* Seconds of one step at nominal speed; `parts` (may be NULL) gets the
 * terms. A step without tokens takes 0. O(1), no allocation. */
double llm_step_time(const llm_steptime_t *st, const llm_step_work_t *w, llm_step_parts_t *parts);
/* The linear term alone for `tokens` tokens, seconds (table, step_time
 * table or coefficients per mode). */
double llm_step_linear(const llm_steptime_t *st, int64_t tokens);
/* Context pairs of a chunk of `chunk` tokens after `prefix` cached tokens
 * (causal): chunk x prefix + chunk (chunk + 1) / 2. */
static inline double llm_chunk_pairs(int64_t prefix, int64_t chunk)
{
    if (chunk <= 0) return 0.0;
    if (prefix < 0) prefix = 0;
    double c = (double)chunk;
    return c * (double)prefix + c * (c + 1.0) / 2.0;
}

/* The roofline of the prefill chunks' attention from the shape table
 * (steptime.c explains it). */
static inline double llm_roof_fast(const llm_steptime_t *st, double flops, double bytes)
{
    double c = flops * st->inv_pc, m = bytes * st->inv_wm;
    if (!(c > 0)) return m;
    if (!(m > 0)) return c;
    double hi = c > m ? c : m, r = (c > m ? m : c) / hi;
    double x = r * LLM_ROOF_TABLE;
    int i = (int)x;
    if (i >= LLM_ROOF_TABLE) return hi * st->roof_h[LLM_ROOF_TABLE];
    double f = x - (double)i;
    return hi * (st->roof_h[i] + f * (st->roof_h[i + 1] - st->roof_h[i]));
}

/* llm_step_time(st, w, NULL), inline for the step loop (a step evaluates it
 * once, a span twice): the roofline with tp 1 and the step's linear and
 * lm_head terms already tabulated; anything else is llm_step_time's. The
 * same terms summed in the same order: the same value, bit for bit. */
static inline double llm_step_time_fast(const llm_steptime_t *st, const llm_step_work_t *w)
{
    int64_t pre = w->prefill_tokens, dec = w->decode_seqs, n = w->sampled;
    int64_t tokens = pre + dec;
    if (st->hw.mode != LLM_HW_ROOFLINE || st->hw.tp != 1 || pre < 0 || dec < 0 || n < 0 || tokens <= 0 ||
        tokens > st->max_tokens || n > st->max_tokens)
        return llm_step_time(st, w, NULL);
    double linear = st->linear[tokens], lm_head = n > 0 ? st->lm_head[n] : 0.0;
    if (linear < 0 || lm_head < 0) return llm_step_time(st, w, NULL);   /* not tabulated yet */
    double attention = 0.0, kv_read = 0.0;
    if (pre > 0) {
        double pairs = w->prefill_pairs > 0 ? w->prefill_pairs : 0.0;
        double prefix = w->prefill_prefix > 0 ? (double)w->prefill_prefix : 0.0;
        attention = llm_roof_fast(st, st->attn_flops * pairs, st->kv_bytes * prefix) + st->layers * llm_roofline_t0;
    }
    if (dec > 0) {
        double ctx = w->decode_context > 0 ? (double)w->decode_context : 0.0;
        kv_read = ctx * st->kv_per_token + st->layers * llm_roofline_t0;
    }
    double allreduce = 0.0, overhead = (double)st->hw.step_overhead * 1e-9;
    return linear + attention + kv_read + lm_head + allreduce + overhead;
}

#endif
