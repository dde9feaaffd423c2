/*
 * err.c — error names and diagnostics.
 */
#include "base/err.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

const char *sl_strerror(int err)
{
    switch (err) {
    case SL_OK:
        return "ok";
#define SL_ERR_CASE(name, msg)                                                                     \
    case SL_##name:                                                                                \
        return msg;
        SL_ERRORS(SL_ERR_CASE)
#undef SL_ERR_CASE
    default:
        break;
    }
    if (err < 0 && err > SL_E__FIRST)
        return strerror(-err);
    return "unknown error";
}

void sl_diag_init(struct sl_diag *d)
{
    memset(d, 0, sizeof(*d));
    d->offset = -1;
}

int sl_diag_set(struct sl_diag *d, int err, const char *fmt, ...)
{
    if (d) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(d->msg, sizeof(d->msg), fmt, ap);
        va_end(ap);
    }
    return err;
}

void sl_diag_hint(struct sl_diag *d, const char *fmt, ...)
{
    if (!d)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(d->hint, sizeof(d->hint), fmt, ap);
    va_end(ap);
}

void sl_diag_format(const struct sl_diag *d, char *out, size_t out_len)
{
    size_t n = 0;
    out[0] = 0;
    if (d->file[0]) {
        if (d->line)
            n = (size_t)snprintf(out, out_len, "%s:%u:%u: ", d->file, d->line, d->col);
        else
            n = (size_t)snprintf(out, out_len, "%s: ", d->file);
    } else if (d->line) {
        n = (size_t)snprintf(out, out_len, "line %u col %u: ", d->line, d->col);
    }
    if (n >= out_len)
        return;
    if (d->offset >= 0 && !d->line)
        n += (size_t)snprintf(out + n, out_len - n, "at byte %lld: ", (long long)d->offset);
    if (n >= out_len)
        return;
    n += (size_t)snprintf(out + n, out_len - n, "%s", d->msg);
    if (n < out_len && d->hint[0])
        snprintf(out + n, out_len - n, " (hint: %s)", d->hint);
}
