/*
 * xf_parse_test.c — the `parse` transform: grok (COMBINEDAPACHELOG with typed captures,
 * several patterns, inline types, custom definitions), regex (dataShark's anchored pattern),
 * key=value and CSV (targets, prefixes, types, extra columns), misses with their reasons in
 * .errors, on_miss keep/drop, keep_source, event_time, config errors, and few heap
 * allocations per event.
 *
 * The transform is built through the real config loader and pipeline (not started), then its
 * process() is called directly with batches of events.
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

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

extern const struct sl_component_ops sl_xf_parse_ops;
extern const struct sl_component_ops sl_out_null_ops;

static const struct sl_component_ops *const test_types[] = {&idle_ops, &sl_xf_parse_ops,
                                                            &sl_out_null_ops, NULL};

struct fx {
    struct sl_config *cfg;
    struct sl_pipeline *p;
    struct sl_component *f;
};

static int fx_try_workers(struct fx *fx, const char *opts, int workers, struct sl_diag *d);
static int fx_try(struct fx *fx, const char *opts, struct sl_diag *d)
{
    return fx_try_workers(fx, opts, 1, d);
}

static int fx_try_workers(struct fx *fx, const char *opts, int workers, struct sl_diag *d)
{
    char yaml[8192];
    snprintf(yaml, sizeof(yaml),
             "sources:\n"
             "  src: {type: idle}\n"
             "transforms:\n"
             "  f:\n"
             "    type: parse\n"
             "    inputs: [src]\n"
             "%s"
             "sinks:\n"
             "  out: {type: \"null\", inputs: [f]}\n",
             opts);
    memset(fx, 0, sizeof(*fx));
    sl_diag_init(d);
    int rc = sl_config_load_string(yaml, strlen(yaml), "p.yaml", &fx->cfg, d);
    if (rc)
        return rc;
    struct sl_pipeline_opts o = {.workers = workers};
    fx->p = sl_pipeline_new(fx->cfg, &o, d);
    if (!fx->p) {
        sl_config_free(fx->cfg);
        fx->cfg = NULL;
        return SL_ECONFIG;
    }
    fx->f = sl_pipeline_find(fx->p, "f");
    assert_non_null(fx->f);
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
    sl_pipeline_free(fx->p);
    sl_config_free(fx->cfg);
}

/* Run lines (each the `message` of an event) through the transform; the output events as
 * JSON lines into out, the dead letters' `error` fields as lines into errs. */
static void run_lines(struct fx *fx, const char *const *lines, size_t n, struct sl_buf *out,
                      struct sl_buf *errs)
{
    struct sl_batch *b = sl_batch_new();
    sl_sym msg = sl_sym_intern_c("message");
    for (size_t i = 0; i < n; i++) {
        struct sl_event *ev = sl_batch_push(b);
        assert_non_null(ev);
        ev->ts_ns = 1000;
        assert_int_equal(sl_event_set_str(b, ev, msg, lines[i], strlen(lines[i])), 0);
    }
    struct sl_xf_ctx x = {.worker = 0, .comp = fx->f};
    struct sl_batch *r = fx->f->ops->process(fx->f, b, &x);
    sl_buf_init(out, 0);
    sl_buf_init(errs, 0);
    sl_buf_puts(out, "");
    sl_buf_puts(errs, "");
    for (uint32_t k = 0; r && k < r->count; k++) {
        assert_int_equal(sl_json_write_event(out, &r->events[k]), 0);
        sl_buf_appendf(out, " ts=%lld\n", (long long)r->events[k].ts_ns);
    }
    if (r)
        sl_batch_unref(r);
    if (x.errors) {
        for (uint32_t k = 0; k < x.errors->count; k++) {
            const struct sl_value *e = sl_event_get(&x.errors->events[k], SL_SYM_ERROR);
            assert_non_null(e);
            sl_buf_appendf(errs, "%.*s\n", (int)e->len, e->u.s);
        }
        sl_batch_unref(x.errors);
    }
}

static void expect_out(const char *opts, const char *const *lines, size_t n, const char *want,
                       const char *want_errs)
{
    struct fx fx;
    fx_new(&fx, opts);
    struct sl_buf out, errs;
    run_lines(&fx, lines, n, &out, &errs);
    if (strcmp(out.ptr, want) != 0)
        fail_msg("opts:\n%s\ngot:\n%s\nwant:\n%s", opts, out.ptr, want);
    if (want_errs && !strstr(errs.ptr, want_errs))
        fail_msg("opts:\n%s\nerrors:\n%s\nwant them to contain:\n%s", opts, errs.ptr, want_errs);
    if (!want_errs && errs.len)
        fail_msg("unexpected errors:\n%s", errs.ptr);
    sl_buf_fini(&out);
    sl_buf_fini(&errs);
    fx_free(&fx);
}

#define N(a) (sizeof(a) / sizeof((a)[0]))

static const char *const apache[] = {
    "127.0.0.1 - frank [10/Oct/2000:13:55:36 -0700] \"GET /apache_pb.gif HTTP/1.0\" 200 2326 "
    "\"http://www.example.com/start.html\" \"Mozilla/4.08 [en] (Win98; I ;Nav)\"",
    "10.1.2.3 - - [10/Oct/2000:13:55:37 -0700] \"POST /login HTTP/1.1\" 500 - \"-\" \"curl/8\"",
    "this is not an access log line",
    "2001:db8::7 - - [10/Oct/2000:13:55:38 -0700] \"GET / HTTP/1.1\" 304 0 \"-\" \"x\"",
};

static void test_grok_apache(void **state)
{
    (void)state;
    expect_out("    format: grok\n"
               "    pattern: \"%{COMBINEDAPACHELOG}\"\n"
               "    types: {response: int, bytes: int, clientip: ip, timestamp: timestamp}\n"
               "    event_time: timestamp\n"
               "    keep_source: false\n",
               apache, N(apache),
               "{\"clientip\":\"127.0.0.1\",\"ident\":\"-\",\"auth\":\"frank\","
               "\"timestamp\":\"2000-10-10T20:55:36.000000000Z\",\"verb\":\"GET\","
               "\"request\":\"/apache_pb.gif\",\"httpversion\":\"1.0\",\"response\":200,"
               "\"bytes\":2326,\"referrer\":\"\\\"http://www.example.com/start.html\\\"\","
               "\"agent\":\"\\\"Mozilla/4.08 [en] (Win98; I ;Nav)\\\"\"} ts=971211336000000000\n"
               "{\"clientip\":\"10.1.2.3\",\"ident\":\"-\",\"auth\":\"-\","
               "\"timestamp\":\"2000-10-10T20:55:37.000000000Z\",\"verb\":\"POST\","
               "\"request\":\"/login\",\"httpversion\":\"1.1\",\"response\":500,"
               "\"referrer\":\"\\\"-\\\"\",\"agent\":\"\\\"curl/8\\\"\"} ts=971211337000000000\n"
               "{\"clientip\":\"2001:db8::7\",\"ident\":\"-\",\"auth\":\"-\","
               "\"timestamp\":\"2000-10-10T20:55:38.000000000Z\",\"verb\":\"GET\","
               "\"request\":\"/\",\"httpversion\":\"1.1\",\"response\":304,\"bytes\":0,"
               "\"referrer\":\"\\\"-\\\"\",\"agent\":\"\\\"x\\\"\"} ts=971211338000000000\n",
               "grok pattern 1 of 1 (%{COMBINEDAPACHELOG}): no match; matching from byte 0 stops "
               "at byte 12 of 30: \"an access log line\"");
}

static void test_grok_misses(void **state)
{
    (void)state;
    /* where the match stops: the bracket of the date is wrong */
    const char *l1[] = {"1.2.3.4 - - (10/Oct/2000:13:55:36 -0700) \"GET / HTTP/1.0\" 200 1"};
    expect_out("    format: grok\n    pattern: \"%{COMMONAPACHELOG}\"\n    anchored: true\n", l1, 1,
               "", "stops at byte 12 of 63: \"(10/Oct/2000:13:55:36 -0\"");
    /* a truncated line: the pattern wants more */
    const char *l2[] = {"1.2.3.4 - - [10/Oct/2000:13:55"};
    expect_out("    format: grok\n    pattern: \"%{COMMONAPACHELOG}\"\n", l2, 1, "",
               "the line (30 bytes) ends before the pattern does");
    /* a typed capture that does not convert */
    const char *l3[] = {"n=12x"};
    expect_out("    format: grok\n    pattern: \"n=%{NOTSPACE:n:int}\"\n", l3, 1, "",
               "field n: \"12x\" is not an int");
    /* a miss after a capture replaced a field: the event comes back as it was */
    const char *l5[] = {"abc def"};
    expect_out("    format: grok\n    pattern: \"%{WORD:message} %{WORD:n:int}\"\n"
               "    on_miss: keep\n",
               l5, 1, "{\"message\":\"abc def\"} ts=1000\n", NULL);
    /* on_miss: keep passes the line unchanged, drop drops it (counted) */
    const char *l4[] = {"a 1", "b"};
    expect_out(
        "    format: grok\n    pattern: \"%{WORD:w} %{INT:i:int}\"\n    on_miss: keep\n", l4, 2,
        "{\"message\":\"a 1\",\"w\":\"a\",\"i\":1} ts=1000\n{\"message\":\"b\"} ts=1000\n", NULL);
    struct fx fx;
    fx_new(&fx, "    format: grok\n    pattern: \"%{WORD:w} %{INT:i:int}\"\n    on_miss: drop\n");
    struct sl_buf out, errs;
    run_lines(&fx, l4, 2, &out, &errs);
    assert_string_equal(out.ptr, "{\"message\":\"a 1\",\"w\":\"a\",\"i\":1} ts=1000\n");
    assert_int_equal(errs.len, 0);
    assert_int_equal(atomic_load(&fx.f->m.dropped), 1);
    sl_buf_fini(&out);
    sl_buf_fini(&errs);
    fx_free(&fx);
}

static void test_grok_patterns(void **state)
{
    (void)state;
    /* the first pattern that matches wins; custom definitions; nested field names */
    /* a hand-written named group inside a grok pattern is a field too */
    const char *l0[] = {"took 15ms"};
    expect_out("    format: grok\n    pattern: \"%{WORD:verb} (?<ms>\\\\d+)ms\"\n"
               "    types: {ms: int}\n",
               l0, 1, "{\"message\":\"took 15ms\",\"verb\":\"took\",\"ms\":15} ts=1000\n", NULL);
    const char *l[] = {"id=abc-42 WARN disk full", "Oct 11 22:14:15 host1 sshd[99]: hi"};
    expect_out("    format: grok\n"
               "    pattern:\n"
               "      - \"id=%{MYID:[req][id]} %{LOGLEVEL:level} %{GREEDYDATA:text}\"\n"
               "      - \"%{SYSLOGBASE} %{GREEDYDATA:text}\"\n"
               "    pattern_definitions: {MYID: \"[a-z]+-%{INT:n:int}\"}\n"
               "    types: {pid: int}\n"
               "    keep_source: false\n",
               l, 2,
               "{\"req\":{\"id\":\"abc-42\"},\"n\":42,\"level\":\"WARN\",\"text\":\"disk full\"} "
               "ts=1000\n"
               "{\"timestamp\":\"Oct 11 22:14:15\",\"logsource\":\"host1\",\"program\":\"sshd\","
               "\"pid\":99,\"text\":\"hi\"} ts=1000\n",
               NULL);
}

static void test_regex(void **state)
{
    (void)state;
    /* dataShark's web-anomaly pattern, as its use case writes it */
    const char *l[] = {"10.0.0.1 [1:2:3:4] \"GET / HTTP/1.1\" 200 512 x",
                       "x 10.0.0.1 [1:2:3:4] \"GET /\" 404 0 y", "no"};
    expect_out("    format: regex\n"
               "    anchored: true\n"
               "    pattern: '(?P<source>.+?) \\[\\d+:\\d+:\\d+:\\d+\\] \".+?\" "
               "(?P<response_code>\\d+) .+?'\n"
               "    types: {response_code: int}\n"
               "    target: http\n"
               "    prefix: \"ds_\"\n",
               l, 3,
               "{\"message\":\"10.0.0.1 [1:2:3:4] \\\"GET / HTTP/1.1\\\" 200 512 x\","
               "\"http\":{\"ds_source\":\"10.0.0.1\",\"ds_response_code\":200}} ts=1000\n"
               "{\"message\":\"x 10.0.0.1 [1:2:3:4] \\\"GET /\\\" 404 0 y\","
               "\"http\":{\"ds_source\":\"x 10.0.0.1\",\"ds_response_code\":404}} ts=1000\n",
               "regex pattern 1 of 1");
}

static void test_kv(void **state)
{
    (void)state;
    const char *l[] = {"src=10.0.0.1 dst=10.0.0.2 msg=\"port scan\" n=3", "src=bad n=1",
                       "nothing here", "a=\"open"};
    expect_out("    format: kv\n    types: {src: ip, n: int}\n    keep_source: false\n", l, 4,
               "{\"src\":\"10.0.0.1\",\"dst\":\"10.0.0.2\",\"msg\":\"port scan\",\"n\":3} "
               "ts=1000\n",
               "field src: \"bad\" is not an ip\nkv: no key=value pair in the line\n"
               "kv: unterminated \" quote at byte 2 (key 'a')\n");
    const char *l2[] = {"a:1;b:;a:2"};
    expect_out("    format: kv\n    field_split: \";\"\n    value_split: \":\"\n"
               "    target: kv\n    prefix: p_\n    skip_empty: true\n    keep_source: false\n",
               l2, 1, "{\"kv\":{\"p_a\":\"2\"}} ts=1000\n", NULL);
}

/* A key=value line with many distinct keys into `target:`: the repeated-key check must not
 * be quadratic (60,000 keys took 2 s of CPU per line in a release build). Last value wins. */
static void test_kv_many_keys(void **state)
{
    (void)state;
    struct sl_buf line;
    sl_buf_init(&line, 0);
    const int nkeys = 40000;
    for (int i = 0; i < nkeys; i++)
        sl_buf_appendf(&line, "k%d=v%d ", i, i);
    sl_buf_puts(&line, "k7=last k39999=end");
    const char *l[] = {line.ptr};
    struct fx fx;
    fx_new(&fx, "    format: kv\n    target: kv\n    keep_source: false\n");
    struct sl_buf out, errs;
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    run_lines(&fx, l, 1, &out, &errs);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    print_message("%d keys: %.3f s\n", nkeys, secs);
    assert_int_equal(errs.len, 0);
    assert_non_null(strstr(out.ptr, "{\"kv\":{\"k0\":\"v0\",\"k1\":\"v1\","));
    assert_non_null(strstr(out.ptr, "\"k7\":\"last\",\"k8\":\"v8\""));
    assert_non_null(strstr(out.ptr, "\"k39998\":\"v39998\",\"k39999\":\"end\"}}"));
    assert_true(secs < 1.5);
    sl_buf_fini(&out);
    sl_buf_fini(&errs);
    sl_buf_fini(&line);
    fx_free(&fx);
}

static void test_csv(void **state)
{
    (void)state;
    const char *l[] = {"2024-01-02 03:04:05,alice,\"1.5\",x,y", "2024-01-02 03:04:06,bob,7",
                       "2024-01-02 03:04:07,\"open,1", "2024-01-02,c,1"};
    expect_out("    format: csv\n"
               "    columns: [time, user, n]\n"
               "    types: {time: \"timestamp:%Y-%m-%d %H:%M:%S\", n: float}\n"
               "    keep_source: false\n"
               "    event_time: time\n",
               l, 4,
               "{\"time\":\"2024-01-02T03:04:05.000000000Z\",\"user\":\"alice\",\"n\":1.5,"
               "\"column4\":\"x\",\"column5\":\"y\"} ts=1704164645000000000\n"
               "{\"time\":\"2024-01-02T03:04:06.000000000Z\",\"user\":\"bob\",\"n\":7.0} "
               "ts=1704164646000000000\n",
               "csv: CSV field 2: the quote at byte 20 is not closed\n"
               "field time: \"2024-01-02\" is not a timestamp\n");
}

static void test_config_errors(void **state)
{
    (void)state;
    static const struct {
        const char *opts, *msg;
    } cases[] = {
        {"    format: grok\n    pattern: \"%{NOPE:x}\"\n",
         "grok pattern 1, column 1: unknown grok pattern %{NOPE}"},
        {"    format: grok\n", "format grok needs `pattern`"},
        {"    format: regex\n    pattern: \"(unclosed\"\n", "pattern 1 does not compile"},
        {"    format: regex\n    pattern: \"no groups\"\n", "captures no field"},
        {"    format: kv\n    types: {a: number}\n", "types.a: unknown type 'number'"},
        {"    format: csv\n    delimiter: \";;\"\n", "one byte each"},
        {"    format: kv\n    pattern: x\n", "pattern is for format: regex or grok"},
        {"    format: grok\n    pattern: \"%{INT:x:decimal}\"\n", "unknown type 'decimal'"},
        {"    pattern: x\n", "format"},
    };
    for (size_t i = 0; i < N(cases); i++) {
        struct fx fx;
        struct sl_diag d;
        int rc = fx_try(&fx, cases[i].opts, &d);
        if (!rc)
            fx_free(&fx);
        if (!rc || !strstr(d.msg, cases[i].msg))
            fail_msg("%s: rc %d msg '%s', want '%s'", cases[i].opts, rc, d.msg, cases[i].msg);
    }
}

static void test_few_allocations(void **state)
{
    (void)state;
    struct fx fx;
    fx_new(&fx, "    format: grok\n    pattern: \"%{COMBINEDAPACHELOG}\"\n"
                "    types: {response: int, bytes: int}\n");
    sl_sym msg = sl_sym_intern_c("message");
    for (int round = 0; round < 2; round++) {
        struct sl_batch *b = sl_batch_new();
        for (int i = 0; i < 1000; i++) {
            struct sl_event *ev = sl_batch_push(b);
            sl_event_set(b, ev, msg, sl_value_str(apache[0], strlen(apache[0])));
        }
        struct sl_xf_ctx x = {.worker = 0, .comp = fx.f};
        uint64_t before = sl_alloc_count();
        struct sl_batch *r = fx.f->ops->process(fx.f, b, &x);
        uint64_t allocs = sl_alloc_count() - before;
        assert_int_equal(r->count, 1000);
        /* the field arrays grow in the batch arena: a few chunks, not one per event */
        if (round == 1 && allocs > 100)
            fail_msg("%llu allocations for 1000 events", (unsigned long long)allocs);
        sl_batch_unref(r);
    }
    fx_free(&fx);
}

/* Two workers at once: per-worker match data and scratch, shared compiled patterns. */
struct thr {
    struct fx *fx;
    uint32_t worker;
    int bad;
};

static void *thr_run(void *arg)
{
    struct thr *t = arg;
    sl_sym msg = sl_sym_intern_c("message"), resp = sl_sym_intern_c("response");
    for (int round = 0; round < 50; round++) {
        struct sl_batch *b = sl_batch_new();
        for (int i = 0; i < 200; i++) {
            struct sl_event *ev = sl_batch_push(b);
            const char *l = apache[(i + (int)t->worker) % 4];
            sl_event_set(b, ev, msg, sl_value_str(l, strlen(l)));
        }
        struct sl_xf_ctx x = {.worker = t->worker, .comp = t->fx->f};
        struct sl_batch *r = t->fx->f->ops->process(t->fx->f, b, &x);
        /* 3 of 4 lines parse; response is an int */
        if (!r || r->count != 150 || !x.errors || x.errors->count != 50)
            t->bad++;
        for (uint32_t k = 0; r && k < r->count; k++) {
            const struct sl_value *v = sl_event_get(&r->events[k], resp);
            if (!v || v->type != SL_V_INT)
                t->bad++;
        }
        if (r)
            sl_batch_unref(r);
        if (x.errors)
            sl_batch_unref(x.errors);
    }
    return NULL;
}

static void test_two_workers(void **state)
{
    (void)state;
    struct fx fx;
    struct sl_diag d;
    if (fx_try_workers(&fx,
                       "    format: grok\n    pattern: \"%{COMBINEDAPACHELOG}\"\n"
                       "    types: {response: int}\n",
                       2, &d))
        fail_msg("%s", d.msg);
    struct thr t[2] = {{&fx, 0, 0}, {&fx, 1, 0}};
    pthread_t th[2];
    for (int i = 0; i < 2; i++)
        assert_int_equal(pthread_create(&th[i], NULL, thr_run, &t[i]), 0);
    for (int i = 0; i < 2; i++)
        pthread_join(th[i], NULL);
    assert_int_equal(t[0].bad + t[1].bad, 0);
    fx_free(&fx);
}

int main(void)
{
    sl_core_init();
    sl_registry_set(test_types);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_grok_apache),
        cmocka_unit_test(test_grok_misses),
        cmocka_unit_test(test_grok_patterns),
        cmocka_unit_test(test_regex),
        cmocka_unit_test(test_kv),
        cmocka_unit_test(test_kv_many_keys),
        cmocka_unit_test(test_csv),
        cmocka_unit_test(test_config_errors),
        cmocka_unit_test(test_few_allocations),
        cmocka_unit_test(test_two_workers),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
