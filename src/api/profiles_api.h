/*
 * profiles_api.h — GET /api/v1/profiles... over the default profile store (profiles_api.c).
 */
#ifndef SL_API_PROFILES_API_H
#define SL_API_PROFILES_API_H

#include "base/buf.h"

/* A query argument of the request (NULL when absent). */
typedef const char *(*sl_api_arg_fn)(void *ud, const char *name);

/* Render the answer for `path` (which starts with /api/v1/profiles) into b; returns the HTTP
 * status. */
unsigned sl_api_profiles(const char *path, sl_api_arg_fn arg, void *arg_ud, struct sl_buf *b);

#endif
