/*
 * thrift_compact_test.c — the Thrift compact reader against the writer of the same module:
 * field ids (short and long form, going down), every integer width at its limits, lists in
 * both header forms, booleans in the type nibble, sl_tcr_skip over nested structures landing
 * exactly at their end, varints at and past 64 bits, and truncation at every byte.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "base/buf.h"
#include "codec/thrift_compact.h"

#include <stdio.h>
#include <string.h>

/* Reader primitives against the writer: round trips of ids, integers and lists. */
static void test_reader_roundtrip(void **state)
{
    struct sl_buf b;
    sl_buf_init(&b, 0);
    struct sl_tc t;
    sl_tc_init(&t, &b);
    sl_tc_i32(&t, 1, -7);
    sl_tc_i64(&t, 20, INT64_MIN);
    sl_tc_i64(&t, 3, INT64_MAX);
    sl_tc_bool(&t, 4, true);
    sl_tc_list_begin(&t, 5, SL_TC_I32, 40);
    for (int i = 0; i < 40; i++)
        sl_tc_elem_i32(&t, i - 20);
    sl_tc_i8(&t, 6, -1);
    assert_int_equal(sl_tc_finish(&t), 0);
    struct sl_tcr r;
    sl_tcr_init(&r, b.ptr, b.len, 0, "t", NULL);
    int16_t last = 0, id;
    enum sl_tc_type ty;
    int32_t v32;
    int64_t v64;
    assert_int_equal(sl_tcr_field(&r, &last, &id, &ty), 0);
    assert_int_equal(id, 1);
    assert_int_equal(sl_tcr_i32(&r, &v32), 0);
    assert_int_equal(v32, -7);
    assert_int_equal(sl_tcr_field(&r, &last, &id, &ty), 0);
    assert_int_equal(id, 20);
    assert_int_equal(sl_tcr_i64(&r, &v64), 0);
    assert_true(v64 == INT64_MIN);
    assert_int_equal(sl_tcr_field(&r, &last, &id, &ty), 0);
    assert_int_equal(id, 3);
    assert_int_equal(sl_tcr_i32(&r, &v32), SL_EPARSE); /* INT64_MAX does not fit */
    assert_int_equal(sl_tcr_field(&r, &last, &id, &ty), 0);
    assert_int_equal(id, 4);
    assert_int_equal(ty, SL_TC_TRUE);
    assert_int_equal(sl_tcr_field(&r, &last, &id, &ty), 0);
    assert_int_equal(id, 5);
    enum sl_tc_type et;
    uint32_t cnt;
    assert_int_equal(sl_tcr_list(&r, &et, &cnt), 0);
    assert_int_equal(cnt, 40);
    for (int i = 0; i < 40; i++) {
        assert_int_equal(sl_tcr_i32(&r, &v32), 0);
        assert_int_equal(v32, i - 20);
    }
    assert_int_equal(sl_tcr_field(&r, &last, &id, &ty), 0);
    assert_int_equal(id, 6);
    assert_int_equal(ty, SL_TC_BYTE);
    assert_int_equal(sl_tcr_skip(&r, ty, false), 0);
    assert_int_equal(sl_tcr_field(&r, &last, &id, &ty), 0);
    assert_int_equal(ty, 0);
    assert_int_equal(r.pos, b.len);
    sl_buf_fini(&b);
}

/* A struct of everything the writer makes, nested; skipped as one value. */
static void nested(struct sl_buf *b)
{
    sl_buf_init(b, 0);
    struct sl_tc t;
    sl_tc_init(&t, b);
    sl_tc_i32(&t, 1, 1);
    sl_tc_struct_begin(&t, 2);
    sl_tc_string(&t, 1, "abc", 3);
    sl_tc_bool(&t, 2, false);
    sl_tc_list_begin(&t, 3, SL_TC_STRUCT, 16);
    for (int i = 0; i < 16; i++) {
        sl_tc_elem_struct_begin(&t);
        sl_tc_i64(&t, 1, i * 1000003LL);
        sl_tc_struct_begin(&t, 7);
        sl_tc_list_begin(&t, 1, SL_TC_BINARY, 2);
        sl_tc_elem_binary(&t, "x", 1);
        sl_tc_elem_binary(&t, "", 0);
        sl_tc_struct_end(&t);
        sl_tc_struct_end(&t);
    }
    sl_tc_i8(&t, 4, 5);
    sl_tc_struct_end(&t);
    sl_tc_i32(&t, 300, 9);
    assert_int_equal(sl_tc_finish(&t), 0);
}

static void test_skip(void **state)
{
    struct sl_buf b;
    nested(&b);
    /* the whole thing is one struct value */
    struct sl_tcr r;
    sl_tcr_init(&r, b.ptr, b.len, 0, "t", NULL);
    assert_int_equal(sl_tcr_skip(&r, SL_TC_STRUCT, false), 0);
    assert_int_equal(r.pos, b.len);
    assert_int_equal(r.depth, 0);
    /* every truncation fails, with a message naming the offset */
    for (size_t k = 0; k < b.len; k++) {
        struct sl_diag d;
        sl_diag_init(&d);
        sl_tcr_init(&r, b.ptr, k, 100, "t", &d);
        assert_int_equal(sl_tcr_skip(&r, SL_TC_STRUCT, false), SL_EPARSE);
        assert_true(strncmp(d.msg, "t: ", 3) == 0);
        char want[32];
        snprintf(want, sizeof(want), " at byte %lld", (long long)d.offset);
        assert_non_null(strstr(d.msg, want));
        assert_true(d.offset >= 100 && d.offset <= 100 + (int64_t)k);
    }
    sl_buf_fini(&b);
}

static void test_varints(void **state)
{
    static const uint8_t max[] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01};
    static const uint8_t over[] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02};
    static const uint8_t eleven[] = {0x80, 0x80, 0x80, 0x80, 0x80, 0x80,
                                     0x80, 0x80, 0x80, 0x80, 0x00};
    struct sl_tcr r;
    uint64_t v;
    sl_tcr_init(&r, max, sizeof(max), 0, "t", NULL);
    assert_int_equal(sl_tcr_varint(&r, &v), 0);
    assert_true(v == UINT64_MAX);
    sl_tcr_init(&r, over, sizeof(over), 0, "t", NULL);
    assert_int_equal(sl_tcr_varint(&r, &v), SL_EPARSE);
    sl_tcr_init(&r, eleven, sizeof(eleven), 0, "t", NULL);
    assert_int_equal(sl_tcr_varint(&r, &v), SL_EPARSE);
    /* a map header: size, then key/value types; counts checked against the bytes left */
    static const uint8_t map[] = {0x03, 0x55, 2, 4, 6, 8, 10, 12};
    enum sl_tc_type kt, vt;
    uint32_t n;
    sl_tcr_init(&r, map, sizeof(map), 0, "t", NULL);
    assert_int_equal(sl_tcr_map(&r, &kt, &vt, &n), 0);
    assert_int_equal(n, 3);
    assert_int_equal(kt, SL_TC_I32);
    assert_int_equal(vt, SL_TC_I32);
    sl_tcr_init(&r, map, 5, 0, "t", NULL);
    assert_int_equal(sl_tcr_map(&r, &kt, &vt, &n), SL_EPARSE);
    assert_string_equal(sl_tc_type_name(SL_TC_STRUCT), "struct");
    assert_string_equal(sl_tc_type_name(99), "invalid type");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_reader_roundtrip),
        cmocka_unit_test(test_skip),
        cmocka_unit_test(test_varints),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
