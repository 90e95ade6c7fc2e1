/* Timeout list: timeouts that all share one delay.
 *
 * Entries added at nondecreasing times with the same delay expire in the
 * order they were added, so a FIFO holds them in deadline order and one
 * pending event (at the head's deadline) serves the whole list: adding and
 * removing an entry are a few pointer moves, with no event pushed or
 * cancelled. This is the "one timer per constant interval" scheme of
 * Varghese and Lauck's timing-wheel paper, the same idea as a TCP stack's
 * per-connection retransmission list. A simulation where most timeouts
 * are set and then cleared (a call's timeout, cleared when its answer
 * comes) saves the event set's push, cancel and refile for each.
 *
 * Removal is lazy for the wake-up: removing the head leaves the pending
 * event where it is; when it comes, it expires what is due and re-arms at
 * the new head's deadline. So the list costs at most one extra event per
 * delay period when its head keeps being removed, and never cancels.
 *
 * An entry expires at exactly its deadline (added time + delay). Ties with
 * other events at the same nanosecond follow the wake-up event's schedule
 * order (when it was armed), not the order in which the entry was added. */
#ifndef SIM_TLIST_H
#define SIM_TLIST_H

#include <stdbool.h>

#include "sim.h"

typedef struct sim_tl_entry {
    struct sim_tl_entry *prev, *next;
    sim_time_t deadline;
    bool listed;
} sim_tl_entry_t;

/* Called for each expired entry, after it has left the list. May add and
 * remove entries of any list. */
typedef void (*sim_tl_fire_fn)(sim_t *sim, sim_tl_entry_t *e, void *ctx);

typedef struct sim_tlist {
    sim_tl_entry_t *head, *tail;
    sim_time_t delay;
    sim_tl_fire_fn fire;
    void *ctx;
    sim_timer_t wake;       /* the pending wake-up, {0} when none */
} sim_tlist_t;

/* delay > 0. */
void sim_tlist_init(sim_tlist_t *l, sim_time_t delay, sim_tl_fire_fn fire, void *ctx);

/* Expire `e` at now + delay. `e` must not be listed. On out-of-memory
 * (arming the wake-up) the run stops with SIM_ENOMEM, as sim_schedule_at. */
void sim_tlist_add(sim_t *sim, sim_tlist_t *l, sim_tl_entry_t *e);

/* Take `e` off its list (no-op when it is not listed). O(1). */
static inline void sim_tlist_remove(sim_tlist_t *l, sim_tl_entry_t *e)
{
    if (!e->listed) return;
    if (e->prev) e->prev->next = e->next; else l->head = e->next;
    if (e->next) e->next->prev = e->prev; else l->tail = e->prev;
    e->prev = e->next = NULL;
    e->listed = false;
}

/* Drop the pending wake-up (the list's entries stay listed; a later add
 * re-arms). For tearing a model down. */
void sim_tlist_disarm(sim_t *sim, sim_tlist_t *l);

#endif
