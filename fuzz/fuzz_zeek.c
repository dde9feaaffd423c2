/*
 * fuzz_zeek.c — libFuzzer target for the Zeek log reader (codec/zeek.h).
 *
 * The input is split into lines and fed to one parser state, as the file source does; the
 * first byte picks the file name that types the log (conn, http, an unknown path). A line
 * that fails must append nothing and say why; a line that succeeds appends at most one event,
 * and every event must encode as a network-event FlatBuffer when the log is typed and its
 * fields fit (no crash either way).
 */
#include "base/alloc.h"
#include "base/buf.h"
#include "codec/netevent.h"
#include "codec/zeek.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int inited;
    if (!inited) {
        sl_core_init();
        inited = 1;
    }
    static const char *const names[] = {"conn.log", "http.json", "/x/smb_files.00:00.log",
                                        "weird.txt"};
    const char *where = names[size ? data[0] % 4 : 0];
    struct sl_zeek *z = sl_zeek_new(where);
    struct sl_batch *b = sl_batch_new();
    size_t pos = size ? 1 : 0;
    while (pos < size) {
        const uint8_t *nl = memchr(data + pos, '\n', size - pos);
        size_t n = nl ? (size_t)(nl - (data + pos)) : size - pos;
        /* owned by the batch, as the line reader's copy is (strings may view it), and a
         * heap block of its own so ASan sees a read past its end */
        char *line = sl_malloc(n ? n : 1);
        if (!line || sl_batch_adopt(b, line))
            break;
        memcpy(line, data + pos, n);
        pos += n + (nl ? 1 : 0);
        struct sl_diag d;
        sl_diag_init(&d);
        uint32_t before = b->count;
        if (sl_zeek_parse_line(z, b, line, n, &d)) {
            if (b->count != before || !d.msg[0])
                abort();
            continue;
        }
        if (b->count > before + 1)
            abort();
        if (b->count > before && sl_zeek_type(z) != SL_NETEVENT_NONE) {
            struct sl_buf out;
            sl_buf_init(&out, 0);
            sl_diag_init(&d);
            (void)sl_netevent_encode(&b->events[b->count - 1], false, &out, &d);
            sl_buf_fini(&out);
        }
        if (b->count >= 64) {
            sl_batch_unref(b);
            b = sl_batch_new();
        }
    }
    sl_batch_unref(b);
    sl_zeek_free(z);
    return 0;
}
