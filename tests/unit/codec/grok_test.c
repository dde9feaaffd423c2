/*
 * grok_test.c — the grok library and expander: every built-in pattern compiles with PCRE2
 * and matches (or refuses) typical text; %{NAME:field:type} captures, [a][b] field names,
 * user definitions shadowing built-ins, and the errors (unknown name, unterminated %{,
 * recursion) with their columns.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#define PCRE2_CODE_UNIT_WIDTH 8
#include "base/alloc.h"
#include "codec/grok.h"

#include <pcre2.h>
#include <stdio.h>
#include <string.h>

static pcre2_code *compile_or_fail(const char *re)
{
    int err;
    PCRE2_SIZE off;
    pcre2_code *c = pcre2_compile((PCRE2_SPTR)re, PCRE2_ZERO_TERMINATED, PCRE2_UTF | PCRE2_DUPNAMES,
                                  &err, &off, NULL);
    if (!c) {
        PCRE2_UCHAR m[200];
        pcre2_get_error_message(err, m, sizeof(m));
        fail_msg("regex does not compile: %s at %zu: %s", (char *)m, (size_t)off, re);
    }
    return c;
}

/* Does %{name} match the whole of text? */
static bool whole(struct sl_grok_lib *lib, const char *name, const char *text)
{
    char pat[200];
    snprintf(pat, sizeof(pat), "^%%{%s}$", name);
    struct sl_grok g;
    struct sl_diag d;
    sl_diag_init(&d);
    if (sl_grok_compile(lib, pat, strlen(pat), &g, &d))
        fail_msg("%s: %s", name, d.msg);
    pcre2_code *c = compile_or_fail(g.regex);
    pcre2_match_data *md = pcre2_match_data_create_from_pattern(c, NULL);
    int rc = pcre2_match(c, (PCRE2_SPTR)text, strlen(text), 0, 0, md, NULL);
    pcre2_match_data_free(md);
    pcre2_code_free(c);
    sl_grok_fini(&g);
    return rc >= 0;
}

static void test_builtins_compile(void **state)
{
    (void)state;
    struct sl_grok_lib *lib = sl_grok_lib_new();
    const char *name, *def;
    size_t n = 0;
    for (size_t i = 0; sl_grok_builtin(i, &name, &def); i++, n++) {
        char pat[200];
        snprintf(pat, sizeof(pat), "%%{%s:x}", name);
        struct sl_grok g;
        struct sl_diag d;
        sl_diag_init(&d);
        if (sl_grok_compile(lib, pat, strlen(pat), &g, &d))
            fail_msg("%s: %s", name, d.msg);
        pcre2_code_free(compile_or_fail(g.regex));
        assert_true(g.ncaps >= 1);
        assert_string_equal(g.caps[0].field, "x");
        sl_grok_fini(&g);
    }
    assert_true(n >= 60);
    sl_grok_lib_free(lib);
}

static void test_builtins_match(void **state)
{
    (void)state;
    struct sl_grok_lib *lib = sl_grok_lib_new();
    static const struct {
        const char *name, *text;
        bool ok;
    } cases[] = {
        {"INT", "-42", true},
        {"INT", "4.2", false},
        {"NUMBER", "3.25", true},
        {"NUMBER", "-7", true},
        {"NUMBER", "x1", false},
        {"WORD", "hello_1", true},
        {"WORD", "two words", false},
        {"NOTSPACE", "a/b?c=d", true},
        {"DATA", "", true},
        {"GREEDYDATA", "any thing", true},
        {"QS", "\"a \\\"quoted\\\" one\"", true},
        {"QS", "'single'", true},
        {"QS", "\"open", false},
        {"IPV4", "192.168.1.254", true},
        {"IPV4", "256.1.1.1", false},
        {"IPV4", "1.2.3", false},
        {"IPV6", "2001:db8::1", true},
        {"IPV6", "::1", true},
        {"IPV6", "::", true},
        {"IPV6", "fe80::1%eth0", true},
        {"IPV6", "::ffff:10.0.0.1", true},
        {"IPV6", "1:2:3:4:5:6:7:8", true},
        {"IPV6", "1:2:3:4:5:6:7:8:9", false},
        {"IPV6", "12345::", false},
        {"IP", "10.0.0.1", true},
        {"IP", "2001:db8:0:0:0:0:2:1", true},
        {"HOSTNAME", "www.example.com", true},
        {"HOSTNAME", "-bad", false},
        {"USER", "j.doe-1", true},
        {"HTTPDATE", "10/Oct/2000:13:55:36 -0700", true},
        {"HTTPDATE", "10/Oct/2000 13:55:36", false},
        {"URIPATHPARAM", "/a/b.php?x=1&y=%20", true},
        {"URIPATHPARAM", "no-slash", false},
        {"LOGLEVEL", "WARNING", true},
        {"LOGLEVEL", "info", true},
        {"LOGLEVEL", "chatty", false},
        {"TIMESTAMP_ISO8601", "2024-01-02T03:04:05.123Z", true},
        {"SYSLOGTIMESTAMP", "Oct  1 13:55:36", true},
        {"SYSLOGBASE", "Oct 11 22:14:15 mymachine su[123]:", true},
        {"SYSLOGBASE", "Oct 11 22:14:15 mymachine su", false},
        {"MAC", "00:1a:2b:3c:4d:5e", true},
        {"UUID", "123e4567-e89b-12d3-a456-426614174000", true},
        {"EMAILADDRESS", "a.b@example.org", true},
        {"COMMONAPACHELOG",
         "127.0.0.1 - frank [10/Oct/2000:13:55:36 -0700] \"GET /apache_pb.gif HTTP/1.0\" 200 2326",
         true},
        {"COMBINEDAPACHELOG",
         "127.0.0.1 - frank [10/Oct/2000:13:55:36 -0700] \"GET /apache_pb.gif HTTP/1.0\" 200 2326 "
         "\"http://www.example.com/start.html\" \"Mozilla/4.08 [en] (Win98; I ;Nav)\"",
         true},
        {"COMBINEDAPACHELOG", "::1 - - [10/Oct/2000:13:55:36 +0000] \"-\" 408 - \"-\" \"-\"", true},
        {"COMBINEDAPACHELOG", "garbage line", false},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        if (whole(lib, cases[i].name, cases[i].text) != cases[i].ok)
            fail_msg("%%{%s} on '%s': want %s", cases[i].name, cases[i].text,
                     cases[i].ok ? "a match" : "no match");
    sl_grok_lib_free(lib);
}

static void test_captures(void **state)
{
    (void)state;
    struct sl_grok_lib *lib = sl_grok_lib_new();
    struct sl_diag d;
    sl_diag_init(&d);
    assert_int_equal(sl_grok_lib_add(lib, "MYID", "[a-z]{3}-%{INT:num:int}", &d), 0);
    /* user definitions shadow built-ins */
    assert_int_equal(sl_grok_lib_add(lib, "WORD", "[xyz]+", &d), 0);
    const char *pat = "%{MYID:[req][id]} %{WORD:w} %{HTTPDATE:ts:timestamp:%d/%b/%Y:%T %z} \\%{x}";
    struct sl_grok g;
    assert_int_equal(sl_grok_compile(lib, pat, strlen(pat), &g, &d), 0);
    assert_int_equal(g.ncaps, 4);
    assert_string_equal(g.caps[0].field, "req.id");
    assert_null(g.caps[0].type);
    assert_string_equal(g.caps[1].field, "num");
    assert_string_equal(g.caps[1].type, "int");
    assert_string_equal(g.caps[2].field, "w");
    assert_string_equal(g.caps[3].field, "ts");
    assert_string_equal(g.caps[3].type, "timestamp:%d/%b/%Y:%T %z");
    pcre2_code *c = compile_or_fail(g.regex);
    pcre2_match_data *md = pcre2_match_data_create_from_pattern(c, NULL);
    const char *text = "abc-12 xyz 10/Oct/2000:13:55:36 -0700 %{x}";
    assert_true(pcre2_match(c, (PCRE2_SPTR)text, strlen(text), 0, 0, md, NULL) >= 0);
    PCRE2_UCHAR *val;
    PCRE2_SIZE vlen;
    assert_int_equal(pcre2_substring_get_byname(md, (PCRE2_SPTR) "_g1", &val, &vlen), 0);
    assert_memory_equal(val, "12", 2);
    pcre2_substring_free(val);
    const char *bad = "abc-12 word 10/Oct/2000:13:55:36 -0700 %{x}";
    assert_true(pcre2_match(c, (PCRE2_SPTR)bad, strlen(bad), 0, 0, md, NULL) < 0);
    pcre2_match_data_free(md);
    pcre2_code_free(c);
    sl_grok_fini(&g);
    sl_grok_lib_free(lib);
}

static void test_errors(void **state)
{
    (void)state;
    struct sl_grok_lib *lib = sl_grok_lib_new();
    struct sl_diag d;
    struct sl_grok g;
    static const struct {
        const char *pat;
        int rc;
        uint32_t col;
        const char *msg;
    } cases[] = {
        {"abc %{NOPE:x}", SL_EPARSE, 5, "unknown grok pattern %{NOPE}"},
        {"%{INT:x", SL_EPARSE, 1, "unterminated"},
        {"a %{IN-T}", SL_EPARSE, 3, "bad grok reference"},
        {"%{INT:}", SL_EPARSE, 1, "empty field name"},
        {"%{INT:x:}", SL_EPARSE, 1, "empty type"},
        {"%{LOOP}", SL_E2BIG, 0, "nests more than"},
    };
    sl_diag_init(&d);
    assert_int_equal(sl_grok_lib_add(lib, "LOOP", "a%{LOOP2}", &d), 0);
    assert_int_equal(sl_grok_lib_add(lib, "LOOP2", "b%{LOOP}", &d), 0);
    assert_int_equal(sl_grok_lib_add(lib, "bad name", "x", &d), SL_EINVAL);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        sl_diag_init(&d);
        int rc = sl_grok_compile(lib, cases[i].pat, strlen(cases[i].pat), &g, &d);
        sl_grok_fini(&g);
        if (rc != cases[i].rc || !strstr(d.msg, cases[i].msg) ||
            (cases[i].col && d.col != cases[i].col))
            fail_msg("'%s': rc %d col %u msg '%s'", cases[i].pat, rc, d.col, d.msg);
    }
    sl_grok_lib_free(lib);
}

/* Every allocation of a compile may fail: SL_ENOMEM, nothing leaked (ASan), and a compile
 * that does not fail gives the same regex. */
static void test_alloc_failures(void **state)
{
    (void)state;
    struct sl_grok_lib *lib = sl_grok_lib_new();
    const char *pat = "%{COMBINEDAPACHELOG} %{NUMBER:[a][b]:int} %{SYSLOGBASE}";
    struct sl_grok ref, g;
    struct sl_diag d;
    sl_diag_init(&d);
    assert_int_equal(sl_grok_compile(lib, pat, strlen(pat), &ref, &d), 0);
    int failures = 0;
    for (uint64_t nth = 1; nth < 400; nth++) {
        sl_diag_init(&d);
        sl_alloc_fail_nth(nth);
        int rc = sl_grok_compile(lib, pat, strlen(pat), &g, &d);
        sl_alloc_fail_nth(0);
        if (rc) {
            assert_int_equal(rc, SL_ENOMEM);
            failures++;
        } else {
            assert_string_equal(g.regex, ref.regex);
            assert_int_equal(g.ncaps, ref.ncaps);
        }
        sl_grok_fini(&g);
    }
    assert_true(failures > 0);
    sl_grok_fini(&ref);
    sl_grok_lib_free(lib);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_builtins_compile), cmocka_unit_test(test_builtins_match),
        cmocka_unit_test(test_captures),         cmocka_unit_test(test_errors),
        cmocka_unit_test(test_alloc_failures),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
