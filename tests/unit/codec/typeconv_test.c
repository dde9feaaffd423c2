/*
 * typeconv_test.c — typed captures: type specs, ints/floats/bools/IPs, and timestamps
 * (automatic forms and strptime-like formats), checked against known epoch values.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "codec/typeconv.h"

#include <string.h>
#include <time.h>

static int64_t ts_auto(const char *s, int64_t now)
{
    int64_t v = 0;
    if (sl_typeconv_ts_auto(sl_str_c(s), now, &v))
        fail_msg("'%s' does not parse", s);
    return v;
}

static int64_t ts_fmt(const char *f, const char *s)
{
    int64_t v = 0;
    if (sl_typeconv_ts_format(f, sl_str_c(s), &v))
        fail_msg("'%s' with '%s' does not parse", s, f);
    return v;
}

#define NS 1000000000LL

static void test_timestamps(void **state)
{
    (void)state;
    /* 2000-10-10T20:55:36Z = 971211336 */
    assert_int_equal(ts_auto("2000-10-10T20:55:36Z", 0), 971211336 * NS);
    assert_int_equal(ts_auto("2000-10-10 13:55:36-07:00", 0), 971211336 * NS);
    assert_int_equal(ts_auto("2000-10-10T20:55:36.25+0000", 0), 971211336 * NS + 250000000);
    assert_int_equal(ts_auto("2000-10-10T20:55:36", 0), 971211336 * NS);
    assert_int_equal(ts_auto("10/Oct/2000:13:55:36 -0700", 0), 971211336 * NS);
    assert_int_equal(ts_auto("971211336", 0), 971211336 * NS);
    assert_int_equal(ts_auto("971211336000", 0), 971211336 * NS);
    assert_int_equal(ts_auto("2000-10-10", 0), 971136000 * NS);
    /* syslog: the year of now; a date more than a day ahead is last year's */
    int64_t now = 971211336 * NS;
    assert_int_equal(ts_auto("Oct 10 20:55:36", now), 971211336 * NS);
    assert_int_equal(ts_auto("Oct 10 20:55:36", now) - ts_auto("Dec 31 00:00:00", now) > 0, 1);
    int64_t v;
    assert_int_equal(sl_typeconv_ts_auto(sl_str_c("2000-13-10T00:00:00Z"), 0, &v), SL_EINVAL);
    assert_int_equal(sl_typeconv_ts_auto(sl_str_c("yesterday"), 0, &v), SL_EINVAL);
    assert_int_equal(sl_typeconv_ts_auto(sl_str_c("10/Oct/2000:13:55:36 -0700x"), 0, &v),
                     SL_EINVAL);
    assert_int_equal(ts_fmt("%d/%b/%Y:%H:%M:%S %z", "10/Oct/2000:13:55:36 -0700"), 971211336 * NS);
    assert_int_equal(ts_fmt("%Y-%m-%d %T.%f", "2000-10-10 20:55:36.5"), 971211336 * NS + NS / 2);
    assert_int_equal(ts_fmt("%F", "2000-10-10"), 971136000 * NS);
    assert_int_equal(ts_fmt("%s", "971211336.001"), 971211336 * NS + 1000000);
    assert_int_equal(ts_fmt("%a %B %e %T %Y", "Tue October 10 20:55:36 2000"), 971211336 * NS);
    assert_int_equal(ts_fmt("%%%Y", "%2000"), 946684800 * NS);
    assert_int_equal(sl_typeconv_ts_format("%Y-%m", sl_str_c("2000-10x"), &v), SL_EINVAL);
    assert_int_equal(sl_typeconv_ts_format("%Q", sl_str_c("x"), &v), SL_EINVAL);
    assert_int_equal(sl_typeconv_ts_format("%", sl_str_c(""), &v), SL_EINVAL);
    assert_int_equal(sl_typeconv_days_from_civil(1970, 1, 1), 0);
    assert_int_equal(sl_typeconv_days_from_civil(2000, 3, 1), 11017);
}

static void test_types(void **state)
{
    (void)state;
    struct sl_typeconv t;
    struct sl_diag d;
    struct sl_value v;
    sl_diag_init(&d);
    assert_int_equal(sl_typeconv_parse("int", &t, &d), 0);
    assert_int_equal(sl_typeconv_apply(&t, sl_str_c("-12"), &v), 0);
    assert_int_equal(v.type, SL_V_INT);
    assert_int_equal(v.u.i, -12);
    assert_int_equal(sl_typeconv_apply(&t, sl_str_c("12a"), &v), SL_EINVAL);
    assert_int_equal(sl_typeconv_apply(&t, sl_str_c("99999999999999999999"), &v), SL_EINVAL);
    assert_int_equal(sl_typeconv_parse("float", &t, &d), 0);
    assert_int_equal(sl_typeconv_apply(&t, sl_str_c("1.5"), &v), 0);
    assert_true(v.type == SL_V_DOUBLE && v.u.d == 1.5);
    assert_int_equal(sl_typeconv_parse("boolean", &t, &d), 0);
    assert_int_equal(sl_typeconv_apply(&t, sl_str_c("Yes"), &v), 0);
    assert_true(v.type == SL_V_BOOL && v.u.b);
    assert_int_equal(sl_typeconv_apply(&t, sl_str_c("OFF"), &v), 0);
    assert_true(v.type == SL_V_BOOL && !v.u.b);
    assert_int_equal(sl_typeconv_apply(&t, sl_str_c("maybe"), &v), SL_EINVAL);
    assert_int_equal(sl_typeconv_parse("ip", &t, &d), 0);
    assert_int_equal(sl_typeconv_apply(&t, sl_str_c("2001:db8::1"), &v), 0);
    assert_int_equal(v.type, SL_V_IP);
    assert_int_equal(sl_typeconv_apply(&t, sl_str_c("10.0.0.300"), &v), SL_EINVAL);
    assert_int_equal(sl_typeconv_parse("timestamp:%Y", &t, &d), 0);
    assert_string_equal(t.fmt, "%Y");
    assert_int_equal(sl_typeconv_apply(&t, sl_str_c("1970"), &v), 0);
    assert_int_equal(v.type, SL_V_TS);
    sl_typeconv_fini(&t);
    assert_int_equal(sl_typeconv_parse("int:%Y", &t, &d), SL_EINVAL);
    assert_int_equal(sl_typeconv_parse("number", &t, &d), SL_EINVAL);
    assert_non_null(strstr(d.msg, "unknown type"));
}

/* `timestamp` on a syslog date (no year) takes the current year, as docs/components/parse.md
 * says, not 1970. */
static void test_syslog_date_current_year(void **state)
{
    (void)state;
    struct sl_typeconv t;
    struct sl_diag d;
    struct sl_value v;
    sl_diag_init(&d);
    assert_int_equal(sl_typeconv_parse("timestamp", &t, &d), 0);
    assert_int_equal(sl_typeconv_apply(&t, sl_str_c("Jan  1 00:00:00"), &v), 0);
    assert_int_equal(v.type, SL_V_TS);
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    int64_t y = tm.tm_year + 1900;
    /* Jan 1 of this year (or of next year in the last day of December, a day ahead) */
    int64_t want = sl_typeconv_days_from_civil(y, 1, 1) * 86400 * 1000000000LL;
    int64_t next = sl_typeconv_days_from_civil(y + 1, 1, 1) * 86400 * 1000000000LL;
    if (v.u.ts_ns != want && v.u.ts_ns != next)
        fail_msg("Jan  1 00:00:00 became %lld ns, not %lld", (long long)v.u.ts_ns, (long long)want);
    sl_typeconv_fini(&t);
}

/* A day past the end of its month is not a date (it used to roll into the next month). */
static void test_day_past_month_end(void **state)
{
    (void)state;
    int64_t v;
    assert_int_equal(sl_typeconv_ts_auto(sl_str_c("2023-02-31T00:00:00Z"), 0, &v), SL_EINVAL);
    assert_int_equal(sl_typeconv_ts_auto(sl_str_c("2023-04-31 10:00:00"), 0, &v), SL_EINVAL);
    assert_int_equal(sl_typeconv_ts_format("%Y-%m-%d", sl_str_c("2023-02-29"), &v), SL_EINVAL);
    assert_int_equal(sl_typeconv_ts_format("%Y-%m-%d", sl_str_c("2024-02-29"), &v), 0);
    assert_int_equal(v, sl_typeconv_days_from_civil(2024, 2, 29) * 86400 * 1000000000LL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_timestamps),
        cmocka_unit_test(test_types),
        cmocka_unit_test(test_syslog_date_current_year),
        cmocka_unit_test(test_day_past_month_end),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
