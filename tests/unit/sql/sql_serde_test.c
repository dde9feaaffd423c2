/* sql_serde_test.c — JSON rows: the coercion table, field matching, nesting, encoding. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "base/alloc.h"
#include "base/arena.h"
#include "base/buf.h"
#include "codec/json.h"
#include "sql/sql_serde.h"

#include <stdio.h>
#include <string.h>

static struct sl_sql_type T_INT = {.kind = SL_SQL_T_INT};
static struct sl_sql_type T_BIGINT = {.kind = SL_SQL_T_BIGINT};
static struct sl_sql_type T_DOUBLE = {.kind = SL_SQL_T_DOUBLE};
static struct sl_sql_type T_DECIMAL = {.kind = SL_SQL_T_DECIMAL, .precision = 9, .scale = 2};
static struct sl_sql_type T_STRING = {.kind = SL_SQL_T_STRING};
static struct sl_sql_type T_BOOL = {.kind = SL_SQL_T_BOOLEAN};
static struct sl_sql_type T_TS = {.kind = SL_SQL_T_TIMESTAMP};
static struct sl_sql_type T_BYTES = {.kind = SL_SQL_T_BYTES};
static struct sl_sql_type T_ARR_STR = {.kind = SL_SQL_T_ARRAY, .elem = &T_STRING};
static struct sl_sql_type T_ARR_INT = {.kind = SL_SQL_T_ARRAY, .elem = &T_INT};
static struct sl_sql_type T_MAP_INT = {.kind = SL_SQL_T_MAP, .key = &T_STRING, .elem = &T_INT};
static struct sl_sql_tfield S_FIELDS[] = {{"A", &T_INT}, {"B", &T_STRING}, {"Mixed", &T_BOOL}};
static struct sl_sql_type T_STRUCT = {.kind = SL_SQL_T_STRUCT, .fields = S_FIELDS, .nfields = 3};
static struct sl_sql_type T_ARR_STRUCT = {.kind = SL_SQL_T_ARRAY, .elem = &T_STRUCT};

static struct sl_arena arena;
static char err[512];

static int setup(void **state)
{
    sl_arena_init(&arena, 4096, 0);
    return 0;
}

static int teardown(void **state)
{
    sl_arena_fini(&arena);
    return 0;
}

static struct sl_value parse(const char *json)
{
    struct sl_value v;
    struct sl_diag d;
    sl_diag_init(&d);
    /* the parsed value keeps views into the text: keep a copy in the arena */
    char *p = sl_arena_strndup(&arena, json, strlen(json));
    assert_int_equal(sl_json_parse_value(&arena, p, strlen(p), NULL, &v, &d), 0);
    return v;
}

static const char *enc(const struct sl_value *v)
{
    static char text[2048];
    struct sl_buf b;
    sl_buf_init(&b, 0);
    assert_int_equal(sl_sql_encode_value(v, &b), 0);
    snprintf(text, sizeof text, "%.*s", (int)b.len, b.ptr);
    sl_buf_fini(&b);
    return text;
}

/* coerce JSON text to t; the result as JSON, or "ERR: message" */
static const char *co(const char *json, const struct sl_sql_type *t)
{
    static char text[2048];
    struct sl_value v = parse(json), out;
    int rc = sl_sql_coerce(&v, t, &arena, &out, err, sizeof err);
    if (rc) {
        assert_int_equal(rc, SL_EINVAL);
        snprintf(text, sizeof text, "ERR: %s", err);
        return text;
    }
    return enc(&out);
}

static void test_int(void **state)
{
    assert_string_equal(co("42", &T_INT), "42");
    assert_string_equal(co("1.9", &T_INT), "1"); /* intValue() truncates */
    assert_string_equal(co("-1.9", &T_INT), "-1");
    assert_string_equal(co("4294967297", &T_INT), "1");    /* a long's intValue() wraps */
    assert_string_equal(co("1e20", &T_INT), "2147483647"); /* (int) of a double saturates */
    assert_string_equal(co("\"42\"", &T_INT), "42");       /* Integer.parseInt */
    assert_string_equal(co("\"-7\"", &T_INT), "-7");
    assert_string_equal(co("\"+7\"", &T_INT), "7");
    assert_string_equal(co("null", &T_INT), "null");
    assert_string_equal(co("\"abc\"", &T_INT), "ERR: cannot coerce STRING 'abc' to INTEGER");
    assert_string_equal(co("\"1.5\"", &T_INT), "ERR: cannot coerce STRING '1.5' to INTEGER");
    assert_string_equal(co("\" 4\"", &T_INT), "ERR: cannot coerce STRING ' 4' to INTEGER");
    assert_string_equal(co("\"2147483648\"", &T_INT),
                        "ERR: cannot coerce STRING '2147483648' to INTEGER");
    assert_string_equal(co("true", &T_INT), "ERR: cannot coerce BOOLEAN true to INTEGER");
    assert_string_equal(co("[1]", &T_INT), "ERR: cannot coerce ARRAY to INTEGER");
    assert_string_equal(co("{}", &T_INT), "ERR: cannot coerce OBJECT to INTEGER");
    struct sl_value v = parse("7"), out;
    assert_int_equal(sl_sql_coerce(&v, &T_INT, &arena, &out, err, sizeof err), 0);
    assert_int_equal(out.type, SL_V_INT);
    assert_int_equal(out.flags, SL_VF_I32);
}

static void test_bigint_double_decimal(void **state)
{
    assert_string_equal(co("1447697423000", &T_BIGINT), "1447697423000");
    assert_string_equal(co("\"9223372036854775807\"", &T_BIGINT), "9223372036854775807");
    assert_string_equal(co("\"9223372036854775808\"", &T_BIGINT),
                        "ERR: cannot coerce STRING '9223372036854775808' to BIGINT");
    assert_string_equal(co("2.7", &T_BIGINT), "2");
    struct sl_value v = parse("7"), out;
    assert_int_equal(sl_sql_coerce(&v, &T_BIGINT, &arena, &out, err, sizeof err), 0);
    assert_int_equal(out.flags, 0);

    assert_string_equal(co("3", &T_DOUBLE), "3.0");
    assert_string_equal(co("1.5", &T_DOUBLE), "1.5");
    assert_string_equal(co("\"1.5\"", &T_DOUBLE), "1.5");
    assert_string_equal(co("\" 2.5 \"", &T_DOUBLE), "2.5"); /* parseDouble trims */
    assert_string_equal(co("\"1e3\"", &T_DOUBLE), "1000.0");
    assert_string_equal(co("\"2d\"", &T_DOUBLE), "2.0");
    assert_string_equal(co("\"-Infinity\"", &T_DOUBLE), "null"); /* not a JSON number */
    assert_string_equal(co("\"abc\"", &T_DOUBLE), "ERR: cannot coerce STRING 'abc' to DOUBLE");
    assert_string_equal(co("\"inf\"", &T_DOUBLE), "ERR: cannot coerce STRING 'inf' to DOUBLE");
    assert_string_equal(co("\"\"", &T_DOUBLE), "ERR: cannot coerce STRING '' to DOUBLE");
    assert_string_equal(co("false", &T_DOUBLE), "ERR: cannot coerce BOOLEAN false to DOUBLE");

    assert_string_equal(co("12.3", &T_DECIMAL), "12.3");
    assert_string_equal(co("\"12.30\"", &T_DECIMAL), "12.3");
    assert_string_equal(co("\" 1\"", &T_DECIMAL), "ERR: cannot coerce STRING ' 1' to DECIMAL");
}

static void test_boolean(void **state)
{
    assert_string_equal(co("true", &T_BOOL), "true");
    assert_string_equal(co("false", &T_BOOL), "false");
    assert_string_equal(co("\"true\"", &T_BOOL), "ERR: cannot coerce STRING 'true' to BOOLEAN");
    assert_string_equal(co("1", &T_BOOL), "ERR: cannot coerce NUMBER 1 to BOOLEAN");
}

static void test_string(void **state)
{
    assert_string_equal(co("\"abc\"", &T_STRING), "\"abc\"");
    assert_string_equal(co("false", &T_STRING), "\"false\"");
    assert_string_equal(co("1", &T_STRING), "\"1\"");
    assert_string_equal(co("-12", &T_STRING), "\"-12\"");
    assert_string_equal(co("1.5", &T_STRING), "\"1.5\"");
    assert_string_equal(co("1.0", &T_STRING), "\"1.0\"");
    assert_string_equal(co("100.25", &T_STRING), "\"100.25\"");
    assert_string_equal(co("0.001", &T_STRING), "\"0.001\"");
    assert_string_equal(co("0.0001", &T_STRING), "\"1.0E-4\""); /* Java's Double.toString */
    assert_string_equal(co("1e10", &T_STRING), "\"1.0E10\"");
    assert_string_equal(co("123456789.5", &T_STRING), "\"1.234567895E8\"");
    assert_string_equal(co("1234567.5", &T_STRING), "\"1234567.5\"");
    assert_string_equal(co("-0.0", &T_STRING), "\"-0.0\"");
    assert_string_equal(co("{\"a\":1,\"b\":[true,null]}", &T_STRING),
                        "\"{\\\"a\\\":1,\\\"b\\\":[true,null]}\"");
    assert_string_equal(co("[1,\"x\",null,[2,3]]", &T_STRING), "\"[1, x, null, [2, 3]]\"");
    assert_string_equal(co("null", &T_STRING), "null");
    /* a string without conversion stays a view (no copy) */
    struct sl_value v = parse("\"view\""), out;
    assert_int_equal(sl_sql_coerce(&v, &T_STRING, &arena, &out, err, sizeof err), 0);
    assert_ptr_equal(out.u.s, v.u.s);
}

static void test_time_bytes(void **state)
{
    assert_string_equal(co("1234", &T_TS), "1234");
    struct sl_value v = parse("1234"), out;
    assert_int_equal(sl_sql_coerce(&v, &T_TS, &arena, &out, err, sizeof err), 0);
    assert_int_equal(out.type, SL_V_TS);
    assert_int_equal(out.u.ts_ns, 1234000000);
    assert_string_equal(co("-1", &T_TS), "-1");
    assert_string_equal(co("\"YQ==\"", &T_BYTES), "\"YQ==\"");
    assert_string_equal(co("\"YWJj\"", &T_BYTES), "\"YWJj\"");
    assert_string_equal(co("\"YWI\"", &T_BYTES), "\"YWI=\""); /* padding optional */
    v = parse("\"YWI=\"");
    assert_int_equal(sl_sql_coerce(&v, &T_BYTES, &arena, &out, err, sizeof err), 0);
    assert_int_equal(out.type, SL_V_BYTES);
    assert_int_equal(out.len, 2);
    assert_memory_equal(out.u.s, "ab", 2);
    assert_string_equal(co("\"a!==\"", &T_BYTES), "ERR: cannot coerce STRING to BYTES: not base64");
    assert_string_equal(co("3", &T_BYTES), "ERR: cannot coerce NUMBER 3 to BYTES");
}

static void test_nested(void **state)
{
    assert_string_equal(co("[1,2,3]", &T_ARR_STR), "[\"1\",\"2\",\"3\"]");
    assert_string_equal(co("[1,null,\"3\"]", &T_ARR_INT), "[1,null,3]");
    assert_string_equal(co("[1,\"x\"]", &T_ARR_INT),
                        "ERR: element 1: cannot coerce STRING 'x' to INTEGER");
    assert_string_equal(co("{\"a\":1}", &T_ARR_INT), "ERR: cannot coerce OBJECT to ARRAY");
    assert_string_equal(co("{\"a\":\"1\",\"b\":2.5,\"c\":null}", &T_MAP_INT),
                        "{\"a\":1,\"b\":2,\"c\":null}");
    assert_string_equal(co("{\"a\":\"z\"}", &T_MAP_INT),
                        "ERR: key 'a': cannot coerce STRING 'z' to INTEGER");
    /* struct: declared fields only, in declared order, matched exact-then-upper-case */
    assert_string_equal(co("{\"b\":\"x\",\"a\":1.5,\"extra\":3}", &T_STRUCT),
                        "{\"A\":1,\"B\":\"x\",\"Mixed\":null}");
    assert_string_equal(co("{\"Mixed\":true,\"MIXED\":false}", &T_STRUCT),
                        "{\"A\":null,\"B\":null,\"Mixed\":true}");
    assert_string_equal(co("{\"mixed\":true}", &T_STRUCT), /* a quoted name matches exactly */
                        "{\"A\":null,\"B\":null,\"Mixed\":null}");
    assert_string_equal(co("[{\"a\":1},{\"A\":2,\"b\":false}]", &T_ARR_STRUCT),
                        "[{\"A\":1,\"B\":null,\"Mixed\":null},{\"A\":2,\"B\":\"false\","
                        "\"Mixed\":null}]");
    assert_string_equal(co("[{\"a\":1},{\"a\":\"q\"}]", &T_ARR_STRUCT),
                        "ERR: element 1: field 'A': cannot coerce STRING 'q' to INTEGER");
    assert_string_equal(co("\"s\"", &T_STRUCT), "ERR: cannot coerce STRING 's' to STRUCT");
}

static const struct sl_sql_column COLS[] = {
    {"NAME", &T_STRING},  {"PID", &T_INT},   {"Key", &T_STRING}, {"S", &T_STRUCT},
    {"TAGS", &T_ARR_STR}, {"M", &T_MAP_INT}, {"D", &T_DOUBLE},
};
#define NCOLS (sizeof COLS / sizeof COLS[0])

static const char *row(const char *json, int *rc)
{
    static char text[2048];
    struct sl_value v = parse(json), out[NCOLS];
    *rc = sl_sql_decode_row(&v, COLS, NCOLS, &arena, out, err, sizeof err);
    if (*rc < 0)
        return err;
    struct sl_buf b;
    sl_buf_init(&b, 0);
    assert_int_equal(sl_sql_encode_row(COLS, out, NCOLS, &b), 0);
    snprintf(text, sizeof text, "%.*s", (int)b.len, b.ptr);
    sl_buf_fini(&b);
    return text;
}

static void test_decode_row(void **state)
{
    int rc;
    assert_string_equal(row("{\"name\":\"bob\",\"pid\":\"12\",\"Key\":\"k\",\"ignored\":1,"
                            "\"s\":{\"a\":1,\"b\":2},\"tags\":[\"x\",1],\"m\":{\"q\":3},"
                            "\"d\":1}",
                            &rc),
                        "{\"NAME\":\"bob\",\"PID\":12,\"Key\":\"k\",\"S\":{\"A\":1,\"B\":\"2\","
                        "\"Mixed\":null},\"TAGS\":[\"x\",\"1\"],\"M\":{\"q\":3},\"D\":1.0}");
    assert_int_equal(rc, 0);
    /* missing fields are NULL; {} is a row of NULLs, not a NULL record */
    assert_string_equal(row("{}", &rc), "{\"NAME\":null,\"PID\":null,\"Key\":null,\"S\":null,"
                                        "\"TAGS\":null,\"M\":null,\"D\":null}");
    assert_int_equal(rc, 0);
    /* the exact name wins over a case-insensitive match, whatever the order */
    assert_non_null(
        strstr(row("{\"name\":\"lower\",\"NAME\":\"upper\"}", &rc), "\"NAME\":\"upper\""));
    assert_non_null(
        strstr(row("{\"NAME\":\"upper\",\"name\":\"lower\"}", &rc), "\"NAME\":\"upper\""));
    assert_non_null(strstr(row("{\"nAmE\":\"mixed\"}", &rc), "\"NAME\":\"mixed\""));
    /* a quoted column matches only its exact name */
    assert_non_null(strstr(row("{\"KEY\":\"no\",\"key\":\"no\"}", &rc), "\"Key\":null"));
    /* failures name the column */
    row("{\"pid\":\"abc\"}", &rc);
    assert_int_equal(rc, SL_EINVAL);
    assert_string_equal(err, "column 'PID': cannot coerce STRING 'abc' to INTEGER");
    row("{\"s\":{\"Mixed\":\"yes\"}}", &rc);
    assert_int_equal(rc, SL_EINVAL);
    assert_string_equal(err, "column 'S': field 'Mixed': cannot coerce STRING 'yes' to BOOLEAN");
    row("[1,2]", &rc);
    assert_int_equal(rc, SL_EINVAL);
    assert_string_equal(err, "expected a JSON object, found ARRAY");

    /* a NULL record value */
    struct sl_value out[NCOLS];
    struct sl_value nul = sl_value_null();
    assert_int_equal(sl_sql_decode_row(&nul, COLS, NCOLS, &arena, out, err, sizeof err), 1);
    for (size_t i = 0; i < NCOLS; i++)
        assert_int_equal(out[i].type, SL_V_NULL);
    assert_int_equal(sl_sql_decode_row(NULL, COLS, NCOLS, &arena, out, err, sizeof err), 1);

    /* one column: an unwrapped scalar */
    const struct sl_sql_column one[] = {{"ID", &T_BIGINT}};
    struct sl_value v = parse("\"77\"");
    assert_int_equal(sl_sql_decode_row(&v, one, 1, &arena, out, err, sizeof err), 0);
    assert_int_equal(out[0].u.i, 77);
    v = parse("{\"id\":5}");
    assert_int_equal(sl_sql_decode_row(&v, one, 1, &arena, out, err, sizeof err), 0);
    assert_int_equal(out[0].u.i, 5);
    v = parse("true");
    assert_int_equal(sl_sql_decode_row(&v, one, 1, &arena, out, err, sizeof err), SL_EINVAL);
    assert_string_equal(err, "column 'ID': cannot coerce BOOLEAN true to BIGINT");
}

/* what encode writes decodes back to the same row */
static void test_roundtrip(void **state)
{
    const char *in[] = {
        "{\"NAME\":\"a\\\"b\\u00e9\",\"PID\":-5,\"Key\":null,\"S\":{\"A\":2147483647,\"B\":\"\","
        "\"Mixed\":false},\"TAGS\":[],\"M\":{},\"D\":1.0}",
        "{\"NAME\":null,\"PID\":null,\"Key\":\"k\",\"S\":null,\"TAGS\":[null,\"x\"],"
        "\"M\":{\"a\":null,\"b\":-1},\"D\":-1.5E-7}",
        "{\"NAME\":\"\",\"PID\":0,\"Key\":\"\",\"S\":{\"A\":null,\"B\":null,\"Mixed\":null},"
        "\"TAGS\":null,\"M\":null,\"D\":1.7976931348623157e308}",
    };
    for (size_t i = 0; i < sizeof in / sizeof in[0]; i++) {
        int rc;
        char first[2048];
        snprintf(first, sizeof first, "%s", row(in[i], &rc));
        assert_int_equal(rc, 0);
        const char *second = row(first, &rc);
        assert_int_equal(rc, 0);
        assert_string_equal(first, second);
    }
    /* doubles stay doubles; a TIMESTAMP writes epoch milliseconds */
    struct sl_value d = sl_value_double(2.0), ts = sl_value_ts(-1500000);
    assert_string_equal(enc(&d), "2.0");
    assert_string_equal(enc(&ts), "-2");
    assert_string_equal(enc(NULL), "null");
}

/* each allocation of a decode failing in turn: SL_ENOMEM, no crash, no leak */
static void test_enomem_sweep(void **state)
{
    struct sl_value v = parse("{\"name\":1.5,\"pid\":\"12\",\"s\":{\"a\":1,\"b\":[1,2]},"
                              "\"tags\":[1,[2,3],{\"x\":1}],\"m\":{\"q\":3,\"r\":4}}");
    for (uint64_t nth = 1; nth < 200; nth++) {
        struct sl_arena a;
        sl_arena_init(&a, 64, 0);
        struct sl_value out[NCOLS];
        uint64_t f0 = sl_alloc_failed();
        sl_alloc_fail_nth(nth);
        int rc = sl_sql_decode_row(&v, COLS, NCOLS, &a, out, err, sizeof err);
        sl_alloc_fail_nth(0);
        bool reached = sl_alloc_failed() != f0;
        assert_true(reached ? rc == SL_ENOMEM : rc == 0);
        sl_arena_fini(&a);
        if (!reached)
            break;
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_int, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bigint_double_decimal, setup, teardown),
        cmocka_unit_test_setup_teardown(test_boolean, setup, teardown),
        cmocka_unit_test_setup_teardown(test_string, setup, teardown),
        cmocka_unit_test_setup_teardown(test_time_bytes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_nested, setup, teardown),
        cmocka_unit_test_setup_teardown(test_decode_row, setup, teardown),
        cmocka_unit_test_setup_teardown(test_roundtrip, setup, teardown),
        cmocka_unit_test_setup_teardown(test_enomem_sweep, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
