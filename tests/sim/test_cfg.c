/* Scenario tree: loading, typed getters, positions of every kind of error,
 * --set overrides, unknown keys, emission. Also the diag buffer (suite
 * "diag"), which exists to carry these messages. */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sim/cfg.h"
#include "sim/diag.h"
#include "sim/error.h"
#include "testutil.h"

static sim_diag_t D;

static void cfg_setup(void) { sim_diag_init(&D); }
static void cfg_teardown(void) { sim_diag_fini(&D); }

TestSuite(cfg, .init = cfg_setup, .fini = cfg_teardown);

#define DIAG sim_diag_text(&D)
#define ASSERT_DIAG(s)                                                                   \
    cr_assert(strstr(DIAG, (s)) != NULL, "expected a diagnostic containing\n  %s\ngot\n%s", \
              (s), DIAG)
#define ASSERT_NO_DIAG() cr_assert_str_eq(DIAG, "", "unexpected diagnostics:\n%s", DIAG)

static sim_cfg_t *load(const char *text)
{
    return sim_cfg_load_string("s.yaml", text, strlen(text), &D);
}

static sim_cfg_t *load_ok(const char *text)
{
    sim_cfg_t *cfg = load(text);
    cr_assert_not_null(cfg, "load failed:\n%s", DIAG);
    return cfg;
}

/* Map at a dotted path of plain keys (test helper; marks keys used). */
static sim_cfg_node_t *at(sim_cfg_t *cfg, const char *k1, const char *k2)
{
    sim_cfg_node_t *n = sim_cfg_get(sim_cfg_root(cfg), k1);
    return k2 ? sim_cfg_get(n, k2) : n;
}

static const char scenario[] =
    "duration: 60s\n"           /* 1 */
    "seed: 42\n"                /* 2 */
    "workload:\n"               /* 3 */
    "  rate: 1.2k/s\n"          /* 4 */
    "  mix: 35%\n"              /* 5 */
    "stations:\n"               /* 6 */
    "  db:\n"                   /* 7 */
    "    servers: 4\n"          /* 8 */
    "    policy: lifo\n"        /* 9 */
    "    cache: 4KiB\n"         /* 10 */
    "    timeout: 250us\n"      /* 11 */
    "    weight: 0.75\n"        /* 12 */
    "    enabled: false\n"      /* 13 */
    "    name: \"primary db\"\n"/* 14 */
    "route: [db, llm]\n";       /* 15 */

/* ---- Getters on good input ---------------------------------------------- */

Test(cfg, getters_read_every_type)
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

Test(cfg, getters_store_defaults_when_absent)
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

Test(cfg, required_key_missing_points_at_its_mapping)
{
    sim_cfg_t *cfg = load_ok("# workload\nworkload:\n  kind: poisson\n");
    double rate = -1;
    cr_assert_eq(sim_cfg_rate(&D, at(cfg, "workload", NULL), "rate", SIM_CFG_REQUIRED, 9, &rate),
                 SIM_ECONFIG);
    cr_assert_eq(rate, 9.0, "output must stay at the default");
    ASSERT_DIAG("s.yaml:3:3: error: missing required key 'rate' in 'workload'\n");
    sim_cfg_destroy(cfg);
}

Test(cfg, required_top_level_key_missing_points_at_1_1)
{
    sim_cfg_t *cfg = load_ok("# comment first\n\nseed: 1\n");
    sim_time_t t;
    cr_assert_eq(sim_cfg_duration(&D, sim_cfg_root(cfg), "duration", SIM_CFG_REQUIRED, 0, &t),
                 SIM_ECONFIG);
    cr_assert_str_eq(DIAG, "s.yaml:1:1: error: missing required top-level key 'duration'\n");
    sim_cfg_destroy(cfg);
}

Test(cfg, unbounded_is_accepted_only_with_the_flag)
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

Test(cfg, int_accepts_exact_exponents_and_rejects_others)
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

Test(cfg, out_of_range_int_reports_bound_at_value)
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

Test(cfg, wrong_type_names_what_was_found)
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

Test(cfg, quoted_number_is_a_string_not_an_integer)
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

Test(cfg, null_value_is_present_but_null)
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

Test(cfg, bool_accepts_only_true_and_false)
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

Test(cfg, double_rejects_nan_infinity_and_range)
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

Test(cfg, enum_suggests_the_closest_choice)
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

Test(cfg, unit_values_without_unit_are_rejected)
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

Test(cfg, absurd_and_non_finite_unit_values_are_rejected)
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

Test(cfg, positive_flag_rejects_zero)
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

Test(cfg, compute_rates_and_bandwidths_take_units)
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

Test(cfg, node_getters_read_sequence_items_with_their_path)
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

Test(cfg, getter_on_a_non_mapping_reports_once)
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

Test(cfg, expect_kind_names_the_thing)
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

/* ---- Load errors -------------------------------------------------------- */

Test(cfg, duplicate_key_points_at_second_occurrence)
{
    const char *text = "duration: 60s\n"
                       "seed: 1\n"
                       "workload:\n"
                       "  rate: 800/s\n"
                       "stations:\n"
                       "  db:\n"
                       "    servers: 4\n"
                       "    queue: fifo\n"
                       "    servers: 8\n";
    cr_assert_null(load(text));
    cr_assert_str_eq(DIAG, "s.yaml:9:5: error: duplicate key 'servers' (first defined at 7:5)\n");
}

Test(cfg, every_duplicate_is_reported_in_order)
{
    cr_assert_null(load("a: 1\nb: 2\na: 3\n'b': 4\na: 5\n"));
    cr_assert_str_eq(DIAG, "s.yaml:3:1: error: duplicate key 'a' (first defined at 1:1)\n"
                           "s.yaml:4:1: error: duplicate key 'b' (first defined at 2:1)\n"
                           "s.yaml:5:1: error: duplicate key 'a' (first defined at 1:1)\n");
}

Test(cfg, tab_indentation_is_reported_at_the_tab)
{
    cr_assert_null(load("a:\n\tb: 1\n"));
    cr_assert_str_eq(DIAG, "s.yaml:2:1: error: tab character in indentation; YAML allows only "
                           "spaces\n");
}

Test(cfg, tab_after_spaces_in_indentation_is_reported_at_the_tab)
{
    cr_assert_null(load("a:\n  b: 1\n \tc: 2\n"));
    cr_assert_str_eq(DIAG, "s.yaml:3:2: error: tab character in indentation; YAML allows only "
                           "spaces\n");
}

Test(cfg, tab_in_block_scalar_indentation_is_reported)
{
    cr_assert_null(load("a: |\n\ttext\n"));
    ASSERT_DIAG("s.yaml:2:1: error: tab character in indentation");
}

Test(cfg, syntax_error_is_made_readable)
{
    cr_assert_null(load("a: b: c\n"));
    cr_assert_str_eq(DIAG, "s.yaml:1:5: error: YAML syntax error: mapping values are not allowed "
                           "in this context (a value that contains ': ' must be quoted, or the "
                           "indentation is wrong)\n");
}

Test(cfg, bad_indentation_names_the_enclosing_mapping)
{
    cr_assert_null(load("a:\n  b: 1\n c: 2\n"));
    cr_assert_str_eq(DIAG, "s.yaml:3:2: error: YAML syntax error: did not find expected key "
                           "(check the indentation of this line; while parsing a block mapping "
                           "started at 1:1)\n");
}

Test(cfg, unterminated_quote_points_at_the_opening_quote)
{
    cr_assert_null(load("a: 1\nb: 'abc\nc: 2\n"));
    cr_assert_str_eq(DIAG, "s.yaml:2:4: error: YAML syntax error: unterminated quoted string (no "
                           "closing quote before the end of the input)\n");
}

Test(cfg, unclosed_flow_sequence_names_its_start)
{
    cr_assert_null(load("a: [1, 2\n"));
    cr_assert_str_eq(DIAG, "s.yaml:2:1: error: YAML syntax error: did not find expected ',' or "
                           "']' (while parsing a flow sequence started at 1:4)\n");
}

Test(cfg, reserved_character_asks_for_quotes)
{
    cr_assert_null(load("user: @admin\n"));
    cr_assert_str_eq(DIAG, "s.yaml:1:7: error: YAML syntax error: a plain value cannot start "
                           "with '@' (quote the value)\n");
}

Test(cfg, merge_keys_are_rejected)
{
    cr_assert_null(load("base: &b {x: 1}\ndb:\n  <<: *b\n  y: 2\n"));
    cr_assert_str_eq(DIAG, "s.yaml:3:3: error: merge keys ('<<') are not supported; write the "
                           "keys out (anchors '&name' and aliases '*name' do work)\n");
}

Test(cfg, aliases_are_expanded_into_independent_copies)
{
    sim_cfg_t *cfg = load_ok("base: &b\n  servers: 2\n  policy: fifo\n"
                             "db: *b\nllm: *b\nlist: [&s solo, *s]\n");
    int64_t v = 0;
    cr_assert_eq(sim_cfg_int(&D, at(cfg, "db", NULL), "servers", 0, 1, 9, 1, &v), 0);
    cr_assert_eq(v, 2);
    sim_cfg_node_t *db = at(cfg, "db", NULL), *llm = at(cfg, "llm", NULL);
    cr_assert_neq(db, llm);
    cr_assert_eq(db->line, 4);
    cr_assert_eq(db->col, 5);
    cr_assert_eq(db->vals[0]->line, 2, "items keep the anchor's positions");
    char path[64];
    sim_cfg_path(llm->vals[1], path, sizeof path);
    cr_assert_str_eq(path, "llm.policy");
    sim_cfg_node_t *list = at(cfg, "list", NULL);
    cr_assert_eq(list->n, 2);
    cr_assert_str_eq(list->vals[1]->text, "solo");
    /* Each copy has its own used flags and known keys: db knows 'servers',
     * llm was fetched but none of its keys were read. */
    sim_cfg_touch_all(at(cfg, "base", NULL));
    cr_assert_eq(sim_cfg_check_unused(cfg, &D), 3, "%s", DIAG);
    cr_assert_str_eq(DIAG, "s.yaml:3:3: error: unknown key 'policy' in 'db' (known keys: "
                           "servers)\n"
                           "s.yaml:2:3: error: unknown key 'servers' in 'llm'\n"
                           "s.yaml:3:3: error: unknown key 'policy' in 'llm'\n");
    sim_cfg_destroy(cfg);
}

Test(cfg, undefined_and_recursive_aliases_are_errors)
{
    cr_assert_null(load("a: &x 1\nb: *y\n"));
    ASSERT_DIAG("s.yaml:2:4: error: alias '*y' has no anchor '&y' before it\n");
    sim_diag_fini(&D);
    sim_diag_init(&D);
    cr_assert_null(load("a: &x [1, *x]\n"));
    ASSERT_DIAG("s.yaml:1:11: error: alias '*x' refers to a node that contains it");
}

Test(cfg, billion_laughs_is_rejected_before_it_grows)
{
    const char *text =
        "a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n"
        "b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]\n"
        "c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]\n"
        "d: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c]\n"
        "e: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d]\n"
        "f: &f [*e, *e, *e, *e, *e, *e, *e, *e, *e]\n"
        "g: &g [*f, *f, *f, *f, *f, *f, *f, *f, *f]\n"
        "h: &h [*g, *g, *g, *g, *g, *g, *g, *g, *g]\n"
        "i: &i [*h, *h, *h, *h, *h, *h, *h, *h, *h]\n";
    cr_assert_null(load(text));
    /* Copies so far: 90 + 819 + 7380 + 66429 = 74718 nodes; the first copy
     * of e (66430 nodes) in f would pass SIM_CFG_MAX_ALIAS_NODES. */
    cr_assert_str_eq(DIAG, "s.yaml:6:8: error: alias '*e' would make aliases expand to more "
                           "than 100000 nodes (too many aliases of large anchors; an alias "
                           "bomb?)\n");
}

Test(cfg, deep_nesting_is_rejected_at_the_first_level_too_deep)
{
    char text[512] = "a: ";
    size_t k = strlen(text);
    for (int i = 0; i < 200; i++) text[k++] = '[';
    for (int i = 0; i < 200; i++) text[k++] = ']';
    text[k++] = '\n';
    text[k] = '\0';
    cr_assert_null(load(text));
    /* The root is level 1; the 64th '[' (column 3 + 64) would be level 65. */
    cr_assert_str_eq(DIAG, "s.yaml:1:67: error: nesting is deeper than 64 levels\n");
}

Test(cfg, nesting_at_the_limit_is_accepted)
{
    char text[512] = "a: ";
    size_t k = strlen(text);
    for (int i = 0; i < 63; i++) text[k++] = '[';
    for (int i = 0; i < 63; i++) text[k++] = ']';
    text[k] = '\0';
    sim_cfg_t *cfg = load_ok(text);
    sim_cfg_destroy(cfg);
}

Test(cfg, empty_inputs_are_empty_scenarios)
{
    const char *empties[] = {"", "\n\n   \n", "# only a comment\n", "---\n", "~\n"};
    for (size_t i = 0; i < sizeof empties / sizeof empties[0]; i++) {
        sim_diag_fini(&D);
        sim_diag_init(&D);
        cr_assert_null(load(empties[i]), "'%s' loaded", empties[i]);
        cr_assert_str_eq(DIAG, "s.yaml: error: empty scenario\n", "for '%s'", empties[i]);
    }
}

Test(cfg, root_must_be_a_mapping)
{
    cr_assert_null(load("- a\n- b\n"));
    cr_assert_str_eq(DIAG, "s.yaml:1:1: error: the scenario must be a mapping of keys to values "
                           "(such as 'duration: 60s'), got a sequence\n");
    sim_diag_fini(&D);
    sim_diag_init(&D);
    cr_assert_null(load("\nhello\n"));
    cr_assert_str_eq(DIAG, "s.yaml:2:1: error: the scenario must be a mapping of keys to values "
                           "(such as 'duration: 60s'), got 'hello'\n");
}

Test(cfg, multiple_documents_are_rejected_at_the_second)
{
    cr_assert_null(load("a: 1\n---\nb: 2\n"));
    cr_assert_str_eq(DIAG, "s.yaml:2:1: error: a second YAML document starts here; a scenario "
                           "must be a single document (remove the '---' or split the file)\n");
}

Test(cfg, invalid_utf8_is_reported_at_the_byte)
{
    cr_assert_null(load("name: ok\ncity: Z\xfcrich\n"));
    cr_assert_str_eq(DIAG, "s.yaml:2:8: error: invalid UTF-8 byte 0xFC; the scenario must be "
                           "UTF-8 text (was it saved as Latin-1?)\n");
}

Test(cfg, binary_junk_is_not_a_text_file)
{
    static const char elf[] = "\x7f" "ELF\x02\x01\x01\x00\x00\x00\x00\x00\x03\x00\x3e\x00";
    cr_assert_null(sim_cfg_load_string("a.out", elf, sizeof elf - 1, &D));
    cr_assert_str_eq(DIAG, "a.out: error: not a text file (it contains NUL bytes); a scenario is "
                           "YAML text\n");
}

Test(cfg, binary_junk_without_nul_is_reported_at_the_first_bad_byte)
{
    static const char png[] = "\x89PNG\r\n\x1a\n";
    cr_assert_null(sim_cfg_load_string("p.png", png, sizeof png - 1, &D));
    cr_assert_str_eq(DIAG, "p.png:1:1: error: invalid UTF-8 byte 0x89; the scenario must be UTF-8 "
                           "text (was it saved as Latin-1?)\n");
    sim_diag_fini(&D);
    sim_diag_init(&D);
    cr_assert_null(load("a: x\x01y\n"));
    cr_assert_str_eq(DIAG, "s.yaml:1:5: error: control character 0x01 is not allowed in a "
                           "scenario (is this a binary file?)\n");
}

Test(cfg, utf16_is_rejected)
{
    static const char u16[] = "\xff\xfe" "a\0:\0 \0" "1\0";
    cr_assert_null(sim_cfg_load_string("w.yaml", u16, sizeof u16 - 1, &D));
    cr_assert_str_eq(DIAG, "w.yaml: error: the scenario is UTF-16 text; save it as UTF-8\n");
}

Test(cfg, utf8_bom_does_not_shift_columns)
{
    cr_assert_null(load("\xef\xbb\xbf" "a: 1\nb: x\xe9\n"));
    cr_assert_str_eq(DIAG, "s.yaml:2:5: error: invalid UTF-8 byte 0xE9; the scenario must be "
                           "UTF-8 text (was it saved as Latin-1?)\n");
    sim_diag_fini(&D);
    sim_diag_init(&D);
    sim_cfg_t *cfg = load_ok("\xef\xbb\xbf" "a: 1\n");
    cr_assert_eq(at(cfg, "a", NULL)->col, 4);
    sim_cfg_destroy(cfg);
}

Test(cfg, tags_other_than_str_are_rejected)
{
    cr_assert_null(load("a: !!int 3\n"));
    cr_assert_str_eq(DIAG, "s.yaml:1:4: error: YAML tags are not supported ('!!int'); write the "
                           "value without a tag (quote it to make it a string)\n");
    sim_diag_fini(&D);
    sim_diag_init(&D);
    sim_cfg_t *cfg = load_ok("a: !!str 3\n");
    int64_t v;
    cr_assert_eq(sim_cfg_int(&D, sim_cfg_root(cfg), "a", 0, 0, 9, 0, &v), SIM_ECONFIG);
    ASSERT_DIAG("got the string \"3\"");
    sim_cfg_destroy(cfg);
}

Test(cfg, non_scalar_keys_are_rejected)
{
    cr_assert_null(load("? [a, b]\n: 1\n"));
    cr_assert_str_eq(DIAG, "s.yaml:1:3: error: mapping keys must be scalars (names), got a "
                           "sequence\n");
}

/* ---- Files -------------------------------------------------------------- */

Test(cfg, missing_file_has_no_position)
{
    cr_assert_null(sim_cfg_load_file("/nonexistent/dir/scenario.yaml", &D));
    cr_assert_str_eq(DIAG, "/nonexistent/dir/scenario.yaml: error: cannot open the scenario: No "
                           "such file or directory\n");
}

Test(cfg, directory_is_not_a_scenario)
{
    char *dir = tu_tmp_path("cfgdir", "");
    cr_assert_eq(mkdir(dir, 0700), 0);
    cr_assert_null(sim_cfg_load_file(dir, &D));
    char want[4200];
    snprintf(want, sizeof want, "%s: error: is a directory, not a scenario file\n", dir);
    cr_assert_str_eq(DIAG, want);
    rmdir(dir);
    free(dir);
}

Test(cfg, empty_file_on_disk_is_an_empty_scenario)
{
    char *path = tu_tmp_path("empty", ".yaml");
    cr_assert_eq(tu_write_file(path, ""), 0);
    cr_assert_null(sim_cfg_load_file(path, &D));
    char want[4200];
    snprintf(want, sizeof want, "%s: error: empty scenario\n", path);
    cr_assert_str_eq(DIAG, want);
    unlink(path);
    free(path);
}

Test(cfg, too_big_file_is_refused_without_reading_it)
{
    char *path = tu_tmp_path("big", ".yaml");
    int fd = open(path, O_CREAT | O_WRONLY | O_TRUNC, 0600);
    cr_assert_geq(fd, 0);
    cr_assert_eq(ftruncate(fd, (off_t)SIM_CFG_MAX_BYTES + 1), 0); /* sparse */
    close(fd);
    cr_assert_null(sim_cfg_load_file(path, &D));
    char want[4200];
    snprintf(want, sizeof want, "%s: error: file is too big (67108865 bytes; the limit is 64 "
                                "MiB)\n", path);
    cr_assert_str_eq(DIAG, want);
    unlink(path);
    free(path);
}

Test(cfg, unreadable_file_reports_the_reason)
{
    if (geteuid() == 0) cr_skip_test("root can read anything");
    char *path = tu_tmp_path("noread", ".yaml");
    cr_assert_eq(tu_write_file(path, "a: 1\n"), 0);
    cr_assert_eq(chmod(path, 0), 0);
    cr_assert_null(sim_cfg_load_file(path, &D));
    ASSERT_DIAG(": error: cannot open the scenario: Permission denied\n");
    unlink(path);
    free(path);
}

Test(cfg, file_loads_with_its_name_in_positions_and_keeps_source)
{
    char *path = tu_tmp_path("good", ".yaml");
    cr_assert_eq(tu_write_file(path, "a: 1\nb: x\n"), 0);
    sim_cfg_t *cfg = sim_cfg_load_file(path, &D);
    cr_assert_not_null(cfg, "%s", DIAG);
    cr_assert_str_eq(sim_cfg_file(cfg), path);
    size_t len = 0;
    cr_assert_str_eq(sim_cfg_source(cfg, &len), "a: 1\nb: x\n");
    cr_assert_eq(len, 10);
    int64_t v;
    cr_assert_eq(sim_cfg_int(&D, sim_cfg_root(cfg), "b", 0, 0, 9, 0, &v), SIM_ECONFIG);
    char want[4200];
    snprintf(want, sizeof want, "%s:2:4: error: 'b': expected an integer between 0 and 9, got "
                                "'x'\n", path);
    cr_assert_str_eq(DIAG, want);
    sim_cfg_destroy(cfg);
    unlink(path);
    free(path);
}

/* ---- Unknown keys ------------------------------------------------------- */

Test(cfg, unknown_key_suggests_a_known_key_of_the_same_mapping)
{
    sim_cfg_t *cfg = load_ok("stations:\n  db:\n    servres: 4\n    policy: fifo\n");
    sim_cfg_node_t *db = at(cfg, "stations", "db");
    int64_t v;
    const char *s;
    sim_cfg_int(&D, db, "servers", 0, 1, 9, 1, &v);
    sim_cfg_string(&D, db, "policy", 0, "fifo", &s);
    ASSERT_NO_DIAG();
    cr_assert_eq(sim_cfg_check_unused(cfg, &D), 1);
    cr_assert_str_eq(DIAG, "s.yaml:3:5: error: unknown key 'servres' in 'stations.db' (did you "
                           "mean 'servers'?)\n");
    sim_cfg_destroy(cfg);
}

Test(cfg, unknown_top_level_key_suggests_or_lists)
{
    sim_cfg_t *cfg = load_ok("duraton: 5s\nxyzzy: 1\nseed: 1\n");
    sim_cfg_node_t *root = sim_cfg_root(cfg);
    sim_time_t t;
    int64_t v;
    sim_cfg_duration(&D, root, "duration", 0, 0, &t);
    sim_cfg_int(&D, root, "seed", 0, 0, 9, 0, &v);
    sim_cfg_get(root, "workload");
    cr_assert_eq(sim_cfg_check_unused(cfg, &D), 2);
    cr_assert_str_eq(DIAG, "s.yaml:1:1: error: unknown top-level key 'duraton' (did you mean "
                           "'duration'?)\n"
                           "s.yaml:2:1: error: unknown top-level key 'xyzzy' (known keys: "
                           "duration, seed, workload)\n");
    sim_cfg_destroy(cfg);
}

Test(cfg, unknown_subtree_gives_one_error)
{
    sim_cfg_t *cfg = load_ok("stationz:\n  db:\n    servers: 1\n    x: 2\nseed: 1\n");
    int64_t v;
    sim_cfg_int(&D, sim_cfg_root(cfg), "seed", 0, 0, 9, 0, &v);
    cr_assert_eq(sim_cfg_check_unused(cfg, &D), 1);
    cr_assert_str_eq(DIAG, "s.yaml:1:1: error: unknown top-level key 'stationz' (known keys: "
                           "seed)\n");
    sim_cfg_destroy(cfg);
}

Test(cfg, unknown_keys_inside_sequence_items_are_found)
{
    sim_cfg_t *cfg = load_ok("stations:\n  - name: a\n    sevrers: 2\n  - name: b\n");
    sim_cfg_node_t *st = at(cfg, "stations", NULL);
    for (size_t i = 0; i < st->n; i++) {
        const char *name;
        int64_t v;
        sim_cfg_string(&D, st->vals[i], "name", SIM_CFG_REQUIRED, NULL, &name);
        sim_cfg_int(&D, st->vals[i], "servers", 0, 1, 9, 1, &v);
    }
    ASSERT_NO_DIAG();
    cr_assert_eq(sim_cfg_check_unused(cfg, &D), 1);
    cr_assert_str_eq(DIAG, "s.yaml:3:5: error: unknown key 'sevrers' in 'stations[0]' (did you "
                           "mean 'servers'?)\n");
    sim_cfg_destroy(cfg);
}

Test(cfg, touch_all_marks_a_whole_subtree_used)
{
    sim_cfg_t *cfg = load_ok("notes:\n  anything: [1, {deep: 2}]\n");
    sim_cfg_touch_all(sim_cfg_get(sim_cfg_root(cfg), "notes"));
    cr_assert_eq(sim_cfg_check_unused(cfg, &D), 0, "%s", DIAG);
    ASSERT_NO_DIAG();
    sim_cfg_destroy(cfg);
}

Test(cfg, touch_marks_a_user_named_entry_but_not_its_keys)
{
    /* The pattern for mappings keyed by user names: touch each entry, read
     * its known keys; a misspelt key inside is still found. */
    sim_cfg_t *cfg = load_ok("stations:\n  db:\n    servers: 2\n  llm:\n    sevrers: 1\n");
    sim_cfg_node_t *st = at(cfg, "stations", NULL);
    for (size_t i = 0; i < st->n; i++) {
        int64_t v;
        sim_cfg_touch(st->vals[i]);
        sim_cfg_int(&D, st->vals[i], "servers", 0, 1, 9, 1, &v);
    }
    cr_assert_eq(sim_cfg_check_unused(cfg, &D), 1);
    cr_assert_str_eq(DIAG, "s.yaml:5:5: error: unknown key 'sevrers' in 'stations.llm' (did you "
                           "mean 'servers'?)\n");
    sim_cfg_destroy(cfg);
}

Test(cfg, closest_uses_damerau_levenshtein_with_a_length_limit)
{
    static const char *const c[] = {"servers", "service_time", "seed", "duration"};
    cr_assert_str_eq(sim_cfg_closest("servres", c, 4), "servers");    /* transposition: 1 */
    cr_assert_str_eq(sim_cfg_closest("sed", c, 4), "seed");
    cr_assert_str_eq(sim_cfg_closest("servce_tme", c, 4), "service_time");
    cr_assert_null(sim_cfg_closest("capacity", c, 4));
    cr_assert_str_eq(sim_cfg_closest("duraton", c, 4), "duration");
    cr_assert_null(sim_cfg_closest("xy", c, 4));
}

/* ---- --set overrides ---------------------------------------------------- */

Test(cfg, set_replaces_an_existing_value)
{
    sim_cfg_t *cfg = load_ok(scenario);
    cr_assert_eq(sim_cfg_set(cfg, "stations.db.servers=16", &D), 0, "%s", DIAG);
    int64_t v;
    sim_cfg_node_t *db = at(cfg, "stations", "db");
    cr_assert_eq(sim_cfg_int(&D, db, "servers", 0, 1, 64, 1, &v), 0);
    cr_assert_eq(v, 16);
    sim_cfg_node_t *n = sim_cfg_get(db, "servers");
    cr_assert_str_eq(n->file, "--set");
    cr_assert_eq(n->line, 1);
    cr_assert_eq(n->col, 21);
    char path[64];
    sim_cfg_path(n, path, sizeof path);
    cr_assert_str_eq(path, "stations.db.servers");
    ASSERT_NO_DIAG();
    sim_cfg_destroy(cfg);
}

Test(cfg, set_value_error_points_into_the_assignment)
{
    sim_cfg_t *cfg = load_ok(scenario);
    cr_assert_eq(sim_cfg_set(cfg, "workload.rate=800", &D), 0);
    double r;
    cr_assert_eq(sim_cfg_rate(&D, at(cfg, "workload", NULL), "rate", 0, 0, &r), SIM_ECONFIG);
    cr_assert_str_eq(DIAG, "--set:1:15: error: 'workload.rate': expected a rate with a unit such "
                           "as 800/s or 1.2k/s, got '800'\n");
    sim_cfg_destroy(cfg);
}

Test(cfg, set_new_key_is_reported_unknown_at_the_set_position)
{
    sim_cfg_t *cfg = load_ok(scenario);
    cr_assert_eq(sim_cfg_set(cfg, "stations.db.servres=4", &D), 0);
    int64_t v;
    sim_cfg_int(&D, at(cfg, "stations", "db"), "servers", 0, 1, 64, 1, &v);
    cr_assert_eq(v, 4, "the file's value is untouched");
    ASSERT_NO_DIAG();
    sim_cfg_check_unused(cfg, &D);
    ASSERT_DIAG("--set:1:13: error: unknown key 'servres' in 'stations.db' (did you mean "
                "'servers'?)\n");
    sim_cfg_destroy(cfg);
}

Test(cfg, set_creates_missing_mappings)
{
    sim_cfg_t *cfg = load_ok("a: 1\nempty:\n");
    cr_assert_eq(sim_cfg_set(cfg, "cache.policy.name=lru", &D), 0, "%s", DIAG);
    cr_assert_eq(sim_cfg_set(cfg, "empty.size=4KiB", &D), 0, "%s", DIAG);
    const char *s = NULL;
    cr_assert_eq(sim_cfg_string(&D, at(cfg, "cache", "policy"), "name", 0, NULL, &s), 0);
    cr_assert_str_eq(s, "lru");
    int64_t sz = 0;
    cr_assert_eq(sim_cfg_size(&D, at(cfg, "empty", NULL), "size", 0, 0, &sz), 0);
    cr_assert_eq(sz, 4096);
    sim_cfg_node_t *policy = at(cfg, "cache", "policy");
    cr_assert_eq(policy->kind, SIM_CFG_MAP);
    cr_assert_eq(policy->parent->keys[0]->col, 7, "key 'policy' is at --set:1:7");
    ASSERT_NO_DIAG();
    sim_cfg_destroy(cfg);
}

Test(cfg, set_indexes_into_sequences)
{
    sim_cfg_t *cfg = load_ok("route: [db, llm, out]\nst: [{n: 1}, {n: 2}]\n");
    cr_assert_eq(sim_cfg_set(cfg, "route.1=cache", &D), 0, "%s", DIAG);
    cr_assert_eq(sim_cfg_set(cfg, "st.1.n=5", &D), 0, "%s", DIAG);
    sim_cfg_node_t *route = at(cfg, "route", NULL);
    cr_assert_eq(route->n, 3);
    cr_assert_str_eq(route->vals[1]->text, "cache");
    cr_assert_eq(route->vals[1]->index, 1);
    char path[64];
    sim_cfg_path(route->vals[1], path, sizeof path);
    cr_assert_str_eq(path, "route[1]");
    int64_t v;
    cr_assert_eq(sim_cfg_int(&D, at(cfg, "st", NULL)->vals[1], "n", 0, 0, 9, 0, &v), 0);
    cr_assert_eq(v, 5);
    sim_cfg_destroy(cfg);
}

Test(cfg, set_parses_flow_lists_and_maps)
{
    sim_cfg_t *cfg = load_ok("route: [db]\nworkload:\n  rate: 1/s\n");
    cr_assert_eq(sim_cfg_set(cfg, "route=[a, b, 'c d']", &D), 0, "%s", DIAG);
    cr_assert_eq(sim_cfg_set(cfg, "workload={rate: 5/s, think: 2ms}", &D), 0, "%s", DIAG);
    sim_cfg_node_t *route = at(cfg, "route", NULL);
    cr_assert_eq(route->kind, SIM_CFG_SEQ);
    cr_assert_eq(route->n, 3);
    cr_assert_str_eq(route->vals[2]->text, "c d");
    cr_assert_eq(route->vals[2]->plain, false);
    cr_assert_eq(route->vals[1]->col, 11, "'b' is column 11 of the assignment");
    double r;
    sim_time_t t;
    sim_cfg_node_t *w = at(cfg, "workload", NULL);
    cr_assert_eq(sim_cfg_rate(&D, w, "rate", 0, 0, &r), 0);
    cr_assert_eq(sim_cfg_duration(&D, w, "think", 0, 0, &t), 0);
    cr_assert_eq(r, 5.0);
    cr_assert_eq(t, 2 * SIM_MS);
    ASSERT_NO_DIAG();
    sim_cfg_destroy(cfg);
}

Test(cfg, set_scalar_forms)
{
    sim_cfg_t *cfg = load_ok("name: x\nn: 1\nz: 2\n");
    cr_assert_eq(sim_cfg_set(cfg, "name=hello world", &D), 0);
    cr_assert_eq(sim_cfg_set(cfg, "n='4'", &D), 0);
    cr_assert_eq(sim_cfg_set(cfg, "z=", &D), 0);
    sim_cfg_node_t *root = sim_cfg_root(cfg);
    const char *s;
    cr_assert_eq(sim_cfg_string(&D, root, "name", 0, NULL, &s), 0);
    cr_assert_str_eq(s, "hello world");
    int64_t v;
    cr_assert_eq(sim_cfg_int(&D, root, "n", 0, 0, 9, 0, &v), SIM_ECONFIG);
    ASSERT_DIAG("--set:1:3: error: 'n': expected an integer between 0 and 9, got the string "
                "\"4\" (write it without quotes)\n");
    cr_assert(sim_cfg_is_null(sim_cfg_get(root, "z")));
    cr_assert_eq(sim_cfg_get(root, "z")->col, 3);
    sim_cfg_destroy(cfg);
}

Test(cfg, set_syntax_error_points_into_the_value)
{
    sim_cfg_t *cfg = load_ok("route: [db]\n");
    cr_assert_eq(sim_cfg_set(cfg, "route=[a, b", &D), SIM_ECONFIG);
    cr_assert_str_eq(DIAG, "--set:1:12: error: YAML syntax error: did not find expected ',' or "
                           "']' (while parsing a flow sequence started at 1:7)\n");
    cr_assert_eq(at(cfg, "route", NULL)->n, 1, "a failed override changes nothing");
    sim_cfg_destroy(cfg);
}

Test(cfg, set_rejects_malformed_assignments)
{
    sim_cfg_t *cfg = load_ok("route: [db, llm]\nduration: 5s\nst: {db: {n: 1}}\n");
    static const struct {
        const char *arg;
        const char *msg;
    } cases[] = {
        {"route", "--set:1:1: error: expected PATH=VALUE (such as stations.db.servers=4), got "
                  "'route'\n"},
        {"=4", "--set:1:1: error: empty path before '=' (expected PATH=VALUE)\n"},
        {"st..n=1", "--set:1:4: error: empty key in the path 'st..n'\n"},
        {"new.=1", "--set:1:5: error: empty key in the path 'new.'\n"},
        {"route.2=x", "--set:1:7: error: index 2 is out of range for 'route' (it has 2 items)\n"},
        {"route.first=x", "--set:1:7: error: 'route' is a sequence; expected an item index such "
                          "as 0, got 'first'\n"},
        {"duration.unit=s", "--set:1:10: error: cannot set 'duration.unit': 'duration' is a "
                            "scalar value, not a mapping\n"},
        {"st.db.n=[1", "--set:1:11: error: YAML syntax error: did not find expected ',' or ']' "
                       "(while parsing a flow sequence started at 1:9)\n"},
        {"st.db.n={a: 1, a: 2}", "--set:1:16: error: duplicate key 'a' (first defined at 1:10)\n"},
        {"st.db.n=a\n---\nb", "--set:1:11: error: a second YAML document starts here; a "
                              "--set value must be a single document\n"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        sim_diag_fini(&D);
        sim_diag_init(&D);
        cr_assert_eq(sim_cfg_set(cfg, cases[i].arg, &D), SIM_ECONFIG, "'%s' accepted",
                     cases[i].arg);
        cr_assert(strncmp(DIAG, cases[i].msg, strlen(cases[i].msg)) == 0,
                  "for '%s'\nwant %s\ngot  %s", cases[i].arg, cases[i].msg, DIAG);
    }
    char *out = NULL;
    cr_assert_eq(sim_cfg_emit(cfg, &out, NULL), 0);
    cr_assert_str_eq(out, "route:\n- db\n- llm\nduration: 5s\nst:\n  db:\n    n: 1\n");
    free(out);
    sim_cfg_destroy(cfg);
}

Test(cfg, set_too_deep_is_rejected)
{
    sim_cfg_t *cfg = load_ok("a: 1\n");
    char arg[256] = "a=";
    size_t k = 2;
    for (int i = 0; i < 64; i++) arg[k++] = '[';
    for (int i = 0; i < 64; i++) arg[k++] = ']';
    arg[k] = '\0';
    cr_assert_eq(sim_cfg_set(cfg, arg, &D), SIM_ECONFIG);
    /* root is level 1, so the 64th '[' (column 2 + 64) would be level 65 */
    cr_assert_str_eq(DIAG, "--set:1:66: error: nesting is deeper than 64 levels\n");
    sim_cfg_destroy(cfg);
}

/* ---- Emission ----------------------------------------------------------- */

static void assert_same_tree(const sim_cfg_node_t *a, const sim_cfg_node_t *b, const char *where)
{
    cr_assert_eq(a->kind, b->kind, "kind differs at %s", where);
    cr_assert_eq(a->n, b->n, "size differs at %s", where);
    if (a->kind == SIM_CFG_SCALAR) {
        cr_assert_eq(a->len, b->len, "length differs at %s: '%s' vs '%s'", where, a->text,
                     b->text);
        cr_assert(memcmp(a->text, b->text, a->len) == 0, "text differs at %s: '%s' vs '%s'",
                  where, a->text, b->text);
        cr_assert_eq(a->plain, b->plain, "plain differs at %s ('%s')", where, a->text);
        return;
    }
    for (size_t i = 0; i < a->n; i++) {
        char sub[256];
        if (a->kind == SIM_CFG_MAP) {
            assert_same_tree(a->keys[i], b->keys[i], where);
            snprintf(sub, sizeof sub, "%s.%s", where, a->keys[i]->text);
        } else {
            snprintf(sub, sizeof sub, "%s[%zu]", where, i);
        }
        assert_same_tree(a->vals[i], b->vals[i], sub);
    }
}

Test(cfg, emit_round_trips_to_an_equal_tree)
{
    const char *text =
        "plain: hello world\n"
        "yes_string: \"yes\"\n"
        "yes_plain: yes\n"
        "exp_string: '1e3'\n"
        "colon: \"a: b\"\n"
        "empty: \"\"\n"
        "nothing:\n"
        "tilde: ~\n"
        "unicode: \"h\xc3\xa9llo \xe2\x9c\x93 250\xc2\xb5s\"\n"
        "newline: \"line1\\nline2\"\n"
        "hash: 'a #b'\n"
        "lead: ' lead'\n"
        "quote: \"it's\"\n"
        "dq: 'say \"hi\"'\n"
        "tab: \"a\\tb\"\n"
        "'quoted key': 1\n"
        "list: [1, \"2\", {k: v}, [], {}]\n"
        "nested: {m: {n: [x, y]}}\n"
        "anchored: &a {p: 1}\n"
        "alias: *a\n"
        "block: |\n"
        "  two\n"
        "  lines\n";
    sim_cfg_t *a = load_ok(text);
    cr_assert_eq(sim_cfg_set(a, "added.key='no'", &D), 0);
    char *out = NULL;
    size_t len = 0;
    cr_assert_eq(sim_cfg_emit(a, &out, &len), 0);
    cr_assert_eq(len, strlen(out));
    cr_assert(strstr(out, "yes_string: 'yes'\n"), "%s", out);
    cr_assert(strstr(out, "yes_plain: yes\n"), "%s", out);
    cr_assert(strstr(out, "empty: ''\n"), "%s", out);
    cr_assert(strstr(out, "h\xc3\xa9llo \xe2\x9c\x93"), "unicode kept as UTF-8: %s", out);
    sim_cfg_t *b = sim_cfg_load_string("emitted", out, len, &D);
    cr_assert_not_null(b, "emitted text does not load:\n%s\n%s", DIAG, out);
    assert_same_tree(sim_cfg_root(a), sim_cfg_root(b), "(root)");
    free(out);
    sim_cfg_destroy(a);
    sim_cfg_destroy(b);
}

Test(cfg, emit_reflects_overrides)
{
    sim_cfg_t *cfg = load_ok("# comment\nseed: 1\nworkload:\n  rate: 5/s\n");
    cr_assert_eq(sim_cfg_set(cfg, "workload.rate=9/s", &D), 0);
    cr_assert_eq(sim_cfg_set(cfg, "route=[a,b]", &D), 0);
    char *out = NULL;
    cr_assert_eq(sim_cfg_emit(cfg, &out, NULL), 0);
    cr_assert_str_eq(out, "seed: 1\nworkload:\n  rate: 9/s\nroute:\n- a\n- b\n");
    free(out);
    sim_cfg_destroy(cfg);
}

/* ---- Limits and misc ---------------------------------------------------- */

Test(cfg, many_keys_in_one_mapping_load_quickly)
{
    /* 50000 distinct keys: duplicate detection must not be quadratic. */
    size_t cap = 50000 * 16;
    char *text = malloc(cap);
    cr_assert_not_null(text);
    size_t k = 0;
    for (int i = 0; i < 50000; i++) k += (size_t)snprintf(text + k, cap - k, "k%d: %d\n", i, i);
    sim_cfg_t *cfg = sim_cfg_load_string("big", text, k, &D);
    cr_assert_not_null(cfg, "%s", DIAG);
    cr_assert_eq(sim_cfg_root(cfg)->n, 50000);
    int64_t v;
    cr_assert_eq(sim_cfg_int(&D, sim_cfg_root(cfg), "k49999", 0, 0, INT64_MAX, 0, &v), 0);
    cr_assert_eq(v, 49999);
    sim_cfg_destroy(cfg);
    free(text);
}

Test(cfg, too_many_nodes_is_an_error)
{
    /* root + key + sequence + SIM_CFG_MAX_NODES items: three too many. */
    size_t items = SIM_CFG_MAX_NODES;
    size_t cap = 8 + items * 3 + 8;
    char *text = malloc(cap);
    cr_assert_not_null(text);
    size_t k = (size_t)snprintf(text, cap, "a: [");
    for (size_t i = 0; i < items; i++) {
        text[k++] = '1';
        text[k++] = ',';
    }
    text[k++] = ']';
    text[k] = '\0';
    cr_assert_null(sim_cfg_load_string("n", text, k, &D));
    ASSERT_DIAG("error: the scenario has more than 1000000 nodes\n");
    free(text);
}

Test(cfg, path_of_nested_nodes)
{
    sim_cfg_t *cfg = load_ok("a:\n  b:\n    - x\n    - {c: [y, z]}\n");
    sim_cfg_node_t *b = at(cfg, "a", "b");
    sim_cfg_node_t *z = sim_cfg_get(b->vals[1], "c")->vals[1];
    char path[64];
    sim_cfg_path(z, path, sizeof path);
    cr_assert_str_eq(path, "a.b[1].c[1]");
    char small[6];
    sim_cfg_path(z, small, sizeof small);
    cr_assert_str_eq(small, "a.b[1");
    sim_cfg_path(sim_cfg_root(cfg), path, sizeof path);
    cr_assert_str_eq(path, "");
    sim_cfg_destroy(cfg);
}

Test(cfg, warnings_use_the_node_position)
{
    sim_cfg_t *cfg = load_ok("a: 1\nb: 2\n");
    sim_cfg_warn(&D, sim_cfg_get(sim_cfg_root(cfg), "b"), "value %d is unusual", 2);
    cr_assert_str_eq(DIAG, "s.yaml:2:4: warning: value 2 is unusual\n");
    cr_assert_eq(D.warnings, 1);
    cr_assert_eq(D.errors, 0);
    sim_cfg_destroy(cfg);
}

/* ---- diag --------------------------------------------------------------- */

Test(diag, formats_like_a_compiler)
{
    sim_diag_t d;
    sim_diag_init(&d);
    cr_assert_str_eq(sim_diag_text(&d), "");
    sim_diag_error_at(&d, "f.yaml", 3, 7, "bad %s", "thing");
    sim_diag_error_at(&d, "f.yaml", 0, 0, "no position");
    sim_diag_error_at(&d, NULL, 2, 1, "anonymous");
    sim_diag_warn_at(&d, "f.yaml", 1, 2, "careful");
    sim_diag_error_at(&d, "f.yaml", 4, 0, "line only");
    cr_assert_str_eq(sim_diag_text(&d), "f.yaml:3:7: error: bad thing\n"
                                        "f.yaml: error: no position\n"
                                        "<input>:2:1: error: anonymous\n"
                                        "f.yaml:1:2: warning: careful\n"
                                        "f.yaml:4: error: line only\n");
    cr_assert_eq(d.errors, 4);
    cr_assert_eq(d.warnings, 1);
    sim_diag_fini(&d);
    cr_assert_null(d.buf);
}

Test(diag, stops_recording_after_max_errors_but_keeps_counting)
{
    sim_diag_t d;
    sim_diag_init(&d);
    cr_assert_eq(d.max_errors, 20);
    d.max_errors = 2;
    for (int i = 1; i <= 5; i++) sim_diag_error_at(&d, "f", i, 1, "e%d", i);
    cr_assert_str_eq(sim_diag_text(&d), "f:1:1: error: e1\n"
                                        "f:2:1: error: e2\n"
                                        "too many errors; stopping\n");
    cr_assert_eq(d.errors, 5);
    sim_diag_fini(&d);
}

Test(diag, control_characters_stay_on_one_line)
{
    sim_diag_t d;
    sim_diag_init(&d);
    sim_diag_error_at(&d, "f", 1, 1, "key 'a\nb\tc\x01'");
    cr_assert_str_eq(sim_diag_text(&d), "f:1:1: error: key 'a\\nb\\tc\\x01'\n");
    sim_diag_fini(&d);
}

Test(diag, grows_for_many_long_messages)
{
    sim_diag_t d;
    sim_diag_init(&d);
    d.max_errors = 0;   /* no cap */
    char big[3000];
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    for (int i = 0; i < 500; i++) sim_diag_error_at(&d, "f", i + 1, 1, "%s", big);
    cr_assert_eq(d.errors, 500);
    size_t lines = 0;
    for (const char *p = sim_diag_text(&d); *p; p++) lines += *p == '\n';
    cr_assert_eq(lines, 500);
    cr_assert(strstr(sim_diag_text(&d), "f:500:1: error: xxx"));
    sim_diag_fini(&d);
}

Test(diag, null_diag_is_ignored)
{
    sim_diag_error_at(NULL, "f", 1, 1, "dropped");
    cr_assert_str_eq(sim_diag_text(NULL), "");
    sim_diag_fini(NULL);
}
