/*
 * partout_store_test.c — the Partout store (src/state/partout_store.c): tier transitions
 * with an injected clock, conservation of counts between raw rows and roll-ups (and through
 * the series read, which mixes tiers by age), expiry of each tier, reopening, and what a
 * put costs the caller.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "base/buf.h"
#include "base/clock.h"
#include "state/partout_store.h"
#include "../testkit.h"

#include <stdio.h>
#include <string.h>

#define MONDAY ((int64_t)1767571200000) /* 2026-01-05T00:00:00Z */
#define H      SL_PARTOUT_HOUR_MS
#define D      SL_PARTOUT_DAY_MS

static int64_t fake_now;

static int64_t fake_clock(void *ud)
{
    (void)ud;
    return fake_now;
}

static struct sl_partout_store *open_store(const char *name)
{
    char path[256];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    struct sl_partout_store_opts o = {.clock_ms = fake_clock, .flush_ms = 50};
    struct sl_partout_store *s = NULL;
    struct sl_diag d;
    sl_diag_init(&d);
    if (sl_partout_store_open(path, &o, &s, &d))
        fail_msg("open %s: %s", path, d.msg);
    return s;
}

/* One aggregate of agent with two messages of fs//etc/passwd and one module-level leaf. */
static uint64_t put(struct sl_partout_store *s, const char *agent, uint64_t n)
{
    struct sl_partout_leaf leaves[3] = {
        {.module = sl_str_c("fs"),
         .object = sl_str_c("/etc/passwd"),
         .msg = sl_str_c("changed"),
         .level = sl_str_c("info"),
         .count = n,
         .depth = 4},
        {.module = sl_str_c("fs"),
         .object = sl_str_c("/etc/passwd"),
         .msg = sl_str_c("removed"),
         .level = sl_str_c("error"),
         .count = 2 * n,
         .depth = 4},
        {.module = sl_str_c("net"), .count = 3, .depth = 2},
    };
    struct sl_partout_body pb = {.uuid = sl_str_c(agent),
                                 .hostname = sl_str_c("host-1"),
                                 .period_secs = 60,
                                 .total = 3 * n + 3,
                                 .leaves = leaves,
                                 .nleaves = 3};
    assert_int_equal(sl_partout_store_put(s, &pb, 60, 4, 10), 0);
    return pb.total;
}

static uint64_t total(struct sl_partout_store *s, int tier)
{
    uint64_t c = 0;
    assert_int_equal(sl_partout_store_total(s, tier, &c, NULL), 0);
    return c;
}

/* The series total of one agent over everything (level 0: one count per bucket). */
static uint64_t series_total(struct sl_partout_store *s, const char *agent, int level,
                             struct sl_buf *out)
{
    sl_buf_reset(out);
    assert_int_equal(sl_partout_store_series_json(s, sl_str_c(agent), 0, INT64_MAX / 2, level, out),
                     0);
    const char *t = strstr(out->ptr, "\"total\":");
    assert_non_null(t);
    return strtoull(t + 8, NULL, 10);
}

static void test_tiers_and_conservation(void **state)
{
    (void)state;
    struct sl_partout_store *s = open_store("tiers.db");
    fake_now = MONDAY + 30 * 60 * 1000; /* Monday 00:30 */
    uint64_t g = 0;
    for (int h = 0; h < 24; h++) { /* one aggregate every hour of Monday */
        fake_now = MONDAY + h * H + 30 * 60 * 1000;
        g += put(s, "a1", (uint64_t)h + 1);
    }
    assert_int_equal(sl_partout_store_flush(s), 0);
    /* Monday 23:30: hours 0..22 are complete and rolled; raw keeps the whole day */
    assert_int_equal(total(s, SL_PARTOUT_RAW), g);
    uint64_t last = 24 + 24 * 2 + 3; /* the aggregate of hour 23 */
    assert_int_equal(total(s, SL_PARTOUT_HOUR), g - last);
    assert_int_equal(total(s, SL_PARTOUT_DAY), 0);
    struct sl_buf out;
    sl_buf_init(&out, 0);
    assert_int_equal(series_total(s, "a1", 4, &out), g);
    assert_non_null(strstr(out.ptr, "\"tier\":\"raw\""));

    /* Tuesday 00:10: Monday is complete: raw rolled into hours and the day, then deleted */
    fake_now = MONDAY + D + 10 * 60 * 1000;
    assert_int_equal(sl_partout_store_flush(s), 0);
    assert_int_equal(total(s, SL_PARTOUT_RAW), 0);
    assert_int_equal(total(s, SL_PARTOUT_HOUR), g);
    assert_int_equal(total(s, SL_PARTOUT_DAY), g);
    assert_int_equal(series_total(s, "a1", 0, &out), g);
    assert_non_null(strstr(out.ptr, "\"tier\":\"hour\""));
    assert_null(strstr(out.ptr, "\"tier\":\"raw\""));
    /* grouped by module: fs and net, 24 hours each */
    assert_int_equal(series_total(s, "a1", 2, &out), g);
    assert_non_null(strstr(out.ptr, "\"module\":\"net\",\"count\":3}"));

    /* one aggregate a day for 40 days; the series total equals what was put while nothing
     * has expired, whatever mix of raw/hour/day/week rows it reads */
    for (int day = 1; day <= 40; day++) {
        fake_now = MONDAY + day * D + 12 * H;
        g += put(s, "a1", 1);
        assert_int_equal(series_total(s, "a1", 4, &out), g);
    }
    /* now day 40 (Saturday of week 6): hours older than 7 days, days older than 31 are gone */
    assert_non_null(strstr(out.ptr, "\"tier\":\"week\""));
    assert_non_null(strstr(out.ptr, "\"tier\":\"day\""));
    assert_non_null(strstr(out.ptr, "\"tier\":\"hour\""));
    assert_non_null(strstr(out.ptr, "\"tier\":\"raw\""));
    uint64_t hour_rows = 0, c = 0;
    assert_int_equal(sl_partout_store_total(s, SL_PARTOUT_HOUR, &c, &hour_rows), 0);
    assert_true(hour_rows <= 8 * 3); /* 7 days (and the current one) of one aggregate a day */
    /* the week tier holds every complete week: Monday..Sunday of weeks 1..5 */
    uint64_t weeks = total(s, SL_PARTOUT_WEEK);
    assert_true(weeks > 0 && weeks < g);

    /* 365 days after the last week with data ended, everything has expired */
    fake_now = MONDAY + 420 * D;
    assert_int_equal(sl_partout_store_flush(s), 0);
    assert_int_equal(total(s, SL_PARTOUT_RAW), 0);
    assert_int_equal(total(s, SL_PARTOUT_HOUR), 0);
    assert_int_equal(total(s, SL_PARTOUT_DAY), 0);
    assert_int_equal(total(s, SL_PARTOUT_WEEK), 0);
    assert_int_equal(series_total(s, "a1", 4, &out), 0);
    sl_buf_fini(&out);
    sl_partout_store_close(s);
}

static void test_expiry_per_tier(void **state)
{
    (void)state;
    struct sl_partout_store *s = open_store("expiry.db");
    fake_now = MONDAY + H;
    uint64_t g = put(s, "a1", 5);
    fake_now = MONDAY + 7 * D + 2 * H; /* hour row: 7 days + 1 h old: expired */
    assert_int_equal(sl_partout_store_flush(s), 0);
    assert_int_equal(total(s, SL_PARTOUT_HOUR), 0);
    assert_int_equal(total(s, SL_PARTOUT_DAY), g);
    assert_int_equal(total(s, SL_PARTOUT_WEEK), g);
    fake_now = MONDAY + 32 * D; /* the day is 31 days old */
    assert_int_equal(sl_partout_store_flush(s), 0);
    assert_int_equal(total(s, SL_PARTOUT_DAY), 0);
    assert_int_equal(total(s, SL_PARTOUT_WEEK), g);
    fake_now = MONDAY + 7 * D + 365 * D; /* the week ended 365 days ago */
    assert_int_equal(sl_partout_store_flush(s), 0);
    assert_int_equal(total(s, SL_PARTOUT_WEEK), 0);
    sl_partout_store_close(s);
}

static void test_reopen(void **state)
{
    (void)state;
    fake_now = MONDAY + 5 * H;
    struct sl_partout_store *s = open_store("reopen.db");
    uint64_t g = put(s, "a1", 7) + put(s, "b2", 1);
    sl_partout_store_close(s); /* close commits what is pending */
    s = open_store("reopen.db");
    assert_int_equal(total(s, SL_PARTOUT_RAW), g);
    struct sl_buf out;
    sl_buf_init(&out, 0);
    assert_int_equal(sl_partout_store_agents_json(s, &out), 0);
    assert_non_null(strstr(out.ptr, "\"agent\":\"a1\",\"hostname\":\"host-1\""));
    assert_non_null(strstr(out.ptr, "\"agent\":\"b2\""));
    assert_non_null(strstr(out.ptr, "\"level\":4,\"told_period_secs\":10"));
    sl_buf_reset(&out);
    assert_int_equal(sl_partout_store_series_json(s, sl_str_c("nobody"), 0, 1, 4, &out), SL_ENOENT);
    /* the clock going back does not put rows into rolled buckets */
    fake_now = MONDAY + 2 * D;
    assert_int_equal(sl_partout_store_flush(s), 0);
    fake_now = MONDAY;
    g += put(s, "a1", 1);
    assert_int_equal(series_total(s, "a1", 0, &out) + series_total(s, "b2", 0, &out), g);
    sl_buf_fini(&out);
    sl_partout_store_close(s);
}

/* What a put costs the HTTP thread, against what the writer spends committing. */
static void test_put_cost(void **state)
{
    (void)state;
    fake_now = MONDAY + H;
    struct sl_partout_store *s = open_store("cost.db");
    enum { N = 20000 };
    char agent[32];
    int64_t t0 = sl_clock_mono_ns();
    uint64_t g = 0;
    for (int i = 0; i < N; i++) {
        snprintf(agent, sizeof agent, "agent-%d", i % 1000);
        g += put(s, agent, 1);
    }
    int64_t t1 = sl_clock_mono_ns();
    assert_int_equal(sl_partout_store_flush(s), 0);
    int64_t t2 = sl_clock_mono_ns();
    struct sl_partout_store_stats st;
    sl_partout_store_get_stats(s, &st);
    assert_int_equal(st.aggregates, N);
    assert_int_equal(st.leaves, 3 * N);
    assert_int_equal(total(s, SL_PARTOUT_RAW), g);
    printf("partout store: put %.0f ns/aggregate (caller); %llu commits, %.0f ns/leaf committed "
           "(writer); put+flush %.0f aggregates/s\n",
           (double)(t1 - t0) / N, (unsigned long long)st.commits, (double)st.commit_ns / (3.0 * N),
           N * 1e9 / (double)(t2 - t0));
    sl_partout_store_close(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tiers_and_conservation),
        cmocka_unit_test(test_expiry_per_tier),
        cmocka_unit_test(test_reopen),
        cmocka_unit_test(test_put_cost),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
