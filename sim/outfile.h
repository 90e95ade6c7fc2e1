/* Output files: what a command may replace, and how a finished file takes
 * its place.
 *
 * Every command that writes a file writes it under a temporary name and
 * moves it onto the path asked for only when it is complete. Before
 * anything runs, sim_output_check() decides whether that path may be
 * written at all:
 *   - a path that does not exist may be written;
 *   - an existing path is refused unless `force` is given ("OUT already
 *     exists; use --force to replace it"), and even with `force` it must be
 *     a regular file (not a device, a FIFO, a socket, a directory or a
 *     symbolic link) that is none of the command's inputs (compared by
 *     device and inode, so a hard link or another spelling of an input is
 *     caught too).
 * At the end, sim_rename_noreplace() moves the finished file into place
 * only if nothing has appeared there in the meantime (without `force`),
 * and sim_replace_regular() replaces only a regular file (with `force`).
 *
 * May call: the C library and Linux system calls. */
#ifndef SIM_OUTFILE_H
#define SIM_OUTFILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

/* An input of the command: its path and what it is for messages ("the
 * scenario", "the sweep file", "the sweep's base scenario", "the trace"). */
typedef struct sim_input {
    const char *path;
    const char *what;
} sim_input_t;

/* May `path` be written? 0 yes; otherwise SIM_EEXIST (it exists and `force`
 * was not given) or SIM_EINVAL (it is not a regular file, or it is one of
 * the inputs), with the whole message in why ("out.h5 already exists; use
 * --force to replace it (or -o another file)"). Inputs that cannot be
 * stat'ed are skipped (they were read, or the command has failed before). */
int sim_output_check(const char *path, bool force, const sim_input_t *inputs, size_t ninputs, char *why,
                     size_t whylen);

/* How sim_rename_noreplace moves a file: the first that works, in order
 * (SIM_RN_ANY), or only the one given (tests). */
enum {
    SIM_RN_ANY = 0,
    SIM_RN_RENAMEAT2 = 1,   /* renameat2(RENAME_NOREPLACE): atomic */
    SIM_RN_LINK = 2,        /* link() then unlink(): atomic, needs hard links */
    SIM_RN_EXCL = 3,        /* claim the name with O_CREAT|O_EXCL, then rename() over the claim */
};

/* Move `from` to `to` unless `to` exists: 0, or -1 with errno (EEXIST when
 * `to` exists; `from` is then left where it was). Tries renameat2 with
 * RENAME_NOREPLACE, then, where the file system does not support it
 * (EINVAL, ENOSYS, EOPNOTSUPP), link() + unlink(), then, where it has no
 * hard links, claiming the name with O_CREAT|O_EXCL and renaming over the
 * claim. `method` restricts it to one of them (SIM_RN_ANY: all). */
int sim_rename_noreplace(const char *from, const char *to, int method);

/* Move `from` onto `to`, which may exist only as a regular file: 0, or -1
 * with errno (EEXIST when `to` is something else: a directory, a device, a
 * FIFO, a socket, a symbolic link). */
int sim_replace_regular(const char *from, const char *to);

/* Write a file the way every command does: fill(f, ctx) writes the
 * contents into a temporary file beside `path`, which is then synced and
 * moved onto `path` (sim_rename_noreplace without force,
 * sim_replace_regular with it). fill returns 0 or nonzero on failure.
 * Returns 0; -1 a write failed or fill failed; -2 `path` appeared
 * meanwhile (without force) or is no longer a regular file; why says.
 * The temporary file never outlives the call. */
int sim_write_file(const char *path, bool force, int (*fill)(FILE *f, void *ctx), void *ctx, char *why,
                   size_t whylen);

/* One command at a time per output. A command that keeps a checkpoint
 * beside its output (OUT.h5.ckpt) first takes an exclusive lock on
 * `path` (OUT.h5.ckpt.lock: created, holding the holder's pid) and keeps
 * it until it ends; a second command with the same output would otherwise
 * share the checkpoint and spoil both. sim_lock_take: the lock's file
 * descriptor (>= 0), or -1 with errno: EWOULDBLOCK when another process
 * holds it (its pid in *holder, 0 if unknown), EEXIST when `path` is not
 * a regular file, or what open() said. The kernel drops the lock when its
 * holder dies, however it dies: a lock file left by a killed command is
 * taken over. sim_lock_drop removes the file and releases the lock (fd < 0:
 * nothing). The lock is a POSIX record lock (fcntl F_SETLK): it belongs to
 * the process that took it, and forked children (-j workers) do not
 * inherit it, so a worker outliving a killed command holds nothing. The
 * process must not open and close `path` elsewhere (closing any descriptor
 * of the file would release the lock). */
int sim_lock_take(const char *path, long *holder);
void sim_lock_drop(int fd, const char *path);

/* "a regular file", "a directory", "a character device", "a block device",
 * "a FIFO", "a socket", "a symbolic link" for an lstat mode. */
const char *sim_file_kind(unsigned mode);

#endif
