/* `ragsim init`: a commented starting scenario of a RAG service, to be
 * edited into one's own (docs/your-deployment.md). Written to a temporary
 * file and moved into place only if nothing is there: it never replaces a
 * file. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/init.h"
#include "sim/outfile.h"

#define CMD "ragsim init"

static const char template_text[] =
    "# A RAG service, as a starting point: replace each value with your own.\n"
    "# Every value has a unit (20ms, 4GiB, 50/s); docs/scenario-format.md has\n"
    "# the format and docs/your-deployment.md the way from this file to a\n"
    "# calibrated scenario of your service:\n"
    "#   ragsim validate THIS.yaml    capacity of every component at the peak\n"
    "#   ragsim fit --histogram B.csv --unit s   a latency's dist: mapping from\n"
    "#                                Prometheus buckets\n"
    "#   ragsim run THIS.yaml         the run; ragsim report THIS.h5 for figures\n"
    "name: my-rag-service\n"
    "description: my RAG service at its daily peak\n"
    "duration: 10m\n"
    "warmup: 1m\n"
    "seed: 1\n"
    "replications: 3\n"
    "sample_interval: 5s\n"
    "\n"
    "workload:\n"
    "  arrivals: poisson\n"
    "  rate: 20/s                     # your peak requests per second; or a profile:\n"
    "  # profile:\n"
    "  #   - {for: 5m, rate: 20/s}\n"
    "  #   - {for: 1m, from: 20/s, to: 40/s}\n"
    "  #   - {rate: 40/s}\n"
    "  # A recorded trace can be replayed instead of a rate (workload.trace,\n"
    "  # docs/scenario-format.md).\n"
    "  queries: {distinct: 100000, zipf_s: 1.0}                # how often questions repeat\n"
    "  query_tokens: {dist: lognormal, mean: 40, cv: 0.5}      # fit yours: ragsim fit\n"
    "  output_tokens: {dist: lognormal, mean: 200, cv: 0.6}    # the answers' lengths\n"
    "  deadline: 30s                  # when your clients give up\n"
    "  # classes:                     # tenants or products: per-class figures in the summary\n"
    "  #   premium: {share: 20%, priority: 0}   # priority: with llm.scheduling_policy: priority\n"
    "  #   free: {share: 80%, priority: 1}\n"
    "\n"
    "gateway:                         # the service that runs the pipeline\n"
    "  replicas: 2\n"
    "  cores: 4                       # GOMAXPROCS of each replica\n"
    "  handling: {pre: 2ms, post: 1ms}   # CPU per request before / after the pipeline\n"
    "\n"
    "pipeline:\n"
    "  steps: [embed, retrieve, generate]   # add dependencies: [..., [guardrail, audit]]\n"
    "  top_k: 5                       # chunks retrieved per question\n"
    "  chunk_tokens: 256              # tokens per chunk, in the LLM's prompt\n"
    "  system_prompt_tokens: 200      # the prompt's shared prefix\n"
    "\n"
    "calls:                           # the gateway's timeouts on each call\n"
    "  embed: {timeout: 2s}\n"
    "  retrieve: {timeout: 3s}\n"
    "  generate: {timeout: 30s}\n"
    "\n"
    "embedder:                        # Triton-style dynamic batching\n"
    "  replicas: 1\n"
    "  max_batch_size: 32\n"
    "  max_queue_delay: 2ms\n"
    "  batch_time: {base: 4ms, per_token: 10us}   # measure a batch of 1 and of 32\n"
    "  # autoscale: {min_replicas: 1, max_replicas: 4, metric: cpu, target: 60%}\n"
    "\n"
    "vectordb:\n"
    "  replicas: 2\n"
    "  threads: 4                     # worker threads per replica\n"
    "  cores: 4                       # the pod's CPU limit\n"
    "  index: {type: hnsw, vectors: 1000000, dim: 768, M: 16, ef_search: 100}   # Chroma 1.0's defaults\n"
    "  # the query's time comes from the index (`ragsim vectordb estimate`: ~5 ms here), plus\n"
    "  # cost.base (default 500us: the server's RPC and decoding); bench/vectordb/calibrate\n"
    "  # measures this machine's CPU and prints a `cost:` block for it\n"
    "  memory: {limit: 8GiB, base: 256MiB, per_query: 1MiB}\n"
    "  startup: 30s                   # container start + index load\n"
    "  # autoscale: {min_replicas: 2, max_replicas: 8, metric: cpu, target: 60%}\n"
    "\n"
    "llm:                             # vLLM replicas; ragsim llm capacity THIS.yaml\n"
    "  replicas: 2\n"
    "  hardware: {gpu: h100-sxm, model: Meta-Llama-3-8B, tp: 1}   # ragsim llm step-time --help lists presets\n"
    "  enable_prefix_caching: true\n"
    "  startup: 60s                   # loading the weights\n"
    "  # scheduling_policy: priority  # vLLM --scheduling-policy: serve classes by priority\n"
    "\n"
    "# dependencies:                  # other services a request calls\n"
    "#   guardrail:\n"
    "#     replicas: 2\n"
    "#     concurrency: 32\n"
    "#     latency: {dist: lognormal, mean: 30ms, cv: 0.5}   # ragsim fit --histogram\n"
    "\n"
    "trace:\n"
    "  request_sample: 0.01           # per-request records for 1% of the requests\n";

static void usage(FILE *f)
{
    fputs("usage: ragsim init SCENARIO.yaml\n"
          "\n"
          "Writes a commented starting scenario of a RAG service (gateway, embedder,\n"
          "vector DB, LLM) to SCENARIO.yaml, to be edited into your own; see\n"
          "docs/your-deployment.md. An existing file is never replaced (exit status 2).\n",
          f);
}

int init_main(int argc, char **argv, FILE *out, FILE *err)
{
    if (argc >= 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
        usage(out);
        return 0;
    }
    if (argc != 2) {
        fprintf(err, CMD ": error: %s (usage: " CMD " SCENARIO.yaml)\n",
                argc < 2 ? "missing the file to write" : "one file only");
        return 2;
    }
    const char *path = argv[1];
    if (!*path || path[0] == '-') {
        fprintf(err, CMD ": error: expected a file name, got '%s' (see " CMD " --help)\n", path);
        return 2;
    }
    char why[512];
    if (sim_output_check(path, false, NULL, 0, why, sizeof why) != 0) {
        /* the message says to use --force, which init does not take */
        char *semi = strstr(why, "; use --force");
        if (semi) snprintf(semi, sizeof why - (size_t)(semi - why), "; init never replaces a file");
        fprintf(err, CMD ": error: %s\n", why);
        return 2;
    }
    size_t n = strlen(path);
    char *tmp = malloc(n + 16);
    if (!tmp) {
        fprintf(err, CMD ": error: out of memory\n");
        return 1;
    }
    snprintf(tmp, n + 16, "%s.tmp.XXXXXX", path);
    int fd = mkstemp(tmp);
    if (fd < 0) {
        fprintf(err, CMD ": error: cannot create %s: %s\n", tmp, strerror(errno));
        free(tmp);
        return 2;
    }
    FILE *f = fdopen(fd, "w");
    int ok = f && fputs(template_text, f) >= 0 && fflush(f) == 0 && fsync(fd) == 0;
    int saved = errno;
    if (f) ok &= fclose(f) == 0;
    else close(fd);
    if (!ok) {
        fprintf(err, CMD ": error: cannot write %s: %s\n", path, strerror(saved));
        unlink(tmp);
        free(tmp);
        return 1;
    }
    if (sim_rename_noreplace(tmp, path, 0) != 0) {
        saved = errno;
        unlink(tmp);
        fprintf(err, CMD ": error: %s %s\n", path,
                saved == EEXIST ? "appeared while it was written; init never replaces a file" : strerror(saved));
        free(tmp);
        return 2;
    }
    free(tmp);
    fprintf(out, "%s: a starting scenario; edit it, then: ragsim validate %s\n", path, path);
    return 0;
}
