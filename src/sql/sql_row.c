/*
 * sql_row.c — rows kept in SQL state: one heap block per row, and canonical key bytes.
 *
 * DESIGN: a row kept by a table, a join buffer or a window is copied into a single block (the
 * slots, then every string, list and map they reach), so it is freed with one sl_free and its
 * size is known exactly for the byte accounting. Key bytes are a type tag followed by the
 * value's canonical form (integers as 8 bytes, doubles by value, strings as length + bytes);
 * INT 1 and BIGINT 1 encode alike, DOUBLE 1.0 does not (ksqlDB's keys are typed too).
 */
#include "sql/sql_int.h"

#include "base/alloc.h"

#include <string.h>

/* lists and maps inside the block must stay aligned: every string is padded to 8 bytes */
static size_t round8(size_t n)
{
    return (n + 7u) & ~(size_t)7u;
}

static size_t value_extra8(const struct sl_value *v)
{
    size_t n = 0;
    switch (v->type) {
    case SL_V_STRING:
    case SL_V_BYTES:
        return round8(v->len);
    case SL_V_LIST:
        n = (size_t)v->len * sizeof(struct sl_value);
        for (uint32_t i = 0; i < v->len; i++)
            n += value_extra8(&v->u.list[i]);
        return n;
    case SL_V_MAP:
        n = (size_t)v->len * sizeof(struct sl_kv);
        for (uint32_t i = 0; i < v->len; i++)
            n += round8(v->u.map[i].key.len) + value_extra8(&v->u.map[i].val);
        return n;
    default:
        return 0;
    }
}

static void value_place8(struct sl_value *dst, const struct sl_value *src, char **p)
{
    *dst = *src;
    switch (src->type) {
    case SL_V_STRING:
    case SL_V_BYTES:
        if (src->len)
            memcpy(*p, src->u.s, src->len);
        dst->u.s = *p;
        *p += round8(src->len);
        break;
    case SL_V_LIST: {
        struct sl_value *l = (struct sl_value *)(void *)*p;
        *p += (size_t)src->len * sizeof(*l);
        for (uint32_t i = 0; i < src->len; i++)
            value_place8(&l[i], &src->u.list[i], p);
        dst->u.list = l;
        break;
    }
    case SL_V_MAP: {
        struct sl_kv *m = (struct sl_kv *)(void *)*p;
        *p += (size_t)src->len * sizeof(*m);
        for (uint32_t i = 0; i < src->len; i++) {
            memcpy(*p, src->u.map[i].key.ptr, src->u.map[i].key.len);
            m[i].key = sl_str_make(*p, src->u.map[i].key.len);
            *p += round8(src->u.map[i].key.len);
            value_place8(&m[i].val, &src->u.map[i].val, p);
        }
        dst->u.map = m;
        break;
    }
    default:
        break;
    }
}

size_t sq_values_extra(const struct sl_value *v, uint32_t n)
{
    size_t extra = 0;
    for (uint32_t i = 0; i < n; i++)
        extra += value_extra8(&v[i]);
    return extra;
}

void sq_values_place(struct sl_value *dst, const struct sl_value *src, uint32_t n, char **p)
{
    for (uint32_t i = 0; i < n; i++)
        value_place8(&dst[i], &src[i], p);
}

struct sq_srow *sq_srow_new(const struct sl_value *v, uint32_t n, int64_t ts, uint64_t seq)
{
    size_t extra = 0;
    for (uint32_t i = 0; i < n; i++)
        extra += value_extra8(&v[i]);
    size_t head = sizeof(struct sq_srow) + (size_t)n * sizeof(struct sl_value);
    struct sq_srow *r = sl_xmalloc(head + extra);
    r->ts = ts;
    r->seq = seq;
    r->n = n;
    r->matched = 0;
    r->bytes = head + extra;
    char *p = (char *)r + head;
    for (uint32_t i = 0; i < n; i++)
        value_place8(&r->v[i], &v[i], &p);
    return r;
}

int sq_value_dup(const struct sl_value *v, struct sl_value *out)
{
    size_t extra = value_extra8(v);
    if (!extra) {
        *out = *v;
        if (v->type == SL_V_STRING || v->type == SL_V_BYTES)
            out->u.s = "";
        return 0;
    }
    char *blk = sl_xmalloc(extra);
    char *p = blk;
    value_place8(out, v, &p);
    return 0;
}

void sq_value_free(struct sl_value *v)
{
    switch (v->type) {
    case SL_V_STRING:
    case SL_V_BYTES:
        if (v->len)
            sl_free((void *)v->u.s);
        break;
    case SL_V_LIST:
        if (v->len)
            sl_free(v->u.list);
        break;
    case SL_V_MAP:
        if (v->len)
            sl_free(v->u.map);
        break;
    default:
        break;
    }
    *v = sl_value_null();
}

static int key_one(struct sl_buf *b, const struct sl_value *v)
{
    int rc = 0;
    switch (v->type) {
    case SL_V_NULL:
        return sl_buf_putc(b, 'n');
    case SL_V_BOOL:
        rc = sl_buf_putc(b, 'b');
        return rc ? rc : sl_buf_putc(b, v->u.b ? '1' : '0');
    case SL_V_INT:
    case SL_V_TS:
        rc = sl_buf_putc(b, 'i');
        return rc ? rc : sl_buf_append(b, &v->u.i, sizeof v->u.i);
    case SL_V_DOUBLE: {
        double d = v->u.d == 0 ? 0.0 : v->u.d; /* -0.0 and 0.0 alike */
        rc = sl_buf_putc(b, 'd');
        return rc ? rc : sl_buf_append(b, &d, sizeof d);
    }
    case SL_V_STRING:
    case SL_V_BYTES: {
        uint32_t n = v->len;
        rc = sl_buf_putc(b, 's');
        if (!rc)
            rc = sl_buf_append(b, &n, sizeof n);
        return rc ? rc : sl_buf_append(b, v->u.s, v->len);
    }
    case SL_V_LIST: {
        uint32_t n = v->len;
        rc = sl_buf_putc(b, 'l');
        if (!rc)
            rc = sl_buf_append(b, &n, sizeof n);
        for (uint32_t i = 0; i < v->len && !rc; i++)
            rc = key_one(b, &v->u.list[i]);
        return rc;
    }
    case SL_V_MAP: {
        uint32_t n = v->len;
        rc = sl_buf_putc(b, 'm');
        if (!rc)
            rc = sl_buf_append(b, &n, sizeof n);
        for (uint32_t i = 0; i < v->len && !rc; i++) {
            uint32_t kl = (uint32_t)v->u.map[i].key.len;
            rc = sl_buf_append(b, &kl, sizeof kl);
            if (!rc)
                rc = sl_buf_append(b, v->u.map[i].key.ptr, kl);
            if (!rc)
                rc = key_one(b, &v->u.map[i].val);
        }
        return rc;
    }
    default:
        rc = sl_buf_putc(b, 'o');
        return rc ? rc : sl_buf_append(b, &v->u, sizeof v->u);
    }
}

int sq_key_encode(struct sl_buf *b, const struct sl_value *v, uint32_t n)
{
    int rc = 0;
    for (uint32_t i = 0; i < n && !rc; i++)
        rc = key_one(b, &v[i]);
    return rc;
}
