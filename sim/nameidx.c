/* A name index (nameidx.h): open addressing with linear probing on the
 * names' FNV-1a hashes, grown by doubling to stay at most half full. May
 * call: the C library, error. */
#include "nameidx.h"

#include <stdlib.h>
#include <string.h>

#include "error.h"

static uint64_t name_hash(const char *s)
{
    uint64_t h = 0xCBF29CE484222325ull;
    for (; *s; s++) h = (h ^ (unsigned char)*s) * 0x100000001B3ull;
    return h;
}

/* The slot holding `name`, or the empty slot where it would go. */
static size_t slot_of(sim_nameidx_t *x, const uint32_t *slot, size_t cap, const char *name)
{
    size_t j = (size_t)name_hash(name) & (cap - 1);
    while (slot[j]) {
        x->probes++;
        if (strcmp(x->name_at(x->ctx, slot[j] - 1), name) == 0) break;
        j = (j + 1) & (cap - 1);
    }
    return j;
}

void sim_nameidx_init(sim_nameidx_t *x, sim_name_at_fn name_at, const void *ctx)
{
    memset(x, 0, sizeof *x);
    x->name_at = name_at;
    x->ctx = ctx;
}

void sim_nameidx_fini(sim_nameidx_t *x)
{
    free(x->slot);
    x->slot = NULL;
    x->cap = x->n = 0;
}

long sim_nameidx_find(sim_nameidx_t *x, const char *name)
{
    if (!x->cap) return -1;
    size_t j = slot_of(x, x->slot, x->cap, name);
    return x->slot[j] ? (long)x->slot[j] - 1 : -1;
}

int sim_nameidx_add(sim_nameidx_t *x, size_t i)
{
    if (i >= UINT32_MAX - 1) return SIM_ENOMEM;
    if (2 * (x->n + 1) > x->cap) {
        size_t nc = x->cap ? 2 * x->cap : 64;
        uint32_t *s = calloc(nc, sizeof *s);
        if (!s) return SIM_ENOMEM;
        /* re-insert: the names are distinct, so every probe lands on an empty slot or another name */
        for (size_t k = 0; k < x->cap; k++)
            if (x->slot[k]) s[slot_of(x, s, nc, x->name_at(x->ctx, x->slot[k] - 1))] = x->slot[k];
        free(x->slot);
        x->slot = s;
        x->cap = nc;
    }
    x->slot[slot_of(x, x->slot, x->cap, x->name_at(x->ctx, i))] = (uint32_t)i + 1;
    x->n++;
    return 0;
}
