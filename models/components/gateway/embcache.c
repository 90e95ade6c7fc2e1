/* The gateway's embedding cache (embcache.h): unbounded, LRU or TTL, with
 * the holding chain to the index. Owns its table and pool; calls the engine's
 * random streams only. */
#include "models/components/gateway/embcache.h"

#include <stdlib.h>
#include <string.h>

#include "sim/error.h"
#include "sim/rng.h"

const char *const embc_mode_names[] = {"none", "unbounded", "lru", "ttl", NULL};
const char *const embc_holds_names[] = {"vectors", "objects", NULL};

int embc_spec_parse(sim_diag_t *d, sim_cfg_node_t *map, embc_spec_t *spec)
{
    int errs = d->errors;
    /* bounded by default: an LRU of 100 000 entries (~320 MB of 768-dim
     * float32 embeddings); the memory-leak trap asks for `unbounded` */
    *spec = (embc_spec_t){.mode = EMBC_LRU, .capacity = 100000, .ttl = 10 * SIM_MIN,
                          .entry_bytes = 3 * 1024 + 128, .pin_index = false, .holds = EMBC_HOLDS_VECTORS};
    if (!map) return 0;
    if (!sim_cfg_expect_map(d, map, "embedding_cache")) return SIM_ECONFIG;
    int mode = (int)spec->mode;
    sim_cfg_enum(d, map, "mode", 0, embc_mode_names, mode, &mode);
    spec->mode = (embc_mode_t)mode;
    sim_cfg_int(d, map, "capacity", 0, 1, (int64_t)1 << 30, spec->capacity, &spec->capacity);
    sim_cfg_duration(d, map, "ttl", SIM_CFG_POSITIVE, spec->ttl, &spec->ttl);
    sim_cfg_size(d, map, "entry_bytes", 0, spec->entry_bytes, &spec->entry_bytes);
    sim_cfg_bool(d, map, "pin_index", 0, spec->pin_index, &spec->pin_index);
    int holds = (int)spec->holds;
    sim_cfg_enum(d, map, "holds", 0, embc_holds_names, holds, &holds);
    spec->holds = (embc_holds_t)holds;
    return d->errors == errs ? 0 : SIM_ECONFIG;
}

static int grow_slots(embc_t *c, uint64_t nslots);

int embc_init(embc_t *c, const embc_spec_t *spec, int64_t index_bytes, embc_mem_fn mem, void *ctx)
{
    memset(c, 0, sizeof *c);
    c->spec = spec;
    c->mem = mem;
    c->mem_ctx = ctx;
    c->index_bytes = index_bytes;
    c->head = c->tail = c->free_head = -1;
    c->nversions = 1;
    c->pins = calloc(16, sizeof *c->pins);
    if (!c->pins) return SIM_ENOMEM;
    return grow_slots(c, 1024);
}

void embc_fini(embc_t *c)
{
    free(c->slots);
    free(c->e);
    free(c->pins);
    memset(c, 0, sizeof *c);
}

static inline uint64_t slot_of(const embc_t *c, uint64_t key) { return sim_rng_sm64(key) & (c->nslots - 1); }

static int grow_slots(embc_t *c, uint64_t nslots)
{
    int32_t *s = malloc(nslots * sizeof *s);
    if (!s) return SIM_ENOMEM;
    for (uint64_t i = 0; i < nslots; i++) s[i] = -1;
    int32_t *old = c->slots;
    uint64_t oldn = c->nslots;
    c->slots = s;
    c->nslots = nslots;
    for (uint64_t i = 0; i < oldn; i++) {
        if (old[i] < 0) continue;
        uint64_t j = slot_of(c, c->e[old[i]].key);
        while (s[j] >= 0) j = (j + 1) & (nslots - 1);
        s[j] = old[i];
    }
    free(old);
    return 0;
}

static uint64_t find_slot(const embc_t *c, uint64_t key, bool *found)
{
    uint64_t j = slot_of(c, key);
    while (c->slots[j] >= 0) {
        if (c->e[c->slots[j]].key == key) {
            *found = true;
            return j;
        }
        j = (j + 1) & (c->nslots - 1);
    }
    *found = false;
    return j;
}

/* Backward-shift deletion keeps probe sequences intact without tombstones. */
static void delete_slot(embc_t *c, uint64_t j)
{
    uint64_t mask = c->nslots - 1;
    c->slots[j] = -1;
    uint64_t k = (j + 1) & mask;
    while (c->slots[k] >= 0) {
        uint64_t home = slot_of(c, c->e[c->slots[k]].key);
        /* move k into the hole j if its home is not in (j, k] cyclically */
        bool between = j <= k ? (home > j && home <= k) : (home > j || home <= k);
        if (!between) {
            c->slots[j] = c->slots[k];
            c->slots[k] = -1;
            j = k;
        }
        k = (k + 1) & mask;
    }
}

static void lru_unlink(embc_t *c, int32_t i)
{
    embc_entry_t *x = &c->e[i];
    if (x->prev >= 0) c->e[x->prev].next = x->next; else c->head = x->next;
    if (x->next >= 0) c->e[x->next].prev = x->prev; else c->tail = x->prev;
    x->prev = x->next = -1;
}

static void lru_push_front(embc_t *c, int32_t i)
{
    embc_entry_t *x = &c->e[i];
    x->prev = -1;
    x->next = c->head;
    if (c->head >= 0) c->e[c->head].prev = i;
    c->head = i;
    if (c->tail < 0) c->tail = i;
}

static void unpin(embc_t *c, int32_t version)
{
    if (!c->spec->pin_index) return;
    if (--c->pins[version] == 0 && version != c->version && c->mem) c->mem(c->mem_ctx, -c->index_bytes, true);
}

static void remove_entry(embc_t *c, int32_t i)
{
    bool found;
    uint64_t j = find_slot(c, c->e[i].key, &found);
    if (found) delete_slot(c, j);
    lru_unlink(c, i);
    unpin(c, c->e[i].version);
    c->e[i].next = c->free_head;
    c->free_head = i;
    c->n--;
    if (c->mem) c->mem(c->mem_ctx, -c->spec->entry_bytes, false);
}

/* Drop expired entries from the LRU tail: with TTL, insertion order equals
 * expiry order, and a hit does not extend the TTL (so the list is kept in
 * insertion order in ttl mode: lookups do not move entries). */
static void expire(embc_t *c, sim_time_t now)
{
    while (c->tail >= 0 && c->e[c->tail].expires <= now) {
        remove_entry(c, c->tail);
        c->expirations++;
    }
}

bool embc_lookup(embc_t *c, uint64_t key, sim_time_t now)
{
    if (c->spec->mode == EMBC_NONE) {
        c->misses++;
        return false;
    }
    if (c->spec->mode == EMBC_TTL) expire(c, now);
    bool found;
    uint64_t j = find_slot(c, key, &found);
    if (!found) {
        c->misses++;
        return false;
    }
    c->hits++;
    if (c->spec->mode == EMBC_LRU) {
        int32_t i = c->slots[j];
        lru_unlink(c, i);
        lru_push_front(c, i);
    }
    return true;
}

int embc_insert(embc_t *c, uint64_t key, sim_time_t now)
{
    if (c->spec->mode == EMBC_NONE) return 0;
    if (c->spec->mode == EMBC_TTL) expire(c, now);
    bool found;
    find_slot(c, key, &found);
    if (found) return 0;
    if (c->spec->mode == EMBC_LRU && c->n >= c->spec->capacity) {
        remove_entry(c, c->tail);
        c->evictions++;
    }
    if ((uint64_t)(c->n + 1) * 2 > c->nslots && grow_slots(c, c->nslots * 2)) return SIM_ENOMEM;
    if (c->free_head < 0) {
        int64_t ncap = c->cap ? c->cap * 2 : 1024;
        embc_entry_t *e = realloc(c->e, (size_t)ncap * sizeof *e);
        if (!e) return SIM_ENOMEM;
        c->e = e;
        for (int64_t i = ncap; i-- > c->cap;) {
            c->e[i].next = c->free_head;
            c->free_head = (int32_t)i;
        }
        c->cap = ncap;
    }
    int32_t i = c->free_head;
    c->free_head = c->e[i].next;
    c->e[i] = (embc_entry_t){key, now + c->spec->ttl, c->version, -1, -1};
    bool f2;
    uint64_t j = find_slot(c, key, &f2);
    c->slots[j] = i;
    lru_push_front(c, i);
    c->n++;
    if (c->spec->pin_index) c->pins[c->version]++;
    if (c->mem) c->mem(c->mem_ctx, c->spec->entry_bytes, false);
    return 0;
}

void embc_new_version(embc_t *c)
{
    int32_t old = c->version;
    if (c->nversions % 16 == 0) {
        int64_t *p = realloc(c->pins, (size_t)(c->nversions + 16) * sizeof *p);
        if (!p) return;   /* out of memory: keep the old version current */
        memset(p + c->nversions, 0, 16 * sizeof *p);
        c->pins = p;
    }
    c->version = c->nversions++;
    /* the old index is garbage unless entries pin it */
    if (!(c->spec->pin_index && c->pins[old] > 0) && c->mem) c->mem(c->mem_ctx, -c->index_bytes, true);
}

int64_t embc_pinned_bytes(const embc_t *c) { return (int64_t)embc_pinned_versions(c) * c->index_bytes; }

int32_t embc_pinned_versions(const embc_t *c)
{
    int32_t k = 0;
    if (!c->spec->pin_index) return 0;
    for (int32_t v = 0; v < c->nversions; v++) k += v != c->version && c->pins[v] > 0;
    return k;
}

void embc_clear(embc_t *c)
{
    for (uint64_t i = 0; i < c->nslots; i++) c->slots[i] = -1;
    c->free_head = -1;
    for (int64_t i = c->cap; i-- > 0;) {
        c->e[i].next = c->free_head;
        c->free_head = (int32_t)i;
    }
    c->n = 0;
    c->head = c->tail = -1;
    memset(c->pins, 0, (size_t)((c->nversions + 15) / 16 * 16) * sizeof *c->pins);
    c->nversions = 1;
    c->version = 0;
    c->hits = c->misses = c->evictions = c->expirations = 0;
}
