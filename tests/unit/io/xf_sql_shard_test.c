/*
 * xf_sql_shard_test.c — may a statement run on engines that each see one shard of the events
 * (io/xf_sql_shard.c)? GROUP BY with and without the shard column, stream-stream joins on it
 * or not, tables keyed by it (a CTAS grouped by it) or not (keyed by the record key), lineage
 * through aliases, `*`, PARTITION BY and a projection that drops the column, INSERT INTO that
 * keeps or loses it, the shard field as the key field, and the message naming the query and
 * its key.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "base/alloc.h"
#include "base/arena.h"
#include "io/xf_sql.h"
#include "sql/sql_engine.h"
#include "sql/sql_parse.h"

#include <stdio.h>
#include <string.h>

static void no_emit(void *ud, const struct sl_sql_record *r)
{
    (void)ud;
    (void)r;
}

static struct sl_sql_engine *engine(const char *script)
{
    struct sl_sql_engine_opts o = {0};
    struct sl_sql_engine *e = sl_sql_engine_new(&o, no_emit, NULL);
    struct sl_diag d;
    sl_diag_init(&d);
    int rc = sl_sql_engine_exec(e, script, strlen(script), NULL, &d);
    if (rc)
        fail_msg("setup: %s", d.msg);
    return e;
}

static const char *BASE =
    "CREATE STREAM S (USER STRING, HOST STRING, V BIGINT) WITH (kafka_topic='s', "
    "value_format='json');"
    "CREATE STREAM L (U STRING KEY, USER STRING, X INT) WITH (kafka_topic='l', "
    "value_format='json');"
    "CREATE TABLE TU (USER STRING PRIMARY KEY, NAME STRING) WITH (kafka_topic='tu', "
    "value_format='json');";

static const struct sl_sqlcat_shard BY_USER = {"user", false};
static char msg[600];

/* check one statement (not run); 0 or the error, its message in msg */
static int check(struct sl_sql_engine *e, const struct sl_sqlcat_shard *sh, const char *sql)
{
    struct sl_arena a;
    sl_arena_init(&a, 4096, 1u << 20);
    struct sl_sql_script *sc = NULL;
    struct sl_diag d;
    sl_diag_init(&d);
    if (sl_sql_parse(sql, strlen(sql), &a, &sc, &d))
        fail_msg("parse: %s: %s", sql, d.msg);
    int rc = sl_sqlcat_shard_check(e, sh, &sc->stmts[0], &d);
    snprintf(msg, sizeof msg, "%s", rc ? d.msg : "");
    sl_arena_fini(&a);
    return rc;
}

static void run(struct sl_sql_engine *e, const char *sql)
{
    struct sl_diag d;
    sl_diag_init(&d);
    if (sl_sql_engine_exec(e, sql, strlen(sql), NULL, &d))
        fail_msg("%s: %s", sql, d.msg);
}

static void has(const char *needle)
{
    if (!strstr(msg, needle))
        fail_msg("'%s' not in: %s", needle, msg);
}

static void test_group_by(void **state)
{
    (void)state;
    struct sl_sql_engine *e = engine(BASE);
    assert_int_equal(check(e, &BY_USER,
                           "CREATE TABLE T AS SELECT USER, COUNT(*) AS N FROM S "
                           "WINDOW TUMBLING (SIZE 10 SECONDS) GROUP BY USER;"),
                     0);
    assert_int_equal(check(e, &BY_USER,
                           "CREATE TABLE T AS SELECT HOST, USER, COUNT(*) AS N "
                           "FROM S GROUP BY HOST, S.USER;"),
                     0);
    assert_int_equal(
        check(e, &BY_USER, "CREATE TABLE T AS SELECT HOST, COUNT(*) AS N FROM S GROUP BY HOST;"),
        SL_ECONFIG);
    has("query CTAS_T_0");
    has("GROUP BY HOST");
    has("S.USER");
    has("shard_by: user");
    /* an expression over the column is not the column */
    assert_int_equal(check(e, &BY_USER,
                           "SELECT UCASE(USER) AS U, COUNT(*) FROM S "
                           "GROUP BY UCASE(USER) EMIT CHANGES;"),
                     SL_ECONFIG);
    has("transient_QUERY_0");
    /* stateless: anything goes */
    assert_int_equal(check(e, &BY_USER, "CREATE STREAM X AS SELECT HOST FROM S WHERE V > 1;"), 0);
    sl_sql_engine_free(e);
}

static void test_joins(void **state)
{
    (void)state;
    struct sl_sql_engine *e = engine(BASE);
    assert_int_equal(check(e, &BY_USER,
                           "CREATE STREAM J AS SELECT A.USER AS WHO, A.V, B.X FROM S A JOIN L B "
                           "WITHIN 1 HOUR ON A.USER = B.USER;"),
                     0);
    assert_int_equal(check(e, &BY_USER,
                           "CREATE STREAM J AS SELECT A.USER AS WHO, B.X FROM S A JOIN L B "
                           "WITHIN 1 HOUR ON B.USER = A.USER;"),
                     0);
    assert_int_equal(check(e, &BY_USER,
                           "CREATE STREAM J AS SELECT A.USER AS WHO, B.X FROM S A JOIN L B "
                           "WITHIN 1 HOUR ON A.HOST = B.USER;"),
                     SL_ECONFIG);
    has("the join with B is on A.HOST = B.USER");
    /* TU is keyed by the record key: its rows were not sharded by `user` */
    assert_int_equal(check(e, &BY_USER,
                           "CREATE STREAM J AS SELECT S.USER, TU.NAME FROM S "
                           "JOIN TU ON S.USER = TU.USER;"),
                     SL_ECONFIG);
    /* a table grouped by the shard column is keyed by it */
    run(e, "CREATE TABLE C AS SELECT USER, COUNT(*) AS N FROM S GROUP BY USER;");
    const char *names[4];
    assert_int_equal(sl_sqlcat_shard_columns(e, &BY_USER, "C", names, 4), 1);
    assert_string_equal(names[0], "USER");
    assert_int_equal(
        check(e, &BY_USER, "SELECT S.USER, C.N FROM S JOIN C ON S.USER = C.USER EMIT CHANGES;"), 0);
    /* an aggregation over a table keyed by something else */
    run(e, "CREATE TABLE BYHOST AS SELECT HOST, COUNT(*) AS N FROM S GROUP BY HOST;");
    assert_int_equal(check(e, &BY_USER,
                           "CREATE TABLE H2 AS SELECT HOST, SUM(N) AS M FROM BYHOST "
                           "GROUP BY HOST;"),
                     SL_ECONFIG);
    has("table BYHOST is keyed by HOST");
    sl_sql_engine_free(e);
}

static void test_lineage(void **state)
{
    (void)state;
    struct sl_sql_engine *e = engine(BASE);
    const char *names[4];
    /* PARTITION BY the shard column, then grouping by it */
    run(e, "CREATE STREAM P AS SELECT * FROM L PARTITION BY USER;");
    assert_int_equal(sl_sqlcat_shard_columns(e, &BY_USER, "P", names, 4), 1);
    assert_string_equal(names[0], "USER");
    assert_int_equal(
        check(e, &BY_USER, "CREATE TABLE PT AS SELECT USER, COUNT(*) AS N FROM P GROUP BY USER;"),
        0);
    /* an alias carries it */
    run(e, "CREATE STREAM A2 AS SELECT USER AS WHO, V FROM S;");
    assert_int_equal(sl_sqlcat_shard_columns(e, &BY_USER, "A2", names, 4), 1);
    assert_string_equal(names[0], "WHO");
    assert_int_equal(
        check(e, &BY_USER, "CREATE TABLE W AS SELECT WHO, SUM(V) AS T FROM A2 GROUP BY WHO;"), 0);
    /* INSERT INTO keeps it, or is refused */
    assert_int_equal(check(e, &BY_USER, "INSERT INTO A2 SELECT USER AS WHO, V FROM S;"), 0);
    assert_int_equal(check(e, &BY_USER, "INSERT INTO A2 SELECT HOST AS WHO, V FROM S;"),
                     SL_ECONFIG);
    has("WHO");
    /* a projection that drops it */
    run(e, "CREATE STREAM R AS SELECT U, X FROM L;");
    assert_int_equal(sl_sqlcat_shard_columns(e, &BY_USER, "R", names, 4), 0);
    assert_int_equal(
        check(e, &BY_USER, "CREATE TABLE RT AS SELECT U, COUNT(*) AS N FROM R GROUP BY U;"),
        SL_ECONFIG);
    has("R has no column carrying the shard field");
    sl_sql_engine_free(e);
}

static void test_key_field(void **state)
{
    (void)state;
    struct sl_sql_engine *e = engine(BASE);
    const struct sl_sqlcat_shard by_key = {"@kafka.key", true};
    const char *names[4];
    assert_int_equal(sl_sqlcat_shard_columns(e, &by_key, "TU", names, 4), 1);
    assert_string_equal(names[0], "USER");
    assert_int_equal(sl_sqlcat_shard_columns(e, &by_key, "S", names, 4), 0);
    assert_int_equal(
        check(e, &by_key, "CREATE TABLE K AS SELECT U, COUNT(*) AS N FROM L GROUP BY U;"), 0);
    /* a stream re-keyed by its key-carrying column joins the table */
    run(e, "CREATE STREAM LK AS SELECT U, X FROM L;");
    assert_int_equal(check(e, &by_key,
                           "CREATE STREAM J AS SELECT LK.U, TU.NAME FROM LK JOIN TU "
                           "ON LK.U = TU.USER;"),
                     0);
    /* without shard_by nothing is checked */
    assert_int_equal(
        check(e, NULL, "CREATE TABLE T AS SELECT HOST, COUNT(*) FROM S GROUP BY HOST;"), 0);
    sl_sql_engine_free(e);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_group_by),
        cmocka_unit_test(test_joins),
        cmocka_unit_test(test_lineage),
        cmocka_unit_test(test_key_field),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
