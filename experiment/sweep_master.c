/* `ragsim sweep`: the master (hand-out, checkpoint, bisection), the
 * capacity answers and the output file (see sweep.h, docs/sweeps.md). */
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "experiment/sweep.h"
#include "sim/error.h"
#include "sim/stats.h"
#include "sim/trace.h"

const char sw_usage[] =
    "usage: ragsim sweep SWEEP.yaml [-o OUT.h5] [-j N] [--resume] [--find max-load]\n"
    "                    [--reps N] [--seed N] [--set KEY=VALUE]... [--force] [-q]\n"
    "\n"
    "Run a scenario over a grid of parameter values (capacity planning). The sweep\n"
    "file names the base scenario, the axes (scenario paths with a list of values,\n"
    "a linear range {from, to, step} or a log range {from, to, points}), the variants\n"
    "and the replications: see docs/sweeps.md. Every (point, variant, replication) is\n"
    "an independent run seeded from (master seed, point, replication), so the output\n"
    "does not depend on -j, on the number of MPI ranks or on the order of the runs.\n"
    "\n"
    "options:\n"
    "  -o, --output OUT.h5   output (default: SWEEP's stem + .h5 in the current directory),\n"
    "                        written to a temporary file and renamed when complete;\n"
    "                        an existing file is refused unless --force is given\n"
    "  -j, --jobs N          N worker processes on this machine (default 1: in-process);\n"
    "                        runs are handed out one at a time as workers become free\n"
    "      --resume          continue from OUT.h5.ckpt, the checkpoint an interrupted or\n"
    "                        failed sweep leaves: only the runs missing from it are run\n"
    "      --find max-load   instead of the load axis's grid, bisect between its lowest\n"
    "                        and highest value for the largest load meeting the SLO\n"
    "                        (find.steps rounds, default 6), per variant and point\n"
    "      --reps N          replications per point and variant (default: the sweep's)\n"
    "      --seed N          master seed (default: the sweep's, else the scenario's)\n"
    "      --set KEY=VALUE   override a scenario value at every point (after `set`)\n"
    "  -q, --quiet           no tables and no progress bar\n"
    "\n"
    "Printed: per point and variant the success ratio, p95 latency, the metrics of\n"
    "capacity.require and goodput with 95% confidence intervals, then per variant the\n"
    "capacity answer: the largest load that meets the scenario's SLO (slo.success_ratio\n"
    "and slo.latency_p95) and capacity.require, with its interval, and the knee of the\n"
    "p95 latency curve. The load axis is `load` in the sweep file,\n"
    "else workload.rate, else the first rate axis.\n"
    "\n"
    "On a cluster, the MPI build runs the same command on every rank:\n"
    "  mpirun -np 64 ragsim-mpi sweep SWEEP.yaml -o OUT.h5\n"
    "rank 0 hands out the runs (and runs some), and writes OUT.h5 alone.\n"
    "\n"
    "A worker that dies fails the sweep, naming the runs it lost; completed runs stay\n"
    "in OUT.h5.ckpt and --resume continues from there.\n"
    "Exit status: 0 success, 1 runtime failure (lost or failed runs, interrupted),\n"
    "2 bad usage or bad input (FILE:LINE:COL: error: ...).\n";

enum { ST_TODO, ST_RUN, ST_DONE, ST_LOST, ST_FAILED };

typedef struct master {
    const sw_def_t *def;
    const sw_opts_t *o;
    sw_pool_t *pool;
    FILE *err;
    sw_cache_t cache;
    /* checkpoint */
    sw_result_t *ck;                /* records of an earlier run, sorted by task */
    size_t nck;
    FILE *ckf;
    char *ckpath;
    bool ck_failed;
    /* the current batch */
    const sw_task_t *tasks;
    sw_result_t *res;
    unsigned char *st;
    size_t n, next, inflight;
    int *busy;                      /* nworkers x depth task indices */
    int *nbusy;
    int depth;
    bool *alive;
    int nalive;
    bool pool_failed;
    /* progress */
    size_t done_total, total, resumed, bad_total;
    double t0, last_draw;
    bool drawn;
} master_t;

static double wall_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void progress_draw(master_t *m, bool force)
{
    if (!m->o->progress) return;
    double now = wall_now();
    if (!force && now - m->last_draw < 0.1) return;
    m->last_draw = now;
    size_t total = m->total > m->done_total ? m->total : m->done_total;
    double frac = total ? (double)m->done_total / (double)total : 0;
    double el = now - m->t0;
    size_t ran = m->done_total - m->resumed;
    double eta = ran > 0 && frac < 1 ? el * (double)(total - m->done_total) / (double)ran : 0;
    char bar[31];
    int filled = (int)(frac * 30);
    for (int i = 0; i < 30; i++) bar[i] = i < filled ? '#' : '-';
    bar[30] = 0;
    int workers = m->pool ? m->nalive + (m->pool->master_runs ? 1 : 0) : 1;
    fprintf(m->err, "\r[%s] %zu/%zu runs  %d %s%s  %.1f s  ETA %d:%02d ", bar, m->done_total, total, workers,
            m->pool ? m->pool->noun : "process", workers == 1 ? "" : "s", el, (int)eta / 60, (int)eta % 60);
    fflush(m->err);
    m->drawn = true;
}

static void progress_clear(master_t *m)
{
    if (m->drawn) {
        fprintf(m->err, "\r%*s\r", 79, "");
        fflush(m->err);
        m->drawn = false;
    }
}

/* "point 3 (workload.rate=300/s, vectordb.replicas=2), variant naive, replication 1" */
static void describe_task(const sw_def_t *def, const sw_task_t *t, char *buf, size_t n)
{
    size_t coord[SW_MAX_AXES];
    sw_point_coords(def, t->point, coord);
    int k = snprintf(buf, n, "point %llu (", (unsigned long long)t->point);
    for (size_t i = 0; i < def->naxes && k > 0 && (size_t)k < n; i++) {
        const sw_axis_t *a = &def->axes[i];
        char v[64];
        if ((int)i == def->load && !isnan(t->load)) sw_format_human(a->kind, t->load, v, sizeof v);
        else snprintf(v, sizeof v, "%s", a->text[coord[i]]);
        k += snprintf(buf + k, n - (size_t)k, "%s%s=%s", i ? ", " : "", a->path, v);
    }
    if (k > 0 && (size_t)k < n)
        snprintf(buf + k, n - (size_t)k, "), variant %s, replication %u",
                 t->variant < def->nvariants ? def->variants[t->variant] : "?", t->rep);
}

/* ---- checkpoint -------------------------------------------------------------------- */

static const char ck_magic[8] = {'R', 'G', 'S', 'W', 'C', 'K', 'P', '1'};

static int task_cmp(const sw_task_t *a, const sw_task_t *b)
{
    if (a->point != b->point) return a->point < b->point ? -1 : 1;
    uint64_t la, lb;
    memcpy(&la, &a->load, 8);
    memcpy(&lb, &b->load, 8);
    if (la != lb) return la < lb ? -1 : 1;
    if (a->variant != b->variant) return a->variant < b->variant ? -1 : 1;
    if (a->rep != b->rep) return a->rep < b->rep ? -1 : 1;
    if (a->seed_index != b->seed_index) return a->seed_index < b->seed_index ? -1 : 1;
    return 0;
}

static int result_cmp(const void *a, const void *b)
{
    return task_cmp(&((const sw_result_t *)a)->task, &((const sw_result_t *)b)->task);
}

/* Open the checkpoint: read it (resume) or start it. Returns 0, 1 (runtime
 * failure, message printed) or 2 (a checkpoint of another sweep). */
static int ck_open(master_t *m, uint64_t hash)
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
            qsort(m->ck, m->nck, sizeof *m->ck, result_cmp);
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

static void ck_append(master_t *m, const sw_result_t *r)
{
    if (!m->ckf || m->ck_failed) return;
    if (fwrite(r, sizeof *r, 1, m->ckf) != 1 || fflush(m->ckf) != 0) {
        fprintf(m->err, "ragsim: warning: cannot append to the checkpoint %s: %s (--resume will redo runs)\n",
                m->ckpath, strerror(errno));
        m->ck_failed = true;
    }
}

static const sw_result_t *ck_find(const master_t *m, const sw_task_t *t)
{
    size_t lo = 0, hi = m->nck;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        int c = task_cmp(&m->ck[mid].task, t);
        if (c == 0) return &m->ck[mid];
        if (c < 0) lo = mid + 1;
        else hi = mid;
    }
    return NULL;
}

/* ---- hand-out ---------------------------------------------------------------------- */

static void record(master_t *m, size_t idx, const sw_result_t *r, const char *who)
{
    char d[512];
    m->res[idx] = *r;
    if (r->status == 0) {
        m->st[idx] = ST_DONE;
        ck_append(m, r);
    } else {
        m->st[idx] = ST_FAILED;
        m->bad_total++;
        progress_clear(m);
        describe_task(m->def, &m->tasks[idx], d, sizeof d);
        fprintf(m->err, "ragsim: error: %s failed%s%s: %s\n", d, who ? " on " : "", who ? who : "", r->msg);
    }
    m->done_total++;
}

static size_t take_next(master_t *m)
{
    while (m->next < m->n && m->st[m->next] != ST_TODO) m->next++;
    return m->next < m->n ? m->next++ : SIZE_MAX;
}

/* Worker w holds up to `depth` tasks, oldest first (busy[w * depth ..]):
 * with a task queued behind the running one a worker never waits for a
 * master that is busy running a task of its own. */
#define BUSY(m, w, k) ((m)->busy[(size_t)(w) * (size_t)(m)->depth + (size_t)(k)])

static void hand_out(master_t *m)
{
    if (!m->pool) return;
    for (int k = 0; k < m->depth; k++)
        for (int w = 0; w < m->pool->nworkers; w++) {
            if (!m->alive[w] || m->nbusy[w] > k) continue;
            size_t idx = take_next(m);
            if (idx == SIZE_MAX) return;
            if (m->pool->send(m->pool->ctx, w, &m->tasks[idx]) != 0) {
                m->alive[w] = false;
                m->nalive--;
                m->next = idx;   /* give it to another */
                continue;
            }
            m->st[idx] = ST_RUN;
            BUSY(m, w, m->nbusy[w]++) = (int)idx;
            m->inflight++;
        }
}

/* The tasks worker w held are lost. */
static void lose_worker(master_t *m, int w, const char *who, const char *why)
{
    if (m->alive[w]) {
        m->alive[w] = false;
        m->nalive--;
    }
    if (m->nbusy[w] == 0 && who) fprintf(m->err, "ragsim: error: %s %s\n", who, why);
    for (int k = 0; k < m->nbusy[w]; k++) {
        int idx = BUSY(m, w, k);
        if (who) {
            char d[512];
            describe_task(m->def, &m->tasks[idx], d, sizeof d);
            fprintf(m->err, "ragsim: error: %s %s %s %s\n", who, why, k == 0 ? "while running" : "holding", d);
        }
        m->st[idx] = ST_LOST;
        m->bad_total++;
        m->inflight--;
    }
    m->nbusy[w] = 0;
}

static void serve(master_t *m, int timeout_ms)
{
    if (!m->pool || m->pool->nworkers == 0 || m->pool_failed) return;
    sw_result_t *r = malloc(sizeof *r);
    if (!r) return;
    for (;;) {
        hand_out(m);
        if (m->inflight == 0 && timeout_ms > 0 && !m->pool->master_runs) {
            /* nothing to wait for */
            break;
        }
        int w = -1;
        char why[256] = "", who[128] = "";
        int rc = m->pool->recv(m->pool->ctx, timeout_ms, &w, r, why, sizeof why);
        if (rc == 0) break;
        if (rc < 0) {
            progress_clear(m);
            fprintf(m->err, "ragsim: error: the %s pool failed: %s\n", m->pool->noun, why);
            m->pool_failed = true;
            for (int k = 0; k < m->pool->nworkers; k++) lose_worker(m, k, NULL, NULL);
            m->nalive = 0;
            m->inflight = 0;
            break;
        }
        if (w < 0 || w >= m->pool->nworkers) continue;
        m->pool->describe(m->pool->ctx, w, who, sizeof who);
        if (rc == 1) {
            int idx = m->nbusy[w] > 0 ? BUSY(m, w, 0) : -1;
            if (idx >= 0 && task_cmp(&r->task, &m->tasks[idx]) == 0) {
                for (int k = 1; k < m->nbusy[w]; k++) BUSY(m, w, k - 1) = BUSY(m, w, k);
                m->nbusy[w]--;
                m->inflight--;
                record(m, (size_t)idx, r, who);
            }
        } else {
            progress_clear(m);
            lose_worker(m, w, who, why);
        }
        timeout_ms = 0;
    }
    free(r);
}

static void local_hook(void *ctx, const sim_t *sim)
{
    (void)sim;
    master_t *m = ctx;
    serve(m, 0);
    progress_draw(m, false);
}

extern volatile sig_atomic_t rs_interrupted;

/* Run a batch of tasks into res[]. Returns how many did not complete
 * (lost, failed, or never run because no worker was left). */
static size_t run_batch(master_t *m, const sw_task_t *tasks, size_t n, sw_result_t *res)
{
    m->tasks = tasks;
    m->res = res;
    m->n = n;
    m->next = 0;
    m->inflight = 0;
    m->st = calloc(n ? n : 1, 1);
    if (!m->st) return n;
    for (size_t i = 0; i < n; i++) {
        const sw_result_t *c = ck_find(m, &tasks[i]);
        if (c) {
            res[i] = *c;
            m->st[i] = ST_DONE;
            m->done_total++;
            m->resumed++;
        }
    }
    sw_result_t *r = malloc(sizeof *r);
    if (!r) return n;
    for (;;) {
        serve(m, 0);
        progress_draw(m, false);
        if (rs_interrupted) break;
        bool local = !m->pool || m->pool->master_runs || m->pool->nworkers == 0;
        if (local) {
            size_t idx = take_next(m);
            if (idx != SIZE_MAX) {
                m->st[idx] = ST_RUN;
                sw_exec_task(m->def, &m->cache, &tasks[idx], local_hook, m, r);
                if (rs_interrupted) break;
                record(m, idx, r, NULL);
                continue;
            }
        }
        if (m->inflight == 0) {
            size_t idx = take_next(m);
            if (idx == SIZE_MAX || m->nalive == 0 || m->pool_failed) break;
            m->next = idx;
        }
        serve(m, 100);
    }
    free(r);
    if (rs_interrupted && m->pool) {
        /* the runs in flight are abandoned */
        for (int w = 0; w < m->pool->nworkers; w++) m->nbusy[w] = 0;
        m->inflight = 0;
    }
    size_t bad = 0;
    for (size_t i = 0; i < n; i++) bad += m->st[i] != ST_DONE;
    free(m->st);
    m->st = NULL;
    return bad;
}

/* ---- analysis ---------------------------------------------------------------------- */

typedef struct metric_col {
    char name[SW_METRIC_NAME];
    rs_kind_t kind;
} metric_col_t;

typedef struct group {
    uint64_t point;                 /* index in the output's point list */
    uint32_t variant;
    size_t first, n;                /* runs sorted[first .. first+n) */
    double *mean, *hw;              /* per metric */
} group_t;

typedef struct outpoint {
    uint64_t grid;                  /* task point */
    double load;                    /* task load (NaN: the grid's) */
    uint64_t cell;                  /* index over the axes other than the load */
    double axis[SW_MAX_AXES];       /* values (base unit; index for text axes) */
} outpoint_t;

typedef struct analysis {
    const sw_def_t *def;
    sw_result_t *runs;              /* sorted by (point, load, variant, rep) */
    size_t nruns;
    size_t *run_point;              /* output point of each run */
    outpoint_t *pts;
    size_t npts;
    metric_col_t *mc;
    size_t nmc;
    group_t *g;
    size_t ng;
    size_t ncells;
} analysis_t;

static uint64_t cell_of(const sw_def_t *def, uint64_t grid)
{
    size_t coord[SW_MAX_AXES];
    sw_point_coords(def, grid, coord);
    uint64_t c = 0;
    for (size_t i = 0; i < def->naxes; i++)
        if ((int)i != def->load) c = c * def->axes[i].n + coord[i];
    return c;
}

static int metric_index(const analysis_t *a, const char *name)
{
    for (size_t i = 0; i < a->nmc; i++)
        if (!strcmp(a->mc[i].name, name)) return (int)i;
    return -1;
}

static double run_metric(const sw_result_t *r, const char *name)
{
    for (uint32_t i = 0; i < r->nmetrics; i++)
        if (!strcmp(r->m[i].name, name)) return r->m[i].value;
    return NAN;
}

static void analysis_fini(analysis_t *a)
{
    for (size_t i = 0; i < a->ng; i++) {
        free(a->g[i].mean);
        free(a->g[i].hw);
    }
    free(a->g);
    free(a->mc);
    free(a->pts);
    free(a->run_point);
    memset(a, 0, sizeof *a);
}

/* Sorts runs in place. */
static int analyse(analysis_t *a, const sw_def_t *def, sw_result_t *runs, size_t nruns)
{
    memset(a, 0, sizeof *a);
    a->def = def;
    a->runs = runs;
    a->nruns = nruns;
    qsort(runs, nruns, sizeof *runs, result_cmp);
    a->run_point = calloc(nruns ? nruns : 1, sizeof *a->run_point);
    a->pts = calloc(nruns ? nruns : 1, sizeof *a->pts);
    a->mc = calloc(SW_MAX_METRICS * 2, sizeof *a->mc);
    a->g = calloc(nruns ? nruns : 1, sizeof *a->g);
    if (!a->run_point || !a->pts || !a->mc || !a->g) return SIM_ENOMEM;
    a->ncells = 1;
    for (size_t i = 0; i < def->naxes; i++)
        if ((int)i != def->load) a->ncells *= def->axes[i].n;
    for (size_t i = 0; i < nruns; i++) {
        const sw_task_t *t = &runs[i].task;
        bool newpt = a->npts == 0 || a->pts[a->npts - 1].grid != t->point ||
                     memcmp(&a->pts[a->npts - 1].load, &t->load, 8) != 0;
        if (newpt) {
            outpoint_t *p = &a->pts[a->npts++];
            p->grid = t->point;
            p->load = t->load;
            p->cell = cell_of(def, t->point);
            size_t coord[SW_MAX_AXES];
            sw_point_coords(def, t->point, coord);
            for (size_t k = 0; k < def->naxes; k++)
                p->axis[k] = ((int)k == def->load && !isnan(t->load)) ? t->load : def->axes[k].value[coord[k]];
        }
        a->run_point[i] = a->npts - 1;
        for (uint32_t k = 0; k < runs[i].nmetrics; k++)
            if (metric_index(a, runs[i].m[k].name) < 0 && a->nmc < SW_MAX_METRICS * 2) {
                snprintf(a->mc[a->nmc].name, SW_METRIC_NAME, "%s", runs[i].m[k].name);
                a->mc[a->nmc++].kind = (rs_kind_t)runs[i].m[k].kind;
            }
    }
    for (size_t i = 0; i < nruns;) {
        size_t j = i;
        while (j < nruns && a->run_point[j] == a->run_point[i] && runs[j].task.variant == runs[i].task.variant) j++;
        group_t *g = &a->g[a->ng++];
        g->point = a->run_point[i];
        g->variant = runs[i].task.variant;
        g->first = i;
        g->n = j - i;
        g->mean = calloc(a->nmc ? a->nmc : 1, sizeof *g->mean);
        g->hw = calloc(a->nmc ? a->nmc : 1, sizeof *g->hw);
        double *x = calloc(g->n, sizeof *x);
        if (!g->mean || !g->hw || !x) {
            free(x);
            return SIM_ENOMEM;
        }
        for (size_t k = 0; k < a->nmc; k++) {
            size_t nx = 0;
            for (size_t r = i; r < j; r++) {
                double v = run_metric(&runs[r], a->mc[k].name);
                if (isfinite(v)) x[nx++] = v;
            }
            sim_ci_t c = sim_ci_student(x, nx, 0.95);
            g->mean[k] = nx ? c.mean : NAN;
            g->hw[k] = nx >= 2 ? c.half_width : NAN;
        }
        free(x);
        i = j;
    }
    return 0;
}

/* The capacity answer of one variant at one cell. */
typedef struct capacity {
    uint32_t variant;
    uint64_t cell;
    size_t example_point;           /* a point of the cell (for the other axes' values) */
    size_t npoints;                 /* loads evaluated */
    double max_load, lo, hi;        /* NaN: none meets */
    bool all_meet;                  /* the highest load evaluated meets */
    double succ, succ_hw, p95, p95_hw;
    double knee;
} capacity_t;

/* Whether values meet the SLO and the requirements. value(ctx, metric, &hw)
 * gives a metric's mean and half-width; sign 0 judges the means, -1 the
 * pessimistic end of each interval, +1 the optimistic end. A metric
 * without a value fails. */
typedef double (*value_fn)(const void *ctx, const char *metric, double *hw);

static bool bound_ok(double m, double h, int sign, bool is_max, double bound)
{
    if (!isfinite(m)) return false;
    if (isnan(h)) h = 0;
    return is_max ? m - sign * h <= bound : m + sign * h >= bound;
}

static bool meets(const sw_def_t *def, value_fn value, const void *ctx, int sign)
{
    double h;
    double m = value(ctx, "success_ratio", &h);
    if (!bound_ok(m, h, sign, false, def->slo_success)) return false;
    if (!isinf(def->slo_p95)) {
        m = value(ctx, "latency_p95_s", &h);
        if (!bound_ok(m, h, sign, true, def->slo_p95)) return false;
    }
    for (size_t i = 0; i < def->nreq; i++) {
        m = value(ctx, def->req[i].metric, &h);
        if (!bound_ok(m, h, sign, def->req[i].is_max, def->req[i].bound)) return false;
    }
    return true;
}

typedef struct {
    const analysis_t *a;
    const group_t *g;
} group_ref_t;

static double group_value(const void *ctx, const char *metric, double *hw)
{
    const group_ref_t *r = ctx;
    int k = metric_index(r->a, metric);
    *hw = k >= 0 ? r->g->hw[k] : NAN;
    return k >= 0 ? r->g->mean[k] : NAN;
}

typedef struct {
    const sw_result_t *r;
    size_t n;
} runs_ref_t;

static double runs_value(const void *ctx, const char *metric, double *hw)
{
    const runs_ref_t *r = ctx;
    double s = 0;
    size_t n = 0;
    for (size_t i = 0; i < r->n; i++) {
        double v = run_metric(&r->r[i], metric);
        if (isfinite(v)) s += v, n++;
    }
    *hw = NAN;
    return n ? s / (double)n : NAN;
}

static int group_load_cmp(const void *x, const void *y, void *ctx);
static const analysis_t *sort_ctx;

static int group_cmp_load(const void *x, const void *y)
{
    return group_load_cmp(x, y, (void *)sort_ctx);
}

static int group_load_cmp(const void *x, const void *y, void *ctx)
{
    const analysis_t *a = ctx;
    double lx = a->pts[(*(const group_t *const *)x)->point].axis[a->def->load];
    double ly = a->pts[(*(const group_t *const *)y)->point].axis[a->def->load];
    return lx < ly ? -1 : lx > ly;
}

/* Capacity per (variant, cell): the loads evaluated, in increasing order;
 * the answer is the highest load L such that every load up to L meets the
 * SLO on the means; its interval runs from the highest such load where the
 * whole 95% interval meets the SLO to the highest where it does not exclude
 * meeting it. The knee is where the mean p95 first reaches knee_factor
 * times its value at the lowest load (capacity.knee_factor, default 1.5),
 * interpolated linearly between the two loads around it. */
static capacity_t capacity_of(const analysis_t *a, uint32_t v, uint64_t cell, group_t **gs, size_t *ng_out)
{
    const sw_def_t *def = a->def;
    capacity_t c = {.variant = v, .cell = cell, .max_load = NAN, .lo = NAN, .hi = NAN, .succ = NAN, .succ_hw = NAN,
                    .p95 = NAN, .p95_hw = NAN, .knee = NAN};
    size_t ng = 0;
    for (size_t i = 0; i < a->ng; i++)
        if (a->g[i].variant == v && a->pts[a->g[i].point].cell == cell) gs[ng++] = &a->g[i];
    *ng_out = ng;
    c.npoints = ng;
    if (ng == 0) return c;
    c.example_point = gs[0]->point;
    sort_ctx = a;
    qsort(gs, ng, sizeof *gs, group_cmp_load);
    int ks = metric_index(a, "success_ratio"), kp = metric_index(a, "latency_p95_s");
    bool run_mean = true, run_sure = true, run_maybe = true;
    for (size_t i = 0; i < ng; i++) {
        double s = ks >= 0 ? gs[i]->mean[ks] : NAN, p = kp >= 0 ? gs[i]->mean[kp] : NAN;
        double load = a->pts[gs[i]->point].axis[def->load];
        group_ref_t ref = {a, gs[i]};
        run_mean = run_mean && meets(def, group_value, &ref, 0);
        run_sure = run_sure && meets(def, group_value, &ref, -1);
        run_maybe = run_maybe && meets(def, group_value, &ref, +1);
        if (run_mean) {
            c.max_load = load;
            c.succ = s;
            c.succ_hw = ks >= 0 ? gs[i]->hw[ks] : NAN;
            c.p95 = p;
            c.p95_hw = kp >= 0 ? gs[i]->hw[kp] : NAN;
        }
        if (run_sure) c.lo = load;
        if (run_maybe) c.hi = load;
    }
    c.all_meet = run_mean;
    /* the knee: where p95 first passes knee_factor x its value at the
     * lowest load, interpolated linearly between the two loads around it */
    if (ng >= 2 && kp >= 0 && isfinite(gs[0]->mean[kp])) {
        double y0 = gs[0]->mean[kp], target = def->knee_factor * y0;
        for (size_t i = 1; i < ng; i++) {
            double y = gs[i]->mean[kp], yp = gs[i - 1]->mean[kp];
            if (!isfinite(y) || y < target) continue;
            double x = a->pts[gs[i]->point].axis[def->load], xp = a->pts[gs[i - 1]->point].axis[def->load];
            c.knee = isfinite(yp) && y > yp && yp < target ? xp + (target - yp) / (y - yp) * (x - xp) : x;
            break;
        }
    }
    return c;
}

/* ---- find max-load ------------------------------------------------------------------- */

typedef struct bisect {
    uint32_t variant;
    uint64_t cell_point;            /* the grid point with the load at its first value */
    double lo, hi;                  /* lo meets (NaN: not yet), hi does not */
    double next;                    /* the load to evaluate next round; NaN: done */
    int phase;                      /* 0: ends, 1: bisecting, 2: done */
} bisect_t;

static bool load_meets(const sw_def_t *def, const sw_result_t *r, size_t n)
{
    runs_ref_t ref = {r, n};
    return meets(def, runs_value, &ref, 0);
}

/* ---- printing -------------------------------------------------------------------------- */

static int utf8_width(const char *s)
{
    int w = 0;
    for (; *s; s++) w += ((unsigned char)*s & 0xC0) != 0x80;
    return w;
}

static void pad(FILE *out, const char *s, int w)
{
    fputs(s, out);
    for (int i = utf8_width(s); i < w; i++) fputc(' ', out);
}

#define PCOLS 12
#define PCELL 96

static void print_table(FILE *out, char (*cells)[PCOLS][PCELL], size_t rows, size_t cols)
{
    int w[PCOLS] = {0};
    for (size_t r = 0; r < rows; r++)
        for (size_t c = 0; c < cols; c++)
            if (utf8_width(cells[r][c]) > w[c]) w[c] = utf8_width(cells[r][c]);
    for (size_t r = 0; r < rows; r++) {
        for (size_t c = 0; c < cols; c++) {
            if (c + 1 == cols) fputs(cells[r][c], out);
            else pad(out, cells[r][c], w[c] + 2);
        }
        fputc('\n', out);
    }
}

static void axis_value_text(const sw_def_t *def, size_t axis, double v, char *buf, size_t n)
{
    const sw_axis_t *a = &def->axes[axis];
    if (a->kind == SW_TEXT) snprintf(buf, n, "%s", a->text[(size_t)v]);
    else sw_format_human(a->kind, v, buf, n);
}

static void print_points(FILE *out, const analysis_t *a)
{
    const sw_def_t *def = a->def;
    const char *want[4 + SW_MAX_REQS];
    size_t nw = 0;
    want[nw++] = "success_ratio";
    want[nw++] = "latency_p95_s";
    for (size_t i = 0; i < def->nreq; i++) want[nw++] = def->req[i].metric;
    want[nw++] = "goodput_per_s";
    want[nw++] = "throughput_per_s";
    int mk[4 + SW_MAX_REQS], nm = 0;
    for (size_t i = 0; i < nw && (size_t)nm + def->naxes + 1 < PCOLS; i++) {
        int k = metric_index(a, want[i]);
        bool dup = false;
        for (int j = 0; j < nm; j++) dup |= mk[j] == k;
        if (k >= 0 && !dup) mk[nm++] = k;
    }
    size_t cols = def->naxes + 1 + (size_t)nm;
    if (cols > PCOLS) return;
    char(*cells)[PCOLS][PCELL] = calloc(a->ng + 1, sizeof *cells);
    if (!cells) return;
    for (size_t i = 0; i < def->naxes; i++) snprintf(cells[0][i], PCELL, "%s", def->axes[i].path);
    snprintf(cells[0][def->naxes], PCELL, "variant");
    for (int k = 0; k < nm; k++) snprintf(cells[0][def->naxes + 1 + (size_t)k], PCELL, "%s", a->mc[mk[k]].name);
    for (size_t g = 0; g < a->ng; g++) {
        const group_t *gr = &a->g[g];
        for (size_t i = 0; i < def->naxes; i++)
            axis_value_text(def, i, a->pts[gr->point].axis[i], cells[g + 1][i], PCELL);
        snprintf(cells[g + 1][def->naxes], PCELL, "%s", def->variants[gr->variant]);
        for (int k = 0; k < nm; k++)
            rs_format_value(cells[g + 1][def->naxes + 1 + (size_t)k], PCELL, a->mc[mk[k]].kind, gr->mean[mk[k]],
                            gr->hw[mk[k]]);
    }
    print_table(out, cells, a->ng + 1, cols);
    free(cells);
}

static void print_capacity(FILE *out, const analysis_t *a, const capacity_t *caps, size_t ncaps, bool find)
{
    const sw_def_t *def = a->def;
    const sw_axis_t *la = &def->axes[def->load];
    char p95[32];
    if (isinf(def->slo_p95)) snprintf(p95, sizeof p95, "unbounded");
    else sw_format_human(SW_DURATION, def->slo_p95, p95, sizeof p95);
    fprintf(out, "\ncapacity on '%s' (SLO: success_ratio >= %g, latency_p95 <= %s", la->path, def->slo_success, p95);
    for (size_t i = 0; i < def->nreq; i++)
        fprintf(out, ", %s %s %g", def->req[i].metric, def->req[i].is_max ? "<=" : ">=", def->req[i].bound);
    fprintf(out, "; %s)\n", find ? "bisection between the axis's ends" : "95% interval from the points' confidence intervals");
    size_t cols = 0;
    char(*cells)[PCOLS][PCELL] = calloc(ncaps + 1, sizeof *cells);
    if (!cells) return;
    snprintf(cells[0][cols++], PCELL, "variant");
    for (size_t i = 0; i < def->naxes && cols < PCOLS - 5; i++)
        if ((int)i != def->load) snprintf(cells[0][cols++], PCELL, "%s", def->axes[i].path);
    snprintf(cells[0][cols++], PCELL, "max load meeting SLO");
    snprintf(cells[0][cols++], PCELL, "95%% interval");
    snprintf(cells[0][cols++], PCELL, "success_ratio there");
    snprintf(cells[0][cols++], PCELL, "latency_p95 there");
    snprintf(cells[0][cols++], PCELL, "knee (p95)");
    for (size_t r = 0; r < ncaps; r++) {
        const capacity_t *c = &caps[r];
        size_t k = 0;
        char x[32], y[32];
        snprintf(cells[r + 1][k++], PCELL, "%s", def->variants[c->variant]);
        for (size_t i = 0; i < def->naxes && k < PCOLS - 5; i++)
            if ((int)i != def->load) axis_value_text(def, i, a->pts[c->example_point].axis[i], cells[r + 1][k++], PCELL);
        if (isnan(c->max_load)) {
            sw_format_human(la->kind, a->pts[c->example_point].axis[def->load], x, sizeof x);
            snprintf(cells[r + 1][k++], PCELL, "none (below the lowest load)");
        } else {
            sw_format_human(la->kind, c->max_load, x, sizeof x);
            snprintf(cells[r + 1][k++], PCELL, "%s%s", c->all_meet ? ">= " : "", x);
        }
        sw_format_human(la->kind, c->lo, x, sizeof x);
        sw_format_human(la->kind, c->hi, y, sizeof y);
        if (find && !isnan(c->max_load) && !c->all_meet) {
            /* the bracket: max load meets, the next load evaluated does not */
            snprintf(cells[r + 1][k++], PCELL, "%s .. %s", x, y);
        } else snprintf(cells[r + 1][k++], PCELL, "%s .. %s%s", x, y, c->all_meet ? "+" : "");
        rs_format_value(cells[r + 1][k++], PCELL, RS_RATIO, c->succ, c->succ_hw);
        rs_format_value(cells[r + 1][k++], PCELL, RS_SECONDS, c->p95, c->p95_hw);
        sw_format_human(la->kind, c->knee, cells[r + 1][k], PCELL);
        k++;
    }
    print_table(out, cells, ncaps + 1, cols);
    free(cells);
    fprintf(out, "max load: every load up to it meets the SLO on the mean; 95%% interval: from the highest\n"
                 "load whose whole confidence interval meets the SLO to the highest whose interval does not\n"
                 "exclude it (+: the top of the range still meets it); knee: the load where p95 reaches %g x\n"
                 "its value at the lowest load, interpolated (-: not in the range)\n", def->knee_factor);
}

/* ---- output file -------------------------------------------------------------------------- */

static int write_output(sim_trace_t *tr, const analysis_t *a, const capacity_t *caps, size_t ncaps, bool find)
{
    const sw_def_t *def = a->def;
    int rc = 0;
    char p[512];
    size_t srclen = 0;
    const char *src = sim_cfg_source(def->cfg, &srclen);
    rc |= sim_trace_attr_str(tr, "/", "format", "ragsim-sweep");
    rc |= sim_trace_attr_i64(tr, "/", "format_version", 1);
    rc |= sim_trace_attr_str(tr, "/", "ragsim_version", RAGSIM_VERSION);
    rc |= sim_trace_attr_str(tr, "/", "sweep_file", def->path);
    rc |= sim_trace_attr_str(tr, "/", "sweep_source", src ? src : "");
    rc |= sim_trace_attr_str(tr, "/", "scenario_file", def->scenario_path);
    rc |= sim_trace_attr_i64(tr, "/", "master_seed", (int64_t)def->seed);
    rc |= sim_trace_attr_i64(tr, "/", "replications", def->replications);
    rc |= sim_trace_attr_str(tr, "/", "mode", find ? "find-max-load" : "grid");
    rc |= sim_trace_attr_str(tr, "/", "load_axis", def->load >= 0 ? def->axes[def->load].path : "");
    rc |= sim_trace_attr_f64(tr, "/", "slo_success_ratio", def->slo_success);
    rc |= sim_trace_attr_f64(tr, "/", "slo_latency_p95_s", def->slo_p95);
    char reqs[1024] = "";
    for (size_t i = 0; i < def->nreq; i++) {
        size_t l = strlen(reqs);
        snprintf(reqs + l, sizeof reqs - l, "%s%s %s %.17g", i ? "\n" : "", def->req[i].metric,
                 def->req[i].is_max ? "<=" : ">=", def->req[i].bound);
    }
    rc |= sim_trace_attr_str(tr, "/", "capacity_require", reqs);
    rc |= sim_trace_attr_f64(tr, "/", "knee_factor", def->knee_factor);
    /* variants and axes */
    sim_table_t vt;
    sim_table_init(&vt, "variants");
    sim_table_col_str(&vt, "name", 64);
    for (size_t i = 0; i < def->nvariants; i++) {
        unsigned char *row = sim_table_append(&vt);
        if (!row) return SIM_ENOMEM;
        sim_row_str(&vt, row, 0, def->variants[i]);
    }
    rc |= sim_trace_table(tr, "/sweep/variants", &vt);
    sim_table_fini(&vt);
    sim_table_t at;
    sim_table_init(&at, "axes");
    sim_table_col_str(&at, "path", 128);
    sim_table_col_str(&at, "kind", 16);
    sim_table_col_str(&at, "unit", 16);
    sim_table_col_i64(&at, "values", "1");
    sim_table_col_i64(&at, "is_load", "1");
    for (size_t i = 0; i < def->naxes; i++) {
        const sw_axis_t *ax = &def->axes[i];
        unsigned char *row = sim_table_append(&at);
        if (!row) return SIM_ENOMEM;
        sim_row_str(&at, row, 0, ax->path);
        sim_row_str(&at, row, 1, sw_kind_name(ax->kind));
        sim_row_str(&at, row, 2, sw_kind_unit(ax->kind));
        sim_row_i64(&at, row, 3, (int64_t)ax->n);
        sim_row_i64(&at, row, 4, (int)i == def->load);
        snprintf(p, sizeof p, "/sweep/axis_values/%s", ax->path);
        rc |= sim_trace_f64(tr, p, ax->value, ax->n, sw_kind_unit(ax->kind),
                            ax->kind == SW_TEXT ? "index into the attribute 'labels'" : "the axis's grid values");
        size_t len = 1;
        for (size_t k = 0; k < ax->n; k++) len += strlen(ax->text[k]) + 1;
        char *labels = calloc(len, 1);
        if (!labels) return SIM_ENOMEM;
        for (size_t k = 0; k < ax->n; k++) {
            strcat(labels, ax->text[k]);
            if (k + 1 < ax->n) strcat(labels, "\n");
        }
        rc |= sim_trace_attr_str(tr, p, "labels", labels);
        free(labels);
    }
    rc |= sim_trace_table(tr, "/sweep/axes", &at);
    sim_table_fini(&at);

    /* runs */
    size_t n = a->nruns, nmax = n > a->ng ? n : a->ng;
    if (ncaps > nmax) nmax = ncaps;
    int64_t *iv = calloc(nmax ? nmax : 1, sizeof *iv);
    double *fv = calloc(nmax ? nmax : 1, sizeof *fv);
    if (!iv || !fv) {
        free(iv);
        free(fv);
        return SIM_ENOMEM;
    }
#define I64(path, expr, cnt, unit, desc)                                                                   \
    do {                                                                                                  \
        for (size_t i_ = 0; i_ < (cnt); i_++) iv[i_] = (int64_t)(expr);                                   \
        rc |= sim_trace_i64(tr, path, iv, cnt, unit, desc);                                                \
    } while (0)
#define F64(path, expr, cnt, unit, desc)                                                                   \
    do {                                                                                                  \
        for (size_t i_ = 0; i_ < (cnt); i_++) fv[i_] = (double)(expr);                                    \
        rc |= sim_trace_f64(tr, path, fv, cnt, unit, desc);                                                \
    } while (0)
    const sw_result_t *R = a->runs;
    I64("/sweep/runs/point", a->run_point[i_], n, "1", "index of the point (/sweep/summary/point)");
    I64("/sweep/runs/variant", R[i_].task.variant, n, "1", "index into /sweep/variants");
    I64("/sweep/runs/replication", R[i_].task.rep, n, "1", "replication index (the streams' key)");
    I64("/sweep/runs/seed", R[i_].seed, n, "1", "master seed of the run (sw_point_seed)");
    I64("/sweep/runs/events_processed", R[i_].events, n, "1", NULL);
    F64("/sweep/runs/sim_seconds", R[i_].sim_seconds, n, "s", "simulated time at the end of the run");
    for (size_t k = 0; k < def->naxes; k++) {
        snprintf(p, sizeof p, "/sweep/runs/axes/%s", def->axes[k].path);
        F64(p, a->pts[a->run_point[i_]].axis[k], n, sw_kind_unit(def->axes[k].kind), "the axis's value at the run's point");
    }
    for (size_t k = 0; k < a->nmc; k++) {
        snprintf(p, sizeof p, "/sweep/runs/metrics/%s", a->mc[k].name);
        F64(p, run_metric(&R[i_], a->mc[k].name), n, rs_kind_unit(a->mc[k].kind), "the run's summary figure");
    }
    /* summary per (point, variant) */
    const group_t *G = a->g;
    size_t ng = a->ng;
    I64("/sweep/summary/point", G[i_].point, ng, "1", "index of the point");
    I64("/sweep/summary/variant", G[i_].variant, ng, "1", "index into /sweep/variants");
    I64("/sweep/summary/n", G[i_].n, ng, "1", "replications");
    for (size_t k = 0; k < def->naxes; k++) {
        snprintf(p, sizeof p, "/sweep/summary/axes/%s", def->axes[k].path);
        F64(p, a->pts[G[i_].point].axis[k], ng, sw_kind_unit(def->axes[k].kind), "the axis's value");
    }
    for (size_t k = 0; k < a->nmc; k++) {
        snprintf(p, sizeof p, "/sweep/summary/mean/%s", a->mc[k].name);
        F64(p, G[i_].mean[k], ng, rs_kind_unit(a->mc[k].kind), "mean over the replications");
        snprintf(p, sizeof p, "/sweep/summary/hw/%s", a->mc[k].name);
        F64(p, G[i_].hw[k], ng, rs_kind_unit(a->mc[k].kind), "95% confidence half-width (Student t)");
    }
    /* capacity */
    if (ncaps > 0) {
        const char *lu = sw_kind_unit(def->axes[def->load].kind);
        I64("/sweep/capacity/variant", caps[i_].variant, ncaps, "1", "index into /sweep/variants");
        for (size_t k = 0; k < def->naxes; k++) {
            if ((int)k == def->load) continue;
            snprintf(p, sizeof p, "/sweep/capacity/axes/%s", def->axes[k].path);
            F64(p, a->pts[caps[i_].example_point].axis[k], ncaps, sw_kind_unit(def->axes[k].kind), "the axis's value");
        }
        F64("/sweep/capacity/max_load", caps[i_].max_load, ncaps, lu, "largest load meeting the SLO (means); NaN: none");
        F64("/sweep/capacity/max_load_lo", caps[i_].lo, ncaps, lu, "lower end of its 95% interval");
        F64("/sweep/capacity/max_load_hi", caps[i_].hi, ncaps, lu, "upper end of its 95% interval");
        I64("/sweep/capacity/top_meets", caps[i_].all_meet, ncaps, "1", "1: the highest load evaluated meets the SLO");
        F64("/sweep/capacity/success_ratio", caps[i_].succ, ncaps, "1", "at max_load");
        F64("/sweep/capacity/success_ratio_hw", caps[i_].succ_hw, ncaps, "1", "95% half-width");
        F64("/sweep/capacity/latency_p95_s", caps[i_].p95, ncaps, "s", "at max_load");
        F64("/sweep/capacity/latency_p95_hw", caps[i_].p95_hw, ncaps, "s", "95% half-width");
        F64("/sweep/capacity/knee_load", caps[i_].knee, ncaps, lu, "load where p95 reaches knee_factor x its value at the lowest load; NaN: not in the range");
    }
#undef I64
#undef F64
    free(iv);
    free(fv);
    return rc ? SIM_EHDF5 : 0;
}

/* ---- the command ------------------------------------------------------------------------- */

static void on_signal(int sig) { rs_interrupted = sig; }

/* Append results to a growing array. */
static int append_runs(sw_result_t **all, size_t *n, size_t *cap, const sw_result_t *r, size_t k)
{
    if (*n + k > *cap) {
        size_t c = *cap ? *cap : 64;
        while (c < *n + k) c *= 2;
        sw_result_t *p = realloc(*all, c * sizeof *p);
        if (!p) return SIM_ENOMEM;
        *all = p;
        *cap = c;
    }
    memcpy(*all + *n, r, k * sizeof *r);
    *n += k;
    return 0;
}

int sw_cmd_sweep(const sw_opts_t *o, sw_pool_t *pool, FILE *out, FILE *err)
{
    sw_def_t def;
    sim_diag_t d;
    sim_diag_init(&d);
    master_t m = {.o = o, .err = err};
    sw_pool_t fork_pool;
    sw_task_t *tasks = NULL;
    sw_result_t *res = NULL, *all = NULL;
    size_t nall = 0, capall = 0;
    bisect_t *bs = NULL;
    capacity_t *caps = NULL;
    group_t **gs = NULL;
    char *outpath = NULL;
    analysis_t an = {0};
    int status = 2;
    struct sigaction sa = {0}, old_int, old_term;
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, &old_int);
    sigaction(SIGTERM, &sa, &old_term);
    rs_interrupted = 0;

    int rc = sw_def_load(&def, o->sweep, o->sets, o->nsets, o->reps, o->have_seed, o->seed, &d);
    fputs(sim_diag_text(&d), err);
    if (rc) {
        status = rc == SIM_ENOMEM ? 1 : 2;
        goto out;
    }
    m.def = &def;
    if (o->find_max_load && def.load < 0) {
        fprintf(err, "%s: error: --find max-load needs a load axis (workload.rate, a rate axis, or `load: PATH`)\n",
                o->sweep);
        goto out;
    }
    if (o->find_max_load && def.axes[def.load].n < 2) {
        fprintf(err, "%s: error: --find max-load bisects between the load axis's lowest and highest values: "
                     "'%s' needs at least two\n", o->sweep, def.axes[def.load].path);
        goto out;
    }
    outpath = o->out ? strdup(o->out) : rs_default_output(o->sweep);
    m.ckpath = outpath ? malloc(strlen(outpath) + 6) : NULL;
    if (!outpath || !m.ckpath) {
        status = 1;
        goto out;
    }
    sprintf(m.ckpath, "%s.ckpt", outpath);
    if (!o->force && access(outpath, F_OK) == 0) {
        fprintf(err, "ragsim: error: %s already exists; use --force to replace it (or -o another file)\n", outpath);
        status = 2;
        goto out;
    }
    uint64_t hash = def.hash ^ (o->find_max_load ? 0x5bd1e9955bd1e995ull : 0);
    if ((rc = ck_open(&m, hash)) != 0) {
        status = rc;
        goto out;
    }
    status = 1;
    if (!pool && o->jobs > 1) {
        char why[256];
        pool = sw_fork_pool(&def, o->jobs, &fork_pool, why, sizeof why);
        if (!pool) {
            fprintf(err, "ragsim: error: cannot start %d worker processes: %s\n", o->jobs, why);
            goto out;
        }
    }
    m.pool = pool;
    if (pool) {
        size_t nw = (size_t)(pool->nworkers ? pool->nworkers : 1);
        m.depth = pool->depth > 1 ? pool->depth : 1;
        m.busy = calloc(nw * (size_t)m.depth, sizeof *m.busy);
        m.nbusy = calloc(nw, sizeof *m.nbusy);
        m.alive = malloc(nw * sizeof *m.alive);
        if (!m.busy || !m.nbusy || !m.alive) goto out;
        for (int w = 0; w < pool->nworkers; w++) m.alive[w] = true;
        m.nalive = pool->nworkers;
    }
    m.t0 = wall_now();
    size_t reps = (size_t)def.replications, nv = def.nvariants, bad = 0;
    if (!o->quiet) {
        fprintf(out, "sweep '%s' over %s: %zu points x %zu variants x %zu replications, seed %llu", def.name ? def.name : o->sweep,
                def.scenario_path, o->find_max_load ? def.npoints / def.axes[def.load].n : def.npoints, nv, reps,
                (unsigned long long)def.seed);
        if (pool && pool->nworkers) fprintf(out, ", %d %ss%s", pool->nworkers, pool->noun, pool->master_runs ? " + master" : "");
        fprintf(out, "\n");
        if (m.nck) fprintf(out, "resuming: %zu runs from %s\n", m.nck, m.ckpath);
        fflush(out);
    }

    if (!o->find_max_load) {
        size_t n = def.npoints * nv * reps;
        m.total = n;
        tasks = calloc(n ? n : 1, sizeof *tasks);
        res = calloc(n ? n : 1, sizeof *res);
        if (!tasks || !res) goto out;
        size_t k = 0;
        for (uint64_t p = 0; p < def.npoints; p++)
            for (uint32_t v = 0; v < nv; v++)
                for (uint32_t r = 0; r < reps; r++)
                    tasks[k++] = (sw_task_t){.point = p, .seed_index = p, .load = NAN, .variant = v, .rep = r};
        bad = run_batch(&m, tasks, n, res);
        if (bad == 0 && append_runs(&all, &nall, &capall, res, n)) goto out;
    } else {
        /* one bisection per (cell, variant); the seed index is the cell's
         * point (the load at its first value): common random numbers across
         * the loads of a bisection */
        const sw_axis_t *la = &def.axes[def.load];
        double lmin = la->value[0], lmax = la->value[0];
        for (size_t i = 0; i < la->n; i++) {
            if (la->value[i] < lmin) lmin = la->value[i];
            if (la->value[i] > lmax) lmax = la->value[i];
        }
        size_t nb = 0;
        bs = calloc(def.npoints * nv, sizeof *bs);
        tasks = calloc(def.npoints * nv * reps * 2 + 1, sizeof *tasks);
        res = calloc(def.npoints * nv * reps * 2 + 1, sizeof *res);
        if (!bs || !tasks || !res) goto out;
        for (uint64_t p = 0; p < def.npoints; p++) {
            size_t coord[SW_MAX_AXES];
            sw_point_coords(&def, p, coord);
            if (coord[def.load] != 0) continue;
            for (uint32_t v = 0; v < nv; v++)
                bs[nb++] = (bisect_t){.variant = v, .cell_point = p, .lo = NAN, .hi = NAN, .next = lmin};
        }
        m.total = nb * reps * (size_t)(def.find_steps + 2);
        for (int round = 0; round < def.find_steps + 2 && !bad; round++) {
            size_t k = 0;
            for (size_t b = 0; b < nb; b++) {
                if (bs[b].phase == 2) continue;
                double loads[2] = {bs[b].next, round == 0 ? lmax : NAN};
                for (int q = 0; q < 2; q++) {
                    if (isnan(loads[q])) continue;
                    for (uint32_t r = 0; r < reps; r++)
                        tasks[k++] = (sw_task_t){.point = bs[b].cell_point, .seed_index = bs[b].cell_point,
                                                 .load = loads[q], .variant = bs[b].variant, .rep = r};
                }
            }
            if (k == 0) break;
            bad = run_batch(&m, tasks, k, res);
            if (bad) break;
            if (append_runs(&all, &nall, &capall, res, k)) goto out;
            size_t j = 0;
            for (size_t b = 0; b < nb; b++) {
                bisect_t *x = &bs[b];
                if (x->phase == 2) continue;
                if (round == 0) {
                    bool okmin = load_meets(&def, res + j, reps), okmax = load_meets(&def, res + j + reps, reps);
                    j += 2 * reps;
                    if (!okmin || okmax) x->phase = 2;   /* below the range, or the whole range meets */
                    else {
                        x->lo = lmin;
                        x->hi = lmax;
                        x->phase = 1;
                    }
                } else {
                    bool ok = load_meets(&def, res + j, reps);
                    j += reps;
                    if (ok) x->lo = x->next;
                    else x->hi = x->next;
                }
                if (x->phase == 1 && round < def.find_steps) {
                    x->next = (x->lo + x->hi) / 2;
                    if (la->kind == SW_INTEGER) {
                        x->next = floor(x->next);
                        if (x->next <= x->lo) x->phase = 2;
                    }
                } else x->phase = 2;
            }
        }
    }
    progress_clear(&m);
    if (rs_interrupted) {
        fprintf(err, "ragsim: interrupted: %zu runs are kept in %s; run the same command with --resume to continue\n",
                m.done_total, m.ckpath);
        goto out;
    }
    if (bad) {
        fprintf(err, "ragsim: error: %zu run%s did not complete (listed above%s); %zu runs are kept in %s: fix the cause "
                     "and run the same command with --resume to run only the missing ones\n",
                bad, bad == 1 ? "" : "s", m.pool && m.nalive == 0 && !m.pool->master_runs ? "; no worker is left" : "",
                m.done_total - m.bad_total, m.ckpath);
        if (pool) {
            /* runs never handed out because every worker was gone */
            size_t unrun = bad > m.bad_total ? bad - m.bad_total : 0;
            if (unrun) fprintf(err, "ragsim: error: %zu runs were not started: no %s was left to run them\n", unrun, pool->noun);
        }
        goto out;
    }

    /* analysis and output */
    if (analyse(&an, &def, all, nall) != 0) goto out;
    for (size_t i = 0; i < def.nreq; i++)
        if (metric_index(&an, def.req[i].metric) < 0)
            fprintf(err, "%s: warning: capacity.require names '%s', which the runs do not report: no load meets it\n",
                    o->sweep, def.req[i].metric);
    size_t ncaps = 0;
    if (def.load >= 0) {
        size_t ncell = def.npoints / def.axes[def.load].n;
        caps = calloc(ncell * nv + 1, sizeof *caps);
        gs = calloc(an.ng + 1, sizeof *gs);
        if (!caps || !gs) goto out;
        for (uint32_t v = 0; v < nv; v++)
            for (uint64_t c = 0; c < ncell; c++) {
                size_t ng;
                capacity_t cp = capacity_of(&an, v, c, gs, &ng);
                if (ng) caps[ncaps++] = cp;
            }
    }
    if (!o->quiet) {
        fputc('\n', out);
        print_points(out, &an);
        if (ncaps) print_capacity(out, &an, caps, ncaps, o->find_max_load);
        else fprintf(out, "\nno load axis: no capacity answer (name one with `load: PATH`)\n");
    }
    int terr = 0;
    char ebuf[512];
    sim_trace_t *tr = sim_trace_create(outpath, &terr, ebuf, sizeof ebuf);
    if (!tr) {
        fprintf(err, "ragsim: error: %s\n", ebuf);
        goto out;
    }
    if (write_output(tr, &an, caps, ncaps, o->find_max_load) != 0) {
        fprintf(err, "ragsim: error: writing %s: %s\n", outpath, sim_trace_errmsg(tr));
        sim_trace_abort(tr);
        goto out;
    }
    if (sim_trace_commit(tr, ebuf, sizeof ebuf) != 0) {
        fprintf(err, "ragsim: error: %s\n", ebuf);
        goto out;
    }
    if (m.ckf) {
        fclose(m.ckf);
        m.ckf = NULL;
    }
    unlink(m.ckpath);
    if (!o->quiet) fprintf(out, "\nwrote %s (%zu runs, %.1f s wall)\n", outpath, nall, wall_now() - m.t0);
    status = 0;
out:
    progress_clear(&m);
    if (pool) pool->shutdown(pool->ctx, status != 0);
    if (m.ckf) fclose(m.ckf);
    sigaction(SIGINT, &old_int, NULL);
    sigaction(SIGTERM, &old_term, NULL);
    analysis_fini(&an);
    sw_cache_fini(&m.cache);
    free(m.ck);
    free(m.ckpath);
    free(m.busy);
    free(m.nbusy);
    free(m.alive);
    free(tasks);
    free(res);
    free(all);
    free(bs);
    free(caps);
    free(gs);
    free(outpath);
    sw_def_fini(&def);
    sim_diag_fini(&d);
    return status;
}
