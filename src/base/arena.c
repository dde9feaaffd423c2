/*
 * arena.c — bump allocator (see arena.h).
 */
#include "base/arena.h"

#include "base/alloc.h"

#include <string.h>

struct sl_arena_chunk {
    struct sl_arena_chunk *next;
    size_t len;
    _Alignas(16) char data[];
};

void sl_arena_init(struct sl_arena *a, size_t chunk_len, size_t max_len)
{
    memset(a, 0, sizeof(*a));
    a->chunk_len = chunk_len ? chunk_len : 64 * 1024;
    a->max_len = max_len;
}

void sl_arena_fini(struct sl_arena *a)
{
    struct sl_arena_chunk *c = a->head;
    while (c) {
        struct sl_arena_chunk *n = c->next;
        sl_free(c);
        c = n;
    }
    a->head = NULL;
    a->cur = a->end = NULL;
    a->total_len = 0;
}

void sl_arena_reset(struct sl_arena *a)
{
    struct sl_arena_chunk *c = a->head;
    if (!c)
        return;
    /* keep the oldest chunk if it is a standard one */
    struct sl_arena_chunk *last = c;
    while (last->next)
        last = last->next;
    while (c != last) {
        struct sl_arena_chunk *n = c->next;
        sl_free(c);
        c = n;
    }
    if (last->len != a->chunk_len) {
        sl_free(last);
        a->head = NULL;
        a->cur = a->end = NULL;
        a->total_len = 0;
        return;
    }
    a->head = last;
    a->cur = last->data;
    a->end = last->data + last->len;
    a->total_len = last->len;
}

/* A request larger than a quarter chunk gets a dedicated chunk linked behind the head, so
 * the head's free space stays usable. */
static void *alloc_slow(struct sl_arena *a, size_t n)
{
    size_t len = n > a->chunk_len / 4 ? n : a->chunk_len;
    if (a->max_len && a->total_len + len > a->max_len)
        return NULL;
    struct sl_arena_chunk *c = sl_malloc(sizeof(*c) + len);
    if (!c)
        return NULL;
    c->len = len;
    a->total_len += len;
    if (len != a->chunk_len && a->head) {
        c->next = a->head->next;
        a->head->next = c;
        return c->data;
    }
    c->next = a->head;
    a->head = c;
    a->cur = c->data + n;
    a->end = c->data + len;
    return c->data;
}

void *sl_arena_alloc(struct sl_arena *a, size_t n)
{
    size_t align = n >= 16 ? 16 : 8;
    uintptr_t p = ((uintptr_t)a->cur + (align - 1)) & ~(uintptr_t)(align - 1);
    if (a->cur && p + n <= (uintptr_t)a->end) {
        a->cur = (char *)(p + n);
        return (void *)p;
    }
    return alloc_slow(a, (n + 15) & ~(size_t)15);
}

void *sl_arena_alloc_bytes(struct sl_arena *a, size_t n)
{
    if (a->cur && (size_t)(a->end - a->cur) >= n) {
        void *p = a->cur;
        a->cur += n;
        return p;
    }
    return alloc_slow(a, n);
}

char *sl_arena_strndup(struct sl_arena *a, const char *s, size_t n)
{
    char *d = sl_arena_alloc_bytes(a, n + 1);
    if (!d)
        return NULL;
    memcpy(d, s, n);
    d[n] = 0;
    return d;
}

size_t sl_arena_used(const struct sl_arena *a)
{
    return a->total_len - (a->cur ? (size_t)(a->end - a->cur) : 0);
}
