/*
 * fn_string.c — Stellar builtins over strings: case, trimming, affixes, padding, SPLIT/JOIN,
 * SUBSTRING, FORMAT (java.util.Formatter's common conversions), entropy, and regular
 * expressions (PCRE2 standing in for java.util.regex).
 *
 * DESIGN: patterns are usually constants, so each thread keeps a small cache of compiled
 * patterns (JIT-compiled, keyed by the pattern text, least recently inserted replaced) freed
 * at thread exit; a lookup is a hash and a compare. REGEXP_MATCH is Java's matches(): the
 * whole string must match (ANCHORED | ENDANCHORED). Strings are UTF-8; positions given to
 * SUBSTRING count code points (Java counts UTF-16 units: the same outside astral planes).
 */
#define PCRE2_CODE_UNIT_WIDTH 8

#include "base/alloc.h"
#include "base/hash.h"
#include "lang/func.h"
#include "lang/sval.h"

#include <math.h>
#include <pcre2.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- text of an argument ---- */

/* Java's toString() of v as a view: strings as they are, others rendered in the arena. */
static int text_of(struct sl_fcx *cx, const struct sl_value *v, struct sl_value *out)
{
    if (v->type == SL_V_STRING) {
        *out = *v;
        return 0;
    }
    struct sl_buf *b = sl_fcx_scratch(cx);
    sl_buf_reset(b);
    int rc = sl_sv_format(v, b);
    return rc ? rc : sl_fcx_str(cx, b->ptr ? b->ptr : "", b->len, out);
}

static int need_str(struct sl_fcx *cx, const char *fn, const struct sl_value *v)
{
    if (v->type != SL_V_STRING)
        return sl_fcx_error(cx, "%s: expected a String", fn);
    return 0;
}

/* ---- case, trim ---- */

static int map_case(struct sl_fcx *cx, const struct sl_value *a, struct sl_value *out, bool up)
{
    if (a[0].type == SL_V_NULL)
        return 0;
    struct sl_value s;
    int rc = text_of(cx, &a[0], &s);
    if (rc)
        return rc;
    char *p = sl_fcx_alloc(cx, s.len ? s.len : 1);
    if (!p)
        return SL_ENOMEM;
    for (uint32_t i = 0; i < s.len; i++) {
        char c = s.u.s[i];
        if (up && c >= 'a' && c <= 'z')
            c = (char)(c - 32);
        else if (!up && c >= 'A' && c <= 'Z')
            c = (char)(c + 32);
        p[i] = c;
    }
    *out = sl_value_str(p, s.len);
    return 0;
}

static int f_to_upper(struct sl_fcx *cx, const struct sl_value *a, int n, struct sl_value *out)
{
    (void)n;
    return map_case(cx, a, out, true);
}

static int f_to_lower(struct sl_fcx *cx, const struct sl_value *a, int n, struct sl_value *out)
{
    (void)n;
    return map_case(cx, a, out, false);
}

static int f_trim(struct sl_fcx *cx, const struct sl_value *a, int n, struct sl_value *out)
{
    (void)n;
    if (a[0].type == SL_V_NULL)
        return 0;
    struct sl_value s;
    int rc = text_of(cx, &a[0], &s);
    if (rc)
        return rc;
    uint32_t b = 0, e = s.len;
    while (b < e && (unsigned char)s.u.s[b] <= ' ')
        b++;
    while (e > b && (unsigned char)s.u.s[e - 1] <= ' ')
        e--;
    *out = sl_value_str(s.u.s + b, e - b);
    return 0;
}

static bool has_prefix(const struct sl_value *s, const struct sl_value *p)
{
    return p->len <= s->len && (!p->len || !memcmp(s->u.s, p->u.s, p->len));
}

static bool has_suffix(const struct sl_value *s, const struct sl_value *p)
{
    return p->len <= s->len && (!p->len || !memcmp(s->u.s + s->len - p->len, p->u.s, p->len));
}

static int f_starts_with(struct sl_fcx *cx, const struct sl_value *a, int n, struct sl_value *out)
{
    (void)n;
    if (a[0].type == SL_V_NULL || a[1].type == SL_V_NULL) {
        *out = sl_value_bool(false);
        return 0;
    }
    int rc = need_str(cx, "STARTS_WITH", &a[0]);
    if (!rc)
        rc = need_str(cx, "STARTS_WITH", &a[1]);
    if (!rc)
        *out = sl_value_bool(has_prefix(&a[0], &a[1]));
    return rc;
}

static int f_ends_with(struct sl_fcx *cx, const struct sl_value *a, int n, struct sl_value *out)
{
    (void)n;
    if (a[0].type == SL_V_NULL || a[1].type == SL_V_NULL) {
        *out = sl_value_bool(false);
        return 0;
    }
    int rc = need_str(cx, "ENDS_WITH", &a[0]);
    if (!rc)
        rc = need_str(cx, "ENDS_WITH", &a[1]);
    if (!rc)
        *out = sl_value_bool(has_suffix(&a[0], &a[1]));
    return rc;
}

/* PREPEND_IF_MISSING(s, prefix, other_prefixes...) / APPEND_IF_MISSING */
static int affix(struct sl_fcx *cx, const struct sl_value *a, int n, struct sl_value *out,
                 bool prefix)
{
    if (a[0].type == SL_V_NULL) {
        return 0;
    }
    if (a[1].type == SL_V_NULL) {
        *out = a[0]; /* commons-lang: an empty or null affix changes nothing */
        return 0;
    }
    if (a[0].type != SL_V_STRING || a[1].type != SL_V_STRING)
        return sl_fcx_error(cx, "expected String arguments");
    for (int i = 1; i < n; i++) {
        if (a[i].type != SL_V_STRING)
            continue;
        if (prefix ? has_prefix(&a[0], &a[i]) : has_suffix(&a[0], &a[i])) {
            *out = a[0];
            return 0;
        }
    }
    size_t len = (size_t)a[0].len + a[1].len;
    char *p = sl_fcx_alloc(cx, len ? len : 1);
    if (!p)
        return SL_ENOMEM;
    const struct sl_value *x = prefix ? &a[1] : &a[0], *y = prefix ? &a[0] : &a[1];
    if (x->len)
        memcpy(p, x->u.s, x->len);
    if (y->len)
        memcpy(p + x->len, y->u.s, y->len);
    *out = sl_value_str(p, len);
    return 0;
}

static int f_prepend(struct sl_fcx *cx, const struct sl_value *a, int n, struct sl_value *out)
{
    return affix(cx, a, n, out, true);
}

static int f_append(struct sl_fcx *cx, const struct sl_value *a, int n, struct sl_value *out)
{
    return affix(cx, a, n, out, false);
}

/* String.length(): UTF-16 units of UTF-8 text */
static size_t utf16_len(const char *p, size_t n)
{
    size_t len = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)p[i];
        if ((c & 0xC0) != 0x80)
            len += c >= 0xF0 ? 2 : 1;
    }
    return len;
}

/* FILL_LEFT / FILL_RIGHT: commons-lang leftPad/rightPad with the first character of fill's
 * toString(), to a length in Java chars; the length converts as beanutils converts it. */
static int fill(struct sl_fcx *cx, const struct sl_value *a, struct sl_value *out, bool left)
{
    if (a[0].type == SL_V_NULL)
        return 0;
    if (a[1].type == SL_V_NULL || a[2].type == SL_V_NULL)
        return sl_fcx_error(cx, "Required Length and Fill String are both required");
    struct sl_value s, f;
    int rc = text_of(cx, &a[0], &s);
    if (!rc)
        rc = text_of(cx, &a[1], &f);
    if (rc)
        return rc;
    if (!f.len)
        return sl_fcx_error(cx, "The fill cannot be an empty string");
    int64_t want;
    if (a[2].type == SL_V_INT)
        want = (int32_t)a[2].u.i;
    else if (a[2].type == SL_V_DOUBLE)
        want = (int32_t)sl_sv_as_long(&a[2]);
    else if (a[2].type != SL_V_STRING || sl_sv_parse_long(a[2].u.s, a[2].len, &want) ||
             want < INT32_MIN || want > INT32_MAX)
        return sl_fcx_error(cx, "Required Length  not a valid Integer");
    if (want > (1 << 24))
        return sl_fcx_error(cx, "length %lld too large", (long long)want);
    size_t have = utf16_len(s.u.s, s.len);
    if (want <= (int64_t)have) {
        *out = s;
        return 0;
    }
    size_t clen = 1; /* the first character of fill, in UTF-8 bytes */
    while (clen < f.len && ((unsigned char)f.u.s[clen] & 0xC0) == 0x80)
        clen++;
    size_t pad = (size_t)want - have, total = s.len + pad * clen;
    char *p = sl_fcx_alloc(cx, total);
    if (!p)
        return SL_ENOMEM;
    char *q = p;
    if (!left && s.len) {
        memcpy(q, s.u.s, s.len);
        q += s.len;
    }
    for (size_t i = 0; i < pad; i++, q += clen)
        memcpy(q, f.u.s, clen);
    if (left && s.len)
        memcpy(q, s.u.s, s.len);
    *out = sl_value_str(p, total);
    return 0;
}

static int f_fill_left(struct sl_fcx *cx, const struct sl_value *a, int n, struct sl_value *out)
{
    (void)n;
    return fill(cx, a, out, true);
}

static int f_fill_right(struct sl_fcx *cx, const struct sl_value *a, int n, struct sl_value *out)
{
    (void)n;
    return fill(cx, a, out, false);
}

static int f_chop(struct sl_fcx *cx, const struct sl_value *a, int n, struct sl_value *out)
{
    (void)n;
    if (a[0].type == SL_V_NULL)
        return 0;
    if (need_str(cx, "CHOP", &a[0]))
        return SL_EEVAL;
    uint32_t len = a[0].len;
    if (len >= 2 && a[0].u.s[len - 2] == '\r' && a[0].u.s[len - 1] == '\n')
        len -= 2;
    else if (len) {
        len--;
        while (len && ((unsigned char)a[0].u.s[len] & 0xC0) == 0x80)
            len--;
    }
    *out = sl_value_str(a[0].u.s, len);
    return 0;
}

static int f_chomp(struct sl_fcx *cx, const struct sl_value *a, int n, struct sl_value *out)
{
    (void)n;
    if (a[0].type == SL_V_NULL)
        return 0;
    if (need_str(cx, "CHOMP", &a[0]))
        return SL_EEVAL;
    uint32_t len = a[0].len;
    if (len >= 2 && a[0].u.s[len - 2] == '\r' && a[0].u.s[len - 1] == '\n')
        len -= 2;
    else if (len && (a[0].u.s[len - 1] == '\n' || a[0].u.s[len - 1] == '\r'))
        len--;
    *out = sl_value_str(a[0].u.s, len);
    return 0;
}

static int f_count_matches(struct sl_fcx *cx, const struct sl_value *a, int n, struct sl_value *out)
{
    (void)n;
    int32_t count = 0;
    if (a[0].type == SL_V_STRING && a[1].type == SL_V_STRING && a[1].len) {
        const char *p = a[0].u.s, *end = a[0].u.s + a[0].len;
        while (p < end) {
            const char *m = memmem(p, (size_t)(end - p), a[1].u.s, a[1].len);
            if (!m)
                break;
            count++;
            p = m + a[1].len;
        }
    } else if (a[0].type != SL_V_NULL && a[0].type != SL_V_STRING) {
        return sl_fcx_error(cx, "COUNT_MATCHES expects Strings");
    }
    *out = sl_sv_int(count);
    return 0;
}

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

static int f_string_entropy(struct sl_fcx *cx, const struct sl_value *a, int n,
                            struct sl_value *out)
{
    (void)n;
    *out = sl_sv_double(0.0); /* null and '' give 0.0, as Metron */
    if (a[0].type == SL_V_NULL)
        return 0;
    struct sl_value s;
    int rc = text_of(cx, &a[0], &s);
    if (rc || !s.len)
        return rc;
    /* Java counts chars: ASCII in a table, other code points sorted and counted in runs */
    uint32_t ascii[128] = {0}, nother = 0, total = 0;
    uint32_t *other = NULL;
    for (uint32_t i = 0; i < s.len; i++) {
        unsigned char c = (unsigned char)s.u.s[i];
        if (c < 0x80) {
            ascii[c]++;
            total++;
        } else if ((c & 0xC0) != 0x80) {
            if (!other && !(other = sl_fcx_alloc(cx, (size_t)s.len * sizeof *other)))
                return SL_ENOMEM;
            uint32_t cp = c, k = 1;
            while (i + k < s.len && k < 4 && ((unsigned char)s.u.s[i + k] & 0xC0) == 0x80)
                cp = cp << 8 | (unsigned char)s.u.s[i + k++]; /* the bytes identify it */
            other[nother++] = cp;
            total += c >= 0xF0 ? 2 : 1; /* an astral character is two UTF-16 units */
        }
    }
    if (nother)
        qsort(other, nother, sizeof *other, cmp_u32);
    double h = 0;
    for (int i = 0; i < 128; i++) {
        if (ascii[i]) {
            double p = (double)ascii[i] / total;
            h -= p * log(p) / log(2.0);
        }
    }
    for (uint32_t i = 0; i < nother;) {
        uint32_t j = i;
        while (j < nother && other[j] == other[i])
            j++;
        double p = (double)(j - i) / total;
        h -= p * log(p) / log(2.0);
        i = j;
    }
    *out = sl_sv_double(h);
    return 0;
}

/* ---- SPLIT, JOIN, SUBSTRING ---- */

static int f_split(struct sl_fcx *cx, const struct sl_value *a, int n, struct sl_value *out)
{
    (void)n;
    if (a[0].type == SL_V_NULL)
        return sl_fcx_list(cx, 0, out);
    if (a[1].type != SL_V_STRING)
        return sl_fcx_error(cx, "SPLIT: the delimiter must be a String");
    struct sl_value s, d;
    int rc = text_of(cx, &a[0], &s);
    if (!rc)
        rc = text_of(cx, &a[1], &d);
    if (rc)
        return rc;
    if (!d.len)
        return sl_fcx_error(cx, "SPLIT: the delimiter may not be empty");
    uint32_t count = 1;
    for (const char *p = s.u.s, *end = s.u.s + s.len; p < end;) {
        const char *m = memmem(p, (size_t)(end - p), d.u.s, d.len);
        if (!m)
            break;
        count++;
        p = m + d.len;
    }
    if ((rc = sl_fcx_list(cx, count, out)))
        return rc;
    const char *p = s.u.s, *end = s.u.s + s.len;
    for (uint32_t i = 0; i < count; i++) {
        const char *m = i + 1 < count ? memmem(p, (size_t)(end - p), d.u.s, d.len) : end;
        out->u.list[i] = sl_value_str(p, (size_t)(m - p));
        p = m + d.len;
    }
    return 0;
}

static int f_join(struct sl_fcx *cx, const struct sl_value *a, int n, struct sl_value *out)
{
    (void)n;
    if (a[0].type != SL_V_LIST)
        return sl_fcx_error(cx, "JOIN expects a list");
    if (a[1].type != SL_V_STRING)
        return sl_fcx_error(cx, "JOIN: the delimiter must be a String");
    struct sl_value d;
    int rc = text_of(cx, &a[1], &d);
    if (rc)
        return rc;
    struct sl_buf *b = sl_fcx_scratch(cx);
    sl_buf_reset(b);
    bool first = true;
    for (uint32_t i = 0; i < a[0].len && !rc; i++) {
        if (a[0].u.list[i].type == SL_V_NULL)
            continue;
        if (!first)
            rc = sl_buf_append(b, d.u.s, d.len);
        first = false;
        if (!rc)
            rc = sl_sv_format(&a[0].u.list[i], b);
    }
    return rc ? rc : sl_fcx_str(cx, b->ptr ? b->ptr : "", b->len, out);
}

/* byte offset of code point index i in s, or -1 past the end */
static int64_t cp_offset(const struct sl_value *s, int64_t i)
{
    int64_t cp = 0;
    for (uint32_t o = 0; o <= s->len; o++) {
        if (o == s->len || ((unsigned char)s->u.s[o] & 0xC0) != 0x80) {
            if (cp == i)
                return o;
            cp++;
        }
    }
    return -1;
}

static int f_substring(struct sl_fcx *cx, const struct sl_value *a, int n, struct sl_value *out)
{
    if (a[0].type == SL_V_NULL || a[1].type == SL_V_NULL)
        return 0;
    if (a[0].type != SL_V_STRING)
        return sl_fcx_error(cx, "SUBSTRING expects a String");
    if (!sl_sv_is_num(&a[1]) || (n > 2 && !sl_sv_is_num(&a[2]) && a[2].type != SL_V_NULL))
        return sl_fcx_error(cx, "SUBSTRING: start and end must be numbers");
    if (!a[0].len) {
        *out = a[0]; /* Metron returns '' before looking at the indices */
        return 0;
    }
    n = n > 2 && a[2].type == SL_V_NULL ? 2 : n;
    int64_t b = (int32_t)sl_sv_as_long(&a[1]), e = -1; /* Number.intValue() */
    int64_t ob = b >= 0 ? cp_offset(&a[0], b) : -1, oe = a[0].len;
    if (n > 2) {
        e = (int32_t)sl_sv_as_long(&a[2]);
        oe = e >= 0 ? cp_offset(&a[0], e) : -1;
    }
    if (ob < 0 || oe < 0 || oe < ob)
        return sl_fcx_error(cx, "SUBSTRING: index out of range");
    *out = sl_value_str(a[0].u.s + ob, (size_t)(oe - ob));
    return 0;
}

/* ---- FORMAT: java.util.Formatter's general, character, integral and floating conversions --
 *
 * %[index$|<][flags][width][.precision]conversion with conversions s S b B c C d x X o f e E g
 * G n %, flags - + space 0 , ( #. Text is padded to the width in Java chars. Integers print as
 * Java prints them (an Integer's %x is 32 bits wide), NaN and Infinity as Java spells them,
 * %g keeps trailing zeros. A missing argument, a mismatched type or an unknown conversion is
 * an error, as Java throws. */

struct fspec {
    bool left, plus, space, zero, group, paren, alt;
    int width, prec; /* -1: none */
};

static int pad_to(struct sl_buf *b, const struct fspec *sp, const char *txt, size_t len, bool upper)
{
    size_t w = utf16_len(txt, len);
    size_t pad = sp->width > 0 && (size_t)sp->width > w ? (size_t)sp->width - w : 0;
    int rc = 0;
    for (size_t k = 0; !sp->left && k < pad && !rc; k++)
        rc = sl_buf_putc(b, ' ');
    for (size_t k = 0; k < len && !rc; k++) {
        char c = txt[k];
        rc = sl_buf_putc(b, upper && c >= 'a' && c <= 'z' ? (char)(c - 32) : c);
    }
    for (size_t k = 0; sp->left && k < pad && !rc; k++)
        rc = sl_buf_putc(b, ' ');
    return rc;
}

/* Sign, grouping, parentheses and zero padding around digits `d` (no sign) as Java does. */
static int put_number(struct sl_buf *b, const struct fspec *sp, bool neg, const char *d,
                      size_t dlen, bool upper)
{
    const char *pre = neg ? (sp->paren ? "(" : "-") : sp->plus ? "+" : sp->space ? " " : "";
    const char *post = neg && sp->paren ? ")" : "";
    size_t intlen = 0; /* grouping applies to the integer part: up to '.' or 'e' */
    while (intlen < dlen && d[intlen] >= '0' && d[intlen] <= '9')
        intlen++;
    size_t commas = sp->group && intlen ? (intlen - 1) / 3 : 0;
    size_t body = strlen(pre) + strlen(post) + dlen + commas;
    size_t fill = sp->width > 0 && (size_t)sp->width > body ? (size_t)sp->width - body : 0;
    int rc = 0;
    for (size_t k = 0; !sp->left && !sp->zero && k < fill && !rc; k++)
        rc = sl_buf_putc(b, ' ');
    if (!rc)
        rc = sl_buf_puts(b, pre);
    for (size_t k = 0; sp->zero && k < fill && !rc; k++)
        rc = sl_buf_putc(b, '0');
    for (size_t i = 0; i < dlen && !rc; i++) {
        if (commas && i && i < intlen && (intlen - i) % 3 == 0)
            rc = sl_buf_putc(b, ',');
        char c = d[i];
        if (!rc)
            rc = sl_buf_putc(b, upper && c >= 'a' && c <= 'z' ? (char)(c - 32) : c);
    }
    if (!rc)
        rc = sl_buf_puts(b, post);
    for (size_t k = 0; sp->left && k < fill && !rc; k++)
        rc = sl_buf_putc(b, ' ');
    return rc;
}

/* Java's %.Nf of a finite d >= 0: Formatter rounds the digits of Double.toString(d) (the
 * shortest that read back as d) half up, so 0.125 gives 0.13 and 2.675 gives 2.68 where
 * C's printf, rounding the exact binary value, gives 0.12 and 2.67. Returns the length, or
 * -1 when out is too small. */
static int java_fixed(double d, int prec, char *out, size_t cap)
{
    char t[32];
    size_t tn = sl_sv_format_double(d, false, t);
    t[tn < sizeof t ? tn : sizeof t - 1] = 0;
    char dig[48];
    int nd = 0, point = 1, intdigits = 0;
    bool frac = false;
    dig[nd++] = '0'; /* room for a carry */
    const char *p = t;
    for (; *p && *p != 'E' && nd < 40; p++) {
        if (*p == '.') {
            frac = true;
            continue;
        }
        dig[nd++] = *p;
        if (!frac)
            intdigits++;
    }
    long exp = *p == 'E' ? strtol(p + 1, NULL, 10) : 0;
    point += intdigits + (int)exp; /* value = 0.dig × 10^point */
    long keep = (long)point + prec;
    if (keep < nd) {
        bool up = keep >= 0 && dig[keep] >= '5';
        int from = keep < 0 ? 0 : (int)keep;
        for (int i = from; i < nd; i++)
            dig[i] = '0';
        for (long i = keep - 1; up && i >= 0; i--) {
            if (dig[i] == '9') {
                dig[i] = '0';
            } else {
                dig[i]++;
                up = false;
            }
        }
    }
    size_t o = 0;
#define PUT(ch)                                                                                    \
    do {                                                                                           \
        if (o + 1 >= cap)                                                                          \
            return -1;                                                                             \
        out[o++] = (ch);                                                                           \
    } while (0)
    bool any = false;
    for (long i = 0; i < point; i++) {
        char c = i < nd ? dig[i] : '0';
        if (c == '0' && !any)
            continue;
        any = true;
        PUT(c);
    }
    if (!any)
        PUT('0');
    if (prec > 0)
        PUT('.');
    for (long k = 0; k < prec; k++) {
        long i = point + k;
        PUT(i >= 0 && i < nd ? dig[i] : '0');
    }
#undef PUT
    out[o] = 0;
    return (int)o;
}

static int format_one(struct sl_fcx *cx, struct sl_buf *b, const struct fspec *sp, char conv,
                      const struct sl_value *v)
{
    bool upper = conv >= 'A' && conv <= 'Z';
    char lc = upper ? (char)(conv + 32) : conv;
    char tmp[400];
    switch (lc) {
    case 's': {
        if (v->type == SL_V_STRING) {
            size_t len = v->len;
            if (sp->prec >= 0 && (size_t)sp->prec < len) { /* precision counts chars */
                size_t cps = 0, i = 0;
                for (; i < len; i++)
                    if (((unsigned char)v->u.s[i] & 0xC0) != 0x80 && cps++ == (size_t)sp->prec)
                        break;
                len = i;
            }
            return pad_to(b, sp, v->u.s, len, upper);
        }
        struct sl_buf t;
        sl_buf_init(&t, 1u << 20);
        int rc = sl_sv_format(v, &t);
        if (!rc) {
            struct sl_value sv = sl_value_str(t.ptr ? t.ptr : "", t.len);
            rc = format_one(cx, b, sp, conv, &sv);
        }
        sl_buf_fini(&t);
        return rc;
    }
    case 'b': {
        const char *t = v->type == SL_V_NULL   ? "false"
                        : v->type == SL_V_BOOL ? (v->u.b ? "true" : "false")
                                               : "true";
        size_t len = strlen(t);
        if (sp->prec >= 0 && (size_t)sp->prec < len)
            len = (size_t)sp->prec;
        return pad_to(b, sp, t, len, upper);
    }
    case 'c': {
        if (v->type == SL_V_NULL)
            return pad_to(b, sp, "null", 4, upper);
        if (v->type == SL_V_STRING && v->len) { /* Java takes a Character: one char */
            size_t l = 1;
            while (l < v->len && ((unsigned char)v->u.s[l] & 0xC0) == 0x80)
                l++;
            if (l != v->len)
                return sl_fcx_error(cx, "FORMAT: %%c needs a character, got a String");
            return pad_to(b, sp, v->u.s, l, upper);
        }
        if (v->type != SL_V_INT || v->u.i < 0 || v->u.i > 0x10FFFF ||
            (v->u.i >= 0xD800 && v->u.i <= 0xDFFF))
            return sl_fcx_error(cx, "FORMAT: %%c needs a character or a code point");
        uint32_t cp = (uint32_t)v->u.i;
        size_t l = 0;
        if (cp < 0x80) {
            tmp[l++] = (char)cp;
        } else if (cp < 0x800) {
            tmp[l++] = (char)(0xC0 | cp >> 6);
            tmp[l++] = (char)(0x80 | (cp & 0x3F));
        } else if (cp < 0x10000) {
            tmp[l++] = (char)(0xE0 | cp >> 12);
            tmp[l++] = (char)(0x80 | (cp >> 6 & 0x3F));
            tmp[l++] = (char)(0x80 | (cp & 0x3F));
        } else {
            tmp[l++] = (char)(0xF0 | cp >> 18);
            tmp[l++] = (char)(0x80 | (cp >> 12 & 0x3F));
            tmp[l++] = (char)(0x80 | (cp >> 6 & 0x3F));
            tmp[l++] = (char)(0x80 | (cp & 0x3F));
        }
        return pad_to(b, sp, tmp, l, upper);
    }
    case 'd':
    case 'x':
    case 'o': {
        if (v->type == SL_V_NULL)
            return pad_to(b, sp, "null", 4, upper);
        if (v->type != SL_V_INT)
            return sl_fcx_error(cx, "FORMAT: %%%c needs an integer, got another type", conv);
        if (sp->prec >= 0)
            return sl_fcx_error(cx, "FORMAT: %%%c takes no precision", conv);
        int64_t i = v->u.i;
        if (lc == 'd') {
            uint64_t m = i < 0 ? 0 - (uint64_t)i : (uint64_t)i;
            int l = snprintf(tmp, sizeof tmp, "%llu", (unsigned long long)m);
            return put_number(b, sp, i < 0, tmp, (size_t)l, upper);
        }
        /* Java: two's complement at the value's width; '#' adds 0x / 0 */
        uint64_t u = (v->flags & SL_VF_I32) ? (uint64_t)(uint32_t)i : (uint64_t)i;
        int l = snprintf(tmp, sizeof tmp, lc == 'x' ? "%s%llx" : "%s%llo",
                         sp->alt ? (lc == 'x' ? "0x" : "0") : "", (unsigned long long)u);
        struct fspec q = *sp;
        q.plus = q.space = q.group = q.paren = false;
        return put_number(b, &q, false, tmp, (size_t)l, upper);
    }
    case 'f':
    case 'e':
    case 'g': {
        if (v->type == SL_V_NULL)
            return pad_to(b, sp, "null", 4, upper);
        if (v->type != SL_V_DOUBLE)
            return sl_fcx_error(cx, "FORMAT: %%%c needs a floating-point number", conv);
        double d = v->u.d;
        if (isnan(d) || isinf(d)) { /* Java: NaN, Infinity, (Infinity) */
            struct fspec q = *sp;
            q.zero = false;
            const char *t = isnan(d) ? "NaN" : "Infinity";
            bool neg = !isnan(d) && d < 0;
            return put_number(b, &q, neg, t, strlen(t), upper);
        }
        int prec = sp->prec < 0 ? 6 : sp->prec;
        if (lc == 'g' && prec == 0)
            prec = 1;
        char cf[16];
        snprintf(cf, sizeof cf, "%%%s.*%c", lc == 'g' ? "#" : "", lc);
        int l;
        if (lc == 'f') {
            size_t fcap = 340 + (size_t)prec; /* 309 integer digits at most */
            char *fb = sl_fcx_alloc(cx, fcap);
            if (!fb)
                return SL_ENOMEM;
            l = java_fixed(fabs(d), prec, fb, fcap);
            if (l < 0)
                return sl_fcx_error(cx, "FORMAT: number too long");
            return put_number(b, sp, signbit(d) != 0, fb, (size_t)l, upper);
        } else {
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
            l = snprintf(tmp, sizeof tmp, cf, prec > 300 ? 300 : prec, fabs(d));
#pragma GCC diagnostic pop
        }
        if (l < 0 || (size_t)l >= sizeof tmp)
            return sl_fcx_error(cx, "FORMAT: number too long");
        return put_number(b, sp, signbit(d) != 0, tmp, (size_t)l, upper);
    }
    default:
        return sl_fcx_error(cx, "FORMAT: unsupported conversion '%c'", conv);
    }
}

static int f_format(struct sl_fcx *cx, const struct sl_value *a, int n, struct sl_value *out)
{
    if (a[0].type != SL_V_STRING)
        return sl_fcx_error(cx, "FORMAT expects a format String");
    struct sl_buf *b = sl_fcx_scratch(cx);
    sl_buf_reset(b);
    const char *f = a[0].u.s, *end = f + a[0].len;
    int next = 1, last = -1, rc = 0;
    while (f < end && !rc) {
        if (*f != '%') {
            rc = sl_buf_putc(b, *f++);
            continue;
        }
        const char *spec = f++;
        struct fspec sp = {.width = -1, .prec = -1};
        int argi = -1;
        /* an explicit index: digits followed by '$', or '<' (the previous argument) */
        const char *q = f;
        int num = 0;
        while (q < end && *q >= '0' && *q <= '9' && num < 100000)
            num = num * 10 + (*q++ - '0');
        if (q > f && q < end && *q == '$') {
            if (!num)
                return sl_fcx_error(cx, "FORMAT: illegal argument index 0");
            argi = num;
            f = q + 1;
        } else if (f < end && *f == '<') {
            if (last < 0)
                return sl_fcx_error(cx, "FORMAT: '<' with no previous argument");
            argi = last;
            f++;
        }
        for (; f < end && strchr("-#+ 0,(", *f); f++) {
            switch (*f) {
            case '-':
                sp.left = true;
                break;
            case '#':
                sp.alt = true;
                break;
            case '+':
                sp.plus = true;
                break;
            case ' ':
                sp.space = true;
                break;
            case '0':
                sp.zero = true;
                break;
            case ',':
                sp.group = true;
                break;
            default:
                sp.paren = true;
                break;
            }
        }
        if (f < end && *f >= '1' && *f <= '9') {
            sp.width = 0;
            while (f < end && *f >= '0' && *f <= '9' && sp.width < 100000)
                sp.width = sp.width * 10 + (*f++ - '0');
        }
        if (f < end && *f == '.') {
            f++;
            sp.prec = 0;
            if (f >= end || *f < '0' || *f > '9')
                return sl_fcx_error(cx, "FORMAT: bad precision in '%.*s'", (int)(f - spec), spec);
            while (f < end && *f >= '0' && *f <= '9' && sp.prec < 100000)
                sp.prec = sp.prec * 10 + (*f++ - '0');
        }
        if (f >= end)
            return sl_fcx_error(cx, "FORMAT: incomplete format specifier '%.*s'", (int)(f - spec),
                                spec);
        /* width and precision: at most 5 digits each (no overflow, no giant output) */
        if (sp.width > 99999 || sp.prec > 99999 || (f < end && *f >= '0' && *f <= '9'))
            return sl_fcx_error(cx, "FORMAT: width or precision too large in '%.*s'",
                                (int)((size_t)(f - spec) > 40 ? 40 : (size_t)(f - spec)), spec);
        if ((sp.left || sp.zero) && sp.width < 0)
            return sl_fcx_error(cx, "FORMAT: missing width in '%.*s'", (int)(f - spec + 1), spec);
        char conv = *f++;
        if (conv == '%') {
            rc = pad_to(b, &sp, "%", 1, false);
            continue;
        }
        if (conv == 'n') {
            rc = sl_buf_putc(b, '\n');
            continue;
        }
        if (!strchr("sSbBcCdxXofeEgG", conv))
            return sl_fcx_error(cx, "FORMAT: unsupported conversion '%c'", conv);
        if (argi < 0)
            argi = next++;
        if (argi >= n)
            return sl_fcx_error(cx, "FORMAT: missing argument for format specifier '%.*s'",
                                (int)(f - spec), spec);
        last = argi;
        rc = format_one(cx, b, &sp, conv, &a[argi]);
    }
    return rc ? rc : sl_fcx_str(cx, b->ptr ? b->ptr : "", b->len, out);
}

/* ---- regular expressions ---- */

#define RE_CACHE 32

struct re_entry {
    uint64_t hash;
    char *pat;
    size_t len;
    pcre2_code *code;
    pcre2_match_data *md;
};

struct re_cache {
    struct re_entry e[RE_CACHE];
    unsigned next;
};

static pthread_key_t re_key;
static pthread_once_t re_once = PTHREAD_ONCE_INIT;

static void re_cache_free(void *p)
{
    struct re_cache *c = p;
    for (unsigned i = 0; i < RE_CACHE; i++) {
        sl_free(c->e[i].pat);
        pcre2_code_free(c->e[i].code);
        pcre2_match_data_free(c->e[i].md);
    }
    sl_free(c);
}

static void re_key_init(void)
{
    (void)pthread_key_create(&re_key, re_cache_free);
}

static struct re_entry *regex(struct sl_fcx *cx, const struct sl_value *pat);

/* func.h: the same cache for the SQL builtins (fn_sql.c) */
int sl_lang__regex(struct sl_fcx *cx, const struct sl_value *pat, void **code, void **md)
{
    struct re_entry *e = regex(cx, pat);
    if (!e)
        return SL_EEVAL;
    *code = e->code;
    *md = e->md;
    return 0;
}

/* The compiled pattern (cached per thread). NULL with an error set in cx. */
static struct re_entry *regex(struct sl_fcx *cx, const struct sl_value *pat)
{
    pthread_once(&re_once, re_key_init);
    struct re_cache *c = pthread_getspecific(re_key);
    if (!c) {
        c = sl_xcalloc(1, sizeof *c);
        (void)pthread_setspecific(re_key, c);
    }
    uint64_t h = sl_hash64(pat->u.s ? pat->u.s : "", pat->len);
    for (unsigned i = 0; i < RE_CACHE; i++) {
        struct re_entry *e = &c->e[i];
        if (e->code && e->hash == h && e->len == pat->len &&
            (!pat->len || !memcmp(e->pat, pat->u.s, pat->len)))
            return e;
    }
    int err;
    PCRE2_SIZE off;
    pcre2_code *code = pcre2_compile((PCRE2_SPTR)(pat->u.s ? pat->u.s : ""), pat->len,
                                     PCRE2_UTF | PCRE2_MATCH_INVALID_UTF, &err, &off, NULL);
    if (!code) {
        PCRE2_UCHAR msg[200];
        if (pcre2_get_error_message(err, msg, sizeof msg) < 0)
            snprintf((char *)msg, sizeof msg, "error %d", err);
        sl_fcx_error(cx, "bad regular expression '%.*s': %s at offset %zu",
                     (int)(pat->len > 100 ? 100 : pat->len), pat->u.s ? pat->u.s : "",
                     (const char *)msg, (size_t)off);
        return NULL;
    }
    (void)pcre2_jit_compile(code, PCRE2_JIT_COMPLETE);
    pcre2_match_data *md = pcre2_match_data_create_from_pattern(code, NULL);
    char *copy = sl_malloc(pat->len + 1);
    if (!md || !copy) {
        pcre2_code_free(code);
        pcre2_match_data_free(md);
        sl_free(copy);
        sl_fcx_error(cx, "out of memory");
        return NULL;
    }
    if (pat->len)
        memcpy(copy, pat->u.s, pat->len);
    struct re_entry *e = &c->e[c->next++ % RE_CACHE];
    sl_free(e->pat);
    pcre2_code_free(e->code);
    pcre2_match_data_free(e->md);
    e->hash = h;
    e->pat = copy;
    e->len = pat->len;
    e->code = code;
    e->md = md;
    return e;
}

/* Whole-string match (Java matches()). 1, 0, or a negative error. */
static int whole_match(struct sl_fcx *cx, const struct sl_value *s, const struct sl_value *pat,
                       struct re_entry **used)
{
    struct re_entry *e = regex(cx, pat);
    if (!e)
        return SL_EEVAL;
    *used = e;
    int rc = pcre2_match(e->code, (PCRE2_SPTR)(s->u.s ? s->u.s : ""), s->len, 0,
                         PCRE2_ANCHORED | PCRE2_ENDANCHORED, e->md, NULL);
    return rc >= 0 ? 1 : 0;
}

static int f_regexp_match(struct sl_fcx *cx, const struct sl_value *a, int n, struct sl_value *out)
{
    (void)n;
    *out = sl_value_bool(false);
    if (a[0].type != SL_V_STRING)
        return 0;
    struct re_entry *e;
    if (a[1].type == SL_V_STRING) {
        int m = whole_match(cx, &a[0], &a[1], &e);
        if (m < 0)
            return m;
        *out = sl_value_bool(m == 1);
    } else if (a[1].type == SL_V_LIST) {
        for (uint32_t i = 0; i < a[1].len; i++) {
            if (a[1].u.list[i].type != SL_V_STRING)
                continue;
            int m = whole_match(cx, &a[0], &a[1].u.list[i], &e);
            if (m < 0)
                return m;
            if (m) {
                *out = sl_value_bool(true);
                break;
            }
        }
    }
    return 0;
}

static int f_regexp_group_val(struct sl_fcx *cx, const struct sl_value *a, int n,
                              struct sl_value *out)
{
    (void)n;
    if (a[0].type != SL_V_STRING || a[1].type != SL_V_STRING || a[2].type != SL_V_INT)
        return 0;
    struct re_entry *e;
    int m = whole_match(cx, &a[0], &a[1], &e);
    if (m <= 0)
        return m < 0 ? m : 0;
    int64_t g = a[2].u.i;
    uint32_t ng = pcre2_get_ovector_count(e->md);
    if (g < 0 || (uint64_t)g >= ng)
        return 0;
    PCRE2_SIZE *ov = pcre2_get_ovector_pointer(e->md);
    if (ov[2 * g] == PCRE2_UNSET)
        return 0;
    *out = sl_value_str(a[0].u.s + ov[2 * g], ov[2 * g + 1] - ov[2 * g]);
    return 0;
}

/* Java's replacement syntax (Matcher.appendReplacement: \\x is x, $n the longest group
 * number that exists, ${name}) in PCRE2's (literal text, $$, ${n}). */
static int java_replacement(struct sl_fcx *cx, const struct sl_value *r, uint32_t ngroups,
                            struct sl_value *out)
{
    struct sl_buf *b = sl_fcx_scratch(cx);
    sl_buf_reset(b);
    int rc = 0;
    for (uint32_t i = 0; i < r->len && !rc; i++) {
        char c = r->u.s[i];
        if (c == '\\') {
            if (++i >= r->len)
                return sl_fcx_error(cx, "REGEXP_REPLACE: character to be escaped is missing");
            rc = r->u.s[i] == '$' ? sl_buf_puts(b, "$$") : sl_buf_putc(b, r->u.s[i]);
        } else if (c == '$') {
            if (i + 1 < r->len && r->u.s[i + 1] == '{') {
                uint32_t j = i + 2;
                while (j < r->len && r->u.s[j] != '}')
                    j++;
                if (j >= r->len || j == i + 2)
                    return sl_fcx_error(cx, "REGEXP_REPLACE: bad named group reference");
                rc = sl_buf_append(b, r->u.s + i, j - i + 1);
                i = j;
                continue;
            }
            if (i + 1 >= r->len || r->u.s[i + 1] < '0' || r->u.s[i + 1] > '9')
                return sl_fcx_error(cx, "REGEXP_REPLACE: Illegal group reference");
            uint32_t g = (uint32_t)(r->u.s[++i] - '0');
            if (g > ngroups)
                return sl_fcx_error(cx, "REGEXP_REPLACE: No group %u", g);
            while (i + 1 < r->len && r->u.s[i + 1] >= '0' && r->u.s[i + 1] <= '9' &&
                   g * 10 + (uint32_t)(r->u.s[i + 1] - '0') <= ngroups)
                g = g * 10 + (uint32_t)(r->u.s[++i] - '0');
            rc = sl_buf_appendf(b, "${%u}", g);
        } else {
            rc = sl_buf_putc(b, c);
        }
    }
    return rc ? rc : sl_fcx_str(cx, b->ptr ? b->ptr : "", b->len, out);
}

static int f_regexp_replace(struct sl_fcx *cx, const struct sl_value *a, int n,
                            struct sl_value *out)
{
    (void)n;
    if (a[0].type != SL_V_STRING) {
        *out = a[0];
        return 0;
    }
    if (a[1].type != SL_V_STRING || a[2].type != SL_V_STRING) {
        *out = a[0];
        return 0;
    }
    struct re_entry *e = regex(cx, &a[1]);
    if (!e)
        return SL_EEVAL;
    uint32_t ngroups = 0;
    (void)pcre2_pattern_info(e->code, PCRE2_INFO_CAPTURECOUNT, &ngroups);
    struct sl_value rep;
    int jrc = java_replacement(cx, &a[2], ngroups, &rep);
    if (jrc)
        return jrc;
    PCRE2_SIZE cap = (PCRE2_SIZE)a[0].len * 2 + 256;
    for (int attempt = 0; attempt < 2; attempt++) {
        char *buf = sl_fcx_alloc(cx, cap);
        if (!buf)
            return SL_ENOMEM;
        PCRE2_SIZE olen = cap;
        int rc = pcre2_substitute(e->code, (PCRE2_SPTR)(a[0].u.s ? a[0].u.s : ""), a[0].len, 0,
                                  PCRE2_SUBSTITUTE_GLOBAL | PCRE2_SUBSTITUTE_OVERFLOW_LENGTH, e->md,
                                  NULL, (PCRE2_SPTR)(rep.u.s ? rep.u.s : ""), rep.len,
                                  (PCRE2_UCHAR *)buf, &olen);
        if (rc >= 0) {
            *out = sl_value_str(buf, olen);
            return 0;
        }
        if (rc != PCRE2_ERROR_NOMEMORY || olen > (64u << 20))
            return sl_fcx_error(cx, "REGEXP_REPLACE failed (%d)", rc);
        cap = olen + 1;
    }
    return sl_fcx_error(cx, "REGEXP_REPLACE: result too large");
}

/* ---- TO_JSON_OBJECT, TO_JSON_MAP, TO_JSON_LIST ----
 *
 * Metron reads the text with Jackson: objects become maps (insertion order, a repeated key
 * keeps its first position and its last value), arrays lists, integers Integer when they fit,
 * else Long (beyond Long: Double here, BigInteger in Java), decimals Double. Jackson stops
 * after the first value, so trailing text is ignored. Nesting is limited to JSON_DEPTH. The
 * codec layer's JSON reader is not used: lang may not depend on codec (ARCHITECTURE.md). */

#define JSON_DEPTH 64

struct jp {
    struct sl_fcx *cx;
    const char *p, *end;
};

static void jws(struct jp *j)
{
    while (j->p < j->end && (*j->p == ' ' || *j->p == '\t' || *j->p == '\n' || *j->p == '\r'))
        j->p++;
}

static int jhex4(struct jp *j, uint32_t *out)
{
    if (j->end - j->p < 4)
        return -1;
    uint32_t v = 0;
    for (int i = 0; i < 4; i++) {
        char c = *j->p++;
        v <<= 4;
        if (c >= '0' && c <= '9')
            v |= (uint32_t)(c - '0');
        else if (c >= 'a' && c <= 'f')
            v |= (uint32_t)(c - 'a' + 10);
        else if (c >= 'A' && c <= 'F')
            v |= (uint32_t)(c - 'A' + 10);
        else
            return -1;
    }
    *out = v;
    return 0;
}

/* A JSON string at j->p (after the quote) into the arena. 0, -1 (syntax) or SL_ENOMEM. */
static int jstring(struct jp *j, struct sl_value *out)
{
    const char *start = j->p;
    bool plain = true;
    while (j->p < j->end && *j->p != '"') {
        if (*j->p == '\\') {
            plain = false;
            j->p++;
        } else if ((unsigned char)*j->p < 0x20) {
            return -1;
        }
        j->p++;
    }
    if (j->p >= j->end)
        return -1;
    size_t raw = (size_t)(j->p - start);
    j->p++;
    if (plain)
        return sl_fcx_str(j->cx, start, raw, out) ? SL_ENOMEM : 0;
    char *buf = sl_fcx_alloc(j->cx, raw ? raw : 1); /* unescaping never grows the text */
    if (!buf)
        return SL_ENOMEM;
    size_t n = 0;
    struct jp q = {j->cx, start, start + raw};
    while (q.p < q.end) {
        char c = *q.p++;
        if (c != '\\') {
            buf[n++] = c;
            continue;
        }
        c = *q.p++;
        switch (c) {
        case '"':
        case '\\':
        case '/':
            buf[n++] = c;
            break;
        case 'b':
            buf[n++] = '\b';
            break;
        case 'f':
            buf[n++] = '\f';
            break;
        case 'n':
            buf[n++] = '\n';
            break;
        case 'r':
            buf[n++] = '\r';
            break;
        case 't':
            buf[n++] = '\t';
            break;
        case 'u': {
            uint32_t cp, lo;
            if (jhex4(&q, &cp))
                return -1;
            if (cp >= 0xD800 && cp <= 0xDBFF && q.end - q.p >= 6 && q.p[0] == '\\' &&
                q.p[1] == 'u') {
                const char *save = q.p;
                q.p += 2;
                if (!jhex4(&q, &lo) && lo >= 0xDC00 && lo <= 0xDFFF)
                    cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                else
                    q.p = save;
            }
            if (cp >= 0xD800 && cp <= 0xDFFF)
                cp = 0xFFFD; /* a lone surrogate has no UTF-8 form */
            if (cp < 0x80) {
                buf[n++] = (char)cp;
            } else if (cp < 0x800) {
                buf[n++] = (char)(0xC0 | cp >> 6);
                buf[n++] = (char)(0x80 | (cp & 0x3F));
            } else if (cp < 0x10000) {
                buf[n++] = (char)(0xE0 | cp >> 12);
                buf[n++] = (char)(0x80 | (cp >> 6 & 0x3F));
                buf[n++] = (char)(0x80 | (cp & 0x3F));
            } else {
                buf[n++] = (char)(0xF0 | cp >> 18);
                buf[n++] = (char)(0x80 | (cp >> 12 & 0x3F));
                buf[n++] = (char)(0x80 | (cp >> 6 & 0x3F));
                buf[n++] = (char)(0x80 | (cp & 0x3F));
            }
            break;
        }
        default:
            return -1;
        }
    }
    *out = sl_value_str(buf, n);
    return 0;
}

static int jvalue(struct jp *j, int depth, struct sl_value *out);

/* Elements of an array or members of an object, gathered in a heap vector then copied to the
 * arena at their final count. */
static int jcompound(struct jp *j, int depth, bool obj, struct sl_value *out)
{
    size_t cap = 0, n = 0;
    struct sl_kv *kv = NULL;
    int rc = 0;
    jws(j);
    if (j->p < j->end && *j->p == (obj ? '}' : ']')) {
        j->p++;
        goto build;
    }
    for (;;) {
        if (n == cap) {
            size_t nc = cap ? cap * 2 : 8;
            struct sl_kv *nkv = sl_realloc(kv, nc * sizeof *kv);
            if (!nkv) {
                rc = SL_ENOMEM;
                goto done;
            }
            kv = nkv;
            cap = nc;
        }
        memset(&kv[n], 0, sizeof kv[n]);
        jws(j);
        if (obj) {
            struct sl_value k;
            if (j->p >= j->end || *j->p != '"') {
                rc = -1;
                goto done;
            }
            j->p++;
            if ((rc = jstring(j, &k)))
                goto done;
            jws(j);
            if (j->p >= j->end || *j->p != ':') {
                rc = -1;
                goto done;
            }
            j->p++;
            kv[n].key = sl_str_make(k.u.s, k.len);
        }
        if ((rc = jvalue(j, depth + 1, &kv[n].val)))
            goto done;
        n++;
        jws(j);
        if (j->p < j->end && *j->p == ',') {
            j->p++;
            continue;
        }
        if (j->p < j->end && *j->p == (obj ? '}' : ']')) {
            j->p++;
            break;
        }
        rc = -1;
        goto done;
    }
build:
    if (obj) {
        /* a repeated key: the last value in the first position (LinkedHashMap.put); an
         * open-addressing index over the kept members keeps this linear */
        size_t tsz = 16;
        while (tsz < 2 * n)
            tsz *= 2;
        size_t *tab = n > 1 ? sl_malloc(tsz * sizeof *tab) : NULL;
        if (n > 1 && !tab) {
            rc = SL_ENOMEM;
            goto done;
        }
        for (size_t i = 0; n > 1 && i < tsz; i++)
            tab[i] = SIZE_MAX;
        size_t o = 0;
        for (size_t i = 0; i < n; i++) {
            if (n <= 1) {
                kv[o++] = kv[i];
                continue;
            }
            size_t h = (size_t)sl_hash64(kv[i].key.ptr ? kv[i].key.ptr : "", kv[i].key.len);
            size_t slot = h & (tsz - 1);
            while (
                tab[slot] != SIZE_MAX &&
                !(kv[tab[slot]].key.len == kv[i].key.len &&
                  (!kv[i].key.len || !memcmp(kv[tab[slot]].key.ptr, kv[i].key.ptr, kv[i].key.len))))
                slot = (slot + 1) & (tsz - 1);
            if (tab[slot] != SIZE_MAX) {
                kv[tab[slot]].val = kv[i].val;
            } else {
                tab[slot] = o;
                kv[o++] = kv[i];
            }
        }
        sl_free(tab);
        n = o;
        if ((rc = sl_fcx_map(j->cx, (uint32_t)n, out)))
            goto done;
        if (n)
            memcpy(out->u.map, kv, n * sizeof *kv);
    } else {
        if ((rc = sl_fcx_list(j->cx, (uint32_t)n, out)))
            goto done;
        for (size_t i = 0; i < n; i++)
            out->u.list[i] = kv[i].val;
    }
done:
    sl_free(kv);
    return rc;
}

static int jvalue(struct jp *j, int depth, struct sl_value *out)
{
    if (depth > JSON_DEPTH)
        return -2;
    jws(j);
    if (j->p >= j->end)
        return -1;
    char c = *j->p;
    if (c == '{' || c == '[') {
        j->p++;
        return jcompound(j, depth, c == '{', out);
    }
    if (c == '"') {
        j->p++;
        return jstring(j, out);
    }
    static const struct {
        const char *w;
        int kind;
    } words[] = {{"true", 1}, {"false", 0}, {"null", 2}};
    for (size_t i = 0; i < 3; i++) {
        size_t l = strlen(words[i].w);
        if ((size_t)(j->end - j->p) >= l && !memcmp(j->p, words[i].w, l)) {
            j->p += l;
            *out = words[i].kind == 2 ? sl_value_null() : sl_value_bool(words[i].kind == 1);
            return 0;
        }
    }
    /* a number: -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)? */
    const char *s = j->p;
    bool frac = false;
    if (j->p < j->end && *j->p == '-')
        j->p++;
    const char *ds = j->p;
    while (j->p < j->end && *j->p >= '0' && *j->p <= '9')
        j->p++;
    if (j->p == ds || (*ds == '0' && j->p - ds > 1))
        return -1;
    if (j->p < j->end && *j->p == '.') {
        frac = true;
        const char *fs = ++j->p;
        while (j->p < j->end && *j->p >= '0' && *j->p <= '9')
            j->p++;
        if (j->p == fs)
            return -1;
    }
    if (j->p < j->end && (*j->p == 'e' || *j->p == 'E')) {
        frac = true;
        j->p++;
        if (j->p < j->end && (*j->p == '+' || *j->p == '-'))
            j->p++;
        const char *es = j->p;
        while (j->p < j->end && *j->p >= '0' && *j->p <= '9')
            j->p++;
        if (j->p == es)
            return -1;
    }
    int64_t l;
    if (!frac && sl_sv_parse_long(s, (size_t)(j->p - s), &l) == 0) {
        *out = l >= INT32_MIN && l <= INT32_MAX ? sl_sv_int((int32_t)l) : sl_sv_long(l);
        return 0;
    }
    double d;
    if (sl_sv_parse_double(s, (size_t)(j->p - s), &d))
        return -1;
    *out = sl_sv_double(d);
    return 0;
}

enum json_want { JW_ANY, JW_MAP, JW_LIST };

static int to_json(struct sl_fcx *cx, const char *fn, const struct sl_value *a,
                   struct sl_value *out, enum json_want want)
{
    if (a[0].type == SL_V_NULL)
        return 0;
    if (a[0].type != SL_V_STRING)
        return sl_fcx_error(cx, "%s: Valid JSON string not supplied", fn);
    if (!a[0].len) {
        *out = a[0]; /* Metron returns '' as it is */
        return 0;
    }
    struct jp j = {cx, a[0].u.s, a[0].u.s + a[0].len};
    jws(&j);
    if (want != JW_ANY && (j.p >= j.end || *j.p != (want == JW_MAP ? '{' : '[')))
        return sl_fcx_error(cx, "%s: Valid JSON string not supplied", fn);
    int rc = jvalue(&j, 0, out);
    if (rc == SL_ENOMEM)
        return rc;
    if (rc == -2)
        return sl_fcx_error(cx, "%s: JSON nested deeper than %d", fn, JSON_DEPTH);
    if (rc)
        return sl_fcx_error(cx, "%s: Valid JSON string not supplied (at offset %zu)", fn,
                            (size_t)(j.p - a[0].u.s));
    return 0;
}

static int f_to_json_object(struct sl_fcx *cx, const struct sl_value *a, int n,
                            struct sl_value *out)
{
    (void)n;
    return to_json(cx, "TO_JSON_OBJECT", a, out, JW_ANY);
}

static int f_to_json_map(struct sl_fcx *cx, const struct sl_value *a, int n, struct sl_value *out)
{
    (void)n;
    return to_json(cx, "TO_JSON_MAP", a, out, JW_MAP);
}

static int f_to_json_list(struct sl_fcx *cx, const struct sl_value *a, int n, struct sl_value *out)
{
    (void)n;
    return to_json(cx, "TO_JSON_LIST", a, out, JW_LIST);
}

const struct sl_sfunc sl_sfuncs_string[] = {
    {"TO_JSON_OBJECT", 1, 1, 0, "(string)", "Object",
     "Parses JSON text (Jackson's typing: Integer, Long, Double, List, Map); '' stays ''; "
     "invalid JSON is an error.",
     f_to_json_object},
    {"TO_JSON_MAP", 1, 1, 0, "(string)", "Map",
     "Parses a JSON object into a map; anything else is an error; '' stays ''.", f_to_json_map},
    {"TO_JSON_LIST", 1, 1, 0, "(string)", "List",
     "Parses a JSON array into a list; anything else is an error; '' stays ''.", f_to_json_list},
    {"TO_UPPER", 1, 1, SL_SF_PURE, "(input)", "String", "Upper case (of toString()).", f_to_upper},
    {"TO_LOWER", 1, 1, SL_SF_PURE, "(input)", "String", "Lower case (of toString()).", f_to_lower},
    {"TRIM", 1, 1, SL_SF_PURE, "(input)", "String", "Strips leading and trailing whitespace.",
     f_trim},
    {"STARTS_WITH", 2, 2, SL_SF_PURE, "(string, prefix)", "Boolean",
     "true if string starts with prefix; false if either is null.", f_starts_with},
    {"ENDS_WITH", 2, 2, SL_SF_PURE, "(string, suffix)", "Boolean",
     "true if string ends with suffix; false if either is null.", f_ends_with},
    {"PREPEND_IF_MISSING", 2, SL_SF_VARARGS, SL_SF_PURE, "(string, prefix, prefixes...)", "String",
     "Adds prefix unless the string already starts with it or another given one.", f_prepend},
    {"APPEND_IF_MISSING", 2, SL_SF_VARARGS, SL_SF_PURE, "(string, suffix, suffixes...)", "String",
     "Adds suffix unless the string already ends with it or another given one.", f_append},
    {"FILL_LEFT", 3, 3, SL_SF_PURE, "(input, fill, length)", "String",
     "Pads on the left with the first character of fill up to length.", f_fill_left},
    {"FILL_RIGHT", 3, 3, SL_SF_PURE, "(input, fill, length)", "String",
     "Pads on the right with the first character of fill up to length.", f_fill_right},
    {"CHOP", 1, 1, SL_SF_PURE, "(string)", "String",
     "Removes the last character (a trailing \\r\\n counts as one).", f_chop},
    {"CHOMP", 1, 1, SL_SF_PURE, "(string)", "String", "Removes one trailing line break.", f_chomp},
    {"COUNT_MATCHES", 2, 2, SL_SF_PURE, "(string, substring)", "Integer",
     "Non-overlapping occurrences of substring; 0 for null.", f_count_matches},
    {"STRING_ENTROPY", 1, 1, SL_SF_PURE, "(string)", "Double",
     "Shannon entropy in bits per character; 0.0 for ''.", f_string_entropy},
    {"SPLIT", 2, 2, SL_SF_PURE, "(string, delimiter)", "List",
     "Splits on a literal delimiter, keeping empty pieces; [] for null.", f_split},
    {"JOIN", 2, 2, SL_SF_PURE, "(list, delimiter)", "String",
     "Joins the elements' text with the delimiter; null elements are skipped.", f_join},
    {"SUBSTRING", 2, 3, SL_SF_PURE, "(string, start, end?)", "String",
     "Java substring (end exclusive); integer indices; out of range is an error.", f_substring},
    {"FORMAT", 1, SL_SF_VARARGS, SL_SF_PURE, "(format, args...)", "String",
     "java.util.Formatter: %s %d %x %o %f %e %g %c %b %n %% with flags, width and precision; "
     "a missing argument is an error.",
     f_format},
    {"REGEXP_MATCH", 2, 2, SL_SF_PURE, "(string, pattern | [patterns])", "Boolean",
     "true if the WHOLE string matches the pattern (any of a list); false for null.",
     f_regexp_match},
    {"REGEXP_GROUP_VAL", 3, 3, SL_SF_PURE, "(string, pattern, group)", "String",
     "Group n of a whole-string match; null if no match or no such group.", f_regexp_group_val},
    {"REGEXP_REPLACE", 3, 3, SL_SF_PURE, "(string, pattern, replacement)", "String",
     "Replaces every match; $1 in the replacement is group 1.", f_regexp_replace},
    {0},
};
