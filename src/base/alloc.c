/*
 * alloc.c — counting allocator with a fail-the-Nth hook (see alloc.h).
 */
#include "base/alloc.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static atomic_uint_fast64_t n_allocs;
static atomic_uint_fast64_t fail_at; /* 0: off; else the counter value that fails */
static atomic_uint_fast64_t n_attempts;
static atomic_uint_fast64_t n_failed;

static int should_fail(void)
{
    uint64_t f = atomic_load_explicit(&fail_at, memory_order_relaxed);
    if (!f)
        return 0;
    uint64_t a = atomic_fetch_add_explicit(&n_attempts, 1, memory_order_relaxed) + 1;
    if (a == f) {
        atomic_fetch_add_explicit(&n_failed, 1, memory_order_relaxed);
        return 1;
    }
    return 0;
}

void *sl_malloc(size_t n)
{
    if (should_fail())
        return NULL;
    void *p = malloc(n ? n : 1);
    if (p)
        atomic_fetch_add_explicit(&n_allocs, 1, memory_order_relaxed);
    return p;
}

void *sl_calloc(size_t count, size_t n)
{
    if (should_fail())
        return NULL;
    void *p = calloc(count ? count : 1, n ? n : 1);
    if (p)
        atomic_fetch_add_explicit(&n_allocs, 1, memory_order_relaxed);
    return p;
}

void *sl_realloc(void *p, size_t n)
{
    if (should_fail())
        return NULL;
    void *q = realloc(p, n ? n : 1);
    if (q)
        atomic_fetch_add_explicit(&n_allocs, 1, memory_order_relaxed);
    return q;
}

void sl_free(void *p)
{
    free(p);
}

char *sl_strndup(const char *s, size_t n)
{
    char *d = sl_malloc(n + 1);
    if (!d)
        return NULL;
    memcpy(d, s, n);
    d[n] = 0;
    return d;
}

char *sl_strdup(const char *s)
{
    return sl_strndup(s, strlen(s));
}

static void oom(size_t n)
{
    fprintf(stderr, "sluice: out of memory allocating %zu bytes\n", n);
    abort();
}

void *sl_xmalloc(size_t n)
{
    void *p = sl_malloc(n);
    if (!p)
        oom(n);
    return p;
}

void *sl_xcalloc(size_t count, size_t n)
{
    void *p = sl_calloc(count, n);
    if (!p)
        oom(count * n);
    return p;
}

void *sl_xrealloc(void *p, size_t n)
{
    void *q = sl_realloc(p, n);
    if (!q)
        oom(n);
    return q;
}

char *sl_xstrdup(const char *s)
{
    char *d = sl_strdup(s);
    if (!d)
        oom(strlen(s));
    return d;
}

char *sl_xstrndup(const char *s, size_t n)
{
    char *d = sl_strndup(s, n);
    if (!d)
        oom(n);
    return d;
}

uint64_t sl_alloc_count(void)
{
    return atomic_load_explicit(&n_allocs, memory_order_relaxed);
}

void sl_alloc_fail_nth(uint64_t n)
{
    atomic_store_explicit(&n_attempts, 0, memory_order_relaxed);
    atomic_store_explicit(&fail_at, n, memory_order_relaxed);
}

uint64_t sl_alloc_failed(void)
{
    return atomic_load_explicit(&n_failed, memory_order_relaxed);
}
