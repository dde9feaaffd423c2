/*
 * configobj_test.c — ConfigObj's INI dialect: keys, quoting, lists, comments, triple-quoted
 * values, section nesting, dataShark's own shipped .conf files, and the errors with their
 * file:line:col. The expected trees are what Python's ConfigObj 5 gives for the same text.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "base/alloc.h"
#include "base/buf.h"
#include "codec/configobj.h"

#include <stdio.h>
#include <string.h>

/* Parse text and return its dump (caller frees), or "E<line>:<col>: msg". */
static char *run(const char *text)
{
    struct sl_configobj *c = NULL;
    struct sl_diag d;
    sl_diag_init(&d);
    struct sl_buf b;
    sl_buf_init(&b, 0);
    int rc = sl_configobj_parse(text, strlen(text), "t.conf", &c, &d);
    if (rc) {
        assert_null(c);
        assert_string_equal(d.file, "t.conf");
        sl_buf_appendf(&b, "E%u:%u: %s", d.line, d.col, d.msg);
    } else {
        assert_int_equal(sl_configobj_dump(sl_configobj_root(c), &b), 0);
        sl_configobj_free(c);
    }
    return sl_buf_steal(&b, NULL);
}

#define EXPECT(text, want)                                                                         \
    do {                                                                                           \
        char *got_ = run(text);                                                                    \
        assert_string_equal(got_, want);                                                           \
        sl_free(got_);                                                                             \
    } while (0)

static void test_keys_values(void **state)
{
    (void)state;
    EXPECT("name = Word Count\n", "name = \"Word Count\"\n");
    EXPECT("a=b\n  c   =   d e  \n", "a = \"b\"\nc = \"d e\"\n");
    EXPECT("a = x # comment\n# whole line\n   # indented\n\nb = y#z\n", "a = \"x\"\nb = \"y\"\n");
    EXPECT("a =\nb = # only a comment\n", "a = \"\"\nb = \"\"\n");
    EXPECT("\"my key\" = 1\n'k=2' = 3\n", "my key = \"1\"\nk=2 = \"3\"\n");
    EXPECT("a = b = c\n", "a = \"b = c\"\n");
    /* the regex gives one blank of the indentation back to a key that cannot start there */
    EXPECT("[s]\n  \"\"\"debug = false\n", "[s]\n   \"\"\"debug = \"false\"\n");
    EXPECT("   = x\n", "  = \"x\"\n");
    EXPECT("a = 'quoted # not a comment'\n", "a = \"quoted # not a comment\"\n");
    EXPECT("a = \"x\" # c\n", "a = \"x\"\n");
    /* ConfigObj has no escapes: the value runs to the quote after which only a comment fits */
    EXPECT("p = \"(?P<source>.+?) \\[\\d+\\] \\\".+?\\\" (?P<code>\\d+) .+?\"\n",
           "p = \"(?P<source>.+?) \\\\[\\\\d+\\\\] \\\\\\\".+?\\\\\\\" (?P<code>\\\\d+) .+?\"\n");
    EXPECT("sep = ','\nq = '\"'\n", "sep = \",\"\nq = \"\\\"\"\n");
    EXPECT("a = 1\r\nb = 2\rc = 3", "a = \"1\"\nb = \"2\"\nc = \"3\"\n");
    EXPECT("\xEF\xBB\xBF"
           "a = 1\n",
           "a = \"1\"\n");
}

static void test_lists(void **state)
{
    (void)state;
    EXPECT("a = x, y ,z\n", "a = [\"x\", \"y\", \"z\"]\n");
    EXPECT("a = x,\n", "a = [\"x\"]\n");
    EXPECT("a = x, \n", "a = [\"x\"]\n");
    EXPECT("a = ,\n", "a = []\n");
    EXPECT("a = , # none\n", "a = []\n");
    EXPECT("a = \"x, y\", 'z'\n", "a = [\"x, y\", \"z\"]\n");
    EXPECT("a = \"x, y\"\n", "a = \"x, y\"\n");
    EXPECT("a = ^\\d{1,3}$\n", "a = [\"^\\\\d{1\", \"3}$\"]\n");
    EXPECT("a = x, y # c, d\n", "a = [\"x\", \"y\"]\n");
    EXPECT("a = x#y, z\n", "a = \"x\"\n");
    /* ConfigObj's regex quirks, checked against ConfigObj 5 itself: a blank after a comma may
     * start an unquoted item, which then keeps a stray quote; findall cuts the items again */
    EXPECT("a = x, \"y, z, 'w',\n", "a = [\"x\", \"\\\"y\", \"z\", \"w\"]\n");
    EXPECT("a = x, \"y\" z, w\n", "a = [\"x\", \"\\\"y\\\" z\", \"w\"]\n");
    EXPECT("a = 'it''s', b\n", "a = [\"it''s\", \"b\"]\n");
    EXPECT("a = x, , y\n", "E1:8: Parse error in value");
}

static void test_multiline(void **state)
{
    (void)state;
    EXPECT("a = '''one'''\n", "a = \"one\"\n");
    EXPECT("a = \"\"\"x, y # z\"\"\" # c\n", "a = \"x, y # z\"\n");
    EXPECT("a = '''first\n  second\nthird''' # c\nb = 1\n",
           "a = \"first\\n  second\\nthird\"\nb = \"1\"\n");
    EXPECT("a = '''\nx\n'''\n", "a = \"\\nx\\n\"\n");
}

static void test_sections(void **state)
{
    (void)state;
    EXPECT("top = 1\n[a]\nk = v\n  [[b]]\n  x = 1\n    [[[c]]]\n    y = 2\n  [[d]]\n[e]\nz = 3\n",
           "top = \"1\"\n[a]\n  k = \"v\"\n  [[b]]\n    x = \"1\"\n    [[[c]]]\n      y = \"2\"\n"
           "  [[d]]\n[e]\n  z = \"3\"\n");
    /* back from depth 3 to depth 2: the new section goes into the open depth-1 one */
    EXPECT("[a]\n[[b]]\n[[[c]]]\n[[d]]\nk = 1\n",
           "[a]\n  [[b]]\n    [[[c]]]\n  [[d]]\n    k = \"1\"\n");
    EXPECT("[ a ]\n[[ \"b c\" ]]\n[ 'd' ] # c\n", "[a]\n  [[b c]]\n[d]\n");
    EXPECT("[a]b]\n", "[a]b]\n");
    /* the same sub-section name in two parents is fine */
    EXPECT("[x]\n[[include]]\n[y]\n[[include]]\n", "[x]\n  [[include]]\n[y]\n  [[include]]\n");
}

static void test_errors(void **state)
{
    (void)state;
    EXPECT("a = 1\na = 2\n", "E2:1: Duplicate keyword name");
    EXPECT("[s]\n  k = 1\n  k = 2\n", "E3:3: Duplicate keyword name");
    EXPECT("[s]\n[s]\n", "E2:2: Duplicate section name");
    EXPECT("s = 1\n[s]\n", "E2:2: Duplicate section name");
    EXPECT("[s]\n[[t]]\n[[t]]\n", "E3:3: Duplicate section name");
    EXPECT("[a]\n[[[b]]]\n", "E2:4: Section too nested");
    EXPECT("[[a]]\n", "E1:3: Section too nested");
    EXPECT("[a]]\n", "E1:2: Cannot compute the section depth");
    EXPECT("x\n", "E1:1: Invalid line ('x') (matched as neither section nor keyword)");
    EXPECT("  [a\n", "E1:3: Invalid line ('[a') (matched as neither section nor keyword)");
    EXPECT("= v\n", "E1:1: Invalid line ('= v') (matched as neither section nor keyword)");
    EXPECT("a = \"x\" y\n", "E1:5: Parse error in value");
    EXPECT("a = \"x\n", "E1:5: Parse error in value");
    EXPECT("a = x,,y\n", "E1:5: Parse error in value");
    EXPECT("a = ,x\n", "E1:5: Parse error in value");
    EXPECT("a = '''x\ny\n", "E1:5: Parse error in multiline value (no closing quotes)");
    EXPECT("a = '''x''' y\n", "E1:5: Parse error in multiline value");
    EXPECT("a = '''x\ny''' z\n", "E1:5: Parse error in multiline value");
    struct sl_configobj *c = NULL;
    struct sl_diag d;
    sl_diag_init(&d);
    assert_int_equal(sl_configobj_parse("a = 1\nb\0", 9, "n.conf", &c, &d), SL_EPARSE);
    assert_int_equal(d.line, 2);
    assert_int_equal(d.col, 2);
}

/* dataShark's two shipped use cases, as they are in its repository. */
static const char wordcount_conf[] = "type = batch\n"
                                     "file = wordcount.txt\n"
                                     "code = wordcount.py\n"
                                     "name = Word Count\n"
                                     "enabled = true\n"
                                     "\n"
                                     "output = csv\n"
                                     "\n"
                                     "[out_csv]\n"
                                     "        path = /tmp/usecase1.csv\n"
                                     "        title = Word Count\n"
                                     "        debug = false\n";

static const char anomaly_conf[] =
    "type = streaming\n"
    "training = test_access_log\n"
    "code = web-anomaly-detection.py\n"
    "name = Web Anomaly Detection\n"
    "enabled = true\n"
    "input = file\n"
    "output = csv\n"
    "apache_access_logs_pattern = \"(?P<source>.+?) \\[\\d+:\\d+:\\d+:\\d+\\] \\\".+?\\\" "
    "(?P<response_code>\\d+) .+?\"\n"
    "\n"
    "[in_file]\n"
    "        folder_path = /opt/logs\n"
    "\n"
    "[out_csv]\n"
    "        path = /tmp/UseCase-web_anomaly.csv\n"
    "        separator = ','\n"
    "        quote_char = '\"'\n"
    "        title = Use Case\n"
    "        debug = false\n"
    "\n";

static void test_datashark_files(void **state)
{
    (void)state;
    struct sl_configobj *c = NULL;
    struct sl_diag d;
    sl_diag_init(&d);
    assert_int_equal(
        sl_configobj_parse(wordcount_conf, strlen(wordcount_conf), "wordcount.conf", &c, &d), 0);
    const struct sl_cobj *root = sl_configobj_root(c);
    assert_string_equal(sl_cobj_get_str(root, "name"), "Word Count");
    assert_string_equal(sl_cobj_get_str(root, "type"), "batch");
    const struct sl_cobj *out = sl_cobj_get(root, "out_csv");
    assert_non_null(out);
    assert_int_equal(out->type, SL_COBJ_SECTION);
    assert_int_equal(out->line, 9);
    assert_int_equal(out->col, 2);
    const struct sl_cobj *path = sl_cobj_get(out, "path");
    assert_string_equal(path->value, "/tmp/usecase1.csv");
    assert_int_equal(path->line, 10);
    assert_int_equal(path->col, 9);
    assert_int_equal(path->vcol, 16);
    assert_null(sl_cobj_get(root, "missing"));
    assert_null(sl_cobj_get_str(root, "out_csv"));
    assert_string_equal(sl_configobj_file(c), "wordcount.conf");
    sl_configobj_free(c);

    assert_int_equal(sl_configobj_parse(anomaly_conf, strlen(anomaly_conf), "wad.conf", &c, &d), 0);
    root = sl_configobj_root(c);
    assert_string_equal(sl_cobj_get_str(root, "apache_access_logs_pattern"),
                        "(?P<source>.+?) \\[\\d+:\\d+:\\d+:\\d+\\] \\\".+?\\\" "
                        "(?P<response_code>\\d+) .+?");
    out = sl_cobj_get(root, "out_csv");
    assert_string_equal(sl_cobj_get_str(out, "separator"), ",");
    assert_string_equal(sl_cobj_get_str(out, "quote_char"), "\"");
    assert_string_equal(sl_cobj_get_str(sl_cobj_get(root, "in_file"), "folder_path"), "/opt/logs");
    sl_configobj_free(c);
}

/* Parse and interpolate; the dump or "E<line>:<col>: msg". */
static char *run_interp(const char *text)
{
    struct sl_configobj *c = NULL;
    struct sl_diag d;
    sl_diag_init(&d);
    struct sl_buf b;
    sl_buf_init(&b, 0);
    int rc = sl_configobj_parse(text, strlen(text), "t.conf", &c, &d);
    assert_int_equal(rc, 0);
    if (sl_configobj_interpolate(c, &d))
        sl_buf_appendf(&b, "E%u:%u: %s", d.line, d.col, d.msg);
    else
        assert_int_equal(sl_configobj_dump(sl_configobj_root(c), &b), 0);
    sl_configobj_free(c);
    return sl_buf_steal(&b, NULL);
}

#define EXPECT_I(text, want)                                                                       \
    do {                                                                                           \
        char *got_ = run_interp(text);                                                             \
        assert_string_equal(got_, want);                                                           \
        sl_free(got_);                                                                             \
    } while (0)

/* ConfigObj's default %(name)s interpolation; expected results from ConfigObj 5. */
static void test_interpolation(void **state)
{
    (void)state;
    EXPECT_I("dir = /opt\nlog = %(dir)s/logs\n", "dir = \"/opt\"\nlog = \"/opt/logs\"\n");
    /* from the section, its DEFAULT, then the parents; the found value in turn */
    EXPECT_I("a = top\n[s]\n  b = %(a)s-%(c)s\n  [[DEFAULT]]\n    c = dflt\n",
             "a = \"top\"\n[s]\n  b = \"top-dflt\"\n  [[DEFAULT]]\n    c = \"dflt\"\n");
    EXPECT_I("x = 1\ny = %(x)s%(x)s\nz = [%(y)s]\n", "x = \"1\"\ny = \"11\"\nz = \"[11]\"\n");
    EXPECT_I("l = %(x)s, b\nx = q\n", "l = [\"q\", \"b\"]\nx = \"q\"\n");
    /* not a reference: left as it is */
    EXPECT_I("r = 100%\ns = %(x\nt = %(x)d\n", "r = \"100%\"\ns = \"%(x\"\nt = \"%(x)d\"\n");
    EXPECT_I("a = %(nope)s\n", "E1:5: missing option \"nope\" in interpolation");
    EXPECT_I("a = %(b)s\nb = %(a)s\n", "E1:5: interpolation loop detected in value \"a\"");
    EXPECT_I("a = %(b)s\nb = x, y\n", "E1:5: \"b\" is a list: it cannot be interpolated");
}

static void test_alloc_failures(void **state)
{
    (void)state;
    /* every allocation failing in turn: an error, never a crash or a leak */
    for (uint64_t n = 1; n < 200; n++) {
        struct sl_configobj *c = NULL;
        struct sl_diag d;
        sl_diag_init(&d);
        sl_alloc_fail_nth(n);
        int rc = sl_configobj_parse(anomaly_conf, strlen(anomaly_conf), "wad.conf", &c, &d);
        sl_alloc_fail_nth(0);
        if (rc == 0) {
            sl_configobj_free(c);
            break;
        }
        assert_int_equal(rc, SL_ENOMEM);
        assert_null(c);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_keys_values),   cmocka_unit_test(test_lists),
        cmocka_unit_test(test_multiline),     cmocka_unit_test(test_sections),
        cmocka_unit_test(test_errors),        cmocka_unit_test(test_datashark_files),
        cmocka_unit_test(test_interpolation), cmocka_unit_test(test_alloc_failures),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
