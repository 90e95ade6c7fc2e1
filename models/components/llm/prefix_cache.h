/* The per-prompt part of a replica's automatic prefix cache (vLLM's
 * `enable_prefix_caching`): which prompts' KV blocks are still resident
 * after their sequence freed them, keyed by a prompt key (the caller's:
 * the same key means the same prompt), least recently used evicted first.
 *
 * vLLM hashes every full 16-token block with the blocks before it and keeps
 * freed blocks as evictable cache entries; a new prompt reuses the longest
 * run of leading blocks whose hashes are cached. Here a prompt is a shared
 * prefix (the system prompt and template, handled by the owner as pinned
 * blocks) followed by a part identified by its key: a key maps to the
 * number of full blocks of that part still cached. A lookup that hits takes
 * the entry out of the cache (its blocks become the new sequence's); the
 * sequence puts it back when it frees its blocks. Two sequences of one key
 * running at once do not share blocks (the second computes its own): KV use
 * is overstated for concurrent identical prompts.
 *
 * Open addressing with linear probing and backward-shift deletion over a
 * pool of entries on an intrusive LRU list: O(1) per operation; the table
 * holds 32 bits of each key's hash, so a probe for an absent key touches
 * the table only (the entry is read to confirm a match). Storage
 * starts small and doubles as entries are added, up to one entry per
 * cacheable block, then the least recently used entry makes room (amortised
 * O(1); no allocation once the working set is reached). Cost: 24 bytes per
 * entry plus 8 per table slot (two per entry): with hundreds of replicas
 * the caches are tens of megabytes, and their size is their cache misses. */
#ifndef MODELS_COMPONENTS_LLM_PREFIX_CACHE_H
#define MODELS_COMPONENTS_LLM_PREFIX_CACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct {
    uint64_t key;
    int32_t blocks;          /* a prompt's blocks: below 2^31 */
    int32_t prev, next;      /* LRU list: head most recent; -1 ends */
    uint32_t tslot;          /* its table slot (eviction needs no probe) */
} llm_pc_entry_t;

/* A table slot: the low 32 bits of the key's hash (its home slot is
 * these & mask: tables have at most 2^29 slots) beside its entry's index. */
typedef struct {
    uint32_t h;
    int32_t x;               /* entry index, -1: empty */
} llm_pc_slot_t;

typedef struct {
    llm_pc_entry_t *e;       /* pool of `cap` entries */
    llm_pc_slot_t *table;    /* size mask + 1 */
    uint64_t mask;
    int32_t cap, n;
    int32_t max_cap;         /* growth stops here */
    int32_t free_head;       /* unused entries, through next */
    int32_t head, tail;      /* LRU list */
    int64_t blocks;          /* sum of the entries' blocks */
} llm_pcache_t;

/* Storage for `entries` keys (>= 1), growing up to `max_entries`. 0 or
 * SIM_ENOMEM. */
int llm_pc_init(llm_pcache_t *pc, int64_t entries, int64_t max_entries);
void llm_pc_fini(llm_pcache_t *pc);
/* Forget every entry (a replica restarts with an empty cache). */
void llm_pc_clear(llm_pcache_t *pc);
#define LLM_PC_NONE UINT64_MAX
/* The table slot of `key`'s entry, or LLM_PC_NONE; valid until the cache
 * changes. */
uint64_t llm_pc_find(const llm_pcache_t *pc, uint64_t key);
/* Blocks of the entry found at `slot` (0 for LLM_PC_NONE). */
int64_t llm_pc_blocks_at(const llm_pcache_t *pc, uint64_t slot);
/* Take the entry found at `slot` out of the cache; returns its blocks. */
int64_t llm_pc_take_at(llm_pcache_t *pc, uint64_t slot);
/* Put `blocks` (> 0, < 2^31) for `key` at the most recent end; an existing entry
 * keeps the larger count. Returns the blocks the cache gained (the caller
 * frees the rest of what it held). When the pool is full and cannot grow
 * (or growing runs out of memory) the least recently used entry is evicted
 * first. */
int64_t llm_pc_put(llm_pcache_t *pc, uint64_t key, int64_t blocks);
/* Evict least recently used entries until at least `need` blocks were
 * freed or the cache is empty; returns the blocks freed. */
int64_t llm_pc_evict(llm_pcache_t *pc, int64_t need);
/* Bytes held. */
size_t llm_pc_bytes(const llm_pcache_t *pc);

#endif
