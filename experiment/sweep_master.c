/* `ragsim sweep`: the command (sw_cmd_sweep) and its master, which hands
 * the tasks of a batch out to the pool's workers (and runs some itself),
 * collects their results, notices lost workers and draws the progress bar.
 * The grid is one batch; --find max-load runs a batch per bisection round
 * (sweep_find.c). Then the capacity answers (sweep_capacity.c), the printed
 * tables and the output file (sweep_output.c). Calls sweep.h, the sweep's
 * internals (sweep_internal.h), the runner's API and sim/. */
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "experiment/sweep.h"
#include "experiment/sweep_internal.h"
#include "sim/error.h"
#include "sim/outfile.h"
#include "sim/trace.h"

const char sw_usage[] =
    "usage: ragsim sweep SWEEP.yaml [-o OUT.h5] [-j N] [--resume] [--find max-load]\n"
    "                    [--reps N] [--seed N] [--set KEY=VALUE]... [--force] [--json[=FILE]] [-q]\n"
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
    "                        an existing file is refused unless --force is given (and\n"
    "                        even then unless it is a regular file and not an input)\n"
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
    "      --force           replace an existing OUT.h5 or --json FILE (a regular file,\n"
    "                        not an input)\n"
    "      --json[=FILE]     the points and the capacity answers as JSON, schema\n"
    "                        docs/schema/ragsim-sweep-summary.schema.json (docs/json-summary.md):\n"
    "                        on stdout instead of the tables, or into FILE (temporary, renamed)\n"
    "  -q, --quiet           no tables and no progress bar (--json is still written)\n"
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
    "Exit status: 0 success, 1 runtime failure (lost or failed runs, a full disk), 2 bad\n"
    "usage or bad input (FILE:LINE:COL: error: ...) or OUT exists without --force,\n"
    "130/143 stopped by SIGINT/SIGTERM (the runs done are kept in OUT.h5.ckpt).\n";

/* ---- progress ---------------------------------------------------------------------- */

static double wall_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void progress_clear(master_t *m);

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
    char what[96] = "";
    if (m->def->job && m->shown && m->shown->variant < m->def->nvariants)
        snprintf(what, sizeof what, "  %.40s rep %u", m->def->variants[m->shown->variant], m->shown->rep);
    fprintf(m->err, "\r[%s] %zu/%zu runs%s  %d %s%s  %.1f s  ETA %d:%02d ", bar, m->done_total, total, what,
            workers, m->pool ? m->pool->noun : "process", workers == 1 ? "" : "s", el, (int)eta / 60,
            (int)eta % 60);
    fflush(m->err);
    m->drawn = true;
}

void sw_progress_clear(master_t *m) { progress_clear(m); }

static void progress_clear(master_t *m)
{
    if (m->drawn) {
        fprintf(m->err, "\r%*s\r", 110, "");
        fflush(m->err);
        m->drawn = false;
    }
}

/* "point 3 (workload.rate=300/s, vectordb.replicas=2), variant naive, replication 1" */
static void describe_task(const sw_def_t *def, const sw_task_t *t, char *buf, size_t n)
{
    if (def->job) {
        snprintf(buf, n, "variant '%s' replication %u", t->variant < def->nvariants ? def->variants[t->variant] : "?",
                 t->rep);
        return;
    }
    if (def->design) {
        const sw_design_point_t *dp = t->point < def->npoints ? &def->design[t->point] : NULL;
        int k = snprintf(buf, n, "configuration %llu (", (unsigned long long)t->point);
        for (size_t i = 0; dp && i < dp->nsets && k > 0 && (size_t)k < n; i++)
            k += snprintf(buf + k, n - (size_t)k, "%s%s", i ? ", " : "", dp->sets[i]);
        if (dp && dp->nsets == 0 && k > 0 && (size_t)k < n) k += snprintf(buf + k, n - (size_t)k, "the base");
        if (k > 0 && (size_t)k < n)
            snprintf(buf + k, n - (size_t)k, "), variant %s, replication %u",
                     t->variant < def->nvariants ? def->variants[t->variant] : "?", t->rep);
        return;
    }
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
/* ---- hand-out ---------------------------------------------------------------------- */

static void record(master_t *m, size_t idx, const sw_result_t *r, const char *who)
{
    char d[512];
    m->res[idx] = *r;
    if (r->status == 0) {
        m->st[idx] = ST_DONE;
        sw_ck_append(m, r);
    } else {
        m->st[idx] = ST_FAILED;
        m->bad_total++;
        progress_clear(m);
        describe_task(m->def, &m->tasks[idx], d, sizeof d);
        if (m->def->job && r->status == SIM_EBUDGET) {
            /* run/compare stop at a run stopped by a budget: no more are
             * started (the command reports it, from the run's files) */
            m->next = m->n;
        } else
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
            m->shown = &m->tasks[idx];
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
            if (idx >= 0 && sw_task_cmp(&r->task, &m->tasks[idx]) == 0) {
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
size_t sw_run_batch(master_t *m, const sw_task_t *tasks, size_t n, sw_result_t *res)
{
    m->tasks = tasks;
    m->res = res;
    m->n = n;
    m->next = 0;
    m->inflight = 0;
    m->st = calloc(n ? n : 1, 1);
    if (!m->st) {
        fprintf(m->err, "ragsim: error: out of memory\n");
        return n;
    }
    for (size_t i = 0; i < n; i++) {
        const sw_result_t *c = sw_ck_find(m, &tasks[i]);
        if (c) {
            res[i] = *c;
            m->st[i] = ST_DONE;
            m->done_total++;
            m->resumed++;
        }
    }
    sw_result_t *r = malloc(sizeof *r);
    if (!r) {
        fprintf(m->err, "ragsim: error: out of memory\n");
        free(m->st);
        m->st = NULL;
        return n;
    }
    for (;;) {
        serve(m, 0);
        progress_draw(m, false);
        if (rs_interrupted) break;
        bool local = !m->pool || m->pool->master_runs || m->pool->nworkers == 0;
        if (local) {
            size_t idx = take_next(m);
            if (idx != SIZE_MAX) {
                m->st[idx] = ST_RUN;
                m->shown = &tasks[idx];
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
    m->shown = NULL;
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


static void on_signal(int sig) { rs_interrupted = sig; }

/* After the output could not be written: what the checkpoint holds and
 * how to finish without running the runs again (`exists`: the output
 * appeared meanwhile, else the disk is full or failing). */
static void kept_note(const master_t *m, bool exists, FILE *err)
{
    if (m->ck_failed || !m->ckf)
        fprintf(err, "ragsim: the checkpoint %s holds only part of the runs (it could not be written): --resume "
                     "runs the others again\n", m->ckpath);
    else if (exists)
        fprintf(err, "ragsim: the %zu runs are kept in %s: run the same command with --resume --force to write "
                     "the output over the file that appeared, without running them again\n",
                m->done_total - m->bad_total, m->ckpath);
    else
        fprintf(err, "ragsim: the %zu runs are kept in %s: make room and run the same command with --resume to "
                     "write the output without running them again\n", m->done_total - m->bad_total, m->ckpath);
}

/* Append results to a growing array. */
int sw_append_runs(sw_result_t **all, size_t *n, size_t *cap, const sw_result_t *r, size_t k)
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

/* ---- the master's life: start, output, end (sweep_internal.h) ---------------------------- */

int sw_output_lock(const char *out, int *fd, char **lockpath, FILE *err)
{
    *fd = -1;
    *lockpath = malloc(strlen(out) + 11);
    if (!*lockpath) {
        fprintf(err, "ragsim: error: out of memory\n");
        return 1;
    }
    sprintf(*lockpath, "%s.ckpt.lock", out);
    long holder = 0;
    *fd = sim_lock_take(*lockpath, &holder);
    if (*fd >= 0) return 0;
    int e = errno;
    if (e == EWOULDBLOCK) {
        char pid[48] = "";
        if (holder > 0) snprintf(pid, sizeof pid, " (pid %ld)", holder);
        fprintf(err, "ragsim: error: another ragsim command%s is writing %s and its checkpoint %s.ckpt (it holds "
                     "%s); wait for it to end, or give this one another output (-o FILE)\n",
                pid, out, out, *lockpath);
    } else {
        fprintf(err, "ragsim: error: cannot take the lock %s: %s\n", *lockpath,
                e == EEXIST ? "it exists and is not a regular file: move it away" : strerror(e));
    }
    free(*lockpath);
    *lockpath = NULL;
    return e == EWOULDBLOCK || e == EEXIST ? 2 : 1;
}

void sw_output_unlock(int *fd, char **lockpath)
{
    if (*lockpath && *fd >= 0) sim_lock_drop(*fd, *lockpath);   /* a master never started has neither */
    *fd = -1;
    free(*lockpath);
    *lockpath = NULL;
}

int sw_master_start(master_t *m, const sw_def_t *def, const sw_opts_t *o, sw_pool_t *pool, sw_pool_t *fork_storage,
                    const char *outpath, const sim_input_t *inputs, size_t ninputs, uint64_t hash)
{
    m->def = def;
    m->o = o;
    m->ckpath = malloc(strlen(outpath) + 6);
    if (!m->ckpath) {
        fprintf(m->err, "ragsim: error: out of memory\n");
        return 1;
    }
    sprintf(m->ckpath, "%s.ckpt", outpath);
    int lrc = sw_output_lock(outpath, &m->lockfd, &m->lockpath, m->err);
    if (lrc) return lrc;
    /* the output: an existing file only with --force, and only a regular
     * file that is not an input; the checkpoint is the command's own file,
     * replaced freely, but under the same two conditions */
    char why[1024];
    int rc;
    if ((rc = sim_output_check(outpath, o->force, inputs, ninputs, why, sizeof why)) != 0 ||
        (rc = sim_output_check(m->ckpath, true, inputs, ninputs, why, sizeof why)) != 0) {
        fprintf(m->err, "ragsim: error: %s\n", why);
        return 2;
    }
    if ((rc = sw_ck_open(m, hash)) != 0) return rc;
    if (!pool && o->jobs > 1) {
        char whyp[256];
        pool = sw_fork_pool(def, o->jobs, fork_storage, whyp, sizeof whyp);
        if (!pool) {
            fprintf(m->err, "ragsim: error: cannot start %d worker processes: %s\n", o->jobs, whyp);
            return 1;
        }
    }
    m->pool = pool;
    if (pool) {
        size_t nw = (size_t)(pool->nworkers ? pool->nworkers : 1);
        m->depth = pool->depth > 1 ? pool->depth : 1;
        m->busy = calloc(nw * (size_t)m->depth, sizeof *m->busy);
        m->nbusy = calloc(nw, sizeof *m->nbusy);
        m->alive = malloc(nw * sizeof *m->alive);
        if (!m->busy || !m->nbusy || !m->alive) {
            fprintf(m->err, "ragsim: error: out of memory\n");
            return 1;
        }
        for (int w = 0; w < pool->nworkers; w++) m->alive[w] = true;
        m->nalive = pool->nworkers;
    }
    m->t0 = wall_now();
    return 0;
}

double sw_master_elapsed(const master_t *m) { return wall_now() - m->t0; }

void sw_master_progress_clear(master_t *m) { progress_clear(m); }

int sw_master_check_bad(master_t *m, size_t bad)
{
    progress_clear(m);
    if (!bad) return 0;
    sw_pool_t *pool = m->pool;
    fprintf(m->err, "ragsim: error: %zu run%s did not complete (listed above%s); %zu runs are kept in %s: fix the cause "
                    "and run the same command with --resume to run only the missing ones\n",
            bad, bad == 1 ? "" : "s", pool && m->nalive == 0 && !pool->master_runs ? "; no worker is left" : "",
            m->done_total - m->bad_total, m->ckpath);
    if (pool) {
        /* runs never handed out because every worker was gone */
        size_t unrun = bad > m->bad_total ? bad - m->bad_total : 0;
        if (unrun) fprintf(m->err, "ragsim: error: %zu runs were not started: no %s was left to run them\n", unrun, pool->noun);
    }
    return 1;
}

int sw_master_write(master_t *m, const char *outpath, int (*write)(sim_trace_t *tr, void *ctx), void *ctx)
{
    int terr = 0, rc;
    char ebuf[512];
    sim_trace_t *tr = sim_trace_create(outpath, &terr, ebuf, sizeof ebuf);
    if (!tr) {
        fprintf(m->err, "ragsim: error: %s\n", ebuf);
        kept_note(m, false, m->err);
        return 1;
    }
    sim_trace_set_replace(tr, m->o->force);
    sim_trace_set_interrupt(tr, &rs_interrupted);
    if (write(tr, ctx) != 0) {
        fprintf(m->err, "ragsim: error: writing %s: %s\n", outpath, sim_trace_errmsg(tr));
        sim_trace_abort(tr);
        kept_note(m, false, m->err);
        return 1;
    }
    if ((rc = sim_trace_commit(tr, ebuf, sizeof ebuf)) != 0) {
        if (rc == SIM_EINTERRUPTED) return 1;   /* reported by sw_master_end */
        fprintf(m->err, "ragsim: error: %s\n", ebuf);
        kept_note(m, rc == SIM_EEXIST, m->err);
        return rc == SIM_EEXIST ? 2 : 1;
    }
    if (m->ckf) {
        fclose(m->ckf);
        m->ckf = NULL;
    }
    unlink(m->ckpath);
    return 0;
}

void sw_master_signals(master_t *m)
{
    struct sigaction sa = {0};
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, &m->old_int);
    sigaction(SIGTERM, &sa, &m->old_term);
    m->signals_set = true;
    rs_interrupted = 0;
}

int sw_master_end(master_t *m, int status, const char *outpath)
{
    progress_clear(m);
    if (rs_interrupted && status != 0 && status != 2 && m->def) {
        /* stopped by a signal: the runs done are in the checkpoint */
        int sig = (int)rs_interrupted;
        fprintf(m->err, "ragsim: interrupted by %s: nothing was written to %s; %zu run%s %s kept in %s: run the same "
                        "command with --resume to continue\n",
                sig == SIGINT ? "SIGINT" : sig == SIGTERM ? "SIGTERM" : "a signal", outpath ? outpath : "the output",
                m->done_total - m->bad_total, m->done_total - m->bad_total == 1 ? "" : "s",
                m->done_total - m->bad_total == 1 ? "is" : "are", m->ckpath ? m->ckpath : "the checkpoint");
        status = 128 + sig;
    }
    if (m->pool) m->pool->shutdown(m->pool->ctx, status != 0);
    if (m->ckf) fclose(m->ckf);
    sw_output_unlock(&m->lockfd, &m->lockpath);
    if (m->signals_set) {
        sigaction(SIGINT, &m->old_int, NULL);
        sigaction(SIGTERM, &m->old_term, NULL);
    }
    sw_cache_fini(&m->cache);
    free(m->ck);
    free(m->ckpath);
    free(m->busy);
    free(m->nbusy);
    free(m->alive);
    memset(m, 0, sizeof *m);
    return status;
}

/* ---- the command ------------------------------------------------------------------------- */

typedef struct sweep_write {
    const analysis_t *an;
    const capacity_t *caps;
    size_t ncaps;
    bool find;
} sweep_write_t;

static int sweep_write(sim_trace_t *tr, void *ctx)
{
    const sweep_write_t *w = ctx;
    return sw_write_output(tr, w->an, w->caps, w->ncaps, w->find);
}

typedef struct sweep_json {
    const analysis_t *an;
    const capacity_t *caps;
    size_t ncaps;
    bool find;
    const char *outpath;
} sweep_json_t;

static int sweep_json(FILE *f, void *ctx)
{
    const sweep_json_t *w = ctx;
    return sw_write_json(f, w->an, w->caps, w->ncaps, w->find, w->outpath);
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
    capacity_t *caps = NULL;
    group_t **gs = NULL;
    char *outpath = NULL;
    analysis_t an = {0};
    int status = 2;
    sw_master_signals(&m);

    int rc = sw_def_load(&def, o->sweep, o->sets, o->nsets, o->reps, o->have_seed, o->seed, &d);
    if (rc == SIM_ECONFIG && d.nomem) rc = SIM_ENOMEM;
    fputs(sim_diag_text(&d), err);
    if (rc == SIM_ENOMEM) fprintf(err, "ragsim: error: out of memory loading %s\n", o->sweep);
    if (rc) {
        status = rc == SIM_ENOMEM ? 1 : 2;
        goto out;
    }
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
    if (!outpath) {
        status = 1;
        goto out;
    }
    bool json_stdout = o->json && strcmp(o->json, "-") == 0;
    bool quiet = o->quiet || json_stdout;
    {
        const sim_input_t inputs[] = {{o->sweep, "the sweep file"}, {def.scenario_path, "the sweep's base scenario"}};
        if (o->json && !json_stdout) {
            char why[1024];
            if (strcmp(o->json, outpath) == 0) {
                fprintf(err, "ragsim: error: --json %s is the output file too; give the summary another name\n", o->json);
                goto out;
            }
            if (sim_output_check(o->json, o->force, inputs, 2, why, sizeof why) != 0) {
                fprintf(err, "ragsim: error: --json: %s\n", why);
                goto out;
            }
        }
        uint64_t hash = def.hash ^ (o->find_max_load ? 0x5bd1e9955bd1e995ull : 0);
        if ((status = sw_master_start(&m, &def, o, pool, &fork_pool, outpath, inputs, 2, hash)) != 0) {
            pool = m.pool;
            goto out;
        }
        pool = m.pool;
    }
    status = 1;
    size_t reps = (size_t)def.replications, nv = def.nvariants, bad = 0;
    if (!quiet) {
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
        if (!tasks || !res) goto nomem;
        size_t k = 0;
        for (uint64_t p = 0; p < def.npoints; p++)
            for (uint32_t v = 0; v < nv; v++)
                for (uint32_t r = 0; r < reps; r++)
                    tasks[k++] = (sw_task_t){.point = p, .seed_index = p, .load = NAN, .variant = v, .rep = r};
        bad = sw_run_batch(&m, tasks, n, res);
        if (bad == 0 && sw_append_runs(&all, &nall, &capall, res, n)) goto nomem;
    } else if (sw_find_max_load(&m, &all, &nall, &capall, &bad) != 0) {
        goto nomem;
    }
    progress_clear(&m);
    if (rs_interrupted) goto out;
    if (sw_master_check_bad(&m, bad)) goto out;

    /* analysis and output */
    if (sw_analyse(&an, &def, all, nall) != 0) goto nomem;
    for (size_t i = 0; i < def.nreq; i++)
        if (sw_metric_index(&an, def.req[i].metric) < 0)
            fprintf(err, "%s: warning: capacity.require names '%s', which the runs do not report: no load meets it\n",
                    o->sweep, def.req[i].metric);
    size_t ncaps = 0;
    if (def.load >= 0) {
        size_t ncell = def.npoints / def.axes[def.load].n;
        caps = calloc(ncell * nv + 1, sizeof *caps);
        gs = calloc(an.ng + 1, sizeof *gs);
        if (!caps || !gs) goto nomem;
        for (uint32_t v = 0; v < nv; v++)
            for (uint64_t c = 0; c < ncell; c++) {
                size_t ng;
                capacity_t cp = sw_capacity_of(&an, v, c, gs, &ng);
                if (ng) caps[ncaps++] = cp;
            }
    }
    if (!quiet) {
        fputc('\n', out);
        sw_print_points(out, &an);
        if (ncaps) sw_print_capacity(out, &an, caps, ncaps, o->find_max_load);
        else fprintf(out, "\nno load axis: no capacity answer (name one with `load: PATH`)\n");
    }
    sweep_write_t w = {&an, caps, ncaps, o->find_max_load};
    if ((status = sw_master_write(&m, outpath, sweep_write, &w)) != 0) goto out;
    if (o->json) {
        sweep_json_t js = {&an, caps, ncaps, o->find_max_load, outpath};
        char why[1024];
        int jr = json_stdout ? sweep_json(out, &js) : sim_write_file(o->json, o->force, sweep_json, &js, why, sizeof why);
        if (jr != 0) {
            if (json_stdout) snprintf(why, sizeof why, "writing the JSON summary to standard output failed");
            fprintf(err, "ragsim: error: %s\n", why);
            status = jr == -2 ? 2 : 1;
            goto out;
        }
    }
    if (!quiet) fprintf(out, "\nwrote %s (%zu runs, %.1f s wall)\n", outpath, nall, wall_now() - m.t0);
    goto out;
nomem:
    progress_clear(&m);
    fprintf(err, "ragsim: error: out of memory (%zu runs are kept in %s)\n", m.done_total - m.bad_total,
            m.ckpath ? m.ckpath : "the checkpoint");
    status = 1;
out:
    status = sw_master_end(&m, status, outpath);
    sw_analysis_fini(&an);
    free(tasks);
    free(res);
    free(all);
    free(caps);
    free(gs);
    free(outpath);
    sw_def_fini(&def);
    sim_diag_fini(&d);
    return status;
}
