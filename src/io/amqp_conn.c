/*
 * amqp_conn.c — broker URL, connect, close, back-off and error text for the `amqp` source
 * and sink (see amqp_conn.h).
 *
 * DESIGN: librabbitmq does the protocol; this file only wraps the steps every connection
 * takes, so each failure names the step ("login: 403 ACCESS_REFUSED - ...") and no call can
 * block without bound: the socket opens with a timeout and the RPC timeout is set before
 * login. Reconnects are the callers' (they decide what to redo); the back-off is here.
 */
#include "io/amqp_conn.h"

#include "base/alloc.h"
#include "base/err.h"

#include <amqp_tcp_socket.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>

int sl_amqp_url_parse(const char *text, struct sl_amqp_url *u, char *err, size_t err_len)
{
    memset(u, 0, sizeof(*u));
    if (!text || !*text) {
        snprintf(err, err_len, "empty url");
        return SL_EINVAL;
    }
    if (!strncmp(text, "amqps://", 8)) {
        snprintf(err, err_len, "amqps:// (TLS) is not supported; use amqp://");
        return SL_EINVAL;
    }
    char *copy = sl_xstrdup(text); /* amqp_parse_url cuts it up in place */
    struct amqp_connection_info ci;
    amqp_default_connection_info(&ci);
    if (amqp_parse_url(copy, &ci) != AMQP_STATUS_OK) {
        snprintf(err, err_len, "not an amqp://user:password@host:port/vhost url");
        sl_free(copy);
        return SL_EINVAL;
    }
    if (ci.port <= 0 || ci.port > 65535 || !ci.host || !*ci.host) {
        snprintf(err, err_len, "bad host or port");
        sl_free(copy);
        return SL_EINVAL;
    }
    u->host = sl_xstrdup(ci.host);
    u->user = sl_xstrdup(ci.user);
    u->password = sl_xstrdup(ci.password);
    /* amqp_parse_url gives "" for "amqp://host:5672/" and NULL-free "/" for no path */
    u->vhost = sl_xstrdup(ci.vhost && *ci.vhost ? ci.vhost : "/");
    u->port = ci.port;
    sl_free(copy);
    size_t n = strlen(u->user) + strlen(u->host) + strlen(u->vhost) + 32;
    u->shown = sl_xmalloc(n);
    snprintf(u->shown, n, "amqp://%s@%s:%d/%s", u->user, u->host, u->port,
             strcmp(u->vhost, "/") ? u->vhost : "%2F");
    return 0;
}

void sl_amqp_url_fini(struct sl_amqp_url *u)
{
    sl_free(u->host);
    sl_free(u->user);
    sl_free(u->password);
    sl_free(u->vhost);
    sl_free(u->shown);
    memset(u, 0, sizeof(*u));
}

void sl_amqp_reply_text(amqp_rpc_reply_t r, char *out, size_t out_len)
{
    switch (r.reply_type) {
    case AMQP_RESPONSE_NORMAL:
        snprintf(out, out_len, "ok");
        return;
    case AMQP_RESPONSE_NONE:
        snprintf(out, out_len, "no reply from the broker");
        return;
    case AMQP_RESPONSE_LIBRARY_EXCEPTION:
        snprintf(out, out_len, "%s", amqp_error_string2(r.library_error));
        return;
    case AMQP_RESPONSE_SERVER_EXCEPTION:
        if (r.reply.id == AMQP_CONNECTION_CLOSE_METHOD && r.reply.decoded) {
            const amqp_connection_close_t *m = r.reply.decoded;
            snprintf(out, out_len, "connection closed by the broker: %u %.*s", m->reply_code,
                     (int)m->reply_text.len, (const char *)m->reply_text.bytes);
        } else if (r.reply.id == AMQP_CHANNEL_CLOSE_METHOD && r.reply.decoded) {
            const amqp_channel_close_t *m = r.reply.decoded;
            snprintf(out, out_len, "channel closed by the broker: %u %.*s", m->reply_code,
                     (int)m->reply_text.len, (const char *)m->reply_text.bytes);
        } else {
            snprintf(out, out_len, "unexpected method 0x%08x from the broker", r.reply.id);
        }
        return;
    }
    snprintf(out, out_len, "unknown reply type %d", (int)r.reply_type);
}

int sl_amqp_check_rpc(amqp_connection_state_t st, const char *what, char *err, size_t err_len)
{
    amqp_rpc_reply_t r = amqp_get_rpc_reply(st);
    if (r.reply_type == AMQP_RESPONSE_NORMAL)
        return 0;
    char text[400];
    sl_amqp_reply_text(r, text, sizeof(text));
    snprintf(err, err_len, "%s: %s", what, text);
    return SL_EIO;
}

static struct timeval to_tv(int64_t ns)
{
    struct timeval tv = {.tv_sec = (time_t)(ns / 1000000000),
                         .tv_usec = (suseconds_t)(ns % 1000000000 / 1000)};
    return tv;
}

amqp_connection_state_t sl_amqp_connect(const struct sl_amqp_url *u, int heartbeat_s,
                                        int64_t timeout_ns, char *err, size_t err_len)
{
    amqp_connection_state_t st = amqp_new_connection();
    if (!st) {
        snprintf(err, err_len, "out of memory");
        return NULL;
    }
    amqp_socket_t *sock = amqp_tcp_socket_new(st);
    if (!sock) {
        snprintf(err, err_len, "out of memory (socket)");
        goto fail;
    }
    struct timeval tv = to_tv(timeout_ns);
    int rc = amqp_socket_open_noblock(sock, u->host, u->port, &tv);
    if (rc != AMQP_STATUS_OK) {
        snprintf(err, err_len, "connect to %s:%d: %s", u->host, u->port, amqp_error_string2(rc));
        goto fail;
    }
    amqp_set_handshake_timeout(st, &tv);
    amqp_set_rpc_timeout(st, &tv);
    amqp_rpc_reply_t r = amqp_login(st, u->vhost, 0, 131072, heartbeat_s, AMQP_SASL_METHOD_PLAIN,
                                    u->user, u->password);
    if (r.reply_type != AMQP_RESPONSE_NORMAL) {
        char text[400];
        sl_amqp_reply_text(r, text, sizeof(text));
        snprintf(err, err_len, "login to %s: %s", u->shown, text);
        goto fail;
    }
    amqp_channel_open(st, 1);
    if (sl_amqp_check_rpc(st, "channel.open", err, err_len))
        goto fail;
    return st;
fail:
    amqp_destroy_connection(st);
    return NULL;
}

void sl_amqp_disconnect(amqp_connection_state_t st)
{
    if (!st)
        return;
    struct timeval tv = {.tv_sec = 1};
    amqp_set_rpc_timeout(st, &tv);
    amqp_rpc_reply_t r = amqp_channel_close(st, 1, AMQP_REPLY_SUCCESS);
    if (r.reply_type == AMQP_RESPONSE_NORMAL)
        amqp_connection_close(st, AMQP_REPLY_SUCCESS);
    amqp_destroy_connection(st);
}

void sl_amqp_backoff_init(struct sl_amqp_backoff *b, int64_t min_ns, int64_t max_ns)
{
    b->min_ns = min_ns > 0 ? min_ns : 1000000;
    b->max_ns = max_ns > b->min_ns ? max_ns : b->min_ns;
    b->next_ns = b->min_ns;
}

int64_t sl_amqp_backoff_next(struct sl_amqp_backoff *b)
{
    int64_t d = b->next_ns;
    b->next_ns = d > b->max_ns / 2 ? b->max_ns : d * 2;
    return d;
}

uint64_t sl_amqp_hash(const void *p, size_t n, uint64_t seed)
{
    const unsigned char *s = p;
    uint64_t h = 0xcbf29ce484222325ull ^ seed;
    for (size_t i = 0; i < n; i++) {
        h ^= s[i];
        h *= 0x100000001b3ull;
    }
    return h;
}
