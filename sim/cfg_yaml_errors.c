/* Scenario configuration tree: positions in the YAML text, and libyaml's
 * errors as messages (see cfg.h).
 *
 * Owns the mapping of libyaml's marks and byte offsets to 1-based
 * FILE:LINE:COL positions (in a file, or in a --set assignment), and the
 * translation of its reader, scanner and parser errors into messages with
 * a hint: tabs in indentation, invalid UTF-8, control characters,
 * unterminated quotes, values that cannot start a plain scalar.
 * May call: the builder's reports (cfg_b_error, cfg_b_nomem), libyaml. */
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <yaml.h>

#include "cfg_internal.h"

/* ---- Positions ------------------------------------------------------------ */

/* 1-based position of a libyaml mark (its index counts characters). */
void cfg_b_pos(const cfg_builder_t *b, yaml_mark_t m, int *line, int *col)
{
    if (b->set_col > 0) {
        *line = 1;
        *col = cfg_clamp_int((size_t)b->set_col + m.index);
    } else {
        *line = cfg_clamp_int(m.line + 1);
        *col = cfg_clamp_int(m.column + 1);
    }
}

/* 1-based position of a byte offset in the source. */
static void cfg_b_pos_of_offset(const cfg_builder_t *b, size_t off, int *line, int *col)
{
    if (off > b->src_len) off = b->src_len;
    if (b->set_col > 0) {
        *line = 1;
        *col = cfg_clamp_int((size_t)b->set_col + cfg_utf8_chars(b->src, off));
        return;
    }
    size_t ln = 1, start = 0;
    for (size_t i = 0; i < off; i++) {
        char c = b->src[i];
        if (c == '\n' || (c == '\r' && (i + 1 >= b->src_len || b->src[i + 1] != '\n'))) {
            ln++;
            start = i + 1;
        }
    }
    *line = cfg_clamp_int(ln);
    *col = cfg_clamp_int(cfg_utf8_chars(b->src + start, off - start) + 1);
}

/* Byte offset of the character with libyaml index `index`. */
static size_t cfg_b_offset_of_index(const cfg_builder_t *b, size_t index)
{
    size_t c = 0;
    for (size_t i = 0; i < b->src_len; i++) {
        if (((unsigned char)b->src[i] & 0xC0) == 0x80) continue;
        if (c == index) return i;
        c++;
    }
    return b->src_len;
}

/* ---- libyaml's errors ---------------------------------------------------- */

/* If the syntax error at byte `off` is caused by a tab, report it and return true. */
static bool cfg_b_tab_error(cfg_builder_t *b, size_t off)
{
    if (!b->src || off > b->src_len) return false;
    size_t ls = off;
    while (ls > 0 && b->src[ls - 1] != '\n' && b->src[ls - 1] != '\r') ls--;
    /* First tab in the line's leading whitespace, if libyaml stopped inside
     * that whitespace (it stops at the tab it cannot accept). */
    size_t i = ls, tab = SIZE_MAX;
    while (i < b->src_len && (b->src[i] == ' ' || b->src[i] == '\t')) {
        if (b->src[i] == '\t' && tab == SIZE_MAX) tab = i;
        i++;
    }
    int line, col;
    if (tab != SIZE_MAX && off < i) {
        cfg_b_pos_of_offset(b, tab, &line, &col);
        cfg_b_error(b, line, col, "tab character in indentation; YAML allows only spaces");
        return true;
    }
    if (off < b->src_len && b->src[off] == '\t') {
        cfg_b_pos_of_offset(b, off, &line, &col);
        cfg_b_error(b, line, col, "tab character here is not valid YAML; use spaces");
        return true;
    }
    return false;
}

static const struct {
    const char *problem;
    const char *hint;
} cfg_syntax_hints[] = {
    {"mapping values are not allowed in this context",
     "a value that contains ': ' must be quoted, or the indentation is wrong"},
    {"did not find expected key", "check the indentation of this line"},
    {"could not find expected ':'", "a key must be followed by ':' on the same line"},
    {"did not find expected node content", "a value is missing here"},
    {"did not find expected '-' indicator", "check the indentation of this line"},
};

void cfg_b_syntax_error(cfg_builder_t *b, const yaml_parser_t *p)
{
    int line, col;
    const char *problem = p->problem ? p->problem : "unknown problem";

    switch (p->error) {
    case YAML_MEMORY_ERROR:
        cfg_b_nomem(b);
        return;
    case YAML_READER_ERROR: {
        size_t off = p->problem_offset;
        /* libyaml points at the bad continuation byte of a sequence; the
         * byte to show (and fix) is the one that started it */
        if (strstr(problem, "trailing") && off > 0 && off <= b->src_len) {
            off--;
            while (off > 0 && ((unsigned char)b->src[off] & 0xC0) == 0x80) off--;
        }
        unsigned char byte = off < b->src_len ? (unsigned char)b->src[off] : 0;
        cfg_b_pos_of_offset(b, off, &line, &col);
        if (strstr(problem, "control characters")) {
            cfg_b_error(b, line, col,
                        "control character 0x%02X is not allowed in a scenario "
                        "(is this a binary file?)", (unsigned)p->problem_value);
        } else if (strstr(problem, "UTF-8") || strstr(problem, "Unicode")) {
            cfg_b_error(b, line, col,
                        "invalid UTF-8 byte 0x%02X; the scenario must be UTF-8 text "
                        "(was it saved as Latin-1?)", byte);
        } else {
            cfg_b_error(b, line, col, "cannot read the input: %s", problem);
        }
        return;
    }
    case YAML_SCANNER_ERROR:
    case YAML_PARSER_ERROR:
        break;
    default:
        cfg_b_error(b, 0, 0, "YAML error: %s", problem);
        return;
    }

    if (b->src && cfg_b_tab_error(b, cfg_b_offset_of_index(b, p->problem_mark.index))) return;

    if (p->context && strstr(p->context, "quoted scalar") &&
        strstr(problem, "end of stream")) {
        cfg_b_pos(b, p->context_mark, &line, &col);
        cfg_b_error(b, line, col, "YAML syntax error: unterminated quoted string "
                                  "(no closing quote before the end of the input)");
        return;
    }

    cfg_b_pos(b, p->problem_mark, &line, &col);
    if (strstr(problem, "cannot start any token")) {
        size_t off = cfg_b_offset_of_index(b, p->problem_mark.index), n = 1;
        while (off + n < b->src_len && n < 4 && ((unsigned char)b->src[off + n] & 0xC0) == 0x80)
            n++;
        if (off >= b->src_len) n = 0;
        cfg_b_error(b, line, col,
                    "YAML syntax error: a plain value cannot start with '%.*s' "
                    "(quote the value)", (int)n, b->src + off);
        return;
    }
    const char *hint = NULL;
    for (size_t i = 0; i < sizeof cfg_syntax_hints / sizeof cfg_syntax_hints[0]; i++)
        if (strcmp(problem, cfg_syntax_hints[i].problem) == 0) hint = cfg_syntax_hints[i].hint;
    char ctx[160] = "";
    if (p->context && (p->context_mark.line != p->problem_mark.line ||
                       p->context_mark.column != p->problem_mark.column)) {
        int cl, cc;
        cfg_b_pos(b, p->context_mark, &cl, &cc);
        snprintf(ctx, sizeof ctx, "%s started at %d:%d", p->context, cl, cc);
    }
    if (hint && ctx[0])
        cfg_b_error(b, line, col, "YAML syntax error: %s (%s; %s)", problem, hint, ctx);
    else if (hint || ctx[0])
        cfg_b_error(b, line, col, "YAML syntax error: %s (%s)", problem, hint ? hint : ctx);
    else
        cfg_b_error(b, line, col, "YAML syntax error: %s", problem);
}
