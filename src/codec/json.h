/*
 * json.h — the JSON codec: a zero-copy RFC 8259 parser into events and values, and a writer.
 *
 * Parsing: strings without escapes stay views into the input (which must live as long as
 * the batch: put it in batch memory); strings with escapes are decoded into the arena.
 * Top-level keys of an event are interned as symbols; nested objects become maps (keys as
 * views), arrays lists. Numbers are ints when the literal is an integer that fits int64,
 * doubles otherwise (correctly rounded). All string content is validated as UTF-8.
 * Errors carry the byte offset and say what was expected.
 *
 * Thread-safe: scratch space is per thread.
 */
#ifndef SL_CODEC_JSON_H
#define SL_CODEC_JSON_H

#include "base/arena.h"
#include "base/buf.h"
#include "base/err.h"
#include "core/event.h"

#include <stddef.h>
#include <stdint.h>

struct sl_json_opts {
    uint32_t max_depth; /* 0: 64 */
    size_t max_len;     /* 0: 16 MiB; longer input -> SL_E2BIG */
};

/*
 * Parse one JSON text that must be an object into a new event appended to b. Duplicate
 * top-level keys: the last one wins. On error nothing is appended; returns SL_EPARSE,
 * SL_EDEPTH, SL_E2BIG, SL_EUTF8, SL_ENOMEM or SL_ELIMIT (too many distinct field names) with
 * d->offset and d->msg set (d may be NULL). ts_ns of the event is left 0.
 */
int sl_json_parse_event(struct sl_batch *b, const char *p, size_t n, const struct sl_json_opts *o,
                        struct sl_diag *d);
/* Parse any JSON value; allocations from arena a. */
int sl_json_parse_value(struct sl_arena *a, const char *p, size_t n, const struct sl_json_opts *o,
                        struct sl_value *out, struct sl_diag *d);

/* Append the event as one JSON object (no newline), fields in order. */
int sl_json_write_event(struct sl_buf *out, const struct sl_event *ev);
/* Append a value: doubles shortest round-trip (NaN/Inf as null), timestamps RFC 3339 with
 * nanoseconds, IPs as strings, bytes as base64, objects via their to_json (else null). */
int sl_json_write_value(struct sl_buf *out, const struct sl_value *v);
/* Append a JSON string literal; invalid UTF-8 bytes become \ufffd. */
int sl_json_write_string(struct sl_buf *out, const char *p, size_t n);

#endif
