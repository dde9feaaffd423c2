/*
 * profiles_api.h — the profile store over HTTP, as JSON:
 *
 *   GET /api/v1/profiles                              profiles with entity and row counts
 *   GET /api/v1/profiles/{profile}                    its entities
 *   GET /api/v1/profiles/{profile}/{entity}?from=&to=&groups=
 *                                                     its measurements, in (groups, start)
 *                                                     order; from/to epoch ms (inclusive,
 *                                                     on the period start), groups the JSON
 *                                                     array as stored (e.g. ["a","1"])
 *
 * Independent of the HTTP library, so that it can be tested and reused (`sluice profiles`
 * prints the same data as tables): server.c hands it the decoded path and query arguments.
 */
#ifndef SL_API_PROFILES_API_H
#define SL_API_PROFILES_API_H

#include "base/buf.h"
#include "state/store.h"

#include <stdbool.h>

#define SL_API_PROFILES_PREFIX   "/api/v1/profiles"
#define SL_API_PROFILES_MAX_ROWS 10000 /* measurements per answer; more: "truncated": true */

/* True if url is served by sl_api_profiles_get. */
bool sl_api_profiles_match(const char *url);

/* Answer the request for `url` (the path, percent-decoded) with query arguments from, to and
 * groups (NULL when absent) from store s (NULL: 503, no store configured). Appends the JSON
 * body to out and returns the HTTP status (200, 400, 404, 500, 503). Any thread. */
unsigned sl_api_profiles_get(struct sl_store *s, const char *url, const char *from, const char *to,
                             const char *groups, struct sl_buf *out);

#endif
