/*
 * thrift_compact.c — Thrift compact-protocol writer (see thrift_compact.h).
 */
#include "codec/thrift_compact.h"

#include "base/log.h"

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
