/* The RAG request path: parsing, the request life, the call edge, faults,
 * metrics, and the model table (see rag.h). */
#include "models/rag/rag.h"

#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "models/model.h"
#include "sim/error.h"
#include "sim/units.h"

/* ---- names ------------------------------------------------------------------ */

const char *rag_outcome_name(rag_outcome_t o)
{
    static const char *const n[RAG_NOUTCOMES] = {"success", "degraded", "timeout", "error", "rejected"};
    return (unsigned)o < RAG_NOUTCOMES ? n[o] : "?";
}

static const char *const fault_names[] = {
    "slowdown", "errors", "packet_loss", "cpu_throttle", "kill", "metadata_pollution", "chunking_mismatch",
    "partition", NULL,
};

int rag_component_index(const rag_spec_t *spec, const char *name)
{
    if (!strcmp(name, "gateway")) return RAG_GATEWAY;
    for (int i = 0; i < RAG_FIRST_DEP + (int)spec->ndeps; i++)
        if (spec->comp_name[i] && !strcmp(spec->comp_name[i], name)) return i;
    return -2;
}

/* Reasons a request fails, counted by (component, call status), then the
 * client's deadline and "no gateway replica". */
#define REASON_DEADLINE(ncomp) ((ncomp) * CALL_NSTATUS)
#define REASON_GATEWAY(ncomp) ((ncomp) * CALL_NSTATUS + 1)
#define REASON_GATEWAY_CRASH(ncomp) ((ncomp) * CALL_NSTATUS + 2)
#define REASON_WATCH(ncomp) ((ncomp) * CALL_NSTATUS + 3)
#define REASON_CACHED(ncomp) ((ncomp) * CALL_NSTATUS + 4)
#define NREASONS(ncomp) ((ncomp) * CALL_NSTATUS + 5)

/* ---- parsing ------------------------------------------------------------------ */

static void candidates(const rag_spec_t *spec, const char **c, size_t *n, bool with_gateway)
{
    *n = 0;
    if (with_gateway) c[(*n)++] = "gateway";
    for (int i = 0; i < RAG_FIRST_DEP + (int)spec->ndeps; i++) c[(*n)++] = spec->comp_name[i];
}

/* A component name in the pipeline, a `calls:` key or a fault target. */
static int name_to_index(sim_diag_t *d, const rag_spec_t *spec, sim_cfg_node_t *node, bool allow_gateway,
                         const char *what)
{
    const char *name = NULL;
    if (sim_cfg_string_node(d, node, &name) != 0) return -3;
    /* pipeline steps are written as verbs */
    if (!strcmp(name, "embed")) return RAG_EMBEDDER;
    if (!strcmp(name, "retrieve")) return RAG_VECTORDB;
    if (!strcmp(name, "generate")) return RAG_LLM;
    int k = rag_component_index(spec, name);
    if (k == RAG_GATEWAY && !allow_gateway) k = -2;
    if (k >= -1) return k;
    const char *c[RAG_MAX_COMP + 4];
    size_t n;
    candidates(spec, c, &n, allow_gateway);
    c[n++] = "embed";
    c[n++] = "retrieve";
    c[n++] = "generate";
    const char *best = sim_cfg_closest(name, c, n);
    if (best)
        sim_cfg_error(d, node, "%s '%s' is not a component (did you mean '%s'?)", what, name, best);
    else
        sim_cfg_error(d, node, "%s '%s' is not a component: use embed, retrieve, generate or a name from 'dependencies'",
                      what, name);
    return -3;
}

static int parse_workload(sim_diag_t *d, sim_cfg_node_t *root, rag_spec_t *spec)
{
    sim_cfg_node_t *wl = sim_cfg_get(root, "workload");
    if (!wl) {
        sim_cfg_error(d, root, "missing required top-level key 'workload' (e.g. workload: {rate: 50/s})");
        return SIM_ECONFIG;
    }
    int rc = wl_spec_parse(d, wl, &spec->workload);
    if (rc == SIM_ENOMEM) return rc;
    if (wl->kind != SIM_CFG_MAP) return SIM_ECONFIG;
    int64_t distinct = 100000;
    double s = 1.0;
    sim_cfg_node_t *q = sim_cfg_get(wl, "queries");
    if (q && sim_cfg_expect_map(d, q, "queries")) {
        sim_cfg_int(d, q, "distinct", 0, 1, (int64_t)1 << 40, distinct, &distinct);
        sim_cfg_double(d, q, "zipf_s", 0, 0.01, 20, s, &s);
    }
    if (sim_dist_zipf(&spec->keys, (size_t)distinct, s)) return SIM_ENOMEM;
    sim_cfg_node_t *n;
    if ((n = sim_cfg_get(wl, "query_tokens"))) sim_dist_parse(d, n, SIM_DIST_NUMBER, &spec->query_tokens);
    else sim_dist_lognormal(&spec->query_tokens, 40, 0.5);
    if ((n = sim_cfg_get(wl, "output_tokens"))) sim_dist_parse(d, n, SIM_DIST_NUMBER, &spec->output_tokens);
    else sim_dist_lognormal(&spec->output_tokens, 200, 0.6);
    if ((n = sim_cfg_get(wl, "deadline"))) sim_dist_parse(d, n, SIM_DIST_DURATION, &spec->deadline);
    else sim_dist_deterministic(&spec->deadline, 8.0);
    /* users resubmitting what failed: `client_retries: {max: 2, on: [timeout, error], delay: 2s}` */
    sim_dist_deterministic(&spec->client_retry_delay, 1.0);
    sim_cfg_node_t *cr = sim_cfg_get(wl, "client_retries");
    if (cr && sim_cfg_expect_map(d, cr, "client_retries")) {
        int errs = d->errors;
        sim_cfg_int(d, cr, "max", SIM_CFG_REQUIRED, 0, 100, 0, &spec->client_retries);
        if ((n = sim_cfg_get(cr, "delay"))) {
            sim_dist_fini(&spec->client_retry_delay);
            sim_dist_parse(d, n, SIM_DIST_DURATION, &spec->client_retry_delay);
        }
        spec->client_retry_on = (1u << RAG_TIMEOUT) | (1u << RAG_ERROR);
        sim_cfg_node_t *on = sim_cfg_get(cr, "on");
        if (on && sim_cfg_expect_seq(d, on, "on")) {
            static const char *const outcomes[] = {"timeout", "error", "rejected", NULL};
            static const rag_outcome_t oc[] = {RAG_TIMEOUT, RAG_ERROR, RAG_REJECTED};
            spec->client_retry_on = 0;
            for (size_t i = 0; i < on->n; i++) {
                int k = 0;
                if (sim_cfg_enum_node(d, on->vals[i], outcomes, &k) == 0) spec->client_retry_on |= 1u << oc[k];
            }
        }
        if (d->errors != errs) return SIM_ECONFIG;
    }
    return 0;
}

static int parse_pipeline(sim_diag_t *d, sim_cfg_node_t *root, rag_spec_t *spec)
{
    int errs = d->errors;
    spec->top_k = 5;
    spec->chunk_tokens = 256;
    sim_cfg_node_t *p = sim_cfg_get(root, "pipeline");
    if (!p) {
        sim_cfg_error(d, root, "missing required top-level key 'pipeline' (e.g. pipeline: {steps: [embed, retrieve, generate]})");
        return SIM_ECONFIG;
    }
    if (!sim_cfg_expect_map(d, p, "pipeline")) return SIM_ECONFIG;
    sim_cfg_int(d, p, "top_k", 0, 1, 10000, spec->top_k, &spec->top_k);
    sim_cfg_int(d, p, "chunk_tokens", 0, 1, 1000000, spec->chunk_tokens, &spec->chunk_tokens);
    sim_cfg_bool(d, p, "context_propagation", 0, false, &spec->context_propagation);
    if (embc_spec_parse(d, sim_cfg_get(p, "answer_cache"), &spec->answer_cache) == 0 && !sim_cfg_get(p, "answer_cache"))
        spec->answer_cache.mode = EMBC_NONE;
    sim_cfg_node_t *steps = sim_cfg_get(p, "steps");
    if (!steps) {
        sim_cfg_error(d, p, "missing required key 'steps' in 'pipeline' (e.g. steps: [embed, retrieve, generate])");
        return SIM_ECONFIG;
    }
    if (!sim_cfg_expect_seq(d, steps, "steps")) return SIM_ECONFIG;
    if (steps->n == 0) {
        sim_cfg_error(d, steps, "'pipeline.steps' is empty");
        return SIM_ECONFIG;
    }
    spec->steps = calloc(steps->n, sizeof *spec->steps);
    if (!spec->steps) return SIM_ENOMEM;
    for (size_t i = 0; i < steps->n; i++) {
        sim_cfg_node_t *s = steps->vals[i];
        rag_step_t *st = &spec->steps[spec->nsteps++];
        sim_cfg_node_t *one[1] = {s};
        sim_cfg_node_t **items = one;
        size_t n = 1;
        if (s->kind == SIM_CFG_SEQ) {
            items = s->vals;
            n = s->n;
            if (n == 0 || n > RAG_MAX_GROUP) {
                sim_cfg_error(d, s, "a parallel group needs 1 to %d steps, not %zu", RAG_MAX_GROUP, n);
                continue;
            }
        }
        for (size_t j = 0; j < n; j++) {
            int k = name_to_index(d, spec, items[j], false, "pipeline step");
            if (k < 0) continue;
            for (int m = 0; m < st->ncalls; m++)
                if (st->target[m] == k) sim_cfg_error(d, items[j], "'%s' appears twice in the same parallel group", spec->comp_name[k]);
            if (k == RAG_VECTORDB && n > 1)
                sim_cfg_error(d, items[j], "'retrieve' cannot run in a parallel group: generation needs its chunks");
            st->target[st->ncalls++] = k;
            spec->uses[k] = true;
        }
    }
    if (d->errors != errs) return SIM_ECONFIG;
    /* embeddings before retrieval, retrieval before generation */
    int pos[3] = {-1, -1, -1};
    for (size_t i = 0; i < spec->nsteps; i++)
        for (int m = 0; m < spec->steps[i].ncalls; m++)
            if (spec->steps[i].target[m] < RAG_FIRST_DEP) pos[spec->steps[i].target[m]] = (int)i;
    if (pos[RAG_VECTORDB] >= 0 && pos[RAG_EMBEDDER] > pos[RAG_VECTORDB])
        sim_cfg_error(d, steps, "'retrieve' needs the query embedding: put 'embed' before it");
    if (pos[RAG_VECTORDB] >= 0 && pos[RAG_EMBEDDER] < 0)
        sim_cfg_error(d, steps, "'retrieve' needs the query embedding: add 'embed' before it");
    if (pos[RAG_LLM] >= 0 && pos[RAG_VECTORDB] > pos[RAG_LLM])
        sim_cfg_error(d, steps, "'generate' uses the retrieved chunks: put 'retrieve' before it");
    return d->errors == errs ? 0 : SIM_ECONFIG;
}

static int parse_components(sim_diag_t *d, sim_cfg_node_t *root, rag_spec_t *spec)
{
    int errs = d->errors, rc;
    spec->comp_name[RAG_EMBEDDER] = "embedder";
    spec->comp_name[RAG_VECTORDB] = "vectordb";
    spec->comp_name[RAG_LLM] = "llm";
    if ((rc = embedder_spec_parse(d, sim_cfg_get(root, "embedder"), &spec->emb)) == SIM_ENOMEM) return rc;
    if ((rc = vdb_spec_parse(d, sim_cfg_get(root, "vectordb"), &spec->vdb)) == SIM_ENOMEM) return rc;
    if ((rc = llm_spec_parse(d, sim_cfg_get(root, "llm"), &spec->llm)) == SIM_ENOMEM) return rc;
    sim_cfg_node_t *deps = sim_cfg_get(root, "dependencies");
    if (deps && sim_cfg_expect_map(d, deps, "dependencies")) {
        if (deps->n > RAG_MAX_DEPS) {
            sim_cfg_error(d, deps, "at most %d dependencies, not %zu", RAG_MAX_DEPS, deps->n);
            return SIM_ECONFIG;
        }
        spec->deps = calloc(deps->n ? deps->n : 1, sizeof *spec->deps);
        if (!spec->deps) return SIM_ENOMEM;
        for (size_t i = 0; i < deps->n; i++) {
            const char *name = deps->keys[i]->text;
            sim_cfg_touch(deps->vals[i]);
            if (!strcmp(name, "embedder") || !strcmp(name, "vectordb") || !strcmp(name, "llm") ||
                !strcmp(name, "gateway") || !strcmp(name, "embed") || !strcmp(name, "retrieve") ||
                !strcmp(name, "generate")) {
                sim_cfg_error(d, deps->keys[i], "'%s' is a built-in component: give the dependency another name", name);
                sim_cfg_touch_all(deps->vals[i]);   /* one error, not one per key */
                continue;
            }
            if (!strcmp(name, "keyword_search")) {
                sim_cfg_error(d, deps->keys[i], "'keyword_search' is the keyword channel: configure it at the top level");
                sim_cfg_touch_all(deps->vals[i]);
                continue;
            }
            if ((rc = dep_spec_parse(d, deps->vals[i], name, &spec->deps[spec->ndeps])) == SIM_ENOMEM) return rc;
            spec->comp_name[RAG_FIRST_DEP + spec->ndeps] = name;
            spec->ndeps++;
        }
    }
    /* the keyword (BM25) retrieval channel: a dependency-like service with
     * lower relevance, the target of the keyword fallback */
    spec->keyword = -1;
    spec->keyword_relevance = 0.7;
    sim_cfg_node_t *kw = sim_cfg_get(root, "keyword_search");
    if (kw && sim_cfg_expect_map(d, kw, "keyword_search")) {
        dep_spec_t *nd = realloc(spec->deps, (spec->ndeps + 1) * sizeof *nd);
        if (!nd) return SIM_ENOMEM;
        spec->deps = nd;
        sim_cfg_ratio(d, kw, "relevance", 0, spec->keyword_relevance, &spec->keyword_relevance);
        if ((rc = dep_spec_parse(d, kw, "keyword_search", &spec->deps[spec->ndeps])) == SIM_ENOMEM) return rc;
        spec->keyword = RAG_FIRST_DEP + (int)spec->ndeps;
        spec->comp_name[spec->keyword] = "keyword_search";
        spec->ndeps++;
    }
    return d->errors == errs ? 0 : SIM_ECONFIG;
}

static const char *const fallback_names[] = {"none", "keyword", "refuse", "cached_answer", "skip", "call", NULL};

/* The article's resilience tiers (chapter 5) as presets of a dependency's
 * call edge (`calls: {audit: {tier: 3}}`); keys given on the edge replace
 * the preset's key as a whole.
 *   1  money paths: break at 200 ms (the timeout; a breaker on the failure
 *      rate over 10 s) and degrade automatically (skip);
 *   2  marketing: tolerate 5% failures (a breaker at 5% over 60 s) but
 *      always answer, with a fallback (skip);
 *   3  logging: async and batched (1 s or 100 items), 15% tolerated (a
 *      breaker at 15%: above it the items are dropped). */
static const char *const tier_yaml[4] = {
    NULL,
    "timeout: 200ms\n"
    "circuit_breaker: {sliding_window_type: time_based, sliding_window_size: 10, minimum_number_of_calls: 20,\n"
    "                  failure_rate_threshold: 50%, wait_duration_in_open_state: 5s}\n"
    "fallback: {action: skip}\n",
    "circuit_breaker: {sliding_window_type: time_based, sliding_window_size: 60, minimum_number_of_calls: 20,\n"
    "                  failure_rate_threshold: 5%, wait_duration_in_open_state: 30s}\n"
    "fallback: {action: skip}\n",
    "async: true\n"
    "batch: {window: 1s, max_items: 100}\n"
    "circuit_breaker: {sliding_window_type: time_based, sliding_window_size: 60, minimum_number_of_calls: 10,\n"
    "                  failure_rate_threshold: 15%, wait_duration_in_open_state: 30s}\n",
};

static int tier_preset(sim_diag_t *d, rag_spec_t *spec, int tier, sim_cfg_node_t **out)
{
    if (!spec->tier_cfg[tier]) {
        char name[32];
        snprintf(name, sizeof name, "<tier %d preset>", tier);
        spec->tier_cfg[tier] = sim_cfg_load_string(name, tier_yaml[tier], strlen(tier_yaml[tier]), d);
        if (!spec->tier_cfg[tier]) return SIM_ENOMEM;
    }
    *out = sim_cfg_root(spec->tier_cfg[tier]);
    return 0;
}

static int parse_calls(sim_diag_t *d, sim_cfg_node_t *root, rag_spec_t *spec)
{
    int errs = d->errors, rc;
    /* naive defaults: the article's 3 s retrieval timeout; generous elsewhere */
    int ncomp = RAG_FIRST_DEP + (int)spec->ndeps;
    spec->edge[RAG_EMBEDDER].timeout = 2 * SIM_SEC;
    spec->edge[RAG_VECTORDB].timeout = 3 * SIM_SEC;
    spec->edge[RAG_LLM].timeout = 60 * SIM_SEC;
    for (int k = RAG_FIRST_DEP; k < ncomp; k++) spec->edge[k].timeout = 2 * SIM_SEC;
    for (int k = 0; k < ncomp; k++) spec->edge[k].share = 1;
    sim_cfg_node_t *calls = sim_cfg_get(root, "calls");
    if (!calls) return 0;
    if (!sim_cfg_expect_map(d, calls, "calls")) return SIM_ECONFIG;
    const sim_cfg_node_t *seen[RAG_MAX_COMP] = {0};
    for (size_t i = 0; i < calls->n; i++) {
        int k = name_to_index(d, spec, calls->keys[i], false, "'calls' entry");
        sim_cfg_touch(calls->vals[i]);
        if (k >= 0 && seen[k]) {
            /* "embed" and "embedder" name the same edge */
            sim_cfg_error(d, calls->keys[i], "'calls' entries '%s' (at %d:%d) and '%s' are the same call edge: give one",
                          seen[k]->text, seen[k]->line, seen[k]->col, calls->keys[i]->text);
            k = -1;
        }
        if (k < 0) {
            sim_cfg_touch_all(calls->vals[i]);   /* its keys cannot be checked: no cascade */
            continue;
        }
        seen[k] = calls->keys[i];
        sim_cfg_node_t *e = calls->vals[i];
        if (!sim_cfg_expect_map(d, e, "call edge")) continue;
        rag_edge_spec_t *es = &spec->edge[k];
        /* a resilience tier fills in the keys the edge does not give */
        sim_cfg_node_t *pre = NULL;
        int64_t tier = 0;
        if (sim_cfg_get(e, "tier")) {
            sim_cfg_int(d, e, "tier", 0, 1, 3, 0, &tier);
            if (tier > 0 && k < RAG_FIRST_DEP)
                sim_cfg_error(d, sim_cfg_get(e, "tier"), "resilience tiers apply to dependencies, not '%s'", spec->comp_name[k]);
            else if (tier > 0 && (rc = tier_preset(d, spec, (int)tier, &pre)) != 0)
                return rc;
        }
#define SRC(key) (sim_cfg_get(e, key) || !pre ? e : pre)
        es->share = 1;
        sim_cfg_ratio(d, e, "share", 0, 1, &es->share);
        if (es->share < 1 && k < RAG_FIRST_DEP)
            sim_cfg_error(d, sim_cfg_get(e, "share"), "'share' applies to dependencies (a check some requests need), not '%s'",
                          spec->comp_name[k]);
        sim_cfg_duration(d, SRC("timeout"), "timeout", SIM_CFG_UNBOUNDED, es->timeout, &es->timeout);
        if (es->timeout == SIM_TIME_MAX) es->timeout = 0;
        if ((rc = pol_specs_parse(d, e, pre, &es->pols, &es->npols)) == SIM_ENOMEM) return rc;
        bool has_retry = false;
        for (size_t j = 0; j < es->npols; j++) has_retry |= es->pols[j].type->retry != NULL;
        for (size_t j = 0; j < es->npols && !has_retry; j++)
            if (es->pols[j].type->allow_retry)
                sim_cfg_error(d, sim_cfg_get(e, es->pols[j].type->name),
                              "'%s' limits retries, and this edge makes none: add a 'retry' policy "
                              "(e.g. retry: {max_attempts: 3})", es->pols[j].type->name);
        sim_cfg_bool(d, SRC("async"), "async", 0, false, &es->async);
        sim_cfg_node_t *bn = sim_cfg_get(SRC("batch"), "batch");
        if (bn && !es->async) {
            sim_cfg_error(d, bn, "'batch' groups the items of an async edge: add 'async: true'");
            sim_cfg_touch_all(bn);
        } else if (bn && sim_cfg_expect_map(d, bn, "batch")) {
            es->batch_window = SIM_SEC;
            es->batch_max = 100;
            sim_cfg_duration(d, bn, "window", SIM_CFG_POSITIVE, es->batch_window, &es->batch_window);
            sim_cfg_int(d, bn, "max_items", 0, 1, 1000000000, es->batch_max, &es->batch_max);
        }
        if (es->async) {
            if (k < RAG_FIRST_DEP)
                sim_cfg_error(d, sim_cfg_get(SRC("async"), "async"), "only a dependency can be called async (logging, analytics), not '%s'",
                              spec->comp_name[k]);
            for (size_t j = 0; j < es->npols; j++)
                if (es->pols[j].type->retry)
                    sim_cfg_error(d, sim_cfg_get(e, es->pols[j].type->name), "async calls are not retried: remove '%s'",
                                  es->pols[j].type->name);
            if (sim_cfg_get(e, "fallback"))
                sim_cfg_error(d, sim_cfg_get(e, "fallback"), "nobody waits for an async call: it has no fallback");
        }
        sim_cfg_node_t *fb = es->async ? NULL : sim_cfg_get(SRC("fallback"), "fallback");
        if (fb && sim_cfg_expect_map(d, fb, "fallback")) {
            int a = FB_NONE;
            sim_cfg_enum(d, fb, "action", SIM_CFG_REQUIRED, fallback_names, FB_NONE, &a);
            es->fallback = (rag_fallback_t)a;
            sim_cfg_node_t *an = sim_cfg_get(fb, "action");
            bool ok = true;
            switch (es->fallback) {
            case FB_KEYWORD: ok = k == RAG_VECTORDB || k == RAG_EMBEDDER; break;
            case FB_SKIP: ok = k >= RAG_FIRST_DEP; break;
            default: break;
            }
            if (!ok)
                sim_cfg_error(d, an, "fallback '%s' does not apply to '%s' (keyword: embed or retrieve; skip: a dependency)",
                              fallback_names[a], spec->comp_name[k]);
            if (es->fallback == FB_KEYWORD && spec->keyword < 0)
                sim_cfg_error(d, an, "fallback 'keyword' needs the keyword channel: add a top-level 'keyword_search' (e.g. keyword_search: {latency: 20ms})");
            sim_cfg_node_t *tn = sim_cfg_get(fb, "target");
            if (es->fallback == FB_CALL) {
                if (!tn) {
                    sim_cfg_error(d, fb, "fallback 'call' needs a 'target': the component called instead (e.g. target: db_replica)");
                } else {
                    int t = name_to_index(d, spec, tn, false, "fallback target");
                    if (t >= 0 && t == k)
                        sim_cfg_error(d, tn, "a fallback cannot call the component that failed ('%s')", spec->comp_name[k]);
                    else if (t >= 0 && t < RAG_FIRST_DEP)
                        sim_cfg_error(d, tn, "a fallback calls a dependency (a read replica, a backup provider), not '%s'",
                                      spec->comp_name[t]);
                    else if (t >= 0) {
                        es->fallback_target = t;
                        spec->uses[t] = true;
                    }
                }
            } else if (tn) {
                sim_cfg_error(d, tn, "'target' is for fallback 'call' only");
            }
        }
    }
#undef SRC
    return d->errors == errs ? 0 : SIM_ECONFIG;
}

/* `changes`: configuration changes of replicated services and how they are
 * rolled out (models/policies/rollout.h). */
static int parse_changes(sim_diag_t *d, sim_cfg_node_t *root, const sim_scenario_t *sc, rag_spec_t *spec)
{
    int errs = d->errors;
    sim_cfg_node_t *cl = sim_cfg_get(root, "changes");
    if (!cl) return 0;
    if (!sim_cfg_expect_seq(d, cl, "changes")) return SIM_ECONFIG;
    spec->changes = calloc(cl->n ? cl->n : 1, sizeof *spec->changes);
    if (!spec->changes) return SIM_ENOMEM;
    for (size_t i = 0; i < cl->n; i++) {
        roll_spec_t c;
        if (roll_spec_parse(d, cl->vals[i], &c)) continue;
        sim_cfg_node_t *tn = sim_cfg_get(cl->vals[i], "target");
        int k = name_to_index(d, spec, tn, true, "change target");
        if (k < 0) continue;
        if (k != RAG_VECTORDB && k < RAG_FIRST_DEP) {
            sim_cfg_error(d, tn, "changes apply to replicated services: the vector DB, a dependency or keyword_search, not '%s'",
                          c.target);
            continue;
        }
        for (size_t j = 0; j < spec->nchanges; j++)
            if (spec->changes[j].target_index == k)
                sim_cfg_error(d, tn, "'%s' already has a change: one change per component", c.target);
        if (c.at >= sc->duration)
            sim_cfg_warn(d, sim_cfg_get(cl->vals[i], "at"), "the change comes at or after the end of the run");
        c.target_index = k;
        spec->changes[spec->nchanges++] = c;
    }
    return d->errors == errs ? 0 : SIM_ECONFIG;
}

static int parse_faults(sim_diag_t *d, sim_cfg_node_t *root, const sim_scenario_t *sc, rag_spec_t *spec)
{
    int errs = d->errors;
    sim_cfg_node_t *fl = sim_cfg_get(root, "faults");
    if (!fl) return 0;
    if (!sim_cfg_expect_seq(d, fl, "faults")) return SIM_ECONFIG;
    spec->faults = calloc(fl->n ? fl->n : 1, sizeof *spec->faults);
    if (!spec->faults) return SIM_ENOMEM;
    for (size_t i = 0; i < fl->n; i++) {
        sim_cfg_node_t *m = fl->vals[i];
        if (!sim_cfg_expect_map(d, m, "fault")) continue;
        rag_fault_t f = {.replica = -1, .factor = 1, .rto = 200 * SIM_MS, .max_retransmits = 3};
        int kind = 0;
        if (sim_cfg_enum(d, m, "kind", SIM_CFG_REQUIRED, fault_names, 0, &kind)) {
            sim_cfg_touch_all(m);   /* the other keys depend on the kind: no cascade */
            continue;
        }
        f.kind = (rag_fault_kind_t)kind;
        sim_cfg_duration(d, m, "at", SIM_CFG_REQUIRED, 0, &f.at);
        bool needs_target = f.kind != FAULT_METADATA_POLLUTION && f.kind != FAULT_CHUNKING_MISMATCH;
        if (f.kind != FAULT_KILL) sim_cfg_duration(d, m, "for", SIM_CFG_REQUIRED | SIM_CFG_POSITIVE, 0, &f.dur);
        if (f.kind == FAULT_PARTITION) {
            /* a partition cuts the gateway's etcd clients off etcd */
            static const char *const etcd_only[] = {"etcd", NULL};
            int which = 0;
            if (sim_cfg_enum(d, m, "target", SIM_CFG_REQUIRED, etcd_only, 0, &which)) continue;
            if (!spec->gw.has_config) {
                sim_cfg_error(d, sim_cfg_get(m, "target"),
                              "a partition from etcd needs a 'config' section: without it nothing talks to etcd");
                continue;
            }
            f.target = RAG_ETCD;
            f.target_name = "etcd";
        } else if (needs_target) {
            sim_cfg_node_t *t = sim_cfg_get(m, "target");
            if (!t) {
                sim_cfg_error(d, m, "missing required key 'target' for a %s fault (a component: gateway, embedder, vectordb, llm or a dependency)", fault_names[kind]);
                continue;
            }
            f.target = name_to_index(d, spec, t, true, "fault target");
            if (f.target < -1) {
                sim_cfg_touch_all(m);
                continue;
            }
            if (f.target == RAG_GATEWAY && f.kind == FAULT_PACKET_LOSS) {
                sim_cfg_error(d, t, "packet loss acts on a call edge: target a component the gateway calls, not the gateway");
                sim_cfg_touch_all(m);
                continue;
            }
            f.target_name = f.target == RAG_GATEWAY ? "gateway" : spec->comp_name[f.target];
        } else {
            f.target_name = f.kind == FAULT_METADATA_POLLUTION ? "llm" : "vectordb";
        }
        switch (f.kind) {
        case FAULT_SLOWDOWN:
            sim_cfg_double(d, m, "factor", SIM_CFG_REQUIRED, 1e-3, 1e6, 1, &f.factor);
            break;
        case FAULT_CPU_THROTTLE:
            sim_cfg_double(d, m, "factor", SIM_CFG_REQUIRED, 1e-6, 1, 1, &f.factor);
            break;
        case FAULT_METADATA_POLLUTION:
            sim_cfg_double(d, m, "factor", SIM_CFG_REQUIRED, 1e-3, 1e4, 1, &f.factor);
            break;
        case FAULT_ERRORS:
        case FAULT_CHUNKING_MISMATCH:
            sim_cfg_ratio(d, m, "ratio", SIM_CFG_REQUIRED, 0, &f.ratio);
            break;
        case FAULT_PACKET_LOSS:
            sim_cfg_ratio(d, m, "loss", SIM_CFG_REQUIRED, 0, &f.ratio);
            sim_cfg_duration(d, m, "rto", SIM_CFG_POSITIVE, f.rto, &f.rto);
            sim_cfg_int(d, m, "max_retransmits", 0, 0, 30, f.max_retransmits, &f.max_retransmits);
            break;
        case FAULT_KILL:
        {
            int64_t rep = -1;
            sim_cfg_int(d, m, "replica", 0, 0, LB_MAX_REPLICAS - 1, -1, &rep);
            f.replica = (int)rep;
            break;
        }
        default:
            break;
        }
        if (f.at >= sc->duration)
            sim_cfg_warn(d, sim_cfg_get(m, "at"), "the fault starts after the end of the run (%g s)", sim_time_to_s(sc->duration));
        spec->faults[spec->nfaults++] = f;
    }
    return d->errors == errs ? 0 : SIM_ECONFIG;
}

int rag_spec_parse(sim_diag_t *d, sim_cfg_node_t *root, const sim_scenario_t *sc, rag_spec_t *spec)
{
    int errs = d->errors, rc;
    memset(spec, 0, sizeof *spec);
    if ((rc = parse_workload(d, root, spec)) == SIM_ENOMEM) return rc;
    if ((rc = parse_components(d, root, spec)) == SIM_ENOMEM) return rc;
    if ((rc = gw_spec_parse(d, root, sc, &spec->gw)) == SIM_ENOMEM) return rc;
    if ((rc = parse_pipeline(d, root, spec)) == SIM_ENOMEM) return rc;
    if ((rc = parse_calls(d, root, spec)) == SIM_ENOMEM) return rc;
    if (spec->keyword >= 0) spec->uses[spec->keyword] = true;
    if ((rc = parse_faults(d, root, sc, spec)) == SIM_ENOMEM) return rc;
    if ((rc = parse_changes(d, root, sc, spec)) == SIM_ENOMEM) return rc;
    sim_cfg_node_t *tr = sim_cfg_get(root, "trace");
    if (tr && sim_cfg_expect_map(d, tr, "trace"))
        sim_cfg_ratio(d, tr, "request_sample", 0, 0, &spec->request_sample);
    return d->errors == errs ? 0 : SIM_ECONFIG;
}

void rag_spec_fini(rag_spec_t *spec)
{
    wl_spec_fini(&spec->workload);
    sim_dist_fini(&spec->keys);
    sim_dist_fini(&spec->query_tokens);
    sim_dist_fini(&spec->output_tokens);
    sim_dist_fini(&spec->deadline);
    sim_dist_fini(&spec->client_retry_delay);
    gw_spec_fini(&spec->gw);
    free(spec->steps);
    embedder_spec_fini(&spec->emb);
    vdb_spec_fini(&spec->vdb);
    llm_spec_fini(&spec->llm);
    for (size_t i = 0; i < spec->ndeps; i++) dep_spec_fini(&spec->deps[i]);
    for (int k = 0; k < RAG_MAX_COMP; k++) pol_specs_fini(spec->edge[k].pols, spec->edge[k].npols);
    free(spec->deps);
    free(spec->faults);
    free(spec->changes);
    for (int t = 0; t < 4; t++) sim_cfg_destroy(spec->tier_cfg[t]);
    memset(spec, 0, sizeof *spec);
}

/* ---- requests ------------------------------------------------------------------ */

enum { PH_PRE, PH_STEPS, PH_POST, PH_DONE };
enum {
    RQ_EMPTY = 1u << 0,        /* retrieval returned no chunks */
    RQ_IRRELEVANT = 1u << 1,   /* retrieval returned unrelated chunks */
    RQ_ENDED = 1u << 2,        /* the client has its outcome */
    RQ_FAILED = 1u << 3,       /* a required call failed */
    RQ_DEGRADED = 1u << 4,     /* a fallback was used */
    RQ_KEYWORD = 1u << 5,      /* retrieve through the keyword channel (the embedding failed) */
    RQ_FINISHED = 1u << 6,     /* answered early (refusal, cached answer): the step must not go on */
    RQ_CANCELLED = 1u << 7,    /* its context was cancelled (deadline, with context propagation) */
};

struct rag_req {
    gw_job_t job;               /* first: CPU work at the gateway replica */
    rag_req_t *next_free;
    rag_req_t *prev, *next;     /* requests held by the same gateway replica */
    call_t *calls[RAG_MAX_GROUP];   /* calls of the current step still awaited */
    sim_timer_t retry_timer[RAG_MAX_GROUP];   /* a retry waiting for its backoff */
    sim_time_t first_sent[RAG_MAX_GROUP];     /* when the slot's first attempt was made */
    sim_time_t prev_delay[RAG_MAX_GROUP];     /* the slot's last backoff (decorrelated jitter) */
    uint16_t attempt[RAG_MAX_GROUP];          /* attempts made on the slot (max_attempts <= 1000) */
    uint16_t retry_live;                      /* slots whose retry is in flight (one bit per slot, RAG_MAX_GROUP) */
    int32_t inflight_at_issue[RAG_MAX_GROUP]; /* the edge's attempts in flight when the slot's call went out */
    int64_t pol_note[RAG_MAX_GROUP];          /* pol_ctx_t.note of the slot's call */
    int8_t slot_target[RAG_MAX_GROUP];        /* the component the slot now calls (a fallback may change it) */
    uint32_t gen;               /* the replica's process generation at arrival */
    sim_time_t patience;        /* the client's deadline, from arrival */
    uint8_t client_try;         /* 0: first submission; k: the user's k-th resubmission */
    uint64_t share_bits;        /* decides which `share` calls it makes */
    double u_leak;              /* drawn at arrival: does its goroutine leak at the deadline? */
    uint64_t id;
    sim_time_t arrival, deadline, ended;
    sim_timer_t deadline_timer;
    sim_tl_entry_t deadline_tle;   /* or this entry on rag->deadlines */
    int32_t replica;
    uint16_t step, phase;
    int16_t pending;            /* calls outstanding in the current step */
    uint16_t flags;
    int32_t reason;             /* failure reason index, -1 none */
    uint8_t outcome;
    uint64_t key;
    int32_t qtok, otok;
    int64_t prompt_tokens;
    float stage_s[4];           /* embed, retrieve, generate, dependencies (sum) */
};

#define REQ_SLAB 4096
_Static_assert(RAG_MAX_GROUP <= 16, "rag_req_t.retry_live has one bit per slot");

static rag_req_t *req_alloc(rag_t *rag)
{
    if (!rag->free_reqs) {
        void **s = realloc(rag->slabs, (rag->nslabs + 1) * sizeof *s);
        if (!s) return NULL;
        rag->slabs = s;
        rag_req_t *slab = malloc(REQ_SLAB * sizeof *slab);
        if (!slab) return NULL;
        rag->slabs[rag->nslabs++] = slab;
        for (size_t i = REQ_SLAB; i-- > 0;) {
            slab[i].next_free = rag->free_reqs;
            rag->free_reqs = &slab[i];
        }
    }
    rag_req_t *r = rag->free_reqs;
    rag->free_reqs = r->next_free;
    return r;
}

static bool sampled(const rag_t *rag, uint64_t id)
{
    return rag->sample_threshold && sim_rng_sm64(id ^ 0x5A4D504C45ULL) < rag->sample_threshold;
}

static void format_reason(const rag_t *rag, int reason, char *buf, size_t n)
{
    if (reason < 0) snprintf(buf, n, "%s", "");
    else if (reason == REASON_DEADLINE(rag->ncomp)) snprintf(buf, n, "deadline");
    else if (reason == REASON_GATEWAY(rag->ncomp)) snprintf(buf, n, "no gateway replica up");
    else if (reason == REASON_GATEWAY_CRASH(rag->ncomp)) snprintf(buf, n, "gateway crashed");
    else if (reason == REASON_WATCH(rag->ncomp)) snprintf(buf, n, "etcd watch failed");
    else if (reason == REASON_CACHED(rag->ncomp)) snprintf(buf, n, "served a cached answer");
    else snprintf(buf, n, "%s %s", rag->spec->comp_name[reason / CALL_NSTATUS],
                  call_status_name((call_status_t)(reason % CALL_NSTATUS)));
}

static void record_request(rag_t *rag, const rag_req_t *r)
{
    sim_table_t *t = &rag->requests;
    unsigned char *row = sim_table_append(t);
    if (!row) return;
    char reason[96];
    format_reason(rag, r->reason, reason, sizeof reason);
    sim_row_i64(t, row, 0, (int64_t)r->id);
    sim_row_f64(t, row, 1, sim_time_to_s(r->arrival));
    sim_row_f64(t, row, 2, sim_time_to_s(r->ended));
    sim_row_f64(t, row, 3, sim_time_to_s(sim_now(rag->sim)));
    sim_row_str(t, row, 4, rag_outcome_name((rag_outcome_t)r->outcome));
    sim_row_str(t, row, 5, reason);
    sim_row_i64(t, row, 6, (r->flags & (RQ_EMPTY | RQ_IRRELEVANT)) == 0);
    for (int i = 0; i < 4; i++) sim_row_f64(t, row, 7 + i, r->stage_s[i] >= 0 ? r->stage_s[i] : NAN);
    sim_row_i64(t, row, 11, r->qtok);
    sim_row_i64(t, row, 12, r->otok);
    sim_row_i64(t, row, 13, r->prompt_tokens);
    sim_row_i64(t, row, 14, r->replica);
    sim_row_i64(t, row, 15, (int64_t)r->key);
}

/* The client's view: the request's outcome, recorded once. */
static void maybe_client_retry(rag_t *rag, const rag_req_t *r, rag_outcome_t o);

/* The request's deadline no longer matters (it ended, or its replica crashed). */
static inline void clear_deadline(rag_t *rag, rag_req_t *r)
{
    if (r->deadline_tle.listed) sim_tlist_remove(&rag->deadlines, &r->deadline_tle);
    else sim_cancel(rag->sim, &r->deadline_timer);
}

static void req_outcome(rag_t *rag, rag_req_t *r, rag_outcome_t o, int reason)
{
    if (r->flags & RQ_ENDED) return;
    r->flags |= RQ_ENDED;
    r->outcome = (uint8_t)o;
    r->reason = reason;
    r->ended = sim_now(rag->sim);
    clear_deadline(rag, r);
    rag->outcome[o]++;
    rag->win_outcome[o]++;
    if (reason >= 0) rag->reason[reason]++;
    if (rag->spec->client_retries > 0) maybe_client_retry(rag, r, o);
    if (o == RAG_OK_SUCCESS || o == RAG_DEGRADED) {
        sim_time_t lat = r->ended - r->arrival;
        sim_tmean_add(&rag->latency_s, lat);
        sim_hist_add2(&rag->latency, &rag->win_latency, lat);
        rag->win_answers++;
        if (r->flags & (RQ_EMPTY | RQ_IRRELEVANT)) {
            rag->ungrounded++;
            rag->win_ungrounded++;
        }
    }
}

/* The gateway is done with the request (its pipeline ended or failed). */
static void req_release(rag_t *rag, rag_req_t *r)
{
    clear_deadline(rag, r);   /* normally done with its outcome; a pooled request must not stay listed */
    if (sampled(rag, r->id)) record_request(rag, r);
    if (r->replica >= 0) {
        if (r->prev) r->prev->next = r->next; else rag->held[r->replica] = r->next;
        if (r->next) r->next->prev = r->prev;
        gw_request_end(&rag->gw, r->replica, r->gen);
    }
    rag->in_flight--;
    r->next_free = rag->free_reqs;
    rag->free_reqs = r;
}

static void run_step(rag_t *rag, rag_req_t *r);
static void abandon_calls(rag_t *rag, rag_req_t *r, bool cancel);

static void deadline_passed(rag_t *rag, rag_req_t *r);

static void deadline_event(sim_t *sim, void *obj, uint64_t arg)
{
    (void)sim;
    rag_req_t *r = obj;
    r->deadline_timer = (sim_timer_t){0, 0};
    deadline_passed((rag_t *)(uintptr_t)arg, r);
}

static void deadline_fire(sim_t *sim, sim_tl_entry_t *e, void *ctx)
{
    (void)sim;
    deadline_passed(ctx, (rag_req_t *)(void *)((char *)e - offsetof(rag_req_t, deadline_tle)));
}

static void deadline_passed(rag_t *rag, rag_req_t *r)
{
    req_outcome(rag, r, RAG_TIMEOUT, REASON_DEADLINE(rag->ncomp));
    if (rag->spec->context_propagation) {
        /* the context is cancelled: every call of the request is cancelled
         * down to the components, and its goroutine returns (a CPU segment
         * in progress ends first) */
        r->flags |= RQ_CANCELLED;
        if (r->phase == PH_STEPS) {
            abandon_calls(rag, r, true);
            req_release(rag, r);
        }
        return;
    }
    /* naive: the client gives up, the gateway goes on (no context
     * propagation); its goroutine may block forever */
    gw_deadline(&rag->gw, r->replica, r->u_leak);
}

static void on_request_cpu_done(void *ctx, stn_job_t *job, stn_outcome_t oc)
{
    rag_t *rag = ctx;
    rag_req_t *r = (rag_req_t *)job;
    if (oc != STN_DONE) return;   /* the process died: gw_crash fails the request */
    if (r->flags & RQ_CANCELLED) {
        req_release(rag, r);      /* its context was cancelled during the segment */
        return;
    }
    if (r->phase == PH_PRE) {
        r->phase = PH_STEPS;
        run_step(rag, r);
    } else {
        r->phase = PH_DONE;
        bool grounded = !(r->flags & (RQ_EMPTY | RQ_IRRELEVANT));
        if (grounded && !(r->flags & RQ_DEGRADED) && rag->spec->answer_cache.mode != EMBC_NONE &&
            embc_insert(&rag->answers, r->key, sim_now(rag->sim)) != 0) {
            rag->sim->error = SIM_ENOMEM;
            sim_stop(rag->sim);
        }
        req_outcome(rag, r, (r->flags & RQ_DEGRADED) ? RAG_DEGRADED : RAG_OK_SUCCESS, -1);
        req_release(rag, r);
    }
}

/* Replica r crashed: every request it held fails (or, if its client already
 * gave up, simply ends); the calls they were waiting for are abandoned. */
static void fail_all(void *ctx, int replica)
{
    rag_t *rag = ctx;
    int reason = REASON_GATEWAY_CRASH(rag->ncomp);
    while (rag->held[replica]) {
        rag_req_t *r = rag->held[replica];
        /* the process's connections close: the servers cancel its calls */
        abandon_calls(rag, r, true);
        req_outcome(rag, r, RAG_ERROR, reason);   /* clears its deadline (req_release too) */
        req_release(rag, r);
    }
}

static void admit_request(rag_t *rag, rag_req_t *r);

static rag_req_t *new_request(rag_t *rag)
{
    rag_req_t *r = req_alloc(rag);
    if (!r) {
        rag->sim->error = SIM_ENOMEM;
        sim_stop(rag->sim);
        return NULL;
    }
    memset(r, 0, sizeof *r);
    r->reason = -1;
    r->replica = -1;
    for (int i = 0; i < 4; i++) r->stage_s[i] = -1;
    return r;
}

static void on_arrival(sim_t *sim, void *ctx)
{
    rag_t *rag = ctx;
    const rag_spec_t *spec = rag->spec;
    rag_req_t *r = new_request(rag);
    if (!r) return;
    r->arrival = sim_now(sim);
    /* demands, from the workload's own streams: every variant sees the same requests */
    r->key = (uint64_t)sim_dist_sample(&spec->keys, rag->rng_key);
    double q = sim_dist_sample(&spec->query_tokens, rag->rng_qtok);
    double o = sim_dist_sample(&spec->output_tokens, rag->rng_otok);
    r->qtok = q < 1 ? 1 : q > 1e6 ? 1000000 : (int32_t)llround(q);
    r->otok = o < 1 ? 1 : o > 1e6 ? 1000000 : (int32_t)llround(o);
    r->patience = sim_time_from_s(sim_dist_sample(&spec->deadline, rag->rng_deadline));
    r->u_leak = sim_rng_uniform(rag->rng_leak);
    r->share_bits = sim_rng_next(rag->rng_share);
    admit_request(rag, r);
}

/* A user resubmits a request that failed: the same order (demands,
 * patience), a new request. */
static void client_retry_event(sim_t *sim, void *obj, uint64_t arg)
{
    rag_req_t *r = obj;
    rag_t *rag = (rag_t *)(uintptr_t)arg;
    r->arrival = sim_now(sim);
    rag->client_retries++;
    admit_request(rag, r);
}

static void maybe_client_retry(rag_t *rag, const rag_req_t *r, rag_outcome_t o)
{
    const rag_spec_t *spec = rag->spec;
    if (r->client_try >= spec->client_retries || !(spec->client_retry_on & (1u << o))) return;
    rag_req_t *n = new_request(rag);
    if (!n) return;
    n->key = r->key;
    n->qtok = r->qtok;
    n->otok = r->otok;
    n->patience = r->patience;
    n->u_leak = r->u_leak;
    n->share_bits = r->share_bits;
    n->client_try = (uint8_t)(r->client_try + 1);
    double dly = sim_dist_sample(&spec->client_retry_delay, rag->rng_client_retry);
    sim_schedule_in(rag->sim, sim_time_from_s(dly), client_retry_event, n, (uint64_t)(uintptr_t)rag);
}

static void admit_request(rag_t *rag, rag_req_t *r)
{
    sim_t *sim = rag->sim;
    const rag_spec_t *spec = rag->spec;
    r->id = rag->next_id++;
    r->deadline = r->arrival + r->patience;
    rag->arrivals++;
    rag->in_flight++;
    int gw = gw_pick(&rag->gw);
    if (gw < 0) {
        req_outcome(rag, r, RAG_REJECTED, REASON_GATEWAY(rag->ncomp));
        req_release(rag, r);
        return;
    }
    r->replica = gw;
    r->gen = gw_gen(&rag->gw, gw);
    r->next = rag->held[gw];
    if (r->next) r->next->prev = r;
    rag->held[gw] = r;
    gw_request_begin(&rag->gw, gw);
    if (spec->gw.watch_per_request && !gw_request_watch(&rag->gw, gw)) {
        /* the article's bug: Watch per request; with the lease pool exhausted it fails */
        req_outcome(rag, r, RAG_ERROR, REASON_WATCH(rag->ncomp));
        req_release(rag, r);
        return;
    }
    /* a constant client deadline: every request's expires in arrival order,
     * one pending event for all (sim/tlist.h) */
    if (rag->deadlines.delay > 0 && r->deadline == sim_now(sim) + rag->deadlines.delay) sim_tlist_add(sim, &rag->deadlines, &r->deadline_tle);
    else r->deadline_timer = sim_schedule_at(sim, r->deadline, deadline_event, r, (uint64_t)(uintptr_t)rag);
    r->phase = PH_PRE;
    gw_request_cpu(&rag->gw, gw, &r->job.job, true);
}

/* ---- the call edge --------------------------------------------------------------
 *
 * A step's slot calls one component through its edge: the edge's policies
 * admit each attempt (or answer it from a cache, or reject it), the call is
 * made with the edge's timeout (capped by the request's deadline when
 * context propagation is on), failed attempts are retried as the retry
 * policy says, and the edge's final outcome goes through the fallback. */

static void on_call_done(sim_t *sim, call_t *c, call_status_t st);
static void edge_attempt(rag_t *rag, rag_req_t *r, int slot);
static void slot_done(rag_t *rag, rag_req_t *r, int slot, int target, call_status_t st, uint32_t flags);

static void send_event(sim_t *sim, void *obj, uint64_t arg)
{
    (void)sim;
    (void)arg;
    call_t *c = obj;
    const rag_edge_t *e = c->edge;
    e->rag->ops[e->target]->submit(e->rag->comp[e->target], c);
}

static void lost_event(sim_t *sim, void *obj, uint64_t arg)
{
    (void)arg;
    call_complete(sim, obj, CALL_ERROR);   /* connection reset after the last retransmission */
}

static void llm_call_released(sim_t *sim, call_t *c)
{
    (void)sim;
    const rag_edge_t *e = c->edge;
    gw_llm_call_end(&e->rag->gw, (int)(c->caller_u & 0xFFFFFFFF), (uint32_t)(c->caller_u >> 32));
}

static pol_ctx_t pol_ctx(rag_t *rag, rag_req_t *r, int slot)
{
    int target = r->slot_target[slot];
    pol_ctx_t x = {.sim = rag->sim, .now = sim_now(rag->sim), .attempt = r->attempt[slot], .key = r->key,
                   .deadline = r->deadline, .prev_delay = r->prev_delay[slot],
                   .inflight = rag->inflight[target], .retries_inflight = rag->retries_inflight[target],
                   .inflight_at_issue = r->inflight_at_issue[slot], .note = &r->pol_note[slot]};
    return x;
}

/* The slot's retry (if one is in flight) has ended: decided and then
 * rejected, abandoned, or its attempt got its outcome. */
static inline void retry_end(rag_t *rag, rag_req_t *r, int slot)
{
    if (r->retry_live & (1u << slot)) {
        r->retry_live &= (uint16_t)~(1u << slot);
        rag->retries_inflight[r->slot_target[slot]]--;
    }
}

/* A timed-out attempt whose context is cancelled with its timeout. */
static void cancel_timed_out(sim_t *sim, call_t *c)
{
    (void)sim;
    const rag_edge_t *e = c->edge;
    e->rag->ops[e->target]->cancel(e->rag->comp[e->target], c);
}

/* Make the call of one attempt: every call from a request to a component
 * goes out here. */
static void issue_call(rag_t *rag, rag_req_t *r, int slot, int target)
{
    sim_t *sim = rag->sim;
    call_t *c = call_new(&rag->calls, r, on_call_done, (uint64_t)slot, sim_now(sim));
    if (!c) {
        sim->error = SIM_ENOMEM;
        sim_stop(sim);
        return;
    }
    c->edge = &rag->edge[target];
    c->key = r->key;
    switch (target) {
    case RAG_EMBEDDER: c->tokens_in = r->qtok; break;
    case RAG_VECTORDB: c->top_k = rag->spec->top_k; break;
    case RAG_LLM:
        c->tokens_in = r->prompt_tokens;
        c->tokens_out = r->otok;
        /* the LLM call runs in its own goroutine, holding its buffers until
         * the LLM answers, even after the request gave up (unless cancelled) */
        gw_llm_call_begin(&rag->gw, r->replica);
        c->release = llm_call_released;
        c->caller_u = ((uint64_t)r->gen << 32) | (uint32_t)r->replica;
        break;
    default: break;
    }
    r->calls[slot] = c;
    r->inflight_at_issue[slot] = (int32_t)++rag->inflight[target];
    sim_time_t to = rag->spec->edge[target].timeout;
    if (rag->spec->context_propagation) {
        /* the call's context carries the request's deadline, and its own
         * timeout cancels it: the component stops working on it */
        sim_time_t left = r->deadline - sim_now(sim);
        if (left > 0 && (to == 0 || left <= to)) {
            /* the request's deadline comes first: at that instant it
             * cancels every call of the request (deadline_passed), so the
             * call needs no timeout of its own (one set for the same
             * instant would only race the deadline) */
            to = 0;
        } else if (to == 0 || left < to) {
            to = 1;   /* the deadline has passed */
        }
        if (rag->ops[target]->cancel) c->cancel_after_timeout = cancel_timed_out;
    }
    /* the edge's own timeout: its list serves every call with one event */
    if (to > 0 && to == rag->edge[target].timeouts.delay) call_set_timeout_list(sim, c, &rag->edge[target].timeouts);
    else if (to > 0) call_set_timeout(sim, c, to);
    /* packet loss on the edge: each transmission is lost with probability p;
     * TCP retransmits after rto, doubling; after max_retransmits the call fails */
    double p = rag->loss[target];
    if (p > 0 && sim_rng_uniform(rag->rng_loss) < p) {
        sim_time_t delay = 0, rto = rag->loss_rto[target];
        int64_t k = 1;
        while (k <= rag->loss_max[target] && sim_rng_uniform(rag->rng_loss) < p) {
            delay += rto;
            rto *= 2;
            k++;
        }
        delay += rto;
        if (k > rag->loss_max[target]) sim_schedule_in(sim, delay, lost_event, c, 0);
        else sim_schedule_in(sim, delay, send_event, c, 0);
        return;
    }
    rag->ops[target]->submit(rag->comp[target], c);
}

static void retry_event(sim_t *sim, void *obj, uint64_t arg)
{
    (void)sim;
    rag_req_t *r = obj;
    int slot = (int)arg;
    /* the request's CPU station belongs to the gateway, whose hooks know the model */
    rag_t *rag = ((gw_t *)r->job.job.st->owner)->hooks.ctx;
    r->retry_timer[slot] = (sim_timer_t){0, 0};
    edge_attempt(rag, r, slot);
}

static void edge_attempt(rag_t *rag, rag_req_t *r, int slot)
{
    int target = r->slot_target[slot];
    pol_ctx_t x = pol_ctx(rag, r, slot);
    for (size_t i = 0; i < rag->npols[target]; i++) {
        const pol_inst_t *p = &rag->pols[target][i];
        if (!p->type->admit) continue;
        pol_verdict_t v = p->type->admit(p->state, p->spec, &x);
        if (v == POL_HIT) {
            retry_end(rag, r, slot);
            slot_done(rag, r, slot, target, CALL_OK, 0);
            return;
        }
        if (v == POL_REJECT) {
            /* fail fast: a local decision, not retried. The policies that
             * admitted the attempt before (the breaker in front of a
             * bulkhead) see it fail as rejected, as a Resilience4j decorator
             * sees the inner one's exception; a half-open breaker's probe
             * is not left without an outcome. */
            x.status = CALL_REJECTED;
            x.latency = 0;
            x.inflight_at_issue = x.inflight + 1;
            for (size_t j = 0; j < i; j++) {
                const pol_inst_t *q = &rag->pols[target][j];
                if (q->type->admit && q->type->done) q->type->done(q->state, q->spec, &x);
            }
            retry_end(rag, r, slot);
            rag->policy_rejects[target]++;
            slot_done(rag, r, slot, target, CALL_REJECTED, 0);
            return;
        }
    }
    r->attempt[slot]++;
    issue_call(rag, r, slot, target);
}

/* Start a slot's edge: its first attempt. */
static void edge_call(rag_t *rag, rag_req_t *r, int slot, int target)
{
    r->slot_target[slot] = (int8_t)target;
    r->attempt[slot] = 0;
    r->pol_note[slot] = 0;
    r->prev_delay[slot] = 0;
    r->first_sent[slot] = sim_now(rag->sim);
    edge_attempt(rag, r, slot);
}

/* A retry proposed by the edge's retry policy: every policy may veto it
 * (budgets, throttling); if none does, each is told it is taken. */
static bool retry_allowed(rag_t *rag, int target, const pol_ctx_t *x)
{
    for (size_t i = 0; i < rag->npols[target]; i++) {
        const pol_inst_t *p = &rag->pols[target][i];
        if (p->type->allow_retry && !p->type->allow_retry(p->state, p->spec, x)) return false;
    }
    for (size_t i = 0; i < rag->npols[target]; i++) {
        const pol_inst_t *p = &rag->pols[target][i];
        if (p->type->retry_scheduled) p->type->retry_scheduled(p->state, p->spec, x);
    }
    return true;
}

static void on_call_done(sim_t *sim, call_t *c, call_status_t st)
{
    rag_req_t *r = c->owner;
    const rag_edge_t *e = c->edge;
    rag_t *rag = e->rag;
    int target = e->target;
    int slot = (int)c->tag;
    r->calls[slot] = NULL;
    rag->inflight[target]--;
    retry_end(rag, r, slot);
    pol_ctx_t x = pol_ctx(rag, r, slot);
    x.attempt = r->attempt[slot] - 1;
    x.status = st;
    x.latency = sim_now(sim) - c->sent;
    x.flags = c->flags;
    for (size_t i = 0; i < rag->npols[target]; i++) {
        const pol_inst_t *p = &rag->pols[target][i];
        if (p->type->done) p->type->done(p->state, p->spec, &x);
    }
    if (st != CALL_OK) {
        for (size_t i = 0; i < rag->npols[target]; i++) {
            const pol_inst_t *p = &rag->pols[target][i];
            if (p->type->retry && p->type->retry(p->state, p->spec, &x)) {
                if (!retry_allowed(rag, target, &x)) {
                    rag->retry_vetoes[target]++;
                    break;
                }
                rag->retries[target]++;
                r->prev_delay[slot] = x.retry_delay;
                r->retry_live |= (uint16_t)(1u << slot);
                rag->retries_inflight[target]++;
                r->retry_timer[slot] = sim_schedule_in(sim, x.retry_delay, retry_event, r, (uint64_t)slot);
                return;
            }
        }
    }
    slot_done(rag, r, slot, target, st, c->flags);
}

static int stage_slot(int target) { return target >= RAG_FIRST_DEP ? 3 : target; }

static void finish_step(rag_t *rag, rag_req_t *r)
{
    if (r->flags & RQ_FAILED) {
        /* a required call failed: the gateway answers with an error */
        req_outcome(rag, r, RAG_ERROR, r->reason);
        req_release(rag, r);
        return;
    }
    r->step++;
    run_step(rag, r);
}

/* Stop every call and retry of the request's current step. */
static void abandon_calls(rag_t *rag, rag_req_t *r, bool cancel)
{
    for (int i = 0; i < RAG_MAX_GROUP; i++) {
        sim_cancel(rag->sim, &r->retry_timer[i]);
        retry_end(rag, r, i);
        call_t *c = r->calls[i];
        if (!c) continue;
        r->calls[i] = NULL;
        rag->inflight[r->slot_target[i]]--;
        call_abandon(rag->sim, c);
        const rag_edge_t *e = c->edge;
        if (cancel && rag->ops[e->target]->cancel) rag->ops[e->target]->cancel(rag->comp[e->target], c);
    }
}

/* The request is answered before its pipeline ends (a refusal, a cached
 * answer): the rest of the step is abandoned. */
static void finish_early(rag_t *rag, rag_req_t *r, int reason)
{
    r->flags |= RQ_FINISHED | RQ_DEGRADED;
    abandon_calls(rag, r, true);
    req_outcome(rag, r, RAG_DEGRADED, reason);
    req_release(rag, r);
}

/* The edge's final outcome for the slot (after retries): statistics, the
 * fallback, the step's bookkeeping. */
static void slot_done(rag_t *rag, rag_req_t *r, int slot, int target, call_status_t st, uint32_t flags)
{
    const rag_spec_t *spec = rag->spec;
    sim_time_t lat = sim_now(rag->sim) - r->first_sent[slot];
    rag_stage_t *sg = &rag->stage[target];
    sg->calls++;
    sim_hist_add2(&sg->all, &sg->win, lat);
    int ss = stage_slot(target);
    r->stage_s[ss] = (r->stage_s[ss] < 0 ? 0 : r->stage_s[ss]) + (float)sim_time_to_s(lat);
    if (st != CALL_OK) sg->failed++;

    /* the slot of a retrieve step, whichever component now serves it (the
     * vector DB, the keyword channel, a backup index) */
    bool retrieval = spec->steps[r->step].target[slot] == RAG_VECTORDB;
    rag_fallback_t fb = st != CALL_OK ? spec->edge[target].fallback : FB_NONE;
    if (fb != FB_NONE) rag->fallbacks[target]++;
    if (fb == FB_CACHED_ANSWER) {
        if (embc_lookup(&rag->answers, r->key, sim_now(rag->sim))) {
            finish_early(rag, r, REASON_CACHED(rag->ncomp));
            return;
        }
        fb = FB_NONE;   /* nothing cached: as without a fallback */
    }
    if (fb == FB_REFUSE) {
        /* degrade, don't hallucinate: answer that it cannot answer now */
        finish_early(rag, r, target * CALL_NSTATUS + (int)st);
        return;
    }
    if (fb == FB_KEYWORD && target == RAG_VECTORDB) {
        /* retrieve through the keyword channel in the same slot */
        r->flags |= RQ_DEGRADED;
        edge_call(rag, r, slot, spec->keyword);
        return;
    }
    if (fb == FB_CALL && target == spec->steps[r->step].target[slot]) {
        /* call the alternative in the same slot; its own failure is final
         * (a fallback's fallback is not followed: no chains, no loops) */
        r->flags |= RQ_DEGRADED;
        edge_call(rag, r, slot, spec->edge[target].fallback_target);
        return;
    }
    if (retrieval) {
        rag->retrievals++;
        rag->win_retrievals++;
        if (st != CALL_OK) {
            /* naive: no breaker between retrieval and generation; go on empty */
            r->flags |= RQ_EMPTY;
            rag->retrievals_empty++;
            rag->win_empty++;
        } else if (flags & CALL_F_IRRELEVANT) {
            r->flags |= RQ_IRRELEVANT;
        } else if (target == spec->keyword && sim_rng_uniform(rag->rng_keyword) >= spec->keyword_relevance) {
            r->flags |= RQ_IRRELEVANT;   /* BM25 found chunks, not the right ones */
        }
    } else if (st != CALL_OK) {
        if (fb == FB_KEYWORD && target == RAG_EMBEDDER) {
            r->flags |= RQ_DEGRADED | RQ_KEYWORD;   /* no embedding: keyword retrieval later */
        } else if (fb == FB_SKIP) {
            r->flags |= RQ_DEGRADED;                  /* go on without the dependency */
        } else if (!(r->flags & RQ_FAILED)) {
            r->flags |= RQ_FAILED;
            r->reason = target * CALL_NSTATUS + (int)st;
        }
    } else if (target == RAG_EMBEDDER) {
        gw_cache_insert(&rag->gw, r->replica, r->key);
    }
    if (--r->pending == 0) finish_step(rag, r);
}

/* Where a request falls in [0, 1) for the call to `target`: SplitMix64 of
 * the 64 random bits it drew at arrival (stream workload/call_share) and
 * the target, so the same requests (and their resubmissions) make the call
 * in every variant, and different share edges are independent. */
static double call_share(uint64_t bits, int target)
{
    return (double)(sim_rng_sm64(bits ^ (0x9E3779B97F4A7C15ull * (uint64_t)(target + 1))) >> 11) * 0x1.0p-53;
}

/* ---- async edges: fire and forget, optionally batched ---------------------------- */

static void on_async_done(sim_t *sim, call_t *c, call_status_t st)
{
    rag_async_t *a = c->owner;
    const rag_edge_t *e = c->edge;
    rag_t *rag = e->rag;
    int target = e->target;
    rag->inflight[target]--;
    pol_ctx_t x = {.sim = sim, .now = sim_now(sim), .deadline = SIM_TIME_MAX, .status = st,
                   .latency = sim_now(sim) - c->sent, .flags = c->flags, .inflight = rag->inflight[target],
                   .retries_inflight = rag->retries_inflight[target], .inflight_at_issue = (int64_t)c->caller_u};
    int64_t note = 0;
    x.note = &note;
    for (size_t i = 0; i < rag->npols[target]; i++) {
        const pol_inst_t *p = &rag->pols[target][i];
        if (p->type->done) p->type->done(p->state, p->spec, &x);
    }
    rag_stage_t *sg = &rag->stage[target];
    sg->calls++;
    sim_hist_add2(&sg->all, &sg->win, x.latency);
    if (st != CALL_OK) {
        sg->failed++;
        a->failed += c->tag;
    }
}

/* Send the waiting items of an async edge as one call (one per item
 * without batching); the edge's policies may refuse it (an open breaker:
 * the items are dropped, counted). */
static void async_flush(rag_t *rag, int target)
{
    rag_async_t *a = &rag->async[target];
    sim_t *sim = rag->sim;
    sim_cancel(sim, &a->timer);
    int64_t n = a->items;
    a->items = 0;
    if (n == 0) return;
    int64_t note = 0;
    pol_ctx_t x = {.sim = sim, .now = sim_now(sim), .deadline = SIM_TIME_MAX, .inflight = rag->inflight[target],
                   .retries_inflight = rag->retries_inflight[target], .note = &note};
    for (size_t i = 0; i < rag->npols[target]; i++) {
        const pol_inst_t *p = &rag->pols[target][i];
        if (!p->type->admit) continue;
        pol_verdict_t v = p->type->admit(p->state, p->spec, &x);
        if (v == POL_PASS) continue;
        if (v == POL_REJECT) {
            x.status = CALL_REJECTED;
            x.inflight_at_issue = x.inflight + 1;
            for (size_t j = 0; j < i; j++) {
                const pol_inst_t *q = &rag->pols[target][j];
                if (q->type->admit && q->type->done) q->type->done(q->state, q->spec, &x);
            }
            rag->policy_rejects[target]++;
            a->dropped += (uint64_t)n;
        }
        return;   /* refused, or answered from a cache: nothing to send */
    }
    call_t *c = call_new(&rag->calls, a, on_async_done, (uint64_t)n, sim_now(sim));
    if (!c) {
        sim->error = SIM_ENOMEM;
        sim_stop(sim);
        return;
    }
    c->edge = &rag->edge[target];
    c->caller_u = (uint64_t)++rag->inflight[target];
    a->batches++;
    if (rag->spec->edge[target].timeout > 0) call_set_timeout_list(sim, c, &rag->edge[target].timeouts);
    rag->ops[target]->submit(rag->comp[target], c);
}

static void async_window_event(sim_t *sim, void *obj, uint64_t arg)
{
    (void)sim;
    rag_t *rag = obj;
    rag->async[arg].timer = (sim_timer_t){0, 0};
    async_flush(rag, (int)arg);
}

static void async_item(rag_t *rag, int target)
{
    const rag_edge_spec_t *es = &rag->spec->edge[target];
    rag_async_t *a = &rag->async[target];
    a->items_total++;
    if (a->items++ == 0 && es->batch_window > 0)
        a->timer = sim_schedule_in(rag->sim, es->batch_window, async_window_event, rag, (uint64_t)target);
    if (es->batch_window == 0 || a->items >= es->batch_max) async_flush(rag, target);
}

static void run_step(rag_t *rag, rag_req_t *r)
{
    const rag_spec_t *spec = rag->spec;
    if (r->step >= spec->nsteps) {
        r->phase = PH_POST;
        gw_request_cpu(&rag->gw, r->replica, &r->job.job, false);
        return;
    }
    const rag_step_t *st = &spec->steps[r->step];
    for (int i = 0; i < st->ncalls; i++) {
        if (st->target[i] == RAG_LLM) {
            int64_t chunks = (r->flags & RQ_EMPTY) ? 0 : spec->top_k * spec->chunk_tokens;
            r->prompt_tokens = (int64_t)llround((double)(r->qtok + chunks) * rag->pollution);
            rag->llm_calls++;
            rag->win_llm_calls++;
            rag->prompt_tokens_sum += (double)r->prompt_tokens;
            rag->win_prompt_tokens += (double)r->prompt_tokens;
        }
    }
    r->pending = (int16_t)st->ncalls;
    /* a completion inside the calls (a synchronous rejection, a cache hit)
     * must not finish the step before every call is issued: hold one extra
     * count */
    r->pending++;
    for (int i = 0; i < st->ncalls && !(r->flags & RQ_FINISHED); i++) {
        int target = st->target[i];
        if (target == RAG_EMBEDDER && gw_cache_lookup(&rag->gw, r->replica, r->key)) {
            r->pending--;   /* the gateway's embedding cache: no call */
            r->stage_s[0] = 0;
            continue;
        }
        if (target == RAG_VECTORDB && (r->flags & RQ_KEYWORD)) target = spec->keyword;
        if (spec->edge[target].share < 1 && call_share(r->share_bits, target) >= spec->edge[target].share) {
            r->pending--;   /* this request does not need the call (e.g. no risk check) */
            continue;
        }
        if (spec->edge[target].async) {
            r->pending--;   /* fire and forget: the request goes on */
            async_item(rag, target);
            continue;
        }
        edge_call(rag, r, i, target);
    }
    if (r->flags & RQ_FINISHED) return;   /* answered early: released */
    if (--r->pending == 0) finish_step(rag, r);
}

/* ---- faults -------------------------------------------------------------------- */

static void apply_fault(rag_t *rag, const rag_fault_t *f, bool start)
{
    sim_t *sim = rag->sim;
    int t = f->target;
    const comp_ops_t *ops = t >= 0 ? rag->ops[t] : NULL;
    void *comp = t >= 0 ? rag->comp[t] : NULL;
    char detail[160] = "";
    switch (f->kind) {
    case FAULT_SLOWDOWN:
        snprintf(detail, sizeof detail, "latency x %g", f->factor);
        if (t == RAG_GATEWAY) rag->gw.speed = start ? 1 / f->factor : 1;
        else if (ops->set_speed) ops->set_speed(comp, start ? 1 / f->factor : 1);
        break;
    case FAULT_CPU_THROTTLE:
        snprintf(detail, sizeof detail, "capacity x %g", f->factor);
        if (t == RAG_GATEWAY) rag->gw.speed = start ? f->factor : 1;
        else if (ops->set_speed) ops->set_speed(comp, start ? f->factor : 1);
        break;
    case FAULT_ERRORS:
        snprintf(detail, sizeof detail, "%g of calls fail", f->ratio);
        if (t >= 0 && ops->set_error_ratio) ops->set_error_ratio(comp, start ? f->ratio : 0);
        break;
    case FAULT_PACKET_LOSS:
        snprintf(detail, sizeof detail, "%g packet loss on gateway -> %s (rto %g s, %lld retransmissions)", f->ratio,
                 f->target_name, sim_time_to_s(f->rto), (long long)f->max_retransmits);
        rag->loss[t] = start ? f->ratio : 0;
        rag->loss_rto[t] = f->rto;
        rag->loss_max[t] = f->max_retransmits;
        break;
    case FAULT_KILL:
        if (f->replica >= 0) snprintf(detail, sizeof detail, "replica %d killed", f->replica);
        else snprintf(detail, sizeof detail, "all replicas killed");
        break;
    case FAULT_METADATA_POLLUTION:
        snprintf(detail, sizeof detail, "prompt tokens x %g", f->factor);
        rag->pollution = start ? f->factor : 1;
        break;
    case FAULT_CHUNKING_MISMATCH:
        snprintf(detail, sizeof detail, "%g of retrievals return unrelated chunks", f->ratio);
        vdb_set_irrelevant_ratio(rag->comp[RAG_VECTORDB], start ? f->ratio : 0);
        break;
    case FAULT_PARTITION:
        /* etcd heals by itself at the end (etcd_partition schedules it) */
        snprintf(detail, sizeof detail, "gateway clients cut off etcd for %g s", sim_time_to_s(f->dur));
        break;
    default:
        break;
    }
    char kind[48];
    snprintf(kind, sizeof kind, "fault_%s", start ? "start" : "end");
    char full[200];
    snprintf(full, sizeof full, "%s: %s", fault_names[f->kind], detail);
    sim_log_event(sim, kind, f->target_name, f->kind == FAULT_KILL ? f->replica : (double)f->kind, full);
    if (f->kind == FAULT_PARTITION && start) etcd_partition(rag->gw.etcd, f->dur);
    if (f->kind == FAULT_KILL && start) {
        if (t == RAG_GATEWAY) {
            for (int64_t i = 0; i < rag->spec->gw.replicas; i++)
                if (f->replica < 0 || f->replica == i) gw_crash(&rag->gw, (int)i, "replica_killed", "killed by a fault");
        } else if (ops->kill) {
            ops->kill(comp, f->replica);
        }
    }
}

static void fault_event(sim_t *sim, void *obj, uint64_t arg)
{
    (void)sim;
    rag_t *rag = obj;
    size_t i = (size_t)(arg >> 1);
    apply_fault(rag, &rag->spec->faults[i], (arg & 1) == 0);
}

/* ---- metrics ------------------------------------------------------------------- */

static void sampler(sim_t *sim, void *ctx, sim_time_t dt)
{
    rag_t *rag = ctx;
    double secs = sim_time_to_s(dt);
    uint64_t ended = 0;
    for (int o = 0; o < RAG_NOUTCOMES; o++) {
        sim_series_set(sim, rag->col_rps[o], (double)rag->win_outcome[o] / secs);
        ended += rag->win_outcome[o];
    }
    double ok = (double)(rag->win_outcome[RAG_OK_SUCCESS] + rag->win_outcome[RAG_DEGRADED]);
    sim_series_set(sim, rag->col_ratio, ended ? ok / (double)ended : NAN);
    sim_series_set(sim, rag->col_inflight, (double)rag->in_flight);
    sim_series_set(sim, rag->col_p50, sim_hist_quantile(&rag->win_latency, 0.50) * 1e-9);
    sim_series_set(sim, rag->col_p95, sim_hist_quantile(&rag->win_latency, 0.95) * 1e-9);
    sim_series_set(sim, rag->col_p99, sim_hist_quantile(&rag->win_latency, 0.99) * 1e-9);
    sim_series_set(sim, rag->col_empty,
                   rag->win_retrievals ? (double)rag->win_empty / (double)rag->win_retrievals : NAN);
    sim_series_set(sim, rag->col_ungrounded,
                   rag->win_answers ? (double)rag->win_ungrounded / (double)rag->win_answers : NAN);
    sim_series_set(sim, rag->col_tokens,
                   rag->win_llm_calls ? rag->win_prompt_tokens / (double)rag->win_llm_calls : NAN);
    sim_time_t now = sim_now(sim);
    double busy = 0;
    for (int64_t i = 0; i < rag->spec->gw.replicas; i++)
        busy += sim_tavg_mean(&rag->gw.rep[i].cpu.win_busy, now) / (double)rag->spec->gw.cores;
    sim_series_set(sim, rag->col_gw_cpu, busy / (double)rag->spec->gw.replicas);
    sim_series_set(sim, rag->col_gw_up, (double)rag->gw.lb.nup);
    for (int k = 0; k < rag->ncomp; k++) {
        if (rag->col_stage[k] < 0) continue;
        sim_series_set(sim, rag->col_stage[k], sim_hist_quantile(&rag->stage[k].win, 0.95) * 1e-9);
        sim_hist_reset(&rag->stage[k].win);
    }
    memset(rag->win_outcome, 0, sizeof rag->win_outcome);
    rag->win_ungrounded = rag->win_answers = rag->win_retrievals = rag->win_empty = 0;
    rag->win_prompt_tokens = 0;
    rag->win_llm_calls = 0;
    sim_hist_reset(&rag->win_latency);
}

static void warmup(sim_t *sim, void *ctx)
{
    rag_t *rag = ctx;
    rag->warmup_end = sim_now(sim);
    rag->arrivals = rag->ungrounded = rag->retrievals = rag->retrievals_empty = rag->llm_calls = 0;
    rag->client_retries = 0;
    memset(rag->outcome, 0, sizeof rag->outcome);
    memset(rag->reason, 0, (size_t)NREASONS(rag->ncomp) * sizeof *rag->reason);
    memset(rag->retries, 0, sizeof rag->retries);
    memset(rag->fallbacks, 0, sizeof rag->fallbacks);
    memset(rag->policy_rejects, 0, sizeof rag->policy_rejects);
    sim_tmean_reset(&rag->latency_s);
    sim_hist_reset(&rag->latency);
    rag->prompt_tokens_sum = 0;
    for (int k = 0; k < rag->ncomp; k++) {
        sim_hist_reset(&rag->stage[k].all);
        rag->stage[k].calls = rag->stage[k].failed = 0;
    }
}

static int add_col(sim_t *sim, int *col, const char *name, const char *unit, const char *help)
{
    *col = sim_series_add(sim, name, unit, help);
    return *col < 0 ? SIM_ENOMEM : 0;
}

static int setup_metrics(rag_t *rag)
{
    sim_t *sim = rag->sim;
    int rc = 0;
    char name[160];
    for (int o = 0; o < RAG_NOUTCOMES; o++) {
        snprintf(name, sizeof name, "requests_per_second{outcome=%s}", rag_outcome_name((rag_outcome_t)o));
        rc |= add_col(sim, &rag->col_rps[o], name, "1/s", "requests that ended with this outcome in the interval / interval");
    }
    rc |= add_col(sim, &rag->col_ratio, "success_ratio", "1", "(success + degraded) / requests ended in the interval");
    rc |= add_col(sim, &rag->col_inflight, "requests_in_flight", "1", "requests held by the gateway, including those whose client gave up");
    rc |= add_col(sim, &rag->col_p50, "latency_p50_seconds", "s", "median latency of requests answered in the interval");
    rc |= add_col(sim, &rag->col_p95, "latency_p95_seconds", "s", "p95 latency of requests answered in the interval");
    rc |= add_col(sim, &rag->col_p99, "latency_p99_seconds", "s", "p99 latency of requests answered in the interval");
    rc |= add_col(sim, &rag->col_empty, "retrieval_empty_ratio", "1", "retrievals that returned no chunks (failed, timed out, no replica) / retrievals in the interval");
    rc |= add_col(sim, &rag->col_ungrounded, "ungrounded_ratio", "1", "answers built on empty or unrelated chunks / answers in the interval");
    rc |= add_col(sim, &rag->col_tokens, "llm_input_token_count", "1", "mean prompt tokens of the LLM calls issued in the interval");
    rc |= add_col(sim, &rag->col_gw_cpu, "gateway_cpu_utilization_ratio", "1", "busy cores / cores, mean over gateway replicas, over the interval");
    rc |= add_col(sim, &rag->col_gw_up, "replicas_up{component=gateway}", "1", "gateway replicas up");
    for (int k = 0; k < rag->ncomp; k++) {
        rag->col_stage[k] = -1;
        if (!rag->spec->uses[k]) continue;
        const char *help = "p95 of the caller-side latency (issue to result or timeout) of calls that ended in the interval";
        if (k == RAG_EMBEDDER) snprintf(name, sizeof name, "embed_latency_p95_seconds");
        else if (k == RAG_VECTORDB) snprintf(name, sizeof name, "rag_retrieval_latency_p95_seconds");
        else if (k == RAG_LLM) snprintf(name, sizeof name, "llm_latency_p95_seconds");
        else snprintf(name, sizeof name, "dependency_latency_p95_seconds{dependency=%s}", rag->spec->comp_name[k]);
        rc |= add_col(sim, &rag->col_stage[k], name, "s", help);
    }
    return rc ? SIM_ENOMEM : 0;
}

static int setup_requests_table(rag_t *rag)
{
    sim_table_t *t = &rag->requests;
    sim_table_init(t, "requests");
    t->max_rows = 1000000;
    int rc = 0;
    rc |= sim_table_col_i64(t, "id", "1") < 0;
    rc |= sim_table_col_f64(t, "arrival", "s") < 0;
    rc |= sim_table_col_f64(t, "end", "s") < 0;
    rc |= sim_table_col_f64(t, "released", "s") < 0;
    rc |= sim_table_col_str(t, "outcome", 16) < 0;
    rc |= sim_table_col_str(t, "reason", 64) < 0;
    rc |= sim_table_col_i64(t, "grounded", "1") < 0;
    rc |= sim_table_col_f64(t, "embed_s", "s") < 0;
    rc |= sim_table_col_f64(t, "retrieve_s", "s") < 0;
    rc |= sim_table_col_f64(t, "generate_s", "s") < 0;
    rc |= sim_table_col_f64(t, "dependencies_s", "s") < 0;
    rc |= sim_table_col_i64(t, "query_tokens", "1") < 0;
    rc |= sim_table_col_i64(t, "output_tokens", "1") < 0;
    rc |= sim_table_col_i64(t, "prompt_tokens", "1") < 0;
    rc |= sim_table_col_i64(t, "gateway_replica", "1") < 0;
    rc |= sim_table_col_i64(t, "query_key", "1") < 0;
    return rc ? SIM_ENOMEM : 0;
}

/* ---- create / destroy ------------------------------------------------------------ */

rag_t *rag_create(sim_t *sim, const rag_spec_t *spec)
{
    rag_t *rag = calloc(1, sizeof *rag);
    if (!rag) return NULL;
    rag->sim = sim;
    rag->spec = spec;
    rag->pollution = 1;
    rag->ncomp = RAG_FIRST_DEP + (int)spec->ndeps;
    for (int k = 0; k < rag->ncomp; k++) {
        rag->edge[k] = (rag_edge_t){.rag = rag, .target = k};
        if (spec->edge[k].timeout > 0)
            sim_tlist_init(&rag->edge[k].timeouts, spec->edge[k].timeout, call_tlist_fire, NULL);
    }
    call_pool_init(&rag->calls);
    if (sim_dist_variance(&spec->deadline) == 0 && sim_dist_mean(&spec->deadline) > 0)
        sim_tlist_init(&rag->deadlines, sim_time_from_s(sim_dist_mean(&spec->deadline)), deadline_fire, rag);
    sim_tmean_reset(&rag->latency_s);
    if (sim_hist_init(&rag->latency) || sim_hist_init(&rag->win_latency)) goto fail;
    rag->reason = calloc((size_t)NREASONS(rag->ncomp), sizeof *rag->reason);
    rag->stage = calloc((size_t)rag->ncomp, sizeof *rag->stage);
    rag->col_stage = calloc((size_t)rag->ncomp, sizeof *rag->col_stage);
    if (!rag->reason || !rag->stage || !rag->col_stage) goto fail;
    for (int k = 0; k < rag->ncomp; k++)
        if (sim_hist_init(&rag->stage[k].all) || sim_hist_init(&rag->stage[k].win)) goto fail;
    rag->rng_key = sim_stream(sim, "workload/query_key");
    rag->rng_qtok = sim_stream(sim, "workload/query_tokens");
    rag->rng_otok = sim_stream(sim, "workload/output_tokens");
    rag->rng_deadline = sim_stream(sim, "workload/deadline");
    rag->rng_leak = sim_stream(sim, "workload/leak");
    rag->rng_retry = sim_stream(sim, "policies/retry");
    rag->rng_keyword = sim_stream(sim, "keyword_search/relevance");
    if (!rag->rng_retry || !rag->rng_keyword) goto fail;
    if (embc_init(&rag->answers, &spec->answer_cache, 0, NULL, NULL)) goto fail;
    rag->answers_ok = true;
    for (int k = 0; k < rag->ncomp; k++)
        if (pol_insts_init(&rag->pols[k], spec->edge[k].pols, spec->edge[k].npols, sim, spec->comp_name[k]))
            goto fail;
        else
            rag->npols[k] = spec->edge[k].npols;
    rag->rng_loss = sim_stream(sim, "faults/packet_loss");
    rag->rng_client_retry = sim_stream(sim, "workload/client_retry");
    rag->rng_share = sim_stream(sim, "workload/call_share");
    if (!rag->rng_client_retry || !rag->rng_share) goto fail;
    if (!rag->rng_key || !rag->rng_qtok || !rag->rng_otok || !rag->rng_deadline || !rag->rng_leak || !rag->rng_loss)
        goto fail;
    if (setup_metrics(rag) || setup_requests_table(rag)) goto fail;
    if (sim_add_sampler(sim, sampler, rag) || sim_add_warmup_hook(sim, warmup, rag)) goto fail;
    rag->sample_threshold = spec->request_sample >= 1 ? UINT64_MAX
                                                      : (uint64_t)(spec->request_sample * 18446744073709551615.0);

    /* gateway */
    rag->held = calloc((size_t)spec->gw.replicas, sizeof *rag->held);
    if (!rag->held) goto fail;
    rag->gw_ok = gw_init(&rag->gw, sim, &spec->gw, (gw_hooks_t){fail_all, on_request_cpu_done, rag}) == 0;
    if (!rag->gw_ok) goto fail;

    /* components (created even when unused, so that faults can name them) */
    rag->ops[RAG_EMBEDDER] = &embedder_ops;
    rag->ops[RAG_VECTORDB] = &vdb_ops;
    rag->ops[RAG_LLM] = &llm_ops;
    if (!(rag->comp[RAG_EMBEDDER] = embedder_create(sim, &spec->emb))) goto fail;
    if (!(rag->comp[RAG_VECTORDB] = vdb_create(sim, &spec->vdb))) goto fail;
    if (!(rag->comp[RAG_LLM] = llm_create(sim, &spec->llm))) goto fail;
    for (size_t i = 0; i < spec->ndeps; i++) {
        rag->ops[RAG_FIRST_DEP + i] = &dep_ops;
        if (!(rag->comp[RAG_FIRST_DEP + i] = dep_create(sim, &spec->deps[i]))) goto fail;
    }

    /* configuration changes */
    if (spec->nchanges) {
        rag->rolls = calloc(spec->nchanges, sizeof *rag->rolls);
        if (!rag->rolls) goto fail;
        for (size_t i = 0; i < spec->nchanges; i++) {
            int k = spec->changes[i].target_index;
            if (roll_init(&rag->rolls[i], sim, &spec->changes[i], rag->ops[k]->replicas(rag->comp[k]))) goto fail;
        }
    }

    /* faults */
    for (size_t i = 0; i < spec->nfaults; i++) {
        const rag_fault_t *f = &spec->faults[i];
        sim_schedule_at(sim, f->at, fault_event, rag, (uint64_t)i << 1);
        if (f->dur > 0) sim_schedule_at(sim, f->at + f->dur, fault_event, rag, ((uint64_t)i << 1) | 1);
    }
    if (wl_gen_start(&rag->gen, sim, &spec->workload, "workload/arrivals", on_arrival, rag)) goto fail;
    if (sim_error(sim)) goto fail;
    return rag;
fail:
    rag_destroy(rag);
    return NULL;
}

void rag_destroy(rag_t *rag)
{
    if (!rag) return;
    const rag_spec_t *spec = rag->spec;
    embedder_destroy(rag->comp[RAG_EMBEDDER]);
    vdb_destroy(rag->comp[RAG_VECTORDB]);
    llm_destroy(rag->comp[RAG_LLM]);
    for (size_t i = 0; i < spec->ndeps; i++) dep_destroy(rag->comp[RAG_FIRST_DEP + i]);
    if (rag->held) gw_fini(&rag->gw);
    free(rag->held);
    for (size_t i = 0; i < rag->nslabs; i++) free(rag->slabs[i]);
    free(rag->slabs);
    call_pool_fini(&rag->calls);
    if (rag->stage)
        for (int k = 0; k < rag->ncomp; k++) {
            sim_hist_fini(&rag->stage[k].all);
            sim_hist_fini(&rag->stage[k].win);
        }
    free(rag->stage);
    free(rag->col_stage);
    free(rag->reason);
    sim_hist_fini(&rag->latency);
    sim_hist_fini(&rag->win_latency);
    sim_table_fini(&rag->requests);
    for (int k = 0; k < RAG_MAX_COMP; k++) pol_insts_fini(rag->pols[k], rag->npols[k]);
    if (rag->answers_ok) embc_fini(&rag->answers);
    if (rag->rolls)
        for (size_t i = 0; i < spec->nchanges; i++) roll_fini(&rag->rolls[i]);
    free(rag->rolls);
    free(rag);
}

void rag_finish(rag_t *rag)
{
    for (int64_t i = 0; i < rag->spec->gw.replicas; i++) stn_finish(&rag->gw.rep[i].cpu);
    for (size_t i = 0; i < rag->spec->nchanges; i++) roll_finish(&rag->rolls[i]);
}

/* ---- the model table --------------------------------------------------------------- */

static int m_parse(sim_diag_t *d, sim_cfg_node_t *root, const sim_scenario_t *sc, void *spec)
{
    return rag_spec_parse(d, root, sc, spec);
}

static void m_spec_fini(void *spec) { rag_spec_fini(spec); }

static void m_describe(const void *vspec, FILE *out)
{
    const rag_spec_t *s = vspec;
    fprintf(out, "RAG pipeline:");
    for (size_t i = 0; i < s->nsteps; i++) {
        fprintf(out, "%s", i ? " ->" : "");
        for (int m = 0; m < s->steps[i].ncalls; m++)
            fprintf(out, "%s%s", m ? " | " : " ", s->comp_name[s->steps[i].target[m]]);
    }
    fprintf(out, "\n  gateway: %lld replicas x %lld cores, embedding cache %s\n", (long long)s->gw.replicas,
            (long long)s->gw.cores, embc_mode_names[s->gw.cache.mode]);
    if (s->uses[RAG_VECTORDB]) {
        double t = vdb_query_time(&s->vdb, s->top_k);
        double cap = (double)s->vdb.rs.replicas * (double)s->vdb.rs.servers / t;
        fprintf(out, "  vectordb: %lld replicas x %lld threads, mean query %.3g ms -> capacity %.4g queries/s; "
                     "index %.3g GiB, OOM above %lld queries per replica\n",
                (long long)s->vdb.rs.replicas, (long long)s->vdb.rs.servers, t * 1e3, cap,
                (double)vdb_index_bytes(&s->vdb) / (1 << 30), (long long)vdb_max_queries(&s->vdb));
    }
    fprintf(out, "  peak arrival rate %g/s, %zu fault%s\n", wl_max_rate(&s->workload), s->nfaults,
            s->nfaults == 1 ? "" : "s");
}

static void *m_create(sim_t *sim, const void *spec) { return rag_create(sim, spec); }
static void m_finish(void *inst) { rag_finish(inst); }
static void m_destroy(void *inst) { rag_destroy(inst); }

static int m_write(const void *vinst, sim_trace_t *tr, const char *group)
{
    const rag_t *rag = vinst;
    char p[512];
    int rc = 0;
    if (rag->spec->request_sample > 0) {
        snprintf(p, sizeof p, "%s/requests", group);
        rc |= sim_trace_table(tr, p, &rag->requests);
    }
    return rc;
}

static void m_report(const void *vinst, rs_report_t *rep)
{
    const rag_t *rag = vinst;
    const rag_spec_t *spec = rag->spec;
    /* components, caller side */
    for (int k = 0; k < rag->ncomp; k++) {
        if (!spec->uses[k]) continue;
        const rag_stage_t *sg = &rag->stage[k];
        const char *n = spec->comp_name[k];
        rs_report_add(rep, "calls", n, "calls", RS_COUNT, (double)sg->calls);
        rs_report_add(rep, "calls", n, "failed", RS_COUNT, (double)sg->failed);
        rs_report_add(rep, "calls", n, "p50 latency", RS_SECONDS, sim_hist_quantile(&sg->all, 0.50) * 1e-9);
        rs_report_add(rep, "calls", n, "p95 latency", RS_SECONDS, sim_hist_quantile(&sg->all, 0.95) * 1e-9);
        rs_report_add(rep, "calls", n, "p99 latency", RS_SECONDS, sim_hist_quantile(&sg->all, 0.99) * 1e-9);
    }
    /* policies and fallbacks per edge */
    for (int k = 0; k < rag->ncomp; k++) {
        if (!spec->uses[k]) continue;
        const char *n = spec->comp_name[k];
        for (size_t i = 0; i < rag->npols[k]; i++) {
            const pol_inst_t *p = &rag->pols[k][i];
            if (p->type->report) p->type->report(p->state, n, rep);
        }
        if (spec->edge[k].async) {
            char row[96];
            snprintf(row, sizeof row, "%s async", n);
            const rag_async_t *a = &rag->async[k];
            rs_report_add(rep, "policies", row, "items", RS_COUNT, (double)a->items_total);
            rs_report_add(rep, "policies", row, "calls", RS_COUNT, (double)a->batches);
            rs_report_add(rep, "policies", row, "items dropped", RS_COUNT, (double)a->dropped);
            rs_report_add(rep, "policies", row, "items failed", RS_COUNT, (double)a->failed);
        }
        if (spec->edge[k].npols || spec->edge[k].fallback != FB_NONE) {
            char row[96];
            snprintf(row, sizeof row, "%s edge", n);
            rs_report_add(rep, "policies", row, "retries", RS_COUNT, (double)rag->retries[k]);
            rs_report_add(rep, "policies", row, "retries refused", RS_COUNT, (double)rag->retry_vetoes[k]);
            rs_report_add(rep, "policies", row, "rejected", RS_COUNT, (double)rag->policy_rejects[k]);
            rs_report_add(rep, "policies", row, "fallbacks", RS_COUNT, (double)rag->fallbacks[k]);
        }
    }
    /* why requests failed */
    for (int i = 0; i < NREASONS(rag->ncomp); i++) {
        int comp = i / CALL_NSTATUS;
        bool fixed = i >= rag->ncomp * CALL_NSTATUS;
        if (!fixed && (!spec->uses[comp] || comp == RAG_VECTORDB || i % CALL_NSTATUS == CALL_OK)) continue;
        char reason[96];
        format_reason(rag, i, reason, sizeof reason);
        rs_report_add(rep, "failures", reason, "requests", RS_COUNT, (double)rag->reason[i]);
    }
    const vdb_t *v = rag->comp[RAG_VECTORDB];
    uint64_t ended = 0;
    for (int o = 0; o < RAG_NOUTCOMES; o++) ended += rag->outcome[o];
    double answered = (double)(rag->outcome[RAG_OK_SUCCESS] + rag->outcome[RAG_DEGRADED]);
    double span = sim_time_to_s(sim_now(rag->sim) - rag->warmup_end);
    rs_report_add(rep, "summary", "", "arrivals", RS_COUNT, (double)rag->arrivals);
    if (spec->client_retries > 0)   /* arrivals include them: users trying again */
        rs_report_add(rep, "summary", "", "client_retries", RS_COUNT, (double)rag->client_retries);
    for (int o = 0; o < RAG_NOUTCOMES; o++)
        rs_report_add(rep, "summary", "", rag_outcome_name((rag_outcome_t)o), RS_COUNT, (double)rag->outcome[o]);
    rs_report_add(rep, "summary", "", "success_ratio", RS_RATIO, ended ? answered / (double)ended : NAN);
    rs_report_add(rep, "summary", "", "ungrounded_ratio", RS_RATIO, answered > 0 ? (double)rag->ungrounded / answered : NAN);
    rs_report_add(rep, "summary", "", "retrieval_empty_ratio", RS_RATIO,
                  rag->retrievals ? (double)rag->retrievals_empty / (double)rag->retrievals : NAN);
    rs_report_add(rep, "summary", "", "goodput_per_s", RS_RATE, span > 0 ? answered / span : NAN);
    rs_report_add(rep, "summary", "", "latency_mean_s", RS_SECONDS, sim_tmean_s(&rag->latency_s));
    rs_report_add(rep, "summary", "", "latency_p50_s", RS_SECONDS, sim_hist_quantile(&rag->latency, 0.50) * 1e-9);
    rs_report_add(rep, "summary", "", "latency_p95_s", RS_SECONDS, sim_hist_quantile(&rag->latency, 0.95) * 1e-9);
    rs_report_add(rep, "summary", "", "latency_p99_s", RS_SECONDS, sim_hist_quantile(&rag->latency, 0.99) * 1e-9);
    rs_report_add(rep, "summary", "", "retrieval_p95_s", RS_SECONDS,
                  sim_hist_quantile(&rag->stage[RAG_VECTORDB].all, 0.95) * 1e-9);
    rs_report_add(rep, "summary", "", "llm_input_tokens_mean", RS_NUMBER,
                  rag->llm_calls ? rag->prompt_tokens_sum / (double)rag->llm_calls : NAN);
    rs_report_add(rep, "summary", "", "vectordb_oom_kills", RS_COUNT, (double)v->oom_kills);
    if (spec->nchanges) {   /* the blast radius of configuration changes */
        double exposed = 0;
        for (size_t i = 0; i < spec->nchanges; i++) {
            roll_report(&rag->rolls[i], spec->changes[i].target, rep);
            exposed += (double)rag->rolls[i].exposed_calls;
        }
        rs_report_add(rep, "summary", "", "change_exposed_calls", RS_COUNT, exposed);
    }
    if (spec->gw.has_config) {   /* broken config watches, whole run (as config_reloads) */
        const gw_t *g = &rag->gw;
        rs_report_add(rep, "summary", "", "config_watch_breaks", RS_COUNT, (double)g->watch_breaks);
        rs_report_add(rep, "summary", "", "config_watch_relists", RS_COUNT, (double)g->watch_relists);
        rs_report_add(rep, "summary", "", "config_watch_resumes", RS_COUNT, (double)g->watch_resumes);
        rs_report_add(rep, "summary", "", "config_watch_compacted", RS_COUNT, (double)g->watch_compacted);
    }
}

/* The trigger: from the first fault's start (or change) to the last
 * fault's end (or change: a change is an instant trigger). */
static bool m_trigger(const void *vspec, double *start_s, double *end_s)
{
    const rag_spec_t *s = vspec;
    if (s->nfaults == 0 && s->nchanges == 0) return false;
    sim_time_t a = SIM_TIME_MAX, b = 0;
    for (size_t i = 0; i < s->nfaults; i++) {
        if (s->faults[i].at < a) a = s->faults[i].at;
        if (s->faults[i].at + s->faults[i].dur > b) b = s->faults[i].at + s->faults[i].dur;
    }
    for (size_t i = 0; i < s->nchanges; i++) {
        if (s->changes[i].at < a) a = s->changes[i].at;
        if (s->changes[i].at > b) b = s->changes[i].at;
    }
    *start_s = sim_time_to_s(a);
    *end_s = sim_time_to_s(b);
    return true;
}

/* Valid but suspicious: a caller-side timeout or the client's deadline
 * longer than the run never fires, so the run cannot show what it protects
 * against. */
static void m_check(const void *vspec, const sim_scenario_t *sc, sim_cfg_node_t *root, sim_diag_t *d)
{
    const rag_spec_t *spec = vspec;
    double run = sim_time_to_s(sc->duration);
    sim_cfg_node_t *calls = sim_cfg_get(root, "calls");
    for (size_t i = 0; calls && calls->kind == SIM_CFG_MAP && i < calls->n; i++) {
        sim_cfg_node_t *t = calls->vals[i]->kind == SIM_CFG_MAP ? sim_cfg_get(calls->vals[i], "timeout") : NULL;
        sim_time_t v = 0;
        if (t && t->kind == SIM_CFG_SCALAR && sim_parse_duration(t->text, &v, NULL) == 0 && v > sc->duration)
            sim_cfg_warn(d, t, "the timeout of the '%s' call (%g s) is longer than the run (%g s): it never fires",
                         calls->keys[i]->text, sim_time_to_s(v), run);
    }
    double dl = sim_dist_mean(&spec->deadline);
    if (isfinite(dl) && dl > run) {
        sim_cfg_node_t *wl = sim_cfg_get(root, "workload");
        sim_cfg_node_t *at = wl && wl->kind == SIM_CFG_MAP && sim_cfg_get(wl, "deadline") ? sim_cfg_get(wl, "deadline") : root;
        sim_cfg_warn(d, at, "the client's deadline (mean %g s) is longer than the run (%g s): requests rarely time out", dl, run);
    }
}

static void m_usage(const void *vinst, uint64_t *in_flight, uint64_t *bytes)
{
    const rag_t *rag = vinst;
    *in_flight = (uint64_t)rag->in_flight;
    *bytes = (uint64_t)rag->nslabs * REQ_SLAB * sizeof(rag_req_t) + call_pool_bytes(&rag->calls);
}

/* For the comparison's verdicts. */
static const model_direction_t directions[] = {
    {"arrivals", 0}, /* the workload: identical under common random numbers */
    {"rejected", -1},
    {"success_ratio", +1},
    {"latency_mean_s", -1},
    {"latency_p50_s", -1},
    {"latency_p95_s", -1},
    {"latency_p99_s", -1},
    {"success", +1},
    {"degraded", 0}, /* better than a failure, worse than a success: no verdict */
    {"timeout", -1},
    {"error", -1},
    {"ungrounded_ratio", -1},
    {"retrieval_empty_ratio", -1},
    {"goodput_per_s", +1},
    {"retrieval_p95_s", -1},
    {"llm_input_tokens_mean", 0}, /* a cost traded for grounding: judge it by latency and ungrounded_ratio */
    {"vectordb_oom_kills", -1},
    /* the traps' peaks (peaks below) */
    {"gateway_oom_kills", -1},
    {"peak_goroutines", -1},
    {"peak_heap_bytes", -1},
    {"peak_leases", -1},
    {"config_reloads", -1},
    {"change_exposed_calls", -1}, /* the blast radius of a configuration change */
    /* broken config watches: re-lists are the cost; breaks are the
     * network's, resumes and compaction failures the mechanism */
    {"config_watch_relists", -1},
    {"config_watch_breaks", 0},
    {"config_watch_resumes", 0},
    {"config_watch_compacted", 0},
    {NULL, 0},
};

/* Summary metrics the runner takes from the series: the traps' peaks. */
static const model_peak_t peaks[] = {
    {"goroutines", "peak_goroutines", RS_COUNT},
    {"heap_inuse_bytes", "peak_heap_bytes", RS_BYTES},
    {"etcd_leases_in_use", "peak_leases", RS_COUNT},
    {"config_reloads_total", "config_reloads", RS_COUNT},
    {"oom_kills_total{component=gateway}", "gateway_oom_kills", RS_COUNT},
    {NULL, NULL, 0},
};

/* Answered requests are successes and degraded answers. */
static const char *const ok_series[] = {"requests_per_second{outcome=success}",
                                        "requests_per_second{outcome=degraded}", NULL};
static const char *const ended_series[] = {"requests_per_second{outcome=success}",
                                           "requests_per_second{outcome=degraded}",
                                           "requests_per_second{outcome=timeout}",
                                           "requests_per_second{outcome=error}",
                                           "requests_per_second{outcome=rejected}", NULL};
static const model_incident_series_t incident = {ok_series, ended_series, "latency_p95_seconds"};

/* What `ragsim compare` shows by default (model_type_t.key_metrics). */
static const char *const key_metrics[] = {
    "success_ratio", "worst_window_success", "time_below_slo_s", "recovery_time_s", "latency_p95_s",
    "ungrounded_ratio", "vectordb_oom_kills", "gateway_oom_kills", "peak_goroutines", "peak_heap_bytes",
    "config_reloads", "peak_leases", NULL,
};

const model_type_t rag_model = {
    .name = "rag",
    .spec_size = sizeof(rag_spec_t),
    .parse = m_parse,
    .spec_fini = m_spec_fini,
    .check = m_check,
    .describe = m_describe,
    .create = m_create,
    .finish = m_finish,
    .destroy = m_destroy,
    .write = m_write,
    .report = m_report,
    .trigger = m_trigger,
    .usage = m_usage,
    .directions = directions,
    .peaks = peaks,
    .incident = &incident,
    .key_metrics = key_metrics,
};
