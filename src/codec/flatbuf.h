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

static inline int sl_flatbuf__fail(struct sl_flatbuf *fb, uint64_t off, const char *msg)
{
    fb->err = msg;
    fb->err_off = (size_t)off;
    return -1;
}

/* Strict UTF-8 (no overlongs, surrogates or code points past U+10FFFF). */
bool sl_flatbuf_utf8_valid(const char *p, size_t n);

/* The hot checks below are inline: as calls into flatbuf.c they cost bench_netevent a fifth. */

/* Inline scalar field of `size` bytes (1, 2, 4, 8): *pos = its position, or 0 when absent.
 * 0 or -1 (outside the table, misaligned). */
static inline int sl_flatbuf_scalar(struct sl_flatbuf *fb, const struct sl_flatbuf_table *t,
                                    uint32_t slot, uint32_t size, uint32_t *pos)
{
    uint32_t off = sl_flatbuf_field(fb, t, slot);
    *pos = 0;
    if (!off)
        return 0;
    if (off < 4 || off + size > t->t_len)
        return sl_flatbuf__fail(fb, t->vt + 4 + 2 * slot, "field outside its table");
    uint32_t p = t->pos + off;
    if (p & (size - 1))
        return sl_flatbuf__fail(fb, p, "field misaligned");
    *pos = p;
    return 0;
}

/* Follow the uoffset stored at pos (a field or vector element, already bounds-checked).
 * 0 or -1. */
static inline int sl_flatbuf_deref(struct sl_flatbuf *fb, uint32_t pos, uint32_t *target)
{
    uint64_t to = (uint64_t)pos + sl_flatbuf_u32(fb->buf + pos);
    if (to + 4 > fb->len)
        return sl_flatbuf__fail(fb, pos, "offset outside the buffer");
    if (to & 3)
        return sl_flatbuf__fail(fb, pos, "offset target misaligned");
    *target = (uint32_t)to;
    return 0;
}

/* Offset field (string, vector, table): *target = where it points, or 0 when absent. 0 / -1. */
static inline int sl_flatbuf_ref(struct sl_flatbuf *fb, const struct sl_flatbuf_table *t,
                                 uint32_t slot, uint32_t *target)
{
    uint32_t p;
    *target = 0;
    if (sl_flatbuf_scalar(fb, t, slot, 4, &p))
        return -1;
    return p ? sl_flatbuf_deref(fb, p, target) : 0;
}

/* The string at pos (from deref): bounds, NUL terminator, UTF-8. 0 or -1. */
static inline int sl_flatbuf_string(struct sl_flatbuf *fb, uint32_t pos, const char **p,
                                    uint32_t *n)
{
    uint64_t len = sl_flatbuf_u32(fb->buf + pos);
    if ((uint64_t)pos + 4 + len + 1 > fb->len)
        return sl_flatbuf__fail(fb, pos, "string outside the buffer");
    const char *s = (const char *)fb->buf + pos + 4;
    if (s[len] != 0)
        return sl_flatbuf__fail(fb, pos + 4 + len, "string without its NUL terminator");
    if (!sl_flatbuf_utf8_valid(s, (size_t)len))
        return sl_flatbuf__fail(fb, pos + 4, "string is not valid UTF-8");
    *p = s;
    *n = (uint32_t)len;
    return 0;
}

/* The vector at pos of elements `elem_size` bytes: *count, *data = first element's position.
 * 0 or -1. */
int sl_flatbuf_vector(struct sl_flatbuf *fb, uint32_t pos, uint32_t elem_size, uint32_t *count,
                      uint32_t *data);

#endif
