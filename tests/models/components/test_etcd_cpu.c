/* etcd's CPU queue (models/components/etcd/cpu.c): one event per key per
 * watcher (never merged), delivery times through the queue by hand, the
 * fan-out's order and which watchers it reaches, and random propagation
 * that is reproducible and keeps revision order. */
#include <criterion/criterion.h>
#include <string.h>

#include "etcdfx.h"
#include "models/components/etcd/etcd.h"
#include "sim/error.h"

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
    /* The open's connect job (200us; a watching client asks for no lease,
     * so no grant) holds the one core first: the put starts at 200us. */
    etcd_put(f.e, "/a/", 1);
    run(&f, SIM_SEC);
    cr_assert_eq(r.n, 1);
    cr_assert_eq(r.at[0], 200 * SIM_US + 100 * SIM_US + 20 * SIM_US + 2 * SIM_MS);
    /* Later, on an idle CPU: exactly put + event + propagation. */
    etcd_put(f.e, "/a/", 1);
    run(&f, 2 * SIM_SEC);
    cr_assert_eq(r.n, 2);
    cr_assert_eq(r.at[1] - SIM_SEC, 100 * SIM_US + 20 * SIM_US + 2 * SIM_MS);
    fix_fini(&f);
}

static etcd_t *later_e;   /* the running test's etcd (each test is its own process) */

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
    /* CPU: 3 x connect 200 = [0, 600] (no grants: the clients only watch),
     * put [600, 700]; A's event [700, 720], B's [720, 740]. B watches while
     * the put is in service (not applied): it gets the event; C watches
     * during the fan-out (applied): not. */
    int c[3];
    for (int i = 0; i < 3; i++) c[i] = etcd_client_open(f.e);
    static later_watch_t lw[3];
    static const sim_time_t when[3] = {0, 650 * SIM_US, 710 * SIM_US};
    for (int i = 0; i < 3; i++) {
        lw[i] = (later_watch_t){&f, c[i], "/a/", &r[i]};
        sim_schedule_at(f.sim, when[i], watch_later, &lw[i], 0);
    }
    etcd_put(f.e, "/a/", 1);
    run(&f, SIM_SEC);
    cr_assert_eq(r[0].n, 1);
    cr_assert_eq(r[0].at[0], 2720 * SIM_US);
    cr_assert_eq(r[1].n, 1);
    cr_assert_eq(r[1].at[0], 2740 * SIM_US);
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
    /* CPU: [0, 800] opens (4 connects, no grants), put [800, 900], A's event
     * [900, 920]. While it runs, B (where the fan-out's cursor stands) and C
     * close: D's event is next, [920, 940]. */
    later_e = f.e;
    sim_schedule_at(f.sim, 910 * SIM_US, close_two, c, 0);
    etcd_put(f.e, "/a/", 1);
    run(&f, SIM_SEC);
    cr_assert_eq(r[0].n, 1);
    cr_assert_eq(r[1].n, 0);
    cr_assert_eq(r[2].n, 0);
    cr_assert_eq(r[3].n, 1);
    cr_assert_eq(r[3].at[0], 2940 * SIM_US);
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
    cr_assert_eq(stats(&f).cpu_jobs_done, NW, "one connect per client, no grant");
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
