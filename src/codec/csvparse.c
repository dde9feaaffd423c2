/*
 * csvparse.c — RFC 4180 record splitting (csvparse.h).
 *
 * DESIGN: unquoted fields are found with memchr for the delimiter (the common case, and
 * glibc's memchr is vectorised); only quoted fields go byte by byte, and only those with a
 * doubled quote are copied.
 */
#include "codec/csvparse.h"

#include <string.h>

int sl_csvparse(char delim, char quote, const char *p, size_t n, struct sl_arena *a,
                sl_csvparse_fn fn, void *ud, struct sl_diag *d)
{
    if (n && p[n - 1] == '\n')
        n--;
    if (n && p[n - 1] == '\r')
        n--;
    size_t i = 0;
    uint32_t idx = 0;
    for (;;) {
        if (idx >= SL_CSVPARSE_MAX_FIELDS)
            return sl_diag_set(d, SL_E2BIG, "more than %u CSV fields", SL_CSVPARSE_MAX_FIELDS);
        struct sl_str f;
        if (i < n && p[i] == quote) {
            size_t open = i++, start = i;
            size_t doubled = 0;
            for (;;) {
                if (i >= n) {
                    d->offset = (int64_t)open;
                    return sl_diag_set(d, SL_EPARSE,
                                       "CSV field %u: the quote at byte %zu is not closed", idx + 1,
                                       open);
                }
                if (p[i] == quote) {
                    if (i + 1 < n && p[i + 1] == quote) {
                        doubled++;
                        i += 2;
                        continue;
                    }
                    break;
                }
                i++;
            }
            size_t end = i++; /* closing quote */
            if (i < n && p[i] != delim) {
                d->offset = (int64_t)i;
                return sl_diag_set(d, SL_EPARSE,
                                   "CSV field %u: text after the closing quote at byte %zu",
                                   idx + 1, i);
            }
            if (doubled) {
                char *o = sl_arena_alloc_bytes(a, end - start);
                if (!o)
                    return SL_ENOMEM;
                size_t j = 0;
                for (size_t k = start; k < end; k++) {
                    o[j++] = p[k];
                    if (p[k] == quote)
                        k++;
                }
                f = sl_str_make(o, j);
            } else {
                f = sl_str_make(p + start, end - start);
            }
        } else {
            const char *e = i < n ? memchr(p + i, delim, n - i) : NULL;
            size_t end = e ? (size_t)(e - p) : n;
            f = sl_str_make(p + i, end - i);
            i = end;
        }
        int rc = fn(ud, idx++, f);
        if (rc)
            return rc;
        if (i >= n)
            break;
        i++; /* delimiter */
        if (i == n) {
            /* a trailing delimiter: one more, empty, field */
            if ((rc = fn(ud, idx++, sl_str_make(p + n, 0))))
                return rc;
            break;
        }
    }
    return (int)idx;
}
