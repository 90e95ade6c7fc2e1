/* Variants: overlays on the base scenario or on another variant, their
 * errors, and common random numbers across them. */
#include <criterion/criterion.h>
#include <hdf5.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "h5util.h"
#include "models/queueing/network.h"
#include "models/rag/rag.h"
#include "experiment/runner.h"
#include "testutil.h"

static const char base[] =
    "name: v\nduration: 60s\nseed: 3\nreplications: 2\n"
    "workload: {rate: 5/s}\n"
    "stations:\n  db: {servers: 2, service: {dist: exponential, mean: 100ms}, queue_limit: 10}\n"
    "route: [db]\n";

static int load(rs_scenario_t *s, const char *yaml, sim_diag_t *d, char **path)
{
    *path = tu_tmp_path("var", ".yaml");
    cr_assert_eq(tu_write_file(*path, yaml), 0);
    return rs_load(s, *path, NULL, 0, d);
}

static char *with_variants(const char *variants)
{
    static char buf[8192];
    snprintf(buf, sizeof buf, "%svariants:\n%s", base, variants);
    return buf;
}

Test(variants, overlays_merge_mappings_and_replace_the_rest)
{
    rs_scenario_t s;
    sim_diag_t d;
    sim_diag_init(&d);
    char *path;
    int rc = load(&s, with_variants("  small: {}\n"
                                    "  big:\n    stations: {db: {servers: 8}}\n"
                                    "  bigger:\n    extends: big\n    stations: {db: {queue_limit: unbounded}}\n"
                                    "    route: [db, db]\n"),
                  &d, &path);
    cr_assert_eq(rc, 0, "%s", sim_diag_text(&d));
    cr_assert_eq(s.nvariants, 3);
    cr_assert_eq(s.baseline, 0, "the first variant is the baseline");
    const net_spec_t *a = s.variants[0].spec, *b = s.variants[1].spec, *c = s.variants[2].spec;
    cr_assert_eq(a->stations[0].servers, 2);
    cr_assert_eq(a->stations[0].queue_limit, 10);
    cr_assert_eq(b->stations[0].servers, 8, "the overlay changes servers...");
    cr_assert_eq(b->stations[0].queue_limit, 10, "...and keeps the rest of the mapping");
    cr_assert_float_eq(sim_dist_mean(&b->stations[0].service), 0.1, 1e-12);
    cr_assert_eq(c->stations[0].servers, 8, "extends: big's overlay first");
    cr_assert_eq(c->stations[0].queue_limit, INT64_MAX, "then its own");
    cr_assert_eq(c->nroute, 2, "a sequence replaces the base's");
    cr_assert(strstr(s.variants[2].yaml, "servers: 8"), "%s", s.variants[2].yaml);
    rs_unload(&s);
    sim_diag_fini(&d);
    unlink(path);
    free(path);
}

Test(variants, a_variant_has_a_description_of_its_own)
{
    rs_scenario_t s;
    sim_diag_t d;
    sim_diag_init(&d);
    char *path;
    int rc = load(&s, with_variants("  a: {}\n  b: {description: two servers more, stations: {db: {servers: 4}}}\n"),
                  &d, &path);
    cr_assert_eq(rc, 0, "%s", sim_diag_text(&d));
    cr_assert_str_eq(s.variants[1].description, "two servers more");
    cr_assert_str_eq(s.variants[0].description, "");
    rs_unload(&s);
    sim_diag_fini(&d);
    unlink(path);
    free(path);
}

Test(variants, a_marked_baseline_wins)
{
    rs_scenario_t s;
    sim_diag_t d;
    sim_diag_init(&d);
    char *path;
    cr_assert_eq(load(&s, with_variants("  a: {}\n  b: {baseline: true}\n"), &d, &path), 0, "%s", sim_diag_text(&d));
    cr_assert_eq(s.baseline, 1);
    rs_unload(&s);
    sim_diag_fini(&d);
    unlink(path);
    free(path);
}

static void expect_error(const char *variants, const char *msg, int line)
{
    rs_scenario_t s;
    sim_diag_t d;
    sim_diag_init(&d);
    char *path;
    int rc = load(&s, with_variants(variants), &d, &path);
    cr_assert_neq(rc, 0, "must fail: %s", variants);
    char pos[4200];
    snprintf(pos, sizeof pos, "%s:%d:", path, line);
    cr_assert(strstr(sim_diag_text(&d), pos), "want '%s' in: %s", pos, sim_diag_text(&d));
    cr_assert(strstr(sim_diag_text(&d), msg), "want '%s' in: %s", msg, sim_diag_text(&d));
    rs_unload(&s);
    sim_diag_fini(&d);
    unlink(path);
    free(path);
}

Test(variants, errors_point_into_the_overlay)
{
    /* base is 8 lines; "variants:" is line 9, the first variant line 10 */
    expect_error("  a: {}\n  b: {extends: c}\n", "extends 'c', which is not a variant", 11);
    expect_error("  a: {extends: b}\n  b: {extends: a}\n", "cyclic 'extends'", 10);
    expect_error("  a: {}\n  b:\n    stations: {db: {servres: 3}}\n", "did you mean 'servers'", 12);
    expect_error("  a: {}\n  b: {duration: 5m}\n", "variants change the model, not the run", 11);
    expect_error("  a: {baseline: true}\n  b: {baseline: true}\n", "two variants are marked", 11);
    expect_error("  a: {}\n  b:\n    stations: {db: {servers: 0}}\n", "between 1 and", 12);
    /* compare.metrics is checked against what the runs will report, before any run */
    expect_error("  a: {}\n  b: {}\ncompare: {metrics: [success_ratio, throughput_per_s, latency_p95s]}\n",
                 "'latency_p95s' is not a metric of this scenario (did you mean 'latency_p95_s'?)", 12);
    expect_error("  a: {}\n  b: {}\ncompare:\n  metrics:\n  - peak_goroutines\n",
                 "'peak_goroutines' is not a metric of this scenario", 14);
}

Test(variants, replication_i_of_every_variant_sees_the_same_requests, .timeout = 120)
{
    /* Two RAG variants that differ in everything that changes timing (the
     * vector DB's threads, a breaker): their sampled request records have
     * the same arrivals, keys and tokens request by request (common random
     * numbers), while their latencies differ. */
    static const char yaml[] =
        "name: crn\nduration: 120s\nseed: 5\nreplications: 2\n"
        "workload: {rate: 30/s, queries: {distinct: 5000, zipf_s: 1.1, unique: 0}}\n"
        "pipeline: {steps: [embed, retrieve, generate]}\n"
        "vectordb: {threads: 1, cost: {base: 30ms}}\n"
        "llm: {replicas: 8}\n"   /* 8 A100s hold 30 requests/s with room: the vector DB decides */ 
        "trace: {request_sample: 1}\n"
        "variants:\n"
        "  slow: {}\n"
        "  fast:\n    vectordb: {threads: 8}\n"
        "    calls: {retrieve: {circuit_breaker: {preset: hystrix}}}\n";
    char *scen = tu_tmp_path("crn", ".yaml"), *out = tu_tmp_path("crn", ".h5");
    cr_assert_eq(tu_write_file(scen, yaml), 0);
    const char *argv[] = {RAGSIM_BINARY, "compare", scen, "-q", "-o", out, NULL};
    tu_run_t r = tu_run(argv);
    cr_assert_eq(r.status, 0, "%s", r.err);
    tu_run_free(&r);
    hid_t f = H5Fopen(out, H5F_ACC_RDONLY, H5P_DEFAULT);
    cr_assert_geq(f, 0);
    typedef struct {
        int64_t id, key, qtok, otok;
        double arrival, end;
    } row_t;
    for (int rep = 0; rep < 2; rep++) {
        row_t *rows[2];
        size_t n[2];
        for (int v = 0; v < 2; v++) {
            char p[128];
            snprintf(p, sizeof p, "/runs/%s/rep%03d/requests", v ? "fast" : "slow", rep);
            hid_t ds = H5Dopen2(f, p, H5P_DEFAULT);
            cr_assert_geq(ds, 0, "%s", p);
            hid_t sp = H5Dget_space(ds);
            n[v] = (size_t)H5Sget_simple_extent_npoints(sp);
            rows[v] = calloc(n[v], sizeof(row_t));
            hid_t mt = H5Tcreate(H5T_COMPOUND, sizeof(row_t));
            H5Tinsert(mt, "id", offsetof(row_t, id), H5T_NATIVE_INT64);
            H5Tinsert(mt, "query_key", offsetof(row_t, key), H5T_NATIVE_INT64);
            H5Tinsert(mt, "query_tokens", offsetof(row_t, qtok), H5T_NATIVE_INT64);
            H5Tinsert(mt, "output_tokens", offsetof(row_t, otok), H5T_NATIVE_INT64);
            H5Tinsert(mt, "arrival", offsetof(row_t, arrival), H5T_NATIVE_DOUBLE);
            H5Tinsert(mt, "end", offsetof(row_t, end), H5T_NATIVE_DOUBLE);
            cr_assert_geq(H5Dread(ds, mt, H5S_ALL, H5S_ALL, H5P_DEFAULT, rows[v]), 0);
            H5Tclose(mt);
            H5Sclose(sp);
            H5Dclose(ds);
        }
        cr_assert_gt(n[0], 2500);
        /* rows are written when requests are released: match by id */
        int64_t maxid = 0;
        for (size_t i = 0; i < n[0]; i++) maxid = rows[0][i].id > maxid ? rows[0][i].id : maxid;
        row_t *byid = calloc((size_t)maxid + 1, sizeof *byid);
        bool *have = calloc((size_t)maxid + 1, sizeof *have);
        for (size_t i = 0; i < n[0]; i++) {
            byid[rows[0][i].id] = rows[0][i];
            have[rows[0][i].id] = true;
        }
        size_t matched = 0, later = 0;
        for (size_t i = 0; i < n[1]; i++) {
            const row_t *b = &rows[1][i];
            if (b->id > maxid || !have[b->id]) continue;   /* still in flight at the end of one of them */
            const row_t *a = &byid[b->id];
            cr_assert_eq(a->arrival, b->arrival, "request %lld", (long long)b->id);
            cr_assert_eq(a->key, b->key);
            cr_assert_eq(a->qtok, b->qtok);
            cr_assert_eq(a->otok, b->otok);
            later += a->end > b->end;
            matched++;
        }
        cr_assert_gt(matched, 2500);
        cr_assert_gt(later, matched / 2, "the slow variant must be slower (%zu of %zu)", later, matched);
        free(byid);
        free(have);
        free(rows[0]);
        free(rows[1]);
    }
    H5Fclose(f);
    unlink(out);
    unlink(scen);
    free(out);
    free(scen);
}
