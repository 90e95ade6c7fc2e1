/* The Go gateway's books: goroutines, reloads per config event, the OOM
 * kill and its restart. Hand-computed from deterministic deployments. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "models/rag/rag.h"
#include "ragfx.h"
#include "sim/scenario.h"

typedef ragfx_t fx_t;

static void start(fx_t *f, const char *yaml)
{
    ragfx_load(f, "g.yaml", yaml, 1);
}

static void done(fx_t *f) { ragfx_done(f); }

#define DETERMINISTIC                                                                                   \
    "name: g\nduration: 60s\nseed: 1\n"                                                                  \
    "workload:\n  arrivals: deterministic\n  profile: [{for: 1500ms, rate: 1/s}, {rate: 0/s}]\n"        \
    "  query_tokens: {dist: deterministic, value: 40}\n  output_tokens: {dist: deterministic, value: 50}\n" \
    "embedder: {max_queue_delay: 0s, batch_time: {base: 4ms, per_token: 0s}}\n"                          \
    "vectordb:\n  threads: 1\n  index: {type: flat, vectors: 1, dim: 1}\n"                              \
    "  cost: {base: 10ms, speed: 1e12}\n  jitter: {dist: deterministic, value: 1}\n"            \
    "llm: {hardware: {step_time: {base: 10ms, per_token: 0s}}, kv_cache: 56GiB, kv_bytes_per_token: 128KiB}\n"                                      \
    "pipeline: {steps: [embed, retrieve, generate]}\n"

Test(gateway, goroutines_are_requests_plus_llm_calls)
{
    /* one request at 1 s on a 1-replica gateway: pre 2 ms, embed 4, retrieve
     * 10, generate 520, post 1. During generation: 1 request goroutine + 1
     * LLM-call goroutine; before and after: none. */
    fx_t f;
    start(&f, DETERMINISTIC "gateway: {replicas: 1, cores: 1, handling: {pre: 2ms, post: 1ms}}\n");
    gort_t *rt = &f.rag->gw.rep[0].rt;
    sim_run(f.sim, 999 * SIM_MS);
    cr_assert_eq(rt->goroutines, 0);
    sim_run(f.sim, 1 * SIM_SEC + 100 * SIM_MS);
    cr_assert_eq(rt->goroutines, 2, "request + LLM call: %lld", (long long)rt->goroutines);
    cr_assert_eq(rt->live, (64 << 10) + (128 << 10) + 3200, "request + LLM call buffers + one cache entry");
    sim_run(f.sim, 2 * SIM_SEC);
    cr_assert_eq(rt->goroutines, 0);
    cr_assert_eq(rt->live, 3200, "only the cache entry stays");
    done(&f);
}

Test(gateway, a_naive_push_reloads_once_per_key_per_replica)
{
    /* 3 replicas x 7 keys: 21 reloads, each 40 ms of CPU and a goroutine */
    fx_t f;
    start(&f, DETERMINISTIC "gateway: {replicas: 3, cores: 4}\n"
                            "config: {reload: {cpu: 40ms, memory: 10MiB}, pushes: [{at: 10s, keys: 7}]}\n");
    sim_run(f.sim, 10 * SIM_SEC + 5 * SIM_MS);
    int64_t running = 0, gor = 0;
    for (int r = 0; r < 3; r++) {
        running += f.rag->gw.rep[r].reloads_running;
        gor += f.rag->gw.rep[r].rt.goroutines;
    }
    cr_assert_eq(running, 21, "all reloads start within ms of the push: %lld", (long long)running);
    cr_assert_eq(gor, 21, "one goroutine per reload");
    sim_run(f.sim, 20 * SIM_SEC);
    cr_assert_eq(f.rag->gw.reloads_total, 21);
    cr_assert_float_eq(f.rag->gw.reload_cpu_s, 21 * 0.040, 1e-9);
    for (int r = 0; r < 3; r++) cr_assert_eq(f.rag->gw.rep[r].rt.goroutines, 0);
    done(&f);
}

Test(gateway, oom_kill_fails_held_requests_and_restarts_cold)
{
    /* A 64 MiB container: a 128 MiB reload at 1.01 s (while the request of
     * 1 s is generating) kills the replica. The request fails ("gateway
     * crashed"); a first crash has no CrashLoopBackOff yet: the process
     * restarts at once with an empty cache and is ready 5 s later. The push
     * at 20 s kills it again: now it waits 10 s, ready 15 s after the kill. */
    fx_t f;
    start(&f, DETERMINISTIC "gateway: {replicas: 1, cores: 1, runtime: {memory_limit: 64MiB}}\n"
                            "config: {reload: {cpu: 1ms, memory: 128MiB},\n"
                            "         pushes: [{at: 1010ms, keys: 1}, {at: 20s, keys: 1}]}\n");
    sim_run(f.sim, 2 * SIM_SEC);
    cr_assert_eq(f.rag->outcome[RAG_ERROR], 1);
    cr_assert_eq(f.rag->gw.oom_kills_total, 1);
    cr_assert_not(f.rag->gw.rep[0].up);
    cr_assert(f.rag->gw.rep[0].starting, "a first crash: restarted at once, starting up");
    cr_assert_eq(embc_entries(&f.rag->gw.rep[0].cache), 0, "the new process starts empty");
    sim_run(f.sim, 7 * SIM_SEC);
    cr_assert(f.rag->gw.rep[0].up, "ready 5 s after the restart");
    sim_run(f.sim, 25 * SIM_SEC);
    cr_assert_eq(f.rag->gw.oom_kills_total, 2);
    cr_assert_not(f.rag->gw.rep[0].up);
    cr_assert_not(f.rag->gw.rep[0].starting, "a second crash: down for 10 s");
    sim_run(f.sim, 60 * SIM_SEC);
    const sim_table_t *ev = sim_log_table(f.sim);
    int kind = sim_table_find_col(ev, "kind"), tcol = sim_table_find_col(ev, "time");
    double killed[2] = {-1, -1}, restarted[2] = {-1, -1}, ready[2] = {-1, -1};
    int nk = 0, nr = 0, nready = 0;
    for (size_t i = 0; i < ev->nrows; i++) {
        const char *k = sim_table_get_str(ev, i, kind);
        double t = sim_table_get_f64(ev, i, tcol);
        if (!strcmp(k, "oom_kill") && nk < 2) killed[nk++] = t;
        if (!strcmp(k, "replica_restarted") && nr < 2) restarted[nr++] = t;
        if (!strcmp(k, "replica_ready") && nready < 2) ready[nready++] = t;
    }
    cr_assert_eq(nk, 2);
    cr_assert_eq(nr, 2);
    cr_assert_eq(nready, 2);
    cr_assert_gt(killed[0], 1.01);
    cr_assert_lt(killed[0], 1.02);
    cr_assert_float_eq(restarted[0], killed[0], 1e-9);
    cr_assert_float_eq(ready[0], killed[0] + 5, 1e-9);
    cr_assert_gt(killed[1], 20.0);
    cr_assert_lt(killed[1], 20.1);
    cr_assert_float_eq(restarted[1], killed[1] + 10, 1e-9);
    cr_assert_float_eq(ready[1], killed[1] + 15, 1e-9);
    done(&f);
}

/* ---- broken config watches: resume or re-list ---------------------------------- */

/* Notable events of kind `kind`: how many, and the value of the first. */
static int log_count(const sim_t *sim, const char *kind, double *first_value)
{
    const sim_table_t *ev = sim_log_table(sim);
    int ck = sim_table_find_col(ev, "kind"), cv = sim_table_find_col(ev, "value");
    int n = 0;
    for (size_t i = 0; i < ev->nrows; i++)
        if (!strcmp(sim_table_get_str(ev, i, ck), kind)) {
            if (n == 0 && first_value) *first_value = sim_table_get_f64(ev, i, cv);
            n++;
        }
    return n;
}

static etcd_stats_t etcd_now(const fx_t *f)
{
    etcd_stats_t st;
    etcd_stats(f->rag->gw.etcd, &st);
    return st;
}

static int64_t reloads_running(const fx_t *f)
{
    int64_t n = 0;
    for (int64_t r = 0; r < f->spec.gw.replicas; r++) n += f->rag->gw.rep[r].reloads_running;
    return n;
}

/* Two partitions of 2 s (10 s and 20 s); a 4-key push at 11 s, inside the
 * first. Three replicas, one shared watch each, no batching: one reload
 * per delivered event. */
#define TWO_PARTITIONS                                                                          \
    "gateway: {replicas: 3, cores: 4}\n"                                                          \
    "faults: [{kind: partition, target: etcd, at: 10s, for: 2s},\n"                                 \
    "         {kind: partition, target: etcd, at: 20s, for: 2s}]\n"
#define PUSH_IN_THE_FIRST "pushes: [{at: 11s, keys: 4}]"

Test(gateway_watch, resume_after_a_short_partition_gets_exactly_the_missed_events)
{
    fx_t f;
    start(&f, DETERMINISTIC TWO_PARTITIONS
          "config: {reload: {cpu: 40ms, memory: 10MiB}, watch: {resume: true}, " PUSH_IN_THE_FIRST "}\n");
    gw_t *g = &f.rag->gw;
    sim_run(f.sim, 11500 * SIM_MS);
    /* every watch broke at 10 s; the retry at 11 s found etcd unreachable */
    cr_assert_eq(g->watch_breaks, 3);
    cr_assert_eq(g->watch_resumes, 0);
    for (int r = 0; r < 3; r++) {
        cr_assert_eq(g->rep[r].shared->state, GW_WATCH_BROKEN);
        cr_assert_eq(g->rep[r].nbroken, 1);
        cr_assert_eq(g->rep[r].shared->last_rev, 0);
    }
    cr_assert_eq(reloads_running(&f), 0, "the push applied, but nobody heard it");
    /* 12 s: the heal, then the retry: watch from lastRev + 1 = 1 on the same
     * client. The 4 missed revisions are replayed: 4 reloads per replica. */
    sim_run(f.sim, 12 * SIM_SEC);
    cr_assert_eq(g->watch_resumes, 3);
    for (int r = 0; r < 3; r++) cr_assert_eq(g->rep[r].shared->state, GW_WATCH_LIVE);
    sim_run(f.sim, 12010 * SIM_MS);
    cr_assert_eq(reloads_running(&f), 12, "%lld", (long long)reloads_running(&f));
    sim_run(f.sim, 13 * SIM_SEC);
    cr_assert_eq(g->reloads_total, 12);
    cr_assert_eq(g->events_seen, 12);
    for (int r = 0; r < 3; r++) cr_assert_eq(g->rep[r].shared->last_rev, 4);
    cr_assert_eq(etcd_now(&f).events_replayed, 12);
    /* the second partition missed nothing: resumed, nothing replayed, no reload */
    sim_run(f.sim, 25 * SIM_SEC);
    cr_assert_eq(g->watch_breaks, 6);
    cr_assert_eq(g->watch_resumes, 6);
    cr_assert_eq(g->watch_relists, 0);
    cr_assert_eq(g->reloads_total, 12);
    etcd_stats_t st = etcd_now(&f);
    cr_assert_eq(st.events_replayed, 12);
    for (int r = 0; r < 3; r++) cr_assert_eq(g->rep[r].shared->client, r, "the same clients throughout");
    cr_assert_eq(st.connections, 3);
    cr_assert_eq(st.grants, 0, "watches take no lease");
    cr_assert_eq(st.leases_in_use, 0);
    cr_assert_eq(st.ranges, 0);
    double v = 0;
    cr_assert_eq(log_count(f.sim, "config_watch_broken", &v), 2, "one line per break, not per watcher");
    cr_assert_eq(v, 3);
    cr_assert_eq(log_count(f.sim, "config_watch_resumed", &v), 2);
    cr_assert_eq(v, 3);
    cr_assert_eq(log_count(f.sim, "config_watch_relisted", NULL), 0);
    done(&f);
}

Test(gateway_watch, naive_relists_and_reloads_once_per_replica_per_break)
{
    /* with session_per_client every client the naive reconnect opens also
     * creates a session (a lease): the old ones are left to expire */
    fx_t f;
    start(&f, DETERMINISTIC TWO_PARTITIONS
          "config: {reload: {cpu: 40ms, memory: 10MiB}, session_per_client: true, " PUSH_IN_THE_FIRST "}\n");
    gw_t *g = &f.rag->gw;
    sim_run(f.sim, 12 * SIM_SEC);
    /* at the heal: a new client, a Range (1 ms + 4 keys x 5 us) per replica */
    cr_assert_eq(g->watch_relists, 3);
    for (int r = 0; r < 3; r++) cr_assert_eq(g->rep[r].shared->state, GW_WATCH_RELISTING);
    sim_run(f.sim, 12005 * SIM_MS);
    cr_assert_eq(reloads_running(&f), 3, "one full reload per replica");
    for (int r = 0; r < 3; r++) {
        cr_assert_eq(g->rep[r].shared->state, GW_WATCH_LIVE);
        cr_assert_eq(g->rep[r].shared->last_rev, 4, "the listing's revision");
    }
    sim_run(f.sim, 13 * SIM_SEC);
    cr_assert_eq(g->reloads_total, 3);
    cr_assert_eq(g->events_seen, 0, "the push came with the listing, not as events");
    etcd_stats_t st = etcd_now(&f);
    cr_assert_eq(st.ranges, 3);
    cr_assert_eq(st.grants, 6);
    cr_assert_eq(st.connections, 3, "the old clients are closed");
    cr_assert_eq(st.leases_in_use, 6, "the old sessions' leases are not revoked");
    sim_run(f.sim, 25 * SIM_SEC);
    cr_assert_eq(g->watch_breaks, 6);
    cr_assert_eq(g->watch_relists, 6);
    cr_assert_eq(g->watch_resumes, 0);
    cr_assert_eq(g->reloads_total, 6, "a full reload even when nothing changed");
    st = etcd_now(&f);
    cr_assert_eq(st.grants, 9);
    cr_assert_eq(st.leases_in_use, 9);
    /* the first set was renewed at the heal (12 s) and closed at once:
     * expires at 72 s; the second at 82 s */
    sim_run(f.sim, 72 * SIM_SEC - 1);
    cr_assert_eq(etcd_now(&f).leases_in_use, 9);
    sim_run(f.sim, 72 * SIM_SEC);
    cr_assert_eq(etcd_now(&f).leases_in_use, 6);
    sim_run(f.sim, 82 * SIM_SEC);
    cr_assert_eq(etcd_now(&f).leases_in_use, 3);
    double v = 0;
    cr_assert_eq(log_count(f.sim, "config_watch_relisted", &v), 2);
    cr_assert_eq(v, 3);
    done(&f);
}

Test(gateway_watch, resume_does_not_depend_on_the_session_that_expired)
{
    /* Each replica's client holds a session (TTL 3 s, renewed every 1 s); a
     * partition from 10.5 s to 15.5 s: the sessions (last renewed at 10 s)
     * expire at 13 s. The watches do not care: nothing was compacted, so
     * they resume from lastRev + 1 after the heal, nothing was missed,
     * nothing is reloaded; each replica then makes a new session on the same
     * client (grants 3 + 3). */
    fx_t f;
    start(&f, DETERMINISTIC "gateway: {replicas: 3, cores: 4}\n"
                            "faults: [{kind: partition, target: etcd, at: 10500ms, for: 5s}]\n"
                            "etcd: {lease_ttl: 3s}\n"
                            "config: {reload: {cpu: 40ms, memory: 10MiB}, session_per_client: true, watch: {resume: true}}\n");
    gw_t *g = &f.rag->gw;
    sim_run(f.sim, 10 * SIM_SEC);
    cr_assert_eq(etcd_now(&f).leases_in_use, 3, "one session per replica");
    sim_run(f.sim, 13 * SIM_SEC);
    cr_assert_eq(etcd_now(&f).leases_in_use, 0);
    for (int r = 0; r < 3; r++) cr_assert_not(etcd_client_lease_live(g->etcd, g->rep[r].shared->client));
    sim_run(f.sim, 17 * SIM_SEC);
    cr_assert_eq(g->watch_resumes, 3);
    cr_assert_eq(g->watch_relists, 0);
    cr_assert_eq(g->watch_compacted, 0);
    cr_assert_eq(g->reloads_total, 0);
    etcd_stats_t st = etcd_now(&f);
    cr_assert_eq(st.ranges, 0);
    cr_assert_eq(st.grants, 6, "a new session per replica, on the same client");
    cr_assert_eq(st.leases_in_use, 3);
    cr_assert_eq(st.leases_expired, 3);
    for (int r = 0; r < 3; r++) {
        cr_assert_eq(g->rep[r].shared->state, GW_WATCH_LIVE);
        cr_assert_eq(g->rep[r].shared->client, r);
        cr_assert(etcd_client_lease_live(g->etcd, r));
    }
    done(&f);
}

Test(gateway_watch, resume_falls_back_to_a_relist_when_the_revision_is_compacted)
{
    /* retention 2: the 4-key push in the partition compacts revisions up to
     * 2, and the resume from revision 1 gets ErrCompacted: the re-list keeps
     * the client (a resume never needs a new one). */
    fx_t f;
    start(&f, DETERMINISTIC TWO_PARTITIONS "etcd: {compaction_retention: 2}\n"
          "config: {reload: {cpu: 40ms, memory: 10MiB}, watch: {resume: true}, " PUSH_IN_THE_FIRST "}\n");
    gw_t *g = &f.rag->gw;
    sim_run(f.sim, 13 * SIM_SEC);
    cr_assert_eq(g->watch_compacted, 3);
    cr_assert_eq(g->watch_relists, 3);
    cr_assert_eq(g->watch_resumes, 0);
    cr_assert_eq(g->reloads_total, 3, "one full reload, not 4 replayed events");
    etcd_stats_t st = etcd_now(&f);
    cr_assert_eq(st.compacted_failures, 3);
    for (int r = 0; r < 3; r++) cr_assert_eq(g->rep[r].shared->client, r, "same clients");
    cr_assert_eq(st.grants, 0);
    cr_assert_eq(st.events_replayed, 0);
    cr_assert_eq(log_count(f.sim, "watch_compacted", NULL), 1);
    /* the second break resumes: the revision (4) is kept */
    sim_run(f.sim, 25 * SIM_SEC);
    cr_assert_eq(g->watch_resumes, 3);
    cr_assert_eq(g->watch_relists, 3);
    cr_assert_eq(g->reloads_total, 3);
    done(&f);
}

/* 1000 requests at 100/s (0.01 s .. 10 s), each opening a client and a watch (the bug);
 * a 2 s partition at 20 s breaks all of them. */
#define PER_REQUEST(resume)                                                                          \
    "name: g\nduration: 60s\nseed: 1\n"                                                              \
    "workload:\n  arrivals: deterministic\n  profile: [{for: 10005ms, rate: 100/s}, {rate: 0/s}]\n"       \
    "  query_tokens: {dist: deterministic, value: 40}\n  output_tokens: {dist: deterministic, value: 50}\n" \
    "embedder: {max_queue_delay: 0s, batch_time: {base: 4ms, per_token: 0s}}\n"                      \
    "vectordb:\n  threads: 8\n  index: {type: flat, vectors: 1, dim: 1}\n"                          \
    "  cost: {base: 10ms, speed: 1e12}\n  jitter: {dist: deterministic, value: 1}\n"        \
    "llm: {hardware: {step_time: {base: 10ms, per_token: 0s}}, kv_cache: 56GiB, kv_bytes_per_token: 128KiB}\n"                                  \
    "pipeline: {steps: [embed, retrieve, generate]}\n"                                                \
    "gateway: {replicas: 2, cores: 4}\n"                                                              \
    "faults: [{kind: partition, target: etcd, at: 20s, for: 2s}]\n"                                   \
    "config: {watch_client: per_watch, watch_per_request: true, reload: {cpu: 1ms, memory: 1MiB},\n"  \
    "         watch: {resume: " resume "}}\n"

static int64_t watches_in(const gw_t *g, int state)
{
    int64_t n = 0;
    for (int64_t r = 0; r < g->spec->replicas; r++)
        for (const gw_watch_t *w = g->rep[r].watches; w; w = w->next) n += w->state == state;
    return n;
}

Test(gateway_watch, per_request_watchers_all_break_and_relist_at_once, .timeout = 60)
{
    /* Naive: each of the 1000 watchers re-lists at the heal: a new client
     * (connect 200 us; no session, so no grant) and a Range (1 ms) each,
     * behind the heal's 1000 reconnects (connect 200 us each; no lease to
     * renew): 1.4 s of etcd CPU on 2 cores, so the last watch is back ~0.7 s
     * after the heal; and one full reload per watcher. */
    fx_t f;
    start(&f, PER_REQUEST("false"));
    gw_t *g = &f.rag->gw;
    sim_run(f.sim, 21 * SIM_SEC);
    cr_assert_eq(g->watch_breaks, 1000, "%llu breaks, %llu arrivals, %llu watch failures", (unsigned long long)g->watch_breaks, (unsigned long long)f.rag->arrivals, (unsigned long long)g->watch_failures);
    cr_assert_eq(watches_in(g, GW_WATCH_BROKEN), 1000);
    cr_assert_eq(etcd_now(&f).watchers_broken, 1000);
    sim_run(f.sim, 22 * SIM_SEC);
    cr_assert_eq(g->watch_relists, 1000);
    sim_run(f.sim, 22500 * SIM_MS);
    int64_t back = watches_in(g, GW_WATCH_LIVE);
    cr_assert_gt(back, 0);
    cr_assert_lt(back, 1000, "a re-list storm: %lld of 1000 back after 0.5 s", (long long)back);
    sim_run(f.sim, 23 * SIM_SEC);
    cr_assert_eq(watches_in(g, GW_WATCH_LIVE), 1000);
    etcd_stats_t st = etcd_now(&f);
    cr_assert_eq(st.ranges, 1000);
    cr_assert_eq(st.grants, 0);
    cr_assert_eq(st.connections, 1000, "the old clients are closed");
    cr_assert_eq(g->reloads_total, 1000);
    double v = 0;
    cr_assert_eq(log_count(f.sim, "config_watch_broken", &v), 1);
    cr_assert_eq(v, 1000);
    cr_assert_eq(log_count(f.sim, "config_watch_relisted", NULL), 1, "both replicas' retries share the instant");
    done(&f);
}

Test(gateway_watch, per_request_watchers_resume_on_their_clients, .timeout = 60)
{
    fx_t f;
    start(&f, PER_REQUEST("true"));
    gw_t *g = &f.rag->gw;
    sim_run(f.sim, 22 * SIM_SEC);
    cr_assert_eq(g->watch_breaks, 1000, "%llu breaks, %llu arrivals, %llu watch failures", (unsigned long long)g->watch_breaks, (unsigned long long)f.rag->arrivals, (unsigned long long)g->watch_failures);
    cr_assert_eq(g->watch_resumes, 1000);
    cr_assert_eq(watches_in(g, GW_WATCH_LIVE), 1000, "all back at the heal");
    sim_run(f.sim, 23 * SIM_SEC);
    etcd_stats_t st = etcd_now(&f);
    cr_assert_eq(st.ranges, 0);
    cr_assert_eq(st.grants, 0);
    cr_assert_eq(st.connections, 1000);
    cr_assert_eq(g->reloads_total, 0);
    done(&f);
}

/* ---- the watch batcher ---------------------------------------------------------- */

/* One replica; a push at 10 s of N keys on etcd's 2 idle cores: the puts
 * take ceil(N/2) x 100 us, then the events go out in pairs, 20 us each, and
 * arrive 2 ms later: event n at 10 s + ceil(N/2) x 100 us + ceil(n/2) x 20 us
 * + 2 ms. */
#define BATCHED(keys)                                                                               \
    DETERMINISTIC "gateway: {replicas: 1, cores: 4}\n"                                               \
    "config: {reload: {cpu: 1ms, memory: 1MiB}, watch: {batch: {window: 50ms, max_events: 32}, coalesce: true},\n" \
    "         pushes: [{at: 10s, keys: " keys "}]}\n"

Test(gateway_watch, a_batch_flushes_at_the_window_after_its_first_event)
{
    /* 10 keys: event 1 at 10 s + 500 + 20 + 2000 us = 10.00252 s, the
     * last at 10.0026 s; one flush (one coalesced reload) at 10.05252 s. */
    fx_t f;
    start(&f, BATCHED("10"));
    gw_t *g = &f.rag->gw;
    const sim_time_t first = 10 * SIM_SEC + 2520 * SIM_US;
    sim_run(f.sim, first - 1);
    cr_assert_eq(g->rep[0].batch_events, 0);
    sim_run(f.sim, first);
    cr_assert_eq(g->rep[0].batch_events, 2, "events 1 and 2 left on the two cores together");
    sim_run(f.sim, first + 50 * SIM_MS - 1);
    cr_assert_eq(g->rep[0].batch_events, 10);
    cr_assert_eq(g->batches, 0);
    cr_assert_eq(g->reloads_started, 0);
    sim_run(f.sim, first + 50 * SIM_MS);
    cr_assert_eq(g->batches, 1);
    cr_assert_eq(g->reloads_started, 1);
    cr_assert_eq(g->rep[0].batch_events, 0);
    sim_run(f.sim, 20 * SIM_SEC);
    cr_assert_eq(g->batches, 1);
    cr_assert_eq(g->reloads_total, 1);
    cr_assert_eq(g->events_seen, 10);
    done(&f);
}

Test(gateway_watch, a_batch_flushes_at_max_events_then_the_rest_at_the_window)
{
    /* 50 keys: puts end at 2.5 ms; event n arrives at 10 s + 2500 us +
     * ceil(n/2) x 20 us + 2 ms: the 32nd at 10.00482 s flushes 32 at once;
     * the 33rd (10.00484 s) opens the next batch, which the window flushes
     * with the 18 remaining events at 10.05484 s. */
    fx_t f;
    start(&f, BATCHED("50"));
    gw_t *g = &f.rag->gw;
    const sim_time_t t32 = 10 * SIM_SEC + 4820 * SIM_US, t33 = 10 * SIM_SEC + 4840 * SIM_US;
    sim_run(f.sim, t32 - 1);
    cr_assert_eq(g->rep[0].batch_events, 30);
    cr_assert_eq(g->batches, 0);
    sim_run(f.sim, t32);
    cr_assert_eq(g->batches, 1, "the 32nd event flushes the batch");
    cr_assert_eq(g->reloads_started, 1);
    cr_assert_eq(g->rep[0].batch_events, 0);
    sim_run(f.sim, t33);
    cr_assert_eq(g->rep[0].batch_events, 2);
    sim_run(f.sim, t33 + 50 * SIM_MS - 1);
    cr_assert_eq(g->rep[0].batch_events, 18);
    cr_assert_eq(g->batches, 1);
    sim_run(f.sim, t33 + 50 * SIM_MS);
    cr_assert_eq(g->batches, 2, "the window flushes the other 18");
    cr_assert_eq(g->reloads_started, 2);
    sim_run(f.sim, 20 * SIM_SEC);
    cr_assert_eq(g->batches, 2);
    cr_assert_eq(g->events_seen, 50);
    done(&f);
}

/* ---- transactions and coalescing by revision ------------------------------------ */

/* Three replicas, no batching; a push of 7 keys at 10 s, as separate puts
 * or one transaction, reloads per event or coalesced by revision. */
#define PUSH7(push, watch)                                                                         \
    DETERMINISTIC "gateway: {replicas: 3, cores: 4}\n"                                             \
    "config: {reload: {cpu: 40ms, memory: 10MiB}, pushes: [{at: 10s, keys: 7" push "}]" watch "}\n"

Test(gateway_watch, a_transaction_is_one_response_and_coalescing_reloads_once_per_revision)
{
    static const struct {
        const char *push, *watch;
        uint64_t reloads, events, responses;
    } cases[] = {
        /* 7 puts: 7 revisions, 7 responses of 1 event per replica; naive
         * and coalesced alike, one reload per revision = per event: 21 */
        {"", "", 21, 21, 21},
        {"", ", watch: {coalesce: true}", 21, 21, 21},
        /* one transaction: 1 revision, 1 response of 7 events per replica;
         * the naive callback still reloads per event (21), coalescing by
         * revision once per replica (3) */
        {", txn: true", "", 21, 21, 3},
        {", txn: true", ", watch: {coalesce: true}", 3, 21, 3},
        /* the version gate on a transaction: 8 events (with `_version`) in
         * one response; only `_version` reloads */
        {", txn: true", ", watch: {version_gate: true}", 3, 24, 3},
        /* batched: the transaction's 7 events enter the batch at once; the
         * window flushes them: 7 reloads per replica, or 1 coalesced */
        {", txn: true", ", watch: {batch: {window: 50ms, max_events: 32}}", 21, 21, 3},
        {", txn: true", ", watch: {batch: {window: 50ms, max_events: 32}, coalesce: true}", 3, 21, 3},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        char yaml[4096];
        snprintf(yaml, sizeof yaml, PUSH7("%s", "%s"), cases[i].push, cases[i].watch);
        fx_t f;
        start(&f, yaml);
        sim_run(f.sim, 20 * SIM_SEC);
        gw_t *g = &f.rag->gw;
        etcd_stats_t st = etcd_now(&f);
        cr_expect_eq(g->reloads_total, cases[i].reloads, "case %zu: %llu reloads", i,
                     (unsigned long long)g->reloads_total);
        cr_expect_eq(g->events_seen, cases[i].events, "case %zu: %llu events", i, (unsigned long long)g->events_seen);
        cr_expect_eq(st.responses_delivered, cases[i].responses, "case %zu: %llu responses", i,
                     (unsigned long long)st.responses_delivered);
        cr_expect_eq(st.revision, strstr(cases[i].push, "txn") ? 1 : 7, "case %zu: revision %lld", i,
                     (long long)st.revision);
        done(&f);
    }
}

/* ---- parsing -------------------------------------------------------------------- */

static int parse_errors(const char *yaml, char *msg, size_t n)
{
    sim_diag_t d;
    sim_diag_init(&d);
    sim_cfg_t *cfg = sim_cfg_load_string("g.yaml", yaml, strlen(yaml), &d);
    cr_assert_not_null(cfg, "%s", sim_diag_text(&d));
    sim_cfg_node_t *root = sim_cfg_root(cfg);
    sim_scenario_t sc;
    rag_spec_t spec;
    sim_scenario_parse(&d, root, &sc);
    rag_spec_parse(&d, root, &sc, &spec);
    snprintf(msg, n, "%s", sim_diag_text(&d));
    int errors = d.errors;
    rag_spec_fini(&spec);
    sim_cfg_destroy(cfg);
    sim_diag_fini(&d);
    return errors;
}

#define ASSERT_HAS(msg, str) cr_assert(strstr((msg), (str)) != NULL, "expected\n  %s\ngot\n%s", (str), (msg))

Test(gateway_watch, bad_partitions_and_reconnect_settings_are_reported_where_they_are)
{
    static char msg[4096];
    int n = parse_errors(DETERMINISTIC "faults:\n"
                                       "  - {kind: partition, target: gateway, at: 1s, for: 1s}\n"
                                       "  - {kind: partition, at: 1s, for: 1s}\n"
                                       "  - {kind: partition, target: etcd, at: 1s}\n"
                                       "config:\n"
                                       "  reconnect_interval: 0s\n"
                                       "  watch: {resume: maybe}\n",
                         msg, sizeof msg);
    ASSERT_HAS(msg, "g.yaml:18:31: error: 'faults[0].target': expected one of etcd, got 'gateway'");
    ASSERT_HAS(msg, "g.yaml:19:5: error: missing required key 'target' in 'faults[1]'");
    ASSERT_HAS(msg, "g.yaml:20:5: error: missing required key 'for' in 'faults[2]'");
    ASSERT_HAS(msg, "g.yaml:22:23: error: 'config.reconnect_interval': expected a duration > 0, got '0s'");
    ASSERT_HAS(msg, "g.yaml:23:19: error: 'config.watch.resume': expected true or false, got 'maybe'");
    cr_assert_eq(n, 5, "%s", msg);
    n = parse_errors(DETERMINISTIC "faults: [{kind: partition, target: etcd, at: 1s, for: 1s}]\n", msg, sizeof msg);
    ASSERT_HAS(msg, "g.yaml:17:36: error: a partition from etcd needs a 'config' section: without it nothing talks to etcd");
    cr_assert_eq(n, 1, "%s", msg);
}
