/* Timeout lists (tlist.h): many timeouts of one delay served by one
 * pending event. Calls the run's scheduler. */
#include "tlist.h"

#include <assert.h>
#include <stddef.h>

static void wake_event(sim_t *sim, void *obj, uint64_t arg);

void sim_tlist_init(sim_tlist_t *l, sim_time_t delay, sim_tl_fire_fn fire, void *ctx)
{
    assert(delay > 0 && "sim_tlist: the delay must be positive");
    l->head = l->tail = NULL;
    l->delay = delay;
    l->fire = fire;
    l->ctx = ctx;
    l->wake = (sim_timer_t){0, 0};
}

/* The wake-up is armed whenever the list is non-empty, at or before the
 * head's deadline: armed at the new head's deadline when an entry goes into
 * an empty list with no wake-up pending, and re-armed after each wake-up.
 * Deadlines only grow along the list, so that is enough. */
void sim_tlist_add(sim_t *sim, sim_tlist_t *l, sim_tl_entry_t *e)
{
    assert(!e->listed && "sim_tlist_add: entry already listed");
    e->deadline = sim_now(sim) + l->delay;
    e->next = NULL;
    e->prev = l->tail;
    if (l->tail) l->tail->next = e; else l->head = e;
    l->tail = e;
    e->listed = true;
    if (!l->wake.ev && l->head == e) l->wake = sim_schedule_at(sim, e->deadline, wake_event, l, 0);
}

static void wake_event(sim_t *sim, void *obj, uint64_t arg)
{
    (void)arg;
    sim_tlist_t *l = obj;
    l->wake = (sim_timer_t){0, 0};
    sim_time_t now = sim_now(sim);
    while (l->head && l->head->deadline <= now) {
        sim_tl_entry_t *e = l->head;
        sim_tlist_remove(l, e);
        l->fire(sim, e, l->ctx);
    }
    if (l->head && !l->wake.ev) l->wake = sim_schedule_at(sim, l->head->deadline, wake_event, l, 0);
}

void sim_tlist_disarm(sim_t *sim, sim_tlist_t *l) { sim_cancel(sim, &l->wake); }
