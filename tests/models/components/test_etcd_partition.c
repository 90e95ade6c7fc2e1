/* etcd's partitions (models/components/etcd/partition.c): streams broken
 * and events dropped, ranges cut, calls refused, leases that run out during
 * the partition, and the heal. */
#include <criterion/criterion.h>
#include <string.h>

#include "etcdfx.h"
#include "models/components/etcd/etcd.h"
#include "sim/error.h"

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
