/* The gateway's embedding cache: query key -> embedding, in process memory.
 *
 *   mode: unbounded     the article's first leak: a map that only grows; every
 *                       distinct query adds entry_bytes (768 float32 = 3 KiB
 *                       plus key and map overhead)
 *         lru           at most `capacity` entries, least recently used evicted
 *         ttl           entries expire `ttl` after insertion (lazily, on lookup
 *                       and on insertion: O(1) amortised)
 *         none          no cache
 *   pin_index: true     each entry also references the in-process index version
 *                       it was computed with (the article's holding chain
 *                       query -> embedding -> cached entry -> index -> ANN
 *                       engine): an old index version stays resident while any
 *                       entry references it
 *
 * A hit skips the embedder call. Memory is reported through callbacks so
 * that the owner (the gateway's Go runtime) accounts it as live heap.
 * Open addressing with linear probing and backward-shift deletion; entries
 * in a pool with an intrusive LRU list: O(1) per operation, growth by
 * doubling. */
#ifndef MODELS_COMPONENTS_GATEWAY_EMBCACHE_H
#define MODELS_COMPONENTS_GATEWAY_EMBCACHE_H

#include <stdbool.h>
#include <stdint.h>

#include "sim/cfg.h"
#include "sim/time.h"

typedef enum { EMBC_NONE, EMBC_UNBOUNDED, EMBC_LRU, EMBC_TTL } embc_mode_t;

/* What an entry holds, for the Go runtime's marker: `vectors` (default):
 * a []float32 embedding (pointer-free: marked, never scanned) and its map
 * entry (key string and slice header, EMBC_ENTRY_POINTER_BYTES, scanned);
 * `objects`: pointer-bearing structs (all of it scanned). */
typedef enum { EMBC_HOLDS_VECTORS, EMBC_HOLDS_OBJECTS } embc_holds_t;
#define EMBC_ENTRY_POINTER_BYTES 128

extern const char *const embc_holds_names[];   /* NULL-terminated, for sim_cfg_enum */

extern const char *const embc_mode_names[];   /* NULL-terminated, for sim_cfg_enum */

typedef struct embc_spec {
    embc_mode_t mode;
    int64_t capacity;       /* lru: entries */
    sim_time_t ttl;         /* ttl */
    int64_t entry_bytes;    /* per entry, default 3 KiB + 128 B */
    bool pin_index;
    embc_holds_t holds;
} embc_spec_t;

/* `cache: {mode: unbounded, capacity: 100000, ttl: 10m, entry_bytes: 3200B, pin_index: false,
 *          holds: vectors}` */
int embc_spec_parse(sim_diag_t *d, sim_cfg_node_t *map, embc_spec_t *spec);

/* Memory accounting: bytes become reachable (+) or garbage (-); `index`:
 * the bytes are an index version (pinned or unpinned), else cache entries. */
typedef void (*embc_mem_fn)(void *ctx, int64_t delta, bool index);

typedef struct {
    uint64_t key;
    sim_time_t expires;
    int32_t version;
    int32_t prev, next;     /* LRU list (most recent at head); -1 none */
} embc_entry_t;

typedef struct embc {
    const embc_spec_t *spec;
    embc_mem_fn mem;
    void *mem_ctx;
    int32_t *slots;         /* open addressing: entry index or -1 */
    uint64_t nslots;        /* power of two */
    embc_entry_t *e;
    int64_t n, cap;         /* live entries, pool capacity */
    int32_t free_head;      /* free pool entries (linked through next) */
    int32_t head, tail;     /* LRU */
    /* index versions pinned by entries (pin_index) */
    int64_t *pins;          /* entries per version */
    int32_t nversions, version;   /* versions seen, current version */
    int64_t index_bytes;
    uint64_t hits, misses, evictions, expirations;   /* since the last restart or warm-up */
} embc_t;

int embc_init(embc_t *c, const embc_spec_t *spec, int64_t index_bytes, embc_mem_fn mem, void *ctx);
void embc_fini(embc_t *c);

/* Look up a key at `now`; a hit refreshes its LRU position. */
bool embc_lookup(embc_t *c, uint64_t key, sim_time_t now);
/* Insert after a miss (no-op in mode none or if present). Returns 0 or SIM_ENOMEM. */
int embc_insert(embc_t *c, uint64_t key, sim_time_t now);

/* A new in-process index version (a config reload): the previous version
 * is released unless entries pin it. The new index's bytes are the caller's
 * to account (it builds it). */
void embc_new_version(embc_t *c);
/* Bytes of index versions older than the current one kept resident by pinning entries. */
int64_t embc_pinned_bytes(const embc_t *c);
/* Versions pinned (older than current, referenced by an entry). */
int32_t embc_pinned_versions(const embc_t *c);

/* The process restarted: everything is gone (no memory callbacks: the heap died with it). */
void embc_clear(embc_t *c);

/* Bytes the simulator holds for the cache (entries, slots, pins): for the
 * run's memory budget, not the modelled heap (embc_bytes). */
static inline size_t embc_held_bytes(const embc_t *c)
{
    return (size_t)c->cap * sizeof *c->e + (size_t)c->nslots * sizeof *c->slots +
           (size_t)(c->nversions + 16) * sizeof *c->pins;
}

static inline int64_t embc_entries(const embc_t *c) { return c->n; }
static inline int64_t embc_bytes(const embc_t *c) { return c->n * c->spec->entry_bytes; }

#endif
