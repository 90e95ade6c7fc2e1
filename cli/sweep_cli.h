/* `ragsim sweep`: option parsing (the work is in experiment/sweep_master.c). */
#ifndef CLI_SWEEP_CLI_H
#define CLI_SWEEP_CLI_H

#include <stdint.h>

/* argv[0] is "sweep". Returns the exit status. */
int sweep_main(int argc, char **argv);

/* A count option's value: decimal digits only, at most `max`. 0, or -1
 * after printing "ragsim: error: OPT expects an integer in [0, MAX], got 'S'".
 * Shared by every subcommand's option parsing. */
int cli_parse_count(const char *s, const char *opt, uint64_t max, uint64_t *out);

#endif
