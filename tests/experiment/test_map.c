/* `ragsim map`: the boundary of the metastable retry storm against its
 * closed form lambda* = c mu / (1 + r) (docs/map.md#validation) for
 * several (c, mu, r), and how a variant moves it (one retry: c mu / 2;
 * retry throttling: recovers at every load below capacity); the output
 * does not depend on -j or MPI ranks; the Wilson interval against
 * published values; bad command lines exit 2 naming the option. */
#include <criterion/criterion.h>
#include <hdf5.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "experiment/map.h"
#include "testutil.h"

typedef struct {
    int64_t variant, status;
    double fixed, recovers_at, fails_at, boundary;
} brow_t;

/* The rows of /map/boundary. */
static size_t boundary_rows(const char *file, brow_t **out)
{
    hid_t f = H5Fopen(file, H5F_ACC_RDONLY, H5P_DEFAULT);
    cr_assert(f >= 0, "cannot open %s", file);
    hid_t d = H5Dopen2(f, "/map/boundary", H5P_DEFAULT);
    cr_assert(d >= 0, "no /map/boundary in %s", file);
    hid_t s = H5Dget_space(d);
    hsize_t n = 0;
    H5Sget_simple_extent_dims(s, &n, NULL);
    hid_t t = H5Tcreate(H5T_COMPOUND, sizeof(brow_t));
    H5Tinsert(t, "variant", HOFFSET(brow_t, variant), H5T_NATIVE_INT64);
    H5Tinsert(t, "status", HOFFSET(brow_t, status), H5T_NATIVE_INT64);
    H5Tinsert(t, "fixed", HOFFSET(brow_t, fixed), H5T_NATIVE_DOUBLE);
    H5Tinsert(t, "recovers_at", HOFFSET(brow_t, recovers_at), H5T_NATIVE_DOUBLE);
    H5Tinsert(t, "fails_at", HOFFSET(brow_t, fails_at), H5T_NATIVE_DOUBLE);
    H5Tinsert(t, "boundary", HOFFSET(brow_t, boundary), H5T_NATIVE_DOUBLE);
    *out = calloc(n + 1, sizeof **out);
    cr_assert(H5Dread(d, t, H5S_ALL, H5S_ALL, H5P_DEFAULT, *out) >= 0);
    H5Tclose(t);
    H5Sclose(s);
    H5Dclose(d);
    H5Fclose(f);
    return (size_t)n;
}

/* `ragsim map` of the validation scenario along the load axis (--find
 * load) from lambda* / 2 to 3 lambda* / 2 in steps of lambda* / 100, at the
 * strongest trigger; returns the output's path. */
static char *map_load(double lstar, const char *variants, const char *const *sets, size_t nsets)
{
    char *out = tu_tmp_path("map", ".h5");
    char load[256];
    snprintf(load, sizeof load, "workload.rate={from: %.6g/s, to: %.6g/s, step: %.6g/s}", lstar / 2, 1.5 * lstar,
             lstar / 100);
    const char *argv[32] = {RAGSIM_BINARY, "map", tu_src("scenarios/validation/metastable-retry.yaml"), "--load", load,
                            "--trigger", "faults.0.factor=[0.1]", "--find", "load", "-j", "2", "-q", "--force",
                            "-o", out, "--variants", variants};
    size_t k = 17;
    for (size_t i = 0; i < nsets; i++) {
        argv[k++] = "--set";
        argv[k++] = sets[i];
    }
    argv[k] = NULL;
    tu_run_t r = tu_run(argv);
    cr_assert_eq(r.status, 0, "ragsim map: exit %d\n%s%s", r.status, r.out, r.err);
    tu_run_free(&r);
    return out;
}

static void check_boundary(const brow_t *b, double lstar, const char *what)
{
    cr_assert_eq(b->status, 0, "%s: expected a boundary along the load, got status %lld", what, (long long)b->status);
    double rel = fabs(b->boundary - lstar) / lstar;
    cr_log_info("%s: boundary %.1f/s (recovers at %.1f/s, not at %.1f/s), lambda* = %.1f/s: %.1f%% off", what,
                b->boundary, b->recovers_at, b->fails_at, lstar, 100 * rel);
    cr_expect_lt(rel, 0.05, "%s: the boundary %.2f/s is %.1f%% from lambda* = %.2f/s", what, b->boundary, 100 * rel,
                 lstar);
}

Test(map, boundary_matches_closed_form_and_moves_with_the_policy, .timeout = 600)
{
    /* c = 4, mu = 100/s, r = 3: lambda* = 100/s; one retry: 200/s;
     * retry throttling: no boundary below capacity (the axis ends at 150/s) */
    char *out = map_load(100, "naive,one_retry,retry_throttling", NULL, 0);
    brow_t *b;
    size_t n = boundary_rows(out, &b);
    cr_assert_eq(n, 3);
    check_boundary(&b[0], 100, "c=4 mu=100/s r=3");
    free(b);
    unlink(out);
    free(out);
    out = map_load(200, "one_retry", NULL, 0);
    n = boundary_rows(out, &b);
    cr_assert_eq(n, 1);
    check_boundary(&b[0], 200, "c=4 mu=100/s r=1 (variant one_retry)");
    free(b);
    unlink(out);
    free(out);
    /* throttling: every load from 50/s to 300/s recovers */
    out = map_load(200, "retry_throttling", NULL, 0);
    n = boundary_rows(out, &b);
    cr_assert_eq(n, 1);
    cr_expect_eq(b[0].status, 1, "retry throttling: expected recovery at every load up to 300/s, got status %lld "
                                 "(boundary %.1f/s)", (long long)b[0].status, b[0].boundary);
    free(b);
    unlink(out);
    free(out);
}

Test(map, boundary_for_other_workers_rates_and_retries, .timeout = 600)
{
    /* c = 8, mu = 50/s, r = 1: lambda* = 400 / 2 = 200/s */
    const char *s1[] = {"dependencies.backend.concurrency=8", "dependencies.backend.latency.mean=20ms",
                        "calls.backend.retry.max_attempts=2"};
    char *out = map_load(200, "naive", s1, 3);
    brow_t *b;
    cr_assert_eq(boundary_rows(out, &b), 1);
    check_boundary(&b[0], 200, "c=8 mu=50/s r=1");
    free(b);
    unlink(out);
    free(out);
    /* c = 2, mu = 250/s, r = 2: lambda* = 500 / 3 = 166.7/s (a queue of
     * 1000 is 2 s of work, four timeouts) */
    const char *s2[] = {"dependencies.backend.concurrency=2", "dependencies.backend.latency.mean=4ms",
                        "calls.backend.retry.max_attempts=3", "dependencies.backend.queue_limit=1000"};
    out = map_load(500.0 / 3, "naive", s2, 4);
    cr_assert_eq(boundary_rows(out, &b), 1);
    check_boundary(&b[0], 500.0 / 3, "c=2 mu=250/s r=2");
    free(b);
    unlink(out);
    free(out);
}

static void same_output(const char *a, const char *b)
{
    tu_run_t r = tu_run((const char *[]){"/usr/bin/h5diff", a, b, NULL});
    cr_assert_eq(r.status, 0, "h5diff %s %s: exit %d\n%s%s", a, b, r.status, r.out, r.err);
    tu_run_free(&r);
}

Test(map, output_independent_of_jobs_and_ranks, .timeout = 600)
{
    const char *scen = tu_src("scenarios/validation/metastable-retry.yaml");
    char *o1 = tu_tmp_path("map-j1", ".h5"), *o2 = tu_tmp_path("map-j2", ".h5");
    const char *common[] = {"map", scen, "--load", "workload.rate=[60/s, 140/s]", "--trigger",
                            "faults.0.for=[1s, 20s]", "--reps", "2", "--variants", "naive,one_retry", "-q", "--force",
                            "--set", "duration=150s", "-o"};
    size_t nc = sizeof common / sizeof *common;
    const char *argv[40];
    for (int j = 1; j <= 2; j++) {
        size_t k = 0;
        argv[k++] = RAGSIM_BINARY;
        for (size_t i = 0; i < nc; i++) argv[k++] = common[i];
        argv[k++] = j == 1 ? o1 : o2;
        argv[k++] = "-j";
        argv[k++] = j == 1 ? "1" : "2";
        argv[k] = NULL;
        tu_run_t r = tu_run(argv);
        cr_assert_eq(r.status, 0, "-j %d: exit %d\n%s%s", j, r.status, r.out, r.err);
        tu_run_free(&r);
    }
    same_output(o1, o2);
#ifdef RAGSIM_MPI_BINARY
    char *o3 = tu_tmp_path("map-mpi", ".h5");
    size_t k = 0;
    argv[k++] = "/usr/bin/mpirun";
    argv[k++] = "--oversubscribe";
    argv[k++] = "--allow-run-as-root";
    argv[k++] = "-np";
    argv[k++] = "3";
    argv[k++] = RAGSIM_MPI_BINARY;
    for (size_t i = 0; i < nc; i++) argv[k++] = common[i];
    argv[k++] = o3;
    argv[k] = NULL;
    tu_run_t r = tu_run(argv);
    cr_assert_eq(r.status, 0, "mpirun -np 3: exit %d\n%s%s", r.status, r.out, r.err);
    tu_run_free(&r);
    same_output(o1, o3);
    unlink(o3);
    free(o3);
#endif
    unlink(o1);
    unlink(o2);
    free(o1);
    free(o2);
}

Test(map, wilson_interval_matches_published_values)
{
    /* Wilson (1927) at z = 1.96; e.g. Newcombe (1998), Table I: 0/10 -> [0, 0.2775], 5/10 -> [0.2366, 0.7634] */
    double lo, hi;
    map_wilson(0, 10, &lo, &hi);
    cr_expect_float_eq(lo, 0.0, 1e-12);
    cr_expect_float_eq(hi, 0.2775, 1e-4);
    map_wilson(5, 10, &lo, &hi);
    cr_expect_float_eq(lo, 0.2366, 1e-4);
    cr_expect_float_eq(hi, 0.7634, 1e-4);
    map_wilson(10, 10, &lo, &hi);
    cr_expect_float_eq(lo, 0.7225, 1e-4);
    cr_expect_float_eq(hi, 1.0, 1e-12);
}

static void bad(const char *const *argv, const char *expect)
{
    tu_run_t r = tu_run(argv);
    cr_expect_eq(r.status, 2, "exit %d\n%s", r.status, r.err);
    cr_expect(strstr(r.err, expect) != NULL, "expected '%s' in:\n%s", expect, r.err);
    tu_run_free(&r);
}

Test(map, bad_command_lines_exit_2_naming_the_option)
{
    const char *scen = tu_src("scenarios/validation/metastable-retry.yaml");
    char *o = tu_tmp_path("map-bad", ".h5");
    bad((const char *[]){RAGSIM_BINARY, "map", scen, "--load", "workload.rate", "--trigger", "faults.0.factor=[0.1]",
                         "-o", o, NULL},
        "--load:1:1: error: expected PATH=VALUES");
    bad((const char *[]){RAGSIM_BINARY, "map", scen, "--load", "workload.rate={from: 10/s, to: 5/s, step: 1/s}",
                         "--trigger", "faults.0.factor=[0.1]", "-o", o, NULL},
        "--load:1:");
    bad((const char *[]){RAGSIM_BINARY, "map", scen, "--load", "workload.rate=[10/s]", "--trigger",
                         "faults.0.factor=[0.1, 7]", "-o", o, NULL},
        "--trigger:1:");
    bad((const char *[]){RAGSIM_BINARY, "map", scen, "--load", "workload.rate=[10/s]", "--trigger",
                         "faults.0.factor=[0.1]", "--variants", "naive,nope", "-o", o, NULL},
        "no variant 'nope'");
    bad((const char *[]){RAGSIM_BINARY, "map", scen, "--load", "workload.rate=[10/s]", NULL}, "needs --load");
    bad((const char *[]){RAGSIM_BINARY, "map", scen, "--load", "workload.rate=[10/s]", "--trigger",
                         "faults.0.factor=[0.1]", "--find", "both", NULL},
        "--find expects");
    bad((const char *[]){RAGSIM_BINARY, "map", tu_src("scenarios/validation/mmc.yaml"), "--load", "workload.rate=[8/s]",
                         "--trigger", "stations.server.servers=[10]", "-o", o, NULL},
        "no trigger");
    struct stat st;
    cr_expect(stat(o, &st) != 0, "a failed map wrote %s", o);
    free(o);
}
