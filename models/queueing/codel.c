/* CoDel for queues of RPCs as folly implements it (codel.h): the interval
 * rule and adaptive LIFO's trigger. Pure; calls the units parser. */
#include "models/queueing/codel.h"

#include "sim/error.h"
#include "sim/units.h"

int codel_spec_parse(sim_diag_t *d, sim_cfg_node_t *map, codel_spec_t *spec)
{
    *spec = CODEL_DEFAULTS;
    if (!map) return 0;
    /* a null value ("codel:" with nothing) is an empty mapping */
    if (!sim_cfg_is_null(map) && !sim_cfg_expect_map(d, map, "CoDel queue")) return SIM_ECONFIG;
    int errs = d->errors;
    sim_cfg_node_t *interval_node = sim_cfg_get(map, "interval");
    sim_cfg_node_t *target_node = sim_cfg_get(map, "target_delay");
    sim_cfg_duration(d, map, "interval", SIM_CFG_POSITIVE, spec->interval, &spec->interval);
    sim_cfg_duration(d, map, "target_delay", SIM_CFG_POSITIVE, spec->target_delay, &spec->target_delay);
    if (d->errors == errs && spec->target_delay >= spec->interval) {
        /* folly's Codel::setOptions: "interval <= delay" is invalid */
        char t[32], i[32];
        sim_format_duration(t, sizeof t, spec->target_delay);
        sim_format_duration(i, sizeof i, spec->interval);
        sim_cfg_error(d, target_node ? target_node : interval_node,
                      "'target_delay' (%s) must be shorter than 'interval' (%s)", t, i);
    }
    return d->errors == errs ? 0 : SIM_ECONFIG;
}

int codel_init(codel_t *c, const codel_spec_t *spec, sim_time_t now)
{
    *c = (codel_t){0};
    if (!(spec->target_delay > 0 && spec->target_delay < spec->interval)) return SIM_EINVAL;
    c->spec = *spec;
    /* folly's constructor: codelMinDelayNs_(0), codelIntervalTimeNs_(now),
     * codelResetDelay_(true), overloaded_(false) */
    c->interval_end = now;
    c->min_delay = 0;
    c->reset_pending = true;
    c->overloaded = false;
    return 0;
}

bool codel_should_drop(codel_t *c, sim_time_t now, sim_time_t queue_delay)
{
    sim_time_t delay = queue_delay > 0 ? queue_delay : 0;
    c->calls++;
    /* 1. the minimum of the interval that may be ending, read first */
    sim_time_t min = c->min_delay;
    /* 2. a new interval, judged by the finished one's minimum */
    if (now > c->interval_end && !c->reset_pending) {
        c->reset_pending = true;
        c->interval_end = now > SIM_TIME_MAX - c->spec.interval ? SIM_TIME_MAX : now + c->spec.interval;
        c->overloaded = min > c->spec.target_delay;
    }
    /* 3. the first request of an interval seeds the minimum, never dropped */
    if (c->reset_pending) {
        c->reset_pending = false;
        c->min_delay = delay;
        return false;
    }
    /* 4. */
    if (delay < c->min_delay) c->min_delay = delay;
    /* 5. slough off requests that waited too long while overloaded */
    if (c->overloaded && delay > codel_slough_timeout(&c->spec)) {
        c->dropped++;
        return true;
    }
    return false;
}

int codel_load(const codel_t *c)
{
    sim_time_t slough = codel_slough_timeout(&c->spec);
    if (c->min_delay >= slough) return 100;
    return (int)((__int128)100 * c->min_delay / slough);   /* 100 x min < 100 x 2^63: no overflow */
}
