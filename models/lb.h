/* Load balancer over the replicas of a component.
 *
 *   round_robin         next up replica in turn
 *   random              uniform among up replicas
 *   least_outstanding   fewest calls in flight (ties: lowest index)
 *   power_of_two        two distinct up replicas at random, the one with fewer
 *                       in flight (Mitzenmacher 2001; ties: the first drawn)
 *
 * Replicas that are down are skipped. Cost: O(replicas) per pick for
 * least_outstanding and when replicas are down, O(1) otherwise. Random
 * choices draw from the balancer's own stream. */
#ifndef MODELS_LB_H
#define MODELS_LB_H

#include <stdbool.h>
#include <stdint.h>

#include "sim/cfg.h"
#include "sim/sim.h"

typedef enum { LB_ROUND_ROBIN, LB_RANDOM, LB_LEAST_OUTSTANDING, LB_POWER_OF_TWO } lb_policy_t;

extern const char *const lb_policy_names[];   /* NULL-terminated, for sim_cfg_enum */

#define LB_MAX_REPLICAS 4096

typedef struct lb {
    lb_policy_t policy;
    int n;                  /* replicas */
    int nup;
    int64_t *outstanding;   /* calls in flight per replica */
    bool *up;
    uint32_t next;          /* round robin cursor */
    sim_rng_t *rng;
} lb_t;

/* `stream` names the random stream ("lb/<component>"). Returns 0 or SIM_ENOMEM. */
int lb_init(lb_t *lb, sim_t *sim, lb_policy_t policy, int replicas, const char *stream);
void lb_fini(lb_t *lb);

/* The replica for the next call, or -1 if none is up. */
int lb_pick(lb_t *lb);
static inline void lb_begin(lb_t *lb, int r) { lb->outstanding[r]++; }
static inline void lb_end(lb_t *lb, int r) { lb->outstanding[r]--; }
void lb_set_up(lb_t *lb, int r, bool up);

#endif
