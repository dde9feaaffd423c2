/*
 * kafka_conf.h — what the kafka source and sink share: building a librdkafka configuration
 * from the component's options (brokers plus a `librdkafka:` map passed through verbatim,
 * SASL and TLS included), librdkafka's log lines in sluice's log, and its error text in a
 * diagnostic that points at the option that caused it.
 */
#ifndef SL_IO_KAFKA_CONF_H
#define SL_IO_KAFKA_CONF_H

#include "base/buf.h"
#include "core/component.h"

#include <librdkafka/rdkafka.h>

/* One setting for the new configuration: a sluice default that the `librdkafka:` map may
 * override (pass `locked` to refuse an override that would break the delivery contract). */
struct sl_kafka_setting {
    const char *key, *val;
    bool locked;
};

/*
 * A new librdkafka configuration: `settings` (NULL-terminated by key), then every item of
 * `passthrough` (the `librdkafka:` option; an item that sets a locked key is an error, as is a
 * key librdkafka does not know, with the item's file:line:col). Logs go to sluice's log as
 * component c. NULL with d filled on error.
 */
rd_kafka_conf_t *sl_kafka_conf_new(struct sl_component *c, const struct sl_kafka_setting *settings,
                                   const struct sl_strmap *passthrough, const char *map_opt,
                                   struct sl_diag *d);

/* This node's name in the client.id of every librdkafka client ("<node>/<component>"), set
 * once at start-up from `cluster.node_id` (NULL: "sluice"). Main thread, before components. */
void sl_kafka_set_node_id(const char *node_id);
const char *sl_kafka_node_id(void);

/* The partition count of `topic`, or -1 when the cluster does not have it (or does not answer in
 * 10 s). Asks for every topic's metadata, so no broker creates the topic by being asked. */
int sl_kafka_topic_partitions(rd_kafka_t *rk, const char *topic);

/*
 * Create `topic` with `partitions` partitions (replication -1: the broker's default) and the
 * topic configs in `configs` ("key", "value", ..., NULL; may be NULL) through rk's admin API;
 * a topic that already exists is fine (its settings are left as they are). Waits up to 20 s.
 * 0, or -1 with the reason in err. `who` names the caller in the log.
 */
int sl_kafka_create_topic(rd_kafka_t *rk, const char *who, const char *topic, int partitions,
                          int replication, const char *const *configs, char *err, size_t errlen);

/*
 * What the kafka sources of this process hold, for /api/v1/cluster: each source publishes its
 * group, member id and assigned partitions when they change (any thread).
 */
void sl_kafka_assignment_set(const char *component, const char *group, const char *member_id,
                             const rd_kafka_topic_partition_list_t *parts);
/* Forget a source's entry (its fini). */
void sl_kafka_assignment_clear(const char *component);
/* Append the table as a JSON array: [{"component","group","member_id","partitions":
 * [{"topic","partition"}...]}...]. */
void sl_kafka_assignment_json(struct sl_buf *out);

#endif
