/* --find max-load: instead of the load axis's grid, one bisection per
 * (cell, variant) between the axis's lowest and highest values for the
 * largest load that meets the SLO, find.steps rounds, each round one batch
 * of the master (sw_run_batch). Calls the sweep's internals
 * (sweep_internal.h). */
#include <math.h>
#include <stdlib.h>

#include "experiment/sweep.h"
#include "experiment/sweep_internal.h"
#include "sim/error.h"

typedef struct bisect {
    uint32_t variant;
    uint64_t cell_point;            /* the grid point with the load at its first value */
    double lo, hi;                  /* lo meets (NaN: not yet), hi does not */
    double next;                    /* the load to evaluate next round; NaN: done */
    int phase;                      /* 0: ends, 1: bisecting, 2: done */
} bisect_t;

int sw_find_max_load(master_t *m, sw_result_t **all, size_t *nall, size_t *capall, size_t *bad)
{
    const sw_def_t *def = m->def;
    size_t reps = (size_t)def->replications, nv = def->nvariants;
    /* one bisection per (cell, variant); the seed index is the cell's
     * point (the load at its first value): common random numbers across
     * the loads of a bisection */
    const sw_axis_t *la = &def->axes[def->load];
    double lmin = la->value[0], lmax = la->value[0];
    for (size_t i = 0; i < la->n; i++) {
        if (la->value[i] < lmin) lmin = la->value[i];
        if (la->value[i] > lmax) lmax = la->value[i];
    }
    size_t nb = 0;
    int rc = SIM_ENOMEM;
    bisect_t *bs = calloc(def->npoints * nv, sizeof *bs);
    sw_task_t *tasks = calloc(def->npoints * nv * reps * 2 + 1, sizeof *tasks);
    sw_result_t *res = calloc(def->npoints * nv * reps * 2 + 1, sizeof *res);
    if (!bs || !tasks || !res) goto out;
    for (uint64_t p = 0; p < def->npoints; p++) {
        size_t coord[SW_MAX_AXES];
        sw_point_coords(def, p, coord);
        if (coord[def->load] != 0) continue;
        for (uint32_t v = 0; v < nv; v++)
            bs[nb++] = (bisect_t){.variant = v, .cell_point = p, .lo = NAN, .hi = NAN, .next = lmin};
    }
    m->total = nb * reps * (size_t)(def->find_steps + 2);
    for (int round = 0; round < def->find_steps + 2 && !*bad; round++) {
        size_t k = 0;
        for (size_t b = 0; b < nb; b++) {
            if (bs[b].phase == 2) continue;
            double loads[2] = {bs[b].next, round == 0 ? lmax : NAN};
            for (int q = 0; q < 2; q++) {
                if (isnan(loads[q])) continue;
                for (uint32_t r = 0; r < reps; r++)
                    tasks[k++] = (sw_task_t){.point = bs[b].cell_point, .seed_index = bs[b].cell_point,
                                             .load = loads[q], .variant = bs[b].variant, .rep = r};
            }
        }
        if (k == 0) break;
        *bad = sw_run_batch(m, tasks, k, res);
        if (*bad) break;
        if (sw_append_runs(all, nall, capall, res, k)) goto out;
        size_t j = 0;
        for (size_t b = 0; b < nb; b++) {
            bisect_t *x = &bs[b];
            if (x->phase == 2) continue;
            if (round == 0) {
                bool okmin = sw_load_meets(def, res + j, reps), okmax = sw_load_meets(def, res + j + reps, reps);
                j += 2 * reps;
                if (!okmin || okmax) x->phase = 2;   /* below the range, or the whole range meets */
                else {
                    x->lo = lmin;
                    x->hi = lmax;
                    x->phase = 1;
                }
            } else {
                bool ok = sw_load_meets(def, res + j, reps);
                j += reps;
                if (ok) x->lo = x->next;
                else x->hi = x->next;
            }
            if (x->phase == 1 && round < def->find_steps) {
                x->next = (x->lo + x->hi) / 2;
                if (la->kind == SW_INTEGER) {
                    x->next = floor(x->next);
                    if (x->next <= x->lo) x->phase = 2;
                }
            } else x->phase = 2;
        }
    }
    rc = 0;
out:
    free(bs);
    free(tasks);
    free(res);
    return rc;
}
