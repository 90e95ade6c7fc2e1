/* Timeout lists (sim/tlist.h): entries expire at exactly their deadline,
 * in the order added, with one pending event for the whole list; removed
 * entries never fire; the lazy wake-up re-arms at the new head. Traces are
 * hand-computed. A randomised run is checked against one event per entry
 * (the plain way) to the nanosecond. */
#include <criterion/criterion.h>
#include <stdlib.h>

#include "sim/rng.h"
#include "sim/sim.h"
#include "sim/tlist.h"
#include "testutil.h"

typedef struct {
    sim_tl_entry_t e;
    int id;
    sim_time_t fired;     /* -1: not fired */
} item_t;

#define MAXLOG 64
typedef struct {
    int id[MAXLOG];
    sim_time_t at[MAXLOG];
    int n;
} firelog_t;

static void fire(sim_t *sim, sim_tl_entry_t *e, void *ctx)
{
    firelog_t *l = ctx;
    item_t *it = (item_t *)e;
    cr_assert(!e->listed, "an entry has left the list when it fires");
    it->fired = sim_now(sim);
    cr_assert_lt(l->n, MAXLOG);
    l->id[l->n] = it->id;
    l->at[l->n++] = sim_now(sim);
}

typedef struct {
    sim_tlist_t *l;
    item_t *it;
} add_ctx_t;

static void add_event(sim_t *sim, void *obj, uint64_t arg)
{
    (void)arg;
    add_ctx_t *a = obj;
    sim_tlist_add(sim, a->l, &a->it->e);
}

static void remove_event(sim_t *sim, void *obj, uint64_t arg)
{
    (void)sim;
    (void)arg;
    add_ctx_t *a = obj;
    sim_tlist_remove(a->l, &a->it->e);
}

Test(tlist, entries_expire_at_their_deadline_in_order_with_one_pending_event)
{
    sim_t *sim = tu_sim(1);
    firelog_t log = {0};
    sim_tlist_t l;
    sim_tlist_init(&l, 100, fire, &log);
    item_t it[3] = {{.id = 0, .fired = -1}, {.id = 1, .fired = -1}, {.id = 2, .fired = -1}};
    add_ctx_t a[3] = {{&l, &it[0]}, {&l, &it[1]}, {&l, &it[2]}};
    /* added at 0, 10, 10: deadlines 100, 110, 110 */
    sim_schedule_at(sim, 0, add_event, &a[0], 0);
    sim_schedule_at(sim, 10, add_event, &a[1], 0);
    sim_schedule_at(sim, 10, add_event, &a[2], 0);
    cr_assert_eq(sim_run(sim, 20), SIM_RUN_TIME);
    cr_assert_eq(sim_pending(sim), 1, "three timeouts, one pending event");
    cr_assert_eq(sim_run(sim, 1000), SIM_RUN_EMPTY);
    cr_assert_eq(log.n, 3);
    cr_assert_eq(log.id[0], 0);
    cr_assert_eq(log.at[0], 100);
    cr_assert_eq(log.id[1], 1);
    cr_assert_eq(log.at[1], 110);
    cr_assert_eq(log.id[2], 2);
    cr_assert_eq(log.at[2], 110);
    /* two wake-ups: at 100 (entry 0), then re-armed at 110 (entries 1 and 2) */
    cr_assert_eq(sim_events_processed(sim), 3 + 2);
    cr_assert_null(l.head);
    sim_destroy(sim);
}

Test(tlist, removed_entries_never_fire_and_the_stale_wake_up_rearms)
{
    sim_t *sim = tu_sim(1);
    firelog_t log = {0};
    sim_tlist_t l;
    sim_tlist_init(&l, 100, fire, &log);
    item_t it[3] = {{.id = 0, .fired = -1}, {.id = 1, .fired = -1}, {.id = 2, .fired = -1}};
    add_ctx_t a[3] = {{&l, &it[0]}, {&l, &it[1]}, {&l, &it[2]}};
    sim_schedule_at(sim, 0, add_event, &a[0], 0);     /* deadline 100, armed at 100 */
    sim_schedule_at(sim, 30, add_event, &a[1], 0);    /* deadline 130 */
    sim_schedule_at(sim, 50, add_event, &a[2], 0);    /* deadline 150 */
    sim_schedule_at(sim, 60, remove_event, &a[0], 0); /* the head goes: the wake-up at 100 stays */
    sim_schedule_at(sim, 120, remove_event, &a[1], 0);
    cr_assert_eq(sim_run(sim, 1000), SIM_RUN_EMPTY);
    cr_assert_eq(log.n, 1);
    cr_assert_eq(log.id[0], 2);
    cr_assert_eq(log.at[0], 150);
    cr_assert_eq(it[0].fired, -1);
    cr_assert_eq(it[1].fired, -1);
    /* wake-ups at 100 (nothing due, re-armed at 130), 130 (nothing: 1 was
     * removed, re-armed at 150), 150 (entry 2): 5 + 3 events */
    cr_assert_eq(sim_events_processed(sim), 8);
    sim_tlist_remove(&l, &it[2].e);   /* not listed: no-op */
    sim_destroy(sim);
}

typedef struct {
    sim_tlist_t *l;
    item_t *next;      /* added from the fire callback */
    firelog_t *log;
} chain_t;

static void fire_and_add(sim_t *sim, sim_tl_entry_t *e, void *ctx)
{
    chain_t *c = ctx;
    fire(sim, e, c->log);
    if (c->next) {
        item_t *n = c->next;
        c->next = NULL;
        sim_tlist_add(sim, c->l, &n->e);   /* the list is empty: arms at now + delay */
    }
}

Test(tlist, an_entry_added_by_the_fire_callback_expires_one_delay_later)
{
    sim_t *sim = tu_sim(1);
    firelog_t log = {0};
    sim_tlist_t l;
    item_t it[2] = {{.id = 0, .fired = -1}, {.id = 1, .fired = -1}};
    chain_t c = {&l, &it[1], &log};
    sim_tlist_init(&l, 40, fire_and_add, &c);
    add_ctx_t a = {&l, &it[0]};
    sim_schedule_at(sim, 5, add_event, &a, 0);
    cr_assert_eq(sim_run(sim, 1000), SIM_RUN_EMPTY);
    cr_assert_eq(log.n, 2);
    cr_assert_eq(log.at[0], 45);
    cr_assert_eq(log.at[1], 85);
    cr_assert_eq(sim_events_processed(sim), 3);
    sim_destroy(sim);
}

/* ---- against one event per entry --------------------------------------- */

#define N 4000
typedef struct {
    item_t it[N];
    sim_timer_t timer[N];
    sim_time_t plain_fired[N];
    sim_tlist_t l;
    sim_rng_t rng;
    int next;
    bool use_list;
} rnd_t;

static void plain_timeout(sim_t *sim, void *obj, uint64_t arg)
{
    rnd_t *r = obj;
    r->timer[arg] = (sim_timer_t){0, 0};
    r->plain_fired[arg] = sim_now(sim);
}

static void fire_rnd(sim_t *sim, sim_tl_entry_t *e, void *ctx)
{
    (void)ctx;
    ((item_t *)e)->fired = sim_now(sim);
}

/* every step: start a timeout (delay 1 ms) for the next item, and clear a
 * random one of the last ten with probability 0.7 (some already expired,
 * some cleared twice); steps 0-300 us apart */
static void step(sim_t *sim, void *obj, uint64_t arg)
{
    (void)arg;
    rnd_t *r = obj;
    int i = r->next++;
    if (r->use_list) sim_tlist_add(sim, &r->l, &r->it[i].e);
    else r->timer[i] = sim_schedule_in(sim, SIM_MS, plain_timeout, r, (uint64_t)i);
    if (sim_rng_uniform(&r->rng) < 0.7) {
        int j = i - (int)(sim_rng_uniform(&r->rng) * 10);   /* one of the last 10: most still wait */
        if (j < 0) j = 0;
        if (r->use_list) sim_tlist_remove(&r->l, &r->it[j].e);
        else sim_cancel(sim, &r->timer[j]);
    }
    if (r->next < N)
        sim_schedule_in(sim, (sim_time_t)(sim_rng_uniform(&r->rng) * 300e3), step, r, 0);
}

Test(tlist, matches_one_event_per_timeout_to_the_nanosecond)
{
    rnd_t *r[2];
    for (int k = 0; k < 2; k++) {
        r[k] = calloc(1, sizeof *r[k]);
        r[k]->use_list = k == 1;
        sim_rng_init(&r[k]->rng, 12345);
        for (int i = 0; i < N; i++) {
            r[k]->it[i].fired = -1;
            r[k]->plain_fired[i] = -1;
        }
        sim_tlist_init(&r[k]->l, SIM_MS, fire_rnd, NULL);
        sim_t *sim = tu_sim(1);
        sim_schedule_at(sim, 0, step, r[k], 0);
        cr_assert_eq(sim_run(sim, SIM_HOUR), SIM_RUN_EMPTY);
        sim_destroy(sim);
    }
    int fired = 0, cleared = 0;
    for (int i = 0; i < N; i++) {
        cr_assert_eq(r[1]->it[i].fired, r[0]->plain_fired[i], "item %d: %lld vs %lld", i,
                     (long long)r[1]->it[i].fired, (long long)r[0]->plain_fired[i]);
        if (r[0]->plain_fired[i] >= 0) fired++;
        else cleared++;
    }
    /* both outcomes occur often enough for the check to mean something */
    cr_assert_gt(fired, N / 4, "%d fired", fired);
    cr_assert_gt(cleared, N / 10, "%d cleared", cleared);
    free(r[0]);
    free(r[1]);
}
