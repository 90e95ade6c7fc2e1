/* Request classes (tenants, products): parsing `workload.classes`, the
 * per-class statistics, the classes' own arrival processes and the
 * per-class figures of the summary.
 *
 *   workload:
 *     rate: 50/s                      # share mode: the classes split these arrivals
 *     classes:
 *       chat:  {share: 80%, output_tokens: {dist: lognormal, mean: 150, cv: 0.5}, deadline: 15s}
 *       batch: {share: 20%, output_tokens: 800, deadline: 120s}
 *   or, each class with its own arrival process (no rate at the top):
 *     classes:
 *       chat:  {rate: 40/s, deadline: 15s}
 *       batch: {arrivals: mmpp, states: [...], deadline: 120s}
 *   or a trace whose `class` column names each row's class.
 *
 * A class's demands (query_tokens, output_tokens, deadline) default to the
 * workload's. The class of an arrival in share mode is drawn from the
 * stream workload/class; a class's own arrivals come from the stream
 * workload/arrivals/<class>. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "models/queueing/wl_mix.h"
#include "models/rag/rag_internal.h"
#include "sim/error.h"

static const char *const arrival_keys[] = {"rate", "profile", "periodic", "states", "trace", "arrivals", "batch", NULL};

static bool has_own_arrivals(sim_cfg_node_t *m)
{
    if (!m || m->kind != SIM_CFG_MAP) return false;
    for (size_t i = 0; i < m->n; i++)
        for (int k = 0; arrival_keys[k]; k++)
            if (!strcmp(m->keys[i]->text, arrival_keys[k])) return true;
    return false;
}

/* True if the workload's classes have their own arrival processes (then
 * the workload mapping itself has none). */
bool rag_classes_own(sim_cfg_node_t *wl)
{
    sim_cfg_node_t *cn = wl && wl->kind == SIM_CFG_MAP ? sim_cfg_get(wl, "classes") : NULL;
    if (!cn || cn->kind != SIM_CFG_MAP) return false;
    for (size_t i = 0; i < cn->n; i++)
        if (has_own_arrivals(cn->vals[i])) return true;
    return false;
}

int rag_classes_parse(sim_diag_t *d, sim_cfg_node_t *wl, rag_spec_t *spec)
{
    int errs = d->errors, rc;
    sim_cfg_node_t *cn = sim_cfg_get(wl, "classes");
    if (!cn) return 0;
    if (!sim_cfg_expect_map(d, cn, "classes")) return SIM_ECONFIG;
    if (cn->n == 0 || cn->n > RAG_MAX_CLASSES) {
        sim_cfg_error(d, cn, "'classes' needs 1 to %d classes, not %zu", RAG_MAX_CLASSES, cn->n);
        return SIM_ECONFIG;
    }
    bool own = rag_classes_own(wl);
    const wl_trace_t *tr = own ? NULL : spec->workload.trace;
    bool by_row = tr && tr->cls;
    if (!(spec->classes = calloc(cn->n, sizeof *spec->classes))) return SIM_ENOMEM;
    spec->classes_own = own;
    double sum = 0, peak = 0;
    for (size_t i = 0; i < cn->n; i++) {
        sim_cfg_node_t *m = cn->vals[i];
        rag_class_t *c = &spec->classes[i];
        c->name = cn->keys[i]->text;
        spec->nclasses++;
        sim_cfg_touch(m);
        if (!sim_cfg_expect_map(d, m, "request class")) continue;
        if (own) {
            if (!has_own_arrivals(m)) {
                sim_cfg_error(d, m, "class '%s' has no arrival process: when one class has its own (rate, profile, "
                                    "periodic, states or trace), every class needs one", c->name);
                sim_cfg_touch_all(m);
                continue;
            }
            if (sim_cfg_get(m, "share"))
                sim_cfg_error(d, sim_cfg_get(m, "share"), "class '%s' has its own arrivals: it has no share", c->name);
            c->own = true;
            if ((rc = wl_spec_parse(d, m, &c->arrivals)) == SIM_ENOMEM) return rc;
            if (rc == 0) peak += wl_max_rate(&c->arrivals);
        } else if (by_row) {
            if (sim_cfg_get(m, "share"))
                sim_cfg_error(d, sim_cfg_get(m, "share"), "the trace's class column gives each row's class: "
                                                          "remove 'share'");
        } else {
            sim_cfg_ratio(d, m, "share", SIM_CFG_REQUIRED, 0, &c->share);
            sum += c->share;
        }
        sim_cfg_int(d, m, "priority", 0, -1000000, 1000000, 0, &c->priority);
        sim_cfg_node_t *n;
        if ((n = sim_cfg_get(m, "query_tokens"))) {
            if ((rc = wl_mix_parse(d, n, &c->query_tokens)) == SIM_ENOMEM) return rc;
            c->has_qtok = rc == 0;
        }
        if ((n = sim_cfg_get(m, "output_tokens"))) {
            if ((rc = wl_mix_parse(d, n, &c->output_tokens)) == SIM_ENOMEM) return rc;
            c->has_otok = rc == 0;
        }
        if ((n = sim_cfg_get(m, "deadline"))) {
            if ((rc = sim_dist_parse(d, n, SIM_DIST_DURATION, &c->deadline)) == SIM_ENOMEM) return rc;
            c->has_deadline = rc == 0;
        }
    }
    if (d->errors != errs) return SIM_ECONFIG;
    if (own) {
        /* the workload's own figures (validate, capacity): the classes' peaks summed, an upper bound */
        wl_spec_fini(&spec->workload);
        if (wl_spec_constant(&spec->workload, WL_POISSON, peak)) return SIM_ENOMEM;
        return 0;
    }
    if (by_row) {
        for (size_t k = 0; k < tr->nclasses; k++) {
            size_t j = 0;
            while (j < spec->nclasses && strcmp(spec->classes[j].name, tr->class_names[k])) j++;
            if (j == spec->nclasses) {
                sim_cfg_error(d, cn, "the trace %s has rows of class '%s', which 'classes' does not define",
                              tr->path, tr->class_names[k]);
                continue;
            }
            spec->trace_class[k] = (uint8_t)j;
        }
        return d->errors == errs ? 0 : SIM_ECONFIG;
    }
    if (fabs(sum - 1) > 1e-6) {
        sim_cfg_error(d, cn, "the classes' shares sum to %g%%, not 100%%", 100 * sum);
        return SIM_ECONFIG;
    }
    double v[RAG_MAX_CLASSES], w[RAG_MAX_CLASSES];
    for (size_t i = 0; i < spec->nclasses; i++) {
        v[i] = (double)i;
        w[i] = spec->classes[i].share;
    }
    return sim_dist_empirical(&spec->class_pick, v, w, spec->nclasses, false) == 0 ? 0 : SIM_ENOMEM;
}

int rag_classes_levels(sim_diag_t *d, sim_cfg_node_t *wl, rag_spec_t *spec)
{
    int levels = 0;
    for (size_t i = 0; i < spec->nclasses; i++) {
        rag_class_t *c = &spec->classes[i];
        int rank = 0;   /* distinct priorities below this one */
        bool first = true;   /* the first class with this priority */
        for (size_t j = 0; j < spec->nclasses; j++) {
            int64_t p = spec->classes[j].priority;
            if (p < c->priority) {
                bool seen = false;   /* count each distinct value once */
                for (size_t k = 0; k < j && !seen; k++) seen = spec->classes[k].priority == p;
                rank += !seen;
            }
            if (j < i && p == c->priority) first = false;
        }
        c->level = (uint8_t)rank;
        levels += first;
    }
    spec->llm.levels = levels > 1 ? levels : 1;
    if (levels <= 1 || spec->llm.priority_policy) return 0;
    sim_cfg_node_t *cn = sim_cfg_get(wl, "classes");
    for (size_t i = 0; i < spec->nclasses; i++)
        if (spec->classes[i].priority != 0) {
            sim_cfg_node_t *m = cn ? sim_cfg_get(cn, spec->classes[i].name) : NULL;
            sim_cfg_error(d, m ? sim_cfg_get(m, "priority") : cn,
                          "class '%s' has priority %lld, but the LLM serves in arrival order: vLLM refuses a "
                          "request priority unless it runs --scheduling-policy priority; add "
                          "'scheduling_policy: priority' to 'llm'", spec->classes[i].name,
                          (long long)spec->classes[i].priority);
            return SIM_ECONFIG;
        }
    return 0;
}

void rag_classes_fini(rag_spec_t *spec)
{
    for (size_t i = 0; i < spec->nclasses; i++) {
        rag_class_t *c = &spec->classes[i];
        if (c->own) wl_spec_fini(&c->arrivals);
        sim_dist_fini(&c->query_tokens);
        sim_dist_fini(&c->output_tokens);
        sim_dist_fini(&c->deadline);
    }
    free(spec->classes);
    sim_dist_fini(&spec->class_pick);
}

static void class_arrival(sim_t *sim, void *ctx)
{
    (void)sim;
    struct rag_class_stats *st = ctx;
    rag_arrive(st->rag, st->index, wl_gen_row(&st->gen));
}

/* Per-class series, sampled with the run's: success_ratio{class=X} and
 * latency_p95_seconds{class=X}, as success_ratio and latency_p95_seconds. */
static void class_sampler(sim_t *sim, void *ctx, sim_time_t dt)
{
    (void)dt;
    rag_t *rag = ctx;
    for (size_t i = 0; i < rag->spec->nclasses; i++) {
        struct rag_class_stats *st = &rag->cls[i];
        sim_series_set(sim, st->col_ok, st->win_ended ? (double)st->win_ok / (double)st->win_ended : NAN);
        sim_series_set(sim, st->col_p95, sim_hist_quantile(&st->win_latency, 0.95) * 1e-9);
        st->win_ended = st->win_ok = 0;
        sim_hist_reset(&st->win_latency);
    }
}

int rag_classes_init(rag_t *rag)
{
    const rag_spec_t *spec = rag->spec;
    if (!spec->nclasses) return 0;
    if (!(rag->cls = calloc(spec->nclasses, sizeof *rag->cls))) return SIM_ENOMEM;
    for (size_t i = 0; i < spec->nclasses; i++) {
        struct rag_class_stats *st = &rag->cls[i];
        st->rag = rag;
        st->index = (uint8_t)i;
        if (sim_hist_init(&st->latency) || sim_hist_init(&st->win_latency)) return SIM_ENOMEM;
        char name[160];
        snprintf(name, sizeof name, "success_ratio{class=%s}", spec->classes[i].name);
        st->col_ok = sim_series_add(rag->sim, name, "1", "full successes / requests of the class ended in the interval");
        snprintf(name, sizeof name, "latency_p95_seconds{class=%s}", spec->classes[i].name);
        st->col_p95 = sim_series_add(rag->sim, name, "s", "p95 latency of the class's requests answered in the interval");
        if (st->col_ok < 0 || st->col_p95 < 0) return SIM_ENOMEM;
    }
    if (sim_add_sampler(rag->sim, class_sampler, rag)) return SIM_ENOMEM;
    if (!spec->classes_own && !spec->workload.trace && !(rag->rng_class = sim_stream(rag->sim, "workload/class")))
        return SIM_ENOMEM;
    return 0;
}

/* The classes' own arrivals (after everything else is set up). */
int rag_classes_start(rag_t *rag)
{
    const rag_spec_t *spec = rag->spec;
    for (size_t i = 0; spec->classes_own && i < spec->nclasses; i++) {
        char stream[200];
        snprintf(stream, sizeof stream, "workload/arrivals/%s", spec->classes[i].name);
        if (wl_gen_start(&rag->cls[i].gen, rag->sim, &spec->classes[i].arrivals, stream, class_arrival, &rag->cls[i]))
            return SIM_ENOMEM;
    }
    return 0;
}

void rag_classes_destroy(rag_t *rag)
{
    if (!rag->cls) return;
    for (size_t i = 0; i < rag->spec->nclasses; i++) {
        sim_hist_fini(&rag->cls[i].latency);
        sim_hist_fini(&rag->cls[i].win_latency);
    }
    free(rag->cls);
    rag->cls = NULL;
}

void rag_classes_reset(rag_t *rag)
{
    for (size_t i = 0; rag->cls && i < rag->spec->nclasses; i++) {
        struct rag_class_stats *st = &rag->cls[i];
        st->arrivals = 0;
        memset(st->outcome, 0, sizeof st->outcome);
        st->qtok = st->otok = 0;
        sim_hist_reset(&st->latency);
    }
}

void rag_classes_report(const rag_t *rag, rs_report_t *rep)
{
    const rag_spec_t *spec = rag->spec;
    for (size_t i = 0; i < spec->nclasses; i++) {
        const struct rag_class_stats *st = &rag->cls[i];
        const char *n = spec->classes[i].name;
        uint64_t ended = 0;
        for (int o = 0; o < RAG_NOUTCOMES; o++) ended += st->outcome[o];
        double answered = (double)(st->outcome[RAG_OK_SUCCESS] + st->outcome[RAG_DEGRADED]);
        char col[160];
#define ADD(metric, kind, v)                                     \
    do {                                                         \
        snprintf(col, sizeof col, "%s{class=%s}", metric, n);    \
        rs_report_add(rep, "summary", "", col, kind, v);         \
    } while (0)
        ADD("arrivals", RS_COUNT, (double)st->arrivals);
        for (int o = 0; o < RAG_NOUTCOMES; o++) ADD(rag_outcome_name((rag_outcome_t)o), RS_COUNT, (double)st->outcome[o]);
        ADD("success_ratio", RS_RATIO, ended ? (double)st->outcome[RAG_OK_SUCCESS] / (double)ended : NAN);
        ADD("answered_ratio", RS_RATIO, ended ? answered / (double)ended : NAN);
        ADD("latency_p50_s", RS_SECONDS, sim_hist_quantile(&st->latency, 0.50) * 1e-9);
        ADD("latency_p95_s", RS_SECONDS, sim_hist_quantile(&st->latency, 0.95) * 1e-9);
        ADD("latency_p99_s", RS_SECONDS, sim_hist_quantile(&st->latency, 0.99) * 1e-9);
        ADD("offered_prompt_tokens", RS_COUNT, st->qtok);
        ADD("offered_output_tokens", RS_COUNT, st->otok);
#undef ADD
    }
}
