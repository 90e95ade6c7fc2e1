/* A run (sim.h): the clock, scheduling and the run loop, the event pool,
 * streams, time series and samplers, warm-up hooks, the event log. Calls the
 * event set, streams and tables. */
#include "sim.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"

struct sim_stream_ {
    char *name;
    sim_rng_t *rng;
};

struct sim_series_ {
    char *name, *unit, *help;
    double *data;
};

struct sim_cb_ {      /* a sampler or a hook, whichever is set */
    void *ctx;
    sim_sampler_fn sampler;
    sim_hook_fn hook;
};

#define LOG_KIND_W 32
#define LOG_SOURCE_W 48
#define LOG_DETAIL_W 160

static int grow(void **p, size_t *cap, size_t need, size_t elem)
{
    if (need <= *cap) return 0;
    size_t nc = *cap ? *cap : 8;
    while (nc < need) nc *= 2;
    void *q = realloc(*p, nc * elem);
    if (!q) return SIM_ENOMEM;
    *p = q;
    *cap = nc;
    return 0;
}

static const char *stream_name_at(const void *sim, size_t i) { return ((const sim_t *)sim)->streams[i].name; }
static const char *series_name_at(const void *sim, size_t i) { return ((const sim_t *)sim)->series[i].name; }

static void sample_event(sim_t *sim, void *obj, uint64_t arg);
static void warmup_event(sim_t *sim, void *obj, uint64_t arg);

sim_t *sim_create(const sim_config_t *cfg)
{
    sim_t *sim = calloc(1, sizeof *sim);
    if (!sim) return NULL;
    sim->cfg = *cfg;
    sim->max_events = cfg->max_events ? cfg->max_events : UINT64_MAX;
    sim_nameidx_init(&sim->streams_ix, stream_name_at, sim);
    sim_nameidx_init(&sim->series_ix, series_name_at, sim);
    if (sim_evset_init(&sim->es) != 0) goto fail;

    sim_table_init(&sim->log, "events");
    sim->log.max_rows = cfg->max_log_rows ? cfg->max_log_rows : 100000;
    sim->log_col[0] = sim_table_col_f64(&sim->log, "time", "s");
    sim->log_col[1] = sim_table_col_i64(&sim->log, "time_ns", "ns");
    sim->log_col[2] = sim_table_col_str(&sim->log, "kind", LOG_KIND_W);
    sim->log_col[3] = sim_table_col_str(&sim->log, "source", LOG_SOURCE_W);
    sim->log_col[4] = sim_table_col_f64(&sim->log, "value", "");
    sim->log_col[5] = sim_table_col_str(&sim->log, "detail", LOG_DETAIL_W);

    if (cfg->sample_interval > 0 && cfg->horizon > 0) {
        sim_time_t rows = cfg->horizon / cfg->sample_interval + 1;
        if (rows > 0 && rows <= 10000000) {
            sim->series_t = malloc((size_t)rows * sizeof *sim->series_t);
            if (!sim->series_t) goto fail;
            sim->samples_cap = (size_t)rows;
        }
    }
    if (cfg->sample_interval > 0) sim_schedule_at(sim, cfg->sample_interval, sample_event, NULL, 0);
    if (cfg->warmup > 0) sim_schedule_at(sim, cfg->warmup, warmup_event, NULL, 0);
    if (sim->error) goto fail;
    return sim;
fail:
    sim_destroy(sim);
    return NULL;
}

void sim_destroy(sim_t *sim)
{
    if (!sim) return;
    for (size_t i = 0; i < sim->nstreams; i++) {
        free(sim->streams[i].name);
        free(sim->streams[i].rng);
    }
    free(sim->streams);
    sim_nameidx_fini(&sim->streams_ix);
    sim_nameidx_fini(&sim->series_ix);
    for (size_t i = 0; i < sim->nseries; i++) {
        free(sim->series[i].name);
        free(sim->series[i].unit);
        free(sim->series[i].help);
        free(sim->series[i].data);
    }
    free(sim->series);
    free(sim->series_t);
    free(sim->samplers);
    free(sim->warmup_hooks);
    sim_table_fini(&sim->log);
    sim_evset_fini(&sim->es);
    free(sim);
}

sim_run_result_t sim_run(sim_t *sim, sim_time_t until)
{
    sim_evset_t *es = &sim->es;
    for (;;) {
        if (sim->stop) {
            sim->stop = false;
            return sim->error ? SIM_RUN_ERROR : SIM_RUN_STOPPED;
        }
        sim_event_t *ev = sim_evset_pop(es, until);
        if (!ev) {
            if (es->oom) {
                sim->error = SIM_ENOMEM;
                return SIM_RUN_ERROR;
            }
            if (sim_evset_size(es) == 0) return SIM_RUN_EMPTY;
            sim->now = until;
            return SIM_RUN_TIME;
        }
        sim->now = ev->time;
        sim_event_fn fn = ev->fn;
        void *obj = ev->obj;
        uint64_t arg = ev->arg;
        sim_evset_release(es, ev);
        fn(sim, obj, arg);
        if (++sim->events >= sim->max_events) return SIM_RUN_BUDGET;
        if ((sim->events & 0xFFFF) == 0) {
            if (sim->interrupt && *sim->interrupt) return SIM_RUN_STOPPED;
            if (sim->limit && sim->limit(sim->limit_ctx, sim)) return SIM_RUN_LIMIT;
            if (sim->progress) sim->progress(sim->progress_ctx, sim);
        }
    }
}

size_t sim_memory_bytes(const sim_t *sim)
{
    size_t ev = sim_pending(sim) * (sizeof(sim_event_t) + sizeof(sim_evset_entry_t));
    size_t series = sim->samples_cap * (sim->nseries + 1) * sizeof(double);
    size_t log = sim->log.nrows * sim->log.row_size;
    return ev + series + log;
}

void sim_set_progress(sim_t *sim, sim_progress_fn fn, void *ctx)
{
    sim->progress = fn;
    sim->progress_ctx = ctx;
}

sim_rng_t *sim_stream(sim_t *sim, const char *name)
{
    long k = sim_nameidx_find(&sim->streams_ix, name);
    if (k >= 0) return sim->streams[k].rng;
    if (grow((void **)&sim->streams, &sim->streams_cap, sim->nstreams + 1, sizeof *sim->streams))
        return NULL;
    char *n = strdup(name);
    sim_rng_t *r = malloc(sizeof *r);
    if (!n || !r) {
        free(n);
        free(r);
        return NULL;
    }
    sim_rng_init(r, sim_rng_stream_seed(sim->cfg.master_seed, name, sim->cfg.replication));
    sim->streams[sim->nstreams] = (struct sim_stream_){n, r};
    if (sim_nameidx_add(&sim->streams_ix, sim->nstreams)) {
        free(n);
        free(r);
        return NULL;
    }
    sim->nstreams++;
    return r;
}

/* ---- time series ---- */

int sim_series_add(sim_t *sim, const char *name, const char *unit, const char *help)
{
    /* a name names one row of the trace's timeseries/values: two series
     * of one name would leave a reader one of them (a model's mistake) */
    if (sim_nameidx_find(&sim->series_ix, name) >= 0) {
        fprintf(stderr, "ragsim: internal error: two time series named '%s'\n", name);
        abort();
    }
    if (grow((void **)&sim->series, &sim->series_cap, sim->nseries + 1, sizeof *sim->series))
        return -1;
    struct sim_series_ s = {strdup(name), strdup(unit ? unit : ""), strdup(help ? help : ""), NULL};
    if (sim->samples_cap) s.data = malloc(sim->samples_cap * sizeof(double));
    if (!s.name || !s.unit || !s.help || (sim->samples_cap && !s.data)) {
        free(s.name);
        free(s.unit);
        free(s.help);
        free(s.data);
        return -1;
    }
    for (size_t i = sim->samples_first; i < sim->nsamples; i++) s.data[i - sim->samples_first] = NAN;
    sim->series[sim->nseries] = s;
    if (sim_nameidx_add(&sim->series_ix, sim->nseries)) {
        free(s.name);
        free(s.unit);
        free(s.help);
        free(s.data);
        return -1;
    }
    return (int)sim->nseries++;
}

void sim_series_set(sim_t *sim, int col, double value)
{
    if (col < 0 || (size_t)col >= sim->nseries || sim->nsamples == 0) return;
    sim->series[col].data[sim->nsamples - 1 - sim->samples_first] = value;
}

/* Resize the buffer (time and every column) to `rows` rows. */
static int resize_buffer(sim_t *sim, size_t rows)
{
    double *t = realloc(sim->series_t, rows * sizeof *t);
    if (!t) return SIM_ENOMEM;
    sim->series_t = t;
    for (size_t i = 0; i < sim->nseries; i++) {
        double *d = realloc(sim->series[i].data, rows * sizeof *d);
        if (!d) return SIM_ENOMEM;
        sim->series[i].data = d;
    }
    sim->samples_cap = rows;
    return 0;
}

int sim_set_series_sink(sim_t *sim, sim_series_sink_fn fn, void *ctx, size_t block_rows)
{
    if (sim->nsamples > 0) return SIM_ESTATE;
    sim->sink = fn;
    sim->sink_ctx = ctx;
    sim->sink_block = fn ? block_rows : 0;
    if (sim->sink_block > 0 && sim->samples_cap != sim->sink_block)
        return resize_buffer(sim, sim->sink_block);
    return 0;
}

int sim_series_flush(sim_t *sim)
{
    size_t rows = sim->nsamples - sim->samples_handed;
    if (!sim->sink || rows == 0) return 0;
    /* the rows not handed over are the buffer's last `rows` rows; with a
     * block sink they are the whole buffer, without one the buffer holds
     * the run from its start */
    size_t first = sim->samples_handed;
    int rc;
    if (first == sim->samples_first) {
        rc = sim->sink(sim->sink_ctx, sim, first, rows);
    } else {
        /* a keep-everything sink flushed twice: hand over the tail through
         * a shifted view (never the case for a block sink) */
        size_t off = first - sim->samples_first;
        double *t0 = sim->series_t;
        sim->series_t += off;
        for (size_t i = 0; i < sim->nseries; i++) sim->series[i].data += off;
        rc = sim->sink(sim->sink_ctx, sim, first, rows);
        sim->series_t = t0;
        for (size_t i = 0; i < sim->nseries; i++) sim->series[i].data -= off;
    }
    if (rc == 0) sim->samples_handed = sim->nsamples;
    return rc;
}

static int add_cb(struct sim_cb_ **arr, size_t *n, size_t *cap, struct sim_cb_ cb)
{
    if (grow((void **)arr, cap, *n + 1, sizeof **arr)) return SIM_ENOMEM;
    (*arr)[(*n)++] = cb;
    return 0;
}

int sim_add_sampler(sim_t *sim, sim_sampler_fn fn, void *ctx)
{
    return add_cb(&sim->samplers, &sim->nsamplers, &sim->samplers_cap,
                  (struct sim_cb_){ctx, fn, NULL});
}

int sim_add_warmup_hook(sim_t *sim, sim_hook_fn fn, void *ctx)
{
    return add_cb(&sim->warmup_hooks, &sim->nwarmup, &sim->warmup_cap,
                  (struct sim_cb_){ctx, NULL, fn});
}

static int append_sample_row(sim_t *sim)
{
    size_t row = sim->nsamples - sim->samples_first;
    if (row == sim->samples_cap) {
        if (sim->sink_block > 0) {
            /* hand the full block over, then reuse the buffer */
            int rc = sim_series_flush(sim);
            if (rc) return rc;
            sim->samples_first = sim->nsamples;
            row = 0;
        } else {
            int rc = resize_buffer(sim, sim->samples_cap ? sim->samples_cap * 2 : 256);
            if (rc) return rc;
        }
    }
    sim->series_t[row] = sim_time_to_s(sim->now);
    for (size_t i = 0; i < sim->nseries; i++) sim->series[i].data[row] = NAN;
    sim->nsamples++;
    return 0;
}

static void sample_event(sim_t *sim, void *obj, uint64_t arg)
{
    (void)obj;
    (void)arg;
    int rc = append_sample_row(sim);
    if (rc != 0) {
        sim->error = rc;
        sim->stop = true;
        return;
    }
    sim_time_t dt = sim->now - sim->last_sample;
    for (size_t i = 0; i < sim->nsamplers; i++)
        sim->samplers[i].sampler(sim, sim->samplers[i].ctx, dt);
    sim->last_sample = sim->now;
    sim_schedule_at(sim, sim->now + sim->cfg.sample_interval, sample_event, NULL, 0);
}

static void warmup_event(sim_t *sim, void *obj, uint64_t arg)
{
    (void)obj;
    (void)arg;
    for (size_t i = 0; i < sim->nwarmup; i++) sim->warmup_hooks[i].hook(sim, sim->warmup_hooks[i].ctx);
}

size_t sim_series_count(const sim_t *sim) { return sim->nseries; }
uint64_t sim_name_probes(const sim_t *sim) { return sim->streams_ix.probes + sim->series_ix.probes; }
int sim_series_find(const sim_t *sim, const char *name)
{
    return (int)sim_nameidx_find((sim_nameidx_t *)&sim->series_ix, name);
}
size_t sim_series_samples(const sim_t *sim) { return sim->nsamples; }
size_t sim_series_first(const sim_t *sim) { return sim->samples_first; }
const double *sim_series_times(const sim_t *sim) { return sim->series_t; }
const double *sim_series_data(const sim_t *sim, size_t col) { return sim->series[col].data; }
const char *sim_series_name(const sim_t *sim, size_t col) { return sim->series[col].name; }
const char *sim_series_unit(const sim_t *sim, size_t col) { return sim->series[col].unit; }
const char *sim_series_help(const sim_t *sim, size_t col) { return sim->series[col].help; }

/* ---- notable events ---- */

void sim_log_event(sim_t *sim, const char *kind, const char *source, double value,
                   const char *detail)
{
    unsigned char *row = sim_table_append(&sim->log);
    if (!row) return;
    const sim_table_t *t = &sim->log;
    sim_row_f64(t, row, sim->log_col[0], sim_time_to_s(sim->now));
    sim_row_i64(t, row, sim->log_col[1], sim->now);
    sim_row_str(t, row, sim->log_col[2], kind ? kind : "");
    sim_row_str(t, row, sim->log_col[3], source ? source : "");
    sim_row_f64(t, row, sim->log_col[4], value);
    sim_row_str(t, row, sim->log_col[5], detail ? detail : "");
}
