/*
 * log.h — logfmt logger with levels, to stderr.
 *
 * Lines look like: ts=2024-01-02T03:04:05.678Z level=warn comp=in_tcp msg="..." k=v
 * Thread-safe (one write(2) per line). sl_log_ratelimited() lets a hot path report bad
 * records without flooding: at most `per_sec` lines a second per call site.
 */
#ifndef SL_BASE_LOG_H
#define SL_BASE_LOG_H

#include <stdint.h>

enum sl_log_level { SL_LOG_DEBUG, SL_LOG_INFO, SL_LOG_WARN, SL_LOG_ERROR, SL_LOG_OFF };

void sl_log_set_level(enum sl_log_level lvl);
enum sl_log_level sl_log_get_level(void);
/* Parse "debug|info|warn|error|off"; -1 when unknown. */
int sl_log_level_parse(const char *s);
/* `comp` may be NULL. `fmt` renders the message; logfmt quoting is applied to it. */
void sl_log(enum sl_log_level lvl, const char *comp, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

struct sl_log_limit {
    int64_t window_start_ns;
    uint32_t count;
    uint32_t suppressed;
};
/* Logs unless `per_sec` lines already went out in this second; reports suppressed counts. */
void sl_log_ratelimited(struct sl_log_limit *lim, uint32_t per_sec, enum sl_log_level lvl,
                        const char *comp, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

#define sl_debug(comp, ...) sl_log(SL_LOG_DEBUG, comp, __VA_ARGS__)
#define sl_info(comp, ...)  sl_log(SL_LOG_INFO, comp, __VA_ARGS__)
#define sl_warn(comp, ...)  sl_log(SL_LOG_WARN, comp, __VA_ARGS__)
#define sl_error(comp, ...) sl_log(SL_LOG_ERROR, comp, __VA_ARGS__)

/* Invariant checks that stay on in release builds. */
#define sl_assert(cond) ((cond) ? (void)0 : sl_assert_fail(#cond, __FILE__, __LINE__))
#ifdef NDEBUG
#define sl_debug_assert(cond) ((void)0)
#else
#define sl_debug_assert(cond) sl_assert(cond)
#endif
_Noreturn void sl_assert_fail(const char *what, const char *file, int line);

#endif
