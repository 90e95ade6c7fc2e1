/* The vector DB suites' set-up (tests/models/components/test_vectordb*.c):
 * a spec parsed from YAML (every key used), the simulation with the vector
 * DB on it, and the teardown. Each suite keeps its own fixture struct and
 * passes its fields. Header-only. */
#ifndef RAGSIM_VDBFX_H
#define RAGSIM_VDBFX_H

#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "models/components/vectordb/vectordb.h"
#include "models/queueing/workload.h"

/* Parse `yaml` (as file "v.yaml") and its `vectordb` mapping into spec,
 * then check for unused keys: 0, or the first failure's status, with the
 * reasons in d. spec is to be finished (vdb_spec_fini) either way. */
static inline int vdbfx_parse_status(const char *yaml, vdb_spec_t *spec, sim_diag_t *d)
{
    sim_cfg_t *cfg = sim_cfg_load_string("v.yaml", yaml, strlen(yaml), d);
    cr_assert_not_null(cfg, "%s", sim_diag_text(d));
    int rc = vdb_spec_parse(d, sim_cfg_get(sim_cfg_root(cfg), "vectordb"), spec);
    int unused = sim_cfg_check_unused(cfg, d);
    sim_cfg_destroy(cfg);
    return rc ? rc : unused;
}

/* The same, asserting that it parses. */
static inline void vdbfx_parse(const char *yaml, vdb_spec_t *spec)
{
    sim_diag_t d;
    sim_diag_init(&d);
    cr_assert_eq(vdbfx_parse_status(yaml, spec, &d), 0, "%s", sim_diag_text(&d));
    sim_diag_fini(&d);
}

/* A configuration error: the YAML, where it is reported and what it says. */
typedef struct {
    const char *yaml, *msg;
    int line, col;
} vdbfx_err_t;

/* Expect each case's error at "v.yaml:LINE:COL: error:" with its message. */
static inline void vdbfx_expect_errors(const vdbfx_err_t *cases, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        sim_diag_t d;
        sim_diag_init(&d);
        vdb_spec_t sp;
        int rc = vdbfx_parse_status(cases[i].yaml, &sp, &d);
        char pos[64];
        snprintf(pos, sizeof pos, "v.yaml:%d:%d: error:", cases[i].line, cases[i].col);
        cr_expect(strstr(sim_diag_text(&d), pos) && strstr(sim_diag_text(&d), cases[i].msg),
                  "case %zu (rc %d): want '%s' and '%s' in: %s", i, rc, pos, cases[i].msg, sim_diag_text(&d));
        vdb_spec_fini(&sp);
        sim_diag_fini(&d);
    }
}

/* A simulation (seed, replication, 1 s samples) with the vector DB of spec on it. */
static inline void vdbfx_create(sim_t **sim, call_pool_t *pool, vdb_t **v, const vdb_spec_t *spec, uint64_t seed,
                                uint32_t rep)
{
    sim_config_t sc = {.master_seed = seed, .replication = rep, .sample_interval = SIM_SEC};
    *sim = sim_create(&sc);
    cr_assert_not_null(*sim);
    call_pool_init(pool);
    *v = vdb_create(*sim, spec);
    cr_assert_not_null(*v);
}

/* Undo vdbfx_create and vdbfx_parse, and the workload if one was set (wl: NULL or its spec). */
static inline void vdbfx_destroy(sim_t *sim, call_pool_t *pool, vdb_t *v, vdb_spec_t *spec, wl_spec_t *wl)
{
    vdb_destroy(v);
    sim_destroy(sim);
    call_pool_fini(pool);
    vdb_spec_fini(spec);
    if (wl && wl->segs) wl_spec_fini(wl);
}

#endif
