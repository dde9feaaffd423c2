/*
 * thrift_compact.c — Thrift compact-protocol writer and reader (see thrift_compact.h).
 */
#include "codec/thrift_compact.h"

#include "base/log.h"

#include <stdarg.h>
#include <stdio.h>

void sl_tc_init(struct sl_tc *t, struct sl_buf *out)
{
    t->out = out;
    t->err = 0;
    t->depth = 0;
    t->last[0] = 0;
}

static void put(struct sl_tc *t, const void *p, size_t n)
{
    if (!t->err)
        t->err = sl_buf_append(t->out, p, n);
}

static void byte(struct sl_tc *t, uint8_t b)
{
    put(t, &b, 1);
}

void sl_tc_varint(struct sl_tc *t, uint64_t v)
{
    uint8_t tmp[10];
    size_t n = 0;
    while (v >= 0x80) {
        tmp[n++] = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    tmp[n++] = (uint8_t)v;
    put(t, tmp, n);
}

static void field(struct sl_tc *t, int16_t id, enum sl_tc_type type)
{
    int16_t last = t->last[t->depth];
    if (id > last && id - last <= 15) {
        byte(t, (uint8_t)(((id - last) << 4) | type));
    } else {
        byte(t, (uint8_t)type);
        sl_tc_varint(t, sl_tc_zigzag(id));
    }
    t->last[t->depth] = id;
}

void sl_tc_i32(struct sl_tc *t, int16_t id, int32_t v)
{
    field(t, id, SL_TC_I32);
    sl_tc_varint(t, sl_tc_zigzag(v));
}

void sl_tc_i64(struct sl_tc *t, int16_t id, int64_t v)
{
    field(t, id, SL_TC_I64);
    sl_tc_varint(t, sl_tc_zigzag(v));
}

void sl_tc_bool(struct sl_tc *t, int16_t id, bool v)
{
    field(t, id, v ? SL_TC_TRUE : SL_TC_FALSE);
}

void sl_tc_i8(struct sl_tc *t, int16_t id, int8_t v)
{
    field(t, id, SL_TC_BYTE);
    byte(t, (uint8_t)v);
}

void sl_tc_binary(struct sl_tc *t, int16_t id, const void *p, size_t n)
{
    field(t, id, SL_TC_BINARY);
    sl_tc_elem_binary(t, p, n);
}

static void push(struct sl_tc *t)
{
    sl_assert(t->depth + 1 < SL_TC_DEPTH);
    t->last[++t->depth] = 0;
}

void sl_tc_struct_begin(struct sl_tc *t, int16_t id)
{
    field(t, id, SL_TC_STRUCT);
    push(t);
}

void sl_tc_struct_end(struct sl_tc *t)
{
    byte(t, 0);
    sl_assert(t->depth > 0);
    t->depth--;
}

void sl_tc_list_begin(struct sl_tc *t, int16_t id, enum sl_tc_type elem, uint32_t count)
{
    field(t, id, SL_TC_LIST);
    if (count < 15) {
        byte(t, (uint8_t)((count << 4) | elem));
    } else {
        byte(t, (uint8_t)(0xF0 | elem));
        sl_tc_varint(t, count);
    }
}

void sl_tc_elem_i32(struct sl_tc *t, int32_t v)
{
    sl_tc_varint(t, sl_tc_zigzag(v));
}

void sl_tc_elem_binary(struct sl_tc *t, const void *p, size_t n)
{
    sl_tc_varint(t, n);
    if (n)
        put(t, p, n);
}

void sl_tc_elem_struct_begin(struct sl_tc *t)
{
    push(t);
}

int sl_tc_finish(struct sl_tc *t)
{
    byte(t, 0);
    return t->err;
}

/* ---------------------------------------------------------------- reader */

void sl_tcr_init(struct sl_tcr *r, const void *p, size_t len, uint64_t base, const char *what,
                 struct sl_diag *d)
{
    r->p = p;
    r->len = len;
    r->pos = 0;
    r->base = base;
    r->what = what ? what : "thrift";
    r->d = d;
    r->depth = 0;
}

const char *sl_tc_type_name(int type)
{
    static const char *const names[] = {"stop",   "bool",   "bool", "byte", "i16", "i32",   "i64",
                                        "double", "binary", "list", "set",  "map", "struct"};
    return type >= 0 && type <= SL_TC_STRUCT ? names[type] : "invalid type";
}

int sl_tcr_fail(struct sl_tcr *r, int err, uint64_t at, const char *fmt, ...)
{
    if (!r->d)
        return err;
    char msg[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    r->d->offset = (int64_t)at;
    return sl_diag_set(r->d, err, "%s: %s at byte %llu", r->what, msg, (unsigned long long)at);
}

static int need(struct sl_tcr *r, size_t n, const char *what)
{
    if (r->len - r->pos >= n)
        return 0;
    return sl_tcr_fail(r, SL_EPARSE, sl_tcr_offset(r), "truncated %s (%zu bytes needed, %zu left)",
                       what, n, r->len - r->pos);
}

int sl_tcr_varint(struct sl_tcr *r, uint64_t *v)
{
    uint64_t at = sl_tcr_offset(r), x = 0;
    for (unsigned shift = 0;; shift += 7) {
        if (r->pos >= r->len)
            return sl_tcr_fail(r, SL_EPARSE, at, "truncated varint");
        uint8_t b = r->p[r->pos++];
        if (shift == 63 && b > 1)
            return sl_tcr_fail(r, SL_EPARSE, at, "varint longer than 64 bits");
        x |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80))
            break;
        if (shift == 63)
            return sl_tcr_fail(r, SL_EPARSE, at, "varint longer than 64 bits");
    }
    *v = x;
    return 0;
}

int sl_tcr_i64(struct sl_tcr *r, int64_t *v)
{
    uint64_t u = 0;
    int rc = sl_tcr_varint(r, &u);
    if (rc)
        return rc;
    *v = (int64_t)(u >> 1) ^ -(int64_t)(u & 1);
    return 0;
}

int sl_tcr_i32(struct sl_tcr *r, int32_t *v)
{
    uint64_t at = sl_tcr_offset(r);
    int64_t x;
    int rc = sl_tcr_i64(r, &x);
    if (rc)
        return rc;
    if (x < INT32_MIN || x > INT32_MAX)
        return sl_tcr_fail(r, SL_EPARSE, at, "i32 value %lld out of range", (long long)x);
    *v = (int32_t)x;
    return 0;
}

int sl_tcr_binary(struct sl_tcr *r, const uint8_t **p, size_t *n)
{
    uint64_t at = sl_tcr_offset(r), len = 0;
    int rc = sl_tcr_varint(r, &len);
    if (rc)
        return rc;
    if (len > r->len - r->pos)
        return sl_tcr_fail(r, SL_EPARSE, at, "binary of %llu bytes exceeds the %zu bytes left",
                           (unsigned long long)len, r->len - r->pos);
    *p = r->p + r->pos;
    *n = (size_t)len;
    r->pos += (size_t)len;
    return 0;
}

static bool valid_type(unsigned t)
{
    return t >= SL_TC_TRUE && t <= SL_TC_STRUCT;
}

int sl_tcr_struct_begin(struct sl_tcr *r)
{
    if (r->depth >= SL_TCR_DEPTH)
        return sl_tcr_fail(r, SL_EDEPTH, sl_tcr_offset(r), "structs nested deeper than %d",
                           SL_TCR_DEPTH);
    r->depth++;
    return 0;
}

void sl_tcr_struct_end(struct sl_tcr *r)
{
    if (r->depth > 0)
        r->depth--;
}

int sl_tcr_field(struct sl_tcr *r, int16_t *last_id, int16_t *id, enum sl_tc_type *type)
{
    uint64_t at = sl_tcr_offset(r);
    int rc = need(r, 1, "field header");
    if (rc)
        return rc;
    uint8_t b = r->p[r->pos++];
    if (b == 0) {
        *type = 0;
        *id = 0;
        return 0;
    }
    unsigned t = b & 0x0f, delta = b >> 4;
    if (!valid_type(t))
        return sl_tcr_fail(r, SL_EPARSE, at, "invalid field type %u", t);
    if (delta) {
        int v = *last_id + (int)delta;
        if (v > INT16_MAX)
            return sl_tcr_fail(r, SL_EPARSE, at, "field id %d out of range", v);
        *id = (int16_t)v;
    } else {
        int64_t v;
        if ((rc = sl_tcr_i64(r, &v)) != 0)
            return rc;
        if (v < INT16_MIN || v > INT16_MAX)
            return sl_tcr_fail(r, SL_EPARSE, at, "field id %lld out of range", (long long)v);
        *id = (int16_t)v;
    }
    *last_id = *id;
    *type = (enum sl_tc_type)t;
    return 0;
}

int sl_tcr_list(struct sl_tcr *r, enum sl_tc_type *elem, uint32_t *count)
{
    uint64_t at = sl_tcr_offset(r);
    int rc = need(r, 1, "list header");
    if (rc)
        return rc;
    uint8_t b = r->p[r->pos++];
    unsigned t = b & 0x0f;
    uint64_t n = b >> 4;
    if (n == 15 && (rc = sl_tcr_varint(r, &n)) != 0)
        return rc;
    if (!valid_type(t))
        return sl_tcr_fail(r, SL_EPARSE, at, "invalid list element type %u", t);
    /* every element takes at least one byte */
    if (n > r->len - r->pos)
        return sl_tcr_fail(r, SL_EPARSE, at, "list of %llu elements exceeds the %zu bytes left",
                           (unsigned long long)n, r->len - r->pos);
    *elem = (enum sl_tc_type)t;
    *count = (uint32_t)n;
    return 0;
}

int sl_tcr_map(struct sl_tcr *r, enum sl_tc_type *key, enum sl_tc_type *val, uint32_t *count)
{
    uint64_t at = sl_tcr_offset(r), n = 0; /* sl_tcr_fail is never 0: gcc -O3 cannot tell */
    int rc = sl_tcr_varint(r, &n);
    if (rc)
        return rc;
    if (n == 0) {
        *key = *val = 0;
        *count = 0;
        return 0;
    }
    if ((rc = need(r, 1, "map types")) != 0)
        return rc;
    uint8_t b = r->p[r->pos++];
    if (!valid_type(b >> 4) || !valid_type(b & 0x0f))
        return sl_tcr_fail(r, SL_EPARSE, at, "invalid map types 0x%02x", b);
    if (n > (r->len - r->pos) / 2)
        return sl_tcr_fail(r, SL_EPARSE, at, "map of %llu pairs exceeds the %zu bytes left",
                           (unsigned long long)n, r->len - r->pos);
    *key = (enum sl_tc_type)(b >> 4);
    *val = (enum sl_tc_type)(b & 0x0f);
    *count = (uint32_t)n;
    return 0;
}

int sl_tcr_skip(struct sl_tcr *r, enum sl_tc_type type, bool in_list)
{
    uint64_t v;
    const uint8_t *p;
    size_t n;
    int rc;
    switch (type) {
    case SL_TC_TRUE:
    case SL_TC_FALSE:
        if (!in_list) /* a field's value lives in its type nibble */
            return 0;
        /* a list element is one byte */
        __attribute__((fallthrough));
    case SL_TC_BYTE:
        if ((rc = need(r, 1, "byte")) != 0)
            return rc;
        r->pos++;
        return 0;
    case SL_TC_DOUBLE:
        if ((rc = need(r, 8, "double")) != 0)
            return rc;
        r->pos += 8;
        return 0;
    case SL_TC_I16:
    case SL_TC_I32:
    case SL_TC_I64:
        return sl_tcr_varint(r, &v);
    case SL_TC_BINARY:
        return sl_tcr_binary(r, &p, &n);
    case SL_TC_LIST:
    case SL_TC_SET: {
        enum sl_tc_type et;
        uint32_t cnt;
        if ((rc = sl_tcr_list(r, &et, &cnt)) != 0)
            return rc;
        if ((rc = sl_tcr_struct_begin(r)) != 0) /* a level of nesting, like a struct */
            return rc;
        for (uint32_t i = 0; i < cnt && !rc; i++)
            rc = sl_tcr_skip(r, et, true);
        sl_tcr_struct_end(r);
        return rc;
    }
    case SL_TC_MAP: {
        enum sl_tc_type kt, vt;
        uint32_t cnt;
        if ((rc = sl_tcr_map(r, &kt, &vt, &cnt)) != 0)
            return rc;
        if ((rc = sl_tcr_struct_begin(r)) != 0)
            return rc;
        for (uint32_t i = 0; i < cnt && !rc; i++)
            if (!(rc = sl_tcr_skip(r, kt, true)))
                rc = sl_tcr_skip(r, vt, true);
        sl_tcr_struct_end(r);
        return rc;
    }
    case SL_TC_STRUCT: {
        if ((rc = sl_tcr_struct_begin(r)) != 0)
            return rc;
        int16_t last = 0, id;
        enum sl_tc_type ft;
        for (;;) {
            if ((rc = sl_tcr_field(r, &last, &id, &ft)) != 0 || ft == 0)
                break;
            if ((rc = sl_tcr_skip(r, ft, false)) != 0)
                break;
        }
        sl_tcr_struct_end(r);
        return rc;
    }
    }
    return sl_tcr_fail(r, SL_EPARSE, sl_tcr_offset(r), "invalid type %d", (int)type);
}
