/* A RAG model built from YAML text in-process, for the suites that check
 * the request path against hand-computed schedules. */
#ifndef RAGSIM_RAGFX_H
#define RAGSIM_RAGFX_H

/* A gateway's `runtime:` with the Go runtime's own costs off (they are on
 * by default: docs/models/goruntime.md): the RAG tests' hand-computed
 * timings count the handling CPU alone. Use it inside the gateway mapping:
 * "gateway: {replicas: 1, handling: {pre: 2ms, post: 1ms}, " RAGFX_GO_FREE "}". */
#define RAGFX_GO_FREE                                                                                  \
    "runtime: {noscan_mark_rate: unbounded, cycle_cpu: 0s, sweep_rate: unbounded, fault_rate: unbounded, " \
    "release_rate: unbounded}"

#include <stdbool.h>
#include <stdint.h>

#include "models/rag/rag.h"
#include "sim/scenario.h"

typedef struct {
    sim_cfg_t *cfg;
    sim_scenario_t sc;
    rag_spec_t spec;
    sim_t *sim;
    rag_t *rag;
} ragfx_t;

/* Load `yaml` (called `name` in messages), check it (the test fails on any
 * error or unused key, showing the text) and create the simulator (master
 * seed `seed`, 1 s samples) and the model. Nothing runs yet. */
void ragfx_load(ragfx_t *f, const char *name, const char *yaml, uint64_t seed);

/* ragfx_load, then run to the scenario's duration; rag_finish after it when
 * `finish` (the end-of-run accounting the summaries read). */
void ragfx_run(ragfx_t *f, const char *name, const char *yaml, uint64_t seed, bool finish);

void ragfx_done(ragfx_t *f);

#endif
