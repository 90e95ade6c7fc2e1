#include "testutil.h"

#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "sim/sim.h"

static char *slurp_fd(int fd)
{
    size_t cap = 4096, len = 0;
    char *buf = malloc(cap);
    for (;;) {
        if (len + 1 >= cap) {
            cap *= 2;
            buf = realloc(buf, cap);
        }
        ssize_t k = read(fd, buf + len, cap - len - 1);
        if (k < 0 && errno == EINTR) continue;
        if (k <= 0) break;
        len += (size_t)k;
    }
    buf[len] = '\0';
    return buf;
}

/* Read both pipes to their ends (poll: neither side blocks the other). */
static void drain_(int ofd, int efd, char **out, char **err)
{
    char *buf[2] = {NULL, NULL};
    size_t len[2] = {0, 0}, cap[2] = {0, 0};
    int fds[2] = {ofd, efd};
    int open_ = 2;
    while (open_ > 0) {
        struct pollfd pf[2];
        int n = 0, which[2];
        for (int i = 0; i < 2; i++)
            if (fds[i] >= 0) {
                pf[n] = (struct pollfd){.fd = fds[i], .events = POLLIN};
                which[n++] = i;
            }
        if (poll(pf, (nfds_t)n, -1) < 0) {
            if (errno == EINTR) continue;
            break;
        }
        for (int j = 0; j < n; j++) {
            if (!(pf[j].revents & (POLLIN | POLLHUP | POLLERR))) continue;
            int i = which[j];
            if (len[i] + 4096 + 1 > cap[i]) {
                cap[i] = cap[i] ? 2 * cap[i] : 8192;
                buf[i] = realloc(buf[i], cap[i]);
            }
            ssize_t k = read(fds[i], buf[i] + len[i], cap[i] - len[i] - 1);
            if (k < 0 && errno == EINTR) continue;
            if (k <= 0) {
                close(fds[i]);
                fds[i] = -1;
                open_--;
            } else {
                len[i] += (size_t)k;
            }
        }
    }
    for (int i = 0; i < 2; i++) {
        if (!buf[i]) buf[i] = malloc(1);
        buf[i][len[i]] = '\0';
    }
    *out = buf[0];
    *err = buf[1];
}

static tu_run_t run_(const char *const *argv, int resource, unsigned long long limit)
{
    tu_run_t r = {-1, NULL, NULL, 0, 0};
    /* pipes, not files: a file-size limit must not cut what the child says */
    int op[2], ep[2];
    if (pipe(op) != 0) return r;
    if (pipe(ep) != 0) {
        close(op[0]);
        close(op[1]);
        return r;
    }
    pid_t pid = fork();
    if (pid == 0) {
        int nul = open("/dev/null", O_RDONLY);
        dup2(nul, 0);
        dup2(op[1], 1);
        dup2(ep[1], 2);
        close(op[0]);
        close(ep[0]);
        if (resource >= 0) {
            /* the limit as `ulimit` sets it, with every signal at its default
             * disposition (SIGXFSZ kills, unless the program ignores it) */
            for (int sig = 1; sig < NSIG; sig++) signal(sig, SIG_DFL);
            sigset_t none;
            sigemptyset(&none);
            sigprocmask(SIG_SETMASK, &none, NULL);
            struct rlimit rl = {(rlim_t)limit, (rlim_t)limit};
            if (setrlimit(resource, &rl) != 0) _exit(126);
        }
        execv(argv[0], (char *const *)argv);
        _exit(127);
    }
    close(op[1]);
    close(ep[1]);
    drain_(op[0], ep[0], &r.out, &r.err);
    int st = 0;
    struct rusage ru = {0};
    while (wait4(pid, &st, 0, &ru) < 0 && errno == EINTR) {}
    r.status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
    r.signal = WIFSIGNALED(st) ? WTERMSIG(st) : 0;
    r.maxrss_kib = ru.ru_maxrss;
    return r;
}

tu_run_t tu_run(const char *const *argv) { return run_(argv, -1, 0); }

tu_run_t tu_run_limited(const char *const *argv, int resource, unsigned long long limit)
{
    return run_(argv, resource, limit);
}

void tu_run_free(tu_run_t *r)
{
    free(r->out);
    free(r->err);
    r->out = r->err = NULL;
}

char *tu_tmp_path(const char *stem, const char *ext)
{
    static unsigned counter;
    char buf[4096];
    snprintf(buf, sizeof buf, "%s/%s-%ld-%u%s", RAGSIM_TEST_TMPDIR, stem, (long)getpid(),
             counter++, ext);
    unlink(buf);
    return strdup(buf);
}

char *tu_tmp_dir(const char *stem)
{
    char *dir = tu_tmp_path(stem, "");
    if (dir && mkdir(dir, 0755) != 0) {
        free(dir);
        return NULL;
    }
    return dir;
}

int tu_write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "wb");
    if (!f) return -1;
    size_t n = strlen(text);
    int ok = fwrite(text, 1, n, f) == n;
    return (fclose(f) == 0 && ok) ? 0 : -1;
}

char *tu_read_file(const char *path, size_t *len)
{
    int fd = open(path, O_RDONLY);
    if (fd < 0) return NULL;
    char *s = slurp_fd(fd);
    close(fd);
    if (len) *len = strlen(s);
    return s;
}

const char *tu_src(const char *rel)
{
    static char buf[4096];
    snprintf(buf, sizeof buf, "%s/%s", RAGSIM_SOURCE_DIR, rel);
    return buf;
}

/* `nobody` must be able to execute the program: a build tree under /root
 * (mode 700, as on a fresh machine where the clone is in root's home) is
 * closed to it. Run it from a copy in a fresh directory under /tmp, made
 * once per process and removed at exit. NULL on failure. */
static char nobody_dir[64], nobody_exe[128];

static void remove_nobody_copy(void)
{
    unlink(nobody_exe);
    rmdir(nobody_dir);
}

static const char *exe_for_nobody(const char *exe)
{
    if (nobody_exe[0]) return nobody_exe;
    snprintf(nobody_dir, sizeof nobody_dir, "/tmp/ragsim-test-XXXXXX");
    if (!mkdtemp(nobody_dir) || chmod(nobody_dir, 0755) != 0) return NULL;
    snprintf(nobody_exe, sizeof nobody_exe, "%s/ragsim", nobody_dir);
    int in = open(exe, O_RDONLY), fd = open(nobody_exe, O_WRONLY | O_CREAT | O_EXCL, 0755);
    bool ok = in >= 0 && fd >= 0;
    char buf[65536];
    for (ssize_t n; ok && (n = read(in, buf, sizeof buf)) != 0;)
        ok = n > 0 && write(fd, buf, (size_t)n) == n;
    if (in >= 0) close(in);
    if (fd >= 0) close(fd);
    atexit(remove_nobody_copy);
    if (!ok) {
        nobody_exe[0] = '\0';
        return NULL;
    }
    return nobody_exe;
}

pid_t tu_spawn(char *const *argv, const char *errfile, unsigned watchdog_s, bool drop)
{
    const char *exe = argv[0];
    if (drop && geteuid() == 0 && !(exe = exe_for_nobody(argv[0]))) return -1;
    pid_t pid = fork();
    if (pid == 0) {
        int nul = open("/dev/null", O_RDWR);
        int ef = open(errfile, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        dup2(nul, 0);
        dup2(nul, 1);
        dup2(ef, 2);
        if (drop && geteuid() == 0 && (setgid(65534) != 0 || setuid(65534) != 0)) _exit(126);
        alarm(watchdog_s);   /* a watchdog, not a measurement */
        execv(exe, argv);
        _exit(127);
    }
    return pid;
}

int tu_wait(pid_t pid)
{
    if (pid < 0) return 125 << 8;   /* nothing started: reads as exit status 125 */
    int st = 0;
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {}
    return st;
}

int tu_wait_rss(pid_t pid, long *maxrss_kib)
{
    *maxrss_kib = 0;
    if (pid < 0) return 125 << 8;
    int st = 0;
    struct rusage ru = {0};
    while (wait4(pid, &st, 0, &ru) < 0 && errno == EINTR) {}
    *maxrss_kib = ru.ru_maxrss;
    return st;
}

struct sim *tu_sim(uint64_t seed)
{
    sim_config_t cfg = {.master_seed = seed};
    sim_t *s = sim_create(&cfg);
    cr_assert_not_null(s);
    return s;
}
