/* The per-prompt part of an LLM replica's prefix cache: an LRU map from a
 * prompt key to cached blocks (prefix_cache.h). Owns its storage; calls
 * nothing outside the standard library. */
#include "models/components/llm/prefix_cache.h"

#include <stdlib.h>
#include <string.h>

#include "sim/error.h"

static inline uint64_t mix(uint64_t k)
{
    /* splitmix64's finaliser: keys are often small consecutive integers */
    k ^= k >> 30;
    k *= 0xbf58476d1ce4e5b9ULL;
    k ^= k >> 27;
    k *= 0x94d049bb133111ebULL;
    k ^= k >> 31;
    return k;
}

int llm_pc_init(llm_pcache_t *pc, int64_t entries, int64_t max_entries)
{
    memset(pc, 0, sizeof *pc);
    if (max_entries > (int64_t)1 << 28) max_entries = (int64_t)1 << 28;
    if (entries > max_entries) entries = max_entries;
    if (entries < 1) entries = 1;
    uint64_t size = 2;
    while (size < (uint64_t)entries * 2) size <<= 1;
    pc->e = malloc((size_t)entries * sizeof *pc->e);
    pc->table = malloc(size * sizeof *pc->table);
    if (!pc->e || !pc->table) {
        llm_pc_fini(pc);
        return SIM_ENOMEM;
    }
    pc->cap = (int32_t)entries;
    pc->max_cap = (int32_t)(max_entries > entries ? max_entries : entries);
    pc->mask = size - 1;
    llm_pc_clear(pc);
    return 0;
}

static uint64_t slot_of(const llm_pcache_t *pc, uint64_t key);
static void lru_push_front(llm_pcache_t *pc, int32_t x);

/* Double the pool and the table, keeping every entry and the LRU order.
 * 0 or SIM_ENOMEM (the cache is unchanged). */
static int grow(llm_pcache_t *pc)
{
    int64_t ncap = (int64_t)pc->cap * 2;
    if (ncap > pc->max_cap) ncap = pc->max_cap;
    uint64_t size = (pc->mask + 1) * 2;
    while (size < (uint64_t)ncap * 2) size <<= 1;
    llm_pc_entry_t *e = malloc((size_t)ncap * sizeof *e);
    llm_pc_slot_t *table = malloc(size * sizeof *table);
    if (!e || !table) {
        free(e);
        free(table);
        return SIM_ENOMEM;
    }
    /* entries in LRU order, least recent first, so that re-linking at the
     * front rebuilds the same order */
    int32_t n = 0;
    for (int32_t x = pc->tail; x >= 0; x = pc->e[x].prev) e[n++] = pc->e[x];
    free(pc->e);
    free(pc->table);
    pc->e = e;
    pc->table = table;
    pc->mask = size - 1;
    pc->cap = (int32_t)ncap;
    for (uint64_t i = 0; i <= pc->mask; i++) table[i].x = -1;
    pc->head = pc->tail = -1;
    for (int32_t x = 0; x < n; x++) {
        uint64_t i = slot_of(pc, e[x].key);
        table[i] = (llm_pc_slot_t){(uint32_t)mix(e[x].key), x};
        e[x].tslot = (uint32_t)i;
        lru_push_front(pc, x);
    }
    for (int32_t x = n; x < pc->cap; x++) e[x].next = x + 1 < pc->cap ? x + 1 : -1;
    pc->free_head = n < pc->cap ? n : -1;
    return 0;
}

void llm_pc_fini(llm_pcache_t *pc)
{
    free(pc->e);
    free(pc->table);
    memset(pc, 0, sizeof *pc);
}

void llm_pc_clear(llm_pcache_t *pc)
{
    if (!pc->e) return;
    for (uint64_t i = 0; i <= pc->mask; i++) pc->table[i].x = -1;
    for (int32_t i = 0; i < pc->cap; i++) pc->e[i].next = i + 1 < pc->cap ? i + 1 : -1;
    pc->free_head = 0;
    pc->head = pc->tail = -1;
    pc->n = 0;
    pc->blocks = 0;
}

/* Table slot holding `key`, or the empty slot where it would go. */
static uint64_t slot_of(const llm_pcache_t *pc, uint64_t key)
{
    uint32_t h = (uint32_t)mix(key);
    uint64_t i = h & pc->mask;
    for (;; i = (i + 1) & pc->mask) {
        const llm_pc_slot_t *t = &pc->table[i];
        if (t->x < 0 || (t->h == h && pc->e[t->x].key == key)) return i;
    }
}

static void lru_unlink(llm_pcache_t *pc, int32_t x)
{
    llm_pc_entry_t *e = &pc->e[x];
    if (e->prev >= 0) pc->e[e->prev].next = e->next; else pc->head = e->next;
    if (e->next >= 0) pc->e[e->next].prev = e->prev; else pc->tail = e->prev;
}

static void lru_push_front(llm_pcache_t *pc, int32_t x)
{
    llm_pc_entry_t *e = &pc->e[x];
    e->prev = -1;
    e->next = pc->head;
    if (pc->head >= 0) pc->e[pc->head].prev = x; else pc->tail = x;
    pc->head = x;
}

/* Delete the entry in table slot i (backward-shift deletion keeps every
 * probe sequence unbroken). Returns its blocks. */
static int64_t remove_at(llm_pcache_t *pc, uint64_t i)
{
    int32_t x = pc->table[i].x;
    int64_t b = pc->e[x].blocks;
    lru_unlink(pc, x);
    pc->e[x].next = pc->free_head;
    pc->free_head = x;
    pc->n--;
    pc->blocks -= b;
    uint64_t hole = i, j = i;
    for (;;) {
        j = (j + 1) & pc->mask;
        int32_t y = pc->table[j].x;
        if (y < 0) break;
        uint64_t home = pc->table[j].h & pc->mask;
        /* y may move into the hole if its home is not in (hole, j] cyclically */
        bool stays = hole <= j ? (home > hole && home <= j) : (home > hole || home <= j);
        if (stays) continue;
        pc->table[hole] = pc->table[j];
        pc->e[y].tslot = (uint32_t)hole;
        hole = j;
    }
    pc->table[hole].x = -1;
    return b;
}

uint64_t llm_pc_find(const llm_pcache_t *pc, uint64_t key)
{
    if (!pc->e || pc->n == 0) return LLM_PC_NONE;
    uint64_t i = slot_of(pc, key);
    return pc->table[i].x >= 0 ? i : LLM_PC_NONE;
}

int64_t llm_pc_blocks_at(const llm_pcache_t *pc, uint64_t slot)
{
    return slot == LLM_PC_NONE ? 0 : pc->e[pc->table[slot].x].blocks;
}

int64_t llm_pc_take_at(llm_pcache_t *pc, uint64_t slot)
{
    return slot == LLM_PC_NONE ? 0 : remove_at(pc, slot);
}

int64_t llm_pc_put(llm_pcache_t *pc, uint64_t key, int64_t blocks)
{
    if (!pc->e || blocks <= 0) return 0;
    uint64_t i = slot_of(pc, key);
    if (pc->table[i].x >= 0) {
        int32_t x = pc->table[i].x;
        int64_t gain = blocks > pc->e[x].blocks ? blocks - pc->e[x].blocks : 0;
        pc->e[x].blocks += (int32_t)gain;
        pc->blocks += gain;
        lru_unlink(pc, x);
        lru_push_front(pc, x);
        return gain;
    }
    if (pc->free_head < 0) {
        if (pc->cap >= pc->max_cap || grow(pc) != 0)
            remove_at(pc, pc->e[pc->tail].tslot);   /* full: the least recently used goes */
        i = slot_of(pc, key);   /* the table changed */
    }
    int32_t x = pc->free_head;
    pc->free_head = pc->e[x].next;
    pc->e[x].key = key;
    pc->e[x].blocks = (int32_t)blocks;
    pc->e[x].tslot = (uint32_t)i;
    pc->table[i] = (llm_pc_slot_t){(uint32_t)mix(key), x};
    lru_push_front(pc, x);
    pc->n++;
    pc->blocks += blocks;
    return blocks;
}

int64_t llm_pc_evict(llm_pcache_t *pc, int64_t need)
{
    int64_t freed = 0;
    while (freed < need && pc->tail >= 0) freed += remove_at(pc, pc->e[pc->tail].tslot);
    return freed;
}

size_t llm_pc_bytes(const llm_pcache_t *pc)
{
    return pc->e ? (size_t)pc->cap * sizeof *pc->e + (size_t)(pc->mask + 1) * sizeof *pc->table : 0;
}
