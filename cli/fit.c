/* `ragsim fit`: a scenario's `dist:` mapping from telemetry. Reads a column
 * of samples (or Prometheus histogram buckets) from a CSV file, fits the
 * positive families by maximum likelihood (sim/fit.h), ranks them and
 * prints the best as the mapping a scenario takes. Nothing is written but
 * stdout. */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/fit.h"
#include "sim/diag.h"
#include "sim/fit.h"
#include "sim/units.h"

#define CMD "ragsim fit"
#define MAX_FILE_BYTES ((size_t)1 << 31)

static void usage(FILE *f)
{
    fputs(
            "usage: ragsim fit SAMPLES.csv [--column C] [--unit U]\n"
            "       ragsim fit --histogram BUCKETS.csv [--unit U]\n"
            "\n"
            "Fits exponential, lognormal, gamma and Weibull distributions by maximum\n"
            "likelihood, and an empirical one, to measured values, and prints the best as\n"
            "the `dist:` mapping of a scenario (docs/your-deployment.md).\n"
            "\n"
            "SAMPLES.csv: comma-separated, one observation per line; an optional header\n"
            "line names the columns. Values must be numbers > 0. Lines starting with '#'\n"
            "and blank lines are skipped. Fits are ranked by the Anderson-Darling statistic\n"
            "A2 (smaller is better; it weights the tails, where latency percentiles live);\n"
            "the table also gives the log-likelihood, AIC = 2k - 2 log L, and the\n"
            "Kolmogorov-Smirnov D with its asymptotic p-value. The best family is printed\n"
            "unless it fails the KS test at 1% (p < 0.01): then the empirical distribution\n"
            "(an interpolated CDF through the samples' quantiles) is printed instead.\n"
            "\n"
            "--histogram BUCKETS.csv: a Prometheus histogram: a header `le,count` (in any\n"
            "order, other columns ignored) and one line per bucket, `le` its upper bound,\n"
            "`count` the cumulative count of observations <= le, ascending, the last\n"
            "`+Inf` (the total). Fitted by interval-censored maximum likelihood (each\n"
            "bucket contributes count x log P(bucket)); ranked by AIC; Pearson's\n"
            "chi-square p-value and the largest CDF gap at the bounds are shown. The best\n"
            "family is printed unless its chi-square p < 0.01: then the empirical\n"
            "distribution through the bucket bounds.\n"
            "\n"
            "  --column C     the column of SAMPLES.csv (by its header name; default: the first)\n"
            "  --unit U       the values' unit: ns, us, ms, s, min, h (durations: the mapping's\n"
            "                 parameters carry it, e.g. mean: 120ms), or none (default: plain\n"
            "                 numbers such as token counts). Prometheus histograms are in s.\n"
            "\n"
            "Exit status: 0; 2 for bad usage or a bad file (FILE:LINE:COL: error: ...).\n", f);
}

/* ---- reading the CSV ---------------------------------------------------------------- */

typedef struct {
    const char *path;
    char *text;
    size_t len;
    sim_diag_t *d;
} csv_t;

static int csv_read(csv_t *c, sim_diag_t *d, const char *path)
{
    c->path = path;
    c->d = d;
    c->text = NULL;
    FILE *f = fopen(path, "rb");
    if (!f) {
        sim_diag_error_at(d, path, 0, 0, "cannot read the file: %s", strerror(errno));
        return -1;
    }
    size_t cap = 1 << 16, n = 0;
    char *buf = malloc(cap + 1);
    for (;;) {
        if (!buf) break;
        size_t got = fread(buf + n, 1, cap - n, f);
        n += got;
        if (n < cap) break;
        if (cap >= MAX_FILE_BYTES) {
            free(buf);
            fclose(f);
            sim_diag_error_at(d, path, 0, 0, "the file is larger than 2 GiB");
            return -1;
        }
        char *nb = realloc(buf, cap * 2 + 1);
        if (!nb) {
            free(buf);
            buf = NULL;
            break;
        }
        buf = nb;
        cap *= 2;
    }
    bool rerr = ferror(f);
    fclose(f);
    if (!buf) {
        sim_diag_error_at(d, path, 0, 0, "out of memory reading the file");
        return -1;
    }
    if (rerr) {
        free(buf);
        sim_diag_error_at(d, path, 0, 0, "cannot read the file (is it a directory?)");
        return -1;
    }
    if (memchr(buf, 0, n)) {
        free(buf);
        sim_diag_error_at(d, path, 0, 0, "the file holds NUL bytes: expected CSV text");
        return -1;
    }
    buf[n] = 0;
    c->text = buf;
    c->len = n;
    return 0;
}

/* A line split into fields in place: field i starts at col[i] (1-based column). */
#define MAX_FIELDS 256
typedef struct {
    int lineno;
    int nf;
    char *f[MAX_FIELDS];
    int col[MAX_FIELDS];
    int end_col;
} row_t;

/* The next non-blank, non-comment line, or 0 at the end. Surrounding spaces
 * and double quotes of each field are removed. */
static int next_row(char **pos, int *lineno, row_t *r, csv_t *c)
{
    while (**pos) {
        char *line = *pos;
        char *nl = strchr(line, '\n');
        *pos = nl ? nl + 1 : line + strlen(line);
        if (nl) *nl = 0;
        (*lineno)++;
        size_t L = strlen(line);
        if (L && line[L - 1] == '\r') line[--L] = 0;
        char *p = line;
        while (*p == ' ' || *p == '\t') p++;
        if (!*p || *p == '#') continue;
        r->lineno = *lineno;
        r->nf = 0;
        r->end_col = (int)L + 1;
        char *s = line;
        for (;;) {
            char *e = strchr(s, ',');
            if (e) *e = 0;
            if (r->nf == MAX_FIELDS) {
                sim_diag_error_at(c->d, c->path, *lineno, (int)(s - line) + 1, "more than %d columns", MAX_FIELDS);
                return -1;
            }
            char *b = s;
            while (*b == ' ' || *b == '\t') b++;
            char *t = b + strlen(b);
            while (t > b && (t[-1] == ' ' || t[-1] == '\t')) *--t = 0;
            if (t - b >= 2 && *b == '"' && t[-1] == '"') {
                t[-1] = 0;
                b++;
            }
            r->col[r->nf] = (int)(b - line) + 1;
            r->f[r->nf++] = b;
            if (!e) break;
            s = e + 1;
        }
        return 1;
    }
    return 0;
}

static bool is_number(const char *s)
{
    double v;
    return sim_parse_double(s, &v, NULL) == 0;
}

static int find_col(const row_t *h, const char *name)
{
    for (int i = 0; i < h->nf; i++)
        if (strcmp(h->f[i], name) == 0) return i;
    return -1;
}

static void list_cols(char *buf, size_t n, const row_t *h)
{
    buf[0] = 0;
    for (int i = 0; i < h->nf && strlen(buf) + 40 < n; i++)
        snprintf(buf + strlen(buf), n - strlen(buf), "%s'%s'", i ? ", " : "", h->f[i]);
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* ---- units -------------------------------------------------------------------------- */

typedef struct {
    const char *name;    /* as printed after a value, "" for plain numbers */
    bool duration;
} unit_t;

static int parse_unit(const char *s, unit_t *u)
{
    static const char *const names[] = {"ns", "us", "ms", "s", "min", "h"};
    if (strcmp(s, "none") == 0) {
        u->name = "";
        u->duration = false;
        return 0;
    }
    for (size_t i = 0; i < sizeof names / sizeof *names; i++)
        if (strcmp(s, names[i]) == 0) {
            u->name = names[i];
            u->duration = true;
            return 0;
        }
    return -1;
}

/* "%.6g" plus the unit (no space: the scenario's syntax). */
static const char *val(char *buf, size_t n, double x, const unit_t *u)
{
    snprintf(buf, n, "%.6g%s", x, u->name);
    return buf;
}

/* ---- printing -------------------------------------------------------------------------- */

static void params_text(char *buf, size_t n, const sim_fit_t *f, const unit_t *u)
{
    char a[64], b[64];
    switch (f->family) {
    case SIM_FIT_EXPONENTIAL: snprintf(buf, n, "mean %s", val(a, sizeof a, f->a, u)); break;
    case SIM_FIT_LOGNORMAL:
        snprintf(buf, n, "mean %s, cv %.4g (mu %.4g, sigma %.4g)", val(a, sizeof a, sim_fit_mean(f), u),
                 sim_fit_cv(f), f->a, f->b);
        break;
    case SIM_FIT_GAMMA:
        snprintf(buf, n, "shape %.4g, scale %s (mean %s, cv %.4g)", f->a, val(a, sizeof a, f->b, u),
                 val(b, sizeof b, sim_fit_mean(f), u), sim_fit_cv(f));
        break;
    case SIM_FIT_WEIBULL:
        snprintf(buf, n, "shape %.4g, scale %s (mean %s, cv %.4g)", f->a, val(a, sizeof a, f->b, u),
                 val(b, sizeof b, sim_fit_mean(f), u), sim_fit_cv(f));
        break;
    default: snprintf(buf, n, "?");
    }
}

static void print_mapping(FILE *out, const sim_fit_t *f, const unit_t *u)
{
    char a[64];
    switch (f->family) {
    case SIM_FIT_EXPONENTIAL: fprintf(out, "{dist: exponential, mean: %s}\n", val(a, sizeof a, f->a, u)); break;
    case SIM_FIT_LOGNORMAL:
        fprintf(out, "{dist: lognormal, mean: %s, cv: %.6g}\n", val(a, sizeof a, sim_fit_mean(f), u), sim_fit_cv(f));
        break;
    case SIM_FIT_GAMMA:
        fprintf(out, "{dist: gamma, shape: %.6g, scale: %s}\n", f->a, val(a, sizeof a, f->b, u));
        break;
    case SIM_FIT_WEIBULL:
        fprintf(out, "{dist: weibull, shape: %.6g, scale: %s}\n", f->a, val(a, sizeof a, f->b, u));
        break;
    default: break;
    }
}

/* An interpolated empirical mapping through points (v_i, P_i), P_0 = 0. */
static void print_empirical(FILE *out, const double *v, const double *p, size_t n, const unit_t *u)
{
    char a[64];
    fprintf(out, "{dist: empirical, interpolate: true,\n  values: [");
    for (size_t i = 0; i < n; i++) fprintf(out, "%s%s", i ? ", " : "", val(a, sizeof a, v[i], u));
    fprintf(out, "],\n  weights: [");
    for (size_t i = 0; i < n; i++) fprintf(out, "%s%.6g", i ? ", " : "", i ? p[i] - p[i - 1] : 0.0);
    fprintf(out, "]}\n");
}

/* The empirical's CDF at x: piecewise linear through (v_i, p_i). */
static double emp_cdf(const double *v, const double *p, size_t n, double x)
{
    if (x < v[0]) return 0;
    if (x >= v[n - 1]) return 1;
    size_t lo = 0, hi = n - 1;   /* v[lo] <= x < v[hi] */
    while (hi - lo > 1) {
        size_t mid = (lo + hi) / 2;
        if (v[mid] <= x) lo = mid;
        else hi = mid;
    }
    return v[hi] > v[lo] ? p[lo] + (p[hi] - p[lo]) * (x - v[lo]) / (v[hi] - v[lo]) : p[hi];
}

/* ---- samples ------------------------------------------------------------------------- */

static const double emp_grid[] = {0, .05, .1, .15, .2, .25, .3, .35, .4, .45, .5, .55, .6, .65, .7,
                                  .75, .8, .85, .9, .95, .99, .999, 1};
#define EMP_N (sizeof emp_grid / sizeof *emp_grid)

static int fit_samples(const char *path, const char *column, const unit_t *u, FILE *out, sim_diag_t *d)
{
    csv_t c;
    if (csv_read(&c, d, path)) return 2;
    int status = 2;
    double *x = NULL;
    size_t n = 0, cap = 0;
    char *pos = c.text;
    int lineno = 0, which = 0;
    row_t r;
    int got = next_row(&pos, &lineno, &r, &c);
    if (got < 0) goto done;
    if (got == 0) {
        sim_diag_error_at(d, path, 0, 0, "the file holds no samples (expected one number per line, or a header line and then numbers)");
        goto done;
    }
    const char *colname = NULL;
    if (column || !is_number(r.f[0])) {   /* a header */
        if (column) {
            which = find_col(&r, column);
            if (which < 0) {
                char cols[512];
                list_cols(cols, sizeof cols, &r);
                sim_diag_error_at(d, path, r.lineno, 1, "no column '%s' in the header (columns: %s)", column, cols);
                goto done;
            }
        }
        colname = r.f[which];
        got = next_row(&pos, &lineno, &r, &c);
    }
    for (; got > 0; got = next_row(&pos, &lineno, &r, &c)) {
        if (which >= r.nf) {
            sim_diag_error_at(d, path, r.lineno, r.end_col, "expected %d columns, the line has %d", which + 1, r.nf);
            goto done;
        }
        double v;
        const char *why = NULL;
        if (!*r.f[which]) {
            sim_diag_error_at(d, path, r.lineno, r.col[which], "empty value: expected a number > 0");
            goto done;
        }
        if (sim_parse_double(r.f[which], &v, &why) != 0 || !(v > 0)) {
            sim_diag_error_at(d, path, r.lineno, r.col[which], "expected a number > 0%s, got '%s'",
                              u->duration ? " (a duration in the --unit, without its unit)" : "", r.f[which]);
            goto done;
        }
        if (n == cap) {
            cap = cap ? cap * 2 : 1024;
            double *nx = realloc(x, cap * sizeof *x);
            if (!nx) {
                sim_diag_error_at(d, path, 0, 0, "out of memory");
                status = 1;
                goto done;
            }
            x = nx;
        }
        x[n++] = v;
    }
    if (got < 0) goto done;
    if (n < 10) {
        sim_diag_error_at(d, path, 0, 0, "%zu sample%s: a fit needs at least 10", n, n == 1 ? "" : "s");
        goto done;
    }
    qsort(x, n, sizeof *x, cmp_double);

    sim_fit_t fits[SIM_FIT_NFAMILIES];
    double ks[SIM_FIT_NFAMILIES], ad[SIM_FIT_NFAMILIES];
    int order[SIM_FIT_NFAMILIES], nok = 0;
    for (int f = 0; f < SIM_FIT_NFAMILIES; f++) {
        if (sim_fit_samples(x, n, (sim_fit_family_t)f, &fits[f]) == 0) {
            sim_fit_gof(&fits[f], x, n, &ks[f], &ad[f]);
            order[nok++] = f;
        }
    }
    for (int i = 1; i < nok; i++)   /* by A2, ties by the family's order */
        for (int j = i; j > 0 && ad[order[j]] < ad[order[j - 1]]; j--) {
            int t = order[j];
            order[j] = order[j - 1];
            order[j - 1] = t;
        }
    /* the empirical: quantiles (linear between order statistics) */
    double ev[EMP_N], ep[EMP_N];
    for (size_t i = 0; i < EMP_N; i++) {
        double h = emp_grid[i] * (double)(n - 1);
        size_t lo = (size_t)h;
        double fr = h - (double)lo;
        ev[i] = lo + 1 < n ? x[lo] + fr * (x[lo + 1] - x[lo]) : x[n - 1];
        ep[i] = emp_grid[i];
    }
    double eks = 0;
    for (size_t i = 0; i < n; i++) {
        double F = emp_cdf(ev, ep, EMP_N, x[i]);
        eks = fmax(eks, fmax((double)(i + 1) / (double)n - F, F - (double)i / (double)n));
    }

    double mean = 0;
    for (size_t i = 0; i < n; i++) mean += x[i];
    mean /= (double)n;
    char unitdesc[64];
    snprintf(unitdesc, sizeof unitdesc, u->duration ? "in %s" : "plain numbers", u->name);
    fprintf(out, "%zu samples from %s%s%s%s, %s: min %.6g, median %.6g, mean %.6g, max %.6g\n", n, path,
            colname ? ", column '" : "", colname ? colname : "", colname ? "'" : "", unitdesc, x[0],
            x[n / 2], mean, x[n - 1]);
    fprintf(out, "maximum-likelihood fits, ranked by the Anderson-Darling A2 (smaller fits better):\n");
    fprintf(out, "%-4s  %-11s  %10s  %12s  %12s  %8s  %8s  %s\n", "rank", "dist", "A2", "log L", "AIC", "KS D", "KS p",
            "parameters");
    for (int i = 0; i < nok; i++) {
        const sim_fit_t *f = &fits[order[i]];
        char ptxt[256];
        params_text(ptxt, sizeof ptxt, f, u);
        fprintf(out, "%-4d  %-11s  %10.4g  %12.6g  %12.6g  %8.4f  %8.3g  %s\n", i + 1, sim_fit_family_name(f->family),
                ad[order[i]], f->loglik, f->aic, ks[order[i]], sim_fit_ks_pvalue(ks[order[i]], n), ptxt);
    }
    fprintf(out, "%-4s  %-11s  %10s  %12s  %12s  %8.4f  %8s  %zu quantiles, min to max\n", "-", "empirical", "-", "-",
            "-", eks, "-", EMP_N);
    bool use_emp = nok == 0 || sim_fit_ks_pvalue(ks[order[0]], n) < 0.01;
    if (use_emp) {
        if (nok)
            fprintf(out, "best: empirical (the best family, %s, fails the KS test: p %.3g < 0.01)\n",
                    sim_fit_family_name(fits[order[0]].family), sim_fit_ks_pvalue(ks[order[0]], n));
        else
            fprintf(out, "best: empirical (no family could be fitted)\n");
        print_empirical(out, ev, ep, EMP_N, u);
    } else {
        fprintf(out, "best: %s (lowest A2; KS p %.3g)\n", sim_fit_family_name(fits[order[0]].family),
                sim_fit_ks_pvalue(ks[order[0]], n));
        print_mapping(out, &fits[order[0]], u);
    }
    status = 0;
done:
    free(x);
    free(c.text);
    return status;
}

/* ---- histogram buckets ---------------------------------------------------------------- */

static int fit_histogram(const char *path, const unit_t *u, FILE *out, sim_diag_t *d)
{
    csv_t c;
    if (csv_read(&c, d, path)) return 2;
    int status = 2;
    double *le = NULL, *cum = NULL, total = -1;
    size_t m = 0, cap = 0;
    char *pos = c.text;
    int lineno = 0;
    row_t h, r;
    int got = next_row(&pos, &lineno, &h, &c);
    if (got < 0) goto done;
    if (got == 0) {
        sim_diag_error_at(d, path, 0, 0, "the file holds no buckets (expected a header `le,count` and one line per bucket)");
        goto done;
    }
    int cle = find_col(&h, "le"), ccount = find_col(&h, "count");
    if (cle < 0 || ccount < 0) {
        char cols[512];
        list_cols(cols, sizeof cols, &h);
        sim_diag_error_at(d, path, h.lineno, 1, "expected a header naming the columns 'le' and 'count' (got: %s)", cols);
        goto done;
    }
    int last_line = 0;
    double prev_le = 0, prev_count = 0;
    while ((got = next_row(&pos, &lineno, &r, &c)) > 0) {
        int need = (cle > ccount ? cle : ccount) + 1;
        if (r.nf < need) {
            sim_diag_error_at(d, path, r.lineno, r.end_col, "expected %d columns, the line has %d", need, r.nf);
            goto done;
        }
        if (total >= 0) {
            sim_diag_error_at(d, path, r.lineno, 1, "a bucket after le=+Inf (the +Inf bucket, the total, comes last)");
            goto done;
        }
        const char *ls = r.f[cle];
        double b, k;
        bool inf = strcmp(ls, "+Inf") == 0 || strcmp(ls, "Inf") == 0 || strcmp(ls, "inf") == 0 ||
                   strcmp(ls, "+inf") == 0;
        if (!inf && (sim_parse_double(ls, &b, NULL) != 0 || !(b > 0))) {
            sim_diag_error_at(d, path, r.lineno, r.col[cle], "expected a bucket bound: a number > 0 or +Inf, got '%s'", ls);
            goto done;
        }
        if (!inf && m > 0 && !(b > prev_le)) {
            sim_diag_error_at(d, path, r.lineno, r.col[cle],
                              "bucket bounds must increase down the file: %.6g after %.6g", b, prev_le);
            goto done;
        }
        if (sim_parse_double(r.f[ccount], &k, NULL) != 0 || k < 0) {
            sim_diag_error_at(d, path, r.lineno, r.col[ccount], "expected a count >= 0, got '%s'", r.f[ccount]);
            goto done;
        }
        if (k < prev_count) {
            sim_diag_error_at(d, path, r.lineno, r.col[ccount],
                              "counts must not decrease: %.6g after %.6g (Prometheus buckets are cumulative: "
                              "each counts the observations <= le)", k, prev_count);
            goto done;
        }
        prev_count = k;
        last_line = r.lineno;
        if (inf) {
            total = k;
            continue;
        }
        if (m == cap) {
            cap = cap ? cap * 2 : 64;
            double *a = realloc(le, cap * sizeof *a), *bb = a ? realloc(cum, cap * sizeof *bb) : NULL;
            if (a) le = a;
            if (!a || !bb) {
                sim_diag_error_at(d, path, 0, 0, "out of memory");
                status = 1;
                goto done;
            }
            cum = bb;
        }
        le[m] = b;
        cum[m++] = k;
        prev_le = b;
    }
    if (got < 0) goto done;
    if (total < 0) {
        sim_diag_error_at(d, path, last_line ? last_line : h.lineno, 1,
                          "no le=+Inf bucket: the last bucket must be +Inf, the count of all observations");
        goto done;
    }
    if (m == 0 || !(total > 0)) {
        sim_diag_error_at(d, path, last_line, 1, "%s", m == 0 ? "only the +Inf bucket: there is nothing to fit"
                                                              : "the +Inf bucket counts no observations");
        goto done;
    }
    int filled = 0;
    for (size_t j = 0; j <= m; j++) filled += (j < m ? cum[j] : total) > (j ? cum[j - 1] : 0);
    if (filled < 2) {
        sim_diag_error_at(d, path, 0, 0, "all observations fall in one bucket: the buckets do not resolve a distribution");
        goto done;
    }

    sim_fit_t fits[SIM_FIT_NFAMILIES];
    double chi2[SIM_FIT_NFAMILIES], pv[SIM_FIT_NFAMILIES], gap[SIM_FIT_NFAMILIES];
    int order[SIM_FIT_NFAMILIES], nok = 0;
    for (int f = 0; f < SIM_FIT_NFAMILIES; f++)
        if (sim_fit_buckets(le, cum, m, total, (sim_fit_family_t)f, &fits[f]) == 0) {
            sim_fit_buckets_gof(&fits[f], le, cum, m, total, &chi2[f], &pv[f], &gap[f]);
            order[nok++] = f;
        }
    for (int i = 1; i < nok; i++)
        for (int j = i; j > 0 && fits[order[j]].aic < fits[order[j - 1]].aic; j--) {
            int t = order[j];
            order[j] = order[j - 1];
            order[j - 1] = t;
        }
    char unitdesc[64];
    snprintf(unitdesc, sizeof unitdesc, u->duration ? "bounds in %s" : "bounds as plain numbers", u->name);
    double above = total - cum[m - 1];
    fprintf(out, "%.15g observations in %zu buckets and +Inf from %s, %s; %.3g%% above the last bound %.6g\n", total,
            m, path, unitdesc, 100 * above / total, le[m - 1]);
    fprintf(out, "interval-censored maximum-likelihood fits, ranked by AIC (smaller fits better):\n");
    fprintf(out, "%-4s  %-11s  %12s  %12s  %10s  %8s  %8s  %s\n", "rank", "dist", "AIC", "log L", "chi2", "p", "CDF gap",
            "parameters");
    for (int i = 0; i < nok; i++) {
        const sim_fit_t *f = &fits[order[i]];
        char ptxt[256];
        params_text(ptxt, sizeof ptxt, f, u);
        fprintf(out, "%-4d  %-11s  %12.6g  %12.6g  %10.4g  %8.3g  %8.4f  %s\n", i + 1, sim_fit_family_name(f->family),
                f->aic, f->loglik, chi2[order[i]], pv[order[i]], gap[order[i]], ptxt);
    }
    fprintf(out, "%-4s  %-11s  %12s  %12s  %10s  %8s  %8s  the buckets, linear inside each\n", "-", "empirical", "-",
            "-", "-", "-", "0");
    bool use_emp = nok == 0 || pv[order[0]] < 0.01;
    if (use_emp) {
        if (nok)
            fprintf(out, "best: empirical (the best family, %s, fails the chi-square test: p %.3g < 0.01)\n",
                    sim_fit_family_name(fits[order[0]].family), pv[order[0]]);
        else
            fprintf(out, "best: empirical (no family could be fitted)\n");
        if (above > 0)
            fprintf(out, "note: the %.3g%% of observations above %.6g%s are put at that bound (a histogram "
                         "does not say how far above it they were)\n",
                    100 * above / total, le[m - 1], u->name);
        /* points: 0, then each bound; the +Inf mass at the last bound */
        double *v = malloc((m + 2) * sizeof *v), *p = malloc((m + 2) * sizeof *p);
        if (!v || !p) {
            free(v);
            free(p);
            status = 1;
            goto done;
        }
        size_t n = 0;
        v[n] = 0;
        p[n++] = 0;
        for (size_t j = 0; j < m; j++) {
            v[n] = le[j];
            p[n++] = cum[j] / total;
        }
        if (above > 0) {
            v[n] = le[m - 1];
            p[n++] = 1;
        }
        print_empirical(out, v, p, n, u);
        free(v);
        free(p);
    } else {
        fprintf(out, "best: %s (lowest AIC; chi-square p %.3g)\n", sim_fit_family_name(fits[order[0]].family),
                pv[order[0]]);
        print_mapping(out, &fits[order[0]], u);
    }
    status = 0;
done:
    free(le);
    free(cum);
    free(c.text);
    return status;
}

int fit_main(int argc, char **argv, FILE *out, FILE *err)
{
    static const struct option lo[] = {{"column", 1, 0, 'c'}, {"unit", 1, 0, 'u'}, {"histogram", 1, 0, 'H'},
                                       {"help", 0, 0, 'h'}, {0, 0, 0, 0}};
    const char *column = NULL, *hist = NULL;
    unit_t u = {"", false};
    int c;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":h", lo, NULL)) != -1) {
        switch (c) {
        case 'c':
            if (!*optarg) {
                fprintf(err, CMD ": error: --column needs a column name\n");
                return 2;
            }
            column = optarg;
            break;
        case 'u':
            if (parse_unit(optarg, &u)) {
                fprintf(err, CMD ": error: --unit expects ns, us, ms, s, min, h or none, got '%s'\n", optarg);
                return 2;
            }
            break;
        case 'H': hist = optarg; break;
        case 'h': usage(out); return 0;
        case ':': fprintf(err, CMD ": error: option '%s' needs a value\n", argv[optind - 1]); return 2;
        default: fprintf(err, CMD ": error: unknown option '%s' (see " CMD " --help)\n", argv[optind - 1]); return 2;
        }
    }
    if (hist && column) {
        fprintf(err, CMD ": error: --column applies to samples, not to --histogram buckets (columns le and count)\n");
        return 2;
    }
    if (hist ? optind < argc : optind + 1 != argc) {
        if (optind >= argc)
            fprintf(err, CMD ": error: missing the samples file: " CMD " SAMPLES.csv (or --histogram BUCKETS.csv)\n");
        else
            fprintf(err, CMD ": error: unexpected argument '%s' (one file per fit)\n", argv[hist ? optind : optind + 1]);
        return 2;
    }
    sim_diag_t d;
    sim_diag_init(&d);
    int status = hist ? fit_histogram(hist, &u, out, &d) : fit_samples(argv[optind], column, &u, out, &d);
    fputs(sim_diag_text(&d), err);
    sim_diag_fini(&d);
    return status;
}
