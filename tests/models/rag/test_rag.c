/* The RAG request path against hand-computed schedules: the pipeline's
 * latency as the sum (and, for parallel groups, the max) of its stages, the
 * naive failure semantics, every fault kind, common random numbers, and
 * configuration errors. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "models/rag/rag.h"
#include "ragfx.h"
#include "sim/scenario.h"

/* A deterministic deployment: every stage takes a fixed time.
 * gateway pre 2 ms, embed 4 ms, retrieve 10 ms, generate 500 ms (LLM_50),
 * guardrail 30 ms, audit 50 ms, gateway post 1 ms. One request at t = 1 s. */
#define BASE_YAML                                                                        \
    "name: t\nduration: 20s\nseed: 1\n"                                                  \
    "workload:\n  arrivals: deterministic\n  profile: [{for: 1500ms, rate: 1/s}, {rate: 0/s}]\n" \
    "  query_tokens: {dist: deterministic, value: 40}\n"                                  \
    "  output_tokens: {dist: deterministic, value: 50}\n  deadline: 10s\n"               \
    "gateway: {replicas: 1, cores: 1, handling: {pre: 2ms, post: 1ms}, " RAGFX_GO_FREE "}\n"                 \
    "embedder: {max_queue_delay: 0s, batch_time: {base: 4ms, per_token: 0s}}\n"           \
    "vectordb:\n  threads: 1\n  index: {type: flat, vectors: 1, dim: 1}\n"               \
    "  cost: {base: 10ms, speed: 1e12}\n  jitter: {dist: deterministic, value: 1}\n" \
    "llm: {hardware: {step_time: {base: 10ms, per_token: 0s}}, kv_cache: 56GiB, kv_bytes_per_token: 128KiB}\n"                      \
    "dependencies:\n"                                                                     \
    "  guardrail: {latency: 30ms}\n"                                                      \
    "  audit: {latency: 50ms}\n"                                                          \
    "trace: {request_sample: 1}\n"

/* The LLM's time for 50 output tokens with steps of 10 ms: one step
 * computes the 1,320-token prompt (under max_num_batched_tokens 2048) and
 * samples the first token, then 49 decode steps. */
#define LLM_50 (0.010 + 49 * 0.010)

typedef ragfx_t fx_t;

/* Load and check only (for the cases that must be refused): the diagnostics in *d. */
static int load(fx_t *f, const char *yaml, sim_diag_t *d)
{
    memset(f, 0, sizeof *f);
    f->cfg = sim_cfg_load_string("r.yaml", yaml, strlen(yaml), d);
    if (!f->cfg) return -1;
    sim_cfg_node_t *root = sim_cfg_root(f->cfg);
    sim_scenario_parse(d, root, &f->sc);
    sim_cfg_get(root, "model");
    rag_spec_parse(d, root, &f->sc, &f->spec);
    sim_cfg_check_unused(f->cfg, d);
    return d->errors ? -1 : 0;
}

/* Load, run to the duration (seed 1, 1 s samples) and finish. */
static void run(fx_t *f, const char *yaml) { ragfx_run(f, "r.yaml", yaml, 1, true); }

static void done(fx_t *f) { ragfx_done(f); }

static char *yaml_with(const char *steps, const char *extra)
{
    static char buf[8192];
    /* the naive gateway of the article: no context propagation */
    snprintf(buf, sizeof buf, "%spipeline: {steps: %s, top_k: 5, chunk_tokens: 256, context_propagation: false}\n%s",
             BASE_YAML, steps,
             extra ? extra : "");
    return buf;
}

/* The single request's record. */
typedef struct {
    double arrival, end, released;
    const char *outcome, *reason;
    int64_t grounded, prompt;
} rec_t;

static rec_t record(const fx_t *f, size_t i)
{
    const sim_table_t *t = &f->rag->requests;
    cr_assert_gt(t->nrows, i, "request %zu not recorded", i);
    rec_t r = {
        sim_table_get_f64(t, i, sim_table_find_col(t, "arrival")),
        sim_table_get_f64(t, i, sim_table_find_col(t, "end")),
        sim_table_get_f64(t, i, sim_table_find_col(t, "released")),
        sim_table_get_str(t, i, sim_table_find_col(t, "outcome")),
        sim_table_get_str(t, i, sim_table_find_col(t, "reason")),
        sim_table_get_i64(t, i, sim_table_find_col(t, "grounded")),
        sim_table_get_i64(t, i, sim_table_find_col(t, "prompt_tokens")),
    };
    return r;
}

static void expect_latency(const rec_t *r, double want)
{
    cr_assert_lt(fabs((r->end - r->arrival) - want), 1e-9, "latency %.9f s, want %.9f s", r->end - r->arrival, want);
}

Test(rag, sequential_pipeline_latency_is_the_sum_of_its_stages)
{
    fx_t f;
    run(&f, yaml_with("[embed, retrieve, generate, guardrail]", NULL));
    rec_t r = record(&f, 0);
    cr_assert_str_eq(r.outcome, "success");
    cr_assert_eq(r.grounded, 1);
    cr_assert_float_eq(r.arrival, 1.0, 1e-12);
    expect_latency(&r, 0.002 + 0.004 + 0.010 + LLM_50 + 0.030 + 0.001);
    cr_assert_eq(r.prompt, 40 + 5 * 256, "prompt = query + k x chunk tokens");
    cr_assert_eq(f.rag->outcome[RAG_OK_SUCCESS], 1);
    done(&f);
}

Test(rag, parallel_group_takes_its_slowest_call)
{
    fx_t f;
    run(&f, yaml_with("[embed, retrieve, generate, [guardrail, audit]]", NULL));
    rec_t r = record(&f, 0);
    cr_assert_str_eq(r.outcome, "success");
    expect_latency(&r, 0.002 + 0.004 + 0.010 + LLM_50 + 0.050 + 0.001);
    done(&f);
}

Test(rag, failed_retrieval_still_goes_to_the_llm_ungrounded)
{
    /* retrieval takes 5 s, the edge times out at 3 s: the naive pipeline
     * generates from the query alone */
    fx_t f;
    char *y = yaml_with("[embed, retrieve, generate]", "calls: {retrieve: {timeout: 3s}}\n");
    char *p = strstr(y, "base: 10ms");
    memcpy(p, "base: 5s  ", 10);
    run(&f, y);
    rec_t r = record(&f, 0);
    cr_assert_str_eq(r.outcome, "degraded", "an answer generated without its chunks is not a full success");
    cr_assert_eq(r.grounded, 0, "an answer without chunks is ungrounded");
    cr_assert_eq(r.prompt, 40);
    expect_latency(&r, 0.002 + 0.004 + 3.0 + LLM_50 + 0.001);
    cr_assert_eq(f.rag->ungrounded, 1);
    cr_assert_eq(f.rag->retrievals_empty, 1);
    done(&f);
}

Test(rag, without_a_retrieve_step_the_prompt_has_no_chunks_and_the_answer_is_ungrounded)
{
    /* No retrieval, no chunks: the prompt is the system prompt (100 tokens)
     * and the question (40), whatever top_k and chunk_tokens say, and the
     * answer is built on nothing: ungrounded, and kept out of the answer
     * cache; but nothing failed, so it is a success, not a degraded answer.
     * [generate]: pre 2 ms, generate, post 1 ms; [embed, generate]: the
     * embedding (4 ms) changes nothing in the prompt. */
    static const char *const pipelines[] = {"[generate]", "[embed, generate]"};
    const double lat[] = {0.002 + LLM_50 + 0.001, 0.002 + 0.004 + LLM_50 + 0.001};
    for (int i = 0; i < 2; i++) {
        char yaml[8192];
        snprintf(yaml, sizeof yaml,
                 "%spipeline: {steps: %s, top_k: 5, chunk_tokens: 256, system_prompt_tokens: 100,\n"
                 "           answer_cache: {mode: lru, capacity: 100}}\n",
                 BASE_YAML, pipelines[i]);
        fx_t f;
        run(&f, yaml);
        rec_t r = record(&f, 0);
        cr_assert_str_eq(r.outcome, "success", "%s", pipelines[i]);
        cr_assert_eq(r.prompt, 100 + 40, "%s: prompt = system prompt + query, no phantom chunks: %lld",
                     pipelines[i], (long long)r.prompt);
        cr_assert_eq(r.grounded, 0, "%s: no retrieval, not grounded", pipelines[i]);
        expect_latency(&r, lat[i]);
        cr_assert_eq(f.rag->ungrounded, 1, "%s", pipelines[i]);
        cr_assert_eq(f.rag->retrievals, 0, "%s", pipelines[i]);
        cr_assert_eq(f.rag->retrievals_empty, 0, "%s: no retrieval failed either", pipelines[i]);
        cr_assert_float_eq(f.rag->prompt_tokens_sum, 140.0, 1e-12, "%s", pipelines[i]);
        cr_assert_eq(embc_entries(&f.rag->answers), 0, "%s: an ungrounded answer is not cached", pipelines[i]);
        cr_assert_eq(f.rag->outcome[RAG_OK_SUCCESS], 1, "%s", pipelines[i]);
        done(&f);
    }
    /* the same with a retrieve step: 100 + 40 + 5 x 256, grounded */
    char yaml[8192];
    snprintf(yaml, sizeof yaml,
             "%spipeline: {steps: [embed, retrieve, generate], top_k: 5, chunk_tokens: 256, system_prompt_tokens: 100,\n"
             "           answer_cache: {mode: lru, capacity: 100}}\n",
             BASE_YAML);
    fx_t f;
    run(&f, yaml);
    rec_t r = record(&f, 0);
    cr_assert_eq(r.prompt, 100 + 40 + 5 * 256);
    cr_assert_eq(r.grounded, 1);
    cr_assert_eq(f.rag->ungrounded, 0);
    cr_assert_eq(embc_entries(&f.rag->answers), 1, "a grounded answer is cached");
    done(&f);
}

Test(rag, failed_dependency_fails_the_request_with_its_reason)
{
    fx_t f;
    static char buf[8192];
    snprintf(buf, sizeof buf, "%s", yaml_with("[embed, retrieve, generate, guardrail]", NULL));
    char *q = strstr(buf, "  guardrail: {latency: 30ms}\n");
    char tail[4096];
    snprintf(tail, sizeof tail, "%s", q + strlen("  guardrail: {latency: 30ms}\n"));
    snprintf(q, sizeof buf - (size_t)(q - buf), "  guardrail: {latency: 30ms, error_ratio: 1}\n%s", tail);
    run(&f, buf);
    rec_t r = record(&f, 0);
    cr_assert_str_eq(r.outcome, "error");
    cr_assert_str_eq(r.reason, "guardrail error");
    expect_latency(&r, 0.002 + 0.004 + 0.010 + LLM_50 + 0.030);
    done(&f);
}

Test(rag, deadline_ends_the_request_but_not_the_work)
{
    /* the client gives up after 100 ms; the naive gateway goes on: the LLM
     * and the guardrail are still called, and the request is held until then */
    fx_t f;
    static char buf[8192];
    snprintf(buf, sizeof buf, "%s", yaml_with("[embed, retrieve, generate, guardrail]", NULL));
    char *q = strstr(buf, "deadline: 10s");
    memcpy(q, "deadline: 1ms", 13);
    run(&f, buf);
    rec_t r = record(&f, 0);
    cr_assert_str_eq(r.outcome, "timeout");
    cr_assert_str_eq(r.reason, "deadline");
    expect_latency(&r, 0.001);
    cr_assert_lt(fabs((r.released - r.arrival) - (0.002 + 0.004 + 0.010 + LLM_50 + 0.030 + 0.001)), 1e-9, "work went on until %.6f", r.released - r.arrival);
    cr_assert_eq(f.rag->stage[RAG_FIRST_DEP].calls, 1, "the guardrail was still called");
    done(&f);
}

Test(rag, faults_act_during_their_window)
{
    struct {
        const char *faults, *outcome;
        double latency;
        int grounded;
        int64_t prompt;
    } cases[] = {
        /* guardrail 2x slower: 30 -> 60 ms */
        {"faults: [{kind: slowdown, target: guardrail, at: 0s, for: 10s, factor: 2}]\n", "success", 0.577, 1, 1320},
        /* gateway CPU at half capacity: pre 4 ms, post 2 ms */
        {"faults: [{kind: cpu_throttle, target: gateway, at: 0s, for: 10s, factor: 0.5}]\n", "success", 0.550, 1, 1320},
        /* metadata pollution: 3x the prompt (the article's 200% jump): 3,960
         * prompt tokens take two steps of at most 2,048 (chunked prefill) */
        {"faults: [{kind: metadata_pollution, at: 0s, for: 10s, factor: 3}]\n", "success", 0.557, 1, 3960},
        /* every retrieval returns unrelated chunks */
        {"faults: [{kind: chunking_mismatch, at: 0s, for: 10s, ratio: 1}]\n", "success", 0.547, 0, 1320},
        /* the vector DB is killed: retrieval finds no replica, the LLM answers
         * from the query: a degraded answer */
        {"faults: [{kind: kill, target: vectordb, at: 500ms}]\n", "degraded", 0.537, 0, 40},
        /* all packets to the guardrail lost: retransmissions at 0.2, 0.6, 1.4 s, reset at 3.0 s */
        {"calls: {guardrail: {timeout: 10s}}\nfaults: [{kind: packet_loss, target: guardrail, at: 0s, for: 10s, loss: 1}]\n",
         "error", 0.516 + 3.0, 1, 1320},
        /* injected errors on the LLM */
        {"faults: [{kind: errors, target: llm, at: 0s, for: 10s, ratio: 1}]\n", "error", 0.516, 1, 1320},
        /* a fault that ended before the request: no effect */
        {"faults: [{kind: slowdown, target: guardrail, at: 0s, for: 500ms, factor: 2}]\n", "success", 0.547, 1, 1320},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        fx_t f;
        run(&f, yaml_with("[embed, retrieve, generate, guardrail]", cases[i].faults));
        rec_t r = record(&f, 0);
        cr_expect_str_eq(r.outcome, cases[i].outcome, "case %zu", i);
        cr_expect_lt(fabs((r.end - r.arrival) - cases[i].latency), 1e-9, "case %zu: latency %.9f, want %.9f", i,
                     r.end - r.arrival, cases[i].latency);
        cr_expect_eq(r.grounded, cases[i].grounded, "case %zu", i);
        cr_expect_eq(r.prompt, cases[i].prompt, "case %zu: prompt %lld", i, (long long)r.prompt);
        /* every fault is in the events table */
        const sim_table_t *ev = sim_log_table(f.sim);
        int kind = sim_table_find_col(ev, "kind"), n = 0;
        for (size_t k = 0; k < ev->nrows; k++) n += strncmp(sim_table_get_str(ev, k, kind), "fault_", 6) == 0;
        cr_expect_geq(n, 1, "case %zu: fault events logged", i);
        done(&f);
    }
}

/* Replace the first `from` in buf (which must hold it) by `to`, of the same length or shorter. */
static void replace(char *buf, size_t size, const char *from, const char *to)
{
    char *p = strstr(buf, from);
    cr_assert_not_null(p, "'%s' not in the scenario", from);
    char tail[8192];
    snprintf(tail, sizeof tail, "%s", p + strlen(from));
    snprintf(p, size - (size_t)(p - buf), "%s%s", to, tail);
}

Test(rag, a_gateway_slowdown_acts_on_cpu_segments_when_they_start)
{
    /* One core, pre 1.5 s, post 1 ms, the guardrail (30 ms) as the only
     * step; requests A at 1 s and B at 2 s; the gateway's CPU 2x slower
     * from 0 to 2.5 s. A's pre starts at 1 s, slowed: 3 s, ends 4 s. B's
     * pre was submitted at 2 s, during the slowdown, but starts at 4 s,
     * after it: 1.5 s, ends 5.5 s. A's post (submitted 4.03 s) waits for
     * it: 5.5 -> 5.501 s. B: guardrail 5.5 -> 5.53, post -> 5.531 s.
     * Latencies: A 4.501 s, B 3.531 s (with B's pre slowed as at its
     * submission: 6.001 s and 5.031 s). */
    static char buf[8192];
    snprintf(buf, sizeof buf, "%spipeline: {steps: [guardrail]}\n"
             "faults: [{kind: slowdown, target: gateway, at: 0s, for: 2500ms, factor: 2}]\n", BASE_YAML);
    replace(buf, sizeof buf, "pre: 2ms", "pre: 1500ms");
    replace(buf, sizeof buf, "for: 1500ms", "for: 2500ms");
    fx_t f;
    run(&f, buf);
    rec_t a = record(&f, 0), b = record(&f, 1);
    cr_assert_str_eq(a.outcome, "success");
    cr_assert_str_eq(b.outcome, "success");
    cr_assert_float_eq(a.arrival, 1.0, 1e-12);
    cr_assert_float_eq(b.arrival, 2.0, 1e-12);
    expect_latency(&a, 4.501);
    expect_latency(&b, 3.531);
    done(&f);
}

Test(rag, demands_are_drawn_at_arrival_so_configurations_see_the_same_requests)
{
    /* Two deployments that differ in the vector DB (1 thread vs 8, so every
     * timing differs) must draw the same request keys and tokens: demands
     * come from the workload's own streams when a request arrives. */
    static const char *common =
        "name: t\nduration: 60s\nseed: 9\n"
        "workload: {rate: 20/s, queries: {distinct: 1000, zipf_s: 1.1, unique: 0}}\n"
        "pipeline: {steps: [embed, retrieve, generate]}\n"
        "llm: {replicas: 4}\n"
        "trace: {request_sample: 1}\n";
    char a[1024], b[1024];
    snprintf(a, sizeof a, "%svectordb: {threads: 1, cost: {base: 40ms}}\n", common);
    snprintf(b, sizeof b, "%svectordb: {threads: 8, cost: {base: 5ms}}\n", common);
    fx_t fa, fb;
    run(&fa, a);
    run(&fb, b);
    const sim_table_t *ta = &fa.rag->requests, *tb = &fb.rag->requests;
    cr_assert_gt(ta->nrows, 1000);
    size_t n = ta->nrows < tb->nrows ? ta->nrows : tb->nrows;
    cr_assert_gt(n, 1000);
    int differ_timing = 0;
    for (size_t i = 0; i < n; i++) {
        /* rows are written when requests are released: match by id */
        int64_t ida = sim_table_get_i64(ta, i, 0);
        /* requests of the last 20 s may still be in flight in one of them */
        if (sim_table_get_f64(ta, i, sim_table_find_col(ta, "arrival")) >= 40.0) continue;
        size_t j = 0;
        while (j < tb->nrows && sim_table_get_i64(tb, j, 0) != ida) j++;
        cr_assert_lt(j, tb->nrows, "request %lld missing", (long long)ida);
        static const char *cols[] = {"arrival", "query_key", "query_tokens", "output_tokens"};
        for (int c = 0; c < 4; c++) {
            int ca = sim_table_find_col(ta, cols[c]);
            if (ta->cols[ca].type == SIM_COL_F64)
                cr_assert_eq(sim_table_get_f64(ta, i, ca), sim_table_get_f64(tb, j, ca), "%s of request %lld", cols[c], (long long)ida);
            else
                cr_assert_eq(sim_table_get_i64(ta, i, ca), sim_table_get_i64(tb, j, ca), "%s of request %lld", cols[c], (long long)ida);
        }
        int ce = sim_table_find_col(ta, "end");
        differ_timing += sim_table_get_f64(ta, i, ce) != sim_table_get_f64(tb, j, ce);
    }
    cr_assert_gt(differ_timing, (int)n / 2, "the deployments must differ in timing (%d of %zu)", differ_timing, n);
    done(&fa);
    done(&fb);
}

Test(rag, configuration_errors_name_position_and_problem)
{
    static const struct { const char *steps, *extra, *msg; } cases[] = {
        {"[embed, retreive, generate]", NULL, "did you mean 'retrieve'"},
        {"[retrieve, embed, generate]", NULL, "put 'embed' before it"},
        {"[embed, generate, retrieve]", NULL, "put 'retrieve' before it"},
        {"[embed, retrieve, generate, [guardrail, guardrail]]", NULL, "appears twice"},
        {"[embed, retrieve, generate]", "faults: [{kind: slowdown, target: risk, at: 1s, for: 1s, factor: 2}]\n", "fault target 'risk' is not a component"},
        {"[embed, retrieve, generate]", "faults: [{kind: slowdwn, target: llm, at: 1s, for: 1s, factor: 2}]\n", "did you mean 'slowdown'"},
        {"[embed, retrieve, generate]", "calls: {retreive: {timeout: 1s}}\n", "did you mean 'retrieve'"},
        {"[embed, retrieve, generate]", "calls: {retrieve: {timeout: 3}}\n", "expected a duration"},
        {"[embed, retrieve, generate]", "faults: [{kind: packet_loss, target: gateway, at: 1s, for: 1s, loss: 0.1}]\n", "packet loss acts on a call edge: target a component the gateway calls"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        fx_t f;
        sim_diag_t d;
        sim_diag_init(&d);
        int rc = load(&f, yaml_with(cases[i].steps, cases[i].extra), &d);
        cr_expect_neq(rc, 0, "case %zu must fail", i);
        cr_expect(strstr(sim_diag_text(&d), "r.yaml:") && strstr(sim_diag_text(&d), ": error: "),
                  "case %zu: no positioned error in: %s", i, sim_diag_text(&d));
        cr_expect(strstr(sim_diag_text(&d), cases[i].msg), "case %zu: want '%s' in: %s", i, cases[i].msg,
                  sim_diag_text(&d));
        rag_spec_fini(&f.spec);
        sim_cfg_destroy(f.cfg);
        sim_diag_fini(&d);
    }
}

/* `client_retries.on` rejected `degraded`, which the model reference
 * lists: a user who got a refusal (the retrieval timed out and the
 * fallback refused) asks again. One request at 1 s, refused, asked again
 * once (max 1) and refused again: one retry, two degraded answers. */
Test(rag, client_retries_on_degraded_answers)
{
    static const char yaml[] =
        "name: t\nduration: 20s\nseed: 1\n"
        "workload:\n  arrivals: deterministic\n  profile: [{for: 1500ms, rate: 1/s}, {rate: 0/s}]\n"
        "  deadline: 10s\n  client_retries: {max: 1, on: [degraded], delay: 1s}\n"
        "gateway: {replicas: 1, cores: 1}\n"
        "vectordb:\n  threads: 1\n  index: {type: flat, vectors: 1, dim: 1}\n  cost: {base: 5s, speed: 1e12}\n"
        "pipeline: {steps: [embed, retrieve]}\n"
        "calls: {retrieve: {timeout: 1s, fallback: {action: refuse}}}\n";
    fx_t f;
    run(&f, yaml);
    cr_assert_eq(f.rag->outcome[RAG_DEGRADED], 2, "degraded %llu", (unsigned long long)f.rag->outcome[RAG_DEGRADED]);
    cr_assert_eq(f.rag->client_retries, 1);
    done(&f);
}
