/* The station against hand-computed schedules. */
#include <criterion/criterion.h>
#include <math.h>
#include <string.h>

#include "models/queueing/station.h"
#include "sim/error.h"

#define MAXJ 64

typedef struct {
    station_t st;
    stn_job_t jobs[MAXJ];
    int njobs;
    int order[MAXJ];          /* job index in exit order */
    sim_time_t exit_at[MAXJ];
    int outcome[MAXJ];
    int nexit;
    int rejected[MAXJ];
    int nrejected;
} fix_t;

static void fix_exit(sim_t *sim, void *owner, stn_job_t *job, stn_outcome_t oc)
{
    fix_t *f = owner;
    int idx = (int)(job - f->jobs);
    f->order[f->nexit] = idx;
    f->exit_at[f->nexit] = sim_now(sim);
    f->outcome[f->nexit] = (int)oc;
    f->nexit++;
}

static void arrive(sim_t *sim, void *obj, uint64_t arg)
{
    (void)sim;
    fix_t *f = obj;
    stn_job_t *j = &f->jobs[arg];
    j->demand = -1;
    if (!stn_submit(&f->st, j)) f->rejected[f->nrejected++] = (int)arg;
}

/* Arrivals as a workload generates them: each schedules the next one. */
typedef struct {
    fix_t *f;
    int n;
    sim_time_t gap;
} chain_t;

static void arrive_chain(sim_t *sim, void *obj, uint64_t arg)
{
    chain_t *c = obj;
    if ((int)arg + 1 < c->n) sim_schedule_in(sim, c->gap, arrive_chain, c, arg + 1);
    arrive(sim, c->f, arg);
}

static sim_t *setup(fix_t *f, stn_spec_t *spec)
{
    memset(f, 0, sizeof *f);
    sim_config_t cfg = {.master_seed = 1};
    sim_t *sim = sim_create(&cfg);
    cr_assert_not_null(sim);
    cr_assert_eq(stn_init(&f->st, sim, spec, fix_exit, f), 0);
    return sim;
}

Test(station, deterministic_schedule_with_full_queue_matches_hand_trace)
{
    /* One server, service 1.5 s, room for one waiting job; arrivals at
     * t = 1, 2, 3, 4, 5, 6 s.
     *   job0: arrives 1, starts 1, leaves 2.5
     *   job1: arrives 2, waits, starts 2.5, leaves 4.0
     *   job2: arrives 3, waits (queue 1/1)
     *   job3: arrives 4.0 at the same time job1 leaves: job1's completion was
     *         scheduled first (at 2.5, the arrival at 3.0), so it runs first,
     *         job2 starts at 4.0, and job3 finds room in the queue
     *   job2 leaves 5.5; job3 starts 5.5, leaves 7.0
     *   job4: arrives 5, queue holds job3 -> rejected
     *   job5: arrives 6, queue empty since 5.5 (job3 started) -> waits,
     *         starts 7.0, leaves 8.5 */
    fix_t f;
    stn_spec_t spec = {.name = "s", .servers = 1, .queue_limit = 1};
    sim_dist_deterministic(&spec.service, 1.5);
    sim_t *sim = setup(&f, &spec);
    chain_t ch = {&f, 6, SIM_SEC};
    sim_schedule_at(sim, SIM_SEC, arrive_chain, &ch, 0);
    sim_run(sim, SIM_TIME_MAX);
    int want_order[] = {0, 1, 2, 3, 5};
    double want_exit[] = {2.5, 4.0, 5.5, 7.0, 8.5};
    cr_assert_eq(f.nexit, 5);
    for (int i = 0; i < 5; i++) {
        cr_assert_eq(f.order[i], want_order[i], "exit %d: job %d", i, f.order[i]);
        cr_assert_eq(f.exit_at[i], (sim_time_t)(want_exit[i] * 1e9), "exit %d at %lld", i, (long long)f.exit_at[i]);
        cr_assert_eq(f.outcome[i], STN_DONE);
    }
    cr_assert_eq(f.nrejected, 1);
    cr_assert_eq(f.rejected[0], 4);
    /* waits: 0, 0.5, 1.0, 1.5, 1.0 -> mean 0.8 s */
    cr_assert_eq(f.st.n.started, 5);
    cr_assert_float_eq(sim_tmean_s(&f.st.wait_s), 0.8, 1e-12);
    cr_assert_eq(f.st.n.arrivals, 6);
    cr_assert_eq(f.st.n.rejected, 1);
    /* busy from 1 to 8.5 without a gap: utilisation over [0, 8.5] = 7.5/8.5 */
    cr_assert_float_eq(stn_utilization(&f.st), 7.5 / 8.5, 1e-12);
    stn_fini(&f.st);
    sim_destroy(sim);
}

Test(station, queue_timeout_removes_waiting_jobs_only)
{
    /* Two servers, service 10 s, queue timeout 3 s; five arrivals at t=0..4.
     * job0, job1 start at once; job2 (t=2), job3 (t=3), job4 (t=4) wait and
     * time out at 5, 6, 7; the servers free up only at 10 and 11. */
    fix_t f;
    stn_spec_t spec = {.name = "s", .servers = 2, .queue_limit = INT64_MAX, .queue_timeout = 3 * SIM_SEC};
    sim_dist_deterministic(&spec.service, 10.0);
    sim_t *sim = setup(&f, &spec);
    for (int i = 0; i < 5; i++) sim_schedule_at(sim, i * SIM_SEC, arrive, &f, (uint64_t)i);
    sim_run(sim, SIM_TIME_MAX);
    cr_assert_eq(f.nexit, 5);
    int want_order[] = {2, 3, 4, 0, 1};
    double want_at[] = {5, 6, 7, 10, 11};
    int want_oc[] = {STN_TIMED_OUT, STN_TIMED_OUT, STN_TIMED_OUT, STN_DONE, STN_DONE};
    for (int i = 0; i < 5; i++) {
        cr_assert_eq(f.order[i], want_order[i]);
        cr_assert_eq(f.exit_at[i], (sim_time_t)(want_at[i] * 1e9));
        cr_assert_eq(f.outcome[i], want_oc[i]);
    }
    cr_assert_eq(f.st.n.timed_out, 3);
    cr_assert_eq(f.st.nqueue, 0);
    stn_fini(&f.st);
    sim_destroy(sim);
}

Test(station, job_served_before_its_timeout_cancels_it)
{
    /* One server, service 1 s, timeout 1.5 s: job1 arrives at 0.1, starts at
     * 1.0 (waited 0.9 < 1.5) and must not time out later. */
    fix_t f;
    stn_spec_t spec = {.name = "s", .servers = 1, .queue_limit = INT64_MAX, .queue_timeout = 1500 * SIM_MS};
    sim_dist_deterministic(&spec.service, 1.0);
    sim_t *sim = setup(&f, &spec);
    sim_schedule_at(sim, 0, arrive, &f, 0);
    sim_schedule_at(sim, 100 * SIM_MS, arrive, &f, 1);
    sim_run(sim, SIM_TIME_MAX);
    cr_assert_eq(f.nexit, 2);
    cr_assert_eq(f.outcome[1], STN_DONE);
    cr_assert_eq(f.exit_at[1], 2 * SIM_SEC);
    cr_assert_eq(f.st.n.timed_out, 0);
    cr_assert_eq(sim_pending(sim), 0, "the cancelled timeout must not stay pending");
    stn_fini(&f.st);
    sim_destroy(sim);
}

Test(station, adding_servers_starts_waiting_jobs)
{
    fix_t f;
    stn_spec_t spec = {.name = "s", .servers = 1, .queue_limit = INT64_MAX};
    sim_dist_deterministic(&spec.service, 4.0);
    sim_t *sim = setup(&f, &spec);
    for (int i = 0; i < 3; i++) sim_schedule_at(sim, 0, arrive, &f, (uint64_t)i);
    sim_run(sim, SIM_SEC);
    cr_assert_eq(f.st.nqueue, 2);
    stn_set_servers(&f.st, 3);
    cr_assert_eq(f.st.nqueue, 0);
    cr_assert_eq(f.st.busy, 3);
    sim_run(sim, SIM_TIME_MAX);
    cr_assert_eq(f.exit_at[0], 4 * SIM_SEC);
    cr_assert_eq(f.exit_at[1], 5 * SIM_SEC);
    cr_assert_eq(f.exit_at[2], 5 * SIM_SEC);
    stn_fini(&f.st);
    sim_destroy(sim);
}

/* The busy hook: every call, its time and the busy servers then. */
typedef struct {
    sim_time_t at[32];
    int64_t busy[32], servers[32];
    int n;
} busy_log_t;

static void log_busy(void *ctx, station_t *st)
{
    busy_log_t *l = ctx;
    if (l->n < 32) {
        l->at[l->n] = sim_now(st->sim);
        l->busy[l->n] = st->busy;
        l->servers[l->n++] = st->servers;
    }
}

Test(station, busy_hook_follows_the_idle_servers)
{
    /* 2 servers, 4 s of service. Jobs 0, 1 at 0 s start at once (busy 1,
     * 2); job 2 at 0 s waits. At 4 s job 0 ends and job 2 takes its server
     * (the hook sees busy 2 once the server took it: the start, then the
     * end) and job 1 ends (busy 1). At 5 s the servers drop to 1 (busy 1 of
     * 1). At 8 s job 2 ends (busy 0). */
    fix_t f;
    stn_spec_t spec = {.name = "s", .servers = 2, .queue_limit = INT64_MAX};
    sim_dist_deterministic(&spec.service, 4.0);
    sim_t *sim = setup(&f, &spec);
    busy_log_t l = {0};
    stn_set_busy_hook(&f.st, log_busy, &l);
    for (int i = 0; i < 3; i++) sim_schedule_at(sim, 0, arrive, &f, (uint64_t)i);
    sim_run(sim, 5 * SIM_SEC);
    stn_set_servers(&f.st, 1);
    sim_run(sim, SIM_TIME_MAX);
    const sim_time_t at[] = {0, 0, 4 * SIM_SEC, 4 * SIM_SEC, 4 * SIM_SEC, 5 * SIM_SEC, 8 * SIM_SEC};
    const int64_t busy[] = {1, 2, 2, 2, 1, 1, 0};
    const int64_t servers[] = {2, 2, 2, 2, 2, 1, 1};
    cr_assert_eq(l.n, 7, "%d calls", l.n);
    for (int i = 0; i < 7; i++) {
        cr_expect_eq(l.at[i], at[i], "call %d at %lld", i, (long long)l.at[i]);
        cr_expect_eq(l.busy[i], busy[i], "call %d: busy %lld", i, (long long)l.busy[i]);
        cr_expect_eq(l.servers[i], servers[i], "call %d: servers %lld", i, (long long)l.servers[i]);
    }
    stn_fini(&f.st);
    sim_destroy(sim);
}

static void all_at_zero(fix_t *f, sim_t *sim, int n)
{
    for (int i = 0; i < n; i++) sim_schedule_at(sim, 0, arrive, f, (uint64_t)i);
}

Test(station, codel_sheds_what_waited_twice_the_target_once_the_queue_stands)
{
    /* One server, 10 ms per job, 50 jobs at t = 0; CoDel target 5 ms,
     * interval 100 ms (folly's defaults). Job 0 starts at once (waited 0:
     * seeds the minimum). Job 1 leaves the queue at 10 ms: the first
     * interval (which ended at 0, the station's creation) closes with
     * minimum 0 -> not overloaded; a new one runs to 110 ms, seeded with
     * 10 ms. Jobs 2..11 (20..110 ms) keep the minimum at 10 ms. Job 12 at
     * 120 ms closes it: minimum 10 ms > 5 ms -> overloaded; job 12 seeds
     * the new interval and is served. Job 13 at 130 ms waited 130 ms >
     * 2 x 5 ms while overloaded: shed, and so is every other job behind
     * it, at 130 ms. 13 served, 37 shed. */
    stn_spec_t spec = {.name = "db", .servers = 1, .queue_limit = INT64_MAX, .codel_shed = true,
                       .codel = CODEL_DEFAULTS};
    sim_dist_deterministic(&spec.service, 0.010);
    fix_t f;
    sim_t *sim = setup(&f, &spec);
    all_at_zero(&f, sim, 50);
    sim_run(sim, SIM_SEC);
    cr_assert_eq(f.nexit, 50);
    int served = 0, shed = 0;
    for (int i = 0; i < f.nexit; i++) {
        if (f.outcome[i] == STN_DONE) {
            cr_assert_eq(f.order[i], served, "FIFO service");
            cr_assert_eq(f.exit_at[i], (served + 1) * 10 * SIM_MS);
            served++;
        } else {
            cr_assert_eq(f.outcome[i], STN_SHED);
            cr_assert_eq(f.order[i], 13 + shed, "shed in queue order");
            cr_assert_eq(f.exit_at[i], 130 * SIM_MS);
            shed++;
        }
    }
    cr_assert_eq(served, 13);
    cr_assert_eq(shed, 37);
    cr_assert_eq(f.st.n.shed, 37);
    stn_fini(&f.st);
    sim_destroy(sim);
}

Test(station, adaptive_lifo_serves_the_newest_once_the_queue_stands)
{
    /* The same burst without shedding: FIFO while CoDel says the queue is
     * not standing (jobs 0..12, the verdict changes while job 12 is taken
     * at 120 ms), then newest first: 49, 48, ..., 13. */
    stn_spec_t spec = {.name = "db", .servers = 1, .queue_limit = INT64_MAX, .adaptive_lifo = true,
                       .codel = CODEL_DEFAULTS};
    sim_dist_deterministic(&spec.service, 0.010);
    fix_t f;
    sim_t *sim = setup(&f, &spec);
    all_at_zero(&f, sim, 50);
    sim_run(sim, SIM_SEC);
    cr_assert_eq(f.nexit, 50);
    for (int i = 0; i < 50; i++) {
        cr_assert_eq(f.outcome[i], STN_DONE);
        int want = i <= 12 ? i : 49 - (i - 13);
        cr_assert_eq(f.order[i], want, "exit %d: job %d, want %d", i, f.order[i], want);
    }
    stn_fini(&f.st);
    sim_destroy(sim);
}

Test(station, codel_never_sheds_without_a_standing_queue)
{
    /* Jobs every 20 ms, 10 ms each: nobody waits; nothing is shed and the
     * queue is never judged overloaded. */
    stn_spec_t spec = {.name = "db", .servers = 1, .queue_limit = INT64_MAX, .codel_shed = true,
                       .codel = CODEL_DEFAULTS};
    sim_dist_deterministic(&spec.service, 0.010);
    fix_t f;
    sim_t *sim = setup(&f, &spec);
    chain_t c = {&f, MAXJ, 20 * SIM_MS};
    sim_schedule_at(sim, 0, arrive_chain, &c, 0);
    sim_run(sim, 10 * SIM_SEC);
    cr_assert_eq(f.nexit, MAXJ);
    cr_assert_eq(f.st.n.shed, 0);
    cr_assert(!codel_overloaded(&f.st.codel));
    stn_fini(&f.st);
    sim_destroy(sim);
}
