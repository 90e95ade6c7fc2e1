/* A name index: names -> their positions in an array the caller owns,
 * found in O(1) (open addressing on FNV-1a, at most half full), so that a
 * model with thousands of stations, series or streams is built in linear
 * time rather than by a linear search per name.
 *
 * The index stores positions only; the names are read through `name_at`
 * (the array may move: it is read afresh each time). `probes` counts the
 * name comparisons made, so that tests can check the cost without a
 * clock. May call: the C library. */
#ifndef SIM_NAMEIDX_H
#define SIM_NAMEIDX_H

#include <stddef.h>
#include <stdint.h>

typedef const char *(*sim_name_at_fn)(const void *ctx, size_t i);

typedef struct sim_nameidx {
    uint32_t *slot;             /* position + 1, 0: empty */
    size_t cap, n;
    sim_name_at_fn name_at;
    const void *ctx;
    uint64_t probes;            /* name comparisons made so far */
} sim_nameidx_t;

void sim_nameidx_init(sim_nameidx_t *x, sim_name_at_fn name_at, const void *ctx);
void sim_nameidx_fini(sim_nameidx_t *x);
/* Position of `name`, or -1. */
long sim_nameidx_find(sim_nameidx_t *x, const char *name);
/* Index position i (its name read through name_at); the caller has
 * checked that the name is not in the index yet. 0 or SIM_ENOMEM. */
int sim_nameidx_add(sim_nameidx_t *x, size_t i);

#endif
