/*
 * queue.c — bounded MPSC/MPMC queue (see queue.h).
 */
#include "sys/queue.h"

#include "base/alloc.h"
#include "base/clock.h"
#include "base/err.h"
#include "sys/thread.h"

#include <stdbool.h>
#include <sys/eventfd.h>
#include <unistd.h>

struct sl_queue {
    struct sl_mutex lock;
    struct sl_cond not_empty; /* guarded_by: lock */
    struct sl_cond not_full;  /* guarded_by: lock */
    void **ring;
    size_t cap;
    size_t head;  /* guarded_by: lock */
    size_t count; /* guarded_by: lock */
    unsigned pop_waiters;
    unsigned push_waiters;
    bool closed;
    int efd;
};

struct sl_queue *sl_queue_new(size_t cap)
{
    struct sl_queue *q = sl_xcalloc(1, sizeof(*q));
    q->cap = cap ? cap : 1;
    q->ring = sl_xcalloc(q->cap, sizeof(void *));
    sl_mutex_init(&q->lock);
    sl_cond_init(&q->not_empty);
    sl_cond_init(&q->not_full);
    q->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    return q;
}

void sl_queue_free(struct sl_queue *q)
{
    if (!q)
        return;
    if (q->efd >= 0)
        close(q->efd);
    sl_cond_fini(&q->not_empty);
    sl_cond_fini(&q->not_full);
    sl_mutex_fini(&q->lock);
    sl_free(q->ring);
    sl_free(q);
}

static void kick_fd(struct sl_queue *q)
{
    if (q->efd >= 0) {
        uint64_t one = 1;
        ssize_t w = write(q->efd, &one, sizeof(one));
        (void)w;
    }
}

/* Called with the lock held and room available. */
static void put(struct sl_queue *q, void *item)
{
    q->ring[(q->head + q->count) % q->cap] = item;
    q->count++;
    if (q->count == 1) {
        if (q->pop_waiters)
            sl_cond_signal(&q->not_empty);
        kick_fd(q);
    }
}

static void *take(struct sl_queue *q)
{
    void *item = q->ring[q->head];
    q->head = (q->head + 1) % q->cap;
    q->count--;
    if (q->count == q->cap - 1 && q->push_waiters)
        sl_cond_signal(&q->not_full);
    return item;
}

int sl_queue_try_push(struct sl_queue *q, void *item)
{
    int rc = 0;
    sl_mutex_lock(&q->lock);
    if (q->closed)
        rc = SL_ECLOSED;
    else if (q->count == q->cap)
        rc = SL_EAGAIN;
    else
        put(q, item);
    sl_mutex_unlock(&q->lock);
    return rc;
}

int sl_queue_push(struct sl_queue *q, void *item, int64_t timeout_ns)
{
    int64_t deadline = timeout_ns >= 0 ? sl_clock_mono_ns() + timeout_ns : 0;
    int rc = 0;
    sl_mutex_lock(&q->lock);
    while (!q->closed && q->count == q->cap) {
        q->push_waiters++;
        if (timeout_ns < 0) {
            sl_cond_wait(&q->not_full, &q->lock);
        } else if (sl_cond_wait_until(&q->not_full, &q->lock, deadline) == SL_ETIMEDOUT &&
                   q->count == q->cap) {
            q->push_waiters--;
            rc = SL_ETIMEDOUT;
            goto out;
        }
        q->push_waiters--;
    }
    if (q->closed)
        rc = SL_ECLOSED;
    else
        put(q, item);
out:
    /* more than one pusher may be waiting: pass the wake-up on while there is room */
    if (q->push_waiters && q->count < q->cap)
        sl_cond_signal(&q->not_full);
    sl_mutex_unlock(&q->lock);
    return rc;
}

int sl_queue_try_pop(struct sl_queue *q, void **item)
{
    int rc = 0;
    sl_mutex_lock(&q->lock);
    if (q->count)
        *item = take(q);
    else
        rc = q->closed ? SL_ECLOSED : SL_EAGAIN;
    sl_mutex_unlock(&q->lock);
    return rc;
}

int sl_queue_pop(struct sl_queue *q, void **item, int64_t timeout_ns)
{
    int64_t deadline = timeout_ns >= 0 ? sl_clock_mono_ns() + timeout_ns : 0;
    int rc = 0;
    sl_mutex_lock(&q->lock);
    while (!q->count && !q->closed) {
        q->pop_waiters++;
        if (timeout_ns < 0) {
            sl_cond_wait(&q->not_empty, &q->lock);
        } else if (sl_cond_wait_until(&q->not_empty, &q->lock, deadline) == SL_ETIMEDOUT &&
                   !q->count) {
            q->pop_waiters--;
            rc = SL_ETIMEDOUT;
            goto out;
        }
        q->pop_waiters--;
    }
    if (q->count)
        *item = take(q);
    else
        rc = SL_ECLOSED;
out:
    if (q->pop_waiters && q->count)
        sl_cond_signal(&q->not_empty);
    sl_mutex_unlock(&q->lock);
    return rc;
}

void sl_queue_close(struct sl_queue *q)
{
    sl_mutex_lock(&q->lock);
    q->closed = true;
    sl_cond_broadcast(&q->not_empty);
    sl_cond_broadcast(&q->not_full);
    kick_fd(q);
    sl_mutex_unlock(&q->lock);
}

size_t sl_queue_count(struct sl_queue *q)
{
    sl_mutex_lock(&q->lock);
    size_t n = q->count;
    sl_mutex_unlock(&q->lock);
    return n;
}

size_t sl_queue_cap(const struct sl_queue *q)
{
    return q->cap;
}

int sl_queue_fd(struct sl_queue *q)
{
    return q->efd;
}

void sl_queue_fd_clear(struct sl_queue *q)
{
    uint64_t v;
    ssize_t r = read(q->efd, &v, sizeof(v));
    (void)r;
}
