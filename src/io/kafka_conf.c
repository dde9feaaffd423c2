/*
 * kafka_conf.c — librdkafka configuration shared by the kafka source and sink (see the
 * header). librdkafka's log callback may run on its internal threads; sl_log is thread-safe.
 */
#include "io/kafka_conf.h"

#include "base/log.h"
#include "core/pipeline.h"

#include <stdio.h>
#include <string.h>

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
    char err[512];
    for (const struct sl_kafka_setting *s = settings; s && s->key; s++) {
        if (!s->val)
            continue;
        if (rd_kafka_conf_set(conf, s->key, s->val, err, sizeof err) != RD_KAFKA_CONF_OK) {
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
