/* The pending-event set (evset.h): a monotone radix queue keyed by
 * (time, seq), chunked buckets, lazy cancellation. Owns its chunks; calls
 * nothing outside the engine. */
#include "evset.h"
#include "slab.h"

#include <stdlib.h>
#include <string.h>

#include "error.h"

#define INITIAL_SLAB 1024
#define MAX_SLAB 65536
#define PREFETCH_CHUNKS 8         /* up to 504 events: 32 KiB */
#define RUN_FILL 32               /* buckets this small are sorted into the run */
#define CHUNK_SLAB 64             /* chunks per allocation: 64 KiB */

int sim_evset_init(sim_evset_t *es)
{
    memset(es, 0, sizeof *es);
    es->slab_events = INITIAL_SLAB;
    return 0;
}

void sim_evset_fini(sim_evset_t *es)
{
    for (size_t i = 0; i < es->nslabs; i++) free(es->slabs[i]);
    free(es->slabs);
    memset(es, 0, sizeof *es);
}

static int add_slab(sim_evset_t *es, void *p)
{
    if (es->nslabs == es->slabs_cap) {
        size_t nc = es->slabs_cap ? es->slabs_cap * 2 : 16;
        void **s = realloc(es->slabs, nc * sizeof *s);
        if (!s) return SIM_ENOMEM;
        es->slabs = s;
        es->slabs_cap = nc;
    }
    es->slabs[es->nslabs++] = p;
    return 0;
}

static int grow_pool(sim_evset_t *es)
{
    size_t k = es->slab_events;
    sim_event_t *slab = sim_slab_alloc(k * sizeof *slab);
    if (!slab) return SIM_ENOMEM;
    memset(slab, 0, k * sizeof *slab);
    if (add_slab(es, slab) != 0) {
        free(slab);
        return SIM_ENOMEM;
    }
    es->allocated += k;
    for (size_t i = k; i-- > 0;) {
        slab[i].next_free = es->free_list;
        es->free_list = &slab[i];
    }
    if (es->slab_events < MAX_SLAB) es->slab_events *= 2;
    return 0;
}

static int grow_chunks(sim_evset_t *es)
{
    sim_evset_chunk_t *c = aligned_alloc(64, CHUNK_SLAB * sizeof *c);
    if (!c) return SIM_ENOMEM;
    if (add_slab(es, c) != 0) {
        free(c);
        return SIM_ENOMEM;
    }
    for (size_t i = CHUNK_SLAB; i-- > 0;) {
        c[i].next = es->free_chunks;
        es->free_chunks = &c[i];
    }
    es->cap += CHUNK_SLAB * SIM_EVSET_CHUNK;
    return 0;
}

static inline void free_chunk(sim_evset_t *es, sim_evset_chunk_t *c)
{
    c->next = es->free_chunks;
    es->free_chunks = c;
}

static inline int append(sim_evset_t *es, sim_evset_bucket_t *b, sim_evset_entry_t e)
{
    sim_evset_chunk_t *t = b->tail;
    if (!t || t->n == SIM_EVSET_CHUNK) {
        if (!es->free_chunks && grow_chunks(es) != 0) return SIM_ENOMEM;
        sim_evset_chunk_t *c = es->free_chunks;
        es->free_chunks = c->next;
        c->next = NULL;
        c->n = 0;
        if (t)
            t->next = c;
        else
            b->head = c;
        b->tail = t = c;
    }
    t->e[t->n++] = e;
    return 0;
}

/* File an entry into the buckets relative to es->last (entry time >= last). */
static inline int file_bucket(sim_evset_t *es, sim_evset_entry_t e)
{
    uint64_t x = e.time ^ es->last;
    if (x == 0) return append(es, &es->cur, e);
    unsigned l = (unsigned)(63 - __builtin_clzll(x)) >> 3;
    unsigned d = (unsigned)(e.time >> (l * 8)) & 0xFF;
    es->level_mask |= 1u << l;
    es->digit_mask[l][d >> 6] |= 1ull << (d & 63);
    return append(es, &es->bucket[l][d], e);
}

/* Put the run's entries back into the buckets (it is full). They are all
 * earlier than every filed entry, so ties among filed entries stay in
 * schedule order. */
static int flush_run(sim_evset_t *es)
{
    uint32_t h = es->run_head, n = es->run_n;
    es->run_head = es->run_n = 0;
    for (uint32_t i = h; i < n; i++)
        if (file_bucket(es, es->run[i]) != 0) {
            es->oom = true;   /* entries were lost: the set is unusable */
            return SIM_ENOMEM;
        }
    return 0;
}

/* Insert into the run after every entry with time <= e.time (e has the
 * largest seq so far). */
static int run_insert(sim_evset_t *es, sim_evset_entry_t e)
{
    if (es->run_n == SIM_EVSET_RUN_CAP) {
        if (es->run_head == 0) {
            if (flush_run(es) != 0) return SIM_ENOMEM;
            return file_bucket(es, e);
        }
        memmove(es->run, es->run + es->run_head, (es->run_n - es->run_head) * sizeof *es->run);
        es->run_n -= es->run_head;
        es->run_head = 0;
    }
    uint32_t i = es->run_n;
    while (i > es->run_head && es->run[i - 1].time > e.time) {
        es->run[i] = es->run[i - 1];
        i--;
    }
    es->run[i] = e;
    es->run_n++;
    return 0;
}

/* File an entry: into the run if it falls inside it, else a bucket. */
static inline int file_entry(sim_evset_t *es, sim_evset_entry_t e)
{
    if (es->run_head < es->run_n && e.time <= es->run_max) return run_insert(es, e);
    return file_bucket(es, e);
}

sim_event_t *sim_evset_push(sim_evset_t *es, sim_time_t time, sim_event_fn fn, void *obj,
                            uint64_t arg)
{
    if (es->oom) return NULL;
    if (!es->free_list && grow_pool(es) != 0) return NULL;
    sim_event_t *ev = es->free_list;
    if ((uint64_t)time < es->last) time = (sim_time_t)es->last;   /* never before the last event taken */
    if (file_entry(es, (sim_evset_entry_t){(uint64_t)time, ev}) != 0) return NULL;
    es->free_list = ev->next_free;
    ev->time = time;
    ev->seq = es->next_seq++;
    ev->fn = fn;
    ev->obj = obj;
    ev->arg = arg;
    ev->state = SIM_EV_PENDING;
    es->n++;
    return ev;
}

/* The lowest non-empty bucket (level, digit); false if there is none. */
static inline bool lowest_bucket(const sim_evset_t *es, unsigned *lp, unsigned *dp)
{
    if (!es->level_mask) return false;
    unsigned l = (unsigned)__builtin_ctz(es->level_mask);
    const uint64_t *m = es->digit_mask[l];
    unsigned w = 0;
    while (!m[w]) w++;
    *lp = l;
    *dp = w * 64 + (unsigned)__builtin_ctzll(m[w]);
    return true;
}

static inline void mark_empty(sim_evset_t *es, unsigned l, unsigned d)
{
    es->digit_mask[l][d >> 6] &= ~(1ull << (d & 63));
    const uint64_t *m = es->digit_mask[l];
    if (!(m[0] | m[1] | m[2] | m[3])) es->level_mask &= ~(1u << l);
}

static void free_list_of(sim_evset_t *es, sim_evset_chunk_t *c)
{
    while (c) {
        sim_evset_chunk_t *nx = c->next;
        free_chunk(es, c);
        c = nx;
    }
}

/* Bucket (l, d), whose entries are the earliest and all at time t (or its
 * lone entry, at t), becomes es->cur as it is: no entry moves. */
static inline void take_bucket(sim_evset_t *es, unsigned l, unsigned d, uint64_t t)
{
    sim_evset_bucket_t *b = &es->bucket[l][d];
    free_list_of(es, es->cur.head);
    es->cur = *b;
    b->head = b->tail = NULL;
    es->cur_head = 0;
    es->last = t;
    mark_empty(es, l, d);
}

/* Make es->cur hold the earliest entries (all with the minimum time, which
 * becomes es->last), provided that time is <= limit. es->cur must be empty.
 * False when the set is empty, the minimum is later than limit, or memory
 * ran out. */
static bool advance(sim_evset_t *es, uint64_t limit)
{
    unsigned l, d;
    while (lowest_bucket(es, &l, &d)) {
        sim_evset_bucket_t *b = &es->bucket[l][d];
        if (l == 0) {
            uint64_t t = (es->last & ~(uint64_t)0xFF) | d;
            if (t > limit) return false;
            /* all entries have time t, already in seq order: take the list */
            take_bucket(es, l, d, t);
            return true;
        }
        /* lower bound of the bucket: last's bytes above l, digit d, zeros below */
        unsigned sh = (l + 1) * 8;
        uint64_t lo = (sh >= 64 ? 0 : (es->last >> sh) << sh) | ((uint64_t)d << (l * 8));
        if (lo > limit) return false;
        if (b->head == b->tail && b->head->n == 1) {
            /* a lone entry (the common case when events are sparse at this
             * scale) is the minimum: it becomes cur without a refile */
            uint64_t t = b->head->e[0].time;
            if (t > limit) return false;
            take_bucket(es, l, d, t);
            return true;
        }
        /* When cancelled entries are a notable share (timeouts set as events
         * rather than on a timeout list: nearly all cancelled), drop them here instead of moving
         * them down level after level; this reads the events, which the
         * plain refile never does. */
        bool drop = es->ncancelled * 8 > es->n;
        uint64_t mn = UINT64_MAX;
        for (const sim_evset_chunk_t *c = b->head; c; c = c->next)
            for (uint32_t i = 0; i < c->n; i++)
                if (c->e[i].time < mn && !(drop && c->e[i].ev->state == SIM_EV_CANCELLED))
                    mn = c->e[i].time;
        if (mn > limit && mn != UINT64_MAX) return false;
        sim_evset_chunk_t *c = b->head;
        b->head = b->tail = NULL;
        mark_empty(es, l, d);
        if (mn == UINT64_MAX) {   /* all cancelled */
            for (sim_evset_chunk_t *p = c; p; p = p->next) {
                for (uint32_t i = 0; i < p->n; i++) sim_evset_release(es, p->e[i].ev);
                es->n -= p->n;
                es->ncancelled -= p->n;
            }
            free_list_of(es, c);
            continue;
        }
        if (!c->next && c->n <= RUN_FILL) {
            /* sort the bucket into the run (stable: ties keep their order) */
            uint32_t k = 0;
            if (!drop)
                for (uint32_t i = 0; i < c->n; i++) __builtin_prefetch(c->e[i].ev, 1, 3);
            for (uint32_t i = 0; i < c->n; i++) {
                sim_evset_entry_t e = c->e[i];
                if (drop && e.ev->state == SIM_EV_CANCELLED) {
                    sim_evset_release(es, e.ev);
                    es->n--;
                    es->ncancelled--;
                    continue;
                }
                uint32_t j = k++;
                while (j > 0 && es->run[j - 1].time > e.time) {
                    es->run[j] = es->run[j - 1];
                    j--;
                }
                es->run[j] = e;
            }
            free_chunk(es, c);
            es->run_head = 0;
            es->run_n = k;
            es->run_max = es->run[k - 1].time;
            es->last = mn;
            return true;
        }
        es->last = mn;
        /* a small bucket comes out soon: fetch its events now, all at once,
         * rather than one cache miss at a time when each is popped */
        unsigned nchunks = 0;
        for (const sim_evset_chunk_t *p = c; p && nchunks <= PREFETCH_CHUNKS; p = p->next) nchunks++;
        if (nchunks <= PREFETCH_CHUNKS && !drop)
            for (const sim_evset_chunk_t *p = c; p; p = p->next)
                for (uint32_t i = 0; i < p->n; i++) __builtin_prefetch(p->e[i].ev, 1, 3);
        while (c) {
            for (uint32_t i = 0; i < c->n; i++) {
                if (drop && c->e[i].ev->state == SIM_EV_CANCELLED) {
                    sim_evset_release(es, c->e[i].ev);
                    es->n--;
                    es->ncancelled--;
                    continue;
                }
                if (file_bucket(es, c->e[i]) != 0) {   /* the run is empty here */
                    es->oom = true;
                    return false;
                }
            }
            sim_evset_chunk_t *nx = c->next;
            free_chunk(es, c);
            c = nx;
        }
        if (es->cur.head) return true;
    }
    return false;
}

sim_event_t *sim_evset_pop(sim_evset_t *es, sim_time_t limit)
{
    if (limit < 0) return NULL;
    for (;;) {
        sim_evset_chunk_t *c = es->cur.head;
        while (c) {
            if (es->cur_head == c->n) {
                es->cur.head = c->next;
                if (!c->next) es->cur.tail = NULL;
                free_chunk(es, c);
                es->cur_head = 0;
                c = es->cur.head;
                continue;
            }
            sim_event_t *ev = c->e[es->cur_head].ev;
            if (ev->state == SIM_EV_CANCELLED) {
                es->cur_head++;
                es->n--;
                es->ncancelled--;
                sim_evset_release(es, ev);
                continue;
            }
            if (es->last > (uint64_t)limit) return NULL;
            es->cur_head++;
            es->n--;
            return ev;
        }
        while (es->run_head < es->run_n) {
            sim_evset_entry_t *e = &es->run[es->run_head];
            if (e->ev->state == SIM_EV_CANCELLED) {
                es->run_head++;
                es->n--;
                es->ncancelled--;
                sim_evset_release(es, e->ev);
                continue;
            }
            if (e->time > (uint64_t)limit) return NULL;
            es->run_head++;
            es->n--;
            return e->ev;
        }
        es->run_head = es->run_n = 0;
        if (es->oom || !advance(es, (uint64_t)limit)) return NULL;
    }
}

static uint64_t live_min(const sim_evset_chunk_t *c, uint32_t from)
{
    uint64_t mn = UINT64_MAX;
    for (; c; c = c->next, from = 0)
        for (uint32_t i = from; i < c->n; i++)
            if (c->e[i].ev->state == SIM_EV_PENDING && c->e[i].time < mn) mn = c->e[i].time;
    return mn;
}

sim_time_t sim_evset_peek_time(sim_evset_t *es)
{
    if (live_min(es->cur.head, es->cur_head) != UINT64_MAX) return (sim_time_t)es->last;
    for (uint32_t i = es->run_head; i < es->run_n; i++)
        if (es->run[i].ev->state == SIM_EV_PENDING) return (sim_time_t)es->run[i].time;
    /* buckets in increasing order of their time ranges: the first one with a
     * live entry holds the minimum */
    for (int l = 0; l < SIM_EVSET_LEVELS; l++)
        for (int d = 0; d < SIM_EVSET_DIGITS; d++) {
            uint64_t mn = live_min(es->bucket[l][d].head, 0);
            if (mn != UINT64_MAX) return (sim_time_t)mn;
        }
    return SIM_TIME_MAX;
}

/* Drop the cancelled entries of a list from entry `from` of its head on,
 * keeping the order; frees emptied chunks. */
static void sweep(sim_evset_t *es, sim_evset_bucket_t *b, uint32_t from)
{
    sim_evset_chunk_t *w = b->head;   /* write position */
    uint32_t wn = 0;
    for (sim_evset_chunk_t *r = b->head; r; r = r->next, from = 0)
        for (uint32_t i = from; i < r->n; i++) {
            sim_event_t *ev = r->e[i].ev;
            if (ev->state == SIM_EV_CANCELLED) {
                sim_evset_release(es, ev);
                continue;
            }
            if (wn == SIM_EVSET_CHUNK) {
                w->n = wn;
                w = w->next;
                wn = 0;
            }
            w->e[wn++] = r->e[i];
        }
    if (!w) return;
    if (wn == 0 && w == b->head) {
        free_list_of(es, b->head);
        b->head = b->tail = NULL;
        return;
    }
    if (wn == 0) wn = SIM_EVSET_CHUNK;   /* unreachable: w advances only to write */
    w->n = wn;
    free_list_of(es, w->next);
    w->next = NULL;
    b->tail = w;
}

static void compact(sim_evset_t *es)
{
    sweep(es, &es->cur, es->cur_head);
    es->cur_head = 0;
    uint32_t k = 0;
    for (uint32_t i = es->run_head; i < es->run_n; i++) {
        if (es->run[i].ev->state == SIM_EV_CANCELLED)
            sim_evset_release(es, es->run[i].ev);
        else
            es->run[k++] = es->run[i];
    }
    es->run_head = 0;
    es->run_n = k;
    for (unsigned l = 0; l < SIM_EVSET_LEVELS; l++) {
        if (!(es->level_mask & (1u << l))) continue;
        for (unsigned d = 0; d < SIM_EVSET_DIGITS; d++) {
            sim_evset_bucket_t *b = &es->bucket[l][d];
            if (!b->head) continue;
            sweep(es, b, 0);
            if (!b->head) mark_empty(es, l, d);
        }
    }
    es->n -= es->ncancelled;
    es->ncancelled = 0;
}

bool sim_evset_cancel(sim_evset_t *es, sim_event_t *ev, uint64_t seq)
{
    if (!ev || ev->seq != seq || ev->state != SIM_EV_PENDING) return false;
    ev->state = SIM_EV_CANCELLED;
    es->ncancelled++;
    if (es->ncancelled > 4096 && es->ncancelled * 2 > es->n) compact(es);
    return true;
}
