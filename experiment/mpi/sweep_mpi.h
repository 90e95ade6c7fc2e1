/* `ragsim-mpi sweep`: the sweep's workers are MPI ranks (see sweep_mpi.c). */
#ifndef EXPERIMENT_MPI_SWEEP_MPI_H
#define EXPERIMENT_MPI_SWEEP_MPI_H

#include <stdio.h>

#include "experiment/sweep.h"

/* Initialise MPI, run the sweep (rank 0 the master, the others workers)
 * and finalise. Returns this rank's exit status. */
int sw_mpi_sweep(const sw_opts_t *o);
/* The same for `ragsim-mpi run` / `compare`: rank 0 runs the command,
 * handing replications to the other ranks; the checkpoint directory
 * (OUT.h5.ckpt/) must be on a file system every rank sees. */
int sw_mpi_runs(rs_opts_t *o, bool compare);

/* The same for any command of the sweep's master (`ragsim map`): cmd on
 * rank 0 (with the ranks as its pool), workers build the definition with
 * load(o) and serve. */
typedef int (*sw_cmd_fn)(const sw_opts_t *o, sw_pool_t *pool, FILE *out, FILE *err);
int sw_mpi_main(const sw_opts_t *o, sw_cmd_fn cmd, sw_def_loader_fn load);

#endif
