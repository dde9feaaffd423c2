/*
 * fuzz_kmstate.c — libFuzzer target for the kmeans transform's accumulator checkpoints
 * (task_load in src/io/xf_kmeans.c, run through sl_xf_kmeans_state_check), read from a
 * changelog topic anyone with access to the cluster can write.
 *
 * The first byte picks the features: 1 + byte % 6 of them, each folding with the aggregate of
 * the next bytes (count sum avg min max distinct); the rest is the checkpoint. A refusal must
 * say why; one that loads must save, load and save again to the same accumulators (the check
 * aborts otherwise).
 */
#include "io/xf_kmeans.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    uint32_t dim = 1 + data[0] % 6;
    if (size < 1 + dim)
        return 0;
    struct sl_diag d;
    sl_diag_init(&d);
    int rc = sl_xf_kmeans_state_check(data + 1, dim, data + 1 + dim, size - 1 - dim, &d);
    if (rc && !d.msg[0])
        abort();
    return 0;
}
