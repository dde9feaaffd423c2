/*
 * clock_test.c — the RFC 3339 formatter against gmtime_r + snprintf (what it replaced) over
 * boundaries, leap days, negative times, the ends of the int64 range, every fraction width and
 * short buffers; and that the clocks move.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "base/clock.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static size_t reference(int64_t wall_ns, int fd, char *out, size_t len)
{
    int64_t sec = wall_ns / 1000000000, ns = wall_ns % 1000000000;
    if (ns < 0) {
        ns += 1000000000;
        sec--;
    }
    time_t t = (time_t)sec;
    struct tm tm;
    gmtime_r(&t, &tm);
    int n;
    if (fd == 3)
        n = snprintf(out, len, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                     tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                     (int)(ns / 1000000));
    else if (fd == 6)
        n = snprintf(out, len, "%04d-%02d-%02dT%02d:%02d:%02d.%06dZ", tm.tm_year + 1900,
                     tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (int)(ns / 1000));
    else if (fd == 9)
        n = snprintf(out, len, "%04d-%02d-%02dT%02d:%02d:%02d.%09dZ", tm.tm_year + 1900,
                     tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (int)ns);
    else
        n = snprintf(out, len, "%04d-%02d-%02dT%02d:%02d:%02dZ", tm.tm_year + 1900, tm.tm_mon + 1,
                     tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
    return (size_t)n;
}

static void same(int64_t ns, int fd, size_t len)
{
    char a[64], b[64];
    memset(a, 'x', sizeof(a));
    memset(b, 'x', sizeof(b));
    size_t na = sl_clock_format_rfc3339(ns, fd, a, len);
    size_t nb = reference(ns, fd, b, len);
    if (na != nb || (len && strcmp(a, b) != 0)) {
        fprintf(stderr, "ns=%lld fd=%d len=%zu: got %zu '%s', want %zu '%s'\n", (long long)ns, fd,
                len, na, a, nb, b);
        fail();
    }
}

static void test_format(void **state)
{
    (void)state;
    const int64_t S = 1000000000LL;
    const int64_t cases[] = {0,
                             1,
                             -1,
                             999999999,
                             -S,
                             951782400LL * S,             /* 2000-02-29 */
                             951868799LL * S + 999999999, /* 2000-02-29T23:59:59.999999999 */
                             1709251199LL * S,            /* 2024-02-29T23:59:59 */
                             4102444800LL * S,            /* 2100-01-01 */
                             7258118399LL * S,            /* 2199-12-31T23:59:59 */
                             INT64_MAX,
                             INT64_MIN + 1,
                             -5364662400LL * S}; /* 1800-01-01 */
    const int fds[] = {0, 3, 6, 9, 2};
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        for (size_t j = 0; j < 5; j++) {
            same(cases[i], fds[j], 64);
            same(cases[i], fds[j], 20);
            same(cases[i], fds[j], 21);
            same(cases[i], fds[j], 31);
        }
    srand(7);
    for (int i = 0; i < 200000; i++) {
        int64_t ns =
            ((int64_t)rand() << 31 | rand()) % (180LL * 365 * 86400 * S) - (80LL * 365 * 86400 * S);
        same(ns, fds[i % 4], 64);
    }
}

static void test_clocks(void **state)
{
    (void)state;
    int64_t a = sl_clock_mono_ns(), w = sl_clock_wall_ns();
    assert_true(a > 0);
    assert_true(w > 1600000000LL * 1000000000LL);
    assert_true(sl_clock_mono_ns() >= a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_format),
                                       cmocka_unit_test(test_clocks)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
