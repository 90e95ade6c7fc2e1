/* A station (station.h): FIFO (or adaptive LIFO) in front of c servers,
 * queue limit, queue timeouts, CoDel shedding, cancellation, statistics.
 * Calls CoDel and the engine. */
#include "models/queueing/station.h"

#include <assert.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sim/error.h"
#include "sim/scenario.h"

int stn_spec_parse(sim_diag_t *d, sim_cfg_node_t *map, const char *name, stn_spec_t *spec)
{
    int errs = d->errors;
    memset(spec, 0, sizeof *spec);
    spec->name = name;
    if (!sim_cfg_expect_map(d, map, "station")) return SIM_ECONFIG;
    sim_cfg_int(d, map, "servers", 0, 1, 1000000, 1, &spec->servers);
    sim_cfg_int(d, map, "queue_limit", SIM_CFG_UNBOUNDED, 0, INT64_MAX, INT64_MAX, &spec->queue_limit);
    sim_cfg_duration(d, map, "queue_timeout", 0, 0, &spec->queue_timeout);
    stn_queue_parse(d, map, spec);
    sim_cfg_node_t *svc = sim_cfg_get(map, "service");
    if (!svc)
        sim_cfg_error(d, map, "missing required key 'service' in station '%s' (e.g. service: {dist: exponential, mean: 20ms})", name);
    else
        sim_dist_parse(d, svc, SIM_DIST_DURATION, &spec->service);
    return d->errors == errs ? 0 : SIM_ECONFIG;
}

void stn_spec_fini(stn_spec_t *spec) { sim_dist_fini(&spec->service); }

const char *const stn_discipline_names[] = {"fifo", "adaptive_lifo", NULL};

int stn_queue_parse(sim_diag_t *d, sim_cfg_node_t *map, stn_spec_t *spec)
{
    int errs = d->errors;
    spec->codel = CODEL_DEFAULTS;
    sim_cfg_node_t *c = sim_cfg_get(map, "codel");
    if (c) {
        spec->codel_shed = true;
        codel_spec_parse(d, c, &spec->codel);
    }
    int disc = spec->adaptive_lifo ? 1 : 0;
    sim_cfg_enum(d, map, "queue_discipline", 0, stn_discipline_names, disc, &disc);
    spec->adaptive_lifo = disc == 1;
    return d->errors == errs ? 0 : SIM_ECONFIG;
}

enum { COL_QLEN, COL_BUSY, COL_UTIL, COL_P95, COL_ARR, COL_REJ };

static void sampler(sim_t *sim, void *ctx, sim_time_t dt)
{
    station_t *st = ctx;
    sim_time_t now = sim_now(sim);
    sim_series_set(sim, st->col[COL_QLEN], (double)st->nqueue);
    sim_series_set(sim, st->col[COL_BUSY], (double)st->busy);
    sim_series_set(sim, st->col[COL_UTIL], sim_tavg_mean(&st->win_busy, now) / (double)st->servers);
    sim_series_set(sim, st->col[COL_P95], sim_hist_quantile(&st->win_sojourn, 0.95) * 1e-9);
    double secs = sim_time_to_s(dt);
    sim_series_set(sim, st->col[COL_ARR], secs > 0 ? (double)st->win.arrivals / secs : NAN);
    sim_series_set(sim, st->col[COL_REJ], secs > 0 ? (double)st->win.rejected / secs : NAN);

    /* Overflow episodes, at sample resolution: bounded to one row per interval. */
    if (st->win.rejected > 0 && !st->overflow) {
        char detail[96];
        snprintf(detail, sizeof detail, "queue full (%lld waiting): rejecting arrivals",
                 (long long)st->nqueue);
        sim_log_event(sim, "overflow_start", st->source, (double)st->win.rejected, detail);
        st->overflow = true;
        st->overflow_rejected = 0;
    } else if (st->win.rejected == 0 && st->overflow) {
        char detail[96];
        snprintf(detail, sizeof detail, "%llu arrivals rejected in the episode",
                 (unsigned long long)st->overflow_rejected);
        sim_log_event(sim, "overflow_end", st->source, (double)st->overflow_rejected, detail);
        st->overflow = false;
    }
    st->overflow_rejected += st->win.rejected;
    memset(&st->win, 0, sizeof st->win);
    sim_hist_reset(&st->win_sojourn);
    sim_tavg_restart(&st->win_busy, now);
}

static void warmup(sim_t *sim, void *ctx)
{
    station_t *st = ctx;
    sim_time_t now = sim_now(sim);
    memset(&st->n, 0, sizeof st->n);
    sim_tmean_reset(&st->wait_s);
    sim_tmean_reset(&st->sojourn_s);
    sim_hist_reset(&st->sojourn);
    sim_tavg_restart(&st->busy_avg, now);
    sim_tavg_restart(&st->queue_avg, now);
}

int stn_init(station_t *st, sim_t *sim, const stn_spec_t *spec, stn_exit_fn on_exit, void *owner)
{
    memset(st, 0, sizeof *st);
    st->spec = spec;
    st->sim = sim;
    st->servers = spec->servers;
    st->on_exit = on_exit;
    st->owner = owner;
    char buf[256];
    if (spec->replicated) snprintf(st->source, sizeof st->source, "%s/%d", spec->name, spec->replica);
    else snprintf(st->source, sizeof st->source, "%s", spec->name);
    snprintf(buf, sizeof buf, "station/%s/service", st->source);
    st->rng = sim_stream(sim, buf);
    if (!st->rng) return SIM_ENOMEM;
    sim_tmean_reset(&st->wait_s);
    sim_tmean_reset(&st->sojourn_s);
    if (sim_hist_init(&st->sojourn) || sim_hist_init(&st->win_sojourn)) return SIM_ENOMEM;
    sim_time_t now = sim_now(sim);
    sim_tavg_init(&st->busy_avg, now, 0);
    sim_tavg_init(&st->queue_avg, now, 0);
    sim_tavg_init(&st->win_busy, now, 0);
    st->windowed = sim_sampling(sim);
    st->codel_on = spec->codel_shed || spec->adaptive_lifo;
    if (st->codel_on && codel_init(&st->codel, &spec->codel, now)) return SIM_EINVAL;

    static const struct { const char *metric, *unit, *help; } cols[] = {
        {"station_queue_length", "1", "jobs waiting at the sample time"},
        {"station_busy_servers", "1", "servers busy at the sample time"},
        {"station_utilization_ratio", "1", "time-averaged busy servers / servers over the interval"},
        {"station_sojourn_p95_seconds", "s", "95th percentile of sojourn times of jobs that left in the interval"},
        {"station_arrivals_per_second", "1/s", "arrivals in the interval / interval"},
        {"station_rejected_per_second", "1/s", "arrivals rejected (queue full) in the interval / interval"},
    };
    for (int i = 0; i < 6; i++) {
        if (spec->replicated)
            snprintf(buf, sizeof buf, "%s{station=%s,replica=%d}", cols[i].metric, spec->name, spec->replica);
        else
            snprintf(buf, sizeof buf, "%s{station=%s}", cols[i].metric, spec->name);
        st->col[i] = sim_series_add(sim, buf, cols[i].unit, cols[i].help);
        if (st->col[i] < 0) return SIM_ENOMEM;
    }
    if (sim_add_sampler(sim, sampler, st) || sim_add_warmup_hook(sim, warmup, st)) return SIM_ENOMEM;
    return 0;
}

void stn_fini(station_t *st)
{
    sim_hist_fini(&st->sojourn);
    sim_hist_fini(&st->win_sojourn);
    free(st->heap);
    st->heap = NULL;
}

static void complete_event(sim_t *sim, void *obj, uint64_t arg);
static void timeout_event(sim_t *sim, void *obj, uint64_t arg);

/* ---- shared cores: processor sharing of spec.cores among the jobs in service ----
 * Each job (a batch when batching) in service has a width w (cores it can
 * use: 1 for a lone job); the virtual time is the work done per core of
 * each, advancing at min(1, cores / the widths' sum); a job of time s (on
 * its w cores) ends when the virtual time has advanced by s. */

static inline bool shared(const station_t *st)
{
    return st->spec->cores > 0 && (st->spec->cores < st->servers || st->spec->batch || st->spec->background);
}

/* the speed of each core's worth of work in service (share of a core): the
 * widths count every job in service (a batch its cores, a background job its
 * threads) */
static inline double ps_rate(const station_t *st)
{
    double c = (double)st->spec->cores;
    return (double)st->ps_width <= c ? 1.0 : c / (double)st->ps_width;
}

/* bring the virtual time to now, at the speed of the current widths in service */
static inline void ps_advance(station_t *st, sim_time_t now)
{
    if (now > st->vt_at) st->vt += (double)(now - st->vt_at) * ps_rate(st);
    st->vt_at = now;
}

static inline bool ps_less(const stn_job_t *a, const stn_job_t *b)
{
    return a->vfinish < b->vfinish || (a->vfinish == b->vfinish && a->vseq < b->vseq);
}

static void ps_swap(station_t *st, int64_t i, int64_t j)
{
    stn_job_t *t = st->heap[i];
    st->heap[i] = st->heap[j];
    st->heap[j] = t;
    st->heap[i]->hpos = i;
    st->heap[j]->hpos = j;
}

static void ps_fix(station_t *st, int64_t i)
{
    while (i > 0 && ps_less(st->heap[i], st->heap[(i - 1) / 2])) {
        ps_swap(st, i, (i - 1) / 2);
        i = (i - 1) / 2;
    }
    for (;;) {
        int64_t l = 2 * i + 1, r = l + 1, m = i;
        if (l < st->nheap && ps_less(st->heap[l], st->heap[m])) m = l;
        if (r < st->nheap && ps_less(st->heap[r], st->heap[m])) m = r;
        if (m == i) return;
        ps_swap(st, i, m);
        i = m;
    }
}

static void ps_remove(station_t *st, stn_job_t *job)
{
    int64_t i = job->hpos;
    st->nheap--;
    st->ps_width -= job->width;
    if (i != st->nheap) {
        st->heap[i] = st->heap[st->nheap];
        st->heap[i]->hpos = i;
        ps_fix(st, i);
    }
    job->hpos = -1;
}

static void ps_event(sim_t *sim, void *obj, uint64_t arg);

/* one pending event: the end of the job that ends first at the current speed */
static void ps_schedule(station_t *st, sim_time_t now)
{
    sim_cancel(st->sim, &st->ps_timer);
    if (st->nheap == 0) return;
    double left = (st->heap[0]->vfinish - st->vt) / ps_rate(st);
    sim_time_t d = left > 0 ? (sim_time_t)ceil(left - 1e-6) : 0;
    st->ps_timer = sim_schedule_at(st->sim, now + (d > 0 ? d : 0), ps_event, st, 0);
}

/* a job of time s (ns on `width` cores of its own) starts sharing the cores
 * now; false if the heap cannot grow (the job then runs unshared) */
static bool ps_start(station_t *st, stn_job_t *job, sim_time_t s, sim_time_t now)
{
    if (st->nheap == st->heap_cap) {
        int64_t cap = st->heap_cap ? 2 * st->heap_cap : (st->servers < 16 ? 16 : st->servers);
        stn_job_t **h = realloc(st->heap, (size_t)cap * sizeof *h);
        if (!h) return false;
        st->heap = h;
        st->heap_cap = cap;
    }
    ps_advance(st, now);
    job->vfinish = st->vt + (double)s;
    job->vseq = st->vseq++;
    st->ps_width += job->width;
    job->hpos = st->nheap;
    st->heap[st->nheap++] = job;
    ps_fix(st, job->hpos);
    ps_schedule(st, now);
    return true;
}

static inline void serving_link(station_t *st, stn_job_t *job)
{
    job->prev = NULL;
    job->next = st->serving;
    if (st->serving) st->serving->prev = job;
    st->serving = job;
}

static inline void serving_unlink(station_t *st, stn_job_t *job)
{
    if (job->prev) job->prev->next = job->next; else st->serving = job->next;
    if (job->next) job->next->prev = job->prev;
    job->prev = job->next = NULL;
}

/* a job enters service, alone or in a batch: it is in service, not yet on a server */
static void enter_service(station_t *st, stn_job_t *job, sim_time_t now)
{
    serving_link(st, job);
    st->inservice++;
    job->start = now;
    st->n.started++;
    sim_tmean_add(&st->wait_s, now - job->enter);
    job->hpos = -1;
    job->timer = (sim_timer_t){0, 0};
    job->batch_next = NULL;
    job->batch_n = 0;
    job->width = 1;
}

static inline sim_time_t job_time(station_t *st, const stn_job_t *job)
{
    return job->demand >= 0 ? job->demand : sim_time_from_s(sim_dist_sample(&st->spec->service, st->rng));
}

/* a lone job or a batch (its first job) takes a server for nominal time s */
static void run(station_t *st, stn_job_t *first, sim_time_t s, sim_time_t now)
{
    st->busy++;
    sim_tavg_add(&st->busy_avg, now, 1);
    if (st->windowed) sim_tavg_add(&st->win_busy, now, 1);
    if (st->on_busy) st->on_busy(st->busy_ctx, st);
    if (st->on_start) s = st->on_start(st->owner, st, first, s);   /* speed factors now, at the start */
    if (shared(st) && ps_start(st, first, s, now)) return;
    first->timer = sim_schedule_at(st->sim, now + s, complete_event, first, 0);
}

static void start_service(station_t *st, stn_job_t *job, sim_time_t now)
{
    enter_service(st, job, now);
    job->batch_n = 1;
    run(st, job, job_time(st, job), now);
}

static inline void unlink_job(station_t *st, stn_job_t *job)
{
    if (job->prev) job->prev->next = job->next; else st->head = job->next;
    if (job->next) job->next->prev = job->prev; else st->tail = job->prev;
    job->prev = job->next = NULL;
    st->nqueue--;
    sim_tavg_add(&st->queue_avg, st->sim->now, -1);
}

/* ---- batching (spec.batch): Triton's dynamic batcher over the servers ---- */

static void start_waiting(station_t *st, sim_time_t now);

static void batch_event(sim_t *sim, void *obj, uint64_t arg)
{
    (void)arg;
    station_t *st = obj;
    st->batch_timer = (sim_timer_t){0, 0};
    start_waiting(st, sim_now(sim));
}

/* a batch may start: batch_max wait, or no window, or the oldest waited it out */
static inline bool batch_ready(const station_t *st, sim_time_t now)
{
    return st->nqueue >= st->spec->batch_max || st->spec->batch_wait == 0 ||
           now - st->head->enter >= st->spec->batch_wait;
}

/* one pending timer: the end of the oldest waiting job's window */
static void batch_arm(station_t *st)
{
    sim_time_t at = st->head->enter + st->spec->batch_wait;
    if (sim_timer_pending(&st->batch_timer) && st->batch_at == at) return;
    sim_cancel(st->sim, &st->batch_timer);
    st->batch_at = at;
    st->batch_timer = sim_schedule_at(st->sim, at, batch_event, st, 0);
}

/* The next waiting job to serve, out of the queue (oldest first; newest
 * first under adaptive LIFO's verdict), or NULL when CoDel sheds it: it is
 * then pushed on *shed (told later, in order, by start_waiting). */
static stn_job_t *take_next(station_t *st, sim_time_t now, stn_job_t **shed)
{
    stn_job_t *next = st->spec->adaptive_lifo && codel_overloaded(&st->codel) ? st->tail : st->head;
    unlink_job(st, next);
    sim_cancel(st->sim, &next->timer);
    if (st->codel_on && codel_should_drop(&st->codel, now, now - next->enter) && st->spec->codel_shed) {
        st->n.shed++;
        st->win.shed++;
        next->next = *shed;
        *shed = next;
        return NULL;
    }
    return next;
}

/* While a server is free and a batch may start: take up to batch_max
 * waiting jobs (oldest first; newest first under adaptive LIFO's verdict;
 * CoDel sheds as it does job by job) and run them as one batch. */
static void start_batches(station_t *st, sim_time_t now, stn_job_t **shed)
{
    while (st->head && st->busy < st->servers) {
        if (!batch_ready(st, now)) {
            batch_arm(st);
            return;
        }
        stn_job_t *first = NULL, *last = NULL;
        int64_t n = 0;
        sim_time_t sum = 0;
        while (st->head && n < st->spec->batch_max) {
            stn_job_t *next = take_next(st, now, shed);
            if (!next) continue;
            enter_service(st, next, now);
            sum += job_time(st, next);
            if (last) last->batch_next = next;
            else first = next;
            last = next;
            n++;
        }
        if (!first) continue;
        first->batch_n = (int32_t)n;
        int32_t width = 1;
        sim_time_t s = st->on_batch ? st->on_batch(st->owner, st, first, n, sum, &width) : sum;
        first->width = width < 1 ? 1 : width > n ? (int32_t)n : width;
        run(st, first, s, now);
    }
}

/* A job joins the tail of the queue (with its queue timeout, if any). */
static void enqueue(station_t *st, stn_job_t *job, sim_time_t now)
{
    job->prev = st->tail;
    if (st->tail) st->tail->next = job; else st->head = job;
    st->tail = job;
    st->nqueue++;
    sim_tavg_add(&st->queue_avg, now, 1);
    if (st->spec->queue_timeout > 0)
        job->timer = sim_schedule_at(st->sim, now + st->spec->queue_timeout, timeout_event, job, 0);
    else
        job->timer = (sim_timer_t){0, 0};
}

/* Accepted while a server is free (it waits at most batch_wait for its
 * batch), else if fewer than queue_limit wait. */
static bool batch_submit(station_t *st, stn_job_t *job, sim_time_t now)
{
    if (st->busy >= st->servers && st->nqueue >= st->spec->queue_limit) {
        st->n.rejected++;
        st->win.rejected++;
        return false;
    }
    enqueue(st, job, now);
    if (st->busy < st->servers) start_waiting(st, now);
    return true;
}

bool stn_submit(station_t *st, stn_job_t *job)
{
    sim_time_t now = sim_now(st->sim);
    st->n.arrivals++;
    st->win.arrivals++;
    job->st = st;
    job->enter = now;
    job->start = -1;
    job->prev = job->next = NULL;
    if (st->spec->batch) return batch_submit(st, job, now);
    if (st->busy < st->servers) {
        /* it waited 0: CoDel sees it (never sheds it), the minimum wait drops to 0 */
        if (st->codel_on) codel_should_drop(&st->codel, now, 0);
        start_service(st, job, now);
        return true;
    }
    if (st->nqueue >= st->spec->queue_limit) {
        st->n.rejected++;
        st->win.rejected++;
        return false;
    }
    enqueue(st, job, now);
    return true;
}

static void start_batches(station_t *st, sim_time_t now, stn_job_t **shed);

static void start_waiting(station_t *st, sim_time_t now)
{
    stn_job_t *shed = NULL;   /* told after the loop: an owner reacting cannot jump the queue */
    if (st->spec->batch) start_batches(st, now, &shed);
    while (!st->spec->batch && st->head && st->busy < st->servers) {
        stn_job_t *next = take_next(st, now, &shed);
        if (!next) continue;
        start_service(st, next, now);
    }
    /* in the order they were shed */
    stn_job_t *rev = NULL;
    while (shed) {
        stn_job_t *n = shed->next;
        shed->next = rev;
        rev = shed;
        shed = n;
    }
    while (rev) {
        stn_job_t *n = rev->next;
        rev->next = NULL;
        st->on_exit(st->sim, st->owner, rev, STN_SHED);
        rev = n;
    }
}

static void finish(sim_t *sim, station_t *st, stn_job_t *job, sim_time_t now);

static void complete_event(sim_t *sim, void *obj, uint64_t arg)
{
    (void)arg;
    stn_job_t *job = obj;
    job->timer = (sim_timer_t){0, 0};
    finish(sim, job->st, job, sim_now(sim));
}

static void ps_event(sim_t *sim, void *obj, uint64_t arg)
{
    (void)arg;
    station_t *st = obj;
    sim_time_t now = sim_now(sim);
    st->ps_timer = (sim_timer_t){0, 0};
    ps_advance(st, now);
    stn_job_t *job = st->heap[0];
    if (st->vt < job->vfinish) st->vt = job->vfinish;   /* the event time was rounded up to the ns */
    ps_remove(st, job);
    if (job->start == STN_BACKGROUND) {
        st->nbackground--;
        job->st = NULL;
        ps_schedule(st, now);
        if (st->on_background) st->on_background(st->owner, st, job);
        return;
    }
    finish(sim, st, job, now);
    ps_schedule(st, now);
}

bool stn_background(station_t *st, stn_job_t *job, sim_time_t work, int64_t threads)
{
    assert(st->spec->background && st->spec->cores > 0 && "stn_background: the station has no shared cores");
    sim_time_t now = sim_now(st->sim);
    if (threads < 1) threads = 1;
    job->st = st;
    job->start = STN_BACKGROUND;
    job->prev = job->next = NULL;
    job->timer = (sim_timer_t){0, 0};
    job->width = (int32_t)(threads > INT32_MAX ? INT32_MAX : threads);   /* its cores, as a batch's */
    job->batch_next = NULL;
    job->batch_n = 0;
    /* its threads join the runnable ones from now: the virtual time up to now ran at the old count */
    ps_advance(st, now);
    st->nbackground++;
    /* each thread does work / threads, at the per-thread speed the virtual time counts */
    if (!ps_start(st, job, work > 0 ? (sim_time_t)ceil((double)work / (double)threads) : 0, now)) {
        st->nbackground--;
        job->st = NULL;
        return false;
    }
    return true;
}

bool stn_background_cancel(station_t *st, stn_job_t *job)
{
    if (job->st != st || job->start != STN_BACKGROUND || job->hpos < 0) return false;
    sim_time_t now = sim_now(st->sim);
    ps_advance(st, now);
    ps_remove(st, job);
    st->nbackground--;
    job->st = NULL;
    ps_schedule(st, now);
    return true;
}

/* a lone job or a batch (its first job) ends: the server first takes the
 * next batch, then the jobs leave in FIFO order */
static void finish(sim_t *sim, station_t *st, stn_job_t *job, sim_time_t now)
{
    st->busy--;
    sim_tavg_add(&st->busy_avg, now, -1);
    if (st->windowed) sim_tavg_add(&st->win_busy, now, -1);
    for (stn_job_t *j = job; j; j = j->batch_next) {
        serving_unlink(st, j);
        st->inservice--;
        st->n.completions++;
        st->win.completions++;
        sim_time_t soj = now - j->enter;
        sim_tmean_add(&st->sojourn_s, soj);
        if (st->windowed) sim_hist_add2(&st->sojourn, &st->win_sojourn, soj);
        else sim_hist_add(&st->sojourn, soj);
    }
    start_waiting(st, now);
    if (st->on_busy) st->on_busy(st->busy_ctx, st);   /* once the server took the next job, if any */
    while (job) {
        stn_job_t *next = job->batch_next;   /* read first: the exit may free the job */
        job->batch_next = NULL;
        st->on_exit(sim, st->owner, job, STN_DONE);
        job = next;
    }
}

static void timeout_event(sim_t *sim, void *obj, uint64_t arg)
{
    (void)arg;
    stn_job_t *job = obj;
    station_t *st = job->st;
    job->timer = (sim_timer_t){0, 0};
    unlink_job(st, job);
    st->n.timed_out++;
    st->win.timed_out++;
    st->on_exit(sim, st->owner, job, STN_TIMED_OUT);
}

bool stn_cancel(station_t *st, stn_job_t *job)
{
    assert(job->st == st && "stn_cancel: job is not at this station");
    if (job->start >= 0) return false;   /* in service: runs to its end */
    unlink_job(st, job);
    sim_cancel(st->sim, &job->timer);
    st->n.cancelled++;
    st->win.cancelled++;
    return true;
}

void stn_abort_all(station_t *st)
{
    sim_time_t now = sim_now(st->sim);
    while (st->serving) {
        stn_job_t *job = st->serving;
        serving_unlink(st, job);
        sim_cancel(st->sim, &job->timer);
        if (job->hpos >= 0) {
            ps_advance(st, now);
            ps_remove(st, job);
            ps_schedule(st, now);
        }
        if (job->batch_n > 0) {   /* a lone job, or the first of a batch: its server */
            st->busy--;
            sim_tavg_add(&st->busy_avg, now, -1);
            if (st->windowed) sim_tavg_add(&st->win_busy, now, -1);
            if (st->on_busy) st->on_busy(st->busy_ctx, st);
        }
        st->inservice--;
        job->batch_next = NULL;
        st->n.aborted++;
        st->on_exit(st->sim, st->owner, job, STN_ABORTED);
    }
    while (st->head) {
        stn_job_t *job = st->head;
        unlink_job(st, job);
        sim_cancel(st->sim, &job->timer);
        st->n.aborted++;
        st->on_exit(st->sim, st->owner, job, STN_ABORTED);
    }
    /* the process died: its background work is lost (what is left in the heap) */
    if (st->nbackground > 0) {
        ps_advance(st, now);
        while (st->nheap > 0) {
            stn_job_t *job = st->heap[st->nheap - 1];
            assert(job->start == STN_BACKGROUND);
            ps_remove(st, job);
            job->st = NULL;
        }
        st->nbackground = 0;
        ps_schedule(st, now);
    }
    sim_cancel(st->sim, &st->batch_timer);
}

void stn_set_servers(station_t *st, int64_t servers)
{
    if (servers < 0) servers = 0;
    st->servers = servers;
    start_waiting(st, sim_now(st->sim));
    if (st->on_busy) st->on_busy(st->busy_ctx, st);   /* the idle servers changed */
}

void stn_finish(station_t *st)
{
    if (st->overflow) {
        char detail[96];
        snprintf(detail, sizeof detail, "%llu arrivals rejected in the episode (open at the end)",
                 (unsigned long long)st->overflow_rejected + st->win.rejected);
        sim_log_event(st->sim, "overflow_end", st->source,
                      (double)(st->overflow_rejected + st->win.rejected), detail);
        st->overflow = false;
    }
}

double stn_utilization(const station_t *st)
{
    return st->servers > 0 ? sim_tavg_mean(&st->busy_avg, sim_now(st->sim)) / (double)st->spec->servers : NAN;
}

double stn_mean_queue_len(const station_t *st) { return sim_tavg_mean(&st->queue_avg, sim_now(st->sim)); }

void stn_spec_check(const stn_spec_t *st, double lambda, const sim_scenario_t *sc, sim_cfg_node_t *node,
                    sim_diag_t *d)
{
    double rho = lambda * sim_dist_mean(&st->service) / (double)st->servers;
    if (st->queue_limit == INT64_MAX && st->queue_timeout == 0 && rho >= 1.0)
        sim_cfg_warn(d, node,
                     "station '%s' is unstable: offered load %.3g/s x %.3g s / %lld servers = %.3g >= 1 "
                     "and its queue is unbounded, so the queue grows without bound",
                     st->name, lambda, sim_dist_mean(&st->service), (long long)st->servers, rho);
    if (st->queue_timeout >= sc->duration)
        sim_cfg_warn(d, sim_cfg_get(node, "queue_timeout"),
                     "station '%s': queue_timeout is not shorter than the run's duration", st->name);
}
