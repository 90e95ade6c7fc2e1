/* The diagnostics buffer (sim/diag.c) that carries the scenario's messages:
 * compiler-style formatting, the cap on recorded errors, escaping. */
#include <criterion/criterion.h>
#include <string.h>

#include "sim/diag.h"

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
