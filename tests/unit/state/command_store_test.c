/*
 * command_store_test.c — the distribution history of the `commands` source: a delivery is
 * recorded once per collector and version, a replace clears the history in the same
 * transaction, everything survives reopening the file, inputs' hashes and ETags are kept per
 * location, concurrent deliveries of one id record exactly one, bad files and a newer schema
 * are refused, known collectors are bounded and kept across versions and reopening (also
 * in a file made before their table existed).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "base/alloc.h"
#include "state/command_store.h"
#include "../testkit.h"

#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <string.h>

static struct sl_cmdstore *open_in_dir(const char *name)
{
    char path[256];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    struct sl_cmdstore *s = NULL;
    struct sl_diag d;
    sl_diag_init(&d);
    if (sl_cmdstore_open(path, &s, &d))
        fail_msg("open %s: %s", path, d.msg);
    return s;
}

static void expect_current(struct sl_cmdstore *s, const char *version, const char *body)
{
    char v[SL_CMDSTORE_VERSION_LEN + 1];
    char *b = NULL;
    size_t len = 0;
    int64_t at = 0;
    assert_int_equal(sl_cmdstore_current(s, v, &b, &len, &at), 0);
    assert_string_equal(v, version);
    assert_int_equal(len, strlen(body));
    assert_memory_equal(b, body, len);
    assert_int_equal(b[len], '\0');
    assert_true(at > 0);
    sl_free(b);
}

static void test_versions_and_deliveries(void **state)
{
    struct sl_cmdstore *s = open_in_dir("a/b/c.db"); /* directories are created */
    char v[SL_CMDSTORE_VERSION_LEN + 1];
    char *b = NULL;
    size_t len;
    int64_t at;
    assert_int_equal(sl_cmdstore_current(s, v, &b, &len, &at), SL_ENOENT);

    const char *b1 = "{\"v\":1}", *b2 = "{\"v\":2}";
    char v1[SL_CMDSTORE_VERSION_LEN + 1], v2[SL_CMDSTORE_VERSION_LEN + 1];
    sl_cmdstore_version_of(b1, strlen(b1), v1);
    sl_cmdstore_version_of(b2, strlen(b2), v2);
    assert_int_equal(strlen(v1), SL_CMDSTORE_VERSION_LEN);
    assert_int_equal(strspn(v1, "0123456789abcdef"), SL_CMDSTORE_VERSION_LEN);
    assert_string_not_equal(v1, v2);

    assert_int_equal(sl_cmdstore_replace(s, v1, b1, strlen(b1), 1000), 0);
    expect_current(s, v1, b1);
    assert_int_equal(sl_cmdstore_deliver(s, "c1", 2, v1, 1), 1);
    assert_int_equal(sl_cmdstore_deliver(s, "c1", 2, v1, 2), 0);
    assert_int_equal(sl_cmdstore_deliver(s, "c2", 2, v1, 3), 1);
    /* the id is taken by length, not up to a NUL */
    assert_int_equal(sl_cmdstore_deliver(s, "c1x", 2, v1, 4), 0);
    assert_int_equal(sl_cmdstore_delivery_count(s), 2);
    /* undo (the answer did not go out): once, then the id can be delivered again */
    assert_int_equal(sl_cmdstore_undeliver(s, "c2", 2, v1), 1);
    assert_int_equal(sl_cmdstore_undeliver(s, "c2", 2, v1), 0);
    assert_int_equal(sl_cmdstore_undeliver(s, "c1", 2, v2), 0); /* another version */
    assert_int_equal(sl_cmdstore_deliver(s, "c2", 2, v1, 3), 1);
    assert_int_equal(sl_cmdstore_delivery_count(s), 2);

    assert_int_equal(sl_cmdstore_replace(s, v2, b2, strlen(b2), 2000), 0);
    expect_current(s, v2, b2);
    assert_int_equal(sl_cmdstore_delivery_count(s), 0);
    assert_int_equal(sl_cmdstore_deliver(s, "c1", 2, v2, 5), 1);
    sl_cmdstore_free(s);

    /* reopened: the set and the history are still there */
    s = open_in_dir("a/b/c.db");
    expect_current(s, v2, b2);
    assert_int_equal(sl_cmdstore_deliver(s, "c1", 2, v2, 6), 0);
    assert_int_equal(sl_cmdstore_deliver(s, "c2", 2, v2, 7), 1);
    assert_int_equal(sl_cmdstore_delivery_count(s), 2);
    /* an empty body is stored as such */
    assert_int_equal(sl_cmdstore_replace(s, v1, "", 0, 3000), 0);
    expect_current(s, v1, "");
    sl_cmdstore_free(s);
    sl_cmdstore_free(NULL);
}

static void test_inputs(void **state)
{
    struct sl_cmdstore *s = open_in_dir("inputs.db");
    char h[SL_CMDSTORE_VERSION_LEN + 1], e[SL_CMDSTORE_ETAG_MAX];
    assert_int_equal(sl_cmdstore_input_get(s, "url", "http://a/c", h, e), SL_ENOENT);
    assert_int_equal(sl_cmdstore_input_put(s, "url", "http://a/c", "0123456789abcdef", "\"x1\""),
                     0);
    assert_int_equal(sl_cmdstore_input_put(s, "file", "/etc/c.json", "fedcba9876543210", ""), 0);
    assert_int_equal(sl_cmdstore_input_get(s, "url", "http://a/c", h, e), 0);
    assert_string_equal(h, "0123456789abcdef");
    assert_string_equal(e, "\"x1\"");
    assert_int_equal(sl_cmdstore_input_get(s, "file", "/etc/c.json", h, e), 0);
    assert_string_equal(h, "fedcba9876543210");
    assert_string_equal(e, "");
    /* another location of the same input: nothing known; a put replaces the old one */
    assert_int_equal(sl_cmdstore_input_get(s, "url", "http://b/c", h, e), SL_ENOENT);
    assert_int_equal(sl_cmdstore_input_put(s, "url", "http://b/c", "1111111111111111", ""), 0);
    assert_int_equal(sl_cmdstore_input_get(s, "url", "http://a/c", h, e), SL_ENOENT);
    sl_cmdstore_free(s);
    s = open_in_dir("inputs.db");
    assert_int_equal(sl_cmdstore_input_get(s, "url", "http://b/c", h, e), 0);
    assert_string_equal(h, "1111111111111111");
    sl_cmdstore_free(s);
}

#define THREADS 8
#define IDS     50

struct race {
    struct sl_cmdstore *s;
    int won; /* deliveries this thread recorded */
};

static void *race_thread(void *arg)
{
    struct race *r = arg;
    for (int i = 0; i < IDS; i++) {
        char id[16];
        snprintf(id, sizeof id, "c%d", i);
        int rc = sl_cmdstore_deliver(r->s, id, strlen(id), "0123456789abcdef", i);
        assert_true(rc == 0 || rc == 1);
        r->won += rc;
    }
    return NULL;
}

static void test_concurrent_deliveries(void **state)
{
    struct sl_cmdstore *s = open_in_dir("race.db");
    assert_int_equal(sl_cmdstore_replace(s, "0123456789abcdef", "[]", 2, 1), 0);
    pthread_t t[THREADS];
    struct race r[THREADS];
    for (int i = 0; i < THREADS; i++) {
        r[i] = (struct race){.s = s};
        assert_int_equal(pthread_create(&t[i], NULL, race_thread, &r[i]), 0);
    }
    int won = 0;
    for (int i = 0; i < THREADS; i++) {
        pthread_join(t[i], NULL);
        won += r[i].won;
    }
    assert_int_equal(won, IDS); /* each id exactly once over all threads */
    assert_int_equal(sl_cmdstore_delivery_count(s), IDS);
    sl_cmdstore_free(s);
}

static void test_bad_files(void **state)
{
    struct sl_cmdstore *s = NULL;
    struct sl_diag d;
    char path[256];
    /* a directory */
    sl_diag_init(&d);
    assert_int_not_equal(sl_cmdstore_open(dir, &s, &d), 0);
    assert_null(s);
    assert_non_null(strstr(d.msg, "commands state"));
    /* a file that is not a database */
    snprintf(path, sizeof path, "%s/junk.db", dir);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs("this is not an SQLite database, not even close; padding padding padding padding\n", f);
    fclose(f);
    sl_diag_init(&d);
    assert_int_not_equal(sl_cmdstore_open(path, &s, &d), 0);
    assert_null(s);
    /* a newer schema */
    snprintf(path, sizeof path, "%s/newer.db", dir);
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    assert_int_equal(sqlite3_exec(db,
                                  "CREATE TABLE command_schema (version INTEGER NOT NULL);"
                                  "INSERT INTO command_schema VALUES (2)",
                                  NULL, NULL, NULL),
                     SQLITE_OK);
    sqlite3_close(db);
    sl_diag_init(&d);
    assert_int_equal(sl_cmdstore_open(path, &s, &d), SL_ECONFIG);
    assert_non_null(strstr(d.msg, "newer"));
    /* :memory: works (history for the process's life) */
    sl_diag_init(&d);
    assert_int_equal(sl_cmdstore_open(":memory:", &s, &d), 0);
    assert_int_equal(sl_cmdstore_replace(s, "0123456789abcdef", "{}", 2, 1), 0);
    assert_int_equal(sl_cmdstore_deliver(s, "a", 1, "0123456789abcdef", 1), 1);
    sl_cmdstore_free(s);
}

static void test_admit(void **state)
{
    struct sl_cmdstore *s = open_in_dir("admit.db");
    assert_int_equal(sl_cmdstore_collector_count(s), 0);
    assert_int_equal(sl_cmdstore_admit(s, "c1", 2, 2, 1), 1);
    assert_int_equal(sl_cmdstore_admit(s, "c1", 2, 2, 1), 0); /* known */
    assert_int_equal(sl_cmdstore_admit(s, "c2", 2, 2, 1), 1);
    assert_int_equal(sl_cmdstore_admit(s, "c3", 2, 2, 1), SL_ELIMIT); /* full */
    assert_int_equal(sl_cmdstore_admit(s, "c2", 2, 2, 1), 0);         /* known ids still pass */
    assert_int_equal(sl_cmdstore_collector_count(s), 2);
    /* a new version clears the deliveries, not the known collectors */
    assert_int_equal(sl_cmdstore_replace(s, "0123456789abcdef", "{}", 2, 1), 0);
    assert_int_equal(sl_cmdstore_admit(s, "c3", 2, 2, 1), SL_ELIMIT);
    assert_int_equal(sl_cmdstore_admit(s, "c3", 2, 3, 1), 1); /* a larger bound */
    sl_cmdstore_free(s);
    s = open_in_dir("admit.db"); /* the count survives reopening */
    assert_int_equal(sl_cmdstore_collector_count(s), 3);
    assert_int_equal(sl_cmdstore_admit(s, "c4", 2, 3, 1), SL_ELIMIT);
    assert_int_equal(sl_cmdstore_admit(s, "c1", 2, 3, 1), 0);
    sl_cmdstore_free(s);

    /* a file of the first schema (no command_collectors): the table is added */
    char path[256];
    snprintf(path, sizeof path, "%s/old.db", dir);
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    assert_int_equal(
        sqlite3_exec(db,
                     "CREATE TABLE command_schema (version INTEGER NOT NULL);"
                     "INSERT INTO command_schema VALUES (1);"
                     "CREATE TABLE command_set (id INTEGER PRIMARY KEY CHECK (id = 1),"
                     " version TEXT NOT NULL, body BLOB NOT NULL, fetched_ms INTEGER NOT NULL);"
                     "CREATE TABLE command_deliveries (collector TEXT NOT NULL,"
                     " version TEXT NOT NULL, delivered_ms INTEGER NOT NULL,"
                     " PRIMARY KEY (collector, version)) WITHOUT ROWID;"
                     "CREATE TABLE command_inputs (name TEXT PRIMARY KEY,"
                     " location TEXT NOT NULL, hash TEXT NOT NULL, etag TEXT NOT NULL,"
                     " updated_ms INTEGER NOT NULL) WITHOUT ROWID;"
                     "INSERT INTO command_set VALUES (1, '0123456789abcdef', '[]', 5);",
                     NULL, NULL, NULL),
        SQLITE_OK);
    sqlite3_close(db);
    s = open_in_dir("old.db");
    expect_current(s, "0123456789abcdef", "[]");
    assert_int_equal(sl_cmdstore_collector_count(s), 0);
    assert_int_equal(sl_cmdstore_admit(s, "c1", 2, 1, 1), 1);
    sl_cmdstore_free(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_versions_and_deliveries),
        cmocka_unit_test(test_inputs),
        cmocka_unit_test(test_concurrent_deliveries),
        cmocka_unit_test(test_bad_files),
        cmocka_unit_test(test_admit),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
