/*
 * fuzz_stellar_eval.c — libFuzzer target: fuzzed programs over fuzzed events.
 *
 * Input: an expression, a NUL byte, then one JSON object (the event). The event goes through
 * the JSON codec into a batch; the expression is compiled and evaluated against it through
 * the pipeline's resolver (lenient and strict), as `eval` would, and the result is assigned
 * to a nested field as `eval` does. No input may crash, leak or read out of bounds.
 */
#include "base/arena.h"
#include "codec/json.h"
#include "core/event.h"
#include "io/lang_glue.h"
#include "lang/stellar.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static struct sl_stellar_vm *vm;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!vm) {
        sl_core_init();
        vm = sl_stellar_vm_new();
        sl_stellar_vm_set_now(vm, 1472131630748);
    }
    if (size > 8192)
        return 0;
    const uint8_t *nul = memchr(data, 0, size);
    if (!nul)
        return 0;
    size_t elen = (size_t)(nul - data);
    struct sl_stellar_prog *p = NULL;
    struct sl_diag d;
    sl_diag_init(&d);
    if (sl_stellar_compile((const char *)data, elen, NULL, &p, &d))
        return 0;
    struct sl_batch *b = sl_batch_new();
    sl_diag_init(&d);
    if (sl_json_parse_event(b, (const char *)nul + 1, size - elen - 1, NULL, &d) == 0) {
        struct sl_event *ev = &b->events[b->count - 1];
        for (int strict = 0; strict < 2; strict++) {
            struct sl_stellar_resolver r = {sl_stellar_event_get, ev, strict == 1,
                                            sl_stellar_event_all, ev};
            struct sl_value v;
            if (sl_stellar_eval(vm, p, &r, &b->arena, &v) == 0) {
                struct sl_path path;
                if (sl_path_init(&path, "out.nested.value") == 0) {
                    if (sl_io_keepable(b, &v) == 0)
                        (void)sl_io_set_path(b, ev, &path, v);
                    (void)sl_io_remove_path(b, ev, &path);
                    sl_path_fini(&path);
                }
            }
            sl_stellar_vm_release(vm);
        }
    }
    sl_batch_unref(b);
    sl_stellar_free(p);
    return 0;
}
