/*
 * queue.h — bounded multi-producer queue of pointers with eventfd wake-up.
 *
 * DESIGN: a ring under a mutex. Items are whole batches (about a thousand events), so the
 * lock is taken a few thousand times a second at line rate and costs nothing measurable;
 * what matters (ARCHITECTURE.md: a cross-core wake-up costs 30-80 us) is that sleepers are
 * woken only on the empty -> non-empty and full -> non-full edges. A consumer can block in
 * sl_queue_pop() or poll sl_queue_fd() (readable while items may be present) in an epoll loop.
 *
 * A full queue is back-pressure: sl_queue_try_push() returns SL_EAGAIN, sl_queue_push()
 * waits. After sl_queue_close() pushes fail with SL_ECLOSED and pops drain what is left,
 * then return SL_ECLOSED. Any thread may call any function.
 */
#ifndef SL_SYS_QUEUE_H
#define SL_SYS_QUEUE_H

#include <stddef.h>
#include <stdint.h>

struct sl_queue;

struct sl_queue *sl_queue_new(size_t cap);
void sl_queue_free(struct sl_queue *q);
int sl_queue_try_push(struct sl_queue *q, void *item);
/* Wait up to timeout_ns (-1: forever) for room. 0, SL_ETIMEDOUT or SL_ECLOSED. */
int sl_queue_push(struct sl_queue *q, void *item, int64_t timeout_ns);
/* 0 with *item, SL_EAGAIN when empty, SL_ECLOSED when closed and drained. */
int sl_queue_try_pop(struct sl_queue *q, void **item);
/* Wait up to timeout_ns (-1: forever). 0, SL_ETIMEDOUT or SL_ECLOSED. */
int sl_queue_pop(struct sl_queue *q, void **item, int64_t timeout_ns);
void sl_queue_close(struct sl_queue *q);
size_t sl_queue_count(struct sl_queue *q);
size_t sl_queue_cap(const struct sl_queue *q);
/* eventfd that becomes readable when the queue goes non-empty or is closed. Reading it is
 * the consumer's business (sl_queue_fd_clear). */
int sl_queue_fd(struct sl_queue *q);
void sl_queue_fd_clear(struct sl_queue *q);

#endif
