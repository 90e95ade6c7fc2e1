#include "models/components/llm/llm.h"

#include <assert.h>
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sim/error.h"
#include "sim/units.h"

/* Largest replicas x max_num_seqs accepted: the heaps take 16 bytes per
 * slot, so this bounds them to 256 MiB. */
#define LLM_MAX_SLOTS ((int64_t)1 << 24)
/* Durations computed from the model saturate here, so now + d cannot overflow. */
#define LLM_TIME_SAT (SIM_TIME_MAX / 4)
/* Slack below which a computed completion time counts as an integer number of
 * ns (floating noise must not push an exact answer 1 ns late). */
#define LLM_NS_SLACK 1e-3

struct llm_replica {
    llm_t *llm;
    int idx;
    bool up;
    int64_t active;             /* admitted: prefill + decode (<= max_num_seqs) */
    int64_t kv_used;            /* KV reserved, in tokens */
    call_t *qhead, *qtail;      /* waiting, FIFO through c->link */
    int64_t nqueue;
    call_t **pre;               /* prefill heap by (c->t0 end time, c->u0 order) */
    size_t npre;
    call_t **dec;               /* decode heap by (c->v0 target, c->u0 order) */
    size_t ndec;
    double V;                   /* virtual clock: tokens decoded per sequence since the origin */
    sim_time_t tV;              /* when V was last brought up to date */
    sim_timer_t pre_timer, dec_timer, restart_timer;
    backoff_t backoff;
    char source[24];            /* "llm/<r>" */
};

/* ---- spec ---------------------------------------------------------------- */

void llm_spec_default(llm_spec_t *spec)
{
    memset(spec, 0, sizeof *spec);
    spec->replicas = 1;
    spec->max_num_seqs = 256;
    spec->prefill_base = 20 * SIM_MS;
    spec->prefill_per_token = 50 * SIM_US;
    spec->tpot = 10 * SIM_MS;
    spec->tpot_batch_knee = 64;
    spec->kv_cache = (int64_t)40 << 30;
    spec->kv_bytes_per_token = (int64_t)512 << 10;
    spec->queue_limit = INT64_MAX;
    spec->startup = 60 * SIM_SEC;
    spec->load_balancer = LB_LEAST_OUTSTANDING;
    spec->restart_backoff = BACKOFF_DEFAULTS;
}

int llm_spec_parse(sim_diag_t *d, sim_cfg_node_t *map, llm_spec_t *spec)
{
    llm_spec_default(spec);
    if (!map) return 0;
    if (!sim_cfg_is_null(map) && !sim_cfg_expect_map(d, map, "llm")) return SIM_ECONFIG;
    int errs = d->errors;
    sim_cfg_int(d, map, "replicas", 0, 1, LB_MAX_REPLICAS, spec->replicas, &spec->replicas);
    sim_cfg_int(d, map, "max_num_seqs", 0, 1, LLM_MAX_NUM_SEQS, spec->max_num_seqs, &spec->max_num_seqs);
    sim_cfg_duration(d, map, "prefill_base", 0, spec->prefill_base, &spec->prefill_base);
    sim_cfg_duration(d, map, "prefill_per_token", 0, spec->prefill_per_token, &spec->prefill_per_token);
    sim_cfg_duration(d, map, "tpot", SIM_CFG_POSITIVE, spec->tpot, &spec->tpot);
    sim_cfg_int(d, map, "tpot_batch_knee", 0, 1, LLM_MAX_NUM_SEQS, spec->tpot_batch_knee,
                &spec->tpot_batch_knee);
    sim_cfg_size(d, map, "kv_cache", SIM_CFG_POSITIVE | SIM_CFG_UNBOUNDED, spec->kv_cache, &spec->kv_cache);
    sim_cfg_size(d, map, "kv_bytes_per_token", SIM_CFG_POSITIVE, spec->kv_bytes_per_token,
                 &spec->kv_bytes_per_token);
    sim_cfg_int(d, map, "queue_limit", SIM_CFG_UNBOUNDED, 0, INT64_MAX, spec->queue_limit, &spec->queue_limit);
    sim_cfg_duration(d, map, "startup", 0, spec->startup, &spec->startup);
    int lbp = spec->load_balancer;
    sim_cfg_enum(d, map, "load_balancer", 0, lb_policy_names, lbp, &lbp);
    spec->load_balancer = (lb_policy_t)lbp;
    backoff_spec_parse(d, sim_cfg_get(map, "restart_backoff"), &spec->restart_backoff);
    if (d->errors != errs) return SIM_ECONFIG;

    if (spec->kv_cache < spec->kv_bytes_per_token)
        sim_cfg_error(d, sim_cfg_get(map, "kv_cache"),
                      "'kv_cache' (%lld bytes) is smaller than one token's KV (kv_bytes_per_token, "
                      "%lld bytes): no sequence could ever run",
                      (long long)spec->kv_cache, (long long)spec->kv_bytes_per_token);
    if (spec->replicas * spec->max_num_seqs > LLM_MAX_SLOTS)
        sim_cfg_error(d, sim_cfg_get(map, "max_num_seqs"),
                      "replicas x max_num_seqs = %lld is more than %lld sequence slots",
                      (long long)(spec->replicas * spec->max_num_seqs), (long long)LLM_MAX_SLOTS);
    return d->errors == errs ? 0 : SIM_ECONFIG;
}

void llm_spec_fini(llm_spec_t *spec) { (void)spec; }   /* nothing owned (yet) */

/* ---- latencies ----------------------------------------------------------- */

/* ns per output token at batch b, nominal speed: tpot x max(1, b / knee). */
static inline double tpot_ns(const llm_spec_t *spec, int64_t b)
{
    if (b <= spec->tpot_batch_knee) return (double)spec->tpot;
    return (double)spec->tpot * (double)b / (double)spec->tpot_batch_knee;
}

/* Prefill ns at nominal speed, saturated. */
static sim_time_t ttft_ns(const llm_spec_t *spec, int64_t prompt)
{
    if (prompt < 0) prompt = 0;
    if (spec->prefill_per_token > 0 && prompt > (LLM_TIME_SAT - spec->prefill_base) / spec->prefill_per_token)
        return LLM_TIME_SAT;
    return spec->prefill_base + spec->prefill_per_token * prompt;
}

double llm_tpot(const llm_spec_t *spec, int batch) { return tpot_ns(spec, batch) / 1e9; }

double llm_ttft(const llm_spec_t *spec, int64_t prompt_tokens)
{
    return sim_time_to_s(ttft_ns(spec, prompt_tokens));
}

/* ceil(x) ns for a non-negative double, with LLM_NS_SLACK and saturation. */
static inline sim_time_t ns_ceil(double x)
{
    if (!(x > LLM_NS_SLACK)) return 0;
    if (x >= (double)LLM_TIME_SAT) return LLM_TIME_SAT;
    return (sim_time_t)ceil(x - LLM_NS_SLACK);
}

/* Where a call is (c->where), so that cancel finds it: 0 = nowhere (being
 * completed), else waiting (queue, back link c->prev) or in the prefill or
 * decode heap at index c->hidx. */
enum { LLM_WAITING = 1, LLM_PREFILL, LLM_DECODE };

/* ---- heaps of calls (binary, keys in the call, index back in c->hidx) ----- */

static inline bool heap_less(const call_t *a, const call_t *b, bool by_v)
{
    if (by_v) {
        if (a->v0 != b->v0) return a->v0 < b->v0;
    } else if (a->t0 != b->t0) {
        return a->t0 < b->t0;
    }
    return a->u0 < b->u0;
}

static inline void heap_set(call_t **h, size_t i, call_t *c)
{
    h[i] = c;
    c->hidx = (int64_t)i;
}

/* Put c in the hole at i, moving it up past larger parents. */
static void sift_up(call_t **h, size_t i, call_t *c, bool by_v)
{
    while (i > 0) {
        size_t p = (i - 1) / 2;
        if (!heap_less(c, h[p], by_v)) break;
        heap_set(h, i, h[p]);
        i = p;
    }
    heap_set(h, i, c);
}

/* Put c in the hole at i of a heap of m, moving it down past smaller children. */
static void sift_down(call_t **h, size_t m, size_t i, call_t *c, bool by_v)
{
    for (;;) {
        size_t l = 2 * i + 1;
        if (l >= m) break;
        size_t s = (l + 1 < m && heap_less(h[l + 1], h[l], by_v)) ? l + 1 : l;
        if (!heap_less(h[s], c, by_v)) break;
        heap_set(h, i, h[s]);
        i = s;
    }
    heap_set(h, i, c);
}

static void heap_push(call_t **h, size_t *n, call_t *c, bool by_v)
{
    sift_up(h, (*n)++, c, by_v);
}

static call_t *heap_pop(call_t **h, size_t *n, bool by_v)
{
    call_t *top = h[0];
    call_t *last = h[--*n];
    if (*n > 0) sift_down(h, *n, 0, last, by_v);
    return top;
}

/* Remove the call at index i (a cancelled sequence): O(log n). */
static void heap_remove(call_t **h, size_t *n, size_t i, bool by_v)
{
    call_t *last = h[--*n];
    if (i == *n) return;
    if (i > 0 && heap_less(last, h[(i - 1) / 2], by_v)) sift_up(h, i, last, by_v);
    else sift_down(h, *n, i, last, by_v);
}

/* ---- replica mechanics --------------------------------------------------- */

static void pre_event(sim_t *sim, void *obj, uint64_t arg);
static void dec_event(sim_t *sim, void *obj, uint64_t arg);
static void restart_event(sim_t *sim, void *obj, uint64_t arg);

/* KV tokens a call reserves, or -1 if it exceeds the whole cache. */
static inline int64_t kv_need(const llm_t *llm, const call_t *c)
{
    int64_t in = c->tokens_in > 0 ? c->tokens_in : 0;
    int64_t out = c->tokens_out > 0 ? c->tokens_out : 0;
    int64_t cap = llm->kv_cap_tokens;
    if (in > cap || out > cap - in) return -1;
    return in + out;
}

/* Decode for `el` ns at the current batch: V and the integrals. */
static void progress(llm_replica_t *rp, double el)
{
    if (!(el > 0) || rp->ndec == 0) return;
    llm_t *llm = rp->llm;
    double b = (double)rp->ndec;
    double dv = el * llm->speed / tpot_ns(&llm->spec, (int64_t)rp->ndec);
    rp->V += dv;
    llm->st.decoded_tokens += b * dv;
    llm->win_tokens += b * dv;
    llm->st.batch_area += b * el;
    llm->st.decode_busy += el;
}

/* Bring V and the decode integrals up to `now`. Does not change any rate, so
 * the pending completion event stays valid. */
static void advance(llm_replica_t *rp, sim_time_t now)
{
    progress(rp, (double)(now - rp->tV));
    rp->tV = now;
}

/* The one decode completion event: when V reaches the smallest target. */
static void dec_reschedule(llm_replica_t *rp)
{
    llm_t *llm = rp->llm;
    sim_cancel(llm->sim, &rp->dec_timer);
    if (rp->ndec == 0) return;
    double rem = rp->dec[0]->v0 - rp->V;
    double dt = rem * tpot_ns(&llm->spec, (int64_t)rp->ndec) / llm->speed;
    rp->dec_timer = sim_schedule_at(llm->sim, sim_now(llm->sim) + ns_ceil(dt), dec_event, rp, 0);
}

static void pre_reschedule(llm_replica_t *rp)
{
    llm_t *llm = rp->llm;
    sim_cancel(llm->sim, &rp->pre_timer);
    if (rp->npre == 0) return;
    rp->pre_timer = sim_schedule_at(llm->sim, rp->pre[0]->t0, pre_event, rp, 0);
}

static void start_prefill(llm_replica_t *rp, call_t *c, int64_t need, sim_time_t now)
{
    llm_t *llm = rp->llm;
    rp->active++;
    rp->kv_used += need;
    sim_time_t d = ttft_ns(&llm->spec, c->tokens_in);
    if (llm->speed != 1.0) d = ns_ceil((double)d / llm->speed);
    c->t0 = now + d;
    c->u0 = llm->next_order++;
    c->where = LLM_PREFILL;
    heap_push(rp->pre, &rp->npre, c, false);
}

/* Admit waiting sequences in FIFO order while a slot and their KV fit; the
 * head blocks the rest. */
static void admit_waiting(llm_replica_t *rp, sim_time_t now)
{
    llm_t *llm = rp->llm;
    call_t *old_head = rp->npre ? rp->pre[0] : NULL;
    while (rp->qhead && rp->active < llm->spec.max_num_seqs) {
        call_t *c = rp->qhead;
        int64_t need = kv_need(llm, c);   /* >= 0: checked at submit */
        if (need > llm->kv_cap_tokens - rp->kv_used) break;
        rp->qhead = c->link;
        if (rp->qhead) rp->qhead->prev = NULL; else rp->qtail = NULL;
        c->link = NULL;
        rp->nqueue--;
        start_prefill(rp, c, need, now);
    }
    if (rp->npre && rp->pre[0] != old_head) pre_reschedule(rp);
}

/* Tell the owner and count. */
static void finish(llm_t *llm, call_t *c, call_status_t s)
{
    llm->st.completed[s]++;
    if (!c->owner) llm->st.orphaned++;
    call_complete(llm->sim, c, s);
}

static void pre_event(sim_t *sim, void *obj, uint64_t arg)
{
    (void)arg;
    llm_replica_t *rp = obj;
    sim_time_t now = sim_now(sim);
    rp->pre_timer = (sim_timer_t){0, 0};
    advance(rp, now);
    while (rp->npre && rp->pre[0]->t0 <= now) {
        call_t *c = heap_pop(rp->pre, &rp->npre, false);
        c->v0 = rp->V + (double)(c->tokens_out > 0 ? c->tokens_out : 0);
        c->where = LLM_DECODE;
        heap_push(rp->dec, &rp->ndec, c, true);
    }
    pre_reschedule(rp);
    dec_reschedule(rp);
}

static void dec_event(sim_t *sim, void *obj, uint64_t arg)
{
    (void)arg;
    llm_replica_t *rp = obj;
    llm_t *llm = rp->llm;
    sim_time_t now = sim_now(sim);
    rp->dec_timer = (sim_timer_t){0, 0};
    if (rp->ndec == 0) return;

    /* Events fall on whole ns, completions between them: replay (last
     * update, now] finishing each sequence at its real time t* <= now and
     * decoding the rest at the smaller batch. Keeping a finished sequence in
     * the batch until `now` would lag the others by up to
     * 1 ns x (1 - TPOT(b-1)/TPOT(b)) tokens per completion, which a later
     * large batch turns into many ns. The head this event was scheduled for
     * is done even if floating error (or LLM_NS_SLACK) leaves it a hair
     * short; so is every sequence due within the slack of now (equal
     * targets finish together). */
    double el = (double)(now - rp->tV);   /* ns not yet decoded */
    rp->tV = now;
    call_t *done = NULL, *tail = NULL;
    while (rp->ndec) {
        call_t *h = rp->dec[0];
        double h_el = (h->v0 - rp->V) * tpot_ns(&llm->spec, (int64_t)rp->ndec) / llm->speed;
        if (done && h_el > el + LLM_NS_SLACK) break;
        if (h_el > el) h_el = el;
        if (h_el > 0) {
            progress(rp, h_el);
            el -= h_el;
        }
        if (rp->V < h->v0) rp->V = h->v0;
        heap_pop(rp->dec, &rp->ndec, true);
        h->where = 0;
        h->link = NULL;
        if (tail) tail->link = h; else done = h;
        tail = h;
    }
    progress(rp, el);                     /* the rest at the final batch */
    for (call_t *c = done; c; c = c->link) {
        rp->active--;
        rp->kv_used -= kv_need(llm, c);
        lb_end(&llm->lb, rp->idx);
        llm->st.output_tokens += (uint64_t)(c->tokens_out > 0 ? c->tokens_out : 0);
    }
    if (rp->ndec == 0) rp->V = 0;   /* rebase: keeps V small, targets are relative to it */
    admit_waiting(rp, now);
    dec_reschedule(rp);

    /* State is consistent: owners may now resubmit synchronously. */
    while (done) {
        call_t *c = done;
        done = c->link;
        c->link = NULL;
        call_status_t s = CALL_OK;
        if (llm->error_ratio > 0 && sim_rng_uniform(llm->err_rng) < llm->error_ratio) s = CALL_ERROR;
        finish(llm, c, s);
    }
}

static void restart_event(sim_t *sim, void *obj, uint64_t arg)
{
    (void)arg;
    llm_replica_t *rp = obj;
    llm_t *llm = rp->llm;
    sim_time_t now = sim_now(sim);
    rp->restart_timer = (sim_timer_t){0, 0};
    rp->up = true;
    rp->tV = now;
    rp->V = 0;
    lb_set_up(&llm->lb, rp->idx, true);
    backoff_on_restart(&rp->backoff, now);
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
    advance(rp, now);

    /* Detach everything first: owners told of the failure may resubmit at
     * once, and must find this replica down and empty. */
    call_t *list = rp->qhead, *tail = rp->qtail;
    for (int h = 0; h < 2; h++) {
        call_t **heap = h ? rp->dec : rp->pre;
        size_t n = h ? rp->ndec : rp->npre;
        for (size_t i = 0; i < n; i++) {
            call_t *c = heap[i];
            c->link = NULL;
            if (tail) tail->link = c; else list = c;
            tail = c;
        }
    }
    uint64_t nfail = 0;
    for (call_t *c = list; c; c = c->link) {
        c->where = 0;
        lb_end(&llm->lb, rp->idx);
        nfail++;
    }
    rp->qhead = rp->qtail = NULL;
    rp->nqueue = rp->active = rp->kv_used = 0;
    rp->npre = rp->ndec = 0;
    rp->V = 0;
    sim_cancel(sim, &rp->pre_timer);
    sim_cancel(sim, &rp->dec_timer);
    rp->up = false;
    lb_set_up(&llm->lb, rp->idx, false);
    llm->st.kills++;

    sim_time_t delay = backoff_on_crash(&rp->backoff, &llm->spec.restart_backoff, now);
    sim_time_t back = delay + llm->spec.startup;
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
        finish(llm, c, CALL_ERROR);
    }
}

/* ---- component interface ------------------------------------------------- */

void llm_submit(llm_t *llm, call_t *c)
{
    sim_time_t now = sim_now(llm->sim);
    llm->st.submitted++;
    c->link = NULL;
    int r = lb_pick(&llm->lb);
    if (r < 0) {
        finish(llm, c, CALL_UNAVAILABLE);
        return;
    }
    int64_t need = kv_need(llm, c);
    if (need < 0) {             /* can never fit, even in an empty cache */
        finish(llm, c, CALL_ERROR);
        return;
    }
    llm_replica_t *rp = &llm->rep[r];
    c->replica = r;
    if (!rp->qhead && rp->active < llm->spec.max_num_seqs && need <= llm->kv_cap_tokens - rp->kv_used) {
        lb_begin(&llm->lb, r);
        start_prefill(rp, c, need, now);
        if (rp->pre[0] == c) pre_reschedule(rp);
        return;
    }
    if (rp->nqueue >= llm->spec.queue_limit) {
        finish(llm, c, CALL_REJECTED);
        return;
    }
    lb_begin(&llm->lb, r);
    c->prev = rp->qtail;
    c->where = LLM_WAITING;
    if (rp->qtail) rp->qtail->link = c; else rp->qhead = c;
    rp->qtail = c;
    rp->nqueue++;
}

void llm_cancel(llm_t *llm, call_t *c)
{
    assert(!c->owner && "llm_cancel: the caller must detach the call first");
    int where = c->where;
    if (!where) return;   /* already leaving (finished or failed in this instant) */
    llm_replica_t *rp = &llm->rep[c->replica];
    sim_time_t now = sim_now(llm->sim);
    c->where = 0;
    if (where == LLM_WAITING) {
        if (c->prev) c->prev->link = c->link; else rp->qhead = c->link;
        if (c->link) c->link->prev = c->prev; else rp->qtail = c->prev;
        c->link = c->prev = NULL;
        rp->nqueue--;
        admit_waiting(rp, now);   /* the head may have blocked the rest on KV */
    } else {
        /* vLLM's abort: the sequence leaves the batch and frees its slot and
         * KV at once. */
        size_t i = (size_t)c->hidx;
        if (where == LLM_PREFILL) {
            heap_remove(rp->pre, &rp->npre, i, false);
            if (i == 0) pre_reschedule(rp);
        } else {
            advance(rp, now);   /* decode so far at the old batch size */
            heap_remove(rp->dec, &rp->ndec, i, true);
            if (rp->ndec == 0) rp->V = 0;
        }
        rp->active--;
        rp->kv_used -= kv_need(llm, c);
        admit_waiting(rp, now);
        if (where == LLM_DECODE) dec_reschedule(rp);   /* the others speed up */
    }
    lb_end(&llm->lb, rp->idx);
    llm->st.completed[CALL_TIMEOUT]++;
    llm->st.cancelled++;
    call_complete(llm->sim, c, CALL_TIMEOUT);
}

void llm_set_speed(llm_t *llm, double factor)
{
    if (!(factor > 1e-6)) factor = 1e-6;
    sim_time_t now = sim_now(llm->sim);
    for (int r = 0; r < llm->spec.replicas; r++) advance(&llm->rep[r], now);
    llm->speed = factor;
    for (int r = 0; r < llm->spec.replicas; r++) dec_reschedule(&llm->rep[r]);
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

int64_t llm_active(const llm_t *llm, int r)
{
    if (r >= 0) return llm->rep[r].active;
    int64_t s = 0;
    for (int i = 0; i < llm->spec.replicas; i++) s += llm->rep[i].active;
    return s;
}

int64_t llm_decoding(const llm_t *llm, int r)
{
    if (r >= 0) return (int64_t)llm->rep[r].ndec;
    int64_t s = 0;
    for (int i = 0; i < llm->spec.replicas; i++) s += (int64_t)llm->rep[i].ndec;
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
    double k = (double)llm->spec.kv_bytes_per_token / (double)llm->spec.kv_cache;
    if (r >= 0) return (double)llm->rep[r].kv_used * k;
    int64_t m = 0;
    for (int i = 0; i < llm->spec.replicas; i++)
        if (llm->rep[i].kv_used > m) m = llm->rep[i].kv_used;
    return (double)m * k;
}

bool llm_replica_up(const llm_t *llm, int r) { return llm->rep[r].up; }

static void advance_all(llm_t *llm)
{
    sim_time_t now = sim_now(llm->sim);
    for (int r = 0; r < llm->spec.replicas; r++) advance(&llm->rep[r], now);
}

double llm_mean_batch(llm_t *llm)
{
    advance_all(llm);
    return llm->st.decode_busy > 0 ? llm->st.batch_area / llm->st.decode_busy : NAN;
}

enum { COL_ACTIVE, COL_QUEUE, COL_KV, COL_TPS, COL_UP };

static void sampler(sim_t *sim, void *ctx, sim_time_t dt)
{
    llm_t *llm = ctx;
    advance_all(llm);
    double secs = sim_time_to_s(dt);
    sim_series_set(sim, llm->col[COL_ACTIVE], (double)llm_active(llm, -1));
    sim_series_set(sim, llm->col[COL_QUEUE], (double)llm_waiting(llm, -1));
    sim_series_set(sim, llm->col[COL_KV], llm_kv_usage(llm, -1));
    sim_series_set(sim, llm->col[COL_TPS], secs > 0 ? llm->win_tokens / secs : NAN);
    sim_series_set(sim, llm->col[COL_UP], (double)llm->lb.nup);
    llm->win_tokens = 0;
}

static void warmup(sim_t *sim, void *ctx)
{
    (void)sim;
    llm_t *llm = ctx;
    advance_all(llm);
    memset(&llm->st, 0, sizeof llm->st);
}

llm_t *llm_create(sim_t *sim, const llm_spec_t *spec)
{
    llm_t *llm = calloc(1, sizeof *llm);
    if (!llm) return NULL;
    llm->sim = sim;
    llm->spec = *spec;
    llm->speed = 1.0;
    llm->kv_cap_tokens = spec->kv_cache / spec->kv_bytes_per_token;
    int n = (int)spec->replicas;
    llm->rep = calloc((size_t)n, sizeof *llm->rep);
    if (!llm->rep) goto fail;
    sim_time_t now = sim_now(sim);
    for (int r = 0; r < n; r++) {
        llm_replica_t *rp = &llm->rep[r];
        rp->llm = llm;
        rp->idx = r;
        rp->up = true;
        rp->tV = now;
        rp->pre = malloc((size_t)spec->max_num_seqs * sizeof *rp->pre);
        rp->dec = malloc((size_t)spec->max_num_seqs * sizeof *rp->dec);
        if (!rp->pre || !rp->dec) goto fail;
        backoff_init(&rp->backoff, &spec->restart_backoff);
        snprintf(rp->source, sizeof rp->source, "llm/%d", r);
    }
    if (lb_init(&llm->lb, sim, spec->load_balancer, n, "lb/llm")) goto fail;
    llm->err_rng = sim_stream(sim, "llm/errors");
    if (!llm->err_rng) goto fail;

    static const struct { const char *name, *unit, *help; } cols[] = {
        {"llm_active_sequences", "1", "sequences admitted (prefill + decode), all replicas, at the sample time"},
        {"llm_queue_length", "1", "sequences waiting for admission, all replicas, at the sample time"},
        {"llm_kv_cache_usage_ratio", "1", "KV cache reserved / kv_cache, the fullest replica, at the sample time"},
        {"llm_output_tokens_per_second", "1/s", "output tokens decoded in the interval / interval"},
        {"llm_replicas_up", "1", "replicas serving at the sample time"},
    };
    for (int i = 0; i < 5; i++)
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
        for (int r = 0; r < llm->spec.replicas; r++) {
            free(llm->rep[r].pre);
            free(llm->rep[r].dec);
        }
    free(llm->rep);
    lb_fini(&llm->lb);
    free(llm);
}
