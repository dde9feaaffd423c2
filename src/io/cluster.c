/*
 * cluster.c — this node's place among the nodes sharing a `cluster:` section (see the header).
 *
 * DESIGN. Who owns which partition is decided by Kafka's group protocol, not here; this only
 * makes it visible. Every node publishes a status record (its kafka sources' groups, member ids
 * and assigned partitions, its API address, when it started) keyed by its node id to one
 * compacted topic, every `status_interval`, and reads that topic from the beginning with a
 * plain consumer (no group), so each node knows every other node's last status and when it
 * was seen. A node that stops cleanly publishes a last record with "state":"left"; one that was
 * killed stops being seen and shows as not alive after three intervals. The statuses are
 * re-encoded from parsed JSON before they are served, so a record that is not ours (or is
 * broken) never breaks /api/v1/cluster.
 *
 * Threads: one of its own for both librdkafka clients; sl_cluster_json() from the API's
 * threads under the mutex.
 */
#include "io/cluster.h"

#include "base/alloc.h"
#include "base/arena.h"
#include "base/clock.h"
#include "base/log.h"
#include "codec/json.h"
#include "io/kafka_conf.h"
#include "sys/thread.h"

#include <librdkafka/rdkafka.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#define STATUS_MAX  (256u << 10) /* a status record larger than this is ignored */
#define MEMBERS_MAX 4096u
/* the statuses kept, all members together: anyone who can write the topic could otherwise
 * make this process keep MEMBERS_MAX x STATUS_MAX (1 GiB), and /api/v1/cluster's answer
 * outgrow the API's 64 MiB buffer (an append past it fails: the JSON had holes) */
#define STATUSES_MAX (32u << 20)

struct member {
    char *node_id;
    char *status; /* re-encoded JSON object */
    int64_t seen_ms;
};

struct sl_cluster {
    char *brokers, *group, *node_id, *topic, *api;
    int64_t interval_ns;
    int64_t started_ms;
    rd_kafka_t *prod, *cons;
    struct sl_thread th;
    atomic_bool stop;
    struct sl_mutex mu;
    struct member *m;                            /* guarded_by: mu */
    size_t nm;                                   /* guarded_by: mu */
    size_t status_bytes;                         /* guarded_by: mu — strlen of every m[].status */
    _Atomic uint64_t published, failed, ignored; /* the API's threads read them */
};

static struct sl_cluster *the_cluster;

static void log_cb(const rd_kafka_t *rk, int level, const char *fac, const char *buf)
{
    (void)rk;
    sl_log(level <= 3   ? SL_LOG_ERROR
           : level <= 4 ? SL_LOG_WARN
                        : SL_LOG_DEBUG,
           "cluster", "librdkafka %s: %s", fac, buf);
}

static rd_kafka_t *client(struct sl_cluster *cl, rd_kafka_type_t type, struct sl_diag *d)
{
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    char err[512], id[256], reader[300];
    snprintf(id, sizeof id, "%s/cluster", cl->node_id);
    /* the reader assigns itself the topic and commits nothing: the group id is only what the
     * consumer API needs, no group is joined */
    snprintf(reader, sizeof reader, "%s.cluster-reader", cl->group);
    const char *kv[] = {"bootstrap.servers", cl->brokers, "client.id", id, NULL};
    const char *pk[] = {"linger.ms", "5", NULL};
    const char *ck[] = {"group.id", reader, "enable.auto.commit", "false", "enable.partition.eof",
                        "false",    NULL};
    const char *const *sets[] = {kv, type == RD_KAFKA_PRODUCER ? pk : ck};
    for (size_t k = 0; k < 2; k++) {
        for (const char *const *x = sets[k]; *x; x += 2) {
            if (rd_kafka_conf_set(conf, x[0], x[1], err, sizeof err) != RD_KAFKA_CONF_OK) {
                rd_kafka_conf_destroy(conf);
                sl_diag_set(d, SL_ECONFIG, "cluster: %s: %s", x[0], err);
                return NULL;
            }
        }
    }
    rd_kafka_conf_set_log_cb(conf, log_cb);
    rd_kafka_t *rk = rd_kafka_new(type, conf, err, sizeof err);
    if (!rk) {
        rd_kafka_conf_destroy(conf);
        sl_diag_set(d, SL_ECONFIG, "cluster: %s", err);
    }
    return rk;
}

/* This node's status as JSON. */
static void own_status(struct sl_cluster *cl, struct sl_buf *b, bool left)
{
    sl_buf_puts(b, "{\"node_id\":");
    sl_json_write_string(b, cl->node_id, strlen(cl->node_id));
    sl_buf_appendf(b, ",\"state\":\"%s\",\"started_ms\":%lld,\"api\":", left ? "left" : "up",
                   (long long)cl->started_ms);
    if (cl->api)
        sl_json_write_string(b, cl->api, strlen(cl->api));
    else
        sl_buf_puts(b, "null");
    sl_buf_puts(b, ",\"sources\":");
    sl_kafka_assignment_json(b);
    sl_buf_putc(b, '}');
}

static void publish(struct sl_cluster *cl, bool left)
{
    struct sl_buf b;
    sl_buf_init(&b, STATUS_MAX);
    own_status(cl, &b, left);
    rd_kafka_resp_err_t e = rd_kafka_producev(
        cl->prod, RD_KAFKA_V_TOPIC(cl->topic), RD_KAFKA_V_KEY(cl->node_id, strlen(cl->node_id)),
        RD_KAFKA_V_VALUE(b.ptr, b.len), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END);
    if (e) {
        atomic_fetch_add_explicit(&cl->failed, 1, memory_order_relaxed);
        sl_warn("cluster", "status to %s: %s", cl->topic, rd_kafka_err2str(e));
    } else {
        atomic_fetch_add_explicit(&cl->published, 1, memory_order_relaxed);
    }
    sl_buf_fini(&b);
}

static void take(struct sl_cluster *cl, const rd_kafka_message_t *m)
{
    /* a key with a NUL would be a node id that matches no record: a new member each time */
    if (!m->key || !m->key_len || m->key_len > 100 || memchr(m->key, '\0', m->key_len) ||
        !m->payload || m->len > STATUS_MAX) {
        atomic_fetch_add_explicit(&cl->ignored, 1, memory_order_relaxed);
        return;
    }
    struct sl_arena a;
    sl_arena_init(&a, 16384, 4u << 20);
    struct sl_value v;
    struct sl_buf out;
    sl_buf_init(&out, STATUS_MAX);
    struct sl_diag d;
    bool ok = sl_json_parse_value(&a, m->payload, m->len, NULL, &v, &d) == 0 &&
              v.type == SL_V_MAP && sl_json_write_value(&out, &v) == 0;
    sl_arena_fini(&a);
    if (!ok) {
        atomic_fetch_add_explicit(&cl->ignored, 1, memory_order_relaxed);
        sl_buf_fini(&out);
        return;
    }
    int64_t now = sl_clock_wall_ns() / 1000000;
    sl_mutex_lock(&cl->mu);
    struct member *mb = NULL;
    for (size_t i = 0; i < cl->nm && !mb; i++)
        if (strlen(cl->m[i].node_id) == m->key_len &&
            memcmp(cl->m[i].node_id, m->key, m->key_len) == 0)
            mb = &cl->m[i];
    size_t had = mb ? strlen(mb->status) : 0;
    if (cl->status_bytes - had + out.len + m->key_len > STATUSES_MAX)
        mb = NULL; /* over the budget: ignored (a member's own smaller update still fits) */
    else if (!mb && cl->nm < MEMBERS_MAX) {
        cl->m = sl_xrealloc(cl->m, (cl->nm + 1) * sizeof(*cl->m));
        mb = &cl->m[cl->nm++];
        mb->node_id = sl_strndup(m->key, m->key_len);
        mb->status = NULL;
        cl->status_bytes += m->key_len;
    }
    if (mb) {
        cl->status_bytes = cl->status_bytes - had + out.len;
        sl_free(mb->status);
        mb->status = sl_buf_steal(&out, NULL);
        mb->seen_ms = now;
    } else {
        atomic_fetch_add_explicit(&cl->ignored, 1, memory_order_relaxed);
    }
    sl_mutex_unlock(&cl->mu);
    sl_buf_fini(&out);
}

static void *loop(void *arg)
{
    struct sl_cluster *cl = arg;
    /* here, not at start: a broker without CreateTopics (or a slow one) costs this thread the
     * wait, not the node's start-up */
    char err[512];
    const char *cfgs[] = {"cleanup.policy", "compact", NULL};
    if (sl_kafka_create_topic(cl->prod, "cluster", cl->topic, 1, -1, cfgs, err, sizeof err))
        sl_warn("cluster",
                "%s: statuses are published anyway; a broker that auto-creates topics makes it "
                "without compaction",
                err);
    int64_t next = 0;
    while (!atomic_load(&cl->stop)) {
        int64_t now = sl_clock_mono_ns();
        if (now >= next) {
            publish(cl, false);
            next = now + cl->interval_ns;
        }
        rd_kafka_poll(cl->prod, 0);
        rd_kafka_message_t *m = rd_kafka_consumer_poll(cl->cons, 100);
        if (m) {
            if (!m->err)
                take(cl, m);
            else if (m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF)
                sl_debug("cluster", "status topic: %s", rd_kafka_message_errstr(m));
            rd_kafka_message_destroy(m);
        }
    }
    return NULL;
}

struct sl_cluster *sl_cluster_start(const struct sl_config_cluster *cc, const char *api_listen,
                                    struct sl_diag *d)
{
    struct sl_cluster *cl = sl_xcalloc(1, sizeof(*cl));
    cl->brokers = sl_xstrdup(cc->brokers);
    cl->group = sl_xstrdup(cc->group);
    cl->node_id = sl_xstrdup(cc->node_id);
    cl->topic = sl_xstrdup(cc->status_topic);
    cl->api = api_listen ? sl_xstrdup(api_listen) : NULL;
    cl->interval_ns = cc->status_interval_ns;
    cl->started_ms = sl_clock_wall_ns() / 1000000;
    sl_mutex_init(&cl->mu);
    atomic_init(&cl->stop, false);
    cl->prod = client(cl, RD_KAFKA_PRODUCER, d);
    cl->cons = cl->prod ? client(cl, RD_KAFKA_CONSUMER, d) : NULL;
    if (!cl->cons)
        goto fail;
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(l, cl->topic, 0)->offset = RD_KAFKA_OFFSET_BEGINNING;
    rd_kafka_resp_err_t e = rd_kafka_assign(cl->cons, l);
    rd_kafka_topic_partition_list_destroy(l);
    if (e) {
        sl_diag_set(d, SL_ECONFIG, "cluster: reading %s: %s", cl->topic, rd_kafka_err2str(e));
        goto fail;
    }
    if (sl_thread_start(&cl->th, "cluster", loop, cl)) {
        sl_diag_set(d, SL_ENOMEM, "cluster: cannot start its thread");
        goto fail;
    }
    sl_info("cluster", "node %s in group %s; statuses on %s every %lld ms", cl->node_id, cl->group,
            cl->topic, (long long)(cl->interval_ns / 1000000));
    the_cluster = cl;
    return cl;
fail:
    if (cl->cons)
        rd_kafka_destroy(cl->cons);
    if (cl->prod)
        rd_kafka_destroy(cl->prod);
    cl->cons = cl->prod = NULL;
    sl_cluster_stop(cl);
    return NULL;
}

void sl_cluster_stop(struct sl_cluster *cl)
{
    if (!cl)
        return;
    if (cl->prod && cl->cons) {
        atomic_store(&cl->stop, true);
        sl_thread_join(&cl->th);
        publish(cl, true);
        rd_kafka_flush(cl->prod, 5000);
        rd_kafka_consumer_close(cl->cons);
        rd_kafka_destroy(cl->cons);
        rd_kafka_destroy(cl->prod);
    }
    if (the_cluster == cl)
        the_cluster = NULL;
    for (size_t i = 0; i < cl->nm; i++) {
        sl_free(cl->m[i].node_id);
        sl_free(cl->m[i].status);
    }
    sl_free(cl->m);
    sl_mutex_fini(&cl->mu);
    sl_free(cl->brokers);
    sl_free(cl->group);
    sl_free(cl->node_id);
    sl_free(cl->topic);
    sl_free(cl->api);
    sl_free(cl);
}

struct sl_cluster *sl_cluster_default(void)
{
    return the_cluster;
}

void sl_cluster_json(struct sl_cluster *cl, struct sl_buf *b)
{
    int64_t now = sl_clock_wall_ns() / 1000000;
    int64_t stale_ms = 3 * cl->interval_ns / 1000000;
    sl_buf_puts(b, "{\"node_id\":");
    sl_json_write_string(b, cl->node_id, strlen(cl->node_id));
    sl_buf_puts(b, ",\"group\":");
    sl_json_write_string(b, cl->group, strlen(cl->group));
    sl_buf_puts(b, ",\"brokers\":");
    sl_json_write_string(b, cl->brokers, strlen(cl->brokers));
    sl_buf_puts(b, ",\"status_topic\":");
    sl_json_write_string(b, cl->topic, strlen(cl->topic));
    sl_buf_appendf(
        b, ",\"status_interval_ms\":%lld,\"local\":", (long long)(cl->interval_ns / 1000000));
    own_status(cl, b, false);
    sl_buf_puts(b, ",\"members\":[");
    sl_mutex_lock(&cl->mu);
    for (size_t i = 0; i < cl->nm; i++) {
        const struct member *m = &cl->m[i];
        bool left = strstr(m->status, "\"state\":\"left\"") != NULL;
        int64_t age = now - m->seen_ms;
        sl_buf_puts(b, i ? ",{\"node_id\":" : "{\"node_id\":");
        sl_json_write_string(b, m->node_id, strlen(m->node_id));
        sl_buf_appendf(b, ",\"alive\":%s,\"seen_ms_ago\":%lld,\"status\":",
                       !left && age <= stale_ms ? "true" : "false", (long long)age);
        sl_buf_puts(b, m->status);
        sl_buf_putc(b, '}');
    }
    sl_mutex_unlock(&cl->mu);
    sl_buf_appendf(b, "],\"published\":%llu,\"publish_errors\":%llu,\"ignored\":%llu}\n",
                   (unsigned long long)atomic_load(&cl->published),
                   (unsigned long long)atomic_load(&cl->failed),
                   (unsigned long long)atomic_load(&cl->ignored));
}
