/* Scenario tree: --set overrides (sim/cfg_set.c): replacing, creating,
 * indexing, YAML values, and the position of every error in the assignment. */
#include <criterion/criterion.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sim/cfg.h"
#include "sim/diag.h"
#include "sim/error.h"
#include "cfgfx.h"

TestSuite(cfg_set, .init = cfg_setup, .fini = cfg_teardown);

/* ---- --set overrides ---------------------------------------------------- */

Test(cfg_set, set_replaces_an_existing_value)
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

Test(cfg_set, set_value_error_points_into_the_assignment)
{
    sim_cfg_t *cfg = load_ok(scenario);
    cr_assert_eq(sim_cfg_set(cfg, "workload.rate=800", &D), 0);
    double r;
    cr_assert_eq(sim_cfg_rate(&D, at(cfg, "workload", NULL), "rate", 0, 0, &r), SIM_ECONFIG);
    cr_assert_str_eq(DIAG, "--set:1:15: error: 'workload.rate': expected a rate with a unit such "
                           "as 800/s or 1.2k/s, got '800'\n");
    sim_cfg_destroy(cfg);
}

Test(cfg_set, set_new_key_is_reported_unknown_at_the_set_position)
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

Test(cfg_set, set_creates_missing_mappings)
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

Test(cfg_set, set_indexes_into_sequences)
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

Test(cfg_set, set_parses_flow_lists_and_maps)
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

Test(cfg_set, set_scalar_forms)
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

Test(cfg_set, set_syntax_error_points_into_the_value)
{
    sim_cfg_t *cfg = load_ok("route: [db]\n");
    cr_assert_eq(sim_cfg_set(cfg, "route=[a, b", &D), SIM_ECONFIG);
    cr_assert_str_eq(DIAG, "--set:1:12: error: YAML syntax error: did not find expected ',' or "
                           "']' (while parsing a flow sequence started at 1:7)\n");
    cr_assert_eq(at(cfg, "route", NULL)->n, 1, "a failed override changes nothing");
    sim_cfg_destroy(cfg);
}

Test(cfg_set, set_rejects_malformed_assignments)
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

Test(cfg_set, set_too_deep_is_rejected)
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
