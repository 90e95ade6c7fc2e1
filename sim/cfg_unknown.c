/* Scenario configuration tree: unknown keys and did-you-mean (see cfg.h).
 *
 * Owns sim_cfg_closest (the closest candidate by Damerau-Levenshtein
 * distance, for every did-you-mean) and sim_cfg_check_unused(_node): every
 * mapping key no getter read, reported at the key with the closest known
 * key of the same mapping, or else the list of known keys.
 * May call: the message helpers of cfg.c. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "cfg_internal.h"

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

int sim_cfg_check_unused_node(const sim_cfg_node_t *root, sim_diag_t *d)
{
    return root ? cfg_unused_walk(root, d) : 0;
}
