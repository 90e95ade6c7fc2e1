/* The fixes of the RAG stability article (docs/background.md), each
 * asserted from `ragsim compare` on the shipped trap scenario: the fix must
 * be better than the naive baseline, significantly (paired over common
 * random numbers), by the amount its mechanism predicts where that can be
 * computed by hand. */
#include <criterion/criterion.h>
#include <hdf5.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "h5util.h"

static void close_trace(hid_t f, char *path)
{
    H5Fclose(f);
    unlink(path);
    free(path);
}

/* `variant` is significantly better than the baseline on `metric`. */
static cmprow_t better(hid_t f, const char *variant, const char *metric)
{
    cmprow_t r = comparison_row(f, variant, metric);
    cr_expect_eq(r.verdict, 1, "%s is not better than the baseline on %s: diff %g [%g, %g] over %lld pairs", variant,
                 metric, r.diff, r.diff_lo, r.diff_hi, r.n_paired);
    cr_expect_eq(r.significant, 1, "%s on %s: not significant", variant, metric);
    return r;
}

Test(fixes, vectordb_avalanche_every_policy_prevents_the_oom_and_keeps_answers_grounded, .timeout = 900)
{
    /* Chapter 1: the naive pipeline OOM-kills the vector DB during the
     * spike and, with retrieval failing, answers without context: 75% of
     * its answers are degraded (generated without the chunks), a quarter
     * full successes. Each policy (rate limit at the gateway, result cache,
     * circuit breaker with keyword-search fallback, all three) keeps the DB
     * below its memory limit: no OOM kill, almost every answer grounded,
     * retrieval faster, and far more full successes. What they send to
     * keyword search is degraded too (the rate limit's excess: 450/s
     * offered against 350/s, ~18% at the peak; the breaker's while open),
     * so only the cache reaches 100%. Every variant answers nearly every
     * request (answered_ratio): the LLM serves context-free prompts on
     * time, which is why the answered ratio alone cannot see the trap.
     * End-to-end p95: the naive answers are cheap (a third of the prefill
     * tokens); the fixes that keep slow retrievals out (rate limit, cache)
     * still beat it, the breaker (which lets retrievals of up to its 1 s
     * slow-call threshold through) does not, and is only asked to cut the
     * retrieval p95. */
    char *path;
    hid_t f = run_compare("scenarios/trap-vectordb-avalanche.yaml", 2, &path, NULL);
    cmprow_t oom = comparison_row(f, "naive", "vectordb_oom_kills");
    cmprow_t ung = comparison_row(f, "naive", "ungrounded_ratio");
    cmprow_t ok0 = comparison_row(f, "naive", "success_ratio");
    cr_expect_geq(oom.mean, 2, "the naive baseline must collapse (OOM kills %g)", oom.mean);
    cr_expect_gt(ung.mean, 0.5, "naive ungrounded ratio %g", ung.mean);
    cr_expect_lt(ok0.mean, 0.5, "naive full successes %g", ok0.mean);
    const char *fixes[] = {"rate_limit", "cache", "breaker", "governed"};
    for (size_t i = 0; i < 4; i++) {
        cmprow_t o = better(f, fixes[i], "vectordb_oom_kills");
        cr_expect_eq(o.mean, 0, "%s: %g vector-DB OOM kills", fixes[i], o.mean);
        cr_expect_eq(o.diff, -oom.mean);
        cmprow_t u = better(f, fixes[i], "ungrounded_ratio");
        cr_expect_leq(u.mean, 0.05, "%s: ungrounded ratio %g", fixes[i], u.mean);
        better(f, fixes[i], "retrieval_p95_s");
        if (strcmp(fixes[i], "breaker") != 0) better(f, fixes[i], "latency_p95_s");
        cmprow_t s = better(f, fixes[i], "success_ratio");
        cr_expect_geq(s.mean, 0.75, "%s: success ratio %g", fixes[i], s.mean);
        better(f, fixes[i], "worst_window_success");
        cmprow_t a = comparison_row(f, fixes[i], "answered_ratio");
        cr_expect_geq(a.mean, 0.998, "%s: answered ratio %g", fixes[i], a.mean);
    }
    cr_expect_geq(comparison_row(f, "cache", "success_ratio").mean, 0.999);
    /* degrade (ef_search 100 down by 1 a second while the queue stands)
     * saves this vector DB: the HNSW search is 4.54 ms of its 5.04-ms query
     * (0.5 ms of server work, cost.base), so at ef 85 two cores hold 453
     * queries/s against the 450/s offered; the knob stops well above 64,
     * where the measured recall table is still 1.0, so no answer is lost. */
    cmprow_t dg = better(f, "degrade", "vectordb_oom_kills");
    cr_expect_eq(dg.mean, 0, "degrade: %g OOM kills", dg.mean);
    cr_expect_leq(better(f, "degrade", "ungrounded_ratio").mean, 0.05);
    close_trace(f, path);
}

Test(fixes, memory_leak_bounded_caches_end_the_oom_cycle, .timeout = 900)
{
    /* Chapter 2: the unbounded cache OOM-kills both replicas at ~42 min;
     * 50 minutes show one cycle. An LRU of 50 000 entries x 3200 B holds at
     * most 160 MB per replica, a 5-minute TTL at most 100 req/s x 300 s x
     * 3200 B = 96 MB: neither replica dies and the total heap stays far
     * below the two replicas' 2 x 900 MiB GOMEMLIMIT (below 1400 MiB: the
     * rest is the ~500 requests in flight, 200/s x ~2.5 s, with their
     * chunks, and the garbage GOGC lets accumulate). */
    const char *sets[] = {"duration=50m", NULL};
    char *path;
    hid_t f = run_compare("scenarios/trap-memory-leak.yaml", 2, &path, sets);
    cmprow_t oom = comparison_row(f, "unbounded", "gateway_oom_kills");
    cr_expect_eq(oom.mean, 2, "unbounded: both replicas are OOM-killed once (got %g)", oom.mean);
    const char *fixes[] = {"lru", "ttl"};
    for (size_t i = 0; i < 2; i++) {
        cmprow_t o = better(f, fixes[i], "gateway_oom_kills");
        cr_expect_eq(o.mean, 0, "%s: %g OOM kills", fixes[i], o.mean);
        cmprow_t h = better(f, fixes[i], "peak_heap_bytes");
        cr_expect_lt(h.mean, 1400.0 * 1048576, "%s: peak heap %g B", fixes[i], h.mean);
        better(f, fixes[i], "worst_window_success");
        better(f, fixes[i], "success_ratio");
    }
    close_trace(f, path);
}

Test(fixes, goroutine_pileup_context_propagation_bounds_goroutines, .timeout = 900)
{
    /* Chapter 3: without cancellation every timed-out request leaves its LLM
     * call (and goroutine) running; with the context passed down the calls
     * end with their requests, so goroutines stay near the in-flight level
     * and the gateway survives the slowdown. The slowdown itself remains:
     * success only improves (the LLM is still 3x slower), which is why the
     * test does not ask for the SLO. Three replications: the naive
     * variant's kill count varies between them (6 to 8: when the heap
     * reaches the limit depends on the marks' floating garbage), and a
     * paired t interval over two has one degree of freedom. */
    char *path;
    hid_t f = run_compare("scenarios/trap-goroutine-pileup.yaml", 3, &path, NULL);
    cmprow_t g0 = comparison_row(f, "naive", "peak_goroutines");
    cmprow_t oom0 = comparison_row(f, "naive", "gateway_oom_kills");
    cr_expect_geq(oom0.mean, 2, "naive: the pile-up OOM-kills the gateway (got %g)", oom0.mean);
    cmprow_t g = better(f, "context", "peak_goroutines");
    cr_expect_lt(g.mean, g0.mean / 5, "context: peak goroutines %g vs naive %g", g.mean, g0.mean);
    cmprow_t o = better(f, "context", "gateway_oom_kills");
    cr_expect_eq(o.mean, 0);
    better(f, "context", "peak_heap_bytes");
    better(f, "context", "success_ratio");
    close_trace(f, path);
}

Test(fixes, watch_storm_batching_and_version_gate_cut_reloads_exactly, .timeout = 300)
{
    /* Chapter 4 with unbounded memory, so that no OOM cuts a count short:
     * pushes of 10 and 50 keys to 3 replicas, each key its own put (one
     * revision, one response each).
     *   naive: one reload per event per replica = (10 + 50) x 3 = 180
     *   batched (flush at 32 events or 50 ms, coalesced): ceil(10/32) +
     *     ceil(50/32) = 1 + 2 batches per replica = 9
     *   transaction (each push one revision, coalesced by revision): one
     *     reload per push per replica = 2 x 3 = 6
     *   version gate: one reload per push per replica = 2 x 3 = 6
     * identical in every replication (the differences have zero spread). */
    const char *sets[] = {"gateway.runtime.memory_limit=unbounded", NULL};
    char *path;
    hid_t f = run_compare("scenarios/trap-watch-storm.yaml", 2, &path, sets);
    cr_expect_eq(comparison_row(f, "naive", "config_reloads").mean, 180);
    cmprow_t b = better(f, "batched", "config_reloads");
    cmprow_t t = better(f, "transaction", "config_reloads");
    cmprow_t v = better(f, "version_gate", "config_reloads");
    cr_expect_eq(b.mean, 9);
    cr_expect_eq(t.mean, 6);
    cr_expect_eq(v.mean, 6);
    cr_expect(b.diff_lo == b.diff_hi && t.diff_lo == t.diff_hi && v.diff_lo == v.diff_hi,
              "reload counts must not vary between replications");
    better(f, "batched", "peak_heap_bytes");
    better(f, "transaction", "peak_heap_bytes");
    better(f, "version_gate", "peak_heap_bytes");
    close_trace(f, path);

    /* With the shipped 4 GiB limit the naive 50-key storm OOM-kills all 3
     * replicas; both fixes survive it. */
    f = run_compare("scenarios/trap-watch-storm.yaml", 2, &path, NULL);
    cr_expect_eq(comparison_row(f, "naive", "gateway_oom_kills").mean, 3);
    cr_expect_eq(better(f, "batched", "gateway_oom_kills").mean, 0);
    cr_expect_eq(better(f, "transaction", "gateway_oom_kills").mean, 0);
    cr_expect_eq(better(f, "version_gate", "gateway_oom_kills").mean, 0);
    better(f, "batched", "worst_window_success");
    close_trace(f, path);
}

Test(fixes, watch_leases_shared_client_holds_one_lease_per_process, .timeout = 300)
{
    /* The per-request client, each with its session, exhausts the
     * 20 000-lease quota; one shared client per process, with its one
     * session, holds 2 leases (2 replicas) and reloads once per key per
     * replica at the 10-key push: 20 reloads. */
    char *path;
    hid_t f = run_compare("scenarios/trap-watch-leases.yaml", 2, &path, NULL);
    cr_expect_eq(comparison_row(f, "per_request", "peak_leases").mean, 20000);
    cr_expect_eq(better(f, "shared", "peak_leases").mean, 2);
    cmprow_t r0 = comparison_row(f, "per_request", "config_reloads");
    cmprow_t r = better(f, "shared", "config_reloads");
    cr_expect_eq(r.mean, 20);
    cr_expect_geq(r0.mean, 10 * r.mean, "per-request reloads %g", r0.mean);
    cmprow_t s = better(f, "shared", "success_ratio");
    cr_expect_geq(s.mean, 0.99);
    better(f, "shared", "gateway_oom_kills");
    close_trace(f, path);
}

Test(fixes, retry_storm_is_metastable_and_each_fix_recovers, .timeout = 600)
{
    /* The 10 s capacity drop tips the naive clients into a retry storm that
     * outlives it in every replication; each retry-economics or admission
     * policy brings goodput back to 95% of its level before the trigger. */
    char *path;
    hid_t f = run_compare("scenarios/retry-storm.yaml", 3, &path, NULL);
    cmprow_t rec0 = comparison_row(f, "naive", "recovered");
    cr_expect_eq(rec0.mean, 0, "naive recovered in some replications (%g)", rec0.mean);
    cmprow_t ok0 = comparison_row(f, "naive", "success_ratio");
    cr_expect_lt(ok0.mean, 0.5, "naive success ratio %g: the storm must last", ok0.mean);
    const char *fixes[] = {"retry_throttling", "retry_token_bucket", "codel", "adaptive_concurrency"};
    for (size_t i = 0; i < 4; i++) {
        cmprow_t rec = better(f, fixes[i], "recovered");
        cr_expect_eq(rec.mean, 1, "%s recovered in %g of the replications", fixes[i], rec.mean);
        cmprow_t t = comparison_row(f, fixes[i], "recovery_time_s");
        cr_expect_lt(t.mean, 60, "%s: recovery %g s", fixes[i], t.mean);
        better(f, fixes[i], "success_ratio");
        better(f, fixes[i], "goodput_per_s");
        better(f, fixes[i], "time_below_slo_s");
    }
    /* the budget allows 20% of active as retries: it recovers, slowly */
    better(f, "retry_budget", "success_ratio");
    close_trace(f, path);
}

Test(fixes, config_rollout_canary_contains_the_blast_radius, .timeout = 300)
{
    /* All at once: every replica fails 30% of its calls from 5 min until
     * the manual rollback 15 min later plus 30 s to revert: 930 s below
     * the SLO (sampled every 5 s). The canary takes the change on 1 of 10
     * replicas and rolls it back at its first check: under 1% of the
     * exposure, no time below 95% of the goodput. */
    char *path;
    hid_t f = run_compare("scenarios/config-rollout.yaml", 2, &path, NULL);
    cmprow_t slo0 = comparison_row(f, "all_at_once", "time_below_slo_s");
    cr_expect_eq(slo0.mean, 930, "all at once: %g s below the SLO", slo0.mean);
    cmprow_t exp0 = comparison_row(f, "all_at_once", "change_exposed_calls");
    cmprow_t e = better(f, "canary", "change_exposed_calls");
    cr_expect_lt(e.mean, 0.01 * exp0.mean, "canary exposure %g vs %g", e.mean, exp0.mean);
    better(f, "canary", "time_below_slo_s");
    better(f, "canary", "recovery_time_s");
    better(f, "canary", "worst_window_success");
    cr_expect_eq(comparison_row(f, "canary", "recovery_time_s").mean, 0);
    close_trace(f, path);
}
