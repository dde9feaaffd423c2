/*
 * window.h — Metron's profiler-client window selector language (Window.g4), as used by
 * PROFILE_WINDOW: "30 minute window every 1 hour from 3 hours ago excluding weekends".
 *
 * A selector is parsed once into a `struct sl_window`; sl_window_intervals() turns it into
 * the intervals [left, left + width] (both ends inclusive) that it selects relative to a
 * "now". Days (weekdays, weekends, day names, `this day of week`, `date:`) are computed in
 * UTC (Metron uses the JVM's default time zone, which is UTC on its servers). `holidays` is
 * refused at parse time: sluice has no holiday calendar. Every function is thread-safe; a
 * parsed window is immutable.
 */
#ifndef SL_STATE_WINDOW_H
#define SL_STATE_WINDOW_H

#include "base/err.h"

#include <stddef.h>
#include <stdint.h>

struct sl_window;

#define SL_WINDOW_MAX_INTERVALS 100000 /* sl_window_intervals: more is SL_E2BIG */

/* Parse src[0..len). 0, or SL_EPARSE with d->col (1-based column in src) and d->msg, or
 * SL_EINVAL for a valid selector that sluice does not support (holidays). *out is owned by
 * the caller (sl_window_free). */
int sl_window_parse(const char *src, size_t len, struct sl_window **out, struct sl_diag *d);
void sl_window_free(struct sl_window *w);

struct sl_window_interval {
    int64_t start_ms, end_ms; /* inclusive */
};

/* The overall range [*start_ms, *end_ms] and the selected intervals for `now_ms`, in
 * increasing order, in a new array (*out, sl_free it; NULL when *count is 0). 0, SL_ENOMEM,
 * SL_E2BIG (more than SL_WINDOW_MAX_INTERVALS). */
int sl_window_intervals(const struct sl_window *w, int64_t now_ms, int64_t *start_ms,
                        int64_t *end_ms, struct sl_window_interval **out, size_t *count);

#endif
