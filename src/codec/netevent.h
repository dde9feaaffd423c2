/*
 * netevent.h — network events as FlatBuffers (schemas/netevent.fbs): the aggregator's wire
 * format between collectors and sluice. See docs/netevent.md for the schema, the framing
 * and the type names.
 *
 * DESIGN: no generated code. A verifier walks the buffer first (every offset, vtable,
 * string and vector checked against the buffer, depth and size limits, alignment, UTF-8)
 * and only then does the decoder read it into a sluice event: the common fields (ts, uid,
 * collectorId, origIp, origPort, respIp, respPort, proto, origH, respH) plus the fields of
 * the message's one type table, and `type` = the type name ("GENERAL", "HTTP", ...). The
 * encoder is the inverse, for `sluice send` and tests. Field names in events are the
 * schema's camelCase names.
 *
 * Framing on the wire (one ZeroMQ message): either one FlatBuffer, or several, each
 * preceded by its length as a 4-byte little-endian unsigned integer (FlatBuffers'
 * "size-prefixed" form). sl_netevent_decode_message() tells them apart and decodes all.
 */
#ifndef SL_CODEC_NETEVENT_H
#define SL_CODEC_NETEVENT_H

#include "base/buf.h"
#include "base/err.h"
#include "core/event.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Message types, in the schema's union order. */
#define SL_NETEVENT_TYPES(X)                                                                       \
    X(GENERAL)                                                                                     \
    X(FTP)                                                                                         \
    X(HTTP)                                                                                        \
    X(LDAP)                                                                                        \
    X(SMB)                                                                                         \
    X(SMTP)                                                                                        \
    X(TDS)                                                                                         \
    X(DCE_RPC)                                                                                     \
    X(TELNET)                                                                                      \
    X(SYSTEM_STATS)

enum sl_netevent_type {
    SL_NETEVENT_NONE = 0,
#define SL_NE_ENUM(n) SL_NETEVENT_##n,
    SL_NETEVENT_TYPES(SL_NE_ENUM)
#undef SL_NE_ENUM
        SL_NETEVENT__COUNT
};

/* "GENERAL"...; NULL for an unknown value. */
const char *sl_netevent_type_name(enum sl_netevent_type t);
/* By name (case-sensitive); SL_NETEVENT_NONE when unknown. */
enum sl_netevent_type sl_netevent_type_of(const char *name, size_t len);

/* The aggregator's upload contract (docs/aggregator.md) names each file by its type (above)
 * and the aggregator's id: 1-128 characters of [A-Za-z0-9._-] (`-q/--uniqueId`, the
 * `aggregator-id` field). The receiver, the receiver sink and the command line check ids with
 * this one rule. Pure. */
bool sl_aggregator_id_ok(const char *id, size_t len);

/* Whether `name` (the schema's camelCase spelling) is a common field or a field of type t's
 * table (t may be SL_NETEVENT_NONE: common fields only). For the Zeek reader (codec/zeek.c),
 * which renames Zeek columns onto the schema. Any thread. */
bool sl_netevent_has_field(enum sl_netevent_type t, const char *name, size_t len);

#define SL_NETEVENT_MAX_BYTES (16u << 20) /* one FlatBuffer */

/* Verify one FlatBuffer and append its event to b. 0, or SL_EPARSE with d->msg naming what
 * is wrong and d->offset the byte offset in buf where the problem is. Nothing is
 * appended on error. */
int sl_netevent_decode(const uint8_t *buf, size_t len, struct sl_batch *b, struct sl_diag *d);

/* One ZeroMQ message: a single FlatBuffer or a run of size-prefixed ones (see above). Appends
 * every event; on the first bad one, stops and returns SL_EPARSE (events before it stay
 * appended; *consumed says how many bytes were good, so the caller can keep the rest as a
 * dead letter). */
int sl_netevent_decode_message(const uint8_t *msg, size_t len, struct sl_batch *b, size_t *consumed,
                               struct sl_diag *d);

/* Encode an event (fields named as the schema's; `type` selects the type table; unknown
 * fields are ignored, wrongly typed ones are an error naming the field) as one FlatBuffer
 * appended to out; with size_prefix, preceded by its 4-byte length. 0 or SL_EINVAL. */
int sl_netevent_encode(const struct sl_event *ev, bool size_prefix, struct sl_buf *out,
                       struct sl_diag *d);

#endif
