/*
 * fn_sql.c — SQL's operators and scalar functions (the ksqlDB subset) as builtins of the
 * Stellar VM, in a table of their own (sl_sfuncs_sql): Stellar cannot call them and SQL
 * cannot call Stellar's.
 *
 * DESIGN: sql/sql_expr.c type-checks an expression and lowers every operator to a call of one
 * of the "$" functions here, choosing the variant by the static type where it matters
 * ($ADD_INT wraps at 32 bits as Java's int, $ADD_BIGINT at 64, $ADD_DOUBLE is IEEE; $ADD
 * decides from the values when a type is UNKNOWN). The public functions (ABS, SUBSTRING...)
 * carry their result-type rule in `returns` (read by sql_expr.c): a type name, "ARG1" (the
 * first argument's type), "COMMON" (the arguments' common type), "ELEM1" (the element type of
 * the first argument), "ROUND" (BIGINT for a DOUBLE without a scale, else the argument's
 * type), "SPLIT" (ARRAY of the first argument's type).
 *
 * Semantics (ksqlDB, ../shared/specs/ksql.md §1.6):
 *  - a NULL operand makes arithmetic NULL and a comparison FALSE (not NULL); $NOT(NULL) is
 *    NULL; functions return NULL for a NULL argument except COALESCE, IFNULL, NULLIF, CONCAT,
 *    CONCAT_WS (separators aside);
 *  - integer division truncates; division or modulo of integers by zero is NULL (ksqlDB
 *    throws, logs the error to the processing log and the expression is NULL);
 *  - INT arithmetic wraps at 32 bits, BIGINT at 64 (Java); DECIMAL is computed as DOUBLE
 *    (CAST to DECIMAL(p, s) rounds HALF_UP to s decimals);
 *  - strings compare by bytes (Java compares UTF-16 units: the same order outside surrogate
 *    pairs); lengths and positions count code points (Java: UTF-16 units, the same outside
 *    astral planes); UCASE/LCASE change ASCII letters only;
 *  - a CAST that cannot convert (CAST('x' AS INT)) is NULL at run time (ksqlDB logs it and
 *    the expression is NULL); sl_sql_cast() reports it as an error.
 * Values: INT is SL_V_INT + SL_VF_I32, BIGINT SL_V_INT, DOUBLE and DECIMAL SL_V_DOUBLE,
 * ARRAY a list, MAP and STRUCT maps (a STRUCT's keys are its field names, in order).
 */
#define PCRE2_CODE_UNIT_WIDTH 8

#include "base/alloc.h"
#include "base/arena.h"
#include "lang/func.h"
#include "lang/sval.h"
#include "core/sqltype.h"

#include <ctype.h>
#include <math.h>
#include <pcre2.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* ---- numbers ---- */

enum nk { NK_NONE, NK_INT, NK_BIGINT, NK_DOUBLE };

static enum nk kind_of(const struct sl_value *v)
{
    if (v->type == SL_V_INT)
        return (v->flags & SL_VF_I32) ? NK_INT : NK_BIGINT;
    if (v->type == SL_V_DOUBLE)
        return NK_DOUBLE;
    return NK_NONE;
}

static int64_t as_i64(const struct sl_value *v)
{
    if (v->type == SL_V_INT)
        return v->u.i;
    return sl_sv_as_long(v); /* Java's (long) d: NaN 0, saturating */
}

static double as_f64(const struct sl_value *v)
{
    return v->type == SL_V_INT ? (double)v->u.i : v->u.d;
}

static struct sl_value mk_int(int64_t i)
{
    return sl_sv_int((int32_t)(uint32_t)(uint64_t)i);
}

static int32_t d2i(double d)
{
    if (isnan(d))
        return 0;
    if (d >= 2147483647.0)
        return INT32_MAX;
    if (d <= -2147483648.0)
        return INT32_MIN;
    return (int32_t)d;
}

/* ---- arithmetic ---- */

enum aop { A_ADD, A_SUB, A_MUL, A_DIV, A_MOD };
static const char *const aop_names[] = {"+", "-", "*", "/", "%"};

static int arith(struct sl_fcx *cx, enum aop op, enum nk k, const struct sl_value *a,
                 struct sl_value *out)
{
    const struct sl_value *x = &a[0], *y = &a[1];
    if (x->type == SL_V_NULL || y->type == SL_V_NULL)
        return 0;
    enum nk kx = kind_of(x), ky = kind_of(y);
    if (k == NK_NONE && op == A_ADD && x->type == SL_V_STRING && y->type == SL_V_STRING) {
        char *p = sl_fcx_alloc(cx, (size_t)x->len + y->len + 1);
        if (!p)
            return SL_ENOMEM;
        memcpy(p, x->u.s, x->len);
        memcpy(p + x->len, y->u.s, y->len);
        *out = sl_value_str(p, (size_t)x->len + y->len);
        return 0;
    }
    if (!kx || !ky)
        return sl_fcx_error(cx, "cannot apply %s to %s and %s", aop_names[op],
                            sl_vtype_name((enum sl_vtype)x->type),
                            sl_vtype_name((enum sl_vtype)y->type));
    if (k == NK_NONE)
        k = kx > ky ? kx : ky;
    if (k == NK_DOUBLE) {
        double p = as_f64(x), q = as_f64(y), r;
        switch (op) {
        case A_ADD:
            r = p + q;
            break;
        case A_SUB:
            r = p - q;
            break;
        case A_MUL:
            r = p * q;
            break;
        case A_DIV:
            r = p / q;
            break;
        default:
            r = fmod(p, q);
            break;
        }
        *out = sl_sv_double(r);
        return 0;
    }
    uint64_t p = (uint64_t)as_i64(x), q = (uint64_t)as_i64(y);
    int64_t r;
    if (k == NK_INT) {
        p = (uint64_t)(int64_t)(int32_t)(uint32_t)p;
        q = (uint64_t)(int64_t)(int32_t)(uint32_t)q;
    }
    switch (op) {
    case A_ADD:
        r = (int64_t)(p + q);
        break;
    case A_SUB:
        r = (int64_t)(p - q);
        break;
    case A_MUL:
        r = (int64_t)(p * q);
        break;
    default:
        if (!q)
            return 0; /* division by zero: NULL (ksqlDB: processing-log error, NULL) */
        if ((int64_t)q == -1) {
            r = op == A_DIV ? (int64_t)(0 - p) : 0; /* MIN / -1 wraps as Java */
        } else {
            r = op == A_DIV ? (int64_t)p / (int64_t)q : (int64_t)p % (int64_t)q;
        }
        break;
    }
    *out = k == NK_INT ? mk_int(r) : sl_sv_long(r);
    return 0;
}

/* the typed variants take the common case (two non-null integers, or two doubles) inline:
 * bench_sql_expr measured the generic path at a third of an evaluation */
#define ARITH_FNS(OPN, OP, COP)                                                                    \
    static int f_##OPN##_any(struct sl_fcx *cx, const struct sl_value *a, int n,                   \
                             struct sl_value *out)                                                 \
    {                                                                                              \
        return arith(cx, OP, NK_NONE, a, out);                                                     \
    }                                                                                              \
    static int f_##OPN##_int(struct sl_fcx *cx, const struct sl_value *a, int n,                   \
                             struct sl_value *out)                                                 \
    {                                                                                              \
        if (COP_OK(OP) && a[0].type == SL_V_INT && a[1].type == SL_V_INT) {                        \
            *out = mk_int((int64_t)((uint64_t)a[0].u.i COP(uint64_t) a[1].u.i));                   \
            return 0;                                                                              \
        }                                                                                          \
        return arith(cx, OP, NK_INT, a, out);                                                      \
    }                                                                                              \
    static int f_##OPN##_bigint(struct sl_fcx *cx, const struct sl_value *a, int n,                \
                                struct sl_value *out)                                              \
    {                                                                                              \
        if (COP_OK(OP) && a[0].type == SL_V_INT && a[1].type == SL_V_INT) {                        \
            *out = sl_sv_long((int64_t)((uint64_t)a[0].u.i COP(uint64_t) a[1].u.i));               \
            return 0;                                                                              \
        }                                                                                          \
        return arith(cx, OP, NK_BIGINT, a, out);                                                   \
    }                                                                                              \
    static int f_##OPN##_double(struct sl_fcx *cx, const struct sl_value *a, int n,                \
                                struct sl_value *out)                                              \
    {                                                                                              \
        if (COP_OK(OP) && a[0].type == SL_V_DOUBLE && a[1].type == SL_V_DOUBLE) {                  \
            *out = sl_sv_double(a[0].u.d COP a[1].u.d);                                            \
            return 0;                                                                              \
        }                                                                                          \
        return arith(cx, OP, NK_DOUBLE, a, out);                                                   \
    }
/* only + - * have an inline path (/ and % need the zero and MIN / -1 checks) */
#define COP_OK(OP) ((OP) == A_ADD || (OP) == A_SUB || (OP) == A_MUL)
ARITH_FNS(add, A_ADD, +)
ARITH_FNS(sub, A_SUB, -)
ARITH_FNS(mul, A_MUL, *)
ARITH_FNS(div, A_DIV, +)
ARITH_FNS(mod, A_MOD, +)
#undef COP_OK

static int f_neg(struct sl_fcx *cx, const struct sl_value *a, int n, struct sl_value *out)
{
    switch (kind_of(&a[0])) {
    case NK_INT:
        *out = mk_int((int64_t)(0 - (uint64_t)a[0].u.i));
        return 0;
    case NK_BIGINT:
        *out = sl_sv_long((int64_t)(0 - (uint64_t)a[0].u.i));
        return 0;
    case NK_DOUBLE:
        *out = sl_sv_double(-a[0].u.d);
        return 0;
    default:
        if (a[0].type == SL_V_NULL)
            return 0;
        return sl_fcx_error(cx, "cannot negate %s", sl_vtype_name((enum sl_vtype)a[0].type));
    }
}

/* string concatenation (`+` or `||` on strings): NULL if either side is NULL */
static int f_concat_op(struct sl_fcx *cx, const struct sl_value *a, int n, struct sl_value *out)
{
    if (a[0].type == SL_V_NULL || a[1].type == SL_V_NULL)
        return 0;
    if (a[0].type != SL_V_STRING || a[1].type != SL_V_STRING)
        return sl_fcx_error(cx, "cannot concatenate non-strings");
    return arith(cx, A_ADD, NK_NONE, a, out);
}

/* ---- comparisons ---- */

/* -1/0/1, 2 when unordered (NaN), 3 when not comparable */
static int cmp_values(const struct sl_value *x, const struct sl_value *y)
{
    enum nk kx = kind_of(x), ky = kind_of(y);
    if (kx && ky) {
        if (kx != NK_DOUBLE && ky != NK_DOUBLE)
            return x->u.i < y->u.i ? -1 : x->u.i > y->u.i;
        double p = as_f64(x), q = as_f64(y);
        if (isnan(p) || isnan(q))
            return 2;
        return p < q ? -1 : p > q;
    }
    if (x->type == SL_V_STRING && y->type == SL_V_STRING) {
        size_t m = x->len < y->len ? x->len : y->len;
        int c = m ? memcmp(x->u.s, y->u.s, m) : 0;
        if (!c)
            return x->len < y->len ? -1 : x->len > y->len;
        return c < 0 ? -1 : 1;
    }
    if (x->type == SL_V_BOOL && y->type == SL_V_BOOL)
        return (int)x->u.b - (int)y->u.b;
    if (x->type == SL_V_BYTES && y->type == SL_V_BYTES) {
        size_t m = x->len < y->len ? x->len : y->len;
        int c = m ? memcmp(x->u.s, y->u.s, m) : 0;
        if (!c)
            return x->len < y->len ? -1 : x->len > y->len;
        return c < 0 ? -1 : 1;
    }
    return 3;
}

static bool sql_equal(const struct sl_value *x, const struct sl_value *y)
{
    int c = cmp_values(x, y);
    if (c == 3)
        return sl_value_equal(x, y);
    return c == 0;
}

enum cop { C_EQ, C_NE, C_LT, C_LE, C_GT, C_GE };

static int compare(struct sl_fcx *cx, enum cop op, const struct sl_value *a, struct sl_value *out)
{
    const struct sl_value *x = &a[0], *y = &a[1];
    bool r = false;
    if (x->type != SL_V_NULL && y->type != SL_V_NULL) {
        int c = cmp_values(x, y);
        if (c == 3) {
            if (op == C_EQ || op == C_NE) {
                bool eq = sl_value_equal(x, y);
                r = op == C_EQ ? eq : !eq;
            } else {
                return sl_fcx_error(cx, "cannot compare %s with %s",
                                    sl_vtype_name((enum sl_vtype)x->type),
                                    sl_vtype_name((enum sl_vtype)y->type));
            }
        } else if (c != 2) {
            switch (op) {
            case C_EQ:
                r = c == 0;
                break;
            case C_NE:
                r = c != 0;
                break;
            case C_LT:
                r = c < 0;
                break;
            case C_LE:
                r = c <= 0;
                break;
            case C_GT:
                r = c > 0;
                break;
            default:
                r = c >= 0;
                break;
            }
        } else {
            r = op == C_NE; /* NaN != anything */
        }
    }
    *out = sl_value_bool(r);
    return 0;
}

#define CMP_FN(name, OP)                                                                           \
    static int f_##name(struct sl_fcx *cx, const struct sl_value *a, int n, struct sl_value *out)  \
    {                                                                                              \
        return compare(cx, OP, a, out);                                                            \
    }
CMP_FN(eq, C_EQ)
CMP_FN(ne, C_NE)
CMP_FN(lt, C_LT)
CMP_FN(le, C_LE)
CMP_FN(gt, C_GT)
CMP_FN(ge, C_GE)

static int f_not(struct sl_fcx *cx, const struct sl_value *a, int n, struct sl_value *out)
{
    if (a[0].type == SL_V_BOOL)
        *out = sl_value_bool(!a[0].u.b);
    return 0;
}

static int f_isnull(struct sl_fcx *cx, const struct sl_value *a, int n, struct sl_value *out)
{
    *out = sl_value_bool(a[0].type == SL_V_NULL);
    return 0;
}

static int f_isnotnull(struct sl_fcx *cx, const struct sl_value *a, int n, struct sl_value *out)
{
    *out = sl_value_bool(a[0].type != SL_V_NULL);
    return 0;
}

static int f_isdistinct(struct sl_fcx *cx, const struct sl_value *a, int n, struct sl_value *out)
{
    bool xn = a[0].type == SL_V_NULL, yn = a[1].type == SL_V_NULL;
    bool d = (xn || yn) ? xn != yn : !sql_equal(&a[0], &a[1]);
    *out = sl_value_bool(d);
    return 0;
}

static int f_between(struct sl_fcx *cx, const struct sl_value *a, int n, struct sl_value *out)
{
    bool r = false;
    if (a[0].type != SL_V_NULL && a[1].type != SL_V_NULL && a[2].type != SL_V_NULL) {
        int lo = cmp_values(&a[0], &a[1]), hi = cmp_values(&a[0], &a[2]);
        if (lo == 3 || hi == 3)
            return sl_fcx_error(cx, "BETWEEN: values not comparable");
        r = (lo == 0 || lo == 1) && (hi == 0 || hi == -1);
    }
    *out = sl_value_bool(r);
    return 0;
}

static int f_in(struct sl_fcx *cx, const struct sl_value *a, int n, struct sl_value *out)
{
    bool r = false;
    if (a[0].type != SL_V_NULL)
        for (int i = 1; i < n && !r; i++)
            r = a[i].type != SL_V_NULL && sql_equal(&a[0], &a[i]);
    *out = sl_value_bool(r);
    return 0;
}

/* ---- UTF-8 helpers ---- */

static size_t cp_len(unsigned char c)
{
    return c < 0x80 ? 1 : c < 0xE0 ? 2 : c < 0xF0 ? 3 : 4;
}

/* code points in s[0..n) */
static int64_t cp_count(const char *s, size_t n)
{
    int64_t k = 0;
    for (size_t i = 0; i < n; i++)
        k += ((unsigned char)s[i] & 0xC0) != 0x80;
    return k;
}

/* byte offset of code point cp (clamped to n) */
static size_t cp_off(const char *s, size_t n, int64_t cp)
{
    size_t i = 0;
    while (cp > 0 && i < n) {
        i += cp_len((unsigned char)s[i]);
        cp--;
    }
    return i < n ? i : n;
}

/* ---- LIKE ---- */

/*
 * Whole-string match of s against a LIKE pattern: % any sequence, _ one code point, esc
 * (-1: none) makes the next pattern character literal. Iterative with one backtrack point
 * (the last %): no recursion, no allocation.
 */
static bool like_match(const char *s, size_t sn, const char *p, size_t pn, int esc)
{
    size_t si = 0, pi = 0, star_p = (size_t)-1, star_s = 0;
    while (si < sn) {
        if (pi < pn) {
            unsigned char c = (unsigned char)p[pi];
            if (c == '%' && (int)c != esc) {
                star_p = ++pi;
                star_s = si;
                continue;
            }
            size_t plen = 1;
            bool any = false;
            const char *lit = p + pi;
            size_t litn;
            if (esc >= 0 && (int)c == esc && pi + 1 < pn) {
                lit = p + pi + 1;
                litn = cp_len((unsigned char)*lit);
                plen = 1 + litn;
            } else if (c == '_') {
                any = true;
                litn = 0;
            } else {
                litn = cp_len(c);
                plen = litn;
            }
            size_t slen = cp_len((unsigned char)s[si]);
            if (any) {
                si += slen;
                pi += plen;
                continue;
            }
            if (litn <= pn - (size_t)(lit - p) && litn == slen && si + slen <= sn &&
                !memcmp(s + si, lit, litn)) {
                si += slen;
                pi += plen;
                continue;
            }
        }
        if (star_p == (size_t)-1)
            return false;
        star_s += cp_len((unsigned char)s[star_s]);
        si = star_s;
        pi = star_p;
    }
    while (pi < pn && p[pi] == '%' && esc != '%')
        pi++;
    return pi >= pn;
}

static int f_like(struct sl_fcx *cx, const struct sl_value *a, int n, struct sl_value *out)
{
    bool r = false;
    if (a[0].type == SL_V_STRING && a[1].type == SL_V_STRING) {
        int esc = -1;
        if (n > 2 && a[2].type == SL_V_STRING && a[2].len)
            esc = (unsigned char)a[2].u.s[0];
        r = like_match(a[0].u.s, a[0].len, a[1].u.s, a[1].len, esc);
    }
    *out = sl_value_bool(r);
    return 0;
}

/* ---- subscripts, fields ---- */

static int subscript(struct sl_fcx *cx, const struct sl_value *a, struct sl_value *out, int base)
{
    if (a[0].type == SL_V_NULL || a[1].type == SL_V_NULL)
        return 0;
    if (a[0].type == SL_V_MAP) {
        if (a[1].type != SL_V_STRING)
            return 0;
        const struct sl_value *v = sl_value_map_get(&a[0], sl_value_as_str(&a[1]));
        if (v)
            *out = *v;
        return 0;
    }
    if (a[0].type != SL_V_LIST)
        return sl_fcx_error(cx, "cannot subscript %s", sl_vtype_name((enum sl_vtype)a[0].type));
    if (!kind_of(&a[1]) || kind_of(&a[1]) == NK_DOUBLE)
        return sl_fcx_error(cx, "array index must be an integer");
    int64_t i = a[1].u.i, len = a[0].len;
    /* ksqlDB: 1-based, negative from the end (-1 is the last); 0.6: 0-based */
    int64_t at = base == 1 ? (i > 0 ? i - 1 : i < 0 ? len + i : -1) : i;
    if (at >= 0 && at < len)
        *out = a[0].u.list[at];
    return 0;
}

static int f_subscript(struct sl_fcx *cx, const struct sl_value *a, int n, struct sl_value *out)
{
    return subscript(cx, a, out, 1);
}

static int f_subscript0(struct sl_fcx *cx, const struct sl_value *a, int n, struct sl_value *out)
{
    return subscript(cx, a, out, 0);
}

static int f_deref(struct sl_fcx *cx, const struct sl_value *a, int n, struct sl_value *out)
{
    if (a[0].type != SL_V_MAP || a[1].type != SL_V_STRING)
        return 0;
    struct sl_str k = sl_value_as_str(&a[1]);
    const struct sl_value *v = sl_value_map_get(&a[0], k);
    if (!v) { /* field names compare case-insensitively as columns do */
        for (uint32_t i = 0; i < a[0].len && !v; i++)
            if (a[0].u.map[i].key.len == k.len && !strncasecmp(a[0].u.map[i].key.ptr, k.ptr, k.len))
                v = &a[0].u.map[i].val;
    }
    if (v)
        *out = *v;
    return 0;
}

/* ---- decimal rounding on the shortest decimal form (BigDecimal.valueOf(double)) ---- */

/* v rounded to `scale` decimals, HALF_UP (half_up) or DOWN, as BigDecimal does on the
 * double's shortest decimal text */
static double dec_round(double v, int scale, bool half_up)
{
    if (!isfinite(v) || v == 0)
        return v;
    bool neg = v < 0;
    double av = neg ? -v : v;
    char buf[40];
    int prec;
    for (prec = 0; prec < 17; prec++) {
        snprintf(buf, sizeof buf, "%.*e", prec, av);
        if (strtod(buf, NULL) == av)
            break;
    }
    /* buf = d.ddddde±XX */
    char digits[24];
    int nd = 0;
    const char *p = buf;
    for (; *p && *p != 'e'; p++)
        if (*p >= '0' && *p <= '9')
            digits[nd++] = *p;
    int e10 = (int)strtol(p + 1, NULL, 10);
    int point = e10 + 1; /* digits before the decimal point */
    int keep = point + scale;
    if (keep >= nd)
        return v;
    char res[64];
    if (keep < 0) {
        return 0.0;
    } else if (keep == 0) {
        if (half_up && digits[0] >= '5')
            snprintf(res, sizeof res, "1e%d", -scale);
        else
            return 0.0;
    } else {
        char kept[24];
        memcpy(kept, digits, (size_t)keep);
        kept[keep] = 0;
        int carry = half_up && digits[keep] >= '5';
        for (int i = keep - 1; i >= 0 && carry; i--) {
            if (kept[i] == '9') {
                kept[i] = '0';
            } else {
                kept[i]++;
                carry = 0;
            }
        }
        snprintf(res, sizeof res, "%s%se%d", carry ? "1" : "", kept, -scale);
    }
    double r = strtod(res, NULL);
    return neg ? -r : r;
}

/* ---- math ---- */

static int f_abs(struct sl_fcx *cx, const struct sl_value *a, int n, struct sl_value *out)
{
    switch (kind_of(&a[0])) {
    case NK_INT:
        *out = mk_int(a[0].u.i < 0 ? (int64_t)(0 - (uint64_t)a[0].u.i) : a[0].u.i);
        return 0;
    case NK_BIGINT:
        *out = sl_sv_long(a[0].u.i < 0 ? (int64_t)(0 - (uint64_t)a[0].u.i) : a[0].u.i);
        return 0;
    case NK_DOUBLE:
        *out = sl_sv_double(fabs(a[0].u.d));
        return 0;
    default:
        return a[0].type == SL_V_NULL ? 0 : sl_fcx_error(cx, "ABS expects a number");
    }
}

static int unary_d(struct sl_fcx *cx, const struct sl_value *a, struct sl_value *out,
                   double (*f)(double), bool keep_int)
{
    enum nk k = kind_of(&a[0]);
    if (k == NK_NONE)
        return a[0].type == SL_V_NULL ? 0 : sl_fcx_error(cx, "expected a number");
    if (keep_int && k != NK_DOUBLE) {
        *out = a[0];
        return 0;
    }
    *out = sl_sv_double(f(as_f64(&a[0])));
    return 0;
}

static int f_ceil(struct sl_fcx *cx, const struct sl_value *a, int n, struct sl_value *out)
{
    return unary_d(cx, a, out, ceil, true);
}
static int f_floor(struct sl_fcx *cx, const struct sl_value *a, int n, struct sl_value *out)
{
    return unary_d(cx, a, out, floor, true);
}
static int f_sqrt(struct sl_fcx *cx, const struct sl_value *a, int n, struct sl_value *out)
{
    return unary_d(cx, a, out, sqrt, false);
}
static int f_exp(struct sl_fcx *cx, const struct sl_value *a, int n, struct sl_value *out)
{
    return unary_d(cx, a, out, exp, false);
}
static int f_ln(struct sl_fcx *cx, const struct sl_value *a, int n, struct sl_value *out)
{
    return unary_d(cx, a, out, log, false);
}

static int f_power(struct sl_fcx *cx, const struct sl_value *a, int n, struct sl_value *out)
{
    if (!kind_of(&a[0]) || !kind_of(&a[1]))
        return 0;
    *out = sl_sv_double(pow(as_f64(&a[0]), as_f64(&a[1])));
    return 0;
}

static int f_sign(struct sl_fcx *cx, const struct sl_value *a, int n, struct sl_value *out)
{
    enum nk k = kind_of(&a[0]);
    if (k == NK_NONE)
        return 0;
    if (k == NK_DOUBLE) {
        double d = a[0].u.d;
        *out = sl_sv_int(d > 0 ? 1 : d < 0 ? -1 : 0);
    } else {
        *out = sl_sv_int(a[0].u.i > 0 ? 1 : a[0].u.i < 0 ? -1 : 0);
    }
    return 0;
}

/* ROUND/TRUNC: integers unchanged (a negative scale rounds them); a DOUBLE without a scale
 * becomes a BIGINT (ROUND: Math.round, half up toward +inf; TRUNC: toward zero); with a
 * scale a DOUBLE (BigDecimal HALF_UP / DOWN) */
static int round_trunc(struct sl_fcx *cx, const struct sl_value *a, int n, struct sl_value *out,
                       bool half_up)
{
    enum nk k = kind_of(&a[0]);
    if (k == NK_NONE || (n > 1 && !kind_of(&a[1])))
        return 0;
    int64_t scale = n > 1 ? as_i64(&a[1]) : 0;
    if (scale > 30)
        scale = 30;
    if (scale < -30)
        scale = -30;
    if (k != NK_DOUBLE) {
        if (scale >= 0) {
            *out = a[0];
            return 0;
        }
        double r = dec_round((double)a[0].u.i, (int)scale, half_up);
        *out = k == NK_INT ? mk_int((int64_t)r) : sl_sv_long((int64_t)r);
        return 0;
    }
    double d = a[0].u.d;
    if (n == 1) {
        *out = sl_sv_long(
            half_up ? sl_sv_as_long(&(struct sl_value){.type = SL_V_DOUBLE, .u.d = floor(d + 0.5)})
                    : sl_sv_as_long(&a[0]));
        return 0;
    }
    *out = sl_sv_double(dec_round(d, (int)scale, half_up));
    return 0;
}

static int f_round(struct sl_fcx *cx, const struct sl_value *a, int n, struct sl_value *out)
{
    return round_trunc(cx, a, n, out, true);
}
static int f_trunc(struct sl_fcx *cx, const struct sl_value *a, int n, struct sl_value *out)
{
    return round_trunc(cx, a, n, out, false);
}

/* ---- strings ---- */

static bool all_str(const struct sl_value *a, int n)
{
    for (int i = 0; i < n; i++)
        if (a[i].type != SL_V_STRING)
            return false;
    return true;
}

static int f_len(struct sl_fcx *cx, const struct sl_value *a, int n, struct sl_value *out)
{
    if (a[0].type == SL_V_STRING)
        *out = sl_sv_int((int32_t)cp_count(a[0].u.s, a[0].len));
    else if (a[0].type == SL_V_BYTES)
        *out = sl_sv_int((int32_t)a[0].len);
    return 0;
}

static int map_case(struct sl_fcx *cx, const struct sl_value *a, struct sl_value *out, bool up)
{
    if (a[0].type != SL_V_STRING)
        return 0;
    char *p = sl_fcx_alloc(cx, a[0].len ? a[0].len : 1);
    if (!p)
        return SL_ENOMEM;
    for (uint32_t i = 0; i < a[0].len; i++) {
        unsigned char c = (unsigned char)a[0].u.s[i];
        p[i] = (char)(c < 0x80 ? (up ? toupper(c) : tolower(c)) : c);
    }
    *out = sl_value_str(p, a[0].len);
    return 0;
}

static int f_ucase(struct sl_fcx *cx, const struct sl_value *a, int n, struct sl_value *out)
{
    return map_case(cx, a, out, true);
}
static int f_lcase(struct sl_fcx *cx, const struct sl_value *a, int n, struct sl_value *out)
{
    return map_case(cx, a, out, false);
}

/* Java's String.trim(): characters <= ' ' */
static int trim(const struct sl_value *a, struct sl_value *out, bool left, bool right)
{
    if (a[0].type != SL_V_STRING)
        return 0;
    const char *s = a[0].u.s;
    size_t b = 0, e = a[0].len;
    while (left && b < e && (unsigned char)s[b] <= ' ')
        b++;
    while (right && e > b && (unsigned char)s[e - 1] <= ' ')
        e--;
    *out = sl_value_str(s + b, e - b);
    return 0;
}

static int f_trim(struct sl_fcx *cx, const struct sl_value *a, int n, struct sl_value *out)
{
    return trim(a, out, true, true);
}
static int f_ltrim(struct sl_fcx *cx, const struct sl_value *a, int n, struct sl_value *out)
{
    return trim(a, out, true, false);
}
static int f_rtrim(struct sl_fcx *cx, const struct sl_value *a, int n, struct sl_value *out)
{
    return trim(a, out, false, true);
}

/* ksqlDB Substring: 1-based; pos 0 is 1; a negative pos counts from the end; clamped */
static int f_substring(struct sl_fcx *cx, const struct sl_value *a, int n, struct sl_value *out)
{
    if (a[0].type != SL_V_STRING || !kind_of(&a[1]) || (n > 2 && !kind_of(&a[2])))
        return 0;
    int64_t len = cp_count(a[0].u.s, a[0].len);
    int64_t pos = as_i64(&a[1]);
    int64_t start = pos >= 0 ? (pos - 1 > 0 ? pos - 1 : 0) : (len + pos > 0 ? len + pos : 0);
    if (start > len)
        start = len;
    int64_t end = len;
    if (n > 2) {
        int64_t l = as_i64(&a[2]);
        end = start + l < len ? start + l : len;
        if (end < start)
            end = start;
    }
    size_t bo = cp_off(a[0].u.s, a[0].len, start);
    size_t eo = bo + cp_off(a[0].u.s + bo, a[0].len - bo, end - start);
    *out = sl_value_str(a[0].u.s + bo, eo - bo);
    return 0;
}

static int f_concat(struct sl_fcx *cx, const struct sl_value *a, int n, struct sl_value *out)
{
    size_t total = 0;
    for (int i = 0; i < n; i++)
        if (a[i].type == SL_V_STRING)
            total += a[i].len;
    char *p = sl_fcx_alloc(cx, total ? total : 1);
    if (!p)
        return SL_ENOMEM;
    size_t o = 0;
    for (int i = 0; i < n; i++)
        if (a[i].type == SL_V_STRING && a[i].len) {
            memcpy(p + o, a[i].u.s, a[i].len);
            o += a[i].len;
        }
    *out = sl_value_str(p, o);
    return 0;
}

static int f_concat_ws(struct sl_fcx *cx, const struct sl_value *a, int n, struct sl_value *out)
{
    if (a[0].type != SL_V_STRING)
        return 0;
    size_t total = 0;
    for (int i = 1; i < n; i++)
        if (a[i].type == SL_V_STRING)
            total += a[i].len + a[0].len;
    char *p = sl_fcx_alloc(cx, total ? total : 1);
    if (!p)
        return SL_ENOMEM;
    size_t o = 0;
    bool first = true;
    for (int i = 1; i < n; i++) {
        if (a[i].type != SL_V_STRING)
            continue;
        if (!first && a[0].len) {
            memcpy(p + o, a[0].u.s, a[0].len);
            o += a[0].len;
        }
        first = false;
        if (a[i].len) {
            memcpy(p + o, a[i].u.s, a[i].len);
            o += a[i].len;
        }
    }
    *out = sl_value_str(p, o);
    return 0;
}

/* Java String.replace(CharSequence, CharSequence): literal, every occurrence */
static int f_replace(struct sl_fcx *cx, const struct sl_value *a, int n, struct sl_value *out)
{
    if (!all_str(a, 3))
        return 0;
    const struct sl_value *s = &a[0], *o = &a[1], *r = &a[2];
    struct sl_buf *b = sl_fcx_scratch(cx);
    sl_buf_reset(b);
    int rc = 0;
    if (!o->len) { /* "abc".replace("", "x") = "xaxbxcx" */
        for (size_t i = 0; i < s->len && !rc;) {
            size_t l = cp_len((unsigned char)s->u.s[i]);
            if (i + l > s->len)
                l = s->len - i;
            if (!(rc = sl_buf_append(b, r->u.s, r->len)))
                rc = sl_buf_append(b, s->u.s + i, l);
            i += l;
        }
        if (!rc)
            rc = sl_buf_append(b, r->u.s, r->len);
    } else {
        const char *p = s->u.s, *end = s->u.s + s->len;
        while (!rc && p < end) {
            const char *m = memmem(p, (size_t)(end - p), o->u.s, o->len);
            if (!m) {
                rc = sl_buf_append(b, p, (size_t)(end - p));
                break;
            }
            if (!(rc = sl_buf_append(b, p, (size_t)(m - p))))
                rc = sl_buf_append(b, r->u.s, r->len);
            p = m + o->len;
        }
    }
    return rc ? rc : sl_fcx_str(cx, b->ptr ? b->ptr : "", b->len, out);
}

/* INSTR(string, substring[, position[, occurrence]]): 1-based, 0 if absent; a negative
 * position searches backwards from that many characters before the end */
static int f_instr(struct sl_fcx *cx, const struct sl_value *a, int n, struct sl_value *out)
{
    if (!all_str(a, 2) || (n > 2 && !kind_of(&a[2])) || (n > 3 && !kind_of(&a[3])))
        return 0;
    int64_t pos = n > 2 ? as_i64(&a[2]) : 1, occ = n > 3 ? as_i64(&a[3]) : 1;
    const char *s = a[0].u.s, *t = a[1].u.s;
    size_t sn = a[0].len, tn = a[1].len;
    int64_t len = cp_count(s, sn);
    *out = sl_sv_int(0);
    if (occ <= 0 || pos == 0)
        return 0;
    if (pos > 0) {
        size_t off = cp_off(s, sn, pos - 1);
        if (pos - 1 > len)
            return 0;
        for (;;) {
            const char *m = tn ? memmem(s + off, sn - off, t, tn) : s + off;
            if (!m)
                return 0;
            if (--occ == 0) {
                *out = sl_sv_int((int32_t)(cp_count(s, (size_t)(m - s)) + 1));
                return 0;
            }
            off = (size_t)(m - s) + (tn ? tn : 1);
            if (off > sn)
                return 0;
        }
    }
    int64_t from = len + pos; /* code point index to start searching backwards at */
    if (from < 0)
        return 0;
    /* walk back over code point starts: linear in the string's length */
    size_t bo = cp_off(s, sn, from);
    for (int64_t i = from > len ? len : from; i >= 0; i--) {
        if (bo + tn <= sn && !memcmp(s + bo, t, tn) && --occ == 0) {
            *out = sl_sv_int((int32_t)(i + 1));
            return 0;
        }
        while (bo > 0 && ((unsigned char)s[--bo] & 0xC0) == 0x80)
            ;
    }
    return 0;
}

/* SPLIT(string|bytes, delimiter): an empty delimiter splits into characters */
static int f_split(struct sl_fcx *cx, const struct sl_value *a, int n, struct sl_value *out)
{
    if (a[0].type == SL_V_NULL || a[1].type == SL_V_NULL)
        return 0;
    bool bytes = a[0].type == SL_V_BYTES;
    if ((a[0].type != SL_V_STRING && !bytes) || a[1].type != a[0].type)
        return sl_fcx_error(cx, "SPLIT expects two strings or two byte arrays");
    const char *s = a[0].u.s, *end = s + a[0].len, *d = a[1].u.s;
    size_t dn = a[1].len;
    uint32_t count = 0;
    if (!dn) {
        for (const char *p = s; p < end; p += bytes ? 1 : cp_len((unsigned char)*p))
            count++;
        if (!count)
            count = 1;
    } else {
        count = 1;
        for (const char *p = s; p < end;) {
            const char *m = memmem(p, (size_t)(end - p), d, dn);
            if (!m)
                break;
            count++;
            p = m + dn;
        }
    }
    int rc = sl_fcx_list(cx, count, out);
    if (rc)
        return rc;
    const char *p = s;
    for (uint32_t i = 0; i < count; i++) {
        const char *m;
        if (!dn) {
            m = p < end ? p + (bytes ? 1 : cp_len((unsigned char)*p)) : p;
            if (m > end)
                m = end;
        } else {
            m = i + 1 < count ? memmem(p, (size_t)(end - p), d, dn) : end;
        }
        out->u.list[i] = sl_value_str(p, (size_t)(m - p));
        out->u.list[i].type = a[0].type;
        p = dn ? m + dn : m;
    }
    return 0;
}

/* LPAD/RPAD(input, length, padding): truncated to length when longer; NULL for an empty
 * padding or a negative length */
static int pad(struct sl_fcx *cx, const struct sl_value *a, struct sl_value *out, bool left)
{
    if (a[0].type != SL_V_STRING || !kind_of(&a[1]) || a[2].type != SL_V_STRING)
        return 0;
    int64_t want = as_i64(&a[1]);
    if (want < 0 || !a[2].len || want > (1 << 24))
        return 0;
    int64_t have = cp_count(a[0].u.s, a[0].len);
    if (have >= want) {
        *out = sl_value_str(a[0].u.s, cp_off(a[0].u.s, a[0].len, want));
        return 0;
    }
    struct sl_buf *b = sl_fcx_scratch(cx);
    sl_buf_reset(b);
    int rc = 0;
    if (!left)
        rc = sl_buf_append(b, a[0].u.s, a[0].len);
    int64_t need = want - have, padn = cp_count(a[2].u.s, a[2].len);
    if (padn <= 0) /* only continuation bytes: not one character */
        return 0;
    while (!rc && need > 0) {
        int64_t take = need < padn ? need : padn;
        rc = sl_buf_append(b, a[2].u.s, cp_off(a[2].u.s, a[2].len, take));
        need -= take;
    }
    if (!rc && left)
        rc = sl_buf_append(b, a[0].u.s, a[0].len);
    return rc ? rc : sl_fcx_str(cx, b->ptr ? b->ptr : "", b->len, out);
}

static int f_lpad(struct sl_fcx *cx, const struct sl_value *a, int n, struct sl_value *out)
{
    return pad(cx, a, out, true);
}
static int f_rpad(struct sl_fcx *cx, const struct sl_value *a, int n, struct sl_value *out)
{
    return pad(cx, a, out, false);
}

/* TO_BYTES(string, encoding): 'utf8', 'ascii', 'hex' */
static int f_to_bytes(struct sl_fcx *cx, const struct sl_value *a, int n, struct sl_value *out)
{
    if (!all_str(a, 2))
        return 0;
    const char *enc = a[1].u.s;
    size_t en = a[1].len;
    if ((en == 4 && !strncasecmp(enc, "utf8", 4)) || (en == 5 && !strncasecmp(enc, "ascii", 5))) {
        *out = a[0];
        out->type = SL_V_BYTES;
        return 0;
    }
    if (en == 3 && !strncasecmp(enc, "hex", 3)) {
        if (a[0].len % 2)
            return sl_fcx_error(cx, "TO_BYTES: odd number of hex digits");
        unsigned char *p = sl_fcx_alloc(cx, a[0].len / 2 + 1);
        if (!p)
            return SL_ENOMEM;
        for (uint32_t i = 0; i < a[0].len; i += 2) {
            char h[3] = {a[0].u.s[i], a[0].u.s[i + 1], 0};
            if (!isxdigit((unsigned char)h[0]) || !isxdigit((unsigned char)h[1]))
                return sl_fcx_error(cx, "TO_BYTES: not a hex string");
            p[i / 2] = (unsigned char)strtol(h, NULL, 16);
        }
        *out = sl_value_str((const char *)p, a[0].len / 2);
        out->type = SL_V_BYTES;
        return 0;
    }
    return sl_fcx_error(cx, "TO_BYTES: unsupported encoding '%.*s'", (int)(en > 32 ? 32 : en), enc);
}

/* ---- regular expressions (PCRE2 for java.util.regex) ---- */

/* patterns come from fn_string.c's per-thread cache (sl_lang__regex), shared with Stellar:
 * REGEXP_EXTRACT allocates nothing per row once warm */
struct rx_entry {
    pcre2_code *code;
    pcre2_match_data *md;
};

static bool rx_get(struct sl_fcx *cx, const struct sl_value *pat, struct rx_entry *e)
{
    void *code, *md;
    if (sl_lang__regex(cx, pat, &code, &md))
        return false;
    e->code = code;
    e->md = md;
    return true;
}

static int f_regexp_extract(struct sl_fcx *cx, const struct sl_value *a, int n,
                            struct sl_value *out)
{
    /* REGEXP_EXTRACT(pattern, string[, group]): the first match (find()), or its group */
    if (!all_str(a, 2) || (n > 2 && !kind_of(&a[2])))
        return 0;
    int64_t group = n > 2 ? as_i64(&a[2]) : 0;
    struct rx_entry re, *e = &re;
    if (!rx_get(cx, &a[0], e))
        return SL_EEVAL;
    if (pcre2_match(e->code, (PCRE2_SPTR)(a[1].u.s ? a[1].u.s : ""), a[1].len, 0, 0, e->md, NULL) >
            0 &&
        group >= 0 && group < (int64_t)pcre2_get_ovector_count(e->md)) {
        PCRE2_SIZE *ov = pcre2_get_ovector_pointer(e->md);
        if (ov[2 * group] != PCRE2_UNSET && ov[2 * group + 1] >= ov[2 * group])
            *out = sl_value_str(a[1].u.s + ov[2 * group], ov[2 * group + 1] - ov[2 * group]);
    }
    return 0;
}

/* a Stellar builtin with the same semantics (REGEXP_REPLACE, DATE_FORMAT, ...) */
static int call_stellar(struct sl_fcx *cx, const char *name, const struct sl_value *a, int n,
                        struct sl_value *out)
{
    const struct sl_sfunc *f = sl_sfunc_find(name, strlen(name));
    if (!f)
        return sl_fcx_error(cx, "internal: %s is not available", name);
    return f->fn(cx, a, n, out);
}

static int f_regexp_replace(struct sl_fcx *cx, const struct sl_value *a, int n,
                            struct sl_value *out)
{
    if (!all_str(a, 3))
        return 0;
    return call_stellar(cx, "REGEXP_REPLACE", a, 3, out);
}

/* ---- nulls, collections ---- */

static int f_coalesce(struct sl_fcx *cx, const struct sl_value *a, int n, struct sl_value *out)
{
    for (int i = 0; i < n; i++)
        if (a[i].type != SL_V_NULL) {
            *out = a[i];
            return 0;
        }
    return 0;
}

static int f_nullif(struct sl_fcx *cx, const struct sl_value *a, int n, struct sl_value *out)
{
    if (a[0].type != SL_V_NULL && a[1].type != SL_V_NULL && sql_equal(&a[0], &a[1]))
        return 0;
    *out = a[0];
    return 0;
}

static int f_array_length(struct sl_fcx *cx, const struct sl_value *a, int n, struct sl_value *out)
{
    if (a[0].type == SL_V_LIST)
        *out = sl_sv_int((int32_t)a[0].len);
    return 0;
}

static int f_array_contains(struct sl_fcx *cx, const struct sl_value *a, int n,
                            struct sl_value *out)
{
    if (a[0].type != SL_V_LIST)
        return 0;
    bool r = false;
    for (uint32_t i = 0; i < a[0].len && !r; i++) {
        const struct sl_value *e = &a[0].u.list[i];
        r = (e->type == SL_V_NULL && a[1].type == SL_V_NULL) ||
            (e->type != SL_V_NULL && a[1].type != SL_V_NULL && sql_equal(e, &a[1]));
    }
    *out = sl_value_bool(r);
    return 0;
}

/* ELT(n, s1, s2, ...): the n-th string (1-based), NULL out of range */
static int f_elt(struct sl_fcx *cx, const struct sl_value *a, int n, struct sl_value *out)
{
    if (!kind_of(&a[0]) || kind_of(&a[0]) == NK_DOUBLE)
        return 0;
    int64_t i = a[0].u.i;
    if (i >= 1 && i < n)
        *out = a[i];
    return 0;
}

/* FIELD(s, s1, s2, ...): 1-based position of s among the others, 0 if absent or NULL */
static int f_field(struct sl_fcx *cx, const struct sl_value *a, int n, struct sl_value *out)
{
    *out = sl_sv_int(0);
    if (a[0].type == SL_V_NULL)
        return 0;
    for (int i = 1; i < n; i++)
        if (a[i].type != SL_V_NULL && sql_equal(&a[0], &a[i])) {
            *out = sl_sv_int(i);
            return 0;
        }
    return 0;
}

/* ---- time ---- */

static int f_unix_timestamp(struct sl_fcx *cx, const struct sl_value *a, int n,
                            struct sl_value *out)
{
    if (n > 0) {
        if (a[0].type == SL_V_TS)
            *out = sl_sv_long(a[0].u.ts_ns / 1000000);
        else if (kind_of(&a[0]) == NK_BIGINT || kind_of(&a[0]) == NK_INT)
            *out = sl_sv_long(a[0].u.i);
        return 0;
    }
    *out = sl_sv_long(sl_fcx_now_ms(cx));
    return 0;
}

/* TIMESTAMPTOSTRING(epoch_ms, format[, zone]): DateTimeFormatter patterns, through
 * Stellar's SimpleDateFormat implementation (the same letters for y M d H m s S, quotes) */
static int f_ts_to_string(struct sl_fcx *cx, const struct sl_value *a, int n, struct sl_value *out)
{
    if (!kind_of(&a[0]) || a[1].type != SL_V_STRING || (n > 2 && a[2].type != SL_V_STRING))
        return 0;
    struct sl_value args[3] = {a[1], sl_sv_long(as_i64(&a[0])),
                               n > 2 ? a[2] : sl_value_str("UTC", 3)};
    return call_stellar(cx, "DATE_FORMAT", args, 3, out);
}

/* STRINGTOTIMESTAMP(text, format[, zone]): epoch ms; NULL when it does not parse */
static int f_string_to_ts(struct sl_fcx *cx, const struct sl_value *a, int n, struct sl_value *out)
{
    if (!all_str(a, n))
        return 0;
    return call_stellar(cx, "TO_EPOCH_TIMESTAMP", a, n, out);
}

/* ---- CAST ---- */

struct cmem {
    struct sl_fcx *cx;
    struct sl_arena *arena;
};

static void *cmem_alloc(struct cmem *m, size_t n)
{
    return m->cx ? sl_fcx_alloc(m->cx, n ? n : 1) : sl_arena_alloc(m->arena, n ? n : 1);
}

static bool trimmed(const struct sl_value *v, const char **p, size_t *n)
{
    const char *s = v->u.s;
    size_t b = 0, e = v->len;
    while (b < e && (unsigned char)s[b] <= ' ')
        b++;
    while (e > b && (unsigned char)s[e - 1] <= ' ')
        e--;
    *p = s + b;
    *n = e - b;
    return *n > 0;
}

static int cast_err(char *err, size_t err_len, const struct sl_value *v, const char *to)
{
    if (v->type == SL_V_STRING)
        snprintf(err, err_len, "cannot cast '%.*s' to %s", (int)(v->len > 64 ? 64 : v->len), v->u.s,
                 to);
    else
        snprintf(err, err_len, "cannot cast %s to %s", sl_vtype_name((enum sl_vtype)v->type), to);
    return SL_EINVAL;
}

static int text_into(struct cmem *m, const struct sl_value *v, struct sl_value *out)
{
    struct sl_buf b;
    sl_buf_init(&b, 16u << 20);
    int rc = sl_sv_format(v, &b);
    if (!rc) {
        char *p = cmem_alloc(m, b.len);
        if (!p) {
            rc = SL_ENOMEM;
        } else {
            if (b.len)
                memcpy(p, b.ptr, b.len);
            *out = sl_value_str(p, b.len);
        }
    }
    sl_buf_fini(&b);
    return rc;
}

/* The scalar and recursive cast (sql_expr.h, sl_sql_cast). */
int sl_sql__cast(const struct sl_value *v, const struct sl_sql_type *t, struct sl_fcx *cx,
                 struct sl_arena *arena, struct sl_value *out, char *err, size_t err_len)
{
    struct cmem m = {cx, arena};
    *out = sl_value_null();
    if (v->type == SL_V_NULL || !t)
        return 0;
    const char *p;
    size_t n;
    enum nk k = kind_of(v);
    switch (t->kind) {
    case SL_SQL_T_UNKNOWN:
        *out = *v;
        return 0;
    case SL_SQL_T_BOOLEAN:
        if (v->type == SL_V_BOOL) {
            *out = *v;
            return 0;
        }
        if (v->type == SL_V_STRING && trimmed(v, &p, &n)) {
            static const char *const yes[] = {"true", "t", "yes", "y"};
            static const char *const no[] = {"false", "f", "no", "n"};
            for (int i = 0; i < 4; i++) {
                if (strlen(yes[i]) == n && !strncasecmp(p, yes[i], n)) {
                    *out = sl_value_bool(true);
                    return 0;
                }
                if (strlen(no[i]) == n && !strncasecmp(p, no[i], n)) {
                    *out = sl_value_bool(false);
                    return 0;
                }
            }
        }
        return cast_err(err, err_len, v, "BOOLEAN");
    case SL_SQL_T_INT:
    case SL_SQL_T_BIGINT: {
        bool i32 = t->kind == SL_SQL_T_INT;
        int64_t r;
        if (k == NK_DOUBLE) {
            r = i32 ? d2i(v->u.d) : sl_sv_as_long(v);
        } else if (k) {
            r = v->u.i;
        } else if (v->type == SL_V_STRING && trimmed(v, &p, &n) && !sl_sv_parse_long(p, n, &r)) {
            if (i32 && (r > INT32_MAX || r < INT32_MIN))
                return cast_err(err, err_len, v, "INTEGER");
        } else {
            return cast_err(err, err_len, v, i32 ? "INTEGER" : "BIGINT");
        }
        *out = i32 ? mk_int(r) : sl_sv_long(r);
        return 0;
    }
    case SL_SQL_T_DOUBLE:
    case SL_SQL_T_DECIMAL: {
        double d;
        if (k) {
            d = as_f64(v);
        } else if (v->type == SL_V_STRING && trimmed(v, &p, &n) && !sl_sv_parse_double(p, n, &d)) {
        } else {
            return cast_err(err, err_len, v, t->kind == SL_SQL_T_DOUBLE ? "DOUBLE" : "DECIMAL");
        }
        if (t->kind == SL_SQL_T_DECIMAL && t->precision) {
            d = dec_round(d, t->scale, true);
            if (fabs(d) >= pow(10.0, (double)(t->precision - t->scale))) {
                snprintf(err, err_len, "value does not fit DECIMAL(%u, %u)", t->precision,
                         t->scale);
                return SL_EINVAL;
            }
        }
        *out = sl_sv_double(d);
        return 0;
    }
    case SL_SQL_T_STRING:
        if (v->type == SL_V_STRING) {
            *out = *v;
            return 0;
        }
        if (v->type == SL_V_BYTES)
            return cast_err(err, err_len, v, "STRING");
        if (k == NK_INT || k == NK_BIGINT) {
            char buf[24];
            int l = snprintf(buf, sizeof buf, "%lld", (long long)v->u.i);
            char *s = cmem_alloc(&m, (size_t)l);
            if (!s)
                return SL_ENOMEM;
            memcpy(s, buf, (size_t)l);
            *out = sl_value_str(s, (size_t)l);
            return 0;
        }
        return text_into(&m, v, out);
    case SL_SQL_T_ARRAY: {
        if (v->type != SL_V_LIST)
            return cast_err(err, err_len, v, "ARRAY");
        struct sl_value *l = cmem_alloc(&m, (v->len ? v->len : 1) * sizeof *l);
        if (!l)
            return SL_ENOMEM;
        for (uint32_t i = 0; i < v->len; i++) {
            int rc = sl_sql__cast(&v->u.list[i], t->elem, cx, arena, &l[i], err, err_len);
            if (rc)
                return rc;
        }
        *out = (struct sl_value){.type = SL_V_LIST, .len = v->len};
        out->u.list = l;
        return 0;
    }
    case SL_SQL_T_MAP:
    case SL_SQL_T_STRUCT: {
        if (v->type != SL_V_MAP)
            return cast_err(err, err_len, v, t->kind == SL_SQL_T_MAP ? "MAP" : "STRUCT");
        uint32_t cnt = t->kind == SL_SQL_T_MAP ? v->len : t->nfields;
        struct sl_kv *kv = cmem_alloc(&m, (cnt ? cnt : 1) * sizeof *kv);
        if (!kv)
            return SL_ENOMEM;
        for (uint32_t i = 0; i < cnt; i++) {
            const struct sl_value *src;
            const struct sl_sql_type *et;
            if (t->kind == SL_SQL_T_MAP) {
                kv[i].key = v->u.map[i].key;
                src = &v->u.map[i].val;
                et = t->elem;
            } else {
                const char *fname = t->fields[i].name;
                kv[i].key = sl_str_make(fname, strlen(fname));
                struct sl_value key = sl_value_str(fname, strlen(fname)), got = sl_value_null();
                const struct sl_value *f = sl_value_map_get(v, kv[i].key);
                for (uint32_t j = 0; !f && j < v->len; j++)
                    if (v->u.map[j].key.len == key.len &&
                        !strncasecmp(v->u.map[j].key.ptr, fname, key.len))
                        f = &v->u.map[j].val;
                src = f ? f : &got;
                et = t->fields[i].type;
            }
            int rc = sl_sql__cast(src, et, cx, arena, &kv[i].val, err, err_len);
            if (rc)
                return rc;
        }
        *out = (struct sl_value){.type = SL_V_MAP, .len = cnt};
        out->u.map = kv;
        return 0;
    }
    case SL_SQL_T_BYTES:
        if (v->type == SL_V_BYTES) {
            *out = *v;
            return 0;
        }
        return cast_err(err, err_len, v, "BYTES");
    default:
        *out = *v; /* TIMESTAMP/DATE/TIME: kept as they are */
        return 0;
    }
}

/* $CAST(x, type): the type is a constant object made by sql_expr.c (sl_sql__type_object) */
static const struct sl_object_type sqltype_obj = {.name = "sql type"};

struct sqltype_box {
    struct sl_object base;
    const struct sl_sql_type *t;
};

struct sl_value sl_sql__type_value(void *box_mem, const struct sl_sql_type *t)
{
    struct sqltype_box *b = box_mem;
    b->base.type = &sqltype_obj;
    atomic_init(&b->base.refs, 1u << 30);
    b->t = t;
    struct sl_value v = {.type = SL_V_OBJECT};
    v.u.obj = &b->base;
    return v;
}
size_t sl_sql__type_box_size(void)
{
    return sizeof(struct sqltype_box);
}

static int cast_to(struct sl_fcx *cx, const struct sl_value *v, const struct sl_sql_type *t,
                   struct sl_value *out)
{
    char err[160];
    int rc = sl_sql__cast(v, t, cx, NULL, out, err, sizeof err);
    if (rc == SL_EINVAL) { /* ksqlDB: logged, the value is NULL */
        *out = sl_value_null();
        return 0;
    }
    return rc;
}

static int f_cast(struct sl_fcx *cx, const struct sl_value *a, int n, struct sl_value *out)
{
    if (a[1].type != SL_V_OBJECT || a[1].u.obj->type != &sqltype_obj)
        return sl_fcx_error(cx, "internal: $CAST without a type");
    const struct sqltype_box *b = (const struct sqltype_box *)(const void *)a[1].u.obj;
    return cast_to(cx, &a[0], b->t, out);
}

#define CAST_FN(name, KIND)                                                                        \
    static int f_cast_##name(struct sl_fcx *cx, const struct sl_value *a, int n,                   \
                             struct sl_value *out)                                                 \
    {                                                                                              \
        static const struct sl_sql_type t = {.kind = KIND};                                        \
        return cast_to(cx, &a[0], &t, out);                                                        \
    }
CAST_FN(boolean, SL_SQL_T_BOOLEAN)
CAST_FN(int, SL_SQL_T_INT)
CAST_FN(bigint, SL_SQL_T_BIGINT)
CAST_FN(double, SL_SQL_T_DOUBLE)
CAST_FN(string, SL_SQL_T_STRING)

/* $CAST_DECIMAL(x, precision, scale) */
static int f_cast_decimal(struct sl_fcx *cx, const struct sl_value *a, int n, struct sl_value *out)
{
    struct sl_sql_type t = {.kind = SL_SQL_T_DECIMAL,
                            .precision = (uint8_t)as_i64(&a[1]),
                            .scale = (uint8_t)as_i64(&a[2])};
    return cast_to(cx, &a[0], &t, out);
}

/* ---- the table ---- */

#define P  SL_SF_PURE
#define PB (SL_SF_PURE | SL_SF_BOOL)
#define V  SL_SF_VARARGS
#define OPS(NAME, fn)                                                                              \
    {"$" NAME, 2, 2, P, "(x, y)", "COMMON", "operator", f_##fn##_any},                             \
        {"$" NAME "_INT", 2, 2, P, "(x, y)", "INTEGER", "operator", f_##fn##_int},                 \
        {"$" NAME "_BIGINT", 2, 2, P, "(x, y)", "BIGINT", "operator", f_##fn##_bigint},            \
    {                                                                                              \
        "$" NAME "_DOUBLE", 2, 2, P, "(x, y)", "DOUBLE", "operator", f_##fn##_double               \
    }

const struct sl_sfunc sl_sfuncs_sql[] = {
    /* operators (internal: "$" names cannot be written in SQL) */
    OPS("ADD", add),
    OPS("SUB", sub),
    OPS("MUL", mul),
    OPS("DIV", div),
    OPS("MOD", mod),
    {"$NEG", 1, 1, P, "(x)", "ARG1", "unary minus", f_neg},
    {"$CONCAT", 2, 2, P, "(s, t)", "STRING", "string + string; NULL if either is NULL",
     f_concat_op},
    {"$EQ", 2, 2, PB, "(x, y)", "BOOLEAN", "=; FALSE if either is NULL", f_eq},
    {"$NE", 2, 2, PB, "(x, y)", "BOOLEAN", "<>; FALSE if either is NULL", f_ne},
    {"$LT", 2, 2, PB, "(x, y)", "BOOLEAN", "<", f_lt},
    {"$LE", 2, 2, PB, "(x, y)", "BOOLEAN", "<=", f_le},
    {"$GT", 2, 2, PB, "(x, y)", "BOOLEAN", ">", f_gt},
    {"$GE", 2, 2, PB, "(x, y)", "BOOLEAN", ">=", f_ge},
    {"$NOT", 1, 1, P, "(b)", "BOOLEAN", "NOT; NULL stays NULL", f_not},
    {"$ISNULL", 1, 1, PB, "(x)", "BOOLEAN", "IS NULL", f_isnull},
    {"$ISNOTNULL", 1, 1, PB, "(x)", "BOOLEAN", "IS NOT NULL", f_isnotnull},
    {"$ISDISTINCT", 2, 2, PB, "(x, y)", "BOOLEAN", "IS DISTINCT FROM", f_isdistinct},
    {"$BETWEEN", 3, 3, PB, "(x, lo, hi)", "BOOLEAN", "lo <= x <= hi; FALSE on NULL", f_between},
    {"$IN", 1, V, PB, "(x, v...)", "BOOLEAN", "x IN (v...); FALSE for a NULL x", f_in},
    {"$LIKE", 2, 3, PB, "(s, pattern, escape?)", "BOOLEAN", "LIKE with % and _", f_like},
    {"$SUBSCRIPT", 2, 2, P, "(a, i)", "ELEM1", "a[i], 1-based (negative from the end)",
     f_subscript},
    {"$SUBSCRIPT0", 2, 2, P, "(a, i)", "ELEM1", "a[i], 0-based (ksqlDB 0.6)", f_subscript0},
    {"$DEREF", 2, 2, P, "(s, field)", "UNKNOWN", "s->field", f_deref},
    {"$CAST", 2, 2, P, "(x, type)", "UNKNOWN", "CAST to an ARRAY, MAP or STRUCT type", f_cast},
    {"$CAST_BOOLEAN", 1, 1, P, "(x)", "BOOLEAN", "CAST AS BOOLEAN", f_cast_boolean},
    {"$CAST_INT", 1, 1, P, "(x)", "INTEGER", "CAST AS INT", f_cast_int},
    {"$CAST_BIGINT", 1, 1, P, "(x)", "BIGINT", "CAST AS BIGINT", f_cast_bigint},
    {"$CAST_DOUBLE", 1, 1, P, "(x)", "DOUBLE", "CAST AS DOUBLE", f_cast_double},
    {"$CAST_STRING", 1, 1, P, "(x)", "STRING", "CAST AS STRING", f_cast_string},
    {"$CAST_DECIMAL", 3, 3, P, "(x, p, s)", "DECIMAL", "CAST AS DECIMAL(p, s)", f_cast_decimal},

    /* scalar functions */
    {"ABS", 1, 1, P, "(x)", "ARG1", "Absolute value.", f_abs},
    {"CEIL", 1, 1, P, "(x)", "ARG1", "Smallest integral value not below x.", f_ceil},
    {"CEILING", 1, 1, P, "(x)", "ARG1", "CEIL.", f_ceil},
    {"FLOOR", 1, 1, P, "(x)", "ARG1", "Largest integral value not above x.", f_floor},
    {"ROUND", 1, 2, P, "(x, scale?)", "ROUND",
     "Rounds half up; a DOUBLE without a scale becomes a BIGINT.", f_round},
    {"TRUNC", 1, 2, P, "(x, scale?)", "ROUND",
     "Truncates toward zero; a DOUBLE without a scale becomes a BIGINT.", f_trunc},
    {"SIGN", 1, 1, P, "(x)", "INTEGER", "-1, 0 or 1.", f_sign},
    {"SQRT", 1, 1, P, "(x)", "DOUBLE", "Square root.", f_sqrt},
    {"EXP", 1, 1, P, "(x)", "DOUBLE", "e to the x.", f_exp},
    {"LN", 1, 1, P, "(x)", "DOUBLE", "Natural logarithm.", f_ln},
    {"POWER", 2, 2, P, "(x, y)", "DOUBLE", "x to the y.", f_power},
    {"LEN", 1, 1, P, "(s)", "INTEGER", "Length in characters.", f_len},
    {"LENGTH", 1, 1, P, "(s)", "INTEGER", "LEN.", f_len},
    {"UCASE", 1, 1, P, "(s)", "STRING", "Upper case (ASCII letters).", f_ucase},
    {"UPPER", 1, 1, P, "(s)", "STRING", "UCASE.", f_ucase},
    {"LCASE", 1, 1, P, "(s)", "STRING", "Lower case (ASCII letters).", f_lcase},
    {"LOWER", 1, 1, P, "(s)", "STRING", "LCASE.", f_lcase},
    {"TRIM", 1, 1, P, "(s)", "STRING", "Removes leading and trailing whitespace.", f_trim},
    {"LTRIM", 1, 1, P, "(s)", "STRING", "Removes leading whitespace.", f_ltrim},
    {"RTRIM", 1, 1, P, "(s)", "STRING", "Removes trailing whitespace.", f_rtrim},
    {"SUBSTRING", 2, 3, P, "(s, pos, len?)", "STRING",
     "1-based substring; a negative pos counts from the end; clamped.", f_substring},
    {"CONCAT", 1, V, P, "(s...)", "STRING", "Concatenation; NULL arguments are skipped.", f_concat},
    {"CONCAT_WS", 2, V, P, "(sep, s...)", "STRING", "Concatenation with a separator.", f_concat_ws},
    {"REPLACE", 3, 3, P, "(s, old, new)", "STRING", "Replaces every occurrence of old.", f_replace},
    {"INSTR", 2, 4, P, "(s, sub, pos?, occurrence?)", "INTEGER",
     "1-based position of sub in s, 0 if absent.", f_instr},
    {"SPLIT", 2, 2, P, "(s, delimiter)", "SPLIT", "Splits s at each delimiter.", f_split},
    {"LPAD", 3, 3, P, "(s, len, pad)", "STRING", "Pads on the left to len characters.", f_lpad},
    {"RPAD", 3, 3, P, "(s, len, pad)", "STRING", "Pads on the right to len characters.", f_rpad},
    {"TO_BYTES", 2, 2, P, "(s, encoding)", "BYTES", "Bytes of s ('utf8', 'ascii', 'hex').",
     f_to_bytes},
    {"REGEXP_EXTRACT", 2, 3, P, "(pattern, s, group?)", "STRING",
     "The first match of pattern in s (or its group).", f_regexp_extract},
    {"REGEXP_REPLACE", 3, 3, P, "(s, pattern, replacement)", "STRING",
     "Replaces every match; $1 is group 1.", f_regexp_replace},
    {"COALESCE", 1, V, P, "(x...)", "COMMON", "The first non-NULL argument.", f_coalesce},
    {"IFNULL", 2, 2, P, "(x, y)", "COMMON", "x, or y when x is NULL.", f_coalesce},
    {"NULLIF", 2, 2, P, "(x, y)", "ARG1", "NULL if x = y, else x.", f_nullif},
    {"ARRAY_LENGTH", 1, 1, P, "(a)", "INTEGER", "Number of elements.", f_array_length},
    {"ARRAY_CONTAINS", 2, 2, P, "(a, x)", "BOOLEAN", "True if a holds x.", f_array_contains},
    {"ELT", 2, V, P, "(n, s...)", "STRING", "The n-th string (1-based).", f_elt},
    {"FIELD", 2, V, P, "(s, s...)", "INTEGER", "1-based position of s among the others.", f_field},
    {"UNIX_TIMESTAMP", 0, 1, 0, "(ts?)", "BIGINT", "Now (or ts) in epoch milliseconds.",
     f_unix_timestamp},
    {"TIMESTAMPTOSTRING", 2, 3, P, "(epoch_ms, format, zone?)", "STRING",
     "Formats epoch milliseconds with a DateTimeFormatter pattern (default zone UTC).",
     f_ts_to_string},
    {"STRINGTOTIMESTAMP", 2, 3, P, "(text, format, zone?)", "BIGINT",
     "Parses text with a DateTimeFormatter pattern into epoch milliseconds.", f_string_to_ts},
    {0},
};

#undef P
#undef PB
#undef V

const struct sl_sfunc *sl_sql__func_find(const char *name)
{
    for (const struct sl_sfunc *f = sl_sfuncs_sql; f->name; f++)
        if (!strcmp(f->name, name))
            return f;
    return NULL;
}
