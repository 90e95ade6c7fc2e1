/* Kubernetes CrashLoopBackOff: the delay before a crashed container is
 * restarted. The kubelet keeps a back-off entry per container: a crash with
 * no entry (the first, or the first after `reset` without a crash) is
 * restarted at once and creates the entry at `initial` (10 s); a crash with
 * an entry waits its delay, then the delay doubles up to `cap` (300 s). The
 * entry expires when `reset` (10 min) has passed between the last restart
 * and the crash. So: 0, 10, 20, 40, 80, 160, 300, 300 ... s. (kubelet:
 * doBackOff with flowcontrol.Backoff: IsInBackOffSince is false without an
 * entry, Next creates it at backOffPeriod 10 s and doubles it up to
 * MaxContainerBackOff 300 s; an entry expires after 2 x MaxContainerBackOff
 * = 10 min since its last update.) */
#ifndef MODELS_COMPONENTS_REPLICAS_BACKOFF_H
#define MODELS_COMPONENTS_REPLICAS_BACKOFF_H

#include "sim/cfg.h"
#include "sim/time.h"

typedef struct {
    sim_time_t initial, cap, reset;
} backoff_spec_t;

#define BACKOFF_DEFAULTS ((backoff_spec_t){10 * SIM_SEC, 300 * SIM_SEC, 600 * SIM_SEC})

typedef struct {
    sim_time_t next_delay;     /* delay for the next crash: 0 while there is no entry */
    sim_time_t last_restart;   /* when the container last (re)started */
    int crashes;
} backoff_t;

/* Optional mapping {initial: 10s, cap: 300s, reset: 10m}; absent keys keep the defaults. */
int backoff_spec_parse(sim_diag_t *d, sim_cfg_node_t *map, backoff_spec_t *spec);

void backoff_init(backoff_t *b, const backoff_spec_t *spec);

/* A crash at `now`: returns the delay until the restart (0: at once) and
 * advances the state (dropping the entry first if the container ran
 * `reset` since its last restart without crashing). */
sim_time_t backoff_on_crash(backoff_t *b, const backoff_spec_t *spec, sim_time_t now);

/* The container restarted at `now`. */
void backoff_on_restart(backoff_t *b, sim_time_t now);

#endif
