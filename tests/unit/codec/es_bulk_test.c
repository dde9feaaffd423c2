/*
 * es_bulk_test.c — the Elasticsearch bulk response decoder and action lines: item statuses
 * and errors (object and old string form), the item limit, shapes that are not bulk
 * responses, and escaping in action lines.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "base/arena.h"
#include "codec/es_bulk.h"
#include "core/event.h"

#include <string.h>

static struct sl_arena A;

static int parse(const char *s, size_t max, struct sl_es_bulk_resp *r, struct sl_diag *d)
{
    sl_arena_reset(&A);
    sl_diag_init(d);
    return sl_es_bulk_parse(&A, s, strlen(s), max, r, d);
}

#define assert_view(v, lit)                                                                        \
    do {                                                                                           \
        assert_int_equal((v).len, strlen(lit));                                                    \
        assert_memory_equal((v).ptr, lit, (v).len);                                                \
    } while (0)

static void test_items(void **st)
{
    (void)st;
    struct sl_es_bulk_resp r;
    struct sl_diag d;
    assert_int_equal(
        parse("{\"took\":4,\"errors\":true,\"items\":["
              "{\"index\":{\"_index\":\"i\",\"_id\":\"1\",\"status\":201,\"_shards\":{}}},"
              "{\"create\":{\"status\":400,\"error\":{\"type\":\"mapper_parsing_exception\","
              "\"reason\":\"failed to parse [x]\",\"caused_by\":{\"type\":\"y\"}}}},"
              "{\"index\":{\"status\":429,\"error\":\"EsRejectedExecutionException[q]\"}}]}",
              10, &r, &d),
        0);
    assert_true(r.errors);
    assert_int_equal(r.count, 3);
    assert_int_equal(r.items[0].status, 201);
    assert_view(r.items[0].type, "");
    assert_int_equal(r.items[1].status, 400);
    assert_view(r.items[1].type, "mapper_parsing_exception");
    assert_view(r.items[1].reason, "failed to parse [x]");
    assert_int_equal(r.items[2].status, 429);
    assert_view(r.items[2].type, "");
    assert_view(r.items[2].reason, "EsRejectedExecutionException[q]");

    assert_int_equal(parse("{\"errors\":false,\"items\":[]}", 10, &r, &d), 0);
    assert_false(r.errors);
    assert_int_equal(r.count, 0);
}

static void test_bad_shapes(void **st)
{
    (void)st;
    struct sl_es_bulk_resp r;
    struct sl_diag d;
    static const char *bad[] = {
        "[]",
        "{\"errors\":true}",
        "{\"items\":{}}",
        "{\"items\":[1]}",
        "{\"items\":[{}]}",
        "{\"items\":[{\"index\":{\"status\":201},\"create\":{\"status\":201}}]}",
        "{\"items\":[{\"index\":[]}]}",
        "{\"items\":[{\"index\":{\"status\":\"201\"}}]}",
        "{\"items\":[{\"index\":{\"status\":99}}]}",
        "{\"items\":[{\"index\":{\"status\":600}}]}",
        "{\"items\":[{\"index\":{}}]}",
        "{\"error\":{\"type\":\"x\"},\"status\":400}",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_int_equal(parse(bad[i], 10, &r, &d), SL_EPARSE);
        assert_non_null(strstr(d.msg, "bulk response"));
    }
    /* not JSON at all: the JSON error */
    assert_int_equal(parse("<html>502 Bad Gateway</html>", 10, &r, &d), SL_EPARSE);
    assert_true(d.msg[0] != 0);
    assert_int_equal(
        parse("{\"items\":[{\"index\":{\"status\":201}},{\"index\":{\"status\":201}}]}", 1, &r, &d),
        SL_ELIMIT);
}

static void test_action(void **st)
{
    (void)st;
    struct sl_buf b;
    sl_buf_init(&b, 1 << 16);
    struct sl_str id = sl_str_c("a\"b\n");
    assert_int_equal(sl_es_bulk_action(&b, "index", sl_str_c("sluice-2024.01.02"), NULL, &id), 0);
    assert_string_equal(b.ptr,
                        "{\"index\":{\"_index\":\"sluice-2024.01.02\",\"_id\":\"a\\\"b\\n\"}}\n");
    sl_buf_reset(&b);
    assert_int_equal(sl_es_bulk_action(&b, "create", sl_str_c("u"), "spark-driver", NULL), 0);
    assert_string_equal(b.ptr, "{\"create\":{\"_index\":\"u\",\"_type\":\"spark-driver\"}}\n");
    sl_buf_fini(&b);
    /* too small: nothing appended */
    sl_buf_init(&b, 16);
    assert_int_equal(sl_es_bulk_action(&b, "index", sl_str_c("a-long-index-name"), NULL, NULL),
                     SL_E2BIG);
    assert_int_equal(b.len, 0);
    sl_buf_fini(&b);
}

int main(void)
{
    sl_core_init();
    sl_arena_init(&A, 4096, 1 << 20);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_items),
        cmocka_unit_test(test_bad_shapes),
        cmocka_unit_test(test_action),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    sl_arena_fini(&A);
    return rc;
}
