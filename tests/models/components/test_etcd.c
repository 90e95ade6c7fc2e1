/* etcd, the model's core (models/components/etcd/etcd.c): memory, the
 * series, ranges over the store, and parsing of the `etcd` mapping. The
 * other suites follow the model's pieces: test_etcd_cpu (the CPU queue and
 * fan-out), test_etcd_watch (streams, victims, watches from a revision),
 * test_etcd_client (clients and leases), test_etcd_partition. */
#include <criterion/criterion.h>
#include <string.h>

#include "etcdfx.h"
#include "models/components/etcd/etcd.h"
#include "sim/cfg.h"
#include "sim/error.h"

/* ---- memory and series ------------------------------------------------------- */

Test(etcd, memory_is_base_plus_connections_streams_watchers)
{
    /* three clients: c0 watches /a/ three times and holds a lease, c1
     * watches /b/ twice (no lease), c2 only holds a lease. Streams: c0's and
     * c1's watch streams, c0's and c2's keepalive streams. */
    fix_t f;
    fix_spec(&f);
    f.spec.mem_base = 1000;
    f.spec.mem_per_connection = 100;
    f.spec.mem_per_stream = 10;
    f.spec.mem_per_watcher = 1;
    fix_start(&f, 1, 0);
    int c0 = etcd_client_open(f.e), c1 = etcd_client_open(f.e), c2 = etcd_client_open(f.e);
    for (int i = 0; i < 3; i++) cr_assert_geq(etcd_watch(f.e, c0, "/a/", true, NULL, NULL), 0);
    for (int i = 0; i < 2; i++) cr_assert_geq(etcd_watch(f.e, c1, "/b/", true, NULL, NULL), 0);
    etcd_stats_t st = stats(&f);
    cr_assert_eq(st.leases_in_use, 0, "watches take no lease");
    cr_assert_eq(st.memory_bytes, 1000 + 3 * 100 + 2 * 10 + 5 * 1);
    cr_assert_eq(etcd_lease_grant(f.e, c0), 0);
    cr_assert_eq(etcd_lease_grant(f.e, c2), 0);
    st = stats(&f);
    cr_assert_eq(st.keepalive_streams, 2);
    cr_assert_eq(st.memory_bytes, 1000 + 3 * 100 + (2 + 2) * 10 + 5 * 1);
    etcd_client_close(f.e, c0);
    st = stats(&f);
    cr_assert_eq(st.memory_bytes, 1000 + 2 * 100 + (1 + 1) * 10 + 2 * 1);
    cr_assert_eq(st.leases_in_use, 2, "c0's lease outlives its connection");
    cr_assert_eq(st.keepalive_streams, 1);
    fix_fini(&f);
}

static int col_of(const sim_t *sim, const char *name)
{
    for (size_t j = 0; j < sim_series_count(sim); j++)
        if (strcmp(sim_series_name(sim, j), name) == 0) return (int)j;
    cr_assert_fail("no series %s", name);
    return -1;
}

Test(etcd, series_show_the_storm)
{
    fix_t f;
    fix_spec(&f);
    fix_start(&f, 1, 100 * SIM_MS);
    static rec_t r[2];
    memset(r, 0, sizeof r);
    for (int i = 0; i < 2; i++) watch_new(&f, "/config/rag/", true, &r[i]);
    sim_schedule_at(f.sim, 10 * SIM_MS, put_storm, f.e, 50);
    run(&f, 200 * SIM_MS);
    cr_assert_eq(r[0].n, 50);
    cr_assert_lt(r[0].at[49], 100 * SIM_MS);
    cr_assert_eq(sim_series_samples(f.sim), 2);
    const sim_t *s = f.sim;
#define AT(name, i) (sim_series_data(s, (size_t)col_of(s, name))[i])
    cr_assert_eq(AT("etcd_revision", 0), 50);
    cr_assert_eq(AT("etcd_leases_in_use", 0), 0, "two watching clients, no lease");
    cr_assert_eq(AT("etcd_watchers", 0), 2);
    cr_assert_eq(AT("etcd_connections", 0), 2);
    cr_assert_float_eq(AT("etcd_watch_events_per_second", 0), 100 / 0.1, 1e-9);
    cr_assert_eq(AT("etcd_watch_events_per_second", 1), 0);
    cr_assert_eq(AT("etcd_slow_watchers", 0), 0);
    /* busy: 2 x connect 200 + 50 puts x 100 + 100 events x 20 = 7400 us of
     * 2 x 100 ms (no grant: a watching client takes no lease) */
    cr_assert_float_eq(AT("etcd_cpu_utilization_ratio", 0), 7.4e-3 / 0.2, 1e-12);
    cr_assert_eq(AT("etcd_cpu_utilization_ratio", 1), 0);
    cr_assert_eq(AT("etcd_memory_bytes", 0), (100 << 20) + 2 * 10240 + 2 * 10240 + 2 * 1024);
    cr_assert_eq(AT("etcd_lease_grant_failures_total", 0), 0);
#undef AT
    fix_fini(&f);
}

/* ---- ranges -------------------------------------------------------------- */

Test(etcd_history, a_range_costs_range_plus_keys_times_range_key)
{
    fix_t f;
    fix_spec(&f);
    f.spec.cores = 1;
    fix_start(&f, 1, 0);
    cr_assert_eq(f.spec.cost_range, SIM_MS);
    cr_assert_eq(f.spec.cost_range_key, 5 * SIM_US);
    int c = etcd_client_open(f.e);
    etcd_put(f.e, "/config/rag/", 50);     /* 1..50: keys 0..49 */
    etcd_put(f.e, "/config/other/", 10);   /* 51..60 */
    etcd_put(f.e, "/x/", 7);               /* 61..67 */
    etcd_put(f.e, "/config/rag/", 30);     /* 68..97: keys 0..29 again */
    run(&f, SIM_SEC);
    /* /config/ holds 50 + 10 = 60 keys: 1 ms + 60 x 5 us = 1.3 ms on the
     * idle core. A put at 1 s + 500 us queues behind it: the response's
     * revision is the store's when the range ends, 97. */
    static range_rec_t x;
    memset(&x, 0, sizeof x);
    sim_schedule_at(f.sim, SIM_SEC + 500 * SIM_US, put_storm, f.e, 1);
    cr_assert_eq(etcd_range(f.e, c, "/config/", on_range, &x), 0);
    run(&f, 2 * SIM_SEC);
    cr_assert_eq(x.n, 1);
    cr_assert_eq(x.client, c);
    cr_assert_eq(x.at, SIM_SEC + 1300 * SIM_US, "range ended at %lld ns", (long long)x.at);
    cr_assert_eq(x.rev, 97);
    cr_assert_eq(etcd_revision(f.e), 98);
    /* /x/: 1 ms + 7 x 5 us; an empty prefix costs the base only */
    cr_assert_eq(etcd_range(f.e, c, "/x/", on_range, &x), 0);
    run(&f, 3 * SIM_SEC);
    cr_assert_eq(x.at, 2 * SIM_SEC + 1035 * SIM_US);
    cr_assert_eq(etcd_range(f.e, c, "/nothing/", on_range, &x), 0);
    run(&f, 4 * SIM_SEC);
    cr_assert_eq(x.at, 3 * SIM_SEC + SIM_MS);
    cr_assert_eq(x.n, 3);
    /* a client closed before its range ends hears nothing */
    cr_assert_eq(etcd_range(f.e, c, "/x/", on_range, &x), 0);
    etcd_client_close(f.e, c);
    run(&f, 5 * SIM_SEC);
    cr_assert_eq(x.n, 3);
    etcd_stats_t st = stats(&f);
    cr_assert_eq(st.ranges, 4);
    cr_assert_eq(etcd_range(f.e, c, "/x/", on_range, &x), -1, "closed client");
    int d = etcd_client_open(f.e);
    cr_assert_eq(etcd_range(f.e, d, NULL, on_range, &x), -1);
    cr_assert_eq(etcd_range(f.e, d, "/x/", NULL, &x), -1);
    cr_assert_eq(etcd_range(f.e, 999, "/x/", on_range, &x), -1);
    fix_fini(&f);
}

/* ---- parsing ----------------------------------------------------------------- */

static sim_diag_t D;
static void diag_setup(void) { sim_diag_init(&D); }
static void diag_teardown(void) { sim_diag_fini(&D); }

static int parse(const char *text, etcd_spec_t *s, sim_cfg_t **cfgp)
{
    sim_cfg_t *cfg = sim_cfg_load_string("s.yaml", text, strlen(text), &D);
    cr_assert_not_null(cfg, "%s", sim_diag_text(&D));
    int rc = etcd_spec_parse(&D, sim_cfg_get(sim_cfg_root(cfg), "etcd"), s);
    *cfgp = cfg;
    return rc;
}

#define ASSERT_DIAG(str)                                                                         \
    cr_assert(strstr(sim_diag_text(&D), (str)) != NULL, "expected\n  %s\ngot\n%s", (str), \
              sim_diag_text(&D))

Test(etcd_parse, defaults, .init = diag_setup, .fini = diag_teardown)
{
    etcd_spec_t s;
    cr_assert_eq(etcd_spec_parse(&D, NULL, &s), 0);
    cr_assert_eq(s.cores, 2);
    cr_assert_float_eq(sim_dist_mean(&s.propagation), 0.002, 1e-15);
    cr_assert_eq(sim_dist_variance(&s.propagation), 0);
    cr_assert_eq(s.cost_put, 100 * SIM_US);
    cr_assert_eq(s.cost_event, 20 * SIM_US);
    cr_assert_eq(s.cost_grant, 50 * SIM_US);
    cr_assert_eq(s.cost_keepalive, 10 * SIM_US);
    cr_assert_eq(s.cost_connect, 200 * SIM_US);
    cr_assert_eq(s.cost_range, SIM_MS);
    cr_assert_eq(s.cost_range_key, 5 * SIM_US);
    cr_assert_eq(s.compaction_retention, INT64_MAX);
    cr_assert_eq(s.stream_buffer, 128);
    cr_assert_eq(s.victim_retry, 10 * SIM_MS);
    cr_assert_eq(s.lease_quota, INT64_MAX, "etcd has no lease quota: none unless a scenario sets one");
    cr_assert_eq(s.lease_ttl, 60 * SIM_SEC);
    cr_assert_eq(s.mem_base, 100 << 20);
    cr_assert_eq(s.mem_per_connection, 10240);
    cr_assert_eq(s.mem_per_stream, 10240);
    cr_assert_eq(s.mem_per_watcher, 1024);
    etcd_spec_fini(&s);
    sim_cfg_t *cfg;
    cr_assert_eq(parse("etcd:\n", &s, &cfg), 0);   /* null mapping: defaults */
    cr_assert_eq(s.lease_quota, INT64_MAX);
    etcd_spec_fini(&s);
    sim_cfg_destroy(cfg);
    cr_assert_eq(parse("etcd:\n  lease_quota: 20000\n", &s, &cfg), 0);
    cr_assert_eq(s.lease_quota, 20000);
    etcd_spec_fini(&s);
    sim_cfg_destroy(cfg);
}

Test(etcd_parse, every_key, .init = diag_setup, .fini = diag_teardown)
{
    etcd_spec_t s;
    sim_cfg_t *cfg;
    int rc = parse("etcd:\n"
                   "  cores: 4\n"
                   "  propagation: {dist: exponential, mean: 5ms}\n"
                   "  cost: {put: 1ms, event: 2us, grant: 3us, keepalive: 4us, connect: 5us, range: 6ms, range_key: 7us}\n"
                   "  stream_buffer: 16\n"
                   "  victim_retry: 20ms\n"
                   "  lease_quota: unbounded\n"
                   "  lease_ttl: 2s\n"
                   "  compaction_retention: 1000\n"
                   "  memory: {base: 1GiB, per_connection: 10kB, per_stream: 2KiB, per_watcher: 300B}\n",
                   &s, &cfg);
    cr_assert_eq(rc, 0, "%s", sim_diag_text(&D));
    cr_assert_eq(sim_cfg_check_unused(cfg, &D), 0, "%s", sim_diag_text(&D));
    cr_assert_eq(s.cores, 4);
    cr_assert_str_eq(sim_dist_name(&s.propagation), "exponential");
    cr_assert_float_eq(sim_dist_mean(&s.propagation), 0.005, 1e-15);
    cr_assert_eq(s.cost_put, SIM_MS);
    cr_assert_eq(s.cost_event, 2 * SIM_US);
    cr_assert_eq(s.cost_grant, 3 * SIM_US);
    cr_assert_eq(s.cost_keepalive, 4 * SIM_US);
    cr_assert_eq(s.cost_connect, 5 * SIM_US);
    cr_assert_eq(s.cost_range, 6 * SIM_MS);
    cr_assert_eq(s.cost_range_key, 7 * SIM_US);
    cr_assert_eq(s.compaction_retention, 1000);
    cr_assert_eq(s.stream_buffer, 16);
    cr_assert_eq(s.victim_retry, 20 * SIM_MS);
    cr_assert_eq(s.lease_quota, INT64_MAX);
    cr_assert_eq(s.lease_ttl, 2 * SIM_SEC);
    cr_assert_eq(s.mem_base, 1LL << 30);
    cr_assert_eq(s.mem_per_connection, 10000);
    cr_assert_eq(s.mem_per_stream, 2048);
    cr_assert_eq(s.mem_per_watcher, 300);
    etcd_spec_fini(&s);
    sim_cfg_destroy(cfg);
}

Test(etcd_parse, bad_values_are_reported_where_they_are, .init = diag_setup, .fini = diag_teardown)
{
    etcd_spec_t s;
    sim_cfg_t *cfg;
    int rc = parse("etcd:\n"
                   "  cores: 0\n"
                   "  stream_buffer: -1\n"
                   "  victim_retry: 0s\n"
                   "  cost: {put: 5}\n"
                   "  memory: {per_watcher: 1KB}\n"
                   "  propagation: {dist: exponential}\n"
                   "  lease_quota: many\n",
                   &s, &cfg);
    cr_assert_eq(rc, SIM_ECONFIG);
    ASSERT_DIAG("s.yaml:2:10: error: 'etcd.cores'");
    ASSERT_DIAG("s.yaml:3:18: error: 'etcd.stream_buffer'");
    ASSERT_DIAG("s.yaml:4:17: error: 'etcd.victim_retry'");
    ASSERT_DIAG("s.yaml:5:15: error: 'etcd.cost.put'");
    ASSERT_DIAG("s.yaml:6:25: error: 'etcd.memory.per_watcher'");
    ASSERT_DIAG("s.yaml:7:");
    ASSERT_DIAG("s.yaml:8:16: error: 'etcd.lease_quota'");
    cr_assert_eq(D.errors, 7, "%s", sim_diag_text(&D));
    etcd_spec_fini(&s);
    sim_cfg_destroy(cfg);
}

Test(etcd_parse, lease_ttl_below_two_seconds_is_an_error, .init = diag_setup, .fini = diag_teardown)
{
    etcd_spec_t s;
    sim_cfg_t *cfg;
    cr_assert_eq(parse("etcd:\n  lease_ttl: 1500ms\n", &s, &cfg), SIM_ECONFIG);
    ASSERT_DIAG("s.yaml:2:14: error: 'etcd.lease_ttl': etcd's minimum lease TTL is 2s, got '1500ms'");
    cr_assert_eq(D.errors, 1);
    etcd_spec_fini(&s);
    sim_cfg_destroy(cfg);
    cr_assert_eq(parse("etcd:\n  cost: [1]\n  memory: 5\n", &s, &cfg), SIM_ECONFIG);
    ASSERT_DIAG("s.yaml:2:9: error:");
    ASSERT_DIAG("s.yaml:3:11: error:");
    etcd_spec_fini(&s);
    sim_cfg_destroy(cfg);
}

Test(etcd_parse, compaction_retention_and_range_costs_are_checked, .init = diag_setup, .fini = diag_teardown)
{
    etcd_spec_t s;
    sim_cfg_t *cfg;
    cr_assert_eq(parse("etcd:\n  compaction_retention: unbounded\n", &s, &cfg), 0, "%s", sim_diag_text(&D));
    cr_assert_eq(s.compaction_retention, INT64_MAX);
    etcd_spec_fini(&s);
    sim_cfg_destroy(cfg);
    int rc = parse("etcd:\n"
                   "  compaction_retention: 0\n"
                   "  cost: {range: -1ms, range_key: fast}\n",
                   &s, &cfg);
    cr_assert_eq(rc, SIM_ECONFIG);
    ASSERT_DIAG("s.yaml:2:25: error: 'etcd.compaction_retention'");
    ASSERT_DIAG("s.yaml:3:17: error: 'etcd.cost.range'");
    ASSERT_DIAG("s.yaml:3:34: error: 'etcd.cost.range_key'");
    cr_assert_eq(D.errors, 3, "%s", sim_diag_text(&D));
    etcd_spec_fini(&s);
    sim_cfg_destroy(cfg);
}
