/* libFuzzer target: --set overrides. The input's lines are up to eight
 * assignments, applied to one of two valid scenarios (a network and a RAG
 * deployment with variants), chosen by the input's first byte. */
#define _GNU_SOURCE   /* memfd_create */
#include <stdlib.h>
#include <string.h>

#include "fuzz/fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char network[] =
    "name: net\nduration: 10s\nwarmup: 1s\nsample_interval: 1s\n"
    "workload:\n  arrivals: poisson\n  profile:\n    - {for: 2s, rate: 50/s}\n    - {rate: 80/s}\n"
    "stations:\n  api: {servers: 4, service: {dist: lognormal, mean: 20ms, cv: 1}}\n"
    "  db: {servers: 2, queue_limit: 40, queue_timeout: 1s, service: {dist: gamma, mean: 30ms, cv: 0.8}}\n"
    "route: [api, db]\n"
    "variants:\n  naive: {}\n  bigger: {stations: {db: {servers: 4}}}\n  biggest: {extends: bigger, stations: {api: {servers: 8}}}\n";

static const char rag[] =
    "name: rag\nduration: 20s\nwarmup: 2s\nsample_interval: 1s\n"
    "workload:\n  arrivals: poisson\n  rate: 20/s\n  queries: {distinct: 1000, zipf_s: 1.0}\n"
    "  query_tokens: {dist: lognormal, mean: 40, cv: 0.5}\n  output_tokens: {dist: lognormal, mean: 150, cv: 0.5}\n"
    "  deadline: 8s\n"
    "gateway: {replicas: 2, cores: 4, load_balancer: round_robin, handling: {pre: 2ms, post: 1ms}}\n"
    "pipeline: {steps: [embed, retrieve, generate], top_k: 5, chunk_tokens: 256}\n"
    "calls:\n  embed: {timeout: 2s}\n  retrieve: {timeout: 3s}\n  generate: {timeout: 15s}\n"
    "embedder: {replicas: 1, concurrency: 1, max_batch_size: 32, max_queue_delay: 2ms, batch_time: {base: 4ms, per_token: 10us}}\n"
    "vectordb:\n  replicas: 2\n  threads: 4\n  index: {type: hnsw, vectors: 100000, dim: 768, M: 16, ef_search: 10}\n"
    "  cost: {base: 10ms}\n  memory: {limit: 8GiB, base: 256MiB, per_query: 1MiB}\n"
    "llm: {replicas: 2, max_num_seqs: 64, hardware: {gpu: a100-80gb, model: Meta-Llama-3-8B, tp: 1}, "
    "max_num_batched_tokens: 2048, max_tokens: 1024}\n"
    "variants:\n  naive: {}\n  breaker: {calls: {retrieve: {circuit_breaker: {}}}}\n";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0) return 0;
    const char *base = (data[0] & 1) ? rag : network;
    char *text = malloc(size);
    if (!text) return 0;
    memcpy(text, data + 1, size - 1);
    text[size - 1] = 0;
    const char *sets[8];
    size_t n = 0;
    for (char *line = text; line && n < 8;) {
        char *nl = memchr(line, '\n', strlen(line));
        if (nl) *nl = 0;
        if (*line) sets[n++] = line;
        line = nl ? nl + 1 : NULL;
    }
    fuzz_load((const uint8_t *)base, strlen(base), sets, n);
    free(text);
    return 0;
}
