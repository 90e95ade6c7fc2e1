/* Vector database (FAISS-like): replicas of worker threads in front of a
 * queue, a query cost from the index type and its parameters, and a memory
 * footprint that OOM-kills a replica when it passes the container limit.
 *
 *   vectordb:
 *     replicas: 2                   # per shard
 *     shards: 1                     # S: ceil(N/S) vectors per shard, each with its own replicas
 *     threads: 8                    # worker threads per replica (queries searched at once)
 *     cores: 8                      # CPU cores per replica (default: threads); threads beyond
 *                                   # them share them: n > cores searches each at cores/n speed
 *     queue_limit: unbounded        # naive: no admission limit
 *     index: {type: hnsw, vectors: 1000000, dim: 768, M: 16, ef_search: 10}
 *            # flat | hnsw (M, ef_search) | ivf_flat (nlist, nprobe) | ivf_pq (nlist, nprobe, pq_m, pq_nbits)
 *     cost: {base: 500us}           # server work per query outside the index (RPC, decoding)
 *           # + the CPU coefficients below (bench/vectordb/calibrate prints them) and speed
 *     jitter: {dist: lognormal, mean: 1, cv: 0.3}   # multiplies the service time
 *     memory: {limit: 8GiB, base: 256MiB, per_query: 4MiB}
 *     startup: 10s                  # the process, before it reads its index
 *     disk_throughput: 125MiB/s     # optional: the index is read at this rate after `startup`
 *                                   # (a restart, an OOM kill's, costs index bytes / throughput more)
 *     cold_start: {factor: 3, period: 60s}
 *     restart_backoff: {initial: 10s, cap: 300s, reset: 10m}
 *     recall: [[16, 0.91], [32, 0.99], [64, 1.0]]   # [knob, recall@k]; absent: recall 1
 *     ingest:                       # optional: an insert stream (off by default)
 *       rate: 2000/s                # vectors/s into the collection
 *       batch: 1000                 # vectors per insert request
 *       start: 0s                   # when the stream starts
 *       duration: unbounded         # how long it runs
 *       segment: {max_size: 1024MiB, seal_proportion: 0.12}   # Milvus dataCoord.segment.*
 *       build_threads: 8            # threads of an index build (default: cores)
 *     degrade: {queue_above: 200, interval: 1s, step: 2, floor: 5}   # quality for latency
 *     batch: {max_batch_size: 32, max_queue_delay: 2ms}   # batched search (Triton's dynamic batcher)
 *
 * Batched search (`batch`, off by default): each of a replica's threads
 * takes the waiting queries as one FAISS search call of nq queries (up to
 * max_batch_size, once that many wait or the oldest has waited
 * max_queue_delay: the station's batching, station.h). The call's time is
 * what FAISS does with nq queries (vdb_batch_search_time): one `call`,
 * batch_query per further query, the same per-query work for HNSW and IVF
 * (OpenMP over the queries: the batch uses min(nq, cores) cores), BLAS
 * sgemm for Flat (and IVF's coarse quantizer) from nq >= 20, FAISS's
 * distance_compute_blas_threshold (one core: the sgemm of the reference
 * BLAS the coefficients were measured with). Every query of a batch ends
 * with it. Jitter stays per query: a batch's work is the sum of its
 * queries' times x vdb_batch_ratio.
 *
 * The search knob is ef_search for hnsw and nprobe for ivf_flat/ivf_pq
 * (flat has none). `recall` is recall@k as a function of the knob,
 * interpolated linearly between points and held flat outside them; a
 * query misses (returns chunks without the relevant one: CALL_F_IRRELEVANT,
 * drawn from the stream "vectordb/recall" only when recall < 1) with
 * probability 1 - recall at the knob it was searched with. `degrade` checks
 * every `interval` the queries waiting on all replicas: above `queue_above`
 * the knob drops by `step` (not below `floor`), otherwise it rises by `step`
 * back to its configured value; a query's cost and recall follow the knob
 * when it arrives.
 *
 * Query service time on one thread (seconds), before jitter, cold start and
 * throttling: base + search / speed, with the search (k = top_k, c_* the
 * CPU coefficients, fitted to FAISS 1.7.3 measured by bench/vectordb/):
 *   flat:     call + N (d scan_dim + scan_vector)
 *   hnsw:     call + D (d graph_dim + graph_distance),
 *             D = hnsw_a M^hnsw_m max(ef, k)^hnsw_ef N^hnsw_n   (distance computations)
 *   ivf_flat: call + nlist d scan_dim + L (d scan_dim + scan_vector),
 *             L = imbalance nprobe N / nlist                     (vectors scanned)
 *   ivf_pq:   call + nlist d scan_dim + 2^nbits d scan_dim + nprobe m 2^nbits pq_table
 *             + L (m pq_code + scan_vector)
 * Index memory (bytes), FAISS's layout:
 *   flat:     4 N d
 *   hnsw:     4 N d + 4 N (2M + M/(M-1)) + 12 N       (vectors, links, levels, offsets)
 *   ivf_flat: 4 nlist d + N (4 d + 8)                   (centroids, vectors + ids)
 *   ivf_pq:   4 nlist d + 4 d 2^nbits + N (m + 8) + 4 nlist m 2^nbits   (+ precomputed table)
 * Memory of a replica: base + index + (queries waiting or in service) x per_query.
 * Shards (S > 1): a replica holds and searches an index of ceil(N/S) vectors
 * (N above is that); a query goes to one replica of every shard (each
 * shard's load balancer) and is answered when the slowest answers
 * (scatter-gather); the first failing shard fails it at once and its other
 * shard calls are cancelled (waiting ones leave their queues). Recall,
 * injected errors and chunking mismatch are drawn once per query, jitter
 * once per shard. S = 1 is the unsharded model, draw for draw.
 * When a query arrives and memory passes `limit`, the replica is OOM-killed
 * (every query on it fails) and restarts per CrashLoopBackOff.
 * Ingest (`ingest`, docs/models/vectordb.md#ingest): every `batch / rate`
 * seconds a batch of vectors is split over the shards and goes into each
 * shard's growing segment, searched by brute force by every query
 * (+ n (d scan_dim + scan_vector) per query, n the segment's vectors); each
 * replica of the shard pays the insert (cost.base + n d scan_dim) as
 * background CPU sharing its cores with the searches. At
 * max_size x seal_proportion / (4 d + 16) rows the segment is sealed and
 * every replica builds its index (HNSW: each insert a walk at
 * ef = efConstruction, the search's distance law) as background CPU on build_threads threads, one build at a time; until its build ends the
 * segment is still scanned by brute force, after it the replica's index
 * has its vectors (its N, query cost and memory grow). Memory: base +
 * index(N) + (growing + sealed unindexed) (4 d + 16) + queries x per_query.
 * A replica (re)starting reads the index as it is then (all sealed
 * segments) and replays the growing segment.
 * Start-up with disk_throughput: the memory grows linearly from base to
 * base + index while the index is read; past the limit the replica is
 * OOM-killed during the read.
 * Cancellation (vdb_ops.cancel, rset_cancel): a query still waiting leaves
 * the queue at once (CALL_TIMEOUT), which also frees its per_query memory;
 * a search in progress cannot be stopped and runs to its end.
 * Follows FAISS (HNSW M 16, ef_search 10: Chroma's defaults before Chroma
 * 1.0, https://docs.trychroma.com/docs/collections/configure;
 * docs/models/vectordb.md). */
#ifndef MODELS_COMPONENTS_VECTORDB_VECTORDB_H
#define MODELS_COMPONENTS_VECTORDB_VECTORDB_H

#include "models/components/call.h"
#include "models/components/replicas/replicas.h"
#include "sim/dist.h"

typedef enum { VDB_FLAT, VDB_HNSW, VDB_IVF_FLAT, VDB_IVF_PQ } vdb_index_t;

/* CPU coefficients of one search thread, in seconds (bench/vectordb/fit). */
typedef struct vdb_cost {
    double call;            /* per search call: FAISS's fixed work, result heap */
    double scan_dim;        /* per vector dimension compared in a sequential scan */
    double scan_vector;     /* per vector scanned, besides its dimensions (heap test, id) */
    double graph_dim;       /* per vector dimension of an HNSW distance (random access) */
    double graph_distance;  /* per HNSW distance, besides its dimensions (visited set, heaps) */
    double pq_code;         /* per PQ code byte scanned (table lookup) */
    double pq_table;        /* per lookup-table entry built (nprobe m 2^nbits) */
    /* the HNSW distance law D = a M^m max(ef,k)^ef N^n (structure, not CPU) */
    double hnsw_a, hnsw_m, hnsw_ef, hnsw_n;
    double imbalance;       /* IVF: vectors scanned / (nprobe N / nlist) */
    /* batched search (bench/vectordb/fit-batch; defaults in cost_batch_default.h) */
    double batch_query;     /* per query of a batch besides the first: the part of `call` paid per query */
    double blas_dim;        /* per dimension of a (query, vector) pair in BLAS sgemm (Flat, IVF's coarse) */
    double blas_vector;     /* per (query, vector) pair besides its dimensions: norms, heap */
} vdb_cost_t;

/* The coefficients measured on the CPU of bench/vectordb/measured-*.csv
 * (the batch ones on that of batch-measured-*.csv: vdb_spec_parse sets them). */
extern const vdb_cost_t vdb_cost_default;
/* FAISS's distance_compute_blas_threshold: a Flat search of this many
 * queries or more in one call computes its distances with BLAS sgemm. */
#define VDB_BLAS_THRESHOLD 20

#define VDB_RECALL_MAX 32

#define VDB_SHARDS_MAX 256

typedef struct vdb_spec {
    rset_spec_t rs;               /* the replicas of shard 0 (of the collection when shards is 1) */
    int64_t cores;                /* per replica; threads beyond the cores share them */
    double disk_throughput;       /* bytes/s the index is read from disk at start-up; 0: not read */
    sim_time_t startup_process;   /* `startup`: the process before its index (rs.startup adds the index load) */
    int64_t shards;               /* S: the collection split into S shards of ceil(N/S) vectors */
    rset_spec_t *shard_rs;        /* shards > 1: the replicas of shards 1 .. S-1 (rs is shard 0's) */
    char (*shard_name)[32];       /* shards > 1: "vectordb_shard<s>", the names of their replica sets */
    vdb_index_t index;
    int64_t vectors, dim, M, ef_search, nlist, nprobe, pq_m, pq_nbits;
    int64_t ef_construction;      /* HNSW efConstruction: the candidate list of a build's inserts */
    sim_time_t cost_base;         /* ns: server work per query outside the index */
    double speed;                 /* the CPU's speed relative to the coefficients' */
    vdb_cost_t cost;
    sim_dist_t jitter;            /* multiplier, mean 1 */
    int64_t mem_limit, mem_base, mem_per_query;
    int nrecall;                  /* points of the recall table; 0: recall 1 */
    double recall_x[VDB_RECALL_MAX], recall_y[VDB_RECALL_MAX];
    bool degrade;                 /* the quality-for-latency policy is on */
    int64_t dg_queue_above, dg_step, dg_floor;
    sim_time_t dg_interval;
    /* ingest (`ingest`; off without it) */
    bool ingest;
    double ing_rate;              /* vectors/s into the collection */
    int64_t ing_batch;            /* vectors per insert request */
    int64_t build_threads;        /* threads of an index build (default: cores, as FAISS's OpenMP) */
    sim_time_t ing_start, ing_end;/* the stream runs in [start, end) */
    int64_t seg_max_size;         /* bytes: Milvus dataCoord.segment.maxSize */
    double seal_proportion;       /* Milvus dataCoord.segment.sealProportion */
    bool batch;                   /* batched search (`batch`): several queries per FAISS call */
    int64_t batch_max;            /* batch.max_batch_size */
    sim_time_t batch_wait;        /* batch.max_queue_delay */
} vdb_spec_t;

int vdb_spec_parse(sim_diag_t *d, sim_cfg_node_t *map, vdb_spec_t *spec);
void vdb_spec_fini(vdb_spec_t *spec);

/* Mean query time for top-k on one thread (seconds): base + search / speed;
 * the search alone (seconds at speed 1); the distance computations (flat,
 * hnsw) or vectors scanned (ivf) of one search; and memory (bytes). */
double vdb_query_time(const vdb_spec_t *spec, int64_t top_k);
double vdb_search_time(const vdb_spec_t *spec, int64_t top_k);
double vdb_search_work(const vdb_spec_t *spec, int64_t top_k);
/* The same at search knob `knob` (ef_search for hnsw, nprobe for ivf) instead of the spec's. */
double vdb_query_time_at(const vdb_spec_t *spec, int64_t top_k, int64_t knob);
/* The spec's search knob (ef_search, nprobe; 0 for flat) and recall@k at `knob`
 * from the recall table (1 without one). */
int64_t vdb_knob(const vdb_spec_t *spec);
double vdb_recall(const vdb_spec_t *spec, int64_t knob);
extern const char *const vdb_index_names[];
/* Bytes of the index one replica holds: its shard's (the whole index when shards is 1). */
int64_t vdb_index_bytes(const vdb_spec_t *spec);
/* Vectors in one shard: ceil(vectors / shards). */
int64_t vdb_shard_vectors(const vdb_spec_t *spec);
/* Time to read the replica's index from disk at start-up: index bytes /
 * disk_throughput (0 without disk_throughput). A replica (re)starting is
 * ready after startup + this. */
sim_time_t vdb_index_load(const vdb_spec_t *spec);
/* The same for an index of n vectors (one shard's): its bytes, and the
 * search alone (seconds at speed 1) at `knob`. */
int64_t vdb_index_bytes_n(const vdb_spec_t *spec, int64_t n);
double vdb_search_time_n(const vdb_spec_t *spec, int64_t top_k, int64_t knob, int64_t n);
/* Ingest. Bytes of one row of a growing segment (the vector, a 64-bit
 * primary key and a 64-bit timestamp: 4 d + 16); rows at which a growing
 * segment is sealed (max_size x seal_proportion / row bytes); the brute-force
 * scan of n vectors (seconds at speed 1, added to each query); the CPU
 * seconds of one insert request of n vectors and of building the index of
 * a sealed segment of n vectors (at the spec's speed, on one core). */
int64_t vdb_row_bytes(const vdb_spec_t *spec);
int64_t vdb_seal_rows(const vdb_spec_t *spec);
double vdb_scan_time(const vdb_spec_t *spec, int64_t n);
double vdb_insert_time(const vdb_spec_t *spec, int64_t n);
double vdb_build_time(const vdb_spec_t *spec, int64_t n);
/* Queries a replica searches at full speed at once: min(threads, cores). */
int64_t vdb_parallelism(const vdb_spec_t *spec);
/* Batched search: the search time (seconds at speed 1, CPU time on one
 * core) of one FAISS call of n queries at `knob` (n 1: vdb_search_time's);
 * the work of a batch of n queries relative to n lone queries
 * (server work included: n base + batch search / speed over n query
 * times; 1 at n 1); and the cores a batch of n uses. */
double vdb_batch_search_time(const vdb_spec_t *spec, int64_t top_k, int64_t knob, int64_t n);
double vdb_batch_ratio(const vdb_spec_t *spec, int64_t top_k, int64_t knob, int64_t n);
int64_t vdb_batch_width(const vdb_spec_t *spec, int64_t n);
/* Queries per second one replica answers at saturation: min(threads,
 * cores) / query time; batched, full batches of max_batch_size on the
 * cores they can use. */
double vdb_replica_capacity(const vdb_spec_t *spec, int64_t top_k);
/* Queries a replica can hold (waiting + in service) before the OOM kill. */
int64_t vdb_max_queries(const vdb_spec_t *spec);

/* One replica's start-up read and ingest state (vdb.c). */
typedef struct vdb_rep {
    sim_time_t load_at, load_for; /* its index read from disk: began at, takes */
    int64_t load_bytes;           /* the index it reads */
    sim_timer_t load_oom;         /* its OOM kill during the read (base + index > limit) */
    int64_t indexed;              /* ingest: vectors in its index */
    int64_t sealed, builds;       /* ingest: sealed vectors not yet in its index; their builds */
    double insert_due;            /* ingest: CPU seconds of inserts waiting behind the one running */
    stn_job_t insert_job, build_job;
    double search_s;              /* the search time cached for (search_n, search_knob, search_k) */
    int64_t search_n, search_knob, search_k;
} vdb_rep_t;

typedef struct vdb {
    sim_t *sim;
    const vdb_spec_t *spec;
    rset_t rs;                    /* shard 0's replicas (the collection's when shards is 1) */
    rset_t *more;                 /* shards > 1: shards 1 .. S-1 */
    call_pool_t pool;             /* shards > 1: the per-shard calls of a query */
    call_t *scatter_parent;       /* the query being scattered (submit), NULL otherwise */
    bool scatter_ended;           /* it was completed while being scattered */
    sim_rng_t *rng_jitter, *rng_relevance, *rng_errors, *rng_recall;
    int64_t knob;                 /* current ef_search / nprobe (the degrade policy moves it) */
    double cur_recall, cur_time;  /* recall and query time (s, top_k cur_k) at knob, cached */
    int64_t cur_k;
    uint64_t misses, degrade_steps;   /* whole run: recall misses; knob changes */
    int col_knob;
    int64_t batch_n, batch_k, batch_knob;   /* batched search: the last batch's size, top_k, knob ... */
    double batch_r;               /* ... and its time per second of its queries' summed times */
    double error_ratio;           /* injected */
    double irrelevant_ratio;      /* chunking mismatch fault */
    uint64_t oom_kills;           /* since warm-up */
    uint64_t oom_kills_total;     /* whole run */
    int col_mem_max, col_cpu, col_q, col_oom, col_up;
    int *col_mem, *col_cpu_r;
    vdb_rep_t *rep;               /* replica r of shard s: rep[s * slots + r] */
    /* ingest, per shard */
    int64_t *growing;             /* vectors in the growing segment */
    int64_t *sealed_total;        /* vectors sealed since the start */
    int64_t ing_rot;              /* the shard that gets a batch's first extra vector */
    uint64_t seals, builds_done;  /* whole run: segments sealed (all shards), builds ended (all replicas) */
    int col_growing, col_unindexed, col_builds;
} vdb_t;

vdb_t *vdb_create(sim_t *sim, const vdb_spec_t *spec);
void vdb_destroy(vdb_t *v);
/* Memory of replica r (of shard 0) now (bytes). */
int64_t vdb_memory(const vdb_t *v, int r);
/* Replica set of shard s (0 <= s < shards) and memory of its replica r. */
rset_t *vdb_shard(vdb_t *v, int s);
int64_t vdb_shard_memory(const vdb_t *v, int s, int r);
/* Ingest state of replica r of shard s (NULL-free: always allocated). */
const vdb_rep_t *vdb_replica_state(const vdb_t *v, int s, int r);

extern const comp_ops_t vdb_ops;

/* Chunking-mismatch fault: a fraction of successful retrievals return
 * chunks unrelated to the query. */
void vdb_set_irrelevant_ratio(vdb_t *v, double ratio);

#endif
