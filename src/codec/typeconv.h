/*
 * typeconv.h — typed captures: turn a captured piece of text into an int, a double, a bool,
 * an IP address or a timestamp, as the parse transform's `types:` and grok's
 * `%{NAME:field:type}` ask. Pure functions; thread-safe.
 */
#ifndef SL_CODEC_TYPECONV_H
#define SL_CODEC_TYPECONV_H

#include "base/err.h"
#include "base/str.h"
#include "core/value.h"

#include <stdbool.h>
#include <stdint.h>

enum sl_typeconv_kind {
    SL_TC_STRING,
    SL_TC_INT,
    SL_TC_FLOAT,
    SL_TC_BOOL,
    SL_TC_IP,
    SL_TC_TIMESTAMP,
};

struct sl_typeconv {
    enum sl_typeconv_kind kind;
    char *fmt; /* timestamp:<fmt>; NULL: automatic */
};

/* Parse a type spec ("int", "integer", "float", "double", "bool", "boolean", "ip", "string",
 * "timestamp", "timestamp:%Y-%m-%d"). 0, or SL_EINVAL with d->msg. Caller: sl_typeconv_fini. */
int sl_typeconv_parse(const char *spec, struct sl_typeconv *out, struct sl_diag *d);
void sl_typeconv_fini(struct sl_typeconv *t);
/* Name of the kind ("int") for messages. */
const char *sl_typeconv_name(enum sl_typeconv_kind k);

/* Convert s. SL_TC_STRING gives a view of s itself; a `timestamp` syslog date takes the year
 * of the wall clock. 0, or SL_EINVAL (does not convert). */
int sl_typeconv_apply(const struct sl_typeconv *t, struct sl_str s, struct sl_value *out);

/*
 * Timestamps to ns since the epoch (UTC). Automatic: RFC 3339 / ISO 8601 (`T` or space,
 * optional fraction and zone, no zone = UTC), HTTPDATE `10/Oct/2000:13:55:36 -0700`, syslog
 * `Oct 10 13:55:36` (year of `now_ns`; a date more than a day ahead of it is taken as last
 * year), digits: epoch seconds (<= 1e11), ms (<= 1e14), µs (<= 1e17), else ns.
 */
int sl_typeconv_ts_auto(struct sl_str s, int64_t now_ns, int64_t *out);
/* strptime-like: %Y %m %d %e %H %M %S %f (1-9 fraction digits) %b/%h (month name, English,
 * 3+ letters or full) %a (day name, skipped) %z (Z, +hh, +hhmm, +hh:mm) %s (epoch seconds,
 * optional fraction) %T (%H:%M:%S) %F (%Y-%m-%d) %% ; a space in the format matches any run
 * of spaces; every other byte matches itself. Missing year: 1970; the whole input must be
 * consumed. 0 or SL_EINVAL. */
int sl_typeconv_ts_format(const char *fmt, struct sl_str s, int64_t *out);

/* Days since 1970-01-01 of a proleptic Gregorian date. */
int64_t sl_typeconv_days_from_civil(int64_t y, unsigned m, unsigned d);

#endif
