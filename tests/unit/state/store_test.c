/*
 * store_test.c — the SQLite profile store: every value type round-trips with its Java width
 * (Integer stays Integer, a STATS sketch keeps its count and sum), a put replaces the same
 * key, listings, series, expire, sync and stats, reopening the file, URL errors, and readers
 * on several threads while the writer commits.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "base/arena.h"
#include "base/buf.h"
#include "lang/sketch.h"
#include "lang/sval.h"
#include "state/store.h"
#include "../testkit.h"

#include <math.h>
#include <sqlite3.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#define DUR 900000LL

static struct sl_store *open_in_dir(const char *name)
{
    char url[256];
    snprintf(url, sizeof url, "sqlite:%s/%s", dir, name);
    struct sl_store *s = NULL;
    struct sl_diag d;
    sl_diag_init(&d);
    if (sl_store_open(url, &s, &d))
        fail_msg("open %s: %s", url, d.msg);
    return s;
}

static struct sl_measurement meas(const char *profile, const char *entity, const char *groups,
                                  int64_t period, struct sl_value v)
{
    struct sl_measurement m = {
        .profile = sl_str_c(profile),
        .entity = sl_str_c(entity),
        .groups = sl_str_c(groups),
        .period = period,
        .duration_ms = DUR,
        .start_ms = period * DUR,
        .end_ms = period * DUR + DUR,
        .value = v,
    };
    return m;
}

static struct sl_value obj(struct sl_object *o)
{
    struct sl_value v = {.type = SL_V_OBJECT};
    v.u.obj = o;
    return v;
}

static void text_of(const struct sl_value *v, char *out, size_t n)
{
    struct sl_buf b;
    sl_buf_init(&b, 0);
    assert_int_equal(sl_sv_format(v, &b), 0);
    snprintf(out, n, "%s", b.ptr ? b.ptr : "");
    sl_buf_fini(&b);
}

static void test_round_trip(void **state)
{
    struct sl_store *s = open_in_dir("types.db");
    struct sl_arena a;
    sl_arena_init(&a, 4096, 0);

    struct sl_value list = {.type = SL_V_LIST, .len = 3};
    struct sl_value items[3] = {sl_sv_long(1), sl_value_str("x", 1), sl_value_bool(true)};
    list.u.list = items;
    struct sl_value set = list;
    set.flags = SL_VF_SET;
    struct sl_kv kvs[2] = {{SL_STR("k"), sl_sv_long(7)}, {SL_STR("s"), sl_value_str("v", 1)}};
    struct sl_value map = {.type = SL_V_MAP, .len = 2};
    map.u.map = kvs;
    struct sl_stats *st = sl_stats_new(0);
    for (int i = 1; i <= 10; i++)
        sl_stats_add(st, i);
    struct sl_hllp *h = sl_hllp_new(14, 25);
    for (int i = 0; i < 100; i++)
        sl_hllp_add(h, &i, sizeof i);
    struct sl_bloom *bl = NULL;
    assert_int_equal(sl_bloom_new(1000, 0.01, &bl), 0);
    sl_bloom_add(bl, "hello", 5);

    struct sl_value vals[] = {
        sl_sv_int(42),
        sl_sv_long(42),
        sl_sv_float(1.5f),
        sl_sv_double(2.25),
        sl_sv_double(NAN),
        sl_value_str("hé", 3),
        sl_value_bool(false),
        sl_value_null(),
        list,
        set,
        map,
        obj(sl_stats_obj(st)),
        obj(sl_hllp_obj(h)),
        obj(sl_bloom_obj(bl)),
        sl_sv_long(INT64_MIN),
        sl_sv_double(INFINITY),
    };
    size_t n = sizeof vals / sizeof vals[0];
    struct sl_measurement m[16];
    int64_t periods[16];
    for (size_t i = 0; i < n; i++) {
        periods[i] = 1000 + (int64_t)i;
        m[i] = meas("types", "e", "[]", periods[i], vals[i]);
    }
    assert_int_equal(sl_store_put(s, m, n), 0);
    sl_object_unref(sl_stats_obj(st)); /* put copied them */
    sl_object_unref(sl_hllp_obj(h));
    sl_object_unref(sl_bloom_obj(bl));
    assert_int_equal(sl_store_sync(s), 0);

    struct sl_value got[16];
    bool found[16];
    assert_int_equal(sl_store_get(s, SL_STR("types"), SL_STR("e"), SL_STR("[]"), DUR, periods, n,
                                  &a, got, found),
                     0);
    for (size_t i = 0; i < n; i++)
        assert_true(found[i]);
    assert_int_equal(sl_sv_jnum(&got[0]), SL_JN_INT);
    assert_int_equal(got[0].u.i, 42);
    assert_int_equal(sl_sv_jnum(&got[1]), SL_JN_LONG);
    assert_int_equal(sl_sv_jnum(&got[2]), SL_JN_FLOAT);
    assert_true(got[2].u.d == 1.5);
    assert_int_equal(sl_sv_jnum(&got[3]), SL_JN_DOUBLE);
    assert_true(got[3].u.d == 2.25);
    assert_true(isnan(got[4].u.d));
    assert_int_equal(got[5].type, SL_V_STRING);
    assert_int_equal(got[5].len, 3);
    assert_memory_equal(got[5].u.s, "hé", 3);
    assert_int_equal(got[6].type, SL_V_BOOL);
    assert_false(got[6].u.b);
    assert_int_equal(got[7].type, SL_V_NULL);
    char t[256];
    text_of(&got[8], t, sizeof t);
    assert_string_equal(t, "[1, x, true]");
    assert_false(got[8].flags & SL_VF_SET);
    assert_true(got[9].flags & SL_VF_SET);
    text_of(&got[10], t, sizeof t);
    assert_string_equal(t, "{k=7, s=v}");
    assert_true(sl_sketch_is(&got[11], "STATS"));
    double d;
    assert_int_equal(sl_stats_get((struct sl_stats *)got[11].u.obj, SL_STAT_COUNT, 0, &d), 0);
    assert_true(d == 10);
    assert_int_equal(sl_stats_get((struct sl_stats *)got[11].u.obj, SL_STAT_SUM, 0, &d), 0);
    assert_true(d == 55);
    assert_true(sl_sketch_is(&got[12], "HLLP"));
    assert_int_equal(sl_hllp_cardinality((struct sl_hllp *)got[12].u.obj), 100);
    assert_true(sl_sketch_is(&got[13], "BLOOM"));
    assert_true(sl_bloom_contains((struct sl_bloom *)got[13].u.obj, "hello", 5));
    assert_int_equal(got[14].u.i, INT64_MIN);
    assert_true(isinf(got[15].u.d));
    for (size_t i = 11; i <= 13; i++)
        sl_object_unref(got[i].u.obj);

    /* the same in reverse order (one lookup per period instead of one range scan) */
    int64_t rev[16];
    for (size_t i = 0; i < n; i++)
        rev[i] = periods[n - 1 - i];
    assert_int_equal(
        sl_store_get(s, SL_STR("types"), SL_STR("e"), SL_STR("[]"), DUR, rev, n, &a, got, found),
        0);
    for (size_t i = 0; i < n; i++)
        assert_true(found[i]);
    assert_int_equal(got[n - 1].u.i, 42);
    assert_int_equal(sl_sv_jnum(&got[n - 1]), SL_JN_INT);
    assert_true(isinf(got[0].u.d));
    for (size_t i = n - 14; i <= n - 12; i++)
        sl_object_unref(got[i].u.obj);
    /* a sparse request with a hole: found where stored, in the order asked */
    int64_t sparse[5] = {1000, 1001, 999, 1002, 5000};
    assert_int_equal(
        sl_store_get(s, SL_STR("types"), SL_STR("e"), SL_STR("[]"), DUR, sparse, 5, &a, got, found),
        0);
    assert_true(found[0] && found[1] && !found[2] && found[3] && !found[4]);
    assert_int_equal(sl_sv_jnum(&got[1]), SL_JN_LONG);
    int64_t dense_hole[6] = {998, 999, 1000, 1001, 1002, 1003};
    assert_int_equal(sl_store_get(s, SL_STR("types"), SL_STR("e"), SL_STR("[]"), DUR, dense_hole, 6,
                                  &a, got, found),
                     0);
    assert_true(!found[0] && !found[1] && found[2] && found[3] && found[4] && found[5]);
    assert_int_equal(sl_sv_jnum(&got[2]), SL_JN_INT);
    assert_int_equal(sl_sv_jnum(&got[5]), SL_JN_DOUBLE);

    /* a period without a measurement, another entity, other groups: not found */
    int64_t other[1] = {5};
    assert_int_equal(
        sl_store_get(s, SL_STR("types"), SL_STR("e"), SL_STR("[]"), DUR, other, 1, &a, got, found),
        0);
    assert_false(found[0]);
    assert_int_equal(sl_store_get(s, SL_STR("types"), SL_STR("e"), SL_STR("[\"a\"]"), DUR, periods,
                                  1, &a, got, found),
                     0);
    assert_false(found[0]);
    assert_int_equal(sl_store_get(s, SL_STR("types"), SL_STR("e"), SL_STR("[]"), 60000, periods, 1,
                                  &a, got, found),
                     0);
    assert_false(found[0]);

    struct sl_store_stats ss;
    sl_store_get_stats(s, &ss);
    assert_int_equal(ss.puts, 1);
    assert_int_equal(ss.commits, 1);
    assert_int_equal(ss.rows_written, n);
    assert_int_equal(ss.commit_errors, 0);
    assert_int_equal(ss.queued, 0);
    sl_arena_fini(&a);
    sl_store_close(s);
}

static void test_replace_and_reopen(void **state)
{
    struct sl_store *s = open_in_dir("replace.db");
    struct sl_measurement m = meas("p", "e", "[]", 7, sl_sv_int(1));
    assert_int_equal(sl_store_put(s, &m, 1), 0);
    m.value = sl_value_str("second", 6);
    assert_int_equal(sl_store_put(s, &m, 1), 0);
    /* close commits what was put */
    sl_store_close(s);

    s = open_in_dir("replace.db");
    struct sl_arena a;
    sl_arena_init(&a, 1024, 0);
    int64_t p = 7;
    struct sl_value v;
    bool found;
    assert_int_equal(
        sl_store_get(s, SL_STR("p"), SL_STR("e"), SL_STR(""), DUR, &p, 1, &a, &v, &found), 0);
    assert_true(found);
    assert_int_equal(v.type, SL_V_STRING);
    assert_memory_equal(v.u.s, "second", 6);
    sl_arena_fini(&a);
    sl_store_close(s);
}

struct listing {
    char text[1024];
    size_t len;
};

static int on_profile(void *ud, struct sl_str profile, uint64_t entities, uint64_t measurements,
                      int64_t first_ms, int64_t last_ms)
{
    struct listing *l = ud;
    l->len +=
        (size_t)snprintf(l->text + l->len, sizeof l->text - l->len, "%.*s:%llu:%llu:%lld:%lld;",
                         (int)profile.len, profile.ptr, (unsigned long long)entities,
                         (unsigned long long)measurements, (long long)first_ms, (long long)last_ms);
    return 0;
}

static int on_entity(void *ud, struct sl_str entity, uint64_t measurements, int64_t last_ms)
{
    struct listing *l = ud;
    l->len += (size_t)snprintf(l->text + l->len, sizeof l->text - l->len, "%.*s:%llu:%lld;",
                               (int)entity.len, entity.ptr, (unsigned long long)measurements,
                               (long long)last_ms);
    return 0;
}

static int on_measurement(void *ud, const struct sl_measurement *m)
{
    struct listing *l = ud;
    char t[64];
    text_of(&m->value, t, sizeof t);
    l->len += (size_t)snprintf(l->text + l->len, sizeof l->text - l->len, "%.*s@%lld=%s;",
                               (int)m->groups.len, m->groups.ptr, (long long)m->period, t);
    return 0;
}

static int stop_at_first(void *ud, const struct sl_measurement *m)
{
    (*(int *)ud)++;
    return 42;
}

static void test_listings_series_expire(void **state)
{
    struct sl_store *s = open_in_dir("list.db");
    struct sl_measurement m[] = {
        meas("b", "x", "[]", 1, sl_sv_int(1)),       meas("a", "y", "[]", 2, sl_sv_int(2)),
        meas("a", "x", "[]", 3, sl_sv_int(3)),       meas("a", "x", "[]", 1, sl_sv_int(1)),
        meas("a", "x", "[\"g\"]", 2, sl_sv_int(20)), meas("a", "x", "[]", 2, sl_sv_int(2)),
    };
    assert_int_equal(sl_store_put(s, m, 3), 0);
    assert_int_equal(sl_store_put(s, m + 3, 3), 0);
    assert_int_equal(sl_store_sync(s), 0);

    struct listing l = {{0}, 0};
    assert_int_equal(sl_store_profiles(s, on_profile, &l), 0);
    assert_string_equal(l.text, "a:2:5:900000:3600000;b:1:1:900000:1800000;");
    l = (struct listing){{0}, 0};
    assert_int_equal(sl_store_entities(s, SL_STR("a"), on_entity, &l), 0);
    assert_string_equal(l.text, "x:4:3600000;y:1:2700000;");

    l = (struct listing){{0}, 0};
    assert_int_equal(sl_store_series(s, SL_STR("a"), SL_STR("x"), (struct sl_str){NULL, 0}, 0,
                                     INT64_MAX, on_measurement, &l),
                     0);
    assert_string_equal(l.text, "[\"g\"]@2=20;[]@1=1;[]@2=2;[]@3=3;");
    l = (struct listing){{0}, 0};
    assert_int_equal(sl_store_series(s, SL_STR("a"), SL_STR("x"), SL_STR("[]"), 2 * DUR, 3 * DUR,
                                     on_measurement, &l),
                     0);
    assert_string_equal(l.text, "[]@2=2;[]@3=3;");
    int calls = 0;
    assert_int_equal(sl_store_series(s, SL_STR("a"), SL_STR("x"), SL_STR("[]"), 0, INT64_MAX,
                                     stop_at_first, &calls),
                     42);
    assert_int_equal(calls, 1);

    /* expire: periods of `a` that ended before 3*DUR (periods 1 of x... ended at 2*DUR) */
    uint64_t removed = 0;
    assert_int_equal(sl_store_expire(s, SL_STR("a"), 3 * DUR, &removed), 0);
    assert_int_equal(removed, 1); /* a/x/[]/1 ends at 2*DUR; period 2 ends at 3*DUR */
    assert_int_equal(sl_store_expire(s, SL_STR("a"), 4 * DUR, &removed), 0);
    assert_int_equal(removed, 3);
    l = (struct listing){{0}, 0};
    assert_int_equal(sl_store_profiles(s, on_profile, &l), 0);
    assert_string_equal(l.text, "a:1:1:2700000:3600000;b:1:1:900000:1800000;");
    struct sl_store_stats ss;
    sl_store_get_stats(s, &ss);
    assert_int_equal(ss.rows_expired, 4);
    sl_store_close(s);
}

static void expect_open_error(const char *url, const char *needle)
{
    struct sl_store *s = (struct sl_store *)1;
    struct sl_diag d;
    sl_diag_init(&d);
    assert_true(sl_store_open(url, &s, &d) < 0);
    assert_null(s);
    if (!strstr(d.msg, needle))
        fail_msg("%s: message '%s' lacks '%s'", url, d.msg, needle);
}

static void test_bad_urls(void **state)
{
    expect_open_error("", "empty URL");
    expect_open_error("profiles.db", "no scheme");
    expect_open_error("mysql:x", "unknown scheme 'mysql'");
    expect_open_error("postgres://127.0.0.1:1/db", "cannot connect");
    expect_open_error("sqlite:", "empty path");
    /* the store creates missing directories, but not under a regular file */
    char under[300];
    snprintf(under, sizeof under, "sqlite:%s/plain-file/x/y.db", dir);
    char plain[256];
    snprintf(plain, sizeof plain, "%s/plain-file", dir);
    FILE *pf = fopen(plain, "w");
    assert_non_null(pf);
    fclose(pf);
    expect_open_error(under, "plain-file/x/y.db");
    /* a file that is not a database */
    char path[256];
    snprintf(path, sizeof path, "%s/garbage.db", dir);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    for (int i = 0; i < 200; i++)
        fputs("this is not a database file at all\n", f);
    fclose(f);
    char url[300];
    snprintf(url, sizeof url, "sqlite:%s", path);
    expect_open_error(url, "garbage.db");
    sl_store_close(NULL);
}

static void test_default(void **state)
{
    assert_null(sl_store_default());
    struct sl_store *s = open_in_dir("default.db");
    sl_store_set_default(s);
    assert_ptr_equal(sl_store_default(), s);
    assert_non_null(strstr(sl_store_url(s), "default.db"));
    sl_store_close(s); /* closing the default store unsets it */
    assert_null(sl_store_default());
}

static void test_put_errors(void **state)
{
    struct sl_store *s = open_in_dir("errors.db");
    /* an object that is not a sketch cannot be stored */
    static const struct sl_object_type odd = {"ODD", NULL, NULL};
    struct sl_object o = {&odd, 1};
    struct sl_measurement m = meas("p", "e", "[]", 1, obj(&o));
    assert_int_equal(sl_store_put(s, &m, 1), SL_EINVAL);
    assert_int_equal(sl_store_put(s, &m, 0), 0);

    /* a commit that keeps failing (the table dropped behind the store's back) is retried,
     * counted, and reported by the next sync; the store goes on afterwards */
    m.value = sl_sv_int(1);
    assert_int_equal(sl_store_put(s, &m, 1), 0);
    assert_int_equal(sl_store_sync(s), 0);
    char path[256];
    snprintf(path, sizeof path, "%s/errors.db", dir);
    sqlite3 *db;
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    assert_int_equal(sqlite3_exec(db, "DROP TABLE measurements", NULL, NULL, NULL), SQLITE_OK);
    assert_int_equal(sl_store_put(s, &m, 1), 0);
    assert_int_equal(sl_store_sync(s), SL_EIO);
    struct sl_store_stats ss;
    sl_store_get_stats(s, &ss);
    assert_int_equal(ss.commit_errors, 8);
    assert_int_equal(ss.commits, 1);
    assert_int_equal(ss.queued, 0);
    assert_int_equal(sl_store_sync(s), 0); /* reported once */
    sqlite3_close(db);
    sl_store_close(s);
}

/* rows written by hand with SQL (docs/profile-store.md): lenient numbers, strict sketches */
static void test_hand_written_rows(void **state)
{
    struct sl_store *s = open_in_dir("hand.db");
    char path[256];
    snprintf(path, sizeof path, "%s/hand.db", dir);
    sqlite3 *db;
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    assert_int_equal(
        sqlite3_exec(db,
                     "INSERT INTO measurements VALUES"
                     " ('h', 'e', '[]', 900000, 1, 900000, 1800000, 'Integer', '12', 0),"
                     " ('h', 'e', '[]', 900000, 2, 1800000, 2700000, 'Double', 3, 0),"
                     " ('h', 'e', '[]', 900000, 3, 2700000, 3600000, 'STATS', x'00ff', 0),"
                     " ('h', 'e', '[]', 900000, 4, 3600000, 4500000, 'Map', '[1]', 0),"
                     " ('h', 'e', '[]', 900000, 5, 4500000, 5400000, 'Thing', 1, 0)",
                     NULL, NULL, NULL),
        SQLITE_OK);
    sqlite3_close(db);
    struct sl_arena a;
    sl_arena_init(&a, 1024, 0);
    int64_t p[2] = {1, 2};
    struct sl_value v[2];
    bool found[2];
    assert_int_equal(
        sl_store_get(s, SL_STR("h"), SL_STR("e"), SL_STR("[]"), DUR, p, 2, &a, v, found), 0);
    assert_int_equal(sl_sv_jnum(&v[0]), SL_JN_INT);
    assert_int_equal(v[0].u.i, 12);
    assert_int_equal(sl_sv_jnum(&v[1]), SL_JN_DOUBLE);
    assert_true(v[1].u.d == 3.0);
    for (int64_t bad = 3; bad <= 5; bad++) {
        assert_int_equal(
            sl_store_get(s, SL_STR("h"), SL_STR("e"), SL_STR("[]"), DUR, &bad, 1, &a, v, found),
            SL_EPARSE);
        assert_false(found[0]);
    }
    sl_arena_fini(&a);
    sl_store_close(s);
}

/* ---- readers on several threads while the writer commits */

#define READERS 4
#define ROUNDS  200

struct reader_arg {
    struct sl_store *s;
    atomic_bool *stop;
    uint64_t reads, hits;
    int bad;
};

static void *reader_main(void *p)
{
    struct reader_arg *r = p;
    struct sl_arena a;
    sl_arena_init(&a, 4096, 0);
    int64_t periods[8];
    struct sl_value v[8];
    bool found[8];
    while (!atomic_load(r->stop)) {
        for (int i = 0; i < 8; i++)
            periods[i] = (int64_t)(r->reads * 7 + (uint64_t)i) % ROUNDS;
        sl_arena_reset(&a);
        if (sl_store_get(r->s, SL_STR("c"), SL_STR("e"), SL_STR("[]"), DUR, periods, 8, &a, v,
                         found)) {
            r->bad++;
            continue;
        }
        for (int i = 0; i < 8; i++) {
            if (!found[i])
                continue;
            r->hits++;
            if (v[i].type != SL_V_INT || v[i].u.i != periods[i] * 3)
                r->bad++;
        }
        r->reads++;
    }
    sl_arena_fini(&a);
    return NULL;
}

static void test_concurrent_readers(void **state)
{
    struct sl_store *s = open_in_dir("concurrent.db");
    atomic_bool stop = false;
    struct reader_arg args[READERS];
    pthread_t tids[READERS];
    for (int i = 0; i < READERS; i++) {
        args[i] = (struct reader_arg){s, &stop, 0, 0, 0};
        assert_int_equal(pthread_create(&tids[i], NULL, reader_main, &args[i]), 0);
    }
    for (int64_t p = 0; p < ROUNDS; p++) {
        struct sl_measurement m[2] = {meas("c", "e", "[]", p, sl_sv_long(p * 3)),
                                      meas("c", "f", "[]", p, sl_sv_long(p))};
        assert_int_equal(sl_store_put(s, m, 2), 0);
        if (p % 50 == 0)
            assert_int_equal(sl_store_sync(s), 0);
    }
    assert_int_equal(sl_store_sync(s), 0);
    /* let the readers see the final state too */
    struct timespec ts = {0, 100 * 1000000L};
    nanosleep(&ts, NULL);
    atomic_store(&stop, true);
    uint64_t hits = 0;
    for (int i = 0; i < READERS; i++) {
        pthread_join(tids[i], NULL);
        assert_int_equal(args[i].bad, 0);
        assert_true(args[i].reads > 0);
        hits += args[i].hits;
    }
    assert_true(hits > 0);
    struct sl_store_stats ss;
    sl_store_get_stats(s, &ss);
    assert_int_equal(ss.puts, ROUNDS);
    assert_int_equal(ss.rows_written, 2 * ROUNDS);
    sl_store_close(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_replace_and_reopen),
        cmocka_unit_test(test_listings_series_expire),
        cmocka_unit_test(test_bad_urls),
        cmocka_unit_test(test_default),
        cmocka_unit_test(test_put_errors),
        cmocka_unit_test(test_hand_written_rows),
        cmocka_unit_test(test_concurrent_readers),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
