/*
 * sketch.h — the mergeable summaries behind Stellar's STATS_*, HLLP_* and BLOOM_* functions:
 * online statistics with a quantile sketch, HyperLogLog++ and Bloom filters.
 *
 * DESIGN: each sketch is a plain C data structure that works without the Stellar VM. It is a
 * reference-counted `struct sl_object` (first member) with its own type ("STATS", "HLLP",
 * "BLOOM"), so that Stellar values can carry it and a profile can keep it across events; it
 * is freed by sl_object_unref(). A sketch belongs to one thread at a time: reads that look
 * const may compact internal buffers (the percentile of a stats object flushes the digest's
 * buffer), so share a sketch between threads only by handing it over.
 *
 * Values are turned into bytes for HLLP and BLOOM by sl_sketch_value_key(): a string's own
 * bytes, any other value's Stellar text (Java's String.valueOf), each prefixed by its type
 * class so that 1 and '1' differ. Metron hashes Kryo bytes with MurmurHash; sluice hashes
 * this key with XXH3 (base/hash.h), so estimates differ from Metron's in their last digits on
 * large sets; small sets are exact in both.
 *
 * Every sketch has a stable, versioned binary form (sl_sketch_serialize, layout in
 * docs/stellar-sketches.md): magic "SLSK", kind, version, little-endian fields, an XXH3
 * checksum. The decoder validates every field and every size against fixed caps, so corrupt
 * or hostile bytes fail with SL_EPARSE and never over-read or over-allocate.
 */
#ifndef SL_LANG_SKETCH_H
#define SL_LANG_SKETCH_H

#include "base/buf.h"
#include "base/err.h"
#include "core/value.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

extern const struct sl_object_type sl_stats_type; /* name "STATS" */
extern const struct sl_object_type sl_hllp_type;  /* name "HLLP" */
extern const struct sl_object_type sl_bloom_type; /* name "BLOOM" */

/* True if v is an object of the sketch type called `type_name` ("STATS", "HLLP", "BLOOM"). */
bool sl_sketch_is(const struct sl_value *v, const char *type_name);

/* ------------------------------------------------------------------ statistics */

struct sl_stats;

#define SL_STATS_COMPRESSION 150.0      /* t-digest compression, as Metron's AVLTreeDigest(150) */
#define SL_STATS_MAX_WINDOW  (1u << 24) /* largest window (values kept) */

/* A new statistics object (refs 1): window 0 is the online provider (moments + t-digest),
 * window > 0 the windowed one (the last `window` values exactly). NULL when window exceeds
 * SL_STATS_MAX_WINDOW; aborts on OOM (small fixed allocation). */
struct sl_stats *sl_stats_new(uint32_t window);
static inline struct sl_object *sl_stats_obj(struct sl_stats *s)
{
    return (struct sl_object *)s;
}
/* 0 = online provider */
uint32_t sl_stats_window(const struct sl_stats *s);

/*
 * Add one value. 0; SL_EINVAL for NaN (t-digest refuses it; nothing is changed); SL_ERANGE
 * when a moment became infinite or the sum of squares underflowed to 0 (Metron's
 * "Double overflow!": the value is counted, as in Metron, before the error is reported);
 * SL_ENOMEM when a window cannot grow.
 */
int sl_stats_add(struct sl_stats *s, double x);

enum sl_stat {
    SL_STAT_COUNT,
    SL_STAT_SUM,
    SL_STAT_MEAN,
    SL_STAT_MIN,
    SL_STAT_MAX,
    SL_STAT_VARIANCE, /* sample variance, M2/(n-1) */
    SL_STAT_SD,
    SL_STAT_POPULATION_VARIANCE, /* windowed only */
    SL_STAT_GEOMETRIC_MEAN,      /* windowed only */
    SL_STAT_QUADRATIC_MEAN,
    SL_STAT_SUM_SQUARES,
    SL_STAT_SUM_LOGS,   /* online only */
    SL_STAT_SKEWNESS,   /* NaN for n < 3 */
    SL_STAT_KURTOSIS,   /* excess kurtosis, NaN for n < 4 */
    SL_STAT_PERCENTILE, /* arg: p in 0..100 (windowed: 0 < p <= 100) */
};

/* Compute a statistic into *out. 0; SL_EINVAL when the provider does not support it (Metron
 * throws UnsupportedOperationException); SL_ERANGE for a percentile out of range; SL_ENOMEM
 * (windowed percentile sorts a copy). */
int sl_stats_get(struct sl_stats *s, enum sl_stat which, double arg, double *out);

/* A new object holding the union of a and b (online providers only: SL_EINVAL for windowed
 * ones; SL_ERANGE on Metron's overflow check). Moments combine exactly (Chan/Pébay), the
 * digests merge. */
int sl_stats_merge(struct sl_stats *a, struct sl_stats *b, struct sl_stats **out);

/* ------------------------------------------------------------------ HyperLogLog++ */

struct sl_hllp;

#define SL_HLLP_MIN_P  4
#define SL_HLLP_MAX_P  18
#define SL_HLLP_MAX_SP 31

/* A new estimator with precision p (4..18) and sparse precision sp (0 = no sparse mode, else
 * p..31). NULL for invalid precisions (check with sl_hllp_check first for a message). */
struct sl_hllp *sl_hllp_new(int p, int sp);
/* NULL, or the reason the precisions are invalid (stream-lib's messages). */
const char *sl_hllp_check(int p, int sp);
static inline struct sl_object *sl_hllp_obj(struct sl_hllp *h)
{
    return (struct sl_object *)h;
}
void sl_hllp_precision(const struct sl_hllp *h, int *p, int *sp);
/* Add a 64-bit hash of an element. 0 or SL_ENOMEM. */
int sl_hllp_add_hash(struct sl_hllp *h, uint64_t hash);
/* Add an element's bytes (hashed with XXH3). */
int sl_hllp_add(struct sl_hllp *h, const void *p, size_t n);
/* Estimated number of distinct elements. */
int64_t sl_hllp_cardinality(struct sl_hllp *h);
/* Merge src into dst. 0; SL_EINVAL when the precisions differ; SL_ENOMEM. */
int sl_hllp_merge(struct sl_hllp *dst, struct sl_hllp *src);
/* True while the sparse representation is in use. */
bool sl_hllp_is_sparse(const struct sl_hllp *h);

/* ------------------------------------------------------------------ Bloom filter */

struct sl_bloom;

#define SL_BLOOM_MAX_BITS ((uint64_t)1 << 31) /* 256 MiB */

/* Guava's sizing: bits = -n ln(fpp) / ln(2)^2 rounded up to 64, k = max(1, round(bits/n ln 2)).
 * 0; SL_EINVAL (n < 0, fpp not in (0,1)); SL_E2BIG (past SL_BLOOM_MAX_BITS); SL_ENOMEM. */
int sl_bloom_new(int64_t expected, double fpp, struct sl_bloom **out);
static inline struct sl_object *sl_bloom_obj(struct sl_bloom *b)
{
    return (struct sl_object *)b;
}
uint64_t sl_bloom_bits(const struct sl_bloom *b);
uint32_t sl_bloom_hashes(const struct sl_bloom *b);
void sl_bloom_add(struct sl_bloom *b, const void *p, size_t n);
bool sl_bloom_contains(const struct sl_bloom *b, const void *p, size_t n);
/* OR src into dst. 0, or SL_EINVAL when sizes or hash counts differ. */
int sl_bloom_merge(struct sl_bloom *dst, const struct sl_bloom *src);

/* ------------------------------------------------------------------ values and bytes */

/*
 * The bytes that HLLP and BLOOM hash for a Stellar value: a type-class byte, then a string's
 * bytes or the value's Java text. The bytes are in `scratch` (reset first). 0 or
 * SL_ENOMEM/SL_E2BIG.
 */
int sl_sketch_value_key(const struct sl_value *v, struct sl_buf *scratch);

/* Append the binary form of a sketch to out. 0, SL_EINVAL (not a sketch), SL_ENOMEM,
 * SL_E2BIG. */
int sl_sketch_serialize(const struct sl_object *o, struct sl_buf *out);
/* Decode p[0..n) into a new object (refs 1). 0, or SL_EPARSE with d->msg and d->offset
 * (d may be NULL), SL_ENOMEM. Never reads outside p[0..n). */
int sl_sketch_deserialize(const void *p, size_t n, struct sl_object **out, struct sl_diag *d);

#endif
