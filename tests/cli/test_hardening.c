/* Hardening: run budgets, the --force convention, SIGINT/SIGTERM, SIGKILL at
 * random moments, and the semantic warnings. All run the real binary. */
#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <hdf5.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "h5util.h"
#include "sim/outfile.h"
#include "testutil.h"

#define ragsim(...) tu_run((const char *[]){RAGSIM_BINARY, __VA_ARGS__, NULL})

/* One station, offered load 2 (twice its capacity), a queue timeout of an
 * hour: requests in the system and pending events (one timeout each) grow
 * by about 1000 per simulated second. */
static const char overload[] = "name: overload\n"
                               "duration: 1h\n"
                               "sample_interval: 10s\n"
                               "workload: {arrivals: poisson, rate: 2000/s}\n"
                               "stations:\n"
                               "  server:\n"
                               "    servers: 1\n"
                               "    queue_timeout: 1h\n"
                               "    service: {dist: exponential, mean: 1ms}\n"
                               "route: [server]\n";

static char *write_scenario(const char *stem, const char *text)
{
    char *p = tu_tmp_path(stem, ".yaml");
    cr_assert_eq(tu_write_file(p, text), 0);
    return p;
}

static long long root_attr_i64(const char *path, const char *obj, const char *name)
{
    hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    cr_assert_geq(f, 0, "cannot open %s", path);
    long long v = -1;
    hid_t a = H5Aopen_by_name(f, obj, name, H5P_DEFAULT, H5P_DEFAULT);
    cr_assert_geq(a, 0, "no attribute %s on %s", name, obj);
    cr_assert_geq(H5Aread(a, H5T_NATIVE_LLONG, &v), 0);
    H5Aclose(a);
    H5Fclose(f);
    return v;
}

static void check_budget_stop(const char *flag, const char *value, const char *message)
{
    char *scen = write_scenario("overload", overload);
    char *out = tu_tmp_path("budget", ".h5");
    tu_run_t r = ragsim("run", scen, "-q", "-o", out, flag, value);
    cr_assert_eq(r.status, 1, "exit %d, stderr: %s", r.status, r.err);
    cr_assert(strstr(r.err, message), "expected \"%s\" in: %s", message, r.err);
    char raise[64];
    snprintf(raise, sizeof raise, "raise it with %s", flag);
    cr_assert(strstr(r.err, raise), "the message does not name the flag: %s", r.err);
    cr_assert(strstr(r.err, "marked incomplete"), "%s", r.err);
    /* the trace is written and says it is incomplete, at the top and for the run */
    cr_assert_eq(root_attr_i64(out, "/", "complete"), 0);
    cr_assert_eq(root_attr_i64(out, "/runs/default/rep000", "complete"), 0);
    double sim_s = 0;
    hid_t f = H5Fopen(out, H5F_ACC_RDONLY, H5P_DEFAULT);
    hid_t a = H5Aopen_by_name(f, "/runs/default/rep000", "sim_seconds", H5P_DEFAULT, H5P_DEFAULT);
    H5Aread(a, H5T_NATIVE_DOUBLE, &sim_s);
    H5Aclose(a);
    H5Fclose(f);
    cr_assert_lt(sim_s, 3600, "the run was not stopped early (%g s)", sim_s);
    tu_run_free(&r);
    unlink(out);
    unlink(scen);
    free(out);
    free(scen);
}

Test(budgets, pending_events)
{
    check_budget_stop("--max-pending", "5000", "the pending-event budget (--max-pending 5000) is exhausted");
}

Test(budgets, inflight_requests)
{
    check_budget_stop("--max-inflight", "5000", "the in-flight request budget (--max-inflight 5000) is exhausted");
}

Test(budgets, memory)
{
    check_budget_stop("--max-memory", "1MiB", "the memory budget (--max-memory 1 MiB) is exhausted");
}

/* The same scenario under the default budgets runs to its end: a normal
 * (if overloaded) hour does not come near them. */
Test(budgets, defaults_do_not_stop_a_normal_run)
{
    char *scen = write_scenario("overload", overload);
    char *out = tu_tmp_path("budget-default", ".h5");
    tu_run_t r = ragsim("run", scen, "-q", "-o", out);
    cr_assert_eq(r.status, 0, "exit %d: %s", r.status, r.err);
    cr_assert_eq(root_attr_i64(out, "/", "complete"), 1);
    tu_run_free(&r);
    unlink(out);
    unlink(scen);
    free(out);
    free(scen);
}

/* The memory budget missed etcd's key store: 20 pushes of 1,000,000 keys
 * under --max-memory 64MiB ran to the end (exit 0) at 963 MB. Everything
 * that grows with the scenario counts now (etcd's records, prefixes,
 * watchers, history; the gateway's caches and reload records; the
 * runner's series): the run stops, status 1, and its peak resident memory
 * stays far below the gigabyte. */
Test(budgets, memory_counts_the_etcd_key_store, .timeout = 300)
{
    char text[4096];
    int k = snprintf(text, sizeof text, "name: storm\nduration: 40s\nworkload: {rate: 10/s}\n"
                                        "gateway: {replicas: 1, cores: 2}\npipeline: {steps: [embed, retrieve]}\n"
                                        "config:\n  prefix: /config/rag/\n  watch_client: shared\n  pushes: [");
    for (int i = 0; i < 20; i++)
        k += snprintf(text + k, sizeof text - (size_t)k, "{at: %ds, keys: 1000000}%s", 1 + i, i < 19 ? ", " : "]\n");
    char *scen = write_scenario("storm", text);
    char *out = tu_tmp_path("storm", ".h5");
    tu_run_t r = ragsim("run", scen, "-q", "-o", out, "--max-memory", "64MiB");
    cr_log_info("peak resident memory %ld KiB: %s", r.maxrss_kib, r.err);
    cr_assert_eq(r.status, 1, "exit %d: %s", r.status, r.err);
    cr_assert(strstr(r.err, "the memory budget (--max-memory 64 MiB) is exhausted"), "%s", r.err);
    /* about 210 MiB (300 under AddressSanitizer); it used to be 963 MB */
    cr_assert_lt(r.maxrss_kib, 512 * 1024, "peak %ld KiB", r.maxrss_kib);
    cr_assert_eq(root_attr_i64(out, "/", "complete"), 0);
    tu_run_free(&r);
    unlink(out);
    unlink(scen);
    free(out);
    free(scen);
}

Test(budgets, zero_means_no_limit_and_bad_values_are_refused)
{
    char *scen = write_scenario("overload", overload);
    char *out = tu_tmp_path("budget-zero", ".h5");
    tu_run_t r = ragsim("run", scen, "-q", "-o", out, "--max-pending", "0", "--max-inflight", "0", "--max-memory", "0");
    cr_assert_eq(r.status, 0, "exit %d: %s", r.status, r.err);
    tu_run_free(&r);
    r = ragsim("run", scen, "-q", "-o", out, "--force", "--max-memory", "lots");
    cr_assert_eq(r.status, 2);
    cr_assert(strstr(r.err, "ragsim: error: --max-memory"), "%s", r.err);
    tu_run_free(&r);
    unlink(out);
    unlink(scen);
    free(out);
    free(scen);
}

/* ---- --force -------------------------------------------------------------- */

static const char small[] = "name: small\nduration: 1m\nworkload: {arrivals: poisson, rate: 5/s}\n"
                            "stations: {s: {servers: 1, service: {dist: exponential, mean: 100ms}}}\nroute: [s]\n";

Test(output, existing_file_needs_force)
{
    char *scen = write_scenario("small", small);
    char *out = tu_tmp_path("force", ".h5");
    cr_assert_eq(tu_write_file(out, "keep me"), 0);
    tu_run_t r = ragsim("run", scen, "-q", "-o", out);
    cr_assert_eq(r.status, 2, "exit %d", r.status);
    cr_assert(strstr(r.err, "already exists; use --force to replace it"), "%s", r.err);
    size_t len;
    char *txt = tu_read_file(out, &len);
    cr_assert_str_eq(txt, "keep me");
    free(txt);
    tu_run_free(&r);
    r = ragsim("run", scen, "-q", "-o", out, "--force");
    cr_assert_eq(r.status, 0, "%s", r.err);
    cr_assert_eq(root_attr_i64(out, "/", "complete"), 1);
    tu_run_free(&r);
    unlink(out);
    unlink(scen);
    free(out);
    free(scen);
}

/* Files in `dir` other than `keep` (a temporary file left behind shows here). */
static int other_files(const char *dir, const char *keep)
{
    DIR *dp = opendir(dir);
    int files = 0;
    for (struct dirent *e; dp && (e = readdir(dp));)
        if (e->d_name[0] != '.' && (!keep || strcmp(e->d_name, keep) != 0)) files++;
    if (dp) closedir(dp);
    return files;
}

/* Remove a checkpoint directory (the test's own, under its temp dir). */
static void remove_tree(const char *path)
{
    char cmd[4400];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", path);
    tu_run_t r = tu_run((const char *[]){"/bin/sh", "-c", cmd, NULL});
    tu_run_free(&r);
}

static char *make_dir(const char *stem)
{
    char *dir = tu_tmp_dir(stem);
    cr_assert_not_null(dir);
    return dir;
}

/* A network run whose time series are spilled while it goes (2 h at 1 s:
 * about 280 KB of trace), or written after it (10 min: about 80 KB). */
static const char spilling[] = "name: spill\nduration: 2h\nsample_interval: 1s\n"
                               "workload: {arrivals: poisson, rate: 20/s}\n"
                               "stations: {s: {servers: 2, service: {dist: exponential, mean: 10ms}}}\nroute: [s]\n";

/* The disk fills while the trace is written: a file-size limit of 64 KiB (set as
 * `ulimit -f` sets it, with SIGXFSZ at its default disposition, which
 * kills a process that writes past the limit: ragsim ignores it, so the
 * write fails with EFBIG as one on a full disk fails with ENOSPC). Both
 * paths: the time series appended while the run goes (spilled) and the
 * trace written after a short run (the failure comes at the commit's
 * flush). An error naming the system's message, status 1 (not death by
 * SIGXFSZ, status 153), no temporary file left and the previous trace as
 * it was; not a crash (HDF5's exit handler used to crash on the file whose
 * close had failed: SIGSEGV, status 139). */
Test(output, a_full_disk_is_an_error_not_a_crash, .timeout = 120)
{
    char *scen = write_scenario("spill", spilling);
    const char *durations[] = {"duration=2h", "duration=10m"};
    for (int k = 0; k < 2; k++) {
        char *dir = make_dir("fulldisk");
        char out[1024];
        snprintf(out, sizeof out, "%s/t.h5", dir);
        cr_assert_eq(tu_write_file(out, "previous trace"), 0);
        const char *argv[] = {RAGSIM_BINARY, "run", scen, "--set", durations[k], "-q", "--force", "-o", out, NULL};
        tu_run_t r = tu_run_limited(argv, RLIMIT_FSIZE, 64 * 1024);
        cr_assert_eq(r.signal, 0, "%s: killed by signal %d (%s)", durations[k], r.signal, strsignal(r.signal));
        cr_assert_eq(r.status, 1, "%s: exit %d: %s", durations[k], r.status, r.err);
        cr_assert(strstr(r.err, "File too large"), "%s", r.err);
        cr_assert(!strchr(r.err, '\n') || strchr(r.err, '\n') == r.err + strlen(r.err) - 1, "one line: %s", r.err);
        size_t len;
        char *txt = tu_read_file(out, &len);
        cr_assert_str_eq(txt, "previous trace");
        free(txt);
        cr_assert_eq(other_files(dir, "t.h5"), 0, "only t.h5 is left in %s", dir);
        tu_run_free(&r);
        unlink(out);
        rmdir(dir);
        free(dir);
    }
    unlink(scen);
    free(scen);
}

/* The same for a sweep: its checkpoint and its output under a file-size
 * limit with SIGXFSZ at its default disposition (a sweep used to die of
 * SIGXFSZ, status 153, leaving OUT.tmp.PID). The checkpoint's appends fail
 * (a warning), then the output: status 1, no temporary file. */
Test(output, a_full_disk_fails_a_sweep_cleanly, .timeout = 300)
{
    char *dir = make_dir("sweepdisk");
    char scen[1024], sw[1024], out[1024], text[2048];
    snprintf(scen, sizeof scen, "%s/base.yaml", dir);
    snprintf(sw, sizeof sw, "%s/sw.yaml", dir);
    snprintf(out, sizeof out, "%s/out.h5", dir);
    cr_assert_eq(tu_write_file(scen, small), 0);
    snprintf(text, sizeof text, "scenario: base.yaml\nset: {duration: 10s}\n"
                                "axes:\n  workload.rate: {from: 1/s, to: 40/s, step: 1/s}\nreplications: 2\n");
    cr_assert_eq(tu_write_file(sw, text), 0);
    const char *argv[] = {RAGSIM_BINARY, "sweep", sw, "-q", "-o", out, NULL};
    tu_run_t r = tu_run_limited(argv, RLIMIT_FSIZE, 16 * 1024);
    cr_assert_eq(r.signal, 0, "killed by signal %d (%s)", r.signal, strsignal(r.signal));
    cr_assert_eq(r.status, 1, "exit %d: %s", r.status, r.err);
    cr_assert(strstr(r.err, "cannot append to the checkpoint") && strstr(r.err, "File too large"), "%s", r.err);
    cr_assert(strstr(r.err, "holds only part of the runs"), "%s", r.err);
    cr_assert_neq(access(out, F_OK), 0, "an output was written");
    /* what is left: the sweep file, its scenario and the checkpoint (for --resume), no temporary file */
    char ck[1100];
    snprintf(ck, sizeof ck, "%s.ckpt", out);
    cr_assert_eq(access(ck, F_OK), 0, "the checkpoint is gone");
    cr_assert_eq(other_files(dir, NULL), 3, "a temporary file was left in %s", dir);
    tu_run_free(&r);
    unlink(ck);
    unlink(scen);
    unlink(sw);
    rmdir(dir);
    free(dir);
}

/* A full disk when the trace is created (here: a file-size limit of 0, so
 * the very first write fails): HDF5 had already created an empty
 * OUT.tmp.PID, which was left behind. For a sweep, after its runs: the
 * checkpoint is kept and said to be, the temporary file is not. */
Test(output, a_full_disk_at_the_creation_leaves_no_temporary_file, .timeout = 120)
{
    char *dir = make_dir("createdisk");
    char scen[1024], out[1024];
    snprintf(scen, sizeof scen, "%s/s.yaml", dir);
    snprintf(out, sizeof out, "%s/t.h5", dir);
    cr_assert_eq(tu_write_file(scen, small), 0);
    cr_assert_eq(tu_write_file(out, "previous trace"), 0);
    const char *argv[] = {RAGSIM_BINARY, "run", scen, "-q", "--force", "-o", out, NULL};
    tu_run_t r = tu_run_limited(argv, RLIMIT_FSIZE, 0);
    cr_assert_eq(r.signal, 0, "killed by signal %d", r.signal);
    cr_assert_eq(r.status, 1, "exit %d: %s", r.status, r.err);
    /* the first write is the checkpoint's (run keeps its finished runs there) */
    cr_assert((strstr(r.err, "cannot create trace") || strstr(r.err, "cannot write the checkpoint")) &&
              strstr(r.err, "File too large"), "%s", r.err);
    size_t len;
    char *txt = tu_read_file(out, &len);
    cr_assert_str_eq(txt, "previous trace");
    free(txt);
    cr_assert_eq(other_files(dir, NULL), 2, "a temporary file was left in %s", dir);
    tu_run_free(&r);
    unlink(out);
    unlink(scen);
    rmdir(dir);
    free(dir);
}

/* ---- what an output may be ------------------------------------------------------ */

static void expect_refused(const char *what, tu_run_t r, const char *msg)
{
    cr_assert_eq(r.status, 2, "%s: exit %d: %s", what, r.status, r.err);
    cr_assert(strstr(r.err, msg), "%s: want '%s' in: %s", what, msg, r.err);
    tu_run_free(&r);
}

static void same_bytes(const char *path, const char *text)
{
    size_t len;
    char *now = tu_read_file(path, &len);
    cr_assert(now && len == strlen(text) && !memcmp(now, text, len), "%s was changed", path);
    free(now);
}

/* `-o PATH --force` replaced whatever was at PATH: the scenario itself
 * (`ragsim run in.yaml -o in.yaml --force`), a hard link to it, a FIFO, a
 * symbolic link, a device (as root, -o /dev/null --force replaced
 * /dev/null with an HDF5 file). --force replaces a regular file that is no
 * input; anything else is refused (status 2) before anything runs, and
 * nothing is written. The same for compare and sweep, and for a sweep's
 * checkpoint. */
Test(output, force_replaces_only_a_regular_file_that_is_not_an_input)
{
    char *dir = make_dir("force-kinds");
    char scen[1024], hard[1024], fifo[1024], sym[1024], sw[1024], ckfifo[1024], ckout[1024], cmp[1024], text[1024];
    snprintf(scen, sizeof scen, "%s/in.yaml", dir);
    snprintf(hard, sizeof hard, "%s/hard.h5", dir);
    snprintf(fifo, sizeof fifo, "%s/fifo.h5", dir);
    snprintf(sym, sizeof sym, "%s/link.h5", dir);
    snprintf(sw, sizeof sw, "%s/sw.yaml", dir);
    snprintf(ckfifo, sizeof ckfifo, "%s/ck.h5.ckpt", dir);
    snprintf(ckout, sizeof ckout, "%s/ck.h5", dir);
    snprintf(cmp, sizeof cmp, "%s/cmp.yaml", dir);
    cr_assert_eq(tu_write_file(scen, small), 0);
    snprintf(text, sizeof text, "%svariants: {a: {}, b: {stations: {s: {servers: 2}}}}\n", small);
    cr_assert_eq(tu_write_file(cmp, text), 0);
    snprintf(text, sizeof text, "scenario: in.yaml\naxes:\n  workload.rate: [1/s, 2/s]\n");
    cr_assert_eq(tu_write_file(sw, text), 0);
    cr_assert_eq(link(scen, hard), 0);
    cr_assert_eq(mkfifo(fifo, 0644), 0);
    cr_assert_eq(symlink("in.yaml", sym), 0);
    cr_assert_eq(mkfifo(ckfifo, 0644), 0);

    expect_refused("run -o the scenario", ragsim("run", scen, "-q", "-o", scen, "--force"),
                   "it is the scenario, an input of this command");
    expect_refused("run -o a hard link to it", ragsim("run", scen, "-q", "-o", hard, "--force"),
                   "it is the same file as the scenario");
    expect_refused("run -o a FIFO", ragsim("run", scen, "-q", "-o", fifo, "--force"), "it is a FIFO, not a regular file");
    expect_refused("run -o a symbolic link", ragsim("run", scen, "-q", "-o", sym, "--force"),
                   "it is a symbolic link, not a regular file");
    expect_refused("run -o /dev/null", ragsim("run", scen, "-q", "-o", "/dev/null", "--force"),
                   "it is a character device, not a regular file");
    expect_refused("compare -o the scenario", ragsim("compare", cmp, "-q", "-o", cmp, "--force"),
                   "it is the scenario, an input of this command");
    expect_refused("sweep -o the sweep file", ragsim("sweep", sw, "-q", "-o", sw, "--force"),
                   "it is the sweep file, an input of this command");
    expect_refused("sweep -o its scenario", ragsim("sweep", sw, "-q", "-o", scen, "--force"),
                   "an input of this command");
    expect_refused("sweep whose checkpoint is a FIFO", ragsim("sweep", sw, "-q", "-o", ckout, "--force"),
                   "ck.h5.ckpt: it is a FIFO");

    /* nothing changed, nothing appeared */
    same_bytes(scen, small);
    struct stat st;
    cr_assert(lstat(fifo, &st) == 0 && S_ISFIFO(st.st_mode));
    cr_assert(lstat(sym, &st) == 0 && S_ISLNK(st.st_mode));
    cr_assert(stat("/dev/null", &st) == 0 && S_ISCHR(st.st_mode), "/dev/null is no longer a device");
    cr_assert_eq(other_files(dir, NULL), 7, "files appeared in %s", dir);

    /* a regular file that is no input is replaced with --force */
    char out[1024];
    snprintf(out, sizeof out, "%s/out.h5", dir);
    cr_assert_eq(tu_write_file(out, "old"), 0);
    tu_run_t r = ragsim("run", scen, "-q", "-o", out, "--force");
    cr_assert_eq(r.status, 0, "%s", r.err);
    tu_run_free(&r);
    cr_assert_eq(root_attr_i64(out, "/", "complete"), 1);
    unlink(out);
    unlink(scen);
    unlink(hard);
    unlink(fifo);
    unlink(sym);
    unlink(sw);
    unlink(ckfifo);
    unlink(cmp);
    rmdir(dir);
    free(dir);
}

/* Two runs writing the same file: the existence check is at the start and
 * the rename at the end, so the second used to replace the first's trace
 * without --force. The commit now refuses to replace anything
 * (renameat2 RENAME_NOREPLACE, or link + unlink): status 2, the other
 * trace left as it is, the temporary file removed. The second run is
 * simulated by RAGSIM_TEST_COMMIT=create: the target is created between
 * the fsync and the rename. With --force the file is replaced. */
Test(output, a_trace_that_appears_during_the_run_is_not_replaced, .timeout = 120)
{
    char *dir = make_dir("appears");
    char scen[1024], out[1024], sw[1024];
    snprintf(scen, sizeof scen, "%s/s.yaml", dir);
    snprintf(out, sizeof out, "%s/out.h5", dir);
    snprintf(sw, sizeof sw, "%s/sw.yaml", dir);
    cr_assert_eq(tu_write_file(scen, small), 0);
    cr_assert_eq(tu_write_file(sw, "scenario: s.yaml\nset: {duration: 10s}\naxes:\n  workload.rate: [1/s, 2/s]\n"), 0);
    static const char other[] = "written by another run meanwhile\n";

    setenv("RAGSIM_TEST_COMMIT", "create", 1);
    tu_run_t r = ragsim("run", scen, "-q", "-o", out);
    cr_assert_eq(r.status, 2, "exit %d: %s", r.status, r.err);
    cr_assert(strstr(r.err, "appeared while ragsim was writing it"), "%s", r.err);
    cr_assert(strstr(r.err, "--resume --force"), "%s", r.err);
    tu_run_free(&r);
    same_bytes(out, other);
    /* the finished runs are kept for --resume --force (out.h5.ckpt/) */
    cr_assert_eq(other_files(dir, NULL), 4, "a temporary file was left");
    char rck[1100];
    snprintf(rck, sizeof rck, "%s.ckpt", out);
    remove_tree(rck);
    unlink(out);

    r = ragsim("sweep", sw, "-q", "-o", out);
    cr_assert_eq(r.status, 2, "exit %d: %s", r.status, r.err);
    cr_assert(strstr(r.err, "appeared while ragsim was writing it"), "%s", r.err);
    cr_assert(strstr(r.err, "--resume --force"), "%s", r.err);
    tu_run_free(&r);
    same_bytes(out, other);
    /* the checkpoint is kept: the runs are not lost */
    char ck[1100];
    snprintf(ck, sizeof ck, "%s.ckpt", out);
    cr_assert_eq(access(ck, F_OK), 0);
    unsetenv("RAGSIM_TEST_COMMIT");
    r = ragsim("sweep", sw, "-o", out, "--resume", "--force");
    cr_assert_eq(r.status, 0, "%s", r.err);
    cr_assert(strstr(r.out, "resuming: 2 runs"), "%s", r.out);
    tu_run_free(&r);
    cr_assert_neq(access(ck, F_OK), 0);

    /* with --force the run replaces what appeared */
    cr_assert_eq(tu_write_file(out, other), 0);
    setenv("RAGSIM_TEST_COMMIT", "create", 1);
    r = ragsim("run", scen, "-q", "-o", out, "--force");
    unsetenv("RAGSIM_TEST_COMMIT");
    cr_assert_eq(r.status, 0, "%s", r.err);
    tu_run_free(&r);
    cr_assert_eq(root_attr_i64(out, "/", "complete"), 1);
    unlink(out);
    unlink(scen);
    unlink(sw);
    rmdir(dir);
    free(dir);
}

/* ---- signals ---------------------------------------------------------------- */

/* A run that cannot finish before the signal: a thousand days at 50000
 * requests per second (constant memory: the queue is stable). */
static const char endless[] = "name: endless\nduration: 1000d\nsample_interval: 1h\n"
                              "workload: {arrivals: poisson, rate: 50000/s}\n"
                              "stations: {s: {servers: 8, service: {dist: exponential, mean: 100us}}}\n"
                              "route: [s]\n";

static pid_t spawn_run(const char *scen, const char *out, const char *errfile)
{
    char *const argv[] = {(char *)RAGSIM_BINARY, "run", (char *)scen, "-q", "-o", (char *)out, "--force", NULL};
    return tu_spawn(argv, errfile, 300, false);
}

static void check_signal(int sig, int want_status, const char *name)
{
    char *scen = write_scenario("endless", endless);
    char *out = tu_tmp_path("signal", ".h5");
    char *errf = tu_tmp_path("signal", ".err");
    static const char prev[] = "the previous trace\n";
    cr_assert_eq(tu_write_file(out, prev), 0);
    pid_t pid = spawn_run(scen, out, errf);
    /* the checkpoint's index appears once the runs start (the handlers
     * are installed before it is created) */
    char tmp[4200], idx[4300];
    snprintf(tmp, sizeof tmp, "%s.tmp.%ld", out, (long)pid);
    snprintf(idx, sizeof idx, "%s.ckpt/index", out);
    int polls = 0;
    while (access(idx, F_OK) != 0 && polls++ < 600000) {
        int st;
        cr_assert_eq(waitpid(pid, &st, WNOHANG), 0, "ragsim ended before it was signalled");
        usleep(100);
    }
    cr_assert_eq(access(idx, F_OK), 0, "the run never started");
    kill(pid, sig);
    int st = tu_wait(pid);
    cr_assert(WIFEXITED(st), "killed by signal %d instead of stopping cleanly", WIFSIGNALED(st) ? WTERMSIG(st) : 0);
    cr_assert_eq(WEXITSTATUS(st), want_status);
    size_t len;
    char *err = tu_read_file(errf, &len);
    char want[64];
    snprintf(want, sizeof want, "interrupted by %s", name);
    cr_assert(strstr(err, want), "%s", err);
    cr_assert(strstr(err, "nothing was written"), "%s", err);
    free(err);
    char *txt = tu_read_file(out, &len);
    cr_assert(txt && len == sizeof prev - 1 && !memcmp(txt, prev, len), "the previous trace was changed");
    free(txt);
    cr_assert_neq(access(tmp, F_OK), 0, "the temporary file was left behind");
    /* no run finished: no checkpoint is kept */
    char ck[4200];
    snprintf(ck, sizeof ck, "%s.ckpt", out);
    cr_assert_neq(access(ck, F_OK), 0, "an empty checkpoint was left");
    unlink(out);
    unlink(errf);
    unlink(scen);
    free(out);
    free(errf);
    free(scen);
}

Test(signals, sigint_stops_cleanly) { check_signal(SIGINT, 130, "SIGINT"); }
Test(signals, sigterm_stops_cleanly) { check_signal(SIGTERM, 143, "SIGTERM"); }

/* SIGINT or SIGTERM during the final fsync used to be ignored (exit 0, the
 * trace committed). The commit now reads the flag after the fsync and
 * before the rename: status 130/143, nothing written, the previous file as
 * it was, no temporary file. RAGSIM_TEST_COMMIT raises the signal at that
 * moment (its handler runs as for a signal from outside). The same for a
 * sweep, whose runs stay in the checkpoint. */
Test(signals, a_signal_during_the_commit_writes_nothing, .timeout = 120)
{
    static const char *const sigs[] = {"sigint", "sigterm"};
    for (int k = 0; k < 2; k++) {
        char *dir = make_dir("commitsig");
        char scen[1024], out[1024], sw[1024], ck[1100];
        snprintf(scen, sizeof scen, "%s/s.yaml", dir);
        snprintf(out, sizeof out, "%s/out.h5", dir);
        snprintf(sw, sizeof sw, "%s/sw.yaml", dir);
        snprintf(ck, sizeof ck, "%s.ckpt", out);
        cr_assert_eq(tu_write_file(scen, small), 0);
        cr_assert_eq(tu_write_file(sw, "scenario: s.yaml\nset: {duration: 10s}\naxes:\n  workload.rate: [1/s, 2/s]\n"), 0);
        cr_assert_eq(tu_write_file(out, "previous trace"), 0);
        setenv("RAGSIM_TEST_COMMIT", sigs[k], 1);
        tu_run_t r = ragsim("run", scen, "-q", "-o", out, "--force");
        cr_assert_eq(r.status, k ? 143 : 130, "%s: exit %d: %s", sigs[k], r.status, r.err);
        cr_assert(strstr(r.err, "nothing was written") && strstr(r.err, "--resume"), "%s", r.err);
        tu_run_free(&r);
        same_bytes(out, "previous trace");
        /* every run finished: kept in out.h5.ckpt/ for --resume */
        cr_assert_eq(other_files(dir, NULL), 4, "a temporary file was left");
        remove_tree(ck);
        r = ragsim("sweep", sw, "-q", "-o", out, "--force");
        unsetenv("RAGSIM_TEST_COMMIT");
        cr_assert_eq(r.status, k ? 143 : 130, "sweep %s: exit %d: %s", sigs[k], r.status, r.err);
        cr_assert(strstr(r.err, k ? "interrupted by SIGTERM" : "interrupted by SIGINT"), "%s", r.err);
        cr_assert(strstr(r.err, "--resume"), "%s", r.err);
        tu_run_free(&r);
        same_bytes(out, "previous trace");
        cr_assert_eq(access(ck, F_OK), 0, "the checkpoint is gone");
        cr_assert_eq(other_files(dir, NULL), 4, "a temporary file was left");
        unlink(ck);
        unlink(out);
        unlink(sw);
        unlink(scen);
        rmdir(dir);
        free(dir);
    }
}

/* `ragsim sweep` exited 1 on SIGINT and SIGTERM where the documentation
 * says 130 and 143: a real signal, sent while a run of the sweep is going. */
static void check_sweep_signal(int sig, int want, const char *name)
{
    char *dir = make_dir("sweepsig");
    char scen[1024], sw[1024], out[1024], ck[1100], errf[1100];
    snprintf(scen, sizeof scen, "%s/endless.yaml", dir);
    snprintf(sw, sizeof sw, "%s/sw.yaml", dir);
    snprintf(out, sizeof out, "%s/out.h5", dir);
    snprintf(ck, sizeof ck, "%s.ckpt", out);
    snprintf(errf, sizeof errf, "%s.err", dir);
    cr_assert_eq(tu_write_file(scen, endless), 0);
    cr_assert_eq(tu_write_file(sw, "scenario: endless.yaml\naxes:\n  workload.rate: [40000/s, 50000/s]\n"), 0);
    char *const argv[] = {(char *)RAGSIM_BINARY, "sweep", sw, "-q", "-o", out, NULL};
    pid_t pid = tu_spawn(argv, errf, 300, false);
    /* the checkpoint exists once the runs start (the handlers are set before) */
    int polls = 0;
    while (access(ck, F_OK) != 0 && polls++ < 600000) {
        int st;
        cr_assert_eq(waitpid(pid, &st, WNOHANG), 0, "the sweep ended before it was signalled");
        usleep(100);
    }
    cr_assert_eq(access(ck, F_OK), 0, "the sweep never started");
    kill(pid, sig);
    int st = tu_wait(pid);
    cr_assert(WIFEXITED(st), "killed by signal %d instead of stopping cleanly", WIFSIGNALED(st) ? WTERMSIG(st) : 0);
    cr_assert_eq(WEXITSTATUS(st), want, "exit %d", WEXITSTATUS(st));
    size_t len;
    char *err = tu_read_file(errf, &len);
    char msg[64];
    snprintf(msg, sizeof msg, "interrupted by %s", name);
    cr_assert(err && strstr(err, msg), "%s", err);
    free(err);
    cr_assert_neq(access(out, F_OK), 0, "an output was written");
    cr_assert_eq(other_files(dir, NULL), 3, "a temporary file was left");
    unlink(errf);
    unlink(ck);
    unlink(sw);
    unlink(scen);
    rmdir(dir);
    free(dir);
}

Test(signals, sweep_stops_with_130_on_sigint, .timeout = 300) { check_sweep_signal(SIGINT, 130, "SIGINT"); }
Test(signals, sweep_stops_with_143_on_sigterm, .timeout = 300) { check_sweep_signal(SIGTERM, 143, "SIGTERM"); }

static long rss_kib(pid_t pid)
{
    char p[64], line[256];
    snprintf(p, sizeof p, "/proc/%ld/status", (long)pid);
    FILE *f = fopen(p, "r");
    long kib = -1;
    while (f && fgets(line, sizeof line, f))
        if (sscanf(line, "VmRSS: %ld", &kib) == 1) break;
    if (f) fclose(f);
    return kib;
}

/* replications: 100000 with 100 (empty) variants: the cleanup after
 * SIGTERM finalised a report for every run the command would have made,
 * touching all of them (500 variants took it from 158 MB to 2.4 GB before
 * the exit). It must not allocate per remaining run: the peak resident
 * memory (ru_maxrss) stays near what the process held when signalled. */
Test(signals, cleanup_after_a_signal_does_not_grow_with_the_runs_left, .timeout = 300)
{
    char text[8192];
    int k = snprintf(text, sizeof text, "%sreplications: 100000\nvariants:\n", small);
    for (int v = 0; v < 100; v++) k += snprintf(text + k, sizeof text - (size_t)k, "  v%d: {}\n", v);
    char *scen = write_scenario("manyreps", text);
    char *out = tu_tmp_path("manyreps", ".h5"), *errf = tu_tmp_path("manyreps", ".err");
    char *const argv[] = {(char *)RAGSIM_BINARY, "run", scen, "-q", "-o", out, NULL};
    pid_t pid = tu_spawn(argv, errf, 300, false);
    char tmp[4200], idx[4300];
    snprintf(tmp, sizeof tmp, "%s.tmp.%ld", out, (long)pid);
    snprintf(idx, sizeof idx, "%s.ckpt/index", out);
    int polls = 0;
    while (access(idx, F_OK) != 0 && polls++ < 600000) {
        int st;
        cr_assert_eq(waitpid(pid, &st, WNOHANG), 0, "ragsim ended before it was signalled");
        usleep(100);
    }
    long before = rss_kib(pid);
    cr_assert_gt(before, 0);
    kill(pid, SIGTERM);
    long peak = 0;
    int st = tu_wait_rss(pid, &peak);
    cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 143, "status %d", st);
    cr_log_info("resident when signalled %ld KiB, peak %ld KiB", before, peak);
    /* 10,000,000 runs left: 48 bytes each would be 480 MB */
    cr_assert_lt(peak, before + 64 * 1024, "the cleanup grew to %ld KiB from %ld KiB", peak, before);
    cr_assert_neq(access(tmp, F_OK), 0);
    char ck[4200];
    snprintf(ck, sizeof ck, "%s.ckpt", out);
    remove_tree(ck);
    unlink(errf);
    unlink(scen);
    free(out);
    free(errf);
    free(scen);
}

/* A complete ragsim trace: opens, says complete = 1, has /summary. */
static bool complete_trace(const char *path)
{
    H5E_BEGIN_TRY {
        hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
        if (f < 0) return false;
        long long c = -1;
        hid_t a = H5Aopen_by_name(f, "/", "complete", H5P_DEFAULT, H5P_DEFAULT);
        if (a >= 0) {
            H5Aread(a, H5T_NATIVE_LLONG, &c);
            H5Aclose(a);
        }
        bool ok = c == 1 && H5Lexists(f, "/summary", H5P_DEFAULT) > 0;
        H5Fclose(f);
        return ok;
    } H5E_END_TRY;
    return false;
}

/* SIGKILL at seeded random moments: the target holds, every time, either
 * exactly what it held before or a complete new trace, never a part. */
Test(signals, sigkill_never_leaves_a_partial_trace, .timeout = 600)
{
    char *scen = write_scenario("killme", "name: killme\nduration: 20m\nsample_interval: 1s\nreplications: 2\n"
                                          "workload: {arrivals: poisson, rate: 200/s}\n"
                                          "stations: {s: {servers: 4, service: {dist: exponential, mean: 10ms}}}\n"
                                          "route: [s]\n");
    char *out = tu_tmp_path("killed", ".h5");
    char *errf = tu_tmp_path("killed", ".err");
    cr_assert_eq(tu_write_file(out, "the trace before the first trial\n"), 0);
    unsigned seed = 20240601u;
    int trials = 40, kept = 0, replaced = 0, finished = 0;
    for (int t = 0; t < trials; t++) {
        size_t blen = 0;
        char *before = tu_read_file(out, &blen);
        seed = seed * 1103515245u + 12345u;
        useconds_t delay = (seed >> 8) % 300000u;   /* 0 .. 0.3 s */
        pid_t pid = spawn_run(scen, out, errf);
        usleep(delay);
        kill(pid, SIGKILL);
        int st = tu_wait(pid);
        bool killed = WIFSIGNALED(st);
        char tmp[4200];
        snprintf(tmp, sizeof tmp, "%s.tmp.%ld", out, (long)pid);
        unlink(tmp);   /* what SIGKILL leaves behind: the temporary file, never the target */
        size_t alen = 0;
        char *after = tu_read_file(out, &alen);
        cr_assert_not_null(after, "trial %d: the target disappeared", t);
        bool same = alen == blen && !memcmp(before, after, alen);
        if (!killed) {
            /* it finished before the signal: the new trace is complete */
            cr_assert_eq(WEXITSTATUS(st), 0, "trial %d: exit %d", t, WEXITSTATUS(st));
            cr_assert(complete_trace(out), "trial %d: a finished run left an incomplete trace", t);
            finished++;
        } else if (same) {
            kept++;
        } else {
            cr_assert(complete_trace(out), "trial %d (SIGKILL after %u us): the target is neither the previous file "
                                           "nor a complete trace", t, (unsigned)delay);
            replaced++;
        }
        free(before);
        free(after);
    }
    cr_log_info("SIGKILL trials: %d: killed while running %d times (previous file kept %d, complete new trace %d), "
                "finished before the signal %d times", trials, kept + replaced, kept, replaced, finished);
    cr_assert_eq(kept + replaced + finished, trials);
    char lock[4200];
    snprintf(lock, sizeof lock, "%s.ckpt.lock", out);
    unlink(lock);   /* left by the last trial if it was killed (it holds no lock) */
    unlink(out);
    unlink(errf);
    unlink(scen);
    free(out);
    free(errf);
    free(scen);
}

/* ---- semantic checks ---------------------------------------------------------- */

Test(semantic, unstable_station_and_long_queue_timeout_warn)
{
    char *scen = write_scenario("unstable", "name: u\nduration: 1m\nworkload: {arrivals: poisson, rate: 20/s}\n"
                                            "stations:\n  a: {servers: 1, service: {dist: exponential, mean: 100ms}}\n"
                                            "  b: {servers: 4, queue_timeout: 2m, service: {dist: exponential, mean: 100ms}}\n"
                                            "route: [a, b]\n");
    tu_run_t r = ragsim("validate", scen);
    cr_assert_eq(r.status, 0, "warnings are not errors: %s", r.err);
    cr_assert(strstr(r.err, ":5:6: warning: station 'a' is unstable"), "%s", r.err);
    cr_assert(strstr(r.err, "the queue grows without bound"), "%s", r.err);
    cr_assert(strstr(r.err, ":6:34: warning: station 'b': queue_timeout is not shorter than the run's duration"), "%s", r.err);
    cr_assert(strstr(r.out, "2 warnings"), "%s", r.out);
    tu_run_free(&r);
    unlink(scen);
    free(scen);
}

Test(semantic, stable_scenario_has_no_warning)
{
    char *scen = write_scenario("stable", small);
    tu_run_t r = ragsim("validate", scen);
    cr_assert_eq(r.status, 0);
    cr_assert_null(strstr(r.err, "warning"), "%s", r.err);
    tu_run_free(&r);
    unlink(scen);
    free(scen);
}

Test(semantic, rag_timeout_and_deadline_longer_than_the_run_warn)
{
    size_t len;
    char *base = tu_read_file(tu_src("scenarios/rag-baseline.yaml"), &len);
    cr_assert_not_null(base);
    char *scen = tu_tmp_path("ragwarn", ".yaml");
    cr_assert_eq(tu_write_file(scen, base), 0);
    free(base);
    /* the base scenario is quiet ... */
    tu_run_t r = ragsim("validate", scen);
    cr_assert_eq(r.status, 0, "%s", r.err);
    cr_assert_null(strstr(r.err, "longer than the run"), "%s", r.err);
    tu_run_free(&r);
    /* ... a 2 h generate timeout and a 1 h deadline in a 10 min run are not */
    r = ragsim("validate", scen, "--set", "calls.generate.timeout=2h", "--set", "workload.deadline=1h");
    cr_assert_eq(r.status, 0, "%s", r.err);
    cr_assert(strstr(r.err, "--set:1:24: warning: the timeout of the 'generate' call (7200 s) is longer than the run (600 s)"), "%s", r.err);
    cr_assert(strstr(r.err, "warning: the client's deadline (mean 3600 s) is longer than the run (600 s)"), "%s", r.err);
    tu_run_free(&r);
    unlink(scen);
    free(scen);
}

/* Impossible scenarios are errors, not warnings (more in the corpus). */
Test(semantic, impossible_scenarios_are_errors)
{
    char *scen = write_scenario("impossible", small);
    tu_run_t r = ragsim("validate", scen, "--set", "sample_interval=1us");
    cr_assert_eq(r.status, 2, "%s", r.err);
    cr_assert(strstr(r.err, "--set:1:17: error: 'sample_interval' (1e-06 s) gives 6e+07 samples"), "%s", r.err);
    tu_run_free(&r);
    r = ragsim("validate", scen, "--set", "warmup=2m");
    cr_assert_eq(r.status, 2);
    cr_assert(strstr(r.err, "must be shorter than 'duration'"), "%s", r.err);
    tu_run_free(&r);
    unlink(scen);
    free(scen);
}

/* The warning for a sample interval longer than the run named no file
 * and no position ("<input>: warning: ...") when the interval was the
 * default: it points at the duration now. */
Test(semantic, a_run_shorter_than_the_default_sample_interval_warns_at_its_duration)
{
    char *scen = write_scenario("short", "name: s\nduration: 500ms\nworkload: {rate: 1/s}\n"
                                         "stations: {a: {service: 1ms}}\nroute: [a]\n");
    tu_run_t r = ragsim("validate", scen);
    cr_assert_eq(r.status, 0, "%s", r.err);
    char want[4200];
    snprintf(want, sizeof want, "%s:2:11: warning: 'duration' (0.5 s) is shorter than the default 'sample_interval' (1 s)",
             scen);
    cr_assert(strstr(r.err, want), "want '%s' in: %s", want, r.err);
    cr_assert_null(strstr(r.err, "<input>"), "%s", r.err);
    tu_run_free(&r);
    unlink(scen);
    free(scen);
}

/* ---- out of memory ------------------------------------------------------------------ */

/* Out of memory while loading (here: an address-space limit on a scenario
 * whose 9 variants copy a 100,000-item route) used to end validate and run
 * with status 1 and no message. Every run here either succeeds or says
 * "out of memory" with status 1; at least one limit is too small. (Not in
 * the sanitizer build: AddressSanitizer reserves terabytes of address
 * space.) */
Test(memory, out_of_memory_is_reported, .timeout = 300)
{
#if defined(__SANITIZE_ADDRESS__)
    cr_skip_test("an address-space limit cannot be set under AddressSanitizer");
#else
    size_t cap = 1u << 20, len = 0;
    char *y = malloc(cap);
    len += (size_t)snprintf(y + len, cap - len, "name: x\nduration: 1s\nworkload: {rate: 1/s}\n"
                                                "stations: {a: {service: 1ms}}\nroute: [a");
    for (int i = 1; i < 100000; i++) len += (size_t)snprintf(y + len, cap - len, ",a");
    len += (size_t)snprintf(y + len, cap - len, "]\nvariants:\n");
    for (int i = 0; i < 9; i++) len += (size_t)snprintf(y + len, cap - len, "  v%d: {}\n", i);
    char *scen = write_scenario("oom", y);
    free(y);
    char *out = tu_tmp_path("oom", ".h5");
    int oom = 0;
    static const unsigned long long mib[] = {64, 96, 128, 1024};
    for (size_t i = 0; i < sizeof mib / sizeof *mib; i++)
        for (int cmd = 0; cmd < 2; cmd++) {
            const char *argv[] = {RAGSIM_BINARY, cmd ? "run" : "validate", scen, "-q", cmd ? "-o" : NULL, out,
                                  "--force", NULL};
            tu_run_t r = tu_run_limited(argv, RLIMIT_AS, mib[i] << 20);
            cr_log_info("%s under %llu MiB: exit %d %s", argv[1], mib[i], r.status, r.err);
            cr_assert_eq(r.signal, 0, "%s under %llu MiB: killed by signal %d", argv[1], mib[i], r.signal);
            if (r.status != 0) {
                cr_assert_eq(r.status, 1, "%s under %llu MiB: exit %d: %s", argv[1], mib[i], r.status, r.err);
                cr_assert(strstr(r.err, "out of memory"), "%s under %llu MiB: %s", argv[1], mib[i], r.err);
                oom++;
            }
            tu_run_free(&r);
            unlink(out);
        }
    cr_assert_gt(oom, 0, "no limit was small enough to test anything");
    unlink(scen);
    free(scen);
    free(out);
#endif
}

/* Two commands writing the same output would share its checkpoint: each
 * removed the other's runs, and both failed or wrote a mixture. The second
 * one now stops at once, writing nothing. The test holds the lock itself
 * (as a running command would) rather than racing two commands. */
Test(output, one_command_at_a_time_per_output, .timeout = 120)
{
    char *dir = make_dir("locked");
    char scen[1024], out[1024], sw[1024], lock[1100], ck[1100];
    snprintf(scen, sizeof scen, "%s/s.yaml", dir);
    snprintf(out, sizeof out, "%s/out.h5", dir);
    snprintf(sw, sizeof sw, "%s/sw.yaml", dir);
    snprintf(lock, sizeof lock, "%s.ckpt.lock", out);
    snprintf(ck, sizeof ck, "%s.ckpt", out);
    cr_assert_eq(tu_write_file(scen, small), 0);
    cr_assert_eq(tu_write_file(sw, "scenario: s.yaml\nset: {duration: 10s}\naxes:\n  workload.rate: [1/s, 2/s]\n"), 0);

    long holder;
    int fd = sim_lock_take(lock, &holder);
    cr_assert_geq(fd, 0);
    const char *cmds[][6] = {{"run", scen, "-q", "-o", out, NULL},
                             {"run", scen, "-q", "--no-trace", "-o", out},
                             {"sweep", sw, "-q", "-o", out, NULL}};
    for (size_t i = 0; i < sizeof cmds / sizeof cmds[0]; i++) {
        tu_run_t r = ragsim(cmds[i][0], cmds[i][1], cmds[i][2], cmds[i][3], cmds[i][4], cmds[i][5]);
        cr_assert_eq(r.status, 2, "%s: exit %d: %s", cmds[i][0], r.status, r.err);
        char want[64];
        snprintf(want, sizeof want, "another ragsim command (pid %ld) is writing", (long)getpid());
        cr_assert(strstr(r.err, want) && strstr(r.err, out), "%s", r.err);
        tu_run_free(&r);
        cr_assert_neq(access(out, F_OK), 0, "%s wrote its output", cmds[i][0]);
        cr_assert_neq(access(ck, F_OK), 0, "%s touched the checkpoint", cmds[i][0]);
        cr_assert_eq(access(lock, F_OK), 0, "%s removed the holder's lock", cmds[i][0]);
    }
    /* released: the command runs, and leaves no lock behind */
    sim_lock_drop(fd, lock);
    tu_run_t r = ragsim("run", scen, "-q", "-o", out);
    cr_assert_eq(r.status, 0, "%s", r.err);
    tu_run_free(&r);
    cr_assert_eq(access(out, F_OK), 0);
    cr_assert_neq(access(lock, F_OK), 0);
    /* a lock file left by a killed command is taken over */
    cr_assert_eq(tu_write_file(lock, "99999\n"), 0);
    r = ragsim("sweep", sw, "-q", "-o", out, "--force");
    cr_assert_eq(r.status, 0, "%s", r.err);
    tu_run_free(&r);
    cr_assert_neq(access(lock, F_OK), 0);
    remove_tree(dir);
    free(dir);
}
