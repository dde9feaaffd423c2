/*
 * str.c — string view helpers and number parsing used by config and codecs.
 */
#include "base/str.h"

#include "base/err.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>

bool sl_str_starts_with(struct sl_str s, struct sl_str p)
{
    return s.len >= p.len && memcmp(s.ptr, p.ptr, p.len) == 0;
}

bool sl_str_ends_with(struct sl_str s, struct sl_str p)
{
    return s.len >= p.len && memcmp(s.ptr + s.len - p.len, p.ptr, p.len) == 0;
}

ptrdiff_t sl_str_find(struct sl_str s, char c, size_t from)
{
    if (from >= s.len)
        return -1;
    const char *p = memchr(s.ptr + from, c, s.len - from);
    return p ? p - s.ptr : -1;
}

struct sl_str sl_str_trim(struct sl_str s)
{
    while (s.len && isspace((unsigned char)s.ptr[0])) {
        s.ptr++;
        s.len--;
    }
    while (s.len && isspace((unsigned char)s.ptr[s.len - 1]))
        s.len--;
    return s;
}

size_t sl_str_copy(char *dst, size_t dst_len, struct sl_str s)
{
    if (!dst_len)
        return s.len;
    size_t n = s.len < dst_len - 1 ? s.len : dst_len - 1;
    if (n)
        memcpy(dst, s.ptr, n);
    dst[n] = 0;
    return s.len;
}

int sl_str_to_i64(struct sl_str s, int64_t *out)
{
    size_t i = 0;
    bool neg = false;
    if (!s.len)
        return SL_EINVAL;
    if (s.ptr[0] == '-' || s.ptr[0] == '+') {
        neg = s.ptr[0] == '-';
        i = 1;
    }
    if (i == s.len)
        return SL_EINVAL;
    uint64_t v = 0;
    uint64_t lim = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
    for (; i < s.len; i++) {
        unsigned d = (unsigned char)s.ptr[i] - '0';
        if (d > 9)
            return SL_EINVAL;
        if (v > (lim - d) / 10)
            return SL_ERANGE;
        v = v * 10 + d;
    }
    *out = neg ? (int64_t)(0 - v) : (int64_t)v;
    return 0;
}

int sl_str_to_double(struct sl_str s, double *out)
{
    char tmp[128];
    if (!s.len || s.len >= sizeof(tmp))
        return SL_EINVAL;
    memcpy(tmp, s.ptr, s.len);
    tmp[s.len] = 0;
    char *end;
    errno = 0;
    double d = strtod(tmp, &end);
    if (end != tmp + s.len || isspace((unsigned char)tmp[0]))
        return SL_EINVAL;
    if (errno == ERANGE && isinf(d))
        return SL_ERANGE;
    *out = d;
    return 0;
}

/* Split "123abc" into number and unit. */
static int split_unit(struct sl_str s, double *num, struct sl_str *unit)
{
    s = sl_str_trim(s);
    size_t i = 0;
    while (i < s.len && (isdigit((unsigned char)s.ptr[i]) || s.ptr[i] == '.'))
        i++;
    if (i == 0)
        return SL_EINVAL;
    int rc = sl_str_to_double(sl_str_make(s.ptr, i), num);
    if (rc)
        return rc;
    *unit = sl_str_trim(sl_str_make(s.ptr + i, s.len - i));
    return 0;
}

int sl_str_to_duration_ns(struct sl_str s, int64_t *out)
{
    double n;
    struct sl_str u;
    int rc = split_unit(s, &n, &u);
    if (rc)
        return rc;
    double mul;
    if (!u.len || sl_str_eq_c(u, "s"))
        mul = 1e9;
    else if (sl_str_eq_c(u, "ns"))
        mul = 1;
    else if (sl_str_eq_c(u, "us"))
        mul = 1e3;
    else if (sl_str_eq_c(u, "ms"))
        mul = 1e6;
    else if (sl_str_eq_c(u, "m") || sl_str_eq_c(u, "min"))
        mul = 60e9;
    else if (sl_str_eq_c(u, "h"))
        mul = 3600e9;
    else if (sl_str_eq_c(u, "d"))
        mul = 86400e9;
    else
        return SL_EINVAL;
    double v = n * mul;
    if (v > 9.2e18)
        return SL_ERANGE;
    *out = (int64_t)v;
    return 0;
}

int sl_str_to_size(struct sl_str s, uint64_t *out)
{
    double n;
    struct sl_str u;
    int rc = split_unit(s, &n, &u);
    if (rc)
        return rc;
    double mul;
    if (!u.len || sl_str_eq_c(u, "B") || sl_str_eq_c(u, "b"))
        mul = 1;
    else if (sl_str_eq_c(u, "k") || sl_str_eq_c(u, "K") || sl_str_eq_c(u, "KiB") ||
             sl_str_eq_c(u, "KB") || sl_str_eq_c(u, "kB"))
        mul = 1024;
    else if (sl_str_eq_c(u, "m") || sl_str_eq_c(u, "M") || sl_str_eq_c(u, "MiB") ||
             sl_str_eq_c(u, "MB"))
        mul = 1024.0 * 1024;
    else if (sl_str_eq_c(u, "g") || sl_str_eq_c(u, "G") || sl_str_eq_c(u, "GiB") ||
             sl_str_eq_c(u, "GB"))
        mul = 1024.0 * 1024 * 1024;
    else
        return SL_EINVAL;
    double v = n * mul;
    if (v > 1.8e19)
        return SL_ERANGE;
    *out = (uint64_t)v;
    return 0;
}
