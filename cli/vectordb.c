/* `ragsim vectordb estimate SCENARIO.yaml`: the model's one-thread query
 * time, the index's size and a replica's memory for the scenario's vector
 * DB, to put next to a measurement of the real index
 * (models/components/vectordb/vectordb.h, docs/models/vectordb.md). */
#include "cli/vectordb.h"

#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "experiment/runner.h"
#include "models/rag/rag.h"
#include "sim/error.h"

#define CMD "ragsim vectordb estimate"
#define MAX_SETS 256

static void usage(FILE *f)
{
    fprintf(f,
            "usage: ragsim vectordb estimate SCENARIO.yaml [--set KEY=VALUE ...]\n"
            "\n"
            "The vector DB's cost model for the scenario's index, without a simulation:\n"
            "the time of one query on one thread with no queueing (the server's cost.base\n"
            "plus the search, from the index type, its parameters, N and d and the CPU\n"
            "coefficients of vectordb.cost), the distance computations or vectors scanned\n"
            "by one search, the index's size in memory as FAISS lays it out, a replica's\n"
            "memory idle and its limit, and the capacity replicas x threads / query time.\n"
            "With vectordb.recall: recall@k at the index's ef_search or nprobe; with\n"
            "vectordb.degrade: the query time, capacity and recall at the policy's floor.\n"
            "With vectordb.ingest: what the insert stream adds (the growing segment's\n"
            "brute-force scan per query at its seal size, the CPU of inserts and of each\n"
            "sealed segment's index build, the memory growth).\n"
            "Put these next to a measurement of the real index (bench/vectordb/measure).\n"
            "\n"
            "  --set KEY=VALUE   override a scenario value (as ragsim run), e.g.\n"
            "                    --set vectordb.index.ef_search=64\n"
            "\n"
            "Exit status: 0, 2 for bad usage or input.\n");
}

static void size_text(char *buf, size_t n, double bytes)
{
    if (bytes >= (double)(1LL << 30)) snprintf(buf, n, "%.3f GiB", bytes / (double)(1LL << 30));
    else if (bytes >= (double)(1 << 20)) snprintf(buf, n, "%.3f MiB", bytes / (double)(1 << 20));
    else snprintf(buf, n, "%.1f KiB", bytes / 1024);
}

static int estimate(int argc, char **argv, FILE *out, FILE *err)
{
    static const struct option lo[] = {{"set", 1, 0, 's'}, {"help", 0, 0, 'h'}, {0, 0, 0, 0}};
    const char *sets[MAX_SETS];
    size_t nsets = 0;
    int c;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":h", lo, NULL)) != -1) {
        switch (c) {
        case 's':
            if (nsets == MAX_SETS) {
                fprintf(err, CMD ": error: at most %d --set options\n", MAX_SETS);
                return 2;
            }
            sets[nsets++] = optarg;
            break;
        case 'h': usage(out); return 0;
        case ':': fprintf(err, CMD ": error: option '%s' needs a value\n", argv[optind - 1]); return 2;
        default:
            fprintf(err, CMD ": error: unknown option '%s' (see " CMD " --help)\n", argv[optind - 1]);
            return 2;
        }
    }
    if (optind >= argc) {
        fprintf(err, CMD ": error: missing SCENARIO.yaml (see " CMD " --help)\n");
        return 2;
    }
    const char *path = argv[optind++];
    if (optind < argc) {
        fprintf(err, CMD ": error: unexpected argument '%s' (see " CMD " --help)\n", argv[optind]);
        return 2;
    }
    sim_diag_t d;
    sim_diag_init(&d);
    rs_scenario_t s;
    int rc = rs_load(&s, path, sets, nsets, &d);
    fputs(sim_diag_text(&d), err);
    sim_diag_fini(&d);
    if (rc != 0) {
        rs_unload(&s);   /* what a failed load holds */
        return rc == SIM_ENOMEM ? 1 : 2;
    }
    int status = 0;
    if (s.model != &rag_model) {
        fprintf(err, CMD ": error: %s is not a RAG scenario (it has no vector DB)\n", path);
        status = 2;
        goto done;
    }
    const rag_spec_t *r = s.spec;
    const vdb_spec_t *v = &r->vdb;
    if (!r->uses[RAG_VECTORDB]) fprintf(out, "note: the scenario's pipeline does not retrieve; the vector DB is idle\n");
    fprintf(out, "index: %s, %" PRId64 " vectors x %" PRId64 " dimensions", vdb_index_names[v->index], v->vectors, v->dim);
    switch (v->index) {
    case VDB_FLAT: break;
    case VDB_HNSW: fprintf(out, ", M %" PRId64 ", ef_search %" PRId64, v->M, v->ef_search); break;
    case VDB_IVF_FLAT: fprintf(out, ", nlist %" PRId64 ", nprobe %" PRId64, v->nlist, v->nprobe); break;
    case VDB_IVF_PQ:
        fprintf(out, ", nlist %" PRId64 ", nprobe %" PRId64 ", pq_m %" PRId64 " x %" PRId64 " bits", v->nlist,
                v->nprobe, v->pq_m, v->pq_nbits);
        break;
    }
    fprintf(out, "; top_k %" PRId64 "\n", r->top_k);
    if (v->shards > 1)
        fprintf(out, "shards: %" PRId64 " of %" PRId64 " vectors, %" PRId64 " replicas each; a query searches every "
                     "shard and waits for the slowest (the figures below are one shard's)\n",
                v->shards, vdb_shard_vectors(v), v->rs.replicas);
    double search = vdb_search_time(v, r->top_k) / v->speed, base = sim_time_to_s(v->cost_base);
    double q = vdb_query_time(v, r->top_k), work = vdb_search_work(v, r->top_k);
    fprintf(out, "one-thread query time: %.4f ms = search %.4f ms (speed %g) + server %.4f ms (cost.base)\n",
            q * 1e3, search * 1e3, v->speed, base * 1e3);
    fprintf(out, "work per search: %.4g %s\n", work,
            v->index <= VDB_HNSW ? "distance computations" : "vectors scanned in the probed lists");
    char a[64], b[64], l[64];
    int64_t index = vdb_index_bytes(v);
    size_text(a, sizeof a, (double)index);
    fprintf(out, "index size in memory: %s (%" PRId64 " bytes)\n", a, index);
    size_text(a, sizeof a, (double)(v->mem_base + index));
    size_text(b, sizeof b, (double)v->mem_per_query);
    fprintf(out, "replica memory: %s idle (memory.base + index) + %s per query held", a, b);
    if (v->mem_limit == INT64_MAX) {
        fprintf(out, "; no limit\n");
    } else {
        size_text(l, sizeof l, (double)v->mem_limit);
        fprintf(out, "; limit %s: OOM kill past %" PRId64 " queries held\n", l, vdb_max_queries(v));
    }
    if (v->disk_throughput > 0) {
        size_text(a, sizeof a, (double)index);
        size_text(b, sizeof b, v->disk_throughput);
        fprintf(out, "start-up: %.4g s (startup) + index %s / %s/s (disk_throughput) = %.4g s before a (re)started "
                     "replica is ready\n",
                sim_time_to_s(v->startup_process), a, b, sim_time_to_s(v->rs.startup));
    }
    int64_t par = vdb_parallelism(v);
    if (!v->batch) {
        fprintf(out, "capacity: %" PRId64 " replicas%s x %" PRId64 " %s%s / %.4f ms = %.4g queries/s (nominal speed, warm)\n",
                v->rs.replicas, v->shards > 1 ? " per shard" : "", par, par < v->rs.servers ? "core" : "thread",
                par > 1 ? "s" : "", q * 1e3, q > 0 ? (double)(v->rs.replicas * par) / q : INFINITY);
    } else {
        int64_t B = v->batch_max, w = vdb_batch_width(v, B);
        double bs = vdb_batch_search_time(v, r->top_k, vdb_knob(v), B) / v->speed;
        double bt = (double)B * base + bs;
        fprintf(out, "batched search: a full batch of %" PRId64 " queries (max_batch_size) takes %.4f ms of CPU = "
                     "search %.4f ms + server %.4f ms: %.4f ms per query (%.3g of a lone query's), on %" PRId64
                     " core%s (%.4f ms alone)\n",
                B, bt * 1e3, bs * 1e3, (double)B * base * 1e3, bt / (double)B * 1e3, bt / ((double)B * q), w,
                w > 1 ? "s" : "", bt / (double)w * 1e3);
        fprintf(out, "capacity: %" PRId64 " replicas%s x %.4g queries/s (full batches on %" PRId64
                     " thread%s, %" PRId64 " core%s) = %.4g queries/s (nominal speed, warm)\n",
                v->rs.replicas, v->shards > 1 ? " per shard" : "", vdb_replica_capacity(v, r->top_k), v->rs.servers,
                v->rs.servers > 1 ? "s" : "", v->cores, v->cores > 1 ? "s" : "",
                (double)v->rs.replicas * vdb_replica_capacity(v, r->top_k));
    }
    const char *knob = v->index == VDB_HNSW ? "ef_search" : "nprobe";
    if (v->nrecall > 0)
        fprintf(out, "recall@k: %.4g at %s %" PRId64 " (vectordb.recall, linear between its points)\n",
                vdb_recall(v, vdb_knob(v)), knob, vdb_knob(v));
    if (v->degrade) {
        double qf = vdb_query_time_at(v, r->top_k, v->dg_floor);
        fprintf(out, "degrade: at the floor, %s %" PRId64 ": one-thread query time %.4f ms, capacity %.4g queries/s, "
                "recall@k %.4g\n",
                knob, v->dg_floor, qf * 1e3, qf > 0 ? (double)(v->rs.replicas * par) / qf : INFINITY,
                vdb_recall(v, v->dg_floor));
    }
    if (v->ingest) {
        double per_shard = v->ing_rate / (double)v->shards, every = (double)vdb_seal_rows(v) / per_shard;
        int64_t seg = vdb_seal_rows(v), batch = (v->ing_batch + v->shards - 1) / v->shards;
        double scan = vdb_scan_time(v, seg) / v->speed, build = vdb_build_time(v, seg);
        double ins = vdb_insert_time(v, batch) * per_shard / (double)batch;   /* CPU s per s */
        size_text(a, sizeof a, (double)v->seg_max_size);
        fprintf(out, "ingest: %.4g vectors/s (%.4g per shard) in requests of %" PRId64 "; a growing segment is sealed at "
                     "%" PRId64 " rows (max_size %s x seal_proportion %g / %" PRId64 " bytes a row), every %.4g s\n",
                v->ing_rate, per_shard, v->ing_batch, seg, a, v->seal_proportion, vdb_row_bytes(v), every);
        fprintf(out, "ingest: brute-force scan of the growing segment: up to %.4f ms a query at seal size (%.4f ms on "
                     "average over a segment's life): one-thread query time %.4f to %.4f ms\n",
                scan * 1e3, scan * 0.5e3, q * 1e3, (q + scan) * 1e3);
        fprintf(out, "ingest: CPU per replica: inserts %.3g cores; each segment's index build %.4g s of CPU (%.4g s on "
                     "%" PRId64 " build threads alone), %.3g cores on average; of %" PRId64 " cores\n",
                ins, build, build / (double)v->build_threads, v->build_threads, build / every, v->cores);
        int64_t grow = (int64_t)(per_shard * (double)vdb_row_bytes(v));
        int64_t idx1 = vdb_index_bytes_n(v, vdb_shard_vectors(v) + seg) - index;
        size_text(a, sizeof a, (double)grow);
        size_text(b, sizeof b, (double)(seg * vdb_row_bytes(v)));
        size_text(l, sizeof l, (double)idx1);
        fprintf(out, "ingest: replica memory grows %s a second (a full segment %s raw, %s once in the index)\n", a, b, l);
    }
done:
    rs_unload(&s);
    return status;
}

int vectordb_main(int argc, char **argv, FILE *out, FILE *err)
{
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
        FILE *f = argc < 2 ? err : out;
        fprintf(f, "usage: ragsim vectordb estimate SCENARIO.yaml [--set KEY=VALUE ...]\n"
                   "  estimate   the model's query time, index size and replica memory (see estimate --help)\n");
        return argc < 2 ? 2 : 0;
    }
    if (!strcmp(argv[1], "estimate")) return estimate(argc - 1, argv + 1, out, err);
    fprintf(err, "ragsim vectordb: error: unknown subcommand '%s' (subcommands: estimate)\n", argv[1]);
    return 2;
}
