/*
 * map.h — open-addressing hash map from byte-string keys to pointer-sized values.
 *
 * DESIGN: linear probing over a power-of-two table of (hash, key, value) slots, load factor
 * at most 0.7, tombstones on delete. Keys are copied into the map (it owns them); values are
 * opaque uint64 (cast pointers through uintptr_t). Not thread-safe.
 */
#ifndef SL_BASE_MAP_H
#define SL_BASE_MAP_H

#include "base/str.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct sl_map_slot {
    uint64_t hash; /* 0: empty, 1: deleted */
    char *key;
    size_t key_len;
    uint64_t val;
};

struct sl_hmap {
    struct sl_map_slot *slots;
    size_t cap; /* power of two */
    size_t count;
    size_t used; /* count + tombstones */
};

void sl_hmap_init(struct sl_hmap *m);
void sl_hmap_fini(struct sl_hmap *m);
/* Insert or replace. 0 or SL_ENOMEM. */
int sl_hmap_put(struct sl_hmap *m, struct sl_str key, uint64_t val);
/* True and *val when present. */
bool sl_hmap_get(const struct sl_hmap *m, struct sl_str key, uint64_t *val);
bool sl_hmap_del(struct sl_hmap *m, struct sl_str key);
/* Iterate: start with *it = 0; returns false at the end. */
bool sl_hmap_next(const struct sl_hmap *m, size_t *it, struct sl_str *key, uint64_t *val);

#endif
