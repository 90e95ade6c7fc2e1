/* `ragsim fit`: maximum-likelihood distribution fits to measured samples or
 * Prometheus histogram buckets, printed as a scenario's `dist:` mapping
 * (cli/fit.c, sim/fit.h). */
#ifndef CLI_FIT_H
#define CLI_FIT_H

#include <stdio.h>

/* argv[0] is "fit"; returns the exit status (0, 1 out of memory, 2 bad usage or file). */
int fit_main(int argc, char **argv, FILE *out, FILE *err);

#endif
