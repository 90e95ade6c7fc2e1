/* `ragsim bench`: engine benchmarks (see docs/internals/performance.md). */
#ifndef CLI_BENCH_H
#define CLI_BENCH_H

#include <stdio.h>

int bench_main(int argc, char **argv, FILE *out, FILE *err);

#endif
