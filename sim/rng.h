/* Named random streams.
 *
 * Every random draw in ragsim comes from a stream that has a name
 * ("workload/arrivals", "station/db/service", ...). A stream's seed is a
 * documented hash of (master seed, stream name, replication index), so:
 *   - the same scenario and seed give the same numbers, always;
 *   - adding a stream or a component never changes what another stream draws;
 *   - replication i of two policy variants draws the same numbers from the
 *     streams they share (common random numbers).
 *
 * The generator is xoshiro256** (Blackman and Vigna, 2018), wrapped as a GSL
 * generator type so that every gsl_ran_* distribution can draw from a stream
 * (sim_rng_gsl). The hot path (sim_rng_uniform) calls the generator inline.
 *
 * Seeding (see docs/random-streams.md):
 *   sm64(x)     = splitmix64 output for state x:
 *                 z = x + 0x9E3779B97F4A7C15;
 *                 z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9;
 *                 z = (z ^ (z >> 27)) * 0x94D049BB133111EB;
 *                 return z ^ (z >> 31)
 *   fnv1a64(s)  = 64-bit FNV-1a of the name's bytes
 *   seed        = sm64(sm64(sm64(master) ^ fnv1a64(name)) + replication)
 *   state[0..3] = the first four outputs of splitmix64 started at `seed`
 */
#ifndef SIM_RNG_H
#define SIM_RNG_H

#include <stdint.h>
#include <gsl/gsl_rng.h>

typedef struct sim_rng {
    uint64_t s[4];   /* xoshiro256** state; never all zero */
    gsl_rng gsl;     /* GSL view: gsl.state points at s. Do not copy a sim_rng_t. */
    uint64_t seed;   /* the 64-bit seed the state was derived from */
} sim_rng_t;

/* The GSL generator type behind every stream ("xoshiro256**"). Its get()
 * returns the upper 32 bits (max 2^32-1) so that GSL's integer routines work
 * on every platform; get_double() returns 53-bit uniforms in [0,1). */
extern const gsl_rng_type *const sim_rng_gsl_type;

/* One splitmix64 step: the output for state x (see above). */
uint64_t sim_rng_sm64(uint64_t x);

/* 64-bit FNV-1a hash of a NUL-terminated string. */
uint64_t sim_rng_fnv1a64(const char *s);

/* The seed of stream `name` in replication `replication`. */
uint64_t sim_rng_stream_seed(uint64_t master_seed, const char *name, uint32_t replication);

/* Initialise caller storage from a 64-bit seed. Cost: a few ns. */
void sim_rng_init(sim_rng_t *r, uint64_t seed);

/* Initialise with an explicit xoshiro256** state (for known-answer tests).
 * An all-zero state is replaced by the state for seed 0. */
void sim_rng_set_state(sim_rng_t *r, const uint64_t state[4]);

static inline uint64_t sim_rng__rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

/* Next raw 64-bit output of xoshiro256** with state s[0..3]. */
static inline uint64_t sim_rng__xoshiro(uint64_t *s)
{
    const uint64_t result = sim_rng__rotl(s[1] * 5, 7) * 9;
    const uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = sim_rng__rotl(s[3], 45);
    return result;
}

/* Next raw 64-bit output of xoshiro256**. */
static inline uint64_t sim_rng_next(sim_rng_t *r) { return sim_rng__xoshiro(r->s); }

/* Uniform double in [0, 1) with 53 random bits. */
static inline double sim_rng_uniform(sim_rng_t *r)
{
    return (double)(sim_rng_next(r) >> 11) * 0x1.0p-53;
}

/* Uniform double in (0, 1): never 0 and never 1, safe for log(u) and
 * log(1-u). 52 random bits: (k + 0.5) / 2^52 is exact for every k < 2^52,
 * whereas with 53 bits the largest value would round up to 1.0. */
static inline double sim_rng_uniform_pos(sim_rng_t *r)
{
    return ((double)(sim_rng_next(r) >> 12) + 0.5) * 0x1.0p-52;
}

/* Uniform integer in [0, n), unbiased (Lemire's multiply-and-reject); n > 0. */
static inline uint64_t sim_rng_below(sim_rng_t *r, uint64_t n)
{
    unsigned __int128 m = (unsigned __int128)sim_rng_next(r) * n;
    uint64_t lo = (uint64_t)m;
    if (lo < n) {
        uint64_t thresh = (0 - n) % n;
        while (lo < thresh) {
            m = (unsigned __int128)sim_rng_next(r) * n;
            lo = (uint64_t)m;
        }
    }
    return (uint64_t)(m >> 64);
}

/* The stream as a gsl_rng, for gsl_ran_* functions. Draws through it advance
 * the same state as sim_rng_next. */
static inline gsl_rng *sim_rng_gsl(sim_rng_t *r) { return &r->gsl; }

#endif
