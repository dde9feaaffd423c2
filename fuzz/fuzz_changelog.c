/*
 * fuzz_changelog.c — libFuzzer target for what a node reads back from a changelog topic
 * (anyone with write access to the cluster can put bytes there): the header and chunk records
 * and their reassembly (state/statecodec.c), checkpointed values, and the profiler engine's
 * snapshot decoder (sl_profiler_restore), followed by a flush of whatever was restored.
 *
 * Input: byte 0 picks the decoder of the rest: 0 a header, 1 a chunk, 2 values, 3 a profiler
 * snapshot, 4 a sequence of records (u8 suffix length, suffix, u16 value length, value) fed to
 * the reassembly, whose payload, if any, is then restored as a snapshot.
 * Invariants: no crash, leak or sanitizer report; a failure is SL_EPARSE/SL_ENOMEM/SL_E2BIG/
 * SL_EINVAL with a message; a successful restore yields an engine that flushes and frees.
 */
#include "base/alloc.h"
#include "core/event.h"
#include "lang/stellar.h"
#include "state/profiler.h"
#include "state/statecodec.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static struct sl_profiler_def *def;
static struct sl_stellar_vm *vm;

static const char DEF[] =
    "{\"profiles\": ["
    "{\"profile\": \"count\", \"foreach\": \"ip\", \"init\": {\"n\": 0}, \"update\": {\"n\": "
    "\"n + 1\"}, \"result\": \"n\"},"
    "{\"profile\": \"stats\", \"foreach\": \"ip\", \"init\": {\"s\": \"STATS_INIT()\"}, "
    "\"update\": {\"s\": \"STATS_ADD(s, bytes)\", \"last\": \"ip\"}, \"result\": \"s\", "
    "\"groupBy\": [\"last\"]}]}";

static void setup(void)
{
    sl_core_init();
    struct sl_diag d;
    if (sl_profiler_def_parse(DEF, strlen(DEF), "fuzz", &def, &d) != 0)
        abort();
    vm = sl_stellar_vm_new();
}

static int emit(void *ud, const struct sl_profile_result *r)
{
    (void)ud;
    if (r->m.start_ms != r->m.period * r->m.duration_ms)
        abort();
    return 0;
}

static void check_err(int rc, const struct sl_diag *d)
{
    if (rc == 0)
        return;
    if (rc != SL_EPARSE && rc != SL_ENOMEM && rc != SL_E2BIG && rc != SL_EINVAL && rc != SL_ENOENT)
        abort();
    if (rc == SL_EPARSE && !d->msg[0])
        abort();
}

static void restore(const uint8_t *p, size_t n)
{
    struct sl_profiler_opts o = {.period_ms = 60000, .ttl_ms = 3600000};
    struct sl_profiler *e = sl_profiler_new(def, &o);
    struct sl_profiler_ckpt k;
    uint64_t skipped;
    struct sl_diag d;
    memset(&d, 0, sizeof d);
    int rc = sl_profiler_restore(e, p, n, &k, &skipped, &d);
    check_err(rc, &d);
    if (rc == 0) {
        struct sl_profiler_sink sink = {emit, NULL, NULL};
        sl_profiler_advance(e, vm, k.wm, k.max_ts, &sink);
        sl_profiler_flush_all(e, vm, &sink);
    }
    sl_profiler_free(e);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int once;
    if (!once++)
        setup();
    if (size < 1)
        return 0;
    const uint8_t *p = data + 1;
    size_t n = size - 1;
    struct sl_diag d;
    memset(&d, 0, sizeof d);
    switch (data[0] % 5) {
    case 0: {
        struct sl_sc_header h;
        check_err(sl_sc_decode_header(p, n, &h, &d), &d);
        break;
    }
    case 1: {
        uint64_t g;
        uint32_t i;
        const void *v;
        size_t len;
        if (sl_sc_decode_chunk(p, n, &g, &i, &v, &len, &d) == 0 &&
            (const uint8_t *)v + len != p + n)
            abort();
        break;
    }
    case 2: {
        struct sl_arena a;
        sl_arena_init(&a, 4096, 64u << 20);
        struct sl_binrd r;
        sl_binrd_init(&r, p, n);
        for (int k = 0; k < 64; k++) {
            struct sl_value v;
            if (sl_sc_get_value(&r, &a, &v))
                break;
            sl_sc_value_release(&v);
        }
        sl_arena_fini(&a);
        break;
    }
    case 3:
        restore(p, n);
        break;
    case 4: {
        struct sl_sc_state s;
        sl_sc_state_init(&s);
        size_t at = 0;
        while (at + 3 <= n) {
            size_t sl = p[at];
            if (at + 1 + sl + 2 > n)
                break;
            const char *suffix = (const char *)p + at + 1;
            size_t vl = (size_t)p[at + 1 + sl] | (size_t)p[at + 2 + sl] << 8;
            at += 3 + sl;
            if (vl > n - at)
                vl = n - at;
            check_err(sl_sc_state_feed(&s, suffix, sl, p + at, vl, &d), &d);
            at += vl;
        }
        void *out = NULL;
        size_t len = 0;
        int rc = sl_sc_state_finish(&s, &out, &len, &d);
        check_err(rc, &d);
        if (rc == 0)
            restore(out, len);
        sl_free(out);
        sl_sc_state_fini(&s);
        break;
    }
    }
    return 0;
}
