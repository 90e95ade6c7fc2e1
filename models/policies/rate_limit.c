/* The token bucket behind the rate limit (rate_limit.h): exact integer
 * refill on a nanosecond grid. Pure; calls the scenario tree's getters. */
#include "models/policies/rate_limit.h"

#include <math.h>

#include "sim/error.h"

typedef unsigned __int128 u128;

int tb_spec_parse(sim_diag_t *d, sim_cfg_node_t *map, tb_spec_t *spec)
{
    *spec = (tb_spec_t){0, 0};
    if (!map) return SIM_EINVAL;
    /* a null value ("key:" with nothing) is an empty mapping */
    if (!sim_cfg_is_null(map) && !sim_cfg_expect_map(d, map, "rate limiter")) return SIM_ECONFIG;
    int errs = d->errors;
    if (sim_cfg_rate(d, map, "rate", SIM_CFG_REQUIRED | SIM_CFG_POSITIVE, 0, &spec->rate) == 0 &&
        spec->rate > TB_MAX_RATE) {
        sim_cfg_node_t *n = sim_cfg_get(map, "rate");
        char path[256];
        sim_cfg_path(n, path, sizeof path);
        sim_cfg_error(d, n, "'%s': at most %g/s is supported, got %g/s", path, TB_MAX_RATE, spec->rate);
    }
    double dflt = tb_default_burst(spec->rate);
    sim_cfg_double(d, map, "burst", 0, 1.0, TB_MAX_BURST, dflt, &spec->burst);
    return d->errors == errs ? 0 : SIM_ECONFIG;
}

int tb_init(tb_t *tb, const tb_spec_t *spec, sim_time_t now)
{
    *tb = (tb_t){0};
    if (!(spec->rate > 0 && spec->rate <= TB_MAX_RATE && spec->burst >= 1 && spec->burst <= TB_MAX_BURST))
        return SIM_EINVAL;
    tb->spec = *spec;
    /* ldexp is exact; the conversion truncates, i.e. rounds the rate down */
    tb->rate_q = (u128)ldexp(spec->rate, 64);
    tb->cap = llround(spec->burst * (double)TB_NANO);
    tb->level = tb->cap;
    tb->last = now;
    return 0;
}

/* The bucket as of `now`: exact refill, capped at the burst. */
static void advance(tb_t *tb, sim_time_t now)
{
    if (now <= tb->last) return;
    sim_time_t dt = now - tb->last;
    tb->last = now;
    if (tb->level == tb->cap || tb->rate_q == 0) return;
    /* room = (cap - level) nanotokens - frac, in 2^-64 units: < 2^124 */
    u128 room = ((u128)(uint64_t)(tb->cap - tb->level) << 64) - tb->frac;
    u128 fill = (room + tb->rate_q - 1) / tb->rate_q;   /* ns until full */
    if ((u128)(uint64_t)dt >= fill) {
        tb->level = tb->cap;
        tb->frac = 0;
        return;
    }
    u128 g = (u128)tb->frac + tb->rate_q * (u128)(uint64_t)dt;   /* < room + 2^64 */
    tb->level += (int64_t)(g >> 64);
    tb->frac = (uint64_t)g;
}

bool tb_take(tb_t *tb, sim_time_t now, int64_t n)
{
    advance(tb, now);
    if (n < 1) n = 1;
    if (n <= tb->cap / TB_NANO && tb->level >= n * TB_NANO) {
        tb->level -= n * TB_NANO;
        tb->admitted++;
        return true;
    }
    tb->refused++;
    return false;
}

double tb_tokens(const tb_t *tb, sim_time_t now)
{
    tb_t t = *tb;
    advance(&t, now);
    return ((double)t.level + ldexp((double)t.frac, -64)) / (double)TB_NANO;
}

sim_time_t tb_time_until(const tb_t *tb, sim_time_t now, int64_t n)
{
    if (n < 1) n = 1;
    if (n > tb->cap / TB_NANO) return SIM_TIME_MAX;
    tb_t t = *tb;
    advance(&t, now);
    int64_t want = n * TB_NANO;
    if (t.level >= want) return 0;
    if (t.rate_q == 0) return SIM_TIME_MAX;
    u128 deficit = ((u128)(uint64_t)(want - t.level) << 64) - t.frac;
    u128 wait = (deficit + t.rate_q - 1) / t.rate_q;
    return wait >= (u128)SIM_TIME_MAX ? SIM_TIME_MAX : (sim_time_t)wait;
}
