/*
 * sinkbuf.h — what sits between a sink's queue and its write(): the `buffer:` option.
 *
 *   buffer: {type: memory}   the bounded queue of queue_batches batches (the default)
 *   buffer: {type: disk, path: DIR, max_size: 1GiB, when_full: block|drop_newest,
 *            sync: always|batch|interval, sync_interval: 1s, sync_every: 64,
 *            segment_size: 64MiB, drain_timeout: 10s}
 *
 * With a disk buffer the sink has two threads. The buffer's writer pops the sink's queue,
 * appends each batch to a segment log and releases the batch's upstream delivery hold once
 * the record is durable per `sync` (so a Kafka, AMQP or file source commits as soon as the
 * data is safe on disk, whether or not the target is up). The sink's own thread reads the
 * log in order, calls write(), and acknowledges a record when the batch's token is done: at
 * once for sinks durable at write(), later for sinks that take sl_sink_hold() (delivery
 * reports). A failed write (or a failed token) rewinds the reader to that record and retries
 * with back-off (100 ms doubling to 5 s): nothing is dropped while the target is down, and
 * other sinks keep flowing because their queues are not held back. On restart the records
 * left in the log are delivered first. At shutdown the reader keeps delivering for at most
 * `drain_timeout` after the input ends; what is left stays in the log for the next run.
 *
 * DESIGN: core owns the threads and the delivery logic; the store (segment log + binary
 * codec) lives in higher layers (state/diskbuf, codec/evbin) and is installed at start-up
 * through sl_sinkbuf_set_store(), the way component types are (io/sinkbuf_disk.c).
 */
#ifndef SL_CORE_SINKBUF_H
#define SL_CORE_SINKBUF_H

#include "base/err.h"
#include "core/component.h"
#include "core/event.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum sl_sinkbuf_type { SL_SINKBUF_MEMORY, SL_SINKBUF_DISK };

/* Parsed `buffer:` of a sink (core/config.c). Indexes of the enums follow the choices:
 * when_full "block|drop_newest", sync "always|batch|interval". */
struct sl_sinkbuf_conf {
    int type;                 /* enum sl_sinkbuf_type */
    char *path;               /* NULL: <config dir>/sluice-data/buffer-<sink name> */
    uint64_t max_size;        /* 1 GiB */
    int when_full;            /* 0 block, 1 drop_newest */
    int sync;                 /* 0 always, 1 batch, 2 interval */
    int64_t sync_interval_ns; /* 1 s */
    int64_t sync_every;       /* batch: appends per fsync at most (64) */
    uint64_t segment_size;    /* 64 MiB */
    int64_t drain_timeout_ns; /* 10 s */
    uint32_t line, col;       /* the `buffer` key, 0 when absent */
};

struct sl_sinkbuf_stats {
    uint64_t records, bytes, disk_bytes, dropped, fsyncs, corrupt, write_errors, appended, acked;
    bool write_failing; /* appends fail now (disk full): input held back */
};

/* Metrics sl_sinkbuf_metrics() appends at most. */
#define SL_SINKBUF_STATS_MAX 9

/*
 * A durable store of batches (io/sinkbuf_disk.c). append/unsynced/sync/sync_due run on the
 * buffer's writer thread, read on the sink's thread, ack and wake on any thread.
 *   append: 0; SL_EAGAIN full (block, after wait_ns); SL_ELIMIT dropped (drop_newest);
 *           SL_EIO (retry later); SL_ETYPE / SL_E2BIG (this batch can never be stored).
 *   read:   0 with a new batch (one reference) and its ticket; SL_EAGAIN nothing after
 *           wait_ns; SL_EPARSE a record that does not decode (ticket set: ack it).
 */
struct sl_sinkbuf_store_ops {
    int (*open)(const struct sl_sinkbuf_conf *conf, const char *dir, const char *name, void **st,
                struct sl_diag *d);
    void (*close)(void *st);
    int (*append)(void *st, const struct sl_batch *b, int64_t wait_ns);
    uint64_t (*unsynced)(void *st);
    int (*sync)(void *st);
    int (*sync_due)(void *st, int64_t now_ns, int64_t *next_ns);
    /* an fsync in two halves: begin on the writer thread (*fd, or -1 for nothing), finish
     * (wait, close fd) on another, so appends go on meanwhile */
    int (*sync_begin)(void *st, int *fd);
    int (*sync_finish)(void *st, int fd);
    int (*read)(void *st, struct sl_batch **out, uint64_t *ticket, int64_t wait_ns);
    void (*wake)(void *st);
    void (*ack)(void *st, uint64_t ticket, bool ok);
    void (*stats)(void *st, struct sl_sinkbuf_stats *s);
};

/* Install the disk store (once, at start-up, before pipelines are built). Without one, a
 * `buffer: {type: disk}` is a configuration error. */
void sl_sinkbuf_set_store(const struct sl_sinkbuf_store_ops *ops);
const struct sl_sinkbuf_store_ops *sl_sinkbuf_store(void);

struct sl_sinkbuf;
struct sl_queue;

/* Open the disk buffer of sink c (conf->type must be DISK); config_path locates the default
 * directory. 0 or an error with d set (the caller adds file:line:col). */
int sl_sinkbuf_open(struct sl_component *c, const struct sl_sinkbuf_conf *conf,
                    const char *config_path, struct sl_sinkbuf **out, struct sl_diag *d);
/* Close after the sink's fini (late delivery reports may still ack). NULL: no-op. */
void sl_sinkbuf_close(struct sl_sinkbuf *sb);

/* The sink thread's loop with a disk buffer: starts the writer thread on q, delivers the log
 * through write_fn (returns write()'s result; it unrefs the batch) and calls flush_fn every
 * flush_interval_ns and on SL_BATCH_FLUSH; returns once q is closed and drained and the log
 * is delivered, or drain_timeout after q closed. */
void sl_sinkbuf_run(struct sl_sinkbuf *sb, struct sl_queue *q,
                    int (*write_fn)(void *arg, struct sl_batch *b), void (*flush_fn)(void *arg),
                    void *arg, int64_t flush_interval_ns);

/* The pipeline closed the sink's queue (shutdown or end of input): drain_timeout starts.
 * Any thread; NULL: no-op. */
void sl_sinkbuf_input_closed(struct sl_sinkbuf *sb);

/* Metrics of the buffer (sluice_buffer_*), appended to out; returns how many (at most
 * SL_SINKBUF_STATS_MAX). */
size_t sl_sinkbuf_metrics(struct sl_sinkbuf *sb, struct sl_comp_stat *out);

#endif
