/* Policies on call edges and on the etcd watch, through the whole request
 * path, against hand-computed schedules. Every stage takes a fixed time:
 * gateway pre 2 ms, embed 4 ms, retrieve 10 ms, generate 20 ms + 50 x
 * 10 ms, guardrail 30 ms, post 1 ms: a request alone takes 567 ms. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "models/components/dependency/dependency.h"
#include "models/rag/rag.h"
#include "ragfx.h"
#include "sim/scenario.h"

typedef ragfx_t fx_t;

/* A healthy request: gateway pre 2 ms, embed 4 ms, retrieve 10 ms, the LLM
 * 500 ms (one 10 ms step computes the prompt and samples the first token,
 * then 49 decode steps of 10 ms), guardrail 30 ms, post 1 ms: 0.547 s. */
#define HEALTHY (0.002 + 0.004 + 0.010 + 0.500 + 0.030 + 0.001)

#define BASE                                                                                               \
    "name: p\nduration: %s\nseed: 1\n"                                                                      \
    "workload:\n  arrivals: deterministic\n  profile: [{for: %s, rate: %s}, {rate: 0/s}]\n"                \
    "  queries: {distinct: %s, zipf_s: 1.0, unique: %s}\n"                                                             \
    "  query_tokens: {dist: deterministic, value: 40}\n  output_tokens: {dist: deterministic, value: 50}\n" \
    "  deadline: %s\n"                                                                                      \
    "gateway: {replicas: 1, cores: 4, handling: {pre: 2ms, post: 1ms}, " RAGFX_GO_FREE "}\n"                                   \
    "embedder: {max_queue_delay: 0s, batch_time: {base: 4ms, per_token: 0s}}\n"                             \
    "vectordb:\n  threads: 4\n  index: {type: flat, vectors: 1, dim: 1}\n"                                  \
    "  cost: {base: %s, speed: 1e12}\n  jitter: {dist: deterministic, value: 1}\n"                 \
    "llm: {hardware: {step_time: {base: %s, per_token: 0s}}, kv_cache: 56GiB, kv_bytes_per_token: 128KiB}\n"                                           \
    "dependencies: {guardrail: {latency: 30ms%s}}\n"                                                          \
    "keyword_search: {latency: 20ms, relevance: 1}\n"                                                       \
    "pipeline: {steps: [embed, retrieve, generate, guardrail]%s}\n"                                         \
    "trace: {request_sample: 1}\n"                                                                         \
    "%s"

typedef struct {
    const char *duration, *for_, *rate, *distinct, *unique, *deadline, *vdb, *tpot, *dep_extra, *pipeline_extra, *extra;
} cfg_t;

static void run(fx_t *f, cfg_t c)
{
    static char yaml[8192];
    snprintf(yaml, sizeof yaml, BASE, c.duration ? c.duration : "20s", c.for_ ? c.for_ : "1500ms",
             c.rate ? c.rate : "1/s", c.distinct ? c.distinct : "100000",
             c.unique ? c.unique : "0", c.deadline ? c.deadline : "60s",
             c.vdb ? c.vdb : "10ms", c.tpot ? c.tpot : "10ms", c.dep_extra ? c.dep_extra : "", c.pipeline_extra ? c.pipeline_extra : "",
             c.extra ? c.extra : "");
    ragfx_run(f, "p.yaml", yaml, 1, false);
}

static void done(fx_t *f) { ragfx_done(f); }

typedef struct {
    double arrival, end;
    const char *outcome, *reason;
    int64_t grounded, prompt;
} rec_t;

static rec_t rec(const fx_t *f, size_t i)
{
    const sim_table_t *t = &f->rag->requests;
    cr_assert_gt(t->nrows, i);
    /* rows are written in release order: find the i-th arrival */
    size_t best = 0;
    double want = 0;
    for (size_t k = 0, rank = 0; k < t->nrows; k++) {
        (void)rank;
        int64_t id = sim_table_get_i64(t, k, sim_table_find_col(t, "id"));
        if ((size_t)id == i) {
            best = k;
            want = 1;
        }
    }
    cr_assert(want == 1, "request %zu not recorded", i);
    rec_t r = {sim_table_get_f64(t, best, sim_table_find_col(t, "arrival")),
               sim_table_get_f64(t, best, sim_table_find_col(t, "end")),
               sim_table_get_str(t, best, sim_table_find_col(t, "outcome")),
               sim_table_get_str(t, best, sim_table_find_col(t, "reason")),
               sim_table_get_i64(t, best, sim_table_find_col(t, "grounded")),
               sim_table_get_i64(t, best, sim_table_find_col(t, "prompt_tokens"))};
    return r;
}

#define LAT(r) ((r).end - (r).arrival)

static size_t count_events(const fx_t *f, const char *kind, double *first)
{
    const sim_table_t *ev = sim_log_table(f->sim);
    int k = sim_table_find_col(ev, "kind"), t = sim_table_find_col(ev, "time");
    size_t n = 0;
    for (size_t i = 0; i < ev->nrows; i++)
        if (!strcmp(sim_table_get_str(ev, i, k), kind)) {
            if (n++ == 0 && first) *first = sim_table_get_f64(ev, i, t);
        }
    return n;
}

Test(policies, retry_after_a_constant_backoff_succeeds)
{
    /* the guardrail fails while the fault lasts (to 1.6 s): the call at
     * 1.516 s fails at 1.546; the retry waits 100 ms, goes at 1.646 and
     * succeeds at 1.676; post 1 ms: latency 0.677 s */
    fx_t f;
    run(&f, (cfg_t){.extra = "calls: {guardrail: {retry: {max_attempts: 3, backoff: constant, base: 100ms, jitter: none}}}\n"
                             "faults: [{kind: errors, target: guardrail, at: 0s, for: 1600ms, ratio: 1}]\n"});
    rec_t r = rec(&f, 0);
    cr_assert_str_eq(r.outcome, "success");
    cr_assert_lt(fabs(LAT(r) - 0.677), 1e-9, "latency %.9f", LAT(r));
    cr_assert_eq(f.rag->retries[RAG_FIRST_DEP], 1);
    done(&f);
}

Test(policies, a_retry_that_does_not_fit_the_deadline_is_not_made)
{
    /* same, with a 700 ms deadline and a 200 ms backoff: the retry would go
     * at 0.766 s after arrival, past the deadline: no retry, error */
    fx_t f;
    run(&f, (cfg_t){.deadline = "700ms",
                    .extra = "calls: {guardrail: {retry: {max_attempts: 3, backoff: constant, base: 200ms, jitter: none}}}\n"
                             "faults: [{kind: errors, target: guardrail, at: 0s, for: 1600ms, ratio: 1}]\n"});
    rec_t r = rec(&f, 0);
    cr_assert_str_eq(r.outcome, "error");
    cr_assert_str_eq(r.reason, "guardrail error");
    cr_assert_eq(f.rag->retries[RAG_FIRST_DEP], 0);
    done(&f);
}

Test(policies, breaker_opens_after_the_minimum_calls_and_the_keyword_channel_answers)
{
    /* The vector DB is killed at 0: every retrieval finds no replica. The
     * breaker (window of 4 calls, minimum 4, 50%) records 4 failures from
     * the first 4 requests (t = 1..4 s) and opens at the 4th; the next 6
     * are rejected without a call. Every failed or rejected retrieval goes
     * to the keyword channel (20 ms, always relevant): all 10 requests are
     * answered, degraded and grounded; the keyword retrieval adds 20 ms. */
    fx_t f;
    run(&f, (cfg_t){.for_ = "10500ms", .duration = "30s",
                    .extra = "calls:\n  retrieve:\n    circuit_breaker: {sliding_window_size: 4, minimum_number_of_calls: 4, "
                             "failure_rate_threshold: 50%, wait_duration_in_open_state: 60s}\n"
                             "    fallback: {action: keyword}\n"
                             "faults: [{kind: kill, target: vectordb, at: 0s}]\n"});
    cr_assert_eq(f.rag->outcome[RAG_DEGRADED], 10);
    cr_assert_eq(f.rag->ungrounded, 0);
    cr_assert_eq(f.rag->policy_rejects[RAG_VECTORDB], 6);
    cr_assert_eq(f.rag->fallbacks[RAG_VECTORDB], 10);
    double t_open = 0;
    cr_assert_eq(count_events(&f, "breaker_open", &t_open), 1);
    cr_assert_lt(fabs(t_open - 4.006), 1e-9, "opened at %.6f s (the 4th retrieval)", t_open);
    rec_t r = rec(&f, 0);
    cr_assert_str_eq(r.outcome, "degraded");
    cr_assert_lt(fabs(LAT(r) - (HEALTHY - 0.010 + 0.020)), 1e-9, "latency %.9f", LAT(r));
    done(&f);
}

Test(policies, three_consecutive_irrelevant_retrievals_switch_to_the_keyword_channel)
{
    /* The runbook's rule: 3 consecutive bad retrievals = the retrieval
     * layer is unstable = switch to the keyword channel. Every vector-DB
     * answer is unrelated to its query (chunking_mismatch, ratio 1). With
     * record_irrelevant, the breaker counts them as failures: requests at
     * 1, 2, 3 s get unrelated chunks (ungrounded answers) and the 3rd
     * retrieval, ending at 3 + 0.016 s, opens the breaker (the failure-rate
     * rule cannot: its minimum is 100 calls); requests 4..10 are rejected
     * at the breaker and answered from the keyword channel (degraded,
     * grounded). Without record_irrelevant an unrelated answer is a
     * success: the breaker never opens and all 10 answers are ungrounded. */
#define EXTRA_FMT                                                                                          \
    "calls:\n  retrieve:\n    circuit_breaker: {consecutive_failures: 3, minimum_number_of_calls: 100, "    \
    "wait_duration_in_open_state: 60s%s}\n"                                                                \
    "    fallback: {action: keyword}\n"                                                                    \
    "faults: [{kind: chunking_mismatch, at: 0s, for: 60s, ratio: 1}]\n"
    char extra[512];
    snprintf(extra, sizeof extra, EXTRA_FMT, ", record_irrelevant: true");
    fx_t f;
    run(&f, (cfg_t){.for_ = "10500ms", .duration = "30s", .extra = extra});
    cr_assert_eq(f.rag->ungrounded, 3);
    cr_assert_eq(f.rag->outcome[RAG_DEGRADED], 7);
    cr_assert_eq(f.rag->policy_rejects[RAG_VECTORDB], 7);
    double t_open = 0;
    cr_assert_eq(count_events(&f, "breaker_open", &t_open), 1);
    cr_assert_lt(fabs(t_open - 3.016), 1e-9, "opened at %.6f s (the 3rd retrieval)", t_open);
    cr_assert_eq(rec(&f, 3).grounded, 1);
    cr_assert_eq(rec(&f, 2).grounded, 0);
    done(&f);

    snprintf(extra, sizeof extra, EXTRA_FMT, "");
#undef EXTRA_FMT
    run(&f, (cfg_t){.for_ = "10500ms", .duration = "30s", .extra = extra});
    cr_assert_eq(f.rag->ungrounded, 10);
    cr_assert_eq(f.rag->policy_rejects[RAG_VECTORDB], 0);
    cr_assert_eq(count_events(&f, "breaker_open", NULL), 0);
    done(&f);
}

Test(policies, rate_limit_admits_the_burst_then_the_rate_and_the_rest_is_refused)
{
    /* 4 requests/s; a token bucket of 1/s with burst 1 in front of the
     * vector DB. Retrievals at 0.256, 0.506, ... 2.006 s: the bucket starts
     * full (0.256 passes), refills one token per second (1.256 passes), the
     * rest find less than a token and are refused politely (degraded). */
    fx_t f;
    run(&f, (cfg_t){.rate = "4/s", .for_ = "2100ms",
                    .extra = "calls: {retrieve: {rate_limit: {rate: 1/s, burst: 1}, fallback: {action: refuse}}}\n"});
    cr_assert_eq(f.rag->outcome[RAG_OK_SUCCESS], 2, "%llu", (unsigned long long)f.rag->outcome[RAG_OK_SUCCESS]);
    cr_assert_eq(f.rag->outcome[RAG_DEGRADED], 6);
    cr_assert_eq(f.rag->llm_calls, 2, "refused requests never reach the LLM");
    cr_assert_str_eq(rec(&f, 0).outcome, "success");
    cr_assert_str_eq(rec(&f, 1).outcome, "degraded");
    cr_assert_str_eq(rec(&f, 4).outcome, "success");
    done(&f);
}

Test(policies, result_cache_answers_repeated_queries_without_the_vector_db)
{
    /* one distinct query: the first retrieval misses, the 9 others hit */
    fx_t f;
    run(&f, (cfg_t){.distinct = "1", .for_ = "9500ms", .extra = "calls: {retrieve: {result_cache: {capacity: 10}}}\n"});
    const vdb_t *v = f.rag->comp[RAG_VECTORDB];
    cr_assert_eq(v->rs.st[0].n.arrivals, 1, "the vector DB saw one query");
    cr_assert_eq(f.rag->outcome[RAG_OK_SUCCESS], 9);
    rec_t r = rec(&f, 1);
    cr_assert_lt(fabs(LAT(r) - (HEALTHY - 0.010 - 0.004)), 1e-9, "hit: no embed (gateway cache), no retrieve: %.9f", LAT(r));
    done(&f);
}

Test(policies, one_off_questions_never_hit_the_result_cache)
{
    /* One recurring question and a share u = 0.3 of one-off ones: the
     * vector DB sees the first recurring query and every one-off, 1 + B
     * queries with B ~ Binomial(n, u) over n = 1000 requests (mean 300,
     * standard deviation 14.5); the check allows 4 standard deviations. */
    fx_t f;
    run(&f, (cfg_t){.distinct = "1", .unique = "0.3", .rate = "100/s", .for_ = "9995ms", .duration = "60s",
                    .extra = "calls: {retrieve: {result_cache: {capacity: 100000}}}\n"});
    uint64_t n = f.rag->arrivals;
    cr_assert(n >= 999 && n <= 1001, "%llu arrivals", (unsigned long long)n);
    const vdb_t *v = f.rag->comp[RAG_VECTORDB];
    double q = (double)v->rs.st[0].n.arrivals - 1, mean = 0.3 * (double)n, sd = sqrt((double)n * 0.3 * 0.7);
    cr_assert_lt(fabs(q - mean), 4 * sd, "%.0f one-off queries reached the vector DB, want %.0f +- %.0f", q, mean, 4 * sd);
    cr_assert_eq(f.rag->outcome[RAG_OK_SUCCESS], n);
    done(&f);
}

Test(policies, refusing_instead_of_generating_from_nothing)
{
    /* retrieval takes 5 s, its edge times out at 3 s; the refuse fallback
     * answers at once (no LLM call): degraded after 2 + 4 + 3000 ms */
    fx_t f;
    run(&f, (cfg_t){.vdb = "5s", .extra = "calls: {retrieve: {timeout: 3s, fallback: {action: refuse}}}\n"});
    rec_t r = rec(&f, 0);
    cr_assert_str_eq(r.outcome, "degraded");
    cr_assert_lt(fabs(LAT(r) - 3.006), 1e-9, "%.9f", LAT(r));
    cr_assert_eq(f.rag->llm_calls, 0);
    cr_assert_eq(f.rag->ungrounded, 0, "no hallucination risk");
    done(&f);
}

Test(policies, a_cached_answer_replaces_a_failed_generation)
{
    /* one query, two requests (1 s and 2 s); the LLM fails from 1.9 s on:
     * the first answer is cached; the second request's generation fails and
     * it gets the cached answer (degraded) */
    fx_t f;
    run(&f, (cfg_t){.distinct = "1", .for_ = "2500ms", .pipeline_extra = ", answer_cache: {mode: lru, capacity: 100}",
                    .extra = "calls: {generate: {fallback: {action: cached_answer}}}\n"
                             "faults: [{kind: errors, target: llm, at: 1900ms, for: 10s, ratio: 1}]\n"});
    cr_assert_str_eq(rec(&f, 0).outcome, "success");
    rec_t r = rec(&f, 1);
    cr_assert_str_eq(r.outcome, "degraded");
    cr_assert_str_eq(r.reason, "served a cached answer");
    done(&f);
}

Test(policies, skipping_a_failed_dependency_degrades_the_answer)
{
    fx_t f;
    run(&f, (cfg_t){.extra = "calls: {guardrail: {fallback: {action: skip}}}\n"
                             "faults: [{kind: errors, target: guardrail, at: 0s, for: 10s, ratio: 1}]\n"});
    rec_t r = rec(&f, 0);
    cr_assert_str_eq(r.outcome, "degraded");
    cr_assert_lt(fabs(LAT(r) - HEALTHY), 1e-9);
    done(&f);
}

Test(policies, context_propagation_cancels_the_llm_call_at_the_deadline)
{
    /* generation takes 20 ms + 50 x 1 s; the deadline is 2 s. Naive: at
     * 3 s the LLM still decodes the sequence and the gateway holds two
     * goroutines (request + LLM call). With context propagation the call is
     * cancelled at the deadline: nothing left at 3 s. */
    for (int prop = 0; prop < 2; prop++) {
        fx_t f;
        run(&f, (cfg_t){.tpot = "1s", .deadline = "2s", .duration = "3s",
                        .pipeline_extra = prop ? ", context_propagation: true" : ", context_propagation: false"});
        const llm_t *l = f.rag->comp[RAG_LLM];
        cr_assert_eq(f.rag->outcome[RAG_TIMEOUT], 1);
        cr_assert_eq(llm_running(l, -1), prop ? 0 : 1, "propagation %d: %lld sequences", prop,
                     (long long)llm_running(l, -1));
        cr_assert_eq(f.rag->gw.rep[0].rt.goroutines, prop ? 0 : 2);
        cr_assert_eq(f.rag->in_flight, prop ? 0 : 1);
        done(&f);
    }
}

Test(policies, watch_batches_flush_at_the_size_or_the_window_and_coalesce)
{
    /* a 40-key push at 5 s to 2 replicas. Naive: 40 reloads each. Batched
     * (32 events or 50 ms) and coalesced: a batch of 32 (size) then one of 8
     * (window): 2 each. Batched without coalescing: 40 each. Version gate:
     * the push writes 41 keys and only `_version` reloads: 1 each. */
    static const struct { const char *watch; uint64_t reloads; } cases[] = {
        {"", 80},
        {", watch: {batch: {window: 50ms, max_events: 32}, coalesce: true}", 4},
        {", watch: {batch: {window: 50ms, max_events: 32}}", 80},
        {", watch: {version_gate: true}", 2},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        fx_t f;
        char extra[512];
        snprintf(extra, sizeof extra,
                 "config: {reload: {cpu: 1ms, memory: 1MiB}, pushes: [{at: 5s, keys: 40}]%s}\n", cases[i].watch);
        /* two gateway replicas: override the base's one */
        char ex2[600];
        snprintf(ex2, sizeof ex2, "%s", extra);
        run(&f, (cfg_t){.extra = ex2});
        cr_expect_eq(f.rag->gw.reloads_started, cases[i].reloads / 2, "case %zu: %llu reloads", i,
                     (unsigned long long)f.rag->gw.reloads_started);
        if (i == 1) cr_expect_eq(f.rag->gw.batches, 2, "one batch at 32 events, one at the window");
        done(&f);
    }
}

Test(policies, context_propagation_cancels_queued_work_of_a_timed_out_call)
{
    /* 99 requests 10 ms apart reach a guardrail with one worker taking
     * 30 ms a check; its calls time out after 50 ms. Naive: the guardrail
     * checks every call, also those whose caller gave up long ago (it is
     * busy until ~3.1 s for 1 s of traffic). With context propagation a call
     * still waiting when it times out is cancelled: the guardrail only
     * works on calls that can still be answered (a check in service runs to
     * its end). */
    for (int prop = 0; prop < 2; prop++) {
        fx_t f;
        run(&f, (cfg_t){.rate = "100/s", .for_ = "1s", .duration = "10s", .tpot = "1ms", .dep_extra = ", concurrency: 1",
                        .pipeline_extra = prop ? ", context_propagation: true" : ", context_propagation: false",
                        .extra = "calls: {guardrail: {timeout: 50ms}}\n"});
        const dep_t *g = f.rag->comp[RAG_FIRST_DEP];
        const stn_counts_t *n = &g->rs.st[0].n;
        cr_assert_eq(n->arrivals, f.rag->arrivals, "every request called it: %llu", (unsigned long long)n->arrivals);
        cr_assert_geq(n->arrivals, 99);
        if (!prop) {
            cr_assert_eq(n->completions, n->arrivals, "naive: every check runs (%llu)", (unsigned long long)n->completions);
            cr_assert_eq(n->cancelled, 0);
        } else {
            cr_assert_eq(n->completions + n->cancelled, n->arrivals, "%llu + %llu", (unsigned long long)n->completions,
                         (unsigned long long)n->cancelled);
            cr_assert_gt(n->cancelled, 50, "most waiting checks are cancelled: %llu", (unsigned long long)n->cancelled);
        }
        cr_assert_eq(f.rag->in_flight, 0);
        done(&f);
    }
}

Test(policies, retry_throttling_counts_only_retryable_failures)
{
    /* gRPC (A6): only a failure with a retryable status takes a token. The
     * guardrail errors for the first 11 requests (1..11 s), which the edge
     * does not retry (retry_on: [timeout]): the tokens stay at 10. Then it
     * slows to 3 s against a 1 s timeout (12..20 s): the first timeout
     * takes a token (10 -> 9 > 5) and its retry is allowed. Had the errors
     * counted, 11 of them would have left 0 tokens and no retry. */
    fx_t f;
    run(&f, (cfg_t){.for_ = "20s", .duration = "40s",
                    .extra = "calls:\n  guardrail:\n    timeout: 1s\n"
                             "    retry: {max_attempts: 2, backoff: constant, base: 10ms, jitter: none, retry_on: [timeout]}\n"
                             "    retry_throttling: {max_tokens: 10, token_ratio: 0.1}\n"
                             "faults:\n  - {kind: errors, target: guardrail, at: 0s, for: 11800ms, ratio: 1}\n"
                             "  - {kind: slowdown, target: guardrail, at: 11800ms, for: 30s, factor: 100}\n"});
    cr_assert_gt(f.rag->retries[RAG_FIRST_DEP], 0, "the timeouts' retries are allowed");
    cr_assert_eq(rec(&f, 0).outcome[0], 'e', "the first request fails with the guardrail's error: %s", rec(&f, 0).outcome);
    done(&f);
}
