/*
 * sketch_bloom.c — a Bloom filter sized and probed as Guava's BloomFilter (which Metron's
 * BLOOM_* functions wrap).
 *
 * DESIGN: Guava's formulas size the filter: bits = -n ln(fpp) / ln(2)^2 (truncated), rounded
 * up to whole 64-bit words, and k = max(1, round(bits / n * ln 2)) probes. A key is hashed
 * twice (XXH3 with two seeds; Guava splits one murmur3_128) and probe i sets bit
 * ((h1 + i*h2) & INT64_MAX) mod bits — Kirsch & Mitzenmacher's double hashing, the same
 * arithmetic as Guava's MURMUR128_MITZ_64 strategy, so the false-positive rate follows the
 * same curve. Two filters merge (bitwise OR) only when bits and k agree, as in Guava.
 */
#include "lang/sketch.h"

#include "base/alloc.h"
#include "base/hash.h"
#include "lang/sketch_int.h"

#include <math.h>
#include <string.h>

#define SEED2 0x9E3779B97F4A7C15ull

struct sl_bloom {
    struct sl_object obj;
    uint32_t k;
    uint64_t nbits; /* a multiple of 64 */
    uint64_t *w;
};

static void bloom_free(struct sl_object *o)
{
    struct sl_bloom *b = (struct sl_bloom *)o;
    sl_free(b->w);
    sl_free(b);
}

static int bloom_to_json(const struct sl_object *o, struct sl_buf *out)
{
    const struct sl_bloom *b = (const struct sl_bloom *)o;
    return sl_buf_appendf(out, "{\"type\":\"BLOOM\",\"bits\":%llu,\"hashes\":%u}",
                          (unsigned long long)b->nbits, b->k);
}

const struct sl_object_type sl_bloom_type = {
    .name = "BLOOM",
    .free = bloom_free,
    .to_json = bloom_to_json,
};

static struct sl_bloom *bloom_alloc(uint64_t nbits, uint32_t k)
{
    uint64_t *w = sl_calloc(nbits / 64, sizeof *w);
    if (!w)
        return NULL;
    struct sl_bloom *b = sl_xcalloc(1, sizeof *b);
    b->obj.type = &sl_bloom_type;
    atomic_init(&b->obj.refs, 1);
    b->k = k;
    b->nbits = nbits;
    b->w = w;
    return b;
}

int sl_bloom_new(int64_t expected, double fpp, struct sl_bloom **out)
{
    *out = NULL;
    if (expected < 0 || !(fpp > 0 && fpp < 1))
        return SL_EINVAL;
    if (expected == 0)
        expected = 1;
    double n = (double)expected;
    double bits = floor(-n * log(fpp) / (log(2.0) * log(2.0)));
    if (bits > (double)SL_BLOOM_MAX_BITS)
        return SL_E2BIG;
    double kd = floor(bits / n * log(2.0) + 0.5);
    uint32_t k = kd < 1 ? 1 : kd > 255 ? 255 : (uint32_t)kd;
    uint64_t nbits = ((uint64_t)bits + 63) / 64 * 64;
    if (!nbits)
        nbits = 64;
    struct sl_bloom *b = bloom_alloc(nbits, k);
    if (!b)
        return SL_ENOMEM;
    *out = b;
    return 0;
}

uint64_t sl_bloom_bits(const struct sl_bloom *b)
{
    return b->nbits;
}

uint32_t sl_bloom_hashes(const struct sl_bloom *b)
{
    return b->k;
}

void sl_bloom_add(struct sl_bloom *b, const void *p, size_t n)
{
    uint64_t h = sl_hash64(p, n), h2 = sl_hash64_seed(p, n, SEED2);
    for (uint32_t i = 0; i < b->k; i++, h += h2) {
        uint64_t bit = (h & INT64_MAX) % b->nbits;
        b->w[bit >> 6] |= (uint64_t)1 << (bit & 63);
    }
}

bool sl_bloom_contains(const struct sl_bloom *b, const void *p, size_t n)
{
    uint64_t h = sl_hash64(p, n), h2 = sl_hash64_seed(p, n, SEED2);
    for (uint32_t i = 0; i < b->k; i++, h += h2) {
        uint64_t bit = (h & INT64_MAX) % b->nbits;
        if (!(b->w[bit >> 6] & ((uint64_t)1 << (bit & 63))))
            return false;
    }
    return true;
}

int sl_bloom_merge(struct sl_bloom *dst, const struct sl_bloom *src)
{
    if (dst->nbits != src->nbits || dst->k != src->k)
        return SL_EINVAL;
    for (uint64_t i = 0; i < dst->nbits / 64; i++)
        dst->w[i] |= src->w[i];
    return 0;
}

/* ------------------------------------------------------------------ serialisation (v1) */

/* u32 k; u64 bits; u64 word x bits/64 */
void sl_sketch__bloom_write(const struct sl_bloom *b, struct sl_sketch__wr *w)
{
    sl_sketch__u32(w, b->k);
    sl_sketch__u64(w, b->nbits);
    for (uint64_t i = 0; i < b->nbits / 64; i++)
        sl_sketch__u64(w, b->w[i]);
}

struct sl_bloom *sl_sketch__bloom_read(struct sl_sketch__rd *r, bool *nomem)
{
    uint32_t k = sl_sketch__get_u32(r);
    uint64_t nbits = sl_sketch__get_u64(r);
    if (!r->ok)
        return NULL;
    if (k < 1 || k > 255 || !nbits || nbits % 64 || nbits > SL_BLOOM_MAX_BITS) {
        sl_sketch__fail(r, "bad filter size");
        return NULL;
    }
    if (!sl_sketch__has(r, nbits / 8))
        return NULL;
    struct sl_bloom *b = bloom_alloc(nbits, k);
    if (!b) {
        *nomem = true;
        return NULL;
    }
    for (uint64_t i = 0; i < nbits / 64; i++)
        b->w[i] = sl_sketch__get_u64(r);
    return b;
}
