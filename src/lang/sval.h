/*
 * sval.h — Stellar's view of sluice values: Java numeric widths, conversions, equality,
 * ordering, truthiness and Java's toString().
 *
 * DESIGN: Stellar runs on Java objects; sluice runs on 24-byte values. The mapping:
 *   Integer  SL_V_INT    + SL_VF_I32   (value kept sign-extended in u.i)
 *   Long     SL_V_INT                  (JSON integers from events are Long, as json-simple)
 *   Float    SL_V_DOUBLE + SL_VF_F32   (value kept as the double of a float)
 *   Double   SL_V_DOUBLE
 *   Boolean  SL_V_BOOL, String SL_V_STRING, List SL_V_LIST (SL_VF_SET: a Set), Map SL_V_MAP
 * Timestamps read from events appear as Long epoch milliseconds, IPs and bytes as Strings
 * (sl_sv_from_event). Map keys are strings: a key given as another type is keyed by its
 * toString() (docs/stellar.md lists this deviation).
 */
#ifndef SL_LANG_SVAL_H
#define SL_LANG_SVAL_H

#include "base/buf.h"
#include "core/value.h"

#include <stdbool.h>
#include <stdint.h>

/* flag on SL_V_LIST: the list is a Set (insertion order, no duplicates) */
#define SL_VF_SET 0x40u

enum sl_jnum {
    SL_JN_NONE = 0, /* not a number */
    SL_JN_INT,
    SL_JN_LONG,
    SL_JN_FLOAT,
    SL_JN_DOUBLE,
};

static inline struct sl_value sl_sv_int(int32_t i)
{
    struct sl_value v = {.type = SL_V_INT, .flags = SL_VF_I32};
    v.u.i = i;
    return v;
}
static inline struct sl_value sl_sv_long(int64_t i)
{
    struct sl_value v = {.type = SL_V_INT};
    v.u.i = i;
    return v;
}
static inline struct sl_value sl_sv_float(float f)
{
    struct sl_value v = {.type = SL_V_DOUBLE, .flags = SL_VF_F32};
    v.u.d = (double)f;
    return v;
}
static inline struct sl_value sl_sv_double(double d)
{
    struct sl_value v = {.type = SL_V_DOUBLE};
    v.u.d = d;
    return v;
}
static inline enum sl_jnum sl_sv_jnum(const struct sl_value *v)
{
    if (v->type == SL_V_INT)
        return (v->flags & SL_VF_I32) ? SL_JN_INT : SL_JN_LONG;
    if (v->type == SL_V_DOUBLE)
        return (v->flags & SL_VF_F32) ? SL_JN_FLOAT : SL_JN_DOUBLE;
    return SL_JN_NONE;
}
static inline bool sl_sv_is_num(const struct sl_value *v)
{
    return v->type == SL_V_INT || v->type == SL_V_DOUBLE;
}
/* Numeric value as a double / as a long (Java's narrowing: NaN → 0, saturating). */
double sl_sv_as_double(const struct sl_value *v);
int64_t sl_sv_as_long(const struct sl_value *v);

/*
 * Java's Boolean conversion (commons-beanutils BooleanConverter, defaultNull): true/false
 * as they are; the strings true/yes/y/on/1 → true, false/no/n/off/0 → false; numbers 1/0.
 * Returns 1, 0, or -1 when the value does not convert (Stellar then treats it as false).
 */
int sl_sv_to_bool(const struct sl_value *v);
/* Truth in a conditional context (and/or operands, if, match): null, false, empty list or
 * map are false; otherwise as sl_sv_to_bool (non-convertible → false). */
bool sl_sv_truthy(const struct sl_value *v);

/* Java's a.equals(b) with Stellar's numeric promotion (1 == 1.0 is true, NaN != NaN),
 * List.equals, Map.equals (order-insensitive). */
bool sl_sv_equal(const struct sl_value *a, const struct sl_value *b);
/* Ordering for <, <=, >, >=, MAX, MIN, sorting: numbers (promoted) and strings (UTF-16 code
 * unit order, as String.compareTo; for BMP text this is byte order). *cmp = -1/0/1.
 * Returns 0, or SL_ETYPE when the two are not comparable. NaN compares unordered:
 * *cmp = 2 (every relation false). */
int sl_sv_compare(const struct sl_value *a, const struct sl_value *b, int *cmp);
/* Hash consistent with sl_sv_equal (numbers hash by their double value). */
uint64_t sl_sv_hash(const struct sl_value *v);

/*
 * Java's String.valueOf(v): Integer/Long decimal, Double/Float as Double.toString /
 * Float.toString ("1.0", "1.0E10", "NaN", "Infinity"), Boolean "true", null "null",
 * List "[a, b]", Map "{k=v}". Appends to out; 0 or SL_ENOMEM/SL_E2BIG.
 */
int sl_sv_format(const struct sl_value *v, struct sl_buf *out);
/* Double.toString / Float.toString alone. out must hold 32 bytes. Returns the length. */
size_t sl_sv_format_double(double d, bool is_float, char *out);

/* Stellar's reading of an event field: TS → Long ms, IP/BYTES → String, others as they
 * are. */
struct sl_value sl_sv_from_event(const struct sl_value *v, char *ipbuf /* 48 bytes */);

/* Parse a string as Java would for TO_INTEGER/TO_LONG/TO_DOUBLE/TO_FLOAT through beanutils:
 * decimal integers (leading zeros allowed, optional sign), or decimals. 0, or SL_EINVAL. */
int sl_sv_parse_long(const char *p, size_t n, int64_t *out);
int sl_sv_parse_double(const char *p, size_t n, double *out);

#endif
