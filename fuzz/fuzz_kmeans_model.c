/*
 * fuzz_kmeans_model.c — libFuzzer target for the k-means model loader (state/kmeans.h).
 *
 * Any input either fails with a message and no model, or gives a model whose shape is
 * within the limits, whose centres and scaler are finite (std > 0), and which scores a
 * zero vector and round-trips through sl_kmeans_to_json to an identical rendering.
 */
#include "base/alloc.h"
#include "base/buf.h"
#include "core/event.h"
#include "state/kmeans.h"

#include <math.h>
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
    /* a heap copy of its own so ASan sees a read past the end */
    char *copy = sl_malloc(size ? size : 1);
    if (!copy)
        return 0;
    memcpy(copy, data, size);
    struct sl_kmeans_model *m = NULL;
    struct sl_diag d;
    int rc = sl_kmeans_from_json(copy, size, "fuzz.json", &m, &d);
    if (rc) {
        if (m || !d.msg[0] || strcmp(d.file, "fuzz.json"))
            abort();
        sl_free(copy);
        return 0;
    }
    uint32_t k = sl_kmeans_k(m), dim = sl_kmeans_dim(m);
    if (!k || k > SL_KMEANS_MAX_K || !dim || dim > SL_KMEANS_MAX_DIM)
        abort();
    for (uint32_t j = 0; j < k; j++)
        for (uint32_t i = 0; i < dim; i++)
            if (!isfinite(sl_kmeans_centre(m, j)[i]))
                abort();
    double zero[SL_KMEANS_MAX_DIM] = {0}, dist;
    if (sl_kmeans_score(m, zero, &dist) >= k || !(dist >= 0))
        abort();
    struct sl_buf a, b;
    sl_buf_init(&a, 0);
    sl_buf_init(&b, 0);
    struct sl_kmeans_model *r = NULL;
    if (sl_kmeans_to_json(m, "k-means++", 0, &a) ||
        sl_kmeans_from_json(a.ptr, a.len, "again", &r, &d) ||
        sl_kmeans_to_json(r, "k-means++", 0, &b) || a.len != b.len || memcmp(a.ptr, b.ptr, a.len))
        abort();
    sl_kmeans_free(r);
    sl_buf_fini(&a);
    sl_buf_fini(&b);
    sl_kmeans_free(m);
    sl_free(copy);
    return 0;
}
