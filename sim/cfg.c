/* Scenario configuration tree: YAML -> nodes with positions, typed getters,
 * --set overrides, emission and unknown-key detection.
 *
 * Loading drives libyaml's event parser (not its document loader) so that
 * every node keeps its file position, duplicate keys, merge keys, tags and
 * aliases are checked as they arrive, and limits are enforced before memory
 * is spent: at most SIM_CFG_MAX_NODES nodes, of which at most
 * SIM_CFG_MAX_ALIAS_NODES are alias copies (both checked before each copy),
 * and SIM_CFG_MAX_DEPTH nested collections.
 *
 * All nodes, arrays and strings live in an arena of large blocks owned by the
 * sim_cfg_t; sim_cfg_destroy frees the blocks. Scratch arrays used while a
 * collection is being parsed are malloc'd and freed before the load returns. */
#include "cfg.h"

#include <errno.h>
#include <fcntl.h>
#include <float.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <yaml.h>

#include "error.h"
#include "units.h"

#define CFG_SET_FILE "--set"
#define CFG_BLOCK_SIZE ((size_t)64 << 10)
#define CFG_QUOTE_MAX 60            /* bytes of user text quoted in a message */

/* ---- Arena ------------------------------------------------------------ */

typedef struct cfg_block {
    struct cfg_block *next;
    size_t used, cap;
    _Alignas(max_align_t) unsigned char data[];
} cfg_block_t;

struct sim_cfg {
    cfg_block_t *blocks;
    const char *file;
    const char *source;
    size_t source_len;
    sim_cfg_node_t *root;
    size_t nnodes;          /* nodes ever created (replaced ones included) */
};

/* Zeroed, max_align_t-aligned memory from the arena; NULL when out of memory. */
static void *cfg_alloc(sim_cfg_t *cfg, size_t size)
{
    const size_t align = _Alignof(max_align_t);
    if (size > SIZE_MAX - align) return NULL;
    size = (size + align - 1) & ~(align - 1);
    if (size == 0) size = align;
    cfg_block_t *b = cfg->blocks;
    if (!b || b->cap - b->used < size) {
        size_t cap = size > CFG_BLOCK_SIZE ? size : CFG_BLOCK_SIZE;
        if (cap > SIZE_MAX - sizeof *b) return NULL;
        b = malloc(sizeof *b + cap);
        if (!b) return NULL;
        b->used = 0;
        b->cap = cap;
        /* Keep the fuller block second so small allocations still fill the
         * current one after an oversized request. */
        if (cfg->blocks && size > CFG_BLOCK_SIZE) {
            b->next = cfg->blocks->next;
            cfg->blocks->next = b;
        } else {
            b->next = cfg->blocks;
            cfg->blocks = b;
        }
    }
    void *p = b->data + b->used;
    b->used += size;
    memset(p, 0, size);
    return p;
}

static char *cfg_strndup(sim_cfg_t *cfg, const char *s, size_t n)
{
    if (n == SIZE_MAX) return NULL;
    char *p = cfg_alloc(cfg, n + 1);
    if (!p) return NULL;
    memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

/* Every node is allocated behind a pointer to its tree, so that functions
 * given only a node (sim_cfg_get) can allocate in the right arena. */
typedef struct {
    sim_cfg_t *owner;
    sim_cfg_node_t node;
} cfg_box_t;

static sim_cfg_t *cfg_owner_of(const sim_cfg_node_t *n)
{
    return ((const cfg_box_t *)(const void *)((const char *)n - offsetof(cfg_box_t, node)))->owner;
}

static sim_cfg_node_t *cfg_new_node(sim_cfg_t *cfg, sim_cfg_kind_t kind, const char *file,
                                    int line, int col)
{
    cfg_box_t *box = cfg_alloc(cfg, sizeof *box);
    if (!box) return NULL;
    box->owner = cfg;
    sim_cfg_node_t *n = &box->node;
    n->kind = kind;
    n->file = file;
    n->line = line;
    n->col = col;
    if (kind == SIM_CFG_SCALAR) n->text = "";
    cfg->nnodes++;
    return n;
}

void sim_cfg_destroy(sim_cfg_t *cfg)
{
    if (!cfg) return;
    cfg_block_t *b = cfg->blocks;
    while (b) {
        cfg_block_t *next = b->next;
        free(b);
        b = next;
    }
    free(cfg);
}

sim_cfg_node_t *sim_cfg_root(const sim_cfg_t *cfg) { return cfg ? cfg->root : NULL; }
const char *sim_cfg_file(const sim_cfg_t *cfg) { return cfg ? cfg->file : NULL; }

const char *sim_cfg_source(const sim_cfg_t *cfg, size_t *len)
{
    if (len) *len = cfg ? cfg->source_len : 0;
    return cfg ? cfg->source : NULL;
}

/* ---- Small text helpers ----------------------------------------------- */

bool sim_cfg_is_null(const sim_cfg_node_t *n)
{
    if (!n || n->kind != SIM_CFG_SCALAR || !n->plain) return false;
    return n->len == 0 || strcmp(n->text, "~") == 0 || strcmp(n->text, "null") == 0 ||
           strcmp(n->text, "Null") == 0 || strcmp(n->text, "NULL") == 0;
}

/* Number of UTF-8 code points in s[0..n) (bytes that do not continue one). */
static size_t cfg_utf8_chars(const char *s, size_t n)
{
    size_t c = 0;
    for (size_t i = 0; i < n; i++)
        if (((unsigned char)s[i] & 0xC0) != 0x80) c++;
    return c;
}

static int cfg_clamp_int(size_t v) { return v > INT_MAX ? INT_MAX : (int)v; }

/* Copy at most CFG_QUOTE_MAX bytes of s into buf (cut at a UTF-8 boundary),
 * adding "..." when shortened. */
static void cfg_quote(const char *s, char *buf, size_t cap)
{
    size_t n = strlen(s);
    bool cut = false;
    if (n > CFG_QUOTE_MAX) {
        n = CFG_QUOTE_MAX;
        while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80) n--;
        cut = true;
    }
    snprintf(buf, cap, "%.*s%s", (int)n, s, cut ? "..." : "");
}

static const char *cfg_kind_name(const sim_cfg_node_t *n)
{
    if (!n) return "nothing";
    switch (n->kind) {
    case SIM_CFG_MAP: return "a mapping";
    case SIM_CFG_SEQ: return "a sequence";
    case SIM_CFG_SCALAR: break;
    }
    return sim_cfg_is_null(n) ? "null" : "a scalar";
}

/* What the user wrote, for "got ...": a mapping, null, 'text', the string "text". */
static void cfg_got(const sim_cfg_node_t *n, char *buf, size_t cap)
{
    char q[CFG_QUOTE_MAX + 8];
    if (!n || n->kind != SIM_CFG_SCALAR || sim_cfg_is_null(n)) {
        snprintf(buf, cap, "%s", cfg_kind_name(n));
        return;
    }
    cfg_quote(n->text, q, sizeof q);
    if (n->plain) snprintf(buf, cap, "'%s'", q);
    else snprintf(buf, cap, "the string \"%s\"", q);
}

/* ---- Paths and reports -------------------------------------------------- */

static size_t cfg_put(char *buf, size_t cap, size_t pos, const char *s, size_t n)
{
    if (cap == 0) return pos + n;
    for (size_t i = 0; i < n; i++, pos++)
        if (pos + 1 < cap) buf[pos] = s[i];
    if (pos < cap) buf[pos] = '\0';
    else buf[cap - 1] = '\0';
    return pos;
}

static size_t cfg_path_rec(const sim_cfg_node_t *n, char *buf, size_t cap, size_t pos)
{
    if (!n || !n->parent) return pos;
    pos = cfg_path_rec(n->parent, buf, cap, pos);
    if (n->parent->kind == SIM_CFG_SEQ) {
        char ix[32];
        int k = snprintf(ix, sizeof ix, "[%zu]", n->index);
        return cfg_put(buf, cap, pos, ix, (size_t)k);
    }
    /* A map value carries its key; a key node names itself. */
    const char *key = n->key ? n->key : (n->kind == SIM_CFG_SCALAR ? n->text : "?");
    if (pos > 0) pos = cfg_put(buf, cap, pos, ".", 1);
    return cfg_put(buf, cap, pos, key, strlen(key));
}

void sim_cfg_path(const sim_cfg_node_t *node, char *buf, size_t n)
{
    if (!buf || n == 0) return;
    buf[0] = '\0';
    cfg_path_rec(node, buf, n, 0);
}

/* Path for messages: the top level has no path of its own. */
static void cfg_msg_path(const sim_cfg_node_t *node, char *buf, size_t n)
{
    sim_cfg_path(node, buf, n);
    if (buf[0] == '\0') snprintf(buf, n, "(top level)");
}

static void cfg_vreport(sim_diag_t *d, int is_error, const sim_cfg_node_t *node,
                        const char *fmt, va_list ap) __attribute__((format(printf, 4, 0)));
static void cfg_vreport(sim_diag_t *d, int is_error, const sim_cfg_node_t *node,
                        const char *fmt, va_list ap)
{
    if (node) sim_diag_vreport(d, is_error, node->file, node->line, node->col, fmt, ap);
    else sim_diag_vreport(d, is_error, NULL, 0, 0, fmt, ap);
}

void sim_cfg_error(sim_diag_t *d, const sim_cfg_node_t *node, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    cfg_vreport(d, 1, node, fmt, ap);
    va_end(ap);
}

void sim_cfg_warn(sim_diag_t *d, const sim_cfg_node_t *node, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    cfg_vreport(d, 0, node, fmt, ap);
    va_end(ap);
}

/* ---- Did-you-mean ------------------------------------------------------- */

#define CFG_DL_MAX 128  /* longer words get no suggestion */

/* Optimal-string-alignment Damerau-Levenshtein distance over bytes. */
static size_t cfg_distance(const char *a, size_t na, const char *b, size_t nb)
{
    size_t rows[3][CFG_DL_MAX + 1];
    size_t *pp = rows[0], *prev = rows[1], *cur = rows[2];
    for (size_t j = 0; j <= nb; j++) prev[j] = j;
    for (size_t i = 1; i <= na; i++) {
        cur[0] = i;
        for (size_t j = 1; j <= nb; j++) {
            size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
            size_t v = prev[j] + 1;
            if (cur[j - 1] + 1 < v) v = cur[j - 1] + 1;
            if (prev[j - 1] + cost < v) v = prev[j - 1] + cost;
            if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] &&
                pp[j - 2] + 1 < v)
                v = pp[j - 2] + 1;
            cur[j] = v;
        }
        size_t *t = pp;
        pp = prev;
        prev = cur;
        cur = t;
    }
    return prev[nb];
}

const char *sim_cfg_closest(const char *word, const char *const *cands, size_t n)
{
    if (!word) return NULL;
    size_t nw = strlen(word);
    if (nw > CFG_DL_MAX) return NULL;
    size_t limit = nw / 3 > 2 ? nw / 3 : 2;
    const char *best = NULL;
    size_t best_d = SIZE_MAX;
    for (size_t i = 0; i < n; i++) {
        if (!cands[i]) continue;
        size_t nc = strlen(cands[i]);
        if (nc > CFG_DL_MAX) continue;
        size_t dist = cfg_distance(word, nw, cands[i], nc);
        if (dist <= limit && dist < best_d) {
            best = cands[i];
            best_d = dist;
        }
    }
    return best;
}

/* ---- Loading: the event builder ----------------------------------------- */

typedef struct {
    sim_cfg_node_t *node;
    sim_cfg_node_t **keys, **vals;  /* scratch (malloc); keys only for maps */
    size_t n, cap;
    sim_cfg_node_t *pending_key;    /* map: key waiting for its value */
    char *anchor;                   /* arena; NULL if none */
    size_t first_node;              /* cfg->nnodes before this node was created */
    int height;                     /* collections nested below, plus one */
} cfg_frame_t;

typedef struct {
    const char *name;
    sim_cfg_node_t *node;
    size_t count;                   /* nodes in the subtree */
    int height;                     /* 0 for a scalar */
} cfg_anchor_t;

typedef struct {
    sim_cfg_t *cfg;
    sim_diag_t *d;
    const char *file;
    const char *src;                /* parsed text, for positions of byte offsets */
    size_t src_len;
    int set_col;                    /* > 0: --set value; positions are 1:(set_col + index) */
    int depth_base;                 /* collections above the parsed root */
    cfg_frame_t stack[SIM_CFG_MAX_DEPTH];
    int depth;
    cfg_anchor_t *anchors;
    size_t nanchors, canchors;
    sim_cfg_node_t *root;
    size_t alias_nodes;             /* nodes created by alias copies */
    int ndocs;
    int errors;
    bool fatal;                     /* stop parsing (limit hit, out of memory) */
} cfg_builder_t;

static void cfg_b_vreport(cfg_builder_t *b, int line, int col, const char *fmt, va_list ap)
    __attribute__((format(printf, 4, 0)));
static void cfg_b_vreport(cfg_builder_t *b, int line, int col, const char *fmt, va_list ap)
{
    b->errors++;
    sim_diag_vreport(b->d, 1, b->file, line, col, fmt, ap);
}

static void cfg_b_error(cfg_builder_t *b, int line, int col, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void cfg_b_error(cfg_builder_t *b, int line, int col, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    cfg_b_vreport(b, line, col, fmt, ap);
    va_end(ap);
}

static void cfg_b_nomem(cfg_builder_t *b)
{
    if (!b->fatal) cfg_b_error(b, 0, 0, "out of memory while loading the scenario");
    b->fatal = true;
}

/* 1-based position of a libyaml mark (its index counts characters). */
static void cfg_b_pos(const cfg_builder_t *b, yaml_mark_t m, int *line, int *col)
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

static void cfg_b_syntax_error(cfg_builder_t *b, const yaml_parser_t *p)
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

/* Append to a frame's scratch arrays. */
static int cfg_frame_push(cfg_frame_t *f, sim_cfg_node_t *key, sim_cfg_node_t *val)
{
    if (f->n == f->cap) {
        size_t cap = f->cap ? f->cap * 2 : 8;
        sim_cfg_node_t **v = realloc(f->vals, cap * sizeof *v);
        if (!v) return SIM_ENOMEM;
        f->vals = v;
        if (f->node->kind == SIM_CFG_MAP) {
            sim_cfg_node_t **k = realloc(f->keys, cap * sizeof *k);
            if (!k) return SIM_ENOMEM;
            f->keys = k;
        }
        f->cap = cap;
    }
    if (f->node->kind == SIM_CFG_MAP) f->keys[f->n] = key;
    f->vals[f->n++] = val;
    return 0;
}

/* Place a finished node: as the root, a sequence item, a key, or a value. */
static void cfg_b_attach(cfg_builder_t *b, sim_cfg_node_t *n)
{
    if (b->depth == 0) {
        b->root = n;
        return;
    }
    cfg_frame_t *f = &b->stack[b->depth - 1];
    if (f->node->kind == SIM_CFG_SEQ) {
        n->parent = f->node;
        n->index = f->n;
        if (cfg_frame_push(f, NULL, n) != 0) cfg_b_nomem(b);
        return;
    }
    if (!f->pending_key) {
        n->parent = f->node;
        if (n->kind != SIM_CFG_SCALAR) {
            cfg_b_error(b, n->line, n->col, "mapping keys must be scalars (names), got %s",
                        cfg_kind_name(n));
        } else if (n->plain && strcmp(n->text, "<<") == 0) {
            cfg_b_error(b, n->line, n->col,
                        "merge keys ('<<') are not supported; write the keys out "
                        "(anchors '&name' and aliases '*name' do work)");
        }
        f->pending_key = n;
        return;
    }
    n->parent = f->node;
    n->key = f->pending_key->kind == SIM_CFG_SCALAR ? f->pending_key->text : "?";
    if (cfg_frame_push(f, f->pending_key, n) != 0) cfg_b_nomem(b);
    f->pending_key = NULL;
}

static int cfg_b_add_anchor(cfg_builder_t *b, const char *name, sim_cfg_node_t *n, size_t count,
                            int height)
{
    if (b->nanchors == b->canchors) {
        size_t cap = b->canchors ? b->canchors * 2 : 8;
        cfg_anchor_t *a = realloc(b->anchors, cap * sizeof *a);
        if (!a) return SIM_ENOMEM;
        b->anchors = a;
        b->canchors = cap;
    }
    b->anchors[b->nanchors++] = (cfg_anchor_t){name, n, count, height};
    return 0;
}

/* Order keys by text, then by position in the mapping. */
typedef struct {
    const sim_cfg_node_t *key;
    size_t index;
} cfg_keyref_t;

static int cfg_keyref_cmp(const void *pa, const void *pb)
{
    const cfg_keyref_t *a = pa, *b = pb;
    size_t n = a->key->len < b->key->len ? a->key->len : b->key->len;
    int c = memcmp(a->key->text, b->key->text, n);
    if (c) return c;
    if (a->key->len != b->key->len) return a->key->len < b->key->len ? -1 : 1;
    return a->index < b->index ? -1 : a->index > b->index;
}

/* Report each repeated key at its second (third...) occurrence, in order.
 * Sorting keeps a mapping with many keys at O(n log n). */
static void cfg_b_check_duplicates(cfg_builder_t *b, const sim_cfg_node_t *map)
{
    size_t n = map->n;
    if (n < 2) return;
    cfg_keyref_t *refs = malloc(n * sizeof *refs);
    size_t *first = malloc(n * sizeof *first);
    if (!refs || !first) {
        free(refs);
        free(first);
        cfg_b_nomem(b);
        return;
    }
    size_t m = 0;
    for (size_t i = 0; i < n; i++) {
        first[i] = SIZE_MAX;
        if (map->keys[i]->kind == SIM_CFG_SCALAR) refs[m++] = (cfg_keyref_t){map->keys[i], i};
    }
    qsort(refs, m, sizeof *refs, cfg_keyref_cmp);
    for (size_t i = 1; i < m; i++) {
        const sim_cfg_node_t *a = refs[i - 1].key, *k = refs[i].key;
        if (a->len == k->len && memcmp(a->text, k->text, k->len) == 0)
            first[refs[i].index] = first[refs[i - 1].index] != SIZE_MAX
                                       ? first[refs[i - 1].index]
                                       : refs[i - 1].index;
    }
    for (size_t i = 0; i < n; i++) {
        if (first[i] == SIZE_MAX) continue;
        const sim_cfg_node_t *k = map->keys[i], *f = map->keys[first[i]];
        char q[CFG_QUOTE_MAX + 8];
        cfg_quote(k->text, q, sizeof q);
        cfg_b_error(b, k->line, k->col, "duplicate key '%s' (first defined at %d:%d)", q,
                    f->line, f->col);
    }
    free(refs);
    free(first);
}

/* Pop the innermost collection, move its children into the arena, attach it. */
static void cfg_b_close(cfg_builder_t *b)
{
    cfg_frame_t *f = &b->stack[--b->depth];
    sim_cfg_node_t *n = f->node;
    if (f->n > 0) {
        n->vals = cfg_alloc(b->cfg, f->n * sizeof *n->vals);
        if (n->kind == SIM_CFG_MAP) n->keys = cfg_alloc(b->cfg, f->n * sizeof *n->keys);
        if (!n->vals || (n->kind == SIM_CFG_MAP && !n->keys)) {
            cfg_b_nomem(b);
        } else {
            memcpy(n->vals, f->vals, f->n * sizeof *n->vals);
            if (n->kind == SIM_CFG_MAP) memcpy(n->keys, f->keys, f->n * sizeof *n->keys);
            n->n = f->n;
        }
    }
    free(f->keys);
    free(f->vals);
    if (n->kind == SIM_CFG_MAP && !b->fatal) cfg_b_check_duplicates(b, n);
    int height = f->height;
    if (f->anchor &&
        cfg_b_add_anchor(b, f->anchor, n, b->cfg->nnodes - f->first_node, height) != 0)
        cfg_b_nomem(b);
    memset(f, 0, sizeof *f);
    if (b->depth > 0 && b->stack[b->depth - 1].height < height + 1)
        b->stack[b->depth - 1].height = height + 1;
    cfg_b_attach(b, n);
}

static void cfg_b_free(cfg_builder_t *b)
{
    while (b->depth > 0) {
        cfg_frame_t *f = &b->stack[--b->depth];
        free(f->keys);
        free(f->vals);
    }
    free(b->anchors);
    b->anchors = NULL;
}

/* Tags: only !!str (and the non-specific '!') are understood; they make a
 * scalar a string. Standard collection tags are accepted and ignored. */
static bool cfg_b_check_tag(cfg_builder_t *b, const yaml_char_t *tag, int line, int col,
                            bool scalar, bool *force_string)
{
    if (!tag) return true;
    const char *t = (const char *)tag;
    if (scalar && (strcmp(t, "tag:yaml.org,2002:str") == 0 || strcmp(t, "!") == 0)) {
        *force_string = true;
        return true;
    }
    if (!scalar && (strcmp(t, "tag:yaml.org,2002:map") == 0 ||
                    strcmp(t, "tag:yaml.org,2002:seq") == 0))
        return true;
    static const char std[] = "tag:yaml.org,2002:";
    char q[CFG_QUOTE_MAX + 8];
    cfg_quote(strncmp(t, std, sizeof std - 1) == 0 ? t + sizeof std - 1 : t, q, sizeof q);
    cfg_b_error(b, line, col, "YAML tags are not supported ('%s%s'); write the value %s",
                strncmp(t, std, sizeof std - 1) == 0 ? "!!" : "", q,
                scalar ? "without a tag (quote it to make it a string)" : "without a tag");
    return false;
}

static bool cfg_b_room(cfg_builder_t *b, size_t more, int line, int col)
{
    if (more <= SIM_CFG_MAX_NODES && b->cfg->nnodes <= SIM_CFG_MAX_NODES - more) return true;
    cfg_b_error(b, line, col, "the scenario has more than %d nodes", SIM_CFG_MAX_NODES);
    b->fatal = true;
    return false;
}

static char *cfg_b_anchor_name(cfg_builder_t *b, const yaml_char_t *anchor)
{
    if (!anchor) return NULL;
    char *s = cfg_strndup(b->cfg, (const char *)anchor, strlen((const char *)anchor));
    if (!s) cfg_b_nomem(b);
    return s;
}

static void cfg_b_scalar(cfg_builder_t *b, const yaml_event_t *ev)
{
    int line, col;
    cfg_b_pos(b, ev->start_mark, &line, &col);
    if (!cfg_b_room(b, 1, line, col)) return;
    sim_cfg_node_t *n = cfg_new_node(b->cfg, SIM_CFG_SCALAR, b->file, line, col);
    if (!n) { cfg_b_nomem(b); return; }
    const char *v = (const char *)ev->data.scalar.value;
    size_t len = ev->data.scalar.length;
    char *text = cfg_strndup(b->cfg, v, len);
    if (!text) { cfg_b_nomem(b); return; }
    n->text = text;
    n->len = len;
    n->plain = ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
    bool force_string = false;
    cfg_b_check_tag(b, ev->data.scalar.tag, line, col, true, &force_string);
    if (force_string) n->plain = false;
    if (memchr(v, '\0', len))
        cfg_b_error(b, line, col, "NUL characters (\\0) in strings are not supported");
    char *anchor = cfg_b_anchor_name(b, ev->data.scalar.anchor);
    if (anchor && cfg_b_add_anchor(b, anchor, n, 1, 0) != 0) { cfg_b_nomem(b); return; }
    cfg_b_attach(b, n);
}

static void cfg_b_open(cfg_builder_t *b, const yaml_event_t *ev, sim_cfg_kind_t kind)
{
    int line, col;
    cfg_b_pos(b, ev->start_mark, &line, &col);
    if (b->depth_base + b->depth >= SIM_CFG_MAX_DEPTH) {
        cfg_b_error(b, line, col, "nesting is deeper than %d levels", SIM_CFG_MAX_DEPTH);
        b->fatal = true;
        return;
    }
    const yaml_char_t *tag, *anchor;
    if (kind == SIM_CFG_MAP) {
        tag = ev->data.mapping_start.tag;
        anchor = ev->data.mapping_start.anchor;
    } else {
        tag = ev->data.sequence_start.tag;
        anchor = ev->data.sequence_start.anchor;
    }
    bool unused;
    cfg_b_check_tag(b, tag, line, col, false, &unused);
    size_t first = b->cfg->nnodes;
    if (!cfg_b_room(b, 1, line, col)) return;
    sim_cfg_node_t *n = cfg_new_node(b->cfg, kind, b->file, line, col);
    if (!n) { cfg_b_nomem(b); return; }
    cfg_frame_t *f = &b->stack[b->depth++];
    memset(f, 0, sizeof *f);
    f->node = n;
    f->first_node = first;
    f->height = 1;
    f->anchor = cfg_b_anchor_name(b, anchor);
}

/* Deep copy of an anchored subtree for an alias; the copy's root takes the
 * alias's position, its descendants keep the positions of the original. */
static sim_cfg_node_t *cfg_copy(sim_cfg_t *cfg, const sim_cfg_node_t *src)
{
    sim_cfg_node_t *n = cfg_new_node(cfg, src->kind, src->file, src->line, src->col);
    if (!n) return NULL;
    n->text = src->text;
    n->len = src->len;
    n->plain = src->plain;
    if (src->n == 0) return n;
    n->vals = cfg_alloc(cfg, src->n * sizeof *n->vals);
    if (!n->vals) return NULL;
    if (src->kind == SIM_CFG_MAP) {
        n->keys = cfg_alloc(cfg, src->n * sizeof *n->keys);
        if (!n->keys) return NULL;
    }
    for (size_t i = 0; i < src->n; i++) {
        if (src->kind == SIM_CFG_MAP) {
            n->keys[i] = cfg_copy(cfg, src->keys[i]);
            if (!n->keys[i]) return NULL;
            n->keys[i]->parent = n;
        }
        sim_cfg_node_t *v = cfg_copy(cfg, src->vals[i]);
        if (!v) return NULL;
        v->parent = n;
        v->key = src->vals[i]->key;
        v->index = i;
        n->vals[i] = v;
        n->n = i + 1;
    }
    return n;
}

static void cfg_b_alias(cfg_builder_t *b, const yaml_event_t *ev)
{
    int line, col;
    cfg_b_pos(b, ev->start_mark, &line, &col);
    const char *name = (const char *)ev->data.alias.anchor;
    char q[CFG_QUOTE_MAX + 8];
    cfg_quote(name, q, sizeof q);
    const cfg_anchor_t *a = NULL;
    for (size_t i = b->nanchors; i-- > 0;) {
        if (strcmp(b->anchors[i].name, name) == 0) {
            a = &b->anchors[i];
            break;
        }
    }
    if (!a) {
        bool open = false;
        for (int i = 0; i < b->depth; i++)
            if (b->stack[i].anchor && strcmp(b->stack[i].anchor, name) == 0) open = true;
        if (open)
            cfg_b_error(b, line, col, "alias '*%s' refers to a node that contains it "
                                      "(recursive structures are not supported)", q);
        else
            cfg_b_error(b, line, col, "alias '*%s' has no anchor '&%s' before it", q, q);
        /* Keep the structure consistent with a null placeholder. */
        if (!cfg_b_room(b, 1, line, col)) return;
        sim_cfg_node_t *n = cfg_new_node(b->cfg, SIM_CFG_SCALAR, b->file, line, col);
        if (!n) { cfg_b_nomem(b); return; }
        n->plain = true;
        cfg_b_attach(b, n);
        return;
    }
    if (b->depth_base + b->depth + a->height > SIM_CFG_MAX_DEPTH) {
        cfg_b_error(b, line, col, "alias '*%s' makes the nesting deeper than %d levels", q,
                    SIM_CFG_MAX_DEPTH);
        b->fatal = true;
        return;
    }
    if (a->count > SIM_CFG_MAX_ALIAS_NODES - b->alias_nodes) {
        cfg_b_error(b, line, col,
                    "alias '*%s' would make aliases expand to more than %d nodes "
                    "(too many aliases of large anchors; an alias bomb?)", q,
                    SIM_CFG_MAX_ALIAS_NODES);
        b->fatal = true;
        return;
    }
    if (a->count > SIM_CFG_MAX_NODES || b->cfg->nnodes > SIM_CFG_MAX_NODES - a->count) {
        cfg_b_error(b, line, col,
                    "alias '*%s' would expand the scenario to more than %d nodes "
                    "(too many aliases of large anchors; an alias bomb?)", q, SIM_CFG_MAX_NODES);
        b->fatal = true;
        return;
    }
    sim_cfg_node_t *n = cfg_copy(b->cfg, a->node);
    if (!n) { cfg_b_nomem(b); return; }
    b->alias_nodes += a->count;
    n->line = line;
    n->col = col;
    if (b->depth > 0 && b->stack[b->depth - 1].height < a->height + 1)
        b->stack[b->depth - 1].height = a->height + 1;
    cfg_b_attach(b, n);
}

/* Parse text into b->root. Returns the number of errors reported. */
static int cfg_b_parse(cfg_builder_t *b, const char *text, size_t len)
{
    yaml_parser_t p;
    if (!yaml_parser_initialize(&p)) {
        cfg_b_nomem(b);
        return b->errors;
    }
    yaml_parser_set_input_string(&p, (const unsigned char *)text, len);
    yaml_parser_set_encoding(&p, YAML_UTF8_ENCODING);
    bool done = false;
    while (!done && !b->fatal) {
        yaml_event_t ev;
        if (!yaml_parser_parse(&p, &ev)) {
            cfg_b_syntax_error(b, &p);
            break;
        }
        int line, col;
        switch (ev.type) {
        case YAML_DOCUMENT_START_EVENT:
            if (++b->ndocs > 1) {
                cfg_b_pos(b, ev.start_mark, &line, &col);
                if (b->set_col > 0)
                    cfg_b_error(b, line, col, "a second YAML document starts here; a --set "
                                              "value must be a single document");
                else
                    cfg_b_error(b, line, col,
                                "a second YAML document starts here; a scenario must be a "
                                "single document (remove the '---' or split the file)");
                b->fatal = true;
            }
            break;
        case YAML_SCALAR_EVENT: cfg_b_scalar(b, &ev); break;
        case YAML_ALIAS_EVENT: cfg_b_alias(b, &ev); break;
        case YAML_SEQUENCE_START_EVENT: cfg_b_open(b, &ev, SIM_CFG_SEQ); break;
        case YAML_MAPPING_START_EVENT: cfg_b_open(b, &ev, SIM_CFG_MAP); break;
        case YAML_SEQUENCE_END_EVENT:
        case YAML_MAPPING_END_EVENT:
            if (b->depth > 0) cfg_b_close(b);
            break;
        case YAML_STREAM_END_EVENT: done = true; break;
        default: break;
        }
        yaml_event_delete(&ev);
    }
    yaml_parser_delete(&p);
    cfg_b_free(b);
    return b->errors;
}

sim_cfg_t *sim_cfg_load_string(const char *name, const char *text, size_t len, sim_diag_t *d)
{
    if (!name) name = "<input>";
    if (!text) len = 0;
    if (len > SIM_CFG_MAX_BYTES) {
        sim_diag_error_at(d, name, 0, 0, "file is too big (%zu bytes; the limit is %u MiB)", len,
                          SIM_CFG_MAX_BYTES >> 20);
        return NULL;
    }
    if (len >= 2 && ((unsigned char)text[0] == 0xFF || (unsigned char)text[0] == 0xFE) &&
        ((unsigned char)text[1] == 0xFF || (unsigned char)text[1] == 0xFE) && text[0] != text[1]) {
        sim_diag_error_at(d, name, 0, 0,
                          "the scenario is UTF-16 text; save it as UTF-8");
        return NULL;
    }
    if (len > 0 && memchr(text, '\0', len)) {
        sim_diag_error_at(d, name, 0, 0,
                          "not a text file (it contains NUL bytes); a scenario is YAML text");
        return NULL;
    }

    sim_cfg_t *cfg = calloc(1, sizeof *cfg);
    if (!cfg) goto nomem;
    char *fname = cfg_strndup(cfg, name, strlen(name));
    char *src = cfg_strndup(cfg, text ? text : "", len);
    if (!fname || !src) goto nomem;
    cfg->file = fname;
    cfg->source = src;
    cfg->source_len = len;

    /* A UTF-8 byte order mark is dropped here: with the encoding fixed,
     * libyaml would count it as a character of line 1. */
    size_t bom = len >= 3 && memcmp(src, "\xEF\xBB\xBF", 3) == 0 ? 3 : 0;
    cfg_builder_t b = {.cfg = cfg, .d = d, .file = fname, .src = src + bom,
                       .src_len = len - bom};
    if (cfg_b_parse(&b, b.src, b.src_len) > 0) goto fail;
    sim_cfg_node_t *root = b.root;
    if (!root || sim_cfg_is_null(root)) {
        sim_diag_error_at(d, name, 0, 0, "empty scenario");
        goto fail;
    }
    if (root->kind != SIM_CFG_MAP) {
        char got[CFG_QUOTE_MAX + 32];
        cfg_got(root, got, sizeof got);
        sim_cfg_error(d, root, "the scenario must be a mapping of keys to values "
                               "(such as 'duration: 60s'), got %s", got);
        goto fail;
    }
    root->line = 1;
    root->col = 1;
    cfg->root = root;
    return cfg;

nomem:
    sim_diag_error_at(d, name, 0, 0, "out of memory while loading the scenario");
fail:
    sim_cfg_destroy(cfg);
    return NULL;
}

sim_cfg_t *sim_cfg_load_file(const char *path, sim_diag_t *d)
{
    if (!path) {
        sim_diag_error_at(d, NULL, 0, 0, "no scenario file given");
        return NULL;
    }
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        sim_diag_error_at(d, path, 0, 0, "cannot open the scenario: %s", strerror(errno));
        return NULL;
    }
    struct stat st;
    if (fstat(fd, &st) != 0) {
        sim_diag_error_at(d, path, 0, 0, "cannot read the scenario: %s", strerror(errno));
        close(fd);
        return NULL;
    }
    if (S_ISDIR(st.st_mode)) {
        sim_diag_error_at(d, path, 0, 0, "is a directory, not a scenario file");
        close(fd);
        return NULL;
    }
    if (S_ISREG(st.st_mode) && (uintmax_t)st.st_size > SIM_CFG_MAX_BYTES) {
        sim_diag_error_at(d, path, 0, 0, "file is too big (%jd bytes; the limit is %u MiB)",
                          (intmax_t)st.st_size, SIM_CFG_MAX_BYTES >> 20);
        close(fd);
        return NULL;
    }
    /* Read to the end (the size may change, or be unknown for pipes), at
     * most one byte past the limit. */
    size_t cap = S_ISREG(st.st_mode) && st.st_size > 0 ? (size_t)st.st_size + 1 : 4096;
    size_t len = 0;
    char *buf = malloc(cap);
    if (!buf) goto nomem;
    for (;;) {
        if (len == cap) {
            size_t ncap = cap * 2;
            if (ncap > (size_t)SIM_CFG_MAX_BYTES + 1) ncap = (size_t)SIM_CFG_MAX_BYTES + 1;
            if (ncap <= cap) break;
            char *nb = realloc(buf, ncap);
            if (!nb) goto nomem;
            buf = nb;
            cap = ncap;
        }
        ssize_t k = read(fd, buf + len, cap - len);
        if (k < 0 && errno == EINTR) continue;
        if (k < 0) {
            sim_diag_error_at(d, path, 0, 0, "cannot read the scenario: %s", strerror(errno));
            free(buf);
            close(fd);
            return NULL;
        }
        if (k == 0) break;
        len += (size_t)k;
    }
    close(fd);
    if (len > SIM_CFG_MAX_BYTES) {
        sim_diag_error_at(d, path, 0, 0, "file is too big (more than %u MiB)",
                          SIM_CFG_MAX_BYTES >> 20);
        free(buf);
        return NULL;
    }
    sim_cfg_t *cfg = sim_cfg_load_string(path, buf, len, d);
    free(buf);
    return cfg;

nomem:
    free(buf);
    close(fd);
    sim_diag_error_at(d, path, 0, 0, "out of memory while reading the scenario");
    return NULL;
}

/* ---- Navigation --------------------------------------------------------- */

/* Record `key` (a static string) as known for `map`. The array grows in the
 * arena by doubling at powers of two; a failed allocation only loses a
 * did-you-mean candidate. */
static void cfg_add_known(sim_cfg_node_t *map, const char *key)
{
    for (size_t i = 0; i < map->nknown; i++)
        if (map->known[i] == key || strcmp(map->known[i], key) == 0) return;
    size_t n = map->nknown;
    if (n == 0 || (n >= 4 && (n & (n - 1)) == 0)) {
        size_t cap = n == 0 ? 4 : 2 * n;
        const char **k = cfg_alloc(cfg_owner_of(map), cap * sizeof *k);
        if (!k) return;
        if (n) memcpy(k, map->known, n * sizeof *k);
        map->known = k;
    }
    map->known[map->nknown++] = key;
}

sim_cfg_node_t *sim_cfg_get(sim_cfg_node_t *map, const char *key)
{
    if (!map || map->kind != SIM_CFG_MAP || !key) return NULL;
    map->used = true;
    cfg_add_known(map, key);
    size_t klen = strlen(key);
    for (size_t i = 0; i < map->n; i++) {
        const sim_cfg_node_t *k = map->keys[i];
        if (k->kind == SIM_CFG_SCALAR && k->len == klen && memcmp(k->text, key, klen) == 0) {
            map->vals[i]->used = true;
            return map->vals[i];
        }
    }
    return NULL;
}

void sim_cfg_touch(sim_cfg_node_t *node)
{
    if (node) node->used = true;
}

void sim_cfg_touch_all(sim_cfg_node_t *node)
{
    if (!node) return;
    node->used = true;
    for (size_t i = 0; i < node->n; i++) {
        if (node->kind == SIM_CFG_MAP) node->keys[i]->used = true;
        sim_cfg_touch_all(node->vals[i]);
    }
}

/* "'PATH': EXPECT, got X[HINT]" at the node. */
static int cfg_bad(sim_diag_t *d, const sim_cfg_node_t *n, const char *expect, const char *hint)
{
    char path[256], got[CFG_QUOTE_MAX + 32];
    cfg_msg_path(n, path, sizeof path);
    cfg_got(n, got, sizeof got);
    sim_cfg_error(d, n, "'%s': %s, got %s%s", path, expect, got, hint ? hint : "");
    return SIM_ECONFIG;
}

static bool cfg_expect_kind(sim_diag_t *d, const sim_cfg_node_t *node, sim_cfg_kind_t kind,
                            const char *what)
{
    if (!node) return false;
    if (node->kind == kind && (kind == SIM_CFG_SCALAR || !sim_cfg_is_null(node))) return true;
    static const char *const names[] = {"a scalar value", "a mapping", "a sequence"};
    char expect[160];
    if (what) snprintf(expect, sizeof expect, "expected %s for the %s", names[kind], what);
    else snprintf(expect, sizeof expect, "expected %s", names[kind]);
    if (!node->reported) cfg_bad(d, node, expect, NULL);
    ((sim_cfg_node_t *)node)->reported = true;
    /* its content cannot be read: do not also report its keys as unknown */
    sim_cfg_touch_all((sim_cfg_node_t *)node);
    return false;
}

bool sim_cfg_expect_map(sim_diag_t *d, const sim_cfg_node_t *node, const char *what)
{
    return cfg_expect_kind(d, node, SIM_CFG_MAP, what);
}

bool sim_cfg_expect_seq(sim_diag_t *d, const sim_cfg_node_t *node, const char *what)
{
    return cfg_expect_kind(d, node, SIM_CFG_SEQ, what);
}

bool sim_cfg_expect_scalar(sim_diag_t *d, const sim_cfg_node_t *node, const char *what)
{
    return cfg_expect_kind(d, node, SIM_CFG_SCALAR, what);
}

/* ---- Typed getters ------------------------------------------------------ */

/* Find `key` for a getter. A NULL or null `map` has no keys (so an empty
 * section "db:" gives defaults); any other non-mapping is reported once.
 * Returns the value, or NULL with *rc = 0 (absent) or SIM_ECONFIG. */
static sim_cfg_node_t *cfg_lookup(sim_diag_t *d, sim_cfg_node_t *map, const char *key,
                                  unsigned flags, int *rc)
{
    *rc = 0;
    if (map && map->kind != SIM_CFG_MAP && !sim_cfg_is_null(map)) {
        cfg_expect_kind(d, map, SIM_CFG_MAP, NULL);
        *rc = SIM_ECONFIG;
        return NULL;
    }
    sim_cfg_node_t *n = sim_cfg_get(map, key);
    if (n || !(flags & SIM_CFG_REQUIRED)) return n;
    char path[256];
    sim_cfg_path(map, path, sizeof path);
    if (!map) sim_diag_error_at(d, NULL, 0, 0, "missing required key '%s'", key);
    else if (!map->parent) sim_cfg_error(d, map, "missing required top-level key '%s'", key);
    else sim_cfg_error(d, map, "missing required key '%s' in '%s'", key, path);
    *rc = SIM_ECONFIG;
    return NULL;
}

/* The text of a typed scalar: a present, non-null, plain (unquoted) scalar.
 * `parses` tells whether a quoted text would have been valid unquoted. */
static int cfg_typed_text(sim_diag_t *d, sim_cfg_node_t *n, const char *expect,
                          bool (*parses)(const char *), const char **text)
{
    n->used = true;
    if (n->kind != SIM_CFG_SCALAR || sim_cfg_is_null(n)) return cfg_bad(d, n, expect, NULL);
    if (!n->plain)
        return cfg_bad(d, n, expect,
                       parses && parses(n->text) ? " (write it without quotes)" : NULL);
    *text = n->text;
    return 0;
}

/* Would the text be valid without quotes? (for the "write it without
 * quotes" hint) */
static bool cfg_parses_int(const char *s)
{
    int64_t v;
    return sim_parse_int(s, &v, NULL) == 0;
}

static bool cfg_parses_double(const char *s)
{
    double v;
    return sim_parse_double(s, &v, NULL) == 0;
}

static bool cfg_parses_bool(const char *s) { return !strcmp(s, "true") || !strcmp(s, "false"); }

static bool cfg_parses_duration(const char *s)
{
    sim_time_t v;
    return sim_parse_duration(s, &v, NULL) == 0;
}

static bool cfg_parses_size(const char *s)
{
    int64_t v;
    return sim_parse_size(s, &v, NULL) == 0;
}

static bool cfg_parses_rate(const char *s)
{
    double v;
    return sim_parse_rate(s, &v, NULL) == 0;
}

static bool cfg_parses_ratio(const char *s)
{
    double v;
    return sim_parse_ratio(s, &v, NULL) == 0;
}

static bool cfg_parses_flops(const char *s)
{
    double v;
    return sim_parse_flops(s, &v, NULL) == 0;
}

static bool cfg_parses_bandwidth(const char *s)
{
    double v;
    return sim_parse_bandwidth(s, &v, NULL) == 0;
}

int sim_cfg_int_node(sim_diag_t *d, sim_cfg_node_t *node, unsigned flags, int64_t min,
                     int64_t max, int64_t *out)
{
    if (!node) return SIM_EINVAL;
    if ((flags & SIM_CFG_POSITIVE) && min < 1) min = 1;
    char expect[160];
    int k;
    if (min != INT64_MIN && max != INT64_MAX)
        k = snprintf(expect, sizeof expect, "expected an integer between %" PRId64 " and %" PRId64,
                     min, max);
    else if (min != INT64_MIN)
        k = snprintf(expect, sizeof expect, "expected an integer >= %" PRId64, min);
    else if (max != INT64_MAX)
        k = snprintf(expect, sizeof expect, "expected an integer <= %" PRId64, max);
    else
        k = snprintf(expect, sizeof expect, "expected an integer");
    if (flags & SIM_CFG_UNBOUNDED)
        snprintf(expect + k, sizeof expect - (size_t)k, " or 'unbounded'");

    const char *text = NULL;
    int rc = cfg_typed_text(d, node, expect, cfg_parses_int, &text);
    if (rc) return rc;
    if ((flags & SIM_CFG_UNBOUNDED) && strcmp(text, "unbounded") == 0) {
        *out = INT64_MAX;
        return 0;
    }
    int64_t v;
    rc = sim_parse_int(text, &v, NULL);
    if (rc == SIM_ERANGE) return cfg_bad(d, node, expect, " (too large for a 64-bit integer)");
    if (rc) {
        const char *hint = NULL;
        if (strcmp(text, "unbounded") == 0) hint = " (this setting cannot be unbounded)";
        else if (strchr(text, '_')) hint = " (write the digits without '_')";
        return cfg_bad(d, node, expect, hint);
    }
    if (v < min || v > max) return cfg_bad(d, node, expect, NULL);
    *out = v;
    return 0;
}

int sim_cfg_double_node(sim_diag_t *d, sim_cfg_node_t *node, unsigned flags, double min,
                        double max, double *out)
{
    if (!node) return SIM_EINVAL;
    /* Bounds of magnitude >= 1e300 mean "none" in messages; with
     * SIM_CFG_POSITIVE a lower bound of at most 1e-300 reads "> 0". */
    bool positive = (flags & SIM_CFG_POSITIVE) && min <= 1e-300;
    bool has_lo = positive || min > -1e300, has_hi = max < 1e300;
    char expect[160];
    if (has_lo && has_hi && !positive)
        snprintf(expect, sizeof expect, "expected a number between %g and %g", min, max);
    else if (has_lo && has_hi)
        snprintf(expect, sizeof expect, "expected a number > 0 and <= %g", max);
    else if (has_lo && positive)
        snprintf(expect, sizeof expect, "expected a number > 0");
    else if (has_lo)
        snprintf(expect, sizeof expect, "expected a number >= %g", min);
    else if (has_hi)
        snprintf(expect, sizeof expect, "expected a number <= %g", max);
    else
        snprintf(expect, sizeof expect, "expected a number");

    const char *text = NULL;
    int rc = cfg_typed_text(d, node, expect, cfg_parses_double, &text);
    if (rc) return rc;
    double v;
    const char *why = NULL;
    rc = sim_parse_double(text, &v, &why);
    if (rc) {
        /* NaN, infinities and overflow get the parser's own phrase. */
        if (why && strstr(why, "finite")) return cfg_bad(d, node, why, NULL);
        return cfg_bad(d, node, expect, NULL);
    }
    if (v < min || v > max || ((flags & SIM_CFG_POSITIVE) && !(v > 0.0)))
        return cfg_bad(d, node, expect, NULL);
    *out = v;
    return 0;
}

typedef enum { CFG_DURATION, CFG_SIZE, CFG_RATE, CFG_RATIO, CFG_FLOPS, CFG_BANDWIDTH } cfg_unit_t;

static const char *const cfg_unit_expect[] = {
    "expected a duration with a unit such as 250us, 20ms or 1.5s",
    "expected a size with a unit such as 512B, 4KiB or 1.5MiB",
    "expected a rate with a unit such as 800/s or 1.2k/s",
    "expected a ratio such as 0.35 or 35%",
    "expected a compute rate with a unit such as 312TFLOP/s or 1.5PFLOP/s",
    "expected a bandwidth with a unit such as 2039GB/s, 2.039TB/s or 600GiB/s",
};
static const char *const cfg_unit_positive[] = {
    "expected a duration > 0", "expected a size > 0", "expected a rate > 0",
    "expected a ratio > 0 (and at most 1)", "expected a compute rate > 0",
    "expected a bandwidth > 0",
};
static bool (*const cfg_unit_parses[])(const char *) = {
    cfg_parses_duration, cfg_parses_size, cfg_parses_rate, cfg_parses_ratio,
    cfg_parses_flops, cfg_parses_bandwidth,
};

/* Shared body of the unit getters; *iv for durations and sizes, *dv for
 * rates, ratios, compute rates and bandwidths. Only durations and sizes can
 * be 'unbounded'. */
static int cfg_unit_node(sim_diag_t *d, sim_cfg_node_t *n, unsigned flags, cfg_unit_t u,
                         int64_t *iv, double *dv)
{
    if (!n) return SIM_EINVAL;
    bool unb = (flags & SIM_CFG_UNBOUNDED) && (u == CFG_DURATION || u == CFG_SIZE);
    const char *tail = unb ? " or 'unbounded'" : "";
    char expect[256];
    snprintf(expect, sizeof expect, "%s%s", cfg_unit_expect[u], tail);
    const char *text = NULL;
    int rc = cfg_typed_text(d, n, expect, cfg_unit_parses[u], &text);
    if (rc) return rc;
    if (unb && strcmp(text, "unbounded") == 0) {
        *iv = u == CFG_DURATION ? SIM_TIME_MAX : INT64_MAX;
        return 0;
    }
    const char *why = NULL;
    bool zero = false;
    switch (u) {
    case CFG_DURATION: rc = sim_parse_duration(text, iv, &why); zero = rc == 0 && *iv == 0; break;
    case CFG_SIZE: rc = sim_parse_size(text, iv, &why); zero = rc == 0 && *iv == 0; break;
    case CFG_RATE: rc = sim_parse_rate(text, dv, &why); zero = rc == 0 && *dv == 0.0; break;
    case CFG_RATIO: rc = sim_parse_ratio(text, dv, &why); zero = rc == 0 && *dv == 0.0; break;
    case CFG_FLOPS: rc = sim_parse_flops(text, dv, &why); zero = rc == 0 && *dv == 0.0; break;
    case CFG_BANDWIDTH: rc = sim_parse_bandwidth(text, dv, &why); zero = rc == 0 && *dv == 0.0; break;
    }
    if (rc) {
        snprintf(expect, sizeof expect, "%s%s", why ? why : cfg_unit_expect[u], tail);
        return cfg_bad(d, n, expect,
                       strcmp(text, "unbounded") == 0 ? " (this setting cannot be unbounded)"
                                                      : NULL);
    }
    if ((flags & SIM_CFG_POSITIVE) && zero) return cfg_bad(d, n, cfg_unit_positive[u], NULL);
    return 0;
}

int sim_cfg_duration_node(sim_diag_t *d, sim_cfg_node_t *node, unsigned flags, sim_time_t *out)
{
    int64_t v = 0;
    int rc = cfg_unit_node(d, node, flags, CFG_DURATION, &v, NULL);
    if (rc == 0) *out = v;
    return rc;
}

int sim_cfg_size_node(sim_diag_t *d, sim_cfg_node_t *node, unsigned flags, int64_t *out)
{
    int64_t v = 0;
    int rc = cfg_unit_node(d, node, flags, CFG_SIZE, &v, NULL);
    if (rc == 0) *out = v;
    return rc;
}

int sim_cfg_rate_node(sim_diag_t *d, sim_cfg_node_t *node, unsigned flags, double *out)
{
    double v = 0.0;
    int rc = cfg_unit_node(d, node, flags, CFG_RATE, NULL, &v);
    if (rc == 0) *out = v;
    return rc;
}

int sim_cfg_ratio_node(sim_diag_t *d, sim_cfg_node_t *node, unsigned flags, double *out)
{
    double v = 0.0;
    int rc = cfg_unit_node(d, node, flags, CFG_RATIO, NULL, &v);
    if (rc == 0) *out = v;
    return rc;
}

int sim_cfg_flops_node(sim_diag_t *d, sim_cfg_node_t *node, unsigned flags, double *out)
{
    double v = 0.0;
    int rc = cfg_unit_node(d, node, flags, CFG_FLOPS, NULL, &v);
    if (rc == 0) *out = v;
    return rc;
}

int sim_cfg_bandwidth_node(sim_diag_t *d, sim_cfg_node_t *node, unsigned flags, double *out)
{
    double v = 0.0;
    int rc = cfg_unit_node(d, node, flags, CFG_BANDWIDTH, NULL, &v);
    if (rc == 0) *out = v;
    return rc;
}

int sim_cfg_string_node(sim_diag_t *d, sim_cfg_node_t *node, const char **out)
{
    if (!node) return SIM_EINVAL;
    node->used = true;
    if (node->kind != SIM_CFG_SCALAR) return cfg_bad(d, node, "expected a string", NULL);
    if (sim_cfg_is_null(node))
        return cfg_bad(d, node, "expected a string", " (write \"\" for an empty string)");
    *out = node->text;
    return 0;
}

static int cfg_bool_node(sim_diag_t *d, sim_cfg_node_t *node, bool *out)
{
    const char *text = NULL;
    int rc = cfg_typed_text(d, node, "expected true or false", cfg_parses_bool, &text);
    if (rc) return rc;
    if (strcmp(text, "true") == 0) *out = true;
    else if (strcmp(text, "false") == 0) *out = false;
    else return cfg_bad(d, node, "expected true or false", NULL);
    return 0;
}

static int cfg_enum_node(sim_diag_t *d, sim_cfg_node_t *node, const char *const *choices,
                         int *out)
{
    char expect[512];
    size_t k = (size_t)snprintf(expect, sizeof expect, "expected one of ");
    size_t nc = 0;
    for (; choices[nc]; nc++) {
        int w = snprintf(expect + k, sizeof expect - k, "%s%s", nc ? ", " : "", choices[nc]);
        if (w < 0 || (size_t)w >= sizeof expect - k) {
            k = sizeof expect - 1;
            break;
        }
        k += (size_t)w;
    }
    while (choices[nc]) nc++;
    node->used = true;
    if (node->kind != SIM_CFG_SCALAR || sim_cfg_is_null(node))
        return cfg_bad(d, node, expect, NULL);
    for (size_t i = 0; i < nc; i++) {
        if (strcmp(node->text, choices[i]) == 0) {
            *out = (int)i;
            return 0;
        }
    }
    const char *best = sim_cfg_closest(node->text, choices, nc);
    char hint[128] = "";
    if (best) snprintf(hint, sizeof hint, " (did you mean '%s'?)", best);
    return cfg_bad(d, node, expect, hint);
}

int sim_cfg_int(sim_diag_t *d, sim_cfg_node_t *map, const char *key, unsigned flags,
                int64_t min, int64_t max, int64_t dflt, int64_t *out)
{
    int rc;
    *out = dflt;
    sim_cfg_node_t *n = cfg_lookup(d, map, key, flags, &rc);
    return n ? sim_cfg_int_node(d, n, flags, min, max, out) : rc;
}

int sim_cfg_double(sim_diag_t *d, sim_cfg_node_t *map, const char *key, unsigned flags,
                   double min, double max, double dflt, double *out)
{
    int rc;
    *out = dflt;
    sim_cfg_node_t *n = cfg_lookup(d, map, key, flags, &rc);
    return n ? sim_cfg_double_node(d, n, flags, min, max, out) : rc;
}

int sim_cfg_bool(sim_diag_t *d, sim_cfg_node_t *map, const char *key, unsigned flags,
                 bool dflt, bool *out)
{
    int rc;
    *out = dflt;
    sim_cfg_node_t *n = cfg_lookup(d, map, key, flags, &rc);
    return n ? cfg_bool_node(d, n, out) : rc;
}

int sim_cfg_string(sim_diag_t *d, sim_cfg_node_t *map, const char *key, unsigned flags,
                   const char *dflt, const char **out)
{
    int rc;
    *out = dflt;
    sim_cfg_node_t *n = cfg_lookup(d, map, key, flags, &rc);
    return n ? sim_cfg_string_node(d, n, out) : rc;
}

int sim_cfg_enum_node(sim_diag_t *d, sim_cfg_node_t *node, const char *const *choices, int *out)
{
    return cfg_enum_node(d, node, choices, out);
}

int sim_cfg_enum(sim_diag_t *d, sim_cfg_node_t *map, const char *key, unsigned flags,
                 const char *const *choices, int dflt, int *out)
{
    int rc;
    *out = dflt;
    sim_cfg_node_t *n = cfg_lookup(d, map, key, flags, &rc);
    return n ? cfg_enum_node(d, n, choices, out) : rc;
}

int sim_cfg_duration(sim_diag_t *d, sim_cfg_node_t *map, const char *key, unsigned flags,
                     sim_time_t dflt, sim_time_t *out)
{
    int rc;
    *out = dflt;
    sim_cfg_node_t *n = cfg_lookup(d, map, key, flags, &rc);
    return n ? sim_cfg_duration_node(d, n, flags, out) : rc;
}

int sim_cfg_size(sim_diag_t *d, sim_cfg_node_t *map, const char *key, unsigned flags,
                 int64_t dflt, int64_t *out)
{
    int rc;
    *out = dflt;
    sim_cfg_node_t *n = cfg_lookup(d, map, key, flags, &rc);
    return n ? sim_cfg_size_node(d, n, flags, out) : rc;
}

int sim_cfg_rate(sim_diag_t *d, sim_cfg_node_t *map, const char *key, unsigned flags,
                 double dflt, double *out)
{
    int rc;
    *out = dflt;
    sim_cfg_node_t *n = cfg_lookup(d, map, key, flags, &rc);
    return n ? sim_cfg_rate_node(d, n, flags, out) : rc;
}

int sim_cfg_ratio(sim_diag_t *d, sim_cfg_node_t *map, const char *key, unsigned flags,
                  double dflt, double *out)
{
    int rc;
    *out = dflt;
    sim_cfg_node_t *n = cfg_lookup(d, map, key, flags, &rc);
    return n ? sim_cfg_ratio_node(d, n, flags, out) : rc;
}

int sim_cfg_flops(sim_diag_t *d, sim_cfg_node_t *map, const char *key, unsigned flags,
                  double dflt, double *out)
{
    int rc;
    *out = dflt;
    sim_cfg_node_t *n = cfg_lookup(d, map, key, flags, &rc);
    return n ? sim_cfg_flops_node(d, n, flags, out) : rc;
}

int sim_cfg_bandwidth(sim_diag_t *d, sim_cfg_node_t *map, const char *key, unsigned flags,
                      double dflt, double *out)
{
    int rc;
    *out = dflt;
    sim_cfg_node_t *n = cfg_lookup(d, map, key, flags, &rc);
    return n ? sim_cfg_bandwidth_node(d, n, flags, out) : rc;
}

/* ---- Overrides ---------------------------------------------------------- */

/* Append a pair (map) or an item (seq) by reallocating the arrays in the arena. */
static int cfg_append(sim_cfg_t *cfg, sim_cfg_node_t *coll, sim_cfg_node_t *key,
                      sim_cfg_node_t *val)
{
    size_t n = coll->n;
    sim_cfg_node_t **vals = cfg_alloc(cfg, (n + 1) * sizeof *vals);
    sim_cfg_node_t **keys = coll->kind == SIM_CFG_MAP ? cfg_alloc(cfg, (n + 1) * sizeof *keys)
                                                      : NULL;
    if (!vals || (coll->kind == SIM_CFG_MAP && !keys)) return SIM_ENOMEM;
    if (n) memcpy(vals, coll->vals, n * sizeof *vals);
    vals[n] = val;
    if (keys) {
        if (n) memcpy(keys, coll->keys, n * sizeof *keys);
        keys[n] = key;
        key->parent = coll;
        val->key = key->text;
    }
    val->parent = coll;
    val->index = n;
    coll->vals = vals;
    coll->keys = keys;
    coll->n = n + 1;
    return 0;
}

/* Put `val` in slot i of `coll`, in place of what was there. */
static void cfg_replace(sim_cfg_node_t *coll, size_t i, sim_cfg_node_t *val)
{
    const sim_cfg_node_t *old = coll->vals[i];
    val->parent = coll;
    val->key = old->key;
    val->index = old->index;
    coll->vals[i] = val;
}

static size_t cfg_slot_of(const sim_cfg_node_t *coll, const sim_cfg_node_t *child)
{
    for (size_t i = 0; i < coll->n; i++)
        if (coll->vals[i] == child) return i;
    return SIZE_MAX;
}

static int cfg_set_error(sim_diag_t *d, int col, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int cfg_set_error(sim_diag_t *d, int col, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    sim_diag_vreport(d, 1, CFG_SET_FILE, 1, col, fmt, ap);
    va_end(ap);
    return SIM_ECONFIG;
}

static int cfg_height(const sim_cfg_node_t *n)
{
    if (n->kind == SIM_CFG_SCALAR) return 0;
    int h = 0;
    for (size_t i = 0; i < n->n; i++) {
        int c = cfg_height(n->vals[i]);
        if (c > h) h = c;
    }
    return h + 1;
}

int sim_cfg_set(sim_cfg_t *cfg, const char *assignment, sim_diag_t *d)
{
    if (!cfg || !cfg->root || !assignment) return SIM_EINVAL;
    const char *a = assignment;
    const char *eq = strchr(a, '=');
    char q[CFG_QUOTE_MAX + 8], path[256];
    cfg_quote(a, q, sizeof q);
    if (!eq)
        return cfg_set_error(d, 1, "expected PATH=VALUE (such as stations.db.servers=4), got '%s'",
                             q);
    if (eq == a) return cfg_set_error(d, 1, "empty path before '=' (expected PATH=VALUE)");
    int plen = (int)(eq - a);
#define CFG_COL(p) cfg_clamp_int(1 + cfg_utf8_chars(a, (size_t)((p) - a)))

    /* Walk the existing tree as far as the path goes; nothing changes until
     * the whole override is known to be valid. */
    sim_cfg_node_t *holder = cfg->root;   /* collection that holds `comp` */
    sim_cfg_node_t *null_node = NULL;     /* null scalar in the path, to become a mapping */
    size_t slot = SIZE_MAX;               /* existing slot to replace */
    int holder_depth = 1;
    const char *comp = a;
    for (;;) {
        const char *end = comp;
        while (end < eq && *end != '.') end++;
        size_t clen = (size_t)(end - comp);
        int col = CFG_COL(comp);
        if (clen == 0)
            return cfg_set_error(d, col, "empty key in the path '%.*s'", plen, a);
        bool last = end == eq;
        sim_cfg_node_t *next;
        cfg_msg_path(holder, path, sizeof path);
        if (holder->kind == SIM_CFG_MAP) {
            size_t i = 0;
            for (; i < holder->n; i++) {
                const sim_cfg_node_t *k = holder->keys[i];
                if (k->kind == SIM_CFG_SCALAR && k->len == clen && memcmp(k->text, comp, clen) == 0)
                    break;
            }
            if (i == holder->n) break;    /* new key: created below */
            if (last) {
                slot = i;
                break;
            }
            next = holder->vals[i];
        } else {
            size_t idx = 0;
            bool ok = true;
            for (const char *p = comp; p < end; p++) {
                if (!(*p >= '0' && *p <= '9') || idx > (SIZE_MAX - 9) / 10) ok = false;
                else idx = idx * 10 + (size_t)(*p - '0');
            }
            if (!ok)
                return cfg_set_error(d, col, "'%s' is a sequence; expected an item index "
                                             "such as 0, got '%.*s'", path, (int)clen, comp);
            if (idx >= holder->n)
                return cfg_set_error(d, col, "index %zu is out of range for '%s' (it has %zu "
                                             "item%s)", idx, path, holder->n,
                                     holder->n == 1 ? "" : "s");
            if (last) {
                slot = idx;
                break;
            }
            next = holder->vals[idx];
        }
        comp = end + 1;
        if (next->kind != SIM_CFG_SCALAR) {
            holder = next;
            holder_depth++;
            continue;
        }
        if (sim_cfg_is_null(next)) {
            null_node = next;
            break;
        }
        char npath[256];
        cfg_msg_path(next, npath, sizeof npath);
        return cfg_set_error(d, CFG_COL(comp), "cannot set '%.*s': '%s' is a scalar value, "
                                               "not a mapping", plen, a, npath);
    }

    /* Components still to create: all non-empty. */
    int new_maps = null_node ? 1 : 0;
    if (slot == SIZE_MAX) {
        for (const char *p = comp;;) {
            const char *end = p;
            while (end < eq && *end != '.') end++;
            if (end == p) return cfg_set_error(d, CFG_COL(p), "empty key in the path '%.*s'",
                                               plen, a);
            if (end == eq) break;
            new_maps++;
            p = end + 1;
        }
    }

    /* Parse the value as YAML, positioned inside the assignment. */
    const char *value = eq + 1;
    int value_col = CFG_COL(value);
    cfg_builder_t b = {.cfg = cfg, .d = d, .file = CFG_SET_FILE, .src = value,
                       .src_len = strlen(value), .set_col = value_col,
                       .depth_base = holder_depth + new_maps};
    if (cfg_b_parse(&b, value, b.src_len) > 0) return SIM_ECONFIG;
    sim_cfg_node_t *v = b.root;
    if (!v) {   /* "key=" or only a comment: null */
        v = cfg_new_node(cfg, SIM_CFG_SCALAR, CFG_SET_FILE, 1, value_col);
        if (!v) goto nomem;
        v->plain = true;
    }
    if (holder_depth + new_maps + cfg_height(v) > SIM_CFG_MAX_DEPTH)
        return cfg_set_error(d, value_col, "nesting is deeper than %d levels", SIM_CFG_MAX_DEPTH);

    if (slot != SIZE_MAX) {
        cfg_replace(holder, slot, v);
        return 0;
    }
    if (null_node) {
        sim_cfg_node_t *m = cfg_new_node(cfg, SIM_CFG_MAP, CFG_SET_FILE, 1, CFG_COL(comp));
        if (!m) goto nomem;
        cfg_replace(holder, cfg_slot_of(holder, null_node), m);
        holder = m;
    }
    for (;;) {
        const char *end = comp;
        while (end < eq && *end != '.') end++;
        sim_cfg_node_t *k = cfg_new_node(cfg, SIM_CFG_SCALAR, CFG_SET_FILE, 1, CFG_COL(comp));
        if (!k) goto nomem;
        char *text = cfg_strndup(cfg, comp, (size_t)(end - comp));
        if (!text) goto nomem;
        k->text = text;
        k->len = (size_t)(end - comp);
        k->plain = true;
        if (end == eq) {
            if (cfg_append(cfg, holder, k, v) != 0) goto nomem;
            return 0;
        }
        sim_cfg_node_t *m = cfg_new_node(cfg, SIM_CFG_MAP, CFG_SET_FILE, 1, CFG_COL(end + 1));
        if (!m) goto nomem;
        if (cfg_append(cfg, holder, k, m) != 0) goto nomem;
        holder = m;
        comp = end + 1;
    }
#undef CFG_COL

nomem:
    sim_diag_error_at(d, CFG_SET_FILE, 1, 1, "out of memory while applying '%s'", q);
    return SIM_ENOMEM;
}

/* ---- Emission ----------------------------------------------------------- */

typedef struct {
    char *buf;
    size_t len, cap;
} cfg_out_t;

static int cfg_out_write(void *data, unsigned char *bytes, size_t size)
{
    cfg_out_t *o = data;
    if (o->len + size + 1 > o->cap) {
        size_t cap = o->cap ? o->cap : 4096;
        while (cap < o->len + size + 1) cap *= 2;
        char *nb = realloc(o->buf, cap);
        if (!nb) return 0;
        o->buf = nb;
        o->cap = cap;
    }
    memcpy(o->buf + o->len, bytes, size);
    o->len += size;
    o->buf[o->len] = '\0';
    return 1;
}

static int cfg_emit_node(yaml_emitter_t *e, const sim_cfg_node_t *n)
{
    yaml_event_t ev;
    switch (n->kind) {
    case SIM_CFG_SCALAR:
        /* Plain text stays plain when the emitter allows it; text that was
         * quoted gets quotes again (quoted_implicit avoids a '!' tag). */
        if (n->len > INT_MAX ||
            !yaml_scalar_event_initialize(&ev, NULL, NULL, (yaml_char_t *)n->text, (int)n->len,
                                          n->plain, 1,
                                          n->plain ? YAML_PLAIN_SCALAR_STYLE
                                                   : YAML_ANY_SCALAR_STYLE))
            return 0;
        return yaml_emitter_emit(e, &ev);
    case SIM_CFG_SEQ:
        if (!yaml_sequence_start_event_initialize(&ev, NULL, NULL, 1, YAML_BLOCK_SEQUENCE_STYLE) ||
            !yaml_emitter_emit(e, &ev))
            return 0;
        for (size_t i = 0; i < n->n; i++)
            if (!cfg_emit_node(e, n->vals[i])) return 0;
        return yaml_sequence_end_event_initialize(&ev) && yaml_emitter_emit(e, &ev);
    case SIM_CFG_MAP:
        if (!yaml_mapping_start_event_initialize(&ev, NULL, NULL, 1, YAML_BLOCK_MAPPING_STYLE) ||
            !yaml_emitter_emit(e, &ev))
            return 0;
        for (size_t i = 0; i < n->n; i++)
            if (!cfg_emit_node(e, n->keys[i]) || !cfg_emit_node(e, n->vals[i])) return 0;
        return yaml_mapping_end_event_initialize(&ev) && yaml_emitter_emit(e, &ev);
    }
    return 0;
}

int sim_cfg_emit(const sim_cfg_t *cfg, char **out, size_t *len)
{
    if (!out) return SIM_EINVAL;
    *out = NULL;
    if (len) *len = 0;
    if (!cfg || !cfg->root) return SIM_EINVAL;
    yaml_emitter_t e;
    cfg_out_t o = {0};
    yaml_event_t ev;
    if (!yaml_emitter_initialize(&e)) return SIM_ENOMEM;
    yaml_emitter_set_output(&e, cfg_out_write, &o);
    yaml_emitter_set_unicode(&e, 1);
    yaml_emitter_set_width(&e, -1);
    yaml_emitter_set_indent(&e, 2);
    yaml_emitter_set_break(&e, YAML_LN_BREAK);
    int ok = yaml_stream_start_event_initialize(&ev, YAML_UTF8_ENCODING) &&
             yaml_emitter_emit(&e, &ev) &&
             yaml_document_start_event_initialize(&ev, NULL, NULL, NULL, 1) &&
             yaml_emitter_emit(&e, &ev) &&
             cfg_emit_node(&e, cfg->root) &&
             yaml_document_end_event_initialize(&ev, 1) &&
             yaml_emitter_emit(&e, &ev) &&
             yaml_stream_end_event_initialize(&ev) &&
             yaml_emitter_emit(&e, &ev) &&
             yaml_emitter_flush(&e);
    int rc = ok ? 0 : (e.error == YAML_MEMORY_ERROR || e.error == YAML_WRITER_ERROR ||
                       e.error == YAML_NO_ERROR) ? SIM_ENOMEM : SIM_EINVAL;
    yaml_emitter_delete(&e);
    if (rc || !o.buf) {
        free(o.buf);
        return rc ? rc : SIM_ENOMEM;
    }
    *out = o.buf;
    if (len) *len = o.len;
    return 0;
}

/* ---- Unknown keys ------------------------------------------------------- */

static void cfg_report_unknown(sim_diag_t *d, const sim_cfg_node_t *map, const sim_cfg_node_t *key)
{
    char q[CFG_QUOTE_MAX + 8], path[256], where[400], hint[600] = "";
    cfg_quote(key->kind == SIM_CFG_SCALAR ? key->text : "?", q, sizeof q);
    if (!map->parent) {
        snprintf(where, sizeof where, "unknown top-level key '%s'", q);
    } else {
        sim_cfg_path(map, path, sizeof path);
        snprintf(where, sizeof where, "unknown key '%s' in '%s'", q, path);
    }
    const char *best = key->kind == SIM_CFG_SCALAR
                           ? sim_cfg_closest(key->text, map->known, map->nknown)
                           : NULL;
    if (best) {
        snprintf(hint, sizeof hint, " (did you mean '%s'?)", best);
    } else if (map->nknown > 0) {
        size_t k = (size_t)snprintf(hint, sizeof hint, " (known keys: ");
        for (size_t i = 0; i < map->nknown && k < sizeof hint; i++) {
            int w = snprintf(hint + k, sizeof hint - k, "%s%s", i ? ", " : "", map->known[i]);
            if (w < 0) break;
            k += (size_t)w;
        }
        if (k + 2 < sizeof hint) snprintf(hint + k, sizeof hint - k, ")");
        else snprintf(hint + sizeof hint - 5, 5, "...)");
    }
    sim_cfg_error(d, key, "%s%s", where, hint);
}

static int cfg_unused_walk(const sim_cfg_node_t *n, sim_diag_t *d)
{
    int errs = 0;
    for (size_t i = 0; i < n->n; i++) {
        const sim_cfg_node_t *v = n->vals[i];
        if (!v->used) {
            if (n->kind == SIM_CFG_MAP) {
                cfg_report_unknown(d, n, n->keys[i]);
                errs++;
            }
            continue;
        }
        if (v->kind != SIM_CFG_SCALAR) errs += cfg_unused_walk(v, d);
    }
    return errs;
}

int sim_cfg_check_unused(const sim_cfg_t *cfg, sim_diag_t *d)
{
    if (!cfg || !cfg->root) return 0;
    return cfg_unused_walk(cfg->root, d);
}

/* ---- Variants: overlays ----------------------------------------------------- */

/* A copy of `n` whose use marks are its own. */
static sim_cfg_node_t *cfg_copy_fresh(sim_cfg_t *cfg, const sim_cfg_node_t *n)
{
    sim_cfg_node_t *c = cfg_copy(cfg, n);
    if (c) c->line = n->line, c->col = n->col;
    return c;
}

static sim_cfg_node_t *cfg_find_key(const sim_cfg_node_t *map, const char *key, size_t *slot)
{
    for (size_t i = 0; i < map->n; i++)
        if (map->keys[i]->kind == SIM_CFG_SCALAR && !strcmp(map->keys[i]->text, key)) {
            if (slot) *slot = i;
            return map->vals[i];
        }
    return NULL;
}

static bool cfg_skipped(const char *key, const char *const *skip)
{
    for (size_t i = 0; skip && skip[i]; i++)
        if (!strcmp(key, skip[i])) return true;
    return false;
}

/* Merge `over` into the map `dst` (a private copy): mappings merge key by
 * key, anything else replaces. */
static int cfg_merge(sim_cfg_t *cfg, sim_cfg_node_t *dst, const sim_cfg_node_t *over,
                     const char *const *skip)
{
    for (size_t i = 0; i < over->n; i++) {
        const sim_cfg_node_t *k = over->keys[i], *v = over->vals[i];
        if (k->kind != SIM_CFG_SCALAR || cfg_skipped(k->text, skip)) continue;
        size_t slot;
        sim_cfg_node_t *cur = cfg_find_key(dst, k->text, &slot);
        if (cur && cur->kind == SIM_CFG_MAP && v->kind == SIM_CFG_MAP) {
            if (cfg_merge(cfg, cur, v, NULL) != 0) return SIM_ENOMEM;
            continue;
        }
        sim_cfg_node_t *nv = cfg_copy_fresh(cfg, v);
        if (!nv) return SIM_ENOMEM;
        if (cur) {
            cfg_replace(dst, slot, nv);
        } else {
            sim_cfg_node_t *nk = cfg_copy_fresh(cfg, k);
            if (!nk || cfg_append(cfg, dst, nk, nv) != 0) return SIM_ENOMEM;
        }
    }
    return 0;
}

sim_cfg_node_t *sim_cfg_overlay(sim_cfg_t *cfg, const sim_cfg_node_t *base, const char *const *skip_base,
                                const sim_cfg_node_t *const *overlays, size_t n, const char *const *skip_overlay)
{
    if (!cfg || !base || base->kind != SIM_CFG_MAP) return NULL;
    sim_cfg_node_t *root = cfg_new_node(cfg, SIM_CFG_MAP, base->file, base->line, base->col);
    if (!root) return NULL;
    for (size_t i = 0; i < base->n; i++) {
        if (base->keys[i]->kind != SIM_CFG_SCALAR || cfg_skipped(base->keys[i]->text, skip_base)) continue;
        sim_cfg_node_t *k = cfg_copy_fresh(cfg, base->keys[i]), *v = cfg_copy_fresh(cfg, base->vals[i]);
        if (!k || !v || cfg_append(cfg, root, k, v) != 0) return NULL;
    }
    for (size_t i = 0; i < n; i++)
        if (overlays[i] && overlays[i]->kind == SIM_CFG_MAP && cfg_merge(cfg, root, overlays[i], skip_overlay) != 0)
            return NULL;
    return root;
}

int sim_cfg_check_unused_node(const sim_cfg_node_t *root, sim_diag_t *d)
{
    return root ? cfg_unused_walk(root, d) : 0;
}

int sim_cfg_emit_node(const sim_cfg_node_t *node, char **out, size_t *len)
{
    sim_cfg_t tmp;
    memset(&tmp, 0, sizeof tmp);
    tmp.root = (sim_cfg_node_t *)node;
    return sim_cfg_emit(&tmp, out, len);
}
