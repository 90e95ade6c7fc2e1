/* The capacity check `ragsim validate` prints before any run: for every
 * component of a RAG scenario, what it sustains, the load offered to it at
 * the workload's peak, and the utilisation; a component whose utilisation
 * reaches 1 will queue without bound.
 *
 *   gateway CPU  capacity replicas x cores CPU-s/s; offered rate x (mean
 *                pre + mean post handling CPU). The Go runtime's GC work is
 *                not in it: the true utilisation is higher.
 *   embedder     replicas x concurrency x B / (mean base + per_token x B x
 *                mean query tokens) calls/s at full batches (B =
 *                max_batch_size): its largest throughput.
 *   vectordb     replicas x threads / mean query time (vdb_query_time).
 *   llm          replicas x the capacity of one replica for the scenario's
 *                token mix (models/components/llm/capacity.h), in requests/s
 *                and prompt tokens/s computed.
 *   dependency   replicas x concurrency / mean latency.
 * An autoscaled component (`autoscale`) is counted at its max_replicas
 * (the note gives its capacity at the starting count): the warning is for a
 * peak no scale-out can serve; the autoscaler's lag is for `ragsim run`.
 * Offered load: the peak arrival rate x the call's share (edge `share`), on
 * components the pipeline calls; resubmissions, retries and fallback calls
 * are not counted (they only add load). */
#ifndef MODELS_RAG_CAPACITY_H
#define MODELS_RAG_CAPACITY_H

#include <stdio.h>

#include "models/rag/rag.h"

typedef struct {
    char name[64];          /* "gateway cpu", "embedder", "vectordb", "llm", a dependency's name */
    const char *unit;       /* of capacity and offered: "CPU-s/s", "calls/s", "queries/s", "prompt tokens/s" */
    double capacity;        /* all replicas */
    double offered;         /* at the peak */
    double utilisation;     /* offered / capacity */
    double req_capacity;    /* llm: requests/s (others: = capacity) */
    double req_offered;     /* llm: requests/s at the peak */
    const char *bound;      /* llm: what limits a replica (llm_cap_bound_name), else NULL */
    char note[96];          /* autoscaled: the capacity at the starting count; the vector DB's
                             * ingest: the builds' cores and the growing segment's scan ("" otherwise) */
} rag_cap_row_t;

/* The peak of the workload's rate profile: its rate (per second) and the
 * first time it is reached. */
double rag_peak(const rag_spec_t *s, sim_time_t *at);

/* Fill up to `max` rows (one per component the pipeline calls, in pipeline
 * order: gateway cpu first). Returns the number of rows, or SIM_ENOMEM. */
int rag_capacity_rows(const rag_spec_t *s, rag_cap_row_t *rows, int max);

/* Print the table and, for each row whose utilisation is >= 1, a warning
 * line "warning: NAME: offered X UNIT at T against a capacity of Y: it will
 * queue without bound". Returns the number of such warnings (< 0: no memory). */
int rag_capacity_print(const rag_spec_t *s, FILE *out);

#endif
