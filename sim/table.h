/* In-memory table of fixed-layout rows: the shape of every compound dataset
 * in a trace (events, stations, summary, per-request records).
 *
 * Columns are declared once (name, type, unit); rows are appended as packed
 * records whose layout the table computes. Appending is amortised O(1) (the
 * row buffer doubles); nothing is formatted. A row limit (max_rows) bounds
 * memory: further rows are counted in `dropped` instead of stored. */
#ifndef SIM_TABLE_H
#define SIM_TABLE_H

#include <stddef.h>
#include <stdint.h>

typedef enum {
    SIM_COL_I64,        /* int64_t */
    SIM_COL_F64,        /* double */
    SIM_COL_STR,        /* fixed-length, NUL-padded char[width] (a trace stores it as a variable-length string) */
} sim_col_type_t;

#define SIM_TABLE_MAX_COLS 64

typedef struct {
    const char *name;   /* static string */
    const char *unit;   /* static string: "s", "bytes", "1" (dimensionless), "" for text */
    sim_col_type_t type;
    size_t width;       /* SIM_COL_STR: bytes including the NUL; others: 8 */
    size_t offset;      /* byte offset in a row (computed) */
} sim_col_t;

typedef struct sim_table {
    const char *name;               /* dataset name ("events", "stations", ...) */
    sim_col_t cols[SIM_TABLE_MAX_COLS];
    size_t ncols;
    size_t row_size;                /* bytes per row (computed, 8-byte aligned) */
    unsigned char *rows;            /* nrows * row_size bytes, owned */
    size_t nrows, cap;
    size_t max_rows;                /* 0 = unlimited */
    uint64_t dropped;               /* rows not stored because of max_rows */
} sim_table_t;

void sim_table_init(sim_table_t *t, const char *name);
void sim_table_fini(sim_table_t *t);
/* Declare columns before the first row. Return the column index, or -1 (too many columns). */
int sim_table_col_i64(sim_table_t *t, const char *name, const char *unit);
int sim_table_col_f64(sim_table_t *t, const char *name, const char *unit);
int sim_table_col_str(sim_table_t *t, const char *name, size_t width);

/* Append a zeroed row and return it (NULL if dropped or out of memory); fill it with the setters. */
unsigned char *sim_table_append(sim_table_t *t);
static inline void sim_row_i64(const sim_table_t *t, unsigned char *row, int col, int64_t v)
{
    *(int64_t *)(void *)(row + t->cols[col].offset) = v;
}
static inline void sim_row_f64(const sim_table_t *t, unsigned char *row, int col, double v)
{
    *(double *)(void *)(row + t->cols[col].offset) = v;
}
/* Copies at most width-1 bytes and NUL-terminates. */
void sim_row_str(const sim_table_t *t, unsigned char *row, int col, const char *s);

static inline const unsigned char *sim_table_row(const sim_table_t *t, size_t i)
{
    return t->rows + i * t->row_size;
}
int64_t sim_table_get_i64(const sim_table_t *t, size_t row, int col);
double sim_table_get_f64(const sim_table_t *t, size_t row, int col);
const char *sim_table_get_str(const sim_table_t *t, size_t row, int col); /* NUL-terminated */
int sim_table_find_col(const sim_table_t *t, const char *name);         /* -1 if absent */

#endif
