/*
 * diskbuf.h — a durable FIFO of records on disk: the segment log behind a sink's
 * `buffer: {type: disk}`.
 *
 * A buffer is a directory of segment files `seg-<id 16 hex>.log` (a 16-byte header
 * "SLDBSEG1" + u64 id, then records [u32 length][u32 check][payload], check = XXH3 of the
 * payload seeded with its length, truncated to 32 bits) and a read-pointer file `ack` (two
 * 32-byte slots written alternately, each with a sequence number and its own check, so a torn
 * write of one slot leaves the other). A `lock` file (flock) keeps a second process out.
 *
 * Delivery: a writer appends; a reader reads in order and gets a ticket per record; acks
 * (in any order, from any thread) advance the persisted read pointer over the longest
 * acknowledged prefix, and a segment whose records are all acknowledged is deleted. A nack
 * rewinds the reader to that record (it and everything after it are read again). After a
 * crash the reader starts after the last persisted ack: at-least-once, the duplicates being
 * records read but not yet acknowledged (or acknowledged after the pointer's last fsync).
 *
 * Durability: `always` fsyncs after each append; `batch` after `sync_every` appends or
 * `sync_bytes` bytes, and whenever the writer calls sl_diskbuf_sync() or begins one with
 * sl_diskbuf_sync_begin() to finish on another thread (the sinks' group commit);
 * `interval` when sl_diskbuf_sync_due() finds `sync_interval_ns` passed.
 * sl_diskbuf_unsynced() == 0 means every append so far is durable or being made so. The read
 * pointer is fsynced at most once a second (and at close): losing its last updates in a
 * crash only means duplicates.
 *
 * Recovery (open): every segment is scanned; a record that fails its check is skipped up to
 * the next record that passes (counted in `corrupt` and logged with segment and byte offset);
 * invalid bytes at the end of the last segment are a torn write and are truncated away. New
 * appends go to a new segment.
 *
 * Threads: one writer thread (append, sync, sync_due), one reader thread (read), acks and
 * nacks from any thread, stats from any thread. Open/close on one thread with no other call
 * running.
 */
#ifndef SL_STATE_DISKBUF_H
#define SL_STATE_DISKBUF_H

#include "base/err.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SL_DISKBUF_SYNCS(X)                                                                        \
    X(ALWAYS, "always")                                                                            \
    X(BATCH, "batch")                                                                              \
    X(INTERVAL, "interval")

enum sl_diskbuf_sync {
#define SL_DB_SYNC_ENUM(n, s) SL_DISKBUF_SYNC_##n,
    SL_DISKBUF_SYNCS(SL_DB_SYNC_ENUM)
#undef SL_DB_SYNC_ENUM
};

enum sl_diskbuf_full { SL_DISKBUF_BLOCK, SL_DISKBUF_DROP_NEWEST };

/* Fault injection for tests: the Nth data write / fsync from open fails with EIO (a write
 * fails after writing part of the record, like a full disk). 0: never. */
struct sl_diskbuf_faults {
    uint64_t fail_write_nth;
    uint64_t fail_fsync_nth;
};

struct sl_diskbuf_opts {
    const char *dir;           /* created if missing */
    const char *name;          /* for logs ("sink out") */
    uint64_t max_size;         /* bytes on disk; 0: 1 GiB */
    uint64_t segment_size;     /* 0: 64 MiB; clamped to [64 KiB, max_size / 4] */
    enum sl_diskbuf_sync sync; /* zero: always */
    uint32_t sync_every;       /* batch: appends per fsync; 0: 64 */
    uint64_t sync_bytes;       /* batch: bytes per fsync; 0: 8 MiB */
    int64_t sync_interval_ns;  /* interval: 0: 1 s */
    enum sl_diskbuf_full when_full;
    const struct sl_diskbuf_faults *faults; /* NULL in production */
};

struct sl_diskbuf_stats {
    uint64_t records;      /* appended and not yet acknowledged */
    uint64_t bytes;        /* their bytes (headers included) */
    uint64_t disk_bytes;   /* segment files on disk (what max_size limits) */
    uint64_t appended;     /* records appended since open */
    uint64_t acked;        /* records acknowledged since open */
    uint64_t dropped;      /* appends refused by when_full: drop_newest */
    uint64_t fsyncs;       /* fsync calls (data and pointer) */
    uint64_t corrupt;      /* corrupted regions skipped */
    uint64_t truncated;    /* torn-tail bytes removed at open */
    uint64_t segments;     /* segment files */
    uint64_t write_errors; /* failed writes and fsyncs */
    bool write_failing;    /* the last append failed to write (disk full); cleared by a success */
    int64_t recover_ns;    /* time open() took */
};

struct sl_diskbuf;

/* Open (or create) the buffer in o->dir and recover it. 0, or SL_EIO / SL_ESYS / SL_EEXIST
 * (another process holds it) / SL_ENOMEM with d set. */
int sl_diskbuf_open(const struct sl_diskbuf_opts *o, struct sl_diskbuf **out, struct sl_diag *d);
/* Persist the read pointer, close. Records not acknowledged stay for the next open. Tickets
 * still out are ignored from then on: close only when no ack can come any more. NULL: no-op. */
void sl_diskbuf_close(struct sl_diskbuf *db);

/* Writer thread. Append one record (1 byte .. max_size - 40; a record larger than a segment
 * is written alone in a segment of its own). When the buffer is full:
 * block waits up to wait_ns (-1: forever) for acks to make room, then SL_EAGAIN;
 * drop_newest counts a drop and returns SL_ELIMIT at once. SL_E2BIG: larger than
 * max_size allows. SL_EIO: the write failed (nothing of the record is kept). Under `always` the
 * record is durable on return; a failed fsync returns SL_EIO (the record may or may not
 * survive a crash: treat it as not durable). */
int sl_diskbuf_append(struct sl_diskbuf *db, const void *p, size_t n, int64_t wait_ns);
/* Writer thread. Appends not yet covered by an fsync. */
uint64_t sl_diskbuf_unsynced(const struct sl_diskbuf *db);
/* Writer thread. fsync what was appended (and the read pointer). 0 or SL_EIO: then the
 * unsynced appends must be treated as not durable; later appends go to a new segment. */
int sl_diskbuf_sync(struct sl_diskbuf *db);
/* Writer thread: start an fsync of everything appended so far without waiting for it (the
 * writer goes on appending): *fd gets a descriptor to hand to sl_diskbuf_sync_finish on
 * another thread, or -1 when nothing was unsynced (or it synced here, having no descriptor
 * to spare). Appends from now on count as unsynced again. 0 or SL_EIO. */
int sl_diskbuf_sync_begin(struct sl_diskbuf *db, int *fd);
/* Any thread: wait for the fsync begun with fd (-1: none) and close fd. 0, or SL_EIO: the
 * appends it covered must be treated as not durable; later appends go to a new segment. */
int sl_diskbuf_sync_finish(struct sl_diskbuf *db, int fd);
/* Writer thread. Sync when the policy says so at now_ns (interval passed, batch thresholds).
 * Returns as sl_diskbuf_sync(), 0 when nothing was due. *next_ns (may be NULL) gets when to
 * call again (interval policy), else INT64_MAX. */
int sl_diskbuf_sync_due(struct sl_diskbuf *db, int64_t now_ns, int64_t *next_ns);

/* Reader thread. The next record: *p (sl_malloc'd, the caller frees with sl_free), *n, and
 * *ticket for sl_diskbuf_ack. Waits up to wait_ns (-1 forever, 0 not at all) for one.
 * SL_EAGAIN: nothing to read (or too many records out unacknowledged); SL_ENOMEM; SL_EIO. */
int sl_diskbuf_read(struct sl_diskbuf *db, void **p, size_t *n, uint64_t *ticket, int64_t wait_ns);
/* Wake a reader waiting in sl_diskbuf_read (it returns SL_EAGAIN). Any thread. */
void sl_diskbuf_wake(struct sl_diskbuf *db);
/* Any thread. The record is delivered (ok) or must be read again (!ok: the reader rewinds to
 * it). Stale tickets (from before a rewind or a close) are ignored. */
void sl_diskbuf_ack(struct sl_diskbuf *db, uint64_t ticket, bool ok);

void sl_diskbuf_stats(struct sl_diskbuf *db, struct sl_diskbuf_stats *s);
/* Name of a sync policy ("batch"); index from the X-macro. */
const char *sl_diskbuf_sync_name(enum sl_diskbuf_sync s);

#endif
