/*
 * fuzz_netevent.c — libFuzzer target for the network-event FlatBuffers verifier+decoder.
 *
 * Every input is decoded as one FlatBuffer and as a ZeroMQ message (plain or a run of
 * size-prefixed frames). Whatever decodes must encode again and decode to the same fields
 * (round trip); whatever fails must say where, inside the input, and append nothing. ASan
 * catches any read outside the input.
 */
#include "base/buf.h"
#include "codec/netevent.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static void roundtrip(const struct sl_event *ev)
{
    struct sl_buf out;
    sl_buf_init(&out, 0);
    struct sl_diag d;
    sl_diag_init(&d);
    if (sl_netevent_encode(ev, false, &out, &d))
        abort(); /* anything we decode, we can encode */
    struct sl_batch *b = sl_batch_new();
    if (sl_netevent_decode((const uint8_t *)out.ptr, out.len, b, &d) || b->count != 1)
        abort();
    const struct sl_event *back = &b->events[0];
    if (back->count != ev->count || back->ts_ns != ev->ts_ns)
        abort();
    for (uint32_t i = 0; i < ev->count; i++)
        if (!sl_value_equal(&ev->fields[i].val, sl_event_get(back, ev->fields[i].sym)))
            abort();
    sl_batch_unref(b);
    sl_buf_fini(&out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int inited;
    if (!inited) {
        sl_core_init();
        inited = 1;
    }
    /* a private copy so ASan sees reads past the end exactly */
    uint8_t *p = malloc(size ? size : 1);
    memcpy(p, data, size);
    struct sl_diag d;
    sl_diag_init(&d);
    struct sl_batch *b = sl_batch_new();
    int rc = sl_netevent_decode(p, size, b, &d);
    if (rc == 0) {
        if (b->count != 1)
            abort();
        roundtrip(&b->events[0]);
    } else if (b->count != 0 || !d.msg[0] || d.offset < 0 || (size_t)d.offset > size) {
        abort();
    }
    sl_batch_unref(b);

    b = sl_batch_new();
    size_t consumed = 0;
    sl_diag_init(&d);
    rc = sl_netevent_decode_message(p, size, b, &consumed, &d);
    if (consumed > size || (rc == 0 && consumed != size) || (rc != 0 && !d.msg[0]))
        abort();
    for (uint32_t i = 0; i < b->count; i++)
        roundtrip(&b->events[i]);
    sl_batch_unref(b);
    free(p);
    return 0;
}
