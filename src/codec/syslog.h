/*
 * syslog.h — RFC 3164 ("BSD") and RFC 5424 syslog messages into fields, without copying.
 *
 * One call parses one message (a line or an octet-counted frame, without its framing) into a
 * struct sl_syslog_msg whose strings are views into the input. Nothing is allocated; the
 * caller keeps the input alive as long as it uses the views (the syslog source copies each
 * frame into the batch arena first). The only field that may need rewriting is an SD
 * parameter value with escapes (\" \\ \]): such values are flagged `escaped` and
 * sl_syslog_sd_unescape() writes the plain text into caller memory.
 *
 * Format: SL_SYSLOG_AUTO takes "<PRI>1 " (a version digit after the PRI) as RFC 5424 and
 * anything else as RFC 3164; a forced format never tries the other one.
 *
 * RFC 3164 as found in the wild: "<PRI>Mmm dd hh:mm:ss HOST TAG[PID]: MSG", with or without
 * PRI, without HOST (a first word ending in ':' or holding '[' is the tag), with an ISO 8601 /
 * RFC 3339 timestamp instead of the BSD one, with a year ("Mmm dd yyyy hh:mm:ss") or a
 * fraction (".123"), and Cisco IOS's "<PRI>SEQ: [HOST:] [*.]Mmm dd hh:mm:ss.fff [UTC]: %TAG: MSG".
 * The BSD timestamp has no year and no zone: it is read as UTC (or opts->tz_offset_s) in the
 * year that puts it at most opts->future_days after opts->now_ns; a date further ahead belongs
 * to the previous year (rsyslog does the same), and one more than a year minus future_days
 * back to the next (a December sender's clock a little ahead at New Year).
 *
 * Malformed input is never refused: the result has parse_error set, `error` (a static
 * reason) and `error_offset` (byte where parsing stopped), `msg` the whole raw input (less a
 * trailing CR/LF), and only the PRI fields if they parsed. Input longer than opts->max_len is
 * an error too (msg is then the first max_len bytes).
 *
 * Thread-safe: no global state.
 */
#ifndef SL_CODEC_SYSLOG_H
#define SL_CODEC_SYSLOG_H

#include "base/str.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum sl_syslog_format { SL_SYSLOG_AUTO, SL_SYSLOG_RFC3164, SL_SYSLOG_RFC5424 };

#define SL_SYSLOG_MAX_SD_ELEMS  32u
#define SL_SYSLOG_MAX_SD_PARAMS 128u

struct sl_syslog_opts {
    enum sl_syslog_format format;
    int64_t now_ns;      /* "now" for the year of BSD timestamps (wall clock, UTC ns) */
    int32_t future_days; /* 0: 7 */
    int32_t tz_offset_s; /* zone of BSD timestamps, seconds east of UTC (0: UTC) */
    size_t max_len;      /* 0: no limit */
};

struct sl_syslog_sd_param {
    struct sl_str name;
    struct sl_str value; /* raw, between the quotes */
    bool escaped;        /* value holds a backslash: see sl_syslog_sd_unescape() */
};

struct sl_syslog_sd_elem {
    struct sl_str id;
    uint32_t first; /* index into params */
    uint32_t count;
};

struct sl_syslog_msg {
    enum sl_syslog_format format; /* what was parsed (RFC3164 for errors) */
    int16_t facility;             /* 0..23, -1: no PRI */
    int16_t severity;             /* 0..7, -1: no PRI */
    bool has_ts;
    int64_t ts_ns;         /* UTC ns since the epoch */
    struct sl_str ts_text; /* the timestamp as written */
    struct sl_str host;    /* empty: absent or NILVALUE */
    struct sl_str app;     /* RFC 5424 APP-NAME, RFC 3164 TAG (without [pid] and ':') */
    struct sl_str procid;  /* RFC 5424 PROCID, RFC 3164 [pid] */
    struct sl_str msgid;   /* RFC 5424 only */
    struct sl_str sd_text; /* RFC 5424 STRUCTURED-DATA as written (empty for '-') */
    struct sl_str msg;     /* the message (UTF-8 BOM stripped) */
    uint32_t sd_count;     /* elements */
    uint32_t param_count;  /* parameters over all elements */
    bool parse_error;
    const char *error;     /* static reason, NULL when fine */
    uint32_t error_offset; /* byte offset in the input where parsing stopped */
    struct sl_syslog_sd_elem sd[SL_SYSLOG_MAX_SD_ELEMS];
    struct sl_syslog_sd_param params[SL_SYSLOG_MAX_SD_PARAMS];
};

/*
 * Parse p[0..n) into m (overwritten). Returns 0 when well-formed, SL_EPARSE (or SL_E2BIG
 * past max_len) when m->parse_error was set; m is usable in both cases. o may be NULL
 * (auto, no year reference: the BSD year is the current year of the system clock).
 */
int sl_syslog_parse(const char *p, size_t n, const struct sl_syslog_opts *o,
                    struct sl_syslog_msg *m);

/* Write the unescaped SD value (\" \\ \] become " \ ]; other backslashes stay) to out, which
 * has at least v.len bytes. Returns the length written. */
size_t sl_syslog_sd_unescape(struct sl_str v, char *out);

/* "kern", "user", ... "local7"; "?" out of range. */
const char *sl_syslog_facility_name(int facility);
/* "emerg", "alert", "crit", "err", "warning", "notice", "info", "debug"; "?" out of range. */
const char *sl_syslog_severity_name(int severity);

/* Days from 1970-01-01 to the given civil date (proleptic Gregorian). */
int64_t sl_syslog_days_from_civil(int64_t y, unsigned m, unsigned d);

#endif
