/* ksql_api_test.c — the JSON shapes of the ksqlDB REST API (request bodies, result objects,
 * push-query header and rows). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "api/ksql_api.h"
#include "base/alloc.h"
#include "base/buf.h"
#include "core/event.h"

#include <string.h>

static void test_body(void **state)
{
    (void)state;
    struct sl_arena a;
    sl_arena_init(&a, 4096, 1u << 20);
    struct sl_ksql_req r;
    struct sl_diag d;
    sl_diag_init(&d);
    const char *b = "{\"ksql\":\"SHOW STREAMS;\",\"streamsProperties\":{\"a\":\"x\",\"n\":3}}";
    assert_int_equal(sl_ksql_parse_body(b, strlen(b), &a, &r, &d), 0);
    assert_string_equal(r.ksql, "SHOW STREAMS;");
    assert_int_equal(r.nprops, 2);
    assert_string_equal(r.props[0].name, "a");
    assert_string_equal(r.props[1].value, "3");
    const char *qs = "{\"sql\":\"SELECT 1;\",\"properties\":{}}";
    assert_int_equal(sl_ksql_parse_body(qs, strlen(qs), &a, &r, &d), 0);
    assert_string_equal(r.ksql, "SELECT 1;");
    assert_int_not_equal(sl_ksql_parse_body("[1]", 3, &a, &r, &d), 0);
    assert_int_not_equal(sl_ksql_parse_body("{\"x\":1}", 7, &a, &r, &d), 0);
    assert_int_not_equal(sl_ksql_parse_body("{", 1, &a, &r, &d), 0);
    sl_arena_fini(&a);
}

static void test_objects(void **state)
{
    (void)state;
    struct sl_buf b;
    sl_buf_init(&b, 0);
    struct sl_sql_stmt st = {
        .kind = SL_SQL_S_CREATE_AS, .source_kind = SL_SQL_STREAM, .name = "BIG"};
    sl_ksql_json_status(&b, "CREATE STREAM BIG AS SELECT * FROM S", &st,
                        "Created query with ID CSAS_BIG_0", "CSAS_BIG_0");
    assert_string_equal(
        b.ptr, "{\"@type\":\"currentStatus\",\"statementText\":\"CREATE STREAM BIG AS "
               "SELECT * FROM S\",\"commandId\":\"stream/BIG/create\",\"commandStatus\":"
               "{\"status\":\"SUCCESS\",\"message\":\"Created query with ID CSAS_BIG_0\","
               "\"queryId\":\"CSAS_BIG_0\"},\"commandSequenceNumber\":-1,\"warnings\":[]}");
    sl_buf_reset(&b);
    struct sl_sqlcat_field f[2] = {{"ID", "STRING", true}, {"V", "ARRAY<INTEGER>", false}};
    struct sl_sqlcat_source s[2] = {
        {.name = "S", .topic = "t", .fields = f, .nfields = 2, .sql = "CREATE STREAM S"},
        {.name = "T", .topic = "tt", .table = true, .windowed = true}};
    sl_ksql_json_sources(&b, "SHOW TABLES", true, s, 2);
    assert_string_equal(b.ptr, "{\"@type\":\"tables\",\"statementText\":\"SHOW TABLES\",\"tables\":"
                               "[{\"type\":\"TABLE\",\"name\":\"T\",\"topic\":\"tt\",\"keyFormat\":"
                               "\"KAFKA\",\"valueFormat\":\"JSON\",\"isWindowed\":true}],"
                               "\"warnings\":[]}");
    sl_buf_reset(&b);
    sl_ksql_json_description(&b, "DESCRIBE S", &s[0]);
    assert_non_null(strstr(b.ptr, "\"fields\":[{\"name\":\"ID\",\"schema\":{\"type\":\"STRING\","
                                  "\"fields\":null,\"memberSchema\":null},\"type\":\"KEY\"},"
                                  "{\"name\":\"V\",\"schema\":{\"type\":\"ARRAY\""));
    sl_buf_reset(&b);
    sl_ksql_json_error(&b, SL_KSQL_BAD_STATEMENT, "1:8: bad \"x\"", "SELECT", NULL);
    assert_string_equal(b.ptr, "{\"@type\":\"statement_error\",\"error_code\":40001,\"message\":"
                               "\"1:8: bad \\\"x\\\"\",\"statementText\":\"SELECT\","
                               "\"entities\":[]}");
    sl_buf_reset(&b);
    struct sl_sqlcat_query q = {.id = "CSAS_BIG_0", .sink = "BIG", .topic = "BIG", .sql = "C"};
    sl_ksql_json_queries(&b, "SHOW QUERIES", &q, 1);
    assert_non_null(strstr(b.ptr, "\"sinks\":[\"BIG\"],\"sinkKafkaTopics\":[\"BIG\"],\"id\":"
                                  "\"CSAS_BIG_0\""));
    sl_buf_reset(&b);
    sl_ksql_json_properties(&b, "SHOW PROPERTIES", "auto.offset.reset = latest");
    assert_non_null(strstr(b.ptr, "[{\"name\":\"auto.offset.reset\",\"scope\":\"KSQL\","
                                  "\"value\":\"latest\"}]"));
    /* push query header and rows */
    sl_buf_reset(&b);
    struct sl_sqlcat_source out = {.name = "transient_QUERY_1", .fields = f, .nfields = 2};
    sl_ksql_json_header(&b, &out, false);
    assert_string_equal(b.ptr, "{\"header\":{\"queryId\":\"transient_QUERY_1\",\"schema\":\"`ID` "
                               "STRING KEY, `V` ARRAY<INTEGER>\",\"columnNames\":[\"ID\",\"V\"],"
                               "\"columnTypes\":[\"STRING\",\"ARRAY<INTEGER>\"]}}");
    sl_buf_reset(&b);
    sl_ksql_json_header(&b, &out, true);
    assert_string_equal(b.ptr, "{\"queryId\":\"transient_QUERY_1\",\"columnNames\":[\"ID\",\"V\"],"
                               "\"columnTypes\":[\"STRING\",\"ARRAY<INTEGER>\"]}");
    sl_buf_reset(&b);
    struct sl_value key = sl_value_str("k1", 2), items[1] = {sl_value_int(7)};
    struct sl_kv kv[1] = {{{"v", 1}, {.type = SL_V_LIST, .len = 1, .u.list = items}}};
    struct sl_value val = {.type = SL_V_MAP, .len = 1, .u.map = kv};
    struct sl_sql_record r = {.topic = "t", .key = &key, .key_name = "ID", .value = &val};
    sl_ksql_json_row(&b, &out, &r);
    assert_string_equal(b.ptr, "[\"k1\",[7]]"); /* value names matched as ksqlDB does */
    sl_buf_reset(&b);
    r.value = NULL;
    sl_ksql_json_row(&b, &out, &r);
    assert_string_equal(b.ptr, "[\"k1\",null]");
    sl_buf_fini(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_body), cmocka_unit_test(test_objects)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
