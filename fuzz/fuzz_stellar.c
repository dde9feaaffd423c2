/*
 * fuzz_stellar.c — libFuzzer target for the Stellar lexer, parser and compiler, and for the
 * VM on what compiles.
 *
 * The input is an expression. Whatever compiles must pass the bytecode verifier (the
 * compiler runs it) and evaluate without crashing over a small fixed event, in both
 * resolver modes; evaluation may fail only with an error code and a message. A compile
 * failure must carry a column inside the input.
 */
#include "base/arena.h"
#include "core/event.h"
#include "lang/stellar.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static struct sl_batch *batch;
static struct sl_stellar_vm *vm;

static void setup(void)
{
    sl_core_init();
    batch = sl_batch_new();
    struct sl_event *ev = sl_batch_push(batch);
    sl_event_set(batch, ev, sl_sym_intern_c("x"), sl_value_int(7));
    sl_event_set(batch, ev, sl_sym_intern_c("d"), sl_value_double(2.5));
    sl_event_set_str(batch, ev, sl_sym_intern_c("s"), "casey", 5);
    sl_event_set_str(batch, ev, sl_sym_intern_c("ip"), "10.0.0.1", 8);
    struct sl_value l = {.type = SL_V_LIST, .len = 3};
    struct sl_value *items = sl_arena_alloc(&batch->arena, 3 * sizeof *items);
    items[0] = sl_value_int(1);
    items[1] = sl_value_str("a", 1);
    items[2] = sl_value_null();
    l.u.list = items;
    sl_event_set(batch, ev, sl_sym_intern_c("l"), l);
    vm = sl_stellar_vm_new();
    sl_stellar_vm_set_now(vm, 1472131630748);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!batch)
        setup();
    if (size > 4096)
        return 0;
    struct sl_stellar_prog *p = NULL;
    struct sl_diag d;
    sl_diag_init(&d);
    int rc = sl_stellar_compile((const char *)data, size, NULL, &p, &d);
    if (rc) {
        if (d.col == 0 || d.col > size + 1 || !d.msg[0])
            abort(); /* every compile error says where and what */
        return 0;
    }
    struct sl_arena a;
    sl_arena_init(&a, 4096, 8u << 20);
    struct sl_event *ev = &batch->events[0];
    for (int strict = 0; strict < 2; strict++) {
        struct sl_stellar_resolver r = {sl_stellar_event_get, ev, strict == 1, sl_stellar_event_all,
                                        strict ? NULL : ev};
        struct sl_value v;
        rc = sl_stellar_eval(vm, p, &r, &a, &v);
        if (rc && !sl_stellar_vm_error(vm)[0])
            abort(); /* an error always carries a message */
        sl_stellar_vm_release(vm);
        bool b;
        (void)sl_stellar_eval_bool(vm, p, &r, &a, &b);
        sl_stellar_vm_release(vm);
    }
    sl_arena_fini(&a);
    sl_stellar_free(p);
    return 0;
}
