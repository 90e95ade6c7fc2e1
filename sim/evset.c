#include "evset.h"

#include <stdlib.h>
#include <string.h>

#include "error.h"

/* Heap layout: a 4-ary heap whose children of i are 4i+1 .. 4i+4. The block
 * is 64-byte aligned and the heap starts 3 entries in, so heap[1..4],
 * heap[5..8], ... each occupy exactly one cache line. */
#define ARITY 4
#define HEAP_OFFSET 3
#define INITIAL_CAP 1021          /* + HEAP_OFFSET = 1024 entries = 16 KiB */
#define INITIAL_SLAB 1024
#define MAX_SLAB 65536

static inline bool entry_less(const sim_heap_entry_t *a, const sim_heap_entry_t *b)
{
    return a->time < b->time || (a->time == b->time && a->ev->seq < b->ev->seq);
}

int sim_evset_init(sim_evset_t *es)
{
    memset(es, 0, sizeof *es);
    es->slab_events = INITIAL_SLAB;
    es->cap = INITIAL_CAP;
    es->heap_block = aligned_alloc(64, (es->cap + HEAP_OFFSET) * sizeof(sim_heap_entry_t));
    if (!es->heap_block) return SIM_ENOMEM;
    es->heap = (sim_heap_entry_t *)es->heap_block + HEAP_OFFSET;
    return 0;
}

void sim_evset_fini(sim_evset_t *es)
{
    for (size_t i = 0; i < es->nslabs; i++) free(es->slabs[i]);
    free(es->slabs);
    free(es->heap_block);
    memset(es, 0, sizeof *es);
}

static int grow_heap(sim_evset_t *es)
{
    size_t ncap = (es->cap + HEAP_OFFSET) * 2 - HEAP_OFFSET;
    void *blk = aligned_alloc(64, (ncap + HEAP_OFFSET) * sizeof(sim_heap_entry_t));
    if (!blk) return SIM_ENOMEM;
    sim_heap_entry_t *h = (sim_heap_entry_t *)blk + HEAP_OFFSET;
    memcpy(h, es->heap, es->n * sizeof *h);
    free(es->heap_block);
    es->heap_block = blk;
    es->heap = h;
    es->cap = ncap;
    return 0;
}

static int grow_pool(sim_evset_t *es)
{
    if (es->nslabs == es->slabs_cap) {
        size_t nc = es->slabs_cap ? es->slabs_cap * 2 : 16;
        void **s = realloc(es->slabs, nc * sizeof *s);
        if (!s) return SIM_ENOMEM;
        es->slabs = s;
        es->slabs_cap = nc;
    }
    size_t k = es->slab_events;
    sim_event_t *slab = calloc(k, sizeof *slab);
    if (!slab) return SIM_ENOMEM;
    es->slabs[es->nslabs++] = slab;
    es->allocated += k;
    for (size_t i = k; i-- > 0;) {
        slab[i].next_free = es->free_list;
        es->free_list = &slab[i];
    }
    if (es->slab_events < MAX_SLAB) es->slab_events *= 2;
    return 0;
}

static inline void sift_up(sim_heap_entry_t *h, size_t i, sim_heap_entry_t x)
{
    while (i > 0) {
        size_t p = (i - 1) / ARITY;
        if (!entry_less(&x, &h[p])) break;
        h[i] = h[p];
        i = p;
    }
    h[i] = x;
}

static inline void sift_down(sim_heap_entry_t *h, size_t n, size_t i, sim_heap_entry_t x)
{
    for (;;) {
        size_t c = ARITY * i + 1;
        if (c >= n) break;
        size_t best = c;
        size_t end = c + ARITY < n ? c + ARITY : n;
        for (size_t j = c + 1; j < end; j++)
            if (entry_less(&h[j], &h[best])) best = j;
        if (!entry_less(&h[best], &x)) break;
        h[i] = h[best];
        i = best;
    }
    h[i] = x;
}

sim_event_t *sim_evset_push(sim_evset_t *es, sim_time_t time, sim_event_fn fn, void *obj,
                            uint64_t arg)
{
    if (!es->free_list && grow_pool(es) != 0) return NULL;
    if (es->n == es->cap && grow_heap(es) != 0) return NULL;
    sim_event_t *ev = es->free_list;
    es->free_list = ev->next_free;
    ev->time = time;
    ev->seq = es->next_seq++;
    ev->fn = fn;
    ev->obj = obj;
    ev->arg = arg;
    ev->state = SIM_EV_PENDING;
    sift_up(es->heap, es->n++, (sim_heap_entry_t){time, ev});
    return ev;
}

static inline void remove_top(sim_evset_t *es)
{
    sim_heap_entry_t last = es->heap[--es->n];
    if (es->n > 0) sift_down(es->heap, es->n, 0, last);
}

sim_event_t *sim_evset_pop(sim_evset_t *es, sim_time_t limit)
{
    while (es->n > 0) {
        sim_heap_entry_t top = es->heap[0];
        if (top.ev->state == SIM_EV_CANCELLED) {
            remove_top(es);
            es->ncancelled--;
            sim_evset_release(es, top.ev);
            continue;
        }
        if (top.time > limit) return NULL;
        remove_top(es);
        return top.ev;
    }
    return NULL;
}

sim_time_t sim_evset_peek_time(sim_evset_t *es)
{
    while (es->n > 0 && es->heap[0].ev->state == SIM_EV_CANCELLED) {
        sim_event_t *ev = es->heap[0].ev;
        remove_top(es);
        es->ncancelled--;
        sim_evset_release(es, ev);
    }
    return es->n > 0 ? es->heap[0].time : SIM_TIME_MAX;
}

/* Drop every cancelled entry and rebuild the heap bottom-up (Floyd): O(n). */
static void compact(sim_evset_t *es)
{
    sim_heap_entry_t *h = es->heap;
    size_t k = 0;
    for (size_t i = 0; i < es->n; i++) {
        if (h[i].ev->state == SIM_EV_CANCELLED)
            sim_evset_release(es, h[i].ev);
        else
            h[k++] = h[i];
    }
    es->n = k;
    es->ncancelled = 0;
    if (k > 1)
        for (size_t i = (k - 2) / ARITY + 1; i-- > 0;) sift_down(h, k, i, h[i]);
}

bool sim_evset_cancel(sim_evset_t *es, sim_event_t *ev, uint64_t seq)
{
    if (!ev || ev->seq != seq || ev->state != SIM_EV_PENDING) return false;
    ev->state = SIM_EV_CANCELLED;
    es->ncancelled++;
    if (es->ncancelled > 4096 && es->ncancelled * 2 > es->n) compact(es);
    return true;
}
