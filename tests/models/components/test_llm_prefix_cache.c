/* The LLM's prefix cache (models/components/llm/prefix_cache.h): an LRU map
 * from prompt keys to cached blocks, checked against a brute-force list
 * under random operations, through growth and backward-shift deletions. */
#include <criterion/criterion.h>
#include <stdint.h>
#include <string.h>

#include "models/components/llm/prefix_cache.h"
#include "sim/rng.h"

Test(llm_prefix_cache, lru_order_keeps_the_larger_count_and_evicts_the_oldest)
{
    llm_pcache_t pc;
    cr_assert_eq(llm_pc_init(&pc, 2, 3), 0);
    cr_assert_eq(llm_pc_put(&pc, 10, 4), 4);
    cr_assert_eq(llm_pc_put(&pc, 20, 2), 2);
    cr_assert_eq(llm_pc_put(&pc, 10, 3), 0, "an existing entry keeps the larger count");
    cr_assert_eq(llm_pc_put(&pc, 10, 6), 2, "and gains the difference");
    cr_assert_eq(pc.blocks, 8);
    cr_assert_eq(llm_pc_put(&pc, 30, 1), 1, "grows from 2 to 3 entries");
    cr_assert_eq(pc.cap, 3);
    /* LRU order now: 30, 10, 20 (20 oldest); a fourth key evicts 20 */
    cr_assert_eq(llm_pc_put(&pc, 40, 5), 5);
    cr_assert_eq(llm_pc_find(&pc, 20), LLM_PC_NONE);
    cr_assert_eq(llm_pc_blocks_at(&pc, llm_pc_find(&pc, 10)), 6);
    cr_assert_eq(pc.blocks, 6 + 1 + 5);
    /* eviction by blocks frees the oldest first: 10 (6), then 30 (1) */
    cr_assert_eq(llm_pc_evict(&pc, 7), 7);
    cr_assert_eq(llm_pc_find(&pc, 10), LLM_PC_NONE);
    cr_assert_eq(llm_pc_find(&pc, 30), LLM_PC_NONE);
    cr_assert_eq(llm_pc_take_at(&pc, llm_pc_find(&pc, 40)), 5);
    cr_assert_eq(pc.n, 0);
    cr_assert_eq(pc.blocks, 0);
    cr_assert_eq(llm_pc_take_at(&pc, llm_pc_find(&pc, 40)), 0, "gone");
    llm_pc_fini(&pc);
}

/* A reference: an array in LRU order, most recent first. */
#define NREF 4096
static uint64_t rkey[NREF];
static int64_t rblk[NREF];
static int rn;

static int ref_find(uint64_t k)
{
    for (int i = 0; i < rn; i++)
        if (rkey[i] == k) return i;
    return -1;
}

static void ref_remove(int i)
{
    memmove(rkey + i, rkey + i + 1, (size_t)(rn - i - 1) * sizeof *rkey);
    memmove(rblk + i, rblk + i + 1, (size_t)(rn - i - 1) * sizeof *rblk);
    rn--;
}

static void ref_front(uint64_t k, int64_t b)
{
    memmove(rkey + 1, rkey, (size_t)rn * sizeof *rkey);
    memmove(rblk + 1, rblk, (size_t)rn * sizeof *rblk);
    rkey[0] = k;
    rblk[0] = b;
    rn++;
}

Test(llm_prefix_cache, random_operations_match_a_brute_force_lru)
{
    llm_pcache_t pc;
    const int max = 300;
    cr_assert_eq(llm_pc_init(&pc, 4, max), 0);
    sim_rng_t rng;
    sim_rng_init(&rng, 12345);
    rn = 0;
    int full = 0;
    for (int step = 0; step < 200000; step++) {
        /* keys collide in the table (few distinct values over a small table) */
        uint64_t k = 1 + (uint64_t)(sim_rng_uniform(&rng) * 500) * 1024;
        double u = sim_rng_uniform(&rng);
        int i = ref_find(k);
        if (u < 0.8) {
            int64_t b = 1 + (int64_t)(sim_rng_uniform(&rng) * 9);
            int64_t gain = llm_pc_put(&pc, k, b);
            if (i >= 0) {
                int64_t old = rblk[i];
                cr_assert_eq(gain, b > old ? b - old : 0);
                ref_remove(i);
                ref_front(k, b > old ? b : old);
            } else {
                cr_assert_eq(gain, b);
                if (rn == max) {   /* the oldest goes */
                    rn--;
                    full++;
                }
                ref_front(k, b);
            }
        } else if (u < 0.95) {
            uint64_t slot = llm_pc_find(&pc, k);
            cr_assert_eq(slot == LLM_PC_NONE, i < 0, "step %d key %llu", step, (unsigned long long)k);
            cr_assert_eq(llm_pc_take_at(&pc, slot), i >= 0 ? rblk[i] : 0);
            if (i >= 0) ref_remove(i);
        } else {
            int64_t need = 1 + (int64_t)(sim_rng_uniform(&rng) * 20), freed = 0;
            int64_t got = llm_pc_evict(&pc, need);
            while (freed < need && rn > 0) freed += rblk[--rn];
            cr_assert_eq(got, freed);
        }
        cr_assert_eq(pc.n, rn);
        int64_t sum = 0;
        for (int j = 0; j < rn; j++) sum += rblk[j];
        cr_assert_eq(pc.blocks, sum);
    }
    cr_assert_eq(pc.cap, max, "grew to its bound");
    cr_assert_gt(full, 1000, "and evicted when full (%d times)", full);
    /* the LRU list from the most recent: the reference's order */
    int j = 0;
    for (int32_t x = pc.head; x >= 0; x = pc.e[x].next, j++) {
        cr_assert_eq(pc.e[x].key, rkey[j]);
        cr_assert_eq(pc.e[x].blocks, rblk[j]);
        cr_assert_eq(pc.table[pc.e[x].tslot].x, x, "the entry knows its table slot");
        cr_assert_eq(llm_pc_find(&pc, pc.e[x].key), pc.e[x].tslot, "and the table finds it there");
    }
    cr_assert_eq(j, rn);
    llm_pc_fini(&pc);
}
