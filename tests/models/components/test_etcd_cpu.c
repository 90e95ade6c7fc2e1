/* etcd's CPU queue (models/components/etcd/cpu.c): separate puts give one
 * revision and one response per key per watcher, a transaction one
 * revision and one response of all its events; delivery times through the
 * queue by hand, the fan-out's order and which watchers it reaches, and
 * random propagation that is reproducible and keeps revision order. */
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

static void txn_then_puts(sim_t *sim, void *obj, uint64_t arg)
{
    (void)sim;
    (void)arg;
    cr_assert_eq(etcd_txn(obj, "/a/", 5), 1);
    cr_assert_eq(etcd_put(obj, "/a/", 2), 2);
}

static void txn_storm(sim_t *sim, void *obj, uint64_t arg)
{
    (void)sim;
    cr_assert_eq(etcd_txn(obj, "/config/rag/", (int64_t)arg), 1);
}

Test(etcd, a_transaction_of_n_keys_is_one_revision_in_one_response)
{
    /* One core. Three watchers (connects [0, 600] us). A transaction of 50
     * keys at 1 s: one revision (1), one put job of 50 x 100 us [0, 5] ms,
     * then one event job per watcher of 50 x 20 us: [5, 6], [6, 7], [7, 8]
     * ms, each arriving 2 ms later as ONE response of 50 events. Then 3
     * separate puts: revisions 2..4, three responses of one event each. */
    fix_t f;
    fix_spec(&f);
    f.spec.cores = 1;
    fix_start(&f, 1, 0);
    static rec_t r[3];
    memset(r, 0, sizeof r);
    for (int i = 0; i < 3; i++) watch_new(&f, "/config/rag/", true, &r[i]);
    sim_schedule_at(f.sim, SIM_SEC, txn_storm, f.e, 50);
    run(&f, SIM_SEC + 4 * SIM_MS);
    cr_assert_eq(stats(&f).revision, 1, "one revision for the 50 keys");
    cr_assert_eq(etcd_revision(f.e), 0, "assigned, not yet applied");
    run(&f, 2 * SIM_SEC);
    for (int i = 0; i < 3; i++) {
        cr_assert_eq(r[i].n, 1, "watcher %d: %d responses", i, r[i].n);
        cr_assert_eq(r[i].rev[0], 1);
        cr_assert_eq(r[i].key[0], 0);
        cr_assert_eq(r[i].nev[0], 50);
        cr_assert_eq(r[i].at[0] - SIM_SEC, (5 + i + 1 + 2) * SIM_MS, "watcher %d at %lld ns", i,
                     (long long)(r[i].at[0] - SIM_SEC));
    }
    etcd_stats_t st = stats(&f);
    cr_assert_eq(st.revision, 1);
    cr_assert_eq(st.applied_revision, 1);
    cr_assert_eq(st.history, 1);
    cr_assert_eq(st.events_fanned, 3 * 50);
    cr_assert_eq(st.events_delivered, 3 * 50);
    cr_assert_eq(st.responses_delivered, 3);
    cr_assert_eq(etcd_put(f.e, "/config/rag/", 3), 2);
    run(&f, 3 * SIM_SEC);
    for (int i = 0; i < 3; i++) {
        cr_assert_eq(r[i].n, 4);
        for (int k = 1; k < 4; k++) {
            cr_assert_eq(r[i].rev[k], 1 + k);
            cr_assert_eq(r[i].key[k], k - 1);
            cr_assert_eq(r[i].nev[k], 1);
        }
    }
    st = stats(&f);
    cr_assert_eq(st.revision, 4);
    cr_assert_eq(st.events_delivered, 3 * 53);
    cr_assert_eq(st.responses_delivered, 3 * 4);
    cr_assert_eq(etcd_txn(f.e, "/config/rag/", 0), SIM_EINVAL);
    cr_assert_eq(etcd_txn(f.e, NULL, 1), SIM_EINVAL);
    fix_fini(&f);
}

Test(etcd, writes_apply_and_responses_arrive_in_revision_order_across_cores)
{
    /* Two cores, one watcher (connect [0, 200] us). At 1 s a transaction of
     * 5 keys (revision 1: one job of 500 us, core A) and 2 puts (2, 3: 100 us
     * each, core B) start together. The puts end first, at 100 and 200 us,
     * but wait for revision 1, applied at 500 us; then the three fan-outs:
     * revision 1's event job (5 x 20 us) [500, 600] on A, 2's [500, 520] and
     * 3's [520, 540] on B. 2 and 3 wait for 1 to leave: all three arrive at
     * 600 + 2000 us, in revision order. */
    fix_t f;
    fix_spec(&f);
    fix_start(&f, 1, 0);
    static rec_t r;
    memset(&r, 0, sizeof r);
    watch_new(&f, "/a/", true, &r);
    sim_schedule_at(f.sim, SIM_SEC, txn_then_puts, f.e, 0);
    run(&f, SIM_SEC + 400 * SIM_US);
    cr_assert_eq(etcd_revision(f.e), 0, "revisions 2 and 3 are done but wait for 1");
    run(&f, SIM_SEC + 500 * SIM_US);
    cr_assert_eq(etcd_revision(f.e), 3);
    run(&f, 2 * SIM_SEC);
    static const int64_t nev[3] = {5, 1, 1};
    cr_assert_eq(r.n, 3);
    for (int k = 0; k < 3; k++) {
        cr_assert_eq(r.rev[k], k + 1, "response %d: revision %lld", k, (long long)r.rev[k]);
        cr_assert_eq(r.nev[k], nev[k]);
        cr_assert_eq(r.at[k] - SIM_SEC, 2600 * SIM_US, "response %d at %lld ns", k, (long long)(r.at[k] - SIM_SEC));
    }
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

static void on_tally(sim_t *sim, void *ctx, int watcher, int64_t revision, int64_t key, int64_t nevents)
{
    (void)watcher;
    (void)revision;
    (void)key;
    tally_t *t = ctx;
    t->n += nevents;
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
