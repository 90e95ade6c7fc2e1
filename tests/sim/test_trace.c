/* sim/trace: write with the API, read back with the raw HDF5 API. This
 * suite: the file (sim/trace.c): the temporary file, commit and abort,
 * attributes, and byte-identical files for the same content. Datasets and
 * tables: test_trace_dataset.c; sets of time series: test_trace_series.c. */
#include <criterion/criterion.h>
#include <errno.h>
#include <hdf5.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "sim/error.h"
#include "sim/table.h"
#include "sim/trace.h"
#include "testutil.h"
#include "h5values.h"
#include "tracefx.h"

/* ---- helpers ------------------------------------------------------------ */

static int exists_(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0;
}

static double read_f64_attr_(hid_t f, const char *obj, const char *name)
{
    hid_t a = H5Aopen_by_name(f, obj, name, H5P_DEFAULT, H5P_DEFAULT);
    cr_assert_geq(a, 0, "attribute %s on %s", name, obj);
    hid_t ty = H5Aget_type(a);
    cr_assert_gt(H5Tequal(ty, H5T_IEEE_F64LE), 0, "%s is float64 LE", name);
    double v = 0;
    cr_assert_geq(H5Aread(a, H5T_NATIVE_DOUBLE, &v), 0);
    H5Tclose(ty);
    H5Aclose(a);
    return v;
}

static unsigned char *slurp_(const char *path, size_t *len)
{
    FILE *fp = fopen(path, "rb");
    cr_assert_not_null(fp, "open %s", path);
    fseek(fp, 0, SEEK_END);
    long n = ftell(fp);
    fseek(fp, 0, SEEK_SET);
    unsigned char *buf = malloc((size_t)n + 1);
    cr_assert_eq(fread(buf, 1, (size_t)n, fp), (size_t)n);
    fclose(fp);
    *len = (size_t)n;
    return buf;
}

/* 200 KiB of varied text with multi-byte UTF-8 characters. */
static char *big_string_(size_t n, unsigned seed)
{
    char *s = malloc(n + 1);
    size_t i = 0;
    while (i < n) {
        unsigned k = (unsigned)(i * 2654435761u + seed) >> 7;
        if (k % 13 == 0 && i + 2 <= n) { /* "é" */
            s[i++] = '\xC3';
            s[i++] = '\xA9';
        } else {
            s[i++] = (char)(k % 29 == 0 ? '\n' : 'a' + k % 26);
        }
    }
    s[n] = '\0';
    return s;
}

/* ---- life cycle: tmp file, commit, abort -------------------------------- */

Test(trace, file_appears_at_target_only_after_commit)
{
    char *path = tu_tmp_path("commit", ".h5");
    sim_trace_t *t = create_(path);
    char want[4096];
    snprintf(want, sizeof want, "%s.tmp.%ld", path, (long)getpid());
    cr_assert_str_eq(sim_trace_tmp_path(t), want);
    cr_assert_str_eq(sim_trace_errmsg(t), "");
    cr_assert(exists_(want), "tmp file exists while writing");
    cr_assert_eq(sim_trace_group(t, "/runs/default"), 0);
    cr_assert_not(exists_(path), "target absent before commit");
    commit_(t);
    cr_assert(exists_(path), "target present after commit");
    cr_assert_not(exists_(want), "tmp file gone after commit");
    hid_t f = open_(path);
    cr_assert_gt(H5Lexists(f, "/runs/default", H5P_DEFAULT), 0);
    H5Fclose(f);
    unlink(path);
    free(path);
}

Test(trace, abort_removes_the_tmp_file_and_leaves_no_target)
{
    char *path = tu_tmp_path("abort", ".h5");
    sim_trace_t *t = create_(path);
    char *tmp = strdup(sim_trace_tmp_path(t));
    double x[3] = {1, 2, 3};
    cr_assert_eq(sim_trace_f64(t, "/x", x, 3, "s", NULL), 0);
    cr_assert(exists_(tmp));
    sim_trace_abort(t);
    cr_assert_not(exists_(tmp), "tmp gone after abort");
    cr_assert_not(exists_(path), "no target after abort");
    sim_trace_abort(NULL);
    free(tmp);
    free(path);
}

Test(trace, missing_directory_fails_with_message_and_creates_nothing)
{
    char *dir = tu_tmp_path("nodir", "");
    char path[4096];
    snprintf(path, sizeof path, "%s/out.h5", dir);
    int err = 0;
    char eb[512] = "";
    sim_trace_t *t = sim_trace_create(path, &err, eb, sizeof eb);
    cr_assert_null(t);
    cr_assert_eq(err, SIM_EIO);
    cr_log_info("message: %s", eb);
    cr_assert_not_null(strstr(eb, dir), "names the directory: %s", eb);
    cr_assert_not_null(strstr(eb, strerror(ENOENT)), "says why: %s", eb);
    cr_assert_not(exists_(dir));
    free(dir);
}

Test(trace, directory_that_is_a_file_fails_with_message)
{
    char *file = tu_tmp_path("notadir", ".txt");
    cr_assert_eq(tu_write_file(file, "x"), 0);
    char path[4096];
    snprintf(path, sizeof path, "%s/out.h5", file);
    int err = 0;
    char eb[512] = "";
    cr_assert_null(sim_trace_create(path, &err, eb, sizeof eb));
    cr_assert_eq(err, SIM_EIO);
    cr_assert_not_null(strstr(eb, file), "%s", eb);
    cr_assert_not_null(strstr(eb, "not a directory"), "%s", eb);
    unlink(file);
    free(file);
}

Test(trace, unwritable_directory_fails_with_message)
{
    if (geteuid() == 0) cr_skip_test("root can write anywhere");
    char *dir = tu_tmp_path("rodir", "");
    cr_assert_eq(mkdir(dir, 0555), 0);
    char path[4096];
    snprintf(path, sizeof path, "%s/out.h5", dir);
    int err = 0;
    char eb[512] = "";
    cr_assert_null(sim_trace_create(path, &err, eb, sizeof eb));
    cr_assert_eq(err, SIM_EIO);
    cr_assert_not_null(strstr(eb, "not writable"), "%s", eb);
    cr_assert_not_null(strstr(eb, strerror(EACCES)), "%s", eb);
    rmdir(dir);
    free(dir);
}

Test(trace, unusable_tmp_path_is_reported_and_left_alone)
{
    char *path = tu_tmp_path("blocked", ".h5");
    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid());
    cr_assert_eq(mkdir(tmp, 0755), 0); /* not a file: the temporary file cannot be created */
    int err = 0;
    char eb[1024] = "";
    cr_assert_null(sim_trace_create(path, &err, eb, sizeof eb));
    cr_log_info("message: %s", eb);
    cr_assert_eq(err, SIM_EIO);
    cr_assert_not_null(strstr(eb, tmp), "names the tmp file: %s", eb);
    cr_assert_not_null(strstr(eb, strerror(EEXIST)), "says why: %s", eb);
    struct stat st;
    cr_assert(stat(tmp, &st) == 0 && S_ISDIR(st.st_mode), "what we did not create is kept");
    cr_assert_not(exists_(path));
    cr_assert_null(sim_trace_create(path, NULL, NULL, 0), "NULL err/errbuf are allowed");
    rmdir(tmp);
    free(path);
}

/* A temporary file left by an earlier process of the same pid (killed by
 * SIGKILL) is ours by its name: it is replaced, not an error. */
Test(trace, a_stale_temporary_file_of_ours_is_replaced)
{
    char *path = tu_tmp_path("stale", ".h5");
    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid());
    cr_assert_eq(tu_write_file(tmp, "left by a killed run"), 0);
    sim_trace_t *t = create_(path);
    commit_(t);
    cr_assert_not(exists_(tmp));
    hid_t f = open_(path);
    H5Fclose(f);
    unlink(path);
    free(path);
}

/* A full disk (here a file-size limit of 0 with SIGXFSZ ignored, so the
 * first write fails with EFBIG as it would with ENOSPC) when the trace is
 * created: an error, and no temporary file is left (HDF5 had already
 * created an empty one). In a child: the limit is the child's. */
Test(trace, a_failed_creation_leaves_no_temporary_file)
{
    char *path = tu_tmp_path("fullcreate", ".h5");
    pid_t pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0) {
        signal(SIGXFSZ, SIG_IGN);
        struct rlimit rl = {0, 0};
        if (setrlimit(RLIMIT_FSIZE, &rl) != 0) _exit(10);
        int err = 0;
        char eb[1024] = "";
        sim_trace_t *t = sim_trace_create(path, &err, eb, sizeof eb);
        char tmp[4096];
        snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid());
        if (t) _exit(11);                        /* created in spite of the limit */
        if (!strstr(eb, "File too large")) _exit(12);
        if (access(tmp, F_OK) == 0) _exit(13);   /* the temporary file was left */
        _exit(0);
    }
    int st = tu_wait(pid);
    cr_assert(WIFEXITED(st), "the child was killed by signal %d", WTERMSIG(st));
    cr_assert_eq(WEXITSTATUS(st), 0, "child status %d (11: created, 12: wrong message, 13: tmp left)",
                 WEXITSTATUS(st));
    cr_assert_not(exists_(path));
    free(path);
}

Test(trace, bad_target_paths_are_refused)
{
    int err = 0;
    char eb[512] = "";
    cr_assert_null(sim_trace_create("", &err, eb, sizeof eb));
    cr_assert_eq(err, SIM_EINVAL);
    char *dir = tu_tmp_path("slash", "");
    char path[4096];
    snprintf(path, sizeof path, "%s/", dir);
    cr_assert_null(sim_trace_create(path, &err, eb, sizeof eb));
    cr_assert_eq(err, SIM_EINVAL);
    cr_assert_not_null(strstr(eb, "does not name a file"), "%s", eb);
    free(dir);
}

Test(trace, existing_directory_target_is_refused_at_create)
{
    char *path = tu_tmp_path("isdir0", ".h5");
    cr_assert_eq(mkdir(path, 0755), 0);
    int err = 0;
    char eb[512] = "";
    cr_assert_null(sim_trace_create(path, &err, eb, sizeof eb));
    cr_assert_eq(err, SIM_EIO);
    cr_assert_not_null(strstr(eb, "is a directory"), "%s", eb);
    rmdir(path);
    free(path);
}

/* Without replace (no --force): the target appears while the trace is
 * written (a second run writing the same file): the commit fails, the
 * target is left as it is and the temporary file is removed. With
 * replace: a regular file is replaced, anything else is not. */
Test(trace, a_target_that_appears_is_not_replaced)
{
    const char *kinds[] = {"file", "dir", "fifo"};
    for (int replace = 0; replace <= 1; replace++)
        for (int k = 0; k < 3; k++) {
            char *path = tu_tmp_path("appears", ".h5");
            sim_trace_t *t = create_(path);
            sim_trace_set_replace(t, replace);
            char *tmp = strdup(sim_trace_tmp_path(t));
            cr_assert_eq(sim_trace_attr_i64(t, "/", "x", 1), 0);
            if (k == 0) cr_assert_eq(tu_write_file(path, "the other run's trace"), 0);
            else if (k == 1) cr_assert_eq(mkdir(path, 0755), 0);
            else cr_assert_eq(mkfifo(path, 0644), 0);
            char eb[1024] = "";
            int rc = sim_trace_commit(t, eb, sizeof eb);
            cr_log_info("replace %d, %s: %d %s", replace, kinds[k], rc, eb);
            cr_assert_not(exists_(tmp), "tmp removed after the commit");
            struct stat st;
            cr_assert_eq(lstat(path, &st), 0);
            if (replace && k == 0) {
                cr_assert_eq(rc, 0, "%s", eb);
                hid_t f = open_(path);   /* the new trace */
                H5Fclose(f);
            } else {
                cr_assert_eq(rc, SIM_EEXIST, "replace %d, %s: rc %d %s", replace, kinds[k], rc, eb);
                cr_assert_not_null(strstr(eb, path), "names the target: %s", eb);
                cr_assert_not_null(strstr(eb, replace ? "replaces only regular files" : "appeared while"), "%s", eb);
                if (k == 0) {
                    size_t len;
                    char *txt = tu_read_file(path, &len);
                    cr_assert_str_eq(txt, "the other run's trace");
                    free(txt);
                }
                cr_assert(k == 0 ? S_ISREG(st.st_mode) : k == 1 ? S_ISDIR(st.st_mode) : S_ISFIFO(st.st_mode),
                          "the %s is untouched", kinds[k]);
            }
            if (k == 1) rmdir(path);
            else unlink(path);
            free(tmp);
            free(path);
        }
}

/* SIGINT/SIGTERM during the commit's fsync: the handler sets the flag,
 * and the commit stops before the rename: nothing is written. */
Test(trace, an_interrupt_before_the_rename_commits_nothing)
{
    char *path = tu_tmp_path("intcommit", ".h5");
    cr_assert_eq(tu_write_file(path, "previous"), 0);
    sim_trace_t *t = create_(path);
    sim_trace_set_replace(t, true);
    volatile sig_atomic_t flag = SIGINT;
    sim_trace_set_interrupt(t, &flag);
    char *tmp = strdup(sim_trace_tmp_path(t));
    char eb[1024] = "";
    cr_assert_eq(sim_trace_commit(t, eb, sizeof eb), SIM_EINTERRUPTED, "%s", eb);
    cr_assert_not_null(strstr(eb, "nothing was written"), "%s", eb);
    cr_assert_not(exists_(tmp));
    size_t len;
    char *txt = tu_read_file(path, &len);
    cr_assert_str_eq(txt, "previous");
    free(txt);
    unlink(path);
    free(tmp);
    free(path);
}

/* ---- attributes --------------------------------------------------------- */

Test(trace, attributes_of_each_type_round_trip_on_groups_and_datasets)
{
    char *path = tu_tmp_path("attrs", ".h5");
    sim_trace_t *t = create_(path);
    double x[1] = {0};
    cr_assert_eq(sim_trace_f64(t, "/runs/d", x, 1, "s", NULL), 0);
    const char *objs[] = {"/", "/a/b/c", "/runs/d"};
    for (int i = 0; i < 3; i++) {
        cr_assert_eq(sim_trace_attr_str(t, objs[i], "s", "h\xC3\xA9llo"), 0, "%s",
                     sim_trace_errmsg(t));
        cr_assert_eq(sim_trace_attr_str(t, objs[i], "empty", ""), 0);
        cr_assert_eq(sim_trace_attr_i64(t, objs[i], "i", INT64_MIN + i), 0);
        cr_assert_eq(sim_trace_attr_f64(t, objs[i], "f", -1.5e-300 * (i + 1)), 0);
    }
    commit_(t);
    hid_t f = open_(path);
    for (int i = 0; i < 3; i++) {
        char *s = read_str_attr_(f, objs[i], "s");
        cr_assert_str_eq(s, "h\xC3\xA9llo");
        free(s);
        s = read_str_attr_(f, objs[i], "empty");
        cr_assert_str_eq(s, "");
        free(s);
        cr_assert_eq(read_i64_attr_(f, objs[i], "i"), INT64_MIN + i);
        cr_assert_eq(read_f64_attr_(f, objs[i], "f"), -1.5e-300 * (i + 1));
    }
    H5O_info_t oi;
    cr_assert_geq(H5Oget_info_by_name(f, "/a/b/c", &oi, H5P_DEFAULT), 0);
    cr_assert_eq(oi.type, H5O_TYPE_GROUP, "missing groups are created");
    H5Fclose(f);
    unlink(path);
    free(path);
}

Test(trace, overwriting_an_attribute_replaces_value_and_type)
{
    char *path = tu_tmp_path("overwrite", ".h5");
    sim_trace_t *t = create_(path);
    double x[1] = {0};
    cr_assert_eq(sim_trace_f64(t, "/d", x, 1, "s", NULL), 0);
    cr_assert_eq(sim_trace_attr_i64(t, "/g", "v", 1), 0);
    cr_assert_eq(sim_trace_attr_str(t, "/g", "v", "a longer string than before"), 0);
    cr_assert_eq(sim_trace_attr_str(t, "/g", "v", "short"), 0);
    cr_assert_eq(sim_trace_attr_f64(t, "/g", "w", 1.0), 0);
    cr_assert_eq(sim_trace_attr_f64(t, "/g", "w", 2.0), 0);
    cr_assert_eq(sim_trace_attr_str(t, "/d", "unit", "ms"), 0, "dataset's own unit replaced");
    commit_(t);
    hid_t f = open_(path);
    char *s = read_str_attr_(f, "/g", "v");
    cr_assert_str_eq(s, "short");
    free(s);
    cr_assert_eq(read_f64_attr_(f, "/g", "w"), 2.0);
    s = read_str_attr_(f, "/d", "unit");
    cr_assert_str_eq(s, "ms");
    free(s);
    H5O_info_t oi;
    cr_assert_geq(H5Oget_info_by_name(f, "/g", &oi, H5P_DEFAULT), 0);
    cr_assert_eq(oi.num_attrs, 2);
    H5Fclose(f);
    unlink(path);
    free(path);
}

Test(trace, string_attribute_of_200_kib_round_trips)
{
    char *path = tu_tmp_path("bigattr", ".h5");
    sim_trace_t *t = create_(path);
    size_t n = 200 * 1024;
    char *yaml = big_string_(n, 1), *other = big_string_(n + 123, 2), *third = big_string_(70000, 3);
    double x[1] = {0};
    cr_assert_eq(sim_trace_f64(t, "/d", x, 1, "s", "small attributes first"), 0);
    cr_assert_eq(sim_trace_attr_str(t, "/", "scenario_yaml", yaml), 0, "%s", sim_trace_errmsg(t));
    for (int i = 0; i < 10; i++) { /* a group with many compact attributes, then a big one */
        char name[16];
        snprintf(name, sizeof name, "a%d", i);
        cr_assert_eq(sim_trace_attr_i64(t, "/g", name, i), 0);
    }
    cr_assert_eq(sim_trace_attr_str(t, "/g", "big", other), 0, "%s", sim_trace_errmsg(t));
    cr_assert_eq(sim_trace_attr_str(t, "/d", "big", yaml), 0, "%s", sim_trace_errmsg(t));
    cr_assert_eq(sim_trace_attr_str(t, "/g", "big", third), 0, "replace a big one");
    commit_(t);
    hid_t f = open_(path);
    char *s = read_str_attr_(f, "/", "scenario_yaml");
    cr_assert_eq(strlen(s), n);
    cr_assert_eq(memcmp(s, yaml, n), 0);
    free(s);
    s = read_str_attr_(f, "/g", "big");
    cr_assert_str_eq(s, third);
    free(s);
    s = read_str_attr_(f, "/d", "big");
    cr_assert_str_eq(s, yaml);
    free(s);
    s = read_str_attr_(f, "/d", "description");
    cr_assert_str_eq(s, "small attributes first");
    free(s);
    cr_assert_eq(read_i64_attr_(f, "/g", "a9"), 9);
    H5Fclose(f);
    free(yaml);
    free(other);
    free(third);
    unlink(path);
    free(path);
}

/* ---- determinism -------------------------------------------------------- */

static void write_sample_(const char *path)
{
    sim_trace_t *t = create_(path);
    char *yaml = big_string_(200 * 1024, 7);
    cr_assert_eq(sim_trace_attr_str(t, "/", "scenario_yaml", yaml), 0);
    cr_assert_eq(sim_trace_attr_str(t, "/", "version", "0.1.0"), 0);
    cr_assert_eq(sim_trace_attr_i64(t, "/runs/default", "seed", 42), 0);
    cr_assert_eq(sim_trace_attr_f64(t, "/runs/default/rep000", "horizon", 3600.0), 0);
    size_t n = 70000;
    double *x = malloc(n * sizeof *x);
    for (size_t i = 0; i < n; i++) x[i] = (double)i * 0.37;
    cr_assert_eq(sim_trace_f64(t, "/runs/default/rep000/timeseries/t", x, n, "s", "time"), 0);
    events_t e;
    events_fill_(&e, 3000);
    cr_assert_eq(sim_trace_table(t, "/runs/default/rep000/events", &e.tab), 0);
    sim_table_fini(&e.tab);
    events_fill_(&e, 0);
    cr_assert_eq(sim_trace_table(t, "/runs/default/rep000/empty", &e.tab), 0);
    sim_table_fini(&e.tab);
    commit_(t);
    free(x);
    free(yaml);
}

/* Raw (compressed) bytes of every chunk, concatenated. */
static unsigned char *raw_chunks_(hid_t f, const char *dpath, hsize_t chunk, size_t *len)
{
    hid_t d = H5Dopen2(f, dpath, H5P_DEFAULT);
    cr_assert_geq(d, 0, "%s", dpath);
    hsize_t n = dims_(d);
    unsigned char *out = NULL;
    *len = 0;
    for (hsize_t off = 0; off < n; off += chunk) {
        hsize_t o[1] = {off}, sz = 0;
        cr_assert_geq(H5Dget_chunk_storage_size(d, o, &sz), 0);
        out = realloc(out, *len + sz);
        uint32_t filters = 0;
        cr_assert_geq(H5Dread_chunk(d, H5P_DEFAULT, o, &filters, out + *len), 0);
        *len += sz;
    }
    H5Dclose(d);
    return out;
}

/* The dataset's values (strings by their text: h5values.h). */
static unsigned char *all_rows_(hid_t f, const char *dpath, size_t *len)
{
    hid_t d = H5Dopen2(f, dpath, H5P_DEFAULT);
    cr_assert_geq(d, 0, "%s", dpath);
    unsigned char *buf = h5_values(d, len);
    cr_assert_not_null(buf, "%s unreadable", dpath);
    H5Dclose(d);
    return buf;
}

Test(trace, same_content_gives_identical_datasets_and_files, .timeout = 60)
{
    char *p1 = tu_tmp_path("det1", ".h5"), *p2 = tu_tmp_path("det2", ".h5");
    write_sample_(p1);
    sleep(1); /* object times (whole seconds), if recorded, would now differ */
    write_sample_(p2);

    hid_t f1 = open_(p1), f2 = open_(p2);
    const char *ds[] = {"/runs/default/rep000/timeseries/t", "/runs/default/rep000/events"};
    hsize_t chunks[] = {65536, 1638};   /* events: 40-byte rows in the file, 1638 per 64 KiB */
    for (int i = 0; i < 2; i++) {
        size_t l1, l2;
        unsigned char *a = all_rows_(f1, ds[i], &l1), *b = all_rows_(f2, ds[i], &l2);
        cr_assert_eq(l1, l2);
        cr_assert_gt(l1, 0);
        cr_assert_eq(memcmp(a, b, l1), 0, "%s contents", ds[i]);
        free(a);
        free(b);
        a = raw_chunks_(f1, ds[i], chunks[i], &l1);
        b = raw_chunks_(f2, ds[i], chunks[i], &l2);
        cr_assert_eq(l1, l2);
        cr_assert_eq(memcmp(a, b, l1), 0, "%s compressed chunks", ds[i]);
        free(a);
        free(b);
    }
    H5O_info_t o1, o2;
    cr_assert_geq(H5Oget_info_by_name(f1, "/runs/default", &o1, H5P_DEFAULT), 0);
    cr_assert_geq(H5Oget_info_by_name(f2, "/runs/default", &o2, H5P_DEFAULT), 0);
    cr_assert_eq(o1.ctime, 0, "no group creation time");
    cr_assert_eq(o1.mtime, 0, "no group modification time");
    cr_assert_geq(H5Oget_info_by_name(f1, ds[0], &o1, H5P_DEFAULT), 0);
    cr_assert_eq(o1.ctime, 0, "no dataset creation time");
    cr_assert_geq(H5Oget_info_by_name(f1, "/", &o1, H5P_DEFAULT), 0);
    cr_assert_eq(o1.mtime, 0, "no root group modification time");
    H5Fclose(f1);
    H5Fclose(f2);

    size_t n1, n2;
    unsigned char *b1 = slurp_(p1, &n1), *b2 = slurp_(p2, &n2);
    cr_assert_eq(n1, n2, "file sizes %zu vs %zu", n1, n2);
    size_t diff = 0;
    for (size_t i = 0; i < n1; i++) diff += b1[i] != b2[i];
    cr_assert_eq(diff, 0, "%zu of %zu bytes differ between identical writes", diff, n1);
    free(b1);
    free(b2);
    unlink(p1);
    unlink(p2);
    free(p1);
    free(p2);
}
