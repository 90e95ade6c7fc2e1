/* `ragsim sensitivity`: on an M/M/c station (scenarios/validation/mmc.yaml:
 * lambda = 9/s, c = 10, mu = 1/s) the elasticity of the mean wait with
 * respect to the arrival rate, measured with common random numbers from
 * +-2% changes, contains the derivative of Erlang C's mean wait
 * d ln Wq / d ln lambda; a parameter that cannot change (an integer too
 * small) is skipped; bad options exit 2. */
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

static size_t read_rows(const char *file, srow_t **out)
{
    hid_t f = H5Fopen(file, H5F_ACC_RDONLY, H5P_DEFAULT);
    cr_assert(f >= 0, "cannot open %s", file);
    hid_t d = H5Dopen2(f, "/sensitivity", H5P_DEFAULT);
    cr_assert(d >= 0, "no /sensitivity in %s", file);
    hid_t s = H5Dget_space(d);
    hsize_t n = 0;
    H5Sget_simple_extent_dims(s, &n, NULL);
    hid_t s256 = H5Tcopy(H5T_C_S1), s64 = H5Tcopy(H5T_C_S1);
    H5Tset_size(s256, 256);
    H5Tset_cset(s256, H5T_CSET_UTF8);
    H5Tset_cset(s64, H5T_CSET_UTF8);
    H5Tset_size(s64, 64);
    hid_t t = H5Tcreate(H5T_COMPOUND, sizeof(srow_t));
    H5Tinsert(t, "parameter", HOFFSET(srow_t, parameter), s256);
    H5Tinsert(t, "metric", HOFFSET(srow_t, metric), s64);
    H5Tinsert(t, "delta", HOFFSET(srow_t, delta), H5T_NATIVE_DOUBLE);
    H5Tinsert(t, "elasticity", HOFFSET(srow_t, elasticity), H5T_NATIVE_DOUBLE);
    H5Tinsert(t, "elasticity_lo", HOFFSET(srow_t, elasticity_lo), H5T_NATIVE_DOUBLE);
    H5Tinsert(t, "elasticity_hi", HOFFSET(srow_t, elasticity_hi), H5T_NATIVE_DOUBLE);
    *out = calloc(n + 1, sizeof **out);
    cr_assert(H5Dread(d, t, H5S_ALL, H5S_ALL, H5P_DEFAULT, *out) >= 0);
    H5Tclose(t);
    H5Tclose(s256);
    H5Tclose(s64);
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
    struct stat st;
    cr_expect(stat(o, &st) != 0, "a failed command wrote %s", o);
    free(o);
}
