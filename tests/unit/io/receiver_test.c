/*
 * receiver_test.c — the `receiver` sink's pure parts and its configuration: the back-off
 * schedule (caps, full jitter, no overflow), the spool scan (what counts as a waiting file,
 * its type, oldest first), and config errors at the option's line:col (files_from naming
 * nothing or not a parquet sink, a parquet layout without <spool>/{type}/, a spool that is
 * not the parquet sink's, inputs on a receiver). A pipeline that is built but never started
 * finds the left-over files (spool gauges) and uploads nothing. Uploads themselves are
 * tested against a real HTTP receiver in tests/integ/receiver_sink.sh.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "../testkit.h"

#include "core/config.h"
#include "core/pipeline.h"
#include "io/out_receiver.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

extern const struct sl_component_ops sl_out_parquet_ops;
extern const struct sl_component_ops sl_out_receiver_ops;

static const struct sl_component_ops *const test_types[] = {
    &idle_ops, &collect_ops, &sl_out_parquet_ops, &sl_out_receiver_ops, NULL};

#define S_NS 1000000000LL

static void test_backoff(void **state)
{
    /* no failure, or no initial delay: no wait */
    assert_int_equal(sl_receiver_backoff_ns(S_NS, 60 * S_NS, 0, 12345), 0);
    assert_int_equal(sl_receiver_backoff_ns(0, 60 * S_NS, 3, 12345), 0);
    /* the cap doubles per failure up to max; rnd == cap draws the cap itself */
    static const int64_t caps[] = {0, 1, 2, 4, 8, 16, 32, 60, 60, 60};
    for (uint32_t k = 1; k < 10; k++) {
        int64_t cap = caps[k] * S_NS;
        assert_int_equal(sl_receiver_backoff_ns(S_NS, 60 * S_NS, k, (uint64_t)cap), cap);
        assert_int_equal(sl_receiver_backoff_ns(S_NS, 60 * S_NS, k, 0), 0);
        assert_true(sl_receiver_backoff_ns(S_NS, 60 * S_NS, k, UINT64_MAX) <= cap);
    }
    /* many failures: no overflow, still max */
    assert_int_equal(sl_receiver_backoff_ns(S_NS, 60 * S_NS, 4000000000u, 60 * S_NS), 60 * S_NS);
    assert_int_equal(sl_receiver_backoff_ns(INT64_MAX / 2, INT64_MAX, 100, INT64_MAX), INT64_MAX);
    /* max below initial: initial is the cap */
    assert_int_equal(sl_receiver_backoff_ns(2 * S_NS, S_NS, 5, 2 * S_NS), 2 * S_NS);
    /* full jitter: uniform over [0, cap], so the mean is about cap / 2 */
    uint64_t x = 88172645463325252ull;
    double sum = 0;
    int64_t lo = INT64_MAX, hi = 0;
    for (int i = 0; i < 20000; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        int64_t v = sl_receiver_backoff_ns(S_NS, 60 * S_NS, 3, x);
        sum += (double)v;
        lo = v < lo ? v : lo;
        hi = v > hi ? v : hi;
    }
    double mean = sum / 20000 / (4.0 * S_NS);
    print_message("mean / cap = %.3f, min %lld ms, max %lld ms\n", mean, (long long)lo / 1000000,
                  (long long)hi / 1000000);
    assert_true(mean > 0.47 && mean < 0.53);
    assert_true(lo < S_NS / 10 && hi > 4 * S_NS - S_NS / 10 && hi <= 4 * S_NS);
}

/* create dir/rel (and its directories) with `len` bytes, modified at `mtime` (0: now) */
static void put(const char *rel, size_t len, time_t mtime)
{
    char path[512], cmd[600];
    snprintf(path, sizeof path, "%s/%s", dir, rel);
    snprintf(cmd, sizeof cmd, "mkdir -p \"$(dirname '%s')\"", path);
    assert_int_equal(system(cmd), 0);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    for (size_t i = 0; i < len; i++)
        fputc('x', f);
    fclose(f);
    if (mtime) {
        struct timespec ts[2] = {{mtime, 0}, {mtime, 0}};
        assert_int_equal(utimensat(AT_FDCWD, path, ts, 0), 0);
    }
}

static void test_rejects(void **state)
{
    /* only the answers about the file itself give it up */
    static const long gone[] = {400, 413, 415, 422};
    for (size_t i = 0; i < sizeof gone / sizeof gone[0]; i++)
        assert_true(sl_receiver_rejects(gone[i]));
    /* a wrong url, a proxy, credentials, load, the server: retried */
    static const long retried[] = {0,   200, 301, 302, 401, 403, 404, 405, 407,
                                   408, 409, 410, 421, 429, 451, 500, 502, 503};
    for (size_t i = 0; i < sizeof retried / sizeof retried[0]; i++)
        assert_false(sl_receiver_rejects(retried[i]));
}

static void test_scan(void **state)
{
    char spool[128];
    snprintf(spool, sizeof spool, "%s/spool", dir);
    struct sl_receiver_spooled *v = (void *)1;
    size_t n = 99;
    /* a missing spool is empty */
    assert_int_equal(sl_receiver_scan(spool, &v, &n), 0);
    assert_int_equal(n, 0);
    assert_null(v);

    time_t t0 = 1700000000;
    put("spool/GENERAL/GENERAL-1.parquet", 10, t0 + 20);
    put("spool/HTTP/2023/HTTP-2.parquet", 20, t0 + 10);
    put("spool/SMB/SMB-3.parquet", 30, t0 + 10); /* same mtime: by path */
    put("spool/top.parquet", 5, t0);
    put("spool/HTTP/.HTTP-4.parquet.7.tmp", 1, 0);   /* the parquet sink's temporary file */
    put("spool/HTTP/.HTTP-5.parquet", 1, 0);         /* hidden */
    put("spool/.trash/HTTP/HTTP-6.parquet", 1, 0);   /* in a hidden directory */
    put("spool/HTTP/notes.txt", 1, 0);               /* not parquet */
    put("spool/uploaded/HTTP/HTTP-7.parquet", 1, 0); /* kept after upload */
    put("spool/rejected/HTTP/HTTP-8.parquet", 1, 0); /* refused by the receiver */
    put("spool/.receiver-state", 1, 0);
    char a[512], b[512];
    snprintf(a, sizeof a, "%s/spool/GENERAL/GENERAL-1.parquet", dir);
    snprintf(b, sizeof b, "%s/spool/GENERAL/link.parquet", dir);
    assert_int_equal(symlink(a, b), 0); /* not a regular file */
    snprintf(b, sizeof b, "%s/spool/SMB/dir.parquet", dir);
    assert_int_equal(mkdir(b, 0755), 0); /* a directory, searched, not listed */
    put("spool/SMB/dir.parquet/SMB-9.parquet", 9, t0 + 30);

    assert_int_equal(sl_receiver_scan(spool, &v, &n), 0);
    for (size_t i = 0; i < n; i++)
        print_message("%s type=%s bytes=%llu mtime=%lld\n", v[i].rel, v[i].type,
                      (unsigned long long)v[i].bytes, (long long)v[i].mtime_ms);
    assert_int_equal(n, 5);
    static const char *const rels[] = {"top.parquet", "HTTP/2023/HTTP-2.parquet",
                                       "SMB/SMB-3.parquet", "GENERAL/GENERAL-1.parquet",
                                       "SMB/dir.parquet/SMB-9.parquet"};
    static const char *const types[] = {"", "HTTP", "SMB", "GENERAL", "SMB"};
    static const uint64_t sizes[] = {5, 20, 30, 10, 9};
    for (size_t i = 0; i < 5; i++) {
        assert_string_equal(v[i].rel, rels[i]);
        assert_string_equal(v[i].type, types[i]);
        assert_int_equal(v[i].bytes, sizes[i]);
        char want[512];
        snprintf(want, sizeof want, "%s/%s", spool, rels[i]);
        assert_string_equal(v[i].path, want);
    }
    assert_int_equal(v[0].mtime_ms, (int64_t)t0 * 1000);
    sl_receiver_scan_free(v, n);

    /* an unreadable subdirectory is skipped (logged), the rest listed; an unreadable spool
     * is an error (not as root: root reads anything) */
    if (geteuid() != 0) {
        snprintf(b, sizeof b, "%s/spool/HTTP", dir);
        assert_int_equal(chmod(b, 0), 0);
        assert_int_equal(sl_receiver_scan(spool, &v, &n), 0);
        assert_int_equal(n, 4);
        sl_receiver_scan_free(v, n);
        assert_int_equal(chmod(b, 0755), 0);
        assert_int_equal(chmod(spool, 0), 0);
        assert_int_equal(sl_receiver_scan(spool, &v, &n), -EACCES);
        assert_int_equal(chmod(spool, 0755), 0);
    }
}

/* ---- configuration, through the real config loader and pipeline (not started) */

static int try_pipeline(const char *sinks, struct sl_diag *d, struct sl_pipeline **out,
                        struct sl_config **cfgp)
{
    char yaml[16384];
    snprintf(yaml, sizeof yaml, "sources:\n  src: {type: idle}\nsinks:\n%s", sinks);
    sl_diag_init(d);
    struct sl_config *cfg = NULL;
    int rc = sl_config_load_string(yaml, strlen(yaml), "r.yaml", &cfg, d);
    if (rc)
        return rc;
    struct sl_pipeline_opts o = {.workers = 1};
    struct sl_pipeline *p = sl_pipeline_new(cfg, &o, d);
    if (!p) {
        sl_config_free(cfg);
        return SL_ECONFIG;
    }
    *out = p;
    *cfgp = cfg;
    return 0;
}

/* expect a config error at line:col whose message contains `what` */
static void expect_error(const char *sinks, uint32_t line, uint32_t col, const char *what)
{
    struct sl_diag d;
    struct sl_pipeline *p = NULL;
    struct sl_config *cfg = NULL;
    assert_int_equal(try_pipeline(sinks, &d, &p, &cfg), SL_ECONFIG);
    char msg[1400];
    sl_diag_format(&d, msg, sizeof msg);
    print_message("%s\n", msg);
    assert_int_equal(d.line, line);
    if (col)
        assert_int_equal(d.col, col);
    assert_non_null(strstr(d.msg, what));
}

static void test_config_errors(void **state)
{
    char sinks[2048];
    /* lines: 1 sources, 2 src, 3 sinks, 4 pq, 5 type, 6 inputs, 7 path, 8 partition_by,
     * 9 up, 10 type, 11 files_from, 12 url, 13... */
#define PQ(path, part) "  pq:\n    type: parquet\n    inputs: [src]\n    path: \"" path "\"\n" part
    snprintf(sinks, sizeof sinks,
             PQ("%s/spool/{type}/x.parquet",
                "    partition_by: type\n") "  up:\n    type: receiver\n    files_from: nothing\n  "
                                            "  url: http://127.0.0.1:1/\n",
             dir);
    expect_error(sinks, 11, 17, "files_from 'nothing' names no component");
    snprintf(sinks, sizeof sinks,
             "  c:\n    type: collect\n    inputs: [src]\n"
             "  up:\n    type: receiver\n    files_from: c\n    url: http://127.0.0.1:1/\n");
    expect_error(sinks, 9, 17, "is not a parquet sink");
    snprintf(sinks, sizeof sinks,
             PQ("%s/spool/{type}/x.parquet",
                "    partition_by: type\n") "  up:\n    type: receiver\n    files_from: pq\n    "
                                            "url: ftp://127.0.0.1:1/\n",
             dir);
    expect_error(sinks, 12, 10, "url must start with http");
    /* no partition_by: the type of a file is unknown */
    snprintf(
        sinks, sizeof sinks,
        PQ("%s/spool/x.parquet", "    codec: zstd\n") "  up:\n    type: receiver\n    files_from: "
                                                      "pq\n    url: http://127.0.0.1:1/\n",
        dir);
    expect_error(sinks, 11, 17, "has no partition_by");
    /* the type must be the first directory under a fixed spool */
    snprintf(sinks, sizeof sinks,
             PQ("%s/spool/%%Y/{type}/x.parquet",
                "    partition_by: type\n") "  up:\n    type: receiver\n    files_from: pq\n    "
                                            "url: http://127.0.0.1:1/\n",
             dir);
    expect_error(sinks, 11, 17, "must be <spool>/{type}/");
    snprintf(sinks, sizeof sinks,
             PQ("%s/spool/{type}-x.parquet",
                "    partition_by: type\n") "  up:\n    type: receiver\n    files_from: pq\n    "
                                            "url: http://127.0.0.1:1/\n",
             dir);
    expect_error(sinks, 11, 17, "must be <spool>/{type}/");
    /* spool given, elsewhere */
    snprintf(sinks, sizeof sinks,
             PQ("%s/spool/{type}/x.parquet",
                "    partition_by: type\n") "  up:\n    type: receiver\n    files_from: pq\n    "
                                            "url: http://127.0.0.1:1/\n"
                                            "    spool: %s/other\n",
             dir, dir);
    expect_error(sinks, 13, 12, "is not where 'pq' writes");
    /* a back-off of 0 would retry in a busy loop */
    snprintf(sinks, sizeof sinks,
             PQ("%s/spool/{type}/x.parquet",
                "    partition_by: type\n") "  up:\n    type: receiver\n    files_from: pq\n    "
                                            "url: http://127.0.0.1:1/\n"
                                            "    retry_initial: 0\n",
             dir);
    expect_error(sinks, 13, 20, "retry_initial must be at least 10ms");
    /* two receivers on one parquet sink: one would get nothing */
    snprintf(sinks, sizeof sinks,
             PQ("%s/spool/{type}/x.parquet",
                "    partition_by: type\n") "  up:\n    type: receiver\n    files_from: pq\n    "
                                            "url: http://127.0.0.1:1/\n    aggregator_id: a\n"
                                            "  up2:\n    type: receiver\n    files_from: pq\n"
                                            "    url: http://127.0.0.1:2/\n    aggregator_id: a\n",
             dir);
    expect_error(sinks, 16, 17, "already uploaded by another receiver sink");
    /* an aggregator_id the receiver refuses (every file would be rejected), none at all, and
     * a description it refuses */
    static const char *const bad_ids[] = {"\"\"", "\"a/b\"", "\"x y\""};
    for (size_t i = 0; i < 3; i++) {
        snprintf(sinks, sizeof sinks,
                 PQ("%s/spool/{type}/x.parquet", "    partition_by: type\n") "  up:\n    type: "
                                                                             "receiver\n    "
                                                                             "files_from: pq\n    "
                                                                             "url: "
                                                                             "http://127.0.0.1:1/\n"
                                                                             "    aggregator_id: "
                                                                             "%s\n",
                 dir, bad_ids[i]);
        expect_error(sinks, 13, 20, "aggregator_id must be 1-128 characters");
    }
    snprintf(sinks, sizeof sinks,
             PQ("%s/spool/{type}/x.parquet",
                "    partition_by: type\n") "  up:\n    type: receiver\n    files_from: pq\n    "
                                            "url: http://127.0.0.1:1/\n",
             dir);
    expect_error(sinks, 9, 3, "aggregator_id must be 1-128 characters");
    char big[5000];
    memset(big, 'd', 4097);
    big[4097] = 0;
    char *many = malloc(8192);
    assert_non_null(many);
    snprintf(many, 8192,
             PQ("%s/spool/{type}/x.parquet",
                "    partition_by: type\n") "  up:\n    type: receiver\n    files_from: pq\n    "
                                            "url: http://127.0.0.1:1/\n    aggregator_id: a\n"
                                            "    description: %s\n",
             dir, big);
    expect_error(many, 14, 18, "description of 4097 bytes");
    free(many);
    /* a receiver takes no inputs; other sinks still need them */
    snprintf(sinks, sizeof sinks,
             PQ("%s/spool/{type}/x.parquet",
                "    partition_by: type\n") "  up:\n    type: receiver\n    inputs: [src]\n    "
                                            "files_from: pq\n"
                                            "    url: http://127.0.0.1:1/\n",
             dir);
    expect_error(sinks, 9, 3, "takes no inputs");
    expect_error("  c:\n    type: collect\n", 4, 3, "has no inputs");
#undef PQ
}

static void test_leftovers_not_started(void **state)
{
    put("spool/HTTP/HTTP-1.parquet", 100, 1700000000);
    put("spool/SMB/SMB-1.parquet", 50, 1700000001);
    char sinks[2048];
    /* the receiver is declared before the parquet sink it reads: inited after it anyway;
     * spool given as "<dir>/spool/" (trailing slash) matches */
    snprintf(
        sinks, sizeof sinks,
        "  up:\n    type: receiver\n    files_from: pq\n    url: http://127.0.0.1:1/\n"
        "    spool: %s/spool/\n    description: first\n    aggregator_id: agg-1\n"
        "  pq:\n    type: parquet\n    inputs: [src]\n    path: \"%s/spool/{type}/x.parquet\"\n"
        "    partition_by: type\n",
        dir, dir);
    struct sl_diag d;
    struct sl_pipeline *p = NULL;
    struct sl_config *cfg = NULL;
    if (try_pipeline(sinks, &d, &p, &cfg)) {
        char msg[1400];
        sl_diag_format(&d, msg, sizeof msg);
        fail_msg("%s", msg);
    }
    struct sl_buf m;
    sl_buf_init(&m, 1 << 20);
    sl_pipeline_metrics_prom(p, &m);
    sl_buf_putc(&m, 0);
    assert_non_null(strstr(m.ptr, "sluice_receiver_spool_files{component=\"up\"} 2\n"));
    assert_non_null(strstr(m.ptr, "sluice_receiver_spool_bytes{component=\"up\"} 150\n"));
    assert_non_null(strstr(m.ptr, "sluice_receiver_uploads_in_flight{component=\"up\"} 0\n"));
    sl_buf_fini(&m);
    sl_pipeline_free(p);
    sl_config_free(cfg);
    /* never started: nothing uploaded, nothing moved, no state written */
    char path[512];
    snprintf(path, sizeof path, "%s/spool/HTTP/HTTP-1.parquet", dir);
    assert_int_equal(access(path, F_OK), 0);
    snprintf(path, sizeof path, "%s/spool/SMB/SMB-1.parquet", dir);
    assert_int_equal(access(path, F_OK), 0);
    snprintf(path, sizeof path, "%s/spool/.receiver-state", dir);
    assert_int_equal(access(path, F_OK), -1);
}

int main(void)
{
    sl_core_init();
    sl_registry_set(test_types);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_backoff),
        cmocka_unit_test(test_rejects),
        cmocka_unit_test_setup_teardown(test_scan, setup, teardown),
        cmocka_unit_test_setup_teardown(test_config_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_leftovers_not_started, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
