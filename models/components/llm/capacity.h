/* What one LLM replica sustains for a token mix, before any run: the
 * steady state of the step loop (sched.c) solved in the mean, for
 * `ragsim llm capacity` and `ragsim validate`.
 *
 * At an arrival rate lambda per replica with mean prompt P (of which the
 * prefix cache spares H) and mean output N tokens, a step of duration tau
 * carries, in the mean,
 *   x = lambda (P - H) tau    prefill tokens (the prompts that arrive meanwhile)
 *   b = lambda (N - 1) tau    decodes (Little's law: a sequence decodes N - 1 steps)
 * and tau = step_time(x + b tokens, b decodes reading b (P + N/2) KV tokens,
 * the chunks' attention). The fixed point in tau exists while the replica
 * keeps up; lambda is feasible when it does, when b fits max_num_seqs, x + b
 * the token budget and b (P + N/2) the KV pool, and when the targets hold:
 * TPOT ~ tau, TTFT ~ tau (1/2 + the steps a prompt's prefill takes at the
 * budget left by the decodes). The largest feasible lambda is found by
 * bisection. A mean-value estimate: queueing delays, the spread of the
 * token mix and preemptions are not in it (the simulation has them). */
#ifndef MODELS_COMPONENTS_LLM_CAPACITY_H
#define MODELS_COMPONENTS_LLM_CAPACITY_H

#include "models/components/llm/llm.h"

typedef struct {
    double prompt_tokens;       /* mean prompt */
    double cached_tokens;       /* mean of it found in the prefix cache */
    double output_tokens;       /* mean output */
    double ttft_target;         /* seconds; 0 = none */
    double tpot_target;         /* seconds; 0 = none */
} llm_cap_query_t;

typedef enum {
    LLM_CAP_STEP,          /* the step loop falls behind (compute / memory bandwidth) */
    LLM_CAP_SEQS,          /* max_num_seqs */
    LLM_CAP_BUDGET,        /* max_num_batched_tokens */
    LLM_CAP_KV,            /* the KV pool */
    LLM_CAP_TTFT,          /* the TTFT target */
    LLM_CAP_TPOT,          /* the TPOT target */
} llm_cap_bound_t;

const char *llm_cap_bound_name(llm_cap_bound_t b);

typedef struct {
    double requests_per_s;          /* per replica */
    double prompt_tokens_per_s;     /* computed (after prefix-cache hits) */
    double generation_tokens_per_s;
    double step_s;                  /* at that load */
    double decodes;                 /* per step */
    double prefill_tokens;          /* per step */
    double kv_ratio;                /* KV in use / pool */
    double ttft_s, tpot_s;          /* the estimates at that load */
    llm_cap_bound_t bound;          /* what stops a higher load */
} llm_cap_t;

/* The largest load one replica of `spec` (a parsed, derived spec) sustains
 * for `q`. Returns 0, or SIM_EINVAL for a query without tokens. Cost: a few
 * thousand step-time evaluations. `st` is the spec's step-time model
 * (llm_steptime_init). */
int llm_capacity(const llm_spec_t *spec, const llm_steptime_t *st, const llm_cap_query_t *q, llm_cap_t *out);

#endif
