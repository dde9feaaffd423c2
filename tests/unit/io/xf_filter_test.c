/*
 * xf_filter_test.c — the `filter` transform: dataShark [log_filter] semantics (every include
 * matches, no exclude matches, re.match anchoring, missing fields, paths, non-string values),
 * config errors at the regex's line:col, per-worker use from two threads at once, and no heap
 * allocation per event.
 *
 * The filter is built through the real config loader and pipeline (not started), then its
 * process() is called directly with batches of events parsed from JSON.
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

extern const struct sl_component_ops sl_xf_filter_ops;
extern const struct sl_component_ops sl_out_null_ops;

/* a source that is never started: the graph needs one */
static const struct sl_component_ops *const test_types[] = {&idle_ops, &sl_xf_filter_ops,
                                                            &sl_out_null_ops, NULL};

struct fx {
    struct sl_config *cfg;
    struct sl_pipeline *p;
    struct sl_component *f;
};

/* Build `src -> f (filter with `opts`) -> null`; returns 0 or the error with d filled. */
static int fx_try(struct fx *fx, const char *opts, int workers, struct sl_diag *d)
{
    char yaml[4096];
    snprintf(yaml, sizeof(yaml),
             "sources:\n"
             "  src: {type: idle}\n"
             "transforms:\n"
             "  f:\n"
             "    type: filter\n"
             "    inputs: [src]\n"
             "%s"
             "sinks:\n"
             "  out: {type: \"null\", inputs: [f]}\n",
             opts);
    memset(fx, 0, sizeof(*fx));
    sl_diag_init(d);
    int rc = sl_config_load_string(yaml, strlen(yaml), "f.yaml", &fx->cfg, d);
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
    if (fx_try(fx, opts, 2, &d)) {
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

static void push_json(struct sl_batch *b, const char *json)
{
    size_t n = strlen(json);
    char *copy = sl_batch_copy(b, json, n);
    assert_non_null(copy);
    struct sl_diag d;
    sl_diag_init(&d);
    if (sl_json_parse_event(b, copy, n, NULL, &d))
        fail_msg("bad test event %s: %s", json, d.msg);
}

/* Run the events (JSON objects with an int field "i" = their index) through the filter and
 * return the indexes that passed as a string like "0,2,3". */
static void run(struct fx *fx, const char *const *events, size_t n, uint32_t worker, char *out,
                size_t out_len)
{
    struct sl_batch *b = sl_batch_new();
    for (size_t i = 0; i < n; i++)
        push_json(b, events[i]);
    struct sl_xf_ctx x = {.worker = worker, .comp = fx->f};
    struct sl_batch *r = fx->f->ops->process(fx->f, b, &x);
    assert_ptr_equal(r, b);
    assert_null(x.errors);
    size_t len = 0;
    out[0] = 0;
    sl_sym sym_i = sl_sym_intern_c("i");
    for (uint32_t k = 0; k < r->count; k++) {
        const struct sl_value *v = sl_event_get(&r->events[k], sym_i);
        assert_non_null(v);
        len +=
            (size_t)snprintf(out + len, out_len - len, "%s%lld", k ? "," : "", (long long)v->u.i);
    }
    sl_batch_unref(r);
}

static void expect(const char *opts, const char *const *events, size_t n, const char *want)
{
    struct fx fx;
    fx_new(&fx, opts);
    char got[512];
    run(&fx, events, n, 0, got, sizeof(got));
    if (strcmp(got, want) != 0)
        fail_msg("filter %s: kept [%s], want [%s]", opts, got, want);
    /* what was not kept was counted as dropped */
    size_t kept = want[0] ? 1 : 0;
    for (const char *p = want; *p; p++)
        kept += *p == ',';
    assert_int_equal(atomic_load(&fx.f->m.dropped), n - kept);
    fx_free(&fx);
}

#define N(a) (sizeof(a) / sizeof((a)[0]))

static void test_include_all(void **state)
{
    const char *ev[] = {
        "{\"i\":0,\"a\":\"x1\",\"b\":\"y1\"}", /* both match */
        "{\"i\":1,\"a\":\"x1\",\"b\":\"n\"}",  /* b does not */
        "{\"i\":2,\"a\":\"n\",\"b\":\"y\"}",   /* a does not */
        "{\"i\":3,\"a\":\"x\"}",               /* b missing: dropped */
        "{\"i\":4}",                           /* both missing */
        "{\"i\":5,\"b\":\"yy\",\"a\":\"xx\"}", /* order of fields does not matter */
    };
    expect("    include: {a: \"x\", b: \"y\"}\n", ev, N(ev), "0,5");
}

static void test_exclude_any(void **state)
{
    const char *ev[] = {
        "{\"i\":0,\"a\":\"x\"}",             /* a matches: dropped */
        "{\"i\":1,\"b\":\"y\"}",             /* b matches: dropped */
        "{\"i\":2,\"a\":\"n\",\"b\":\"n\"}", /* neither */
        "{\"i\":3}",                         /* missing exclude fields do not drop */
        "{\"i\":4,\"a\":\"x\",\"b\":\"y\"}", /* both */
        "{\"i\":5,\"a\":null,\"b\":\"nn\"}", /* null does not match */
    };
    expect("    exclude: {a: \"x\", b: \"y\"}\n", ev, N(ev), "2,3,5");
    /* null is a missing field, not the text "null": it matches no regex, not even "" */
    const char *ev2[] = {"{\"i\":0,\"a\":null}", "{\"i\":1,\"a\":\"nul\"}"};
    expect("    exclude: {a: \"nu\"}\n", ev2, N(ev2), "0");
    expect("    include: {a: \"\"}\n", ev2, N(ev2), "1");
}

static void test_include_and_exclude(void **state)
{
    const char *ev[] = {
        "{\"i\":0,\"proto\":\"tcp\",\"id.resp_p\":80}",
        "{\"i\":1,\"proto\":\"tcp\",\"id.resp_p\":53}",
        "{\"i\":2,\"proto\":\"udp\",\"id.resp_p\":53}",
        "{\"i\":3,\"proto\":\"tcp\",\"id.resp_p\":5353}", /* 53$ anchored at the start: no */
        "{\"i\":4,\"proto\":\"tcp\"}",
    };
    expect("    include: {proto: \"tcp\"}\n    exclude: {\"id.resp_p\": \"53$\"}\n", ev, N(ev),
           "0,3,4");
}

static void test_anchoring(void **state)
{
    const char *ev[] = {
        "{\"i\":0,\"s\":\"abc\"}",
        "{\"i\":1,\"s\":\"bcd\"}",
        "{\"i\":2,\"s\":\"b\"}",
        "{\"i\":3,\"s\":\"\"}",
    };
    /* re.match: 'b' must match at the start of the text */
    expect("    include: {s: \"b\"}\n", ev, N(ev), "1,2");
    /* ... but not at the end: "abc" matches "abcdef" */
    const char *ev2[] = {"{\"i\":0,\"s\":\"abcdef\"}", "{\"i\":1,\"s\":\"xabc\"}",
                         "{\"i\":2,\"s\":\"abc\"}"};
    expect("    include: {s: \"abc\"}\n", ev2, N(ev2), "0,2");
    expect("    include: {s: \"abc$\"}\n", ev2, N(ev2), "2");
    /* $ also matches before a final newline, as in Python */
    const char *ev3[] = {"{\"i\":0,\"s\":\"tcp\\n\"}", "{\"i\":1,\"s\":\"tcpx\"}"};
    expect("    include: {s: \"tcp$\"}\n", ev3, N(ev3), "0");
    /* an empty regex matches anything present, including the empty string */
    expect("    include: {s: \"\"}\n", ev, N(ev), "0,1,2,3");
}

static void test_paths(void **state)
{
    const char *ev[] = {
        "{\"i\":0,\"n\":{\"a\":{\"b\":7}}}", "{\"i\":1,\"n\":{\"a\":{\"b\":8}}}",
        "{\"i\":2,\"n\":{\"a\":7}}",         "{\"i\":3,\"n\":\"7\"}",
        "{\"i\":4,\"n.a.b\":\"7\"}", /* a literal field of that name */
    };
    expect("    include: {\"n.a.b\": \"7\"}\n", ev, N(ev), "0,4");
    /* the literal Zeek-style name wins over the nested reading */
    const char *ev2[] = {
        "{\"i\":0,\"id.orig_h\":\"10.0.0.1\",\"id\":{\"orig_h\":\"192.168.0.1\"}}",
        "{\"i\":1,\"id.orig_h\":\"192.168.0.1\",\"id\":{\"orig_h\":\"10.0.0.1\"}}",
        "{\"i\":2,\"id\":{\"orig_h\":\"10.1.1.1\"}}",
    };
    expect("    include: {\"id.orig_h\": \"10\\\\.\"}\n", ev2, N(ev2), "0,2");
}

static void test_non_string_values(void **state)
{
    const char *ev[] = {
        "{\"i\":0,\"v\":443}",    "{\"i\":1,\"v\":8443}", "{\"i\":2,\"v\":-44}",
        "{\"i\":3,\"v\":44.5}",   "{\"i\":4,\"v\":true}", "{\"i\":5,\"v\":[44]}",
        "{\"i\":6,\"v\":\"44\"}",
    };
    expect("    include: {v: \"44\"}\n", ev, N(ev), "0,3,6");
    expect("    include: {v: \"-?\\\\d+$\"}\n", ev, N(ev), "0,1,2,6");
    expect("    include: {v: \"tr\"}\n", ev, N(ev), "4");
    expect("    include: {v: \"\\\\[44\\\\]\"}\n", ev, N(ev), "5"); /* lists as JSON text */
    expect("    exclude: {v: \"4\"}\n", ev, N(ev), "1,2,4,5");
}

static void test_utf8(void **state)
{
    const char *ev[] = {
        "{\"i\":0,\"s\":\"\\u00e9t\\u00e9\"}",
        "{\"i\":1,\"s\":\"ete\"}",
        "{\"i\":2,\"s\":\"\\u00e9\"}",
    };
    /* '.' is one character, not one byte */
    expect("    include: {s: \"^...$\"}\n", ev, N(ev), "0,1");
    expect("    include: {s: \".$\"}\n", ev, N(ev), "2");

    /* invalid UTF-8 in a value (bytes from a lines source): no error, matched where valid */
    struct fx fx;
    fx_new(&fx, "    include: {s: \"ab\"}\n");
    struct sl_batch *b = sl_batch_new();
    sl_sym s = sl_sym_intern_c("s");
    static const char bad1[] = "ab\xff\xfe", bad2[] = "\xff"
                                                      "ab";
    assert_int_equal(sl_event_set(b, sl_batch_push(b), s, sl_value_str(bad1, 4)), 0);
    assert_int_equal(sl_event_set(b, sl_batch_push(b), s, sl_value_str(bad2, 3)), 0);
    struct sl_xf_ctx x = {.worker = 1, .comp = fx.f};
    b = fx.f->ops->process(fx.f, b, &x);
    assert_int_equal(b->count, 1);
    assert_int_equal(sl_event_get(&b->events[0], s)->len, 4);
    sl_batch_unref(b);
    fx_free(&fx);
}

static void test_no_rules_pass_all(void **state)
{
    const char *ev[] = {"{\"i\":0}", "{\"i\":1,\"a\":1}"};
    expect("", ev, N(ev), "0,1");
    expect("    include: {}\n", ev, N(ev), "0,1");
}

static void test_bad_regex(void **state)
{
    struct fx fx;
    struct sl_diag d;
    /* line 8 col 14 is the value "tcp(" */
    int rc = fx_try(&fx,
                    "    include:\n"
                    "      ok: \"x\"\n"
                    "      proto: \"tcp(\"\n",
                    1, &d);
    assert_int_equal(rc, SL_ECONFIG);
    char msg[1024];
    sl_diag_format(&d, msg, sizeof(msg));
    print_message("%s\n", msg);
    assert_string_equal(d.file, "f.yaml");
    assert_int_equal(d.line, 9);
    assert_int_equal(d.col, 14);
    assert_non_null(strstr(d.msg, "proto"));
    assert_non_null(strstr(d.msg, "missing closing parenthesis"));
    assert_non_null(strstr(d.msg, "offset 4"));
    assert_true(d.hint[0] != 0);

    rc = fx_try(&fx, "    exclude: {a: \"[z-a]\"}\n", 1, &d);
    assert_int_equal(rc, SL_ECONFIG);
    assert_int_equal(d.line, 7);
    assert_int_equal(d.col, 18);
    assert_non_null(strstr(d.msg, "exclude"));
    assert_non_null(strstr(d.msg, "range out of order"));

    rc = fx_try(&fx, "    exclude: {a.b.c.d.e.f.g.h.i.j.k: \"x\"}\n", 1, &d);
    assert_int_equal(rc, SL_ECONFIG);
    assert_non_null(strstr(d.msg, "field path"));
}

/* ---- concurrency: two workers filter at the same time (the instance is shared) */

struct wjob {
    struct sl_component *f;
    uint32_t worker;
    uint64_t kept;
};

static void fill(struct sl_batch *b, uint32_t n, uint32_t salt)
{
    sl_sym proto = sl_sym_intern_c("proto"), port = sl_sym_intern_c("id.resp_p");
    sl_sym nested = sl_sym_intern_c("n");
    /* read-only once initialised: the two worker threads share it */
    static struct sl_kv kv[2] = {{{"a", 1}, {.type = SL_V_INT, .u = {.i = 1}}},
                                 {{"b", 1}, {.type = SL_V_INT, .u = {.i = 2}}}};
    struct sl_value map = {.type = SL_V_MAP, .len = 2};
    map.u.map = kv;
    for (uint32_t i = 0; i < n; i++) {
        struct sl_event *ev = sl_batch_push(b);
        uint32_t k = i + salt;
        assert_int_equal(sl_event_set(b, ev, proto, sl_value_str(k % 3 ? "tcp" : "udp", 3)), 0);
        assert_int_equal(sl_event_set(b, ev, port, sl_value_int(k % 4 ? 443 : 53)), 0);
        assert_int_equal(sl_event_set(b, ev, nested, map), 0);
    }
}

/* events kept by include {proto: tcp, n.b: 2} exclude {id.resp_p: 53} among fill(n, salt) */
static uint64_t want_kept(uint32_t n, uint32_t salt)
{
    uint64_t w = 0;
    for (uint32_t i = 0; i < n; i++)
        w += (i + salt) % 3 && (i + salt) % 4;
    return w;
}

#define FILTER_OPTS                                                                                \
    "    include: {proto: \"tcp\", n.b: \"2\"}\n    exclude: {\"id.resp_p\": \"53\"}\n"

static void *worker_main(void *arg)
{
    struct wjob *j = arg;
    for (int round = 0; round < 50; round++) {
        struct sl_batch *b = sl_batch_new();
        fill(b, 1000, (uint32_t)round);
        struct sl_xf_ctx x = {.worker = j->worker, .comp = j->f};
        b = j->f->ops->process(j->f, b, &x);
        j->kept += b->count;
        sl_batch_unref(b);
    }
    return NULL;
}

static void test_two_workers(void **state)
{
    struct fx fx;
    fx_new(&fx, FILTER_OPTS);
    struct wjob jobs[2] = {{fx.f, 0, 0}, {fx.f, 1, 0}};
    pthread_t t[2];
    for (int i = 0; i < 2; i++)
        assert_int_equal(pthread_create(&t[i], NULL, worker_main, &jobs[i]), 0);
    for (int i = 0; i < 2; i++)
        pthread_join(t[i], NULL);
    uint64_t want = 0;
    for (uint32_t round = 0; round < 50; round++)
        want += want_kept(1000, round);
    assert_int_equal(jobs[0].kept, want);
    assert_int_equal(jobs[1].kept, want);
    assert_int_equal(atomic_load(&fx.f->m.dropped), 2 * (50 * 1000 - want));
    fx_free(&fx);
}

/* ---- no heap allocation per event */

static void test_no_alloc_per_event(void **state)
{
    struct fx fx;
    fx_new(&fx, FILTER_OPTS);
    enum { BATCHES = 10, PER = 1000 };
    struct sl_batch *bs[BATCHES + 1];
    for (int i = 0; i <= BATCHES; i++) {
        bs[i] = sl_batch_new();
        fill(bs[i], PER, (uint32_t)i);
    }
    /* warm-up: the first batch sizes the per-worker scratch */
    struct sl_xf_ctx x = {.worker = 1, .comp = fx.f};
    bs[0] = fx.f->ops->process(fx.f, bs[0], &x);
    uint64_t kept = 0, want = 0;
    uint64_t a0 = sl_alloc_count();
    for (int i = 1; i <= BATCHES; i++) {
        x.errors = NULL;
        bs[i] = fx.f->ops->process(fx.f, bs[i], &x);
        kept += bs[i]->count;
        want += want_kept(PER, (uint32_t)i);
    }
    uint64_t allocs = sl_alloc_count() - a0;
    print_message("%d events filtered, %llu kept, %llu allocations\n", BATCHES * PER,
                  (unsigned long long)kept, (unsigned long long)allocs);
    assert_int_equal(kept, want);
    assert_int_equal(allocs, 0);
    for (int i = 0; i <= BATCHES; i++)
        sl_batch_unref(bs[i]);
    fx_free(&fx);
}

int main(void)
{
    sl_core_init();
    sl_registry_set(test_types);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_include_all),
        cmocka_unit_test(test_exclude_any),
        cmocka_unit_test(test_include_and_exclude),
        cmocka_unit_test(test_anchoring),
        cmocka_unit_test(test_paths),
        cmocka_unit_test(test_non_string_values),
        cmocka_unit_test(test_utf8),
        cmocka_unit_test(test_no_rules_pass_all),
        cmocka_unit_test(test_bad_regex),
        cmocka_unit_test(test_two_workers),
        cmocka_unit_test(test_no_alloc_per_event),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
