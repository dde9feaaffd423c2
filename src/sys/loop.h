/*
 * loop.h — a small epoll event loop, one per thread (after libuv: one loop per thread,
 * handles registered with a callback).
 *
 * A handle is an fd plus a callback invoked with the ready events (SL_LOOP_READ/WRITE/ERR).
 * sl_loop_run() returns when sl_loop_stop() is called (from the loop's own thread or any
 * other: it writes an eventfd) or when the timeout passed to sl_loop_run_once() elapses.
 */
#ifndef SL_SYS_LOOP_H
#define SL_SYS_LOOP_H

#include <stdint.h>

#define SL_LOOP_READ  1u
#define SL_LOOP_WRITE 2u
#define SL_LOOP_ERR   4u

struct sl_loop;
struct sl_loop_handle;
typedef void (*sl_loop_fn)(struct sl_loop_handle *h, unsigned events);

struct sl_loop_handle {
    int fd;
    unsigned events;
    sl_loop_fn cb;
    void *data;
};

struct sl_loop *sl_loop_new(void);
void sl_loop_free(struct sl_loop *l);
/* Register h (caller-owned, must outlive the registration). 0 or negative errno. */
int sl_loop_add(struct sl_loop *l, struct sl_loop_handle *h);
int sl_loop_mod(struct sl_loop *l, struct sl_loop_handle *h, unsigned events);
void sl_loop_del(struct sl_loop *l, struct sl_loop_handle *h);
/* Wait up to timeout_ms (-1 forever) and dispatch ready handles once. Returns the number
 * dispatched, or SL_ECLOSED when stopped. */
int sl_loop_run_once(struct sl_loop *l, int timeout_ms);
/* Thread-safe. */
void sl_loop_stop(struct sl_loop *l);
int sl_loop_stopped(struct sl_loop *l);

#endif
