/* Scenario configuration tree: what the pieces of the module share (not
 * part of the public API; include only from sim/cfg*.c).
 *
 * The tree (struct sim_cfg, its arena, node creation and copies) and the
 * message helpers live in cfg.c; the YAML builder in cfg_yaml.c, its
 * positions and syntax errors in cfg_yaml_errors.c. See cfg.c for the list
 * of the module's files. */
#ifndef SIM_CFG_INTERNAL_H
#define SIM_CFG_INTERNAL_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <yaml.h>

#include "cfg.h"

#define CFG_QUOTE_MAX 60            /* bytes of user text quoted in a message */

/* ---- The tree and its arena (cfg.c) -------------------------------------- */

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
void *cfg_alloc(sim_cfg_t *cfg, size_t size);
char *cfg_strndup(sim_cfg_t *cfg, const char *s, size_t n);
/* A new node in cfg's arena (scalars get the text ""); counts in cfg->nnodes. */
sim_cfg_node_t *cfg_new_node(sim_cfg_t *cfg, sim_cfg_kind_t kind, const char *file,
                             int line, int col);
/* Deep copy of a subtree (positions kept, use marks fresh); NULL on OOM. */
sim_cfg_node_t *cfg_copy(sim_cfg_t *cfg, const sim_cfg_node_t *src);

/* ---- Text and message helpers (cfg.c) ------------------------------------ */

/* Number of UTF-8 code points in s[0..n) (bytes that do not continue one). */
static inline size_t cfg_utf8_chars(const char *s, size_t n)
{
    size_t c = 0;
    for (size_t i = 0; i < n; i++)
        if (((unsigned char)s[i] & 0xC0) != 0x80) c++;
    return c;
}

static inline int cfg_clamp_int(size_t v) { return v > INT_MAX ? INT_MAX : (int)v; }

/* Copy at most CFG_QUOTE_MAX bytes of s into buf (cut at a UTF-8 boundary),
 * adding "..." when shortened. */
void cfg_quote(const char *s, char *buf, size_t cap);
/* "a mapping", "a sequence", "null", "a scalar" ("nothing" for NULL). */
const char *cfg_kind_name(const sim_cfg_node_t *n);
/* Path for messages: the top level is "(top level)". */
void cfg_msg_path(const sim_cfg_node_t *node, char *buf, size_t n);
/* "'PATH': EXPECT, got X[HINT]" at the node; returns SIM_ECONFIG. */
int cfg_bad(sim_diag_t *d, const sim_cfg_node_t *n, const char *expect, const char *hint);
/* The kind check behind sim_cfg_expect_map/seq/scalar (reports once per node). */
bool cfg_expect_kind(sim_diag_t *d, const sim_cfg_node_t *node, sim_cfg_kind_t kind,
                     const char *what);

/* ---- The YAML builder (cfg_yaml.c, cfg_yaml_errors.c) -------------------- */

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

/* Parse text into b->root (cfg_yaml.c). Returns the number of errors reported. */
int cfg_b_parse(cfg_builder_t *b, const char *text, size_t len);
/* Report an error at a position of the parsed text and count it (cfg_yaml.c). */
void cfg_b_error(cfg_builder_t *b, int line, int col, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* Report running out of memory (once) and stop the parse (cfg_yaml.c). */
void cfg_b_nomem(cfg_builder_t *b);
/* 1-based position of a libyaml mark (cfg_yaml_errors.c). */
void cfg_b_pos(const cfg_builder_t *b, yaml_mark_t m, int *line, int *col);
/* Report the error that stopped libyaml's parser (cfg_yaml_errors.c). */
void cfg_b_syntax_error(cfg_builder_t *b, const yaml_parser_t *p);

#endif
