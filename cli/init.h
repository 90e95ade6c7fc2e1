/* `ragsim init`: writes a commented starting scenario (cli/init.c). */
#ifndef CLI_INIT_H
#define CLI_INIT_H

#include <stdio.h>

/* argv[0] is "init"; returns the exit status (0; 2 bad usage or the file exists; 1 a write failed). */
int init_main(int argc, char **argv, FILE *out, FILE *err);

#endif
