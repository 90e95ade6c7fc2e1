/* `ragsim run` and `compare` through the sweep's master: their
 * replications are tasks (point 0, variant, replication) handed to the
 * same pools (-j worker processes, MPI ranks), recorded in the same
 * checkpoint and resumed by the same --resume (sweep_master.c,
 * sweep_checkpoint.c). Whoever runs a task writes the run into the
 * checkpoint directory OUT.h5.ckpt/: <variant>.rep<NNN>.h5 holds its trace
 * group /runs/<variant>/rep<NNN> and <variant>.rep<NNN>.rep its figures
 * (the rs_report_t and the run's counts, in the machine's byte order: read
 * back by the ragsim that wrote them). The command then assembles the
 * trace from them in the order of -j 1 (experiment/runner_cmd.c). Calls
 * the runner's API, the sweep's internals and sim/. */
#include "experiment/sweep.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "experiment/sweep_internal.h"
#include "sim/error.h"
#include "sim/outfile.h"
#include "sim/rng.h"
#include "sim/trace.h"
#include "sim/units.h"

/* res->msg, cut to its size */
static void set_msg(sw_result_t *res, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void set_msg(sw_result_t *res, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(res->msg, sizeof res->msg, fmt, ap);
    va_end(ap);
}

/* A trace's message without the part file's path in front (the master
 * names the run; the message must fit res->msg with the system's reason). */
static const char *without_path(const char *msg, const char *dir)
{
    const char *at = strstr(msg, dir);
    if (!at) return msg;
    const char *colon = strstr(at, ": ");
    return colon ? colon + 2 : msg;
}

static const char rep_magic[8] = {'R', 'G', 'R', 'U', 'N', 'R', 'P', '1'};

static uint64_t hash_bytes(uint64_t h, const void *p, size_t n)
{
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i++) {
        h ^= b[i];
        h *= 0x100000001B3ull;
    }
    return sim_rng_sm64(h);
}

static uint64_t hash_str(uint64_t h, const char *s) { return hash_bytes(h, s ? s : "", s ? strlen(s) + 1 : 1); }

uint64_t sw_job_hash(const rs_scenario_t *s, uint64_t seed, int64_t reps, const size_t *sel, size_t nsel, bool trace)
{
    uint64_t h = 0xCBF29CE484222325ull;
    h = hash_str(h, "ragsim run/compare");
    h = hash_str(h, RAGSIM_VERSION);
    int64_t layout = RS_TRACE_FORMAT_VERSION;   /* the runs' trace files in the checkpoint */
    h = hash_bytes(h, &layout, sizeof layout);
    h = hash_str(h, s->model->name);
    h = hash_str(h, s->yaml);
    for (size_t i = 0; i < s->nvariants; i++) {
        h = hash_str(h, s->variants[i].name);
        h = hash_str(h, s->variants[i].yaml);
    }
    h = hash_bytes(h, &seed, sizeof seed);
    h = hash_bytes(h, &reps, sizeof reps);
    for (size_t i = 0; i < nsel; i++) h = hash_bytes(h, &sel[i], sizeof sel[i]);
    unsigned char t = trace;
    return hash_bytes(h, &t, 1);
}

void sw_job_def(sw_def_t *def, const sw_job_t *job, char **names, int64_t reps, uint64_t hash)
{
    memset(def, 0, sizeof *def);
    def->job = job;
    def->path = job->s->path;
    def->name = job->s->sc.name;
    def->npoints = 1;
    def->load = -1;
    for (size_t i = 0; i < job->s->nvariants; i++) names[i] = (char *)job->s->variants[i].name;
    def->variants = names;
    def->nvariants = job->s->nvariants;
    def->replications = reps;
    def->seed = job->seed;
    def->hash = hash;
}

void sw_job_path(const sw_job_t *job, size_t variant, uint32_t rep, const char *ext, char *buf, size_t n)
{
    snprintf(buf, n, "%s/%s.rep%03u.%s", job->dir, job->s->variants[variant].name, rep, ext);
}

/* Write the figures file: to a temporary file, renamed. 0 or -1 (errno). */
static int write_rep(const char *path, const sw_runinfo_t *info, const rs_report_t *rep)
{
    char tmp[4300];
    snprintf(tmp, sizeof tmp, "%.4200s.tmp.%ld", path, (long)getpid());
    FILE *f = fopen(tmp, "wb");
    if (!f) return -1;
    uint64_t n = rep->n, nn = rep->nnotes;
    bool ok = fwrite(rep_magic, 8, 1, f) == 1 && fwrite(info, sizeof *info, 1, f) == 1 &&
              fwrite(&n, sizeof n, 1, f) == 1 && (n == 0 || fwrite(rep->e, sizeof *rep->e, n, f) == n) &&
              fwrite(&nn, sizeof nn, 1, f) == 1 && (nn == 0 || fwrite(rep->notes, sizeof *rep->notes, nn, f) == nn) &&
              fwrite(rep_magic, 8, 1, f) == 1;
    ok = fflush(f) == 0 && ok;
    int e = errno;
    ok = fclose(f) == 0 && ok;
    if (!ok || rename(tmp, path) != 0) {
        if (ok) e = errno;
        unlink(tmp);
        errno = e;
        return -1;
    }
    return 0;
}

int sw_job_read(const sw_job_t *job, size_t variant, uint32_t rep, rs_report_t *out, sw_runinfo_t *info, char *why,
                size_t whylen)
{
    char path[4200];
    sw_job_path(job, variant, rep, "rep", path, sizeof path);
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(why, whylen, "cannot read %s: %s", path, strerror(errno));
        return SIM_EIO;
    }
    char magic[8], end[8];
    uint64_t n = 0, nn = 0;
    bool ok = fread(magic, 8, 1, f) == 1 && !memcmp(magic, rep_magic, 8) && fread(info, sizeof *info, 1, f) == 1 &&
              fread(&n, sizeof n, 1, f) == 1 && n < (1u << 24);
    for (uint64_t i = 0; ok && i < n; i++) {
        rs_entry_t e;
        ok = fread(&e, sizeof e, 1, f) == 1;
        if (ok) {
            e.section[RS_NAME_MAX - 1] = e.row[RS_NAME_MAX - 1] = e.col[RS_NAME_MAX - 1] = 0;
            rs_report_add(out, e.section, e.row, e.col, e.kind, e.value);
        }
    }
    ok = ok && fread(&nn, sizeof nn, 1, f) == 1 && nn < (1u << 24);
    for (uint64_t i = 0; ok && i < nn; i++) {
        rs_note_t t;
        ok = fread(&t, sizeof t, 1, f) == 1;
        if (ok) {
            t.section[RS_NAME_MAX - 1] = t.row[RS_NAME_MAX - 1] = t.text[sizeof t.text - 1] = 0;
            rs_report_note(out, t.section, t.row, "%s", t.text);
        }
    }
    ok = ok && fread(end, 8, 1, f) == 1 && !memcmp(end, rep_magic, 8);
    fclose(f);
    if (!ok) {
        snprintf(why, whylen, "%s is truncated or not a run's figures file", path);
        return SIM_EIO;
    }
    return 0;
}

void sw_exec_job(const sw_def_t *def, const sw_task_t *t, sim_progress_fn hook, void *hook_ctx, sw_result_t *res)
{
    const sw_job_t *j = def->job;
    const rs_scenario_t *s = j->s;
    memset(res, 0, sizeof *res);
    res->task = *t;
    res->seed = j->seed;
    if (t->variant >= s->nvariants || t->point != 0) {
        res->status = SIM_EINVAL;
        set_msg(res, "no such run");
        return;
    }
    size_t v = t->variant;
    char h5[4200], rp[4200], eb[512];
    sim_trace_t *tr = NULL;
    if (j->trace) {
        int terr = 0;
        sw_job_path(j, v, t->rep, "h5", h5, sizeof h5);
        tr = sim_trace_create(h5, &terr, eb, sizeof eb);
        if (!tr) {
            res->status = terr ? terr : SIM_EIO;
            set_msg(res, "%s", without_path(eb, j->dir));
            return;
        }
        sim_trace_set_replace(tr, true);   /* a file of an earlier, unrecorded attempt */
        /* not a trace of its own: a part of the checkpoint */
        sim_trace_attr_str(tr, "/", "format", "ragsim-checkpoint-run");
        sim_trace_attr_i64(tr, "/", "complete", 0);
    }
    rs_result_t r;
    int rc = rs_run_one_traced_hook(s, v, t->rep, j->seed, j->max_events, hook, hook_ctx, tr, &r);
    if (rc != 0 && rc != SIM_EBUDGET) {
        res->status = rc;
        set_msg(res, "%s", rc == SIM_EHDF5 && tr ? without_path(sim_trace_errmsg(tr), j->dir) : sim_strerror(rc));
        rs_result_free(&r);   /* first: its series writer belongs to the trace */
        sim_trace_abort(tr);
        return;
    }
    int wrc = tr ? rs_write_run(tr, s, &r) : 0;
    if (wrc != 0) {
        res->status = wrc;
        set_msg(res, "writing the run failed: %s", without_path(sim_trace_errmsg(tr), j->dir));
        rs_result_free(&r);   /* first: its series writer belongs to the trace */
        sim_trace_abort(tr);
        return;
    }
    if (tr && (wrc = sim_trace_commit(tr, eb, sizeof eb)) != 0) {
        res->status = wrc;
        set_msg(res, "%s", without_path(eb, j->dir));
        rs_result_free(&r);
        return;
    }
    rs_report_t rep;
    rs_report_init(&rep);
    rs_report_run(s, &r, &rep);
    sw_runinfo_t info = {.seed = r.seed, .events = sim_events_processed(r.sim), .sim_seconds = sim_time_to_s(sim_now(r.sim)),
                         .wall_seconds = r.wall_seconds, .end = (int32_t)r.end, .limit = (int32_t)r.limit,
                         .limit_value = r.limit_value, .limit_seen = r.limit_seen};
    sw_job_path(j, v, t->rep, "rep", rp, sizeof rp);
    if (write_rep(rp, &info, &rep) != 0) {
        res->status = SIM_EIO;
        set_msg(res, "cannot write %s: %s", rp, strerror(errno));
    } else {
        res->status = rc;
        res->events = info.events;
        res->sim_seconds = info.sim_seconds;
        if (rc == SIM_EBUDGET) {
            char why[512];
            rs_limit_message(&r, why, sizeof why);
            set_msg(res, "stopped after %llu events at t = %.6g s: %s",
                     (unsigned long long)info.events, info.sim_seconds, why);
        }
        for (size_t i = 0; i < rep.n && res->nmetrics < SW_MAX_METRICS; i++) {
            if (strcmp(rep.e[i].section, "summary") != 0) continue;
            sw_metric_t *m = &res->m[res->nmetrics++];
            snprintf(m->name, sizeof m->name, "%s", rep.e[i].col);
            m->kind = (int32_t)rep.e[i].kind;
            m->value = rep.e[i].value;
        }
    }
    rs_report_fini(&rep);
    rs_result_free(&r);
}

/* Whether a name in the directory is one the job writes: the index, its
 * temporary, a run's files and their temporaries. */
static bool ours(const char *name)
{
    if (!strcmp(name, "index") || !strcmp(name, "index.new")) return true;
    const char *r = strstr(name, ".rep");
    if (!r || r == name) return false;
    const char *p = r + 4;
    size_t digits = strspn(p, "0123456789");
    if (digits < 3) return false;
    p += digits;
    if (strncmp(p, ".h5", 3) && strncmp(p, ".rep", 4)) return false;
    p += p[1] == 'h' ? 3 : 4;
    return *p == 0 || !strncmp(p, ".tmp.", 5);
}

/* Remove the job's files from its directory: all of them, or only the
 * temporary ones (left by workers stopped in the middle of a run). */
static void clean_dir(const char *dir, bool all)
{
    DIR *d = opendir(dir);
    if (!d) return;
    struct dirent *e;
    char p[4200];
    while ((e = readdir(d))) {
        if (!ours(e->d_name)) continue;
        if (!all && !strstr(e->d_name, ".tmp.") && strcmp(e->d_name, "index.new")) continue;
        snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
        struct stat st;
        if (lstat(p, &st) == 0 && S_ISREG(st.st_mode)) unlink(p);
    }
    closedir(d);
}

void sw_job_clean(const sw_job_t *job)
{
    clean_dir(job->dir, true);
    rmdir(job->dir);
}

#define JOB_BATCH 1024

int sw_job_run(const sw_job_t *job, const sw_job_opts_t *o, sw_pool_t *pool, const size_t *sel, size_t nsel,
               int64_t reps, unsigned char *state, size_t *ndone, FILE *err)
{
    sw_def_t def;
    char **names = calloc(job->s->nvariants + 1, sizeof *names);
    size_t n = nsel * (size_t)reps;
    sw_task_t *tasks = calloc(JOB_BATCH, sizeof *tasks);
    sw_result_t *res = calloc(JOB_BATCH, sizeof *res);
    sw_opts_t so = {.resume = o->resume, .quiet = o->quiet, .progress = o->progress, .jobs = o->jobs,
                    .what = "scenario", .command = "set of runs"};
    master_t m = {.o = &so, .err = err};
    sw_pool_t fork_pool;
    int status = 1;
    bool dir_ours = false;
    *ndone = 0;
    if (!names || !tasks || !res) {
        fprintf(err, "ragsim: error: out of memory\n");
        free(names);
        free(tasks);
        free(res);
        if (pool) pool->shutdown(pool->ctx, true);
        return 1;
    }
    uint64_t hash = sw_job_hash(job->s, job->seed, reps, sel, nsel, job->trace);
    sw_job_def(&def, job, names, reps, hash);
    m.def = &def;

    /* the checkpoint directory: ours, or made now */
    struct stat st;
    if (lstat(job->dir, &st) == 0) {
        if (!S_ISDIR(st.st_mode)) {
            fprintf(err, "ragsim: error: the checkpoint %s exists and is not a directory (%s): move it away\n",
                    job->dir, sim_file_kind(st.st_mode));
            status = 2;
            goto out;
        }
        if (!o->resume) clean_dir(job->dir, true);   /* an earlier, unfinished command's runs */
    } else if (mkdir(job->dir, 0777) != 0) {
        fprintf(err, "ragsim: error: cannot create the checkpoint directory %s: %s\n", job->dir, strerror(errno));
        goto out;
    }
    dir_ours = true;
    m.ckpath = malloc(strlen(job->dir) + 8);
    if (!m.ckpath) goto nomem;
    sprintf(m.ckpath, "%s/index", job->dir);
    int rc = sw_ck_open(&m, hash);
    if (rc) {
        status = rc;
        dir_ours = rc != 2;   /* a checkpoint of another command is left alone */
        goto out;
    }
    if (m.nck && !o->quiet) fprintf(err, "ragsim: resuming: %zu finished runs in %s\n", m.nck, job->dir);

    if (!pool && o->jobs > 1) {
        char why[256];
        int nw = o->jobs;
        if ((size_t)nw > n) nw = (int)(n ? n : 1);
        if (nw > 1) {
            pool = sw_fork_pool(&def, nw, &fork_pool, why, sizeof why);
            if (!pool) {
                fprintf(err, "ragsim: error: cannot start %d worker processes: %s\n", nw, why);
                goto out;
            }
        }
    }
    m.pool = pool;
    if (pool) {
        size_t nw = (size_t)(pool->nworkers ? pool->nworkers : 1);
        m.depth = pool->depth > 1 ? pool->depth : 1;
        m.busy = calloc(nw * (size_t)m.depth, sizeof *m.busy);
        m.nbusy = calloc(nw, sizeof *m.nbusy);
        m.alive = malloc(nw * sizeof *m.alive);
        if (!m.busy || !m.nbusy || !m.alive) goto nomem;
        for (int w = 0; w < pool->nworkers; w++) m.alive[w] = true;
        m.nalive = pool->nworkers;
    }
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    m.t0 = (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
    m.total = n;
    size_t bad = 0;
    bool budget = false;
    for (size_t base = 0; base < n && !budget && !rs_interrupted && !m.pool_failed; base += JOB_BATCH) {
        size_t k = n - base < JOB_BATCH ? n - base : JOB_BATCH;
        for (size_t i = 0; i < k; i++) {
            size_t t = base + i;
            tasks[i] = (sw_task_t){.point = 0, .seed_index = 0, .load = NAN, .variant = (uint32_t)sel[t / (size_t)reps],
                                   .rep = (uint32_t)(t % (size_t)reps)};
            res[i].task = tasks[i];
            res[i].status = INT32_MIN;   /* not run */
        }
        bad += sw_run_batch(&m, tasks, k, res);
        for (size_t i = 0; i < k; i++) {
            int32_t s = res[i].status;
            state[base + i] = s == INT32_MIN ? SW_JOB_NOT_RUN : s == 0 ? SW_JOB_DONE : s == SIM_EBUDGET ? SW_JOB_BUDGET
                                                                                                       : SW_JOB_FAILED;
            budget |= s == SIM_EBUDGET;
        }
        if (!budget && !rs_interrupted && bad) break;   /* failed runs: stop here, report below */
    }
    sw_progress_clear(&m);
    *ndone = m.done_total - m.bad_total;
    if (rs_interrupted) status = SIM_EINTERRUPTED;
    else if (budget) status = SIM_EBUDGET;
    else if (bad) {
        if (*ndone)
            fprintf(err, "ragsim: error: %zu run%s did not complete (listed above); the %zu finished are kept in %s: "
                         "fix the cause and run the same command with --resume to run only the missing ones\n",
                    bad, bad == 1 ? "" : "s", *ndone, job->dir);
        status = 1;
    } else status = 0;
    goto out;
nomem:
    fprintf(err, "ragsim: error: out of memory\n");
    status = 1;
out:
    if (m.pool) m.pool->shutdown(m.pool->ctx, status != 0);
    else if (pool) pool->shutdown(pool->ctx, status != 0);
    if (m.ckf) fclose(m.ckf);
    if (dir_ours) {
        if (status != 0 && status != SIM_EBUDGET && *ndone == 0 && m.nck == 0) sw_job_clean(job);   /* nothing to keep */
        else clean_dir(job->dir, false);
    }
    sw_cache_fini(&m.cache);
    free(m.ck);
    free(m.ckpath);
    free(m.busy);
    free(m.nbusy);
    free(m.alive);
    free(tasks);
    free(res);
    free(names);
    return status;
}

int sw_job_worker_serve(const rs_opts_t *o, int (*get)(void *ctx, sw_task_t *t),
                        int (*put)(void *ctx, const sw_result_t *r), void *ctx)
{
    sim_diag_t d;
    sim_diag_init(&d);
    rs_scenario_t s;
    int lrc = rs_load(&s, o->scenario, o->sets, o->nsets, &d);
    sim_diag_fini(&d);
    bool ok = lrc == 0;
    char *out = NULL, *dir = NULL;
    if (ok) {
        s.budget = o->budget;
        int64_t reps = o->reps > 0 ? o->reps : s.sc.replications;
        s.sc.replications = reps;
        out = o->out ? strdup(o->out) : rs_default_output(o->scenario);
        dir = out ? malloc(strlen(out) + 6) : NULL;
        if (dir) sprintf(dir, "%s.ckpt", out);
    }
    sw_job_t job = {.s = &s, .dir = dir, .seed = o->have_seed ? o->seed : s.sc.seed, .max_events = o->max_events,
                    .trace = !o->no_trace};
    sw_def_t def;
    char **names = ok ? calloc(s.nvariants + 1, sizeof *names) : NULL;
    if (ok && names && dir) sw_job_def(&def, &job, names, s.sc.replications, 0);
    sw_result_t *res = malloc(sizeof *res);
    sw_task_t t;
    int rc, status = 0;
    while (res && (rc = get(ctx, &t)) == 1) {
        if (ok && names && dir) sw_exec_task(&def, NULL, &t, NULL, NULL, res);
        else {
            memset(res, 0, sizeof *res);
            res->task = t;
            res->status = SIM_ECONFIG;
            set_msg(res, "the scenario does not load on this rank");
        }
        if (put(ctx, res) != 0) {
            status = 1;
            break;
        }
    }
    if (!res) status = 1;
    free(res);
    free(names);
    free(out);
    free(dir);
    rs_unload(&s);
    return status;
}
