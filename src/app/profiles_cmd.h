/* profiles_cmd.h — `sluice profiles` (profiles_cmd.c). */
#ifndef SL_APP_PROFILES_CMD_H
#define SL_APP_PROFILES_CMD_H

/* argv[1] is "profiles". Returns the exit status. */
int sl_cmd_profiles(int argc, char **argv);

#endif
