/* The embedding cache: unbounded growth = distinct keys x entry bytes (the
 * expected number of distinct Zipf keys is computable), LRU eviction order,
 * TTL expiry, and index pinning (the article's holding chain). */
#include <criterion/criterion.h>
#include <math.h>
#include <string.h>

#include "models/components/gateway/embcache.h"
#include "sim/dist.h"
#include "sim/rng.h"
#include "sim/stats.h"

static int64_t mem_total;
static void mem(void *ctx, int64_t delta, bool index)
{
    (void)ctx;
    (void)index;
    mem_total += delta;
}

/* E[distinct keys after n draws] = sum_k 1 - (1 - p_k)^n, p_k = k^-s / H(N, s) */
static double expected_distinct(size_t N, double s, double n)
{
    double h = 0;
    for (size_t k = 1; k <= N; k++) h += pow((double)k, -s);
    double e = 0;
    for (size_t k = 1; k <= N; k++) e += -expm1(n * log1p(-pow((double)k, -s) / h));
    return e;
}

Test(embcache, unbounded_bytes_are_distinct_keys_times_entry_bytes)
{
    /* 20 replications of 50 000 Zipf(100 000, 1.0) queries: the cache grows
     * by entry_bytes per distinct key; the mean count matches the formula. */
    size_t N = 100000;
    double n = 50000, want = expected_distinct(N, 1.0, n);
    double got[20];
    embc_spec_t sp = {.mode = EMBC_UNBOUNDED, .entry_bytes = 3200};
    for (int r = 0; r < 20; r++) {
        sim_dist_t z;
        cr_assert_eq(sim_dist_zipf(&z, N, 1.0), 0);
        sim_rng_t rng;
        sim_rng_init(&rng, sim_rng_stream_seed(1, "workload/query_key", (uint32_t)r));
        embc_t c;
        mem_total = 0;
        cr_assert_eq(embc_init(&c, &sp, 0, mem, NULL), 0);
        for (int i = 0; i < (int)n; i++) {
            uint64_t key = (uint64_t)sim_dist_sample(&z, &rng);
            if (!embc_lookup(&c, key, 0)) embc_insert(&c, key, 0);
        }
        cr_assert_eq(mem_total, embc_entries(&c) * 3200, "bytes = entries x entry bytes");
        cr_assert_eq(embc_bytes(&c), mem_total);
        cr_assert_eq((double)c.hits + (double)c.misses, n);
        cr_assert_eq((int64_t)c.misses, embc_entries(&c), "every miss inserts one new key");
        got[r] = (double)embc_entries(&c);
        embc_fini(&c);
        sim_dist_fini(&z);
    }
    sim_ci_t ci = sim_ci_student(got, 20, 0.99);
    cr_log_info("distinct keys: %.1f +- %.1f, formula %.1f", ci.mean, ci.half_width, want);
    cr_assert(sim_ci_lo(ci) <= want && want <= sim_ci_hi(ci), "formula %.1f outside [%.1f, %.1f]", want,
              sim_ci_lo(ci), sim_ci_hi(ci));
    cr_assert_lt(fabs(ci.mean - want) / want, 0.01);
}

Test(embcache, lru_evicts_the_least_recently_used)
{
    embc_spec_t sp = {.mode = EMBC_LRU, .capacity = 3, .entry_bytes = 100};
    embc_t c;
    mem_total = 0;
    cr_assert_eq(embc_init(&c, &sp, 0, mem, NULL), 0);
    embc_insert(&c, 1, 0);
    embc_insert(&c, 2, 0);
    embc_insert(&c, 3, 0);
    cr_assert(embc_lookup(&c, 1, 0));   /* order now (recent first): 1 3 2 */
    embc_insert(&c, 4, 0);               /* evicts 2: 4 1 3 */
    cr_assert_not(embc_lookup(&c, 2, 0));
    cr_assert(embc_lookup(&c, 3, 0));   /* 3 4 1 */
    embc_insert(&c, 5, 0);               /* evicts 1: 5 3 4 */
    cr_assert_not(embc_lookup(&c, 1, 0));
    cr_assert(embc_lookup(&c, 4, 0));
    cr_assert(embc_lookup(&c, 5, 0));
    cr_assert(embc_lookup(&c, 3, 0));
    cr_assert_eq(embc_entries(&c), 3);
    cr_assert_eq(c.evictions, 2);
    cr_assert_eq(mem_total, 300, "bytes stay bounded by capacity");
    embc_fini(&c);
}

Test(embcache, lru_stays_consistent_under_random_churn)
{
    /* 200 000 random operations against a reference LRU of 64 entries */
    embc_spec_t sp = {.mode = EMBC_LRU, .capacity = 64, .entry_bytes = 1};
    embc_t c;
    cr_assert_eq(embc_init(&c, &sp, 0, NULL, NULL), 0);
    uint64_t ref[64];
    int nref = 0;
    sim_rng_t r;
    sim_rng_init(&r, 4);
    int bad = 0;
    for (int i = 0; i < 200000; i++) {
        uint64_t key = sim_rng_below(&r, 200) + 1;
        int pos = -1;
        for (int k = 0; k < nref; k++) if (ref[k] == key) pos = k;
        bool hit = embc_lookup(&c, key, 0);
        bad += hit != (pos >= 0);
        if (pos >= 0) {             /* move to front */
            memmove(ref + 1, ref, (size_t)pos * sizeof *ref);
            ref[0] = key;
        } else {
            embc_insert(&c, key, 0);
            if (nref == 64) nref--;   /* evict the last */
            memmove(ref + 1, ref, (size_t)nref * sizeof *ref);
            ref[0] = key;
            nref++;
        }
    }
    cr_assert_eq(bad, 0, "%d hit/miss disagreements with the reference LRU", bad);
    cr_assert_eq(embc_entries(&c), nref);
    embc_fini(&c);
}

Test(embcache, ttl_entries_expire_after_their_ttl)
{
    embc_spec_t sp = {.mode = EMBC_TTL, .ttl = 10 * SIM_SEC, .entry_bytes = 10};
    embc_t c;
    mem_total = 0;
    cr_assert_eq(embc_init(&c, &sp, 0, mem, NULL), 0);
    embc_insert(&c, 1, 0);
    embc_insert(&c, 2, 5 * SIM_SEC);
    cr_assert(embc_lookup(&c, 1, 9 * SIM_SEC));
    cr_assert_not(embc_lookup(&c, 1, 10 * SIM_SEC), "expired at insertion + ttl (hits do not extend it)");
    cr_assert(embc_lookup(&c, 2, 14 * SIM_SEC));
    cr_assert_not(embc_lookup(&c, 2, 15 * SIM_SEC));
    cr_assert_eq(embc_entries(&c), 0);
    cr_assert_eq(c.expirations, 2);
    cr_assert_eq(mem_total, 0);
    embc_fini(&c);
}

Test(embcache, pinned_index_versions_stay_resident)
{
    /* index 1000 bytes; entries pin the version they were computed with */
    embc_spec_t sp = {.mode = EMBC_LRU, .capacity = 2, .entry_bytes = 1, .pin_index = true};
    embc_t c;
    mem_total = 1000;   /* the owner accounted version 0 when it loaded it */
    cr_assert_eq(embc_init(&c, &sp, 1000, mem, NULL), 0);
    embc_insert(&c, 1, 0);              /* pins v0 */
    mem_total += 1000;                  /* the owner builds v1 */
    embc_new_version(&c);
    cr_assert_eq(embc_pinned_versions(&c), 1, "v0 pinned by key 1");
    cr_assert_eq(mem_total, 2001);
    embc_insert(&c, 2, 0);              /* pins v1 (current) */
    embc_insert(&c, 3, 0);              /* evicts key 1: v0 released */
    cr_assert_eq(embc_pinned_versions(&c), 0);
    cr_assert_eq(mem_total, 1000 + 2, "v1 + two entries");
    /* without pinning, a new version releases the old one at once */
    embc_spec_t sp2 = {.mode = EMBC_UNBOUNDED, .entry_bytes = 1};
    embc_t d;
    mem_total = 1000;
    cr_assert_eq(embc_init(&d, &sp2, 1000, mem, NULL), 0);
    embc_insert(&d, 1, 0);
    mem_total += 1000;
    embc_new_version(&d);
    cr_assert_eq(mem_total, 1001);
    embc_fini(&c);
    embc_fini(&d);
}
