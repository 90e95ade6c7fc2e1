/* Calls between a request and a component (call.h): the pool, timeouts
 * (a timer or a timeout list), abandoning and completing. Calls the engine
 * only. */
#include "models/components/call.h"
#include "sim/slab.h"

#include <assert.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#define CALL_SLAB (((size_t)2 << 20) / sizeof(call_t))   /* calls per block: one 2 MiB page (sim/slab.h) */

const char *call_status_name(call_status_t s)
{
    static const char *const names[CALL_NSTATUS] = {"ok", "error", "timeout", "rejected", "unavailable"};
    return (unsigned)s < CALL_NSTATUS ? names[s] : "?";
}

void call_pool_init(call_pool_t *p) { memset(p, 0, sizeof *p); }

void call_pool_fini(call_pool_t *p)
{
    for (size_t i = 0; i < p->nslabs; i++) free(p->slabs[i]);
    free(p->slabs);
    memset(p, 0, sizeof *p);
}

size_t call_pool_bytes(const call_pool_t *p) { return p->nslabs * CALL_SLAB * sizeof(call_t); }

call_t *call_new(call_pool_t *p, void *owner, call_done_fn done, uint64_t tag, sim_time_t now)
{
    if (!p->free_list) {
        void **s = realloc(p->slabs, (p->nslabs + 1) * sizeof *s);
        if (!s) return NULL;
        p->slabs = s;
        call_t *slab = sim_slab_alloc(CALL_SLAB * sizeof *slab);
        if (!slab) return NULL;
        p->slabs[p->nslabs++] = slab;
        for (size_t i = CALL_SLAB; i-- > 0;) {
            slab[i].next_free = p->free_list;
            p->free_list = &slab[i];
        }
    }
    call_t *c = p->free_list;
    p->free_list = c->next_free;
    memset(c, 0, sizeof *c);
    c->owner = owner;
    c->done = done;
    c->tag = tag;
    c->sent = now;
    c->job.demand = -1;
    c->replica = -1;
    c->pool = p;
    p->live++;
    return c;
}

static void timed_out(sim_t *sim, call_t *c)
{
    if (!c->owner) return;
    c->done(sim, c, CALL_TIMEOUT);   /* c->owner is still set while done runs */
    c->owner = NULL;                 /* the component keeps the call ... */
    /* ... unless the caller's context is cancelled with the timeout (a
     * gRPC deadline): the component is asked to stop working on it. done
     * cannot have completed the call (only its component does, from its
     * own events), so c is still live here. */
    if (c->cancel_after_timeout) c->cancel_after_timeout(sim, c);
}

static void timeout_event(sim_t *sim, void *obj, uint64_t arg)
{
    (void)arg;
    call_t *c = obj;
    c->timeout = (sim_timer_t){0, 0};
    timed_out(sim, c);
}

void call_tlist_fire(sim_t *sim, sim_tl_entry_t *e, void *ctx)
{
    (void)ctx;
    call_t *c = (call_t *)(void *)((char *)e - offsetof(call_t, tle));
    c->tl = NULL;
    timed_out(sim, c);
}

void call_set_timeout(sim_t *sim, call_t *c, sim_time_t dt)
{
    sim_cancel(sim, &c->timeout);
    c->timeout = sim_schedule_in(sim, dt, timeout_event, c, 0);
}

void call_set_timeout_list(sim_t *sim, call_t *c, sim_tlist_t *l)
{
    assert(!c->tl && !c->timeout.ev && "call_set_timeout_list: the call has a timeout");
    c->tl = l;
    sim_tlist_add(sim, l, &c->tle);
}

static inline void clear_timeout(sim_t *sim, call_t *c)
{
    if (c->tl) {
        sim_tlist_remove(c->tl, &c->tle);
        c->tl = NULL;
    } else {
        sim_cancel(sim, &c->timeout);
    }
}

void call_abandon(sim_t *sim, call_t *c)
{
    clear_timeout(sim, c);
    c->owner = NULL;
}

void call_complete(sim_t *sim, call_t *c, call_status_t status)
{
    clear_timeout(sim, c);
    if (c->owner) c->done(sim, c, status);   /* c->owner is set while done runs */
    if (c->release) c->release(sim, c);
    call_pool_t *p = c->pool;
    c->next_free = p->free_list;
    p->free_list = c;
    p->live--;
}
