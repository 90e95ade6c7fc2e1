/* The shipped scenarios do what their comments say, asserted from the HDF5
 * traces the real binary writes. */
#include <criterion/criterion.h>
#include <hdf5.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "models/components/vectordb/vectordb.h"
#include "testutil.h"
#include "h5util.h"

Test(scenarios, vectordb_avalanche_shows_the_articles_collapse, .timeout = 300)
{
    char *path;
    hid_t f = run_scenario("scenarios/trap-vectordb-avalanche.yaml", "naive", &path, NULL);
    const char *run = "/runs/naive/rep000";
    series_t cpu = series(f, run, "vectordb_cpu_utilization_ratio");
    series_t mem = series(f, run, "vectordb_memory_bytes_max");
    series_t p95 = series(f, run, "rag_retrieval_latency_p95_seconds");
    series_t empty = series(f, run, "retrieval_empty_ratio");
    series_t ung = series(f, run, "ungrounded_ratio");
    series_t tok = series(f, run, "llm_input_token_count");
    series_t ok = series(f, run, "success_ratio");

    evrow_t *ev;
    size_t nev = events(f, run, &ev);
    double first_oom = -1;
    int ooms = 0, restarts = 0;
    for (size_t i = 0; i < nev; i++) {
        if (!strcmp(ev[i].kind, "oom_kill") && !strncmp(ev[i].source, "vectordb/", 9)) {
            if (first_oom < 0) first_oom = ev[i].time;
            ooms++;
        }
        restarts += !strcmp(ev[i].kind, "replica_restarted") && !strncmp(ev[i].source, "vectordb/", 9);
    }
    /* queued queries push memory over the limit: OOM kill and restart loop */
    cr_assert_geq(ooms, 4, "OOM kills: %d", ooms);
    cr_assert_geq(restarts, 3, "restarts after CrashLoopBackOff: %d", restarts);
    size_t k = (size_t)first_oom;   /* sample index of the interval holding the first kill */
    double peak = 0;
    for (size_t i = 0; i < k && i < mem.n; i++) peak = mem.v[i] > peak ? mem.v[i] : peak;
    cr_assert_gt(peak, 4.0 * (1 << 30) * 0.97, "memory before the kill reached %.3g bytes (limit 4 GiB)", peak);
    /* CPU stays above 95% for the half minute before the first kill */
    for (size_t i = k - 30; i < k; i++)
        cr_assert_gt(cpu.v[i], 0.95, "vector DB CPU %.3f at t = %zu s", cpu.v[i], i + 1);
    /* the diagnostic signature: retrieval p95 past 2.4 s together with empty ratio > 0.35 */
    int together = 0;
    for (size_t i = 0; i < p95.n; i++) together += p95.v[i] > 2.4 && empty.v[i] > 0.35;
    cr_assert_geq(together, 3, "seconds with p95 > 2.4 s and empty ratio > 0.35: %d", together);
    /* empty retrievals still go to the LLM: ungrounded answers, short prompts */
    double max_ung = 0, min_tok = 1e9;
    for (size_t i = 0; i < ung.n; i++) {
        if (ung.v[i] > max_ung) max_ung = ung.v[i];
        if (tok.v[i] < min_tok) min_tok = tok.v[i];
    }
    cr_assert_gt(max_ung, 0.9);
    cr_assert_lt(min_tok, 100, "prompts without chunks: %.0f tokens", min_tok);
    /* before the overload: healthy and grounded */
    double sok = 0;
    for (size_t i = 30; i < 120; i++) {
        cr_assert_eq(empty.v[i], 0);
        sok += ok.v[i];
    }
    cr_assert_gt(sok / 90, 0.995, "success ratio before the overload: %.4f", sok / 90);
    free(cpu.v); free(mem.v); free(p95.v); free(empty.v); free(ung.v); free(tok.v); free(ok.v); free(ev);
    H5Fclose(f);
    unlink(path);
    free(path);
}

Test(scenarios, rag_baseline_is_healthy_and_matches_its_predictions, .timeout = 300)
{
    char *path;
    hid_t f = run_scenario("scenarios/rag-baseline.yaml", NULL, &path, NULL);
    const char *run = "/runs/default/rep000";
    series_t ok = series(f, run, "success_ratio");
    series_t cpu = series(f, run, "vectordb_cpu_utilization_ratio");
    series_t tok = series(f, run, "llm_input_token_count");
    series_t oom = series(f, run, "oom_kills_total{component=vectordb}");
    series_t p95 = series(f, run, "rag_retrieval_latency_p95_seconds");
    double sok = 0, scpu = 0, stok = 0, maxp95 = 0;
    size_t n = 0;
    for (size_t i = 60; i < ok.n; i++, n++) {   /* after the warm-up */
        sok += ok.v[i];
        scpu += cpu.v[i];
        stok += tok.v[i];
        if (p95.v[i] > maxp95) maxp95 = p95.v[i];
    }
    /* utilisation = lambda x E[S] / (replicas x threads), E[S] = cost.base
     * 0.5 ms + FAISS's HNSW search over 1M x 768 at M 16, ef_search 100:
     * call + D (d graph_dim + graph_distance), D = a M^m ef^e N^n distances
     * (docs/models/vectordb.md#query-time, the measured coefficients):
     * 50 x 5.04 ms / 8 */
    const vdb_cost_t *k = &vdb_cost_default;
    double dist = k->hnsw_a * pow(16, k->hnsw_m) * pow(100, k->hnsw_ef) * pow(1e6, k->hnsw_n);
    double es = 0.0005 + k->call + dist * (768 * k->graph_dim + k->graph_distance);
    cr_assert(es > 0.004 && es < 0.006, "E[S] %.4f ms, `ragsim vectordb estimate` says 5.04 ms", es * 1e3);
    double want_cpu = 50 * es / 8;
    cr_assert_lt(fabs(scpu / n - want_cpu) / want_cpu, 0.05, "vector DB CPU %.4f, predicted %.4f", scpu / n, want_cpu);
    /* prompt = query (mean 40) + 5 chunks x 256 tokens */
    cr_assert_lt(fabs(stok / n - 1320) / 1320, 0.01, "llm_input_token_count %.1f, predicted 1320", stok / n);
    cr_assert_gt(sok / n, 0.999, "success ratio %.5f", sok / n);
    cr_assert_eq(oom.v[oom.n - 1], 0, "no OOM kill");
    cr_assert_lt(maxp95, 0.1, "retrieval p95 stays small: %.3f s", maxp95);
    /* the run's series: t, values (one row per series), the series
     * table and the names' dimension scale, nothing else */
    hid_t g = H5Gopen2(f, "/runs/default/rep000/timeseries", H5P_DEFAULT);
    H5G_info_t gi;
    H5Gget_info(g, &gi);
    cr_assert_eq(gi.nlinks, 4);
    hid_t vs = H5Dopen2(g, "values", H5P_DEFAULT);
    hid_t sp = H5Dget_space(vs);
    hsize_t dims[2];
    cr_assert_eq(H5Sget_simple_extent_ndims(sp), 2);
    H5Sget_simple_extent_dims(sp, dims, NULL);
    cr_assert_gt(dims[0], 50);
    cr_assert_eq(dims[1], ok.n);
    H5Sclose(sp);
    H5Dclose(vs);
    H5Gclose(g);
    char unit[32] = "";
    cr_assert_geq(series_row(f, "/runs/default/rep000", "vectordb_memory_bytes_max", unit, sizeof unit), 0);
    cr_assert_str_eq(unit, "bytes");
    free(ok.v); free(cpu.v); free(tok.v); free(oom.v); free(p95.v);
    H5Fclose(f);
    unlink(path);
    free(path);
}
