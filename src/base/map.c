/*
 * map.c — open-addressing hash map (see map.h).
 */
#include "base/map.h"

#include "base/alloc.h"
#include "base/err.h"
#include "base/hash.h"

#include <string.h>

static uint64_t key_hash(struct sl_str k)
{
    uint64_t h = sl_hash64(k.ptr, k.len);
    return h < 2 ? h + 2 : h;
}

void sl_hmap_init(struct sl_hmap *m)
{
    memset(m, 0, sizeof(*m));
}

void sl_hmap_fini(struct sl_hmap *m)
{
    for (size_t i = 0; i < m->cap; i++)
        if (m->slots[i].hash > 1)
            sl_free(m->slots[i].key);
    sl_free(m->slots);
    memset(m, 0, sizeof(*m));
}

static struct sl_map_slot *find(const struct sl_hmap *m, struct sl_str k, uint64_t h)
{
    if (!m->cap)
        return NULL;
    size_t mask = m->cap - 1;
    for (size_t i = h & mask;; i = (i + 1) & mask) {
        struct sl_map_slot *s = &m->slots[i];
        if (s->hash == 0)
            return NULL;
        if (s->hash == h && s->key_len == k.len && memcmp(s->key, k.ptr, k.len) == 0)
            return s;
    }
}

static int grow(struct sl_hmap *m)
{
    size_t cap = m->cap ? m->cap * 2 : 16;
    if (m->count * 10 < m->cap * 4)
        cap = m->cap ? m->cap : 16; /* mostly tombstones: rehash in place size */
    struct sl_map_slot *slots = sl_calloc(cap, sizeof(*slots));
    if (!slots)
        return SL_ENOMEM;
    for (size_t i = 0; i < m->cap; i++) {
        struct sl_map_slot *s = &m->slots[i];
        if (s->hash < 2)
            continue;
        size_t j = s->hash & (cap - 1);
        while (slots[j].hash)
            j = (j + 1) & (cap - 1);
        slots[j] = *s;
    }
    sl_free(m->slots);
    m->slots = slots;
    m->cap = cap;
    m->used = m->count;
    return 0;
}

int sl_hmap_put(struct sl_hmap *m, struct sl_str k, uint64_t val)
{
    uint64_t h = key_hash(k);
    struct sl_map_slot *s = find(m, k, h);
    if (s) {
        s->val = val;
        return 0;
    }
    if ((m->used + 1) * 10 > m->cap * 7) {
        int rc = grow(m);
        if (rc)
            return rc;
    }
    char *kc = sl_strndup(k.ptr ? k.ptr : "", k.len);
    if (!kc)
        return SL_ENOMEM;
    size_t mask = m->cap - 1;
    size_t i = h & mask;
    while (m->slots[i].hash > 1)
        i = (i + 1) & mask;
    if (m->slots[i].hash == 0)
        m->used++;
    m->slots[i] = (struct sl_map_slot){h, kc, k.len, val};
    m->count++;
    return 0;
}

bool sl_hmap_get(const struct sl_hmap *m, struct sl_str k, uint64_t *val)
{
    struct sl_map_slot *s = find(m, k, key_hash(k));
    if (!s)
        return false;
    if (val)
        *val = s->val;
    return true;
}

bool sl_hmap_del(struct sl_hmap *m, struct sl_str k)
{
    struct sl_map_slot *s = find(m, k, key_hash(k));
    if (!s)
        return false;
    sl_free(s->key);
    s->key = NULL;
    s->hash = 1;
    m->count--;
    return true;
}

bool sl_hmap_next(const struct sl_hmap *m, size_t *it, struct sl_str *key, uint64_t *val)
{
    while (*it < m->cap) {
        struct sl_map_slot *s = &m->slots[(*it)++];
        if (s->hash > 1) {
            if (key)
                *key = sl_str_make(s->key, s->key_len);
            if (val)
                *val = s->val;
            return true;
        }
    }
    return false;
}
