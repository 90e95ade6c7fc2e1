/* `ragsim init`: the starting scenario is valid and fits at its own load;
 * an existing file is never replaced. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "testutil.h"

#define ragsim(...) tu_run((const char *const[]){RAGSIM_BINARY, __VA_ARGS__, NULL})

Test(init_cli, writes_a_valid_scenario_and_never_replaces)
{
    char *p = tu_tmp_path("init", ".yaml");
    unlink(p);
    tu_run_t r = ragsim("init", p);
    cr_assert_eq(r.status, 0, "%s", r.err);
    tu_run_free(&r);
    r = ragsim("validate", p);
    cr_assert_eq(r.status, 0, "%s", r.err);
    cr_assert_str_eq(r.err, "", "no warning in the starting scenario");
    cr_assert_null(strstr(r.out, "warning:"), "it fits its own load: %s", r.out);
    cr_assert(strstr(r.out, "  llm "), "%s", r.out);
    tu_run_free(&r);
    /* a second init refuses, the file keeps its bytes */
    cr_assert_eq(tu_write_file(p, "name: mine\n"), 0);
    r = ragsim("init", p);
    cr_assert_eq(r.status, 2);
    cr_assert(strstr(r.err, "already exists; init never replaces a file"), "%s", r.err);
    tu_run_free(&r);
    size_t n;
    char *text = tu_read_file(p, &n);
    cr_assert_str_eq(text, "name: mine\n");
    free(text);
    r = ragsim("init");
    cr_assert_eq(r.status, 2);
    cr_assert(strstr(r.err, "missing the file to write"), "%s", r.err);
    tu_run_free(&r);
    unlink(p);
    free(p);
}
