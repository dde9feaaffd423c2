/*
 * outage_test.c — once-per-episode reporting: the first failure logs, repeats within the
 * reminder interval do not, a reminder comes after it, a success ends the episode with its
 * failure count and duration, and a second episode starts over.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "base/outage.h"

#include <string.h>

static void test_episodes(void **state)
{
    (void)state;
    struct sl_outage o;
    memset(&o, 0, sizeof o);
    uint64_t failures = 99;
    int64_t lasted = -1;
    assert_false(sl_outage_ok(&o, 5, &failures, &lasted)); /* no episode: nothing to say */
    assert_int_equal(failures, 99);
    assert_false(sl_outage_active(&o));
    int64_t t = 1000;
    assert_true(sl_outage_fail(&o, t));
    assert_true(sl_outage_active(&o));
    int logged = 0;
    for (int i = 1; i <= 1000; i++) /* 1000 retries, 10 ms apart: 10 s, no new line */
        logged += sl_outage_fail(&o, t + i * 10000000LL);
    assert_int_equal(logged, 0);
    assert_true(sl_outage_fail(&o, t + SL_OUTAGE_REMIND_NS)); /* the reminder */
    assert_false(sl_outage_fail(&o, t + SL_OUTAGE_REMIND_NS + 1));
    assert_true(sl_outage_ok(&o, t + 70000000000LL, &failures, &lasted));
    assert_int_equal(failures, 1003);
    assert_int_equal(lasted, 70000000000LL);
    assert_false(sl_outage_active(&o));
    assert_false(sl_outage_ok(&o, t + 70000000001LL, NULL, NULL)); /* said once */
    /* a second episode: logs at once again, counts from 1 */
    assert_true(sl_outage_fail(&o, t + 80000000000LL));
    assert_true(sl_outage_ok(&o, t + 80000000005LL, &failures, NULL));
    assert_int_equal(failures, 1);
    assert_int_equal(o.episodes, 2);
    /* time 0 still starts an episode */
    memset(&o, 0, sizeof o);
    assert_true(sl_outage_fail(&o, 0));
    assert_true(sl_outage_active(&o));
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_episodes)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
