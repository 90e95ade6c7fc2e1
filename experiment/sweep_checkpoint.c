/* The sweep's checkpoint, OUT.h5.ckpt: a header with the sweep's hash,
 * then every completed run's result record with its checksum, appended as
 * it comes (sw_ck_append) so that --resume (sw_ck_open, sw_ck_find) runs
 * only the missing ones; a checkpoint of another sweep, or a corrupted
 * one, is refused. Calls the sweep's internals (sweep_internal.h), sim/
 * (rng's splitmix64, outfile) and the C library. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "experiment/sweep.h"
#include "experiment/sweep_internal.h"
#include "sim/outfile.h"
#include "sim/rng.h"

/* ---- checkpoint --------------------------------------------------------------------

   The file: a header of 24 bytes, then one entry per completed run:

     header  magic "RGSWCKP2" | the sweep's hash (8 bytes) | sum of the 16 bytes before
     entry   the result record (sizeof(sw_result_t) bytes) | sum of the record

   (integers in the machine's byte order: a checkpoint is read back by the
   ragsim that wrote it). A sum is FNV-1a over the bytes, started from the
   sweep's hash, through splitmix64: any change of one byte changes it. A
   short last entry is an append cut short (a kill, a power cut) and is
   dropped; any other entry whose sum does not match, or a header that does
   not, makes the checkpoint corrupted, and it is refused. */

static const char ck_magic[8] = {'R', 'G', 'S', 'W', 'C', 'K', 'P', '2'};
#define CK_HEADER 24

static uint64_t ck_sum(uint64_t seed, const void *p, size_t n)
{
    const unsigned char *b = p;
    uint64_t h = 0xCBF29CE484222325ull ^ seed;
    for (size_t i = 0; i < n; i++) {
        h ^= b[i];
        h *= 0x100000001B3ull;
    }
    return sim_rng_sm64(h);
}

int sw_result_cmp(const void *a, const void *b)
{
    return sw_task_cmp(&((const sw_result_t *)a)->task, &((const sw_result_t *)b)->task);
}

/* The header for `hash`. */
static void ck_header(uint64_t hash, unsigned char *h)
{
    memcpy(h, ck_magic, 8);
    memcpy(h + 8, &hash, 8);
    uint64_t sum = ck_sum(0, h, 16);
    memcpy(h + 16, &sum, 8);
}

/* The command whose checkpoint this is, in messages. */
static const char *ck_command(const master_t *m) { return m->o && m->o->command ? m->o->command : "sweep"; }

/* Read the checkpoint into m->ck: 0, or 1 / 2 after printing why. */
static int ck_read(master_t *m, FILE *f, uint64_t hash)
{
    unsigned char h[CK_HEADER];
    size_t got = fread(h, 1, CK_HEADER, f);
    if (got < 8 || memcmp(h, ck_magic, 7) != 0) {
        fprintf(m->err, "ragsim: error: %s is not a %s checkpoint; remove it or run without --resume\n", m->ckpath,
                ck_command(m));
        return 2;
    }
    if (h[7] != (unsigned char)ck_magic[7]) {
        fprintf(m->err, "ragsim: error: %s was written by another version of ragsim; remove it or run without "
                        "--resume\n", m->ckpath);
        return 2;
    }
    uint64_t fhash, fsum;
    memcpy(&fhash, h + 8, 8);
    memcpy(&fsum, h + 16, 8);
    if (got < CK_HEADER || fsum != ck_sum(0, h, 16)) {
        fprintf(m->err, "ragsim: error: %s is corrupted (its header fails its checksum); remove it to start the "
                        "%s again\n", m->ckpath, ck_command(m));
        return 2;
    }
    if (fhash != hash) {
        const char *cmd = ck_command(m);
        fprintf(m->err,
                "ragsim: error: %s belongs to a different %s (the %s, the overrides, seed, replications, "
                "variants or options differ); remove it or run without --resume\n",
                m->ckpath, cmd, m->o && m->o->what ? m->o->what : "sweep file, its base scenario");
        return 2;
    }
    size_t cap = 0, entry = 0;
    for (;;) {
        if (m->nck == cap) {
            cap = cap ? 2 * cap : 64;
            sw_result_t *p = realloc(m->ck, cap * sizeof *p);
            if (!p) {
                fprintf(m->err, "ragsim: error: out of memory reading %s\n", m->ckpath);
                return 1;
            }
            m->ck = p;
        }
        sw_result_t *r = &m->ck[m->nck];
        uint64_t sum = 0;
        size_t n = fread(r, 1, sizeof *r, f);
        if (n == sizeof *r) n += fread(&sum, 1, sizeof sum, f);
        if (n == 0) break;
        entry++;
        if (n < sizeof *r + sizeof sum) {
            /* the end of the file: the last append was cut short, and that run is run again */
            fprintf(m->err, "ragsim: note: %s ends with an incomplete record (an append cut short): that run "
                            "is run again\n", m->ckpath);
            break;
        }
        if (sum != ck_sum(hash, r, sizeof *r) || r->status != 0 || r->task.variant >= m->def->nvariants ||
            r->task.rep >= (uint32_t)m->def->replications || r->task.point >= m->def->npoints ||
            r->nmetrics > SW_MAX_METRICS) {
            fprintf(m->err, "ragsim: error: %s is corrupted (record %zu fails its checksum); remove it to start the "
                            "sweep again\n", m->ckpath, entry);
            return 2;
        }
        m->nck++;
    }
    if (ferror(f)) {
        fprintf(m->err, "ragsim: error: cannot read %s: %s\n", m->ckpath, strerror(errno));
        return 1;
    }
    qsort(m->ck, m->nck, sizeof *m->ck, sw_result_cmp);
    /* one record per run (the same run twice is possible after a resume of a resume) */
    size_t k = 0;
    for (size_t i = 0; i < m->nck; i++)
        if (k == 0 || sw_task_cmp(&m->ck[k - 1].task, &m->ck[i].task) != 0) m->ck[k++] = m->ck[i];
    m->nck = k;
    return 0;
}

/* Open the checkpoint: read it (resume) or start it. Returns 0, 1 (runtime
 * failure, message printed) or 2 (a checkpoint of another sweep, or a
 * corrupted one). */
int sw_ck_open(master_t *m, uint64_t hash)
{
    m->ck_hash = hash;
    if (m->o->resume) {
        FILE *f = fopen(m->ckpath, "rb");
        if (!f) {
            if (errno != ENOENT) {
                fprintf(m->err, "ragsim: error: cannot read %s: %s\n", m->ckpath, strerror(errno));
                return 1;
            }
            fprintf(m->err, "ragsim: note: no checkpoint %s: starting from the beginning\n", m->ckpath);
        } else {
            int rc = ck_read(m, f, hash);
            fclose(f);
            if (rc) return rc;
        }
    }
    /* rewrite the checkpoint with the records kept, then append: a file we
     * create (a stale one of ours is replaced), renamed onto the checkpoint
     * only if that is a regular file or absent */
    char *tmp = malloc(strlen(m->ckpath) + 8);
    if (!tmp) {
        fprintf(m->err, "ragsim: error: out of memory\n");
        return 1;
    }
    sprintf(tmp, "%s.new", m->ckpath);
    unsigned char h[CK_HEADER];
    ck_header(hash, h);
    struct stat st;
    if (lstat(tmp, &st) == 0 && S_ISREG(st.st_mode)) unlink(tmp);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    m->ckf = fd >= 0 ? fdopen(fd, "wb") : NULL;
    if (fd >= 0 && !m->ckf) close(fd);
    bool ok = m->ckf && fwrite(h, 1, CK_HEADER, m->ckf) == CK_HEADER;
    for (size_t i = 0; ok && i < m->nck; i++) {
        uint64_t sum = ck_sum(hash, &m->ck[i], sizeof m->ck[i]);
        ok = fwrite(&m->ck[i], sizeof m->ck[i], 1, m->ckf) == 1 && fwrite(&sum, sizeof sum, 1, m->ckf) == 1;
    }
    if (!ok || fflush(m->ckf) != 0 || sim_replace_regular(tmp, m->ckpath) != 0) {
        int e = errno;
        fprintf(m->err, "ragsim: error: cannot write the checkpoint %s: %s\n", m->ckpath,
                e == EEXIST ? "it is not a regular file" : strerror(e));
        if (m->ckf) fclose(m->ckf);
        m->ckf = NULL;
        if (fd >= 0) unlink(tmp);
        free(tmp);
        return 1;
    }
    free(tmp);
    return 0;
}

void sw_ck_append(master_t *m, const sw_result_t *r)
{
    if (!m->ckf || m->ck_failed) return;
    uint64_t sum = ck_sum(m->ck_hash, r, sizeof *r);
    if (fwrite(r, sizeof *r, 1, m->ckf) != 1 || fwrite(&sum, sizeof sum, 1, m->ckf) != 1 || fflush(m->ckf) != 0) {
        fprintf(m->err, "ragsim: warning: cannot append to the checkpoint %s: %s (--resume will redo runs)\n",
                m->ckpath, strerror(errno));
        m->ck_failed = true;
    }
}

const sw_result_t *sw_ck_find(const master_t *m, const sw_task_t *t)
{
    size_t lo = 0, hi = m->nck;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        int c = sw_task_cmp(&m->ck[mid].task, t);
        if (c == 0) return &m->ck[mid];
        if (c < 0) lo = mid + 1;
        else hi = mid;
    }
    return NULL;
}
