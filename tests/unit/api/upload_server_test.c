/*
 * upload_server_test.c — the upload server of `sluice receiver` in process, driven by libcurl's
 * mime API: field validation helpers, start-up errors (root not a directory, keys file missing, a
 * corrupt aggregators.json), and uploads whose parts come in orders the contract does not use (the
 * key after the file: streamed, then removed), plus the counters sl_upload_server_stop reports.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "api/upload_server.h"
#include "codec/netevent.h"
#include "base/alloc.h"
#include "base/buf.h"
#include "codec/parquet.h"
#include "core/event.h"

#include <curl/curl.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char g_dir[256];

static void write_file(const char *name, const void *p, size_t n)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/%s", g_dir, name);
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(p, 1, n, f), n);
    fclose(f);
}

static int mem_write(void *ctx, const void *p, size_t n)
{
    return sl_buf_append(ctx, p, n);
}

/* A small Parquet file from the project's writer. */
static void parquet_bytes(struct sl_buf *out, int rows)
{
    sl_buf_init(out, 0);
    struct sl_pq_schema *s = sl_pq_schema_new();
    assert_true(sl_pq_schema_add(s, SL_PQ_ROOT, "n", SL_PQ_INT64, false, 0) >= 0);
    struct sl_pq_opts o = {0};
    struct sl_pq_writer *w = sl_pq_writer_new(s, &o, mem_write, out);
    for (int i = 0; i < rows; i++) {
        struct sl_value v = sl_value_int(i);
        const struct sl_value *vals[1] = {&v};
        struct sl_pq_reject rej;
        assert_int_equal(sl_pq_write_row(w, vals, &rej), 0);
    }
    assert_int_equal(sl_pq_writer_close(w), 0);
    sl_pq_writer_free(w);
}

static int count_files(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        return 0;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)))
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
            n++;
    closedir(d);
    return n;
}

static size_t sink(char *p, size_t size, size_t n, void *ctx)
{
    sl_buf_append(ctx, p, size * n);
    return size * n;
}

/* POST parts in the given order: pairs of (name, value); a value "@bytes" is the file. */
static long post(int port, const char *const *parts, const struct sl_buf *file, char *body,
                 size_t body_len)
{
    CURL *c = curl_easy_init();
    curl_mime *m = curl_mime_init(c);
    for (size_t i = 0; parts[i]; i += 2) {
        curl_mimepart *p = curl_mime_addpart(m);
        curl_mime_name(p, parts[i]);
        if (strcmp(parts[i + 1], "@bytes") == 0) {
            curl_mime_data(p, file->ptr, file->len);
            curl_mime_filename(p, "x.parquet");
            curl_mime_type(p, "application/octet-stream");
        } else if (strcmp(parts[i + 1], "@nul") == 0) {
            curl_mime_data(p, "FTP\0x", 5); /* a NUL inside a field */
        } else {
            curl_mime_data(p, parts[i + 1], CURL_ZERO_TERMINATED);
        }
    }
    char url[64];
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/up", port);
    struct sl_buf b;
    sl_buf_init(&b, 0);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_MIMEPOST, m);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, sink);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
    long code = 0;
    if (curl_easy_perform(c) == CURLE_OK)
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
    snprintf(body, body_len, "%s", b.ptr ? b.ptr : "");
    sl_buf_fini(&b);
    curl_mime_free(m);
    curl_easy_cleanup(c);
    return code;
}

static void test_helpers(void **state)
{
    assert_true(sl_upload_server_type_ok("GENERAL"));
    assert_true(sl_upload_server_type_ok("SYSTEM_STATS"));
    assert_true(sl_upload_server_type_ok("DCE_RPC"));
    assert_false(sl_upload_server_type_ok("http"));
    assert_false(sl_upload_server_type_ok(""));
    assert_true(sl_aggregator_id_ok("a", 1));
    assert_true(sl_aggregator_id_ok("node-1.site_B", 13));
    assert_false(sl_aggregator_id_ok("", 0));
    assert_false(sl_aggregator_id_ok("a/b", 3));
    assert_false(sl_aggregator_id_ok("a b", 3));
    assert_false(sl_aggregator_id_ok("a:b", 3));
    char id[130];
    memset(id, 'x', sizeof(id));
    assert_true(sl_aggregator_id_ok(id, 128));
    assert_false(sl_aggregator_id_ok(id, 129));
}

static void test_start_errors(void **state)
{
    char root[300], keys[300];
    snprintf(root, sizeof(root), "%s/root1", g_dir);
    snprintf(keys, sizeof(keys), "%s/keys1", g_dir);
    struct sl_upload_server_opts o = {.listen = "127.0.0.1:0", .root = root, .keys_path = keys};
    struct sl_diag d;
    sl_diag_init(&d);
    assert_null(sl_upload_server_start(&o, &d));
    assert_non_null(strstr(d.msg, "keys1"));
    write_file("keys1", "k\n", 2);
    write_file("afile", "x", 1);
    char afile[300];
    snprintf(afile, sizeof(afile), "%s/afile", g_dir);
    o.root = afile;
    sl_diag_init(&d);
    assert_null(sl_upload_server_start(&o, &d));
    assert_non_null(strstr(d.msg, "not a writable directory"));
    o.root = root;
    mkdir(root, 0755);
    /* a broken aggregators.json is set aside (<path>.bad-<secs>), the server starts */
    write_file("root1/aggregators.json", "[1,2", 4);
    sl_diag_init(&d);
    struct sl_upload_server *r0 = sl_upload_server_start(&o, &d);
    assert_non_null(r0);
    sl_upload_server_stop(r0, NULL);
    char agg_path[400];
    snprintf(agg_path, sizeof(agg_path), "%s/aggregators.json", root);
    assert_int_equal(access(agg_path, F_OK), -1);
    assert_int_equal(count_files(root), 1); /* aggregators.json.bad-* */
    const char *aggs = "{\"a1\": {\"description\": \"d\"}}";
    write_file("root1/aggregators.json", aggs, strlen(aggs));
    o.listen = "nonsense";
    sl_diag_init(&d);
    assert_null(sl_upload_server_start(&o, &d));
    assert_non_null(strstr(d.msg, "--listen"));
    o.listen = "127.0.0.1:0";
    struct sl_upload_server *r = sl_upload_server_start(&o, &d);
    assert_non_null(r);
    assert_true(sl_upload_server_port(r) > 0);
    sl_upload_server_stop(r, NULL);
    sl_upload_server_stop(NULL, NULL);
}

static void test_uploads(void **state)
{
    char root[300], keys[300], dir[400];
    snprintf(root, sizeof(root), "%s/root2", g_dir);
    snprintf(keys, sizeof(keys), "%s/keys2", g_dir);
    write_file("keys2", "# comment\nsecret\n", strlen("# comment\nsecret\n"));
    struct sl_upload_server_opts o = {
        .listen = "127.0.0.1:0", .root = root, .keys_path = keys, .upload_path = "/up"};
    struct sl_diag d;
    sl_diag_init(&d);
    struct sl_upload_server *r = sl_upload_server_start(&o, &d);
    assert_non_null(r);
    int port = sl_upload_server_port(r);
    struct sl_buf pq;
    parquet_bytes(&pq, 42);
    char body[600];

    /* the key after the file: refused when the file part starts, nothing written */
    const char *late_key[] = {"aggregator-id", "a1",     "type",    "FTP",  "time", "86400000",
                              "file",          "@bytes", "api-key", "nope", NULL};
    assert_int_equal(post(port, late_key, &pq, body, sizeof(body)), 401);
    assert_string_equal(body, "missing api-key before the file part\n");
    assert_int_equal(count_files(root), 0); /* no temporary file, no directory */

    const char *good[] = {"api-key", "secret",   "aggregator-id", "a1",     "type", "FTP",
                          "time",    "86400000", "file",          "@bytes", NULL};
    assert_int_equal(post(port, good, &pq, body, sizeof(body)), 200);
    assert_string_equal(body, "{\"stored\":\"FTP/1970-01-02/a1-86400000.parquet\",\"rows\":42}\n");
    snprintf(dir, sizeof(dir), "%s/FTP/1970-01-02", root);
    assert_int_equal(count_files(dir), 1);
    assert_int_equal(post(port, good, &pq, body, sizeof(body)), 200);
    assert_non_null(strstr(body, "\"duplicate\":true"));
    assert_int_equal(count_files(dir), 1);

    /* fields after the file are still validated */
    const char *late_type[] = {"api-key", "secret", "aggregator-id", "a1",  "time", "1",
                               "file",    "@bytes", "type",          "FOO", NULL};
    assert_int_equal(post(port, late_type, &pq, body, sizeof(body)), 400);
    assert_non_null(strstr(body, "bad type"));
    const char *no_id[] = {"api-key", "secret", "type", "FTP", "time", "1", "file", "@bytes", NULL};
    assert_int_equal(post(port, no_id, &pq, body, sizeof(body)), 400);
    assert_string_equal(body, "missing field aggregator-id\n");
    const char *neg_time[] = {"api-key", "secret", "aggregator-id", "a1",     "type", "FTP",
                              "time",    "-5",     "file",          "@bytes", NULL};
    assert_int_equal(post(port, neg_time, &pq, body, sizeof(body)), 400);

    const char *nul[] = {"api-key", "secret", "aggregator-id", "a1",     "type", "@nul",
                         "time",    "1",      "file",          "@bytes", NULL};
    assert_int_equal(post(port, nul, &pq, body, sizeof(body)), 400);
    assert_string_equal(body, "field type contains a NUL byte\n");

    struct sl_upload_server_stats st;
    sl_upload_server_stop(r, &st);
    assert_int_equal(st.stored, 1);
    assert_int_equal(st.duplicates, 1);
    assert_int_equal(st.rows, 42);
    assert_int_equal(st.bytes, pq.len);
    assert_int_equal(st.rejected_401, 1);
    assert_int_equal(st.rejected_400, 4);
    assert_int_equal(count_files(root), 2); /* FTP/ and aggregators.json */
    sl_buf_fini(&pq);
}

static int setup(void **state)
{
    snprintf(g_dir, sizeof(g_dir), "/tmp/sl-receiver-test-XXXXXX");
    if (!mkdtemp(g_dir))
        return -1;
    curl_global_init(CURL_GLOBAL_DEFAULT);
    return 0;
}

static int teardown(void **state)
{
    char cmd[300];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", g_dir);
    int rc = system(cmd);
    curl_global_cleanup();
    return rc == 0 ? 0 : -1;
}

int main(void)
{
    sl_core_init();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_helpers),
        cmocka_unit_test(test_start_errors),
        cmocka_unit_test(test_uploads),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
