/* etcd's clients (models/components/etcd/client.c): a client is a
 * connection and holds no lease, whatever it watches; leases are granted
 * to clients that ask for one (a session) against the quota, which is
 * unbounded unless set; per-watch clients with a session exhausting it;
 * closed clients' leases expiring; keepalive CPU. */
#include <criterion/criterion.h>
#include <string.h>

#include "etcdfx.h"
#include "models/components/etcd/etcd.h"
#include "sim/error.h"

/* ---- clients and leases -------------------------------------------------------- */

Test(etcd, a_watching_client_holds_no_lease)
{
    /* clientv3.New + Watch: a connection and a watch stream, no lease. Ten
     * minutes with a 60 s TTL: no grant, no keepalive; the only CPU job
     * besides the put and its event is the connect. */
    fix_t f;
    fix_spec(&f);
    fix_start(&f, 1, 0);
    static rec_t r;
    memset(&r, 0, sizeof r);
    watch_new(&f, "/config/rag/", true, &r);
    etcd_put(f.e, "/config/rag/", 1);
    run(&f, 10 * 60 * SIM_SEC);
    cr_assert_eq(r.n, 1, "the watch works without a lease");
    etcd_stats_t st = stats(&f);
    cr_assert_eq(st.connections, 1);
    cr_assert_eq(st.streams, 1);
    cr_assert_eq(st.watchers, 1);
    cr_assert_eq(st.leases_in_use, 0);
    cr_assert_eq(st.grants, 0);
    cr_assert_eq(st.keepalives, 0);
    cr_assert_eq(st.keepalive_streams, 0);
    cr_assert_eq(st.cpu_jobs_done, 1 + 1 + 1, "connect, put, event");
    cr_assert_not(etcd_client_lease_live(f.e, 0));
    cr_assert_eq(st.memory_bytes, (100 << 20) + 10240 + 10240 + 1024, "connection, watch stream, watcher");
    fix_fini(&f);
}

Test(etcd, grants_succeed_up_to_the_quota_and_the_next_fails)
{
    fix_t f;
    fix_spec(&f);
    f.spec.lease_quota = 5;
    fix_start(&f, 1, 0);
    for (int i = 0; i < 7; i++) cr_assert_eq(etcd_client_open(f.e), i, "opening a client needs no lease");
    for (int i = 0; i < 5; i++) cr_assert_eq(etcd_lease_grant(f.e, i), 0);
    cr_assert_eq(etcd_lease_grant(f.e, 5), ETCD_ERR_LEASE_QUOTA);
    cr_assert_eq(etcd_lease_grant(f.e, 6), ETCD_ERR_LEASE_QUOTA);
    cr_assert_neq(ETCD_ERR_LEASE_QUOTA, ETCD_ERR_UNAVAILABLE);
    cr_assert_neq(ETCD_ERR_LEASE_QUOTA, ETCD_ERR_COMPACTED);
    cr_assert_neq(ETCD_ERR_LEASE_QUOTA, -1);
    /* a client holds one lease; unknown and closed clients get none */
    cr_assert_eq(etcd_lease_grant(f.e, 0), -1);
    cr_assert_eq(etcd_lease_grant(f.e, 99), -1);
    etcd_client_close(f.e, 6);
    cr_assert_eq(etcd_lease_grant(f.e, 6), -1);
    etcd_stats_t st = stats(&f);
    cr_assert_eq(st.leases_in_use, 5);
    cr_assert_eq(st.grants, 5);
    cr_assert_eq(st.grant_failures, 2);
    cr_assert_eq(st.connections, 6);
    cr_assert_eq(st.keepalive_streams, 5);
    cr_assert_eq(count_log(f.sim, "lease_quota_exhausted", NULL), 1, "one notable event per episode");
    fix_fini(&f);
}

Test(etcd, the_default_lease_quota_is_unbounded)
{
    /* etcd has no lease limit: 70 000 sessions (more than the 65 536 once
     * assumed) are all granted under the default spec. */
    fix_t f;
    fix_spec(&f);
    cr_assert_eq(f.spec.lease_quota, INT64_MAX);
    fix_start(&f, 1, 0);
    for (int i = 0; i < 70000; i++) {
        int c = etcd_client_open(f.e);
        cr_assert_geq(c, 0);
        cr_assert_eq(etcd_lease_grant(f.e, c), 0, "grant %d refused", i);
    }
    etcd_stats_t st = stats(&f);
    cr_assert_eq(st.leases_in_use, 70000);
    cr_assert_eq(st.grant_failures, 0);
    cr_assert_eq(count_log(f.sim, "lease_quota_exhausted", NULL), 0);
    fix_fini(&f);
}

typedef struct {
    fix_t *f;
    sim_time_t period;
    sim_time_t first_fail;
    int opened;
    bool session;
    rec_t *r;
} opener_t;

/* The article's bug: a new client (connection, stream and, with a session,
 * a lease) per watch, never closed. A client whose session is refused is
 * closed again. */
static void open_per_watch(sim_t *sim, void *obj, uint64_t arg)
{
    (void)arg;
    opener_t *o = obj;
    int c = etcd_client_open(o->f->e);
    cr_assert_geq(c, 0);
    if (o->session && etcd_lease_grant(o->f->e, c) != 0) {
        etcd_client_close(o->f->e, c);
        if (o->first_fail < 0) o->first_fail = sim_now(sim);
    } else {
        o->opened++;
        cr_assert_geq(etcd_watch(o->f->e, c, "/config/rag/", true, on_event, o->r), 0);
    }
    sim_schedule_in(sim, o->period, open_per_watch, o, 0);
}

Test(etcd, per_watch_clients_with_a_session_exhaust_the_quota_at_quota_over_rate)
{
    fix_t f;
    fix_spec(&f);
    f.spec.lease_quota = 1000;
    fix_start(&f, 1, 0);
    static rec_t r;
    memset(&r, 0, sizeof r);
    opener_t o = {.f = &f, .period = 10 * SIM_MS, .first_fail = -1, .session = true, .r = &r};   /* 100 opens/s */
    sim_schedule_at(f.sim, 0, open_per_watch, &o, 0);
    run(&f, 11 * SIM_SEC);
    /* Opens at k x 10 ms, k = 0..1100: the 1001st session (k = 1000) is
     * refused at quota / rate = 1000 / 100 = 10 s, and every one after it. */
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

Test(etcd, per_watch_clients_without_a_session_never_meet_the_quota)
{
    /* The same bug without sessions: connections, streams and watchers pile
     * up (1101 in 11 s), leases do not, and nothing is refused. */
    fix_t f;
    fix_spec(&f);
    f.spec.lease_quota = 1000;
    fix_start(&f, 1, 0);
    static rec_t r;
    memset(&r, 0, sizeof r);
    opener_t o = {.f = &f, .period = 10 * SIM_MS, .first_fail = -1, .session = false, .r = &r};
    sim_schedule_at(f.sim, 0, open_per_watch, &o, 0);
    run(&f, 11 * SIM_SEC);
    cr_assert_eq(o.first_fail, -1);
    cr_assert_eq(o.opened, 1101);
    etcd_stats_t st = stats(&f);
    cr_assert_eq(st.connections, 1101);
    cr_assert_eq(st.watchers, 1101);
    cr_assert_eq(st.leases_in_use, 0);
    cr_assert_eq(st.grant_failures, 0);
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
    cr_assert_eq(etcd_lease_grant(f.e, a), 0);
    cr_assert_eq(etcd_lease_grant(f.e, b), 0);
    sim_schedule_at(f.sim, 1 * SIM_SEC, close_client, f.e, (uint64_t)a);   /* last keepalive: grant at 0 */
    sim_schedule_at(f.sim, 5 * SIM_SEC, close_client, f.e, (uint64_t)b);   /* last keepalive at 4 s */
    run(&f, 6 * SIM_SEC - 1);
    cr_assert_eq(stats(&f).leases_in_use, 2);
    cr_assert_eq(stats(&f).connections, 0);
    int c = etcd_client_open(f.e);
    cr_assert_geq(c, 0);
    cr_assert_eq(etcd_lease_grant(f.e, c), ETCD_ERR_LEASE_QUOTA, "closed clients' leases still count against the quota");
    run(&f, 6 * SIM_SEC);
    cr_assert_eq(stats(&f).leases_in_use, 1);
    run(&f, 10 * SIM_SEC - 1);
    cr_assert_eq(stats(&f).leases_in_use, 1);
    run(&f, 10 * SIM_SEC);
    etcd_stats_t st = stats(&f);
    cr_assert_eq(st.leases_in_use, 0);
    cr_assert_eq(st.keepalives, 2, "b at 2 s and 4 s; a closed before its first");
    cr_assert_eq(etcd_lease_grant(f.e, c), 0);
    cr_assert_eq(count_log(f.sim, "lease_quota_recovered", NULL), 1);
    fix_fini(&f);
}

Test(etcd, keepalives_every_third_of_the_ttl_cost_cpu)
{
    fix_t f;
    fix_spec(&f);
    f.spec.lease_ttl = 3 * SIM_SEC;                  /* keepalive period 1 s */
    fix_start(&f, 1, 0);
    for (int i = 0; i < 30; i++) cr_assert_eq(etcd_lease_grant(f.e, etcd_client_open(f.e)), 0);
    for (int i = 0; i < 20; i++) cr_assert_geq(etcd_client_open(f.e), 0);   /* no lease: no keepalive */
    run(&f, 10500 * SIM_MS);
    /* leases x window / (TTL/3) = 30 x floor(10.5 s / 1 s) */
    etcd_stats_t st = stats(&f);
    cr_assert_eq(st.keepalives, 300);
    cr_assert_eq(st.cpu_jobs_done, 50 + 30 + 300);
    /* (50 x 200 us + 30 x 50 us + 300 x 10 us) / (10.5 s x 2 cores) */
    cr_assert_float_eq(st.cpu_busy_ratio, 14.5e-3 / 21.0, 1e-15);
    fix_fini(&f);
}
