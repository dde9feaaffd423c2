/* pushgw_test.c — the push gateway client: push URLs and the pushed body. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "api/pushgw.h"
#include "base/alloc.h"
#include "base/buf.h"
#include "core/config.h"
#include "core/pipeline.h"
#include "io/plugins.h"

#include <stdio.h>
#include <string.h>

static void expect_url(const char *base, const char *job, const char *instance, const char *want)
{
    struct sl_buf b;
    sl_buf_init(&b, 0);
    assert_int_equal(sl_pushgw_url(base, job, instance, &b), 0);
    assert_string_equal(b.ptr, want);
    sl_buf_fini(&b);
}

static void test_url(void **state)
{
    (void)state;
    expect_url("localhost:9091", "aggregator", "010f6f8a-33d3", /* the seed's form */
               "http://localhost:9091/metrics/job/aggregator/instance/010f6f8a-33d3");
    expect_url("http://gw:9091/", "sluice", "h1", "http://gw:9091/metrics/job/sluice/instance/h1");
    expect_url("https://gw/base//", "j", "a b:c",
               "https://gw/base/metrics/job/j/instance/a%20b%3Ac");
    /* '/' and empty values: the gateway's base64url form ("=" for empty) */
    expect_url("gw:1", "a/b", "", "http://gw:1/metrics/job@base64/YS9i/instance@base64/=");
    expect_url("gw:1", "j", "x/y?z>", "http://gw:1/metrics/job/j/instance@base64/eC95P3o-");
    struct sl_buf b;
    sl_buf_init(&b, 0);
    assert_int_equal(sl_pushgw_url("ftp://gw:1", "j", "i", &b), SL_EINVAL);
    assert_int_equal(sl_pushgw_url("http://", "j", "i", &b), SL_EINVAL);
    assert_int_equal(sl_pushgw_url("gw 1:2", "j", "i", &b), SL_EINVAL);
    sl_buf_fini(&b);
}

/* Each family's TYPE line once, the aggregator's names first, the sluice_* ones after. */
static void test_render(void **state)
{
    (void)state;
    static const char yaml[] =
        "sources:\n"
        "  gen: {type: generator, count: 10}\n"
        "sinks:\n"
        "  a: {type: parquet, inputs: [gen], path: /nonexistent/a.parquet}\n"
        "  b: {type: parquet, inputs: [gen], path: /nonexistent/b.parquet}\n";
    struct sl_diag d;
    sl_diag_init(&d);
    struct sl_config *cfg = NULL;
    assert_int_equal(sl_config_load_string(yaml, sizeof yaml - 1, "t.yaml", &cfg, &d), 0);
    struct sl_pipeline_opts o = {.workers = 1};
    struct sl_pipeline *p = sl_pipeline_new(cfg, &o, &d);
    assert_non_null(p);
    struct sl_buf b;
    sl_buf_init(&b, 0);
    sl_pushgw_render(p, &b);
    const char *names[] = {"parquet_data counter", "parquet_writers gauge", "uploads gauge",
                           "zmq counter",          "errors counter",        "spool_bytes gauge"};
    const char *last = b.ptr;
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        char want[64];
        snprintf(want, sizeof want, "\n# TYPE %s\n", names[i]);
        const char *at = strstr(b.ptr, want);
        assert_non_null(at);
        assert_true(at >= last); /* in this order */
        last = at;
    }
    assert_non_null(strstr(b.ptr, "\nparquet_data 0\n"));
    assert_non_null(strstr(b.ptr, "\nuploads 0\n"));
    /* two parquet sinks: one family, two samples */
    const char *fam = "# TYPE sluice_parquet_open_writers gauge\n";
    const char *f1 = strstr(b.ptr, fam);
    assert_non_null(f1);
    assert_null(strstr(f1 + 1, fam));
    assert_non_null(strstr(b.ptr, "sluice_parquet_open_writers{component=\"b\"} 0\n"));
    /* no TYPE line twice anywhere */
    for (const char *t = strstr(b.ptr, "# TYPE "); t; t = strstr(t + 1, "# TYPE ")) {
        const char *e = strchr(t + 7, ' ');
        char key[200];
        snprintf(key, sizeof key, "# TYPE %.*s ", (int)(e - (t + 7)), t + 7);
        assert_null(strstr(t + 1, key));
    }
    assert_true(sl_pushgw_stat_sum(p, "sluice_parquet_open_writers") == 0);
    assert_true(sl_pushgw_stat_sum(p, "sluice_receiver_spool_bytes") == 0);
    sl_buf_fini(&b);
    sl_pipeline_free(p);
    sl_config_free(cfg);
}

int main(void)
{
    sl_core_init();
    sl_registry_set(sl_io_builtins());
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_url), cmocka_unit_test(test_render)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
