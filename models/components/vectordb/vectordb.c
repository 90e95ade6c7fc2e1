/* The vector DB (vectordb.h): query cost from the index, memory per query,
 * OOM kills. Calls the replicated service (replicas.h) and the engine. */
#include "models/components/vectordb/vectordb.h"

#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sim/error.h"

const char *const vdb_index_names[] = {"flat", "hnsw", "ivf_flat", "ivf_pq", NULL};

/* Fitted by bench/vectordb/fit on bench/vectordb/measured-amd-epyc-family-26-model-2.csv
 * (FAISS 1.7.3, one thread); docs/models/vectordb.md has the held-out check. */
#include "models/components/vectordb/cost_default.h"
/* bench/vectordb/fit-batch on bench/vectordb/batch-measured-*.csv */
#include "models/components/vectordb/cost_batch_default.h"

/* the CPU coefficients, in nanoseconds in a scenario (cost.<name>_ns) */
static const struct { const char *key; size_t off; } cost_keys[] = {
    {"call_ns", offsetof(vdb_cost_t, call)},
    {"scan_dim_ns", offsetof(vdb_cost_t, scan_dim)},
    {"scan_vector_ns", offsetof(vdb_cost_t, scan_vector)},
    {"graph_dim_ns", offsetof(vdb_cost_t, graph_dim)},
    {"graph_distance_ns", offsetof(vdb_cost_t, graph_distance)},
    {"pq_code_ns", offsetof(vdb_cost_t, pq_code)},
    {"pq_table_ns", offsetof(vdb_cost_t, pq_table)},
    {"batch_query_ns", offsetof(vdb_cost_t, batch_query)},
    {"blas_dim_ns", offsetof(vdb_cost_t, blas_dim)},
    {"blas_vector_ns", offsetof(vdb_cost_t, blas_vector)},
};

/* Shards > 1: every shard gets its own replica set, named vectordb_shard<s>
 * (its stations, load balancer stream, events and series): shard 0 renames
 * the parsed one, shards 1 .. S-1 copy it. */
static int shard_specs(vdb_spec_t *spec)
{
    int64_t S = spec->shards, n = spec->rs.slots;
    spec->shard_name = calloc((size_t)S, sizeof *spec->shard_name);
    spec->shard_rs = calloc((size_t)(S - 1), sizeof *spec->shard_rs);
    if (!spec->shard_name || !spec->shard_rs) return SIM_ENOMEM;
    for (int64_t s = 0; s < S; s++) {
        snprintf(spec->shard_name[s], sizeof spec->shard_name[s], "vectordb_shard%d", (int)s);
        rset_spec_t *r = s == 0 ? &spec->rs : &spec->shard_rs[s - 1];
        if (s > 0) {
            *r = spec->rs;
            r->stations = calloc((size_t)n, sizeof *r->stations);
            if (!r->stations) return SIM_ENOMEM;
            memcpy(r->stations, spec->rs.stations, (size_t)n * sizeof *r->stations);
        }
        r->name = spec->shard_name[s];
        for (int64_t i = 0; i < n; i++) r->stations[i].name = spec->shard_name[s];
    }
    return 0;
}

/* `ingest`: the insert stream, Milvus's growing and sealed segments (off when absent). */
static void ingest_parse(sim_diag_t *d, sim_cfg_node_t *ing, vdb_spec_t *spec)
{
    spec->seg_max_size = 1024LL << 20;   /* dataCoord.segment.maxSize: 1024 (MB) */
    spec->seal_proportion = 0.12;        /* dataCoord.segment.sealProportion */
    if (!ing || !sim_cfg_expect_map(d, ing, "ingest")) return;
    int errs = d->errors;
    spec->ingest = true;
    sim_cfg_rate(d, ing, "rate", SIM_CFG_REQUIRED | SIM_CFG_POSITIVE, 0, &spec->ing_rate);
    sim_cfg_int(d, ing, "batch", 0, 1, (int64_t)1 << 30, 1000, &spec->ing_batch);
    sim_cfg_duration(d, ing, "start", 0, 0, &spec->ing_start);
    sim_cfg_int(d, ing, "build_threads", 0, 1, 1000000, spec->cores, &spec->build_threads);
    sim_time_t dur = SIM_TIME_MAX;
    sim_cfg_duration(d, ing, "duration", SIM_CFG_POSITIVE | SIM_CFG_UNBOUNDED, SIM_TIME_MAX, &dur);
    spec->ing_end = dur >= SIM_TIME_MAX - spec->ing_start ? SIM_TIME_MAX : spec->ing_start + dur;
    sim_cfg_node_t *seg = sim_cfg_get(ing, "segment");
    if (seg && sim_cfg_expect_map(d, seg, "segment")) {
        sim_cfg_size(d, seg, "max_size", SIM_CFG_POSITIVE, spec->seg_max_size, &spec->seg_max_size);
        sim_cfg_double(d, seg, "seal_proportion", SIM_CFG_POSITIVE, 1e-9, 1, spec->seal_proportion,
                       &spec->seal_proportion);
    }
    if (d->errors == errs && spec->ing_rate > 0 && (double)spec->ing_batch / spec->ing_rate < 1e-6)
        sim_cfg_error(d, sim_cfg_get(ing, "batch"),
                      "'vectordb.ingest.batch' (%lld) at rate %g/s sends more than a million requests a second: "
                      "raise the batch",
                      (long long)spec->ing_batch, spec->ing_rate);
}

int vdb_spec_parse(sim_diag_t *d, sim_cfg_node_t *map, vdb_spec_t *spec)
{
    int errs = d->errors;
    memset(spec, 0, sizeof *spec);
    spec->rs = (rset_spec_t){.replicas = 1, .servers = 8, .queue_limit = INT64_MAX, .lb = LB_ROUND_ROBIN,
                             .startup = 10 * SIM_SEC, .cold_factor = 3, .cold_period = 60 * SIM_SEC};
    spec->index = VDB_HNSW;
    spec->vectors = 1000000;
    spec->dim = 768;
    spec->M = 16;
    spec->ef_search = 100;   /* Chroma 1.0 (and Qdrant, Weaviate): 100; before 1.0 Chroma used 10 */
    spec->nlist = 4096;
    spec->nprobe = 16;
    spec->pq_m = 64;
    spec->pq_nbits = 8;
    spec->ef_construction = 40;
    spec->cost_base = 500 * SIM_US;
    spec->speed = 1;
    spec->cost = vdb_cost_default;
    spec->cost.batch_query = vdb_batch_cost_default.batch_query;
    spec->cost.blas_dim = vdb_batch_cost_default.blas_dim;
    spec->cost.blas_vector = vdb_batch_cost_default.blas_vector;
    spec->mem_limit = 8LL << 30;
    spec->mem_base = 256LL << 20;
    spec->mem_per_query = 4LL << 20;
    if (map && !sim_cfg_expect_map(d, map, "vectordb")) return SIM_ECONFIG;
    spec->shards = 1;
    sim_cfg_int(d, map, "shards", 0, 1, VDB_SHARDS_MAX, spec->shards, &spec->shards);
    int rc = rset_spec_parse(d, map, "vectordb", "threads", &spec->rs);
    if (rc == SIM_ENOMEM) return rc;
    /* the replica's cores: threads beyond them share them (processor sharing at the station) */
    sim_cfg_int(d, map, "cores", 0, 1, 1000000, spec->rs.servers, &spec->cores);
    if (rc == 0 && spec->rs.stations)
        for (int64_t i = 0; i < spec->rs.slots; i++)
            spec->rs.stations[i].cores = spec->cores < spec->rs.servers ? spec->cores : 0;

    sim_cfg_node_t *idx = sim_cfg_get(map, "index");
    if (idx && sim_cfg_expect_map(d, idx, "index")) {
        int t = (int)spec->index;
        sim_cfg_enum(d, idx, "type", 0, vdb_index_names, t, &t);
        spec->index = (vdb_index_t)t;
        sim_cfg_int(d, idx, "vectors", 0, 1, (int64_t)1 << 40, spec->vectors, &spec->vectors);
        sim_cfg_int(d, idx, "dim", 0, 1, 65536, spec->dim, &spec->dim);
        sim_cfg_int(d, idx, "M", 0, 2, 1024, spec->M, &spec->M);
        sim_cfg_int(d, idx, "ef_search", 0, 1, 1000000, spec->ef_search, &spec->ef_search);
        sim_cfg_int(d, idx, "nlist", 0, 1, (int64_t)1 << 24, spec->nlist, &spec->nlist);
        sim_cfg_int(d, idx, "nprobe", 0, 1, (int64_t)1 << 24, spec->nprobe, &spec->nprobe);
        sim_cfg_int(d, idx, "pq_m", 0, 1, 65536, spec->pq_m, &spec->pq_m);
        sim_cfg_int(d, idx, "pq_nbits", 0, 1, 16, spec->pq_nbits, &spec->pq_nbits);
        sim_cfg_int(d, idx, "ef_construction", 0, 1, 1000000, spec->ef_construction, &spec->ef_construction);
        if (d->errors == errs && spec->index >= VDB_IVF_FLAT && spec->nprobe > spec->nlist)
            sim_cfg_error(d, sim_cfg_get(idx, "nprobe"), "'vectordb.index.nprobe' (%lld) cannot exceed 'nlist' (%lld)",
                          (long long)spec->nprobe, (long long)spec->nlist);
        if (d->errors == errs && spec->index == VDB_IVF_PQ && spec->dim % spec->pq_m != 0)
            sim_cfg_error(d, sim_cfg_get(idx, "pq_m"),
                          "'vectordb.index.pq_m' (%lld) must divide 'dim' (%lld): FAISS's product quantizer splits "
                          "each vector into pq_m equal sub-vectors",
                          (long long)spec->pq_m, (long long)spec->dim);
    }
    sim_cfg_node_t *cost = sim_cfg_get(map, "cost");
    if (cost && sim_cfg_expect_map(d, cost, "cost")) {
        sim_cfg_duration(d, cost, "base", 0, spec->cost_base, &spec->cost_base);
        sim_cfg_node_t *old = sim_cfg_get(cost, "ops_per_second");
        if (old)
            sim_cfg_error(d, old,
                          "'vectordb.cost.ops_per_second' is gone: the search cost now comes from the index type "
                          "and CPU coefficients measured with FAISS ('vectordb.cost.scan_dim_ns', 'graph_dim_ns', ...; "
                          "bench/vectordb/calibrate prints them for a machine); to scale them use "
                          "'vectordb.cost.speed' (2 = a CPU twice as fast)");
        sim_cfg_double(d, cost, "speed", SIM_CFG_POSITIVE, 1e-6, 1e12, spec->speed, &spec->speed);
        for (size_t i = 0; i < sizeof cost_keys / sizeof cost_keys[0]; i++) {
            double *c = (double *)((char *)&spec->cost + cost_keys[i].off);
            double ns = *c * 1e9;
            sim_cfg_double(d, cost, cost_keys[i].key, 0, 0, 1e12, ns, &ns);
            *c = ns * 1e-9;
        }
    }
    sim_cfg_node_t *jit = sim_cfg_get(map, "jitter");
    if (jit) sim_dist_parse(d, jit, SIM_DIST_NUMBER, &spec->jitter);
    else sim_dist_lognormal(&spec->jitter, 1.0, 0.3);
    sim_cfg_node_t *mem = sim_cfg_get(map, "memory");
    if (mem && sim_cfg_expect_map(d, mem, "memory")) {
        sim_cfg_size(d, mem, "limit", SIM_CFG_POSITIVE | SIM_CFG_UNBOUNDED, spec->mem_limit, &spec->mem_limit);
        sim_cfg_size(d, mem, "base", 0, spec->mem_base, &spec->mem_base);
        sim_cfg_size(d, mem, "per_query", 0, spec->mem_per_query, &spec->mem_per_query);
    }
    sim_cfg_node_t *rec = sim_cfg_get(map, "recall");
    if (rec && sim_cfg_expect_seq(d, rec, "recall")) {
        size_t n = rec->n;
        if (n == 0 || n > VDB_RECALL_MAX)
            sim_cfg_error(d, rec, "'vectordb.recall' must have 1 to %d points [knob, recall], got %zu",
                          VDB_RECALL_MAX, n);
        for (size_t i = 0; i < n && n <= VDB_RECALL_MAX; i++) {
            sim_cfg_node_t *pt = rec->vals[i];
            int64_t x;
            double y;
            if (!sim_cfg_expect_seq(d, pt, "recall point") || pt->n != 2) {
                if (pt->kind == SIM_CFG_SEQ)
                    sim_cfg_error(d, pt, "'vectordb.recall' point: expected [knob, recall] (two numbers), got %zu items",
                                  pt->n);
                continue;
            }
            if (sim_cfg_int_node(d, pt->vals[0], 0, 1, (int64_t)1 << 24, &x) ||
                sim_cfg_double_node(d, pt->vals[1], 0, 0, 1, &y))
                continue;
            if (spec->nrecall > 0 && (double)x <= spec->recall_x[spec->nrecall - 1]) {
                sim_cfg_error(d, pt->vals[0], "'vectordb.recall': knobs must increase (%lld after %g)", (long long)x,
                              spec->recall_x[spec->nrecall - 1]);
                continue;
            }
            spec->recall_x[spec->nrecall] = (double)x;
            spec->recall_y[spec->nrecall++] = y;
        }
        if (d->errors == errs && spec->index == VDB_FLAT)
            sim_cfg_error(d, rec, "'vectordb.recall' needs a search knob: a flat index is exact (recall 1); "
                                  "use hnsw (ef_search) or ivf_flat/ivf_pq (nprobe)");
    }
    sim_cfg_node_t *dg = sim_cfg_get(map, "degrade");
    if (dg && sim_cfg_expect_map(d, dg, "degrade")) {
        spec->degrade = true;
        sim_cfg_int(d, dg, "queue_above", SIM_CFG_REQUIRED, 0, INT64_MAX - 1, 0, &spec->dg_queue_above);
        sim_cfg_duration(d, dg, "interval", SIM_CFG_POSITIVE, SIM_SEC, &spec->dg_interval);
        sim_cfg_int(d, dg, "step", 0, 1, (int64_t)1 << 24, 1, &spec->dg_step);
        sim_cfg_int(d, dg, "floor", SIM_CFG_REQUIRED, 1, (int64_t)1 << 24, 1, &spec->dg_floor);
        if (d->errors == errs && spec->index == VDB_FLAT)
            sim_cfg_error(d, dg, "'vectordb.degrade' lowers ef_search or nprobe: a flat index has neither "
                                 "(use hnsw or ivf_flat/ivf_pq)");
        else if (d->errors == errs && spec->dg_floor > vdb_knob(spec))
            sim_cfg_error(d, sim_cfg_get(dg, "floor"), "'vectordb.degrade.floor' (%lld) cannot exceed the index's %s (%lld)",
                          (long long)spec->dg_floor, spec->index == VDB_HNSW ? "ef_search" : "nprobe",
                          (long long)vdb_knob(spec));
    }
    if (d->errors == errs && spec->shards > spec->vectors)
        sim_cfg_error(d, sim_cfg_get(map, "shards"), "'vectordb.shards' (%lld) cannot exceed the index's vectors (%lld)",
                      (long long)spec->shards, (long long)spec->vectors);
    if (d->errors == errs && fabs(sim_dist_mean(&spec->jitter) - 1.0) > 1e-9)
        sim_cfg_error(d, jit, "'vectordb.jitter' multiplies the service time and must have mean 1, not %g",
                      sim_dist_mean(&spec->jitter));
    /* batched search: the replicas' stations batch (station.h), on their cores */
    sim_cfg_node_t *bt = sim_cfg_get(map, "batch");
    if (bt && sim_cfg_expect_map(d, bt, "batch")) {
        spec->batch = true;
        sim_cfg_int(d, bt, "max_batch_size", 0, 1, 65536, 32, &spec->batch_max);
        sim_cfg_duration(d, bt, "max_queue_delay", 0, 2 * SIM_MS, &spec->batch_wait);
        if (d->errors == errs && spec->rs.stations)
            for (int64_t i = 0; i < spec->rs.slots; i++) {
                stn_spec_t *st = &spec->rs.stations[i];
                st->batch = true;
                st->batch_max = spec->batch_max;
                st->batch_wait = spec->batch_wait;
                st->cores = spec->cores;   /* batches of several cores share them */
            }
    }
    /* start-up: the process (`startup`), then the replica's index read from disk */
    sim_cfg_bandwidth(d, map, "disk_throughput", SIM_CFG_POSITIVE, 0, &spec->disk_throughput);
    if (d->errors == errs && spec->mem_limit != INT64_MAX &&
        spec->mem_base + vdb_index_bytes(spec) + spec->mem_per_query > spec->mem_limit) {
        /* with the read modelled this is a crash loop to see (killed while reading the
         * index, again at every restart); without it, nothing but the first query's kill */
        if (spec->disk_throughput > 0)
            sim_cfg_warn(d, sim_cfg_get(mem, "limit"),
                         "'vectordb.memory.limit' (%lld bytes) cannot hold memory.base + the index (%lld bytes) "
                         "plus one query: every replica is OOM-killed at its first query, then while it reads its "
                         "index at every restart (CrashLoopBackOff)",
                         (long long)spec->mem_limit, (long long)(spec->mem_base + vdb_index_bytes(spec)));
        else
            sim_cfg_error(d, sim_cfg_get(mem, "limit"),
                          "'vectordb.memory.limit' (%lld bytes) cannot hold the index (%lld bytes) plus one query: "
                          "every replica would be OOM-killed at its first query",
                          (long long)spec->mem_limit, (long long)(spec->mem_base + vdb_index_bytes(spec)));
    }
    ingest_parse(d, sim_cfg_get(map, "ingest"), spec);
    if (d->errors != errs) return SIM_ECONFIG;
    /* inserts and builds share the cores with the searches, whatever cores is next to threads */
    if (spec->ingest && spec->rs.stations)
        for (int64_t i = 0; i < spec->rs.slots; i++) {
            spec->rs.stations[i].cores = spec->cores;
            spec->rs.stations[i].background = true;
        }
    spec->startup_process = spec->rs.startup;
    spec->rs.startup = spec->startup_process + vdb_index_load(spec);
    return spec->shards > 1 ? shard_specs(spec) : 0;
}

void vdb_spec_fini(vdb_spec_t *spec)
{
    rset_spec_fini(&spec->rs);
    if (spec->shard_rs)
        for (int64_t s = 1; s < spec->shards; s++) rset_spec_fini(&spec->shard_rs[s - 1]);
    free(spec->shard_rs);
    free(spec->shard_name);
    spec->shard_rs = NULL;
    spec->shard_name = NULL;
    sim_dist_fini(&spec->jitter);
}

int64_t vdb_knob(const vdb_spec_t *spec)
{
    return spec->index == VDB_HNSW ? spec->ef_search : spec->index == VDB_FLAT ? 0 : spec->nprobe;
}

double vdb_recall(const vdb_spec_t *spec, int64_t knob)
{
    int n = spec->nrecall;
    const double *x = spec->recall_x, *y = spec->recall_y, k = (double)knob;
    if (n == 0) return 1;
    if (k <= x[0]) return y[0];
    for (int i = 1; i < n; i++)   /* <= VDB_RECALL_MAX points, and only when the knob changes */
        if (k <= x[i]) return y[i - 1] + (y[i] - y[i - 1]) * (k - x[i - 1]) / (x[i] - x[i - 1]);
    return y[n - 1];
}

static double search_work(const vdb_spec_t *spec, int64_t top_k, int64_t knob, int64_t nvec);
static double search_time(const vdb_spec_t *spec, int64_t top_k, int64_t knob, int64_t nvec);

double vdb_search_work(const vdb_spec_t *spec, int64_t top_k)
{
    return search_work(spec, top_k, vdb_knob(spec), vdb_shard_vectors(spec));
}
double vdb_search_time(const vdb_spec_t *spec, int64_t top_k)
{
    return search_time(spec, top_k, vdb_knob(spec), vdb_shard_vectors(spec));
}
double vdb_search_time_n(const vdb_spec_t *spec, int64_t top_k, int64_t knob, int64_t n)
{
    return search_time(spec, top_k, knob, n);
}

double vdb_query_time_at(const vdb_spec_t *spec, int64_t top_k, int64_t knob)
{
    return sim_time_to_s(spec->cost_base) + search_time(spec, top_k, knob, vdb_shard_vectors(spec)) / spec->speed;
}

int64_t vdb_shard_vectors(const vdb_spec_t *spec)
{
    int64_t S = spec->shards > 1 ? spec->shards : 1;
    return (spec->vectors + S - 1) / S;
}

static double search_work(const vdb_spec_t *spec, int64_t top_k, int64_t knob, int64_t nvec)
{
    const vdb_cost_t *c = &spec->cost;
    double n = (double)nvec;
    switch (spec->index) {
    case VDB_FLAT: return n;
    case VDB_HNSW: {
        double ef = (double)(knob > top_k ? knob : top_k);
        double D = c->hnsw_a * pow((double)spec->M, c->hnsw_m) * pow(ef, c->hnsw_ef) * pow(n, c->hnsw_n);
        return D < n ? D : n;   /* a walk cannot compute more distances than there are vectors */
    }
    case VDB_IVF_FLAT:
    case VDB_IVF_PQ: {
        double L = c->imbalance * (double)knob * n / (double)spec->nlist;
        return L < n ? L : n;
    }
    }
    return n;
}

static double search_time(const vdb_spec_t *spec, int64_t top_k, int64_t knob, int64_t nvec)
{
    const vdb_cost_t *c = &spec->cost;
    double d = (double)spec->dim, w = search_work(spec, top_k, knob, nvec);
    double coarse = (double)spec->nlist * d * c->scan_dim;   /* IVF: the query against every centroid */
    switch (spec->index) {
    case VDB_FLAT: return c->call + w * (d * c->scan_dim + c->scan_vector);
    case VDB_HNSW: return c->call + w * (d * c->graph_dim + c->graph_distance);
    case VDB_IVF_FLAT: return c->call + coarse + w * (d * c->scan_dim + c->scan_vector);
    case VDB_IVF_PQ: {
        double ksub = ldexp(1.0, (int)spec->pq_nbits), m = (double)spec->pq_m;
        return c->call + coarse + ksub * d * c->scan_dim + (double)knob * m * ksub * c->pq_table +
               w * (m * c->pq_code + c->scan_vector);
    }
    }
    return c->call;
}

double vdb_query_time(const vdb_spec_t *spec, int64_t top_k) { return vdb_query_time_at(spec, top_k, vdb_knob(spec)); }

int64_t vdb_index_bytes(const vdb_spec_t *spec) { return vdb_index_bytes_n(spec, vdb_shard_vectors(spec)); }

int64_t vdb_index_bytes_n(const vdb_spec_t *spec, int64_t nvec)
{
    double n = (double)nvec, d = (double)spec->dim, M = (double)spec->M;
    double b = 0;
    switch (spec->index) {
    case VDB_FLAT: b = 4 * n * d; break;
    case VDB_HNSW: b = 4 * n * d + 4 * n * (2 * M + M / (M - 1)) + 12 * n; break;
    case VDB_IVF_FLAT: b = 4 * (double)spec->nlist * d + n * (4 * d + 8); break;
    case VDB_IVF_PQ: {
        double ksub = ldexp(1.0, (int)spec->pq_nbits), m = (double)spec->pq_m;
        b = 4 * (double)spec->nlist * d + 4 * d * ksub + n * (m + 8) + 4 * (double)spec->nlist * m * ksub;
        break;
    }
    }
    return b < 0x1p62 ? sim_llround(b) : (int64_t)llround(b);
}

sim_time_t vdb_index_load(const vdb_spec_t *spec)
{
    if (spec->disk_throughput <= 0) return 0;
    return sim_time_from_s((double)vdb_index_bytes(spec) / spec->disk_throughput);
}

/* ---- ingest: costs ------------------------------------------------------------------ */

int64_t vdb_row_bytes(const vdb_spec_t *spec) { return 4 * spec->dim + 16; }

int64_t vdb_seal_rows(const vdb_spec_t *spec)
{
    double rows = floor((double)spec->seg_max_size * spec->seal_proportion / (double)vdb_row_bytes(spec));
    return rows >= 1 ? (int64_t)rows : 1;
}

/* the growing segment's brute-force scan: a flat search's per-vector work, in the same search call */
double vdb_scan_time(const vdb_spec_t *spec, int64_t n)
{
    return (double)n * ((double)spec->dim * spec->cost.scan_dim + spec->cost.scan_vector);
}

/* an insert request: the server's work per request (cost.base) and one pass over each vector */
double vdb_insert_time(const vdb_spec_t *spec, int64_t n)
{
    return sim_time_to_s(spec->cost_base) + (double)n * (double)spec->dim * spec->cost.scan_dim / spec->speed;
}

/* The index build of a sealed segment of n vectors, on one core. HNSW: the
 * i-th insert walks the graph of i vectors with efConstruction candidates,
 * as a search at ef = efConstruction does: D(i) = a M^m efC^e i^b distances
 * (the search's law), at the graph's per-distance cost, no per-call work;
 * summed over the segment, a M^m efC^e n^(b+1) / (b+1) (linking the M
 * neighbours adds little: bench/vectordb/measure_build finds the insert
 * 0.6-1.0 x a search at efConstruction). IVF: each vector against the nlist
 * centroids (+ IVF-PQ: against the 2^nbits centroids of each
 * sub-quantizer, d multiply-adds in all); flat: nothing to build. */
double vdb_build_time(const vdb_spec_t *spec, int64_t n)
{
    const vdb_cost_t *c = &spec->cost;
    double d = (double)spec->dim, nv = (double)n, t = 0;
    switch (spec->index) {
    case VDB_FLAT: t = 0; break;
    case VDB_HNSW: {
        double b = c->hnsw_n;
        double dist = c->hnsw_a * pow((double)spec->M, c->hnsw_m) * pow((double)spec->ef_construction, c->hnsw_ef) *
                      pow(nv, b + 1) / (b + 1);
        t = dist * (d * c->graph_dim + c->graph_distance);
        break;
    }
    case VDB_IVF_FLAT: t = nv * (double)spec->nlist * d * c->scan_dim; break;
    case VDB_IVF_PQ: t = nv * ((double)spec->nlist + ldexp(1.0, (int)spec->pq_nbits)) * d * c->scan_dim; break;
    }
    return t / spec->speed;
}

int64_t vdb_parallelism(const vdb_spec_t *spec) { return spec->cores < spec->rs.servers ? spec->cores : spec->rs.servers; }

/* ---- batched search ------------------------------------------------------------------
 * One FAISS search call of n queries (FAISS 1.7.3): the call's fixed work
 * once and batch_query for each further query; HNSW and IVF do each
 * query's own work (OpenMP parallel over the queries); Flat and IVF's
 * coarse quantizer (an IndexFlatL2 over the centroids) compute their
 * distances with BLAS sgemm from VDB_BLAS_THRESHOLD queries: n N d
 * multiply-adds at blas_dim and n N pairs at blas_vector, plus the
 * database's norms once per call (N d at scan_dim: 1.7.3's IndexFlatL2
 * does not keep them). */
double vdb_batch_search_time(const vdb_spec_t *spec, int64_t top_k, int64_t knob, int64_t n)
{
    /* the index at its configured size (one shard's): with an ingest, the
     * batch's ratio to lone queries (vdb_batch_ratio) is applied to each
     * query's own work, the grown index and growing segment included */
    int64_t N = vdb_shard_vectors(spec);
    double solo = search_time(spec, top_k, knob, N);
    if (n <= 1) return solo;
    const vdb_cost_t *c = &spec->cost;
    double d = (double)spec->dim, nq = (double)n, w = search_work(spec, top_k, knob, N);
    double fixed = c->call + (nq - 1) * c->batch_query;
    bool blas = n >= VDB_BLAS_THRESHOLD;
    switch (spec->index) {
    case VDB_FLAT:
        if (!blas) return fixed + nq * (solo - c->call);
        return fixed + w * d * c->scan_dim + nq * w * (d * c->blas_dim + c->blas_vector);
    case VDB_HNSW: return fixed + nq * (solo - c->call);
    case VDB_IVF_FLAT:
    case VDB_IVF_PQ: {
        double nlist = (double)spec->nlist, coarse = nlist * d * c->scan_dim;
        if (!blas) return fixed + nq * (solo - c->call);
        return fixed + coarse + nq * (solo - c->call - coarse + nlist * (d * c->blas_dim + c->blas_vector));
    }
    }
    return solo;
}

double vdb_batch_ratio(const vdb_spec_t *spec, int64_t top_k, int64_t knob, int64_t n)
{
    if (n <= 1) return 1;
    double base = sim_time_to_s(spec->cost_base), nq = (double)n;
    double lone = nq * (base + search_time(spec, top_k, knob, vdb_shard_vectors(spec)) / spec->speed);
    double batch = nq * base + vdb_batch_search_time(spec, top_k, knob, n) / spec->speed;
    return lone > 0 ? batch / lone : 1;
}

/* OpenMP over the queries, one core each at most; a Flat BLAS batch runs
 * the (reference, single-threaded) sgemm on one core */
int64_t vdb_batch_width(const vdb_spec_t *spec, int64_t n)
{
    if (spec->index == VDB_FLAT && n >= VDB_BLAS_THRESHOLD) return 1;
    return n < spec->cores ? n : spec->cores;
}

double vdb_replica_capacity(const vdb_spec_t *spec, int64_t top_k)
{
    double t = vdb_query_time(spec, top_k);
    if (!spec->batch) return (double)vdb_parallelism(spec) / t;
    /* saturated: every thread runs full batches; the cores they can use run them */
    int64_t B = spec->batch_max, w = vdb_batch_width(spec, B);
    double busy = (double)spec->rs.servers * (double)w;   /* cores the running batches would use */
    double cores = busy < (double)spec->cores ? busy : (double)spec->cores;
    return cores / (t * vdb_batch_ratio(spec, top_k, vdb_knob(spec), B));
}

int64_t vdb_max_queries(const vdb_spec_t *spec)
{
    if (spec->mem_limit == INT64_MAX || spec->mem_per_query == 0) return INT64_MAX;
    return (spec->mem_limit - spec->mem_base - vdb_index_bytes(spec)) / spec->mem_per_query;
}

rset_t *vdb_shard(vdb_t *v, int s) { return s == 0 ? &v->rs : &v->more[s - 1]; }
static const rset_t *shard_c(const vdb_t *v, int s) { return s == 0 ? &v->rs : &v->more[s - 1]; }

static int shard_of(const vdb_t *v, const rset_t *rs) { return rs == &v->rs ? 0 : (int)(rs - v->more) + 1; }
static vdb_rep_t *rep_of(const vdb_t *v, int s, int r) { return &v->rep[(size_t)s * (size_t)v->spec->rs.slots + (size_t)r]; }
const vdb_rep_t *vdb_replica_state(const vdb_t *v, int s, int r) { return rep_of(v, s, r); }

static bool running(const rset_t *rs, int r) { return rs->rep[r].up || rs->rep[r].starting || rs->rep[r].draining; }

/* Memory of replica r of shard s: a starting one holds memory.base and, with
 * disk_throughput, the part of its index read so far (linear in time);
 * then base + index + growing and unindexed rows + queries x per_query. */
static int64_t rs_memory(const vdb_t *v, int s, const rset_t *rs, int r)
{
    const vdb_spec_t *sp = v->spec;
    if (!running(rs, r)) return 0;   /* killed or not created: no process */
    if (rs->rep[r].starting) {
        const vdb_rep_t *p = rep_of(v, s, r);
        sim_time_t now = sim_now(v->sim);
        if (sp->disk_throughput <= 0 || now <= p->load_at) return sp->mem_base;
        if (now >= p->load_at + p->load_for) return sp->mem_base + p->load_bytes;
        return sp->mem_base + (int64_t)((double)p->load_bytes * (double)(now - p->load_at) / (double)p->load_for);
    }
    int64_t q = rset_in_system(rs, r) * sp->mem_per_query;
    if (!sp->ingest) return sp->mem_base + vdb_index_bytes(sp) + q;
    const vdb_rep_t *p = rep_of(v, s, r);
    return sp->mem_base + vdb_index_bytes_n(sp, p->indexed) + (v->growing[s] + p->sealed) * vdb_row_bytes(sp) + q;
}

int64_t vdb_memory(const vdb_t *v, int r) { return rs_memory(v, 0, &v->rs, r); }
int64_t vdb_shard_memory(const vdb_t *v, int s, int r) { return rs_memory(v, s, shard_c(v, s), r); }

/* A served query's injected error and chunking mismatch (one draw each per query). */
static call_status_t answer(vdb_t *v, call_t *c, call_status_t st)
{
    if (st == CALL_OK) {
        if (v->error_ratio > 0 && sim_rng_uniform(v->rng_errors) < v->error_ratio) return CALL_ERROR;
        if (v->irrelevant_ratio > 0 && sim_rng_uniform(v->rng_relevance) < v->irrelevant_ratio)
            c->flags |= CALL_F_IRRELEVANT;
    }
    return st;
}

static call_status_t on_done(void *owner, rset_t *rs, call_t *c, call_status_t st)
{
    (void)rs;
    return answer(owner, c, st);
}

/* shards > 1: a shard's call; the query's answer is drawn once it is gathered */
static call_status_t on_done_shard(void *owner, rset_t *rs, call_t *c, call_status_t st)
{
    (void)owner;
    (void)rs;
    (void)c;
    return st;
}

/* OOM kill of replica r of `rs` (shard s) when its memory passed the limit. */
static void oom_check(vdb_t *v, rset_t *rs, int r)
{
    int64_t mem = rs_memory(v, shard_of(v, rs), rs, r);
    if (mem <= v->spec->mem_limit) return;
    char detail[160];
    snprintf(detail, sizeof detail, "memory %.3g GiB > limit %.3g GiB with %lld queries on the replica",
             (double)mem / (1 << 30), (double)v->spec->mem_limit / (1 << 30), (long long)rset_in_system(rs, r));
    v->oom_kills++;
    v->oom_kills_total++;
    rset_crash(rs, r, "oom_kill", (double)mem, detail);
}

/* ---- start-up: the index read from disk ----------------------------------------------
 * A (re)starting replica runs its process (`startup`), then reads its index
 * at disk_throughput, its memory growing from base to base + index as
 * faiss.read_index allocates what it reads. If base + index passes the
 * limit, the kernel kills it at the moment the read crosses it. */

static void load_oom_event(sim_t *sim, void *obj, uint64_t arg)
{
    (void)sim;
    vdb_t *v = obj;
    int n = (int)v->spec->rs.slots, s = (int)(arg / (uint64_t)n), r = (int)(arg % (uint64_t)n);
    rset_t *rs = vdb_shard(v, s);
    vdb_rep_t *p = rep_of(v, s, r);
    p->load_oom = (sim_timer_t){0, 0};
    if (!rs->rep[r].starting) return;
    int64_t read = v->spec->mem_limit - v->spec->mem_base;
    char detail[160];
    snprintf(detail, sizeof detail, "memory past the limit %.3g GiB while reading its index (%.3g of %.3g GiB read)",
             (double)v->spec->mem_limit / (1 << 30), (double)read / (1 << 30), (double)p->load_bytes / (1 << 30));
    v->oom_kills++;
    v->oom_kills_total++;
    rset_crash(rs, r, "oom_kill", (double)v->spec->mem_limit, detail);
}

static void ingest_restart(vdb_t *v, int s, rset_t *rs, int r);

/* rset's restart hook: the replica's start-up is its process and its index's read. */
static sim_time_t on_restart(void *owner, rset_t *rs, int r)
{
    vdb_t *v = owner;
    const vdb_spec_t *sp = v->spec;
    int s = shard_of(v, rs);
    vdb_rep_t *p = rep_of(v, s, r);
    sim_time_t now = sim_now(v->sim);
    sim_cancel(v->sim, &p->load_oom);
    if (sp->ingest) ingest_restart(v, s, rs, r);
    p->load_bytes = sp->ingest ? vdb_index_bytes_n(sp, p->indexed) : vdb_index_bytes(sp);
    p->load_for = sp->ingest ? (sp->disk_throughput > 0 ? sim_time_from_s((double)p->load_bytes / sp->disk_throughput) : 0)
                             : vdb_index_load(sp);
    p->load_at = now + sp->startup_process;
    if (sp->disk_throughput > 0 && sp->mem_limit != INT64_MAX && sp->mem_base + p->load_bytes > sp->mem_limit) {
        /* base + bytes (t - load_at) / load_for passes the limit just after this */
        double f = (double)(sp->mem_limit - sp->mem_base) / (double)p->load_bytes;
        sim_time_t at = p->load_at + (f > 0 ? (sim_time_t)floor(f * (double)p->load_for) + 1 : 0);
        p->load_oom = sim_schedule_at(v->sim, at, load_oom_event, v, (uint64_t)s * (uint64_t)sp->rs.slots + (uint64_t)r);
    }
    return sp->ingest ? sp->startup_process + p->load_for : sp->rs.startup;
}

/* ---- ingest ---------------------------------------------------------------------------
 * The collection-wide stream: every batch/rate seconds a batch, split over
 * the shards (the remainder rotating), goes into each shard's growing
 * segment (v->growing[s], the same on every replica: each consumes the
 * shard's stream). Each live replica pays the insert's CPU and, at each
 * seal, the segment's build, as background work sharing its cores with
 * the searches (stn_background), one insert and one build at a time (the
 * rest wait their turn). O(replicas) per batch, O(1) per query. */

/* `seconds` of CPU on `threads` threads of replica r, at its capacity factor (CPU throttling) now */
static void bg_start(rset_t *rs, int r, stn_job_t *job, double seconds, int64_t threads)
{
    stn_background(&rs->st[r], job, sim_time_from_s(seconds / (rs->speed > 0 ? rs->speed : 1e-9)), threads);
}

static void build_next(vdb_t *v, rset_t *rs, int r, vdb_rep_t *p)
{
    if (p->builds > 0 && !p->build_job.st)
        bg_start(rs, r, &p->build_job, vdb_build_time(v->spec, vdb_seal_rows(v->spec)), v->spec->build_threads);
}

/* a background job of replica r ended: an insert (the next waiting one starts) or a build */
static void bg_done(void *owner, station_t *st, stn_job_t *job)
{
    rset_t *rs = owner;
    vdb_t *v = rs->owner;
    int r = (int)(st - rs->st), s = shard_of(v, rs);
    vdb_rep_t *p = rep_of(v, s, r);
    if (job == &p->insert_job) {
        if (p->insert_due > 0) {
            double due = p->insert_due;
            p->insert_due = 0;
            bg_start(rs, r, &p->insert_job, due, 1);
        }
        return;
    }
    int64_t seg = vdb_seal_rows(v->spec);
    p->indexed += seg;
    p->sealed -= seg;
    p->builds--;
    v->builds_done++;
    build_next(v, rs, r, p);
    oom_check(v, rs, r);   /* the index is bigger than the raw rows it replaces */
}

/* A replica (re)starting loads the index as the collection has it (every
 * segment sealed so far, built: persisted as Milvus persists its segment
 * indexes) and replays the growing segment; its work in flight is gone. */
static void ingest_restart(vdb_t *v, int s, rset_t *rs, int r)
{
    vdb_rep_t *p = rep_of(v, s, r);
    stn_background_cancel(&rs->st[r], &p->insert_job);
    stn_background_cancel(&rs->st[r], &p->build_job);
    p->insert_job.st = p->build_job.st = NULL;
    p->indexed = vdb_shard_vectors(v->spec) + v->sealed_total[s];
    p->sealed = p->builds = 0;
    p->insert_due = 0;
}

static void ingest_shard(vdb_t *v, int s, int64_t n)
{
    const vdb_spec_t *sp = v->spec;
    rset_t *rs = vdb_shard(v, s);
    int slots = (int)sp->rs.slots;
    int64_t seg = vdb_seal_rows(sp);
    double ins = vdb_insert_time(sp, n);
    v->growing[s] += n;
    for (int r = 0; r < slots; r++) {
        if (!running(rs, r)) continue;
        vdb_rep_t *p = rep_of(v, s, r);
        if (p->insert_job.st) p->insert_due += ins;
        else bg_start(rs, r, &p->insert_job, ins, 1);
    }
    while (v->growing[s] >= seg) {
        v->growing[s] -= seg;
        v->sealed_total[s] += seg;
        v->seals++;
        char detail[128];
        snprintf(detail, sizeof detail, "growing segment sealed at %lld rows; index build queued on each replica",
                 (long long)seg);
        sim_log_event(v->sim, "vectordb_segment_sealed", rs->spec->name, (double)v->sealed_total[s], detail);
        for (int r = 0; r < slots; r++) {
            if (!running(rs, r)) continue;
            vdb_rep_t *p = rep_of(v, s, r);
            p->sealed += seg;
            p->builds++;
            build_next(v, rs, r, p);
        }
    }
    for (int r = 0; r < slots; r++)
        if (running(rs, r)) oom_check(v, rs, r);
}

static void ingest_batch(sim_t *sim, void *obj, uint64_t i)
{
    vdb_t *v = obj;
    const vdb_spec_t *sp = v->spec;
    int64_t S = sp->shards, B = sp->ing_batch, extra = B % S;
    for (int64_t s = 0; s < S; s++) {
        int64_t n = B / S + ((s - v->ing_rot + S) % S < extra);
        if (n > 0) ingest_shard(v, (int)s, n);
    }
    v->ing_rot = (v->ing_rot + extra) % S;
    /* the i+1-th batch at start + (i+1) batch / rate, from the start: no drift */
    sim_time_t next = sp->ing_start + sim_time_from_s((double)(i + 1) * (double)B / sp->ing_rate);
    if (next < sp->ing_end) sim_schedule_at(sim, next > sim_now(sim) ? next : sim_now(sim), ingest_batch, v, i + 1);
}

/* A query's time on replica r of shard s: its index's search (cached while
 * its N, the knob and k stay) and the brute-force scan of the growing and
 * unindexed sealed rows. */
static double ingest_query_time(vdb_t *v, int s, int r, int64_t k)
{
    const vdb_spec_t *sp = v->spec;
    vdb_rep_t *p = rep_of(v, s, r);
    if (p->search_n != p->indexed || p->search_knob != v->knob || p->search_k != k) {
        p->search_s = vdb_search_time_n(sp, k, v->knob, p->indexed);
        p->search_n = p->indexed;
        p->search_knob = v->knob;
        p->search_k = k;
    }
    return sim_time_to_s(sp->cost_base) + (p->search_s + vdb_scan_time(sp, v->growing[s] + p->sealed)) / sp->speed;
}

/* ---- scatter-gather (shards > 1) ----------------------------------------------------
 * A query q is sent as one call per shard (from the vector DB's own pool):
 * shard call c has c->owner = the vector DB, c->edge = q, c->tag = its
 * shard, c->caller_u = the next pending shard call of q; q->link is the
 * first, q->u0 counts them, q->where is 1 once q was cancelled. q completes
 * when its last shard call is released (the slowest shard), or at once
 * with the first shard that fails (as a Go errgroup's Wait: Milvus's proxy),
 * its other shard calls then detached and cancelled (waiting ones leave
 * their queue; searches in progress run to their end). O(S) per query. */

static void unlink_shard_call(call_t *q, call_t *c)
{
    for (call_t **pp = &q->link; *pp; pp = (call_t **)(void *)&(*pp)->caller_u)
        if (*pp == c) {
            *pp = (call_t *)(uintptr_t)c->caller_u;
            q->u0--;
            break;
        }
    c->edge = NULL;
}

static void query_end(vdb_t *v, call_t *q, call_status_t st)
{
    call_t *c = q->link;
    q->link = NULL;
    q->u0 = 0;
    while (c) {
        call_t *next = (call_t *)(uintptr_t)c->caller_u;
        c->edge = NULL;
        call_abandon(v->sim, c);
        rset_cancel(vdb_shard(v, (int)c->tag), c);
        c = next;
    }
    if (v->scatter_parent == q) v->scatter_ended = true;
    call_complete(v->sim, q, st);
}

static void shard_done(sim_t *sim, call_t *c, call_status_t st)
{
    (void)sim;
    call_t *q = c->edge;
    if (!q || st == CALL_OK) return;
    unlink_shard_call(q, c);
    query_end(c->owner, q, st);
}

static void gathered(vdb_t *v, call_t *q)
{
    query_end(v, q, q->where ? CALL_TIMEOUT : answer(v, q, CALL_OK));
}

static void shard_release(sim_t *sim, call_t *c)
{
    (void)sim;
    call_t *q = c->edge;
    if (!q) return;
    vdb_t *v = c->owner;
    unlink_shard_call(q, c);
    if (q->u0 == 0 && v->scatter_parent != q) gathered(v, q);
}

static void scatter(vdb_t *v, call_t *q, double t)
{
    int S = (int)v->spec->shards;
    sim_time_t now = sim_now(v->sim);
    q->link = NULL;
    q->u0 = 0;
    q->where = 0;
    v->scatter_parent = q;
    v->scatter_ended = false;
    for (int s = 0; s < S && !v->scatter_ended; s++) {
        call_t *c = call_new(&v->pool, v, shard_done, (uint64_t)s, now);
        if (!c) {   /* out of memory: the query fails as a crashed shard would */
            query_end(v, q, CALL_ERROR);
            break;
        }
        c->top_k = q->top_k;
        c->edge = q;
        c->release = shard_release;
        rset_t *rs = vdb_shard(v, s);
        double j = sim_dist_sample(&v->spec->jitter, v->rng_jitter);
        int r = rset_pick(rs, c);   /* refused: shard_done has ended q */
        if (r >= 0) r = rset_submit_to(rs, c, r, (v->spec->ingest ? ingest_query_time(v, s, r, q->top_k) : t) * j);
        if (r < 0) break;
        c->caller_u = (uint64_t)(uintptr_t)q->link;
        q->link = c;
        q->u0++;
        oom_check(v, rs, r);
    }
    v->scatter_parent = NULL;
    if (!v->scatter_ended && q->u0 == 0) gathered(v, q);
}

static void submit(void *comp, call_t *c)
{
    vdb_t *v = comp;
    if (c->top_k != v->cur_k) {   /* O(1): recomputed only when top_k or the knob changes */
        v->cur_k = c->top_k;
        v->cur_time = vdb_query_time_at(v->spec, c->top_k, v->knob);
    }
    double t = v->cur_time, j = 1;
    if (v->spec->shards == 1) {
        j = sim_dist_sample(&v->spec->jitter, v->rng_jitter);
        t *= j;
    }
    /* recall: this query's search misses the relevant chunk (its result
     * comes back, without it); no draw at recall 1, so scenarios without a
     * recall table keep their random streams */
    if (v->cur_recall < 1 && sim_rng_uniform(v->rng_recall) >= v->cur_recall) {
        c->flags |= CALL_F_IRRELEVANT;
        v->misses++;
    }
    if (v->spec->shards > 1) {
        scatter(v, c, t);
        return;
    }
    int r = rset_pick(&v->rs, c);
    if (r >= 0) r = rset_submit_to(&v->rs, c, r, v->spec->ingest ? ingest_query_time(v, 0, r, c->top_k) * j : t);
    if (r < 0) return;
    oom_check(v, &v->rs, r);
}

static struct rset *replicas(void *comp) { return &((vdb_t *)comp)->rs; }

/* A batch of n queries (the replica set's batch hook): the sum of their
 * times (jitter included) x the batch ratio at the knob and top_k of the
 * first (the knob now: a batch is one call), on the cores it can use. */
static sim_time_t batch_time(void *owner, rset_t *rs, call_t *first, int64_t n, sim_time_t sum, int32_t *width)
{
    (void)rs;
    vdb_t *v = owner;
    int64_t w = vdb_batch_width(v->spec, n);
    *width = (int32_t)w;
    if (n <= 1) return sum;
    if (n != v->batch_n || first->top_k != v->batch_k || v->knob != v->batch_knob) {   /* O(1) */
        v->batch_n = n;
        v->batch_k = first->top_k;
        v->batch_knob = v->knob;
        v->batch_r = vdb_batch_ratio(v->spec, first->top_k, v->knob, n) / (double)w;
    }
    return stn_scale(sum, v->batch_r);
}

static void set_speed(void *comp, double f)
{
    vdb_t *v = comp;
    for (int s = 0; s < (int)v->spec->shards; s++) vdb_shard(v, s)->speed = f > 0 ? f : 1e-9;
}

static void set_error_ratio(void *comp, double p) { ((vdb_t *)comp)->error_ratio = p; }

/* replica r of every shard (r < 0: every replica) */
static void kill_replica(void *comp, int r)
{
    vdb_t *v = comp;
    for (int s = 0; s < (int)v->spec->shards; s++) rset_crash(vdb_shard(v, s), r, "replica_killed", 0, "killed by a fault");
}

/* the collection answers only with a replica of every shard: the fewest ready of any shard */
static int replicas_up(const void *comp)
{
    const vdb_t *v = comp;
    int up = rset_replicas_up(&v->rs);
    for (int s = 1; s < (int)v->spec->shards; s++) {
        int u = rset_replicas_up(shard_c(v, s));
        if (u < up) up = u;
    }
    return up;
}

static void cancel(void *comp, call_t *c)
{
    vdb_t *v = comp;
    if (v->spec->shards == 1) {
        rset_cancel(&v->rs, c);
        return;
    }
    /* the shard calls still waiting leave their queues; searches in progress run on */
    c->where = 1;
    call_t *sc = c->link;
    while (sc) {
        call_t *next = (call_t *)(uintptr_t)sc->caller_u;
        if (sc->job.start < 0) {
            unlink_shard_call(c, sc);
            call_abandon(v->sim, sc);
            rset_cancel(vdb_shard(v, (int)sc->tag), sc);
        }
        sc = next;
    }
    if (c->u0 == 0) gathered(v, c);
}

const comp_ops_t vdb_ops = {"vectordb", submit, set_speed, set_error_ratio, kill_replica, replicas_up, cancel, replicas};

void vdb_set_irrelevant_ratio(vdb_t *v, double ratio) { v->irrelevant_ratio = ratio; }

/* Move the knob to k: the query time and recall follow (O(1) per change). */
static void set_knob(vdb_t *v, int64_t k, const char *why)
{
    if (k == v->knob) return;
    v->knob = k;
    v->cur_recall = vdb_recall(v->spec, k);
    v->cur_k = -1;   /* recompute the query time at the next query */
    v->degrade_steps++;
    char detail[160];
    snprintf(detail, sizeof detail, "%s %lld (recall %.4g), %s", v->spec->index == VDB_HNSW ? "ef_search" : "nprobe",
             (long long)k, v->cur_recall, why);
    sim_log_event(v->sim, "vectordb_degrade", "vectordb", (double)k, detail);
}

/* Queries waiting at the most loaded shard, over all its replica slots
 * (autoscaled ones too); with one shard, every query waiting. */
static int64_t waiting(const vdb_t *v)
{
    int64_t most = 0;
    for (int s = 0; s < (int)v->spec->shards; s++) {
        const rset_t *rs = shard_c(v, s);
        int64_t q = 0;
        for (int r = 0; r < (int)v->spec->rs.slots; r++) q += rs->st[r].nqueue;
        if (q > most) most = q;
    }
    return most;
}

/* The quality-for-latency policy, every dg_interval: a standing queue lowers
 * the knob one step (not below the floor); no queue raises it one step back. */
static void degrade_check(sim_t *sim, void *obj, uint64_t arg)
{
    (void)arg;
    vdb_t *v = obj;
    const vdb_spec_t *s = v->spec;
    if (waiting(v) > s->dg_queue_above) {
        int64_t k = v->knob - s->dg_step;
        set_knob(v, k < s->dg_floor ? s->dg_floor : k, "queue standing");
    } else {
        int64_t k = v->knob + s->dg_step, nominal = vdb_knob(s);
        set_knob(v, k > nominal ? nominal : k, "queue cleared");
    }
    sim_schedule_in(sim, s->dg_interval, degrade_check, v, 0);
}

static void sampler(sim_t *sim, void *ctx, sim_time_t dt)
{
    (void)dt;
    vdb_t *v = ctx;
    sim_time_t now = sim_now(sim);
    int64_t maxmem = 0;
    double cpu = 0;
    int n = (int)v->spec->rs.slots, S = (int)v->spec->shards, alive = 0;
    for (int s = 0; s < S; s++)
        for (int r = 0; r < n; r++) alive += shard_c(v, s)->rep[r].active || shard_c(v, s)->rep[r].draining;
    for (int s = 0; s < S; s++) {
        const rset_t *rs = shard_c(v, s);
        for (int r = 0; r < n; r++) {
            const station_t *st = &rs->st[r];
            int64_t m = rs_memory(v, s, rs, r);
            if (m > maxmem) maxmem = m;
            /* read before the station's own sampler restarts its window: this
             * sampler is registered before the stations are created */
            double u = sim_tavg_mean(&st->win_busy, now) / (double)v->spec->rs.servers;
            if (rs->rep[r].active || rs->rep[r].draining) cpu += u / (alive ? alive : 1);
            sim_series_set(sim, v->col_mem[s * n + r], (double)m);
            sim_series_set(sim, v->col_cpu_r[s * n + r], u);
        }
    }
    sim_series_set(sim, v->col_cpu, cpu);
    sim_series_set(sim, v->col_mem_max, (double)maxmem);
    sim_series_set(sim, v->col_q, (double)waiting(v));
    sim_series_set(sim, v->col_oom, (double)v->oom_kills_total);
    sim_series_set(sim, v->col_up, (double)replicas_up(v));
    if (v->col_knob >= 0) sim_series_set(sim, v->col_knob, (double)v->knob);
    if (v->spec->ingest) {
        int64_t grow = 0, bf = 0, builds = 0;
        for (int s = 0; s < S; s++) {
            if (v->growing[s] > grow) grow = v->growing[s];
            for (int r = 0; r < n; r++) {
                const vdb_rep_t *p = rep_of(v, s, r);
                if (!running(shard_c(v, s), r)) continue;
                if (v->growing[s] + p->sealed > bf) bf = v->growing[s] + p->sealed;
                if (p->builds > builds) builds = p->builds;
            }
        }
        sim_series_set(sim, v->col_growing, (double)grow);
        sim_series_set(sim, v->col_unindexed, (double)bf);
        sim_series_set(sim, v->col_builds, (double)builds);
    }
}

vdb_t *vdb_create(sim_t *sim, const vdb_spec_t *spec)
{
    vdb_t *v = calloc(1, sizeof *v);
    if (!v) return NULL;
    v->sim = sim;
    v->spec = spec;
    call_pool_init(&v->pool);
    v->rng_jitter = sim_stream(sim, "vectordb/service");
    v->rng_relevance = sim_stream(sim, "vectordb/relevance");
    v->rng_errors = sim_stream(sim, "vectordb/errors");
    v->knob = vdb_knob(spec);
    v->cur_recall = vdb_recall(spec, v->knob);
    v->cur_k = -1;
    v->col_knob = -1;
    /* created only when used: a scenario without recall or degrade keeps its streams and trace */
    bool use_recall = spec->nrecall > 0 || spec->degrade;
    if (use_recall) v->rng_recall = sim_stream(sim, "vectordb/recall");
    int n = (int)spec->rs.slots, S = (int)spec->shards;
    v->col_mem = calloc((size_t)(n * S), sizeof *v->col_mem);
    v->col_cpu_r = calloc((size_t)(n * S), sizeof *v->col_cpu_r);
    if (use_recall && !v->rng_recall) goto fail;
    if (!v->rng_jitter || !v->rng_relevance || !v->rng_errors || !v->col_mem || !v->col_cpu_r) goto fail;
    if (sim_add_sampler(sim, sampler, v)) goto fail;   /* before the stations' samplers: see sampler() */
    if (S == 1) {
        if (rset_init(&v->rs, sim, &spec->rs, on_done, v)) goto fail;
        if (spec->batch) rset_set_batch_time(&v->rs, batch_time);
    } else {
        if (!(v->more = calloc((size_t)(S - 1), sizeof *v->more))) goto fail;
        if (rset_init(&v->rs, sim, &spec->rs, on_done_shard, v)) goto fail;
        for (int s = 1; s < S; s++)
            if (rset_init(&v->more[s - 1], sim, &spec->shard_rs[s - 1], on_done_shard, v)) goto fail;
        if (spec->batch)
            for (int s = 0; s < S; s++) rset_set_batch_time(vdb_shard(v, s), batch_time);
    }
    /* per replica: the start-up read, the ingest state */
    v->rep = calloc((size_t)(n * S), sizeof *v->rep);
    v->growing = calloc((size_t)(unsigned)S, sizeof *v->growing);
    v->sealed_total = calloc((size_t)(unsigned)S, sizeof *v->sealed_total);
    if (!v->rep || !v->growing || !v->sealed_total) goto fail;
    for (int s = 0; s < S; s++) {
        rset_t *rs = vdb_shard(v, s);
        rset_set_restart_hook(rs, on_restart);
        for (int r = 0; r < n; r++) {
            vdb_rep_t *p = rep_of(v, s, r);
            p->indexed = vdb_shard_vectors(spec);
            p->search_n = -1;
            if (spec->ingest) stn_set_background_hook(&rs->st[r], bg_done);
        }
    }
    v->col_growing = v->col_unindexed = v->col_builds = -1;
    if (spec->ingest) {
        v->col_growing = sim_series_add(sim, "vectordb_growing_segment_vectors", "1",
                                        "vectors in the growing segment (the fullest shard's)");
        v->col_unindexed = sim_series_add(sim, "vectordb_brute_force_vectors", "1",
                                          "vectors a query scans by brute force: growing + sealed not yet indexed "
                                          "(the most of any live replica)");
        v->col_builds = sim_series_add(sim, "vectordb_index_builds_pending", "1",
                                       "sealed segments waiting for or in their index build (the most of any live replica)");
        if (v->col_growing < 0 || v->col_unindexed < 0 || v->col_builds < 0) goto fail;
        if (spec->ing_start < spec->ing_end) sim_schedule_at(sim, spec->ing_start, ingest_batch, v, 0);
    }
    char name[128];
    for (int s = 0; s < S; s++)
        for (int r = 0; r < n; r++) {
            int i = s * n + r;
            if (S == 1) snprintf(name, sizeof name, "vectordb_memory_bytes{replica=%d}", r);
            else snprintf(name, sizeof name, "vectordb_memory_bytes{shard=%d,replica=%d}", s, r);
            if ((v->col_mem[i] = sim_series_add(sim, name, "bytes", "memory of the replica: base + index + queries x per_query (0 while down)")) < 0) goto fail;
            if (S == 1) snprintf(name, sizeof name, "vectordb_cpu_utilization_ratio{replica=%d}", r);
            else snprintf(name, sizeof name, "vectordb_cpu_utilization_ratio{shard=%d,replica=%d}", s, r);
            if ((v->col_cpu_r[i] = sim_series_add(sim, name, "1", "busy threads / threads, time-averaged over the interval")) < 0) goto fail;
        }
    v->col_cpu = sim_series_add(sim, "vectordb_cpu_utilization_ratio", "1", "mean over replicas of busy threads / threads over the interval");
    v->col_mem_max = sim_series_add(sim, "vectordb_memory_bytes_max", "bytes", "largest replica memory at the sample time");
    v->col_q = sim_series_add(sim, "vectordb_queue_length", "1",
                              S == 1 ? "queries waiting, all replicas" : "queries waiting at the most loaded shard, all its replicas");
    v->col_oom = sim_series_add(sim, "oom_kills_total{component=vectordb}", "1", "vector DB OOM kills since the start of the run");
    v->col_up = sim_series_add(sim, "replicas_up{component=vectordb}", "1",
                               S == 1 ? "vector DB replicas ready" : "vector DB replicas ready, fewest of any shard");
    if (v->col_mem_max < 0 || v->col_q < 0 || v->col_oom < 0 || v->col_up < 0 || v->col_cpu < 0) goto fail;
    if (spec->degrade) {
        v->col_knob = sim_series_add(sim, spec->index == VDB_HNSW ? "vectordb_ef_search" : "vectordb_nprobe", "1",
                                     "search knob the degrade policy has set (recall follows vectordb.recall)");
        if (v->col_knob < 0) goto fail;
        sim_schedule_in(sim, spec->dg_interval, degrade_check, v, 0);
    }
    return v;
fail:
    vdb_destroy(v);
    return NULL;
}

void vdb_destroy(vdb_t *v)
{
    if (!v) return;
    if (v->rs.st) rset_fini(&v->rs);
    if (v->more)
        for (int s = 1; s < (int)v->spec->shards; s++)
            if (v->more[s - 1].st) rset_fini(&v->more[s - 1]);
    free(v->more);
    call_pool_fini(&v->pool);
    free(v->col_mem);
    free(v->col_cpu_r);
    free(v->rep);
    free(v->growing);
    free(v->sealed_total);
    free(v);
}
