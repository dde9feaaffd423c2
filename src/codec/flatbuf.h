/*
 * flatbuf.h — a small FlatBuffers reader that verifies before it reads (no generated code).
 *
 * The binary format (FlatBuffers "Internals"): little-endian scalars aligned to their size; a
 * buffer starts with a uoffset (u32) to the root table; a table starts with an soffset (i32)
 * that is subtracted from the table's position to find its vtable; a vtable is u16s: its own
 * size, the table's inline size, then one offset per field slot (0 = absent, else the field's
 * offset from the table start); uoffsets to strings, vectors and sub-tables point forward
 * (position of the offset + its value); a string is a u32 length, the bytes and a NUL; a
 * vector is a u32 count and the elements. Size-prefixed buffers put a u32 length first.
 *
 * DESIGN: the caller walks its schema with these primitives, each of which checks what it is
 * about to read against the buffer: bounds (with 64-bit arithmetic, no overflow), alignment
 * (relative to the frame start, as FlatBuffers aligns: the start of a size-prefixed frame is
 * its length prefix), vtable sanity, string NUL terminators and UTF-8, vector sizes, nesting
 * depth. Reads go through memcpy, so the memory itself need not be aligned. Errors say what
 * and where (byte offset from the frame start).
 *
 * Thread-safe: no state beyond the struct the caller owns.
 */
#ifndef SL_CODEC_FLATBUF_H
#define SL_CODEC_FLATBUF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

struct sl_flatbuf {
    const uint8_t *buf; /* frame start: alignment and error offsets are relative to it */
    size_t len;
    uint32_t max_depth; /* table nesting */
    const char *err;    /* set on failure: a static message */
    size_t err_off;     /* where */
};

struct sl_flatbuf_table {
    uint32_t pos;    /* table start */
    uint32_t vt;     /* vtable start */
    uint16_t vt_len; /* vtable bytes */
    uint16_t t_len;  /* table inline bytes */
};

static inline uint16_t sl_flatbuf_u16(const uint8_t *p)
{
    return (uint16_t)(p[0] | (uint16_t)p[1] << 8);
}
static inline uint32_t sl_flatbuf_u32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
static inline uint64_t sl_flatbuf_u64(const uint8_t *p)
{
    return (uint64_t)sl_flatbuf_u32(p) | (uint64_t)sl_flatbuf_u32(p + 4) << 32;
}

/* Start reading buf[0, len) (len <= UINT32_MAX - 8, else the first call fails). */
void sl_flatbuf_init(struct sl_flatbuf *fb, const uint8_t *buf, size_t len, uint32_t max_depth);

/* The root table, whose uoffset is at `at` (0, or 4 in a size-prefixed frame). 0 or -1. */
int sl_flatbuf_root(struct sl_flatbuf *fb, uint32_t at, struct sl_flatbuf_table *t);
/* Verify the table at pos (depth: its nesting level, 1 for the root). 0 or -1. */
int sl_flatbuf_table(struct sl_flatbuf *fb, uint32_t pos, uint32_t depth,
                     struct sl_flatbuf_table *t);

/* Offset of field `slot` in the table, 0 when absent. Unverified: use the functions below. */
static inline uint32_t sl_flatbuf_field(const struct sl_flatbuf *fb,
                                        const struct sl_flatbuf_table *t, uint32_t slot)
{
    uint32_t vo = 4 + 2 * slot;
    if (vo + 2 > t->vt_len)
        return 0;
    return sl_flatbuf_u16(fb->buf + t->vt + vo);
}

/* Inline scalar field of `size` bytes (1, 2, 4, 8): *pos = its position, or 0 when absent.
 * 0 or -1 (outside the table, misaligned). */
int sl_flatbuf_scalar(struct sl_flatbuf *fb, const struct sl_flatbuf_table *t, uint32_t slot,
                      uint32_t size, uint32_t *pos);
/* Offset field (string, vector, table): *target = where it points, or 0 when absent. 0 / -1. */
int sl_flatbuf_ref(struct sl_flatbuf *fb, const struct sl_flatbuf_table *t, uint32_t slot,
                   uint32_t *target);
/* Follow the uoffset stored at pos (a vector element). 0 or -1. */
int sl_flatbuf_deref(struct sl_flatbuf *fb, uint32_t pos, uint32_t *target);
/* The string at pos: bounds, NUL terminator, UTF-8. 0 or -1. */
int sl_flatbuf_string(struct sl_flatbuf *fb, uint32_t pos, const char **p, uint32_t *n);
/* The vector at pos of elements `elem_size` bytes: *count, *data = first element's position.
 * 0 or -1. */
int sl_flatbuf_vector(struct sl_flatbuf *fb, uint32_t pos, uint32_t elem_size, uint32_t *count,
                      uint32_t *data);

/* Strict UTF-8 (no overlongs, surrogates or code points past U+10FFFF). */
bool sl_flatbuf_utf8_valid(const char *p, size_t n);

#endif
