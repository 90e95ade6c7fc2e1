/* Sweeps: running a task (sw_exec_task: the point's scenario, loaded once
 * per point, run and reduced to a fixed-size result), a worker's loop
 * (sw_worker_serve, used by the MPI ranks), and the fork pool of -j: worker
 * processes that inherit the sweep and talk to the master over socket
 * pairs (sw_fork_pool). Calls the runner's API, sweep_internal.h and sim/. */
#include "experiment/sweep.h"

#include <errno.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "experiment/sweep_internal.h"
#include "sim/error.h"
#include "sim/units.h"

/* ---- tasks ---------------------------------------------------------------------- */

static const rs_entry_t *report_entry(const rs_report_t *rep, const char *name);

void sw_cache_fini(sw_cache_t *c)
{
    if (c->loaded) rs_unload(&c->s);
    memset(c, 0, sizeof *c);
}

void sw_exec_task(const sw_def_t *def, sw_cache_t *c, const sw_task_t *t, sim_progress_fn hook, void *hook_ctx,
                  sw_result_t *res)
{
    if (def->job) {
        sw_exec_job(def, t, hook, hook_ctx, res);
        return;
    }
    memset(res, 0, sizeof *res);
    res->task = *t;
    res->seed = def->design ? def->seed : sw_point_seed(def->seed, t->seed_index);
    bool same = c->loaded && c->point == t->point &&
                ((isnan(c->load) && isnan(t->load)) || c->load == t->load);
    if (!same) {
        sw_cache_fini(c);
        size_t coord[SW_MAX_AXES];
        sw_point_coords(def, t->point, coord);
        sim_diag_t d;
        sim_diag_init(&d);
        int rc = sw_load_point(def, coord, t->load, &c->s, &d);
        if (rc) {
            res->status = rc;
            const char *txt = sim_diag_text(&d);
            snprintf(res->msg, sizeof res->msg, "%.*s", (int)strcspn(txt, "\n"), txt);
            sim_diag_fini(&d);
            rs_unload(&c->s);
            return;
        }
        sim_diag_fini(&d);
        c->loaded = true;
        c->point = t->point;
        c->load = t->load;
    }
    int v = t->variant < def->nvariants ? rs_variant_find(&c->s, def->variants[t->variant]) : -1;
    if (v < 0) {
        res->status = SIM_EINVAL;
        snprintf(res->msg, sizeof res->msg, "no variant %u", t->variant);
        return;
    }
    rs_result_t r;
    int rc = rs_run_one_hook(&c->s, (size_t)v, t->rep, res->seed, 0, hook, hook_ctx, &r);
    if (rc) {
        res->status = rc;
        snprintf(res->msg, sizeof res->msg, "%s", sim_strerror(rc));
        rs_result_free(&r);
        return;
    }
    res->events = sim_events_processed(r.sim);
    res->sim_seconds = sim_time_to_s(sim_now(r.sim));
    rs_report_t rep;
    rs_report_init(&rep);
    rs_report_run(&c->s, &r, &rep);
    for (size_t i = 0; i < def->nextra && res->nmetrics < SW_MAX_METRICS; i++) {
        sw_metric_t *m = &res->m[res->nmetrics++];
        snprintf(m->name, sizeof m->name, "%s", def->extra_metrics[i]);
        const rs_entry_t *e = report_entry(&rep, def->extra_metrics[i]);
        m->kind = (int32_t)(e ? e->kind : RS_NUMBER);
        m->value = e ? e->value : NAN;
    }
    for (size_t i = 0; i < rep.n && res->nmetrics < SW_MAX_METRICS; i++) {
        if (strcmp(rep.e[i].section, "summary") != 0) continue;
        sw_metric_t *m = &res->m[res->nmetrics++];
        snprintf(m->name, sizeof m->name, "%s", rep.e[i].col);
        m->kind = (int32_t)rep.e[i].kind;
        m->value = rep.e[i].value;
    }
    rs_report_fini(&rep);
    rs_result_free(&r);
}

static const rs_entry_t *report_entry(const rs_report_t *rep, const char *name)
{
    const char *colon = strchr(name, ':');
    if (!colon) return NULL;
    for (size_t i = 0; i < rep->n; i++) {
        const rs_entry_t *e = &rep->e[i];
        if (strlen(e->row) != (size_t)(colon - name) || strncmp(e->row, name, (size_t)(colon - name))) continue;
        const char *a = e->col, *b = colon + 1;
        while (*a && *b && (*a == *b || (*a == ' ' && *b == '_'))) a++, b++;
        if (!*a && !*b) return e;
    }
    return NULL;
}

double sw_report_figure(const rs_report_t *rep, const char *name)
{
    const rs_entry_t *e = report_entry(rep, name);
    return e ? e->value : NAN;
}

void sw_test_crash(const sw_task_t *t)
{
    const char *e = getenv("RAGSIM_SWEEP_TEST_CRASH");
    unsigned long long p, v, r;
    if (e && sscanf(e, "%llu:%llu:%llu", &p, &v, &r) == 3 && p == t->point && v == t->variant && r == t->rep)
        raise(SIGKILL);
}

int sw_load_sweep_def(const sw_opts_t *o, sw_def_t *def, sim_diag_t *d)
{
    return sw_def_load(def, o->sweep, o->sets, o->nsets, o->reps, o->have_seed, o->seed, d);
}

int sw_worker_serve(const sw_opts_t *o, sw_def_loader_fn load, int (*get)(void *ctx, sw_task_t *t),
                    int (*put)(void *ctx, const sw_result_t *r), void *ctx)
{
    sw_def_t def;
    bool loaded = false;
    int status = 0, rc;
    sw_cache_t cache = {0};
    sw_result_t *res = malloc(sizeof *res);
    if (!res) return 1;
    sw_task_t t;
    while ((rc = get(ctx, &t)) == 1) {
        if (!loaded) {
            sim_diag_t d;
            sim_diag_init(&d);
            int lrc = load(o, &def, &d);
            sim_diag_fini(&d);
            loaded = true;
            if (lrc) {
                sw_def_fini(&def);
                memset(res, 0, sizeof *res);
                res->task = t;
                res->status = lrc;
                snprintf(res->msg, sizeof res->msg, "the %s does not load on this worker", o->what ? o->what : "sweep file");
                if (put(ctx, res) != 0) break;
                continue;
            }
        }
        sw_test_crash(&t);
        if (def.cfg || def.design) sw_exec_task(&def, &cache, &t, NULL, NULL, res);
        else {
            memset(res, 0, sizeof *res);
            res->task = t;
            res->status = SIM_ECONFIG;
            snprintf(res->msg, sizeof res->msg, "the %s does not load on this worker", o->what ? o->what : "sweep file");
        }
        if (put(ctx, res) != 0) {
            status = 1;
            break;
        }
    }
    if (rc < 0) status = 1;
    sw_cache_fini(&cache);
    if (loaded) sw_def_fini(&def);
    free(res);
    return status;
}

/* ---- the fork pool --------------------------------------------------------------- */

typedef struct fork_pool {
    int n;
    pid_t *pid;
    int *fd;                        /* -1: gone */
} fork_pool_t;

static int write_full(int fd, const void *buf, size_t n)
{
    const char *p = buf;
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

/* 1 read, 0 end of file before anything, -1 error or short */
static int read_full(int fd, void *buf, size_t n)
{
    char *p = buf;
    size_t got = 0;
    while (got < n) {
        ssize_t r = read(fd, p + got, n - got);
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) return -1;
        if (r == 0) return got == 0 ? 0 : -1;
        got += (size_t)r;
    }
    return 1;
}

static int fp_send(void *ctx, int w, const sw_task_t *t)
{
    fork_pool_t *p = ctx;
    if (p->fd[w] < 0) return -1;
    return write_full(p->fd[w], t, sizeof *t);
}

static void fp_describe(void *ctx, int w, char *buf, size_t n)
{
    fork_pool_t *p = ctx;
    /* a lost worker's pid is kept negated (reaped: not waited for again) */
    pid_t pid = p->pid[w] < 0 ? -p->pid[w] : p->pid[w];
    snprintf(buf, n, "worker %d (pid %ld)", w + 1, (long)pid);
}

static void fp_lost(fork_pool_t *p, int w, char *why, size_t whylen)
{
    close(p->fd[w]);
    p->fd[w] = -1;
    int st = 0;
    pid_t r = waitpid(p->pid[w], &st, 0);
    if (r == p->pid[w] && WIFSIGNALED(st))
        snprintf(why, whylen, "was killed by signal %d (%s)", WTERMSIG(st), strsignal(WTERMSIG(st)));
    else if (r == p->pid[w] && WIFEXITED(st)) snprintf(why, whylen, "exited with status %d", WEXITSTATUS(st));
    else snprintf(why, whylen, "stopped answering");
    p->pid[w] = -p->pid[w];
}

static int fp_recv(void *ctx, int timeout_ms, int *w, sw_result_t *r, char *why, size_t whylen)
{
    fork_pool_t *p = ctx;
    struct pollfd pf[p->n > 0 ? p->n : 1];
    int idx[p->n > 0 ? p->n : 1], k = 0;
    for (int i = 0; i < p->n; i++)
        if (p->fd[i] >= 0) {
            pf[k] = (struct pollfd){.fd = p->fd[i], .events = POLLIN};
            idx[k++] = i;
        }
    if (k == 0) return 0;
    int rc = poll(pf, (nfds_t)k, timeout_ms);
    if (rc < 0) {
        if (errno == EINTR) return 0;
        snprintf(why, whylen, "poll: %s", strerror(errno));
        return -1;
    }
    for (int j = 0; j < k; j++) {
        if (!(pf[j].revents & (POLLIN | POLLHUP | POLLERR))) continue;
        *w = idx[j];
        if (read_full(p->fd[*w], r, sizeof *r) == 1) return 1;
        fp_lost(p, *w, why, whylen);
        return 2;
    }
    return 0;
}

static void fp_shutdown(void *ctx, bool abort_now)
{
    fork_pool_t *p = ctx;
    for (int i = 0; i < p->n; i++) {
        if (p->fd[i] >= 0) {
            if (abort_now && p->pid[i] > 0) kill(p->pid[i], SIGKILL);
            close(p->fd[i]);   /* end of file: the worker exits */
            p->fd[i] = -1;
        }
        if (p->pid[i] > 0) waitpid(p->pid[i], NULL, 0);
    }
    free(p->pid);
    free(p->fd);
    free(p);
}

typedef struct {
    int fd;
} fork_worker_t;

static int fw_get(void *ctx, sw_task_t *t)
{
    fork_worker_t *w = ctx;
    int rc = read_full(w->fd, t, sizeof *t);
    return rc == 1 ? 1 : rc == 0 ? 0 : -1;
}

static int fw_put(void *ctx, const sw_result_t *r)
{
    fork_worker_t *w = ctx;
    return write_full(w->fd, r, sizeof *r);
}

/* Workers run tasks of the already loaded definition (inherited by fork). */
static void fork_worker_main(int fd, const sw_def_t *def)
{
    signal(SIGINT, SIG_IGN);
    signal(SIGTERM, SIG_DFL);
    signal(SIGPIPE, SIG_IGN);
    sw_cache_t cache = {0};
    sw_result_t *res = malloc(sizeof *res);
    fork_worker_t fw = {fd};
    sw_task_t t;
    int status = 0;
    if (!res) _exit(1);
    while (fw_get(&fw, &t) == 1) {
        sw_test_crash(&t);
        sw_exec_task(def, &cache, &t, NULL, NULL, res);
        if (fw_put(&fw, res) != 0) {
            status = 1;
            break;
        }
    }
    sw_cache_fini(&cache);
    free(res);
    fflush(NULL);
    _exit(status);
}

sw_pool_t *sw_fork_pool(const sw_def_t *def, int n, sw_pool_t *pool, char *why, size_t whylen)
{
    fork_pool_t *p = calloc(1, sizeof *p);
    if (!p || !(p->pid = calloc((size_t)n, sizeof *p->pid)) || !(p->fd = calloc((size_t)n, sizeof *p->fd))) {
        if (p) {
            free(p->pid);
            free(p);
        }
        snprintf(why, whylen, "out of memory");
        return NULL;
    }
    fflush(NULL);
    for (int i = 0; i < n; i++) {
        int sv[2];
        if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) {
            snprintf(why, whylen, "socketpair: %s", strerror(errno));
            p->n = i;
            fp_shutdown(p, true);
            return NULL;
        }
        pid_t pid = fork();
        if (pid < 0) {
            snprintf(why, whylen, "fork: %s", strerror(errno));
            close(sv[0]);
            close(sv[1]);
            p->n = i;
            fp_shutdown(p, true);
            return NULL;
        }
        if (pid == 0) {
            close(sv[0]);
            for (int k = 0; k < i; k++) close(p->fd[k]);
            fork_worker_main(sv[1], def);
        }
        close(sv[1]);
        p->pid[i] = pid;
        p->fd[i] = sv[0];
    }
    p->n = n;
    signal(SIGPIPE, SIG_IGN);
    *pool = (sw_pool_t){.nworkers = n, .master_runs = false, .noun = "worker", .ctx = p, .send = fp_send,
                        .recv = fp_recv, .shutdown = fp_shutdown, .describe = fp_describe};
    return pool;
}
