/*
 * xf_aggregate_test.c — the `aggregate` transform run in a real pipeline (file source in
 * once mode → aggregate → collecting sinks for the output and for `.errors`): the wordcount
 * (split, lower-case, count in batch mode), tumbling and sliding event-time windows with the
 * watermark and late events, every aggregate function, max_groups dead letters, type errors,
 * and configuration errors.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "../testkit.h"

#include "core/config.h"
#include "core/pipeline.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

extern const struct sl_component_ops sl_in_file_ops;
extern const struct sl_component_ops sl_xf_aggregate_ops;

static const struct sl_component_ops *const test_types[] = {&sl_in_file_ops, &sl_xf_aggregate_ops,
                                                            &collect_ops, NULL};

struct result {
    char *out;
    char *errs;
};

/* Write `input` (JSON lines) to a file, run file -> agg (opts) -> out / errs once. */
static int run(const char *opts, const char *input, struct result *r, struct sl_diag *d)
{
    char path[128];
    snprintf(path, sizeof(path), "%s/in.json", dir);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(input, f);
    fclose(f);
    char yaml[8192];
    snprintf(yaml, sizeof(yaml),
             "sources:\n"
             "  in: {type: file, path: \"%s\", format: json}\n"
             "transforms:\n"
             "  agg:\n"
             "    type: aggregate\n"
             "    inputs: [in]\n"
             "%s"
             "sinks:\n"
             "  out: {type: collect, inputs: [agg]}\n"
             "  errs: {type: collect, inputs: [agg.errors]}\n",
             path, opts);
    struct sl_config *cfg;
    sl_diag_init(d);
    int rc = sl_config_load_string(yaml, strlen(yaml), "a.yaml", &cfg, d);
    if (rc)
        return rc;
    struct sl_pipeline_opts o = {.workers = 1, .once = true};
    struct sl_pipeline *p = sl_pipeline_new(cfg, &o, d);
    if (!p) {
        sl_config_free(cfg);
        return SL_ECONFIG;
    }
    assert_int_equal(sl_pipeline_start(p), 0);
    assert_true(sl_pipeline_wait(p, 20000));
    struct collect *s = sl_pipeline_find(p, "out")->state;
    r->out = sl_xstrndup(s->text.ptr ? s->text.ptr : "", s->text.len);
    s = sl_pipeline_find(p, "errs")->state;
    r->errs = sl_xstrndup(s->text.ptr ? s->text.ptr : "", s->text.len);
    sl_pipeline_free(p);
    sl_config_free(cfg);
    return 0;
}

static void expect(const char *opts, const char *input, const char *want, const char *want_errs)
{
    struct result r;
    struct sl_diag d;
    if (run(opts, input, &r, &d)) {
        char m[1400];
        sl_diag_format(&d, m, sizeof(m));
        fail_msg("pipeline: %s", m);
    }
    if (strcmp(r.out, want) != 0)
        fail_msg("opts:\n%s\ngot:\n%s\nwant:\n%s", opts, r.out, want);
    if (want_errs ? !strstr(r.errs, want_errs) : r.errs[0] != 0)
        fail_msg("opts:\n%s\nerrors:\n%s\nwant:\n%s", opts, r.errs,
                 want_errs ? want_errs : "(none)");
    sl_free(r.out);
    sl_free(r.errs);
}

static void test_wordcount(void **state)
{
    (void)state;
    expect("    split: message\n"
           "    split_as: word\n"
           "    lowercase: true\n"
           "    group_by: {word: \"word\"}\n"
           "    aggregates: {count: \"count()\"}\n"
           "    window_start_field: ws\n"
           "    window_end_field: we\n"
           "    time_field: t\n",
           "{\"message\":\"The cat  and the\\tDOG\",\"t\":1}\n"
           "{\"message\":\"\",\"t\":3}\n"
           "{\"other\":1}\n"
           "{\"message\":\"  dog THE\\n\"}\n",
           "{\"word\":\"the\",\"ws\":\"1970-01-01T00:00:01.000000000Z\","
           "\"we\":\"1970-01-01T00:00:03.000000000Z\",\"count\":3}\n"
           "{\"word\":\"cat\",\"ws\":\"1970-01-01T00:00:01.000000000Z\","
           "\"we\":\"1970-01-01T00:00:03.000000000Z\",\"count\":1}\n"
           "{\"word\":\"and\",\"ws\":\"1970-01-01T00:00:01.000000000Z\","
           "\"we\":\"1970-01-01T00:00:03.000000000Z\",\"count\":1}\n"
           "{\"word\":\"dog\",\"ws\":\"1970-01-01T00:00:01.000000000Z\","
           "\"we\":\"1970-01-01T00:00:03.000000000Z\",\"count\":2}\n",
           NULL);
}

static void test_batch_times_and_split_regex(void **state)
{
    (void)state;
    /* batch: window_start/end are the smallest and largest event time; split on a regex */
    expect("    split: tags\n"
           "    split_on: \"[,;]\"\n"
           "    time_field: t\n"
           "    group_by: {tag: \"tags\"}\n",
           "{\"tags\":\"a,b;;a\",\"t\":100}\n{\"tags\":\"b\",\"t\":50}\n",
           "{\"tag\":\"a\",\"window_start\":\"1970-01-01T00:00:50.000000000Z\","
           "\"window_end\":\"1970-01-01T00:01:40.000000000Z\",\"count\":2}\n"
           "{\"tag\":\"b\",\"window_start\":\"1970-01-01T00:00:50.000000000Z\","
           "\"window_end\":\"1970-01-01T00:01:40.000000000Z\",\"count\":2}\n",
           NULL);
}

static void test_tumbling(void **state)
{
    (void)state;
    /* windows [0,60) [60,120) [120,180); t=30 arrives after t=61 closed [0,60): late */
    const char *in = "{\"k\":\"a\",\"t\":0}\n{\"k\":\"b\",\"t\":10}\n{\"k\":\"a\",\"t\":59}\n"
                     "{\"k\":\"a\",\"t\":61}\n{\"k\":\"a\",\"t\":30}\n{\"k\":\"b\",\"t\":125}\n";
    const char *want = "{\"k\":\"a\",\"window_start\":\"1970-01-01T00:00:00.000000000Z\","
                       "\"window_end\":\"1970-01-01T00:01:00.000000000Z\",\"n\":2}\n"
                       "{\"k\":\"b\",\"window_start\":\"1970-01-01T00:00:00.000000000Z\","
                       "\"window_end\":\"1970-01-01T00:01:00.000000000Z\",\"n\":1}\n"
                       "{\"k\":\"a\",\"window_start\":\"1970-01-01T00:01:00.000000000Z\","
                       "\"window_end\":\"1970-01-01T00:02:00.000000000Z\",\"n\":1}\n"
                       "{\"k\":\"b\",\"window_start\":\"1970-01-01T00:02:00.000000000Z\","
                       "\"window_end\":\"1970-01-01T00:03:00.000000000Z\",\"n\":1}\n";
    expect("    window: tumbling\n    size: 1m\n    time_field: t\n"
           "    group_by: {k: \"k\"}\n    aggregates: {n: \"count()\"}\n"
           "    on_late: errors\n",
           in, want, "late event");
    /* with 40 s of lateness, t=30 still counts in [0,60) */
    expect("    window: tumbling\n    size: 1m\n    time_field: t\n    allowed_lateness: 40s\n"
           "    group_by: {k: \"k\"}\n    aggregates: {n: \"count()\"}\n",
           in,
           "{\"k\":\"a\",\"window_start\":\"1970-01-01T00:00:00.000000000Z\","
           "\"window_end\":\"1970-01-01T00:01:00.000000000Z\",\"n\":3}\n"
           "{\"k\":\"b\",\"window_start\":\"1970-01-01T00:00:00.000000000Z\","
           "\"window_end\":\"1970-01-01T00:01:00.000000000Z\",\"n\":1}\n"
           "{\"k\":\"a\",\"window_start\":\"1970-01-01T00:01:00.000000000Z\","
           "\"window_end\":\"1970-01-01T00:02:00.000000000Z\",\"n\":1}\n"
           "{\"k\":\"b\",\"window_start\":\"1970-01-01T00:02:00.000000000Z\","
           "\"window_end\":\"1970-01-01T00:03:00.000000000Z\",\"n\":1}\n",
           NULL);
}

static void test_sliding(void **state)
{
    (void)state;
    /* size 60, slide 30: t=45 is in [0,60) and [30,90); t=70 in [30,90) and [60,120) */
    expect("    window: sliding\n    size: 60s\n    slide: 30s\n    time_field: t\n",
           "{\"t\":45}\n{\"t\":70}\n",
           "{\"window_start\":\"1970-01-01T00:00:00.000000000Z\","
           "\"window_end\":\"1970-01-01T00:01:00.000000000Z\",\"count\":1}\n"
           "{\"window_start\":\"1970-01-01T00:00:30.000000000Z\","
           "\"window_end\":\"1970-01-01T00:01:30.000000000Z\",\"count\":2}\n"
           "{\"window_start\":\"1970-01-01T00:01:00.000000000Z\","
           "\"window_end\":\"1970-01-01T00:02:00.000000000Z\",\"count\":1}\n",
           NULL);
}

static void test_functions(void **state)
{
    (void)state;
    expect("    group_by: {ip: \"ip\"}\n"
           "    aggregates:\n"
           "      hits: \"count()\"\n"
           "      with_bytes: \"count(bytes)\"\n"
           "      bytes: \"sum(bytes)\"\n"
           "      fives: \"sum(code >= 500)\"\n"
           "      twoxx: \"sum(code >= 200 && code < 300 ? 1 : 0)\"\n"
           "      lo: \"min(bytes)\"\n"
           "      hi: \"max(path)\"\n"
           "      mean: \"avg(bytes)\"\n"
           "      paths: \"distinct(path)\"\n"
           "      top: \"top_k(path, 2)\"\n"
           "    window_start_field: s\n    window_end_field: e\n    time_field: t\n",
           "{\"ip\":\"a\",\"code\":200,\"bytes\":10,\"path\":\"/x\"}\n"
           "{\"ip\":\"a\",\"code\":500,\"bytes\":2.5,\"path\":\"/y\"}\n"
           "{\"ip\":\"a\",\"code\":201,\"path\":\"/x\"}\n"
           "{\"ip\":\"b\",\"code\":404,\"bytes\":-1,\"path\":\"/z\"}\n"
           "{\"ip\":\"a\",\"code\":200,\"bytes\":1,\"path\":\"/a\"}\n",
           "{\"ip\":\"a\",\"s\":\"1970-01-01T00:00:00.000000000Z\",\"e\":"
           "\"1970-01-01T00:00:00.000000000Z\",\"hits\":4,\"with_bytes\":3,\"bytes\":13.5,"
           "\"fives\":1,\"twoxx\":3,\"lo\":1,\"hi\":\"/y\",\"mean\":4.5,\"paths\":3,"
           "\"top\":[{\"value\":\"/x\",\"count\":2},{\"value\":\"/a\",\"count\":1}]}\n"
           "{\"ip\":\"b\",\"s\":\"1970-01-01T00:00:00.000000000Z\",\"e\":"
           "\"1970-01-01T00:00:00.000000000Z\",\"hits\":1,\"with_bytes\":1,\"bytes\":-1,"
           "\"fives\":0,\"twoxx\":0,\"lo\":-1,\"hi\":\"/z\",\"mean\":-1.0,\"paths\":1,"
           "\"top\":[{\"value\":\"/z\",\"count\":1}]}\n",
           NULL);
}

static void test_dead_letters(void **state)
{
    (void)state;
    /* max_groups: the third group is refused, the known ones still count */
    expect("    group_by: {k: \"k\"}\n    max_groups: 2\n    time_field: t\n",
           "{\"k\":1}\n{\"k\":2}\n{\"k\":3}\n{\"k\":1}\n",
           "{\"k\":1,\"window_start\":\"1970-01-01T00:00:00.000000000Z\","
           "\"window_end\":\"1970-01-01T00:00:00.000000000Z\",\"count\":2}\n"
           "{\"k\":2,\"window_start\":\"1970-01-01T00:00:00.000000000Z\","
           "\"window_end\":\"1970-01-01T00:00:00.000000000Z\",\"count\":1}\n",
           "max_groups (2) reached");
    /* sum of text */
    expect("    aggregates: {s: \"sum(v)\"}\n    time_field: t\n", "{\"v\":1}\n{\"v\":\"x\"}\n",
           "{\"window_start\":\"1970-01-01T00:00:00.000000000Z\","
           "\"window_end\":\"1970-01-01T00:00:00.000000000Z\",\"s\":1}\n",
           "aggregate s: v is a string, not a number");
    /* no usable time */
    expect("    window: tumbling\n    time_field: t\n", "{\"t\":\"soon\"}\n", "",
           "no usable time in field t");
}

static void test_processing_time(void **state)
{
    (void)state;
    /* the wall clock decides: events far apart in event time share the current window, and
     * the windows still open are emitted when the input ends */
    struct result r;
    struct sl_diag d;
    assert_int_equal(run("    window: tumbling\n    size: 1d\n    time: processing\n"
                         "    time_field: t\n    group_by: {k: \"k\"}\n",
                         "{\"k\":1,\"t\":0}\n{\"k\":1,\"t\":999999}\n{\"k\":2}\n", &r, &d),
                     0);
    assert_non_null(strstr(r.out, "{\"k\":1,"));
    assert_non_null(strstr(r.out, "\"count\":2}\n{\"k\":2,"));
    assert_non_null(strstr(r.out, "\"count\":1}\n"));
    assert_null(strstr(r.out, "1970-"));
    assert_string_equal(r.errs, "");
    sl_free(r.out);
    sl_free(r.errs);
}

/* Event times at the ends of the int64 range (a hostile time_field) are not usable times:
 * the window arithmetic (start + size, time - size) would overflow. */
static void test_extreme_times(void **state)
{
    (void)state;
    const char *in = "{\"k\":\"a\",\"t\":9223372036854775807}\n"
                     "{\"k\":\"a\",\"t\":-9223372036854775808}\n"
                     "{\"k\":\"a\",\"t\":-9223372036854775807}\n"
                     "{\"k\":\"a\",\"t\":1e300}\n"
                     "{\"k\":\"a\",\"t\":61}\n";
    expect("    window: sliding\n    size: 1m\n    slide: 30s\n    time_field: t\n"
           "    group_by: {k: \"k\"}\n    aggregates: {n: \"count()\"}\n",
           in,
           "{\"k\":\"a\",\"window_start\":\"1970-01-01T00:00:30.000000000Z\","
           "\"window_end\":\"1970-01-01T00:01:30.000000000Z\",\"n\":1}\n"
           "{\"k\":\"a\",\"window_start\":\"1970-01-01T00:01:00.000000000Z\","
           "\"window_end\":\"1970-01-01T00:02:00.000000000Z\",\"n\":1}\n",
           "no usable time");
}

static void test_config_errors(void **state)
{
    (void)state;
    static const struct {
        const char *opts, *msg;
    } cases[] = {
        {"    aggregates: {m: \"median(x)\"}\n", "aggregates.m: 'median(x)' is not an aggregate"},
        {"    aggregates: {m: \"top_k(x)\"}\n", "bad k"},
        {"    aggregates: {m: \"top_k(x, 5000)\"}\n", "bad k"},
        {"    aggregates: {m: \"sum()\"}\n", "not an aggregate"},
        {"    window: sliding\n    size: 60s\n    slide: 7s\n", "multiple of slide"},
        {"    window: sliding\n    size: 1h\n    slide: 1s\n", "at most 1000 windows"},
        {"    group_by: {k: \"a +\"}\n", "group_by.k"},
        {"    split: m\n    split_on: \"(\"\n", "split_on does not compile"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct result r;
        struct sl_diag d;
        int rc = run(cases[i].opts, "", &r, &d);
        if (!rc) {
            sl_free(r.out);
            sl_free(r.errs);
        }
        if (!rc || !strstr(d.msg, cases[i].msg))
            fail_msg("%s: rc %d msg '%s', want '%s'", cases[i].opts, rc, d.msg, cases[i].msg);
    }
}

int main(void)
{
    sl_core_init();
    sl_registry_set(test_types);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_wordcount),       cmocka_unit_test(test_batch_times_and_split_regex),
        cmocka_unit_test(test_tumbling),        cmocka_unit_test(test_sliding),
        cmocka_unit_test(test_functions),       cmocka_unit_test(test_dead_letters),
        cmocka_unit_test(test_extreme_times),   cmocka_unit_test(test_config_errors),
        cmocka_unit_test(test_processing_time),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
