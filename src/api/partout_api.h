/*
 * partout_api.h — the Partout store (state/partout_store.h) over HTTP, as JSON:
 *
 *   GET /api/v1/partout/agents                   agents: last seen, level and period last told,
 *                                                aggregates and counts
 *   GET /api/v1/partout/agents/{uuid}?from=&to=&level=
 *                                                counts of one agent over time, each at the
 *                                                finest detail kept for its age (raw, hour,
 *                                                day, week); from/to epoch ms (inclusive, on
 *                                                the bucket start), level 0..4 (default 4)
 *
 * Independent of the HTTP library (server.c hands it the decoded path and query arguments),
 * so `sluice partout` prints the same answers from a store file.
 */
#ifndef SL_API_PARTOUT_API_H
#define SL_API_PARTOUT_API_H

#include "base/buf.h"
#include "state/partout_store.h"

#include <stdbool.h>

#define SL_API_PARTOUT_PREFIX "/api/v1/partout"

/* True if url is served by sl_api_partout_get. */
bool sl_api_partout_match(const char *url);

/* Answer `url` with query arguments from, to, level (NULL when absent) from store s (NULL:
 * 503, no partout source with a store). Appends the JSON body to out and returns the HTTP
 * status (200, 400, 404, 500, 503). Any thread. */
unsigned sl_api_partout_get(struct sl_partout_store *s, const char *url, const char *from,
                            const char *to, const char *level, struct sl_buf *out);

#endif
