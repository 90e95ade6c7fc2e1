/* The fixture of the scenario-tree suites (tests/sim/test_cfg*.c): a
 * diagnostics buffer D, fresh for each test (cfg_setup, cfg_teardown as the
 * suite's .init and .fini), assertions on its text, loading YAML from a
 * string as "s.yaml", and a sample scenario. Header-only: each suite has
 * its own D. */
#ifndef RAGSIM_CFGFX_H
#define RAGSIM_CFGFX_H

#include <criterion/criterion.h>
#include <string.h>

#include "sim/cfg.h"
#include "sim/diag.h"

static sim_diag_t D;

static inline void cfg_setup(void) { sim_diag_init(&D); }
static inline void cfg_teardown(void) { sim_diag_fini(&D); }

#define DIAG sim_diag_text(&D)
#define ASSERT_DIAG(s)                                                                   \
    cr_assert(strstr(DIAG, (s)) != NULL, "expected a diagnostic containing\n  %s\ngot\n%s", \
              (s), DIAG)
#define ASSERT_NO_DIAG() cr_assert_str_eq(DIAG, "", "unexpected diagnostics:\n%s", DIAG)

static inline sim_cfg_t *load(const char *text)
{
    return sim_cfg_load_string("s.yaml", text, strlen(text), &D);
}

static inline sim_cfg_t *load_ok(const char *text)
{
    sim_cfg_t *cfg = load(text);
    cr_assert_not_null(cfg, "load failed:\n%s", DIAG);
    return cfg;
}

/* Map at a dotted path of plain keys (test helper; marks keys used). */
static inline sim_cfg_node_t *at(sim_cfg_t *cfg, const char *k1, const char *k2)
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

#endif
