/*
 * profile_fns_test.c — PROFILE_FIXED, PROFILE_WINDOW (and the window selector parser),
 * PROFILE_GET and PROFILE_VERBOSE against a real SQLite store in a temporary directory,
 * with Metron's cases: 17 periods for 4 hours of 15-minute periods, 'from 5 hours ago' at
 * 1530978728982, '30 minute window every 1 hour from 3 hours ago', the default value,
 * groups, and a period-length mismatch that finds nothing.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "base/alloc.h"
#include "base/arena.h"
#include "base/buf.h"
#include "lang/sketch.h"
#include "lang/stellar.h"
#include "lang/sval.h"
#include "state/profile_fns.h"
#include "state/store.h"
#include "state/window.h"
#include "../testkit.h"

#include <stdio.h>
#include <string.h>

#define NOW  1472131630748LL /* Thu 25 Aug 2016 13:27:10.748 GMT */
#define DUR  900000LL
#define NOW2 1530978728982LL /* Sat 7 Jul 2018 15:52:08.982 GMT */

static struct sl_arena arena;
static struct sl_stellar_vm *vm;
static struct sl_store *store;

static bool no_vars(void *ud, sl_sym sym, const char *name, size_t len, struct sl_value *out)
{
    return false;
}

/* Evaluate src; on success the result's Java text goes to out. */
static int eval_text(const char *src, char *out, size_t n)
{
    struct sl_stellar_prog *p;
    struct sl_diag d;
    sl_diag_init(&d);
    int rc = sl_stellar_compile(src, strlen(src), NULL, &p, &d);
    if (rc)
        fail_msg("compile %s: %s", src, d.msg);
    struct sl_stellar_resolver r = {no_vars, NULL, false, NULL, NULL};
    struct sl_value v;
    rc = sl_stellar_eval(vm, p, &r, &arena, &v);
    if (!rc) {
        struct sl_buf b;
        sl_buf_init(&b, 0);
        assert_int_equal(sl_sv_format(&v, &b), 0);
        snprintf(out, n, "%s", b.ptr ? b.ptr : "");
        sl_buf_fini(&b);
    } else {
        snprintf(out, n, "%s", sl_stellar_vm_error(vm));
    }
    sl_stellar_vm_release(vm);
    sl_stellar_free(p);
    sl_arena_reset(&arena);
    return rc;
}

static void expect(const char *src, const char *want)
{
    char got[8192];
    if (eval_text(src, got, sizeof got))
        fail_msg("%s: failed: %s", src, got);
    if (strcmp(got, want))
        fail_msg("%s:\n  want %s\n  got  %s", src, want, got);
}

static void expect_error(const char *src, const char *needle)
{
    char got[8192];
    if (!eval_text(src, got, sizeof got))
        fail_msg("%s: should fail, gave %s", src, got);
    if (!strstr(got, needle))
        fail_msg("%s: error '%s' lacks '%s'", src, got, needle);
}

static int set_global(const char *json)
{
    return sl_profile_client_set_global(json, strlen(json), NULL);
}

/* ---- PROFILE_FIXED */

static void test_fixed(void **state)
{
    sl_stellar_vm_set_now(vm, NOW);
    /* Metron's GetProfileTest: "16 or 17 values" for 4 hours of 15-minute periods; with now
     * inside a period it is 17: the period of now-4h through the period of now */
    expect("LENGTH(PROFILE_FIXED(4, 'HOURS'))", "17");
    expect("GET_FIRST(PROFILE_FIXED(4, 'HOURS'))",
           "{duration=900000, period=1635685, start=1472116500000, end=1472117400000}");
    expect("GET_LAST(PROFILE_FIXED(4, 'HOURS'))",
           "{duration=900000, period=1635701, start=1472130900000, end=1472131800000}");
    /* on a period boundary: still both ends inclusive */
    sl_stellar_vm_set_now(vm, 1472130900000LL);
    expect("LENGTH(PROFILE_FIXED(4, 'HOURS'))", "17");
    sl_stellar_vm_set_now(vm, NOW);
    expect("LENGTH(PROFILE_FIXED(15, 'MINUTES'))", "2");
    expect("LENGTH(PROFILE_FIXED(0, 'MINUTES'))", "1");
    /* overrides: 1-hour periods */
    expect("LENGTH(PROFILE_FIXED(4, 'HOURS', {'profiler.client.period.duration': 1, "
           "'profiler.client.period.duration.units': 'HOURS'}))",
           "5");
    expect("GET_LAST(PROFILE_FIXED(1, 'HOURS', {'profiler.client.period.duration': '2', "
           "'profiler.client.period.duration.units': 'HOURS'}))",
           "{duration=7200000, period=204462, start=1472126400000, end=1472133600000}");
    /* the global settings, overridden per call */
    assert_int_equal(set_global("{\"profiler.client.period.duration\": 30}"), 0);
    expect("LENGTH(PROFILE_FIXED(1, 'HOURS'))", "3");
    expect("LENGTH(PROFILE_FIXED(1, 'HOURS', {'profiler.client.period.duration': 15}))", "5");
    struct sl_diag d;
    sl_diag_init(&d);
    assert_int_equal(sl_profile_client_set_global("[1]", 3, &d), SL_ETYPE);
    assert_int_equal(sl_profile_client_set_global("{", 1, &d), SL_EPARSE);
    assert_int_equal(sl_profile_client_set_global(NULL, 0, NULL), 0);
    expect("LENGTH(PROFILE_FIXED(1, 'HOURS'))", "5");

    expect_error("PROFILE_FIXED(4, 'FORTNIGHTS')", "TimeUnit");
    expect_error("PROFILE_FIXED('x', 'HOURS')", "durationAgo");
    expect_error("PROFILE_FIXED(4, 'HOURS', {'profiler.client.period.duration.units': 'X'})",
                 "profiler.client.period.duration.units");
    expect_error("PROFILE_FIXED(1100, 'DAYS')", "more than");
    expect_error("PROFILE_FIXED(1000000, 'DAYS')", "before 1970");
}

/* ---- the selector parser */

static void window_ok(const char *sel, int64_t now, size_t want_intervals)
{
    struct sl_window *w = NULL;
    struct sl_diag d;
    sl_diag_init(&d);
    if (sl_window_parse(sel, strlen(sel), &w, &d))
        fail_msg("'%s': %s (column %u)", sel, d.msg, d.col);
    int64_t start, end;
    struct sl_window_interval *iv;
    size_t n;
    assert_int_equal(sl_window_intervals(w, now, &start, &end, &iv, &n), 0);
    if (n != want_intervals)
        fail_msg("'%s': %zu intervals, want %zu", sel, n, want_intervals);
    sl_free(iv);
    sl_window_free(w);
}

static void window_bad(const char *sel, int err, uint32_t col, const char *needle)
{
    struct sl_window *w = NULL;
    struct sl_diag d;
    sl_diag_init(&d);
    int rc = sl_window_parse(sel, strlen(sel), &w, &d);
    if (rc != err || d.col != col || !strstr(d.msg, needle))
        fail_msg("'%s': rc %d col %u msg '%s'; want rc %d col %u '%s'", sel, rc, d.col, d.msg, err,
                 col, needle);
    assert_null(w);
}

static void test_window_parser(void **state)
{
    window_ok("5 hours", NOW2, 1);
    window_ok("5 HOURS WINDOW", NOW2, 1);
    window_ok("1 hour(s) window", NOW2, 1);
    window_ok("from 5 hours ago", NOW2, 1);
    window_ok("starting from 2 days ago until 1 day ago", NOW2, 1);
    window_ok("from 1 day ago to 2 days ago", NOW2, 1); /* order does not matter */
    window_ok("30 minute window every 1 hour from 3 hours ago", NOW2, 3);
    window_ok("30 minutes windows every 1 hour starting from 3 hours ago to 1 hour ago", NOW2, 2);
    /* NOW2 is a Saturday: 7 days back starts on a Saturday */
    window_ok("1 hour window every 1 day from 7 days ago", NOW2, 7);
    window_ok("1 hour window every 1 day from 7 days ago excluding weekends", NOW2, 5);
    window_ok("1 hour window every 1 day from 7 days ago including weekends", NOW2, 2);
    window_ok("1 hour window every 1 day from 14 days ago including mondays, tuesday", NOW2, 4);
    window_ok("1 hour window every 1 day from 14 days ago including weekdays excluding "
              "friday",
              NOW2, 8);
    window_ok("1 hour window every 1 day from 14 days ago including this day of week", NOW2, 2);
    window_ok("1 hour window every 1 day from 14 days ago including THIS DAY OF THE WEEK", NOW2, 2);
    window_ok("1 hour window every 1 day from 14 days ago including date:2018/07/02", NOW2, 1);
    window_ok("1 hour window every 1 day from 14 days ago excluding date:20180702:yyyyMMdd", NOW2,
              13);
    window_ok("1 hour window every 1 day from 14 days ago including date:2018/07/02, "
              "date:07-03-2018:MM-dd-yyyy",
              NOW2, 2);
    window_ok("2 hours window every 1 hour from 1 hour ago", NOW2, 0);

    window_bad("", SL_EPARSE, 1, "expected a window selector");
    window_bad("5 hourz", SL_EPARSE, 3, "unknown word 'hourz'");
    window_bad("5", SL_EPARSE, 2, "expected a time unit");
    window_bad("0 hours", SL_EPARSE, 1, "unexpected character '0'");
    window_bad("from 5 hours ago including weekends", SL_EPARSE, 18, "expected the end");
    window_bad("5 hours window every 1 hour", SL_EPARSE, 28, "expected 'from'");
    window_bad("5 hours excluding", SL_EPARSE, 18, "day specifier");
    window_bad("5 hours including holidays", SL_EINVAL, 19, "no holiday calendar");
    window_bad("5 hours including holidays:us:nyc", SL_EINVAL, 19, "no holiday calendar");
    window_bad("5 hours including date", SL_EPARSE, 19, "at least a date");
    window_bad("5 hours including date:2018-07-02", SL_EPARSE, 19, "as a date using");
    window_bad("99999999999 hours", SL_EPARSE, 1, "too large");
    window_bad("5 hours ; drop", SL_EPARSE, 9, "unexpected character ';'");
    window_bad("5 hours 5 hours", SL_EPARSE, 9, "expected the end");
}

/* every allocation of the parser may fail: SL_ENOMEM, nothing leaked (ASan) */
static void test_window_alloc_failures(void **state)
{
    const char *sel = "1 hour window every 1 day from 14 days ago including weekdays";
    for (uint64_t nth = 1; nth < 10; nth++) {
        struct sl_window *w = NULL;
        sl_alloc_fail_nth(nth);
        int rc = sl_window_parse(sel, strlen(sel), &w, NULL);
        struct sl_window_interval *iv = NULL;
        size_t n = 0;
        int64_t a, b;
        if (!rc)
            rc = sl_window_intervals(w, NOW2, &a, &b, &iv, &n);
        sl_alloc_fail_nth(0);
        assert_true(rc == 0 || rc == SL_ENOMEM);
        sl_free(iv);
        sl_window_free(w);
        if (rc == 0 && nth > 3)
            break;
    }
}

/* ---- PROFILE_WINDOW */

static void test_window(void **state)
{
    sl_stellar_vm_set_now(vm, NOW);
    /* Metron's integration tests: 'from 5 hours ago' before the last message of 2018-07-07:
     * the 20 periods that start within [now-5h, now] */
    expect("LENGTH(PROFILE_WINDOW('from 5 hours ago', 1530978728982L))", "20");
    expect("GET_FIRST(PROFILE_WINDOW('from 5 hours ago', 1530978728982L))",
           "{duration=900000, period=1701068, start=1530961200000, end=1530962100000}");
    expect("GET_LAST(PROFILE_WINDOW('from 5 hours ago', 1530978728982L))",
           "{duration=900000, period=1701087, start=1530978300000, end=1530979200000}");
    /* three 30-minute windows, each holding two period starts */
    expect("MAP(PROFILE_WINDOW('30 minute window every 1 hour from 3 hours ago', "
           "1530978728982L), p -> MAP_GET('period', p))",
           "[1701076, 1701077, 1701080, 1701081, 1701084, 1701085]");
    /* now defaults to the VM's; overrides in second or third position */
    expect("LENGTH(PROFILE_WINDOW('1 hour'))", "4");
    expect("LENGTH(PROFILE_WINDOW('1 hour', {'profiler.client.period.duration': 1, "
           "'profiler.client.period.duration.units': 'MINUTES'}))",
           "60");
    expect("LENGTH(PROFILE_WINDOW('1 hour', 1530978728982L, "
           "{'profiler.client.period.duration': 30}))",
           "2");
    expect_error("PROFILE_WINDOW('5 hourz')", "column 3: unknown word 'hourz'");
    expect_error("PROFILE_WINDOW('1 day window every 1 day from 7 days ago including "
                 "holidays')",
                 "no holiday calendar");
    expect_error("PROFILE_WINDOW(5)", "selector must be a string");
    expect_error("PROFILE_WINDOW('1 hour', 9223372036854775807L)", "out of range");
    expect_error("PROFILE_WINDOW('1 hour', -5L)", "before 1970");
    expect_error("PROFILE_FIXED(1, 'HOURS', {'profiler.client.period.duration': "
                 "9223372036854775807L, 'profiler.client.period.duration.units': 'MILLISECONDS'})",
                 "out of range");
    expect_error("PROFILE_WINDOW('1 second window every 1 second from 3 days ago')", "more than");
}

/* ---- PROFILE_GET / PROFILE_VERBOSE against a store */

static void put_fixture(void)
{
    /* periods 1635685..1635701 (PROFILE_FIXED(4, 'HOURS') at NOW): value = Integer index,
     * every third period missing; the same with groups ["a","1"] as value * 100; a STATS */
    struct sl_measurement m[64];
    size_t n = 0;
    for (int64_t i = 0; i < 17; i++) {
        if (i % 3 == 2)
            continue;
        int64_t p = 1635685 + i;
        struct sl_measurement x = {SL_STR("p"), SL_STR("e"), SL_STR("[]"),  p,
                                   DUR,         p * DUR,     p * DUR + DUR, sl_sv_int((int32_t)i)};
        m[n++] = x;
        x.groups = SL_STR("[\"a\",\"1\"]");
        x.value = sl_sv_long(i * 100);
        m[n++] = x;
    }
    struct sl_stats *st = sl_stats_new(0);
    for (int i = 1; i <= 10; i++)
        sl_stats_add(st, i);
    struct sl_value sv = {.type = SL_V_OBJECT};
    sv.u.obj = sl_stats_obj(st);
    struct sl_measurement x = {SL_STR("s"), SL_STR("e"),   SL_STR("[]"),        1635701,
                               DUR,         1635701 * DUR, 1635701 * DUR + DUR, sv};
    m[n++] = x;
    assert_int_equal(sl_store_put(store, m, n), 0);
    sl_object_unref(sl_stats_obj(st));
    assert_int_equal(sl_store_sync(store), 0);
}

static void test_get(void **state)
{
    sl_stellar_vm_set_now(vm, NOW);
    expect_error("PROFILE_GET('p', 'e', PROFILE_FIXED(4, 'HOURS'))",
                 "PROFILE_GET: no profile store configured; start with --store sqlite:PATH");

    char url[256];
    snprintf(url, sizeof url, "sqlite:%s/profiles.db", dir);
    struct sl_diag d;
    sl_diag_init(&d);
    assert_int_equal(sl_store_open(url, &store, &d), 0);
    put_fixture();
    sl_store_set_default(store);

    expect("PROFILE_GET('p', 'e', PROFILE_FIXED(4, 'HOURS'))",
           "[0, 1, 3, 4, 6, 7, 9, 10, 12, 13, 15, 16]");
    /* Integer stays Integer: Integer arithmetic, not Long */
    expect("GET_LAST(PROFILE_GET('p', 'e', PROFILE_FIXED(4, 'HOURS'))) + 2147483647",
           "-2147483633");
    expect("PROFILE_GET('p', 'e', PROFILE_FIXED(30, 'MINUTES'))", "[15, 16]");
    /* default value for missing periods */
    expect("PROFILE_GET('p', 'e', PROFILE_FIXED(4, 'HOURS'), [], "
           "{'profiler.default.value': 0})",
           "[0, 1, 0, 3, 4, 0, 6, 7, 0, 9, 10, 0, 12, 13, 0, 15, 16]");
    expect("PROFILE_GET('p', 'nobody', PROFILE_FIXED(1, 'HOURS'), [], "
           "{'profiler.default.value': 'none'})",
           "[none, none, none, none, none]");
    assert_int_equal(set_global("{\"profiler.default.value\": -1}"), 0);
    expect("PROFILE_GET('p', 'nobody', PROFILE_FIXED(30, 'MINUTES'))", "[-1, -1, -1]");
    assert_int_equal(sl_profile_client_set_global(NULL, 0, NULL), 0);
    /* groups: matched by their text, as a list or (deprecated) one by one */
    expect("PROFILE_GET('p', 'e', PROFILE_FIXED(30, 'MINUTES'), ['a', 1])", "[1500, 1600]");
    expect("PROFILE_GET('p', 'e', PROFILE_FIXED(30, 'MINUTES'), ['a', '1'])", "[1500, 1600]");
    expect("PROFILE_GET('p', 'e', PROFILE_FIXED(30, 'MINUTES'), 'a', 1)", "[1500, 1600]");
    expect("PROFILE_GET('p', 'e', PROFILE_FIXED(30, 'MINUTES'), ['a'])", "[]");
    /* a period length other than the writer's finds nothing, without an error */
    expect("PROFILE_GET('p', 'e', PROFILE_FIXED(4, 'HOURS', "
           "{'profiler.client.period.duration': 1, "
           "'profiler.client.period.duration.units': 'HOURS'}), [], "
           "{'profiler.client.period.duration': 1, "
           "'profiler.client.period.duration.units': 'HOURS'})",
           "[]");
    /* with a window */
    expect("PROFILE_GET('p', 'e', PROFILE_WINDOW('30 minute window every 1 hour from 2 hours "
           "ago'))",
           "[9, 10, 13]");
    /* a sketch comes back as a sketch */
    expect("STATS_COUNT(GET_FIRST(PROFILE_GET('s', 'e', PROFILE_FIXED(10, 'MINUTES'))))", "10.0");
    expect("STATS_SUM(GET_LAST(PROFILE_GET('s', 'e', PROFILE_FIXED(10, 'MINUTES'))))", "55.0");
    expect("PROFILE_GET('p', 'e', [])", "[]");
    expect_error("PROFILE_GET('p', 'e', 5)", "periods must be a list");
    expect_error("PROFILE_GET('p', 'e', [1, 2])", "periods must be a list of periods");
    expect_error("PROFILE_GET(null, 'e', [])", "profile must be a string");

    /* PROFILE_VERBOSE */
    expect("PROFILE_VERBOSE('p', 'e', PROFILE_FIXED(15, 'MINUTES'))",
           "[{profile=p, entity=e, period=1635700, period.start=1472130000000, "
           "period.end=1472130900000, value=15, groups=[]}, {profile=p, entity=e, "
           "period=1635701, period.start=1472130900000, period.end=1472131800000, value=16, "
           "groups=[]}]");
    expect("MAP(PROFILE_VERBOSE('p', 'e', PROFILE_FIXED(15, 'MINUTES'), ['a', 1]), "
           "m -> MAP_GET('value', m))",
           "[1500, 1600]");
    expect("MAP_GET('groups', GET_FIRST(PROFILE_VERBOSE('p', 'e', PROFILE_FIXED(15, "
           "'MINUTES'), ['a', 1])))",
           "[a, 1]");

    /* the VM's own store wins over the default */
    sl_store_set_default(NULL);
    sl_stellar_vm_set_store(vm, store);
    expect("PROFILE_GET('p', 'e', PROFILE_FIXED(30, 'MINUTES'))", "[15, 16]");
    sl_stellar_vm_set_store(vm, NULL);
    sl_store_close(store);
    store = NULL;
}

static int group_setup(void **state)
{
    setup(state);
    sl_arena_init(&arena, 4096, 64u << 20);
    vm = sl_stellar_vm_new();
    return 0;
}

static int group_teardown(void **state)
{
    sl_stellar_vm_free(vm);
    sl_arena_fini(&arena);
    return teardown(state);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fixed),
        cmocka_unit_test(test_window_parser),
        cmocka_unit_test(test_window_alloc_failures),
        cmocka_unit_test(test_window),
        cmocka_unit_test(test_get),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
