/*
 * alloc.h — the one allocator of sluice.
 *
 * Every heap allocation goes through here (checksrc bans raw malloc elsewhere) so that tests
 * can count allocations (to prove a hot path allocates nothing per event) and make the Nth
 * allocation fail (to sweep every error path of a parser).
 *
 * sl_malloc/sl_calloc/sl_realloc may return NULL: use them for sizes that come from input.
 * sl_xmalloc/sl_xcalloc/sl_xrealloc/sl_xstrdup abort with a message on failure: use them for
 * small fixed allocations where OOM is not recoverable anyway.
 *
 * Thread-safe; the counters are relaxed atomics.
 */
#ifndef SL_BASE_ALLOC_H
#define SL_BASE_ALLOC_H

#include <stddef.h>
#include <stdint.h>

void *sl_malloc(size_t n);
void *sl_calloc(size_t count, size_t n);
void *sl_realloc(void *p, size_t n);
void sl_free(void *p);
char *sl_strndup(const char *s, size_t n);
char *sl_strdup(const char *s);

void *sl_xmalloc(size_t n);
void *sl_xcalloc(size_t count, size_t n);
void *sl_xrealloc(void *p, size_t n);
char *sl_xstrdup(const char *s);
char *sl_xstrndup(const char *s, size_t n);

/* Total successful allocations (malloc, calloc, realloc) since start, all threads. */
uint64_t sl_alloc_count(void);
/* Make the nth allocation from now fail (1 = the next one); 0 disables. Test hook. */
void sl_alloc_fail_nth(uint64_t n);
/* Number of allocations that the hook made fail. */
uint64_t sl_alloc_failed(void);

#endif
