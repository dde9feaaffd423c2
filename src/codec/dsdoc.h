/*
 * dsdoc.h — dataShark's output record and the document its syslog and Elasticsearch outputs
 * sent (docs/components/syslog-sink.md): a record is (key, score, {metadata}); the document is
 *
 *     {"title": T, "timestamp": TIME, <pkey>: key, <score>: score, ...metadata}
 *
 * and its CSV row is `TIME, key, score, metadata values sorted by key`. Pure formatting: no
 * I/O. Shared by the `syslog` and `elasticsearch` sinks and `csv`'s `layout: datashark`.
 *
 * Where the record's parts are in an event: `key_field`, `score_field` (field paths), and
 * `metadata_field`, a map; when the event has no such field, every other top-level field
 * (all but the key's and the score's) is metadata, so any event has this shape.
 *
 * Threads: a struct sl_dsdoc is read-only after sl_dsdoc_init(): any thread.
 */
#ifndef SL_CODEC_DSDOC_H
#define SL_CODEC_DSDOC_H

#include "base/buf.h"
#include "base/str.h"
#include "core/event.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct sl_dsdoc_conf {
    const char *title;     /* "title" value; NULL: "" */
    const char *pkey;      /* the key's name in the document */
    const char *score;     /* the score's name in the document */
    const char *key_field; /* field paths in the event */
    const char *score_field;
    const char *metadata_field;
    const char *timestamp_format; /* strftime, plus %f = microseconds; NULL: "%Y-%m-%d %H:%M:%S" */
    bool timestamp_event;         /* the event time (else the time given to the writer: now) */
    bool utc;                     /* else local time */
};

struct sl_dsdoc {
    struct sl_path key, score, meta;
    char *title, *pkey, *score_name, *ts_format;
    bool timestamp_event, utc;
};

/* One metadata entry (views into the event). */
struct sl_dsdoc_kv {
    struct sl_str key;
    const struct sl_value *val;
};

/* Compile. 0, or SL_EINVAL (a bad field path: more than 9 parts) / SL_ENOMEM. The conf's
 * strings are copied. */
int sl_dsdoc_init(struct sl_dsdoc *d, const struct sl_dsdoc_conf *cf);
void sl_dsdoc_fini(struct sl_dsdoc *d);

/* The record's key and score (NULL when absent). */
const struct sl_value *sl_dsdoc_key(const struct sl_dsdoc *d, const struct sl_event *ev);
const struct sl_value *sl_dsdoc_score(const struct sl_dsdoc *d, const struct sl_event *ev);

/*
 * The metadata entries into out[0..cap), in their order (sorted by key, bytewise, when
 * `sorted`). Returns how many there are (may exceed cap: only cap were filled). A metadata
 * field that is neither a map nor null is one entry named after the field.
 */
size_t sl_dsdoc_metadata(const struct sl_dsdoc *d, const struct sl_event *ev, bool sorted,
                         struct sl_dsdoc_kv *out, size_t cap);

/* Format the record's timestamp into out (NUL-terminated); returns its length (0 when the
 * format produced nothing or out is too small). now_ns: wall time used unless
 * timestamp_event. */
size_t sl_dsdoc_time(const struct sl_dsdoc *d, const struct sl_event *ev, int64_t now_ns, char *out,
                     size_t out_len);

/* strftime with %f (microseconds, 6 digits) of ts_ns; utc or local time. Same returns. */
size_t sl_dsdoc_strftime(const char *fmt, int64_t ts_ns, bool utc, char *out, size_t out_len);

/* Append the document as compact JSON (no newline). 0, SL_E2BIG or SL_ENOMEM. */
int sl_dsdoc_write_json(const struct sl_dsdoc *d, const struct sl_event *ev, int64_t now_ns,
                        struct sl_buf *out);

#endif
