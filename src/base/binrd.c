/*
 * binrd.c — the bounded little-endian reader and its writer (binrd.h).
 */
#include "base/binrd.h"

#include "base/err.h"

#include <string.h>

void sl_binrd_init(struct sl_binrd *r, const void *p, size_t n)
{
    r->p = p;
    r->n = p ? n : 0;
    r->pos = 0;
    r->ok = true;
    r->why = NULL;
}

void sl_binrd_fail(struct sl_binrd *r, const char *why)
{
    if (r->ok)
        r->why = why;
    r->ok = false;
}

const uint8_t *sl_binrd_take(struct sl_binrd *r, size_t n)
{
    if (!r->ok)
        return NULL;
    if (n > r->n - r->pos) {
        sl_binrd_fail(r, "truncated");
        return NULL;
    }
    const uint8_t *q = r->p + r->pos;
    r->pos += n;
    return q;
}

static uint64_t le(const uint8_t *q, int n)
{
    uint64_t v = 0;
    for (int i = 0; i < n; i++)
        v |= (uint64_t)q[i] << (8 * i);
    return v;
}

uint8_t sl_binrd_u8(struct sl_binrd *r)
{
    const uint8_t *q = sl_binrd_take(r, 1);
    return q ? q[0] : 0;
}

uint16_t sl_binrd_u16(struct sl_binrd *r)
{
    const uint8_t *q = sl_binrd_take(r, 2);
    return q ? (uint16_t)le(q, 2) : 0;
}

uint32_t sl_binrd_u32(struct sl_binrd *r)
{
    const uint8_t *q = sl_binrd_take(r, 4);
    return q ? (uint32_t)le(q, 4) : 0;
}

uint64_t sl_binrd_u64(struct sl_binrd *r)
{
    const uint8_t *q = sl_binrd_take(r, 8);
    return q ? le(q, 8) : 0;
}

int64_t sl_binrd_i64(struct sl_binrd *r)
{
    uint64_t u = sl_binrd_u64(r);
    int64_t v;
    memcpy(&v, &u, sizeof v);
    return v;
}

struct sl_str sl_binrd_str(struct sl_binrd *r, uint32_t max)
{
    uint32_t n = sl_binrd_u32(r);
    if (r->ok && n > max) {
        sl_binrd_fail(r, "a string longer than allowed");
        return sl_str_make("", 0);
    }
    const uint8_t *q = sl_binrd_take(r, n);
    return q ? sl_str_make((const char *)q, n) : sl_str_make("", 0);
}

uint32_t sl_binrd_count(struct sl_binrd *r, size_t min_each)
{
    uint32_t n = sl_binrd_u32(r);
    if (r->ok && (uint64_t)n * (min_each ? min_each : 1) > r->n - r->pos) {
        sl_binrd_fail(r, "a count larger than the input holds");
        return 0;
    }
    return r->ok ? n : 0;
}

static int put_le(struct sl_buf *b, uint64_t v, int n)
{
    uint8_t q[8];
    for (int i = 0; i < n; i++)
        q[i] = (uint8_t)(v >> (8 * i));
    return sl_buf_append(b, q, (size_t)n);
}

int sl_binwr_u8(struct sl_buf *b, uint8_t v)
{
    return put_le(b, v, 1);
}

int sl_binwr_u16(struct sl_buf *b, uint16_t v)
{
    return put_le(b, v, 2);
}

int sl_binwr_u32(struct sl_buf *b, uint32_t v)
{
    return put_le(b, v, 4);
}

int sl_binwr_u64(struct sl_buf *b, uint64_t v)
{
    return put_le(b, v, 8);
}

int sl_binwr_str(struct sl_buf *b, const void *p, size_t n)
{
    if (n > UINT32_MAX)
        return SL_E2BIG;
    int rc = sl_binwr_u32(b, (uint32_t)n);
    return rc || !n ? rc : sl_buf_append(b, p, n);
}
