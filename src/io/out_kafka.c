/*
 * out_kafka.c — the `kafka` sink: each event as one JSON record, acknowledged by Kafka's
 * delivery reports.
 *
 * Topic: `topic` is a static name or a template with {field} parts ("events-{type}"),
 * rendered per event (strings as they are, other values as JSON text). Key: `key` is a field
 * path ("computer_name", "id.orig_h"), or, when it is not a plain path, a Stellar expression
 * (`TO_UPPER(computer_name)`); a null or missing key sends the record without a key. Fields
 * named @kafka.* (the kafka source's metadata) are left out of the record unless
 * `drop_metadata: false`.
 *
 * DESIGN. The producer is idempotent with acks=all by default (no duplicates from its own
 * retries, no loss while one in-sync replica lives). Delivery (core/ack.h): write() takes a
 * hold on the batch's token and gives every record of the batch one shared counter; the
 * delivery-report callback counts down and releases the hold when the last record is
 * reported, failed if any record failed. A failed record is also a dead letter
 * (`<name>.errors`, with librdkafka's reason and the record as `raw`). The local queue is
 * bounded (`queue_messages`, `queue_bytes`): when it is full the sink waits, serving delivery
 * reports, so a broker outage stalls the sink, its queue, the workers and finally the sources
 * (back-pressure), and nothing is dropped; a record still undelivered after
 * `delivery_timeout` fails as above. At the end, finish() waits up to `flush_timeout` for the
 * last reports.
 *
 * Threads: the sink thread only; delivery reports run inside rd_kafka_poll/flush there.
 */
#include "base/alloc.h"
#include "base/buf.h"
#include "base/clock.h"
#include "base/log.h"
#include "codec/evbin.h"
#include "codec/json.h"
#include "core/component.h"
#include "io/kafka_conf.h"
#include "io/lang_glue.h"

#include <stdio.h>
#include <string.h>

struct kout_conf {
    char *brokers;
    char *topic;
    char *key;
    int compression;
    char *acks;
    bool idempotence;
    bool drop_metadata;
    int64_t linger_ns;
    int64_t queue_messages;
    uint64_t queue_bytes;
    int64_t delivery_timeout_ns;
    int64_t flush_timeout_ns;
    struct sl_strmap librdkafka;
    int format;
    int64_t partitions;
    int64_t replication;
};

enum { KFMT_JSON, KFMT_EVBIN };

/* one {field} or literal piece of the topic template */
struct tpart {
    bool field;
    char *text;
    struct sl_path path;
};

struct dlv {
    struct sl_ack *hold;
    uint32_t left;
    bool failed;
};

struct kout {
    struct sl_component *c;
    rd_kafka_t *rk;
    rd_kafka_topic_t *rkt; /* static topic */
    struct tpart *tparts;
    size_t ntparts;
    bool key_is_path;
    struct sl_path key_path;
    struct sl_stellar_prog *key_prog;
    struct sl_stellar_vm *vm;
    struct sl_arena scratch;
    struct sl_buf val, keybuf, topicbuf;
    struct sl_batch *dead; /* dead letters from delivery reports, handed over after a poll */
    struct sl_log_limit lim;
    uint64_t delivered, failed;
    struct sl_field *kept; /* evbin: the fields of one event without @kafka.* */
    uint32_t kept_cap;
};

static const struct sl_option kout_opts[] = {
    {"brokers", SL_OPT_STRING, NULL, offsetof(struct kout_conf, brokers),
     "bootstrap servers, \"host:port,host:port\" (default: cluster.brokers)", NULL, 0, 0,
     SL_OPT_REQUIRED | SL_OPT_FROM_CLUSTER},
    {"topic", SL_OPT_STRING, NULL, offsetof(struct kout_conf, topic),
     "topic name, or a template with {field} parts (\"events-{type}\")", NULL, 0, 0,
     SL_OPT_REQUIRED},
    {"key", SL_OPT_STRING, NULL, offsetof(struct kout_conf, key),
     "record key: a field path, or a Stellar expression (absent: no key)", NULL, 0, 0, 0},
    {"compression", SL_OPT_ENUM, "none", offsetof(struct kout_conf, compression),
     "record batch compression", "none|gzip|snappy|lz4|zstd", 0, 0, 0},
    {"acks", SL_OPT_STRING, "all", offsetof(struct kout_conf, acks),
     "replicas that must have a record before it is acknowledged: all, 1 or 0", NULL, 0, 0, 0},
    {"idempotence", SL_OPT_BOOL, "true", offsetof(struct kout_conf, idempotence),
     "idempotent producer (no duplicates or reordering from the producer's retries)", NULL, 0, 0,
     0},
    {"drop_metadata", SL_OPT_BOOL, "true", offsetof(struct kout_conf, drop_metadata),
     "leave the kafka source's @kafka.* fields out of the records", NULL, 0, 0, 0},
    {"linger", SL_OPT_DURATION, "5ms", offsetof(struct kout_conf, linger_ns),
     "how long librdkafka waits to fill a request (linger.ms)", NULL, 0, 0, 0},
    {"queue_messages", SL_OPT_INT, "100000", offsetof(struct kout_conf, queue_messages),
     "records waiting for delivery at most; the sink waits beyond (back-pressure)", NULL, 1,
     10000000, 0},
    {"queue_bytes", SL_OPT_SIZE, "128MiB", offsetof(struct kout_conf, queue_bytes),
     "bytes waiting for delivery at most", NULL, 0, 0, 0},
    {"delivery_timeout", SL_OPT_DURATION, "5m", offsetof(struct kout_conf, delivery_timeout_ns),
     "a record not delivered in this time fails (dead letter, and the source reads it again)", NULL,
     0, 0, 0},
    {"flush_timeout", SL_OPT_DURATION, "60s", offsetof(struct kout_conf, flush_timeout_ns),
     "at shutdown, how long to wait for the last delivery reports", NULL, 0, 0, 0},
    {"librdkafka", SL_OPT_STRING_MAP, NULL, offsetof(struct kout_conf, librdkafka),
     "librdkafka properties passed through (security.protocol, sasl.*, ssl.*, ...)", NULL, 0, 0, 0},
    {"format", SL_OPT_ENUM, "json", offsetof(struct kout_conf, format),
     "record value: one JSON object, or evbin (sluice's binary event: every type and the event "
     "time kept, for topics sluice reads back)",
     "json|evbin", 0, 0, 0},
    {"partitions", SL_OPT_INT, "0", offsetof(struct kout_conf, partitions),
     "create a static topic with this many partitions when it does not exist (0: do not create)",
     NULL, 0, 100000, 0},
    {"replication", SL_OPT_INT, "-1", offsetof(struct kout_conf, replication),
     "replication factor of a topic created by `partitions` (-1: the broker's default)", NULL, -1,
     32, 0},
    {0},
};

static void dr_cb(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    struct sl_component *c = opaque;
    struct kout *s = c->state;
    struct dlv *d = m->_private;
    if (m->err) {
        s->failed++;
        sl_log_ratelimited(&s->lim, 2, SL_LOG_ERROR, c->name, "delivery to %s failed: %s",
                           rd_kafka_topic_name(m->rkt), rd_kafka_err2str(m->err));
        if (!s->dead)
            s->dead = sl_batch_new();
        char msg[300];
        snprintf(msg, sizeof msg, "delivery failed: %s", rd_kafka_err2str(m->err));
        sl_error_event(s->dead, c->name, msg, m->payload, m->len, rd_kafka_topic_name(m->rkt), -1,
                       -1);
    } else {
        s->delivered++;
    }
    if (!d)
        return;
    if (m->err)
        d->failed = true;
    if (--d->left == 0) {
        sl_ack_release(d->hold, !d->failed);
        sl_free(d);
    }
}

static void hand_over_dead(struct kout *s)
{
    if (!s->dead)
        return;
    struct sl_batch *b = s->dead;
    s->dead = NULL;
    /* counted as errors by the core; the records themselves were counted as written */
    sl_sink_emit_errors(s->c, b);
}

static bool plain_path(const char *t)
{
    if (!*t)
        return false;
    for (const char *p = t; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
              *p == '_' || *p == '.' || *p == '@' || *p == '-'))
            return false;
    return true;
}

static int parse_template(struct kout *s, const char *t, struct sl_diag *d)
{
    s->tparts = sl_xcalloc(strlen(t) + 1, sizeof *s->tparts);
    const char *p = t;
    while (*p) {
        struct tpart *tp = &s->tparts[s->ntparts];
        if (*p == '{') {
            const char *e = strchr(p, '}');
            if (!e || e == p + 1) {
                sl_component_diag_opt(s->c, "topic", d);
                return sl_diag_set(d, SL_ECONFIG, "kafka '%s': topic '%s': unclosed or empty {}",
                                   s->c->name, t);
            }
            tp->field = true;
            tp->text = sl_xstrndup(p + 1, (size_t)(e - p - 1));
            if (sl_path_init(&tp->path, tp->text)) {
                sl_component_diag_opt(s->c, "topic", d);
                return sl_diag_set(d, SL_ECONFIG, "kafka '%s': bad field '%s' in topic", s->c->name,
                                   tp->text);
            }
            p = e + 1;
        } else {
            const char *e = strchr(p, '{');
            size_t n = e ? (size_t)(e - p) : strlen(p);
            tp->text = sl_xstrndup(p, n);
            p += n;
        }
        s->ntparts++;
    }
    return 0;
}

static int kout_init(struct sl_component *c, struct sl_diag *d)
{
    struct kout_conf *cf = c->conf;
    struct kout *s = sl_xcalloc(1, sizeof *s);
    c->state = s;
    s->c = c;
    sl_arena_init(&s->scratch, 64 * 1024, 64u << 20);
    sl_buf_init(&s->val, (size_t)64 << 20);
    sl_buf_init(&s->keybuf, (size_t)1 << 20);
    sl_buf_init(&s->topicbuf, 4096);
    int rc = parse_template(s, cf->topic, d);
    if (rc)
        return rc;
    if (cf->key) {
        s->key_is_path = plain_path(cf->key);
        if (s->key_is_path)
            rc = sl_path_init(&s->key_path, cf->key);
        else
            rc = sl_io_compile_expr(c, "key", 0, 0, cf->key, false, &s->key_prog, d);
        if (rc)
            return rc;
        if (s->key_prog)
            s->vm = sl_stellar_vm_new();
    }
    char lingerms[32], qmsgs[32], qkb[32], tmo[32];
    snprintf(lingerms, sizeof lingerms, "%lld", (long long)(cf->linger_ns / 1000000));
    snprintf(qmsgs, sizeof qmsgs, "%lld", (long long)cf->queue_messages);
    snprintf(qkb, sizeof qkb, "%llu",
             (unsigned long long)(cf->queue_bytes / 1024 ? cf->queue_bytes / 1024 : 1));
    snprintf(tmo, sizeof tmo, "%lld", (long long)(cf->delivery_timeout_ns / 1000000));
    static const char *const codecs[] = {"none", "gzip", "snappy", "lz4", "zstd"};
    const struct sl_kafka_setting settings[] = {
        {"bootstrap.servers", cf->brokers, false},
        {"acks", cf->acks, false},
        {"enable.idempotence", cf->idempotence ? "true" : "false", false},
        {"compression.type", codecs[cf->compression], false},
        {"linger.ms", lingerms, false},
        {"queue.buffering.max.messages", qmsgs, false},
        {"queue.buffering.max.kbytes", qkb, false},
        {"message.timeout.ms", tmo, false},
        {"client.id", "sluice", false},
        /* Java's partitioner: a key lands where Java clients, Kafka Streams and ksqlDB put it */
        {"partitioner", "murmur2_random", false},
        {NULL, NULL, false},
    };
    rd_kafka_conf_t *conf = sl_kafka_conf_new(c, settings, &cf->librdkafka, "librdkafka", d);
    if (!conf)
        return SL_ECONFIG;
    rd_kafka_conf_set_dr_msg_cb(conf, dr_cb);
    char err[512];
    s->rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err);
    if (!s->rk) {
        rd_kafka_conf_destroy(conf);
        sl_component_diag_opt(c, "brokers", d);
        return sl_diag_set(d, SL_ECONFIG, "kafka '%s': %s", c->name, err);
    }
    if (s->ntparts == 1 && !s->tparts[0].field) {
        if (cf->partitions > 0 &&
            sl_kafka_create_topic(s->rk, c->name, s->tparts[0].text, (int)cf->partitions,
                                  (int)cf->replication, NULL, err, sizeof err)) {
            sl_component_diag_opt(c, "partitions", d);
            return sl_diag_set(d, SL_ECONFIG, "kafka '%s': %s", c->name, err);
        }
        s->rkt = rd_kafka_topic_new(s->rk, s->tparts[0].text, NULL);
    } else if (cf->partitions > 0) {
        sl_component_diag_opt(c, "partitions", d);
        return sl_diag_set(d, SL_ECONFIG, "kafka '%s': partitions needs a static topic name",
                           c->name);
    }
    return 0;
}

/* Append v as text: strings as they are, other values as JSON. */
static int put_text(struct sl_buf *out, const struct sl_value *v)
{
    if (v->type == SL_V_STRING || v->type == SL_V_BYTES)
        return sl_buf_append(out, v->u.s, v->len);
    if (v->type == SL_V_INT) {
        char n[32];
        int k = snprintf(n, sizeof n, "%lld", (long long)v->u.i);
        return sl_buf_append(out, n, (size_t)k);
    }
    return sl_json_write_value(out, v);
}

/* evbin: the event as a one-event batch, without @kafka.* unless drop_metadata is off */
static int render_evbin(struct kout *s, const struct sl_event *ev)
{
    const struct kout_conf *cf = s->c->conf;
    struct sl_event e = *ev;
    if (cf->drop_metadata) {
        if (ev->count > s->kept_cap) {
            s->kept = sl_xrealloc(s->kept, ev->count * sizeof(*s->kept));
            s->kept_cap = ev->count;
        }
        e.count = 0;
        for (uint32_t i = 0; i < ev->count; i++) {
            struct sl_str name = sl_sym_name(ev->fields[i].sym);
            if (!(name.len > 7 && memcmp(name.ptr, "@kafka.", 7) == 0))
                s->kept[e.count++] = ev->fields[i];
        }
        e.fields = s->kept;
    }
    return sl_evbin_encode_events(&e, 1, 0, &s->val);
}

static int render_value(struct kout *s, const struct sl_event *ev)
{
    const struct kout_conf *cf = s->c->conf;
    sl_buf_reset(&s->val);
    if (cf->format == KFMT_EVBIN)
        return render_evbin(s, ev);
    if (!cf->drop_metadata)
        return sl_json_write_event(&s->val, ev);
    int rc = sl_buf_putc(&s->val, '{');
    bool first = true;
    for (uint32_t i = 0; i < ev->count && !rc; i++) {
        struct sl_str name = sl_sym_name(ev->fields[i].sym);
        if (name.len > 7 && memcmp(name.ptr, "@kafka.", 7) == 0)
            continue;
        if (!first)
            rc |= sl_buf_putc(&s->val, ',');
        first = false;
        rc |= sl_json_write_string(&s->val, name.ptr, name.len);
        rc |= sl_buf_putc(&s->val, ':');
        rc |= sl_json_write_value(&s->val, &ev->fields[i].val);
    }
    rc |= sl_buf_putc(&s->val, '}');
    return rc ? SL_E2BIG : 0;
}

/* The key of ev into keybuf; *has: false when there is none. Error text in msg. */
static int render_key(struct kout *s, struct sl_event *ev, bool *has, char *msg, size_t n)
{
    *has = false;
    sl_buf_reset(&s->keybuf);
    struct sl_value v;
    if (s->key_is_path) {
        const struct sl_value *pv = sl_path_get(&s->key_path, ev);
        if (!pv || pv->type == SL_V_NULL)
            return 0;
        v = *pv;
    } else if (s->key_prog) {
        struct sl_stellar_resolver r = {sl_stellar_event_get, ev, false, sl_stellar_event_all, ev};
        int rc = sl_stellar_eval(s->vm, s->key_prog, &r, &s->scratch, &v);
        if (rc) {
            snprintf(msg, n, "key: %s", sl_stellar_vm_error(s->vm));
            sl_stellar_vm_release(s->vm);
            return rc;
        }
        if (v.type == SL_V_NULL) {
            sl_stellar_vm_release(s->vm);
            return 0;
        }
    } else {
        return 0;
    }
    int rc = put_text(&s->keybuf, &v);
    if (s->key_prog)
        sl_stellar_vm_release(s->vm);
    if (rc) {
        snprintf(msg, n, "key: too long");
        return rc;
    }
    *has = true;
    return 0;
}

static int render_topic(struct kout *s, const struct sl_event *ev, char *msg, size_t n)
{
    sl_buf_reset(&s->topicbuf);
    for (size_t i = 0; i < s->ntparts; i++) {
        const struct tpart *tp = &s->tparts[i];
        int rc;
        if (!tp->field) {
            rc = sl_buf_puts(&s->topicbuf, tp->text);
        } else {
            const struct sl_value *v = sl_path_get(&tp->path, ev);
            if (!v || v->type == SL_V_NULL) {
                snprintf(msg, n, "topic: field '%s' is missing", tp->text);
                return SL_ENOENT;
            }
            rc = put_text(&s->topicbuf, v);
        }
        if (rc) {
            snprintf(msg, n, "topic: name too long");
            return rc;
        }
    }
    if (s->topicbuf.len == 0 || s->topicbuf.len > 249) {
        snprintf(msg, n, "topic: '%.*s' is not a valid topic name", (int)s->topicbuf.len,
                 s->topicbuf.ptr ? s->topicbuf.ptr : "");
        return SL_EINVAL;
    }
    return 0;
}

static int kout_write(struct sl_component *c, struct sl_batch *b)
{
    struct kout *s = c->state;
    struct dlv *d = sl_xcalloc(1, sizeof *d);
    d->hold = sl_sink_hold(b);
    d->left = 1; /* write()'s own, so reports during the loop cannot finish d early */
    struct sl_batch *errs = NULL;
    uint64_t bytes = 0;
    for (uint32_t i = 0; i < b->count; i++) {
        struct sl_event *ev = &b->events[i];
        char msg[512];
        bool has_key = false;
        int rc = render_value(s, ev);
        if (rc)
            snprintf(msg, sizeof msg, "%s",
                     rc == SL_ETYPE ? "an object value (a sketch or model) has no evbin form"
                                    : "record too large");
        if (!rc)
            rc = render_key(s, ev, &has_key, msg, sizeof msg);
        if (!rc && !s->rkt)
            rc = render_topic(s, ev, msg, sizeof msg);
        rd_kafka_resp_err_t e = RD_KAFKA_RESP_ERR_NO_ERROR;
        while (!rc) {
            if (s->rkt)
                e = rd_kafka_producev(
                    s->rk, RD_KAFKA_V_RKT(s->rkt), RD_KAFKA_V_VALUE(s->val.ptr, s->val.len),
                    RD_KAFKA_V_KEY(has_key ? s->keybuf.ptr : NULL, has_key ? s->keybuf.len : 0),
                    RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_OPAQUE(d), RD_KAFKA_V_END);
            else {
                sl_buf_putc(&s->topicbuf, 0);
                e = rd_kafka_producev(
                    s->rk, RD_KAFKA_V_TOPIC(s->topicbuf.ptr),
                    RD_KAFKA_V_VALUE(s->val.ptr, s->val.len),
                    RD_KAFKA_V_KEY(has_key ? s->keybuf.ptr : NULL, has_key ? s->keybuf.len : 0),
                    RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_OPAQUE(d), RD_KAFKA_V_END);
                s->topicbuf.len--;
            }
            if (e != RD_KAFKA_RESP_ERR__QUEUE_FULL)
                break;
            /* the local queue is full: serve delivery reports until there is room (a broker
             * outage keeps us here: back-pressure) */
            rd_kafka_poll(s->rk, 100);
        }
        if (!rc && e) {
            snprintf(msg, sizeof msg, "produce: %s", rd_kafka_err2str(e));
            rc = SL_EIO;
            /* the record itself is at fault (too large, an invalid topic name): a dead letter
             * is its end. Otherwise (a fatal producer state, an unknown topic) it may well go
             * through later: the source must not commit past it. */
            if (e != RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE && e != RD_KAFKA_RESP_ERR__INVALID_ARG &&
                e != RD_KAFKA_RESP_ERR_TOPIC_EXCEPTION)
                d->failed = true;
        }
        if (rc) {
            if (!errs)
                errs = sl_batch_new();
            sl_error_event_for(errs, c->name, msg, ev);
            continue;
        }
        d->left++;
        bytes += s->val.len;
    }
    sl_arena_reset(&s->scratch);
    atomic_fetch_add_explicit(&c->m.bytes_out, bytes, memory_order_relaxed);
    if (--d->left == 0) {
        sl_ack_release(d->hold, !d->failed);
        sl_free(d);
    }
    rd_kafka_poll(s->rk, 0);
    if (errs)
        sl_sink_emit_errors(c, errs);
    /* dead letters from delivery reports wait for flush(): handed over here they would take
     * a hold on this batch's token, which they do not belong to */
    return 0;
}

static int kout_flush(struct sl_component *c)
{
    struct kout *s = c->state;
    rd_kafka_poll(s->rk, 0);
    hand_over_dead(s);
    return 0;
}

static void kout_finish(struct sl_component *c, struct sl_xf_ctx *x)
{
    struct kout *s = c->state;
    const struct kout_conf *cf = c->conf;
    int64_t start = sl_clock_mono_ns(), said = start;
    while (rd_kafka_outq_len(s->rk) > 0) {
        int64_t now = sl_clock_mono_ns();
        if (now - start >= cf->flush_timeout_ns) {
            sl_error(c->name, "%d record(s) still undelivered after flush_timeout: failed",
                     rd_kafka_outq_len(s->rk));
            rd_kafka_purge(s->rk, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
            rd_kafka_poll(s->rk, 100);
            break;
        }
        if (now - said >= 10 * 1000000000LL) {
            sl_warn(c->name, "waiting for %d delivery report(s)", rd_kafka_outq_len(s->rk));
            said = now;
        }
        rd_kafka_flush(s->rk, 100);
    }
    rd_kafka_poll(s->rk, 0);
    hand_over_dead(s);
    sl_debug(c->name, "delivered %llu, failed %llu", (unsigned long long)s->delivered,
             (unsigned long long)s->failed);
}

static void kout_fini(struct sl_component *c)
{
    struct kout *s = c->state;
    if (!s)
        return;
    if (s->rkt)
        rd_kafka_topic_destroy(s->rkt);
    if (s->rk) {
        /* reports of purged records release their holds here */
        rd_kafka_purge(s->rk, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
        rd_kafka_poll(s->rk, 0);
        rd_kafka_destroy(s->rk);
    }
    sl_batch_unref(s->dead);
    for (size_t i = 0; i < s->ntparts; i++) {
        if (s->tparts[i].field)
            sl_path_fini(&s->tparts[i].path);
        sl_free(s->tparts[i].text);
    }
    sl_free(s->tparts);
    sl_free(s->kept);
    if (s->key_is_path)
        sl_path_fini(&s->key_path);
    sl_stellar_free(s->key_prog);
    if (s->vm)
        sl_stellar_vm_free(s->vm);
    sl_arena_fini(&s->scratch);
    sl_buf_fini(&s->val);
    sl_buf_fini(&s->keybuf);
    sl_buf_fini(&s->topicbuf);
    sl_free(s);
}

const struct sl_component_ops sl_out_kafka_ops = {
    .type = "kafka",
    .kind = SL_KIND_SINK,
    .summary = "events as JSON records to a Kafka topic; acknowledged by delivery reports",
    .options = kout_opts,
    .conf_len = sizeof(struct kout_conf),
    .init = kout_init,
    .fini = kout_fini,
    .write = kout_write,
    .flush = kout_flush,
    .finish = kout_finish,
    .flush_interval_ns = 100000000,
};
