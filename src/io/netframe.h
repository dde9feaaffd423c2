/*
 * netframe.h — splitting a byte stream into syslog-style frames: LF lines, RFC 6587 octet
 * counting ("LEN SP MSG"), or either decided per frame (see netserver.h for the rules).
 *
 * One framer per connection, owned by the thread that feeds it. A frame that lies whole in
 * the bytes fed is passed to the callback as a view of them; a frame split across feeds is
 * assembled in the framer's carry buffer (at most max_frame bytes, allocated at first use).
 * Lines lose a trailing CR; empty lines are skipped; octet-counted frames are passed as
 * counted (even empty ones are skipped). A frame longer than max_frame is cut there
 * (SL_NETFRAME_TRUNCATED) and its rest skipped.
 */
#ifndef SL_IO_NETFRAME_H
#define SL_IO_NETFRAME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum sl_netserver_framing {
    SL_NETSERVER_AUTO,
    SL_NETSERVER_LF,
    SL_NETSERVER_OCTET,
    SL_NETSERVER_STREAM, /* no framing: the bytes as they come (netserver only) */
};

#define SL_NETFRAME_TRUNCATED 1u /* longer than max_frame: cut */
#define SL_NETFRAME_OCTET     2u /* came octet-counted */

/* One frame; a non-zero return stops feed() and is returned by it. */
typedef int (*sl_netframe_fn)(void *arg, const char *p, size_t n, unsigned flags);

struct sl_netframer {
    /* private */
    enum sl_netserver_framing mode;
    size_t max_frame;
    int st;
    uint32_t len_digits;
    size_t want;
    bool cut;
    char *carry;
    size_t carry_len;
};

/* mode: AUTO, LF or OCTET; max_frame 0: 64 KiB. */
void sl_netframer_init(struct sl_netframer *f, enum sl_netserver_framing mode, size_t max_frame);
void sl_netframer_fini(struct sl_netframer *f);
/* Frame p[0..n). 0, the callback's non-zero return, or SL_EPARSE (OCTET mode: a frame that
 * does not start with a count; the stream cannot be resynchronised: close it). */
int sl_netframer_feed(struct sl_netframer *f, const char *p, size_t n, sl_netframe_fn fn,
                      void *arg);
/* End of stream: a last line without newline is a frame; an octet-counted frame cut short
 * is passed with what arrived, flagged TRUNCATED. Returns the bytes an octet frame still
 * missed (0: none), for a warning. */
size_t sl_netframer_eof(struct sl_netframer *f, sl_netframe_fn fn, void *arg);

#endif
