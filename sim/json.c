/* A streaming JSON writer (sim/json.h). */
#include "json.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

void sim_json_init(sim_json_t *j, FILE *f, int indent)
{
    memset(j, 0, sizeof *j);
    j->f = f;
    j->indent = indent;
    j->first[0] = true;
}

static void newline(sim_json_t *j)
{
    if (j->indent <= 0) return;
    fputc('\n', j->f);
    for (int i = 0; i < j->depth * j->indent; i++) fputc(' ', j->f);
}

static void put_string(FILE *f, const char *s)
{
    static const char hex[] = "0123456789abcdef";
    const unsigned char *p = (const unsigned char *)s;
    fputc('"', f);
    while (*p) {
        unsigned c = *p;
        if (c == '"' || c == '\\') {
            fputc('\\', f);
            fputc((int)c, f);
            p++;
        } else if (c < 0x20) {
            switch (c) {
            case '\n': fputs("\\n", f); break;
            case '\r': fputs("\\r", f); break;
            case '\t': fputs("\\t", f); break;
            case '\b': fputs("\\b", f); break;
            case '\f': fputs("\\f", f); break;
            default: fprintf(f, "\\u00%c%c", hex[c >> 4], hex[c & 15]);
            }
            p++;
        } else if (c < 0x80) {
            fputc((int)c, f);
            p++;
        } else {
            /* a well-formed UTF-8 sequence is copied, anything else is U+FFFD */
            size_t n = c >= 0xF0 && c < 0xF5 ? 4 : c >= 0xE0 && c < 0xF0 ? 3 : c >= 0xC2 && c < 0xE0 ? 2 : 0;
            size_t k = 1;
            while (n && k < n && (p[k] & 0xC0) == 0x80) k++;
            if (n && k == n && !(c == 0xE0 && p[1] < 0xA0) && !(c == 0xED && p[1] >= 0xA0) &&
                !(c == 0xF0 && p[1] < 0x90) && !(c == 0xF4 && p[1] >= 0x90)) {
                fwrite(p, 1, n, f);
                p += n;
            } else {
                fputs("\xEF\xBF\xBD", f);
                p += k;
            }
        }
    }
    fputc('"', f);
}

/* the separator, indentation and key of the next member */
static void member(sim_json_t *j, const char *key)
{
    if (!j->first[j->depth]) fputc(',', j->f);
    if (j->depth > 0) newline(j);
    j->first[j->depth] = false;
    if (key) {
        put_string(j->f, key);
        fputs(j->indent > 0 ? ": " : ":", j->f);
    }
}

static void begin(sim_json_t *j, const char *key, char open)
{
    member(j, key);
    fputc(open, j->f);
    if (j->depth >= SIM_JSON_MAX_DEPTH) {
        j->bad = true;
        return;
    }
    j->close[j->depth] = open == '{' ? '}' : ']';
    j->depth++;
    j->first[j->depth] = true;
}

void sim_json_begin_obj(sim_json_t *j, const char *key) { begin(j, key, '{'); }
void sim_json_begin_arr(sim_json_t *j, const char *key) { begin(j, key, '['); }

void sim_json_end(sim_json_t *j)
{
    if (j->depth == 0) {
        j->bad = true;
        return;
    }
    bool empty = j->first[j->depth];
    j->depth--;
    if (!empty) newline(j);
    fputc(j->close[j->depth], j->f);
}

void sim_json_str(sim_json_t *j, const char *key, const char *s)
{
    member(j, key);
    if (s) put_string(j->f, s);
    else fputs("null", j->f);
}

void sim_json_num(sim_json_t *j, const char *key, double v)
{
    member(j, key);
    if (!isfinite(v)) {
        fputs("null", j->f);
        return;
    }
    if (v == 0) v = 0;   /* -0 as 0 */
    /* the shortest of 15, 16, 17 significant digits that reads back as v */
    char buf[40];
    for (int prec = 15; prec <= 17; prec++) {
        snprintf(buf, sizeof buf, "%.*g", prec, v);
        if (strtod(buf, NULL) == v) break;
    }
    /* a JSON number is locale-free: a ',' decimal separator becomes '.' */
    for (char *q = buf; *q; q++)
        if (*q == ',') *q = '.';
    fputs(buf, j->f);
}

void sim_json_int(sim_json_t *j, const char *key, int64_t v)
{
    member(j, key);
    fprintf(j->f, "%lld", (long long)v);
}

void sim_json_uint(sim_json_t *j, const char *key, uint64_t v)
{
    member(j, key);
    fprintf(j->f, "%llu", (unsigned long long)v);
}

void sim_json_bool(sim_json_t *j, const char *key, bool v)
{
    member(j, key);
    fputs(v ? "true" : "false", j->f);
}

void sim_json_null(sim_json_t *j, const char *key)
{
    member(j, key);
    fputs("null", j->f);
}

int sim_json_finish(sim_json_t *j)
{
    fputc('\n', j->f);
    if (j->bad || j->depth != 0) return -1;
    return ferror(j->f) ? -1 : 0;
}
