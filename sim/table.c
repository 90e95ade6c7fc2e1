/* In-memory tables of typed columns (table.h) for the trace's datasets.
 * Calls nothing outside the engine. */
#include "table.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

/* Rows start with this many slots; the buffer doubles from there. */
#define TABLE_INITIAL_ROWS_ 64

static size_t align8_(size_t n) { return (n + 7u) & ~(size_t)7u; }

void sim_table_init(sim_table_t *t, const char *name)
{
    memset(t, 0, sizeof *t);
    t->name = name;
}

void sim_table_fini(sim_table_t *t)
{
    if (!t) return;
    free(t->rows);
    t->rows = NULL;
    t->nrows = t->cap = 0;
    t->dropped = 0;
}

/* Columns may only be added while no row exists: the layout is fixed by the
 * first append. Duplicate names are refused because they would become
 * duplicate compound members in the trace. */
static int add_col_(sim_table_t *t, const char *name, const char *unit, sim_col_type_t type,
                    size_t width)
{
    if (!name || !*name || width == 0) return -1;
    if (t->ncols >= SIM_TABLE_MAX_COLS || t->cap > 0 || t->dropped > 0) return -1;
    if (sim_table_find_col(t, name) >= 0) return -1;
    if (width > SIZE_MAX / 2 - t->row_size) return -1;
    sim_col_t *c = &t->cols[t->ncols];
    c->name = name;
    c->unit = unit ? unit : "";
    c->type = type;
    c->width = width;
    c->offset = t->row_size;
    t->row_size += align8_(width);
    return (int)t->ncols++;
}

int sim_table_col_i64(sim_table_t *t, const char *name, const char *unit)
{
    return add_col_(t, name, unit, SIM_COL_I64, sizeof(int64_t));
}

int sim_table_col_f64(sim_table_t *t, const char *name, const char *unit)
{
    return add_col_(t, name, unit, SIM_COL_F64, sizeof(double));
}

int sim_table_col_str(sim_table_t *t, const char *name, size_t width)
{
    return add_col_(t, name, "", SIM_COL_STR, width);
}

/* Doubling keeps appends amortised O(1); the capacity never exceeds
 * max_rows so a bounded table allocates no more than it may hold. A failed
 * allocation leaves the table unchanged. */
static int grow_(sim_table_t *t)
{
    size_t ncap = t->cap ? t->cap * 2 : TABLE_INITIAL_ROWS_;
    if (ncap < t->cap) return -1;
    if (t->max_rows && ncap > t->max_rows) ncap = t->max_rows;
    size_t rs = t->row_size ? t->row_size : 1;
    if (ncap > SIZE_MAX / rs) return -1;
    unsigned char *p = realloc(t->rows, ncap * rs);
    if (!p) return -1;
    t->rows = p;
    t->cap = ncap;
    return 0;
}

/* A row that cannot be stored (limit reached or out of memory) is counted in
 * `dropped`, so the trace always says how many rows are missing. */
unsigned char *sim_table_append(sim_table_t *t)
{
    if ((t->max_rows && t->nrows >= t->max_rows) || (t->nrows == t->cap && grow_(t) != 0)) {
        t->dropped++;
        return NULL;
    }
    unsigned char *row = t->rows + t->nrows * t->row_size;
    memset(row, 0, t->row_size);
    t->nrows++;
    return row;
}

/* Truncation backs off to a UTF-8 character boundary (the trace declares its
 * strings UTF-8), and the rest of the field is zeroed so the bytes written to
 * a file depend only on the string. */
void sim_row_str(const sim_table_t *t, unsigned char *row, int col, const char *s)
{
    assert(col >= 0 && (size_t)col < t->ncols && t->cols[col].type == SIM_COL_STR);
    const sim_col_t *c = &t->cols[col];
    unsigned char *dst = row + c->offset;
    size_t n = s ? strnlen(s, c->width) : 0;
    if (n >= c->width) {
        n = c->width - 1;
        while (n > 0 && ((unsigned char)s[n] & 0xC0u) == 0x80u) n--;
    }
    if (n) memcpy(dst, s, n);
    memset(dst + n, 0, c->width - n);
}

static const unsigned char *cell_(const sim_table_t *t, size_t row, int col, sim_col_type_t type)
{
    assert(row < t->nrows && col >= 0 && (size_t)col < t->ncols);
    assert(t->cols[col].type == type);
    (void)type;
    return t->rows + row * t->row_size + t->cols[col].offset;
}

int64_t sim_table_get_i64(const sim_table_t *t, size_t row, int col)
{
    int64_t v;
    memcpy(&v, cell_(t, row, col, SIM_COL_I64), sizeof v);
    return v;
}

double sim_table_get_f64(const sim_table_t *t, size_t row, int col)
{
    double v;
    memcpy(&v, cell_(t, row, col, SIM_COL_F64), sizeof v);
    return v;
}

const char *sim_table_get_str(const sim_table_t *t, size_t row, int col)
{
    return (const char *)cell_(t, row, col, SIM_COL_STR);
}

int sim_table_find_col(const sim_table_t *t, const char *name)
{
    for (size_t i = 0; i < t->ncols; i++)
        if (strcmp(t->cols[i].name, name) == 0) return (int)i;
    return -1;
}
