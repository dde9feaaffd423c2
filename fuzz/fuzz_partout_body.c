/*
 * fuzz_partout_body.c — libFuzzer target for the Partout body parser (codec/partout_body.h).
 *
 * The first byte picks the parser (events or legacy) and small limits, so the leaf, key and
 * depth limits are reached by short inputs. A body that fails must say where with a JSON path
 * ("$..."); a body that parses must have leaves within the limits whose counts add up to the
 * body's total, at depths 1..4, each key set down to the leaf's depth.
 */
#include "base/alloc.h"
#include "base/arena.h"
#include "codec/partout_body.h"
#include "core/event.h"

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
    uint8_t sel = size ? data[0] : 0;
    const char *p = size ? (const char *)data + 1 : "";
    size_t n = size ? size - 1 : 0;
    /* a heap copy of its own so ASan sees a read past the end */
    char *copy = sl_malloc(n ? n : 1);
    if (!copy)
        return 0;
    memcpy(copy, p, n);
    struct sl_partout_limits lim = {0};
    if (sel & 2) {
        lim.max_leaves = 1 + (sel >> 4);
        lim.max_key_len = 8 + (sel >> 3); /* "unknown" (legacy) fits */
        lim.max_depth = 8;
    }
    struct sl_arena a;
    sl_arena_init(&a, 4096, 64u << 20);
    struct sl_partout_body b;
    struct sl_diag d;
    sl_diag_init(&d);
    int rc = (sel & 1) ? sl_partout_legacy_parse(&a, copy, n, &lim, &b, &d)
                       : sl_partout_body_parse(&a, copy, n, &lim, &b, &d);
    if (rc) {
        if (d.msg[0] != '$')
            abort();
    } else {
        uint32_t max_leaves = lim.max_leaves ? lim.max_leaves : 10000;
        size_t max_key = lim.max_key_len ? lim.max_key_len : 1024;
        if (b.nleaves > max_leaves || (!b.uuid.len && !(sel & 1)) || b.uuid.len > max_key)
            abort();
        uint64_t sum = 0;
        for (uint32_t i = 0; i < b.nleaves; i++) {
            const struct sl_partout_leaf *l = &b.leaves[i];
            if (l->depth < 1 || l->depth > 4 || (l->depth >= 2) != (l->module.ptr != NULL) ||
                (l->depth >= 3) != (l->object.ptr != NULL) ||
                (l->depth >= 4) != (l->msg.ptr != NULL))
                abort();
            if (l->module.len > max_key || l->object.len > max_key || l->msg.len > max_key)
                abort();
            sum += l->count;
        }
        if (sum != b.total)
            abort();
    }
    sl_arena_fini(&a);
    sl_free(copy);
    return 0;
}
