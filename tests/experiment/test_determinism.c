/* Determinism: the same scenario and seed give bit-identical trace datasets;
 * another seed gives different ones. Runs the real binary. Datasets are
 * compared whole, the time-series matrix series by series (row by row). */
#include <criterion/criterion.h>
#include <hdf5.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "testutil.h"

typedef struct {
    hid_t other;
    int compared, differing, missing;
    char first_diff[512];
} cmp_t;

static int read_all(hid_t ds, void **buf, size_t *len)
{
    hid_t type = H5Dget_type(ds), space = H5Dget_space(ds);
    hssize_t n = H5Sget_simple_extent_npoints(space);
    if (H5Tis_variable_str(type) > 0) {
        /* variable-length strings: compare what they say, not the pointers */
        char **s = calloc(n > 0 ? (size_t)n : 1, sizeof *s);
        int rc = n > 0 ? (int)H5Dread(ds, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, s) : 0;
        size_t tot = 0;
        for (hssize_t i = 0; i < n; i++) tot += (s[i] ? strlen(s[i]) : 0) + 1;
        char *out = calloc(tot ? tot : 1, 1), *p = out;
        for (hssize_t i = 0; i < n; i++) {
            size_t l = s[i] ? strlen(s[i]) : 0;
            if (l) memcpy(p, s[i], l);
            p += l + 1;
        }
        if (n > 0) H5Dvlen_reclaim(type, space, H5P_DEFAULT, s);
        free(s);
        *buf = out;
        *len = tot;
        H5Tclose(type);
        H5Sclose(space);
        return rc;
    }
    size_t sz = H5Tget_size(type);
    *len = (size_t)n * sz;
    *buf = calloc(*len ? *len : 1, 1);
    int rc = *len ? (int)H5Dread(ds, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, *buf) : 0;
    H5Tclose(type);
    H5Sclose(space);
    return rc;
}

static herr_t visit(hid_t obj, const char *name, const H5O_info_t *info, void *op)
{
    cmp_t *c = op;
    if (info->type != H5O_TYPE_DATASET) return 0;
    hid_t a = H5Dopen2(obj, name, H5P_DEFAULT);
    hid_t b = H5Lexists(c->other, name, H5P_DEFAULT) > 0 ? H5Dopen2(c->other, name, H5P_DEFAULT) : -1;
    if (b < 0) {
        c->missing++;
        H5Dclose(a);
        return 0;
    }
    void *ba, *bb;
    size_t la, lb;
    read_all(a, &ba, &la);
    read_all(b, &bb, &lb);
    /* a matrix (the time series: one row per series) counts row by row */
    hid_t sp = H5Dget_space(a);
    hsize_t dims[2] = {1, 0};
    size_t rows = H5Sget_simple_extent_ndims(sp) == 2 && H5Sget_simple_extent_dims(sp, dims, NULL) == 2 && dims[0] > 0
                      ? (size_t)dims[0] : 1;
    H5Sclose(sp);
    if (la != lb) {
        if (!c->differing) snprintf(c->first_diff, sizeof c->first_diff, "%s (size)", name);
        c->compared += (int)rows;
        c->differing += (int)rows;
    } else {
        size_t rl = la / rows;
        for (size_t i = 0; i < rows; i++) {
            c->compared++;
            if (memcmp((char *)ba + i * rl, (char *)bb + i * rl, rl) != 0) {
                if (!c->differing) snprintf(c->first_diff, sizeof c->first_diff, "%s (row %zu)", name, i);
                c->differing++;
            }
        }
    }
    free(ba);
    free(bb);
    H5Dclose(a);
    H5Dclose(b);
    return 0;
}

static cmp_t compare(const char *pa, const char *pb)
{
    cmp_t c = {0};
    hid_t fa = H5Fopen(pa, H5F_ACC_RDONLY, H5P_DEFAULT);
    hid_t fb = H5Fopen(pb, H5F_ACC_RDONLY, H5P_DEFAULT);
    cr_assert(fa >= 0 && fb >= 0, "cannot open %s or %s", pa, pb);
    c.other = fb;
    H5Ovisit(fa, H5_INDEX_NAME, H5_ITER_NATIVE, visit, &c);
    H5Fclose(fa);
    H5Fclose(fb);
    return c;
}

static const char *scenario = "scenarios/demo.yaml";
static const char *extra_set = "duration=5m";

static void run(const char *out, const char *seed)
{
    const char *argv[] = {RAGSIM_BINARY, "run", tu_src(scenario), "-q", "--reps", "2",
                          "--set", "duration=5m", "--set", extra_set, "--seed", seed, "-o", out, NULL};
    /* extra_set may set the duration again: the last --set wins */
    tu_run_t r = tu_run(argv);
    cr_assert_eq(r.status, 0, "ragsim failed: %s", r.err);
    tu_run_free(&r);
}

static void same_seed_same_datasets(void)
{
    char *a = tu_tmp_path("det-a", ".h5"), *b = tu_tmp_path("det-b", ".h5"), *c = tu_tmp_path("det-c", ".h5");
    run(a, "7");
    run(b, "7");
    run(c, "8");
    cmp_t same = compare(a, b);
    cr_assert_gt(same.compared, 20, "only %d datasets compared", same.compared);
    cr_assert_eq(same.missing, 0);
    cr_assert_eq(same.differing, 0, "%d datasets differ, first: %s", same.differing, same.first_diff);
    cmp_t other = compare(a, c);
    cr_assert_eq(other.missing, 0);
    cr_assert_gt(other.differing, 5, "another seed must change the results (%d of %d datasets differ)",
                 other.differing, other.compared);
    unlink(a);
    unlink(b);
    unlink(c);
    free(a);
    free(b);
    free(c);
}

Test(determinism, same_seed_gives_bit_identical_datasets, .timeout = 300)
{
    same_seed_same_datasets();
}

Test(determinism, rag_pipeline_with_faults_is_bit_identical, .timeout = 300)
{
    /* every component, sampled per-request records, and faults of each kind */
    scenario = "scenarios/rag-baseline.yaml";
    extra_set = "faults=[{kind: slowdown, target: guardrail, at: 1m, for: 1m, factor: 3},"
                " {kind: kill, target: vectordb, at: 2m, replica: 0},"
                " {kind: packet_loss, target: llm, at: 2m, for: 1m, loss: 0.1},"
                " {kind: errors, target: embedder, at: 3m, for: 30s, ratio: 0.2},"
                " {kind: metadata_pollution, at: 3m, for: 1m, factor: 3},"
                " {kind: chunking_mismatch, at: 4m, for: 30s, ratio: 0.3},"
                " {kind: cpu_throttle, target: gateway, at: 4m, for: 30s, factor: 0.5}]";
    same_seed_same_datasets();
}

Test(determinism, go_runtime_and_etcd_traps_are_bit_identical, .timeout = 300)
{
    /* reload storm + OOM kills + restarts; GC, leaks and the pile-up */
    scenario = "scenarios/trap-watch-storm.yaml";
    extra_set = "duration=250s";
    same_seed_same_datasets();
    scenario = "scenarios/trap-goroutine-pileup.yaml";
    extra_set = "duration=8m";
    same_seed_same_datasets();
    scenario = "scenarios/trap-watch-leases.yaml";
    extra_set = "duration=7m";
    same_seed_same_datasets();
}

Test(determinism, etcd_partitions_resume_and_relist_are_bit_identical, .timeout = 300)
{
    /* broken watches, re-lists, resumes from the history, ErrCompacted,
     * expired leases; OOM kills and restarts into the next partition */
    scenario = "scenarios/trap-watch-reconnect.yaml";
    extra_set = "duration=400s";
    same_seed_same_datasets();
}

Test(determinism, admission_policies_and_rollouts_are_bit_identical, .timeout = 300)
{
    /* every variant: retries with jitter, budgets, throttling, token
     * bucket, CoDel, adaptive concurrency; canary analysis and rollback */
    scenario = "scenarios/retry-storm.yaml";
    extra_set = "duration=150s";
    same_seed_same_datasets();
    scenario = "scenarios/config-rollout.yaml";
    extra_set = "duration=8m";
    same_seed_same_datasets();
    scenario = "scenarios/dependency-rules.yaml";
    extra_set = "duration=10m";
    same_seed_same_datasets();
}

Test(determinism, incident_replay_is_bit_identical, .timeout = 600)
{
    /* client resubmissions, call shares, cancel-on-timeout, the all-at-once
     * change and its canary, up to two minutes past the trigger */
    scenario = "scenarios/incident-2023q4.yaml";
    extra_set = "duration=27m";
    same_seed_same_datasets();
}
