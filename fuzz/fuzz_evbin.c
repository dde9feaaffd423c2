/*
 * fuzz_evbin.c — libFuzzer target for the binary batch decoder (codec/evbin.h).
 *
 * Any input must decode or fail cleanly (no read past the end: the input is copied into a
 * heap block of its exact size). A batch that decodes must encode again and decode to the
 * same events, value for value (sl_value_equal), and re-encode to the same bytes.
 */
#include "base/alloc.h"
#include "codec/evbin.h"
#include "core/event.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static void same(const struct sl_batch *a, const struct sl_batch *b)
{
    if (a->count != b->count || a->bytes != b->bytes)
        abort();
    for (uint32_t i = 0; i < a->count; i++) {
        const struct sl_event *x = &a->events[i], *y = &b->events[i];
        if (x->ts_ns != y->ts_ns || x->count != y->count)
            abort();
        for (uint32_t f = 0; f < x->count; f++) {
            if (x->fields[f].sym != y->fields[f].sym)
                abort();
            const struct sl_value *u = &x->fields[f].val, *v = &y->fields[f].val;
            /* NaN != NaN for sl_value_equal: compare doubles by bits */
            if (u->type == SL_V_DOUBLE && v->type == SL_V_DOUBLE) {
                if (memcmp(&u->u.d, &v->u.d, 8) != 0 || u->flags != v->flags)
                    abort();
            } else if (u->type != SL_V_DOUBLE && !sl_value_equal(u, v)) {
                abort();
            }
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int inited;
    if (!inited) {
        sl_core_init();
        inited = 1;
    }
    uint8_t *copy = sl_malloc(size ? size : 1);
    if (!copy)
        return 0;
    memcpy(copy, data, size);
    struct sl_batch *b = sl_batch_new();
    struct sl_diag d;
    sl_diag_init(&d);
    int rc = sl_evbin_decode(copy, size, b, &d);
    if (rc == 0) {
        struct sl_buf out;
        sl_buf_init(&out, (size_t)256 << 20);
        if (sl_evbin_encode(b, &out) != 0)
            abort();
        struct sl_batch *c = sl_batch_new();
        if (sl_evbin_decode(out.ptr, out.len, c, NULL) != 0)
            abort();
        same(b, c);
        struct sl_batch *v = sl_batch_new();
        if (sl_evbin_decode_view(copy, size, v, NULL) != 0)
            abort();
        same(b, v);
        sl_batch_unref(v);
        struct sl_buf again;
        sl_buf_init(&again, (size_t)256 << 20);
        if (sl_evbin_encode(c, &again) != 0 || again.len != out.len ||
            memcmp(again.ptr, out.ptr, out.len) != 0)
            abort();
        sl_buf_fini(&again);
        sl_buf_fini(&out);
        sl_batch_unref(c);
    } else if (rc != SL_ENOMEM && (d.offset < 0 || (size_t)d.offset > size)) {
        abort();
    }
    sl_batch_unref(b);
    sl_free(copy);
    return 0;
}
