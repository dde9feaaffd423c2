/*
 * syslog_fmt.c — syslog headers and stream framing (see syslog_fmt.h).
 *
 * DESIGN: the header depends only on severity and time, so the sink renders it once per
 * batch and severity and copies it per message; these functions therefore favour clarity
 * over speed (snprintf, localtime_r).
 */
#include "codec/syslog_fmt.h"

#include "base/clock.h"
#include "base/err.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

static const struct {
    const char *name;
    int code;
} facilities[] = {
    {"kern", 0},          {"user", 1},      {"mail", 2},      {"daemon", 3},   {"auth", 4},
    {"security", 4},      {"syslog", 5},    {"lpr", 6},       {"news", 7},     {"uucp", 8},
    {"cron", 9},          {"authpriv", 10}, {"ftp", 11},      {"ntp", 12},     {"audit", 13},
    {"logaudit", 13},     {"alert", 14},    {"logalert", 14}, {"console", 14}, {"clock", 15},
    {"solaris-cron", 15}, {"local0", 16},   {"local1", 17},   {"local2", 18},  {"local3", 19},
    {"local4", 20},       {"local5", 21},   {"local6", 22},   {"local7", 23},
};

static const struct {
    const char *name;
    int code;
} severities[] = {
    {"emerg", 0},    {"emergency", 0}, {"panic", 0},         {"alert", 1},   {"crit", 2},
    {"critical", 2}, {"err", 3},       {"error", 3},         {"warning", 4}, {"warn", 4},
    {"notice", 5},   {"info", 6},      {"informational", 6}, {"debug", 7},
};

static int parse_small_int(struct sl_str s, int max, int *out)
{
    if (!s.len || s.len > 2)
        return SL_EINVAL;
    int v = 0;
    for (size_t i = 0; i < s.len; i++) {
        if (s.ptr[i] < '0' || s.ptr[i] > '9')
            return SL_EINVAL;
        v = v * 10 + (s.ptr[i] - '0');
    }
    if (v > max)
        return SL_EINVAL;
    *out = v;
    return 0;
}

static bool eq_nocase(struct sl_str s, const char *name)
{
    size_t n = strlen(name);
    if (s.len != n)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = s.ptr[i];
        if (c >= 'A' && c <= 'Z')
            c = (char)(c - 'A' + 'a');
        if (c != name[i])
            return false;
    }
    return true;
}

int sl_syslog_facility_parse(struct sl_str s, int *out)
{
    if (parse_small_int(s, 23, out) == 0)
        return 0;
    /* Python's SysLogHandler names: "security" is 4 there too (LOG_AUTH), 13 is log audit */
    for (size_t i = 0; i < sizeof(facilities) / sizeof(facilities[0]); i++)
        if (eq_nocase(s, facilities[i].name)) {
            *out = facilities[i].code;
            return 0;
        }
    return SL_EINVAL;
}

int sl_syslog_severity_parse(struct sl_str s, int *out)
{
    if (parse_small_int(s, 7, out) == 0)
        return 0;
    for (size_t i = 0; i < sizeof(severities) / sizeof(severities[0]); i++)
        if (eq_nocase(s, severities[i].name)) {
            *out = severities[i].code;
            return 0;
        }
    return SL_EINVAL;
}

bool sl_syslog_fmt_token_ok(const char *s, size_t max_len)
{
    size_t n = strlen(s);
    if (n > max_len)
        return false;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] < 33 || (unsigned char)s[i] > 126)
            return false;
    return true;
}

static const char *nil(const char *s)
{
    return s && s[0] ? s : "-";
}

int sl_syslog_fmt_header(struct sl_buf *out, const struct sl_syslog_hdr *h, int severity,
                         int64_t ts_ns)
{
    int pri = h->facility * 8 + (severity & 7);
    size_t mark = out->len;
    int rc;
    switch (h->fmt) {
    case SL_SYSLOG_FMT_5424: {
        char ts[40];
        sl_clock_format_rfc3339(ts_ns, 6, ts, sizeof(ts));
        rc = sl_buf_appendf(out, "<%d>1 %s %s %s %s %s - ", pri, ts, nil(h->hostname),
                            nil(h->app_name), nil(h->procid), nil(h->msgid));
        break;
    }
    case SL_SYSLOG_FMT_3164: {
        static const char mon[12][4] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                        "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
        time_t t = (time_t)(ts_ns / 1000000000);
        struct tm tm;
        if (!localtime_r(&t, &tm))
            return SL_EINVAL;
        bool pid = h->procid && h->procid[0] && strcmp(h->procid, "-") != 0;
        rc = sl_buf_appendf(out, "<%d>%s %2d %02d:%02d:%02d %s %s%s%s%s: ", pri, mon[tm.tm_mon],
                            tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, nil(h->hostname),
                            nil(h->app_name), pid ? "[" : "", pid ? h->procid : "", pid ? "]" : "");
        break;
    }
    default:
        rc = sl_buf_appendf(out, "<%d>", pri);
        break;
    }
    if (rc) {
        out->len = mark;
        if (out->ptr)
            out->ptr[mark] = 0;
    }
    return rc;
}

size_t sl_syslog_fmt_utf8_cut(const char *p, size_t n, size_t max)
{
    if (n <= max)
        return n;
    size_t k = max;
    /* back off continuation bytes (10xxxxxx), then the lead byte if its sequence is cut */
    size_t back = 0;
    while (k > 0 && back < 3 && ((unsigned char)p[k] & 0xC0) == 0x80) {
        k--;
        back++;
    }
    return k;
}

int sl_syslog_fmt_frame(struct sl_buf *out, bool octet_counting, const char *msg, size_t n)
{
    size_t mark = out->len;
    int rc;
    if (octet_counting) {
        char len[24];
        int k = snprintf(len, sizeof(len), "%zu ", n);
        rc = sl_buf_reserve(out, (size_t)k + n);
        if (!rc) {
            memcpy(out->ptr + out->len, len, (size_t)k);
            if (n)
                memcpy(out->ptr + out->len + k, msg, n);
            out->len += (size_t)k + n;
            out->ptr[out->len] = 0;
        }
        return rc;
    }
    rc = sl_buf_reserve(out, n + 1);
    if (rc)
        return rc;
    char *o = out->ptr + mark;
    for (size_t i = 0; i < n; i++)
        o[i] = msg[i] == '\n' || msg[i] == '\r' ? ' ' : msg[i];
    o[n] = '\n';
    out->len = mark + n + 1;
    out->ptr[out->len] = 0;
    return 0;
}
