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

static int fill(struct sl_fcx *cx, const struct sl_value *a, struct sl_value *out, bool left)
{
    if (a[0].type == SL_V_NULL)
        return 0;
    if (!sl_sv_is_num(&a[2]))
        return sl_fcx_error(cx, "the length must be a number");
    if (a[1].type != SL_V_STRING || !a[1].len)
        return sl_fcx_error(cx, "the fill must be a non-empty String");
    struct sl_value s;
    int rc = text_of(cx, &a[0], &s);
    if (rc)
        return rc;
    int64_t want = sl_sv_as_long(&a[2]);
    if (want > (1 << 24))
        return sl_fcx_error(cx, "length %lld too large", (long long)want);
    if (want <= (int64_t)s.len) {
        *out = s;
        return 0;
    }
    size_t pad = (size_t)want - s.len;
    char *p = sl_fcx_alloc(cx, (size_t)want);
    if (!p)
        return SL_ENOMEM;
    char c = a[1].u.s[0];
    if (left) {
        memset(p, c, pad);
        memcpy(p + pad, s.u.s, s.len);
    } else {
        memcpy(p, s.u.s, s.len);
        memset(p + s.len, c, pad);
    }
    *out = sl_value_str(p, (size_t)want);
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

static int f_count_matches(struct sl_fcx *cx, const struct sl_value *a, int n,
                           struct sl_value *out)
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

static int f_string_entropy(struct sl_fcx *cx, const struct sl_value *a, int n,
                            struct sl_value *out)
{
    (void)n;
    if (a[0].type == SL_V_NULL)
        return 0;
    if (need_str(cx, "STRING_ENTROPY", &a[0]))
        return SL_EEVAL;
    uint32_t counts[256] = {0};
    for (uint32_t i = 0; i < a[0].len; i++)
        counts[(unsigned char)a[0].u.s[i]]++;
    double h = 0;
    for (int i = 0; i < 256; i++) {
        if (!counts[i])
            continue;
        double p = (double)counts[i] / a[0].len;
        h -= p * log2(p);
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
    if (a[1].type != SL_V_INT || (n > 2 && a[2].type != SL_V_INT))
        return sl_fcx_error(cx, "SUBSTRING: indices must be integers");
    int64_t b = a[1].u.i, e = -1;
    int64_t ob = b >= 0 ? cp_offset(&a[0], b) : -1, oe = a[0].len;
    if (n > 2) {
        e = a[2].u.i;
        oe = e >= 0 ? cp_offset(&a[0], e) : -1;
    }
    if (ob < 0 || oe < 0 || oe < ob)
        return sl_fcx_error(cx, "SUBSTRING: index out of range");
    *out = sl_value_str(a[0].u.s + ob, (size_t)(oe - ob));
    return 0;
}

/* ---- FORMAT: %[flags][width][.precision]conversion for d s f e x X o c b n % ---- */

static int f_format(struct sl_fcx *cx, const struct sl_value *a, int n, struct sl_value *out)
{
    if (a[0].type != SL_V_STRING)
        return sl_fcx_error(cx, "FORMAT expects a format String");
    struct sl_buf *b = sl_fcx_scratch(cx);
    sl_buf_reset(b);
    const char *f = a[0].u.s, *end = f + a[0].len;
    int argi = 1, rc = 0;
    while (f < end && !rc) {
        if (*f != '%') {
            rc = sl_buf_putc(b, *f++);
            continue;
        }
        const char *spec = f++;
        while (f < end && strchr("-#+ 0,(", *f))
            f++;
        /* width and precision: at most 5 digits each (no overflow, no giant output) */
        const char *ds = f;
        while (f < end && *f >= '0' && *f <= '9')
            f++;
        size_t wd = (size_t)(f - ds), pd = 0;
        if (f < end && *f == '.') {
            f++;
            ds = f;
            while (f < end && *f >= '0' && *f <= '9')
                f++;
            pd = (size_t)(f - ds);
        }
        if (wd > 5 || pd > 5)
            return sl_fcx_error(cx, "FORMAT: width or precision too large in '%.*s'",
                                (int)((size_t)(f - spec) > 40 ? 40 : (size_t)(f - spec)), spec);
        if (f >= end)
            return sl_fcx_error(cx, "FORMAT: incomplete format specifier");
        char conv = *f++;
        if (conv == '%') {
            rc = sl_buf_putc(b, '%');
            continue;
        }
        if (conv == 'n') {
            rc = sl_buf_putc(b, '\n');
            continue;
        }
        if (argi >= n)
            return sl_fcx_error(cx, "FORMAT: missing argument for format specifier '%.*s'",
                                (int)(f - spec), spec);
        const struct sl_value *v = &a[argi++];
        char cspec[40];
        size_t sl = (size_t)(f - spec - 1);
        if (sl > 30)
            return sl_fcx_error(cx, "FORMAT: format specifier too long");
        memcpy(cspec, spec, sl);
        cspec[sl] = 0;
        /* Java's ',' grouping flag has no portable C equivalent: drop it */
        for (char *c = strchr(cspec, ','); c; c = strchr(cspec, ','))
            memmove(c, c + 1, strlen(c));
        char fmt[48];
        switch (conv) {
        case 'd':
        case 'x':
        case 'X':
        case 'o':
            if (v->type == SL_V_NULL) {
                rc = sl_buf_puts(b, "null");
                break;
            }
            if (v->type != SL_V_INT)
                return sl_fcx_error(cx, "FORMAT: %%%c needs an integer, got another type", conv);
            snprintf(fmt, sizeof fmt, "%sll%c", cspec, conv);
            /* fmt is "%" + validated flags/width/precision + one conversion */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
            rc = sl_buf_appendf(b, fmt, (long long)v->u.i);
#pragma GCC diagnostic pop
            break;
        case 'f':
        case 'e':
        case 'E':
        case 'g':
        case 'G':
            if (v->type == SL_V_NULL) {
                rc = sl_buf_puts(b, "null");
                break;
            }
            if (v->type != SL_V_DOUBLE)
                return sl_fcx_error(cx, "FORMAT: %%%c needs a floating-point number", conv);
            snprintf(fmt, sizeof fmt, "%s%c", cspec, conv);
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
            rc = sl_buf_appendf(b, fmt, v->u.d);
#pragma GCC diagnostic pop
            break;
        case 'c':
            if (v->type == SL_V_STRING && v->len)
                rc = sl_buf_append(b, v->u.s, 1);
            else if (v->type == SL_V_INT)
                rc = sl_buf_putc(b, (char)v->u.i);
            break;
        case 'b':
        case 'B':
            rc = sl_buf_puts(b, v->type == SL_V_NULL ? "false"
                                : v->type == SL_V_BOOL ? (v->u.b ? "true" : "false")
                                                       : "true");
            break;
        case 's':
        case 'S': {
            struct sl_buf t;
            sl_buf_init(&t, 1u << 20);
            rc = sl_sv_format(v, &t);
            if (!rc) {
                /* width/precision from the spec, the text as an argument */
                int width = 0, prec = -1;
                const char *q = cspec + 1;
                bool leftj = false;
                while (*q && strchr("-#+ 0(", *q))
                    leftj |= *q++ == '-';
                while (*q >= '0' && *q <= '9')
                    width = width * 10 + (*q++ - '0');
                if (*q == '.') {
                    prec = 0;
                    q++;
                    while (*q >= '0' && *q <= '9')
                        prec = prec * 10 + (*q++ - '0');
                }
                size_t len = t.len;
                if (prec >= 0 && (size_t)prec < len)
                    len = (size_t)prec;
                size_t pad = width > 0 && (size_t)width > len ? (size_t)width - len : 0;
                for (size_t k = 0; !leftj && k < pad && !rc; k++)
                    rc = sl_buf_putc(b, ' ');
                if (!rc && len)
                    rc = sl_buf_append(b, t.ptr, len);
                for (size_t k = 0; leftj && k < pad && !rc; k++)
                    rc = sl_buf_putc(b, ' ');
                if (!rc && conv == 'S')
                    for (size_t k = b->len - len - (leftj ? 0 : 0); k < b->len; k++)
                        if (b->ptr[k] >= 'a' && b->ptr[k] <= 'z')
                            b->ptr[k] = (char)(b->ptr[k] - 32);
            }
            sl_buf_fini(&t);
            break;
        }
        default:
            return sl_fcx_error(cx, "FORMAT: unsupported conversion '%c'", conv);
        }
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

static int f_regexp_match(struct sl_fcx *cx, const struct sl_value *a, int n,
                          struct sl_value *out)
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
    PCRE2_SIZE cap = (PCRE2_SIZE)a[0].len * 2 + 256;
    for (int attempt = 0; attempt < 2; attempt++) {
        char *buf = sl_fcx_alloc(cx, cap);
        if (!buf)
            return SL_ENOMEM;
        PCRE2_SIZE olen = cap;
        int rc = pcre2_substitute(e->code, (PCRE2_SPTR)(a[0].u.s ? a[0].u.s : ""), a[0].len, 0,
                                  PCRE2_SUBSTITUTE_GLOBAL | PCRE2_SUBSTITUTE_OVERFLOW_LENGTH,
                                  e->md, NULL, (PCRE2_SPTR)(a[2].u.s ? a[2].u.s : ""), a[2].len,
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

const struct sl_sfunc sl_sfuncs_string[] = {
    {"TO_UPPER", 1, 1, SL_SF_PURE, "(input)", "String", "Upper case (of toString()).", f_to_upper},
    {"TO_LOWER", 1, 1, SL_SF_PURE, "(input)", "String", "Lower case (of toString()).", f_to_lower},
    {"TRIM", 1, 1, SL_SF_PURE, "(input)", "String", "Strips leading and trailing whitespace.",
     f_trim},
    {"STARTS_WITH", 2, 2, SL_SF_PURE, "(string, prefix)", "Boolean",
     "true if string starts with prefix; false if either is null.", f_starts_with},
    {"ENDS_WITH", 2, 2, SL_SF_PURE, "(string, suffix)", "Boolean",
     "true if string ends with suffix; false if either is null.", f_ends_with},
    {"PREPEND_IF_MISSING", 2, SL_SF_VARARGS, SL_SF_PURE, "(string, prefix, prefixes...)",
     "String", "Adds prefix unless the string already starts with it or another given one.",
     f_prepend},
    {"APPEND_IF_MISSING", 2, SL_SF_VARARGS, SL_SF_PURE, "(string, suffix, suffixes...)",
     "String", "Adds suffix unless the string already ends with it or another given one.",
     f_append},
    {"FILL_LEFT", 3, 3, SL_SF_PURE, "(input, fill, length)", "String",
     "Pads on the left with the first character of fill up to length.", f_fill_left},
    {"FILL_RIGHT", 3, 3, SL_SF_PURE, "(input, fill, length)", "String",
     "Pads on the right with the first character of fill up to length.", f_fill_right},
    {"CHOP", 1, 1, SL_SF_PURE, "(string)", "String",
     "Removes the last character (a trailing \\r\\n counts as one).", f_chop},
    {"CHOMP", 1, 1, SL_SF_PURE, "(string)", "String", "Removes one trailing line break.",
     f_chomp},
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
