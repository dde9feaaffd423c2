/*
 * es_bulk.h — Elasticsearch `_bulk` API: the response decoder (per-item status and error) and
 * the action line encoder, for the `elasticsearch` sink (docs/components/elasticsearch.md).
 *
 * A bulk response is `{"took":N,"errors":bool,"items":[{"<action>":{"_index":..,"status":N,
 * "error":{"type":..,"reason":..}}}, ...]}`, one item per action in request order. Older
 * versions sent `error` as a string; both are read. The response is untrusted input: depth,
 * size and item count are bounded, and anything that is not this shape is SL_EPARSE.
 *
 * Threads: pure functions, any thread.
 */
#ifndef SL_CODEC_ES_BULK_H
#define SL_CODEC_ES_BULK_H

#include "base/arena.h"
#include "base/buf.h"
#include "base/err.h"
#include "base/str.h"

#include <stdbool.h>
#include <stddef.h>

struct sl_es_item {
    int status;           /* the item's HTTP status; 0 when absent */
    struct sl_str type;   /* error.type ("" when no error) */
    struct sl_str reason; /* error.reason, or the error string of old versions */
};

struct sl_es_bulk_resp {
    bool errors; /* the response's "errors" flag */
    struct sl_es_item *items;
    size_t count;
};

/*
 * Decode a bulk response body. Items and strings live in arena `a` (or point into p, which
 * must outlive the result). At most max_items items (more: SL_ELIMIT). 0, or SL_EPARSE
 * (not JSON, or not a bulk response; d->msg says what), SL_EDEPTH, SL_E2BIG, SL_ENOMEM,
 * SL_ELIMIT. d may be NULL.
 */
int sl_es_bulk_parse(struct sl_arena *a, const char *p, size_t n, size_t max_items,
                     struct sl_es_bulk_resp *out, struct sl_diag *d);

/* Append the action line `{"<op>":{"_index":"..","_type":"..","_id":".."}}\n` (type and id
 * left out when NULL). 0, SL_E2BIG or SL_ENOMEM. */
int sl_es_bulk_action(struct sl_buf *out, const char *op, struct sl_str index, const char *type,
                      const struct sl_str *id);

#endif
