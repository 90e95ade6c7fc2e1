/* Output files (outfile.h): the check of an output path before a command
 * runs, and the moves of a finished file into place (without replacing
 * anything, or replacing only a regular file). May call: the C library and
 * Linux system calls. */
#define _GNU_SOURCE
#include "outfile.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "error.h"

#ifndef RENAME_NOREPLACE
#define RENAME_NOREPLACE (1 << 0)
#endif

const char *sim_file_kind(unsigned mode)
{
    switch (mode & S_IFMT) {
    case S_IFREG: return "a regular file";
    case S_IFDIR: return "a directory";
    case S_IFCHR: return "a character device";
    case S_IFBLK: return "a block device";
    case S_IFIFO: return "a FIFO";
    case S_IFSOCK: return "a socket";
    case S_IFLNK: return "a symbolic link";
    default: return "not a regular file";
    }
}

int sim_output_check(const char *path, bool force, const sim_input_t *inputs, size_t ninputs, char *why,
                     size_t whylen)
{
    struct stat st;
    if (why && whylen) why[0] = 0;
    if (lstat(path, &st) != 0) return 0;   /* absent (or unreachable: creating it will say why) */
    /* an input, however it is spelled (the scenario itself, a hard link to it) */
    for (size_t i = 0; i < ninputs; i++) {
        struct stat in;
        if (!inputs[i].path || stat(inputs[i].path, &in) != 0) continue;
        if (in.st_dev == st.st_dev && in.st_ino == st.st_ino) {
            if (strcmp(inputs[i].path, path) == 0)
                snprintf(why, whylen, "refusing to write %s: it is %s, an input of this command; "
                                      "give the output another name (-o FILE)", path, inputs[i].what);
            else
                snprintf(why, whylen, "refusing to write %s: it is the same file as %s %s, an input of this "
                                      "command; give the output another name (-o FILE)", path, inputs[i].what,
                         inputs[i].path);
            return SIM_EINVAL;
        }
    }
    if (!S_ISREG(st.st_mode)) {
        snprintf(why, whylen, "refusing to write %s: it is %s, not a regular file (ragsim replaces only "
                              "regular files, even with --force); give the output another name (-o FILE)",
                 path, sim_file_kind(st.st_mode));
        return SIM_EINVAL;
    }
    if (!force) {
        snprintf(why, whylen, "%s already exists; use --force to replace it (or -o another file)", path);
        return SIM_EEXIST;
    }
    return 0;
}

static int rename_link_(const char *from, const char *to)
{
    if (link(from, to) != 0) return -1;
    /* both names are the file now; the temporary one goes */
    if (unlink(from) != 0) {
        int e = errno;
        unlink(to);
        errno = e;
        return -1;
    }
    return 0;
}

static int rename_excl_(const char *from, const char *to)
{
    int fd = open(to, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0) return -1;
    close(fd);
    /* the name is ours (an empty claim): replace the claim */
    if (rename(from, to) != 0) {
        int e = errno;
        unlink(to);
        errno = e;
        return -1;
    }
    return 0;
}

static bool unsupported_(int e) { return e == EINVAL || e == ENOSYS || e == EOPNOTSUPP || e == ENOTSUP; }

int sim_rename_noreplace(const char *from, const char *to, int method)
{
    if (method == SIM_RN_ANY || method == SIM_RN_RENAMEAT2) {
#ifdef SYS_renameat2
        if (syscall(SYS_renameat2, AT_FDCWD, from, AT_FDCWD, to, RENAME_NOREPLACE) == 0) return 0;
        if (method != SIM_RN_ANY || !unsupported_(errno)) return -1;
#else
        if (method == SIM_RN_RENAMEAT2) {
            errno = ENOSYS;
            return -1;
        }
#endif
    }
    if (method == SIM_RN_ANY || method == SIM_RN_LINK) {
        if (rename_link_(from, to) == 0) return 0;
        /* no hard links here (EPERM on some file systems, ENOTSUP, EMLINK...) */
        if (method != SIM_RN_ANY || errno == EEXIST || errno == ENOENT || errno == EACCES || errno == ENOSPC ||
            errno == EDQUOT || errno == EROFS)
            return -1;
    }
    return rename_excl_(from, to);
}

int sim_replace_regular(const char *from, const char *to)
{
    struct stat st;
    if (lstat(to, &st) == 0 && !S_ISREG(st.st_mode)) {
        errno = EEXIST;
        return -1;
    }
    return rename(from, to);
}

int sim_write_file(const char *path, bool force, int (*fill)(FILE *f, void *ctx), void *ctx, char *why,
                   size_t whylen)
{
    size_t n = strlen(path) + 16;
    char *tmp = malloc(n);
    if (!tmp) {
        snprintf(why, whylen, "out of memory writing %s", path);
        return -1;
    }
    snprintf(tmp, n, "%s.tmp-XXXXXX", path);
    int fd = mkstemp(tmp);
    if (fd < 0) {
        snprintf(why, whylen, "cannot write %s: %s", path, strerror(errno));
        free(tmp);
        return -1;
    }
    FILE *f = fdopen(fd, "w");
    if (!f) {
        snprintf(why, whylen, "cannot write %s: %s", path, strerror(errno));
        close(fd);
        unlink(tmp);
        free(tmp);
        return -1;
    }
    errno = 0;
    int rc = fill(f, ctx) != 0 ? -1 : 0;
    int e = errno ? errno : EIO;
    if (fflush(f) != 0 || ferror(f) || fsync(fileno(f)) != 0) {
        if (rc == 0) e = errno ? errno : EIO;
        rc = -1;
    }
    if (fclose(f) != 0 && rc == 0) {
        rc = -1;
        e = errno;
    }
    if (rc == 0 && (force ? sim_replace_regular(tmp, path) : sim_rename_noreplace(tmp, path, SIM_RN_ANY)) != 0) {
        rc = -1;
        e = errno;
        if (e == EEXIST) {
            snprintf(why, whylen, force ? "%s is no longer a regular file; not replaced"
                                        : "%s appeared while the command ran; not replaced (use --force to replace it)",
                     path);
            rc = -2;
        }
    }
    if (rc == -1) snprintf(why, whylen, "writing %s failed: %s", path, strerror(e));
    if (rc != 0) unlink(tmp);
    free(tmp);
    return rc;
}

/* ---- one command per output ------------------------------------------------------- */

int sim_lock_take(const char *path, long *holder)
{
    *holder = 0;
    for (int tries = 0; tries < 100; tries++) {
        int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK, 0644);
        if (fd < 0) {
            if (errno == ELOOP) errno = EEXIST;   /* a symbolic link */
            return -1;
        }
        struct stat fs, ps;
        if (fstat(fd, &fs) != 0 || !S_ISREG(fs.st_mode)) {
            close(fd);
            errno = EEXIST;
            return -1;
        }
        struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET};   /* the whole file */
        if (fcntl(fd, F_SETLK, &fl) != 0) {
            int e = errno == EACCES ? EWOULDBLOCK : errno;
            char buf[32] = {0};
            if (e == EWOULDBLOCK && pread(fd, buf, sizeof buf - 1, 0) > 0) *holder = strtol(buf, NULL, 10);
            close(fd);
            errno = e;
            return -1;
        }
        /* the holder before us may have removed the file between our open
         * and our lock: then the lock is on a file nobody else will find */
        if (stat(path, &ps) != 0 || ps.st_dev != fs.st_dev || ps.st_ino != fs.st_ino) {
            close(fd);
            continue;
        }
        char buf[32];
        int n = snprintf(buf, sizeof buf, "%ld\n", (long)getpid());
        if (ftruncate(fd, 0) != 0 || pwrite(fd, buf, (size_t)n, 0) != n) {
            /* the lock holds without the pid: only the message loses it */
        }
        return fd;
    }
    errno = EAGAIN;
    return -1;
}

void sim_lock_drop(int fd, const char *path)
{
    if (fd < 0) return;
    unlink(path);   /* while locked: a command waiting on this file retries on a new one */
    close(fd);
}
