/*
 * sinkbuf_disk.c — the store behind `buffer: {type: disk}`: batches encoded with
 * codec/evbin into records of a state/diskbuf segment log (core/sinkbuf.h drives it).
 *
 * One record per batch that leaves the sink's queue (about a thousand events), so the
 * per-record costs (header, checksum, ticket, ack) are paid per batch, not per event.
 */
#include "io/sinkbuf_disk.h"

#include "base/alloc.h"
#include "base/clock.h"
#include "base/log.h"
#include "base/outage.h"
#include "codec/evbin.h"
#include "state/diskbuf.h"

#include <string.h>

struct store {
    struct sl_diskbuf *db;
    struct sl_buf enc; /* writer thread: encoding scratch, reused */
    char *name;
    struct sl_outage enc_fail; /* writer thread: encoding out of memory (retried) */
};

static int d_open(const struct sl_sinkbuf_conf *conf, const char *dir, const char *name, void **st,
                  struct sl_diag *d)
{
    struct sl_diskbuf_opts o = {
        .dir = dir,
        .name = name,
        .max_size = conf->max_size,
        .segment_size = conf->segment_size,
        .sync = conf->sync == 0   ? SL_DISKBUF_SYNC_ALWAYS
                : conf->sync == 2 ? SL_DISKBUF_SYNC_INTERVAL
                                  : SL_DISKBUF_SYNC_BATCH,
        /* batch: the sink's writer commits groups itself (sync_begin/finish, off its
         * thread); the log's own thresholds would fsync on the writer thread */
        .sync_every = conf->sync == 1 ? UINT32_MAX : 0,
        .sync_bytes = conf->sync == 1 ? UINT64_MAX : 0,
        .sync_interval_ns = conf->sync_interval_ns,
        .when_full = conf->when_full == 1 ? SL_DISKBUF_DROP_NEWEST : SL_DISKBUF_BLOCK,
    };
    struct store *s = sl_xcalloc(1, sizeof(*s));
    int rc = sl_diskbuf_open(&o, &s->db, d);
    if (rc) {
        sl_free(s);
        return rc;
    }
    /* a record must fit a segment: the log refuses larger ones with SL_E2BIG */
    sl_buf_init(&s->enc, (size_t)2 << 30);
    s->name = sl_xstrdup(name);
    *st = s;
    return 0;
}

static void d_close(void *st)
{
    struct store *s = st;
    sl_diskbuf_close(s->db);
    sl_buf_fini(&s->enc);
    sl_free(s->name);
    sl_free(s);
}

static int d_append(void *st, const struct sl_batch *b, int64_t wait_ns)
{
    struct store *s = st;
    sl_buf_reset(&s->enc);
    int rc = sl_evbin_encode(b, &s->enc);
    if (rc == SL_ENOMEM) { /* retried like a failed write; said once per episode */
        if (sl_outage_fail(&s->enc_fail, sl_clock_mono_ns()))
            sl_error(s->name,
                     "disk buffer: out of memory encoding a batch of %u events; input held back "
                     "and retried",
                     b->count);
        return SL_EIO;
    }
    if (rc)
        return rc;
    if (sl_outage_ok(&s->enc_fail, sl_clock_mono_ns(), NULL, NULL))
        sl_info(s->name, "disk buffer: encoding batches works again");
    rc = sl_diskbuf_append(s->db, s->enc.ptr, s->enc.len, wait_ns);
    if (s->enc.cap > ((size_t)8 << 20)) { /* do not keep a huge scratch after a huge batch */
        sl_buf_fini(&s->enc);
        sl_buf_init(&s->enc, (size_t)2 << 30);
    }
    return rc;
}

static uint64_t d_unsynced(void *st)
{
    return sl_diskbuf_unsynced(((struct store *)st)->db);
}

static int d_sync(void *st)
{
    return sl_diskbuf_sync(((struct store *)st)->db);
}

static int d_sync_due(void *st, int64_t now_ns, int64_t *next_ns)
{
    return sl_diskbuf_sync_due(((struct store *)st)->db, now_ns, next_ns);
}

static int d_sync_begin(void *st, int *fd)
{
    return sl_diskbuf_sync_begin(((struct store *)st)->db, fd);
}

static int d_sync_finish(void *st, int fd)
{
    return sl_diskbuf_sync_finish(((struct store *)st)->db, fd);
}

static int d_read(void *st, struct sl_batch **out, uint64_t *ticket, int64_t wait_ns)
{
    struct store *s = st;
    void *p;
    size_t n;
    int rc = sl_diskbuf_read(s->db, &p, &n, ticket, wait_ns);
    if (rc)
        return rc;
    struct sl_batch *b = sl_batch_new();
    /* the batch owns the record; its strings point into it (no copy per string) */
    rc = sl_batch_adopt(b, p);
    if (rc == 0)
        rc = sl_evbin_decode_view(p, n, b, NULL);
    if (rc) {
        sl_batch_unref(b);
        if (rc == SL_ENOMEM) {
            sl_diskbuf_ack(s->db, *ticket, false); /* read it again later */
            return SL_ENOMEM;
        }
        return SL_EPARSE;
    }
    *out = b;
    return 0;
}

static void d_wake(void *st)
{
    sl_diskbuf_wake(((struct store *)st)->db);
}

static void d_ack(void *st, uint64_t ticket, bool ok)
{
    sl_diskbuf_ack(((struct store *)st)->db, ticket, ok);
}

static void d_stats(void *st, struct sl_sinkbuf_stats *out)
{
    struct sl_diskbuf_stats s;
    sl_diskbuf_stats(((struct store *)st)->db, &s);
    out->records = s.records;
    out->bytes = s.bytes;
    out->disk_bytes = s.disk_bytes;
    out->dropped = s.dropped;
    out->fsyncs = s.fsyncs;
    out->corrupt = s.corrupt;
    out->write_errors = s.write_errors;
    out->appended = s.appended;
    out->acked = s.acked;
    out->write_failing = s.write_failing;
}

const struct sl_sinkbuf_store_ops sl_io_sinkbuf_disk = {
    .open = d_open,
    .close = d_close,
    .append = d_append,
    .unsynced = d_unsynced,
    .sync = d_sync,
    .sync_due = d_sync_due,
    .sync_begin = d_sync_begin,
    .sync_finish = d_sync_finish,
    .read = d_read,
    .wake = d_wake,
    .ack = d_ack,
    .stats = d_stats,
};
