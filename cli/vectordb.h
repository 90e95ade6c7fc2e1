/* `ragsim vectordb`: the vector DB's cost model on the command line
 * (docs/models/vectordb.md), without a simulation. */
#ifndef CLI_VECTORDB_H
#define CLI_VECTORDB_H

#include <stdio.h>

/* argv[0] is "vectordb"; returns the exit status (0, or 2 for bad usage or input). */
int vectordb_main(int argc, char **argv, FILE *out, FILE *err);

#endif
