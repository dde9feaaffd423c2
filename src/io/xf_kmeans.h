/*
 * xf_kmeans.h — what the `kmeans` transform (xf_kmeans.c) offers beyond its component ops: a
 * way to run its checkpoint decoder alone, for fuzz/fuzz_kmstate.c.
 */
#ifndef SL_IO_XF_KMEANS_H
#define SL_IO_XF_KMEANS_H

#include "base/err.h"

#include <stddef.h>
#include <stdint.h>

/*
 * Load checkpoint p (n bytes, untrusted) as the accumulators of a task of a kmeans whose
 * features fold with these aggregates (dim of them, 0..5: count sum avg min max distinct;
 * max_keys 10000, 60 s windows), save them again, load that into another task and save it: the two
 * savings must be as long and hold the same accumulators (else abort()). 0 when p loaded, else its
 * error (d says why).
 */
int sl_xf_kmeans_state_check(const uint8_t *aggs, uint32_t dim, const void *p, size_t n,
                             struct sl_diag *d);

#endif
