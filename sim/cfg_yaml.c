/* Scenario configuration tree: YAML text -> nodes (see cfg.h).
 *
 * Loading drives libyaml's event parser (not its document loader) so that
 * every node keeps its file position, duplicate keys, merge keys, tags and
 * aliases are checked as they arrive, and limits are enforced before memory
 * is spent: at most SIM_CFG_MAX_NODES nodes, of which at most
 * SIM_CFG_MAX_ALIAS_NODES are alias copies (both checked before each copy),
 * and SIM_CFG_MAX_DEPTH nested collections. Scratch arrays used while a
 * collection is being parsed are malloc'd and freed before the parse
 * returns; the nodes go into the tree's arena.
 *
 * Owns the builder (cfg_b_parse, used by loading in cfg.c and by --set in
 * cfg_set.c) and its error reports. May call: the arena and message
 * helpers of cfg.c, the positions and syntax errors of cfg_yaml_errors.c,
 * libyaml, diag. */
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "cfg_internal.h"
#include "error.h"

/* ---- Reports ------------------------------------------------------------- */

static void cfg_b_vreport(cfg_builder_t *b, int line, int col, const char *fmt, va_list ap)
    __attribute__((format(printf, 4, 0)));
static void cfg_b_vreport(cfg_builder_t *b, int line, int col, const char *fmt, va_list ap)
{
    b->errors++;
    sim_diag_vreport(b->d, 1, b->file, line, col, fmt, ap);
}

void cfg_b_error(cfg_builder_t *b, int line, int col, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    cfg_b_vreport(b, line, col, fmt, ap);
    va_end(ap);
}

void cfg_b_nomem(cfg_builder_t *b)
{
    if (!b->fatal) cfg_b_error(b, 0, 0, "out of memory while loading the scenario");
    if (b->d) b->d->nomem = 1;
    b->fatal = true;
}

/* ---- Collections, keys, tags and limits ----------------------------------- */

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

/* ---- Aliases and the parse loop ------------------------------------------- */

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
int cfg_b_parse(cfg_builder_t *b, const char *text, size_t len)
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
