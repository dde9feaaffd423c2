/*
 * profile_fns.h — the profiler client's Stellar functions (PROFILE_GET, PROFILE_VERBOSE,
 * PROFILE_FIXED, PROFILE_WINDOW; the table `sl_sfuncs_profile` declared weak in
 * lang/fn_registry.c) and their process-wide settings.
 *
 * Settings are resolved per key as Metron's Util.getEffectiveConfig does: the call's
 * overrides map, else the global configuration set here (Metron's global.json), else the
 * default. Keys: profiler.client.period.duration (15), profiler.client.period.duration.units
 * (MINUTES; a java.util.concurrent.TimeUnit name) and profiler.default.value (null).
 */
#ifndef SL_STATE_PROFILE_FNS_H
#define SL_STATE_PROFILE_FNS_H

#include "base/err.h"

#include <stddef.h>

/* Replace the global client configuration by the JSON object json[0..len) (a copy is kept);
 * NULL clears it. 0, or SL_EPARSE / SL_ETYPE (not an object) with d set (d may be NULL).
 * Any thread; readers see either the old or the new configuration. */
int sl_profile_client_set_global(const char *json, size_t len, struct sl_diag *d);

#endif
