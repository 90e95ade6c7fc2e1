/* Network: a generic open queueing network. Requests arrive from the
 * workload and visit the stations of the route in order; a request ends
 * when it leaves the last station (completed), finds a queue full
 * (rejected), or waits past a station's queue timeout (timed_out).
 *
 *   workload: {arrivals: poisson, rate: 9/s}
 *   stations:
 *     frontend: {servers: 2, service: {dist: exponential, mean: 50ms}}
 *     db:       {servers: 10, service: {dist: exponential, mean: 1s}, queue_limit: 20}
 *   route: [frontend, db]
 *
 * This is the foundation the RAG components build on: each of them is a
 * station (or several) with a service time computed from its own model. */
#ifndef MODELS_QUEUEING_NETWORK_H
#define MODELS_QUEUEING_NETWORK_H

#include <stddef.h>

#include "models/queueing/station.h"
#include "models/queueing/workload.h"
#include "sim/cfg.h"
#include "sim/sim.h"
#include "sim/stats.h"
#include "sim/table.h"

typedef struct net_spec {
    wl_spec_t workload;
    stn_spec_t *stations;
    size_t nstations;
    size_t *route;            /* station indexes */
    size_t nroute;
    uint64_t name_probes;     /* name comparisons resolving the route (linear in its length; tests) */
} net_spec_t;

/* Parse `workload`, `stations` and `route` from the scenario root. */
int net_spec_parse(sim_diag_t *d, sim_cfg_node_t *root, net_spec_t *spec);
void net_spec_fini(net_spec_t *spec);
/* Index of the station named `name`, or -1 (a linear search: for one
 * lookup; the route is resolved through a name index). */
int net_spec_find(const net_spec_t *spec, const char *name);

typedef struct net_req net_req_t;

typedef struct net {
    sim_t *sim;
    const net_spec_t *spec;
    station_t *st;            /* one per spec station */
    wl_gen_t gen;

    net_req_t *free_reqs;     /* request pool */
    void **slabs;
    size_t nslabs;
    uint64_t next_id;
    int64_t in_flight;

    /* end-to-end, since warm-up */
    uint64_t arrivals, completed, rejected, timed_out;
    sim_tmean_t sojourn_s;
    sim_hist_t sojourn;       /* ns */

    /* current sample window */
    uint64_t win_completed, win_rejected, win_timed_out, win_arrivals;
    sim_hist_t win_sojourn;       /* kept only when the time series are sampled */
    bool windowed;
    int col[8];
    sim_time_t warmup_end;    /* start of the statistics window */
} net_t;

/* Build the network in run `sim` and start the workload. NULL on OOM. */
net_t *net_create(sim_t *sim, const net_spec_t *spec);
void net_destroy(net_t *net);
/* Close statistics at the end of the run. */
void net_finish(net_t *net);

/* The per-station table of a finished run (columns as in docs/trace-format.md). */
int net_station_table(const net_t *net, sim_table_t *t);

#endif
