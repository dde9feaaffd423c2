/*
 * buf.h — owned, growable, capped byte buffer (after curl's dynbuf).
 *
 * The buffer is always NUL-terminated when non-empty. Growth past `max_len` fails with
 * SL_E2BIG and leaves the contents as they were, so a hostile input cannot make it grow
 * without bound.
 */
#ifndef SL_BASE_BUF_H
#define SL_BASE_BUF_H

#include <stdarg.h>
#include <stddef.h>

struct sl_buf {
    char *ptr;
    size_t len;
    size_t cap;
    size_t max_len; /* private: cap on len */
};

void sl_buf_init(struct sl_buf *b, size_t max_len);
void sl_buf_fini(struct sl_buf *b);
void sl_buf_reset(struct sl_buf *b);
/* Make room for n more bytes. 0, SL_ENOMEM or SL_E2BIG. */
int sl_buf_reserve(struct sl_buf *b, size_t n);
int sl_buf_append(struct sl_buf *b, const void *p, size_t n);
int sl_buf_putc(struct sl_buf *b, char c);
int sl_buf_puts(struct sl_buf *b, const char *s);
int sl_buf_appendf(struct sl_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int sl_buf_vappendf(struct sl_buf *b, const char *fmt, va_list ap)
    __attribute__((format(printf, 2, 0)));
/* Drop the first n bytes (consumed input). */
void sl_buf_consume(struct sl_buf *b, size_t n);
/* Take ownership of the memory; the buffer is empty afterwards. Caller sl_free()s. */
char *sl_buf_steal(struct sl_buf *b, size_t *len);

#endif
