#include "lb.h"

#include <stdlib.h>
#include <string.h>

#include "sim/error.h"

const char *const lb_policy_names[] = {"round_robin", "random", "least_outstanding", "power_of_two", NULL};

int lb_init(lb_t *lb, sim_t *sim, lb_policy_t policy, int replicas, const char *stream)
{
    memset(lb, 0, sizeof *lb);
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
        for (int i = 0; i < lb->leaves; i++) lb->tree[lb->leaves + i] = i < replicas ? i : -1;
        for (int i = lb->leaves - 1; i >= 1; i--) lb->tree[i] = lb->tree[2 * i];   /* all 0: the lowest index */
    }
    return 0;
}

/* The better of two candidates: up, fewer in flight, then lower index. */
static inline int better(const lb_t *lb, int a, int b)
{
    if (a < 0 || !lb->up[a]) return b >= 0 && lb->up[b] ? b : -1;
    if (b < 0 || !lb->up[b]) return a;
    if (lb->outstanding[b] < lb->outstanding[a]) return b;
    if (lb->outstanding[a] < lb->outstanding[b]) return a;
    return a < b ? a : b;
}

void lb_update_(lb_t *lb, int r)
{
    int *t = lb->tree;
    for (int i = (lb->leaves + r) / 2; i >= 1; i /= 2) {
        int b = better(lb, t[2 * i], t[2 * i + 1]);
        if (t[i] == b && b != r) break;   /* r neither was nor became the best here: nothing above changes */
        t[i] = b;
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
        return lb->tree[1];
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
