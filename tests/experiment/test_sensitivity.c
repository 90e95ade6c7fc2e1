/* `ragsim sensitivity`: on an M/M/c station (scenarios/validation/mmc.yaml:
 * lambda = 9/s, c = 10, mu = 1/s) the elasticity of the mean wait with
 * respect to the arrival rate, measured with common random numbers from
 * +-2% changes, contains the derivative of Erlang C's mean wait
 * d ln Wq / d ln lambda; a parameter that cannot change (an integer too
 * small) is skipped; the output does not depend on -j or MPI ranks; an
 * interrupted command resumes from its checkpoint to the same output;
 * Morris screening on two stations in series (scenarios/validation/
 * tandem.yaml) finds sigma ~ 0 and mu* = the range for the additive delay
 * and a large sigma for the interacting rate and service time; bad
 * options exit 2. */
#include <criterion/criterion.h>
#include <hdf5.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "models/queueing/theory.h"
#include "testutil.h"

typedef struct {
    char parameter[256], metric[64];
    double delta, elasticity, elasticity_lo, elasticity_hi;
} srow_t;

/* The string columns, read as what they are in the file: variable-length
 * strings (allocated by HDF5: H5Dvlen_reclaim frees them). */
typedef struct {
    char *parameter, *metric;
} strs_t;

static hid_t vstr(void)
{
    hid_t s = H5Tcopy(H5T_C_S1);
    H5Tset_size(s, H5T_VARIABLE);
    H5Tset_cset(s, H5T_CSET_UTF8);
    return s;
}

static size_t read_rows(const char *file, srow_t **out)
{
    hid_t f = H5Fopen(file, H5F_ACC_RDONLY, H5P_DEFAULT);
    cr_assert(f >= 0, "cannot open %s", file);
    hid_t d = H5Dopen2(f, "/sensitivity", H5P_DEFAULT);
    cr_assert(d >= 0, "no /sensitivity in %s", file);
    hid_t s = H5Dget_space(d);
    hsize_t n = 0;
    H5Sget_simple_extent_dims(s, &n, NULL);
    hid_t sv = vstr();
    hid_t t = H5Tcreate(H5T_COMPOUND, sizeof(srow_t)), st = H5Tcreate(H5T_COMPOUND, sizeof(strs_t));
    H5Tinsert(t, "delta", HOFFSET(srow_t, delta), H5T_NATIVE_DOUBLE);
    H5Tinsert(t, "elasticity", HOFFSET(srow_t, elasticity), H5T_NATIVE_DOUBLE);
    H5Tinsert(t, "elasticity_lo", HOFFSET(srow_t, elasticity_lo), H5T_NATIVE_DOUBLE);
    H5Tinsert(t, "elasticity_hi", HOFFSET(srow_t, elasticity_hi), H5T_NATIVE_DOUBLE);
    H5Tinsert(st, "parameter", HOFFSET(strs_t, parameter), sv);
    H5Tinsert(st, "metric", HOFFSET(strs_t, metric), sv);
    *out = calloc(n + 1, sizeof **out);
    strs_t *str = calloc(n + 1, sizeof *str);
    cr_assert(H5Dread(d, t, H5S_ALL, H5S_ALL, H5P_DEFAULT, *out) >= 0);
    cr_assert(H5Dread(d, st, H5S_ALL, H5S_ALL, H5P_DEFAULT, str) >= 0);
    for (hsize_t i = 0; i < n; i++) {
        snprintf((*out)[i].parameter, sizeof (*out)[i].parameter, "%s", str[i].parameter);
        snprintf((*out)[i].metric, sizeof (*out)[i].metric, "%s", str[i].metric);
    }
    if (n) H5Dvlen_reclaim(st, s, H5P_DEFAULT, str);
    free(str);
    H5Tclose(st);
    H5Tclose(t);
    H5Tclose(sv);
    H5Sclose(s);
    H5Dclose(d);
    H5Fclose(f);
    return (size_t)n;
}

/* Erlang C's mean wait of M/M/c with mu = 1: Wq = C(c, a) / (c - a), a = lambda. */
static double wq(double lambda) { return theory_erlang_c(10, lambda) / (10 - lambda); }

Test(sensitivity, mmc_wait_elasticity_matches_erlang_c, .timeout = 300)
{
    char *out = tu_tmp_path("sens", ".h5");
    tu_run_t r = tu_run((const char *[]){RAGSIM_BINARY, "sensitivity", tu_src("scenarios/validation/mmc.yaml"),
                                         "--params", "workload.rate,stations.server.servers", "--metrics",
                                         "server:mean_wait", "--delta", "2%", "--reps", "10", "--set", "duration=1h",
                                         "--set", "warmup=5m", "-o", out, "--force", NULL});
    cr_assert_eq(r.status, 0, "exit %d\n%s%s", r.status, r.out, r.err);
    /* 10 servers x 1.02 rounds to 10: that change is skipped, said so */
    cr_expect(strstr(r.out, "stations.server.servers: 10+2% skipped: it rounds to the same value") != NULL, "%s", r.out);
    tu_run_free(&r);
    srow_t *rows;
    size_t n = read_rows(out, &rows);
    const srow_t *c = NULL;
    for (size_t i = 0; i < n; i++)
        if (!strcmp(rows[i].parameter, "workload.rate") && !strcmp(rows[i].metric, "server:mean_wait") &&
            rows[i].delta == 0)
            c = &rows[i];
    cr_assert(c, "no central row for workload.rate");
    for (size_t i = 0; i < n; i++)
        cr_expect(strcmp(rows[i].parameter, "stations.server.servers") != 0, "servers 10 x 1.02 = 10 was run");
    double h = 1e-5, lam = 9;
    double theory = lam * (log(wq(lam + h)) - log(wq(lam - h))) / (2 * h);
    cr_log_info("elasticity of the mean wait w.r.t. lambda: measured %.3f [%.3f, %.3f], Erlang C %.3f", c->elasticity,
                c->elasticity_lo, c->elasticity_hi, theory);
    cr_expect(c->elasticity_lo <= theory && theory <= c->elasticity_hi,
              "Erlang C's elasticity %.3f is outside the measured interval [%.3f, %.3f]", theory, c->elasticity_lo,
              c->elasticity_hi);
    /* the interval is informative: narrower than the value itself */
    cr_expect_lt(c->elasticity_hi - c->elasticity_lo, theory, "interval [%.3f, %.3f] too wide to test anything",
                 c->elasticity_lo, c->elasticity_hi);
    free(rows);
    unlink(out);
    free(out);
}

static void bad(const char *const *argv, const char *expect)
{
    tu_run_t r = tu_run(argv);
    cr_expect_eq(r.status, 2, "exit %d\n%s", r.status, r.err);
    cr_expect(strstr(r.err, expect) != NULL, "expected '%s' in:\n%s", expect, r.err);
    tu_run_free(&r);
}

Test(sensitivity, bad_options_exit_2)
{
    const char *scen = tu_src("scenarios/validation/mmc.yaml");
    char *o = tu_tmp_path("sens-bad", ".h5");
    bad((const char *[]){RAGSIM_BINARY, "sensitivity", scen, "--delta", "150%", "-o", o, NULL}, "--delta expected");
    bad((const char *[]){RAGSIM_BINARY, "sensitivity", scen, "--params", "workload.rat", "-o", o, NULL},
        "'workload.rat' is not a non-zero numeric value");
    bad((const char *[]){RAGSIM_BINARY, "sensitivity", scen, "--metrics", "latency_mean", "-o", o, NULL},
        "did you mean");
    bad((const char *[]){RAGSIM_BINARY, "sensitivity", scen, "--reps", "1", "-o", o, NULL}, "at least 2");
    bad((const char *[]){RAGSIM_BINARY, "sensitivity", scen, "--variant", "nope", "-o", o, NULL}, "no variant 'nope'");
    bad((const char *[]){RAGSIM_BINARY, "sensitivity", scen, "--method", "sobol", "-o", o, NULL},
        "--method expects 'oat' (one at a time) or 'morris'");
    bad((const char *[]){RAGSIM_BINARY, "sensitivity", scen, "--method", "morris", "--levels", "3", "-o", o, NULL},
        "--levels expects an even number");
    bad((const char *[]){RAGSIM_BINARY, "sensitivity", scen, "--method", "morris", "--trajectories", "1", "-o", o, NULL},
        "--trajectories must be at least 2");
    bad((const char *[]){RAGSIM_BINARY, "sensitivity", scen, "--trajectories", "5", "-o", o, NULL},
        "--trajectories belongs to --method morris");
    bad((const char *[]){RAGSIM_BINARY, "sensitivity", scen, "--params", "workload.rate,workload.rate", "-o", o, NULL},
        "'workload.rate' is listed twice");
    bad((const char *[]){RAGSIM_BINARY, "sensitivity", scen, "-j", "0", "-o", o, NULL}, "-j must be at least 1");
    /* a Morris point the scenario rejects: 10 servers -90% is 1, +90% 19, the levels between them are fine;
     * 1 server -90% rounds to 0 */
    bad((const char *[]){RAGSIM_BINARY, "sensitivity", tu_src("scenarios/validation/tandem.yaml"), "--method", "morris",
                         "--params", "stations.server.servers", "--delta", "90%", "-o", o, NULL},
        "does not load");
    struct stat st;
    cr_expect(stat(o, &st) != 0, "a failed command wrote %s", o);
    free(o);
}

static void same_output(const char *a, const char *b)
{
    tu_run_t r = tu_run((const char *[]){"/usr/bin/h5diff", a, b, NULL});
    cr_assert_eq(r.status, 0, "h5diff %s %s: exit %d\n%s%s", a, b, r.status, r.out, r.err);
    tu_run_free(&r);
}

/* The runs go through the sweep's master: workers (-j 2) and MPI ranks
 * (3: the master and two workers, which build the configurations
 * themselves) give the file of -j 1, for both methods. */
Test(sensitivity, output_independent_of_jobs_and_ranks, .timeout = 600)
{
    const char *scen = tu_src("scenarios/validation/mmc.yaml");
    for (int method = 0; method < 2; method++) {
        char *o1 = tu_tmp_path("sens-j1", ".h5"), *o2 = tu_tmp_path("sens-j2", ".h5");
        const char *common[] = {"sensitivity", scen, "--params", "workload.rate,stations.server.service.mean",
                                "--metrics", "server:mean_wait,success_ratio", "--delta", "5%", "--reps", "3",
                                "--method", method ? "morris" : "oat", "--trajectories", "3", "-q", "--force",
                                "--set", "duration=10m", "--set", "warmup=1m", "-o"};
        size_t nc = sizeof common / sizeof *common;
        const char *argv[48];
        for (int j = 1; j <= 2; j++) {
            size_t k = 0;
            argv[k++] = RAGSIM_BINARY;
            for (size_t i = 0; i < nc; i++) {
                if (!method && !strcmp(common[i], "--trajectories")) {
                    i++;   /* not an option of oat */
                    continue;
                }
                argv[k++] = common[i];
            }
            argv[k++] = j == 1 ? o1 : o2;
            argv[k++] = "-j";
            argv[k++] = j == 1 ? "1" : "2";
            argv[k] = NULL;
            tu_run_t r = tu_run(argv);
            cr_assert_eq(r.status, 0, "%s -j %d: exit %d\n%s%s", method ? "morris" : "oat", j, r.status, r.out, r.err);
            tu_run_free(&r);
        }
        same_output(o1, o2);
#ifdef RAGSIM_MPI_BINARY
        char *o3 = tu_tmp_path("sens-mpi", ".h5");
        size_t k = 0;
        argv[k++] = "/usr/bin/mpirun";
        argv[k++] = "--oversubscribe";
        argv[k++] = "--allow-run-as-root";
        argv[k++] = "-np";
        argv[k++] = "3";
        argv[k++] = RAGSIM_MPI_BINARY;
        for (size_t i = 0; i < nc; i++) {
            if (!method && !strcmp(common[i], "--trajectories")) {
                i++;
                continue;
            }
            argv[k++] = common[i];
        }
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
}

/* Stopped by SIGINT as it commits its output (RAGSIM_TEST_COMMIT): exit
 * 130, nothing written, the runs kept in OUT.h5.ckpt; --resume runs
 * nothing again and writes the file of an uninterrupted command. */
Test(sensitivity, interrupted_then_resumed, .timeout = 300)
{
    const char *scen = tu_src("scenarios/validation/mmc.yaml");
    char *o1 = tu_tmp_path("sens-whole", ".h5"), *o2 = tu_tmp_path("sens-resumed", ".h5");
    char ck[4200];
    snprintf(ck, sizeof ck, "%s.ckpt", o2);
#define SENS_ARGS(out, ...)                                                                                            \
    (const char *[]) { RAGSIM_BINARY, "sensitivity", scen, "--params", "workload.rate", "--metrics", "server:mean_wait", \
                       "--reps", "3", "--set", "duration=10m", "--set", "warmup=1m", "-o", out, __VA_ARGS__ }
    tu_run_t r = tu_run(SENS_ARGS(o1, "-q", NULL));
    cr_assert_eq(r.status, 0, "%s", r.err);
    tu_run_free(&r);
    setenv("RAGSIM_TEST_COMMIT", "sigint", 1);
    r = tu_run(SENS_ARGS(o2, "-q", "-j", "2", NULL));
    unsetenv("RAGSIM_TEST_COMMIT");
    cr_assert_eq(r.status, 130, "exit %d\n%s", r.status, r.err);
    cr_expect(strstr(r.err, "run the same command with --resume") != NULL, "%s", r.err);
    tu_run_free(&r);
    struct stat st;
    cr_assert(stat(o2, &st) != 0, "an interrupted command wrote %s", o2);
    cr_assert(stat(ck, &st) == 0, "no checkpoint %s", ck);
    /* other inputs: the checkpoint is refused, named as this command's, and kept */
    r = tu_run(SENS_ARGS(o2, "--seed", "7", "--resume", NULL));
    cr_assert_eq(r.status, 2, "exit %d\n%s", r.status, r.err);
    cr_expect(strstr(r.err, "belongs to a different sensitivity (the scenario,") != NULL, "%s", r.err);
    tu_run_free(&r);
    cr_assert(stat(ck, &st) == 0, "the refused checkpoint %s was removed", ck);
    r = tu_run(SENS_ARGS(o2, "--resume", NULL));
    cr_assert_eq(r.status, 0, "%s", r.err);
    /* 3 configurations x 3 replications, all from the checkpoint */
    cr_expect(strstr(r.out, "resuming: 9 runs from") != NULL, "%s", r.out);
    tu_run_free(&r);
    same_output(o1, o2);
    cr_expect(stat(ck, &st) != 0, "the checkpoint %s was left", ck);
#undef SENS_ARGS
    unlink(o1);
    unlink(o2);
    free(o1);
    free(o2);
}

typedef struct {
    char parameter[256], metric[64];
    int64_t n;
    double low, high, mu, mu_star, sigma;
} mrow_t;

/* Morris on two stations in series (scenarios/validation/tandem.yaml): the
 * mean latency is s / (1 - lambda s) + d. The delay's mean d only adds:
 * every elementary effect is the whole range's change, 2 x 20% x 50 ms =
 * 20 ms (the delay's exponential draws, scaled with common random
 * numbers, average ~1), so mu* = 20 ms and sigma ~ 0. The rate and the
 * server's service time interact (the effect of one grows with the other)
 * and the wait is convex in each: sigma is a large part of mu*. */
Test(sensitivity, morris_separates_additive_from_interacting, .timeout = 300)
{
    char *out = tu_tmp_path("sens-morris", ".h5");
    tu_run_t r = tu_run((const char *[]){RAGSIM_BINARY, "sensitivity", tu_src("scenarios/validation/tandem.yaml"),
                                         "--method", "morris", "--params",
                                         "workload.rate,stations.server.service.mean,stations.delay.service.mean",
                                         "--metrics", "latency_mean_s", "--delta", "20%", "--trajectories", "10",
                                         "--reps", "2", "-o", out, "--force", NULL});
    cr_assert_eq(r.status, 0, "exit %d\n%s%s", r.status, r.out, r.err);
    cr_log_info("%s", r.out);
    tu_run_free(&r);
    hid_t f = H5Fopen(out, H5F_ACC_RDONLY, H5P_DEFAULT);
    cr_assert(f >= 0);
    hid_t d = H5Dopen2(f, "/morris", H5P_DEFAULT);
    cr_assert(d >= 0, "no /morris");
    hid_t sv = vstr();
    hid_t t = H5Tcreate(H5T_COMPOUND, sizeof(mrow_t)), st = H5Tcreate(H5T_COMPOUND, sizeof(strs_t));
    H5Tinsert(st, "parameter", HOFFSET(strs_t, parameter), sv);
    H5Tinsert(st, "metric", HOFFSET(strs_t, metric), sv);
    H5Tinsert(t, "n", HOFFSET(mrow_t, n), H5T_NATIVE_INT64);
    H5Tinsert(t, "low", HOFFSET(mrow_t, low), H5T_NATIVE_DOUBLE);
    H5Tinsert(t, "high", HOFFSET(mrow_t, high), H5T_NATIVE_DOUBLE);
    H5Tinsert(t, "mu", HOFFSET(mrow_t, mu), H5T_NATIVE_DOUBLE);
    H5Tinsert(t, "mu_star", HOFFSET(mrow_t, mu_star), H5T_NATIVE_DOUBLE);
    H5Tinsert(t, "sigma", HOFFSET(mrow_t, sigma), H5T_NATIVE_DOUBLE);
    mrow_t rows[3];
    hid_t sp = H5Dget_space(d);
    hsize_t n = 0;
    H5Sget_simple_extent_dims(sp, &n, NULL);
    cr_assert_eq(n, 3, "%llu rows", (unsigned long long)n);
    cr_assert(H5Dread(d, t, H5S_ALL, H5S_ALL, H5P_DEFAULT, rows) >= 0);
    strs_t str[3];
    cr_assert(H5Dread(d, st, H5S_ALL, H5S_ALL, H5P_DEFAULT, str) >= 0);
    for (int i = 0; i < 3; i++) {
        snprintf(rows[i].parameter, sizeof rows[i].parameter, "%s", str[i].parameter);
        snprintf(rows[i].metric, sizeof rows[i].metric, "%s", str[i].metric);
    }
    H5Dvlen_reclaim(st, sp, H5P_DEFAULT, str);
    H5Sclose(sp);
    H5Tclose(st);
    H5Tclose(t);
    H5Tclose(sv);
    H5Dclose(d);
    H5Fclose(f);
    const mrow_t *delay = NULL, *rate = NULL, *svc = NULL;
    for (int i = 0; i < 3; i++) {
        cr_expect_eq(rows[i].n, 10, "%s: %lld effects, one per trajectory", rows[i].parameter, (long long)rows[i].n);
        if (!strcmp(rows[i].parameter, "stations.delay.service.mean")) delay = &rows[i];
        if (!strcmp(rows[i].parameter, "workload.rate")) rate = &rows[i];
        if (!strcmp(rows[i].parameter, "stations.server.service.mean")) svc = &rows[i];
    }
    cr_assert(delay && rate && svc);
    /* the delay's range: 40 ms .. 60 ms, in s */
    cr_expect_float_eq(delay->low, 0.040, 1e-12);
    cr_expect_float_eq(delay->high, 0.060, 1e-12);
    cr_expect(fabs(delay->mu_star / 0.020 - 1) < 0.03, "delay: mu* %.5f s, expected 0.020 s", delay->mu_star);
    cr_expect_lt(delay->sigma / delay->mu_star, 0.01, "delay: sigma %.3g is not ~0 (mu* %.3g)", delay->sigma,
                 delay->mu_star);
    cr_expect_gt(rate->sigma / rate->mu_star, 0.3, "rate: sigma %.3g, mu* %.3g", rate->sigma, rate->mu_star);
    cr_expect_gt(svc->sigma / svc->mu_star, 0.3, "service: sigma %.3g, mu* %.3g", svc->sigma, svc->mu_star);
    /* every effect of both is positive: the latency grows with either */
    cr_expect_float_eq(rate->mu, rate->mu_star, 1e-12);
    cr_expect_float_eq(svc->mu, svc->mu_star, 1e-12);
    unlink(out);
    free(out);
}
