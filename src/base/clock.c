/*
 * clock.c — clocks (see clock.h).
 */
#include "base/clock.h"

#include <stdio.h>
#include <time.h>

int64_t sl_clock_mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int64_t sl_clock_wall_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* Days since 1970-01-01 to a civil date (Howard Hinnant's algorithm). */
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

static char *digits2(char *o, unsigned v)
{
    o[0] = (char)('0' + v / 10);
    o[1] = (char)('0' + v % 10);
    return o + 2;
}

static size_t format_slow(int64_t sec, int64_t ns, int frac_digits, char *out, size_t out_len)
{
    time_t t = (time_t)sec;
    struct tm tm;
    gmtime_r(&t, &tm);
    int n;
    switch (frac_digits) {
    case 3:
        n = snprintf(out, out_len, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                     tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                     (int)(ns / 1000000));
        break;
    case 6:
        n = snprintf(out, out_len, "%04d-%02d-%02dT%02d:%02d:%02d.%06dZ", tm.tm_year + 1900,
                     tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (int)(ns / 1000));
        break;
    case 9:
        n = snprintf(out, out_len, "%04d-%02d-%02dT%02d:%02d:%02d.%09dZ", tm.tm_year + 1900,
                     tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (int)ns);
        break;
    default:
        n = snprintf(out, out_len, "%04d-%02d-%02dT%02d:%02d:%02dZ", tm.tm_year + 1900,
                     tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
        break;
    }
    return n < 0 ? 0 : (size_t)n;
}

/*
 * The same text as gmtime_r + snprintf, written digit by digit: the JSON writer formats a
 * timestamp per event, and gmtime_r (zone lock, __tz_convert) plus vfprintf were 12% of a
 * syslog tcp -> file run (perf, bench_syslog.sh). Years outside 0..9999 and short buffers
 * take the snprintf path, whose output (and return value) this matches.
 */
size_t sl_clock_format_rfc3339(int64_t wall_ns, int frac_digits, char *out, size_t out_len)
{
    int64_t sec = wall_ns / 1000000000;
    int64_t ns = wall_ns % 1000000000;
    if (ns < 0) {
        ns += 1000000000;
        sec--;
    }
    int fd = frac_digits == 3 || frac_digits == 6 || frac_digits == 9 ? frac_digits : 0;
    size_t need = 20 + (fd ? (size_t)fd + 1 : 0);
    int64_t days = sec / 86400, sod = sec % 86400;
    if (sod < 0) {
        sod += 86400;
        days--;
    }
    int64_t y;
    unsigned mo, d;
    civil_from_days(days, &y, &mo, &d);
    if (y < 0 || y > 9999 || out_len <= need)
        return format_slow(sec, ns, frac_digits, out, out_len);
    char *o = out;
    o = digits2(o, (unsigned)(y / 100));
    o = digits2(o, (unsigned)(y % 100));
    *o++ = '-';
    o = digits2(o, mo);
    *o++ = '-';
    o = digits2(o, d);
    *o++ = 'T';
    o = digits2(o, (unsigned)(sod / 3600));
    *o++ = ':';
    o = digits2(o, (unsigned)(sod / 60 % 60));
    *o++ = ':';
    o = digits2(o, (unsigned)(sod % 60));
    if (fd) {
        *o++ = '.';
        unsigned f = (unsigned)(fd == 3 ? ns / 1000000 : fd == 6 ? ns / 1000 : ns);
        for (int i = fd - 1; i >= 0; i--) {
            o[i] = (char)('0' + f % 10);
            f /= 10;
        }
        o += fd;
    }
    *o++ = 'Z';
    *o = 0;
    return (size_t)(o - out);
}
