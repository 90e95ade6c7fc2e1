/* Scenario tree: the typed getters (sim/cfg_get.c) on good input and the
 * message for every kind of bad value, and the kind checks. */
#include <criterion/criterion.h>
#include <stdbool.h>
#include <stdint.h>

#include "sim/cfg.h"
#include "sim/diag.h"
#include "sim/error.h"
#include "cfgfx.h"

TestSuite(cfg_get, .init = cfg_setup, .fini = cfg_teardown);

/* ---- Getters on good input ---------------------------------------------- */

Test(cfg_get, getters_read_every_type)
{
    sim_cfg_t *cfg = load_ok(scenario);
    sim_cfg_node_t *root = sim_cfg_root(cfg);
    sim_cfg_node_t *w = sim_cfg_get(root, "workload");
    sim_cfg_node_t *db = at(cfg, "stations", "db");
    static const char *const policies[] = {"fifo", "lifo", "ps", NULL};

    sim_time_t dur = 0, timeout = 0;
    int64_t seed = 0, servers = 0, cache = 0;
    double rate = 0, mix = 0, weight = 0;
    bool enabled = true;
    const char *name = NULL;
    int policy = -1;
    cr_assert_eq(sim_cfg_duration(&D, root, "duration", SIM_CFG_REQUIRED, 0, &dur), 0);
    cr_assert_eq(sim_cfg_int(&D, root, "seed", 0, 0, INT64_MAX, 1, &seed), 0);
    cr_assert_eq(sim_cfg_rate(&D, w, "rate", 0, 0, &rate), 0);
    cr_assert_eq(sim_cfg_ratio(&D, w, "mix", 0, 0, &mix), 0);
    cr_assert_eq(sim_cfg_int(&D, db, "servers", 0, 1, 64, 1, &servers), 0);
    cr_assert_eq(sim_cfg_enum(&D, db, "policy", 0, policies, 0, &policy), 0);
    cr_assert_eq(sim_cfg_size(&D, db, "cache", 0, 0, &cache), 0);
    cr_assert_eq(sim_cfg_duration(&D, db, "timeout", 0, 0, &timeout), 0);
    cr_assert_eq(sim_cfg_double(&D, db, "weight", 0, 0.0, 1.0, 0.5, &weight), 0);
    cr_assert_eq(sim_cfg_bool(&D, db, "enabled", 0, true, &enabled), 0);
    cr_assert_eq(sim_cfg_string(&D, db, "name", 0, NULL, &name), 0);
    ASSERT_NO_DIAG();

    cr_assert_eq(dur, 60 * SIM_SEC);
    cr_assert_eq(seed, 42);
    cr_assert_eq(rate, 1200.0);
    cr_assert_eq(mix, 0.35);
    cr_assert_eq(servers, 4);
    cr_assert_eq(policy, 1);
    cr_assert_eq(cache, 4096);
    cr_assert_eq(timeout, 250 * SIM_US);
    cr_assert_eq(weight, 0.75);
    cr_assert_eq(enabled, false);
    cr_assert_str_eq(name, "primary db");

    sim_cfg_node_t *route = sim_cfg_get(root, "route");
    cr_assert(sim_cfg_expect_seq(&D, route, "route"));
    cr_assert_eq(route->n, 2);
    const char *r1 = NULL;
    cr_assert_eq(sim_cfg_string_node(&D, route->vals[1], &r1), 0);
    cr_assert_str_eq(r1, "llm");
    /* Everything was read; route[0] is an unread item, which has no keys. */
    cr_assert_eq(sim_cfg_check_unused(cfg, &D), 0, "%s", DIAG);
    sim_cfg_destroy(cfg);
}

Test(cfg_get, getters_store_defaults_when_absent)
{
    sim_cfg_t *cfg = load_ok("a: 1\n");
    sim_cfg_node_t *root = sim_cfg_root(cfg);
    static const char *const ch[] = {"x", "y", NULL};
    int64_t i = 0;
    double f = 0;
    bool b = false;
    const char *s = NULL;
    int e = -1;
    sim_time_t t = 0;
    cr_assert_eq(sim_cfg_int(&D, root, "n", 0, 0, 10, 7, &i), 0);
    cr_assert_eq(sim_cfg_double(&D, root, "f", 0, 0, 1, 0.25, &f), 0);
    cr_assert_eq(sim_cfg_bool(&D, root, "b", 0, true, &b), 0);
    cr_assert_eq(sim_cfg_string(&D, root, "s", 0, "dflt", &s), 0);
    cr_assert_eq(sim_cfg_enum(&D, root, "e", 0, ch, 1, &e), 0);
    cr_assert_eq(sim_cfg_duration(&D, root, "t", 0, 5 * SIM_MS, &t), 0);
    cr_assert_eq(i, 7);
    cr_assert_eq(f, 0.25);
    cr_assert_eq(b, true);
    cr_assert_str_eq(s, "dflt");
    cr_assert_eq(e, 1);
    cr_assert_eq(t, 5 * SIM_MS);
    /* An absent section (NULL map) and an empty one ("db:") also give defaults. */
    cr_assert_eq(sim_cfg_int(&D, NULL, "n", 0, 0, 10, 3, &i), 0);
    cr_assert_eq(i, 3);
    ASSERT_NO_DIAG();
    sim_cfg_destroy(cfg);

    cfg = load_ok("db:\n");
    cr_assert_eq(sim_cfg_int(&D, at(cfg, "db", NULL), "servers", 0, 1, 10, 2, &i), 0);
    cr_assert_eq(i, 2);
    ASSERT_NO_DIAG();
    sim_cfg_destroy(cfg);
}

Test(cfg_get, required_key_missing_points_at_its_mapping)
{
    sim_cfg_t *cfg = load_ok("# workload\nworkload:\n  kind: poisson\n");
    double rate = -1;
    cr_assert_eq(sim_cfg_rate(&D, at(cfg, "workload", NULL), "rate", SIM_CFG_REQUIRED, 9, &rate),
                 SIM_ECONFIG);
    cr_assert_eq(rate, 9.0, "output must stay at the default");
    ASSERT_DIAG("s.yaml:3:3: error: missing required key 'rate' in 'workload'\n");
    sim_cfg_destroy(cfg);
}

Test(cfg_get, required_top_level_key_missing_points_at_1_1)
{
    sim_cfg_t *cfg = load_ok("# comment first\n\nseed: 1\n");
    sim_time_t t;
    cr_assert_eq(sim_cfg_duration(&D, sim_cfg_root(cfg), "duration", SIM_CFG_REQUIRED, 0, &t),
                 SIM_ECONFIG);
    cr_assert_str_eq(DIAG, "s.yaml:1:1: error: missing required top-level key 'duration'\n");
    sim_cfg_destroy(cfg);
}

Test(cfg_get, unbounded_is_accepted_only_with_the_flag)
{
    sim_cfg_t *cfg = load_ok("q: unbounded\nt: unbounded\nsz: unbounded\n");
    sim_cfg_node_t *root = sim_cfg_root(cfg);
    int64_t q = 0, sz = 0;
    sim_time_t t = 0;
    cr_assert_eq(sim_cfg_int(&D, root, "q", SIM_CFG_UNBOUNDED, 1, 1000, 10, &q), 0);
    cr_assert_eq(sim_cfg_duration(&D, root, "t", SIM_CFG_UNBOUNDED, 0, &t), 0);
    cr_assert_eq(sim_cfg_size(&D, root, "sz", SIM_CFG_UNBOUNDED, 0, &sz), 0);
    cr_assert_eq(q, INT64_MAX);
    cr_assert_eq(t, SIM_TIME_MAX);
    cr_assert_eq(sz, INT64_MAX);
    ASSERT_NO_DIAG();

    cr_assert_eq(sim_cfg_int(&D, root, "q", 0, 1, 1000, 10, &q), SIM_ECONFIG);
    cr_assert_eq(q, 10);
    ASSERT_DIAG("s.yaml:1:4: error: 'q': expected an integer between 1 and 1000, got "
                "'unbounded' (this setting cannot be unbounded)");
    cr_assert_eq(sim_cfg_duration(&D, root, "t", 0, 0, &t), SIM_ECONFIG);
    ASSERT_DIAG("s.yaml:2:4: error: 't': expected a duration with a unit such as 250us, 20ms "
                "or 1.5s, got 'unbounded' (this setting cannot be unbounded)");
    sim_cfg_destroy(cfg);
}

Test(cfg_get, int_accepts_exact_exponents_and_rejects_others)
{
    sim_cfg_t *cfg = load_ok("a: 1e6\nb: 2.5e3\nc: -3\nd: 1.5\ne: 10_000\n");
    sim_cfg_node_t *root = sim_cfg_root(cfg);
    int64_t v;
    cr_assert_eq(sim_cfg_int(&D, root, "a", 0, INT64_MIN, INT64_MAX, 0, &v), 0);
    cr_assert_eq(v, 1000000);
    cr_assert_eq(sim_cfg_int(&D, root, "b", 0, INT64_MIN, INT64_MAX, 0, &v), 0);
    cr_assert_eq(v, 2500);
    cr_assert_eq(sim_cfg_int(&D, root, "c", 0, INT64_MIN, INT64_MAX, 0, &v), 0);
    cr_assert_eq(v, -3);
    ASSERT_NO_DIAG();
    cr_assert_eq(sim_cfg_int(&D, root, "d", 0, INT64_MIN, INT64_MAX, 0, &v), SIM_ECONFIG);
    ASSERT_DIAG("s.yaml:4:4: error: 'd': expected an integer, got '1.5'\n");
    cr_assert_eq(sim_cfg_int(&D, root, "e", 0, INT64_MIN, INT64_MAX, 0, &v), SIM_ECONFIG);
    ASSERT_DIAG("s.yaml:5:4: error: 'e': expected an integer, got '10_000' (write the digits "
                "without '_')\n");
    sim_cfg_destroy(cfg);
}

/* ---- Value errors ------------------------------------------------------- */

Test(cfg_get, out_of_range_int_reports_bound_at_value)
{
    sim_cfg_t *cfg = load_ok("stations:\n  db:\n    servers: 0\n");
    int64_t v = 5;
    cr_assert_eq(sim_cfg_int(&D, at(cfg, "stations", "db"), "servers", 0, 1, INT64_MAX, 5, &v),
                 SIM_ECONFIG);
    cr_assert_eq(v, 5);
    cr_assert_str_eq(DIAG, "s.yaml:3:14: error: 'stations.db.servers': expected an integer >= 1, "
                           "got '0'\n");
    sim_cfg_destroy(cfg);
}

Test(cfg_get, wrong_type_names_what_was_found)
{
    sim_cfg_t *cfg = load_ok("stations:\n  db:\n    servers: {n: 4}\n    route: [a]\n");
    sim_cfg_node_t *db = at(cfg, "stations", "db");
    int64_t v;
    const char *s;
    cr_assert_eq(sim_cfg_int(&D, db, "servers", 0, INT64_MIN, INT64_MAX, 1, &v), SIM_ECONFIG);
    ASSERT_DIAG("s.yaml:3:14: error: 'stations.db.servers': expected an integer, got a mapping\n");
    cr_assert_eq(sim_cfg_string(&D, db, "route", 0, NULL, &s), SIM_ECONFIG);
    ASSERT_DIAG("s.yaml:4:12: error: 'stations.db.route': expected a string, got a sequence\n");
    sim_cfg_destroy(cfg);
}

Test(cfg_get, quoted_number_is_a_string_not_an_integer)
{
    sim_cfg_t *cfg = load_ok("servers: \"4\"\nt: '20ms'\nname: '4'\n");
    sim_cfg_node_t *root = sim_cfg_root(cfg);
    int64_t v = 1;
    sim_time_t t;
    const char *s = NULL;
    cr_assert_eq(sim_cfg_int(&D, root, "servers", 0, 1, 10, 1, &v), SIM_ECONFIG);
    ASSERT_DIAG("s.yaml:1:10: error: 'servers': expected an integer between 1 and 10, got the "
                "string \"4\" (write it without quotes)\n");
    cr_assert_eq(sim_cfg_duration(&D, root, "t", 0, 0, &t), SIM_ECONFIG);
    ASSERT_DIAG("s.yaml:2:4: error: 't': expected a duration with a unit such as 250us, 20ms or "
                "1.5s, got the string \"20ms\" (write it without quotes)\n");
    cr_assert_eq(sim_cfg_string(&D, root, "name", 0, NULL, &s), 0);
    cr_assert_str_eq(s, "4");
    sim_cfg_destroy(cfg);
}

Test(cfg_get, null_value_is_present_but_null)
{
    sim_cfg_t *cfg = load_ok("servers:\nname: ~\nflag: null\n");
    sim_cfg_node_t *root = sim_cfg_root(cfg);
    int64_t v = 3;
    const char *s = "x";
    bool b = true;
    cr_assert_eq(sim_cfg_int(&D, root, "servers", 0, 1, 10, 3, &v), SIM_ECONFIG);
    cr_assert_eq(v, 3);
    ASSERT_DIAG("s.yaml:1:9: error: 'servers': expected an integer between 1 and 10, got null\n");
    cr_assert_eq(sim_cfg_string(&D, root, "name", 0, "x", &s), SIM_ECONFIG);
    ASSERT_DIAG("s.yaml:2:7: error: 'name': expected a string, got null (write \"\" for an "
                "empty string)\n");
    cr_assert_eq(sim_cfg_bool(&D, root, "flag", 0, true, &b), SIM_ECONFIG);
    ASSERT_DIAG("s.yaml:3:7: error: 'flag': expected true or false, got null\n");
    cr_assert(sim_cfg_is_null(sim_cfg_get(root, "servers")));
    sim_cfg_destroy(cfg);
}

Test(cfg_get, bool_accepts_only_true_and_false)
{
    sim_cfg_t *cfg = load_ok("a: true\nb: yes\nc: on\nd: True\n");
    sim_cfg_node_t *root = sim_cfg_root(cfg);
    bool v = false;
    cr_assert_eq(sim_cfg_bool(&D, root, "a", 0, false, &v), 0);
    cr_assert_eq(v, true);
    cr_assert_eq(sim_cfg_bool(&D, root, "b", 0, false, &v), SIM_ECONFIG);
    cr_assert_eq(sim_cfg_bool(&D, root, "c", 0, false, &v), SIM_ECONFIG);
    cr_assert_eq(sim_cfg_bool(&D, root, "d", 0, false, &v), SIM_ECONFIG);
    cr_assert_eq(v, false);
    ASSERT_DIAG("s.yaml:2:4: error: 'b': expected true or false, got 'yes'\n");
    ASSERT_DIAG("s.yaml:3:4: error: 'c': expected true or false, got 'on'\n");
    ASSERT_DIAG("s.yaml:4:4: error: 'd': expected true or false, got 'True'\n");
    sim_cfg_destroy(cfg);
}

Test(cfg_get, double_rejects_nan_infinity_and_range)
{
    sim_cfg_t *cfg = load_ok("a: .nan\nb: inf\nc: 1e999\nd: 0\ne: 2.5\n");
    sim_cfg_node_t *root = sim_cfg_root(cfg);
    double v = 9;
    cr_assert_eq(sim_cfg_double(&D, root, "a", 0, -1e300, 1e300, 9, &v), SIM_ECONFIG);
    ASSERT_DIAG("s.yaml:1:4: error: 'a': expected a finite number, got '.nan'\n");
    cr_assert_eq(sim_cfg_double(&D, root, "b", 0, -1e300, 1e300, 9, &v), SIM_ECONFIG);
    ASSERT_DIAG("s.yaml:2:4: error: 'b': expected a finite number, got 'inf'\n");
    cr_assert_eq(sim_cfg_double(&D, root, "c", 0, -1e300, 1e300, 9, &v), SIM_ECONFIG);
    ASSERT_DIAG("s.yaml:3:4: error: 'c': expected a finite number (this one overflows), got "
                "'1e999'\n");
    cr_assert_eq(sim_cfg_double(&D, root, "d", SIM_CFG_POSITIVE, 0, 1, 9, &v), SIM_ECONFIG);
    ASSERT_DIAG("s.yaml:4:4: error: 'd': expected a number > 0 and <= 1, got '0'\n");
    cr_assert_eq(sim_cfg_double(&D, root, "e", 0, 0, 1, 9, &v), SIM_ECONFIG);
    ASSERT_DIAG("s.yaml:5:4: error: 'e': expected a number between 0 and 1, got '2.5'\n");
    /* Huge bounds are "no bound"; a tiny positive minimum reads "> 0". */
    cr_assert_eq(sim_cfg_double(&D, root, "d", SIM_CFG_POSITIVE, 1e-300, 1e300, 9, &v),
                 SIM_ECONFIG);
    ASSERT_DIAG("s.yaml:4:4: error: 'd': expected a number > 0, got '0'\n");
    cr_assert_eq(sim_cfg_double(&D, root, "e", 0, -1e300, 2, 9, &v), SIM_ECONFIG);
    ASSERT_DIAG("s.yaml:5:4: error: 'e': expected a number <= 2, got '2.5'\n");
    cr_assert_eq(v, 9.0);
    sim_cfg_destroy(cfg);
}

Test(cfg_get, enum_suggests_the_closest_choice)
{
    sim_cfg_t *cfg = load_ok("queue:\n  policy: fiffo\n  other: zzzzzz\n");
    static const char *const policies[] = {"fifo", "lifo", "ps", NULL};
    sim_cfg_node_t *q = at(cfg, "queue", NULL);
    int v = 2;
    cr_assert_eq(sim_cfg_enum(&D, q, "policy", 0, policies, 2, &v), SIM_ECONFIG);
    cr_assert_eq(v, 2);
    ASSERT_DIAG("s.yaml:2:11: error: 'queue.policy': expected one of fifo, lifo, ps, got 'fiffo' "
                "(did you mean 'fifo'?)\n");
    cr_assert_eq(sim_cfg_enum(&D, q, "other", 0, policies, 2, &v), SIM_ECONFIG);
    ASSERT_DIAG("s.yaml:3:10: error: 'queue.other': expected one of fifo, lifo, ps, got "
                "'zzzzzz'\n");
    sim_cfg_destroy(cfg);
}

Test(cfg_get, unit_values_without_unit_are_rejected)
{
    sim_cfg_t *cfg = load_ok("workload:\n  rate: 800\n  think: 20\n  mem: 512\n  hit: 1.5\n");
    sim_cfg_node_t *w = at(cfg, "workload", NULL);
    double r;
    sim_time_t t;
    int64_t m;
    cr_assert_eq(sim_cfg_rate(&D, w, "rate", 0, 0, &r), SIM_ECONFIG);
    ASSERT_DIAG("s.yaml:2:9: error: 'workload.rate': expected a rate with a unit such as 800/s "
                "or 1.2k/s, got '800'\n");
    cr_assert_eq(sim_cfg_duration(&D, w, "think", 0, 0, &t), SIM_ECONFIG);
    ASSERT_DIAG("s.yaml:3:10: error: 'workload.think': expected a duration with a unit such as "
                "250us, 20ms or 1.5s, got '20'\n");
    cr_assert_eq(sim_cfg_size(&D, w, "mem", 0, 0, &m), SIM_ECONFIG);
    ASSERT_DIAG("s.yaml:4:8: error: 'workload.mem': expected a size with a unit such as 512B, "
                "4KiB or 1.5MiB, got '512'\n");
    cr_assert_eq(sim_cfg_ratio(&D, w, "hit", 0, 0, &r), SIM_ECONFIG);
    ASSERT_DIAG("s.yaml:5:8: error: 'workload.hit': expected a ratio between 0 and 1 (or 0% and "
                "100%), got '1.5'\n");
    sim_cfg_destroy(cfg);
}

Test(cfg_get, absurd_and_non_finite_unit_values_are_rejected)
{
    sim_cfg_t *cfg = load_ok("t: 1e30s\nu: .inf\nm: -4KiB\nr: 1e999/s\nq: [1s]\n");
    sim_cfg_node_t *root = sim_cfg_root(cfg);
    sim_time_t t = 7;
    int64_t m;
    double r;
    cr_assert_eq(sim_cfg_duration(&D, root, "t", 0, 7, &t), SIM_ECONFIG);
    cr_assert_eq(t, 7);
    cr_assert_eq(sim_cfg_duration(&D, root, "u", 0, 7, &t), SIM_ECONFIG);
    cr_assert_eq(sim_cfg_size(&D, root, "m", 0, 0, &m), SIM_ECONFIG);
    cr_assert_eq(sim_cfg_rate(&D, root, "r", 0, 0, &r), SIM_ECONFIG);
    cr_assert_eq(sim_cfg_duration(&D, root, "q", SIM_CFG_UNBOUNDED, 7, &t), SIM_ECONFIG);
    cr_assert_str_eq(DIAG,
        "s.yaml:1:4: error: 't': expected a duration of at most 2^62 ns (about 146 years), got "
        "'1e30s'\n"
        "s.yaml:2:4: error: 'u': expected a finite duration, got '.inf'\n"
        "s.yaml:3:4: error: 'm': expected a size >= 0, got '-4KiB'\n"
        "s.yaml:4:4: error: 'r': expected a finite rate (this one overflows), got '1e999/s'\n"
        "s.yaml:5:4: error: 'q': expected a duration with a unit such as 250us, 20ms or 1.5s or "
        "'unbounded', got a sequence\n");
    sim_cfg_destroy(cfg);
}

Test(cfg_get, positive_flag_rejects_zero)
{
    sim_cfg_t *cfg = load_ok("t: 0s\nr: 0/s\nn: 0\n");
    sim_cfg_node_t *root = sim_cfg_root(cfg);
    sim_time_t t;
    double r;
    int64_t n;
    cr_assert_eq(sim_cfg_duration(&D, root, "t", SIM_CFG_POSITIVE, 1, &t), SIM_ECONFIG);
    ASSERT_DIAG("s.yaml:1:4: error: 't': expected a duration > 0, got '0s'\n");
    cr_assert_eq(sim_cfg_rate(&D, root, "r", SIM_CFG_POSITIVE, 1, &r), SIM_ECONFIG);
    ASSERT_DIAG("s.yaml:2:4: error: 'r': expected a rate > 0, got '0/s'\n");
    cr_assert_eq(sim_cfg_int(&D, root, "n", SIM_CFG_POSITIVE, INT64_MIN, INT64_MAX, 1, &n),
                 SIM_ECONFIG);
    ASSERT_DIAG("s.yaml:3:4: error: 'n': expected an integer >= 1, got '0'\n");
    sim_cfg_destroy(cfg);
}

Test(cfg_get, node_getters_read_sequence_items_with_their_path)
{
    sim_cfg_t *cfg = load_ok("delays:\n  - 10ms\n  - 1.5s\n  - fast\n");
    sim_cfg_node_t *seq = at(cfg, "delays", NULL);
    cr_assert(sim_cfg_expect_seq(&D, seq, "delays"));
    sim_time_t t[3] = {0, 0, -1};
    cr_assert_eq(sim_cfg_duration_node(&D, seq->vals[0], 0, &t[0]), 0);
    cr_assert_eq(sim_cfg_duration_node(&D, seq->vals[1], 0, &t[1]), 0);
    cr_assert_eq(sim_cfg_duration_node(&D, seq->vals[2], 0, &t[2]), SIM_ECONFIG);
    cr_assert_eq(t[0], 10 * SIM_MS);
    cr_assert_eq(t[1], 1500 * SIM_MS);
    cr_assert_eq(t[2], -1);
    ASSERT_DIAG("s.yaml:4:5: error: 'delays[2]': expected a duration with a unit such as 250us, "
                "20ms or 1.5s, got 'fast'\n");
    char path[64];
    sim_cfg_path(seq->vals[2], path, sizeof path);
    cr_assert_str_eq(path, "delays[2]");
    sim_cfg_destroy(cfg);
}

Test(cfg_get, getter_on_a_non_mapping_reports_once)
{
    sim_cfg_t *cfg = load_ok("workload: 5\n");
    sim_cfg_node_t *w = at(cfg, "workload", NULL);
    double r;
    int64_t n;
    cr_assert_eq(sim_cfg_rate(&D, w, "rate", 0, 1, &r), SIM_ECONFIG);
    cr_assert_eq(sim_cfg_int(&D, w, "n", 0, 0, 9, 1, &n), SIM_ECONFIG);
    cr_assert_eq(sim_cfg_expect_map(&D, w, "workload"), false);
    cr_assert_str_eq(DIAG, "s.yaml:1:11: error: 'workload': expected a mapping, got '5'\n");
    cr_assert_eq(D.errors, 1);
    sim_cfg_destroy(cfg);
}

Test(cfg_get, expect_kind_names_the_thing)
{
    sim_cfg_t *cfg = load_ok("route: {a: 1}\nst: [1]\n");
    cr_assert_eq(sim_cfg_expect_seq(&D, at(cfg, "route", NULL), "route"), false);
    cr_assert_eq(sim_cfg_expect_map(&D, at(cfg, "st", NULL), "station"), false);
    cr_assert_eq(sim_cfg_expect_map(&D, NULL, "station"), false);
    cr_assert_eq(sim_cfg_expect_scalar(&D, at(cfg, "st", NULL)->vals[0], "name"), true);
    cr_assert_str_eq(DIAG, "s.yaml:1:8: error: 'route': expected a sequence for the route, got a "
                           "mapping\n"
                           "s.yaml:2:5: error: 'st': expected a mapping for the station, got a "
                           "sequence\n");
    sim_cfg_destroy(cfg);
}
Test(cfg_get, compute_rates_and_bandwidths_take_units)
{
    sim_cfg_t *cfg = load_ok("gpu:\n"
                             "  peak: 312TFLOP/s\n"
                             "  hbm: 2.039TB/s\n"
                             "  link: 600GiB/s\n"
                             "  bad_peak: 312\n"
                             "  bad_hbm: 2039GBps\n"
                             "  quoted: \"64GB/s\"\n"
                             "  zero: 0GB/s\n"
                             "  list: [1, 2]\n");
    sim_cfg_node_t *g = at(cfg, "gpu", NULL);
    double peak = 0, hbm = 0, link = 0, v = 5, dflt = 0;
    cr_assert_eq(sim_cfg_flops(&D, g, "peak", SIM_CFG_REQUIRED, 0, &peak), 0, "%s", DIAG);
    cr_assert_eq(peak, 312e12);
    cr_assert_eq(sim_cfg_bandwidth(&D, g, "hbm", SIM_CFG_POSITIVE, 0, &hbm), 0, "%s", DIAG);
    cr_assert_eq(hbm, 2.039e12);
    sim_cfg_node_t *ln = sim_cfg_get(g, "link");
    cr_assert_eq(sim_cfg_bandwidth_node(&D, ln, 0, &link), 0, "%s", DIAG);
    cr_assert_eq(link, 600.0 * 1073741824.0);
    cr_assert_eq(sim_cfg_flops(&D, g, "absent", 0, 7e12, &dflt), 0);
    cr_assert_eq(dflt, 7e12);
    ASSERT_NO_DIAG();

    cr_assert_eq(sim_cfg_flops(&D, g, "bad_peak", 0, 5, &v), SIM_ECONFIG);
    ASSERT_DIAG("s.yaml:5:13: error: 'gpu.bad_peak': expected a compute rate with a unit such as "
                "312TFLOP/s or 1.5PFLOP/s, got '312'\n");
    cr_assert_eq(v, 5);
    cr_assert_eq(sim_cfg_bandwidth(&D, g, "bad_hbm", 0, 5, &v), SIM_ECONFIG);
    ASSERT_DIAG("s.yaml:6:12: error: 'gpu.bad_hbm': expected a bandwidth with a unit B/s, kB/s, "
                "MB/s, GB/s, TB/s, KiB/s, MiB/s, GiB/s or TiB/s, got '2039GBps'\n");
    cr_assert_eq(sim_cfg_bandwidth(&D, g, "quoted", 0, 5, &v), SIM_ECONFIG);
    ASSERT_DIAG("s.yaml:7:11: error: 'gpu.quoted': expected a bandwidth with a unit such as "
                "2039GB/s, 2.039TB/s or 600GiB/s, got the string \"64GB/s\" (write it without quotes)\n");
    cr_assert_eq(sim_cfg_bandwidth(&D, g, "zero", SIM_CFG_POSITIVE, 5, &v), SIM_ECONFIG);
    ASSERT_DIAG("s.yaml:8:9: error: 'gpu.zero': expected a bandwidth > 0, got '0GB/s'\n");
    cr_assert_eq(sim_cfg_flops(&D, g, "list", 0, 5, &v), SIM_ECONFIG);
    ASSERT_DIAG("s.yaml:9:9: error: 'gpu.list': expected a compute rate with a unit such as "
                "312TFLOP/s or 1.5PFLOP/s, got a sequence\n");
    cr_assert_eq(sim_cfg_flops(&D, g, "missing", SIM_CFG_REQUIRED, 5, &v), SIM_ECONFIG);
    ASSERT_DIAG("s.yaml:2:3: error: missing required key 'missing' in 'gpu'\n");
    sim_cfg_destroy(cfg);
}
