/* CSV reader (csv.h): the file in one buffer, fields split in place. */
#include "sim/csv.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sim/error.h"

/* Split one line starting at c->pos into fields (in place). Returns the
 * number of fields, or -1 after reporting. */
static int split(sim_csv_t *c, sim_diag_t *d, char **field, int *fcol)
{
    char *s = c->buf + c->pos, *line_start = s;
    int n = 0;
    c->line = c->next_line;
    for (;;) {
        if (n == SIM_CSV_MAX_COLS) {
            sim_diag_error_at(d, c->path, c->line, (int)(s - line_start) + 1, "more than %d fields in a row",
                              SIM_CSV_MAX_COLS);
            return -1;
        }
        int col = (int)(s - line_start) + 1;
        char *out = s, *start = s;
        if (*s == '"') {
            s++;
            for (;;) {
                if (*s == '\0' || *s == '\n') {
                    sim_diag_error_at(d, c->path, c->line, col, "a quoted field has no closing quote on its line");
                    return -1;
                }
                if (*s == '"') {
                    if (s[1] == '"') { *out++ = '"'; s += 2; continue; }
                    s++;
                    break;
                }
                *out++ = *s++;
            }
            if (*s != ',' && *s != '\n' && *s != '\0' && !(*s == '\r' && (s[1] == '\n' || s[1] == '\0'))) {
                sim_diag_error_at(d, c->path, c->line, (int)(s - line_start) + 1,
                                  "expected ',' or the end of the line after a quoted field");
                return -1;
            }
        } else {
            while (*s != ',' && *s != '\n' && *s != '\0') s++;
            out = s;
            if (out > start && out[-1] == '\r') out--;
        }
        char end = *s, after = end ? s[1] : '\0';
        *out = '\0';   /* may overwrite *s: decide from end and after */
        field[n] = start;
        fcol[n] = col;
        n++;
        if (end == ',') { s++; continue; }
        if (end == '\r') { s++; end = after; }
        if (end == '\n') s++;
        break;
    }
    c->pos = (size_t)(s - c->buf);
    c->next_line++;
    return n;
}

/* Skip blank lines (empty or only CR). */
static void skip_blank(sim_csv_t *c)
{
    while (c->pos < c->len) {
        char *s = c->buf + c->pos;
        if (*s == '\n') { c->pos++; c->next_line++; }
        else if (*s == '\r' && (s[1] == '\n' || s[1] == '\0')) { c->pos += s[1] ? 2 : 1; c->next_line++; }
        else break;
    }
}

int sim_csv_open(sim_csv_t *c, const char *path, sim_diag_t *d)
{
    memset(c, 0, sizeof *c);
    c->path = path;
    c->next_line = 1;
    /* O_NONBLOCK: a FIFO given by mistake must not block the open */
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) {
        sim_diag_error_at(d, path, 0, 0, "cannot open: %s", strerror(errno));
        return SIM_ECONFIG;
    }
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        sim_diag_error_at(d, path, 0, 0, "not a regular file");
        close(fd);
        return SIM_ECONFIG;
    }
    FILE *f = fdopen(fd, "rb");
    if (!f) {
        close(fd);
        return SIM_ENOMEM;
    }
    if ((size_t)st.st_size > SIM_CSV_MAX_BYTES) {
        sim_diag_error_at(d, path, 0, 0, "the file is larger than %zu bytes", SIM_CSV_MAX_BYTES);
        fclose(f);
        return SIM_ECONFIG;
    }
    c->buf = malloc((size_t)st.st_size + 1);
    if (!c->buf) {
        fclose(f);
        return SIM_ENOMEM;
    }
    c->len = fread(c->buf, 1, (size_t)st.st_size, f);
    int rerr = ferror(f);
    fclose(f);
    if (rerr) {
        sim_diag_error_at(d, path, 0, 0, "read error");
        goto fail;
    }
    c->buf[c->len] = '\0';
    if (memchr(c->buf, '\0', c->len)) {
        sim_diag_error_at(d, path, 0, 0, "not a text file (it contains NUL bytes)");
        goto fail;
    }
    if (c->len >= 3 && !memcmp(c->buf, "\xEF\xBB\xBF", 3)) c->pos = 3;   /* UTF-8 byte order mark */
    skip_blank(c);
    if (c->pos >= c->len) {
        sim_diag_error_at(d, path, 0, 0, "empty file: expected a header row naming the columns");
        goto fail;
    }
    int n = split(c, d, c->header, c->hcol);
    if (n < 0) goto fail;
    c->ncols = (size_t)n;
    for (int i = 0; i < n; i++) {
        if (!c->header[i][0]) {
            sim_diag_error_at(d, path, c->line, c->hcol[i], "empty column name in the header");
            goto fail;
        }
        for (int j = 0; j < i; j++)
            if (!strcmp(c->header[i], c->header[j])) {
                sim_diag_error_at(d, path, c->line, c->hcol[i], "column '%s' appears twice in the header (first at column %d)",
                                  c->header[i], c->hcol[j]);
                goto fail;
            }
    }
    return 0;
fail:
    free(c->buf);
    c->buf = NULL;
    return SIM_ECONFIG;
}

int sim_csv_next(sim_csv_t *c, sim_diag_t *d)
{
    skip_blank(c);
    if (c->pos >= c->len) return 0;
    int n = split(c, d, c->field, c->fcol);
    if (n < 0) return SIM_ECONFIG;
    if ((size_t)n != c->ncols) {
        sim_diag_error_at(d, c->path, c->line, n > (int)c->ncols ? c->fcol[c->ncols] : 1,
                          "expected %zu fields as in the header, got %d", c->ncols, n);
        return SIM_ECONFIG;
    }
    return 1;
}

void sim_csv_close(sim_csv_t *c)
{
    free(c->buf);
    memset(c, 0, sizeof *c);
}

int sim_csv_column(const sim_csv_t *c, const char *name)
{
    for (size_t i = 0; i < c->ncols; i++)
        if (!strcmp(c->header[i], name)) return (int)i;
    return -1;
}
