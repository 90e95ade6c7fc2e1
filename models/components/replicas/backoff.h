/* Kubernetes CrashLoopBackOff: the delay before a crashed container is
 * restarted. The first restart waits `initial` (10 s), each further crash
 * doubles the wait up to `cap` (300 s); a container that has run `reset`
 * (10 min) since its last restart without crashing starts again from
 * `initial`. (kubelet: backOffPeriod 10 s, MaxContainerBackOff 300 s, reset
 * after 2 x MaxContainerBackOff = 10 min.) */
#ifndef MODELS_COMPONENTS_REPLICAS_BACKOFF_H
#define MODELS_COMPONENTS_REPLICAS_BACKOFF_H

#include "sim/cfg.h"
#include "sim/time.h"

typedef struct {
    sim_time_t initial, cap, reset;
} backoff_spec_t;

#define BACKOFF_DEFAULTS ((backoff_spec_t){10 * SIM_SEC, 300 * SIM_SEC, 600 * SIM_SEC})

typedef struct {
    sim_time_t next_delay;     /* delay for the next crash */
    sim_time_t last_restart;   /* when the container last (re)started; -1 never crashed */
    int crashes;
} backoff_t;

/* Optional mapping {initial: 10s, cap: 300s, reset: 10m}; absent keys keep the defaults. */
int backoff_spec_parse(sim_diag_t *d, sim_cfg_node_t *map, backoff_spec_t *spec);

void backoff_init(backoff_t *b, const backoff_spec_t *spec);

/* A crash at `now`: returns the delay until the restart and advances the
 * state (resetting first if the container ran `reset` without crashing). */
sim_time_t backoff_on_crash(backoff_t *b, const backoff_spec_t *spec, sim_time_t now);

/* The container restarted at `now`. */
void backoff_on_restart(backoff_t *b, sim_time_t now);

#endif
