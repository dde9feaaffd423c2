/*
 * flatbuf.c — FlatBuffers verifier primitives (see flatbuf.h).
 *
 * DESIGN: every check is done in 64-bit arithmetic on positions (never on pointers), so a
 * hostile offset cannot wrap around; the buffer is capped below 4 GiB so positions fit u32.
 * What the official C++ verifier checks, this checks too: table and vtable bounds and
 * alignment, vtable size even and >= 4, table inline size >= 4, each field inside its
 * table's inline size, forward offsets in bounds, string NUL terminator, vector size without
 * overflow, nesting depth; plus UTF-8 in strings (the C++ verifier leaves that to the reader).
 */
#include "codec/flatbuf.h"

#define FAIL(fb, off, msg) ((fb)->err = (msg), (fb)->err_off = (size_t)(off), -1)

void sl_flatbuf_init(struct sl_flatbuf *fb, const uint8_t *buf, size_t len, uint32_t max_depth)
{
    fb->buf = buf;
    fb->len = len;
    fb->max_depth = max_depth ? max_depth : 64;
    fb->err = NULL;
    fb->err_off = 0;
}

int sl_flatbuf_table(struct sl_flatbuf *fb, uint32_t pos, uint32_t depth,
                     struct sl_flatbuf_table *t)
{
    if (depth > fb->max_depth)
        return FAIL(fb, pos, "tables nested too deep");
    if (pos & 3)
        return FAIL(fb, pos, "table misaligned");
    if ((uint64_t)pos + 4 > fb->len)
        return FAIL(fb, pos, "table outside the buffer");
    int64_t soff = (int32_t)sl_flatbuf_u32(fb->buf + pos);
    int64_t vt = (int64_t)pos - soff;
    if (vt < 0 || (uint64_t)vt + 4 > fb->len)
        return FAIL(fb, pos, "vtable outside the buffer");
    if (vt & 1)
        return FAIL(fb, pos, "vtable misaligned");
    uint16_t vt_len = sl_flatbuf_u16(fb->buf + vt);
    uint16_t t_len = sl_flatbuf_u16(fb->buf + vt + 2);
    if (vt_len < 4 || (vt_len & 1))
        return FAIL(fb, (size_t)vt, "bad vtable size");
    if ((uint64_t)vt + vt_len > fb->len)
        return FAIL(fb, (size_t)vt, "vtable outside the buffer");
    if (t_len < 4 || (uint64_t)pos + t_len > fb->len)
        return FAIL(fb, (size_t)vt, "bad table size");
    t->pos = pos;
    t->vt = (uint32_t)vt;
    t->vt_len = vt_len;
    t->t_len = t_len;
    return 0;
}

int sl_flatbuf_root(struct sl_flatbuf *fb, uint32_t at, struct sl_flatbuf_table *t)
{
    if (fb->len > (size_t)UINT32_MAX - 8)
        return FAIL(fb, 0, "buffer too large");
    if ((uint64_t)at + 4 > fb->len)
        return FAIL(fb, at, "buffer too short for a root offset");
    uint64_t root = (uint64_t)at + sl_flatbuf_u32(fb->buf + at);
    if (root >= fb->len)
        return FAIL(fb, at, "root offset outside the buffer");
    return sl_flatbuf_table(fb, (uint32_t)root, 1, t);
}

int sl_flatbuf_vector(struct sl_flatbuf *fb, uint32_t pos, uint32_t elem_size, uint32_t *count,
                      uint32_t *data)
{
    uint64_t n = sl_flatbuf_u32(fb->buf + pos);
    if ((uint64_t)pos + 4 + n * elem_size > fb->len)
        return FAIL(fb, pos, "vector outside the buffer");
    if (elem_size > 4 && ((pos + 4) & (elem_size - 1)))
        return FAIL(fb, pos, "vector elements misaligned");
    *count = (uint32_t)n;
    *data = pos + 4;
    return 0;
}

bool sl_flatbuf_utf8_valid(const char *str, size_t n)
{
    const unsigned char *p = (const unsigned char *)str, *end = p + n;
    while (p < end) {
        /* ASCII runs 8 bytes at a time */
        while (end - p >= 8) {
            uint64_t w;
            memcpy(&w, p, 8);
            if (w & 0x8080808080808080ull)
                break;
            p += 8;
        }
        if (p >= end)
            break;
        unsigned c = *p;
        if (c < 0x80) {
            p++;
            continue;
        }
        size_t need;
        unsigned lo = 0x80, hi = 0xbf;
        if (c >= 0xc2 && c <= 0xdf) {
            need = 1;
        } else if (c >= 0xe0 && c <= 0xef) {
            need = 2;
            if (c == 0xe0)
                lo = 0xa0; /* overlong */
            else if (c == 0xed)
                hi = 0x9f; /* surrogates */
        } else if (c >= 0xf0 && c <= 0xf4) {
            need = 3;
            if (c == 0xf0)
                lo = 0x90; /* overlong */
            else if (c == 0xf4)
                hi = 0x8f; /* past U+10FFFF */
        } else {
            return false;
        }
        if ((size_t)(end - p) <= need)
            return false;
        if (p[1] < lo || p[1] > hi)
            return false;
        for (size_t i = 2; i <= need; i++)
            if ((p[i] & 0xc0) != 0x80)
                return false;
        p += need + 1;
    }
    return true;
}
