/* Empirical token mixes: a request's prompt or output length drawn from
 * what a real service saw, not from a parametric family. Besides every
 * distribution of sim/dist.h, a token distribution may be
 *
 *   {dist: trace, file: traffic.csv, column: num_prefill_tokens}
 *       the column's values, each row equally likely (a discrete
 *       empirical distribution over the file; the path is relative to the
 *       scenario file; read once at load)
 *   {dist: histogram, le: [128, 512, 2048, 8192], counts: [120, 610, 930, 1000], min: 1}
 *       Prometheus-style buckets: `counts` cumulative (samples <= le);
 *       within a bucket, uniform (a piecewise-linear CDF from `min`, which
 *       defaults to 0, through each bucket's upper bound). The +Inf bucket
 *       has no upper bound to interpolate to: give the largest value seen
 *       as the last `le`.
 */
#ifndef MODELS_QUEUEING_WL_MIX_H
#define MODELS_QUEUEING_WL_MIX_H

#include "sim/cfg.h"
#include "sim/dist.h"

/* Parse a token-count distribution (SIM_DIST_NUMBER). Returns 0,
 * SIM_ECONFIG after reporting, or SIM_ENOMEM. */
int wl_mix_parse(sim_diag_t *d, sim_cfg_node_t *node, sim_dist_t *out);

#endif
