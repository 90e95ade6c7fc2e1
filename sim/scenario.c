/* A scenario's run parameters (scenario.h): name, duration, warm-up, seed,
 * replications, sampling. Calls the scenario tree's getters. */
#include "scenario.h"

#include <string.h>

#include "error.h"

int sim_scenario_parse(sim_diag_t *d, sim_cfg_node_t *root, sim_scenario_t *sc)
{
    int errs = d->errors;
    memset(sc, 0, sizeof *sc);
    int64_t seed = 1;
    sim_cfg_string(d, root, "name", SIM_CFG_REQUIRED, NULL, &sc->name);
    sim_cfg_string(d, root, "description", 0, "", &sc->description);
    sim_cfg_duration(d, root, "duration", SIM_CFG_REQUIRED | SIM_CFG_POSITIVE, 0, &sc->duration);
    sim_cfg_duration(d, root, "warmup", 0, 0, &sc->warmup);
    sim_cfg_duration(d, root, "sample_interval", SIM_CFG_POSITIVE, SIM_SEC, &sc->sample_interval);
    sim_cfg_int(d, root, "seed", 0, 0, INT64_MAX, 1, &seed);
    sim_cfg_int(d, root, "replications", 0, 1, SIM_MAX_REPLICATIONS, 1, &sc->replications);
    sc->seed = (uint64_t)seed;
    if (d->errors == errs && sc->warmup >= sc->duration)
        sim_cfg_error(d, sim_cfg_get(root, "warmup"),
                      "'warmup' (%.6g s) must be shorter than 'duration' (%.6g s)",
                      sim_time_to_s(sc->warmup), sim_time_to_s(sc->duration));
    if (d->errors == errs && sc->duration / sc->sample_interval > SIM_SCENARIO_MAX_SAMPLES)
        sim_cfg_error(d, sim_cfg_get(root, "sample_interval") ? sim_cfg_get(root, "sample_interval") : sim_cfg_get(root, "duration"),
                      "'sample_interval' (%.6g s) gives %.3g samples over the %.6g s run, more than %d: "
                      "every time series would hold them all; use a longer interval",
                      sim_time_to_s(sc->sample_interval), (double)(sc->duration / sc->sample_interval),
                      sim_time_to_s(sc->duration), SIM_SCENARIO_MAX_SAMPLES);
    if (d->errors == errs && sc->sample_interval > sc->duration) {
        /* at the interval, or at the duration when the interval is the default */
        sim_cfg_node_t *si = sim_cfg_get(root, "sample_interval");
        if (si)
            sim_cfg_warn(d, si, "'sample_interval' is longer than 'duration': the time series will be empty");
        else
            sim_cfg_warn(d, sim_cfg_get(root, "duration"),
                         "'duration' (%.6g s) is shorter than the default 'sample_interval' (%.6g s): the time "
                         "series will be empty (set a shorter sample_interval)",
                         sim_time_to_s(sc->duration), sim_time_to_s(sc->sample_interval));
    }
    return d->errors == errs ? 0 : SIM_ECONFIG;
}
