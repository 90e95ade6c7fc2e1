/* The Go gateway's books: goroutines, reloads per config event, the OOM
 * kill and its restart. Hand-computed from deterministic deployments. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "models/rag.h"
#include "sim/scenario.h"

typedef struct {
    sim_cfg_t *cfg;
    sim_scenario_t sc;
    rag_spec_t spec;
    sim_t *sim;
    rag_t *rag;
} fx_t;

static void start(fx_t *f, const char *yaml)
{
    memset(f, 0, sizeof *f);
    sim_diag_t d;
    sim_diag_init(&d);
    f->cfg = sim_cfg_load_string("g.yaml", yaml, strlen(yaml), &d);
    cr_assert_not_null(f->cfg, "%s", sim_diag_text(&d));
    sim_cfg_node_t *root = sim_cfg_root(f->cfg);
    sim_scenario_parse(&d, root, &f->sc);
    rag_spec_parse(&d, root, &f->sc, &f->spec);
    sim_cfg_check_unused(f->cfg, &d);
    cr_assert_eq(d.errors, 0, "%s", sim_diag_text(&d));
    sim_diag_fini(&d);
    sim_config_t sc = {.master_seed = 1, .sample_interval = SIM_SEC};
    f->sim = sim_create(&sc);
    f->rag = rag_create(f->sim, &f->spec);
    cr_assert_not_null(f->rag);
}

static void done(fx_t *f)
{
    rag_destroy(f->rag);
    sim_destroy(f->sim);
    rag_spec_fini(&f->spec);
    sim_cfg_destroy(f->cfg);
}

#define DETERMINISTIC                                                                                   \
    "name: g\nduration: 60s\nseed: 1\n"                                                                  \
    "workload:\n  arrivals: deterministic\n  profile: [{for: 1500ms, rate: 1/s}, {rate: 0/s}]\n"        \
    "  query_tokens: {dist: deterministic, value: 40}\n  output_tokens: {dist: deterministic, value: 50}\n" \
    "embedder: {max_queue_delay: 0s, batch_time: {base: 4ms, per_token: 0s}}\n"                          \
    "vectordb:\n  threads: 1\n  index: {type: flat, vectors: 1, dim: 1}\n"                              \
    "  cost: {base: 10ms, ops_per_second: 1e18}\n  jitter: {dist: deterministic, value: 1}\n"            \
    "llm: {prefill_base: 20ms, prefill_per_token: 0s, tpot: 10ms}\n"                                      \
    "pipeline: {steps: [embed, retrieve, generate]}\n"

Test(gateway, goroutines_are_requests_plus_llm_calls)
{
    /* one request at 1 s on a 1-replica gateway: pre 2 ms, embed 4, retrieve
     * 10, generate 520, post 1. During generation: 1 request goroutine + 1
     * LLM-call goroutine; before and after: none. */
    fx_t f;
    start(&f, DETERMINISTIC "gateway: {replicas: 1, cores: 1, handling: {pre: 2ms, post: 1ms}}\n");
    gort_t *rt = &f.rag->gw.rep[0].rt;
    sim_run(f.sim, 999 * SIM_MS);
    cr_assert_eq(rt->goroutines, 0);
    sim_run(f.sim, 1 * SIM_SEC + 100 * SIM_MS);
    cr_assert_eq(rt->goroutines, 2, "request + LLM call: %lld", (long long)rt->goroutines);
    cr_assert_eq(rt->live, (64 << 10) + (128 << 10) + 3200, "request + LLM call buffers + one cache entry");
    sim_run(f.sim, 2 * SIM_SEC);
    cr_assert_eq(rt->goroutines, 0);
    cr_assert_eq(rt->live, 3200, "only the cache entry stays");
    done(&f);
}

Test(gateway, a_naive_push_reloads_once_per_key_per_replica)
{
    /* 3 replicas x 7 keys: 21 reloads, each 40 ms of CPU and a goroutine */
    fx_t f;
    start(&f, DETERMINISTIC "gateway: {replicas: 3, cores: 4}\n"
                            "config: {reload: {cpu: 40ms, memory: 10MiB}, pushes: [{at: 10s, keys: 7}]}\n");
    sim_run(f.sim, 10 * SIM_SEC + 5 * SIM_MS);
    int64_t running = 0, gor = 0;
    for (int r = 0; r < 3; r++) {
        running += f.rag->gw.rep[r].reloads_running;
        gor += f.rag->gw.rep[r].rt.goroutines;
    }
    cr_assert_eq(running, 21, "all reloads start within ms of the push: %lld", (long long)running);
    cr_assert_eq(gor, 21, "one goroutine per reload");
    sim_run(f.sim, 20 * SIM_SEC);
    cr_assert_eq(f.rag->gw.reloads_total, 21);
    cr_assert_float_eq(f.rag->gw.reload_cpu_s, 21 * 0.040, 1e-9);
    for (int r = 0; r < 3; r++) cr_assert_eq(f.rag->gw.rep[r].rt.goroutines, 0);
    done(&f);
}

Test(gateway, oom_kill_fails_held_requests_and_restarts_cold)
{
    /* A 64 MiB container: a 128 MiB reload at 1.01 s (while the request of
     * 1 s is generating) kills the replica. The request fails ("gateway
     * crashed"), the process restarts after 10 s (CrashLoopBackOff) and is
     * ready 5 s later with an empty cache. */
    fx_t f;
    start(&f, DETERMINISTIC "gateway: {replicas: 1, cores: 1, runtime: {memory_limit: 64MiB}}\n"
                            "config: {reload: {cpu: 1ms, memory: 128MiB}, pushes: [{at: 1010ms, keys: 1}]}\n");
    sim_run(f.sim, 2 * SIM_SEC);
    cr_assert_eq(f.rag->outcome[RAG_ERROR], 1);
    cr_assert_eq(f.rag->gw.oom_kills_total, 1);
    cr_assert_not(f.rag->gw.rep[0].up);
    cr_assert_eq(embc_entries(&f.rag->gw.rep[0].cache), 1, "the dead process still holds its cache...");
    sim_run(f.sim, 12 * SIM_SEC);
    cr_assert(f.rag->gw.rep[0].starting, "restarted after 10 s, starting up");
    cr_assert_eq(embc_entries(&f.rag->gw.rep[0].cache), 0, "...the new one starts empty");
    sim_run(f.sim, 17 * SIM_SEC);
    cr_assert(f.rag->gw.rep[0].up, "ready 5 s after the restart");
    const sim_table_t *ev = sim_log_table(f.sim);
    int kind = sim_table_find_col(ev, "kind"), tcol = sim_table_find_col(ev, "time");
    double killed = -1, ready = -1;
    for (size_t i = 0; i < ev->nrows; i++) {
        if (!strcmp(sim_table_get_str(ev, i, kind), "oom_kill")) killed = sim_table_get_f64(ev, i, tcol);
        if (!strcmp(sim_table_get_str(ev, i, kind), "replica_ready")) ready = sim_table_get_f64(ev, i, tcol);
    }
    cr_assert_gt(killed, 1.01);
    cr_assert_lt(killed, 1.02);
    cr_assert_float_eq(ready, killed + 15, 1e-9);
    done(&f);
}
