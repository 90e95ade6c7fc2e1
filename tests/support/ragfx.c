#include "ragfx.h"

#include <criterion/criterion.h>
#include <string.h>

void ragfx_load(ragfx_t *f, const char *name, const char *yaml, uint64_t seed)
{
    memset(f, 0, sizeof *f);
    sim_diag_t d;
    sim_diag_init(&d);
    f->cfg = sim_cfg_load_string(name, yaml, strlen(yaml), &d);
    cr_assert_not_null(f->cfg, "%s", sim_diag_text(&d));
    sim_cfg_node_t *root = sim_cfg_root(f->cfg);
    sim_scenario_parse(&d, root, &f->sc);
    rag_spec_parse(&d, root, &f->sc, &f->spec);
    sim_cfg_check_unused(f->cfg, &d);
    cr_assert_eq(d.errors, 0, "%s\n%s", sim_diag_text(&d), yaml);
    sim_diag_fini(&d);
    sim_config_t sc = {.master_seed = seed, .sample_interval = SIM_SEC};
    f->sim = sim_create(&sc);
    cr_assert_not_null(f->sim);
    f->rag = rag_create(f->sim, &f->spec);
    cr_assert_not_null(f->rag);
}

void ragfx_run(ragfx_t *f, const char *name, const char *yaml, uint64_t seed, bool finish)
{
    ragfx_load(f, name, yaml, seed);
    sim_run(f->sim, f->sc.duration);
    if (finish) rag_finish(f->rag);
}

void ragfx_done(ragfx_t *f)
{
    rag_destroy(f->rag);
    sim_destroy(f->sim);
    rag_spec_fini(&f->spec);
    sim_cfg_destroy(f->cfg);
}
