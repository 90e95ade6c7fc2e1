/* Determinism: the same scenario and seed give bit-identical trace datasets;
 * another seed gives different ones. Runs the real binary. Datasets are
 * compared whole, the time-series matrix series by series (row by row). */
#include <criterion/criterion.h>
#include <hdf5.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "h5values.h"
#include "testutil.h"

typedef struct {
    hid_t other;
    int compared, differing, missing;
    char first_diff[512];
} cmp_t;

/* The dataset's values; variable-length strings (datasets of them, and the
 * string columns of tables) by what they say, not the pointers they are
 * read into (h5values.h). */
static int read_all(hid_t ds, void **buf, size_t *len)
{
    *buf = h5_values(ds, len);
    return *buf ? 0 : -1;
}

static herr_t visit(hid_t obj, const char *name, const H5O_info_t *info, void *op)
{
    cmp_t *c = op;
    if (info->type != H5O_TYPE_DATASET) return 0;
    hid_t a = H5Dopen2(obj, name, H5P_DEFAULT);
    hid_t b = H5Lexists(c->other, name, H5P_DEFAULT) > 0 ? H5Dopen2(c->other, name, H5P_DEFAULT) : -1;
    if (b < 0) {
        c->missing++;
        H5Dclose(a);
        return 0;
    }
    void *ba, *bb;
    size_t la, lb;
    cr_assert_eq(read_all(a, &ba, &la), 0, "%s unreadable", name);
    cr_assert_eq(read_all(b, &bb, &lb), 0, "%s unreadable in the other file", name);
    /* a matrix (the time series: one row per series) counts row by row */
    hid_t sp = H5Dget_space(a);
    hsize_t dims[2] = {1, 0};
    size_t rows = H5Sget_simple_extent_ndims(sp) == 2 && H5Sget_simple_extent_dims(sp, dims, NULL) == 2 && dims[0] > 0
                      ? (size_t)dims[0] : 1;
    H5Sclose(sp);
    if (la != lb) {
        if (!c->differing) snprintf(c->first_diff, sizeof c->first_diff, "%s (size)", name);
        c->compared += (int)rows;
        c->differing += (int)rows;
    } else {
        size_t rl = la / rows;
        for (size_t i = 0; i < rows; i++) {
            c->compared++;
            if (memcmp((char *)ba + i * rl, (char *)bb + i * rl, rl) != 0) {
                if (!c->differing) snprintf(c->first_diff, sizeof c->first_diff, "%s (row %zu)", name, i);
                c->differing++;
            }
        }
    }
    free(ba);
    free(bb);
    H5Dclose(a);
    H5Dclose(b);
    return 0;
}

static cmp_t compare(const char *pa, const char *pb)
{
    cmp_t c = {0};
    hid_t fa = H5Fopen(pa, H5F_ACC_RDONLY, H5P_DEFAULT);
    hid_t fb = H5Fopen(pb, H5F_ACC_RDONLY, H5P_DEFAULT);
    cr_assert(fa >= 0 && fb >= 0, "cannot open %s or %s", pa, pb);
    c.other = fb;
    H5Ovisit(fa, H5_INDEX_NAME, H5_ITER_NATIVE, visit, &c);
    H5Fclose(fa);
    H5Fclose(fb);
    return c;
}

static const char *scenario = "scenarios/demo.yaml";
static const char *extra_set = "duration=5m";

static void run(const char *out, const char *seed)
{
    const char *argv[] = {RAGSIM_BINARY, "run", tu_src(scenario), "-q", "--reps", "2",
                          "--set", "duration=5m", "--set", extra_set, "--seed", seed, "-o", out, NULL};
    /* extra_set may set the duration again: the last --set wins */
    tu_run_t r = tu_run(argv);
    cr_assert_eq(r.status, 0, "ragsim failed: %s", r.err);
    tu_run_free(&r);
}

/* In the sanitizer build the second run of the same seed is left out:
 * being the same run, it goes through the same code as the first and the
 * sanitizers would see nothing new in it; the release suite compares the
 * two. The other seed's run stays (other draws, other branches taken). */
static void same_seed_same_datasets(void)
{
    char *a = tu_tmp_path("det-a", ".h5"), *b = tu_tmp_path("det-b", ".h5"), *c = tu_tmp_path("det-c", ".h5");
    run(a, "7");
    if (!TU_SANITIZED) {
        run(b, "7");
        cmp_t same = compare(a, b);
        cr_assert_gt(same.compared, 20, "only %d datasets compared", same.compared);
        cr_assert_eq(same.missing, 0);
        cr_assert_eq(same.differing, 0, "%d datasets differ, first: %s", same.differing, same.first_diff);
    }
    run(c, "8");
    cmp_t other = compare(a, c);
    cr_assert_gt(other.compared, 20, "only %d datasets compared", other.compared);
    cr_assert_eq(other.missing, 0);
    cr_assert_gt(other.differing, 5, "another seed must change the results (%d of %d datasets differ)",
                 other.differing, other.compared);
    unlink(a);
    unlink(b);
    unlink(c);
    free(a);
    free(b);
    free(c);
}

Test(determinism, same_seed_gives_bit_identical_datasets, .timeout = 300)
{
    same_seed_same_datasets();
}

Test(determinism, rag_pipeline_with_faults_is_bit_identical, .timeout = 300)
{
    /* every component, sampled per-request records, and faults of each kind */
    scenario = "scenarios/rag-baseline.yaml";
    extra_set = "faults=[{kind: slowdown, target: guardrail, at: 1m, for: 1m, factor: 3},"
                " {kind: kill, target: vectordb, at: 2m, replica: 0},"
                " {kind: packet_loss, target: llm, at: 2m, for: 1m, loss: 0.1},"
                " {kind: errors, target: embedder, at: 3m, for: 30s, ratio: 0.2},"
                " {kind: metadata_pollution, at: 3m, for: 1m, factor: 3},"
                " {kind: chunking_mismatch, at: 4m, for: 30s, ratio: 0.3},"
                " {kind: cpu_throttle, target: gateway, at: 4m, for: 30s, factor: 0.5}]";
    same_seed_same_datasets();
}

Test(determinism, go_runtime_and_etcd_traps_are_bit_identical, .timeout = 300)
{
    /* reload storm + OOM kills + restarts; GC, leaks and the pile-up */
    scenario = "scenarios/trap-watch-storm.yaml";
    extra_set = "duration=250s";
    same_seed_same_datasets();
    scenario = "scenarios/trap-goroutine-pileup.yaml";
    extra_set = "duration=8m";
    same_seed_same_datasets();
    scenario = "scenarios/trap-watch-leases.yaml";
    extra_set = "duration=7m";
    same_seed_same_datasets();
}

Test(determinism, etcd_partitions_resume_and_relist_are_bit_identical, .timeout = 300)
{
    /* broken watches, re-lists, resumes from the history, ErrCompacted,
     * expired leases; OOM kills and restarts into the next partition */
    scenario = "scenarios/trap-watch-reconnect.yaml";
    extra_set = "duration=400s";
    same_seed_same_datasets();
}

Test(determinism, admission_policies_and_rollouts_are_bit_identical, .timeout = 300)
{
    /* every variant: retries with jitter, budgets, throttling, token
     * bucket, CoDel, adaptive concurrency; canary analysis and rollback */
    scenario = "scenarios/retry-storm.yaml";
    extra_set = "duration=150s";
    same_seed_same_datasets();
    scenario = "scenarios/config-rollout.yaml";
    extra_set = "duration=8m";
    same_seed_same_datasets();
    scenario = "scenarios/dependency-rules.yaml";
    extra_set = "duration=10m";
    same_seed_same_datasets();
}

Test(determinism, incident_replay_is_bit_identical, .timeout = 600)
{
    /* client resubmissions, call shares, cancel-on-timeout, the all-at-once
     * change and its canary, up to two minutes past the trigger */
    scenario = "scenarios/incident-2023q4.yaml";
    extra_set = "duration=27m";
    same_seed_same_datasets();
}

static void run_set(const char *out, const char *set)
{
    const char *argv[] = {RAGSIM_BINARY, "run", tu_src("scenarios/trap-vectordb-avalanche.yaml"), "-q", "--reps", "1",
                          "--variants", "naive", "--set", "duration=7m", "--set", set, "-o", out, NULL};
    tu_run_t r = tu_run(argv);
    cr_assert_eq(r.status, 0, "ragsim failed: %s", r.err);
    tu_run_free(&r);
}

/* A vector DB of one shard is the unsharded model: the avalanche (queues,
 * OOM kills, restarts) writes the same datasets with `shards: 1` as
 * without the key; two shards change them. */
Test(determinism, one_vectordb_shard_is_the_unsharded_model, .timeout = 300)
{
    char *a = tu_tmp_path("shard-none", ".h5"), *b = tu_tmp_path("shard-1", ".h5"), *c = tu_tmp_path("shard-2", ".h5");
    run_set(a, "seed=1");
    run_set(b, "vectordb.shards=1");
    run_set(c, "vectordb.shards=2");
    cmp_t same = compare(a, b);
    cr_assert_gt(same.compared, 5, "only %d datasets compared", same.compared);
    cr_assert_eq(same.missing, 0);
    cr_assert_eq(same.differing, 0, "%d datasets differ, first: %s", same.differing, same.first_diff);
    cmp_t other = compare(a, c);
    cr_assert_gt(other.differing, 3, "two shards must change the run (%d of %d datasets differ)", other.differing,
                 other.compared);
    unlink(a);
    unlink(b);
    unlink(c);
    free(a);
    free(b);
    free(c);
}

/* ---- run and compare with -j and MPI ranks ----------------------------------------- */

static tu_run_t compare_cmd(const char *out, const char *jobs, const char *extra)
{
    const char *argv[] = {RAGSIM_BINARY, "compare", tu_src("scenarios/trap-vectordb-avalanche.yaml"), "--reps", "3",
                          "--set", "duration=90s", "--variants", "rate_limit,breaker", "-o", out, "-j", jobs,
                          extra, NULL};
    return tu_run(argv);
}

/* The printed comparison with its last line (the trace's name) cut off. */
static char *without_trace_line(const char *s)
{
    char *c = strdup(s), *t = strstr(c, "\ntrace: ");
    if (t) *t = 0;
    return c;
}

static void same_as(const char *ref_out, const char *ref, const char *out, const char *path, const char *what)
{
    char *a = without_trace_line(ref_out), *b = without_trace_line(out);
    cr_assert_str_eq(a, b, "%s: the printed comparison differs from -j 1's", what);
    free(a);
    free(b);
    cmp_t c = compare(ref, path);
    cr_assert_gt(c.compared, 40, "only %d datasets compared", c.compared);
    cr_assert_eq(c.missing, 0, "%s: %d datasets missing", what, c.missing);
    cr_assert_eq(c.differing, 0, "%s: %d datasets differ, first: %s", what, c.differing, c.first_diff);
    cmp_t back = compare(path, ref);   /* nothing more in it either */
    cr_assert_eq(back.missing, 0, "%s: %d datasets -j 1 does not write", what, back.missing);
}

/* `compare -j N` and `ragsim-mpi compare` on N ranks print the same table
 * and write bit-identical trace datasets as -j 1 (the runs are the same,
 * whoever runs them, and the trace is assembled in the same order). */
Test(determinism, compare_is_the_same_for_any_jobs_and_ranks, .timeout = 600)
{
    char *ref = tu_tmp_path("par-j1", ".h5"), *o = tu_tmp_path("par-jn", ".h5");
    tu_run_t r1 = compare_cmd(ref, "1", NULL);
    cr_assert_eq(r1.status, 0, "%s", r1.err);
    cr_assert(strstr(r1.out, "rate_limit") && strstr(r1.out, "breaker"), "%s", r1.out);
    static const char *const jobs[] = {"2", "3", "16"};
    for (size_t i = 0; i < 3; i++) {
        tu_run_t r = compare_cmd(o, jobs[i], "--force");
        cr_assert_eq(r.status, 0, "-j %s: %s", jobs[i], r.err);
        same_as(r1.out, ref, r.out, o, jobs[i]);
        tu_run_free(&r);
        char ck[4200];
        snprintf(ck, sizeof ck, "%s.ckpt", o);
        cr_assert_neq(access(ck, F_OK), 0, "-j %s left its checkpoint", jobs[i]);
    }
#ifdef RAGSIM_MPI_BINARY
    const char *mpi = RAGSIM_MPI_BINARY;
#else
    const char *mpi = NULL;
#endif
    const char *mpirun = access("/usr/bin/mpirun", X_OK) == 0 ? "/usr/bin/mpirun" : NULL;
    if (mpi && mpirun) {
        static const char *const np[] = {"1", "3"};
        for (size_t i = 0; i < 2; i++) {
            const char *argv[] = {mpirun, "--oversubscribe", "--allow-run-as-root", "-np", np[i], mpi, "compare",
                                  tu_src("scenarios/trap-vectordb-avalanche.yaml"), "--reps", "3", "--set",
                                  "duration=90s", "--variants", "rate_limit,breaker", "-o", o, "--force", NULL};
            tu_run_t r = tu_run(argv);
            cr_assert_eq(r.status, 0, "mpirun -np %s: exit %d\n%s", np[i], r.status, r.err);
            same_as(r1.out, ref, r.out, o, np[i]);
            tu_run_free(&r);
        }
    } else
        fprintf(stderr, "SKIPPED: the MPI part of compare_is_the_same_for_any_jobs_and_ranks (%s)\n",
                !mpirun ? "no /usr/bin/mpirun" : "ragsim-mpi is not built in this configuration");
    tu_run_free(&r1);
    unlink(ref);
    unlink(o);
    free(ref);
    free(o);
}

/* Ctrl-C keeps the finished replications in OUT.h5.ckpt/ and writes no
 * trace; --resume runs only the missing ones and the trace is the same as
 * an uninterrupted command's. A checkpoint is not a trace: its files say
 * so and nothing is written at OUT.h5 until every run is done. */
Test(determinism, interrupted_compare_resumes_to_the_same_trace, .timeout = 600)
{
    char *ref = tu_tmp_path("int-ref", ".h5"), *o = tu_tmp_path("int", ".h5"), *errf = tu_tmp_path("int", ".err");
    char ck[4200], idx[4300];
    snprintf(ck, sizeof ck, "%s.ckpt", o);
    snprintf(idx, sizeof idx, "%s/index", ck);
    tu_run_t r1 = compare_cmd(ref, "1", NULL);
    cr_assert_eq(r1.status, 0, "%s", r1.err);
    static const int sigs[] = {SIGINT, SIGTERM};
    for (int k = 0; k < 2; k++) {
        unlink(o);
        char *const argv[] = {(char *)RAGSIM_BINARY, "compare", (char *)tu_src("scenarios/trap-vectordb-avalanche.yaml"),
                              "--reps", "3", "--set", "duration=90s", "--variants", "rate_limit,breaker", "-o", o, "-j",
                              (char *)(k ? "1" : "2"), NULL};
        pid_t pid = tu_spawn(argv, errf, 300, false);
        /* signalled once the first run is recorded in the checkpoint's
         * index (a 24-byte header, then a record per finished run) */
        int polls = 0;
        struct stat sb;
        while ((stat(idx, &sb) != 0 || sb.st_size <= 24) && polls++ < 600000) {
            int st;
            cr_assert_eq(waitpid(pid, &st, WNOHANG), 0, "compare ended before it was signalled");
            usleep(100);
        }
        cr_assert(stat(idx, &sb) == 0 && sb.st_size > 24, "no run was kept");
        kill(pid, sigs[k]);
        int st = tu_wait(pid);
        cr_assert(WIFEXITED(st), "killed instead of stopping cleanly");
        cr_assert_eq(WEXITSTATUS(st), 128 + sigs[k], "exit %d", WEXITSTATUS(st));
        size_t len;
        char *err = tu_read_file(errf, &len);
        cr_assert(err && strstr(err, "nothing was written") && strstr(err, "--resume") && strstr(err, ck), "%s", err);
        free(err);
        cr_assert_neq(access(o, F_OK), 0, "an interrupted compare wrote a trace");
        cr_assert_eq(access(idx, F_OK), 0, "no checkpoint");
        /* no worker's temporary file is left */
        char cmd[4400];
        snprintf(cmd, sizeof cmd, "ls '%s' | grep -c tmp", ck);
        tu_run_t ls = tu_run((const char *[]){"/bin/sh", "-c", cmd, NULL});
        cr_assert_eq(atoi(ls.out), 0, "temporary files left: %s", ls.out);
        tu_run_free(&ls);

        tu_run_t r = compare_cmd(o, "2", "--resume");
        cr_assert_eq(r.status, 0, "%s", r.err);
        cr_assert(strstr(r.err, "resuming: "), "%s", r.err);
        same_as(r1.out, ref, r.out, o, "resumed");
        tu_run_free(&r);
        cr_assert_neq(access(ck, F_OK), 0, "the checkpoint is left after a complete compare");
    }
    /* a checkpoint of another command is refused, not mixed in */
    cr_assert_eq(mkdir(ck, 0755), 0);
    cr_assert_eq(tu_write_file(idx, "RGSWCKP2xxxxxxxxxxxxxxxx"), 0);
    tu_run_t r = compare_cmd(o, "1", "--resume");
    cr_assert_eq(r.status, 2, "exit %d: %s", r.status, r.err);
    tu_run_free(&r);
    unlink(idx);
    rmdir(ck);
    tu_run_free(&r1);
    unlink(ref);
    unlink(o);
    unlink(errf);
    free(ref);
    free(o);
    free(errf);
}
