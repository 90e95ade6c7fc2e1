/* sim/nameidx and its users: names are found in O(1), so that a model with
 * thousands of stations (each with its series and random streams) is built
 * in linear time. Run time used to grow with the square of the number of
 * stations (a linear search per series name, per stream name, per route
 * entry: 20,000 stations took over two minutes). Measured here without a
 * clock: by the name comparisons the indexes count. (The network's route:
 * tests/models/queueing/test_queueing.c.) */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sim/nameidx.h"
#include "sim/sim.h"
#include "testutil.h"

#define N 50000

static char names_[N][16];

static const char *name_at(const void *ctx, size_t i)
{
    (void)ctx;
    return names_[i];
}

Test(nameidx, finds_every_name_with_a_constant_number_of_comparisons)
{
    sim_nameidx_t x;
    sim_nameidx_init(&x, name_at, NULL);
    for (size_t i = 0; i < N; i++) {
        snprintf(names_[i], sizeof names_[i], "s%zu", i);
        cr_assert_eq(sim_nameidx_find(&x, names_[i]), -1);
        cr_assert_eq(sim_nameidx_add(&x, i), 0);
    }
    for (size_t i = 0; i < N; i++) cr_assert_eq(sim_nameidx_find(&x, names_[i]), (long)i);
    cr_assert_eq(sim_nameidx_find(&x, "nope"), -1);
    cr_assert_eq(sim_nameidx_find(&x, ""), -1);
    /* 2N finds and N adds (with the re-insertions of the doublings): a
     * linear search would make about N^2 / 2 = 1.25e9 comparisons */
    cr_log_info("%d names: %llu comparisons", N, (unsigned long long)x.probes);
    cr_assert_lt(x.probes, 10ull * N, "%llu comparisons for %d names", (unsigned long long)x.probes, N);
    sim_nameidx_fini(&x);
}

/* The engine's series and streams of a model with 20,000 stations. */
Test(nameidx, a_run_with_many_series_and_streams_compares_names_linearly)
{
    sim_config_t cfg = {.master_seed = 1, .sample_interval = SIM_SEC};
    sim_t *sim = sim_create(&cfg);
    cr_assert_not_null(sim);
    char name[64];
    for (int i = 0; i < 20000; i++) {
        for (int k = 0; k < 4; k++) {
            snprintf(name, sizeof name, "station_metric_%d{station=s%d}", k, i);
            cr_assert_geq(sim_series_add(sim, name, "1", NULL), 0);
        }
        snprintf(name, sizeof name, "station/s%d/service", i);
        cr_assert_not_null(sim_stream(sim, name));
        cr_assert_eq(sim_stream(sim, name), sim_stream(sim, name), "the same stream for the same name");
    }
    cr_assert_eq(sim_series_find(sim, "station_metric_3{station=s19999}"), 4 * 20000 - 1);
    cr_assert_eq(sim_series_find(sim, "station_metric_3{station=s20000}"), -1);
    uint64_t p = sim_name_probes(sim);
    cr_log_info("80,000 series and 20,000 streams: %llu name comparisons", (unsigned long long)p);
    cr_assert_lt(p, 10ull * 120000, "%llu comparisons", (unsigned long long)p);
    sim_destroy(sim);
}
