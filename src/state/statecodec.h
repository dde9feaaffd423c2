/*
 * statecodec.h — the binary forms of checkpointed state: a bounded little-endian reader and
 * writer, Stellar values (sketches included), and the records of a changelog topic (a header
 * naming a generation, and the chunks of that generation's payload).
 *
 * DESIGN: a changelog (io/changelog.c) keeps the latest state of each input partition in a
 * compacted Kafka topic. A state can be larger than a record, so it is cut into chunks, and a
 * crash in the middle of writing must leave the previous state readable. Two slots: the chunks
 * of generation g go under the keys "<key>#<g % 2>.<index>", then the header under "<key>"
 * names g, the chunk count, the payload length and its XXH3 checksum. Compaction keeps the
 * newest record per key, so the chunks of the generation the newest header names are intact
 * until generation g + 2 overwrites the same slot, which only starts after header g + 1 was
 * acknowledged. Every record starts with a magic, a kind and a version.
 *
 * Everything read here may come from a topic anyone with access to the cluster can write:
 * every length and count is checked against what is left of the input before it is used, and
 * against fixed caps; nesting is bounded; a bad record is SL_EPARSE with the reason in d.
 * Pure functions: no I/O, any thread.
 */
#ifndef SL_STATE_STATECODEC_H
#define SL_STATE_STATECODEC_H

#include "base/arena.h"
#include "base/binrd.h"
#include "base/buf.h"
#include "base/err.h"
#include "core/value.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SL_SC_MAX_DEPTH  32
#define SL_SC_MAX_CHUNK  (512u << 10) /* payload bytes in one chunk record */
#define SL_SC_MAX_CHUNKS 4096u        /* chunks of one state: 2 GiB at most */
#define SL_SC_MAX_STATE  (256u << 20) /* one decoded payload */
#define SL_SC_MAX_KEY    512u
#define SL_SC_VERSION    1u

/* ---- values */

/* Append v: every type; objects must be sketches (STATS, HLLP, BLOOM: their sl_sketch binary
 * form), else SL_ETYPE. */
int sl_sc_put_value(struct sl_buf *b, const struct sl_value *v);
/* Read a value written by sl_sc_put_value. Strings, lists and maps are built in arena a;
 * sketches are new objects (one reference each, owned by the caller: release them with
 * sl_sc_value_release). 0, or SL_EPARSE (r->why says why) / SL_ENOMEM. On failure nothing
 * needs releasing. */
int sl_sc_get_value(struct sl_binrd *r, struct sl_arena *a, struct sl_value *out);
/* Drop the object references inside a value read by sl_sc_get_value. */
void sl_sc_value_release(struct sl_value *v);

/* ---- changelog records */

struct sl_sc_header {
    uint64_t generation;
    uint32_t chunks;
    uint64_t length;   /* payload bytes */
    uint64_t checksum; /* XXH3 of the payload */
};

/* The key of a state's header, and of chunk `index` of generation g (in buf). Return the
 * length, or 0 when the key does not fit (SL_SC_MAX_KEY). */
size_t sl_sc_chunk_key(char *buf, size_t cap, const char *key, uint64_t generation, uint32_t index);

int sl_sc_put_header(struct sl_buf *b, const struct sl_sc_header *h);
int sl_sc_decode_header(const void *p, size_t n, struct sl_sc_header *h, struct sl_diag *d);
/* A chunk record: generation, index, then its payload bytes. */
int sl_sc_put_chunk(struct sl_buf *b, uint64_t generation, uint32_t index, const void *data,
                    size_t n);
/* data and len: a view into p. */
int sl_sc_decode_chunk(const void *p, size_t n, uint64_t *generation, uint32_t *index,
                       const void **data, size_t *len, struct sl_diag *d);

/* Reassembly of one state from the records read: feed the header and the chunks in any order
 * (later records of a key replace earlier ones, as compaction would), then finish. */
struct sl_sc_state {
    bool have_header;
    struct sl_sc_header h;
    struct {
        uint64_t generation;
        void *data; /* heap copy */
        size_t len;
    } * slot[2]; /* chunk tables by slot, grown to the index seen */
    uint32_t nslot[2];
    size_t held; /* chunk bytes held (capped at 2 * SL_SC_MAX_STATE) */
};
void sl_sc_state_init(struct sl_sc_state *s);
void sl_sc_state_fini(struct sl_sc_state *s);
/* A record whose key is `suffix` after the state's key: "" for the header, "#s.i" for a chunk.
 * A record of another shape is SL_EPARSE (d says why; the caller counts and skips it). */
int sl_sc_state_feed(struct sl_sc_state *s, const char *suffix, size_t suffix_len,
                     const void *value, size_t len, struct sl_diag *d);
/* The payload of the newest complete generation: *out (heap, sl_free) and its length.
 * SL_ENOENT when there is no header; SL_EPARSE when the chunks it names are missing or do not
 * match its length or checksum. */
int sl_sc_state_finish(struct sl_sc_state *s, void **out, size_t *len, struct sl_diag *d);

#endif
