/*
 * str.h — string views. A view does not own its bytes and is not NUL-terminated.
 */
#ifndef SL_BASE_STR_H
#define SL_BASE_STR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

struct sl_str {
    const char *ptr;
    size_t len;
};

#define SL_STR(lit)   ((struct sl_str){(lit), sizeof(lit) - 1})
#define SL_STR_FMT    "%.*s"
#define SL_STR_ARG(s) (int)(s).len, (s).ptr

static inline struct sl_str sl_str_make(const char *p, size_t n)
{
    return (struct sl_str){p, n};
}

static inline struct sl_str sl_str_c(const char *cstr)
{
    return (struct sl_str){cstr, cstr ? strlen(cstr) : 0};
}

static inline bool sl_str_eq(struct sl_str a, struct sl_str b)
{
    return a.len == b.len && (a.len == 0 || memcmp(a.ptr, b.ptr, a.len) == 0);
}

static inline bool sl_str_eq_c(struct sl_str a, const char *c)
{
    return sl_str_eq(a, sl_str_c(c));
}

bool sl_str_starts_with(struct sl_str s, struct sl_str prefix);
bool sl_str_ends_with(struct sl_str s, struct sl_str suffix);
/* Index of the first c at or after `from`, or -1. */
ptrdiff_t sl_str_find(struct sl_str s, char c, size_t from);
struct sl_str sl_str_trim(struct sl_str s);
/* Parse a whole view as a signed decimal integer. 0 or SL_EINVAL / SL_ERANGE. */
int sl_str_to_i64(struct sl_str s, int64_t *out);
int sl_str_to_double(struct sl_str s, double *out);
/* Copy into dst (always NUL-terminated, truncating). Returns the view's length. */
size_t sl_str_copy(char *dst, size_t dst_len, struct sl_str s);
/* Durations: "250ms", "10s", "5m", "2h", "1d", plain number = seconds. */
int sl_str_to_duration_ns(struct sl_str s, int64_t *out);
/* Sizes: "512", "64KiB", "10MB", "1GiB", "1k", "1m". */
int sl_str_to_size(struct sl_str s, uint64_t *out);

#endif
