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
 * pool of entries on an intrusive LRU list: O(1) per operation. Storage is
 * sized at init (at most one entry per cacheable block), never grown.
 * Cost: 24 bytes per entry plus 8 per table slot. */
#ifndef MODELS_COMPONENTS_LLM_PREFIX_CACHE_H
#define MODELS_COMPONENTS_LLM_PREFIX_CACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct {
    uint64_t key;
    int64_t blocks;
    int32_t prev, next;      /* LRU list: head most recent; -1 ends */
} llm_pc_entry_t;

typedef struct {
    llm_pc_entry_t *e;       /* pool of `cap` entries */
    int32_t *table;          /* entry index or -1; size mask + 1 */
    uint64_t mask;
    int32_t cap, n;
    int32_t free_head;       /* unused entries, through next */
    int32_t head, tail;      /* LRU list */
    int64_t blocks;          /* sum of the entries' blocks */
} llm_pcache_t;

/* Storage for up to `entries` keys (>= 1). 0 or SIM_ENOMEM. */
int llm_pc_init(llm_pcache_t *pc, int64_t entries);
void llm_pc_fini(llm_pcache_t *pc);
/* Forget every entry (a replica restarts with an empty cache). */
void llm_pc_clear(llm_pcache_t *pc);
/* Blocks cached for `key` (0 if none); the entry stays. */
int64_t llm_pc_peek(const llm_pcache_t *pc, uint64_t key);
/* Take the entry of `key` out of the cache; returns its blocks (0 if none). */
int64_t llm_pc_take(llm_pcache_t *pc, uint64_t key);
/* Put `blocks` (> 0) for `key` at the most recent end; an existing entry
 * keeps the larger count. Returns the blocks the cache gained (the caller
 * frees the rest of what it held). When the pool is full the least
 * recently used entry is evicted first. */
int64_t llm_pc_put(llm_pcache_t *pc, uint64_t key, int64_t blocks);
/* Evict least recently used entries until at least `need` blocks were
 * freed or the cache is empty; returns the blocks freed. */
int64_t llm_pc_evict(llm_pcache_t *pc, int64_t need);
/* Bytes held. */
size_t llm_pc_bytes(const llm_pcache_t *pc);

#endif
