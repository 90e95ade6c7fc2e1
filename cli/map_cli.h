/* `ragsim map`: option parsing (the work is in experiment/map.c). */
#ifndef CLI_MAP_CLI_H
#define CLI_MAP_CLI_H

/* argv[0] is "map". Returns the exit status. */
int map_main(int argc, char **argv);

#endif
