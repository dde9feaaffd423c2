/*
 * in_commands_test.c — the `commands` source: collector id validation, and the source in a
 * real pipeline with a `file` input and a collecting sink: the audit events of a new version
 * and of a delivery, 200 once then 204 over HTTP, no new version when a restart finds the
 * same file, a pipeline where nothing reads the source (output_optional); a new set that
 * cannot be stored (the state file locked by another process) is stored at a later poll;
 * the allow-list (collectors, collectors_file re-read when it changes): 400 for other ids;
 * without one, max_collectors bounds the known ids (503 beyond, known ids still served, across
 * a restart); an id given twice is 400.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "../testkit.h"

#include "base/alloc.h"
#include "base/buf.h"
#include "core/config.h"
#include "core/pipeline.h"
#include "io/in_commands.h"
#include "io/plugins.h"
#include "sys/net.h"

#include <curl/curl.h>
#include <sqlite3.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static void test_id_check(void **state)
{
    char id[SL_COMMANDS_ID_MAX + 2];
    memset(id, 'a', sizeof id);
    assert_null(sl_commands_id_check("c1", 2));
    assert_null(sl_commands_id_check("A-z_0.9:x", 9));
    assert_null(sl_commands_id_check(id, SL_COMMANDS_ID_MAX));
    assert_string_equal(sl_commands_id_check(id, SL_COMMANDS_ID_MAX + 1),
                        "id longer than 128 bytes");
    assert_string_equal(sl_commands_id_check(NULL, 0), "missing id parameter");
    assert_string_equal(sl_commands_id_check("", 0), "empty id");
    const char *bad[] = {"a b", "a/b", "a+b", "a%b", "a\"b", "é", "a\nb", "a,b", "a=b"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_non_null(sl_commands_id_check(bad[i], strlen(bad[i])));
    assert_non_null(sl_commands_id_check("a\0b", 3)); /* a NUL inside is not cut off */
}

static struct sl_pipeline *start(const char *yaml, struct sl_config **cfg, bool once)
{
    struct sl_diag d;
    sl_diag_init(&d);
    if (sl_config_load_string(yaml, strlen(yaml), "t.yaml", cfg, &d))
        fail_msg("config: %s", d.msg);
    struct sl_pipeline_opts o = {.workers = 1, .once = once, .queue_batches = 4};
    struct sl_pipeline *p = sl_pipeline_new(*cfg, &o, &d);
    if (!p) {
        char m[1400];
        sl_diag_format(&d, m, sizeof(m));
        fail_msg("pipeline: %s", m);
    }
    assert_int_equal(sl_pipeline_start(p), 0);
    return p;
}

static struct collect *sink_of(struct sl_pipeline *p, const char *name)
{
    struct sl_component *c = sl_pipeline_find(p, name);
    assert_non_null(c);
    return c->state;
}

static size_t on_body(char *p, size_t size, size_t nmemb, void *arg)
{
    sl_buf_append(arg, p, size * nmemb);
    return size * nmemb;
}

/* GET /agent/ping?id=ID: the status; the body into out. */
static long ping(int port, const char *id, struct sl_buf *out)
{
    char url[256];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/agent/ping?id=%s", port, id);
    CURL *h = curl_easy_init();
    assert_non_null(h);
    sl_buf_reset(out);
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, out);
    long status = 0;
    if (curl_easy_perform(h) == CURLE_OK)
        curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_cleanup(h);
    return status;
}

static int free_port(void)
{
    int fd = sl_net_listen_tcp("127.0.0.1", 0, 1);
    assert_true(fd >= 0);
    int port = sl_net_local_port(fd);
    close(fd);
    return port;
}

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static void test_file_pipeline(void **state)
{
    char file[128], yaml[1024];
    snprintf(file, sizeof file, "%s/cmds.json", dir);
    write_file(file, "{\"run\":[1,2]}");
    int port = free_port();
    snprintf(yaml, sizeof yaml,
             "sources:\n"
             "  cmds: {type: commands, file: \"%s\", state: \"%s/st.db\",\n"
             "         listen: \"127.0.0.1:%d\", poll_interval: 20ms}\n"
             "sinks:\n"
             "  got: {type: collect, inputs: [cmds]}\n",
             file, dir, port);
    struct sl_config *cfg = NULL;
    struct sl_pipeline *p = start(yaml, &cfg, false);
    struct sl_buf body;
    sl_buf_init(&body, 1 << 20);
    long st = 0;
    for (int i = 0; i < 250 && (st = ping(port, "c1", &body)) == 204; i++)
        usleep(20000); /* until the first poll read the file */
    assert_int_equal(st, 200);
    assert_int_equal(body.len, strlen("{\"run\":[1,2]}"));
    assert_memory_equal(body.ptr, "{\"run\":[1,2]}", body.len);
    assert_int_equal(ping(port, "c1", &body), 204);
    assert_int_equal(ping(port, "bad%2Fid", &body), 400);
    sl_pipeline_stop(p);
    assert_true(sl_pipeline_wait(p, 10000));
    struct collect *got = sink_of(p, "got");
    assert_int_equal(got->events, 2);
    sl_buf_putc(&got->text, '\0');
    assert_non_null(strstr(got->text.ptr, "\"type\":\"command_set\""));
    assert_non_null(strstr(got->text.ptr, "\"bytes\":13,\"origin\":\"file\""));
    assert_non_null(
        strstr(got->text.ptr, "\"type\":\"command_delivery\",\"collector\":\"c1\",\"version\":"));
    sl_pipeline_free(p);
    sl_config_free(cfg);

    /* again on the same state, --once: the file is unchanged, nothing new; c1 had it */
    p = start(yaml, &cfg, true);
    assert_true(sl_pipeline_wait(p, 10000));
    assert_int_equal(sink_of(p, "got")->events, 0);
    sl_pipeline_free(p);
    sl_config_free(cfg);

    /* a changed file, --once: one new version */
    write_file(file, "[]");
    p = start(yaml, &cfg, true);
    assert_true(sl_pipeline_wait(p, 10000));
    got = sink_of(p, "got");
    assert_int_equal(got->events, 1);
    sl_buf_putc(&got->text, '\0');
    assert_non_null(strstr(got->text.ptr, "\"bytes\":2,\"origin\":\"file\""));
    sl_pipeline_free(p);
    sl_config_free(cfg);
    sl_buf_fini(&body);
}

/* The value of one of the source's own metrics (cmd_stats). */
static double stat_of(struct sl_pipeline *p, const char *name)
{
    struct sl_component *c = sl_pipeline_find(p, "cmds");
    struct sl_comp_stat st[SL_COMP_STATS_MAX];
    size_t n = c->ops->stats(c, st);
    for (size_t i = 0; i < n; i++)
        if (strcmp(st[i].name, name) == 0)
            return st[i].value;
    fail_msg("no metric %s", name);
    return -1;
}

/* ping until the answer is not 204 (5 s at most): its status */
static long ping_until(int port, const char *id, struct sl_buf *body)
{
    long st = 0;
    for (int i = 0; i < 250 && (st = ping(port, id, body)) == 204; i++)
        usleep(20000);
    return st;
}

/* A changed file whose set cannot be stored (another process holds the state file's write
 * lock: SQLITE_BUSY after the store's busy timeout) must be read and stored again at a later
 * poll, not skipped as "unchanged" because its stat was remembered. */
static void test_store_busy_retry(void **state)
{
    char file[128], db[128], yaml[1024];
    snprintf(file, sizeof file, "%s/cmds.json", dir);
    snprintf(db, sizeof db, "%s/busy.db", dir);
    write_file(file, "{\"v\":1}");
    int port = free_port();
    snprintf(yaml, sizeof yaml,
             "sources:\n"
             "  cmds: {type: commands, file: \"%s\", state: \"%s\",\n"
             "         listen: \"127.0.0.1:%d\", poll_interval: 20ms}\n",
             file, db, port);
    struct sl_config *cfg = NULL;
    struct sl_pipeline *p = start(yaml, &cfg, false);
    struct sl_buf body;
    sl_buf_init(&body, 1 << 20);
    assert_int_equal(ping_until(port, "c1", &body), 200);

    sqlite3 *other = NULL;
    assert_int_equal(sqlite3_open(db, &other), SQLITE_OK);
    sqlite3_busy_timeout(other, 5000); /* the source may be writing */
    assert_int_equal(sqlite3_exec(other, "BEGIN IMMEDIATE", NULL, NULL, NULL), SQLITE_OK);
    double failures = stat_of(p, "sluice_commands_poll_failures_total");
    write_file(file, "{\"v\":2}"); /* another size: a changed file */
    for (int i = 0; i < 1000 && stat_of(p, "sluice_commands_poll_failures_total") == failures; i++)
        usleep(20000); /* the store's busy timeout is 5 s */
    assert_true(stat_of(p, "sluice_commands_poll_failures_total") > failures);
    assert_int_equal(stat_of(p, "sluice_commands_versions_total"), 1);
    assert_int_equal(sqlite3_exec(other, "ROLLBACK", NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(other);

    /* the file did not change again: the next poll still offers it */
    assert_int_equal(ping_until(port, "c1", &body), 200);
    assert_int_equal(body.len, strlen("{\"v\":2}"));
    assert_memory_equal(body.ptr, "{\"v\":2}", body.len);
    assert_int_equal(stat_of(p, "sluice_commands_versions_total"), 2);
    sl_pipeline_stop(p);
    assert_true(sl_pipeline_wait(p, 10000));
    sl_pipeline_free(p);
    sl_config_free(cfg);
    sl_buf_fini(&body);
}

static void test_allow_list(void **state)
{
    char file[128], ids[128], yaml[1024];
    snprintf(file, sizeof file, "%s/cmds.json", dir);
    snprintf(ids, sizeof ids, "%s/ids.txt", dir);
    write_file(file, "[1]");
    write_file(ids, "# the fleet\n  c3  # rack 1\r\n\nc4\n");
    int port = free_port();
    snprintf(yaml, sizeof yaml,
             "sources:\n"
             "  cmds: {type: commands, file: \"%s\", state: \"%s/al.db\",\n"
             "         listen: \"127.0.0.1:%d\", poll_interval: 20ms,\n"
             "         collectors: [c1, c2], collectors_file: \"%s\"}\n",
             file, dir, port, ids);
    struct sl_config *cfg = NULL;
    struct sl_pipeline *p = start(yaml, &cfg, false);
    struct sl_buf body;
    sl_buf_init(&body, 1 << 20);
    assert_int_equal(ping_until(port, "c1", &body), 200);
    assert_int_equal(ping(port, "c3", &body), 200);
    assert_int_equal(ping(port, "c4", &body), 200);
    assert_int_equal(ping(port, "c5", &body), 400);
    sl_buf_putc(&body, '\0');
    assert_string_equal(body.ptr, "{\"error\":\"unknown collector\"}\n");
    assert_int_equal(ping(port, "c1&id=c2", &body), 400); /* id twice */
    sl_buf_putc(&body, '\0');
    assert_non_null(strstr(body.ptr, "more than once"));
    assert_int_equal(ping(port, "c2&id=c2", &body), 400);
    assert_int_equal(stat_of(p, "sluice_commands_unknown_collectors_total"), 1);
    assert_int_equal(stat_of(p, "sluice_commands_bad_requests_total"), 3);
    assert_int_equal(stat_of(p, "sluice_commands_collectors"), 4);

    /* the file changes: c5 in, c3 and c4 out; the list keeps c1, c2 */
    write_file(ids, "c5\n");
    long st = 0;
    for (int i = 0; i < 250 && (st = ping(port, "c5", &body)) == 400; i++)
        usleep(20000);
    assert_int_equal(st, 200);
    assert_int_equal(ping(port, "c3", &body), 400);
    assert_int_equal(ping(port, "c2", &body), 200);
    assert_int_equal(stat_of(p, "sluice_commands_collectors"), 3);
    /* a bad line: the list in use stays */
    write_file(ids, "c6\nnot valid!\n");
    double failures = stat_of(p, "sluice_commands_poll_failures_total");
    for (int i = 0; i < 250 && stat_of(p, "sluice_commands_poll_failures_total") == failures; i++)
        usleep(20000);
    assert_int_equal(ping(port, "c6", &body), 400);
    assert_int_equal(ping(port, "c5", &body), 204);
    /* nothing was recorded for unknown ids */
    assert_int_equal(stat_of(p, "sluice_commands_deliveries_total"), 5);
    sl_pipeline_stop(p);
    assert_true(sl_pipeline_wait(p, 10000));
    sl_pipeline_free(p);
    sl_config_free(cfg);

    /* a collectors_file that cannot be read, a bad id in collectors: config errors */
    const char *bad[] = {"collectors_file: \"/nonexistent/ids\"", "collectors: [ok, \"a b\"]"};
    for (size_t i = 0; i < 2; i++) {
        snprintf(yaml, sizeof yaml,
                 "sources:\n"
                 "  cmds: {type: commands, file: \"%s\", state: \"%s/al.db\",\n"
                 "         listen: \"127.0.0.1:0\", %s}\n",
                 file, dir, bad[i]);
        struct sl_diag d;
        sl_diag_init(&d);
        assert_int_equal(sl_config_load_string(yaml, strlen(yaml), "t.yaml", &cfg, &d), 0);
        struct sl_pipeline_opts o = {.workers = 1, .once = true, .queue_batches = 4};
        assert_null(sl_pipeline_new(cfg, &o, &d));
        assert_non_null(strstr(d.msg, i == 0 ? "collectors_file" : "collectors[1]"));
        sl_config_free(cfg);
    }
    sl_buf_fini(&body);
}

static void test_max_collectors(void **state)
{
    char file[128], yaml[1024];
    snprintf(file, sizeof file, "%s/cmds.json", dir);
    write_file(file, "[1]");
    int port = free_port();
    snprintf(yaml, sizeof yaml,
             "sources:\n"
             "  cmds: {type: commands, file: \"%s\", state: \"%s/mc.db\",\n"
             "         listen: \"127.0.0.1:%d\", poll_interval: 20ms, max_collectors: 2}\n",
             file, dir, port);
    struct sl_config *cfg = NULL;
    struct sl_pipeline *p = start(yaml, &cfg, false);
    struct sl_buf body;
    sl_buf_init(&body, 1 << 20);
    assert_int_equal(ping_until(port, "c1", &body), 200);
    assert_int_equal(ping(port, "c2", &body), 200);
    assert_int_equal(ping(port, "c3", &body), 503);
    sl_buf_putc(&body, '\0');
    assert_non_null(strstr(body.ptr, "too many collectors"));
    assert_int_equal(ping(port, "c4", &body), 503);
    assert_int_equal(ping(port, "c1", &body), 204); /* known ids keep working */
    assert_int_equal(stat_of(p, "sluice_commands_collectors_refused_total"), 2);
    assert_int_equal(stat_of(p, "sluice_commands_collectors"), 2);
    /* a new version: known ids get it, new ones are still refused */
    write_file(file, "[2]");
    assert_int_equal(ping_until(port, "c2", &body), 200);
    assert_int_equal(ping(port, "c3", &body), 503);
    sl_pipeline_stop(p);
    assert_true(sl_pipeline_wait(p, 10000));
    sl_pipeline_free(p);
    sl_config_free(cfg);

    /* a restart keeps the known ids */
    p = start(yaml, &cfg, false);
    assert_int_equal(ping(port, "c3", &body), 503);
    assert_int_equal(ping(port, "c1", &body), 200);
    assert_int_equal(ping(port, "c2", &body), 204);
    sl_pipeline_stop(p);
    assert_true(sl_pipeline_wait(p, 10000));
    sl_pipeline_free(p);
    sl_config_free(cfg);
    sl_buf_fini(&body);
}

static void test_output_optional(void **state)
{
    char yaml[512], file[128];
    snprintf(file, sizeof file, "%s/set.json", dir);
    write_file(file, "{}"); /* a new version: an event that nobody reads */
    snprintf(yaml, sizeof yaml,
             "sources:\n"
             "  cmds: {type: commands, file: \"%s\", state: \"%s/o.db\",\n"
             "         listen: \"127.0.0.1:0\"}\n",
             file, dir);
    struct sl_config *cfg = NULL;
    struct sl_pipeline *p = start(yaml, &cfg, true); /* no sink: not a config error */
    assert_true(sl_pipeline_wait(p, 10000));
    assert_int_equal(sl_pipeline_find(p, "cmds")->m.events_out, 1);
    sl_pipeline_free(p);
    sl_config_free(cfg);
}

int main(void)
{
    sl_core_init();
    static const struct sl_component_ops *types[64];
    size_t n = 0;
    for (const struct sl_component_ops *const *t = sl_io_builtins(); *t && n < 62; t++)
        types[n++] = *t;
    types[n++] = &collect_ops;
    types[n] = NULL;
    sl_registry_set(types);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_id_check),
        cmocka_unit_test_setup_teardown(test_file_pipeline, setup, teardown),
        cmocka_unit_test_setup_teardown(test_output_optional, setup, teardown),
        cmocka_unit_test_setup_teardown(test_store_busy_retry, setup, teardown),
        cmocka_unit_test_setup_teardown(test_allow_list, setup, teardown),
        cmocka_unit_test_setup_teardown(test_max_collectors, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
