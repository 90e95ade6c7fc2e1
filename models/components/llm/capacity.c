/* The capacity of one LLM replica for a token mix, in the mean
 * (capacity.h). Owns nothing; calls the step-time model. */
#include "models/components/llm/capacity.h"

#include <math.h>
#include <string.h>

#include "sim/error.h"

const char *llm_cap_bound_name(llm_cap_bound_t b)
{
    switch (b) {
    case LLM_CAP_STEP: return "the step loop (compute and memory bandwidth)";
    case LLM_CAP_SEQS: return "max_num_seqs";
    case LLM_CAP_BUDGET: return "max_num_batched_tokens";
    case LLM_CAP_KV: return "the KV cache";
    case LLM_CAP_TTFT: return "the TTFT target";
    case LLM_CAP_TPOT: return "the TPOT target";
    }
    return "?";
}

/* The steady state at `lambda`; false with *why when it is not sustained. */
static bool steady(const llm_spec_t *sp, const llm_steptime_t *st, const llm_cap_query_t *q, double lambda,
                   llm_cap_t *o, llm_cap_bound_t *why)
{
    double P = q->prompt_tokens, N = q->output_tokens < 1 ? 1 : q->output_tokens;
    double H = q->cached_tokens < P - 1 ? q->cached_tokens : P - 1;
    if (H < 0) H = 0;
    double Pe = P - H, ctx = P + N / 2;
    double tau = 1e-6, x = 0, b = 0;
    bool converged = false;
    for (int i = 0; i < 10000; i++) {
        x = lambda * Pe * tau;
        b = lambda * (N - 1) * tau;
        if (x + b > (double)sp->max_num_batched_tokens * 4) break;   /* far beyond the budget: diverging */
        double chunks = x / Pe;
        llm_step_work_t w = {
            .prefill_tokens = (int64_t)ceil(x),
            .prefill_pairs = x * (H + Pe / 2),
            .prefill_prefix = (int64_t)ceil(chunks * H),
            .decode_seqs = (int64_t)ceil(b),
            .decode_context = (int64_t)ceil(b * ctx),
            .sampled = (int64_t)ceil(b + chunks),
        };
        double next = llm_step_time(st, &w, NULL);
        if (fabs(next - tau) <= 1e-9 * next) {
            tau = next;
            converged = true;
            break;
        }
        tau = next;
    }
    x = lambda * Pe * tau;
    b = lambda * (N - 1) * tau;
    o->requests_per_s = lambda;
    o->prompt_tokens_per_s = lambda * Pe;
    o->generation_tokens_per_s = lambda * N;
    o->step_s = tau;
    o->decodes = b;
    o->prefill_tokens = x;
    o->kv_ratio = b * ctx / ((double)sp->kv_blocks * (double)sp->block_size);
    double left = (double)sp->max_num_batched_tokens - b;
    o->tpot_s = tau;
    o->ttft_s = tau * (0.5 + ceil(Pe / (left > 1 ? left : 1)));
    if (!converged) *why = LLM_CAP_STEP;
    else if (x + b > (double)sp->max_num_batched_tokens) *why = LLM_CAP_BUDGET;
    else if (b > (double)sp->max_num_seqs) *why = LLM_CAP_SEQS;
    else if (o->kv_ratio > 1) *why = LLM_CAP_KV;
    else if (q->tpot_target > 0 && o->tpot_s > q->tpot_target) *why = LLM_CAP_TPOT;
    else if (q->ttft_target > 0 && o->ttft_s > q->ttft_target) *why = LLM_CAP_TTFT;
    else return true;
    return false;
}

int llm_capacity(const llm_spec_t *spec, const llm_steptime_t *st, const llm_cap_query_t *q, llm_cap_t *out)
{
    memset(out, 0, sizeof *out);
    if (!(q->prompt_tokens >= 1) || !(q->output_tokens >= 1)) return SIM_EINVAL;
    llm_cap_t o;
    llm_cap_bound_t why = LLM_CAP_STEP;
    /* a bracket: lo sustained, hi not */
    double lo = 0, hi = 1;
    while (hi < 1e9 && steady(spec, st, q, hi, &o, &why)) {
        lo = hi;
        hi *= 2;
    }
    for (int i = 0; i < 60 && hi - lo > 1e-6 * hi; i++) {
        double mid = (lo + hi) / 2;
        if (steady(spec, st, q, mid, &o, &why)) lo = mid;
        else hi = mid;
    }
    steady(spec, st, q, hi, &o, &why);   /* what stops a higher load */
    llm_cap_bound_t bound = why;
    if (lo > 0) steady(spec, st, q, lo, out, &why);
    else out->step_s = o.step_s;
    out->bound = bound;
    return 0;
}
