/*
 * hash.h — fast non-cryptographic hashing (XXH3 from libxxhash).
 */
#ifndef SL_BASE_HASH_H
#define SL_BASE_HASH_H

#include <stddef.h>
#include <stdint.h>

uint64_t sl_hash64(const void *p, size_t n);
uint64_t sl_hash64_seed(const void *p, size_t n, uint64_t seed);

#endif
