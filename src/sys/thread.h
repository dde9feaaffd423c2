/*
 * thread.h — threads, mutexes and condition variables (thin pthread wrappers that abort on
 * the impossible errors, so callers do not carry error paths for them).
 */
#ifndef SL_SYS_THREAD_H
#define SL_SYS_THREAD_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

typedef void *(*sl_thread_fn)(void *arg);

struct sl_thread {
    pthread_t tid;
    int started;
};

/* Start a thread named `name` (<= 15 chars shown by top/ps). 0 or a negative errno. */
int sl_thread_start(struct sl_thread *t, const char *name, sl_thread_fn fn, void *arg);
void sl_thread_join(struct sl_thread *t);

struct sl_mutex {
    pthread_mutex_t m;
};
struct sl_cond {
    pthread_cond_t c;
};

void sl_mutex_init(struct sl_mutex *m);
void sl_mutex_fini(struct sl_mutex *m);
void sl_mutex_lock(struct sl_mutex *m);
void sl_mutex_unlock(struct sl_mutex *m);
/* True when the lock was taken; false when another thread holds it. */
bool sl_mutex_trylock(struct sl_mutex *m);
void sl_cond_init(struct sl_cond *c); /* uses CLOCK_MONOTONIC */
void sl_cond_fini(struct sl_cond *c);
void sl_cond_wait(struct sl_cond *c, struct sl_mutex *m);
/* Wait until the monotonic deadline; returns 0 when signalled, SL_ETIMEDOUT otherwise. */
int sl_cond_wait_until(struct sl_cond *c, struct sl_mutex *m, int64_t deadline_mono_ns);
void sl_cond_signal(struct sl_cond *c);
void sl_cond_broadcast(struct sl_cond *c);

/* A thread that calls fn(ud) every interval_ns until stopped (the checkpoint threads of the
 * profiler and the sql transform). fn runs without the ticker's lock. */
struct sl_ticker {
    struct sl_thread th;
    struct sl_mutex mu;
    struct sl_cond cv;
    bool stop; /* guarded_by: mu */
    int64_t interval_ns;
    void (*fn)(void *ud);
    void *ud;
};

/* 0 or a negative errno (then nothing to stop, sl_ticker_stop is still safe). */
int sl_ticker_start(struct sl_ticker *t, const char *name, int64_t interval_ns,
                    void (*fn)(void *ud), void *ud);
/* Wake it, wait for a running fn to return, join. Safe on a zeroed or failed ticker. */
void sl_ticker_stop(struct sl_ticker *t);

/* Number of online CPUs (>= 1). */
int sl_cpu_count(void);

#endif
