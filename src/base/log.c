/*
 * log.c — logfmt logger (see log.h).
 */
#include "base/log.h"

#include "base/clock.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static atomic_int cur_level = SL_LOG_INFO;
static const char *const names[] = {"debug", "info", "warn", "error", "off"};

void sl_log_set_level(enum sl_log_level lvl)
{
    atomic_store(&cur_level, (int)lvl);
}

enum sl_log_level sl_log_get_level(void)
{
    return (enum sl_log_level)atomic_load(&cur_level);
}

int sl_log_level_parse(const char *s)
{
    for (int i = 0; i <= SL_LOG_OFF; i++)
        if (strcmp(s, names[i]) == 0)
            return i;
    if (strcmp(s, "warning") == 0)
        return SL_LOG_WARN;
    return -1;
}

__attribute__((format(printf, 3, 0))) static void vlog(enum sl_log_level lvl, const char *comp,
                                                       const char *fmt, va_list ap)
{
    char msg[1024];
    vsnprintf(msg, sizeof(msg), fmt, ap);
    char line[2048];
    char ts[40];
    sl_clock_format_rfc3339(sl_clock_wall_ns(), 3, ts, sizeof(ts));
    size_t n = (size_t)snprintf(line, sizeof(line), "ts=%s level=%s", ts, names[lvl]);
    if (comp)
        n += (size_t)snprintf(line + n, sizeof(line) - n, " comp=%s", comp);
    n += (size_t)snprintf(line + n, sizeof(line) - n, " msg=\"");
    for (const char *p = msg; *p && n < sizeof(line) - 3; p++) {
        unsigned char c = (unsigned char)*p;
        if (c == '"' || c == '\\') {
            line[n++] = '\\';
            line[n++] = (char)c;
        } else if (c == '\n') {
            line[n++] = '\\';
            line[n++] = 'n';
        } else if (c < 0x20) {
            line[n++] = ' ';
        } else {
            line[n++] = (char)c;
        }
    }
    if (n > sizeof(line) - 3)
        n = sizeof(line) - 3;
    line[n++] = '"';
    line[n++] = '\n';
    ssize_t w = write(STDERR_FILENO, line, n);
    (void)w;
}

void sl_log(enum sl_log_level lvl, const char *comp, const char *fmt, ...)
{
    if ((int)lvl < atomic_load_explicit(&cur_level, memory_order_relaxed))
        return;
    va_list ap;
    va_start(ap, fmt);
    vlog(lvl, comp, fmt, ap);
    va_end(ap);
}

void sl_log_ratelimited(struct sl_log_limit *lim, uint32_t per_sec, enum sl_log_level lvl,
                        const char *comp, const char *fmt, ...)
{
    if ((int)lvl < atomic_load_explicit(&cur_level, memory_order_relaxed))
        return;
    int64_t now = sl_clock_mono_ns();
    if (now - lim->window_start_ns >= 1000000000) {
        if (lim->suppressed)
            sl_log(lvl, comp, "%u similar messages suppressed", lim->suppressed);
        lim->window_start_ns = now;
        lim->count = 0;
        lim->suppressed = 0;
    }
    if (lim->count >= per_sec) {
        lim->suppressed++;
        return;
    }
    lim->count++;
    va_list ap;
    va_start(ap, fmt);
    vlog(lvl, comp, fmt, ap);
    va_end(ap);
}

void sl_assert_fail(const char *what, const char *file, int line)
{
    fprintf(stderr, "sluice: assertion failed: %s (%s:%d)\n", what, file, line);
    abort();
}
