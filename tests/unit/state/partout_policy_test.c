/*
 * partout_policy_test.c — the Partout master's policy: every threshold transition of the
 * seed's level table (values just below and at each threshold), Ps = clamp(int(Em / D)),
 * Em counted from counts (not requests) over a sliding window where idle minutes count as
 * zero, the per-agent share (the worked table of docs/partout.md), the agent bound, and the
 * configuration checks. The clock is the test's: every call takes now_ns.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "base/err.h"
#include "state/partout_policy.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#define MIN_NS (60 * 1000000000LL)
#define SEC_NS 1000000000LL

static struct sl_partout_conf conf1(void)
{
    struct sl_partout_conf c;
    sl_partout_conf_default(&c);
    c.window_buckets = 1; /* Em = the events of the current minute */
    return c;
}

static void test_levels(void **st)
{
    (void)st;
    struct sl_partout_conf c;
    sl_partout_conf_default(&c);
    static const struct {
        double em;
        int level;
    } cases[] = {
        {0, 4},     {1, 4},     {499, 4},  {499.99, 4}, {500, 3},  {501, 3},
        {1999, 3},  {2000, 2},  {4999, 2}, {5000, 1},   {9999, 1}, {9999.9, 1},
        {10000, 0}, {10001, 0}, {1e9, 0},  {-1, 4},     {NAN, 4},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        int got = sl_partout_level_for(&c, cases[i].em);
        if (got != cases[i].level)
            fail_msg("Em %g: level %d, want %d", cases[i].em, got, cases[i].level);
    }
}

static void test_period_clamp(void **st)
{
    (void)st;
    struct sl_partout_conf c;
    sl_partout_conf_default(&c); /* D 100, Pmin 10, Pmax 3600 */
    assert_int_equal(sl_partout_period_for(&c, 0), 10);
    assert_int_equal(sl_partout_period_for(&c, 999), 10); /* int(9.99) = 9 -> Pmin */
    assert_int_equal(sl_partout_period_for(&c, 1000), 10);
    assert_int_equal(sl_partout_period_for(&c, 1099), 10); /* int(10.99) = 10 */
    assert_int_equal(sl_partout_period_for(&c, 1100), 11);
    assert_int_equal(sl_partout_period_for(&c, 6000), 60);
    assert_int_equal(sl_partout_period_for(&c, 359999), 3599);
    assert_int_equal(sl_partout_period_for(&c, 360000), 3600);
    assert_int_equal(sl_partout_period_for(&c, 1e12), 3600); /* Pmax */
    assert_int_equal(sl_partout_period_for(&c, NAN), 10);    /* Partout: NaN -> Pmin */
    assert_int_equal(sl_partout_period_for(&c, -5), 10);
    c.divisor = 7;
    assert_int_equal(sl_partout_period_for(&c, 700), 100);
}

/* Em from counts, not requests: one post of 600 events is 600, not 1. Then the ramp crosses
 * every threshold in order, read back through the settings an agent gets. */
static void test_counts_not_requests_and_ramp(void **st)
{
    (void)st;
    struct sl_partout_conf c = conf1();
    c.per_agent = false;
    struct sl_partout_policy *p = sl_partout_policy_new(&c, 0);
    struct sl_partout_settings s;
    int64_t t = 5 * SEC_NS;
    assert_int_equal(sl_partout_policy_record(p, "a", 1, 499, t), 0);
    sl_partout_policy_settings(p, "a", 1, t, &s);
    assert_true(s.em == 499);
    assert_int_equal(s.level, 4);
    assert_int_equal(s.period_secs, 10);
    assert_true(s.splay == 0.05);
    assert_int_equal(s.alive_secs, 86400);
    static const struct {
        uint64_t add;
        double em;
        int level;
        int64_t period;
    } ramp[] = {
        {1, 500, 3, 10},     {1499, 1999, 3, 19},       {1, 2000, 2, 20},
        {2999, 4999, 2, 49}, {1, 5000, 1, 50},          {4999, 9999, 1, 99},
        {1, 10000, 0, 100},  {350000, 360000, 0, 3600}, {1000000, 1360000, 0, 3600},
    };
    for (size_t i = 0; i < sizeof(ramp) / sizeof(ramp[0]); i++) {
        sl_partout_policy_record(p, "a", 1, ramp[i].add, t);
        sl_partout_policy_settings(p, "a", 1, t, &s);
        if (s.em != ramp[i].em || s.level != ramp[i].level || s.period_secs != ramp[i].period)
            fail_msg("step %zu: Em %g level %d period %lld; want %g %d %lld", i, s.em, s.level,
                     (long long)s.period_secs, ramp[i].em, ramp[i].level,
                     (long long)ramp[i].period);
    }
    sl_partout_policy_free(p);
}

/* A window of 5 one-minute buckets: Em is the mean; idle minutes are zeros; after 5 idle
 * minutes nothing is left (Partout kept its last busy sample across any gap). */
static void test_window_idle_minutes(void **st)
{
    (void)st;
    struct sl_partout_conf c;
    sl_partout_conf_default(&c);
    struct sl_partout_policy *p = sl_partout_policy_new(&c, 1000);
    int64_t t0 = 1000;
    sl_partout_policy_record(p, "a", 1, 5000, t0);              /* minute 0 */
    assert_true(sl_partout_policy_em(p, t0) == 1000);           /* 5000 / 5 */
    sl_partout_policy_record(p, "a", 1, 2500, t0 + MIN_NS + 1); /* minute 1 */
    assert_true(sl_partout_policy_em(p, t0 + MIN_NS + 1) == 1500);
    /* minutes 2..4 idle: still in the window */
    assert_true(sl_partout_policy_em(p, t0 + 4 * MIN_NS) == 1500);
    /* minute 5: minute 0 leaves */
    assert_true(sl_partout_policy_em(p, t0 + 5 * MIN_NS) == 500);
    /* minute 6: minute 1 leaves; nothing left */
    assert_true(sl_partout_policy_em(p, t0 + 6 * MIN_NS) == 0);
    assert_int_equal(sl_partout_policy_active(p, t0 + 6 * MIN_NS), 0);
    /* a long gap (an hour) then one post: only that post counts */
    sl_partout_policy_record(p, "a", 1, 50, t0 + 66 * MIN_NS);
    assert_true(sl_partout_policy_em(p, t0 + 66 * MIN_NS) == 10);
    /* a clock that goes back counts into the newest bucket */
    sl_partout_policy_record(p, "a", 1, 50, t0 + 2 * MIN_NS);
    assert_true(sl_partout_policy_em(p, t0 + 66 * MIN_NS) == 20);
    sl_partout_policy_free(p);
}

/* Buckets shorter than a minute scale to per minute: 10 one-second buckets holding 100 events
 * are 600 per minute. */
static void test_short_buckets(void **st)
{
    (void)st;
    struct sl_partout_conf c;
    sl_partout_conf_default(&c);
    c.bucket_ns = SEC_NS;
    c.window_buckets = 10;
    struct sl_partout_policy *p = sl_partout_policy_new(&c, 0);
    sl_partout_policy_record(p, "a", 1, 100, 0);
    assert_true(sl_partout_policy_em(p, 0) == 600);
    assert_true(sl_partout_policy_em(p, 9 * SEC_NS) == 600);
    assert_true(sl_partout_policy_em(p, 10 * SEC_NS) == 0);
    sl_partout_policy_free(p);
}

/* The worked table of docs/partout.md: 10 agents, window 1 minute, defaults otherwise.
 * Em = 3000 (master level 2, Ps 30), N = 10; an agent's Xa = Ea * 10. */
static void test_per_agent_share(void **st)
{
    (void)st;
    struct sl_partout_conf c = conf1();
    struct sl_partout_policy *p = sl_partout_policy_new(&c, 0);
    /* one loud agent (2000), one busy (600), four calm (75 each), four quiet (25 each):
     * 2000 + 600 + 300 + 100 = 3000 */
    sl_partout_policy_record(p, "loud", 4, 2000, 0);
    sl_partout_policy_record(p, "busy", 4, 600, 0);
    char id[16];
    for (int i = 0; i < 8; i++) {
        snprintf(id, sizeof(id), "%s%d", i < 4 ? "calm" : "quiet", i);
        sl_partout_policy_record(p, id, strlen(id), i < 4 ? 75 : 25, 0);
    }
    struct sl_partout_settings s;
    sl_partout_policy_settings(p, "loud", 4, 0, &s);
    assert_true(s.em == 3000);
    assert_int_equal(s.agents, 10);
    assert_int_equal(s.master_level, 2);
    assert_int_equal(s.master_period_secs, 30);
    assert_true(s.projected == 20000); /* level(20000) = 0, but never below the master's */
    assert_int_equal(s.level, 2);
    assert_int_equal(s.period_secs, 30);
    sl_partout_policy_settings(p, "busy", 4, 0, &s);
    assert_true(s.projected == 6000); /* level 1 -> the master's 2 */
    assert_int_equal(s.level, 2);
    assert_int_equal(s.period_secs, 30);
    sl_partout_policy_settings(p, "calm1", 5, 0, &s);
    assert_true(s.projected == 750); /* level 3 */
    assert_int_equal(s.level, 3);
    assert_int_equal(s.period_secs, 10);
    sl_partout_policy_settings(p, "quiet5", 6, 0, &s);
    assert_true(s.projected == 250); /* under Tobj: full detail */
    assert_int_equal(s.level, 4);
    assert_int_equal(s.period_secs, 10);
    /* an agent never seen is quiet: full detail */
    sl_partout_policy_settings(p, "new", 3, 0, &s);
    assert_true(s.projected == 0);
    assert_int_equal(s.level, 4);
    assert_int_equal(s.period_secs, 10);
    /* the loud one grows: the master goes to level 0, the quiet ones keep full detail */
    sl_partout_policy_record(p, "loud", 4, 7000, 0); /* Em 10000, N 10 */
    sl_partout_policy_settings(p, "quiet4", 6, 0, &s);
    assert_int_equal(s.master_level, 0);
    assert_true(s.projected == 250);
    assert_int_equal(s.level, 4);
    sl_partout_policy_settings(p, "calm0", 5, 0, &s);
    assert_int_equal(s.level, 3);
    sl_partout_policy_settings(p, "loud", 4, 0, &s);
    assert_int_equal(s.level, 0);
    assert_int_equal(s.period_secs, 100);
    /* per_agent off: every agent gets the master's settings */
    c.per_agent = false;
    struct sl_partout_policy *q = sl_partout_policy_new(&c, 0);
    sl_partout_policy_record(q, "loud", 4, 2000, 0);
    sl_partout_policy_record(q, "quiet", 5, 500, 0);
    sl_partout_policy_settings(q, "quiet", 5, 0, &s);
    assert_int_equal(s.level, 2);
    assert_int_equal(s.period_secs, 25);
    sl_partout_policy_free(q);
    sl_partout_policy_free(p);
}

/* Equal agents get exactly the master's settings (Xa = Em). */
static void test_equal_agents(void **st)
{
    (void)st;
    struct sl_partout_conf c = conf1();
    struct sl_partout_policy *p = sl_partout_policy_new(&c, 0);
    char id[16];
    for (int i = 0; i < 20; i++) {
        snprintf(id, sizeof(id), "a%d", i);
        sl_partout_policy_record(p, id, strlen(id), 300, 0); /* Em 6000 */
    }
    struct sl_partout_settings s;
    sl_partout_policy_settings(p, "a7", 2, 0, &s);
    assert_true(s.em == 6000);
    assert_true(s.projected == 6000);
    assert_int_equal(s.level, 1);
    assert_int_equal(s.master_level, 1);
    assert_int_equal(s.period_secs, 60);
    sl_partout_policy_free(p);
}

/* N counts agents seen in the window, alive notices (count 0) included; an agent that posts
 * in several minutes counts once; agents leave N with the window. */
static void test_active_agents(void **st)
{
    (void)st;
    struct sl_partout_conf c;
    sl_partout_conf_default(&c); /* 5 buckets */
    struct sl_partout_policy *p = sl_partout_policy_new(&c, 0);
    sl_partout_policy_record(p, "a", 1, 10, 0);
    sl_partout_policy_record(p, "b", 1, 0, 0);
    sl_partout_policy_record(p, "a", 1, 10, 2 * MIN_NS);
    sl_partout_policy_record(p, "a", 1, 10, 2 * MIN_NS + 5);
    assert_int_equal(sl_partout_policy_active(p, 2 * MIN_NS), 2);
    assert_int_equal(sl_partout_policy_active(p, 5 * MIN_NS), 1); /* b (minute 0) left */
    struct sl_partout_settings s;
    sl_partout_policy_settings(p, "a", 1, 5 * MIN_NS, &s);
    assert_true(s.agent_epm == 4); /* 20 events of minute 2 over 5 minutes */
    assert_int_equal(sl_partout_policy_active(p, 7 * MIN_NS), 0);
    /* anonymous posts count into Em only */
    sl_partout_policy_record(p, "", 0, 50, 7 * MIN_NS);
    assert_int_equal(sl_partout_policy_active(p, 7 * MIN_NS), 0);
    assert_true(sl_partout_policy_em(p, 7 * MIN_NS) == 10);
    sl_partout_policy_free(p);
}

/* The bound on tracked agents: at the bound, expired agents are dropped for a newcomer; a
 * newcomer that finds no room is counted in Em and N and gets the master's settings. */
static void test_max_agents(void **st)
{
    (void)st;
    struct sl_partout_conf c = conf1();
    c.max_agents = 2;
    struct sl_partout_policy *p = sl_partout_policy_new(&c, 0);
    sl_partout_policy_record(p, "a", 1, 10, 0);
    sl_partout_policy_record(p, "b", 1, 10, 0);
    sl_partout_policy_record(p, "c", 1, 600, 0);
    assert_int_equal(sl_partout_policy_tracked(p), 2);
    assert_int_equal(sl_partout_policy_active(p, 0), 3);
    struct sl_partout_settings s;
    sl_partout_policy_settings(p, "c", 1, 0, &s);
    assert_true(s.em == 620);
    assert_int_equal(s.level, 3); /* the master's */
    /* next minute: a and b left the window, c finds room */
    sl_partout_policy_record(p, "c", 1, 10, MIN_NS);
    assert_int_equal(sl_partout_policy_tracked(p), 1);
    sl_partout_policy_settings(p, "c", 1, MIN_NS, &s);
    assert_true(s.agent_epm == 10);
    sl_partout_policy_free(p);
}

static void test_conf_check(void **st)
{
    (void)st;
    struct sl_partout_conf c;
    struct sl_diag d;
    sl_diag_init(&d);
    sl_partout_conf_default(&c);
    assert_int_equal(sl_partout_conf_check(&c, &d), 0);
    c.divisor = 0;
    assert_int_equal(sl_partout_conf_check(&c, &d), SL_ECONFIG);
    assert_non_null(strstr(d.msg, "divisor"));
    sl_partout_conf_default(&c);
    c.period_max_secs = 5;
    assert_int_equal(sl_partout_conf_check(&c, &d), SL_ECONFIG);
    sl_partout_conf_default(&c);
    c.t_mod = 100; /* below t_obj */
    assert_int_equal(sl_partout_conf_check(&c, &d), SL_ECONFIG);
    sl_partout_conf_default(&c);
    c.window_buckets = 0;
    assert_int_equal(sl_partout_conf_check(&c, &d), SL_ECONFIG);
    sl_partout_conf_default(&c);
    c.splay = 2;
    assert_int_equal(sl_partout_conf_check(&c, &d), SL_ECONFIG);
    sl_partout_conf_default(&c);
    c.bucket_ns = 10;
    assert_int_equal(sl_partout_conf_check(&c, &d), SL_ECONFIG);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_levels),
        cmocka_unit_test(test_period_clamp),
        cmocka_unit_test(test_counts_not_requests_and_ramp),
        cmocka_unit_test(test_window_idle_minutes),
        cmocka_unit_test(test_short_buckets),
        cmocka_unit_test(test_per_agent_share),
        cmocka_unit_test(test_equal_agents),
        cmocka_unit_test(test_active_agents),
        cmocka_unit_test(test_max_agents),
        cmocka_unit_test(test_conf_check),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
