/*
 * linereader_test.c — the line reader: any split of the input gives the same events, line
 * numbers and offsets of dead letters, over-long lines, CRLF, blank lines, a last line
 * without newline, raw lines, byte accounting, resume positions, an emit that fails.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "base/buf.h"
#include "codec/json.h"
#include "io/linereader.h"

#include <string.h>

struct sink {
    struct sl_buf events; /* events as JSON lines */
    struct sl_buf errors; /* "line:offset:raw" per dead letter */
    int batches;
    uint64_t bytes; /* b->bytes of every batch, dead letters included */
    int fail_after; /* >0: the emit after that many batches fails with SL_ECLOSED */
};

static int collect(void *arg, struct sl_batch *b, bool is_errors)
{
    struct sink *s = arg;
    for (uint32_t i = 0; i < b->count; i++) {
        const struct sl_event *ev = &b->events[i];
        if (is_errors) {
            const struct sl_value *l = sl_event_get(ev, SL_SYM_LINE);
            const struct sl_value *o = sl_event_get(ev, SL_SYM_OFFSET);
            const struct sl_value *r = sl_event_get(ev, SL_SYM_RAW);
            sl_buf_appendf(&s->errors, "%lld:%lld:%.*s\n", (long long)l->u.i,
                           o ? (long long)o->u.i : -1LL, (int)r->len, r->u.s);
        } else {
            sl_json_write_event(&s->events, ev);
            sl_buf_putc(&s->events, '\n');
        }
    }
    s->batches++;
    s->bytes += b->bytes;
    sl_batch_unref(b);
    return s->fail_after && s->batches >= s->fail_after ? SL_ECLOSED : 0;
}

static struct sl_component fake = {.name = "t"};

static void run(const char *in, size_t n, size_t step, enum sl_line_format f, size_t max_line,
                struct sink *s)
{
    sl_buf_init(&s->events, 0);
    sl_buf_init(&s->errors, 0);
    s->batches = 0;
    s->bytes = 0;
    s->fail_after = 0;
    struct sl_linereader_opts o = {.format = f, .max_line = max_line, .where = "test"};
    struct sl_linereader *r = sl_linereader_new(&fake, &o);
    sl_linereader_set_emit(r, collect, s);
    for (size_t at = 0; at < n; at += step)
        assert_int_equal(sl_linereader_feed(r, in + at, step < n - at ? step : n - at), 0);
    assert_int_equal(sl_linereader_finish(r), 0);
    sl_linereader_free(r);
}

static const char input[] = "{\"a\":1}\n"
                            "\n"
                            "{\"a\":2}\r\n"
                            "  \t \n"
                            "{\"a\":3,\"s\":\"x\"}\n"
                            "{bad}\n"
                            "{\"a\":\"this line is rather long for max_line\"}\n"
                            "{\"a\":4}";

static void test_any_split_same_result(void **state)
{
    struct sink whole;
    run(input, strlen(input), strlen(input), SL_LINES_JSON, 40, &whole);
    assert_string_equal(whole.events.ptr,
                        "{\"a\":1}\n{\"a\":2}\n{\"a\":3,\"s\":\"x\"}\n{\"a\":4}\n");
    /* line 6 is malformed (it starts at byte 39); line 7 (at byte 45) is longer than
     * max_line: its first 40 bytes are kept */
    assert_string_equal(whole.errors.ptr,
                        "6:39:{bad}\n7:45:{\"a\":\"this line is rather long for max_l\n");
    for (size_t step = 1; step < 20; step++) {
        struct sink s;
        run(input, strlen(input), step, SL_LINES_JSON, 40, &s);
        assert_string_equal(s.events.ptr, whole.events.ptr);
        assert_string_equal(s.errors.ptr, whole.errors.ptr);
        sl_buf_fini(&s.events);
        sl_buf_fini(&s.errors);
    }
    /* every input byte is counted once: in an event batch, or as a dead letter's raw bytes */
    assert_int_equal(whole.bytes, strlen(input));
    sl_buf_fini(&whole.events);
    sl_buf_fini(&whole.errors);
}

static void test_raw_lines_and_batches(void **state)
{
    struct sl_buf in;
    sl_buf_init(&in, 0);
    for (int i = 0; i < 2500; i++)
        sl_buf_appendf(&in, "line %d\n", i);
    struct sink s;
    run(in.ptr, in.len, 4096, SL_LINES_RAW, 0, &s);
    assert_true(s.batches >= 3); /* 1,024 events a batch */
    assert_non_null(strstr(s.events.ptr, "{\"message\":\"line 2499\"}\n"));
    assert_null(s.errors.ptr);
    sl_buf_fini(&s.events);
    sl_buf_fini(&s.errors);
    sl_buf_fini(&in);
}

static void test_resume_position_and_counters(void **state)
{
    /* a reader that starts at line 11, byte 500 of a file (tail from the end) */
    struct sink s;
    sl_buf_init(&s.events, 0);
    sl_buf_init(&s.errors, 0);
    s.batches = 0;
    s.bytes = 0;
    s.fail_after = 0;
    sl_sym text = sl_sym_intern_c("text");
    struct sl_linereader_opts o = {.format = SL_LINES_RAW,
                                   .message_field = text,
                                   .where = "f",
                                   .first_line = 11,
                                   .first_offset = 500};
    struct sl_linereader *r = sl_linereader_new(&fake, &o);
    sl_linereader_set_emit(r, collect, &s);
    assert_int_equal(sl_linereader_feed(r, "a\n\nb\r\nc", 7), 0);
    assert_int_equal(sl_linereader_lines(r), 13); /* 10 before, a, blank, b; c is partial */
    assert_int_equal(sl_linereader_offset(r), 506);
    assert_int_equal(sl_linereader_events(r), 2);
    assert_int_equal(s.batches, 0); /* nothing is emitted before a flush or a full batch */
    assert_int_equal(sl_linereader_flush(r), 0);
    assert_int_equal(s.batches, 1);
    assert_int_equal(sl_linereader_flush(r), 0); /* nothing pending: no empty batch */
    assert_int_equal(s.batches, 1);
    assert_int_equal(sl_linereader_finish(r), 0);
    assert_int_equal(sl_linereader_lines(r), 14);
    assert_int_equal(sl_linereader_offset(r), 507);
    assert_int_equal(sl_linereader_errors(r), 0);
    sl_linereader_free(r);
    assert_string_equal(s.events.ptr, "{\"text\":\"a\"}\n{\"text\":\"b\"}\n{\"text\":\"c\"}\n");
    assert_int_equal(s.bytes, 7);
    sl_buf_fini(&s.events);
    sl_buf_fini(&s.errors);
}

static void test_emit_failure_stops_feed(void **state)
{
    /* the pipeline closes after the first batch: feed reports it and takes no more */
    struct sl_buf in;
    sl_buf_init(&in, 0);
    for (int i = 0; i < 5000; i++)
        sl_buf_appendf(&in, "{\"i\":%d}\n", i);
    struct sink s;
    sl_buf_init(&s.events, 0);
    sl_buf_init(&s.errors, 0);
    s.batches = 0;
    s.bytes = 0;
    s.fail_after = 1;
    struct sl_linereader_opts o = {.format = SL_LINES_JSON};
    struct sl_linereader *r = sl_linereader_new(&fake, &o);
    sl_linereader_set_emit(r, collect, &s);
    assert_int_equal(sl_linereader_feed(r, in.ptr, in.len), SL_ECLOSED);
    assert_int_equal(s.batches, 1);
    assert_int_equal(sl_linereader_events(r), SL_BATCH_EVENTS);
    sl_linereader_free(r); /* nothing leaks (ASan) */
    sl_buf_fini(&s.events);
    sl_buf_fini(&s.errors);
    sl_buf_fini(&in);
}

static void test_over_long_last_line(void **state)
{
    /* an over-long line that ends the input without a newline: one dead letter, and the
     * line count still includes it */
    struct sink s;
    static const char in[] = "{\"a\":1}\n{\"a\":\"0123456789012345678901234567890123456789\"}";
    run(in, strlen(in), 5, SL_LINES_JSON, 20, &s);
    assert_string_equal(s.events.ptr, "{\"a\":1}\n");
    assert_string_equal(s.errors.ptr, "2:8:{\"a\":\"01234567890123\n");
    assert_int_equal(s.bytes, strlen(in));
    sl_buf_fini(&s.events);
    sl_buf_fini(&s.errors);
}

int main(void)
{
    sl_core_init();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_any_split_same_result), cmocka_unit_test(test_raw_lines_and_batches),
        cmocka_unit_test(test_resume_position_and_counters),
        cmocka_unit_test(test_emit_failure_stops_feed), cmocka_unit_test(test_over_long_last_line)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
