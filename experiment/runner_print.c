/* The printed summary of `ragsim run`: per section of the model's report a
 * table of mean ± 95% half-width across replications, then the "summary"
 * entries as a list (rs_print_summary); and the value format the
 * summaries and the comparison share (rs_format_value). Calls sim/stats
 * only. */
#include "experiment/runner.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "experiment/runner_internal.h"
#include "sim/stats.h"
#include "sim/units.h"

/* ---- printing ----------------------------------------------------------------- */

/* Decimals that show a value to the precision of its half-width (two
 * significant digits of the half-width), or 4 significant digits without one. */
static int decimals_for(double mean, double hw)
{
    double ref = (isfinite(hw) && hw > 0) ? hw : fabs(mean) / 1000;
    if (!(ref > 0)) return 0;
    int d = 1 - (int)floor(log10(ref));
    return d < 0 ? 0 : d > 9 ? 9 : d;
}

/* "mean ± hw unit" with a unit scaled to the mean: s/ms/us, B/KiB/MiB/GiB. */
static void fmt_value(char *buf, size_t n, rs_kind_t kind, double mean, double hw)
{
    if (isnan(mean)) {
        snprintf(buf, n, "-");
        return;
    }
    const char *u = "";
    double k = 1, a = fabs(mean);
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
    if (!isfinite(hw)) snprintf(buf, n, "%.*f%s", dec, m, u);
    else if (h == 0) snprintf(buf, n, "%.*f ± 0%s", dec, m, u);
    else snprintf(buf, n, "%.*f ± %.*f%s", dec, m, dec, h, u);
}

void rs_format_value(char *buf, size_t n, rs_kind_t kind, double mean, double hw)
{
    fmt_value(buf, n, kind, mean, hw);
}

static int display_width(const char *s)
{
    int w = 0;
    for (const unsigned char *q = (const unsigned char *)s; *q; q++) w += (*q & 0xC0) != 0x80;
    return w;
}

/* One run's report per replication: entries are matched by position (every
 * run of a scenario reports the same entries in the same order). */
sim_ci_t rs_entry_ci(const rs_report_t *reps, size_t nreps, size_t i)
{
    double x[nreps ? nreps : 1];
    size_t k = 0;
    for (size_t r = 0; r < nreps; r++)
        if (i < reps[r].n && !isnan(reps[r].e[i].value)) x[k++] = reps[r].e[i].value;
    if (k == 0) return (sim_ci_t){0, NAN, NAN, NAN, 0.95};
    sim_ci_t c = sim_ci_student(x, k, 0.95);
    if (k < 2) c.half_width = NAN;
    return c;
}

#define MAX_COLS 16
#define CELL 64

static void print_section(FILE *out, const rs_report_t *reps, size_t nreps, const char *section)
{
    const rs_report_t *r0 = &reps[0];
    /* rows and columns in order of first appearance */
    const char *cols[MAX_COLS];
    size_t ncols = 0, nrows = 0;
    const char **rows = calloc(r0->n + 1, sizeof *rows);
    if (!rows) return;
    for (size_t i = 0; i < r0->n; i++) {
        const rs_entry_t *e = &r0->e[i];
        if (strcmp(e->section, section) != 0) continue;
        bool seen = false;
        for (size_t c = 0; c < ncols; c++) seen |= !strcmp(cols[c], e->col);
        if (!seen && ncols < MAX_COLS) cols[ncols++] = e->col;
        seen = false;
        for (size_t k = 0; k < nrows; k++) seen |= !strcmp(rows[k], e->row);
        if (!seen) rows[nrows++] = e->row;
    }
    /* rows that are zero in every run say nothing (e.g. failure reasons that never occurred) */
    size_t kept = 0;
    for (size_t k = 0; k < nrows; k++) {
        bool any = false;
        for (size_t r = 0; r < nreps && !any; r++)
            for (size_t i = 0; i < reps[r].n && !any; i++) {
                const rs_entry_t *e = &reps[r].e[i];
                any = !strcmp(e->section, section) && !strcmp(e->row, rows[k]) && e->value != 0;
            }
        if (any) rows[kept++] = rows[k];
    }
    nrows = kept;
    if (nrows == 0) {
        free(rows);
        return;
    }
    char (*cell)[MAX_COLS + 1][CELL] = calloc(nrows + 1, sizeof *cell);
    if (!cell) {
        free(rows);
        return;
    }
    snprintf(cell[0][0], CELL, "%s", section);
    for (size_t c = 0; c < ncols; c++) snprintf(cell[0][c + 1], CELL, "%s", cols[c]);
    for (size_t k = 0; k < nrows; k++) {
        snprintf(cell[k + 1][0], CELL, "%s", rows[k]);
        for (size_t c = 0; c < ncols; c++) snprintf(cell[k + 1][c + 1], CELL, "-");
    }
    for (size_t i = 0; i < r0->n; i++) {
        const rs_entry_t *e = &r0->e[i];
        if (strcmp(e->section, section) != 0) continue;
        size_t k = 0, c = 0;
        while (k < nrows && strcmp(rows[k], e->row)) k++;
        while (c < ncols && strcmp(cols[c], e->col)) c++;
        if (k == nrows || c == ncols) continue;   /* a dropped row or column */
        sim_ci_t ci = rs_entry_ci(reps, nreps, i);
        fmt_value(cell[k + 1][c + 1], CELL, e->kind, ci.mean, ci.half_width);
    }
    int width[MAX_COLS + 1] = {0};
    for (size_t k = 0; k <= nrows; k++)
        for (size_t c = 0; c <= ncols; c++)
            if (display_width(cell[k][c]) > width[c]) width[c] = display_width(cell[k][c]);
    fputc('\n', out);
    for (size_t k = 0; k <= nrows; k++) {
        for (size_t c = 0; c <= ncols; c++) {
            const char *txt = cell[k][c];
            if (c == ncols) fprintf(out, "  %s", txt);   /* no trailing padding */
            else fprintf(out, "%s%-*s", c ? "  " : "", width[c] + (int)strlen(txt) - display_width(txt), txt);
        }
        fputc('\n', out);
        if (k == 0) continue;
        for (size_t i = 0; i < r0->nnotes; i++)
            if (!strcmp(r0->notes[i].section, section) && !strcmp(r0->notes[i].row, rows[k - 1]))
                fprintf(out, "%-*s  %s\n", width[0], "", r0->notes[i].text);
    }
    free(cell);
    free(rows);
}

void rs_print_summary(FILE *out, const rs_scenario_t *s, const rs_report_t *reps, size_t nreps,
                      uint64_t seed, const char *trace_path)
{
    fprintf(out, "scenario '%s': %zu replication%s of %g s (warm-up %g s), seed %llu\n", s->sc.name,
            nreps, nreps == 1 ? "" : "s", sim_time_to_s(s->sc.duration), sim_time_to_s(s->sc.warmup),
            (unsigned long long)seed);
    if (nreps > 1) fprintf(out, "figures after the warm-up; ± is the 95%% confidence half-width across replications\n");
    const rs_report_t *r0 = &reps[0];
    /* sections in order of first appearance, "summary" last as a list */
    for (size_t i = 0; i < r0->n; i++) {
        const char *sec = r0->e[i].section;
        bool first = true;
        for (size_t j = 0; j < i; j++) first &= strcmp(r0->e[j].section, sec) != 0;
        if (first && strcmp(sec, "summary") != 0) print_section(out, reps, nreps, sec);
    }
    int w = 0;
    for (size_t i = 0; i < r0->n; i++)
        if (!strcmp(r0->e[i].section, "summary") && display_width(r0->e[i].col) > w) w = display_width(r0->e[i].col);
    fprintf(out, "\nend to end\n");
    for (size_t i = 0; i < r0->n; i++) {
        const rs_entry_t *e = &r0->e[i];
        if (strcmp(e->section, "summary") != 0) continue;
        char v[CELL];
        sim_ci_t ci = rs_entry_ci(reps, nreps, i);
        fmt_value(v, sizeof v, e->kind, ci.mean, ci.half_width);
        fprintf(out, "  %-*s  %s\n", w, e->col, v);
    }
    if (trace_path) fprintf(out, "\ntrace: %s\n", trace_path);
}
