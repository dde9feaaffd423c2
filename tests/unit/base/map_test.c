/* map_test.c — the open-addressing map against a plain array, with deletes. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "base/map.h"

#include <stdio.h>
#include <string.h>

#define N 100000

static void test_map(void **state)
{
    static bool present[N];
    struct sl_hmap m;
    sl_hmap_init(&m);
    char key[32];
    for (int i = 0; i < N; i++) {
        int n = snprintf(key, sizeof(key), "key-%d", i);
        assert_int_equal(sl_hmap_put(&m, sl_str_make(key, (size_t)n), (uint64_t)i * 3), 0);
        present[i] = true;
    }
    for (int i = 0; i < N; i += 3) {
        int n = snprintf(key, sizeof(key), "key-%d", i);
        assert_true(sl_hmap_del(&m, sl_str_make(key, (size_t)n)));
        present[i] = false;
    }
    for (int i = 0; i < N; i += 6) { /* re-insert some over tombstones */
        int n = snprintf(key, sizeof(key), "key-%d", i);
        sl_hmap_put(&m, sl_str_make(key, (size_t)n), 7);
        present[i] = true;
    }
    size_t count = 0;
    for (int i = 0; i < N; i++) {
        int n = snprintf(key, sizeof(key), "key-%d", i);
        uint64_t v;
        bool got = sl_hmap_get(&m, sl_str_make(key, (size_t)n), &v);
        assert_int_equal(got, present[i]);
        if (got) {
            assert_int_equal(v, i % 6 == 0 ? 7 : (uint64_t)i * 3);
            count++;
        }
    }
    assert_int_equal(m.count, count);
    size_t it = 0, seen = 0;
    struct sl_str k;
    while (sl_hmap_next(&m, &it, &k, NULL))
        seen++;
    assert_int_equal(seen, count);
    assert_false(sl_hmap_get(&m, SL_STR("nope"), NULL));
    sl_hmap_fini(&m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_map)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
