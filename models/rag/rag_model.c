/* The RAG model's instance and type table: rag_create wires the
 * gateway, the components, the policies, the configuration changes, the
 * faults, the metrics and the workload together; rag_destroy and
 * rag_finish; and rag_model (models/model.h): parse, check, describe,
 * write, report, trigger, usage, and the tables of metric directions,
 * peaks, incident series and key metrics. May call every file of the
 * module through rag_internal.h. */
#include "models/rag/rag.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "models/model.h"
#include "models/policies/retry.h"
#include "models/rag/capacity.h"
#include "models/rag/rag_internal.h"
#include "sim/units.h"

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
        sim_tlist_init(&rag->deadlines, sim_time_from_s(sim_dist_mean(&spec->deadline)), rag_deadline_fire, rag);
    sim_tmean_reset(&rag->latency_s);
    if (sim_hist_init(&rag->latency) || sim_hist_init(&rag->win_latency)) goto fail;
    rag->reason = calloc((size_t)NREASONS(rag->ncomp), sizeof *rag->reason);
    rag->stage = calloc((size_t)rag->ncomp, sizeof *rag->stage);
    rag->col_stage = calloc((size_t)rag->ncomp, sizeof *rag->col_stage);
    if (!rag->reason || !rag->stage || !rag->col_stage) goto fail;
    for (int k = 0; k < rag->ncomp; k++)
        if (sim_hist_init(&rag->stage[k].all) || sim_hist_init(&rag->stage[k].win)) goto fail;
    rag->rng_key = sim_stream(sim, "workload/query_key");
    rag->rng_unique = sim_stream(sim, "workload/query_unique");
    rag->rng_qtok = sim_stream(sim, "workload/query_tokens");
    rag->rng_otok = sim_stream(sim, "workload/output_tokens");
    rag->rng_deadline = sim_stream(sim, "workload/deadline");
    rag->rng_leak = sim_stream(sim, "workload/leak");
    rag->rng_retry = sim_stream(sim, "policies/retry");
    rag->rng_keyword = sim_stream(sim, "keyword_search/relevance");
    if (!rag->rng_retry || !rag->rng_keyword) goto fail;
    if (embc_init(&rag->answers, &spec->answer_cache, 0, NULL, NULL)) goto fail;
    rag->answers_ok = true;
    rag->npods = (int)spec->gw.slots;   /* every gateway pod that may exist (autoscaling) */
    rag->inflight = calloc((size_t)rag->ncomp * (size_t)rag->npods, sizeof *rag->inflight);
    rag->retries_inflight = calloc((size_t)rag->ncomp * (size_t)rag->npods, sizeof *rag->retries_inflight);
    if (!rag->inflight || !rag->retries_inflight) goto fail;
    for (int k = 0; k < rag->ncomp; k++)
        if (pol_insts_init(&rag->pols[k], spec->edge[k].pols, spec->edge[k].npols, rag->npods, sim, spec->comp_name[k]))
            goto fail;
        else {
            rag->npols[k] = spec->edge[k].npols;
            for (size_t j = 0; j < spec->edge[k].npols; j++)
                if (strcmp(spec->edge[k].pols[j].type->name, "retry") == 0)
                    rag->retry_on[k] = ((const retry_spec_t *)spec->edge[k].pols[j].spec)->retry_on;
        }
    for (int k = 0; k < rag->ncomp; k++)
        if (spec->edge[k].has_rtt) {   /* only then: scenarios without a network draw nothing new */
            char name[160];
            snprintf(name, sizeof name, "network/%s", spec->comp_name[k]);
            if (!(rag->rng_net[k] = sim_stream(sim, name))) goto fail;
        }
    rag->rng_loss = sim_stream(sim, "faults/packet_loss");
    rag->rng_client_retry = sim_stream(sim, "workload/client_retry");
    rag->rng_share = sim_stream(sim, "workload/call_share");
    if (!rag->rng_client_retry || !rag->rng_share) goto fail;
    if (!rag->rng_key || !rag->rng_unique || !rag->rng_qtok || !rag->rng_otok || !rag->rng_deadline || !rag->rng_leak || !rag->rng_loss)
        goto fail;
    if (rag_metrics_init(rag)) goto fail;
    rag->sample_threshold = spec->request_sample >= 1 ? UINT64_MAX
                                                      : (uint64_t)(spec->request_sample * 18446744073709551615.0);

    /* gateway */
    rag->held = calloc((size_t)spec->gw.slots, sizeof *rag->held);
    if (!rag->held) goto fail;
    rag->gw_ok = gw_init(&rag->gw, sim, &spec->gw, (gw_hooks_t){rag_fail_all, rag_on_request_cpu_done, rag}) == 0;
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
    rag_faults_schedule(rag);
    if (rag_classes_init(rag)) goto fail;
    if (spec->classes_own ? rag_classes_start(rag) != 0
                          : wl_gen_start(&rag->gen, sim, &spec->workload, "workload/arrivals", rag_on_arrival, rag) != 0)
        goto fail;
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
    rag_classes_destroy(rag);
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
    sim_table_fini(&rag->spans);
    for (int k = 0; k < RAG_MAX_COMP; k++) pol_insts_fini(rag->pols[k], rag->npols[k], rag->npods);
    free(rag->inflight);
    free(rag->retries_inflight);
    if (rag->answers_ok) embc_fini(&rag->answers);
    if (rag->rolls)
        for (size_t i = 0; i < spec->nchanges; i++) roll_fini(&rag->rolls[i]);
    free(rag->rolls);
    free(rag);
}

void rag_finish(rag_t *rag)
{
    for (int64_t i = 0; i < rag->spec->gw.slots; i++) stn_finish(&rag->gw.rep[i].cpu);
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
        double cap = (double)s->vdb.rs.replicas * vdb_replica_capacity(&s->vdb, s->top_k);
        fprintf(out, "  vectordb: %lld replicas%s x %lld threads, mean query %.3g ms -> capacity %.4g queries/s; "
                     "index %.3g GiB, OOM above %lld queries per replica\n",
                (long long)s->vdb.rs.replicas, s->vdb.shards > 1 ? " of each shard" : "", (long long)s->vdb.rs.servers,
                t * 1e3, cap,
                (double)vdb_index_bytes(&s->vdb) / (1 << 30), (long long)vdb_max_queries(&s->vdb));
    }
    fprintf(out, "  peak arrival rate %g/s, %zu fault%s\n", wl_max_rate(&s->workload), s->nfaults,
            s->nfaults == 1 ? "" : "s");
    if (rag_capacity_print(s, out) < 0) fprintf(out, "capacity check: out of memory\n");
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
        snprintf(p, sizeof p, "%s/spans", group);
        rc |= sim_trace_table(tr, p, &rag->spans);
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
        pol_insts_report(rag->pols[k], rag->npols[k], rag->npods, n, rep);
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
        rag_format_reason(rag, i, reason, sizeof reason);
        rs_report_add(rep, "failures", reason, "requests", RS_COUNT, (double)rag->reason[i]);
    }
    const vdb_t *v = rag->comp[RAG_VECTORDB];
    uint64_t ended = 0;
    for (int o = 0; o < RAG_NOUTCOMES; o++) ended += rag->outcome[o];
    double answered = (double)(rag->outcome[RAG_OK_SUCCESS] + rag->outcome[RAG_DEGRADED]);
    double span = sim_time_to_s(sim_now(rag->sim) - rag->warmup_end);
    rs_report_add(rep, "summary", "", "arrivals", RS_COUNT, (double)rag->arrivals);
    if (spec->workload.trace) {   /* what the replay offered: the trace's rows, to compare with the file */
        rs_report_add(rep, "summary", "", "offered_prompt_tokens", RS_COUNT, rag->offered_qtok);
        rs_report_add(rep, "summary", "", "offered_output_tokens", RS_COUNT, rag->offered_otok);
    }
    if (spec->client_retries > 0)   /* arrivals include them: users trying again */
        rs_report_add(rep, "summary", "", "client_retries", RS_COUNT, (double)rag->client_retries);
    for (int o = 0; o < RAG_NOUTCOMES; o++)
        rs_report_add(rep, "summary", "", rag_outcome_name((rag_outcome_t)o), RS_COUNT, (double)rag->outcome[o]);
    /* per attempt: every submission, a user's resubmission included, as the
     * service's own dashboards count them; per request: what users asked
     * for, a resubmission folded into the request it repeats */
    rs_report_add(rep, "summary", "", "success_ratio", RS_RATIO,
                  ended ? (double)rag->outcome[RAG_OK_SUCCESS] / (double)ended : NAN);
    rs_report_add(rep, "summary", "", "answered_ratio", RS_RATIO, ended ? answered / (double)ended : NAN);
    rs_report_add(rep, "summary", "", "degraded_ratio", RS_RATIO,
                  ended ? (double)rag->outcome[RAG_DEGRADED] / (double)ended : NAN);
    if (spec->client_retries > 0)
        rs_report_add(rep, "summary", "", "request_success_ratio", RS_RATIO,
                      rag->user_ended ? (double)rag->user_success / (double)rag->user_ended : NAN);
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
    rag_classes_report(rag, rep);
    if (spec->uses[RAG_LLM]) llm_report(rag->comp[RAG_LLM], rep);
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

/* The node at `path` (keys separated by '.'), or the deepest that exists. */
static sim_cfg_node_t *node_or_parent(sim_cfg_node_t *root, const char *const *path)
{
    sim_cfg_node_t *n = root;
    for (; *path; path++) {
        sim_cfg_node_t *c = n && n->kind == SIM_CFG_MAP ? sim_cfg_get(n, *path) : NULL;
        if (!c) break;
        n = c;
    }
    return n;
}

/* The article's anti-patterns, valid but known to fail under load: each is
 * a warning (a trap scenario turns them on on purpose). */
static void anti_patterns(const rag_spec_t *spec, sim_cfg_node_t *root, sim_diag_t *d)
{
    if (spec->gw.cache.mode == EMBC_UNBOUNDED) {
        static const char *const path[] = {"gateway", "embedding_cache", "mode", NULL};
        sim_cfg_warn(d, node_or_parent(root, path),
                     "anti-pattern: the gateway's embedding cache is unbounded: its live heap grows with every "
                     "new query until the OOM kill (bound it: mode: lru or ttl)");
    }
    if (!spec->context_propagation) {
        static const char *const path[] = {"pipeline", "context_propagation", NULL};
        sim_cfg_warn(d, node_or_parent(root, path),
                     "anti-pattern: no context propagation: calls of a request the client gave up on run on, "
                     "holding goroutines, memory and queue places (pipeline: {context_propagation: true})");
    }
    double dl = sim_dist_mean(&spec->deadline);
    for (int k = 0; k < RAG_FIRST_DEP + (int)spec->ndeps && k < RAG_MAX_COMP; k++) {
        if (!spec->uses[k] || !spec->comp_name[k]) continue;
        const rag_edge_spec_t *e = &spec->edge[k];
        const char *name = spec->comp_name[k];
        const char *const tpath[] = {"calls", name, "timeout", NULL};
        const char *const epath[] = {"calls", name, NULL};
        if (isfinite(dl) && e->timeout > 0 && sim_time_to_s(e->timeout) > dl)
            sim_cfg_warn(d, node_or_parent(root, tpath),
                         "anti-pattern: the '%s' call's timeout (%g s) is longer than the client's deadline (mean %g s): "
                         "the call outlives the request it serves",
                         name, sim_time_to_s(e->timeout), dl);
        const retry_spec_t *rs = NULL;
        bool budget = false;
        for (size_t j = 0; j < e->npols; j++) {
            const char *t = e->pols[j].type->name;
            if (strcmp(t, "retry") == 0) rs = e->pols[j].spec;
            budget |= strcmp(t, "retry_budget") == 0 || strcmp(t, "retry_throttling") == 0 ||
                      strcmp(t, "retry_token_bucket") == 0;
        }
        if (rs && rs->max_attempts > 1 && !budget)
            sim_cfg_warn(d, node_or_parent(root, epath),
                         "anti-pattern: the '%s' call retries without a budget: under failure its load grows %dx "
                         "(add retry_budget, retry_throttling or retry_token_bucket)",
                         name, (int)rs->max_attempts);
        if (rs && rs->max_attempts > 1 && rs->jitter == RETRY_JITTER_NONE)
            sim_cfg_warn(d, node_or_parent(root, epath),
                         "anti-pattern: the '%s' call retries without jitter: clients that failed together retry "
                         "together",
                         name);
    }
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
    anti_patterns(spec, root, d);
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
    *bytes = (uint64_t)rag->nslabs * REQ_SLAB * sizeof(rag_req_t) + call_pool_bytes(&rag->calls) +
             llm_bytes(rag->comp[RAG_LLM]) + gw_held_bytes(&rag->gw);
}

/* For the comparison's verdicts. */
static const model_direction_t directions[] = {
    {"arrivals", 0}, /* the workload: identical under common random numbers */
    {"rejected", -1},
    {"success_ratio", +1},
    {"answered_ratio", +1},
    {"degraded_ratio", -1},
    {"request_success_ratio", +1},
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
    {"llm_ttft_p95_s", -1},
    {"llm_tpot_p95_s", -1},
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
    {"heap_peak_bytes", "peak_heap_bytes", RS_BYTES},   /* the heap between samples too */
    {"etcd_leases_in_use", "peak_leases", RS_COUNT},
    {"config_reloads_total", "config_reloads", RS_COUNT},
    {"oom_kills_total{component=gateway}", "gateway_oom_kills", RS_COUNT},
    {NULL, NULL, 0},
};

/* The incident metrics (worst window, time below the SLO, recovery) count
 * full successes: a degraded answer (a fallback, a skipped check, a
 * refusal) is not one, so that a variant cannot look better by refusing
 * politely. answered_ratio counts both. */
static const char *const ok_series[] = {"requests_per_second{outcome=success}", NULL};
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
