/* Diagnostics: error and warning messages about user input.
 *
 * Messages are formatted like a compiler's, one per line:
 *     FILE:LINE:COL: error: MESSAGE
 *     FILE:LINE:COL: warning: MESSAGE
 *     FILE: error: MESSAGE            (when no position exists)
 * and collected in a buffer (so tests can assert on them); the CLI prints the
 * buffer to stderr. Lines and columns are 1-based. */
#ifndef SIM_DIAG_H
#define SIM_DIAG_H

#include <stdarg.h>
#include <stddef.h>

typedef struct sim_diag {
    char *buf;          /* all messages, NUL-terminated, one per line; may be NULL */
    size_t len, cap;
    int errors;         /* number of errors reported */
    int warnings;
    int nomem;          /* memory ran out while loading or reporting (the errors may not be
                           the input's: a command then exits with status 1, not 2) */
    int max_errors;     /* stop recording after this many errors (default 20; <= 0: no cap).
                           The first error over the cap adds the line
                           "too many errors; stopping"; later errors are still
                           counted in `errors` but nothing more is recorded. */
} sim_diag_t;

void sim_diag_init(sim_diag_t *d);
void sim_diag_fini(sim_diag_t *d);

/* Report at a position; file may be NULL ("<input>"); line <= 0 omits the
 * position ("FILE: error: MSG"), col <= 0 omits the column. Control
 * characters in the message are escaped (\n, \t, \xNN) so each report is
 * exactly one line. d may be NULL (the report is dropped). */
void sim_diag_error_at(sim_diag_t *d, const char *file, int line, int col, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
void sim_diag_warn_at(sim_diag_t *d, const char *file, int line, int col, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
void sim_diag_vreport(sim_diag_t *d, int is_error, const char *file, int line, int col,
                      const char *fmt, va_list ap);

/* Append the messages of `from` to d, each unless d already holds it,
 * counting errors and warnings as if reported to d. (Parse each variant
 * into a diag of its own, then merge: inside one parse the error count
 * rises with every error, even one another variant already reported.) */
void sim_diag_merge(sim_diag_t *d, const sim_diag_t *from);
/* All messages so far ("" when none). */
const char *sim_diag_text(const sim_diag_t *d);

#endif
