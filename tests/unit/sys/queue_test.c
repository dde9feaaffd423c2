/* queue_test.c — the bounded queue: many producers, blocking with timeouts, close, eventfd. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "base/err.h"
#include "sys/queue.h"
#include "sys/thread.h"

#include <poll.h>
#include <stdint.h>
#include <stdlib.h>

#define PRODUCERS 4
#define PER       100000

static struct sl_queue *q;

static void *producer(void *arg)
{
    uintptr_t base = (uintptr_t)arg * PER;
    for (uintptr_t i = 0; i < PER; i++)
        assert_int_equal(sl_queue_push(q, (void *)(base + i + 1), -1), 0);
    return NULL;
}

static void test_mpsc_every_item_once(void **state)
{
    q = sl_queue_new(64);
    static uint8_t seen[PRODUCERS * PER + 1];
    struct sl_thread th[PRODUCERS];
    for (uintptr_t i = 0; i < PRODUCERS; i++)
        assert_int_equal(sl_thread_start(&th[i], "prod", producer, (void *)i), 0);
    for (size_t n = 0; n < PRODUCERS * PER; n++) {
        void *item;
        assert_int_equal(sl_queue_pop(q, &item, -1), 0);
        uintptr_t v = (uintptr_t)item;
        assert_true(v >= 1 && v <= PRODUCERS * PER);
        assert_int_equal(seen[v], 0);
        seen[v] = 1;
    }
    for (int i = 0; i < PRODUCERS; i++)
        sl_thread_join(&th[i]);
    void *item;
    assert_int_equal(sl_queue_try_pop(q, &item), SL_EAGAIN);
    sl_queue_free(q);
}

static void test_full_timeout_close(void **state)
{
    struct sl_queue *s = sl_queue_new(2);
    assert_int_equal(sl_queue_try_push(s, (void *)1), 0);
    assert_int_equal(sl_queue_try_push(s, (void *)2), 0);
    assert_int_equal(sl_queue_try_push(s, (void *)3), SL_EAGAIN);
    assert_int_equal(sl_queue_push(s, (void *)3, 20000000), SL_ETIMEDOUT);
    assert_int_equal(sl_queue_count(s), 2);
    struct pollfd p = {.fd = sl_queue_fd(s), .events = POLLIN};
    assert_int_equal(poll(&p, 1, 0), 1); /* readable: items present */
    sl_queue_close(s);
    assert_int_equal(sl_queue_try_push(s, (void *)4), SL_ECLOSED);
    void *item;
    assert_int_equal(sl_queue_pop(s, &item, -1), 0);
    assert_ptr_equal(item, (void *)1);
    assert_int_equal(sl_queue_pop(s, &item, -1), 0);
    assert_int_equal(sl_queue_pop(s, &item, -1), SL_ECLOSED); /* drained */
    assert_int_equal(sl_queue_pop(s, &item, 1000), SL_ECLOSED);
    sl_queue_free(s);
    struct sl_queue *e = sl_queue_new(1);
    assert_int_equal(sl_queue_pop(e, &item, 10000000), SL_ETIMEDOUT);
    sl_queue_free(e);
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_mpsc_every_item_once),
                                       cmocka_unit_test(test_full_timeout_close)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
