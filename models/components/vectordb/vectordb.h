/* Vector database (FAISS/Chroma-like): replicas of worker threads in front
 * of a queue, a query cost that grows with the index and top-k, and a memory
 * footprint that OOM-kills a replica when it passes the container limit.
 *
 *   vectordb:
 *     replicas: 2
 *     threads: 8                    # worker threads per replica
 *     queue_limit: unbounded        # naive: no admission limit
 *     index: {type: hnsw, vectors: 1000000, dim: 768, M: 16, ef_search: 10}
 *     cost: {base: 500us, ops_per_second: 1e10}   # vector-dimension operations per thread
 *     jitter: {dist: lognormal, mean: 1, cv: 0.3}   # multiplies the service time
 *     memory: {limit: 8GiB, base: 256MiB, per_query: 4MiB}
 *     startup: 10s
 *     cold_start: {factor: 3, period: 60s}
 *     restart_backoff: {initial: 10s, cap: 300s, reset: 10m}
 *
 * Query service time (seconds), before jitter, cold start and throttling:
 *   flat:  base + vectors x dim / ops_per_second
 *   hnsw:  base + max(ef_search, top_k) x M x log2(vectors + 1) x dim / ops_per_second
 * Memory of a replica (bytes):
 *   base + index + (queries waiting or in service) x per_query
 *   index = vectors x (4 dim + [hnsw] 8 M)
 * When a query arrives and memory passes `limit`, the replica is OOM-killed
 * (every query on it fails) and restarts per CrashLoopBackOff.
 * Cancellation (vdb_ops.cancel, rset_cancel): a query still waiting leaves
 * the queue at once (CALL_TIMEOUT), which also frees its per_query memory;
 * a search in progress cannot be stopped and runs to its end.
 * Follows FAISS/Chroma (HNSW M 16, ef_search 10: Chroma's defaults before
 * Chroma 1.0, https://docs.trychroma.com/docs/collections/configure;
 * docs/models/vectordb.md). */
#ifndef MODELS_COMPONENTS_VECTORDB_VECTORDB_H
#define MODELS_COMPONENTS_VECTORDB_VECTORDB_H

#include "models/components/call.h"
#include "models/components/replicas/replicas.h"
#include "sim/dist.h"

typedef enum { VDB_FLAT, VDB_HNSW } vdb_index_t;

typedef struct vdb_spec {
    rset_spec_t rs;
    vdb_index_t index;
    int64_t vectors, dim, M, ef_search;
    sim_time_t cost_base;         /* ns */
    double per_dim_op;            /* seconds per vector-dimension operation (1 / ops_per_second) */
    sim_dist_t jitter;            /* multiplier, mean 1 */
    int64_t mem_limit, mem_base, mem_per_query;
} vdb_spec_t;

int vdb_spec_parse(sim_diag_t *d, sim_cfg_node_t *map, vdb_spec_t *spec);
void vdb_spec_fini(vdb_spec_t *spec);

/* Mean query time for top-k (seconds), and memory figures (bytes). */
double vdb_query_time(const vdb_spec_t *spec, int64_t top_k);
int64_t vdb_index_bytes(const vdb_spec_t *spec);
/* Queries a replica can hold (waiting + in service) before the OOM kill. */
int64_t vdb_max_queries(const vdb_spec_t *spec);

typedef struct vdb {
    sim_t *sim;
    const vdb_spec_t *spec;
    rset_t rs;
    sim_rng_t *rng_jitter, *rng_relevance, *rng_errors;
    double error_ratio;           /* injected */
    double irrelevant_ratio;      /* chunking mismatch fault */
    uint64_t oom_kills;           /* since warm-up */
    uint64_t oom_kills_total;     /* whole run */
    int col_mem_max, col_cpu, col_q, col_oom, col_up;
    int *col_mem, *col_cpu_r;
} vdb_t;

vdb_t *vdb_create(sim_t *sim, const vdb_spec_t *spec);
void vdb_destroy(vdb_t *v);
/* Memory of replica r now (bytes). */
int64_t vdb_memory(const vdb_t *v, int r);

extern const comp_ops_t vdb_ops;

/* Chunking-mismatch fault: a fraction of successful retrievals return
 * chunks unrelated to the query. */
void vdb_set_irrelevant_ratio(vdb_t *v, double ratio);

#endif
