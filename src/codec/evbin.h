/*
 * evbin.h — a compact binary form of an event batch, for the sinks' disk buffers.
 *
 * Every value type of core/value.h round-trips exactly: strings and bytes byte for byte,
 * ints, doubles by their bit pattern (NaN payloads and -0.0 kept), bools, null, timestamps,
 * IPs with their family flag, lists and maps (key order kept), and the value flags (Java
 * widths). Objects (sketches, models) are refused with SL_ETYPE: their serialised forms live
 * in the language layer, which a codec may not depend on, and no sink writes objects anyway
 * (they render as JSON summaries before that).
 *
 * Layout (little-endian, varints are LEB128 unsigned):
 *   "SLB1"  varint events  varint input-bytes
 *   per event: i64 ts_ns  varint fields  per field: name-ref  value
 *   name-ref: varint 0, varint len, bytes (a new name, numbered from 1 in order of
 *             appearance) | varint k (the k-th name of this batch)
 *   value: u8 type, u8 flags, then by type: NULL nothing; BOOL u8; INT/TS i64; DOUBLE u64
 *          bits; STRING/BYTES varint len + bytes; IP 16 bytes; LIST varint count + values;
 *          MAP varint count + (varint len, key bytes, value)
 *
 * DESIGN: field names are written once per batch (the name-ref table), so a thousand events
 * of the same shape cost their values plus a byte per field. The decoder treats its input as
 * hostile: every length and count is checked against the bytes that remain (each element
 * needs at least one), nesting is capped, and names are capped in length and number before
 * they reach the global symbol table.
 *
 * Threads: no shared state; any thread.
 */
#ifndef SL_CODEC_EVBIN_H
#define SL_CODEC_EVBIN_H

#include "base/buf.h"
#include "base/err.h"
#include "core/event.h"

#include <stddef.h>
#include <stdint.h>

#define SL_EVBIN_MAX_DEPTH    64u      /* lists/maps nested deeper: SL_EDEPTH */
#define SL_EVBIN_MAX_NAME_LEN 1024u    /* field name bytes */
#define SL_EVBIN_MAX_NAMES    4096u    /* distinct field names in one batch */
#define SL_EVBIN_MAX_EVENTS   1000000u /* events in one batch (sl_batch_push's cap) */

/* Append the encoding of b's events (and b->bytes) to out. 0, SL_ETYPE (an object value,
 * out unchanged), SL_EDEPTH, SL_E2BIG / SL_ENOMEM (out's cap; out unchanged). */
int sl_evbin_encode(const struct sl_batch *b, struct sl_buf *out);
/* The same for n events that need not be a batch (the kafka sink encodes one per record). */
int sl_evbin_encode_events(const struct sl_event *evs, uint32_t n, uint64_t bytes,
                           struct sl_buf *out);

/* Decode p[0..n) into b: events are appended, strings copied into b's arena, the encoded
 * input-bytes added to b->bytes. 0 or SL_EPARSE / SL_EDEPTH / SL_ELIMIT / SL_ENOMEM with d (may be
 * NULL) naming the byte offset; b then holds what was decoded before the error. */
int sl_evbin_decode(const void *p, size_t n, struct sl_batch *b, struct sl_diag *d);
/* The same, but strings and bytes point into p instead of being copied: p must live as long
 * as b (sl_batch_adopt it first). The disk buffer's reader does this: a copy per string was
 * a measurable share of its time. */
int sl_evbin_decode_view(const void *p, size_t n, struct sl_batch *b, struct sl_diag *d);

#endif
