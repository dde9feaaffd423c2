/*
 * cluster.h — the nodes that share a `cluster:` section (docs/cluster.md): each publishes its
 * status (its consumer groups' partitions, its API address) to a compacted topic and reads the
 * others', for /api/v1/cluster. Partition ownership itself is Kafka's group protocol.
 */
#ifndef SL_IO_CLUSTER_H
#define SL_IO_CLUSTER_H

#include "base/buf.h"
#include "core/config.h"

struct sl_cluster;

/* Start publishing and reading statuses (a thread of its own). NULL with d on error. Also
 * becomes sl_cluster_default(). Main thread. */
struct sl_cluster *sl_cluster_start(const struct sl_config_cluster *cc, const char *api_listen,
                                    struct sl_diag *d);
/* Publish "left", stop and free (NULL: no-op). Main thread. */
void sl_cluster_stop(struct sl_cluster *cl);
/* The running one, NULL without a cluster section. */
struct sl_cluster *sl_cluster_default(void);
/* {"node_id", "group", "local": this node's status, "members": [{node_id, alive,
 * seen_ms_ago, status}...]} */
void sl_cluster_json(struct sl_cluster *cl, struct sl_buf *out);

#endif
