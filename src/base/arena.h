/*
 * arena.h — bump allocator owned by one thread at a time.
 *
 * DESIGN: memory comes in chunks (the first of `chunk_len` bytes, larger requests get a chunk
 * of their own); nothing is freed one by one. sl_arena_reset() keeps the first chunk so a
 * reused arena (a recycled batch) allocates nothing from the heap in steady state. A cap bounds
 * the total so hostile input cannot grow an arena without limit.
 */
#ifndef SL_BASE_ARENA_H
#define SL_BASE_ARENA_H

#include <stddef.h>
#include <stdint.h>

struct sl_arena_chunk;

struct sl_arena {
    /* private */
    struct sl_arena_chunk *head; /* current chunk (list, newest first) */
    char *cur;
    char *end;
    size_t chunk_len;
    size_t total_len; /* bytes in all chunks */
    size_t max_len;   /* cap on total_len, 0: none */
};

void sl_arena_init(struct sl_arena *a, size_t chunk_len, size_t max_len);
void sl_arena_fini(struct sl_arena *a);
/* Free every chunk but the first; the arena is empty afterwards. */
void sl_arena_reset(struct sl_arena *a);
/* Aligned to 8 (16 for sizes >= 16). NULL on OOM or past the cap. */
void *sl_arena_alloc(struct sl_arena *a, size_t n);
/* Unaligned byte allocation (strings). */
void *sl_arena_alloc_bytes(struct sl_arena *a, size_t n);
/* Copy n bytes and append a NUL. */
char *sl_arena_strndup(struct sl_arena *a, const char *s, size_t n);
/* Bytes handed out plus waste (for accounting). */
size_t sl_arena_used(const struct sl_arena *a);

#endif
