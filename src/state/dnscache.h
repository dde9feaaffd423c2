/*
 * dnscache.h — a bounded TTL cache for reverse-DNS answers, with negative entries and LRU
 * eviction (the `dns` transform's cache).
 *
 * Keys are short byte strings (the transform uses a family byte + 16 address bytes); a value
 * is a host name, or "no name" (a negative entry: NXDOMAIN, no PTR record). Every entry has
 * its own expiry, so positive and negative answers can live for different times. When the
 * cache holds `max_entries`, a put evicts the least recently used entry.
 *
 * Not thread-safe: the caller locks (the transform holds one lock per batch, not per event).
 */
#ifndef SL_STATE_DNSCACHE_H
#define SL_STATE_DNSCACHE_H

#include "base/str.h"

#include <stddef.h>
#include <stdint.h>

enum sl_dnscache_result {
    SL_DNSCACHE_MISS = 0,     /* absent or expired */
    SL_DNSCACHE_HIT = 1,      /* a name */
    SL_DNSCACHE_NEGATIVE = 2, /* known to have no name */
};

struct sl_dnscache_stats {
    uint64_t hits, negative_hits, misses, expired, evicted;
    size_t entries;
};

struct sl_dnscache;

/* A cache of at most max_entries (>= 1) entries. Aborts on OOM (fixed size). */
struct sl_dnscache *sl_dnscache_new(size_t max_entries);
void sl_dnscache_free(struct sl_dnscache *c); /* NULL: no-op */
/*
 * Look key up at time now_ns (any clock, used consistently). On SL_DNSCACHE_HIT *name views
 * the cached name, valid until the next put or free; a hit makes the entry most recently
 * used. An expired entry is removed and reported as a miss.
 */
enum sl_dnscache_result sl_dnscache_get(struct sl_dnscache *c, const void *key, size_t key_len,
                                        int64_t now_ns, struct sl_str *name);
/*
 * Insert or replace: name == NULL stores a negative entry. The name is copied. Keys longer
 * than 32 bytes and names longer than 1024 are refused. 0, SL_EINVAL, or SL_ENOMEM.
 */
int sl_dnscache_put(struct sl_dnscache *c, const void *key, size_t key_len, const char *name,
                    size_t name_len, int64_t expires_at_ns);
void sl_dnscache_get_stats(const struct sl_dnscache *c, struct sl_dnscache_stats *out);

#endif
