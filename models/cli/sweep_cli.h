/* `ragsim sweep`: option parsing (the work is in models/sweep_cmd.c). */
#ifndef MODELS_CLI_SWEEP_CLI_H
#define MODELS_CLI_SWEEP_CLI_H

/* argv[0] is "sweep". Returns the exit status. */
int sweep_main(int argc, char **argv);

#endif
