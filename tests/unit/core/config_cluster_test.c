/*
 * config_cluster_test.c — the `cluster:` section, options taken from it, and the repartition
 * step turned into a kafka sink and a kafka source (core/config_cluster.c).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "base/alloc.h"
#include "core/config.h"

#include <stdio.h>
#include <string.h>

/* the options of the kafka source and sink that the step sets, as a test component has them */
struct kconf {
    char *brokers, *topic, *key, *format, *group, *offset_reset, *partitions, *max_inflight;
    struct sl_strlist topics;
};

static const struct sl_option kopts[] = {
    {"brokers", SL_OPT_STRING, NULL, offsetof(struct kconf, brokers), "", NULL, 0, 0,
     SL_OPT_REQUIRED | SL_OPT_FROM_CLUSTER},
    {"group", SL_OPT_STRING, NULL, offsetof(struct kconf, group), "", NULL, 0, 0,
     SL_OPT_FROM_CLUSTER},
    {"topic", SL_OPT_STRING, NULL, offsetof(struct kconf, topic), "", NULL, 0, 0, 0},
    {"topics", SL_OPT_STRING_LIST, NULL, offsetof(struct kconf, topics), "", NULL, 0, 0, 0},
    {"key", SL_OPT_STRING, NULL, offsetof(struct kconf, key), "", NULL, 0, 0, 0},
    {"format", SL_OPT_STRING, NULL, offsetof(struct kconf, format), "", NULL, 0, 0, 0},
    {"offset_reset", SL_OPT_STRING, NULL, offsetof(struct kconf, offset_reset), "", NULL, 0, 0, 0},
    {"partitions", SL_OPT_STRING, NULL, offsetof(struct kconf, partitions), "", NULL, 0, 0, 0},
    {"max_inflight", SL_OPT_STRING, NULL, offsetof(struct kconf, max_inflight), "", NULL, 0, 0, 0},
    {0},
};

static const struct sl_component_ops kops = {
    .type = "kafka",
    .kind = SL_KIND_SOURCE,
    .options = kopts,
    .conf_len = sizeof(struct kconf),
};

static struct sl_config *load(const char *text, struct sl_diag *d)
{
    struct sl_config *cfg = NULL;
    sl_diag_init(d);
    if (sl_config_load_string(text, strlen(text), "t.yaml", &cfg, d))
        return NULL;
    return cfg;
}

static size_t comp_index(const struct sl_config *cfg, const char *name)
{
    for (size_t i = 0; i < cfg->ncomps; i++)
        if (strcmp(cfg->comps[i].name, name) == 0)
            return i;
    fail_msg("no component %s", name);
    return 0;
}

static struct kconf *apply(const struct sl_config *cfg, size_t i, struct sl_component *c)
{
    memset(c, 0, sizeof(*c));
    c->ops = &kops;
    c->name = cfg->comps[i].name;
    struct sl_diag d;
    sl_diag_init(&d);
    int rc = sl_config_apply_options(cfg, i, c, &d);
    if (rc)
        fail_msg("apply: %s", d.msg);
    return c->conf;
}

static void release(struct sl_component *c)
{
    sl_config_free_options(&kops, c->conf);
    sl_free(c->opt_pos);
}

static void test_cluster_defaults(void **st)
{
    (void)st;
    struct sl_diag d;
    struct sl_config *cfg = load("cluster: {brokers: \"k1:9092\"}\n"
                                 "sources:\n  k: {type: kafka, topics: in}\n"
                                 "sinks:\n  o: {type: kafka, inputs: [k], topic: out}\n",
                                 &d);
    assert_non_null(cfg);
    assert_string_equal(cfg->cluster.brokers, "k1:9092");
    assert_string_equal(cfg->cluster.group, "sluice");
    assert_string_equal(cfg->cluster.status_topic, "sluice.cluster");
    assert_non_null(cfg->cluster.node_id);
    assert_true(cfg->cluster.node_id[0] != 0);
    assert_int_equal(cfg->cluster.status_interval_ns, 2000000000LL);
    struct sl_component c;
    struct kconf *k = apply(cfg, comp_index(cfg, "k"), &c);
    assert_string_equal(k->brokers, "k1:9092");
    assert_string_equal(k->group, "sluice.k"); /* "<group>.<component>" */
    release(&c);
    sl_config_free(cfg);
}

static void test_own_options_win(void **st)
{
    (void)st;
    struct sl_diag d;
    struct sl_config *cfg =
        load("cluster: {brokers: \"k1:9092\", group: soc, node_id: n7, status_interval: 500ms}\n"
             "sources:\n  k: {type: kafka, topics: in, brokers: \"other:1\", group: mine}\n"
             "sinks:\n  o: {type: null, inputs: [k]}\n",
             &d);
    assert_non_null(cfg);
    assert_string_equal(cfg->cluster.node_id, "n7");
    assert_string_equal(cfg->cluster.status_topic, "soc.cluster");
    assert_int_equal(cfg->cluster.status_interval_ns, 500000000LL);
    struct sl_component c;
    struct kconf *k = apply(cfg, comp_index(cfg, "k"), &c);
    assert_string_equal(k->brokers, "other:1");
    assert_string_equal(k->group, "mine");
    release(&c);
    sl_config_free(cfg);
}

/* A long group or broker list is taken whole (was: cut at 511 bytes, so with a 600-byte
 * group every kafka source got the same cut group id, the ".<name>" lost: one consumer group
 * for all of them) */
static void test_long_group_and_brokers(void **st)
{
    (void)st;
    char group[601], brokers[701], yaml[2048];
    memset(group, 'g', 600);
    group[600] = '\0';
    size_t off = 0;
    for (int i = 0; i < 20; i++)
        off += (size_t)snprintf(brokers + off, sizeof brokers - off,
                                "%skafka-%02d.prod.example.internal:9", i ? "," : "", i);
    assert_true(off > 600 && off < sizeof brokers);
    snprintf(yaml, sizeof yaml,
             "cluster: {brokers: \"%s\", group: %s}\n"
             "sources:\n  a: {type: kafka, topics: in}\n  b: {type: kafka, topics: in}\n"
             "sinks:\n  o: {type: null, inputs: [a, b]}\n",
             brokers, group);
    struct sl_diag d;
    struct sl_config *cfg = load(yaml, &d);
    assert_non_null(cfg);
    struct sl_component ca, cb;
    struct kconf *ka = apply(cfg, comp_index(cfg, "a"), &ca);
    struct kconf *kb = apply(cfg, comp_index(cfg, "b"), &cb);
    assert_string_equal(ka->brokers, brokers);
    assert_int_equal(strlen(ka->group), 602);
    assert_string_equal(ka->group + 600, ".a");
    assert_string_equal(kb->group + 600, ".b");
    release(&ca);
    release(&cb);
    sl_config_free(cfg);
}

static void test_no_cluster_no_default(void **st)
{
    (void)st;
    struct sl_diag d;
    struct sl_config *cfg = load("sources:\n  k: {type: kafka, topics: in}\n"
                                 "sinks:\n  o: {type: null, inputs: [k]}\n",
                                 &d);
    assert_non_null(cfg);
    assert_null(cfg->cluster.brokers);
    struct sl_component c;
    memset(&c, 0, sizeof c);
    c.ops = &kops;
    c.name = "k";
    sl_diag_init(&d);
    assert_int_equal(sl_config_apply_options(cfg, comp_index(cfg, "k"), &c, &d), SL_ECONFIG);
    assert_non_null(strstr(d.msg, "needs option 'brokers'"));
    release(&c);
    sl_config_free(cfg);
}

static void test_cluster_errors(void **st)
{
    (void)st;
    static const struct {
        const char *text, *msg;
        uint32_t line, col;
    } cases[] = {
        {"cluster: {group: x}\n", "cluster needs brokers", 1, 1},
        {"cluster: {brokers: b, grup: x}\n", "unknown cluster option 'grup'", 1, 23},
        {"cluster: {brokers: b, group: \"a b\"}\n", "invalid cluster.group", 1, 30},
        {"cluster: {brokers: b, status_interval: 10ms}\n", "invalid cluster.status_interval", 1,
         40},
        {"cluster: [b]\n", "'cluster' must be a mapping", 1, 10},
        {"cluster: {brokers: \"${SL_SURELY_UNSET_VAR}\"}\n", "SL_SURELY_UNSET_VAR is not set", 1,
         20},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct sl_diag d;
        struct sl_config *cfg = load(cases[i].text, &d);
        assert_null(cfg);
        if (!strstr(d.msg, cases[i].msg))
            fail_msg("case %zu: '%s', want '%s'", i, d.msg, cases[i].msg);
        assert_int_equal(d.line, cases[i].line);
        assert_int_equal(d.col, cases[i].col);
    }
}

static void test_repartition_expands(void **st)
{
    (void)st;
    struct sl_diag d;
    struct sl_config *cfg = load("cluster: {brokers: \"k1:9092\", group: soc}\n"
                                 "sources:\n  g: {type: generator}\n"
                                 "transforms:\n"
                                 "  by_user:\n"
                                 "    type: repartition\n"
                                 "    inputs: [g, g.errors]\n"
                                 "    key: TO_UPPER(user)\n"
                                 "    partitions: 12\n"
                                 "sinks:\n  o: {type: null, inputs: [by_user]}\n",
                                 &d);
    if (!cfg)
        fail_msg("%s", d.msg);
    assert_int_equal(cfg->ncomps, 4);
    size_t src = comp_index(cfg, "by_user"), snk = comp_index(cfg, "by_user-produce");
    assert_int_equal(cfg->comps[src].kind, SL_KIND_SOURCE);
    assert_string_equal(cfg->comps[src].type, "kafka");
    assert_int_equal(cfg->comps[src].ninputs, 0);
    assert_int_equal(cfg->comps[snk].kind, SL_KIND_SINK);
    assert_string_equal(cfg->comps[snk].type, "kafka");
    assert_int_equal(cfg->comps[snk].ninputs, 2);
    assert_string_equal(cfg->comps[snk].inputs[1].name, "g.errors");
    assert_int_equal(cfg->comps[snk].line, 5); /* the step's position */

    struct sl_component c;
    struct kconf *k = apply(cfg, snk, &c);
    assert_string_equal(k->brokers, "k1:9092");
    assert_string_equal(k->topic, "soc.by_user.repartition");
    assert_string_equal(k->key, "TO_UPPER(user)");
    assert_string_equal(k->format, "evbin");
    assert_string_equal(k->partitions, "12");
    release(&c);
    k = apply(cfg, src, &c);
    assert_int_equal(k->topics.count, 1);
    assert_string_equal(k->topics.items[0], "soc.by_user.repartition");
    assert_string_equal(k->group, "soc.by_user");
    assert_string_equal(k->format, "evbin");
    assert_string_equal(k->offset_reset, "earliest");
    assert_string_equal(k->max_inflight, "256");
    release(&c);
    sl_config_free(cfg);
}

static void test_repartition_errors(void **st)
{
    (void)st;
    static const struct {
        const char *text, *msg;
        uint32_t line, col;
    } cases[] = {
        {"sources:\n  g: {type: generator}\n"
         "transforms:\n  r: {type: repartition, inputs: [g], key: k}\n",
         "repartition 'r' needs brokers", 4, 3},
        {"cluster: {brokers: b}\nsources:\n  g: {type: generator}\n"
         "transforms:\n  r: {type: repartition, inputs: [g]}\n",
         "repartition 'r' needs option 'key'", 5, 3},
        {"cluster: {brokers: b}\nsources:\n  g: {type: generator}\n"
         "transforms:\n  r: {type: repartition, inputs: [g], key: k, buffer: disk}\n",
         "only sinks take 'buffer' ('r' is a transform)", 5, 47},
        {"cluster: {brokers: b}\nsources:\n  g: {type: generator}\n"
         "transforms:\n  r: {type: repartition, inputs: [g], key: [a]}\n",
         "repartition 'r': key must be a scalar", 5, 44},
        {"cluster: {brokers: b}\nsources:\n  g: {type: generator}\n"
         "transforms:\n  r: {type: repartition, inputs: [g], key: k}\n"
         "sinks:\n  r-produce: {type: null, inputs: [r]}\n",
         "component name 'r-produce' is taken", 7, 3},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct sl_diag d;
        struct sl_config *cfg = load(cases[i].text, &d);
        assert_null(cfg);
        if (!strstr(d.msg, cases[i].msg))
            fail_msg("case %zu: '%s', want '%s'", i, d.msg, cases[i].msg);
        if (d.line != cases[i].line || d.col != cases[i].col)
            fail_msg("case %zu at %u:%u, want %u:%u", i, d.line, d.col, cases[i].line,
                     cases[i].col);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cluster_defaults),       cmocka_unit_test(test_own_options_win),
        cmocka_unit_test(test_no_cluster_no_default),  cmocka_unit_test(test_cluster_errors),
        cmocka_unit_test(test_repartition_expands),    cmocka_unit_test(test_repartition_errors),
        cmocka_unit_test(test_long_group_and_brokers),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
