/* Scenario tree: unknown keys and did-you-mean (sim/cfg_unknown.c), with
 * sim_cfg_touch and sim_cfg_touch_all. */
#include <criterion/criterion.h>
#include <stdint.h>

#include "sim/cfg.h"
#include "sim/diag.h"
#include "cfgfx.h"

TestSuite(cfg_unknown, .init = cfg_setup, .fini = cfg_teardown);

/* ---- Unknown keys ------------------------------------------------------- */

Test(cfg_unknown, unknown_key_suggests_a_known_key_of_the_same_mapping)
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

Test(cfg_unknown, unknown_top_level_key_suggests_or_lists)
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

Test(cfg_unknown, unknown_subtree_gives_one_error)
{
    sim_cfg_t *cfg = load_ok("stationz:\n  db:\n    servers: 1\n    x: 2\nseed: 1\n");
    int64_t v;
    sim_cfg_int(&D, sim_cfg_root(cfg), "seed", 0, 0, 9, 0, &v);
    cr_assert_eq(sim_cfg_check_unused(cfg, &D), 1);
    cr_assert_str_eq(DIAG, "s.yaml:1:1: error: unknown top-level key 'stationz' (known keys: "
                           "seed)\n");
    sim_cfg_destroy(cfg);
}

Test(cfg_unknown, unknown_keys_inside_sequence_items_are_found)
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

Test(cfg_unknown, touch_all_marks_a_whole_subtree_used)
{
    sim_cfg_t *cfg = load_ok("notes:\n  anything: [1, {deep: 2}]\n");
    sim_cfg_touch_all(sim_cfg_get(sim_cfg_root(cfg), "notes"));
    cr_assert_eq(sim_cfg_check_unused(cfg, &D), 0, "%s", DIAG);
    ASSERT_NO_DIAG();
    sim_cfg_destroy(cfg);
}

Test(cfg_unknown, touch_marks_a_user_named_entry_but_not_its_keys)
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

Test(cfg_unknown, closest_uses_damerau_levenshtein_with_a_length_limit)
{
    static const char *const c[] = {"servers", "service_time", "seed", "duration"};
    cr_assert_str_eq(sim_cfg_closest("servres", c, 4), "servers");    /* transposition: 1 */
    cr_assert_str_eq(sim_cfg_closest("sed", c, 4), "seed");
    cr_assert_str_eq(sim_cfg_closest("servce_tme", c, 4), "service_time");
    cr_assert_null(sim_cfg_closest("capacity", c, 4));
    cr_assert_str_eq(sim_cfg_closest("duraton", c, 4), "duration");
    cr_assert_null(sim_cfg_closest("xy", c, 4));
}
