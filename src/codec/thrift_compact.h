/*
 * thrift_compact.h — a writer and a reader for Apache Thrift's compact protocol (the encoding
 * of Parquet's footer and page headers).
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
#include "base/err.h"

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

/* ---- reader
 *
 * DESIGN: schema-less and pull-style like the writer: the caller asks for the next field
 * header and decides per field id whether to read the value (sl_tcr_i64, sl_tcr_binary, a
 * list header...) or skip it (sl_tcr_skip, which walks any type: nested structs, lists, sets,
 * maps, booleans in the type nibble). Every read is bounds-checked against the input; element
 * counts are checked against the bytes left (every element takes at least one byte, a map
 * pair two), so a hostile count cannot make a loop run long; nesting is limited to
 * SL_TCR_DEPTH. Errors are SL_EPARSE (SL_EDEPTH for nesting) with a message naming `what`
 * and the absolute byte offset (`base` + position) in d, e.g.
 * "FileMetaData: truncated varint at byte 523". Not thread-safe per reader; no allocation.
 */
#define SL_TCR_DEPTH 32

struct sl_tcr {
    const uint8_t *p;
    size_t len;
    size_t pos;
    uint64_t base;    /* offset of p[0] in the file, for messages */
    const char *what; /* prefix of messages ("FileMetaData") */
    struct sl_diag *d;
    int depth;
};

/* Read from p[0..len) (not copied: must outlive the reader). d may be NULL. */
void sl_tcr_init(struct sl_tcr *r, const void *p, size_t len, uint64_t base, const char *what,
                 struct sl_diag *d);
/* Absolute offset of the next byte. */
static inline uint64_t sl_tcr_offset(const struct sl_tcr *r)
{
    return r->base + r->pos;
}
/* Enter / leave a struct (depth accounting; sl_tcr_field tracks field ids in *last_id, which
 * the caller keeps per struct, starting at 0). */
int sl_tcr_struct_begin(struct sl_tcr *r);
void sl_tcr_struct_end(struct sl_tcr *r);
/* The next field header of the current struct: *type 0 at the stop byte (end of struct),
 * else its id and type (SL_TC_TRUE/FALSE carry a boolean's value; *type is never 0 for a
 * field). 0 or SL_EPARSE. */
int sl_tcr_field(struct sl_tcr *r, int16_t *last_id, int16_t *id, enum sl_tc_type *type);
/* Integers (zigzag varints: i16, i32, i64). sl_tcr_i32 checks the range. */
int sl_tcr_i64(struct sl_tcr *r, int64_t *v);
int sl_tcr_i32(struct sl_tcr *r, int32_t *v);
/* An unsigned varint (lengths, sizes). */
int sl_tcr_varint(struct sl_tcr *r, uint64_t *v);
/* Binary / string: a view into the input. */
int sl_tcr_binary(struct sl_tcr *r, const uint8_t **p, size_t *n);
/* A list or set header: element type and count (checked against the bytes left). */
int sl_tcr_list(struct sl_tcr *r, enum sl_tc_type *elem, uint32_t *count);
/* A map header: key and value types and pair count (both 0 for an empty map). */
int sl_tcr_map(struct sl_tcr *r, enum sl_tc_type *key, enum sl_tc_type *val, uint32_t *count);
/* Skip one value of `type` (a field's value, or one list element: `in_list` makes a boolean
 * take its byte, as list elements do). 0, SL_EPARSE or SL_EDEPTH. */
int sl_tcr_skip(struct sl_tcr *r, enum sl_tc_type type, bool in_list);
/* Fail with "<what>: <message> at byte <offset>" (returns err). For callers' own checks. */
int sl_tcr_fail(struct sl_tcr *r, int err, uint64_t at, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* Name of a compact type ("i32", "struct"...). */
const char *sl_tc_type_name(int type);

#endif
