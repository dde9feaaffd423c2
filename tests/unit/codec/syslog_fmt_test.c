/*
 * syslog_fmt_test.c — the syslog sink's formatter (headers, facility/severity names, framing,
 * UTF-8 truncation) and dataShark's document (dsdoc: key order, metadata replacing the head
 * members, metadata from the other fields, sorted metadata, %f timestamps).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "codec/dsdoc.h"
#include "codec/json.h"
#include "codec/syslog_fmt.h"

#include <stdlib.h>
#include <string.h>

#define TS 1704164645678901000LL /* 2024-01-02T03:04:05.678901Z */

static void test_names(void **st)
{
    (void)st;
    int v = -1;
    assert_int_equal(sl_syslog_facility_parse(sl_str_c("13"), &v), 0);
    assert_int_equal(v, 13);
    assert_int_equal(sl_syslog_facility_parse(sl_str_c("local7"), &v), 0);
    assert_int_equal(v, 23);
    assert_int_equal(sl_syslog_facility_parse(sl_str_c("AUDIT"), &v), 0);
    assert_int_equal(v, 13);
    assert_int_equal(sl_syslog_facility_parse(sl_str_c("24"), &v), SL_EINVAL);
    assert_int_equal(sl_syslog_facility_parse(sl_str_c("local8"), &v), SL_EINVAL);
    assert_int_equal(sl_syslog_facility_parse(sl_str_c(""), &v), SL_EINVAL);
    assert_int_equal(sl_syslog_severity_parse(sl_str_c("warning"), &v), 0);
    assert_int_equal(v, 4);
    assert_int_equal(sl_syslog_severity_parse(sl_str_c("7"), &v), 0);
    assert_int_equal(v, 7);
    assert_int_equal(sl_syslog_severity_parse(sl_str_c("8"), &v), SL_EINVAL);
    assert_true(sl_syslog_fmt_token_ok("host-1.example", 255));
    assert_false(sl_syslog_fmt_token_ok("two words", 255));
    assert_false(sl_syslog_fmt_token_ok("abc", 2));
    assert_false(sl_syslog_fmt_token_ok("caf\xc3\xa9", 255));
}

static void test_headers(void **st)
{
    (void)st;
    struct sl_buf b;
    sl_buf_init(&b, 4096);
    struct sl_syslog_hdr h = {.fmt = SL_SYSLOG_FMT_5424,
                              .facility = 13,
                              .hostname = "h1",
                              .app_name = "app",
                              .procid = "42",
                              .msgid = "-"};
    assert_int_equal(sl_syslog_fmt_header(&b, &h, 6, TS), 0);
    assert_string_equal(b.ptr, "<110>1 2024-01-02T03:04:05.678901Z h1 app 42 - - ");
    sl_buf_reset(&b);
    h.procid = "";
    h.msgid = "ID7";
    h.facility = 0;
    assert_int_equal(sl_syslog_fmt_header(&b, &h, 0, TS), 0);
    assert_string_equal(b.ptr, "<0>1 2024-01-02T03:04:05.678901Z h1 app - ID7 - ");
    sl_buf_reset(&b);
    h.fmt = SL_SYSLOG_FMT_BARE;
    h.facility = 23;
    assert_int_equal(sl_syslog_fmt_header(&b, &h, 7, TS), 0);
    assert_string_equal(b.ptr, "<191>");
    sl_buf_reset(&b);
    /* 3164: local time; with TZ=UTC it is the UTC time, day padded with a space */
    setenv("TZ", "UTC", 1);
    h.fmt = SL_SYSLOG_FMT_3164;
    h.facility = 19;
    h.procid = "99";
    assert_int_equal(sl_syslog_fmt_header(&b, &h, 4, TS), 0);
    assert_string_equal(b.ptr, "<156>Jan  2 03:04:05 h1 app[99]: ");
    sl_buf_reset(&b);
    h.procid = "-";
    assert_int_equal(sl_syslog_fmt_header(&b, &h, 4, TS), 0);
    assert_string_equal(b.ptr, "<156>Jan  2 03:04:05 h1 app: ");
    sl_buf_fini(&b);
}

static void test_framing(void **st)
{
    (void)st;
    struct sl_buf b;
    sl_buf_init(&b, 64);
    assert_int_equal(sl_syslog_fmt_frame(&b, true, "<1>x y", 6), 0);
    assert_int_equal(sl_syslog_fmt_frame(&b, true, "", 0), 0);
    assert_string_equal(b.ptr, "6 <1>x y0 ");
    sl_buf_reset(&b);
    assert_int_equal(sl_syslog_fmt_frame(&b, false, "a\nb\rc", 5), 0);
    assert_string_equal(b.ptr, "a b c\n");
    /* the cap: nothing is appended when it does not fit */
    char big[80];
    memset(big, 'z', sizeof(big));
    size_t before = b.len;
    assert_int_equal(sl_syslog_fmt_frame(&b, true, big, sizeof(big)), SL_E2BIG);
    assert_int_equal(b.len, before);
    sl_buf_fini(&b);

    /* truncation never cuts a UTF-8 sequence: "aé€" = 61 c3a9 e282ac */
    const char *u = "a\xc3\xa9\xe2\x82\xac";
    assert_int_equal(sl_syslog_fmt_utf8_cut(u, 6, 6), 6);
    assert_int_equal(sl_syslog_fmt_utf8_cut(u, 6, 5), 3);
    assert_int_equal(sl_syslog_fmt_utf8_cut(u, 6, 4), 3);
    assert_int_equal(sl_syslog_fmt_utf8_cut(u, 6, 3), 3);
    assert_int_equal(sl_syslog_fmt_utf8_cut(u, 6, 2), 1);
    assert_int_equal(sl_syslog_fmt_utf8_cut(u, 6, 0), 0);
}

static struct sl_batch *parse(const char *json)
{
    struct sl_batch *b = sl_batch_new();
    assert_int_equal(sl_json_parse_event(b, json, strlen(json), NULL, NULL), 0);
    return b;
}

static void test_dsdoc(void **st)
{
    (void)st;
    struct sl_dsdoc d;
    struct sl_dsdoc_conf cf = {.title = "Use Case", .utc = true};
    assert_int_equal(sl_dsdoc_init(&d, &cf), 0);
    struct sl_buf out;
    sl_buf_init(&out, 1 << 20);

    struct sl_batch *b = parse("{\"key\":\"10.0.0.7\",\"score\":3.0,"
                               "\"metadata\":{\"twoxx\":12,\"cluster\":1,\"title\":\"T2\"}}");
    b->events[0].ts_ns = TS;
    assert_int_equal(sl_dsdoc_write_json(&d, &b->events[0], TS, &out), 0);
    /* metadata's title replaces the title in place; score keeps its decimal point */
    assert_string_equal(out.ptr, "{\"title\":\"T2\",\"timestamp\":\"2024-01-02 03:04:05\","
                                 "\"source_ip\":\"10.0.0.7\",\"anomaly_score\":3.0,"
                                 "\"twoxx\":12,\"cluster\":1}");
    struct sl_dsdoc_kv kv[4];
    assert_int_equal(sl_dsdoc_metadata(&d, &b->events[0], true, kv, 4), 3);
    assert_true(sl_str_eq_c(kv[0].key, "cluster"));
    assert_true(sl_str_eq_c(kv[1].key, "title"));
    assert_true(sl_str_eq_c(kv[2].key, "twoxx"));
    /* a smaller array: the count is still the whole count */
    assert_int_equal(sl_dsdoc_metadata(&d, &b->events[0], true, kv, 1), 3);
    sl_batch_unref(b);

    /* no metadata field: the other top-level fields; missing score: null */
    sl_buf_reset(&out);
    b = parse("{\"a\":1,\"key\":\"k\",\"b\":[true,null]}");
    assert_int_equal(sl_dsdoc_write_json(&d, &b->events[0], TS, &out), 0);
    assert_string_equal(out.ptr, "{\"title\":\"Use Case\",\"timestamp\":\"2024-01-02 03:04:05\","
                                 "\"source_ip\":\"k\",\"anomaly_score\":null,\"a\":1,"
                                 "\"b\":[true,null]}");
    assert_int_equal(sl_dsdoc_metadata(&d, &b->events[0], true, kv, 4), 2);
    sl_batch_unref(b);
    sl_dsdoc_fini(&d);

    /* custom names, the event time, microseconds; pkey equal to "title": written once */
    struct sl_dsdoc_conf cf2 = {.title = "x",
                                .pkey = "title",
                                .score = "s",
                                .key_field = "r.k",
                                .score_field = "r.v",
                                .metadata_field = "m",
                                .timestamp_format = "%Y-%m-%dT%H:%M:%S.%fZ",
                                .timestamp_event = true,
                                .utc = true};
    assert_int_equal(sl_dsdoc_init(&d, &cf2), 0);
    sl_buf_reset(&out);
    b = parse("{\"r\":{\"k\":5,\"v\":-0.25},\"m\":null,\"z\":1}");
    b->events[0].ts_ns = TS;
    assert_int_equal(sl_dsdoc_write_json(&d, &b->events[0], 0, &out), 0);
    assert_string_equal(out.ptr,
                        "{\"timestamp\":\"2024-01-02T03:04:05.678901Z\",\"title\":5,\"s\":-0.25}");
    sl_batch_unref(b);
    sl_dsdoc_fini(&d);
    sl_buf_fini(&out);

    char t[64];
    assert_int_equal(sl_dsdoc_strftime("%f|%%f|%Y", TS, true, t, sizeof(t)), 14);
    assert_string_equal(t, "678901|%f|2024");
}

int main(void)
{
    sl_core_init();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_names),
        cmocka_unit_test(test_headers),
        cmocka_unit_test(test_framing),
        cmocka_unit_test(test_dsdoc),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
