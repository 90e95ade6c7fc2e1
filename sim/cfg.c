/* Scenario configuration tree: the tree itself and its loading.
 *
 * Owns the arena (all nodes, arrays and strings live in large blocks owned
 * by the sim_cfg_t; sim_cfg_destroy frees the blocks), node creation and
 * deep copies, the message helpers every part of the module uses (quoting
 * user text, "got ...", node paths, reports at a node), loading a file or
 * a string (the checks of the whole input: size, encoding, NUL bytes, a
 * root that is a mapping), and navigation (sim_cfg_get, touch, the kind
 * checks).
 *
 * The other pieces of the module (cfg_internal.h):
 *   cfg_yaml.c         libyaml's events -> nodes: keys, tags, limits, aliases
 *   cfg_yaml_errors.c  positions, and libyaml's errors as messages
 *   cfg_get.c          the typed getters (numbers, units, strings, enums)
 *   cfg_set.c          --set overrides and variant overlays
 *   cfg_unknown.c      unknown keys and did-you-mean
 *   cfg_emit.c         the tree as YAML text
 * May call: the YAML builder (cfg_b_parse), diag, error. */
#include "cfg.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cfg_internal.h"
#include "error.h"

#define CFG_BLOCK_SIZE ((size_t)64 << 10)

/* ---- Arena ------------------------------------------------------------ */

/* Zeroed, max_align_t-aligned memory from the arena; NULL when out of memory. */
void *cfg_alloc(sim_cfg_t *cfg, size_t size)
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

char *cfg_strndup(sim_cfg_t *cfg, const char *s, size_t n)
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

sim_cfg_node_t *cfg_new_node(sim_cfg_t *cfg, sim_cfg_kind_t kind, const char *file,
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

/* ---- Copies ------------------------------------------------------------ */

/* Deep copy of a subtree: of an anchored subtree for an alias (the builder
 * then gives the copy's root the alias's position; its descendants keep the
 * positions of the original), and of a variant's base and overlays
 * (cfg_set.c). The copies' use marks are their own. */
sim_cfg_node_t *cfg_copy(sim_cfg_t *cfg, const sim_cfg_node_t *src)
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

size_t sim_cfg_count(const sim_cfg_node_t *node)
{
    if (!node) return 0;
    size_t c = 1;
    for (size_t i = 0; i < node->n; i++)
        c += (node->kind == SIM_CFG_MAP ? 1 : 0) + sim_cfg_count(node->vals[i]);
    return c;
}

/* ---- Small text helpers ----------------------------------------------- */

bool sim_cfg_is_null(const sim_cfg_node_t *n)
{
    if (!n || n->kind != SIM_CFG_SCALAR || !n->plain) return false;
    return n->len == 0 || strcmp(n->text, "~") == 0 || strcmp(n->text, "null") == 0 ||
           strcmp(n->text, "Null") == 0 || strcmp(n->text, "NULL") == 0;
}

/* Copy at most CFG_QUOTE_MAX bytes of s into buf (cut at a UTF-8 boundary),
 * adding "..." when shortened. */
void cfg_quote(const char *s, char *buf, size_t cap)
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

const char *cfg_kind_name(const sim_cfg_node_t *n)
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
void cfg_msg_path(const sim_cfg_node_t *node, char *buf, size_t n)
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

/* ---- Loading ------------------------------------------------------------ */

sim_cfg_t *sim_cfg_load_string(const char *name, const char *text, size_t len, sim_diag_t *d)
{
    if (!name) name = "<input>";
    if (!text) len = 0;
    if (len > SIM_CFG_MAX_BYTES) {
        sim_diag_error_at(d, name, 0, 0, "file is too big (%zu bytes; the limit is %u MiB)", len,
                          SIM_CFG_MAX_BYTES >> 20);
        return NULL;
    }
    /* byte-order marks: UTF-32 first (its little-endian mark begins with
     * UTF-16's) */
    if (len >= 4 && ((!memcmp(text, "\xFF\xFE\0\0", 4)) || !memcmp(text, "\0\0\xFE\xFF", 4))) {
        sim_diag_error_at(d, name, 0, 0, "the scenario is UTF-32 text (%s); save it as UTF-8",
                          text[0] ? "little-endian" : "big-endian");
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
    if (d) d->nomem = 1;
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
    if (d) d->nomem = 1;
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
int cfg_bad(sim_diag_t *d, const sim_cfg_node_t *n, const char *expect, const char *hint)
{
    char path[256], got[CFG_QUOTE_MAX + 32];
    cfg_msg_path(n, path, sizeof path);
    cfg_got(n, got, sizeof got);
    sim_cfg_error(d, n, "'%s': %s, got %s%s", path, expect, got, hint ? hint : "");
    return SIM_ECONFIG;
}

bool cfg_expect_kind(sim_diag_t *d, const sim_cfg_node_t *node, sim_cfg_kind_t kind,
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
