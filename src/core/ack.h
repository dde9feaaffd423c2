/*
 * ack.h — delivery acknowledgements: how a source learns that what it emitted is durable.
 *
 * The delivery contract (ARCHITECTURE.md): sinks acknowledge what they made durable, and
 * sources commit (Kafka offsets, AMQP acks, file positions) only after that. One mechanism
 * carries this for every source and sink, so a new connector writes no delivery logic of its
 * own beyond "commit when done":
 *
 *   - A source that commits owns a token (struct sl_ack, usually embedded in its own record of
 *     one batch: offsets, delivery tags). sl_ack_init() gives the owner one hold.
 *   - sl_batch_set_ack() attaches the token to a batch (a hold per batch). The core carries it:
 *     a shared batch's private copy, a transform's new output batch, dead letters made while
 *     the batch is processed all take a hold of their own. A batch's hold is released when the
 *     batch is freed: a filtered-out or written batch is "done".
 *   - A sink whose write() makes data durable (a write(2) to the kernel, a committed SQL
 *     transaction) does nothing: the hold goes when the core unrefs the batch after write().
 *     A sink that makes data durable later (a Kafka delivery report, a Parquet file closed,
 *     an fsync at flush) takes a hold with sl_sink_hold() in write() and releases it then.
 *   - A failure is explicit: sl_ack_release(a, false), or the core marking a batch whose
 *     write() failed or that could not be delivered. A failed token is still "done"; the
 *     source decides (AMQP: nack and requeue; Kafka: seek back and read again).
 *   - The source polls sl_ack_done() in order (Kafka commits per partition in offset order)
 *     or is woken by the notify function, which runs on the thread that released the last
 *     hold (a sink or worker thread: keep it short, e.g. write to an eventfd).
 *
 * Threads: holds are taken and released on any thread; the counter is atomic. The token's
 * memory belongs to its owner, who may reuse or free it once sl_ack_done() is true.
 */
#ifndef SL_CORE_ACK_H
#define SL_CORE_ACK_H

#include <stdatomic.h>
#include <stdbool.h>

typedef void (*sl_ack_notify_fn)(void *arg);

struct sl_ack {
    atomic_uint pending; /* holds not yet released */
    atomic_bool failed;  /* some hold was released with ok == false */
    sl_ack_notify_fn notify;
    void *notify_arg;
};

/* Start a token with one hold (the owner's). notify may be NULL; it is called with arg when
 * the last hold goes, on the releasing thread; arg must outlive the token. */
static inline void sl_ack_init(struct sl_ack *a, sl_ack_notify_fn notify, void *arg)
{
    atomic_init(&a->pending, 1);
    atomic_init(&a->failed, false);
    a->notify = notify;
    a->notify_arg = arg;
}

static inline void sl_ack_hold(struct sl_ack *a)
{
    atomic_fetch_add_explicit(&a->pending, 1, memory_order_relaxed);
}

/* Release one hold; ok == false marks the token failed. The token is not touched after the
 * last hold goes (the owner may free it at once), except through the notify function read
 * before. NULL is a no-op. */
static inline void sl_ack_release(struct sl_ack *a, bool ok)
{
    if (!a)
        return;
    if (!ok)
        atomic_store_explicit(&a->failed, true, memory_order_relaxed);
    sl_ack_notify_fn fn = a->notify;
    void *arg = a->notify_arg;
    if (atomic_fetch_sub_explicit(&a->pending, 1, memory_order_acq_rel) == 1 && fn)
        fn(arg);
}

/* Mark the token failed without releasing a hold (the core, for a batch whose write failed:
 * the batch's own hold goes when it is freed). */
static inline void sl_ack_fail(struct sl_ack *a)
{
    if (a)
        atomic_store_explicit(&a->failed, true, memory_order_relaxed);
}

/* Every hold released (then sl_ack_failed() is final). */
static inline bool sl_ack_done(struct sl_ack *a)
{
    return atomic_load_explicit(&a->pending, memory_order_acquire) == 0;
}

static inline bool sl_ack_failed(struct sl_ack *a)
{
    return atomic_load_explicit(&a->failed, memory_order_acquire);
}

#endif
