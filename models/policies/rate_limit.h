/* Token-bucket rate limiter: `rate` tokens per second refill a bucket of
 * `burst` tokens continuously; the bucket starts full; a request that takes
 * n tokens is admitted only if n tokens are there (a rejected request takes
 * nothing). Over any interval [s, t] it admits at most rate (t - s) + burst
 * tokens. Kubernetes client-go's default client limiter is rate 10/s burst
 * 100 (a blocking limiter: see tb_time_until).
 *
 * Exact arithmetic: the level is kept in integer nanotokens (1e-9 token)
 * plus a 64-bit binary fraction of a nanotoken, and the rate as
 * floor(rate * 2^64) in 2^-64 nanotokens per nanosecond (a rate in
 * tokens/s is a rate in nanotokens/ns). Refill from integer time is then
 * exact and carries the fraction, so it never drifts; the rate is rounded
 * down, so rounding can never admit a request early. For a rate that is a
 * multiple of 2^-64 tokens/s (every integer rate) the level equals the
 * real-number bucket's, rounded down to the 2^-64 nanotoken; for other
 * rates (0.1/s, 1/3 per s: the double is off by up to 2^-53 relative) a
 * token can come 1 ns later than in the real-number bucket (for refills
 * shorter than 2^53 ns = 104 days). O(1), no allocation.
 */
#ifndef MODELS_POLICIES_RATE_LIMIT_H
#define MODELS_POLICIES_RATE_LIMIT_H

#include <stdbool.h>
#include <stdint.h>

#include "sim/cfg.h"
#include "sim/time.h"

#define TB_NANO 1000000000LL     /* nanotokens per token */
#define TB_MAX_RATE 1e12         /* tokens per second */
#define TB_MAX_BURST 1e9         /* tokens */

typedef struct tb_spec {
    double rate;    /* tokens per second, in (0, TB_MAX_RATE] */
    double burst;   /* bucket size in tokens, in [1, TB_MAX_BURST]; default max(1, rate x 1 s) */
} tb_spec_t;

/* `rate_limit: {rate: 300/s, burst: 50}`; rate is required (the caller
 * decides whether a limiter exists: a NULL map is SIM_EINVAL, nothing
 * reported). Returns 0 or SIM_ECONFIG after reporting to d. */
int tb_spec_parse(sim_diag_t *d, sim_cfg_node_t *map, tb_spec_t *spec);

/* The default burst for a rate: one second's worth, at least one token. */
static inline double tb_default_burst(double rate) { return rate > 1.0 ? rate : 1.0; }

typedef struct tb {
    tb_spec_t spec;
    unsigned __int128 rate_q;   /* floor(rate * 2^64): 2^-64 nanotokens per ns */
    int64_t cap;                /* burst in nanotokens */
    int64_t level;              /* whole nanotokens at `last`, 0 <= level <= cap */
    uint64_t frac;              /* plus frac * 2^-64 nanotoken */
    sim_time_t last;
    uint64_t admitted, refused; /* requests */
} tb_t;

/* A full bucket at `now`. Returns 0 or SIM_EINVAL (rate or burst out of range). */
int tb_init(tb_t *tb, const tb_spec_t *spec, sim_time_t now);

/* Take n >= 1 tokens at `now` if the bucket holds them. `now` must not
 * decrease between calls (an earlier time is treated as the last one). */
bool tb_take(tb_t *tb, sim_time_t now, int64_t n);

/* Tokens in the bucket at `now` (no change to the bucket). */
double tb_tokens(const tb_t *tb, sim_time_t now);

/* The shortest wait from `now` after which n tokens are there (0 if they are
 * now; SIM_TIME_MAX if n exceeds the burst): what a blocking limiter such as
 * client-go's Wait() sleeps, assuming nobody else takes tokens meanwhile. */
sim_time_t tb_time_until(const tb_t *tb, sim_time_t now, int64_t n);

#endif
