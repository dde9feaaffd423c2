/*
 * netframe.c — LF / octet-counted framing (see netframe.h).
 *
 * DESIGN: a state machine over the bytes of each feed: START (decide the framing of the next
 * frame), LEN (reading "LEN "), LINE (up to '\n'), SKIP_LINE (the rest of an over-long line),
 * OCTET (LEN bytes). memchr finds newlines; a whole frame is passed as a view of the input,
 * so the carry copy happens only for frames split across reads (one per read at most). The
 * digits of a count are kept in the carry buffer until the space, so in AUTO mode digits
 * that turn out not to be a count ("2024-..." lines) are still the start of the line.
 */
#include "io/netframe.h"

#include "base/alloc.h"
#include "base/err.h"

#include <string.h>

enum { FS_START, FS_LEN, FS_LINE, FS_SKIP_LINE, FS_OCTET };

void sl_netframer_init(struct sl_netframer *f, enum sl_netserver_framing mode, size_t max_frame)
{
    memset(f, 0, sizeof(*f));
    f->mode = mode;
    f->max_frame = max_frame ? max_frame : 64u * 1024u;
    f->st = FS_START;
}

void sl_netframer_fini(struct sl_netframer *f)
{
    sl_free(f->carry);
    f->carry = NULL;
}

static int deliver(const char *p, size_t n, unsigned flags, sl_netframe_fn fn, void *arg)
{
    if (!(flags & SL_NETFRAME_OCTET) && n && p[n - 1] == '\r')
        n--;
    if (!n)
        return 0; /* an empty line or frame */
    return fn(arg, p, n, flags);
}

/* append to the carry buffer up to max_frame; false when it had to cut */
static bool carry(struct sl_netframer *f, const char *p, size_t n)
{
    if (!f->carry)
        f->carry = sl_xmalloc(f->max_frame);
    size_t room = f->max_frame - f->carry_len;
    size_t take = n < room ? n : room;
    memcpy(f->carry + f->carry_len, p, take);
    f->carry_len += take;
    return take == n;
}

int sl_netframer_feed(struct sl_netframer *f, const char *p, size_t n, sl_netframe_fn fn, void *arg)
{
    size_t i = 0;
    int rc = 0;
    while (i < n && !rc) {
        switch (f->st) {
        case FS_START:
            f->carry_len = 0;
            f->cut = false;
            if (f->mode == SL_NETSERVER_LF ||
                (f->mode == SL_NETSERVER_AUTO && (p[i] < '1' || p[i] > '9'))) {
                f->st = FS_LINE;
            } else {
                f->st = FS_LEN;
                f->len_digits = 0;
                f->want = 0;
            }
            break;
        case FS_LEN: {
            char ch = p[i];
            if (ch >= '0' && ch <= '9' && f->len_digits < 9) {
                f->want = f->want * 10 + (size_t)(ch - '0');
                f->len_digits++;
                if (!carry(f, p + i, 1)) /* kept in case it turns out to be a line */
                    f->cut = true;
                i++;
            } else if (ch == ' ' && f->len_digits > 0) {
                i++;
                f->carry_len = 0;
                f->cut = false;
                f->st = f->want ? FS_OCTET : FS_START; /* "0 ": an empty frame */
            } else if (f->mode == SL_NETSERVER_AUTO) {
                f->st = FS_LINE; /* digits that were not a count: the start of a line */
            } else {
                return SL_EPARSE;
            }
            break;
        }
        case FS_LINE: {
            const char *nl = memchr(p + i, '\n', n - i);
            if (!nl) {
                if (!carry(f, p + i, n - i) || f->cut) {
                    rc = deliver(f->carry, f->carry_len, SL_NETFRAME_TRUNCATED, fn, arg);
                    f->st = FS_SKIP_LINE;
                }
                i = n;
                break;
            }
            size_t j = (size_t)(nl - p);
            if (!f->carry_len) {
                size_t len = j - i;
                unsigned fl = 0;
                if (len > f->max_frame) {
                    len = f->max_frame;
                    fl = SL_NETFRAME_TRUNCATED;
                }
                rc = deliver(p + i, len, fl, fn, arg);
            } else {
                bool whole = carry(f, p + i, j - i) && !f->cut;
                rc = deliver(f->carry, f->carry_len, whole ? 0 : SL_NETFRAME_TRUNCATED, fn, arg);
            }
            i = j + 1;
            f->st = FS_START;
            break;
        }
        case FS_SKIP_LINE: {
            const char *nl = memchr(p + i, '\n', n - i);
            i = nl ? (size_t)(nl - p) + 1 : n;
            if (nl)
                f->st = FS_START;
            break;
        }
        case FS_OCTET: {
            size_t avail = n - i;
            size_t take = avail < f->want ? avail : f->want;
            if (!f->carry_len && !f->cut && take == f->want && take <= f->max_frame) {
                rc = deliver(p + i, take, SL_NETFRAME_OCTET, fn, arg);
            } else {
                if (!f->cut && !carry(f, p + i, take))
                    f->cut = true;
                if (take == f->want)
                    rc = deliver(f->carry, f->carry_len,
                                 SL_NETFRAME_OCTET | (f->cut ? SL_NETFRAME_TRUNCATED : 0), fn, arg);
            }
            f->want -= take;
            i += take;
            if (!f->want)
                f->st = FS_START;
            break;
        }
        }
    }
    return rc;
}

size_t sl_netframer_eof(struct sl_netframer *f, sl_netframe_fn fn, void *arg)
{
    size_t missing = 0;
    if ((f->st == FS_LINE || f->st == FS_LEN) && f->carry_len) {
        deliver(f->carry, f->carry_len, f->cut ? SL_NETFRAME_TRUNCATED : 0, fn, arg);
    } else if (f->st == FS_OCTET && (f->carry_len || f->cut)) {
        missing = f->want;
        deliver(f->carry, f->carry_len, SL_NETFRAME_OCTET | SL_NETFRAME_TRUNCATED, fn, arg);
    }
    f->st = FS_START;
    f->carry_len = 0;
    f->cut = false;
    return missing;
}
