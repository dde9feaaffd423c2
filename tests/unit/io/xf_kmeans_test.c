/*
 * xf_kmeans_test.c — the `kmeans` transform's hot path: no heap allocation per event once a
 * key's accumulator exists, two workers folding into the same keys at once, config errors.
 * (Scores, windows, training and the output record are covered end to end by
 * tests/integ/kmeans_web.sh and tests/integ/kmeans_sklearn.sh.)
 *
 * The transform is built through the real config loader and pipeline (not started), then its
 * process() is called directly with batches of events parsed from JSON; windows stay open
 * (event time with a long lag), so nothing is emitted.
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
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

extern const struct sl_component_ops sl_xf_kmeans_ops;
extern const struct sl_component_ops sl_out_null_ops;

static const struct sl_component_ops *const test_types[] = {&idle_ops, &sl_xf_kmeans_ops,
                                                            &sl_out_null_ops, NULL};

enum { KEYS = 50 };

struct fx {
    struct sl_config *cfg;
    struct sl_pipeline *p;
    struct sl_component *k;
};

static int fx_try(struct fx *fx, const char *opts, struct sl_diag *d)
{
    char train[128];
    snprintf(train, sizeof train, "%s/train.json", dir);
    FILE *f = fopen(train, "w");
    assert_non_null(f);
    for (int i = 0; i < 200; i++)
        fprintf(f, "{\"ip\": \"10.0.0.%d\", \"code\": %d, \"path\": \"/p%d\", \"ts\": %d}\n",
                i % KEYS, i % 7 ? 200 : 500, i % 3, 1000 + i);
    fclose(f);
    char yaml[4096];
    snprintf(yaml, sizeof yaml,
             "sources:\n"
             "  src: {type: idle}\n"
             "transforms:\n"
             "  k:\n"
             "    type: kmeans\n"
             "    inputs: [src]\n"
             "    training: %s\n"
             "    training_format: json\n"
             "    time: event\n"
             "    timestamp_field: ts\n"
             "    lag: 1000d\n"
             "%s"
             "sinks:\n"
             "  out: {type: \"null\", inputs: [k]}\n",
             train, opts);
    memset(fx, 0, sizeof *fx);
    sl_diag_init(d);
    int rc = sl_config_load_string(yaml, strlen(yaml), "k.yaml", &fx->cfg, d);
    if (rc)
        return rc;
    struct sl_pipeline_opts o = {.workers = 2};
    fx->p = sl_pipeline_new(fx->cfg, &o, d);
    if (!fx->p) {
        sl_config_free(fx->cfg);
        fx->cfg = NULL;
        return SL_ECONFIG;
    }
    fx->k = sl_pipeline_find(fx->p, "k");
    assert_non_null(fx->k);
    return 0;
}

static const char *FEATURES = "    key: ip\n"
                              "    features:\n"
                              "      n: \"count()\"\n"
                              "      errors: \"sum(code >= 500)\"\n"
                              "      paths: \"distinct(path)\"\n"
                              "      avg_code: \"avg(code)\"\n";

static void fx_new(struct fx *fx, const char *opts)
{
    struct sl_diag d;
    if (fx_try(fx, opts, &d)) {
        char msg[1024];
        sl_diag_format(&d, msg, sizeof msg);
        fail_msg("pipeline: %s", msg);
    }
}

static void fx_free(struct fx *fx)
{
    sl_pipeline_free(fx->p);
    sl_config_free(fx->cfg);
}

/* n events over KEYS keys, all in the window of t = 2000 s */
static struct sl_batch *make_batch(int n, int seed)
{
    struct sl_batch *b = sl_batch_new();
    char json[256];
    for (int i = 0; i < n; i++) {
        int len = snprintf(json, sizeof json,
                           "{\"ip\": \"10.0.0.%d\", \"code\": %d, \"path\": \"/p%d\", \"ts\": %d}",
                           (i + seed) % KEYS, (i + seed) % 9 ? 200 : 503, i % 3, 2000 + i % 30);
        char *copy = sl_batch_copy(b, json, (size_t)len);
        assert_non_null(copy);
        assert_int_equal(sl_json_parse_event(b, copy, (size_t)len, NULL, NULL), 0);
    }
    return b;
}

static double open_keys(struct fx *fx)
{
    struct sl_comp_stat st[SL_COMP_STATS_MAX];
    size_t n = fx->k->ops->stats(fx->k, st);
    for (size_t i = 0; i < n; i++)
        if (!strcmp(st[i].name, "sluice_kmeans_open_keys"))
            return st[i].value;
    fail_msg("no open_keys stat");
    return -1;
}

static void test_no_alloc_per_event(void **state)
{
    (void)state;
    struct fx fx;
    fx_new(&fx, FEATURES);
    enum { BATCHES = 10, PER = 1000 };
    struct sl_batch *bs[BATCHES + 1];
    for (int i = 0; i <= BATCHES; i++)
        bs[i] = make_batch(PER, i);
    /* warm-up: every key's accumulator and distinct set exist afterwards */
    struct sl_xf_ctx x = {.worker = 1, .comp = fx.k};
    assert_null(fx.k->ops->process(fx.k, bs[0], &x));
    uint64_t a0 = sl_alloc_count();
    for (int i = 1; i <= BATCHES; i++)
        assert_null(fx.k->ops->process(fx.k, bs[i], &x));
    uint64_t allocs = sl_alloc_count() - a0;
    print_message("%d events folded, %llu allocations\n", BATCHES * PER,
                  (unsigned long long)allocs);
    assert_null(x.errors);
    assert_int_equal(allocs, 0);
    assert_true(open_keys(&fx) == KEYS);
    fx_free(&fx);
}

struct job {
    struct fx *fx;
    uint32_t worker;
};

static void *worker_main(void *arg)
{
    struct job *j = arg;
    for (int r = 0; r < 40; r++) {
        struct sl_batch *b = make_batch(500, r);
        struct sl_xf_ctx x = {.worker = j->worker, .comp = j->fx->k};
        struct sl_batch *out = j->fx->k->ops->process(j->fx->k, b, &x);
        if (out || x.errors)
            abort();
    }
    return NULL;
}

static void test_two_workers(void **state)
{
    (void)state;
    struct fx fx;
    fx_new(&fx, FEATURES);
    pthread_t t[2];
    struct job jobs[2] = {{&fx, 0}, {&fx, 1}};
    for (int i = 0; i < 2; i++)
        pthread_create(&t[i], NULL, worker_main, &jobs[i]);
    for (int i = 0; i < 2; i++)
        pthread_join(t[i], NULL);
    assert_true(open_keys(&fx) == KEYS);
    assert_int_equal(atomic_load(&fx.k->m.dropped), 0);
    fx_free(&fx);
}

static void expect_error(const char *opts, const char *want)
{
    struct fx fx;
    struct sl_diag d;
    if (!fx_try(&fx, opts, &d)) {
        fx_free(&fx);
        fail_msg("accepted: %s", opts);
    }
    char msg[1024];
    sl_diag_format(&d, msg, sizeof msg);
    if (!strstr(msg, want))
        fail_msg("'%s' lacks '%s'", msg, want);
}

static void test_config_errors(void **state)
{
    (void)state;
    expect_error("    key: ip\n    features: {a: \"median(code)\"}\n",
                 "k.yaml:13:19: features.a: 'median(code)' is not agg(expression)");
    expect_error("    key: ip\n    features: {a: \"sum()\"}\n", "sum() needs an expression");
    expect_error("    key: ip\n    features: {a: \"count()\"}\n    k: 51\n",
                 "50 vectors (keys) for k = 51: need at least k");
    expect_error("    key: ip\n    features: {a: \"count()\"}\n    model: x.json\n",
                 "give exactly one of `training` and `model`");
    expect_error("    key: ip\n    features: {a: \"count()\"}\n    init: centres\n",
                 "init: centres needs the `centres` option");
    expect_error("    key: ip\n    features: {a: \"count()\"}\n    init: centres\n"
                 "    centres: [[1], [2, 3]]\n",
                 "centres` as 2 lists of 1 numbers");
    expect_error("    key: ip\n    features: {a: \"count()\"}\n    pattern: '(unclosed'\n",
                 "pattern does not compile");
    expect_error("    key: ip\n    features: {a: \"count()\"}\n    window: 0s\n",
                 "window must be > 0");
}

int main(void)
{
    sl_core_init();
    sl_registry_set(test_types);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_no_alloc_per_event),
        cmocka_unit_test(test_two_workers),
        cmocka_unit_test(test_config_errors),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
