/*
 * sqldb_test.c — state/sqldb.h on SQLite (PostgreSQL: the tests/integ postgres scripts):
 * statements, parameters of every type, rows and column types, queued statements in a transaction,
 * a failing statement rolling the whole batch back, COPY refused, errors with the database's
 * message.
 */
#include "state/sqldb.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

static char dir[64];

static struct sl_sqldb *open_db(void)
{
    char url[128];
    snprintf(url, sizeof url, "sqlite:%s/sub/t.db", dir);
    struct sl_diag d;
    sl_diag_init(&d);
    struct sl_sqldb *db = NULL;
    assert_int_equal(sl_sqldb_open(url, &db, &d), 0);
    assert_false(sl_sqldb_is_postgres(db));
    return db;
}

struct rows {
    int n;
    int64_t sum;
    char text[64];
    enum sl_sqldb_type types[5];
};

static int row_fn(void *ud, const struct sl_sqldb_row *r)
{
    struct rows *w = ud;
    w->n++;
    w->sum += sl_sqldb_col_int(r, 0);
    struct sl_str t = sl_sqldb_col_text(r, 2);
    snprintf(w->text, sizeof w->text, "%.*s", (int)t.len, t.ptr);
    for (int i = 0; i < 5; i++)
        w->types[i] = sl_sqldb_col_type(r, i);
    return 0;
}

static void test_roundtrip(void **state)
{
    (void)state;
    struct sl_sqldb *db = open_db();
    assert_int_equal(
        sl_sqldb_exec(db, "CREATE TABLE t (i BIGINT, d DOUBLE PRECISION, s TEXT, b BYTEA, n TEXT)"),
        0);
    struct sl_sqldb_stmt *ins = NULL;
    assert_int_equal(sl_sqldb_prepare(db, "INSERT INTO t VALUES (?1, ?2, ?3, ?4, ?5)", &ins), 0);
    assert_non_null(ins);
    assert_int_equal(sl_sqldb_begin(db), 0);
    for (int i = 1; i <= 10; i++) {
        struct sl_sqldb_param p[5] = {SL_SQLDB_I(i),
                                      {.type = SL_SQLDB_REAL, .d = i / 4.0},
                                      SL_SQLDB_S(sl_str_c("a\tb'c")),
                                      {.type = SL_SQLDB_BLOB, .p = "\0\1\2", .n = 3},
                                      SL_SQLDB_NUL};
        assert_int_equal(sl_sqldb_queue(ins, p, 5), 0);
    }
    assert_int_equal(sl_sqldb_commit(db), 0);
    struct rows w = {0};
    assert_int_equal(sl_sqldb_query_sql(db, "SELECT i, d, s, b, n FROM t", NULL, 0, row_fn, &w), 0);
    assert_int_equal(w.n, 10);
    assert_int_equal(w.sum, 55);
    assert_string_equal(w.text, "a\tb'c");
    assert_int_equal(w.types[0], SL_SQLDB_INT);
    assert_int_equal(w.types[1], SL_SQLDB_REAL);
    assert_int_equal(w.types[2], SL_SQLDB_TEXT);
    assert_int_equal(w.types[3], SL_SQLDB_BLOB);
    assert_int_equal(w.types[4], SL_SQLDB_NULL);
    uint64_t changed = 0;
    struct sl_sqldb_param five = SL_SQLDB_I(5);
    assert_int_equal(sl_sqldb_run_sql(db, "DELETE FROM t WHERE i <= ?1", &five, 1, &changed), 0);
    assert_int_equal(changed, 5);
    sl_sqldb_finalize(ins);
    sl_sqldb_close(db);
}

static void test_failed_batch_rolls_back(void **state)
{
    (void)state;
    struct sl_sqldb *db = open_db();
    assert_int_equal(sl_sqldb_exec(db, "CREATE TABLE IF NOT EXISTS u (k TEXT PRIMARY KEY)"), 0);
    struct sl_sqldb_stmt *ins = NULL;
    assert_int_equal(sl_sqldb_prepare(db, "INSERT INTO u VALUES (?1)", &ins), 0);
    assert_int_equal(sl_sqldb_begin(db), 0);
    struct sl_sqldb_param a = SL_SQLDB_S(sl_str_c("a"));
    assert_int_equal(sl_sqldb_queue(ins, &a, 1), 0);
    assert_int_equal(sl_sqldb_queue(ins, &a, 1), SL_EIO); /* duplicate key */
    assert_int_equal(sl_sqldb_queue(ins, &a, 1), SL_EIO); /* the batch stays failed */
    assert_int_equal(sl_sqldb_commit(db), SL_EIO);
    assert_non_null(strstr(sl_sqldb_errmsg(db), "UNIQUE"));
    struct rows w = {0};
    assert_int_equal(sl_sqldb_query_sql(db, "SELECT count(*), 0, '' FROM u", NULL, 0, row_fn, &w),
                     0);
    assert_int_equal(w.sum, 0); /* nothing of the batch stayed */
    /* the connection is usable after it */
    assert_int_equal(sl_sqldb_begin(db), 0);
    assert_int_equal(sl_sqldb_queue(ins, &a, 1), 0);
    assert_int_equal(sl_sqldb_commit(db), 0);
    assert_int_equal(sl_sqldb_copy_start(db, "COPY u FROM STDIN"), SL_EINVAL);
    assert_int_equal(sl_sqldb_exec(db, "SELEC nothing"), SL_EIO);
    assert_non_null(strstr(sl_sqldb_errmsg(db), "syntax error"));
    sl_sqldb_finalize(ins);
    sl_sqldb_close(db);
}

static void test_open_errors(void **state)
{
    (void)state;
    struct sl_diag d;
    sl_diag_init(&d);
    struct sl_sqldb *db = NULL;
    assert_int_equal(sl_sqldb_open("sqlite:", &db, &d), SL_ECONFIG);
    sl_diag_init(&d);
    assert_int_equal(sl_sqldb_open("postgres://u:secret@127.0.0.1:1/x", &db, &d), SL_EIO);
    assert_non_null(strstr(d.msg, "cannot connect"));
    assert_null(strstr(d.msg, "secret")); /* the password is masked */
    assert_null(db);
}

int main(void)
{
    snprintf(dir, sizeof dir, "/tmp/sluice-sqldb-XXXXXX");
    if (!mkdtemp(dir))
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_roundtrip),
        cmocka_unit_test(test_failed_batch_rolls_back),
        cmocka_unit_test(test_open_errors),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        return 1;
    return rc;
}
