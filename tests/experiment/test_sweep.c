/* `ragsim sweep`: sweep-file errors with FILE:LINE:COL (at the axis or the
 * requirement they are about) and exit 2; the output does not depend on
 * how the runs are distributed (-j 1 vs -j 2, 1/2/4 MPI ranks); a worker
 * that dies fails the sweep naming its run, and --resume finishes it with
 * the same output; a checkpoint of other inputs, or a corrupted one, is
 * refused; seeds per point. */
#include <criterion/criterion.h>
#include <hdf5.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "experiment/sweep.h"
#include "testutil.h"

#define ragsim(...) tu_run((const char *[]){RAGSIM_BINARY, __VA_ARGS__, NULL})

/* A small sweep: 3 loads x 2 vector-DB sizes x 2 replications of a short
 * baseline, 12 runs of a fraction of a second each. */
static char *small_sweep(void)
{
    char *p = tu_tmp_path("sweep", ".yaml");
    char text[1024];
    snprintf(text, sizeof text,
             "scenario: %s\n"
             "set: {duration: 40s, warmup: 10s}\n"
             "axes:\n"
             "  workload.rate: [40/s, 120/s, 200/s]\n"
             "  vectordb.replicas: {from: 1, to: 2, step: 1}\n"
             "replications: 2\n",
             tu_src("scenarios/rag-baseline.yaml"));
    cr_assert_eq(tu_write_file(p, text), 0);
    return p;
}

static bool exists(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0;
}

static void same_output(const char *a, const char *b)
{
    tu_run_t r = tu_run((const char *[]){"/usr/bin/h5diff", a, b, NULL});
    cr_assert_eq(r.status, 0, "h5diff %s %s: exit %d\n%s%s", a, b, r.status, r.out, r.err);
    tu_run_free(&r);
}

static size_t dataset_len(const char *file, const char *path)
{
    hid_t f = H5Fopen(file, H5F_ACC_RDONLY, H5P_DEFAULT);
    cr_assert(f >= 0, "cannot open %s", file);
    hid_t d = H5Dopen2(f, path, H5P_DEFAULT);
    cr_assert(d >= 0, "no %s in %s", path, file);
    hid_t s = H5Dget_space(d);
    hsize_t n = 0;
    H5Sget_simple_extent_dims(s, &n, NULL);
    H5Sclose(s);
    H5Dclose(d);
    H5Fclose(f);
    return (size_t)n;
}

static double *read_f64(const char *file, const char *path, size_t *n)
{
    *n = dataset_len(file, path);
    double *v = calloc(*n ? *n : 1, sizeof *v);
    hid_t f = H5Fopen(file, H5F_ACC_RDONLY, H5P_DEFAULT);
    hid_t d = H5Dopen2(f, path, H5P_DEFAULT);
    cr_assert(H5Dread(d, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, v) >= 0);
    H5Dclose(d);
    H5Fclose(f);
    return v;
}

static int64_t *read_i64(const char *file, const char *path, size_t *n)
{
    *n = dataset_len(file, path);
    int64_t *v = calloc(*n ? *n : 1, sizeof *v);
    hid_t f = H5Fopen(file, H5F_ACC_RDONLY, H5P_DEFAULT);
    hid_t d = H5Dopen2(f, path, H5P_DEFAULT);
    cr_assert(H5Dread(d, H5T_NATIVE_INT64, H5S_ALL, H5S_ALL, H5P_DEFAULT, v) >= 0);
    H5Dclose(d);
    H5Fclose(f);
    return v;
}

static void bad_sweep(const char *body, const char *where, const char *msg)
{
    char *p = tu_tmp_path("badsweep", ".yaml"), *out = tu_tmp_path("badsweep", ".h5");
    char text[2048];
    snprintf(text, sizeof text, "scenario: %s\n%s", tu_src("scenarios/rag-baseline.yaml"), body);
    cr_assert_eq(tu_write_file(p, text), 0);
    tu_run_t r = ragsim("sweep", p, "-o", out, "-q");
    cr_assert_eq(r.status, 2, "exit %d for:\n%s\nstderr: %s", r.status, text, r.err);
    char pos[4200];
    snprintf(pos, sizeof pos, "%s:%s: error: ", p, where);
    cr_assert(strstr(r.err, pos), "want '%s' in stderr:\n%s", pos, r.err);
    cr_assert(strstr(r.err, msg), "want '%s' in stderr:\n%s", msg, r.err);
    cr_assert(!exists(out), "an output was written for a bad sweep");
    tu_run_free(&r);
    free(p);
    free(out);
}

Test(sweep, bad_sweep_files_name_the_place)
{
    bad_sweep("axes:\n  workload.rate: {from: 100/s, to: 50/s, step: 10/s}\n", "3:36", "'to' must not be below");
    bad_sweep("axes:\n  workload.rate: {from: 100/s, to: 200/s, step: 10ms}\n", "3:49", "'step' must be a rate");
    bad_sweep("axes:\n  workload.rate: [10/s]\nreplicatoins: 2\n", "4:1", "unknown top-level key 'replicatoins'");
    bad_sweep("axes:\n  vectordb.replicas: [1, 0]\n", "3:26", "the scenario rejects this value: 'vectordb.replicas': expected an integer");
    bad_sweep("axes:\n  workload.rate: [10/s]\nvariants: [nope]\n", "4:12", "no variant 'nope'");
    bad_sweep("axes:\n  workload.rate: {from: 1/s, to: 2/s}\n", "3:18", "either 'step'");
    bad_sweep("axes: {}\n", "2:7", "'axes' is empty");
}

Test(sweep, usage_errors_exit_2)
{
    tu_run_t r = ragsim("sweep");
    cr_assert_eq(r.status, 2);
    cr_assert(strstr(r.err, "missing the sweep file"), "%s", r.err);
    tu_run_free(&r);
    r = ragsim("sweep", "x.yaml", "--find", "min-load");
    cr_assert_eq(r.status, 2);
    cr_assert(strstr(r.err, "--find knows only 'max-load'"), "%s", r.err);
    tu_run_free(&r);
    r = ragsim("sweep", "--help");
    cr_assert_eq(r.status, 0);
    cr_assert(strstr(r.out, "--resume") && strstr(r.out, "mpirun"), "%s", r.out);
    tu_run_free(&r);
}

Test(sweep, point_seeds)
{
    cr_assert_eq(sw_point_seed(1, 3), sw_point_seed(1, 3));
    cr_assert_neq(sw_point_seed(1, 3), sw_point_seed(1, 4));
    cr_assert_neq(sw_point_seed(1, 3), sw_point_seed(2, 3));
}

/* The reference: -j 1, in-process. */
static char *reference(const char *sw)
{
    char *out = tu_tmp_path("sweep-j1", ".h5");
    tu_run_t r = ragsim("sweep", sw, "-o", out, "-j", "1");
    cr_assert_eq(r.status, 0, "%s", r.err);
    cr_assert(strstr(r.out, "capacity on 'workload.rate'"), "%s", r.out);
    tu_run_free(&r);
    cr_assert_eq(dataset_len(out, "/sweep/runs/point"), 12);
    cr_assert_eq(dataset_len(out, "/sweep/summary/point"), 6);
    /* every run's seed is the point's, whatever ran it */
    size_t n, np;
    int64_t *seed = read_i64(out, "/sweep/runs/seed", &n);
    int64_t *pt = read_i64(out, "/sweep/runs/point", &np);
    cr_assert_eq(n, 12);
    for (size_t i = 0; i < n; i++) cr_assert_eq((uint64_t)seed[i], sw_point_seed(1, (uint64_t)pt[i]));
    free(seed);
    free(pt);
    return out;   /* the caller frees */
}

Test(sweep, output_independent_of_jobs_and_ranks, .timeout = 600)
{
    char *sw = small_sweep(), *ref = reference(sw), *j2 = tu_tmp_path("sweep-j2", ".h5");
    tu_run_t r = ragsim("sweep", sw, "-o", j2, "-j", "2", "-q");
    cr_assert_eq(r.status, 0, "%s", r.err);
    tu_run_free(&r);
    same_output(ref, j2);
    /* the bisection too: its rounds depend only on results */
    char *f1 = tu_tmp_path("sweep-find-j1", ".h5"), *f2 = tu_tmp_path("sweep-find-j2", ".h5");
    r = ragsim("sweep", sw, "-o", f1, "-j", "1", "-q", "--find", "max-load");
    cr_assert_eq(r.status, 0, "%s", r.err);
    tu_run_free(&r);
    r = ragsim("sweep", sw, "-o", f2, "-j", "2", "-q", "--find", "max-load");
    cr_assert_eq(r.status, 0, "%s", r.err);
    tu_run_free(&r);
    same_output(f1, f2);
    unlink(f1);
    unlink(f2);
    free(f1);
    free(f2);

#ifdef RAGSIM_MPI_BINARY
    const char *mpi = RAGSIM_MPI_BINARY;
#else
    const char *mpi = NULL;
#endif
    const char *mpirun = access("/usr/bin/mpirun", X_OK) == 0 ? "/usr/bin/mpirun" : NULL;
    if (!mpirun || !mpi) {
        unlink(ref);
        unlink(j2);
        free(sw);
        free(ref);
        free(j2);
        fprintf(stderr, "SKIPPED: the MPI part of sweep::output_independent_of_jobs_and_ranks (%s)\n",
                !mpirun ? "no /usr/bin/mpirun" : "ragsim-mpi is not built in this configuration");
        cr_skip_test("MPI part skipped: %s", !mpirun ? "no mpirun" : "ragsim-mpi not built");
    }
    static const char *const np[] = {"1", "2", "4"};
    for (size_t i = 0; i < 3; i++) {
        char *o = tu_tmp_path("sweep-mpi", ".h5");
        r = tu_run((const char *[]){mpirun, "--oversubscribe", "--allow-run-as-root", "-np", np[i], mpi, "sweep", sw,
                                    "-o", o, "-q", NULL});
        cr_assert_eq(r.status, 0, "mpirun -np %s: exit %d\n%s%s", np[i], r.status, r.out, r.err);
        tu_run_free(&r);
        same_output(ref, o);
        unlink(o);
        free(o);
    }
    unlink(ref);
    unlink(j2);
    free(sw);
    free(ref);
    free(j2);
}

Test(sweep, dead_worker_fails_naming_its_run_then_resume_finishes, .timeout = 600)
{
    char *sw = small_sweep(), *ref = reference(sw), *out = tu_tmp_path("sweep-crash", ".h5");
    char ck[4200];
    snprintf(ck, sizeof ck, "%s.ckpt", out);
    setenv("RAGSIM_SWEEP_TEST_CRASH", "4:0:1", 1);
    tu_run_t r = ragsim("sweep", sw, "-o", out, "-j", "2", "-q");
    unsetenv("RAGSIM_SWEEP_TEST_CRASH");
    cr_assert_eq(r.status, 1, "exit %d\n%s", r.status, r.err);
    cr_assert(strstr(r.err, "killed by signal 9"), "%s", r.err);
    /* the dead worker's pid, as it was (it used to be printed negated) */
    const char *pid = strstr(r.err, "(pid ");
    cr_assert(pid && pid[5] >= '1' && pid[5] <= '9', "%s", r.err);
    cr_assert(strstr(r.err, "point 4 (workload.rate=200/s, vectordb.replicas=1), variant default, replication 1"),
              "%s", r.err);
    cr_assert(strstr(r.err, "--resume"), "%s", r.err);
    cr_assert(!exists(out), "an incomplete sweep wrote its output");
    cr_assert(exists(ck), "no checkpoint");
    tu_run_free(&r);

    r = ragsim("sweep", sw, "-o", out, "-j", "2", "--resume");
    cr_assert_eq(r.status, 0, "%s", r.err);
    size_t resumed = 0;
    const char *at = strstr(r.out, "resuming: ");
    cr_assert(at, "%s", r.out);
    sscanf(at, "resuming: %zu", &resumed);
    cr_assert(resumed >= 1 && resumed < 12, "resumed %zu runs", resumed);
    tu_run_free(&r);
    cr_assert(!exists(ck), "the checkpoint is left after a complete sweep");
    same_output(ref, out);

    /* an existing output is not replaced without --force, and is left as it was */
    r = ragsim("sweep", sw, "-o", out, "-q");
    cr_assert_eq(r.status, 2, "%s", r.err);
    cr_assert(strstr(r.err, "already exists; use --force"), "%s", r.err);
    tu_run_free(&r);
    same_output(ref, out);

    /* a checkpoint of an earlier format (or another program) is refused */
    cr_assert_eq(tu_write_file(ck, "RGSWCKP1xxxxxxxx"), 0);
    r = ragsim("sweep", sw, "-o", out, "--resume", "--force", "-q");
    cr_assert_eq(r.status, 2, "%s", r.err);
    cr_assert(strstr(r.err, "was written by another version of ragsim"), "%s", r.err);
    tu_run_free(&r);
    unlink(ck);
    unlink(ref);
    unlink(out);
    free(sw);
    free(ref);
    free(out);
}

Test(sweep, find_max_load_brackets_the_grid_answer, .timeout = 600)
{
    char *sw = small_sweep(), *ref = reference(sw), *out = tu_tmp_path("sweep-find", ".h5");
    tu_run_t r = ragsim("sweep", sw, "-o", out, "--find", "max-load", "--set", "find.steps=0");
    /* find.steps is a sweep key, not a scenario path: refused by the scenario */
    cr_assert_eq(r.status, 2, "%s", r.err);
    tu_run_free(&r);
    r = ragsim("sweep", sw, "-o", out, "--find", "max-load");
    cr_assert_eq(r.status, 0, "%s", r.err);
    cr_assert(strstr(r.out, "bisection"), "%s", r.out);
    tu_run_free(&r);
    size_t n, ng;
    double *found = read_f64(out, "/sweep/capacity/max_load", &n);
    double *grid = read_f64(ref, "/sweep/capacity/max_load", &ng);
    cr_assert_eq(n, 2);
    cr_assert_eq(ng, 2);
    for (size_t i = 0; i < n; i++) {
        /* the grid's answer is a load that meets the SLO on the grid: the
         * bisection, finer, finds at least about as much and stays below
         * the next grid load that fails */
        cr_assert(isfinite(found[i]) && found[i] >= 40 && found[i] <= 200, "found %g", found[i]);
        cr_assert(found[i] >= grid[i] * 0.9 && found[i] < 200, "found %g, grid %g", found[i], grid[i]);
    }
    free(found);
    free(grid);
    unlink(ref);
    unlink(out);
    free(sw);
    free(ref);
    free(out);
}

Test(sweep, axes_expand_ranges_lists_and_points)
{
    char *p = tu_tmp_path("axes", ".yaml");
    char text[1024];
    snprintf(text, sizeof text,
             "scenario: %s\n"
             "axes:\n"
             "  vectordb.memory.limit: {from: 4GiB, to: 32GiB, points: 4}\n"
             "  workload.rate: {from: 10/s, to: 30/s, step: 10/s}\n"
             "  pipeline.context_propagation: [true, false]\n"
             "replications: 2\n",
             tu_src("scenarios/rag-baseline.yaml"));
    cr_assert_eq(tu_write_file(p, text), 0);
    sw_def_t def;
    sim_diag_t d;
    sim_diag_init(&d);
    int rc = sw_def_load(&def, p, NULL, 0, 0, false, 0, &d);
    cr_assert_eq(rc, 0, "%s", sim_diag_text(&d));
    cr_assert_eq(def.naxes, 3);
    const sw_axis_t *mem = &def.axes[0], *rate = &def.axes[1], *prop = &def.axes[2];
    cr_assert_eq(mem->kind, SW_SIZE);
    cr_assert_eq(mem->n, 4);
    for (size_t i = 0; i < 4; i++) cr_assert_float_eq(mem->value[i], (double)(1ull << (32 + i)), 0.5, "%zu", i);
    cr_assert_str_eq(mem->text[1], "8589934592B");
    cr_assert_eq(rate->kind, SW_RATE);
    cr_assert_eq(rate->n, 3);
    cr_assert_float_eq(rate->value[2], 30, 1e-9);
    cr_assert_eq(prop->kind, SW_TEXT);
    cr_assert_str_eq(prop->text[1], "false");
    cr_assert_eq(def.npoints, 24);
    cr_assert_eq(def.load, 1, "workload.rate is the load axis");
    cr_assert_eq(def.replications, 2);
    cr_assert_eq(def.seed, 1, "the scenario's seed");
    size_t c[SW_MAX_AXES];
    sw_point_coords(&def, 23, c);
    cr_assert(c[0] == 3 && c[1] == 2 && c[2] == 1);
    sw_point_coords(&def, 7, c);   /* 7 = (1 * 3 + 0) * 2 + 1 */
    cr_assert(c[0] == 1 && c[1] == 0 && c[2] == 1);
    sw_def_fini(&def);
    sim_diag_fini(&d);
    unlink(p);
    free(p);
}

/* ---- sweep files: errors at their own place ------------------------------------------ */

/* A bad sweep over the M/M/1 validation scenario (a network: no LLM). */
static void bad_mm1_sweep(const char *body, const char *where, const char *msg)
{
    char *p = tu_tmp_path("badmm1", ".yaml"), *out = tu_tmp_path("badmm1", ".h5");
    char text[2048];
    snprintf(text, sizeof text, "scenario: %s\n%s", tu_src("scenarios/validation/mm1.yaml"), body);
    cr_assert_eq(tu_write_file(p, text), 0);
    tu_run_t r = ragsim("sweep", p, "-o", out, "-q");
    cr_assert_eq(r.status, 2, "exit %d for:\n%s\nstderr: %s", r.status, text, r.err);
    char pos[4200];
    snprintf(pos, sizeof pos, "%s:%s: error: ", p, where);
    cr_assert(strstr(r.err, pos), "want '%s' in stderr:\n%s", pos, r.err);
    cr_assert(strstr(r.err, msg), "want '%s' in stderr:\n%s", msg, r.err);
    cr_assert(!exists(out), "an output was written for a bad sweep");
    char ck[4200];
    snprintf(ck, sizeof ck, "%s.ckpt", out);
    cr_assert(!exists(ck), "a checkpoint was written for a bad sweep");
    tu_run_free(&r);
    unlink(p);
    free(p);
    free(out);
}

/* An axis the scenario rejects was reported at the first axis (every load
 * sets every axis, and the first value checked was the first axis's): with
 * workload.rate on line 3 and a bad path on line 4, at 3:19. Each axis is
 * now checked alone first, and a problem of its path is reported at its
 * key, one of a value at the value. */
Test(sweep, an_axis_error_is_reported_at_that_axis)
{
    bad_mm1_sweep("axes:\n  workload.rate: [1/s, 2/s]\n  stations...servers: [1, 2]\n", "4:3",
                  "axis 'stations...servers': the scenario rejects this path: empty key in the path");
    bad_mm1_sweep("axes:\n  workload.rate: [1/s, 2/s]\n  stations.servr.servers: [1, 2]\n", "4:3",
                  "axis 'stations.servr.servers': the scenario rejects this path");
    bad_mm1_sweep("axes:\n  workload.rate: [1/s, 2/s]\n  stations.server.servers: [1, 0]\n", "4:32",
                  "axis 'stations.server.servers' = 0: the scenario rejects this value");
    bad_mm1_sweep("axes:\n  workload.rate: [1/s, 2/s]\n  stations.server.servers: [0, 1]\n", "4:29",
                  "axis 'stations.server.servers' = 0: the scenario rejects this value");
    bad_mm1_sweep("axes:\n  stations.server.servers: {from: 0, to: 2, step: 1}\n  workload.rate: [1/s]\n", "3:35",
                  "axis 'stations.server.servers' = 0");
}

/* A typo in capacity.require ran the whole sweep and ended with exit 0 and
 * a warning without a position: it is an error when the sweep is loaded,
 * at the name, with the closest metric. */
Test(sweep, capacity_require_names_a_metric_of_the_runs)
{
    bad_mm1_sweep("axes:\n  workload.rate: [1/s, 2/s]\ncapacity:\n  require:\n    success_ratioo: {min: 0.9}\n", "6:5",
                  "capacity.require: 'success_ratioo' is not a metric the runs report (did you mean 'success_ratio'?)");
    bad_mm1_sweep("axes:\n  workload.rate: [1/s, 2/s]\ncapacity:\n  require:\n    zzzzzzzzzz: {max: 1}\n", "6:5",
                  "capacity.require: 'zzzzzzzzzz' is not a metric the runs report");
}

/* ---- checkpoints -------------------------------------------------------------------- */

/* A directory with base.yaml (a network) and sw.yaml over it, 4 points x 2
 * replications; and a complete checkpoint of it, left by a sweep stopped
 * by SIGINT just before its output's rename (RAGSIM_TEST_COMMIT). */
typedef struct {
    char *dir;
    char base[1024], sw[1024], out[1024], ck[1100];
} ckfx_t;

static const char ck_base[] = "name: base\nduration: 20s\nworkload: {arrivals: poisson, rate: 5/s}\n"
                              "stations: {s: {servers: 1, service: {dist: exponential, mean: 50ms}}}\nroute: [s]\n";

static void ckfx_make(ckfx_t *f)
{
    f->dir = tu_tmp_dir("ckpt");
    cr_assert_not_null(f->dir);
    snprintf(f->base, sizeof f->base, "%s/base.yaml", f->dir);
    snprintf(f->sw, sizeof f->sw, "%s/sw.yaml", f->dir);
    snprintf(f->out, sizeof f->out, "%s/out.h5", f->dir);
    snprintf(f->ck, sizeof f->ck, "%s.ckpt", f->out);
    cr_assert_eq(tu_write_file(f->base, ck_base), 0);
    cr_assert_eq(tu_write_file(f->sw, "scenario: base.yaml\naxes:\n  workload.rate: [2/s, 4/s, 6/s, 8/s]\n"
                                      "replications: 2\n"), 0);
    setenv("RAGSIM_TEST_COMMIT", "sigint", 1);
    tu_run_t r = ragsim("sweep", f->sw, "-o", f->out, "-q");
    unsetenv("RAGSIM_TEST_COMMIT");
    cr_assert_eq(r.status, 130, "%s", r.err);
    tu_run_free(&r);
    cr_assert(exists(f->ck) && !exists(f->out));
}

static void ckfx_done(ckfx_t *f)
{
    char cmd[2300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", f->dir);
    cr_assert_eq(system(cmd), 0);
    free(f->dir);
}

/* --resume mixed results of an edited base scenario: the checkpoint's hash
 * did not cover the scenario's text. It covers every input now: the sweep
 * file, the base scenario, --set, --seed, --reps. */
Test(sweep, a_checkpoint_of_other_inputs_is_refused, .timeout = 300)
{
    ckfx_t f;
    ckfx_make(&f);
    /* each change makes it another sweep's */
    const char *const other[][3] = {{"--set", "duration=30s", NULL}, {"--seed", "7", NULL}, {"--reps", "3", NULL}};
    for (size_t i = 0; i < 3; i++) {
        tu_run_t r = ragsim("sweep", f.sw, "-o", f.out, "-q", "--resume", other[i][0], other[i][1]);
        cr_assert_eq(r.status, 2, "%s %s: exit %d: %s", other[i][0], other[i][1], r.status, r.err);
        cr_assert(strstr(r.err, "belongs to a different sweep"), "%s", r.err);
        tu_run_free(&r);
    }
    /* an edited base scenario */
    char edited[sizeof ck_base + 64];
    snprintf(edited, sizeof edited, "%s", ck_base);
    memcpy(strstr(edited, "mean: 50ms"), "mean: 60ms", 10);
    cr_assert_eq(tu_write_file(f.base, edited), 0);
    tu_run_t r = ragsim("sweep", f.sw, "-o", f.out, "-q", "--resume");
    cr_assert_eq(r.status, 2, "exit %d: %s", r.status, r.err);
    cr_assert(strstr(r.err, "belongs to a different sweep (the sweep file, its base scenario"), "%s", r.err);
    tu_run_free(&r);
    cr_assert(!exists(f.out));
    /* the same inputs again: resumed, nothing run again */
    cr_assert_eq(tu_write_file(f.base, ck_base), 0);
    r = ragsim("sweep", f.sw, "-o", f.out, "--resume");
    cr_assert_eq(r.status, 0, "%s", r.err);
    cr_assert(strstr(r.out, "resuming: 8 runs"), "%s", r.out);
    tu_run_free(&r);
    ckfx_done(&f);
}

/* A bit flipped anywhere in a checkpoint was accepted (25 of 40 corrupted
 * copies gave a different output). Every record carries a checksum now,
 * and the header one: each corrupted copy is refused with status 2, and
 * none writes an output. A checkpoint cut in the middle of its last record
 * (an append cut short) is not corrupted: that run is run again and the
 * output is the same. */
Test(sweep, a_corrupted_checkpoint_is_refused, .timeout = 600)
{
    ckfx_t f;
    ckfx_make(&f);
    FILE *in = fopen(f.ck, "rb");
    cr_assert_not_null(in);
    fseek(in, 0, SEEK_END);
    size_t len = (size_t)ftell(in);
    fseek(in, 0, SEEK_SET);
    char *ck = malloc(len);
    cr_assert_eq(fread(ck, 1, len, in), len);
    fclose(in);
    cr_assert_gt(len, 1000);
    char ref[1100], copy[1100], outc[1100];
    snprintf(ref, sizeof ref, "%s/ref.h5", f.dir);
    snprintf(copy, sizeof copy, "%s/c.h5.ckpt", f.dir);
    snprintf(outc, sizeof outc, "%s/c.h5", f.dir);
    /* the reference: resumed from the intact checkpoint */
    cr_assert_eq(link(f.ck, copy), 0);
    tu_run_t r = ragsim("sweep", f.sw, "-o", outc, "-q", "--resume");
    cr_assert_eq(r.status, 0, "%s", r.err);
    tu_run_free(&r);
    cr_assert_eq(rename(outc, ref), 0);
    unsigned seed = 12345;
    for (int t = 0; t < 40; t++) {
        seed = seed * 1103515245u + 12345u;
        size_t pos = t < 3 ? (size_t)t * 9 : (seed >> 4) % len;   /* the header too */
        int bit = (int)((seed >> 24) & 7);
        ck[pos] ^= (char)(1 << bit);
        FILE *fp = fopen(copy, "wb");
        cr_assert_eq(fwrite(ck, 1, len, fp), len);
        fclose(fp);
        ck[pos] ^= (char)(1 << bit);
        r = ragsim("sweep", f.sw, "-o", outc, "-q", "--resume");
        cr_assert_eq(r.status, 2, "byte %zu bit %d: exit %d: %s", pos, bit, r.status, r.err);
        cr_assert(strstr(r.err, "is corrupted") || strstr(r.err, "is not a sweep checkpoint") ||
                      strstr(r.err, "another version of ragsim"),
                  "byte %zu bit %d: %s", pos, bit, r.err);
        cr_assert(!exists(outc), "byte %zu bit %d: an output was written", pos, bit);
        tu_run_free(&r);
    }
    /* cut short: the last record loses its tail */
    FILE *fp = fopen(copy, "wb");
    cr_assert_eq(fwrite(ck, 1, len - 100, fp), len - 100);
    fclose(fp);
    r = ragsim("sweep", f.sw, "-o", outc, "--resume");
    cr_assert_eq(r.status, 0, "%s", r.err);
    cr_assert(strstr(r.err, "ends with an incomplete record"), "%s", r.err);
    cr_assert(strstr(r.out, "resuming: 7 runs"), "%s", r.out);
    tu_run_free(&r);
    same_output(ref, outc);
    free(ck);
    ckfx_done(&f);
}
