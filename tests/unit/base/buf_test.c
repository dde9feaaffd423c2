/* buf_test.c — the capped growable buffer. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "base/alloc.h"
#include "base/buf.h"
#include "base/err.h"

#include <string.h>

static void test_buf(void **state)
{
    struct sl_buf b;
    sl_buf_init(&b, 16);
    assert_int_equal(sl_buf_puts(&b, "hello"), 0);
    assert_int_equal(sl_buf_appendf(&b, " %d", 42), 0);
    assert_string_equal(b.ptr, "hello 42");
    assert_int_equal(sl_buf_puts(&b, "0123456789"), SL_E2BIG); /* 18 > 16 */
    assert_string_equal(b.ptr, "hello 42");                    /* unchanged */
    sl_buf_consume(&b, 6);
    assert_string_equal(b.ptr, "42");
    size_t n;
    char *p = sl_buf_steal(&b, &n);
    assert_int_equal(n, 2);
    assert_null(b.ptr);
    sl_free(p);
    sl_buf_init(&b, 0);
    char big[1000];
    memset(big, 'x', sizeof(big));
    for (int i = 0; i < 100; i++)
        assert_int_equal(sl_buf_append(&b, big, sizeof(big)), 0);
    assert_int_equal(b.len, 100000);
    assert_int_equal(sl_buf_appendf(&b, "%0500d", 7), 0); /* longer than the stack scratch */
    assert_int_equal(b.len, 100500);
    sl_buf_fini(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_buf)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
