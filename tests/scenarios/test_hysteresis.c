/* The retry storm's hysteresis (scenarios/retry-storm.yaml): how long a
 * capacity drop must last to tip the backend into the metastable state,
 * against the load, for naive retries and for an Envoy retry budget. The
 * grid is run through the command line (`--set`), one replication per
 * point; "tipped" = did not recover by the end of the run. The table is
 * written to tests/tmp/hysteresis.txt (and is in docs/admission.md). */
#include <criterion/criterion.h>
#include <hdf5.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "h5util.h"
#include "testutil.h"

static const int rates[] = {600, 700, 800, 900};
static const int durs[] = {1, 2, 4, 8, 16, 32};
enum { NR = 4, ND = 6 };

/* recovered[v] for variants naive (0) and retry_budget (1) */
static void point(int rate, int dur, double recovered[2])
{
    char *out = tu_tmp_path("hyst", ".h5");
    char r[64], f[64];
    snprintf(r, sizeof r, "workload.rate=%d/s", rate);
    snprintf(f, sizeof f, "faults.0.for=%ds", dur);
    const char *argv[] = {RAGSIM_BINARY, "run", tu_src("scenarios/retry-storm.yaml"), "-q", "--reps", "1",
                          "--variants", "naive,retry_budget", "--set", r, "--set", f, "-o", out, NULL};
    tu_run_t res = tu_run(argv);
    cr_assert_eq(res.status, 0, "%s", res.err);
    tu_run_free(&res);
    hid_t h = H5Fopen(out, H5F_ACC_RDONLY, H5P_DEFAULT);
    cr_assert_geq(h, 0);
    /* /summary rows: the variants in the scenario's order, naive first */
    recovered[0] = summary_value(h, 0, "recovered");
    recovered[1] = summary_value(h, 1, "recovered");
    H5Fclose(h);
    unlink(out);
    free(out);
}

Test(hysteresis, a_retry_budget_needs_a_longer_trigger_to_tip_over, .timeout = 900)
{
    int tip[2][NR];   /* shortest tipping trigger, 0 = none up to 32 s */
    char table[2048];
    int len = snprintf(table, sizeof table,
                       "load (capacity 1000/s)  trigger (capacity halved) that tips it over\n"
                       "                        naive retries   retry budget 20%%\n");
    for (int i = 0; i < NR; i++) {
        tip[0][i] = tip[1][i] = 0;
        char row[2][64] = {"", ""};
        for (int j = 0; j < ND; j++) {
            double rec[2];
            point(rates[i], durs[j], rec);
            for (int v = 0; v < 2; v++) {
                strcat(row[v], rec[v] > 0.5 ? "." : "X");
                if (rec[v] < 0.5 && tip[v][i] == 0) tip[v][i] = durs[j];
            }
        }
        len += snprintf(table + len, sizeof table - (size_t)len, "%4d/s                  %-6s %-8s %-6s %s\n",
                        rates[i], row[0], tip[0][i] ? "" : "(none)", row[1], tip[1][i] ? "" : "(none)");
    }
    len += snprintf(table + len, sizeof table - (size_t)len,
                    "columns: trigger 1, 2, 4, 8, 16, 32 s; X = did not recover, . = recovered\n");
    char *path = tu_tmp_path("hysteresis", ".txt");
    tu_write_file(path, table);
    free(path);
    cr_log_info("%s", table);
    for (int i = 0; i < NR; i++) {
        /* naive retries tip over at every load, sooner as the load grows */
        cr_expect_gt(tip[0][i], 0, "naive never tipped at %d/s\n%s", rates[i], table);
        if (i > 0) cr_expect_leq(tip[0][i], tip[0][i - 1], "naive at %d/s\n%s", rates[i], table);
        /* the budget never needs a shorter trigger than naive retries */
        int b = tip[1][i] ? tip[1][i] : 64;
        cr_expect_geq(b, tip[0][i], "budget at %d/s\n%s", rates[i], table);
    }
    /* at 60% and 70% load the budget withstands every trigger tried */
    cr_expect_eq(tip[1][0], 0, "%s", table);
    cr_expect_eq(tip[1][1], 0, "%s", table);
}
