/* scenarios/class-priority.yaml does what its comment says: under a 1.8x
 * overload of the LLM, vLLM's priority scheduling answers all of the
 * premium class, at the latency it has alone (the same arrivals with the
 * free class absent) but for the slower steps of a full batch: its
 * latency grows by the time per output token's ratio and no more (it
 * does not queue); the free class takes the whole overload. Served in
 * arrival order (variant fcfs) both classes fail alike. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <unistd.h>

#include "h5util.h"
#include "testutil.h"

static void close_run(hid_t f, char *path)
{
    H5Fclose(f);
    unlink(path);
    free(path);
}

Test(class_priority, the_premium_class_keeps_its_latency_and_the_free_one_takes_the_overload, .timeout = 600)
{
    char *path;
    hid_t f = run_scenario("scenarios/class-priority.yaml", "priority,fcfs", &path, NULL);
    double p_ok = summary_value(f, 0, "success_ratio{class=premium}");
    double p_p50 = summary_value(f, 0, "latency_p50_s{class=premium}");
    double p_p95 = summary_value(f, 0, "latency_p95_s{class=premium}");
    double f_ok = summary_value(f, 0, "success_ratio{class=free}");
    double c_pok = summary_value(f, 1, "success_ratio{class=premium}");
    double c_fok = summary_value(f, 1, "success_ratio{class=free}");
    double c_p50 = summary_value(f, 1, "latency_p50_s{class=premium}");
    double p_tpot = summary_value(f, 0, "llm_tpot_p95_s");
    close_run(f, path);
    /* the premium class alone: its 15 requests/s, nobody else */
    const char *alone[] = {"workload.rate=15/s", "workload.classes.premium.share=100%",
                           "workload.classes.free.share=0%", NULL};
    f = run_scenario("scenarios/class-priority.yaml", "priority", &path, alone);
    double a_ok = summary_value(f, 0, "success_ratio{class=premium}");
    double a_p50 = summary_value(f, 0, "latency_p50_s{class=premium}");
    double a_p95 = summary_value(f, 0, "latency_p95_s{class=premium}");
    double a_tpot = summary_value(f, 0, "llm_tpot_p95_s");
    close_run(f, path);
    double slower = p_tpot / a_tpot;   /* a full batch's steps against the premium class's own */
    cr_log_info("premium: alone %.4f success, p50 %.3f s, p95 %.3f s; with priority %.4f, %.3f s, %.3f s; "
                "fcfs %.4f, p50 %.3f s. free: priority %.4f, fcfs %.4f. TPOT p95 %.3f ms alone, %.3f ms",
                a_ok, a_p50, a_p95, p_ok, p_p50, p_p95, c_pok, c_p50, f_ok, c_fok, 1e3 * a_tpot, 1e3 * p_tpot);
    cr_assert_gt(a_ok, 0.999, "alone, the premium class is served: %g", a_ok);
    cr_assert_gt(p_ok, 0.99, "priority: premium success %g", p_ok);
    cr_assert_lt(slower, 1.3, "a batch of max_num_seqs steps at most 30%% slower (%g)", slower);
    cr_assert_lt(p_p50, 1.05 * slower * a_p50, "priority: premium p50 %g s against %g s alone (x%g)", p_p50, a_p50,
                 slower);
    cr_assert_lt(p_p95, 1.05 * slower * a_p95, "priority: premium p95 %g s against %g s alone (x%g)", p_p95, a_p95,
                 slower);
    cr_assert_lt(f_ok, 0.3, "priority: the free class takes the overload (%g)", f_ok);
    cr_assert_lt(c_pok, 0.5, "fcfs: premium success %g", c_pok);
    cr_assert_lt(fabs(c_pok - c_fok), 0.05, "fcfs: both classes alike (%g, %g)", c_pok, c_fok);
    cr_assert_gt(c_p50, 5 * a_p50, "fcfs: premium p50 %g s", c_p50);
}

/* The per-class series: a class that has every request has the run's own
 * success ratio and latency p95 at every sample; a class with none has no
 * value (NaN) at any; and in the overload, the premium class's samples
 * stay at 100% success while the free class's fall. */
Test(class_priority, per_class_series_match_the_runs_own, .timeout = 600)
{
    char *path;
    const char *all[] = {"workload.classes.premium.share=100%", "workload.classes.free.share=0%", NULL};
    hid_t f = run_scenario("scenarios/class-priority.yaml", "priority", &path, all);
    const char *run = "/runs/priority/rep000";
    series_t ok = series(f, run, "success_ratio"), p95 = series(f, run, "latency_p95_seconds");
    series_t cok = series(f, run, "success_ratio{class=premium}"), cp95 = series(f, run, "latency_p95_seconds{class=premium}");
    series_t fok = series(f, run, "success_ratio{class=free}"), fp95 = series(f, run, "latency_p95_seconds{class=free}");
    cr_assert_eq(ok.n, 300, "one sample a second for the 5 measured minutes");
    cr_assert_eq(cok.n, ok.n);
    size_t valued = 0;
    for (size_t i = 0; i < ok.n; i++) {
        cr_assert(isnan(ok.v[i]) ? isnan(cok.v[i]) : ok.v[i] == cok.v[i], "sample %zu: %g, class %g", i, ok.v[i], cok.v[i]);
        cr_assert(isnan(p95.v[i]) ? isnan(cp95.v[i]) : p95.v[i] == cp95.v[i], "sample %zu: %g, class %g", i, p95.v[i],
                  cp95.v[i]);
        cr_assert(isnan(fok.v[i]) && isnan(fp95.v[i]), "sample %zu: the free class has no request", i);
        valued += !isnan(cok.v[i]);
    }
    cr_assert_gt(valued, 290);
    free(ok.v), free(p95.v), free(cok.v), free(cp95.v), free(fok.v), free(fp95.v);
    close_run(f, path);

    f = run_scenario("scenarios/class-priority.yaml", "priority", &path, NULL);
    cok = series(f, run, "success_ratio{class=premium}");
    fok = series(f, run, "success_ratio{class=free}");
    size_t low_premium = 0, low_free = 0;
    for (size_t i = 30; i < cok.n; i++) {   /* past the first deadlines of the measured part */
        low_premium += cok.v[i] < 0.99;
        low_free += fok.v[i] < 0.5;
    }
    cr_log_info("samples from 30 s on below 99%% success: premium %zu; below 50%%: free %zu (of %zu)", low_premium,
                low_free, cok.n - 30);
    cr_assert_eq(low_premium, 0);
    cr_assert_gt(low_free, (cok.n - 30) * 8 / 10);
    free(cok.v), free(fok.v);
    close_run(f, path);
}
