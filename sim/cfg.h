/* Scenario configuration tree: YAML loaded into nodes that remember where
 * they came from, and typed getters that report every mistake as
 *     FILE:LINE:COL: error: MESSAGE
 *
 * Loading (libyaml's parser) builds a tree of scalars, mappings and
 * sequences. Anchors and aliases are expanded (with a limit on the total
 * number of nodes, so an "alias bomb" is an error, not an out-of-memory), and
 * nesting deeper than SIM_CFG_MAX_DEPTH is an error. Duplicate keys are errors
 * that point at the second occurrence and name the first. A tab where YAML
 * expects indentation gets a clear message.
 *
 * Reading: models call the getters below with the keys they understand. Each
 * call marks the key as "used" and records its name as "known" for that
 * mapping; after a model has read its part, sim_cfg_check_unused() reports
 * every key nobody read as "unknown key 'servres' in 'stations.db' (did you
 * mean 'servers'?)", suggesting the closest known key of the same mapping.
 *
 * Overrides: sim_cfg_set("stations.db.servers=4") replaces or adds a value
 * before the model reads the tree; the value is parsed as YAML (so lists and
 * maps work: route=[a,b]) and its nodes carry the position "--set:1:COL",
 * so a bad override is reported exactly like a bad file.
 *
 * Memory: all nodes and strings live in one arena owned by the sim_cfg_t.
 * Nothing here is on the simulation's hot path. */
#ifndef SIM_CFG_H
#define SIM_CFG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "diag.h"
#include "time.h"

#define SIM_CFG_MAX_DEPTH 64          /* deepest nesting accepted */
#define SIM_CFG_MAX_NODES 1000000     /* nodes after alias expansion */
#define SIM_CFG_MAX_ALIAS_NODES 100000 /* nodes created by expanding aliases, per
                                          document; keeps an alias bomb to ~15 MB */
#define SIM_CFG_MAX_BYTES (64u << 20) /* largest scenario file accepted */

typedef enum { SIM_CFG_SCALAR, SIM_CFG_MAP, SIM_CFG_SEQ } sim_cfg_kind_t;

typedef struct sim_cfg_node sim_cfg_node_t;
struct sim_cfg_node {
    sim_cfg_kind_t kind;
    const char *file;           /* file name as given, or "--set" */
    int line, col;              /* 1-based position of the node's first character */
    sim_cfg_node_t *parent;     /* NULL for the root */
    const char *key;            /* key under which this node sits in its parent mapping,
                                   NULL for sequence items and the root */
    size_t index;               /* index in the parent sequence (items only) */

    /* SIM_CFG_SCALAR */
    const char *text;           /* NUL-terminated scalar text (never NULL for scalars) */
    size_t len;
    bool plain;                 /* unquoted scalar: may be null/bool/number; quoted is a string */

    /* SIM_CFG_MAP: keys[i] (scalars) -> vals[i]; SIM_CFG_SEQ: vals[i] */
    sim_cfg_node_t **keys;
    sim_cfg_node_t **vals;
    size_t n;

    bool used;                  /* read by some getter (for a map value: its key was read) */
    const char **known;         /* MAP only: key names code asked for (static strings,
                                   or strings that outlive the cfg's use) */
    size_t nknown;
    bool reported;              /* internal: a "expected a mapping" error was already
                                   reported for this node (report once, not per getter) */
};

typedef struct sim_cfg sim_cfg_t;

/* Load a YAML file. On any error returns NULL and reports to d. A missing or
 * unreadable file, a directory, an empty file, a file larger than
 * SIM_CFG_MAX_BYTES, invalid UTF-8 and a document whose root is not a
 * mapping are all reported with clear messages.
 *
 * Decisions:
 *  - Problems of the whole file have no position ("FILE: error: empty
 *    scenario"): cannot open, a directory, too big, NUL bytes ("not a text
 *    file"), a UTF-16 or UTF-32 byte order mark, no document or a null document.
 *    Problems with a place have one: invalid UTF-8 and control characters
 *    (at the offending byte), a root that is not a mapping (at the root), a
 *    second document (at its '---').
 *  - Loading continues after errors that do not break the structure
 *    (duplicate keys, merge keys, tags) so several are reported at once;
 *    limits (nodes, depth) and syntax errors stop it.
 *  - Anchors/aliases are expanded by deep copy; the copy's root has the
 *    alias's position. Before each copy the node counts (keys included) are
 *    checked against SIM_CFG_MAX_ALIAS_NODES (copies) and SIM_CFG_MAX_NODES
 *    (everything), so an alias bomb fails before it allocates. Recursive
 *    aliases and aliases without an anchor are errors.
 *  - Memory is bounded by SIM_CFG_MAX_NODES nodes of about 200 bytes each
 *    (node, text, child pointer), i.e. ~200 MB for the largest tree.
 *  - Tags: '!!str' (or '!') makes a scalar a string (like quotes); the
 *    standard !!map and !!seq are ignored; any other tag is an error.
 *  - Keys must be scalars; '<<' merge keys are rejected; scalars containing
 *    NUL ("\0") are rejected.
 *  - The root mapping's position is 1:1 (where "missing required top-level
 *    key" errors point). */
sim_cfg_t *sim_cfg_load_file(const char *path, sim_diag_t *d);

/* Load from memory; `name` is used as FILE in messages (NULL: "<input>").
 * `text` need not be NUL-terminated; it is copied. */
sim_cfg_t *sim_cfg_load_string(const char *name, const char *text, size_t len, sim_diag_t *d);

void sim_cfg_destroy(sim_cfg_t *cfg);   /* NULL is a no-op */

sim_cfg_node_t *sim_cfg_root(const sim_cfg_t *cfg);
const char *sim_cfg_file(const sim_cfg_t *cfg);

/* The text as loaded from the file (before overrides). */
const char *sim_cfg_source(const sim_cfg_t *cfg, size_t *len);

/* Apply one override "path.to.key=value". Path components are mapping keys,
 * or decimal indexes into sequences (0 .. n-1; appending is not possible).
 * Missing mapping keys are created (an invalid one is then reported as
 * unknown by sim_cfg_check_unused, at the override's position); a null value
 * on the path ("db:" with nothing) becomes a new mapping; a path through any
 * other scalar is an error. Keys containing '.' cannot be addressed.
 * The value is parsed as a YAML document: "name=hello" is a plain scalar,
 * "route=[a,b]" a sequence, "w={rate: 5/s}" a mapping, "x=" null,
 * "x='4'" a string. All messages and all new nodes have the position
 * "--set:1:COL", COL being the 1-based character column in `assignment`.
 * Nothing changes unless the whole override is valid. Returns 0, or
 * SIM_ECONFIG (SIM_ENOMEM) after reporting to d. */
int sim_cfg_set(sim_cfg_t *cfg, const char *assignment, sim_diag_t *d);

/* The effective scenario as YAML text (after overrides), re-loadable to an
 * equal tree: block style, UTF-8, quoted text stays quoted (so "yes", "1e3"
 * and "" stay strings), plain text stays plain. Anchors are not recreated
 * (aliases were expanded). Caller frees *out with free(). Comments are not
 * kept. One exception to equality: a multi-line plain scalar (a blank line
 * inside an unquoted value) is emitted quoted. Returns 0, SIM_EINVAL or
 * SIM_ENOMEM. */
int sim_cfg_emit(const sim_cfg_t *cfg, char **out, size_t *len);

/* Report every mapping key that no getter read, with a did-you-mean from
 * the known keys of the same mapping, or else the list of known keys:
 *   "unknown key 'servres' in 'stations.db' (did you mean 'servers'?)"
 *   "unknown top-level key 'x' (known keys: duration, seed)"
 * at the key. Walks from the root in document order and only descends into
 * used values, so an unknown subtree gives one error. Returns the number of
 * errors reported. */
int sim_cfg_check_unused(const sim_cfg_t *cfg, sim_diag_t *d);

/* ---- Variants -------------------------------------------------------------
 * A new tree (in cfg's arena, with use marks of its own): a copy of the map
 * `base` without the top-level keys in skip_base, with each overlay merged
 * in order: mappings merge key by key, anything else replaces; overlay keys
 * in skip_overlay are ignored. Copied nodes keep their file positions, so
 * errors in a variant's overlay point at the overlay. NULL on OOM. */
sim_cfg_node_t *sim_cfg_overlay(sim_cfg_t *cfg, const sim_cfg_node_t *base, const char *const *skip_base,
                                const sim_cfg_node_t *const *overlays, size_t n, const char *const *skip_overlay);
/* As sim_cfg_check_unused, for any tree. */
int sim_cfg_check_unused_node(const sim_cfg_node_t *root, sim_diag_t *d);
/* As sim_cfg_emit, for any tree. */
int sim_cfg_emit_node(const sim_cfg_node_t *node, char **out, size_t *len);

/* Nodes in a subtree: the node, its keys and values, recursively. */
size_t sim_cfg_count(const sim_cfg_node_t *node);

/* Dotted path of a node for messages: "stations.db.servers", "route[2]". Writes at most n bytes. */
void sim_cfg_path(const sim_cfg_node_t *node, char *buf, size_t n);

/* Report an error / warning at a node's position: "FILE:L:C: error: MSG". */
void sim_cfg_error(sim_diag_t *d, const sim_cfg_node_t *node, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void sim_cfg_warn(sim_diag_t *d, const sim_cfg_node_t *node, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* ---- Navigation ------------------------------------------------------- */

/* Value for `key` in mapping `map`, or NULL if `map` is NULL, not a mapping,
 * or has no such key. Records `key` as known and marks the pair used; the
 * mapping itself counts as used from then on (its other keys are checked by
 * sim_cfg_check_unused). `key` is kept, not copied: a literal, or a string
 * that lives as long as the cfg (e.g. another node's text). `map` must be a
 * node of a sim_cfg_t (the known-key list is allocated in its arena). */
sim_cfg_node_t *sim_cfg_get(sim_cfg_node_t *map, const char *key);

/* Mark a node (and the pair holding it) as used without reading it; for
 * mappings whose keys are user-chosen names (stations: {db: ..., llm: ...}).
 * Not recursive: keys inside a touched mapping that nobody reads are still
 * reported by sim_cfg_check_unused. */
void sim_cfg_touch(sim_cfg_node_t *node);

/* Mark a node and its whole subtree used, for free-form content that is
 * never reported as unknown (notes, metadata). */
void sim_cfg_touch_all(sim_cfg_node_t *node);

/* Kind checks that report "'PATH': expected a mapping for the station, got a
 * sequence" etc. at the node; `what` names the thing ("station", "route"; may
 * be NULL). Return true if OK; NULL (absent) returns false silently. A null
 * value is a scalar, not a mapping or sequence. */
bool sim_cfg_expect_map(sim_diag_t *d, const sim_cfg_node_t *node, const char *what);
bool sim_cfg_expect_seq(sim_diag_t *d, const sim_cfg_node_t *node, const char *what);
bool sim_cfg_expect_scalar(sim_diag_t *d, const sim_cfg_node_t *node, const char *what);

/* True for a plain (unquoted) empty, "~", "null", "Null" or "NULL" scalar. */
bool sim_cfg_is_null(const sim_cfg_node_t *node);

/* ---- Typed getters -------------------------------------------------------
 * Each looks up `key` in `map`. If absent: with SIM_CFG_REQUIRED reports
 * "missing required key 'KEY' in 'PATH'" at the mapping and returns
 * SIM_ECONFIG; otherwise stores `dflt` and returns 0 (absent is not an error).
 * If present but wrong (type, unit, range), reports at the value, e.g.
 *   "'stations.db.servers': expected an integer >= 1, got '0'"
 * and returns SIM_ECONFIG (the output is left at dflt).
 * The *_node variants parse a node directly (for sequence items); they
 * mark the node used and write *out only on success.
 *
 * Rules:
 *  - A key that is present with a null value is present: every getter
 *    reports "expected ..., got null" (strings too: write "" for empty).
 *  - A NULL `map` or a null one ("db:" with nothing) has no keys, so all
 *    getters give their defaults; a `map` that is a scalar or a sequence is
 *    reported once ("expected a mapping") and the getters return SIM_ECONFIG.
 *  - Quotes make a string. Integers, numbers, booleans, durations, sizes,
 *    rates and ratios are read only from plain scalars; `servers: "4"` gives
 *    "expected an integer, got the string \"4\" (write it without quotes)".
 *    Strings and enums accept plain and quoted scalars.
 *  - int: decimal with optional sign, and exact exponent forms (1e6, 2.5e3);
 *    no '_' separators, hex or octal. double: finite decimal numbers.
 *    bool: exactly true or false (yes/no/on/off/True are rejected).
 *  - Units: see units.h (durations, sizes, rates, ratios, compute rates in
 *    FLOP/s, bandwidths in bytes/s). SIM_CFG_POSITIVE requires > 0 (ints: >= 1);
 *    SIM_CFG_UNBOUNDED accepts the word 'unbounded' for int (INT64_MAX),
 *    duration (SIM_TIME_MAX) and size (INT64_MAX). */

enum {
    SIM_CFG_REQUIRED  = 1u << 0,  /* absent is an error */
    SIM_CFG_POSITIVE  = 1u << 1,  /* value must be > 0 (default: >= 0 for durations/sizes/rates) */
    SIM_CFG_UNBOUNDED = 1u << 2,  /* accept "unbounded" (int and size: INT64_MAX;
                                     duration: SIM_TIME_MAX) */
};

int sim_cfg_int(sim_diag_t *d, sim_cfg_node_t *map, const char *key, unsigned flags,
                int64_t min, int64_t max, int64_t dflt, int64_t *out);
int sim_cfg_double(sim_diag_t *d, sim_cfg_node_t *map, const char *key, unsigned flags,
                   double min, double max, double dflt, double *out);
int sim_cfg_bool(sim_diag_t *d, sim_cfg_node_t *map, const char *key, unsigned flags,
                 bool dflt, bool *out);
/* String: any scalar (plain or quoted). The pointer lives as long as the cfg. */
int sim_cfg_string(sim_diag_t *d, sim_cfg_node_t *map, const char *key, unsigned flags,
                   const char *dflt, const char **out);
/* One of `choices` (NULL-terminated); stores the index. Wrong values get
 * "expected one of a, b, c" and a did-you-mean. */
int sim_cfg_enum(sim_diag_t *d, sim_cfg_node_t *map, const char *key, unsigned flags,
                 const char *const *choices, int dflt, int *out);
int sim_cfg_duration(sim_diag_t *d, sim_cfg_node_t *map, const char *key, unsigned flags,
                     sim_time_t dflt, sim_time_t *out);
int sim_cfg_size(sim_diag_t *d, sim_cfg_node_t *map, const char *key, unsigned flags,
                 int64_t dflt, int64_t *out);
int sim_cfg_rate(sim_diag_t *d, sim_cfg_node_t *map, const char *key, unsigned flags,
                 double dflt, double *out);
int sim_cfg_ratio(sim_diag_t *d, sim_cfg_node_t *map, const char *key, unsigned flags,
                  double dflt, double *out);
/* Compute rate in FLOP/s ("312TFLOP/s") and bandwidth in bytes/s ("2039GB/s"). */
int sim_cfg_flops(sim_diag_t *d, sim_cfg_node_t *map, const char *key, unsigned flags,
                  double dflt, double *out);
int sim_cfg_bandwidth(sim_diag_t *d, sim_cfg_node_t *map, const char *key, unsigned flags,
                      double dflt, double *out);

int sim_cfg_int_node(sim_diag_t *d, sim_cfg_node_t *node, unsigned flags,
                     int64_t min, int64_t max, int64_t *out);
int sim_cfg_double_node(sim_diag_t *d, sim_cfg_node_t *node, unsigned flags,
                        double min, double max, double *out);
int sim_cfg_duration_node(sim_diag_t *d, sim_cfg_node_t *node, unsigned flags, sim_time_t *out);
int sim_cfg_size_node(sim_diag_t *d, sim_cfg_node_t *node, unsigned flags, int64_t *out);
int sim_cfg_rate_node(sim_diag_t *d, sim_cfg_node_t *node, unsigned flags, double *out);
int sim_cfg_ratio_node(sim_diag_t *d, sim_cfg_node_t *node, unsigned flags, double *out);
int sim_cfg_flops_node(sim_diag_t *d, sim_cfg_node_t *node, unsigned flags, double *out);
int sim_cfg_bandwidth_node(sim_diag_t *d, sim_cfg_node_t *node, unsigned flags, double *out);
int sim_cfg_string_node(sim_diag_t *d, sim_cfg_node_t *node, const char **out);
int sim_cfg_enum_node(sim_diag_t *d, sim_cfg_node_t *node, const char *const *choices, int *out);

/* Closest candidate to `word` by edit distance (Damerau-Levenshtein), or NULL
 * if none is within max(2, strlen(word)/3). For did-you-mean messages. */
const char *sim_cfg_closest(const char *word, const char *const *cands, size_t n);

#endif
