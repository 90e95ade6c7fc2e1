/* The discrete-event engine.
 *
 * A sim_t owns simulated time, the pending-event set, the named random
 * streams of one run, the sampled time series and the log of notable events.
 * Models schedule callbacks; the engine runs them in (time, seq) order.
 * The engine knows nothing about what is being simulated: models (in
 * models/) register samplers, hooks and log entries through this API.
 *
 * One sim_t is one run (one replication of one variant). It is not
 * thread-safe; independent runs may use separate sim_t in parallel. */
#ifndef SIM_SIM_H
#define SIM_SIM_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "evset.h"
#include "nameidx.h"
#include "rng.h"
#include "table.h"
#include "time.h"

/* Handle to a scheduled event; {0} means "nothing scheduled". Valid after the
 * event ran or was cancelled: cancelling a stale handle does nothing. */
typedef struct {
    sim_event_t *ev;
    uint64_t seq;
} sim_timer_t;

typedef struct {
    uint64_t master_seed;
    uint32_t replication;
    sim_time_t sample_interval;   /* > 0: sample the time series every interval; 0: never */
    sim_time_t warmup;            /* statistics before this time are discarded (hooks) */
    uint64_t max_events;          /* 0 = unlimited */
    size_t max_log_rows;          /* events-table cap; 0 = default 100000 */
    sim_time_t horizon;           /* > 0: the run's planned end; the time series are sized
                                   * for it at once (no regrowth while the run goes on) */
} sim_config_t;

typedef enum {
    SIM_RUN_TIME,       /* reached the end time */
    SIM_RUN_EMPTY,      /* no events left */
    SIM_RUN_STOPPED,    /* sim_stop() was called */
    SIM_RUN_BUDGET,     /* max_events reached */
    SIM_RUN_ERROR,      /* out of memory, or the series sink failed (sim_error() tells) */
    SIM_RUN_LIMIT,      /* the limit callback (sim_set_limit) asked to stop */
} sim_run_result_t;

/* Progress callback, called every 65536 events (cheap to ignore). */
typedef void (*sim_progress_fn)(void *ctx, const sim_t *sim);
/* Limit callback, called every 65536 events with the progress callback:
 * non-zero stops the run with SIM_RUN_LIMIT (resource budgets). */
typedef int (*sim_limit_fn)(void *ctx, const sim_t *sim);
/* Sampler: write this interval's values with sim_series_set(). `dt` is the
 * interval just ended (now - previous sample). */
typedef void (*sim_sampler_fn)(sim_t *sim, void *ctx, sim_time_t dt);
/* Hook called once at the warm-up time (reset statistics). */
typedef void (*sim_hook_fn)(sim_t *sim, void *ctx);
/* Time-series sink (sim_set_series_sink): takes the samples
 * [first, first + rows) of the run, readable during the call as
 * sim_series_times(sim)[0 .. rows) and sim_series_data(sim, col)[0 .. rows).
 * Returns 0, or an error code (SIM_E*) that stops the run. */
typedef int (*sim_series_sink_fn)(void *ctx, const sim_t *sim, size_t first, size_t rows);

struct sim {
    sim_time_t now;
    sim_evset_t es;
    uint64_t events;              /* events processed */
    uint64_t max_events;          /* UINT64_MAX when unlimited */
    bool stop;
    int error;                    /* first error (SIM_ENOMEM) or 0 */
    sim_config_t cfg;

    sim_progress_fn progress;
    void *progress_ctx;
    volatile sig_atomic_t *interrupt;   /* set by a signal handler: the run stops (checked every 65536 events) */
    sim_limit_fn limit;
    void *limit_ctx;

    struct sim_stream_ *streams;  /* named random streams */
    size_t nstreams, streams_cap;
    sim_nameidx_t streams_ix;     /* their names -> index */

    struct sim_series_ *series;   /* time series columns */
    size_t nseries, series_cap;
    sim_nameidx_t series_ix;      /* their names -> index: a model with thousands of stations
                                     adds its series and streams in O(1) each, not O(n) */
    double *series_t;             /* sample times, seconds */
    size_t nsamples, samples_cap; /* samples taken; rows of the buffer */
    size_t samples_first;         /* run index of the buffer's row 0 (0 unless a sink takes blocks) */
    size_t samples_handed;        /* samples the sink has taken */
    sim_time_t last_sample;
    sim_series_sink_fn sink;
    void *sink_ctx;
    size_t sink_block;            /* > 0: the buffer holds this many rows, handed over when full */

    struct sim_cb_ *samplers;
    size_t nsamplers, samplers_cap;
    struct sim_cb_ *warmup_hooks;
    size_t nwarmup, warmup_cap;

    sim_table_t log;              /* notable events: time, kind, source, value, detail */
    int log_col[6];
};

/* Create a run. Schedules the sampling and warm-up events. NULL on OOM. */
sim_t *sim_create(const sim_config_t *cfg);
void sim_destroy(sim_t *sim);   /* NULL is a no-op */

static inline sim_time_t sim_now(const sim_t *sim) { return sim->now; }
static inline uint64_t sim_events_processed(const sim_t *sim) { return sim->events; }
static inline size_t sim_pending(const sim_t *sim) { return sim_evset_size(&sim->es); }
static inline int sim_error(const sim_t *sim) { return sim->error; }
static inline uint32_t sim_replication(const sim_t *sim) { return sim->cfg.replication; }
/* Whether the time series are sampled (samplers run): statistics kept only for
 * a sample window can be skipped when they are not. */
static inline bool sim_sampling(const sim_t *sim) { return sim->cfg.sample_interval > 0; }

/* Schedule fn(sim, obj, arg) at absolute time t (>= now; earlier times are
 * clamped to now). O(1), no malloc in steady state. On out-of-memory
 * returns a null handle, records SIM_ENOMEM and the run stops. */
static inline sim_timer_t sim_schedule_at(sim_t *sim, sim_time_t t, sim_event_fn fn, void *obj,
                                          uint64_t arg)
{
    if (t < sim->now) t = sim->now;
    sim_event_t *ev = sim_evset_push(&sim->es, t, fn, obj, arg);
    if (!ev) {
        sim->error = SIM_ENOMEM;
        sim->stop = true;
        return (sim_timer_t){0, 0};
    }
    return (sim_timer_t){ev, ev->seq};
}

static inline sim_timer_t sim_schedule_in(sim_t *sim, sim_time_t dt, sim_event_fn fn, void *obj,
                                          uint64_t arg)
{
    return sim_schedule_at(sim, sim->now + (dt > 0 ? dt : 0), fn, obj, arg);
}

/* Cancel a scheduled event; clears the handle. True if it was still pending. O(1). */
static inline bool sim_cancel(sim_t *sim, sim_timer_t *t)
{
    bool ok = sim_evset_cancel(&sim->es, t->ev, t->seq);
    t->ev = NULL;
    t->seq = 0;
    return ok;
}

/* True if the handle's event is still pending. */
static inline bool sim_timer_pending(const sim_timer_t *t)
{
    return t->ev && t->ev->seq == t->seq && t->ev->state == SIM_EV_PENDING;
}

/* Run events with time <= until, in (time, seq) order, until one of the
 * conditions of sim_run_result_t. On SIM_RUN_TIME, now == until. */
sim_run_result_t sim_run(sim_t *sim, sim_time_t until);

/* Ask the run loop to return after the current event. */
static inline void sim_stop(sim_t *sim) { sim->stop = true; }

void sim_set_progress(sim_t *sim, sim_progress_fn fn, void *ctx);

/* A budget check: fn(ctx, sim) every 65536 events; non-zero ends the run
 * with SIM_RUN_LIMIT (NULL: none). */
static inline void sim_set_limit(sim_t *sim, sim_limit_fn fn, void *ctx)
{
    sim->limit = fn;
    sim->limit_ctx = ctx;
}

/* Approximate bytes the engine holds for this run: pending events (event
 * and heap entry each), the time series and the events table. For memory
 * budgets; O(1). */
size_t sim_memory_bytes(const sim_t *sim);

/* A flag a signal handler sets to stop the run: sim_run returns
 * SIM_RUN_STOPPED within 65536 events of it becoming non-zero. */
static inline void sim_set_interrupt(sim_t *sim, volatile sig_atomic_t *flag) { sim->interrupt = flag; }

/* The named random stream of this run (created on first use; the pointer is
 * stable for the run's life). Call at set-up, not per event: O(streams).
 * NULL on OOM. */
sim_rng_t *sim_stream(sim_t *sim, const char *name);

/* ---- Time series --------------------------------------------------------
 * Columns are added at set-up; at every sample the engine appends a row
 * (time and NaN in every column), then calls the samplers, which fill in
 * their columns. Names follow Prometheus conventions with labels in braces:
 * "station_queue_length{station=db}". Names are unique within a run: a
 * second series of a name is a programming error and aborts. Returns the
 * column index or -1 (OOM). */
int sim_series_add(sim_t *sim, const char *name, const char *unit, const char *help);
void sim_series_set(sim_t *sim, int col, double value);
int sim_add_sampler(sim_t *sim, sim_sampler_fn fn, void *ctx);
int sim_add_warmup_hook(sim_t *sim, sim_hook_fn fn, void *ctx);

size_t sim_series_count(const sim_t *sim);
/* Column of the series named `name`, or -1. O(1). */
int sim_series_find(const sim_t *sim, const char *name);
/* Name comparisons made so far by the lookups of streams and series (their
 * name indexes): linear in their number, whatever it is (for tests). */
uint64_t sim_name_probes(const sim_t *sim);
/* Samples taken so far in the run. */
size_t sim_series_samples(const sim_t *sim);
/* The samples held in memory: rows [sim_series_first(), sim_series_samples())
 * of the run, as sim_series_times()[0 ..] and sim_series_data()[0 ..].
 * Without a block sink that is every sample (first = 0). */
size_t sim_series_first(const sim_t *sim);
const double *sim_series_times(const sim_t *sim);          /* seconds */
const double *sim_series_data(const sim_t *sim, size_t col);

/* Hand the samples to fn(ctx, ...) as the run goes, so that memory does not
 * grow with the run's length. block_rows > 0: the engine holds at most
 * block_rows samples and hands over each full block before it takes the
 * next sample; 0: it keeps every sample (as without a sink) and only
 * sim_series_flush() hands them over. Set before the first sample, after
 * or before the columns are added. SIM_ENOMEM, or SIM_ESTATE once sampling
 * has started. */
int sim_set_series_sink(sim_t *sim, sim_series_sink_fn fn, void *ctx, size_t block_rows);
/* Hand the samples not handed over yet to the sink (after the run); they
 * stay readable until the next sample. 0, or the sink's error. */
int sim_series_flush(sim_t *sim);
const char *sim_series_name(const sim_t *sim, size_t col);
const char *sim_series_unit(const sim_t *sim, size_t col);
const char *sim_series_help(const sim_t *sim, size_t col);

/* ---- Notable events -----------------------------------------------------
 * A row in the run's `events` table (run start/end, overflow episodes, OOM
 * kills, breaker transitions ...). For rare events only: the caller may
 * format `detail`. Strings are truncated to the column widths (kind 32,
 * source 48, detail 160 bytes). */
void sim_log_event(sim_t *sim, const char *kind, const char *source, double value,
                   const char *detail);
static inline const sim_table_t *sim_log_table(const sim_t *sim) { return &sim->log; }

#endif
