/* LLM serving as vLLM runs it (the V1 engine's scheduler, vLLM 0.10, as an
 * OpenAI-compatible server): replicas behind a load balancer, each running
 * forward passes ("steps") back to back with iteration-level batching,
 * chunked prefill, a paged KV cache with preemption by recompute, and
 * automatic prefix caching.
 *
 *   llm:
 *     replicas: 2
 *     hardware: {gpu: a100-80gb, model: Meta-Llama-3-8B, tp: 1}   # steptime.h
 *     max_num_seqs: 256            # default: vLLM's for the GPU (256; 1024 on >= 70 GiB GPUs but the A100)
 *     max_num_batched_tokens: 2048 # default: vLLM's for the GPU (2048; 8192 likewise)
 *     gpu_memory_utilization: 0.9
 *     block_size: 16
 *     enable_prefix_caching: true
 *     max_model_len: 8192          # default: the model's context length
 *     max_tokens: unbounded        # the clients' cap on output tokens
 *     kv_cache: auto               # KV pool per replica (auto: from the GPUs' memory)
 *     queue_limit: unbounded
 *     startup: 60s
 *     load_balancer: least_outstanding
 *     restart_backoff: {initial: 10s, cap: 300s, reset: 10m}
 *     scheduling_policy: fcfs      # or priority (vLLM --scheduling-policy)
 *
 * A step holds at most max_num_seqs sequences and max_num_batched_tokens
 * tokens: one token for every running decode, then prefill chunks, first of
 * the running sequence still in prefill, then of waiting ones in FCFS order,
 * while tokens, sequence slots and KV blocks last. A decode that needs a KV
 * block when none is free preempts the most recently admitted running
 * sequence (its blocks are freed, it returns to the head of the queue and
 * recomputes its prompt and the tokens it had generated). The step takes
 * the time steptime.h predicts for its composition, divided by the speed
 * factor in force when it starts. Output lengths are not known to the
 * scheduler: a sequence stops when it has generated the call's tokens_out
 * (the answer's length, drawn by the caller), at most max_tokens and
 * max_model_len - prompt.
 *
 * Priority scheduling (scheduling_policy: priority, vLLM's
 * PriorityRequestQueue): each call has a level (call_t.level, 0 first); the
 * waiting queue is served by (level, arrival), FCFS within a level, and a
 * preempted sequence goes back to the head of its own level. A preemption
 * takes the most recently admitted running sequence of the worst level
 * present (vLLM: the running request with the largest (priority,
 * arrival_time); admission order within a level stands in for arrival
 * order, which differs only for a sequence re-admitted after a preemption).
 * As in vLLM, a waiting sequence never preempts a running one: priority
 * decides who is admitted next and who is preempted when blocks run out.
 * Cost: O(levels) per queue insertion into an empty level, O(1) otherwise.
 *
 * Cost per step: O(1) for the decodes (a per-replica step counter is their
 * virtual clock: a decode entering at clock v with n tokens to go finishes
 * at v + n; a min-heap of finish clocks; block needs counted by the phase
 * of each decode's length modulo the block size), O(log b) per sequence
 * that finishes, O(1) per prefill chunk and per admission. No allocation
 * per call: slots and heaps double, up to max_num_seqs, the few times a replica first needs more. One
 * pending event per busy replica. Details: docs/internals/models.md ("LLM"). */
#ifndef MODELS_COMPONENTS_LLM_LLM_H
#define MODELS_COMPONENTS_LLM_LLM_H

#include <stdbool.h>
#include <stdint.h>

#include "models/components/call.h"
#include "models/components/llm/steptime.h"
#include "models/components/replicas/backoff.h"
#include "models/components/replicas/hpa.h"
#include "models/components/replicas/lb.h"
#include "models/model.h"
#include "sim/cfg.h"
#include "sim/sim.h"
#include "sim/stats.h"

#define LLM_MAX_NUM_SEQS (1 << 20)   /* largest max_num_seqs accepted */
#define LLM_DEFAULT_GPU "a100-80gb"
#define LLM_DEFAULT_MODEL "Meta-Llama-3-8B"

typedef struct llm_spec {
    int64_t replicas;
    llm_hw_spec_t hw;                  /* the GPU, the model and TP, or a measured step time */
    int64_t max_num_seqs;              /* per replica */
    int64_t max_num_batched_tokens;    /* per step */
    double gpu_memory_utilization;     /* share of GPU memory vLLM may use */
    int64_t block_size;                /* tokens per KV block */
    bool enable_prefix_caching;
    int64_t max_model_len;             /* prompt + output, tokens */
    int64_t max_tokens;                /* output cap; INT64_MAX = none */
    int64_t kv_cache;                  /* bytes of KV pool per replica (derived unless given) */
    int64_t kv_bytes_per_token;        /* the model's (derived unless given) */
    int64_t kv_blocks;                 /* derived: kv_cache / (block_size x kv_bytes_per_token) */
    int64_t queue_limit;               /* waiting sequences per replica; INT64_MAX = unbounded */
    sim_time_t startup;                /* model load time after a restart */
    lb_policy_t load_balancer;
    backoff_spec_t restart_backoff;
    hpa_spec_t autoscale;              /* the HPA on inflight, queue or kv (enabled false: a fixed count) */
    bool priority_policy;              /* scheduling_policy: priority (vLLM --scheduling-policy) */
    int levels;                        /* priority levels the calls use (c->level < levels), set by
                                        * the caller after parsing; 1 (default): every call alike */
} llm_spec_t;

/* The defaults, as a spec (hardware a100-80gb, Meta-Llama-3-8B, TP 1). */
void llm_spec_default(llm_spec_t *spec);

/* Parse the `llm` mapping; `map` may be NULL (all defaults). Derives the
 * vLLM defaults that depend on the GPU and the KV pool, and reports a pool
 * smaller than one sequence of max_model_len. 0 or SIM_ECONFIG / SIM_ENOMEM
 * after reporting to d. */
int llm_spec_parse(sim_diag_t *d, sim_cfg_node_t *map, llm_spec_t *spec);
void llm_spec_fini(llm_spec_t *spec);

/* Statistics since the warm-up (or the start). Token counts are tokens
 * computed: prompt tokens exclude prefix-cache hits and include the
 * recomputation after a preemption. */
typedef struct {
    uint64_t submitted;                 /* calls offered */
    uint64_t completed[CALL_NSTATUS];   /* calls completed, by the status given */
    uint64_t orphaned;                  /* completed after the caller stopped waiting (not cancelled) */
    uint64_t cancelled;                 /* aborted by llm_cancel (also in completed[CALL_TIMEOUT]) */
    uint64_t preemptions;               /* sequences preempted (vLLM num_preemptions_total) */
    uint64_t prompt_tokens;             /* prefill tokens computed */
    uint64_t generation_tokens;         /* output tokens generated (also of sequences that did not finish) */
    uint64_t output_tokens;             /* output tokens of sequences that finished */
    uint64_t prefix_queries;            /* prompt tokens of admitted sequences (prefix-cache queries) */
    uint64_t prefix_hits;               /* of which found in the prefix cache */
    uint64_t steps;                     /* forward passes */
    double step_seconds;                /* their total time */
    uint64_t step_decodes;              /* decode tokens over the steps */
    uint64_t kills;                     /* replicas killed */
} llm_stats_t;

typedef struct llm_replica llm_replica_t;

typedef struct llm {
    sim_t *sim;
    llm_spec_t spec;                    /* copy of the spec given to llm_create; with autoscaling its
                                         * `replicas` is the slots (max_replicas) */
    llm_steptime_t hw;                  /* step-time model built from spec.hw */
    llm_replica_t *rep;                 /* spec.replicas */
    lb_t lb;
    sim_rng_t *err_rng;                 /* "llm/errors" */
    double speed;                       /* capacity factor, 1 nominal */
    double error_ratio;                 /* injected errors */
    uint64_t next_order;                /* admission order, for heap ties */

    llm_stats_t st;
    sim_hist_t ttft, tpot, itl, e2e;    /* ns; since the warm-up */
    sim_hist_t win_ttft;                /* the sample interval's TTFT */
    /* the sample interval's counts */
    uint64_t win_prompt, win_gen, win_queries, win_hits, win_steps;
    double win_step_seconds;
    sim_time_t t_warm;                  /* start of the statistics (warm-up end) */
    int col[10];
    /* autoscaling (spec.autoscale) */
    hpa_t hpa;
    int64_t want;                       /* replicas wanted (ready or loading) */
    int col_desired;
} llm_t;

/* Create the LLM in run `sim` (the spec is copied). Registers its time
 * series (docs/model-reference.md), a sampler, a warm-up hook, and the
 * streams "llm/errors" and "lb/llm". NULL on OOM. */
llm_t *llm_create(sim_t *sim, const llm_spec_t *spec);
/* Free the LLM. Calls still in it are not completed (destroy the run, then
 * the call pool). NULL is a no-op. */
void llm_destroy(llm_t *llm);

/* The component table; its functions take the llm_t* as `comp`. */
extern const comp_ops_t llm_ops;

/* Typed entry points (what llm_ops wraps). */
void llm_submit(llm_t *llm, call_t *c);
void llm_set_speed(llm_t *llm, double factor);       /* factor <= 1e-6 counts as 1e-6; steps that start later */
void llm_set_error_ratio(llm_t *llm, double ratio);  /* clamped to [0, 1] */
void llm_kill(llm_t *llm, int replica);              /* replica < 0: all that are up */
/* Cancel a detached call (c->owner NULL) the LLM has not completed: waiting
 * or running, it leaves at once with CALL_TIMEOUT (no done callback),
 * freeing its slot and KV blocks (vLLM's abort). A call already leaving in
 * this instant is left alone. O(log b). */
void llm_cancel(llm_t *llm, call_t *c);
int llm_replicas_up(const llm_t *llm);

/* Bring every replica's bookkeeping to now (decode-only steps are
 * accounted lazily; the sampler and the warm-up do it). Before reading the
 * KV usage or the statistics from outside the model. */
void llm_sync(llm_t *llm);

/* State of replica r (r < 0: sum over replicas; for kv: the fullest). */
int64_t llm_running(const llm_t *llm, int r);     /* admitted: prefill + decode */
int64_t llm_decoding(const llm_t *llm, int r);    /* in decode */
int64_t llm_waiting(const llm_t *llm, int r);     /* queued or preempted, not running */
double llm_kv_usage(const llm_t *llm, int r);     /* blocks in use / KV pool */
bool llm_replica_up(const llm_t *llm, int r);

/* Mean decodes per step since the warm-up (NAN if no step). */
double llm_mean_batch(const llm_t *llm);

/* Resources held, for the run budgets: bytes of slots, heaps and caches. */
uint64_t llm_bytes(const llm_t *llm);

/* The LLM's figures: section "llm" (TTFT, TPOT, inter-token and end-to-end
 * latency quantiles, tokens per second, prefix-cache hit ratio, steps,
 * preemptions) and llm_ttft_p95_s, llm_tpot_p95_s in "summary". */
void llm_report(const llm_t *llm, rs_report_t *rep);

#endif
