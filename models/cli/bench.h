/* `ragsim bench`: engine benchmarks (see docs/performance.md). */
#ifndef RAGSIM_CLI_BENCH_H
#define RAGSIM_CLI_BENCH_H

#include <stdio.h>

int bench_main(int argc, char **argv, FILE *out, FILE *err);

#endif
