/* `ragsim sweep`: option parsing (the work is in experiment/sweep_master.c). */
#ifndef CLI_SWEEP_CLI_H
#define CLI_SWEEP_CLI_H

#include <stdint.h>

/* argv[0] is "sweep". Returns the exit status. */
int sweep_main(int argc, char **argv);

/* A count option's value: decimal digits only, at most `max`. 0, or -1
 * after printing "ragsim: error: OPT expects an integer in [0, MAX], got 'S'".
 * Shared by every subcommand's option parsing. */
/* -o's value: a file name, not "-" (standard output) nor a directory;
 * 0, or -1 after one message naming an example (e.g. "OUT.h5"). */
int cli_check_output(const char *path, const char *example);

/* The path of `rel` (e.g. "python", "scenarios/rag-baseline.yaml") among
 * ragsim's data, found next to the executable: PREFIX/share/ragsim/ when
 * installed, BUILD/share/ragsim/ in a build tree. 0, or -1 if absent. */
#include <stddef.h>
int cli_data_path(const char *rel, char *buf, size_t n);

int cli_parse_count(const char *s, const char *opt, uint64_t max, uint64_t *out);
/* --reps N: a count in [1, 100000] into *out; 0 or -1 (message printed). */
int cli_parse_reps(const char *s, int64_t *out);
/* -j N: worker processes in [1, 1024] into *out; 0 or -1 (message printed). */
int cli_parse_jobs(const char *s, int *out);

#endif
