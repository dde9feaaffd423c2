/*
 * in_generator_test.c — the `generator` source through the real runtime: the same seed gives
 * the same events, count is exact, the rate holds (loosely) and flows smoothly at low rates,
 * the fields have Zeek's names and shapes, the JSON of every event parses back to the same
 * event, start_time accepts RFC 3339 forms, config errors, and no heap allocation per event.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "../testkit.h"

#include "base/alloc.h"
#include "base/buf.h"
#include "base/clock.h"
#include "codec/json.h"
#include "core/config.h"
#include "core/pipeline.h"
#include "io/plugins.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ---- helpers */

static struct sl_pipeline *start(const char *gen_opts, const char *sink, struct sl_config **cfg)
{
    char yaml[1024];
    snprintf(yaml, sizeof(yaml),
             "sources:\n  gen: {type: generator, %s}\n"
             "sinks:\n  out: {type: %s, inputs: [gen]}\n",
             gen_opts, sink);
    struct sl_diag d;
    sl_diag_init(&d);
    if (sl_config_load_string(yaml, strlen(yaml), "t.yaml", cfg, &d))
        fail_msg("config: %s", d.msg);
    /* one worker: batches reach the sink in the order they were emitted */
    struct sl_pipeline_opts o = {.workers = 1, .queue_batches = 4};
    struct sl_pipeline *p = sl_pipeline_new(*cfg, &o, &d);
    if (!p) {
        char m[1400];
        sl_diag_format(&d, m, sizeof(m));
        fail_msg("pipeline: %s", m);
    }
    assert_int_equal(sl_pipeline_start(p), 0);
    return p;
}

static char *got(struct sl_pipeline *p, uint64_t *events)
{
    struct collect *s = sl_pipeline_find(p, "out")->state;
    pthread_mutex_lock(&s->lock);
    char *t = sl_xstrndup(s->text.ptr ? s->text.ptr : "", s->text.len);
    if (events)
        *events = s->events;
    pthread_mutex_unlock(&s->lock);
    return t;
}

/* Run a finite generator to its end; its events as JSON lines (caller frees). */
static char *generate(const char *gen_opts, uint64_t *events)
{
    struct sl_config *cfg;
    struct sl_pipeline *p = start(gen_opts, "collect", &cfg);
    assert_true(sl_pipeline_wait(p, 60000)); /* count > 0: finite, ends by itself */
    char *t = got(p, events);
    sl_pipeline_free(p);
    sl_config_free(cfg);
    return t;
}

static const struct sl_value *field(const struct sl_event *ev, const char *name)
{
    return sl_event_get(ev, sl_sym_intern_c(name));
}

static struct sl_str str_of(const struct sl_event *ev, const char *name)
{
    const struct sl_value *v = field(ev, name);
    if (!v || v->type != SL_V_STRING)
        fail_msg("field %s: missing or not a string", name);
    return sl_value_as_str(v);
}

static int64_t int_of(const struct sl_event *ev, const char *name)
{
    const struct sl_value *v = field(ev, name);
    if (!v || v->type != SL_V_INT)
        fail_msg("field %s: missing or not an int", name);
    return v->u.i;
}

static bool str_is(struct sl_str s, const char *lit)
{
    return s.len == strlen(lit) && memcmp(s.ptr, lit, s.len) == 0;
}

static bool is_private_v4(struct sl_str s)
{
    struct sl_value ip;
    if (sl_value_ip_parse(s, &ip) || !(ip.flags & SL_VF_IP4))
        return false;
    return ip.u.ip[0] == 10 || (ip.u.ip[0] == 192 && ip.u.ip[1] == 168);
}

/* ---- tests */

static void test_same_seed_same_events(void **state)
{
    uint64_t n1, n2, n3;
    char *a = generate("count: 5000, seed: 42, start_time: \"2020-04-30T00:00:00Z\"", &n1);
    char *b = generate("count: 5000, seed: 42, start_time: \"2020-04-30T00:00:00Z\"", &n2);
    char *c = generate("count: 5000, seed: 43, start_time: \"2020-04-30T00:00:00Z\"", &n3);
    assert_int_equal(n1, 5000);
    assert_int_equal(n2, 5000);
    assert_int_equal(n3, 5000);
    assert_string_equal(a, b);
    assert_string_not_equal(a, c);
    /* the same instant written with an offset and a fraction of zero: the same events */
    char *d =
        generate("count: 5000, seed: 42, start_time: \"2020-04-30T02:00:00.000+02:00\"", NULL);
    assert_string_equal(a, d);
    sl_free(a);
    sl_free(b);
    sl_free(c);
    sl_free(d);
}

static void test_count_is_exact(void **state)
{
    static const char *const opts[] = {"count: 1", "count: 1023", "count: 1024", "count: 1025",
                                       "count: 3001, types: [dns]"};
    static const uint64_t want[] = {1, 1023, 1024, 1025, 3001};
    for (size_t i = 0; i < sizeof(opts) / sizeof(opts[0]); i++) {
        uint64_t n;
        sl_free(generate(opts[i], &n));
        assert_int_equal(n, want[i]);
    }
}

static void test_fields_and_json_round_trip(void **state)
{
    uint64_t n;
    char *text = generate("count: 6000, seed: 9, start_time: \"2021-06-01T12:00:00Z\"", &n);
    assert_int_equal(n, 6000);
    const double start = 1622548800.0; /* 2021-06-01T12:00:00Z */
    uint64_t per_type[3] = {0};
    double last_ts = 0;
    size_t total_len = 0;
    struct sl_buf again;
    sl_buf_init(&again, 0);
    for (char *line = text, *nl; (nl = strchr(line, '\n')); line = nl + 1) {
        size_t len = (size_t)(nl - line);
        total_len += len + 1;
        struct sl_batch *b = sl_batch_new();
        struct sl_diag d;
        sl_diag_init(&d);
        char *copy = sl_batch_copy(b, line, len);
        if (sl_json_parse_event(b, copy, len, NULL, &d))
            fail_msg("does not parse back (%s): %.*s", d.msg, (int)len, line);
        const struct sl_event *ev = &b->events[0];

        /* JSON round trip: writing the parsed event gives the same text */
        sl_buf_reset(&again);
        sl_json_write_event(&again, ev);
        if (again.len != len || memcmp(again.ptr, line, len) != 0)
            fail_msg("round trip differs:\n%.*s\n%.*s", (int)len, line, (int)again.len, again.ptr);

        struct sl_str path = str_of(ev, "_path");
        int type = str_is(path, "conn")   ? 0
                   : str_is(path, "http") ? 1
                   : str_is(path, "dns")  ? 2
                                          : -1;
        assert_true(type >= 0);
        per_type[type]++;
        const struct sl_value *ts = field(ev, "ts");
        assert_non_null(ts);
        assert_int_equal(ts->type, SL_V_DOUBLE);
        assert_true(ts->u.d >= start && ts->u.d < start + 3600);
        assert_true(ts->u.d >= last_ts); /* time moves forward */
        last_ts = ts->u.d;
        struct sl_str uid = str_of(ev, "uid");
        assert_int_equal(uid.len, 18);
        assert_int_equal(uid.ptr[0], 'C');
        for (size_t i = 1; i < uid.len; i++)
            assert_non_null(strchr("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz",
                                   uid.ptr[i]));
        assert_true(is_private_v4(str_of(ev, "id.orig_h")));
        struct sl_value rh;
        assert_int_equal(sl_value_ip_parse(str_of(ev, "id.resp_h"), &rh), 0);
        int64_t op = int_of(ev, "id.orig_p"), rp = int_of(ev, "id.resp_p");
        assert_true(op >= 49152 && op <= 65535);
        assert_true((rp > 0 && rp < 49152) || rp == 49667);
        if (type == 0) {
            struct sl_str proto = str_of(ev, "proto");
            assert_true(str_is(proto, "tcp") || str_is(proto, "udp"));
            assert_true(str_of(ev, "conn_state").len >= 2);
            assert_true(str_of(ev, "history").len >= 1);
            assert_true(int_of(ev, "orig_pkts") >= 1);
            assert_true(int_of(ev, "orig_ip_bytes") >= int_of(ev, "orig_pkts") * 20);
            assert_true(int_of(ev, "resp_pkts") >= 0);
        } else if (type == 1) {
            int64_t code = int_of(ev, "status_code");
            assert_true(code >= 100 && code < 600);
            assert_true(str_of(ev, "method").len >= 3);
            assert_true(str_of(ev, "host").len > 0);
            assert_int_equal(str_of(ev, "uri").ptr[0], '/');
            assert_true(rp == 80 || rp == 8080);
        } else {
            assert_int_equal(rp, 53);
            assert_true(str_is(str_of(ev, "proto"), "udp"));
            assert_true(str_of(ev, "query").len > 0);
            assert_true(str_of(ev, "qtype_name").len > 0);
            struct sl_str rcode = str_of(ev, "rcode_name");
            assert_true(str_is(rcode, "NOERROR") || str_is(rcode, "NXDOMAIN"));
            const struct sl_value *ans = field(ev, "answers"), *ttls = field(ev, "TTLs");
            assert_true((ans == NULL) == (ttls == NULL));
            if (ans) {
                assert_true(str_is(rcode, "NOERROR"));
                assert_int_equal(ans->type, SL_V_LIST);
                assert_int_equal(ttls->type, SL_V_LIST);
                assert_int_equal(ans->len, ttls->len);
                assert_true(ans->len >= 1);
            }
        }
        sl_batch_unref(b);
    }
    sl_buf_fini(&again);
    /* the three types, roughly equally */
    for (int t = 0; t < 3; t++)
        assert_true(per_type[t] > 1500 && per_type[t] < 2500);
    /* about 300-450 bytes an event as JSON */
    double avg = (double)total_len / (double)n;
    print_message("average event: %.0f bytes of JSON\n", avg);
    assert_true(avg > 250 && avg < 500);
    sl_free(text);
}

static void test_rate_and_smoothness(void **state)
{
    /* 20 events/s: some arrive within half a second (not one batch every 50 s) */
    struct sl_config *cfg;
    struct sl_pipeline *p = start("rate: 20", "collect", &cfg);
    usleep(600000);
    uint64_t early;
    sl_free(got(p, &early));
    assert_true(early >= 3 && early <= 30);
    sl_pipeline_stop(p);
    assert_true(sl_pipeline_wait(p, 10000)); /* the stop is seen while waiting for tokens */
    sl_pipeline_free(p);
    sl_config_free(cfg);

    /* 2,000 events/s for ~1.5 s: loose bounds (a loaded machine is slower, never faster) */
    p = start("rate: 2000", "collect", &cfg);
    int64_t t0 = sl_clock_mono_ns();
    usleep(1500000);
    sl_pipeline_stop(p);
    assert_true(sl_pipeline_wait(p, 10000));
    double secs = (double)(sl_clock_mono_ns() - t0) / 1e9;
    uint64_t n;
    sl_free(got(p, &n));
    print_message("rate 2000/s: %llu events in %.2f s\n", (unsigned long long)n, secs);
    assert_true((double)n <= 2000 * secs * 1.1 + 100);
    assert_true(n >= 1000);
    sl_pipeline_free(p);
    sl_config_free(cfg);
}

static void test_unbounded_stops(void **state)
{
    struct sl_config *cfg;
    struct sl_pipeline *p = start("seed: 3", "\"null\"", &cfg);
    usleep(200000);
    assert_false(sl_pipeline_wait(p, 0)); /* count: 0 runs until stopped */
    sl_pipeline_stop(p);
    assert_true(sl_pipeline_wait(p, 10000));
    assert_true(atomic_load(&sl_pipeline_find(p, "gen")->m.events_out) > 1000);
    sl_pipeline_free(p);
    sl_config_free(cfg);
}

static void test_no_heap_allocation_per_event(void **state)
{
    struct sl_config *cfg;
    uint64_t a0 = sl_alloc_count();
    struct sl_pipeline *p = start("count: 200000", "\"null\"", &cfg);
    assert_true(sl_pipeline_wait(p, 60000));
    uint64_t allocs = sl_alloc_count() - a0;
    uint64_t events = atomic_load(&sl_pipeline_find(p, "gen")->m.events_out);
    sl_pipeline_free(p);
    sl_config_free(cfg);
    assert_int_equal(events, 200000);
    print_message("%llu allocations for %llu events\n", (unsigned long long)allocs,
                  (unsigned long long)events);
    assert_true(allocs * 50 < events);
}

static void test_config_errors(void **state)
{
    static const struct {
        const char *opts;
        const char *needle;
    } cases[] = {
        {"types: [conn, smtp]", "unknown type 'smtp'"},
        {"start_time: \"2020-13-01T00:00:00Z\"", "bad start_time"},
        {"start_time: \"2020-04-30 00:00\"", "bad start_time"},
        {"start_time: \"2020-04-30T00:00:00\"", "bad start_time"}, /* no zone */
        {"rate: -5", "rate"},
        {"count: -1", "count"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char yaml[512];
        snprintf(yaml, sizeof(yaml),
                 "sources:\n  gen:\n    type: generator\n    %s\n"
                 "sinks:\n  out: {type: collect, inputs: [gen]}\n",
                 cases[i].opts);
        struct sl_config *cfg;
        struct sl_diag d;
        sl_diag_init(&d);
        assert_int_equal(sl_config_load_string(yaml, strlen(yaml), "t.yaml", &cfg, &d), 0);
        struct sl_pipeline_opts o = {.workers = 1, .once = true};
        struct sl_pipeline *p = sl_pipeline_new(cfg, &o, &d);
        if (p)
            fail_msg("case %zu (%s): accepted", i, cases[i].opts);
        char m[1400];
        sl_diag_format(&d, m, sizeof(m));
        if (!strstr(m, cases[i].needle) || d.line != 4)
            fail_msg("case %zu: want line 4 '%s', got: %s", i, cases[i].needle, m);
        sl_config_free(cfg);
    }
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
        cmocka_unit_test(test_same_seed_same_events),
        cmocka_unit_test(test_count_is_exact),
        cmocka_unit_test(test_fields_and_json_round_trip),
        cmocka_unit_test(test_rate_and_smoothness),
        cmocka_unit_test(test_unbounded_stops),
        cmocka_unit_test(test_no_heap_allocation_per_event),
        cmocka_unit_test(test_config_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
