/* Named random streams: known answers for the hash, splitmix64 and
 * xoshiro256**, seeding rules, the unit-interval conversions, unbiased
 * bounded integers and the GSL view. */
#include <criterion/criterion.h>

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include <gsl/gsl_cdf.h>
#include <gsl/gsl_randist.h>

#include "sim/rng.h"

/* ---- Reference implementations, transcribed from the published C code
 * (Vigna: splitmix64.c and xoshiro256starstar.c, prng.di.unimi.it). ------- */
static uint64_t ref_sm_state;
static uint64_t ref_sm_next(void)
{
    uint64_t z = (ref_sm_state += 0x9e3779b97f4a7c15);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9;
    z = (z ^ (z >> 27)) * 0x94d049bb133111eb;
    return z ^ (z >> 31);
}

static uint64_t ref_s[4];
static inline uint64_t ref_rotl(const uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
static uint64_t ref_next(void)
{
    const uint64_t result = ref_rotl(ref_s[1] * 5, 7) * 9;
    const uint64_t t = ref_s[1] << 17;
    ref_s[2] ^= ref_s[0];
    ref_s[3] ^= ref_s[1];
    ref_s[1] ^= ref_s[2];
    ref_s[0] ^= ref_s[3];
    ref_s[2] ^= t;
    ref_s[3] = ref_rotl(ref_s[3], 45);
    return result;
}

static uint64_t ref_fnv1a64(const char *s)
{
    uint64_t h = 14695981039346656037ULL;    /* FNV offset basis */
    for (; *s; s++) {
        h ^= (uint8_t)*s;
        h *= 1099511628211ULL;                /* FNV prime */
    }
    return h;
}

/* Index of the first of n outputs of r that differs from ref_next(), or -1. */
static int first_mismatch(sim_rng_t *r, int n)
{
    for (int i = 0; i < n; i++)
        if (sim_rng_next(r) != ref_next()) return i;
    return -1;
}

static uint64_t ref_sm64(uint64_t x)
{
    ref_sm_state = x;
    return ref_sm_next();
}

/* ---- Known answers ---------------------------------------------------------- */
Test(rng, fnv1a64_known_answers)
{
    cr_assert_eq(sim_rng_fnv1a64(""), 0xcbf29ce484222325ULL);
    cr_assert_eq(sim_rng_fnv1a64("a"), 0xaf63dc4c8601ec8cULL);
    cr_assert_eq(sim_rng_fnv1a64("foobar"), 0x85944171f73967e8ULL);
    const char *names[] = {"workload/arrivals", "station/db/service", "x", "\xff\x80"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        cr_assert_eq(sim_rng_fnv1a64(names[i]), ref_fnv1a64(names[i]), "name %zu", i);
}

Test(rng, splitmix64_known_answer)
{
    cr_assert_eq(sim_rng_sm64(0), 0xe220a8397b1dcdafULL);
    ref_sm_state = 1234567;
    for (int i = 0; i < 100; i++) {
        uint64_t before = ref_sm_state;
        cr_assert_eq(sim_rng_sm64(before), ref_sm_next(), "step %d", i);
    }
}

Test(rng, xoshiro_first_outputs_from_1_2_3_4)
{
    const uint64_t st[4] = {1, 2, 3, 4};
    sim_rng_t r;
    sim_rng_set_state(&r, st);
    cr_assert_eq(sim_rng_next(&r), 11520ULL);
    cr_assert_eq(sim_rng_next(&r), 0ULL);
    cr_assert_eq(sim_rng_next(&r), 1509978240ULL);
    cr_assert_eq(sim_rng_next(&r), 1215971899390074240ULL);
}

Test(rng, xoshiro_matches_reference_for_1000_outputs)
{
    const uint64_t st[4] = {0x0123456789abcdefULL, 1, 0xdeadbeefULL, 0xffffffffffffffffULL};
    sim_rng_t r;
    sim_rng_set_state(&r, st);
    for (int i = 0; i < 4; i++) ref_s[i] = st[i];
    int first = first_mismatch(&r, 1000);
    cr_assert_eq(first, -1, "output %d differs from the reference", first);
}

Test(rng, init_seeds_state_with_splitmix64_sequence)
{
    const uint64_t seed = 0x5eed5eed5eedULL;
    sim_rng_t r;
    sim_rng_init(&r, seed);
    cr_assert_eq(r.seed, seed);
    ref_sm_state = seed;
    for (int i = 0; i < 4; i++) ref_s[i] = ref_sm_next();
    for (int i = 0; i < 4; i++) cr_assert_eq(r.s[i], ref_s[i], "state word %d", i);
    int first = first_mismatch(&r, 1000);
    cr_assert_eq(first, -1, "output %d differs from the reference", first);
}

Test(rng, all_zero_state_is_replaced_by_seed_0_state)
{
    const uint64_t zero[4] = {0, 0, 0, 0};
    sim_rng_t a, b;
    sim_rng_set_state(&a, zero);
    sim_rng_init(&b, 0);
    cr_assert_neq(a.s[0] | a.s[1] | a.s[2] | a.s[3], 0ULL);
    for (int i = 0; i < 10; i++) cr_assert_eq(sim_rng_next(&a), sim_rng_next(&b));
}

/* ---- Seeding ---------------------------------------------------------------- */
Test(rng, stream_seed_follows_documented_formula)
{
    const char *names[] = {"", "workload/arrivals", "station/db/service"};
    const uint64_t masters[] = {0, 1, 42, 0xffffffffffffffffULL};
    for (size_t i = 0; i < 3; i++)
        for (size_t j = 0; j < 4; j++)
            for (uint32_t rep = 0; rep < 5; rep++) {
                uint64_t want =
                    ref_sm64(ref_sm64(ref_sm64(masters[j]) ^ ref_fnv1a64(names[i])) + rep);
                cr_assert_eq(sim_rng_stream_seed(masters[j], names[i], rep), want,
                             "name '%s' master %zu rep %u", names[i], j, rep);
            }
}

Test(rng, same_seed_gives_same_sequence)
{
    uint64_t seed = sim_rng_stream_seed(7, "workload/arrivals", 3);
    sim_rng_t a, b;
    sim_rng_init(&a, seed);
    sim_rng_init(&b, seed);
    int differ = 0;
    for (int i = 0; i < 100000; i++) differ += sim_rng_next(&a) != sim_rng_next(&b);
    cr_assert_eq(differ, 0, "%d of 100000 draws differ", differ);
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

Test(rng, different_names_and_replications_give_different_seeds)
{
    enum { NAMES = 100, REPS = 20 };
    uint64_t *seeds = malloc(sizeof(uint64_t) * NAMES * REPS * 2);
    size_t k = 0;
    char name[64];
    for (int i = 0; i < NAMES; i++) {
        snprintf(name, sizeof name, "station/s%d/service", i);
        for (uint32_t rep = 0; rep < REPS; rep++) {
            seeds[k++] = sim_rng_stream_seed(1, name, rep);
            seeds[k++] = sim_rng_stream_seed(2, name, rep);   /* other master seed */
        }
    }
    qsort(seeds, k, sizeof seeds[0], cmp_u64);
    size_t dup = 0;
    for (size_t i = 1; i < k; i++) dup += seeds[i] == seeds[i - 1];
    cr_assert_eq(dup, 0, "%zu duplicate seeds among %zu", dup, k);
    free(seeds);
}

Test(rng, stream_seeds_do_not_depend_on_creation_order)
{
    const char *names[] = {"a", "b", "workload/arrivals", "station/db/service"};
    sim_rng_t fwd[4], rev[4];
    for (int i = 0; i < 4; i++) sim_rng_init(&fwd[i], sim_rng_stream_seed(99, names[i], 1));
    /* Create in reverse order and draw from one stream in between. */
    for (int i = 3; i >= 0; i--) {
        sim_rng_init(&rev[i], sim_rng_stream_seed(99, names[i], 1));
        (void)sim_rng_next(&rev[i]);
    }
    for (int i = 0; i < 4; i++) {
        (void)sim_rng_next(&fwd[i]);
        int differ = 0;
        for (int j = 0; j < 1000; j++) differ += sim_rng_next(&fwd[i]) != sim_rng_next(&rev[i]);
        cr_assert_eq(differ, 0, "stream %s: %d draws differ", names[i], differ);
    }
}

/* ---- Unit interval ---------------------------------------------------------- */
/* A state whose next output is `target`: output = rotl(s1 * 5, 7) * 9 and 5
 * and 9 are invertible mod 2^64. */
static uint64_t inv_odd(uint64_t a)
{
    uint64_t x = a;                       /* Newton: correct to 3 bits, doubles each step */
    for (int i = 0; i < 5; i++) x *= 2 - a * x;
    return x;
}

static void state_for_output(sim_rng_t *r, uint64_t target)
{
    uint64_t y = target * inv_odd(9);
    y = (y >> 7) | (y << 57);             /* rotr 7 */
    const uint64_t st[4] = {1, y * inv_odd(5), 3, 4};
    sim_rng_set_state(r, st);
}

Test(rng, constructed_state_yields_target_output)
{
    sim_rng_t r;
    const uint64_t targets[] = {0, 1, 0x8000000000000000ULL, UINT64_MAX, 0x0123456789abcdefULL};
    for (size_t i = 0; i < 5; i++) {
        state_for_output(&r, targets[i]);
        cr_assert_eq(sim_rng_next(&r), targets[i]);
    }
}

Test(rng, uniform_is_in_0_1_including_0)
{
    sim_rng_t r;
    state_for_output(&r, 0);
    cr_assert_eq(sim_rng_uniform(&r), 0.0);
    state_for_output(&r, UINT64_MAX);
    double top = sim_rng_uniform(&r);
    cr_assert(top < 1.0, "top uniform %a", top);
    cr_assert_eq(top, 1.0 - 0x1.0p-53);
    sim_rng_init(&r, 11);
    double sum = 0;
    const int n = 1000000;
    int outside = 0;
    for (int i = 0; i < n; i++) {
        double u = sim_rng_uniform(&r);
        outside += !(u >= 0.0 && u < 1.0);
        sum += u;
    }
    cr_assert_eq(outside, 0, "%d draws outside [0, 1)", outside);
    /* sd of the mean: sqrt(1/12/n) */
    cr_assert(fabs(sum / n - 0.5) < 5 * sqrt(1.0 / 12 / n), "mean %g", sum / n);
}

Test(rng, uniform_pos_is_never_0)
{
    sim_rng_t r;
    state_for_output(&r, 0);
    double u = sim_rng_uniform_pos(&r);
    cr_assert(u > 0.0 && u <= 0x1.0p-52, "uniform_pos of output 0 is %a", u);
    cr_assert(isfinite(log(u)));
    sim_rng_init(&r, 12);
    int outside = 0;
    for (int i = 0; i < 1000000; i++) {
        u = sim_rng_uniform_pos(&r);
        outside += !(u > 0.0 && u < 1.0);
    }
    cr_assert_eq(outside, 0, "%d draws outside (0, 1)", outside);
}

/* rng.h documents uniform_pos as (0, 1). For the largest output,
 * (2^53 - 1) + 0.5 is not representable and rounds to 2^53, giving 1.0. */
Test(rng, uniform_pos_is_below_1_for_largest_output)
{
    sim_rng_t r;
    state_for_output(&r, UINT64_MAX);
    double u = sim_rng_uniform_pos(&r);
    cr_assert(u < 1.0, "uniform_pos of the largest output is %a", u);
}

/* ---- Bounded integers ------------------------------------------------------- */
Test(rng, below_stays_in_range)
{
    const uint64_t ns[] = {1, 2, 3, 7, 10, 1000, (1ULL << 32) + 1, 1ULL << 63,
                           (1ULL << 63) + 12345, UINT64_MAX};
    sim_rng_t r;
    sim_rng_init(&r, 13);
    for (size_t i = 0; i < sizeof ns / sizeof ns[0]; i++) {
        uint64_t top = 0;
        for (int j = 0; j < 100000; j++) {
            uint64_t v = sim_rng_below(&r, ns[i]);
            if (v > top) top = v;
        }
        cr_assert(top < ns[i], "below(%llu) gave %llu", (unsigned long long)ns[i],
                  (unsigned long long)top);
        /* the largest of 1e5 draws is close to n (except for tiny n, where it is n-1) */
        cr_assert(ns[i] < 100 ? top == ns[i] - 1 : (double)top >= 0.999 * (double)ns[i],
                  "below(%llu): largest draw %llu", (unsigned long long)ns[i],
                  (unsigned long long)top);
    }
}

Test(rng, below_10_is_uniform_chi_square)
{
    enum { K = 10 };
    const int n = 1000000;
    uint64_t count[K] = {0};
    sim_rng_t r;
    sim_rng_init(&r, sim_rng_stream_seed(1, "test/below", 0));
    for (int i = 0; i < n; i++) count[sim_rng_below(&r, K)]++;
    double chi2 = 0, e = (double)n / K;
    for (int k = 0; k < K; k++) chi2 += ((double)count[k] - e) * ((double)count[k] - e) / e;
    double p = gsl_cdf_chisq_Q(chi2, K - 1);
    cr_assert(p > 1e-6, "chi2 %g, p %g", chi2, p);
}

/* With n = 3 * 2^62 a modulo reduction would put half of the draws below
 * 2^62 instead of a third: the rejection step must remove that bias. */
Test(rng, below_has_no_modulo_bias_for_large_n)
{
    const uint64_t n = 3ULL << 62;
    const int draws = 1000000;
    sim_rng_t r;
    sim_rng_init(&r, 14);
    int low = 0;
    for (int i = 0; i < draws; i++) low += sim_rng_below(&r, n) < (1ULL << 62);
    double f = (double)low / draws;
    cr_assert(fabs(f - 1.0 / 3) < 5 * sqrt(2.0 / 9 / draws), "fraction below 2^62: %g", f);
}

/* ---- GSL view --------------------------------------------------------------- */
Test(rng, gsl_view_type_properties)
{
    sim_rng_t r;
    sim_rng_init(&r, 1);
    gsl_rng *g = sim_rng_gsl(&r);
    cr_assert_str_eq(gsl_rng_name(g), "xoshiro256**");
    cr_assert_eq(gsl_rng_max(g), 0xFFFFFFFFUL);
    cr_assert_eq(gsl_rng_min(g), 0UL);
    cr_assert_eq(g->type, sim_rng_gsl_type);
}

Test(rng, gsl_view_draws_advance_the_same_state)
{
    sim_rng_t a, b;
    sim_rng_init(&a, 21);
    sim_rng_init(&b, 21);
    gsl_rng *g = sim_rng_gsl(&a);
    int differ[3] = {0};
    for (int i = 0; i < 10000; i++) {
        differ[0] += gsl_rng_uniform(g) != sim_rng_uniform(&b);
        differ[1] += gsl_rng_get(g) != (unsigned long)(sim_rng_next(&b) >> 32);
        /* Interleaving: a direct draw on `a` continues from where GSL left it. */
        differ[2] += sim_rng_next(&a) != sim_rng_next(&b);
    }
    cr_assert_eq(differ[0], 0, "gsl_rng_uniform differs %d times", differ[0]);
    cr_assert_eq(differ[1], 0, "gsl_rng_get differs %d times", differ[1]);
    cr_assert_eq(differ[2], 0, "direct draws after GSL draws differ %d times", differ[2]);
}

Test(rng, gsl_ran_gaussian_works_through_view)
{
    sim_rng_t a, b;
    sim_rng_init(&a, 22);
    sim_rng_init(&b, 22);
    const int n = 200000;
    double sum = 0, sum2 = 0;
    int differ = 0;
    for (int i = 0; i < n; i++) {
        double x = gsl_ran_gaussian(sim_rng_gsl(&a), 2.0);
        differ += x != gsl_ran_gaussian(sim_rng_gsl(&b), 2.0);
        sum += x;
        sum2 += x * x;
    }
    cr_assert_eq(differ, 0, "%d draws differ between identically seeded streams", differ);
    double mean = sum / n, var = sum2 / n - mean * mean;
    /* N(0, 4): sd of the mean 2/sqrt(n); of the variance 4 sqrt(2/n). */
    cr_assert(fabs(mean) < 5 * 2.0 / sqrt(n), "mean %g", mean);
    cr_assert(fabs(var - 4.0) < 5 * 4.0 * sqrt(2.0 / n), "variance %g", var);
}
