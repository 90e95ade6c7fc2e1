/* Policy scope: each gateway pod (a client process) holds its own policy
 * state, as Resilience4j, Envoy, gRPC and the AWS SDK do; only a limiter
 * backed by a shared store is one for the cluster. Hand-computed counts on
 * deterministic arrivals split by round robin over two pods. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>

#include "models/rag/rag.h"
#include "ragfx.h"

/* 99 requests at 100/s (at 10, 20, ... 990 ms), alternating between 2 pods
 * (50 and 49, every 20 ms); each reaches the vector DB 6 ms after it arrives (pre 2 ms, embed
 * 4 ms). `vdb` is the query time; `retrieve` the retrieve edge's policies. */
static void run(ragfx_t *f, const char *vdb, const char *retrieve)
{
    static char yaml[4096];
    snprintf(yaml, sizeof yaml,
             "name: scope\nduration: 10s\nseed: 1\n"
             "workload:\n  arrivals: deterministic\n  profile: [{for: 1s, rate: 100/s}, {rate: 0/s}]\n"
             "  query_tokens: {dist: deterministic, value: 40}\n  output_tokens: {dist: deterministic, value: 2}\n"
             "  deadline: 60s\n"
             "gateway: {replicas: 2, cores: 4, load_balancer: round_robin, handling: {pre: 2ms, post: 1ms}, " RAGFX_GO_FREE "}\n"
             "embedder: {max_queue_delay: 0s, batch_time: {base: 4ms, per_token: 0s}}\n"
             "vectordb:\n  threads: 1000\n  index: {type: flat, vectors: 1, dim: 1}\n"
             "  cost: {base: %s, speed: 1e12}\n  jitter: {dist: deterministic, value: 1}\n"
             "  memory: {limit: 1TiB}\n"
             "llm: {replicas: 4, hardware: {step_time: {base: 1ms, per_token: 0s}}, kv_cache: 56GiB, "
             "kv_bytes_per_token: 128KiB}\n"
             "pipeline: {steps: [embed, retrieve, generate]}\n"
             "calls: {retrieve: {timeout: 30s, %s}}\n"
             "trace: {request_sample: 1}\n",
             vdb, retrieve);
    ragfx_run(f, "scope.yaml", yaml, 1, true);
}

Test(scope, each_pod_has_its_own_bulkhead)
{
    /* max 10 concurrent per pod, queries of 1 s: a pod's first 10 requests
     * hold its 10 slots until a second after the first; its later ones
     * (all before 1 s) are rejected: 40 + 39. Two pods: 20 admitted, 79
     * rejected. One shared bulkhead (the old model) would have rejected 89. */
    ragfx_t f;
    run(&f, "1s", "bulkhead: {max_concurrent_calls: 10}");
    cr_assert_eq(f.rag->policy_rejects[RAG_VECTORDB], 79, "rejected %llu", (unsigned long long)f.rag->policy_rejects[RAG_VECTORDB]);
    cr_assert_eq(f.rag->npods, 2);
    ragfx_done(&f);
}

Test(scope, each_pod_has_its_own_token_bucket)
{
    /* a bucket of 5 tokens that practically never refills (0.001/s): 5
     * queries per pod pass, 10 in all, 89 rejected */
    ragfx_t f;
    run(&f, "10ms", "rate_limit: {rate: 0.001/s, burst: 5}");
    cr_assert_eq(f.rag->policy_rejects[RAG_VECTORDB], 89, "rejected %llu", (unsigned long long)f.rag->policy_rejects[RAG_VECTORDB]);
    ragfx_done(&f);
}

Test(scope, a_cluster_limiter_is_one_bucket_and_costs_the_store_round_trip)
{
    /* scope: cluster: one bucket of 5 for both pods, 94 rejected; every
     * decision takes the store's 1 ms, so the first request (admitted) ends
     * 1 ms later than without the store: pre 2 + embed 4 + store 1 +
     * query 10 + LLM (a prefill step and one decode step of 1 ms) 2 + post 1
     * = 20 ms. */
    ragfx_t f;
    run(&f, "10ms", "rate_limit: {rate: 0.001/s, burst: 5, scope: cluster, store_latency: 1ms}");
    cr_assert_eq(f.rag->policy_rejects[RAG_VECTORDB], 94, "rejected %llu", (unsigned long long)f.rag->policy_rejects[RAG_VECTORDB]);
    const sim_table_t *t = &f.rag->requests;
    int cid = sim_table_find_col(t, "id"), ca = sim_table_find_col(t, "arrival"), ce = sim_table_find_col(t, "end");
    int found = 0;
    for (size_t k = 0; k < t->nrows; k++)
        if (sim_table_get_i64(t, k, cid) == 0) {
            double lat = sim_table_get_f64(t, k, ce) - sim_table_get_f64(t, k, ca);
            cr_assert_lt(fabs(lat - 0.020), 1e-9, "first request: %.9f s", lat);
            found = 1;
        }
    cr_assert(found);
    ragfx_done(&f);
}
