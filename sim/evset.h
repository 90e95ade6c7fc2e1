/* The pending-event set: a priority queue of events keyed by (time, seq).
 *
 * seq is assigned at schedule time from an ever-increasing counter, so events
 * with equal times come out in the order they were scheduled: the tie rule
 * that makes runs deterministic (libuv's timer heap uses the same key).
 *
 * Implementation: an implicit 4-ary min-heap of 16-byte entries (time, event
 * pointer), laid out so that each group of four siblings fills one 64-byte
 * cache line. seq lives in the event and is read only when times tie.
 * Cancellation is lazy: a cancelled event stays in the heap, marked, and is
 * skipped and recycled when it reaches the top; when cancelled entries
 * outnumber live ones the heap is compacted in O(n), so memory stays within
 * 2x the live events and cancel is O(1), push and pop O(log n).
 * Events come from a slab pool: no malloc per event in steady state. */
#ifndef SIM_EVSET_H
#define SIM_EVSET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "time.h"

typedef struct sim sim_t;
typedef void (*sim_event_fn)(sim_t *sim, void *obj, uint64_t arg);

enum { SIM_EV_FREE = 0, SIM_EV_PENDING = 1, SIM_EV_CANCELLED = 2 };

typedef struct sim_event {
    sim_time_t time;
    uint64_t seq;
    sim_event_fn fn;
    void *obj;
    uint64_t arg;
    struct sim_event *next_free;   /* pool free list */
    uint32_t state;
} sim_event_t;

typedef struct {
    sim_time_t time;
    sim_event_t *ev;
} sim_heap_entry_t;

typedef struct sim_evset {
    sim_heap_entry_t *heap;   /* heap[0] is the minimum; heap[1..4] share a cache line */
    void *heap_block;         /* allocation behind heap (aligned) */
    size_t n, cap;            /* entries in the heap (live + cancelled), capacity */
    size_t ncancelled;        /* cancelled entries still in the heap */
    uint64_t next_seq;
    sim_event_t *free_list;   /* recycled events */
    void **slabs;             /* event slabs, for destruction */
    size_t nslabs, slabs_cap;
    size_t slab_events;       /* events per new slab */
    size_t allocated;         /* events in all slabs */
} sim_evset_t;

int sim_evset_init(sim_evset_t *es);
void sim_evset_fini(sim_evset_t *es);

/* Schedule fn(obj, arg) at `time`; returns the event (its seq is the handle's
 * generation) or NULL when out of memory. O(log n). */
sim_event_t *sim_evset_push(sim_evset_t *es, sim_time_t time, sim_event_fn fn, void *obj,
                            uint64_t arg);

/* Remove and return the earliest live event with time <= limit, or NULL
 * (none pending, or the earliest is later than limit). The returned event
 * stays valid until the next push or pop; release it with sim_evset_release. */
sim_event_t *sim_evset_pop(sim_evset_t *es, sim_time_t limit);

/* Return a popped event to the pool. */
static inline void sim_evset_release(sim_evset_t *es, sim_event_t *ev)
{
    ev->state = SIM_EV_FREE;
    ev->next_free = es->free_list;
    es->free_list = ev;
}

/* Cancel a pending event if it is still the one with this seq. O(1)
 * amortised. Returns true if an event was cancelled. */
bool sim_evset_cancel(sim_evset_t *es, sim_event_t *ev, uint64_t seq);

/* Live (not cancelled) events pending. */
static inline size_t sim_evset_size(const sim_evset_t *es) { return es->n - es->ncancelled; }

/* Time of the earliest live event, or SIM_TIME_MAX if none. Drops cancelled entries at the top. */
sim_time_t sim_evset_peek_time(sim_evset_t *es);

#endif
