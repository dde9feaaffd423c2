/*
 * parquet_footer_test.c — the Parquet footer check and the Thrift compact reader under it.
 *
 * Files come from the project's own writer (codec/parquet.h: several row groups, key-value
 * pairs, empty files), from footers built byte by byte (every compact type as an unknown
 * field: nested structs, lists of lists, sets of booleans, maps, doubles, long-form and
 * decreasing field ids), and from corruptions of both: every truncation of a footer, bad
 * magics, footer lengths past the file, row counts that do not add up, nesting past the
 * limit, element counts larger than the input. The fd variant must agree with the in-memory
 * one. Error messages are checked where the wording is part of the contract (the receiver
 * sends them back as the reason of a 400). The reader's primitives: thrift_compact_test.c.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "base/alloc.h"
#include "base/buf.h"
#include "codec/parquet.h"
#include "codec/parquet_footer.h"
#include "codec/thrift_compact.h"
#include "core/event.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int mem_write(void *ctx, const void *p, size_t n)
{
    return sl_buf_append(ctx, p, n);
}

/* A file from the project's writer: `rows` rows of {n: int64!, s: string}, a row group cut
 * every `per_group` rows (0: one group), two key-value pairs. */
static void writer_file(struct sl_buf *out, int rows, int per_group)
{
    sl_buf_init(out, 0);
    struct sl_pq_schema *s = NULL;
    struct sl_diag d;
    sl_diag_init(&d);
    const char *js = "{\"n\": \"int64!\", \"s\": \"string\"}";
    assert_int_equal(sl_pq_schema_parse(js, strlen(js), &s, &d), 0);
    struct sl_pq_opts o = {.codec = SL_PQ_CODEC_ZSTD};
    struct sl_pq_writer *w = sl_pq_writer_new(s, &o, mem_write, out);
    assert_int_equal(sl_pq_writer_kv(w, "sluice.message_type", "conn"), 0);
    assert_int_equal(sl_pq_writer_kv(w, "k2", "v2"), 0);
    for (int i = 0; i < rows; i++) {
        char text[32];
        int n = snprintf(text, sizeof(text), "row %d", i);
        struct sl_value a = sl_value_int(i), b = sl_value_str(text, (size_t)n);
        const struct sl_value *vals[2] = {&a, i % 3 ? &b : NULL};
        struct sl_pq_reject rej;
        assert_int_equal(sl_pq_write_row(w, vals, &rej), 0);
        if (per_group && (i + 1) % per_group == 0)
            assert_int_equal(sl_pq_writer_flush(w), 0);
    }
    assert_int_equal(sl_pq_writer_close(w), 0);
    sl_pq_writer_free(w);
}

/* PAR1 + footer + length + PAR1 */
static void wrap(struct sl_buf *out, const void *footer, size_t n)
{
    sl_buf_init(out, 0);
    sl_buf_append(out, "PAR1", 4);
    sl_buf_append(out, footer, n);
    uint8_t t[8] = {
        (uint8_t)n, (uint8_t)(n >> 8), (uint8_t)(n >> 16), (uint8_t)(n >> 24), 'P', 'A', 'R', '1'};
    sl_buf_append(out, t, 8);
}

static int check(const struct sl_buf *b, struct sl_parquet_footer_info *info, struct sl_diag *d)
{
    sl_diag_init(d);
    return sl_parquet_footer_check((const uint8_t *)b->ptr, b->len, info, d);
}

static void test_writer_files(void **state)
{
    static const struct {
        int rows, per_group;
        uint32_t groups;
    } cases[] = {{0, 0, 0}, {1, 0, 1}, {1000, 0, 1}, {1000, 100, 10}, {1001, 500, 3}};
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct sl_buf f;
        writer_file(&f, cases[i].rows, cases[i].per_group);
        struct sl_parquet_footer_info info;
        struct sl_diag d;
        int rc = check(&f, &info, &d);
        if (rc)
            fprintf(stderr, "case %zu: %s\n", i, d.msg);
        assert_int_equal(rc, 0);
        assert_int_equal(info.num_rows, cases[i].rows);
        assert_int_equal(info.row_group_count, cases[i].groups);
        assert_int_equal(info.version, 1);
        assert_int_equal(info.schema_count, 3); /* root, n, s */
        assert_int_equal(info.kv_count, 2);
        assert_string_equal(sl_parquet_footer_kv(&info, "sluice.message_type"), "conn");
        assert_string_equal(sl_parquet_footer_kv(&info, "k2"), "v2");
        assert_null(sl_parquet_footer_kv(&info, "nope"));
        assert_true(strncmp(info.created_by, "sluice version ", 15) == 0);
        assert_int_equal(info.file_len, f.len);
        assert_int_equal(info.column_chunk_count, 2 * cases[i].groups);
        if (cases[i].rows) {
            /* bytes cut from the middle, footer intact: the chunks run into the footer */
            struct sl_buf cut;
            sl_buf_init(&cut, 0);
            sl_buf_append(&cut, f.ptr, 40);
            sl_buf_append(&cut, f.ptr + 50, f.len - 50);
            rc = check(&cut, NULL, &d);
            assert_int_equal(rc, SL_EPARSE);
            assert_non_null(strstr(d.msg, "is outside the data (bytes 4.."));
            sl_buf_fini(&cut);
        }
        /* every strict prefix of the footer fails, cleanly */
        size_t flen = info.footer_len, start = f.len - 8 - flen;
        for (size_t k = 0; k < flen; k++) {
            struct sl_buf t;
            wrap(&t, f.ptr + start, k);
            rc = check(&t, NULL, &d);
            assert_true(rc == SL_EPARSE || rc == SL_EDEPTH);
            assert_true(d.msg[0] != 0);
            sl_buf_fini(&t);
        }
        /* every truncation of the whole file fails */
        for (size_t k = 0; k < f.len; k += 1 + k / 8) {
            rc = sl_parquet_footer_check((const uint8_t *)f.ptr, k, NULL, &d);
            assert_int_not_equal(rc, 0);
        }
        sl_buf_fini(&f);
    }
}

/* A FileMetaData by hand, with an unknown field of every compact type. */
static const uint8_t hand_footer[] = {
    0x15, 0x02,                                           /* 1 version: i32 1 */
    0x19, 0x1C, 0x48, 0x01, 'r',  0x00,                   /* 2 schema: [ {4: "r"} ] */
    0x16, 0x06,                                           /* 3 num_rows: i64 3 */
    0x19, 0x1C, 0x36, 0x06, 0x00,                         /* 4 row_groups: [ {3: 3} ] */
    0x37, 0,    0,    0,    0,    0,    0,    0xf0, 0x3f, /* 7 double 1.0 */
    0x11,                                                 /* 8 bool true (in the nibble) */
    0x1B, 0x02, 0x85, 0x01, 'a',  0x02, 0x01, 'b',  0x04, /* 9 map<binary,i32> {a:1, b:2} */
    0x1A, 0x31, 0x01, 0x02, 0x01,                         /* 10 set<bool> of 3 */
    0x1C,                                                 /* 11 struct { */
    0x13, 0x7f,                                           /*   1 byte */
    0x1C,                                                 /*   2 struct { */
    0x19, 0x29, 0x15, 0x02, 0x05,                         /*     1 list<list<i32>> [[1], []] */
    0x12,                                                 /*     2 bool false */
    0x00,                                                 /*   } */
    0x14, 0x01,                                           /*   3 i16 -1 */
    0x00,                                                 /* } */
    0x04, 0xD8, 0x04, 0x09,                               /* 300 (long form) i16 -5 */
    0x09, 0x0A, 0x2C,                         /* 5 (id goes down: long form) key_value: 2 of */
    0x18, 0x01, 'k',  0x18, 0x01, 'v',  0x00, /*   {key: k, value: v} */
    0x18, 0x02, 'k',  '2',  0x00,             /*   {key: k2} */
    0x18, 0x03, 'a',  'b',  'c',              /* 6 created_by "abc" */
    0x1B, 0x00,                               /* 7 empty map */
    0x19, 0xF5, 0x0F,                         /* 8 list (large-count form), 15 i32 elements: */
    2,    2,    2,    2,    2,    2,    2,    2,    2,    2, 2, 2, 2, 2, 2, 0x00, /* stop */
};

static void test_hand_footer(void **state)
{
    struct sl_buf f;
    wrap(&f, hand_footer, sizeof(hand_footer));
    struct sl_parquet_footer_info info;
    struct sl_diag d;
    int rc = check(&f, &info, &d);
    if (rc)
        fprintf(stderr, "%s\n", d.msg);
    assert_int_equal(rc, 0);
    assert_int_equal(info.version, 1);
    assert_int_equal(info.schema_count, 1);
    assert_int_equal(info.num_rows, 3);
    assert_int_equal(info.row_group_count, 1);
    assert_int_equal(info.kv_count, 2);
    assert_string_equal(sl_parquet_footer_kv(&info, "k"), "v");
    assert_string_equal(sl_parquet_footer_kv(&info, "k2"), "");
    assert_false(info.kv[1].has_value);
    assert_string_equal(info.created_by, "abc");
    for (size_t k = 0; k < sizeof(hand_footer); k++) {
        struct sl_buf t;
        wrap(&t, hand_footer, k);
        assert_int_not_equal(check(&t, NULL, &d), 0);
        sl_buf_fini(&t);
    }
    sl_buf_fini(&f);
}

static void expect_error(const void *footer, size_t n, int err, const char *msg)
{
    struct sl_buf f;
    wrap(&f, footer, n);
    struct sl_diag d;
    int rc = check(&f, NULL, &d);
    if (rc != err || !strstr(d.msg, msg))
        fprintf(stderr, "got %d '%s', want %d '%s'\n", rc, d.msg, err, msg);
    assert_int_equal(rc, err);
    assert_non_null(strstr(d.msg, msg));
    sl_buf_fini(&f);
}

static void test_corrupt(void **state)
{
    struct sl_diag d;
    /* framing */
    uint8_t small[1200];
    memset(small, 0, sizeof(small));
    memcpy(small, "PAR1", 4);
    memcpy(small + 1196, "PAR1", 4);
    uint32_t big = 999999;
    memcpy(small + 1192, &big, 4); /* little-endian host */
    sl_diag_init(&d);
    assert_int_equal(sl_parquet_footer_check(small, sizeof(small), NULL, &d), SL_EPARSE);
    assert_string_equal(d.msg, "footer length 999999 exceeds file size 1200");
    assert_int_equal(d.offset, 1192);
    assert_int_equal(sl_parquet_footer_check(small, 11, NULL, &d), SL_EPARSE);
    assert_string_equal(d.msg, "file of 11 bytes is too short for Parquet (at least 12)");
    assert_int_equal(
        sl_parquet_footer_check((const uint8_t *)"hello world, not parquet", 24, NULL, &d),
        SL_EPARSE);
    assert_string_equal(d.msg, "no PAR1 magic at byte 0 (not a Parquet file)");
    memcpy(small + 1196, "PAR0", 4);
    assert_int_equal(sl_parquet_footer_check(small, sizeof(small), NULL, &d), SL_EPARSE);
    assert_non_null(strstr(d.msg, "no PAR1 magic at the end (byte 1196)"));
    memcpy(small + 1196, "PARE", 4);
    assert_int_equal(sl_parquet_footer_check(small, sizeof(small), NULL, &d), SL_EPARSE);
    assert_non_null(strstr(d.msg, "encrypted footer"));

    /* FileMetaData: offsets are file offsets (the footer starts at byte 4 here) */
    static const uint8_t trunc_varint[] = {0x15, 0x82};
    expect_error(trunc_varint, sizeof(trunc_varint), SL_EPARSE,
                 "FileMetaData: truncated varint at byte 5");
    static const uint8_t no_rows[] = {0x15, 0x02, 0x19, 0x1C, 0x00, 0x16, 0x00, 0x00};
    expect_error(no_rows, sizeof(no_rows), SL_EPARSE, "missing required field row_groups (4)");
    static const uint8_t mismatch[] = {0x15, 0x02, 0x19, 0x1C, 0x00, 0x16, 0x0A, 0x19,
                                       0x2C, 0x36, 0x02, 0x00, 0x36, 0x04, 0x00, 0x00};
    expect_error(mismatch, sizeof(mismatch), SL_EPARSE,
                 "row groups hold 3 rows but num_rows says 5");
    static const uint8_t wrong_type[] = {0x15, 0x02, 0x19, 0x1C, 0x00, 0x18, 0x00, 0x00};
    expect_error(wrong_type, sizeof(wrong_type), SL_EPARSE,
                 "field num_rows (3) is binary, expected i64");
    static const uint8_t huge_list[] = {0x15, 0x02, 0x19, 0xFC, 0x80, 0x94, 0xEB, 0xDC, 0x03, 0x00};
    expect_error(huge_list, sizeof(huge_list), SL_EPARSE,
                 "list of 1000000000 elements exceeds the 1 bytes left at byte 7");
    static const uint8_t bad_type[] = {0x15, 0x02, 0x1D, 0x00};
    expect_error(bad_type, sizeof(bad_type), SL_EPARSE, "invalid field type 13 at byte 6");
    static const uint8_t long_varint[] = {0x36, 0xff, 0xff, 0xff, 0xff, 0xff,
                                          0xff, 0xff, 0xff, 0xff, 0x7f, 0x00};
    expect_error(long_varint, sizeof(long_varint), SL_EPARSE, "varint longer than 64 bits");
    static const uint8_t bin_past_end[] = {0x15, 0x02, 0x58, 0x7f, 'x', 0x00};
    expect_error(bin_past_end, sizeof(bin_past_end), SL_EPARSE,
                 "binary of 127 bytes exceeds the 2 bytes left");
    static const uint8_t empty_schema[] = {0x15, 0x02, 0x19, 0x0C, 0x00};
    expect_error(empty_schema, sizeof(empty_schema), SL_EPARSE, "empty schema");

    /* nesting past the limit, as structs and as lists */
    uint8_t deep[2 * 64 + 4];
    size_t n = 0;
    deep[n++] = 0x15;
    deep[n++] = 0x02;
    deep[n++] = 0x8C; /* field 9: a struct, whose field 1 is a struct, ... */
    for (int i = 0; i < 60; i++)
        deep[n++] = 0x1C;
    for (int i = 0; i < 61; i++)
        deep[n++] = 0x00;
    expect_error(deep, n, SL_EDEPTH, "structs nested deeper than 32");
    n = 0;
    deep[n++] = 0x89; /* field 8: list */
    for (int i = 0; i < 60; i++)
        deep[n++] = 0x19; /* one element, a list */
    deep[n++] = 0x05;
    deep[n++] = 0x00;
    expect_error(deep, n, SL_EDEPTH, "nested deeper");
}

static void test_fd(void **state)
{
    char path[] = "/tmp/sl-pqf-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    unlink(path);
    struct sl_buf f;
    writer_file(&f, 5000, 1000);
    assert_int_equal(write(fd, f.ptr, f.len), (ssize_t)f.len);
    struct sl_parquet_footer_info a, b;
    struct sl_diag d;
    sl_diag_init(&d);
    assert_int_equal(sl_parquet_footer_check_fd(fd, &a, &d), 0);
    assert_int_equal(check(&f, &b, &d), 0);
    assert_memory_equal(&a, &b, sizeof(a));
    assert_int_equal(a.num_rows, 5000);
    assert_int_equal(a.row_group_count, 5);
    /* the footer buffer is the one allocation: its failure is reported */
    sl_alloc_fail_nth(1);
    assert_int_equal(sl_parquet_footer_check_fd(fd, NULL, &d), SL_ENOMEM);
    sl_alloc_fail_nth(0);
    assert_non_null(strstr(d.msg, "out of memory"));
    /* cut the file: the tail magic is gone */
    assert_int_equal(ftruncate(fd, (off_t)f.len - 3), 0);
    assert_int_equal(sl_parquet_footer_check_fd(fd, NULL, &d), SL_EPARSE);
    assert_non_null(strstr(d.msg, "no PAR1 magic at the end"));
    /* a file too short */
    assert_int_equal(ftruncate(fd, 7), 0);
    assert_int_equal(sl_parquet_footer_check_fd(fd, NULL, &d), SL_EPARSE);
    assert_string_equal(d.msg, "file of 7 bytes is too short for Parquet (at least 12)");
    close(fd);
    sl_buf_fini(&f);
}

int main(void)
{
    sl_core_init();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_writer_files),
        cmocka_unit_test(test_hand_footer),
        cmocka_unit_test(test_corrupt),
        cmocka_unit_test(test_fd),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
