/* scenarios/hpa-spike.yaml does what its comment says: the autoscaler's
 * first scale-up comes at the first 15 s sync after the spike (5:00), 2 ->
 * 4; the new replicas are ready `startup` (30 s) later, and no sync in
 * between adds more (the starting pods count as using nothing); a spike
 * that outruns it fails far longer; the replicas go only 300 s after the
 * spike (the stabilisation window), each drained. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "h5util.h"
#include "testutil.h"

static size_t next_event(const evrow_t *ev, size_t n, size_t from, const char *kind)
{
    for (size_t i = from; i < n; i++)
        if (strcmp(ev[i].kind, kind) == 0) return i;
    return n;
}

Test(hpa_spike, the_autoscaler_lags_by_a_sync_and_a_startup)
{
    char *path;
    hid_t f = run_scenario("scenarios/hpa-spike.yaml", "caught", &path, NULL);
    const char *run = "/runs/caught/rep000";
    evrow_t *ev;
    size_t n = events(f, run, &ev);
    size_t k = next_event(ev, n, 0, "scale_up");
    cr_assert_lt(k, n, "no scale-up");
    cr_assert_float_eq(ev[k].time, 315.0, 1e-9, "the first sync after the spike at 300 s");
    cr_assert_eq(ev[k].value, 4, "CPU <= 100%% at a 60%% target: ceil(2 x 1.67) at most 4");
    size_t r = next_event(ev, n, k + 1, "replica_ready");
    cr_assert_lt(r, n);
    cr_assert_float_eq(ev[r].time, 345.0, 1e-9, "ready 30 s (startup) later");
    size_t k2 = next_event(ev, n, k + 1, "scale_up");
    cr_assert_lt(k2, n);
    cr_assert_geq(ev[k2].time, 345.0, "no scale-up while the first new replicas start");
    /* the replicas wanted are in the trace */
    series_t want = series(f, run, "vectordb_replicas_desired");
    series_t up = series(f, run, "replicas_up{component=vectordb}");
    cr_assert_eq(want.v[295 / 5], 2);
    cr_assert_eq(want.v[330 / 5], 4);
    cr_assert_eq(up.v[330 / 5], 2, "wanted but not ready yet");
    /* scale-down: nothing within 300 s of the last scale-up (the spike runs to 15:10) */
    size_t d = next_event(ev, n, 0, "scale_down");
    cr_assert_lt(d, n);
    double last_up = 0;
    for (size_t i = 0; i < d; i++)
        if (strcmp(ev[i].kind, "scale_up") == 0) last_up = ev[i].time;
    cr_assert_geq(ev[d].time, last_up + 300, "scale-down %g s, last scale-up %g s", ev[d].time, last_up);
    /* replicas scaled away are removed once drained */
    int removed = 0;
    for (size_t i = d; i < n; i++) removed += strcmp(ev[i].kind, "replica_removed") == 0;
    free(ev);
    free(want.v);
    free(up.v);
    H5Fclose(f);
    unlink(path);
    free(path);
    cr_assert_gt(removed, 0);
}

Test(hpa_spike, a_spike_that_outruns_it)
{
    char *path;
    hid_t f = run_scenario("scenarios/hpa-spike.yaml", "outrun,caught", &path, NULL);
    series_t sc = series(f, "/runs/caught/rep000", "success_ratio");
    series_t so = series(f, "/runs/outrun/rep000", "success_ratio");
    /* intervals of the spike's first 3 minutes (5:00 - 8:00) below 50% success */
    int bad_c = 0, bad_o = 0;
    for (size_t i = 300 / 5; i < 480 / 5; i++) {
        bad_c += sc.v[i] < 0.5;
        bad_o += so.v[i] < 0.5;
    }
    cr_log_info("intervals below 50%% success: caught %d, outrun %d (of 36)", bad_c, bad_o);
    cr_assert_lt(bad_c, 12, "the autoscaler catches a 2.5x spike within a minute or so");
    cr_assert_gt(bad_o, 2 * bad_c, "a 7.5x spike outruns it");
    evrow_t *ev;
    size_t n = events(f, "/runs/outrun/rep000", &ev);
    /* 2 -> 4 -> 7 -> 12: each step waits for the last one's replicas */
    double want[] = {4, 7, 12};
    size_t k = 0;
    for (int i = 0; i < 3; i++) {
        k = next_event(ev, n, k, "scale_up");
        cr_assert_lt(k, n, "step %d", i);
        cr_assert_eq(ev[k].value, want[i], "step %d: %g", i, ev[k].value);
        k++;
    }
    free(ev);
    free(sc.v);
    free(so.v);
    H5Fclose(f);
    unlink(path);
    free(path);
}

Test(hpa_spike, llm_replicas_load_their_weights_before_they_count)
{
    /* one H100 replica of Llama-3-8B; at 2:00 the rate goes 5/s -> 20/s;
     * autoscaled on sequences in flight (target 64 per replica), weights
     * load for 60 s */
    char *scen = tu_tmp_path("llm-hpa", ".yaml");
    cr_assert_eq(tu_write_file(scen, "name: llm-hpa\nduration: 5m\nsample_interval: 5s\nworkload:\n  profile:\n"
                                     "    - {for: 2m, rate: 5/s}\n    - {rate: 20/s}\n  deadline: 60s\n"
                                     "pipeline:\n  steps: [embed, retrieve, generate]\ncalls:\n  generate: {timeout: 60s}\n"
                                     "llm:\n  replicas: 1\n  hardware: {gpu: h100-sxm, model: Meta-Llama-3-8B, tp: 1}\n"
                                     "  startup: 60s\n"
                                     "  autoscale: {min_replicas: 1, max_replicas: 4, metric: inflight, target: 64}\n"),
                 0);
    char *out = tu_tmp_path("llm-hpa", ".h5");
    const char *argv[] = {RAGSIM_BINARY, "run", scen, "-q", "-o", out, NULL};
    tu_run_t r = tu_run(argv);
    cr_assert_eq(r.status, 0, "%s", r.err);
    tu_run_free(&r);
    hid_t f = H5Fopen(out, H5F_ACC_RDONLY, H5P_DEFAULT);
    cr_assert_geq(f, 0);
    evrow_t *ev;
    size_t n = events(f, "/runs/default/rep000", &ev);
    size_t k = next_event(ev, n, 0, "scale_up");
    cr_assert_lt(k, n);
    cr_assert_str_eq(ev[k].source, "llm");
    cr_assert_float_eq(ev[k].time, 135.0, 1e-9, "the first sync after the step at 120 s");
    /* how many: ceil(sequences per ready replica / 64), which depends on
     * the whole request path's timing; at least one more */
    cr_assert_geq(ev[k].value, 2);
    size_t rd = next_event(ev, n, k + 1, "replica_ready");
    cr_assert_lt(rd, n);
    cr_assert_str_eq(ev[rd].source, "llm/1");
    cr_assert_float_eq(ev[rd].time, 195.0, 1e-9, "ready after loading its weights (startup 60 s)");
    series_t want = series(f, "/runs/default/rep000", "llm_replicas_desired");
    series_t up = series(f, "/runs/default/rep000", "llm_replicas_up");
    cr_assert_eq(want.v[150 / 5], ev[k].value);
    cr_assert_eq(up.v[150 / 5], 1, "wanted, loading, not counted");
    free(want.v);
    free(up.v);
    free(ev);
    H5Fclose(f);
    unlink(out);
    unlink(scen);
    free(out);
    free(scen);
}
