/* The capacity check before a run (see capacity.h). */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "models/components/llm/capacity.h"
#include "models/rag/capacity.h"
#include "sim/error.h"

double rag_peak(const rag_spec_t *s, sim_time_t *at)
{
    const wl_spec_t *w = &s->workload;
    double m = -1;
    sim_time_t t = 0;
    for (size_t i = 0; i < w->nsegs; i++) {
        const wl_segment_t *g = &w->segs[i];
        if (g->r0 > m) {
            m = g->r0;
            t = g->start;
        }
        if (g->r1 > m && g->end != SIM_TIME_MAX) {
            m = g->r1;
            t = g->end;
        }
    }
    if (at) *at = t;
    return m < 0 ? 0 : m;
}

/* The first time the workload's rate reaches `r`, or -1 if it never does. */
static sim_time_t first_reach(const wl_spec_t *w, double r)
{
    for (size_t i = 0; i < w->nsegs; i++) {
        const wl_segment_t *g = &w->segs[i];
        if (g->r0 >= r) return g->start;
        if (g->end != SIM_TIME_MAX && g->r1 >= r && g->r1 > g->r0)
            return g->start + (sim_time_t)((double)(g->end - g->start) * (r - g->r0) / (g->r1 - g->r0));
    }
    return -1;
}

/* Components the pipeline's steps call (fallback-only targets carry no
 * load while things go well). */
static void on_pipeline(const rag_spec_t *s, bool *called)
{
    memset(called, 0, RAG_MAX_COMP * sizeof *called);
    for (size_t i = 0; i < s->nsteps; i++)
        for (int m = 0; m < s->steps[i].ncalls; m++) called[s->steps[i].target[m]] = true;
}

static void row(rag_cap_row_t *r, const char *name, const char *unit, double cap, double offered)
{
    memset(r, 0, sizeof *r);
    snprintf(r->name, sizeof r->name, "%s", name);
    r->unit = unit;
    r->capacity = r->req_capacity = cap;
    r->offered = r->req_offered = offered;
    r->utilisation = cap > 0 ? offered / cap : offered > 0 ? INFINITY : 0;
}

/* An autoscaled replica set: its capacity counted at max_replicas, and a
 * note of the capacity at the starting count. */
static void autoscaled(rag_cap_row_t *r, const hpa_spec_t *h, int64_t replicas, int64_t slots)
{
    if (!h->enabled) return;
    double start = r->capacity * (double)replicas / (double)slots;
    snprintf(r->note, sizeof r->note, " (autoscaled %lld..%lld replicas: %.4g at the starting %lld)",
             (long long)h->min_replicas, (long long)h->max_replicas, start, (long long)replicas);
}

int rag_capacity_rows(const rag_spec_t *s, rag_cap_row_t *rows, int max)
{
    bool called[RAG_MAX_COMP];
    on_pipeline(s, called);
    double rate = rag_peak(s, NULL);
    int n = 0;
    if (n < max) {
        double cpu = sim_dist_mean(&s->gw.pre) + sim_dist_mean(&s->gw.post);
        rag_cap_row_t *r = &rows[n++];
        row(r, "gateway cpu", "CPU-s/s", (double)(s->gw.slots * s->gw.cores), rate * cpu);
        autoscaled(r, &s->gw.autoscale, s->gw.replicas, s->gw.slots);
    }
    for (int k = 0; k < RAG_FIRST_DEP + (int)s->ndeps && n < max; k++) {
        if (!called[k]) continue;
        double offered = rate * s->edge[k].share;
        if (k == RAG_EMBEDDER) {
            const embedder_spec_t *e = &s->emb;
            double B = (double)e->max_batch_size;
            double batch = sim_dist_mean(&e->base) + sim_time_to_s(e->per_token) * B * sim_dist_mean(&s->query_tokens);
            rag_cap_row_t *r = &rows[n++];
            row(r, s->comp_name[k], "calls/s", (double)(e->slots * e->concurrency) * B / batch, offered);
            autoscaled(r, &e->autoscale, e->replicas, e->slots);
        } else if (k == RAG_VECTORDB) {
            rag_cap_row_t *r = &rows[n++];
            row(r, s->comp_name[k], "queries/s", (double)s->vdb.rs.slots * vdb_replica_capacity(&s->vdb, s->top_k),
                offered);
            autoscaled(r, &s->vdb.rs.hpa, s->vdb.rs.replicas, s->vdb.rs.slots);
            if (s->vdb.ingest) {   /* what the insert stream takes: the builds' cores, the growing segment's scan */
                const vdb_spec_t *v = &s->vdb;
                int64_t seg = vdb_seal_rows(v);
                double every = (double)seg / (v->ing_rate / (double)v->shards);
                size_t len = strlen(r->note);
                snprintf(r->note + len, sizeof r->note - len, " (ingest: builds %.3g of %lld core%s, +%.3g ms at seal)",
                         vdb_build_time(v, seg) / every, (long long)v->cores, v->cores == 1 ? "" : "s",
                         vdb_scan_time(v, seg) / v->speed * 1e3);
            }
        } else if (k == RAG_LLM) {
            const llm_spec_t *sp = &s->llm;
            llm_cap_query_t q = {0};
            double chunks = s->uses[RAG_VECTORDB] ? (double)(s->top_k * s->chunk_tokens) : 0;
            q.prompt_tokens = (double)s->system_prompt_tokens + sim_dist_mean(&s->query_tokens) + chunks;
            q.output_tokens = sim_dist_mean(&s->output_tokens);
            if (sp->enable_prefix_caching)
                q.cached_tokens = (double)(s->system_prompt_tokens / sp->block_size * sp->block_size);
            llm_steptime_t st;
            if (llm_steptime_init(&st, &sp->hw, sp->max_num_batched_tokens) != 0) return SIM_ENOMEM;
            llm_cap_t c;
            int rc = llm_capacity(sp, &st, &q, &c);
            llm_steptime_fini(&st);
            double R = (double)(sp->autoscale.enabled && sp->autoscale.max_replicas > sp->replicas
                                     ? sp->autoscale.max_replicas : sp->replicas);
            double computed = q.prompt_tokens - q.cached_tokens;
            rag_cap_row_t *r = &rows[n++];
            if (rc != 0) c = (llm_cap_t){0};
            row(r, s->comp_name[k], "prompt tokens/s", R * c.prompt_tokens_per_s, offered * computed);
            r->req_capacity = R * c.requests_per_s;
            r->req_offered = offered;
            r->utilisation = r->req_capacity > 0 ? offered / r->req_capacity : INFINITY;
            r->bound = rc == 0 ? llm_cap_bound_name(c.bound) : NULL;
            autoscaled(r, &sp->autoscale, sp->replicas, (int64_t)R);
        } else {
            const dep_spec_t *dp = &s->deps[k - RAG_FIRST_DEP];
            double lat = sim_dist_mean(&dp->latency);
            rag_cap_row_t *r = &rows[n++];
            row(r, s->comp_name[k], "calls/s", lat > 0 ? (double)(dp->rs.slots * dp->rs.servers) / lat : INFINITY,
                offered);
            autoscaled(r, &dp->rs.hpa, dp->rs.replicas, dp->rs.slots);
        }
    }
    return n;
}

/* "12,345" for figures people compare at a glance; "0.123" below 10. */
static const char *fig(char *buf, size_t n, double x)
{
    if (!isfinite(x)) {
        snprintf(buf, n, "%s", x > 0 ? "unlimited" : "-");
        return buf;
    }
    if (x < 10) {
        snprintf(buf, n, "%.3g", x);
        return buf;
    }
    char raw[64];
    snprintf(raw, sizeof raw, "%.0f", x);
    size_t L = strlen(raw), o = 0;
    for (size_t i = 0; i < L && o + 2 < n; i++) {
        buf[o++] = raw[i];
        if ((L - i - 1) % 3 == 0 && i + 1 < L) buf[o++] = ',';
    }
    buf[o] = 0;
    return buf;
}

/* m:ss (or h:mm:ss) into the run */
static void clock_text(char *buf, size_t n, sim_time_t t)
{
    long long s = (long long)llround(sim_time_to_s(t));
    if (s >= 3600) snprintf(buf, n, "%lld:%02lld:%02lld", s / 3600, s / 60 % 60, s % 60);
    else snprintf(buf, n, "%lld:%02lld", s / 60, s % 60);
}

int rag_capacity_print(const rag_spec_t *s, FILE *out)
{
    rag_cap_row_t rows[RAG_MAX_COMP + 1];
    int n = rag_capacity_rows(s, rows, RAG_MAX_COMP + 1);
    if (n < 0) return n;
    sim_time_t at;
    double rate = rag_peak(s, &at);
    char when[64], a[48], b[48];
    clock_text(when, sizeof when, at);
    if (wl_constant_rate(&s->workload) >= 0) {
        fprintf(out, "capacity at the workload's rate, a constant %g requests/s:\n", rate);
        snprintf(when, sizeof when, "%s", "0:00 and on (a constant rate)");
    } else {
        fprintf(out, "capacity at the workload's peak, %g requests/s at %s (m:ss into the run):\n", rate, when);
    }
    fprintf(out, "  %-16s %16s %16s %6s  %s\n", "component", "capacity", "offered", "util", "unit");
    for (int i = 0; i < n; i++) {
        const rag_cap_row_t *r = &rows[i];
        fprintf(out, "  %-16s %16s %16s %5.0f%%  %s", r->name, fig(a, sizeof a, r->capacity),
                fig(b, sizeof b, r->offered), 100 * r->utilisation, r->unit);
        if (r->bound)
            fprintf(out, " (%s requests/s against %s; a replica is limited by %s)", fig(a, sizeof a, r->req_offered),
                    fig(b, sizeof b, r->req_capacity), r->bound);
        fprintf(out, "%s\n", r->note);
    }
    int warns = 0;
    for (int i = 0; i < n; i++) {
        const rag_cap_row_t *r = &rows[i];
        if (r->utilisation < 1) continue;
        warns++;
        char from[64] = "";
        sim_time_t t0 = isfinite(r->utilisation) ? first_reach(&s->workload, rate / r->utilisation) : 0;
        if (wl_constant_rate(&s->workload) < 0 && t0 >= 0 && t0 < at) {
            char c[32];
            clock_text(c, sizeof c, t0);
            snprintf(from, sizeof from, " (saturated from %s)", c);
        }
        fprintf(out, "warning: %s: offered %s %s at %s against a capacity of %s%s: it will queue without bound\n",
                r->name, fig(a, sizeof a, r->offered), r->unit, when, fig(b, sizeof b, r->capacity), from);
    }
    return warns;
}
