/*
 * out_sql_test.c — the database-free parts of the postgres and sqlite sinks (io/out_sql.c):
 * identifier and table quoting, the type a value gets from `create`, value rendering (every
 * value type, timestamps truncated to microseconds toward the past, non-finite doubles,
 * bytea hex), COPY text escaping, column resolution (inferred in order of first appearance,
 * drop_fields, explicit columns, schema keys and types, the table's columns, upsert keys
 * that are not columns), type inference (int and double mix to double, other mixes to
 * text), unknown-field counting, CREATE TABLE text with a primary key, and the pending set's
 * delivery holds (released ok after a commit, failed otherwise).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "base/alloc.h"
#include "base/buf.h"
#include "codec/json.h"
#include "core/ack.h"
#include "core/event.h"
#include "io/out_sql.h"

#include <math.h>
#include <string.h>

static struct sl_buf buf;

static int setup(void **state)
{
    sl_buf_init(&buf, 1 << 20);
    return 0;
}

static int teardown(void **state)
{
    sl_buf_fini(&buf);
    return 0;
}

static const char *text(void)
{
    return buf.ptr ? buf.ptr : "";
}

static const char *render(const struct sl_value *v)
{
    bool null = false;
    sl_buf_reset(&buf);
    assert_int_equal(sl_sql_render(&buf, v, &null), 0);
    return null ? "<null>" : text();
}

static struct sl_batch *parse(const char *const *lines, size_t n)
{
    struct sl_batch *b = sl_batch_new();
    for (size_t i = 0; i < n; i++)
        assert_int_equal(sl_json_parse_event(b, lines[i], strlen(lines[i]), NULL, NULL), 0);
    return b;
}

static void rows_of(const struct sl_batch *b, const struct sl_event **rows)
{
    for (uint32_t i = 0; i < b->count; i++)
        rows[i] = &b->events[i];
}

static void test_quoting(void **state)
{
    sl_buf_reset(&buf);
    assert_int_equal(sl_sql_quote_ident(&buf, sl_str_c("a\"b.c")), 0);
    assert_string_equal(text(), "\"a\"\"b.c\"");
    sl_buf_reset(&buf);
    assert_int_equal(sl_sql_quote_table(&buf, "public.Events"), 0);
    assert_string_equal(text(), "\"public\".\"Events\"");
    sl_buf_reset(&buf);
    assert_int_equal(sl_sql_quote_table(&buf, "t"), 0);
    assert_string_equal(text(), "\"t\"");
    sl_buf_reset(&buf);
    assert_int_equal(sl_sql_quote_table(&buf, "\"my.schema\".t"), 0); /* verbatim */
    assert_string_equal(text(), "\"my.schema\".t");
}

static void test_types(void **state)
{
    assert_string_equal(sl_sql_type_for(SL_SQL_POSTGRES, SL_V_INT), "BIGINT");
    assert_string_equal(sl_sql_type_for(SL_SQL_POSTGRES, SL_V_DOUBLE), "DOUBLE PRECISION");
    assert_string_equal(sl_sql_type_for(SL_SQL_POSTGRES, SL_V_TS), "TIMESTAMPTZ");
    assert_string_equal(sl_sql_type_for(SL_SQL_POSTGRES, SL_V_IP), "INET");
    assert_string_equal(sl_sql_type_for(SL_SQL_POSTGRES, SL_V_MAP), "JSONB");
    assert_string_equal(sl_sql_type_for(SL_SQL_POSTGRES, SL_V_BYTES), "BYTEA");
    assert_string_equal(sl_sql_type_for(SL_SQL_POSTGRES, SL_V_NULL), "TEXT");
    assert_string_equal(sl_sql_type_for(SL_SQL_SQLITE, SL_V_INT), "INTEGER");
    assert_string_equal(sl_sql_type_for(SL_SQL_SQLITE, SL_V_DOUBLE), "REAL");
    assert_string_equal(sl_sql_type_for(SL_SQL_SQLITE, SL_V_LIST), "TEXT");
    assert_string_equal(sl_sql_type_for(SL_SQL_SQLITE, SL_V_BYTES), "BLOB");
    assert_string_equal(sl_sql_type_for(SL_SQL_SQLITE, SL_V_BOOL), "BOOLEAN");
}

static void test_render(void **state)
{
    struct sl_value v = sl_value_null();
    assert_string_equal(render(&v), "<null>");
    assert_string_equal(render(NULL), "<null>");
    v = sl_value_bool(true);
    assert_string_equal(render(&v), "true");
    v = sl_value_int(-9223372036854775807LL - 1);
    assert_string_equal(render(&v), "-9223372036854775808");
    v = sl_value_double(0.1);
    assert_string_equal(render(&v), "0.1");
    v = sl_value_double(1.0 / 3);
    assert_string_equal(render(&v), "0.3333333333333333");
    v = sl_value_double(NAN);
    assert_string_equal(render(&v), "NaN");
    v = sl_value_double(-INFINITY);
    assert_string_equal(render(&v), "-Infinity");
    v = sl_value_str("a\tb", 3);
    assert_string_equal(render(&v), "a\tb");
    /* ns -> µs, truncated toward the past (also before 1970) */
    v = sl_value_ts(1700000000123456789LL);
    assert_string_equal(render(&v), "2023-11-14T22:13:20.123456Z");
    v = sl_value_ts(-1);
    assert_string_equal(render(&v), "1969-12-31T23:59:59.999999Z");
    v = (struct sl_value){.type = SL_V_BYTES, .len = 3};
    v.u.s = "\x00\x0a\xff";
    assert_string_equal(render(&v), "\\x000aff");
    assert_int_equal(sl_value_ip_parse(sl_str_c("2001:db8::1"), &v), 0);
    assert_string_equal(render(&v), "2001:db8::1");
    assert_int_equal(sl_value_ip_parse(sl_str_c("10.0.0.1"), &v), 0);
    assert_string_equal(render(&v), "10.0.0.1");
    const char *line[] = {"{\"m\": {\"a\": [1, \"x\", null], \"b\": {\"c\": true}}}"};
    struct sl_batch *b = parse(line, 1);
    assert_string_equal(render(&b->events[0].fields[0].val),
                        "{\"a\":[1,\"x\",null],\"b\":{\"c\":true}}");
    sl_batch_unref(b);
}

static void test_copy_escape(void **state)
{
    sl_buf_reset(&buf);
    const char in[] = "a\\b\tc\nd\re\0f|\"'";
    assert_int_equal(sl_sql_copy_escape(&buf, in, sizeof(in) - 1), 0);
    assert_string_equal(text(), "a\\\\b\\tc\\nd\\re\\000f|\"'");
    sl_buf_reset(&buf);
    assert_int_equal(sl_sql_copy_escape(&buf, "", 0), 0);
    assert_int_equal(buf.len, 0);
}

static void test_resolve_inferred(void **state)
{
    const char *lines[] = {
        "{\"id\": 1, \"x\": 1, \"ROWKEY\": \"k\", \"name\": null}",
        "{\"id\": 2, \"x\": 2.5, \"ROWTIME\": 5, \"m\": {\"a\": 1}, \"mix\": 1}",
        "{\"id\": 3, \"name\": \"n\", \"mix\": \"s\", \"extra\": true}",
    };
    struct sl_batch *b = parse(lines, 3);
    const struct sl_event *rows[3];
    rows_of(b, rows);
    char *drop[] = {"ROWKEY", "ROWTIME"};
    struct sl_sql_conf cf = {.table = "t", .drop_fields = {drop, 2}};
    struct sl_sql_cols cols;
    char err[256];
    /* only the first two rows: "extra" is not known yet */
    assert_int_equal(
        sl_sql_cols_resolve(&cols, "t", &cf, SL_SQL_POSTGRES, rows, 2, NULL, 0, err, sizeof(err)),
        0);
    assert_true(cols.inferred);
    assert_int_equal(cols.count, 5);
    const char *names[] = {"id", "x", "name", "m", "mix"};
    const char *types[] = {"BIGINT", "DOUBLE PRECISION", "TEXT", "JSONB", "BIGINT"};
    for (size_t i = 0; i < 5; i++) {
        assert_string_equal(cols.v[i].name, names[i]);
        assert_string_equal(cols.v[i].sqltype, types[i]);
        assert_false(cols.v[i].key);
    }
    assert_int_equal(sl_sql_cols_unknown(&cols, rows[0]), 0); /* ROWKEY is dropped, not unknown */
    assert_int_equal(sl_sql_cols_unknown(&cols, rows[2]), 1); /* extra */
    sl_buf_reset(&buf);
    assert_int_equal(sl_sql_create_text(&buf, "s.t", &cols), 0);
    assert_string_equal(text(),
                        "CREATE TABLE IF NOT EXISTS \"s\".\"t\" (\"id\" BIGINT, \"x\" DOUBLE "
                        "PRECISION, \"name\" TEXT, \"m\" JSONB, \"mix\" BIGINT)");
    sl_sql_cols_fini(&cols);
    /* all three rows: mix is int then string -> text; the table lacks "m" */
    const char *tc[] = {"id", "x", "name", "mix", "extra", "other"};
    assert_int_equal(
        sl_sql_cols_resolve(&cols, "t", &cf, SL_SQL_SQLITE, rows, 3, tc, 6, err, sizeof(err)), 0);
    assert_int_equal(cols.count, 5);
    assert_string_equal(cols.v[3].name, "mix");
    assert_string_equal(cols.v[3].sqltype, "TEXT");
    assert_string_equal(cols.v[4].name, "extra");
    assert_string_equal(cols.v[4].sqltype, "BOOLEAN");
    assert_int_equal(sl_sql_cols_unknown(&cols, rows[1]), 0); /* m: known, ignored at resolve */
    sl_sql_cols_fini(&cols);
    sl_batch_unref(b);
}

static void test_resolve_declared(void **state)
{
    const char *lines[] = {"{\"k\": \"a\", \"v\": 1, \"n\": {\"a\": {\"b\": 2}}}"};
    struct sl_batch *b = parse(lines, 1);
    const struct sl_event *rows[1];
    rows_of(b, rows);
    char *colv[] = {"k", "n.a.b", "v", "ROWKEY"};
    char *keys[] = {"k"};
    char *drop[] = {"ROWKEY"};
    struct sl_strmap_item schema[] = {{"v", "INTEGER NOT NULL", 0, 0}};
    struct sl_sql_conf cf = {.table = "t",
                             .columns = {colv, 4},
                             .upsert_keys = {keys, 1},
                             .drop_fields = {drop, 1},
                             .schema = {schema, 1}};
    struct sl_sql_cols cols;
    char err[256];
    assert_int_equal(
        sl_sql_cols_resolve(&cols, "t", &cf, SL_SQL_POSTGRES, rows, 1, NULL, 0, err, sizeof(err)),
        0);
    assert_false(cols.inferred);
    assert_int_equal(cols.count, 3);
    assert_true(cols.v[0].key);
    assert_string_equal(cols.v[1].name, "n.a.b");
    assert_string_equal(cols.v[1].sqltype, "BIGINT"); /* the nested path's value */
    assert_string_equal(cols.v[2].sqltype, "INTEGER NOT NULL");
    const struct sl_value *nv = sl_path_get(&cols.v[1].path, rows[0]);
    assert_non_null(nv);
    assert_int_equal(nv->u.i, 2);
    assert_int_equal(sl_sql_cols_unknown(&cols, rows[0]), 0); /* explicit: never counted */
    sl_buf_reset(&buf);
    assert_int_equal(sl_sql_create_text(&buf, "t", &cols), 0);
    assert_string_equal(text(), "CREATE TABLE IF NOT EXISTS \"t\" (\"k\" TEXT, \"n.a.b\" BIGINT, "
                                "\"v\" INTEGER NOT NULL, PRIMARY KEY (\"k\"))");
    sl_buf_reset(&buf);
    assert_int_equal(sl_sql_col_list(&buf, &cols, "EXCLUDED."), 0);
    assert_string_equal(text(), "EXCLUDED.\"k\", EXCLUDED.\"n.a.b\", EXCLUDED.\"v\"");
    sl_sql_cols_fini(&cols);

    /* no columns: the schema's keys */
    cf.columns.count = 0;
    cf.upsert_keys.count = 0;
    assert_int_equal(
        sl_sql_cols_resolve(&cols, "t", &cf, SL_SQL_POSTGRES, rows, 1, NULL, 0, err, sizeof(err)),
        0);
    assert_int_equal(cols.count, 1);
    assert_string_equal(cols.v[0].name, "v");
    sl_sql_cols_fini(&cols);

    /* an upsert key that is not a column (here: dropped) */
    char *badkeys[] = {"ROWKEY"};
    cf.columns.count = 4;
    cf.upsert_keys = (struct sl_strlist){badkeys, 1};
    assert_int_equal(
        sl_sql_cols_resolve(&cols, "t", &cf, SL_SQL_POSTGRES, rows, 1, NULL, 0, err, sizeof(err)),
        SL_ECONFIG);
    assert_non_null(strstr(err, "upsert key 'ROWKEY'"));
    assert_int_equal(cols.count, 0);

    /* nothing left */
    char *onlydrop[] = {"ROWKEY"};
    cf.columns = (struct sl_strlist){onlydrop, 1};
    cf.upsert_keys.count = 0;
    assert_int_equal(
        sl_sql_cols_resolve(&cols, "t", &cf, SL_SQL_POSTGRES, rows, 1, NULL, 0, err, sizeof(err)),
        SL_ECONFIG);
    assert_non_null(strstr(err, "no columns"));
    sl_batch_unref(b);
}

static int notified;
static void on_done(void *arg)
{
    notified++;
}

static void test_pending_holds(void **state)
{
    struct sl_ack a1, a2;
    sl_ack_init(&a1, on_done, NULL);
    sl_ack_init(&a2, on_done, NULL);
    const char *lines[] = {"{\"a\": 1}", "{\"a\": 2}"};
    struct sl_batch *b1 = parse(lines, 2), *b2 = parse(lines, 1);
    sl_batch_set_ack(b1, &a1);
    sl_batch_set_ack(b2, &a2);
    sl_ack_release(&a1, true); /* the owners let go: only the batches hold now */
    sl_ack_release(&a2, true);
    struct sl_sql_pending p = {0};
    sl_sql_pending_add(&p, b1);
    sl_sql_pending_add(&p, b2);
    assert_int_equal(p.count, 3);
    sl_batch_unref(b1); /* what the core does after write() */
    sl_batch_unref(b2);
    assert_false(sl_ack_done(&a1)); /* still held by the sink */
    assert_int_equal(p.rows[2]->fields[0].val.u.i, 1);
    sl_sql_pending_done(&p, true);
    assert_true(sl_ack_done(&a1));
    assert_false(sl_ack_failed(&a1));
    assert_true(sl_ack_done(&a2));
    assert_int_equal(notified, 2);

    struct sl_ack a3;
    sl_ack_init(&a3, NULL, NULL);
    struct sl_batch *b3 = parse(lines, 2);
    sl_batch_set_ack(b3, &a3);
    sl_ack_release(&a3, true);
    sl_sql_pending_add(&p, b3);
    sl_batch_unref(b3);
    sl_sql_pending_fini(&p); /* never committed: failed */
    assert_true(sl_ack_done(&a3));
    assert_true(sl_ack_failed(&a3));
}

int main(void)
{
    sl_core_init();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_quoting, setup, teardown),
        cmocka_unit_test_setup_teardown(test_types, setup, teardown),
        cmocka_unit_test_setup_teardown(test_render, setup, teardown),
        cmocka_unit_test_setup_teardown(test_copy_escape, setup, teardown),
        cmocka_unit_test_setup_teardown(test_resolve_inferred, setup, teardown),
        cmocka_unit_test_setup_teardown(test_resolve_declared, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pending_holds, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
