/* etcd's partitions (models/components/etcd/partition.c): streams broken
 * and events dropped, ranges cut, calls refused, leases that run out during
 * the partition, the heal, and watches resumed from their revision after
 * it, which only compaction can refuse (a lease plays no part). */
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
    cr_assert_eq(etcd_lease_grant(f.e, c), ETCD_ERR_UNAVAILABLE);
    cr_assert_eq(stats(&f).partition_failures, 4);
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
    cr_assert_eq(etcd_lease_grant(obj, opened_late), 0);
}

Test(etcd_partition, a_lease_expires_when_the_partition_outlasts_the_time_left_on_its_ttl)
{
    fix_t f;
    fix_spec(&f);
    f.spec.lease_ttl = 6 * SIM_SEC;                  /* keepalives every 2 s */
    fix_start(&f, 1, 0);
    int a = etcd_client_open(f.e);                  /* a client with a lease (a session): */
    cr_assert_eq(etcd_lease_grant(f.e, a), 0);      /* renewed at 2 s and 4 s: expires at 10 s unless renewed */
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

/* ---- resuming a watch: compaction decides, not a lease ---------------------- */

static struct {
    fix_t *f;
    int a, b;                  /* a holds a lease (a session), b only watches */
    rec_t ra, rb;
    int resumed_a, resumed_b;
} rs;

static void rs_put(sim_t *sim, void *obj, uint64_t arg)
{
    (void)sim;
    (void)obj;
    etcd_put(rs.f->e, "/a/", (int64_t)arg);
}

/* both clients watch again from revision `arg` (lastRev + 1) */
static void rs_resume(sim_t *sim, void *obj, uint64_t arg)
{
    (void)sim;
    (void)obj;
    rs.resumed_a = etcd_watch_from(rs.f->e, rs.a, "/a/", (int64_t)arg, true, on_event, &rs.ra);
    rs.resumed_b = etcd_watch_from(rs.f->e, rs.b, "/a/", (int64_t)arg, true, on_event, &rs.rb);
}

static void rs_grant(sim_t *sim, void *obj, uint64_t arg)
{
    (void)sim;
    (void)obj;
    (void)arg;
    cr_assert_eq(etcd_lease_grant(rs.f->e, rs.a), 0, "a new session after the old one expired");
}

Test(etcd_partition, a_watch_resumes_from_its_revision_unless_compacted_whatever_the_lease)
{
    /* TTL 3 s (renewed every 1 s), retention 5 revisions. a holds a lease,
     * b does not; both watch /a/. A put of 2 keys at 1 s (revisions 1-2)
     * reaches both. A partition from 2.5 s to 12.5 s: a's lease, last
     * renewed at 2 s, expires at 5 s; 3 keys are put at 4 s (3-5, nothing
     * compacted: 5 - 5 = 0). At 13 s both watch from lastRev + 1 = 3: both
     * resume, a without its lease, and get exactly 3, 4, 5. A second
     * partition (14 s to 15 s) with 10 keys put in it (6-15: revisions up
     * to 10 compacted); a is granted a new lease at 15.5 s; at 16 s both
     * watch from 6: ErrCompacted for both, the live lease changes nothing. */
    fix_t f;
    fix_spec(&f);
    f.spec.lease_ttl = 3 * SIM_SEC;
    f.spec.compaction_retention = 5;
    fix_start(&f, 1, 0);
    memset(&rs, 0, sizeof rs);
    rs.f = &f;
    rs.ra.e = rs.rb.e = f.e;
    rs.a = etcd_client_open(f.e);
    rs.b = etcd_client_open(f.e);
    cr_assert_eq(etcd_lease_grant(f.e, rs.a), 0);
    cr_assert_geq(etcd_watch(f.e, rs.a, "/a/", true, on_event, &rs.ra), 0);
    cr_assert_geq(etcd_watch(f.e, rs.b, "/a/", true, on_event, &rs.rb), 0);
    sim_schedule_at(f.sim, 1 * SIM_SEC, rs_put, NULL, 2);
    sim_schedule_at(f.sim, 2500 * SIM_MS, partition_now, f.e, (uint64_t)(10 * SIM_SEC));
    sim_schedule_at(f.sim, 4 * SIM_SEC, rs_put, NULL, 3);
    sim_schedule_at(f.sim, 13 * SIM_SEC, rs_resume, NULL, 3);
    sim_schedule_at(f.sim, 14 * SIM_SEC, partition_now, f.e, (uint64_t)SIM_SEC);
    sim_schedule_at(f.sim, 14500 * SIM_MS, rs_put, NULL, 10);
    sim_schedule_at(f.sim, 15500 * SIM_MS, rs_grant, NULL, 0);
    run(&f, 12 * SIM_SEC);
    cr_assert_not(etcd_client_lease_live(f.e, rs.a), "a's lease expired in the partition");
    cr_assert_eq(stats(&f).leases_expired, 1);
    run(&f, 14 * SIM_SEC - 1);
    cr_assert_geq(rs.resumed_a, 0, "a resumes without a lease: %d", rs.resumed_a);
    cr_assert_geq(rs.resumed_b, 0, "b never had one: %d", rs.resumed_b);
    /* each saw 1, 2, the break, then 3, 4, 5 replayed */
    rec_t *r[2] = {&rs.ra, &rs.rb};
    for (int i = 0; i < 2; i++) {
        cr_assert_eq(r[i]->n, 6, "watcher %d: %d responses", i, r[i]->n);
        cr_assert_eq(r[i]->rev[2], ETCD_ERR_UNAVAILABLE);
        for (int k = 0; k < 3; k++) cr_assert_eq(r[i]->rev[3 + k], 3 + k);
    }
    etcd_stats_t st = stats(&f);
    cr_assert_eq(st.events_replayed, 2 * 3);
    cr_assert_eq(st.compacted_failures, 0);
    sim_schedule_at(f.sim, 16 * SIM_SEC, rs_resume, NULL, 6);
    run(&f, 17 * SIM_SEC);
    cr_assert(etcd_client_lease_live(f.e, rs.a));
    cr_assert_eq(etcd_compacted_revision(f.e), 10);
    cr_assert_eq(rs.resumed_a, ETCD_ERR_COMPACTED, "a holds a live lease and is refused all the same");
    cr_assert_eq(rs.resumed_b, ETCD_ERR_COMPACTED);
    cr_assert_eq(stats(&f).compacted_failures, 2);
    fix_fini(&f);
}
