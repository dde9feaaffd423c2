/*
 * zeek_test.c — the Zeek log reader: TSV headers (separators, empty/unset markers, #path,
 * #fields, #types), value types, sets/vectors, escapes, Zeek JSON with dotted and underscore
 * names, typing by #path and by file name, and the errors bad lines get.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "base/alloc.h"
#include "base/buf.h"
#include "codec/json.h"
#include "codec/zeek.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Feed every line of text (a fresh parser for file name `where`); the events as JSON lines,
 * and the error messages as "E<line>: msg" lines, into out. */
static void run(const char *where, const char *text, struct sl_buf *out, int64_t *first_ts)
{
    struct sl_zeek *z = sl_zeek_new(where);
    struct sl_batch *b = sl_batch_new();
    sl_buf_init(out, 0);
    const char *p = text;
    int line = 1;
    while (*p) {
        const char *nl = strchr(p, '\n');
        size_t n = nl ? (size_t)(nl - p) : strlen(p);
        struct sl_diag d;
        sl_diag_init(&d);
        uint32_t before = b->count;
        int rc = sl_zeek_parse_line(z, b, p, n, &d);
        if (rc) {
            assert_int_equal(b->count, before);
            char msg[700];
            int k = snprintf(msg, sizeof(msg), "E%d: %s\n", line, d.msg);
            sl_buf_append(out, msg, (size_t)k);
        } else if (b->count > before) {
            assert_int_equal(b->count, before + 1);
            sl_json_write_event(out, &b->events[b->count - 1]);
            sl_buf_append(out, "\n", 1);
        }
        p = nl ? nl + 1 : p + n;
        line++;
    }
    if (first_ts)
        *first_ts = b->count ? b->events[0].ts_ns : -1;
    sl_buf_append(out, "", 1); /* NUL */
    sl_batch_unref(b);
    sl_zeek_free(z);
}

static void expect(const char *where, const char *text, const char *want)
{
    struct sl_buf out;
    run(where, text, &out, NULL);
    if (strcmp(out.ptr, want) != 0) {
        fprintf(stderr, "got:\n%s\nwant:\n%s\n", out.ptr, want);
        fail();
    }
    sl_buf_fini(&out);
}

static const char conn_tsv[] =
    "#separator \\x09\n"
    "#set_separator\t,\n"
    "#empty_field\t(empty)\n"
    "#unset_field\t-\n"
    "#path\tconn\n"
    "#open\t2018-03-24-17-15-20\n"
    "#fields\tts\tuid\tid.orig_h\tid.orig_p\tid.resp_h\tid.resp_p\tproto\tservice\tduration"
    "\torig_bytes\tlocal_orig\ttunnel_parents\tmy_vec\tnote\n"
    "#types\ttime\tstring\taddr\tport\taddr\tport\tenum\tstring\tinterval\tcount\tbool"
    "\tset[string]\tvector[count]\tstring\n"
    "1521911721.255387\tC8Tful\t10.164.94.120\t39681\t10.47.3.155\t3389\ttcp\t-\t0.004266"
    "\t97\tT\t(empty)\t1,2,3\ta\\x09b\\x2cc\\\\d\n"
    "1521911722.5\tC9\tfe80::1\t0\t10.0.0.1\t53\tudp\t(empty)\t-\t-\tF\ta\\x2cb,c\t(empty)"
    "\t(empty)\n"
    "#close\t2018-03-24-17-15-30\n";

static void test_tsv_conn(void **state)
{
    (void)state;
    expect("/logs/conn.log", conn_tsv,
           "{\"type\":\"GENERAL\",\"ts\":\"2018-03-24T17:15:21.255387000Z\",\"uid\":\"C8Tful\","
           "\"origIp\":\"10.164.94.120\",\"origPort\":39681,\"respIp\":\"10.47.3.155\","
           "\"respPort\":3389,\"proto\":\"tcp\",\"duration\":0.004266,\"origBytes\":97,"
           "\"localOrig\":true,\"tunnelParents\":[],\"my_vec\":[1,2,3],"
           "\"note\":\"a\\tb,c\\\\d\"}\n"
           "{\"type\":\"GENERAL\",\"ts\":\"2018-03-24T17:15:22.500000000Z\",\"uid\":\"C9\","
           "\"origIp\":\"fe80::1\","
           "\"origPort\":0,\"respIp\":\"10.0.0.1\",\"respPort\":53,\"proto\":\"udp\","
           "\"service\":\"\",\"localOrig\":false,\"tunnelParents\":[\"a,b\",\"c\"],"
           "\"my_vec\":[],\"note\":\"\"}\n");
    struct sl_buf out;
    int64_t ts;
    run("x", conn_tsv, &out, &ts);
    assert_int_equal(ts, 1521911721255387000LL);
    sl_buf_fini(&out);
}

static void test_tsv_other_markers(void **state)
{
    (void)state;
    /* #path wins over the file name; its own separators and markers */
    expect("conn.log",
           "#separator \\x7c\n"
           "#set_separator|;\n"
           "#empty_field|EMPTY\n"
           "#unset_field|NONE\n"
           "#path|http\n"
           "#fields|ts|id.orig_h|method|status_code|tags|client_header_names\n"
           "#types|time|addr|string|count|set[enum]|vector[string]\n"
           "1.5|1.2.3.4|GET|NONE|EMPTY|HOST;ACCEPT\n"
           "2|::1|P\\x7cT|200|A;B|-\n",
           "{\"type\":\"HTTP\",\"ts\":\"1970-01-01T00:00:01.500000000Z\",\"origIp\":\"1.2.3.4\","
           "\"method\":\"GET\","
           "\"tags\":[],\"clientHeaderNames\":[\"HOST\",\"ACCEPT\"]}\n"
           "{\"type\":\"HTTP\",\"ts\":\"1970-01-01T00:00:02.000000000Z\",\"origIp\":\"::1\","
           "\"method\":\"P|T\","
           "\"statusCode\":200,\"tags\":[\"A\",\"B\"],\"clientHeaderNames\":[\"-\"]}\n");
}

static void test_tsv_unknown_path(void **state)
{
    (void)state;
    /* dns is not a network-event type: Zeek's names, no `type` */
    expect("whatever.txt",
           "#path\tdns\n"
           "#fields\tts\tid.orig_h\tquery\tTTLs\n"
           "#types\ttime\taddr\tstring\tvector[interval]\n"
           "10.25\t1.1.1.1\texample.org\t3600.0,60.5\n",
           "{\"ts\":10.25,\"id.orig_h\":\"1.1.1.1\",\"query\":\"example.org\","
           "\"TTLs\":[3600.0,60.5]}\n");
}

static void test_tsv_errors(void **state)
{
    (void)state;
    expect("conn.log",
           "1.0\tx\n"
           "#fields\tts\torig_bytes\tlocal_orig\n"
           "#types\ttime\tcount\n"
           "#types\ttime\tcount\tbool\n"
           "1.0\t5\n"
           "1.0\t-5\tT\n"
           "1.0\t5\tyes\n"
           "abc\t5\tT\n"
           "1.0\t99999999999999999999\tT\n"
           "1.0\t7\tF\n",
           "E1: data line before the #fields header\n"
           "E3: #types has 2 columns, #fields 3\n"
           "E5: 2 columns, #fields has 3\n"
           "E6: field orig_bytes: bad count '-5'\n"
           "E7: field local_orig: bad bool 'yes'\n"
           "E8: field ts: bad time 'abc'\n"
           "E9: field orig_bytes: bad count '99999999999999999999'\n"
           "{\"type\":\"GENERAL\",\"ts\":\"1970-01-01T00:00:01.000000000Z\",\"origBytes\":7,"
           "\"localOrig\":false}\n");
}

static void test_json_dotted_and_underscore(void **state)
{
    (void)state;
    expect("/var/log/zeek/http.json",
           "{\"ts\":1588206738.09551,\"uid\":\"Ch\",\"id.orig_h\":\"10.0.1.4\","
           "\"id.orig_p\":60757,\"id.resp_h\":\"192.168.0.4\",\"id.resp_p\":80,"
           "\"trans_depth\":1,\"method\":\"GET\",\"status_code\":403,\"x_extra\":1,"
           "\"resp_mime_types\":[\"text/html\"]}\n"
           "{\"ts\":1.0,\"id_orig_h\":\"::1\",\"id_resp_p\":8080,\"user_agent\":\"ua\"}\n"
           "{\"ts\":1.0,\"broken\n",
           "{\"type\":\"HTTP\",\"ts\":\"2020-04-30T00:32:18.095510000Z\",\"uid\":\"Ch\",\"origIp\":"
           "\"10.0.1.4\","
           "\"origPort\":60757,\"respIp\":\"192.168.0.4\",\"respPort\":80,\"transDepth\":1,"
           "\"method\":\"GET\",\"statusCode\":403,\"x_extra\":1,"
           "\"respMimeTypes\":[\"text/html\"]}\n"
           "{\"type\":\"HTTP\",\"ts\":\"1970-01-01T00:00:01.000000000Z\",\"origIp\":\"::1\","
           "\"respPort\":8080,"
           "\"userAgent\":\"ua\"}\n"
           "E3: unterminated string\n");
    /* unknown file name: left as it is */
    expect("events.json", "{\"ts\":2.5,\"id.orig_h\":\"1.2.3.4\"}\n",
           "{\"ts\":2.5,\"id.orig_h\":\"1.2.3.4\"}\n");
}

static void test_types_by_name(void **state)
{
    (void)state;
    static const struct {
        const char *name;
        enum sl_netevent_type t;
    } cases[] = {
        {"conn.log", SL_NETEVENT_GENERAL},
        {"/a/b/conn.00:00:00-01:00:00.log.gz", SL_NETEVENT_GENERAL},
        {"host1_conn.json.log", SL_NETEVENT_GENERAL},
        {"ftp.log", SL_NETEVENT_FTP},
        {"http.json", SL_NETEVENT_HTTP},
        {"ldap.log", SL_NETEVENT_LDAP},
        {"x.ldap_search.log", SL_NETEVENT_LDAP},
        {"smb_files.log", SL_NETEVENT_SMB},
        {"smb_mapping.log", SL_NETEVENT_SMB},
        {"smtp.log", SL_NETEVENT_SMTP},
        {"tds_sql_batch.log", SL_NETEVENT_TDS},
        {"tds_rpc.log", SL_NETEVENT_TDS},
        {"dce_rpc.log", SL_NETEVENT_DCE_RPC},
        {"dns.log", SL_NETEVENT_NONE},
        {"connections.log", SL_NETEVENT_NONE},
        {"conn_summary.log", SL_NETEVENT_NONE},
        {"", SL_NETEVENT_NONE},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct sl_zeek *z = sl_zeek_new(cases[i].name);
        if (sl_zeek_type(z) != cases[i].t) {
            fprintf(stderr, "%s: %d\n", cases[i].name, (int)sl_zeek_type(z));
            fail();
        }
        sl_zeek_free(z);
    }
    struct sl_zeek *z = sl_zeek_new(NULL);
    assert_int_equal(sl_zeek_type(z), SL_NETEVENT_NONE);
    sl_zeek_free(z);
}

/* The fast paths for numbers (plain digits, short decimals) give exactly what strtoll and
 * strtod give, on random values of every length, and hand everything else to them. */
static void test_numbers_match_libc(void **state)
{
    (void)state;
    struct sl_zeek *z = sl_zeek_new("x.log");
    struct sl_batch *b = sl_batch_new();
    static const char hdr1[] = "#fields\td\ti";
    static const char hdr2[] = "#types\tdouble\tint";
    struct sl_diag d;
    sl_diag_init(&d);
    assert_int_equal(sl_zeek_parse_line(z, b, hdr1, strlen(hdr1), &d), 0);
    assert_int_equal(sl_zeek_parse_line(z, b, hdr2, strlen(hdr2), &d), 0);
    sl_sym ds = sl_sym_intern_c("d"), is = sl_sym_intern_c("i");
    uint64_t x = 88172645463325252ull;
    for (int k = 0; k < 20000; k++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        char dnum[40], inum[40], line[90];
        int ip = 1 + (int)(x % 19), fp = (int)((x >> 8) % 12);
        uint64_t a = (x >> 16) % 10000000000000000000ull, f = (x >> 3) % 1000000000000ull;
        snprintf(dnum, sizeof(dnum), "%s%.*llu%s%.*llu", (x >> 60) & 1 ? "-" : "", ip,
                 (unsigned long long)(a % 10000000000000000000ull), fp ? "." : "", fp,
                 (unsigned long long)f);
        snprintf(inum, sizeof(inum), "%lld", (long long)(x >> (x % 40)) * ((x >> 61) & 1 ? -1 : 1));
        snprintf(line, sizeof(line), "%s\t%s", dnum, inum);
        assert_int_equal(sl_zeek_parse_line(z, b, line, strlen(line), &d), 0);
        const struct sl_event *ev = &b->events[b->count - 1];
        const struct sl_value *dv = sl_event_get(ev, ds), *iv = sl_event_get(ev, is);
        assert_non_null(dv);
        assert_non_null(iv);
        double want = strtod(dnum, NULL);
        if (memcmp(&dv->u.d, &want, sizeof(want)) != 0) {
            fprintf(stderr, "%s: got %.17g want %.17g\n", dnum, dv->u.d, want);
            fail();
        }
        assert_int_equal(iv->u.i, strtoll(inum, NULL, 10));
        if (b->count == 1000) {
            sl_batch_unref(b);
            b = sl_batch_new();
        }
    }
    sl_batch_unref(b);
    sl_zeek_free(z);
}

int main(void)
{
    sl_core_init();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tsv_conn),
        cmocka_unit_test(test_tsv_other_markers),
        cmocka_unit_test(test_tsv_unknown_path),
        cmocka_unit_test(test_tsv_errors),
        cmocka_unit_test(test_json_dotted_and_underscore),
        cmocka_unit_test(test_types_by_name),
        cmocka_unit_test(test_numbers_match_libc),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
