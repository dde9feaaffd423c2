/*
 * fn_date.c — Stellar date builtins: calendar fields (DAY_OF_WEEK ... YEAR), DATE_FORMAT and
 * TO_EPOCH_TIMESTAMP with java.text.SimpleDateFormat patterns, and time zones.
 *
 * Time zones: Metron uses the JVM's default zone; sluice uses UTC unless an expression names a
 * zone, so that results do not depend on the machine (docs/stellar.md). Named zones
 * ('America/New_York', 'EST', 'UTC', 'GMT+5', '+05:00', '-0800') come from the system's tz
 * database (/usr/share/zoneinfo, Debian's tzdata), read by a small TZif reader here, not
 * through setenv("TZ")/localtime_r, which is not thread-safe. An unknown zone is GMT, as
 * java.util.TimeZone does. Calendar rules are the US locale's (weeks start on Sunday, the
 * first week of a year or month has at least one day), MONTH is 0-based as Calendar.MONTH.
 *
 * DESIGN: a parsed zone is an immutable array of (transition, offset, abbreviation) kept for
 * the life of the process in a small cache behind a mutex; lookups are a binary search.
 */
#include "base/alloc.h"
#include "lang/func.h"
#include "lang/sval.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- civil calendar (proleptic Gregorian) ---- */

static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    unsigned yoe = (unsigned)(y - era * 400);
    unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int64_t)doe - 719468;
}

struct civil {
    int64_t year;
    int month; /* 1..12 */
    int day;   /* 1..31 */
    int hour, min, sec, ms;
    int dow; /* 0 = Sunday */
    int doy; /* 1..366 */
};

static int64_t floordiv(int64_t a, int64_t b)
{
    int64_t q = a / b;
    return (a % b != 0 && ((a < 0) != (b < 0))) ? q - 1 : q;
}

static void civil_from_ms(int64_t ms, struct civil *c)
{
    int64_t days = floordiv(ms, 86400000);
    int64_t rem = ms - days * 86400000;
    c->hour = (int)(rem / 3600000);
    c->min = (int)(rem / 60000 % 60);
    c->sec = (int)(rem / 1000 % 60);
    c->ms = (int)(rem % 1000);
    int64_t z = days + 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    unsigned doe = (unsigned)(z - era * 146097);
    unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t y = (int64_t)yoe + era * 400;
    unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    unsigned mp = (5 * doy + 2) / 153;
    unsigned d = doy - (153 * mp + 2) / 5 + 1;
    unsigned m = mp < 10 ? mp + 3 : mp - 9;
    c->year = y + (m <= 2);
    c->month = (int)m;
    c->day = (int)d;
    c->dow = (int)(((days % 7) + 11) % 7); /* 1970-01-01 was a Thursday (4) */
    c->doy = (int)(days - days_from_civil(c->year, 1, 1)) + 1;
}

/* ---- time zones ---- */

struct zone {
    char name[64];
    int64_t *at; /* transition instants, seconds */
    int32_t *off;   /* offset in seconds after transition i */
    char (*abbr)[16];
    uint32_t n;
    int32_t off0; /* before the first transition, or the fixed offset */
    char abbr0[16];
};

static pthread_mutex_t zlock = PTHREAD_MUTEX_INITIALIZER;
static struct zone *zones[64]; /* guarded_by: zlock */
static unsigned nzones;        /* guarded_by: zlock */

static uint32_t be32(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static int64_t be64(const unsigned char *p)
{
    return (int64_t)((uint64_t)be32(p) << 32 | be32(p + 4));
}

/* Read a TZif file (v2+: the 64-bit section). */
static bool tzif_load(const char *path, struct zone *z)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return false;
    unsigned char *buf = sl_xmalloc(1 << 20);
    size_t len = fread(buf, 1, 1 << 20, f);
    fclose(f);
    bool ok = false;
    if (len < 44 || memcmp(buf, "TZif", 4))
        goto done;
    size_t p = 0;
    int pass = buf[4] >= '2' ? 2 : 1;
    for (int k = 1; k <= pass; k++) {
        if (p + 44 > len)
            goto done;
        const unsigned char *h = buf + p;
        uint32_t isutcnt = be32(h + 20), isstdcnt = be32(h + 24), leapcnt = be32(h + 28);
        uint32_t timecnt = be32(h + 32), typecnt = be32(h + 36), charcnt = be32(h + 40);
        size_t tsz = k == 1 ? 4 : 8;
        size_t body = timecnt * tsz + timecnt + typecnt * 6 + charcnt + leapcnt * (tsz + 4) +
                      isstdcnt + isutcnt;
        if (timecnt > 100000 || typecnt == 0 || typecnt > 256 || charcnt > 4096 ||
            p + 44 + body > len)
            goto done;
        if (k < pass) {
            p += 44 + body;
            continue;
        }
        const unsigned char *t = h + 44, *idx = t + timecnt * tsz, *tt = idx + timecnt,
                            *chars = tt + typecnt * 6;
        z->n = timecnt;
        z->at = sl_xcalloc(timecnt ? timecnt : 1, sizeof *z->at);
        z->off = sl_xcalloc(timecnt ? timecnt : 1, sizeof *z->off);
        z->abbr = sl_xcalloc(timecnt ? timecnt : 1, sizeof *z->abbr);
        for (uint32_t i = 0; i < timecnt; i++) {
            z->at[i] = tsz == 8 ? be64(t + i * 8) : (int64_t)(int32_t)be32(t + i * 4);
            unsigned ti = idx[i] < typecnt ? idx[i] : 0;
            z->off[i] = (int32_t)be32(tt + ti * 6);
            unsigned ai = tt[ti * 6 + 5];
            snprintf(z->abbr[i], 16, "%.*s", (int)(ai < charcnt ? strnlen((const char *)chars + ai, charcnt - ai) : 0),
                     ai < charcnt ? (const char *)chars + ai : "");
        }
        /* before the first transition: the first non-DST type (or type 0) */
        unsigned t0 = 0;
        for (unsigned i = 0; i < typecnt; i++)
            if (!tt[i * 6 + 4]) {
                t0 = i;
                break;
            }
        z->off0 = (int32_t)be32(tt + t0 * 6);
        unsigned ai = tt[t0 * 6 + 5];
        snprintf(z->abbr0, 16, "%.*s",
                 (int)(ai < charcnt ? strnlen((const char *)chars + ai, charcnt - ai) : 0),
                 ai < charcnt ? (const char *)chars + ai : "");
        ok = true;
    }
done:
    sl_free(buf);
    return ok;
}

/* "+05:00", "-0800", "GMT+5", "UTC-03:30": a fixed offset. */
static bool fixed_offset(const char *s, int32_t *off)
{
    if (!strncmp(s, "GMT", 3) || !strncmp(s, "UTC", 3))
        s += 3;
    if (*s != '+' && *s != '-')
        return false;
    int sign = *s++ == '-' ? -1 : 1;
    int h = 0, m = 0, digits = 0;
    while (*s >= '0' && *s <= '9' && digits < 2) {
        h = h * 10 + (*s++ - '0');
        digits++;
    }
    if (!digits)
        return false;
    if (*s == ':')
        s++;
    if (*s >= '0' && *s <= '9') {
        if (!(s[1] >= '0' && s[1] <= '9'))
            return false;
        m = (s[0] - '0') * 10 + (s[1] - '0');
        s += 2;
    }
    if (*s || h > 23 || m > 59)
        return false;
    *off = sign * (h * 3600 + m * 60);
    return true;
}

static const struct zone *zone_get(const char *name)
{
    static struct zone utc = {.name = "UTC", .abbr0 = "UTC"};
    if (!name || !*name || !strcmp(name, "UTC") || !strcmp(name, "Z"))
        return &utc;
    pthread_mutex_lock(&zlock);
    for (unsigned i = 0; i < nzones; i++) {
        if (!strcmp(zones[i]->name, name)) {
            pthread_mutex_unlock(&zlock);
            return zones[i];
        }
    }
    struct zone *z = sl_xcalloc(1, sizeof *z);
    snprintf(z->name, sizeof z->name, "%s", name);
    int32_t off;
    bool safe = strlen(name) < 60 && !strstr(name, "..") && name[0] != '/';
    if (fixed_offset(name, &off)) {
        z->off0 = off;
        snprintf(z->abbr0, sizeof z->abbr0, "GMT%c%02d:%02d", off < 0 ? '-' : '+',
                 abs(off) / 3600 % 100, abs(off) / 60 % 60);
    } else {
        char path[128];
        snprintf(path, sizeof path, "/usr/share/zoneinfo/%s", name);
        if (!safe || !tzif_load(path, z)) {
            z->off0 = 0; /* unknown: GMT, as java.util.TimeZone */
            snprintf(z->abbr0, sizeof z->abbr0, "GMT");
        }
    }
    if (nzones < sizeof zones / sizeof zones[0]) {
        zones[nzones++] = z;
    } else { /* cache full (hostile zone names): replace the oldest, leak-free */
        struct zone *old = zones[0];
        memmove(zones, zones + 1, (nzones - 1) * sizeof *zones);
        zones[nzones - 1] = z;
        /* old may be in use by another thread: keep it (bounded by the number of calls
         * that overflow; zone names in real expressions are constants) */
        (void)old;
    }
    pthread_mutex_unlock(&zlock);
    return z;
}

static int32_t zone_offset(const struct zone *z, int64_t ms, const char **abbr)
{
    int64_t s = floordiv(ms, 1000);
    if (!z->n || s < z->at[0]) {
        if (abbr)
            *abbr = z->abbr0;
        return z->off0;
    }
    uint32_t lo = 0, hi = z->n;
    while (hi - lo > 1) {
        uint32_t mid = (lo + hi) / 2;
        if (z->at[mid] <= s)
            lo = mid;
        else
            hi = mid;
    }
    if (abbr)
        *abbr = z->abbr[lo];
    return z->off[lo];
}

static void local_time(int64_t ms, const struct zone *z, struct civil *c, int32_t *off,
                       const char **abbr)
{
    int32_t o = zone_offset(z, ms, abbr);
    if (off)
        *off = o;
    civil_from_ms(ms + (int64_t)o * 1000, c);
}

/* ---- calendar fields ---- */

static bool epoch_arg(struct sl_fcx *cx, const struct sl_value *a, int n, int64_t *ms)
{
    if (n == 0) {
        *ms = sl_fcx_now_ms(cx);
        return true;
    }
    if (sl_sv_is_num(&a[0])) {
        *ms = sl_sv_as_long(&a[0]);
        return true;
    }
    if (a[0].type == SL_V_STRING)
        return sl_sv_parse_long(a[0].u.s, a[0].len, ms) == 0;
    return false;
}

static int week_of_month(const struct civil *c)
{
    int first_dow = ((c->dow - (c->day - 1)) % 7 + 7) % 7;
    return (c->day - 1 + first_dow) / 7 + 1;
}

static int week_of_year(const struct civil *c)
{
    int jan1_dow = ((c->dow - (c->doy - 1)) % 7 + 7) % 7;
    bool leap = (c->year % 4 == 0 && c->year % 100 != 0) || c->year % 400 == 0;
    int days = leap ? 366 : 365;
    /* the week holding next January 1st is week 1 of next year */
    int dec31_dow = (jan1_dow + days - 1) % 7;
    if (dec31_dow != 6 && c->doy > days - 1 - dec31_dow)
        return 1;
    return (c->doy - 1 + jan1_dow) / 7 + 1;
}

enum cal_field { F_DOW, F_DOM, F_DOY, F_WOM, F_WOY, F_MONTH, F_YEAR };

static int cal(struct sl_fcx *cx, const struct sl_value *a, int n, struct sl_value *out,
               enum cal_field f)
{
    int64_t ms;
    if (!epoch_arg(cx, a, n, &ms))
        return 0;
    struct civil c;
    local_time(ms, zone_get(NULL), &c, NULL, NULL);
    int v = 0;
    switch (f) {
    case F_DOW: v = c.dow + 1; break;
    case F_DOM: v = c.day; break;
    case F_DOY: v = c.doy; break;
    case F_WOM: v = week_of_month(&c); break;
    case F_WOY: v = week_of_year(&c); break;
    case F_MONTH: v = c.month - 1; break;
    case F_YEAR: v = (int)c.year; break;
    }
    *out = sl_sv_int(v);
    return 0;
}

#define CAL(fname, field)                                                                          \
    static int fname(struct sl_fcx *cx, const struct sl_value *a, int n, struct sl_value *out)    \
    {                                                                                              \
        return cal(cx, a, n, out, field);                                                          \
    }
CAL(f_day_of_week, F_DOW)
CAL(f_day_of_month, F_DOM)
CAL(f_day_of_year, F_DOY)
CAL(f_week_of_month, F_WOM)
CAL(f_week_of_year, F_WOY)
CAL(f_month, F_MONTH)
CAL(f_year, F_YEAR)

/* ---- SimpleDateFormat ---- */

static const char *const months[] = {"January", "February", "March",     "April",
                                     "May",     "June",     "July",      "August",
                                     "September", "October", "November", "December"};
static const char *const wdays[] = {"Sunday",   "Monday", "Tuesday", "Wednesday",
                                    "Thursday", "Friday", "Saturday"};

static int put_num(struct sl_buf *b, int64_t v, int width)
{
    return sl_buf_appendf(b, "%0*lld", width > 20 ? 20 : width, (long long)v);
}

static int put_offset(struct sl_buf *b, int32_t off, int style)
{
    char sign = off < 0 ? '-' : '+';
    int a = abs(off);
    if (style == 1)
        return sl_buf_appendf(b, "%c%02d", sign, a / 3600);
    if (style == 3)
        return sl_buf_appendf(b, "%c%02d:%02d", sign, a / 3600, a / 60 % 60);
    return sl_buf_appendf(b, "%c%02d%02d", sign, a / 3600, a / 60 % 60);
}

static int format_time(struct sl_fcx *cx, const struct sl_value *fmt, int64_t ms,
                       const struct zone *z, struct sl_buf *b)
{
    struct civil c;
    int32_t off;
    const char *abbr;
    local_time(ms, z, &c, &off, &abbr);
    const char *p = fmt->u.s, *end = p + fmt->len;
    int rc = 0;
    while (p < end && !rc) {
        char ch = *p;
        if (ch == '\'') {
            if (p + 1 < end && p[1] == '\'') {
                rc = sl_buf_putc(b, '\'');
                p += 2;
                continue;
            }
            p++;
            while (p < end && !rc) {
                if (*p == '\'') {
                    if (p + 1 < end && p[1] == '\'') {
                        rc = sl_buf_putc(b, '\'');
                        p += 2;
                        continue;
                    }
                    p++;
                    break;
                }
                rc = sl_buf_putc(b, *p++);
            }
            continue;
        }
        if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z'))) {
            rc = sl_buf_putc(b, *p++);
            continue;
        }
        int count = 0;
        while (p < end && *p == ch) {
            p++;
            count++;
        }
        switch (ch) {
        case 'G': rc = sl_buf_puts(b, c.year > 0 ? "AD" : "BC"); break;
        case 'y':
        case 'Y':
        case 'u':
            if (ch == 'u') {
                rc = put_num(b, c.dow == 0 ? 7 : c.dow, count);
                break;
            }
            rc = count == 2 ? put_num(b, (c.year % 100 + 100) % 100, 2) : put_num(b, c.year, count);
            break;
        case 'M':
        case 'L':
            if (count >= 4)
                rc = sl_buf_puts(b, months[c.month - 1]);
            else if (count == 3)
                rc = sl_buf_appendf(b, "%.3s", months[c.month - 1]);
            else
                rc = put_num(b, c.month, count);
            break;
        case 'w': rc = put_num(b, week_of_year(&c), count); break;
        case 'W': rc = put_num(b, week_of_month(&c), count); break;
        case 'D': rc = put_num(b, c.doy, count); break;
        case 'd': rc = put_num(b, c.day, count); break;
        case 'F': rc = put_num(b, (c.day - 1) / 7 + 1, count); break;
        case 'E':
            rc = count >= 4 ? sl_buf_puts(b, wdays[c.dow])
                            : sl_buf_appendf(b, "%.3s", wdays[c.dow]);
            break;
        case 'a': rc = sl_buf_puts(b, c.hour < 12 ? "AM" : "PM"); break;
        case 'H': rc = put_num(b, c.hour, count); break;
        case 'k': rc = put_num(b, c.hour ? c.hour : 24, count); break;
        case 'K': rc = put_num(b, c.hour % 12, count); break;
        case 'h': rc = put_num(b, c.hour % 12 ? c.hour % 12 : 12, count); break;
        case 'm': rc = put_num(b, c.min, count); break;
        case 's': rc = put_num(b, c.sec, count); break;
        case 'S': rc = put_num(b, c.ms, count); break;
        case 'z': rc = sl_buf_puts(b, abbr && *abbr ? abbr : "GMT"); break;
        case 'Z': rc = put_offset(b, off, 2); break;
        case 'X':
            rc = off == 0 ? sl_buf_putc(b, 'Z') : put_offset(b, off, count > 3 ? 3 : count);
            break;
        default:
            return sl_fcx_error(cx, "DATE_FORMAT: illegal pattern character '%c'", ch);
        }
    }
    return rc;
}

static int f_date_format(struct sl_fcx *cx, const struct sl_value *a, int n, struct sl_value *out)
{
    if (a[0].type != SL_V_STRING)
        return sl_fcx_error(cx, "DATE_FORMAT: the format must be a String");
    int64_t ms = sl_fcx_now_ms(cx);
    const char *tz = NULL;
    char tzbuf[64];
    const struct sl_value *tzv = NULL;
    if (n == 2) {
        if (a[1].type == SL_V_NULL)
            return 0;
        if (a[1].type == SL_V_STRING)
            tzv = &a[1];
        else if (sl_sv_is_num(&a[1]))
            ms = sl_sv_as_long(&a[1]);
        else
            return 0;
    } else if (n >= 3) {
        if (!sl_sv_is_num(&a[1]))
            return 0;
        ms = sl_sv_as_long(&a[1]);
        if (a[2].type == SL_V_STRING)
            tzv = &a[2];
    }
    if (tzv) {
        snprintf(tzbuf, sizeof tzbuf, "%.*s", (int)(tzv->len > 63 ? 63 : tzv->len), tzv->u.s);
        tz = tzbuf;
    }
    struct sl_buf *b = sl_fcx_scratch(cx);
    sl_buf_reset(b);
    int rc = format_time(cx, &a[0], ms, zone_get(tz), b);
    return rc ? rc : sl_fcx_str(cx, b->ptr ? b->ptr : "", b->len, out);
}

/* Parse `s` with pattern `fmt` into local civil fields. false if it does not match. */
static bool parse_time(const struct sl_value *fmt, const struct sl_value *s, struct civil *c,
                       int32_t *off, bool *has_off)
{
    memset(c, 0, sizeof *c);
    c->year = 1970;
    c->month = 1;
    c->day = 1;
    bool pm = false, ampm = false;
    *has_off = false;
    const char *f = fmt->u.s, *fe = f + fmt->len, *p = s->u.s, *pe = p + s->len;
    while (f < fe) {
        char ch = *f;
        if (ch == '\'') {
            f++;
            while (f < fe && *f != '\'') {
                if (p >= pe || *p != *f)
                    return false;
                p++;
                f++;
            }
            f++;
            continue;
        }
        if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z'))) {
            if (p >= pe || *p != ch)
                return false;
            p++;
            f++;
            continue;
        }
        int count = 0;
        while (f < fe && *f == ch) {
            f++;
            count++;
        }
        bool next_numeric = f < fe && strchr("yMdHhkKmsSDuwW", *f) != NULL;
        if ((ch == 'M' && count >= 3) || ch == 'E') {
            const char *const *names = ch == 'M' ? months : wdays;
            int nn = ch == 'M' ? 12 : 7, found = -1;
            for (int i = 0; i < nn && found < 0; i++) {
                size_t full = strlen(names[i]);
                if ((size_t)(pe - p) >= full && !strncasecmp(p, names[i], full)) {
                    found = i;
                    p += full;
                } else if (pe - p >= 3 && !strncasecmp(p, names[i], 3)) {
                    found = i;
                    p += 3;
                }
            }
            if (found < 0)
                return false;
            if (ch == 'M')
                c->month = found + 1;
            continue;
        }
        if (ch == 'a') {
            if (pe - p < 2)
                return false;
            ampm = true;
            pm = (p[0] == 'P' || p[0] == 'p');
            p += 2;
            continue;
        }
        if (ch == 'z' || ch == 'Z' || ch == 'X') {
            if (p < pe && (*p == 'Z' || *p == 'z') && ch == 'X') {
                *off = 0;
                *has_off = true;
                p++;
                continue;
            }
            char tmp[16];
            size_t l = 0;
            while (p < pe && l < sizeof tmp - 1 && (*p == '+' || *p == '-' || *p == ':' ||
                                                    (*p >= '0' && *p <= '9') ||
                                                    (*p >= 'A' && *p <= 'Z')))
                tmp[l++] = *p++;
            tmp[l] = 0;
            int32_t o;
            if (fixed_offset(tmp, &o)) {
                *off = o;
                *has_off = true;
            } else {
                const struct zone *z = zone_get(tmp);
                *off = z->off0;
                *has_off = true;
            }
            continue;
        }
        /* numbers */
        bool neg = false;
        if (ch == 'y' && p < pe && *p == '-') {
            neg = true;
            p++;
        }
        int64_t v = 0;
        int digits = 0, maxd = next_numeric ? count : 18;
        while (p < pe && *p >= '0' && *p <= '9' && digits < maxd) {
            v = v * 10 + (*p++ - '0');
            digits++;
        }
        if (!digits)
            return false;
        if (neg)
            v = -v;
        switch (ch) {
        case 'y':
        case 'Y':
            c->year = (count == 2 && digits == 2) ? (v < 50 ? 2000 + v : 1900 + v) : v;
            break;
        case 'M': c->month = (int)v; break;
        case 'd': c->day = (int)v; break;
        case 'H':
        case 'k': c->hour = (int)(v == 24 && ch == 'k' ? 0 : v); break;
        case 'h':
        case 'K': c->hour = (int)(v % 12); break;
        case 'm': c->min = (int)v; break;
        case 's': c->sec = (int)v; break;
        case 'S': c->ms = (int)v; break;
        case 'D': c->doy = (int)v; break;
        default: break;
        }
    }
    if (p != pe)
        return false;
    if (ampm && pm)
        c->hour += 12;
    /* SimpleDateFormat is lenient: out-of-range fields roll over; we refuse the absurd */
    if (c->month < 1 || c->month > 12 || c->day < 1 || c->day > 31 || c->hour > 23 ||
        c->min > 59 || c->sec > 60 || c->ms > 999)
        return false;
    return true;
}

static int f_to_epoch_timestamp(struct sl_fcx *cx, const struct sl_value *a, int n,
                                struct sl_value *out)
{
    if (a[0].type != SL_V_STRING || a[1].type != SL_V_STRING)
        return 0;
    char tzbuf[64];
    const char *tz = NULL;
    if (n > 2 && a[2].type == SL_V_STRING) {
        snprintf(tzbuf, sizeof tzbuf, "%.*s", (int)(a[2].len > 63 ? 63 : a[2].len), a[2].u.s);
        tz = tzbuf;
    }
    struct civil c;
    int32_t off = 0;
    bool has_off;
    if (!parse_time(&a[1], &a[0], &c, &off, &has_off))
        return 0; /* a parse failure is null, as Metron */
    int64_t days = c.doy ? days_from_civil(c.year, 1, 1) + c.doy - 1
                         : days_from_civil(c.year, (unsigned)c.month, (unsigned)c.day);
    int64_t local = days * 86400000 + (int64_t)c.hour * 3600000 + (int64_t)c.min * 60000 +
                    (int64_t)c.sec * 1000 + c.ms;
    if (!has_off) {
        const struct zone *z = zone_get(tz);
        off = zone_offset(z, local, NULL);
        off = zone_offset(z, local - (int64_t)off * 1000, NULL);
    }
    (void)cx;
    *out = sl_sv_long(local - (int64_t)off * 1000);
    return 0;
}

const struct sl_sfunc sl_sfuncs_date[] = {
    {"DAY_OF_WEEK", 0, 1, SL_SF_PURE, "(epoch_ms?)", "Integer",
     "Day of the week, 1 = Sunday ... 7 = Saturday (UTC); now when absent.", f_day_of_week},
    {"DAY_OF_MONTH", 0, 1, SL_SF_PURE, "(epoch_ms?)", "Integer", "Day of the month, 1-based (UTC).",
     f_day_of_month},
    {"DAY_OF_YEAR", 0, 1, SL_SF_PURE, "(epoch_ms?)", "Integer", "Day of the year, 1-based (UTC).",
     f_day_of_year},
    {"WEEK_OF_MONTH", 0, 1, SL_SF_PURE, "(epoch_ms?)", "Integer",
     "Week of the month (US rules: weeks start on Sunday) (UTC).", f_week_of_month},
    {"WEEK_OF_YEAR", 0, 1, SL_SF_PURE, "(epoch_ms?)", "Integer",
     "Week of the year (US rules) (UTC).", f_week_of_year},
    {"MONTH", 0, 1, SL_SF_PURE, "(epoch_ms?)", "Integer", "Month, 0-based: January is 0 (UTC).",
     f_month},
    {"YEAR", 0, 1, SL_SF_PURE, "(epoch_ms?)", "Integer", "Year (UTC).", f_year},
    {"DATE_FORMAT", 1, 3, SL_SF_PURE, "(format, epoch_ms?, timezone?)", "String",
     "Formats a time with a SimpleDateFormat pattern in a zone (default UTC); with two "
     "arguments a number is the time and a string the zone.",
     f_date_format},
    {"TO_EPOCH_TIMESTAMP", 2, 3, SL_SF_PURE, "(date, format, timezone?)", "Long",
     "Parses a date with a SimpleDateFormat pattern (default zone UTC); null if it does not "
     "parse.",
     f_to_epoch_timestamp},
    {0},
};
