/* alloc_test.c — the counting allocator and its fail-the-Nth hook. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "base/alloc.h"

static void test_count_and_fail(void **state)
{
    uint64_t before = sl_alloc_count();
    void *p = sl_malloc(10);
    assert_non_null(p);
    assert_int_equal(sl_alloc_count(), before + 1);
    sl_alloc_fail_nth(2);
    void *a = sl_malloc(1);
    void *b = sl_malloc(1); /* the second one fails */
    void *c = sl_malloc(1);
    sl_alloc_fail_nth(0);
    assert_non_null(a);
    assert_null(b);
    assert_non_null(c);
    assert_true(sl_alloc_failed() >= 1);
    char *s = sl_strndup("hello", 3);
    assert_string_equal(s, "hel");
    sl_free(s);
    sl_free(a);
    sl_free(c);
    sl_free(p);
    sl_free(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_count_and_fail)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
