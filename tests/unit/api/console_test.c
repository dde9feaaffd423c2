/* console_test.c — the web console's endpoints without HTTP: samples through the pipeline tap,
 * component stats, Stellar and SQL queries, path matching and the embedded assets. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "api/console.h"
#include "base/alloc.h"
#include "base/buf.h"
#include "core/config.h"
#include "core/pipeline.h"
#include "io/plugins.h"
#include "state/store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int count_of(const char *s, const char *needle)
{
    int n = 0;
    for (const char *p = strstr(s, needle); p; p = strstr(p + 1, needle))
        n++;
    return n;
}

/* Build and run a pipeline from yaml to its end (--once), the samples installed before the
 * start, the console made after it (as `sluice run` does). */
static struct sl_pipeline *run_once(const char *yaml, int64_t samples, struct sl_config **cfg,
                                    struct sl_console **con)
{
    struct sl_diag d;
    sl_diag_init(&d);
    assert_int_equal(sl_config_load_string(yaml, strlen(yaml), "t.yaml", cfg, &d), 0);
    struct sl_pipeline_opts o = {.workers = 2, .once = true};
    struct sl_pipeline *p = sl_pipeline_new(*cfg, &o, &d);
    assert_non_null(p);
    assert_int_equal(sl_console_install_samples(p, samples, &d), 0); /* as sluice run does */
    assert_int_equal(sl_pipeline_start(p), 0);
    assert_int_equal(sl_console_new(p, samples, con, &d), 0);
    assert_true(sl_pipeline_wait(p, 60000));
    return p;
}

static void test_samples(void **state)
{
    (void)state;
    char path[] = "/tmp/console_test_XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    FILE *f = fdopen(fd, "w");
    for (int i = 0; i < 300; i++)
        fprintf(f, i % 100 == 99 ? "{\"seq\": %d, broken\n" : "{\"seq\": %d}\n", i);
    fclose(f);
    char yaml[512];
    snprintf(yaml, sizeof yaml,
             "sources:\n"
             "  in: {type: file, path: [\"%s\"]}\n"
             "sinks:\n"
             "  out: {type: null, inputs: [in]}\n"
             "  dead: {type: null, inputs: [in.errors]}\n",
             path);
    struct sl_config *cfg = NULL;
    struct sl_console *con = NULL;
    struct sl_pipeline *p = run_once(yaml, 5, &cfg, &con);
    struct sl_buf b;
    sl_buf_init(&b, 0);
    assert_int_equal(sl_console_samples_json(con, "in", &b), 200);
    /* 5 kept of the output, the last 5 of a batch; the 3 dead letters of the source's errors */
    assert_non_null(strstr(b.ptr, "\"capacity\":5,\"enabled\":true"));
    const char *errs = strstr(b.ptr, "\"errors\":[");
    assert_non_null(errs);
    char *out_part = sl_xstrndup(b.ptr, (size_t)(errs - b.ptr));
    assert_int_equal(count_of(out_part, "\"event\":{\"seq\":"), 5);
    assert_non_null(strstr(out_part, "{\"seq\":298}")); /* newest first: the last good line */
    sl_free(out_part);
    assert_int_equal(count_of(errs, "\"at_ms\":"), 3);
    assert_non_null(strstr(errs, "\"errors_seen\":3"));
    /* a sink's samples are what it was given */
    sl_buf_reset(&b);
    assert_int_equal(sl_console_samples_json(con, "out", &b), 200);
    assert_int_equal(count_of(b.ptr, "\"event\":{\"seq\":"), 5);
    sl_buf_reset(&b);
    assert_int_equal(sl_console_samples_json(con, "nope", &b), 404);
    /* stats: every component, with its own metrics object */
    sl_buf_reset(&b);
    assert_int_equal(sl_console_stats_json(con, &b), 200);
    assert_non_null(strstr(b.ptr, "{\"samples\":5,"));
    assert_non_null(
        strstr(b.ptr, "{\"name\":\"in\",\"type\":\"file\",\"kind\":\"source\",\"stats\":{"));
    assert_non_null(
        strstr(b.ptr, "{\"name\":\"out\",\"type\":\"null\",\"kind\":\"sink\",\"stats\":{"));
    /* history: the first point is taken when the console starts */
    for (int i = 0; i < 300; i++) { /* the thread may not have run yet */
        sl_buf_reset(&b);
        assert_int_equal(sl_console_history_json(con, &b), 200);
        if (!strstr(b.ptr, "\"points\":[]"))
            break;
        usleep(10000);
    }
    assert_non_null(strstr(b.ptr, "{\"every_ms\":2000,\"points\":[{\"t_ms\":"));
    assert_non_null(strstr(b.ptr, "{\"name\":\"in\",\"events_in\":"));
    assert_non_null(strstr(b.ptr, "{\"name\":\"dead\",\"events_in\":"));
    /* a second console shares the rings (install_samples once: a no-op after) */
    struct sl_console *again = NULL;
    struct sl_diag d;
    sl_diag_init(&d);
    assert_int_equal(sl_console_install_samples(p, 5, &d), 0);
    assert_int_equal(sl_console_new(p, 5, &again, &d), 0);
    sl_buf_reset(&b);
    assert_int_equal(sl_console_samples_json(again, "out", &b), 200);
    assert_int_equal(count_of(b.ptr, "\"event\":{\"seq\":"), 5);
    sl_console_free(again);
    assert_int_equal(sl_console_new(p, 0, &again, &d), 0); /* no samples: no tap needed */
    sl_buf_reset(&b);
    assert_int_equal(sl_console_samples_json(again, "in", &b), 200);
    assert_non_null(strstr(b.ptr, "\"enabled\":false"));
    sl_console_free(again);
    sl_buf_fini(&b);
    sl_console_free(con);
    sl_pipeline_free(p); /* frees the rings */
    sl_config_free(cfg);
    unlink(path);
}

static void other_tap(void *ctx, const struct sl_component *c, unsigned port,
                      const struct sl_batch *b)
{
    (void)ctx;
    (void)c;
    (void)port;
    (void)b;
}

static void test_limits(void **state)
{
    (void)state;
    static const char yaml[] = "sources:\n"
                               "  gen: {type: generator, count: 10}\n"
                               "sinks:\n"
                               "  out: {type: null, inputs: [gen]}\n";
    struct sl_diag d;
    sl_diag_init(&d);
    struct sl_config *cfg = NULL;
    assert_int_equal(sl_config_load_string(yaml, sizeof yaml - 1, "t.yaml", &cfg, &d), 0);
    struct sl_pipeline_opts o = {.workers = 1};
    struct sl_pipeline *p = sl_pipeline_new(cfg, &o, &d);
    assert_non_null(p);
    struct sl_console *c = NULL;
    assert_int_equal(sl_console_new(p, SL_CONSOLE_MAX_SAMPLES + 1, &c, &d), SL_EINVAL);
    assert_non_null(strstr(d.msg, "samples must be 0..1000"));
    assert_int_equal(sl_console_new(p, -1, &c, &d), SL_EINVAL);
    assert_null(c);
    /* another tap: no samples */
    assert_int_equal(sl_pipeline_set_tap(p, other_tap, NULL, NULL), 0);
    assert_int_equal(sl_console_new(p, 5, &c, &d), SL_EEXIST);
    assert_null(c);
    sl_pipeline_free(p);
    sl_config_free(cfg);
    /* the config key */
    static const char bad[] = "api: {listen: \"127.0.0.1:0\", samples: x}\n"
                              "sources:\n  gen: {type: generator}\n";
    sl_diag_init(&d);
    assert_int_not_equal(sl_config_load_string(bad, sizeof bad - 1, "t.yaml", &cfg, &d), 0);
    assert_non_null(strstr(d.msg, "api.samples must be a number"));
    static const char good[] = "api: {listen: \"127.0.0.1:0\", samples: 20}\n"
                               "sources:\n  gen: {type: generator}\n";
    assert_int_equal(sl_config_load_string(good, sizeof good - 1, "t.yaml", &cfg, &d), 0);
    assert_int_equal(cfg->api.samples, 20);
    sl_config_free(cfg);
}

static void test_query(void **state)
{
    (void)state;
    struct sl_buf b;
    sl_buf_init(&b, 0);
    assert_int_equal(sl_console_query_json("stellar", "1 + 2", &b), 200);
    assert_string_equal(b.ptr, "{\"lang\":\"stellar\",\"result\":3}\n");
    sl_buf_reset(&b);
    assert_int_equal(sl_console_query_json(NULL, "[1, 'a', {'k': 2.5}]", &b), 200);
    assert_string_equal(b.ptr, "{\"lang\":\"stellar\",\"result\":[1,\"a\",{\"k\":2.5}]}\n");
    sl_buf_reset(&b);
    assert_int_equal(sl_console_query_json("stellar", "1 +", &b), 400);
    assert_non_null(strstr(b.ptr, "\"col\":4"));
    sl_buf_reset(&b);
    assert_int_equal(sl_console_query_json("stellar", "", &b), 400);
    sl_buf_reset(&b);
    assert_int_equal(sl_console_query_json("cobol", "1", &b), 400);
    sl_buf_reset(&b);
    assert_int_equal(sl_console_query_json("sql", "SELECT 1", &b), 503); /* no store */

    char dir[] = "/tmp/console_store_XXXXXX";
    assert_non_null(mkdtemp(dir));
    char url[128];
    snprintf(url, sizeof url, "sqlite:%s/p.db", dir);
    struct sl_store *st = NULL;
    struct sl_diag d;
    sl_diag_init(&d);
    assert_int_equal(sl_store_open(url, &st, &d), 0);
    sl_store_set_default(st);
    sl_buf_reset(&b);
    assert_int_equal(sl_console_query_json("sql", "SELECT 1 AS one, 'x' AS s, NULL AS z, 2.5", &b),
                     200);
    assert_string_equal(b.ptr,
                        "{\"lang\":\"sql\",\"columns\":[\"one\",\"s\",\"z\",\"2.5\"],\"rows\":"
                        "[[1,\"x\",null,2.5]],\"truncated\":false}\n");
    sl_buf_reset(&b);
    assert_int_equal(
        sl_console_query_json("sql",
                              "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM "
                              "n WHERE i < 5000) SELECT i FROM n",
                              &b),
        200);
    assert_int_equal(count_of(b.ptr, "["), SL_CONSOLE_QUERY_MAX_ROWS + 2);
    assert_non_null(strstr(b.ptr, "\"truncated\":true"));
    sl_buf_reset(&b);
    assert_int_equal(sl_console_query_json("sql", "DELETE FROM measurements", &b), 400);
    assert_non_null(strstr(b.ptr, "read-only"));
    sl_buf_reset(&b);
    assert_int_equal(sl_console_query_json("sql", "SELECT 1; SELECT 2", &b), 400);
    assert_non_null(strstr(b.ptr, "one statement"));
    sl_buf_reset(&b);
    assert_int_equal(sl_console_query_json("sql", "SELEC 1", &b), 400);
    assert_non_null(strstr(b.ptr, "syntax error"));
    sl_buf_reset(&b);
    assert_int_equal(sl_console_query_json("sql", "  ; ", &b), 400);
    sl_buf_reset(&b);
    assert_int_equal(sl_console_query_json("sql", "ATTACH DATABASE '/tmp/x.db' AS x", &b), 400);
    assert_int_equal(access("/tmp/x.db", F_OK), -1);
    /* an answer larger than the API's 64 MiB buffer: rows stop there ("truncated": true),
     * the JSON stays whole (was: values silently left out, "[,,,]", "truncated": false) */
    struct sl_buf big;
    sl_buf_init(&big, 64u << 20);
    assert_int_equal(sl_console_query_json("sql",
                                           "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + "
                                           "1 FROM n WHERE i < 100) SELECT i, printf('%.*c', "
                                           "1000000, 'x') AS s FROM n",
                                           &big),
                     200);
    assert_non_null(strstr(big.ptr, "\"truncated\":true}\n"));
    assert_null(strstr(big.ptr, ",,"));
    assert_null(strstr(big.ptr, ",]"));
    assert_int_equal(count_of(big.ptr, "[") - 2, count_of(big.ptr, "]") - 2);
    sl_buf_fini(&big);
    sl_store_set_default(NULL);
    sl_store_close(st);
    sl_buf_fini(&b);
    char cmd[256];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
}

static void test_paths_and_assets(void **state)
{
    (void)state;
    bool open;
    assert_true(sl_console_match("/console/", &open) && open);
    assert_true(sl_console_match("/console", &open) && open);
    assert_true(sl_console_match("/console/app.js", &open) && open);
    assert_true(sl_console_match("/api/v1/console/stats", &open) && !open);
    assert_false(sl_console_match("/consoles", &open));
    assert_false(sl_console_match("/api/v1/pipeline", &open));
    /* the embedded bundle: index.html, app.js, app.css with types and quoted ETags */
    const char *want[][2] = {
        {"index.html", "text/html"}, {"app.js", "text/javascript"}, {"app.css", "text/css"}};
    for (size_t i = 0; i < 3; i++) {
        const struct sl_console_asset *a = NULL;
        for (size_t k = 0; k < sl_console_asset_count; k++)
            if (!strcmp(sl_console_assets[k].path, want[i][0]))
                a = &sl_console_assets[k];
        assert_non_null(a);
        assert_true(!strncmp(a->type, want[i][1], strlen(want[i][1])));
        assert_true(a->len > 100 && a->data[a->len] == 0);
        assert_true(a->etag[0] == '"' && strlen(a->etag) == 22);
        assert_true(a->gz_data && a->gz_len < a->len && a->gz_data[0] == 0x1f &&
                    a->gz_data[1] == 0x8b);
    }
}

int main(void)
{
    sl_core_init();
    sl_registry_set(sl_io_builtins());
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_samples),
        cmocka_unit_test(test_limits),
        cmocka_unit_test(test_query),
        cmocka_unit_test(test_paths_and_assets),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
