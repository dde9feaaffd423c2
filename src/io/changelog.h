/*
 * changelog.h — checkpoints of partition-scoped state in a compacted Kafka topic, for the
 * stages that keep state per input partition (the profiler; docs/cluster.md "State and
 * takeover").
 *
 * DESIGN: one record set per state key ("<input topic>/<partition>"): the payload cut into
 * chunks under "<key>#<generation % 2>.<index>", then a header under "<key>" naming the
 * generation (state/statecodec.h: a crash while writing leaves the previous generation whole).
 * Every record of a key goes to one changelog partition (the input partition modulo the
 * changelog's partition count), so a restore reads only that partition, from its start to its
 * end, with a consumer of its own (no group); the topic is created with cleanup.policy=compact
 * when it does not exist, so Kafka keeps the newest record of each key. A write returns once the
 * brokers acknowledged every record of it (idempotent producer, acks=all).
 *
 * Threads: every function may be called from any thread; calls are serialised by the
 * changelog's lock (one write or restore at a time).
 */
#ifndef SL_IO_CHANGELOG_H
#define SL_IO_CHANGELOG_H

#include "base/err.h"
#include "core/component.h"
#include "core/partstate.h"

#include <stddef.h>
#include <stdint.h>

struct sl_changelog;

/* Connect to `brokers` and make sure `topic` exists (created compacted with `partitions`
 * partitions when absent). Logs go out as component c. */
int sl_changelog_open(struct sl_component *c, const char *brokers, const char *topic,
                      int partitions, struct sl_changelog **out, struct sl_diag *d);
/* Open the changelog a stage's `changelog:` option map names: brokers (default pp's), topic
 * (default "<pp's group>-<component>-changelog"), partitions (default 6), for the partition pp
 * being assigned. The topic's name goes to topic (for the caller's error line). */
int sl_changelog_open_opt(struct sl_component *c, const struct sl_strmap *opt,
                          const struct sl_partstate_part *pp, char *topic, size_t topic_cap,
                          struct sl_changelog **out, struct sl_diag *d);
/* The changelog key of an input partition: "<topic>/<partition>". */
void sl_changelog_key(char *key, size_t cap, uint32_t topic_id, int32_t partition);
void sl_changelog_close(struct sl_changelog *cl);
const char *sl_changelog_topic(const struct sl_changelog *cl);

/* Write generation `generation` of key's state (len bytes) for input partition `partition`.
 * 0 once every record is acknowledged; SL_EIO (d says why) or SL_ETIMEDOUT otherwise: the
 * previous generation then stays the one a restore reads. */
int sl_changelog_write(struct sl_changelog *cl, const char *key, int32_t partition,
                       uint64_t generation, const void *data, size_t len, struct sl_diag *d);

/* The newest complete state of key: *out (heap, sl_free) and *len, its generation in
 * *generation. SL_ENOENT when the changelog has none; SL_EPARSE when the records are corrupt
 * (d says which); SL_EIO / SL_ETIMEDOUT when the cluster could not be read. */
int sl_changelog_read(struct sl_changelog *cl, const char *key, int32_t partition, void **out,
                      size_t *len, uint64_t *generation, struct sl_diag *d);

#endif
