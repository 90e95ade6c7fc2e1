/* The sweep's checkpoint, OUT.h5.ckpt: a magic, the sweep's hash, then
 * every completed run's result record, appended as it comes (sw_ck_append)
 * so that --resume (sw_ck_open, sw_ck_find) runs only the missing ones.
 * Calls the sweep's internals (sweep_internal.h) and the C library. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "experiment/sweep.h"
#include "experiment/sweep_internal.h"

/* ---- checkpoint -------------------------------------------------------------------- */

static const char ck_magic[8] = {'R', 'G', 'S', 'W', 'C', 'K', 'P', '1'};

int sw_result_cmp(const void *a, const void *b)
{
    return sw_task_cmp(&((const sw_result_t *)a)->task, &((const sw_result_t *)b)->task);
}

/* Open the checkpoint: read it (resume) or start it. Returns 0, 1 (runtime
 * failure, message printed) or 2 (a checkpoint of another sweep). */
int sw_ck_open(master_t *m, uint64_t hash)
{
    if (m->o->resume) {
        FILE *f = fopen(m->ckpath, "rb");
        if (!f) {
            if (errno != ENOENT) {
                fprintf(m->err, "ragsim: error: cannot read %s: %s\n", m->ckpath, strerror(errno));
                return 1;
            }
            fprintf(m->err, "ragsim: note: no checkpoint %s: starting from the beginning\n", m->ckpath);
        } else {
            char magic[8];
            uint64_t h = 0;
            if (fread(magic, 1, 8, f) != 8 || memcmp(magic, ck_magic, 8) != 0 || fread(&h, 8, 1, f) != 1) {
                fprintf(m->err, "ragsim: error: %s is not a sweep checkpoint\n", m->ckpath);
                fclose(f);
                return 2;
            }
            if (h != hash) {
                fprintf(m->err,
                        "ragsim: error: %s belongs to a different sweep (the sweep file, its scenario "
                        "overrides, seed, replications, variants or --find differ); remove it or run without --resume\n",
                        m->ckpath);
                fclose(f);
                return 2;
            }
            size_t cap = 0;
            for (;;) {
                if (m->nck == cap) {
                    cap = cap ? 2 * cap : 64;
                    sw_result_t *p = realloc(m->ck, cap * sizeof *p);
                    if (!p) {
                        fclose(f);
                        fprintf(m->err, "ragsim: error: out of memory reading %s\n", m->ckpath);
                        return 1;
                    }
                    m->ck = p;
                }
                if (fread(&m->ck[m->nck], sizeof *m->ck, 1, f) != 1) break;   /* end, or a torn last record */
                const sw_result_t *r = &m->ck[m->nck];
                if (r->status == 0 && r->task.variant < m->def->nvariants &&
                    r->task.rep < (uint32_t)m->def->replications && r->task.point < m->def->npoints &&
                    r->nmetrics <= SW_MAX_METRICS)
                    m->nck++;
            }
            fclose(f);
            qsort(m->ck, m->nck, sizeof *m->ck, sw_result_cmp);
        }
    }
    /* rewrite the checkpoint with the records kept, then append */
    char *tmp = malloc(strlen(m->ckpath) + 8);
    if (!tmp) return 1;
    sprintf(tmp, "%s.new", m->ckpath);
    m->ckf = fopen(tmp, "wb");
    if (!m->ckf || fwrite(ck_magic, 1, 8, m->ckf) != 8 || fwrite(&hash, 8, 1, m->ckf) != 1 ||
        (m->nck && fwrite(m->ck, sizeof *m->ck, m->nck, m->ckf) != m->nck) || fflush(m->ckf) != 0 ||
        rename(tmp, m->ckpath) != 0) {
        fprintf(m->err, "ragsim: error: cannot write the checkpoint %s: %s\n", m->ckpath, strerror(errno));
        if (m->ckf) fclose(m->ckf);
        m->ckf = NULL;
        unlink(tmp);
        free(tmp);
        return 1;
    }
    free(tmp);
    return 0;
}

void sw_ck_append(master_t *m, const sw_result_t *r)
{
    if (!m->ckf || m->ck_failed) return;
    if (fwrite(r, sizeof *r, 1, m->ckf) != 1 || fflush(m->ckf) != 0) {
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
