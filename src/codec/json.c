/*
 * json.c — JSON parser and writer (see json.h).
 *
 * DESIGN: a recursive-descent parser over [p, end) with no tokenizer pass. The hot loop is
 * the string scan: 16 bytes at a time with SSE2, one signed compare finds both control
 * characters (< 0x20) and non-ASCII bytes (>= 0x80 are negative as signed), two equality
 * compares find '"' and '\\'; only those positions leave the fast path. Non-ASCII runs are
 * validated as UTF-8 in place. Members and elements are collected on a per-thread stack
 * and copied once into the arena at the end of their container, so a parse allocates from
 * the batch arena only (the stack grows to the largest document seen, then stays).
 * Numbers: integers are accumulated inline; decimals with at most 15 significant digits and
 * a small power of ten take Clinger's exact fast path; the rest go to strtod.
 */
#include "codec/json.h"

#include "base/alloc.h"
#include "base/clock.h"

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

#define DEFAULT_DEPTH   64
#define DEFAULT_MAX_LEN ((size_t)16 << 20)
#define MAX_FIELDS      4096

struct parser {
    const char *start;
    const char *p;
    const char *end;
    struct sl_arena *arena;
    uint32_t depth;
    uint32_t max_depth;
    int err;
    size_t err_off;
    const char *err_msg;
};

/* ---- per-thread scratch stacks */

struct stack {
    void *ptr;
    size_t len; /* elements in use */
    size_t cap;
};

static _Thread_local struct stack vstack; /* struct sl_value, for arrays */
static _Thread_local struct stack kstack; /* struct sl_kv, for objects */
static _Thread_local struct stack fstack; /* struct sl_field, for top-level members */

/* per position in the event: the key seen there last (names live as long as the process) */
#define KEY_GUESSES 64
struct key_guess {
    const char *name;
    uint32_t len;
    sl_sym sym;
};
static _Thread_local struct key_guess key_guess[KEY_GUESSES];
/* one bit per symbol: set while the event being parsed has that key */
static _Thread_local uint64_t seen[SL_SYM_MAX / 64];

/* The stacks live as long as their thread: a key destructor frees them at thread exit. */
static pthread_key_t stacks_key;
static pthread_once_t stacks_once = PTHREAD_ONCE_INIT;

static void free_stacks(void *unused)
{
    (void)unused;
    sl_free(vstack.ptr);
    sl_free(kstack.ptr);
    sl_free(fstack.ptr);
    memset(&vstack, 0, sizeof(vstack));
    memset(&kstack, 0, sizeof(kstack));
    memset(&fstack, 0, sizeof(fstack));
}

static void make_key(void)
{
    pthread_key_create(&stacks_key, free_stacks);
}

static void *stack_push(struct stack *s, size_t elem)
{
    if (s->len == s->cap) {
        if (!s->cap) {
            pthread_once(&stacks_once, make_key);
            pthread_setspecific(stacks_key, &vstack); /* any non-NULL value arms it */
        }
        size_t cap = s->cap ? s->cap * 2 : 256;
        void *np = sl_realloc(s->ptr, cap * elem);
        if (!np)
            return NULL;
        s->ptr = np;
        s->cap = cap;
    }
    return (char *)s->ptr + elem * s->len++;
}

static int fail(struct parser *ps, const char *at, int err, const char *msg)
{
    if (!ps->err) {
        ps->err = err;
        ps->err_off = (size_t)(at - ps->start);
        ps->err_msg = msg;
    }
    return err;
}

static inline void skip_ws(struct parser *ps)
{
    const char *p = ps->p;
    while (p < ps->end && (*p == ' ' || *p == '\n' || *p == '\r' || *p == '\t'))
        p++;
    ps->p = p;
}

/* ---- UTF-8 */

/* Validate one multi-byte sequence at p (p[0] >= 0x80). Returns its length or 0. */
static size_t utf8_seq(const unsigned char *p, const unsigned char *end)
{
    unsigned c = p[0];
    if (c >= 0xC2 && c <= 0xDF) {
        if (end - p >= 2 && (p[1] & 0xC0) == 0x80)
            return 2;
        return 0;
    }
    if (c >= 0xE0 && c <= 0xEF) {
        if (end - p < 3 || (p[1] & 0xC0) != 0x80 || (p[2] & 0xC0) != 0x80)
            return 0;
        if (c == 0xE0 && p[1] < 0xA0)
            return 0; /* overlong */
        if (c == 0xED && p[1] >= 0xA0)
            return 0; /* UTF-16 surrogate */
        return 3;
    }
    if (c >= 0xF0 && c <= 0xF4) {
        if (end - p < 4 || (p[1] & 0xC0) != 0x80 || (p[2] & 0xC0) != 0x80 || (p[3] & 0xC0) != 0x80)
            return 0;
        if (c == 0xF0 && p[1] < 0x90)
            return 0; /* overlong */
        if (c == 0xF4 && p[1] >= 0x90)
            return 0; /* > U+10FFFF */
        return 4;
    }
    return 0;
}

static size_t utf8_encode(uint32_t cp, char *out)
{
    if (cp < 0x80) {
        out[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (char)(0xC0 | (cp >> 6));
        out[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (char)(0xE0 | (cp >> 12));
        out[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        out[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    out[0] = (char)(0xF0 | (cp >> 18));
    out[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    out[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
    out[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

/* ---- strings */

static int hex4(const char *p, uint32_t *out)
{
    uint32_t v = 0;
    for (int i = 0; i < 4; i++) {
        unsigned c = (unsigned char)p[i];
        unsigned d;
        if (c >= '0' && c <= '9')
            d = c - '0';
        else if ((c | 0x20) >= 'a' && (c | 0x20) <= 'f')
            d = (c | 0x20) - 'a' + 10;
        else
            return -1;
        v = v * 16 + d;
    }
    *out = v;
    return 0;
}

/*
 * Find the end of the plain prefix of a string body starting at p: the first '"', '\\',
 * control character or non-ASCII byte.
 */
static inline const char *scan_plain(const char *p, const char *end)
{
#ifdef __SSE2__
    const __m128i quote = _mm_set1_epi8('"');
    const __m128i bslash = _mm_set1_epi8('\\');
    const __m128i space = _mm_set1_epi8(0x20);
    while (end - p >= 16) {
        __m128i x = _mm_loadu_si128((const __m128i *)(const void *)p);
        __m128i m = _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(x, quote), _mm_cmpeq_epi8(x, bslash)),
                                 _mm_cmplt_epi8(x, space));
        int mask = _mm_movemask_epi8(m);
        if (mask)
            return p + __builtin_ctz((unsigned)mask);
        p += 16;
    }
#endif
    while (p < end) {
        unsigned char c = (unsigned char)*p;
        if (c == '"' || c == '\\' || c < 0x20 || c >= 0x80)
            return p;
        p++;
    }
    return p;
}

/* Decode the rest of a string that has escapes. `p` is at the first backslash, `s` at the
 * string's first byte. */
static int parse_string_slow(struct parser *ps, const char *s, const char *p, struct sl_str *out)
{
    /* find the closing quote first: decoded text is never longer than the source */
    const char *close = p;
    while (close < ps->end && *close != '"')
        close += *close == '\\' ? 2 : 1;
    if (close >= ps->end)
        return fail(ps, ps->end, SL_EPARSE, "unterminated string");
    size_t cap = (size_t)(close - s);
    char *buf = sl_arena_alloc_bytes(ps->arena, cap ? cap : 1);
    if (!buf)
        return fail(ps, s, SL_ENOMEM, "out of memory decoding a string");
    size_t n = (size_t)(p - s);
    memcpy(buf, s, n);
    const char *end = ps->end;
    for (;;) {
        const char *q = scan_plain(p, end);
        memcpy(buf + n, p, (size_t)(q - p));
        n += (size_t)(q - p);
        p = q;
        if (p >= end)
            return fail(ps, p, SL_EPARSE, "unterminated string");
        unsigned char c = (unsigned char)*p;
        if (c == '"') {
            ps->p = p + 1;
            *out = sl_str_make(buf, n);
            return 0;
        }
        if (c < 0x20)
            return fail(ps, p, SL_EPARSE, "control character in string (escape it)");
        if (c >= 0x80) {
            size_t k = utf8_seq((const unsigned char *)p, (const unsigned char *)end);
            if (!k)
                return fail(ps, p, SL_EUTF8, "invalid UTF-8 in string");
            memcpy(buf + n, p, k);
            n += k;
            p += k;
            continue;
        }
        /* backslash */
        if (end - p < 2)
            return fail(ps, p, SL_EPARSE, "unterminated escape");
        char e = p[1];
        p += 2;
        switch (e) {
        case '"':
            buf[n++] = '"';
            break;
        case '\\':
            buf[n++] = '\\';
            break;
        case '/':
            buf[n++] = '/';
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
            uint32_t cp;
            if (end - p < 4 || hex4(p, &cp))
                return fail(ps, p, SL_EPARSE, "expected 4 hex digits after \\u");
            p += 4;
            if (cp >= 0xD800 && cp <= 0xDBFF) {
                uint32_t lo;
                if (end - p < 6 || p[0] != '\\' || p[1] != 'u' || hex4(p + 2, &lo) || lo < 0xDC00 ||
                    lo > 0xDFFF)
                    return fail(ps, p - 6, SL_EUTF8, "high surrogate without a low surrogate");
                p += 6;
                cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
            } else if (cp >= 0xDC00 && cp <= 0xDFFF) {
                return fail(ps, p - 6, SL_EUTF8, "low surrogate without a high surrogate");
            }
            /* \uXXXX is 6 bytes and encodes to at most 4 (or 12 -> 4): fits in place */
            n += utf8_encode(cp, buf + n);
            break;
        }
        default:
            return fail(ps, p - 2, SL_EPARSE, "invalid escape in string");
        }
    }
}

/* ps->p is just past the opening quote. */
static inline int parse_string(struct parser *ps, struct sl_str *out)
{
    const char *s = ps->p;
    const char *p = s;
    const char *end = ps->end;
    for (;;) {
        p = scan_plain(p, end);
        if (p >= end)
            return fail(ps, p, SL_EPARSE, "unterminated string");
        unsigned char c = (unsigned char)*p;
        if (c == '"') {
            *out = sl_str_make(s, (size_t)(p - s));
            ps->p = p + 1;
            return 0;
        }
        if (c >= 0x80) {
            size_t k = utf8_seq((const unsigned char *)p, (const unsigned char *)end);
            if (!k)
                return fail(ps, p, SL_EUTF8, "invalid UTF-8 in string");
            p += k;
            continue;
        }
        if (c == '\\')
            return parse_string_slow(ps, s, p, out);
        return fail(ps, p, SL_EPARSE, "control character in string (escape it)");
    }
}

/* Set *out in place: building a 24-byte temporary and copying it costs a store-forwarding
 * stall per value (measured: a third of parse_value's samples sat on that copy). */
static inline void set_int(struct sl_value *out, int64_t i)
{
    out->type = SL_V_INT;
    out->flags = 0;
    out->len = 0;
    out->u.i = i;
}

static inline void set_double(struct sl_value *out, double d)
{
    out->type = SL_V_DOUBLE;
    out->flags = 0;
    out->len = 0;
    out->u.d = d;
}

static inline void set_str(struct sl_value *out, const char *p, size_t n)
{
    out->type = SL_V_STRING;
    out->flags = 0;
    out->len = (uint32_t)n;
    out->u.s = p;
}

/* ---- numbers */

static const double pow10_exact[] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
                                     1e8,  1e9,  1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
                                     1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};

static int parse_number(struct parser *ps, struct sl_value *out)
{
    const char *s = ps->p;
    const char *p = s;
    const char *end = ps->end;
    bool neg = false;
    if (p < end && *p == '-') {
        neg = true;
        p++;
    }
    if (p >= end || (unsigned)(*p - '0') > 9)
        return fail(ps, p, SL_EPARSE, "expected a digit");
    uint64_t mant = 0;
    int digits = 0;  /* significant digits accumulated in mant */
    int dropped = 0; /* integer digits beyond 19 */
    if (*p == '0') {
        p++;
        if (p < end && (unsigned)(*p - '0') <= 9)
            return fail(ps, p, SL_EPARSE, "leading zeros are not allowed");
    } else {
        while (p < end && (unsigned)(*p - '0') <= 9) {
            if (digits < 19) {
                mant = mant * 10 + (uint64_t)(*p - '0');
                digits++;
            } else {
                dropped++;
            }
            p++;
        }
    }
    bool is_int = true;
    int frac_digits = 0;
    if (p < end && *p == '.') {
        is_int = false;
        p++;
        if (p >= end || (unsigned)(*p - '0') > 9)
            return fail(ps, p, SL_EPARSE, "expected a digit after '.'");
        while (p < end && (unsigned)(*p - '0') <= 9) {
            if (digits < 19 && !(mant == 0 && *p == '0' && digits == 0)) {
                mant = mant * 10 + (uint64_t)(*p - '0');
                digits++;
                frac_digits++;
            } else if (mant == 0 && digits == 0) {
                frac_digits++; /* leading zeros of 0.000x */
            } else {
                digits = 99; /* beyond 19 significant digits: strtod decides */
            }
            p++;
        }
    }
    int64_t exp10 = 0;
    if (p < end && (*p == 'e' || *p == 'E')) {
        is_int = false;
        p++;
        bool eneg = false;
        if (p < end && (*p == '+' || *p == '-')) {
            eneg = *p == '-';
            p++;
        }
        if (p >= end || (unsigned)(*p - '0') > 9)
            return fail(ps, p, SL_EPARSE, "expected a digit in the exponent");
        while (p < end && (unsigned)(*p - '0') <= 9) {
            if (exp10 < 100000)
                exp10 = exp10 * 10 + (*p - '0');
            p++;
        }
        if (eneg)
            exp10 = -exp10;
    }
    ps->p = p;
    if (is_int && !dropped) {
        if (!neg && mant <= (uint64_t)INT64_MAX) {
            set_int(out, (int64_t)mant);
            return 0;
        }
        if (neg && mant <= (uint64_t)INT64_MAX + 1) {
            set_int(out, mant == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)mant);
            return 0;
        }
    }
    /* Clinger's fast path: one correctly rounded operation when the mantissa is exact in a
     * double (<= 2^53) and so is 10^|e| (|e| <= 22) */
    int64_t e = exp10 - frac_digits;
    if (digits <= 19 && mant <= ((uint64_t)1 << 53) && !dropped && e >= -22 && e <= 22) {
        double d = (double)mant;
        d = e < 0 ? d / pow10_exact[-e] : d * pow10_exact[e];
        set_double(out, neg ? -d : d);
        return 0;
    }
    char tmp[512];
    size_t len = (size_t)(p - s);
    char *buf = tmp;
    if (len >= sizeof(tmp)) {
        buf = sl_arena_alloc_bytes(ps->arena, len + 1);
        if (!buf)
            return fail(ps, s, SL_ENOMEM, "out of memory");
    }
    memcpy(buf, s, len);
    buf[len] = 0;
    double d = strtod(buf, NULL);
    if (isinf(d))
        return fail(ps, s, SL_ERANGE, "number out of range");
    set_double(out, d);
    return 0;
}

/* ---- values */

static int parse_value(struct parser *ps, struct sl_value *out);

static int expect_lit(struct parser *ps, const char *lit, size_t n)
{
    if ((size_t)(ps->end - ps->p) < n || memcmp(ps->p, lit, n) != 0)
        return fail(ps, ps->p, SL_EPARSE, "invalid literal (expected true, false or null)");
    ps->p += n;
    return 0;
}

/* After a member or element: 1 on ',' (more follow), 0 on `close`, or an error. */
static inline int next_or_close(struct parser *ps, char close, const char *unterminated,
                                const char *expected)
{
    skip_ws(ps);
    if (ps->p >= ps->end)
        return fail(ps, ps->p, SL_EPARSE, unterminated);
    if (*ps->p == ',') {
        ps->p++;
        return 1;
    }
    if (*ps->p == close) {
        ps->p++;
        return 0;
    }
    return fail(ps, ps->p, SL_EPARSE, expected);
}

/* `"key" :` with the whitespace around it; leaves ps->p at the value. */
static inline int member_key(struct parser *ps, struct sl_str *key)
{
    skip_ws(ps);
    if (ps->p >= ps->end || *ps->p != '"')
        return fail(ps, ps->p, SL_EPARSE, "expected '\"' to start an object key");
    ps->p++;
    int rc = parse_string(ps, key);
    if (rc)
        return rc;
    skip_ws(ps);
    if (ps->p >= ps->end || *ps->p != ':')
        return fail(ps, ps->p, SL_EPARSE, "expected ':' after object key");
    ps->p++;
    skip_ws(ps);
    return 0;
}

/* Copy the stack entries from `base` on into the arena (the container's final storage).
 * *dst is NULL for an empty container. */
static inline int freeze(struct parser *ps, const struct stack *st, size_t base, size_t elem,
                         void **dst)
{
    size_t n = st->len - base;
    *dst = NULL;
    if (!n)
        return 0;
    *dst = sl_arena_alloc(ps->arena, n * elem);
    if (!*dst)
        return fail(ps, ps->p, SL_ENOMEM, "out of memory");
    memcpy(*dst, (char *)st->ptr + base * elem, n * elem);
    return 0;
}

static int parse_array(struct parser *ps, struct sl_value *out)
{
    const char *open = ps->p - 1;
    if (++ps->depth > ps->max_depth)
        return fail(ps, open, SL_EDEPTH, "nesting too deep");
    size_t base = vstack.len;
    int more = 1;
    skip_ws(ps);
    if (ps->p < ps->end && *ps->p == ']') {
        ps->p++;
        more = 0;
    }
    while (more > 0) {
        struct sl_value v;
        skip_ws(ps);
        if ((more = parse_value(ps, &v)) != 0)
            break;
        struct sl_value *slot = stack_push(&vstack, sizeof(struct sl_value));
        if (!slot) {
            more = fail(ps, ps->p, SL_ENOMEM, "out of memory");
            break;
        }
        *slot = v;
        more = next_or_close(ps, ']', "unterminated array (expected ',' or ']')",
                             "expected ',' or ']' in array");
    }
    if (more == 0) {
        void *items;
        more = freeze(ps, &vstack, base, sizeof(struct sl_value), &items);
        out->type = SL_V_LIST;
        out->flags = 0;
        out->len = (uint32_t)(vstack.len - base);
        out->u.list = items;
    }
    vstack.len = base;
    ps->depth--;
    return more;
}

static int parse_object(struct parser *ps, struct sl_value *out)
{
    const char *open = ps->p - 1;
    if (++ps->depth > ps->max_depth)
        return fail(ps, open, SL_EDEPTH, "nesting too deep");
    size_t base = kstack.len;
    int more = 1;
    skip_ws(ps);
    if (ps->p < ps->end && *ps->p == '}') {
        ps->p++;
        more = 0;
    }
    while (more > 0) {
        struct sl_kv kv;
        if ((more = member_key(ps, &kv.key)) != 0 || (more = parse_value(ps, &kv.val)) != 0)
            break;
        struct sl_kv *slot = stack_push(&kstack, sizeof(struct sl_kv));
        if (!slot) {
            more = fail(ps, ps->p, SL_ENOMEM, "out of memory");
            break;
        }
        *slot = kv;
        more = next_or_close(ps, '}', "unterminated object (expected ',' or '}')",
                             "expected ',' or '}' after object member");
    }
    if (more == 0) {
        void *members;
        more = freeze(ps, &kstack, base, sizeof(struct sl_kv), &members);
        out->type = SL_V_MAP;
        out->flags = 0;
        out->len = (uint32_t)(kstack.len - base);
        out->u.map = members;
    }
    kstack.len = base;
    ps->depth--;
    return more;
}

static int parse_value(struct parser *ps, struct sl_value *out)
{
    if (ps->p >= ps->end)
        return fail(ps, ps->p, SL_EPARSE, "expected a value");
    char c = *ps->p;
    switch (c) {
    case '"': {
        struct sl_str s;
        ps->p++;
        int rc = parse_string(ps, &s);
        if (rc)
            return rc;
        set_str(out, s.ptr, s.len);
        return 0;
    }
    case '{':
        ps->p++;
        return parse_object(ps, out);
    case '[':
        ps->p++;
        return parse_array(ps, out);
    case 't':
        *out = sl_value_bool(true);
        return expect_lit(ps, "true", 4);
    case 'f':
        *out = sl_value_bool(false);
        return expect_lit(ps, "false", 5);
    case 'n':
        *out = sl_value_null();
        return expect_lit(ps, "null", 4);
    default:
        if (c == '-' || (c >= '0' && c <= '9'))
            return parse_number(ps, out);
        return fail(ps, ps->p, SL_EPARSE, "expected a value");
    }
}

static void report(struct parser *ps, struct sl_diag *d)
{
    if (!d)
        return;
    d->offset = (int64_t)ps->err_off;
    snprintf(d->msg, sizeof(d->msg), "%s", ps->err_msg ? ps->err_msg : sl_strerror(ps->err));
}

static int check_len(size_t n, const struct sl_json_opts *o, struct sl_diag *d)
{
    size_t max = o && o->max_len ? o->max_len : DEFAULT_MAX_LEN;
    if (n > max) {
        if (d) {
            d->offset = (int64_t)max;
            snprintf(d->msg, sizeof(d->msg), "document of %zu bytes exceeds the limit of %zu", n,
                     max);
        }
        return SL_E2BIG;
    }
    return 0;
}

static void init_parser(struct parser *ps, struct sl_arena *a, const char *p, size_t n,
                        const struct sl_json_opts *o)
{
    memset(ps, 0, sizeof(*ps));
    ps->start = ps->p = p;
    ps->end = p + n;
    ps->arena = a;
    ps->max_depth = o && o->max_depth ? o->max_depth : DEFAULT_DEPTH;
}

int sl_json_parse_value(struct sl_arena *a, const char *p, size_t n, const struct sl_json_opts *o,
                        struct sl_value *out, struct sl_diag *d)
{
    int rc = check_len(n, o, d);
    if (rc)
        return rc;
    struct parser ps;
    init_parser(&ps, a, p, n, o);
    skip_ws(&ps);
    if (parse_value(&ps, out) == 0) {
        skip_ws(&ps);
        if (ps.p != ps.end)
            fail(&ps, ps.p, SL_EPARSE, "unexpected data after the JSON value");
    }
    if (ps.err) {
        report(&ps, d);
        return ps.err;
    }
    return 0;
}

int sl_json_parse_event(struct sl_batch *b, const char *p, size_t n, const struct sl_json_opts *o,
                        struct sl_diag *d)
{
    int rc = check_len(n, o, d);
    if (rc)
        return rc;
    struct parser ps;
    init_parser(&ps, &b->arena, p, n, o);
    size_t base = fstack.len;
    skip_ws(&ps);
    if (ps.p >= ps.end || *ps.p != '{') {
        fail(&ps, ps.p, SL_EPARSE, "expected a JSON object ('{')");
        goto out;
    }
    ps.p++;
    ps.depth = 1;
    skip_ws(&ps);
    if (ps.p < ps.end && *ps.p == '}') {
        ps.p++;
        goto tail;
    }
    for (;;) {
        struct sl_str key;
        struct sl_value val;
        skip_ws(&ps);
        const char *key_at = ps.p;
        if (member_key(&ps, &key) || parse_value(&ps, &val))
            goto out;
        /* Events of one stream share their shape: guess the key from the one seen at this
         * position last time and confirm with one memcmp, which is cheaper than hashing. */
        size_t pos = fstack.len - base;
        sl_sym sym = 0;
        if (pos < KEY_GUESSES && key_guess[pos].name && key_guess[pos].len == key.len &&
            memcmp(key_guess[pos].name, key.ptr, key.len) == 0) {
            sym = key_guess[pos].sym;
        } else {
            sym = sl_sym_intern(key.ptr, key.len);
            if (sym && pos < KEY_GUESSES) {
                struct sl_str nm = sl_sym_name(sym);
                key_guess[pos] = (struct key_guess){nm.ptr, (uint32_t)nm.len, sym};
            }
        }
        if (!sym) {
            fail(&ps, key_at, SL_ELIMIT, "too many distinct field names (symbol table full)");
            goto out;
        }
        if (fstack.len - base >= MAX_FIELDS) {
            fail(&ps, key_at, SL_ELIMIT, "too many fields in one event (max 4096)");
            goto out;
        }
        /* duplicate keys: the last one wins. A per-thread bit per symbol says whether this
         * event has the key already, so the common case costs no search (measured: the
         * quadratic search was a quarter of the parse). */
        struct sl_field *fs = (struct sl_field *)fstack.ptr;
        size_t k = fstack.len;
        if (seen[sym >> 6] & (1ull << (sym & 63))) {
            for (k = base; k < fstack.len; k++)
                if (fs[k].sym == sym)
                    break;
        }
        if (k < fstack.len) {
            fs[k].val = val;
        } else {
            seen[sym >> 6] |= 1ull << (sym & 63);
            struct sl_field *f = stack_push(&fstack, sizeof(struct sl_field));
            if (!f) {
                fail(&ps, ps.p, SL_ENOMEM, "out of memory");
                goto out;
            }
            f->sym = sym;
            f->_pad = 0;
            f->val = val;
        }
        int more = next_or_close(&ps, '}', "unterminated object (expected ',' or '}')",
                                 "expected ',' or '}' after object member");
        if (more < 0)
            goto out;
        if (more == 0)
            break;
    }
tail:
    skip_ws(&ps);
    if (ps.p != ps.end) {
        fail(&ps, ps.p, SL_EPARSE, "unexpected data after the JSON object");
        goto out;
    }
    {
        size_t nf = fstack.len - base;
        struct sl_field *fields = NULL;
        if (nf) {
            fields = sl_arena_alloc(&b->arena, nf * sizeof(struct sl_field));
            if (!fields) {
                fail(&ps, ps.p, SL_ENOMEM, "out of memory");
                goto out;
            }
            memcpy(fields, (struct sl_field *)fstack.ptr + base, nf * sizeof(struct sl_field));
        }
        struct sl_event *ev = sl_batch_push(b);
        if (!ev) {
            fail(&ps, ps.p, SL_ENOMEM, "out of memory (batch full)");
            goto out;
        }
        ev->fields = fields;
        ev->count = ev->cap = (uint32_t)nf;
    }
out:
    for (size_t k = base; k < fstack.len; k++) {
        sl_sym sy = ((struct sl_field *)fstack.ptr)[k].sym;
        seen[sy >> 6] &= ~(1ull << (sy & 63));
    }
    fstack.len = base;
    if (ps.err) {
        report(&ps, d);
        return ps.err;
    }
    return 0;
}

/* ---------------------------------------------------------------- writer */

/* 0: copy as is; 1: short escape; 2: \u00XX */
static const unsigned char esc_class[256] = {
    2, 2, 2, 2, 2, 2, 2, 2, 1, 1, 1, 2, 1, 1, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2,
    0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2,
    3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3,
    3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3,
    3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3,
    3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3,
};

int sl_json_write_string(struct sl_buf *out, const char *p, size_t n)
{
    /* worst case 6 bytes per input byte, plus quotes */
    int rc = sl_buf_reserve(out, n * 6 + 2);
    if (rc)
        return rc;
    char *o = out->ptr + out->len;
    *o++ = '"';
    const unsigned char *s = (const unsigned char *)p, *end = s + n;
    static const char hex[] = "0123456789abcdef";
    while (s < end) {
        /* eight plain bytes at a time (no control byte, quote, backslash or non-ASCII):
         * the byte loop alone was 14% of a syslog tcp -> file run (perf, bench_syslog.sh) */
        while (end - s >= 8) {
            uint64_t v;
            memcpy(&v, s, 8);
            const uint64_t ones = 0x0101010101010101ull, high = 0x8080808080808080ull;
            uint64_t q = v ^ (ones * '"'), b = v ^ (ones * '\\');
            uint64_t special = ((v - ones * 0x20) & ~v) | ((q - ones) & ~q) | ((b - ones) & ~b) | v;
            if (special & high)
                break;
            memcpy(o, s, 8);
            o += 8;
            s += 8;
        }
        if (s == end)
            break;
        unsigned c = *s;
        unsigned k = esc_class[c];
        if (k == 0) {
            *o++ = (char)c;
            s++;
            continue;
        }
        if (k == 3) {
            size_t len = utf8_seq(s, end);
            if (len) {
                memcpy(o, s, len);
                o += len;
                s += len;
            } else {
                memcpy(o, "\\ufffd", 6);
                o += 6;
                s++;
            }
            continue;
        }
        *o++ = '\\';
        switch (c) {
        case '"':
            *o++ = '"';
            break;
        case '\\':
            *o++ = '\\';
            break;
        case '\b':
            *o++ = 'b';
            break;
        case '\f':
            *o++ = 'f';
            break;
        case '\n':
            *o++ = 'n';
            break;
        case '\r':
            *o++ = 'r';
            break;
        case '\t':
            *o++ = 't';
            break;
        default:
            *o++ = 'u';
            *o++ = '0';
            *o++ = '0';
            *o++ = hex[c >> 4];
            *o++ = hex[c & 15];
            break;
        }
        s++;
    }
    *o++ = '"';
    out->len = (size_t)(o - out->ptr);
    out->ptr[out->len] = 0;
    return 0;
}

/*
 * Fast path for the doubles telemetry is made of (epoch seconds with microseconds,
 * durations, ratios): find the fewest fraction digits k <= 9 for which d * 10^k is an
 * integer m below 2^53 and m / 10^k gives d back exactly; then print m with a decimal point
 * by hand: the shortest plain decimal that round-trips. Measured with bench_json on
 * generator events: the writer went from 200 to 380-460 MB/s (snprintf + strtod per double was most
 * of the cost).
 */
static int write_double_fast(char *tmp, double d)
{
    if (!(d > -1e15 && d < 1e15) || (d != 0 && fabs(d) < 1e-4))
        return 0; /* big or tiny: the exponent form is shorter */
    for (int k = 0; k <= 9; k++) {
        double x = d * pow10_exact[k];
        /* range first: converting a double beyond int64 is undefined behaviour */
        if (x >= 9007199254740992.0 || x <= -9007199254740992.0 || x != (double)(int64_t)x)
            continue;
        int64_t m = (int64_t)x;
        if ((double)m / pow10_exact[k] != d)
            continue;
        if (m == 0 && signbit(d))
            return 0; /* -0.0: leave it to snprintf */
        /* d * 10^k may be exact only at a larger k than needed (0.016127 * 1e6 is not an
         * integer in binary, * 1e7 is): drop trailing zeros; m / 10^k is the same rational
         * number, so it rounds to the same double */
        while (k > 0 && m % 10 == 0) {
            m /= 10;
            k--;
        }
        char digits[24];
        int nd = 0;
        uint64_t u = m < 0 ? 0 - (uint64_t)m : (uint64_t)m;
        do {
            digits[nd++] = (char)('0' + u % 10);
            u /= 10;
        } while (u);
        while (nd <= k)
            digits[nd++] = '0'; /* 0.05 -> "005" reversed as "500" */
        int len = 0;
        if (m < 0)
            tmp[len++] = '-';
        for (int i = nd - 1; i >= k; i--)
            tmp[len++] = digits[i];
        tmp[len++] = '.';
        if (k == 0)
            tmp[len++] = '0';
        for (int i = k - 1; i >= 0; i--)
            tmp[len++] = digits[i];
        return len;
    }
    return 0;
}

static int write_double(struct sl_buf *out, double d)
{
    if (!isfinite(d))
        return sl_buf_append(out, "null", 4);
    char tmp[40];
    int len = write_double_fast(tmp, d);
    if (len)
        return sl_buf_append(out, tmp, (size_t)len);
    for (int prec = 15; prec <= 17; prec++) {
        len = snprintf(tmp, sizeof(tmp), "%.*g", prec, d);
        if (strtod(tmp, NULL) == d)
            break;
    }
    /* keep it a JSON number that reads back as a double: 1 -> 1.0 */
    if (!memchr(tmp, '.', (size_t)len) && !memchr(tmp, 'e', (size_t)len) &&
        !memchr(tmp, 'n', (size_t)len) && len < 38) {
        tmp[len++] = '.';
        tmp[len++] = '0';
    }
    return sl_buf_append(out, tmp, (size_t)len);
}

static int write_base64(struct sl_buf *out, const unsigned char *p, size_t n)
{
    static const char tbl[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    int rc = sl_buf_reserve(out, (n + 2) / 3 * 4 + 2);
    if (rc)
        return rc;
    char *o = out->ptr + out->len;
    *o++ = '"';
    size_t i = 0;
    for (; i + 2 < n; i += 3) {
        uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8 | p[i + 2];
        *o++ = tbl[v >> 18];
        *o++ = tbl[(v >> 12) & 63];
        *o++ = tbl[(v >> 6) & 63];
        *o++ = tbl[v & 63];
    }
    if (i < n) {
        uint32_t v = (uint32_t)p[i] << 16 | (i + 1 < n ? (uint32_t)p[i + 1] << 8 : 0);
        *o++ = tbl[v >> 18];
        *o++ = tbl[(v >> 12) & 63];
        *o++ = i + 1 < n ? tbl[(v >> 6) & 63] : '=';
        *o++ = '=';
    }
    *o++ = '"';
    out->len = (size_t)(o - out->ptr);
    out->ptr[out->len] = 0;
    return 0;
}

int sl_json_write_value(struct sl_buf *out, const struct sl_value *v)
{
    char tmp[64];
    int rc = 0;
    switch ((enum sl_vtype)v->type) {
    case SL_V_NULL:
        return sl_buf_append(out, "null", 4);
    case SL_V_BOOL:
        return v->u.b ? sl_buf_append(out, "true", 4) : sl_buf_append(out, "false", 5);
    case SL_V_INT: {
        /* hand-rolled: snprintf is a measurable share of the writer's time */
        char *e = tmp + sizeof(tmp), *s = e;
        uint64_t u = v->u.i < 0 ? 0 - (uint64_t)v->u.i : (uint64_t)v->u.i;
        do {
            *--s = (char)('0' + u % 10);
            u /= 10;
        } while (u);
        if (v->u.i < 0)
            *--s = '-';
        return sl_buf_append(out, s, (size_t)(e - s));
    }
    case SL_V_DOUBLE:
        return write_double(out, v->u.d);
    case SL_V_STRING:
        return sl_json_write_string(out, v->u.s, v->len);
    case SL_V_BYTES:
        return write_base64(out, (const unsigned char *)v->u.s, v->len);
    case SL_V_TS: {
        size_t n = sl_clock_format_rfc3339(v->u.ts_ns, 9, tmp, sizeof(tmp));
        return sl_json_write_string(out, tmp, n);
    }
    case SL_V_IP: {
        size_t n = sl_value_ip_format(v, tmp, sizeof(tmp));
        return sl_json_write_string(out, tmp, n);
    }
    case SL_V_LIST:
        rc = sl_buf_putc(out, '[');
        for (uint32_t i = 0; i < v->len && !rc; i++) {
            if (i)
                rc = sl_buf_putc(out, ',');
            if (!rc)
                rc = sl_json_write_value(out, &v->u.list[i]);
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
                rc = sl_json_write_value(out, &v->u.map[i].val);
        }
        return rc ? rc : sl_buf_putc(out, '}');
    case SL_V_OBJECT:
        if (v->u.obj && v->u.obj->type->to_json)
            return v->u.obj->type->to_json(v->u.obj, out);
        return sl_buf_append(out, "null", 4);
    default:
        return sl_buf_append(out, "null", 4);
    }
}

int sl_json_write_event(struct sl_buf *out, const struct sl_event *ev)
{
    int rc = sl_buf_putc(out, '{');
    for (uint32_t i = 0; i < ev->count && !rc; i++) {
        if (i)
            rc = sl_buf_putc(out, ',');
        struct sl_str name = sl_sym_name(ev->fields[i].sym);
        if (!rc)
            rc = sl_json_write_string(out, name.ptr, name.len);
        if (!rc)
            rc = sl_buf_putc(out, ':');
        if (!rc)
            rc = sl_json_write_value(out, &ev->fields[i].val);
    }
    return rc ? rc : sl_buf_putc(out, '}');
}
