/* `ragsim llm`: questions about an LLM replica answered from the hardware
 * and the model, without a simulation (docs/llm-validation.md). */
#ifndef CLI_LLM_H
#define CLI_LLM_H

#include <stdio.h>

/* argv[0] is "llm"; returns the exit status (0, or 2 for bad usage). */
int llm_main(int argc, char **argv, FILE *out, FILE *err);

/* `ragsim llm capacity` (cli/llm_capacity.c); argv[0] is "capacity". */
int llm_capacity_cmd(int argc, char **argv, FILE *out, FILE *err);

#endif
