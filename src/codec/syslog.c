/*
 * syslog.c — RFC 3164 / RFC 5424 parser (see syslog.h).
 *
 * DESIGN: one forward pass over the bytes with a cursor; every field is a view. The result
 * struct carries fixed arrays for structured data, so only its header is cleared per message
 * (clearing the whole 5 KiB struct cost more than the parse itself in bench_syslog). Dates
 * are turned into epoch seconds with the days-from-civil arithmetic (no mktime/timegm: they
 * take the zone lock and are ten times slower). On any error the parse stops, the message
 * becomes the raw input and the reason is a static string, so errors cost no allocation.
 */
#include "codec/syslog.h"

#include "base/err.h"

#include <string.h>
#include <time.h>

#define NS 1000000000LL

static const char *const facility_names[24] = {
    "kern",   "user",   "mail",     "daemon", "auth",   "syslog",   "lpr",     "news",
    "uucp",   "cron",   "authpriv", "ftp",    "ntp",    "security", "console", "solaris-cron",
    "local0", "local1", "local2",   "local3", "local4", "local5",   "local6",  "local7"};

static const char *const severity_names[8] = {"emerg",   "alert",  "crit", "err",
                                              "warning", "notice", "info", "debug"};

const char *sl_syslog_facility_name(int facility)
{
    return facility >= 0 && facility < 24 ? facility_names[facility] : "?";
}

const char *sl_syslog_severity_name(int severity)
{
    return severity >= 0 && severity < 8 ? severity_names[severity] : "?";
}

int64_t sl_syslog_days_from_civil(int64_t y, unsigned m, unsigned d)
{
    /* Howard Hinnant's algorithm */
    y -= m <= 2;
    const int64_t era = (y >= 0 ? y : y - 399) / 400;
    const unsigned yoe = (unsigned)(y - era * 400);
    const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int64_t)doe - 719468;
}

static void civil_from_days(int64_t z, int64_t *y, unsigned *m, unsigned *d)
{
    z += 719468;
    const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    const unsigned doe = (unsigned)(z - era * 146097);
    const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    const unsigned mp = (5 * doy + 2) / 153;
    *d = doy - (153 * mp + 2) / 5 + 1;
    *m = mp < 10 ? mp + 3 : mp - 9;
    *y = (int64_t)yoe + era * 400 + (*m <= 2);
}

static bool leap(int64_t y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static unsigned month_days(int64_t y, unsigned m)
{
    static const unsigned char md[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    return m == 2 && leap(y) ? 29 : md[m - 1];
}

/* ---- cursor helpers */

struct cur {
    const char *p;
    size_t i, n;
};

static inline bool at_end(const struct cur *c)
{
    return c->i >= c->n;
}

static inline int peek(const struct cur *c)
{
    return c->i < c->n ? (unsigned char)c->p[c->i] : -1;
}

static inline bool isdig(int ch)
{
    return ch >= '0' && ch <= '9';
}

/* exactly k digits */
static bool digits(struct cur *c, unsigned k, unsigned *out)
{
    if (c->n - c->i < k || c->i > c->n)
        return false;
    unsigned v = 0;
    for (unsigned j = 0; j < k; j++) {
        int ch = (unsigned char)c->p[c->i + j];
        if (!isdig(ch))
            return false;
        v = v * 10 + (unsigned)(ch - '0');
    }
    c->i += k;
    *out = v;
    return true;
}

static bool expect(struct cur *c, char ch)
{
    if (peek(c) != (unsigned char)ch)
        return false;
    c->i++;
    return true;
}

/* ".ddd" up to 9 digits (more are read and ignored) into ns; none is fine */
static void fraction(struct cur *c, int64_t *ns)
{
    *ns = 0;
    if (peek(c) != '.' || c->i + 1 >= c->n || !isdig((unsigned char)c->p[c->i + 1]))
        return;
    c->i++;
    int64_t v = 0;
    int k = 0;
    while (isdig(peek(c))) {
        if (k < 9) {
            v = v * 10 + (c->p[c->i] - '0');
            k++;
        }
        c->i++;
    }
    while (k++ < 9)
        v *= 10;
    *ns = v;
}

/* RFC 3339: YYYY-MM-DDThh:mm:ss[.frac](Z|+hh:mm). lower-case t/z accepted. */
static bool rfc3339(struct cur *c, int64_t *ts_ns)
{
    struct cur s = *c;
    unsigned y, mo, d, h, mi, se;
    if (!digits(&s, 4, &y) || !expect(&s, '-') || !digits(&s, 2, &mo) || !expect(&s, '-') ||
        !digits(&s, 2, &d))
        return false;
    int t = peek(&s);
    if (t != 'T' && t != 't')
        return false;
    s.i++;
    if (!digits(&s, 2, &h) || !expect(&s, ':') || !digits(&s, 2, &mi) || !expect(&s, ':') ||
        !digits(&s, 2, &se))
        return false;
    /* years outside 1700..2200 do not fit int64 nanoseconds comfortably: not a timestamp */
    if (y < 1700 || y > 2200 || mo < 1 || mo > 12 || d < 1 || d > month_days(y, mo) || h > 23 ||
        mi > 59 || se > 60)
        return false;
    int64_t frac;
    fraction(&s, &frac);
    int64_t off = 0;
    int z = peek(&s);
    if (z == 'Z' || z == 'z') {
        s.i++;
    } else if (z == '+' || z == '-') {
        s.i++;
        unsigned oh, om;
        if (!digits(&s, 2, &oh) || !expect(&s, ':') || !digits(&s, 2, &om) || oh > 23 || om > 59)
            return false;
        off = (int64_t)(oh * 3600 + om * 60) * (z == '-' ? -1 : 1);
    } else {
        return false;
    }
    int64_t secs = sl_syslog_days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + se - off;
    *ts_ns = secs * NS + frac;
    *c = s;
    return true;
}

static int month_of(const char *p)
{
    /* case-sensitive like every sender writes it; lower-case accepted too */
    static const char names[] = "janfebmaraprmayjunjulaugsepoctnovdec";
    char a = (char)(p[0] | 0x20), b = (char)(p[1] | 0x20), d = (char)(p[2] | 0x20);
    for (int i = 0; i < 12; i++)
        if (names[i * 3] == a && names[i * 3 + 1] == b && names[i * 3 + 2] == d)
            return i + 1;
    return 0;
}

/* The year that puts month/day/secs closest behind now (see syslog.h). */
static int64_t bsd_time(unsigned mo, unsigned d, int64_t sod, const struct sl_syslog_opts *o,
                        int64_t now_ns, bool *ok)
{
    int64_t now_s = now_ns / NS, local = now_s + o->tz_offset_s;
    int64_t y;
    unsigned nm, nd;
    civil_from_days(local / 86400 - (local % 86400 < 0), &y, &nm, &nd);
    int64_t fut = (int64_t)(o->future_days > 0 ? o->future_days : 7) * 86400;
    int64_t cand[3]; /* y - 1, y, y + 1 */
    bool valid[3];
    for (int k = 0; k < 3; k++) {
        valid[k] = d <= month_days(y - 1 + k, mo);
        cand[k] = valid[k]
                      ? sl_syslog_days_from_civil(y - 1 + k, mo, d) * 86400 + sod - o->tz_offset_s
                      : 0;
    }
    *ok = true;
    if (valid[1] && cand[1] <= now_s + fut) {
        /* nearly a year back: a clock ahead at New Year, so next year */
        if (cand[1] < now_s - (365 * 86400 - fut) && valid[2] && cand[2] <= now_s + fut)
            return cand[2];
        return cand[1];
    }
    if (valid[0])
        return cand[0]; /* too far ahead: last year's */
    if (valid[2] && cand[2] <= now_s + fut)
        return cand[2];
    *ok = false; /* Feb 29 with no leap year near */
    return 0;
}

/* "Mmm dd[ yyyy] hh:mm:ss[.frac]" (day may be space-padded or one digit) */
static bool bsd_timestamp(struct cur *c, const struct sl_syslog_opts *o, int64_t now_ns,
                          int64_t *ts_ns)
{
    struct cur s = *c;
    if (s.n - s.i < 15 || s.i > s.n)
        return false;
    int mo = month_of(s.p + s.i);
    if (!mo || s.p[s.i + 3] != ' ')
        return false;
    s.i += 4;
    if (peek(&s) == ' ')
        s.i++;
    unsigned d = 0;
    if (!isdig(peek(&s)))
        return false;
    d = (unsigned)(s.p[s.i++] - '0');
    if (isdig(peek(&s)))
        d = d * 10 + (unsigned)(s.p[s.i++] - '0');
    if (!expect(&s, ' ') || d < 1 || d > 31)
        return false;
    unsigned year = 0, h, mi, se;
    struct cur y = s;
    if (digits(&y, 4, &year) && expect(&y, ' '))
        s = y;
    else
        year = 0;
    if (!digits(&s, 2, &h) || !expect(&s, ':') || !digits(&s, 2, &mi) || !expect(&s, ':') ||
        !digits(&s, 2, &se) || h > 23 || mi > 59 || se > 60)
        return false;
    int64_t frac;
    fraction(&s, &frac);
    int64_t sod = h * 3600 + mi * 60 + se;
    int64_t secs;
    if (year) {
        if (year < 1700 || year > 2200 || d > month_days(year, (unsigned)mo))
            return false;
        secs = sl_syslog_days_from_civil(year, (unsigned)mo, d) * 86400 + sod - o->tz_offset_s;
    } else {
        bool ok;
        secs = bsd_time((unsigned)mo, d, sod, o, now_ns, &ok);
        if (!ok)
            return false;
    }
    /* Cisco: " UTC" before the ':' */
    if (s.n - s.i >= 5 && s.p[s.i] == ' ' && s.p[s.i + 4] == ':' &&
        (memcmp(s.p + s.i + 1, "UTC", 3) == 0 || memcmp(s.p + s.i + 1, "GMT", 3) == 0))
        s.i += 4;
    *ts_ns = secs * NS + frac;
    *c = s;
    return true;
}

/* ---- shared pieces */

static void reset(struct sl_syslog_msg *m)
{
    m->format = SL_SYSLOG_RFC3164;
    m->facility = m->severity = -1;
    m->has_ts = false;
    m->ts_ns = 0;
    m->ts_text = m->host = m->app = m->procid = m->msgid = m->sd_text = m->msg =
        sl_str_make(NULL, 0);
    m->sd_count = m->param_count = 0;
    m->parse_error = false;
    m->error = NULL;
    m->error_offset = 0;
}

static int fail(struct sl_syslog_msg *m, const char *p, size_t n, size_t at, const char *why,
                int rc)
{
    int16_t fac = m->facility, sev = m->severity;
    reset(m);
    m->facility = fac;
    m->severity = sev;
    m->parse_error = true;
    m->error = why;
    m->error_offset = (uint32_t)(at > n ? n : at);
    m->msg = sl_str_make(p, n);
    return rc;
}

/* "<PRI>": 1-3 digits, no leading zero except "<0>", at most 191. 1: parsed, 0: no '<',
 * -1: malformed */
static int pri(struct cur *c, struct sl_syslog_msg *m)
{
    if (peek(c) != '<')
        return 0;
    size_t j = c->i + 1;
    unsigned v = 0, k = 0;
    while (j < c->n && isdig((unsigned char)c->p[j]) && k < 4) {
        v = v * 10 + (unsigned)(c->p[j] - '0');
        j++;
        k++;
    }
    if (k == 0 || k > 3 || j >= c->n || c->p[j] != '>' || v > 191 ||
        (k > 1 && c->p[c->i + 1] == '0')) {
        c->i = j;
        return -1;
    }
    m->facility = (int16_t)(v >> 3);
    m->severity = (int16_t)(v & 7);
    c->i = j + 1;
    return 1;
}

/* a token up to the next space (or the end); empty when at a space */
static struct sl_str token(struct cur *c)
{
    size_t s = c->i;
    const char *sp = c->i < c->n ? memchr(c->p + c->i, ' ', c->n - c->i) : NULL;
    c->i = sp ? (size_t)(sp - c->p) : c->n;
    return sl_str_make(c->p + s, c->i - s);
}

static struct sl_str bom_strip(struct sl_str s)
{
    if (s.len >= 3 && (unsigned char)s.ptr[0] == 0xEF && (unsigned char)s.ptr[1] == 0xBB &&
        (unsigned char)s.ptr[2] == 0xBF)
        return sl_str_make(s.ptr + 3, s.len - 3);
    return s;
}

/* ---- RFC 5424 */

static bool sd_name_char(int ch)
{
    return ch > 32 && ch < 127 && ch != '=' && ch != ']' && ch != '"';
}

/* SD-NAME (1..32 printable US-ASCII without = ] " SP); NULL on success, else the reason */
static const char *sd_name(struct cur *c, struct sl_str *out)
{
    size_t s = c->i;
    while (c->i < c->n && sd_name_char((unsigned char)c->p[c->i]))
        c->i++;
    size_t len = c->i - s;
    if (!len)
        return "structured data: name expected";
    if (len > 32)
        return "structured data: name longer than 32 bytes";
    *out = sl_str_make(c->p + s, len);
    return NULL;
}

static const char *structured_data(struct cur *c, struct sl_syslog_msg *m)
{
    size_t start = c->i;
    if (peek(c) == '-') {
        c->i++;
        return NULL;
    }
    if (peek(c) != '[')
        return "structured data: '[' or '-' expected";
    while (peek(c) == '[') {
        c->i++;
        if (m->sd_count >= SL_SYSLOG_MAX_SD_ELEMS)
            return "structured data: more than 32 elements";
        struct sl_syslog_sd_elem *e = &m->sd[m->sd_count];
        const char *why = sd_name(c, &e->id);
        if (why)
            return why;
        e->first = m->param_count;
        e->count = 0;
        for (;;) {
            int ch = peek(c);
            if (ch == ']') {
                c->i++;
                break;
            }
            if (ch != ' ')
                return at_end(c) ? "structured data: ']' missing"
                                 : "structured data: ' ' or ']' expected";
            c->i++;
            if (m->param_count >= SL_SYSLOG_MAX_SD_PARAMS)
                return "structured data: more than 128 parameters";
            struct sl_syslog_sd_param *pa = &m->params[m->param_count];
            why = sd_name(c, &pa->name);
            if (why)
                return why;
            if (!expect(c, '='))
                return "structured data: '=' expected";
            if (!expect(c, '"'))
                return "structured data: '\"' expected";
            size_t vs = c->i;
            bool esc = false;
            for (;;) {
                if (c->i >= c->n)
                    return "structured data: unterminated value";
                char v = c->p[c->i];
                if (v == '\\') {
                    esc = true;
                    c->i += 2;
                    continue;
                }
                if (v == '"')
                    break;
                if (v == ']') /* RFC 5424 6.3.3: ']' must be escaped */
                    return "structured data: unescaped ']' in a value";
                c->i++;
            }
            pa->value = sl_str_make(c->p + vs, c->i - vs);
            pa->escaped = esc;
            c->i++; /* the closing quote */
            m->param_count++;
            e->count++;
        }
        m->sd_count++;
    }
    m->sd_text = sl_str_make(c->p + start, c->i - start);
    return NULL;
}

static int parse_5424(struct cur *c, struct sl_syslog_msg *m, const char *p, size_t n)
{
    m->format = SL_SYSLOG_RFC5424;
    /* VERSION: 1..3 digits, not 0, then SP */
    if (!isdig(peek(c)) || peek(c) == '0')
        return fail(m, p, n, c->i, "RFC 5424: version expected after PRI", SL_EPARSE);
    while (isdig(peek(c)))
        c->i++;
    if (!expect(c, ' '))
        return fail(m, p, n, c->i, "RFC 5424: space expected after version", SL_EPARSE);
    /* TIMESTAMP */
    size_t ts0 = c->i;
    if (peek(c) == '-' && (c->i + 1 >= c->n || c->p[c->i + 1] == ' ')) {
        c->i++;
    } else if (rfc3339(c, &m->ts_ns)) {
        m->has_ts = true;
        m->ts_text = sl_str_make(p + ts0, c->i - ts0);
    } else {
        return fail(m, p, n, c->i, "RFC 5424: invalid timestamp", SL_EPARSE);
    }
    struct sl_str *hdr[4] = {&m->host, &m->app, &m->procid, &m->msgid};
    static const char *const missing[4] = {"RFC 5424: hostname expected",
                                           "RFC 5424: app-name expected",
                                           "RFC 5424: procid expected", "RFC 5424: msgid expected"};
    for (int k = 0; k < 4; k++) {
        if (!expect(c, ' '))
            return fail(m, p, n, c->i, missing[k], SL_EPARSE);
        struct sl_str t = token(c);
        if (!t.len)
            return fail(m, p, n, c->i, missing[k], SL_EPARSE);
        *hdr[k] = t.len == 1 && t.ptr[0] == '-' ? sl_str_make(NULL, 0) : t;
    }
    if (!expect(c, ' '))
        return fail(m, p, n, c->i, "RFC 5424: structured data expected", SL_EPARSE);
    const char *why = structured_data(c, m);
    if (why)
        return fail(m, p, n, c->i, why, SL_EPARSE);
    if (at_end(c))
        return 0;
    if (!expect(c, ' '))
        return fail(m, p, n, c->i, "RFC 5424: space expected after structured data", SL_EPARSE);
    m->msg = bom_strip(sl_str_make(p + c->i, n - c->i));
    return 0;
}

/* ---- RFC 3164 */

static bool tag_char(int ch)
{
    return ch > 32 && ch < 127 && ch != ':' && ch != '[' && ch != ']';
}

/* "TAG[PID]: " or "TAG: " at the cursor; otherwise everything is the message */
static void tag_and_msg(struct cur *c, struct sl_syslog_msg *m)
{
    size_t s = c->i, j = s;
    while (j < c->n && j - s <= 48 && tag_char((unsigned char)c->p[j]))
        j++;
    size_t tl = j - s;
    if (tl && tl <= 48 && j < c->n) {
        if (c->p[j] == '[') {
            const char *close = memchr(c->p + j, ']', c->n - j < 130 ? c->n - j : 130);
            if (close) {
                size_t k = (size_t)(close - c->p);
                m->app = sl_str_make(c->p + s, tl);
                m->procid = sl_str_make(c->p + j + 1, k - j - 1);
                k++;
                if (k < c->n && c->p[k] == ':')
                    k++;
                if (k < c->n && c->p[k] == ' ')
                    k++;
                c->i = k;
            }
        } else if (c->p[j] == ':' && (j + 1 == c->n || c->p[j + 1] == ' ')) {
            m->app = sl_str_make(c->p + s, tl);
            c->i = j + 1 < c->n ? j + 2 : j + 1;
        }
    } else if (tl && tl <= 48 && j == c->n) {
        /* a lone word: the message, no tag */
    }
    m->msg = bom_strip(sl_str_make(c->p + c->i, c->n - c->i));
}

/* a BSD month name followed by a space at the cursor */
static int month_of_safe(const struct cur *c)
{
    if (c->i > c->n || c->n - c->i < 4 || c->p[c->i + 3] != ' ')
        return 0;
    return month_of(c->p + c->i);
}

/* "HOST: " of Cisco's "SEQ: HOST: *Mmm..." */
static bool cisco_host(struct cur *c, struct sl_syslog_msg *m)
{
    size_t s = c->i, j = s;
    while (j < c->n && j - s < 256 && c->p[j] != ':' && c->p[j] != ' ')
        j++;
    if (j == s || j + 1 >= c->n || c->p[j] != ':' || c->p[j + 1] != ' ')
        return false;
    m->host = sl_str_make(c->p + s, j - s);
    c->i = j + 2;
    return true;
}

static int parse_3164(struct cur *c, struct sl_syslog_msg *m, const char *p, size_t n, bool had_pri,
                      const struct sl_syslog_opts *o, int64_t now_ns)
{
    m->format = SL_SYSLOG_RFC3164;
    if (peek(c) == ' ' && had_pri) /* "<13> Jan ..." from some senders */
        c->i++;
    /* Cisco: "123: " sequence number, then maybe "host: ", then '*' or '.' (clock state) */
    struct cur t = *c;
    bool cisco = false;
    if (isdig(peek(&t))) {
        while (isdig(peek(&t)))
            t.i++;
        if (expect(&t, ':') && expect(&t, ' ')) {
            struct cur h = t;
            if (!isdig(peek(&h)) && month_of_safe(&h) == 0 && cisco_host(&h, m))
                t = h;
            *c = t;
            cisco = true;
        }
    }
    if (peek(c) == '*' || peek(c) == '.')
        c->i++;
    size_t ts0 = c->i;
    if (bsd_timestamp(c, o, now_ns, &m->ts_ns) || rfc3339(c, &m->ts_ns)) {
        m->has_ts = true;
        m->ts_text = sl_str_make(p + ts0, c->i - ts0);
        if (peek(c) == ':') { /* Cisco: "...11.123: %TAG: msg" */
            c->i++;
            expect(c, ' ');
            tag_and_msg(c, m);
            return 0;
        }
        if (!expect(c, ' ')) {
            if (at_end(c))
                return 0;
            return fail(m, p, n, c->i, "RFC 3164: space expected after timestamp", SL_EPARSE);
        }
        if (!cisco || !m->host.len) {
            /* HOST, unless the word is already the tag ("sshd[12]:", "su:") */
            size_t s = c->i, j = s;
            while (j < c->n && c->p[j] != ' ')
                j++;
            bool is_tag = j > s && (c->p[j - 1] == ':' || memchr(c->p + s, '[', j - s) != NULL);
            if (!is_tag && j > s && j < c->n) {
                m->host = sl_str_make(p + s, j - s);
                c->i = j + 1;
            }
        }
        tag_and_msg(c, m);
        return 0;
    }
    if (!had_pri)
        return fail(m, p, n, 0, "not syslog: no PRI and no timestamp", SL_EPARSE);
    /* RFC 3164 4.3.2: no valid timestamp: the rest is the content */
    *c = (struct cur){p, ts0, n};
    tag_and_msg(c, m);
    return 0;
}

int sl_syslog_parse(const char *p, size_t n, const struct sl_syslog_opts *o,
                    struct sl_syslog_msg *m)
{
    static const struct sl_syslog_opts defaults = {0};
    if (!o)
        o = &defaults;
    reset(m);
    int rc = 0;
    bool too_long = false;
    if (o->max_len && n > o->max_len) {
        n = o->max_len;
        too_long = true;
    }
    /* a trailing LF / CRLF (octet-counted frames from some senders) is not part of it */
    while (n && (p[n - 1] == '\n' || p[n - 1] == '\r'))
        n--;
    struct cur c = {p, 0, n};
    int pr = pri(&c, m);
    if (pr < 0) {
        rc = fail(m, p, n, c.i, "invalid PRI", SL_EPARSE);
    } else {
        int64_t now_ns = o->now_ns;
        if (!now_ns) {
            struct timespec ts;
            clock_gettime(CLOCK_REALTIME, &ts);
            now_ns = (int64_t)ts.tv_sec * NS + ts.tv_nsec;
        }
        bool v5424 = pr > 0 && isdig(peek(&c)) && peek(&c) != '0';
        if (o->format == SL_SYSLOG_RFC5424) {
            rc = pr > 0 ? parse_5424(&c, m, p, n)
                        : fail(m, p, n, 0, "RFC 5424: PRI expected", SL_EPARSE);
        } else if (o->format == SL_SYSLOG_AUTO && v5424) {
            /* "<13>1 ..." is 5424; "<13>123: ..." (Cisco sequence numbers) is not */
            size_t j = c.i;
            while (j < n && isdig((unsigned char)p[j]) && j - c.i < 3)
                j++;
            if (j < n && p[j] == ' ')
                rc = parse_5424(&c, m, p, n);
            else
                rc = parse_3164(&c, m, p, n, true, o, now_ns);
        } else {
            rc = parse_3164(&c, m, p, n, pr > 0, o, now_ns);
        }
    }
    if (too_long && !rc)
        rc = fail(m, p, n, n, "message longer than max_message (truncated)", SL_E2BIG);
    else if (too_long) {
        m->error = "message longer than max_message (truncated)";
        rc = SL_E2BIG;
    }
    return rc;
}

size_t sl_syslog_sd_unescape(struct sl_str v, char *out)
{
    size_t k = 0;
    for (size_t i = 0; i < v.len; i++) {
        char ch = v.ptr[i];
        if (ch == '\\' && i + 1 < v.len &&
            (v.ptr[i + 1] == '"' || v.ptr[i + 1] == '\\' || v.ptr[i + 1] == ']')) {
            out[k++] = v.ptr[++i];
            continue;
        }
        out[k++] = ch;
    }
    return k;
}
