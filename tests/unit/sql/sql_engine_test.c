/* sql_engine_test.c — the SQL engine: statements, errors with positions, the seed pipeline's
 * worked trace (ksql.md §1.13), late records, state accounting, DROP/TERMINATE. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "base/alloc.h"
#include "base/arena.h"
#include "base/buf.h"
#include "base/err.h"
#include "codec/json.h"
#include "core/event.h"
#include "sql/sql_engine.h"
#include "sql/sql_serde.h"

#include <stdio.h>
#include <string.h>

struct out {
    char lines[64][1024];
    int n;
};

static void on_emit(void *ud, const struct sl_sql_record *r)
{
    struct out *o = ud;
    if (o->n >= 64)
        return;
    struct sl_buf b;
    sl_buf_init(&b, 1u << 20);
    sl_buf_appendf(&b, "%s %lld ", r->topic, (long long)r->ts_ms);
    sl_sql_encode_value(r->key, &b);
    sl_buf_putc(&b, ' ');
    sl_sql_encode_value(r->value, &b);
    if (r->windowed)
        sl_buf_appendf(&b, " [%lld,%lld)", (long long)r->window_start_ms,
                       (long long)r->window_end_ms);
    snprintf(o->lines[o->n++], sizeof o->lines[0], "%s", b.ptr);
    sl_buf_fini(&b);
}

static struct sl_arena A;

static void push(struct sl_sql_engine *e, const char *topic, const char *key, const char *val,
                 int64_t ts)
{
    struct sl_value k = sl_value_null(), v = sl_value_null();
    struct sl_diag d;
    sl_diag_init(&d);
    if (key) {
        char *t = sl_arena_strndup(&A, key, strlen(key));
        assert_int_equal(sl_json_parse_value(&A, t, strlen(t), NULL, &k, &d), 0);
    }
    if (val) {
        char *t = sl_arena_strndup(&A, val, strlen(val));
        assert_int_equal(sl_json_parse_value(&A, t, strlen(t), NULL, &v, &d), 0);
    }
    sl_sql_engine_push(e, topic, &k, &v, ts);
}

static int setup(void **st)
{
    (void)st;
    sl_core_init();
    sl_arena_init(&A, 4096, 64u << 20);
    return 0;
}

static int teardown(void **st)
{
    (void)st;
    sl_arena_fini(&A);
    return 0;
}

static void exec_ok(struct sl_sql_engine *e, const char *sql)
{
    struct sl_diag d;
    sl_diag_init(&d);
    int rc = sl_sql_engine_exec(e, sql, strlen(sql), NULL, &d);
    if (rc)
        fprintf(stderr, "%u:%u: %s%s\n", d.line, d.col, d.msg, d.hint);
    assert_int_equal(rc, 0);
}

static int exec_err(struct sl_sql_engine *e, const char *sql, struct sl_diag *d)
{
    sl_diag_init(d);
    return sl_sql_engine_exec(e, sql, strlen(sql), NULL, d);
}

static void test_errors(void **st)
{
    (void)st;
    struct out o = {0};
    struct sl_sql_engine *e = sl_sql_engine_new(NULL, on_emit, &o);
    struct sl_diag d;
    exec_ok(e, "CREATE STREAM S (ID INT KEY, NAME STRING, BYTES BIGINT) WITH (kafka_topic='s', "
               "value_format='json');");
    /* unknown column: position and the nearest name */
    assert_int_not_equal(exec_err(e, "CREATE STREAM T AS\n  SELECT NAM FROM S;", &d), 0);
    assert_int_equal(d.line, 2);
    assert_int_equal(d.col, 10);
    assert_non_null(strstr(d.msg, "NAM"));
    assert_non_null(strstr(d.msg, "NAME"));
    assert_non_null(strstr(d.hint, "^"));
    /* unknown source */
    assert_int_not_equal(exec_err(e, "CREATE STREAM T AS SELECT * FROM SS;", &d), 0);
    assert_non_null(strstr(d.msg, "SS does not exist"));
    assert_non_null(strstr(d.msg, "did you mean S"));
    /* aggregate without GROUP BY, non-aggregate column */
    assert_int_not_equal(exec_err(e, "CREATE TABLE T AS SELECT COUNT(*) FROM S;", &d), 0);
    assert_non_null(strstr(d.msg, "GROUP BY"));
    assert_int_not_equal(
        exec_err(e, "CREATE TABLE T AS SELECT NAME, BYTES, COUNT(*) FROM S GROUP BY NAME;", &d), 0);
    assert_non_null(strstr(d.msg, "BYTES"));
    /* a table needs a key; duplicate source */
    assert_int_not_equal(
        exec_err(e, "CREATE TABLE X (A INT) WITH (kafka_topic='x', value_format='json');", &d), 0);
    assert_non_null(strstr(d.msg, "PRIMARY KEY"));
    assert_int_equal(exec_err(e, "CREATE STREAM S (A INT) WITH (kafka_topic='s');", &d), SL_EEXIST);
    /* stream-stream join without WITHIN */
    exec_ok(e, "CREATE STREAM R (ID INT KEY, X INT) WITH (kafka_topic='r', value_format='json');");
    assert_int_not_equal(
        exec_err(e, "CREATE STREAM J AS SELECT * FROM S JOIN R ON S.ID = R.ID;", &d), 0);
    assert_non_null(strstr(d.msg, "WITHIN"));
    /* a syntax error: the parser's position */
    assert_int_not_equal(exec_err(e, "CREATE STREAM T AS SELEC * FROM S;", &d), 0);
    assert_int_equal(d.line, 1);
    /* a query feeding its own input is refused, and leaves nothing subscribed behind */
    exec_ok(e, "CREATE STREAM A AS SELECT * FROM S;");
    assert_int_not_equal(exec_err(e, "INSERT INTO S SELECT * FROM A;", &d), 0);
    assert_non_null(strstr(d.msg, "cycle"));
    assert_int_not_equal(
        exec_err(e, "CREATE STREAM C WITH (kafka_topic='s') AS SELECT * FROM S;", &d), 0);
    assert_non_null(strstr(d.msg, "cycle"));
    push(e, "s", "1", "{\"NAME\":\"x\",\"BYTES\":1}", 1);
    assert_int_equal(o.n, 1); /* only A's output */
    /* unsupported format */
    assert_int_not_equal(
        exec_err(e, "CREATE STREAM AV (X INT) WITH (kafka_topic='a', value_format='avro');", &d),
        0);
    assert_non_null(strstr(d.msg, "JSON"));
    sl_sql_engine_free(e);
}

/* ksql.md §1.13, compat 0.6 */
static void test_seed_trace(void **st)
{
    (void)st;
    struct out o = {0};
    struct sl_sql_engine_opts opts = {.compat06 = true};
    struct sl_sql_engine *e = sl_sql_engine_new(&opts, on_emit, &o);
    exec_ok(e,
            "CREATE STREAM STR_PROCSTART_BASE (computer_name VARCHAR, md5 VARCHAR, path VARCHAR, "
            "pid INT, process_guid VARCHAR, timestamp INT) WITH (kafka_topic='test_topic', "
            "value_format='json');"
            "CREATE STREAM STR_PROCSTART_BY_COMPUTER_NAME AS SELECT * FROM STR_PROCSTART_BASE "
            "WHERE COMPUTER_NAME is not null PARTITION BY COMPUTER_NAME;"
            "CREATE STREAM STR_OSINFO_BASE (computer_name VARCHAR, ip_address VARCHAR, caption "
            "VARCHAR) WITH (kafka_topic='osinfo_raw', value_format='json');"
            "CREATE STREAM STR_OSINFO_BY_COMPUTER_NAME AS SELECT * FROM STR_OSINFO_BASE WHERE "
            "COMPUTER_NAME is not null PARTITION BY COMPUTER_NAME;"
            "CREATE TABLE TBL_OSINFO_BY_COMPUTER_NAME (computer_name VARCHAR, ip_address VARCHAR, "
            "caption VARCHAR) WITH (kafka_topic='STR_OSINFO_BY_COMPUTER_NAME', "
            "key='computer_name', value_format='json');"
            "CREATE STREAM STR_MODULELOAD_BASE (computer_name VARCHAR, md5 VARCHAR, path VARCHAR, "
            "pid INT, process_guid VARCHAR) WITH (kafka_topic='moduleload_raw', "
            "value_format='json');"
            "CREATE STREAM STR_MODULELOAD_BY_COMPUTER_NAME AS SELECT * FROM STR_MODULELOAD_BASE "
            "WHERE COMPUTER_NAME is not null PARTITION BY COMPUTER_NAME;"
            "CREATE STREAM STR_PROCSTART_ENRICHED AS SELECT p.COMPUTER_NAME, p.MD5 as proc_md5, "
            "p.PID, p.PROCESS_GUID, p.TIMESTAMP as ts_procstart, h.IP_ADDRESS, h.CAPTION FROM "
            "STR_PROCSTART_BY_COMPUTER_NAME p JOIN TBL_OSINFO_BY_COMPUTER_NAME h ON "
            "p.COMPUTER_NAME = h.COMPUTER_NAME EMIT CHANGES;"
            "CREATE STREAM STR_MODLOAD_ENRICHED AS SELECT e.p_COMPUTER_NAME, e.proc_md5, e.PID, "
            "e.PROCESS_GUID, e.IP_ADDRESS, m.MD5 as mod_md5, m.PATH as mod_path FROM "
            "STR_PROCSTART_ENRICHED e INNER JOIN STR_MODULELOAD_BY_COMPUTER_NAME m WITHIN 2 "
            "HOURS ON e.p_computer_name = m.computer_name where e.process_guid = m.process_guid "
            "EMIT CHANGES;");
    /* a procstart before any osinfo: the INNER stream-table join drops it */
    push(e, "test_topic", NULL,
         "{\"computer_name\":\"JASON-WIN81-VM\",\"process_guid\":\"G0\",\"pid\":1,\"md5\":\"A\"}",
         500);
    push(
        e, "osinfo_raw", NULL,
        "{\"computer_name\":\"JASON-WIN81-VM\",\"ip_address\":\"127.0.0.1\",\"caption\":\"Win10\"}",
        1000);
    push(e, "test_topic", NULL,
         "{\"computer_name\":\"JASON-WIN81-VM\",\"process_guid\":\"G1\",\"pid\":1972,"
         "\"md5\":\"D60\",\"path\":\"p.exe\",\"timestamp\":1447697423}",
         2000);
    push(e, "moduleload_raw", NULL,
         "{\"computer_name\":\"JASON-WIN81-VM\",\"process_guid\":\"G1\",\"pid\":1972,"
         "\"md5\":\"3D1\",\"path\":\"ntdll.dll\"}",
         3000);
    /* a module of another process: same computer, WHERE fails */
    push(e, "moduleload_raw", NULL,
         "{\"computer_name\":\"JASON-WIN81-VM\",\"process_guid\":\"G9\",\"pid\":9,"
         "\"md5\":\"X\",\"path\":\"x.dll\"}",
         3500);
    const char *want_enriched =
        "STR_PROCSTART_ENRICHED 2000 \"JASON-WIN81-VM\" {\"P_COMPUTER_NAME\":\"JASON-WIN81-VM\","
        "\"PROC_MD5\":\"D60\",\"PID\":1972,\"PROCESS_GUID\":\"G1\",\"TS_PROCSTART\":1447697423,"
        "\"IP_ADDRESS\":\"127.0.0.1\",\"CAPTION\":\"Win10\"}";
    const char *want_modload =
        "STR_MODLOAD_ENRICHED 3000 \"JASON-WIN81-VM\" {\"P_COMPUTER_NAME\":\"JASON-WIN81-VM\","
        "\"PROC_MD5\":\"D60\",\"E_PID\":1972,\"E_PROCESS_GUID\":\"G1\",\"IP_ADDRESS\":\"127.0.0."
        "1\","
        "\"MOD_MD5\":\"3D1\",\"MOD_PATH\":\"ntdll.dll\"}";
    int enriched = 0, modload = 0;
    for (int i = 0; i < o.n; i++) {
        if (strncmp(o.lines[i], "STR_PROCSTART_ENRICHED", 22) == 0) {
            assert_string_equal(o.lines[i], want_enriched);
            enriched++;
        }
        if (strncmp(o.lines[i], "STR_MODLOAD_ENRICHED", 20) == 0) {
            assert_string_equal(o.lines[i], want_modload);
            modload++;
        }
    }
    assert_int_equal(enriched, 1);
    assert_int_equal(modload, 1);
    struct sl_sql_engine_stats s;
    sl_sql_engine_stats(e, &s);
    assert_true(s.state_bytes > 0);
    sl_sql_engine_free(e);
}

static char late_seen[512];

static void on_late(void *ud, const char *query, const char *source, const struct sl_value *record,
                    int64_t ts)
{
    (void)ud;
    struct sl_buf b;
    sl_buf_init(&b, 1u << 16);
    sl_buf_appendf(&b, "%s %lld ", source, (long long)ts);
    sl_sql_encode_value(record, &b);
    snprintf(late_seen, sizeof late_seen, "%s", b.ptr);
    sl_buf_fini(&b);
    assert_non_null(strstr(query, "CTAS_C"));
}

static void test_window_late_and_state(void **st)
{
    (void)st;
    struct out o = {0};
    struct sl_sql_engine *e = sl_sql_engine_new(NULL, on_emit, &o);
    sl_sql_engine_on_late(e, on_late, NULL);
    exec_ok(e, "CREATE STREAM S (K STRING KEY, V BIGINT) WITH (kafka_topic='s', "
               "value_format='json');"
               "CREATE TABLE C AS SELECT K, COUNT(*) AS N, SUM(V) AS T FROM S WINDOW TUMBLING "
               "(SIZE 10 SECONDS, GRACE PERIOD 5 SECONDS) GROUP BY K;");
    push(e, "s", "\"a\"", "{\"V\":1}", 1000);
    push(e, "s", "\"a\"", "{\"V\":2}", 2000);
    push(e, "s", "\"b\"", "{\"V\":5}", 21000); /* stream time 21 s: [0,10) closed at 15 s */
    push(e, "s", "\"a\"", "{\"V\":7}", 3000);  /* late */
    assert_int_equal(o.n, 3);
    assert_string_equal(o.lines[1], "C 2000 \"a\" {\"N\":2,\"T\":3} [0,10000)");
    assert_string_equal(o.lines[2], "C 21000 \"b\" {\"N\":1,\"T\":5} [20000,30000)");
    struct sl_sql_engine_stats s;
    sl_sql_engine_stats(e, &s);
    assert_int_equal(s.late, 1);
    assert_int_equal(s.records_in, 4);
    assert_string_equal(late_seen, "S 3000 {\"K\":\"a\",\"V\":7}");
    /* a record whose value does not coerce: counted, the rest flows */
    push(e, "s", "\"a\"", "{\"V\":\"x\"}", 22000);
    push(e, "s", "\"a\"", "{\"V\":1}", 22000);
    sl_sql_engine_stats(e, &s);
    assert_int_equal(s.decode_errors, 1);
    assert_int_equal(o.n, 4);
    sl_sql_engine_free(e);
}

static void test_catalog(void **st)
{
    (void)st;
    struct out o = {0};
    struct sl_sql_engine *e = sl_sql_engine_new(NULL, on_emit, &o);
    struct sl_buf b;
    sl_buf_init(&b, 1u << 20);
    struct sl_diag d;
    sl_diag_init(&d);
    const char *sql = "CREATE STREAM S (K STRING KEY, V BIGINT) WITH (kafka_topic='s', "
                      "value_format='json');"
                      "CREATE STREAM F AS SELECT K, V * 2 AS W FROM S WHERE V > 1;"
                      "SHOW STREAMS; SHOW QUERIES; DESCRIBE F;";
    assert_int_equal(sl_sql_engine_exec(e, sql, strlen(sql), &b, &d), 0);
    assert_non_null(strstr(b.ptr, "Stream created"));
    assert_non_null(strstr(b.ptr, "CSAS_F_"));
    assert_non_null(strstr(b.ptr, "W"));
    push(e, "s", "\"k\"", "{\"V\":2}", 1);
    assert_int_equal(o.n, 1);
    assert_string_equal(o.lines[0], "F 1 \"k\" {\"W\":4}");
    /* the source a query reads cannot be dropped; its sink can (the query goes with it) */
    assert_int_not_equal(exec_err(e, "DROP STREAM S;", &d), 0);
    assert_non_null(strstr(d.msg, "TERMINATE"));
    exec_ok(e, "DROP STREAM F; DROP STREAM S;");
    push(e, "s", "\"k\"", "{\"V\":2}", 2);
    assert_int_equal(o.n, 1);
    /* a table a stream-table join reads cannot be dropped under it */
    exec_ok(e, "CREATE STREAM S2 (K STRING KEY, V BIGINT) WITH (kafka_topic='s2', "
               "value_format='json');"
               "CREATE TABLE T2 (K STRING PRIMARY KEY, N STRING) WITH (kafka_topic='t2', "
               "value_format='json');"
               "CREATE STREAM J2 AS SELECT S2.K, V, N FROM S2 JOIN T2 ON S2.K = T2.K;");
    assert_int_not_equal(exec_err(e, "DROP TABLE T2;", &d), 0);
    assert_non_null(strstr(d.msg, "joins it"));
    exec_ok(e, "DROP STREAM J2; DROP TABLE T2; DROP STREAM S2;");
    struct sl_sql_source_info *info;
    assert_int_equal(sl_sql_engine_sources(e, &info), 0);
    sl_free(info);
    sl_buf_fini(&b);
    sl_sql_engine_free(e);
}

static void test_table_table_join(void **st)
{
    (void)st;
    struct out o = {0};
    struct sl_sql_engine *e = sl_sql_engine_new(NULL, on_emit, &o);
    exec_ok(e, "CREATE TABLE U (ID INT PRIMARY KEY, NAME STRING) WITH (kafka_topic='u', "
               "value_format='json');"
               "CREATE TABLE A (ID INT PRIMARY KEY, CITY STRING) WITH (kafka_topic='a', "
               "value_format='json');"
               "CREATE TABLE J AS SELECT U.ID, NAME, CITY FROM U JOIN A ON U.ID = A.ID;"
               "CREATE TABLE LJ AS SELECT U.ID, NAME, CITY FROM U LEFT JOIN A ON U.ID = A.ID;");
    push(e, "u", "1", "{\"NAME\":\"ann\"}", 1);  /* LJ: ann, no city; J: nothing */
    push(e, "a", "1", "{\"CITY\":\"oslo\"}", 2); /* J and LJ: ann oslo */
    push(e, "a", "1", "{\"CITY\":\"rome\"}", 3); /* both: ann rome */
    push(e, "a", "1", NULL, 4);                  /* J: deleted; LJ: ann, no city */
    push(e, "a", "2", "{\"CITY\":\"bonn\"}", 5); /* no user 2: nothing */
    const char *want[] = {
        "LJ 1 1 {\"NAME\":\"ann\",\"CITY\":null}",     "J 2 1 {\"NAME\":\"ann\",\"CITY\":\"oslo\"}",
        "LJ 2 1 {\"NAME\":\"ann\",\"CITY\":\"oslo\"}", "J 3 1 {\"NAME\":\"ann\",\"CITY\":\"rome\"}",
        "LJ 3 1 {\"NAME\":\"ann\",\"CITY\":\"rome\"}", "J 4 1 null",
        "LJ 4 1 {\"NAME\":\"ann\",\"CITY\":null}",
    };
    assert_int_equal(o.n, 7);
    for (int i = 0; i < 7; i++)
        assert_string_equal(o.lines[i], want[i]);
    sl_sql_engine_free(e);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_seed_trace),
        cmocka_unit_test(test_window_late_and_state),
        cmocka_unit_test(test_catalog),
        cmocka_unit_test(test_table_table_join),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
