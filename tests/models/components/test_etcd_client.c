/* etcd's clients (models/components/etcd/client.c): leases against the
 * quota, per-watch clients exhausting it, closed clients' leases expiring,
 * keepalive CPU. */
#include <criterion/criterion.h>
#include <string.h>

#include "etcdfx.h"
#include "models/components/etcd/etcd.h"
#include "sim/error.h"

/* ---- leases ------------------------------------------------------------------ */

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
