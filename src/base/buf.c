/*
 * buf.c — capped growable buffer (see buf.h).
 */
#include "base/buf.h"

#include "base/alloc.h"
#include "base/err.h"

#include <stdio.h>
#include <string.h>

void sl_buf_init(struct sl_buf *b, size_t max_len)
{
    b->ptr = NULL;
    b->len = b->cap = 0;
    b->max_len = max_len ? max_len : (size_t)1 << 40;
}

void sl_buf_fini(struct sl_buf *b)
{
    sl_free(b->ptr);
    b->ptr = NULL;
    b->len = b->cap = 0;
}

void sl_buf_reset(struct sl_buf *b)
{
    b->len = 0;
    if (b->ptr)
        b->ptr[0] = 0;
}

int sl_buf_reserve(struct sl_buf *b, size_t n)
{
    if (n > b->max_len || b->len > b->max_len - n)
        return SL_E2BIG;
    size_t need = b->len + n + 1;
    if (need <= b->cap)
        return 0;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < need)
        cap *= 2;
    if (cap > b->max_len + 1)
        cap = b->max_len + 1;
    char *p = sl_realloc(b->ptr, cap);
    if (!p)
        return SL_ENOMEM;
    b->ptr = p;
    b->cap = cap;
    return 0;
}

int sl_buf_append(struct sl_buf *b, const void *p, size_t n)
{
    int rc = sl_buf_reserve(b, n);
    if (rc)
        return rc;
    if (n)
        memcpy(b->ptr + b->len, p, n);
    b->len += n;
    b->ptr[b->len] = 0;
    return 0;
}

int sl_buf_putc(struct sl_buf *b, char c)
{
    if (b->len + 1 < b->cap) {
        b->ptr[b->len++] = c;
        b->ptr[b->len] = 0;
        return 0;
    }
    return sl_buf_append(b, &c, 1);
}

int sl_buf_puts(struct sl_buf *b, const char *s)
{
    return sl_buf_append(b, s, strlen(s));
}

int sl_buf_vappendf(struct sl_buf *b, const char *fmt, va_list ap)
{
    va_list ap2;
    va_copy(ap2, ap);
    char tmp[256];
    int n = vsnprintf(tmp, sizeof(tmp), fmt, ap2);
    va_end(ap2);
    if (n < 0)
        return SL_EINVAL;
    if ((size_t)n < sizeof(tmp))
        return sl_buf_append(b, tmp, (size_t)n);
    int rc = sl_buf_reserve(b, (size_t)n);
    if (rc)
        return rc;
    vsnprintf(b->ptr + b->len, (size_t)n + 1, fmt, ap);
    b->len += (size_t)n;
    return 0;
}

int sl_buf_appendf(struct sl_buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int rc = sl_buf_vappendf(b, fmt, ap);
    va_end(ap);
    return rc;
}

void sl_buf_consume(struct sl_buf *b, size_t n)
{
    if (n >= b->len) {
        sl_buf_reset(b);
        return;
    }
    memmove(b->ptr, b->ptr + n, b->len - n);
    b->len -= n;
    b->ptr[b->len] = 0;
}

char *sl_buf_steal(struct sl_buf *b, size_t *len)
{
    char *p = b->ptr;
    if (len)
        *len = b->len;
    b->ptr = NULL;
    b->len = b->cap = 0;
    return p;
}
