/* sim/outfile: which output paths a command may write (sim_output_check),
 * and the moves of a finished file into place: without replacing anything
 * (sim_rename_noreplace, by each of its methods) or replacing only a
 * regular file (sim_replace_regular). */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "sim/error.h"
#include "sim/outfile.h"
#include "testutil.h"

static char why[1024];

static int check(const char *path, bool force, const char *input)
{
    sim_input_t in[] = {{input, "the scenario"}};
    int rc = sim_output_check(path, force, in, input ? 1 : 0, why, sizeof why);
    cr_log_info("%s (force %d): %d %s", path, force, rc, why);
    return rc;
}

Test(outfile, an_absent_path_may_be_written)
{
    char *p = tu_tmp_path("absent", ".h5");
    cr_assert_eq(check(p, false, NULL), 0);
    cr_assert_eq(check(p, true, NULL), 0);
    free(p);
}

Test(outfile, an_existing_regular_file_needs_force)
{
    char *p = tu_tmp_path("exists", ".h5"), *in = tu_tmp_path("input", ".yaml");
    cr_assert_eq(tu_write_file(p, "old"), 0);
    cr_assert_eq(tu_write_file(in, "name: x"), 0);
    cr_assert_eq(check(p, false, in), SIM_EEXIST);
    cr_assert(strstr(why, "already exists; use --force to replace it"), "%s", why);
    cr_assert_eq(check(p, true, in), 0);
    unlink(p);
    unlink(in);
    free(p);
    free(in);
}

/* `ragsim run in.yaml -o in.yaml --force` replaced the scenario with its
 * own trace; a hard link to it, or another spelling of its path, is the
 * same file. */
Test(outfile, an_input_is_never_replaced)
{
    char *in = tu_tmp_path("scenario", ".yaml"), *link_ = tu_tmp_path("hardlink", ".h5");
    cr_assert_eq(tu_write_file(in, "name: x"), 0);
    cr_assert_eq(link(in, link_), 0);
    for (int force = 0; force <= 1; force++) {
        cr_assert_eq(check(in, force, in), SIM_EINVAL);
        cr_assert(strstr(why, "it is the scenario, an input of this command"), "%s", why);
        cr_assert_eq(check(link_, force, in), SIM_EINVAL);
        cr_assert(strstr(why, "it is the same file as the scenario"), "%s", why);
    }
    char other[4200];   /* another spelling: DIR/./NAME */
    const char *slash = strrchr(in, '/');
    snprintf(other, sizeof other, "%.*s/./%s", (int)(slash - in), in, slash + 1);
    cr_assert_eq(check(other, true, in), SIM_EINVAL);
    unlink(link_);
    unlink(in);
    free(in);
    free(link_);
}

/* As root, `-o /dev/null --force` replaced /dev/null with an HDF5 file. */
Test(outfile, only_regular_files_are_replaced)
{
    char *dir = tu_tmp_dir("kinds");
    cr_assert_not_null(dir);
    char fifo[4200], sym[4200], sub[4200], sock[4200], target[4200];
    snprintf(fifo, sizeof fifo, "%s/fifo", dir);
    snprintf(sym, sizeof sym, "%s/link", dir);
    snprintf(sub, sizeof sub, "%s/sub", dir);
    snprintf(sock, sizeof sock, "%s/sock", dir);
    snprintf(target, sizeof target, "%s/target", dir);
    cr_assert_eq(mkfifo(fifo, 0644), 0);
    cr_assert_eq(tu_write_file(target, "x"), 0);
    cr_assert_eq(symlink(target, sym), 0);
    cr_assert_eq(mkdir(sub, 0755), 0);
    int s = socket(AF_UNIX, SOCK_STREAM, 0);
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    size_t socklen = strlen(sock);
    bool have_sock = socklen < sizeof a.sun_path;   /* a socket's path is short */
    if (have_sock) {
        memcpy(a.sun_path, sock, socklen + 1);
        cr_assert_eq(bind(s, (struct sockaddr *)&a, sizeof a), 0);
    }
    struct {
        const char *path, *kind;
    } cases[] = {{"/dev/null", "a character device"}, {fifo, "a FIFO"}, {sym, "a symbolic link"},
                 {sub, "a directory"}, {have_sock ? sock : fifo, have_sock ? "a socket" : "a FIFO"}};
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++)
        for (int force = 0; force <= 1; force++) {
            cr_assert_eq(check(cases[i].path, force, NULL), SIM_EINVAL, "%s", cases[i].path);
            char want[128];
            snprintf(want, sizeof want, "it is %s, not a regular file", cases[i].kind);
            cr_assert(strstr(why, want), "%s: %s", cases[i].path, why);
        }
    close(s);
    unlink(sock);
    unlink(fifo);
    unlink(sym);
    unlink(target);
    rmdir(sub);
    rmdir(dir);
    free(dir);
}

/* The commit without --force: each method moves the file when the target
 * is absent and refuses (EEXIST, source left) when it is there. */
Test(outfile, rename_noreplace_by_each_method)
{
    static const char *const names[] = {"any", "renameat2", "link", "excl"};
    for (int m = SIM_RN_ANY; m <= SIM_RN_EXCL; m++) {
        char *from = tu_tmp_path("from", ".tmp"), *to = tu_tmp_path("to", ".h5");
        cr_assert_eq(tu_write_file(from, "new"), 0);
        int rc = sim_rename_noreplace(from, to, m);
        if (rc != 0 && m == SIM_RN_RENAMEAT2 && (errno == EINVAL || errno == ENOSYS || errno == EOPNOTSUPP)) {
            cr_log_info("renameat2(RENAME_NOREPLACE) is not supported here (%s): that method not tested",
                        strerror(errno));
            unlink(from);
            free(from);
            free(to);
            continue;
        }
        cr_assert_eq(rc, 0, "%s: %s", names[m], strerror(errno));
        cr_assert_neq(access(from, F_OK), 0, "%s: the source is gone", names[m]);
        size_t len;
        char *txt = tu_read_file(to, &len);
        cr_assert_str_eq(txt, "new");
        free(txt);
        /* now the target exists */
        cr_assert_eq(tu_write_file(from, "newer"), 0);
        errno = 0;
        cr_assert_eq(sim_rename_noreplace(from, to, m), -1, "%s replaced the target", names[m]);
        cr_assert_eq(errno, EEXIST, "%s: %s", names[m], strerror(errno));
        txt = tu_read_file(to, &len);
        cr_assert_str_eq(txt, "new", "%s: the target was changed", names[m]);
        free(txt);
        txt = tu_read_file(from, &len);
        cr_assert_str_eq(txt, "newer", "%s: the source was lost", names[m]);
        free(txt);
        unlink(from);
        unlink(to);
        free(from);
        free(to);
    }
}

Test(outfile, replace_regular_refuses_anything_else)
{
    char *from = tu_tmp_path("from", ".tmp"), *to = tu_tmp_path("to", ".h5");
    cr_assert_eq(tu_write_file(from, "new"), 0);
    cr_assert_eq(tu_write_file(to, "old"), 0);
    cr_assert_eq(sim_replace_regular(from, to), 0);
    size_t len;
    char *txt = tu_read_file(to, &len);
    cr_assert_str_eq(txt, "new");
    free(txt);
    unlink(to);
    cr_assert_eq(mkfifo(to, 0644), 0);
    cr_assert_eq(tu_write_file(from, "new"), 0);
    cr_assert_eq(sim_replace_regular(from, to), -1);
    cr_assert_eq(errno, EEXIST);
    struct stat st;
    cr_assert(lstat(to, &st) == 0 && S_ISFIFO(st.st_mode), "the FIFO is left");
    unlink(to);
    unlink(from);
    free(from);
    free(to);
}

Test(outfile, a_held_lock_is_refused_with_its_holder)
{
    char *dir = tu_tmp_dir("lock");
    cr_assert_not_null(dir);
    char path[1024];
    snprintf(path, sizeof path, "%s/out.h5.ckpt.lock", dir);
    long holder = -1;
    int fd = sim_lock_take(path, &holder);
    cr_assert_geq(fd, 0, "%s", strerror(errno));
    cr_assert_eq(holder, 0);
    /* another process is refused and told who holds it (the file names
     * its holder; this process must not open it: closing any descriptor of
     * the file would release its lock); a forked child
     * does not inherit the lock (it would otherwise hold it as the -j
     * workers of a killed command) */
    pid_t pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0) {
        long h = 0;
        errno = 0;
        int cfd = sim_lock_take(path, &h);
        _exit(cfd >= 0 ? 1 : errno != EWOULDBLOCK ? 2 : h != (long)getppid() ? 3 : 0);
    }
    int st = 0;
    cr_assert_eq(waitpid(pid, &st, 0), pid);
    cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0,
              "the child was not refused with the holder's pid (%d: 1 it took the lock, 2 another error, 3 another pid)",
              WEXITSTATUS(st));
    /* dropped: the file is gone and the lock can be taken again */
    sim_lock_drop(fd, path);
    cr_assert_neq(access(path, F_OK), 0);
    fd = sim_lock_take(path, &holder);
    cr_assert_geq(fd, 0);
    sim_lock_drop(fd, path);
    free(dir);
}

Test(outfile, a_lock_left_by_a_dead_holder_is_taken_over)
{
    char *dir = tu_tmp_dir("stale");
    cr_assert_not_null(dir);
    char path[1024];
    snprintf(path, sizeof path, "%s/out.h5.ckpt.lock", dir);
    /* a file from a command killed with SIGKILL: no process holds it */
    cr_assert_eq(tu_write_file(path, "99999\n"), 0);
    long holder = -1;
    int fd = sim_lock_take(path, &holder);
    cr_assert_geq(fd, 0, "%s", strerror(errno));
    sim_lock_drop(fd, path);
    cr_assert_neq(access(path, F_OK), 0);
    free(dir);
}

Test(outfile, a_lock_path_that_is_not_a_regular_file_is_refused)
{
    char *dir = tu_tmp_dir("lockdir");
    cr_assert_not_null(dir);
    char path[1024], link[1100];
    snprintf(path, sizeof path, "%s/out.h5.ckpt.lock", dir);
    cr_assert_eq(mkdir(path, 0755), 0);
    long holder;
    errno = 0;
    cr_assert_eq(sim_lock_take(path, &holder), -1);
    cr_assert(errno == EEXIST || errno == EISDIR, "%s", strerror(errno));
    rmdir(path);
    snprintf(link, sizeof link, "%s/elsewhere", dir);
    cr_assert_eq(symlink(link, path), 0);
    errno = 0;
    cr_assert_eq(sim_lock_take(path, &holder), -1);
    cr_assert_eq(errno, EEXIST);
    cr_assert_neq(access(link, F_OK), 0, "the link's target was created");
    unlink(path);
    free(dir);
}
