/* Comparison of variants: Student-t intervals and paired differences against
 * an independent GSL computation, common random numbers making a small
 * difference significant, NaN (did not recover) handling, verdicts in each
 * direction, the /comparison table and the printed table. */
#include <criterion/criterion.h>

#include <gsl/gsl_cdf.h>
#include <gsl/gsl_statistics_double.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "experiment/compare.h"
#include "experiment/incident.h"
#include "sim/error.h"

#define assert_close(got, want, rel)                                                             \
    cr_assert(fabs((got) - (want)) <= (rel) * fabs(want), "%s = %.17g, want %.17g", #got,       \
              (double)(got), (double)(want))

/* ---- helpers -------------------------------------------------------------------- */

typedef struct {
    const char *name;
    rs_kind_t kind;
} metric_t;

/* reps[i] gets, for each metric m, the value x[m][i] in section "summary",
 * plus an unrelated entry in another section (must be ignored). */
static void make_reps(rs_report_t *reps, size_t nreps, const metric_t *m, size_t nm, const double *const *x)
{
    for (size_t i = 0; i < nreps; i++) {
        rs_report_init(&reps[i]);
        rs_report_add(&reps[i], "calls", "llm", "calls", RS_COUNT, 1000 + (double)i);
        for (size_t k = 0; k < nm; k++) rs_report_add(&reps[i], "summary", "", m[k].name, m[k].kind, x[k][i]);
    }
}

static void free_reps(rs_report_t *reps, size_t nreps)
{
    for (size_t i = 0; i < nreps; i++) rs_report_fini(&reps[i]);
}

/* Independent Student-t half-width with GSL's own statistics. */
static double gsl_hw(const double *x, size_t n, double level)
{
    return gsl_cdf_tdist_Pinv(1 - (1 - level) / 2, (double)(n - 1)) * gsl_stats_sd(x, 1, n) / sqrt((double)n);
}

static const cmp_row_t *row_of(const cmp_row_t *rows, size_t n, const char *variant, const char *metric)
{
    for (size_t i = 0; i < n; i++)
        if (!strcmp(rows[i].variant, variant) && !strcmp(rows[i].metric, metric)) return &rows[i];
    cr_assert_fail("no row (%s, %s)", variant, metric);
    return NULL;
}

/* ---- arithmetic ----------------------------------------------------------------- */

#define N6 6
static const double lat_b[N6] = {1.2, 1.5, 0.9, 2.1, 1.7, 1.3};
static const double lat_v[N6] = {1.0, 1.45, 0.7, 1.8, 1.65, 1.0};
static const double sr_b[N6] = {0.91, 0.93, 0.95, 0.90, 0.92, 0.94};
static const double sr_v[N6] = {0.92, 0.92, 0.97, 0.93, 0.92, 0.95};

Test(compare, ci_and_paired_difference_match_gsl)
{
    const metric_t m[] = {{"latency_p95_s", RS_SECONDS}, {"success_ratio", RS_RATIO}};
    const double *xb[] = {lat_b, sr_b}, *xv[] = {lat_v, sr_v};
    rs_report_t rb[N6], rv[N6];
    make_reps(rb, N6, m, 2, xb);
    make_reps(rv, N6, m, 2, xv);
    cmp_variant_t v[] = {{"naive", rb, N6}, {"hedged", rv, N6}};
    cmp_row_t *rows = NULL;
    size_t n = 0;
    cr_assert_eq(cmp_compute(v, 2, 0, 0.95, &rag_model, &rows, &n), 0);
    cr_assert_eq(n, 4);
    /* variant-major, metrics in the baseline's order */
    cr_assert_str_eq(rows[0].variant, "naive");
    cr_assert_str_eq(rows[0].metric, "latency_p95_s");
    cr_assert_str_eq(rows[1].metric, "success_ratio");
    cr_assert_str_eq(rows[2].variant, "hedged");
    cr_assert_str_eq(rows[3].metric, "success_ratio");
    cr_assert(rows[0].baseline && !rows[2].baseline);

    for (int k = 0; k < 2; k++) {
        const double *b = xb[k], *x = xv[k];
        double d[N6];
        for (int i = 0; i < N6; i++) d[i] = x[i] - b[i];
        const cmp_row_t *rb0 = &rows[k], *r = &rows[2 + k];
        cr_assert_eq(r->kind, m[k].kind);
        cr_assert_eq(r->n, N6);
        cr_assert_eq(r->nan_count, 0);
        cr_assert_eq(r->npaired, N6);
        assert_close(rb0->mean, gsl_stats_mean(b, 1, N6), 1e-13);
        assert_close(rb0->half_width, gsl_hw(b, N6, 0.95), 1e-12);
        assert_close(r->mean, gsl_stats_mean(x, 1, N6), 1e-13);
        assert_close(r->half_width, gsl_hw(x, N6, 0.95), 1e-12);
        assert_close(r->diff, gsl_stats_mean(d, 1, N6), 1e-12);
        assert_close(r->diff_half_width, gsl_hw(d, N6, 0.95), 1e-12);
        /* the baseline against itself: 0 +- 0, never significant */
        cr_assert_eq(rb0->diff, 0.0);
        cr_assert_eq(rb0->diff_half_width, 0.0);
        cr_assert(!rb0->significant);
        cr_assert_eq(rb0->verdict, 0);
    }
    /* latency: d = -0.2 -0.05 -0.2 -0.3 -0.05 -0.3, mean -0.18333, sd 0.1129,
     * t(0.975, 5) = 2.5706: half-width 0.11811 -> [-0.301, -0.065]: lower is better */
    const cmp_row_t *lat = row_of(rows, n, "hedged", "latency_p95_s");
    assert_close(lat->diff, -0.55 / 3, 1e-12);
    assert_close(lat->diff_half_width, 0.11811, 1e-4);
    cr_assert(lat->significant);
    cr_assert_eq(lat->direction, -1);
    cr_assert_eq(lat->verdict, +1);
    /* success ratio: d = .01 -.01 .02 .03 0 .01, mean 0.01, half-width 0.0145 -> includes 0 */
    const cmp_row_t *sr = row_of(rows, n, "hedged", "success_ratio");
    assert_close(sr->diff, 0.01, 1e-9);
    cr_assert(sr->diff_half_width > sr->diff);
    cr_assert(!sr->significant);
    cr_assert_eq(sr->verdict, 0);
    free(rows);
    free_reps(rb, N6);
    free_reps(rv, N6);
}

/* Common random numbers at work: replication-to-replication spread (the
 * workload) is 20x the effect, so each variant's interval dwarfs the
 * difference of the means, yet every pair moves the same way. */
Test(compare, paired_difference_significant_where_unpaired_intervals_overlap)
{
    const double b[N6] = {10, 20, 30, 40, 50, 60};
    const double x[N6] = {11.1, 20.9, 31.0, 41.2, 50.8, 61.0};
    const metric_t m[] = {{"goodput_per_s", RS_RATE}};
    const double *pb[] = {b}, *pv[] = {x};
    rs_report_t rb[N6], rv[N6];
    make_reps(rb, N6, m, 1, pb);
    make_reps(rv, N6, m, 1, pv);
    cmp_variant_t v[] = {{"naive", rb, N6}, {"lru", rv, N6}};
    cmp_row_t *rows = NULL;
    size_t n = 0;
    cr_assert_eq(cmp_compute(v, 2, 0, 0.95, &rag_model, &rows, &n), 0);
    const cmp_row_t *base = &rows[0], *r = &rows[1];
    /* unpaired: the intervals overlap widely, the difference of the means is inside both */
    double dm = r->mean - base->mean;
    assert_close(dm, 1.0, 1e-12);
    cr_assert(dm < base->half_width && dm < r->half_width, "hw %g %g", base->half_width, r->half_width);
    cr_assert(r->mean - r->half_width < base->mean + base->half_width);
    /* paired: d = 1.1 .9 1 1.2 .8 1, mean 1, sd 0.14142, half-width 0.14841 */
    assert_close(r->diff, 1.0, 1e-12);
    assert_close(r->diff_half_width, 2.5705818366147 * sqrt(0.02) / sqrt(6.0), 1e-9);
    cr_assert(r->significant);
    cr_assert_eq(r->verdict, +1);
    free(rows);
    free_reps(rb, N6);
    free_reps(rv, N6);
}

Test(compare, nan_values_are_skipped_and_counted)
{
    /* recovery time: NaN = the run did not recover */
    const double b[5] = {10, 12, NAN, 11, 9};
    const double x[5] = {8, NAN, NAN, 8.5, 7.5};
    const double ok[5] = {1, 1, 1, 1, 1};
    const metric_t m[] = {{"arrivals", RS_COUNT}, {INC_RECOVERY_TIME, RS_SECONDS}};
    const double *pb[] = {ok, b}, *pv[] = {ok, x};
    rs_report_t rb[5], rv[5], rw[3];
    make_reps(rb, 5, m, 2, pb);
    make_reps(rv, 5, m, 2, pv);
    /* a third variant: 3 replications (paired with the first 3), no recovery entry at all */
    make_reps(rw, 3, m, 1, pv);
    cmp_variant_t v[] = {{"base", rb, 5}, {"fast", rv, 5}, {"short", rw, 3}};
    cmp_row_t *rows = NULL;
    size_t n = 0;
    cr_assert_eq(cmp_compute(v, 3, 0, 0.95, &rag_model, &rows, &n), 0);
    cr_assert_eq(n, 6);
    const cmp_row_t *rb0 = row_of(rows, n, "base", INC_RECOVERY_TIME);
    cr_assert_eq(rb0->n, 4);
    cr_assert_eq(rb0->nan_count, 1);
    assert_close(rb0->mean, 10.5, 1e-15);
    const cmp_row_t *r = row_of(rows, n, "fast", INC_RECOVERY_TIME);
    cr_assert_eq(r->n, 3);
    cr_assert_eq(r->nan_count, 2);
    assert_close(r->mean, 8.0, 1e-15);
    /* pairs 0, 3, 4: d = -2, -2.5, -1.5; sd 0.5; t(0.975, 2) = 4.3027 */
    cr_assert_eq(r->npaired, 3);
    assert_close(r->diff, -2.0, 1e-15);
    assert_close(r->diff_half_width, 4.302652729911275 * 0.5 / sqrt(3.0), 1e-9);
    cr_assert(r->significant);
    cr_assert_eq(r->verdict, +1, "recovering faster is better");
    /* missing entry: no value in any replication, nothing to pair */
    const cmp_row_t *s = row_of(rows, n, "short", INC_RECOVERY_TIME);
    cr_assert_eq(s->n, 0);
    cr_assert_eq(s->nan_count, 3);
    cr_assert(isnan(s->mean) && isnan(s->half_width));
    cr_assert_eq(s->npaired, 0);
    cr_assert(isnan(s->diff));
    cr_assert(!s->significant);
    cr_assert_eq(s->verdict, 0);
    /* identical arrivals (common random numbers): 0 +- 0, not significant, neutral */
    const cmp_row_t *a = row_of(rows, n, "short", "arrivals");
    cr_assert_eq(a->n, 3);
    cr_assert_eq(a->npaired, 3);
    cr_assert_eq(a->diff, 0.0);
    cr_assert_eq(a->diff_half_width, 0.0);
    cr_assert(!a->significant);
    cr_assert_eq(a->direction, 0);
    free(rows);
    free_reps(rb, 5);
    free_reps(rv, 5);
    free_reps(rw, 3);
}

/* ---- verdicts ----------------------------------------------------------------- */

static const model_direction_t test_directions[] = {
    {"up", +1},
    {"down", -1},
    {"far_down", -7},   /* any negative value is "lower is better" */
    {NULL, 0},
};
static const model_type_t test_model = {.name = "test", .directions = test_directions};

Test(compare, verdicts_follow_each_direction)
{
    const double b[4] = {1, 2, 3, 4};
    const double hi[4] = {2, 3.1, 3.9, 5};       /* +1 +- 0.15: significant increase */
    const double lo[4] = {0, 1.1, 1.9, 3};       /* -1: significant decrease */
    const double noise[4] = {1.5, 1.5, 3.5, 3.5}; /* +.5 -.5 +.5 -.5: not significant */
    const metric_t m[] = {{"up", RS_NUMBER}, {"down", RS_NUMBER}, {"flat", RS_NUMBER}, {"far_down", RS_NUMBER}};
    const double *pb[] = {b, b, b, b}, *ph[] = {hi, hi, hi, noise}, *pl[] = {lo, lo, lo, lo};
    rs_report_t rb[4], rh[4], rl[4];
    make_reps(rb, 4, m, 4, pb);
    make_reps(rh, 4, m, 4, ph);
    make_reps(rl, 4, m, 4, pl);
    cmp_variant_t v[] = {{"higher", rh, 4}, {"base", rb, 4}, {"lower", rl, 4}};
    cmp_row_t *rows = NULL;
    size_t n = 0;
    cr_assert_eq(cmp_compute(v, 3, 1, 0.95, &test_model, &rows, &n), 0);
    cr_assert_eq(n, 12);
    cr_assert_str_eq(rows[0].variant, "higher", "rows keep the variants' order");
    cr_assert(row_of(rows, n, "base", "up")->baseline);

    const struct { const char *v, *m; int dir, verdict; bool sig; } want[] = {
        {"higher", "up", +1, +1, true},    {"higher", "down", -1, -1, true},
        {"higher", "flat", 0, 0, true},    {"higher", "far_down", -1, 0, false},
        {"lower", "up", +1, -1, true},     {"lower", "down", -1, +1, true},
        {"lower", "flat", 0, 0, true},     {"lower", "far_down", -1, +1, true},
        {"base", "up", +1, 0, false},      {"base", "down", -1, 0, false},
    };
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        const cmp_row_t *r = row_of(rows, n, want[i].v, want[i].m);
        cr_assert_eq(r->direction, want[i].dir, "%s/%s direction %d", want[i].v, want[i].m, r->direction);
        cr_assert_eq(r->significant, want[i].sig, "%s/%s significant %d", want[i].v, want[i].m, r->significant);
        cr_assert_eq(r->verdict, want[i].verdict, "%s/%s verdict %d", want[i].v, want[i].m, r->verdict);
    }
    free(rows);
    free_reps(rb, 4);
    free_reps(rh, 4);
    free_reps(rl, 4);
}

/* A metric's direction: the incident metrics', else the model's. */
static int direction_of(const model_type_t *m, const char *metric)
{
    int d = cmp_incident_direction(metric);
    return d ? d : model_direction(m, metric);
}

Test(compare, directions_of_ragsim_metrics)
{
    const char *up[] = {"success", "success_ratio", "goodput_per_s", INC_WORST_WINDOW_SUCCESS, INC_RECOVERED};
    const char *down[] = {"timeout", "error", "rejected", "ungrounded_ratio", "retrieval_empty_ratio",
                          "latency_mean_s", "latency_p50_s", "latency_p95_s", "latency_p99_s", "retrieval_p95_s",
                          "vectordb_oom_kills", INC_TIME_BELOW_SLO, INC_RECOVERY_TIME};
    const char *neutral[] = {"arrivals", "degraded", "llm_input_tokens_mean", INC_PRE_TRIGGER_GOODPUT,
                             "no_such_metric", "Latency_p95_s", "", "completed"};
    for (size_t i = 0; i < sizeof up / sizeof up[0]; i++) cr_assert_eq(direction_of(&rag_model, up[i]), +1, "%s", up[i]);
    for (size_t i = 0; i < sizeof down / sizeof down[0]; i++)
        cr_assert_eq(direction_of(&rag_model, down[i]), -1, "%s", down[i]);
    for (size_t i = 0; i < sizeof neutral / sizeof neutral[0]; i++)
        cr_assert_eq(direction_of(&rag_model, neutral[i]), 0, "%s", neutral[i]);
    /* the queueing network's own */
    cr_assert_eq(direction_of(&network_model, "completed"), +1);
    cr_assert_eq(direction_of(&network_model, "throughput_per_s"), +1);
    cr_assert_eq(direction_of(&network_model, "timed_out"), -1);
    cr_assert_eq(direction_of(&network_model, "latency_p95_s"), -1);
    cr_assert_eq(direction_of(&network_model, "success"), 0, "a RAG metric, not the network's");
    cr_assert_eq(cmp_incident_direction(NULL), 0);
    cr_assert_eq(model_direction(NULL, "success"), 0);
    cr_assert_eq(model_direction(&rag_model, NULL), 0);
}

Test(compare, bad_input_is_refused)
{
    const double b[2] = {1, 2};
    const metric_t m[] = {{"up", RS_NUMBER}};
    const double *pb[] = {b};
    rs_report_t rb[2], empty;
    make_reps(rb, 2, m, 1, pb);
    rs_report_init(&empty);
    rs_report_add(&empty, "calls", "llm", "calls", RS_COUNT, 1);
    cmp_variant_t v[] = {{"base", rb, 2}, {"none", NULL, 0}};
    cmp_variant_t nosum[] = {{"base", &empty, 1}};
    cmp_row_t *rows = (cmp_row_t *)1;
    size_t n = 99;
    cr_assert_eq(cmp_compute(v, 2, 2, 0.95, &rag_model, &rows, &n), SIM_EINVAL, "baseline out of range");
    cr_assert_null(rows, "rows cleared on failure");
    cr_assert_eq(n, 0);
    cr_assert_eq(cmp_compute(v, 2, 1, 0.95, &rag_model, &rows, &n), SIM_EINVAL, "baseline without replications");
    cr_assert_eq(cmp_compute(v, 0, 0, 0.95, &rag_model, &rows, &n), SIM_EINVAL, "no variant");
    cr_assert_eq(cmp_compute(v, 2, 0, 1.0, &rag_model, &rows, &n), SIM_EINVAL, "level 1");
    cr_assert_eq(cmp_compute(v, 2, 0, NAN, &rag_model, &rows, &n), SIM_EINVAL, "level NaN");
    cr_assert_eq(cmp_compute(v, 2, 0, 0.95, &rag_model, NULL, &n), SIM_EINVAL, "no output");
    cr_assert_eq(cmp_compute(nosum, 1, 0, 0.95, &rag_model, &rows, &n), SIM_ENOTFOUND, "no summary section");
    cr_assert_str_eq(sim_strerror(SIM_ENOTFOUND), "not found");
    /* a variant without replications is fine when it is not the baseline: nothing to pair */
    cr_assert_eq(cmp_compute(v, 2, 0, 0.95, &rag_model, &rows, &n), 0);
    cr_assert_eq(n, 2);
    cr_assert_eq(rows[1].n, 0);
    cr_assert_eq(rows[1].npaired, 0);
    cr_assert_eq(rows[1].verdict, 0);
    free(rows);
    free_reps(rb, 2);
    rs_report_fini(&empty);
}

/* ---- the /comparison table -------------------------------------------------------- */

Test(compare, table_rows_hold_the_computed_values)
{
    const metric_t m[] = {{"latency_p95_s", RS_SECONDS}, {"goodput_per_s", RS_RATE}, {"vectordb_oom_kills", RS_COUNT}};
    const double k_b[N6] = {3, 4, 2, 5, 3, 4}, k_v[N6] = {0, 1, 0, 1, 0, 0};
    const double *xb[] = {lat_b, sr_b, k_b}, *xv[] = {lat_v, sr_v, k_v};
    rs_report_t rb[N6], rv[N6];
    make_reps(rb, N6, m, 3, xb);
    make_reps(rv, N6, m, 3, xv);
    rv[2].e[1].value = NAN;   /* replication 2 of the variant: no latency (e[0] is the "calls" entry) */
    cmp_variant_t v[] = {{"naive", rb, N6}, {"hedged", rv, N6}};
    cmp_row_t *rows = NULL;
    size_t n = 0;
    cr_assert_eq(cmp_compute(v, 2, 0, 0.95, &rag_model, &rows, &n), 0);
    sim_table_t t;
    cr_assert_eq(cmp_table(rows, n, &t), 0);
    cr_assert_str_eq(t.name, "comparison");
    const char *cols[] = {"variant", "metric", "unit", "n", "mean", "ci_low", "ci_high", "diff", "diff_ci_low",
                          "diff_ci_high", "n_paired", "direction", "significant", "verdict", "not_recovered"};
    cr_assert_eq(t.ncols, sizeof cols / sizeof cols[0]);
    for (size_t c = 0; c < t.ncols; c++) cr_assert_str_eq(t.cols[c].name, cols[c]);
    cr_assert_eq(t.nrows, 6);

    /* hedged latency, by hand: pairs 0 1 3 4 5, d = -.2 -.05 -.3 -.05 -.3 */
    const double d[5] = {-0.2, -0.05, -0.3, -0.05, -0.3};
    const double x[5] = {1.0, 1.45, 1.8, 1.65, 1.0};
    size_t i = 3;
    cr_assert_str_eq(sim_table_get_str(&t, i, 0), "hedged");
    cr_assert_str_eq(sim_table_get_str(&t, i, 1), "latency_p95_s");
    cr_assert_str_eq(sim_table_get_str(&t, i, 2), "s");
    cr_assert_eq(sim_table_get_i64(&t, i, 3), 5);
    double hw = gsl_hw(x, 5, 0.95), dhw = gsl_hw(d, 5, 0.95), dm = gsl_stats_mean(d, 1, 5);
    assert_close(sim_table_get_f64(&t, i, 4), 1.38, 1e-12);
    assert_close(sim_table_get_f64(&t, i, 5), 1.38 - hw, 1e-12);
    assert_close(sim_table_get_f64(&t, i, 6), 1.38 + hw, 1e-12);
    assert_close(sim_table_get_f64(&t, i, 7), dm, 1e-12);
    assert_close(sim_table_get_f64(&t, i, 8), dm - dhw, 1e-12);
    assert_close(sim_table_get_f64(&t, i, 9), dm + dhw, 1e-12);
    cr_assert_lt(dm + dhw, 0.0);
    cr_assert_eq(sim_table_get_i64(&t, i, 10), 5);
    cr_assert_eq(sim_table_get_i64(&t, i, 11), -1);
    cr_assert_eq(sim_table_get_i64(&t, i, 12), 1);
    cr_assert_eq(sim_table_get_i64(&t, i, 13), +1);
    cr_assert_eq(sim_table_get_i64(&t, i, 14), 1);
    /* units by kind */
    cr_assert_str_eq(sim_table_get_str(&t, 4, 2), "1/s");
    cr_assert_str_eq(sim_table_get_str(&t, 5, 2), "1");
    /* the baseline row: a zero difference */
    cr_assert_str_eq(sim_table_get_str(&t, 0, 0), "naive");
    cr_assert_eq(sim_table_get_f64(&t, 0, 7), 0.0);
    cr_assert_eq(sim_table_get_i64(&t, 0, 13), 0);
    cr_assert_eq(sim_table_get_i64(&t, 0, 14), 0);
    /* oom kills: 3.5 -> 0.33, d = -3 -3 -2 -4 -3 -4: fewer is better */
    cr_assert_eq(sim_table_get_i64(&t, 5, 13), +1);
    assert_close(sim_table_get_f64(&t, 5, 7), -19.0 / 6, 1e-12);
    sim_table_fini(&t);
    cr_assert_eq(cmp_table(rows, n, NULL), SIM_EINVAL);
    cr_assert_eq(cmp_table(NULL, 3, &t), SIM_EINVAL);
    cr_assert_eq(t.nrows, 0);
    sim_table_fini(&t);
    free(rows);
    free_reps(rb, N6);
    free_reps(rv, N6);
}

/* ---- printed table ------------------------------------------------------------- */

static char *print_to_string(const cmp_row_t *rows, size_t n, const char *const *metrics, size_t nm,
                             const char *baseline)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    cr_assert_not_null(f);
    cmp_print(f, rows, n, metrics, nm, baseline);
    fclose(f);
    return buf;
}

static int utf8_width(const char *s, size_t n)
{
    int w = 0;
    for (size_t i = 0; i < n; i++) w += ((unsigned char)s[i] & 0xC0) != 0x80;
    return w;
}

Test(compare, printed_table_has_markers_units_and_fits_100_columns)
{
    const metric_t m[] = {{"arrivals", RS_COUNT},      {"success_ratio", RS_RATIO},
                          {"goodput_per_s", RS_RATE},  {"latency_p95_s", RS_SECONDS},
                          {"vectordb_oom_kills", RS_COUNT}, {INC_RECOVERY_TIME, RS_SECONDS}};
    const double arr[N6] = {600, 610, 590, 605, 595, 600};
    const double gb[N6] = {10, 20, 30, 40, 50, 60}, gv[N6] = {11.1, 20.9, 31.0, 41.2, 50.8, 61.0};
    const double kb[N6] = {0, 1, 0, 1, 0, 0}, kv[N6] = {3, 4, 2, 5, 3, 4};
    const double recb[N6] = {20, 25, 22, 30, 24, 26}, recv[N6] = {15, NAN, 17, NAN, 18, 20};
    const double *xb[] = {arr, sr_b, gb, lat_b, kb, recb}, *xv[] = {arr, sr_v, gv, lat_v, kv, recv};
    rs_report_t rb[N6], rv[N6];
    make_reps(rb, N6, m, 6, xb);
    make_reps(rv, N6, m, 6, xv);
    cmp_variant_t v[] = {{"hedged-with-a-long-name", rv, N6}, {"naive", rb, N6}};
    cmp_row_t *rows = NULL;
    size_t n = 0;
    cr_assert_eq(cmp_compute(v, 2, 1, 0.95, &rag_model, &rows, &n), 0);
    char *s = print_to_string(rows, n, NULL, 0, "naive");
    cr_assert(strstr(s, "compared with 'naive' over 6 replications"), "%s", s);
    cr_assert(strstr(s, "▲ +1.00 ± 0.15/s"), "goodput better: %s", s);   /* paired 1 +- 0.148 */
    cr_assert(strstr(s, "35 ± 20/s"), "baseline goodput: %s", s);       /* 35 +- 19.6 */
    cr_assert(strstr(s, "▲ -183 ± 118 ms"), "latency better: %s", s);  /* -0.1833 +- 0.1181 s */
    cr_assert(strstr(s, "▼ +3.17 ± "), "oom kills worse: %s", s);
    cr_assert(strstr(s, "= n.s. +0.010 ± 0.015"), "success ratio not significant: %s", s);
    cr_assert(strstr(s, "= n.s. 0 ± 0"), "identical arrivals: %s", s);
    cr_assert(strstr(s, "hedged-with-a-long-name, recovery_time_s: did not recover in 2 of 6 replications;\n"
                        "  the difference uses the 4 where both have one"), "%s", s);
    cr_assert(strstr(s, "▲ better  ▼ worse  = n.s."), "legend: %s", s);
    /* the baseline's row comes first */
    cr_assert(strstr(s, "\nnaive ") < strstr(s, "\nhedged-with-a-long-name "), "%s", s);
    /* every line fits 100 display columns, so six metrics wrap into two blocks */
    int blocks = 0;
    for (const char *p = s; *p;) {
        const char *e = strchr(p, '\n');
        size_t len = e ? (size_t)(e - p) : strlen(p);
        cr_assert_leq(utf8_width(p, len), 100, "line too wide: %.*s", (int)len, p);
        blocks += !strncmp(p, "variant ", 8);
        p += len + (e != NULL);
    }
    cr_assert_eq(blocks, 2, "%s", s);
    free(s);

    /* chosen columns in the given order; an unknown one shows "-" */
    const char *pick[] = {"latency_p95_s", "nope"};
    s = print_to_string(rows, n, pick, 2, NULL);
    const char *hdr = strstr(s, "\nvariant ");
    cr_assert_not_null(hdr, "%s", s);
    cr_assert(strstr(hdr, "latency_p95_s") < strstr(hdr, "nope") && strstr(hdr, "nope") < strchr(hdr + 1, '\n'),
              "%s", s);
    cr_assert(strstr(s, "  -\n"), "a missing metric shows -: %s", s);
    cr_assert_null(strstr(s, "goodput"), "%s", s);
    cr_assert(strstr(s, "compared with 'naive'"), "the row marked baseline: %s", s);
    free(s);
    free(rows);
    free_reps(rb, N6);
    free_reps(rv, N6);
}
