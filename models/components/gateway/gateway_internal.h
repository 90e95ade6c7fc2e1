/* The gateway's internals, shared by its two pieces:
 *
 *   gateway.c  the process: parsing, request CPU and books, the embedding
 *              cache, the life of a replica, metrics, creation
 *   config.c   configuration through etcd: config watches, reloads, broken
 *              watches (reconnect, re-list, resume), pushes
 *
 * Not part of the interface (models/components/gateway/gateway.h is): only
 * these two files include it. */
#ifndef MODELS_COMPONENTS_GATEWAY_GATEWAY_INTERNAL_H
#define MODELS_COMPONENTS_GATEWAY_GATEWAY_INTERNAL_H

#include <stdint.h>

#include "models/components/gateway/gateway.h"
#include "models/queueing/station.h"
#include "sim/sim.h"

/* config.c: a reload's CPU job (a GW_JOB_RELOAD) ended on its replica's
 * station; it is given back to the pool. */
void gw_reload_done(gw_t *g, stn_job_t *job, stn_outcome_t oc);
/* config.c: the shared watch of a process starting on replica r (none
 * without `config` or with watch_per_request). */
void gw_open_watch(gw_t *g, int r);
/* config.c: the event handler of push number `arg` of the spec. */
void gw_push_event(sim_t *sim, void *obj, uint64_t arg);

#endif
