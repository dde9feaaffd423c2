/*
 * thread.c — pthread wrappers (see thread.h).
 */
#include "sys/thread.h"

#include "base/clock.h"
#include "base/err.h"
#include "base/log.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

int sl_thread_start(struct sl_thread *t, const char *name, sl_thread_fn fn, void *arg)
{
    int rc = pthread_create(&t->tid, NULL, fn, arg);
    if (rc) {
        t->started = 0;
        return -rc;
    }
    t->started = 1;
    if (name) {
        char n[16];
        snprintf(n, sizeof(n), "%s", name);
        pthread_setname_np(t->tid, n);
    }
    return 0;
}

void sl_thread_join(struct sl_thread *t)
{
    if (t->started) {
        pthread_join(t->tid, NULL);
        t->started = 0;
    }
}

void sl_mutex_init(struct sl_mutex *m)
{
    sl_assert(pthread_mutex_init(&m->m, NULL) == 0);
}

void sl_mutex_fini(struct sl_mutex *m)
{
    pthread_mutex_destroy(&m->m);
}

void sl_mutex_lock(struct sl_mutex *m)
{
    sl_assert(pthread_mutex_lock(&m->m) == 0);
}

void sl_mutex_unlock(struct sl_mutex *m)
{
    sl_assert(pthread_mutex_unlock(&m->m) == 0);
}

bool sl_mutex_trylock(struct sl_mutex *m)
{
    int rc = pthread_mutex_trylock(&m->m);
    sl_assert(rc == 0 || rc == EBUSY);
    return rc == 0;
}

void sl_cond_init(struct sl_cond *c)
{
    pthread_condattr_t a;
    pthread_condattr_init(&a);
    pthread_condattr_setclock(&a, CLOCK_MONOTONIC);
    sl_assert(pthread_cond_init(&c->c, &a) == 0);
    pthread_condattr_destroy(&a);
}

void sl_cond_fini(struct sl_cond *c)
{
    pthread_cond_destroy(&c->c);
}

void sl_cond_wait(struct sl_cond *c, struct sl_mutex *m)
{
    pthread_cond_wait(&c->c, &m->m);
}

int sl_cond_wait_until(struct sl_cond *c, struct sl_mutex *m, int64_t deadline)
{
    struct timespec ts = {.tv_sec = deadline / 1000000000, .tv_nsec = deadline % 1000000000};
    int rc = pthread_cond_timedwait(&c->c, &m->m, &ts);
    return rc == ETIMEDOUT ? SL_ETIMEDOUT : 0;
}

void sl_cond_signal(struct sl_cond *c)
{
    pthread_cond_signal(&c->c);
}

void sl_cond_broadcast(struct sl_cond *c)
{
    pthread_cond_broadcast(&c->c);
}

int sl_cpu_count(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (int)n : 1;
}

static void *ticker_main(void *arg)
{
    struct sl_ticker *t = arg;
    sl_mutex_lock(&t->mu);
    while (!t->stop) {
        int64_t deadline = sl_clock_mono_ns() + t->interval_ns;
        while (!t->stop && sl_clock_mono_ns() < deadline)
            sl_cond_wait_until(&t->cv, &t->mu, deadline);
        if (t->stop)
            break;
        sl_mutex_unlock(&t->mu);
        t->fn(t->ud);
        sl_mutex_lock(&t->mu);
    }
    sl_mutex_unlock(&t->mu);
    return NULL;
}

int sl_ticker_start(struct sl_ticker *t, const char *name, int64_t interval_ns,
                    void (*fn)(void *ud), void *ud)
{
    sl_mutex_init(&t->mu);
    sl_cond_init(&t->cv);
    t->stop = false;
    t->interval_ns = interval_ns;
    t->fn = fn;
    t->ud = ud;
    int rc = sl_thread_start(&t->th, name, ticker_main, t);
    if (rc) {
        sl_cond_fini(&t->cv);
        sl_mutex_fini(&t->mu);
    }
    return rc;
}

void sl_ticker_stop(struct sl_ticker *t)
{
    if (!t->th.started)
        return;
    sl_mutex_lock(&t->mu);
    t->stop = true;
    sl_cond_signal(&t->cv);
    sl_mutex_unlock(&t->mu);
    sl_thread_join(&t->th);
    sl_cond_fini(&t->cv);
    sl_mutex_fini(&t->mu);
}
