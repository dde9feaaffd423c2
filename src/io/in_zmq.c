/*
 * in_zmq.c — the `zmq` source: network events (FlatBuffers, codec/netevent.h) from collectors
 * over a CurveZMQ-encrypted PULL socket, as the on-premise aggregator takes them.
 *
 *   tcp://host:port        PULL, CurveZMQ server (secret_key; public_key checked against it)
 *   tcp://host:shutdown_port  REP: a "shutdown" request stops the pipeline; the reply "ok"
 *                          goes out once every queue drained and every sink flushed
 *   allow_keys             optional: only these client public keys (a ZAP handler, RFC 27)
 *
 * One ZeroMQ message is one FlatBuffer or a run of size-prefixed ones (docs/netevent.md);
 * sl_netevent_decode_message() tells them apart. A message that does not verify goes to
 * `<name>.errors` whole or from its first bad buffer on (`raw` as bytes, so base64 in JSON,
 * `error` the verifier's reason, `offset`, `where` the peer address) and the socket keeps
 * serving. Handshake failures (wrong server key, a client without encryption, a key not on
 * the allow-list) are logged (rate-limited) and counted (`sluice help zmq`, /metrics).
 *
 * DESIGN: one thread (the source's) owns the context's sockets and polls them together with
 * the pipeline's stop fd: PULL, the shutdown REP, the ZAP REP and a monitor PAIR that reports
 * handshake failures. Back-pressure: sl_source_emit() blocks this thread when the pipeline is
 * full, so nothing more is read; libzmq's receive queue fills to `hwm` messages, the TCP
 * windows close and the collectors' PUSH sockets reach their own send HWM and wait. Nothing is
 * dropped inside sluice. While it waits, new handshakes wait too (the ZAP handler is not
 * served) — acceptable, since a new client could not be read from anyway.
 * On stop (SIGTERM or a shutdown request): read what libzmq already holds until the socket
 * stays quiet for 100 ms (at most 2 s), hand it over, return; the pipeline drains and flushes;
 * fini() then answers the shutdown request, so its reply means "everything is written".
 * Sockets are made in init() (bind errors are config errors), used in run() and closed in
 * fini(): ZeroMQ allows a socket to change threads across a full barrier, and thread start
 * and join are ones.
 */
#include "base/alloc.h"
#include "base/clock.h"
#include "base/log.h"
#include "codec/netevent.h"
#include "core/component.h"
#include "sys/curvekeys.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <zmq.h>

#define RECV_BURST 256       /* messages per wake-up before looking at the other sockets */
#define FLUSH_NS   100000000 /* a partial batch waits at most this long (as the tcp source) */

struct zin_conf {
    char *host;
    int64_t port;
    int64_t shutdown_port;
    bool curve;
    char *secret_key;
    char *public_key;
    struct sl_strlist allow_keys;
    int64_t hwm;
    uint64_t max_message;
};

struct zin_state {
    void *ctx;
    void *pull, *shut, *zap, *mon;
    int port, shut_port; /* as bound (port 0 picks one) */
    uint8_t (*allow)[SL_CURVEKEY_LEN];
    size_t nallow;
    bool shutdown_pending; /* a shutdown request waits for its reply (sent by fini) */
    struct sl_batch *b, *errs;
    struct sl_log_limit lim_bad, lim_hs, lim_zap;
    atomic_uint_fast64_t messages, bad_messages, handshakes, handshake_failed, zap_denied;
};

#define ADD(ctr) atomic_fetch_add_explicit(&(ctr), 1, memory_order_relaxed)
#define GET(ctr) ((double)atomic_load_explicit(&(ctr), memory_order_relaxed))

static void close_all(struct zin_state *s)
{
    int zero = 0;
    void **socks[] = {&s->pull, &s->zap, &s->mon};
    for (size_t i = 0; i < sizeof(socks) / sizeof(socks[0]); i++) {
        if (*socks[i]) {
            zmq_setsockopt(*socks[i], ZMQ_LINGER, &zero, sizeof(zero));
            zmq_close(*socks[i]);
            *socks[i] = NULL;
        }
    }
    if (s->shut) {
        int linger = 2000; /* the shutdown reply must get out */
        zmq_setsockopt(s->shut, ZMQ_LINGER, &linger, sizeof(linger));
        zmq_close(s->shut);
        s->shut = NULL;
    }
    if (s->ctx)
        zmq_ctx_term(s->ctx);
    s->ctx = NULL;
}

static void zin_fini(struct sl_component *c)
{
    struct zin_state *s = c->state;
    if (!s)
        return;
    if (s->shutdown_pending && s->shut) {
        if (zmq_send(s->shut, "ok", 2, 0) < 0)
            sl_warn(c->name, "shutdown reply: %s", zmq_strerror(errno));
        else
            sl_info(c->name, "shutdown complete: reply sent");
    }
    close_all(s);
    if (s->b)
        sl_batch_unref(s->b);
    if (s->errs)
        sl_batch_unref(s->errs);
    sl_free(s->allow);
    sl_free(s);
    c->state = NULL;
}

/* "tcp://host:port" into out; IPv6 hosts get brackets. */
static void endpoint(const char *host, int64_t port, char *out, size_t n)
{
    bool v6 = strchr(host, ':') != NULL && host[0] != '[';
    if (port == 0)
        snprintf(out, n, "tcp://%s%s%s:*", v6 ? "[" : "", host, v6 ? "]" : "");
    else
        snprintf(out, n, "tcp://%s%s%s:%lld", v6 ? "[" : "", host, v6 ? "]" : "", (long long)port);
}

static int bound_port(void *sock)
{
    char ep[256];
    size_t n = sizeof(ep);
    if (zmq_getsockopt(sock, ZMQ_LAST_ENDPOINT, ep, &n))
        return -1;
    const char *colon = strrchr(ep, ':');
    return colon ? (int)strtol(colon + 1, NULL, 10) : -1;
}

static int bind_sock(struct sl_component *c, void *sock, const char *opt, int64_t port,
                     struct sl_diag *d)
{
    struct zin_conf *cf = c->conf;
    char ep[300];
    endpoint(cf->host, port, ep, sizeof(ep));
    if (strchr(cf->host, ':')) {
        int one = 1;
        zmq_setsockopt(sock, ZMQ_IPV6, &one, sizeof(one));
    }
    if (zmq_bind(sock, ep) == 0)
        return 0;
    int e = errno;
    sl_component_diag_opt(c, opt, d);
    sl_diag_hint(d, "use an address of this host (0.0.0.0 for all), and a free port");
    return sl_diag_set(d, SL_ECONFIG, "zmq '%s': cannot bind %s: %s", c->name, ep, zmq_strerror(e));
}

static int parse_key_opt(struct sl_component *c, const char *opt, const char *text,
                         uint8_t key[SL_CURVEKEY_LEN], struct sl_diag *d)
{
    struct sl_diag kd;
    sl_diag_init(&kd);
    if (sl_curvekey_parse(text, strlen(text), key, &kd) == 0)
        return 0;
    sl_component_diag_opt(c, opt, d);
    sl_diag_hint(d, "`sluice keygen` makes a key pair and prints it in every form");
    return sl_diag_set(d, SL_ECONFIG, "zmq '%s': %s: %s", c->name, opt, kd.msg);
}

static int setup_curve(struct sl_component *c, struct sl_diag *d)
{
    struct zin_conf *cf = c->conf;
    struct zin_state *s = c->state;
    uint8_t secret[SL_CURVEKEY_LEN], pub[SL_CURVEKEY_LEN];
    if (!cf->secret_key) {
        sl_component_diag_opt(c, "secret_key", d);
        sl_diag_hint(d, "set secret_key (and public_key), or curve: false for a plain socket");
        return sl_diag_set(d, SL_ECONFIG, "zmq '%s': curve needs secret_key", c->name);
    }
    if (parse_key_opt(c, "secret_key", cf->secret_key, secret, d))
        return SL_ECONFIG;
    char sz85[41], derived[41];
    sl_z85_encode(secret, SL_CURVEKEY_LEN, sz85);
    if (zmq_curve_public(derived, sz85)) {
        sl_component_diag_opt(c, "curve", d);
        return sl_diag_set(d, SL_ECONFIG, "zmq '%s': libzmq was built without CURVE support",
                           c->name);
    }
    if (cf->public_key) {
        if (parse_key_opt(c, "public_key", cf->public_key, pub, d))
            return SL_ECONFIG;
        char pz85[41];
        sl_z85_encode(pub, SL_CURVEKEY_LEN, pz85);
        if (strcmp(pz85, derived) != 0) {
            sl_component_diag_opt(c, "public_key", d);
            sl_diag_hint(d, "the public key of that secret key is %s (Z85)", derived);
            return sl_diag_set(d, SL_ECONFIG, "zmq '%s': public_key does not belong to secret_key",
                               c->name);
        }
    }
    int one = 1;
    if (zmq_setsockopt(s->pull, ZMQ_CURVE_SERVER, &one, sizeof(one)) ||
        zmq_setsockopt(s->pull, ZMQ_CURVE_SECRETKEY, secret, SL_CURVEKEY_LEN)) {
        sl_component_diag_opt(c, "secret_key", d);
        return sl_diag_set(d, SL_ECONFIG, "zmq '%s': CURVE setup: %s", c->name,
                           zmq_strerror(errno));
    }
    if (cf->allow_keys.count) {
        s->allow = sl_xcalloc(cf->allow_keys.count, SL_CURVEKEY_LEN);
        for (size_t i = 0; i < cf->allow_keys.count; i++)
            if (parse_key_opt(c, "allow_keys", cf->allow_keys.items[i], s->allow[i], d))
                return SL_ECONFIG;
        s->nallow = cf->allow_keys.count;
        /* the ZAP handler must exist before the first handshake */
        s->zap = zmq_socket(s->ctx, ZMQ_REP);
        if (!s->zap || zmq_bind(s->zap, "inproc://zeromq.zap.01"))
            return sl_diag_set(d, SL_ECONFIG, "zmq '%s': ZAP handler: %s", c->name,
                               zmq_strerror(errno));
        zmq_setsockopt(s->pull, ZMQ_ZAP_DOMAIN, "sluice", 6); /* named in the ZAP requests */
    }
    return 0;
}

static int zin_init(struct sl_component *c, struct sl_diag *d)
{
    struct zin_conf *cf = c->conf;
    if (strcasecmp(cf->host, "localhost") == 0) {
        sl_component_diag_opt(c, "host", d);
        sl_diag_hint(d, "write an address: 127.0.0.1, ::1, 0.0.0.0 (all interfaces)");
        return sl_diag_set(d, SL_ECONFIG,
                           "zmq '%s': host 'localhost' isn't acceptable (as for the aggregator)",
                           c->name);
    }
    if (!cf->curve && cf->allow_keys.count) {
        sl_component_diag_opt(c, "allow_keys", d);
        return sl_diag_set(d, SL_ECONFIG, "zmq '%s': allow_keys needs curve: true", c->name);
    }
    struct zin_state *s = sl_xcalloc(1, sizeof(*s));
    c->state = s;
    int rc = SL_ECONFIG;
    s->ctx = zmq_ctx_new();
    if (!s->ctx) {
        sl_diag_set(d, SL_ECONFIG, "zmq '%s': zmq_ctx_new: %s", c->name, zmq_strerror(errno));
        goto fail;
    }
    s->pull = zmq_socket(s->ctx, ZMQ_PULL);
    int hwm = (int)cf->hwm;
    int64_t maxmsg = (int64_t)cf->max_message;
    zmq_setsockopt(s->pull, ZMQ_RCVHWM, &hwm, sizeof(hwm));
    zmq_setsockopt(s->pull, ZMQ_MAXMSGSIZE, &maxmsg, sizeof(maxmsg));
    if (cf->curve && setup_curve(c, d))
        goto fail;
    /* handshake failures and successes, for the counters and the log */
    char mon_ep[64];
    snprintf(mon_ep, sizeof(mon_ep), "inproc://sl-zmq-monitor-%p", (void *)s);
    if (zmq_socket_monitor(s->pull, mon_ep,
                           ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL | ZMQ_EVENT_HANDSHAKE_SUCCEEDED |
                               ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL |
                               ZMQ_EVENT_HANDSHAKE_FAILED_AUTH) == 0) {
        s->mon = zmq_socket(s->ctx, ZMQ_PAIR);
        zmq_connect(s->mon, mon_ep);
    }
    if (bind_sock(c, s->pull, "port", cf->port, d))
        goto fail;
    s->port = bound_port(s->pull);
    if (cf->shutdown_port >= 0) {
        s->shut = zmq_socket(s->ctx, ZMQ_REP);
        if (bind_sock(c, s->shut, "shutdown_port", cf->shutdown_port, d))
            goto fail;
        s->shut_port = bound_port(s->shut);
    }
    return 0;
fail:
    zin_fini(c);
    return rc;
}

/* ---- the source thread */

static void emit_pending(struct sl_component *c)
{
    struct zin_state *s = c->state;
    if (s->errs && s->errs->count) {
        sl_source_emit_errors(c, s->errs);
        s->errs = NULL;
    }
    if (s->b && s->b->count) {
        sl_source_emit(c, s->b); /* waits while the pipeline is full: back-pressure */
        s->b = NULL;
    }
}

static void dead_letter(struct sl_component *c, const uint8_t *raw, size_t len, const char *where,
                        const struct sl_diag *d, size_t consumed)
{
    struct zin_state *s = c->state;
    if (!s->errs)
        s->errs = sl_batch_new();
    char msg[600];
    snprintf(msg, sizeof(msg), "%s%s", d->msg[0] ? d->msg : "invalid network event",
             consumed ? " (after the good buffers before it)" : "");
    int64_t off = (int64_t)consumed + (d->offset > 0 ? d->offset : 0);
    if (sl_error_event(s->errs, c->name, msg, NULL, 0, where, 0, off))
        return;
    struct sl_event *ev = &s->errs->events[s->errs->count - 1];
    size_t keep = len > 65536 ? 65536 : len; /* as sl_error_event caps raw */
    char *copy = sl_batch_copy(s->errs, (const char *)raw, keep);
    if (copy) {
        struct sl_value v = {.type = SL_V_BYTES, .len = (uint32_t)keep, .u.s = copy};
        sl_event_set(s->errs, ev, SL_SYM_RAW, v);
    }
    s->errs->bytes += len;
    sl_log_ratelimited(&s->lim_bad, 5, SL_LOG_WARN, c->name, "bad message from %s (%zu bytes): %s",
                       where, len, msg);
}

static void handle_message(struct sl_component *c, zmq_msg_t *m)
{
    struct zin_state *s = c->state;
    size_t len = zmq_msg_size(m);
    ADD(s->messages);
    if (s->b && sl_batch_full(s->b))
        emit_pending(c);
    if (!s->b)
        s->b = sl_batch_new();
    /* The decoder may leave strings as views into the buffer (FlatBuffers strings are
     * zero-copy), so the bytes must live as long as the batch: one copy into its arena. */
    const uint8_t *data = (const uint8_t *)sl_batch_copy(s->b, zmq_msg_data(m), len);
    if (!data) {
        ADD(s->bad_messages);
        struct sl_diag od;
        sl_diag_init(&od);
        sl_diag_set(&od, SL_ENOMEM, "out of memory for a %zu-byte message", len);
        dead_letter(c, zmq_msg_data(m), len > 4096 ? 4096 : len, "zmq", &od, 0);
        return;
    }
    struct sl_diag d;
    sl_diag_init(&d);
    size_t consumed = 0;
    int rc = sl_netevent_decode_message(data, len, s->b, &consumed, &d);
    s->b->bytes += rc ? consumed : len;
    if (rc) {
        ADD(s->bad_messages);
        const char *peer = zmq_msg_gets(m, "Peer-Address");
        if (consumed > len)
            consumed = len;
        dead_letter(c, data + consumed, len - consumed, peer ? peer : "zmq", &d, consumed);
    }
}

/* Read up to `max` messages without waiting; the number read. */
static int read_burst(struct sl_component *c, int max)
{
    struct zin_state *s = c->state;
    int n = 0;
    zmq_msg_t m;
    zmq_msg_init(&m);
    while (n < max) {
        if (zmq_msg_recv(&m, s->pull, ZMQ_DONTWAIT) < 0)
            break;
        handle_message(c, &m);
        n++;
        if (s->b && sl_batch_full(s->b))
            emit_pending(c);
    }
    zmq_msg_close(&m);
    return n;
}

/* Read a whole multipart message into frames (at most n, each up to cap bytes); count. */
static int recv_frames(void *sock, char frames[][256], size_t *lens, int n)
{
    int got = 0, more = 1;
    while (more) {
        zmq_msg_t m;
        zmq_msg_init(&m);
        if (zmq_msg_recv(&m, sock, ZMQ_DONTWAIT) < 0) {
            zmq_msg_close(&m);
            return got ? got : -1;
        }
        if (got < n) {
            size_t l = zmq_msg_size(&m);
            lens[got] = l > 255 ? 255 : l;
            memcpy(frames[got], zmq_msg_data(&m), lens[got]);
            frames[got][lens[got]] = 0;
            got++;
        }
        more = zmq_msg_more(&m);
        zmq_msg_close(&m);
    }
    return got;
}

/* RFC 27: version, request id, domain, address, identity, mechanism, credentials. */
static void serve_zap(struct sl_component *c)
{
    struct zin_state *s = c->state;
    char f[8][256];
    size_t l[8];
    int n;
    while ((n = recv_frames(s->zap, f, l, 8)) > 0) {
        bool ok = false;
        char client[41] = "";
        if (n >= 7 && strcmp(f[5], "CURVE") == 0 && l[6] == SL_CURVEKEY_LEN) {
            sl_z85_encode((const uint8_t *)f[6], SL_CURVEKEY_LEN, client);
            for (size_t i = 0; i < s->nallow && !ok; i++)
                ok = memcmp(s->allow[i], f[6], SL_CURVEKEY_LEN) == 0;
        }
        if (!ok) {
            ADD(s->zap_denied);
            sl_log_ratelimited(&s->lim_zap, 5, SL_LOG_WARN, c->name,
                               "client %s rejected: key %s is not in allow_keys",
                               n >= 4 ? f[3] : "?", client[0] ? client : "(none)");
        }
        const char *code = ok ? "200" : "400";
        const char *text = ok ? "OK" : "key not allowed";
        zmq_send(s->zap, "1.0", 3, ZMQ_SNDMORE);
        zmq_send(s->zap, f[1], n >= 2 ? l[1] : 0, ZMQ_SNDMORE);
        zmq_send(s->zap, code, 3, ZMQ_SNDMORE);
        zmq_send(s->zap, text, strlen(text), ZMQ_SNDMORE);
        zmq_send(s->zap, client, strlen(client), ZMQ_SNDMORE); /* user id */
        zmq_send(s->zap, "", 0, 0);                            /* metadata */
    }
}

static const char *protocol_error(uint32_t v)
{
    switch (v) {
    case ZMQ_PROTOCOL_ERROR_ZMTP_CRYPTOGRAPHIC:
        return "cryptographic error (wrong server key?)";
    case ZMQ_PROTOCOL_ERROR_ZMTP_MECHANISM_MISMATCH:
        return "security mechanism mismatch (client without CURVE, or CURVE against a plain "
               "socket)";
    default:
        return "protocol error";
    }
}

static void serve_monitor(struct sl_component *c)
{
    struct zin_state *s = c->state;
    char f[2][256];
    size_t l[2];
    while (recv_frames(s->mon, f, l, 2) > 0) {
        if (l[0] < 6)
            continue;
        uint16_t ev;
        uint32_t val;
        memcpy(&ev, f[0], 2);
        memcpy(&val, f[0] + 2, 4);
        if (ev == ZMQ_EVENT_HANDSHAKE_SUCCEEDED) {
            ADD(s->handshakes);
            sl_debug(c->name, "client handshake succeeded");
            continue;
        }
        ADD(s->handshake_failed);
        const char *why = ev == ZMQ_EVENT_HANDSHAKE_FAILED_AUTH ? "refused by the allow-list"
                          : ev == ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL
                              ? protocol_error(val)
                              : "handshake failed (a client without CURVE?)";
        sl_log_ratelimited(&s->lim_hs, 5, SL_LOG_WARN, c->name, "client rejected: %s", why);
    }
}

/* A request on the shutdown socket: true when it asks to shut down. */
static bool serve_shutdown(struct sl_component *c)
{
    struct zin_state *s = c->state;
    char f[1][256];
    size_t l[1];
    if (recv_frames(s->shut, f, l, 1) <= 0)
        return false;
    char *p = f[0];
    while (*p && isspace((unsigned char)*p))
        p++;
    size_t n = strlen(p);
    while (n && isspace((unsigned char)p[n - 1]))
        p[--n] = 0;
    if (n == 0 || strcasecmp(p, "shutdown") == 0) {
        sl_info(c->name, "shutdown requested: draining, flushing, then replying and exiting");
        s->shutdown_pending = true;
        return true;
    }
    sl_warn(c->name, "shutdown socket: unknown request \"%s\"", p);
    zmq_send(s->shut, "error: send \"shutdown\"", 22, 0);
    return false;
}

static int zin_run(struct sl_component *c)
{
    struct zin_state *s = c->state;
    zmq_pollitem_t items[5];
    int npoll = 0, i_pull, i_shut = -1, i_zap = -1, i_mon = -1;
    items[npoll] =
        (zmq_pollitem_t){.socket = NULL, .fd = sl_source_stop_fd(c), .events = ZMQ_POLLIN};
    npoll++;
    i_pull = npoll;
    items[npoll++] = (zmq_pollitem_t){.socket = s->pull, .events = ZMQ_POLLIN};
    if (s->shut) {
        i_shut = npoll;
        items[npoll++] = (zmq_pollitem_t){.socket = s->shut, .events = ZMQ_POLLIN};
    }
    if (s->zap) {
        i_zap = npoll;
        items[npoll++] = (zmq_pollitem_t){.socket = s->zap, .events = ZMQ_POLLIN};
    }
    if (s->mon) {
        i_mon = npoll;
        items[npoll++] = (zmq_pollitem_t){.socket = s->mon, .events = ZMQ_POLLIN};
    }
    sl_info(c->name, "listening on port %d (curve %s%s), shutdown port %d", s->port,
            ((struct zin_conf *)c->conf)->curve ? "on" : "off", s->nallow ? ", allow-list" : "",
            s->shut ? s->shut_port : -1);
    int64_t flush_at = 0; /* when the partial batch must go, 0: nothing pending */
    while (!sl_source_stopping(c)) {
        bool pending = (s->b && s->b->count) || (s->errs && s->errs->count);
        int64_t now = sl_clock_mono_ns();
        if (!pending)
            flush_at = 0;
        else if (!flush_at)
            flush_at = now + FLUSH_NS;
        else if (now >= flush_at) {
            emit_pending(c); /* a slow sender: do not hold a partial batch */
            flush_at = 0;
            continue;
        }
        long wait_ms = flush_at ? (long)((flush_at - now) / 1000000) + 1 : 1000;
        int n = zmq_poll(items, npoll, wait_ms);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            sl_error(c->name, "zmq_poll: %s", zmq_strerror(errno));
            break;
        }
        if (n == 0)
            continue;
        if (i_mon >= 0 && (items[i_mon].revents & ZMQ_POLLIN))
            serve_monitor(c);
        if (i_zap >= 0 && (items[i_zap].revents & ZMQ_POLLIN))
            serve_zap(c);
        if (items[i_pull].revents & ZMQ_POLLIN)
            read_burst(c, RECV_BURST);
        if (i_shut >= 0 && (items[i_shut].revents & ZMQ_POLLIN) && serve_shutdown(c)) {
            sl_source_request_stop(c);
            break;
        }
    }
    /* stopping: take what libzmq already received, until 100 ms of quiet (2 s at most) */
    int64_t until = sl_clock_mono_ns() + 2000000000;
    zmq_pollitem_t last[2] = {{.socket = s->pull, .events = ZMQ_POLLIN},
                              {.socket = s->zap, .events = ZMQ_POLLIN}};
    while (sl_clock_mono_ns() < until) {
        int n = zmq_poll(last, s->zap ? 2 : 1, 100);
        if (n <= 0)
            break;
        if (s->zap && (last[1].revents & ZMQ_POLLIN))
            serve_zap(c);
        if (last[0].revents & ZMQ_POLLIN)
            read_burst(c, RECV_BURST);
    }
    emit_pending(c);
    sl_info(c->name, "stopped: %.0f messages, %.0f bad, %.0f handshakes, %.0f rejected",
            GET(s->messages), GET(s->bad_messages), GET(s->handshakes), GET(s->handshake_failed));
    return 0;
}

static size_t zin_stats(struct sl_component *c, struct sl_comp_stat *out)
{
    struct zin_state *s = c->state;
    if (!s)
        return 0;
    out[0] = (struct sl_comp_stat){"sluice_zmq_messages", "ZeroMQ messages received", false,
                                   GET(s->messages)};
    out[1] = (struct sl_comp_stat){"sluice_zmq_bad_messages",
                                   "messages that did not verify (sent to .errors)", false,
                                   GET(s->bad_messages)};
    out[2] = (struct sl_comp_stat){"sluice_zmq_handshakes", "client handshakes that succeeded",
                                   false, GET(s->handshakes)};
    out[3] = (struct sl_comp_stat){"sluice_zmq_handshake_failures",
                                   "clients rejected: wrong key, no encryption, not allowed", false,
                                   GET(s->handshake_failed)};
    out[4] = (struct sl_comp_stat){"sluice_zmq_zap_denied", "client keys refused by allow_keys",
                                   false, GET(s->zap_denied)};
    return 5;
}

static const struct sl_option zin_opts[] = {
    {"host", SL_OPT_STRING, NULL, offsetof(struct zin_conf, host),
     "address to bind (an IP, or * / 0.0.0.0 for all); 'localhost' isn't acceptable", NULL, 0, 0,
     SL_OPT_REQUIRED},
    {"port", SL_OPT_INT, "5555", offsetof(struct zin_conf, port),
     "PULL socket port (0: any free port)", NULL, 0, 65535, 0},
    {"shutdown_port", SL_OPT_INT, "5557", offsetof(struct zin_conf, shutdown_port),
     "REP socket port for \"shutdown\" requests (-1: none, 0: any free port)", NULL, -1, 65535, 0},
    {"curve", SL_OPT_BOOL, "true", offsetof(struct zin_conf, curve),
     "CurveZMQ encryption (false: plain, for trusted networks and benchmarks)", NULL, 0, 0, 0},
    {"secret_key", SL_OPT_STRING, NULL, offsetof(struct zin_conf, secret_key),
     "server secret key: 80 hex (hex-encoded Z85, as the aggregator's --secretKey), 40 Z85 "
     "or 64 hex",
     NULL, 0, 0, 0},
    {"public_key", SL_OPT_STRING, NULL, offsetof(struct zin_conf, public_key),
     "server public key (optional; checked against secret_key)", NULL, 0, 0, 0},
    {"allow_keys", SL_OPT_STRING_LIST, NULL, offsetof(struct zin_conf, allow_keys),
     "client public keys allowed to connect (empty: any client that knows the server key)", NULL, 0,
     0, 0},
    {"hwm", SL_OPT_INT, "1000", offsetof(struct zin_conf, hwm),
     "receive high-water mark, in messages, held by libzmq while the pipeline is full", NULL, 1,
     10000000, 0},
    {"max_message", SL_OPT_SIZE, "64MiB", offsetof(struct zin_conf, max_message),
     "larger messages drop the sender's connection", NULL, 0, 0, 0},
    {0},
};

const struct sl_component_ops sl_in_zmq_ops = {
    .type = "zmq",
    .kind = SL_KIND_SOURCE,
    .summary = "network events (FlatBuffers) from collectors over CurveZMQ PULL, with a "
               "shutdown socket",
    .options = zin_opts,
    .conf_len = sizeof(struct zin_conf),
    .init = zin_init,
    .fini = zin_fini,
    .run = zin_run,
    .stats = zin_stats,
};
