/*
 * partout_cmd.h — `sluice partout`: what a Partout store file holds (the agents, or one
 * agent's counts over time), as text tables or as the API's JSON (--json).
 */
#ifndef SL_APP_PARTOUT_CMD_H
#define SL_APP_PARTOUT_CMD_H

#include <stdio.h>

int sl_cmd_partout(int argc, char **argv);
void sl_cmd_partout_usage(FILE *f);

#endif
