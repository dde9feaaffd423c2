/*
 * binrd.h — a bounded little-endian reader and the matching writer, for binary forms read
 * from untrusted input (checkpoints on a changelog topic: state/statecodec.c, sql/sql_state.c).
 *
 * DESIGN: a reader that fails keeps failing: every later read returns zeros (or NULL, an empty
 * string), `ok` is false and `why` holds the first reason, so a decoder checks once after a
 * group of reads instead of after each. Lengths and counts are checked against what is left
 * of the input before the caller allocates anything for them. Writers append to a capped
 * sl_buf and return its error (SL_ENOMEM, SL_E2BIG). Pure functions, any thread.
 */
#ifndef SL_BASE_BINRD_H
#define SL_BASE_BINRD_H

#include "base/buf.h"
#include "base/str.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct sl_binrd {
    const uint8_t *p;
    size_t n, pos;
    bool ok;
    const char *why; /* the first failure */
};

void sl_binrd_init(struct sl_binrd *r, const void *p, size_t n);
void sl_binrd_fail(struct sl_binrd *r, const char *why);
/* The next n bytes (NULL and !ok when fewer are left: "truncated"). */
const uint8_t *sl_binrd_take(struct sl_binrd *r, size_t n);
uint8_t sl_binrd_u8(struct sl_binrd *r);
uint16_t sl_binrd_u16(struct sl_binrd *r);
uint32_t sl_binrd_u32(struct sl_binrd *r);
uint64_t sl_binrd_u64(struct sl_binrd *r);
int64_t sl_binrd_i64(struct sl_binrd *r);
/* A u32 length, at most max, then the bytes: a view into the input. */
struct sl_str sl_binrd_str(struct sl_binrd *r, uint32_t max);
/* A u32 count of elements that each take at least min_each bytes of what is left. */
uint32_t sl_binrd_count(struct sl_binrd *r, size_t min_each);

int sl_binwr_u8(struct sl_buf *b, uint8_t v);
int sl_binwr_u16(struct sl_buf *b, uint16_t v);
int sl_binwr_u32(struct sl_buf *b, uint32_t v);
int sl_binwr_u64(struct sl_buf *b, uint64_t v);
/* A u32 length then the bytes (SL_E2BIG past 4 GiB). */
int sl_binwr_str(struct sl_buf *b, const void *p, size_t n);

#endif
