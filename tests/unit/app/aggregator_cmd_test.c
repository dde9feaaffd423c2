/* aggregator_cmd_test.c — AGGREGATOR_ARGS_FILE splitting and YAML quoting of `sluice
 * aggregator` values (read back through the config loader). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "app/aggregator_cmd.h"
#include "base/alloc.h"
#include "base/buf.h"
#include "core/config.h"

#include <string.h>

static void test_split(void **state)
{
    (void)state;
    static const char text[] =
        "  -p 6000\n\t-e \"two \\\"words\\\" \\\\ $x\" -q 'it''s' a\\ b \"\"\n";
    int argc = 0;
    char **argv = NULL;
    assert_int_equal(sl_aggregator_split_args(text, sizeof text - 1, &argc, &argv), 0);
    assert_int_equal(argc, 8);
    assert_string_equal(argv[0], "-p");
    assert_string_equal(argv[1], "6000");
    assert_string_equal(argv[3], "two \"words\" \\ $x");
    assert_string_equal(argv[5], "its"); /* adjacent quotes join, as in sh */
    assert_string_equal(argv[6], "a b");
    assert_string_equal(argv[7], ""); /* an empty "" is an argument */
    assert_null(argv[8]);
    sl_aggregator_free_args(argc, argv);
    /* an empty "" is an argument */
    assert_int_equal(sl_aggregator_split_args("\"\"", 2, &argc, &argv), 0);
    assert_int_equal(argc, 1);
    assert_string_equal(argv[0], "");
    sl_aggregator_free_args(argc, argv);
    assert_int_equal(sl_aggregator_split_args("-e 'open", 8, &argc, &argv), SL_EINVAL);
    assert_int_equal(sl_aggregator_split_args("-e \"open", 8, &argc, &argv), SL_EINVAL);
}

/* quote s into a one-key YAML document, load it, and read the api listen back */
static void roundtrip(const char *s)
{
    struct sl_buf b;
    sl_buf_init(&b, 0);
    sl_buf_puts(&b, "api:\n  listen: ");
    assert_int_equal(sl_aggregator_yaml_quote(&b, s), 0);
    sl_buf_puts(&b, "\nsources: {g: {type: generator}}\n");
    struct sl_diag d;
    sl_diag_init(&d);
    struct sl_config *cfg = NULL;
    assert_int_equal(sl_config_load_string(b.ptr, b.len, "t.yaml", &cfg, &d), 0);
    assert_string_equal(cfg->api_listen, s);
    sl_config_free(cfg);
    sl_buf_fini(&b);
}

static void test_quote(void **state)
{
    (void)state;
    roundtrip("plain");
    roundtrip("a \"quoted\" \\ back\\slash");
    roundtrip("line\nbreak\ttab\r\x01\x7f");
    roundtrip("${HOME} and $${X} and $ {y} and $");
    roundtrip("ünïcødé \xe2\x80\xa8 \xc2\x85 sep");
    roundtrip("C1 \xc2\x80\xc2\x9f nonchars \xef\xbf\xbe \xef\xbf\xbf bom \xef\xbb\xbf 𝄞");
    roundtrip("# not a comment: [x] {y} &z *w !t");
    roundtrip("");
    struct sl_buf b;
    sl_buf_init(&b, 0);
    assert_int_equal(sl_aggregator_yaml_quote(&b, "bad \xff utf8"), SL_EINVAL);
    assert_int_equal(sl_aggregator_yaml_quote(&b, "overlong \xc0\xaf"), SL_EINVAL);
    assert_int_equal(sl_aggregator_yaml_quote(&b, "surrogate \xed\xa0\x80"), SL_EINVAL);
    assert_int_equal(sl_aggregator_yaml_quote(&b, "cut \xe2\x80"), SL_EINVAL);
    sl_buf_fini(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_split), cmocka_unit_test(test_quote)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
