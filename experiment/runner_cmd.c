/* The commands `ragsim run`, `compare` and `validate` (rs_cmd_*): the
 * scenario loaded, the variants selected, the signals caught, every
 * replication run and written, the comparison computed, the trace
 * committed and the summary or comparison printed. Calls the rest of the
 * runner (runner.h, runner_internal.h), experiment/compare.h and sim/. */
#include "experiment/runner.h"

#include <math.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <libgen.h>

#include "experiment/compare.h"
#include "experiment/runner_internal.h"
#include "experiment/sweep.h"
#include "sim/error.h"
#include "sim/outfile.h"
#include "sim/trace.h"
#include "sim/units.h"

/* ---- signals, the default output, validate ------------------------------------------ */

volatile sig_atomic_t rs_interrupted;
static void on_signal(int sig) { rs_interrupted = sig; }

char *rs_default_output(const char *scenario)
{
    char *copy = strdup(scenario);
    if (!copy) return NULL;
    char *base = basename(copy);
    char *dot = strrchr(base, '.');
    if (dot && dot != base) *dot = 0;
    size_t n = strlen(base) + 4;
    char *p = malloc(n);
    if (p) snprintf(p, n, "%s.h5", base);
    free(copy);
    return p;
}

int rs_cmd_validate(const rs_opts_t *o, FILE *out, FILE *err)
{
    sim_diag_t d;
    sim_diag_init(&d);
    rs_scenario_t s;
    int rc = rs_load(&s, o->scenario, o->sets, o->nsets, &d);
    fputs(sim_diag_text(&d), err);
    int status = 0;
    if (rc == SIM_ENOMEM) {
        fprintf(err, "ragsim: error: out of memory loading %s\n", o->scenario);
        status = 1;
    } else if (rc != 0 || d.errors) status = 2;
    if (status == 0 && !o->quiet) {
        fprintf(out, "%s: scenario '%s' is valid: %s model, %g s x %lld replication%s\n", o->scenario, s.sc.name,
                s.model->name, sim_time_to_s(s.sc.duration), (long long)s.sc.replications,
                s.sc.replications == 1 ? "" : "s");
        if (s.nvariants > 1) {
            fprintf(out, "variants:");
            for (size_t i = 0; i < s.nvariants; i++)
                fprintf(out, " %s%s", s.variants[i].name, i == s.baseline ? " (baseline)" : "");
            fprintf(out, "\n");
        }
        if (s.model->describe) s.model->describe(s.spec, out);
        if (d.warnings) fprintf(out, "%d warning%s (see above)\n", d.warnings, d.warnings == 1 ? "" : "s");
    }
    rs_unload(&s);
    sim_diag_fini(&d);
    return status;
}

/* ---- run and compare --------------------------------------------------------------- */

/* Which variants to run: all, or the comma-separated list (the baseline is
 * added for a comparison). Returns the count or -1 after reporting. */
static int select_variants(const rs_scenario_t *s, const char *list, bool need_baseline, size_t *sel, FILE *err)
{
    size_t n = 0;
    if (!list) {
        for (size_t i = 0; i < s->nvariants; i++) sel[n++] = i;
        return (int)n;
    }
    char *copy = strdup(list);
    if (!copy) return -1;
    for (char *tok = strtok(copy, ","); tok; tok = strtok(NULL, ",")) {
        int k = rs_variant_find(s, tok);
        if (k < 0) {
            const char *cands[256];
            size_t nc = 0;
            for (size_t i = 0; i < s->nvariants && nc < 256; i++) cands[nc++] = s->variants[i].name;
            const char *best = sim_cfg_closest(tok, cands, nc);
            fprintf(err, "ragsim: error: --variants: '%s' is not a variant of the scenario%s%s%s\n", tok,
                    best ? " (did you mean '" : "", best ? best : "", best ? "'?)" : "");
            free(copy);
            return -1;
        }
        bool dup = false;
        for (size_t i = 0; i < n; i++) dup |= sel[i] == (size_t)k;
        if (!dup) sel[n++] = (size_t)k;
    }
    free(copy);
    if (need_baseline) {
        bool has = false;
        for (size_t i = 0; i < n; i++) has |= sel[i] == s->baseline;
        if (!has) {
            memmove(sel + 1, sel, n * sizeof *sel);
            sel[0] = s->baseline;
            n++;
        }
    }
    return (int)n;
}

static int execute(const rs_opts_t *o, bool compare, FILE *out, FILE *err)
{
    sim_diag_t d;
    sim_diag_init(&d);
    rs_scenario_t s;
    int status = 0;
    sim_trace_t *tr = NULL;
    char *trace_path = NULL;
    sim_table_t summ;
    sim_table_init(&summ, "summary");
    /* the reports of the runs done, per variant, grown as runs finish: an
     * interrupted command frees what it made, nothing per run it did not */
    rs_report_t **reps = NULL;
    size_t *sel = NULL, *nrep = NULL, *repcap = NULL;
    size_t nreports_total = 0;
    bool budget_hit = false, summ_ready = false, handlers = false, committed = false;
    struct sigaction sa = {0}, old_int, old_term;
    size_t nreps = 0, ntasks = 0, ndone = 0;
    int nsel = 0;
    char *ckdir = NULL;
    char *lockpath = NULL;
    int lockfd = -1;
    unsigned char *state = NULL;
    rs_runmeta_t *meta = NULL;
    bool pool_done = false;
    bool json_stdout = o->json && strcmp(o->json, "-") == 0;
    int rc = rs_load(&s, o->scenario, o->sets, o->nsets, &d);
    fputs(sim_diag_text(&d), err);
    if (rc != 0 || d.errors) {
        if (rc == SIM_ENOMEM) fprintf(err, "ragsim: error: out of memory loading %s\n", o->scenario);
        status = rc == SIM_ENOMEM ? 1 : 2;
        goto done;
    }
    s.budget = o->budget;
    uint64_t seed = o->have_seed ? o->seed : s.sc.seed;
    nreps = (size_t)(o->reps > 0 ? o->reps : s.sc.replications);
    s.sc.replications = (int64_t)nreps;
    sel = calloc(s.nvariants + 1, sizeof *sel);
    nrep = calloc(s.nvariants, sizeof *nrep);
    repcap = calloc(s.nvariants, sizeof *repcap);
    reps = calloc(s.nvariants, sizeof *reps);
    if (!sel || !nrep || !repcap || !reps) {
        fprintf(err, "ragsim: error: out of memory\n");
        status = 1;
        goto done;
    }
    nsel = select_variants(&s, o->variants, compare, sel, err);
    if (nsel < 0) {
        status = 2;
        goto done;
    }
    if (compare && s.nvariants < 2) {
        fprintf(err, "ragsim: error: %s has no variants to compare: add a 'variants' mapping (see docs/scenario-format.md)\n",
                o->scenario);
        status = 2;
        goto done;
    }
    if (compare && nsel < 2) {
        fprintf(err, "ragsim: error: --variants leaves only the baseline '%s': nothing to compare with\n",
                s.variants[s.baseline].name);
        status = 2;
        goto done;
    }
    if (compare && nreps < 2)
        fprintf(err, "ragsim: warning: with 1 replication there are no confidence intervals; use --reps N (N >= 2)\n");

    /* From here a signal stops the command cleanly: no temporary file is
     * left behind and an existing trace is left as it was. */
    rs_interrupted = 0;
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, &old_int);
    sigaction(SIGTERM, &sa, &old_term);
    handlers = true;

    trace_path = o->out ? strdup(o->out) : rs_default_output(o->scenario);
    ckdir = trace_path ? malloc(strlen(trace_path) + 6) : NULL;
    if (!trace_path || !ckdir) {
        fprintf(err, "ragsim: error: out of memory\n");
        status = 1;
        goto done;
    }
    sprintf(ckdir, "%s.ckpt", trace_path);
    /* one command at a time per output: a second one would share the checkpoint */
    if ((status = sw_output_lock(trace_path, &lockfd, &lockpath, err)) != 0) goto done;
    const sim_input_t inputs[] = {{o->scenario, "the scenario"}};
    if (!o->no_trace) {
        /* an existing file only with --force, and only a regular file that
         * is not the scenario itself */
        char why[1024];
        if (sim_output_check(trace_path, o->force, inputs, 1, why, sizeof why) != 0) {
            fprintf(err, "ragsim: error: %s\n", why);
            status = 2;
            goto done;
        }
    }
    if (o->json && !json_stdout) {
        char why[1024];
        if (!o->no_trace && strcmp(o->json, trace_path) == 0) {
            fprintf(err, "ragsim: error: --json %s is the trace file too; give the summary another name\n", o->json);
            status = 2;
            goto done;
        }
        if (sim_output_check(o->json, o->force, inputs, 1, why, sizeof why) != 0) {
            fprintf(err, "ragsim: error: --json: %s\n", why);
            status = 2;
            goto done;
        }
    }

    /* the runs: tasks of the sweep's master (experiment/sweep.h), run in
     * this process or by -j workers / MPI ranks, each kept in the
     * checkpoint directory as it finishes */
    sw_job_t job = {.s = &s, .dir = ckdir, .seed = seed, .max_events = o->max_events, .trace = !o->no_trace};
    sw_job_opts_t jo = {.resume = o->resume, .quiet = o->quiet, .progress = o->progress, .jobs = o->jobs};
    ntasks = (size_t)nsel * nreps;
    state = calloc(ntasks ? ntasks : 1, 1);
    meta = calloc(ntasks ? ntasks : 1, sizeof *meta);
    if (!state || !meta) {
        fprintf(err, "ragsim: error: out of memory\n");
        status = 1;
        goto done;
    }
    pool_done = true;   /* sw_job_run shuts the pool down */
    rc = sw_job_run(&job, &jo, o->pool, sel, (size_t)nsel, (int64_t)nreps, state, &ndone, err);
    if (rc == SIM_EINTERRUPTED || rs_interrupted) goto done;
    if (rc == 1 || rc == 2) {
        status = rc;
        goto done;
    }
    budget_hit = rc == SIM_EBUDGET;

    /* the trace, assembled from the runs' files in the order of -j 1: up
     * to a run stopped by a budget, included */
    if (!o->no_trace) {
        char ebuf[512];
        int terr = 0;
        tr = sim_trace_create(trace_path, &terr, ebuf, sizeof ebuf);
        if (!tr) {
            fprintf(err, "ragsim: error: cannot write the trace: %s\n", ebuf);
            status = 1;
            goto done;
        }
        sim_trace_set_replace(tr, o->force);
        sim_trace_set_interrupt(tr, &rs_interrupted);
        if (rs_write_header(tr, &s, seed) != 0) {
            fprintf(err, "ragsim: error: writing the trace header failed: %s\n", sim_trace_errmsg(tr));
            status = 1;
            goto done;
        }
    }
    for (size_t i = 0; i < ntasks && status == 0 && !rs_interrupted; i++) {
        if (state[i] != SW_JOB_DONE && state[i] != SW_JOB_BUDGET) break;
        size_t v = sel[i / nreps];
        uint32_t r = (uint32_t)(i % nreps);
        if (nrep[v] == repcap[v]) {
            size_t nc = repcap[v] ? 2 * repcap[v] : 16;
            if (nc > nreps) nc = nreps;
            rs_report_t *q = realloc(reps[v], nc * sizeof *q);
            if (!q) {
                fprintf(err, "ragsim: error: out of memory after variant '%s' replication %u\n", s.variants[v].name, r);
                status = 1;
                break;
            }
            reps[v] = q;
            repcap[v] = nc;
        }
        rs_report_t *rp = &reps[v][nrep[v]];
        rs_report_init(rp);
        nrep[v]++;
        sw_runinfo_t info;
        char why[1024];
        if (sw_job_read(&job, v, r, rp, &info, why, sizeof why) != 0) {
            fprintf(err, "ragsim: error: variant '%s' replication %u: %s; run the command again without --resume\n",
                    s.variants[v].name, r, why);
            status = 1;
            break;
        }
        nreports_total++;
        meta[i] = (rs_runmeta_t){info.seed, info.events, info.sim_seconds};
        if (!summ_ready) {
            if (rs_summary_init(&summ, rp) != 0) status = 1;
            summ_ready = true;
        }
        if (status == 0 && rs_summary_add_vals(&summ, s.variants[v].name, r, info.seed, info.sim_seconds, info.events, rp) != 0)
            status = 1;
        if (status == 0 && tr) {
            char h5[4200], g[256];
            sw_job_path(&job, v, r, "h5", h5, sizeof h5);
            rs_run_group(g, sizeof g, &s, v, r);
            if ((r == 0 && rs_write_variant(tr, &s, v) != 0) || sim_trace_copy(tr, h5, g, g) != 0) {
                fprintf(err, "ragsim: error: writing variant '%s' replication %u to the trace failed: %s\n",
                        s.variants[v].name, r, sim_trace_errmsg(tr));
                status = 1;
            }
        }
        if (state[i] == SW_JOB_BUDGET) {
            rs_result_t lr = {.limit = (rs_limit_t)info.limit, .limit_value = info.limit_value,
                              .limit_seen = info.limit_seen};
            char lim[512];
            rs_limit_message(&lr, lim, sizeof lim);
            fprintf(err, "ragsim: error: variant '%s' replication %u stopped after %llu events at t = %.6g s: %s\n",
                    s.variants[v].name, r, (unsigned long long)info.events, info.sim_seconds, lim);
            break;
        }
    }
    if (rs_interrupted) goto done;

    /* the comparison */
    cmp_row_t *rows = NULL;
    size_t nrows = 0;
    if (status == 0 && !budget_hit && compare) {
        cmp_variant_t *cv = calloc((size_t)nsel, sizeof *cv);
        size_t base_pos = 0;
        for (int vi = 0; cv && vi < nsel; vi++) {
            cv[vi] = (cmp_variant_t){s.variants[sel[vi]].name, reps[sel[vi]], nrep[sel[vi]]};
            if (sel[vi] == s.baseline) base_pos = (size_t)vi;
        }
        if (!cv || cmp_compute(cv, (size_t)nsel, base_pos, 0.95, s.model, &rows, &nrows) != 0) {
            fprintf(err, "ragsim: error: out of memory comparing the variants\n");
            status = 1;
        }
        free(cv);
        if (status == 0 && tr) {
            sim_table_t ct;
            if (cmp_table(rows, nrows, &ct) != 0 || sim_trace_table(tr, "/comparison", &ct) != 0) {
                fprintf(err, "ragsim: error: writing /comparison failed\n");
                status = 1;
            }
            sim_table_fini(&ct);
        }
    }

    if (status == 0 && tr && !rs_interrupted) {
        /* A run stopped by the budget is kept, and the trace says it is incomplete. */
        char ebuf[512];
        if (sim_trace_attr_i64(tr, "/", "complete", !budget_hit) != 0 || sim_trace_table(tr, "/summary", &summ) != 0) {
            fprintf(err, "ragsim: error: writing the summary table failed: %s\n", sim_trace_errmsg(tr));
            status = 1;
        } else if ((rc = sim_trace_commit(tr, ebuf, sizeof ebuf)) != 0) {
            tr = NULL;
            /* interrupted before the rename: reported below (130/143) */
            if (rc != SIM_EINTERRUPTED) {
                fprintf(err, "ragsim: error: %s\n", ebuf);
                status = rc == SIM_EEXIST ? 2 : 1;
            }
        } else {
            tr = NULL;
            committed = true;   /* a signal from here on changes nothing: the work is done */
        }
    }
    if (status != 0 && ndone > 0 && !budget_hit)
        fprintf(err, "ragsim: the %zu finished runs are kept in %s: run the same command with --resume%s to write "
                     "the trace without running them again\n", ndone, ckdir, status == 2 ? " --force" : "");
    if (status == 0 && (committed || o->no_trace)) {
        sw_job_t cj = {.s = &s, .dir = ckdir};
        sw_job_clean(&cj);   /* every run is in the trace (or was printed) */
    }
    if (status == 0 && budget_hit) {
        if (trace_path && !o->no_trace)
            fprintf(err, "ragsim: the trace %s holds the runs so far, marked incomplete\n", trace_path);
        status = 1;
    } else if (status == 0 && o->json && nreports_total > 0) {
        rs_json_in_t in = {.s = &s, .scenario_file = o->scenario, .compare = compare, .sel = sel, .nsel = (size_t)nsel,
                           .reps = reps, .nrep = nrep, .meta = meta, .nreps = nreps, .seed = seed,
                           .trace_path = o->no_trace ? NULL : trace_path, .rows = rows, .nrows = nrows};
        char why[1024];
        int jr = json_stdout ? rs_json_summary(out, &in) : rs_json_save(o->json, o->force, &in, why, sizeof why);
        if (jr != 0) {
            if (json_stdout) snprintf(why, sizeof why, "writing the JSON summary to standard output failed");
            fprintf(err, "ragsim: error: %s\n", why);
            status = jr == -2 ? 2 : 1;
        }
    }
    if (status == 0 && !budget_hit && !o->quiet && !json_stdout && nreports_total > 0) {
        if (compare) {
            fprintf(out, "scenario '%s': %zu variants x %zu replication%s of %g s (warm-up %g s), seed %llu, "
                         "common random numbers\n",
                    s.sc.name, (size_t)nsel, nreps, nreps == 1 ? "" : "s", sim_time_to_s(s.sc.duration),
                    sim_time_to_s(s.sc.warmup), (unsigned long long)seed);
            /* the scenario's choice of columns, or the key metrics it has that differ somewhere */
            const char *mets[64];
            size_t nm = 0;
            for (size_t k = 0; k < s.ncompare_metrics && nm < 64; k++) {
                bool present = false;
                for (size_t i = 0; i < nrows && !present; i++) present = !strcmp(rows[i].metric, s.compare_metrics[k]);
                if (present) mets[nm++] = s.compare_metrics[k];
                else fprintf(err, "ragsim: warning: compare.metrics: '%s' is not a metric of this scenario\n",
                             s.compare_metrics[k]);
            }
            bool chosen = nm > 0;
            for (const char *const *key = s.model->key_metrics; !chosen && key && *key; key++) {
                bool present = false, varies = false;
                double first = NAN;
                for (size_t i = 0; i < nrows; i++) {
                    if (strcmp(rows[i].metric, *key) != 0) continue;
                    if (!present) first = rows[i].mean;
                    present = true;
                    varies |= rows[i].mean != first || (rows[i].half_width > 0);
                }
                if (present && varies && nm < 7) mets[nm++] = *key;
            }
            cmp_print(out, rows, nrows, mets, nm, s.variants[s.baseline].name);
            if (!o->no_trace) fprintf(out, "\ntrace: %s (per-variant runs, /summary, /comparison)\n", trace_path);
        } else {
            for (int vi = 0; vi < nsel; vi++) {
                size_t v = sel[vi];
                if (s.nvariants > 1) fprintf(out, "%s== variant '%s'%s ==\n", vi ? "\n" : "", s.variants[v].name,
                                             v == s.baseline ? " (baseline)" : "");
                rs_print_summary(out, &s, reps[v], nrep[v], seed, NULL);
            }
            if (!o->no_trace) fprintf(out, "\ntrace: %s\n", trace_path);
        }
    }
    free(rows);
done:
    sw_output_unlock(&lockfd, &lockpath);
    if (o->pool && !pool_done) {
        /* MPI ranks waiting for runs that will not come */
        sw_pool_t *pool = o->pool;
        pool->shutdown(pool->ctx, true);
    }
    sim_trace_abort(tr);
    if (handlers) {
        sigaction(SIGINT, &old_int, NULL);
        sigaction(SIGTERM, &old_term, NULL);
        if (rs_interrupted && status == 0 && !committed) {
            int sig = (int)rs_interrupted;
            fprintf(err, "ragsim: interrupted by %s after %zu of %zu runs; nothing was written%s%s%s",
                    sig == SIGINT ? "SIGINT" : sig == SIGTERM ? "SIGTERM" : "a signal", ndone,
                    nreps * (size_t)nsel, !o->no_trace ? " (" : "", !o->no_trace ? trace_path : "",
                    !o->no_trace ? " is as it was)" : "");
            if (ndone)
                fprintf(err, "; the %zu finished runs are kept in %s: run the same command with --resume to "
                             "complete them", ndone, ckdir ? ckdir : "the checkpoint");
            fputc('\n', err);
            status = 128 + sig;
        }
    }
    for (size_t v = 0; reps && v < s.nvariants; v++) {
        for (size_t i = 0; i < nrep[v]; i++) rs_report_fini(&reps[v][i]);
        free(reps[v]);
    }
    free(reps);
    free(sel);
    free(nrep);
    free(repcap);
    sim_table_fini(&summ);
    free(trace_path);
    free(ckdir);
    free(state);
    free(meta);
    rs_unload(&s);
    sim_diag_fini(&d);
    return status;
}

int rs_cmd_run(const rs_opts_t *o, FILE *out, FILE *err) { return execute(o, false, out, err); }
int rs_cmd_compare(const rs_opts_t *o, FILE *out, FILE *err) { return execute(o, true, out, err); }
