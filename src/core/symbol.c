/*
 * symbol.c — the process-wide symbol table (see symbol.h).
 *
 * DESIGN: names are stored in pages of 4096 entries that are never moved or freed, so readers
 * index them without a lock (a page pointer is published with a release store before any id
 * in it is handed out). The name -> id map is an sl_hmap under a mutex; in front of it each
 * thread keeps a 1024-entry direct-mapped cache of (hash, id), verified against the stored
 * name, so the parser's steady state is one XXH3 of the key and one memcmp.
 */
#include "core/symbol.h"

#include "base/alloc.h"
#include "base/hash.h"
#include "base/map.h"
#include "sys/thread.h"

#include <pthread.h>
#include <stdatomic.h>

#define PAGE_BITS 12
#define PAGE_SIZE (1u << PAGE_BITS)
#define NPAGES    (SL_SYM_MAX / PAGE_SIZE)
#define MAX_NAME  (64u * 1024u)

struct name {
    const char *ptr;
    uint32_t len;
};

static _Atomic(struct name *) pages[NPAGES];
static atomic_uint n_syms = 1; /* next id; 0 is "none" */
static struct sl_hmap table;   /* guarded_by: lock */
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;

struct cache_slot {
    uint64_t hash;
    sl_sym sym;
};
static _Thread_local struct cache_slot cache[1024];

struct sl_str sl_sym_name(sl_sym s)
{
    if (s == 0 || s >= atomic_load_explicit(&n_syms, memory_order_acquire))
        return sl_str_make("", 0);
    struct name *pg = atomic_load_explicit(&pages[s >> PAGE_BITS], memory_order_acquire);
    struct name *n = &pg[s & (PAGE_SIZE - 1)];
    return sl_str_make(n->ptr, n->len);
}

uint32_t sl_sym_count(void)
{
    return atomic_load(&n_syms) - 1;
}

static sl_sym locked_find(const char *p, size_t n)
{
    uint64_t v;
    if (sl_hmap_get(&table, sl_str_make(p, n), &v))
        return (sl_sym)v;
    return 0;
}

sl_sym sl_sym_lookup(const char *p, size_t n)
{
    pthread_mutex_lock(&lock);
    sl_sym s = locked_find(p, n);
    pthread_mutex_unlock(&lock);
    return s;
}

static sl_sym intern_slow(const char *p, size_t n)
{
    pthread_mutex_lock(&lock);
    sl_sym s = locked_find(p, n);
    if (s)
        goto out;
    uint32_t id = atomic_load_explicit(&n_syms, memory_order_relaxed);
    if (id >= SL_SYM_MAX)
        goto out;
    struct name *pg = atomic_load_explicit(&pages[id >> PAGE_BITS], memory_order_relaxed);
    if (!pg) {
        pg = sl_calloc(PAGE_SIZE, sizeof(struct name));
        if (!pg)
            goto out;
        atomic_store_explicit(&pages[id >> PAGE_BITS], pg, memory_order_release);
    }
    char *copy = sl_strndup(p, n);
    if (!copy)
        goto out;
    if (sl_hmap_put(&table, sl_str_make(copy, n), id)) {
        sl_free(copy);
        goto out;
    }
    pg[id & (PAGE_SIZE - 1)] = (struct name){copy, (uint32_t)n};
    atomic_store_explicit(&n_syms, id + 1, memory_order_release);
    s = id;
out:
    pthread_mutex_unlock(&lock);
    return s;
}

sl_sym sl_sym_intern(const char *p, size_t n)
{
    if (n > MAX_NAME)
        return 0;
    uint64_t h = sl_hash64(p, n);
    struct cache_slot *c = &cache[h & 1023];
    if (c->hash == h && c->sym) {
        struct sl_str nm = sl_sym_name(c->sym);
        if (nm.len == n && memcmp(nm.ptr, p, n) == 0)
            return c->sym;
    }
    sl_sym s = intern_slow(p, n);
    if (s) {
        c->hash = h;
        c->sym = s;
    }
    return s;
}
