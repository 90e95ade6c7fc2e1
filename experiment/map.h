/* `ragsim map`: where a service stops recovering. Over a grid of load x
 * trigger strength (two axes in the sweep's syntax), every cell is run
 * with replications and common random numbers and classified: recovers
 * within T of the trigger's end, does not recover (metastable), or
 * overloaded before the trigger. With --find, one axis is bisected over
 * its grid along each value of the other, for the boundary. Runs on the
 * sweep's master, workers and checkpoint (sweep.h): -j and MPI give the
 * same output. Definitions: docs/map.md. */
#ifndef EXPERIMENT_MAP_H
#define EXPERIMENT_MAP_H

#include <stdint.h>
#include <stdio.h>

#include "experiment/sweep.h"

/* What is run. */
enum { MAP_GRID, MAP_FIND_TRIGGER, MAP_FIND_LOAD };

/* A cell's class. */
enum { MAP_RECOVERS = 0, MAP_METASTABLE = 1, MAP_OVERLOADED = 2 };

/* The command's own options (sw_opts_t.cmd); sw_opts_t.sweep is the scenario. */
typedef struct map_opts {
    const char *load;               /* "PATH=VALUES": the load axis */
    const char *trigger;            /* "PATH=VALUES": the trigger's strength */
    const char *variants;           /* comma-separated, NULL: all the scenario's */
    double within;                  /* s: recovered only within this long after the trigger's end; INFINITY: by the end */
    int find;                       /* MAP_GRID, MAP_FIND_TRIGGER or MAP_FIND_LOAD */
} map_opts_t;

/* The Wilson score interval of k successes in n trials at z = 1.96. */
void map_wilson(uint64_t k, uint64_t n, double *lo, double *hi);

/* The definition the map runs (a sweep over the two axes), from o and its
 * map_opts_t; errors name the option (--load:1:COL). A sw_def_loader_fn. */
int map_load_def(const sw_opts_t *o, sw_def_t *def, sim_diag_t *d);

/* `ragsim map`: returns the exit status (0, 1 runtime failure, 2 bad input). */
int map_cmd(const sw_opts_t *o, sw_pool_t *pool, FILE *out, FILE *err);

extern const char map_usage[];

#endif
