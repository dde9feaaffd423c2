/*
 * typeconv.c — typed captures (typeconv.h).
 *
 * DESIGN: no libc time functions: strptime and timegm depend on the locale and the TZ
 * environment and are not thread-safe everywhere; the day arithmetic is Howard Hinnant's
 * days-from-civil, the month names are English as in log files. Every parser checks that
 * it consumed the whole capture: "12abc" is not an int.
 */
#include "codec/typeconv.h"

#include "base/alloc.h"
#include "base/clock.h"

#include <string.h>

static const char *const kind_names[] = {"string", "int", "float", "bool", "ip", "timestamp"};

const char *sl_typeconv_name(enum sl_typeconv_kind k)
{
    return (unsigned)k < sizeof(kind_names) / sizeof(kind_names[0]) ? kind_names[k] : "?";
}

int sl_typeconv_parse(const char *spec, struct sl_typeconv *out, struct sl_diag *d)
{
    memset(out, 0, sizeof(*out));
    static const struct {
        const char *name;
        enum sl_typeconv_kind k;
    } names[] = {{"string", SL_TC_STRING}, {"str", SL_TC_STRING},         {"int", SL_TC_INT},
                 {"integer", SL_TC_INT},   {"long", SL_TC_INT},           {"float", SL_TC_FLOAT},
                 {"double", SL_TC_FLOAT},  {"bool", SL_TC_BOOL},          {"boolean", SL_TC_BOOL},
                 {"ip", SL_TC_IP},         {"timestamp", SL_TC_TIMESTAMP}};
    const char *colon = strchr(spec, ':');
    size_t n = colon ? (size_t)(colon - spec) : strlen(spec);
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        if (strlen(names[i].name) != n || memcmp(names[i].name, spec, n) != 0)
            continue;
        out->kind = names[i].k;
        if (colon) {
            if (out->kind != SL_TC_TIMESTAMP || !colon[1])
                return sl_diag_set(d, SL_EINVAL,
                                   "type '%.100s': only timestamp takes a format "
                                   "(timestamp:<format>)",
                                   spec);
            out->fmt = sl_strdup(colon + 1);
            if (!out->fmt)
                return SL_ENOMEM;
        }
        return 0;
    }
    return sl_diag_set(d, SL_EINVAL,
                       "unknown type '%.100s' (int, float, bool, ip, string, timestamp, "
                       "timestamp:<format>)",
                       spec);
}

void sl_typeconv_fini(struct sl_typeconv *t)
{
    sl_free(t->fmt);
    t->fmt = NULL;
}

static bool ieq(struct sl_str s, const char *c)
{
    size_t n = strlen(c);
    if (s.len != n)
        return false;
    for (size_t i = 0; i < n; i++) {
        char a = s.ptr[i];
        if (a >= 'A' && a <= 'Z')
            a = (char)(a - 'A' + 'a');
        if (a != c[i])
            return false;
    }
    return true;
}

int sl_typeconv_apply(const struct sl_typeconv *t, struct sl_str s, struct sl_value *out)
{
    switch (t->kind) {
    case SL_TC_STRING:
        *out = sl_value_str(s.ptr, s.len);
        return 0;
    case SL_TC_INT: {
        int64_t i;
        if (sl_str_to_i64(s, &i))
            return SL_EINVAL;
        *out = sl_value_int(i);
        return 0;
    }
    case SL_TC_FLOAT: {
        double v;
        if (sl_str_to_double(s, &v))
            return SL_EINVAL;
        *out = sl_value_double(v);
        return 0;
    }
    case SL_TC_BOOL:
        if (ieq(s, "true") || ieq(s, "yes") || ieq(s, "1") || ieq(s, "on") || ieq(s, "t") ||
            ieq(s, "y")) {
            *out = sl_value_bool(true);
            return 0;
        }
        if (ieq(s, "false") || ieq(s, "no") || ieq(s, "0") || ieq(s, "off") || ieq(s, "f") ||
            ieq(s, "n")) {
            *out = sl_value_bool(false);
            return 0;
        }
        return SL_EINVAL;
    case SL_TC_IP:
        return sl_value_ip_parse(s, out) ? SL_EINVAL : 0;
    case SL_TC_TIMESTAMP: {
        int64_t ns;
        /* now: the year of a syslog date (without it, 1970) */
        int rc = t->fmt ? sl_typeconv_ts_format(t->fmt, s, &ns)
                        : sl_typeconv_ts_auto(s, sl_clock_wall_ns(), &ns);
        if (rc)
            return SL_EINVAL;
        *out = sl_value_ts(ns);
        return 0;
    }
    }
    return SL_EINVAL;
}

int64_t sl_typeconv_days_from_civil(int64_t y, unsigned m, unsigned d)
{
    y -= m <= 2;
    const int64_t era = (y >= 0 ? y : y - 399) / 400;
    const unsigned yoe = (unsigned)(y - era * 400);
    const unsigned doy = (153 * (m + (m > 2 ? (unsigned)-3 : 9)) + 2) / 5 + d - 1;
    const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int64_t)doe - 719468;
}

/* ---- a small cursor-based scanner */
struct cur {
    const char *p, *e;
};

static bool digits(struct cur *c, int min, int max, int64_t *out)
{
    int n = 0;
    int64_t v = 0;
    while (c->p < c->e && n < max && *c->p >= '0' && *c->p <= '9') {
        v = v * 10 + (*c->p - '0');
        c->p++;
        n++;
    }
    *out = v;
    return n >= min;
}

static bool lit(struct cur *c, char ch)
{
    if (c->p < c->e && *c->p == ch) {
        c->p++;
        return true;
    }
    return false;
}

static int month_name(struct cur *c)
{
    static const char *const full[] = {"january",   "february", "march",    "april",
                                       "may",       "june",     "july",     "august",
                                       "september", "october",  "november", "december"};
    size_t n = 0;
    while (c->p + n < c->e && ((c->p[n] | 0x20) >= 'a' && (c->p[n] | 0x20) <= 'z'))
        n++;
    if (n < 3)
        return 0;
    for (int m = 0; m < 12; m++) {
        size_t fl = strlen(full[m]);
        if (n != 3 && n != fl)
            continue;
        bool ok = true;
        for (size_t i = 0; i < n && ok; i++)
            ok = (char)(c->p[i] | 0x20) == full[m][i];
        if (ok) {
            c->p += n;
            return m + 1;
        }
    }
    return 0;
}

/* fraction digits after a '.' or ',' already consumed: ns */
static bool fraction(struct cur *c, int64_t *ns)
{
    int64_t v = 0;
    int n = 0;
    while (c->p < c->e && *c->p >= '0' && *c->p <= '9') {
        if (n < 9) {
            v = v * 10 + (*c->p - '0');
            n++;
        }
        c->p++;
    }
    if (!n)
        return false;
    while (n++ < 9)
        v *= 10;
    *ns = v;
    return true;
}

/* Z | +hh | +hhmm | +hh:mm -> offset seconds */
static bool zone(struct cur *c, int64_t *off)
{
    if (lit(c, 'Z') || lit(c, 'z')) {
        *off = 0;
        return true;
    }
    int sign = 0;
    if (lit(c, '+'))
        sign = 1;
    else if (lit(c, '-'))
        sign = -1;
    else
        return false;
    int64_t h, m = 0;
    if (!digits(c, 2, 2, &h))
        return false;
    lit(c, ':');
    if (c->p < c->e && *c->p >= '0' && *c->p <= '9' && !digits(c, 2, 2, &m))
        return false;
    if (h > 23 || m > 59)
        return false;
    *off = sign * (h * 3600 + m * 60);
    return true;
}

struct tm_parts {
    int64_t y, mo, d, h, mi, s, ns, off;
};

static bool parts_valid(const struct tm_parts *t)
{
    static const unsigned char mdays[12] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (!(t->y >= 0 && t->y <= 9999 && t->mo >= 1 && t->mo <= 12 && t->d >= 1 &&
          t->d <= mdays[t->mo - 1] && t->h <= 23 && t->mi <= 59 && t->s <= 60))
        return false;
    bool leap = (t->y % 4 == 0 && t->y % 100 != 0) || t->y % 400 == 0;
    return t->mo != 2 || t->d <= 28 || leap; /* "02-30" does not roll into March */
}

/* ns since the epoch; false past the int64 range (before 1677 or after 2262) */
static bool parts_ns(const struct tm_parts *t, int64_t *out)
{
    int64_t days = sl_typeconv_days_from_civil(t->y, (unsigned)t->mo, (unsigned)t->d);
    int64_t secs = days * 86400 + t->h * 3600 + t->mi * 60 + t->s - t->off;
    int64_t ns;
    if (__builtin_mul_overflow(secs, (int64_t)1000000000, &ns) ||
        __builtin_add_overflow(ns, t->ns, out))
        return false;
    return true;
}

static bool rfc3339(struct cur c, int64_t *out)
{
    struct tm_parts t = {0};
    if (!digits(&c, 4, 4, &t.y) || !lit(&c, '-') || !digits(&c, 2, 2, &t.mo) || !lit(&c, '-') ||
        !digits(&c, 2, 2, &t.d))
        return false;
    if (c.p == c.e) {
        return parts_valid(&t) && parts_ns(&t, out);
    }
    if (!lit(&c, 'T') && !lit(&c, 't') && !lit(&c, ' '))
        return false;
    if (!digits(&c, 2, 2, &t.h) || !lit(&c, ':') || !digits(&c, 2, 2, &t.mi))
        return false;
    if (lit(&c, ':') && !digits(&c, 2, 2, &t.s))
        return false;
    if ((lit(&c, '.') || lit(&c, ',')) && !fraction(&c, &t.ns))
        return false;
    if (c.p < c.e) {
        lit(&c, ' ');
        if (!zone(&c, &t.off))
            return false;
    }
    return c.p == c.e && parts_valid(&t) && parts_ns(&t, out);
}

static bool httpdate(struct cur c, int64_t *out)
{
    struct tm_parts t = {0};
    if (!digits(&c, 1, 2, &t.d) || !lit(&c, '/') || !(t.mo = month_name(&c)) || !lit(&c, '/') ||
        !digits(&c, 4, 4, &t.y) || !lit(&c, ':') || !digits(&c, 2, 2, &t.h) || !lit(&c, ':') ||
        !digits(&c, 2, 2, &t.mi) || !lit(&c, ':') || !digits(&c, 2, 2, &t.s))
        return false;
    if ((lit(&c, '.') || lit(&c, ',')) && !fraction(&c, &t.ns))
        return false;
    if (lit(&c, ' ') && !zone(&c, &t.off))
        return false;
    return c.p == c.e && parts_valid(&t) && parts_ns(&t, out);
}

static bool syslogdate(struct cur c, int64_t now_ns, int64_t *out)
{
    struct tm_parts t = {0};
    if (!(t.mo = month_name(&c)) || !lit(&c, ' '))
        return false;
    lit(&c, ' ');
    if (!digits(&c, 1, 2, &t.d) || !lit(&c, ' ') || !digits(&c, 2, 2, &t.h) || !lit(&c, ':') ||
        !digits(&c, 2, 2, &t.mi) || !lit(&c, ':') || !digits(&c, 2, 2, &t.s))
        return false;
    if ((lit(&c, '.') || lit(&c, ',')) && !fraction(&c, &t.ns))
        return false;
    if (c.p != c.e)
        return false;
    /* the year of now (1970 when now is unknown); a day ahead of now is last year's date */
    int64_t days = now_ns > 0 ? now_ns / 86400000000000 : 0;
    /* civil from days, year only */
    int64_t z = days + 719468, era = (z >= 0 ? z : z - 146096) / 146097;
    int64_t doe = z - era * 146097, yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100), mp = (5 * doy + 2) / 153;
    int64_t mon = mp < 10 ? mp + 3 : mp - 9;
    t.y = yoe + era * 400 + (mon <= 2);
    int64_t v;
    if (!parts_valid(&t) || !parts_ns(&t, &v))
        return false;
    if (now_ns > 0 && v > now_ns + 86400000000000) {
        t.y--;
        if (!parts_ns(&t, &v))
            return false;
    }
    *out = v;
    return true;
}

int sl_typeconv_ts_auto(struct sl_str s, int64_t now_ns, int64_t *out)
{
    if (!s.len || s.len > 64)
        return SL_EINVAL;
    struct cur c = {s.ptr, s.ptr + s.len};
    bool all_digits = true;
    for (size_t i = 0; i < s.len && all_digits; i++)
        all_digits = s.ptr[i] >= '0' && s.ptr[i] <= '9';
    if (all_digits) {
        int64_t v;
        if (s.len > 19 || sl_str_to_i64(s, &v))
            return SL_EINVAL;
        int64_t unit = v <= 100000000000LL         ? 1000000000
                       : v <= 100000000000000LL    ? 1000000
                       : v <= 100000000000000000LL ? 1000
                                                   : 1;
        return __builtin_mul_overflow(v, unit, out) ? SL_EINVAL : 0;
    }
    if (rfc3339(c, out) || httpdate(c, out) || syslogdate(c, now_ns, out))
        return 0;
    return SL_EINVAL;
}

int sl_typeconv_ts_format(const char *fmt, struct sl_str s, int64_t *out)
{
    struct cur c = {s.ptr, s.ptr + s.len};
    struct tm_parts t = {.y = 1970, .mo = 1, .d = 1};
    bool epoch = false;
    int64_t epoch_s = 0;
    for (const char *f = fmt; *f; f++) {
        if (*f == ' ') {
            while (c.p < c.e && *c.p == ' ')
                c.p++;
            continue;
        }
        if (*f != '%') {
            if (!lit(&c, *f))
                return SL_EINVAL;
            continue;
        }
        f++;
        bool ok = true;
        switch (*f) {
        case 'Y':
            ok = digits(&c, 4, 4, &t.y);
            break;
        case 'm':
            ok = digits(&c, 1, 2, &t.mo);
            break;
        case 'd':
        case 'e':
            if (*f == 'e')
                lit(&c, ' ');
            ok = digits(&c, 1, 2, &t.d);
            break;
        case 'H':
            ok = digits(&c, 1, 2, &t.h);
            break;
        case 'M':
            ok = digits(&c, 1, 2, &t.mi);
            break;
        case 'S':
            ok = digits(&c, 1, 2, &t.s);
            break;
        case 'T':
            ok = digits(&c, 1, 2, &t.h) && lit(&c, ':') && digits(&c, 1, 2, &t.mi) &&
                 lit(&c, ':') && digits(&c, 1, 2, &t.s);
            break;
        case 'F':
            ok = digits(&c, 4, 4, &t.y) && lit(&c, '-') && digits(&c, 1, 2, &t.mo) &&
                 lit(&c, '-') && digits(&c, 1, 2, &t.d);
            break;
        case 'f':
            ok = fraction(&c, &t.ns);
            break;
        case 'b':
        case 'h':
        case 'B':
            ok = (t.mo = month_name(&c)) != 0;
            break;
        case 'a':
        case 'A':
            while (c.p < c.e && ((*c.p | 0x20) >= 'a' && (*c.p | 0x20) <= 'z'))
                c.p++;
            break;
        case 'z':
            ok = zone(&c, &t.off);
            break;
        case 's': {
            bool neg = lit(&c, '-');
            ok = digits(&c, 1, 12, &epoch_s);
            if (neg)
                epoch_s = -epoch_s;
            if (ok && (lit(&c, '.') || lit(&c, ',')))
                ok = fraction(&c, &t.ns);
            epoch = true;
            break;
        }
        case '%':
            ok = lit(&c, '%');
            break;
        default:
            return SL_EINVAL; /* unknown directive (or a trailing %) */
        }
        if (!ok)
            return SL_EINVAL;
    }
    if (c.p != c.e)
        return SL_EINVAL;
    if (epoch) {
        int64_t ns;
        if (__builtin_mul_overflow(epoch_s, (int64_t)1000000000, &ns) ||
            __builtin_add_overflow(ns, epoch_s < 0 ? -t.ns : t.ns, out))
            return SL_EINVAL;
        return 0;
    }
    return parts_valid(&t) && parts_ns(&t, out) ? 0 : SL_EINVAL;
}
