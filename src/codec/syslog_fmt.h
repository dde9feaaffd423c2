/*
 * syslog_fmt.h — syslog message formatting (the `syslog` sink's wire format; the parser is
 * codec/syslog.h): RFC 5424 and RFC 3164 headers, dataShark's bare `<PRI>MSG`, and the
 * RFC 6587 framings for stream transports (octet counting, LF). No I/O.
 *
 * Threads: pure functions, any thread.
 */
#ifndef SL_CODEC_SYSLOG_FMT_H
#define SL_CODEC_SYSLOG_FMT_H

#include "base/buf.h"
#include "base/str.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum sl_syslog_fmt { SL_SYSLOG_FMT_5424, SL_SYSLOG_FMT_3164, SL_SYSLOG_FMT_BARE };

/* What goes into every header besides PRI and the time. Strings must be valid header tokens
 * (sl_syslog_fmt_token_ok): printable US-ASCII without spaces; "-" or "" leaves a 5424 field
 * out (NILVALUE). */
struct sl_syslog_hdr {
    enum sl_syslog_fmt fmt;
    int facility; /* 0..23 */
    const char *hostname;
    const char *app_name;
    const char *procid;
    const char *msgid; /* 5424 only */
};

/* Facility by number ("13") or name ("local0", "security"): 0..23, or SL_EINVAL. */
int sl_syslog_facility_parse(struct sl_str s, int *out);
/* Severity by number ("6") or name ("info", "warning"): 0..7, or SL_EINVAL. */
int sl_syslog_severity_parse(struct sl_str s, int *out);
/* True when s is a valid header token of at most max_len bytes (printable ASCII 33..126). */
bool sl_syslog_fmt_token_ok(const char *s, size_t max_len);

/*
 * Append the header for a message of `severity` (0..7) at wall time ts_ns:
 *   5424: "<PRI>1 2024-01-02T03:04:05.678901Z HOST APP PROCID MSGID - "
 *   3164: "<PRI>Jan  2 03:04:05 HOST APP[PROCID]: " (local time; no [PROCID] when "-"/"")
 *   bare: "<PRI>"
 * 0, SL_E2BIG or SL_ENOMEM (out unchanged on error).
 */
int sl_syslog_fmt_header(struct sl_buf *out, const struct sl_syslog_hdr *h, int severity,
                         int64_t ts_ns);

/* Length of the longest prefix of p[0..n) of at most max bytes that does not cut a UTF-8
 * sequence (for truncation). */
size_t sl_syslog_fmt_utf8_cut(const char *p, size_t n, size_t max);

/* Frame one message for a stream: octet counting "LEN SP MSG", or MSG with each LF (and CR)
 * replaced by a space, then LF. 0, SL_E2BIG or SL_ENOMEM (out unchanged on error). */
int sl_syslog_fmt_frame(struct sl_buf *out, bool octet_counting, const char *msg, size_t n);

#endif
