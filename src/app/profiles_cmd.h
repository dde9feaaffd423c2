/*
 * profiles_cmd.h — `sluice profiles`: what a profile store holds, as tables (or JSON).
 *
 *   sluice profiles --store URL                      profiles: entities, rows, first, last
 *   sluice profiles --store URL PROFILE              its entities
 *   sluice profiles --store URL PROFILE ENTITY [--from MS] [--to MS] [--groups JSON]
 *                                                    its measurements
 *   --json prints what GET /api/v1/profiles/... answers instead.
 *
 * Takes the whole argv of sluice (argv[1] is "profiles"); returns the exit status (0, 1 the
 * store could not be read, 2 usage). Main thread.
 */
#ifndef SL_APP_PROFILES_CMD_H
#define SL_APP_PROFILES_CMD_H

#include <stdio.h>

int sl_cmd_profiles(int argc, char **argv);
void sl_cmd_profiles_usage(FILE *f);

#endif
