/* Scenario configuration tree: changing a loaded tree (see cfg.h).
 *
 * Owns --set overrides (sim_cfg_set: walk the path, check it, parse the
 * value with the YAML builder at the position "--set:1:COL", then replace
 * or add) and variant overlays (sim_cfg_overlay: a copy of the base merged
 * with each overlay). Both append and replace in the tree's arena.
 * May call: the arena, copies and message helpers of cfg.c, the builder
 * (cfg_b_parse), diag. */
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "cfg_internal.h"
#include "error.h"

#define CFG_SET_FILE "--set"

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
    if (d) d->nomem = 1;
    return SIM_ENOMEM;
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
