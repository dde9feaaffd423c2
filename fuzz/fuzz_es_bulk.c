/*
 * fuzz_es_bulk.c — libFuzzer target for the Elasticsearch bulk response decoder
 * (codec/es_bulk.h), which reads what an untrusted server answers.
 *
 * The first byte sets the item limit, so SL_ELIMIT is reached by short inputs. A body that
 * decodes must have at most that many items, each with a status in 100..599 and error views
 * inside the input or the arena; one that fails must say why (SL_EPARSE with a message).
 */
#include "base/alloc.h"
#include "base/arena.h"
#include "codec/es_bulk.h"
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
    size_t max_items = size ? 1 + data[0] % 8 : 4;
    const char *p = size ? (const char *)data + 1 : "";
    size_t n = size ? size - 1 : 0;
    /* a heap copy of its own so ASan sees a read past the end */
    char *copy = sl_malloc(n ? n : 1);
    if (!copy)
        return 0;
    memcpy(copy, p, n);
    struct sl_arena a;
    sl_arena_init(&a, 4096, 64u << 20);
    struct sl_es_bulk_resp r;
    struct sl_diag d;
    sl_diag_init(&d);
    int rc = sl_es_bulk_parse(&a, copy, n, max_items, &r, &d);
    if (rc) {
        if (!d.msg[0] && rc != SL_ENOMEM)
            abort();
    } else {
        if (r.count > max_items || (r.count && !r.items))
            abort();
        for (size_t i = 0; i < r.count; i++) {
            const struct sl_es_item *it = &r.items[i];
            if (it->status < 100 || it->status > 599)
                abort();
            /* touch every byte of the views (ASan checks they are live) */
            volatile size_t sum = 0;
            for (size_t k = 0; k < it->type.len; k++)
                sum += (unsigned char)it->type.ptr[k];
            for (size_t k = 0; k < it->reason.len; k++)
                sum += (unsigned char)it->reason.ptr[k];
            (void)sum;
        }
    }
    sl_arena_fini(&a);
    sl_free(copy);
    return 0;
}
