/* etcd's watches and streams (models/components/etcd/watch.c): stream
 * buffers and victims retried every victim_retry, a blocked handler, closed
 * clients, and watches from a start revision (replay, compaction). */
#include <criterion/criterion.h>
#include <string.h>

#include "etcdfx.h"
#include "models/components/etcd/etcd.h"
#include "sim/error.h"

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

/* ---- history and compaction ---------------------------------------------- */

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
    /* At 1 s: a client (connect [0, 200] us on the one core; a watching
     * client asks for no lease, so no grant) and a watch from revision 2.
     * The replay entry queues behind the connect and hands out 2, 3, 6, 7
     * (not /b/'s 4, 5): event jobs [200, 220], [220, 240], [240, 260],
     * [260, 280] us, each arriving 2 ms later. A put at 1 s + 100 us
     * (revision 8) queues behind the replay entry: put [280, 380], event
     * [380, 400], arrival 2400 us: live after replayed. */
    static rec_t r;
    memset(&r, 0, sizeof r);
    r.e = f.e;
    sim_schedule_at(f.sim, SIM_SEC, open_and_watch_from, &r, 2);
    sim_schedule_at(f.sim, SIM_SEC + 100 * SIM_US, put_a, f.e, 1);
    run(&f, 2 * SIM_SEC);
    int c = 0;   /* the client the event opened */
    static const int64_t rev[5] = {2, 3, 6, 7, 8}, key[5] = {1, 2, 0, 1, 0};
    static const sim_time_t at[5] = {2220, 2240, 2260, 2280, 2400};
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

Test(etcd_history, a_replayed_transaction_is_one_response)
{
    /* a transaction of 5 keys under /a/ (revision 1), then 2 puts (2-3): a
     * watch from 1 replays three responses, the first with the 5 events */
    fix_t f;
    fix_spec(&f);
    fix_start(&f, 1, 0);
    cr_assert_eq(etcd_txn(f.e, "/a/", 5), 1);
    cr_assert_eq(etcd_put(f.e, "/a/", 2), 2);
    run(&f, SIM_SEC);
    static rec_t r;
    memset(&r, 0, sizeof r);
    r.e = f.e;
    int c = etcd_client_open(f.e);
    cr_assert_geq(etcd_watch_from(f.e, c, "/a/", 1, true, on_event, &r), 0);
    run(&f, 2 * SIM_SEC);
    static const int64_t rev[3] = {1, 2, 3}, key[3] = {0, 0, 1}, nev[3] = {5, 1, 1};
    cr_assert_eq(r.n, 3, "%d responses: rev %lld nev %lld", r.n, (long long)r.rev[0], (long long)r.nev[0]);
    for (int k = 0; k < 3; k++) {
        cr_assert_eq(r.rev[k], rev[k]);
        cr_assert_eq(r.key[k], key[k]);
        cr_assert_eq(r.nev[k], nev[k]);
    }
    etcd_stats_t st = stats(&f);
    cr_assert_eq(st.events_replayed, 7);
    cr_assert_eq(st.responses_delivered, 3);
    cr_assert_eq(st.history, 2);
    fix_fini(&f);
}
