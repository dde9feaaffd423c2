/*
 * sql_serde.c — SQL rows in and out of JSON with ksqlDB's coercion rules (see sql_serde.h and
 * ../shared/specs/ksql.md §1.2–1.3).
 *
 * DESIGN: decoding works on a value sl_json_parse_value already made (maps for objects, lists
 * for arrays), so the JSON parser stays the one in codec/json.c. Coercion follows ksqlDB's
 * KsqlJsonDeserializer / JsonSerdeUtils: numbers narrow like Java's intValue()/longValue()
 * (an integer wraps, a double truncates and saturates), strings parse like Integer.parseInt /
 * Long.parseLong / Double.parseDouble, BOOLEAN takes only true/false, STRING takes any scalar
 * as its text (doubles as Java's Double.toString writes them: 1.0, 1.0E10), an object as its
 * JSON text and an array as Java's List.toString of its elements as strings ("[a, b]").
 * Strings that need no conversion stay views into the parsed value (zero copy): the decoded
 * row lives as long as the parsed input, which is the batch's memory anyway.
 *
 * Value model of SQL types (what the rest of src/sql sees):
 *   BOOLEAN  SL_V_BOOL            INT      SL_V_INT + SL_VF_I32     BIGINT  SL_V_INT
 *   DOUBLE   SL_V_DOUBLE          DECIMAL  SL_V_DOUBLE (exactness not kept; documented)
 *   STRING   SL_V_STRING          BYTES    SL_V_BYTES (JSON: base64)
 *   TIMESTAMP SL_V_TS (JSON: epoch milliseconds)
 *   DATE     SL_V_INT + I32, days since the epoch; TIME SL_V_INT + I32, milliseconds of the day
 *   ARRAY    SL_V_LIST            MAP      SL_V_MAP (string keys)
 *   STRUCT   SL_V_MAP with exactly the declared fields, in declared order, absent ones NULL
 *
 * Deviations: DECIMAL is a double (no precision/scale check, no rounding); names match with
 * ASCII upper-casing (Java upper-cases all of Unicode); an object coerced to STRING is written
 * by codec/json.c (doubles in JSON's shortest form, where Jackson would write 1.0E10).
 *
 * Threads: no state; any thread.
 */
#include "sql/sql_serde.h"

#include "base/alloc.h"
#include "codec/json.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------------ messages */

static const char *tkind_name(enum sl_sql_tkind k)
{
    static const char *const names[] = {
#define SL_SQL_T_NAME(n, s) s,
        SL_SQL_TYPES(SL_SQL_T_NAME)
#undef SL_SQL_T_NAME
    };
    return (unsigned)k < SL_SQL_T__COUNT ? names[k] : "?";
}

/* "STRING 'abc'", "NUMBER 1.5", "BOOLEAN true", "ARRAY", "OBJECT" */
static void describe(const struct sl_value *v, char *out, size_t n)
{
    switch (v->type) {
    case SL_V_STRING: {
        int len = v->len > 40 ? 40 : (int)v->len;
        snprintf(out, n, "STRING '%.*s%s'", len, v->u.s, v->len > 40 ? "..." : "");
        break;
    }
    case SL_V_INT:
        snprintf(out, n, "NUMBER %" PRId64, v->u.i);
        break;
    case SL_V_DOUBLE:
        snprintf(out, n, "NUMBER %.17g", v->u.d);
        break;
    case SL_V_BOOL:
        snprintf(out, n, "BOOLEAN %s", v->u.b ? "true" : "false");
        break;
    case SL_V_LIST:
        snprintf(out, n, "ARRAY");
        break;
    case SL_V_MAP:
        snprintf(out, n, "OBJECT");
        break;
    default:
        snprintf(out, n, "%s", sl_vtype_name((enum sl_vtype)v->type));
        break;
    }
}

static int fail(const struct sl_value *v, const struct sl_sql_type *t, char *err, size_t err_len)
{
    if (err && err_len) {
        char what[80];
        describe(v, what, sizeof what);
        snprintf(err, err_len, "cannot coerce %s to %s", what, tkind_name(t->kind));
    }
    return SL_EINVAL;
}

/* prefix err with "<fmt>: " (nested coercion failures say where they happened) */
__attribute__((format(printf, 3, 4))) static void prefix(char *err, size_t err_len, const char *fmt,
                                                         ...)
{
    if (!err || !err_len)
        return;
    char pre[160], rest[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(pre, sizeof pre, fmt, ap);
    va_end(ap);
    snprintf(rest, sizeof rest, "%s", err);
    snprintf(err, err_len, "%s: %s", pre, rest);
}

/* ------------------------------------------------------------------ number parsing */

/* Integer.parseInt / Long.parseLong: [+-]digits, in range, nothing else */
static bool parse_java_int(const char *p, size_t n, int64_t lo, int64_t hi, int64_t *out)
{
    size_t i = 0;
    bool neg = false;
    if (i < n && (p[i] == '+' || p[i] == '-'))
        neg = p[i++] == '-';
    if (i == n)
        return false;
    uint64_t lim = neg ? (uint64_t)0 - (uint64_t)lo : (uint64_t)hi;
    uint64_t acc = 0;
    for (; i < n; i++) {
        if (p[i] < '0' || p[i] > '9')
            return false;
        unsigned dgt = (unsigned)(p[i] - '0');
        if (acc > (lim - dgt) / 10)
            return false;
        acc = acc * 10 + dgt;
    }
    *out = neg ? (int64_t)(0 - acc) : (int64_t)acc;
    return true;
}

/*
 * Double.parseDouble: surrounding whitespace (chars <= ' ') trimmed, [+-]NaN / Infinity, or a
 * decimal with optional fraction and exponent and an optional f/F/d/D suffix. strict (DECIMAL,
 * Java's BigDecimal): no trimming, no NaN/Infinity, no suffix.
 */
static bool parse_java_double(const char *p, size_t n, bool strict, double *out)
{
    if (!strict) {
        while (n && (unsigned char)p[0] <= ' ')
            p++, n--;
        while (n && (unsigned char)p[n - 1] <= ' ')
            n--;
    }
    size_t i = 0;
    bool neg = false;
    if (i < n && (p[i] == '+' || p[i] == '-'))
        neg = p[i++] == '-';
    if (!strict && n - i == 3 && memcmp(p + i, "NaN", 3) == 0) {
        *out = NAN;
        return true;
    }
    if (!strict && n - i == 8 && memcmp(p + i, "Infinity", 8) == 0) {
        *out = neg ? -INFINITY : INFINITY;
        return true;
    }
    size_t digits = 0;
    while (i < n && p[i] >= '0' && p[i] <= '9')
        i++, digits++;
    if (i < n && p[i] == '.') {
        i++;
        while (i < n && p[i] >= '0' && p[i] <= '9')
            i++, digits++;
    }
    if (!digits)
        return false;
    if (i < n && (p[i] == 'e' || p[i] == 'E')) {
        i++;
        if (i < n && (p[i] == '+' || p[i] == '-'))
            i++;
        size_t ed = 0;
        while (i < n && p[i] >= '0' && p[i] <= '9')
            i++, ed++;
        if (!ed)
            return false;
    }
    size_t end = i;
    if (!strict && i < n && strchr("fFdD", p[i]))
        i++;
    if (i != n)
        return false;
    char stack[64];
    char *buf = end < sizeof stack ? stack : sl_malloc(end + 1);
    if (!buf)
        return false;
    memcpy(buf, p, end);
    buf[end] = 0;
    *out = strtod(buf, NULL);
    if (buf != stack)
        sl_free(buf);
    return true;
}

/* Java's (int)d / (long)d: NaN 0, saturating */
static int64_t java_d2l(double d, int64_t lo, int64_t hi)
{
    if (isnan(d))
        return 0;
    if (d <= (double)lo)
        return lo;
    if (d >= (double)hi)
        return hi;
    return (int64_t)d;
}

/* ------------------------------------------------------------------ text of scalars */

/* Java's Double.toString (shortest digits that round-trip) */
static size_t java_double_text(double d, char *out, size_t n)
{
    if (isnan(d))
        return (size_t)snprintf(out, n, "NaN");
    if (isinf(d))
        return (size_t)snprintf(out, n, d < 0 ? "-Infinity" : "Infinity");
    if (d == 0)
        return (size_t)snprintf(out, n, signbit(d) ? "-0.0" : "0.0");
    char e[40];
    for (int prec = 1; prec <= 17; prec++) {
        snprintf(e, sizeof e, "%.*e", prec - 1, d);
        if (strtod(e, NULL) == d)
            break;
    }
    /* e: [-]D[.DDD]e[+-]XX */
    const char *p = e;
    bool neg = *p == '-';
    if (neg)
        p++;
    char dig[20];
    size_t nd = 0;
    for (; *p && *p != 'e'; p++)
        if (*p >= '0' && *p <= '9' && nd < sizeof dig)
            dig[nd++] = *p;
    int exp10 = (int)strtol(p + 1, NULL, 10);
    while (nd > 1 && dig[nd - 1] == '0')
        nd--;
    char buf[64];
    size_t k = 0;
    if (neg)
        buf[k++] = '-';
    double ad = fabs(d);
    if (ad >= 1e-3 && ad < 1e7) {
        if (exp10 >= 0) {
            for (int i = 0; i <= exp10; i++)
                buf[k++] = (size_t)i < nd ? dig[i] : '0';
            buf[k++] = '.';
            if ((size_t)exp10 + 1 < nd)
                for (size_t i = (size_t)exp10 + 1; i < nd; i++)
                    buf[k++] = dig[i];
            else
                buf[k++] = '0';
        } else {
            buf[k++] = '0';
            buf[k++] = '.';
            for (int i = 0; i < -exp10 - 1; i++)
                buf[k++] = '0';
            for (size_t i = 0; i < nd; i++)
                buf[k++] = dig[i];
        }
        buf[k] = 0;
    } else {
        buf[k++] = dig[0];
        buf[k++] = '.';
        if (nd > 1)
            for (size_t i = 1; i < nd; i++)
                buf[k++] = dig[i];
        else
            buf[k++] = '0';
        k += (size_t)snprintf(buf + k, sizeof buf - k, "E%d", exp10);
    }
    return (size_t)snprintf(out, n, "%s", buf);
}

static int str_out(struct sl_arena *a, const char *p, size_t n, struct sl_value *out)
{
    char *s = sl_arena_alloc_bytes(a, n ? n : 1);
    if (!s)
        return SL_ENOMEM;
    memcpy(s, p, n);
    *out = sl_value_str(s, n);
    return 0;
}

static int to_string(const struct sl_value *v, struct sl_arena *a, struct sl_value *out);

/* ARRAY as STRING: Java's List.toString of the elements as strings: [a, b, null] */
static int list_to_string(const struct sl_value *v, struct sl_arena *a, struct sl_value *out)
{
    struct sl_buf b;
    sl_buf_init(&b, 0);
    int rc = sl_buf_putc(&b, '[');
    for (uint32_t i = 0; i < v->len && !rc; i++) {
        if (i)
            rc = sl_buf_append(&b, ", ", 2);
        struct sl_value s;
        if (!rc)
            rc = to_string(&v->u.list[i], a, &s);
        if (!rc)
            rc = s.type == SL_V_NULL ? sl_buf_append(&b, "null", 4)
                                     : sl_buf_append(&b, s.u.s, s.len);
    }
    if (!rc)
        rc = sl_buf_putc(&b, ']');
    if (!rc)
        rc = str_out(a, b.ptr, b.len, out);
    sl_buf_fini(&b);
    return rc;
}

static int to_string(const struct sl_value *v, struct sl_arena *a, struct sl_value *out)
{
    char tmp[64];
    switch (v->type) {
    case SL_V_NULL:
        *out = sl_value_null();
        return 0;
    case SL_V_STRING:
        *out = *v;
        out->flags = 0;
        return 0;
    case SL_V_BOOL:
        return v->u.b ? str_out(a, "true", 4, out) : str_out(a, "false", 5, out);
    case SL_V_INT: {
        int n = snprintf(tmp, sizeof tmp, "%" PRId64, v->u.i);
        return str_out(a, tmp, (size_t)n, out);
    }
    case SL_V_DOUBLE: {
        size_t n = java_double_text(v->u.d, tmp, sizeof tmp);
        return str_out(a, tmp, n, out);
    }
    case SL_V_LIST:
        return list_to_string(v, a, out);
    default: {
        /* objects (and anything else) as their JSON text */
        struct sl_buf b;
        sl_buf_init(&b, 0);
        int rc = sl_json_write_value(&b, v);
        if (!rc)
            rc = str_out(a, b.ptr, b.len, out);
        sl_buf_fini(&b);
        return rc;
    }
    }
}

/* ------------------------------------------------------------------ base64 (BYTES) */

static int b64_val(unsigned char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '+')
        return 62;
    if (c == '/')
        return 63;
    return -1;
}

/* java.util.Base64's basic decoder: padding optional, but right when present */
static int b64_decode(const char *p, size_t n, struct sl_arena *a, struct sl_value *out)
{
    size_t pad = 0;
    while (n && p[n - 1] == '=' && pad < 2)
        n--, pad++;
    if (n % 4 == 1 || (pad && (n + pad) % 4))
        return SL_EINVAL;
    char *o = sl_arena_alloc_bytes(a, n * 3 / 4 + 1);
    if (!o)
        return SL_ENOMEM;
    size_t k = 0;
    uint32_t acc = 0;
    int bits = 0;
    for (size_t i = 0; i < n; i++) {
        int x = b64_val((unsigned char)p[i]);
        if (x < 0)
            return SL_EINVAL;
        acc = acc << 6 | (uint32_t)x;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            o[k++] = (char)(acc >> bits & 0xff);
        }
    }
    *out = (struct sl_value){.type = SL_V_BYTES, .len = (uint32_t)k};
    out->u.s = o;
    return 0;
}

/* ------------------------------------------------------------------ field matching */

static bool upper_eq(struct sl_str key, const char *name, size_t name_len)
{
    if (key.len != name_len)
        return false;
    for (size_t i = 0; i < name_len; i++) {
        char c = key.ptr[i];
        if (c >= 'a' && c <= 'z')
            c = (char)(c - 'a' + 'A');
        if (c != name[i])
            return false;
    }
    return true;
}

/* the field named exactly `name`, else the one whose upper-cased name is `name` (last wins) */
/* The field for column `name`: an exact name first, else the one whose upper-cased name is it.
 * `hint` is where the field usually is (the column's position: records written by a query
 * list their columns in order), tried first. The first exact match wins. */
static const struct sl_value *field_find(const struct sl_value *obj, const char *name,
                                         uint32_t hint)
{
    size_t nl = strlen(name);
    if (hint < obj->len) {
        struct sl_str k = obj->u.map[hint].key;
        if (k.len == nl && memcmp(k.ptr, name, nl) == 0)
            return &obj->u.map[hint].val;
    }
    const struct sl_value *ci = NULL;
    for (uint32_t i = 0; i < obj->len; i++) {
        struct sl_str k = obj->u.map[i].key;
        if (k.len == nl && memcmp(k.ptr, name, nl) == 0)
            return &obj->u.map[i].val;
        if (!ci && upper_eq(k, name, nl))
            ci = &obj->u.map[i].val;
    }
    return ci;
}

/* ------------------------------------------------------------------ coercion */

static int coerce(const struct sl_value *v, const struct sl_sql_type *t, struct sl_arena *a,
                  struct sl_value *out, char *err, size_t err_len, int depth)
{
    if (depth > 64) {
        if (err && err_len)
            snprintf(err, err_len, "value nested too deeply");
        return SL_EINVAL;
    }
    if (!v || v->type == SL_V_NULL) {
        *out = sl_value_null();
        return 0;
    }
    if (!t) { /* no declared type: kept as parsed */
        *out = *v;
        return 0;
    }
    int64_t i;
    double d;
    switch (t->kind) {
    case SL_SQL_T_UNKNOWN:
        *out = *v;
        return 0;
    case SL_SQL_T_BOOLEAN:
        if (v->type != SL_V_BOOL)
            return fail(v, t, err, err_len);
        *out = sl_value_bool(v->u.b);
        return 0;
    case SL_SQL_T_INT:
    case SL_SQL_T_DATE:
    case SL_SQL_T_TIME:
        if (v->type == SL_V_INT)
            i = (int32_t)(uint32_t)(uint64_t)v->u.i; /* LongNode.intValue() wraps */
        else if (v->type == SL_V_DOUBLE)
            i = java_d2l(v->u.d, INT32_MIN, INT32_MAX);
        else if (v->type != SL_V_STRING ||
                 !parse_java_int(v->u.s, v->len, INT32_MIN, INT32_MAX, &i))
            return fail(v, t, err, err_len);
        *out = sl_value_int(i);
        out->flags = SL_VF_I32;
        return 0;
    case SL_SQL_T_BIGINT:
        if (v->type == SL_V_INT)
            i = v->u.i;
        else if (v->type == SL_V_DOUBLE)
            i = java_d2l(v->u.d, INT64_MIN, INT64_MAX);
        else if (v->type != SL_V_STRING ||
                 !parse_java_int(v->u.s, v->len, INT64_MIN, INT64_MAX, &i))
            return fail(v, t, err, err_len);
        *out = sl_value_int(i);
        return 0;
    case SL_SQL_T_TIMESTAMP:
        if (v->type == SL_V_INT)
            i = v->u.i;
        else if (v->type == SL_V_DOUBLE)
            i = java_d2l(v->u.d, INT64_MIN, INT64_MAX);
        else if (v->type != SL_V_STRING ||
                 !parse_java_int(v->u.s, v->len, INT64_MIN, INT64_MAX, &i))
            return fail(v, t, err, err_len);
        if (i > INT64_MAX / 1000000 || i < INT64_MIN / 1000000) {
            if (err && err_len)
                snprintf(err, err_len, "TIMESTAMP %" PRId64 " ms is out of range", i);
            return SL_EINVAL;
        }
        *out = sl_value_ts(i * 1000000);
        return 0;
    case SL_SQL_T_DOUBLE:
    case SL_SQL_T_DECIMAL:
        if (v->type == SL_V_INT)
            d = (double)v->u.i;
        else if (v->type == SL_V_DOUBLE)
            d = v->u.d;
        else if (v->type != SL_V_STRING ||
                 !parse_java_double(v->u.s, v->len, t->kind == SL_SQL_T_DECIMAL, &d))
            return fail(v, t, err, err_len);
        *out = sl_value_double(d);
        return 0;
    case SL_SQL_T_STRING:
        return to_string(v, a, out);
    case SL_SQL_T_BYTES: {
        if (v->type != SL_V_STRING)
            return fail(v, t, err, err_len);
        int rc = b64_decode(v->u.s, v->len, a, out);
        if (rc == SL_EINVAL && err && err_len)
            snprintf(err, err_len, "cannot coerce STRING to BYTES: not base64");
        return rc;
    }
    case SL_SQL_T_ARRAY: {
        if (v->type != SL_V_LIST || !t->elem)
            return fail(v, t, err, err_len);
        struct sl_value *l = sl_arena_alloc(a, (v->len ? v->len : 1) * sizeof(*l));
        if (!l)
            return SL_ENOMEM;
        for (uint32_t k = 0; k < v->len; k++) {
            int rc = coerce(&v->u.list[k], t->elem, a, &l[k], err, err_len, depth + 1);
            if (rc) {
                if (rc == SL_EINVAL)
                    prefix(err, err_len, "element %u", k);
                return rc;
            }
        }
        *out = (struct sl_value){.type = SL_V_LIST, .len = v->len};
        out->u.list = l;
        return 0;
    }
    case SL_SQL_T_MAP: {
        if (v->type != SL_V_MAP || !t->elem)
            return fail(v, t, err, err_len);
        struct sl_kv *m = sl_arena_alloc(a, (v->len ? v->len : 1) * sizeof(*m));
        if (!m)
            return SL_ENOMEM;
        for (uint32_t k = 0; k < v->len; k++) {
            m[k].key = v->u.map[k].key;
            int rc = coerce(&v->u.map[k].val, t->elem, a, &m[k].val, err, err_len, depth + 1);
            if (rc) {
                if (rc == SL_EINVAL)
                    prefix(err, err_len, "key '%.*s'", (int)(m[k].key.len > 40 ? 40 : m[k].key.len),
                           m[k].key.ptr);
                return rc;
            }
        }
        *out = (struct sl_value){.type = SL_V_MAP, .len = v->len};
        out->u.map = m;
        return 0;
    }
    case SL_SQL_T_STRUCT: {
        if (v->type != SL_V_MAP)
            return fail(v, t, err, err_len);
        struct sl_kv *m = sl_arena_alloc(a, (t->nfields ? t->nfields : 1) * sizeof(*m));
        if (!m)
            return SL_ENOMEM;
        for (uint32_t k = 0; k < t->nfields; k++) {
            const char *fname = t->fields[k].name;
            m[k].key = sl_str_make(fname, strlen(fname));
            int rc = coerce(field_find(v, fname, k), t->fields[k].type, a, &m[k].val, err, err_len,
                            depth + 1);
            if (rc) {
                if (rc == SL_EINVAL)
                    prefix(err, err_len, "field '%s'", fname);
                return rc;
            }
        }
        *out = (struct sl_value){.type = SL_V_MAP, .len = t->nfields};
        out->u.map = m;
        return 0;
    }
    default:
        return fail(v, t, err, err_len);
    }
}

int sl_sql_coerce(const struct sl_value *v, const struct sl_sql_type *t, struct sl_arena *a,
                  struct sl_value *out, char *err, size_t err_len)
{
    if (err && err_len)
        err[0] = 0;
    return coerce(v, t, a, out, err, err_len, 0);
}

int sl_sql_decode_row(const struct sl_value *v, const struct sl_sql_column *cols, uint32_t ncols,
                      struct sl_arena *a, struct sl_value *out, char *err, size_t err_len)
{
    if (err && err_len)
        err[0] = 0;
    if (!v || v->type == SL_V_NULL) {
        for (uint32_t i = 0; i < ncols; i++)
            out[i] = sl_value_null();
        return 1;
    }
    if (v->type != SL_V_MAP) {
        if (ncols == 1) {
            int rc = coerce(v, cols[0].type, a, &out[0], err, err_len, 0);
            if (rc == SL_EINVAL)
                prefix(err, err_len, "column '%s'", cols[0].name);
            return rc;
        }
        if (err && err_len) {
            char what[80];
            describe(v, what, sizeof what);
            snprintf(err, err_len, "expected a JSON object, found %s", what);
        }
        return SL_EINVAL;
    }
    for (uint32_t i = 0; i < ncols; i++) {
        int rc = coerce(field_find(v, cols[i].name, i), cols[i].type, a, &out[i], err, err_len, 0);
        if (rc) {
            if (rc == SL_EINVAL)
                prefix(err, err_len, "column '%s'", cols[i].name);
            return rc;
        }
    }
    return 0;
}

/* ------------------------------------------------------------------ encoding */

static int encode(const struct sl_value *v, struct sl_buf *out, int depth)
{
    if (depth > 256)
        return SL_EDEPTH;
    int rc = 0;
    switch (v->type) {
    case SL_V_TS: {
        /* TIMESTAMP: epoch milliseconds (floor) */
        int64_t ms = v->u.ts_ns / 1000000;
        if (v->u.ts_ns % 1000000 < 0)
            ms--;
        return sl_buf_appendf(out, "%" PRId64, ms);
    }
    case SL_V_LIST:
        rc = sl_buf_putc(out, '[');
        for (uint32_t i = 0; i < v->len && !rc; i++) {
            if (i)
                rc = sl_buf_putc(out, ',');
            if (!rc)
                rc = encode(&v->u.list[i], out, depth + 1);
        }
        return rc ? rc : sl_buf_putc(out, ']');
    case SL_V_MAP:
        rc = sl_buf_putc(out, '{');
        for (uint32_t i = 0; i < v->len && !rc; i++) {
            if (i)
                rc = sl_buf_putc(out, ',');
            if (!rc)
                rc = sl_json_write_string(out, v->u.map[i].key.ptr, v->u.map[i].key.len);
            if (!rc)
                rc = sl_buf_putc(out, ':');
            if (!rc)
                rc = encode(&v->u.map[i].val, out, depth + 1);
        }
        return rc ? rc : sl_buf_putc(out, '}');
    default:
        return sl_json_write_value(out, v);
    }
}

int sl_sql_encode_value(const struct sl_value *v, struct sl_buf *out)
{
    if (!v)
        return sl_buf_append(out, "null", 4);
    return encode(v, out, 0);
}

int sl_sql_encode_row(const struct sl_sql_column *cols, const struct sl_value *vals, uint32_t ncols,
                      struct sl_buf *out)
{
    int rc = sl_buf_putc(out, '{');
    for (uint32_t i = 0; i < ncols && !rc; i++) {
        if (i)
            rc = sl_buf_putc(out, ',');
        if (!rc)
            rc = sl_json_write_string(out, cols[i].name, strlen(cols[i].name));
        if (!rc)
            rc = sl_buf_putc(out, ':');
        if (!rc)
            rc = encode(&vals[i], out, 0);
    }
    return rc ? rc : sl_buf_putc(out, '}');
}
