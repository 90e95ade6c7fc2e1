/* Trace replay: a workload's arrivals read from a CSV file, one request per
 * row, at the row's time and with the row's demands.
 *
 *   workload:
 *     trace: ../data/traces/azure-llm-2023-conversation.csv   # path relative to the scenario file
 *   or
 *     trace:
 *       file: my-traffic.csv
 *       columns:                       # which column holds what (defaults shown)
 *         time: arrived_at             # required: arrival time of the row
 *         prompt_tokens: num_prefill_tokens   # optional: the request's prompt (query) tokens
 *         output_tokens: num_decode_tokens    # optional: tokens the LLM generates
 *         class: class                 # optional: the request class's name
 *         query_key: query_key         # optional: the query (an integer, or any text: hashed)
 *       time_unit: s                   # s | ms | us | ns
 *       origin: zero                   # zero: times as written | first_row: the first row at 0
 *       rate_scale: 2                  # replay twice as fast (or time_scale: 0.5; not both)
 *       loop: true                     # replay again after the trace's end (period: its span)
 *       period: 1h                     # the loop's period (default: last time + mean gap)
 *
 * The whole file is read once, when the scenario is loaded: a run never
 * touches it. Rows must be in non-decreasing time order; every value of a
 * used column must parse, or the load fails with FILE:LINE:COL. Columns
 * that are absent from the mapping and the file are not used (their demand
 * is drawn from the workload's distributions); a column named explicitly
 * must exist. */
#ifndef MODELS_QUEUEING_WL_TRACE_H
#define MODELS_QUEUEING_WL_TRACE_H

#include <stddef.h>
#include <stdint.h>

#include "sim/cfg.h"
#include "sim/time.h"

#define WL_TRACE_MAX_CLASSES 64

typedef struct wl_trace {
    size_t n;
    sim_time_t *t;              /* arrival times after scaling, ns, non-decreasing */
    int32_t *prompt, *output;   /* per row, NULL when not in the trace */
    uint64_t *key;              /* per row, NULL when not in the trace */
    uint8_t *cls;               /* per row: index into class_names; NULL when not in the trace */
    const char *class_names[WL_TRACE_MAX_CLASSES];   /* owned (strdup) */
    size_t nclasses;
    sim_time_t period;          /* loop period after scaling; 0: no loop */
    double prompt_sum, output_sum;   /* over the file's rows */
    double peak_rate;           /* most rows in any 60 s window (scaled), per second */
    char *path;                 /* the file as opened (owned) */
} wl_trace_t;

/* Parse `workload.trace` (a path, or a mapping) and load the file. Returns
 * 0, SIM_ECONFIG after reporting, or SIM_ENOMEM. */
int wl_trace_parse(sim_diag_t *d, sim_cfg_node_t *node, wl_trace_t *tr);
void wl_trace_fini(wl_trace_t *tr);

/* Rows arriving in [t0, t1), loops included. O(log n) per period spanned. */
double wl_trace_count(const wl_trace_t *tr, sim_time_t t0, sim_time_t t1);

/* A path relative to the scenario file holding `node`: absolute paths and
 * nodes from --set (relative to the working directory) are kept. Caller frees. */
char *wl_resolve_path(const sim_cfg_node_t *node, const char *path);

#endif
