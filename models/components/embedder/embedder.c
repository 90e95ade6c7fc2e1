/* The embedding service (embedder.h): replicas with Triton-style dynamic
 * batching, caller timeouts, cancellation and faults. Calls the load
 * balancer, CrashLoopBackOff and the engine. */
#include "models/components/embedder/embedder.h"

#include <assert.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sim/error.h"
#include "sim/stats.h"

#define EMB_MAX_CONCURRENCY 4096
#define EMB_MAX_BATCH 1000000

/* ---- spec ---------------------------------------------------------------- */

int embedder_spec_parse(sim_diag_t *d, sim_cfg_node_t *map, embedder_spec_t *spec)
{
    int errs = d->errors;
    memset(spec, 0, sizeof *spec);
    spec->replicas = 1;
    spec->concurrency = 1;
    spec->max_batch_size = 32;
    spec->max_queue_delay = 2 * SIM_MS;
    sim_dist_deterministic(&spec->base, 0.004);
    spec->per_token = 10 * SIM_US;
    spec->queue_limit = INT64_MAX;
    spec->startup = 10 * SIM_SEC;
    spec->load_balancer = LB_ROUND_ROBIN;
    spec->restart_backoff = BACKOFF_DEFAULTS;
    spec->slots = 1;
    if (map && sim_cfg_is_null(map)) return 0;   /* "embedder:" alone: all defaults */
    if (map && !sim_cfg_expect_map(d, map, "embedder")) return SIM_ECONFIG;

    sim_cfg_int(d, map, "replicas", 0, 1, LB_MAX_REPLICAS, 1, &spec->replicas);
    sim_cfg_int(d, map, "concurrency", 0, 1, EMB_MAX_CONCURRENCY, 1, &spec->concurrency);
    sim_cfg_int(d, map, "max_batch_size", 0, 1, EMB_MAX_BATCH, 32, &spec->max_batch_size);
    sim_cfg_duration(d, map, "max_queue_delay", 0, 2 * SIM_MS, &spec->max_queue_delay);

    sim_cfg_node_t *bt = sim_cfg_get(map, "batch_time");
    if (bt && !sim_cfg_is_null(bt) && sim_cfg_expect_map(d, bt, "batch_time")) {
        sim_cfg_node_t *base = sim_cfg_get(bt, "base");
        if (base) {
            sim_dist_t parsed;
            if (sim_dist_parse(d, base, SIM_DIST_DURATION, &parsed) == 0) {
                sim_dist_fini(&spec->base);
                spec->base = parsed;
            }
        }
        sim_cfg_duration(d, bt, "per_token", 0, 10 * SIM_US, &spec->per_token);
    }

    sim_cfg_int(d, map, "queue_limit", SIM_CFG_UNBOUNDED, 0, INT64_MAX, INT64_MAX, &spec->queue_limit);
    sim_cfg_duration(d, map, "startup", 0, 10 * SIM_SEC, &spec->startup);
    int lbp = LB_ROUND_ROBIN;
    if (sim_cfg_enum(d, map, "load_balancer", 0, lb_policy_names, LB_ROUND_ROBIN, &lbp) == 0)
        spec->load_balancer = (lb_policy_t)lbp;
    sim_cfg_node_t *bo = sim_cfg_get(map, "restart_backoff");
    if (bo && !sim_cfg_is_null(bo)) backoff_spec_parse(d, bo, &spec->restart_backoff);
    hpa_spec_parse(d, sim_cfg_get(map, "autoscale"), spec->replicas,
                   1u << HPA_CPU | 1u << HPA_INFLIGHT | 1u << HPA_QUEUE, &spec->autoscale);
    spec->slots = spec->autoscale.enabled && spec->autoscale.max_replicas > spec->replicas
                      ? spec->autoscale.max_replicas : spec->replicas;
    return d->errors == errs ? 0 : SIM_ECONFIG;
}

void embedder_spec_fini(embedder_spec_t *spec) { sim_dist_fini(&spec->base); }

/* ---- state ----------------------------------------------------------------
 * A replica owns a FIFO of waiting calls and `concurrency` instances; an
 * instance is idle (batch NULL) or runs one batch, a FIFO of calls. Both
 * lists are chained through call_t.link; the waiting list is also linked
 * back through call_t.prev, so that a cancelled call leaves it in O(1).
 * c->t0 is the enqueue time, c->replica the replica's index and c->where
 * EMB_WAITING or EMB_BATCHED. */

enum { EMB_WAITING = 1, EMB_BATCHED = 2 };

typedef struct emb_replica emb_replica_t;

typedef struct emb_inst {
    emb_replica_t *rep;
    call_t *batch;            /* running batch, NULL when idle */
    sim_timer_t done;         /* batch completion */
} emb_inst_t;

struct emb_replica {
    embedder_t *e;
    int idx;
    bool up;
    /* autoscaling (a fixed count: every slot active) */
    bool active;              /* wanted: up, starting or restarting; false: an empty slot or draining */
    bool draining;            /* scaled away: out of the load balancer, finishing its calls */
    sim_time_t ready_at;      /* when it last became ready */
    sim_tavg_t busy_avg;      /* busy instances (the cpu metric) */
    hpa_busy_mark_t busy_mark;
    call_t *head, *tail;      /* waiting calls, oldest first */
    int64_t nqueue;
    int64_t busy;             /* instances running a batch */
    emb_inst_t *inst;         /* `concurrency` of them */
    sim_timer_t flush;        /* the one pending dispatch check (batching window) */
    sim_timer_t restart;
    backoff_t backoff;
    char source[24];          /* "embedder/<r>" for the events table */
};

typedef struct {
    uint64_t submitted, batches, batched_calls, orphaned, kills, restarts, cancelled;
    uint64_t completed[CALL_NSTATUS];
} emb_counts_t;

struct embedder {
    sim_t *sim;
    const embedder_spec_t *spec;
    lb_t lb;
    sim_rng_t *rng_batch, *rng_err;
    double speed;             /* capacity factor (1 nominal) */
    double error_ratio;
    emb_replica_t *reps;
    emb_inst_t *insts;        /* replicas x concurrency, replica-major */
    int64_t ninst;
    int64_t nqueue;           /* waiting, all replicas */
    int nup;

    /* since warm-up */
    emb_counts_t n;
    sim_tmean_t wait_s, sojourn_s;
    sim_tavg_t busy_avg;      /* busy instances, all replicas */

    /* current sample window */
    uint64_t win_batches, win_batched;
    sim_tavg_t win_busy;
    int col[4];
    /* autoscaling */
    hpa_t hpa;
    int64_t want;             /* replicas wanted (active) */
    int64_t nslots;           /* replicas that may exist: max(replicas, autoscale.max_replicas) */
    sim_time_t last_sync;
    int col_desired;          /* embedder_replicas_desired, else -1 */
};

/* a + b for non-negative times, saturated well below overflow. */
static sim_time_t sat_add(sim_time_t a, sim_time_t b)
{
    const sim_time_t lim = SIM_TIME_MAX / 2;
    if (a >= lim || b >= lim - a) return lim;
    return a + b;
}

static void batch_done_event(sim_t *sim, void *obj, uint64_t arg);
static void flush_event(sim_t *sim, void *obj, uint64_t arg);

/* Duration of a batch of `tokens` tokens starting now. */
static sim_time_t batch_duration(embedder_t *e, int64_t tokens)
{
    const embedder_spec_t *s = e->spec;
    sim_time_t base = sim_time_from_s(sim_dist_sample(&s->base, e->rng_batch));
    sim_time_t work;
    if (__builtin_mul_overflow(s->per_token, tokens, &work)) work = SIM_TIME_MAX / 2;
    work = sat_add(base, work);
    if (e->speed != 1.0) work = sim_time_from_s(sim_time_to_s(work) / e->speed);
    return work;
}

static void set_busy(embedder_t *e, emb_replica_t *r, int delta)
{
    sim_time_t now = sim_now(e->sim);
    r->busy += delta;
    if (e->spec->autoscale.enabled) sim_tavg_add(&r->busy_avg, now, delta);
    sim_tavg_add(&e->busy_avg, now, delta);
    sim_tavg_add(&e->win_busy, now, delta);
}

/* Start a batch of the min(waiting, max_batch_size) oldest calls on `inst`. */
static void start_batch(embedder_t *e, emb_replica_t *r, emb_inst_t *inst, sim_time_t now)
{
    int64_t k = r->nqueue < e->spec->max_batch_size ? r->nqueue : e->spec->max_batch_size;
    call_t *first = r->head, *last = first;
    int64_t tokens = 0;
    for (int64_t i = 0; i < k; i++) {
        call_t *c = i == 0 ? first : last->link;
        sim_tmean_add(&e->wait_s, now - c->t0);
        if (c->tokens_in > 0 && tokens <= INT64_MAX - c->tokens_in) tokens += c->tokens_in;
        c->where = EMB_BATCHED;
        last = c;
    }
    r->head = last->link;
    if (r->head) r->head->prev = NULL; else r->tail = NULL;
    last->link = NULL;
    r->nqueue -= k;
    e->nqueue -= k;
    inst->batch = first;
    set_busy(e, r, +1);
    e->n.batches++;
    e->n.batched_calls += (uint64_t)k;
    e->win_batches++;
    e->win_batched += (uint64_t)k;
    inst->done = sim_schedule_at(e->sim, sat_add(now, batch_duration(e, tokens)), batch_done_event, inst, 0);
}

/* Triton's dynamic batcher: start batches while an instance is free and the
 * waiting calls make a full batch or the oldest has waited out the window;
 * otherwise make sure one check is pending at the end of the window. */
static void dispatch(embedder_t *e, emb_replica_t *r)
{
    const embedder_spec_t *s = e->spec;
    sim_time_t now = sim_now(e->sim);
    if (!(r->up || r->draining) || !(e->speed > 0)) return;
    while (r->head && r->busy < s->concurrency) {
        sim_time_t deadline = sat_add(r->head->t0, s->max_queue_delay);
        if (r->nqueue < s->max_batch_size && s->max_queue_delay > 0 && now < deadline) {
            if (!sim_timer_pending(&r->flush))
                r->flush = sim_schedule_at(e->sim, deadline, flush_event, r, 0);
            return;
        }
        emb_inst_t *inst = NULL;
        for (int64_t i = 0; i < s->concurrency; i++)
            if (!r->inst[i].batch) {
                inst = &r->inst[i];
                break;
            }
        start_batch(e, r, inst, now);
    }
    if (!r->head) sim_cancel(e->sim, &r->flush);
}

static void flush_event(sim_t *sim, void *obj, uint64_t arg)
{
    (void)sim;
    (void)arg;
    emb_replica_t *r = obj;
    r->flush = (sim_timer_t){0, 0};
    dispatch(r->e, r);
}

/* The embedder is done with an accepted call. */
static void finish(embedder_t *e, call_t *c, call_status_t st)
{
    lb_end(&e->lb, c->replica);
    e->n.completed[st]++;
    if (!c->owner) e->n.orphaned++;
    call_complete(e->sim, c, st);
}

/* A replica scaled away that holds nothing more is gone. */
static void drained(embedder_t *e, emb_replica_t *r)
{
    if (!r->draining || r->nqueue > 0 || r->busy > 0) return;
    r->draining = false;
    sim_log_event(e->sim, "replica_removed", r->source, 0, "scaled down: drained, terminated");
}

static void batch_done_event(sim_t *sim, void *obj, uint64_t arg)
{
    (void)arg;
    emb_inst_t *inst = obj;
    emb_replica_t *r = inst->rep;
    embedder_t *e = r->e;
    sim_time_t now = sim_now(sim);
    call_t *c = inst->batch;
    if (!c || r->busy <= 0) {
        /* A kill cancels the completion of the batches it fails. */
        fprintf(stderr, "embedder: batch completion on %s at %lld ns with no batch running (busy %lld)\n",
                r->source, (long long)now, (long long)r->busy);
        abort();
    }
    inst->batch = NULL;
    inst->done = (sim_timer_t){0, 0};
    set_busy(e, r, -1);
    /* The freed instance takes the next batch before the owners hear back,
     * so a call re-submitted from a callback queues behind those waiting. */
    dispatch(e, r);
    while (c) {
        call_t *next = c->link;
        c->link = NULL;
        call_status_t st = CALL_OK;
        if (e->error_ratio > 0 && sim_rng_uniform(e->rng_err) < e->error_ratio) st = CALL_ERROR;
        sim_tmean_add(&e->sojourn_s, now - c->t0);
        finish(e, c, st);
        c = next;
    }
    drained(e, r);
}

static void restart_event(sim_t *sim, void *obj, uint64_t arg)
{
    (void)arg;
    emb_replica_t *r = obj;
    embedder_t *e = r->e;
    r->restart = (sim_timer_t){0, 0};
    r->up = true;
    r->ready_at = sim_now(sim);
    lb_set_up(&e->lb, r->idx, true);
    e->nup++;
    e->n.restarts++;
    sim_log_event(sim, "replica_restarted", r->source, (double)r->backoff.crashes, "ready after back-off and startup");
    dispatch(e, r);
}

/* ---- component operations ------------------------------------------------ */

static void emb_submit(void *comp, call_t *c)
{
    embedder_t *e = comp;
    e->n.submitted++;
    int ri = lb_pick(&e->lb);
    if (ri < 0) {
        e->n.completed[CALL_UNAVAILABLE]++;
        if (!c->owner) e->n.orphaned++;
        call_complete(e->sim, c, CALL_UNAVAILABLE);
        return;
    }
    emb_replica_t *r = &e->reps[ri];
    c->replica = ri;
    c->t0 = sim_now(e->sim);
    c->link = NULL;
    c->prev = r->tail;
    c->where = EMB_WAITING;
    lb_begin(&e->lb, ri);

    call_t *old_tail = r->tail;
    int64_t before = r->nqueue;
    if (r->tail) r->tail->link = c; else r->head = c;
    r->tail = c;
    r->nqueue++;
    e->nqueue++;
    dispatch(e, r);
    if (r->nqueue == before + 1 && r->nqueue > e->spec->queue_limit) {
        /* Nothing started, so c is still the tail, right behind old_tail:
         * the waiting room was full and c could not start at once. */
        r->tail = old_tail;
        if (old_tail) old_tail->link = NULL; else r->head = NULL;
        r->nqueue--;
        e->nqueue--;
        if (!r->head) sim_cancel(e->sim, &r->flush);
        finish(e, c, CALL_REJECTED);
    }
}

static void emb_set_speed(void *comp, double factor)
{
    embedder_t *e = comp;
    e->speed = factor;
    if (factor > 0)
        for (int64_t i = 0; i < e->nslots; i++) dispatch(e, &e->reps[i]);
}

static void emb_set_error_ratio(void *comp, double ratio)
{
    embedder_t *e = comp;
    e->error_ratio = ratio > 0 ? (ratio < 1 ? ratio : 1) : 0;
}

/* Take replica r down; append its calls to the chain (head, tail). */
static void kill_one(embedder_t *e, emb_replica_t *r, call_t **head, call_t **tail)
{
    sim_time_t now = sim_now(e->sim);
    if (!r->up && !r->draining) return;
    bool draining = r->draining;
    if (r->up) {
        lb_set_up(&e->lb, r->idx, false);
        e->nup--;
    }
    r->up = r->draining = false;
    e->n.kills++;
    int64_t lost = r->nqueue;
    for (int64_t i = 0; i < e->spec->concurrency; i++) {
        emb_inst_t *inst = &r->inst[i];
        if (!inst->batch) continue;
        sim_cancel(e->sim, &inst->done);
        for (call_t *c = inst->batch; c; c = c->link) {
            lost++;
            if (*tail) (*tail)->link = c; else *head = c;
            *tail = c;
        }
        inst->batch = NULL;
        set_busy(e, r, -1);
    }
    if (r->head) {
        if (*tail) (*tail)->link = r->head; else *head = r->head;
        *tail = r->tail;
    }
    e->nqueue -= r->nqueue;
    r->head = r->tail = NULL;
    r->nqueue = 0;
    sim_cancel(e->sim, &r->flush);
    if (draining) {   /* scaled away already: it is not restarted */
        sim_log_event(e->sim, "replica_killed", r->source, (double)lost, "killed while draining: gone");
        return;
    }

    sim_time_t delay = backoff_on_crash(&r->backoff, &e->spec->restart_backoff, now);
    /* the container starts again when the back-off ends; its start-up follows */
    backoff_on_restart(&r->backoff, sat_add(now, delay));
    r->restart = sim_schedule_at(e->sim, sat_add(now, sat_add(delay, e->spec->startup)), restart_event, r, 0);
    char detail[160];
    snprintf(detail, sizeof detail, "%lld calls failed; restart in %.3f s (back-off %.3f s + startup %.3f s)",
             (long long)lost, sim_time_to_s(sat_add(delay, e->spec->startup)), sim_time_to_s(delay),
             sim_time_to_s(e->spec->startup));
    sim_log_event(e->sim, "replica_killed", r->source, (double)lost, detail);
}

static void emb_kill(void *comp, int replica)
{
    embedder_t *e = comp;
    call_t *head = NULL, *tail = NULL;
    if (replica < 0) {
        for (int64_t i = 0; i < e->nslots; i++) kill_one(e, &e->reps[i], &head, &tail);
    } else if (replica < e->nslots) {
        kill_one(e, &e->reps[replica], &head, &tail);
    }
    /* Every affected replica is down before any owner hears of it; none of
     * these calls is in a queue any more (a cancel now is a no-op). */
    for (call_t *c = head; c; c = c->link) c->where = 0;
    while (head) {
        call_t *next = head->link;
        head->link = NULL;
        finish(e, head, CALL_ERROR);
        head = next;
    }
}

/* Context propagation: a call still waiting for a batch leaves the queue and
 * completes with CALL_TIMEOUT at once; one in a running batch stays (the
 * batch runs as a whole on the model instance). O(1). */
static void emb_cancel(void *comp, call_t *c)
{
    assert(!c->owner && "embedder cancel: the caller must detach the call first");
    embedder_t *e = comp;
    if (c->where != EMB_WAITING) return;
    emb_replica_t *r = &e->reps[c->replica];
    bool was_head = r->head == c;
    if (c->prev) c->prev->link = c->link; else r->head = c->link;
    if (c->link) c->link->prev = c->prev; else r->tail = c->prev;
    c->link = c->prev = NULL;
    c->where = 0;
    r->nqueue--;
    e->nqueue--;
    if (was_head) {
        /* The batching window ran from the old head's arrival: restart the
         * one pending check from the new head's (or drop it). */
        sim_cancel(e->sim, &r->flush);
        dispatch(e, r);
    }
    lb_end(&e->lb, c->replica);
    e->n.completed[CALL_TIMEOUT]++;
    e->n.cancelled++;
    call_complete(e->sim, c, CALL_TIMEOUT);
    drained(e, r);
}

static int emb_replicas_up(const void *comp) { return ((const embedder_t *)comp)->nup; }

const comp_ops_t embedder_ops = {
    .kind = "embedder",
    .submit = emb_submit,
    .set_speed = emb_set_speed,
    .set_error_ratio = emb_set_error_ratio,
    .kill = emb_kill,
    .replicas_up = emb_replicas_up,
    .cancel = emb_cancel,
};

/* ---- autoscaling (models/components/replicas/hpa.h) ------------------------ */

static void scaled_ready_event(sim_t *sim, void *obj, uint64_t arg)
{
    (void)arg;
    emb_replica_t *r = obj;
    embedder_t *e = r->e;
    r->restart = (sim_timer_t){0, 0};
    r->up = true;
    r->ready_at = sim_now(sim);
    lb_set_up(&e->lb, r->idx, true);
    e->nup++;
    sim_log_event(sim, "replica_ready", r->source, 0, "new replica: model loaded, ready");
    dispatch(e, r);
}

static int pool_state(void *ctx, int i)
{
    const emb_replica_t *r = &((embedder_t *)ctx)->reps[i];
    if (!r->active) return r->draining ? HPA_SLOT_GONE : HPA_SLOT_EMPTY;
    return r->up ? HPA_SLOT_READY : HPA_SLOT_STARTING;
}

static void pool_start(void *ctx, int i)
{
    embedder_t *e = ctx;
    emb_replica_t *r = &e->reps[i];
    r->active = true;
    backoff_init(&r->backoff, &e->spec->restart_backoff);
    r->restart = sim_schedule_in(e->sim, e->spec->startup, scaled_ready_event, r, 0);
}

static void pool_stop(void *ctx, int i, bool ready)
{
    embedder_t *e = ctx;
    emb_replica_t *r = &e->reps[i];
    r->active = false;
    if (!ready) {   /* starting, or down after a kill */
        sim_cancel(e->sim, &r->restart);
        sim_log_event(e->sim, "replica_removed", r->source, 0, "scaled down before it was ready");
        return;
    }
    r->up = false;
    lb_set_up(&e->lb, r->idx, false);
    e->nup--;
    r->draining = true;
    drained(e, r);
}

/* One sync: the metric over the ready replicas, the decision, the scaling. */
int64_t embedder_autoscale_sync(embedder_t *e)
{
    static const char *const what[] = {"busy instances", "calls in flight", "calls waiting", "KV"};
    const embedder_spec_t *s = e->spec;
    sim_time_t now = sim_now(e->sim);
    int64_t ready = 0;
    double sum = 0;
    for (int i = 0; i < e->nslots; i++) {
        emb_replica_t *r = &e->reps[i];
        if (!r->active || !r->up) continue;
        ready++;
        sum += s->autoscale.metric == HPA_QUEUE      ? (double)r->nqueue
               : s->autoscale.metric == HPA_INFLIGHT ? (double)e->lb.outstanding[i]   /* waiting + batched */
                                                     : hpa_busy_ratio(&r->busy_avg, &r->busy_mark,
                                                                      e->last_sync > r->ready_at ? e->last_sync : r->ready_at,
                                                                      now, (double)s->concurrency);
    }
    for (int i = 0; i < e->nslots; i++) hpa_busy_mark(&e->reps[i].busy_avg, &e->reps[i].busy_mark, now);
    e->last_sync = now;
    hpa_pool_t pool = {"embedder", what, (int)e->nslots, pool_state, pool_start, pool_stop, e};
    e->want = hpa_pool_scale(&e->hpa, &pool, e->sim, e->want, ready, sum);
    return e->want;
}

static void sync_event(sim_t *sim, void *obj, uint64_t arg)
{
    (void)arg;
    embedder_t *e = obj;
    embedder_autoscale_sync(e);
    sim_schedule_in(sim, e->spec->autoscale.sync, sync_event, e, 0);
}

/* ---- statistics ---------------------------------------------------------- */

enum { COL_QLEN, COL_BATCH, COL_BUSY, COL_UP };

static void sampler(sim_t *sim, void *ctx, sim_time_t dt)
{
    (void)dt;
    embedder_t *e = ctx;
    sim_time_t now = sim_now(sim);
    sim_series_set(sim, e->col[COL_QLEN], (double)e->nqueue);
    sim_series_set(sim, e->col[COL_BATCH],
                   e->win_batches ? (double)e->win_batched / (double)e->win_batches : NAN);
    sim_series_set(sim, e->col[COL_BUSY], sim_tavg_mean(&e->win_busy, now) / (double)(e->want * e->spec->concurrency));
    sim_series_set(sim, e->col[COL_UP], (double)e->nup);
    if (e->col_desired >= 0) sim_series_set(sim, e->col_desired, (double)e->want);
    e->win_batches = e->win_batched = 0;
    sim_tavg_restart(&e->win_busy, now);
}

static void warmup(sim_t *sim, void *ctx)
{
    embedder_t *e = ctx;
    memset(&e->n, 0, sizeof e->n);
    sim_tmean_reset(&e->wait_s);
    sim_tmean_reset(&e->sojourn_s);
    sim_tavg_restart(&e->busy_avg, sim_now(sim));
}

void embedder_stats(const embedder_t *e, embedder_stats_t *out)
{
    memset(out, 0, sizeof *out);
    out->submitted = e->n.submitted;
    out->batches = e->n.batches;
    out->batched_calls = e->n.batched_calls;
    memcpy(out->completed, e->n.completed, sizeof out->completed);
    out->orphaned = e->n.orphaned;
    out->kills = e->n.kills;
    out->restarts = e->n.restarts;
    out->cancelled = e->n.cancelled;
    out->mean_batch_size = e->n.batches ? (double)e->n.batched_calls / (double)e->n.batches : NAN;
    out->mean_wait_s = sim_tmean_s(&e->wait_s);
    out->mean_sojourn_s = sim_tmean_s(&e->sojourn_s);
    out->busy_ratio = sim_tavg_mean(&e->busy_avg, sim_now(e->sim)) / (double)(e->want * e->spec->concurrency);
    out->queue_length = e->nqueue;
    out->replicas_up = e->nup;
}

/* ---- life ------------------------------------------------------------------ */

embedder_t *embedder_create(sim_t *sim, const embedder_spec_t *spec)
{
    embedder_t *e = calloc(1, sizeof *e);
    if (!e) return NULL;
    e->sim = sim;
    e->spec = spec;
    e->speed = 1.0;
    /* every loop over replicas covers the slots (from the spec's fields, which tests set directly) */
    e->nslots = spec->autoscale.enabled && spec->autoscale.max_replicas > spec->replicas ? spec->autoscale.max_replicas
                                                                                         : spec->replicas;
    int nrep = (int)e->nslots;
    e->ninst = e->nslots * spec->concurrency;
    e->want = spec->replicas;
    e->col_desired = -1;
    if (lb_init(&e->lb, sim, spec->load_balancer, nrep, "lb/embedder")) goto fail;
    e->rng_batch = sim_stream(sim, "embedder/batch_time");
    e->rng_err = sim_stream(sim, "embedder/errors");
    e->reps = calloc((size_t)nrep, sizeof *e->reps);
    e->insts = calloc((size_t)e->ninst, sizeof *e->insts);
    if (!e->rng_batch || !e->rng_err || !e->reps || !e->insts) goto fail;
    for (int i = 0; i < nrep; i++) {
        emb_replica_t *r = &e->reps[i];
        r->e = e;
        r->idx = i;
        r->up = r->active = i < spec->replicas;
        r->inst = &e->insts[(int64_t)i * spec->concurrency];
        for (int64_t k = 0; k < spec->concurrency; k++) r->inst[k].rep = r;
        backoff_init(&r->backoff, &spec->restart_backoff);
        snprintf(r->source, sizeof r->source, "embedder/%d", i);
    }
    e->nup = (int)spec->replicas;
    for (int i = (int)spec->replicas; i < nrep; i++) lb_set_up(&e->lb, i, false);
    sim_tmean_reset(&e->wait_s);
    sim_tmean_reset(&e->sojourn_s);
    sim_time_t now = sim_now(sim);
    sim_tavg_init(&e->busy_avg, now, 0);
    sim_tavg_init(&e->win_busy, now, 0);
    for (int i = 0; i < nrep; i++) sim_tavg_init(&e->reps[i].busy_avg, now, 0);

    static const struct { const char *name, *unit, *help; } cols[] = {
        {"embedder_queue_length", "1", "calls waiting for a batch, all replicas, at the sample time"},
        {"embedder_batch_size_mean", "1", "mean size of the batches started in the interval (NaN if none)"},
        {"embedder_busy_ratio", "1", "time-averaged busy model instances / instances over the interval"},
        {"embedder_replicas_up", "1", "replicas serving at the sample time"},
    };
    for (int i = 0; i < 4; i++)
        if ((e->col[i] = sim_series_add(sim, cols[i].name, cols[i].unit, cols[i].help)) < 0) goto fail;
    if (spec->autoscale.enabled) {
        hpa_init(&e->hpa, &spec->autoscale);
        e->col_desired = sim_series_add(sim, "embedder_replicas_desired", "1",
                                        "replicas the autoscaler wants (ready or starting)");
        if (e->col_desired < 0) goto fail;
        sim_schedule_in(sim, spec->autoscale.sync, sync_event, e, 0);
    }
    if (sim_add_sampler(sim, sampler, e) || sim_add_warmup_hook(sim, warmup, e)) goto fail;
    return e;
fail:
    embedder_destroy(e);
    return NULL;
}

void embedder_destroy(embedder_t *e)
{
    if (!e) return;
    lb_fini(&e->lb);
    free(e->reps);
    free(e->insts);
    free(e);
}
