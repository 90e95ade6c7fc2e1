/* A station's background work (stn_background) sharing its cores with the
 * jobs in service, against schedules computed by hand. */
#include <criterion/criterion.h>
#include <string.h>

#include "models/queueing/station.h"

typedef struct {
    station_t st;
    stn_job_t jobs[4], bg[4];
    sim_time_t exit_at[4], bg_at[4];
    int nbg;
} fix_t;

static void on_exit_fn(sim_t *sim, void *owner, stn_job_t *job, stn_outcome_t oc)
{
    fix_t *f = owner;
    if (oc == STN_DONE) f->exit_at[job - f->jobs] = sim_now(sim);
}

static void on_bg(void *owner, station_t *st, stn_job_t *job)
{
    fix_t *f = owner;
    cr_assert_eq(st, &f->st);
    cr_assert_null(job->st, "a background job that ended is no longer at the station");
    f->bg_at[job - f->bg] = sim_now(st->sim);
    f->nbg++;
}

static void arrive(sim_t *sim, void *obj, uint64_t arg)
{
    (void)sim;
    fix_t *f = obj;
    f->jobs[arg].demand = -1;
    cr_assert(stn_submit(&f->st, &f->jobs[arg]));
}

static void crash(sim_t *sim, void *obj, uint64_t arg)
{
    (void)sim;
    (void)arg;
    stn_abort_all(&((fix_t *)obj)->st);
}

static sim_t *setup(fix_t *f, stn_spec_t *spec, int64_t servers, int64_t cores)
{
    memset(f, 0, sizeof *f);
    memset(spec, 0, sizeof *spec);
    spec->name = "s";
    spec->servers = servers;
    spec->cores = cores;
    spec->background = true;
    spec->queue_limit = INT64_MAX;
    sim_dist_deterministic(&spec->service, 1.0);
    sim_config_t cfg = {.master_seed = 1};
    sim_t *sim = sim_create(&cfg);
    cr_assert_eq(stn_init(&f->st, sim, spec, on_exit_fn, f), 0);
    stn_set_background_hook(&f->st, on_bg);
    for (int i = 0; i < 4; i++) f->exit_at[i] = f->bg_at[i] = -1;
    return sim;
}

static void teardown(fix_t *f, sim_t *sim, stn_spec_t *spec)
{
    stn_fini(&f->st);
    sim_destroy(sim);
    sim_dist_fini(&spec->service);
}

/* One core: a 1-s job and 1 s of background work on one thread, both at 0,
 * each at half speed: both end at 2 s. Two servers, so nothing waits. */
Test(station_background, one_core_shared_by_a_job_and_background_work)
{
    fix_t f;
    stn_spec_t spec;
    sim_t *sim = setup(&f, &spec, 2, 1);
    sim_schedule_at(sim, 0, arrive, &f, 0);
    cr_assert(stn_background(&f.st, &f.bg[0], SIM_SEC, 1));
    sim_run(sim, 10 * SIM_SEC);
    cr_expect_eq(f.exit_at[0], 2 * SIM_SEC);
    cr_expect_eq(f.bg_at[0], 2 * SIM_SEC);
    cr_expect_eq(f.nbg, 1);
    cr_expect_eq(f.st.nbackground, 0);
    cr_expect_eq(f.st.ps_width, 0);   /* the cores wanted: none left */
    teardown(&f, sim, &spec);
}

/* Two cores, one server: a 1-s job and 2 s of background work on two
 * threads (1 s each): three threads on two cores, 2/3 of a core each: all
 * end at 1.5 s. With more cores than threads wanting them (cores 4), each
 * runs at full speed: the job at 1 s, the background work at 1 s. */
Test(station_background, background_threads_count_in_the_sharing)
{
    for (int64_t cores = 2; cores <= 4; cores += 2) {
        fix_t f;
        stn_spec_t spec;
        sim_t *sim = setup(&f, &spec, 1, cores);
        sim_schedule_at(sim, 0, arrive, &f, 0);
        cr_assert(stn_background(&f.st, &f.bg[0], 2 * SIM_SEC, 2));
        sim_run(sim, 10 * SIM_SEC);
        sim_time_t want = cores == 2 ? 1500 * SIM_MS : SIM_SEC;
        cr_expect_eq(f.exit_at[0], want, "cores %lld: job ends at %.9f s", (long long)cores,
                     sim_time_to_s(f.exit_at[0]));
        cr_expect_eq(f.bg_at[0], want, "cores %lld: background ends at %.9f s", (long long)cores,
                     sim_time_to_s(f.bg_at[0]));
        teardown(&f, sim, &spec);
    }
}

/* A crash drops the background work without telling; cancelling drops it
 * too. 10 s of background work from 0 on one core, crashed at 1 s: a job
 * at 2 s runs alone (ends at 3 s). Background work cancelled at 4 s: a job
 * at 4 s ends at 5 s. */
Test(station_background, crash_and_cancel_drop_background_work)
{
    fix_t f;
    stn_spec_t spec;
    sim_t *sim = setup(&f, &spec, 2, 1);
    cr_assert(stn_background(&f.st, &f.bg[0], 10 * SIM_SEC, 1));
    sim_schedule_at(sim, SIM_SEC, crash, &f, 0);
    sim_schedule_at(sim, 2 * SIM_SEC, arrive, &f, 0);
    sim_run(sim, 3500 * SIM_MS);
    cr_expect_eq(f.exit_at[0], 3 * SIM_SEC);
    cr_expect_eq(f.nbg, 0, "dropped, not ended");
    cr_expect_null(f.bg[0].st);
    cr_assert(stn_background(&f.st, &f.bg[1], 10 * SIM_SEC, 1));
    sim_run(sim, 4 * SIM_SEC);
    cr_assert(stn_background_cancel(&f.st, &f.bg[1]));
    cr_expect(!stn_background_cancel(&f.st, &f.bg[1]), "cancelled once");
    sim_schedule_at(sim, 4 * SIM_SEC, arrive, &f, 1);
    sim_run(sim, 10 * SIM_SEC);
    cr_expect_eq(f.exit_at[1], 5 * SIM_SEC);
    cr_expect_eq(f.nbg, 0);
    teardown(&f, sim, &spec);
}
