/* loop_test.c — epoll loop: readiness callbacks, modify, stop from another thread. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "sys/loop.h"
#include "sys/thread.h"

#include <unistd.h>

static int fired;

static void on_read(struct sl_loop_handle *h, unsigned ev)
{
    char c;
    if (ev & SL_LOOP_READ && read(h->fd, &c, 1) == 1)
        fired++;
}

static void *stopper(void *arg)
{
    usleep(20000);
    sl_loop_stop(arg);
    return NULL;
}

static void test_loop(void **state)
{
    int p[2];
    assert_int_equal(pipe(p), 0);
    struct sl_loop *l = sl_loop_new();
    struct sl_loop_handle h = {.fd = p[0], .events = SL_LOOP_READ, .cb = on_read};
    assert_int_equal(sl_loop_add(l, &h), 0);
    assert_int_equal(sl_loop_run_once(l, 0), 0); /* nothing ready */
    assert_int_equal(write(p[1], "ab", 2), 2);
    assert_int_equal(sl_loop_run_once(l, 100), 1);
    assert_int_equal(sl_loop_run_once(l, 100), 1);
    assert_int_equal(fired, 2);
    assert_int_equal(sl_loop_mod(l, &h, 0), 0); /* no events wanted */
    assert_int_equal(write(p[1], "c", 1), 1);
    assert_int_equal(sl_loop_run_once(l, 10), 0);
    struct sl_thread t;
    sl_thread_start(&t, "stopper", stopper, l);
    int rc;
    while ((rc = sl_loop_run_once(l, 1000)) >= 0)
        ;
    assert_true(sl_loop_stopped(l));
    sl_thread_join(&t);
    sl_loop_del(l, &h);
    sl_loop_free(l);
    close(p[0]);
    close(p[1]);
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_loop)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
