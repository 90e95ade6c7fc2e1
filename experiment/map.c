/* `ragsim map` (map.h): the map's definition (a two-axis sweep built from
 * the command line), its runs (the grid, or bisections over one axis's
 * grid, each round a batch of the sweep's master), the cells' classes,
 * the boundaries, the printed map and the output file's /map group.
 * Calls the sweep's internals (sweep_internal.h), the runner and sim/. */
#include "experiment/map.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "experiment/incident.h"
#include "experiment/sweep_internal.h"
#include "sim/error.h"
#include "sim/json.h"
#include "sim/outfile.h"
#include "sim/table.h"
#include "sim/trace.h"

const char map_usage[] =
    "usage: ragsim map SCENARIO.yaml --load PATH=VALUES --trigger PATH=VALUES\n"
    "                  [--find trigger|load] [--within DURATION] [--variants a,b,...]\n"
    "                  [-o OUT.h5] [-j N] [--resume] [--reps N] [--seed N]\n"
    "                  [--set KEY=VALUE]... [--force] [--json[=FILE]] [-q]\n"
    "\n"
    "Map where the service stops recovering: over load x trigger strength, run every\n"
    "cell (every variant, with replications and common random numbers) and classify it:\n"
    "  recovers    most runs' goodput returns to 95% of its pre-trigger level (within\n"
    "              --within of the trigger's end, if given) and holds for 30 s\n"
    "  metastable  most runs do not recover: the trigger is gone, the failure stays\n"
    "  overloaded  most runs were already below the SLO before the trigger\n"
    "The scenario needs a trigger (faults, or `trigger: {start, end}`).\n"
    "\n"
    "Axes take the values of a sweep file's axis, as YAML (docs/sweeps.md):\n"
    "  --load 'workload.rate={from: 400/s, to: 1200/s, step: 100/s}'\n"
    "  --trigger 'faults.0.factor=[0.9, 0.7, 0.5, 0.3]'   (a list, a linear range\n"
    "            {from, to, step} or a log range {from, to, points})\n"
    "\n"
    "options:\n"
    "      --load PATH=VALUES     the load axis (any scenario value, usually a rate)\n"
    "      --trigger PATH=VALUES  the trigger's strength (factor, duration, size of a spike)\n"
    "      --find trigger         bisect the trigger axis's values along each load (per\n"
    "                             variant) for the boundary, instead of the whole grid\n"
    "      --find load            bisect the load axis along each trigger value\n"
    "      --within DURATION      recovered only if within DURATION of the trigger's end\n"
    "                             (default: by the end of the run)\n"
    "      --variants a,b         map only these variants (default: all the scenario's)\n"
    "  -o, --output OUT.h5        output (default: SCENARIO's stem + -map.h5 in the current\n"
    "                             directory); an existing file only with --force\n"
    "  -j, --jobs N               N worker processes (default 1); same output for any N\n"
    "      --resume               continue from OUT.h5.ckpt\n"
    "      --reps N               replications per cell (default: the scenario's)\n"
    "      --seed N               master seed (default: the scenario's)\n"
    "      --set KEY=VALUE        override a scenario value in every cell\n"
    "      --force                replace an existing OUT.h5 or --json FILE\n"
    "      --json[=FILE]          the cells and the boundary as JSON, schema\n"
    "                             docs/schema/ragsim-map-summary.schema.json (docs/json-summary.md):\n"
    "                             on stdout instead of the tables, or into FILE (temporary, renamed)\n"
    "  -q, --quiet                no tables and no progress bar (--json is still written)\n"
    "\n"
    "Printed: per variant the map (rows: load, columns: trigger; '.' recovers, 'M'\n"
    "metastable, 'X' overloaded, ' ' not run), then per variant and load the boundary\n"
    "along the trigger axis (or per trigger value along the load axis with --find load):\n"
    "the last value that recovers and the first that does not, with the probability of\n"
    "not recovering there (95% Wilson interval). See docs/map.md.\n"
    "On a cluster: mpirun -np N ragsim-mpi map ... (the same output).\n"
    "Exit status: 0 success, 1 runtime failure, 2 bad usage or input, 130/143 interrupted.\n";

#define MAP_NAME "<map>"

void map_wilson(uint64_t k, uint64_t n, double *lo, double *hi)
{
    if (n == 0) {
        *lo = 0;
        *hi = 1;
        return;
    }
    double z = 1.959963984540054, p = (double)k / (double)n, nn = (double)n;
    double den = 1 + z * z / nn, c = (p + z * z / (2 * nn)) / den;
    double h = z * sqrt(p * (1 - p) / nn + z * z / (4 * nn * nn)) / den;
    *lo = fmax(0.0, c - h);
    *hi = fmin(1.0, c + h);
    if (k == 0) *lo = 0;
    if (k == n) *hi = 1;
}

/* ---- the definition ------------------------------------------------------------------ */

/* "PATH=VALUES" split; the path must be a plain scenario path. */
static bool split_axis(const char *arg, const char *opt, char *path, size_t plen, const char **vals, sim_diag_t *d)
{
    const char *eq = arg ? strchr(arg, '=') : NULL;
    if (!arg || !eq || eq == arg || !eq[1]) {
        sim_diag_error_at(d, opt, 1, 1, "expected PATH=VALUES (e.g. %s), got '%s'",
                          !strcmp(opt, "--load") ? "'workload.rate={from: 400/s, to: 1200/s, step: 100/s}'"
                                                 : "'faults.0.factor=[0.9, 0.7, 0.5]'",
                          arg ? arg : "");
        return false;
    }
    size_t n = (size_t)(eq - arg);
    if (n >= plen || strcspn(arg, "'\"\n\\:#{}[], ") < n) {
        sim_diag_error_at(d, opt, 1, 1, "'%.*s' is not a scenario path (dotted keys and indexes, e.g. workload.rate)",
                          (int)n, arg);
        return false;
    }
    memcpy(path, arg, n);
    path[n] = 0;
    *vals = eq + 1;
    if (strchr(*vals, '\n')) {
        sim_diag_error_at(d, opt, 1, (int)n + 2, "the values must be on one line");
        return false;
    }
    return true;
}

/* Messages about the generated sweep text name the option they came from:
 * line 3 is --load's, line 4 --trigger's (column in its argument), line 6
 * --variants; line 1 is the scenario's (its own message follows). */
static void rewrite_diag(const sim_diag_t *src, sim_diag_t *dst, const char *lpath, const char *tpath, int vcol_l,
                         int vcol_t)
{
    const char *t = sim_diag_text(src);
    char line[4096];
    while (*t) {
        size_t n = strcspn(t, "\n");
        snprintf(line, sizeof line, "%.*s", (int)n, t);
        t += n + (t[n] == '\n');
        int ln = 0, col = 0, off = 0;
        if (sscanf(line, MAP_NAME ":%d:%d: %n", &ln, &col, &off) == 2 && off > 0) {
            const char *msg = line + off;
            if (!strncmp(msg, "error: ", 7)) msg += 7;
            if (ln == 3 || ln == 4) {
                const char *p = ln == 3 ? lpath : tpath;
                int vc = ln == 3 ? vcol_l : vcol_t;
                int c = col >= vc ? (int)strlen(p) + 1 + (col - vc) + 1 : 1;
                sim_diag_error_at(dst, ln == 3 ? "--load" : "--trigger", 1, c, "%s", msg);
            } else if (ln == 6) sim_diag_error_at(dst, "--variants", 1, 1, "%s", msg);
            else sim_diag_error_at(dst, "ragsim map", 1, 1, "%s", msg);
        } else if (line[0]) {
            /* a message that is not about the generated text: as it is */
            sim_diag_error_at(dst, "ragsim map", 1, 1, "%s", line);
        }
    }
}

int map_load_def(const sw_opts_t *o, sw_def_t *def, sim_diag_t *d)
{
    const map_opts_t *mo = o->cmd;
    char lpath[256], tpath[256];
    const char *lv = NULL, *tv = NULL;
    memset(def, 0, sizeof *def);
    def->load = -1;
    bool ok = split_axis(mo->load, "--load", lpath, sizeof lpath, &lv, d);
    ok = split_axis(mo->trigger, "--trigger", tpath, sizeof tpath, &tv, d) && ok;
    if (!ok) return SIM_ECONFIG;
    if (!strcmp(lpath, tpath)) {
        sim_diag_error_at(d, "--trigger", 1, 1, "the trigger axis '%s' is the load axis: name another scenario value",
                          tpath);
        return SIM_ECONFIG;
    }
    const char *scen = o->sweep;
    if (strpbrk(scen, "'\n")) {
        sim_diag_error_at(d, scen, 1, 1, "ragsim map cannot name a scenario file whose name has a quote or a newline");
        return SIM_ECONFIG;
    }
    size_t cap = strlen(scen) + strlen(lv) + strlen(tv) + 2 * sizeof lpath + (mo->variants ? 3 * strlen(mo->variants) : 0) + 256;
    char *text = malloc(cap);
    if (!text) return SIM_ENOMEM;
    /* line 1 scenario, 2 axes:, 3 load axis, 4 trigger axis, 5 load:, 6 variants */
    int k = snprintf(text, cap, "scenario: '%s'\naxes:\n", scen);
    int vcol_l = 3 + (int)strlen(lpath) + 2, vcol_t = 3 + (int)strlen(tpath) + 2;
    k += snprintf(text + k, cap - (size_t)k, "  %s: %s\n  %s: %s\nload: %s\n", lpath, lv, tpath, tv, lpath);
    if (mo->variants) {
        k += snprintf(text + k, cap - (size_t)k, "variants: [");
        const char *v = mo->variants;
        bool first = true;
        while (*v) {
            size_t n = strcspn(v, ",");
            if (strpbrk(v, "'\"[]{}") && strpbrk(v, "'\"[]{}") < v + n) {
                free(text);
                sim_diag_error_at(d, "--variants", 1, 1, "expected variant names separated by commas, got '%s'",
                                  mo->variants);
                return SIM_ECONFIG;
            }
            k += snprintf(text + k, cap - (size_t)k, "%s'%.*s'", first ? "" : ", ", (int)n, v);
            first = false;
            v += n + (v[n] == ',');
        }
        k += snprintf(text + k, cap - (size_t)k, "]\n");
    }
    sim_diag_t sd;
    sim_diag_init(&sd);
    int rc = sw_def_load_text(def, MAP_NAME, text, o->sets, o->nsets, o->reps, o->have_seed, o->seed, &sd);
    if (rc) rewrite_diag(&sd, d, lpath, tpath, vcol_l, vcol_t);
    if (sd.nomem) d->nomem = true;
    sim_diag_fini(&sd);
    free(text);
    if (rc == 0 && (def->axes[0].kind == SW_TEXT || def->axes[1].kind == SW_TEXT)) {
        sim_diag_error_at(d, def->axes[0].kind == SW_TEXT ? "--load" : "--trigger", 1, 1,
                          "the axis '%s' needs numeric values (numbers, durations, sizes or rates)",
                          def->axes[def->axes[0].kind == SW_TEXT ? 0 : 1].path);
        rc = SIM_ECONFIG;
    }
    return rc;
}

/* ---- cells and boundaries -------------------------------------------------------------- */

typedef struct cell {
    uint32_t variant;
    size_t li, ti;                  /* indexes in the load and trigger axes */
    size_t first, n;                /* runs sorted[first .. first+n) */
    size_t n_over, n_norec;         /* overloaded before the trigger; not overloaded, not recovered */
    double p, p_lo, p_hi;           /* P(not recovering) = (n_over + n_norec) / n, Wilson 95% */
    int cls;
    double rt_median, rt_p90, rt_max;   /* recovery times of the runs that recovered, s; NaN: none */
} cell_t;

typedef struct boundary {
    uint32_t variant;
    size_t fixed;                   /* index along the other axis */
    int status;                     /* 0 bracketed, 1 every value recovers, 2 none does */
    size_t safe, unsafe;            /* indexes along the searched axis (status 0) */
} boundary_t;

/* A cell is unsafe when most of its runs fail (overloaded or not recovered). */
static bool cell_unsafe(const cell_t *c) { return 2 * (c->n_over + c->n_norec) > c->n; }

typedef struct mapper {
    const sw_def_t *def;
    const map_opts_t *mo;
    int along;                      /* the searched axis: 1 trigger, 0 load */
    sw_result_t *runs;
    size_t nruns;
    cell_t *cells;
    size_t ncells;
    boundary_t *bs;
    size_t nbs;
} mapper_t;

static int result_cmp(const void *a, const void *b) { return sw_result_cmp(a, b); }

static int dbl_cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* Classify the runs in [first, first+n) (sorted, one cell). */
static void classify(const mapper_t *mp, cell_t *c, double *tmp)
{
    size_t nrt = 0;
    for (size_t i = c->first; i < c->first + c->n; i++) {
        const sw_result_t *r = &mp->runs[i];
        double met = sw_run_metric(r, INC_PRE_TRIGGER_SLO_MET), rec = sw_run_metric(r, INC_RECOVERED);
        double rt = sw_run_metric(r, INC_RECOVERY_TIME);
        if (met == 0) c->n_over++;
        else if (!(rec == 1) || !(rt <= mp->mo->within)) c->n_norec++;
        if (rec == 1 && isfinite(rt)) tmp[nrt++] = rt;
    }
    c->p = c->n ? (double)(c->n_over + c->n_norec) / (double)c->n : NAN;
    map_wilson(c->n_over + c->n_norec, c->n, &c->p_lo, &c->p_hi);
    c->cls = 2 * c->n_over > c->n ? MAP_OVERLOADED : cell_unsafe(c) ? MAP_METASTABLE : MAP_RECOVERS;
    c->rt_median = c->rt_p90 = c->rt_max = NAN;
    if (nrt) {
        qsort(tmp, nrt, sizeof *tmp, dbl_cmp);
        c->rt_median = nrt % 2 ? tmp[nrt / 2] : (tmp[nrt / 2 - 1] + tmp[nrt / 2]) / 2;
        c->rt_p90 = tmp[(size_t)ceil(0.9 * (double)nrt) - 1];   /* nearest rank */
        c->rt_max = tmp[nrt - 1];
    }
}

/* Sort the runs and group them into cells (grid points x variants). */
static int make_cells(mapper_t *mp)
{
    qsort(mp->runs, mp->nruns, sizeof *mp->runs, result_cmp);
    free(mp->cells);
    mp->cells = calloc(mp->nruns + 1, sizeof *mp->cells);
    double *tmp = calloc(mp->nruns + 1, sizeof *tmp);
    if (!mp->cells || !tmp) {
        free(tmp);
        return SIM_ENOMEM;
    }
    mp->ncells = 0;
    for (size_t i = 0; i < mp->nruns;) {
        size_t j = i;
        while (j < mp->nruns && mp->runs[j].task.point == mp->runs[i].task.point &&
               mp->runs[j].task.variant == mp->runs[i].task.variant)
            j++;
        cell_t *c = &mp->cells[mp->ncells++];
        size_t coord[SW_MAX_AXES];
        sw_point_coords(mp->def, mp->runs[i].task.point, coord);
        c->variant = mp->runs[i].task.variant;
        c->li = coord[0];
        c->ti = coord[1];
        c->first = i;
        c->n = j - i;
        classify(mp, c, tmp);
        i = j;
    }
    free(tmp);
    return 0;
}

static const cell_t *find_cell(const mapper_t *mp, uint32_t v, size_t li, size_t ti)
{
    size_t lo = 0, hi = mp->ncells;
    uint64_t p = (uint64_t)li * mp->def->axes[1].n + ti;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        const cell_t *c = &mp->cells[mid];
        uint64_t cp = (uint64_t)c->li * mp->def->axes[1].n + c->ti;
        if (cp < p || (cp == p && c->variant < v)) lo = mid + 1;
        else hi = mid;
    }
    if (lo < mp->ncells) {
        const cell_t *c = &mp->cells[lo];
        if (c->variant == v && c->li == li && c->ti == ti) return c;
    }
    return NULL;
}

/* Index k along the searched axis, the other at `fixed`: the grid point. */
static uint64_t point_of(const mapper_t *mp, size_t fixed, size_t k)
{
    size_t li = mp->along ? fixed : k, ti = mp->along ? k : fixed;
    return (uint64_t)li * mp->def->axes[1].n + ti;
}

static const cell_t *cell_at(const mapper_t *mp, uint32_t v, size_t fixed, size_t k)
{
    return mp->along ? find_cell(mp, v, fixed, k) : find_cell(mp, v, k, fixed);
}

/* Boundaries from the cells (grid mode): along the searched axis, the ends
 * decide the direction; the bracket is the last recovering value before
 * the first unsafe one seen from the safe end. */
static int grid_boundaries(mapper_t *mp)
{
    const sw_def_t *def = mp->def;
    size_t nfix = def->axes[!mp->along].n, nk = def->axes[mp->along].n;
    mp->bs = calloc(nfix * def->nvariants + 1, sizeof *mp->bs);
    if (!mp->bs) return SIM_ENOMEM;
    mp->nbs = 0;
    for (uint32_t v = 0; v < def->nvariants; v++)
        for (size_t f = 0; f < nfix; f++) {
            boundary_t *b = &mp->bs[mp->nbs++];
            *b = (boundary_t){.variant = v, .fixed = f};
            const cell_t *a = cell_at(mp, v, f, 0), *z = cell_at(mp, v, f, nk - 1);
            if (!a || !z) continue;
            bool ua = cell_unsafe(a), uz = cell_unsafe(z);
            if (ua == uz) {
                b->status = ua ? 2 : 1;
                continue;
            }
            int step = ua ? -1 : 1;
            size_t k = ua ? nk - 1 : 0;
            for (;;) {
                size_t nx = (size_t)((long)k + step);
                const cell_t *c = cell_at(mp, v, f, nx);
                if (c && cell_unsafe(c)) {
                    b->safe = k;
                    b->unsafe = nx;
                    break;
                }
                k = nx;
            }
        }
    return 0;
}

/* --find: per (variant, value of the other axis), bisect the searched
 * axis's grid indexes: both ends first, then midpoints until the safe and
 * the unsafe index are neighbours; each round one batch. */
static int bisect(mapper_t *mp, master_t *m, size_t *bad)
{
    const sw_def_t *def = mp->def;
    size_t reps = (size_t)def->replications, nv = def->nvariants;
    size_t nfix = def->axes[!mp->along].n, nk = def->axes[mp->along].n;
    size_t nb = nfix * nv, cap = 0;
    int rc = SIM_ENOMEM;
    mp->bs = calloc(nb + 1, sizeof *mp->bs);
    int *phase = calloc(nb + 1, sizeof *phase);   /* 0 ends, 1 bisecting, 2 done */
    sw_task_t *tasks = calloc(nb * reps * 2 + 1, sizeof *tasks);
    sw_result_t *res = calloc(nb * reps * 2 + 1, sizeof *res);
    if (!mp->bs || !phase || !tasks || !res) goto out;
    mp->nbs = nb;
    for (uint32_t v = 0; v < nv; v++)
        for (size_t f = 0; f < nfix; f++) mp->bs[v * nfix + f] = (boundary_t){.variant = v, .fixed = f};
    size_t rounds = 2;
    for (size_t w = nk - 1; w > 1; w = (w + 1) / 2) rounds++;
    m->total = nb * reps * (rounds + 1);
    for (int round = 0;; round++) {
        size_t k = 0;
        for (size_t i = 0; i < nb; i++) {
            boundary_t *b = &mp->bs[i];
            if (phase[i] == 2) continue;
            size_t ks[2] = {round == 0 ? 0 : (b->safe + b->unsafe) / 2, nk - 1};
            for (int q = 0; q < (round == 0 ? 2 : 1); q++)
                for (uint32_t r = 0; r < reps; r++)
                    tasks[k++] = (sw_task_t){.point = point_of(mp, b->fixed, ks[q]), .seed_index = 0, .load = NAN,
                                             .variant = b->variant, .rep = r};
        }
        if (k == 0) break;
        *bad = sw_run_batch(m, tasks, k, res);
        if (*bad) break;
        if (sw_append_runs(&mp->runs, &mp->nruns, &cap, res, k)) goto out;
        if (make_cells(mp)) goto out;
        for (size_t i = 0; i < nb; i++) {
            boundary_t *b = &mp->bs[i];
            if (phase[i] == 2) continue;
            if (round == 0) {
                bool ua = cell_unsafe(cell_at(mp, b->variant, b->fixed, 0));
                bool uz = cell_unsafe(cell_at(mp, b->variant, b->fixed, nk - 1));
                if (ua == uz) {
                    b->status = ua ? 2 : 1;
                    phase[i] = 2;
                    continue;
                }
                b->safe = ua ? nk - 1 : 0;
                b->unsafe = ua ? 0 : nk - 1;
                phase[i] = 1;
            } else {
                size_t mid = (b->safe + b->unsafe) / 2;
                if (cell_unsafe(cell_at(mp, b->variant, b->fixed, mid))) b->unsafe = mid;
                else b->safe = mid;
            }
            size_t gap = b->safe > b->unsafe ? b->safe - b->unsafe : b->unsafe - b->safe;
            if (gap <= 1) phase[i] = 2;
        }
    }
    rc = 0;
out:
    free(phase);
    free(tasks);
    free(res);
    return rc;
}

/* ---- printing ---------------------------------------------------------------------------- */

static void value_text(const sw_def_t *def, size_t axis, size_t k, char *buf, size_t n)
{
    sw_format_human(def->axes[axis].kind, def->axes[axis].value[k], buf, n);
}

static void print_maps(FILE *out, const mapper_t *mp)
{
    const sw_def_t *def = mp->def;
    const sw_axis_t *la = &def->axes[0], *ta = &def->axes[1];
    for (uint32_t v = 0; v < def->nvariants; v++) {
        fprintf(out, "\nvariant %s: rows %s (load), columns %s (trigger)\n", def->variants[v], la->path, ta->path);
        fprintf(out, "  '.' recovers, 'M' does not recover (metastable), 'X' overloaded before the trigger, ' ' not run\n");
        char buf[64];
        for (size_t li = la->n; li-- > 0;) {
            value_text(def, 0, li, buf, sizeof buf);
            fprintf(out, "  %12s |", buf);
            for (size_t ti = 0; ti < ta->n; ti++) {
                const cell_t *c = find_cell(mp, v, li, ti);
                fputc(' ', out);
                fputc(!c ? ' ' : c->cls == MAP_OVERLOADED ? 'X' : c->cls == MAP_METASTABLE ? 'M' : '.', out);
            }
            fputc('\n', out);
        }
        fprintf(out, "  %12s +", "");
        for (size_t ti = 0; ti < ta->n; ti++) fputs("--", out);
        fprintf(out, "\n  %12s  ", "");
        for (size_t ti = 0; ti < ta->n; ti++) fputs(ti % 2 == 0 ? " ^" : "  ", out);
        fprintf(out, "\n  %s: ", ta->path);
        for (size_t ti = 0; ti < ta->n; ti += 2) {
            value_text(def, 1, ti, buf, sizeof buf);
            fprintf(out, "%s%s", ti ? ", " : "", buf);
        }
        fprintf(out, " (every other column)\n");
    }
}

static void print_boundaries(FILE *out, const mapper_t *mp)
{
    const sw_def_t *def = mp->def;
    int s = mp->along, f = !mp->along;
    fprintf(out, "\nboundary along %s (%s): the last value that recovers | the first that does not, "
                 "P(not recovering) there with its 95%% Wilson interval\n",
            def->axes[s].path, s ? "the trigger" : "the load");
    fprintf(out, "  %-20s %-14s %-26s %-26s\n", "variant", f ? "trigger" : "load", "recovers at", "does not recover at");
    for (size_t i = 0; i < mp->nbs; i++) {
        const boundary_t *b = &mp->bs[i];
        char fx[64], a[96], z[96], va[64], vz[64];
        value_text(def, (size_t)f, b->fixed, fx, sizeof fx);
        if (b->status == 1) {
            fprintf(out, "  %-20s %-14s every value recovers\n", def->variants[b->variant], fx);
            continue;
        }
        if (b->status == 2) {
            const cell_t *c = cell_at(mp, b->variant, b->fixed, 0);
            fprintf(out, "  %-20s %-14s no value recovers%s\n", def->variants[b->variant], fx,
                    c && c->cls == MAP_OVERLOADED ? " (overloaded before the trigger)" : "");
            continue;
        }
        const cell_t *cs = cell_at(mp, b->variant, b->fixed, b->safe), *cu = cell_at(mp, b->variant, b->fixed, b->unsafe);
        value_text(def, (size_t)s, b->safe, va, sizeof va);
        value_text(def, (size_t)s, b->unsafe, vz, sizeof vz);
        snprintf(a, sizeof a, "%s P=%.2f [%.2f, %.2f]", va, cs->p, cs->p_lo, cs->p_hi);
        snprintf(z, sizeof z, "%s P=%.2f [%.2f, %.2f]%s", vz, cu->p, cu->p_lo, cu->p_hi,
                 cu->cls == MAP_OVERLOADED ? " overloaded" : "");
        fprintf(out, "  %-20s %-14s %-26s %-26s\n", def->variants[b->variant], fx, a, z);
    }
}

/* ---- the output file --------------------------------------------------------------------- */

static int write_map(sim_trace_t *tr, void *ctx)
{
    const mapper_t *mp = ctx;
    const sw_def_t *def = mp->def;
    const map_opts_t *mo = mp->mo;
    int rc = 0;
    rc |= sim_trace_attr_str(tr, "/", "format", "ragsim-map");
    rc |= sim_trace_attr_i64(tr, "/", "format_version", 2);
    rc |= sim_trace_attr_str(tr, "/", "ragsim_version", RAGSIM_VERSION);
    rc |= sim_trace_attr_str(tr, "/", "scenario_file", def->scenario_path);
    rc |= sim_trace_attr_i64(tr, "/", "master_seed", (int64_t)def->seed);
    rc |= sim_trace_attr_i64(tr, "/", "replications", def->replications);
    rc |= sim_trace_attr_str(tr, "/", "mode", mo->find == MAP_GRID ? "grid" : mo->find == MAP_FIND_TRIGGER ? "find-trigger"
                                                                                                        : "find-load");
    rc |= sim_trace_attr_str(tr, "/", "load_axis", def->axes[0].path);
    rc |= sim_trace_attr_str(tr, "/", "trigger_axis", def->axes[1].path);
    rc |= sim_trace_attr_str(tr, "/", "load_unit", sw_kind_unit(def->axes[0].kind));
    rc |= sim_trace_attr_str(tr, "/", "trigger_unit", sw_kind_unit(def->axes[1].kind));
    rc |= sim_trace_attr_f64(tr, "/", "within_s", mo->within);
    rc |= sim_trace_attr_f64(tr, "/", "slo_success_ratio", def->slo_success);
    rc |= sim_trace_attr_f64(tr, "/", "slo_latency_p95_s", def->slo_p95);
    sim_table_t vt;
    sim_table_init(&vt, "variants");
    sim_table_col_str(&vt, "name", 64);
    for (size_t i = 0; i < def->nvariants; i++) {
        unsigned char *row = sim_table_append(&vt);
        if (!row) {
            sim_table_fini(&vt);
            return SIM_ENOMEM;
        }
        sim_row_str(&vt, row, 0, def->variants[i]);
    }
    rc |= sim_trace_table(tr, "/map/variants", &vt);
    sim_table_fini(&vt);
    rc |= sim_trace_f64(tr, "/map/load_values", def->axes[0].value, def->axes[0].n, sw_kind_unit(def->axes[0].kind),
                        "the load axis's grid");
    rc |= sim_trace_f64(tr, "/map/trigger_values", def->axes[1].value, def->axes[1].n, sw_kind_unit(def->axes[1].kind),
                        "the trigger axis's grid");

    sim_table_t rt;
    sim_table_init(&rt, "runs");
    sim_table_col_i64(&rt, "variant", "1");
    sim_table_col_f64(&rt, "load", sw_kind_unit(def->axes[0].kind));
    sim_table_col_f64(&rt, "trigger", sw_kind_unit(def->axes[1].kind));
    sim_table_col_i64(&rt, "replication", "1");
    sim_table_col_i64(&rt, "seed", "1");
    sim_table_col_i64(&rt, "events_processed", "1");
    sim_table_col_f64(&rt, "recovered", "1");
    sim_table_col_f64(&rt, "recovery_time_s", "s");
    sim_table_col_f64(&rt, "pre_trigger_slo_met", "1");
    sim_table_col_f64(&rt, "success_ratio", "1");
    sim_table_col_f64(&rt, "time_below_slo_s", "s");
    for (size_t i = 0; i < mp->nruns; i++) {
        const sw_result_t *r = &mp->runs[i];
        size_t coord[SW_MAX_AXES];
        sw_point_coords(def, r->task.point, coord);
        unsigned char *row = sim_table_append(&rt);
        if (!row) {
            sim_table_fini(&rt);
            return SIM_ENOMEM;
        }
        sim_row_i64(&rt, row, 0, r->task.variant);
        sim_row_f64(&rt, row, 1, def->axes[0].value[coord[0]]);
        sim_row_f64(&rt, row, 2, def->axes[1].value[coord[1]]);
        sim_row_i64(&rt, row, 3, r->task.rep);
        sim_row_i64(&rt, row, 4, (int64_t)r->seed);
        sim_row_i64(&rt, row, 5, (int64_t)r->events);
        sim_row_f64(&rt, row, 6, sw_run_metric(r, INC_RECOVERED));
        sim_row_f64(&rt, row, 7, sw_run_metric(r, INC_RECOVERY_TIME));
        sim_row_f64(&rt, row, 8, sw_run_metric(r, INC_PRE_TRIGGER_SLO_MET));
        sim_row_f64(&rt, row, 9, sw_run_metric(r, "success_ratio"));
        sim_row_f64(&rt, row, 10, sw_run_metric(r, INC_TIME_BELOW_SLO));
    }
    rc |= sim_trace_table(tr, "/map/runs", &rt);
    sim_table_fini(&rt);

    sim_table_t ct;
    sim_table_init(&ct, "cells");
    sim_table_col_i64(&ct, "variant", "1");
    sim_table_col_f64(&ct, "load", sw_kind_unit(def->axes[0].kind));
    sim_table_col_f64(&ct, "trigger", sw_kind_unit(def->axes[1].kind));
    sim_table_col_i64(&ct, "n", "1");
    sim_table_col_i64(&ct, "n_overloaded", "1");
    sim_table_col_i64(&ct, "n_not_recovered", "1");
    sim_table_col_f64(&ct, "p_not_recovering", "1");
    sim_table_col_f64(&ct, "p_lo", "1");
    sim_table_col_f64(&ct, "p_hi", "1");
    sim_table_col_i64(&ct, "class", "1");
    sim_table_col_f64(&ct, "recovery_time_median_s", "s");
    sim_table_col_f64(&ct, "recovery_time_p90_s", "s");
    sim_table_col_f64(&ct, "recovery_time_max_s", "s");
    for (size_t i = 0; i < mp->ncells; i++) {
        const cell_t *c = &mp->cells[i];
        unsigned char *row = sim_table_append(&ct);
        if (!row) {
            sim_table_fini(&ct);
            return SIM_ENOMEM;
        }
        sim_row_i64(&ct, row, 0, c->variant);
        sim_row_f64(&ct, row, 1, def->axes[0].value[c->li]);
        sim_row_f64(&ct, row, 2, def->axes[1].value[c->ti]);
        sim_row_i64(&ct, row, 3, (int64_t)c->n);
        sim_row_i64(&ct, row, 4, (int64_t)c->n_over);
        sim_row_i64(&ct, row, 5, (int64_t)c->n_norec);
        sim_row_f64(&ct, row, 6, c->p);
        sim_row_f64(&ct, row, 7, c->p_lo);
        sim_row_f64(&ct, row, 8, c->p_hi);
        sim_row_i64(&ct, row, 9, c->cls);
        sim_row_f64(&ct, row, 10, c->rt_median);
        sim_row_f64(&ct, row, 11, c->rt_p90);
        sim_row_f64(&ct, row, 12, c->rt_max);
    }
    rc |= sim_trace_table(tr, "/map/cells", &ct);
    sim_table_fini(&ct);

    int s = mp->along, f = !mp->along;
    sim_table_t bt;
    sim_table_init(&bt, "boundary");
    sim_table_col_i64(&bt, "variant", "1");
    sim_table_col_str(&bt, "along", 16);
    sim_table_col_f64(&bt, "fixed", sw_kind_unit(def->axes[f].kind));
    sim_table_col_i64(&bt, "status", "1");
    sim_table_col_f64(&bt, "recovers_at", sw_kind_unit(def->axes[s].kind));
    sim_table_col_f64(&bt, "fails_at", sw_kind_unit(def->axes[s].kind));
    sim_table_col_f64(&bt, "boundary", sw_kind_unit(def->axes[s].kind));
    sim_table_col_f64(&bt, "p_recovers_at", "1");
    sim_table_col_f64(&bt, "p_fails_at", "1");
    for (size_t i = 0; i < mp->nbs; i++) {
        const boundary_t *b = &mp->bs[i];
        unsigned char *row = sim_table_append(&bt);
        if (!row) {
            sim_table_fini(&bt);
            return SIM_ENOMEM;
        }
        sim_row_i64(&bt, row, 0, b->variant);
        sim_row_str(&bt, row, 1, s ? "trigger" : "load");
        sim_row_f64(&bt, row, 2, def->axes[f].value[b->fixed]);
        sim_row_i64(&bt, row, 3, b->status);
        double a = NAN, z = NAN, pa = NAN, pz = NAN;
        if (b->status == 0) {
            a = def->axes[s].value[b->safe];
            z = def->axes[s].value[b->unsafe];
            pa = cell_at(mp, b->variant, b->fixed, b->safe)->p;
            pz = cell_at(mp, b->variant, b->fixed, b->unsafe)->p;
        }
        sim_row_f64(&bt, row, 4, a);
        sim_row_f64(&bt, row, 5, z);
        sim_row_f64(&bt, row, 6, (a + z) / 2);
        sim_row_f64(&bt, row, 7, pa);
        sim_row_f64(&bt, row, 8, pz);
    }
    rc |= sim_trace_table(tr, "/map/boundary", &bt);
    sim_table_fini(&bt);
    return rc ? SIM_EHDF5 : 0;
}

/* ---- the JSON summary (--json) ------------------------------------------------------------ */

typedef struct map_json {
    const mapper_t *mp;
    const char *outpath;
} map_json_t;

static const char *const CLASS_NAME[] = {"recovers", "metastable", "overloaded"};

/* The document docs/schema/ragsim-map-summary.schema.json checks: the same values as the
 * output's /map/cells and /map/boundary. */
static int map_json(FILE *f, void *ctx)
{
    const map_json_t *w = ctx;
    const mapper_t *mp = w->mp;
    const sw_def_t *def = mp->def;
    const map_opts_t *mo = mp->mo;
    int s = mp->along, fx = !mp->along;
    sim_json_t j;
    sim_json_init(&j, f, 2);
    sim_json_begin_obj(&j, NULL);
    sim_json_str(&j, "format", "ragsim-map-summary");
    sim_json_int(&j, "format_version", 1);
    sim_json_str(&j, "command", "map");
    sim_json_str(&j, "ragsim_version", RAGSIM_VERSION);
    sim_json_str(&j, "scenario_file", def->scenario_path);
    sim_json_uint(&j, "master_seed", def->seed);
    sim_json_int(&j, "replications", def->replications);
    sim_json_str(&j, "mode", mo->find == MAP_GRID ? "grid" : mo->find == MAP_FIND_TRIGGER ? "find-trigger" : "find-load");
    sim_json_str(&j, "load_axis", def->axes[0].path);
    sim_json_str(&j, "load_unit", sw_kind_unit(def->axes[0].kind));
    sim_json_str(&j, "trigger_axis", def->axes[1].path);
    sim_json_str(&j, "trigger_unit", sw_kind_unit(def->axes[1].kind));
    sim_json_num(&j, "within_s", mo->within);
    sim_json_num(&j, "slo_success_ratio", def->slo_success);
    sim_json_num(&j, "slo_latency_p95_s", def->slo_p95);
    sim_json_str(&j, "output", w->outpath);
    sim_json_begin_arr(&j, "variants");
    for (size_t i = 0; i < def->nvariants; i++) sim_json_str(&j, NULL, def->variants[i]);
    sim_json_end(&j);
    sim_json_begin_arr(&j, "cells");
    for (size_t i = 0; i < mp->ncells; i++) {
        const cell_t *c = &mp->cells[i];
        sim_json_begin_obj(&j, NULL);
        sim_json_str(&j, "variant", def->variants[c->variant]);
        sim_json_num(&j, "load", def->axes[0].value[c->li]);
        sim_json_num(&j, "trigger", def->axes[1].value[c->ti]);
        sim_json_uint(&j, "n", c->n);
        sim_json_uint(&j, "n_overloaded", c->n_over);
        sim_json_uint(&j, "n_not_recovered", c->n_norec);
        sim_json_num(&j, "p_not_recovering", c->p);
        sim_json_num(&j, "p_lo", c->p_lo);
        sim_json_num(&j, "p_hi", c->p_hi);
        sim_json_str(&j, "class", c->cls >= 0 && c->cls < 3 ? CLASS_NAME[c->cls] : NULL);
        sim_json_num(&j, "recovery_time_median_s", c->rt_median);
        sim_json_num(&j, "recovery_time_p90_s", c->rt_p90);
        sim_json_num(&j, "recovery_time_max_s", c->rt_max);
        sim_json_end(&j);
    }
    sim_json_end(&j);
    sim_json_begin_arr(&j, "boundary");
    for (size_t i = 0; i < mp->nbs; i++) {
        const boundary_t *b = &mp->bs[i];
        sim_json_begin_obj(&j, NULL);
        sim_json_str(&j, "variant", def->variants[b->variant]);
        sim_json_str(&j, "along", s ? "trigger" : "load");
        sim_json_num(&j, "fixed", def->axes[fx].value[b->fixed]);
        sim_json_str(&j, "status", b->status == 0 ? "bracketed" : b->status == 1 ? "every value recovers"
                                                                                  : "no value recovers");
        double a = NAN, z = NAN, pa = NAN, pz = NAN;
        if (b->status == 0) {
            a = def->axes[s].value[b->safe];
            z = def->axes[s].value[b->unsafe];
            pa = cell_at(mp, b->variant, b->fixed, b->safe)->p;
            pz = cell_at(mp, b->variant, b->fixed, b->unsafe)->p;
        }
        sim_json_num(&j, "recovers_at", a);
        sim_json_num(&j, "fails_at", z);
        sim_json_num(&j, "boundary", (a + z) / 2);
        sim_json_num(&j, "p_recovers_at", pa);
        sim_json_num(&j, "p_fails_at", pz);
        sim_json_end(&j);
    }
    sim_json_end(&j);
    sim_json_end(&j);
    return sim_json_finish(&j);
}

/* ---- the command --------------------------------------------------------------------------- */

/* SCENARIO's stem + "-map.h5" in the current directory. */
static char *default_output(const char *scen)
{
    char *base = rs_default_output(scen);
    if (!base) return NULL;
    size_t n = strlen(base);
    char *p = malloc(n + 5);
    if (p) {
        snprintf(p, n + 5, "%.*s-map.h5", (int)(n > 3 ? n - 3 : n), base);
    }
    free(base);
    return p;
}

int map_cmd(const sw_opts_t *o, sw_pool_t *pool, FILE *out, FILE *err)
{
    const map_opts_t *mo = o->cmd;
    sw_def_t def;
    sim_diag_t d;
    sim_diag_init(&d);
    master_t m = {.o = o, .err = err};
    sw_pool_t fork_pool;
    mapper_t mp = {.def = &def, .mo = mo, .along = mo->find == MAP_FIND_LOAD ? 0 : 1};
    sw_task_t *tasks = NULL;
    sw_result_t *res = NULL;
    char *outpath = NULL;
    int status = 2;
    sw_master_signals(&m);

    int rc = map_load_def(o, &def, &d);
    if (rc == SIM_ECONFIG && d.nomem) rc = SIM_ENOMEM;
    fputs(sim_diag_text(&d), err);
    if (rc) {
        if (rc == SIM_ENOMEM) fprintf(err, "ragsim: error: out of memory loading %s\n", o->sweep);
        status = rc == SIM_ENOMEM ? 1 : 2;
        goto out;
    }
    {
        /* a trigger to recover from */
        rs_scenario_t s;
        sim_diag_t sd;
        sim_diag_init(&sd);
        rc = sw_load_point(&def, NULL, NAN, &s, &sd);
        bool trig = rc == 0 && !isnan(s.trigger_start);
        rs_unload(&s);
        sim_diag_fini(&sd);
        if (rc == SIM_ENOMEM) {
            status = 1;
            goto out;
        }
        if (!trig) {
            fprintf(err, "%s: error: the scenario has no trigger to recover from (a fault under `faults`, or "
                         "`trigger: {start, end}`)\n", o->sweep);
            goto out;
        }
    }
    if (mo->find != MAP_GRID && def.axes[mp.along].n < 2) {
        fprintf(err, "ragsim: error: --find %s bisects between the axis's first and last values: '%s' needs at least "
                     "two\n", mp.along ? "trigger" : "load", def.axes[mp.along].path);
        goto out;
    }
    outpath = o->out ? strdup(o->out) : default_output(o->sweep);
    if (!outpath) {
        status = 1;
        goto out;
    }
    bool json_stdout = o->json && strcmp(o->json, "-") == 0;
    bool quiet = o->quiet || json_stdout;
    {
        const sim_input_t inputs[] = {{o->sweep, "the scenario"}};
        if (o->json && !json_stdout) {
            char why[1024];
            if (strcmp(o->json, outpath) == 0) {
                fprintf(err, "ragsim: error: --json %s is the output file too; give the summary another name\n", o->json);
                goto out;
            }
            if (sim_output_check(o->json, o->force, inputs, 1, why, sizeof why) != 0) {
                fprintf(err, "ragsim: error: --json: %s\n", why);
                goto out;
            }
        }
        if ((status = sw_master_start(&m, &def, o, pool, &fork_pool, outpath, inputs, 1,
                                      def.hash ^ 0x6d61702d6d6f6465ull)) != 0)
            goto out;
        pool = m.pool;
    }
    status = 1;
    size_t reps = (size_t)def.replications, nv = def.nvariants, bad = 0;
    if (!quiet) {
        fprintf(out, "map of %s: %s (%zu values) x %s (%zu values), %zu variants x %zu replications, seed %llu, %s",
                def.scenario_path, def.axes[0].path, def.axes[0].n, def.axes[1].path, def.axes[1].n, nv, reps,
                (unsigned long long)def.seed,
                mo->find == MAP_GRID ? "every cell" : mo->find == MAP_FIND_TRIGGER ? "bisecting the trigger axis"
                                                                                  : "bisecting the load axis");
        if (pool && pool->nworkers) fprintf(out, ", %d %ss%s", pool->nworkers, pool->noun, pool->master_runs ? " + master" : "");
        fprintf(out, "\n");
        if (m.nck) fprintf(out, "resuming: %zu runs from %s\n", m.nck, m.ckpath);
        fflush(out);
    }
    if (mo->find == MAP_GRID) {
        size_t n = def.npoints * nv * reps;
        m.total = n;
        tasks = calloc(n ? n : 1, sizeof *tasks);
        res = calloc(n ? n : 1, sizeof *res);
        if (!tasks || !res) goto nomem;
        size_t k = 0;
        for (uint64_t p = 0; p < def.npoints; p++)
            for (uint32_t v = 0; v < nv; v++)
                for (uint32_t r = 0; r < reps; r++)
                    tasks[k++] = (sw_task_t){.point = p, .seed_index = 0, .load = NAN, .variant = v, .rep = r};
        bad = sw_run_batch(&m, tasks, n, res);
        if (bad == 0) {
            size_t cap = 0;
            if (sw_append_runs(&mp.runs, &mp.nruns, &cap, res, n) || make_cells(&mp) || grid_boundaries(&mp)) goto nomem;
        }
    } else if (bisect(&mp, &m, &bad) != 0) {
        goto nomem;
    }
    sw_master_progress_clear(&m);
    if (rs_interrupted) goto out;
    if (sw_master_check_bad(&m, bad)) goto out;
    for (size_t i = 0; i < mp.nruns; i++)
        if (isnan(sw_run_metric(&mp.runs[i], INC_RECOVERED))) {
            fprintf(err, "ragsim: error: a run of variant %s reports no recovery (no trigger at this point?)\n",
                    def.variants[mp.runs[i].task.variant]);
            goto out;
        }
    if (!quiet) {
        print_maps(out, &mp);
        print_boundaries(out, &mp);
    }
    if ((status = sw_master_write(&m, outpath, write_map, &mp)) != 0) goto out;
    if (o->json) {
        map_json_t js = {&mp, outpath};
        char why[1024];
        int jr = json_stdout ? map_json(out, &js) : sim_write_file(o->json, o->force, map_json, &js, why, sizeof why);
        if (jr != 0) {
            if (json_stdout) snprintf(why, sizeof why, "writing the JSON summary to standard output failed");
            fprintf(err, "ragsim: error: %s\n", why);
            status = jr == -2 ? 2 : 1;
            goto out;
        }
    }
    if (!quiet) fprintf(out, "\nwrote %s (%zu runs, %.1f s wall)\n", outpath, mp.nruns, sw_master_elapsed(&m));
    goto out;
nomem:
    fprintf(err, "ragsim: error: out of memory (%zu runs are kept in %s)\n", m.done_total - m.bad_total,
            m.ckpath ? m.ckpath : "the checkpoint");
    status = 1;
out:
    status = sw_master_end(&m, status, outpath);
    free(tasks);
    free(res);
    free(mp.runs);
    free(mp.cells);
    free(mp.bs);
    free(outpath);
    sw_def_fini(&def);
    sim_diag_fini(&d);
    return status;
}
