/*
 * config_cluster.c — the `cluster:` section and the `repartition` step (docs/cluster.md).
 *
 *   cluster:
 *     brokers: kafka1:9092,kafka2:9092   # every kafka source and sink without its own
 *     group: soc-prod                     # kafka sources join "<group>.<source name>"
 *     node_id: ${HOSTNAME}                # this node's name (default: the host name)
 *
 *   transforms:
 *     by_user:
 *       type: repartition                 # as ksqlDB's PARTITION BY
 *       inputs: [parsed]
 *       key: user                         # a field path or a Stellar expression
 *       partitions: 12                    # create the internal topic when it does not exist
 *
 * DESIGN. A repartition step is a kafka sink and a kafka source meeting on a keyed internal
 * topic, so it is written as exactly that here, before any component exists: the step's own
 * entry becomes the source (downstream `inputs: [by_user]` read what the consumer group
 * assigns to this node) and a sink "<name>-produce" takes its inputs. The records are evbin
 * (every value type and the event time survive), keyed with Java's murmur2 partitioner, so
 * one key's events meet on one partition whatever node produced them, and a node's keyed
 * state (profiles, windows) sees every event of the keys it owns. Delivery is the kafka
 * sink's and source's: the upstream source commits once the broker has the record, the
 * downstream consumer group commits once its own sinks have the events (at-least-once).
 * The two components are ordinary, so /metrics, dead letters and `buffer:` work as for any
 * other; their YAML nodes are added to the document with the step's positions, so an error
 * in them points at the step.
 */
#include "base/alloc.h"
#include "base/log.h"
#include "base/str.h"
#include "core/config_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int sl_cfg_parse_cluster(struct sl_config *cfg, yaml_node_t *k, yaml_node_t *v, struct sl_diag *d)
{
    struct sl_config_cluster *cl = &cfg->cluster;
    cl->line = (uint32_t)k->start_mark.line + 1;
    cl->col = (uint32_t)k->start_mark.column + 1;
    cl->status_interval_ns = 2 * (int64_t)1000000000;
    if (v->type != YAML_MAPPING_NODE) {
        sl_cfg_diag_at(d, cfg, v);
        sl_diag_hint(d, "write cluster: {brokers: \"kafka1:9092\", group: soc, node_id: n1}");
        return sl_diag_set(d, SL_ECONFIG, "'cluster' must be a mapping");
    }
    for (yaml_node_pair_t *q = v->data.mapping.pairs.start; q < v->data.mapping.pairs.top; q++) {
        yaml_node_t *ak = sl_cfg_node(cfg, q->key), *av = sl_cfg_node(cfg, q->value);
        const char *name = sl_cfg_scalar(ak) ? sl_cfg_scalar(ak) : "?";
        char **slot = !strcmp(name, "brokers")        ? &cl->brokers
                      : !strcmp(name, "group")        ? &cl->group
                      : !strcmp(name, "node_id")      ? &cl->node_id
                      : !strcmp(name, "status_topic") ? &cl->status_topic
                                                      : NULL;
        if (!slot && strcmp(name, "status_interval") != 0) {
            sl_cfg_diag_at(d, cfg, ak);
            sl_diag_hint(d, "the cluster section knows: brokers, group, node_id, status_topic, "
                            "status_interval");
            return sl_diag_set(d, SL_ECONFIG, "unknown cluster option '%s'", name);
        }
        char *text = NULL;
        if (!sl_cfg_scalar(av)) {
            sl_cfg_diag_at(d, cfg, av);
            return sl_diag_set(d, SL_ECONFIG, "cluster.%s must be a string", name);
        }
        int rc = sl_cfg_expand_env(cfg, av, &text, d);
        if (rc)
            return rc;
        if (slot) {
            bool bad = !*text || (slot == &cl->node_id && strlen(text) > 100) ||
                       (slot == &cl->group && !sl_cfg_valid_name(text));
            if (bad) {
                sl_free(text);
                sl_cfg_diag_at(d, cfg, av);
                sl_diag_hint(d, "group and node_id: letters, digits, '_' and '-' (node_id up to "
                                "100 bytes)");
                return sl_diag_set(d, SL_ECONFIG, "invalid cluster.%s", name);
            }
            sl_free(*slot);
            *slot = text;
            continue;
        }
        rc = sl_str_to_duration_ns(sl_str_c(text), &cl->status_interval_ns);
        sl_free(text);
        if (rc || cl->status_interval_ns < 100000000) {
            sl_cfg_diag_at(d, cfg, av);
            sl_diag_hint(d, "a duration of at least 100ms, such as 2s");
            return sl_diag_set(d, SL_ECONFIG, "invalid cluster.status_interval");
        }
    }
    if (!cl->brokers) {
        sl_cfg_diag_at(d, cfg, k);
        sl_diag_hint(d, "add brokers: \"host:port,host:port\"");
        return sl_diag_set(d, SL_ECONFIG, "cluster needs brokers");
    }
    if (!cl->group)
        cl->group = sl_xstrdup("sluice");
    if (!cl->node_id) {
        char host[256];
        if (gethostname(host, sizeof host) != 0 || !*host)
            snprintf(host, sizeof host, "node");
        host[100] = 0;
        cl->node_id = sl_xstrdup(host);
    }
    if (!cl->status_topic) {
        size_t n = strlen(cl->group) + sizeof(".cluster");
        cl->status_topic = sl_xmalloc(n);
        snprintf(cl->status_topic, n, "%s.cluster", cl->group);
    }
    return 0;
}

void sl_cfg_free_cluster(struct sl_config_cluster *cl)
{
    sl_free(cl->brokers);
    sl_free(cl->group);
    sl_free(cl->node_id);
    sl_free(cl->status_topic);
}

/* ---------------------------------------------------------------- repartition */

struct rp {
    char *key, *topic, *brokers, *group, *partitions, *replication, *max_inflight;
    yaml_mark_t mark; /* the step's position, given to the nodes made for it */
};

static void yaml_oom(void)
{
    sl_error("config", "out of memory building the configuration");
    abort();
}

static int add_scalar(yaml_document_t *doc, const char *text, yaml_mark_t mark)
{
    int id = yaml_document_add_scalar(doc, NULL, (yaml_char_t *)text, (int)strlen(text),
                                      YAML_PLAIN_SCALAR_STYLE);
    if (!id)
        yaml_oom();
    yaml_node_t *n = yaml_document_get_node(doc, id);
    n->start_mark = n->end_mark = mark;
    return id;
}

static void add_pair(yaml_document_t *doc, int map, const char *key, const char *val,
                     yaml_mark_t mark)
{
    if (!val)
        return;
    int k = add_scalar(doc, key, mark), v = add_scalar(doc, val, mark);
    if (!yaml_document_append_mapping_pair(doc, map, k, v))
        yaml_oom();
}

static int new_map(yaml_document_t *doc, yaml_mark_t mark)
{
    int id = yaml_document_add_mapping(doc, NULL, YAML_BLOCK_MAPPING_STYLE);
    if (!id)
        yaml_oom();
    yaml_node_t *n = yaml_document_get_node(doc, id);
    n->start_mark = n->end_mark = mark;
    return id;
}

static void rp_free(struct rp *r)
{
    sl_free(r->key);
    sl_free(r->topic);
    sl_free(r->brokers);
    sl_free(r->group);
    sl_free(r->partitions);
    sl_free(r->replication);
    sl_free(r->max_inflight);
}

/* The step's options (everything but type and inputs). */
static int rp_read(struct sl_config *cfg, const struct sl_config_comp *cc, struct rp *r,
                   struct sl_diag *d)
{
    yaml_node_t *m = sl_cfg_node(cfg, cc->node);
    r->mark = m->start_mark;
    for (yaml_node_pair_t *q = m->data.mapping.pairs.start; q < m->data.mapping.pairs.top; q++) {
        yaml_node_t *ak = sl_cfg_node(cfg, q->key), *av = sl_cfg_node(cfg, q->value);
        const char *name = sl_cfg_scalar(ak);
        if (!strcmp(name, "type") || !strcmp(name, "inputs"))
            continue;
        char **slot = !strcmp(name, "key")            ? &r->key
                      : !strcmp(name, "topic")        ? &r->topic
                      : !strcmp(name, "brokers")      ? &r->brokers
                      : !strcmp(name, "group")        ? &r->group
                      : !strcmp(name, "partitions")   ? &r->partitions
                      : !strcmp(name, "replication")  ? &r->replication
                      : !strcmp(name, "max_inflight") ? &r->max_inflight
                                                      : NULL;
        if (!slot) {
            sl_cfg_diag_at(d, cfg, ak);
            sl_diag_hint(d, "repartition knows: inputs, key, partitions, replication, topic, "
                            "brokers, group, max_inflight");
            return sl_diag_set(d, SL_ECONFIG, "unknown option '%s' for repartition '%s'", name,
                               cc->name);
        }
        if (!sl_cfg_scalar(av)) {
            sl_cfg_diag_at(d, cfg, av);
            return sl_diag_set(d, SL_ECONFIG, "repartition '%s': %s must be a scalar", cc->name,
                               name);
        }
        int rc = sl_cfg_expand_env(cfg, av, slot, d);
        if (rc)
            return rc;
    }
    snprintf(d->file, sizeof(d->file), "%s", cfg->path);
    d->line = cc->line;
    d->col = cc->col;
    if (!r->key) {
        sl_diag_hint(d, "add key: <field or Stellar expression> — the state's key (the entity)");
        return sl_diag_set(d, SL_ECONFIG, "repartition '%s' needs option 'key'", cc->name);
    }
    if (!r->brokers && !cfg->cluster.brokers) {
        sl_diag_hint(d, "add brokers: host:port, or a top-level cluster: {brokers: ...}");
        return sl_diag_set(d, SL_ECONFIG, "repartition '%s' needs brokers", cc->name);
    }
    const char *group = cfg->cluster.group ? cfg->cluster.group : "sluice";
    if (!r->topic) {
        size_t n = strlen(group) + strlen(cc->name) + sizeof("..repartition");
        r->topic = sl_xmalloc(n);
        snprintf(r->topic, n, "%s.%s.repartition", group, cc->name);
    }
    if (!r->group) {
        size_t n = strlen(group) + strlen(cc->name) + 2;
        r->group = sl_xmalloc(n);
        snprintf(r->group, n, "%s.%s", group, cc->name);
    }
    return 0;
}

int sl_cfg_expand_repartition(struct sl_config *cfg, struct sl_diag *d)
{
    yaml_document_t *doc = cfg->doc;
    size_t n = cfg->ncomps;
    for (size_t i = 0; i < n; i++) {
        if (cfg->comps[i].kind != SL_KIND_TRANSFORM || strcmp(cfg->comps[i].type, "repartition"))
            continue;
        struct rp r = {0};
        int rc = rp_read(cfg, &cfg->comps[i], &r, d);
        char sink_name[300];
        snprintf(sink_name, sizeof sink_name, "%s-produce", cfg->comps[i].name);
        for (size_t j = 0; j < cfg->ncomps && !rc; j++) {
            if (strcmp(cfg->comps[j].name, sink_name) == 0) {
                snprintf(d->file, sizeof(d->file), "%s", cfg->path);
                d->line = cfg->comps[j].line;
                d->col = cfg->comps[j].col;
                sl_diag_hint(d, "repartition '%s' names its producer so: rename this one",
                             cfg->comps[i].name);
                rc = sl_diag_set(d, SL_ECONFIG, "component name '%s' is taken", sink_name);
            }
        }
        if (rc) {
            rp_free(&r);
            return rc;
        }
        const char *brokers = r.brokers ? r.brokers : cfg->cluster.brokers;
        /* the sink: the step's inputs, keyed records to the internal topic */
        int sm = new_map(doc, r.mark);
        add_pair(doc, sm, "brokers", brokers, r.mark);
        add_pair(doc, sm, "topic", r.topic, r.mark);
        add_pair(doc, sm, "key", r.key, r.mark);
        add_pair(doc, sm, "format", "evbin", r.mark);
        add_pair(doc, sm, "partitions", r.partitions, r.mark);
        add_pair(doc, sm, "replication", r.replication, r.mark);
        /* the source: what the group assigns to this node, under the step's own name */
        int so = new_map(doc, r.mark);
        add_pair(doc, so, "brokers", brokers, r.mark);
        add_pair(doc, so, "topics", r.topic, r.mark);
        add_pair(doc, so, "group", r.group, r.mark);
        add_pair(doc, so, "format", "evbin", r.mark);
        add_pair(doc, so, "offset_reset", "earliest", r.mark);
        /* one uncommitted batch per partition of a topic of up to 256: the source's default
         * (32) would make the commit round trip the limit of a node holding many partitions */
        add_pair(doc, so, "max_inflight", r.max_inflight ? r.max_inflight : "256", r.mark);
        sl_info("config",
                "repartition '%s': kafka sink '%s' -> topic %s (key %s) -> kafka source "
                "'%s' (group %s)",
                cfg->comps[i].name, sink_name, r.topic, r.key, cfg->comps[i].name, r.group);
        rp_free(&r);

        cfg->comps = sl_xrealloc(cfg->comps, (cfg->ncomps + 1) * sizeof(*cfg->comps));
        struct sl_config_comp *src = &cfg->comps[i], *snk = &cfg->comps[cfg->ncomps++];
        *snk = *src;
        snk->name = sl_xstrdup(sink_name);
        snk->kind = SL_KIND_SINK;
        snk->type = sl_xstrdup("kafka");
        snk->node = sm;
        sl_free(src->type);
        src->type = sl_xstrdup("kafka");
        src->kind = SL_KIND_SOURCE;
        src->inputs = NULL;
        src->ninputs = 0;
        src->node = so;
        memset(&src->buffer, 0, sizeof(src->buffer));
    }
    return 0;
}
