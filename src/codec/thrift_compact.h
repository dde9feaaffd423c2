/*
 * thrift_compact.h — a writer for Apache Thrift's compact protocol (the encoding of Parquet's
 * footer and page headers).
 *
 * DESIGN: write-only and schema-less: the caller names field ids and types as it goes, as the
 * generated code of a Thrift compiler would. Output goes to a capped sl_buf; the first error
 * (SL_ENOMEM / SL_E2BIG) sticks in `err` and later calls do nothing, so a caller writes a
 * whole structure and checks once. Struct nesting keeps the last field id per level (field
 * headers are deltas) up to SL_TC_DEPTH levels.
 *
 * Encoding (Thrift's compact protocol spec): a field header is one byte (delta << 4 | type)
 * when the id grows by 1..15, else the type byte and the id as a zigzag varint; booleans live
 * in the type nibble; integers are zigzag varints; binary is a varint length and bytes; a list
 * header is (size << 4 | elem type) below 15 elements, else 0xF0 | type and a varint size; a
 * struct ends with a 0 byte.
 */
#ifndef SL_CODEC_THRIFT_COMPACT_H
#define SL_CODEC_THRIFT_COMPACT_H

#include "base/buf.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum sl_tc_type {
    SL_TC_TRUE = 1,
    SL_TC_FALSE = 2,
    SL_TC_BYTE = 3,
    SL_TC_I16 = 4,
    SL_TC_I32 = 5,
    SL_TC_I64 = 6,
    SL_TC_DOUBLE = 7,
    SL_TC_BINARY = 8,
    SL_TC_LIST = 9,
    SL_TC_SET = 10,
    SL_TC_MAP = 11,
    SL_TC_STRUCT = 12,
};

#define SL_TC_DEPTH 16

struct sl_tc {
    struct sl_buf *out;
    int err;
    int depth;
    int16_t last[SL_TC_DEPTH];
};

void sl_tc_init(struct sl_tc *t, struct sl_buf *out);
/* Fields of the current struct. */
void sl_tc_i32(struct sl_tc *t, int16_t id, int32_t v);
void sl_tc_i64(struct sl_tc *t, int16_t id, int64_t v);
void sl_tc_bool(struct sl_tc *t, int16_t id, bool v);
/* An i8 field (compact protocol: one raw byte). */
void sl_tc_i8(struct sl_tc *t, int16_t id, int8_t v);
void sl_tc_binary(struct sl_tc *t, int16_t id, const void *p, size_t n);
static inline void sl_tc_string(struct sl_tc *t, int16_t id, const char *s, size_t n)
{
    sl_tc_binary(t, id, s, n);
}
/* A struct field: sl_tc_struct_begin(id) ... fields ... sl_tc_struct_end(). */
void sl_tc_struct_begin(struct sl_tc *t, int16_t id);
void sl_tc_struct_end(struct sl_tc *t);
/* A list field header; then `count` elements: sl_tc_elem_* or, for structs,
 * sl_tc_elem_struct_begin() ... sl_tc_struct_end(). */
void sl_tc_list_begin(struct sl_tc *t, int16_t id, enum sl_tc_type elem, uint32_t count);
void sl_tc_elem_i32(struct sl_tc *t, int32_t v);
void sl_tc_elem_binary(struct sl_tc *t, const void *p, size_t n);
void sl_tc_elem_struct_begin(struct sl_tc *t);
/* End of the top-level struct (the stop byte). Returns t->err. */
int sl_tc_finish(struct sl_tc *t);

/* Low level, for tests: an unsigned LEB128 varint and zigzag. */
void sl_tc_varint(struct sl_tc *t, uint64_t v);
static inline uint64_t sl_tc_zigzag(int64_t v)
{
    return ((uint64_t)v << 1) ^ (uint64_t)(v >> 63);
}

#endif
