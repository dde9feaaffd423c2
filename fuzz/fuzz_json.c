/*
 * fuzz_json.c — libFuzzer target for the JSON codec.
 *
 * Every input is parsed as an event and as a value. Whatever parses must write back to JSON
 * that parses again to an equal value (round trip); whatever fails must say where. ASan
 * catches any read outside the input.
 */
#include "base/buf.h"
#include "codec/json.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static void roundtrip_value(const struct sl_value *v)
{
    struct sl_buf out;
    sl_buf_init(&out, 0);
    if (sl_json_write_value(&out, v))
        abort();
    struct sl_arena a;
    sl_arena_init(&a, 4096, 0);
    struct sl_value back;
    struct sl_diag d;
    sl_diag_init(&d);
    if (sl_json_parse_value(&a, out.ptr, out.len, NULL, &back, &d))
        abort(); /* our own output must parse */
    /* doubles may print as ints and back (1.0 stays 1.0 by design), so compare text */
    struct sl_buf again;
    sl_buf_init(&again, 0);
    sl_json_write_value(&again, &back);
    if (again.len != out.len || memcmp(again.ptr, out.ptr, out.len) != 0)
        abort();
    sl_buf_fini(&again);
    sl_arena_fini(&a);
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
    char *p = malloc(size ? size : 1);
    memcpy(p, data, size);
    struct sl_json_opts o = {.max_depth = 32, .max_len = 1 << 20};
    struct sl_diag d;
    sl_diag_init(&d);
    struct sl_batch *b = sl_batch_new();
    int rc = sl_json_parse_event(b, p, size, &o, &d);
    if (rc == 0) {
        if (b->count != 1)
            abort();
        struct sl_buf out;
        sl_buf_init(&out, 0);
        sl_json_write_event(&out, &b->events[0]);
        struct sl_batch *b2 = sl_batch_new();
        if (sl_json_parse_event(b2, out.ptr, out.len, &o, &d))
            abort();
        sl_batch_unref(b2);
        sl_buf_fini(&out);
    } else if (b->count != 0 || !d.msg[0] || d.offset < 0 || (size_t)d.offset > size) {
        abort();
    }
    sl_batch_unref(b);
    struct sl_arena a;
    sl_arena_init(&a, 4096, 0);
    struct sl_value v;
    sl_diag_init(&d);
    if (sl_json_parse_value(&a, p, size, &o, &v, &d) == 0)
        roundtrip_value(&v);
    else if (!d.msg[0])
        abort();
    sl_arena_fini(&a);
    free(p);
    return 0;
}
