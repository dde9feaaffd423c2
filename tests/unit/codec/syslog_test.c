/*
 * syslog_test.c — the RFC 3164 / RFC 5424 parser on lines as real senders write them:
 * rsyslog, logger, systemd, Cisco IOS, network gear without PRI or host, NILVALUEs,
 * structured data with escapes, a UTF-8 BOM, broken SD and PRI, limits, and the year of BSD
 * timestamps around New Year.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "base/clock.h"
#include "base/err.h"
#include "codec/syslog.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* 2024-03-10T12:00:00Z */
#define NOW_NS (1710072000LL * 1000000000LL)

/* "fac|sev|ts|host|app|procid|msgid|sd|msg", or "ERR fac|sev reason @offset | msg" */
static void render(const struct sl_syslog_msg *m, char *out, size_t len)
{
    char ts[64] = "-";
    if (m->has_ts)
        sl_clock_format_rfc3339(m->ts_ns, 6, ts, sizeof(ts));
    if (m->parse_error) {
        snprintf(out, len, "ERR %d|%d %s @%u | %.*s", m->facility, m->severity, m->error,
                 m->error_offset, (int)m->msg.len, m->msg.ptr);
        return;
    }
    char sd[1024] = "";
    size_t k = 0;
    for (uint32_t i = 0; i < m->sd_count; i++) {
        const struct sl_syslog_sd_elem *e = &m->sd[i];
        k += (size_t)snprintf(sd + k, sizeof(sd) - k, "[%.*s", (int)e->id.len, e->id.ptr);
        for (uint32_t j = 0; j < e->count; j++) {
            const struct sl_syslog_sd_param *pa = &m->params[e->first + j];
            char v[256];
            size_t vl = pa->escaped ? sl_syslog_sd_unescape(pa->value, v)
                                    : (memcpy(v, pa->value.ptr, pa->value.len), pa->value.len);
            k += (size_t)snprintf(sd + k, sizeof(sd) - k, " %.*s=%.*s", (int)pa->name.len,
                                  pa->name.ptr, (int)vl, v);
        }
        k += (size_t)snprintf(sd + k, sizeof(sd) - k, "]");
    }
    snprintf(out, len, "%d|%d|%s|%.*s|%.*s|%.*s|%.*s|%s|%.*s", m->facility, m->severity, ts,
             (int)m->host.len, m->host.ptr, (int)m->app.len, m->app.ptr, (int)m->procid.len,
             m->procid.ptr, (int)m->msgid.len, m->msgid.ptr, sd, (int)m->msg.len, m->msg.ptr);
}

struct tcase {
    const char *in;
    const char *want;
};

static void run_cases(const struct tcase *cs, size_t count, enum sl_syslog_format fmt)
{
    static struct sl_syslog_msg m;
    struct sl_syslog_opts o = {.format = fmt, .now_ns = NOW_NS, .max_len = 4096};
    int bad = 0;
    for (size_t i = 0; i < count; i++) {
        /* a heap copy of exactly the input so ASan sees reads past the end */
        size_t n = strlen(cs[i].in);
        char *p = malloc(n ? n : 1);
        memcpy(p, cs[i].in, n);
        int rc = sl_syslog_parse(p, n, &o, &m);
        char got[2048];
        render(&m, got, sizeof(got));
        if (strcmp(got, cs[i].want) != 0 || (rc != 0) != m.parse_error) {
            fprintf(stderr, "case %zu: %s\n  got:  %s\n  want: %s\n", i, cs[i].in, got, cs[i].want);
            bad++;
        }
        free(p);
    }
    assert_int_equal(bad, 0);
}

static void test_rfc5424(void **state)
{
    (void)state;
    static const struct tcase cs[] = {
        /* RFC 5424 6.5 examples */
        {"<34>1 2003-10-11T22:14:15.003Z mymachine.example.com su - ID47 - \xEF\xBB\xBF'su root' "
         "failed for lonvick on /dev/pts/8",
         "4|2|2003-10-11T22:14:15.003000Z|mymachine.example.com|su||ID47||'su root' failed for "
         "lonvick on /dev/pts/8"},
        {"<165>1 2003-08-24T05:14:15.000003-07:00 192.0.2.1 myproc 8710 - - %% It's time to make "
         "the do-nuts.",
         "20|5|2003-08-24T12:14:15.000003Z|192.0.2.1|myproc|8710|||%% It's time to make the "
         "do-nuts."},
        {"<165>1 2003-10-11T22:14:15.003Z mymachine.example.com evntslog - ID47 [exampleSDID@32473 "
         "iut=\"3\" eventSource=\"Application\" eventID=\"1011\"] \xEF\xBB\xBF"
         "An application event log entry...",
         "20|5|2003-10-11T22:14:15.003000Z|mymachine.example.com|evntslog||ID47|[exampleSDID@32473 "
         "iut=3 eventSource=Application eventID=1011]|An application event log entry..."},
        {"<165>1 2003-10-11T22:14:15.003Z mymachine.example.com evntslog - ID47 [exampleSDID@32473 "
         "iut=\"3\" eventSource=\"Application\" eventID=\"1011\"][examplePriority@32473 "
         "class=\"high\"]",
         "20|5|2003-10-11T22:14:15.003000Z|mymachine.example.com|evntslog||ID47|[exampleSDID@32473 "
         "iut=3 eventSource=Application eventID=1011][examplePriority@32473 class=high]|"},
        /* every header field NILVALUE */
        {"<14>1 - - - - - -", "1|6|-||||||"},
        {"<14>1 - - - - - - hello", "1|6|-||||||hello"},
        /* logger --rfc5424 */
        {"<13>1 2024-03-10T11:59:58.123456+00:00 web01 alice - - [timeQuality tzKnown=\"1\" "
         "isSynced=\"1\" syncAccuracy=\"519500\"] test message 42",
         "1|5|2024-03-10T11:59:58.123456Z|web01|alice|||[timeQuality tzKnown=1 isSynced=1 "
         "syncAccuracy=519500]|test message 42"},
        /* escapes in SD values */
        {"<13>1 2024-03-10T11:00:00Z h a p m [x@1 q=\"a\\\"b\" b=\"c\\\\d\" r=\"e\\]f\" "
         "o=\"g\\nh\"] m",
         "1|5|2024-03-10T11:00:00.000000Z|h|a|p|m|[x@1 q=a\"b b=c\\d r=e]f o=g\\nh]|m"},
        /* empty SD element, empty value */
        {"<13>1 2024-03-10T11:00:00Z h a p m [e][f v=\"\"] x",
         "1|5|2024-03-10T11:00:00.000000Z|h|a|p|m|[e][f v=]|x"},
        /* zone offsets, fractions of 1 and 9 digits, lower-case t/z */
        {"<0>1 2024-02-29T23:30:00.5+05:30 h - - - -", "0|0|2024-02-29T18:00:00.500000Z|h|||||"},
        {"<191>1 2024-03-10t01:02:03.123456789z h - - - - x",
         "23|7|2024-03-10T01:02:03.123456Z|h|||||x"},
        /* a trailing newline (octet-counted frames from some senders) */
        {"<13>1 - h a - - - line\r\n", "1|5|-|h|a||||line"},
        /* UTF-8 message */
        {"<13>1 - h a - - - caf\xC3\xA9 \xE2\x82\xAC", "1|5|-|h|a||||caf\xC3\xA9 \xE2\x82\xAC"},
        /* malformed: kept whole, reason and offset */
        {"<13>1 2024-13-10T11:00:00Z h a p m - x",
         "ERR 1|5 RFC 5424: invalid timestamp @6 | <13>1 2024-13-10T11:00:00Z h a p m - x"},
        {"<13>1 2024-03-10T11:00:00Z h a p m [x@1 a=\"1\" x",
         "ERR 1|5 structured data: '=' expected @47 | <13>1 2024-03-10T11:00:00Z h a p m [x@1 "
         "a=\"1\" x"},
        {"<13>1 2024-03-10T11:00:00Z h a p m [x@1 a=\"1",
         "ERR 1|5 structured data: unterminated value @44 | <13>1 2024-03-10T11:00:00Z h a p m "
         "[x@1 a=\"1"},
        {"<13>1 2024-03-10T11:00:00Z h a p m [x@1 a=1]",
         "ERR 1|5 structured data: '\"' expected @42 | <13>1 2024-03-10T11:00:00Z h a p m [x@1 "
         "a=1]"},
        {"<13>1 2024-03-10T11:00:00Z h a p m [x@1 a=\"]\"]",
         "ERR 1|5 structured data: unescaped ']' in a value @43 | <13>1 2024-03-10T11:00:00Z h a p "
         "m [x@1 a=\"]\"]"},
        {"<13>1 2024-03-10T11:00:00Z h a p m x",
         "ERR 1|5 structured data: '[' or '-' expected @35 | <13>1 2024-03-10T11:00:00Z h a p m "
         "x"},
        {"<13>1 2024-03-10T11:00:00Z h a p m -x",
         "ERR 1|5 RFC 5424: space expected after structured data @36 | <13>1 "
         "2024-03-10T11:00:00Z h a p m -x"},
        {"<13>1 2024-03-10T11:00:00Z h a",
         "ERR 1|5 RFC 5424: procid expected @30 | <13>1 2024-03-10T11:00:00Z h a"},
        {"<13>1 2024-03-10T11:00:00 h a p m - x",
         "ERR 1|5 RFC 5424: invalid timestamp @6 | <13>1 2024-03-10T11:00:00 h a p m - x"},
        {"<13>1 2024-03-10T11:00:00Z h a p m [=\"x\"]",
         "ERR 1|5 structured data: name expected @36 | <13>1 2024-03-10T11:00:00Z h a p m "
         "[=\"x\"]"},
    };
    run_cases(cs, sizeof(cs) / sizeof(cs[0]), SL_SYSLOG_AUTO);
}

static void test_rfc3164(void **state)
{
    (void)state;
    static const struct tcase cs[] = {
        /* RFC 3164 5.4 examples */
        {"<34>Oct 11 22:14:15 mymachine su: 'su root' failed for lonvick on /dev/pts/8",
         "4|2|2023-10-11T22:14:15.000000Z|mymachine|su||||'su root' failed for lonvick on "
         "/dev/pts/8"},
        {"<13>Feb  5 17:32:18 10.0.0.99 Use the BFG!",
         "1|5|2024-02-05T17:32:18.000000Z|10.0.0.99|||||Use the BFG!"},
        /* rsyslog / logger with pid */
        {"<86>Mar 10 11:58:01 web01 sshd[4242]: Accepted publickey for bob from 10.1.2.3 port "
         "51234 ssh2",
         "10|6|2024-03-10T11:58:01.000000Z|web01|sshd|4242|||Accepted publickey for bob from "
         "10.1.2.3 port 51234 ssh2"},
        {"<30>Mar  9 06:25:01 host CRON[123]: (root) CMD (command -v debian-sa1)",
         "3|6|2024-03-09T06:25:01.000000Z|host|CRON|123|||(root) CMD (command -v debian-sa1)"},
        /* missing host: the first word is the tag */
        {"<13>Mar 10 11:00:00 sshd[12]: no host here",
         "1|5|2024-03-10T11:00:00.000000Z||sshd|12|||no host here"},
        {"<13>Mar 10 11:00:00 su: no host either",
         "1|5|2024-03-10T11:00:00.000000Z||su||||no host either"},
        /* no PRI */
        {"Mar 10 11:00:00 fw01 kernel: IN=eth0 OUT= SRC=10.0.0.1",
         "-1|-1|2024-03-10T11:00:00.000000Z|fw01|kernel||||IN=eth0 OUT= SRC=10.0.0.1"},
        /* ISO timestamp in the BSD position (rsyslog's RSYSLOG_ForwardFormat) */
        {"<13>2024-03-10T11:00:00.123456+01:00 web01 app[7]: iso",
         "1|5|2024-03-10T10:00:00.123456Z|web01|app|7|||iso"},
        /* year and fraction in the BSD timestamp */
        {"<13>Mar 10 2021 11:00:00 h a: y", "1|5|2021-03-10T11:00:00.000000Z|h|a||||y"},
        {"<13>Mar 10 11:00:00.250 h a: f", "1|5|2024-03-10T11:00:00.250000Z|h|a||||f"},
        /* Cisco IOS */
        {"<189>123: *Mar  1 18:46:11.123: %SYS-5-CONFIG_I: Configured from console by vty0",
         "23|5|2024-03-01T18:46:11.123000Z||%SYS-5-CONFIG_I||||Configured from console by vty0"},
        {"<189>52: router1: *Mar  1 18:46:11.123 UTC: %LINK-3-UPDOWN: Interface Gi0/1, changed "
         "state to up",
         "23|5|2024-03-01T18:46:11.123000Z|router1|%LINK-3-UPDOWN||||Interface Gi0/1, changed "
         "state to up"},
        {"<187>4711: .Mar  9 23:59:59: %SEC-6-IPACCESSLOGP: list 101 denied",
         "23|3|2024-03-09T23:59:59.000000Z||%SEC-6-IPACCESSLOGP||||list 101 denied"},
        /* no timestamp after PRI: the rest is the content */
        {"<13>hello world", "1|5|-||||||hello world"},
        {"<13>app: hello", "1|5|-||app||||hello"},
        /* "<13> Mar ..." with a space */
        {"<13> Mar 10 11:00:00 h a: sp", "1|5|2024-03-10T11:00:00.000000Z|h|a||||sp"},
        /* BOM in the message */
        {"<13>Mar 10 11:00:00 h a: \xEF\xBB\xBF"
         "bom",
         "1|5|2024-03-10T11:00:00.000000Z|h|a||||bom"},
        /* only a timestamp */
        {"<13>Mar 10 11:00:00", "1|5|2024-03-10T11:00:00.000000Z||||||"},
        /* tag without message */
        {"<13>Mar 10 11:00:00 h a:", "1|5|2024-03-10T11:00:00.000000Z|h|a||||"},
        /* malformed */
        {"hello world", "ERR -1|-1 not syslog: no PRI and no timestamp @0 | hello world"},
        {"<999>Mar 10 11:00:00 h a: x", "ERR -1|-1 invalid PRI @4 | <999>Mar 10 11:00:00 h a: x"},
        {"<192>x", "ERR -1|-1 invalid PRI @4 | <192>x"},
        {"<013>x", "ERR -1|-1 invalid PRI @4 | <013>x"},
        {"<13", "ERR -1|-1 invalid PRI @3 | <13"},
        {"<>x", "ERR -1|-1 invalid PRI @1 | <>x"},
        {"", "ERR -1|-1 not syslog: no PRI and no timestamp @0 | "},
        {"<13>Mar 10 11:00:00x", "ERR 1|5 RFC 3164: space expected after timestamp @19 | <13>Mar "
                                 "10 11:00:00x"},
    };
    run_cases(cs, sizeof(cs) / sizeof(cs[0]), SL_SYSLOG_AUTO);
}

static void test_forced(void **state)
{
    (void)state;
    static const struct tcase f5424[] = {
        {"<13>Mar 10 11:00:00 h a: x",
         "ERR 1|5 RFC 5424: version expected after PRI @4 | <13>Mar 10 11:00:00 h a: x"},
        {"Mar 10 11:00:00 h a: x", "ERR -1|-1 RFC 5424: PRI expected @0 | Mar 10 11:00:00 h a: x"},
        {"<13>1 - h a - - - ok", "1|5|-|h|a||||ok"},
    };
    run_cases(f5424, 3, SL_SYSLOG_RFC5424);
    static const struct tcase f3164[] = {
        /* "1" is then just the first word of the content */
        {"<13>1 - h a - - - ok", "1|5|-||||||1 - h a - - - ok"},
    };
    run_cases(f3164, 1, SL_SYSLOG_RFC3164);
}

static int64_t year_of(const char *line, int64_t now_ns, int days)
{
    static struct sl_syslog_msg m;
    struct sl_syslog_opts o = {.now_ns = now_ns, .future_days = days};
    assert_int_equal(sl_syslog_parse(line, strlen(line), &o, &m), 0);
    assert_true(m.has_ts);
    char ts[64];
    sl_clock_format_rfc3339(m.ts_ns, 0, ts, sizeof(ts));
    return strtol(ts, NULL, 10);
}

static void test_year_inference(void **state)
{
    (void)state;
    int64_t dec31 = (sl_syslog_days_from_civil(2023, 12, 31) * 86400 + 23 * 3600) * 1000000000LL;
    int64_t jan1 = (sl_syslog_days_from_civil(2024, 1, 1) * 86400 + 60) * 1000000000LL;
    /* a sender slightly ahead at New Year: next year */
    assert_int_equal(year_of("<13>Jan  1 00:00:05 h a: x", dec31, 0), 2024);
    /* a late message from last December read in January: last year */
    assert_int_equal(year_of("<13>Dec 31 23:59:59 h a: x", jan1, 0), 2023);
    /* a few days ahead is still this year; more is last year */
    assert_int_equal(year_of("<13>Mar 15 12:00:00 h a: x", NOW_NS, 7), 2024);
    assert_int_equal(year_of("<13>Mar 20 12:00:00 h a: x", NOW_NS, 7), 2023);
    assert_int_equal(year_of("<13>Mar 20 12:00:00 h a: x", NOW_NS, 14), 2024);
    /* Feb 29 read in 2025: the leap year before */
    int64_t in2025 = sl_syslog_days_from_civil(2025, 3, 10) * 86400 * 1000000000LL;
    assert_int_equal(year_of("<13>Feb 29 12:00:00 h a: x", in2025, 0), 2024);
    /* read in 2026: no leap year within one: not a timestamp, the text stays in the message */
    int64_t in2026 = sl_syslog_days_from_civil(2026, 6, 10) * 86400 * 1000000000LL;
    static struct sl_syslog_msg fm;
    struct sl_syslog_opts fo = {.now_ns = in2026};
    const char *feb = "<13>Feb 29 12:00:00 h a: x";
    assert_int_equal(sl_syslog_parse(feb, strlen(feb), &fo, &fm), 0);
    assert_false(fm.has_ts);
    assert_true(fm.msg.len == strlen(feb) - 4 && memcmp(fm.msg.ptr, feb + 4, fm.msg.len) == 0);
    /* zone offset of BSD timestamps */
    static struct sl_syslog_msg m;
    struct sl_syslog_opts o = {.now_ns = NOW_NS, .tz_offset_s = 3600};
    const char *l = "<13>Mar 10 11:00:00 h a: x";
    assert_int_equal(sl_syslog_parse(l, strlen(l), &o, &m), 0);
    char ts[64];
    sl_clock_format_rfc3339(m.ts_ns, 0, ts, sizeof(ts));
    assert_string_equal(ts, "2024-03-10T10:00:00Z");
}

static void test_limits(void **state)
{
    (void)state;
    static struct sl_syslog_msg m;
    struct sl_syslog_opts o = {.now_ns = NOW_NS, .max_len = 16};
    const char *l = "<13>1 - h a - - - a long message";
    assert_int_equal(sl_syslog_parse(l, strlen(l), &o, &m), SL_E2BIG);
    assert_true(m.parse_error);
    assert_int_equal(m.msg.len, 16);
    assert_int_equal(m.facility, 1);
    /* 33 SD elements */
    char buf[1024] = "<13>1 - h a - - ";
    size_t bl = strlen(buf);
    for (int i = 0; i < 33; i++, bl += 3)
        memcpy(buf + bl, "[e]", 4);
    o.max_len = 0;
    assert_int_equal(sl_syslog_parse(buf, strlen(buf), &o, &m), SL_EPARSE);
    assert_string_equal(m.error, "structured data: more than 32 elements");
    /* a 33-byte SD name */
    const char *n33 = "<13>1 - h a - - [abcdefghijabcdefghijabcdefghijabc] x";
    assert_int_equal(sl_syslog_parse(n33, strlen(n33), &o, &m), SL_EPARSE);
    assert_string_equal(m.error, "structured data: name longer than 32 bytes");
    /* names */
    assert_string_equal(sl_syslog_facility_name(4), "auth");
    assert_string_equal(sl_syslog_facility_name(23), "local7");
    assert_string_equal(sl_syslog_facility_name(24), "?");
    assert_string_equal(sl_syslog_severity_name(3), "err");
    assert_string_equal(sl_syslog_severity_name(-1), "?");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rfc5424), cmocka_unit_test(test_rfc3164),
        cmocka_unit_test(test_forced),  cmocka_unit_test(test_year_inference),
        cmocka_unit_test(test_limits),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
