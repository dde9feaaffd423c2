/*
 * fn_core.c — Stellar builtins: conversions (TO_*), type tests (IS_*), LENGTH, math.
 *
 * Conversions follow commons-beanutils as Metron registers it (throwException=false,
 * defaultNull=true): numbers narrow by truncation, strings parse, and whatever does not
 * convert gives null rather than an error. Math functions take any number and answer Double;
 * a null or missing argument gives NaN; ROUND answers Long (Math.round, half up).
 */
#include "lang/func.h"
#include "lang/sval.h"

#include <math.h>
#include <string.h>

static bool as_double(const struct sl_value *v, double *d)
{
    if (sl_sv_is_num(v)) {
        *d = sl_sv_as_double(v);
        return true;
    }
    if (v->type == SL_V_STRING)
        return sl_sv_parse_double(v->u.s, v->len, d) == 0;
    return false;
}

/* Number.intValue() on a double: NaN → 0, saturating. */
static int64_t d2l(double d)
{
    if (isnan(d))
        return 0;
    if (d >= 9223372036854775807.0)
        return INT64_MAX;
    if (d <= -9223372036854775808.0)
        return INT64_MIN;
    return (int64_t)d;
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

/* String → integer as beanutils: an integer literal, else null. */
static bool str_long(const struct sl_value *v, int64_t *out)
{
    return sl_sv_parse_long(v->u.s, v->len, out) == 0;
}

static int f_to_integer(struct sl_fcx *cx, const struct sl_value *a, int n, struct sl_value *out)
{
    (void)cx;
    (void)n;
    int64_t l;
    if (a[0].type == SL_V_INT)
        *out = sl_sv_int((int32_t)(uint32_t)a[0].u.i);
    else if (a[0].type == SL_V_DOUBLE)
        *out = sl_sv_int(d2i(a[0].u.d));
    else if (a[0].type == SL_V_STRING && str_long(&a[0], &l) && l >= INT32_MIN && l <= INT32_MAX)
        *out = sl_sv_int((int32_t)l);
    return 0;
}

static int f_to_long(struct sl_fcx *cx, const struct sl_value *a, int n, struct sl_value *out)
{
    (void)cx;
    (void)n;
    int64_t l;
    if (a[0].type == SL_V_INT)
        *out = sl_sv_long(a[0].u.i);
    else if (a[0].type == SL_V_DOUBLE)
        *out = sl_sv_long(d2l(a[0].u.d));
    else if (a[0].type == SL_V_STRING && str_long(&a[0], &l))
        *out = sl_sv_long(l);
    return 0;
}

static int f_to_double(struct sl_fcx *cx, const struct sl_value *a, int n, struct sl_value *out)
{
    (void)cx;
    (void)n;
    double d;
    if (as_double(&a[0], &d))
        *out = sl_sv_double(d);
    return 0;
}

static int f_to_float(struct sl_fcx *cx, const struct sl_value *a, int n, struct sl_value *out)
{
    (void)cx;
    (void)n;
    double d;
    if (as_double(&a[0], &d))
        *out = sl_sv_float((float)d);
    return 0;
}

static int f_to_boolean(struct sl_fcx *cx, const struct sl_value *a, int n, struct sl_value *out)
{
    (void)cx;
    (void)n;
    int b = sl_sv_to_bool(&a[0]);
    if (b >= 0)
        *out = sl_value_bool(b == 1);
    return 0;
}

static int f_to_string(struct sl_fcx *cx, const struct sl_value *a, int n, struct sl_value *out)
{
    (void)n;
    if (a[0].type == SL_V_NULL)
        return 0;
    if (a[0].type == SL_V_STRING) {
        *out = a[0];
        return 0;
    }
    struct sl_buf *b = sl_fcx_scratch(cx);
    sl_buf_reset(b);
    int rc = sl_sv_format(&a[0], b);
    return rc ? rc : sl_fcx_str(cx, b->ptr ? b->ptr : "", b->len, out);
}

static int f_length(struct sl_fcx *cx, const struct sl_value *a, int n, struct sl_value *out)
{
    (void)cx;
    (void)n;
    int32_t len = 0;
    if (a[0].type == SL_V_STRING) {
        /* String.length(): UTF-16 code units */
        for (uint32_t i = 0; i < a[0].len; i++) {
            unsigned char c = (unsigned char)a[0].u.s[i];
            if ((c & 0xC0) != 0x80)
                len += c >= 0xF0 ? 2 : 1;
        }
    } else if (a[0].type == SL_V_LIST || a[0].type == SL_V_MAP) {
        len = (int32_t)a[0].len;
    }
    *out = sl_sv_int(len);
    return 0;
}

static int f_is_empty(struct sl_fcx *cx, const struct sl_value *a, int n, struct sl_value *out)
{
    (void)cx;
    (void)n;
    bool e = a[0].type == SL_V_NULL ||
             ((a[0].type == SL_V_STRING || a[0].type == SL_V_LIST || a[0].type == SL_V_MAP) &&
              a[0].len == 0);
    *out = sl_value_bool(e);
    return 0;
}

static int f_is_nan(struct sl_fcx *cx, const struct sl_value *a, int n, struct sl_value *out)
{
    (void)n;
    if (!sl_sv_is_num(&a[0]))
        return sl_fcx_error(cx, "IS_NAN expects a number");
    *out = sl_value_bool(a[0].type == SL_V_DOUBLE && isnan(a[0].u.d));
    return 0;
}

static int f_is_integer(struct sl_fcx *cx, const struct sl_value *a, int n, struct sl_value *out)
{
    (void)cx;
    (void)n;
    int64_t l;
    bool y = a[0].type == SL_V_INT ||
             (a[0].type == SL_V_STRING && str_long(&a[0], &l) && l >= INT32_MIN && l <= INT32_MAX);
    *out = sl_value_bool(y);
    return 0;
}

static int f_is_double(struct sl_fcx *cx, const struct sl_value *a, int n, struct sl_value *out)
{
    (void)cx;
    (void)n;
    double d;
    *out = sl_value_bool(a[0].type == SL_V_DOUBLE ||
                         (a[0].type == SL_V_STRING && as_double(&a[0], &d)));
    return 0;
}

#define MATH1(fname, expr)                                                                         \
    static int fname(struct sl_fcx *cx, const struct sl_value *a, int n, struct sl_value *out)     \
    {                                                                                              \
        (void)cx;                                                                                  \
        if (n < 1 || !sl_sv_is_num(&a[0])) {                                                       \
            *out = sl_sv_double(NAN);                                                              \
            return 0;                                                                              \
        }                                                                                          \
        double x = sl_sv_as_double(&a[0]);                                                         \
        *out = sl_sv_double(expr);                                                                 \
        return 0;                                                                                  \
    }
MATH1(f_abs, fabs(x))
MATH1(f_ceiling, ceil(x))
MATH1(f_floor, floor(x))
MATH1(f_sqrt, sqrt(x))
MATH1(f_ln, log(x))
MATH1(f_log2, log2(x))
MATH1(f_log10, log10(x))
MATH1(f_exp, exp(x))
MATH1(f_sin, sin(x))
MATH1(f_cos, cos(x))
MATH1(f_tan, tan(x))

static int f_round(struct sl_fcx *cx, const struct sl_value *a, int n, struct sl_value *out)
{
    (void)cx;
    (void)n;
    if (!sl_sv_is_num(&a[0])) {
        *out = sl_sv_double(NAN);
        return 0;
    }
    double x = sl_sv_as_double(&a[0]);
    if (isnan(x)) {
        *out = sl_sv_double(NAN);
        return 0;
    }
    *out = sl_sv_long(d2l(floor(x + 0.5))); /* Math.round: half up */
    return 0;
}

static int f_bin(struct sl_fcx *cx, const struct sl_value *a, int n, struct sl_value *out)
{
    (void)n;
    if (!sl_sv_is_num(&a[0]) || a[1].type != SL_V_LIST) {
        *out = sl_sv_int(-1);
        return 0;
    }
    double x = sl_sv_as_double(&a[0]);
    int32_t i = 0;
    for (; i < (int32_t)a[1].len; i++) {
        if (!sl_sv_is_num(&a[1].u.list[i]))
            return sl_fcx_error(cx, "BIN bounds must be numbers");
        if (x <= sl_sv_as_double(&a[1].u.list[i]))
            break;
    }
    *out = sl_sv_int(i);
    return 0;
}

const struct sl_sfunc sl_sfuncs_core[] = {
    {"TO_INTEGER", 1, 1, SL_SF_PURE, "(input)", "Integer",
     "Converts to an Integer: numbers truncate, strings parse; null when it does not convert.",
     f_to_integer},
    {"TO_LONG", 1, 1, SL_SF_PURE, "(input)", "Long",
     "Converts to a Long: numbers truncate, strings parse; null when it does not convert.",
     f_to_long},
    {"TO_DOUBLE", 1, 1, SL_SF_PURE, "(input)", "Double",
     "Converts to a Double; null when it does not convert.", f_to_double},
    {"TO_FLOAT", 1, 1, SL_SF_PURE, "(input)", "Float",
     "Converts to a Float; null when it does not convert.", f_to_float},
    {"TO_BOOLEAN", 1, 1, SL_SF_PURE, "(input)", "Boolean",
     "true/yes/y/on/1 are true, false/no/n/off/0 false; null otherwise.", f_to_boolean},
    {"TO_STRING", 1, 1, SL_SF_PURE, "(input)", "String", "Java's toString(); null stays null.",
     f_to_string},
    {"LENGTH", 1, 1, SL_SF_PURE, "(input)", "Integer",
     "Length of a string (UTF-16 units, as Java), size of a list or map; 0 otherwise.", f_length},
    {"IS_EMPTY", 1, 1, SL_SF_PURE, "(input)", "Boolean",
     "true for null, '', [] and {}; false for any other value.", f_is_empty},
    {"IS_NAN", 1, 1, SL_SF_PURE, "(number)", "Boolean",
     "true if the number is NaN; an error for a non-number.", f_is_nan},
    {"IS_INTEGER", 1, 1, SL_SF_PURE, "(input)", "Boolean",
     "true for an integer or a string holding an int.", f_is_integer},
    {"IS_DOUBLE", 1, 1, SL_SF_PURE, "(input)", "Boolean",
     "true for a double or a string holding a decimal number.", f_is_double},
    {"ABS", 0, 1, SL_SF_PURE, "(number)", "Double", "Absolute value; NaN for null.", f_abs},
    {"CEILING", 0, 1, SL_SF_PURE, "(number)", "Double", "Ceiling; NaN for null.", f_ceiling},
    {"FLOOR", 0, 1, SL_SF_PURE, "(number)", "Double", "Floor; NaN for null.", f_floor},
    {"SQRT", 0, 1, SL_SF_PURE, "(number)", "Double", "Square root; NaN below 0.", f_sqrt},
    {"LN", 0, 1, SL_SF_PURE, "(number)", "Double", "Natural logarithm; LN(0) = -Infinity.", f_ln},
    {"LOG2", 0, 1, SL_SF_PURE, "(number)", "Double", "Base-2 logarithm.", f_log2},
    {"LOG10", 0, 1, SL_SF_PURE, "(number)", "Double", "Base-10 logarithm.", f_log10},
    {"EXP", 0, 1, SL_SF_PURE, "(number)", "Double", "e to the power of the number.", f_exp},
    {"SIN", 0, 1, SL_SF_PURE, "(number)", "Double", "Sine (radians).", f_sin},
    {"COS", 0, 1, SL_SF_PURE, "(number)", "Double", "Cosine (radians).", f_cos},
    {"TAN", 0, 1, SL_SF_PURE, "(number)", "Double", "Tangent (radians).", f_tan},
    {"ROUND", 1, 1, SL_SF_PURE, "(number)", "Long",
     "Math.round: half up (ROUND(-0.5) = 0); NaN stays NaN.", f_round},
    {"BIN", 2, 2, SL_SF_PURE, "(value, bounds)", "Integer",
     "Index of the first bound >= value (bounds ascending); -1 for a non-number.", f_bin},
    {0},
};
