/* etcd: one event per key per watcher (never merged), delivery times through
 * the CPU queue by hand, stream buffers and victims retried every 10 ms,
 * leases against a quota, keepalive CPU, memory, parsing, determinism. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "models/components/etcd/etcd.h"
#include "sim/cfg.h"
#include "sim/error.h"

#define MAXEV 512

/* What one watcher's callback saw. */
typedef struct {
    etcd_t *e;
    int n;
    int64_t rev[MAXEV], key[MAXEV];
    sim_time_t at[MAXEV];
    bool ack_in_cb;            /* a non-auto-ack handler that acks before returning */
} rec_t;

static void on_event(sim_t *sim, void *ctx, int watcher, int64_t revision, int64_t key)
{
    rec_t *r = ctx;
    cr_assert_lt(r->n, MAXEV);
    r->rev[r->n] = revision;
    r->key[r->n] = key;
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
static void fix_spec(fix_t *f)
{
    memset(f, 0, sizeof *f);
    etcd_spec_default(&f->spec);
}

static void fix_start(fix_t *f, uint64_t seed, sim_time_t sample)
{
    sim_config_t cfg = {.master_seed = seed, .sample_interval = sample};
    f->sim = sim_create(&cfg);
    cr_assert_not_null(f->sim);
    f->e = etcd_create(f->sim, &f->spec);
    cr_assert_not_null(f->e);
}

static void fix_fini(fix_t *f)
{
    etcd_destroy(f->e);
    sim_destroy(f->sim);
    etcd_spec_fini(&f->spec);
}

static void set_prop(etcd_spec_t *s, double seconds)
{
    sim_dist_fini(&s->propagation);
    cr_assert_eq(sim_dist_deterministic(&s->propagation, seconds), 0);
}

static etcd_stats_t stats(const fix_t *f)
{
    etcd_stats_t st;
    etcd_stats(f->e, &st);
    return st;
}

/* A client with one watcher on `prefix`; returns the watcher id. */
static int watch_new(fix_t *f, const char *prefix, bool auto_ack, rec_t *r)
{
    int c = etcd_client_open(f->e);
    cr_assert_geq(c, 0);
    r->e = f->e;
    int w = etcd_watch(f->e, c, prefix, auto_ack, on_event, r);
    cr_assert_geq(w, 0);
    return w;
}

/* Run to `until`; SIM_RUN_EMPTY (nothing left to do) is fine too. */
static void run(fix_t *f, sim_time_t until)
{
    sim_run_result_t rc = sim_run(f->sim, until);
    cr_assert(rc == SIM_RUN_TIME || rc == SIM_RUN_EMPTY, "sim_run: %d", (int)rc);
}

/* ---- events ---------------------------------------------------------------- */

Test(etcd, push_delivers_one_event_per_key_to_each_matching_watcher)
{
    fix_t f;
    fix_spec(&f);
    fix_start(&f, 1, 0);
    static rec_t r[6];
    memset(r, 0, sizeof r);
    const char *prefixes[6] = {"/config/rag/", "/config/rag/", "/config/rag/", "/config/", "/other/",
                               "/config/rag/x"};
    for (int i = 0; i < 6; i++) watch_new(&f, prefixes[i], true, &r[i]);
    etcd_put(f.e, "/other/", 1);                     /* revision 1: only r[4] */
    int64_t first = etcd_put(f.e, "/config/rag/", 50);
    cr_assert_eq(first, 2);
    run(&f, SIM_SEC);
    for (int i = 0; i < 4; i++) {
        cr_assert_eq(r[i].n, 50, "watcher %d got %d events", i, r[i].n);
        for (int k = 0; k < 50; k++) {
            cr_assert_eq(r[i].rev[k], first + k, "watcher %d event %d: revision %lld", i, k,
                         (long long)r[i].rev[k]);
            cr_assert_eq(r[i].key[k], k);
        }
    }
    cr_assert_eq(r[4].n, 1);
    cr_assert_eq(r[4].rev[0], 1);
    cr_assert_eq(r[5].n, 0, "a watch on a longer prefix than the put's matches nothing");
    etcd_stats_t st = stats(&f);
    cr_assert_eq(st.revision, 51);
    cr_assert_eq(st.applied_revision, 51);
    cr_assert_eq(st.events_fanned, 4 * 50 + 1);
    cr_assert_eq(st.events_delivered, 4 * 50 + 1);
    fix_fini(&f);
}

Test(etcd, single_event_takes_put_plus_event_cpu_plus_propagation)
{
    fix_t f;
    fix_spec(&f);
    f.spec.cores = 1;
    fix_start(&f, 1, 0);
    static rec_t r;
    memset(&r, 0, sizeof r);
    watch_new(&f, "/a/", true, &r);
    /* The open's connect (200us) and grant (50us) jobs hold the one core
     * first: the put starts at 250us. */
    etcd_put(f.e, "/a/", 1);
    run(&f, SIM_SEC);
    cr_assert_eq(r.n, 1);
    cr_assert_eq(r.at[0], 250 * SIM_US + 100 * SIM_US + 20 * SIM_US + 2 * SIM_MS);
    /* Later, on an idle CPU: exactly put + event + propagation. */
    etcd_put(f.e, "/a/", 1);
    run(&f, 2 * SIM_SEC);
    cr_assert_eq(r.n, 2);
    cr_assert_eq(r.at[1] - SIM_SEC, 100 * SIM_US + 20 * SIM_US + 2 * SIM_MS);
    fix_fini(&f);
}

static etcd_t *later_e;   /* the running test's etcd (each test is its own process) */

static void put_storm(sim_t *sim, void *obj, uint64_t arg)
{
    (void)sim;
    etcd_put(obj, "/config/rag/", (int64_t)arg);
}

static void put_two(sim_t *sim, void *obj, uint64_t arg)
{
    (void)sim;
    (void)arg;
    etcd_put(obj, "/a/", 2);
}

Test(etcd, fan_out_is_ordered_by_the_cpu_queue)
{
    fix_t f;
    fix_spec(&f);
    f.spec.cores = 1;
    fix_start(&f, 1, 0);
    static rec_t r[3];
    memset(r, 0, sizeof r);
    for (int i = 0; i < 3; i++) watch_new(&f, "/a/", true, &r[i]);
    sim_schedule_at(f.sim, SIM_SEC, put_two, f.e, 0);
    run(&f, 2 * SIM_SEC);
    /* One core, FIFO: put0 [0,100], put1 [100,200] (the station starts put1
     * before put0's fan-out is queued), then e(0,w0) [200,220], e(0,w1)
     * [220,240], e(0,w2) [240,260], e(1,w0) [260,280], e(1,w1) [280,300],
     * e(1,w2) [300,320] us; each arrives 2 ms after its job. */
    static const sim_time_t want[3][2] = {{2220, 2280}, {2240, 2300}, {2260, 2320}};
    for (int i = 0; i < 3; i++) {
        cr_assert_eq(r[i].n, 2);
        for (int k = 0; k < 2; k++)
            cr_assert_eq(r[i].at[k] - SIM_SEC, want[i][k] * SIM_US, "watcher %d key %d at %lld ns", i, k,
                         (long long)(r[i].at[k] - SIM_SEC));
    }
    fix_fini(&f);
}

typedef struct {
    fix_t *f;
    int client;
    const char *prefix;
    rec_t *r;
} later_watch_t;

static void watch_later(sim_t *sim, void *obj, uint64_t arg)
{
    (void)sim;
    (void)arg;
    later_watch_t *l = obj;
    l->r->e = l->f->e;
    cr_assert_geq(etcd_watch(l->f->e, l->client, l->prefix, true, on_event, l->r), 0);
}

Test(etcd, a_watch_sees_the_revisions_applied_after_it_was_created)
{
    fix_t f;
    fix_spec(&f);
    f.spec.cores = 1;
    fix_start(&f, 1, 0);
    static rec_t r[3];
    memset(r, 0, sizeof r);
    /* CPU: 3 x (connect 200 + grant 50) = [0, 750], put [750, 850]; A's event
     * [850, 870], B's [870, 890]. B watches while the put is in service (not
     * applied): it gets the event; C watches during the fan-out (applied): not. */
    int c[3];
    for (int i = 0; i < 3; i++) c[i] = etcd_client_open(f.e);
    static later_watch_t lw[3];
    static const sim_time_t when[3] = {0, 800 * SIM_US, 860 * SIM_US};
    for (int i = 0; i < 3; i++) {
        lw[i] = (later_watch_t){&f, c[i], "/a/", &r[i]};
        sim_schedule_at(f.sim, when[i], watch_later, &lw[i], 0);
    }
    etcd_put(f.e, "/a/", 1);
    run(&f, SIM_SEC);
    cr_assert_eq(r[0].n, 1);
    cr_assert_eq(r[0].at[0], 2870 * SIM_US);
    cr_assert_eq(r[1].n, 1);
    cr_assert_eq(r[1].at[0], 2890 * SIM_US);
    cr_assert_eq(r[2].n, 0);
    etcd_put(f.e, "/a/", 1);
    run(&f, 2 * SIM_SEC);
    cr_assert_eq(r[2].n, 1);
    cr_assert_eq(r[2].rev[0], 2);
    fix_fini(&f);
}

static void close_two(sim_t *sim, void *obj, uint64_t arg)
{
    (void)sim;
    (void)arg;
    int *c = obj;
    etcd_client_close(later_e, c[1]);
    etcd_client_close(later_e, c[2]);
}

Test(etcd, watchers_closed_during_a_fan_out_cost_nothing)
{
    fix_t f;
    fix_spec(&f);
    f.spec.cores = 1;
    fix_start(&f, 1, 0);
    static rec_t r[4];
    memset(r, 0, sizeof r);
    static int c[4];
    for (int i = 0; i < 4; i++) {
        c[i] = etcd_client_open(f.e);
        r[i].e = f.e;
        cr_assert_geq(etcd_watch(f.e, c[i], "/a/", true, on_event, &r[i]), 0);
    }
    /* CPU: [0, 1000] opens, put [1000, 1100], A's event [1100, 1120]. While it
     * runs, B (where the fan-out's cursor stands) and C close: D's event is
     * next, [1120, 1140]. */
    later_e = f.e;
    sim_schedule_at(f.sim, 1110 * SIM_US, close_two, c, 0);
    etcd_put(f.e, "/a/", 1);
    run(&f, SIM_SEC);
    cr_assert_eq(r[0].n, 1);
    cr_assert_eq(r[1].n, 0);
    cr_assert_eq(r[2].n, 0);
    cr_assert_eq(r[3].n, 1);
    cr_assert_eq(r[3].at[0], 3140 * SIM_US);
    etcd_stats_t st = stats(&f);
    cr_assert_eq(st.events_fanned, 2);
    cr_assert_eq(st.events_dropped, 0);
    fix_fini(&f);
}

typedef struct {
    int64_t n;
    sim_time_t last;
} tally_t;

static void on_tally(sim_t *sim, void *ctx, int watcher, int64_t revision, int64_t key)
{
    (void)watcher;
    (void)revision;
    (void)key;
    tally_t *t = ctx;
    t->n++;
    t->last = sim_now(sim);
}

Test(etcd, per_watch_clients_storm_by_hand)
{
    fix_t f;
    fix_spec(&f);
    fix_start(&f, 1, 0);
    enum { NW = 2000 };
    static tally_t t[NW];
    memset(t, 0, sizeof t);
    for (int i = 0; i < NW; i++) {
        int c = etcd_client_open(f.e);
        cr_assert_geq(c, 0);
        cr_assert_geq(etcd_watch(f.e, c, "/config/rag/", true, on_tally, &t[i]), 0);
    }
    run(&f, SIM_SEC);
    cr_assert_eq(stats(&f).cpu_jobs_done, 2 * NW);
    sim_schedule_at(f.sim, SIM_SEC, put_storm, f.e, 50);
    run(&f, 10 * SIM_SEC);
    /* 50 puts on 2 cores end at 2.5 ms; then 100000 events x 20 us on 2
     * cores take 1 s; the last arrives 2 ms later: 1 s + 2.5 ms + 1 s + 2 ms.
     * The last two watchers' last events share that final pair of slots. */
    sim_time_t last = 0;
    for (int i = 0; i < NW; i++) {
        cr_assert_eq(t[i].n, 50);
        if (t[i].last > last) last = t[i].last;
    }
    cr_assert_eq(last, 2004500 * SIM_US, "last event at %lld ns", (long long)last);
    cr_assert_eq(t[NW - 1].last, last);
    etcd_stats_t st = stats(&f);
    cr_assert_eq(st.events_fanned, 50 * NW);
    cr_assert_eq(st.events_delivered, 50 * NW);
    cr_assert_eq(st.connections, NW);
    cr_assert_eq(st.streams, NW);
    fix_fini(&f);
}

/* ---- stream buffers and victims -------------------------------------------- */

static void start_acking(sim_t *sim, void *obj, uint64_t arg)
{
    (void)sim;
    rec_t *r = obj;
    r->ack_in_cb = true;
    etcd_ack(r->e, (int)arg);
}

static void ack_once(sim_t *sim, void *obj, uint64_t arg)
{
    (void)sim;
    rec_t *r = obj;
    etcd_ack(r->e, (int)arg);
}

/* One core, zero CPU costs, 1 ms propagation: 200 events reach a non-auto-ack
 * watcher at 1 ms. */
static int victim_setup_n(fix_t *f, rec_t *r, int64_t nkeys)
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

static int victim_setup(fix_t *f, rec_t *r) { return victim_setup_n(f, r, 200); }

Test(etcd, full_stream_makes_a_victim_retried_every_victim_retry)
{
    fix_t f;
    static rec_t r;
    int w = victim_setup(&f, &r);
    run(&f, 5 * SIM_MS);
    /* One response in the handler, 128 buffered, 71 held by the victim. */
    etcd_stats_t st = stats(&f);
    cr_assert_eq(r.n, 1);
    cr_assert_eq(etcd_client_buffered(f.e, 0), 128);
    cr_assert_eq(etcd_watcher_pending(f.e, w), 71);
    cr_assert_eq(st.slow_watchers, 1);
    cr_assert_eq(st.victims_total, 1);
    /* At 25 ms the handler acks and keeps acking: the buffer empties at once;
     * the victim's events wait for the retry at 1 + 3 x 10 = 31 ms. */
    sim_schedule_at(f.sim, 25 * SIM_MS, start_acking, &r, (uint64_t)w);
    run(&f, 30 * SIM_MS);
    cr_assert_eq(r.n, 129);
    cr_assert_eq(stats(&f).slow_watchers, 1);
    run(&f, SIM_SEC);
    cr_assert_eq(r.n, 200);
    for (int k = 0; k < 200; k++) {
        cr_assert_eq(r.rev[k], k + 1, "event %d has revision %lld", k, (long long)r.rev[k]);
        sim_time_t want = k == 0 ? 1 * SIM_MS : k <= 128 ? 25 * SIM_MS : 31 * SIM_MS;
        cr_assert_eq(r.at[k], want, "event %d at %lld ns", k, (long long)r.at[k]);
    }
    st = stats(&f);
    cr_assert_eq(st.slow_watchers, 0);
    cr_assert_eq(st.events_delivered, 200);
    cr_assert_eq(etcd_watcher_pending(f.e, w), 0);
    fix_fini(&f);
}

Test(etcd, a_ready_client_takes_every_pending_event_in_one_retry)
{
    fix_t f;
    static rec_t r;
    int w = victim_setup_n(&f, &r, 400);
    sim_schedule_at(f.sim, 25 * SIM_MS, start_acking, &r, (uint64_t)w);
    run(&f, SIM_SEC);
    /* 1 at 1 ms, 128 at 25 ms; the 271 pending (more than one buffer) all at
     * 31 ms: the pass repeats while it moves anything (etcd's moveVictims loop). */
    cr_assert_eq(r.n, 400);
    cr_assert_eq(r.at[128], 25 * SIM_MS);
    cr_assert_eq(r.at[129], 31 * SIM_MS);
    cr_assert_eq(r.at[399], 31 * SIM_MS);
    cr_assert_eq(r.rev[399], 400);
    cr_assert_eq(stats(&f).victims_total, 1);
    fix_fini(&f);
}

Test(etcd, one_ack_frees_one_slot_that_the_next_retry_fills)
{
    fix_t f;
    static rec_t r;
    int w = victim_setup(&f, &r);
    sim_schedule_at(f.sim, 25 * SIM_MS, ack_once, &r, (uint64_t)w);
    run(&f, 30 * SIM_MS);
    cr_assert_eq(r.n, 2);
    cr_assert_eq(r.rev[1], 2);
    cr_assert_eq(r.at[1], 25 * SIM_MS);
    cr_assert_eq(etcd_client_buffered(f.e, 0), 127);
    cr_assert_eq(etcd_watcher_pending(f.e, w), 71);
    run(&f, 31 * SIM_MS);
    cr_assert_eq(etcd_client_buffered(f.e, 0), 128);
    cr_assert_eq(etcd_watcher_pending(f.e, w), 70);
    cr_assert_eq(stats(&f).slow_watchers, 1);
    fix_fini(&f);
}

Test(etcd, blocked_handler_holds_the_whole_stream)
{
    fix_t f;
    fix_spec(&f);
    f.spec.cores = 1;
    fix_start(&f, 1, 0);
    static rec_t ra, rb;
    memset(&ra, 0, sizeof ra);
    memset(&rb, 0, sizeof rb);
    int c = etcd_client_open(f.e);
    ra.e = rb.e = f.e;
    int wa = etcd_watch(f.e, c, "/a/", false, on_event, &ra);
    int wb = etcd_watch(f.e, c, "/a/", true, on_event, &rb);
    cr_assert_geq(wa, 0);
    cr_assert_geq(wb, 0);
    etcd_put(f.e, "/a/", 1);
    run(&f, 100 * SIM_MS);
    cr_assert_eq(ra.n, 1);
    cr_assert_eq(rb.n, 0, "the auto-ack watcher's response waits behind the blocked one");
    cr_assert_eq(etcd_client_buffered(f.e, c), 1);
    cr_assert_eq(stats(&f).streams, 1);
    sim_schedule_at(f.sim, 150 * SIM_MS, ack_once, &ra, (uint64_t)wa);
    run(&f, SIM_SEC);
    cr_assert_eq(rb.n, 1);
    cr_assert_eq(rb.at[0], 150 * SIM_MS);
    fix_fini(&f);
}

static void close_client(sim_t *sim, void *obj, uint64_t arg)
{
    (void)sim;
    etcd_client_close(obj, (int)arg);
}

Test(etcd, closed_client_gets_nothing_and_cannot_watch)
{
    fix_t f;
    static rec_t r, rv;
    int w = victim_setup(&f, &rv);   /* client 0: a victim with 71 pending at 5 ms */
    (void)w;
    memset(&r, 0, sizeof r);
    int c = etcd_client_open(f.e);
    r.e = f.e;
    cr_assert_geq(etcd_watch(f.e, c, "/b/", true, on_event, &r), 0);
    etcd_put(f.e, "/b/", 3);
    run(&f, 5 * SIM_MS);
    cr_assert_eq(r.n, 3);
    cr_assert_eq(stats(&f).slow_watchers, 1);
    etcd_client_close(f.e, 0);
    etcd_client_close(f.e, 0);                     /* twice: ignored */
    etcd_put(f.e, "/b/", 2);                       /* fanned out at 5 ms, arrive at 6 ms */
    sim_schedule_at(f.sim, 5500 * SIM_US, close_client, f.e, (uint64_t)c);
    run(&f, SIM_SEC);
    etcd_stats_t st = stats(&f);
    cr_assert_eq(r.n, 3);
    cr_assert_eq(st.slow_watchers, 0);
    cr_assert_eq(st.events_fanned, 200 + 3 + 2);
    cr_assert_eq(st.events_dropped, 128 + 71 + 2, "buffered, pending, in flight: %llu",
                 (unsigned long long)st.events_dropped);
    cr_assert_eq(st.connections, 0);
    cr_assert_eq(st.watchers, 0);
    cr_assert_eq(st.streams, 0);
    cr_assert_eq(etcd_watch(f.e, c, "/b/", true, on_event, &r), -1);
    cr_assert_eq(etcd_watch(f.e, 99, "/b/", true, on_event, &r), -1);
    cr_assert_eq(etcd_watch(f.e, -1, "/b/", true, on_event, &r), -1);
    etcd_ack(f.e, 12345);
    etcd_ack(f.e, -3);
    cr_assert_eq(etcd_put(f.e, "/b/", 0), SIM_EINVAL);
    cr_assert_eq(etcd_put(f.e, NULL, 1), SIM_EINVAL);
    fix_fini(&f);
}

/* ---- leases ------------------------------------------------------------------ */

static int count_log(const sim_t *sim, const char *kind, sim_time_t *first_at)
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

Test(etcd, grants_succeed_up_to_the_quota_and_the_next_fails)
{
    fix_t f;
    fix_spec(&f);
    f.spec.lease_quota = 5;
    fix_start(&f, 1, 0);
    for (int i = 0; i < 5; i++) cr_assert_eq(etcd_client_open(f.e), i);
    cr_assert_eq(etcd_client_open(f.e), -1);
    cr_assert_eq(etcd_client_open(f.e), -1);
    etcd_stats_t st = stats(&f);
    cr_assert_eq(st.leases_in_use, 5);
    cr_assert_eq(st.grants, 5);
    cr_assert_eq(st.grant_failures, 2);
    cr_assert_eq(st.connections, 5);
    cr_assert_eq(count_log(f.sim, "lease_quota_exhausted", NULL), 1, "one notable event per episode");
    fix_fini(&f);
}

typedef struct {
    fix_t *f;
    sim_time_t period;
    sim_time_t first_fail;
    int opened;
    rec_t *r;
} opener_t;

/* The article's bug: a new client (connection, stream, lease) per watch, never closed. */
static void open_per_watch(sim_t *sim, void *obj, uint64_t arg)
{
    (void)arg;
    opener_t *o = obj;
    int c = etcd_client_open(o->f->e);
    if (c < 0) {
        if (o->first_fail < 0) o->first_fail = sim_now(sim);
    } else {
        o->opened++;
        cr_assert_geq(etcd_watch(o->f->e, c, "/config/rag/", true, on_event, o->r), 0);
    }
    sim_schedule_in(sim, o->period, open_per_watch, o, 0);
}

Test(etcd, per_watch_clients_exhaust_the_quota_at_quota_over_rate)
{
    fix_t f;
    fix_spec(&f);
    f.spec.lease_quota = 1000;
    fix_start(&f, 1, 0);
    static rec_t r;
    memset(&r, 0, sizeof r);
    opener_t o = {.f = &f, .period = 10 * SIM_MS, .first_fail = -1, .r = &r};   /* 100 opens/s */
    sim_schedule_at(f.sim, 0, open_per_watch, &o, 0);
    run(&f, 11 * SIM_SEC);
    /* Opens at k x 10 ms, k = 0..1100: the 1001st (k = 1000) fails at
     * quota / rate = 1000 / 100 = 10 s, and every one after it. */
    cr_assert_eq(o.first_fail, 10 * SIM_SEC, "first failure at %lld ns", (long long)o.first_fail);
    cr_assert_eq(o.opened, 1000);
    etcd_stats_t st = stats(&f);
    cr_assert_eq(st.grant_failures, 101);
    cr_assert_eq(st.leases_in_use, 1000);
    cr_assert_eq(st.connections, 1000);
    cr_assert_eq(st.streams, 1000);
    cr_assert_eq(st.watchers, 1000);
    sim_time_t at = -1;
    cr_assert_eq(count_log(f.sim, "lease_quota_exhausted", &at), 1);
    cr_assert_eq(at, 10 * SIM_SEC);
    fix_fini(&f);
}

Test(etcd, closed_clients_leases_expire_ttl_after_the_last_keepalive)
{
    fix_t f;
    fix_spec(&f);
    f.spec.lease_ttl = 6 * SIM_SEC;                  /* keepalives every 2 s */
    f.spec.lease_quota = 2;
    fix_start(&f, 1, 0);
    int a = etcd_client_open(f.e), b = etcd_client_open(f.e);
    sim_schedule_at(f.sim, 1 * SIM_SEC, close_client, f.e, (uint64_t)a);   /* last keepalive: grant at 0 */
    sim_schedule_at(f.sim, 5 * SIM_SEC, close_client, f.e, (uint64_t)b);   /* last keepalive at 4 s */
    run(&f, 6 * SIM_SEC - 1);
    cr_assert_eq(stats(&f).leases_in_use, 2);
    cr_assert_eq(stats(&f).connections, 0);
    cr_assert_eq(etcd_client_open(f.e), -1, "closed clients' leases still count against the quota");
    run(&f, 6 * SIM_SEC);
    cr_assert_eq(stats(&f).leases_in_use, 1);
    run(&f, 10 * SIM_SEC - 1);
    cr_assert_eq(stats(&f).leases_in_use, 1);
    run(&f, 10 * SIM_SEC);
    etcd_stats_t st = stats(&f);
    cr_assert_eq(st.leases_in_use, 0);
    cr_assert_eq(st.keepalives, 2, "b at 2 s and 4 s; a closed before its first");
    cr_assert_geq(etcd_client_open(f.e), 0);
    cr_assert_eq(count_log(f.sim, "lease_quota_recovered", NULL), 1);
    fix_fini(&f);
}

Test(etcd, keepalives_every_third_of_the_ttl_cost_cpu)
{
    fix_t f;
    fix_spec(&f);
    f.spec.lease_ttl = 3 * SIM_SEC;                  /* keepalive period 1 s */
    fix_start(&f, 1, 0);
    for (int i = 0; i < 30; i++) cr_assert_geq(etcd_client_open(f.e), 0);
    run(&f, 10500 * SIM_MS);
    /* leases x window / (TTL/3) = 30 x floor(10.5 s / 1 s) */
    etcd_stats_t st = stats(&f);
    cr_assert_eq(st.keepalives, 300);
    cr_assert_eq(st.cpu_jobs_done, 30 + 30 + 300);
    /* (30 x (200 + 50) us + 300 x 10 us) / (10.5 s x 2 cores) */
    cr_assert_float_eq(st.cpu_busy_ratio, 10.5e-3 / 21.0, 1e-15);
    fix_fini(&f);
}

/* ---- memory and series ------------------------------------------------------- */

Test(etcd, memory_is_base_plus_connections_streams_watchers)
{
    fix_t f;
    fix_spec(&f);
    f.spec.mem_base = 1000;
    f.spec.mem_per_connection = 100;
    f.spec.mem_per_stream = 10;
    f.spec.mem_per_watcher = 1;
    fix_start(&f, 1, 0);
    int c0 = etcd_client_open(f.e), c1 = etcd_client_open(f.e), c2 = etcd_client_open(f.e);
    (void)c2;
    for (int i = 0; i < 3; i++) cr_assert_geq(etcd_watch(f.e, c0, "/a/", true, NULL, NULL), 0);
    for (int i = 0; i < 2; i++) cr_assert_geq(etcd_watch(f.e, c1, "/b/", true, NULL, NULL), 0);
    etcd_stats_t st = stats(&f);
    cr_assert_eq(st.memory_bytes, 1000 + 3 * 100 + 2 * 10 + 5 * 1);
    etcd_client_close(f.e, c0);
    st = stats(&f);
    cr_assert_eq(st.memory_bytes, 1000 + 2 * 100 + 1 * 10 + 2 * 1);
    cr_assert_eq(st.leases_in_use, 3);
    fix_fini(&f);
}

static int col_of(const sim_t *sim, const char *name)
{
    for (size_t j = 0; j < sim_series_count(sim); j++)
        if (strcmp(sim_series_name(sim, j), name) == 0) return (int)j;
    cr_assert_fail("no series %s", name);
    return -1;
}

Test(etcd, series_show_the_storm)
{
    fix_t f;
    fix_spec(&f);
    fix_start(&f, 1, 100 * SIM_MS);
    static rec_t r[2];
    memset(r, 0, sizeof r);
    for (int i = 0; i < 2; i++) watch_new(&f, "/config/rag/", true, &r[i]);
    sim_schedule_at(f.sim, 10 * SIM_MS, put_storm, f.e, 50);
    run(&f, 200 * SIM_MS);
    cr_assert_eq(r[0].n, 50);
    cr_assert_lt(r[0].at[49], 100 * SIM_MS);
    cr_assert_eq(sim_series_samples(f.sim), 2);
    const sim_t *s = f.sim;
#define AT(name, i) (sim_series_data(s, (size_t)col_of(s, name))[i])
    cr_assert_eq(AT("etcd_revision", 0), 50);
    cr_assert_eq(AT("etcd_leases_in_use", 0), 2);
    cr_assert_eq(AT("etcd_watchers", 0), 2);
    cr_assert_eq(AT("etcd_connections", 0), 2);
    cr_assert_float_eq(AT("etcd_watch_events_per_second", 0), 100 / 0.1, 1e-9);
    cr_assert_eq(AT("etcd_watch_events_per_second", 1), 0);
    cr_assert_eq(AT("etcd_slow_watchers", 0), 0);
    /* busy: 2 x (connect 200 + grant 50) + 50 puts x 100 + 100 events x 20 = 7500 us of 2 x 100 ms */
    cr_assert_float_eq(AT("etcd_cpu_utilization_ratio", 0), 7.5e-3 / 0.2, 1e-12);
    cr_assert_eq(AT("etcd_cpu_utilization_ratio", 1), 0);
    cr_assert_eq(AT("etcd_memory_bytes", 0), (100 << 20) + 2 * 10240 + 2 * 10240 + 2 * 1024);
    cr_assert_eq(AT("etcd_lease_grant_failures_total", 0), 0);
#undef AT
    fix_fini(&f);
}

/* ---- history, compaction, ranges ----------------------------------------------- */

static void put_a(sim_t *sim, void *obj, uint64_t arg)
{
    (void)sim;
    etcd_put(obj, "/a/", (int64_t)arg);
}

/* A client and a watch on /a/ from revision `arg`, at the event's time. */
static void open_and_watch_from(sim_t *sim, void *obj, uint64_t arg)
{
    (void)sim;
    rec_t *r = obj;
    int c = etcd_client_open(r->e);
    cr_assert_geq(c, 0);
    cr_assert_geq(etcd_watch_from(r->e, c, "/a/", (int64_t)arg, true, on_event, r), 0);
}

Test(etcd_history, a_watch_from_an_old_revision_replays_the_missed_ones_then_the_live_ones)
{
    fix_t f;
    fix_spec(&f);
    f.spec.cores = 1;
    fix_start(&f, 1, 0);
    /* the history: /a/ x3 (revisions 1-3), /b/ x2 (4-5), /a/ x2 (6-7) */
    cr_assert_eq(etcd_put(f.e, "/a/", 3), 1);
    cr_assert_eq(etcd_put(f.e, "/b/", 2), 4);
    cr_assert_eq(etcd_put(f.e, "/a/", 2), 6);
    run(&f, SIM_SEC);   /* nothing left to do at 700 us: the puts are applied */
    cr_assert_eq(etcd_revision(f.e), 7);
    cr_assert_eq(etcd_compacted_revision(f.e), 0, "no compaction by default");
    /* At 1 s: a client (connect [0, 200] + grant [200, 250] us on the one
     * core) and a watch from revision 2. The replay entry queues behind them
     * and hands out 2, 3, 6, 7 (not /b/'s 4, 5): event jobs [250, 270],
     * [270, 290], [290, 310], [310, 330] us, each arriving 2 ms later. A put
     * at 1 s + 100 us (revision 8) queues behind the replay entry: put
     * [330, 430], event [430, 450], arrival 2450 us: live after replayed. */
    static rec_t r;
    memset(&r, 0, sizeof r);
    r.e = f.e;
    sim_schedule_at(f.sim, SIM_SEC, open_and_watch_from, &r, 2);
    sim_schedule_at(f.sim, SIM_SEC + 100 * SIM_US, put_a, f.e, 1);
    run(&f, 2 * SIM_SEC);
    int c = 0;   /* the client the event opened */
    static const int64_t rev[5] = {2, 3, 6, 7, 8}, key[5] = {1, 2, 0, 1, 0};
    static const sim_time_t at[5] = {2270, 2290, 2310, 2330, 2450};
    cr_assert_eq(r.n, 5, "%d events", r.n);
    for (int k = 0; k < 5; k++) {
        cr_assert_eq(r.rev[k], rev[k], "event %d: revision %lld", k, (long long)r.rev[k]);
        cr_assert_eq(r.key[k], key[k], "event %d: key %lld", k, (long long)r.key[k]);
        cr_assert_eq(r.at[k] - SIM_SEC, at[k] * SIM_US, "event %d at %lld ns", k, (long long)(r.at[k] - SIM_SEC));
    }
    etcd_stats_t st = stats(&f);
    cr_assert_eq(st.events_replayed, 4);
    cr_assert_eq(st.events_fanned, 1);
    cr_assert_eq(st.history, 4);
    /* A start revision ahead of the store (9 now): events below it are
     * skipped. Revisions 9 and 10: the old watcher gets both, the new one 10. */
    static rec_t r2;
    memset(&r2, 0, sizeof r2);
    cr_assert_geq(etcd_watch_from(f.e, c, "/a/", 10, true, on_event, &r2), 0);
    etcd_put(f.e, "/a/", 2);
    run(&f, 3 * SIM_SEC);
    cr_assert_eq(r.n, 7);
    cr_assert_eq(r.rev[6], 10);
    cr_assert_eq(r2.n, 1);
    cr_assert_eq(r2.rev[0], 10);
    cr_assert_eq(r2.key[0], 1);
    cr_assert_eq(stats(&f).events_replayed, 4, "nothing to replay from the future");
    fix_fini(&f);
}

Test(etcd_history, a_watch_from_a_compacted_revision_fails_with_err_compacted)
{
    fix_t f;
    fix_spec(&f);
    f.spec.compaction_retention = 5;
    fix_start(&f, 1, 0);
    static rec_t r;
    memset(&r, 0, sizeof r);
    r.e = f.e;
    int c = etcd_client_open(f.e);
    etcd_put(f.e, "/a/", 12);
    run(&f, SIM_SEC);
    /* retention 5: revisions up to 12 - 5 = 7 are compacted */
    cr_assert_eq(etcd_compacted_revision(f.e), 7);
    cr_assert_neq(ETCD_ERR_COMPACTED, ETCD_ERR_UNAVAILABLE);
    cr_assert_lt(ETCD_ERR_COMPACTED, -1);
    cr_assert_eq(etcd_watch_from(f.e, c, "/a/", 7, true, on_event, &r), ETCD_ERR_COMPACTED);
    cr_assert_eq(etcd_watch_from(f.e, c, "/a/", 1, true, on_event, &r), ETCD_ERR_COMPACTED);
    sim_time_t first = -1;
    cr_assert_eq(count_log(f.sim, "watch_compacted", &first), 1, "one line for the episode");
    cr_assert_eq(first, SIM_SEC);
    cr_assert_eq(stats(&f).watchers, 0);
    /* the oldest revision kept: replays 8..12 */
    cr_assert_geq(etcd_watch_from(f.e, c, "/a/", 8, true, on_event, &r), 0);
    run(&f, 2 * SIM_SEC);
    cr_assert_eq(r.n, 5);
    for (int k = 0; k < 5; k++) cr_assert_eq(r.rev[k], 8 + k);
    /* after a good watch, a new failure is a new episode */
    cr_assert_eq(etcd_watch_from(f.e, c, "/a/", 3, true, on_event, &r), ETCD_ERR_COMPACTED);
    cr_assert_eq(count_log(f.sim, "watch_compacted", NULL), 2);
    etcd_stats_t st = stats(&f);
    cr_assert_eq(st.compacted_failures, 3);
    cr_assert_eq(st.compacted_revision, 7);
    cr_assert_eq(st.events_replayed, 5);
    cr_assert_eq(etcd_watch_from(f.e, c, "/a/", -1, true, on_event, &r), SIM_EINVAL);
    /* a watch from now never fails for compaction */
    cr_assert_geq(etcd_watch_from(f.e, c, "/a/", 0, true, NULL, NULL), 0);
    fix_fini(&f);
}

typedef struct {
    int n;
    int client;
    int64_t rev;
    sim_time_t at;
} range_rec_t;

static void on_range(sim_t *sim, void *ctx, int client, int64_t revision)
{
    range_rec_t *x = ctx;
    x->n++;
    x->client = client;
    x->rev = revision;
    x->at = sim_now(sim);
}

Test(etcd_history, a_range_costs_range_plus_keys_times_range_key)
{
    fix_t f;
    fix_spec(&f);
    f.spec.cores = 1;
    fix_start(&f, 1, 0);
    cr_assert_eq(f.spec.cost_range, SIM_MS);
    cr_assert_eq(f.spec.cost_range_key, 5 * SIM_US);
    int c = etcd_client_open(f.e);
    etcd_put(f.e, "/config/rag/", 50);     /* 1..50: keys 0..49 */
    etcd_put(f.e, "/config/other/", 10);   /* 51..60 */
    etcd_put(f.e, "/x/", 7);               /* 61..67 */
    etcd_put(f.e, "/config/rag/", 30);     /* 68..97: keys 0..29 again */
    run(&f, SIM_SEC);
    /* /config/ holds 50 + 10 = 60 keys: 1 ms + 60 x 5 us = 1.3 ms on the
     * idle core. A put at 1 s + 500 us queues behind it: the response's
     * revision is the store's when the range ends, 97. */
    static range_rec_t x;
    memset(&x, 0, sizeof x);
    sim_schedule_at(f.sim, SIM_SEC + 500 * SIM_US, put_storm, f.e, 1);
    cr_assert_eq(etcd_range(f.e, c, "/config/", on_range, &x), 0);
    run(&f, 2 * SIM_SEC);
    cr_assert_eq(x.n, 1);
    cr_assert_eq(x.client, c);
    cr_assert_eq(x.at, SIM_SEC + 1300 * SIM_US, "range ended at %lld ns", (long long)x.at);
    cr_assert_eq(x.rev, 97);
    cr_assert_eq(etcd_revision(f.e), 98);
    /* /x/: 1 ms + 7 x 5 us; an empty prefix costs the base only */
    cr_assert_eq(etcd_range(f.e, c, "/x/", on_range, &x), 0);
    run(&f, 3 * SIM_SEC);
    cr_assert_eq(x.at, 2 * SIM_SEC + 1035 * SIM_US);
    cr_assert_eq(etcd_range(f.e, c, "/nothing/", on_range, &x), 0);
    run(&f, 4 * SIM_SEC);
    cr_assert_eq(x.at, 3 * SIM_SEC + SIM_MS);
    cr_assert_eq(x.n, 3);
    /* a client closed before its range ends hears nothing */
    cr_assert_eq(etcd_range(f.e, c, "/x/", on_range, &x), 0);
    etcd_client_close(f.e, c);
    run(&f, 5 * SIM_SEC);
    cr_assert_eq(x.n, 3);
    etcd_stats_t st = stats(&f);
    cr_assert_eq(st.ranges, 4);
    cr_assert_eq(etcd_range(f.e, c, "/x/", on_range, &x), -1, "closed client");
    int d = etcd_client_open(f.e);
    cr_assert_eq(etcd_range(f.e, d, NULL, on_range, &x), -1);
    cr_assert_eq(etcd_range(f.e, d, "/x/", NULL, &x), -1);
    cr_assert_eq(etcd_range(f.e, 999, "/x/", on_range, &x), -1);
    fix_fini(&f);
}

/* ---- partitions --------------------------------------------------------------- */

static void partition_now(sim_t *sim, void *obj, uint64_t arg)
{
    (void)sim;
    etcd_partition(obj, (sim_time_t)arg);
}

typedef struct {
    etcd_t *e;
    int client;
    range_rec_t *x;
} later_range_t;

static later_range_t range_later;

static void range_at(sim_t *sim, void *obj, uint64_t arg)
{
    (void)sim;
    (void)arg;
    later_range_t *l = obj;
    cr_assert_eq(etcd_range(l->e, l->client, "/r/", on_range, l->x), 0);
}

Test(etcd_partition, every_stream_breaks_and_buffered_pending_and_travelling_events_are_dropped)
{
    fix_t f;
    static rec_t rv, rb, rc;
    int wv = victim_setup(&f, &rv);   /* client 0: 1 taken, 128 buffered, 71 pending from 1 ms */
    memset(&rb, 0, sizeof rb);
    memset(&rc, 0, sizeof rc);
    rb.e = rc.e = f.e;
    int c = etcd_client_open(f.e);
    cr_assert_geq(etcd_watch(f.e, c, "/b/", true, on_event, &rb), 0);
    run(&f, 5 * SIM_MS);
    cr_assert_eq(etcd_watcher_pending(f.e, wv), 71);
    /* at 5 ms: two /b/ events leave (zero CPU costs; 1 ms propagation, so
     * they arrive at 6 ms); at 5.1 ms a Range starts ([5.1, 6.1] ms, no keys) */
    etcd_put(f.e, "/b/", 2);
    static range_rec_t x;
    memset(&x, 0, sizeof x);
    range_later = (later_range_t){f.e, c, &x};
    sim_schedule_at(f.sim, 5100 * SIM_US, range_at, &range_later, 0);
    sim_schedule_at(f.sim, 5500 * SIM_US, partition_now, f.e, (uint64_t)SIM_SEC);
    run(&f, 5500 * SIM_US);
    /* every watcher heard once that its stream broke; the range failed */
    cr_assert_eq(rv.n, 2);
    cr_assert_eq(rv.rev[1], ETCD_ERR_UNAVAILABLE);
    cr_assert_eq(rv.key[1], -1);
    cr_assert_eq(rb.n, 1, "the /b/ events are still travelling");
    cr_assert_eq(rb.rev[0], ETCD_ERR_UNAVAILABLE);
    cr_assert_eq(x.n, 1);
    cr_assert_eq(x.rev, ETCD_ERR_UNAVAILABLE);
    cr_assert_eq(x.at, 5500 * SIM_US);
    etcd_stats_t st = stats(&f);
    cr_assert_eq(st.streams, 0);
    cr_assert_eq(st.watchers, 0);
    cr_assert_eq(st.slow_watchers, 0);
    cr_assert_eq(st.connections, 2, "the clients stay open");
    cr_assert_eq(st.watchers_broken, 2);
    cr_assert_eq(st.ranges_cut, 1);
    cr_assert_eq(st.partitions, 1);
    cr_assert_eq(st.events_dropped, 128 + 71, "buffered and pending: %llu", (unsigned long long)st.events_dropped);
    cr_assert_eq(etcd_client_buffered(f.e, 0), 0);
    cr_assert_eq(etcd_watcher_pending(f.e, wv), 0);
    sim_time_t at = -1;
    cr_assert_eq(count_log(f.sim, "watch_streams_broken", &at), 1);
    cr_assert_eq(at, 5500 * SIM_US);
    cr_assert(etcd_partitioned(f.e));
    /* during the partition: opens, watches, ranges fail; puts apply */
    cr_assert_eq(etcd_client_open(f.e), ETCD_ERR_UNAVAILABLE);
    cr_assert_eq(etcd_watch(f.e, c, "/b/", true, on_event, &rc), ETCD_ERR_UNAVAILABLE);
    cr_assert_eq(etcd_range(f.e, c, "/b/", on_range, &x), ETCD_ERR_UNAVAILABLE);
    cr_assert_eq(stats(&f).partition_failures, 3);
    etcd_put(f.e, "/b/", 1);
    run(&f, 7 * SIM_MS);
    st = stats(&f);
    cr_assert_eq(st.applied_revision, 203);
    cr_assert_eq(st.events_dropped, 128 + 71 + 2, "and the two travelling /b/ events on arrival");
    cr_assert_eq(st.ranges, 1, "the cut range's job still ran");
    cr_assert_eq(x.n, 1, "and did not answer");
    cr_assert_eq(rb.n, 1);
    cr_assert_eq(rv.n, 2);
    /* a shorter partition during this one changes nothing */
    etcd_partition(f.e, 100 * SIM_MS);
    run(&f, SIM_SEC + 5500 * SIM_US - 1);
    cr_assert(etcd_partitioned(f.e));
    run(&f, SIM_SEC + 5500 * SIM_US);
    cr_assert_not(etcd_partitioned(f.e));
    cr_assert_eq(stats(&f).partitions, 1);
    cr_assert_eq(count_log(f.sim, "partition_healed", &at), 1);
    cr_assert_eq(at, SIM_SEC + 5500 * SIM_US);
    /* after the heal the client watches again: a new stream */
    cr_assert_geq(etcd_watch(f.e, c, "/b/", true, on_event, &rc), 0);
    cr_assert_eq(stats(&f).streams, 1);
    etcd_put(f.e, "/b/", 1);
    run(&f, 2 * SIM_SEC);
    cr_assert_eq(rc.n, 1);
    cr_assert_eq(rc.rev[0], 204);
    cr_assert_eq(rb.n, 1, "the broken watcher stays closed");
    fix_fini(&f);
}

static int opened_late = -1;

static void open_late(sim_t *sim, void *obj, uint64_t arg)
{
    (void)sim;
    (void)arg;
    opened_late = etcd_client_open(obj);
}

Test(etcd_partition, a_lease_expires_when_the_partition_outlasts_the_time_left_on_its_ttl)
{
    fix_t f;
    fix_spec(&f);
    f.spec.lease_ttl = 6 * SIM_SEC;                  /* keepalives every 2 s */
    fix_start(&f, 1, 0);
    int a = etcd_client_open(f.e);                  /* renewed at 2 s and 4 s: expires at 10 s unless renewed */
    sim_schedule_at(f.sim, 4900 * SIM_MS, open_late, f.e, 0);   /* granted at 4.9 s: expires at 10.9 s */
    /* a partition from 5 s to 10.8 s: a's lease has 5 s left, the late one 5.9 s */
    sim_schedule_at(f.sim, 5 * SIM_SEC, partition_now, f.e, (uint64_t)(5800 * SIM_MS));
    run(&f, 10 * SIM_SEC - 1);
    int b = opened_late;
    cr_assert_geq(b, 0);
    etcd_stats_t st = stats(&f);
    cr_assert_eq(st.leases_in_use, 2);
    cr_assert_eq(st.keepalives, 2, "none gets through in the partition");
    run(&f, 10 * SIM_SEC);
    st = stats(&f);
    cr_assert_eq(st.leases_in_use, 1);
    cr_assert_eq(st.leases_expired, 1);
    cr_assert_eq(st.connections, 2, "a is still open, without its lease");
    cr_assert_not(etcd_client_lease_live(f.e, a));
    cr_assert(etcd_client_lease_live(f.e, b));
    /* the heal at 10.8 s: both reconnect; b renews at once, then every 2 s */
    run(&f, 10800 * SIM_MS);
    cr_assert_eq(stats(&f).keepalives, 3);
    run(&f, 12800 * SIM_MS - 1);
    cr_assert_eq(stats(&f).keepalives, 3);
    run(&f, 12800 * SIM_MS);
    cr_assert_eq(stats(&f).keepalives, 4);
    cr_assert(etcd_client_lease_live(f.e, b));
    sim_time_t at = -1;
    cr_assert_eq(count_log(f.sim, "partition_healed", &at), 1);
    /* closing a does not count its lease twice; b's expires TTL after 12.8 s */
    etcd_client_close(f.e, a);
    etcd_client_close(f.e, b);
    run(&f, 18800 * SIM_MS - 1);
    cr_assert_eq(stats(&f).leases_in_use, 1);
    run(&f, 18800 * SIM_MS);
    st = stats(&f);
    cr_assert_eq(st.leases_in_use, 0);
    cr_assert_eq(st.leases_expired, 2);
    fix_fini(&f);
}

/* ---- determinism ------------------------------------------------------------- */

static void random_run(uint64_t seed, rec_t r[3])
{
    fix_t f;
    fix_spec(&f);
    sim_dist_fini(&f.spec.propagation);
    cr_assert_eq(sim_dist_exponential(&f.spec.propagation, 0.005), 0);
    fix_start(&f, seed, 0);
    memset(r, 0, 3 * sizeof *r);
    for (int i = 0; i < 3; i++) watch_new(&f, "/a/", true, &r[i]);
    etcd_put(f.e, "/a/", 40);
    run(&f, SIM_SEC);
    fix_fini(&f);
}

Test(etcd, random_propagation_is_reproducible_and_keeps_revision_order)
{
    static rec_t a[3], b[3], c[3];
    random_run(7, a);
    random_run(7, b);
    random_run(8, c);
    bool differs = false;
    for (int i = 0; i < 3; i++) {
        cr_assert_eq(a[i].n, 40);
        for (int k = 0; k < 40; k++) {
            cr_assert_eq(a[i].at[k], b[i].at[k]);
            cr_assert_eq(a[i].rev[k], k + 1);
            if (k > 0) cr_assert_geq(a[i].at[k], a[i].at[k - 1]);
            if (a[i].at[k] != c[i].at[k]) differs = true;
        }
    }
    cr_assert(differs, "another seed gives other delays");
}

/* ---- parsing ----------------------------------------------------------------- */

static sim_diag_t D;
static void diag_setup(void) { sim_diag_init(&D); }
static void diag_teardown(void) { sim_diag_fini(&D); }

static int parse(const char *text, etcd_spec_t *s, sim_cfg_t **cfgp)
{
    sim_cfg_t *cfg = sim_cfg_load_string("s.yaml", text, strlen(text), &D);
    cr_assert_not_null(cfg, "%s", sim_diag_text(&D));
    int rc = etcd_spec_parse(&D, sim_cfg_get(sim_cfg_root(cfg), "etcd"), s);
    *cfgp = cfg;
    return rc;
}

#define ASSERT_DIAG(str)                                                                         \
    cr_assert(strstr(sim_diag_text(&D), (str)) != NULL, "expected\n  %s\ngot\n%s", (str), \
              sim_diag_text(&D))

Test(etcd_parse, defaults, .init = diag_setup, .fini = diag_teardown)
{
    etcd_spec_t s;
    cr_assert_eq(etcd_spec_parse(&D, NULL, &s), 0);
    cr_assert_eq(s.cores, 2);
    cr_assert_float_eq(sim_dist_mean(&s.propagation), 0.002, 1e-15);
    cr_assert_eq(sim_dist_variance(&s.propagation), 0);
    cr_assert_eq(s.cost_put, 100 * SIM_US);
    cr_assert_eq(s.cost_event, 20 * SIM_US);
    cr_assert_eq(s.cost_grant, 50 * SIM_US);
    cr_assert_eq(s.cost_keepalive, 10 * SIM_US);
    cr_assert_eq(s.cost_connect, 200 * SIM_US);
    cr_assert_eq(s.cost_range, SIM_MS);
    cr_assert_eq(s.cost_range_key, 5 * SIM_US);
    cr_assert_eq(s.compaction_retention, INT64_MAX);
    cr_assert_eq(s.stream_buffer, 128);
    cr_assert_eq(s.victim_retry, 10 * SIM_MS);
    cr_assert_eq(s.lease_quota, 65536);
    cr_assert_eq(s.lease_ttl, 60 * SIM_SEC);
    cr_assert_eq(s.mem_base, 100 << 20);
    cr_assert_eq(s.mem_per_connection, 10240);
    cr_assert_eq(s.mem_per_stream, 10240);
    cr_assert_eq(s.mem_per_watcher, 1024);
    etcd_spec_fini(&s);
    sim_cfg_t *cfg;
    cr_assert_eq(parse("etcd:\n", &s, &cfg), 0);   /* null mapping: defaults */
    cr_assert_eq(s.lease_quota, 65536);
    etcd_spec_fini(&s);
    sim_cfg_destroy(cfg);
}

Test(etcd_parse, every_key, .init = diag_setup, .fini = diag_teardown)
{
    etcd_spec_t s;
    sim_cfg_t *cfg;
    int rc = parse("etcd:\n"
                   "  cores: 4\n"
                   "  propagation: {dist: exponential, mean: 5ms}\n"
                   "  cost: {put: 1ms, event: 2us, grant: 3us, keepalive: 4us, connect: 5us, range: 6ms, range_key: 7us}\n"
                   "  stream_buffer: 16\n"
                   "  victim_retry: 20ms\n"
                   "  lease_quota: unbounded\n"
                   "  lease_ttl: 2s\n"
                   "  compaction_retention: 1000\n"
                   "  memory: {base: 1GiB, per_connection: 10kB, per_stream: 2KiB, per_watcher: 300B}\n",
                   &s, &cfg);
    cr_assert_eq(rc, 0, "%s", sim_diag_text(&D));
    cr_assert_eq(sim_cfg_check_unused(cfg, &D), 0, "%s", sim_diag_text(&D));
    cr_assert_eq(s.cores, 4);
    cr_assert_str_eq(sim_dist_name(&s.propagation), "exponential");
    cr_assert_float_eq(sim_dist_mean(&s.propagation), 0.005, 1e-15);
    cr_assert_eq(s.cost_put, SIM_MS);
    cr_assert_eq(s.cost_event, 2 * SIM_US);
    cr_assert_eq(s.cost_grant, 3 * SIM_US);
    cr_assert_eq(s.cost_keepalive, 4 * SIM_US);
    cr_assert_eq(s.cost_connect, 5 * SIM_US);
    cr_assert_eq(s.cost_range, 6 * SIM_MS);
    cr_assert_eq(s.cost_range_key, 7 * SIM_US);
    cr_assert_eq(s.compaction_retention, 1000);
    cr_assert_eq(s.stream_buffer, 16);
    cr_assert_eq(s.victim_retry, 20 * SIM_MS);
    cr_assert_eq(s.lease_quota, INT64_MAX);
    cr_assert_eq(s.lease_ttl, 2 * SIM_SEC);
    cr_assert_eq(s.mem_base, 1LL << 30);
    cr_assert_eq(s.mem_per_connection, 10000);
    cr_assert_eq(s.mem_per_stream, 2048);
    cr_assert_eq(s.mem_per_watcher, 300);
    etcd_spec_fini(&s);
    sim_cfg_destroy(cfg);
}

Test(etcd_parse, bad_values_are_reported_where_they_are, .init = diag_setup, .fini = diag_teardown)
{
    etcd_spec_t s;
    sim_cfg_t *cfg;
    int rc = parse("etcd:\n"
                   "  cores: 0\n"
                   "  stream_buffer: -1\n"
                   "  victim_retry: 0s\n"
                   "  cost: {put: 5}\n"
                   "  memory: {per_watcher: 1KB}\n"
                   "  propagation: {dist: exponential}\n"
                   "  lease_quota: many\n",
                   &s, &cfg);
    cr_assert_eq(rc, SIM_ECONFIG);
    ASSERT_DIAG("s.yaml:2:10: error: 'etcd.cores'");
    ASSERT_DIAG("s.yaml:3:18: error: 'etcd.stream_buffer'");
    ASSERT_DIAG("s.yaml:4:17: error: 'etcd.victim_retry'");
    ASSERT_DIAG("s.yaml:5:15: error: 'etcd.cost.put'");
    ASSERT_DIAG("s.yaml:6:25: error: 'etcd.memory.per_watcher'");
    ASSERT_DIAG("s.yaml:7:");
    ASSERT_DIAG("s.yaml:8:16: error: 'etcd.lease_quota'");
    cr_assert_eq(D.errors, 7, "%s", sim_diag_text(&D));
    etcd_spec_fini(&s);
    sim_cfg_destroy(cfg);
}

Test(etcd_parse, lease_ttl_below_two_seconds_is_an_error, .init = diag_setup, .fini = diag_teardown)
{
    etcd_spec_t s;
    sim_cfg_t *cfg;
    cr_assert_eq(parse("etcd:\n  lease_ttl: 1500ms\n", &s, &cfg), SIM_ECONFIG);
    ASSERT_DIAG("s.yaml:2:14: error: 'etcd.lease_ttl': etcd's minimum lease TTL is 2s, got '1500ms'");
    cr_assert_eq(D.errors, 1);
    etcd_spec_fini(&s);
    sim_cfg_destroy(cfg);
    cr_assert_eq(parse("etcd:\n  cost: [1]\n  memory: 5\n", &s, &cfg), SIM_ECONFIG);
    ASSERT_DIAG("s.yaml:2:9: error:");
    ASSERT_DIAG("s.yaml:3:11: error:");
    etcd_spec_fini(&s);
    sim_cfg_destroy(cfg);
}

Test(etcd_parse, compaction_retention_and_range_costs_are_checked, .init = diag_setup, .fini = diag_teardown)
{
    etcd_spec_t s;
    sim_cfg_t *cfg;
    cr_assert_eq(parse("etcd:\n  compaction_retention: unbounded\n", &s, &cfg), 0, "%s", sim_diag_text(&D));
    cr_assert_eq(s.compaction_retention, INT64_MAX);
    etcd_spec_fini(&s);
    sim_cfg_destroy(cfg);
    int rc = parse("etcd:\n"
                   "  compaction_retention: 0\n"
                   "  cost: {range: -1ms, range_key: fast}\n",
                   &s, &cfg);
    cr_assert_eq(rc, SIM_ECONFIG);
    ASSERT_DIAG("s.yaml:2:25: error: 'etcd.compaction_retention'");
    ASSERT_DIAG("s.yaml:3:17: error: 'etcd.cost.range'");
    ASSERT_DIAG("s.yaml:3:34: error: 'etcd.cost.range_key'");
    cr_assert_eq(D.errors, 3, "%s", sim_diag_text(&D));
    etcd_spec_fini(&s);
    sim_cfg_destroy(cfg);
}
