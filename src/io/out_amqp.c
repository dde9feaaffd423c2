/*
 * out_amqp.c — the `amqp` sink: events as JSON messages published to a RabbitMQ (AMQP
 * 0-9-1) exchange, with publisher confirms.
 *
 * Each event is one message (its JSON object, content type application/json, persistent by
 * default) published to `exchange` with a routing key rendered from `routing_key`: literal
 * text with `{field}` parts taken from the event ("events.{type}"). A batch is written when
 * the broker has confirmed every message of it (basic.ack after confirm.select); only then
 * does write() return, so the batch's delivery token (core/ack.h) is released when the
 * messages are safe at the broker, and the source upstream may commit.
 *
 * DESIGN: sink thread only; one connection, channel 1 in confirm mode. write() renders the
 * batch once (bodies and routing keys in two buffers with offsets), publishes every message,
 * then reads confirms until each message is settled: basic.ack (with `multiple`) marks them
 * confirmed; basic.nack marks them for publishing again; basic.return (`mandatory`, no queue
 * bound for the routing key) is matched to its message by body and key and that event goes
 * to `<name>.errors` (it can never be delivered, retrying would loop). When the connection
 * drops (broker restart, channel error, confirm_timeout without an answer), the sink
 * reconnects with back-off and publishes again what was not confirmed: at-least-once, never
 * a silent drop. While the broker is away write() does not return, so the sink queue fills
 * and the pipeline slows its sources (back-pressure); `retry_for` bounds that (then the batch
 * fails: counted as errors, and the upstream token is failed so the source can redeliver).
 * Waiting for confirms at the end of each batch costs one round trip per ~1,000 messages;
 * bench/bench_amqp.sh measures the sink against a bare C publisher.
 */
#include "base/alloc.h"
#include "base/buf.h"
#include "base/clock.h"
#include "base/log.h"
#include "codec/json.h"
#include "core/component.h"
#include "io/amqp_conn.h"

#include <amqp.h>
#include <amqp_framing.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

#define BODIES_MAX ((size_t)256 << 20) /* rendered batch; an event larger than this fails */

struct amqp_sink_conf {
    char *url;
    char *exchange;
    char *routing_key;
    char *declare_queue;
    bool persistent;
    bool mandatory;
    int format;
    char *content_type;
    int64_t heartbeat;
    int64_t reconnect_min, reconnect_max;
    int64_t connect_timeout;
    int64_t confirm_timeout;
    int64_t retry_for;
};

/* One piece of the routing-key template: literal text, or a field's value. */
struct rk_part {
    char *text;
    bool field;
    struct sl_path path;
};

enum { ST_PENDING, ST_SENT, ST_DONE, ST_SKIP };

struct amqp_sink {
    struct sl_amqp_url url;
    amqp_connection_state_t conn;
    struct sl_amqp_backoff backoff;
    uint64_t next_seq; /* publish sequence number of the last message on this channel */
    struct rk_part *parts;
    size_t nparts;
    /* the batch being written */
    struct sl_buf bodies, rkeys, scratch;
    size_t *body_off, *rk_off; /* count + 1 each */
    uint8_t *st;
    bool *returned;
    uint32_t *round; /* round[k]: event published with seq round_seq0 + k */
    uint32_t cap;
    struct sl_log_limit lim;
    atomic_uint_fast64_t published, confirmed, republished, returned_count, connects;
};

/* ---- routing key template */

static int parse_template(struct amqp_sink *s, const char *t, char *err, size_t err_len)
{
    while (*t) {
        s->parts = sl_xrealloc(s->parts, (s->nparts + 1) * sizeof(*s->parts));
        struct rk_part *p = &s->parts[s->nparts];
        memset(p, 0, sizeof(*p));
        if (*t == '{') {
            const char *end = strchr(t, '}');
            if (!end || end == t + 1) {
                snprintf(err, err_len, "unclosed or empty {field} in routing_key");
                return SL_EINVAL;
            }
            p->text = sl_xstrndup(t + 1, (size_t)(end - t - 1));
            p->field = true;
            s->nparts++;
            if (sl_path_init(&p->path, p->text)) {
                snprintf(err, err_len, "bad field path {%s} in routing_key", p->text);
                return SL_EINVAL;
            }
            t = end + 1;
        } else {
            const char *end = strchr(t, '{');
            size_t n = end ? (size_t)(end - t) : strlen(t);
            p->text = sl_xstrndup(t, n);
            s->nparts++;
            t += n;
        }
    }
    return 0;
}

static void render_key(struct amqp_sink *s, const struct sl_event *ev)
{
    for (size_t i = 0; i < s->nparts; i++) {
        const struct rk_part *p = &s->parts[i];
        if (!p->field) {
            sl_buf_puts(&s->rkeys, p->text);
            continue;
        }
        const struct sl_value *v = sl_path_get(&p->path, ev);
        if (!v || v->type == SL_V_NULL)
            continue; /* missing: empty */
        sl_buf_reset(&s->scratch);
        struct sl_str t = sl_value_to_text(v, &s->scratch);
        sl_buf_append(&s->rkeys, t.ptr, t.len > 255 ? 255 : t.len);
    }
}

/* ---- init / fini */

static void sink_free(struct amqp_sink *s)
{
    sl_amqp_disconnect(s->conn);
    for (size_t i = 0; i < s->nparts; i++) {
        if (s->parts[i].field)
            sl_path_fini(&s->parts[i].path);
        sl_free(s->parts[i].text);
    }
    sl_free(s->parts);
    sl_buf_fini(&s->bodies);
    sl_buf_fini(&s->rkeys);
    sl_buf_fini(&s->scratch);
    sl_free(s->body_off);
    sl_free(s->rk_off);
    sl_free(s->st);
    sl_free(s->returned);
    sl_free(s->round);
    sl_amqp_url_fini(&s->url);
    sl_free(s);
}

static int sink_init(struct sl_component *c, struct sl_diag *d)
{
    struct amqp_sink_conf *cf = c->conf;
    struct amqp_sink *s = sl_xcalloc(1, sizeof(*s));
    char err[256];
    sl_buf_init(&s->bodies, BODIES_MAX);
    sl_buf_init(&s->rkeys, BODIES_MAX);
    sl_buf_init(&s->scratch, 1u << 20);
    if (sl_amqp_url_parse(cf->url, &s->url, err, sizeof(err))) {
        sink_free(s);
        sl_component_diag_opt(c, "url", d);
        sl_diag_hint(d, "write url: \"amqp://guest:guest@127.0.0.1:5672/%%2F\"");
        return sl_diag_set(d, SL_ECONFIG, "amqp '%s': url: %s", c->name, err);
    }
    if (parse_template(s, cf->routing_key, err, sizeof(err))) {
        sink_free(s);
        sl_component_diag_opt(c, "routing_key", d);
        sl_diag_hint(d, "write routing_key: \"events.{type}\"");
        return sl_diag_set(d, SL_ECONFIG, "amqp '%s': %s", c->name, err);
    }
    if (!*cf->exchange && !s->nparts && !*cf->declare_queue) {
        sink_free(s);
        sl_component_diag_opt(c, "routing_key", d);
        sl_diag_hint(d, "the default exchange routes by queue name: routing_key: <queue>");
        return sl_diag_set(d, SL_ECONFIG,
                           "amqp '%s': routing_key is needed with the default exchange", c->name);
    }
    sl_amqp_backoff_init(&s->backoff, cf->reconnect_min, cf->reconnect_max);
    c->state = s;
    return 0;
}

static void sink_fini(struct sl_component *c)
{
    if (c->state)
        sink_free(c->state);
}

/* ---- connection */

static void drop_conn(struct sl_component *c, const char *why)
{
    struct amqp_sink *s = c->state;
    if (!s->conn)
        return;
    sl_warn(c->name,
            "connection to %s lost: %s (reconnecting, unconfirmed messages are "
            "published again)",
            s->url.shown, why);
    sl_amqp_disconnect(s->conn);
    s->conn = NULL;
}

static int connect_confirm(struct sl_component *c, char *err, size_t err_len)
{
    struct amqp_sink_conf *cf = c->conf;
    struct amqp_sink *s = c->state;
    amqp_connection_state_t st = sl_amqp_connect(&s->url, (int)(cf->heartbeat / 1000000000),
                                                 cf->connect_timeout, err, err_len);
    if (!st)
        return SL_EIO;
    if (*cf->declare_queue) {
        amqp_queue_declare(st, 1, amqp_cstring_bytes(cf->declare_queue), 0, 1, 0, 0,
                           amqp_empty_table);
        if (sl_amqp_check_rpc(st, "queue.declare", err, err_len))
            goto fail;
    }
    amqp_confirm_select(st, 1);
    if (sl_amqp_check_rpc(st, "confirm.select", err, err_len))
        goto fail;
    struct timeval tv = {.tv_sec = (time_t)(cf->confirm_timeout / 1000000000),
                         .tv_usec = (suseconds_t)(cf->confirm_timeout % 1000000000 / 1000)};
    amqp_set_rpc_timeout(st, &tv); /* bounds amqp_read_message of a basic.return */
    s->conn = st;
    s->next_seq = 0;
    return 0;
fail:
    amqp_destroy_connection(st);
    return SL_EIO;
}

/* Connect, waiting with back-off; SL_ETIMEDOUT once retry_for has passed since `since`. */
static int ensure_conn(struct sl_component *c, int64_t since)
{
    struct amqp_sink_conf *cf = c->conf;
    struct amqp_sink *s = c->state;
    char err[512];
    bool warned = false;
    while (!s->conn) {
        if (!connect_confirm(c, err, sizeof(err))) {
            sl_amqp_backoff_reset(&s->backoff);
            atomic_fetch_add_explicit(&s->connects, 1, memory_order_relaxed);
            sl_info(c->name, "connected to %s (publisher confirms)", s->url.shown);
            return 0;
        }
        if (cf->retry_for && sl_clock_mono_ns() - since >= cf->retry_for) {
            sl_error(c->name, "%s: giving up on this batch after retry_for", err);
            return SL_ETIMEDOUT;
        }
        int64_t wait = sl_amqp_backoff_next(&s->backoff);
        if (!warned || wait >= s->backoff.max_ns)
            sl_warn(c->name, "%s (retrying in %lld ms; the pipeline waits)", err,
                    (long long)(wait / 1000000));
        warned = true;
        struct timespec ts = {.tv_sec = (time_t)(wait / 1000000000),
                              .tv_nsec = (long)(wait % 1000000000)};
        nanosleep(&ts, NULL);
    }
    return 0;
}

/* ---- one batch */

static void grow(struct amqp_sink *s, uint32_t n)
{
    if (n <= s->cap)
        return;
    s->cap = n;
    s->body_off = sl_xrealloc(s->body_off, (n + 1) * sizeof(*s->body_off));
    s->rk_off = sl_xrealloc(s->rk_off, (n + 1) * sizeof(*s->rk_off));
    s->st = sl_xrealloc(s->st, n);
    s->returned = sl_xrealloc(s->returned, n * sizeof(*s->returned));
    s->round = sl_xrealloc(s->round, n * sizeof(*s->round));
}

static amqp_bytes_t body_of(const struct amqp_sink *s, uint32_t i)
{
    amqp_bytes_t b = {s->body_off[i + 1] - s->body_off[i], s->bodies.ptr + s->body_off[i]};
    return b;
}

static amqp_bytes_t key_of(const struct amqp_sink *s, uint32_t i)
{
    amqp_bytes_t b = {s->rk_off[i + 1] - s->rk_off[i], s->rkeys.ptr + s->rk_off[i]};
    return b;
}

/* Mark message k of the round (seq0 + k) settled: ok, or nacked (publish again). */
static void settle_one(struct amqp_sink *s, uint32_t k, bool ok, uint32_t *unconfirmed)
{
    uint32_t i = s->round[k];
    if (s->st[i] != ST_SENT)
        return;
    s->st[i] = ok ? ST_DONE : ST_PENDING;
    (*unconfirmed)--;
}

/* A basic.return: find the sent, unconfirmed message with this body and key. */
static void take_return(struct sl_component *c, uint32_t nround, const amqp_basic_return_t *m)
{
    struct amqp_sink *s = c->state;
    amqp_message_t msg;
    amqp_rpc_reply_t r = amqp_read_message(s->conn, 1, &msg, 0);
    if (r.reply_type != AMQP_RESPONSE_NORMAL)
        return; /* the connection is broken: the next wait sees it */
    for (uint32_t k = 0; k < nround; k++) {
        uint32_t i = s->round[k];
        amqp_bytes_t b = body_of(s, i), rk = key_of(s, i);
        if (s->st[i] == ST_SENT && !s->returned[i] && b.len == msg.body.len &&
            rk.len == m->routing_key.len && !memcmp(b.bytes, msg.body.bytes, b.len) &&
            !memcmp(rk.bytes, m->routing_key.bytes, rk.len)) {
            s->returned[i] = true;
            break;
        }
    }
    amqp_destroy_message(&msg);
}

/* Read confirms until every message of the round is settled. 0, or an error (connection
 * lost: the caller reconnects and publishes the unsettled ones again). */
static int wait_confirms(struct sl_component *c, uint64_t seq0, uint32_t nround, char *why,
                         size_t why_len)
{
    struct amqp_sink_conf *cf = c->conf;
    struct amqp_sink *s = c->state;
    uint32_t unconfirmed = nround, lo = 0;
    while (unconfirmed) {
        amqp_frame_t f;
        struct timeval tv = {.tv_sec = (time_t)(cf->confirm_timeout / 1000000000),
                             .tv_usec = (suseconds_t)(cf->confirm_timeout % 1000000000 / 1000)};
        int rc = amqp_simple_wait_frame_noblock(s->conn, &f, &tv);
        if (rc == AMQP_STATUS_TIMEOUT) {
            snprintf(why, why_len, "no publisher confirm within confirm_timeout");
            return SL_ETIMEDOUT;
        }
        if (rc != AMQP_STATUS_OK) {
            snprintf(why, why_len, "%s", amqp_error_string2(rc));
            return SL_EIO;
        }
        if (f.frame_type != AMQP_FRAME_METHOD)
            continue;
        amqp_method_number_t id = f.payload.method.id;
        if (id == AMQP_BASIC_ACK_METHOD || id == AMQP_BASIC_NACK_METHOD) {
            uint64_t tag;
            bool multiple, ok = id == AMQP_BASIC_ACK_METHOD;
            if (ok) {
                const amqp_basic_ack_t *a = f.payload.method.decoded;
                tag = a->delivery_tag;
                multiple = a->multiple;
            } else {
                const amqp_basic_nack_t *a = f.payload.method.decoded;
                tag = a->delivery_tag;
                multiple = a->multiple;
            }
            if (tag < seq0)
                continue;
            uint64_t last = tag - seq0;
            if (last >= nround)
                last = nround - 1;
            if (!multiple) {
                settle_one(s, (uint32_t)last, ok, &unconfirmed);
            } else {
                for (uint32_t k = lo; k <= (uint32_t)last; k++)
                    settle_one(s, k, ok, &unconfirmed);
            }
            while (lo < nround && s->st[s->round[lo]] != ST_SENT)
                lo++;
            if (!ok)
                sl_log_ratelimited(&s->lim, 1, SL_LOG_WARN, c->name,
                                   "the broker nacked messages: publishing them again");
        } else if (id == AMQP_BASIC_RETURN_METHOD) {
            take_return(c, nround, f.payload.method.decoded);
        } else if (id == AMQP_CHANNEL_CLOSE_METHOD || id == AMQP_CONNECTION_CLOSE_METHOD) {
            amqp_rpc_reply_t r = {.reply_type = AMQP_RESPONSE_SERVER_EXCEPTION,
                                  .reply = f.payload.method};
            sl_amqp_reply_text(r, why, why_len);
            return SL_EIO;
        }
    }
    return 0;
}

/* Render the batch into bodies/rkeys; events that cannot be rendered are dead letters. */
static void render(struct sl_component *c, struct sl_batch *b, struct sl_batch **errs)
{
    struct amqp_sink *s = c->state;
    sl_buf_reset(&s->bodies);
    sl_buf_reset(&s->rkeys);
    for (uint32_t i = 0; i < b->count; i++) {
        size_t bl = s->bodies.len, rl = s->rkeys.len;
        s->body_off[i] = bl;
        s->rk_off[i] = rl;
        s->returned[i] = false;
        s->st[i] = ST_PENDING;
        render_key(s, &b->events[i]);
        if (sl_json_write_event(&s->bodies, &b->events[i]) || s->bodies.len == bl) {
            s->bodies.len = bl;
            s->rkeys.len = rl;
            s->st[i] = ST_SKIP;
            if (!*errs)
                *errs = sl_batch_new();
            sl_error_event_for(*errs, c->name, "event too large to publish", &b->events[i]);
        }
    }
    s->body_off[b->count] = s->bodies.len;
    s->rk_off[b->count] = s->rkeys.len;
}

static int sink_write(struct sl_component *c, struct sl_batch *b)
{
    struct amqp_sink_conf *cf = c->conf;
    struct amqp_sink *s = c->state;
    if (!b->count)
        return 0;
    grow(s, b->count);
    struct sl_batch *errs = NULL;
    render(c, b, &errs);
    amqp_basic_properties_t props;
    memset(&props, 0, sizeof(props));
    props._flags = AMQP_BASIC_CONTENT_TYPE_FLAG | AMQP_BASIC_DELIVERY_MODE_FLAG;
    props.content_type = amqp_cstring_bytes(cf->content_type);
    props.delivery_mode = cf->persistent ? 2 : 1;
    amqp_bytes_t exchange = amqp_cstring_bytes(cf->exchange);
    int64_t since = sl_clock_mono_ns();
    int rc = 0;
    bool again = false;
    for (;;) {
        uint32_t pending = 0;
        for (uint32_t i = 0; i < b->count; i++)
            pending += s->st[i] == ST_PENDING;
        if (!pending)
            break;
        if (again) {
            atomic_fetch_add_explicit(&s->republished, pending, memory_order_relaxed);
            if (cf->retry_for && sl_clock_mono_ns() - since >= cf->retry_for) {
                sl_error(c->name, "%u messages not confirmed within retry_for: batch failed",
                         pending);
                rc = SL_ETIMEDOUT;
                break;
            }
        }
        again = true;
        if ((rc = ensure_conn(c, since)))
            break;
        uint64_t seq0 = s->next_seq + 1;
        uint32_t nround = 0;
        char why[512] = "";
        for (uint32_t i = 0; i < b->count; i++) {
            if (s->st[i] != ST_PENDING)
                continue;
            int prc = amqp_basic_publish(s->conn, 1, exchange, key_of(s, i), cf->mandatory, 0,
                                         &props, body_of(s, i));
            if (prc != AMQP_STATUS_OK) {
                snprintf(why, sizeof(why), "publish: %s", amqp_error_string2(prc));
                break;
            }
            s->st[i] = ST_SENT;
            s->round[nround++] = i;
            s->next_seq++;
        }
        atomic_fetch_add_explicit(&s->published, nround, memory_order_relaxed);
        if (!why[0] && nround)
            wait_confirms(c, seq0, nround, why, sizeof(why));
        for (uint32_t k = 0; k < nround; k++) /* unsettled: publish again */
            if (s->st[s->round[k]] == ST_SENT)
                s->st[s->round[k]] = ST_PENDING;
        if (why[0])
            drop_conn(c, why);
    }
    uint32_t done = 0;
    for (uint32_t i = 0; i < b->count; i++) {
        if (s->st[i] != ST_DONE)
            continue;
        if (s->returned[i]) {
            if (!errs)
                errs = sl_batch_new();
            sl_error_event_for(errs, c->name,
                               "unroutable: the broker returned the message (no queue bound "
                               "for its routing key)",
                               &b->events[i]);
            atomic_fetch_add_explicit(&s->returned_count, 1, memory_order_relaxed);
        } else {
            done++;
        }
    }
    atomic_fetch_add_explicit(&s->confirmed, done, memory_order_relaxed);
    atomic_fetch_add_explicit(&c->m.bytes_out, s->bodies.len, memory_order_relaxed);
    if (errs) {
        sl_log_ratelimited(&s->lim, 1, SL_LOG_WARN, c->name, "%u events sent to %s.errors",
                           errs->count, c->name);
        sl_sink_emit_errors(c, errs);
    }
    return rc;
}

/* Every second: let librabbitmq answer heartbeats and notice a closed connection. */
static int sink_flush(struct sl_component *c)
{
    struct amqp_sink *s = c->state;
    while (s->conn) {
        amqp_frame_t f;
        struct timeval tv = {0, 0};
        int rc = amqp_simple_wait_frame_noblock(s->conn, &f, &tv);
        if (rc == AMQP_STATUS_TIMEOUT)
            break;
        if (rc != AMQP_STATUS_OK) {
            drop_conn(c, amqp_error_string2(rc));
            break;
        }
        if (f.frame_type == AMQP_FRAME_METHOD &&
            (f.payload.method.id == AMQP_CHANNEL_CLOSE_METHOD ||
             f.payload.method.id == AMQP_CONNECTION_CLOSE_METHOD)) {
            char why[400];
            amqp_rpc_reply_t r = {.reply_type = AMQP_RESPONSE_SERVER_EXCEPTION,
                                  .reply = f.payload.method};
            sl_amqp_reply_text(r, why, sizeof(why));
            drop_conn(c, why);
        }
    }
    if (s->conn)
        amqp_maybe_release_buffers(s->conn);
    return 0;
}

static size_t sink_stats(struct sl_component *c, struct sl_comp_stat *out)
{
    struct amqp_sink *s = c->state;
    if (!s)
        return 0;
    out[0] = (struct sl_comp_stat){"sluice_amqp_published_total", "messages published", false,
                                   (double)atomic_load(&s->published)};
    out[1] =
        (struct sl_comp_stat){"sluice_amqp_confirmed_total", "messages confirmed by the broker",
                              false, (double)atomic_load(&s->confirmed)};
    out[2] = (struct sl_comp_stat){"sluice_amqp_republished_total",
                                   "messages published again (nack or reconnect)", false,
                                   (double)atomic_load(&s->republished)};
    out[3] = (struct sl_comp_stat){"sluice_amqp_returned_total",
                                   "unroutable messages returned (dead letters)", false,
                                   (double)atomic_load(&s->returned_count)};
    return 4;
}

static const struct sl_option sink_opts[] = {
    {"url", SL_OPT_STRING, "amqp://guest:guest@127.0.0.1:5672/%2F",
     offsetof(struct amqp_sink_conf, url),
     "broker, amqp://user:password@host:port/vhost (vhost percent-encoded: %2F is \"/\")", NULL, 0,
     0, 0},
    {"exchange", SL_OPT_STRING, "", offsetof(struct amqp_sink_conf, exchange),
     "exchange to publish to (\"\": the default exchange, which routes by queue name)", NULL, 0, 0,
     0},
    {"routing_key", SL_OPT_STRING, "", offsetof(struct amqp_sink_conf, routing_key),
     "routing key; {field} parts are replaced by the event's field (\"events.{type}\"), a "
     "missing field by nothing",
     NULL, 0, 0, 0},
    {"declare_queue", SL_OPT_STRING, "", offsetof(struct amqp_sink_conf, declare_queue),
     "declare this durable queue when connecting (tests, simple setups)", NULL, 0, 0, 0},
    {"persistent", SL_OPT_BOOL, "true", offsetof(struct amqp_sink_conf, persistent),
     "delivery_mode 2: the broker writes messages to disk before confirming", NULL, 0, 0, 0},
    {"mandatory", SL_OPT_BOOL, "true", offsetof(struct amqp_sink_conf, mandatory),
     "a message no queue takes is returned and goes to <name>.errors (else the broker drops "
     "it)",
     NULL, 0, 0, 0},
    {"format", SL_OPT_ENUM, "json", offsetof(struct amqp_sink_conf, format),
     "message body: the event as one JSON object", "json", 0, 0, 0},
    {"content_type", SL_OPT_STRING, "application/json",
     offsetof(struct amqp_sink_conf, content_type), "content_type property of each message", NULL,
     0, 0, 0},
    {"heartbeat", SL_OPT_DURATION, "60s", offsetof(struct amqp_sink_conf, heartbeat),
     "AMQP heartbeat (0: none)", NULL, 0, 0, 0},
    {"reconnect_min", SL_OPT_DURATION, "100ms", offsetof(struct amqp_sink_conf, reconnect_min),
     "first reconnect delay; doubles after each failure", NULL, 0, 0, 0},
    {"reconnect_max", SL_OPT_DURATION, "30s", offsetof(struct amqp_sink_conf, reconnect_max),
     "longest reconnect delay", NULL, 0, 0, 0},
    {"connect_timeout", SL_OPT_DURATION, "10s", offsetof(struct amqp_sink_conf, connect_timeout),
     "bound on TCP connect, login and each setup call", NULL, 0, 0, 0},
    {"confirm_timeout", SL_OPT_DURATION, "30s", offsetof(struct amqp_sink_conf, confirm_timeout),
     "no confirm for this long: reconnect and publish again", NULL, 0, 0, 0},
    {"retry_for", SL_OPT_DURATION, "0", offsetof(struct amqp_sink_conf, retry_for),
     "give a batch up (failed, counted as errors) after retrying this long (0: retry forever, "
     "the pipeline waits)",
     NULL, 0, 0, 0},
    {0},
};

const struct sl_component_ops sl_out_amqp_ops = {
    .type = "amqp",
    .kind = SL_KIND_SINK,
    .summary = "publish events as JSON to a RabbitMQ/AMQP exchange, with publisher confirms",
    .options = sink_opts,
    .conf_len = sizeof(struct amqp_sink_conf),
    .init = sink_init,
    .fini = sink_fini,
    .write = sink_write,
    .flush = sink_flush,
    .stats = sink_stats,
};
