/*
 * clock.h — monotonic and wall clocks in nanoseconds.
 */
#ifndef SL_BASE_CLOCK_H
#define SL_BASE_CLOCK_H

#include <stddef.h>
#include <stdint.h>

int64_t sl_clock_mono_ns(void);
int64_t sl_clock_wall_ns(void);
/* RFC 3339 UTC with the given fraction digits (0, 3, 6 or 9): "2024-01-02T03:04:05.678Z". */
size_t sl_clock_format_rfc3339(int64_t wall_ns, int frac_digits, char *out, size_t out_len);

#endif
