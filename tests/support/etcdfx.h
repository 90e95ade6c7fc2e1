/* The etcd model driven by hand, for the test_etcd* suites
 * (tests/models/components/): a run with etcd alone, a recorder of what a
 * watcher's callback saw, and the helpers more than one suite uses. Header
 * only (static inline): each suite gets its own copy. */
#ifndef RAGSIM_ETCDFX_H
#define RAGSIM_ETCDFX_H

#include <criterion/criterion.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "models/components/etcd/etcd.h"
#include "sim/sim.h"
#include "sim/table.h"

#define MAXEV 512

/* What one watcher's callback saw: one entry per response. */
typedef struct {
    etcd_t *e;
    int n;
    int64_t rev[MAXEV], key[MAXEV], nev[MAXEV];
    sim_time_t at[MAXEV];
    bool ack_in_cb;            /* a non-auto-ack handler that acks before returning */
} rec_t;

static inline void on_event(sim_t *sim, void *ctx, int watcher, int64_t revision, int64_t key, int64_t nevents)
{
    rec_t *r = ctx;
    cr_assert_lt(r->n, MAXEV);
    r->rev[r->n] = revision;
    r->key[r->n] = key;
    r->nev[r->n] = nevents;
    r->at[r->n] = sim_now(sim);
    r->n++;
    if (r->ack_in_cb) etcd_ack(r->e, watcher);
}

typedef struct {
    sim_t *sim;
    etcd_spec_t spec;
    etcd_t *e;
} fix_t;

/* Defaults, then one core and deterministic costs the tests set. */
static inline void fix_spec(fix_t *f)
{
    memset(f, 0, sizeof *f);
    etcd_spec_default(&f->spec);
}

static inline void fix_start(fix_t *f, uint64_t seed, sim_time_t sample)
{
    sim_config_t cfg = {.master_seed = seed, .sample_interval = sample};
    f->sim = sim_create(&cfg);
    cr_assert_not_null(f->sim);
    f->e = etcd_create(f->sim, &f->spec);
    cr_assert_not_null(f->e);
}

static inline void fix_fini(fix_t *f)
{
    etcd_destroy(f->e);
    sim_destroy(f->sim);
    etcd_spec_fini(&f->spec);
}

static inline void set_prop(etcd_spec_t *s, double seconds)
{
    sim_dist_fini(&s->propagation);
    cr_assert_eq(sim_dist_deterministic(&s->propagation, seconds), 0);
}

static inline etcd_stats_t stats(const fix_t *f)
{
    etcd_stats_t st;
    etcd_stats(f->e, &st);
    return st;
}

/* A client (a connection: no lease) with one watcher on `prefix`; returns
 * the watcher id. */
static inline int watch_new(fix_t *f, const char *prefix, bool auto_ack, rec_t *r)
{
    int c = etcd_client_open(f->e);
    cr_assert_geq(c, 0);
    r->e = f->e;
    int w = etcd_watch(f->e, c, prefix, auto_ack, on_event, r);
    cr_assert_geq(w, 0);
    return w;
}

static inline void fix_noop(sim_t *sim, void *obj, uint64_t arg)
{
    (void)sim;
    (void)obj;
    (void)arg;
}

/* Run to `until`: the clock ends there even when nothing else is left to
 * do (a no-op event at `until`; a client without a lease schedules nothing,
 * so the event set may be empty). */
static inline void run(fix_t *f, sim_time_t until)
{
    if (until > sim_now(f->sim)) sim_schedule_at(f->sim, until, fix_noop, NULL, 0);
    sim_run_result_t rc = sim_run(f->sim, until);
    cr_assert(rc == SIM_RUN_TIME || rc == SIM_RUN_EMPTY, "sim_run: %d", (int)rc);
}

static inline void put_storm(sim_t *sim, void *obj, uint64_t arg)
{
    (void)sim;
    etcd_put(obj, "/config/rag/", (int64_t)arg);
}

static inline void close_client(sim_t *sim, void *obj, uint64_t arg)
{
    (void)sim;
    etcd_client_close(obj, (int)arg);
}

/* One core, zero CPU costs, 1 ms propagation: 200 events (200 puts, 200
 * responses) reach a non-auto-ack watcher at 1 ms. */
static inline int victim_setup_n(fix_t *f, rec_t *r, int64_t nkeys)
{
    fix_spec(f);
    f->spec.cores = 1;
    f->spec.cost_put = f->spec.cost_event = f->spec.cost_connect = f->spec.cost_grant = 0;
    set_prop(&f->spec, 0.001);
    fix_start(f, 1, 0);
    memset(r, 0, sizeof *r);
    int w = watch_new(f, "/a/", false, r);
    etcd_put(f->e, "/a/", nkeys);
    return w;
}

static inline int victim_setup(fix_t *f, rec_t *r) { return victim_setup_n(f, r, 200); }

static inline int count_log(const sim_t *sim, const char *kind, sim_time_t *first_at)
{
    const sim_table_t *t = sim_log_table(sim);
    int ck = sim_table_find_col(t, "kind"), ct = sim_table_find_col(t, "time_ns");
    cr_assert_geq(ck, 0);
    cr_assert_geq(ct, 0);
    int n = 0;
    for (size_t i = 0; i < t->nrows; i++)
        if (strcmp(sim_table_get_str(t, i, ck), kind) == 0) {
            if (n == 0 && first_at) *first_at = sim_table_get_i64(t, i, ct);
            n++;
        }
    return n;
}

typedef struct {
    int n;
    int client;
    int64_t rev;
    sim_time_t at;
} range_rec_t;

static inline void on_range(sim_t *sim, void *ctx, int client, int64_t revision)
{
    range_rec_t *x = ctx;
    x->n++;
    x->client = client;
    x->rev = revision;
    x->at = sim_now(sim);
}

#endif
