/* LLM serving: the spec (vLLM's parameters and their defaults), the
 * replicas' life (submit, cancel, kill and restart, speed and error
 * faults) and the metrics (time series, report). The step loop is in
 * sched.c, the step time in steptime.c. */
#include "models/components/llm/llm.h"

#include <assert.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "models/components/llm/llm_internal.h"
#include "sim/error.h"
#include "sim/units.h"

/* Largest replicas x max_num_seqs accepted (slots, heaps). */
#define LLM_MAX_SLOTS ((int64_t)1 << 24)

/* ---- spec ---------------------------------------------------------------- */

void llm_spec_default(llm_spec_t *spec)
{
    memset(spec, 0, sizeof *spec);
    spec->replicas = 1;
    const char *why = NULL;
    int rc = llm_hw_spec_preset(&spec->hw, LLM_DEFAULT_GPU, LLM_DEFAULT_MODEL, 1, &why);
    assert(rc == 0 && "the default GPU and model are presets");
    (void)rc;
    spec->gpu_memory_utilization = 0.9;
    spec->block_size = 16;
    spec->enable_prefix_caching = true;
    spec->max_tokens = INT64_MAX;
    spec->queue_limit = INT64_MAX;
    spec->startup = 60 * SIM_SEC;
    spec->load_balancer = LB_LEAST_OUTSTANDING;
    spec->restart_backoff = BACKOFF_DEFAULTS;
    spec->levels = 1;
}

static const char *const sched_policy_names[] = {"fcfs", "priority", NULL};

int llm_spec_parse(sim_diag_t *d, sim_cfg_node_t *map, llm_spec_t *spec)
{
    llm_spec_default(spec);
    if (map && !sim_cfg_is_null(map) && !sim_cfg_expect_map(d, map, "llm")) return SIM_ECONFIG;
    int errs = d->errors;
    sim_cfg_node_t *hwn = map ? sim_cfg_get(map, "hardware") : NULL;
    if (hwn && !sim_cfg_is_null(hwn)) {   /* else the default GPU and model */
        int rc = llm_hw_spec_parse(d, hwn, &spec->hw);
        if (rc == SIM_ENOMEM) return rc;
    }
    if (map) {
        sim_cfg_int(d, map, "replicas", 0, 1, LB_MAX_REPLICAS, spec->replicas, &spec->replicas);
        sim_cfg_int(d, map, "max_num_seqs", 0, 1, LLM_MAX_NUM_SEQS, 0, &spec->max_num_seqs);
        sim_cfg_int(d, map, "max_num_batched_tokens", 0, 1, (int64_t)1 << 24, 0,
                    &spec->max_num_batched_tokens);
        sim_cfg_ratio(d, map, "gpu_memory_utilization", 0, spec->gpu_memory_utilization,
                      &spec->gpu_memory_utilization);
        sim_cfg_int(d, map, "block_size", 0, 1, 256, spec->block_size, &spec->block_size);
        sim_cfg_bool(d, map, "enable_prefix_caching", 0, spec->enable_prefix_caching, &spec->enable_prefix_caching);
        sim_cfg_int(d, map, "max_model_len", 0, 1, (int64_t)1 << 24, 0, &spec->max_model_len);
        sim_cfg_int(d, map, "max_tokens", SIM_CFG_UNBOUNDED, 1, INT64_MAX, spec->max_tokens, &spec->max_tokens);
        sim_cfg_size(d, map, "kv_cache", SIM_CFG_POSITIVE | 0, 0, &spec->kv_cache);
        sim_cfg_size(d, map, "kv_bytes_per_token", SIM_CFG_POSITIVE | 0, 0, &spec->kv_bytes_per_token);
        sim_cfg_int(d, map, "queue_limit", SIM_CFG_UNBOUNDED, 0, INT64_MAX, spec->queue_limit, &spec->queue_limit);
        sim_cfg_duration(d, map, "startup", 0, spec->startup, &spec->startup);
        int lbp = spec->load_balancer;
        sim_cfg_enum(d, map, "load_balancer", 0, lb_policy_names, lbp, &lbp);
        spec->load_balancer = (lb_policy_t)lbp;
        backoff_spec_parse(d, sim_cfg_get(map, "restart_backoff"), &spec->restart_backoff);
        int pol = 0;
        sim_cfg_enum(d, map, "scheduling_policy", 0, sched_policy_names, 0, &pol);
        spec->priority_policy = pol == 1;
    }
    hpa_spec_parse(d, map ? sim_cfg_get(map, "autoscale") : NULL, spec->replicas,
                   1u << HPA_INFLIGHT | 1u << HPA_QUEUE | 1u << HPA_KV, &spec->autoscale);
    if (d->errors != errs) return SIM_ECONFIG;

    /* vLLM's defaults that depend on the GPU (EngineArgs.get_batch_defaults,
     * OpenAI server): 8192 tokens and 1024 sequences on GPUs of 70 GiB or
     * more except the A100, else 2048 and 256. */
    const llm_hw_spec_t *hw = &spec->hw;
    bool big = hw->has_gpu && hw->gpu.memory >= ((int64_t)70 << 30) && strcmp(hw->gpu.name, "a100-80gb") != 0;
    if (spec->max_num_seqs == 0) spec->max_num_seqs = big ? 1024 : 256;
    if (spec->max_num_batched_tokens == 0) spec->max_num_batched_tokens = big ? 8192 : 2048;
    if (spec->max_model_len == 0) spec->max_model_len = hw->has_model ? hw->model.max_position : 4096;
    if (spec->kv_bytes_per_token == 0) spec->kv_bytes_per_token = llm_hw_kv_bytes_per_token(hw);
    if (spec->kv_cache == 0)
        spec->kv_cache = llm_hw_kv_pool_bytes(hw, spec->gpu_memory_utilization, spec->max_num_batched_tokens,
                                              spec->max_num_seqs);

    sim_cfg_node_t *at = map ? map : NULL;
    if (spec->kv_bytes_per_token <= 0)
        sim_cfg_error(d, hwn ? hwn : at,
                      "this hardware gives no KV size per token: set 'kv_bytes_per_token' (e.g. 128KiB for "
                      "Meta-Llama-3-8B in bf16)");
    if (spec->kv_cache <= 0)
        sim_cfg_error(d, map && sim_cfg_get(map, "kv_cache") ? sim_cfg_get(map, "kv_cache") : (hwn ? hwn : at),
                      "no memory is left for the KV cache (weights and activations take the GPUs' "
                      "gpu_memory_utilization share): use more tensor parallelism, a larger GPU, or set "
                      "'kv_cache'");
    if (spec->block_size & (spec->block_size - 1))
        sim_cfg_error(d, sim_cfg_get(map, "block_size"),
                      "'block_size' must be a power of two (vLLM's choices: 8, 16, 32, 64, 128), got %lld",
                      (long long)spec->block_size);
    if (d->errors != errs) return SIM_ECONFIG;
    spec->kv_blocks = spec->kv_cache / (spec->block_size * spec->kv_bytes_per_token);
    /* vLLM refuses to start when one sequence of max_model_len cannot fit */
    if (spec->kv_blocks * spec->block_size < spec->max_model_len)
        sim_cfg_error(d, map && sim_cfg_get(map, "max_model_len") ? sim_cfg_get(map, "max_model_len") : (hwn ? hwn : at),
                      "the KV cache holds %lld tokens (%lld blocks of %lld), fewer than max_model_len = %lld: "
                      "vLLM would not start; lower max_model_len or give the KV cache more memory",
                      (long long)(spec->kv_blocks * spec->block_size), (long long)spec->kv_blocks,
                      (long long)spec->block_size, (long long)spec->max_model_len);
    if (spec->max_num_batched_tokens < spec->max_num_seqs)
        sim_cfg_error(d, map && sim_cfg_get(map, "max_num_batched_tokens") ? sim_cfg_get(map, "max_num_batched_tokens") : at,
                      "max_num_batched_tokens (%lld) is smaller than max_num_seqs (%lld): vLLM requires room "
                      "for one token of every running sequence in a step",
                      (long long)spec->max_num_batched_tokens, (long long)spec->max_num_seqs);
    int64_t slots = spec->autoscale.enabled && spec->autoscale.max_replicas > spec->replicas
                        ? spec->autoscale.max_replicas : spec->replicas;
    if (slots * spec->max_num_seqs > LLM_MAX_SLOTS)
        sim_cfg_error(d, map ? sim_cfg_get(map, "max_num_seqs") : NULL,
                      "replicas x max_num_seqs = %lld is more than %lld sequence slots",
                      (long long)(slots * spec->max_num_seqs), (long long)LLM_MAX_SLOTS);
    return d->errors == errs ? 0 : SIM_ECONFIG;
}

void llm_spec_fini(llm_spec_t *spec) { (void)spec; }   /* nothing owned */

/* ---- replicas -------------------------------------------------------------- */

void llm_finish_call(llm_t *llm, call_t *c, call_status_t s)
{
    llm->st.completed[s]++;
    if (!c->owner) llm->st.orphaned++;
    call_complete(llm->sim, c, s);
}

static void restart_event(sim_t *sim, void *obj, uint64_t arg)
{
    (void)arg;
    llm_replica_t *rp = obj;
    llm_t *llm = rp->llm;
    rp->restart_timer = (sim_timer_t){0, 0};
    rp->up = true;
    lb_set_up(&llm->lb, rp->idx, true);
    char detail[96];
    snprintf(detail, sizeof detail, "model loaded; restart %d", rp->backoff.crashes);
    sim_log_event(sim, "replica_restarted", rp->source, (double)rp->backoff.crashes, detail);
}

static void kill_one(llm_replica_t *rp)
{
    if (!rp->up) return;
    llm_t *llm = rp->llm;
    sim_t *sim = llm->sim;
    sim_time_t now = sim_now(sim);

    /* Detach everything first: owners told of the failure may resubmit at
     * once, and must find this replica down and empty. */
    uint64_t nfail = 0;
    llm_sched_sync(rp, now);   /* the steps done so far count */
    call_t *list = llm_sched_drain(rp, &nfail);
    for (call_t *c = list; c; c = c->link) lb_end(&llm->lb, rp->idx);
    rp->up = false;
    lb_set_up(&llm->lb, rp->idx, false);
    llm->st.kills++;

    sim_time_t delay = backoff_on_crash(&rp->backoff, &llm->spec.restart_backoff, now);
    sim_time_t back = delay + llm->spec.startup;
    /* the container starts again when the back-off ends; the model loads after */
    backoff_on_restart(&rp->backoff, now + delay);
    rp->restart_timer = sim_schedule_at(sim, now + back, restart_event, rp, 0);
    char detail[160], b1[32], b2[32];
    sim_format_duration(b1, sizeof b1, delay);
    sim_format_duration(b2, sizeof b2, back);
    snprintf(detail, sizeof detail, "%llu calls failed; restart after back-off %s, up in %s",
             (unsigned long long)nfail, b1, b2);
    sim_log_event(sim, "replica_killed", rp->source, (double)nfail, detail);

    while (list) {
        call_t *c = list;
        list = c->link;
        c->link = NULL;
        llm_finish_call(llm, c, CALL_ERROR);
    }
}

/* ---- autoscaling (models/components/replicas/hpa.h) -------------------------- */

static void scaled_ready_event(sim_t *sim, void *obj, uint64_t arg)
{
    (void)arg;
    llm_replica_t *rp = obj;
    rp->restart_timer = (sim_timer_t){0, 0};
    rp->up = true;
    lb_set_up(&rp->llm->lb, rp->idx, true);
    sim_log_event(sim, "replica_ready", rp->source, 0, "new replica: model loaded, ready");
}

/* The pool the HPA scales (hpa_pool_t). A slot is free once its replica
 * holds nothing (a replica scaled away finishes its sequences first). */
static int pool_state(void *ctx, int r)
{
    const llm_replica_t *rp = &((llm_t *)ctx)->rep[r];
    if (rp->active) return rp->up ? HPA_SLOT_READY : HPA_SLOT_STARTING;
    return rp->up || rp->nrunning || rp->nqueue || rp->npre ? HPA_SLOT_GONE : HPA_SLOT_EMPTY;
}

static void pool_start(void *ctx, int r)
{
    llm_t *llm = ctx;
    llm_replica_t *rp = &llm->rep[r];
    rp->active = true;
    backoff_init(&rp->backoff, &llm->spec.restart_backoff);
    rp->restart_timer = sim_schedule_in(llm->sim, llm->spec.startup, scaled_ready_event, rp, 0);
}

static void pool_stop(void *ctx, int r, bool ready)
{
    llm_t *llm = ctx;
    llm_replica_t *rp = &llm->rep[r];
    rp->active = false;
    if (!ready) {
        sim_cancel(llm->sim, &rp->restart_timer);
        return;
    }
    rp->up = false;
    lb_set_up(&llm->lb, r, false);
    char d2[96];
    snprintf(d2, sizeof d2, "scaled down: draining %lld sequences", (long long)(rp->nrunning + rp->nqueue));
    sim_log_event(llm->sim, "replica_removed", rp->source, (double)(rp->nrunning + rp->nqueue), d2);
}

/* One sync: the metric over the ready replicas, the decision, the scaling.
 * A new replica loads its weights (`startup`) before it is ready; one scaled
 * away leaves the load balancer and finishes the sequences it holds (its
 * slot is reused only once empty). */
static void llm_autoscale_sync(llm_t *llm)
{
    static const char *const what[] = {"CPU", "sequences in flight", "sequences waiting", "KV usage"};
    const hpa_spec_t *hs = &llm->spec.autoscale;
    llm_sync(llm);
    int64_t ready = 0;
    double sum = 0;
    for (int r = 0; r < llm->spec.replicas; r++) {
        llm_replica_t *rp = &llm->rep[r];
        if (!rp->active || !rp->up) continue;
        ready++;
        sum += hs->metric == HPA_KV      ? llm_kv_usage(llm, r)
               : hs->metric == HPA_QUEUE ? (double)rp->nqueue
                                         : (double)(rp->nqueue + rp->nrunning);
    }
    hpa_pool_t pool = {"llm", what, (int)llm->spec.replicas, pool_state, pool_start, pool_stop, llm};
    llm->want = hpa_pool_scale(&llm->hpa, &pool, llm->sim, llm->want, ready, sum);
}

static void sync_event(sim_t *sim, void *obj, uint64_t arg)
{
    (void)arg;
    llm_t *llm = obj;
    llm_autoscale_sync(llm);
    sim_schedule_in(sim, llm->spec.autoscale.sync, sync_event, llm, 0);
}

/* ---- component interface ------------------------------------------------- */

void llm_submit(llm_t *llm, call_t *c)
{
    llm->st.submitted++;
    c->link = NULL;
    c->where = 0;
    int r = lb_pick(&llm->lb);
    if (r < 0) {
        llm_finish_call(llm, c, CALL_UNAVAILABLE);
        return;
    }
    /* vLLM answers 400 to a prompt that leaves no room for one output token */
    if (c->tokens_in >= llm->spec.max_model_len) {
        llm_finish_call(llm, c, CALL_ERROR);
        return;
    }
    llm_replica_t *rp = &llm->rep[r];
    if (rp->nqueue >= llm->spec.queue_limit) {
        llm_finish_call(llm, c, CALL_REJECTED);
        return;
    }
    c->replica = r;
    lb_begin(&llm->lb, r);
    llm_sched_submit(rp, c);
}

void llm_cancel(llm_t *llm, call_t *c)
{
    assert(!c->owner && "llm_cancel: the caller must detach the call first");
    if (!c->where) return;   /* already leaving (finished or failed in this instant) */
    llm_replica_t *rp = &llm->rep[c->replica];
    llm_sched_remove(rp, c);
    lb_end(&llm->lb, rp->idx);
    llm->st.completed[CALL_TIMEOUT]++;
    llm->st.cancelled++;
    call_complete(llm->sim, c, CALL_TIMEOUT);
}

void llm_set_speed(llm_t *llm, double factor)
{
    if (!(factor > 1e-6)) factor = 1e-6;
    /* steps that start from now on: planned ones are cut */
    for (int r = 0; r < llm->spec.replicas; r++) llm_sched_cut(&llm->rep[r], sim_now(llm->sim));
    llm->speed = factor;
}

void llm_sync(llm_t *llm)
{
    for (int r = 0; r < llm->spec.replicas; r++) llm_sched_sync(&llm->rep[r], sim_now(llm->sim));
}

void llm_set_error_ratio(llm_t *llm, double ratio)
{
    llm->error_ratio = ratio > 0 ? (ratio < 1 ? ratio : 1) : 0;
}

void llm_kill(llm_t *llm, int replica)
{
    if (replica >= llm->spec.replicas) return;
    if (replica >= 0) {
        kill_one(&llm->rep[replica]);
        return;
    }
    for (int r = 0; r < llm->spec.replicas; r++) kill_one(&llm->rep[r]);
}

int llm_replicas_up(const llm_t *llm) { return llm->lb.nup; }

static void ops_submit(void *comp, call_t *c) { llm_submit(comp, c); }
static void ops_set_speed(void *comp, double f) { llm_set_speed(comp, f); }
static void ops_set_error_ratio(void *comp, double r) { llm_set_error_ratio(comp, r); }
static void ops_kill(void *comp, int r) { llm_kill(comp, r); }
static int ops_replicas_up(const void *comp) { return llm_replicas_up(comp); }
static void ops_cancel(void *comp, call_t *c) { llm_cancel(comp, c); }

const comp_ops_t llm_ops = {
    .kind = "llm",
    .submit = ops_submit,
    .set_speed = ops_set_speed,
    .set_error_ratio = ops_set_error_ratio,
    .kill = ops_kill,
    .replicas_up = ops_replicas_up,
    .cancel = ops_cancel,
};

/* ---- state and statistics ------------------------------------------------ */

int64_t llm_running(const llm_t *llm, int r)
{
    if (r >= 0) return llm->rep[r].nrunning;
    int64_t s = 0;
    for (int i = 0; i < llm->spec.replicas; i++) s += llm->rep[i].nrunning;
    return s;
}

int64_t llm_decoding(const llm_t *llm, int r)
{
    if (r >= 0) return llm->rep[r].ndec;
    int64_t s = 0;
    for (int i = 0; i < llm->spec.replicas; i++) s += llm->rep[i].ndec;
    return s;
}

int64_t llm_waiting(const llm_t *llm, int r)
{
    if (r >= 0) return llm->rep[r].nqueue;
    int64_t s = 0;
    for (int i = 0; i < llm->spec.replicas; i++) s += llm->rep[i].nqueue;
    return s;
}

double llm_kv_usage(const llm_t *llm, int r)
{
    double k = 1.0 / (double)llm->spec.kv_blocks;
    if (r >= 0) return (double)llm_sched_blocks_in_use(&llm->rep[r]) * k;
    int64_t m = 0;
    for (int i = 0; i < llm->spec.replicas; i++) {
        int64_t u = llm_sched_blocks_in_use(&llm->rep[i]);
        if (u > m) m = u;
    }
    return (double)m * k;
}

bool llm_replica_up(const llm_t *llm, int r) { return llm->rep[r].up; }

double llm_mean_batch(const llm_t *llm)
{
    return llm->st.steps ? (double)llm->st.step_decodes / (double)llm->st.steps : NAN;
}

uint64_t llm_bytes(const llm_t *llm)
{
    uint64_t b = sizeof *llm + (uint64_t)llm->spec.replicas * sizeof *llm->rep;
    for (int i = 0; i < llm->spec.replicas; i++) b += llm_sched_bytes(&llm->rep[i]);
    return b + (uint64_t)(llm->hw.max_tokens + 1) * sizeof *llm->hw.linear;
}

enum { COL_RUNNING, COL_WAITING, COL_KV, COL_PREEMPT, COL_PROMPT, COL_GEN, COL_HIT, COL_STEP, COL_TTFT, COL_UP, NCOLS };

static void sampler(sim_t *sim, void *ctx, sim_time_t dt)
{
    llm_t *llm = ctx;
    llm_sync(llm);
    double secs = sim_time_to_s(dt);
    sim_series_set(sim, llm->col[COL_RUNNING], (double)llm_running(llm, -1));
    sim_series_set(sim, llm->col[COL_WAITING], (double)llm_waiting(llm, -1));
    sim_series_set(sim, llm->col[COL_KV], llm_kv_usage(llm, -1));
    sim_series_set(sim, llm->col[COL_PREEMPT], (double)llm->st.preemptions);
    sim_series_set(sim, llm->col[COL_PROMPT], secs > 0 ? (double)llm->win_prompt / secs : NAN);
    sim_series_set(sim, llm->col[COL_GEN], secs > 0 ? (double)llm->win_gen / secs : NAN);
    sim_series_set(sim, llm->col[COL_HIT], llm->win_queries ? (double)llm->win_hits / (double)llm->win_queries : NAN);
    sim_series_set(sim, llm->col[COL_STEP], llm->win_steps ? llm->win_step_seconds / (double)llm->win_steps : NAN);
    sim_series_set(sim, llm->col[COL_TTFT], sim_hist_quantile(&llm->win_ttft, 0.95) * 1e-9);
    sim_series_set(sim, llm->col[COL_UP], (double)llm->lb.nup);
    if (llm->col_desired >= 0) sim_series_set(sim, llm->col_desired, (double)llm->want);
    llm->win_prompt = llm->win_gen = llm->win_queries = llm->win_hits = llm->win_steps = 0;
    llm->win_step_seconds = 0;
    sim_hist_reset(&llm->win_ttft);
}

static void warmup(sim_t *sim, void *ctx)
{
    llm_t *llm = ctx;
    llm_sync(llm);
    memset(&llm->st, 0, sizeof llm->st);
    llm->t_warm = sim_now(sim);
    sim_hist_reset(&llm->ttft);
    sim_hist_reset(&llm->tpot);
    sim_hist_reset(&llm->itl);
    sim_hist_reset(&llm->e2e);
}

llm_t *llm_create(sim_t *sim, const llm_spec_t *spec)
{
    llm_t *llm = calloc(1, sizeof *llm);
    if (!llm) return NULL;
    llm->sim = sim;
    llm->spec = *spec;
    llm->speed = 1.0;
    llm->t_warm = sim_now(sim);
    int n = (int)(spec->autoscale.enabled && spec->autoscale.max_replicas > spec->replicas
                      ? spec->autoscale.max_replicas : spec->replicas);
    llm->spec.replicas = n;   /* the slots: every loop over replicas covers them */
    llm->want = spec->replicas;
    llm->col_desired = -1;
    if (llm_steptime_init(&llm->hw, &spec->hw, spec->max_num_batched_tokens) != 0) goto fail;
    sim_hist_t *hists[] = {&llm->ttft, &llm->tpot, &llm->itl, &llm->e2e, &llm->win_ttft};
    for (size_t i = 0; i < sizeof hists / sizeof *hists; i++)
        if (sim_hist_init(hists[i]) != 0) goto fail;
    /* aligned to a cache line, as the struct's hot part expects */
    llm->rep = aligned_alloc(_Alignof(llm_replica_t), (size_t)n * sizeof *llm->rep);
    if (!llm->rep) goto fail;
    memset(llm->rep, 0, (size_t)n * sizeof *llm->rep);
    for (int r = 0; r < n; r++) {
        llm_replica_t *rp = &llm->rep[r];
        rp->llm = llm;
        rp->idx = r;
        rp->up = rp->active = r < spec->replicas;
        if (llm_sched_init(rp) != 0) goto fail;
        backoff_init(&rp->backoff, &spec->restart_backoff);
        snprintf(rp->source, sizeof rp->source, "llm/%d", r);
    }
    if (lb_init(&llm->lb, sim, spec->load_balancer, n, "lb/llm")) goto fail;
    for (int r = (int)spec->replicas; r < n; r++) lb_set_up(&llm->lb, r, false);
    if (spec->autoscale.enabled) {
        hpa_init(&llm->hpa, &llm->spec.autoscale);
        llm->col_desired = sim_series_add(sim, "llm_replicas_desired", "1", "replicas the autoscaler wants (ready or loading)");
        if (llm->col_desired < 0) goto fail;
        sim_schedule_in(sim, spec->autoscale.sync, sync_event, llm, 0);
    }
    llm->err_rng = sim_stream(sim, "llm/errors");
    if (!llm->err_rng) goto fail;

    /* names after vLLM's Prometheus metrics (vllm:num_requests_running ...) */
    static const struct { const char *name, *unit, *help; } cols[NCOLS] = {
        {"llm_num_requests_running", "1", "sequences running (prefill or decode), all replicas, at the sample time"},
        {"llm_num_requests_waiting", "1", "sequences waiting (queued or preempted), all replicas, at the sample time"},
        {"llm_kv_cache_usage_ratio", "1", "KV blocks in use / KV pool, the fullest replica, at the sample time"},
        {"llm_num_preemptions_total", "1", "sequences preempted since the warm-up"},
        {"llm_prompt_tokens_per_second", "1/s", "prefill tokens computed in the interval / interval"},
        {"llm_generation_tokens_per_second", "1/s", "output tokens generated in the interval / interval"},
        {"llm_prefix_cache_hit_ratio", "1", "prompt tokens found in the prefix cache / prompt tokens admitted, in the interval"},
        {"llm_step_time_mean_seconds", "s", "mean duration of the steps that ended in the interval"},
        {"llm_time_to_first_token_p95_seconds", "s", "95th percentile time to first token of the first tokens in the interval"},
        {"llm_replicas_up", "1", "replicas serving at the sample time"},
    };
    for (int i = 0; i < NCOLS; i++)
        if ((llm->col[i] = sim_series_add(sim, cols[i].name, cols[i].unit, cols[i].help)) < 0) goto fail;
    if (sim_add_sampler(sim, sampler, llm) || sim_add_warmup_hook(sim, warmup, llm)) goto fail;
    return llm;
fail:
    llm_destroy(llm);
    return NULL;
}

void llm_destroy(llm_t *llm)
{
    if (!llm) return;
    if (llm->rep)
        for (int r = 0; r < llm->spec.replicas; r++) llm_sched_fini(&llm->rep[r]);
    free(llm->rep);
    lb_fini(&llm->lb);
    sim_hist_t *hists[] = {&llm->ttft, &llm->tpot, &llm->itl, &llm->e2e, &llm->win_ttft};
    for (size_t i = 0; i < sizeof hists / sizeof *hists; i++) sim_hist_fini(hists[i]);
    llm_steptime_fini(&llm->hw);
    free(llm);
}

/* ---- report ---------------------------------------------------------------------- */

void llm_report(const llm_t *llm, rs_report_t *rep)
{
    const struct { const char *row; const sim_hist_t *h; } lat[] = {
        {"time to first token", &llm->ttft},
        {"time per output token", &llm->tpot},
        {"inter-token latency", &llm->itl},
        {"end-to-end", &llm->e2e},
    };
    for (size_t i = 0; i < sizeof lat / sizeof *lat; i++) {
        rs_report_add(rep, "llm", lat[i].row, "p50", RS_SECONDS, sim_hist_quantile(lat[i].h, 0.50) * 1e-9);
        rs_report_add(rep, "llm", lat[i].row, "p95", RS_SECONDS, sim_hist_quantile(lat[i].h, 0.95) * 1e-9);
        rs_report_add(rep, "llm", lat[i].row, "p99", RS_SECONDS, sim_hist_quantile(lat[i].h, 0.99) * 1e-9);
    }
    const llm_stats_t *st = &llm->st;
    double span = sim_time_to_s(sim_now(llm->sim) - llm->t_warm);
    rs_report_add(rep, "llm", "tokens", "prompt tokens/s", RS_RATE, span > 0 ? (double)st->prompt_tokens / span : NAN);
    rs_report_add(rep, "llm", "tokens", "generation tokens/s", RS_RATE,
                  span > 0 ? (double)st->generation_tokens / span : NAN);
    rs_report_add(rep, "llm", "tokens", "prefix-cache hit ratio", RS_RATIO,
                  st->prefix_queries ? (double)st->prefix_hits / (double)st->prefix_queries : NAN);
    rs_report_add(rep, "llm", "steps", "steps", RS_COUNT, (double)st->steps);
    rs_report_add(rep, "llm", "steps", "mean step", RS_SECONDS, st->steps ? st->step_seconds / (double)st->steps : NAN);
    rs_report_add(rep, "llm", "steps", "decodes per step", RS_NUMBER, llm_mean_batch(llm));
    rs_report_add(rep, "llm", "steps", "prefill share", RS_RATIO,
                  st->prompt_tokens + st->step_decodes
                      ? (double)st->prompt_tokens / (double)(st->prompt_tokens + st->step_decodes)
                      : NAN);
    rs_report_add(rep, "llm", "steps", "preemptions", RS_COUNT, (double)st->preemptions);
    rs_report_add(rep, "summary", "", "llm_ttft_p95_s", RS_SECONDS, sim_hist_quantile(&llm->ttft, 0.95) * 1e-9);
    rs_report_add(rep, "summary", "", "llm_tpot_p95_s", RS_SECONDS, sim_hist_quantile(&llm->tpot, 0.95) * 1e-9);
}
