/*
 * sval.c — Stellar's view of sluice values (see sval.h).
 *
 * DESIGN: everything here is what a JVM would do with the boxed value, written out:
 * Double.toString's two notations, beanutils' Boolean conversion, Java's numeric promotion in
 * equality and ordering. No allocation except into the caller's buffer.
 */
#include "lang/sval.h"

#include "base/err.h"
#include "base/hash.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

double sl_sv_as_double(const struct sl_value *v)
{
    if (v->type == SL_V_INT)
        return (double)v->u.i;
    if (v->type == SL_V_DOUBLE)
        return v->u.d;
    if (v->type == SL_V_BOOL)
        return v->u.b ? 1.0 : 0.0;
    return 0.0;
}

int64_t sl_sv_as_long(const struct sl_value *v)
{
    if (v->type == SL_V_INT)
        return v->u.i;
    if (v->type == SL_V_DOUBLE) {
        double d = v->u.d;
        if (isnan(d))
            return 0;
        if (d >= 9223372036854775807.0)
            return INT64_MAX;
        if (d <= -9223372036854775808.0)
            return INT64_MIN;
        return (int64_t)d;
    }
    return 0;
}

static bool str_ieq(const char *p, size_t n, const char *lit)
{
    size_t m = strlen(lit);
    if (n != m)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = p[i];
        if (c >= 'A' && c <= 'Z')
            c = (char)(c - 'A' + 'a');
        if (c != lit[i])
            return false;
    }
    return true;
}

int sl_sv_to_bool(const struct sl_value *v)
{
    switch ((enum sl_vtype)v->type) {
    case SL_V_BOOL:
        return v->u.b ? 1 : 0;
    case SL_V_STRING: {
        static const char *const yes[] = {"true", "yes", "y", "on", "1"};
        static const char *const no[] = {"false", "no", "n", "off", "0"};
        for (size_t i = 0; i < 5; i++) {
            if (str_ieq(v->u.s, v->len, yes[i]))
                return 1;
            if (str_ieq(v->u.s, v->len, no[i]))
                return 0;
        }
        return -1;
    }
    case SL_V_INT:
        return v->u.i == 1 ? 1 : v->u.i == 0 ? 0 : -1;
    case SL_V_DOUBLE:
        return v->u.d == 1.0 ? 1 : v->u.d == 0.0 ? 0 : -1;
    default:
        return -1;
    }
}

bool sl_sv_truthy(const struct sl_value *v)
{
    switch ((enum sl_vtype)v->type) {
    case SL_V_NULL:
        return false;
    case SL_V_BOOL:
        return v->u.b;
    case SL_V_LIST:
    case SL_V_MAP:
        return v->len > 0;
    default:
        return sl_sv_to_bool(v) == 1;
    }
}

/* Promoted numeric comparison: -1/0/1, 2 when unordered (NaN). */
static int num_cmp(const struct sl_value *a, const struct sl_value *b)
{
    enum sl_jnum ka = sl_sv_jnum(a), kb = sl_sv_jnum(b);
    enum sl_jnum k = ka > kb ? ka : kb;
    if (k <= SL_JN_LONG) {
        int64_t x = a->u.i, y = b->u.i;
        return x < y ? -1 : x > y ? 1 : 0;
    }
    if (k == SL_JN_FLOAT) {
        float x = (float)sl_sv_as_double(a), y = (float)sl_sv_as_double(b);
        if (isnan(x) || isnan(y))
            return 2;
        return x < y ? -1 : x > y ? 1 : 0;
    }
    double x = sl_sv_as_double(a), y = sl_sv_as_double(b);
    if (isnan(x) || isnan(y))
        return 2;
    return x < y ? -1 : x > y ? 1 : 0;
}

static int str_cmp(const struct sl_value *a, const struct sl_value *b)
{
    size_t n = a->len < b->len ? a->len : b->len;
    int c = n ? memcmp(a->u.s, b->u.s, n) : 0;
    if (c)
        return c < 0 ? -1 : 1;
    return a->len < b->len ? -1 : a->len > b->len ? 1 : 0;
}

bool sl_sv_equal(const struct sl_value *a, const struct sl_value *b)
{
    if (sl_sv_is_num(a) && sl_sv_is_num(b))
        return num_cmp(a, b) == 0;
    if (a->type != b->type) {
        /* bytes and strings compare by content */
        if ((a->type == SL_V_STRING || a->type == SL_V_BYTES) &&
            (b->type == SL_V_STRING || b->type == SL_V_BYTES))
            return str_cmp(a, b) == 0;
        return false;
    }
    switch ((enum sl_vtype)a->type) {
    case SL_V_NULL:
        return true;
    case SL_V_BOOL:
        return a->u.b == b->u.b;
    case SL_V_STRING:
    case SL_V_BYTES:
        return str_cmp(a, b) == 0;
    case SL_V_TS:
        return a->u.ts_ns == b->u.ts_ns;
    case SL_V_IP:
        return a->flags == b->flags && memcmp(a->u.ip, b->u.ip, 16) == 0;
    case SL_V_LIST:
        if (a->len != b->len)
            return false;
        if ((a->flags & SL_VF_SET) && (b->flags & SL_VF_SET)) {
            for (uint32_t i = 0; i < a->len; i++) {
                bool found = false;
                for (uint32_t j = 0; j < b->len && !found; j++)
                    found = sl_sv_equal(&a->u.list[i], &b->u.list[j]);
                if (!found)
                    return false;
            }
            return true;
        }
        for (uint32_t i = 0; i < a->len; i++)
            if (!sl_sv_equal(&a->u.list[i], &b->u.list[i]))
                return false;
        return true;
    case SL_V_MAP:
        if (a->len != b->len)
            return false;
        for (uint32_t i = 0; i < a->len; i++) {
            const struct sl_value *o = sl_value_map_get(b, a->u.map[i].key);
            if (!o || !sl_sv_equal(&a->u.map[i].val, o))
                return false;
        }
        return true;
    case SL_V_OBJECT:
        return a->u.obj == b->u.obj;
    default:
        return false;
    }
}

int sl_sv_compare(const struct sl_value *a, const struct sl_value *b, int *cmp)
{
    if (sl_sv_is_num(a) && sl_sv_is_num(b)) {
        *cmp = num_cmp(a, b);
        return 0;
    }
    if ((a->type == SL_V_STRING || a->type == SL_V_BYTES) && a->type == b->type) {
        *cmp = str_cmp(a, b);
        return 0;
    }
    if (a->type == SL_V_BOOL && b->type == SL_V_BOOL) {
        *cmp = a->u.b == b->u.b ? 0 : a->u.b ? 1 : -1;
        return 0;
    }
    if (a->type == SL_V_TS && b->type == SL_V_TS) {
        *cmp = a->u.ts_ns < b->u.ts_ns ? -1 : a->u.ts_ns > b->u.ts_ns;
        return 0;
    }
    return SL_ETYPE;
}

uint64_t sl_sv_hash(const struct sl_value *v)
{
    switch ((enum sl_vtype)v->type) {
    case SL_V_INT:
    case SL_V_DOUBLE: {
        double d = sl_sv_as_double(v);
        if (d == 0.0)
            d = 0.0; /* -0.0 equals 0 */
        return sl_hash64_seed(&d, sizeof d, 0x11);
    }
    case SL_V_STRING:
    case SL_V_BYTES:
        return sl_hash64_seed(v->u.s, v->len, 0x22);
    case SL_V_BOOL:
        return v->u.b ? 0x9e3779b97f4a7c15ull : 0x7f4a7c159e3779b9ull;
    case SL_V_LIST: {
        uint64_t h = 0x33;
        for (uint32_t i = 0; i < v->len; i++)
            h = h * 31 + sl_sv_hash(&v->u.list[i]);
        return h;
    }
    case SL_V_MAP: {
        uint64_t h = 0x44; /* order-insensitive */
        for (uint32_t i = 0; i < v->len; i++)
            h += sl_hash64_seed(v->u.map[i].key.ptr, v->u.map[i].key.len, 0x55) ^
                 sl_sv_hash(&v->u.map[i].val);
        return h;
    }
    case SL_V_OBJECT:
        return (uint64_t)(uintptr_t)v->u.obj * 0x9e3779b97f4a7c15ull;
    default:
        return sl_hash64_seed(&v->u, sizeof v->u, v->type);
    }
}

/*
 * Java's Double.toString: shortest digits that round-trip; plain notation for
 * 1e-3 <= |d| < 1e7 (at least one fractional digit), otherwise "d.dddE[-]n".
 */
size_t sl_sv_format_double(double d, bool is_float, char *out)
{
    if (isnan(d))
        return (size_t)snprintf(out, 32, "NaN");
    if (isinf(d))
        return (size_t)snprintf(out, 32, d > 0 ? "Infinity" : "-Infinity");
    if (d == 0.0)
        return (size_t)snprintf(out, 32, signbit(d) ? "-0.0" : "0.0");
    char tmp[40];
    int maxp = is_float ? 9 : 17;
    int p;
    for (p = 1; p <= maxp; p++) {
        snprintf(tmp, sizeof tmp, "%.*e", p - 1, d);
        if (is_float ? (strtof(tmp, NULL) == (float)d) : (strtod(tmp, NULL) == d))
            break;
    }
    if (p > maxp)
        p = maxp;
    snprintf(tmp, sizeof tmp, "%.*e", p - 1, d);
    /* tmp: [-]D[.DDD]e[+-]XX */
    char digits[24];
    size_t nd = 0;
    const char *s = tmp;
    bool neg = false;
    if (*s == '-') {
        neg = true;
        s++;
    }
    while (*s && *s != 'e') {
        if (*s >= '0' && *s <= '9' && nd < sizeof digits - 1)
            digits[nd++] = *s;
        s++;
    }
    digits[nd] = 0;
    while (nd > 1 && digits[nd - 1] == '0')
        digits[--nd] = 0;
    int exp10 = (int)strtol(s + 1, NULL, 10);
    char *o = out;
    if (neg)
        *o++ = '-';
    double ad = fabs(d);
    if (ad >= 1e-3 && ad < 1e7) {
        if (exp10 >= 0) {
            for (int i = 0; i <= exp10; i++)
                *o++ = (size_t)i < nd ? digits[i] : '0';
            *o++ = '.';
            if ((size_t)exp10 + 1 < nd)
                for (size_t i = (size_t)exp10 + 1; i < nd; i++)
                    *o++ = digits[i];
            else
                *o++ = '0';
        } else {
            *o++ = '0';
            *o++ = '.';
            for (int i = 0; i < -exp10 - 1; i++)
                *o++ = '0';
            for (size_t i = 0; i < nd; i++)
                *o++ = digits[i];
        }
        *o = 0;
        return (size_t)(o - out);
    }
    *o++ = digits[0];
    *o++ = '.';
    if (nd > 1)
        for (size_t i = 1; i < nd; i++)
            *o++ = digits[i];
    else
        *o++ = '0';
    o += snprintf(o, 8, "E%d", exp10);
    return (size_t)(o - out);
}

int sl_sv_format(const struct sl_value *v, struct sl_buf *out)
{
    char tmp[64];
    switch ((enum sl_vtype)v->type) {
    case SL_V_NULL:
        return sl_buf_puts(out, "null");
    case SL_V_BOOL:
        return sl_buf_puts(out, v->u.b ? "true" : "false");
    case SL_V_INT:
        return sl_buf_appendf(out, "%lld", (long long)v->u.i);
    case SL_V_DOUBLE: {
        size_t n = sl_sv_format_double(v->u.d, (v->flags & SL_VF_F32) != 0, tmp);
        return sl_buf_append(out, tmp, n);
    }
    case SL_V_STRING:
    case SL_V_BYTES:
        return sl_buf_append(out, v->u.s, v->len);
    case SL_V_TS:
        return sl_buf_appendf(out, "%lld", (long long)(v->u.ts_ns / 1000000));
    case SL_V_IP: {
        size_t n = sl_value_ip_format(v, tmp, sizeof tmp);
        return sl_buf_append(out, tmp, n);
    }
    case SL_V_LIST: {
        int rc = sl_buf_putc(out, '[');
        for (uint32_t i = 0; i < v->len && !rc; i++) {
            if (i)
                rc = sl_buf_puts(out, ", ");
            if (!rc)
                rc = sl_sv_format(&v->u.list[i], out);
        }
        return rc ? rc : sl_buf_putc(out, ']');
    }
    case SL_V_MAP: {
        int rc = sl_buf_putc(out, '{');
        for (uint32_t i = 0; i < v->len && !rc; i++) {
            if (i)
                rc = sl_buf_puts(out, ", ");
            if (!rc)
                rc = sl_buf_append(out, v->u.map[i].key.ptr, v->u.map[i].key.len);
            if (!rc)
                rc = sl_buf_putc(out, '=');
            if (!rc)
                rc = sl_sv_format(&v->u.map[i].val, out);
        }
        return rc ? rc : sl_buf_putc(out, '}');
    }
    case SL_V_OBJECT:
        if (v->u.obj->type->to_json)
            return v->u.obj->type->to_json(v->u.obj, out);
        return sl_buf_puts(out, v->u.obj->type->name);
    default:
        return sl_buf_puts(out, "?");
    }
}

struct sl_value sl_sv_from_event(const struct sl_value *v, char *ipbuf)
{
    switch ((enum sl_vtype)v->type) {
    case SL_V_TS:
        return sl_sv_long(v->u.ts_ns / 1000000);
    case SL_V_IP: {
        size_t n = sl_value_ip_format(v, ipbuf, 48);
        return sl_value_str(ipbuf, n);
    }
    case SL_V_BYTES: {
        struct sl_value s = *v;
        s.type = SL_V_STRING;
        return s;
    }
    default:
        return *v;
    }
}

static size_t trim_ws(const char **p, size_t n)
{
    while (n && (**p == ' ' || **p == '\t' || **p == '\n' || **p == '\r')) {
        (*p)++;
        n--;
    }
    while (n && ((*p)[n - 1] == ' ' || (*p)[n - 1] == '\t' || (*p)[n - 1] == '\n' ||
                 (*p)[n - 1] == '\r'))
        n--;
    return n;
}

int sl_sv_parse_long(const char *p, size_t n, int64_t *out)
{
    n = trim_ws(&p, n);
    if (!n || n > 40)
        return SL_EINVAL;
    size_t i = 0;
    bool neg = false;
    if (p[0] == '-' || p[0] == '+') {
        neg = p[0] == '-';
        i = 1;
    }
    if (i == n)
        return SL_EINVAL;
    uint64_t acc = 0;
    for (; i < n; i++) {
        if (p[i] < '0' || p[i] > '9')
            return SL_EINVAL;
        uint64_t d = (uint64_t)(p[i] - '0');
        if (acc > (UINT64_MAX - d) / 10)
            return SL_ERANGE;
        acc = acc * 10 + d;
    }
    if (neg) {
        if (acc > (uint64_t)INT64_MAX + 1)
            return SL_ERANGE;
        *out = (int64_t)(0 - acc);
    } else {
        if (acc > (uint64_t)INT64_MAX)
            return SL_ERANGE;
        *out = (int64_t)acc;
    }
    return 0;
}

int sl_sv_parse_double(const char *p, size_t n, double *out)
{
    n = trim_ws(&p, n);
    if (!n || n > 64)
        return SL_EINVAL;
    char tmp[72];
    memcpy(tmp, p, n);
    tmp[n] = 0;
    /* Java accepts a trailing d/D/f/F; refuse hex and C's "inf"/"nan" spellings */
    if (tmp[n - 1] == 'd' || tmp[n - 1] == 'D' || tmp[n - 1] == 'f' || tmp[n - 1] == 'F')
        tmp[--n] = 0;
    if (!strcmp(tmp, "NaN")) {
        *out = NAN;
        return 0;
    }
    if (!strcmp(tmp, "Infinity") || !strcmp(tmp, "+Infinity")) {
        *out = INFINITY;
        return 0;
    }
    if (!strcmp(tmp, "-Infinity")) {
        *out = -INFINITY;
        return 0;
    }
    for (size_t i = 0; i < n; i++) {
        char c = tmp[i];
        if (!((c >= '0' && c <= '9') || c == '.' || c == 'e' || c == 'E' || c == '-' || c == '+'))
            return SL_EINVAL;
    }
    char *end;
    double d = strtod(tmp, &end);
    if (end != tmp + n)
        return SL_EINVAL;
    *out = d;
    return 0;
}
