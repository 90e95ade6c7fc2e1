/* Kubernetes CrashLoopBackOff arithmetic (backoff.h). Calls nothing. */
#include "models/components/replicas/backoff.h"

#include "sim/error.h"

int backoff_spec_parse(sim_diag_t *d, sim_cfg_node_t *map, backoff_spec_t *spec)
{
    *spec = BACKOFF_DEFAULTS;
    if (!map) return 0;
    if (!sim_cfg_expect_map(d, map, "restart_backoff")) return SIM_ECONFIG;
    int errs = d->errors;
    sim_cfg_duration(d, map, "initial", SIM_CFG_POSITIVE, spec->initial, &spec->initial);
    sim_cfg_duration(d, map, "cap", SIM_CFG_POSITIVE, spec->cap, &spec->cap);
    sim_cfg_duration(d, map, "reset", SIM_CFG_POSITIVE, spec->reset, &spec->reset);
    if (d->errors == errs && spec->cap < spec->initial)
        sim_cfg_error(d, sim_cfg_get(map, "cap"), "'cap' must not be shorter than 'initial'");
    return d->errors == errs ? 0 : SIM_ECONFIG;
}

void backoff_init(backoff_t *b, const backoff_spec_t *spec)
{
    (void)spec;
    b->next_delay = 0;   /* no entry yet: the first crash restarts at once */
    b->last_restart = 0;
    b->crashes = 0;
}

sim_time_t backoff_on_crash(backoff_t *b, const backoff_spec_t *spec, sim_time_t now)
{
    /* the entry expires after `reset` without a crash: as if there were none */
    if (b->crashes > 0 && now - b->last_restart >= spec->reset) b->next_delay = 0;
    sim_time_t d = b->next_delay;
    b->next_delay = d == 0 ? spec->initial : d > spec->cap / 2 ? spec->cap : d * 2;
    b->crashes++;
    return d;
}

void backoff_on_restart(backoff_t *b, sim_time_t now) { b->last_restart = now; }
