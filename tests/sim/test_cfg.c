/* Scenario tree: loading (sim/cfg.c, cfg_yaml.c, cfg_yaml_errors.c): the
 * position and message of every kind of load error, files on disk, the
 * limits, paths of nodes and reports at a node. The getters, --set, unknown
 * keys and emission have suites of their own (test_cfg_*.c). */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sim/cfg.h"
#include "sim/diag.h"
#include "sim/error.h"
#include "cfgfx.h"
#include "testutil.h"

TestSuite(cfg, .init = cfg_setup, .fini = cfg_teardown);

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

/* ---- Limits ------------------------------------------------------------- */

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

/* ---- Paths and reports --------------------------------------------------- */

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
