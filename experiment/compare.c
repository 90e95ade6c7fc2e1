/* Comparison of variants (compare.h): paired differences with Student-t
 * intervals, verdicts by each metric's direction, the printed table and
 * /comparison. Calls the engine's statistics and the incident metrics' names;
 * a model only through models/model.h (its directions). */
#include "experiment/compare.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "experiment/incident.h"
#include "sim/error.h"
#include "sim/stats.h"

/* ---- directions -------------------------------------------------------------- */

/* The models list their own metrics' directions (model_type_t.directions). */
static const model_direction_t incident_directions[] = {
    {INC_WORST_WINDOW_SUCCESS, +1},
    {INC_TIME_BELOW_SLO, -1},
    {INC_RECOVERY_TIME, -1},
    {INC_RECOVERED, +1},
    {INC_PRE_TRIGGER_GOODPUT, 0}, /* the level before the incident: the workload, not the policy */
    {INC_PRE_TRIGGER_SLO_MET, +1},
    {NULL, 0},
};

int cmp_incident_direction(const char *metric)
{
    if (!metric) return 0;
    for (const model_direction_t *d = incident_directions; d->metric; d++)
        if (!strcmp(d->metric, metric)) return d->dir;
    return 0;
}

/* ---- computation ------------------------------------------------------------- */

/* Value of the summary entry (row, col) in one report; NaN if absent. The
 * entry is usually at the same position as in the baseline's first report. */
static double get(const rs_report_t *r, size_t hint, const rs_entry_t *want)
{
    if (hint < r->n) {
        const rs_entry_t *e = &r->e[hint];
        if (!strcmp(e->section, want->section) && !strcmp(e->row, want->row) && !strcmp(e->col, want->col))
            return e->value;
    }
    return rs_report_get(r, want->section, want->row, want->col);
}

/* Student-t CI with NaN half-width below two values (sim_ci_student leaves it
 * NaN already; n == 1 gives the value as the mean). */
static void ci(const double *x, size_t n, double level, double *mean, double *hw)
{
    sim_ci_t c = sim_ci_student(x, n, level);
    *mean = c.mean;
    *hw = n >= 2 ? c.half_width : NAN;
}

int cmp_compute(const cmp_variant_t *v, size_t nv, size_t baseline, double level,
                const model_type_t *model, cmp_row_t **rows, size_t *nrows)
{
    if (!rows || !nrows) return SIM_EINVAL;
    *rows = NULL;
    *nrows = 0;
    if (!v || nv == 0 || baseline >= nv || !v[baseline].reps || v[baseline].nreps == 0) return SIM_EINVAL;
    if (!(level > 0 && level < 1)) return SIM_EINVAL;
    for (size_t k = 0; k < nv; k++)
        if (v[k].nreps > 0 && !v[k].reps) return SIM_EINVAL;

    /* metrics: the baseline's first report's summary entries, first of each name */
    const rs_report_t *r0 = &v[baseline].reps[0];
    size_t *mi = malloc((r0->n ? r0->n : 1) * sizeof *mi);
    if (!mi) return SIM_ENOMEM;
    size_t nm = 0;
    for (size_t i = 0; i < r0->n; i++) {
        if (strcmp(r0->e[i].section, "summary") != 0) continue;
        bool dup = false;
        for (size_t j = 0; j < nm && !dup; j++) dup = !strcmp(r0->e[mi[j]].col, r0->e[i].col);
        if (!dup) mi[nm++] = i;
    }
    if (nm == 0) {
        free(mi);
        return SIM_ENOTFOUND;
    }

    size_t maxreps = 0;
    for (size_t k = 0; k < nv; k++)
        if (v[k].nreps > maxreps) maxreps = v[k].nreps;
    cmp_row_t *out = calloc(nv * nm, sizeof *out);
    double *xb = malloc(maxreps * sizeof *xb), *xv = malloc(maxreps * sizeof *xv);
    double *fin = malloc(maxreps * sizeof *fin), *d = malloc(maxreps * sizeof *d);
    if (!out || !xb || !xv || !fin || !d) {
        free(out);
        out = NULL;
        goto done;
    }

    for (size_t m = 0; m < nm; m++) {
        const rs_entry_t *e = &r0->e[mi[m]];
        int dir = cmp_incident_direction(e->col);
        if (!dir) dir = model_direction(model, e->col);
        dir = dir > 0 ? 1 : dir < 0 ? -1 : 0;
        const cmp_variant_t *b = &v[baseline];
        for (size_t i = 0; i < b->nreps; i++) xb[i] = get(&b->reps[i], mi[m], e);
        for (size_t k = 0; k < nv; k++) {
            cmp_row_t *row = &out[k * nm + m];
            snprintf(row->variant, sizeof row->variant, "%s", v[k].name ? v[k].name : "");
            snprintf(row->metric, sizeof row->metric, "%s", e->col);
            row->kind = e->kind;
            row->direction = dir;
            row->level = level;
            row->baseline = k == baseline;
            size_t nf = 0;
            for (size_t i = 0; i < v[k].nreps; i++) {
                xv[i] = get(&v[k].reps[i], mi[m], e);
                if (isfinite(xv[i])) fin[nf++] = xv[i];
            }
            row->n = nf;
            row->nan_count = v[k].nreps - nf;
            ci(fin, nf, level, &row->mean, &row->half_width);
            /* paired differences over the replications both have */
            size_t np = 0, npairs = v[k].nreps < b->nreps ? v[k].nreps : b->nreps;
            for (size_t i = 0; i < npairs; i++)
                if (isfinite(xv[i]) && isfinite(xb[i])) d[np++] = xv[i] - xb[i];
            row->npaired = np;
            ci(d, np, level, &row->diff, &row->diff_half_width);
            row->significant = np >= 2 && isfinite(row->diff_half_width) &&
                               (row->diff - row->diff_half_width > 0 || row->diff + row->diff_half_width < 0);
            row->verdict = row->significant && !row->baseline ? dir * (row->diff > 0 ? 1 : -1) : 0;
        }
    }
    *rows = out;
    *nrows = nv * nm;
done:
    free(mi);
    free(xb);
    free(xv);
    free(fin);
    free(d);
    return out ? 0 : SIM_ENOMEM;
}

/* ---- formatting (the conventions of experiment/runner_print.c fmt_value) ----------- */

/* Decimals that show a value to the precision of its half-width (two
 * significant digits of the half-width), or 4 significant digits without one. */
static int decimals_for(double mean, double hw)
{
    double ref = (isfinite(hw) && hw > 0) ? hw : fabs(mean) / 1000;
    if (!(ref > 0)) return 0;
    int d = 1 - (int)floor(log10(ref));
    return d < 0 ? 0 : d > 9 ? 9 : d;
}

/* "mean ± hw unit", the unit scaled to the larger of |mean| and hw (s/ms/us,
 * B/KiB/MiB/GiB); `sign` writes "+" before positive values (differences).
 * Unlike runner.c, a value without a spread drops its trailing zeros. */
static void fmt_value(char *buf, size_t n, rs_kind_t kind, double mean, double hw, bool sign)
{
    if (isnan(mean)) {
        snprintf(buf, n, "-");
        return;
    }
    const char *u = "";
    double k = 1, a = fmax(fabs(mean), isfinite(hw) ? hw : 0);
    if (kind == RS_SECONDS) {
        u = " s";
        if (a > 0 && a < 1e-3) { u = " us"; k = 1e6; }
        else if (a > 0 && a < 1) { u = " ms"; k = 1e3; }
    } else if (kind == RS_BYTES) {
        static const char *const units[] = {" B", " KiB", " MiB", " GiB", " TiB"};
        double div = 1;
        int i = 0;
        while (i < 4 && a >= 1024.0 * div) { div *= 1024; i++; }
        u = units[i];
        k = 1 / div;
    } else if (kind == RS_RATE) {
        u = "/s";
    }
    double m = mean * k, h = hw * k;
    if (isfinite(h) && h <= fabs(m) * 1e-9) h = 0;   /* identical across replications: rounding noise */
    int dec = decimals_for(m, h);
    if (kind == RS_COUNT && !(h > 0) && m == floor(m)) dec = 0;
    int w = sign && m != 0 ? snprintf(buf, n, "%+.*f", dec, m) : snprintf(buf, n, "%.*f", dec, m);
    if (w < 0 || (size_t)w >= n) return;
    /* without a spread, 4 significant digits have no precision to show: drop trailing zeros */
    if (!(h > 0) && dec > 0) {
        while (buf[w - 1] == '0') buf[--w] = '\0';
        if (buf[w - 1] == '.') buf[--w] = '\0';
    }
    if (!isfinite(hw)) snprintf(buf + w, n - (size_t)w, "%s", u);
    else if (h == 0) snprintf(buf + w, n - (size_t)w, " ± 0%s", u);
    else snprintf(buf + w, n - (size_t)w, " ± %.*f%s", dec, h, u);
}

static int display_width(const char *s)
{
    int w = 0;
    for (const unsigned char *q = (const unsigned char *)s; *q; q++) w += (*q & 0xC0) != 0x80;
    return w;
}

/* Left-aligned in `width` display columns (UTF-8 aware). */
static void put_cell(FILE *out, const char *s, int width)
{
    fprintf(out, "%-*s", width + (int)strlen(s) - display_width(s), s);
}

#define CMP_WIDTH 100   /* display columns the table is wrapped to */
#define CELL 80

/* The paired-difference cell under a non-baseline variant's value. */
static void diff_cell(char *buf, size_t n, const cmp_row_t *r)
{
    char d[CELL - 16];
    if (r->npaired == 0) {
        snprintf(buf, n, "= n.s. (no pair)");
        return;
    }
    fmt_value(d, sizeof d, r->kind, r->diff, r->npaired >= 2 ? r->diff_half_width : NAN, true);
    const char *mark = !r->significant ? "= n.s." : r->verdict > 0 ? "▲" : r->verdict < 0 ? "▼" : "≠";
    snprintf(buf, n, "%s %s", mark, d);
}

static const cmp_row_t *find_row(const cmp_row_t *rows, size_t nrows, const char *variant, const char *metric)
{
    for (size_t i = 0; i < nrows; i++)
        if (!strcmp(rows[i].variant, variant) && !strcmp(rows[i].metric, metric)) return &rows[i];
    return NULL;
}

void cmp_print(FILE *out, const cmp_row_t *rows, size_t nrows, const char *const *metrics, size_t nmetrics,
               const char *baseline)
{
    if (!out || !rows || nrows == 0) return;
    /* variants and metrics in order of first appearance */
    const char **var = malloc(nrows * sizeof *var), **met = malloc((nmetrics > nrows ? nmetrics : nrows) * sizeof *met);
    if (!var || !met) goto done;
    size_t nvar = 0, nmet = 0;
    for (size_t i = 0; i < nrows; i++) {
        bool seen = false;
        for (size_t j = 0; j < nvar && !seen; j++) seen = !strcmp(var[j], rows[i].variant);
        if (!seen) var[nvar++] = rows[i].variant;
        if (!baseline && rows[i].baseline) baseline = rows[i].variant;
    }
    if (metrics) {
        for (size_t i = 0; i < nmetrics; i++) met[nmet++] = metrics[i] ? metrics[i] : "";
    } else {
        for (size_t i = 0; i < nrows; i++) {
            bool seen = false;
            for (size_t j = 0; j < nmet && !seen; j++) seen = !strcmp(met[j], rows[i].metric);
            if (!seen) met[nmet++] = rows[i].metric;
        }
    }
    if (!baseline) baseline = var[0];
    /* the baseline first, then the others in their order */
    for (size_t j = 0; j < nvar; j++)
        if (!strcmp(var[j], baseline) && j > 0) {
            const char *b = var[j];
            memmove(&var[1], &var[0], j * sizeof *var);
            var[0] = b;
        }

    /* column widths: every cell of a metric (value line and difference line) */
    int namew = display_width("variant");
    for (size_t j = 0; j < nvar; j++)
        if (display_width(var[j]) > namew) namew = display_width(var[j]);
    int *colw = calloc(nmet ? nmet : 1, sizeof *colw);
    if (!colw) goto done;
    char cell[CELL];
    for (size_t c = 0; c < nmet; c++) {
        colw[c] = display_width(met[c]);
        for (size_t j = 0; j < nvar; j++) {
            const cmp_row_t *r = find_row(rows, nrows, var[j], met[c]);
            if (!r) continue;
            fmt_value(cell, sizeof cell, r->kind, r->mean, r->half_width, false);
            if (display_width(cell) > colw[c]) colw[c] = display_width(cell);
            if (strcmp(var[j], baseline) != 0) {
                diff_cell(cell, sizeof cell, r);
                if (display_width(cell) > colw[c]) colw[c] = display_width(cell);
            }
        }
    }

    double level = rows[0].level;
    size_t reps = 0;
    for (size_t i = 0; i < nrows; i++)
        if (rows[i].n + rows[i].nan_count > reps) reps = rows[i].n + rows[i].nan_count;
    fprintf(out, "compared with '%s' over %zu replication%s paired by seed; ± is the %g%% confidence half-width\n",
            baseline, reps, reps == 1 ? "" : "s", 100 * level);

    /* blocks of columns that fit CMP_WIDTH, each repeating the variant column */
    for (size_t c0 = 0; c0 < nmet;) {
        size_t c1 = c0;
        int w = namew;
        while (c1 < nmet && (c1 == c0 || w + 2 + colw[c1] <= CMP_WIDTH)) w += 2 + colw[c1++];
        fputc('\n', out);
        put_cell(out, "variant", namew);
        for (size_t c = c0; c < c1; c++) {
            fputs("  ", out);
            if (c + 1 == c1) fputs(met[c], out);
            else put_cell(out, met[c], colw[c]);
        }
        fputc('\n', out);
        for (size_t j = 0; j < nvar; j++) {
            bool base = !strcmp(var[j], baseline);
            for (int line = 0; line < (base ? 1 : 2); line++) {
                put_cell(out, line == 0 ? var[j] : "", namew);
                for (size_t c = c0; c < c1; c++) {
                    const cmp_row_t *r = find_row(rows, nrows, var[j], met[c]);
                    if (!r) snprintf(cell, sizeof cell, "-");
                    else if (line == 0) fmt_value(cell, sizeof cell, r->kind, r->mean, r->half_width, false);
                    else diff_cell(cell, sizeof cell, r);
                    fputs("  ", out);
                    if (c + 1 == c1) fputs(cell, out);   /* no trailing padding */
                    else put_cell(out, cell, colw[c]);
                }
                fputc('\n', out);
            }
        }
        c0 = c1;
    }

    fprintf(out, "\nunder each variant: mean paired difference from '%s' ± its half-width;\n"
                 "▲ better  ▼ worse  = n.s. (not significant: the interval includes 0)  ≠ differs (no better/worse)\n",
            baseline);
    /* replications without a value */
    for (size_t c = 0; c < nmet; c++)
        for (size_t j = 0; j < nvar; j++) {
            const cmp_row_t *r = find_row(rows, nrows, var[j], met[c]);
            if (!r || r->nan_count == 0) continue;
            bool rec = strstr(r->metric, "recover") != NULL;
            fprintf(out, "%s, %s: %s in %zu of %zu replications", r->variant, r->metric,
                    rec ? "did not recover" : "no value", r->nan_count, r->n + r->nan_count);
            if (strcmp(var[j], baseline) != 0)
                fprintf(out, ";\n  the difference uses the %zu where both have one", r->npaired);
            fputc('\n', out);
        }
    free(colw);
done:
    free(var);
    free(met);
}

/* ---- the /comparison dataset ---------------------------------------------------- */

int cmp_table(const cmp_row_t *rows, size_t nrows, sim_table_t *t)
{
    if (!t) return SIM_EINVAL;
    sim_table_init(t, "comparison");
    if (!rows && nrows) return SIM_EINVAL;
    static const char *const f64[] = {"mean", "ci_low", "ci_high", "diff", "diff_ci_low", "diff_ci_high"};
    int rc = 0;
    rc |= sim_table_col_str(t, "variant", 64) < 0;
    rc |= sim_table_col_str(t, "metric", 64) < 0;
    rc |= sim_table_col_str(t, "unit", 16) < 0;
    rc |= sim_table_col_i64(t, "n", "1") < 0;
    for (size_t i = 0; i < 6; i++) rc |= sim_table_col_f64(t, f64[i], "") < 0;
    rc |= sim_table_col_i64(t, "n_paired", "1") < 0;
    rc |= sim_table_col_i64(t, "direction", "1") < 0;
    rc |= sim_table_col_i64(t, "significant", "1") < 0;
    rc |= sim_table_col_i64(t, "verdict", "1") < 0;
    rc |= sim_table_col_i64(t, "not_recovered", "1") < 0;
    if (rc) return SIM_ENOMEM;
    for (size_t i = 0; i < nrows; i++) {
        const cmp_row_t *r = &rows[i];
        unsigned char *row = sim_table_append(t);
        if (!row) return SIM_ENOMEM;
        sim_row_str(t, row, 0, r->variant);
        sim_row_str(t, row, 1, r->metric);
        sim_row_str(t, row, 2, rs_kind_unit(r->kind));
        sim_row_i64(t, row, 3, (int64_t)r->n);
        sim_row_f64(t, row, 4, r->mean);
        sim_row_f64(t, row, 5, r->mean - r->half_width);
        sim_row_f64(t, row, 6, r->mean + r->half_width);
        sim_row_f64(t, row, 7, r->diff);
        sim_row_f64(t, row, 8, r->diff - r->diff_half_width);
        sim_row_f64(t, row, 9, r->diff + r->diff_half_width);
        sim_row_i64(t, row, 10, (int64_t)r->npaired);
        sim_row_i64(t, row, 11, r->direction);
        sim_row_i64(t, row, 12, r->significant);
        sim_row_i64(t, row, 13, r->verdict);
        sim_row_i64(t, row, 14, (int64_t)r->nan_count);
    }
    return 0;
}
