/* `ragsim sensitivity`: option parsing (the work is in experiment/sensitivity.c). */
#ifndef CLI_SENSITIVITY_CLI_H
#define CLI_SENSITIVITY_CLI_H

/* argv[0] is "sensitivity". Returns the exit status. */
int sensitivity_main(int argc, char **argv);

#endif
