/* Diagnostics buffer: compiler-style messages collected in memory.
 *
 * Each report formats one line into a growable buffer. Control characters in
 * a message (they can come from user text quoted in it) are escaped, so every
 * report is exactly one line. After max_errors errors further reports are
 * counted but not recorded, and one "too many errors; stopping" line is
 * added. A failed allocation drops the line, never the count. */
#include "diag.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DIAG_DEFAULT_MAX_ERRORS 20

void sim_diag_init(sim_diag_t *d)
{
    memset(d, 0, sizeof *d);
    d->max_errors = DIAG_DEFAULT_MAX_ERRORS;
}

void sim_diag_fini(sim_diag_t *d)
{
    if (!d) return;
    free(d->buf);
    d->buf = NULL;
    d->len = d->cap = 0;
}

/* Make room for `extra` more bytes plus the terminating NUL. */
static int diag_reserve(sim_diag_t *d, size_t extra)
{
    if (d->len + extra + 1 <= d->cap) return 0;
    size_t cap = d->cap ? d->cap : 256;
    while (cap < d->len + extra + 1) {
        if (cap > SIZE_MAX / 2) return -1;
        cap *= 2;
    }
    char *nb = realloc(d->buf, cap);
    if (!nb) return -1;
    d->buf = nb;
    d->cap = cap;
    return 0;
}

/* Append `s` (n bytes), escaping control characters so a message stays on
 * one line: "\n" -> "\\n", "\t" -> "\\t", others -> "\\xNN". */
static void diag_append_escaped(sim_diag_t *d, const char *s, size_t n)
{
    if (diag_reserve(d, 4 * n) != 0) return;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '\n') {
            memcpy(d->buf + d->len, "\\n", 2);
            d->len += 2;
        } else if (c == '\t') {
            memcpy(d->buf + d->len, "\\t", 2);
            d->len += 2;
        } else if (c < 0x20 || c == 0x7f) {
            snprintf(d->buf + d->len, 5, "\\x%02x", c);
            d->len += 4;
        } else {
            d->buf[d->len++] = (char)c;
        }
    }
    d->buf[d->len] = '\0';
}

static void diag_commit(sim_diag_t *d, size_t before, int is_error);

static void diag_append(sim_diag_t *d, const char *s)
{
    size_t n = strlen(s);
    if (diag_reserve(d, n) != 0) return;
    memcpy(d->buf + d->len, s, n + 1);
    d->len += n;
}

void sim_diag_vreport(sim_diag_t *d, int is_error, const char *file, int line, int col,
                      const char *fmt, va_list ap)
{
    if (!d) return;
    int cap = d->max_errors;
    if (cap > 0 && d->errors >= cap) {
        /* Past the cap: counted; the first error over it leaves one note, then silence. */
        if (is_error && ++d->errors == cap + 1) diag_append(d, "too many errors; stopping\n");
        if (!is_error) d->warnings++;
        return;
    }

    char head[64];
    const char *kind = is_error ? "error" : "warning";
    if (!file) file = "<input>";
    if (line > 0 && col > 0) snprintf(head, sizeof head, ":%d:%d: %s: ", line, col, kind);
    else if (line > 0) snprintf(head, sizeof head, ":%d: %s: ", line, kind);
    else snprintf(head, sizeof head, ": %s: ", kind);

    va_list ap2;
    va_copy(ap2, ap);
    int n = vsnprintf(NULL, 0, fmt, ap2);
    va_end(ap2);
    if (n < 0) return;
    char *msg = malloc((size_t)n + 1);
    if (!msg) {
        /* the line is lost, not the error */
        d->nomem = 1;
        if (is_error) d->errors++;
        else d->warnings++;
        return;
    }
    vsnprintf(msg, (size_t)n + 1, fmt, ap);

    /* A message already reported (the same scenario text read once per
     * variant) is not repeated. */
    size_t before = d->len;
    diag_append_escaped(d, file, strlen(file));
    diag_append(d, head);
    diag_append_escaped(d, msg, (size_t)n);
    diag_append(d, "\n");
    free(msg);
    diag_commit(d, before, is_error);
}

/* The line appended since `before`: dropped if it repeats an earlier line,
 * else counted. */
static void diag_commit(sim_diag_t *d, size_t before, int is_error)
{
    if (d->buf && before < d->len) {
        size_t llen = d->len - before;
        const char *line_ = d->buf + before;
        for (const char *p = d->buf; p < line_; p = strchr(p, '\n') + 1) {
            if ((size_t)(line_ - p) >= llen && !memcmp(p, line_, llen) && (p == d->buf || p[-1] == '\n')) {
                d->len = before;
                d->buf[before] = '\0';
                return;
            }
        }
    }
    if (is_error) d->errors++;
    else d->warnings++;
}

void sim_diag_merge(sim_diag_t *d, const sim_diag_t *from)
{
    if (!d || !from) return;
    d->nomem |= from->nomem;
    if (!from->buf) return;
    for (const char *p = from->buf; *p;) {
        const char *nl = strchr(p, '\n');
        size_t n = nl ? (size_t)(nl - p) : strlen(p);
        /* the kind: the first ": error: " or ": warning: " of the line */
        const char *e = strstr(p, ": error: "), *w = strstr(p, ": warning: ");
        int is_error = e && e < p + n && (!w || w > e || w >= p + n);
        int cap = d->max_errors;
        if (cap > 0 && d->errors >= cap) {
            if (is_error && ++d->errors == cap + 1) diag_append(d, "too many errors; stopping\n");
            if (!is_error) d->warnings++;
        } else if (diag_reserve(d, n + 2) == 0) {
            size_t before = d->len;
            memcpy(d->buf + d->len, p, n);
            d->len += n;
            d->buf[d->len++] = '\n';
            d->buf[d->len] = '\0';
            diag_commit(d, before, is_error);
        }
        p += n + (nl ? 1 : 0);
    }
}

void sim_diag_error_at(sim_diag_t *d, const char *file, int line, int col, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    sim_diag_vreport(d, 1, file, line, col, fmt, ap);
    va_end(ap);
}

void sim_diag_warn_at(sim_diag_t *d, const char *file, int line, int col, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    sim_diag_vreport(d, 0, file, line, col, fmt, ap);
    va_end(ap);
}

const char *sim_diag_text(const sim_diag_t *d)
{
    return (d && d->buf) ? d->buf : "";
}
