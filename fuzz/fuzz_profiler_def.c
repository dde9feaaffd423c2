/*
 * fuzz_profiler_def.c — libFuzzer target for profiler.json: the positional JSON reader, the
 * validation of profiles and the compilation of their expressions; and, for what parses,
 * routing, applying and flushing a few fixed messages.
 *
 * Invariants: a failed parse sets a message and a line/column inside the input (the line
 * count of the input bounds it); a definition that parses runs route/apply/advance/flush
 * over three messages without crashing, leaking or tripping the sanitizers, and every
 * measurement has start = period * duration.
 */
#include "base/arena.h"
#include "core/event.h"
#include "lang/stellar.h"
#include "state/profiler.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static struct sl_batch *batch;
static struct sl_stellar_vm *vm;

static void setup(void)
{
    sl_core_init();
    batch = sl_batch_new();
    static const char *const ips[] = {"10.0.0.1", "10.0.0.2", "10.0.0.1"};
    for (int i = 0; i < 3; i++) {
        struct sl_event *ev = sl_batch_push(batch);
        sl_event_set_str(batch, ev, sl_sym_intern_c("ip_src_addr"), ips[i], strlen(ips[i]));
        sl_event_set(batch, ev, sl_sym_intern_c("bytes"), sl_value_int(100 * (i + 1)));
        sl_event_set(batch, ev, sl_sym_intern_c("timestamp"), sl_value_int(1000 * i));
        sl_event_set_str(batch, ev, sl_sym_intern_c("proto"), "HTTP", 4);
    }
    vm = sl_stellar_vm_new();
    sl_stellar_vm_set_now(vm, 1472131630748);
}

static int emit(void *ud, const struct sl_profile_result *r)
{
    if (r->m.start_ms != r->m.period * r->m.duration_ms || r->m.groups.len < 2)
        abort();
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!batch)
        setup();
    if (size > 8192)
        return 0;
    struct sl_profiler_def *def = NULL;
    struct sl_diag d;
    sl_diag_init(&d);
    int rc = sl_profiler_def_parse((const char *)data, size, "<fuzz>", &def, &d);
    if (rc) {
        size_t lines = 1;
        for (size_t i = 0; i < size; i++)
            lines += data[i] == '\n';
        if (!d.msg[0] || d.line < 1 || d.line > lines || d.col < 1)
            abort();
        return 0;
    }
    struct sl_profiler_opts o = {.period_ms = 1000, .ttl_ms = 5000, .max_entities = 2};
    struct sl_profiler *p = sl_profiler_new(def, &o);
    struct sl_arena a;
    sl_arena_init(&a, 4096, 1u << 20);
    struct sl_profiler_sink sink = {.emit = emit};
    for (uint32_t e = 0; e < batch->count; e++) {
        const struct sl_event *ev = &batch->events[e];
        struct sl_stellar_resolver r = {.get = sl_stellar_event_get,
                                        .ud = (void *)ev,
                                        .all = sl_stellar_event_all,
                                        .event = ev};
        for (size_t i = 0; i < sl_profiler_def_count(def); i++) {
            struct sl_str ent;
            const char *err;
            if (sl_profiler_route(def, i, vm, &r, &a, &ent, &err) == 1)
                sl_profiler_apply(p, i, ent, vm, &r, 1000 * (int64_t)e, 0, &err);
            sl_stellar_vm_release(vm);
        }
        sl_profiler_advance(p, vm, 1000 * (int64_t)e, 0, &sink);
        sl_arena_reset(&a);
    }
    sl_profiler_flush_all(p, vm, &sink);
    sl_arena_fini(&a);
    sl_profiler_free(p);
    sl_profiler_def_free(def);
    return 0;
}
