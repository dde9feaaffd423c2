/*
 * out_csv_test.c — the `csv` sink: RFC 4180 quoting checked byte for byte (separator, quote,
 * CR, LF, leading/trailing space, doubled quotes, CRLF rows, empty and missing cells, numbers,
 * maps and lists as JSON), custom separator and quote character, the header written once per
 * file, a new file after logrotate moved the old one, config errors at the option's
 * line:col, and a round trip through a real CSV reader (Python's csv module, run as
 * /usr/bin/python3) that must give back exactly the cells written.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "../testkit.h"

#include "base/alloc.h"
#include "base/arena.h"
#include "codec/json.h"
#include "core/config.h"
#include "core/pipeline.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

extern const struct sl_component_ops sl_out_csv_ops;

static const struct sl_component_ops *const test_types[] = {&idle_ops, &sl_out_csv_ops, NULL};

struct fx {
    struct sl_config *cfg;
    struct sl_pipeline *p;
    struct sl_component *out;
};

/* src -> out (csv sink with `opts`, 4-space indented lines; the first is line 7). */
static int fx_try(struct fx *fx, const char *opts, struct sl_diag *d)
{
    char yaml[4096];
    snprintf(yaml, sizeof(yaml),
             "sources:\n"
             "  src: {type: idle}\n"
             "sinks:\n"
             "  out:\n"
             "    type: csv\n"
             "    inputs: [src]\n"
             "%s",
             opts);
    memset(fx, 0, sizeof(*fx));
    sl_diag_init(d);
    int rc = sl_config_load_string(yaml, strlen(yaml), "c.yaml", &fx->cfg, d);
    if (rc)
        return rc;
    struct sl_pipeline_opts o = {.workers = 1};
    fx->p = sl_pipeline_new(fx->cfg, &o, d);
    if (!fx->p) {
        sl_config_free(fx->cfg);
        return SL_ECONFIG;
    }
    fx->out = sl_pipeline_find(fx->p, "out");
    assert_non_null(fx->out);
    return 0;
}

static void fx_new(struct fx *fx, const char *opts)
{
    struct sl_diag d;
    if (fx_try(fx, opts, &d)) {
        char msg[1024];
        sl_diag_format(&d, msg, sizeof(msg));
        fail_msg("pipeline: %s", msg);
    }
}

static void fx_free(struct fx *fx)
{
    sl_pipeline_free(fx->p);
    sl_config_free(fx->cfg);
}

/* Events from JSON objects, one per line. */
static struct sl_batch *batch_of(const char *lines)
{
    struct sl_batch *b = sl_batch_new();
    size_t n = strlen(lines);
    char *copy = sl_batch_copy(b, lines, n);
    for (char *p = copy, *end = copy + n; p < end;) {
        char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t len = nl ? (size_t)(nl - p) : (size_t)(end - p);
        struct sl_diag d;
        sl_diag_init(&d);
        if (sl_json_parse_event(b, p, len, NULL, &d))
            fail_msg("bad test event at %lld: %s", (long long)d.offset, d.msg);
        p += len + 1;
    }
    return b;
}

static int write_lines(struct fx *fx, const char *lines)
{
    struct sl_batch *b = batch_of(lines);
    int rc = fx->out->ops->write(fx->out, b);
    sl_batch_unref(b);
    return rc;
}

static char *slurp(const char *path, size_t *len_out)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    size_t cap = 1 << 16, len = 0;
    char *buf = sl_xmalloc(cap);
    for (;;) {
        size_t n = fread(buf + len, 1, cap - len - 1, f);
        len += n;
        if (len + 1 < cap)
            break;
        cap *= 2;
        buf = sl_xrealloc(buf, cap);
    }
    fclose(f);
    buf[len] = 0;
    if (len_out)
        *len_out = len;
    return buf;
}

/* Show CR and LF so a failure is readable. */
static void visible(const char *p, char *out, size_t out_len)
{
    size_t n = 0;
    for (; *p && n + 4 < out_len; p++) {
        if (*p == '\r') {
            out[n++] = '\\';
            out[n++] = 'r';
        } else if (*p == '\n') {
            out[n++] = '\\';
            out[n++] = 'n';
            out[n++] = '\n';
        } else {
            out[n++] = *p;
        }
    }
    out[n] = 0;
}

static void expect_file(const char *path, const char *want)
{
    char *got = slurp(path, NULL);
    if (!got)
        fail_msg("%s does not exist", path);
    if (strcmp(got, want) != 0) {
        static char g[8192], w[8192];
        visible(got, g, sizeof(g));
        visible(want, w, sizeof(w));
        fail_msg("%s holds:\n%s\nwant:\n%s", path, g, w);
    }
    sl_free(got);
}

static void test_quoting_bytes(void **state)
{
    char opts[512], path[256];
    snprintf(path, sizeof(path), "%s/q.csv", dir);
    snprintf(opts, sizeof(opts),
             "    path: \"%s\"\n    columns: [s, n, m.k, missing, b, d, l, m]\n", path);
    struct fx fx;
    fx_new(&fx, opts);
    assert_int_equal(write_lines(&fx, "{\"s\":\"abc\",\"n\":42,\"m\":{\"k\":\"v\"},\"b\":true,"
                                      "\"d\":1.5,\"l\":[1,\"x\"]}\n"
                                      "{\"s\":\"a,b\",\"n\":-7,\"m\":{\"k\":null},\"b\":false,"
                                      "\"d\":null,\"l\":[]}\n"
                                      "{\"s\":\"say \\\"hi\\\"\"}\n"
                                      "{\"s\":\"line\\nbreak\"}\n"
                                      "{\"s\":\"cr\\rx\"}\n"
                                      "{\"s\":\" lead\"}\n"
                                      "{\"s\":\"trail \"}\n"
                                      "{\"s\":\"\"}\n"
                                      "{\"s\":\"tab\\tin\"}\n"
                                      "{\"s\":\"\\ttab\"}\n"
                                      "{\"s\":\"\\u00e9;x\"}\n"
                                      "{\"s\":\"\\\"\"}\n"),
                     0);
    fx_free(&fx);
    expect_file(path, "s,n,m.k,missing,b,d,l,m\r\n"
                      "abc,42,v,,true,1.5,\"[1,\"\"x\"\"]\",\"{\"\"k\"\":\"\"v\"\"}\"\r\n"
                      "\"a,b\",-7,,,false,,[],\"{\"\"k\"\":null}\"\r\n"
                      "\"say \"\"hi\"\"\",,,,,,,\r\n"
                      "\"line\nbreak\",,,,,,,\r\n"
                      "\"cr\rx\",,,,,,,\r\n"
                      "\" lead\",,,,,,,\r\n"
                      "\"trail \",,,,,,,\r\n"
                      ",,,,,,,\r\n"
                      "tab\tin,,,,,,,\r\n"
                      "\"\ttab\",,,,,,,\r\n"
                      "\xc3\xa9;x,,,,,,,\r\n"
                      "\"\"\"\",,,,,,,\r\n");
}

static void test_separator_and_quote(void **state)
{
    char opts[512], path[256];
    snprintf(path, sizeof(path), "%s/sq.csv", dir);
    snprintf(opts, sizeof(opts),
             "    path: \"%s\"\n    columns: [a, b]\n    separator: \";\"\n"
             "    quote_char: \"'\"\n    header: false\n",
             path);
    struct fx fx;
    fx_new(&fx, opts);
    assert_int_equal(write_lines(&fx, "{\"a\":\"x;y\",\"b\":\"it's\"}\n"
                                      "{\"a\":\"has,comma\",\"b\":\"\\\"dq\\\"\"}\n"),
                     0);
    fx_free(&fx);
    expect_file(path, "'x;y';'it''s'\r\nhas,comma;\"dq\"\r\n");
}

static void test_single_column_empty(void **state)
{
    char opts[512], path[256];
    snprintf(path, sizeof(path), "%s/one.csv", dir);
    snprintf(opts, sizeof(opts), "    path: \"%s\"\n    columns: message\n", path);
    struct fx fx;
    fx_new(&fx, opts);
    assert_int_equal(write_lines(&fx, "{\"message\":\"\"}\n{\"message\":\"x\"}\n{}\n"), 0);
    fx_free(&fx);
    /* a row of one empty cell is "" (a blank line would be read as no row at all) */
    expect_file(path, "message\r\n\"\"\r\nx\r\n\"\"\r\n");
}

static void test_header_once(void **state)
{
    char opts[512], path[256], sub[256];
    snprintf(path, sizeof(path), "%s/new/dir/h.csv", dir);
    snprintf(opts, sizeof(opts), "    path: \"%s\"\n    columns: [a, b]\n", path);
    for (int run = 0; run < 2; run++) {
        struct fx fx;
        fx_new(&fx, opts);
        assert_int_equal(write_lines(&fx, run ? "{\"a\":2,\"b\":\"y\"}\n" : "{\"a\":1}\n"), 0);
        assert_int_equal(write_lines(&fx, "{\"b\":\"z\"}\n"), 0);
        fx_free(&fx);
    }
    /* missing directories were created; a restart appends without a second header */
    expect_file(path, "a,b\r\n1,\r\n,z\r\n2,y\r\n,z\r\n");

    /* a file that already has content gets no header */
    snprintf(sub, sizeof(sub), "%s/existing.csv", dir);
    FILE *f = fopen(sub, "w");
    fputs("old,row\r\n", f);
    fclose(f);
    snprintf(opts, sizeof(opts), "    path: \"%s\"\n    columns: [a, b]\n", sub);
    struct fx fx;
    fx_new(&fx, opts);
    assert_int_equal(write_lines(&fx, "{\"a\":1,\"b\":2}\n"), 0);
    assert_int_equal(atomic_load(&fx.out->m.bytes_out), 5);
    fx_free(&fx);
    expect_file(sub, "old,row\r\n1,2\r\n");
}

static void test_logrotate(void **state)
{
    char opts[512], path[256], moved[256];
    snprintf(path, sizeof(path), "%s/r.csv", dir);
    snprintf(moved, sizeof(moved), "%s/r.csv.1", dir);
    snprintf(opts, sizeof(opts), "    path: \"%s\"\n    columns: [a]\n", path);
    struct fx fx;
    fx_new(&fx, opts);
    assert_int_equal(write_lines(&fx, "{\"a\":1}\n"), 0);
    assert_int_equal(rename(path, moved), 0);
    assert_int_equal(fx.out->ops->flush(fx.out), 0);
    assert_int_equal(write_lines(&fx, "{\"a\":2}\n"), 0);
    fx_free(&fx);
    expect_file(moved, "a\r\n1\r\n");
    expect_file(path, "a\r\n2\r\n");
}

static void test_config_errors(void **state)
{
    char opts[512];
    struct fx fx;
    struct sl_diag d;
    char msg[1024];
    /* line 9, col 16: the separator's value */
    snprintf(opts, sizeof(opts),
             "    path: \"%s/e.csv\"\n    columns: [a]\n    separator: \",,\"\n", dir);
    assert_int_equal(fx_try(&fx, opts, &d), SL_ECONFIG);
    sl_diag_format(&d, msg, sizeof(msg));
    print_message("%s\n", msg);
    assert_string_equal(d.file, "c.yaml");
    assert_int_equal(d.line, 9);
    assert_int_equal(d.col, 16);
    assert_non_null(strstr(d.msg, "separator"));
    assert_true(d.hint[0] != 0);

    snprintf(opts, sizeof(opts),
             "    path: \"%s/e.csv\"\n    columns: [a]\n    separator: \"|\"\n"
             "    quote_char: \"|\"\n",
             dir);
    assert_int_equal(fx_try(&fx, opts, &d), SL_ECONFIG);
    assert_int_equal(d.line, 10);
    assert_non_null(strstr(d.msg, "quote_char"));

    snprintf(opts, sizeof(opts), "    path: \"%s/e.csv\"\n    columns: [a]\n    quote_char: \"\"\n",
             dir);
    assert_int_equal(fx_try(&fx, opts, &d), SL_ECONFIG);
    assert_non_null(strstr(d.msg, "quote_char"));

    snprintf(opts, sizeof(opts), "    path: \"%s/e.csv\"\n", dir);
    assert_int_equal(fx_try(&fx, opts, &d), SL_ECONFIG);
    assert_non_null(strstr(d.msg, "columns"));

    snprintf(opts, sizeof(opts), "    path: \"%s\"\n    columns: [a]\n", dir); /* a directory */
    assert_int_equal(fx_try(&fx, opts, &d), SL_ECONFIG);
    assert_int_equal(d.line, 7);
    assert_int_equal(d.col, 11);
    assert_non_null(strstr(d.msg, "cannot write"));
    /* init created nothing */
    char e[256];
    snprintf(e, sizeof(e), "%s/e.csv", dir);
    assert_int_equal(access(e, F_OK), -1);
}

/* ---- round trip through Python's csv module */

static const char *const tricky[] = {
    "",
    " ",
    "plain",
    "a,b",
    "a\tb",
    "\"",
    "\"\"",
    "'",
    "x'y",
    "line1\nline2",
    "cr\rlf\r\n",
    "\r\n",
    "\xc3\xa9 \xc3\xbc \xe6\x97\xa5\xe6\x9c\xac",
    ",",
    " lead",
    "trail ",
    "a\"b,c\nd'e\t",
    "\\",
    "null",
    "=1+2",
    ";;",
    "'quoted'",
    "\"dq\"",
    "  ",
    "\t",
    "lone\rcr",
};
#define NTRICKY (sizeof(tricky) / sizeof(tricky[0]))

static void roundtrip(const char *sep_yaml, const char *sep_py, const char *quote_yaml,
                      const char *quote_py)
{
    char opts[512], path[256];
    snprintf(path, sizeof(path), "%s/rt.csv", dir);
    unlink(path);
    snprintf(opts, sizeof(opts),
             "    path: \"%s\"\n    columns: [a, n, c, missing]\n    separator: \"%s\"\n"
             "    quote_char: \"%s\"\n",
             path, sep_yaml, quote_yaml);
    struct fx fx;
    fx_new(&fx, opts);
    /* event i: a = tricky[i], n = i, c = tricky[N-1-i]; built with the JSON writer */
    struct sl_buf lines;
    sl_buf_init(&lines, 1 << 20);
    for (size_t i = 0; i < NTRICKY; i++) {
        sl_buf_puts(&lines, "{\"a\":");
        sl_json_write_string(&lines, tricky[i], strlen(tricky[i]));
        sl_buf_appendf(&lines, ",\"n\":%zu,\"c\":", i);
        sl_json_write_string(&lines, tricky[NTRICKY - 1 - i], strlen(tricky[NTRICKY - 1 - i]));
        sl_buf_puts(&lines, "}\n");
    }
    assert_int_equal(write_lines(&fx, lines.ptr), 0);
    sl_buf_fini(&lines);
    fx_free(&fx);

    char cmd[1024];
    snprintf(cmd, sizeof(cmd),
             "/usr/bin/python3 -c 'import csv, json, sys\n"
             "rows = list(csv.reader(open(sys.argv[1], newline=\"\", encoding=\"utf-8\"), "
             "delimiter=sys.argv[2], quotechar=sys.argv[3], strict=True))\n"
             "print(json.dumps(rows))' '%s' '%s' \"%s\"",
             path, sep_py, quote_py);
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    struct sl_buf out;
    sl_buf_init(&out, 1 << 20);
    char chunk[4096];
    size_t n;
    while ((n = fread(chunk, 1, sizeof(chunk), p)) > 0)
        sl_buf_append(&out, chunk, n);
    int status = pclose(p);
    if (status != 0)
        fail_msg("python csv reader failed (status %d) on %s", status, path);

    struct sl_arena a;
    sl_arena_init(&a, 1 << 16, 1 << 24);
    struct sl_value rows;
    struct sl_diag d;
    sl_diag_init(&d);
    assert_int_equal(sl_json_parse_value(&a, out.ptr, out.len, NULL, &rows, &d), 0);
    assert_int_equal(rows.type, SL_V_LIST);
    assert_int_equal(rows.len, NTRICKY + 1);
    const char *head[] = {"a", "n", "c", "missing"};
    for (uint32_t r = 0; r < rows.len; r++) {
        const struct sl_value *row = &rows.u.list[r];
        assert_int_equal(row->type, SL_V_LIST);
        if (row->len != 4)
            fail_msg("sep %s: row %u has %u cells", sep_py, r, row->len);
        char num[32];
        snprintf(num, sizeof(num), "%u", r - 1);
        const char *want[4] = {head[0], head[1], head[2], head[3]};
        if (r) {
            want[0] = tricky[r - 1];
            want[1] = num;
            want[2] = tricky[NTRICKY - r];
            want[3] = "";
        }
        for (int k = 0; k < 4; k++) {
            struct sl_str got = sl_value_as_str(&row->u.list[k]);
            if (!sl_str_eq_c(got, want[k]))
                fail_msg("sep %s: row %u cell %d: python read \"%.*s\", want \"%s\"", sep_py, r, k,
                         SL_STR_ARG(got), want[k]);
        }
    }
    sl_arena_fini(&a);
    sl_buf_fini(&out);
}

static void test_python_roundtrip(void **state)
{
    roundtrip(",", ",", "\\\"", "\\\"");
    roundtrip("\\t", "\t", "'", "'"); /* tab separator, single-quote quote_char */
    roundtrip(";", ";", "|", "|");
}

static void test_python_single_column(void **state)
{
    char opts[512], path[256];
    snprintf(path, sizeof(path), "%s/one.csv", dir);
    snprintf(opts, sizeof(opts), "    path: \"%s\"\n    columns: [m]\n", path);
    struct fx fx;
    fx_new(&fx, opts);
    assert_int_equal(write_lines(&fx, "{\"m\":\"\"}\n{\"m\":\"x\"}\n{}\n{\"m\":\" \"}\n"), 0);
    fx_free(&fx);
    char cmd[512];
    snprintf(cmd, sizeof(cmd),
             "/usr/bin/python3 -c 'import csv, json, sys\n"
             "print(json.dumps(list(csv.reader(open(sys.argv[1], newline=\"\")))))' '%s'",
             path);
    FILE *p = popen(cmd, "r");
    char got[256] = {0};
    size_t n = fread(got, 1, sizeof(got) - 1, p);
    assert_int_equal(pclose(p), 0);
    got[n] = 0;
    assert_string_equal(got, "[[\"m\"], [\"\"], [\"x\"], [\"\"], [\" \"]]\n");
}

int main(void)
{
    sl_core_init();
    sl_registry_set(test_types);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_quoting_bytes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_separator_and_quote, setup, teardown),
        cmocka_unit_test_setup_teardown(test_single_column_empty, setup, teardown),
        cmocka_unit_test_setup_teardown(test_header_once, setup, teardown),
        cmocka_unit_test_setup_teardown(test_logrotate, setup, teardown),
        cmocka_unit_test_setup_teardown(test_config_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_python_roundtrip, setup, teardown),
        cmocka_unit_test_setup_teardown(test_python_single_column, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
