/* Load balancer over the replicas of a component.
 *
 *   round_robin         next up replica in turn
 *   random              uniform among up replicas
 *   least_outstanding   fewest calls in flight (ties: lowest index)
 *   power_of_two        two distinct up replicas at random, the one with fewer
 *                       in flight (Mitzenmacher 2001; ties: the first drawn)
 *
 * Replicas that are down are skipped. least_outstanding keeps a tournament
 * tree (a segment tree of the best replica of each subtree, one integer
 * comparison per level), so a pick is
 * O(1) and lb_begin/lb_end/lb_set_up O(log replicas); random and
 * power_of_two are O(1) while every replica is up, O(replicas) otherwise;
 * round_robin is O(1) per up replica skipped. Random choices draw from the
 * balancer's own stream. */
#ifndef MODELS_COMPONENTS_REPLICAS_LB_H
#define MODELS_COMPONENTS_REPLICAS_LB_H

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
    uint64_t *tree;         /* least_outstanding: each node the smallest key of its subtree,
                             * key = down << 63 | in flight << 12 | index (lb_key), so that
                             * tree[1] names the best up replica; node i's children are
                             * 2i, 2i+1; leaves from `leaves` (unused ones UINT64_MAX) */
    int leaves;
} lb_t;

/* `stream` names the random stream ("lb/<component>"). Returns 0 or SIM_ENOMEM. */
int lb_init(lb_t *lb, sim_t *sim, lb_policy_t policy, int replicas, const char *stream);
void lb_fini(lb_t *lb);

/* The replica for the next call, or -1 if none is up. */
int lb_pick(lb_t *lb);
void lb_update_(lb_t *lb, int r);   /* re-rank replica r in the tree */
static inline void lb_begin(lb_t *lb, int r)
{
    lb->outstanding[r]++;
    if (lb->tree) lb_update_(lb, r);
}
static inline void lb_end(lb_t *lb, int r)
{
    lb->outstanding[r]--;
    if (lb->tree) lb_update_(lb, r);
}
void lb_set_up(lb_t *lb, int r, bool up);

#endif
