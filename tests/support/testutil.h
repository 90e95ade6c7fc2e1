/* Helpers shared by the test suites. */
#ifndef RAGSIM_TESTUTIL_H
#define RAGSIM_TESTUTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Result of running a command: exit status (-1 if killed), captured streams. */
typedef struct {
    int status;
    char *out;   /* stdout, NUL-terminated, owned */
    char *err;   /* stderr, NUL-terminated, owned */
    int signal;  /* the signal that killed it, 0 if it exited */
    long maxrss_kib;   /* its peak resident memory (getrusage's ru_maxrss) */
} tu_run_t;

/* Run `argv` (argv[0] is a path) with stdin from /dev/null; capture output. */
tu_run_t tu_run(const char *const *argv);
/* The same with a resource limit set in the child before the exec
 * (setrlimit(resource, {limit, limit}): RLIMIT_FSIZE, RLIMIT_AS ...), as
 * `ulimit` would, and every signal at its default disposition. */
tu_run_t tu_run_limited(const char *const *argv, int resource, unsigned long long limit);
void tu_run_free(tu_run_t *r);

/* Start `argv` (argv[0] is a path) with stdin and stdout on /dev/null and
 * stderr to `errfile`; a watchdog (SIGALRM after watchdog_s seconds) turns a
 * hang into a signal. As `nobody` when `drop` is set and we are root (so
 * that file permissions apply), from a copy of argv[0] in a directory under
 * /tmp that nobody can reach (a clone under /root is closed to it).
 * Returns the pid (-1: fork or the copy failed). */
pid_t tu_spawn(char *const *argv, const char *errfile, unsigned watchdog_s, bool drop);
/* Wait for `pid` (retried on EINTR); the raw wait status (exit status 125
 * when pid < 0: nothing was started). */
int tu_wait(pid_t pid);
/* The same, with the child's peak resident memory in KiB (ru_maxrss). */
int tu_wait_rss(pid_t pid, long *maxrss_kib);

/* Path of a fresh file name in the test temp directory (not created). Static buffer per call site is not kept: caller owns the returned string (free). */
char *tu_tmp_path(const char *stem, const char *ext);

/* A fresh directory (mode 0755) in the test temp directory: its path
 * (caller frees), or NULL if it cannot be made. */
char *tu_tmp_dir(const char *stem);

/* Write a string to a file (whole file); returns 0 on success. */
int tu_write_file(const char *path, const char *text);

/* Read a whole file; NULL if unreadable. Caller frees. */
char *tu_read_file(const char *path, size_t *len);

/* Path relative to the source tree (static storage, overwritten by the next call). */
const char *tu_src(const char *rel);

/* An engine with master seed `seed` and nothing else configured (fails the
 * test if it cannot be made). */
struct sim;
struct sim *tu_sim(uint64_t seed);

/* Whether the test program is built with AddressSanitizer (the sanitizer
 * build, RAGSIM_SANITIZE=ON, compiles the tests with the same flags). The
 * suites of a figure over many long runs (the incident's band, determinism
 * of every scenario) run fewer of those runs there: the sanitizers need the
 * code paths, which the fewer runs go through, not the figure, which the
 * release suite checks in full (docs/internals/testing.md). */
#if defined(__SANITIZE_ADDRESS__)
#define TU_SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define TU_SANITIZED 1
#endif
#endif
#ifndef TU_SANITIZED
#define TU_SANITIZED 0
#endif

#endif
