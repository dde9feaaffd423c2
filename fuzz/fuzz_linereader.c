/*
 * fuzz_linereader.c — libFuzzer target for the line reader (framing + JSON per line).
 *
 * The first input byte picks a chunk size and max_line; the rest is fed whole and in
 * chunks. Both runs must produce the same events and dead letters (framing does not depend
 * on how bytes arrive), and every non-blank line must come out as exactly one of the two.
 */
#include "base/buf.h"
#include "codec/json.h"
#include "io/linereader.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

struct out {
    struct sl_buf text;
    uint64_t events, errors;
};

static int collect(void *arg, struct sl_batch *b, bool is_errors)
{
    struct out *o = arg;
    for (uint32_t i = 0; i < b->count; i++) {
        const struct sl_event *ev = &b->events[i];
        if (is_errors) {
            const struct sl_value *l = sl_event_get(ev, SL_SYM_LINE);
            sl_buf_appendf(&o->text, "E%lld\n", l ? (long long)l->u.i : -1LL);
            o->errors++;
        } else {
            sl_json_write_event(&o->text, ev);
            sl_buf_putc(&o->text, '\n');
            o->events++;
        }
    }
    sl_batch_unref(b);
    return 0;
}

static struct sl_component fake = {.name = "fuzz"};

static void run(const uint8_t *p, size_t n, size_t step, size_t max_line, enum sl_line_format f,
                struct out *o)
{
    sl_buf_init(&o->text, 0);
    o->events = o->errors = 0;
    struct sl_linereader_opts opts = {.format = f, .max_line = max_line, .where = "fuzz"};
    struct sl_linereader *r = sl_linereader_new(&fake, &opts);
    sl_linereader_set_emit(r, collect, o);
    for (size_t at = 0; at < n; at += step)
        sl_linereader_feed(r, (const char *)p + at, step < n - at ? step : n - at);
    sl_linereader_finish(r);
    sl_linereader_free(r);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int inited;
    if (!inited) {
        sl_core_init();
        inited = 1;
    }
    if (size < 1)
        return 0;
    size_t step = 1 + data[0] % 17;
    size_t max_line = 8 + (data[0] >> 4) * 16;
    enum sl_line_format f = data[0] & 0x80 ? SL_LINES_RAW : SL_LINES_JSON;
    const uint8_t *p = data + 1;
    size_t n = size - 1;
    struct out whole, split;
    run(p, n, n ? n : 1, max_line, f, &whole);
    run(p, n, step, max_line, f, &split);
    if (whole.text.len != split.text.len ||
        (whole.text.len && memcmp(whole.text.ptr, split.text.ptr, whole.text.len) != 0))
        abort();
    sl_buf_fini(&whole.text);
    sl_buf_fini(&split.text);
    return 0;
}
