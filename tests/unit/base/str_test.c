/* str_test.c — views and the number, duration and size parsers used by the config. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "base/err.h"
#include "base/str.h"

static void test_numbers(void **state)
{
    int64_t v;
    assert_int_equal(sl_str_to_i64(SL_STR("-9223372036854775808"), &v), 0);
    assert_true(v == INT64_MIN);
    assert_int_equal(sl_str_to_i64(SL_STR("9223372036854775808"), &v), SL_ERANGE);
    assert_int_equal(sl_str_to_i64(SL_STR("12a"), &v), SL_EINVAL);
    assert_int_equal(sl_str_to_i64(SL_STR("-"), &v), SL_EINVAL);
    assert_int_equal(sl_str_to_i64(SL_STR(""), &v), SL_EINVAL);
    double d;
    assert_int_equal(sl_str_to_double(SL_STR("1.5e3"), &d), 0);
    assert_true(d == 1500);
    assert_int_equal(sl_str_to_double(SL_STR("1.5x"), &d), SL_EINVAL);
}

static void test_durations_sizes(void **state)
{
    int64_t ns;
    assert_int_equal(sl_str_to_duration_ns(SL_STR("250ms"), &ns), 0);
    assert_true(ns == 250000000);
    assert_int_equal(sl_str_to_duration_ns(SL_STR("5m"), &ns), 0);
    assert_true(ns == 300000000000LL);
    assert_int_equal(sl_str_to_duration_ns(SL_STR("10"), &ns), 0);
    assert_true(ns == 10000000000LL);
    assert_int_equal(sl_str_to_duration_ns(SL_STR("1d"), &ns), 0);
    assert_int_equal(sl_str_to_duration_ns(SL_STR("3 weeks"), &ns), SL_EINVAL);
    uint64_t sz;
    assert_int_equal(sl_str_to_size(SL_STR("64KiB"), &sz), 0);
    assert_true(sz == 65536);
    assert_int_equal(sl_str_to_size(SL_STR("1.5MiB"), &sz), 0);
    assert_true(sz == 1572864);
    assert_int_equal(sl_str_to_size(SL_STR("-1"), &sz), SL_EINVAL);
    assert_int_equal(sl_str_to_size(SL_STR("10XB"), &sz), SL_EINVAL);
}

static void test_views(void **state)
{
    struct sl_str s = SL_STR("  hello world ");
    struct sl_str t = sl_str_trim(s);
    assert_true(sl_str_eq_c(t, "hello world"));
    assert_int_equal(sl_str_find(t, 'o', 5), 7);
    assert_int_equal(sl_str_find(t, 'z', 0), -1);
    assert_true(sl_str_starts_with(t, SL_STR("hell")));
    assert_true(sl_str_ends_with(t, SL_STR("world")));
    char out[6];
    assert_int_equal(sl_str_copy(out, sizeof(out), t), 11);
    assert_string_equal(out, "hello");
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_numbers),
                                       cmocka_unit_test(test_durations_sizes),
                                       cmocka_unit_test(test_views)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
