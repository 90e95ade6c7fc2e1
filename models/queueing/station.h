/* Station: c identical servers in front of a FIFO queue, the building block
 * of every component model.
 *
 *   stations:
 *     db:
 *       servers: 4                              # c (default 1)
 *       queue_limit: 100                        # waiting room; default unbounded.
 *                                               # Kendall's K = servers + queue_limit
 *       service: {dist: exponential, mean: 20ms}
 *       queue_timeout: 2s                       # optional: a job that waits this
 *                                               # long leaves unserved (timed_out)
 *       codel: {target_delay: 5ms, interval: 100ms}   # optional: CoDel shedding
 *       queue_discipline: fifo                  # or adaptive_lifo
 *
 * CoDel (models/queueing/codel.h, folly's RPC variant): every job that starts
 * service, from the queue or at once (waited 0), passes the machine with
 * its queueing delay; while the queue is judged overloaded (the minimum
 * wait of the last interval exceeded the target), a job that waited more
 * than 2 x target is shed instead of served (STN_SHED). Adaptive LIFO
 * (Facebook's "Fail at Scale"): FIFO normally, newest first while CoDel
 * judges the queue overloaded (the CoDel machine runs for the verdict
 * even when shedding is off).
 *
 * A job (stn_job_t, embedded in the caller's request) arrives with
 * stn_submit(): it starts service at once if a server is free, else waits in
 * the queue, else (queue full) is rejected. When service ends the station
 * first starts the next waiting job, then tells its owner through the exit
 * callback. The service time is the job's own demand if it has one
 * (job->demand >= 0, set by component models that compute it), else a draw
 * from the station's distribution on the station's stream
 * "station/<name>/service". An owner whose servers can run slower or
 * faster (a slowdown, CPU throttling, a cold start) installs a start hook
 * (stn_set_start_hook): it is asked for the job's time when the job
 * *starts* service, so a job queued during a slowdown that starts after it
 * runs at the speed of its start, not of its arrival.
 *
 * Shared cores (spec.cores = C, 0 < C < servers: threads beyond the
 * cores): a job's service time is its work on a core of its own; with n
 * jobs in service each progresses at min(1, C/n) of a core (the cores
 * shared equally among the busy threads, as the Linux scheduler shares
 * them), so n > C jobs each take n/C times longer. Kept exactly with a
 * virtual time (work done per job in service) and a heap of the jobs' end
 * in it: one pending event per station, O(log servers) per start or end.
 *
 * Background work (spec.background, with spec.cores = C > 0): work that
 * needs a core but holds no server and no queue place (a vector DB's
 * inserts and index builds beside its searches) runs as background jobs
 * (stn_background) sharing the C cores with the jobs in service: with n
 * jobs in service and background jobs on b threads in all, each thread
 * progresses at min(1, C/(n+b)) of a core (a background job on k threads
 * counts as a batch of width k below), whatever C is next to the
 * servers (a job on k threads does its work k times as fast as on one).
 * The owner is told when one ends (stn_set_background_hook); a crash
 * (stn_abort_all) drops them without telling.
 *
 * Batching (spec.batch, set by a component: the vector DB's `batch`):
 * Triton's dynamic batcher over the servers. Jobs wait FIFO; whenever a
 * server is free and jobs wait, a batch of the min(waiting, batch_max)
 * oldest starts at once if batch_max wait, or the oldest has waited
 * batch_wait, or batch_wait is 0; otherwise one timer is set for the
 * oldest's arrival + batch_wait. A batch occupies one server; its time is
 * the batch hook's (default: the sum of its jobs'), run on `width` cores
 * with processor sharing of spec.cores by width (a batch of width w alone
 * progresses on w cores; together, each at w x min(1, cores / the widths'
 * sum)); all its jobs end together, in FIFO order. A job arriving while a
 * server is free is accepted whatever the queue limit (it waits at most
 * batch_wait); otherwise the limit counts every waiting job. A job in a
 * running batch cannot be cancelled. Without `batch` a job is a batch of
 * one of width 1, and the station is exactly the one above.
 *
 * Statistics after the warm-up: arrivals, completions, rejections,
 * timeouts; waiting time and sojourn time (moments and histogram);
 * time-averaged busy servers and queue length. Per sample interval:
 * queue length, busy servers, utilisation, sojourn p95, arrivals per second.
 * Overflow episodes (rejections in an interval after none in the previous
 * one, and their end) are logged as notable events. All O(1) per job. */
#ifndef MODELS_QUEUEING_STATION_H
#define MODELS_QUEUEING_STATION_H

#include <stdbool.h>
#include <stdint.h>

#include "models/queueing/codel.h"
#include "sim/cfg.h"
#include "sim/dist.h"
#include "sim/sim.h"
#include "sim/stats.h"

typedef struct station station_t;

typedef enum { STN_DONE, STN_TIMED_OUT, STN_ABORTED, STN_SHED } stn_outcome_t;

#define STN_BACKGROUND (-2)       /* stn_job_t.start of a background job (stn_background) */

typedef struct stn_job {
    struct stn_job *prev, *next;  /* links in the queue, then in the in-service list */
    sim_timer_t timer;            /* service completion, or queue timeout while waiting */
    sim_time_t enter;             /* arrival at the station */
    sim_time_t start;             /* service start; -1 while waiting */
    sim_time_t demand;            /* service time in ns if >= 0; -1: draw from the distribution */
    station_t *st;
    /* shared cores (stn_spec_t.cores): when it ends in the station's virtual time, its heap place */
    double vfinish;
    uint64_t vseq;
    int64_t hpos;
    /* batching (stn_spec_t.batch): the batch's first job carries its size and
     * its cores (width), the others follow it through batch_next; an
     * unbatched job is a batch of one of width 1 */
    struct stn_job *batch_next;
    int32_t batch_n;
    int32_t width;
} stn_job_t;

typedef void (*stn_exit_fn)(sim_t *sim, void *owner, stn_job_t *job, stn_outcome_t outcome);
/* Called when `job` starts service at `st` with its nominal service time
 * `s` (its demand, or the draw); returns the time it will take (>= 0), e.g.
 * stn_scale(s, factor) with the owner's speed factors now. O(1), no
 * allocation: it runs once per job. */
typedef sim_time_t (*stn_start_fn)(void *owner, station_t *st, stn_job_t *job, sim_time_t s);
/* Called when background job `job` has done its work (its owner argument is the station's owner). */
typedef void (*stn_background_fn)(void *owner, station_t *st, stn_job_t *job);
/* Batching: the nominal time of a batch of n jobs (its first job `first`,
 * the others through batch_next) whose own times sum to `sum` (ns), as the
 * work of one server on `*width` cores (set it: >= 1, <= n); called before
 * the start hook, which then gets the batch's time. O(1), no allocation. */
typedef sim_time_t (*stn_batch_fn)(void *owner, station_t *st, stn_job_t *first, int64_t n, sim_time_t sum,
                                   int32_t *width);
/* Called after the idle servers (servers - busy) may have changed: a job or
 * batch started, ended (once the freed server took the next one, before the
 * exit callback) or was aborted, or stn_set_servers; with the context given
 * to stn_set_busy_hook. A model that uses the idle servers (the Go
 * runtime's idle mark workers) follows them without scanning. O(1), no
 * allocation; it must not submit or end jobs. */
typedef void (*stn_busy_fn)(void *ctx, station_t *st);

typedef struct stn_spec {
    const char *name;
    bool replicated;              /* one replica of a replicated component: */
    int replica;                  /*   its index, a label in metric names */
    int64_t servers;
    int64_t cores;                /* 0: every server runs at full speed; 0 < cores < servers: the
                                   * jobs in service share `cores` (processor sharing, below) */
    bool background;              /* with cores > 0: background jobs share the cores too, so the
                                   * sharing holds whatever cores is next to servers */
    int64_t queue_limit;          /* INT64_MAX = unbounded */
    sim_dist_t service;           /* seconds */
    sim_time_t queue_timeout;     /* 0 = none */
    bool codel_shed;              /* CoDel shedding on */
    bool adaptive_lifo;           /* newest first while CoDel judges the queue overloaded */
    codel_spec_t codel;
    /* dynamic batching (Triton's dynamic batcher): a free server takes up to
     * batch_max waiting jobs as one batch once batch_max wait or the oldest
     * has waited batch_wait; the jobs share the batch's end */
    bool batch;
    int64_t batch_max;            /* >= 1 */
    sim_time_t batch_wait;        /* >= 0 */
} stn_spec_t;

extern const char *const stn_discipline_names[];   /* "fifo", "adaptive_lifo" */

/* The queue keys shared by stations and replicated services: `codel` (a
 * mapping, or `codel: {}` for the defaults) and `queue_discipline`. */
int stn_queue_parse(sim_diag_t *d, sim_cfg_node_t *map, stn_spec_t *spec);

/* Parse one station mapping; `name` is its key. Returns 0 or SIM_ECONFIG. */
int stn_spec_parse(sim_diag_t *d, sim_cfg_node_t *map, const char *name, stn_spec_t *spec);
void stn_spec_fini(stn_spec_t *spec);

typedef struct {
    uint64_t arrivals, started, completions, rejected, timed_out, aborted;
    uint64_t cancelled;           /* removed while waiting by stn_cancel */
    uint64_t shed;                /* dropped by CoDel at dequeue */
} stn_counts_t;

struct station {
    const stn_spec_t *spec;
    char source[96];              /* "db", or "vectordb/0" for a replica: events' source */
    sim_t *sim;
    sim_rng_t *rng;
    int64_t servers;              /* current capacity (faults may change it) */
    int64_t busy;                 /* servers busy (batches in service when batching) */
    int64_t inservice;            /* jobs in service (= busy without batching) */
    int64_t nqueue;
    stn_job_t *head, *tail;       /* waiting, FIFO */
    stn_job_t *serving;           /* in service (unordered list) */
    stn_exit_fn on_exit;
    stn_start_fn on_start;        /* NULL: the nominal time */
    stn_background_fn on_background;   /* a background job ended */
    int64_t nbackground;          /* background jobs sharing the cores now */
    stn_batch_fn on_batch;        /* NULL: a batch's time is the sum of its jobs' */
    stn_busy_fn on_busy;          /* NULL: none */
    void *busy_ctx;
    sim_timer_t batch_timer;      /* batching: the oldest waiting job's window ends */
    sim_time_t batch_at;          /*   at this time (while the timer is pending) */
    /* shared cores: virtual time (ns of work per core of a job in service) at vt_at, jobs in service by end */
    double vt;
    int64_t ps_width;             /* cores the jobs in service would use (the sum of their widths) */
    sim_time_t vt_at;
    stn_job_t **heap;
    int64_t nheap, heap_cap;
    uint64_t vseq;
    sim_timer_t ps_timer;
    void *owner;
    bool codel_on;                /* the CoDel machine runs (shedding or adaptive LIFO) */
    codel_t codel;

    /* since warm-up */
    stn_counts_t n;
    sim_tmean_t wait_s, sojourn_s;
    sim_hist_t sojourn;           /* ns */
    sim_tavg_t busy_avg, queue_avg;

    /* current sample window */
    stn_counts_t win;
    sim_hist_t win_sojourn;
    sim_tavg_t win_busy;
    bool windowed;                /* time series sampled: win_sojourn, win_busy kept */
    bool overflow;                /* rejections seen in the previous window */
    uint64_t overflow_rejected;   /* rejections in the current episode */
    int col[6];
};

/* Set up a station in run `sim`; registers its time series and warm-up hook.
 * `spec` must outlive the station. Returns 0 or SIM_ENOMEM. */
int stn_init(station_t *st, sim_t *sim, const stn_spec_t *spec, stn_exit_fn on_exit, void *owner);
void stn_fini(station_t *st);

/* Install the start hook (NULL: none); its owner argument is the station's owner. */
static inline void stn_set_start_hook(station_t *st, stn_start_fn fn) { st->on_start = fn; }
/* Install the batch hook (NULL: none); its owner argument is the station's owner. */
static inline void stn_set_batch_hook(station_t *st, stn_batch_fn fn) { st->on_batch = fn; }

/* Install the hook told when `busy` changes (NULL: none), with its own context. */
static inline void stn_set_busy_hook(station_t *st, stn_busy_fn fn, void *ctx)
{
    st->on_busy = fn;
    st->busy_ctx = ctx;
}

/* Install the hook told when a background job ends. */
static inline void stn_set_background_hook(station_t *st, stn_background_fn fn) { st->on_background = fn; }

/* Start background work: `work` ns of CPU split evenly over `threads`
 * threads (>= 1), sharing the cores with the jobs in service
 * (spec.background and spec.cores > 0 required). The job must not be at
 * the station already. Returns false if the heap cannot grow (out of
 * memory: the work is not started). O(log jobs). */
bool stn_background(station_t *st, stn_job_t *job, sim_time_t work, int64_t threads);
/* Drop a background job before its end (no hook call); false if it was not running. */
bool stn_background_cancel(station_t *st, stn_job_t *job);

/* s x factor, rounded to the ns (s itself when factor is 1), saturated as
 * sim_time_from_s saturates. */
static inline sim_time_t stn_scale(sim_time_t s, double factor)
{
    return factor == 1.0 ? s : sim_time_from_s(sim_time_to_s(s) * factor);
}

/* Offer a job. Returns true if it was accepted (in service or queued), false
 * if the queue was full (rejected: no callback will come). */
bool stn_submit(station_t *st, stn_job_t *job);

/* Withdraw a job that waits in the queue (its owner cancelled it): unlinks
 * it, cancels its queue-timeout timer, counts it as `cancelled` and returns
 * true; no exit callback comes, the caller finishes the job itself. A job in
 * service cannot be withdrawn: returns false and changes nothing (its
 * completion still comes through the exit callback). The job must be at
 * `st` (accepted, not yet exited). O(1): the queue is doubly linked. */
bool stn_cancel(station_t *st, stn_job_t *job);

/* Change the number of servers (capacity faults). Jobs in service finish;
 * waiting jobs start if servers were added. */
void stn_set_servers(station_t *st, int64_t servers);

/* Abort every job, waiting or in service (a crash): each leaves with
 * STN_ABORTED through the exit callback, in service first, then in queue
 * order. O(jobs at the station). */
void stn_abort_all(station_t *st);

/* Close the statistics at the end of the run (logs an open overflow episode). */
void stn_finish(station_t *st);

struct rs_report;
struct sim_scenario;
/* Warnings for a station on a route at long-run arrival rate `lambda`:
 * unstable (unbounded queue, load >= 1), queue timeout not shorter than the run. */
void stn_spec_check(const stn_spec_t *spec, double lambda, const struct sim_scenario *sc, sim_cfg_node_t *node,
                    sim_diag_t *d);
/* Add the station's figures to a run report (section "stations"). */
void stn_report(const station_t *st, struct rs_report *rep);

/* Utilisation since warm-up: time-averaged busy servers / servers. */
double stn_utilization(const station_t *st);
double stn_mean_queue_len(const station_t *st);

#endif
