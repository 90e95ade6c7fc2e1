/* MPI pool for `ragsim-mpi sweep`. Rank 0 is the master: it hands out one
 * task at a time to every other rank, plus one queued behind it (dynamic
 * load balancing: runs differ a lot in length), runs tasks itself between
 * serving them, and alone
 * writes the output and the checkpoint. Messages are the fixed-size task
 * and result structs (sweep.h) sent as bytes: every rank runs the same
 * binary. Tags: TASK and STOP to a worker, RESULT back.
 *
 * A rank that dies takes the job down under Open MPI's default error
 * handling (mpirun reports it); the results received until then are in the
 * checkpoint and `--resume` continues from there. */
#include "experiment/mpi/sweep_mpi.h"

#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

enum { TAG_TASK = 1, TAG_STOP = 2, TAG_RESULT = 3 };

typedef struct {
    int size;
} mpi_pool_t;

static int mp_send(void *ctx, int w, const sw_task_t *t)
{
    (void)ctx;
    return MPI_Send(t, (int)sizeof *t, MPI_BYTE, w + 1, TAG_TASK, MPI_COMM_WORLD) == MPI_SUCCESS ? 0 : -1;
}

static int mp_recv(void *ctx, int timeout_ms, int *w, sw_result_t *r, char *why, size_t whylen)
{
    (void)ctx;
    struct timespec t0, now, nap = {0, 200000};
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (;;) {
        int flag = 0;
        MPI_Status st;
        if (MPI_Iprobe(MPI_ANY_SOURCE, TAG_RESULT, MPI_COMM_WORLD, &flag, &st) != MPI_SUCCESS) {
            snprintf(why, whylen, "MPI_Iprobe failed");
            return -1;
        }
        if (flag) {
            if (MPI_Recv(r, (int)sizeof *r, MPI_BYTE, st.MPI_SOURCE, TAG_RESULT, MPI_COMM_WORLD, MPI_STATUS_IGNORE) !=
                MPI_SUCCESS) {
                snprintf(why, whylen, "MPI_Recv failed");
                return -1;
            }
            *w = st.MPI_SOURCE - 1;
            return 1;
        }
        clock_gettime(CLOCK_MONOTONIC, &now);
        double el = (double)(now.tv_sec - t0.tv_sec) * 1e3 + (double)(now.tv_nsec - t0.tv_nsec) * 1e-6;
        if (el >= timeout_ms) return 0;
        nanosleep(&nap, NULL);
    }
}

static void mp_shutdown(void *ctx, bool abort_now)
{
    mpi_pool_t *p = ctx;
    (void)abort_now;   /* workers are idle or finish their run first: a run is short */
    char none = 0;
    for (int r = 1; r < p->size; r++) MPI_Send(&none, 1, MPI_BYTE, r, TAG_STOP, MPI_COMM_WORLD);
}

static void mp_describe(void *ctx, int w, char *buf, size_t n)
{
    (void)ctx;
    snprintf(buf, n, "rank %d", w + 1);
}

static int mw_get(void *ctx, sw_task_t *t)
{
    (void)ctx;
    MPI_Status st;
    /* poll with short naps: a blocking probe spins a core that the
     * master, or another rank on an oversubscribed node, could use */
    struct timespec nap = {0, 200000};
    for (;;) {
        int flag = 0;
        if (MPI_Iprobe(0, MPI_ANY_TAG, MPI_COMM_WORLD, &flag, &st) != MPI_SUCCESS) return -1;
        if (flag) break;
        nanosleep(&nap, NULL);
    }
    if (st.MPI_TAG == TAG_STOP) {
        char none;
        MPI_Recv(&none, 1, MPI_BYTE, 0, TAG_STOP, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
        return 0;
    }
    return MPI_Recv(t, (int)sizeof *t, MPI_BYTE, 0, TAG_TASK, MPI_COMM_WORLD, MPI_STATUS_IGNORE) == MPI_SUCCESS ? 1 : -1;
}

static int mw_put(void *ctx, const sw_result_t *r)
{
    (void)ctx;
    return MPI_Send(r, (int)sizeof *r, MPI_BYTE, 0, TAG_RESULT, MPI_COMM_WORLD) == MPI_SUCCESS ? 0 : -1;
}

int sw_mpi_main(const sw_opts_t *o, sw_cmd_fn cmd, sw_def_loader_fn load)
{
    int rank = 0, size = 1, status;
    if (MPI_Init(NULL, NULL) != MPI_SUCCESS) {
        fprintf(stderr, "ragsim: error: MPI_Init failed\n");
        return 1;
    }
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    if (size > 1 && o->jobs > 1) {
        if (rank == 0) fprintf(stderr, "ragsim: error: -j and MPI ranks do not mix: use one or the other\n");
        MPI_Finalize();
        return 2;
    }
    if (size == 1) status = cmd(o, NULL, stdout, stderr);
    else if (rank == 0) {
        mpi_pool_t p = {size};
        sw_pool_t pool = {.nworkers = size - 1, .master_runs = true, .depth = 2, .noun = "rank", .ctx = &p, .send = mp_send,
                          .recv = mp_recv, .shutdown = mp_shutdown, .describe = mp_describe};
        status = cmd(o, &pool, stdout, stderr);
    } else
        status = sw_worker_serve(o, load, mw_get, mw_put, NULL);
    MPI_Finalize();
    return status;
}

int sw_mpi_sweep(const sw_opts_t *o) { return sw_mpi_main(o, sw_cmd_sweep, sw_load_sweep_def); }

int sw_mpi_runs(rs_opts_t *o, bool compare)
{
    int rank = 0, size = 1, status;
    if (MPI_Init(NULL, NULL) != MPI_SUCCESS) {
        fprintf(stderr, "ragsim: error: MPI_Init failed\n");
        return 1;
    }
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    if (size == 1) status = compare ? rs_cmd_compare(o, stdout, stderr) : rs_cmd_run(o, stdout, stderr);
    else if (rank == 0) {
        mpi_pool_t p = {size};
        sw_pool_t pool = {.nworkers = size - 1, .master_runs = true, .depth = 2, .noun = "rank", .ctx = &p, .send = mp_send,
                          .recv = mp_recv, .shutdown = mp_shutdown, .describe = mp_describe};
        o->pool = &pool;
        o->jobs = 1;
        status = compare ? rs_cmd_compare(o, stdout, stderr) : rs_cmd_run(o, stdout, stderr);
        o->pool = NULL;
    } else
        status = sw_job_worker_serve(o, mw_get, mw_put, NULL);
    MPI_Finalize();
    return status;
}
