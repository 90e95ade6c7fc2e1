/* A whole run: the trace's layout and contents read back with the HDF5 API
 * and compared with the runner's own results; warm-up; the effective
 * scenario stored in the trace re-loads to the same scenario. */
#include <criterion/criterion.h>
#include <hdf5.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "models/queueing/network.h"
#include "h5util.h"
#include "experiment/runner.h"
#include "testutil.h"

/* A string attribute: variable-length UTF-8 (format 4). Caller frees. */
static char *attr_str(hid_t obj, const char *name)
{
    hid_t a = H5Aopen(obj, name, H5P_DEFAULT);
    cr_assert_geq(a, 0, "attribute %s missing", name);
    hid_t t = H5Aget_type(a), sp = H5Aget_space(a);
    cr_assert(H5Tis_variable_str(t) > 0 && H5Tget_cset(t) == H5T_CSET_UTF8, "%s: a variable-length UTF-8 string",
              name);
    char *v = NULL;
    cr_assert_geq(H5Aread(a, t, &v), 0);
    char *s = strdup(v ? v : "");
    H5Dvlen_reclaim(t, sp, H5P_DEFAULT, &v);
    H5Sclose(sp);
    H5Tclose(t);
    H5Aclose(a);
    return s;
}

static int64_t attr_i64(hid_t obj, const char *name)
{
    int64_t v = -1;
    hid_t a = H5Aopen(obj, name, H5P_DEFAULT);
    cr_assert_geq(a, 0, "attribute %s missing", name);
    cr_assert_geq(H5Aread(a, H5T_NATIVE_INT64, &v), 0);
    H5Aclose(a);
    return v;
}

typedef struct {
    char *name;   /* variable-length: allocated by HDF5, H5Dvlen_reclaim frees it */
    int64_t arrivals, completions;
    double util, wait;
} strow_t;

Test(run, trace_holds_what_the_run_computed, .timeout = 120)
{
    char *out = tu_tmp_path("run", ".h5");
    const char *argv[] = {RAGSIM_BINARY, "run", tu_src("scenarios/validation/mmc.yaml"), "-q", "--reps", "2",
                          "--set", "duration=30m", "--set", "sample_interval=1m", "-o", out, NULL};
    tu_run_t r = tu_run(argv);
    cr_assert_eq(r.status, 0, "%s", r.err);
    tu_run_free(&r);

    /* the same runs in-process */
    sim_diag_t d;
    sim_diag_init(&d);
    rs_scenario_t s;
    const char *sets[] = {"duration=30m", "sample_interval=1m"};
    cr_assert_eq(rs_load(&s, tu_src("scenarios/validation/mmc.yaml"), sets, 2, &d), 0);

    hid_t f = H5Fopen(out, H5F_ACC_RDONLY, H5P_DEFAULT);
    cr_assert_geq(f, 0);
    char *fmt = attr_str(f, "format");
    cr_assert_str_eq(fmt, "ragsim-trace");
    cr_assert_eq(attr_i64(f, "format_version"), 4);
    cr_assert_eq(attr_i64(f, "master_seed"), 1);
    cr_assert_eq(attr_i64(f, "complete"), 1);
    char *name = attr_str(f, "scenario_name");
    cr_assert_str_eq(name, "mmc");
    char *yaml = attr_str(f, "scenario_yaml");
    cr_assert_str_eq(yaml, s.yaml, "scenario_yaml must be the effective scenario");
    cr_assert(strstr(yaml, "duration: 30m"), "overrides applied: %s", yaml);
    char *src = attr_str(f, "scenario_source");
    cr_assert(strstr(src, "# M/M/c"), "the source keeps comments");

    /* the effective YAML re-loads to a scenario with the same parameters */
    sim_cfg_t *again = sim_cfg_load_string("scenario_yaml", yaml, strlen(yaml), &d);
    cr_assert_not_null(again, "%s", sim_diag_text(&d));
    sim_scenario_t sc2;
    cr_assert_eq(sim_scenario_parse(&d, sim_cfg_root(again), &sc2), 0);
    cr_assert_eq(sc2.duration, 30 * SIM_MIN);
    sim_cfg_destroy(again);

    for (uint32_t rep = 0; rep < 2; rep++) {
        rs_result_t res;
        cr_assert_eq(rs_run_one(&s, 0, rep, 1, 0, NULL, &res), 0);
        char path[128];
        snprintf(path, sizeof path, "/runs/default/rep%03u", rep);
        hid_t g = H5Gopen2(f, path, H5P_DEFAULT);
        cr_assert_geq(g, 0, "%s missing", path);
        cr_assert_eq(attr_i64(g, "replication"), rep);
        cr_assert_eq(attr_i64(g, "events_processed"), (int64_t)sim_events_processed(res.sim));
        /* stations table */
        hid_t ds = H5Dopen2(g, "stations", H5P_DEFAULT);
        hid_t mt = H5Tcreate(H5T_COMPOUND, sizeof(strow_t));
        hid_t st = H5Tcopy(H5T_C_S1);
        H5Tset_size(st, H5T_VARIABLE);     /* the trace stores variable-length UTF-8 strings */
        H5Tset_cset(st, H5T_CSET_UTF8);
        H5Tinsert(mt, "name", offsetof(strow_t, name), st);
        H5Tinsert(mt, "arrivals", offsetof(strow_t, arrivals), H5T_NATIVE_INT64);
        H5Tinsert(mt, "completions", offsetof(strow_t, completions), H5T_NATIVE_INT64);
        H5Tinsert(mt, "utilization", offsetof(strow_t, util), H5T_NATIVE_DOUBLE);
        H5Tinsert(mt, "mean_wait_s", offsetof(strow_t, wait), H5T_NATIVE_DOUBLE);
        strow_t row;
        cr_assert_geq(H5Dread(ds, mt, H5S_ALL, H5S_ALL, H5P_DEFAULT, &row), 0);
        const station_t *stn = &((net_t *)res.inst)->st[0];
        cr_assert_str_eq(row.name, "server");
        cr_assert_eq(row.arrivals, (int64_t)stn->n.arrivals);
        cr_assert_eq(row.completions, (int64_t)stn->n.completions);
        cr_assert_eq(row.util, stn_utilization(stn));
        cr_assert_eq(row.wait, sim_tmean_s(&stn->wait_s));
        hid_t one = H5Screate(H5S_SCALAR);
        H5Dvlen_reclaim(mt, one, H5P_DEFAULT, &row);
        H5Sclose(one);
        H5Tclose(st);
        H5Tclose(mt);
        H5Dclose(ds);
        /* time series: 30 samples at 1-minute intervals; t = 60, 120, ... */
        ds = H5Dopen2(g, "timeseries/t", H5P_DEFAULT);
        double t[64];
        hid_t sp = H5Dget_space(ds);
        cr_assert_eq(H5Sget_simple_extent_npoints(sp), 30);
        H5Dread(ds, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, t);
        for (int i = 0; i < 30; i++) cr_assert_eq(t[i], 60.0 * (i + 1));
        H5Sclose(sp);
        H5Dclose(ds);
        series_t q = series(f, path, "station_queue_length{station=server}");
        cr_assert_eq(q.n, 30);
        cr_assert_eq(q.v[29], (double)stn->nqueue, "last sample = queue at the end");
        free(q.v);
        char unit[32] = "";
        cr_assert_geq(series_row(f, path, "station_queue_length{station=server}", unit, sizeof unit), 0);
        cr_assert_str_eq(unit, "1");
        H5Gclose(g);
        rs_result_free(&res);
    }
    /* summary: one row per run */
    hid_t ds = H5Dopen2(f, "/summary", H5P_DEFAULT);
    hid_t sp = H5Dget_space(ds);
    cr_assert_eq(H5Sget_simple_extent_npoints(sp), 2);
    H5Sclose(sp);
    H5Dclose(ds);
    H5Fclose(f);
    free(fmt);
    free(name);
    free(yaml);
    free(src);
    rs_unload(&s);
    sim_diag_fini(&d);
    unlink(out);
    free(out);
}

Test(run, warmup_discards_earlier_observations)
{
    /* M/M/10 at 9/s for 1 h with a 30-min warm-up: the station counts only
     * arrivals of the last 30 minutes (about 16200, Poisson sd 127). */
    sim_diag_t d;
    sim_diag_init(&d);
    rs_scenario_t s;
    const char *sets[] = {"duration=1h", "warmup=30m"};
    cr_assert_eq(rs_load(&s, tu_src("scenarios/validation/mmc.yaml"), sets, 2, &d), 0);
    rs_result_t res;
    cr_assert_eq(rs_run_one(&s, 0, 0, 1, 0, NULL, &res), 0);
    double arr = (double)((net_t *)res.inst)->st[0].n.arrivals;
    cr_assert_lt(fabs(arr - 16200) / sqrt(16200.0), 4.0, "arrivals after warm-up: %.0f", arr);
    cr_assert_lt(fabs((double)((net_t *)res.inst)->arrivals - 16200) / sqrt(16200.0), 4.0);
    rs_result_free(&res);
    rs_unload(&s);
    sim_diag_fini(&d);
}

Test(run, existing_trace_survives_a_failed_run)
{
    char *out = tu_tmp_path("keep", ".h5");
    cr_assert_eq(tu_write_file(out, "previous trace"), 0);
    /* the event budget stops the run: exit 1, but the trace is replaced (with
     * --force) by a complete file marked incomplete, never a half-written one */
    const char *argv[] = {RAGSIM_BINARY, "run", tu_src("scenarios/validation/mm1.yaml"), "-q",
                          "--max-events", "1000", "-o", out, "--force", NULL};
    tu_run_t r = tu_run(argv);
    cr_assert_eq(r.status, 1, "%s", r.err);
    tu_run_free(&r);
    hid_t f = H5Fopen(out, H5F_ACC_RDONLY, H5P_DEFAULT);
    cr_assert_geq(f, 0, "the trace must be a complete HDF5 file");
    cr_assert_eq(attr_i64(f, "complete"), 0);
    H5Fclose(f);
    unlink(out);
    free(out);
}

/* The run's series go three ways: appended to the trace while the run goes
 * (a traced run of >= 2048 samples), held in blocks of 64 (no trace), or
 * held whole (the engine alone, no sink). Every figure must be the same:
 * the spilled datasets bit for bit against the engine's own columns, the
 * summary (incident metrics and peaks) of the spilled and the blocked run
 * entry for entry, and the peaks against the engine's columns. */
Test(run, where_the_series_go_changes_no_figure, .timeout = 300)
{
    sim_diag_t d;
    sim_diag_init(&d);
    rs_scenario_t s;
    /* 2400 samples; the gateways' etcd clients open sessions, so that the
     * leases column is not all zeros (a watch alone takes no lease) */
    const char *sets[] = {"duration=40m", "sample_interval=1s", "config.session_per_client=true"};
    cr_assert_eq(rs_load(&s, tu_src("scenarios/incident-2023q4.yaml"), sets, 3, &d), 0, "%s", sim_diag_text(&d));
    size_t v = s.baseline;
    uint64_t seed = s.sc.seed;

    char *out = tu_tmp_path("spill", ".h5");
    int terr;
    char ebuf[512];
    sim_trace_t *tr = sim_trace_create(out, &terr, ebuf, sizeof ebuf);
    cr_assert_not_null(tr, "%s", ebuf);
    rs_result_t a, b;
    cr_assert_eq(rs_run_one_traced(&s, v, 0, seed, 0, NULL, tr, &a), 0);
    cr_assert_eq(a.sim->samples_cap, 1024, "a spilled run holds one chunk of each column");
    cr_assert_eq(sim_series_samples(a.sim), 2400);
    cr_assert_eq(sim_series_first(a.sim), 2048);
    cr_assert_eq(rs_write_run(tr, &s, &a), 0, "%s", sim_trace_errmsg(tr));
    cr_assert_eq(sim_trace_commit(tr, ebuf, sizeof ebuf), 0, "%s", ebuf);

    cr_assert_eq(rs_run_one(&s, v, 0, seed, 0, NULL, &b), 0);
    cr_assert_eq(b.sim->samples_cap, 64, "without a trace a run holds 64 samples of each column");
    cr_assert_eq(sim_series_first(b.sim), 2368);
    /* ... and so cannot be written afterwards */
    char *out2 = tu_tmp_path("spill2", ".h5");
    sim_trace_t *tr2 = sim_trace_create(out2, &terr, ebuf, sizeof ebuf);
    cr_assert_eq(rs_write_run(tr2, &s, &b), SIM_EINVAL);
    cr_assert_eq(rs_write_run(tr2, &s, &a), SIM_EINVAL, "a's series are in the other trace");
    sim_trace_abort(tr2);
    free(out2);

    /* the engine alone: every sample in memory */
    sim_config_t cfg = {.master_seed = seed, .replication = 0, .sample_interval = s.sc.sample_interval,
                        .warmup = s.sc.warmup, .horizon = s.sc.duration};
    sim_t *sim = sim_create(&cfg);
    void *inst = s.model->create(sim, s.variants[v].spec);
    cr_assert_not_null(inst);
    sim_run(sim, s.sc.duration);
    s.model->finish(inst);
    cr_assert_eq(sim_series_samples(sim), 2400);
    cr_assert_eq(sim_series_first(sim), 0);

    hid_t f = H5Fopen(out, H5F_ACC_RDONLY, H5P_DEFAULT);
    cr_assert_geq(f, 0);
    double *col = malloc(2400 * sizeof *col);
    size_t ncols = sim_series_count(sim);
    cr_assert_gt(ncols, 100);
    char run[256];
    snprintf(run, sizeof run, "/runs/%s/rep000", s.variants[v].name);
    /* t and values: 2400 samples, chunked by 1024 samples (and 8 series),
     * compressed; every bit of every sample as the engine has it */
    const char *dsn[] = {"t", "values"};
    for (size_t k = 0; k < 2; k++) {
        char p[512];
        snprintf(p, sizeof p, "%s/timeseries/%s", run, dsn[k]);
        hid_t ds = H5Dopen2(f, p, H5P_DEFAULT);
        cr_assert_geq(ds, 0, "%s missing", p);
        hid_t sp = H5Dget_space(ds);
        hsize_t dims[2] = {0, 0};
        cr_assert_eq(H5Sget_simple_extent_ndims(sp), (int)k + 1, "%s", p);
        H5Sget_simple_extent_dims(sp, dims, NULL);
        cr_assert_eq(dims[k], 2400, "%s", p);
        if (k == 1) cr_assert_eq(dims[0], ncols, "one row per series");
        H5Sclose(sp);
        hid_t dcpl = H5Dget_create_plist(ds);
        hsize_t chunk[2] = {0, 0};
        cr_assert_eq(H5Pget_layout(dcpl), H5D_CHUNKED);
        cr_assert_eq(H5Pget_chunk(dcpl, 2, chunk), (int)k + 1);
        cr_assert_eq(chunk[k], 1024);
        if (k == 1) cr_assert_eq(chunk[0], 8, "8 series x 1024 samples = 64 KiB");
        cr_assert_eq(H5Pget_nfilters(dcpl), 2, "shuffle + deflate");
        H5Pclose(dcpl);
        H5Dclose(ds);
    }
    for (size_t i = 0; i <= ncols; i++) {
        const char *name = i == 0 ? "t" : sim_series_name(sim, i - 1);
        series_t got = series(f, run, name);
        cr_assert_eq(got.n, 2400, "%s", name);
        const double *want = i == 0 ? sim_series_times(sim) : sim_series_data(sim, i - 1);
        cr_assert_eq(memcmp(got.v, want, 2400 * sizeof *col), 0, "%s: every bit of every sample", name);
        free(got.v);
        if (i > 0) {
            char unit[32] = "";
            cr_assert_eq(series_row(f, run, name, unit, sizeof unit), (long)(i - 1), "%s: row in engine order", name);
            cr_assert_str_eq(unit, sim_series_unit(sim, i - 1), "%s", name);
        }
    }
    H5Fclose(f);
    free(col);

    /* the summaries: spilled and blocked, entry for entry */
    rs_report_t ra, rb;
    rs_report_init(&ra);
    rs_report_init(&rb);
    rs_report_run(&s, &a, &ra);
    rs_report_run(&s, &b, &rb);
    cr_assert_eq(ra.n, rb.n);
    for (size_t i = 0; i < ra.n; i++) {
        cr_assert_str_eq(ra.e[i].col, rb.e[i].col);
        cr_assert(ra.e[i].value == rb.e[i].value || (isnan(ra.e[i].value) && isnan(rb.e[i].value)),
                  "%s: %.17g vs %.17g", ra.e[i].col, ra.e[i].value, rb.e[i].value);
    }
    /* the peaks against the engine's whole columns */
    const char *pk[][2] = {{"goroutines", "peak_goroutines"}, {"heap_peak_bytes", "peak_heap_bytes"},
                           {"etcd_leases_in_use", "peak_leases"}};
    for (size_t k = 0; k < 3; k++) {
        int c = -1;
        for (size_t i = 0; i < ncols; i++)
            if (!strcmp(sim_series_name(sim, i), pk[k][0])) c = (int)i;
        cr_assert_geq(c, 0, "%s", pk[k][0]);
        double m = 0;
        for (size_t i = 0; i < 2400; i++)
            if (sim_series_data(sim, (size_t)c)[i] > m) m = sim_series_data(sim, (size_t)c)[i];
        cr_assert_gt(m, 0);
        cr_assert_eq(rs_report_get(&ra, "summary", "", pk[k][1]), m, "%s", pk[k][1]);
    }
    cr_assert(!isnan(rs_report_get(&ra, "summary", "", "worst_window_success")));
    rs_report_fini(&ra);
    rs_report_fini(&rb);
    s.model->destroy(inst);
    sim_destroy(sim);
    rs_result_free(&a);
    rs_result_free(&b);
    rs_unload(&s);
    sim_diag_fini(&d);
    unlink(out);
    free(out);
}
