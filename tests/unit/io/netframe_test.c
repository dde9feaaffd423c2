/*
 * netframe_test.c — LF / octet-counted / auto framing: CRLF and empty lines, counts that are
 * not counts, cuts at max_frame in both framings, a bad count in octet mode, end of stream
 * inside a frame, and the same frames whatever the split of the stream (random splits of a
 * long mixed stream, and byte by byte).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "base/buf.h"
#include "base/err.h"
#include "io/netframe.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* frames rendered as "[flags]text|" */
static int collect(void *arg, const char *p, size_t n, unsigned flags)
{
    struct sl_buf *out = arg;
    char h[16];
    int k = snprintf(h, sizeof(h), "[%s%s]", flags & SL_NETFRAME_OCTET ? "o" : "",
                     flags & SL_NETFRAME_TRUNCATED ? "t" : "");
    sl_buf_append(out, h, (size_t)k);
    sl_buf_append(out, p, n);
    sl_buf_append(out, "|", 1);
    return 0;
}

/* frame `in` fed in pieces of `step` bytes (0: at once), then eof */
static void frames(enum sl_netserver_framing mode, size_t max, const char *in, size_t n,
                   size_t step, struct sl_buf *out, int *rc)
{
    struct sl_netframer f;
    sl_netframer_init(&f, mode, max);
    sl_buf_init(out, 0);
    *rc = 0;
    for (size_t off = 0; off < n && !*rc;) {
        size_t k = step && n - off > step ? step : n - off;
        *rc = sl_netframer_feed(&f, in + off, k, collect, out);
        off += k;
    }
    if (!*rc)
        sl_netframer_eof(&f, collect, out);
    sl_buf_putc(out, 0);
    sl_netframer_fini(&f);
}

static void check(enum sl_netserver_framing mode, size_t max, const char *in, const char *want,
                  int want_rc)
{
    size_t n = strlen(in);
    size_t steps[] = {0, 1, 2, 3, 7};
    for (size_t s = 0; s < 5; s++) {
        struct sl_buf out;
        int rc;
        frames(mode, max, in, n, steps[s], &out, &rc);
        if (strcmp(out.ptr, want) != 0 || rc != want_rc) {
            fprintf(stderr, "step %zu: in '%s'\n  got  '%s' rc %d\n  want '%s' rc %d\n", steps[s],
                    in, out.ptr, rc, want, want_rc);
            fail();
        }
        sl_buf_fini(&out);
    }
}

static void test_lf(void **state)
{
    (void)state;
    check(SL_NETSERVER_LF, 0, "a\nbb\r\n\n\r\nccc", "[]a|[]bb|[]ccc|", 0);
    check(SL_NETSERVER_LF, 0, "5 abcde\n", "[]5 abcde|", 0);
    /* cut at 4: the rest of the line skipped */
    check(SL_NETSERVER_LF, 4, "abcdefgh\nxy\nabcd\n", "[t]abcd|[]xy|[]abcd|", 0);
    check(SL_NETSERVER_LF, 4, "abcdefgh", "[t]abcd|", 0);
}

static void test_octet(void **state)
{
    (void)state;
    check(SL_NETSERVER_OCTET, 0, "5 abcde3 x\ny0 2 \r\n", "[o]abcde|[o]x\ny|[o]\r\n|", 0);
    /* over max: cut, the rest skipped, the next frame fine */
    check(SL_NETSERVER_OCTET, 4, "6 abcdef2 gh", "[ot]abcd|[o]gh|", 0);
    /* not a count */
    check(SL_NETSERVER_OCTET, 0, "<13>x\n", "", SL_EPARSE);
    check(SL_NETSERVER_OCTET, 0, "3 abc1234567890 x", "[o]abc|", SL_EPARSE);
    /* end inside a frame: what came, flagged */
    check(SL_NETSERVER_OCTET, 0, "10 abc", "[ot]abc|", 0);
}

static void test_auto(void **state)
{
    (void)state;
    check(SL_NETSERVER_AUTO, 0, "<13>a\n5 <13>b<13>c\n2 xy", "[]<13>a|[o]<13>b|[]<13>c|[o]xy|", 0);
    /* digits that are not a count are a line */
    check(SL_NETSERVER_AUTO, 0, "2024-03-10 x\n12345678901 y\n0 z\n",
          "[]2024-03-10 x|[]12345678901 y|[]0 z|", 0);
    check(SL_NETSERVER_AUTO, 0, "123", "[]123|", 0);
    check(SL_NETSERVER_AUTO, 3, "12345\n4 abcd", "[t]123|[ot]abc|", 0);
}

static int stop_at_second(void *arg, const char *p, size_t n, unsigned flags)
{
    (void)p;
    (void)n;
    (void)flags;
    int *count = arg;
    return ++*count == 2 ? SL_ECLOSED : 0;
}

static void test_callback_stops(void **state)
{
    (void)state;
    struct sl_netframer f;
    sl_netframer_init(&f, SL_NETSERVER_AUTO, 0);
    int count = 0;
    assert_int_equal(sl_netframer_feed(&f, "a\nb\nc\n", 6, stop_at_second, &count), SL_ECLOSED);
    assert_int_equal(count, 2);
    sl_netframer_fini(&f);
}

static void test_random_splits(void **state)
{
    (void)state;
    srand(42);
    struct sl_buf in, want;
    sl_buf_init(&in, 0);
    sl_buf_init(&want, 0);
    for (int i = 0; i < 3000; i++) {
        char m[300];
        int len = 1 + rand() % 200;
        for (int j = 0; j < len; j++)
            m[j] = (char)('a' + rand() % 26);
        if (rand() % 3 == 0)
            m[rand() % len] = '\n'; /* only allowed inside octet frames */
        bool octet = rand() % 2 || memchr(m, '\n', (size_t)len);
        bool cut = len > 150;
        char h[32];
        if (octet) {
            int k = snprintf(h, sizeof(h), "%d ", len);
            sl_buf_append(&in, h, (size_t)k);
            sl_buf_append(&in, m, (size_t)len);
        } else {
            if (m[0] >= '1' && m[0] <= '9')
                m[0] = 'x';
            sl_buf_append(&in, m, (size_t)len);
            sl_buf_append(&in, "\n", 1);
        }
        int k = snprintf(h, sizeof(h), "[%s%s]", octet ? "o" : "", cut ? "t" : "");
        sl_buf_append(&want, h, (size_t)k);
        sl_buf_append(&want, m, cut ? 150 : (size_t)len);
        sl_buf_append(&want, "|", 1);
    }
    sl_buf_putc(&want, 0);
    for (int round = 0; round < 20; round++) {
        struct sl_netframer f;
        sl_netframer_init(&f, SL_NETSERVER_AUTO, 150);
        struct sl_buf out;
        sl_buf_init(&out, 0);
        for (size_t off = 0; off < in.len;) {
            size_t k = round == 0 ? in.len : (size_t)(1 + rand() % (round * 37));
            if (k > in.len - off)
                k = in.len - off;
            assert_int_equal(sl_netframer_feed(&f, in.ptr + off, k, collect, &out), 0);
            off += k;
        }
        sl_netframer_eof(&f, collect, &out);
        sl_buf_putc(&out, 0);
        assert_string_equal(out.ptr, want.ptr);
        sl_buf_fini(&out);
        sl_netframer_fini(&f);
    }
    sl_buf_fini(&in);
    sl_buf_fini(&want);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_lf),
        cmocka_unit_test(test_octet),
        cmocka_unit_test(test_auto),
        cmocka_unit_test(test_callback_stops),
        cmocka_unit_test(test_random_splits),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
