/*
 * dnscache.c — bounded TTL + LRU cache of reverse-DNS answers (see dnscache.h).
 *
 * DESIGN: entries are preallocated in one array of max_entries slots (no allocation per put
 * except the name), indexed by an open-addressing table of slot numbers (linear probing,
 * power-of-two size >= 2 * max_entries, backward-shift deletion so no tombstones pile up
 * under steady eviction). An intrusive doubly linked list through the slots keeps the LRU
 * order: a hit moves the entry to the front, eviction takes the back. Expired entries are
 * dropped lazily when looked up, or reused first by eviction order when they are old.
 */
#include "state/dnscache.h"

#include "base/alloc.h"
#include "base/err.h"
#include "base/hash.h"

#include <string.h>

#define KEY_MAX  32u
#define NAME_MAX 1024u
#define NIL      UINT32_MAX

struct entry {
    uint8_t key[KEY_MAX];
    uint8_t key_len;
    char *name; /* NULL: negative */
    size_t name_len;
    int64_t expires_at;
    uint64_t hash;
    uint32_t prev, next; /* LRU list; NIL at the ends */
};

struct sl_dnscache {
    struct entry *e;
    uint32_t cap;  /* slots in e */
    uint32_t used; /* slots handed out so far (free ones come back via `freelist`) */
    uint32_t *tab; /* index table: slot number or NIL */
    uint32_t mask; /* table size - 1 */
    uint32_t head, tail, freelist; /* head: most recent */
    size_t count;
    struct sl_dnscache_stats st;
};

struct sl_dnscache *sl_dnscache_new(size_t max_entries)
{
    if (max_entries < 1)
        max_entries = 1;
    if (max_entries > (1u << 28))
        max_entries = 1u << 28;
    struct sl_dnscache *c = sl_xcalloc(1, sizeof *c);
    c->cap = (uint32_t)max_entries;
    c->e = sl_xcalloc(c->cap, sizeof *c->e);
    uint32_t size = 16;
    while (size < 2 * c->cap)
        size *= 2;
    c->tab = sl_xmalloc((size_t)size * sizeof *c->tab);
    memset(c->tab, 0xff, (size_t)size * sizeof *c->tab);
    c->mask = size - 1;
    c->head = c->tail = c->freelist = NIL;
    return c;
}

void sl_dnscache_free(struct sl_dnscache *c)
{
    if (!c)
        return;
    for (uint32_t i = 0; i < c->used; i++)
        sl_free(c->e[i].name);
    sl_free(c->e);
    sl_free(c->tab);
    sl_free(c);
}

static void lru_unlink(struct sl_dnscache *c, uint32_t i)
{
    struct entry *e = &c->e[i];
    if (e->prev != NIL)
        c->e[e->prev].next = e->next;
    else
        c->head = e->next;
    if (e->next != NIL)
        c->e[e->next].prev = e->prev;
    else
        c->tail = e->prev;
    e->prev = e->next = NIL;
}

static void lru_front(struct sl_dnscache *c, uint32_t i)
{
    struct entry *e = &c->e[i];
    e->prev = NIL;
    e->next = c->head;
    if (c->head != NIL)
        c->e[c->head].prev = i;
    c->head = i;
    if (c->tail == NIL)
        c->tail = i;
}

/* Table position holding slot i's key, or of the empty position where it would go. */
static uint32_t find_pos(const struct sl_dnscache *c, const void *key, size_t len, uint64_t h)
{
    uint32_t pos = (uint32_t)h & c->mask;
    for (;;) {
        uint32_t s = c->tab[pos];
        if (s == NIL)
            return pos;
        const struct entry *e = &c->e[s];
        if (e->hash == h && e->key_len == len && memcmp(e->key, key, len) == 0)
            return pos;
        pos = (pos + 1) & c->mask;
    }
}

/* Remove the table position pos (backward-shift deletion for linear probing). */
static void tab_delete(struct sl_dnscache *c, uint32_t pos)
{
    uint32_t hole = pos;
    uint32_t i = (pos + 1) & c->mask;
    while (c->tab[i] != NIL) {
        uint32_t home = (uint32_t)c->e[c->tab[i]].hash & c->mask;
        /* move entry i into the hole when its home is not in (hole, i] cyclically */
        bool move = hole <= i ? (home <= hole || home > i) : (home <= hole && home > i);
        if (move) {
            c->tab[hole] = c->tab[i];
            hole = i;
        }
        i = (i + 1) & c->mask;
    }
    c->tab[hole] = NIL;
}

/* Drop slot s entirely (table, LRU list), returning it to the free list. */
static void drop(struct sl_dnscache *c, uint32_t s)
{
    struct entry *e = &c->e[s];
    uint32_t pos = find_pos(c, e->key, e->key_len, e->hash);
    tab_delete(c, pos);
    lru_unlink(c, s);
    sl_free(e->name);
    e->name = NULL;
    e->next = c->freelist;
    c->freelist = s;
    c->count--;
}

enum sl_dnscache_result sl_dnscache_get(struct sl_dnscache *c, const void *key, size_t key_len,
                                        int64_t now_ns, struct sl_str *name)
{
    if (key_len > KEY_MAX) {
        c->st.misses++;
        return SL_DNSCACHE_MISS;
    }
    uint64_t h = sl_hash64(key, key_len);
    uint32_t s = c->tab[find_pos(c, key, key_len, h)];
    if (s == NIL) {
        c->st.misses++;
        return SL_DNSCACHE_MISS;
    }
    struct entry *e = &c->e[s];
    if (e->expires_at <= now_ns) {
        drop(c, s);
        c->st.expired++;
        c->st.misses++;
        return SL_DNSCACHE_MISS;
    }
    if (c->head != s) {
        lru_unlink(c, s);
        lru_front(c, s);
    }
    if (!e->name) {
        c->st.negative_hits++;
        return SL_DNSCACHE_NEGATIVE;
    }
    c->st.hits++;
    if (name)
        *name = sl_str_make(e->name, e->name_len);
    return SL_DNSCACHE_HIT;
}

int sl_dnscache_put(struct sl_dnscache *c, const void *key, size_t key_len, const char *name,
                    size_t name_len, int64_t expires_at_ns)
{
    if (key_len > KEY_MAX || key_len == 0 || (name && name_len > NAME_MAX))
        return SL_EINVAL;
    char *copy = NULL;
    if (name && !(copy = sl_strndup(name, name_len)))
        return SL_ENOMEM;
    uint64_t h = sl_hash64(key, key_len);
    uint32_t pos = find_pos(c, key, key_len, h);
    uint32_t s = c->tab[pos];
    if (s != NIL) { /* replace */
        struct entry *e = &c->e[s];
        sl_free(e->name);
        e->name = copy;
        e->name_len = copy ? name_len : 0;
        e->expires_at = expires_at_ns;
        if (c->head != s) {
            lru_unlink(c, s);
            lru_front(c, s);
        }
        return 0;
    }
    if (c->count == c->cap) { /* full: evict the least recently used */
        drop(c, c->tail);
        c->st.evicted++;
        pos = find_pos(c, key, key_len, h); /* the deletion may have shifted the table */
    }
    if (c->freelist != NIL) {
        s = c->freelist;
        c->freelist = c->e[s].next;
    } else {
        s = c->used++;
    }
    struct entry *e = &c->e[s];
    memcpy(e->key, key, key_len);
    e->key_len = (uint8_t)key_len;
    e->name = copy;
    e->name_len = copy ? name_len : 0;
    e->expires_at = expires_at_ns;
    e->hash = h;
    c->tab[pos] = s;
    lru_front(c, s);
    c->count++;
    return 0;
}

void sl_dnscache_get_stats(const struct sl_dnscache *c, struct sl_dnscache_stats *out)
{
    *out = c->st;
    out->entries = c->count;
}
