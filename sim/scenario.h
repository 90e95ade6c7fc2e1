/* The run parameters every scenario has, whatever it models:
 *
 *   name: mm1                 # required; names the trace's runs
 *   description: "..."        # optional
 *   duration: 2h              # required: simulated time of one run
 *   warmup: 10m               # statistics before this are discarded (default 0s)
 *   seed: 1                   # master seed (default 1)
 *   replications: 10          # independent runs (default 1)
 *   sample_interval: 1s       # time-series resolution (default 1s)
 *
 * Everything else in the file belongs to the model (models/). */
#ifndef SIM_SCENARIO_H
#define SIM_SCENARIO_H

#include <stdint.h>

#include "cfg.h"
#include "time.h"

typedef struct sim_scenario {
    const char *name;
    const char *description;
    sim_time_t duration;
    sim_time_t warmup;
    sim_time_t sample_interval;
    uint64_t seed;
    int64_t replications;
} sim_scenario_t;

#define SIM_MAX_REPLICATIONS 100000
#define SIM_SCENARIO_MAX_SAMPLES 10000000   /* duration / sample_interval at most */

/* Read the run parameters from the root mapping; errors go to d. Returns 0 or SIM_ECONFIG. */
int sim_scenario_parse(sim_diag_t *d, sim_cfg_node_t *root, sim_scenario_t *sc);

#endif
