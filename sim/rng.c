/* Named random streams (rng.h): seeds hashed from (master seed, name,
 * replication), xoshiro256**, the GSL adapter. Calls GSL. */
#include "rng.h"

#include <string.h>

uint64_t sim_rng_sm64(uint64_t x)
{
    uint64_t z = x + 0x9E3779B97F4A7C15ULL;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

uint64_t sim_rng_fnv1a64(const char *s)
{
    uint64_t h = 0xCBF29CE484222325ULL;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        h ^= *p;
        h *= 0x100000001B3ULL;
    }
    return h;
}

uint64_t sim_rng_stream_seed(uint64_t master_seed, const char *name, uint32_t replication)
{
    return sim_rng_sm64(sim_rng_sm64(sim_rng_sm64(master_seed) ^ sim_rng_fnv1a64(name)) +
                        (uint64_t)replication);
}

/* GSL adapters: typed, no function-pointer casts. */
static void seed_state_(uint64_t s[4], uint64_t x)
{
    for (int i = 0; i < 4; i++) {
        s[i] = sim_rng_sm64(x);
        x += 0x9E3779B97F4A7C15ULL;
    }
}

static void gsl_set_(void *state, unsigned long seed) { seed_state_(state, (uint64_t)seed); }

/* `state` is a sim_rng_t's s[4] (or GSL's own allocation of 32 bytes):
 * stepped in place. (These used to copy it to a local sim_rng_t and back,
 * through 16-byte stores read back as 8-byte loads; perf sampled 4% of a
 * RAG run there, though whole runs timed the same either way.) */
static unsigned long gsl_get_(void *state)
{
    return (unsigned long)(sim_rng__xoshiro(state) >> 32);
}

static double gsl_get_double_(void *state)
{
    return (double)(sim_rng__xoshiro(state) >> 11) * 0x1.0p-53;
}

static const gsl_rng_type xoshiro_type_ = {
    "xoshiro256**", 0xFFFFFFFFUL, 0, 4 * sizeof(uint64_t), gsl_set_, gsl_get_, gsl_get_double_,
};
const gsl_rng_type *const sim_rng_gsl_type = &xoshiro_type_;

void sim_rng_init(sim_rng_t *r, uint64_t seed)
{
    /* splitmix64 sequence started at `seed`: outputs sm64(seed), sm64(seed+g), ... */
    r->seed = seed;
    seed_state_(r->s, seed);
    r->gsl.type = sim_rng_gsl_type;
    r->gsl.state = r->s;
}

void sim_rng_set_state(sim_rng_t *r, const uint64_t state[4])
{
    if ((state[0] | state[1] | state[2] | state[3]) == 0) {
        sim_rng_init(r, 0);
        return;
    }
    memcpy(r->s, state, sizeof r->s);
    r->seed = 0;
    r->gsl.type = sim_rng_gsl_type;
    r->gsl.state = r->s;
}
