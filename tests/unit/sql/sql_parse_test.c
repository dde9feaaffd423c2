/*
 * sql_parse_test.c — the SQL lexer and parser: the pipeline's statements (ksql.md §1.0), a
 * sample of ksqlDB's conformance statements, every statement kind, precedence, soft
 * keywords as names, literals, error positions with their caret, the limits, formatting and
 * equality of expressions.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "base/alloc.h"
#include "base/arena.h"
#include "base/buf.h"
#include "sql/sql_parse.h"

#include <stdio.h>
#include <string.h>

static struct sl_arena arena;
static struct sl_diag diag;

static int setup(void **state)
{
    sl_arena_init(&arena, 4096, 64u << 20);
    sl_diag_init(&diag);
    return 0;
}

static int teardown(void **state)
{
    sl_arena_fini(&arena);
    return 0;
}

static struct sl_sql_script *parse_ok(const char *src)
{
    struct sl_sql_script *s = NULL;
    sl_diag_init(&diag);
    int rc = sl_sql_parse(src, strlen(src), &arena, &s, &diag);
    if (rc)
        fail_msg("parse failed: %s\n%s\n%s\n%s", sl_strerror(rc), diag.msg, diag.hint, src);
    return s;
}

static struct sl_sql_stmt *parse1(const char *src)
{
    struct sl_sql_script *s = parse_ok(src);
    assert_int_equal(s->nstmts, 1);
    return &s->stmts[0];
}

/* the canonical text of an expression, in a static buffer */
static const char *fmt(const struct sl_sql_expr *e)
{
    static char out[4096];
    struct sl_buf b;
    sl_buf_init(&b, 1 << 20);
    assert_int_equal(sl_sql_expr_format(e, &b), 0);
    snprintf(out, sizeof out, "%s", b.ptr ? b.ptr : "");
    sl_buf_fini(&b);
    return out;
}

static const char *fmt_expr(const char *src)
{
    struct sl_sql_expr *e = NULL;
    sl_diag_init(&diag);
    int rc = sl_sql_parse_expr(src, strlen(src), &arena, &e, &diag);
    if (rc)
        fail_msg("expression failed: %s\n%s\n%s", diag.msg, diag.hint, src);
    return fmt(e);
}

static struct sl_sql_expr *pe(const char *src)
{
    struct sl_sql_expr *e;
    assert_int_equal(sl_sql_parse_expr(src, strlen(src), &arena, &e, &diag), 0);
    return e;
}

static int parse_err(const char *src)
{
    struct sl_sql_script *s = NULL;
    sl_diag_init(&diag);
    int rc = sl_sql_parse(src, strlen(src), &arena, &s, &diag);
    assert_int_not_equal(rc, 0);
    assert_null(s);
    return rc;
}

/* ------------------------------------------------------------------ the pipeline */

/* ksql.md §1.0, verbatim from DaveCLowe/data_streaming (the osinfo column lists elided there
 * are filled in) */
static const char *const pipeline[] = {
    "CREATE STREAM STR_PROCSTART_BASE (publish_timestamp VARCHAR, cb_server VARCHAR, "
    "command_line VARCHAR, computer_name VARCHAR, event_type VARCHAR, expect_followon_w_md5 "
    "VARCHAR, md5 VARCHAR, parent_create_time INT, parent_md5 VARCHAR, parent_path VARCHAR, "
    "parent_process_guid VARCHAR, path VARCHAR, pid INT, process_guid VARCHAR, sensor_id INT, "
    "timestamp INT, type VARCHAR, username VARCHAR) WITH (kafka_topic='test_topic', "
    "value_format='json') ;",
    "CREATE STREAM STR_PROCSTART_BY_COMPUTER_NAME AS SELECT * FROM STR_PROCSTART_BASE WHERE "
    "COMPUTER_NAME is not null PARTITION BY COMPUTER_NAME;",
    "CREATE STREAM STR_OSINFO_BASE (cb_server VARCHAR, computer_name VARCHAR, ip_address VARCHAR, "
    "caption VARCHAR, version VARCHAR) WITH (kafka_topic='osinfo_raw', value_format='json') ;",
    "CREATE STREAM STR_OSINFO_BY_COMPUTER_NAME AS SELECT * FROM STR_OSINFO_BASE WHERE "
    "COMPUTER_NAME is not null PARTITION BY COMPUTER_NAME;",
    "CREATE TABLE TBL_OSINFO_BY_COMPUTER_NAME (cb_server VARCHAR, computer_name VARCHAR, "
    "ip_address VARCHAR, caption VARCHAR, version VARCHAR) WITH "
    "(kafka_topic='STR_OSINFO_BY_COMPUTER_NAME',key='computer_name', value_format='json');",
    "CREATE STREAM STR_MODULELOAD_BASE (cb_server VARCHAR, computer_name VARCHAR, event_type "
    "VARCHAR, md5 VARCHAR, path VARCHAR, pid INT, process_guid VARCHAR, sensor_id INT, timestamp "
    "INT, type VARCHAR ) WITH (kafka_topic='moduleload_raw', value_format='json') ;",
    "CREATE STREAM STR_MODULELOAD_BY_COMPUTER_NAME AS SELECT * FROM STR_MODULELOAD_BASE WHERE "
    "COMPUTER_NAME is not null PARTITION BY COMPUTER_NAME;",
    "CREATE STREAM STR_PROCSTART_ENRICHED AS SELECT p.COMMAND_LINE, p.COMPUTER_NAME, p.MD5 as "
    "proc_md5, p.PATH as proc_path, p.PID, p.PROCESS_GUID, p.TIMESTAMP as ts_procstart, "
    "p.USERNAME, p.PARENT_PATH, h.IP_ADDRESS, h.CAPTION, h.VERSION FROM "
    "STR_PROCSTART_BY_COMPUTER_NAME p JOIN TBL_OSINFO_BY_COMPUTER_NAME h ON p.COMPUTER_NAME = "
    "h.COMPUTER_NAME EMIT CHANGES;",
    "CREATE STREAM STR_MODLOAD_ENRICHED AS\n"
    "  SELECT e.COMMAND_LINE, e.p_COMPUTER_NAME, e.proc_md5, e.proc_path, e.PID, e.PROCESS_GUID, "
    "e.ts_procstart, e.USERNAME, e.PARENT_PATH, e.IP_ADDRESS, e.CAPTION, e.VERSION, m.MD5 as "
    "mod_md5, m.PATH as mod_path\n"
    "  FROM STR_PROCSTART_ENRICHED e\n"
    "  INNER JOIN STR_MODULELOAD_BY_COMPUTER_NAME m WITHIN 2 HOURS\n"
    "  ON e.p_computer_name = m.computer_name where e.process_guid = m.process_guid\n"
    "  EMIT CHANGES;",
    /* the repo's other statements */
    "SET 'auto.offset.reset' = 'earliest';",
    "SELECT * FROM rabbit EMIT CHANGES;",
    "CREATE STREAM TRANSACTIONS WITH (VALUE_FORMAT='AVRO') AS SELECT TRANSACTION AS TX_TYPE, "
    "SUBSTRING(AMOUNT,1,1) AS CURRENCY, CAST(SUBSTRING(AMOUNT,2,LEN(AMOUNT)-1) AS DECIMAL(9,2)) "
    "AS TX_AMOUNT FROM RABBIT_TRANSACTIONS WHERE TIMESTAMP IS NOT NULL;",
    "CREATE STREAM PROCS AS SELECT SPLIT(PROCESS_NAME,'.')[1] AS FILE_EXTENSION, "
    "CAST(PROCESS_PID AS INT) AS PID FROM RAW;",
    "CREATE SOURCE CONNECTOR `rabbit-source` WITH ('connector.class' = "
    "'io.confluent.connect.rabbitmq.RabbitMQSourceConnector', 'kafka.topic' = 'rabbit', "
    "'rabbitmq.queue' = 'transactions', 'tasks.max' = '1');",
    "CREATE SINK CONNECTOR kudu_sink WITH ('connector.class'='com.datamountaineer.streamreactor."
    "connect.kudu.sink.KuduSinkConnector', 'topics'='STR_MODLOAD_ENRICHED', "
    "'transforms'='dropSysCols', 'transforms.dropSysCols.blacklist'='ROWKEY,ROWTIME');",
};

static void test_pipeline(void **state)
{
    for (size_t i = 0; i < sizeof pipeline / sizeof pipeline[0]; i++)
        parse1(pipeline[i]);

    /* all of it as one script, as create_streams.sql is */
    struct sl_buf b;
    sl_buf_init(&b, 1 << 20);
    for (size_t i = 0; i < 9; i++) {
        assert_int_equal(sl_buf_puts(&b, pipeline[i]), 0);
        assert_int_equal(sl_buf_putc(&b, '\n'), 0);
    }
    struct sl_sql_script *s = parse_ok(b.ptr);
    sl_buf_fini(&b);
    assert_int_equal(s->nstmts, 9);

    struct sl_sql_stmt *st = &s->stmts[0];
    assert_int_equal(st->kind, SL_SQL_S_CREATE_SOURCE);
    assert_int_equal(st->source_kind, SL_SQL_STREAM);
    assert_string_equal(st->name, "STR_PROCSTART_BASE");
    assert_true(st->has_cols);
    assert_int_equal(st->ncols, 18);
    assert_string_equal(st->cols[15].name, "TIMESTAMP");
    assert_int_equal(st->cols[15].type->kind, SL_SQL_T_INT);
    assert_string_equal(st->cols[16].name, "TYPE");
    assert_int_equal(st->cols[16].type->kind, SL_SQL_T_STRING);
    assert_int_equal(st->nprops, 2);
    assert_string_equal(st->props[0].name, "KAFKA_TOPIC");
    assert_string_equal(st->props[0].raw, "kafka_topic");
    assert_int_equal(st->props[0].value->kind, SL_SQL_E_STRING);
    assert_string_equal(st->props[0].value->text, "test_topic");
    /* the text stops before the ';' (and the blank before it) */
    assert_true(strncmp(st->text, "CREATE STREAM STR_PROCSTART_BASE (", 34) == 0);
    assert_int_equal(st->text[strlen(st->text) - 1], ')');
    assert_int_equal(st->pos.line, 1);
    assert_int_equal(st->pos.col, 1);
    assert_int_equal(st->end, strlen(st->text));

    st = &s->stmts[1];
    assert_int_equal(st->kind, SL_SQL_S_CREATE_AS);
    assert_int_equal(st->pos.line, 2);
    assert_int_equal(st->query->nitems, 1);
    assert_int_equal(st->query->items[0].kind, SL_SQL_ITEM_STAR);
    assert_string_equal(fmt(st->query->where), "(COMPUTER_NAME IS NOT NULL)");
    assert_int_equal(st->query->npartition_by, 1);
    assert_string_equal(fmt(st->query->partition_by[0]), "COMPUTER_NAME");

    st = &s->stmts[4];
    assert_int_equal(st->source_kind, SL_SQL_TABLE);
    assert_string_equal(st->props[1].name, "KEY");
    assert_string_equal(st->props[1].value->text, "computer_name");

    st = &s->stmts[7];
    struct sl_sql_query *q = st->query;
    assert_int_equal(q->nitems, 12);
    assert_string_equal(q->items[2].alias, "PROC_MD5");
    assert_string_equal(q->items[2].expr->qualifier, "P");
    assert_string_equal(q->items[2].expr->name, "MD5");
    assert_string_equal(q->items[6].expr->name, "TIMESTAMP");
    assert_string_equal(q->items[6].alias, "TS_PROCSTART");
    assert_string_equal(q->items[11].expr->name, "VERSION");
    assert_string_equal(q->from.name, "STR_PROCSTART_BY_COMPUTER_NAME");
    assert_string_equal(q->from.alias, "P");
    assert_int_equal(q->njoins, 1);
    assert_int_equal(q->joins[0].kind, SL_SQL_JOIN_INNER);
    assert_false(q->joins[0].within);
    assert_string_equal(q->joins[0].right.alias, "H");
    assert_string_equal(fmt(q->joins[0].on), "(P.COMPUTER_NAME = H.COMPUTER_NAME)");
    assert_int_equal(q->emit, SL_SQL_EMIT_CHANGES);
    assert_int_equal(q->limit, -1);

    st = &s->stmts[8];
    q = st->query;
    assert_int_equal(q->nitems, 14);
    assert_string_equal(q->items[1].expr->name, "P_COMPUTER_NAME");
    assert_true(q->joins[0].within);
    assert_int_equal(q->joins[0].before_ms, 2 * 3600 * 1000);
    assert_int_equal(q->joins[0].after_ms, 2 * 3600 * 1000);
    assert_string_equal(fmt(q->joins[0].on), "(E.P_COMPUTER_NAME = M.COMPUTER_NAME)");
    assert_string_equal(fmt(q->where), "(E.PROCESS_GUID = M.PROCESS_GUID)");
    assert_int_equal(st->pos.line, 9);
}

static void test_pipeline_others(void **state)
{
    struct sl_sql_stmt *st = parse1(pipeline[9]);
    assert_int_equal(st->kind, SL_SQL_S_SET);
    assert_string_equal(st->prop_name, "auto.offset.reset");
    assert_string_equal(st->prop_value, "earliest");

    st = parse1(pipeline[10]);
    assert_int_equal(st->kind, SL_SQL_S_SELECT);
    assert_int_equal(st->query->emit, SL_SQL_EMIT_CHANGES);
    assert_null(st->query->from.alias);

    st = parse1(pipeline[11]);
    assert_int_equal(st->kind, SL_SQL_S_CREATE_AS);
    assert_int_equal(st->nprops, 1);
    assert_string_equal(fmt(st->query->items[2].expr),
                        "CAST(SUBSTRING(AMOUNT, 2, (LEN(AMOUNT) - 1)) AS DECIMAL(9, 2))");
    assert_int_equal(st->query->items[2].expr->type->precision, 9);
    assert_int_equal(st->query->items[2].expr->type->scale, 2);

    st = parse1(pipeline[12]);
    assert_int_equal(st->query->items[0].expr->kind, SL_SQL_E_SUBSCRIPT);
    assert_string_equal(fmt(st->query->items[0].expr), "SPLIT(PROCESS_NAME, '.')[1]");
    assert_int_equal(st->query->items[1].expr->type->kind, SL_SQL_T_INT);

    st = parse1(pipeline[13]);
    assert_int_equal(st->kind, SL_SQL_S_CREATE_CONNECTOR);
    assert_true(st->connector_source);
    assert_string_equal(st->name, "rabbit-source");
    assert_int_equal(st->nprops, 4);
    assert_string_equal(st->props[0].raw, "connector.class");
    assert_string_equal(st->props[0].name, "CONNECTOR.CLASS");

    st = parse1(pipeline[14]);
    assert_false(st->connector_source);
    assert_string_equal(st->props[3].value->text, "ROWKEY,ROWTIME");
}

/* ------------------------------------------------------------------ conformance sample */

/* a dozen statements from ../shared/conformance/ksql_cases.jsonl (which CI does not have) */
static const char *const conformance[] = {
    "CREATE STREAM INPUT (id int KEY, name STRING) WITH (kafka_topic='test_topic', "
    "value_format='JSON');",
    "CREATE STREAM OUTPUT AS SELECT * FROM INPUT WHERE name not like '%not%';",
    "CREATE STREAM INNER_JOIN as SELECT t.id, name, value, f1, f2 FROM test t join TEST_STREAM tt "
    "WITHIN (11 seconds, 10 seconds) on t.id = tt.id;",
    "CREATE STREAM OUTER_JOIN as SELECT ROWKEY as ID, t.id, tt.id, l1, l2 FROM LEFT_STREAM t full "
    "outer join RIGHT_STREAM tt WITHIN 1 minute GRACE PERIOD 1 minute on t.id = tt.id;",
    "CREATE TABLE OUTPUT AS SELECT ID, COUNT(*) as COUNT FROM INPUT WINDOW HOPPING (SIZE 5 "
    "MILLISECONDS,ADVANCE BY 2 MILLISECONDS, GRACE PERIOD 1 MILLISECONDS) GROUP BY ID EMIT FINAL;",
    "CREATE TABLE OUTPUT AS SELECT A, COUNT() AS COUNT FROM INPUT WINDOW SESSION (30 SECONDS) "
    "group by A;",
    "CREATE STREAM OUTPUT AS SELECT K, TRUNC(v) as R0, TRUNC(v , -1) as 1R , TRUNC(v , -2) as 2R  "
    "FROM test;",
    "CREATE STREAM OUTPUT AS SELECT ID, cast(null as BOOLEAN), cast(null AS ARRAY<INT>), cast(null "
    "AS MAP<STRING, INT>), cast(null AS STRUCT<F0 INT>) FROM TEST;",
    "CREATE STREAM JOINED as SELECT * FROM L LEFT JOIN R ON L.`SELECT` = R.`with.dot`;",
    "CREATE STREAM OUTPUT AS SELECT K, A as `with.dot`, B as `*bad!chars*`, C as `SELECT` FROM "
    "TEST;",
    "CREATE TABLE russell_3k_hourly AS SELECT tickerId, count(*) as tradeCount, "
    "min(CASE WHEN buy THEN price ELSE null END) as minBuyPrice FROM russell_3k_trades WINDOW "
    "TUMBLING (SIZE 1 HOUR) GROUP BY tickerId;",
    "CREATE STREAM S1 as SELECT K, ID FROM TEST WHERE THING['status']='false';",
    "CREATE TABLE OUTPUT as SELECT 1 as k, latest_by_offset(value) as value, count(1) AS ID FROM "
    "INPUT group by 1;",
    "CREATE STREAM OUTPUT as SELECT * FROM S1 JOIN T2 ON S1.ID = T2.ID JOIN T3 ON S1.ID = T3.ID;",
    "CREATE STREAM TEST (K STRING KEY, ID bigint, TS varchar) WITH (kafka_topic='test_topic', "
    "value_format='JSON', timestamp='ts', timestamp_format='yy-MM-dd HH:mm:ssX');",
    "CREATE TABLE T1 as select id, sum(value) as sum from test WINDOW TUMBLING (SIZE 30 SECONDS) "
    "group by id HAVING sum(value) > 100;",
};

static void test_conformance_sample(void **state)
{
    for (size_t i = 0; i < sizeof conformance / sizeof conformance[0]; i++)
        parse1(conformance[i]);

    struct sl_sql_stmt *st = parse1(conformance[0]);
    assert_true(st->cols[0].key);
    assert_false(st->cols[0].primary_key);
    assert_string_equal(st->cols[0].name, "ID");

    st = parse1(conformance[1]);
    assert_int_equal(st->query->where->kind, SL_SQL_E_LIKE);
    assert_true(st->query->where->negated);

    st = parse1(conformance[2]);
    assert_int_equal(st->query->joins[0].before_ms, 11000);
    assert_int_equal(st->query->joins[0].after_ms, 10000);

    st = parse1(conformance[3]);
    assert_int_equal(st->query->joins[0].kind, SL_SQL_JOIN_FULL);
    assert_true(st->query->joins[0].has_grace);
    assert_int_equal(st->query->joins[0].grace_ms, 60000);
    assert_string_equal(st->query->items[0].expr->name, "ROWKEY");

    st = parse1(conformance[4]);
    struct sl_sql_window *w = &st->query->window;
    assert_int_equal(w->kind, SL_SQL_WIN_HOPPING);
    assert_int_equal(w->size_ms, 5);
    assert_int_equal(w->advance_ms, 2);
    assert_true(w->has_grace);
    assert_int_equal(w->grace_ms, 1);
    assert_false(w->has_retention);
    assert_int_equal(st->query->emit, SL_SQL_EMIT_FINAL);
    assert_true(st->query->items[1].expr->star);

    st = parse1(conformance[5]);
    assert_int_equal(st->query->window.kind, SL_SQL_WIN_SESSION);
    assert_int_equal(st->query->window.size_ms, 30000);
    assert_int_equal(st->query->items[1].expr->nargs, 0);
    assert_false(st->query->items[1].expr->star);

    st = parse1(conformance[6]);
    assert_string_equal(st->query->items[2].alias, "1R"); /* a digit identifier */
    assert_string_equal(fmt(st->query->items[2].expr), "TRUNC(V, -1)");

    st = parse1(conformance[7]);
    assert_string_equal(fmt(st->query->items[4].expr), "CAST(NULL AS STRUCT<F0 INTEGER>)");
    assert_string_equal(fmt(st->query->items[3].expr), "CAST(NULL AS MAP<STRING, INTEGER>)");

    st = parse1(conformance[8]);
    struct sl_sql_expr *on = st->query->joins[0].on;
    assert_string_equal(on->a->name, "SELECT");
    assert_true(on->a->quoted);
    assert_string_equal(on->b_->name, "with.dot");
    assert_string_equal(fmt(on), "(L.`SELECT` = R.`with.dot`)");

    st = parse1(conformance[9]);
    assert_string_equal(st->query->items[1].alias, "with.dot");
    assert_true(st->query->items[1].alias_quoted);
    assert_string_equal(st->query->items[2].alias, "*bad!chars*");

    st = parse1(conformance[11]);
    assert_string_equal(fmt(st->query->where), "(THING['status'] = 'false')");

    st = parse1(conformance[12]);
    assert_int_equal(st->query->group_by[0]->kind, SL_SQL_E_INT);
    assert_string_equal(st->query->items[1].alias, "VALUE");

    st = parse1(conformance[13]);
    assert_int_equal(st->query->njoins, 2);
}

/* ------------------------------------------------------------------ statements */

static void test_statements(void **state)
{
    struct sl_sql_stmt *st;
    st = parse1("create or replace table if not exists t (id bigint primary key, h bytes headers, "
                "h2 bytes header('k')) with (kafka_topic='t', partitions=4, replicas=-1, "
                "wrap_single_value=false, x=1.5, y=-2.5e1)");
    assert_int_equal(st->kind, SL_SQL_S_CREATE_SOURCE);
    assert_true(st->or_replace);
    assert_true(st->if_not_exists);
    assert_true(st->cols[0].primary_key);
    assert_true(st->cols[1].headers);
    assert_true(st->cols[2].headers);
    assert_int_equal(st->props[1].value->kind, SL_SQL_E_INT);
    assert_int_equal(st->props[1].value->i, 4);
    assert_int_equal(st->props[2].value->kind, SL_SQL_E_INT);
    assert_int_equal(st->props[2].value->i, -1);
    assert_int_equal(st->props[3].value->kind, SL_SQL_E_BOOL);
    assert_false(st->props[3].value->b);
    assert_int_equal(st->props[4].value->kind, SL_SQL_E_DECIMAL);
    assert_string_equal(st->props[4].value->text, "1.5");
    assert_int_equal(st->props[5].value->kind, SL_SQL_E_DOUBLE);
    assert_true(st->props[5].value->d == -25.0);

    st = parse1("CREATE STREAM s WITH (kafka_topic='s', value_format='json')");
    assert_int_equal(st->kind, SL_SQL_S_CREATE_SOURCE);
    assert_false(st->has_cols);

    st = parse1("CREATE STREAM s () WITH (kafka_topic='s')");
    assert_true(st->has_cols);
    assert_int_equal(st->ncols, 0);

    st = parse1("CREATE TABLE agg AS SELECT a, COUNT(*) FROM s GROUP BY a");
    assert_int_equal(st->kind, SL_SQL_S_CREATE_AS);
    assert_int_equal(st->source_kind, SL_SQL_TABLE);
    assert_int_equal(st->nprops, 0);

    st = parse1("INSERT INTO out WITH (QUERY_ID='q1') SELECT * FROM s");
    assert_int_equal(st->kind, SL_SQL_S_INSERT_INTO);
    assert_string_equal(st->name, "OUT");
    assert_int_equal(st->nprops, 1);
    assert_non_null(st->query);

    st = parse1("SELECT * FROM s EMIT CHANGES LIMIT 10");
    assert_int_equal(st->kind, SL_SQL_S_SELECT);
    assert_int_equal(st->query->limit, 10);

    st = parse1("DROP STREAM IF EXISTS s DELETE TOPIC");
    assert_int_equal(st->kind, SL_SQL_S_DROP);
    assert_true(st->if_exists);
    assert_true(st->delete_topic);
    st = parse1("drop table t");
    assert_int_equal(st->source_kind, SL_SQL_TABLE);
    assert_false(st->if_exists);
    st = parse1("DROP STREAM IF"); /* a stream named IF */
    assert_string_equal(st->name, "IF");

    st = parse1("UNSET 'auto.offset.reset'");
    assert_int_equal(st->kind, SL_SQL_S_UNSET);
    assert_string_equal(st->prop_name, "auto.offset.reset");

    static const char *const shows[] = {"STREAMS", "TABLES",    "QUERIES",   "PROPERTIES",
                                        "TOPICS",  "FUNCTIONS", "CONNECTORS"};
    for (size_t i = 0; i < 7; i++) {
        char b[64];
        snprintf(b, sizeof b, "%s %s", i % 2 ? "list" : "SHOW", shows[i]);
        st = parse1(b);
        assert_int_equal(st->kind, SL_SQL_S_SHOW);
        assert_string_equal(st->show, shows[i]);
        assert_false(st->extended);
    }
    st = parse1("show streams extended");
    assert_true(st->extended);

    st = parse1("DESCRIBE EXTENDED s");
    assert_int_equal(st->kind, SL_SQL_S_DESCRIBE);
    assert_true(st->extended);
    assert_string_equal(st->name, "S");
    st = parse1("DESCRIBE extended"); /* a source named EXTENDED */
    assert_false(st->extended);
    assert_string_equal(st->name, "EXTENDED");

    st = parse1("EXPLAIN CSAS_OUT_0");
    assert_int_equal(st->kind, SL_SQL_S_EXPLAIN);
    assert_string_equal(st->name, "CSAS_OUT_0");
    assert_null(st->query);
    st = parse1("EXPLAIN SELECT * FROM s EMIT CHANGES");
    assert_non_null(st->query);
    st = parse1("EXPLAIN CREATE STREAM x AS SELECT * FROM s");
    assert_int_equal(st->kind, SL_SQL_S_EXPLAIN);
    assert_non_null(st->query);

    st = parse1("TERMINATE ALL");
    assert_int_equal(st->kind, SL_SQL_S_TERMINATE);
    assert_true(st->all);
    st = parse1("TERMINATE CSAS_OUT_0");
    assert_false(st->all);
    assert_string_equal(st->name, "CSAS_OUT_0");

    st = parse1("CREATE SINK CONNECTOR IF NOT EXISTS k WITH ('a'='b')");
    assert_int_equal(st->kind, SL_SQL_S_CREATE_CONNECTOR);
    assert_true(st->if_not_exists);
    st = parse1("DROP CONNECTOR k");
    assert_int_equal(st->kind, SL_SQL_S_DROP_CONNECTOR);
    assert_string_equal(st->name, "K");
}

static void test_script(void **state)
{
    const char *src = "-- leading comment\n"
                      "SET 'a'='b';;  /* block\n comment */ SHOW STREAMS ; \n"
                      "  select 'x;y' from s emit changes -- no final ';'\n";
    struct sl_sql_script *s = parse_ok(src);
    assert_int_equal(s->nstmts, 3);
    assert_string_equal(s->stmts[0].text, "SET 'a'='b'");
    assert_int_equal(s->stmts[0].pos.line, 2);
    assert_int_equal(s->stmts[0].pos.col, 1);
    assert_string_equal(s->stmts[1].text, "SHOW STREAMS");
    assert_int_equal(s->stmts[1].pos.line, 3);
    assert_int_equal(s->stmts[1].pos.col, 13);
    assert_string_equal(s->stmts[2].text, "select 'x;y' from s emit changes");
    assert_int_equal(s->stmts[2].pos.line, 4);
    assert_int_equal(s->stmts[2].pos.col, 3);
    assert_int_equal(s->stmts[2].pos.offset, (uint32_t)(strstr(src, "select") - src));
    assert_string_equal(s->stmts[2].query->items[0].expr->text, "x;y");

    s = parse_ok("");
    assert_int_equal(s->nstmts, 0);
    s = parse_ok("  ;; -- nothing\n");
    assert_int_equal(s->nstmts, 0);
}

/* ------------------------------------------------------------------ queries */

static void test_query_clauses(void **state)
{
    struct sl_sql_stmt *st = parse1(
        "SELECT a.*, b.x AS bx, s->*, COUNT(*) c FROM a AS a LEFT OUTER JOIN b AS b WITHIN 1 "
        "SECOND GRACE PERIOD 500 MILLISECONDS ON a.k = b.k RIGHT JOIN c ON a.k = c.k WINDOW "
        "TUMBLING (SIZE 1 DAY, RETENTION 7 DAYS, GRACE PERIOD 10 MINUTES) WHERE a.x > 1 "
        "PARTITION BY a.k GROUP BY a.k, b.x HAVING COUNT(*) > 2 EMIT CHANGES LIMIT 3");
    struct sl_sql_query *q = st->query;
    assert_int_equal(q->nitems, 4);
    assert_int_equal(q->items[0].kind, SL_SQL_ITEM_QSTAR);
    assert_string_equal(q->items[0].qualifier, "A");
    assert_string_equal(q->items[1].alias, "BX");
    assert_int_equal(q->items[2].kind, SL_SQL_ITEM_DEREFSTAR);
    assert_string_equal(fmt(q->items[2].expr), "S");
    assert_string_equal(q->items[3].alias, "C");
    assert_int_equal(q->njoins, 2);
    assert_int_equal(q->joins[0].kind, SL_SQL_JOIN_LEFT);
    assert_int_equal(q->joins[0].before_ms, 1000);
    assert_int_equal(q->joins[0].grace_ms, 500);
    assert_int_equal(q->joins[1].kind, SL_SQL_JOIN_RIGHT);
    assert_int_equal(q->window.kind, SL_SQL_WIN_TUMBLING);
    assert_int_equal(q->window.size_ms, 86400000);
    assert_int_equal(q->window.retention_ms, 7 * 86400000LL);
    assert_int_equal(q->window.grace_ms, 600000);
    assert_int_equal(q->npartition_by, 1);
    assert_int_equal(q->ngroup_by, 2);
    assert_string_equal(fmt(q->having), "(COUNT(*) > 2)");
    assert_int_equal(q->limit, 3);

    st = parse1("SELECT a, b FROM s GROUP BY (a, b)");
    assert_int_equal(st->query->ngroup_by, 2);
    st = parse1("SELECT a + b FROM s GROUP BY (a + b) * 2");
    assert_int_equal(st->query->ngroup_by, 1);
    assert_string_equal(fmt(st->query->group_by[0]), "((A + B) * 2)");
    st = parse1("SELECT a FROM s GROUP BY (f(a, b))");
    assert_int_equal(st->query->ngroup_by, 1);

    st = parse1("SELECT * FROM s WINDOW HOPPING (SIZE 30 SECONDS, ADVANCE BY 10 SECONDS, "
                "RETENTION 1 HOUR) GROUP BY x");
    assert_int_equal(st->query->window.advance_ms, 10000);
    assert_true(st->query->window.has_retention);
    assert_false(st->query->window.has_grace);
}

/* ------------------------------------------------------------------ expressions */

static void test_precedence(void **state)
{
    assert_string_equal(fmt_expr("true OR false AND true"), "(TRUE OR (FALSE AND TRUE))");
    assert_string_equal(fmt_expr("a AND b OR c AND d"), "((A AND B) OR (C AND D))");
    assert_string_equal(fmt_expr("NOT a AND b"), "((NOT A) AND B)");
    assert_string_equal(fmt_expr("NOT a = b"), "(NOT (A = B))");
    assert_string_equal(fmt_expr("a = 1 OR b <> 2 AND c != 3"),
                        "((A = 1) OR ((B <> 2) AND (C <> 3)))");
    assert_string_equal(fmt_expr("1 + 2 * 3 - 4 / 2 % 3"), "((1 + (2 * 3)) - ((4 / 2) % 3))");
    assert_string_equal(fmt_expr("a - b - c"), "((A - B) - C)");
    assert_string_equal(fmt_expr("a || b || c"), "((A || B) || C)");
    assert_string_equal(fmt_expr("-a * b"), "(-A * B)");
    assert_string_equal(fmt_expr("-a[1]"), "-A[1]");
    assert_string_equal(fmt_expr("(-a)[1]"), "(-A)[1]");
    assert_string_equal(fmt_expr("- -a"), "-(-A)");
    assert_string_equal(fmt_expr("a->b->c[0]"), "A->B->C[0]");
    assert_string_equal(fmt_expr("a + 1 > b * 2"), "((A + 1) > (B * 2))");
    assert_string_equal(fmt_expr("x BETWEEN 1 AND 2 AND y"), "((X BETWEEN 1 AND 2) AND Y)");
    assert_string_equal(fmt_expr("x NOT BETWEEN a + 1 AND b OR z"),
                        "((X NOT BETWEEN (A + 1) AND B) OR Z)");
    assert_string_equal(fmt_expr("x IN (1, 2) AND y NOT IN (3)"),
                        "((X IN (1, 2)) AND (Y NOT IN (3)))");
    assert_string_equal(fmt_expr("s LIKE 'a%' OR s NOT LIKE 'b!%' ESCAPE '!'"),
                        "((S LIKE 'a%') OR (S NOT LIKE 'b!%' ESCAPE '!'))");
    assert_string_equal(fmt_expr("a IS NULL AND b IS NOT NULL"),
                        "((A IS NULL) AND (B IS NOT NULL))");
    assert_string_equal(fmt_expr("a IS DISTINCT FROM b + 1 OR a IS NOT DISTINCT FROM c"),
                        "((A IS DISTINCT FROM (B + 1)) OR (A IS NOT DISTINCT FROM C))");
    assert_string_equal(fmt_expr("NOT NOT a"), "(NOT (NOT A))");

    struct sl_sql_expr *e;
    assert_int_equal(sl_sql_parse_expr("true OR false AND true", 22, &arena, &e, &diag), 0);
    assert_int_equal(e->op, SL_SQL_OP_OR);
    assert_int_equal(e->b_->op, SL_SQL_OP_AND);
}

static void test_expressions(void **state)
{
    assert_string_equal(fmt_expr("CASE WHEN a > 1 THEN 'x' WHEN a > 0 THEN 'y' ELSE 'z' END"),
                        "(CASE WHEN (A > 1) THEN 'x' WHEN (A > 0) THEN 'y' ELSE 'z' END)");
    assert_string_equal(fmt_expr("case a when 1 then 2 end"), "(CASE A WHEN 1 THEN 2 END)");
    assert_string_equal(fmt_expr("count(*)"), "COUNT(*)");
    assert_string_equal(fmt_expr("count(distinct x)"), "COUNT(DISTINCT X)");
    assert_string_equal(fmt_expr("now()"), "NOW()");
    assert_string_equal(fmt_expr("transform(arr, x => x * 2)"), "TRANSFORM(ARR, X => (X * 2))");
    assert_string_equal(fmt_expr("reduce(arr, 0, (s, x) => s + x)"),
                        "REDUCE(ARR, 0, (S, X) => (S + X))");
    assert_string_equal(fmt_expr("f((a), (b))"), "F(A, B)");
    assert_string_equal(fmt_expr("ARRAY[1, 2, 3]"), "ARRAY[1, 2, 3]");
    assert_string_equal(fmt_expr("ARRAY[]"), "ARRAY[]");
    assert_string_equal(fmt_expr("MAP('a' := 1, 'b' := 2)"), "MAP('a':=1, 'b':=2)");
    assert_string_equal(fmt_expr("STRUCT(f := 1, `g` := 'x')"), "STRUCT(F:=1, `g`:='x')");
    assert_string_equal(fmt_expr("cast(x as array<map<string, struct<a int, b decimal(4, 2)>>>)"),
                        "CAST(X AS ARRAY<MAP<STRING, STRUCT<A INTEGER, B DECIMAL(4, 2)>>>)");
    assert_string_equal(fmt_expr("cast(x AS varchar)"), "CAST(X AS STRING)");
    assert_string_equal(fmt_expr("cast(x AS integer)"), "CAST(X AS INTEGER)");
    assert_string_equal(fmt_expr("cast(x AS timestamp)"), "CAST(X AS TIMESTAMP)");
    assert_string_equal(fmt_expr("'it''s'"), "'it''s'");
    assert_string_equal(fmt_expr("t.`Mixed`"), "T.`Mixed`");
    assert_string_equal(fmt_expr("\"quoted\""), "`quoted`");
    assert_string_equal(fmt_expr("a->`f`"), "A->`f`");

    struct sl_sql_expr *e;
#define EXPR(s) (e = pe(s))
    EXPR("2147483647");
    assert_int_equal(e->kind, SL_SQL_E_INT);
    assert_int_equal(e->i, 2147483647);
    EXPR("2147483648");
    assert_int_equal(e->kind, SL_SQL_E_BIGINT);
    EXPR("9223372036854775807");
    assert_int_equal(e->kind, SL_SQL_E_BIGINT);
    assert_true(e->i == INT64_MAX);
    EXPR("2.50");
    assert_int_equal(e->kind, SL_SQL_E_DECIMAL);
    assert_string_equal(e->text, "2.50");
    assert_true(e->d == 2.5);
    EXPR(".5");
    assert_int_equal(e->kind, SL_SQL_E_DECIMAL);
    assert_true(e->d == 0.5);
    EXPR("1e-3");
    assert_int_equal(e->kind, SL_SQL_E_DOUBLE);
    assert_true(e->d == 1e-3);
    EXPR("1.5E2");
    assert_int_equal(e->kind, SL_SQL_E_DOUBLE);
    assert_true(e->d == 150.0);
    EXPR("'a''b'");
    assert_int_equal(e->kind, SL_SQL_E_STRING);
    assert_int_equal(e->len, 3);
    assert_string_equal(e->text, "a'b");
    EXPR("NULL");
    assert_int_equal(e->kind, SL_SQL_E_NULL);
    EXPR("false");
    assert_int_equal(e->kind, SL_SQL_E_BOOL);
    assert_false(e->b);
    EXPR("-5");
    assert_int_equal(e->kind, SL_SQL_E_UNARY);
    assert_int_equal(e->op, SL_SQL_OP_NEG);
    EXPR("foo");
    assert_int_equal(e->kind, SL_SQL_E_COLUMN);
    assert_string_equal(e->name, "FOO");
    assert_null(e->qualifier);
    assert_false(e->quoted);
    EXPR("`foo`");
    assert_string_equal(e->name, "foo");
    assert_true(e->quoted);
    EXPR("s.`Foo`");
    assert_string_equal(e->qualifier, "S");
    assert_string_equal(e->name, "Foo");
    EXPR("col_1@x");
    assert_string_equal(e->name, "COL_1@X");
    EXPR("  a +  b ");
    assert_int_equal(e->pos.offset, 2);
    assert_int_equal(e->end, 8);
    EXPR("f(a, b)");
    assert_int_equal(e->kind, SL_SQL_E_CALL);
    assert_int_equal(e->end, 7);
    assert_int_equal(e->nargs, 2);
#undef EXPR
}

/* soft keywords: column and source names that are keywords elsewhere */
static void test_soft_keywords(void **state)
{
    struct sl_sql_stmt *st = parse1(
        "CREATE STREAM key (timestamp BIGINT, type STRING, path STRING, key STRING KEY, version "
        "INT, session INT, window INT, date DATE, time TIME, size INT, value INT, emit INT, "
        "changes INT, final INT, partition INT, grace INT, period INT, stream INT, table INT, "
        "struct INT, map INT, array INT, string STRING, set INT, show INT, explain INT, "
        "tumbling INT, hopping INT, advance INT, retention INT, topic INT, source INT, sink INT, "
        "connector INT, primary INT, if INT, exists INT, replace INT, with INT, escape INT, "
        "user STRING, text STRING, data STRING, all INT, extended INT, insert INT, into INT) "
        "WITH (kafka_topic='t', key='key', timestamp='timestamp');");
    assert_string_equal(st->name, "KEY");
    assert_int_equal(st->ncols, 47);
    assert_string_equal(st->cols[0].name, "TIMESTAMP");
    assert_string_equal(st->cols[3].name, "KEY");
    assert_true(st->cols[3].key);
    assert_string_equal(st->cols[6].name, "WINDOW");

    st = parse1("SELECT timestamp, type, path, key, version, session, window, date, time, size, "
                "value, emit, changes, final, partition, grace, period, stream, table, struct, "
                "map, array, string, set, user, window + 1 AS window2, map['k'], array[0] "
                "FROM key WHERE timestamp > 0 AND type = 'x' AND path LIKE '/%' AND session IS "
                "NOT NULL EMIT CHANGES");
    assert_int_equal(st->query->nitems, 28);
    assert_string_equal(st->query->items[0].expr->name, "TIMESTAMP");
    assert_string_equal(st->query->items[6].expr->name, "WINDOW");
    assert_string_equal(st->query->items[19].expr->name, "STRUCT");
    assert_string_equal(st->query->items[25].alias, "WINDOW2");
    assert_int_equal(st->query->items[26].expr->kind, SL_SQL_E_SUBSCRIPT);
    assert_string_equal(st->query->items[26].expr->a->name, "MAP");
    assert_int_equal(st->query->items[27].expr->kind, SL_SQL_E_ARRAY); /* ARRAY[0] builds */
    assert_string_equal(st->query->from.name, "KEY");
    assert_null(st->query->from.alias);

    /* a clause word right after a relation is not its alias */
    st = parse1("SELECT * FROM s WINDOW TUMBLING (SIZE 1 SECOND) GROUP BY x");
    assert_null(st->query->from.alias);
    assert_int_equal(st->query->window.kind, SL_SQL_WIN_TUMBLING);
    st = parse1("SELECT * FROM s PARTITION BY x");
    assert_null(st->query->from.alias);
    st = parse1("SELECT * FROM s emit changes");
    assert_null(st->query->from.alias);
    st = parse1("SELECT * FROM s session JOIN t type ON session.a = type.a");
    assert_string_equal(st->query->from.alias, "SESSION");
    assert_string_equal(st->query->joins[0].right.alias, "TYPE");
    /* an alias may be a soft keyword after AS */
    st = parse1("SELECT a AS key, b type FROM s AS window");
    assert_string_equal(st->query->items[0].alias, "KEY");
    assert_string_equal(st->query->items[1].alias, "TYPE");
    assert_string_equal(st->query->from.alias, "WINDOW");

    /* reserved words need quotes */
    parse_err("SELECT select FROM s");
    assert_non_null(strstr(diag.msg, "reserved"));
    parse1("SELECT `select`, \"from\" FROM s");
}

/* ------------------------------------------------------------------ errors */

static void check_err(const char *src, uint32_t line, uint32_t col, const char *msg_part,
                      const char *hint)
{
    parse_err(src);
    if (diag.line != line || diag.col != col || !strstr(diag.msg, msg_part) ||
        (hint && strcmp(diag.hint, hint)))
        fail_msg("for: %s\nwanted %u:%u '%s' hint:\n%s\ngot %u:%u '%s' hint:\n%s", src, line, col,
                 msg_part, hint ? hint : "(any)", diag.line, diag.col, diag.msg, diag.hint);
    char want[32];
    snprintf(want, sizeof want, "line %u:%u: ", line, col);
    assert_true(strncmp(diag.msg, want, strlen(want)) == 0);
    /* the offset is the byte of line:col */
    const char *p = src;
    for (uint32_t l = 1; l < line; l++)
        p = strchr(p, '\n') + 1;
    assert_int_equal(diag.offset, (p - src) + col - 1);
}

static void test_errors(void **state)
{
    check_err("CREATE STREAM s (a INT,\n  b STRING WITH (kafka_topic='x')", 2, 12,
              "expected ',' or ')' after a column definition, found 'WITH'",
              "  b STRING WITH (kafka_topic='x')\n           ^");
    check_err("SELECT * FORM s", 1, 10, "expected ',' or FROM after the select list, found 'FORM'",
              "SELECT * FORM s\n         ^");
    check_err("SET 'a'='b';\nSELECT a FROM s WHERE a = = 1;", 2, 27,
              "expected an expression, found '='",
              "SELECT a FROM s WHERE a = = 1;\n"
              "                          ^");
    check_err("SELECT * FROM s WINDOW TUMBLING (SIZE 10 FORTNIGHTS)", 1, 42, "expected a time unit",
              NULL);
    check_err("SELECT * FROM a JOIN b WITHIN 10 SECONDS WHERE x", 1, 42,
              "expected ON after the join window, found 'WHERE'", NULL);
    check_err("SELECT f(a FROM s", 1, 12, "expected ',' or ')' after a function argument", NULL);
    check_err("SELECT 'abc FROM s", 1, 8, "unterminated string", NULL);
    check_err("SELECT a /* never closed", 1, 10, "unterminated comment", NULL);
    check_err("SELECT a # b FROM s", 1, 10, "unexpected character '#'", NULL);
    check_err("SELECT a FROM s;\nSELEC b FROM s", 2, 1, "expected a statement", NULL);
    check_err("CREATE STREAM s (a INT)", 1, 24,
              "expected WITH after the column list, found end "
              "of input",
              NULL);
    check_err("CREATE STREAM s (a INT) WITH (x='y') AS SELECT * FROM t", 1, 38,
              "column list cannot be combined with AS SELECT", NULL);
    check_err("SELECT CAST(a AS FLOAT) FROM s", 1, 18, "expected a type", NULL);
    check_err("SELECT * FROM s GROUP a", 1, 23, "expected BY after GROUP, found 'a'", NULL);
    check_err("SELECT a FROM s LIMIT x", 1, 23, "expected a row count after LIMIT", NULL);
    check_err("SELECT * FROM s EMIT SOMETIMES", 1, 22, "expected CHANGES or FINAL after EMIT",
              NULL);
    check_err("SELECT a IS b FROM s", 1, 13, "expected NULL, NOT NULL or DISTINCT FROM after IS",
              NULL);
    check_err("SELECT * FROM s WHERE x = 99999999999999999999", 1, 27, "integer out of range",
              NULL);
    check_err("SELECT\ta,\tb FROM s x y", 1, 22,
              "expected ';' or the end of the statement, found "
              "'y'",
              "SELECT\ta,\tb FROM s x y\n      \t  \t           ^");
    /* a reserved word where a name was wanted says so, and only there */
    check_err("CREATE STREAM select (a INT) WITH (x='y')", 1, 15, "reserved word", NULL);
    check_err("SELECT a WHERE x", 1, 10, "FROM after the select list, found 'WHERE'", NULL);
    assert_null(strstr(diag.msg, "reserved"));

    /* the caret of a long line is windowed around the error */
    char src[1024];
    int n = snprintf(src, sizeof src, "SELECT ");
    for (int i = 0; i < 60; i++)
        n += snprintf(src + n, sizeof src - (size_t)n, "col%02d, ", i);
    snprintf(src + n, sizeof src - (size_t)n, "FROM FROM s");
    parse_err(src);
    assert_int_equal(diag.col, (uint32_t)n + 1);
    const char *nl = strchr(diag.hint, '\n');
    assert_non_null(nl);
    assert_true(strlen(diag.hint) < sizeof diag.hint - 1);
    assert_int_equal(strlen(nl + 1), 61); /* 60 blanks and the caret */
    assert_true(strncmp(diag.hint + 60, "FROM FROM s\n", 12) == 0);

    /* sl_sql_parse_expr: the whole text must be one expression */
    struct sl_sql_expr *e;
    assert_int_equal(sl_sql_parse_expr("a b", 3, &arena, &e, &diag), SL_EPARSE);
    assert_int_equal(diag.col, 3);
    assert_int_equal(sl_sql_parse_expr("", 0, &arena, &e, &diag), SL_EPARSE);
    assert_non_null(strstr(diag.msg, "found end of input"));
}

static void test_limits(void **state)
{
    /* nesting past SL_SQL_MAX_DEPTH is refused with E2BIG, not a crash */
    size_t n = 100000;
    char *deep = sl_xmalloc(2 * n + 64);
    size_t o = (size_t)snprintf(deep, 64, "SELECT ");
    memset(deep + o, '(', n);
    o += n;
    deep[o++] = 'a';
    memset(deep + o, ')', n);
    o += n;
    memcpy(deep + o, " FROM s", 8);
    struct sl_sql_script *s;
    sl_diag_init(&diag);
    assert_int_equal(sl_sql_parse(deep, strlen(deep), &arena, &s, &diag), SL_E2BIG);
    assert_non_null(strstr(diag.msg, "nesting"));
    assert_int_equal(diag.line, 1);

    /* so is a long operator chain (it makes as deep a tree), and a deep type */
    o = (size_t)snprintf(deep, 64, "SELECT a");
    for (int i = 0; i < 1000; i++)
        o += (size_t)snprintf(deep + o, 64, " OR a");
    assert_int_equal(sl_sql_parse(deep, o, &arena, &s, &diag), SL_E2BIG);
    o = (size_t)snprintf(deep, 64, "SELECT CAST(a AS ");
    for (int i = 0; i < 1000; i++)
        o += (size_t)snprintf(deep + o, 64, "ARRAY<");
    assert_int_equal(sl_sql_parse(deep, o, &arena, &s, &diag), SL_E2BIG);
    for (int i = 0; i < 100000; i++)
        deep[i] = '-';
    assert_int_equal(sl_sql_parse_expr(deep, 100000, &arena, (struct sl_sql_expr **)&s, &diag),
                     SL_EPARSE); /* a comment: nothing to parse */

    /* within the limit: 100 parentheses and a 150-term OR chain parse */
    o = (size_t)snprintf(deep, 64, "SELECT ");
    memset(deep + o, '(', 100);
    o += 100;
    deep[o++] = 'a';
    memset(deep + o, ')', 100);
    o += 100;
    for (int i = 0; i < 150; i++)
        o += (size_t)snprintf(deep + o, 64, " OR a");
    memcpy(deep + o, " FROM s", 8);
    parse_ok(deep);
    sl_free(deep);

    /* the script size cap */
    assert_int_equal(sl_sql_parse("SELECT", SL_SQL_MAX_SRC + 1, &arena, &s, &diag), SL_E2BIG);

    /* an arena that runs out gives ENOMEM and no tree */
    struct sl_arena small;
    sl_arena_init(&small, 256, 1024);
    int rc = sl_sql_parse(pipeline[0], strlen(pipeline[0]), &small, &s, &diag);
    assert_int_equal(rc, SL_ENOMEM);
    assert_null(s);
    sl_arena_fini(&small);
}

/* every failing allocation of the arena's chunks is an ENOMEM with no tree, nothing leaks */
static void test_alloc_failures(void **state)
{
    const char *src = pipeline[8];
    int ok = 0;
    for (uint64_t nth = 1; nth < 200 && !ok; nth++) {
        struct sl_arena a;
        sl_arena_init(&a, 256, 0);
        struct sl_sql_script *s = NULL;
        sl_alloc_fail_nth(nth);
        int rc = sl_sql_parse(src, strlen(src), &a, &s, &diag);
        sl_alloc_fail_nth(0);
        if (rc == 0) {
            assert_int_equal(s->nstmts, 1);
            ok = 1;
        } else {
            assert_int_equal(rc, SL_ENOMEM);
            assert_null(s);
        }
        sl_arena_fini(&a);
    }
    assert_true(ok);
}

/* ------------------------------------------------------------------ format and equal */

static void test_format_equal(void **state)
{
    /* what GROUP BY matching needs: spelling, case, blanks and parentheses do not matter */
    assert_true(sl_sql_expr_equal(pe("a + 1"), pe("(A)+1")));
    assert_true(sl_sql_expr_equal(pe("substring(x, 1, 2)"), pe("SUBSTRING( x,1,2 )")));
    assert_true(sl_sql_expr_equal(pe("t.a"), pe("T.A")));
    assert_true(sl_sql_expr_equal(pe("`A`"), pe("a")));
    assert_true(sl_sql_expr_equal(pe("a <> b"), pe("a != b")));
    assert_true(sl_sql_expr_equal(pe("cast(a as varchar)"), pe("CAST(a AS STRING)")));
    assert_false(sl_sql_expr_equal(pe("a + 1"), pe("a + 2")));
    assert_false(sl_sql_expr_equal(pe("a + 1"), pe("a - 1")));
    assert_false(sl_sql_expr_equal(pe("t.a"), pe("a")));
    assert_false(sl_sql_expr_equal(pe("`a`"), pe("a")));
    assert_false(sl_sql_expr_equal(pe("1"), pe("1.0")));
    assert_false(sl_sql_expr_equal(pe("x IS NULL"), pe("x IS NOT NULL")));
    assert_false(sl_sql_expr_equal(pe("count(*)"), pe("count(1)")));
    assert_false(sl_sql_expr_equal(pe("cast(a as int)"), pe("cast(a as bigint)")));
    assert_false(sl_sql_expr_equal(pe("'a'"), pe("'b'")));
    assert_true(sl_sql_expr_equal(NULL, NULL));
    assert_false(sl_sql_expr_equal(pe("a"), NULL));

    /* the canonical text reads back as itself */
    static const char *const exprs[] = {
        "a + b * -c",
        "NOT (a OR b) AND c",
        "f(x => x + 1, (a, b) => a || b)",
        "-(-a)",
        "(-a)->b",
        "CAST(x AS STRUCT<`a b` INT, C MAP<STRING, INT>>)",
        "1e300 + 0.001 * 2.5",
        "`select` + `a``b`",
        "CASE WHEN x THEN 1 END IS NULL",
    };
    for (size_t i = 0; i < sizeof exprs / sizeof exprs[0]; i++) {
        char once[1024];
        int n = snprintf(once, sizeof once, "%s", fmt(pe(exprs[i])));
        assert_true(n > 0 && (size_t)n < sizeof once);
        assert_string_equal(fmt(pe(once)), once);
    }
    assert_string_equal(fmt(pe("`a``b`")), "`a``b`");
    assert_string_equal(fmt(pe("1e3")), "1000.0");
    assert_string_equal(fmt(pe("1e300")), "1e+300");

    struct sl_buf b;
    sl_buf_init(&b, 1024);
    struct sl_sql_type t = {.kind = SL_SQL_T_BIGINT};
    assert_int_equal(sl_sql_type_format(&t, &b), 0);
    assert_string_equal(b.ptr, "BIGINT");
    sl_buf_fini(&b);
    assert_string_equal(sl_sql_tkind_name(SL_SQL_T_INT), "INTEGER");
    assert_string_equal(sl_sql_tkind_name(SL_SQL_T_STRING), "STRING");
    assert_string_equal(sl_sql_tkind_name(SL_SQL_T__COUNT), "?");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_pipeline, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pipeline_others, setup, teardown),
        cmocka_unit_test_setup_teardown(test_conformance_sample, setup, teardown),
        cmocka_unit_test_setup_teardown(test_statements, setup, teardown),
        cmocka_unit_test_setup_teardown(test_script, setup, teardown),
        cmocka_unit_test_setup_teardown(test_query_clauses, setup, teardown),
        cmocka_unit_test_setup_teardown(test_precedence, setup, teardown),
        cmocka_unit_test_setup_teardown(test_expressions, setup, teardown),
        cmocka_unit_test_setup_teardown(test_soft_keywords, setup, teardown),
        cmocka_unit_test_setup_teardown(test_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_limits, setup, teardown),
        cmocka_unit_test_setup_teardown(test_alloc_failures, setup, teardown),
        cmocka_unit_test_setup_teardown(test_format_equal, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
