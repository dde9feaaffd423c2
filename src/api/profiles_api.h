/*
 * profiles_api.h — GET /api/v1/profiles... over the default profile store (profiles_api.c).
 */
#ifndef SL_API_PROFILES_API_H
#define SL_API_PROFILES_API_H

#include "base/buf.h"
#include "core/value.h"

#include <stdbool.h>
#include <stdint.h>

/* A query argument of the request (NULL when absent). */
typedef const char *(*sl_api_arg_fn)(void *ud, const char *name);

/* Render the answer for `path` (which starts with /api/v1/profiles) into b; returns the HTTP
 * status. */
unsigned sl_api_profiles(const char *path, sl_api_arg_fn arg, void *arg_ud, struct sl_buf *b);

/* Epoch milliseconds, or RFC 3339 (Z or an offset, optional fraction); false when neither. */
bool sl_api_parse_time(const char *s, int64_t *out);
/* A groups argument, ["a",1] or a,1, as the store's text form ["a","1"], appended to out.
 * SL_EINVAL when it is neither. */
int sl_api_groups_text(const char *q, struct sl_buf *out);
/* A stored value as JSON (sketches as their summary object). */
int sl_api_value_json(struct sl_buf *b, const struct sl_value *v);

#endif
