/* CoDel for RPC queues, after folly's `folly/executors/Codel.cpp` (the
 * variant Facebook describes in "Fail at Scale": not TCP CoDel's shrinking
 * drop interval, but a fixed "slough" timeout while overloaded).
 *
 * A server calls codel_should_drop() when it dequeues a request, with the
 * time the request waited in the queue. The machine keeps the minimum
 * queueing delay seen in the current interval; when an interval is over,
 * the queue is "overloaded" for the whole next interval iff that minimum
 * exceeded the target delay (even the luckiest request waited too long: a
 * standing queue, not a burst). While overloaded, requests that waited
 * longer than the slough timeout 2 x target_delay are dropped.
 *
 * Folly's exact order of operations (Codel::overloaded_explicit_now), one
 * call with (now, delay), single-threaded:
 *   1. min = the stored minimum delay (a snapshot taken before anything).
 *   2. If now > interval_end (strictly) and no reset is pending:
 *        a reset becomes pending; interval_end = now + interval;
 *        overloaded = (min > target_delay).
 *   3. If a reset is pending: clear it, set the stored minimum to this
 *      request's delay and return false: the first request of an interval
 *      only seeds the minimum and is never dropped, however long it waited.
 *   4. Otherwise the stored minimum = min(stored minimum, delay).
 *   5. Drop iff overloaded and delay > 2 x target_delay (strictly).
 * A fresh Codel has a reset pending, interval_end = its construction time
 * and overloaded = false. So the very first request only seeds the minimum
 * (it does not start an interval), and the first request strictly after the
 * construction time closes that first "interval" (judging the minimum of
 * the requests before it), starts a real one and seeds its minimum. A
 * request at exactly interval_end belongs to the old interval.
 *
 * Differences from folly: times are simulated nanoseconds passed in (folly
 * reads steady_clock; overloaded_explicit_now takes it as here); folly's
 * options are whole milliseconds, here any duration; folly clamps the
 * target to the interval at every call (getOptions), here the spec must
 * have target_delay < interval (folly's setOptions rejects the rest). No
 * atomics: one machine per queue, called from one event at a time.
 *
 * Cost: O(1) per call, no allocation. */
#ifndef MODELS_QUEUEING_CODEL_H
#define MODELS_QUEUEING_CODEL_H

#include <stdbool.h>
#include <stdint.h>

#include "sim/cfg.h"
#include "sim/time.h"

typedef struct codel_spec {
    sim_time_t interval;       /* folly FLAGS_codel_interval, 100 ms; > target_delay */
    sim_time_t target_delay;   /* folly FLAGS_codel_target_delay, 5 ms; > 0 */
} codel_spec_t;

#define CODEL_DEFAULTS ((codel_spec_t){.interval = 100 * SIM_MS, .target_delay = 5 * SIM_MS})

/* `codel: {interval: 100ms, target_delay: 5ms}`; absent keys keep the
 * defaults, a NULL (or null) map gives CODEL_DEFAULTS. Requires
 * 0 < target_delay < interval. Returns 0 or SIM_ECONFIG after reporting to d. */
int codel_spec_parse(sim_diag_t *d, sim_cfg_node_t *map, codel_spec_t *spec);

/* folly's getSloughTimeout: requests that waited longer are dropped while
 * overloaded. */
static inline sim_time_t codel_slough_timeout(const codel_spec_t *spec) { return 2 * spec->target_delay; }

typedef struct codel {
    codel_spec_t spec;
    sim_time_t interval_end;   /* codelIntervalTimeNs_: the current interval ends after this */
    sim_time_t min_delay;      /* codelMinDelayNs_: minimum delay of the current interval */
    bool reset_pending;        /* codelResetDelay_: the next request seeds min_delay */
    bool overloaded;           /* overloaded_: the last finished interval's verdict */
    uint64_t calls, dropped;   /* codel_should_drop calls, and those answered true */
} codel_t;

/* A fresh machine created at `now` (folly's constructor reads the clock).
 * Returns 0 or SIM_EINVAL (target_delay <= 0 or >= interval). */
int codel_init(codel_t *c, const codel_spec_t *spec, sim_time_t now);

/* A request leaves the queue at `now` after waiting `queue_delay` (>= 0; a
 * negative value counts as 0): true if the server should drop it instead of
 * serving it. Updates the interval state in folly's order (see above).
 * `now` should not decrease between calls. O(1). */
bool codel_should_drop(codel_t *c, sim_time_t now, sim_time_t queue_delay);

/* The verdict of the last finished interval: a standing queue. For adaptive
 * LIFO (serve the newest request first while overloaded). */
static inline bool codel_overloaded(const codel_t *c) { return c->overloaded; }

/* The minimum queueing delay of the current interval (folly getMinDelay). */
static inline sim_time_t codel_min_delay(const codel_t *c) { return c->min_delay; }

/* folly getLoad: min(100, 100 x min_delay / slough timeout), integer
 * division: 0 = no queueing, 100 = at the dropping threshold. */
int codel_load(const codel_t *c);

#endif
