/* Metrics of the RAG model: the time-series columns and their sampler,
 * the warm-up reset of the counters the summary reports, and the sampled
 * per-request records (the `requests` table) with their failure reasons.
 * May call the engine's series, histograms and tables, and read the
 * gateway's state. */
#include "models/rag/rag.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "models/rag/rag_internal.h"
#include "sim/error.h"

/* Upper bounds of the exported latency histograms: Prometheus client
 * libraries' default buckets (5 ms .. 10 s) plus 2 s and 3 s (the retrieval
 * timeout of the avalanche signature, docs/background.md) and 30 s, 60 s (LLM
 * calls); the last bucket is +Inf. */
const int64_t rag_le_bounds_ns[RAG_LE_N - 1] = {
    5000000, 10000000, 25000000, 50000000, 100000000, 250000000, 500000000,
    1000000000, 2000000000, 3000000000, 5000000000, 10000000000, 30000000000, 60000000000};

static void lehist_sample(sim_t *sim, const rag_lehist_t *h)
{
    if (h->col < 0) return;
    uint64_t cum = 0;
    for (int i = 0; i < RAG_LE_N; i++) {
        cum += h->count[i];
        sim_series_set(sim, h->col + i, (double)cum);
    }
    sim_series_set(sim, h->col + RAG_LE_N, h->sum_s);
    sim_series_set(sim, h->col + RAG_LE_N + 1, (double)cum);
}

/* The series of a histogram: base_bucket{labels,le=B} for each bound,
 * base_sum{labels}, base_count{labels}; consecutive columns from h->col. */
static int lehist_setup(sim_t *sim, rag_lehist_t *h, const char *base, const char *labels, const char *what)
{
    char name[200], help[300];
    const char *sep = *labels ? "," : "";
    for (int i = 0; i < RAG_LE_N; i++) {
        char le[32];
        if (i < RAG_LE_N - 1) snprintf(le, sizeof le, "%g", (double)rag_le_bounds_ns[i] * 1e-9);
        else snprintf(le, sizeof le, "+Inf");
        snprintf(name, sizeof name, "%s_bucket{%s%sle=%s}", base, labels, sep, le);
        snprintf(help, sizeof help, "%s at most le seconds, since the start of the run (cumulative)", what);
        int c = sim_series_add(sim, name, "1", help);
        if (c < 0) return SIM_ENOMEM;
        if (i == 0) h->col = c;
        else if (c != h->col + i) return SIM_ENOMEM;
    }
    snprintf(name, sizeof name, "%s_sum%s%s%s", base, *labels ? "{" : "", labels, *labels ? "}" : "");
    snprintf(help, sizeof help, "sum of the latencies of the %s, since the start of the run", what);
    if (sim_series_add(sim, name, "s", help) != h->col + RAG_LE_N) return SIM_ENOMEM;
    snprintf(name, sizeof name, "%s_count%s%s%s", base, *labels ? "{" : "", labels, *labels ? "}" : "");
    snprintf(help, sizeof help, "%s, since the start of the run", what);
    if (sim_series_add(sim, name, "1", help) != h->col + RAG_LE_N + 1) return SIM_ENOMEM;
    return 0;
}

void rag_format_reason(const rag_t *rag, int reason, char *buf, size_t n)
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

void rag_record_request(rag_t *rag, const rag_req_t *r)
{
    sim_table_t *t = &rag->requests;
    unsigned char *row = sim_table_append(t);
    if (!row) return;
    char reason[96];
    rag_format_reason(rag, r->reason, reason, sizeof reason);
    sim_row_i64(t, row, 0, (int64_t)r->id);
    sim_row_f64(t, row, 1, sim_time_to_s(r->arrival));
    sim_row_f64(t, row, 2, sim_time_to_s(r->ended));
    sim_row_f64(t, row, 3, sim_time_to_s(sim_now(rag->sim)));
    sim_row_str(t, row, 4, rag_outcome_name((rag_outcome_t)r->outcome));
    sim_row_str(t, row, 5, reason);
    sim_row_i64(t, row, 6, (r->flags & RQ_UNGROUNDED) == 0);
    for (int i = 0; i < 4; i++) sim_row_f64(t, row, 7 + i, r->stage_s[i] >= 0 ? r->stage_s[i] : NAN);
    sim_row_i64(t, row, 11, r->qtok);
    sim_row_i64(t, row, 12, r->otok);
    sim_row_i64(t, row, 13, r->prompt_tokens);
    sim_row_i64(t, row, 14, r->replica);
    sim_row_i64(t, row, 15, (int64_t)r->key);
    if (rag->spec->nclasses) sim_row_str(t, row, 16, rag->spec->classes[r->cls].name);
}

/* Spans of sampled requests: one fixed-size row each, appended to the
 * `spans` table (it grows by doubling, no allocation per row); the layout
 * is in docs/trace-format.md. */
void rag_record_span(rag_t *rag, uint64_t id, const char *name, int comp, int64_t attempt, sim_time_t start,
                     sim_time_t end, const char *status)
{
    sim_table_t *t = &rag->spans;
    unsigned char *row = sim_table_append(t);
    if (!row) return;
    sim_row_i64(t, row, 0, (int64_t)id);
    sim_row_str(t, row, 1, name);
    sim_row_str(t, row, 2, comp < 0 ? "gateway" : rag->spec->comp_name[comp]);
    sim_row_i64(t, row, 3, attempt);
    sim_row_f64(t, row, 4, sim_time_to_s(start));
    sim_row_f64(t, row, 5, sim_time_to_s(end));
    sim_row_str(t, row, 6, status);
}

/* A call attempt of a sampled request ended (for the caller) now: its span,
 * and for the LLM the phases it reached before then: llm_queue (issue to
 * admission into a step), prefill (to the first output token), decode (to
 * the end). */
void rag_record_call_spans(rag_t *rag, uint64_t id, int comp, int64_t attempt, const call_t *c, call_status_t st)
{
    sim_time_t now = sim_now(rag->sim);
    const char *name = comp == RAG_EMBEDDER ? "embed" : comp == RAG_VECTORDB ? "retrieve"
                       : comp == RAG_LLM ? "generate" : "dependency";
    rag_record_span(rag, id, name, comp, attempt, c->sent, now, call_status_name(st));
    if (comp != RAG_LLM) return;
    sim_time_t adm = c->started > 0 && c->started < now ? c->started : now;
    rag_record_span(rag, id, "llm_queue", comp, attempt, c->sent, adm, adm < now ? "ok" : call_status_name(st));
    if (c->started <= 0 || c->started >= now) return;
    sim_time_t first = c->first_out > 0 && c->first_out < now ? c->first_out : now;
    rag_record_span(rag, id, "prefill", comp, attempt, adm, first, first < now ? "ok" : call_status_name(st));
    if (first < now) rag_record_span(rag, id, "decode", comp, attempt, first, now, call_status_name(st));
}

static void sampler(sim_t *sim, void *ctx, sim_time_t dt)
{
    rag_t *rag = ctx;
    double secs = sim_time_to_s(dt);
    uint64_t ended = 0;
    for (int o = 0; o < RAG_NOUTCOMES; o++) {
        sim_series_set(sim, rag->col_rps[o], (double)rag->win_outcome[o] / secs);
        ended += rag->win_outcome[o];
    }
    double ok = (double)rag->win_outcome[RAG_OK_SUCCESS];
    double answered = ok + (double)rag->win_outcome[RAG_DEGRADED];
    sim_series_set(sim, rag->col_ratio, ended ? ok / (double)ended : NAN);
    sim_series_set(sim, rag->col_answered, ended ? answered / (double)ended : NAN);
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
    for (int64_t i = 0; i < rag->spec->gw.slots; i++)
        busy += sim_tavg_mean(&rag->gw.rep[i].cpu.win_busy, now) / (double)rag->spec->gw.cores;
    sim_series_set(sim, rag->col_gw_cpu, busy / (double)rag->gw.want);   /* over the replicas wanted */
    sim_series_set(sim, rag->col_gw_up, (double)rag->gw.lb.nup);
    lehist_sample(sim, &rag->latency_le);
    for (int k = 0; k < rag->ncomp; k++) {
        if (rag->col_stage[k] < 0) continue;
        sim_series_set(sim, rag->col_stage[k], sim_hist_quantile(&rag->stage[k].win, 0.95) * 1e-9);
        sim_hist_reset(&rag->stage[k].win);
        lehist_sample(sim, &rag->stage[k].le);
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
    rag->user_ended = rag->user_success = 0;
    memset(rag->outcome, 0, sizeof rag->outcome);
    rag->offered_qtok = rag->offered_otok = 0;
    rag_classes_reset(rag);
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
    rc |= add_col(sim, &rag->col_ratio, "success_ratio", "1", "full successes / requests ended in the interval (degraded answers are not)");
    rc |= add_col(sim, &rag->col_answered, "answered_ratio", "1", "(success + degraded) / requests ended in the interval");
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
    /* the histograms after the other series (their columns are consecutive) */
    rag->latency_le.col = -1;
    if (!rc) rc |= lehist_setup(sim, &rag->latency_le, "request_latency_seconds", "", "requests answered (success or degraded)");
    for (int k = 0; k < rag->ncomp; k++) {
        rag->stage[k].le.col = -1;
        if (rc || !rag->spec->uses[k]) continue;
        const char *base = k == RAG_EMBEDDER ? "embed_latency_seconds"
                           : k == RAG_VECTORDB ? "rag_retrieval_latency_seconds"
                           : k == RAG_LLM ? "llm_latency_seconds" : "dependency_latency_seconds";
        char labels[96] = "";
        if (k >= RAG_FIRST_DEP) snprintf(labels, sizeof labels, "dependency=%s", rag->spec->comp_name[k]);
        rc |= lehist_setup(sim, &rag->stage[k].le, base, labels, "caller-side calls (issue to result or timeout)");
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
    if (rag->spec->nclasses) rc |= sim_table_col_str(t, "class", 64) < 0;   /* only with classes: other traces keep their columns */
    return rc ? SIM_ENOMEM : 0;
}

static int setup_spans_table(rag_t *rag)
{
    sim_table_t *t = &rag->spans;
    sim_table_init(t, "spans");
    t->max_rows = 4000000;
    int rc = 0;
    rc |= sim_table_col_i64(t, "request", "1") < 0;
    rc |= sim_table_col_str(t, "name", 16) < 0;
    rc |= sim_table_col_str(t, "component", 48) < 0;
    rc |= sim_table_col_i64(t, "attempt", "1") < 0;
    rc |= sim_table_col_f64(t, "start", "s") < 0;
    rc |= sim_table_col_f64(t, "end", "s") < 0;
    rc |= sim_table_col_str(t, "status", 16) < 0;
    return rc ? SIM_ENOMEM : 0;
}

int rag_metrics_init(rag_t *rag)
{
    sim_t *sim = rag->sim;
    if (setup_metrics(rag) || setup_requests_table(rag) || setup_spans_table(rag)) return SIM_ENOMEM;
    if (sim_add_sampler(sim, sampler, rag) || sim_add_warmup_hook(sim, warmup, rag)) return SIM_ENOMEM;
    return 0;
}
