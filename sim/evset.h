/* The pending-event set: a priority queue of events keyed by (time, seq).
 *
 * seq is assigned at schedule time from an ever-increasing counter, so events
 * with equal times come out in the order they were scheduled: the tie rule
 * that makes runs deterministic (libuv's timer heap uses the same key).
 *
 * Implementation: a monotone radix queue with 256-way digits (a radix heap
 * in base 256, or a hierarchical timing wheel keyed by absolute time).
 * Simulated time never goes back: every scheduled time is >= the time of the
 * last event taken (`last`), so an entry can be filed by the highest byte in
 * which its time differs from `last`: level L = that byte's index, digit =
 * the entry's value of that byte. Level-0 buckets hold one exact time each.
 * Taking the minimum empties the lowest non-empty bucket: a level-0 bucket is
 * swapped in whole (its entries all have the same time), a higher one is
 * scanned for its minimum, which becomes `last`, and its entries are refiled
 * into lower levels. An entry is therefore moved at most once per byte of its
 * distance from `last` (2-3 times for micro- to millisecond delays), every
 * move a sequential read and an append, and no comparison ever reads an event.
 *
 * Tie order needs no comparison either: within a bucket, entries with the
 * same time are in schedule order. A bucket receives refiled entries only
 * when every lower level is empty, so before anything else is filed into
 * it; refiling keeps the source's order; and entries scheduled later have
 * larger seqs.
 *
 * Two shortcuts for sparse events (a RAG run: microseconds between events
 * against nanosecond keys): a bucket holding one entry becomes current
 * directly, and a bucket of at most 32 entries is sorted into a small run
 * (insertion sort by time, stable, so ties stay in schedule order) instead
 * of being refiled level after level.
 *
 * Cancellation is lazy and O(1): a cancelled event stays filed, marked, and
 * is recycled when it comes out; when cancelled entries outnumber live ones
 * (and exceed 4096) every bucket is swept in O(n), so memory stays within 2x
 * the live events. Events come from a slab pool and bucket arrays keep their
 * capacity: no malloc per event in steady state. */
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
} __attribute__((aligned(64))) sim_event_t;   /* one cache line each: a pop touches one line, not two */

typedef struct {
    uint64_t time;                 /* the event's time, as unsigned for the radix */
    sim_event_t *ev;
} sim_evset_entry_t;

/* Buckets are lists of 1 KiB chunks drawn from a shared pool, so memory
 * follows the number of pending entries, not the peak of every bucket. */
#define SIM_EVSET_CHUNK 63
typedef struct sim_evset_chunk {
    struct sim_evset_chunk *next;
    uint32_t n;
    uint32_t pad_;
    sim_evset_entry_t e[SIM_EVSET_CHUNK];
} sim_evset_chunk_t;

typedef struct {
    sim_evset_chunk_t *head, *tail;
} sim_evset_bucket_t;

#define SIM_EVSET_RUN_CAP 128
#define SIM_EVSET_LEVELS 8        /* bytes of a 64-bit time */
#define SIM_EVSET_DIGITS 256

typedef struct sim_evset {
    uint64_t last;                 /* time of the last minimum taken: every entry is >= last */
    sim_evset_bucket_t cur;        /* entries with time == last, in seq order, from cur_head */
    uint32_t cur_head;             /* next entry of cur.head */
    /* A small bucket taken out whole, sorted by (time, seq): run[run_head ..
     * run_n). Every filed entry is later than run_max, so while the run
     * lasts, events come from it in order, and a push at or before run_max
     * is inserted into it. Empty whenever cur is not. */
    uint32_t run_head, run_n;
    uint64_t run_max;
    sim_evset_entry_t run[SIM_EVSET_RUN_CAP];
    uint32_t level_mask;           /* bit L: level L has a non-empty bucket */
    uint64_t digit_mask[SIM_EVSET_LEVELS][SIM_EVSET_DIGITS / 64];
    sim_evset_bucket_t bucket[SIM_EVSET_LEVELS][SIM_EVSET_DIGITS];
    size_t n;                      /* entries filed (live + cancelled) */
    size_t cap;                    /* entries all chunks can hold (pool included) */
    size_t ncancelled;             /* cancelled entries still filed */
    bool oom;                      /* a refile could not get a chunk: the set is unusable */
    sim_evset_chunk_t *free_chunks;
    uint64_t next_seq;
    sim_event_t *free_list;        /* recycled events */
    void **slabs;                  /* event and chunk slabs, for destruction */
    size_t nslabs, slabs_cap;
    size_t slab_events;            /* events per new slab */
    size_t allocated;              /* events in all slabs */
} sim_evset_t;

int sim_evset_init(sim_evset_t *es);
void sim_evset_fini(sim_evset_t *es);

/* Schedule fn(obj, arg) at `time` (>= 0 and >= the time of the last event
 * popped); returns the event (its seq is the handle's generation) or NULL
 * when out of memory. O(1). */
sim_event_t *sim_evset_push(sim_evset_t *es, sim_time_t time, sim_event_fn fn, void *obj,
                            uint64_t arg);

/* Remove and return the earliest live event with time <= limit, or NULL
 * (none pending, the earliest is later than limit, or es->oom). The returned
 * event stays valid until the next push or pop; release it with
 * sim_evset_release. Amortised O(bytes of the delays). */
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

/* Time of the earliest live event, or SIM_TIME_MAX if none. O(n) in the
 * worst case: for tests and diagnostics, not for the run loop. */
sim_time_t sim_evset_peek_time(sim_evset_t *es);

#endif
