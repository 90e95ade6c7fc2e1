/* Parsing the RAG scenario into a rag_spec_t: the workload (demands,
 * client retries), the components and the keyword channel, the pipeline,
 * the call edges (timeouts, policies, fallbacks, async, resilience tiers),
 * the configuration changes and the faults; rag_spec_parse and
 * rag_spec_fini, and the names (outcomes, components). Calls the parsers
 * of the components, the gateway and the policies; nothing here runs. */
#include "models/rag/rag.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "models/queueing/wl_mix.h"
#include "models/rag/rag_internal.h"
#include "sim/error.h"

/* ---- names ------------------------------------------------------------------ */

const char *rag_outcome_name(rag_outcome_t o)
{
    static const char *const n[RAG_NOUTCOMES] = {"success", "degraded", "timeout", "error", "rejected"};
    return (unsigned)o < RAG_NOUTCOMES ? n[o] : "?";
}

int rag_component_index(const rag_spec_t *spec, const char *name)
{
    if (!strcmp(name, "gateway")) return RAG_GATEWAY;
    for (int i = 0; i < RAG_FIRST_DEP + (int)spec->ndeps; i++)
        if (spec->comp_name[i] && !strcmp(spec->comp_name[i], name)) return i;
    return -2;
}

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
    int rc;
    if (rag_classes_own(wl)) {
        /* each class has its own arrivals: the workload mapping has none */
        for (size_t i = 0; i < wl->n; i++)
            for (const char *const *k = (const char *const[]){"rate", "profile", "periodic", "states", "trace", "arrivals", "batch", NULL}; *k; k++)
                if (!strcmp(wl->keys[i]->text, *k))
                    sim_cfg_error(d, wl->keys[i], "the classes have their own arrival processes: '%s' belongs in a class", *k);
        if (wl_spec_constant(&spec->workload, WL_POISSON, 1)) return SIM_ENOMEM;   /* replaced by the classes' */
    } else if ((rc = wl_spec_parse(d, wl, &spec->workload)) == SIM_ENOMEM) {
        return rc;
    }
    if (wl->kind != SIM_CFG_MAP) return SIM_ECONFIG;
    /* The query mix: a share of one-off questions (asked once, never again)
     * and a Zipf head of recurring ones. The defaults give an exact-repeat
     * ratio of about 30% over 10 minutes to an hour at hundreds of requests
     * per second (docs/model-reference.md, "Request demands"): free-text
     * questions repeat far less than a bare Zipf over 100k keys (~85%). */
    int64_t distinct = 1000000;
    double s = 1.0;
    spec->query_unique = 0.5;
    sim_cfg_node_t *q = sim_cfg_get(wl, "queries");
    if (q && sim_cfg_expect_map(d, q, "queries")) {
        sim_cfg_int(d, q, "distinct", 0, 1, (int64_t)1 << 40, distinct, &distinct);
        sim_cfg_double(d, q, "zipf_s", 0, 0.01, 20, s, &s);
        sim_cfg_double(d, q, "unique", 0, 0, 1, spec->query_unique, &spec->query_unique);
    }
    if (sim_dist_zipf(&spec->keys, (size_t)distinct, s)) return SIM_ENOMEM;
    sim_cfg_node_t *n;
    /* token mixes: parametric, or empirical from a trace's column or a histogram */
    if ((n = sim_cfg_get(wl, "query_tokens"))) {
        if (wl_mix_parse(d, n, &spec->query_tokens) == SIM_ENOMEM) return SIM_ENOMEM;
    } else sim_dist_lognormal(&spec->query_tokens, 40, 0.5);
    if ((n = sim_cfg_get(wl, "output_tokens"))) {
        if (wl_mix_parse(d, n, &spec->output_tokens) == SIM_ENOMEM) return SIM_ENOMEM;
    } else sim_dist_lognormal(&spec->output_tokens, 200, 0.6);
    if ((n = sim_cfg_get(wl, "deadline"))) sim_dist_parse(d, n, SIM_DIST_DURATION, &spec->deadline);
    else sim_dist_deterministic(&spec->deadline, 8.0);
    if ((rc = rag_classes_parse(d, wl, spec)) == SIM_ENOMEM) return rc;
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
            /* degraded: an answer the user did not want (a refusal, a cached answer) */
            static const char *const outcomes[] = {"timeout", "error", "rejected", "degraded", NULL};
            static const rag_outcome_t oc[] = {RAG_TIMEOUT, RAG_ERROR, RAG_REJECTED, RAG_DEGRADED};
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
    sim_cfg_int(d, p, "system_prompt_tokens", 0, 0, 1000000, 0, &spec->system_prompt_tokens);
    /* on by default, as in a Go service that passes its request's context
     * down (net/http's Request.Context, gRPC's deadline propagation); the
     * goroutine pile-up trap turns it off */
    sim_cfg_bool(d, p, "context_propagation", 0, true, &spec->context_propagation);
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
    /* defaults: the article's 3 s retrieval timeout, 2 s for the embedder and
     * the dependencies; generation has no timeout of its own: the request's
     * deadline ends it (with context propagation, the default) */
    int ncomp = RAG_FIRST_DEP + (int)spec->ndeps;
    spec->edge[RAG_EMBEDDER].timeout = 2 * SIM_SEC;
    spec->edge[RAG_VECTORDB].timeout = 3 * SIM_SEC;
    spec->edge[RAG_LLM].timeout = 0;
    for (int k = RAG_FIRST_DEP; k < ncomp; k++) spec->edge[k].timeout = 2 * SIM_SEC;
    for (int k = 0; k < ncomp; k++) spec->edge[k].share = 1;
    /* the network: a round trip on every call edge (`network: {rtt: DIST}`),
     * replaced per edge by `calls: {X: {network: DIST}}` */
    sim_cfg_node_t *net = sim_cfg_get(root, "network");
    if (net && sim_cfg_expect_map(d, net, "network")) {
        sim_cfg_node_t *rn = sim_cfg_get(net, "rtt");
        if (!rn) sim_cfg_error(d, net, "missing required key 'rtt' in 'network' (a round-trip time, e.g. {dist: lognormal, mean: 1ms, cv: 0.5})");
        for (int k = 0; rn && k < ncomp; k++) {
            if ((rc = sim_dist_parse(d, rn, SIM_DIST_DURATION, &spec->edge[k].rtt)) == SIM_ENOMEM) return rc;
            if (rc) break;
            spec->edge[k].has_rtt = true;
        }
    }
    sim_cfg_node_t *calls = sim_cfg_get(root, "calls");
    if (!calls) return d->errors == errs ? 0 : SIM_ECONFIG;
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
        sim_cfg_node_t *en = sim_cfg_get(e, "network");
        if (en) {
            sim_dist_fini(&es->rtt);
            es->has_rtt = false;
            if ((rc = sim_dist_parse(d, en, SIM_DIST_DURATION, &es->rtt)) == SIM_ENOMEM) return rc;
            es->has_rtt = rc == 0;
        }
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
                /* degraded (default): the backup's answer is a lesser one
                 * (a backup index, a cheaper model); false: the same answer
                 * from elsewhere (a read replica, a backup provider) */
                bool degraded = true;
                sim_cfg_bool(d, fb, "degraded", 0, true, &degraded);
                es->fallback_full = !degraded;
            } else if (tn) {
                sim_cfg_error(d, tn, "'target' is for fallback 'call' only");
            }
            sim_cfg_node_t *dn = sim_cfg_get(fb, "degraded");
            if (dn && es->fallback != FB_CALL) {
                dn->used = true;
                sim_cfg_error(d, dn, "'degraded' is for fallback 'call' only (the other fallbacks always answer with less)");
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
        const rset_spec_t *rs = k == RAG_VECTORDB ? &spec->vdb.rs : &spec->deps[k - RAG_FIRST_DEP].rs;
        if (rs->hpa.enabled) {
            /* a rollout changes the replicas the scenario starts with (canary: the first k
             * of them); replicas the autoscaler adds or removes would escape it */
            sim_cfg_error(d, tn, "'%s' is autoscaled: a change's rollout applies to a fixed set of replicas, not to "
                                 "those the autoscaler adds or removes; remove '%s%s.autoscale' or the change",
                          c.target, k == RAG_VECTORDB || k == spec->keyword ? "" : "dependencies.", c.target);
            continue;
        }
        if (k == RAG_VECTORDB && spec->vdb.shards > 1) {
            sim_cfg_error(d, tn, "a change of a sharded vector DB (vectordb.shards %lld) is not modelled: "
                                 "changes roll over the replicas of one replica set; use shards: 1",
                          (long long)spec->vdb.shards);
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
        if (sim_cfg_enum(d, m, "kind", SIM_CFG_REQUIRED, rag_fault_names, 0, &kind)) {
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
                sim_cfg_error(d, m, "missing required key 'target' for a %s fault (a component: gateway, embedder, vectordb, llm or a dependency)", rag_fault_names[kind]);
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
    if (d->errors == errs) rag_classes_levels(d, sim_cfg_get(root, "workload"), spec);
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
    rag_classes_fini(spec);
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
    for (int k = 0; k < RAG_MAX_COMP; k++) {
        pol_specs_fini(spec->edge[k].pols, spec->edge[k].npols);
        sim_dist_fini(&spec->edge[k].rtt);
    }
    free(spec->deps);
    free(spec->faults);
    free(spec->changes);
    for (int t = 0; t < 4; t++) sim_cfg_destroy(spec->tier_cfg[t]);
    memset(spec, 0, sizeof *spec);
}
