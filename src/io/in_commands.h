/*
 * in_commands.h — the pure parts of the `commands` source (in_commands.c), for tests.
 */
#ifndef SL_IO_IN_COMMANDS_H
#define SL_IO_IN_COMMANDS_H

#include <stddef.h>

#define SL_COMMANDS_ID_MAX 128 /* bytes */

/* Check a collector id (the `id` of /agent/ping, already URL-decoded): 1 to
 * SL_COMMANDS_ID_MAX bytes of [A-Za-z0-9._:-]. NULL when valid, else why not (a static
 * string, for the 400 answer). `id` may be NULL (missing). Any thread. */
const char *sl_commands_id_check(const char *id, size_t len);

#endif
