/*
 * kafka_conf.h — what the kafka source and sink share: building a librdkafka configuration
 * from the component's options (brokers plus a `librdkafka:` map passed through verbatim,
 * SASL and TLS included), librdkafka's log lines in sluice's log, and its error text in a
 * diagnostic that points at the option that caused it.
 */
#ifndef SL_IO_KAFKA_CONF_H
#define SL_IO_KAFKA_CONF_H

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

#endif
