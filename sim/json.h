/* A streaming JSON writer (RFC 8259) for machine-readable summaries.
 *
 *   sim_json_t j;
 *   sim_json_init(&j, f, 2);          // indent by 2 spaces (0: one line)
 *   sim_json_begin_obj(&j, NULL);     // a value at the top or in an array: key NULL
 *   sim_json_str(&j, "name", "x");
 *   sim_json_num(&j, "mean_s", 0.25); // NaN and infinities are written as null
 *   sim_json_begin_arr(&j, "values"); sim_json_int(&j, NULL, 3); sim_json_end(&j);
 *   sim_json_end(&j);
 *   if (sim_json_finish(&j) != 0) ...  // -1: unbalanced, too deep, or a write failed
 *
 * Strings are escaped (quote, backslash, control characters); bytes that
 * are not valid UTF-8 are written as U+FFFD. Numbers are written with the
 * fewest of 15, 16 or 17 significant digits that read back bit-identical. Not on
 * any hot path. May call: the C library. */
#ifndef SIM_JSON_H
#define SIM_JSON_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#define SIM_JSON_MAX_DEPTH 32

typedef struct {
    FILE *f;
    int indent;
    int depth;
    bool first[SIM_JSON_MAX_DEPTH + 1];   /* no member written yet at this depth */
    char close[SIM_JSON_MAX_DEPTH];       /* the bracket that closes each open level */
    bool bad;                             /* a misuse (too deep, end without begin) */
} sim_json_t;

void sim_json_init(sim_json_t *j, FILE *f, int indent);
/* Every call takes the member's key inside an object, NULL inside an array
 * or at the top. */
void sim_json_begin_obj(sim_json_t *j, const char *key);
void sim_json_begin_arr(sim_json_t *j, const char *key);
void sim_json_end(sim_json_t *j);
void sim_json_str(sim_json_t *j, const char *key, const char *s);   /* NULL s: null */
void sim_json_num(sim_json_t *j, const char *key, double v);
void sim_json_int(sim_json_t *j, const char *key, int64_t v);
void sim_json_uint(sim_json_t *j, const char *key, uint64_t v);
void sim_json_bool(sim_json_t *j, const char *key, bool v);
void sim_json_null(sim_json_t *j, const char *key);
/* Ends the document with a newline: 0, or -1 (unbalanced, misuse, or the
 * stream reports an error). */
int sim_json_finish(sim_json_t *j);

#endif
