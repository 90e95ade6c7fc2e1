/* LLM serving (vLLM-like): replicas behind a load balancer, each running
 * continuous batching over a KV cache of fixed size.
 *
 *   llm:
 *     replicas: 2                 # default 1
 *     max_num_seqs: 256           # concurrent sequences per replica (vLLM default)
 *     prefill_base: 20ms          # TTFT = prefill_base + prefill_per_token x prompt
 *     prefill_per_token: 50us
 *     tpot: 10ms                  # time per output token at small batch
 *     tpot_batch_knee: 64         # TPOT(b) = tpot x max(1, b / knee)
 *     kv_cache: 40GiB             # per replica
 *     kv_bytes_per_token: 512KiB  # Llama-2-7B fp16
 *     queue_limit: unbounded      # waiting sequences per replica
 *     startup: 60s                # model load time after a restart
 *     load_balancer: least_outstanding
 *     restart_backoff: {initial: 10s, cap: 300s, reset: 10m}
 *
 * A call (c->tokens_in prompt tokens, c->tokens_out output tokens) goes to
 * the replica the balancer picks and waits there in FIFO order until fewer
 * than max_num_seqs sequences are active and its KV reservation
 * (prompt + output) x kv_bytes_per_token fits; the head of the queue blocks
 * the rest. An admitted sequence prefills for TTFT / speed, then decodes.
 * Decode is processor sharing: all b sequences in decode on a replica
 * advance together at speed / TPOT(b) tokens per second. It is kept exact
 * and cheap with a per-replica virtual clock V (tokens decoded by any one
 * sequence since an arbitrary origin): a sequence entering decode at V
 * finishes when V reaches V + tokens_out. Each replica keeps its decoding
 * sequences in a min-heap by (target, admission order) and its prefilling
 * ones in a min-heap by (end time, admission order), with ONE pending event
 * per heap, rescheduled when the batch or the speed changes: O(log b) per
 * sequence event, never O(b). No allocation per call: heaps are sized to
 * max_num_seqs at creation, the waiting queue is linked through c->link.
 *
 * A call whose owner timed out keeps its slot and KV reservation until it
 * finishes, unless the caller cancels it (llm_cancel, llm_ops.cancel:
 * vLLM's abort on client disconnect): a waiting call leaves the queue, a
 * prefilling or decoding sequence leaves its heap (O(log b), through the
 * index kept in c->hidx; c->where says queue, prefill or decode, c->prev
 * links the queue back), its slot and KV are released, waiting calls are
 * admitted and the remaining decoders speed up.
 * See docs/models/llm.md for the equations and the simplifications
 * (whole-sequence KV reservation instead of paged allocation with
 * preemption; prefill alongside decode without slowing it). */
#ifndef MODELS_COMPONENTS_LLM_LLM_H
#define MODELS_COMPONENTS_LLM_LLM_H

#include <stdbool.h>
#include <stdint.h>

#include "models/components/replicas/backoff.h"
#include "models/components/call.h"
#include "models/components/replicas/lb.h"
#include "sim/cfg.h"
#include "sim/sim.h"

#define LLM_MAX_NUM_SEQS (1 << 20)   /* largest max_num_seqs accepted */

typedef struct llm_spec {
    int64_t replicas;
    int64_t max_num_seqs;           /* per replica */
    sim_time_t prefill_base;        /* ns */
    sim_time_t prefill_per_token;   /* ns per prompt token */
    sim_time_t tpot;                /* ns per output token at batch <= knee */
    int64_t tpot_batch_knee;
    int64_t kv_cache;               /* bytes per replica; INT64_MAX = unbounded */
    int64_t kv_bytes_per_token;
    int64_t queue_limit;            /* waiting sequences per replica; INT64_MAX = unbounded */
    sim_time_t startup;             /* model load time after a restart */
    lb_policy_t load_balancer;
    backoff_spec_t restart_backoff;
} llm_spec_t;

/* The defaults above, as a spec. */
void llm_spec_default(llm_spec_t *spec);

/* Parse the `llm` mapping; `map` may be NULL (all defaults). Every key goes
 * through a cfg getter. Returns 0 or SIM_ECONFIG after reporting to d. */
int llm_spec_parse(sim_diag_t *d, sim_cfg_node_t *map, llm_spec_t *spec);
void llm_spec_fini(llm_spec_t *spec);

/* Seconds per output token at decode batch size `batch` (batch <= 0 counts
 * as 1), nominal speed: tpot x max(1, batch / knee). */
double llm_tpot(const llm_spec_t *spec, int batch);
/* Seconds of prefill for `prompt_tokens`, nominal speed. */
double llm_ttft(const llm_spec_t *spec, int64_t prompt_tokens);

/* Statistics since the warm-up (or the start). */
typedef struct {
    uint64_t submitted;                 /* calls offered */
    uint64_t completed[CALL_NSTATUS];   /* calls completed, by the status given */
    uint64_t orphaned;                  /* completed after the caller stopped waiting (not cancelled) */
    uint64_t cancelled;                 /* aborted by llm_cancel (also in completed[CALL_TIMEOUT]) */
    uint64_t output_tokens;             /* tokens_out of sequences that finished decoding */
    double decoded_tokens;              /* tokens decoded, including those of killed sequences */
    double batch_area;                  /* integral of sum_r b_r dt, in sequence x ns */
    double decode_busy;                 /* integral of #{r : b_r > 0} dt, in ns */
    uint64_t kills;                     /* replicas killed */
} llm_stats_t;

typedef struct llm_replica llm_replica_t;

typedef struct llm {
    sim_t *sim;
    llm_spec_t spec;                    /* copy of the spec given to llm_create */
    llm_replica_t *rep;                 /* spec.replicas */
    lb_t lb;
    sim_rng_t *err_rng;                 /* "llm/errors" */
    double speed;                       /* capacity factor, 1 nominal */
    double error_ratio;                 /* injected errors */
    int64_t kv_cap_tokens;              /* kv_cache / kv_bytes_per_token */
    uint64_t next_order;                /* admission order, for heap ties */

    llm_stats_t st;
    double win_tokens;                  /* tokens decoded in the current sample window */
    int col[5];
} llm_t;

/* Create the LLM in run `sim` (the spec is copied). Registers the time
 * series llm_active_sequences, llm_queue_length, llm_kv_cache_usage_ratio,
 * llm_output_tokens_per_second, llm_replicas_up, a sampler and a warm-up
 * hook, and the streams "llm/errors" and "lb/llm". NULL on OOM. */
llm_t *llm_create(sim_t *sim, const llm_spec_t *spec);
/* Free the LLM. Calls still in it are not completed (destroy the run, then
 * the call pool). NULL is a no-op. */
void llm_destroy(llm_t *llm);

/* The component table; its functions take the llm_t* as `comp`. */
extern const comp_ops_t llm_ops;

/* Typed entry points (what llm_ops wraps). */
void llm_submit(llm_t *llm, call_t *c);
void llm_set_speed(llm_t *llm, double factor);       /* factor <= 1e-6 counts as 1e-6 */
void llm_set_error_ratio(llm_t *llm, double ratio);  /* clamped to [0, 1] */
void llm_kill(llm_t *llm, int replica);              /* replica < 0: all that are up */
/* Cancel a detached call (c->owner NULL) the LLM has not completed: waiting,
 * prefilling or decoding, it leaves at once with CALL_TIMEOUT (no done
 * callback), freeing its slot and KV; waiting calls are admitted. A call
 * already leaving in this instant is left alone. O(log b). */
void llm_cancel(llm_t *llm, call_t *c);
int llm_replicas_up(const llm_t *llm);

/* State of replica r (r < 0: sum over replicas; for kv: max of the ratios). */
int64_t llm_active(const llm_t *llm, int r);      /* admitted: prefill + decode */
int64_t llm_decoding(const llm_t *llm, int r);    /* in decode */
int64_t llm_waiting(const llm_t *llm, int r);     /* queued, not admitted */
double llm_kv_usage(const llm_t *llm, int r);     /* reserved / kv_cache */
bool llm_replica_up(const llm_t *llm, int r);

/* Time-weighted mean decode batch size over the time some replica was
 * decoding, since the warm-up (NAN if none). Brings the integrals to now. */
double llm_mean_batch(llm_t *llm);

#endif
