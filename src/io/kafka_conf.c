/*
 * kafka_conf.c — librdkafka configuration shared by the kafka source and sink (see the
 * header). librdkafka's log callback may run on its internal threads; sl_log is thread-safe.
 */
#include "io/kafka_conf.h"

#include "base/alloc.h"
#include "base/clock.h"
#include "base/log.h"
#include "codec/json.h"
#include "core/pipeline.h"
#include "sys/thread.h"

#include <stdio.h>
#include <string.h>

static char node_id[128] = "sluice";

void sl_kafka_set_node_id(const char *id)
{
    snprintf(node_id, sizeof node_id, "%s", id && *id ? id : "sluice");
}

const char *sl_kafka_node_id(void)
{
    return node_id;
}

static void log_cb(const rd_kafka_t *rk, int level, const char *fac, const char *buf)
{
    const struct sl_component *c = rd_kafka_opaque(rk);
    enum sl_log_level lvl = level <= 3 ? SL_LOG_ERROR : level <= 4 ? SL_LOG_WARN : SL_LOG_DEBUG;
    sl_log(lvl, c ? c->name : "kafka", "librdkafka %s: %s", fac, buf);
}

static void opt_diag(struct sl_component *c, const char *opt, uint32_t line, uint32_t col,
                     struct sl_diag *d)
{
    sl_component_diag_opt(c, opt, d);
    if (line) {
        d->line = line;
        d->col = col;
    }
}

rd_kafka_conf_t *sl_kafka_conf_new(struct sl_component *c, const struct sl_kafka_setting *settings,
                                   const struct sl_strmap *passthrough, const char *map_opt,
                                   struct sl_diag *d)
{
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    char err[512], client_id[256];
    snprintf(client_id, sizeof client_id, "%s/%s", node_id, c->name);
    for (const struct sl_kafka_setting *s = settings; s && s->key; s++) {
        if (!s->val)
            continue;
        const char *val = strcmp(s->key, "client.id") == 0 ? client_id : s->val;
        if (rd_kafka_conf_set(conf, s->key, val, err, sizeof err) != RD_KAFKA_CONF_OK) {
            sl_component_diag_opt(c, "brokers", d);
            sl_diag_set(d, SL_ECONFIG, "kafka '%s': %s=%s: %s", c->name, s->key, s->val, err);
            goto fail;
        }
    }
    for (size_t i = 0; passthrough && i < passthrough->count; i++) {
        const struct sl_strmap_item *it = &passthrough->items[i];
        for (const struct sl_kafka_setting *s = settings; s && s->key; s++) {
            if (s->locked && strcmp(s->key, it->key) == 0) {
                opt_diag(c, map_opt, it->line, it->col, d);
                sl_diag_hint(d, "sluice sets %s=%s itself: it is how delivery is acknowledged",
                             s->key, s->val);
                sl_diag_set(d, SL_ECONFIG, "kafka '%s': %s.%s cannot be changed", c->name, map_opt,
                            it->key);
                goto fail;
            }
        }
        if (rd_kafka_conf_set(conf, it->key, it->val, err, sizeof err) != RD_KAFKA_CONF_OK) {
            opt_diag(c, map_opt, it->line, it->col, d);
            sl_diag_hint(d, "keys are librdkafka's own (CONFIGURATION.md of librdkafka)");
            sl_diag_set(d, SL_ECONFIG, "kafka '%s': %s.%s: %s", c->name, map_opt, it->key, err);
            goto fail;
        }
    }
    rd_kafka_conf_set_log_cb(conf, log_cb);
    rd_kafka_conf_set_opaque(conf, c);
    return conf;
fail:
    rd_kafka_conf_destroy(conf);
    return NULL;
}

int sl_kafka_topic_partitions(rd_kafka_t *rk, const char *topic)
{
    /* All topics: a request naming the topic would make a broker with auto-creation on (Kafka's
     * default) create it, with the broker's partition count and no compaction, when the client
     * is a producer (allow.auto.create.topics is true for producers). */
    const struct rd_kafka_metadata *md = NULL;
    int n = -1;
    if (rd_kafka_metadata(rk, 1, NULL, &md, 10000) == RD_KAFKA_RESP_ERR_NO_ERROR && md) {
        for (int i = 0; i < md->topic_cnt && n < 0; i++)
            if (strcmp(md->topics[i].topic, topic) == 0 &&
                md->topics[i].err == RD_KAFKA_RESP_ERR_NO_ERROR)
                n = md->topics[i].partition_cnt;
    }
    if (md)
        rd_kafka_metadata_destroy(md);
    return n;
}

int sl_kafka_create_topic(rd_kafka_t *rk, const char *who, const char *topic, int partitions,
                          int replication, const char *const *configs, char *err, size_t errlen)
{
    /* a topic that exists is left alone (and a broker without CreateTopics is not asked) */
    int have = sl_kafka_topic_partitions(rk, topic);
    if (have > 0) {
        if (have != partitions)
            sl_warn(who, "topic %s exists with %d partition(s), not %d: left as it is", topic, have,
                    partitions);
        return 0;
    }
    rd_kafka_NewTopic_t *nt = rd_kafka_NewTopic_new(topic, partitions, replication, err, errlen);
    if (!nt)
        return -1;
    for (size_t i = 0; configs && configs[i] && configs[i + 1]; i += 2)
        rd_kafka_NewTopic_set_config(nt, configs[i], configs[i + 1]);
    char ignored[256];
    rd_kafka_queue_t *q = rd_kafka_queue_new(rk);
    rd_kafka_AdminOptions_t *o = rd_kafka_AdminOptions_new(rk, RD_KAFKA_ADMIN_OP_CREATETOPICS);
    rd_kafka_AdminOptions_set_operation_timeout(o, 10000, ignored, sizeof ignored);
    rd_kafka_AdminOptions_set_request_timeout(o, 15000, ignored, sizeof ignored);
    rd_kafka_CreateTopics(rk, &nt, 1, o, q);
    rd_kafka_event_t *ev = rd_kafka_queue_poll(q, 20000);
    int rc = 0;
    if (!ev) {
        snprintf(err, errlen, "creating topic %s: no answer in 20 s", topic);
        rc = -1;
    } else if (rd_kafka_event_error(ev)) {
        snprintf(err, errlen, "creating topic %s: %s", topic, rd_kafka_event_error_string(ev));
        rc = -1;
    } else {
        size_t n = 0;
        const rd_kafka_topic_result_t **r =
            rd_kafka_CreateTopics_result_topics(rd_kafka_event_CreateTopics_result(ev), &n);
        for (size_t i = 0; i < n; i++) {
            rd_kafka_resp_err_t e = rd_kafka_topic_result_error(r[i]);
            if (e == RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS) {
                sl_debug(who, "topic %s exists", topic);
            } else if (e) {
                const char *es = rd_kafka_topic_result_error_string(r[i]);
                snprintf(err, errlen, "creating topic %s: %s", topic,
                         es ? es : rd_kafka_err2str(e));
                rc = -1;
            } else {
                sl_info(who, "created topic %s with %d partition(s)", topic, partitions);
            }
        }
    }
    if (ev)
        rd_kafka_event_destroy(ev);
    rd_kafka_AdminOptions_destroy(o);
    rd_kafka_queue_destroy(q);
    rd_kafka_NewTopic_destroy(nt);
    return rc;
}

/* ---------------------------------------------------------------- assignments */

struct asg {
    char *component, *group, *member_id;
    char **topics;
    int32_t *parts;
    size_t n;
    int64_t since_ms; /* wall clock of the last change */
};

static struct sl_mutex asg_mu = {PTHREAD_MUTEX_INITIALIZER};
static struct asg *asgs;
static size_t nasgs;

static void asg_free_parts(struct asg *a)
{
    for (size_t i = 0; i < a->n; i++)
        sl_free(a->topics[i]);
    sl_free(a->topics);
    sl_free(a->parts);
    a->topics = NULL;
    a->parts = NULL;
    a->n = 0;
}

void sl_kafka_assignment_set(const char *component, const char *group, const char *member_id,
                             const rd_kafka_topic_partition_list_t *parts)
{
    sl_mutex_lock(&asg_mu);
    struct asg *a = NULL;
    for (size_t i = 0; i < nasgs && !a; i++)
        if (strcmp(asgs[i].component, component) == 0)
            a = &asgs[i];
    if (!a) {
        asgs = sl_xrealloc(asgs, (nasgs + 1) * sizeof(*asgs));
        a = &asgs[nasgs++];
        memset(a, 0, sizeof(*a));
        a->component = sl_xstrdup(component);
    }
    sl_free(a->group);
    sl_free(a->member_id);
    a->group = sl_xstrdup(group ? group : "");
    a->member_id = sl_xstrdup(member_id ? member_id : "");
    asg_free_parts(a);
    size_t n = parts ? (size_t)parts->cnt : 0;
    if (n) {
        a->topics = sl_xcalloc(n, sizeof(*a->topics));
        a->parts = sl_xcalloc(n, sizeof(*a->parts));
        for (size_t i = 0; i < n; i++) {
            a->topics[i] = sl_xstrdup(parts->elems[i].topic);
            a->parts[i] = parts->elems[i].partition;
        }
        a->n = n;
    }
    a->since_ms = sl_clock_wall_ns() / 1000000;
    sl_mutex_unlock(&asg_mu);
}

void sl_kafka_assignment_clear(const char *component)
{
    sl_mutex_lock(&asg_mu);
    for (size_t i = 0; i < nasgs; i++) {
        if (strcmp(asgs[i].component, component) != 0)
            continue;
        asg_free_parts(&asgs[i]);
        sl_free(asgs[i].component);
        sl_free(asgs[i].group);
        sl_free(asgs[i].member_id);
        asgs[i] = asgs[--nasgs];
        break;
    }
    if (!nasgs) {
        sl_free(asgs);
        asgs = NULL;
    }
    sl_mutex_unlock(&asg_mu);
}

void sl_kafka_assignment_json(struct sl_buf *out)
{
    sl_mutex_lock(&asg_mu);
    sl_buf_putc(out, '[');
    for (size_t i = 0; i < nasgs; i++) {
        const struct asg *a = &asgs[i];
        sl_buf_puts(out, i ? ",{\"component\":" : "{\"component\":");
        sl_json_write_string(out, a->component, strlen(a->component));
        sl_buf_puts(out, ",\"group\":");
        sl_json_write_string(out, a->group, strlen(a->group));
        sl_buf_puts(out, ",\"member_id\":");
        sl_json_write_string(out, a->member_id, strlen(a->member_id));
        sl_buf_appendf(out, ",\"since_ms\":%lld,\"partitions\":[", (long long)a->since_ms);
        for (size_t k = 0; k < a->n; k++) {
            sl_buf_puts(out, k ? ",{\"topic\":" : "{\"topic\":");
            sl_json_write_string(out, a->topics[k], strlen(a->topics[k]));
            sl_buf_appendf(out, ",\"partition\":%d}", (int)a->parts[k]);
        }
        sl_buf_puts(out, "]}");
    }
    sl_buf_putc(out, ']');
    sl_mutex_unlock(&asg_mu);
}
