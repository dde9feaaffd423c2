/*
 * json_test.c — the JSON codec: accept/reject table with error offsets, numbers, escapes,
 * limits, golden files (tests/golden/json), round trips, a differential test against
 * jansson on generated and mutated documents, and an allocation-failure sweep.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "base/alloc.h"
#include "base/buf.h"
#include "codec/json.h"

#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#ifdef SL_HAVE_JANSSON
#include <jansson.h>
#endif

struct json_case {
    const char *text;
    int ok;          /* 1 valid, 0 invalid */
    long err_offset; /* for invalid: expected byte offset, -1: don't check */
};

static const struct json_case value_cases[] = {
    {"{}", 1, 0},
    {"[]", 1, 0},
    {"0", 1, 0},
    {"-0", 1, 0},
    {"-0.0e-0", 1, 0},
    {"1.5e+10", 1, 0},
    {"1E5", 1, 0},
    {"\"\"", 1, 0},
    {"true", 1, 0},
    {"false", 1, 0},
    {"null", 1, 0},
    {" \t\r\n[ 1 , 2 ]\n", 1, 0},
    {"{\"a\":{\"b\":{\"c\":[1,[2,[3]]]}}}", 1, 0},
    {"\"\\u0000\"", 1, 0},
    {"\"\\ud83d\\ude00\"", 1, 0},
    {"\"\xf0\x9f\x98\x80\"", 1, 0},
    {"\"\xe2\x82\xac\"", 1, 0},
    {"\"\xc2\x80\"", 1, 0},
    {"\"\xf4\x8f\xbf\xbf\"", 1, 0},
    {"\"/\\/\\\\\\\"\\b\\f\\n\\r\\t\"", 1, 0},
    {"123456789012345678901234567890", 1, 0},
    {"1e308", 1, 0},
    {"4.9e-324", 1, 0},
    {"", 0, 0},
    {" ", 0, 1},
    {"{", 0, 1},
    {"[", 0, 1},
    {"[1,]", 0, 3},
    {"[,1]", 0, 1},
    {"{\"a\"}", 0, 4},
    {"{\"a\":}", 0, 5},
    {"{\"a\":1,}", 0, 7},
    {"{a:1}", 0, 1},
    {"{'a':1}", 0, 1},
    {"[1 2]", 0, 3},
    {"01", 0, 1},
    {"-01", 0, 2},
    {"+1", 0, 0},
    {".5", 0, 0},
    {"1.", 0, 2},
    {"1.e5", 0, 2},
    {"1e", 0, 2},
    {"1e+", 0, 3},
    {"-", 0, 1},
    {"--1", 0, 1},
    {"0x10", 0, 1},
    {"NaN", 0, 0},
    {"Infinity", 0, 0},
    {"1e400", 0, 0},
    {"tru", 0, 0},
    {"nul", 0, 0},
    {"truex", 0, 4},
    {"\"abc", 0, 4},
    {"\"a\nb\"", 0, 2},
    {"\"a\tb\"", 0, 2},
    {"\"\\x\"", 0, 1},
    {"\"\\u12\"", 0, 3},
    {"\"\\ud800\"", 0, 1},
    {"\"\\udc00\"", 0, 1},
    {"\"\\ud800\\u0041\"", 0, 1},
    {"\"\xc3\x28\"", 0, 1},
    {"\"\xc0\xaf\"", 0, 1},
    {"\"\xe0\x80\xaf\"", 0, 1},
    {"\"\xed\xa0\x80\"", 0, 1},
    {"\"\xf4\x90\x80\x80\"", 0, 1},
    {"\"\xf8\x88\x80\x80\x80\"", 0, 1},
    {"\"\xe2\x82\"", 0, 1},
    {"\xff", 0, 0},
    {"[1]x", 0, 3},
    {"{} {}", 0, 3},
    {"[1]]", 0, 3},
    {"\"a\"\"b\"", 0, 3},
};

static void test_value_table(void **state)
{
    for (size_t i = 0; i < sizeof(value_cases) / sizeof(value_cases[0]); i++) {
        const struct json_case *tc = &value_cases[i];
        struct sl_arena a;
        sl_arena_init(&a, 4096, 0);
        struct sl_value v;
        struct sl_diag d;
        sl_diag_init(&d);
        int rc = sl_json_parse_value(&a, tc->text, strlen(tc->text), NULL, &v, &d);
        if (tc->ok && rc)
            fail_msg("case %zu %s: rejected: %s at %lld", i, tc->text, d.msg, (long long)d.offset);
        if (!tc->ok && !rc)
            fail_msg("case %zu %s: accepted", i, tc->text);
        if (!tc->ok && tc->err_offset >= 0 && d.offset != tc->err_offset)
            fail_msg("case %zu %s: error at %lld, want %ld (%s)", i, tc->text, (long long)d.offset,
                     tc->err_offset, d.msg);
        if (!tc->ok && !d.msg[0])
            fail_msg("case %zu: no message", i);
        sl_arena_fini(&a);
    }
}

static void test_event_basics(void **state)
{
    struct sl_batch *b = sl_batch_new();
    const char *t = "{\"a\":1,\"s\":\"x\\ny\",\"n\":{\"k\":[true,null]},\"a\":2,\"d\":-2.5}";
    assert_int_equal(sl_json_parse_event(b, t, strlen(t), NULL, NULL), 0);
    assert_int_equal(b->count, 1);
    struct sl_event *ev = &b->events[0];
    assert_int_equal(ev->count, 4); /* duplicate "a": last wins, in first position */
    const struct sl_value *a = sl_event_get(ev, sl_sym_intern_c("a"));
    assert_int_equal(a->type, SL_V_INT);
    assert_int_equal(a->u.i, 2);
    const struct sl_value *s = sl_event_get(ev, sl_sym_intern_c("s"));
    assert_int_equal(s->len, 3);
    assert_memory_equal(s->u.s, "x\ny", 3);
    const struct sl_value *d = sl_event_get(ev, sl_sym_intern_c("d"));
    assert_true(d->type == SL_V_DOUBLE && d->u.d == -2.5);
    const struct sl_value *n = sl_event_get(ev, sl_sym_intern_c("n"));
    assert_int_equal(n->type, SL_V_MAP);
    const struct sl_value *k = sl_value_map_get(n, SL_STR("k"));
    assert_true(k && k->type == SL_V_LIST && k->len == 2 && k->u.list[1].type == SL_V_NULL);
    /* strings without escapes are views into the input */
    const char *t2 = "{\"plain\":\"view\"}";
    assert_int_equal(sl_json_parse_event(b, t2, strlen(t2), NULL, NULL), 0);
    const struct sl_value *pl = sl_event_get(&b->events[1], sl_sym_intern_c("plain"));
    assert_ptr_equal(pl->u.s, t2 + 10);
    /* not an object; failure appends nothing */
    struct sl_diag dg;
    sl_diag_init(&dg);
    assert_int_equal(sl_json_parse_event(b, "[1]", 3, NULL, &dg), SL_EPARSE);
    assert_int_equal(b->count, 2);
    assert_int_equal(dg.offset, 0);
    assert_int_equal(sl_json_parse_event(b, "{\"a\":1,}", 8, NULL, &dg), SL_EPARSE);
    assert_int_equal(dg.offset, 7);
    assert_non_null(strstr(dg.msg, "object key"));
    assert_int_equal(b->count, 2);
    sl_batch_unref(b);
}

static void test_numbers(void **state)
{
    static const struct {
        const char *t;
        int type;
        int64_t i;
        double d;
    } cases[] = {
        {"9223372036854775807", SL_V_INT, INT64_MAX, 0},
        {"-9223372036854775808", SL_V_INT, INT64_MIN, 0},
        {"9223372036854775808", SL_V_DOUBLE, 0, 9223372036854775808.0},
        {"-9223372036854775809", SL_V_DOUBLE, 0, -9223372036854775809.0},
        {"0", SL_V_INT, 0, 0},
        {"-0", SL_V_INT, 0, 0},
        {"1.0", SL_V_DOUBLE, 0, 1.0},
        {"0.1", SL_V_DOUBLE, 0, 0.1},
        {"1588205198.89971", SL_V_DOUBLE, 0, 1588205198.89971},
        {"0.000001", SL_V_DOUBLE, 0, 0.000001},
        {"1e22", SL_V_DOUBLE, 0, 1e22},
        {"1e23", SL_V_DOUBLE, 0, 1e23},
        {"2.2250738585072014e-308", SL_V_DOUBLE, 0, 2.2250738585072014e-308},
        {"123456789012345678901234567890.5", SL_V_DOUBLE, 0, 123456789012345678901234567890.5},
        {"0.30000000000000004", SL_V_DOUBLE, 0, 0.30000000000000004},
        {"9007199254740993", SL_V_INT, 9007199254740993LL, 0},
        {"9007199254740993.0", SL_V_DOUBLE, 0, 9007199254740992.0},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct sl_arena a;
        sl_arena_init(&a, 4096, 0);
        struct sl_value v;
        struct sl_diag d;
        sl_diag_init(&d);
        assert_int_equal(sl_json_parse_value(&a, cases[i].t, strlen(cases[i].t), NULL, &v, &d), 0);
        if (v.type != cases[i].type)
            fail_msg("%s: type %d", cases[i].t, v.type);
        if (v.type == SL_V_INT && v.u.i != cases[i].i)
            fail_msg("%s: %lld", cases[i].t, (long long)v.u.i);
        if (v.type == SL_V_DOUBLE && v.u.d != cases[i].d)
            fail_msg("%s: %.17g != %.17g", cases[i].t, v.u.d, cases[i].d);
        sl_arena_fini(&a);
    }
}

static void test_limits(void **state)
{
    char deep[200];
    for (int i = 0; i < 100; i++) {
        deep[i] = '[';
        deep[199 - i] = ']';
    }
    struct sl_arena a;
    sl_arena_init(&a, 4096, 0);
    struct sl_value v;
    struct sl_diag d;
    sl_diag_init(&d);
    assert_int_equal(sl_json_parse_value(&a, deep, 200, NULL, &v, &d), SL_EDEPTH);
    assert_int_equal(d.offset, 64); /* the 65th '[' */
    struct sl_json_opts o = {.max_depth = 100};
    assert_int_equal(sl_json_parse_value(&a, deep, 200, &o, &v, &d), 0);
    struct sl_json_opts small = {.max_len = 10};
    assert_int_equal(sl_json_parse_value(&a, "[1,2,3,4,5,6]", 13, &small, &v, &d), SL_E2BIG);
    sl_arena_fini(&a);
}

static void test_writer(void **state)
{
    struct sl_buf b;
    sl_buf_init(&b, 0);
    struct sl_value v = sl_value_str("a\"b\\c\x01\xff\xc3\xa9/", 10);
    assert_int_equal(sl_json_write_value(&b, &v), 0);
    assert_string_equal(b.ptr, "\"a\\\"b\\\\c\\u0001\\ufffd\xc3\xa9/\"");
    static const struct {
        double d;
        const char *text;
    } dbl[] = {{0.016127, "0.016127"}, {0.00119, "0.00119"}, {1588205198.89971, "1588205198.89971"},
               {100.0, "100.0"},       {-2.5, "-2.5"},       {1.5e-7, "1.5e-07"},
               {1e300, "1e+300"},      {0.1, "0.1"}};
    for (size_t i = 0; i < sizeof(dbl) / sizeof(dbl[0]); i++) {
        sl_buf_reset(&b);
        struct sl_value dv = sl_value_double(dbl[i].d);
        sl_json_write_value(&b, &dv);
        if (strcmp(b.ptr, dbl[i].text) != 0)
            fail_msg("%.17g written as %s, want %s", dbl[i].d, b.ptr, dbl[i].text);
    }
    sl_buf_reset(&b);
    struct sl_value nan = sl_value_double(NAN);
    sl_json_write_value(&b, &nan);
    assert_string_equal(b.ptr, "null");
    sl_buf_reset(&b);
    struct sl_value ts = sl_value_ts(1588205198899710000LL);
    sl_json_write_value(&b, &ts);
    assert_string_equal(b.ptr, "\"2020-04-30T00:06:38.899710000Z\"");
    sl_buf_reset(&b);
    struct sl_value ip;
    assert_int_equal(sl_value_ip_parse(SL_STR("2001:db8::1"), &ip), 0);
    sl_json_write_value(&b, &ip);
    assert_string_equal(b.ptr, "\"2001:db8::1\"");
    sl_buf_reset(&b);
    struct sl_value by = {.type = SL_V_BYTES, .len = 4};
    by.u.s = "\x00\x01\x02\x03";
    sl_json_write_value(&b, &by);
    assert_string_equal(b.ptr, "\"AAECAw==\"");
    sl_buf_fini(&b);
}

static char *slurp(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    static char buf[1 << 16];
    *n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[*n] = 0;
    return buf;
}

static void test_golden(void **state)
{
    const char *src = getenv("SL_SRC");
    char dir[4096];
    snprintf(dir, sizeof(dir), "%s/tests/golden/json", src ? src : ".");
    DIR *dp = opendir(dir);
    assert_non_null(dp);
    struct dirent *e;
    int seen = 0;
    while ((e = readdir(dp))) {
        size_t len = strlen(e->d_name);
        if (len < 5 || strcmp(e->d_name + len - 5, ".json") != 0)
            continue;
        char path[4400], want_path[4400];
        snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
        snprintf(want_path, sizeof(want_path), "%s/%.*s.out", dir, (int)(len - 5), e->d_name);
        size_t n = 0; /* gcc -O3: maybe-uninitialized (slurp sets it when it returns non-NULL) */
        char *in = slurp(path, &n);
        assert_non_null(in);
        char *copy = strndup(in, n);
        while (n && copy[n - 1] == '\n')
            n--;
        struct sl_batch *b = sl_batch_new();
        struct sl_diag d;
        sl_diag_init(&d);
        if (sl_json_parse_event(b, copy, n, NULL, &d))
            fail_msg("%s: %s", e->d_name, d.msg);
        struct sl_buf out;
        sl_buf_init(&out, 0);
        sl_json_write_event(&out, &b->events[0]);
        sl_buf_putc(&out, '\n');
        size_t wn = 0;
        char *want = slurp(want_path, &wn);
        assert_non_null(want);
        if (wn != out.len || memcmp(want, out.ptr, wn) != 0)
            fail_msg("%s:\n got  %s want %s", e->d_name, out.ptr, want);
        sl_buf_fini(&out);
        sl_batch_unref(b);
        free(copy);
        seen++;
    }
    closedir(dp);
    assert_true(seen >= 5);
}

/* ---- random documents */

static uint64_t rng_state = 42;
static uint64_t rnd(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

static void gen_string(struct sl_buf *b)
{
    static const char *const pieces[] = {"a",        "Z",
                                         " ",        "\\n",
                                         "\\\"",     "\\\\",
                                         "\\u00e9",  "\\ud83d\\ude00",
                                         "\xc3\xa9", "\xe2\x82\xac",
                                         "\\/",      "0",
                                         "\\u0000",  "\xf0\x9f\x98\x80"};
    sl_buf_putc(b, '"');
    int n = (int)(rnd() % 8);
    for (int i = 0; i < n; i++)
        sl_buf_puts(b, pieces[rnd() % (sizeof(pieces) / sizeof(pieces[0]))]);
    sl_buf_putc(b, '"');
}

static void gen_value(struct sl_buf *b, int depth)
{
    int k = (int)(rnd() % (depth > 4 ? 6 : 8));
    switch (k) {
    case 0:
        sl_buf_puts(b, rnd() % 2 ? "true" : "false");
        break;
    case 1:
        sl_buf_puts(b, "null");
        break;
    case 2:
        sl_buf_appendf(b, "%lld", (long long)(rnd() % 2000000) - 1000000);
        break;
    case 3:
        sl_buf_appendf(b, "%.*g", 1 + (int)(rnd() % 17),
                       ((double)(int64_t)rnd() / 9.3e15) * pow(10, (double)(rnd() % 40) - 20));
        break;
    case 4:
    case 5:
        gen_string(b);
        break;
    case 6: {
        sl_buf_putc(b, '[');
        int n = (int)(rnd() % 4);
        for (int i = 0; i < n; i++) {
            if (i)
                sl_buf_putc(b, ',');
            gen_value(b, depth + 1);
        }
        sl_buf_putc(b, ']');
        break;
    }
    default: {
        sl_buf_putc(b, '{');
        int n = (int)(rnd() % 4);
        for (int i = 0; i < n; i++) {
            if (i)
                sl_buf_putc(b, ',');
            sl_buf_appendf(b, "\"k%d\":", i); /* distinct keys: maps compare by order */
            gen_value(b, depth + 1);
        }
        sl_buf_putc(b, '}');
        break;
    }
    }
}

#ifdef SL_HAVE_JANSSON
static bool same(const struct sl_value *v, json_t *j)
{
    switch ((enum sl_vtype)v->type) {
    case SL_V_NULL:
        return json_is_null(j);
    case SL_V_BOOL:
        return json_is_boolean(j) && json_is_true(j) == v->u.b;
    case SL_V_INT:
        return json_is_real(j) && json_real_value(j) == (double)v->u.i;
    case SL_V_DOUBLE:
        return json_is_real(j) && json_real_value(j) == v->u.d;
    case SL_V_STRING:
        return json_is_string(j) && json_string_length(j) == v->len &&
               memcmp(json_string_value(j), v->u.s, v->len) == 0;
    case SL_V_LIST:
        if (!json_is_array(j) || json_array_size(j) != v->len)
            return false;
        for (uint32_t i = 0; i < v->len; i++)
            if (!same(&v->u.list[i], json_array_get(j, i)))
                return false;
        return true;
    case SL_V_MAP:
        if (!json_is_object(j) || json_object_size(j) != v->len)
            return false;
        for (uint32_t i = 0; i < v->len; i++) {
            char key[64];
            snprintf(key, sizeof(key), "%.*s", (int)v->u.map[i].key.len, v->u.map[i].key.ptr);
            json_t *m = json_object_get(j, key);
            if (!m || !same(&v->u.map[i].val, m))
                return false;
        }
        return true;
    default:
        return false;
    }
}

static int check_one(const char *p, size_t n, bool compare)
{
    struct sl_arena a;
    sl_arena_init(&a, 4096, 0);
    struct sl_value v;
    struct sl_diag d;
    sl_diag_init(&d);
    int ours = sl_json_parse_value(&a, p, n, NULL, &v, &d);
    json_error_t err;
    /* ALLOW_NUL: \u0000 is valid JSON; INT_AS_REAL: jansson rejects integers beyond int64,
     * sluice reads them as doubles — compare all numbers as doubles. */
    json_t *j = json_loadb(p, n, JSON_DECODE_ANY | JSON_ALLOW_NUL | JSON_DECODE_INT_AS_REAL, &err);
    int bad = 0;
    if ((ours == 0) != (j != NULL)) {
        print_message("disagree on %.*s: sluice %s (%s), jansson %s (%s)\n", (int)n, p,
                      ours ? "rejects" : "accepts", d.msg, j ? "accepts" : "rejects", err.text);
        bad = 1;
    } else if (compare && j && !same(&v, j)) {
        print_message("different values for %.*s\n", (int)n, p);
        bad = 1;
    }
    json_decref(j);
    sl_arena_fini(&a);
    return bad;
}

static void test_differential_jansson(void **state)
{
    int bad = 0, accepted = 0;
    struct sl_buf b;
    sl_buf_init(&b, 0);
    for (int i = 0; i < 20000 && bad < 5; i++) {
        sl_buf_reset(&b);
        gen_value(&b, 0);
        bad += check_one(b.ptr, b.len, true);
    }
    /* mutations: flip, insert, delete, truncate */
    static const char alphabet[] = "{}[]\",:\\u0123456789.eE+-tfnrl \t\n\x80\xc3\xff";
    for (int i = 0; i < 20000 && bad < 5; i++) {
        sl_buf_reset(&b);
        gen_value(&b, 0);
        int muts = 1 + (int)(rnd() % 3);
        for (int m = 0; m < muts && b.len; m++) {
            size_t at = rnd() % b.len;
            switch (rnd() % 4) {
            case 0:
                b.ptr[at] = alphabet[rnd() % (sizeof(alphabet) - 1)];
                break;
            case 1:
                memmove(b.ptr + at, b.ptr + at + 1, b.len - at - 1);
                b.len--;
                break;
            case 2:
                b.len = at;
                break;
            default:
                sl_buf_putc(&b, 0);
                memmove(b.ptr + at + 1, b.ptr + at, b.len - at - 1);
                b.ptr[at] = alphabet[rnd() % (sizeof(alphabet) - 1)];
                break;
            }
        }
        struct sl_arena a;
        sl_arena_init(&a, 4096, 0);
        struct sl_value v;
        accepted += sl_json_parse_value(&a, b.ptr, b.len, NULL, &v, NULL) == 0;
        sl_arena_fini(&a);
        bad += check_one(b.ptr, b.len, false);
    }
    sl_buf_fini(&b);
    print_message("differential: 40000 documents, %d mutated ones still valid\n", accepted);
    assert_int_equal(bad, 0);
}
#endif

static void test_roundtrip(void **state)
{
    struct sl_buf b, out;
    sl_buf_init(&b, 0);
    sl_buf_init(&out, 0);
    for (int i = 0; i < 5000; i++) {
        sl_buf_reset(&b);
        gen_value(&b, 0);
        struct sl_arena a;
        sl_arena_init(&a, 4096, 0);
        struct sl_value v, w;
        assert_int_equal(sl_json_parse_value(&a, b.ptr, b.len, NULL, &v, NULL), 0);
        sl_buf_reset(&out);
        assert_int_equal(sl_json_write_value(&out, &v), 0);
        if (sl_json_parse_value(&a, out.ptr, out.len, NULL, &w, NULL))
            fail_msg("cannot re-read %s", out.ptr);
        if (!sl_value_equal(&v, &w))
            fail_msg("round trip changed %s -> %s", b.ptr, out.ptr);
        sl_arena_fini(&a);
    }
    sl_buf_fini(&b);
    sl_buf_fini(&out);
}

static void test_alloc_failure_sweep(void **state)
{
    static const char *const docs[] = {
        "{\"a\":1,\"b\":\"x\\ny\",\"c\":[1,2,{\"d\":null}],\"sweep_key_1\":true}",
        "{\"sweep_key_2\":[[[[\"deep\"]]]],\"e\":{\"f\":{\"g\":\"\\u00e9\"}}}",
        "{\"broken\":[1,2,}",
    };
    int failures_seen = 0;
    for (uint64_t nth = 1; nth < 60; nth++) {
        for (size_t k = 0; k < 3; k++) {
            struct sl_batch *b = sl_batch_new();
            struct sl_diag d;
            sl_diag_init(&d);
            sl_alloc_fail_nth(nth);
            int rc = sl_json_parse_event(b, docs[k], strlen(docs[k]), NULL, &d);
            sl_alloc_fail_nth(0);
            if (rc == SL_ENOMEM || rc == SL_ELIMIT)
                failures_seen++;
            else if (k < 2)
                assert_int_equal(rc, 0);
            else
                assert_int_equal(rc, SL_EPARSE);
            assert_int_equal(b->count, rc == 0 ? 1u : 0u);
            sl_batch_unref(b);
        }
    }
    /* the fresh-thread stacks and arena were really made to fail at least once */
    assert_true(failures_seen > 0);
}

int main(void)
{
    sl_core_init();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_value_table),
        cmocka_unit_test(test_event_basics),
        cmocka_unit_test(test_numbers),
        cmocka_unit_test(test_limits),
        cmocka_unit_test(test_writer),
        cmocka_unit_test(test_golden),
        cmocka_unit_test(test_roundtrip),
#ifdef SL_HAVE_JANSSON
        cmocka_unit_test(test_differential_jansson),
#endif
        cmocka_unit_test(test_alloc_failure_sweep),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
