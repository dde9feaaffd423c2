/*
 * partout_body_test.c — the Partout body parser: the seed's example, leaves at every depth,
 * base64 keys (prefix and key_encoding), the sums of inner counts, the JSON paths of errors,
 * the limits (leaves, key length, depth), the legacy body, and base64 decoding.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "base/arena.h"
#include "codec/partout_body.h"

#include <string.h>

static struct sl_arena A;

static int setup(void **st)
{
    (void)st;
    sl_arena_init(&A, 4096, 16u << 20);
    return 0;
}

static int teardown(void **st)
{
    (void)st;
    sl_arena_fini(&A);
    return 0;
}

static int parse(const char *s, const struct sl_partout_limits *lim, struct sl_partout_body *b,
                 struct sl_diag *d)
{
    sl_diag_init(d);
    return sl_partout_body_parse(&A, s, strlen(s), lim, b, d);
}

#define assert_str(view, lit)                                                                      \
    do {                                                                                           \
        assert_int_equal((view).len, strlen(lit));                                                 \
        assert_memory_equal((view).ptr, lit, strlen(lit));                                         \
    } while (0)

static void test_seed_example(void **st)
{
    (void)st;
    struct sl_partout_body b;
    struct sl_diag d;
    assert_int_equal(
        parse("{\"agent\":{\"uuid\":\"89609ae7-c955-4109-a2b8-4d0e7edcf460\",\"hostname\":\"h1\","
              "\"os_family\":null,\"count\":1,\"modules\":{\"file\":{\"count\":1,\"objects\":{"
              "\"8765765jhgfjfhgf876587\":{\"count\":1,\"messages\":{"
              "\"786576576576dsfsdfsfdsdf976876\":{\"level\":\"info\",\"count\":1}}}}}}},"
              "\"period_secs\":10}",
              NULL, &b, &d),
        0);
    assert_str(b.uuid, "89609ae7-c955-4109-a2b8-4d0e7edcf460");
    assert_str(b.hostname, "h1");
    assert_null(b.os_family.ptr);
    assert_int_equal(b.period_secs, 10);
    assert_int_equal(b.nleaves, 1);
    assert_int_equal(b.total, 1);
    assert_int_equal(b.leaves[0].depth, 4);
    assert_str(b.leaves[0].module, "file");
    assert_str(b.leaves[0].object, "8765765jhgfjfhgf876587"); /* raw: no b64: prefix */
    assert_str(b.leaves[0].level, "info");
}

static void test_depths_and_zero(void **st)
{
    (void)st;
    struct sl_partout_body b;
    struct sl_diag d;
    /* level 1: the agent's count; level 2: modules; level 3: objects; zero leaves emit nothing */
    assert_int_equal(
        parse("{\"agent\":{\"uuid\":\"u\",\"count\":9},\"period_secs\":60}", NULL, &b, &d), 0);
    assert_int_equal(b.nleaves, 1);
    assert_int_equal(b.leaves[0].depth, 1);
    assert_null(b.leaves[0].module.ptr);
    assert_int_equal(parse("{\"agent\":{\"uuid\":\"u\",\"modules\":{\"a\":{\"count\":2},\"b\":{"
                           "\"objects\":{\"o\":{\"count\":3},\"z\":{\"count\":0}}}}}}",
                           NULL, &b, &d),
                     0);
    assert_int_equal(b.nleaves, 2);
    assert_int_equal(b.total, 5);
    assert_int_equal(b.leaves[0].depth, 2);
    assert_int_equal(b.leaves[1].depth, 3);
    assert_str(b.leaves[1].object, "o");
    assert_int_equal(b.period_secs, -1);
    assert_int_equal(parse("{\"agent\":{\"uuid\":\"u\",\"count\":0}}", NULL, &b, &d), 0);
    assert_int_equal(b.nleaves, 0);
}

static void test_base64_keys(void **st)
{
    (void)st;
    struct sl_partout_body b;
    struct sl_diag d;
    assert_int_equal(parse("{\"agent\":{\"uuid\":\"u\",\"modules\":{\"fs\":{\"objects\":{"
                           "\"b64:L2V0Yy9wYXNzd2Q=\":{\"messages\":{\"b64:Y2hhbmdlZA\":{"
                           "\"count\":1}}}}}}}}",
                           NULL, &b, &d),
                     0);
    assert_str(b.leaves[0].object, "/etc/passwd");
    assert_str(b.leaves[0].msg, "changed");
    assert_null(b.leaves[0].level.ptr);
    assert_int_equal(parse("{\"key_encoding\":\"base64\",\"agent\":{\"uuid\":\"u\",\"modules\":{"
                           "\"fs\":{\"objects\":{\"L2V0Yw\":{\"count\":1}}}}}}",
                           NULL, &b, &d),
                     0);
    assert_str(b.leaves[0].module, "fs"); /* modules stay raw */
    assert_str(b.leaves[0].object, "/etc");
    assert_int_equal(parse("{\"agent\":{\"uuid\":\"u\",\"modules\":{\"fs\":{\"objects\":{"
                           "\"b64:!!\":{\"count\":1}}}}}}",
                           NULL, &b, &d),
                     SL_EINVAL);
    assert_string_equal(d.msg, "$.agent.modules.fs.objects.b64:!!: invalid base64 key");
    struct sl_str o;
    assert_int_equal(sl_partout_b64_decode(&A, "aGk-_w==", 8, &o), 0);
    assert_int_equal(o.len, 4);
    assert_memory_equal(o.ptr, "hi>\xff", 4);
    assert_int_equal(sl_partout_b64_decode(&A, "a", 1, &o), SL_EINVAL);
}

static void test_error_paths(void **st)
{
    (void)st;
    struct sl_partout_body b;
    struct sl_diag d;
    assert_int_equal(parse("{\"agent\":{\"uuid\":\"u\",\"modules\":{\"fs\":{\"objects\":{"
                           "\"/etc/passwd\":{\"messages\":{\"changed\":{\"level\":\"info\","
                           "\"count\":\"3\"}}}}}}}}",
                           NULL, &b, &d),
                     SL_ETYPE);
    assert_string_equal(d.msg, "$.agent.modules.fs.objects./etc/passwd.messages.changed.count: "
                               "expected a non-negative integer");
    assert_int_equal(parse("{\"agent\":{\"uuid\":\"u\",\"modules\":{\"fs\":{\"count\":3,"
                           "\"objects\":{\"a\":{\"count\":1}}}}}}",
                           NULL, &b, &d),
                     SL_EINVAL);
    assert_string_equal(d.msg,
                        "$.agent.modules.fs.count: 3 does not equal the sum of its objects (1)");
    assert_int_equal(parse("{\"agent\":{\"uuid\":\"u\",\"modules\":{\"fs\":{}}}}", NULL, &b, &d),
                     SL_EINVAL);
    assert_string_equal(d.msg, "$.agent.modules.fs: expected count or objects");
    assert_int_equal(parse("{\"agent\":{\"uuid\":\"u\",\"modules\":[1]}}", NULL, &b, &d), SL_ETYPE);
    assert_string_equal(d.msg, "$.agent.modules: expected an object, not list");
    assert_int_equal(parse("{\"agent\":{\"count\":1}}", NULL, &b, &d), SL_EINVAL);
    assert_string_equal(d.msg, "$.agent.uuid: missing");
    assert_int_equal(parse("{\"agent\":{\"uuid\":\"u\",\"count\":1.5}}", NULL, &b, &d), SL_ETYPE);
    assert_string_equal(d.msg, "$.agent.count: expected a non-negative integer");
    assert_int_equal(parse("[]", NULL, &b, &d), SL_ETYPE);
    assert_int_equal(parse("{\"agent\":", NULL, &b, &d), SL_EPARSE);
    assert_true(strncmp(d.msg, "$: invalid JSON at byte", 23) == 0);
    assert_int_equal(
        parse("{\"period_secs\":-1,\"agent\":{\"uuid\":\"u\",\"count\":1}}", NULL, &b, &d),
        SL_ETYPE);
    assert_string_equal(d.msg, "$.period_secs: expected a non-negative integer");
}

static void test_limits(void **st)
{
    (void)st;
    struct sl_partout_body b;
    struct sl_diag d;
    struct sl_partout_limits lim = {.max_leaves = 2, .max_key_len = 4, .max_depth = 8};
    assert_int_equal(parse("{\"agent\":{\"uuid\":\"u\",\"modules\":{\"a\":{\"count\":1},\"b\":{"
                           "\"count\":1},\"c\":{\"count\":1}}}}",
                           &lim, &b, &d),
                     SL_ELIMIT);
    assert_string_equal(d.msg, "$.agent.modules.c: more than max_leaves (2) leaf counts");
    assert_int_equal(
        parse("{\"agent\":{\"uuid\":\"u\",\"modules\":{\"abcde\":{\"count\":1}}}}", &lim, &b, &d),
        SL_ELIMIT);
    assert_string_equal(d.msg, "$.agent.modules.abcde: key longer than max_key_len (4 bytes)");
    assert_int_equal(parse("{\"agent\":{\"uuid\":\"uuuuu\",\"count\":1}}", &lim, &b, &d),
                     SL_ELIMIT);
    assert_int_equal(
        parse("{\"agent\":{\"uuid\":\"u\",\"x\":[[[[[[[[1]]]]]]]],\"count\":1}}", &lim, &b, &d),
        SL_EDEPTH);
    /* counts that would overflow */
    assert_int_equal(parse("{\"agent\":{\"uuid\":\"u\",\"modules\":{\"a\":{\"count\":"
                           "9223372036854775807},\"b\":{\"count\":9223372036854775807}}}}",
                           NULL, &b, &d),
                     SL_ERANGE);
}

static void test_legacy(void **st)
{
    (void)st;
    struct sl_partout_body b;
    struct sl_diag d;
    sl_diag_init(&d);
    const char *s = "{\"hostname\":\"h\",\"agent_uuid\":\"u\",\"msg\":\"hello\"}";
    assert_int_equal(sl_partout_legacy_parse(&A, s, strlen(s), NULL, &b, &d), 0);
    assert_int_equal(b.nleaves, 1);
    assert_int_equal(b.total, 1);
    assert_str(b.uuid, "u");
    assert_str(b.leaves[0].module, "unknown");
    assert_str(b.leaves[0].object, "unknown");
    assert_str(b.leaves[0].msg, "hello");
    s = "{\"module\":\"m\"}";
    assert_int_equal(sl_partout_legacy_parse(&A, s, strlen(s), NULL, &b, &d), SL_EINVAL);
    assert_string_equal(d.msg, "$.msg: missing");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_seed_example), cmocka_unit_test(test_depths_and_zero),
        cmocka_unit_test(test_base64_keys),  cmocka_unit_test(test_error_paths),
        cmocka_unit_test(test_limits),       cmocka_unit_test(test_legacy),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
