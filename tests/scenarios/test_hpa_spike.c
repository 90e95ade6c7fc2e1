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

/* Run a scenario given as text; the trace is opened, *out and *scen
 * receive the paths (the caller unlinks and frees them). */
static hid_t run_text(const char *stem, const char *text, char **scen, char **out)
{
    *scen = tu_tmp_path(stem, ".yaml");
    *out = tu_tmp_path(stem, ".h5");
    cr_assert_eq(tu_write_file(*scen, text), 0);
    const char *argv[] = {RAGSIM_BINARY, "run", *scen, "-q", "-o", *out, NULL};
    tu_run_t r = tu_run(argv);
    cr_assert_eq(r.status, 0, "%s", r.err);
    tu_run_free(&r);
    hid_t f = H5Fopen(*out, H5F_ACC_RDONLY, H5P_DEFAULT);
    cr_assert_geq(f, 0);
    return f;
}

static void done_text(hid_t f, char *scen, char *out)
{
    H5Fclose(f);
    unlink(out);
    unlink(scen);
    free(out);
    free(scen);
}

Test(hpa_spike, gateway_hand_trace_up_on_cpu_then_down_after_the_window)
{
    /* One gateway replica of 1 core, 20 ms of CPU per request, a request
     * every 25 ms (40/s) for 60 s, then 2/s; the HPA on cpu, target 40%,
     * startup 10 s. Requests arrive at 25 ms, 50 ms ...:
     *   15 s  cpu (599 x 20 ms) / 15 s = 0.799: ceil(1 x 2.0) = 2 -> scale_up 2
     *   25 s  gateway/1 ready; round robin: 0.4 each
     *   30 s  gateway/0 (10 s x 0.8 + 5 s x 0.4) / 15 = 0.667, gateway/1 0.4
     *         over its 5 ready seconds: ratio 1.333, ceil(2.667) = 3 -> scale_up 3
     *   40 s  gateway/2 ready; 45 s: ratio 0.815, ceil(2.44) = 3, no change
     *   345 s the recommendations of 3 leave the 300 s window -> 2 (that
     *         of 60 s), 360 s -> 1; each replica removed is idle: at once
     * Requests allocate nothing, so the Go runtime never marks anything: on
     * 1 core its fractional mark worker would take a quarter of the core
     * during marks, CPU the HPA sees (a real container's usage includes it). */
    char *scen, *out;
    hid_t f = run_text("gw-hpa",
                       "name: gw-hpa\nduration: 6m\nwarmup: 0s\nsample_interval: 5s\n"
                       "workload:\n  arrivals: deterministic\n  profile:\n    - {for: 60s, rate: 40/s}\n    - {rate: 2/s}\n"
                       "gateway:\n  replicas: 1\n  cores: 1\n  handling: {pre: 20ms, post: 0s}\n"
                       "  memory: {request_alloc: 0B, request_live: 0B}\n  startup: 10s\n"
                       "  autoscale: {max_replicas: 4, metric: cpu, target: 40%}\n"
                       "pipeline: {steps: [guardrail]}\n"
                       "dependencies:\n  guardrail: {replicas: 2, concurrency: 32, latency: 5ms}\n",
                       &scen, &out);
    evrow_t *ev;
    size_t n = events(f, "/runs/default/rep000", &ev);
    static const struct { const char *kind, *source; double time, value; } want[] = {
        {"scale_up", "gateway", 15, 2},   {"replica_ready", "gateway/1", 25, 0}, {"scale_up", "gateway", 30, 3},
        {"replica_ready", "gateway/2", 40, 0}, {"scale_down", "gateway", 345, 2}, {"replica_removed", "gateway/2", 345, 0},
        {"scale_down", "gateway", 360, 1}, {"replica_removed", "gateway/1", 360, 0},
    };
    size_t k = 0;
    for (size_t i = 0; i < sizeof want / sizeof *want; i++) {
        k = next_event(ev, n, k, want[i].kind);
        cr_assert_lt(k, n, "no %s after the previous expected event", want[i].kind);
        cr_assert_str_eq(ev[k].source, want[i].source, "%s", want[i].kind);
        cr_assert_float_eq(ev[k].time, want[i].time, 1e-9, "%s of %s", want[i].kind, want[i].source);
        cr_assert_float_eq(ev[k].value, want[i].value, 1e-9, "%s", want[i].kind);
        k++;
    }
    int ups = 0;
    for (size_t i = 0; i < n; i++) ups += strcmp(ev[i].kind, "scale_up") == 0;
    cr_assert_eq(ups, 2, "two scale-ups only");
    series_t d = series(f, "/runs/default/rep000", "gateway_replicas_desired");
    series_t up = series(f, "/runs/default/rep000", "replicas_up{component=gateway}");
    cr_assert_eq(d.v[20 / 5 - 1], 2);
    cr_assert_eq(up.v[20 / 5 - 1], 1, "wanted, starting, not ready");
    cr_assert_eq(up.v[50 / 5 - 1], 3);
    cr_assert_eq(d.v[d.n - 1], 1);
    cr_assert_eq(summary_value(f, 0, "success_ratio"), 1);
    free(d.v);
    free(up.v);
    free(ev);
    done_text(f, scen, out);
}

Test(hpa_spike, gateway_scale_down_drains_the_requests_it_holds)
{
    /* Two gateway replicas, requests every 100 ms that hold their replica
     * 3 s (a 3 s dependency call); the HPA on requests in flight, target
     * 100, no scale-down window: at the first sync (15 s) each holds ~15,
     * ratio 0.15: down to 1. gateway/1 leaves the load balancer at once and
     * is removed when its last request ends, 3 s later; no request fails. */
    char *scen, *out;
    hid_t f = run_text("gw-drain",
                       "name: gw-drain\nduration: 40s\nwarmup: 0s\nsample_interval: 1s\n"
                       "workload:\n  arrivals: deterministic\n  rate: 10/s\n  deadline: 30s\n"
                       "gateway:\n  replicas: 2\n  handling: {pre: 2ms, post: 1ms}\n"
                       "  autoscale: {max_replicas: 2, metric: inflight, target: 100, down: {window: 0s}}\n"
                       "pipeline: {steps: [slow]}\ncalls:\n  slow: {timeout: 10s}\n"
                       "dependencies:\n  slow: {replicas: 1, concurrency: 1000, latency: 3s}\n",
                       &scen, &out);
    evrow_t *ev;
    size_t n = events(f, "/runs/default/rep000", &ev);
    size_t k = next_event(ev, n, 0, "scale_down");
    cr_assert_lt(k, n);
    cr_assert_float_eq(ev[k].time, 15, 1e-9);
    cr_assert_eq(ev[k].value, 1);
    size_t r = next_event(ev, n, k, "replica_removed");
    cr_assert_lt(r, n);
    cr_assert_str_eq(ev[r].source, "gateway/1");
    /* round robin gives it every other request: its last came at 14.8 or
     * 14.9 s and ends 3 s + 3 ms of CPU later */
    cr_assert_geq(ev[r].time, 14.8 + 3.003 - 1e-9, "drained: its requests held 3 s");
    cr_assert_leq(ev[r].time, 14.9 + 3.003 + 1e-9, "removed with its last request");
    cr_assert_eq(summary_value(f, 0, "success_ratio"), 1, "the scale-down fails no request");
    free(ev);
    done_text(f, scen, out);
}
