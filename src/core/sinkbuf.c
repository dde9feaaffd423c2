/*
 * sinkbuf.c — disk buffers between a sink's queue and its write() (see sinkbuf.h).
 *
 * Threads: the buffer's writer ("sl-b-<sink>") owns the store's append side and the list of
 * upstream holds waiting for an fsync; the sink's thread (sl_sinkbuf_run) owns the read side
 * and calls write()/flush(). They share only the store (which locks itself) and a few atomics.
 *
 * DESIGN: `batch` durability is a group commit: the writer fsyncs when its queue runs empty
 * (or after sync_every appends), so a busy sink pays one fsync per burst and an idle one
 * never keeps a source waiting. Holds are released only after the fsync that covers them; a
 * failed fsync releases them as failed (the source may replay: duplicates, never a loss).
 */
#include "core/sinkbuf.h"

#include "base/alloc.h"
#include "base/clock.h"
#include "base/log.h"
#include "sys/queue.h"
#include "sys/thread.h"

#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

static const struct sl_sinkbuf_store_ops *g_store;

void sl_sinkbuf_set_store(const struct sl_sinkbuf_store_ops *ops)
{
    g_store = ops;
}

const struct sl_sinkbuf_store_ops *sl_sinkbuf_store(void)
{
    return g_store;
}

struct sl_sinkbuf {
    const struct sl_sinkbuf_store_ops *ops;
    void *st;
    struct sl_component *c;
    struct sl_sinkbuf_conf conf;
    struct sl_queue *q;
    struct sl_thread writer;
    atomic_bool writer_done;
    atomic_bool input_closed; /* the pipeline closed the sink's queue */
    atomic_bool abandon;      /* the reader gave up (drain_timeout): fail what cannot be stored */
    atomic_bool flush_req;
    /* writer thread: holds waiting for the next fsync */
    struct sl_ack **holds;
    size_t nholds, cap_holds;
    /* group commits in flight on the syncer thread (batch) */
    struct sl_thread syncer;
    struct sl_mutex slock;
    struct sl_cond scond;   /* guarded_by: slock — busy or quit changed */
    int sync_fd;            /* guarded_by: slock */
    struct sl_ack **sholds; /* guarded_by: slock — the holds the fsync in flight covers */
    size_t nsholds, cap_sholds;
    bool busy, quit; /* guarded_by: slock */
    struct sl_log_limit lim;
    struct sl_mutex lim_lock;
};

/* One delivery from the log: the token of the batch handed to write(). */
struct delivery {
    struct sl_ack ack;
    struct sl_sinkbuf *sb;
    uint64_t ticket;
};

static void sleep_ns(int64_t ns)
{
    if (ns <= 0)
        return;
    struct timespec ts = {(time_t)(ns / 1000000000), (long)(ns % 1000000000)};
    nanosleep(&ts, NULL);
}

int sl_sinkbuf_open(struct sl_component *c, const struct sl_sinkbuf_conf *conf,
                    const char *config_path, struct sl_sinkbuf **out, struct sl_diag *d)
{
    if (!g_store) {
        sl_diag_hint(d, "this program was built without disk buffers; use buffer: {type: "
                        "memory}");
        return sl_diag_set(d, SL_ECONFIG, "sink '%s': disk buffers are not available", c->name);
    }
    char dir[4096];
    if (conf->path) {
        snprintf(dir, sizeof dir, "%s", conf->path);
    } else {
        const char *slash = config_path ? strrchr(config_path, '/') : NULL;
        int n = slash ? (int)(slash - config_path) : 1;
        snprintf(dir, sizeof dir, "%.*s/sluice-data/buffer-%s", n, slash ? config_path : ".",
                 c->name);
    }
    struct sl_sinkbuf *sb = sl_xcalloc(1, sizeof(*sb));
    sb->ops = g_store;
    sb->c = c;
    sb->conf = *conf;
    sb->conf.path = NULL; /* not owned here */
    sl_mutex_init(&sb->lim_lock);
    sl_mutex_init(&sb->slock);
    sl_cond_init(&sb->scond);
    int rc = g_store->open(conf, dir, c->name, &sb->st, d);
    if (rc) {
        sl_cond_fini(&sb->scond);
        sl_mutex_fini(&sb->slock);
        sl_mutex_fini(&sb->lim_lock);
        sl_free(sb);
        return rc;
    }
    *out = sb;
    return 0;
}

void sl_sinkbuf_close(struct sl_sinkbuf *sb)
{
    if (!sb)
        return;
    struct sl_sinkbuf_stats s;
    memset(&s, 0, sizeof s);
    sb->ops->stats(sb->st, &s);
    sl_info(sb->c->name,
            "disk buffer closed: %llu batches appended, %llu delivered, %llu fsyncs, %llu left "
            "(%llu bytes), %llu dropped",
            (unsigned long long)s.appended, (unsigned long long)s.acked,
            (unsigned long long)s.fsyncs, (unsigned long long)s.records,
            (unsigned long long)s.bytes, (unsigned long long)s.dropped);
    sb->ops->close(sb->st);
    sl_free(sb->holds);
    sl_free(sb->sholds);
    sl_cond_fini(&sb->scond);
    sl_mutex_fini(&sb->slock);
    sl_mutex_fini(&sb->lim_lock);
    sl_free(sb);
}

size_t sl_sinkbuf_metrics(struct sl_sinkbuf *sb, struct sl_comp_stat *out)
{
    struct sl_sinkbuf_stats s;
    memset(&s, 0, sizeof s);
    sb->ops->stats(sb->st, &s);
    size_t n = 0;
    out[n++] = (struct sl_comp_stat){"sluice_buffer_records",
                                     "Records (batches) in a sink's disk buffer not yet delivered.",
                                     true, (double)s.records};
    out[n++] = (struct sl_comp_stat){"sluice_buffer_bytes",
                                     "Bytes of those records in a sink's disk buffer.", true,
                                     (double)s.bytes};
    out[n++] = (struct sl_comp_stat){"sluice_buffer_disk_bytes",
                                     "Bytes of a disk buffer's segment files (max_size limits it).",
                                     true, (double)s.disk_bytes};
    out[n++] = (struct sl_comp_stat){"sluice_buffer_dropped_total",
                                     "Batches refused by a full disk buffer (when_full: "
                                     "drop_newest).",
                                     false, (double)s.dropped};
    out[n++] = (struct sl_comp_stat){"sluice_buffer_fsyncs_total", "fsync calls of a disk buffer.",
                                     false, (double)s.fsyncs};
    out[n++] = (struct sl_comp_stat){"sluice_buffer_corrupt_total",
                                     "Corrupted regions of a disk buffer skipped at recovery.",
                                     false, (double)s.corrupt};
    out[n++] = (struct sl_comp_stat){"sluice_buffer_write_errors_total",
                                     "Failed writes and fsyncs of a disk buffer.", false,
                                     (double)s.write_errors};
    out[n++] =
        (struct sl_comp_stat){"sluice_buffer_appended_total", "Batches appended to a disk buffer.",
                              false, (double)s.appended};
    out[n++] = (struct sl_comp_stat){"sluice_buffer_write_failing",
                                     "1 while a disk buffer cannot write (disk full): input is "
                                     "held back and retried.",
                                     true, (double)s.write_failing};
    return n;
}

/* ---------------------------------------------------------------- writer thread */

static void release_holds(struct sl_sinkbuf *sb, bool ok)
{
    for (size_t i = 0; i < sb->nholds; i++)
        sl_ack_release(sb->holds[i], ok);
    sb->nholds = 0;
}

static void sync_now(struct sl_sinkbuf *sb)
{
    bool ok = sb->ops->sync(sb->st) == 0;
    release_holds(sb, ok);
}

/* Store one batch; consumes b. Retries while the disk fails (space may come back) or the
 * buffer is full under `block`, until the reader abandons at shutdown. */
static void store_batch(struct sl_sinkbuf *sb, struct sl_batch *b)
{
    struct sl_component *c = sb->c;
    int64_t backoff = 100000000;
    for (;;) {
        int rc = sb->ops->append(sb->st, b, atomic_load(&sb->abandon) ? 0 : 100000000);
        if (rc == 0) {
            if (b->ack) {
                sl_ack_hold(b->ack);
                if (sb->nholds == sb->cap_holds) {
                    sb->cap_holds = sb->cap_holds ? sb->cap_holds * 2 : 64;
                    sb->holds = sl_xrealloc(sb->holds, sb->cap_holds * sizeof(*sb->holds));
                }
                sb->holds[sb->nholds++] = b->ack;
            }
            if (sb->ops->unsynced(sb->st) == 0)
                release_holds(sb, true); /* the append synced (always, or batch thresholds) */
            break;
        }
        if (rc == SL_ELIMIT) { /* drop_newest: the user's choice, counted and logged */
            atomic_fetch_add_explicit(&c->m.dropped, b->count, memory_order_relaxed);
            sl_mutex_lock(&sb->lim_lock);
            sl_log_ratelimited(&sb->lim, 1, SL_LOG_WARN, c->name,
                               "disk buffer full: %u events dropped (when_full: drop_newest)",
                               b->count);
            sl_mutex_unlock(&sb->lim_lock);
            break;
        }
        if (rc == SL_EAGAIN && !atomic_load(&sb->abandon))
            continue; /* block: the reader's acks make room */
        if (rc == SL_EIO && !atomic_load(&sb->abandon)) {
            /* the store logged it (with the path and the reason, once per episode) and
             * counts it (sluice_buffer_write_errors_total, sluice_buffer_write_failing) */
            sleep_ns(backoff);
            backoff = backoff < 2000000000 ? backoff * 2 : backoff;
            continue;
        }
        if (rc == SL_E2BIG && b->count > 1) {
            /* larger than max_size allows: store it in halves (each takes its own hold) */
            uint32_t half = b->count / 2;
            for (int k = 0; k < 2; k++) {
                struct sl_batch *h = sl_batch_new();
                sl_batch_ref(b);
                h->parent = b; /* the events' memory */
                uint32_t from = k ? half : 0, to = k ? b->count : half;
                h->bytes = k ? b->bytes - b->bytes / 2 : b->bytes / 2;
                bool ok = true;
                for (uint32_t i = from; i < to && ok; i++) {
                    struct sl_event *ev = sl_batch_push(h);
                    if (ev)
                        *ev = b->events[i];
                    ok = ev != NULL;
                }
                if (!ok) {
                    atomic_fetch_add_explicit(&c->m.errors, to - from, memory_order_relaxed);
                    sl_ack_fail(b->ack);
                    sl_error(c->name, "disk buffer: out of memory splitting a batch");
                    sl_batch_unref(h);
                    continue;
                }
                if (b->ack)
                    sl_batch_set_ack(h, b->ack);
                store_batch(sb, h);
            }
            break;
        }
        /* can never be stored (an object value, one event larger than max_size allows), or
         * the reader gave up at shutdown: not delivered, the source decides */
        atomic_fetch_add_explicit(&c->m.errors, b->count, memory_order_relaxed);
        sl_ack_fail(b->ack);
        sl_error(c->name, "disk buffer: %u events not buffered: %s", b->count, sl_strerror(rc));
        break;
    }
    sl_batch_unref(b);
}

/* The syncer thread: runs the fsync the writer began and releases the holds it covers. */
static void *syncer_main(void *arg)
{
    struct sl_sinkbuf *sb = arg;
    sl_mutex_lock(&sb->slock);
    for (;;) {
        while (!sb->busy && !sb->quit)
            sl_cond_wait(&sb->scond, &sb->slock);
        if (!sb->busy)
            break;
        int fd = sb->sync_fd;
        struct sl_ack **h = sb->sholds;
        size_t n = sb->nsholds;
        sl_mutex_unlock(&sb->slock);
        bool ok = sb->ops->sync_finish(sb->st, fd) == 0;
        for (size_t i = 0; i < n; i++)
            sl_ack_release(h[i], ok);
        sl_mutex_lock(&sb->slock);
        sb->nsholds = 0;
        sb->busy = false;
        sl_cond_broadcast(&sb->scond);
    }
    sl_mutex_unlock(&sb->slock);
    return NULL;
}

/* Writer thread: hand the unsynced appends and their holds to the syncer. False when a
 * commit is still in flight (the next one starts after it). */
static bool group_commit(struct sl_sinkbuf *sb)
{
    sl_mutex_lock(&sb->slock);
    if (sb->busy) {
        sl_mutex_unlock(&sb->slock);
        return false;
    }
    int fd = -1;
    int rc = sb->ops->sync_begin(sb->st, &fd);
    if (rc || fd < 0) {
        sl_mutex_unlock(&sb->slock);
        release_holds(sb, rc == 0); /* synced here, or failed */
        return true;
    }
    struct sl_ack **t = sb->sholds;
    size_t tcap = sb->cap_sholds;
    sb->sholds = sb->holds;
    sb->cap_sholds = sb->cap_holds;
    sb->nsholds = sb->nholds;
    sb->holds = t;
    sb->cap_holds = tcap;
    sb->nholds = 0;
    sb->sync_fd = fd;
    sb->busy = true;
    sl_cond_broadcast(&sb->scond);
    sl_mutex_unlock(&sb->slock);
    return true;
}

/* Writer thread: wait for the commit in flight. */
static void commit_wait(struct sl_sinkbuf *sb)
{
    sl_mutex_lock(&sb->slock);
    while (sb->busy)
        sl_cond_wait(&sb->scond, &sb->slock);
    sl_mutex_unlock(&sb->slock);
}

/* `batch`: appends wait at most this long for their group's fsync. Syncing whenever the
 * queue ran dry cost one fsync every few batches under load (500/s, the writer blocked in
 * fdatasync most of the time: bench/bench_diskbuf.sh); a 10 ms window makes it at most 100/s
 * and adds at most 10 ms before a source's acknowledgement. */
#define GROUP_COMMIT_NS 10000000

static void *writer_main(void *arg)
{
    struct sl_sinkbuf *sb = arg;
    int64_t next_due = INT64_MAX, first_unsynced = 0;
    for (;;) {
        void *item;
        int64_t now = sl_clock_mono_ns();
        int64_t until = next_due;
        if (first_unsynced && first_unsynced + GROUP_COMMIT_NS < until)
            until = first_unsynced + GROUP_COMMIT_NS;
        int64_t wait = until == INT64_MAX ? 200000000 : until - now;
        if (wait > 200000000)
            wait = 200000000;
        int rc = sl_queue_pop(sb->q, &item, wait > 0 ? wait : 0);
        if (rc == SL_ECLOSED)
            break;
        if (rc == 0) {
            struct sl_batch *b = item;
            if (b->flags & SL_BATCH_FLUSH) {
                /* a source waits for its acks (a Kafka rebalance): make them durable now */
                commit_wait(sb);
                if (sb->ops->unsynced(sb->st) || sb->nholds)
                    sync_now(sb);
                atomic_store(&sb->flush_req, true);
                sb->ops->wake(sb->st);
                sl_batch_unref(b);
            } else {
                store_batch(sb, b);
            }
        }
        now = sl_clock_mono_ns();
        if (sb->ops->sync_due(sb->st, now, &next_due) != 0)
            release_holds(sb, false);
        else if (sb->ops->unsynced(sb->st) == 0)
            release_holds(sb, true);
        if (sb->ops->unsynced(sb->st) == 0) {
            first_unsynced = 0;
        } else {
            if (!first_unsynced)
                first_unsynced = now;
            /* batch: group commit (on the syncer thread) once the window closed or
             * sync_every appends wait, or when the queue ran dry and half the window went */
            if (sb->conf.sync == 1 &&
                (now - first_unsynced >= GROUP_COMMIT_NS ||
                 (int64_t)sb->ops->unsynced(sb->st) >= sb->conf.sync_every ||
                 (sl_queue_count(sb->q) == 0 && now - first_unsynced >= GROUP_COMMIT_NS / 2)) &&
                group_commit(sb))
                first_unsynced = 0;
        }
    }
    commit_wait(sb);
    sync_now(sb);
    atomic_store(&sb->writer_done, true);
    sb->ops->wake(sb->st);
    return NULL;
}

/* ---------------------------------------------------------------- sink thread */

static void delivered(void *arg)
{
    struct delivery *dl = arg;
    dl->sb->ops->ack(dl->sb->st, dl->ticket, !sl_ack_failed(&dl->ack));
    sl_free(dl);
}

void sl_sinkbuf_input_closed(struct sl_sinkbuf *sb)
{
    if (!sb)
        return;
    atomic_store(&sb->input_closed, true);
    sb->ops->wake(sb->st);
}

void sl_sinkbuf_run(struct sl_sinkbuf *sb, struct sl_queue *q,
                    int (*write_fn)(void *arg, struct sl_batch *b), void (*flush_fn)(void *arg),
                    void *arg, int64_t flush_interval_ns)
{
    struct sl_component *c = sb->c;
    sb->q = q;
    char name[16];
    snprintf(name, sizeof(name), "sl-s-%s", c->name);
    sl_assert(sl_thread_start(&sb->syncer, name, syncer_main, sb) == 0);
    snprintf(name, sizeof(name), "sl-b-%s", c->name);
    sl_assert(sl_thread_start(&sb->writer, name, writer_main, sb) == 0);
    int64_t next_flush = sl_clock_mono_ns() + flush_interval_ns;
    int64_t deadline = INT64_MAX, backoff = 0;
    struct sl_log_limit lim = {0};
    for (;;) {
        int64_t now = sl_clock_mono_ns();
        if (deadline == INT64_MAX && atomic_load(&sb->input_closed))
            deadline = now + (sb->conf.drain_timeout_ns > 0 ? sb->conf.drain_timeout_ns : 0);
        if (atomic_exchange(&sb->flush_req, false) || now >= next_flush) {
            flush_fn(arg);
            next_flush = sl_clock_mono_ns() + flush_interval_ns;
        }
        struct sl_sinkbuf_stats s;
        bool wdone = atomic_load(&sb->writer_done);
        sb->ops->stats(sb->st, &s);
        if (wdone && s.records == 0)
            break; /* everything delivered (and acknowledged) */
        if (now >= deadline) {
            /* what the writer still holds is failed back to its sources; the log keeps
             * the rest for the next run */
            atomic_store(&sb->abandon, true);
            sb->ops->wake(sb->st);
            if (wdone) {
                sl_warn(c->name, "shutdown: %llu batches stay in the disk buffer for the next run",
                        (unsigned long long)s.records);
                break;
            }
            sleep_ns(20000000);
            continue;
        }
        if (backoff) {
            int64_t until = now + backoff;
            if (until > deadline)
                until = deadline;
            /* once input ended, retry at least every 500 ms within drain_timeout */
            for (int64_t t = sl_clock_mono_ns(); t < until; t = sl_clock_mono_ns()) {
                if (atomic_load(&sb->input_closed) && until > t + 500000000)
                    until = t + 500000000;
                sleep_ns(20000000);
            }
        }
        int64_t wait = next_flush - sl_clock_mono_ns();
        if (wait > 100000000)
            wait = 100000000;
        struct sl_batch *b = NULL;
        uint64_t ticket = 0;
        int rc = sb->ops->read(sb->st, &b, &ticket, wait > 0 ? wait : 0);
        if (rc == SL_EAGAIN)
            continue;
        if (rc == SL_EPARSE) { /* passed its checksum but does not decode: not retried */
            atomic_fetch_add_explicit(&c->m.errors, 1, memory_order_relaxed);
            sl_log_ratelimited(&lim, 1, SL_LOG_ERROR, c->name,
                               "disk buffer: a record does not decode; skipped");
            sb->ops->ack(sb->st, ticket, true);
            continue;
        }
        if (rc) {
            sl_log_ratelimited(&lim, 1, SL_LOG_ERROR, c->name, "disk buffer: read failed: %s",
                               sl_strerror(rc));
            sleep_ns(100000000);
            continue;
        }
        struct delivery *dl = sl_xmalloc(sizeof(*dl));
        dl->sb = sb;
        dl->ticket = ticket;
        sl_ack_init(&dl->ack, delivered, dl);
        sl_batch_set_ack(b, &dl->ack);
        rc = write_fn(arg, b); /* unrefs b: its hold goes, or stays with sl_sink_hold */
        sl_ack_release(&dl->ack, rc == 0);
        if (rc == 0) {
            backoff = 0;
        } else {
            backoff = backoff ? backoff * 2 : 100000000;
            if (backoff > 5000000000)
                backoff = 5000000000;
        }
    }
    atomic_store(&sb->abandon, true);
    sl_thread_join(&sb->writer);
    sl_mutex_lock(&sb->slock);
    sb->quit = true;
    sl_cond_broadcast(&sb->scond);
    sl_mutex_unlock(&sb->slock);
    sl_thread_join(&sb->syncer);
}
