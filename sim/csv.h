/* CSV files read once into memory and walked row by row (RFC 4180: comma
 * separated, optional double quotes, "" inside quotes for a quote, LF or
 * CRLF line ends, a header row). For inputs that name data files, such as
 * workload traces: the whole file is read at load, never during a run.
 *
 *   sim_csv_t c;
 *   if (sim_csv_open(&c, "trace.csv", d)) ...           // reports FILE: error
 *   // c.header[0 .. c.ncols-1]: the header's names
 *   while ((rc = sim_csv_next(&c, d)) > 0)              // one data row
 *       use c.field[j], c.line, c.fcol[j]               // NUL-terminated text, 1-based positions
 *   sim_csv_close(&c);
 *
 * Positions are the file's line and the 1-based character column where each
 * field starts, so a bad value is reported as FILE:LINE:COL. Fields are
 * unquoted in place; a quoted field may not span lines. Every row must have
 * as many fields as the header. Blank lines are skipped. Not on any hot path. */
#ifndef SIM_CSV_H
#define SIM_CSV_H

#include <stddef.h>

#include "diag.h"

#define SIM_CSV_MAX_BYTES ((size_t)1 << 30)   /* largest file accepted (1 GiB) */
#define SIM_CSV_MAX_COLS 256

typedef struct {
    const char *path;        /* as given (not copied) */
    char *buf;               /* the whole file, NUL-terminated (owned) */
    size_t len, pos;
    int next_line;           /* line number of buf[pos] */
    size_t ncols;
    char *header[SIM_CSV_MAX_COLS];
    int hcol[SIM_CSV_MAX_COLS];
    /* the current row */
    char *field[SIM_CSV_MAX_COLS];
    int fcol[SIM_CSV_MAX_COLS];
    int line;
} sim_csv_t;

/* Read the file and its header. Returns 0, or SIM_ECONFIG (reported: cannot
 * open, too big, empty, NUL bytes, a bad header), or SIM_ENOMEM. */
int sim_csv_open(sim_csv_t *c, const char *path, sim_diag_t *d);
/* The next data row: 1 (c->field filled), 0 at the end, SIM_ECONFIG after
 * reporting a malformed row (wrong field count, an unterminated quote). */
int sim_csv_next(sim_csv_t *c, sim_diag_t *d);
void sim_csv_close(sim_csv_t *c);
/* Index of the header column `name`, or -1. */
int sim_csv_column(const sim_csv_t *c, const char *name);

#endif
