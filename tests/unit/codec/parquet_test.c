/*
 * parquet_test.c — the Parquet writer, checked by readers others wrote.
 *
 * Every case writes <name>.parquet and <name>.expect.json into a private temp dir; at the end
 * tests/node/read_parquet.mjs reads each file with DuckDB (one thread) and compares the row
 * count, every value (rendered by DuckDB's to_json), column types, row groups, key-value
 * metadata and column-chunk statistics/encodings from parquet_metadata(); files marked
 * "hyparquet" are read a second time with hyparquet. Cases: every leaf kind under each codec,
 * nested optional groups and lists with nulls at every level, dictionary and PLAIN (fallback)
 * columns, empty files, a 5 MB string, unicode, timestamps at the edges, inferred schemas,
 * row groups cut by size, and a property test (random schema and rows, seeded). Rejections
 * (field path and reason) are checked here without a reader.
 *
 * The readers come from `make test` (scripts/node-deps.sh: npm ci of tests/node).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "base/alloc.h"
#include "base/buf.h"
#include "codec/json.h"
#include "codec/parquet.h"
#include "core/event.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char g_dir[256];

static void write_text(const char *name, const char *suffix, const char *p, size_t n)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/%s%s", g_dir, name, suffix);
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(p, 1, n, f), n);
    fclose(f);
}

struct out {
    int fd;
};

static struct sl_pq_writer *open_writer(const char *name, const char *schema_json,
                                        const struct sl_pq_opts *o, int *fd)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/%s.parquet", g_dir, name);
    *fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    assert_true(*fd >= 0);
    struct sl_pq_schema *s = NULL;
    if (schema_json) {
        struct sl_diag d;
        sl_diag_init(&d);
        int rc = sl_pq_schema_parse(schema_json, strlen(schema_json), &s, &d);
        if (rc)
            fprintf(stderr, "schema: %s\n", d.msg);
        assert_int_equal(rc, 0);
    }
    return sl_pq_writer_new(s, o, sl_pq_write_fd, fd);
}

static void close_writer(struct sl_pq_writer *w, int fd)
{
    assert_int_equal(sl_pq_writer_close(w), 0);
    sl_pq_writer_free(w);
    assert_int_equal(close(fd), 0);
}

/* Append JSON lines (one event each) through sl_pq_append; all must be accepted. */
static void append_lines(struct sl_pq_writer *w, const char *lines)
{
    struct sl_batch *b = sl_batch_new();
    const char *p = lines;
    while (*p) {
        const char *e = strchr(p, '\n');
        size_t n = e ? (size_t)(e - p) : strlen(p);
        if (n) {
            struct sl_diag d;
            sl_diag_init(&d);
            int rc = sl_json_parse_event(b, p, n, NULL, &d);
            if (rc)
                fprintf(stderr, "bad test line: %.*s: %s\n", (int)n, p, d.msg);
            assert_int_equal(rc, 0);
        }
        p += n + (e ? 1 : 0);
        if (sl_batch_full(b) || !*p) {
            int64_t k = sl_pq_append(w, b, NULL, NULL);
            assert_int_equal(k, b->count);
            sl_batch_unref(b);
            b = sl_batch_new();
        }
    }
    sl_batch_unref(b);
}

/* expect: {"rows": [<lines as array>] <extra>} */
static void expect_rows(const char *name, const char *lines, const char *extra)
{
    struct sl_buf e;
    sl_buf_init(&e, 0);
    sl_buf_puts(&e, "{\"rows\": [");
    const char *p = lines;
    bool first = true;
    while (*p) {
        const char *nl = strchr(p, '\n');
        size_t n = nl ? (size_t)(nl - p) : strlen(p);
        if (n) {
            if (!first)
                sl_buf_puts(&e, ",\n");
            sl_buf_append(&e, p, n);
            first = false;
        }
        p += n + (nl ? 1 : 0);
    }
    sl_buf_puts(&e, "]");
    if (extra)
        sl_buf_puts(&e, extra);
    sl_buf_puts(&e, "}\n");
    write_text(name, ".expect.json", e.ptr, e.len);
    sl_buf_fini(&e);
}

/* ---- every leaf kind, each codec */

static const char *flat_schema =
    "{\"r\": \"int64!\", \"b\": \"bool\", \"i8\": \"int8\", \"i16\": \"int16\", \"i32\": \"int32\","
    " \"i64\": \"int64\", \"u8\": \"uint8\", \"u16\": \"uint16\", \"u32\": \"uint32\","
    " \"u64\": \"uint64\", \"d\": \"double\", \"s\": \"string\", \"lc\": \"string\","
    " \"j\": \"json\"}";

static void flat_rows(struct sl_buf *in, int n)
{
    static const char *const lc[] = {"tcp", "udp", "icmp", "sctp"};
    for (int i = 0; i < n; i++) {
        bool nul = i % 7 == 3;
        if (nul) {
            sl_buf_appendf(in,
                           "{\"r\":%d,\"b\":null,\"i8\":null,\"i16\":null,\"i32\":null,"
                           "\"i64\":null,\"u8\":null,\"u16\":null,\"u32\":null,\"u64\":null,"
                           "\"d\":null,\"s\":null,\"lc\":null,\"j\":null}\n",
                           i);
            continue;
        }
        sl_buf_appendf(in,
                       "{\"r\":%d,\"b\":%s,\"i8\":%d,\"i16\":%d,\"i32\":%d,\"i64\":%lld,"
                       "\"u8\":%d,\"u16\":%d,\"u32\":%u,\"u64\":%lld,\"d\":%g,"
                       "\"s\":\"value %d \\u00e9\",\"lc\":\"%s\",\"j\":{\"k\":[%d,\"x\"]}}\n",
                       i, i % 3 ? "true" : "false", i % 256 - 128, i * 7 % 65536 - 32768,
                       i * 100003 - 50000000, (long long)i * 1000000007LL - 4000000000000LL,
                       i % 256, i * 3 % 65536, 4294967295u - (unsigned)i, (long long)i * 1000003LL,
                       i * 0.25 - 100.5, i, lc[i % 4], i);
    }
}

static void test_flat_codecs(void **state)
{
    struct sl_buf in;
    sl_buf_init(&in, 0);
    int n = 3000;
    flat_rows(&in, n);
    for (int c = 0; c < SL_PQ__CODEC_COUNT; c++) {
        char name[64];
        snprintf(name, sizeof(name), "flat_%s", sl_pq_codec_name((enum sl_pq_codec)c));
        struct sl_pq_opts o = {.codec = (enum sl_pq_codec)c, .page_rows = 1000};
        int fd;
        struct sl_pq_writer *w = open_writer(name, flat_schema, &o, &fd);
        append_lines(w, in.ptr);
        assert_int_equal(sl_pq_writer_rows(w), n);
        close_writer(w, fd);
        int last = n - 1; /* the last row with values (every 7th row from 3 is null) */
        while (last % 7 == 3)
            last--;
        char extra[2048];
        static const char *const codec_up[] = {"UNCOMPRESSED", "SNAPPY", "GZIP", "ZSTD"};
        snprintf(extra, sizeof(extra),
                 ",\"schema\": {\"r\":\"BIGINT\",\"b\":\"BOOLEAN\",\"i8\":\"TINYINT\","
                 "\"i16\":\"SMALLINT\",\"i32\":\"INTEGER\",\"i64\":\"BIGINT\",\"u8\":\"UTINYINT\","
                 "\"u16\":\"USMALLINT\",\"u32\":\"UINTEGER\",\"u64\":\"UBIGINT\",\"d\":\"DOUBLE\","
                 "\"s\":\"VARCHAR\",\"lc\":\"VARCHAR\",\"j\":\"JSON\"}"
                 ",\"row_groups\": 1"
                 ",\"meta\": ["
                 "{\"row_group_id\":0,\"column_id\":0,\"compression\":\"%s\","
                 "\"stats_min_value\":\"0\",\"stats_max_value\":\"%d\",\"stats_null_count\":0},"
                 "{\"row_group_id\":0,\"column_id\":4,\"stats_min_value\":\"-50000000\","
                 "\"stats_max_value\":\"%d\",\"stats_null_count\":%d},"
                 "{\"row_group_id\":0,\"column_id\":8,\"stats_min_value\":\"%u\","
                 "\"stats_max_value\":\"4294967295\"},"
                 "{\"row_group_id\":0,\"column_id\":12,\"stats_min_value\":\"icmp\","
                 "\"stats_max_value\":\"udp\",\"stats_null_count\":%d}"
                 "],\"kv\": {}, \"hyparquet\": %s",
                 codec_up[c], n - 1, last * 100003 - 50000000, (n + 3) / 7,
                 4294967295u - (unsigned)last, (n + 3) / 7, c == 1 ? "true" : "false");
        expect_rows(name, in.ptr, extra);
    }
    sl_buf_fini(&in);
}

/* ---- nesting: optional groups (definition levels up to 3) and lists */

static void test_nested(void **state)
{
    static const char schema[] =
        "{\"id\": \"int64!\", \"g\": {\"a\": \"int32\", \"h\": {\"x\": \"string\", \"y\": "
        "\"double\"}}, \"tags\": [\"string\"], \"pts\": [{\"x\": \"int32\", \"y\": \"int32\"}],"
        " \"mat\": [[\"int32\"]]}";
    static const char rows[] =
        "{\"id\":0,\"g\":{\"a\":1,\"h\":{\"x\":\"p\",\"y\":1.5}},\"tags\":[\"a\",\"b\"],"
        "\"pts\":[{\"x\":1,\"y\":2},{\"x\":3,\"y\":null}],\"mat\":[[1,2],[3]]}\n"
        "{\"id\":1,\"g\":null,\"tags\":null,\"pts\":null,\"mat\":null}\n"
        "{\"id\":2,\"g\":{\"a\":null,\"h\":null},\"tags\":[],\"pts\":[],\"mat\":[]}\n"
        "{\"id\":3,\"g\":{\"a\":5,\"h\":{\"x\":null,\"y\":null}},\"tags\":[null,\"c\",null],"
        "\"pts\":[null,{\"x\":null,\"y\":null}],\"mat\":[null,[],[null,4]]}\n"
        "{\"id\":4,\"g\":{\"a\":6,\"h\":{\"x\":\"\\u2603 snow\",\"y\":-0.5}},\"tags\":[\"z\"],"
        "\"pts\":[{\"x\":7,\"y\":8}],\"mat\":[[5],[6],[7,8,9]]}\n";
    struct sl_buf in;
    sl_buf_init(&in, 0);
    for (int k = 0; k < 400; k++) /* enough rows for several pages (page_rows 64) */
        sl_buf_puts(&in, rows);
    struct sl_pq_opts o = {.codec = SL_PQ_CODEC_SNAPPY, .page_rows = 64};
    int fd;
    struct sl_pq_writer *w = open_writer("nested", schema, &o, &fd);
    append_lines(w, in.ptr);
    close_writer(w, fd);
    expect_rows("nested", in.ptr,
                ",\"schema\": {\"id\":\"BIGINT\",\"g\":\"STRUCT(a INTEGER, h STRUCT(x VARCHAR, y "
                "DOUBLE))\",\"tags\":\"VARCHAR[]\",\"pts\":\"STRUCT(x INTEGER, y INTEGER)[]\","
                "\"mat\":\"INTEGER[][]\"}, \"hyparquet\": true");
    sl_buf_fini(&in);
}

/* ---- dictionary and PLAIN columns in one file; fallback past the bound */

static void test_dictionary(void **state)
{
    struct sl_buf in;
    sl_buf_init(&in, 0);
    for (int i = 0; i < 2000; i++)
        sl_buf_appendf(&in, "{\"few\":\"v%d\",\"many\":\"u%05d\",\"n\":%d,\"big\":%d}\n", i % 10, i,
                       i % 5, i * 13);
    struct sl_pq_opts o = {.dict_max_count = 100};
    int fd;
    struct sl_pq_writer *w = open_writer(
        "dictionary", "{\"few\":\"string\",\"many\":\"string\",\"n\":\"int32\",\"big\":\"int64\"}",
        &o, &fd);
    append_lines(w, in.ptr);
    close_writer(w, fd);
    expect_rows("dictionary", in.ptr,
                ",\"meta\": ["
                "{\"row_group_id\":0,\"column_id\":0,\"encodings\":\"PLAIN, RLE, RLE_DICTIONARY\","
                "\"stats_min_value\":\"v0\",\"stats_max_value\":\"v9\"},"
                "{\"row_group_id\":0,\"column_id\":1,\"encodings\":\"PLAIN, RLE\","
                "\"stats_min_value\":\"u00000\",\"stats_max_value\":\"u01999\"},"
                "{\"row_group_id\":0,\"column_id\":2,\"encodings\":\"PLAIN, RLE, RLE_DICTIONARY\"},"
                "{\"row_group_id\":0,\"column_id\":3,\"encodings\":\"PLAIN, RLE\","
                "\"stats_max_value\":\"25987\"}], \"hyparquet\": true");
    sl_buf_fini(&in);
}

/* A chunk whose first 32,768 values are more than half distinct goes PLAIN at that point;
 * columns with few distinct values keep their dictionary. */
static void test_dictionary_probe(void **state)
{
    struct sl_buf in;
    sl_buf_init(&in, 0);
    for (int i = 0; i < 40000; i++)
        sl_buf_appendf(&in,
                       "{\"uniq\":\"u%06d\",\"few\":\"v%d\",\"id\":%d,\"port\":%d,\"mid\":%d}\n",
                       (i * 7919) % 40000, i % 10, 40000 - i, i % 30000, i % 1000);
    int fd;
    struct sl_pq_writer *w = open_writer("dictionary_probe",
                                         "{\"uniq\":\"string\",\"few\":\"string\",\"id\":\"int64\","
                                         "\"port\":\"int32\",\"mid\":\"int32\"}",
                                         NULL, &fd);
    append_lines(w, in.ptr);
    close_writer(w, fd);
    expect_rows("dictionary_probe", in.ptr,
                ",\"meta\": ["
                "{\"row_group_id\":0,\"column_id\":0,\"encodings\":\"PLAIN, RLE\","
                "\"stats_min_value\":\"u000000\",\"stats_max_value\":\"u039999\"},"
                "{\"row_group_id\":0,\"column_id\":1,\"encodings\":\"PLAIN, RLE, RLE_DICTIONARY\","
                "\"stats_min_value\":\"v0\",\"stats_max_value\":\"v9\"},"
                "{\"row_group_id\":0,\"column_id\":2,\"encodings\":\"PLAIN, RLE\","
                "\"stats_min_value\":\"1\",\"stats_max_value\":\"40000\"},"
                "{\"row_group_id\":0,\"column_id\":3,\"encodings\":\"PLAIN, RLE\","
                "\"stats_min_value\":\"0\",\"stats_max_value\":\"29999\"},"
                "{\"row_group_id\":0,\"column_id\":4,\"encodings\":\"PLAIN, RLE, RLE_DICTIONARY\","
                "\"stats_min_value\":\"0\",\"stats_max_value\":\"999\"}]");
    sl_buf_fini(&in);
}

/* ---- strings: a 5 MB value, unicode, empty; bytes and fixed */

static void test_strings(void **state)
{
    struct sl_buf in;
    sl_buf_init(&in, 0);
    sl_buf_puts(&in, "{\"s\":\"\",\"b\":\"\",\"f\":\"abcd\"}\n");
    sl_buf_puts(&in, "{\"s\":\"\\u65e5\\u672c\\u8a9e \\ud83d\\ude00 e\\u0301 \\\"q\\\" \\\\ \\t\","
                     "\"b\":\"raw\",\"f\":\"wxyz\"}\n");
    sl_buf_puts(&in, "{\"s\":\"");
    for (int i = 0; i < 5 * 1024 * 1024 / 16; i++)
        sl_buf_puts(&in, "0123456789abcdef");
    sl_buf_puts(&in, "\",\"b\":null,\"f\":null}\n");
    sl_buf_puts(&in, "{\"s\":\"last\",\"b\":\"x\",\"f\":\"1234\"}\n");
    struct sl_pq_opts o = {.codec = SL_PQ_CODEC_ZSTD};
    int fd;
    struct sl_pq_writer *w =
        open_writer("strings", "{\"s\":\"string\",\"b\":\"bytes\",\"f\":\"fixed(4)\"}", &o, &fd);
    append_lines(w, in.ptr);
    close_writer(w, fd);
    expect_rows("strings", in.ptr,
                ",\"sql\": \"SELECT s, b::VARCHAR AS b, f::VARCHAR AS f FROM read_parquet($F)\","
                "\"meta\": [{\"row_group_id\":0,\"column_id\":0,\"stats_min_value\":\"\","
                "\"stats_max_value\":\"\\u65e5\\u672c\\u8a9e \\ud83d\\ude00 e\\u0301 \\\"q\\\" "
                "\\\\ \\t\"}]");
    sl_buf_fini(&in);
}

/* ---- timestamps and dates at the edges */

static void test_timestamps(void **state)
{
    static const int64_t ns[] = {0,
                                 -1,
                                 1,
                                 1591367999305988000LL,
                                 INT64_MIN + 1000000,
                                 INT64_MAX - 1000000,
                                 -86400LL * 1000000000LL - 1,
                                 1700000000123456789LL};
    size_t n = sizeof(ns) / sizeof(ns[0]);
    int fd;
    struct sl_pq_writer *w =
        open_writer("timestamps",
                    "{\"us\":\"timestamp_us\",\"ns\":\"timestamp_ns\",\"d\":\"date\"}", NULL, &fd);
    struct sl_buf ex;
    sl_buf_init(&ex, 0);
    for (size_t i = 0; i < n; i++) {
        struct sl_value v[3] = {sl_value_ts(ns[i]), sl_value_ts(ns[i]), sl_value_ts(ns[i])};
        const struct sl_value *vp[3] = {&v[0], &v[1], &v[2]};
        assert_int_equal(sl_pq_write_row(w, vp, NULL), 0);
        int64_t us = ns[i] / 1000 - (ns[i] % 1000 < 0);
        int64_t day = ns[i] / 86400000000000LL - (ns[i] % 86400000000000LL < 0);
        /* DuckDB reads TIMESTAMP(NANOS, UTC) as TIMESTAMP WITH TIME ZONE: microseconds,
         * truncated toward zero */
        sl_buf_appendf(&ex, "{\"us\":\"%lld\",\"ns\":\"%lld\",\"d\":\"%lld\"}\n", (long long)us,
                       (long long)(ns[i] / 1000 * 1000), (long long)day);
    }
    /* Zeek's ts: seconds as a double; and a null row */
    struct sl_value zs[3] = {sl_value_double(1591367999.305988), sl_value_int(1),
                             sl_value_int(-719162)};
    const struct sl_value *zp[3] = {&zs[0], &zs[1], &zs[2]};
    assert_int_equal(sl_pq_write_row(w, zp, NULL), 0);
    sl_buf_puts(&ex, "{\"us\":\"1591367999305988\",\"ns\":\"1000000000\",\"d\":\"-719162\"}\n");
    const struct sl_value *np[3] = {NULL, NULL, NULL};
    assert_int_equal(sl_pq_write_row(w, np, NULL), 0);
    sl_buf_puts(&ex, "{\"us\":null,\"ns\":null,\"d\":null}\n");
    close_writer(w, fd);
    expect_rows(
        "timestamps", ex.ptr,
        ",\"sql\": \"SELECT epoch_us(us)::VARCHAR AS us, epoch_ns(ns)::VARCHAR AS ns, "
        "(d - DATE '1970-01-01')::VARCHAR AS d FROM read_parquet($F)\","
        "\"schema\": {\"us\":\"TIMESTAMP WITH TIME ZONE\",\"ns\":\"TIMESTAMP WITH TIME ZONE\","
        "\"d\":\"DATE\"}");
    sl_buf_fini(&ex);
}

/* ---- empty files, inference, row groups, key-value metadata */

static void test_empty(void **state)
{
    int fd;
    struct sl_pq_writer *w = open_writer("empty_declared", flat_schema, NULL, &fd);
    close_writer(w, fd);
    write_text("empty_declared", ".expect.json", "{\"count\": 0, \"rows\": []}", 24);
    w = open_writer("empty_inferred", NULL, NULL, &fd);
    close_writer(w, fd);
    write_text("empty_inferred", ".expect.json", "{\"count\": 0, \"rows\": []}", 24);
}

static void test_inferred(void **state)
{
    static const char in[] = "{\"a\":1,\"b\":\"x\",\"c\":true,\"m\":5,\"n\":7}\n"
                             "{\"a\":2.5,\"c\":false,\"m\":\"five\",\"o\":{\"k\":[1]}}\n"
                             "{\"b\":\"y\",\"m\":2.5,\"n\":8,\"o\":3}\n";
    int fd;
    struct sl_pq_writer *w = open_writer("inferred", NULL, NULL, &fd);
    assert_int_equal(sl_pq_writer_kv(w, "sluice.message_type", "conn"), 0);
    append_lines(w, in);
    close_writer(w, fd);
    expect_rows(
        "inferred",
        "{\"a\":1,\"b\":\"x\",\"c\":true,\"m\":\"5\",\"n\":7,\"o\":null}\n"
        "{\"a\":2.5,\"b\":null,\"c\":false,\"m\":\"five\",\"n\":null,\"o\":{\"k\":[1]}}\n"
        "{\"a\":null,\"b\":\"y\",\"c\":null,\"m\":\"2.5\",\"n\":8,\"o\":3}\n",
        ",\"schema\": {\"a\":\"DOUBLE\",\"b\":\"VARCHAR\",\"c\":\"BOOLEAN\",\"m\":\"VARCHAR\","
        "\"n\":\"BIGINT\",\"o\":\"JSON\"}, \"kv\": {\"sluice.message_type\": \"conn\"}");
}

static void test_row_groups(void **state)
{
    struct sl_buf in;
    sl_buf_init(&in, 0);
    for (int i = 0; i < 20000; i++)
        sl_buf_appendf(&in, "{\"i\":%d,\"s\":\"row %d\"}\n", i, i);
    struct sl_pq_opts o = {.row_group_bytes = 64 * 1024, .codec = SL_PQ_CODEC_GZIP};
    int fd;
    struct sl_pq_writer *w =
        open_writer("row_groups", "{\"i\":\"int32!\",\"s\":\"string!\"}", &o, &fd);
    append_lines(w, in.ptr);
    assert_int_equal(sl_pq_writer_close(w), 0);
    uint32_t nrg = sl_pq_writer_row_groups(w);
    assert_true(nrg > 3);
    sl_pq_writer_free(w);
    close(fd);
    char extra[64];
    snprintf(extra, sizeof(extra), ",\"row_groups\": %u", nrg);
    expect_rows("row_groups", in.ptr, extra);
    sl_buf_fini(&in);
}

/* ---- rejections: field path and reason, nothing written */

static void test_rejects(void **state)
{
    static const char schema[] = "{\"id\": \"int64!\", \"g\": {\"h\": {\"x\": \"int8\"}}, "
                                 "\"tags\": [\"string\"], \"pts\": [{\"p\": \"uint16\"}]}";
    static const struct {
        const char *line, *field, *reason_has;
    } cases[] = {
        {"{\"g\":null}", "id", "required"},
        {"{\"id\":\"x\"}", "id", "string value"},
        {"{\"id\":1,\"g\":{\"h\":{\"x\":300}}}", "g.h.x", "out of range"},
        {"{\"id\":1,\"g\":{\"h\":5}}", "g.h", "int value for a group"},
        {"{\"id\":1,\"tags\":[\"a\",{\"b\":1}]}", "tags[1]", "map value"},
        {"{\"id\":1,\"tags\":\"a\"}", "tags", "for a list"},
        {"{\"id\":1,\"pts\":[{\"p\":1},{\"p\":-1}]}", "pts[1].p", "out of range"},
    };
    int fd;
    struct sl_pq_writer *w = open_writer("rejects", schema, NULL, &fd);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct sl_batch *b = sl_batch_new();
        assert_int_equal(sl_json_parse_event(b, cases[i].line, strlen(cases[i].line), NULL, NULL),
                         0);
        struct sl_pq_reject rej;
        int rc = sl_pq_append_event(w, &b->events[0], &rej);
        assert_true(rc < 0);
        if (strcmp(rej.field, cases[i].field) || !strstr(rej.reason, cases[i].reason_has))
            fail_msg("%s: got field '%s' reason '%s'", cases[i].line, rej.field, rej.reason);
        sl_batch_unref(b);
    }
    static const char good[] = "{\"id\":9,\"tags\":[\"ok\"]}\n";
    append_lines(w, good);
    close_writer(w, fd);
    expect_rows("rejects", "{\"id\":9,\"g\":null,\"tags\":[\"ok\"],\"pts\":null}\n",
                ",\"meta\":[{\"row_group_id\":0,\"column_id\":0,\"stats_min_value\":\"9\","
                "\"stats_max_value\":\"9\"}]");
}

static void test_schema_parse(void **state)
{
    static const char *const bad[] = {"[]",
                                      "{}",
                                      "{\"a\":\"nope\"}",
                                      "{\"a\":{}}",
                                      "{\"a\":[\"int32\",\"int32\"]}",
                                      "{\"a\":\"fixed(0)\"}"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct sl_pq_schema *s = NULL;
        struct sl_diag d;
        sl_diag_init(&d);
        assert_true(sl_pq_schema_parse(bad[i], strlen(bad[i]), &s, &d) < 0);
        assert_null(s);
        assert_true(d.msg[0] != 0);
    }
    struct sl_pq_schema *s = NULL;
    assert_int_equal(sl_pq_schema_parse(flat_schema, strlen(flat_schema), &s, NULL), 0);
    struct sl_buf b;
    sl_buf_init(&b, 0);
    assert_int_equal(sl_pq_schema_to_json(s, &b), 0);
    assert_string_equal(
        b.ptr, "{\"r\":\"int64!\",\"b\":\"bool\",\"i8\":\"int8\",\"i16\":\"int16\",\"i32\":"
               "\"int32\",\"i64\":\"int64\",\"u8\":\"uint8\",\"u16\":\"uint16\",\"u32\":\"uint32\","
               "\"u64\":\"uint64\",\"d\":\"double\",\"s\":\"string\",\"lc\":\"string\",\"j\":"
               "\"json\"}");
    assert_int_equal(sl_pq_schema_columns(s), 14);
    sl_buf_fini(&b);
    sl_pq_schema_free(s);
}

/* ---- property test: random schemas and rows */

static uint64_t rng = 0x9E3779B97F4A7C15ull;
static uint32_t rnd(uint32_t n)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (uint32_t)(rng % n);
}

struct gnode {
    int kind; /* 0 int32, 1 int64, 2 double, 3 string, 4 bool, 5 group, 6 list, 7 uint16 */
    bool req;
    int nkids;
    struct gnode *kids[4];
};

static struct gnode *gen_node(int depth)
{
    struct gnode *g = sl_xcalloc(1, sizeof(*g));
    g->kind = (int)rnd(depth >= 3 ? 5 : 8);
    if (g->kind == 5 && depth >= 3)
        g->kind = 3;
    g->req = rnd(4) == 0 && g->kind != 5 && g->kind != 6;
    if (g->kind == 5) {
        g->nkids = 1 + (int)rnd(3);
        for (int i = 0; i < g->nkids; i++)
            g->kids[i] = gen_node(depth + 1);
    } else if (g->kind == 6) {
        g->nkids = 1;
        g->kids[0] = gen_node(depth + 1);
    }
    return g;
}

static void free_node(struct gnode *g)
{
    for (int i = 0; i < g->nkids; i++)
        free_node(g->kids[i]);
    sl_free(g);
}

static void schema_of(const struct gnode *g, struct sl_buf *b)
{
    static const char *const names[] = {"int32", "int64", "double", "string",
                                        "bool",  "",      "",       "uint16"};
    if (g->kind == 5) {
        sl_buf_putc(b, '{');
        for (int i = 0; i < g->nkids; i++) {
            sl_buf_appendf(b, "%s\"f%d\":", i ? "," : "", i);
            schema_of(g->kids[i], b);
        }
        sl_buf_putc(b, '}');
    } else if (g->kind == 6) {
        sl_buf_putc(b, '[');
        schema_of(g->kids[0], b);
        sl_buf_putc(b, ']');
    } else {
        sl_buf_appendf(b, "\"%s%s\"", names[g->kind], g->req ? "!" : "");
    }
}

static void value_of(const struct gnode *g, struct sl_buf *b, int depth)
{
    if (!g->req && rnd(5) == 0) {
        sl_buf_puts(b, "null");
        return;
    }
    static const char *const words[] = {
        "alpha", "",           "\\u00fcber", "\\ud83d\\udc0d",
        "x y",   "quote\\\"d", "tab\\t",     "longer string value here"};
    switch (g->kind) {
    case 0:
        sl_buf_appendf(b, "%d", (int)rnd(2000000) - 1000000);
        break;
    case 1:
        sl_buf_appendf(b, "%lld", ((long long)rnd(1u << 30) << 20) - (1LL << 49));
        break;
    case 2:
        sl_buf_appendf(b, "%g", ((double)rnd(100000) - 50000) / 8);
        break;
    case 3:
        sl_buf_appendf(b, "\"%s%u\"", words[rnd(8)], rnd(rnd(2) ? 5 : 100000));
        break;
    case 4:
        sl_buf_puts(b, rnd(2) ? "true" : "false");
        break;
    case 7:
        sl_buf_appendf(b, "%u", rnd(65536));
        break;
    case 5:
        sl_buf_putc(b, '{');
        for (int i = 0; i < g->nkids; i++) {
            sl_buf_appendf(b, "%s\"f%d\":", i ? "," : "", i);
            value_of(g->kids[i], b, depth + 1);
        }
        sl_buf_putc(b, '}');
        break;
    case 6: {
        uint32_t n = rnd(5);
        sl_buf_putc(b, '[');
        for (uint32_t i = 0; i < n; i++) {
            if (i)
                sl_buf_putc(b, ',');
            value_of(g->kids[0], b, depth + 1);
        }
        sl_buf_putc(b, ']');
        break;
    }
    }
}

static void test_property(void **state)
{
    for (int t = 0; t < 40; t++) {
        int nf = 1 + (int)rnd(6);
        struct gnode *top[6];
        struct sl_buf sch, rows;
        sl_buf_init(&sch, 0);
        sl_buf_init(&rows, 0);
        sl_buf_putc(&sch, '{');
        for (int i = 0; i < nf; i++) {
            top[i] = gen_node(1);
            sl_buf_appendf(&sch, "%s\"c%d\":", i ? "," : "", i);
            schema_of(top[i], &sch);
        }
        sl_buf_putc(&sch, '}');
        int nrows = (int)rnd(t % 4 == 0 ? 3000 : 200);
        for (int r = 0; r < nrows; r++) {
            sl_buf_putc(&rows, '{');
            for (int i = 0; i < nf; i++) {
                sl_buf_appendf(&rows, "%s\"c%d\":", i ? "," : "", i);
                value_of(top[i], &rows, 1);
            }
            sl_buf_puts(&rows, "}\n");
        }
        struct sl_pq_opts o = {.codec = (enum sl_pq_codec)rnd(SL_PQ__CODEC_COUNT),
                               .page_rows = 1 + rnd(500),
                               .page_bytes = 64 + rnd(8192),
                               .dict_max_count = 1 + rnd(200),
                               .row_group_bytes = 4096 + rnd(200000)};
        char name[64];
        snprintf(name, sizeof(name), "prop_%02d", t);
        int fd;
        struct sl_pq_writer *w = open_writer(name, sch.ptr, &o, &fd);
        if (nrows)
            append_lines(w, rows.ptr);
        close_writer(w, fd);
        /* hyparquet alone reads UNCOMPRESSED and SNAPPY */
        expect_rows(name, nrows ? rows.ptr : "",
                    t % 3 == 0 && o.codec <= SL_PQ_CODEC_SNAPPY ? ",\"hyparquet\": true" : NULL);
        for (int i = 0; i < nf; i++)
            free_node(top[i]);
        sl_buf_fini(&sch);
        sl_buf_fini(&rows);
    }
}

/* ---- the readers */

static void test_readers(void **state)
{
    const char *src = getenv("SL_SRC");
    char cmd[1024];
    snprintf(cmd, sizeof(cmd),
             "bash %s/scripts/node-deps.sh && node %s/tests/node/read_parquet.mjs %s",
             src ? src : ".", src ? src : ".", g_dir);
    int rc = system(cmd);
    assert_int_equal(rc, 0);
}

static int setup(void **state)
{
    snprintf(g_dir, sizeof(g_dir), "/tmp/sluice-parquet.XXXXXX");
    if (!mkdtemp(g_dir))
        return -1;
    sl_core_init();
    return 0;
}

static int teardown(void **state)
{
    if (!getenv("SL_KEEP_PARQUET")) {
        char cmd[512];
        snprintf(cmd, sizeof(cmd), "rm -rf %s", g_dir);
        if (system(cmd) != 0)
            return -1;
    } else {
        fprintf(stderr, "kept %s\n", g_dir);
    }
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_schema_parse),     cmocka_unit_test(test_flat_codecs),
        cmocka_unit_test(test_nested),           cmocka_unit_test(test_dictionary),
        cmocka_unit_test(test_dictionary_probe), cmocka_unit_test(test_strings),
        cmocka_unit_test(test_timestamps),       cmocka_unit_test(test_empty),
        cmocka_unit_test(test_inferred),         cmocka_unit_test(test_row_groups),
        cmocka_unit_test(test_rejects),          cmocka_unit_test(test_property),
        cmocka_unit_test(test_readers),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
