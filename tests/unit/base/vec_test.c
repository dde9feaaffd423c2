/* vec_test.c — growable arrays; hash_test: XXH3 is stable and seeded; log: levels and rate limit.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "base/hash.h"
#include "base/log.h"
#include "base/vec.h"

static void test_vec(void **state)
{
    struct sl_vec v = SL_VEC_INIT(int);
    for (int i = 0; i < 1000; i++)
        assert_int_equal(sl_vec_push(&v, &i), 0);
    assert_int_equal(v.count, 1000);
    assert_int_equal(SL_VEC_AT(&v, int, 999), 999);
    assert_null(sl_vec_at(&v, 1000));
    int *z = sl_vec_push_zero(&v);
    assert_int_equal(*z, 0);
    sl_vec_fini(&v);
}

static void test_hash(void **state)
{
    assert_int_equal(sl_hash64("abc", 3), sl_hash64("abc", 3));
    assert_int_not_equal(sl_hash64("abc", 3), sl_hash64("abd", 3));
    assert_int_not_equal(sl_hash64_seed("abc", 3, 1), sl_hash64_seed("abc", 3, 2));
}

static void test_log_levels(void **state)
{
    assert_int_equal(sl_log_level_parse("warn"), SL_LOG_WARN);
    assert_int_equal(sl_log_level_parse("warning"), SL_LOG_WARN);
    assert_int_equal(sl_log_level_parse("loud"), -1);
    sl_log_set_level(SL_LOG_OFF);
    struct sl_log_limit lim = {0};
    for (int i = 0; i < 100; i++)
        sl_log_ratelimited(&lim, 5, SL_LOG_ERROR, "t", "x %d", i);
    assert_int_equal(lim.count, 0); /* off: nothing counted, nothing printed */
    sl_log_set_level(SL_LOG_ERROR);
    for (int i = 0; i < 100; i++)
        sl_log_ratelimited(&lim, 5, SL_LOG_ERROR, "t", "rate-limited test line %d", i);
    assert_int_equal(lim.count, 5);
    assert_int_equal(lim.suppressed, 95);
    sl_log_set_level(SL_LOG_INFO);
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_vec), cmocka_unit_test(test_hash),
                                       cmocka_unit_test(test_log_levels)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
