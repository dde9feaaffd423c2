/*
 * kv_test.c — key=value and CSV record parsing (codec/kv.h, codec/csvparse.h): separators,
 * quotes and escapes, tokens without values, RFC 4180 doubled quotes, empty fields, CRLF,
 * and the errors with their byte offsets.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "base/arena.h"
#include "base/buf.h"
#include "codec/csvparse.h"
#include "codec/kv.h"

#include <stdio.h>
#include <string.h>

static int kv_collect(void *ud, struct sl_str k, struct sl_str v)
{
    struct sl_buf *b = ud;
    return sl_buf_appendf(b, "[%.*s|%.*s]", (int)k.len, k.ptr, (int)v.len, v.ptr);
}

static void kv_expect(const char *fs, const char *vs, const char *qs, const char *line, int want_rc,
                      const char *want)
{
    struct sl_kvparse_opts o = {fs, vs, qs};
    struct sl_arena a;
    sl_arena_init(&a, 1024, 1 << 20);
    struct sl_buf b;
    sl_buf_init(&b, 0);
    sl_buf_puts(&b, "");
    struct sl_diag d;
    sl_diag_init(&d);
    int rc = sl_kvparse(&o, line, strlen(line), &a, kv_collect, &b, &d);
    if (rc != want_rc || strcmp(b.ptr ? b.ptr : "", want) != 0)
        fail_msg("kv '%s': rc %d '%s' (%s), want %d '%s'", line, rc, b.ptr ? b.ptr : "", d.msg,
                 want_rc, want);
    sl_buf_fini(&b);
    sl_arena_fini(&a);
}

static void test_kv(void **state)
{
    (void)state;
    kv_expect(NULL, NULL, NULL, "a=1 b=2", 2, "[a|1][b|2]");
    kv_expect(NULL, NULL, NULL, "  a=1    b=  ", 2, "[a|1][b|]");
    kv_expect(NULL, NULL, NULL, "a=\"x y\" b='p q' c=\"\"", 3, "[a|x y][b|p q][c|]");
    kv_expect(NULL, NULL, NULL, "msg=\"say \\\"hi\\\" \\\\ ok\" n=1", 2,
              "[msg|say \"hi\" \\ ok][n|1]");
    kv_expect(NULL, NULL, NULL, "lonely a=1 =skip b=c=d", 2, "[a|1][b|c=d]");
    kv_expect(NULL, NULL, NULL, "", 0, "");
    kv_expect("&", "=", "", "x=1&y=\"2\"&&z", 2, "[x|1][y|\"2\"]");
    kv_expect(", ", ":", NULL, "k1: v1, k2:v2", 2, "[k1|][k2|v2]");
    kv_expect(NULL, NULL, NULL, "a=1 b=\"open", SL_EPARSE, "[a|1]");
}

static int csv_collect(void *ud, uint32_t i, struct sl_str f)
{
    struct sl_buf *b = ud;
    return sl_buf_appendf(b, "%u<%.*s>", i, (int)f.len, f.ptr);
}

static void csv_expect(char delim, const char *line, int want_rc, const char *want,
                       int64_t want_off)
{
    struct sl_arena a;
    sl_arena_init(&a, 1024, 1 << 20);
    struct sl_buf b;
    sl_buf_init(&b, 0);
    sl_buf_puts(&b, "");
    struct sl_diag d;
    sl_diag_init(&d);
    int rc = sl_csvparse(delim, '"', line, strlen(line), &a, csv_collect, &b, &d);
    if (rc != want_rc || strcmp(b.ptr ? b.ptr : "", want) != 0 ||
        (want_off >= 0 && d.offset != want_off))
        fail_msg("csv '%s': rc %d '%s' (%s @%lld), want %d '%s'", line, rc, b.ptr ? b.ptr : "",
                 d.msg, (long long)d.offset, want_rc, want);
    sl_buf_fini(&b);
    sl_arena_fini(&a);
}

static void test_csv(void **state)
{
    (void)state;
    csv_expect(',', "a,b,c", 3, "0<a>1<b>2<c>", -1);
    csv_expect(',', "", 1, "0<>", -1);
    csv_expect(',', ",", 2, "0<>1<>", -1);
    csv_expect(',', "a,,c,\r\n", 4, "0<a>1<>2<c>3<>", -1);
    csv_expect(',', "\"x, y\",\"he said \"\"hi\"\"\",\"\"", 3, "0<x, y>1<he said \"hi\">2<>", -1);
    csv_expect(',', "\"multi\nline\",2", 2, "0<multi\nline>1<2>", -1);
    csv_expect('\t', "a\tb c\t\"d\"", 3, "0<a>1<b c>2<d>", -1);
    csv_expect(',', "a,\"open", SL_EPARSE, "0<a>", 2);
    csv_expect(',', "\"ab\"c,d", SL_EPARSE, "", 4);
    csv_expect(',', "mid\"quote,x", 2, "0<mid\"quote>1<x>", -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_kv),
        cmocka_unit_test(test_csv),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
