/*
 * hash.c — XXH3 wrappers so the rest of the tree does not include xxhash.h.
 */
#include "base/hash.h"

#define XXH_INLINE_ALL
#include <xxhash.h>

uint64_t sl_hash64(const void *p, size_t n)
{
    return XXH3_64bits(p, n);
}

uint64_t sl_hash64_seed(const void *p, size_t n, uint64_t seed)
{
    return XXH3_64bits_withSeed(p, n, seed);
}
