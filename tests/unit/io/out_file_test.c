/*
 * out_file_test.c — the `file` sink: NDJSON content, writing under `<path>.tmp` and renaming
 * when finished, never overwriting a finished file, rotation by size and by age with the
 * `-<yyyymmddTHHMMSS>-<seq>` names, strftime paths with created directories, config errors
 * at the option's line:col, and a failed write (file size limit, as a full disk) undone
 * without a torn line.
 *
 * The sink is built through the real config loader and pipeline (not started); the test calls
 * write() and flush() as the sink thread would, and sl_pipeline_free() runs fini().
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "../testkit.h"

#include "base/alloc.h"
#include "codec/json.h"
#include "core/config.h"
#include "core/pipeline.h"

#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

extern const struct sl_component_ops sl_out_file_ops;

static const struct sl_component_ops *const test_types[] = {&idle_ops, &sl_out_file_ops, NULL};

struct fx {
    struct sl_config *cfg;
    struct sl_pipeline *p;
    struct sl_component *out;
};

/* src -> out (file sink with `opts`, one "key: value" per line, 4-space indent). */
static int fx_try(struct fx *fx, const char *opts, struct sl_diag *d)
{
    char yaml[4096];
    snprintf(yaml, sizeof(yaml),
             "sources:\n"
             "  src: {type: idle}\n"
             "sinks:\n"
             "  out:\n"
             "    type: file\n"
             "    inputs: [src]\n"
             "%s",
             opts);
    memset(fx, 0, sizeof(*fx));
    sl_diag_init(d);
    int rc = sl_config_load_string(yaml, strlen(yaml), "o.yaml", &fx->cfg, d);
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
    sl_pipeline_free(fx->p); /* runs the sink's fini */
    sl_config_free(fx->cfg);
}

/* One event per line of `lines` (JSON objects). */
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
            fail_msg("bad test event: %s", d.msg);
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

/* Contents of a file (NULL when it does not exist); caller sl_free()s. */
static char *slurp(const char *path)
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
    return buf;
}

static bool exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}

static void path_of(char *out, size_t len, const char *name)
{
    int n = snprintf(out, len, "%s/%s", dir, name);
    assert_true(n > 0 && (size_t)n < len);
}

static void expect_file(const char *name, const char *want)
{
    char p[256];
    path_of(p, sizeof(p), name);
    char *got = slurp(p);
    if (!got)
        fail_msg("%s does not exist", p);
    if (strcmp(got, want) != 0)
        fail_msg("%s holds:\n%s\nwant:\n%s", p, got, want);
    sl_free(got);
}

#define L1                                                                                         \
    "{\"i\":0,\"s\":\"a\"}\n{\"i\":1,\"s\":\"\xc3\xa9 "                                            \
    "\\\"q\\\"\"}\n{\"i\":2,\"n\":{\"a\":[1,2.5,null]}}\n"
#define L2 "{\"i\":3,\"b\":true}\n"

static void test_tmp_then_rename(void **state)
{
    char opts[512], out[256], tmp[256];
    path_of(out, sizeof(out), "out.json");
    path_of(tmp, sizeof(tmp), "out.json.tmp");
    snprintf(opts, sizeof(opts), "    path: \"%s\"\n", out);
    struct fx fx;
    fx_new(&fx, opts);
    /* init creates nothing (sluice check must not) */
    assert_false(exists(out));
    assert_false(exists(tmp));
    assert_int_equal(write_lines(&fx, L1), 0);
    assert_false(exists(out));
    expect_file("out.json.tmp", L1);
    assert_int_equal(fx.out->ops->flush(fx.out), 0);
    assert_int_equal(write_lines(&fx, L2), 0);
    expect_file("out.json.tmp", L1 L2);
    assert_int_equal(atomic_load(&fx.out->m.bytes_out), strlen(L1 L2));
    fx_free(&fx);
    assert_false(exists(tmp));
    expect_file("out.json", L1 L2);
}

static void test_never_overwrite(void **state)
{
    char opts[512], out[256];
    path_of(out, sizeof(out), "keep.json");
    FILE *f = fopen(out, "w");
    fputs("old\n", f);
    fclose(f);
    snprintf(opts, sizeof(opts), "    path: \"%s\"\n", out);
    for (int run = 1; run <= 2; run++) {
        struct fx fx;
        fx_new(&fx, opts);
        assert_int_equal(write_lines(&fx, run == 1 ? L1 : L2), 0);
        fx_free(&fx);
    }
    expect_file("keep.json", "old\n");
    expect_file("keep.json.1", L1);
    expect_file("keep.json.2", L2);
}

static void test_no_events_no_file(void **state)
{
    char opts[512], out[256];
    path_of(out, sizeof(out), "idle.json");
    snprintf(opts, sizeof(opts), "    path: \"%s\"\n", out);
    struct fx fx;
    fx_new(&fx, opts);
    assert_int_equal(fx.out->ops->flush(fx.out), 0);
    fx_free(&fx);
    assert_false(exists(out));
}

/* Finished files of a rotating sink, named <stem>-<yyyymmddTHHMMSS>-<seq><ext>, sorted by
 * seq (which must run 1..n). Returns how many. */
struct rfile {
    char name[128];
    long seq;
};

static int cmp_seq(const void *a, const void *b)
{
    const struct rfile *x = a, *y = b;
    return (x->seq > y->seq) - (x->seq < y->seq);
}

static int rotated(const char *stem, const char *ext, struct rfile *out, int max)
{
    DIR *dd = opendir(dir);
    assert_non_null(dd);
    int n = 0;
    struct dirent *e;
    size_t sl = strlen(stem), el = strlen(ext);
    while ((e = readdir(dd)) != NULL) {
        const char *nm = e->d_name;
        size_t len = strlen(nm);
        if (strncmp(nm, stem, sl) != 0 || nm[sl] != '-' || len < sl + 18 + el)
            continue;
        if (strcmp(nm + len - el, ext) != 0)
            fail_msg("unexpected file %s", nm);
        const char *p = nm + sl;
        for (int k = 1; k <= 15; k++)
            if (k == 9 ? p[k] != 'T' : (p[k] < '0' || p[k] > '9'))
                fail_msg("bad time stamp in %s", nm);
        if (p[16] != '-')
            fail_msg("no -seq in %s", nm);
        char *end;
        long seq = strtol(p + 17, &end, 10);
        if (end != nm + len - el)
            fail_msg("bad seq in %s", nm);
        assert_true(n < max);
        assert_true(len < sizeof(out[n].name));
        memcpy(out[n].name, nm, len + 1);
        out[n++].seq = seq;
    }
    closedir(dd);
    qsort(out, (size_t)n, sizeof(*out), cmp_seq);
    for (int i = 0; i < n; i++)
        assert_int_equal(out[i].seq, i + 1);
    return n;
}

static void test_rotate_bytes(void **state)
{
    char opts[512], tmp[256];
    path_of(tmp, sizeof(tmp), "big.json.tmp");
    snprintf(opts, sizeof(opts), "    path: \"%s/big.json\"\n    rotate_bytes: 1KiB\n", dir);
    struct fx fx;
    fx_new(&fx, opts);
    /* 3 batches of 90 events of 41..43 bytes: about 11 KB */
    struct sl_buf all, lines;
    sl_buf_init(&all, 1 << 20);
    sl_buf_init(&lines, 1 << 20);
    size_t longest = 0;
    for (int b = 0; b < 3; b++) {
        sl_buf_reset(&lines);
        for (int i = 0; i < 90; i++) {
            size_t before = lines.len;
            sl_buf_appendf(&lines, "{\"i\":%d,\"pad\":\"xxxxxxxxxxxxxxxxxxxxxxxx\"}\n", b * 90 + i);
            if (lines.len - before > longest)
                longest = lines.len - before;
        }
        sl_buf_append(&all, lines.ptr, lines.len);
        assert_int_equal(write_lines(&fx, lines.ptr), 0);
        if (b == 0) {
            /* files that are full are finished (renamed) at once, not at the end */
            struct rfile rf[64];
            assert_true(rotated("big", ".json", rf, 64) >= 3);
            assert_true(exists(tmp));
        }
    }
    fx_free(&fx);
    assert_false(exists(tmp));
    struct rfile rf[64];
    int n = rotated("big", ".json", rf, 64);
    print_message("%d files, %zu bytes, longest event %zu\n", n, all.len, longest);
    assert_true(n >= (int)(all.len / (1024 + longest)) && n <= (int)(all.len / 1024) + 1);
    struct sl_buf cat;
    sl_buf_init(&cat, 1 << 20);
    for (int i = 0; i < n; i++) {
        char p[256];
        path_of(p, sizeof(p), rf[i].name);
        char *c = slurp(p);
        size_t len = strlen(c);
        /* full files reach 1 KiB with their last event; only the last one may be smaller */
        if (i < n - 1)
            assert_true(len >= 1024 && len < 1024 + longest);
        assert_true(len > 0 && c[len - 1] == '\n');
        sl_buf_append(&cat, c, len);
        sl_free(c);
    }
    assert_int_equal(cat.len, all.len);
    assert_memory_equal(cat.ptr, all.ptr, all.len);
    sl_buf_fini(&cat);
    sl_buf_fini(&all);
    sl_buf_fini(&lines);
}

static void test_rotate_interval(void **state)
{
    char opts[512], tmp[256];
    path_of(tmp, sizeof(tmp), "age.json.tmp");
    snprintf(opts, sizeof(opts),
             "    path: \"%s/age.json\"\n    rotate_interval: 300ms\n    fsync: true\n", dir);
    struct fx fx;
    fx_new(&fx, opts);
    assert_int_equal(write_lines(&fx, L1), 0);
    assert_int_equal(fx.out->ops->flush(fx.out), 0);
    assert_true(exists(tmp)); /* not old enough yet */
    usleep(350 * 1000);
    assert_int_equal(fx.out->ops->flush(fx.out), 0);
    assert_false(exists(tmp)); /* finished by the flush, with no new event */
    struct rfile rf[8];
    assert_int_equal(rotated("age", ".json", rf, 8), 1);
    assert_int_equal(write_lines(&fx, L2), 0);
    assert_true(exists(tmp));
    fx_free(&fx);
    assert_int_equal(rotated("age", ".json", rf, 8), 2);
    expect_file(rf[0].name, L1);
    expect_file(rf[1].name, L2);
}

static void test_strftime_path(void **state)
{
    char opts[512];
    snprintf(opts, sizeof(opts), "    path: \"%s/%%Y/sub/ev-%%Y%%m%%d.json\"\n", dir);
    struct fx fx;
    fx_new(&fx, opts);
    assert_int_equal(write_lines(&fx, L1), 0);
    fx_free(&fx);
    time_t t = time(NULL);
    struct tm tm;
    gmtime_r(&t, &tm);
    char name[128];
    snprintf(name, sizeof(name), "%04d/sub/ev-%04d%02d%02d.json", tm.tm_year + 1900,
             tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday);
    expect_file(name, L1);
}

static void test_config_errors(void **state)
{
    char opts[512], file[256];
    path_of(file, sizeof(file), "plain");
    FILE *f = fopen(file, "w");
    fclose(f);
    struct fx fx;
    struct sl_diag d;
    /* a regular file where a directory should be: error at the path value (line 7, col 11) */
    snprintf(opts, sizeof(opts), "    path: \"%s/sub/out.json\"\n", file);
    assert_int_equal(fx_try(&fx, opts, &d), SL_ECONFIG);
    char msg[1024];
    sl_diag_format(&d, msg, sizeof(msg));
    print_message("%s\n", msg);
    assert_string_equal(d.file, "o.yaml");
    assert_int_equal(d.line, 7);
    assert_int_equal(d.col, 11);
    assert_non_null(strstr(d.msg, "cannot write"));
    assert_true(d.hint[0] != 0);

    assert_int_equal(fx_try(&fx, "    path: \"\"\n", &d), SL_ECONFIG);
    assert_int_equal(d.line, 7);
    assert_int_equal(fx_try(&fx, "    path: \"out/\"\n", &d), SL_ECONFIG);
    assert_non_null(strstr(d.msg, "not a file name"));
    /* path is required */
    assert_int_equal(fx_try(&fx, "    fsync: true\n", &d), SL_ECONFIG);
    assert_non_null(strstr(d.msg, "path"));
}

static void test_failed_write_is_undone(void **state)
{
    char opts[512];
    snprintf(opts, sizeof(opts), "    path: \"%s/full.json\"\n", dir);
    struct fx fx;
    fx_new(&fx, opts);
    assert_int_equal(write_lines(&fx, L1), 0);
    /* a file size limit makes write() stop part-way and then fail, as a full disk does */
    struct rlimit old, lim;
    assert_int_equal(getrlimit(RLIMIT_FSIZE, &old), 0);
    void (*prev)(int) = signal(SIGXFSZ, SIG_IGN);
    lim = old;
    lim.rlim_cur = strlen(L1) + 20;
    assert_int_equal(setrlimit(RLIMIT_FSIZE, &lim), 0);
    int rc = write_lines(&fx, L2 L2 L2);
    assert_int_equal(setrlimit(RLIMIT_FSIZE, &old), 0);
    signal(SIGXFSZ, prev);
    assert_int_equal(rc, -EFBIG);
    expect_file("full.json.tmp", L1); /* the partial batch is gone: no torn line */
    assert_int_equal(write_lines(&fx, L2), 0);
    assert_int_equal(atomic_load(&fx.out->m.bytes_out), strlen(L1 L2));
    fx_free(&fx);
    expect_file("full.json", L1 L2);
}

int main(void)
{
    sl_core_init();
    sl_registry_set(test_types);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_tmp_then_rename, setup, teardown),
        cmocka_unit_test_setup_teardown(test_never_overwrite, setup, teardown),
        cmocka_unit_test_setup_teardown(test_no_events_no_file, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rotate_bytes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rotate_interval, setup, teardown),
        cmocka_unit_test_setup_teardown(test_strftime_path, setup, teardown),
        cmocka_unit_test_setup_teardown(test_config_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_failed_write_is_undone, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
