/*
 * profiler_test.c — the profiler engine: profiler.json errors (positions, paths, carets),
 * Metron's builder rules, periods, lag and late messages, carry-over, ttl, the entity bound,
 * groups text, triage, memory per entity, no allocation per message, the REPL functions.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "base/alloc.h"
#include "base/arena.h"
#include "lang/stellar.h"
#include "lang/sval.h"
#include "state/profiler.h"

#include <stdio.h>
#include <string.h>

/* ---- a message as name=value pairs */

struct msg {
    const char *names[8];
    struct sl_value vals[8];
    int n;
};

static bool mget(void *ud, sl_sym sym, const char *name, size_t len, struct sl_value *out)
{
    const struct msg *m = ud;
    for (int i = 0; i < m->n; i++)
        if (strlen(m->names[i]) == len && !memcmp(m->names[i], name, len)) {
            *out = m->vals[i];
            return true;
        }
    return false;
}

static struct msg ip_msg(const char *ip)
{
    struct msg m = {.names = {"ip_src_addr", "bytes", "count"}, .n = 3};
    m.vals[0] = sl_value_str(ip, strlen(ip));
    m.vals[1] = sl_sv_long(100);
    m.vals[2] = sl_sv_long(1000); /* shadowed by the profile variable `count` */
    return m;
}

/* ---- collected measurements */

struct got {
    int n;
    char entity[64][32];
    char groups[64][128];
    char value[64][128];
    char triage[64][128];
    int64_t period[64];
    int fails;
    char fail_what[256];
};

static void text(const struct sl_value *v, char *out, size_t n)
{
    struct sl_buf b;
    sl_buf_init(&b, 1 << 20);
    sl_sv_format(v, &b);
    snprintf(out, n, "%.*s", (int)b.len, b.ptr ? b.ptr : "");
    sl_buf_fini(&b);
}

static int emit(void *ud, const struct sl_profile_result *r)
{
    struct got *g = ud;
    if (g->n == 64)
        return 1;
    snprintf(g->entity[g->n], 32, "%.*s", (int)r->m.entity.len, r->m.entity.ptr);
    snprintf(g->groups[g->n], 128, "%.*s", (int)r->m.groups.len, r->m.groups.ptr);
    text(&r->m.value, g->value[g->n], 128);
    text(&r->triage, g->triage[g->n], 128);
    g->period[g->n] = r->m.period;
    assert_int_equal(r->m.start_ms, r->m.period * r->m.duration_ms);
    assert_int_equal(r->m.end_ms, r->m.start_ms + r->m.duration_ms);
    g->n++;
    return 0;
}

static void on_fail(void *ud, size_t pi, struct sl_str entity, int64_t period, const char *what,
                    const char *err)
{
    struct got *g = ud;
    g->fails++;
    size_t l = strlen(g->fail_what);
    snprintf(g->fail_what + l, sizeof g->fail_what - l, "%s;", what);
}

struct fx {
    struct sl_profiler_def *def;
    struct sl_profiler *p;
    struct sl_stellar_vm *vm;
    struct sl_arena a;
    struct got got;
    struct sl_profiler_sink sink;
};

static void fx_open(struct fx *f, const char *json, const struct sl_profiler_opts *o)
{
    memset(f, 0, sizeof *f);
    struct sl_diag d;
    sl_diag_init(&d);
    int rc = sl_profiler_def_parse(json, strlen(json), "<test>", &f->def, &d);
    if (rc)
        fprintf(stderr, "%u:%u: %s\n", d.line, d.col, d.msg);
    assert_int_equal(rc, 0);
    f->p = sl_profiler_new(f->def, o);
    f->vm = sl_stellar_vm_new();
    sl_arena_init(&f->a, 4096, 1 << 20);
    f->sink = (struct sl_profiler_sink){emit, on_fail, &f->got};
}

static void fx_close(struct fx *f)
{
    sl_profiler_free(f->p);
    sl_profiler_def_free(f->def);
    sl_stellar_vm_free(f->vm);
    sl_arena_fini(&f->a);
}

/* route message m to every profile and apply at ts; returns the last apply's code */
static int feed(struct fx *f, struct msg *m, int64_t ts, int64_t now)
{
    struct sl_stellar_resolver r = {.get = mget, .ud = m};
    int rc = 0;
    for (size_t i = 0; i < sl_profiler_def_count(f->def); i++) {
        struct sl_str ent;
        const char *err;
        int routed = sl_profiler_route(f->def, i, f->vm, &r, &f->a, &ent, &err);
        if (routed == 1)
            rc = sl_profiler_apply(f->p, i, ent, f->vm, &r, ts, now, &err);
    }
    sl_arena_reset(&f->a);
    return rc;
}

static const char *const COUNTER =
    "{\"profiles\":[{\"profile\":\"c\",\"foreach\":\"ip_src_addr\",\"init\":{\"count\":0},"
    "\"update\":{\"count\":\"count + 1\"},\"result\":\"count\"}]}";

/* ------------------------------------------------------------------ parsing */

static void parse_err(const char *json, const char *want_msg, uint32_t line, uint32_t col,
                      struct sl_diag *d)
{
    struct sl_profiler_def *def = NULL;
    sl_diag_init(d);
    int rc = sl_profiler_def_parse(json, strlen(json), "profiler.json", &def, d);
    assert_int_not_equal(rc, 0);
    assert_null(def);
    if (!strstr(d->msg, want_msg))
        fprintf(stderr, "got: %s\n", d->msg);
    assert_non_null(strstr(d->msg, want_msg));
    assert_string_equal(d->file, "profiler.json");
    if (line)
        assert_int_equal(d->line, line);
    if (col)
        assert_int_equal(d->col, col);
}

static void test_parse_errors(void **state)
{
    struct sl_diag d;
    parse_err("{\"profiles\":[{\"profile\":\"p\",\"result\":\"1\"}]}",
              "profiles[0]: missing 'foreach'", 1, 14, &d);
    parse_err("{\"profiles\":[{\"profile\":\"p\",\"foreach\":\"x\"}]}", "missing 'result'", 1, 0,
              &d);
    parse_err("{\"profiles\":[{\"foreach\":\"x\",\"result\":\"1\"}]}", "missing 'profile'", 0, 0,
              &d);
    /* an expression error: path, column inside the expression, caret, file column */
    parse_err("{\"profiles\":[\n  {\"profile\":\"p\",\"foreach\":\"x\",\n   "
              "\"update\":{\"count\":\"count + * 2\"},"
              "\"result\":\"count\"}]}",
              "profiles[0].update.count: Stellar expression, column 9", 3, 31, &d);
    assert_non_null(strchr(d.hint, '^'));
    /* second profile, groupBy element */
    parse_err("{\"profiles\":[{\"profile\":\"a\",\"foreach\":\"x\",\"result\":\"1\"},"
              "{\"profile\":\"b\",\"foreach\":\"x\",\"result\":\"1\",\"groupBy\":[\"1\",\"(\"]}]}",
              "profiles[1].groupBy[1]: Stellar expression", 1, 0, &d);
    parse_err("{\"profiles\":[{\"profile\":\"a\",\"foreach\":\"x\",\"result\":\"1\"},"
              "{\"profile\":\"a\",\"foreach\":\"x\",\"result\":\"1\"}]}",
              "duplicate profile name 'a'", 1, 0, &d);
    parse_err(
        "{\"profiles\":[{\"profile\":\"a\",\"foreach\":\"x\",\"result\":\"1\",\"udpate\":{}}]}",
        "unknown key 'udpate'", 1, 56, &d);
    parse_err(
        "{\"profiles\":[{\"profile\":\"a\",\"foreach\":\"x\",\"result\":\"1\",\"groupBy\":\"x\"}]}",
        "profiles[0].groupBy: expected a list", 0, 0, &d);
    parse_err("{\"profiles\":[{\"profile\":\"a\",\"foreach\":[1],\"result\":\"1\"}]}",
              "profiles[0].foreach: expected a Stellar expression", 0, 0, &d);
    parse_err("{\"profiles\":[{\"profile\":\"a\",\"foreach\":\"x\",\"result\":{\"triage\":{}}}]}",
              "profiles[0].result: missing 'profile'", 0, 0, &d);
    parse_err(
        "{\"profiles\":[{\"profile\":\"a\",\"foreach\":\"x\",\"result\":\"1\",\"expires\":\"x\"}]}",
        "profiles[0].expires", 0, 0, &d);
    parse_err("{\"profiles\":[\n{\"profile\": \"a\",,}]}", "invalid JSON", 2, 17, &d);
    parse_err("{\"profile\":[]}", "unknown key 'profile'", 1, 2, &d);
    parse_err("[]", "expected an object", 1, 1, &d);

    /* numbers and booleans are sources; result object form; timestampField; expires */
    const char *ok =
        "{\"timestampField\":\"ts\",\"profiles\":[{\"profile\":\"p\",\"foreach\":\"x\","
        "\"onlyif\":true,\"init\":{\"n\":0,\"f\":1.5},\"result\":{\"profile\":\"n\","
        "\"triage\":{\"t\":\"n\"}},\"expires\":30}]}";
    struct sl_profiler_def *def;
    sl_diag_init(&d);
    assert_int_equal(sl_profiler_def_parse(ok, strlen(ok), "x", &def, &d), 0);
    assert_int_equal(sl_profiler_def_count(def), 1);
    assert_string_equal(sl_profiler_def_name(def, 0), "p");
    assert_string_equal(sl_profiler_def_timestamp_field(def), "ts");
    assert_true(sl_profiler_def_expires_days(def, 0) == 30.0);
    sl_profiler_def_free(def);
}

/* every allocation of parsing and compiling made to fail in turn: an error, never a crash
 * or a leak (ASan) */
static void test_parse_alloc_failures(void **state)
{
    const char *json = "{\"timestampField\":\"ts\",\"profiles\":[{\"profile\":\"p\","
                       "\"foreach\":\"ip_src_addr\",\"onlyif\":\"exists(bytes)\","
                       "\"init\":{\"n\":0,\"s\":\"STATS_INIT()\"},\"update\":{\"n\":\"n + "
                       "1\",\"s\":\"STATS_ADD(s, bytes)\"},\"groupBy\":[\"'a' + 'b'\"],"
                       "\"result\":{\"profile\":\"n\",\"triage\":{\"m\":\"STATS_MEAN(s)\"}}},"
                       "{\"profile\":\"q\",\"foreach\":\"'\\u00e9'\",\"result\":\"[1, {'k': "
                       "2}]\"}]}";
    struct sl_profiler_def *def;
    struct sl_diag d;
    sl_diag_init(&d);
    assert_int_equal(sl_profiler_def_parse(json, strlen(json), "x", &def, &d), 0); /* warm */
    sl_profiler_def_free(def);
    int failures = 0;
    for (uint64_t nth = 1; nth < 400; nth++) {
        sl_diag_init(&d);
        def = NULL;
        sl_alloc_fail_nth(nth);
        int rc = sl_profiler_def_parse(json, strlen(json), "x", &def, &d);
        sl_alloc_fail_nth(0);
        if (rc) {
            failures++;
            assert_null(def);
            assert_true(d.msg[0] != 0);
        } else {
            assert_int_equal(sl_profiler_def_count(def), 2);
        }
        sl_profiler_def_free(def);
    }
    assert_true(failures > 0);
}

/* ------------------------------------------------------------------ builder rules */

/* a variable holding a list of sketches is dropped when its period closes: its size is taken
 * before the sketches are released (it read a freed sketch: found by fuzz_changelog) */
static void test_drop_list_of_sketches(void **state)
{
    (void)state;
    struct fx f;
    const char *json = "{\"profiles\":[{\"profile\":\"l\",\"foreach\":\"ip_src_addr\","
                       "\"init\":{\"l\":\"[STATS_INIT(), STATS_INIT()]\"},"
                       "\"result\":\"LENGTH(l)\"}]}";
    struct sl_profiler_opts o = {.period_ms = 1000};
    fx_open(&f, json, &o);
    struct msg a = ip_msg("10.0.0.1");
    assert_int_equal(feed(&f, &a, 100, 100), 0);
    assert_int_equal(sl_profiler_advance(f.p, f.vm, 1000, 100, &f.sink), 1);
    assert_string_equal(f.got.value[0], "2");
    assert_int_equal(feed(&f, &a, 1100, 1100), 0); /* one left open: freed by fx_close */
    fx_close(&f);
}

static void test_counter_and_routing(void **state)
{
    struct fx f;
    const char *json = "{\"profiles\":[{\"profile\":\"c\",\"foreach\":\"ip_src_addr\","
                       "\"onlyif\":\"bytes > 50\",\"init\":{\"count\":0},"
                       "\"update\":{\"count\":\"count + 1\"},\"result\":\"count\"},"
                       "{\"profile\":\"n\",\"foreach\":\"bytes\",\"result\":\"'x'\"}]}";
    struct sl_profiler_opts o = {.period_ms = 1000};
    fx_open(&f, json, &o);
    struct msg a = ip_msg("10.0.0.1"), b = ip_msg("10.0.0.2");
    for (int i = 0; i < 3; i++)
        assert_int_equal(feed(&f, &a, 100, 100), 0);
    assert_int_equal(feed(&f, &b, 100, 100), 0);
    b.vals[1] = sl_sv_long(10); /* onlyif false for c */
    assert_int_equal(feed(&f, &b, 100, 100), 0);
    /* a null foreach is an error, an onlyif false is 0 */
    struct msg nul = {.n = 0};
    struct sl_stellar_resolver r = {.get = mget, .ud = &nul};
    struct sl_str ent;
    const char *err;
    assert_true(sl_profiler_route(f.def, 1, f.vm, &r, &f.a, &ent, &err) < 0);
    assert_string_equal(err, "foreach: the entity is null");
    assert_int_equal(sl_profiler_route(f.def, 0, f.vm, &r, &f.a, &ent, &err), 0);
    assert_int_equal(sl_profiler_next_close(f.p), 1000);
    assert_int_equal(sl_profiler_advance(f.p, f.vm, 999, 100, &f.sink), 0);
    size_t n = sl_profiler_advance(f.p, f.vm, 1000, 100, &f.sink);
    assert_int_equal(n, 4); /* c/10.0.0.1=3, c/10.0.0.2=1, n/100 and n/10 */
    assert_int_equal(sl_profiler_next_close(f.p), INT64_MAX);
    int found = 0;
    for (int i = 0; i < f.got.n; i++) {
        if (!strcmp(f.got.entity[i], "10.0.0.1"))
            found++, assert_string_equal(f.got.value[i], "3");
        if (!strcmp(f.got.entity[i], "10.0.0.2"))
            found++, assert_string_equal(f.got.value[i], "1");
        if (!strcmp(f.got.entity[i], "100")) /* a Long entity as its text */
            found++, assert_string_equal(f.got.value[i], "x");
        assert_string_equal(f.got.groups[i], "[]");
    }
    assert_int_equal(found, 3);
    struct sl_profiler_stats st;
    sl_profiler_get_stats(f.p, &st);
    assert_int_equal(st.messages, 9);
    assert_int_equal(st.measurements, 4);
    assert_int_equal(st.open_periods, 0);
    assert_int_equal(st.entities, 4);
    fx_close(&f);
}

static void test_builder_rules(void **state)
{
    struct fx f;
    /* init once per period; null not stored; variables shadow message fields; later
     * assignments see earlier ones; a failing update keeps the assignments before it */
    const char *json =
        "{\"profiles\":[{\"profile\":\"r\",\"foreach\":\"ip_src_addr\","
        "\"init\":{\"count\":\"0\",\"inits\":\"if exists(inits) then inits + 1 else 1\"},"
        "\"update\":{\"count\":\"count + 1\",\"twice\":\"count * 2\",\"keep\":\"if count == 2 "
        "then null else count\",\"boom\":\"if count >= 3 then 1/0 else 0\",\"after\":\"count\"},"
        "\"result\":\"[count, twice, keep, after, inits]\"}]}";
    struct sl_profiler_opts o = {.period_ms = 1000};
    fx_open(&f, json, &o);
    struct msg a = ip_msg("h");
    assert_int_equal(feed(&f, &a, 1, 1), 0);
    assert_int_equal(feed(&f, &a, 2, 2), 0);
    assert_true(feed(&f, &a, 3, 3) < 0); /* 1/0 on the third message */
    struct sl_stellar_resolver r = {.get = mget, .ud = &a};
    const char *err;
    assert_true(sl_profiler_apply(f.p, 0, sl_str_c("h"), f.vm, &r, 4, 4, &err) < 0);
    assert_non_null(strstr(err, "profiles[0].update.boom"));
    sl_profiler_flush_all(f.p, f.vm, &f.sink);
    assert_int_equal(f.got.n, 1);
    /* count 4 (message field count=1000 shadowed), twice 8, keep 1 (null at 2 not stored,
     * then 3 and 4 failed before... keep runs before boom: 3, 4), after 2 (boom failed at
     * 3 and 4 so `after` stayed 2), inits 1 */
    assert_string_equal(f.got.value[0], "[4, 8, 4, 2, 1]");
    /* next period: init runs again; variables carried (inits counts the inits) */
    assert_int_equal(feed(&f, &a, 1001, 1001), 0);
    sl_profiler_flush_all(f.p, f.vm, &f.sink);
    assert_int_equal(f.got.n, 2);
    assert_string_equal(f.got.value[1], "[1, 2, 1, 1, 2]");
    struct sl_profiler_stats st;
    sl_profiler_get_stats(f.p, &st);
    assert_int_equal(st.update_errors, 2);
    fx_close(&f);

    /* a failing init: update does not run; the next message runs init again */
    fx_open(&f,
            "{\"profiles\":[{\"profile\":\"i\",\"foreach\":\"ip_src_addr\",\"init\":{\"x\":\"if "
            "bytes == 100 then 1/0 else 10\"},\"update\":{\"x\":\"x + 1\"},\"result\":\"x\"}]}",
            &o);
    assert_true(feed(&f, &a, 1, 1) < 0);
    a.vals[1] = sl_sv_long(5);
    assert_int_equal(feed(&f, &a, 2, 2), 0);
    sl_profiler_flush_all(f.p, f.vm, &f.sink);
    assert_string_equal(f.got.value[0], "11");
    fx_close(&f);
}

static void test_carry_over(void **state)
{
    struct fx f;
    struct sl_profiler_opts o = {.period_ms = 600000};
    const char *carry = "{\"profiles\":[{\"profile\":\"t\",\"foreach\":\"ip_src_addr\",\"init\":{"
                        "\"x\":\"if exists(x) then x else 0\"},\"update\":{\"x\":\"x + 1\"},"
                        "\"result\":\"x\"}]}";
    fx_open(&f, carry, &o);
    struct msg a = ip_msg("10.0.0.1");
    for (int i = 0; i < 10; i++)
        feed(&f, &a, 100 + i * 5, 0);
    sl_profiler_flush_all(f.p, f.vm, &f.sink);
    feed(&f, &a, 1200150, 0);
    sl_profiler_flush_all(f.p, f.vm, &f.sink);
    assert_int_equal(f.got.n, 2);
    assert_string_equal(f.got.value[0], "10");
    assert_string_equal(f.got.value[1], "11");
    assert_int_equal(f.got.period[1], 2);
    fx_close(&f);
    /* the naive init resets */
    fx_open(&f, COUNTER, &o);
    for (int i = 0; i < 10; i++)
        feed(&f, &a, 100 + i * 5, 0);
    sl_profiler_flush_all(f.p, f.vm, &f.sink);
    feed(&f, &a, 1200150, 0);
    sl_profiler_flush_all(f.p, f.vm, &f.sink);
    assert_string_equal(f.got.value[1], "1");
    fx_close(&f);
}

static void test_periods_lag_late(void **state)
{
    struct fx f;
    struct sl_profiler_opts o = {.period_ms = 1000};
    fx_open(&f, COUNTER, &o);
    struct msg a = ip_msg("e");
    feed(&f, &a, 500, 0);
    feed(&f, &a, 1500, 0); /* period 1 opens while 0 is open (within the lag) */
    feed(&f, &a, 600, 0);  /* still period 0 */
    feed(&f, &a, 1600, 0);
    feed(&f, &a, 1700, 0);
    struct sl_profiler_stats st;
    sl_profiler_get_stats(f.p, &st);
    assert_int_equal(st.open_periods, 2);
    assert_int_equal(st.entities, 1);
    assert_int_equal(sl_profiler_next_close(f.p), 1000);
    assert_int_equal(sl_profiler_advance(f.p, f.vm, 1200, 0, &f.sink), 1);
    assert_int_equal(f.got.period[0], 0);
    assert_string_equal(f.got.value[0], "2");
    /* late: period 0 ended at 1000 <= watermark 1200 */
    assert_int_equal(feed(&f, &a, 999, 0), SL_PROFILER_LATE);
    /* a lower watermark later does not reopen anything */
    sl_profiler_advance(f.p, f.vm, 100, 0, &f.sink);
    assert_int_equal(feed(&f, &a, 10, 0), SL_PROFILER_LATE);
    assert_int_equal(feed(&f, &a, 1999, 0), 0);
    assert_int_equal(feed(&f, &a, INT64_MAX, 0), SL_ERANGE);
    assert_int_equal(feed(&f, &a, INT64_MIN, 0), SL_ERANGE);
    assert_int_equal(sl_profiler_advance(f.p, f.vm, 2000, 0, &f.sink), 1);
    assert_int_equal(f.got.period[1], 1);
    assert_string_equal(f.got.value[1], "4");
    sl_profiler_get_stats(f.p, &st);
    assert_int_equal(st.late, 2);
    assert_int_equal(st.open_periods, 0);
    /* an older period opened after a newer one (out of order within the lag) */
    feed(&f, &a, 3500, 0);
    feed(&f, &a, 2500, 0);
    feed(&f, &a, 2600, 0);
    sl_profiler_flush_all(f.p, f.vm, &f.sink);
    assert_int_equal(f.got.n, 4);
    assert_int_equal(f.got.period[2], 2); /* periods in order */
    assert_string_equal(f.got.value[2], "2");
    assert_int_equal(f.got.period[3], 3);
    assert_string_equal(f.got.value[3], "1");
    fx_close(&f);
}

static void test_ttl_and_eviction(void **state)
{
    struct fx f;
    struct sl_profiler_opts o = {.period_ms = 1000, .ttl_ms = 5000};
    fx_open(&f, COUNTER, &o);
    struct msg a = ip_msg("old"), b = ip_msg("new");
    feed(&f, &a, 100, 0);
    feed(&f, &b, 100, 4000);
    assert_int_equal(sl_profiler_advance(f.p, f.vm, 1000, 4000, &f.sink), 2);
    struct sl_profiler_stats st;
    sl_profiler_get_stats(f.p, &st);
    assert_int_equal(st.entities, 2); /* variables kept after the flush */
    sl_profiler_advance(f.p, f.vm, 1000, 6000, &f.sink);
    sl_profiler_get_stats(f.p, &st);
    assert_int_equal(st.entities, 1);
    assert_int_equal(st.expired, 1);
    /* ttl flushes an entity's open period before forgetting it */
    feed(&f, &b, 1500, 6000);
    assert_int_equal(sl_profiler_advance(f.p, f.vm, 1000, 20000, &f.sink), 1);
    sl_profiler_get_stats(f.p, &st);
    assert_int_equal(st.entities, 0);
    assert_int_equal(st.expired, 2);
    assert_int_equal(st.open_periods, 0);
    fx_close(&f);

    struct sl_profiler_opts m = {.period_ms = 1000, .max_entities = 10};
    fx_open(&f, COUNTER, &m);
    char ips[20][24];
    for (int i = 0; i < 20; i++) {
        snprintf(ips[i], sizeof ips[i], "10.0.0.%d", i);
        struct msg x = ip_msg(ips[i]);
        feed(&f, &x, 100, i);
    }
    struct msg x0 = ip_msg(ips[19]);
    feed(&f, &x0, 200, 30); /* an existing entity: nothing evicted */
    sl_profiler_get_stats(f.p, &st);
    assert_int_equal(st.entities, 10);
    assert_int_equal(st.evicted, 10);
    /* the evicted ones are flushed by the next advance, even before their period ends */
    assert_int_equal(sl_profiler_advance(f.p, f.vm, 0, 30, &f.sink), 10);
    for (int i = 0; i < 10; i++)
        assert_string_equal(f.got.value[i], "1");
    assert_int_equal(sl_profiler_flush_all(f.p, f.vm, &f.sink), 10);
    for (int i = 0; i < f.got.n; i++) /* entity 19, most recent, kept its count */
        if (!strcmp(f.got.entity[i], "10.0.0.19"))
            assert_string_equal(f.got.value[i], "2");
    fx_close(&f);
}

static void test_groups_triage_failures(void **state)
{
    struct fx f;
    struct sl_profiler_opts o = {.period_ms = 600000};
    const char *json =
        "{\"profiles\":[{\"profile\":\"g\",\"foreach\":\"ip_src_addr\",\"init\":{\"x\":\"100\","
        "\"s\":\"'a\\\"b'\"},\"groupBy\":[\"'a'\",\"x * 2.0\",\"profile\",\"entity\",\"start\","
        "\"duration\",\"result\",\"s\"],\"result\":{\"profile\":\"x\",\"triage\":{\"zero\":\"x - "
        "100\",\"msg\":\"bytes\"}}}]}";
    fx_open(&f, json, &o);
    struct msg a = ip_msg("10.0.0.1");
    feed(&f, &a, 1503081070340, 0);
    sl_profiler_flush_all(f.p, f.vm, &f.sink);
    assert_int_equal(f.got.n, 0); /* triage `bytes` is null: result/triage see no message */
    assert_int_equal(f.got.fails, 1);
    assert_string_equal(f.got.fail_what, "profiles[0].result.triage.msg;");
    fx_close(&f);

    json = "{\"profiles\":[{\"profile\":\"g\",\"foreach\":\"ip_src_addr\",\"init\":{\"x\":\"100\","
           "\"s\":\"'a\\\"b'\"},\"groupBy\":[\"'a'\",\"x * 2.0\",\"profile\",\"entity\",\"start\","
           "\"duration\",\"result\",\"s\"],\"result\":{\"profile\":\"x\",\"triage\":{\"zero\":\"x "
           "- 100\",\"h\":\"x\"}}}]}";
    fx_open(&f, json, &o);
    feed(&f, &a, 1503081070340, 0);
    struct sl_profiler_stats st;
    sl_profiler_flush_all(f.p, f.vm, &f.sink);
    assert_int_equal(f.got.n, 1);
    assert_string_equal(f.got.groups[0],
                        "[\"a\",\"200.0\",\"g\",\"10.0.0.1\",\"1503081000000\",\"600000\",\"100\","
                        "\"a\\\"b\"]");
    assert_string_equal(f.got.triage[0], "{zero=0, h=100}");
    fx_close(&f);
    /* a variable named like a groupBy extra shadows it */
    fx_open(&f,
            "{\"profiles\":[{\"profile\":\"g\",\"foreach\":\"ip_src_addr\",\"init\":{"
            "\"start\":\"'mine'\"},\"groupBy\":[\"start\",\"end - duration\"],\"result\":\"1\"}]}",
            &o);
    feed(&f, &a, 1503081070340, 0);
    sl_profiler_flush_all(f.p, f.vm, &f.sink);
    assert_string_equal(f.got.groups[0], "[\"mine\",\"1503081000000\"]");
    assert_int_equal(f.got.period[0], 2505135);
    fx_close(&f);

    /* null result, failing result, null groupBy: dropped and reported */
    fx_open(&f,
            "{\"profiles\":[{\"profile\":\"a\",\"foreach\":\"ip_src_addr\",\"result\":\"nothing\"},"
            "{\"profile\":\"b\",\"foreach\":\"ip_src_addr\",\"result\":\"2/0\"},"
            "{\"profile\":\"c\",\"foreach\":\"ip_src_addr\",\"result\":\"1\",\"groupBy\":["
            "\"cheese\"]}]}",
            &o);
    feed(&f, &a, 1, 0);
    assert_int_equal(sl_profiler_flush_all(f.p, f.vm, &f.sink), 0);
    sl_profiler_get_stats(f.p, &st);
    assert_int_equal(st.dropped, 3);
    assert_int_equal(f.got.fails, 3);
    assert_non_null(strstr(f.got.fail_what, "profiles[2].groupBy[0];"));
    assert_non_null(strstr(f.got.fail_what, "result;"));
    fx_close(&f);
}

static void test_owned_values(void **state)
{
    /* strings, lists, maps and sketches kept across messages and periods (ASan: no leak,
     * no use after the evaluation arena is reset) */
    struct fx f;
    struct sl_profiler_opts o = {.period_ms = 1000};
    fx_open(
        &f,
        "{\"profiles\":[{\"profile\":\"o\",\"foreach\":\"ip_src_addr\","
        "\"update\":{\"s\":\"FORMAT('%s!', ip_src_addr)\",\"l\":\"if exists(l) then LIST_ADD(l, "
        "bytes) else [bytes]\",\"m\":\"{'k': s, 'n': l}\",\"st\":\"STATS_ADD(st, bytes)\"},"
        "\"result\":\"[s, LENGTH(l), MAP_GET('k', m), STATS_COUNT(st)]\"}]}",
        &o);
    struct msg a = ip_msg("10.9.9.9");
    for (int i = 0; i < 3; i++)
        assert_int_equal(feed(&f, &a, 100 + i, 0), 0);
    sl_profiler_flush_all(f.p, f.vm, &f.sink);
    assert_int_equal(feed(&f, &a, 1100, 0), 0);
    sl_profiler_flush_all(f.p, f.vm, &f.sink);
    assert_int_equal(f.got.n, 2);
    assert_string_equal(f.got.value[0], "[10.9.9.9!, 3, 10.9.9.9!, 3.0]");
    assert_string_equal(f.got.value[1], "[10.9.9.9!, 4, 10.9.9.9!, 4.0]");
    struct sl_profiler_stats st;
    sl_profiler_get_stats(f.p, &st);
    assert_true(st.bytes > 0);
    fx_close(&f);
}

static int count_emit(void *ud, const struct sl_profile_result *r)
{
    (*(uint64_t *)ud)++;
    return 0;
}

/* a sketch carried into a new period while the previous one is still open is cloned:
 * each period sees its own accumulator */
static void test_timestamp(void **state)
{
    int64_t t;
    assert_int_equal(sl_profiler_timestamp(&(struct sl_value){.type = SL_V_INT, .u.i = 5}, &t), 0);
    assert_int_equal(t, 5);
    struct sl_value s = sl_value_str("1530978687836", 13);
    assert_int_equal(sl_profiler_timestamp(&s, &t), 0);
    assert_int_equal(t, 1530978687836);
    s = sl_value_str("soon", 4);
    assert_int_equal(sl_profiler_timestamp(&s, &t), SL_EINVAL);
    struct sl_value d = sl_value_double(12.9);
    assert_int_equal(sl_profiler_timestamp(&d, &t), 0);
    assert_int_equal(t, 12);
    struct sl_value ts = sl_value_ts(1500000001);
    assert_int_equal(sl_profiler_timestamp(&ts, &t), 0);
    assert_int_equal(t, 1500);
    struct sl_value n = sl_value_null();
    assert_int_equal(sl_profiler_timestamp(&n, &t), SL_EINVAL);
}

static void test_sketch_carry_overlap(void **state)
{
    struct fx f;
    struct sl_profiler_opts o = {.period_ms = 1000};
    fx_open(&f,
            "{\"profiles\":[{\"profile\":\"s\",\"foreach\":\"ip_src_addr\",\"update\":{"
            "\"st\":\"STATS_ADD(st, bytes)\",\"h\":\"HLLP_ADD(if exists(h) then h else "
            "HLLP_INIT(5, 6), bytes)\"},\"result\":\"[STATS_COUNT(st), HLLP_CARDINALITY(h)]\"}]}",
            &o);
    struct msg a = ip_msg("x");
    assert_int_equal(feed(&f, &a, 100, 0), 0);  /* period 0 */
    assert_int_equal(feed(&f, &a, 1100, 0), 0); /* period 1 opens from a clone: count 2 */
    a.vals[1] = sl_sv_long(7);
    assert_int_equal(feed(&f, &a, 200, 0), 0); /* period 0 again: its own sketch */
    sl_profiler_flush_all(f.p, f.vm, &f.sink);
    assert_int_equal(f.got.n, 2);
    assert_string_equal(f.got.value[0], "[2.0, 2]");
    assert_string_equal(f.got.value[1], "[2.0, 1]");
    fx_close(&f);
}

static void test_memory_per_entity(void **state)
{
    struct fx f;
    struct sl_profiler_opts o = {.period_ms = 900000};
    fx_open(&f, COUNTER, &o);
    char ip[32];
    for (uint32_t i = 0; i < 100000; i++) {
        snprintf(ip, sizeof ip, "10.%u.%u.%u", (i >> 16) & 255, (i >> 8) & 255, i & 255);
        struct msg a = ip_msg(ip);
        feed(&f, &a, 1000, 0);
    }
    struct sl_profiler_stats st;
    sl_profiler_get_stats(f.p, &st);
    assert_int_equal(st.entities, 100000);
    double per = (double)st.bytes / (double)st.entities;
    printf("profiler: %.1f bytes per entity (counter profile, 100k entities)\n", per);
    assert_true(per <= 256.0);
    /* no allocation per message for an existing entity */
    struct msg a = ip_msg("10.0.0.7");
    feed(&f, &a, 1000, 0);
    uint64_t n0 = sl_alloc_count();
    for (int i = 0; i < 1000; i++)
        feed(&f, &a, 1000, 0);
    assert_int_equal(sl_alloc_count() - n0, 0);
    uint64_t n = 0;
    struct sl_profiler_sink count = {count_emit, NULL, &n};
    assert_int_equal(sl_profiler_flush_all(f.p, f.vm, &count), 100000);
    assert_int_equal(n, 100000);
    fx_close(&f);
}

/* many deletions (eviction) then lookups: every entity still held is found again (the
 * table's backward-shift deletion keeps probe chains intact) */
static void test_table_deletions(void **state)
{
    struct fx f;
    struct sl_profiler_opts o = {.period_ms = 1000, .max_entities = 1000};
    fx_open(&f, COUNTER, &o);
    char ip[32];
    for (int i = 0; i < 5000; i++) {
        snprintf(ip, sizeof ip, "e%d", i);
        struct msg a = ip_msg(ip);
        feed(&f, &a, 10, i);
    }
    uint64_t x = 12345;
    for (int i = 0; i < 3000; i++) {
        x = x * 6364136223846793005ull + 1442695040888963407ull;
        snprintf(ip, sizeof ip, "e%d", 4000 + (int)((x >> 33) % 1000));
        struct msg a = ip_msg(ip);
        feed(&f, &a, 10, 5000 + i);
    }
    struct sl_profiler_stats st;
    sl_profiler_get_stats(f.p, &st);
    assert_int_equal(st.entities, 1000);
    assert_int_equal(st.evicted, 4000);
    uint64_t n = 0;
    struct sl_profiler_sink count = {count_emit, NULL, &n};
    assert_int_equal(sl_profiler_flush_all(f.p, f.vm, &count), 5000);
    sl_profiler_get_stats(f.p, &st);
    assert_int_equal(st.measurements, 5000);
    assert_int_equal(st.open_periods, 0);
    fx_close(&f);
}

/* every allocation of apply made to fail in turn (new entities, the table, period buckets,
 * older builders, string variables, the evaluation arena): an error code, never a crash or
 * a leak, and the engine still flushes what it holds */
static void test_apply_alloc_failures(void **state)
{
    const char *json = "{\"profiles\":[{\"profile\":\"s\",\"foreach\":\"ip_src_addr\","
                       "\"init\":{\"n\":0},\"update\":{\"n\":\"n + 1\",\"s\":\"FORMAT('%s/%d', "
                       "ip_src_addr, n)\",\"l\":\"[n, s]\"},\"result\":\"[n, s, l]\"}]}";
    int failures = 0;
    for (uint64_t nth = 1; nth < 160; nth++) {
        struct fx f;
        struct sl_profiler_opts o = {.period_ms = 1000, .max_entities = 40};
        fx_open(&f, json, &o);
        char ip[32];
        sl_alloc_fail_nth(nth);
        for (int i = 0; i < 120; i++) {
            snprintf(ip, sizeof ip, "h%d", i % 60);
            struct msg a = ip_msg(ip);
            int rc = feed(&f, &a, (i % 3) * 700, i); /* periods 0 and 1 interleaved */
            assert_true(rc == 0 || rc < 0);
        }
        uint64_t failed = sl_alloc_failed();
        sl_alloc_fail_nth(0);
        uint64_t n = 0;
        struct sl_profiler_sink count = {count_emit, NULL, &n};
        sl_profiler_flush_all(f.p, f.vm, &count);
        struct sl_profiler_stats st;
        sl_profiler_get_stats(f.p, &st);
        assert_int_equal(st.open_periods, 0);
        failures += failed != 0;
        fx_close(&f);
    }
    assert_true(failures > 0);
}

static void test_stop_and_rest(void **state)
{
    struct fx f;
    struct sl_profiler_opts o = {.period_ms = 1000};
    fx_open(&f, COUNTER, &o);
    char ips[70][24];
    for (int i = 0; i < 70; i++) {
        snprintf(ips[i], sizeof ips[i], "h%d", i);
        struct msg x = ip_msg(ips[i]);
        feed(&f, &x, 10, 0);
    }
    /* the collector stops at 64: the rest stays open and is flushed later */
    assert_int_equal(sl_profiler_flush_all(f.p, f.vm, &f.sink), 65);
    f.got.n = 0;
    assert_int_equal(sl_profiler_flush_all(f.p, f.vm, &f.sink), 5);
    fx_close(&f);
}

/* ------------------------------------------------------------------ REPL functions */

static void test_repl_functions(void **state)
{
    struct sl_stellar_vm *vm = sl_stellar_vm_new();
    sl_stellar_vm_set_now(vm, 1502665500000);
    struct sl_arena a;
    sl_arena_init(&a, 4096, 1 << 20);
    const char *src =
        "PROFILER_FLUSH(PROFILER_APPLY(['{\"ip_src_addr\":\"10.0.0.1\"}', "
        "'{\"ip_src_addr\":\"10.0.0.1\"}'], PROFILER_APPLY('{\"ip_src_addr\":\"10.0.0.1\"}', "
        "PROFILER_INIT('{\"profiles\":[{\"profile\":\"hello-world\",\"foreach\":\"ip_src_addr\","
        "\"init\":{\"count\":0},\"update\":{\"count\":\"count + 1\"},\"result\":\"count\"}]}', "
        "{'profiler.client.period.duration': '15', 'profiler.client.period.duration.units': "
        "'MINUTES'}))))";
    struct sl_stellar_prog *p;
    struct sl_diag d;
    sl_diag_init(&d);
    assert_int_equal(sl_stellar_compile(src, strlen(src), NULL, &p, &d), 0);
    struct sl_value v;
    struct sl_stellar_resolver r = {0};
    assert_int_equal(sl_stellar_eval(vm, p, &r, &a, &v), 0);
    char t[512];
    text(&v, t, sizeof t);
    assert_string_equal(t, "[{profile=hello-world, entity=10.0.0.1, value=3, groups=[], "
                           "period={period=1669628, start=1502665200000, end=1502666100000, "
                           "duration=900000}}]");
    sl_stellar_vm_release(vm);
    sl_stellar_free(p);
    const char *s2 = "PROFILER_APPLY('{\"a\":1}', PROFILER_INIT('{\"profiles\":[{\"profile\":"
                     "\"p\",\"foreach\":\"a\",\"result\":\"1\"},{\"profile\":\"q\",\"foreach\":"
                     "\"b\",\"result\":\"1\"}]}'))";
    assert_int_equal(sl_stellar_compile(s2, strlen(s2), NULL, &p, &d), 0);
    assert_int_equal(sl_stellar_eval(vm, p, &r, &a, &v), 0);
    text(&v, t, sizeof t);
    assert_string_equal(t, "Profiler{2 profile(s), 1 messages(s), 1 route(s)}");
    sl_stellar_vm_release(vm);
    sl_stellar_free(p);
    const char *s3 = "PROFILER_INIT('{\"profiles\":[{\"profile\":\"p\"}]}')";
    assert_int_equal(sl_stellar_compile(s3, strlen(s3), NULL, &p, &d), 0);
    assert_int_equal(sl_stellar_eval(vm, p, &r, &a, &v), SL_EEVAL);
    assert_non_null(strstr(sl_stellar_vm_error(vm), "missing 'foreach'"));
    sl_stellar_vm_release(vm);
    sl_stellar_free(p);
    sl_arena_fini(&a);
    sl_stellar_vm_free(vm);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_errors),
        cmocka_unit_test(test_counter_and_routing),
        cmocka_unit_test(test_drop_list_of_sketches),
        cmocka_unit_test(test_parse_alloc_failures),
        cmocka_unit_test(test_sketch_carry_overlap),
        cmocka_unit_test(test_builder_rules),
        cmocka_unit_test(test_carry_over),
        cmocka_unit_test(test_periods_lag_late),
        cmocka_unit_test(test_ttl_and_eviction),
        cmocka_unit_test(test_groups_triage_failures),
        cmocka_unit_test(test_owned_values),
        cmocka_unit_test(test_memory_per_entity),
        cmocka_unit_test(test_stop_and_rest),
        cmocka_unit_test(test_repl_functions),
        cmocka_unit_test(test_timestamp),
        cmocka_unit_test(test_table_deletions),
        cmocka_unit_test(test_apply_alloc_failures),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
