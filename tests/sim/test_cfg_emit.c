/* Scenario tree: emission as YAML text (sim/cfg_emit.c): a round trip to an
 * equal tree, and the effective scenario after overrides. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sim/cfg.h"
#include "sim/diag.h"
#include "cfgfx.h"

TestSuite(cfg_emit, .init = cfg_setup, .fini = cfg_teardown);

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

Test(cfg_emit, emit_round_trips_to_an_equal_tree)
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

Test(cfg_emit, emit_reflects_overrides)
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
