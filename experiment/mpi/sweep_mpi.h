/* `ragsim-mpi sweep`: the sweep's workers are MPI ranks (see sweep_mpi.c). */
#ifndef EXPERIMENT_MPI_SWEEP_MPI_H
#define EXPERIMENT_MPI_SWEEP_MPI_H

#include "experiment/sweep.h"

/* Initialise MPI, run the sweep (rank 0 the master, the others workers)
 * and finalise. Returns this rank's exit status. */
int sw_mpi_sweep(const sw_opts_t *o);
/* The same for `ragsim-mpi run` / `compare`: rank 0 runs the command,
 * handing replications to the other ranks; the checkpoint directory
 * (OUT.h5.ckpt/) must be on a file system every rank sees. */
int sw_mpi_runs(rs_opts_t *o, bool compare);

#endif
