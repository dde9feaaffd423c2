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
 * TO_EPOCH_TIMESTAMP parses as SimpleDateFormat.parse does: leniently (month 13 rolls into
 * the next year), ignoring text after the pattern, two-digit years within 80 years before and
 * 20 after now.
 *
 * DESIGN: a parsed zone is an immutable array of (transition, offset, abbreviation) plus the
 * POSIX rule of the TZif footer, kept for the life of the process in a bounded cache behind a
 * mutex; lookups are a binary search. Functions that default to "now" are not SL_SF_PURE, so
 * that compile-time folding cannot freeze the clock.
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

/* Year of a local time in seconds. */
static int64_t civil_year(int64_t secs)
{
    struct civil c;
    civil_from_ms(secs * 1000, &c);
    return c.year;
}

/* Java's toString() of v as a view (DateFunctions call toString() on their arguments). */
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

/* ---- time zones ----
 *
 * A zone is an array of transitions (instant, UTC offset, abbreviation) from a TZif file
 * (RFC 8536, the 64-bit section of v2+), plus the POSIX TZ rule of the file's footer, which
 * gives the offsets after the last transition: "slim" tzdata builds stop listing transitions
 * at the last rule change and rely on it, and "fat" ones stop in 2037. Names resolve as
 * java.util.TimeZone.getTimeZone resolves them: tz database names, Java's three-letter IDs
 * (EST, MST and HST fixed, the others aliases such as PST → America/Los_Angeles), custom
 * offsets (GMT+5, GMT-08:00; sluice also takes +05:00, -0800, UTC+1), and GMT for anything
 * unknown. Zones read from files are cached for the life of the process (at most ZCACHE of
 * them; the tz database holds about 600 names); fixed offsets are built on the caller's
 * stack, and a name that names no file is remembered in a small negative ring so that a
 * bad zone field in every event costs no file system lookup.
 */

struct tzrule_date {
    char kind; /* 'J': Julian day 1..365 without Feb 29, 'D': 0..365 with it, 'M': month rule */
    int n, m, w, d;
    int32_t time; /* seconds after local midnight (may be negative or past 24h, RFC 8536) */
};

struct tzrule {
    bool has;               /* a rule is present */
    bool dst;               /* it has daylight saving time */
    int32_t stdoff, dstoff; /* UTC offsets, seconds east */
    char stdabbr[16], dstabbr[16];
    struct tzrule_date start, end;
};

struct zone {
    char name[64];
    int64_t *at;      /* transition instants, seconds, ascending */
    int32_t *off;     /* UTC offset in seconds from transition i on */
    char (*abbr)[16]; /* abbreviation from transition i on */
    uint32_t n;
    int32_t off0; /* before the first transition, or the fixed offset */
    char abbr0[16];
    struct tzrule rule; /* after the last transition (or always, when n == 0) */
    bool owned;         /* arrays to free: a zone loaded while the cache was full */
};

#define ZCACHE 1024
#define ZMISS  32

static pthread_mutex_t zlock = PTHREAD_MUTEX_INITIALIZER;
static struct zone *zones[ZCACHE]; /* guarded_by: zlock */
static unsigned nzones;            /* guarded_by: zlock */
static char zmiss[ZMISS][64];      /* guarded_by: zlock; names that are no TZif file */
static unsigned zmiss_next;        /* guarded_by: zlock */

static uint32_t be32(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static int64_t be64(const unsigned char *p)
{
    return (int64_t)((uint64_t)be32(p) << 32 | be32(p + 4));
}

static void copy_abbr(char out[16], const unsigned char *chars, uint32_t charcnt, unsigned ai)
{
    size_t n = ai < charcnt ? strnlen((const char *)chars + ai, charcnt - ai) : 0;
    if (n > 15)
        n = 15;
    memcpy(out, chars + (ai < charcnt ? ai : 0), n);
    out[n] = 0;
}

/* POSIX offset "[+-]hh[:mm[:ss]]" (hours up to 167, RFC 8536). Returns seconds, sign as
 * written (POSIX counts west as positive: the caller negates). NULL on error. */
static const char *posix_secs(const char *s, int32_t *out)
{
    int sign = 1;
    if (*s == '+' || *s == '-')
        sign = *s++ == '-' ? -1 : 1;
    int32_t part[3] = {0, 0, 0};
    for (int i = 0; i < 3; i++) {
        if (i && *s != ':')
            break;
        if (i)
            s++;
        int digits = 0;
        while (*s >= '0' && *s <= '9' && digits < 3) {
            part[i] = part[i] * 10 + (*s++ - '0');
            digits++;
        }
        if (!digits || part[i] > (i ? 59 : 167))
            return NULL;
    }
    *out = sign * (part[0] * 3600 + part[1] * 60 + part[2]);
    return s;
}

static const char *posix_abbr(const char *s, char out[16])
{
    size_t n = 0;
    if (*s == '<') {
        s++;
        while (*s && *s != '>') {
            if (n < 15)
                out[n++] = *s;
            s++;
        }
        if (*s++ != '>')
            return NULL;
    } else {
        while ((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z')) {
            if (n < 15)
                out[n++] = *s;
            s++;
        }
    }
    out[n] = 0;
    return n >= 3 ? s : NULL;
}

static const char *posix_date(const char *s, struct tzrule_date *d)
{
    memset(d, 0, sizeof *d);
    d->time = 7200; /* 02:00 */
    if (*s == 'M') {
        d->kind = 'M';
        char *e;
        long m = strtol(s + 1, &e, 10);
        if (*e != '.')
            return NULL;
        long w = strtol(e + 1, &e, 10);
        if (*e != '.')
            return NULL;
        long wd = strtol(e + 1, &e, 10);
        if (m < 1 || m > 12 || w < 1 || w > 5 || wd < 0 || wd > 6)
            return NULL;
        d->m = (int)m, d->w = (int)w, d->d = (int)wd;
        s = e;
    } else {
        d->kind = *s == 'J' ? 'J' : 'D';
        if (*s == 'J')
            s++;
        if (*s < '0' || *s > '9')
            return NULL;
        char *e;
        long n = strtol(s, &e, 10);
        if (n < (d->kind == 'J' ? 1 : 0) || n > 365)
            return NULL;
        d->n = (int)n;
        s = e;
    }
    if (*s == '/') {
        s = posix_secs(s + 1, &d->time);
        if (!s)
            return NULL;
    }
    return s;
}

/* Parse a POSIX TZ string ("EST5EDT,M3.2.0,M11.1.0", "<+0330>-3:30", "CET-1CEST,M3.5.0,
 * M10.5.0/3"). false if it is not one. */
static bool posix_parse(const char *s, struct tzrule *r)
{
    memset(r, 0, sizeof *r);
    int32_t o;
    if (!(s = posix_abbr(s, r->stdabbr)) || !(s = posix_secs(s, &o)))
        return false;
    r->stdoff = -o;
    r->has = true;
    if (!*s)
        return true;
    if (!(s = posix_abbr(s, r->dstabbr)))
        return false;
    r->dstoff = r->stdoff + 3600;
    if (*s && *s != ',') {
        if (!(s = posix_secs(s, &o)))
            return false;
        r->dstoff = -o;
    }
    if (*s != ',')
        return false; /* no rule: POSIX leaves it to the implementation; do not guess */
    if (!(s = posix_date(s + 1, &r->start)) || *s != ',' || !(s = posix_date(s + 1, &r->end)))
        return false;
    r->dst = !*s;
    return r->dst;
}

static bool is_leap(int64_t y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

/* Local midnight (days since the epoch) of a rule date in year y, plus its time. */
static int64_t rule_local_secs(const struct tzrule_date *d, int64_t y)
{
    int64_t days;
    if (d->kind == 'J') {
        days = days_from_civil(y, 1, 1) + d->n - 1 + (is_leap(y) && d->n >= 60);
    } else if (d->kind == 'D') {
        days = days_from_civil(y, 1, 1) + d->n;
    } else {
        static const int mdays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
        int64_t first = days_from_civil(y, (unsigned)d->m, 1);
        int dow1 = (int)(((first % 7) + 11) % 7);
        int day = 1 + (d->d - dow1 + 7) % 7 + (d->w - 1) * 7;
        int dim = mdays[d->m - 1] + (d->m == 2 && is_leap(y));
        while (day > dim)
            day -= 7;
        days = first + day - 1;
    }
    return days * 86400 + d->time;
}

static int32_t rule_offset(const struct tzrule *r, int64_t s, const char **abbr)
{
    if (r->dst) {
        int64_t y = civil_year(s + r->stdoff);
        int64_t start = rule_local_secs(&r->start, y) - r->stdoff;
        int64_t end = rule_local_secs(&r->end, y) - r->dstoff;
        bool in_dst = start < end ? (s >= start && s < end) : !(s >= end && s < start);
        if (in_dst) {
            if (abbr)
                *abbr = r->dstabbr;
            return r->dstoff;
        }
    }
    if (abbr)
        *abbr = r->stdabbr;
    return r->stdoff;
}

static void zone_fini(struct zone *z)
{
    sl_free(z->at);
    sl_free(z->off);
    sl_free(z->abbr);
    z->at = NULL, z->off = NULL, z->abbr = NULL, z->n = 0;
}

/* Read a TZif file (v2+: the 64-bit section and the footer; v1: the 32-bit section). */
static bool tzif_load(const char *path, struct zone *z)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return false;
    const size_t cap = 1 << 20;
    unsigned char *buf = sl_xmalloc(cap);
    size_t len = fread(buf, 1, cap, f);
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
        if (timecnt > 100000 || typecnt == 0 || typecnt > 256 || charcnt > 4096 ||
            leapcnt > 10000 || isutcnt > 256 || isstdcnt > 256)
            goto done;
        size_t body = timecnt * tsz + timecnt + typecnt * 6 + charcnt + leapcnt * (tsz + 4) +
                      isstdcnt + isutcnt;
        if (p + 44 + body > len)
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
            copy_abbr(z->abbr[i], chars, charcnt, tt[ti * 6 + 5]);
            if (i && z->at[i] < z->at[i - 1]) { /* not ascending: refuse the file */
                zone_fini(z);
                goto done;
            }
        }
        /* before the first transition: the first non-DST type (or type 0), RFC 8536 §3.2 */
        unsigned t0 = 0;
        for (unsigned i = 0; i < typecnt; i++)
            if (!tt[i * 6 + 4]) {
                t0 = i;
                break;
            }
        z->off0 = (int32_t)be32(tt + t0 * 6);
        copy_abbr(z->abbr0, chars, charcnt, tt[t0 * 6 + 5]);
        /* the footer: "\n<POSIX TZ>\n" */
        size_t fp = p + 44 + body;
        if (k == 2 && fp < len && buf[fp] == '\n') {
            const unsigned char *nl = memchr(buf + fp + 1, '\n', len - fp - 1);
            size_t fl = nl ? (size_t)(nl - (buf + fp + 1)) : 0;
            if (nl && fl > 0 && fl < 128) {
                char tzs[128];
                memcpy(tzs, buf + fp + 1, fl);
                tzs[fl] = 0;
                if (!posix_parse(tzs, &z->rule))
                    memset(&z->rule, 0, sizeof z->rule);
            }
        }
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

static void set_fixed(struct zone *z, const char *name, int32_t off, const char *abbr)
{
    memset(z, 0, sizeof *z);
    snprintf(z->name, sizeof z->name, "%s", name);
    z->off0 = off;
    if (abbr)
        snprintf(z->abbr0, sizeof z->abbr0, "%s", abbr);
    else if (!off)
        snprintf(z->abbr0, sizeof z->abbr0, "GMT");
    else
        snprintf(z->abbr0, sizeof z->abbr0, "GMT%c%02d:%02d", off < 0 ? '-' : '+',
                 abs(off) / 3600 % 100, abs(off) / 60 % 60);
}

/* Java's three-letter zone IDs (sun.util.calendar.ZoneInfoFile, old mapping off): EST, MST
 * and HST are fixed offsets, the others name a region. */
static const char *const java_short_ids[][2] = {
    {"ACT", "Australia/Darwin"},
    {"AET", "Australia/Sydney"},
    {"AGT", "America/Argentina/Buenos_Aires"},
    {"ART", "Africa/Cairo"},
    {"AST", "America/Anchorage"},
    {"BET", "America/Sao_Paulo"},
    {"BST", "Asia/Dhaka"},
    {"CAT", "Africa/Harare"},
    {"CNT", "America/St_Johns"},
    {"CST", "America/Chicago"},
    {"CTT", "Asia/Shanghai"},
    {"EAT", "Africa/Addis_Ababa"},
    {"ECT", "Europe/Paris"},
    {"IET", "America/Indiana/Indianapolis"},
    {"IST", "Asia/Kolkata"},
    {"JST", "Asia/Tokyo"},
    {"MIT", "Pacific/Apia"},
    {"NET", "Asia/Yerevan"},
    {"NST", "Pacific/Auckland"},
    {"PLT", "Asia/Karachi"},
    {"PNT", "America/Phoenix"},
    {"PRT", "America/Puerto_Rico"},
    {"PST", "America/Los_Angeles"},
    {"SST", "Pacific/Guadalcanal"},
    {"VST", "Asia/Ho_Chi_Minh"},
};

static bool zone_name_ok(const char *name)
{
    if (!*name || name[0] == '/' || name[0] == '.' || strlen(name) >= 60 || strstr(name, ".."))
        return false;
    for (const char *p = name; *p; p++)
        if (!((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') ||
              *p == '/' || *p == '_' || *p == '-' || *p == '+'))
            return false;
    return true;
}

/* The zone called `name` (NULL or "": UTC). The result is either cached (immutable, valid
 * for the life of the process) or built in *tmp; release it with zone_put(tmp). Any thread. */
static const struct zone *zone_get(const char *name, struct zone *tmp)
{
    static const struct zone utc = {.name = "UTC", .abbr0 = "UTC"};
    static const struct zone gmt = {.name = "GMT", .abbr0 = "GMT"};
    memset(tmp, 0, sizeof *tmp);
    if (!name || !*name || !strcmp(name, "UTC"))
        return &utc;
    if (!strcmp(name, "GMT"))
        return &gmt;
    if (!strcmp(name, "EST"))
        return set_fixed(tmp, name, -5 * 3600, "EST"), tmp;
    if (!strcmp(name, "MST"))
        return set_fixed(tmp, name, -7 * 3600, "MST"), tmp;
    if (!strcmp(name, "HST"))
        return set_fixed(tmp, name, -10 * 3600, "HST"), tmp;
    int32_t off;
    if (fixed_offset(name, &off))
        return set_fixed(tmp, name, off, NULL), tmp;
    const char *file = name;
    for (size_t i = 0; i < sizeof java_short_ids / sizeof java_short_ids[0]; i++)
        if (!strcmp(name, java_short_ids[i][0]))
            file = java_short_ids[i][1];
    if (!zone_name_ok(file))
        return &gmt; /* unknown: GMT, as java.util.TimeZone */

    pthread_mutex_lock(&zlock);
    for (unsigned i = 0; i < nzones; i++) {
        if (!strcmp(zones[i]->name, name)) {
            pthread_mutex_unlock(&zlock);
            return zones[i];
        }
    }
    for (unsigned i = 0; i < ZMISS; i++) {
        if (!strcmp(zmiss[i], name)) {
            pthread_mutex_unlock(&zlock);
            return &gmt;
        }
    }
    pthread_mutex_unlock(&zlock);

    /* read the file outside the lock; two threads may both read it, the first insert wins */
    struct zone *z = sl_xcalloc(1, sizeof *z);
    snprintf(z->name, sizeof z->name, "%s", name);
    char path[128];
    snprintf(path, sizeof path, "/usr/share/zoneinfo/%s", file);
    bool ok = tzif_load(path, z);

    pthread_mutex_lock(&zlock);
    const struct zone *res = &gmt;
    if (!ok) {
        snprintf(zmiss[zmiss_next], sizeof zmiss[0], "%s", name);
        zmiss_next = (zmiss_next + 1) % ZMISS;
        sl_free(z);
        z = NULL;
    } else {
        for (unsigned i = 0; i < nzones; i++)
            if (!strcmp(zones[i]->name, name))
                res = zones[i];
        if (res != &gmt) { /* another thread cached it meanwhile */
            zone_fini(z);
            sl_free(z);
        } else if (nzones < ZCACHE) {
            zones[nzones++] = z;
            res = z;
        } else { /* cache full: a private copy for this call */
            *tmp = *z;
            tmp->owned = true;
            sl_free(z);
            res = tmp;
        }
    }
    pthread_mutex_unlock(&zlock);
    return res;
}

static void zone_put(struct zone *tmp)
{
    if (tmp->owned)
        zone_fini(tmp);
}

static int32_t zone_offset(const struct zone *z, int64_t ms, const char **abbr)
{
    int64_t s = floordiv(ms, 1000);
    if (!z->n && z->rule.has)
        return rule_offset(&z->rule, s, abbr);
    if (!z->n || s < z->at[0]) {
        if (abbr)
            *abbr = z->abbr0;
        return z->off0;
    }
    if (s >= z->at[z->n - 1] && z->rule.has)
        return rule_offset(&z->rule, s, abbr);
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

/* The UTC offset for a local wall time (seconds since the epoch as if the wall clock were
 * UTC), resolved as java.util.GregorianCalendar resolves it: a transition takes effect at its
 * wall time under the new offset, so a time in a spring-forward gap reads with the old offset
 * (02:30 becomes 03:30 DST) and a time in a fall-back overlap with the new one (standard). */
static int32_t zone_offset_wall(const struct zone *z, int64_t wall_ms)
{
    int64_t w = floordiv(wall_ms, 1000);
    if (z->rule.has && (!z->n || w >= z->at[z->n - 1] + z->off[z->n - 1])) {
        const struct tzrule *r = &z->rule;
        if (!r->dst)
            return r->stdoff;
        int64_t y = civil_year(w);
        int64_t start = rule_local_secs(&r->start, y) - r->stdoff + r->dstoff;
        int64_t end = rule_local_secs(&r->end, y) - r->dstoff + r->stdoff;
        bool in_dst = start < end ? (w >= start && w < end) : !(w >= end && w < start);
        return in_dst ? r->dstoff : r->stdoff;
    }
    if (!z->n || w < z->at[0] + z->off[0])
        return z->off0;
    uint32_t lo = 0, hi = z->n;
    while (hi - lo > 1) {
        uint32_t mid = (lo + hi) / 2;
        if (z->at[mid] + z->off[mid] <= w)
            lo = mid;
        else
            hi = mid;
    }
    return z->off[lo];
}

static void local_time(int64_t ms, const struct zone *z, struct civil *c, int32_t *off,
                       const char **abbr)
{
    /* Java's range is about +-292 million years; keep clear of int64 overflow */
    if (ms > INT64_C(9000000000000000000))
        ms = INT64_C(9000000000000000000);
    if (ms < -INT64_C(9000000000000000000))
        ms = -INT64_C(9000000000000000000);
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
    struct zone tmp;
    local_time(ms, zone_get(NULL, &tmp), &c, NULL, NULL);
    int v = 0;
    switch (f) {
    case F_DOW:
        v = c.dow + 1;
        break;
    case F_DOM:
        v = c.day;
        break;
    case F_DOY:
        v = c.doy;
        break;
    case F_WOM:
        v = week_of_month(&c);
        break;
    case F_WOY:
        v = week_of_year(&c);
        break;
    case F_MONTH:
        v = c.month - 1;
        break;
    case F_YEAR:
        v = (int)c.year;
        break;
    }
    *out = sl_sv_int(v);
    return 0;
}

#define CAL(fname, field)                                                                          \
    static int fname(struct sl_fcx *cx, const struct sl_value *a, int n, struct sl_value *out)     \
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

static const char *const months[] = {"January",   "February", "March",    "April",
                                     "May",       "June",     "July",     "August",
                                     "September", "October",  "November", "December"};
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
        case 'G':
            rc = sl_buf_puts(b, c.year > 0 ? "AD" : "BC");
            break;
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
        case 'w':
            rc = put_num(b, week_of_year(&c), count);
            break;
        case 'W':
            rc = put_num(b, week_of_month(&c), count);
            break;
        case 'D':
            rc = put_num(b, c.doy, count);
            break;
        case 'd':
            rc = put_num(b, c.day, count);
            break;
        case 'F':
            rc = put_num(b, (c.day - 1) / 7 + 1, count);
            break;
        case 'E':
            rc =
                count >= 4 ? sl_buf_puts(b, wdays[c.dow]) : sl_buf_appendf(b, "%.3s", wdays[c.dow]);
            break;
        case 'a':
            rc = sl_buf_puts(b, c.hour < 12 ? "AM" : "PM");
            break;
        case 'H':
            rc = put_num(b, c.hour, count);
            break;
        case 'k':
            rc = put_num(b, c.hour ? c.hour : 24, count);
            break;
        case 'K':
            rc = put_num(b, c.hour % 12, count);
            break;
        case 'h':
            rc = put_num(b, c.hour % 12 ? c.hour % 12 : 12, count);
            break;
        case 'm':
            rc = put_num(b, c.min, count);
            break;
        case 's':
            rc = put_num(b, c.sec, count);
            break;
        case 'S':
            rc = put_num(b, c.ms, count);
            break;
        case 'z':
            rc = sl_buf_puts(b, abbr && *abbr ? abbr : "GMT");
            break;
        case 'Z':
            rc = put_offset(b, off, 2);
            break;
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
    struct zone tmp;
    int rc = format_time(cx, &a[0], ms, zone_get(tz, &tmp), b);
    zone_put(&tmp);
    return rc ? rc : sl_fcx_str(cx, b->ptr ? b->ptr : "", b->len, out);
}

/* Parsed fields of TO_EPOCH_TIMESTAMP, resolved leniently as java.util.GregorianCalendar
 * (month 13 is January of the next year, day 0 the last of the previous month). */
struct pfields {
    int64_t year, month, day, doy, hour, hour12, min, sec, ms;
    bool has_doy, has_hour12, pm;
    bool has_off;
    int32_t off;
};

static bool ascii_ieq(const char *a, const char *b, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        char x = a[i], y = b[i];
        if (x >= 'A' && x <= 'Z')
            x = (char)(x + 32);
        if (y >= 'A' && y <= 'Z')
            y = (char)(y + 32);
        if (x != y)
            return false;
    }
    return true;
}

/* Java's DateFormat.parse: the longest name (full or 3-letter) matching at p, any case. */
static int match_name(const char **pp, const char *pe, const char *const *names, int nn)
{
    int found = -1;
    size_t best = 0;
    for (int i = 0; i < nn; i++) {
        size_t full = strlen(names[i]);
        size_t lens[2] = {full, 3};
        for (int k = 0; k < 2; k++)
            if (lens[k] > best && (size_t)(pe - *pp) >= lens[k] &&
                ascii_ieq(*pp, names[i], lens[k])) {
                best = lens[k];
                found = i;
            }
    }
    *pp += best;
    return found;
}

/* Zone text in a date (pattern letters z, Z, X): Z, GMT/UTC/UT[+-offset], +-hh[[:]mm], or one
 * of the North American abbreviations Java's parser knows. */
static bool parse_zone_text(const char **pp, const char *pe, bool iso, int32_t *off)
{
    const char *p = *pp;
    static const struct {
        const char *name;
        int32_t off;
    } abbrs[] = {{"GMT", 0},          {"UTC", 0},          {"UT", 0},          {"EST", -5 * 3600},
                 {"EDT", -4 * 3600},  {"CST", -6 * 3600},  {"CDT", -5 * 3600}, {"MST", -7 * 3600},
                 {"MDT", -6 * 3600},  {"PST", -8 * 3600},  {"PDT", -7 * 3600}, {"AKST", -9 * 3600},
                 {"AKDT", -8 * 3600}, {"HST", -10 * 3600}, {"CET", 3600},      {"CEST", 7200},
                 {"BST", 3600},       {"IST", 19800},      {"JST", 9 * 3600}};
    if (iso && p < pe && *p == 'Z') {
        *off = 0;
        *pp = p + 1;
        return true;
    }
    int32_t base = 0;
    bool named = false;
    for (size_t i = 0; i < sizeof abbrs / sizeof abbrs[0]; i++) {
        size_t l = strlen(abbrs[i].name);
        if ((size_t)(pe - p) >= l && !memcmp(p, abbrs[i].name, l) &&
            !(p + l < pe && p[l] >= 'A' && p[l] <= 'Z')) {
            base = abbrs[i].off;
            p += l;
            named = true;
            break;
        }
    }
    if (p < pe && (*p == '+' || *p == '-') && (!named || base == 0)) {
        int sign = *p == '-' ? -1 : 1;
        const char *q = p + 1;
        int h = 0, m = 0, d = 0;
        while (q < pe && *q >= '0' && *q <= '9' && d < 2) {
            h = h * 10 + (*q++ - '0');
            d++;
        }
        if (!d)
            return false;
        if (q < pe && *q == ':')
            q++;
        if (q + 1 < pe && q[0] >= '0' && q[0] <= '9' && q[1] >= '0' && q[1] <= '9') {
            m = (q[0] - '0') * 10 + (q[1] - '0');
            q += 2;
        }
        if (h > 23 || m > 59)
            return false;
        *off = sign * (h * 3600 + m * 60);
        *pp = q;
        return true;
    }
    if (!named)
        return false;
    *off = base;
    *pp = p;
    return true;
}

/* Parse `s` with SimpleDateFormat pattern `fmt`. Text after the pattern is ignored, as
 * DateFormat.parse(String) ignores it; whitespace before a field is skipped. false if the
 * text does not match. */
static bool parse_time(const struct sl_value *fmt, const struct sl_value *s, int64_t now_ms,
                       struct pfields *c)
{
    memset(c, 0, sizeof *c);
    c->year = 1970;
    c->month = 1;
    c->day = 1;
    const char *f = fmt->u.s, *fe = f + fmt->len, *p = s->u.s, *pe = p + s->len;
    while (f < fe) {
        char ch = *f;
        if (ch == '\'') {
            if (f + 1 < fe && f[1] == '\'') { /* '' is a quote */
                if (p >= pe || *p != '\'')
                    return false;
                p++;
                f += 2;
                continue;
            }
            f++;
            while (f < fe) {
                if (*f == '\'') {
                    if (f + 1 < fe && f[1] == '\'')
                        f++;
                    else
                        break;
                }
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
        if (!strchr("GyYMLdEFuDwWaHkKhmsSzZX", ch))
            return false; /* IllegalArgumentException in Java: see f_to_epoch_timestamp */
        while (p < pe && (*p == ' ' || *p == '\t'))
            p++;
        if (ch == 'E' || ((ch == 'M' || ch == 'L') && count >= 3)) {
            int found = ch == 'E' ? match_name(&p, pe, wdays, 7) : match_name(&p, pe, months, 12);
            if (found < 0)
                return false;
            if (ch != 'E')
                c->month = found + 1;
            continue;
        }
        if (ch == 'a') {
            if (pe - p < 2 || !(ascii_ieq(p, "AM", 2) || ascii_ieq(p, "PM", 2)))
                return false;
            c->pm = p[0] == 'P' || p[0] == 'p';
            p += 2;
            continue;
        }
        if (ch == 'G') {
            if (pe - p < 2 || !(ascii_ieq(p, "AD", 2) || ascii_ieq(p, "BC", 2)))
                return false;
            p += 2;
            continue;
        }
        if (ch == 'z' || ch == 'Z' || ch == 'X') {
            if (!parse_zone_text(&p, pe, ch == 'X', &c->off))
                return false;
            c->has_off = true;
            continue;
        }
        /* numbers: a field abutting another numeric field takes exactly `count` digits */
        bool next_numeric = f < fe && strchr("yYMLdHhkKmsSDFuwW", *f) != NULL &&
                            !((*f == 'M' || *f == 'L') && f + 2 < fe && f[1] == *f && f[2] == *f);
        bool neg = false;
        if (p < pe && (*p == '-' || *p == '+') && !next_numeric) {
            neg = *p == '-';
            p++;
        }
        const char *digits_at = p;
        int64_t v = 0;
        int digits = 0, maxd = next_numeric ? count : 9;
        while (p < pe && *p >= '0' && *p <= '9' && digits < maxd) {
            v = v * 10 + (*p++ - '0');
            digits++;
        }
        if (!digits || (p < pe && *p >= '0' && *p <= '9' && !next_numeric))
            return false; /* more than 9 digits: refuse rather than overflow */
        if (neg)
            v = -v;
        switch (ch) {
        case 'y':
        case 'Y':
            if (count <= 2 && digits == 2 && p - digits_at == 2) {
                /* two-digit year: within 80 years before and 20 after now, as Java */
                struct civil nc;
                civil_from_ms(now_ms - (int64_t)80 * 31556952000, &nc);
                int64_t amb = nc.year % 100;
                v += (nc.year / 100) * 100 + (v < amb ? 100 : 0);
            }
            c->year = v;
            break;
        case 'M':
        case 'L':
            c->month = v;
            break;
        case 'd':
            c->day = v;
            break;
        case 'D':
            c->doy = v;
            c->has_doy = true;
            break;
        case 'H':
            c->hour = v, c->has_hour12 = false;
            break;
        case 'k':
            c->hour = v == 24 ? 0 : v, c->has_hour12 = false;
            break;
        case 'h':
            c->hour12 = v == 12 ? 0 : v, c->has_hour12 = true;
            break;
        case 'K':
            c->hour12 = v, c->has_hour12 = true;
            break;
        case 'm':
            c->min = v;
            break;
        case 's':
            c->sec = v;
            break;
        case 'S':
            c->ms = v;
            break;
        default:
            break; /* F, u, w, W: read, not used */
        }
    }
    if (c->has_hour12)
        c->hour = c->hour12 + (c->pm ? 12 : 0);
    return true;
}

/* Local milliseconds of parsed fields, rolling over as a lenient Calendar. */
static int64_t pfields_local_ms(const struct pfields *c)
{
    int64_t days;
    if (c->has_doy) {
        days = days_from_civil(c->year, 1, 1) + c->doy - 1;
    } else {
        int64_t m0 = c->month - 1;
        int64_t y = c->year + floordiv(m0, 12);
        int64_t m = m0 - floordiv(m0, 12) * 12 + 1;
        days = days_from_civil(y, (unsigned)m, 1) + c->day - 1;
    }
    return days * 86400000 + c->hour * 3600000 + c->min * 60000 + c->sec * 1000 + c->ms;
}

static int f_to_epoch_timestamp(struct sl_fcx *cx, const struct sl_value *a, int n,
                                struct sl_value *out)
{
    if (a[0].type == SL_V_NULL || a[1].type == SL_V_NULL)
        return 0;
    struct sl_value sv, fv;
    int rc;
    if ((rc = text_of(cx, &a[0], &sv)) || (rc = text_of(cx, &a[1], &fv)))
        return rc;
    for (uint32_t i = 0; i < fv.len; i++) {
        char ch = fv.u.s[i];
        if (ch == '\'') {
            while (++i < fv.len && fv.u.s[i] != '\'')
                ;
            continue;
        }
        if (((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z')) &&
            !strchr("GyYMLdEFuDwWaHkKhmsSzZX", ch))
            return sl_fcx_error(cx, "TO_EPOCH_TIMESTAMP: illegal pattern character '%c'", ch);
    }
    char tzbuf[64];
    const char *tz = NULL;
    if (n > 2 && a[2].type != SL_V_NULL) {
        struct sl_value tv;
        if ((rc = text_of(cx, &a[2], &tv)))
            return rc;
        snprintf(tzbuf, sizeof tzbuf, "%.*s", (int)(tv.len > 63 ? 63 : tv.len), tv.u.s);
        tz = tzbuf;
    }
    struct pfields c;
    if (!parse_time(&fv, &sv, sl_fcx_now_ms(cx), &c))
        return 0; /* a parse failure is null, as Metron */
    if (c.year > 1000000 || c.year < -1000000)
        return 0;
    int64_t local = pfields_local_ms(&c);
    int32_t off = c.off;
    if (!c.has_off) {
        struct zone tmp;
        const struct zone *z = zone_get(tz, &tmp);
        off = zone_offset_wall(z, local);
        zone_put(&tmp);
    }
    *out = sl_sv_long(local - (int64_t)off * 1000);
    return 0;
}

/* Not SL_SF_PURE: without a time argument these read the clock, and a folded DAY_OF_WEEK()
 * would keep the day the program was compiled for as long as the pipeline runs. */
#define SF_CLOCK 0u

const struct sl_sfunc sl_sfuncs_date[] = {
    {"DAY_OF_WEEK", 0, 1, SF_CLOCK, "(epoch_ms?)", "Integer",
     "Day of the week, 1 = Sunday ... 7 = Saturday (UTC); now when absent.", f_day_of_week},
    {"DAY_OF_MONTH", 0, 1, SF_CLOCK, "(epoch_ms?)", "Integer", "Day of the month, 1-based (UTC).",
     f_day_of_month},
    {"DAY_OF_YEAR", 0, 1, SF_CLOCK, "(epoch_ms?)", "Integer", "Day of the year, 1-based (UTC).",
     f_day_of_year},
    {"WEEK_OF_MONTH", 0, 1, SF_CLOCK, "(epoch_ms?)", "Integer",
     "Week of the month (US rules: weeks start on Sunday) (UTC).", f_week_of_month},
    {"WEEK_OF_YEAR", 0, 1, SF_CLOCK, "(epoch_ms?)", "Integer", "Week of the year (US rules) (UTC).",
     f_week_of_year},
    {"MONTH", 0, 1, SF_CLOCK, "(epoch_ms?)", "Integer", "Month, 0-based: January is 0 (UTC).",
     f_month},
    {"YEAR", 0, 1, SF_CLOCK, "(epoch_ms?)", "Integer", "Year (UTC).", f_year},
    {"DATE_FORMAT", 1, 3, SF_CLOCK, "(format, epoch_ms?, timezone?)", "String",
     "Formats a time with a SimpleDateFormat pattern in a zone (default UTC); with two "
     "arguments a number is the time and a string the zone.",
     f_date_format},
    {"TO_EPOCH_TIMESTAMP", 2, 3, SL_SF_PURE, "(date, format, timezone?)", "Long",
     "Parses a date with a SimpleDateFormat pattern (default zone UTC); null if it does not "
     "parse.",
     f_to_epoch_timestamp},
    {0},
};
