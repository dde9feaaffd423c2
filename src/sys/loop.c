/*
 * loop.c — epoll loop (see loop.h).
 */
#include "sys/loop.h"

#include "base/alloc.h"
#include "base/err.h"

#include <errno.h>
#include <stdatomic.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

struct sl_loop {
    int epfd;
    int stopfd;
    atomic_int stopped;
};

struct sl_loop *sl_loop_new(void)
{
    struct sl_loop *l = sl_xcalloc(1, sizeof(*l));
    l->epfd = epoll_create1(EPOLL_CLOEXEC);
    l->stopfd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = NULL};
    epoll_ctl(l->epfd, EPOLL_CTL_ADD, l->stopfd, &ev);
    return l;
}

void sl_loop_free(struct sl_loop *l)
{
    if (!l)
        return;
    close(l->epfd);
    close(l->stopfd);
    sl_free(l);
}

static uint32_t to_epoll(unsigned ev)
{
    uint32_t e = 0;
    if (ev & SL_LOOP_READ)
        e |= EPOLLIN | EPOLLRDHUP;
    if (ev & SL_LOOP_WRITE)
        e |= EPOLLOUT;
    return e;
}

int sl_loop_add(struct sl_loop *l, struct sl_loop_handle *h)
{
    struct epoll_event ev = {.events = to_epoll(h->events), .data.ptr = h};
    if (epoll_ctl(l->epfd, EPOLL_CTL_ADD, h->fd, &ev) < 0)
        return -errno;
    return 0;
}

int sl_loop_mod(struct sl_loop *l, struct sl_loop_handle *h, unsigned events)
{
    h->events = events;
    struct epoll_event ev = {.events = to_epoll(events), .data.ptr = h};
    if (epoll_ctl(l->epfd, EPOLL_CTL_MOD, h->fd, &ev) < 0)
        return -errno;
    return 0;
}

void sl_loop_del(struct sl_loop *l, struct sl_loop_handle *h)
{
    epoll_ctl(l->epfd, EPOLL_CTL_DEL, h->fd, NULL);
}

int sl_loop_run_once(struct sl_loop *l, int timeout_ms)
{
    if (atomic_load(&l->stopped))
        return SL_ECLOSED;
    struct epoll_event evs[64];
    int n = epoll_wait(l->epfd, evs, 64, timeout_ms);
    if (n < 0)
        return errno == EINTR ? 0 : -errno;
    int done = 0;
    for (int i = 0; i < n; i++) {
        struct sl_loop_handle *h = evs[i].data.ptr;
        if (!h)
            continue; /* stopfd */
        unsigned e = 0;
        if (evs[i].events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP))
            e |= SL_LOOP_READ;
        if (evs[i].events & EPOLLOUT)
            e |= SL_LOOP_WRITE;
        if (evs[i].events & (EPOLLERR | EPOLLHUP))
            e |= SL_LOOP_ERR;
        h->cb(h, e);
        done++;
    }
    return atomic_load(&l->stopped) ? SL_ECLOSED : done;
}

void sl_loop_stop(struct sl_loop *l)
{
    atomic_store(&l->stopped, 1);
    uint64_t one = 1;
    ssize_t w = write(l->stopfd, &one, sizeof(one));
    (void)w;
}

int sl_loop_stopped(struct sl_loop *l)
{
    return atomic_load(&l->stopped);
}
