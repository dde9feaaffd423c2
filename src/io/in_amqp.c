/*
 * in_amqp.c — the `amqp` source: consume a RabbitMQ (AMQP 0-9-1) queue with manual acks.
 *
 * Each message body is decoded like a stream (format json: one JSON object per line, so a
 * message may hold several; lines: each line is a `message` string; raw: the whole body is
 * one `message`). A message is acknowledged to the broker only once everything made from it
 * is durable at every sink (core/ack.h); so a crash, a restart or a broker outage loses
 * nothing: unacked messages are redelivered (at-least-once).
 *
 * DESIGN: one thread (the source's) owns the connection. Messages are grouped into a batch
 * until it is full, `prefetch` messages are in it, or the socket has been idle for
 * `batch_idle`; the group's record (struct rec) remembers the delivery tags and carries one
 * delivery token, attached to the batch of events and to the batch of dead letters made
 * from the same messages. Records wait in a FIFO in delivery order; the loop settles the
 * head while it is done: basic.ack with `multiple` up to its last tag (every earlier tag was
 * settled before), or, when some sink failed, basic.nack with requeue. Tags belong to a
 * channel: each connection has a generation, and a record of an older generation is
 * dropped unsettled (the broker has already requeued its messages when the old connection
 * died). A message that keeps failing is caught by counting failures per message (keyed by
 * its message-id, else a hash of its body) in a small table: once it has failed
 * `max_redeliveries` times, its next delivery goes to `<name>.errors` as a dead letter with
 * the raw body and is acked, so it never loops. A body that does not parse is a dead letter
 * at once (same token: acked when the dead letter is written). Back-pressure:
 * sl_source_emit() blocks this thread while the pipeline is full; the broker stops pushing
 * once `prefetch` messages are unacked. Shutdown: basic.cancel, emit the open group, wait up
 * to `drain_timeout` for the records to settle, ack what is done, close (the broker requeues
 * the rest).
 */
#include "base/alloc.h"
#include "base/clock.h"
#include "base/log.h"
#include "codec/json.h"
#include "core/component.h"
#include "io/amqp_conn.h"

#include <amqp.h>
#include <amqp_framing.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

#define FAIL_SLOTS 4096u /* poison counting: messages failing at once that are tracked */
#define FAIL_WAYS  8u

struct amqp_src_conf {
    char *url;
    char *queue;
    bool declare;
    int64_t prefetch;
    int format;
    int64_t max_redeliveries;
    bool metadata;
    char *message_field;
    uint64_t max_line;
    int64_t batch_idle;
    int64_t heartbeat;
    int64_t reconnect_min, reconnect_max;
    int64_t connect_timeout;
    int64_t drain_timeout;
};

enum { FMT_JSON, FMT_LINES, FMT_RAW };

/* One emitted group of messages. */
struct rec {
    struct sl_ack ack;
    uint64_t gen;   /* connection generation its tags belong to */
    uint64_t *tags; /* delivery tags, ascending */
    uint64_t *keys; /* poison keys, one per message */
    uint32_t count, cap;
    struct rec *next;
};

struct fail_slot {
    uint64_t key; /* 0: free */
    uint32_t count;
};

struct amqp_src {
    struct sl_amqp_url url;
    amqp_connection_state_t conn; /* NULL while disconnected */
    uint64_t gen;
    char ctag[256]; /* consumer tag of the current connection */
    struct sl_amqp_backoff backoff;
    sl_sym msg_sym;
    sl_sym m_exchange, m_rkey, m_tag, m_redelivered, m_msgid, m_queue;
    char where[512];
    /* the open group */
    struct rec *cur;
    struct sl_batch *b, *errs;
    /* emitted, unsettled, in delivery order */
    struct rec *head, *tail;
    uint32_t inflight;
    uint64_t inflight_msgs; /* messages in emitted, unsettled records */
    bool flush_asked;       /* sinks asked to flush since the last record settled */
    struct rec *spare;      /* settled records for reuse */
    struct fail_slot fails[FAIL_SLOTS];
    uint32_t nfails;
    /* counters (source thread; read by stats() elsewhere: relaxed atomics) */
    atomic_uint_fast64_t acked, nacked, poisoned, stale, reconnects;
    struct sl_log_limit lim;
};

/* ---- poison counting: a small set-associative table, evicting the lowest count */

static struct fail_slot *fail_find(struct amqp_src *s, uint64_t key, bool create)
{
    if (!key)
        key = 1;
    uint32_t base = (uint32_t)(key % (FAIL_SLOTS / FAIL_WAYS)) * FAIL_WAYS;
    struct fail_slot *victim = NULL;
    for (uint32_t i = 0; i < FAIL_WAYS; i++) {
        struct fail_slot *f = &s->fails[base + i];
        if (f->key == key)
            return f;
        if (!victim || f->count < victim->count)
            victim = f;
    }
    if (!create)
        return NULL;
    if (victim->key)
        s->nfails--;
    victim->key = key;
    victim->count = 0;
    s->nfails++;
    return victim;
}

static void fail_forget(struct amqp_src *s, uint64_t key)
{
    if (!s->nfails)
        return;
    struct fail_slot *f = fail_find(s, key, false);
    if (f) {
        f->key = 0;
        f->count = 0;
        s->nfails--;
    }
}

/* ---- records */

static struct rec *rec_get(struct amqp_src *s)
{
    struct rec *r = s->spare;
    if (r) {
        s->spare = r->next;
    } else {
        r = sl_xcalloc(1, sizeof(*r));
    }
    r->count = 0;
    r->next = NULL;
    return r;
}

static void rec_put(struct amqp_src *s, struct rec *r)
{
    r->next = s->spare;
    s->spare = r;
}

static void rec_add(struct rec *r, uint64_t tag, uint64_t key)
{
    if (r->count == r->cap) {
        r->cap = r->cap ? r->cap * 2 : 256;
        r->tags = sl_xrealloc(r->tags, r->cap * sizeof(*r->tags));
        r->keys = sl_xrealloc(r->keys, r->cap * sizeof(*r->keys));
    }
    r->tags[r->count] = tag;
    r->keys[r->count] = key;
    r->count++;
}

static void rec_free_list(struct rec *r)
{
    while (r) {
        struct rec *next = r->next;
        sl_free(r->tags);
        sl_free(r->keys);
        sl_free(r);
        r = next;
    }
}

/* ---- init / fini */

static int src_init(struct sl_component *c, struct sl_diag *d)
{
    struct amqp_src_conf *cf = c->conf;
    struct amqp_src *s = sl_xcalloc(1, sizeof(*s));
    char err[256];
    if (sl_amqp_url_parse(cf->url, &s->url, err, sizeof(err))) {
        sl_free(s);
        sl_component_diag_opt(c, "url", d);
        sl_diag_hint(d, "write url: \"amqp://guest:guest@127.0.0.1:5672/%%2F\"");
        return sl_diag_set(d, SL_ECONFIG, "amqp '%s': url: %s", c->name, err);
    }
    if (!*cf->queue) {
        sl_amqp_url_fini(&s->url);
        sl_free(s);
        sl_component_diag_opt(c, "queue", d);
        return sl_diag_set(d, SL_ECONFIG, "amqp '%s': queue must not be empty", c->name);
    }
    sl_amqp_backoff_init(&s->backoff, cf->reconnect_min, cf->reconnect_max);
    s->msg_sym = sl_sym_intern_c(cf->message_field);
    s->m_exchange = sl_sym_intern_c("@amqp.exchange");
    s->m_rkey = sl_sym_intern_c("@amqp.routing_key");
    s->m_tag = sl_sym_intern_c("@amqp.delivery_tag");
    s->m_redelivered = sl_sym_intern_c("@amqp.redelivered");
    s->m_msgid = sl_sym_intern_c("@amqp.message_id");
    s->m_queue = sl_sym_intern_c("@amqp.queue");
    snprintf(s->where, sizeof(s->where), "%s queue %s", s->url.shown, cf->queue);
    c->state = s;
    return 0;
}

static void src_fini(struct sl_component *c)
{
    struct amqp_src *s = c->state;
    if (!s)
        return;
    sl_amqp_disconnect(s->conn);
    sl_batch_unref(s->b);
    sl_batch_unref(s->errs);
    if (s->cur)
        rec_put(s, s->cur);
    /* by now every sink thread has ended: no token is still held */
    rec_free_list(s->head);
    rec_free_list(s->spare);
    sl_amqp_url_fini(&s->url);
    sl_free(s);
}

/* ---- connection */

/* Drop the connection: the broker requeues every unacked message; records of this
 * generation will be dropped unsettled, the open group is discarded. */
static void drop_conn(struct sl_component *c, const char *why)
{
    struct amqp_src *s = c->state;
    if (!s->conn)
        return;
    sl_warn(c->name, "connection to %s lost: %s (reconnecting)", s->url.shown, why);
    /* a dead socket makes the polite close fail fast; a live one is closed properly */
    sl_amqp_disconnect(s->conn);
    s->conn = NULL;
    s->gen++;
    sl_batch_unref(s->b);
    sl_batch_unref(s->errs);
    s->b = s->errs = NULL;
    if (s->cur) {
        rec_put(s, s->cur);
        s->cur = NULL;
    }
}

static int connect_consume(struct sl_component *c, char *err, size_t err_len)
{
    struct amqp_src_conf *cf = c->conf;
    struct amqp_src *s = c->state;
    amqp_connection_state_t st = sl_amqp_connect(&s->url, (int)(cf->heartbeat / 1000000000),
                                                 cf->connect_timeout, err, err_len);
    if (!st)
        return SL_EIO;
    amqp_bytes_t q = amqp_cstring_bytes(cf->queue);
    if (cf->declare) {
        amqp_queue_declare(st, 1, q, 0, 1, 0, 0, amqp_empty_table);
        if (sl_amqp_check_rpc(st, "queue.declare", err, err_len))
            goto fail;
    }
    amqp_basic_qos(st, 1, 0, (uint16_t)cf->prefetch, 0);
    if (sl_amqp_check_rpc(st, "basic.qos", err, err_len))
        goto fail;
    amqp_basic_consume_ok_t *ok =
        amqp_basic_consume(st, 1, q, amqp_empty_bytes, 0, 0, 0, amqp_empty_table);
    if (sl_amqp_check_rpc(st, "basic.consume", err, err_len) || !ok)
        goto fail;
    /* the broker named the consumer: basic.cancel needs that name */
    size_t n =
        ok->consumer_tag.len < sizeof(s->ctag) - 1 ? ok->consumer_tag.len : sizeof(s->ctag) - 1;
    memcpy(s->ctag, ok->consumer_tag.bytes, n);
    s->ctag[n] = 0;
    /* no RPC timeout from here: the consume loop waits with its own timeouts */
    amqp_set_rpc_timeout(st, NULL);
    s->conn = st;
    s->gen++;
    return 0;
fail:
    amqp_destroy_connection(st);
    return SL_EIO;
}

/* Wait up to ns, or until stopping. */
static void nap(struct sl_component *c, int64_t ns)
{
    struct pollfd p = {.fd = sl_source_stop_fd(c), .events = POLLIN};
    poll(&p, 1, (int)(ns / 1000000));
}

/* ---- settling: ack or nack what the sinks are done with, in delivery order */

static void settle(struct sl_component *c)
{
    struct amqp_src_conf *cf = c->conf;
    struct amqp_src *s = c->state;
    while (s->head && sl_ack_done(&s->head->ack)) {
        struct rec *r = s->head;
        s->head = r->next;
        if (!s->head)
            s->tail = NULL;
        s->inflight--;
        s->inflight_msgs -= r->count;
        s->flush_asked = false;
        if (r->gen != s->gen || !s->conn || !r->count) {
            atomic_fetch_add_explicit(&s->stale, r->count, memory_order_relaxed);
        } else if (sl_ack_failed(&r->ack)) {
            for (uint32_t i = 0; i < r->count && cf->max_redeliveries; i++)
                fail_find(s, r->keys[i], true)->count++;
            atomic_fetch_add_explicit(&s->nacked, r->count, memory_order_relaxed);
            sl_log_ratelimited(&s->lim, 1, SL_LOG_WARN, c->name,
                               "%u messages not delivered by a sink: requeued", r->count);
            if (amqp_basic_nack(s->conn, 1, r->tags[r->count - 1], 1, 1))
                drop_conn(c, "basic.nack failed");
        } else {
            for (uint32_t i = 0; i < r->count; i++)
                fail_forget(s, r->keys[i]);
            atomic_fetch_add_explicit(&s->acked, r->count, memory_order_relaxed);
            if (amqp_basic_ack(s->conn, 1, r->tags[r->count - 1], 1))
                drop_conn(c, "basic.ack failed");
        }
        rec_put(s, r);
    }
}

/* ---- decoding */

static void dead_letter(struct sl_component *c, const char *msg, const char *raw, size_t n,
                        int64_t line, int64_t offset)
{
    struct amqp_src *s = c->state;
    if (!s->errs)
        s->errs = sl_batch_new();
    if (sl_error_event(s->errs, c->name, msg, raw, n, s->where, line, offset))
        atomic_fetch_add_explicit(&c->m.errors, 1, memory_order_relaxed); /* OOM: counted */
}

static void add_metadata(struct sl_component *c, struct sl_event *ev, const amqp_envelope_t *env)
{
    struct amqp_src_conf *cf = c->conf;
    struct amqp_src *s = c->state;
    struct sl_batch *b = s->b;
    sl_event_set_str(b, ev, s->m_exchange, env->exchange.bytes, env->exchange.len);
    sl_event_set_str(b, ev, s->m_rkey, env->routing_key.bytes, env->routing_key.len);
    sl_event_set(b, ev, s->m_tag, sl_value_int((int64_t)env->delivery_tag));
    sl_event_set(b, ev, s->m_redelivered, sl_value_bool(env->redelivered));
    sl_event_set(b, ev, s->m_queue, sl_value_str(cf->queue, strlen(cf->queue)));
    const amqp_basic_properties_t *p = &env->message.properties;
    if (p->_flags & AMQP_BASIC_MESSAGE_ID_FLAG)
        sl_event_set_str(b, ev, s->m_msgid, p->message_id.bytes, p->message_id.len);
}

/* One line (or the whole body in raw mode) of a message. */
static void take_line(struct sl_component *c, const amqp_envelope_t *env, const char *p, size_t n,
                      int64_t line, int64_t offset, int64_t now)
{
    struct amqp_src_conf *cf = c->conf;
    struct amqp_src *s = c->state;
    struct sl_batch *b = s->b;
    if (n > cf->max_line) {
        char msg[128];
        snprintf(msg, sizeof(msg), "line longer than max_line (%llu bytes): skipped",
                 (unsigned long long)cf->max_line);
        dead_letter(c, msg, p, n, line, offset);
        return;
    }
    char *copy = sl_batch_copy(b, p, n);
    if (!copy) {
        dead_letter(c, "out of memory: batch arena full", p, n, line, offset);
        return;
    }
    uint32_t before = b->count;
    if (cf->format == FMT_JSON) {
        struct sl_diag d;
        d.offset = -1;
        d.msg[0] = 0;
        if (sl_json_parse_event(b, copy, n, NULL, &d)) {
            char msg[600];
            snprintf(msg, sizeof(msg), "invalid JSON at byte %lld of the line: %s",
                     (long long)(d.offset > 0 ? d.offset : 0), d.msg);
            dead_letter(c, msg, p, n, line, offset);
            return;
        }
    } else {
        struct sl_event *ev = sl_batch_push(b);
        if (!ev || sl_event_set(b, ev, s->msg_sym, sl_value_str(copy, n))) {
            if (ev)
                sl_batch_pop(b);
            dead_letter(c, "out of memory", p, n, line, offset);
            return;
        }
    }
    if (b->count > before) {
        struct sl_event *ev = &b->events[b->count - 1];
        ev->ts_ns = now;
        if (cf->metadata)
            add_metadata(c, ev, env);
    }
}

static uint64_t poison_key(const amqp_envelope_t *env)
{
    const amqp_basic_properties_t *p = &env->message.properties;
    if ((p->_flags & AMQP_BASIC_MESSAGE_ID_FLAG) && p->message_id.len)
        return sl_amqp_hash(p->message_id.bytes, p->message_id.len, 1);
    return sl_amqp_hash(env->message.body.bytes, env->message.body.len, 2);
}

static void take_message(struct sl_component *c, const amqp_envelope_t *env)
{
    struct amqp_src_conf *cf = c->conf;
    struct amqp_src *s = c->state;
    if (!s->cur)
        s->cur = rec_get(s);
    if (!s->b)
        s->b = sl_batch_new();
    const char *body = env->message.body.bytes;
    size_t len = env->message.body.len;
    uint64_t key = poison_key(env);
    rec_add(s->cur, env->delivery_tag, key);
    if (cf->max_redeliveries && env->redelivered && s->nfails) {
        struct fail_slot *f = fail_find(s, key, false);
        if (f && f->count > (uint32_t)cf->max_redeliveries) {
            /* it was dead-lettered once and that failed too: ack it now, loudly, rather
             * than loop forever */
            sl_error(c->name,
                     "poison message (%zu bytes) could not be dead-lettered either: "
                     "dropped",
                     len);
            atomic_fetch_add_explicit(&c->m.dropped, 1, memory_order_relaxed);
            fail_forget(s, key);
            return;
        }
        if (f && f->count == (uint32_t)cf->max_redeliveries) {
            char msg[160];
            snprintf(msg, sizeof(msg),
                     "not delivered by the sinks %u times (max_redeliveries): dead-lettered, "
                     "delivery tag %llu",
                     f->count, (unsigned long long)env->delivery_tag);
            dead_letter(c, msg, body, len, -1, -1);
            atomic_fetch_add_explicit(&s->poisoned, 1, memory_order_relaxed);
            sl_warn(c->name, "poison message (%zu bytes) sent to %s.errors after %u failures", len,
                    c->name, f->count);
            return;
        }
    }
    int64_t now = sl_clock_wall_ns();
    uint32_t before = s->b->count;
    if (cf->format == FMT_RAW || !len) {
        if (len)
            take_line(c, env, body, len, 1, 0, now);
    } else {
        size_t pos = 0;
        int64_t line = 1;
        while (pos < len) {
            const char *nl = memchr(body + pos, '\n', len - pos);
            size_t n = nl ? (size_t)(nl - (body + pos)) : len - pos;
            size_t m = n;
            if (m && body[pos + m - 1] == '\r')
                m--;
            size_t i = 0;
            while (i < m && (body[pos + i] == ' ' || body[pos + i] == '\t'))
                i++;
            if (i < m)
                take_line(c, env, body + pos, m, line, (int64_t)pos, now);
            pos += n + (nl ? 1 : 0);
            line++;
        }
    }
    if (s->b->count > before)
        s->b->bytes += len;
}

/* Hand the open group to the pipeline. */
static void emit_group(struct sl_component *c)
{
    struct amqp_src *s = c->state;
    struct rec *r = s->cur;
    if (!r)
        return;
    struct sl_batch *b = s->b, *errs = s->errs;
    s->cur = NULL;
    s->b = s->errs = NULL;
    sl_ack_init(&r->ack, NULL, NULL);
    r->gen = s->gen;
    r->next = NULL;
    if (s->tail)
        s->tail->next = r;
    else
        s->head = r;
    s->tail = r;
    s->inflight++;
    s->inflight_msgs += r->count;
    if (b && b->count) {
        sl_batch_set_ack(b, &r->ack);
        sl_source_emit(c, b);
    } else {
        sl_batch_unref(b);
    }
    if (errs && errs->count) {
        sl_batch_set_ack(errs, &r->ack);
        sl_source_emit_errors(c, errs);
    } else {
        sl_batch_unref(errs);
    }
    sl_ack_release(&r->ack, true);
}

/* A frame that is not a delivery (amqp_consume_message said AMQP_STATUS_UNEXPECTED_STATE). */
static void other_frame(struct sl_component *c)
{
    struct amqp_src *s = c->state;
    amqp_frame_t f;
    struct timeval tv = {.tv_sec = 1};
    int rc = amqp_simple_wait_frame_noblock(s->conn, &f, &tv);
    if (rc == AMQP_STATUS_TIMEOUT)
        return;
    if (rc != AMQP_STATUS_OK) {
        drop_conn(c, amqp_error_string2(rc));
        return;
    }
    if (f.frame_type != AMQP_FRAME_METHOD)
        return;
    char why[400];
    switch (f.payload.method.id) {
    case AMQP_CHANNEL_CLOSE_METHOD:
    case AMQP_CONNECTION_CLOSE_METHOD: {
        amqp_rpc_reply_t r = {.reply_type = AMQP_RESPONSE_SERVER_EXCEPTION,
                              .reply = f.payload.method};
        sl_amqp_reply_text(r, why, sizeof(why));
        if (f.payload.method.id == AMQP_CONNECTION_CLOSE_METHOD) {
            amqp_connection_close_ok_t ok;
            amqp_send_method(s->conn, 0, AMQP_CONNECTION_CLOSE_OK_METHOD, &ok);
        }
        drop_conn(c, why);
        return;
    }
    case AMQP_BASIC_CANCEL_METHOD:
        drop_conn(c, "the broker cancelled the consumer (queue deleted?)");
        return;
    default:
        return; /* basic.ack and others are not expected on a consumer channel */
    }
}

/* One step of the consume loop: wait up to timeout for a delivery. */
static void consume_step(struct sl_component *c, int64_t timeout_ns)
{
    struct amqp_src_conf *cf = c->conf;
    struct amqp_src *s = c->state;
    amqp_envelope_t env;
    struct timeval tv = {.tv_sec = (time_t)(timeout_ns / 1000000000),
                         .tv_usec = (suseconds_t)(timeout_ns % 1000000000 / 1000)};
    amqp_maybe_release_buffers(s->conn);
    amqp_rpc_reply_t r = amqp_consume_message(s->conn, &env, &tv, 0);
    if (r.reply_type == AMQP_RESPONSE_NORMAL) {
        take_message(c, &env);
        amqp_destroy_envelope(&env);
        if (sl_batch_full(s->b) || (s->errs && s->errs->count >= SL_BATCH_EVENTS) ||
            s->cur->count >= (uint32_t)cf->prefetch)
            emit_group(c);
        return;
    }
    if (r.reply_type == AMQP_RESPONSE_LIBRARY_EXCEPTION && r.library_error == AMQP_STATUS_TIMEOUT) {
        emit_group(c); /* idle: do not hold a partial batch back */
        /* the broker stops at `prefetch` unacked messages: when that is what keeps us idle,
         * ask the sinks that commit at flush (postgres, every 250 ms) to do it now
         * (bench_amqp.sh, amqp -> postgres: 8k -> 33k events/s) */
        if (!s->flush_asked && s->inflight_msgs >= (uint64_t)cf->prefetch / 2) {
            sl_source_flush_sinks(c);
            s->flush_asked = true;
        }
        return;
    }
    if (r.reply_type == AMQP_RESPONSE_LIBRARY_EXCEPTION &&
        r.library_error == AMQP_STATUS_UNEXPECTED_STATE) {
        other_frame(c);
        return;
    }
    char why[400];
    sl_amqp_reply_text(r, why, sizeof(why));
    drop_conn(c, why);
}

static void drain(struct sl_component *c)
{
    struct amqp_src_conf *cf = c->conf;
    struct amqp_src *s = c->state;
    if (s->conn) {
        /* stop the pushes (deliveries that cross the cancel stay unacked: requeued at
         * close); bounded, the broker may be hanging */
        struct timeval tv = {.tv_sec = 2};
        amqp_set_rpc_timeout(s->conn, &tv);
        amqp_basic_cancel(s->conn, 1, amqp_cstring_bytes(s->ctag));
        emit_group(c);
    }
    sl_source_flush_sinks(c);
    int64_t until = sl_clock_mono_ns() + cf->drain_timeout;
    while (s->head && sl_clock_mono_ns() < until) {
        settle(c);
        if (s->head) {
            struct timespec ts = {.tv_nsec = 5000000};
            nanosleep(&ts, NULL);
        }
    }
    settle(c);
    if (s->inflight)
        sl_warn(c->name, "stopping with %u batches not yet written: the broker redelivers them",
                s->inflight);
    sl_amqp_disconnect(s->conn);
    s->conn = NULL;
    s->gen++;
}

static int src_run(struct sl_component *c)
{
    struct amqp_src_conf *cf = c->conf;
    struct amqp_src *s = c->state;
    char err[512];
    bool warned = false;
    while (!sl_source_stopping(c)) {
        if (!s->conn) {
            settle(c); /* drop stale records */
            if (connect_consume(c, err, sizeof(err))) {
                int64_t wait = sl_amqp_backoff_next(&s->backoff);
                if (!warned || wait >= s->backoff.max_ns)
                    sl_warn(c->name, "%s (retrying in %lld ms)", err, (long long)(wait / 1000000));
                warned = true;
                nap(c, wait);
                continue;
            }
            warned = false;
            sl_amqp_backoff_reset(&s->backoff);
            atomic_fetch_add_explicit(&s->reconnects, 1, memory_order_relaxed);
            sl_info(c->name, "consuming queue %s on %s (prefetch %lld)", cf->queue, s->url.shown,
                    (long long)cf->prefetch);
        }
        settle(c);
        if (!s->conn)
            continue;
        consume_step(c, s->cur ? cf->batch_idle : 20000000);
    }
    drain(c);
    sl_info(c->name, "stopped: %llu messages acked, %llu requeued, %llu dead-lettered",
            (unsigned long long)atomic_load(&s->acked), (unsigned long long)atomic_load(&s->nacked),
            (unsigned long long)atomic_load(&s->poisoned));
    return 0;
}

static size_t src_stats(struct sl_component *c, struct sl_comp_stat *out)
{
    struct amqp_src *s = c->state;
    if (!s)
        return 0;
    out[0] = (struct sl_comp_stat){"sluice_amqp_acked_total", "messages acked to the broker", false,
                                   (double)atomic_load(&s->acked)};
    out[1] = (struct sl_comp_stat){"sluice_amqp_requeued_total",
                                   "messages nacked with requeue (a sink failed)", false,
                                   (double)atomic_load(&s->nacked)};
    out[2] = (struct sl_comp_stat){"sluice_amqp_poison_total",
                                   "messages dead-lettered after max_redeliveries", false,
                                   (double)atomic_load(&s->poisoned)};
    out[3] = (struct sl_comp_stat){"sluice_amqp_connects_total", "successful connections", false,
                                   (double)atomic_load(&s->reconnects)};
    return 4;
}

static const struct sl_option src_opts[] = {
    {"url", SL_OPT_STRING, "amqp://guest:guest@127.0.0.1:5672/%2F",
     offsetof(struct amqp_src_conf, url),
     "broker, amqp://user:password@host:port/vhost (vhost percent-encoded: %2F is \"/\")", NULL, 0,
     0, 0},
    {"queue", SL_OPT_STRING, NULL, offsetof(struct amqp_src_conf, queue), "queue to consume", NULL,
     0, 0, SL_OPT_REQUIRED},
    {"declare", SL_OPT_BOOL, "false", offsetof(struct amqp_src_conf, declare),
     "declare the queue (durable, classic) before consuming", NULL, 0, 0, 0},
    {"prefetch", SL_OPT_INT, "2048", offsetof(struct amqp_src_conf, prefetch),
     "unacked messages the broker may push (basic.qos); bounds memory while the pipeline is "
     "full",
     NULL, 1, 65535, 0},
    {"format", SL_OPT_ENUM, "json", offsetof(struct amqp_src_conf, format),
     "json: each line of a body is a JSON object; lines: each line is a `message` string; "
     "raw: the whole body is one `message`",
     "json|lines|raw", 0, 0, 0},
    {"max_redeliveries", SL_OPT_INT, "5", offsetof(struct amqp_src_conf, max_redeliveries),
     "a message the sinks failed this many times goes to <name>.errors and is acked (0: "
     "requeue forever)",
     NULL, 0, 1000000, 0},
    {"metadata", SL_OPT_BOOL, "false", offsetof(struct amqp_src_conf, metadata),
     "add @amqp.exchange, @amqp.routing_key, @amqp.delivery_tag, @amqp.redelivered, "
     "@amqp.queue and @amqp.message_id to each event",
     NULL, 0, 0, 0},
    {"message_field", SL_OPT_STRING, "message", offsetof(struct amqp_src_conf, message_field),
     "field that holds a line or body (format: lines, raw)", NULL, 0, 0, 0},
    {"max_line", SL_OPT_SIZE, "1MiB", offsetof(struct amqp_src_conf, max_line),
     "longer lines (or raw bodies) become dead letters", NULL, 0, 0, 0},
    {"batch_idle", SL_OPT_DURATION, "5ms", offsetof(struct amqp_src_conf, batch_idle),
     "emit a partial batch when no message came for this long", NULL, 0, 0, 0},
    {"heartbeat", SL_OPT_DURATION, "60s", offsetof(struct amqp_src_conf, heartbeat),
     "AMQP heartbeat (0: none); a broker that stays silent twice as long is dropped", NULL, 0, 0,
     0},
    {"reconnect_min", SL_OPT_DURATION, "100ms", offsetof(struct amqp_src_conf, reconnect_min),
     "first reconnect delay; doubles after each failure", NULL, 0, 0, 0},
    {"reconnect_max", SL_OPT_DURATION, "30s", offsetof(struct amqp_src_conf, reconnect_max),
     "longest reconnect delay", NULL, 0, 0, 0},
    {"connect_timeout", SL_OPT_DURATION, "10s", offsetof(struct amqp_src_conf, connect_timeout),
     "bound on TCP connect, login and each setup call", NULL, 0, 0, 0},
    {"drain_timeout", SL_OPT_DURATION, "10s", offsetof(struct amqp_src_conf, drain_timeout),
     "on stop, how long to wait for in-flight batches to be written and acked", NULL, 0, 0, 0},
    {0},
};

const struct sl_component_ops sl_in_amqp_ops = {
    .type = "amqp",
    .kind = SL_KIND_SOURCE,
    .summary = "consume a RabbitMQ/AMQP 0-9-1 queue; ack after the sinks made events durable",
    .options = src_opts,
    .conf_len = sizeof(struct amqp_src_conf),
    .init = src_init,
    .fini = src_fini,
    .run = src_run,
    .stats = src_stats,
};
