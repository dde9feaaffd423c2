/* arena_test.c — bump allocation, alignment, big blocks, the cap, reset. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "base/arena.h"

#include <stdint.h>
#include <string.h>

static void test_arena(void **state)
{
    struct sl_arena a;
    sl_arena_init(&a, 1024, 8192);
    for (int i = 0; i < 50; i++) {
        char *p = sl_arena_alloc(&a, 24);
        assert_non_null(p);
        assert_int_equal((uintptr_t)p % 16, 0);
        memset(p, i, 24);
    }
    char *b = sl_arena_alloc_bytes(&a, 3);
    assert_non_null(b);
    char *big = sl_arena_alloc(&a, 4000); /* larger than a chunk: a block of its own */
    assert_non_null(big);
    memset(big, 1, 4000);
    assert_null(sl_arena_alloc(&a, 9000)); /* past the cap */
    char *s = sl_arena_strndup(&a, "abcdef", 4);
    assert_string_equal(s, "abcd");
    size_t used = sl_arena_used(&a);
    assert_true(used >= 50 * 24 + 4000);
    sl_arena_reset(&a);
    assert_true(sl_arena_used(&a) < used);
    assert_non_null(sl_arena_alloc(&a, 100));
    sl_arena_fini(&a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_arena)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
