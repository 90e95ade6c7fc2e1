/* Load balancers over a component's replicas (lb.h): round robin, random,
 * least outstanding (a tournament tree), power of two. Calls the engine's
 * random streams. */
#include "models/components/replicas/lb.h"

#include <stdlib.h>
#include <string.h>

#include "sim/error.h"

const char *const lb_policy_names[] = {"round_robin", "random", "least_outstanding", "power_of_two", NULL};

/* Replica r's rank as one integer: up before down, then fewer in flight,
 * then the lower index (12 bits: LB_MAX_REPLICAS); in flight saturates at
 * 2^50, far beyond any run. The smaller key is the better replica. */
static inline uint64_t lb_key(const lb_t *lb, int r)
{
    int64_t o = lb->outstanding[r];
    uint64_t k = o <= 0 ? 0 : o >= (int64_t)1 << 50 ? ((uint64_t)1 << 50) - 1 : (uint64_t)o;
    return (uint64_t)!lb->up[r] << 63 | k << 12 | (uint64_t)r;
}

int lb_init(lb_t *lb, sim_t *sim, lb_policy_t policy, int replicas, const char *stream)
{
    memset(lb, 0, sizeof *lb);
    if (replicas < 1 || replicas > LB_MAX_REPLICAS) return SIM_EINVAL;   /* the scenario checks bound it */
    lb->policy = policy;
    lb->n = replicas;
    lb->nup = replicas;
    lb->outstanding = calloc((size_t)replicas, sizeof *lb->outstanding);
    lb->up = malloc((size_t)replicas * sizeof *lb->up);
    lb->rng = sim_stream(sim, stream);
    if (!lb->outstanding || !lb->up || !lb->rng) return SIM_ENOMEM;
    for (int i = 0; i < replicas; i++) lb->up[i] = true;
    if (policy == LB_LEAST_OUTSTANDING) {
        lb->leaves = 1;
        while (lb->leaves < replicas) lb->leaves *= 2;
        lb->tree = malloc(2 * (size_t)lb->leaves * sizeof *lb->tree);
        if (!lb->tree) return SIM_ENOMEM;
        for (int i = 0; i < lb->leaves; i++) lb->tree[lb->leaves + i] = i < replicas ? lb_key(lb, i) : UINT64_MAX;
        for (int i = lb->leaves - 1; i >= 1; i--)
            lb->tree[i] = lb->tree[2 * i] < lb->tree[2 * i + 1] ? lb->tree[2 * i] : lb->tree[2 * i + 1];
    }
    return 0;
}

void lb_update_(lb_t *lb, int r)
{
    uint64_t *t = lb->tree;
    int i = lb->leaves + r;
    t[i] = lb_key(lb, r);
    for (i /= 2; i >= 1; i /= 2) {
        uint64_t m = t[2 * i] < t[2 * i + 1] ? t[2 * i] : t[2 * i + 1];
        if (t[i] == m) break;   /* unchanged here: nothing above changes */
        t[i] = m;
    }
}

void lb_fini(lb_t *lb)
{
    free(lb->outstanding);
    free(lb->up);
    free(lb->tree);
    memset(lb, 0, sizeof *lb);
}

void lb_set_up(lb_t *lb, int r, bool up)
{
    if (lb->up[r] == up) return;
    lb->up[r] = up;
    lb->nup += up ? 1 : -1;
    if (lb->tree) lb_update_(lb, r);
}

/* The k-th up replica (0-based); nup > 0. */
static int nth_up(const lb_t *lb, uint64_t k)
{
    if (lb->nup == lb->n) return (int)k;
    for (int i = 0; i < lb->n; i++)
        if (lb->up[i] && k-- == 0) return i;
    return -1;
}

int lb_pick(lb_t *lb)
{
    if (lb->nup <= 0) return -1;
    switch (lb->policy) {
    case LB_ROUND_ROBIN:
        for (int tries = 0; tries < lb->n; tries++) {
            int r = (int)(lb->next++ % (uint32_t)lb->n);
            if (lb->up[r]) return r;
        }
        return -1;
    case LB_RANDOM:
        return nth_up(lb, sim_rng_below(lb->rng, (uint64_t)lb->nup));
    case LB_LEAST_OUTSTANDING:
        return (int)(lb->tree[1] & 0xFFF);   /* nup > 0: an up replica */
    case LB_POWER_OF_TWO: {
        if (lb->nup == 1) return nth_up(lb, 0);
        uint64_t a = sim_rng_below(lb->rng, (uint64_t)lb->nup);
        uint64_t b = sim_rng_below(lb->rng, (uint64_t)lb->nup - 1);
        if (b >= a) b++;
        int ra = nth_up(lb, a), rb = nth_up(lb, b);
        return lb->outstanding[rb] < lb->outstanding[ra] ? rb : ra;
    }
    }
    return -1;
}
